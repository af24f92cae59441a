/* auth internals shared by the module's files (not for other modules). */
#ifndef TC_AUTH_INT_H
#define TC_AUTH_INT_H

#include <pthread.h>

#include "auth/auth.h"
#include "store/repo_accounts.h"

struct tc_auth {
    tc_db *db;                      /* borrowed */
    unsigned char jwt_key[32];      /* HKDF(master, "toolconnect access-token v1") */
    char issuer[TC_AUTH_ISS_MAX];
    int64_t access_ttl_s;
    int64_t refresh_ttl_s;
    pthread_mutex_t dummy_lock;     /* guards dummy_hash creation */
    char *dummy_hash;               /* argon2 hash of a random password */
    struct tc_auth_cache *cache;    /* verified access tokens; NULL on PostgreSQL */
};

/* Access-token cache (cache.c; design there and in docs/auth.md). */
typedef struct tc_auth_cache tc_auth_cache;
tc_auth_cache *tc_auth__cache_new(int64_t ttl_ms);
void tc_auth__cache_free(tc_auth_cache *c);
/* The generation to pass to put: read it before the database read. */
uint64_t tc_auth__cache_gen(tc_auth_cache *c);
/* True and *out filled when tok was verified, its session read less than
 * the TTL ago, nothing about its user forgotten since, and it has not
 * expired at now_ms. */
bool tc_auth__cache_get(tc_auth_cache *c, const char *tok, size_t len, int64_t now_ms,
                        tc_auth_principal *out);
/* Remembers a verified token (dropped when a forget happened after gen). */
void tc_auth__cache_put(tc_auth_cache *c, uint64_t gen, const char *tok, size_t len,
                        int64_t expires_ms, int64_t checked_ms, const tc_auth_principal *p);

/* Overwrites memory that held a secret (not optimised away). */
void tc_auth__wipe(void *p, size_t n);
void tc_auth__user_from_repo(const tc_repo_user *u, tc_auth_user *out);
/* Signs a fresh access token into out (access_token, expires_in, session_id). */
tc_status tc_auth__issue_access(tc_auth *a, const char *user_id, const char *session_id,
                                tc_auth_tokens *out);
/* Login throttling (throttle.c). Outside any transaction: records the
 * attempt as a failure (addr may be NULL), then counts the window;
 * TC_RATE_LIMITED + *retry_after_s when over a limit (the attempt is then
 * taken back). attempt gets the attempt's id. */
tc_status tc_auth__attempt_begin(tc_db_conn *c, const char *email, const char *addr,
                                 char attempt[37], int64_t *retry_after_s, tc_err *err);
/* The password was right: clears the account's failures and this attempt. */
tc_status tc_auth__attempt_succeeded(tc_db_conn *c, const char *email, const char *attempt,
                                     tc_err *err);

/* Opaque list cursors: base64url("<created_at ms>:<uuid>"). */
char *tc_auth__cursor_encode(int64_t created_at, const char *id); /* caller frees */
tc_status tc_auth__cursor_decode(const char *cursor, int64_t *created_at, char id[37],
                                 tc_err *err);

/* Where one page of a keyset-paginated list (newest first) starts. Lives on
 * the caller's stack and is not copied: after_id points into id_buf. */
typedef struct {
    int limit;
    int64_t after;
    const char *after_id; /* NULL on the first page, else id_buf */
    char id_buf[37];
} tc_auth__page;

/* Checks limit (1..TC_AUTH_LIST_MAX, field "limit") and decodes cursor
 * (NULL: first page) into *pg. The repo is then asked for pg->limit + 1 rows. */
tc_status tc_auth__page_open(tc_auth__page *pg, int limit, const char *cursor, tc_err *err);
/* got rows came back: when there is one more than pg->limit, the extra row is
 * dropped and *next_cursor (caller frees) names the last kept row, whose
 * created_at and id the caller passes (row pg->limit - 1). Returns the count
 * to keep. */
int tc_auth__page_close(const tc_auth__page *pg, int got, int64_t last_created_at,
                        const char *last_id, char **next_cursor);

#endif
