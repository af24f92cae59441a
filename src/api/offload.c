/* Running slow handler work (calls to outside services) on the app's worker
 * pool while the HTTP connection is suspended, so no HTTP pool thread ever
 * waits on a provider. The task owns copies of everything it reads: a
 * suspended request can be completed by shutdown while the task runs. */
#include <stdlib.h>

#include "api/api.h"
#include "app/app.h"

static void task_free(tc_api_task *t)
{
    free(t->user_id);
    free(t->param);
    json_decref(t->body);
    free(t);
}

static void task_run(void *arg)
{
    tc_api_task *t = arg;
    json_t *out = NULL;
    tc_err err;
    tc_err_clear(&err);
    tc_status st = t->fn(t, &out, &err);
    if (st == TC_OK) {
        tc_http_pending_reply_json(t->pending, t->ok_status, out);
    } else {
        if (err.status != st)
            tc_failf(&err, st, NULL, "%s", tc_strerror(st));
        tc_http_pending_fail(t->pending, &err);
    }
    task_free(t);
}

tc_status tc_api_offload(tc_http_req *req, tc_api_task_fn fn, const char *param,
                         const json_t *body, int ok_status, tc_err *err)
{
    tc_app *app = req->ctx;
    tc_api_task *t = tc_calloc(1, sizeof(*t));
    t->fn = fn;
    t->app = app;
    t->ok_status = ok_status;
    t->user_id = tc_strdup(req->user_id);
    t->param = tc_strdup(param);
    t->body = body ? json_deep_copy(body) : NULL;
    t->pending = tc_http_suspend(req);
    tc_status st = tc_pool_submit(app->work_pool, task_run, t);
    if (st == TC_OK)
        return TC_OK;
    tc_failf(err, TC_UNAVAILABLE, NULL, "the server is busy or shutting down; try again");
    tc_http_pending_fail(t->pending, err);
    task_free(t);
    return TC_OK; /* answered through the pending handle */
}
