/* /api/health: latest status per connector, history of one, check now; and
 * the "health" row of the app module table, which starts the notify
 * service (email outbox sender) and the health checker. */
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "app/app.h"
#include "health/health.h"
#include "notify/notify.h"
#include "scheduler/scheduler.h"
#include "store/repo_health.h"

static int32_t tz_offset(const char *name, int64_t ms)
{
    const tc_tz *tz = NULL;
    tc_err err;
    if (tc_tz_load(name, &tz, &err) != TC_OK)
        return 0;
    return tc_tz_offset(tz, ms / 1000);
}

static tc_status start_notify(tc_app *app, tc_err *err)
{
    const tc_config *c = &app->cfg;
    tc_notify_opts o = {
        .db = app->db,
        .smtp_url = c->smtp_url,
        .mail_from = c->mail_from,
        .api_url = c->email_api_url,
        .api_key = c->email_api_key,
        .public_url = c->public_url,
        .allow_private = c->allow_private_targets,
        .max_attempts = (int)c->notify_max_attempts,
        .retry_base_ms = c->notify_retry_base_ms,
        .poll_ms = c->notify_poll_ms,
        .digest_ms = c->notify_digest_s * 1000,
        .clock_offset_ms = c->notify_clock_offset_ms,
        .tz_offset = tz_offset,
    };
    return tc_notify_start(&o, &app->notify, err);
}

tc_status tc_api_health_init(tc_app *app, tc_err *err)
{
    tc_status st = start_notify(app, err);
    if (st != TC_OK)
        return st;
    const tc_config *c = &app->cfg;
    tc_health_opts o = {
        .db = app->db,
        .events = app->events,
        .notify = app->notify,
        .interval_ms = c->health_interval_s * 1000,
        .timeout_ms = (int)c->health_timeout_ms,
        .degraded_ms = c->health_degraded_ms,
        .retention_ms = c->health_retention_days * 86400000,
        .cooldown_ms = c->alert_cooldown_s * 1000,
        .allow_private = c->allow_private_targets,
        .allow_stdio = c->allow_stdio,
    };
    st = tc_health_start(&o, &app->health, err);
    if (st != TC_OK) {
        tc_notify_stop(app->notify);
        app->notify = NULL;
    }
    return st;
}

void tc_api_health_shutdown(tc_app *app)
{
    tc_health_stop(app->health);
    app->health = NULL;
    tc_notify_stop(app->notify);
    app->notify = NULL;
}

tc_status tc_api_health_list(tc_http_req *req, tc_err *err)
{
    tc_app *app = req->ctx;
    json_t *items = NULL;
    tc_db_conn *c = tc_db_acquire(app->db);
    tc_status st = tc_repo_health_latest(c, req->user_id, &items, err);
    tc_db_release(c);
    return st == TC_OK ? tc_api__reply_list(req, items, NULL) : st;
}

tc_status tc_api_health_history(tc_http_req *req, tc_err *err)
{
    tc_app *app = req->ctx;
    int64_t limit;
    tc_status st = tc_http_query_int(req, "limit", 50, 1, TC_REPO_HEALTH_LIST_MAX, &limit, err);
    if (st != TC_OK)
        return st;
    json_t *items = NULL;
    char *next = NULL;
    tc_db_conn *c = tc_db_acquire(app->db);
    st = tc_repo_health_history(c, req->user_id, tc_http_param(req, "slug"),
                                tc_http_query(req, "cursor"), limit, &items, &next, err);
    tc_db_release(c);
    return st == TC_OK ? tc_api__reply_list(req, items, next) : st;
}

/* On a worker: one full round, then the caller's latest statuses. */
static tc_status check_task(tc_api_task *t, json_t **out, tc_err *err)
{
    int probed = 0;
    tc_status st = tc_health_check_now(t->app->health, &probed, err);
    if (st != TC_OK)
        return st;
    json_t *items = NULL;
    tc_db_conn *c = tc_db_acquire(t->app->db);
    st = tc_repo_health_latest(c, t->user_id, &items, err);
    tc_db_release(c);
    if (st == TC_OK)
        *out = json_pack("{s:o, s:n, s:i}", "items", items, "next_cursor", "probed", probed);
    return st;
}

tc_status tc_api_health_check(tc_http_req *req, tc_err *err)
{
    if (!((tc_app *)req->ctx)->health)
        return tc_failf(err, TC_UNAVAILABLE, NULL, "health checks are not running");
    return tc_api_offload(req, check_task, NULL, NULL, 200, err);
}
