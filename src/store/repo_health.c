/* Health results and alert cooldowns (see repo_health.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/repo_health.h"
#include "store/repo_json.h"

#define NP(a) (sizeof(a) / sizeof((a)[0]))

static json_t *target_row(tc_db_rows *r)
{
    const char *def = tc_db_rows_text(r, 3);
    json_t *d = def ? json_loads(def, 0, NULL) : NULL;
    return json_pack("{s:s, s:s, s:s, s:o}", "id", tc_db_rows_text(r, 0), "slug",
                     tc_db_rows_text(r, 1), "name", tc_db_rows_text(r, 2), "definition",
                     d ? d : json_null());
}

static tc_status collect_targets(tc_db_conn *c, const char *sql, const tc_dbv *p, size_t n,
                                 json_t **out, tc_err *err)
{
    tc_db_rows *r = NULL;
    tc_status st = tc_db_query(c, sql, p, n, &r, err);
    if (st != TC_OK)
        return st;
    *out = json_array();
    while (tc_db_rows_next(r))
        json_array_append_new(*out, target_row(r));
    tc_db_rows_free(r);
    return TC_OK;
}

tc_status tc_repo_health_targets(tc_db_conn *c, json_t **out, tc_err *err)
{
    static const char sql[] =
        "SELECT c.id, c.slug, c.name, c.definition FROM connectors c WHERE c.enabled = 1 "
        "AND EXISTS (SELECT 1 FROM user_connections u WHERE u.connector_id = c.id "
        "AND u.status <> 'revoked') ORDER BY c.slug, c.id";
    return collect_targets(c, sql, NULL, 0, out, err);
}

tc_status tc_repo_health_target(tc_db_conn *c, const char *connector_id, json_t **out,
                                tc_err *err)
{
    static const char sql[] = "SELECT id, slug, name, definition FROM connectors WHERE id = $1";
    tc_dbv p[] = {TC_DBV_STR(connector_id)};
    tc_status st = collect_targets(c, sql, p, NP(p), out, err);
    if (st != TC_OK)
        return st;
    if (json_array_size(*out) == 0) {
        json_decref(*out);
        *out = NULL;
        return tc_failf(err, TC_NOT_FOUND, NULL, "connector not found");
    }
    json_t *one = json_incref(json_array_get(*out, 0));
    json_decref(*out);
    *out = one;
    return TC_OK;
}

tc_status tc_repo_health_last_status(tc_db_conn *c, const char *connector_id, char status[16],
                                     tc_err *err)
{
    static const char sql[] =
        "SELECT status FROM health_results WHERE connector_id = $1 "
        "ORDER BY checked_at DESC, id DESC LIMIT 1";
    tc_dbv p[] = {TC_DBV_STR(connector_id)};
    tc_db_rows *r = NULL;
    status[0] = '\0';
    tc_status st = tc_db_query(c, sql, p, NP(p), &r, err);
    if (st != TC_OK)
        return st;
    if (tc_db_rows_next(r))
        snprintf(status, 16, "%s", tc_db_rows_text(r, 0));
    tc_db_rows_free(r);
    return TC_OK;
}

tc_status tc_repo_health_insert(tc_db_conn *c, const tc_repo_health_result *res, int64_t *id,
                                tc_err *err)
{
    static const char sql[] =
        "INSERT INTO health_results (connector_id, status, latency_ms, error, checked_at) "
        "VALUES ($1, $2, $3, $4, $5) RETURNING id";
    tc_dbv p[] = {TC_DBV_STR(res->connector_id), TC_DBV_STR(res->status),
                  res->latency_ms >= 0 ? TC_DBV_I64(res->latency_ms) : TC_DBV_NULLV,
                  TC_DBV_STR(res->error), TC_DBV_I64(res->checked_at)};
    tc_db_rows *r = NULL;
    tc_status st = tc_db_query(c, sql, p, NP(p), &r, err);
    if (st != TC_OK)
        return st;
    int64_t v = tc_db_rows_next(r) ? tc_db_rows_int(r, 0) : 0;
    tc_db_rows_free(r);
    if (id)
        *id = v;
    return TC_OK;
}

tc_status tc_repo_health_users(tc_db_conn *c, const char *connector_id, json_t **out,
                               tc_err *err)
{
    static const char sql[] =
        "SELECT DISTINCT user_id FROM user_connections WHERE connector_id = $1 "
        "AND status <> 'revoked' ORDER BY user_id LIMIT 10000";
    tc_dbv p[] = {TC_DBV_STR(connector_id)};
    tc_db_rows *r = NULL;
    tc_status st = tc_db_query(c, sql, p, NP(p), &r, err);
    if (st != TC_OK)
        return st;
    *out = json_array();
    while (tc_db_rows_next(r))
        json_array_append_new(*out, json_string(tc_db_rows_text(r, 0)));
    tc_db_rows_free(r);
    return TC_OK;
}

tc_status tc_repo_health_cooldown_claim(tc_db_conn *c, const char *connector_id,
                                        const char *status, int64_t now, int64_t cooldown_ms,
                                        bool *claimed, tc_err *err)
{
    static const char sql[] =
        "INSERT INTO alert_cooldowns (connector_id, last_status, last_alert_at) "
        "VALUES ($1, $2, $3) ON CONFLICT (connector_id) DO UPDATE SET "
        "last_status = excluded.last_status, last_alert_at = excluded.last_alert_at "
        "WHERE alert_cooldowns.last_alert_at <= $4";
    tc_dbv p[] = {TC_DBV_STR(connector_id), TC_DBV_STR(status), TC_DBV_I64(now),
                  TC_DBV_I64(now - cooldown_ms)};
    int64_t n = 0;
    tc_status st = tc_db_exec(c, sql, p, NP(p), &n, err);
    *claimed = st == TC_OK && n == 1;
    return st;
}

static const tc_col result_cols[] = {
    {"connector", TC_COL_TEXT},  {"name", TC_COL_TEXT},       {"status", TC_COL_TEXT},
    {"latency_ms", TC_COL_INT},  {"error", TC_COL_TEXT},      {"checked_at", TC_COL_TIME},
    {"id", TC_COL_SKIP},
};

#define VISIBLE "(c.owner_id IS NULL OR c.owner_id = $1)"

tc_status tc_repo_health_latest(tc_db_conn *c, const char *user_id, json_t **out, tc_err *err)
{
    static const char sql[] =
        "SELECT c.slug, c.name, h.status, h.latency_ms, h.error, h.checked_at, h.id "
        "FROM connectors c JOIN health_results h ON h.connector_id = c.id "
        "WHERE " VISIBLE " AND h.id = (SELECT h2.id FROM health_results h2 "
        "WHERE h2.connector_id = c.id ORDER BY h2.checked_at DESC, h2.id DESC LIMIT 1) "
        "ORDER BY c.slug LIMIT 1000";
    tc_dbv p[] = {TC_DBV_STR(user_id)};
    return tc_db_query_json(c, sql, p, NP(p), result_cols, NP(result_cols), 1000, out, err);
}

static tc_status visible_id(tc_db_conn *c, const char *user_id, const char *slug, char id[37],
                            tc_err *err)
{
    static const char sql[] =
        "SELECT c.id FROM connectors c WHERE " VISIBLE " AND c.slug = $2 "
        "ORDER BY c.owner_id NULLS LAST LIMIT 1";
    tc_dbv p[] = {TC_DBV_STR(user_id), TC_DBV_STR(slug)};
    tc_db_rows *r = NULL;
    tc_status st = tc_db_query(c, sql, p, NP(p), &r, err);
    if (st != TC_OK)
        return st;
    st = tc_db_rows_next(r) ? TC_OK : tc_failf(err, TC_NOT_FOUND, NULL, "connector not found");
    if (st == TC_OK)
        snprintf(id, 37, "%s", tc_db_rows_text(r, 0));
    tc_db_rows_free(r);
    return st;
}

tc_status tc_repo_health_history(tc_db_conn *c, const char *user_id, const char *slug,
                                 const char *cursor, int64_t limit, json_t **items,
                                 char **next_cursor, tc_err *err)
{
    static const char sql[] =
        "SELECT CAST($1 AS TEXT), c.name, h.status, h.latency_ms, h.error, h.checked_at, h.id "
        "FROM health_results h JOIN connectors c ON c.id = h.connector_id "
        "WHERE h.connector_id = $2 AND h.id < $3 ORDER BY h.id DESC LIMIT $4";
    *items = NULL;
    *next_cursor = NULL;
    long long before = INT64_MAX;
    char *end = NULL;
    if (cursor && *cursor) {
        before = strtoll(cursor, &end, 10);
        if (!end || *end || before <= 0)
            return tc_failf(err, TC_BAD_REQUEST, "cursor", "cursor is not one this API returned");
    }
    char id[37];
    tc_status st = visible_id(c, user_id, slug, id, err);
    if (st != TC_OK)
        return st;
    tc_dbv p[] = {TC_DBV_STR(slug), TC_DBV_STR(id), TC_DBV_I64(before), TC_DBV_I64(limit + 1)};
    tc_db_rows *r = NULL;
    st = tc_db_query(c, sql, p, NP(p), &r, err);
    if (st != TC_OK)
        return st;
    *items = json_array();
    int64_t last = 0;
    while (tc_db_rows_next(r)) {
        if ((int64_t)json_array_size(*items) == limit) {
            *next_cursor = tc_asprintf("%lld", (long long)last);
            break;
        }
        json_array_append_new(*items, tc_db_row_json(r, result_cols, NP(result_cols)));
        last = tc_db_rows_int(r, 6);
    }
    tc_db_rows_free(r);
    return TC_OK;
}

tc_status tc_repo_health_prune(tc_db_conn *c, int64_t before_ms, int64_t *deleted, tc_err *err)
{
    static const char sql[] = "DELETE FROM health_results WHERE checked_at < $1";
    tc_dbv p[] = {TC_DBV_I64(before_ms)};
    return tc_db_exec(c, sql, p, NP(p), deleted, err);
}
