/* Operations endpoints: liveness, readiness (database answers) and
 * Prometheus metrics. */
#include "api/api.h"
#include "app/app.h"

#define METRICS_MAX (4u << 20)

tc_status tc_api_healthz(tc_http_req *req, tc_err *err)
{
    return tc_http_reply_json(req, 200, json_pack("{s:s}", "status", "ok"));
}

tc_status tc_api_readyz(tc_http_req *req, tc_err *err)
{
    tc_app *app = req->ctx;
    tc_err dberr;
    tc_err_clear(&dberr);
    if (!app || !app->db || tc_db_ping(app->db, &dberr) != TC_OK) {
        tc_log(TC_LOG_WARN, "readiness check failed", "request_id", req->request_id, "error",
               dberr.message, NULL);
        return tc_failf(err, TC_UNAVAILABLE, NULL, "the database does not answer");
    }
    return tc_http_reply_json(req, 200, json_pack("{s:s}", "status", "ready"));
}

tc_status tc_api_metrics(tc_http_req *req, tc_err *err)
{
    tc_buf b;
    tc_buf_init(&b, METRICS_MAX);
    tc_http_metrics_render(req->server, &b);
    tc_status st = tc_http_reply_bytes(req, 200, "text/plain; version=0.0.4; charset=utf-8",
                                       b.data ? b.data : "", b.len);
    tc_buf_free(&b);
    return st;
}
