/* Internal to the oauth module. */
#ifndef TC_OAUTH_INT_H
#define TC_OAUTH_INT_H

#include <pthread.h>
#include <stdatomic.h>

#include "connections/connections.h"
#include "oauth/oauth.h"

#define TOKEN_BODY_MAX (256 * 1024)
#define REFRESH_BATCH 50
#define BACKOFF_SLOTS 256

/* Background retry state of one connection after a transient failure. */
typedef struct backoff_slot {
    char id[37];
    int failures;
    int64_t next_at;
} backoff_slot;

struct tc_oauth {
    tc_oauth_options o;
    char *public_url;          /* owned, no trailing slash */
    unsigned char cookie_key[32];
    bool secure_cookie;
    tc_connection_oauth_hooks hooks;
    /* refresher thread */
    pthread_t thread;
    bool thread_started;
    pthread_mutex_t lock;      /* guards stop, cond, backoff; never held across I/O */
    pthread_cond_t cond;
    bool stop;
    backoff_slot backoff[BACKOFF_SLOTS];
    /* callback exchanges and revocations (asynchronous); drained before
     * the module goes away */
    tc_pool *pool;
};

/* Client credentials of a connector, opened. */
typedef struct tc_oauth__client {
    char *client_id;
    char *client_secret;  /* NULL for public clients */
} tc_oauth__client;
tc_status tc_oauth__client_load(tc_oauth *o, tc_db_conn *c, const char *connector_id,
                                tc_oauth__client *out, tc_err *err);
void tc_oauth__client_clear(tc_oauth__client *cl);

/* What a token endpoint answered. */
typedef struct tc_oauth__tokens {
    char *access_token;
    char *refresh_token;
    char *token_type;
    char *scope;          /* normalised to space-separated */
    int64_t expires_in;   /* seconds; -1 when absent */
} tc_oauth__tokens;
void tc_oauth__tokens_clear(tc_oauth__tokens *t);

/* POSTs params (NULL-terminated name, value pairs) to the connector's
 * token_url with client authentication per auth.token_auth, token_params,
 * token_headers and token_body, and reads the answer through
 * auth.token_response pointers. Errors:
 *   TC_CONFLICT code "invalid_grant"       the grant is dead (reconnect)
 *   TC_UNAVAILABLE / TC_TIMEOUT           transient (network, 5xx, 429)
 *   TC_UPSTREAM code "token_error"        any other refusal (message has the
 *                                         provider's error and description) */
tc_status tc_oauth__token_call(const tc_oauth *o, const json_t *auth, const tc_oauth__client *cl,
                               const char *const *params, tc_oauth__tokens *out, tc_err *err);
/* POST to url with form params and client auth; *status gets the HTTP
 * status. For revocation. */
tc_status tc_oauth__post_form(const tc_oauth *o, const json_t *auth, const tc_oauth__client *cl,
                              const char *url, const char *const *params, long *status,
                              tc_err *err);

/* Seals a token secret for connection id; key id as decimal text. */
tc_status tc_oauth__seal(tc_oauth *o, const char *purpose, const char *id, const char *text,
                         unsigned char **ct, size_t *ctlen, char kid[16], tc_err *err);
/* Builds the secret JSON text from tokens (keeping old_refresh when the
 * provider did not rotate). Caller frees with tc_secret_free_str. */
char *tc_oauth__secret_text(const tc_oauth__tokens *t, const char *old_refresh);
/* Records a "connection" change (webhook type may be NULL) on c inside the
 * caller's transaction; *ch must be published after the commit. */
tc_status tc_oauth__record(tc_oauth *o, tc_db_conn *c, const char *user_id, const char *id,
                           const char *webhook_type, void *ch, tc_err *err);

void *tc_oauth__refresher_main(void *arg);

#endif
