/* Repository: sessions (refresh-token families) and their refresh tokens
 * (see repo_accounts.h). A session is active while revoked_at IS NULL and
 * expires_at > now. */
#include <stdio.h>
#include <string.h>

#include "store/repo_accounts.h"

#define NP(a) (sizeof(a) / sizeof((a)[0]))
#define TXT(s) ((tc_dbv){.type = TC_DBV_TEXT, .p = (s)}) /* never NULL */

static void copy_text(char *dst, size_t cap, const char *src)
{
    snprintf(dst, cap, "%s", src ? src : "");
}

tc_status tc_repo_session_insert(tc_db_conn *c, const char *user_id, const tc_repo_session *s,
                                 tc_err *err)
{
    const tc_dbv p[] = {TC_DBV_STR(s->id),        TC_DBV_STR(user_id),
                        TC_DBV_I64(s->created_at), TC_DBV_I64(s->expires_at),
                        TC_DBV_STR(s->user_agent), TC_DBV_STR(s->ip)};
    return tc_db_exec(c,
                      "INSERT INTO sessions (id, user_id, family, created_at, updated_at, "
                      "last_used_at, expires_at, user_agent, ip) "
                      "VALUES ($1, $2, $1, $3, $3, $3, $4, $5, $6)",
                      p, NP(p), NULL, err);
}

tc_status tc_repo_session_active(tc_db_conn *c, const char *user_id, const char *session_id,
                                 int64_t now, tc_repo_user *user, tc_err *err)
{
    const tc_dbv p[] = {TC_DBV_STR(session_id), TC_DBV_STR(user_id), TC_DBV_I64(now)};
    tc_db_rows *r = NULL;
    tc_status st = tc_db_query(c,
                               "SELECT u.id, u.email, u.is_admin, u.created_at "
                               "FROM sessions s JOIN users u ON u.id = s.user_id "
                               "WHERE s.id = $1 AND s.user_id = $2 AND s.revoked_at IS NULL "
                               "AND s.expires_at > $3 AND u.disabled_at IS NULL",
                               p, NP(p), &r, err);
    if (st != TC_OK)
        return st;
    if (tc_db_rows_next(r)) {
        copy_text(user->id, sizeof user->id, tc_db_rows_text(r, 0));
        copy_text(user->email, sizeof user->email, tc_db_rows_text(r, 1));
        user->password_hash[0] = '\0';
        user->is_admin = tc_db_rows_int(r, 2) != 0;
        user->created_at = tc_db_rows_int(r, 3);
    } else
        st = tc_failf(err, TC_NOT_FOUND, NULL, "session not found");
    tc_db_rows_free(r);
    return st;
}

static tc_status exec_one(tc_db_conn *c, const char *sql, const tc_dbv *p, size_t n,
                          tc_err *err)
{
    int64_t affected = 0;
    tc_status st = tc_db_exec(c, sql, p, n, &affected, err);
    if (st == TC_OK && affected == 0)
        st = tc_failf(err, TC_NOT_FOUND, NULL, "session not found");
    return st;
}

tc_status tc_repo_session_touch(tc_db_conn *c, const char *user_id, const char *session_id,
                                int64_t now, int64_t expires_at, tc_err *err)
{
    const tc_dbv p[] = {TC_DBV_STR(session_id), TC_DBV_STR(user_id), TC_DBV_I64(now),
                        TC_DBV_I64(expires_at)};
    return exec_one(c,
                    "UPDATE sessions SET last_used_at = $3, updated_at = $3, expires_at = $4 "
                    "WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL AND expires_at > $3",
                    p, NP(p), err);
}

tc_status tc_repo_session_revoke(tc_db_conn *c, const char *user_id, const char *session_id,
                                 int64_t now, const char *reason, tc_err *err)
{
    const tc_dbv p[] = {TC_DBV_STR(session_id), TC_DBV_STR(user_id), TC_DBV_I64(now),
                        TC_DBV_STR(reason)};
    return exec_one(c,
                    "UPDATE sessions SET revoked_at = $3, updated_at = $3, revoked_reason = $4 "
                    "WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL AND expires_at > $3",
                    p, NP(p), err);
}

tc_status tc_repo_session_revoke_others(tc_db_conn *c, const char *user_id, const char *keep_id,
                                        int64_t now, const char *reason, tc_err *err)
{
    /* "" never matches a UUID, so NULL keep_id revokes all. */
    const tc_dbv p[] = {TC_DBV_STR(user_id), TC_DBV_STR(keep_id ? keep_id : ""),
                        TC_DBV_I64(now), TC_DBV_STR(reason)};
    return tc_db_exec(c,
                      "UPDATE sessions SET revoked_at = $3, updated_at = $3, revoked_reason = $4 "
                      "WHERE user_id = $1 AND id <> $2 AND revoked_at IS NULL",
                      p, NP(p), NULL, err);
}

#define SESSION_COLS "id, created_at, last_used_at, expires_at, user_agent, ip"

tc_status tc_repo_session_list(tc_db_conn *c, const char *user_id, int64_t now,
                               int64_t after_created, const char *after_id, int max,
                               tc_repo_session *items, int *n, tc_err *err)
{
    const tc_dbv p[] = {TC_DBV_STR(user_id), TC_DBV_I64(now), TC_DBV_I64(max),
                        TC_DBV_I64(after_created), TC_DBV_STR(after_id)};
    const char *sql =
        after_id ? "SELECT " SESSION_COLS " FROM sessions WHERE user_id = $1 "
                   "AND revoked_at IS NULL AND expires_at > $2 "
                   "AND (created_at < $4 OR (created_at = $4 AND id < $5)) "
                   "ORDER BY created_at DESC, id DESC LIMIT $3"
                 : "SELECT " SESSION_COLS " FROM sessions WHERE user_id = $1 "
                   "AND revoked_at IS NULL AND expires_at > $2 "
                   "ORDER BY created_at DESC, id DESC LIMIT $3";
    tc_db_rows *r = NULL;
    *n = 0;
    tc_status st = tc_db_query(c, sql, p, after_id ? 5 : 3, &r, err);
    if (st != TC_OK)
        return st;
    while (*n < max && tc_db_rows_next(r)) {
        tc_repo_session *s = &items[(*n)++];
        copy_text(s->id, sizeof s->id, tc_db_rows_text(r, 0));
        s->created_at = tc_db_rows_int(r, 1);
        s->last_used_at = tc_db_rows_int(r, 2);
        s->expires_at = tc_db_rows_int(r, 3);
        copy_text(s->user_agent, sizeof s->user_agent, tc_db_rows_text(r, 4));
        copy_text(s->ip, sizeof s->ip, tc_db_rows_text(r, 5));
    }
    tc_db_rows_free(r);
    return TC_OK;
}

tc_status tc_repo_session_prune(tc_db_conn *c, const char *user_id, int64_t before, int64_t now,
                                tc_err *err)
{
    const tc_dbv ps[] = {TC_DBV_STR(user_id), TC_DBV_I64(before)};
    tc_status st = tc_db_exec(c,
                              "DELETE FROM sessions WHERE user_id = $1 AND "
                              "(revoked_at < $2 OR expires_at < $2)",
                              ps, NP(ps), NULL, err);
    if (st != TC_OK)
        return st;
    const tc_dbv pt[] = {TC_DBV_STR(user_id), TC_DBV_I64(now)};
    return tc_db_exec(c, "DELETE FROM refresh_tokens WHERE user_id = $1 AND expires_at < $2", pt,
                      NP(pt), NULL, err);
}

/* ---- refresh tokens --------------------------------------------------------- */

tc_status tc_repo_refresh_insert(tc_db_conn *c, const char *user_id, const char *session_id,
                                 const char *token_hash, int64_t now, int64_t expires_at,
                                 tc_err *err)
{
    char id[37];
    tc_uuid(id);
    const tc_dbv p[] = {TXT(id),                TC_DBV_STR(user_id), TC_DBV_STR(session_id),
                        TC_DBV_STR(token_hash), TC_DBV_I64(now),     TC_DBV_I64(expires_at)};
    return tc_db_exec(c,
                      "INSERT INTO refresh_tokens (id, user_id, session_id, token_hash, "
                      "created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6)",
                      p, NP(p), NULL, err);
}

tc_status tc_repo_refresh_find(tc_db_conn *c, const char *token_hash, int64_t now,
                               tc_repo_refresh *out, tc_err *err)
{
    const tc_dbv p[] = {TC_DBV_STR(token_hash), TC_DBV_I64(now)};
    tc_db_rows *r = NULL;
    tc_status st = tc_db_query(
        c,
        "SELECT t.user_id, t.session_id, t.expires_at, t.rotated_at, "
        "CASE WHEN s.revoked_at IS NULL AND s.expires_at > $2 THEN 1 ELSE 0 END "
        "FROM refresh_tokens t JOIN sessions s ON s.id = t.session_id AND s.user_id = t.user_id "
        "WHERE t.token_hash = $1",
        p, NP(p), &r, err);
    if (st != TC_OK)
        return st;
    if (!tc_db_rows_next(r)) {
        st = tc_failf(err, TC_NOT_FOUND, NULL, "refresh token not found");
        goto out;
    }
    copy_text(out->user_id, sizeof out->user_id, tc_db_rows_text(r, 0));
    copy_text(out->session_id, sizeof out->session_id, tc_db_rows_text(r, 1));
    out->expires_at = tc_db_rows_int(r, 2);
    out->used_at = tc_db_rows_isnull(r, 3) ? 0 : tc_db_rows_int(r, 3);
    out->session_active = tc_db_rows_int(r, 4) != 0;
out:
    tc_db_rows_free(r);
    return st;
}

tc_status tc_repo_refresh_mark_used(tc_db_conn *c, const char *user_id, const char *token_hash,
                                    int64_t now, bool *won, tc_err *err)
{
    const tc_dbv p[] = {TC_DBV_STR(token_hash), TC_DBV_STR(user_id), TC_DBV_I64(now)};
    int64_t affected = 0;
    tc_status st = tc_db_exec(c,
                              "UPDATE refresh_tokens SET rotated_at = $3 "
                              "WHERE token_hash = $1 AND user_id = $2 AND rotated_at IS NULL",
                              p, NP(p), &affected, err);
    *won = st == TC_OK && affected == 1;
    return st;
}
