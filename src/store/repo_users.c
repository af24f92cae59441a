/* Repository: users and login attempts (see repo_accounts.h). */
#include <stdio.h>
#include <string.h>

#include "store/repo_accounts.h"

#define NP(a) (sizeof(a) / sizeof((a)[0]))
#define TXT(s) ((tc_dbv){.type = TC_DBV_TEXT, .p = (s)}) /* never NULL */

static void copy_text(char *dst, size_t cap, const char *src)
{
    snprintf(dst, cap, "%s", src ? src : "");
}

tc_status tc_repo_user_count(tc_db_conn *c, int64_t *n, tc_err *err)
{
    tc_db_rows *r = NULL;
    tc_status st = tc_db_query(c, "SELECT COUNT(*) FROM users", NULL, 0, &r, err);
    if (st != TC_OK)
        return st;
    *n = tc_db_rows_next(r) ? tc_db_rows_int(r, 0) : 0;
    tc_db_rows_free(r);
    return TC_OK;
}

tc_status tc_repo_admin_claim(tc_db_conn *c, const char *user_id, int64_t now, bool *won,
                              tc_err *err)
{
    char value[48];
    snprintf(value, sizeof value, "\"%s\"", user_id);
    const tc_dbv p[] = {TC_DBV_STR("accounts.first_admin"), TXT(value), TC_DBV_I64(now)};
    int64_t affected = 0;
    tc_status st = tc_db_exec(c,
                              "INSERT INTO settings (key, value, created_at, updated_at) "
                              "VALUES ($1, $2, $3, $3) ON CONFLICT (key) DO NOTHING",
                              p, NP(p), &affected, err);
    *won = st == TC_OK && affected == 1;
    return st;
}

tc_status tc_repo_user_insert(tc_db_conn *c, const tc_repo_user *u, int64_t now, tc_err *err)
{
    const tc_dbv p[] = {TC_DBV_STR(u->id), TC_DBV_STR(u->email), TC_DBV_STR(u->password_hash),
                        TC_DBV_BOOL(u->is_admin), TC_DBV_I64(now)};
    tc_status st = tc_db_exec(c,
                              "INSERT INTO users (id, email, password_hash, is_admin, created_at, "
                              "updated_at) VALUES ($1, $2, $3, $4, $5, $5)",
                              p, NP(p), NULL, err);
    if (st == TC_CONFLICT)
        return tc_failc(err, TC_CONFLICT, "email_taken", "email",
                        "an account with this email already exists");
    return st;
}

static tc_status user_one(tc_db_conn *c, const char *sql, const char *arg, tc_repo_user *out,
                          tc_err *err)
{
    const tc_dbv p[] = {TC_DBV_STR(arg)};
    tc_db_rows *r = NULL;
    tc_status st = tc_db_query(c, sql, p, NP(p), &r, err);
    if (st != TC_OK)
        return st;
    if (!tc_db_rows_next(r)) {
        st = tc_failf(err, TC_NOT_FOUND, NULL, "user not found");
        goto out;
    }
    copy_text(out->id, sizeof out->id, tc_db_rows_text(r, 0));
    copy_text(out->email, sizeof out->email, tc_db_rows_text(r, 1));
    copy_text(out->password_hash, sizeof out->password_hash, tc_db_rows_text(r, 2));
    out->is_admin = tc_db_rows_int(r, 3) != 0;
    out->created_at = tc_db_rows_int(r, 4);
out:
    tc_db_rows_free(r);
    return st;
}

tc_status tc_repo_user_by_email(tc_db_conn *c, const char *email, tc_repo_user *out,
                                tc_err *err)
{
    return user_one(c,
                    "SELECT id, email, password_hash, is_admin, created_at FROM users "
                    "WHERE lower(email) = $1 AND disabled_at IS NULL",
                    email, out, err);
}

tc_status tc_repo_user_get(tc_db_conn *c, const char *user_id, tc_repo_user *out, tc_err *err)
{
    return user_one(c,
                    "SELECT id, email, password_hash, is_admin, created_at FROM users "
                    "WHERE id = $1",
                    user_id, out, err);
}

/* Exec that must touch exactly one row of the acting user. */
static tc_status exec_one(tc_db_conn *c, const char *sql, const tc_dbv *p, size_t n,
                          const char *what, tc_err *err)
{
    int64_t affected = 0;
    tc_status st = tc_db_exec(c, sql, p, n, &affected, err);
    if (st == TC_OK && affected == 0)
        st = tc_failf(err, TC_NOT_FOUND, NULL, "%s not found", what);
    return st;
}

tc_status tc_repo_user_set_password(tc_db_conn *c, const char *user_id, const char *hash,
                                    int64_t now, tc_err *err)
{
    const tc_dbv p[] = {TC_DBV_STR(user_id), TC_DBV_STR(hash), TC_DBV_I64(now)};
    return exec_one(c, "UPDATE users SET password_hash = $2, updated_at = $3 WHERE id = $1", p,
                    NP(p), "user", err);
}

tc_status tc_repo_user_delete(tc_db_conn *c, const char *user_id, tc_err *err)
{
    const tc_dbv p[] = {TC_DBV_STR(user_id)};
    return exec_one(c, "DELETE FROM users WHERE id = $1", p, NP(p), "user", err);
}

/* ---- login attempts ------------------------------------------------------- */

static tc_status window_of(tc_db_conn *c, const char *sql, const char *key, int64_t since,
                           tc_repo_login_window *w, tc_err *err)
{
    const tc_dbv p[] = {TC_DBV_STR(key), TC_DBV_I64(since)};
    tc_db_rows *r = NULL;
    w->count = 0;
    w->oldest = 0;
    if (!key)
        return TC_OK;
    tc_status st = tc_db_query(c, sql, p, NP(p), &r, err);
    if (st != TC_OK)
        return st;
    if (tc_db_rows_next(r)) {
        w->count = tc_db_rows_int(r, 0);
        w->oldest = tc_db_rows_int(r, 1);
    }
    tc_db_rows_free(r);
    return TC_OK;
}

tc_status tc_repo_login_failures(tc_db_conn *c, const char *email, const char *addr,
                                 int64_t since, tc_repo_login_window *by_email,
                                 tc_repo_login_window *by_addr, tc_err *err)
{
    tc_status st = window_of(c,
                             "SELECT COUNT(*), MIN(created_at) FROM login_attempts "
                             "WHERE scope = 'account' AND key = $1 AND succeeded = 0 AND created_at > $2",
                             email, since, by_email, err);
    if (st != TC_OK)
        return st;
    return window_of(c,
                     "SELECT COUNT(*), MIN(created_at) FROM login_attempts "
                     "WHERE scope = 'address' AND key = $1 AND succeeded = 0 AND created_at > $2",
                     addr, since, by_addr, err);
}

tc_status tc_repo_login_failure_add(tc_db_conn *c, const char *email, const char *addr,
                                    const char *attempt, int64_t now, tc_err *err)
{
    static const char sql[] = "INSERT INTO login_attempts (scope, key, succeeded, created_at, "
                              "attempt) VALUES ($1, $2, 0, $3, $4)";
    const tc_dbv pa[] = {TC_DBV_STR("account"), TC_DBV_STR(email), TC_DBV_I64(now),
                         TC_DBV_STR(attempt)};
    tc_status st = tc_db_exec(c, sql, pa, NP(pa), NULL, err);
    if (st != TC_OK || !addr)
        return st;
    const tc_dbv pb[] = {TC_DBV_STR("address"), TC_DBV_STR(addr), TC_DBV_I64(now),
                         TC_DBV_STR(attempt)};
    return tc_db_exec(c, sql, pb, NP(pb), NULL, err);
}

tc_status tc_repo_login_attempt_succeeded(tc_db_conn *c, const char *email, const char *attempt,
                                          tc_err *err)
{
    const tc_dbv p[] = {TC_DBV_STR(email), TC_DBV_STR(attempt)};
    return tc_db_exec(c,
                      "DELETE FROM login_attempts WHERE (scope = 'account' AND key = $1) "
                      "OR attempt = $2",
                      p, NP(p), NULL, err);
}

tc_status tc_repo_login_attempt_drop(tc_db_conn *c, const char *attempt, tc_err *err)
{
    const tc_dbv p[] = {TC_DBV_STR(attempt)};
    return tc_db_exec(c, "DELETE FROM login_attempts WHERE attempt = $1", p, NP(p), NULL, err);
}

tc_status tc_repo_login_prune(tc_db_conn *c, int64_t before, tc_err *err)
{
    const tc_dbv p[] = {TC_DBV_I64(before)};
    return tc_db_exec(c, "DELETE FROM login_attempts WHERE created_at < $1", p, NP(p), NULL,
                      err);
}
