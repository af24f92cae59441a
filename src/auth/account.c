/* The account itself (me, password change, deletion) and API keys. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/auth_int.h"

#define API_KEY_INSERT_TRIES 3 /* prefix is UNIQUE: 48 random bits, retry on a clash */

tc_status tc_auth_me(tc_auth *a, const char *user_id, tc_auth_user *out, tc_err *err)
{
    tc_repo_user u;
    tc_db_conn *c = tc_db_acquire(a->db);
    tc_status st = tc_repo_user_get(c, user_id, &u, err);
    tc_db_release(c);
    if (st == TC_OK)
        tc_auth__user_from_repo(&u, out);
    tc_auth__wipe(u.password_hash, sizeof u.password_hash);
    return st;
}

/* Loads the user and records the attempt, throttled like a login (a stolen
 * access token must not become a password-guessing oracle). */
static tc_status current_begin(tc_auth *a, const char *user_id, tc_repo_user *u,
                               char attempt[37], int64_t *retry_after_s, tc_err *err)
{
    tc_db_conn *c = tc_db_acquire(a->db);
    tc_status st = tc_repo_user_get(c, user_id, u, err);
    if (st == TC_OK) /* no transaction on purpose: see throttle.c */
        st = tc_auth__attempt_begin(c, u->email, NULL, attempt, retry_after_s, err);
    tc_db_release(c);
    return st;
}

/* New hash, attempt cleared, other sessions revoked: one transaction.
 * Everyone else signed in with the old password is signed out; the calling
 * session stays (API-key callers keep no session: all go). */
static tc_status store_password(tc_auth *a, const tc_auth_principal *p, const char *email,
                                const char *attempt, const char *hash, tc_err *err)
{
    int64_t now = tc_now_ms();
    tc_db_conn *c = tc_db_acquire(a->db);
    tc_status st = tc_db_begin(c, err);
    if (st == TC_OK)
        st = tc_repo_user_set_password(c, p->user_id, hash, now, err);
    if (st == TC_OK)
        st = tc_auth__attempt_succeeded(c, email, attempt, err);
    if (st == TC_OK)
        st = tc_repo_session_revoke_others(c, p->user_id, p->session_id[0] ? p->session_id : NULL,
                                           now, "password_changed", err);
    if (st == TC_OK)
        st = tc_db_commit(c, err);
    else
        tc_db_rollback(c);
    tc_db_release(c);
    tc_auth_cache_forget_user(a, p->user_id);
    return st;
}

tc_status tc_auth_change_password(tc_auth *a, const tc_auth_principal *p, const char *current,
                                  const char *next, int64_t *retry_after_s, tc_err *err)
{
    tc_repo_user u;
    char attempt[37];
    char *hash = NULL;
    memset(&u, 0, sizeof u);
    if (!current || !*current)
        return tc_failf(err, TC_VALIDATION, "current_password", "current_password is required");
    tc_status st = tc_auth_password_policy(next, "new_password", err);
    if (st == TC_OK)
        st = current_begin(a, p->user_id, &u, attempt, retry_after_s, err);
    if (st != TC_OK)
        goto out;
    if (!tc_auth_password_verify(u.password_hash, current)) { /* counted already */
        st = tc_failc(err, TC_FORBIDDEN, "invalid_current_password", "current_password",
                      "current_password is incorrect");
        goto out;
    }
    st = tc_auth_password_hash(next, &hash, err);
    if (st == TC_OK)
        st = store_password(a, p, u.email, attempt, hash, err);
out:
    tc_auth__wipe(u.password_hash, sizeof u.password_hash);
    tc_free(hash);
    return st;
}

tc_status tc_auth_delete_account(tc_auth *a, const char *user_id, tc_err *err)
{
    tc_db_conn *c = tc_db_acquire(a->db);
    tc_status st = tc_repo_user_delete(c, user_id, err);
    tc_db_release(c);
    tc_auth_cache_forget_user(a, user_id);
    if (st == TC_OK)
        tc_log(TC_LOG_INFO, "account deleted", "user_id", user_id, NULL);
    return st;
}

/* ---- API keys ------------------------------------------------------------------ */

static tc_status key_name_ok(const char *name, tc_err *err)
{
    if (!name || !*name)
        return tc_failf(err, TC_VALIDATION, "name", "name is required");
    size_t n = strnlen(name, TC_AUTH_KEY_NAME_MAX + 1);
    if (n > TC_AUTH_KEY_NAME_MAX)
        return tc_failf(err, TC_VALIDATION, "name", "name must be at most %d bytes",
                        TC_AUTH_KEY_NAME_MAX);
    if (!tc_utf8_valid(name, n))
        return tc_failf(err, TC_VALIDATION, "name", "name must be valid UTF-8");
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)name[i] < 0x20 || name[i] == 0x7f)
            return tc_failf(err, TC_VALIDATION, "name", "name must not contain control characters");
    return TC_OK;
}

tc_status tc_auth_api_key_create(tc_auth *a, const char *user_id, const char *name,
                                 tc_auth_api_key *out, char key[TC_AUTH_API_KEY_LEN + 1],
                                 tc_err *err)
{
    memset(out, 0, sizeof *out);
    key[0] = '\0';
    tc_status st = key_name_ok(name, err);
    if (st != TC_OK)
        return st;
    tc_repo_api_key k;
    memset(&k, 0, sizeof k);
    tc_uuid(k.id);
    snprintf(k.name, sizeof k.name, "%s", name);
    k.created_at = tc_now_ms();
    char hash[TC_AUTH_HASH_HEX_LEN + 1];
    tc_db_conn *c = tc_db_acquire(a->db);
    for (int i = 0; i < API_KEY_INSERT_TRIES; i++) {
        tc_auth_api_key_new(key, k.prefix);
        tc_auth_token_hash(key, hash);
        st = tc_repo_api_key_insert(c, user_id, &k, hash, err);
        if (st != TC_CONFLICT)
            break;
    }
    tc_db_release(c);
    if (st != TC_OK) {
        tc_auth__wipe(key, TC_AUTH_API_KEY_LEN + 1);
        return st;
    }
    snprintf(out->id, sizeof out->id, "%s", k.id);
    snprintf(out->name, sizeof out->name, "%s", k.name);
    snprintf(out->prefix, sizeof out->prefix, "%s", k.prefix);
    out->created_at = k.created_at;
    return TC_OK;
}

tc_status tc_auth_api_keys_list(tc_auth *a, const char *user_id, int limit, const char *cursor,
                                tc_auth_api_key **items, size_t *n, char **next_cursor,
                                tc_err *err)
{
    tc_auth__page pg;
    *items = NULL;
    *n = 0;
    *next_cursor = NULL;
    tc_status st = tc_auth__page_open(&pg, limit, cursor, err);
    if (st != TC_OK)
        return st;
    tc_repo_api_key *rows = tc_calloc((size_t)limit + 1, sizeof *rows);
    int got = 0;
    tc_db_conn *c = tc_db_acquire(a->db);
    st = tc_repo_api_key_list(c, user_id, pg.after, pg.after_id, limit + 1, rows, &got, err);
    tc_db_release(c);
    if (st != TC_OK)
        goto out;
    got = tc_auth__page_close(&pg, got, rows[limit - 1].created_at, rows[limit - 1].id,
                              next_cursor);
    *items = tc_calloc((size_t)(got ? got : 1), sizeof **items);
    for (int i = 0; i < got; i++) {
        tc_auth_api_key *k = &(*items)[i];
        snprintf(k->id, sizeof k->id, "%s", rows[i].id);
        snprintf(k->name, sizeof k->name, "%s", rows[i].name);
        snprintf(k->prefix, sizeof k->prefix, "%s", rows[i].prefix);
        k->created_at = rows[i].created_at;
        k->last_used_at = rows[i].last_used_at;
    }
    *n = (size_t)got;
out:
    tc_free(rows);
    return st;
}

tc_status tc_auth_api_key_revoke(tc_auth *a, const char *user_id, const char *key_id,
                                 tc_err *err)
{
    if (!key_id || !tc_uuid_valid(key_id))
        return tc_failf(err, TC_NOT_FOUND, NULL, "api key not found");
    tc_db_conn *c = tc_db_acquire(a->db);
    tc_status st = tc_repo_api_key_revoke(c, user_id, key_id, tc_now_ms(), err);
    tc_db_release(c);
    return st;
}
