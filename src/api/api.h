/* api: the HTTP API's handlers, one file per resource, and the ONE route
 * table (routes.c). Handlers reach the process context as
 * (tc_app *)req->ctx. Each resource file declares its handlers here. */
#ifndef TC_API_H
#define TC_API_H

#include <stddef.h>

#include "http/http.h"

extern const tc_route tc_api_routes[];
extern const size_t tc_api_nroutes;

/* offload.c: run slow work (outside services) on the app's worker pool with
 * the request suspended. fn runs on a worker thread with owned copies of the
 * user id, one path parameter and the body; it returns TC_OK with *out (the
 * reply, sent with ok_status) or an error in err. */
typedef struct tc_api_task tc_api_task;
typedef tc_status (*tc_api_task_fn)(tc_api_task *t, json_t **out, tc_err *err);
struct tc_api_task {
    tc_http_pending *pending;
    tc_api_task_fn fn;
    int ok_status;
    struct tc_app *app;
    char *user_id;
    char *param;
    json_t *body;
};
tc_status tc_api_offload(tc_http_req *req, tc_api_task_fn fn, const char *param,
                         const json_t *body, int ok_status, tc_err *err);

/* reply.c: replies 200 {"items": items, "next_cursor": next_cursor|null},
 * the shape of every list endpoint. Steals items, frees next_cursor (may be
 * NULL). */
tc_status tc_api__reply_list(tc_http_req *req, json_t *items, char *next_cursor);

/* connectors.c: catalog, custom connectors, connections */
struct tc_app;
tc_status tc_api_connections_init(struct tc_app *app, tc_err *err);
void tc_api_connections_shutdown(struct tc_app *app);
tc_status tc_api_connectors_list(tc_http_req *req, tc_err *err);
tc_status tc_api_connectors_get(tc_http_req *req, tc_err *err);
tc_status tc_api_categories(tc_http_req *req, tc_err *err);
tc_status tc_api_connectors_create(tc_http_req *req, tc_err *err);
tc_status tc_api_connectors_delete(tc_http_req *req, tc_err *err);
tc_status tc_api_connectors_discover(tc_http_req *req, tc_err *err);
tc_status tc_api_admin_connector_set(tc_http_req *req, tc_err *err);
tc_status tc_api_connections_create(tc_http_req *req, tc_err *err);
tc_status tc_api_connections_list(tc_http_req *req, tc_err *err);
tc_status tc_api_connections_get(tc_http_req *req, tc_err *err);
tc_status tc_api_connections_test(tc_http_req *req, tc_err *err);
tc_status tc_api_connections_delete(tc_http_req *req, tc_err *err);

/* webhooks.c: outgoing webhooks (endpoints, deliveries, event types) */
tc_status tc_api_webhooks_init(struct tc_app *app, tc_err *err);
void tc_api_webhooks_shutdown(struct tc_app *app);
tc_status tc_api_webhooks_create(tc_http_req *req, tc_err *err);
tc_status tc_api_webhooks_list(tc_http_req *req, tc_err *err);
tc_status tc_api_webhooks_get(tc_http_req *req, tc_err *err);
tc_status tc_api_webhooks_update(tc_http_req *req, tc_err *err);
tc_status tc_api_webhooks_delete(tc_http_req *req, tc_err *err);
tc_status tc_api_webhooks_test(tc_http_req *req, tc_err *err);
tc_status tc_api_webhooks_rotate(tc_http_req *req, tc_err *err);
tc_status tc_api_webhooks_deliveries(tc_http_req *req, tc_err *err);
tc_status tc_api_webhook_delivery_retry(tc_http_req *req, tc_err *err);
tc_status tc_api_webhook_event_types(tc_http_req *req, tc_err *err);

/* jobs.c: running tools, jobs, action logs; the rate-limit hook */
tc_status tc_api_jobs_init(struct tc_app *app, tc_err *err);
void tc_api_jobs_shutdown(struct tc_app *app);
tc_status tc_api_jobs_execute(tc_http_req *req, tc_err *err);
tc_status tc_api_jobs_list(tc_http_req *req, tc_err *err);
tc_status tc_api_jobs_get(tc_http_req *req, tc_err *err);
tc_status tc_api_jobs_cancel(tc_http_req *req, tc_err *err);
tc_status tc_api_action_logs_list(tc_http_req *req, tc_err *err);

/* schedules.c: schedules, POST /api/cron/preview; the scheduler row of the
 * app module table */
tc_status tc_api_schedules_init(struct tc_app *app, tc_err *err);
void tc_api_schedules_shutdown(struct tc_app *app);
tc_status tc_api_schedules_create(tc_http_req *req, tc_err *err);
tc_status tc_api_schedules_list(tc_http_req *req, tc_err *err);
tc_status tc_api_schedules_get(tc_http_req *req, tc_err *err);
tc_status tc_api_schedules_update(tc_http_req *req, tc_err *err);
tc_status tc_api_schedules_delete(tc_http_req *req, tc_err *err);
tc_status tc_api_schedules_preview(tc_http_req *req, tc_err *err);
tc_status tc_api_schedules_run(tc_http_req *req, tc_err *err);
tc_status tc_api_schedules_pause(tc_http_req *req, tc_err *err);
tc_status tc_api_schedules_resume(tc_http_req *req, tc_err *err);
tc_status tc_api_schedules_runs(tc_http_req *req, tc_err *err);
tc_status tc_api_cron_preview(tc_http_req *req, tc_err *err);

/* stream.c: live updates (GET /api/stream, POST /api/stream/ticket) and the
 * realtime row of the app module table */
tc_status tc_api_stream_init(struct tc_app *app, tc_err *err);
void tc_api_stream_stopping(struct tc_app *app);
void tc_api_stream_shutdown(struct tc_app *app);
tc_status tc_api_stream(tc_http_req *req, tc_err *err);
tc_status tc_api_stream_ticket(tc_http_req *req, tc_err *err);
tc_status tc_api_test_stream_publish(tc_http_req *req, tc_err *err); /* TC_ROUTE_TEST */

/* oauth.c: OAuth flows, client credentials; the oauth row of the module table */
tc_status tc_api_oauth_init(struct tc_app *app, tc_err *err);
void tc_api_oauth_shutdown(struct tc_app *app);
tc_status tc_api_oauth_start(tc_http_req *req, tc_err *err);
tc_status tc_api_oauth_callback(tc_http_req *req, tc_err *err);
tc_status tc_api_oauth_client_put(tc_http_req *req, tc_err *err);
tc_status tc_api_test_oauth_refresh(tc_http_req *req, tc_err *err); /* TC_ROUTE_TEST */
tc_status tc_api_test_oauth_expire(tc_http_req *req, tc_err *err);  /* TC_ROUTE_TEST */
tc_status tc_api_test_oauth_tx_expire(tc_http_req *req, tc_err *err); /* TC_ROUTE_TEST */

/* health.c: /api/health and the health row of the app module table (notify
 * service + checker); notifications.c: notification preferences */
tc_status tc_api_health_init(struct tc_app *app, tc_err *err);
void tc_api_health_shutdown(struct tc_app *app);
tc_status tc_api_health_list(tc_http_req *req, tc_err *err);
tc_status tc_api_health_history(tc_http_req *req, tc_err *err);
tc_status tc_api_health_check(tc_http_req *req, tc_err *err);
tc_status tc_api_notification_prefs_get(tc_http_req *req, tc_err *err);
tc_status tc_api_notification_prefs_put(tc_http_req *req, tc_err *err);
tc_status tc_api_test_notifications(tc_http_req *req, tc_err *err); /* TC_ROUTE_TEST */

/* ops.c: health, readiness, metrics */
tc_status tc_api_healthz(tc_http_req *req, tc_err *err);
tc_status tc_api_readyz(tc_http_req *req, tc_err *err);
tc_status tc_api_metrics(tc_http_req *req, tc_err *err);

/* accounts (auth.c, me.c, sessions.c, api_keys.c); tc_api_auth_init and
 * tc_api_auth_shutdown are the accounts row of the app module table. */
struct tc_app;
tc_status tc_api_auth_init(struct tc_app *app, tc_err *err);
void tc_api_auth_shutdown(struct tc_app *app);
tc_status tc_api_auth_signup(tc_http_req *req, tc_err *err);
tc_status tc_api_auth_login(tc_http_req *req, tc_err *err);
tc_status tc_api_auth_refresh(tc_http_req *req, tc_err *err);
tc_status tc_api_auth_logout(tc_http_req *req, tc_err *err);
tc_status tc_api_me_get(tc_http_req *req, tc_err *err);
tc_status tc_api_me_delete(tc_http_req *req, tc_err *err);
tc_status tc_api_me_password(tc_http_req *req, tc_err *err);
tc_status tc_api_sessions_list(tc_http_req *req, tc_err *err);
tc_status tc_api_sessions_delete(tc_http_req *req, tc_err *err);
tc_status tc_api_api_keys_create(tc_http_req *req, tc_err *err);
tc_status tc_api_api_keys_list(tc_http_req *req, tc_err *err);
tc_status tc_api_api_keys_delete(tc_http_req *req, tc_err *err);

/* testroutes.c: only served with TC_TEST_ROUTES=1 (TC_ROUTE_TEST) */
tc_status tc_api_test_echo(tc_http_req *req, tc_err *err);
tc_status tc_api_test_slow(tc_http_req *req, tc_err *err);
tc_status tc_api_test_stream(tc_http_req *req, tc_err *err);
tc_status tc_api_test_whoami(tc_http_req *req, tc_err *err);

#endif
