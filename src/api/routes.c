/* The route table: every HTTP endpoint, in one place. Add one row per
 * endpoint; {name} matches one path segment (tc_http_param(req, "name")).
 * Order matters only between patterns that match the same path: the first
 * matching row wins, so put literal segments before {params}. */
#include "api/api.h"

#define N TC_AUTH_NONE
#define O TC_AUTH_OPTIONAL
#define R TC_AUTH_REQUIRED

const tc_route tc_api_routes[] = {
    /* method  pattern              handler            auth rate          flags */
    {"GET", "/healthz", tc_api_healthz, N, TC_RATE_NONE, 0},
    {"GET", "/readyz", tc_api_readyz, N, TC_RATE_NONE, 0},
    {"GET", "/metrics", tc_api_metrics, N, TC_RATE_NONE, 0},

    /* accounts */
    {"POST", "/api/auth/signup", tc_api_auth_signup, N, TC_RATE_AUTH, 0},
    {"POST", "/api/auth/login", tc_api_auth_login, N, TC_RATE_AUTH, 0},
    {"POST", "/api/auth/refresh", tc_api_auth_refresh, N, TC_RATE_AUTH, 0},
    {"POST", "/api/auth/logout", tc_api_auth_logout, R, TC_RATE_NONE, 0},
    {"GET", "/api/me", tc_api_me_get, R, TC_RATE_NONE, 0},
    {"DELETE", "/api/me", tc_api_me_delete, R, TC_RATE_NONE, 0},
    {"POST", "/api/me/password", tc_api_me_password, R, TC_RATE_AUTH, 0},
    {"GET", "/api/sessions", tc_api_sessions_list, R, TC_RATE_NONE, 0},
    {"DELETE", "/api/sessions/{id}", tc_api_sessions_delete, R, TC_RATE_NONE, 0},
    {"POST", "/api/api-keys", tc_api_api_keys_create, R, TC_RATE_NONE, 0},
    {"GET", "/api/api-keys", tc_api_api_keys_list, R, TC_RATE_NONE, 0},
    {"DELETE", "/api/api-keys/{id}", tc_api_api_keys_delete, R, TC_RATE_NONE, 0},

    /* catalog and connections */
    {"GET", "/api/connectors", tc_api_connectors_list, O, TC_RATE_NONE, 0},
    {"POST", "/api/connectors", tc_api_connectors_create, R, TC_RATE_API, 0},
    {"GET", "/api/connectors/{slug}", tc_api_connectors_get, O, TC_RATE_NONE, 0},
    {"DELETE", "/api/connectors/{slug}", tc_api_connectors_delete, R, TC_RATE_NONE, 0},
    {"POST", "/api/connectors/{slug}/discover", tc_api_connectors_discover, R, TC_RATE_API, 0},
    {"GET", "/api/categories", tc_api_categories, O, TC_RATE_NONE, 0},
    {"PUT", "/api/admin/connectors/{slug}", tc_api_admin_connector_set, R, TC_RATE_NONE, TC_ROUTE_ADMIN},
    {"POST", "/api/connections", tc_api_connections_create, R, TC_RATE_API, 0},
    {"GET", "/api/connections", tc_api_connections_list, R, TC_RATE_NONE, 0},
    {"GET", "/api/connections/{id}", tc_api_connections_get, R, TC_RATE_NONE, 0},
    {"POST", "/api/connections/{id}/test", tc_api_connections_test, R, TC_RATE_API, 0},
    {"DELETE", "/api/connections/{id}", tc_api_connections_delete, R, TC_RATE_NONE, 0},

    /* webhooks */
    {"POST", "/api/webhooks", tc_api_webhooks_create, R, TC_RATE_API, 0},
    {"GET", "/api/webhooks", tc_api_webhooks_list, R, TC_RATE_NONE, 0},
    {"GET", "/api/webhooks/{id}", tc_api_webhooks_get, R, TC_RATE_NONE, 0},
    {"PATCH", "/api/webhooks/{id}", tc_api_webhooks_update, R, TC_RATE_NONE, 0},
    {"DELETE", "/api/webhooks/{id}", tc_api_webhooks_delete, R, TC_RATE_NONE, 0},
    {"POST", "/api/webhooks/{id}/test", tc_api_webhooks_test, R, TC_RATE_API, 0},
    {"POST", "/api/webhooks/{id}/rotate-secret", tc_api_webhooks_rotate, R, TC_RATE_NONE, 0},
    {"GET", "/api/webhooks/{id}/deliveries", tc_api_webhooks_deliveries, R, TC_RATE_NONE, 0},
    {"POST", "/api/webhook-deliveries/{id}/retry", tc_api_webhook_delivery_retry, R, TC_RATE_API, 0},
    {"GET", "/api/webhook-event-types", tc_api_webhook_event_types, O, TC_RATE_NONE, 0},

    /* OAuth */
    {"POST", "/api/oauth/start", tc_api_oauth_start, R, TC_RATE_API, 0},
    {"GET", "/api/oauth/callback", tc_api_oauth_callback, N, TC_RATE_NONE, 0},
    {"PUT", "/api/admin/oauth-clients/{slug}", tc_api_oauth_client_put, R, TC_RATE_NONE, TC_ROUTE_ADMIN},

    /* running tools */
    {"POST", "/api/connectors/{slug}/tools/{tool}/execute", tc_api_jobs_execute, R, TC_RATE_TOOL, 0},
    {"GET", "/api/jobs", tc_api_jobs_list, R, TC_RATE_NONE, 0},
    {"GET", "/api/jobs/{id}", tc_api_jobs_get, R, TC_RATE_NONE, 0},
    {"POST", "/api/jobs/{id}/cancel", tc_api_jobs_cancel, R, TC_RATE_NONE, 0},
    {"GET", "/api/action-logs", tc_api_action_logs_list, R, TC_RATE_NONE, 0},

    /* scheduler */
    {"POST", "/api/schedules", tc_api_schedules_create, R, TC_RATE_API, 0},
    {"GET", "/api/schedules", tc_api_schedules_list, R, TC_RATE_NONE, 0},
    {"GET", "/api/schedules/{id}", tc_api_schedules_get, R, TC_RATE_NONE, 0},
    {"PATCH", "/api/schedules/{id}", tc_api_schedules_update, R, TC_RATE_API, 0},
    {"DELETE", "/api/schedules/{id}", tc_api_schedules_delete, R, TC_RATE_NONE, 0},
    {"GET", "/api/schedules/{id}/preview", tc_api_schedules_preview, R, TC_RATE_NONE, 0},
    {"POST", "/api/schedules/{id}/run", tc_api_schedules_run, R, TC_RATE_API, 0},
    {"POST", "/api/schedules/{id}/pause", tc_api_schedules_pause, R, TC_RATE_NONE, 0},
    {"POST", "/api/schedules/{id}/resume", tc_api_schedules_resume, R, TC_RATE_NONE, 0},
    {"GET", "/api/schedules/{id}/runs", tc_api_schedules_runs, R, TC_RATE_NONE, 0},
    {"POST", "/api/cron/preview", tc_api_cron_preview, R, TC_RATE_NONE, 0},

    /* health and notifications */
    {"GET", "/api/health", tc_api_health_list, R, TC_RATE_NONE, 0},
    {"POST", "/api/health/check", tc_api_health_check, R, TC_RATE_API, 0},
    {"GET", "/api/health/{slug}/history", tc_api_health_history, R, TC_RATE_NONE, 0},
    {"GET", "/api/notification-preferences", tc_api_notification_prefs_get, R, TC_RATE_NONE, 0},
    {"PUT", "/api/notification-preferences", tc_api_notification_prefs_put, R, TC_RATE_NONE, 0},

    /* live updates */
    {"GET", "/api/stream", tc_api_stream, O, TC_RATE_NONE, 0},
    {"POST", "/api/stream/ticket", tc_api_stream_ticket, R, TC_RATE_NONE, 0},

    /* test-only (TC_TEST_ROUTES=1) */
    {"POST", "/api/_test/oauth/connections/{id}/refresh", tc_api_test_oauth_refresh, R, TC_RATE_NONE, TC_ROUTE_TEST},
    {"POST", "/api/_test/oauth/connections/{id}/expire", tc_api_test_oauth_expire, R, TC_RATE_NONE, TC_ROUTE_TEST},
    {"POST", "/api/_test/oauth/transactions/{id}/expire", tc_api_test_oauth_tx_expire, R, TC_RATE_NONE, TC_ROUTE_TEST},
    {"POST", "/api/_test/echo", tc_api_test_echo, N, TC_RATE_NONE, TC_ROUTE_TEST},
    {"GET", "/api/_test/slow", tc_api_test_slow, N, TC_RATE_NONE, TC_ROUTE_TEST},
    {"GET", "/api/_test/stream", tc_api_test_stream, N, TC_RATE_NONE, TC_ROUTE_TEST},
    {"GET", "/api/_test/whoami", tc_api_test_whoami, O, TC_RATE_NONE, TC_ROUTE_TEST},
    {"GET", "/api/_test/notifications", tc_api_test_notifications, R, TC_RATE_NONE, TC_ROUTE_TEST},
    {"POST", "/api/_test/stream/publish", tc_api_test_stream_publish, R, TC_RATE_NONE, TC_ROUTE_TEST},
};

const size_t tc_api_nroutes = sizeof(tc_api_routes) / sizeof(tc_api_routes[0]);
