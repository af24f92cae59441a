/* /api/webhooks, /api/webhook-deliveries and /api/webhook-event-types: thin
 * handlers over the webhooks module, plus its row of the app module table
 * (service, outbox hook on the change recorder, delivery worker). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "app/app.h"
#include "events/events.h"
#include "notify/notify.h"
#include "store/repo_webhooks.h"
#include "webhooks/webhooks.h"

static tc_webhooks *wh_of(tc_http_req *req)
{
    return ((tc_app *)req->ctx)->webhooks;
}

static tc_db *db_of(tc_http_req *req)
{
    return ((tc_app *)req->ctx)->db;
}

/* Ids are UUIDs: anything else cannot exist (404, never a database error). */
static tc_status id_param(tc_http_req *req, const char **id, tc_err *err)
{
    *id = tc_http_param(req, "id");
    if (!*id || !tc_uuid_valid(*id))
        return tc_failf(err, TC_NOT_FOUND, NULL, "not found");
    return TC_OK;
}

tc_status tc_api_webhook_event_types(tc_http_req *req, tc_err *err)
{
    (void)err;
    size_t n = 0;
    const tc_webhook_event_type *t = tc_webhook_event_types(&n);
    json_t *items = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(items, json_pack("{s:s, s:s}", "name", t[i].name, "description",
                                               t[i].description));
    return tc_api__reply_list(req, items, NULL);
}

tc_status tc_api_webhooks_create(tc_http_req *req, tc_err *err)
{
    json_t *body = NULL, *out = NULL;
    tc_status st = tc_http_json_body(req, &body, err);
    if (st == TC_OK)
        st = tc_webhooks_create(wh_of(req), req->user_id, body, &out, err);
    return st == TC_OK ? tc_http_reply_json(req, 201, out) : st;
}

tc_status tc_api_webhooks_list(tc_http_req *req, tc_err *err)
{
    int64_t limit;
    tc_status st = tc_http_query_int(req, "limit", 50, 1, TC_REPO_WEBHOOKS_LIST_MAX, &limit, err);
    if (st != TC_OK)
        return st;
    json_t *items = NULL;
    char *next = NULL;
    tc_db_conn *c = tc_db_acquire(db_of(req));
    st = tc_repo_webhook_list(c, req->user_id, tc_http_query(req, "cursor"), limit, &items, &next,
                              err);
    tc_db_release(c);
    return st == TC_OK ? tc_api__reply_list(req, items, next) : st;
}

tc_status tc_api_webhooks_get(tc_http_req *req, tc_err *err)
{
    const char *id;
    json_t *out = NULL;
    tc_status st = id_param(req, &id, err);
    if (st != TC_OK)
        return st;
    tc_db_conn *c = tc_db_acquire(db_of(req));
    st = tc_repo_webhook_get_json(c, req->user_id, id, &out, err);
    tc_db_release(c);
    return st == TC_OK ? tc_http_reply_json(req, 200, out) : st;
}

tc_status tc_api_webhooks_update(tc_http_req *req, tc_err *err)
{
    const char *id;
    json_t *body = NULL, *out = NULL;
    tc_status st = id_param(req, &id, err);
    if (st == TC_OK)
        st = tc_http_json_body(req, &body, err);
    if (st == TC_OK)
        st = tc_webhooks_update(wh_of(req), req->user_id, id, body, &out, err);
    return st == TC_OK ? tc_http_reply_json(req, 200, out) : st;
}

tc_status tc_api_webhooks_delete(tc_http_req *req, tc_err *err)
{
    const char *id;
    tc_status st = id_param(req, &id, err);
    if (st != TC_OK)
        return st;
    tc_db_conn *c = tc_db_acquire(db_of(req));
    st = tc_repo_webhook_delete(c, req->user_id, id, err);
    tc_db_release(c);
    return st == TC_OK ? tc_http_reply_empty(req, 204) : st;
}

tc_status tc_api_webhooks_test(tc_http_req *req, tc_err *err)
{
    const char *id;
    json_t *out = NULL;
    tc_status st = id_param(req, &id, err);
    if (st == TC_OK)
        st = tc_webhooks_test(wh_of(req), req->user_id, id, &out, err);
    return st == TC_OK ? tc_http_reply_json(req, 202, out) : st;
}

tc_status tc_api_webhooks_rotate(tc_http_req *req, tc_err *err)
{
    const char *id;
    json_t *out = NULL;
    tc_status st = id_param(req, &id, err);
    if (st == TC_OK)
        st = tc_webhooks_rotate(wh_of(req), req->user_id, id, &out, err);
    return st == TC_OK ? tc_http_reply_json(req, 200, out) : st;
}

static tc_status delivery_filter(tc_http_req *req, tc_repo_delivery_filter *f, tc_err *err)
{
    f->status = tc_http_query(req, "status");
    f->event_type = tc_http_query(req, "event_type");
    f->cursor = tc_http_query(req, "cursor");
    if (f->status && strcmp(f->status, "pending") && strcmp(f->status, "succeeded") &&
        strcmp(f->status, "failed"))
        return tc_failf(err, TC_BAD_REQUEST, "status", "status must be pending, succeeded or failed");
    if (f->event_type && !tc_webhook_event_type_valid(f->event_type))
        return tc_failf(err, TC_BAD_REQUEST, "event_type",
                        "unknown event type (see GET /api/webhook-event-types)");
    return tc_http_query_int(req, "limit", 20, 1, 100, &f->limit, err);
}

tc_status tc_api_webhooks_deliveries(tc_http_req *req, tc_err *err)
{
    tc_repo_delivery_filter f = {0};
    tc_status st = id_param(req, &f.webhook_id, err);
    if (st == TC_OK)
        st = delivery_filter(req, &f, err);
    if (st != TC_OK)
        return st;
    json_t *items = NULL;
    char *next = NULL;
    tc_db_conn *c = tc_db_acquire(db_of(req));
    st = tc_repo_delivery_list(c, req->user_id, &f, &items, &next, err);
    tc_db_release(c);
    return st == TC_OK ? tc_api__reply_list(req, items, next) : st;
}

tc_status tc_api_webhook_delivery_retry(tc_http_req *req, tc_err *err)
{
    const char *id;
    json_t *out = NULL;
    tc_status st = id_param(req, &id, err);
    if (st == TC_OK)
        st = tc_webhooks_retry(wh_of(req), req->user_id, id, &out, err);
    return st == TC_OK ? tc_http_reply_json(req, 202, out) : st;
}

/* ---- module start and stop ---- */

static void config_from_app(const tc_config *a, tc_webhooks_config *c)
{
    tc_webhooks_config_defaults(c);
    c->max_attempts = a->webhook_max_attempts;
    c->retry_base_ms = a->webhook_retry_base_ms;
    c->retry_max_ms = a->webhook_retry_max_ms;
    c->retry_window_ms = a->webhook_retry_window_ms;
    c->timeout_ms = a->webhook_timeout_ms;
    c->disable_after_ms = a->webhook_disable_after_ms;
    c->concurrency = a->webhook_concurrency;
    c->poll_ms = a->webhook_poll_ms;
    c->retain_days = a->webhook_retain_days;
    c->allow_private = a->allow_private_targets;
}

/* The owner is told as their notification preferences say: an endpoint
 * disabled automatically becomes a "webhook.disabled" e-mail through the
 * notify outbox (which applies the preferences, quiet hours and digests).
 * Runs on the delivery worker after the disabling committed, on its own
 * connection; a crash in between loses the e-mail, not the disabling (the
 * reason stays on the endpoint). A delivery that failed for good has no
 * alert type of its own: it is logged (warn) and listed by the API. */
static void notify_owner(void *ctx, const char *user_id, const char *kind, const json_t *info)
{
    tc_app *app = ctx;
    if (strcmp(kind, "endpoint_disabled") || !app->notify)
        return;
    const char *url = json_string_value(json_object_get(info, "url"));
    const char *reason = json_string_value(json_object_get(info, "reason"));
    json_t *vars = json_pack("{s:s, s:s}", "endpoint", url ? url : "", "detail", reason ? reason : "");
    tc_err err;
    tc_err_clear(&err);
    tc_db_conn *c = tc_db_acquire(app->db);
    tc_status st = tc_notify_alert(app->notify, c, user_id, TC_NOTIFY_WEBHOOK_DISABLED, vars, NULL, &err);
    tc_db_release(c);
    json_decref(vars);
    if (st == TC_OK)
        tc_notify_wake(app->notify);
    else
        tc_log(TC_LOG_WARN, "webhook disabled e-mail not queued", "user_id", user_id, "error",
               err.message, NULL);
}

/* Needs the keyring and the change recorder (the connections row), and the
 * notify service (the health row) when there is one. */
tc_status tc_api_webhooks_init(tc_app *app, tc_err *err)
{
    tc_webhooks_config cfg;
    config_from_app(&app->cfg, &cfg);
    tc_status st = tc_webhooks_new(app->db, app->keyring, &cfg, &app->webhooks, err);
    if (st == TC_OK && (st = tc_webhooks_start(app->webhooks, err)) != TC_OK) {
        tc_webhooks_free(app->webhooks);
        app->webhooks = NULL;
    }
    if (st != TC_OK)
        return st;
    tc_webhooks_set_notify(app->webhooks, notify_owner, app);
    tc_events_set_outbox(app->events, tc_webhooks_outbox, app->webhooks);
    return TC_OK;
}

void tc_api_webhooks_shutdown(tc_app *app)
{
    if (app->events)
        tc_events_set_outbox(app->events, NULL, NULL);
    tc_webhooks_free(app->webhooks);
    app->webhooks = NULL;
}
