/* GET/PUT /api/notification-preferences (shape in notify.h,
 * tc_notify_prefs_json). PUT takes any subset of the fields; absent ones
 * keep their value. */
#include <string.h>

#include "api/api.h"
#include "app/app.h"
#include "notify/notify.h"
#include "scheduler/scheduler.h"

static bool tz_valid(const char *name)
{
    const tc_tz *tz = NULL;
    tc_err err;
    return tc_tz_load(name, &tz, &err) == TC_OK;
}

tc_status tc_api_notification_prefs_get(tc_http_req *req, tc_err *err)
{
    tc_app *app = req->ctx;
    tc_notify_prefs p;
    tc_db_conn *c = tc_db_acquire(app->db);
    tc_status st = tc_repo_notify_prefs_get(c, req->user_id, &p, err);
    tc_db_release(c);
    if (st == TC_OK)
        st = tc_http_reply_json(req, 200, tc_notify_prefs_json(&p));
    tc_notify_prefs_clear(&p);
    return st;
}

/* TC_ROUTE_TEST: the caller's email outbox rows (tests check held mail). */
tc_status tc_api_test_notifications(tc_http_req *req, tc_err *err)
{
    tc_app *app = req->ctx;
    json_t *items = NULL;
    tc_db_conn *c = tc_db_acquire(app->db);
    tc_status st = tc_repo_notify_outbox_list(c, req->user_id, &items, err);
    tc_db_release(c);
    return st == TC_OK ? tc_api__reply_list(req, items, NULL) : st;
}

static void add_detail(tc_http_req *req, const tc_err *err)
{
    const char *field = err->field[0] ? err->field : "";
    const char *kw = strstr(err->message, "unknown field") ? "additionalProperties"
                     : strstr(err->message, "must be true") || strstr(err->message, "must be an array")
                         ? "type"
                         : "enum";
    req->details = json_pack("[{s:s, s:s, s:s}]", "path", field, "keyword", kw, "message", err->message);
}

tc_status tc_api_notification_prefs_put(tc_http_req *req, tc_err *err)
{
    tc_app *app = req->ctx;
    json_t *body = NULL;
    tc_status st = tc_http_json_body(req, &body, err);
    if (st != TC_OK)
        return st;
    tc_notify_prefs cur, next;
    tc_db_conn *c = tc_db_acquire(app->db);
    st = tc_repo_notify_prefs_get(c, req->user_id, &cur, err);
    if (st == TC_OK) {
        st = tc_notify_prefs_parse(body, &cur, tz_valid, &next, err);
        if (st == TC_VALIDATION)
            add_detail(req, err);
    }
    if (st == TC_OK) {
        next.updated_at = tc_now_ms();
        st = tc_repo_notify_prefs_put(c, req->user_id, &next, next.updated_at, err);
        if (st == TC_OK)
            st = tc_http_reply_json(req, 200, tc_notify_prefs_json(&next));
        tc_notify_prefs_clear(&next);
    }
    tc_db_release(c);
    tc_notify_prefs_clear(&cur);
    return st;
}
