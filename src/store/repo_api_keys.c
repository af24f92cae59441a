/* Repository: API keys (see repo_accounts.h). Only the SHA-256 of a key is
 * stored; the prefix is kept for display. */
#include <stdio.h>
#include <string.h>

#include "store/repo_accounts.h"

#define NP(a) (sizeof(a) / sizeof((a)[0]))

static void copy_text(char *dst, size_t cap, const char *src)
{
    snprintf(dst, cap, "%s", src ? src : "");
}

tc_status tc_repo_api_key_insert(tc_db_conn *c, const char *user_id, const tc_repo_api_key *k,
                                 const char *key_hash, tc_err *err)
{
    const tc_dbv p[] = {TC_DBV_STR(k->id),     TC_DBV_STR(user_id),  TC_DBV_STR(k->name),
                        TC_DBV_STR(k->prefix), TC_DBV_STR(key_hash), TC_DBV_I64(k->created_at)};
    return tc_db_exec(c,
                      "INSERT INTO api_keys (id, user_id, name, prefix, key_hash, created_at, "
                      "updated_at) VALUES ($1, $2, $3, $4, $5, $6, $6)",
                      p, NP(p), NULL, err);
}

static void row_to_key(tc_db_rows *r, tc_repo_api_key *k)
{
    copy_text(k->id, sizeof k->id, tc_db_rows_text(r, 0));
    copy_text(k->user_id, sizeof k->user_id, tc_db_rows_text(r, 1));
    copy_text(k->name, sizeof k->name, tc_db_rows_text(r, 2));
    copy_text(k->prefix, sizeof k->prefix, tc_db_rows_text(r, 3));
    k->created_at = tc_db_rows_int(r, 4);
    k->last_used_at = tc_db_rows_isnull(r, 5) ? 0 : tc_db_rows_int(r, 5);
}

tc_status tc_repo_api_key_by_hash(tc_db_conn *c, const char *key_hash, int64_t now,
                                  tc_repo_api_key *out, tc_err *err)
{
    const tc_dbv p[] = {TC_DBV_STR(key_hash), TC_DBV_I64(now)};
    tc_db_rows *r = NULL;
    tc_status st = tc_db_query(c,
                               "SELECT k.id, k.user_id, k.name, k.prefix, k.created_at, "
                               "k.last_used_at, u.is_admin, u.email, u.created_at FROM api_keys k "
                               "JOIN users u ON u.id = k.user_id "
                               "WHERE k.key_hash = $1 AND k.revoked_at IS NULL AND u.disabled_at IS NULL "
                               "AND (k.expires_at IS NULL OR k.expires_at > $2)",
                               p, NP(p), &r, err);
    if (st != TC_OK)
        return st;
    if (tc_db_rows_next(r)) {
        row_to_key(r, out);
        out->user_is_admin = tc_db_rows_int(r, 6) != 0;
        copy_text(out->user_email, sizeof out->user_email, tc_db_rows_text(r, 7));
        out->user_created_at = tc_db_rows_int(r, 8);
    } else {
        st = tc_failf(err, TC_NOT_FOUND, NULL, "api key not found");
    }
    tc_db_rows_free(r);
    return st;
}

tc_status tc_repo_api_key_touch(tc_db_conn *c, const char *user_id, const char *key_id,
                                int64_t now, tc_err *err)
{
    const tc_dbv p[] = {TC_DBV_STR(key_id), TC_DBV_STR(user_id), TC_DBV_I64(now)};
    return tc_db_exec(c, "UPDATE api_keys SET last_used_at = $3 WHERE id = $1 AND user_id = $2",
                      p, NP(p), NULL, err);
}

tc_status tc_repo_api_key_revoke(tc_db_conn *c, const char *user_id, const char *key_id,
                                 int64_t now, tc_err *err)
{
    const tc_dbv p[] = {TC_DBV_STR(key_id), TC_DBV_STR(user_id), TC_DBV_I64(now)};
    int64_t affected = 0;
    tc_status st = tc_db_exec(c,
                              "UPDATE api_keys SET revoked_at = $3, updated_at = $3 "
                              "WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL",
                              p, NP(p), &affected, err);
    if (st == TC_OK && affected == 0)
        st = tc_failf(err, TC_NOT_FOUND, NULL, "api key not found");
    return st;
}

#define KEY_COLS "id, user_id, name, prefix, created_at, last_used_at"

tc_status tc_repo_api_key_list(tc_db_conn *c, const char *user_id, int64_t after_created,
                               const char *after_id, int max, tc_repo_api_key *items, int *n,
                               tc_err *err)
{
    const tc_dbv p[] = {TC_DBV_STR(user_id), TC_DBV_I64(max), TC_DBV_I64(after_created),
                        TC_DBV_STR(after_id)};
    const char *sql =
        after_id ? "SELECT " KEY_COLS " FROM api_keys WHERE user_id = $1 AND revoked_at IS NULL "
                   "AND (created_at < $3 OR (created_at = $3 AND id < $4)) "
                   "ORDER BY created_at DESC, id DESC LIMIT $2"
                 : "SELECT " KEY_COLS " FROM api_keys WHERE user_id = $1 AND revoked_at IS NULL "
                   "ORDER BY created_at DESC, id DESC LIMIT $2";
    tc_db_rows *r = NULL;
    *n = 0;
    tc_status st = tc_db_query(c, sql, p, after_id ? 4 : 2, &r, err);
    if (st != TC_OK)
        return st;
    while (*n < max && tc_db_rows_next(r))
        row_to_key(r, &items[(*n)++]);
    tc_db_rows_free(r);
    return TC_OK;
}
