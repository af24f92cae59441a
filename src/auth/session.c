/* Sessions: refresh rotation with reuse detection, logout, the request
 * authenticator, listing and revocation. */
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth/auth_int.h"

/* API keys' last_used_at is written at most this often per key, so that
 * authenticating with a key is a read, not a write, on the hot path. */
#define API_KEY_TOUCH_MS 60000

void tc_auth__wipe(void *p, size_t n)
{
    if (p)
        OPENSSL_cleanse(p, n);
}

/* ---- cursors ------------------------------------------------------------------ */

char *tc_auth__cursor_encode(int64_t created_at, const char *id)
{
    char raw[64];
    int n = snprintf(raw, sizeof raw, "%lld:%s", (long long)created_at, id);
    return tc_base64url_encode(raw, (size_t)n);
}

tc_status tc_auth__cursor_decode(const char *cursor, int64_t *created_at, char id[37],
                                 tc_err *err)
{
    unsigned char *raw = NULL;
    size_t n = 0;
    tc_status st = TC_BAD_REQUEST;
    size_t clen = strnlen(cursor, 129);
    if (clen > 128 || tc_base64url_decode(cursor, clen, &raw, &n) != TC_OK)
        goto out;
    char buf[64];
    if (n >= sizeof buf)
        goto out;
    memcpy(buf, raw, n);
    buf[n] = '\0';
    char *colon = strchr(buf, ':');
    if (!colon || !tc_uuid_valid(colon + 1))
        goto out;
    *colon = '\0';
    char *end = NULL;
    long long v = strtoll(buf, &end, 10);
    if (end == buf || *end)
        goto out;
    *created_at = v;
    snprintf(id, 37, "%s", colon + 1);
    st = TC_OK;
out:
    free(raw);
    if (st != TC_OK)
        tc_failf(err, TC_BAD_REQUEST, "cursor", "cursor is not valid");
    return st;
}

tc_status tc_auth__page_open(tc_auth__page *pg, int limit, const char *cursor, tc_err *err)
{
    memset(pg, 0, sizeof *pg);
    pg->limit = limit;
    if (limit < 1 || limit > TC_AUTH_LIST_MAX)
        return tc_failf(err, TC_BAD_REQUEST, "limit", "limit must be 1..%d", TC_AUTH_LIST_MAX);
    if (!cursor)
        return TC_OK;
    if (tc_auth__cursor_decode(cursor, &pg->after, pg->id_buf, err) != TC_OK)
        return TC_BAD_REQUEST;
    pg->after_id = pg->id_buf;
    return TC_OK;
}

int tc_auth__page_close(const tc_auth__page *pg, int got, int64_t last_created_at,
                        const char *last_id, char **next_cursor)
{
    if (got <= pg->limit)
        return got;
    *next_cursor = tc_auth__cursor_encode(last_created_at, last_id);
    return pg->limit;
}

/* ---- refresh ------------------------------------------------------------------ */

static tc_status bad_refresh(tc_err *err, const char *code, const char *msg)
{
    return tc_failc(err, TC_UNAUTHORIZED, code, NULL, "%s", msg);
}

static bool refresh_shape_ok(const char *t)
{
    if (!t || strlen(t) != TC_AUTH_REFRESH_LEN)
        return false;
    for (const char *p = t; *p; p++)
        if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
              (*p >= '0' && *p <= '9') || *p == '-' || *p == '_'))
            return false;
    return true;
}

/* A rotated token came back: someone holds a copy. Revoke the family. */
static tc_status reuse_detected(tc_db_conn *c, const tc_repo_refresh *rt, int64_t now,
                                tc_err *err)
{
    tc_err ignored;
    tc_repo_session_revoke(c, rt->user_id, rt->session_id, now, "refresh_token_reuse", &ignored);
    tc_log(TC_LOG_WARN, "refresh token reuse: session revoked", "user_id", rt->user_id,
           "session_id", rt->session_id, NULL);
    return bad_refresh(err, "refresh_token_reused",
                       "refresh token was already used; the session has been revoked");
}

/* Rotation inside one transaction. Returns TC_OK with out filled, or an
 * error; *commit tells whether the transaction must be committed even on
 * error (the reuse revocation must stick). */
static tc_status rotate(tc_auth *a, tc_db_conn *c, const char *hash, tc_repo_refresh *rt,
                        tc_auth_tokens *out, bool *commit, tc_err *err)
{
    int64_t now = tc_now_ms();
    bool won = false;
    tc_status st = tc_repo_refresh_find(c, hash, now, rt, err);
    if (st == TC_NOT_FOUND)
        return bad_refresh(err, "invalid_refresh_token", "refresh token is not valid");
    if (st != TC_OK)
        return st;
    if (rt->used_at != 0) {
        *commit = true;
        return reuse_detected(c, rt, now, err);
    }
    if (!rt->session_active)
        return bad_refresh(err, "session_revoked", "the session was revoked or has expired");
    if (rt->expires_at <= now)
        return bad_refresh(err, "refresh_token_expired", "refresh token expired");
    st = tc_repo_refresh_mark_used(c, rt->user_id, hash, now, &won, err);
    if (st == TC_OK && !won) { /* a concurrent rotation won: same as reuse */
        *commit = true;
        return reuse_detected(c, rt, now, err);
    }
    if (st == TC_OK)
        st = tc_repo_session_touch(c, rt->user_id, rt->session_id, now,
                                   now + a->refresh_ttl_s * 1000, err);
    if (st != TC_OK)
        return st;
    char nh[TC_AUTH_HASH_HEX_LEN + 1];
    tc_auth_refresh_token_new(out->refresh_token);
    tc_auth_token_hash(out->refresh_token, nh);
    return tc_repo_refresh_insert(c, rt->user_id, rt->session_id, nh, now,
                                  now + a->refresh_ttl_s * 1000, err);
}

tc_status tc_auth_refresh(tc_auth *a, const char *refresh_token, const tc_auth_client *cl,
                          tc_auth_tokens *out, tc_err *err)
{
    memset(out, 0, sizeof *out);
    if (!refresh_shape_ok(refresh_token))
        return bad_refresh(err, "invalid_refresh_token", "refresh token is not valid");
    char hash[TC_AUTH_HASH_HEX_LEN + 1];
    tc_repo_refresh rt;
    tc_repo_user u;
    bool commit = false;
    memset(&rt, 0, sizeof rt);
    tc_auth_token_hash(refresh_token, hash);
    tc_db_conn *c = tc_db_acquire(a->db);
    tc_status st = tc_db_begin(c, err);
    if (st != TC_OK)
        goto release;
    st = rotate(a, c, hash, &rt, out, &commit, err);
    if (st == TC_OK) {
        st = tc_repo_user_get(c, rt.user_id, &u, err);
        if (st == TC_NOT_FOUND) /* deleted meanwhile */
            st = bad_refresh(err, "invalid_refresh_token", "refresh token is not valid");
    }
    if (st == TC_OK || commit) {
        tc_err cerr;
        tc_status cst = tc_db_commit(c, &cerr);
        if (st == TC_OK && cst != TC_OK) {
            st = cst;
            *err = cerr;
        }
    } else {
        tc_db_rollback(c);
    }
release:
    tc_db_release(c);
    if (commit) /* reuse detected: the session was revoked */
        tc_auth_cache_forget_user(a, rt.user_id);
    if (st == TC_OK) {
        tc_auth__user_from_repo(&u, &out->user);
        st = tc_auth__issue_access(a, rt.user_id, rt.session_id, out);
    }
    if (st != TC_OK)
        tc_auth_tokens_clear(out);
    return st;
}

tc_status tc_auth_logout(tc_auth *a, const tc_auth_principal *p, tc_err *err)
{
    if (!p->session_id[0])
        return tc_failf(err, TC_BAD_REQUEST, NULL,
                        "logout ends a session; API keys are revoked with DELETE /api/api-keys/{id}");
    return tc_auth_session_revoke(a, p->user_id, p->session_id, err);
}

/* ---- authentication -------------------------------------------------------------- */

static tc_status unauthorized(tc_err *err, const char *code, const char *msg)
{
    return tc_failc(err, TC_UNAUTHORIZED, code, NULL, "%s", msg);
}

static tc_status auth_api_key(tc_auth *a, const char *key, size_t len, tc_auth_principal *out,
                              tc_err *err)
{
    if (!tc_auth_api_key_shape_ok(key, len))
        return unauthorized(err, "invalid_api_key", "API key is not valid");
    char hash[TC_AUTH_HASH_HEX_LEN + 1];
    tc_repo_api_key k;
    tc_auth_token_hash(key, hash);
    int64_t now = tc_now_ms();
    tc_db_conn *c = tc_db_acquire(a->db);
    tc_status st = tc_repo_api_key_by_hash(c, hash, now, &k, err);
    if (st == TC_OK && now - k.last_used_at >= API_KEY_TOUCH_MS) {
        tc_err ignored; /* bookkeeping only: never fail the request for it */
        tc_repo_api_key_touch(c, k.user_id, k.id, now, &ignored);
    }
    tc_db_release(c);
    if (st == TC_NOT_FOUND)
        return unauthorized(err, "invalid_api_key", "API key is not valid or was revoked");
    if (st != TC_OK)
        return st;
    snprintf(out->user_id, sizeof out->user_id, "%s", k.user_id);
    snprintf(out->api_key_id, sizeof out->api_key_id, "%s", k.id);
    out->is_admin = k.user_is_admin;
    snprintf(out->user.id, sizeof out->user.id, "%s", k.user_id);
    snprintf(out->user.email, sizeof out->user.email, "%s", k.user_email);
    out->user.created_at = k.user_created_at;
    out->user.is_admin = k.user_is_admin;
    return TC_OK;
}

/* Signature and claims first (no I/O), then one indexed lookup of the
 * session, so a revoked session's tokens stop working at once. */
static tc_status auth_jwt(tc_auth *a, const char *tok, size_t len, tc_auth_principal *out,
                          tc_err *err)
{
    tc_jwt_claims cl;
    tc_repo_user u;
    int64_t now = tc_now_ms();
    if (a->cache && tc_auth__cache_get(a->cache, tok, len, now, out))
        return TC_OK;
    uint64_t gen = a->cache ? tc_auth__cache_gen(a->cache) : 0;
    tc_status st = tc_auth_jwt_verify(a->jwt_key, tok, len, a->issuer, now / 1000, &cl, err);
    if (st != TC_OK)
        return st;
    tc_db_conn *c = tc_db_acquire(a->db);
    st = tc_repo_session_active(c, cl.sub, cl.sid, now, &u, err);
    tc_db_release(c);
    if (st == TC_NOT_FOUND)
        return unauthorized(err, "session_revoked", "the session was revoked or has expired");
    if (st != TC_OK)
        return st;
    snprintf(out->user_id, sizeof out->user_id, "%s", cl.sub);
    snprintf(out->session_id, sizeof out->session_id, "%s", cl.sid);
    out->is_admin = u.is_admin;
    tc_auth__user_from_repo(&u, &out->user);
    if (a->cache)
        tc_auth__cache_put(a->cache, gen, tok, len, cl.exp * 1000, now, out);
    return TC_OK;
}

tc_status tc_auth_authenticate(tc_auth *a, const char *authorization, tc_auth_principal *out,
                               tc_err *err)
{
    memset(out, 0, sizeof *out);
    if (!authorization || !*authorization)
        return TC_DECLINED;
    size_t n = strnlen(authorization, TC_AUTH_TOKEN_MAX + 16);
    if (n < 7 || strncasecmp(authorization, "Bearer ", 7) != 0)
        return unauthorized(err, "invalid_authorization",
                            "Authorization header must be \"Bearer <access token or API key>\"");
    const char *tok = authorization + 7;
    n -= 7;
    while (n > 0 && *tok == ' ') {
        tok++;
        n--;
    }
    while (n > 0 && tok[n - 1] == ' ')
        n--;
    if (n == 0)
        return unauthorized(err, "invalid_authorization", "bearer token is empty");
    if (n > TC_AUTH_TOKEN_MAX)
        return unauthorized(err, "invalid_token", "bearer token is too long");
    if (n >= 3 && !strncmp(tok, "tc_", 3)) {
        char key[TC_AUTH_API_KEY_LEN + 1];
        if (n != TC_AUTH_API_KEY_LEN)
            return unauthorized(err, "invalid_api_key", "API key is not valid");
        memcpy(key, tok, n);
        key[n] = '\0';
        tc_status st = auth_api_key(a, key, n, out, err);
        tc_auth__wipe(key, sizeof key);
        return st;
    }
    return auth_jwt(a, tok, n, out, err);
}

/* ---- listing and revocation --------------------------------------------------------- */

tc_status tc_auth_sessions_list(tc_auth *a, const tc_auth_principal *p, int limit,
                                const char *cursor, tc_auth_session **items, size_t *n,
                                char **next_cursor, tc_err *err)
{
    tc_auth__page pg;
    *items = NULL;
    *n = 0;
    *next_cursor = NULL;
    tc_status st = tc_auth__page_open(&pg, limit, cursor, err);
    if (st != TC_OK)
        return st;
    tc_repo_session *rows = tc_calloc((size_t)limit + 1, sizeof *rows);
    int got = 0;
    tc_db_conn *c = tc_db_acquire(a->db);
    st = tc_repo_session_list(c, p->user_id, tc_now_ms(), pg.after, pg.after_id, limit + 1, rows,
                              &got, err);
    tc_db_release(c);
    if (st != TC_OK)
        goto out;
    got = tc_auth__page_close(&pg, got, rows[limit - 1].created_at, rows[limit - 1].id,
                              next_cursor);
    *items = tc_calloc((size_t)(got ? got : 1), sizeof **items);
    for (int i = 0; i < got; i++) {
        tc_auth_session *s = &(*items)[i];
        snprintf(s->id, sizeof s->id, "%s", rows[i].id);
        s->created_at = rows[i].created_at;
        s->last_used_at = rows[i].last_used_at;
        s->expires_at = rows[i].expires_at;
        snprintf(s->user_agent, sizeof s->user_agent, "%s", rows[i].user_agent);
        snprintf(s->ip, sizeof s->ip, "%s", rows[i].ip);
        s->current = !strcmp(rows[i].id, p->session_id);
    }
    *n = (size_t)got;
out:
    tc_free(rows);
    return st;
}

tc_status tc_auth_session_revoke(tc_auth *a, const char *user_id, const char *session_id,
                                 tc_err *err)
{
    if (!session_id || !tc_uuid_valid(session_id))
        return tc_failf(err, TC_NOT_FOUND, NULL, "session not found");
    tc_db_conn *c = tc_db_acquire(a->db);
    tc_status st = tc_repo_session_revoke(c, user_id, session_id, tc_now_ms(), "revoked", err);
    tc_db_release(c);
    tc_auth_cache_forget_user(a, user_id);
    return st;
}
