/* auth: accounts.
 *   passwords (argon2id, policy), e-mail normalization,
 *   access tokens (JWT HS256, key derived from the master key, header pinned),
 *   refresh-token families (one session row = one family, rotation + reuse
 *   detection), API keys ("tc_" + 32 random bytes, stored as SHA-256),
 *   login throttling (sliding window in the database),
 *   and the request authenticator the HTTP server calls.
 *
 * The pure parts (first half of this header) need no database. The service
 * (tc_auth, second half) owns no connection: each call acquires one from the
 * pool for its duration. All functions are thread-safe once tc_auth_new()
 * returned. docs/auth.md explains the choices. */
#ifndef TC_AUTH_H
#define TC_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/core.h"
#include "store/db.h"

/* ---- named limits --------------------------------------------------------- */
#define TC_AUTH_EMAIL_MAX 254        /* RFC 5321 path limit */
#define TC_AUTH_PASSWORD_MIN 8       /* bytes */
#define TC_AUTH_PASSWORD_MAX 1024    /* bytes: bounds argon2 input work */
#define TC_AUTH_TOKEN_MAX 2048       /* longest bearer credential accepted */
#define TC_AUTH_KEY_NAME_MAX 100     /* API key name, bytes */
#define TC_AUTH_ISS_MAX 256          /* issuer string */
#define TC_AUTH_UA_MAX 256           /* user agent stored with a session */

#define TC_AUTH_REFRESH_LEN 43       /* base64url of 32 bytes */
#define TC_AUTH_API_KEY_LEN 46       /* "tc_" + base64url of 32 bytes */
#define TC_AUTH_API_KEY_PREFIX_LEN 11 /* "tc_" + first 8 characters */
#define TC_AUTH_HASH_HEX_LEN 64      /* SHA-256 hex */

/* Login throttling: failures in a sliding window, per account and per client
 * address. Over either limit the login answers 429 with Retry-After. */
#define TC_AUTH_THROTTLE_WINDOW_S 900
#define TC_AUTH_THROTTLE_PER_ACCOUNT 5
#define TC_AUTH_THROTTLE_PER_ADDR 20

/* ---- passwords and e-mail ------------------------------------------------ */

/* Checks length (TC_AUTH_PASSWORD_MIN..MAX bytes) and UTF-8. On failure fills
 * err with TC_VALIDATION naming `field`. */
tc_status tc_auth_password_policy(const char *pw, const char *field, tc_err *err);

/* argon2id encoded hash ("$argon2id$v=19$m=...,t=...,p=...$salt$hash") with a
 * fresh 16-byte salt. *encoded: caller frees. */
tc_status tc_auth_password_hash(const char *pw, char **encoded, tc_err *err);

/* True when pw matches the encoded hash. Never logs either. */
bool tc_auth_password_verify(const char *encoded, const char *pw);

/* True when the hash was made with other parameters than the current ones
 * (login then re-hashes the password, so raising the cost needs no migration). */
bool tc_auth_password_needs_rehash(const char *encoded);

/* Tests only: lowers the argon2 cost so suites stay fast. Production code
 * never calls this; the defaults are the documented OWASP parameters. */
void tc_auth__set_password_cost(uint32_t t_cost, uint32_t m_kib);

/* Trims ASCII whitespace, lower-cases ASCII, checks length (1..254) and a
 * basic shape (one '@', non-empty local part, domain with a dot, no spaces or
 * control characters). out gets the normalized address. TC_VALIDATION with
 * field "email" on failure. */
tc_status tc_auth_email_normalize(const char *in, char out[TC_AUTH_EMAIL_MAX + 1], tc_err *err);

/* ---- keys, tokens, hashes --------------------------------------------------- */

/* HKDF-SHA256(master, salt = none, info) -> 32 bytes. */
tc_status tc_auth_derive_key(const unsigned char *master, size_t master_len, const char *info,
                             unsigned char out[32]);

/* SHA-256 of a token, lower-case hex (what the database stores). */
void tc_auth_token_hash(const char *token, char out[TC_AUTH_HASH_HEX_LEN + 1]);

/* Fresh refresh token: base64url of 32 CSPRNG bytes. */
void tc_auth_refresh_token_new(char out[TC_AUTH_REFRESH_LEN + 1]);

/* Fresh API key "tc_<43 chars>" and its displayable prefix "tc_<8 chars>". */
void tc_auth_api_key_new(char key[TC_AUTH_API_KEY_LEN + 1],
                         char prefix[TC_AUTH_API_KEY_PREFIX_LEN + 1]);
/* Syntactic check: "tc_" + 43 base64url characters. */
bool tc_auth_api_key_shape_ok(const char *key, size_t len);

/* ---- access tokens (JWT HS256) ------------------------------------------- */
typedef struct tc_jwt_claims {
    char sub[37];                  /* user id */
    char sid[37];                  /* session id */
    char jti[37];                  /* token id */
    char iss[TC_AUTH_ISS_MAX];     /* issuer */
    int64_t iat;                   /* issued at, seconds since the epoch */
    int64_t exp;                   /* expires at, seconds since the epoch */
} tc_jwt_claims;

/* Signs header {"alg":"HS256","typ":"JWT"} + claims. *out: caller frees. */
tc_status tc_auth_jwt_sign(const unsigned char key[32], const tc_jwt_claims *c, char **out);

/* Verifies a token: exact pinned header (anything else, including alg "none",
 * is rejected), signature in constant time, claim types, iss == issuer,
 * exp > now_s, iat <= now_s + 60 (clock skew). TC_UNAUTHORIZED with code
 * "invalid_token" or "token_expired" on failure. */
tc_status tc_auth_jwt_verify(const unsigned char key[32], const char *token, size_t len,
                             const char *issuer, int64_t now_s, tc_jwt_claims *out, tc_err *err);

/* ---- the service ---------------------------------------------------------- */
typedef struct tc_auth tc_auth;

typedef struct tc_auth_options {
    const unsigned char *master_key; /* borrowed during tc_auth_new only */
    size_t master_key_len;           /* >= 32 */
    const char *issuer;              /* cfg.public_url, or NULL = "toolconnect" */
    int64_t access_ttl_s;            /* cfg.access_ttl_s */
    int64_t refresh_ttl_s;           /* cfg.refresh_ttl_s */
} tc_auth_options;

/* db is borrowed and must outlive the service. *out: free with tc_auth_free. */
tc_status tc_auth_new(tc_db *db, const tc_auth_options *o, tc_auth **out, tc_err *err);
void tc_auth_free(tc_auth *a);

/* The process-wide instance the HTTP handlers use (set once at start-up by
 * the serve command, before the server accepts requests). */
void tc_auth_set_global(tc_auth *a);
tc_auth *tc_auth_global(void);

typedef struct tc_auth_user {
    char id[37];
    char email[TC_AUTH_EMAIL_MAX + 1];
    int64_t created_at; /* ms */
    bool is_admin;
} tc_auth_user;

typedef struct tc_auth_tokens {
    tc_auth_user user;
    char *access_token;                          /* caller frees (tc_auth_tokens_clear) */
    char refresh_token[TC_AUTH_REFRESH_LEN + 1];
    int64_t expires_in;                          /* seconds the access token lives */
    char session_id[37];
} tc_auth_tokens;
void tc_auth_tokens_clear(tc_auth_tokens *t);    /* frees and wipes */

/* Where a request came from (both optional, stored with the session). */
typedef struct tc_auth_client {
    const char *addr;
    const char *user_agent;
} tc_auth_client;

/* Who is calling, filled by tc_auth_authenticate. user is read in the same
 * lookup that checks the credential, so GET /api/me needs no second query. */
typedef struct tc_auth_principal {
    char user_id[37];
    char session_id[37]; /* "" when authenticated by API key */
    char api_key_id[37]; /* "" when authenticated by access token */
    bool is_admin;
    tc_auth_user user;   /* id, email, created_at, is_admin at authentication */
} tc_auth_principal;

/* Creates the user (the first user of the instance becomes admin, decided
 * inside the same transaction) and a first session. TC_CONFLICT when the
 * e-mail is taken, TC_VALIDATION with field for bad input. */
tc_status tc_auth_signup(tc_auth *a, const char *email, const char *password,
                         const tc_auth_client *cl, tc_auth_tokens *out, tc_err *err);

/* Throttled login. TC_UNAUTHORIZED "invalid email or password" for a wrong
 * password and for an unknown e-mail alike (the unknown case still spends the
 * argon2 time); TC_RATE_LIMITED with *retry_after_s filled when over a limit. */
tc_status tc_auth_login(tc_auth *a, const char *email, const char *password,
                        const tc_auth_client *cl, tc_auth_tokens *out, int64_t *retry_after_s,
                        tc_err *err);

/* Rotates a refresh token. A token that was already rotated revokes its whole
 * session (reuse detection) and answers TC_UNAUTHORIZED. */
tc_status tc_auth_refresh(tc_auth *a, const char *refresh_token, const tc_auth_client *cl,
                          tc_auth_tokens *out, tc_err *err);

/* Revokes the caller's current session (API-key callers: TC_BAD_REQUEST). */
tc_status tc_auth_logout(tc_auth *a, const tc_auth_principal *p, tc_err *err);

/* Resolves "Bearer <jwt|tc_key>" (the whole Authorization header value, may
 * be NULL). TC_UNAUTHORIZED with a clear message when missing, malformed,
 * expired or revoked. */
tc_status tc_auth_authenticate(tc_auth *a, const char *authorization, tc_auth_principal *out,
                               tc_err *err);

/* Access tokens that passed authentication are remembered per process for
 * at most this long (and never past their exp), so most requests skip the
 * JWT check and the session read. On SQLite only: on PostgreSQL several
 * instances share the sessions, and every request reads the database. */
#define TC_AUTH_CACHE_TTL_MS 60000

/* Drops the remembered tokens of a user (NULL: of everyone). The service
 * calls it after every change to a user's sessions, password or row;
 * code outside this module that changes a user's sessions, e-mail or admin
 * flag in the database must call it too, after its commit. */
void tc_auth_cache_forget_user(tc_auth *a, const char *user_id);

tc_status tc_auth_me(tc_auth *a, const char *user_id, tc_auth_user *out, tc_err *err);

/* Needs the current password (wrong: TC_FORBIDDEN; throttled like a login:
 * TC_RATE_LIMITED with *retry_after_s); on success every other session of
 * the user is revoked (the calling session stays). */
tc_status tc_auth_change_password(tc_auth *a, const tc_auth_principal *p, const char *current,
                                  const char *next, int64_t *retry_after_s, tc_err *err);

/* Deletes the user; the database cascades to all of their rows. */
tc_status tc_auth_delete_account(tc_auth *a, const char *user_id, tc_err *err);

/* ---- sessions and API keys (listing + revocation) ------------------------- */
typedef struct tc_auth_session {
    char id[37];
    int64_t created_at, last_used_at, expires_at; /* ms */
    char user_agent[TC_AUTH_UA_MAX];
    char ip[64];
    bool current;
} tc_auth_session;

typedef struct tc_auth_api_key {
    char id[37];
    char name[TC_AUTH_KEY_NAME_MAX + 1];
    char prefix[TC_AUTH_API_KEY_PREFIX_LEN + 1];
    int64_t created_at;
    int64_t last_used_at; /* 0 = never */
} tc_auth_api_key;

#define TC_AUTH_LIST_MAX 100

/* Active sessions of user p, newest first. limit 1..TC_AUTH_LIST_MAX,
 * cursor NULL or a previous *next_cursor. *items and *next_cursor: caller
 * frees (next_cursor NULL at the end). */
tc_status tc_auth_sessions_list(tc_auth *a, const tc_auth_principal *p, int limit,
                                const char *cursor, tc_auth_session **items, size_t *n,
                                char **next_cursor, tc_err *err);
/* TC_NOT_FOUND for a missing id, another user's id or an already revoked one. */
tc_status tc_auth_session_revoke(tc_auth *a, const char *user_id, const char *session_id,
                                 tc_err *err);

/* Creates a key; key gets the secret (shown once, never stored). */
tc_status tc_auth_api_key_create(tc_auth *a, const char *user_id, const char *name,
                                 tc_auth_api_key *out, char key[TC_AUTH_API_KEY_LEN + 1],
                                 tc_err *err);
tc_status tc_auth_api_keys_list(tc_auth *a, const char *user_id, int limit, const char *cursor,
                                tc_auth_api_key **items, size_t *n, char **next_cursor,
                                tc_err *err);
tc_status tc_auth_api_key_revoke(tc_auth *a, const char *user_id, const char *key_id,
                                 tc_err *err);

#endif
