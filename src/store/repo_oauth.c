/* Repository: OAuth transactions, clients and the refresh columns of
 * user_connections (see repo_oauth.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/repo_oauth.h"

#define NP(a) (sizeof(a) / sizeof((a)[0]))

static char *dup_text(tc_db_rows *r, int col)
{
    return tc_strdup(tc_db_rows_text(r, col));
}

static unsigned char *dup_blob(tc_db_rows *r, int col, size_t *len)
{
    size_t n = 0;
    const void *b = tc_db_rows_blob(r, col, &n);
    *len = 0;
    if (!b || !n)
        return NULL;
    unsigned char *out = tc_malloc(n);
    memcpy(out, b, n);
    *len = n;
    return out;
}

static void copy_text(char *dst, size_t cap, tc_db_rows *r, int col)
{
    const char *s = tc_db_rows_text(r, col);
    snprintf(dst, cap, "%s", s ? s : "");
}

static void wipe_free(unsigned char *p, size_t n)
{
    if (p)
        memset(p, 0, n);
    free(p);
}

/* ---- clients ---- */

tc_status tc_repo_oauth_builtin(tc_db_conn *c, const char *slug, char id[37], json_t **definition,
                                tc_err *err)
{
    const tc_dbv p[] = {TC_DBV_STR(slug)};
    tc_db_rows *r = NULL;
    tc_status st = tc_db_query(c,
                               "SELECT id, definition FROM connectors WHERE owner_id IS NULL "
                               "AND slug = $1",
                               p, NP(p), &r, err);
    if (st != TC_OK)
        return st;
    if (!tc_db_rows_next(r)) {
        st = tc_failf(err, TC_NOT_FOUND, "slug", "no built-in connector %.64s", slug);
        goto out;
    }
    snprintf(id, 37, "%s", tc_db_rows_text(r, 0));
    const char *def = tc_db_rows_text(r, 1);
    *definition = def ? json_loads(def, 0, NULL) : NULL;
    if (!*definition)
        st = tc_failf(err, TC_INTERNAL, NULL, "connector %.64s has no stored definition", slug);
out:
    tc_db_rows_free(r);
    return st;
}

tc_status tc_repo_oauth_client_put(tc_db_conn *c, const char *connector_id, const char *client_id,
                                   const unsigned char *secret, size_t secret_len,
                                   const char *key_id, int64_t now, tc_err *err)
{
    char id[37];
    tc_uuid(id);
    const tc_dbv p[] = {
        TC_DBV_STR(id),
        TC_DBV_STR(connector_id),
        TC_DBV_STR(client_id),
        secret ? TC_DBV_BLOBV(secret, secret_len) : TC_DBV_NULLV,
        secret ? TC_DBV_STR(key_id) : TC_DBV_NULLV,
        TC_DBV_I64(now),
    };
    return tc_db_exec(c,
                      "INSERT INTO oauth_clients (id, connector_id, client_id, client_secret, "
                      "secret_key_id, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $6) "
                      "ON CONFLICT (connector_id) DO UPDATE SET client_id = excluded.client_id, "
                      "client_secret = excluded.client_secret, secret_key_id = "
                      "excluded.secret_key_id, updated_at = excluded.updated_at",
                      p, NP(p), NULL, err);
}

tc_status tc_repo_oauth_client_get(tc_db_conn *c, const char *connector_id,
                                   tc_repo_oauth_client *out, tc_err *err)
{
    memset(out, 0, sizeof(*out));
    const tc_dbv p[] = {TC_DBV_STR(connector_id)};
    tc_db_rows *r = NULL;
    tc_status st = tc_db_query(c,
                               "SELECT id, client_id, client_secret, updated_at FROM oauth_clients "
                               "WHERE connector_id = $1",
                               p, NP(p), &r, err);
    if (st != TC_OK)
        return st;
    if (!tc_db_rows_next(r)) {
        st = tc_failf(err, TC_NOT_FOUND, "connector", "no OAuth client is configured");
        goto out;
    }
    copy_text(out->row_id, sizeof(out->row_id), r, 0);
    out->client_id = dup_text(r, 1);
    out->secret = dup_blob(r, 2, &out->secret_len);
    out->updated_at = tc_db_rows_int(r, 3);
out:
    tc_db_rows_free(r);
    return st;
}

void tc_repo_oauth_client_clear(tc_repo_oauth_client *cl)
{
    free(cl->client_id);
    wipe_free(cl->secret, cl->secret_len);
    memset(cl, 0, sizeof(*cl));
}

/* ---- transactions ---- */

tc_status tc_repo_oauth_tx_insert(tc_db_conn *c, const tc_repo_oauth_tx *tx,
                                  const char *state_hash, const char *key_id, int64_t now,
                                  tc_err *err)
{
    const tc_dbv p[] = {
        TC_DBV_STR(tx->id),
        TC_DBV_STR(tx->user_id),
        TC_DBV_STR(tx->connector_id),
        TC_DBV_STR(tx->label),
        TC_DBV_STR(state_hash),
        TC_DBV_BLOBV(tx->verifier, tx->verifier_len),
        TC_DBV_STR(key_id),
        TC_DBV_STR(tx->redirect_uri),
        TC_DBV_STR(tx->scopes),
        TC_DBV_I64(tx->expires_at),
        TC_DBV_I64(now),
    };
    return tc_db_exec(c,
                      "INSERT INTO oauth_transactions (id, user_id, connector_id, label, "
                      "state_hash, code_verifier, secret_key_id, redirect_uri, scopes, status, "
                      "expires_at, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, "
                      "$8, $9, 'started', $10, $11, $11)",
                      p, NP(p), NULL, err);
}

tc_status tc_repo_oauth_tx_by_state(tc_db_conn *c, const char *state_hash, tc_repo_oauth_tx *out,
                                    tc_err *err)
{
    memset(out, 0, sizeof(*out));
    const tc_dbv p[] = {TC_DBV_STR(state_hash)};
    tc_db_rows *r = NULL;
    tc_status st = tc_db_query(c,
                               "SELECT id, user_id, connector_id, status, label, scopes, "
                               "redirect_uri, code_verifier, expires_at, completed_at "
                               "FROM oauth_transactions WHERE state_hash = $1",
                               p, NP(p), &r, err);
    if (st != TC_OK)
        return st;
    if (!tc_db_rows_next(r)) {
        st = tc_failf(err, TC_NOT_FOUND, "state", "unknown state");
        goto out;
    }
    copy_text(out->id, sizeof(out->id), r, 0);
    copy_text(out->user_id, sizeof(out->user_id), r, 1);
    copy_text(out->connector_id, sizeof(out->connector_id), r, 2);
    copy_text(out->status, sizeof(out->status), r, 3);
    out->label = dup_text(r, 4);
    out->scopes = dup_text(r, 5);
    out->redirect_uri = dup_text(r, 6);
    out->verifier = dup_blob(r, 7, &out->verifier_len);
    out->expires_at = tc_db_rows_int(r, 8);
    out->completed_at = tc_db_rows_int(r, 9);
out:
    tc_db_rows_free(r);
    return st;
}

void tc_repo_oauth_tx_clear(tc_repo_oauth_tx *tx)
{
    free(tx->label);
    free(tx->scopes);
    free(tx->redirect_uri);
    wipe_free(tx->verifier, tx->verifier_len);
    memset(tx, 0, sizeof(*tx));
}

tc_status tc_repo_oauth_tx_claim(tc_db_conn *c, const char *id, int64_t now, bool *claimed,
                                 tc_err *err)
{
    const tc_dbv p[] = {TC_DBV_STR(id), TC_DBV_I64(now)};
    int64_t affected = 0;
    tc_status st = tc_db_exec(c,
                              "UPDATE oauth_transactions SET completed_at = $2, updated_at = $2 "
                              "WHERE id = $1 AND status = 'started' AND completed_at IS NULL "
                              "AND expires_at > $2",
                              p, NP(p), &affected, err);
    *claimed = st == TC_OK && affected == 1;
    return st;
}

tc_status tc_repo_oauth_tx_finish(tc_db_conn *c, const char *id, const char *status,
                                  const char *error, const char *error_description,
                                  const char *connection_id, int64_t now, tc_err *err)
{
    const tc_dbv p[] = {TC_DBV_STR(id),    TC_DBV_STR(status),        TC_DBV_STR(error),
                        TC_DBV_STR(error_description), TC_DBV_STR(connection_id), TC_DBV_I64(now)};
    return tc_db_exec(c,
                      "UPDATE oauth_transactions SET status = $2, error = $3, "
                      "error_description = $4, connection_id = $5, "
                      "completed_at = COALESCE(completed_at, $6), updated_at = $6 WHERE id = $1",
                      p, NP(p), NULL, err);
}

tc_status tc_repo_oauth_tx_expire_old(tc_db_conn *c, int64_t now, tc_err *err)
{
    const tc_dbv p[] = {TC_DBV_I64(now)};
    return tc_db_exec(c,
                      "UPDATE oauth_transactions SET status = 'failed', error = 'expired', "
                      "updated_at = $1 WHERE status = 'started' AND expires_at <= $1",
                      p, NP(p), NULL, err);
}

/* ---- refresh ---- */

tc_status tc_repo_oauth_conn_get(tc_db_conn *c, const char *user_id, const char *id,
                                 tc_repo_oauth_conn *out, tc_err *err)
{
    memset(out, 0, sizeof(*out));
    const tc_dbv p[] = {TC_DBV_STR(user_id), TC_DBV_STR(id)};
    tc_db_rows *r = NULL;
    tc_status st = tc_db_query(c,
                               "SELECT uc.id, k.slug, k.auth_type, uc.status, uc.expires_at, "
                               "uc.refresh_version, uc.refresh_lock_until, uc.secret, uc.scopes "
                               "FROM user_connections uc JOIN connectors k ON k.id = "
                               "uc.connector_id WHERE uc.user_id = $1 AND uc.id = $2",
                               p, NP(p), &r, err);
    if (st != TC_OK)
        return st;
    if (!tc_db_rows_next(r)) {
        st = tc_failf(err, TC_NOT_FOUND, "connection_id", "no connection %.40s", id);
        goto out;
    }
    copy_text(out->id, sizeof(out->id), r, 0);
    copy_text(out->connector_slug, sizeof(out->connector_slug), r, 1);
    copy_text(out->auth_type, sizeof(out->auth_type), r, 2);
    copy_text(out->status, sizeof(out->status), r, 3);
    out->expires_at = tc_db_rows_int(r, 4);
    out->version = tc_db_rows_int(r, 5);
    out->lock_until = tc_db_rows_int(r, 6);
    out->secret = dup_blob(r, 7, &out->secret_len);
    out->scopes = dup_text(r, 8);
out:
    tc_db_rows_free(r);
    return st;
}

void tc_repo_oauth_conn_clear(tc_repo_oauth_conn *rc)
{
    wipe_free(rc->secret, rc->secret_len);
    free(rc->scopes);
    memset(rc, 0, sizeof(*rc));
}

tc_status tc_repo_oauth_lease(tc_db_conn *c, const char *user_id, const char *id, int64_t version,
                              const char *owner, int64_t until, int64_t now, bool *got,
                              tc_err *err)
{
    const tc_dbv p[] = {TC_DBV_STR(user_id), TC_DBV_STR(id), TC_DBV_I64(version),
                        TC_DBV_STR(owner),   TC_DBV_I64(until), TC_DBV_I64(now)};
    int64_t affected = 0;
    tc_status st = tc_db_exec(c,
                              "UPDATE user_connections SET refresh_lock_owner = $4, "
                              "refresh_lock_until = $5 WHERE user_id = $1 AND id = $2 "
                              "AND status = 'active' AND refresh_version = $3 AND "
                              "(refresh_lock_until IS NULL OR refresh_lock_until <= $6)",
                              p, NP(p), &affected, err);
    *got = st == TC_OK && affected == 1;
    return st;
}

tc_status tc_repo_oauth_lease_drop(tc_db_conn *c, const char *user_id, const char *id,
                                   const char *owner, tc_err *err)
{
    const tc_dbv p[] = {TC_DBV_STR(user_id), TC_DBV_STR(id), TC_DBV_STR(owner)};
    return tc_db_exec(c,
                      "UPDATE user_connections SET refresh_lock_owner = NULL, "
                      "refresh_lock_until = NULL WHERE user_id = $1 AND id = $2 "
                      "AND refresh_lock_owner = $3",
                      p, NP(p), NULL, err);
}

tc_status tc_repo_oauth_tokens_save(tc_db_conn *c, const char *user_id, const char *id,
                                    int64_t version, const unsigned char *secret,
                                    size_t secret_len, const char *key_id, int64_t expires_at,
                                    const char *scopes, int64_t now, bool *saved, tc_err *err)
{
    const tc_dbv p[] = {
        TC_DBV_STR(user_id),
        TC_DBV_STR(id),
        TC_DBV_I64(version),
        TC_DBV_BLOBV(secret, secret_len),
        TC_DBV_STR(key_id),
        expires_at ? TC_DBV_I64(expires_at) : TC_DBV_NULLV,
        TC_DBV_STR(scopes),
        TC_DBV_I64(now),
    };
    int64_t affected = 0;
    tc_status st = tc_db_exec(c,
                              "UPDATE user_connections SET secret = $4, secret_key_id = $5, "
                              "expires_at = $6, scopes = COALESCE($7, scopes), "
                              "refresh_version = refresh_version + 1, refresh_lock_owner = NULL, "
                              "refresh_lock_until = NULL, last_refreshed_at = $8, "
                              "status_reason = NULL, updated_at = $8 WHERE user_id = $1 "
                              "AND id = $2 AND refresh_version = $3 AND status = 'active'",
                              p, NP(p), &affected, err);
    *saved = st == TC_OK && affected == 1;
    return st;
}

tc_status tc_repo_oauth_expire(tc_db_conn *c, const char *user_id, const char *id,
                               int64_t version, const char *reason, int64_t now, bool *done,
                               tc_err *err)
{
    const tc_dbv p[] = {TC_DBV_STR(user_id), TC_DBV_STR(id), TC_DBV_I64(version),
                        TC_DBV_STR(reason), TC_DBV_I64(now)};
    int64_t affected = 0;
    tc_status st = tc_db_exec(c,
                              "UPDATE user_connections SET status = 'expired', status_reason = $4, "
                              "refresh_version = refresh_version + 1, refresh_lock_owner = NULL, "
                              "refresh_lock_until = NULL, updated_at = $5 WHERE user_id = $1 "
                              "AND id = $2 AND refresh_version = $3 AND status = 'active'",
                              p, NP(p), &affected, err);
    *done = st == TC_OK && affected == 1;
    return st;
}

tc_status tc_repo_oauth_due(tc_db_conn *c, int64_t before, int64_t now, int64_t limit,
                            json_t **out, tc_err *err)
{
    const tc_dbv p[] = {TC_DBV_I64(before), TC_DBV_I64(now), TC_DBV_I64(limit)};
    tc_db_rows *r = NULL;
    tc_status st = tc_db_query(c,
                               "SELECT uc.id, uc.user_id FROM user_connections uc JOIN "
                               "connectors k ON k.id = uc.connector_id WHERE uc.status = 'active' "
                               "AND uc.expires_at IS NOT NULL AND uc.expires_at <= $1 "
                               "AND k.auth_type = 'oauth2' AND (uc.refresh_lock_until IS NULL "
                               "OR uc.refresh_lock_until <= $2) ORDER BY uc.expires_at LIMIT $3",
                               p, NP(p), &r, err);
    if (st != TC_OK)
        return st;
    *out = json_array();
    while (tc_db_rows_next(r))
        json_array_append_new(*out, json_pack("{s:s, s:s}", "id", tc_db_rows_text(r, 0),
                                              "user_id", tc_db_rows_text(r, 1)));
    tc_db_rows_free(r);
    return TC_OK;
}

tc_status tc_repo_oauth_set_expiry(tc_db_conn *c, const char *user_id, const char *id,
                                   int64_t expires_at, tc_err *err)
{
    const tc_dbv p[] = {TC_DBV_STR(user_id), TC_DBV_STR(id), TC_DBV_I64(expires_at)};
    int64_t affected = 0;
    tc_status st = tc_db_exec(c,
                              "UPDATE user_connections SET expires_at = $3 WHERE user_id = $1 "
                              "AND id = $2",
                              p, NP(p), &affected, err);
    if (st == TC_OK && affected == 0)
        return tc_failf(err, TC_NOT_FOUND, "id", "no connection %.40s", id);
    return st;
}

tc_status tc_repo_oauth_tx_set_expiry(tc_db_conn *c, const char *user_id, const char *id,
                                      int64_t expires_at, tc_err *err)
{
    const tc_dbv p[] = {TC_DBV_STR(user_id), TC_DBV_STR(id), TC_DBV_I64(expires_at)};
    int64_t affected = 0;
    tc_status st = tc_db_exec(c,
                              "UPDATE oauth_transactions SET expires_at = $3 WHERE user_id = $1 "
                              "AND id = $2",
                              p, NP(p), &affected, err);
    if (st == TC_OK && affected == 0)
        return tc_failf(err, TC_NOT_FOUND, "id", "no transaction %.40s", id);
    return st;
}

tc_status tc_repo_oauth_connector_slug(tc_db_conn *c, const char *connector_id, char slug[65],
                                       tc_err *err)
{
    const tc_dbv p[] = {TC_DBV_STR(connector_id)};
    tc_db_rows *r = NULL;
    tc_status st = tc_db_query(c, "SELECT slug FROM connectors WHERE id = $1", p, NP(p), &r, err);
    if (st != TC_OK)
        return st;
    if (tc_db_rows_next(r))
        copy_text(slug, 65, r, 0);
    else
        st = tc_failf(err, TC_NOT_FOUND, "connector", "the connector was deleted");
    tc_db_rows_free(r);
    return st;
}
