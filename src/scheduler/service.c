/* service: the domain side of the schedule endpoints. Validates a schedule
 * as a whole on every save (cron, zone, a time it will fire, the connector
 * and tool visible to the user, the user's connection to that connector,
 * the arguments against the tool's input schema), computes next_run_at in
 * the scheduler's clock, and wakes the engine. No HTTP here. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scheduler/engine_int.h"
#include "store/repo_connectors.h"
#include "store/repo_jobs.h"
#include "store/repo_schedules.h"

#define MAX_FAILURES_MAX 1000
#define MAX_FAILURES_DEFAULT 5
#define PREVIEW_MAX 100

static tc_status need(const char *v, const char *name, tc_err *err)
{
    return v ? TC_OK : tc_failf(err, TC_VALIDATION, name, "%s is required", name);
}

/* Copies v into out[cap] unless absent; too long is a validation error. */
static tc_status take(const char *v, const char *name, char *out, size_t cap, tc_err *err)
{
    if (!v)
        return TC_OK;
    if (!*v)
        return tc_failf(err, TC_VALIDATION, name, "%s must not be empty", name);
    if (strlen(v) >= cap)
        return tc_failf(err, TC_VALIDATION, name, "%s must be at most %zu bytes", name, cap - 1);
    snprintf(out, cap, "%s", v);
    return TC_OK;
}

static tc_status one_of(const char *v, const char *a, const char *b, const char *name, char *out,
                        size_t cap, tc_err *err)
{
    if (!v)
        return TC_OK;
    if (strcmp(v, a) != 0 && strcmp(v, b) != 0)
        return tc_failf(err, TC_VALIDATION, name, "%s must be \"%s\" or \"%s\"", name, a, b);
    snprintf(out, cap, "%s", v);
    return TC_OK;
}

static bool has_control(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return true;
    return false;
}

/* The input's present fields over sc. */
static tc_status apply(const tc_sched_input *in, tc_repo_schedule *sc, tc_err *err)
{
    tc_status st = take(in->name, "name", sc->name, sizeof(sc->name), err);
    if (st == TC_OK && in->name && has_control(in->name))
        st = tc_failf(err, TC_VALIDATION, "name", "name must not contain control characters");
    if (st == TC_OK)
        st = take(in->cron, "cron", sc->cron, sizeof(sc->cron), err);
    if (st == TC_OK)
        st = take(in->timezone, "timezone", sc->timezone, sizeof(sc->timezone), err);
    if (st == TC_OK)
        st = take(in->connector, "connector", sc->connector, sizeof(sc->connector), err);
    if (st == TC_OK)
        st = take(in->tool, "tool", sc->tool, sizeof(sc->tool), err);
    if (st == TC_OK)
        st = take(in->connection_id, "connection_id", sc->connection_id, sizeof(sc->connection_id),
                  err);
    if (st == TC_OK)
        st = one_of(in->overlap, "skip", "allow", "overlap", sc->overlap, sizeof(sc->overlap), err);
    if (st == TC_OK)
        st = one_of(in->misfire, "run_once", "skip", "misfire", sc->misfire, sizeof(sc->misfire),
                    err);
    if (st != TC_OK)
        return st;
    if (in->has_max_failures && (in->max_failures < 0 || in->max_failures > MAX_FAILURES_MAX))
        return tc_failf(err, TC_VALIDATION, "max_failures",
                        "max_failures must be an integer from 0 (never pause) to %d",
                        MAX_FAILURES_MAX);
    if (in->arguments && !json_is_object(in->arguments))
        return tc_failf(err, TC_VALIDATION, "arguments", "arguments must be an object");
    if (in->has_max_failures)
        sc->max_failures = in->max_failures;
    if (in->has_enabled)
        sc->enabled = in->enabled;
    if (in->arguments) {
        json_decref(sc->arguments);
        sc->arguments = json_deep_copy(in->arguments);
    }
    return TC_OK;
}

/* Parses cron and zone (fail->cron on a cron error) and, when enabled, sets
 * next_run_at to the first due time after now. */
static tc_status schedule_next(tc_sched *s, tc_repo_schedule *sc, bool recompute,
                               tc_sched_fail *fail, tc_err *err)
{
    tc_cron cron;
    const tc_tz *tz = NULL;
    tc_status st = tc_sched__compile(sc->cron, sc->timezone, &cron, &tz, &fail->cron, err);
    fail->has_cron = st != TC_OK && !strcmp(err->field, "cron");
    if (st != TC_OK)
        return st;
    if (!sc->enabled) {
        sc->next_run_at = 0;
        return TC_OK;
    }
    if (!recompute && sc->next_run_at)
        return TC_OK;
    if (tc_cron_next(&cron, tz, tc_sched__now(s), &sc->next_run_at) != TC_OK)
        return tc_failf(err, TC_VALIDATION, "cron",
                        "the expression never fires again (no due time before the year 10000)");
    return TC_OK;
}

/* ---- connector, tool, connection, arguments ------------------------------- */

static tc_status validate_args(tc_sched *s, const json_t *tool, const json_t *args,
                               tc_sched_fail *fail, tc_err *err)
{
    char key[128];
    snprintf(key, sizeof(key), "%s:%" PRId64, json_string_value(json_object_get(tool, "id")),
             (int64_t)json_integer_value(json_object_get(tool, "updated_at")));
    tc_jsonschema *js =
        tc_jsonschema_cache_get(s->schemas, key, json_object_get(tool, "input_schema"), NULL, err);
    if (!js)
        return tc_failc(err, TC_CONFLICT, "tool_schema_invalid", "tool",
                        "the tool's input schema is invalid: %s", err->message);
    json_t *errors = NULL;
    json_t *empty = json_object();
    tc_status st = tc_jsonschema_validate(js, args ? args : empty, &errors);
    json_decref(empty);
    tc_jsonschema_free(js);
    if (st == TC_OK)
        return TC_OK;
    fail->details = errors;
    const json_t *first = json_array_get(errors, 0);
    const char *msg = json_string_value(json_object_get(first, "message"));
    const char *path = json_string_value(json_object_get(first, "path"));
    return tc_failf(err, TC_VALIDATION, "arguments",
                    "the arguments do not match the tool's input schema%s%s%s%s", msg ? ": " : "",
                    path && *path ? path : "", path && *path ? " " : "", msg ? msg : "");
}

static tc_status check_connection(tc_db_conn *c, const char *user, const tc_repo_connector *rc,
                                  tc_repo_schedule *sc, tc_err *err)
{
    if (!sc->connection_id[0]) {
        tc_status st = tc_repo_job_default_connection(c, user, rc->id, sc->connection_id, err);
        if (st == TC_NOT_FOUND)
            return tc_failf(err, TC_VALIDATION, "connection_id",
                            "you have no active connection to %s: connect an account first "
                            "(POST /api/connections) and pass its id as connection_id",
                            sc->connector);
        return st;
    }
    tc_repo_connection conn;
    tc_status st = tc_repo_connection_get(c, user, sc->connection_id, &conn, err);
    if (st == TC_NOT_FOUND)
        return tc_failf(err, TC_VALIDATION, "connection_id", "you have no connection %s",
                        sc->connection_id);
    if (st == TC_OK && strcmp(conn.connector_id, rc->id) != 0)
        st = tc_failf(err, TC_VALIDATION, "connection_id",
                      "connection %s belongs to %s, not %s", sc->connection_id,
                      conn.connector_slug, sc->connector);
    tc_repo_connection_clear(&conn);
    return st;
}

/* The connector visible to the user, its tool, the connection and the
 * arguments; fills sc->connector_id (and a default connection_id). */
static tc_status check_target(tc_sched *s, tc_db_conn *c, const char *user, tc_repo_schedule *sc,
                              tc_sched_fail *fail, tc_err *err)
{
    tc_repo_connector rc;
    json_t *tool = NULL;
    tc_status st = tc_repo_connector_get(c, user, sc->connector, &rc, err);
    if (st == TC_NOT_FOUND)
        return tc_failf(err, TC_VALIDATION, "connector", "there is no connector \"%s\"",
                        sc->connector);
    if (st != TC_OK)
        return st;
    st = tc_repo_connector_tool(c, rc.id, sc->tool, &tool, err);
    if (st == TC_NOT_FOUND)
        st = tc_failf(err, TC_VALIDATION, "tool", "connector \"%s\" has no tool \"%s\"",
                      sc->connector, sc->tool);
    if (st == TC_OK)
        st = check_connection(c, user, &rc, sc, err);
    if (st == TC_OK)
        st = validate_args(s, tool, sc->arguments, fail, err);
    if (st == TC_OK)
        snprintf(sc->connector_id, sizeof(sc->connector_id), "%s", rc.id);
    json_decref(tool);
    tc_repo_connector_clear(&rc);
    return st;
}

/* ---- endpoints ------------------------------------------------------------------ */

static void fail_clear(tc_sched_fail *fail)
{
    memset(fail, 0, sizeof(*fail));
}

static tc_status check_quota(tc_sched *s, tc_db_conn *c, const char *user, tc_err *err)
{
    int64_t n = 0;
    tc_status st = tc_repo_schedule_count(c, user, &n, err);
    if (st == TC_OK && n >= s->o.per_user_max)
        st = tc_failc(err, TC_CONFLICT, "too_many_schedules", NULL,
                      "you have %" PRId64 " schedules, the most allowed: delete one first", n);
    return st;
}

tc_status tc_sched_create(tc_sched *s, const char *user_id, const tc_sched_input *in,
                          json_t **row, tc_sched_fail *fail, tc_err *err)
{
    fail_clear(fail);
    tc_repo_schedule sc;
    memset(&sc, 0, sizeof(sc));
    tc_uuid(sc.id);
    snprintf(sc.user_id, sizeof(sc.user_id), "%s", user_id);
    snprintf(sc.timezone, sizeof(sc.timezone), "UTC");
    snprintf(sc.overlap, sizeof(sc.overlap), "skip");
    snprintf(sc.misfire, sizeof(sc.misfire), "run_once");
    sc.enabled = true;
    sc.max_failures = MAX_FAILURES_DEFAULT;
    sc.arguments = json_object();
    tc_status st = need(in->name, "name", err);
    if (st == TC_OK)
        st = need(in->cron, "cron", err);
    if (st == TC_OK)
        st = need(in->connector, "connector", err);
    if (st == TC_OK)
        st = need(in->tool, "tool", err);
    if (st == TC_OK)
        st = apply(in, &sc, err);
    if (st == TC_OK)
        st = schedule_next(s, &sc, true, fail, err);
    if (st == TC_OK) {
        tc_db_conn *c = tc_db_acquire(s->o.db);
        st = check_quota(s, c, user_id, err);
        if (st == TC_OK)
            st = check_target(s, c, user_id, &sc, fail, err);
        if (st == TC_OK)
            st = tc_repo_schedule_insert(c, &sc, tc_now_ms(), row, err);
        tc_db_release(c);
    }
    tc_repo_schedule_clear(&sc);
    if (st == TC_OK)
        tc_sched_wake(s);
    return st;
}

/* What changed between the stored schedule and the edited one. */
static bool timing_changed(const tc_repo_schedule *a, const tc_repo_schedule *b)
{
    return strcmp(a->cron, b->cron) || strcmp(a->timezone, b->timezone) || a->enabled != b->enabled;
}

static bool target_touched(const tc_sched_input *in)
{
    return in->connector || in->tool || in->connection_id || in->arguments;
}

static tc_status edit(tc_sched *s, tc_db_conn *c, const char *user_id, const char *id,
                      const tc_sched_input *in, json_t **row, tc_sched_fail *fail, tc_err *err)
{
    tc_repo_schedule old, sc;
    tc_status st = tc_repo_schedule_load(c, user_id, id, &old, err);
    if (st != TC_OK)
        return st;
    sc = old;
    sc.arguments = json_incref(old.arguments);
    /* Another connector without a connection: its default connection. */
    if (in->connector && strcmp(in->connector, old.connector) != 0 && !in->connection_id)
        sc.connection_id[0] = '\0';
    st = apply(in, &sc, err);
    if (st == TC_OK)
        st = schedule_next(s, &sc, timing_changed(&old, &sc), fail, err);
    if (st == TC_OK && sc.enabled != old.enabled) {
        sc.paused_reason[0] = '\0'; /* paused by hand, or resumed */
        if (sc.enabled)
            sc.consecutive_failures = 0;
    }
    if (st == TC_OK && target_touched(in))
        st = check_target(s, c, user_id, &sc, fail, err);
    if (st == TC_OK)
        st = tc_repo_schedule_update(c, &sc, tc_now_ms(), row, err);
    tc_repo_schedule_clear(&old);
    tc_repo_schedule_clear(&sc);
    return st;
}

tc_status tc_sched_update(tc_sched *s, const char *user_id, const char *id,
                          const tc_sched_input *in, json_t **row, tc_sched_fail *fail,
                          tc_err *err)
{
    fail_clear(fail);
    /* One transaction: the tick and the outcome counting can't write the
     * row between the read and the write (SQLite: the writer lock;
     * PostgreSQL: the row lock of the load). */
    tc_db_conn *c = tc_db_acquire(s->o.db);
    tc_status st = tc_db_begin(c, err);
    if (st == TC_OK)
        st = edit(s, c, user_id, id, in, row, fail, err);
    if (st == TC_OK)
        st = tc_db_commit(c, err);
    else
        tc_db_rollback(c);
    tc_db_release(c);
    if (st != TC_OK && row && *row) {
        json_decref(*row);
        *row = NULL;
    }
    if (st == TC_OK)
        tc_sched_wake(s);
    return st;
}

tc_status tc_sched_set_enabled(tc_sched *s, const char *user_id, const char *id, bool enabled,
                               json_t **row, tc_err *err)
{
    tc_sched_input in = {.has_enabled = true, .enabled = enabled};
    tc_sched_fail fail;
    tc_status st = tc_sched_update(s, user_id, id, &in, row, &fail, err);
    json_decref(fail.details);
    return st;
}

tc_status tc_sched_get(tc_sched *s, const char *user_id, const char *id, json_t **row,
                       tc_err *err)
{
    tc_db_conn *c = tc_db_acquire(s->o.db);
    tc_status st = tc_repo_schedule_get(c, user_id, id, row, err);
    tc_db_release(c);
    return st;
}

tc_status tc_sched_delete(tc_sched *s, const char *user_id, const char *id, tc_err *err)
{
    tc_db_conn *c = tc_db_acquire(s->o.db);
    tc_status st = tc_repo_schedule_delete(c, user_id, id, err);
    tc_db_release(c);
    return st;
}

tc_status tc_sched_list(tc_sched *s, const char *user_id, const char *cursor, int64_t limit,
                        json_t **items, char **next_cursor, tc_err *err)
{
    tc_db_conn *c = tc_db_acquire(s->o.db);
    tc_status st = tc_repo_schedule_list(c, user_id, cursor, limit, items, next_cursor, err);
    tc_db_release(c);
    return st;
}

tc_status tc_sched_runs(tc_sched *s, const char *user_id, const char *id, const char *cursor,
                        int64_t limit, json_t **items, char **next_cursor, tc_err *err)
{
    tc_db_conn *c = tc_db_acquire(s->o.db);
    tc_status st = tc_repo_schedule_runs(c, user_id, id, cursor, limit, items, next_cursor, err);
    tc_db_release(c);
    return st;
}

tc_status tc_sched_preview(tc_sched *s, const char *user_id, const char *id, int n,
                           json_t **out, tc_err *err)
{
    if (n < 1 || n > PREVIEW_MAX)
        return tc_failf(err, TC_BAD_REQUEST, "n", "n must be an integer from 1 to %d", PREVIEW_MAX);
    tc_repo_schedule sc;
    tc_db_conn *c = tc_db_acquire(s->o.db);
    tc_status st = tc_repo_schedule_load(c, user_id, id, &sc, err);
    tc_db_release(c);
    if (st != TC_OK)
        return st;
    tc_cron cron;
    const tc_tz *tz = NULL;
    tc_cron_error ce;
    st = tc_sched__compile(sc.cron, sc.timezone, &cron, &tz, &ce, err);
    if (st == TC_OK)
        *out = tc_cron_next_json(&cron, tz, tc_sched__now(s), n);
    tc_repo_schedule_clear(&sc);
    return st;
}

/* Inside the transaction: the job for "now" and the schedule's last run. */
static tc_status run_tx(tc_sched *s, tc_db_conn *c, const char *user_id, const char *id,
                        char job_id[37], tc_err *err)
{
    tc_repo_schedule sc;
    tc_status st = tc_repo_schedule_load(c, user_id, id, &sc, err);
    if (st != TC_OK)
        return st;
    /* Cron due times are whole seconds: a run by hand never takes the
     * (schedule, due time) slot of a scheduled one. */
    int64_t at = tc_sched__now(s);
    if (at % 1000 == 0)
        at++;
    tc_sched_run run = {.user_id = user_id,
                        .connector = sc.connector,
                        .tool = sc.tool,
                        .connection_id = sc.connection_id[0] ? sc.connection_id : NULL,
                        .arguments = sc.arguments,
                        .schedule_id = sc.id,
                        .scheduled_for = at};
    tc_err e;
    tc_err_clear(&e);
    st = s->o.enqueue(s->o.exec_ctx, c, &run, job_id, &e);
    if (st == TC_CONFLICT && !strcmp(e.field, "scheduled_for"))
        st = tc_failf(err, TC_CONFLICT, NULL, "a run of this schedule started this very "
                                              "millisecond; try again");
    else if (st == TC_NOT_FOUND || st == TC_VALIDATION)
        st = tc_failc(err, TC_CONFLICT, "schedule_invalid", e.field,
                      "the schedule can't run as saved: %s", e.message);
    else if (st != TC_OK)
        *err = e;
    if (st == TC_OK)
        st = tc_repo_schedule_ran(c, user_id, id, at, job_id, tc_now_ms(), err);
    tc_repo_schedule_clear(&sc);
    return st;
}

tc_status tc_sched_run_now(tc_sched *s, const char *user_id, const char *id, json_t **job,
                           tc_err *err)
{
    char job_id[37] = "";
    tc_db_conn *c = tc_db_acquire(s->o.db);
    tc_status st = tc_db_begin(c, err);
    if (st == TC_OK) {
        st = run_tx(s, c, user_id, id, job_id, err);
        if (st == TC_OK)
            st = tc_db_commit(c, err);
        else
            tc_db_rollback(c);
    }
    if (st == TC_OK && s->o.notify)
        s->o.notify(s->o.exec_ctx);
    if (st == TC_OK)
        st = tc_repo_job_get(c, user_id, job_id, job, err);
    tc_db_release(c);
    return st;
}
