/* Jobs, job events and action logs (see repo_jobs.h). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/repo_jobs.h"
#include "store/repo_json.h"

#define NP(a) (sizeof(a) / sizeof((a)[0]))

/* Selected (and RETURNING) columns of a job in API shape; the progress
 * columns are REAL and rendered by hand (job_row). */
#define JOB_COLS                                                                              \
    "id, connector, tool, connection_id, status, arguments, result, error, queued_at, "     \
    "started_at, finished_at, schedule_id, scheduled_for, timeout_ms, progress, "           \
    "progress_total, progress_message"
#define JOB_NCOLS 17

static const tc_col job_cols[] = {
    {"id", TC_COL_TEXT},          {"connector", TC_COL_TEXT},    {"tool", TC_COL_TEXT},
    {"connection_id", TC_COL_TEXT}, {"status", TC_COL_TEXT},     {"arguments", TC_COL_JSON},
    {"result", TC_COL_JSON},      {"error", TC_COL_JSON},        {"queued_at", TC_COL_TIME},
    {"started_at", TC_COL_TIME},  {"finished_at", TC_COL_TIME},  {"schedule_id", TC_COL_TEXT},
    {"scheduled_for", TC_COL_TIME}, {"timeout_ms", TC_COL_INT},  {"progress", TC_COL_SKIP},
    {"progress_total", TC_COL_SKIP}, {"progress_message", TC_COL_TEXT},
};

static json_t *real_or_null(tc_db_rows *r, int col)
{
    return tc_db_rows_isnull(r, col) ? json_null() : json_real(tc_db_rows_real(r, col));
}

static json_t *job_row(tc_db_rows *r)
{
    json_t *o = tc_db_row_json(r, job_cols, NP(job_cols));
    json_object_set_new(o, "progress", real_or_null(r, 14));
    json_object_set_new(o, "progress_total", real_or_null(r, 15));
    return o;
}

/* The JSON columns a writer already holds as values: rendered from them
 * (new references to the same values) instead of parsing the stored text
 * back. NULL members are read from the row. */
typedef struct known_json {
    const json_t *arguments, *result, *error;
} known_json;

static const tc_col job_cols_known[] = {
    {"id", TC_COL_TEXT},          {"connector", TC_COL_TEXT},    {"tool", TC_COL_TEXT},
    {"connection_id", TC_COL_TEXT}, {"status", TC_COL_TEXT},     {"arguments", TC_COL_SKIP},
    {"result", TC_COL_SKIP},      {"error", TC_COL_SKIP},        {"queued_at", TC_COL_TIME},
    {"started_at", TC_COL_TIME},  {"finished_at", TC_COL_TIME},  {"schedule_id", TC_COL_TEXT},
    {"scheduled_for", TC_COL_TIME}, {"timeout_ms", TC_COL_INT},  {"progress", TC_COL_SKIP},
    {"progress_total", TC_COL_SKIP}, {"progress_message", TC_COL_TEXT},
};

static json_t *json_col(tc_db_rows *r, int col, const json_t *known)
{
    if (known)
        return json_incref((json_t *)known);
    const char *t = tc_db_rows_text(r, col);
    json_t *v = t ? json_loads(t, JSON_DECODE_ANY, NULL) : NULL;
    return v ? v : json_null();
}

static json_t *job_row_known(tc_db_rows *r, const known_json *k)
{
    json_t *o = tc_db_row_json(r, job_cols_known, NP(job_cols_known));
    json_object_set_new(o, "arguments", json_col(r, 5, k->arguments));
    json_object_set_new(o, "result", json_col(r, 6, k->result));
    json_object_set_new(o, "error", json_col(r, 7, k->error));
    json_object_set_new(o, "progress", real_or_null(r, 14));
    json_object_set_new(o, "progress_total", real_or_null(r, 15));
    return o;
}

/* A job row in API shape from values the writer holds (no progress). */
typedef struct job_fields {
    const char *id, *connector, *tool, *connection_id, *status, *schedule_id;
    const json_t *arguments, *result, *error;
    int64_t queued_at, started_at, finished_at, scheduled_for, timeout_ms;
} job_fields;

static json_t *time_or_null(int64_t ms)
{
    if (ms <= 0)
        return json_null();
    char ts[32];
    tc_time_format(ms, ts);
    return json_string(ts);
}

static json_t *str_or_null(const char *s)
{
    return s && *s ? json_string(s) : json_null();
}

static json_t *val_or_null(const json_t *v)
{
    return v ? json_incref((json_t *)v) : json_null();
}

static json_t *job_json(const job_fields *f)
{
    json_t *o = json_object();
    json_object_set_new(o, "id", json_string(f->id));
    json_object_set_new(o, "connector", json_string(f->connector));
    json_object_set_new(o, "tool", json_string(f->tool));
    json_object_set_new(o, "connection_id", str_or_null(f->connection_id));
    json_object_set_new(o, "status", json_string(f->status));
    json_object_set_new(o, "arguments", val_or_null(f->arguments));
    json_object_set_new(o, "result", val_or_null(f->result));
    json_object_set_new(o, "error", val_or_null(f->error));
    json_object_set_new(o, "queued_at", time_or_null(f->queued_at));
    json_object_set_new(o, "started_at", time_or_null(f->started_at));
    json_object_set_new(o, "finished_at", time_or_null(f->finished_at));
    json_object_set_new(o, "schedule_id", str_or_null(f->schedule_id));
    json_object_set_new(o, "scheduled_for",
                        f->schedule_id && *f->schedule_id ? time_or_null(f->scheduled_for) : json_null());
    json_object_set_new(o, "timeout_ms", json_integer(f->timeout_ms));
    json_object_set_new(o, "progress_message", json_null());
    json_object_set_new(o, "progress", json_null());
    json_object_set_new(o, "progress_total", json_null());
    return o;
}

/* Runs a statement returning at most one job row. TC_DECLINED: no row. */
static tc_status one_job_known(tc_db_conn *c, const char *sql, const tc_dbv *p, size_t n,
                               const known_json *k, json_t **row, tc_err *err)
{
    tc_db_rows *r = NULL;
    tc_status st = tc_db_query(c, sql, p, n, &r, err);
    if (st != TC_OK)
        return st;
    if (tc_db_rows_next(r)) {
        if (row)
            *row = k ? job_row_known(r, k) : job_row(r);
    } else {
        st = TC_DECLINED;
    }
    tc_db_rows_free(r);
    return st;
}

static tc_status one_job(tc_db_conn *c, const char *sql, const tc_dbv *p, size_t n, json_t **row,
                         tc_err *err)
{
    return one_job_known(c, sql, p, n, NULL, row, err);
}

tc_status tc_repo_job_insert(tc_db_conn *c, const tc_repo_job_new *n, int64_t now, json_t **row,
                             tc_err *err)
{
    int64_t timeout = n->timeout_ms > 0 ? n->timeout_ms : 60000;
    const tc_dbv p[] = {
        TC_DBV_STR(n->id),
        TC_DBV_STR(n->user_id),
        TC_DBV_STR(n->connector_id),
        TC_DBV_STR(n->connector),
        TC_DBV_STR(n->tool),
        TC_DBV_STR(n->connection_id),
        TC_DBV_STR(n->arguments ? n->arguments : "{}"),
        TC_DBV_I64(timeout),
        TC_DBV_STR(n->schedule_id),
        n->schedule_id ? TC_DBV_I64(n->scheduled_for) : TC_DBV_NULLV,
        TC_DBV_I64(now),
        TC_DBV_STR(n->worker_id ? "running" : "queued"),
        n->worker_id ? TC_DBV_I64(now) : TC_DBV_NULLV,
        TC_DBV_STR(n->worker_id),
    };
    int64_t affected = 0;
    tc_status st = tc_db_exec(c,
                              "INSERT INTO pipeline_jobs (id, user_id, connector_id, connector, tool, "
                              "connection_id, arguments, timeout_ms, schedule_id, scheduled_for, "
                              "queued_at, created_at, updated_at, status, started_at, claimed_at, "
                              "worker_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11, "
                              "$11, $12, $13, $13, $14) "
                              "ON CONFLICT (schedule_id, scheduled_for) DO NOTHING",
                              p, NP(p), &affected, err);
    if (st != TC_OK)
        return st;
    if (affected == 0)
        return tc_failf(err, TC_CONFLICT, "scheduled_for", "a job for this due time exists already");
    if (row)
        *row = tc_repo_job_row_new(n, now, n->worker_id != NULL);
    return TC_OK;
}

static void copy_text(char *dst, size_t cap, const char *s)
{
    snprintf(dst, cap, "%s", s ? s : "");
}

void tc_repo_job_claim_from_new(const tc_repo_job_new *n, int64_t now, tc_repo_job_claim *out)
{
    memset(out, 0, sizeof(*out));
    copy_text(out->id, sizeof(out->id), n->id);
    copy_text(out->user_id, sizeof(out->user_id), n->user_id);
    copy_text(out->connector_id, sizeof(out->connector_id), n->connector_id);
    copy_text(out->connector, sizeof(out->connector), n->connector);
    copy_text(out->tool, sizeof(out->tool), n->tool);
    copy_text(out->connection_id, sizeof(out->connection_id), n->connection_id);
    copy_text(out->schedule_id, sizeof(out->schedule_id), n->schedule_id);
    out->arguments = n->arguments_json ? json_incref((json_t *)n->arguments_json)
                                       : json_loads(n->arguments ? n->arguments : "{}", 0, NULL);
    if (!out->arguments)
        out->arguments = json_object();
    out->timeout_ms = n->timeout_ms > 0 ? n->timeout_ms : 60000;
    out->queued_at = out->started_at = now;
    out->scheduled_for = n->scheduled_for;
}

void tc_repo_job_claim_clear(tc_repo_job_claim *j)
{
    json_decref(j->arguments);
    memset(j, 0, sizeof(*j));
}

static const char claim_sqlite[] =
    "UPDATE pipeline_jobs SET status = 'running', started_at = $1, claimed_at = $1, "
    "worker_id = $2, updated_at = $1 WHERE id = (SELECT id FROM pipeline_jobs "
    "WHERE status = 'queued' ORDER BY queued_at, id LIMIT 1) AND status = 'queued' "
    "RETURNING " JOB_COLS ", user_id, connector_id, queued_at, scheduled_for";
static const char claim_pg[] =
    "UPDATE pipeline_jobs SET status = 'running', started_at = $1, claimed_at = $1, "
    "worker_id = $2, updated_at = $1 WHERE id = (SELECT id FROM pipeline_jobs "
    "WHERE status = 'queued' ORDER BY queued_at, id LIMIT 1 FOR UPDATE SKIP LOCKED) "
    "RETURNING " JOB_COLS ", user_id, connector_id, queued_at, scheduled_for";

/* Runs a claim statement and fills out and *row from its one row
 * (arguments: the caller's value, or parsed once from the row). */
static tc_status claim_run(tc_db_conn *c, const char *sql, const tc_dbv *p, size_t np,
                           int64_t now, const json_t *arguments, tc_repo_job_claim *out,
                           json_t **row, tc_err *err)
{
    memset(out, 0, sizeof(*out));
    tc_db_rows *r = NULL;
    tc_status st = tc_db_query(c, sql, p, np, &r, err);
    if (st != TC_OK)
        return st;
    if (!tc_db_rows_next(r)) {
        tc_db_rows_free(r);
        return TC_DECLINED;
    }
    copy_text(out->id, sizeof(out->id), tc_db_rows_text(r, 0));
    copy_text(out->connector, sizeof(out->connector), tc_db_rows_text(r, 1));
    copy_text(out->tool, sizeof(out->tool), tc_db_rows_text(r, 2));
    copy_text(out->connection_id, sizeof(out->connection_id), tc_db_rows_text(r, 3));
    out->arguments = arguments ? json_incref((json_t *)arguments)
                               : json_loads(tc_db_rows_text(r, 5), 0, NULL);
    if (!out->arguments)
        out->arguments = json_object();
    const known_json k = {.arguments = out->arguments};
    out->timeout_ms = tc_db_rows_int(r, 13);
    out->started_at = now;
    out->queued_at = tc_db_rows_int(r, JOB_NCOLS + 2);
    copy_text(out->schedule_id, sizeof(out->schedule_id), tc_db_rows_text(r, 11));
    out->scheduled_for = tc_db_rows_int(r, JOB_NCOLS + 3);
    copy_text(out->user_id, sizeof(out->user_id), tc_db_rows_text(r, JOB_NCOLS));
    copy_text(out->connector_id, sizeof(out->connector_id), tc_db_rows_text(r, JOB_NCOLS + 1));
    *row = job_row_known(r, &k);
    tc_db_rows_free(r);
    return TC_OK;
}

tc_status tc_repo_job_claim_next(tc_db_conn *c, const char *worker_id, int64_t now,
                                 tc_repo_job_claim *out, json_t **row, tc_err *err)
{
    const tc_dbv p[] = {TC_DBV_I64(now), TC_DBV_STR(worker_id)};
    const char *sql = tc_db_conn_kind(c) == TC_DB_POSTGRES ? claim_pg : claim_sqlite;
    return claim_run(c, sql, p, NP(p), now, NULL, out, row, err);
}

tc_status tc_repo_job_finish(tc_db_conn *c, const char *id, const char *status,
                             const char *result, const char *error, int64_t now, json_t **row,
                             tc_err *err)
{
    return tc_repo_job_finish_known(c, &(tc_repo_job_end){.id = id, .status = status,
                                                          .result = result, .error = error},
                                    now, row, err);
}

/* The finish UPDATE without RETURNING: the row comes from the claim and
 * the outcome. */
static tc_status finish_from_claim(tc_db_conn *c, const tc_repo_job_end *e, int64_t now,
                                   json_t **row, tc_err *err)
{
    const tc_dbv p[] = {TC_DBV_STR(e->id), TC_DBV_STR(e->status), TC_DBV_STR(e->result),
                        TC_DBV_STR(e->error), TC_DBV_I64(now)};
    int64_t affected = 0;
    tc_status st = tc_db_exec(c,
                              "UPDATE pipeline_jobs SET status = $2, result = $3, error = $4, "
                              "finished_at = $5, updated_at = $5 WHERE id = $1 AND status = 'running'",
                              p, NP(p), &affected, err);
    if (st != TC_OK)
        return st;
    if (affected == 0)
        return tc_failf(err, TC_CONFLICT, NULL, "the job is no longer running");
    const tc_repo_job_claim *j = e->claim;
    if (row)
        *row = job_json(&(job_fields){.id = j->id, .connector = j->connector, .tool = j->tool,
                                      .connection_id = j->connection_id, .status = e->status,
                                      .schedule_id = j->schedule_id, .arguments = e->arguments_json,
                                      .result = e->result ? e->result_json : NULL,
                                      .error = e->error ? e->error_json : NULL,
                                      .queued_at = j->queued_at, .started_at = j->started_at,
                                      .finished_at = now, .scheduled_for = j->scheduled_for,
                                      .timeout_ms = j->timeout_ms});
    return TC_OK;
}

tc_status tc_repo_job_finish_known(tc_db_conn *c, const tc_repo_job_end *e, int64_t now,
                                   json_t **row, tc_err *err)
{
    const tc_dbv p[] = {TC_DBV_STR(e->id), TC_DBV_STR(e->status), TC_DBV_STR(e->result),
                        TC_DBV_STR(e->error), TC_DBV_I64(now)};
    const known_json k = {.arguments = e->arguments_json,
                          .result = e->result ? e->result_json : json_null(),
                          .error = e->error ? e->error_json : json_null()};
    const tc_repo_job_claim *j = e->claim;
    if (j && j->started_at > 0 && !j->progressed && e->arguments_json && (!e->result || e->result_json) &&
        (!e->error || e->error_json))
        return finish_from_claim(c, e, now, row, err);
    tc_status st = one_job_known(c,
                           "UPDATE pipeline_jobs SET status = $2, result = $3, error = $4, "
                           "finished_at = $5, updated_at = $5 WHERE id = $1 AND status = 'running' "
                           "RETURNING " JOB_COLS,
                           p, NP(p), &k, row, err);
    if (st == TC_DECLINED)
        return tc_failf(err, TC_CONFLICT, NULL, "the job is no longer running");
    return st;
}

tc_status tc_repo_job_cancel(tc_db_conn *c, const char *user_id, const char *id, int64_t now,
                             json_t **row, tc_err *err)
{
    /* No status guard: the trigger refuses finished jobs (TC_CONFLICT). */
    const tc_dbv p[] = {TC_DBV_STR(id), TC_DBV_STR(user_id), TC_DBV_I64(now)};
    tc_status st = one_job(c,
                           "UPDATE pipeline_jobs SET status = 'canceled', cancel_requested = 1, "
                           "error = '{\"code\":\"canceled\",\"message\":\"canceled by the user\"}', "
                           "finished_at = $3, updated_at = $3 WHERE id = $1 AND user_id = $2 "
                           "AND status <> 'canceled' RETURNING " JOB_COLS,
                           p, NP(p), row, err);
    if (st != TC_DECLINED)
        return st;
    json_t *cur = NULL;
    st = tc_repo_job_get(c, user_id, id, &cur, err);
    json_decref(cur);
    return st == TC_OK ? tc_failf(err, TC_CONFLICT, "id", "the job is canceled already") : st;
}

tc_status tc_repo_job_progress(tc_db_conn *c, const char *id, double progress, double total,
                               bool has_total, const char *message, int64_t now, json_t **row,
                               tc_err *err)
{
    const tc_dbv p[] = {TC_DBV_STR(id), {.type = TC_DBV_REAL, .d = progress},
                        has_total ? (tc_dbv){.type = TC_DBV_REAL, .d = total} : TC_DBV_NULLV,
                        TC_DBV_STR(message), TC_DBV_I64(now)};
    tc_status st = one_job(c,
                           "UPDATE pipeline_jobs SET progress = $2, progress_total = $3, "
                           "progress_message = $4, updated_at = $5 WHERE id = $1 "
                           "AND status = 'running' RETURNING " JOB_COLS,
                           p, NP(p), row, err);
    if (st == TC_DECLINED)
        return tc_failf(err, TC_CONFLICT, NULL, "the job is no longer running");
    return st;
}

static tc_status collect_ids(tc_db_conn *c, const char *sql, const tc_dbv *p, size_t np,
                             char (*ids)[37], size_t max, size_t *n, tc_err *err)
{
    *n = 0;
    tc_db_rows *r = NULL;
    tc_status st = tc_db_query(c, sql, p, np, &r, err);
    if (st != TC_OK)
        return st;
    while (*n < max && tc_db_rows_next(r))
        copy_text(ids[(*n)++], 37, tc_db_rows_text(r, 0));
    tc_db_rows_free(r);
    return TC_OK;
}

tc_status tc_repo_jobs_stale(tc_db_conn *c, int64_t before, char (*ids)[37], size_t max,
                             size_t *n, tc_err *err)
{
    const tc_dbv p[] = {TC_DBV_I64(before)};
    return collect_ids(c,
                       "SELECT id FROM pipeline_jobs WHERE status = 'running' AND "
                       "COALESCE(claimed_at, 0) < $1 ORDER BY queued_at, id",
                       p, NP(p), ids, max, n, err);
}

tc_status tc_repo_job_owner(tc_db_conn *c, const char *id, char user_id[37], tc_err *err)
{
    char ids[1][37];
    size_t n = 0;
    const tc_dbv p[] = {TC_DBV_STR(id)};
    tc_status st = collect_ids(c, "SELECT user_id FROM pipeline_jobs WHERE id = $1", p, NP(p), ids,
                               1, &n, err);
    if (st == TC_OK && n == 0)
        st = tc_failf(err, TC_NOT_FOUND, "id", "no job %s", id);
    if (st == TC_OK)
        memcpy(user_id, ids[0], 37);
    return st;
}

tc_status tc_repo_jobs_renew(tc_db_conn *c, const char *worker_prefix, int64_t now, tc_err *err)
{
    char like[80];
    snprintf(like, sizeof(like), "%s%%", worker_prefix);
    const tc_dbv p[] = {TC_DBV_STR(like), TC_DBV_I64(now)};
    return tc_db_exec(c,
                      "UPDATE pipeline_jobs SET claimed_at = $2 WHERE status = 'running' AND "
                      "worker_id LIKE $1",
                      p, NP(p), NULL, err);
}

tc_status tc_repo_jobs_canceled_since(tc_db_conn *c, const char *worker_prefix, int64_t since,
                                      char (*ids)[37], size_t max, size_t *n, tc_err *err)
{
    char like[80];
    snprintf(like, sizeof(like), "%s%%", worker_prefix);
    const tc_dbv p[] = {TC_DBV_STR(like), TC_DBV_I64(since)};
    return collect_ids(c,
                       "SELECT id FROM pipeline_jobs WHERE status = 'canceled' AND "
                       "worker_id LIKE $1 AND finished_at >= $2",
                       p, NP(p), ids, max, n, err);
}

tc_status tc_repo_jobs_queued_any(tc_db_conn *c, bool *any, tc_err *err)
{
    tc_db_rows *r = NULL;
    tc_status st = tc_db_query(c, "SELECT 1 FROM pipeline_jobs WHERE status = 'queued' LIMIT 1",
                               NULL, 0, &r, err);
    if (st != TC_OK)
        return st;
    *any = tc_db_rows_next(r);
    tc_db_rows_free(r);
    return TC_OK;
}

tc_status tc_repo_jobs_queued_count(tc_db_conn *c, int64_t *n, tc_err *err)
{
    tc_db_rows *r = NULL;
    tc_status st = tc_db_query(c, "SELECT COUNT(*) FROM pipeline_jobs WHERE status = 'queued'",
                               NULL, 0, &r, err);
    if (st != TC_OK)
        return st;
    *n = tc_db_rows_next(r) ? tc_db_rows_int(r, 0) : 0;
    tc_db_rows_free(r);
    return TC_OK;
}

tc_status tc_repo_job_default_connection(tc_db_conn *c, const char *user_id,
                                         const char *connector_id, char out[37], tc_err *err)
{
    char ids[1][37];
    size_t n = 0;
    const tc_dbv p[] = {TC_DBV_STR(user_id), TC_DBV_STR(connector_id)};
    tc_status st = collect_ids(c,
                               "SELECT id FROM user_connections WHERE user_id = $1 AND "
                               "connector_id = $2 AND status = 'active' "
                               "ORDER BY created_at DESC, id DESC LIMIT 1",
                               p, NP(p), ids, 1, &n, err);
    if (st == TC_OK && n == 0)
        return tc_failf(err, TC_NOT_FOUND, "connection_id", "no active connection");
    if (st == TC_OK)
        memcpy(out, ids[0], 37);
    return st;
}

tc_status tc_repo_job_get(tc_db_conn *c, const char *user_id, const char *id, json_t **row,
                          tc_err *err)
{
    const tc_dbv p[] = {TC_DBV_STR(id), TC_DBV_STR(user_id)};
    tc_status st = one_job(c, "SELECT " JOB_COLS " FROM pipeline_jobs WHERE id = $1 AND user_id = $2",
                           p, NP(p), row, err);
    if (st == TC_DECLINED)
        return tc_failf(err, TC_NOT_FOUND, "id", "no job %s", id);
    return st;
}

/* The visibility rule of repo_connectors.c (VISIBLE there: the user's own
 * connector, else an enabled catalog one), written so that both backends
 * use the (COALESCE(owner_id, ''), slug) index: two point lookups instead
 * of a scan of every catalog connector. Keep in step with VISIBLE. */
tc_status tc_repo_job_target_get(tc_db_conn *c, const char *user_id, const char *slug,
                                 const char *tool, tc_repo_job_target *out, tc_err *err)
{
    memset(out, 0, sizeof(*out));
    const tc_dbv p[] = {TC_DBV_STR(user_id), TC_DBV_STR(slug), TC_DBV_STR(tool)};
    tc_db_rows *r = NULL;
    /* At most two rows (the user's own connector and a built-in one of the
     * same slug): the user's wins. Picked here rather than with ORDER BY,
     * which costs SQLite a temporary b-tree per query. */
    tc_status st = tc_db_query(c,
                               "SELECT c.id, t.id, t.updated_at, c.owner_id IS NULL FROM connectors c "
                               "LEFT JOIN connector_tools t ON t.connector_id = c.id AND t.name = $3 "
                               "WHERE COALESCE(c.owner_id, '') IN ('', $1) AND c.slug = $2 "
                               "AND (c.owner_id IS NOT NULL OR c.enabled = 1)",
                               p, NP(p), &r, err);
    if (st != TC_OK)
        return st;
    bool found = false;
    while (tc_db_rows_next(r)) {
        bool builtin = tc_db_rows_int(r, 3) != 0;
        if (found && builtin)
            continue;
        found = true;
        copy_text(out->connector_id, sizeof(out->connector_id), tc_db_rows_text(r, 0));
        copy_text(out->tool_id, sizeof(out->tool_id), tc_db_rows_text(r, 1));
        out->tool_updated_at = tc_db_rows_isnull(r, 2) ? 0 : tc_db_rows_int(r, 2);
    }
    if (!found)
        st = tc_failf(err, TC_NOT_FOUND, "slug", "no connector \"%s\"", slug);
    tc_db_rows_free(r);
    return st;
}

tc_status tc_repo_job_tool_version(tc_db_conn *c, const char *connector_id, const char *tool,
                                   char id[37], int64_t *updated_at, tc_err *err)
{
    const tc_dbv p[] = {TC_DBV_STR(connector_id), TC_DBV_STR(tool)};
    tc_db_rows *r = NULL;
    tc_status st = tc_db_query(c,
                               "SELECT id, updated_at FROM connector_tools "
                               "WHERE connector_id = $1 AND name = $2",
                               p, NP(p), &r, err);
    if (st != TC_OK)
        return st;
    if (tc_db_rows_next(r)) {
        copy_text(id, 37, tc_db_rows_text(r, 0));
        *updated_at = tc_db_rows_int(r, 1);
    } else {
        st = tc_failf(err, TC_NOT_FOUND, "tool", "no tool \"%s\" in this connector", tool);
    }
    tc_db_rows_free(r);
    return st;
}

/* Trims items to limit and builds the next cursor from the last kept row. */
static void page_cursor(json_t *items, int64_t limit, int64_t last_ms, const char *last_id,
                        char **next)
{
    *next = NULL;
    if ((int64_t)json_array_size(items) <= limit)
        return;
    json_array_remove(items, (size_t)limit);
    *next = tc_repo_cursor(last_ms, last_id);
}

/* Shared list runner: rows carry the sort key (ms) and id as their last two
 * columns, which are not rendered. */
static tc_status list_page(tc_db_conn *c, const char *sql, const tc_dbv *p, size_t np,
                           json_t *(*render)(tc_db_rows *), int64_t limit, json_t **items,
                           char **next, tc_err *err)
{
    tc_db_rows *r = NULL;
    tc_status st = tc_db_query(c, sql, p, np, &r, err);
    if (st != TC_OK)
        return st;
    json_t *arr = json_array();
    int64_t last_ms = 0;
    char last_id[37] = "";
    int kcol = tc_db_rows_ncols(r) - 2;
    while ((int64_t)json_array_size(arr) <= limit && tc_db_rows_next(r)) {
        if ((int64_t)json_array_size(arr) < limit) {
            last_ms = tc_db_rows_int(r, kcol);
            copy_text(last_id, sizeof(last_id), tc_db_rows_text(r, kcol + 1));
        }
        json_array_append_new(arr, render(r));
    }
    tc_db_rows_free(r);
    page_cursor(arr, limit, last_ms, last_id, next);
    *items = arr;
    return TC_OK;
}

tc_status tc_repo_job_list(tc_db_conn *c, const char *user_id, const tc_repo_job_filter *f,
                           json_t **items, char **next_cursor, tc_err *err)
{
    int64_t cms;
    char cid[37];
    tc_status st = tc_repo_parse_cursor(f->cursor, &cms, cid, err);
    if (st != TC_OK)
        return st;
    const tc_dbv p[] = {
        TC_DBV_STR(user_id),  TC_DBV_STR(f->status), TC_DBV_STR(f->connector),
        TC_DBV_STR(f->tool),  TC_DBV_I64(f->since),  TC_DBV_I64(f->until ? f->until : INT64_MAX),
        TC_DBV_I64(cms),      TC_DBV_STR(cid),       TC_DBV_I64(f->limit + 1),
    };
    return list_page(c,
                     "SELECT " JOB_COLS ", queued_at, id FROM pipeline_jobs WHERE user_id = $1 "
                     "AND (CAST($2 AS TEXT) IS NULL OR status = $2) "
                     "AND (CAST($3 AS TEXT) IS NULL OR connector = $3) "
                     "AND (CAST($4 AS TEXT) IS NULL OR tool = $4) "
                     "AND queued_at >= $5 AND queued_at < $6 "
                     "AND (queued_at < $7 OR (queued_at = $7 AND id < $8)) "
                     "ORDER BY queued_at DESC, id DESC LIMIT $9",
                     p, NP(p), job_row, f->limit, items, next_cursor, err);
}

/* ---- events ------------------------------------------------------------ */

static const tc_col event_cols[] = {
    {"id", TC_COL_INT},      {"job_id", TC_COL_TEXT}, {"level", TC_COL_TEXT},
    {"message", TC_COL_TEXT}, {"data", TC_COL_JSON},  {"created_at", TC_COL_TIME},
};

tc_status tc_repo_event_insert_text(tc_db_conn *c, const char *user_id, const char *job_id,
                                    const char *level, const char *message, const char *data,
                                    int64_t now, int64_t *id, tc_err *err)
{
    const tc_dbv p[] = {TC_DBV_STR(job_id), TC_DBV_STR(user_id), TC_DBV_STR(level),
                        TC_DBV_STR(message), TC_DBV_STR(data), TC_DBV_I64(now)};
    return tc_db_insert_id(c,
                           "INSERT INTO pipeline_events (job_id, user_id, level, message, "
                           "data, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
                           p, NP(p), id, err);
}

json_t *tc_repo_job_row_new(const tc_repo_job_new *n, int64_t now, bool running)
{
    json_t *args = n->arguments_json ? NULL : json_loads(n->arguments ? n->arguments : "{}", 0, NULL);
    json_t *row = job_json(&(job_fields){.id = n->id, .connector = n->connector, .tool = n->tool,
                                         .connection_id = n->connection_id,
                                         .status = running ? "running" : "queued",
                                         .schedule_id = n->schedule_id,
                                         .arguments = n->arguments_json ? n->arguments_json : args,
                                         .queued_at = now, .started_at = running ? now : 0,
                                         .scheduled_for = n->scheduled_for,
                                         .timeout_ms = n->timeout_ms > 0 ? n->timeout_ms : 60000});
    json_decref(args);
    return row;
}

/* The row is built from the inputs (only the id comes back). */
tc_status tc_repo_event_insert(tc_db_conn *c, const char *user_id, const char *job_id,
                               const char *level, const char *message, const char *data,
                               int64_t now, json_t **row, tc_err *err)
{
    int64_t id = 0;
    tc_status st = tc_repo_event_insert_text(c, user_id, job_id, level, message, data, now, &id, err);
    if (st != TC_OK)
        return st;
    json_t *d = data ? json_loads(data, JSON_DECODE_ANY, NULL) : NULL;
    char ts[32];
    tc_time_format(now, ts);
    *row = json_pack("{s:I, s:s, s:s, s:s?, s:o, s:s}", "id", (json_int_t)id, "job_id", job_id,
                     "level", level, "message", message, "data", d ? d : json_null(),
                     "created_at", ts);
    return TC_OK;
}

tc_status tc_repo_event_list(tc_db_conn *c, const char *user_id, const char *job_id, size_t max,
                             json_t **items, tc_err *err)
{
    const tc_dbv p[] = {TC_DBV_STR(job_id), TC_DBV_STR(user_id), TC_DBV_I64((int64_t)max)};
    return tc_db_query_json(c,
                            "SELECT id, job_id, level, message, data, created_at FROM "
                            "pipeline_events WHERE job_id = $1 AND user_id = $2 ORDER BY id LIMIT $3",
                            p, NP(p), event_cols, NP(event_cols), max, items, err);
}

/* ---- action log -------------------------------------------------------- */

tc_status tc_repo_action_log_insert(tc_db_conn *c, const tc_repo_action_log *l, int64_t now,
                                    tc_err *err)
{
    char id[37];
    tc_uuid7(id);
    const tc_dbv p[] = {
        TC_DBV_STR(id),          TC_DBV_STR(l->user_id),    TC_DBV_STR(l->job_id),
        TC_DBV_STR(l->connector), TC_DBV_STR(l->tool),      TC_DBV_STR(l->connection_id),
        TC_DBV_STR(l->status),   TC_DBV_I64(l->latency_ms), TC_DBV_STR(l->arguments),
        TC_DBV_STR(l->response), TC_DBV_STR(l->error),      TC_DBV_I64(now),
    };
    return tc_db_exec(c,
                      "INSERT INTO action_logs (id, user_id, job_id, connector, tool, "
                      "connection_id, status, latency_ms, arguments, response, error, created_at) "
                      "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
                      p, NP(p), NULL, err);
}

static const tc_col log_cols[] = {
    {"id", TC_COL_TEXT},        {"job_id", TC_COL_TEXT},     {"connector", TC_COL_TEXT},
    {"tool", TC_COL_TEXT},      {"connection_id", TC_COL_TEXT}, {"status", TC_COL_TEXT},
    {"latency_ms", TC_COL_INT}, {"arguments", TC_COL_JSON},  {"response", TC_COL_JSON},
    {"error", TC_COL_JSON},     {"created_at", TC_COL_TIME}, {"k_ms", TC_COL_SKIP},
    {"k_id", TC_COL_SKIP},
};

static json_t *log_row(tc_db_rows *r)
{
    return tc_db_row_json(r, log_cols, NP(log_cols));
}

tc_status tc_repo_action_log_list(tc_db_conn *c, const char *user_id, const tc_repo_job_filter *f,
                                  json_t **items, char **next_cursor, tc_err *err)
{
    int64_t cms;
    char cid[37];
    tc_status st = tc_repo_parse_cursor(f->cursor, &cms, cid, err);
    if (st != TC_OK)
        return st;
    const tc_dbv p[] = {
        TC_DBV_STR(user_id), TC_DBV_STR(f->connector), TC_DBV_STR(f->tool),
        TC_DBV_I64(f->since), TC_DBV_I64(f->until ? f->until : INT64_MAX), TC_DBV_I64(cms),
        TC_DBV_STR(cid),     TC_DBV_I64(f->limit + 1),
    };
    return list_page(c,
                     "SELECT id, job_id, connector, tool, connection_id, status, latency_ms, "
                     "arguments, response, error, created_at, created_at, id FROM action_logs "
                     "WHERE user_id = $1 AND (CAST($2 AS TEXT) IS NULL OR connector = $2) "
                     "AND (CAST($3 AS TEXT) IS NULL OR tool = $3) "
                     "AND created_at >= $4 AND created_at < $5 "
                     "AND (created_at < $6 OR (created_at = $6 AND id < $7)) "
                     "ORDER BY created_at DESC, id DESC LIMIT $8",
                     p, NP(p), log_row, f->limit, items, next_cursor, err);
}
