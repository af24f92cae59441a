/* Cron schedules and their runs (see repo_schedules.h). */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/repo_jobs.h"
#include "store/repo_json.h"
#include "store/repo_schedules.h"

#define NP(a) (sizeof(a) / sizeof((a)[0]))

/* Selected (and RETURNING) columns in API shape; load() reads user_id and
 * connector_id after them. */
#define SCHED_COLS                                                                              \
    "id, name, cron, timezone, connector, tool, connection_id, arguments, enabled, overlap, " \
    "misfire, max_failures, consecutive_failures, next_run_at, last_run_at, last_job_id, "    \
    "paused_reason, created_at, updated_at"
#define SCHED_COLS_S                                                                           \
    "s.id, s.name, s.cron, s.timezone, s.connector, s.tool, s.connection_id, s.arguments, "  \
    "s.enabled, s.overlap, s.misfire, s.max_failures, s.consecutive_failures, "              \
    "s.next_run_at, s.last_run_at, s.last_job_id, s.paused_reason, s.created_at, "           \
    "s.updated_at"
#define SCHED_NCOLS 19

static const tc_col sched_cols[] = {
    {"id", TC_COL_TEXT},
    {"name", TC_COL_TEXT},
    {"cron", TC_COL_TEXT},
    {"timezone", TC_COL_TEXT},
    {"connector", TC_COL_TEXT},
    {"tool", TC_COL_TEXT},
    {"connection_id", TC_COL_TEXT},
    {"arguments", TC_COL_JSON},
    {"enabled", TC_COL_BOOL},
    {"overlap", TC_COL_TEXT},
    {"misfire", TC_COL_TEXT},
    {"max_failures", TC_COL_INT},
    {"consecutive_failures", TC_COL_INT},
    {"next_run_at", TC_COL_TIME},
    {"last_run_at", TC_COL_TIME},
    {"last_job_id", TC_COL_TEXT},
    {"paused_reason", TC_COL_TEXT},
    {"created_at", TC_COL_TIME},
    {"updated_at", TC_COL_TIME},
};

static void copy_text(char *dst, size_t cap, const char *s)
{
    size_t n = s ? strnlen(s, cap - 1) : 0;
    memcpy(dst, s ? s : "", n);
    dst[n] = '\0';
}

static tc_dbv opt_str(const char *s)
{
    return s && *s ? TC_DBV_STR(s) : TC_DBV_NULLV;
}

static tc_dbv opt_time(int64_t ms)
{
    return ms > 0 ? TC_DBV_I64(ms) : TC_DBV_NULLV;
}

void tc_repo_schedule_clear(tc_repo_schedule *s)
{
    json_decref(s->arguments);
    memset(s, 0, sizeof(*s));
}

/* The current row (SCHED_COLS, then user_id, connector_id) into out. */
static void row_to_struct(tc_db_rows *r, tc_repo_schedule *out)
{
    memset(out, 0, sizeof(*out));
    copy_text(out->id, sizeof(out->id), tc_db_rows_text(r, 0));
    copy_text(out->name, sizeof(out->name), tc_db_rows_text(r, 1));
    copy_text(out->cron, sizeof(out->cron), tc_db_rows_text(r, 2));
    copy_text(out->timezone, sizeof(out->timezone), tc_db_rows_text(r, 3));
    copy_text(out->connector, sizeof(out->connector), tc_db_rows_text(r, 4));
    copy_text(out->tool, sizeof(out->tool), tc_db_rows_text(r, 5));
    copy_text(out->connection_id, sizeof(out->connection_id), tc_db_rows_text(r, 6));
    out->arguments = json_loads(tc_db_rows_text(r, 7) ? tc_db_rows_text(r, 7) : "{}", 0, NULL);
    out->enabled = tc_db_rows_int(r, 8) != 0;
    copy_text(out->overlap, sizeof(out->overlap), tc_db_rows_text(r, 9));
    copy_text(out->misfire, sizeof(out->misfire), tc_db_rows_text(r, 10));
    out->max_failures = tc_db_rows_int(r, 11);
    out->consecutive_failures = tc_db_rows_int(r, 12);
    out->next_run_at = tc_db_rows_int(r, 13);
    out->last_run_at = tc_db_rows_int(r, 14);
    copy_text(out->last_job_id, sizeof(out->last_job_id), tc_db_rows_text(r, 15));
    copy_text(out->paused_reason, sizeof(out->paused_reason), tc_db_rows_text(r, 16));
    copy_text(out->user_id, sizeof(out->user_id), tc_db_rows_text(r, SCHED_NCOLS));
    copy_text(out->connector_id, sizeof(out->connector_id), tc_db_rows_text(r, SCHED_NCOLS + 1));
}

/* Runs a statement returning at most one schedule row (API shape) into
 * *row (may be NULL). TC_DECLINED: no row. */
static tc_status one_row(tc_db_conn *c, const char *sql, const tc_dbv *p, size_t n, json_t **row,
                         tc_err *err)
{
    tc_db_rows *r = NULL;
    tc_status st = tc_db_query(c, sql, p, n, &r, err);
    if (st != TC_OK)
        return st;
    if (!tc_db_rows_next(r))
        st = TC_DECLINED;
    else if (row)
        *row = tc_db_row_json(r, sched_cols, NP(sched_cols));
    tc_db_rows_free(r);
    return st;
}

static tc_status not_found(const char *id, tc_err *err)
{
    return tc_failf(err, TC_NOT_FOUND, "id", "no schedule %s", id);
}

tc_status tc_repo_schedule_insert(tc_db_conn *c, const tc_repo_schedule *s, int64_t now,
                                  json_t **row, tc_err *err)
{
    char *args = json_dumps(s->arguments ? s->arguments : json_object(), JSON_COMPACT);
    const tc_dbv p[] = {
        TC_DBV_STR(s->id),          TC_DBV_STR(s->user_id),     TC_DBV_STR(s->name),
        TC_DBV_STR(s->cron),        TC_DBV_STR(s->timezone),    opt_str(s->connector_id),
        TC_DBV_STR(s->connector),   TC_DBV_STR(s->tool),        opt_str(s->connection_id),
        TC_DBV_STR(args ? args : "{}"), TC_DBV_BOOL(s->enabled), TC_DBV_STR(s->overlap),
        TC_DBV_STR(s->misfire),     TC_DBV_I64(s->max_failures), opt_time(s->next_run_at),
        opt_str(s->paused_reason),  TC_DBV_I64(now),
    };
    tc_status st = one_row(c,
                           "INSERT INTO scheduler_jobs (id, user_id, name, cron, timezone, "
                           "connector_id, connector, tool, connection_id, arguments, enabled, "
                           "overlap, misfire, max_failures, next_run_at, paused_reason, "
                           "created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, "
                           "$10, $11, $12, $13, $14, $15, $16, $17, $17) RETURNING " SCHED_COLS,
                           p, NP(p), row, err);
    free(args);
    return st == TC_DECLINED ? tc_failf(err, TC_INTERNAL, NULL, "insert returned no row") : st;
}

tc_status tc_repo_schedule_update(tc_db_conn *c, const tc_repo_schedule *s, int64_t now,
                                  json_t **row, tc_err *err)
{
    char *args = json_dumps(s->arguments ? s->arguments : json_object(), JSON_COMPACT);
    const tc_dbv p[] = {
        TC_DBV_STR(s->id),          TC_DBV_STR(s->user_id),     TC_DBV_STR(s->name),
        TC_DBV_STR(s->cron),        TC_DBV_STR(s->timezone),    opt_str(s->connector_id),
        TC_DBV_STR(s->connector),   TC_DBV_STR(s->tool),        opt_str(s->connection_id),
        TC_DBV_STR(args ? args : "{}"), TC_DBV_BOOL(s->enabled), TC_DBV_STR(s->overlap),
        TC_DBV_STR(s->misfire),     TC_DBV_I64(s->max_failures),
        TC_DBV_I64(s->consecutive_failures), opt_time(s->next_run_at),
        opt_str(s->paused_reason),  TC_DBV_I64(now),
    };
    tc_status st = one_row(c,
                           "UPDATE scheduler_jobs SET name = $3, cron = $4, timezone = $5, "
                           "connector_id = $6, connector = $7, tool = $8, connection_id = $9, "
                           "arguments = $10, enabled = $11, overlap = $12, misfire = $13, "
                           "max_failures = $14, consecutive_failures = $15, next_run_at = $16, "
                           "paused_reason = $17, updated_at = $18 "
                           "WHERE id = $1 AND user_id = $2 RETURNING " SCHED_COLS,
                           p, NP(p), row, err);
    free(args);
    return st == TC_DECLINED ? not_found(s->id, err) : st;
}

#define LOAD_SQL                                                                                \
    "SELECT " SCHED_COLS ", user_id, connector_id FROM scheduler_jobs WHERE id = $1 AND user_id = $2"
static const char load_sqlite[] = LOAD_SQL;
static const char load_pg[] = LOAD_SQL " FOR UPDATE";

tc_status tc_repo_schedule_load(tc_db_conn *c, const char *user_id, const char *id,
                                tc_repo_schedule *out, tc_err *err)
{
    memset(out, 0, sizeof(*out));
    const tc_dbv p[] = {TC_DBV_STR(id), TC_DBV_STR(user_id)};
    tc_db_rows *r = NULL;
    /* PostgreSQL: the row stays locked until the caller's transaction ends,
     * so an edit can't lose a concurrent tick's or outcome's write. */
    const char *sql = tc_db_conn_kind(c) == TC_DB_POSTGRES ? load_pg : load_sqlite;
    tc_status st = tc_db_query(c, sql, p, NP(p), &r, err);
    if (st != TC_OK)
        return st;
    if (tc_db_rows_next(r))
        row_to_struct(r, out);
    else
        st = not_found(id, err);
    tc_db_rows_free(r);
    return st;
}

tc_status tc_repo_schedule_get(tc_db_conn *c, const char *user_id, const char *id, json_t **row,
                               tc_err *err)
{
    const tc_dbv p[] = {TC_DBV_STR(id), TC_DBV_STR(user_id)};
    tc_status st = one_row(c,
                           "SELECT " SCHED_COLS " FROM scheduler_jobs WHERE id = $1 AND user_id = $2",
                           p, NP(p), row, err);
    return st == TC_DECLINED ? not_found(id, err) : st;
}

tc_status tc_repo_schedule_delete(tc_db_conn *c, const char *user_id, const char *id, tc_err *err)
{
    const tc_dbv p[] = {TC_DBV_STR(id), TC_DBV_STR(user_id)};
    int64_t n = 0;
    tc_status st = tc_db_exec(c, "DELETE FROM scheduler_jobs WHERE id = $1 AND user_id = $2", p,
                              NP(p), &n, err);
    if (st == TC_OK && n == 0)
        return not_found(id, err);
    return st;
}

tc_status tc_repo_schedule_count(tc_db_conn *c, const char *user_id, int64_t *n, tc_err *err)
{
    const tc_dbv p[] = {TC_DBV_STR(user_id)};
    tc_db_rows *r = NULL;
    *n = 0;
    tc_status st = tc_db_query(c, "SELECT COUNT(*) FROM scheduler_jobs WHERE user_id = $1", p,
                               NP(p), &r, err);
    if (st == TC_OK && tc_db_rows_next(r))
        *n = tc_db_rows_int(r, 0);
    tc_db_rows_free(r);
    return st;
}

/* ---- pages ------------------------------------------------------------------ */

/* Collects up to limit rows; the last two columns are the sort key (ms) and
 * id; render(r) turns the others into an item. */
static tc_status page(tc_db_conn *c, const char *sql, const tc_dbv *p, size_t np,
                      json_t *(*render)(tc_db_rows *), int64_t limit, json_t **items, char **next,
                      tc_err *err)
{
    *next = NULL;
    tc_db_rows *r = NULL;
    tc_status st = tc_db_query(c, sql, p, np, &r, err);
    if (st != TC_OK)
        return st;
    json_t *arr = json_array();
    int kcol = tc_db_rows_ncols(r) - 2;
    int64_t last_ms = 0;
    char last_id[37] = "";
    bool more = false;
    while (tc_db_rows_next(r)) {
        if ((int64_t)json_array_size(arr) == limit) {
            more = true;
            break;
        }
        last_ms = tc_db_rows_int(r, kcol);
        copy_text(last_id, sizeof(last_id), tc_db_rows_text(r, kcol + 1));
        json_array_append_new(arr, render(r));
    }
    tc_db_rows_free(r);
    if (more)
        *next = tc_repo_cursor(last_ms, last_id);
    *items = arr;
    return TC_OK;
}

static json_t *render_schedule(tc_db_rows *r)
{
    return tc_db_row_json(r, sched_cols, NP(sched_cols));
}

static json_t *render_id(tc_db_rows *r)
{
    return json_string(tc_db_rows_text(r, 0));
}

tc_status tc_repo_schedule_list(tc_db_conn *c, const char *user_id, const char *cursor,
                                int64_t limit, json_t **items, char **next_cursor, tc_err *err)
{
    int64_t cms;
    char cid[37];
    tc_status st = tc_repo_parse_cursor(cursor, &cms, cid, err);
    if (st != TC_OK)
        return st;
    const tc_dbv p[] = {TC_DBV_STR(user_id), TC_DBV_I64(cms), TC_DBV_STR(cid),
                        TC_DBV_I64(limit + 1)};
    return page(c,
                "SELECT " SCHED_COLS ", created_at, id FROM scheduler_jobs WHERE user_id = $1 "
                "AND (created_at < $2 OR (created_at = $2 AND id < $3)) "
                "ORDER BY created_at DESC, id DESC LIMIT $4",
                p, NP(p), render_schedule, limit, items, next_cursor, err);
}

/* Job ids of one page, then each job in its API shape (repo_jobs.h owns
 * that shape; a page is at most TC_REPO_SCHEDULES_LIST_MAX point reads). */
tc_status tc_repo_schedule_runs(tc_db_conn *c, const char *user_id, const char *id,
                                const char *cursor, int64_t limit, json_t **items,
                                char **next_cursor, tc_err *err)
{
    int64_t cms;
    char cid[37];
    json_t *ids = NULL;
    tc_status st = tc_repo_parse_cursor(cursor, &cms, cid, err);
    if (st == TC_OK)
        st = tc_repo_schedule_get(c, user_id, id, NULL, err);
    if (st != TC_OK)
        return st;
    /* Ordered by the due time: the unique (schedule_id, scheduled_for)
     * index serves both the filter and the order. */
    const tc_dbv p[] = {TC_DBV_STR(id), TC_DBV_STR(user_id), TC_DBV_I64(cms), TC_DBV_STR(cid),
                        TC_DBV_I64(limit + 1)};
    st = page(c,
              "SELECT id, scheduled_for, id FROM pipeline_jobs WHERE schedule_id = $1 "
              "AND user_id = $2 AND (scheduled_for < $3 OR (scheduled_for = $3 AND id < $4)) "
              "ORDER BY scheduled_for DESC, id DESC LIMIT $5",
              p, NP(p), render_id, limit, &ids, next_cursor, err);
    if (st != TC_OK)
        return st;
    json_t *arr = json_array();
    for (size_t i = 0; st == TC_OK && i < json_array_size(ids); i++) {
        json_t *job = NULL;
        st = tc_repo_job_get(c, user_id, json_string_value(json_array_get(ids, i)), &job, err);
        if (st == TC_OK)
            json_array_append_new(arr, job);
    }
    json_decref(ids);
    if (st != TC_OK) {
        json_decref(arr);
        free(*next_cursor);
        *next_cursor = NULL;
        return st;
    }
    *items = arr;
    return TC_OK;
}

/* ---- the engine --------------------------------------------------------------- */

#define DUE_SQL                                                                                \
    "SELECT " SCHED_COLS_S ", s.user_id, s.connector_id, "                                      \
    "CASE WHEN j.status IN ('queued', 'running') THEN 1 ELSE 0 END "                             \
    "FROM scheduler_jobs s LEFT JOIN pipeline_jobs j ON j.id = s.last_job_id "                   \
    "WHERE s.enabled = 1 AND s.next_run_at <= $1 ORDER BY s.next_run_at LIMIT $2"
static const char due_sqlite[] = DUE_SQL;
static const char due_pg[] = DUE_SQL " FOR UPDATE OF s SKIP LOCKED";

tc_status tc_repo_schedules_due(tc_db_conn *c, int64_t now, size_t max, tc_repo_schedule *out,
                                size_t *n, tc_err *err)
{
    *n = 0;
    const tc_dbv p[] = {TC_DBV_I64(now), TC_DBV_I64((int64_t)max)};
    const char *sql = tc_db_conn_kind(c) == TC_DB_POSTGRES ? due_pg : due_sqlite;
    tc_db_rows *r = NULL;
    tc_status st = tc_db_query(c, sql, p, NP(p), &r, err);
    if (st != TC_OK)
        return st;
    while (*n < max && tc_db_rows_next(r)) {
        row_to_struct(r, &out[*n]);
        out[*n].running = tc_db_rows_int(r, SCHED_NCOLS + 2) != 0;
        (*n)++;
    }
    tc_db_rows_free(r);
    return TC_OK;
}

tc_status tc_repo_schedules_next_due(tc_db_conn *c, int64_t *next, tc_err *err)
{
    tc_db_rows *r = NULL;
    *next = 0;
    tc_status st = tc_db_query(c, "SELECT MIN(next_run_at) FROM scheduler_jobs WHERE enabled = 1",
                               NULL, 0, &r, err);
    if (st == TC_OK && tc_db_rows_next(r))
        *next = tc_db_rows_int(r, 0);
    tc_db_rows_free(r);
    return st;
}

tc_status tc_repo_schedule_advance(tc_db_conn *c, const char *id, int64_t expected, int64_t next,
                                   int64_t ran_at, const char *job_id, int64_t now, tc_err *err)
{
    const tc_dbv p[] = {TC_DBV_STR(id),     TC_DBV_I64(expected), opt_time(next),
                        TC_DBV_I64(ran_at), TC_DBV_STR(job_id),   TC_DBV_I64(now)};
    int64_t n = 0;
    tc_status st = tc_db_exec(c,
                              "UPDATE scheduler_jobs SET next_run_at = $3, "
                              "last_run_at = CASE WHEN $4 > 0 THEN $4 ELSE last_run_at END, "
                              "last_job_id = CASE WHEN $4 > 0 THEN CAST($5 AS TEXT) "
                              "ELSE last_job_id END, updated_at = $6 "
                              "WHERE id = $1 AND next_run_at = $2 AND enabled = 1",
                              p, NP(p), &n, err);
    return st == TC_OK && n == 0 ? TC_DECLINED : st;
}

/* Rows per statement: 16, 4 or 1 (few SQL texts for the statement
 * caches, few parameters per statement). */
#define STEP_NSIZES 3
static const size_t step_sizes[STEP_NSIZES] = {16, 4, 1};
static char *step_texts[2][STEP_NSIZES]; /* [postgres][size] */
static pthread_once_t step_once = PTHREAD_ONCE_INIT;

static size_t step_chunk(size_t left)
{
    for (size_t i = 0; i < STEP_NSIZES; i++)
        if (left >= step_sizes[i])
            return step_sizes[i];
    return 1;
}

#define STEP_NP 5

/* "WITH v(...) AS (VALUES ...) UPDATE ... FROM v" (SQLite >= 3.33,
 * PostgreSQL): ~32K instructions a schedule on SQLite, against ~56K for one
 * UPDATE per schedule. PostgreSQL needs the casts to type the VALUES
 * columns; SQLite does without them (4 % fewer instructions). */
static char *advance_sql(size_t m, bool pg)
{
    static const char head[] = "WITH v (id, ex, nx, ran, job) AS (VALUES ";
    static const char set[] =
        ") UPDATE scheduler_jobs SET next_run_at = v.nx, "
        "last_run_at = CASE WHEN v.ran > 0 THEN v.ran ELSE last_run_at END, "
        "last_job_id = CASE WHEN v.ran > 0 THEN v.job ELSE last_job_id END, updated_at = $1 "
        "FROM v WHERE scheduler_jobs.id = v.id AND ";
    /* PostgreSQL: a condition the (enabled, next_run_at) index can't serve,
     * so the primary key is the only way in. With stale statistics (just
     * after 10,000 schedules were created, all due at the same second) the
     * planner took that index and scanned every due row for each one. */
    const char *tail = pg ? "(scheduler_jobs.next_run_at, scheduler_jobs.enabled) "
                            "IS NOT DISTINCT FROM (v.ex, 1)"
                          : "scheduler_jobs.next_run_at = v.ex AND scheduler_jobs.enabled = 1";
    size_t cap = sizeof(head) + sizeof(set) + strlen(tail) + m * 128;
    char *sql = tc_malloc(cap);
    size_t len = (size_t)snprintf(sql, cap, "%s", head);
    for (size_t r = 0; r < m; r++) {
        size_t p = 2 + r * STEP_NP;
        if (pg)
            len += (size_t)snprintf(sql + len, cap - len,
                                    "%s(CAST($%zu AS TEXT), CAST($%zu AS BIGINT), "
                                    "CAST($%zu AS BIGINT), CAST($%zu AS BIGINT), CAST($%zu AS TEXT))",
                                    r ? ", " : "", p, p + 1, p + 2, p + 3, p + 4);
        else
            len += (size_t)snprintf(sql + len, cap - len, "%s($%zu, $%zu, $%zu, $%zu, $%zu)",
                                    r ? ", " : "", p, p + 1, p + 2, p + 3, p + 4);
    }
    snprintf(sql + len, cap - len, "%s%s", set, tail);
    return sql;
}

static void step_texts_init(void)
{
    for (int pg = 0; pg < 2; pg++)
        for (size_t i = 0; i < STEP_NSIZES; i++)
            step_texts[pg][i] = advance_sql(step_sizes[i], pg);
}

static const char *step_text(const tc_db_conn *c, size_t m)
{
    pthread_once(&step_once, step_texts_init);
    int pg = tc_db_conn_kind(c) == TC_DB_POSTGRES;
    for (size_t i = 0; i < STEP_NSIZES; i++)
        if (step_sizes[i] == m)
            return step_texts[pg][i];
    return NULL;
}

static tc_status advance_chunk(tc_db_conn *c, const tc_repo_schedule_step *v, size_t m,
                               int64_t now, size_t *advanced, tc_err *err)
{
    const char *sql = step_text(c, m);
    tc_dbv *p = tc_calloc(1 + m * STEP_NP, sizeof(*p));
    p[0] = TC_DBV_I64(now);
    for (size_t r = 0; r < m; r++) {
        tc_dbv *q = p + 1 + r * STEP_NP;
        q[0] = TC_DBV_STR(v[r].id);
        q[1] = TC_DBV_I64(v[r].expected);
        q[2] = opt_time(v[r].next);
        q[3] = TC_DBV_I64(v[r].ran_at);
        q[4] = v[r].ran_at > 0 ? TC_DBV_STR(v[r].job_id) : TC_DBV_NULLV;
    }
    int64_t n = 0;
    tc_status st = tc_db_exec(c, sql, p, 1 + m * STEP_NP, &n, err);
    if (st == TC_OK)
        *advanced += (size_t)n;
    free(p);
    return st;
}

tc_status tc_repo_schedules_advance(tc_db_conn *c, const tc_repo_schedule_step *v, size_t n,
                                    int64_t now, size_t *advanced, tc_err *err)
{
    tc_status st = TC_OK;
    *advanced = 0;
    for (size_t i = 0; st == TC_OK && i < n;) {
        size_t m = step_chunk(n - i);
        st = advance_chunk(c, v + i, m, now, advanced, err);
        i += m;
    }
    return st;
}

tc_status tc_repo_schedule_ran(tc_db_conn *c, const char *user_id, const char *id,
                               int64_t ran_at, const char *job_id, int64_t now, tc_err *err)
{
    const tc_dbv p[] = {TC_DBV_STR(id), TC_DBV_STR(user_id), TC_DBV_I64(ran_at),
                        TC_DBV_STR(job_id), TC_DBV_I64(now)};
    int64_t n = 0;
    tc_status st = tc_db_exec(c,
                              "UPDATE scheduler_jobs SET last_run_at = $3, last_job_id = $4, "
                              "updated_at = $5 WHERE id = $1 AND user_id = $2",
                              p, NP(p), &n, err);
    return st == TC_OK && n == 0 ? not_found(id, err) : st;
}

tc_status tc_repo_schedule_outcome_add(tc_db_conn *c, const char *id, bool failed, int64_t now,
                                       tc_repo_schedule_outcome *out, tc_err *err)
{
    memset(out, 0, sizeof(*out));
    const tc_dbv p[] = {TC_DBV_STR(id), TC_DBV_BOOL(failed), TC_DBV_I64(now)};
    tc_db_rows *r = NULL;
    tc_status st = tc_db_query(c,
                               "UPDATE scheduler_jobs SET consecutive_failures = CASE WHEN $2 = 1 "
                               "THEN consecutive_failures + 1 ELSE 0 END, updated_at = $3 "
                               "WHERE id = $1 RETURNING user_id, name, enabled, "
                               "consecutive_failures, max_failures",
                               p, NP(p), &r, err);
    if (st != TC_OK)
        return st;
    if (tc_db_rows_next(r)) {
        copy_text(out->user_id, sizeof(out->user_id), tc_db_rows_text(r, 0));
        copy_text(out->name, sizeof(out->name), tc_db_rows_text(r, 1));
        out->enabled = tc_db_rows_int(r, 2) != 0;
        out->consecutive_failures = tc_db_rows_int(r, 3);
        out->max_failures = tc_db_rows_int(r, 4);
    } else {
        st = not_found(id, err);
    }
    tc_db_rows_free(r);
    return st;
}

tc_status tc_repo_schedule_auto_pause(tc_db_conn *c, const char *id, const char *reason,
                                      int64_t now, json_t **row, tc_err *err)
{
    const tc_dbv p[] = {TC_DBV_STR(id), TC_DBV_STR(reason), TC_DBV_I64(now)};
    return one_row(c,
                   "UPDATE scheduler_jobs SET enabled = 0, next_run_at = NULL, paused_reason = $2, "
                   "updated_at = $3 WHERE id = $1 AND enabled = 1 RETURNING " SCHED_COLS,
                   p, NP(p), row, err);
}
