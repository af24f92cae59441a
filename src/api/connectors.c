/* /api/connectors, /api/categories and /api/connections: thin handlers over
 * the connections module. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "app/app.h"
#include "catalog/catalog.h"
#include "connections/connections.h"
#include "crypto/keys.h"
#include "events/events.h"
#include "store/repo_connectors.h"

static tc_connections *cx_of(tc_http_req *req)
{
    return ((tc_app *)req->ctx)->connections;
}

tc_status tc_api_connectors_list(tc_http_req *req, tc_err *err)
{
    tc_repo_connector_filter f = {
        .category = tc_http_query(req, "category"),
        .auth_type = tc_http_query(req, "auth_type"),
        .q = tc_http_query(req, "q"),
        .cursor = tc_http_query(req, "cursor"),
    };
    tc_status st = tc_http_query_int(req, "limit", 50, 1, TC_REPO_LIST_MAX, &f.limit, err);
    if (st != TC_OK)
        return st;
    if (f.auth_type && !tc_catalog_auth_type_valid(f.auth_type))
        return tc_failf(err, TC_BAD_REQUEST, "auth_type",
                        "auth_type must be oauth2, api_key, basic, bearer or none");
    if ((f.q && strlen(f.q) > 200) || (f.category && strlen(f.category) > 64))
        return tc_failf(err, TC_BAD_REQUEST, "q", "search text is limited to 200 bytes");
    json_t *items = NULL;
    char *next = NULL;
    tc_db_conn *c = tc_db_acquire(cx_of(req)->db);
    st = tc_repo_connector_list(c, req->user_id, &f, &items, &next, err);
    tc_db_release(c);
    return st == TC_OK ? tc_api__reply_list(req, items, next) : st;
}

tc_status tc_api_connectors_get(tc_http_req *req, tc_err *err)
{
    json_t *out = NULL;
    tc_status st = tc_connector_get_json(cx_of(req), req->user_id, tc_http_param(req, "slug"), &out, err);
    return st == TC_OK ? tc_http_reply_json(req, 200, out) : st;
}

tc_status tc_api_categories(tc_http_req *req, tc_err *err)
{
    json_t *items = NULL;
    tc_db_conn *c = tc_db_acquire(cx_of(req)->db);
    tc_status st = tc_repo_connector_categories(c, req->user_id, &items, err);
    tc_db_release(c);
    return st == TC_OK ? tc_api__reply_list(req, items, NULL) : st;
}

/* A custom MCP server without credentials gets its tools discovered at
 * once; with credentials, after connecting (POST .../discover). Discovery
 * trouble doesn't undo the creation: it is reported in "discovery". */
static tc_status create_connector_task(tc_api_task *t, json_t **out, tc_err *err)
{
    tc_connections *cx = t->app->connections;
    tc_status st = tc_connector_create_custom(cx, t->user_id, t->body, out, err);
    const char *kind = json_string_value(json_object_get(*out, "kind"));
    const char *auth = json_string_value(json_object_get(*out, "auth_type"));
    if (st != TC_OK || !kind || strcmp(kind, "mcp") || strcmp(auth, "none"))
        return st;
    json_t *found = NULL;
    tc_err derr;
    tc_err_clear(&derr);
    const char *slug = json_string_value(json_object_get(*out, "slug"));
    if (tc_connector_discover(cx, t->user_id, slug, NULL, &found, &derr) == TC_OK) {
        json_decref(*out);
        *out = found;
        json_object_set_new(*out, "discovery", json_pack("{s:b}", "ok", 1));
    } else {
        json_object_set_new(*out, "discovery", json_pack("{s:b, s:s}", "ok", 0, "error", derr.message));
    }
    return TC_OK;
}

tc_status tc_api_connectors_create(tc_http_req *req, tc_err *err)
{
    json_t *body = NULL;
    tc_status st = tc_http_json_body(req, &body, err);
    return st == TC_OK ? tc_api_offload(req, create_connector_task, NULL, body, 201, err) : st;
}

static tc_status discover_task(tc_api_task *t, json_t **out, tc_err *err)
{
    const char *conn = json_string_value(json_object_get(t->body, "connection_id"));
    return tc_connector_discover(t->app->connections, t->user_id, t->param, conn, out, err);
}

/* Body optional: {"connection_id": "..."} picks the credential. */
tc_status tc_api_connectors_discover(tc_http_req *req, tc_err *err)
{
    json_t *body = NULL;
    size_t len = 0;
    tc_http_body(req, &len);
    tc_status st = len ? tc_http_json_body(req, &body, err) : TC_OK;
    if (st == TC_OK && body && json_object_get(body, "connection_id") &&
        !json_is_string(json_object_get(body, "connection_id")))
        st = tc_failf(err, TC_VALIDATION, "connection_id", "must be a string");
    return st == TC_OK ? tc_api_offload(req, discover_task, tc_http_param(req, "slug"), body, 200, err) : st;
}

tc_status tc_api_connectors_delete(tc_http_req *req, tc_err *err)
{
    tc_db_conn *c = tc_db_acquire(cx_of(req)->db);
    tc_status st = tc_repo_connector_delete_custom(c, req->user_id, tc_http_param(req, "slug"), err);
    tc_db_release(c);
    return st == TC_OK ? tc_http_reply_empty(req, 204) : st;
}

/* ---- administration ---- */

/* PUT /api/admin/connectors/{slug} {"enabled": bool}: switch a catalog
 * connector on or off for everyone. A disabled connector disappears from
 * the catalog and its tools can't run; connections stay for when it is
 * switched back on. The switch survives restarts and catalog updates. */
tc_status tc_api_admin_connector_set(tc_http_req *req, tc_err *err)
{
    json_t *body = NULL;
    bool enabled = true;
    tc_status st = tc_http_json_body(req, &body, err);
    if (st == TC_OK)
        st = tc_json_bool(body, "enabled", true, &enabled, err);
    if (st != TC_OK)
        return st;
    const char *slug = tc_http_param(req, "slug");
    tc_db_conn *c = tc_db_acquire(cx_of(req)->db);
    st = tc_repo_connector_set_enabled(c, slug, enabled, err);
    tc_db_release(c);
    if (st != TC_OK)
        return st;
    char who[64];
    snprintf(who, sizeof(who), "%s", req->user_id);
    tc_log(TC_LOG_INFO, "catalog connector switched", "slug", slug, "enabled", enabled ? "1" : "0",
           "admin", who, NULL);
    return tc_http_reply_json(req, 200, json_pack("{s:s, s:b}", "slug", slug, "enabled", enabled));
}

/* ---- connections ---- */

/* Creating and testing call the provider: both run offloaded. */
static tc_status create_task(tc_api_task *t, json_t **out, tc_err *err)
{
    return tc_connection_create(t->app->connections, t->user_id, t->body, out, err);
}

static tc_status test_task(tc_api_task *t, json_t **out, tc_err *err)
{
    return tc_connection_test(t->app->connections, t->user_id, t->param, out, err);
}

tc_status tc_api_connections_create(tc_http_req *req, tc_err *err)
{
    json_t *body = NULL;
    tc_status st = tc_http_json_body(req, &body, err);
    return st == TC_OK ? tc_api_offload(req, create_task, NULL, body, 201, err) : st;
}

tc_status tc_api_connections_list(tc_http_req *req, tc_err *err)
{
    int64_t limit;
    tc_status st = tc_http_query_int(req, "limit", 50, 1, TC_REPO_LIST_MAX, &limit, err);
    if (st != TC_OK)
        return st;
    json_t *items = NULL;
    char *next = NULL;
    tc_db_conn *c = tc_db_acquire(cx_of(req)->db);
    st = tc_repo_connection_list(c, req->user_id, tc_http_query(req, "cursor"), limit, &items,
                                 &next, err);
    tc_db_release(c);
    return st == TC_OK ? tc_api__reply_list(req, items, next) : st;
}

tc_status tc_api_connections_get(tc_http_req *req, tc_err *err)
{
    json_t *out = NULL;
    tc_db_conn *c = tc_db_acquire(cx_of(req)->db);
    tc_status st = tc_repo_connection_get_json(c, req->user_id, tc_http_param(req, "id"), &out, err);
    tc_db_release(c);
    return st == TC_OK ? tc_http_reply_json(req, 200, out) : st;
}

tc_status tc_api_connections_test(tc_http_req *req, tc_err *err)
{
    return tc_api_offload(req, test_task, tc_http_param(req, "id"), NULL, 200, err);
}

tc_status tc_api_connections_delete(tc_http_req *req, tc_err *err)
{
    tc_status st = tc_connection_disconnect(cx_of(req), req->user_id, tc_http_param(req, "id"), err);
    return st == TC_OK ? tc_http_reply_empty(req, 204) : st;
}

/* ---- module start and stop ---- */

/* Shared services first (worker pool for offloaded handlers, the change
 * recorder), then the keyring, the catalog (built-in
 * plus TC_CATALOG_PATH) synced into the database, and the module context. */
tc_status tc_api_connections_init(tc_app *app, tc_err *err)
{
    app->work_pool = tc_pool_new(8, 1000);
    app->events = tc_events_new();
    tc_status st = tc_keyring_new(app->master_key, TC_MASTER_KEY_LEN, &app->keyring, err);
    if (st == TC_OK)
        st = tc_keys_load(app->db, app->keyring, true, err);
    if (st == TC_OK && strcmp(app->cfg.database_url, "sqlite::memory:"))
        st = tc_keys_watch_start(app->keyring, app->cfg.database_url, 0, &app->keys_watch, err);
    if (st != TC_OK)
        return st;
    app->catalog = tc_catalog_new();
    st = tc_catalog_load_builtin(app->catalog, err);
    if (st == TC_OK && app->cfg.catalog_path[0])
        st = tc_catalog_load_path(app->catalog, app->cfg.catalog_path, err);
    if (st == TC_OK)
        st = tc_connectors_sync(app->db, app->catalog, err);
    if (st != TC_OK)
        return st;
    tc_connections *cx = tc_calloc(1, sizeof(*cx));
    cx->db = app->db;
    cx->keyring = app->keyring;
    cx->allow_private = app->cfg.allow_private_targets;
    cx->allow_stdio = app->cfg.allow_stdio;
    cx->verify_timeout_ms = (int)app->cfg.provider_timeout_ms;
    cx->events = app->events;
    tc_mcp_pool_opts mo = {.allow_private = app->cfg.allow_private_targets};
    cx->mcp = tc_mcp_pool_new(&mo);
    app->connections = cx;
    char n[16];
    snprintf(n, sizeof(n), "%zu", tc_catalog_count(app->catalog));
    tc_log(TC_LOG_INFO, "catalog loaded", "connectors", n, NULL);
    return TC_OK;
}

void tc_api_connections_shutdown(tc_app *app)
{
    tc_pool_free(app->work_pool); /* runs what is queued; replies fail fast */
    app->work_pool = NULL;
    if (app->connections)
        tc_mcp_pool_free(app->connections->mcp);
    free(app->connections);
    app->connections = NULL;
    tc_catalog_free(app->catalog);
    app->catalog = NULL;
    tc_keys_watch_stop(app->keys_watch);
    app->keys_watch = NULL;
    tc_keyring_free(app->keyring);
    app->keyring = NULL;
    tc_events_free(app->events);
    app->events = NULL;
}
