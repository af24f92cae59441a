/* MCP targets of connector definitions, and tool discovery. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "connections/conn_int.h"
#include "store/repo_connectors.h"
#include "store/repo_jobs.h"

#define DISCOVER_TIMEOUT_MS 20000
#define TOOLS_MAX 500

/* The credential the MCP server gets as a bearer token. */
static const char *bearer_of(const json_t *def, const json_t *secret)
{
    const char *type = json_string_value(json_object_get(json_object_get(def, "auth"), "type"));
    if (!type || !strcmp(type, "none"))
        return NULL;
    static const char *const keys[] = {"access_token", "token", "api_key"};
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        const char *v = json_string_value(json_object_get(secret, keys[i]));
        if (v)
            return v;
    }
    return NULL;
}

static tc_status stdio_target(const json_t *mcp, tc_mcp_target_buf *b, tc_err *err)
{
    const json_t *cmd = json_object_get(mcp, "command");
    size_t n = json_array_size(cmd);
    if (n == 0 || n >= TC_MCP_ARGV_MAX)
        return tc_failf(err, TC_BAD_REQUEST, "mcp.command", "the command must have 1..%d words",
                        TC_MCP_ARGV_MAX - 1);
    for (size_t i = 0; i < n; i++)
        b->argv[i] = json_string_value(json_array_get(cmd, i));
    b->argv[n] = NULL;
    const json_t *env = json_object_get(mcp, "env");
    b->env = tc_calloc(json_object_size(env) + 1, sizeof(char *));
    size_t i = 0;
    const char *k;
    const json_t *v;
    json_object_foreach((json_t *)env, k, v)
        b->env[i++] = tc_asprintf("%s=%s", k, json_string_value(v));
    b->target.transport = TC_MCP_STDIO;
    b->target.argv = b->argv;
    b->target.env = (const char *const *)b->env;
    return TC_OK;
}

tc_status tc_connection_mcp_target(const json_t *def, const json_t *secret, bool allow_stdio,
                                   tc_mcp_target_buf *b, tc_err *err)
{
    memset(b, 0, sizeof(*b));
    const json_t *mcp = json_object_get(def, "mcp");
    if (!json_is_object(mcp))
        return tc_failc(err, TC_CONFLICT, "not_mcp", "connector", "the connector is not an MCP server");
    b->target.bearer = bearer_of(def, secret);
    if (json_object_get(mcp, "command")) {
        if (!allow_stdio)
            return tc_failc(err, TC_FORBIDDEN, "stdio_disabled", "connector",
                            "stdio MCP servers are disabled by the administrator (TC_ALLOW_STDIO)");
        return stdio_target(mcp, b, err);
    }
    const char *tr = json_string_value(json_object_get(mcp, "transport"));
    b->target.transport = tr && !strcmp(tr, "sse") ? TC_MCP_SSE : TC_MCP_HTTP;
    b->target.url = json_string_value(json_object_get(mcp, "url"));
    return TC_OK;
}

void tc_mcp_target_buf_free(tc_mcp_target_buf *b)
{
    for (size_t i = 0; b->env && b->env[i]; i++)
        free(b->env[i]);
    free(b->env);
    memset(b, 0, sizeof(*b));
}

/* tools/list result -> the shape tc_repo_connector_tools_replace takes. */
static json_t *stored_tools(const json_t *listed, tc_err *err)
{
    json_t *out = json_array();
    for (size_t i = 0; i < json_array_size(listed) && i < TOOLS_MAX; i++) {
        const json_t *t = json_array_get(listed, i);
        const char *name = json_string_value(json_object_get(t, "name"));
        if (!name || !*name || strlen(name) > 128)
            continue; /* a nameless tool can't be called: leave it out */
        const json_t *schema = json_object_get(t, "inputSchema");
        json_t *row = json_pack("{s:s, s:s, s:O, s:s}", "name", name, "description",
                                json_string_value(json_object_get(t, "description"))
                                    ? json_string_value(json_object_get(t, "description")) : "",
                                "input_schema", json_is_object(schema) ? schema : json_pack("{s:s}", "type", "object"),
                                "source", "mcp");
        json_array_append_new(out, row);
    }
    (void)err;
    return out;
}

/* Credential for discovery: the given connection, or the newest active one;
 * NULL secret for auth none. */
static tc_status discovery_secret(tc_connections *cx, const char *user_id, const char *slug,
                                  const char *connector_id, const char *auth_type,
                                  const char *connection_id,
                                  tc_credential *cred, tc_err *err)
{
    memset(cred, 0, sizeof(*cred));
    if (!strcmp(auth_type, "none") && !connection_id)
        return TC_OK;
    char found[37] = "";
    if (!connection_id) {
        tc_db_conn *c = tc_db_acquire(cx->db);
        tc_status st = tc_repo_job_default_connection(c, user_id, connector_id, found, err);
        tc_db_release(c);
        if (st != TC_OK)
            return tc_failc(err, TC_CONFLICT, "no_connection", "connection_id",
                            "connect an account to %s first: discovery needs its credential", slug);
        connection_id = found;
    }
    tc_status st = tc_connection_credential(cx, user_id, connection_id, cred, err);
    if (st == TC_OK && strcmp(cred->connector_slug, slug)) {
        tc_credential_clear(cred);
        return tc_failc(err, TC_CONFLICT, "connection_mismatch", "connection_id",
                        "the connection belongs to another connector");
    }
    return st;
}

static tc_status list_tools(tc_connections *cx, const json_t *def, const json_t *secret,
                            const char *key, json_t **tools, tc_err *err)
{
    tc_mcp_target_buf tb;
    tc_status st = tc_connection_mcp_target(def, secret, cx->allow_stdio, &tb, err);
    tc_mcp_session *s = NULL;
    if (st == TC_OK)
        st = tc_mcp_session_get(cx->mcp, key, &tb.target, &s, err);
    if (st == TC_OK) {
        st = tc_mcp_list_tools(s, tools, err);
        tc_mcp_session_release(s);
    }
    tc_mcp_target_buf_free(&tb);
    return st;
}

tc_status tc_connector_discover(tc_connections *cx, const char *user_id, const char *slug,
                                const char *connection_id, json_t **out, tc_err *err)
{
    if (!cx->mcp)
        return tc_failf(err, TC_UNAVAILABLE, NULL, "the MCP client is not started");
    tc_repo_connector rc;
    tc_db_conn *c = tc_db_acquire(cx->db);
    tc_status st = tc_repo_connector_get(c, user_id, slug, &rc, err);
    tc_db_release(c);
    if (st != TC_OK)
        return st;
    tc_credential cred;
    json_t *listed = NULL;
    st = discovery_secret(cx, user_id, slug, rc.id,
                          json_string_value(json_object_get(rc.summary, "auth_type")), connection_id,
                          &cred, err);
    if (st == TC_OK) {
        char *key = tc_asprintf("discover|%s|%s", user_id ? user_id : "-", rc.id);
        st = list_tools(cx, rc.definition, cred.secret, key, &listed, err);
        free(key);
    }
    if (st == TC_OK) {
        json_t *tools = stored_tools(listed, err);
        c = tc_db_acquire(cx->db);
        st = tc_repo_connector_tools_replace(c, rc.id, tools, tc_now_ms(), err);
        tc_db_release(c);
        json_decref(tools);
    }
    json_decref(listed);
    tc_credential_clear(&cred);
    tc_repo_connector_clear(&rc);
    return st == TC_OK ? tc_connector_get_json(cx, user_id, slug, out, err) : st;
}
