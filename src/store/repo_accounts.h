/* store: repositories of the accounts aggregates (users, sessions with their
 * refresh tokens, API keys, login attempts). Used by src/auth only.
 *
 * Row-level security: every function that touches a user-owned row takes the
 * acting user id and puts it in the WHERE clause, so another user's id
 * behaves exactly like a missing one (TC_NOT_FOUND). The few lookups that
 * have no acting user yet are the ones that establish who the user is: by
 * e-mail (login), by refresh-token hash (refresh) and by API-key hash
 * (authentication). They are marked "identity lookup".
 *
 * Times are int64 milliseconds since the epoch, passed by the caller.
 * Memory: output structs are caller-provided; list arrays are malloc'd and
 * freed by the caller. */
#ifndef TC_STORE_REPO_ACCOUNTS_H
#define TC_STORE_REPO_ACCOUNTS_H

#include <stdbool.h>
#include <stdint.h>

#include "store/db.h"

/* ---- users --------------------------------------------------------------- */
/* Claims the instance's first-administrator slot (a settings row written
 * with ON CONFLICT DO NOTHING inside the sign-up transaction). *won is true
 * for exactly one user ever, even with concurrent sign-ups. */
tc_status tc_repo_admin_claim(tc_db_conn *c, const char *user_id, int64_t now, bool *won,
                              tc_err *err);

typedef struct tc_repo_user {
    char id[37];
    char email[255];   /* 254 + NUL */
    char password_hash[192];
    bool is_admin;
    int64_t created_at;
} tc_repo_user;

tc_status tc_repo_user_count(tc_db_conn *c, int64_t *n, tc_err *err);
/* TC_CONFLICT (code "email_taken", field "email") when the e-mail exists. */
tc_status tc_repo_user_insert(tc_db_conn *c, const tc_repo_user *u, int64_t now, tc_err *err);
/* Identity lookup (email already normalized to lower case). TC_NOT_FOUND
 * when no such e-mail or the user is disabled. */
tc_status tc_repo_user_by_email(tc_db_conn *c, const char *email, tc_repo_user *out,
                                tc_err *err);
tc_status tc_repo_user_get(tc_db_conn *c, const char *user_id, tc_repo_user *out, tc_err *err);
tc_status tc_repo_user_set_password(tc_db_conn *c, const char *user_id, const char *hash,
                                    int64_t now, tc_err *err);
/* Deletes the user; foreign keys cascade to every user-owned row. */
tc_status tc_repo_user_delete(tc_db_conn *c, const char *user_id, tc_err *err);

/* ---- login attempts (throttling window) ----------------------------------
 * Failures keyed by normalized e-mail (whether or not it exists) and by
 * client address. An attempt is written as a failure before the password is
 * checked; `attempt` (a UUID) names the rows of one attempt. */
typedef struct tc_repo_login_window {
    int64_t count;
    int64_t oldest; /* created_at of the oldest failure in the window, ms */
} tc_repo_login_window;
tc_status tc_repo_login_failures(tc_db_conn *c, const char *email, const char *addr,
                                 int64_t since, tc_repo_login_window *by_email,
                                 tc_repo_login_window *by_addr, tc_err *err);
/* addr may be NULL (account row only). */
tc_status tc_repo_login_failure_add(tc_db_conn *c, const char *email, const char *addr,
                                    const char *attempt, int64_t now, tc_err *err);
/* After a successful attempt: forget the account's failures and this
 * attempt's address row (earlier address failures stay). */
tc_status tc_repo_login_attempt_succeeded(tc_db_conn *c, const char *email, const char *attempt,
                                          tc_err *err);
/* Takes one attempt back entirely (it was refused before any check). */
tc_status tc_repo_login_attempt_drop(tc_db_conn *c, const char *attempt, tc_err *err);
/* Drops rows older than `before` (housekeeping). */
tc_status tc_repo_login_prune(tc_db_conn *c, int64_t before, tc_err *err);

/* ---- sessions (= refresh-token families) ---------------------------------- */
typedef struct tc_repo_session {
    char id[37];
    int64_t created_at, last_used_at, expires_at;
    char user_agent[256];
    char ip[64];
} tc_repo_session;

tc_status tc_repo_session_insert(tc_db_conn *c, const char *user_id, const tc_repo_session *s,
                                 tc_err *err);
/* Is the session active (not revoked, not expired) for this user? Also
 * fills the user (id, email, is_admin, created_at; password_hash left empty)
 * so an authenticated request needs no second lookup. TC_NOT_FOUND otherwise. */
tc_status tc_repo_session_active(tc_db_conn *c, const char *user_id, const char *session_id,
                                 int64_t now, tc_repo_user *user, tc_err *err);
/* Extends an active session after a refresh. */
tc_status tc_repo_session_touch(tc_db_conn *c, const char *user_id, const char *session_id,
                                int64_t now, int64_t expires_at, tc_err *err);
/* Revokes an active session; TC_NOT_FOUND when missing, not the user's or
 * already revoked/expired. */
tc_status tc_repo_session_revoke(tc_db_conn *c, const char *user_id, const char *session_id,
                                 int64_t now, const char *reason, tc_err *err);
/* Revokes every active session of the user except keep_id (may be NULL). */
tc_status tc_repo_session_revoke_others(tc_db_conn *c, const char *user_id, const char *keep_id,
                                        int64_t now, const char *reason, tc_err *err);
/* Active sessions, newest first, after the cursor (created_at, id) when
 * after_id is non-NULL. Fills up to max items; *n gets the count. */
tc_status tc_repo_session_list(tc_db_conn *c, const char *user_id, int64_t now,
                               int64_t after_created, const char *after_id, int max,
                               tc_repo_session *items, int *n, tc_err *err);

/* Housekeeping for one user: deletes sessions revoked or expired before
 * `before` (their refresh tokens go by cascade) and refresh tokens that
 * expired before `now`. */
tc_status tc_repo_session_prune(tc_db_conn *c, const char *user_id, int64_t before, int64_t now,
                                tc_err *err);

/* ---- refresh tokens ------------------------------------------------------ */
typedef struct tc_repo_refresh {
    char user_id[37];
    char session_id[37];
    int64_t expires_at;
    int64_t used_at;          /* 0 = not yet rotated */
    bool session_active;      /* session neither revoked nor expired */
} tc_repo_refresh;

tc_status tc_repo_refresh_insert(tc_db_conn *c, const char *user_id, const char *session_id,
                                 const char *token_hash, int64_t now, int64_t expires_at,
                                 tc_err *err);
/* Identity lookup by SHA-256 hex of the token. TC_NOT_FOUND when unknown. */
tc_status tc_repo_refresh_find(tc_db_conn *c, const char *token_hash, int64_t now,
                               tc_repo_refresh *out, tc_err *err);
/* Marks the token rotated. *won is false when someone else rotated it first
 * (a concurrent use: treated as reuse by the caller). */
tc_status tc_repo_refresh_mark_used(tc_db_conn *c, const char *user_id, const char *token_hash,
                                    int64_t now, bool *won, tc_err *err);

/* ---- API keys --------------------------------------------------------------- */
typedef struct tc_repo_api_key {
    char id[37];
    char user_id[37];
    char name[101];    /* 100 + NUL */
    char prefix[12];   /* "tc_" + 8 + NUL */
    int64_t created_at;
    int64_t last_used_at; /* 0 = never */
    /* filled by the identity lookup only: */
    bool user_is_admin;
    char user_email[255];
    int64_t user_created_at;
} tc_repo_api_key;

tc_status tc_repo_api_key_insert(tc_db_conn *c, const char *user_id, const tc_repo_api_key *k,
                                 const char *key_hash, tc_err *err);
/* Identity lookup of a non-revoked key by hash. TC_NOT_FOUND otherwise. */
tc_status tc_repo_api_key_by_hash(tc_db_conn *c, const char *key_hash, int64_t now,
                                  tc_repo_api_key *out, tc_err *err);
tc_status tc_repo_api_key_touch(tc_db_conn *c, const char *user_id, const char *key_id,
                                int64_t now, tc_err *err);
tc_status tc_repo_api_key_revoke(tc_db_conn *c, const char *user_id, const char *key_id,
                                 int64_t now, tc_err *err);
/* Non-revoked keys, newest first, after the cursor when after_id != NULL. */
tc_status tc_repo_api_key_list(tc_db_conn *c, const char *user_id, int64_t after_created,
                               const char *after_id, int max, tc_repo_api_key *items, int *n,
                               tc_err *err);

#endif
