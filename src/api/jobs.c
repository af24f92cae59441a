/* Running tools over HTTP: POST .../tools/{tool}/execute (sync with a wait
 * limit, or ?async=1), the jobs list, one job with its events, cancel, the
 * action log, and the rate-limit hook for TC_RATE_TOOL routes.
 *
 * A synchronous call never holds an HTTP pool thread: the request is
 * suspended and registered as a waiter on its job before the job is
 * committed; the waiter fires from the worker that finished the job (200
 * {job, result}) or from the waiters' timer at the wait limit (then a
 * work-pool task reads the job and answers 202 {job}). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "app/app.h"
#include "connections/connections.h"
#include "exec/exec.h"
#include "store/repo_jobs.h"

#define EVENTS_MAX 1000

static tc_exec *exec_of(tc_http_req *req)
{
    return ((tc_app *)req->ctx)->exec;
}

/* ---- rate limit hook ---- */

static void rate_headers(tc_http_req *req, const tc_exec_rate *r)
{
    char v[32];
    snprintf(v, sizeof(v), "%lld", (long long)r->limit);
    tc_http_set_header(req, "X-RateLimit-Limit", v);
    snprintf(v, sizeof(v), "%lld", (long long)(r->remaining > 0 ? r->remaining : 0));
    tc_http_set_header(req, "X-RateLimit-Remaining", v);
    snprintf(v, sizeof(v), "%lld", (long long)r->reset_s);
    tc_http_set_header(req, "X-RateLimit-Reset", v);
}

static tc_status rate_hook(tc_http_req *req, int rate_class, tc_err *err)
{
    tc_exec *x = exec_of(req);
    if (rate_class != TC_RATE_TOOL || !x)
        return TC_OK;
    tc_exec_rate r;
    tc_status st = tc_exec_rate_admit(x, req->user_id, tc_http_param(req, "slug"), &r);
    if (r.limit > 0)
        rate_headers(req, &r);
    if (st == TC_OK)
        return TC_OK;
    char v[32];
    snprintf(v, sizeof(v), "%lld", (long long)r.retry_after_s);
    tc_http_set_header(req, "Retry-After", v);
    return tc_failf(err, TC_RATE_LIMITED, NULL,
                    "too many tool calls: at most %lld per minute per %s; retry in %lld s",
                    (long long)r.limit, r.scope, (long long)r.retry_after_s);
}

/* ---- execute ---- */

typedef struct waiter_ctx {
    tc_http_pending *pending;
    tc_app *app;
    char user_id[37];
    char job_id[37];
} waiter_ctx;

static bool finished(const json_t *job)
{
    const char *s = json_string_value(json_object_get(job, "status"));
    return s && strcmp(s, "queued") && strcmp(s, "running");
}

static void reply_job(tc_http_pending *p, json_t *job)
{
    if (finished(job)) {
        json_t *result = json_incref(json_object_get(job, "result"));
        tc_http_pending_reply_json(p, 200, json_pack("{s:o, s:o*}", "job", job, "result", result));
    } else {
        tc_http_pending_reply_json(p, 202, json_pack("{s:o}", "job", job));
    }
}

/* Work pool: the wait limit passed; answer with the job as it is now. */
static void late_reply(void *arg)
{
    waiter_ctx *w = arg;
    tc_err err;
    tc_err_clear(&err);
    json_t *job = NULL;
    tc_db_conn *c = tc_db_acquire(w->app->db);
    tc_status st = tc_repo_job_get(c, w->user_id, w->job_id, &job, &err);
    tc_db_release(c);
    if (st == TC_OK)
        reply_job(w->pending, job);
    else
        tc_http_pending_fail(w->pending, &err);
    free(w);
}

static void on_done(void *ctx, const char *job_id, const json_t *job)
{
    (void)job_id;
    waiter_ctx *w = ctx;
    if (job) {
        reply_job(w->pending, json_deep_copy(job));
        free(w);
        return;
    }
    if (tc_pool_submit(w->app->work_pool, late_reply, w) != TC_OK)
        late_reply(w); /* shutting down: answer from here */
}

typedef struct exec_body {
    const char *connection_id;
    json_t *arguments;
} exec_body;

static tc_status read_body(tc_http_req *req, exec_body *b, tc_err *err)
{
    static const tc_json_field fields[] = {
        {"connection_id", TC_JF_STR, false, 0, 64, offsetof(exec_body, connection_id)},
        {"arguments", TC_JF_OBJ, false, 0, 0, offsetof(exec_body, arguments)},
    };
    json_t *body = NULL;
    size_t len = 0;
    tc_http_body(req, &len);
    if (len == 0)
        return TC_OK; /* no body: no arguments, default connection */
    tc_status st = tc_http_json_body(req, &body, err);
    if (st == TC_OK)
        st = tc_json_read(body, fields, sizeof(fields) / sizeof(fields[0]), b, err);
    if (st == TC_OK && b->arguments && !json_is_object(b->arguments))
        st = tc_failf(err, TC_VALIDATION, "arguments", "arguments must be an object");
    return st;
}

static bool flag(tc_http_req *req, const char *name)
{
    const char *v = tc_http_query(req, name);
    return v && (!strcmp(v, "1") || !strcmp(v, "true"));
}

static tc_status answer_sync(tc_http_req *req, tc_exec_job *job, int64_t wait_ms, tc_err *err)
{
    tc_app *app = req->ctx;
    waiter_ctx *w = tc_calloc(1, sizeof(*w));
    w->app = app;
    snprintf(w->user_id, sizeof(w->user_id), "%s", req->user_id);
    snprintf(w->job_id, sizeof(w->job_id), "%s", tc_exec_job_id(job));
    w->pending = tc_http_suspend(req);
    tc_exec_wait wait = {.fn = on_done, .ctx = w, .wait_ms = wait_ms};
    tc_status st = tc_exec_enqueue(app->exec, job, &wait, NULL, err);
    if (st != TC_OK) {
        tc_http_pending_fail(w->pending, err);
        free(w);
    }
    return TC_OK; /* answered through the pending handle */
}

tc_status tc_api_jobs_execute(tc_http_req *req, tc_err *err)
{
    tc_app *app = req->ctx;
    exec_body b = {0};
    tc_status st = read_body(req, &b, err);
    int64_t wait_ms = 0;
    if (st == TC_OK)
        st = tc_http_query_int(req, "wait_ms", app->cfg.job_wait_ms, 0, app->cfg.job_wait_ms,
                               &wait_ms, err);
    if (st != TC_OK)
        return st;
    tc_exec_job *job = NULL;
    json_t *details = NULL;
    st = tc_exec_prepare(app->exec, req->user_id, tc_http_param(req, "slug"),
                         tc_http_param(req, "tool"), b.connection_id, b.arguments, &job, &details,
                         err);
    if (st != TC_OK) {
        req->details = details;
        return st;
    }
    if (!flag(req, "async"))
        return answer_sync(req, job, wait_ms, err);
    json_t *row = NULL;
    st = tc_exec_enqueue(app->exec, job, NULL, &row, err);
    return st == TC_OK ? tc_http_reply_json(req, 202, json_pack("{s:o}", "job", row)) : st;
}

/* ---- jobs and action logs ---- */

static tc_status time_param(tc_http_req *req, const char *name, int64_t *out, tc_err *err)
{
    const char *v = tc_http_query(req, name);
    *out = 0;
    if (!v || !*v)
        return TC_OK;
    if (tc_time_parse(v, out) != TC_OK)
        return tc_failf(err, TC_BAD_REQUEST, name, "%s must be an RFC 3339 time", name);
    return TC_OK;
}

static bool is_status(const char *s)
{
    static const char *const all[] = {"queued", "running", "succeeded", "failed", "canceled"};
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
        if (!strcmp(s, all[i]))
            return true;
    return false;
}

static tc_status read_filter(tc_http_req *req, tc_repo_job_filter *f, tc_err *err)
{
    memset(f, 0, sizeof(*f));
    f->status = tc_http_query(req, "status");
    f->connector = tc_http_query(req, "connector");
    f->tool = tc_http_query(req, "tool");
    f->cursor = tc_http_query(req, "cursor");
    if (f->status && !is_status(f->status))
        return tc_failf(err, TC_BAD_REQUEST, "status",
                        "status must be queued, running, succeeded, failed or canceled");
    if ((f->connector && strlen(f->connector) > 64) || (f->tool && strlen(f->tool) > 64))
        return tc_failf(err, TC_BAD_REQUEST, "connector", "connector and tool are at most 64 bytes");
    tc_status st = tc_http_query_int(req, "limit", 50, 1, TC_REPO_JOBS_LIST_MAX, &f->limit, err);
    if (st == TC_OK)
        st = time_param(req, "since", &f->since, err);
    if (st == TC_OK)
        st = time_param(req, "until", &f->until, err);
    return st;
}

/* A filtered, cursor-paged list of the caller's jobs or action-log rows. */
typedef tc_status (*filtered_list_fn)(tc_db_conn *c, const char *user_id,
                                      const tc_repo_job_filter *f, json_t **items,
                                      char **next_cursor, tc_err *err);

/* Reads the shared query filter, runs list and replies with one page. */
static tc_status reply_filtered(tc_http_req *req, filtered_list_fn list, tc_err *err)
{
    tc_repo_job_filter f;
    tc_status st = read_filter(req, &f, err);
    if (st != TC_OK)
        return st;
    json_t *items = NULL;
    char *next = NULL;
    tc_db_conn *c = tc_db_acquire(((tc_app *)req->ctx)->db);
    st = list(c, req->user_id, &f, &items, &next, err);
    tc_db_release(c);
    return st == TC_OK ? tc_api__reply_list(req, items, next) : st;
}

tc_status tc_api_jobs_list(tc_http_req *req, tc_err *err)
{
    return reply_filtered(req, tc_repo_job_list, err);
}

tc_status tc_api_jobs_get(tc_http_req *req, tc_err *err)
{
    const char *id = tc_http_param(req, "id");
    json_t *job = NULL, *events = NULL;
    tc_db_conn *c = tc_db_acquire(((tc_app *)req->ctx)->db);
    tc_status st = tc_repo_job_get(c, req->user_id, id, &job, err);
    if (st == TC_OK)
        st = tc_repo_event_list(c, req->user_id, id, EVENTS_MAX, &events, err);
    tc_db_release(c);
    if (st != TC_OK) {
        json_decref(job);
        return st;
    }
    json_object_set_new(job, "events", events);
    return tc_http_reply_json(req, 200, job);
}

tc_status tc_api_jobs_cancel(tc_http_req *req, tc_err *err)
{
    json_t *job = NULL;
    tc_status st = tc_exec_cancel(exec_of(req), req->user_id, tc_http_param(req, "id"), &job, err);
    return st == TC_OK ? tc_http_reply_json(req, 200, job) : st;
}

tc_status tc_api_action_logs_list(tc_http_req *req, tc_err *err)
{
    return reply_filtered(req, tc_repo_action_log_list, err);
}

/* ---- module ---- */

tc_status tc_api_jobs_init(tc_app *app, tc_err *err)
{
    const tc_config *cfg = &app->cfg;
    tc_exec_options o = {
        .db = app->db,
        .events = app->events,
        .connections = app->connections,
        .workers = cfg->job_workers > 0 ? (int)cfg->job_workers : 1,
        .default_timeout_ms = cfg->job_timeout_ms,
        .poll_ms = cfg->job_poll_ms,
        .max_response = cfg->job_response_max > 0 ? (size_t)cfg->job_response_max : 0,
        .allow_private = cfg->allow_private_targets,
        .rate_user_per_min = cfg->rate_user_per_min,
        .rate_connector_per_min = cfg->rate_connector_per_min,
    };
    tc_exec_mcp_configure(app->connections->mcp, cfg->allow_stdio);
    tc_status st = tc_exec_new(&o, &app->exec, err);
    if (st == TC_OK)
        tc_http_set_rate_hook(app->http, rate_hook);
    return st;
}

void tc_api_jobs_shutdown(tc_app *app)
{
    tc_exec_free(app->exec, 2000);
    app->exec = NULL;
}
