/* Connectors in the database: catalog sync and custom connectors. */
#include <stdlib.h>
#include <string.h>

#include "connections/conn_int.h"
#include "store/repo_connectors.h"

tc_status tc_connectors_sync(tc_db *db, const tc_catalog *cat, tc_err *err)
{
    tc_db_conn *c = tc_db_acquire(db);
    tc_status st = tc_db_begin(c, err);
    int64_t now = tc_now_ms();
    for (size_t i = 0; st == TC_OK && i < tc_catalog_count(cat); i++)
        st = tc_repo_connector_upsert_builtin(c, tc_catalog_at(cat, i)->doc, now, err);
    if (st == TC_OK)
        st = tc_db_commit(c, err);
    else
        tc_db_rollback(c);
    tc_db_release(c);
    return st;
}

/* Public parts of a definition shown with the connector (never secrets:
 * catalog files hold none, and OAuth client secrets live elsewhere). */
static void add_details(json_t *out, const json_t *def)
{
    static const char *const keys[] = {"base_url", "auth", "health", "docs_url"};
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        json_t *v = json_object_get(def, keys[i]);
        if (v)
            json_object_set(out, keys[i], v);
    }
    json_t *mcp = json_object_get(def, "mcp");
    if (mcp) {
        json_t *m = json_object();
        if (json_object_get(mcp, "url"))
            json_object_set(m, "url", json_object_get(mcp, "url"));
        json_object_set_new(m, "transport", json_string(json_object_get(mcp, "command") ? "stdio"
                                                        : json_object_get(mcp, "transport")
                                                            ? json_string_value(json_object_get(mcp, "transport"))
                                                            : "streamable-http"));
        json_object_set_new(out, "mcp", m);
    }
}

tc_status tc_connector_get_json(tc_connections *cx, const char *user_id, const char *slug,
                                json_t **out, tc_err *err)
{
    tc_db_conn *c = tc_db_acquire(cx->db);
    tc_repo_connector rc;
    json_t *tools = NULL;
    tc_status st = tc_repo_connector_get(c, user_id, slug, &rc, err);
    if (st == TC_OK)
        st = tc_repo_connector_tools(c, rc.id, &tools, err);
    tc_db_release(c);
    if (st == TC_OK) {
        *out = json_incref(rc.summary);
        add_details(*out, rc.definition);
        json_object_set_new(*out, "tools", tools);
    }
    tc_repo_connector_clear(&rc);
    return st;
}

/* Copies body[key] into def[as] when present. */
static void carry(json_t *def, const json_t *body, const char *key, const char *as)
{
    json_t *v = json_object_get(body, key);
    if (v && !json_is_null(v))
        json_object_set(def, as, v);
}

/* Turns the API body into a catalog definition (docs/catalog.md). */
static tc_status custom_definition(const json_t *body, json_t **out, tc_err *err)
{
    if (!json_is_object(body))
        return tc_failf(err, TC_VALIDATION, NULL, "the body must be a JSON object");
    const json_t *url = json_object_get(body, "mcp_url"), *cmd = json_object_get(body, "mcp_command");
    const json_t *base = json_object_get(body, "base_url");
    int kinds = (url != NULL) + (cmd != NULL) + (base != NULL);
    if (kinds != 1)
        return tc_failf(err, TC_VALIDATION, "mcp_url",
                        "give exactly one of mcp_url, mcp_command or base_url");
    const char *auth_type = json_string_value(json_object_get(body, "auth_type"));
    if (!auth_type)
        return tc_failf(err, TC_VALIDATION, "auth_type", "is required");
    json_t *def = json_object();
    carry(def, body, "slug", "slug");
    carry(def, body, "name", "name");
    json_object_set_new(def, "description", json_string(""));
    json_object_set_new(def, "category", json_string("custom"));
    carry(def, body, "description", "description");
    carry(def, body, "category", "category");
    carry(def, body, "icon", "icon");
    carry(def, body, "docs_url", "docs_url");
    carry(def, body, "headers", "headers");
    json_t *auth = json_deep_copy(json_object_get(body, "auth"));
    if (!json_is_object(auth)) {
        json_decref(auth);
        auth = json_object();
    }
    json_object_set_new(auth, "type", json_string(auth_type));
    json_object_set_new(def, "auth", auth);
    if (base) {
        carry(def, body, "base_url", "base_url");
        carry(def, body, "tools", "tools");
    } else {
        json_t *mcp = json_object();
        json_object_set(mcp, url ? "url" : "command", (json_t *)(url ? url : cmd));
        carry(mcp, body, "mcp_transport", "transport");
        json_object_set_new(def, "mcp", mcp);
    }
    *out = def;
    return TC_OK;
}

/* Maps the catalog validator's "origin: path: why" onto the API body's
 * field names (mcp.url -> mcp_url, mcp.command -> mcp_command). */
static void api_field(tc_err *err)
{
    if (!strcmp(err->field, "mcp.url"))
        snprintf(err->field, sizeof(err->field), "mcp_url");
    else if (!strncmp(err->field, "mcp.command", 11))
        snprintf(err->field, sizeof(err->field), "mcp_command");
    const char *prefix = "custom: ";
    size_t pl = strlen(prefix);
    if (!strncmp(err->message, prefix, pl))
        memmove(err->message, err->message + pl, strlen(err->message + pl) + 1);
}

tc_status tc_connector_create_custom(tc_connections *cx, const char *user_id, const json_t *body,
                                     json_t **out, tc_err *err)
{
    json_t *def = NULL;
    tc_connector *parsed = NULL;
    tc_status st = custom_definition(body, &def, err);
    if (st == TC_OK) {
        st = tc_catalog_parse(def, "custom", TC_CATALOG_CUSTOM, cx->allow_stdio, &parsed, err);
        if (st != TC_OK)
            api_field(err);
    }
    if (st == TC_OK) {
        tc_db_conn *c = tc_db_acquire(cx->db);
        st = tc_db_begin(c, err);
        if (st == TC_OK)
            st = tc_repo_connector_insert_custom(c, user_id, parsed->doc, tc_now_ms(), err);
        if (st == TC_OK)
            st = tc_db_commit(c, err);
        else
            tc_db_rollback(c);
        tc_db_release(c);
    }
    if (st == TC_OK)
        st = tc_connector_get_json(cx, user_id, parsed->slug, out, err);
    tc_connector_free(parsed);
    json_decref(def);
    return st;
}
