/* Validation of connector documents against the format in docs/catalog.md.
 * Each object is checked with a static table of field rules; anything the
 * tables can't say (one-of blocks, templates) has a small function. */
#include <ctype.h>
#include <string.h>

#include "catalog/catalog_int.h"

typedef enum { R_STRING, R_BOOL, R_INT, R_OBJECT, R_ARRAY, R_ANY } rule_type;

typedef struct {
    const char *name;
    rule_type type;
    bool required;
    size_t max_len;               /* strings */
    bool (*check)(const char *s); /* strings: extra syntax check */
    const char *expect;           /* message when check fails */
} field_rule;

typedef struct {
    const char *origin;
    tc_err *err;
} vctx;

static tc_status failv(vctx *v, const char *path, const char *why)
{
    return tc_failf(v->err, TC_VALIDATION, path, "%s: %s: %s", v->origin, path, why);
}

static bool is_slug(const char *s)
{
    size_t n = strlen(s);
    if (n < 2 || n > 63 || !(islower((unsigned char)s[0]) || isdigit((unsigned char)s[0])))
        return false;
    for (size_t i = 0; i < n; i++)
        if (!(islower((unsigned char)s[i]) || isdigit((unsigned char)s[i]) || s[i] == '-'))
            return false;
    return true;
}

static bool is_category(const char *s)
{
    for (const char *p = s; *p; p++)
        if (!(islower((unsigned char)*p) || isdigit((unsigned char)*p) || *p == '-'))
            return false;
    return *s != '\0';
}

static bool is_http_url(const char *s)
{
    return (!strncmp(s, "https://", 8) && s[8]) || (!strncmp(s, "http://", 7) && s[7]);
}

/* OAuth endpoints must be https; plain http only to a loopback host (local
 * development and tests, as RFC 8252 allows for loopback redirects). */
static bool is_https_or_loopback(const char *s)
{
    if (!strncmp(s, "https://", 8) && s[8])
        return true;
    static const char *const loopback[] = {"http://127.0.0.1:", "http://127.0.0.1/", "http://localhost:",
                                           "http://localhost/", "http://[::1]:"};
    for (size_t i = 0; i < sizeof(loopback) / sizeof(loopback[0]); i++)
        if (!strncmp(s, loopback[i], strlen(loopback[i])))
            return true;
    return false;
}

static bool is_tool_name(const char *s)
{
    size_t n = strlen(s);
    if (n < 1 || n > 64)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!(isalnum((unsigned char)s[i]) || strchr("_.-", s[i])))
            return false;
    return true;
}

bool tc_catalog_auth_type_valid(const char *s)
{
    static const char *const types[] = {"oauth2", "api_key", "basic", "bearer", "none"};
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
        if (!strcmp(s, types[i]))
            return true;
    return false;
}

static bool is_method_or_placeholder(const char *s)
{
    static const char *const methods[] = {"GET", "POST", "PUT", "PATCH", "DELETE"};
    for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
        if (!strcmp(s, methods[i]))
            return true;
    return tc_catalog__placeholder(s) != NULL;
}

static bool is_token_auth(const char *s)
{
    return !strcmp(s, "client_secret_basic") || !strcmp(s, "client_secret_post") || !strcmp(s, "none");
}

static bool is_token_body(const char *s)
{
    return !strcmp(s, "form") || !strcmp(s, "json");
}

static const char *type_name(rule_type t)
{
    static const char *const names[] = {"a string", "a boolean", "an integer", "an object", "an array", "a value"};
    return names[t];
}

static bool type_ok(const json_t *v, rule_type t)
{
    switch (t) {
    case R_STRING: return json_is_string(v);
    case R_BOOL: return json_is_boolean(v);
    case R_INT: return json_is_integer(v);
    case R_OBJECT: return json_is_object(v);
    case R_ARRAY: return json_is_array(v);
    case R_ANY: return true;
    }
    return false;
}

/* Checks obj against rules; unknown keys are rejected so typos surface. */
static tc_status check_fields(vctx *v, const json_t *obj, const char *path,
                              const field_rule *rules, size_t n)
{
    char fpath[TC_ERR_FIELD_MAX];
    for (size_t i = 0; i < n; i++) {
        const field_rule *r = &rules[i];
        const json_t *f = json_object_get(obj, r->name);
        snprintf(fpath, sizeof(fpath), "%s%s%s", path, *path ? "." : "", r->name);
        if (!f || json_is_null(f)) {
            if (r->required)
                return failv(v, fpath, "is required");
            continue;
        }
        if (!type_ok(f, r->type)) {
            char why[64];
            snprintf(why, sizeof(why), "must be %s", type_name(r->type));
            return failv(v, fpath, why);
        }
        if (r->type != R_STRING)
            continue;
        const char *s = json_string_value(f);
        if (r->max_len && strlen(s) > r->max_len)
            return failv(v, fpath, "is too long");
        if (r->check && !r->check(s))
            return failv(v, fpath, r->expect);
    }
    const char *key;
    const json_t *val;
    json_object_foreach((json_t *)obj, key, val) {
        bool known = false;
        for (size_t i = 0; i < n && !known; i++)
            known = !strcmp(rules[i].name, key);
        if (!known) {
            snprintf(fpath, sizeof(fpath), "%s%s%s", path, *path ? "." : "", key);
            return failv(v, fpath, "is not a known field (see docs/catalog.md)");
        }
    }
    return TC_OK;
}

#define NRULES(r) (sizeof(r) / sizeof((r)[0]))

static const field_rule top_rules[] = {
    {"slug", R_STRING, true, 63, is_slug, "must match ^[a-z0-9][a-z0-9-]{1,62}$"},
    {"name", R_STRING, true, 100, NULL, NULL},
    {"description", R_STRING, true, 2000, NULL, NULL},
    {"category", R_STRING, true, 64, is_category, "must be lowercase letters, digits and dashes"},
    {"icon", R_STRING, false, 512, NULL, NULL},
    {"docs_url", R_STRING, false, 2048, is_http_url, "must be an http(s) URL"},
    {"base_url", R_STRING, false, 2048, is_http_url, "must be an http(s) URL"},
    {"auth", R_OBJECT, true, 0, NULL, NULL},
    {"headers", R_OBJECT, false, 0, NULL, NULL},
    {"health", R_OBJECT, false, 0, NULL, NULL},
    {"mcp", R_OBJECT, false, 0, NULL, NULL},
    {"tools", R_ARRAY, false, 0, NULL, NULL},
    {"enabled", R_BOOL, false, 0, NULL, NULL},
};

static const field_rule oauth_rules[] = {
    {"type", R_STRING, true, 0, tc_catalog_auth_type_valid,
     "must be oauth2, api_key, basic, bearer or none"},
    {"authorization_url", R_STRING, true, 2048, is_http_url, "must be an http(s) URL"},
    {"token_url", R_STRING, true, 2048, is_http_url, "must be an http(s) URL"},
    {"revocation_url", R_STRING, false, 2048, is_http_url, "must be an http(s) URL"},
    {"scopes", R_ARRAY, false, 0, NULL, NULL},
    {"scope_separator", R_STRING, false, 4, NULL, NULL},
    {"scope_param", R_STRING, false, 64, NULL, NULL},
    {"pkce", R_BOOL, false, 0, NULL, NULL},
    {"token_auth", R_STRING, false, 0, is_token_auth,
     "must be client_secret_basic, client_secret_post or none"},
    {"token_body", R_STRING, false, 0, is_token_body, "must be form or json"},
    {"authorize_params", R_OBJECT, false, 0, NULL, NULL},
    {"token_params", R_OBJECT, false, 0, NULL, NULL},
    {"token_headers", R_OBJECT, false, 0, NULL, NULL},
    {"token_response", R_OBJECT, false, 0, NULL, NULL},
    {"inject", R_OBJECT, false, 0, NULL, NULL},
};

static const field_rule key_rules[] = {
    {"type", R_STRING, true, 0, tc_catalog_auth_type_valid,
     "must be oauth2, api_key, basic, bearer or none"},
    {"inject", R_OBJECT, false, 0, NULL, NULL},
    {"verify", R_OBJECT, false, 0, NULL, NULL},
    {"fields", R_OBJECT, false, 0, NULL, NULL},
};

static const field_rule inject_rules[] = {
    {"header", R_STRING, false, 128, NULL, NULL},
    {"format", R_STRING, false, 256, NULL, NULL},
    {"query", R_STRING, false, 128, NULL, NULL},
};

static const field_rule verify_rules[] = {
    {"method", R_STRING, true, 0, is_method_or_placeholder, "must be GET, POST, PUT, PATCH or DELETE"},
    {"path", R_STRING, true, 2048, NULL, NULL},
};

static const field_rule health_rules[] = {
    {"url", R_STRING, false, 2048, is_http_url, "must be an http(s) URL"},
    {"mcp", R_STRING, false, 16, NULL, NULL},
};

static const field_rule mcp_rules[] = {
    {"url", R_STRING, false, 2048, is_http_url, "must be an http(s) URL"},
    {"transport", R_STRING, false, 32, NULL, NULL},
    {"command", R_ARRAY, false, 0, NULL, NULL},
    {"env", R_OBJECT, false, 0, NULL, NULL},
};

static const field_rule tool_rules[] = {
    {"name", R_STRING, true, 64, is_tool_name, "must match ^[a-zA-Z0-9_.-]{1,64}$"},
    {"description", R_STRING, false, 4000, NULL, NULL},
    {"input_schema", R_OBJECT, true, 0, NULL, NULL},
    {"timeout_ms", R_INT, false, 0, NULL, NULL},
    {"request", R_OBJECT, false, 0, NULL, NULL},
};

static const field_rule request_rules[] = {
    {"method", R_STRING, true, 16, is_method_or_placeholder, "must be GET, POST, PUT, PATCH, DELETE or a {placeholder}"},
    {"path", R_STRING, false, 2048, NULL, NULL},
    {"url", R_STRING, false, 2048, NULL, NULL},
    {"query", R_ANY, false, 0, NULL, NULL},
    {"body", R_ANY, false, 0, NULL, NULL},
    {"form", R_OBJECT, false, 0, NULL, NULL},
    {"headers", R_ANY, false, 0, NULL, NULL},
    {"result", R_STRING, false, 512, NULL, NULL},
};

static tc_status check_string_map(vctx *v, const json_t *obj, const char *path)
{
    const char *key;
    const json_t *val;
    char fpath[TC_ERR_FIELD_MAX];
    json_object_foreach((json_t *)obj, key, val) {
        if (json_is_string(val))
            continue;
        snprintf(fpath, sizeof(fpath), "%s.%s", path, key);
        return failv(v, fpath, "must be a string");
    }
    return TC_OK;
}

static tc_status check_string_array(vctx *v, const json_t *arr, const char *path, size_t min)
{
    char fpath[TC_ERR_FIELD_MAX];
    if (json_array_size(arr) < min)
        return failv(v, path, "must not be empty");
    for (size_t i = 0; i < json_array_size(arr); i++) {
        if (json_is_string(json_array_get(arr, i)))
            continue;
        snprintf(fpath, sizeof(fpath), "%s[%zu]", path, i);
        return failv(v, fpath, "must be a string");
    }
    return TC_OK;
}

static tc_status check_inject(vctx *v, const json_t *auth)
{
    const json_t *inj = json_object_get(auth, "inject");
    if (!inj)
        return TC_OK;
    tc_status st = check_fields(v, inj, "auth.inject", inject_rules, NRULES(inject_rules));
    if (st != TC_OK)
        return st;
    bool header = json_object_get(inj, "header") != NULL;
    bool query = json_object_get(inj, "query") != NULL;
    if (header == query)
        return failv(v, "auth.inject", "must have exactly one of header or query");
    return TC_OK;
}

static tc_status check_oauth(vctx *v, const json_t *auth)
{
    tc_status st = check_fields(v, auth, "auth", oauth_rules, NRULES(oauth_rules));
    if (st == TC_OK && json_object_get(auth, "scopes"))
        st = check_string_array(v, json_object_get(auth, "scopes"), "auth.scopes", 0);
    static const char *const maps[] = {"authorize_params", "token_params", "token_headers", "token_response"};
    for (size_t i = 0; st == TC_OK && i < NRULES(maps); i++) {
        const json_t *m = json_object_get(auth, maps[i]);
        char path[64];
        snprintf(path, sizeof(path), "auth.%s", maps[i]);
        if (m)
            st = check_string_map(v, m, path);
    }
    if (st == TC_OK && !is_https_or_loopback(json_string_value(json_object_get(auth, "token_url"))))
        st = failv(v, "auth.token_url", "must be an https URL (http only on loopback)");
    return st == TC_OK ? check_inject(v, auth) : st;
}

static tc_status check_auth(vctx *v, const json_t *auth)
{
    const json_t *type = json_object_get(auth, "type");
    if (!json_is_string(type) || !tc_catalog_auth_type_valid(json_string_value(type)))
        return failv(v, "auth.type", "must be oauth2, api_key, basic, bearer or none");
    if (!strcmp(json_string_value(type), "oauth2"))
        return check_oauth(v, auth);
    tc_status st = check_fields(v, auth, "auth", key_rules, NRULES(key_rules));
    if (st == TC_OK && json_object_get(auth, "verify"))
        st = check_fields(v, json_object_get(auth, "verify"), "auth.verify", verify_rules,
                          NRULES(verify_rules));
    if (st == TC_OK && json_object_get(auth, "fields"))
        st = check_string_map(v, json_object_get(auth, "fields"), "auth.fields");
    return st == TC_OK ? check_inject(v, auth) : st;
}

static tc_status check_mcp(vctx *v, const json_t *mcp, tc_catalog_kind kind, bool allow_stdio)
{
    tc_status st = check_fields(v, mcp, "mcp", mcp_rules, NRULES(mcp_rules));
    if (st != TC_OK)
        return st;
    const json_t *url = json_object_get(mcp, "url"), *cmd = json_object_get(mcp, "command");
    if (!url == !cmd)
        return failv(v, "mcp", "must have exactly one of url or command");
    const json_t *tr = json_object_get(mcp, "transport");
    if (tr && strcmp(json_string_value(tr), "streamable-http") && strcmp(json_string_value(tr), "sse"))
        return failv(v, "mcp.transport", "must be streamable-http or sse");
    if (!cmd)
        return TC_OK;
    if (kind == TC_CATALOG_CUSTOM && !allow_stdio)
        return tc_failf(v->err, TC_FORBIDDEN, "mcp_command",
                        "stdio MCP commands are disabled by the administrator (TC_ALLOW_STDIO)");
    st = check_string_array(v, cmd, "mcp.command", 1);
    if (st == TC_OK && json_object_get(mcp, "env"))
        st = check_string_map(v, json_object_get(mcp, "env"), "mcp.env");
    return st;
}

/* path + "." + name into out (truncated silently: paths are for messages). */
static const char *subpath(char *out, size_t cap, const char *path, const char *name)
{
    int n = snprintf(out, cap, "%s%s%s", path, *path ? "." : "", name);
    if (n < 0 || (size_t)n >= cap)
        out[cap - 1] = '\0';
    return out;
}

static tc_status check_request(vctx *v, const json_t *req, const char *path)
{
    tc_status st = check_fields(v, req, path, request_rules, NRULES(request_rules));
    if (st != TC_OK)
        return st;
    char fpath[TC_ERR_FIELD_MAX];
    bool has_path = json_object_get(req, "path") != NULL, has_url = json_object_get(req, "url") != NULL;
    if (has_path == has_url) {
        return failv(v, path, "must have exactly one of path or url");
    }
    if (json_object_get(req, "body") && json_object_get(req, "form")) {
        return failv(v, subpath(fpath, sizeof(fpath), path, "form"), "cannot be combined with body");
    }
    const char *p = json_string_value(json_object_get(req, has_path ? "path" : "url"));
    subpath(fpath, sizeof(fpath), path, has_path ? "path" : "url");
    if (has_path && p[0] != '/')
        return failv(v, fpath, "must start with /");
    if (has_url && !tc_catalog__placeholder(p) && !is_http_url(p))
        return failv(v, fpath, "must be an http(s) URL or a {placeholder}");
    const json_t *res = json_object_get(req, "result");
    if (res && json_string_value(res)[0] && json_string_value(res)[0] != '/') {
        return failv(v, subpath(fpath, sizeof(fpath), path, "result"),
                     "must be a JSON pointer starting with /");
    }
    return TC_OK;
}

static tc_status check_tool(vctx *v, const json_t *tool, size_t i, bool rest)
{
    char path[64];
    snprintf(path, sizeof(path), "tools[%zu]", i);
    if (!json_is_object(tool))
        return failv(v, path, "must be an object");
    tc_status st = check_fields(v, tool, path, tool_rules, NRULES(tool_rules));
    if (st != TC_OK)
        return st;
    char fpath[TC_ERR_FIELD_MAX];
    const json_t *schema = json_object_get(tool, "input_schema");
    const json_t *type = json_object_get(schema, "type");
    snprintf(fpath, sizeof(fpath), "%s.input_schema", path);
    if (!type || !json_is_string(type) || strcmp(json_string_value(type), "object"))
        return failv(v, fpath, "must describe an object (\"type\": \"object\")");
    char why[TC_ERR_MSG_MAX];
    if (tc_catalog__schema_check(schema, why, sizeof(why)) != TC_OK)
        return failv(v, fpath, why);
    json_int_t to = json_integer_value(json_object_get(tool, "timeout_ms"));
    snprintf(fpath, sizeof(fpath), "%s.timeout_ms", path);
    if (json_object_get(tool, "timeout_ms") && (to < 100 || to > 3600000))
        return failv(v, fpath, "must be between 100 and 3600000");
    const json_t *req = json_object_get(tool, "request");
    snprintf(fpath, sizeof(fpath), "%s.request", path);
    if (rest && !req)
        return failv(v, fpath, "is required for REST connectors");
    if (!rest && req)
        return failv(v, fpath, "is only for REST connectors");
    return req ? check_request(v, req, fpath) : TC_OK;
}

static tc_status check_tools(vctx *v, const json_t *tools, bool rest)
{
    if (json_array_size(tools) > TC_CATALOG_MAX_TOOLS)
        return failv(v, "tools", "has too many tools");
    for (size_t i = 0; i < json_array_size(tools); i++) {
        tc_status st = check_tool(v, json_array_get(tools, i), i, rest);
        if (st != TC_OK)
            return st;
        const char *name = json_string_value(json_object_get(json_array_get(tools, i), "name"));
        for (size_t j = 0; j < i; j++) {
            if (strcmp(name, json_string_value(json_object_get(json_array_get(tools, j), "name"))))
                continue;
            char path[64];
            snprintf(path, sizeof(path), "tools[%zu].name", i);
            return failv(v, path, "duplicates an earlier tool name");
        }
    }
    return TC_OK;
}

tc_status tc_catalog__validate(const json_t *doc, const char *origin, tc_catalog_kind kind,
                               bool allow_stdio, tc_err *err)
{
    vctx v = {origin, err};
    if (!json_is_object(doc))
        return failv(&v, "$", "must be a JSON object");
    tc_status st = check_fields(&v, doc, "", top_rules, NRULES(top_rules));
    if (st == TC_OK)
        st = check_auth(&v, json_object_get(doc, "auth"));
    if (st == TC_OK && json_object_get(doc, "headers"))
        st = check_string_map(&v, json_object_get(doc, "headers"), "headers");
    if (st == TC_OK && json_object_get(doc, "health"))
        st = check_fields(&v, json_object_get(doc, "health"), "health", health_rules, NRULES(health_rules));
    if (st != TC_OK)
        return st;
    const json_t *mcp = json_object_get(doc, "mcp");
    if (mcp && (st = check_mcp(&v, mcp, kind, allow_stdio)) != TC_OK)
        return st;
    if (!mcp && !json_object_get(doc, "base_url"))
        return failv(&v, "base_url", "is required for REST connectors (or give an mcp block)");
    if (!mcp && !json_object_get(doc, "tools"))
        return failv(&v, "tools", "is required for REST connectors");
    const json_t *tools = json_object_get(doc, "tools");
    return tools ? check_tools(&v, tools, mcp == NULL) : TC_OK;
}
