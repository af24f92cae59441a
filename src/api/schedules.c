/* Schedules over HTTP: CRUD, preview, run now, pause/resume, runs, and
 * POST /api/cron/preview; plus the scheduler row of the app module table,
 * which plugs the exec module's enqueue into the scheduler. The domain work
 * is in src/scheduler/service.c; this file reads bodies and shapes answers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "app/app.h"
#include "exec/exec.h"
#include "notify/notify.h"
#include "scheduler/scheduler.h"

#define LIST_DEFAULT 50
#define LIST_MAX 200
#define PREVIEW_DEFAULT 10
#define PREVIEW_MAX 100

static tc_sched *sched_of(tc_http_req *req)
{
    return ((tc_app *)req->ctx)->scheduler;
}

/* ---- bodies ---- */

typedef struct sched_body {
    const char *name, *cron, *timezone, *connector, *tool, *connection_id, *overlap, *misfire;
    json_t *arguments;
    bool enabled;
    int64_t max_failures;
} sched_body;

static tc_status read_input(tc_http_req *req, sched_body *b, tc_sched_input *in, tc_err *err)
{
    static const tc_json_field fields[] = {
        {"name", TC_JF_STR, false, 0, 200, offsetof(sched_body, name)},
        {"cron", TC_JF_STR, false, 0, TC_CRON_EXPR_MAX, offsetof(sched_body, cron)},
        {"timezone", TC_JF_STR, false, 0, TC_TZ_NAME_MAX, offsetof(sched_body, timezone)},
        {"connector", TC_JF_STR, false, 0, 64, offsetof(sched_body, connector)},
        {"tool", TC_JF_STR, false, 0, 64, offsetof(sched_body, tool)},
        {"connection_id", TC_JF_STR, false, 0, 64, offsetof(sched_body, connection_id)},
        {"overlap", TC_JF_STR, false, 0, 16, offsetof(sched_body, overlap)},
        {"misfire", TC_JF_STR, false, 0, 16, offsetof(sched_body, misfire)},
        {"arguments", TC_JF_OBJ, false, 0, 0, offsetof(sched_body, arguments)},
        {"enabled", TC_JF_BOOL, false, 0, 0, offsetof(sched_body, enabled)},
        {"max_failures", TC_JF_INT, false, 0, 1000, offsetof(sched_body, max_failures)},
    };
    json_t *body = NULL;
    memset(b, 0, sizeof(*b));
    memset(in, 0, sizeof(*in));
    tc_status st = tc_http_json_body(req, &body, err);
    if (st == TC_OK)
        st = tc_json_read(body, fields, sizeof(fields) / sizeof(fields[0]), b, err);
    if (st != TC_OK)
        return st;
    *in = (tc_sched_input){.name = b->name,
                           .cron = b->cron,
                           .timezone = b->timezone,
                           .connector = b->connector,
                           .tool = b->tool,
                           .connection_id = b->connection_id,
                           .arguments = b->arguments,
                           .overlap = b->overlap,
                           .misfire = b->misfire,
                           .enabled = b->enabled,
                           .max_failures = b->max_failures};
    const json_t *en = json_object_get(body, "enabled");
    const json_t *mf = json_object_get(body, "max_failures");
    in->has_enabled = en && !json_is_null(en);
    in->has_max_failures = mf && !json_is_null(mf);
    return TC_OK;
}

/* A failed save: a cron error answers with its position, a schema error
 * with the details; anything else goes back as err. */
static tc_status save_failed(tc_http_req *req, tc_status st, tc_sched_fail *fail, tc_err *err)
{
    if (fail->has_cron) {
        json_t *e = json_pack("{s:s, s:s, s:s, s:i, s:s}", "code", tc_err_code(err), "message",
                              err->message, "field", "cron", "position", fail->cron.position,
                              "cron_field", fail->cron.field);
        json_decref(fail->details);
        return tc_http_reply_json(req, tc_status_http(st), json_pack("{s:o}", "error", e));
    }
    req->details = fail->details;
    return st;
}

static tc_status list_params(tc_http_req *req, int64_t *limit, const char **cursor, tc_err *err)
{
    *cursor = tc_http_query(req, "cursor");
    return tc_http_query_int(req, "limit", LIST_DEFAULT, 1, LIST_MAX, limit, err);
}

/* ---- handlers ---- */

/* POST (create, 201) or PUT /{id} (update, 200) of a schedule from the body. */
static tc_status save(tc_http_req *req, bool update, tc_err *err)
{
    sched_body b;
    tc_sched_input in;
    tc_sched_fail fail = {0};
    json_t *row = NULL;
    tc_status st = read_input(req, &b, &in, err);
    if (st == TC_OK && update)
        st = tc_sched_update(sched_of(req), req->user_id, tc_http_param(req, "id"), &in, &row,
                             &fail, err);
    else if (st == TC_OK)
        st = tc_sched_create(sched_of(req), req->user_id, &in, &row, &fail, err);
    if (st != TC_OK)
        return save_failed(req, st, &fail, err);
    return tc_http_reply_json(req, update ? 200 : 201, row);
}

tc_status tc_api_schedules_create(tc_http_req *req, tc_err *err)
{
    return save(req, false, err);
}

tc_status tc_api_schedules_update(tc_http_req *req, tc_err *err)
{
    return save(req, true, err);
}

tc_status tc_api_schedules_list(tc_http_req *req, tc_err *err)
{
    int64_t limit;
    const char *cursor;
    json_t *items = NULL;
    char *next = NULL;
    tc_status st = list_params(req, &limit, &cursor, err);
    if (st == TC_OK)
        st = tc_sched_list(sched_of(req), req->user_id, cursor, limit, &items, &next, err);
    return st == TC_OK ? tc_api__reply_list(req, items, next) : st;
}

tc_status tc_api_schedules_get(tc_http_req *req, tc_err *err)
{
    json_t *row = NULL;
    tc_status st = tc_sched_get(sched_of(req), req->user_id, tc_http_param(req, "id"), &row, err);
    return st == TC_OK ? tc_http_reply_json(req, 200, row) : st;
}

tc_status tc_api_schedules_delete(tc_http_req *req, tc_err *err)
{
    tc_status st = tc_sched_delete(sched_of(req), req->user_id, tc_http_param(req, "id"), err);
    return st == TC_OK ? tc_http_reply_empty(req, 204) : st;
}

tc_status tc_api_schedules_preview(tc_http_req *req, tc_err *err)
{
    int64_t n;
    json_t *out = NULL;
    tc_status st = tc_http_query_int(req, "n", PREVIEW_DEFAULT, 1, PREVIEW_MAX, &n, err);
    if (st == TC_OK)
        st = tc_sched_preview(sched_of(req), req->user_id, tc_http_param(req, "id"), (int)n, &out,
                              err);
    return st == TC_OK ? tc_http_reply_json(req, 200, out) : st;
}

tc_status tc_api_schedules_run(tc_http_req *req, tc_err *err)
{
    json_t *job = NULL;
    tc_status st = tc_sched_run_now(sched_of(req), req->user_id, tc_http_param(req, "id"), &job,
                                    err);
    return st == TC_OK ? tc_http_reply_json(req, 202, json_pack("{s:o}", "job", job)) : st;
}

static tc_status set_enabled(tc_http_req *req, bool enabled, tc_err *err)
{
    json_t *row = NULL;
    tc_status st = tc_sched_set_enabled(sched_of(req), req->user_id, tc_http_param(req, "id"),
                                        enabled, &row, err);
    return st == TC_OK ? tc_http_reply_json(req, 200, row) : st;
}

tc_status tc_api_schedules_pause(tc_http_req *req, tc_err *err)
{
    return set_enabled(req, false, err);
}

tc_status tc_api_schedules_resume(tc_http_req *req, tc_err *err)
{
    return set_enabled(req, true, err);
}

tc_status tc_api_schedules_runs(tc_http_req *req, tc_err *err)
{
    int64_t limit;
    const char *cursor;
    json_t *items = NULL;
    char *next = NULL;
    tc_status st = list_params(req, &limit, &cursor, err);
    if (st == TC_OK)
        st = tc_sched_runs(sched_of(req), req->user_id, tc_http_param(req, "id"), cursor, limit,
                           &items, &next, err);
    return st == TC_OK ? tc_api__reply_list(req, items, next) : st;
}

tc_status tc_api_cron_preview(tc_http_req *req, tc_err *err)
{
    json_t *body = NULL, *out = NULL;
    tc_status st = tc_http_json_body(req, &body, err);
    if (st != TC_OK)
        return st;
    st = tc_cron_preview_json(body, tc_now_ms(), &out, err);
    return tc_http_reply_json(req, tc_status_http(st), out);
}

/* ---- module ---- */

static tc_exec_scheduled scheduled_of(const tc_sched_run *r)
{
    return (tc_exec_scheduled){.user_id = r->user_id,
                               .connector = r->connector,
                               .tool = r->tool,
                               .connection_id = r->connection_id,
                               .arguments = r->arguments,
                               .schedule_id = r->schedule_id,
                               .scheduled_for = r->scheduled_for};
}

static tc_status enqueue_hook(void *ctx, tc_db_conn *c, const tc_sched_run *r, char job_id[37],
                              tc_err *err)
{
    tc_exec_scheduled s = scheduled_of(r);
    return tc_exec_enqueue_in_tx(((tc_app *)ctx)->exec, c, &s, job_id, err);
}

/* The tick's runs in one call (multi-row inserts, one lookup per tool). */
static tc_status enqueue_batch_hook(void *ctx, tc_db_conn *c, const tc_sched_run *runs, size_t n,
                                    tc_sched_enqueued *out, tc_err *err)
{
    tc_app *app = ctx;
    tc_exec_scheduled *v = tc_calloc(n ? n : 1, sizeof(*v));
    tc_exec_scheduled_out *res = tc_calloc(n ? n : 1, sizeof(*res));
    for (size_t i = 0; i < n; i++)
        v[i] = scheduled_of(&runs[i]);
    tc_status st = tc_exec_enqueue_batch_in_tx(app->exec, app->events, c, v, n,
                                               app->cfg.job_timeout_ms, res, err);
    for (size_t i = 0; st == TC_OK && i < n; i++) {
        out[i].st = res[i].st;
        memcpy(out[i].job_id, res[i].job_id, sizeof(out[i].job_id));
        out[i].err = res[i].err;
    }
    free(v);
    free(res);
    return st;
}

static void notify_hook(void *ctx)
{
    tc_exec_notify(((tc_app *)ctx)->exec);
}

/* The "schedule.paused" e-mail, queued in the pause's transaction (the
 * user's notification preferences decide whether it goes out). */
static tc_status paused_hook(void *ctx, tc_db_conn *c, const char *user_id, const json_t *schedule,
                             const char *reason, tc_err *err)
{
    tc_app *app = ctx;
    if (!app->notify)
        return TC_OK;
    const char *name = json_string_value(json_object_get(schedule, "name"));
    json_t *vars = json_pack("{s:s, s:s, s:s}", "name", name ? name : "", "detail", reason, "url",
                             app->cfg.public_url ? app->cfg.public_url : "");
    tc_status st = tc_notify_alert(app->notify, c, user_id, TC_NOTIFY_SCHEDULE_PAUSED, vars, NULL,
                                   err);
    json_decref(vars);
    return st;
}

static void paused_done(void *ctx)
{
    tc_notify_wake(((tc_app *)ctx)->notify);
}

tc_status tc_api_schedules_init(tc_app *app, tc_err *err)
{
    const tc_config *cfg = &app->cfg;
    if (!app->exec)
        return tc_failf(err, TC_INTERNAL, NULL, "the scheduler needs the jobs module");
    tc_sched_options o = {
        .db = app->db,
        .events = app->events,
        .enqueue = enqueue_hook,
        .enqueue_batch = enqueue_batch_hook,
        .notify = notify_hook,
        .exec_ctx = app,
        .on_paused = paused_hook,
        .paused_done = paused_done,
        .paused_ctx = app,
        .engine = cfg->scheduler_enabled,
        .tick_ms = cfg->scheduler_tick_ms,
        .misfire_grace_ms = cfg->scheduler_misfire_grace_ms,
        .clock_offset_ms = cfg->scheduler_clock_offset_ms,
    };
    return tc_sched_new(&o, &app->scheduler, err);
}

void tc_api_schedules_shutdown(tc_app *app)
{
    tc_sched_free(app->scheduler);
    app->scheduler = NULL;
}
