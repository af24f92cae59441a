/* oauth: OAuth 2.0 connections (docs/oauth.md).
 *
 *   - the authorization-code flow with PKCE (RFC 6749 4.1, RFC 7636):
 *     tc_oauth_begin creates a transaction (random single-use state stored
 *     hashed, sealed code_verifier, 10 minute expiry) and the provider URL;
 *     the callback finds the transaction by its state, checks the browser
 *     cookie that binds it to the user who started it, claims it (single
 *     use, compare-and-swap in the database), exchanges the code and stores
 *     the tokens sealed in a new active connection;
 *   - refresh: single-flight per connection across threads, processes and
 *     instances through a lease in user_connections.refresh_lock_* plus a
 *     compare-and-swap on refresh_version; a rotated refresh token is saved
 *     in the same UPDATE as its access token; invalid_grant expires the
 *     connection ("needs reconnect", event connection.expired); transient
 *     failures retry with backoff and never expire it;
 *   - a background refresher renewing tokens a margin before expiry;
 *   - revocation at the provider on disconnect (RFC 7009);
 *   - client credentials per connector (environment or admin API), sealed in
 *     oauth_clients, never returned.
 * Provider quirks come from the connector's auth block (docs/catalog.md).
 * Domain only: no HTTP server headers (api/oauth.c is the HTTP side). */
#ifndef TC_OAUTH_H
#define TC_OAUTH_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "catalog/catalog.h"
#include "core/core.h"
#include "crypto/crypto.h"
#include "store/db.h"

struct tc_events;
struct tc_connections;

#define TC_OAUTH_TX_TTL_MS (10 * 60 * 1000)
#define TC_OAUTH_COOKIE_PREFIX "tc_oauth_"
#define TC_OAUTH_CALLBACK_PATH "/api/oauth/callback"
/* On-demand refresh (executors) happens when the access token expires within
 * this many ms; the background refresher uses the (larger) margin. */
#define TC_OAUTH_ON_DEMAND_SKEW_MS 30000

typedef struct tc_oauth tc_oauth;

typedef struct tc_oauth_options {
    tc_db *db;
    tc_keyring *keyring;
    struct tc_events *events;        /* may be NULL (no change records) */
    const unsigned char *master_key; /* TC_MASTER_KEY_LEN bytes: the cookie MAC key
                                        is derived from it (copied) */
    const char *public_url;          /* TC_PUBLIC_URL */
    int64_t refresh_margin_ms;       /* background renewal before expiry */
    int64_t refresh_interval_ms;     /* background tick; 0 = no refresher thread */
    int timeout_ms;                  /* provider calls (token, revoke) */
    bool allow_private;              /* TC_ALLOW_PRIVATE_TARGETS */
} tc_oauth_options;

tc_status tc_oauth_new(const tc_oauth_options *opt, tc_oauth **out, tc_err *err);
/* Stops the refresher, runs every queued task, then frees. */
void tc_oauth_free(tc_oauth *o);
/* Runs fn(arg) on the module's own small worker pool (callback exchanges:
 * they must not outlive the module, so not on the app's shared pool).
 * TC_UNAVAILABLE when stopping, TC_RATE_LIMITED when the queue is full. */
tc_status tc_oauth_submit(tc_oauth *o, void (*fn)(void *), void *arg);

/* ---- the authorization flow ---------------------------------------------- */
typedef struct tc_oauth_started {
    char transaction_id[37];
    char *authorization_url;  /* caller frees (tc_oauth_started_clear) */
    char cookie[512];         /* full Set-Cookie value binding the browser */
} tc_oauth_started;

/* POST /api/oauth/start body {connector, scopes?, label?}. Errors name the
 * field (422), TC_NOT_FOUND for an unknown connector, TC_CONFLICT
 * ("oauth_not_supported" / "oauth_client_missing") when the connector is not
 * OAuth or has no client configured. */
tc_status tc_oauth_begin(tc_oauth *o, const char *user_id, const json_t *body,
                         tc_oauth_started *out, tc_err *err);
void tc_oauth_started_clear(tc_oauth_started *s);

/* A transaction claimed by its callback (single use). */
typedef struct tc_oauth_claim {
    char id[37];
    char user_id[37];
    char connector_id[37];
    char *label;
    char *scopes;        /* requested, space-separated */
    char *redirect_uri;
    char *verifier;      /* opened code_verifier (secret) */
} tc_oauth_claim;

/* Finds the transaction of `state`, checks the binding cookie (from the
 * Cookie header) and that it is unexpired and unused, then claims it. The
 * caller then runs tc_oauth_finish exactly once (on a worker thread: it
 * calls the provider). *cookie_name gets the cookie to clear (also on some
 * failures; "" when unknown). Errors (message fit for the user):
 * TC_BAD_REQUEST state missing/unknown, TC_FORBIDDEN cookie missing or not
 * this user's, TC_CONFLICT already used ("oauth_state_used") or expired
 * ("oauth_state_expired"). */
tc_status tc_oauth_claim_state(tc_oauth *o, const char *state, const char *cookie_header,
                               tc_oauth_claim *out, char cookie_name[64], tc_err *err);
void tc_oauth_claim_clear(tc_oauth_claim *c);

/* Ends a claimed transaction: with provider_error set (error=access_denied,
 * ...) it fails with that reason; otherwise exchanges code and creates the
 * active connection (id into connection_id). The transaction ends completed
 * or failed either way. */
tc_status tc_oauth_finish(tc_oauth *o, const tc_oauth_claim *c, const char *code,
                          const char *provider_error, const char *provider_error_description,
                          char connection_id[37], tc_err *err);

/* The web app page the callback redirects to:
 * <public_url>/connections?oauth=ok&connection=<id> or
 * <public_url>/connections?oauth=error&message=<text>. Caller frees. */
char *tc_oauth_outcome_url(const tc_oauth *o, const char *connection_id, const char *message);

/* ---- client credentials -------------------------------------------------- */
/* PUT /api/admin/oauth-clients/{slug} {client_id, client_secret?}: stores
 * them (secret sealed) for a built-in oauth2 connector. *out: {connector,
 * client_id, has_secret, updated_at} (never the secret). */
tc_status tc_oauth_client_set(tc_oauth *o, const char *slug, const json_t *body, json_t **out,
                              tc_err *err);
/* Reads TC_OAUTH_<SLUG>_CLIENT_ID / _CLIENT_SECRET for every oauth2
 * connector of cat and stores those that are set. */
tc_status tc_oauth_clients_from_env(tc_oauth *o, const tc_catalog *cat, tc_err *err);

/* ---- tokens for executors ----------------------------------------------- */
/* Makes sure the user's connection has an access token that does not expire
 * within TC_OAUTH_ON_DEMAND_SKEW_MS, refreshing it if needed (single-flight
 * across workers and instances: a caller that finds another refresh running
 * waits for it). TC_OK for connections that are not OAuth, have no expiry,
 * or are still fresh. When a transient failure leaves a still-valid token,
 * TC_OK (the token is used). Errors: TC_CONFLICT "connection_expired" after
 * invalid_grant or with an expired token and no refresh token;
 * TC_UNAVAILABLE when the provider can't be reached and the token expired. */
tc_status tc_oauth_ensure_fresh(tc_oauth *o, const char *user_id, const char *connection_id,
                                tc_err *err);
/* After the provider answered 401 to a call made with rejected_access_token:
 * refreshes once, unless the stored token differs already (another worker
 * refreshed meanwhile). Then reload the credential and retry once. */
tc_status tc_oauth_refresh_after_401(tc_oauth *o, const char *user_id, const char *connection_id,
                                     const char *rejected_access_token, tc_err *err);
/* Forces one refresh now (tests, admin tools). Single-flight like the others. */
tc_status tc_oauth_refresh_now(tc_oauth *o, const char *user_id, const char *connection_id,
                               tc_err *err);
/* One pass of the background refresher: renews every active OAuth token that
 * expires within the margin (skipping those another worker holds).
 * *renewed counts successes. */
tc_status tc_oauth_refresh_due(tc_oauth *o, int *renewed, tc_err *err);

/* Revokes the secret's tokens at the connector's revocation_url, if any
 * (asynchronous, best effort: failures are logged without the token).
 * definition and secret are copied. */
void tc_oauth_revoke_async(tc_oauth *o, const json_t *definition, const json_t *secret);

/* Installs ensure_fresh and revoke into the connections module, so
 * tc_connection_credential hands out fresh tokens and disconnect revokes. */
void tc_oauth_install_hooks(tc_oauth *o, struct tc_connections *cx);

/* ---- pieces exposed for unit tests --------------------------------------- */
/* Value at a JSON pointer ("/authed_user/access_token"); NULL if absent. */
const json_t *tc_oauth_pointer(const json_t *doc, const char *pointer);
/* The Cookie header's value for name, copied into out; false if absent. */
bool tc_oauth_cookie_get(const char *header, const char *name, char *out, size_t outsz);

#endif
