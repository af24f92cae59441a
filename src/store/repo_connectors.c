/* Repository: connectors, connector tools, user connections
 * (see repo_connectors.h). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/repo_connectors.h"
#include "store/repo_json.h"

#define NP(a) (sizeof(a) / sizeof((a)[0]))

static const char *jstr(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

/* JSON member as compact text (caller frees), NULL when absent. */
static char *jdump(const json_t *o, const char *k)
{
    const json_t *v = json_object_get(o, k);
    return v ? json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
}

/* ---- connectors ---- */

/* SELECT list shared by list/get; must match summary_cols. */
#define CONNECTOR_COLS                                                                   \
    "c.slug, c.name, c.description, c.category, c.auth_type, c.icon, c.docs_url, "      \
    "(SELECT COUNT(*) FROM connector_tools t WHERE t.connector_id = c.id), "            \
    "c.source, CASE WHEN c.mcp_url IS NOT NULL OR c.mcp_command IS NOT NULL "           \
    "THEN 'mcp' ELSE 'rest' END"

static const tc_col summary_cols[] = {
    {"slug", TC_COL_TEXT},     {"name", TC_COL_TEXT},      {"description", TC_COL_TEXT},
    {"category", TC_COL_TEXT}, {"auth_type", TC_COL_TEXT}, {"icon", TC_COL_TEXT},
    {"docs_url", TC_COL_TEXT}, {"tool_count", TC_COL_INT}, {"source", TC_COL_TEXT},
    {"kind", TC_COL_TEXT},
};

/* Visible to $1: built-in and enabled, or the user's own. */
#define VISIBLE "((c.owner_id IS NULL AND c.enabled = 1) OR c.owner_id = $1)"

static tc_status find_builtin_id(tc_db_conn *c, const char *slug, char id[37], tc_err *err)
{
    const tc_dbv p[] = {TC_DBV_STR(slug)};
    tc_db_rows *r = NULL;
    tc_status st = tc_db_query(c, "SELECT id FROM connectors WHERE owner_id IS NULL AND slug = $1",
                               p, NP(p), &r, err);
    if (st != TC_OK)
        return st;
    id[0] = '\0';
    if (tc_db_rows_next(r))
        snprintf(id, 37, "%s", tc_db_rows_text(r, 0));
    tc_db_rows_free(r);
    return TC_OK;
}

/* Writes the connector row columns shared by insert and update. */
static tc_status connector_write(tc_db_conn *c, const char *sql, const char *id,
                                 const char *owner, const json_t *def, int64_t now, tc_err *err)
{
    const json_t *mcp = json_object_get(def, "mcp");
    char *auth = jdump(def, "auth"), *health = jdump(def, "health");
    char *cmd = mcp ? jdump(mcp, "command") : NULL;
    char *whole = json_dumps(def, JSON_COMPACT);
    const json_t *en = json_object_get(def, "enabled");
    const tc_dbv p[] = {
        TC_DBV_STR(id),
        TC_DBV_STR(owner),
        TC_DBV_STR(jstr(def, "slug")),
        TC_DBV_STR(jstr(def, "name")),
        TC_DBV_STR(jstr(def, "description") ? jstr(def, "description") : ""),
        TC_DBV_STR(jstr(def, "category") ? jstr(def, "category") : "other"),
        TC_DBV_STR(jstr(def, "icon")),
        TC_DBV_STR(jstr(def, "docs_url")),
        TC_DBV_STR(jstr(def, "base_url")),
        TC_DBV_STR(jstr(json_object_get(def, "auth"), "type")),
        TC_DBV_STR(auth),
        TC_DBV_STR(mcp ? jstr(mcp, "url") : NULL),
        TC_DBV_STR(cmd),
        TC_DBV_STR(health),
        TC_DBV_BOOL(!en || json_is_true(en)),
        TC_DBV_STR(owner ? "custom" : "catalog"),
        TC_DBV_STR(whole),
        TC_DBV_I64(now),
    };
    tc_status st = tc_db_exec(c, sql, p, NP(p), NULL, err);
    free(auth);
    free(health);
    free(cmd);
    free(whole);
    return st;
}

static const char connector_insert_sql[] =
    "INSERT INTO connectors (id, owner_id, slug, name, description, category, icon, docs_url, "
    "base_url, auth_type, auth_config, mcp_url, mcp_command, health, enabled, source, definition, "
    "created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, "
    "$15, $16, $17, $18, $18)";

/* Updates of built-in connectors keep the administrator's enabled switch. */
static const char connector_update_sql[] =
    "UPDATE connectors SET name = $4, description = $5, category = $6, icon = $7, docs_url = $8, "
    "base_url = $9, auth_type = $10, auth_config = $11, mcp_url = $12, mcp_command = $13, "
    "health = $14, enabled = CASE WHEN $16 = 'custom' THEN $15 ELSE enabled END, source = $16, "
    "definition = $17, updated_at = $18 "
    "WHERE id = $1 AND (owner_id = $2 OR (CAST($2 AS TEXT) IS NULL AND owner_id IS NULL)) "
    "AND slug = $3";

/* Declared tools of a definition, in the shape tools_replace takes. */
static json_t *declared_tools(const json_t *def)
{
    json_t *out = json_array();
    const json_t *tools = json_object_get(def, "tools");
    bool mcp = json_object_get(def, "mcp") != NULL;
    for (size_t i = 0; i < json_array_size(tools); i++) {
        json_t *t = json_deep_copy(json_array_get(tools, i));
        json_object_set_new(t, "source", json_string(mcp ? "mcp" : "rest"));
        json_array_append_new(out, t);
    }
    return out;
}

tc_status tc_repo_connector_upsert_builtin(tc_db_conn *c, const json_t *def, int64_t now,
                                           tc_err *err)
{
    char id[37];
    tc_status st = find_builtin_id(c, jstr(def, "slug"), id, err);
    if (st != TC_OK)
        return st;
    bool fresh = id[0] == '\0';
    if (fresh)
        tc_uuid(id);
    st = connector_write(c, fresh ? connector_insert_sql : connector_update_sql, id, NULL, def,
                         now, err);
    if (st != TC_OK)
        return st;
    json_t *tools = declared_tools(def);
    if (json_array_size(tools) || !json_object_get(def, "mcp"))
        st = tc_repo_connector_tools_replace(c, id, tools, now, err);
    json_decref(tools);
    return st;
}

tc_status tc_repo_connector_insert_custom(tc_db_conn *c, const char *user_id, const json_t *def,
                                          int64_t now, tc_err *err)
{
    char existing[37];
    tc_status st = find_builtin_id(c, jstr(def, "slug"), existing, err);
    if (st != TC_OK)
        return st;
    if (existing[0])
        return tc_failc(err, TC_CONFLICT, "slug_taken", "slug",
                        "a catalog connector already uses the slug \"%s\"", jstr(def, "slug"));
    char id[37];
    tc_uuid(id);
    st = connector_write(c, connector_insert_sql, id, user_id, def, now, err);
    if (st == TC_CONFLICT)
        return tc_failc(err, TC_CONFLICT, "slug_taken", "slug",
                        "you already have a connector with the slug \"%s\"", jstr(def, "slug"));
    if (st != TC_OK)
        return st;
    json_t *tools = declared_tools(def);
    st = tc_repo_connector_tools_replace(c, id, tools, now, err);
    json_decref(tools);
    return st;
}

tc_status tc_repo_connector_delete_custom(tc_db_conn *c, const char *user_id, const char *slug,
                                          tc_err *err)
{
    const tc_dbv p[] = {TC_DBV_STR(user_id), TC_DBV_STR(slug)};
    int64_t n = 0;
    tc_status st = tc_db_exec(c, "DELETE FROM connectors WHERE owner_id = $1 AND slug = $2", p,
                              NP(p), &n, err);
    if (st == TC_OK && n == 0)
        return tc_failf(err, TC_NOT_FOUND, "slug", "no custom connector \"%s\" of yours", slug);
    return st;
}

tc_status tc_repo_connector_set_enabled(tc_db_conn *c, const char *slug, bool enabled,
                                        tc_err *err)
{
    const tc_dbv p[] = {TC_DBV_BOOL(enabled), TC_DBV_STR(slug), TC_DBV_I64(tc_now_ms())};
    int64_t n = 0;
    tc_status st = tc_db_exec(c,
                              "UPDATE connectors SET enabled = $1, updated_at = $3 "
                              "WHERE owner_id IS NULL AND slug = $2",
                              p, NP(p), &n, err);
    if (st == TC_OK && n == 0)
        return tc_failf(err, TC_NOT_FOUND, "slug", "no catalog connector \"%s\"", slug);
    return st;
}

/* "%q%" with LIKE metacharacters escaped by backslash, lower-cased. */
static char *like_pattern(const char *q)
{
    size_t n = strlen(q);
    char *out = tc_malloc(2 * n + 3), *o = out;
    *o++ = '%';
    for (const char *s = q; *s; s++) {
        if (*s == '%' || *s == '_' || *s == '\\')
            *o++ = '\\';
        *o++ = (*s >= 'A' && *s <= 'Z') ? (char)(*s + 32) : *s;
    }
    *o++ = '%';
    *o = '\0';
    return out;
}

/* Pops the extra row fetched to learn whether another page exists. */
static void page_cursor(json_t *items, int64_t limit, const char *key, char **next)
{
    *next = NULL;
    if ((int64_t)json_array_size(items) <= limit)
        return;
    json_array_remove(items, (size_t)limit);
    *next = tc_strdup(jstr(json_array_get(items, (size_t)limit - 1), key));
}

tc_status tc_repo_connector_list(tc_db_conn *c, const char *user_id,
                                 const tc_repo_connector_filter *f, json_t **items,
                                 char **next_cursor, tc_err *err)
{
    char *like = f->q && *f->q ? like_pattern(f->q) : NULL;
    const tc_dbv p[] = {TC_DBV_STR(user_id), TC_DBV_STR(f->category), TC_DBV_STR(f->auth_type),
                        TC_DBV_STR(like), TC_DBV_STR(f->cursor), TC_DBV_I64(f->limit + 1)};
    tc_status st = tc_db_query_json(
        c,
        "SELECT " CONNECTOR_COLS " FROM connectors c WHERE " VISIBLE
        " AND (CAST($2 AS TEXT) IS NULL OR c.category = $2)"
        " AND (CAST($3 AS TEXT) IS NULL OR c.auth_type = $3)"
        " AND (CAST($4 AS TEXT) IS NULL OR lower(c.slug) LIKE $4 ESCAPE '\\'"
        "      OR lower(c.name) LIKE $4 ESCAPE '\\' OR lower(c.description) LIKE $4 ESCAPE '\\')"
        " AND (CAST($5 AS TEXT) IS NULL OR c.slug > $5)"
        " ORDER BY c.slug LIMIT $6",
        p, NP(p), summary_cols, NP(summary_cols), (size_t)f->limit + 1, items, err);
    free(like);
    if (st == TC_OK)
        page_cursor(*items, f->limit, "slug", next_cursor);
    return st;
}

tc_status tc_repo_connector_categories(tc_db_conn *c, const char *user_id, json_t **out,
                                       tc_err *err)
{
    static const tc_col cols[] = {{"category", TC_COL_TEXT}, {"count", TC_COL_INT}};
    const tc_dbv p[] = {TC_DBV_STR(user_id)};
    return tc_db_query_json(c,
                            "SELECT c.category, COUNT(*) FROM connectors c WHERE " VISIBLE
                            " GROUP BY c.category ORDER BY c.category",
                            p, NP(p), cols, NP(cols), 1000, out, err);
}

/* ---- parsed definitions, reused while the row is unchanged ----
 * Every tool run and credential load reads its connector's definition;
 * parsing it each time was most of the cost of a credential load. Entries
 * are keyed by connector id and updated_at (ms), so an update (catalog sync,
 * admin switch, discovery) is seen on the next read. The JSON is shared and
 * must be treated as read-only (jansson's reference counts are atomic). */
#define DEFCACHE_SLOTS 256

typedef struct {
    char id[37];
    int64_t updated_at;
    json_t *def;
} defcache_slot;

static pthread_mutex_t defcache_mu = PTHREAD_MUTEX_INITIALIZER;
static defcache_slot defcache[DEFCACHE_SLOTS];

static size_t defcache_index(const char *id)
{
    uint64_t h = 1469598103934665603ull;
    for (; *id; id++)
        h = (h ^ (unsigned char)*id) * 1099511628211ull;
    return (size_t)(h % DEFCACHE_SLOTS);
}

/* A new reference to the parsed definition of (id, updated_at); on a
 * cache miss, parsed from text, or NULL when !parse. */
static json_t *definition_of(const char *id, int64_t updated_at, const char *text, bool parse)
{
    defcache_slot *slot = &defcache[defcache_index(id)];
    json_t *def = NULL;
    pthread_mutex_lock(&defcache_mu);
    if (slot->def && slot->updated_at == updated_at && !strcmp(slot->id, id))
        def = json_incref(slot->def);
    pthread_mutex_unlock(&defcache_mu);
    if (def || !parse)
        return def;
    def = text ? json_loads(text, 0, NULL) : NULL;
    if (!def)
        return json_object();
    pthread_mutex_lock(&defcache_mu);
    json_decref(slot->def);
    snprintf(slot->id, sizeof(slot->id), "%s", id);
    slot->updated_at = updated_at;
    slot->def = json_incref(def);
    pthread_mutex_unlock(&defcache_mu);
    return def;
}

tc_status tc_repo_connector_definition(tc_db_conn *c, const char *id, int64_t updated_at,
                                       json_t **out, tc_err *err)
{
    *out = definition_of(id, updated_at, NULL, false);
    if (*out)
        return TC_OK;
    const tc_dbv p[] = {TC_DBV_STR(id)};
    tc_db_rows *r = NULL;
    tc_status st = tc_db_query(c, "SELECT definition, updated_at FROM connectors WHERE id = $1", p,
                               NP(p), &r, err);
    if (st != TC_OK)
        return st;
    if (tc_db_rows_next(r))
        *out = definition_of(id, tc_db_rows_int(r, 1), tc_db_rows_text(r, 0), true);
    else
        st = tc_failf(err, TC_NOT_FOUND, "connector", "the connector was deleted");
    tc_db_rows_free(r);
    return st;
}

tc_status tc_repo_connector_get(tc_db_conn *c, const char *user_id, const char *slug,
                                tc_repo_connector *out, tc_err *err)
{
    memset(out, 0, sizeof(*out));
    const tc_dbv p[] = {TC_DBV_STR(user_id), TC_DBV_STR(slug)};
    tc_db_rows *r = NULL;
    tc_status st = tc_db_query(c,
                               "SELECT " CONNECTOR_COLS ", c.id, c.definition, c.updated_at "
                               "FROM connectors c "
                               "WHERE " VISIBLE " AND c.slug = $2 ORDER BY c.owner_id IS NULL",
                               p, NP(p), &r, err);
    if (st != TC_OK)
        return st;
    if (!tc_db_rows_next(r)) {
        st = tc_failf(err, TC_NOT_FOUND, "slug", "no connector \"%s\"", slug);
        goto out;
    }
    int ncols = (int)NP(summary_cols);
    out->summary = tc_db_row_json(r, summary_cols, NP(summary_cols));
    snprintf(out->id, sizeof(out->id), "%s", tc_db_rows_text(r, ncols));
    out->definition = definition_of(out->id, tc_db_rows_int(r, ncols + 2),
                                    tc_db_rows_text(r, ncols + 1), true);
    out->custom = !strcmp(jstr(out->summary, "source"), "custom");
out:
    tc_db_rows_free(r);
    return st;
}

void tc_repo_connector_clear(tc_repo_connector *rc)
{
    json_decref(rc->summary);
    json_decref(rc->definition);
    memset(rc, 0, sizeof(*rc));
}

tc_status tc_repo_connector_tools(tc_db_conn *c, const char *connector_id, json_t **out,
                                  tc_err *err)
{
    static const tc_col cols[] = {{"name", TC_COL_TEXT},
                                  {"description", TC_COL_TEXT},
                                  {"input_schema", TC_COL_JSON},
                                  {"source", TC_COL_TEXT}};
    const tc_dbv p[] = {TC_DBV_STR(connector_id)};
    return tc_db_query_json(c,
                            "SELECT name, description, input_schema, source FROM connector_tools "
                            "WHERE connector_id = $1 ORDER BY name",
                            p, NP(p), cols, NP(cols), 100000, out, err);
}

tc_status tc_repo_connector_tool(tc_db_conn *c, const char *connector_id, const char *name,
                                 json_t **out, tc_err *err)
{
    static const tc_col cols[] = {
        {"id", TC_COL_TEXT},          {"name", TC_COL_TEXT},   {"description", TC_COL_TEXT},
        {"input_schema", TC_COL_JSON}, {"source", TC_COL_TEXT}, {"request", TC_COL_JSON},
        {"timeout_ms", TC_COL_INT},   {"updated_at", TC_COL_INT}};
    const tc_dbv p[] = {TC_DBV_STR(connector_id), TC_DBV_STR(name)};
    json_t *rows = NULL;
    tc_status st = tc_db_query_json(c,
                                    "SELECT id, name, description, input_schema, source, request, "
                                    "timeout_ms, updated_at FROM connector_tools "
                                    "WHERE connector_id = $1 AND name = $2",
                                    p, NP(p), cols, NP(cols), 1, &rows, err);
    if (st != TC_OK)
        return st;
    if (json_array_size(rows) == 0) {
        json_decref(rows);
        return tc_failf(err, TC_NOT_FOUND, "tool", "no tool \"%s\" in this connector", name);
    }
    *out = json_incref(json_array_get(rows, 0));
    json_decref(rows);
    return TC_OK;
}

static tc_status tool_upsert(tc_db_conn *c, const char *connector_id, const json_t *t,
                             int64_t now, tc_err *err)
{
    char id[37];
    tc_uuid(id);
    char *schema = jdump(t, "input_schema"), *req = jdump(t, "request");
    const json_t *to = json_object_get(t, "timeout_ms");
    const tc_dbv p[] = {
        TC_DBV_STR(id),
        TC_DBV_STR(connector_id),
        TC_DBV_STR(jstr(t, "name")),
        TC_DBV_STR(jstr(t, "description") ? jstr(t, "description") : ""),
        TC_DBV_STR(schema ? schema : "{\"type\":\"object\"}"),
        TC_DBV_STR(jstr(t, "source") ? jstr(t, "source") : "rest"),
        TC_DBV_STR(req),
        json_is_integer(to) ? TC_DBV_I64(json_integer_value(to)) : TC_DBV_NULLV,
        TC_DBV_I64(now),
    };
    tc_status st = tc_db_exec(
        c,
        "INSERT INTO connector_tools (id, connector_id, name, description, input_schema, source, "
        "request, timeout_ms, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9) "
        "ON CONFLICT (connector_id, name) DO UPDATE SET description = excluded.description, "
        "input_schema = excluded.input_schema, source = excluded.source, request = excluded.request, "
        "timeout_ms = excluded.timeout_ms, updated_at = excluded.updated_at",
        p, NP(p), NULL, err);
    free(schema);
    free(req);
    return st;
}

static bool tools_has(const json_t *tools, const char *name)
{
    for (size_t i = 0; i < json_array_size(tools); i++)
        if (!strcmp(jstr(json_array_get(tools, i), "name"), name))
            return true;
    return false;
}

/* Deletes the connector's tools whose name is not in tools. */
static tc_status tools_prune(tc_db_conn *c, const char *connector_id, const json_t *tools,
                             tc_err *err)
{
    static const tc_col cols[] = {{"name", TC_COL_TEXT}};
    const tc_dbv p[] = {TC_DBV_STR(connector_id)};
    json_t *have = NULL;
    tc_status st = tc_db_query_json(c, "SELECT name FROM connector_tools WHERE connector_id = $1",
                                    p, NP(p), cols, NP(cols), 100000, &have, err);
    for (size_t i = 0; st == TC_OK && i < json_array_size(have); i++) {
        const char *name = jstr(json_array_get(have, i), "name");
        if (tools_has(tools, name))
            continue;
        const tc_dbv d[] = {TC_DBV_STR(connector_id), TC_DBV_STR(name)};
        st = tc_db_exec(c, "DELETE FROM connector_tools WHERE connector_id = $1 AND name = $2", d,
                        NP(d), NULL, err);
    }
    json_decref(have);
    return st;
}

tc_status tc_repo_connector_tools_replace(tc_db_conn *c, const char *connector_id,
                                          const json_t *tools, int64_t now, tc_err *err)
{
    tc_status st = tools_prune(c, connector_id, tools, err);
    for (size_t i = 0; st == TC_OK && i < json_array_size(tools); i++)
        st = tool_upsert(c, connector_id, json_array_get(tools, i), now, err);
    if (st != TC_OK)
        return st;
    const tc_dbv p[] = {TC_DBV_STR(connector_id), TC_DBV_I64(now)};
    return tc_db_exec(c, "UPDATE connectors SET tools_refreshed_at = $2 WHERE id = $1", p, NP(p),
                      NULL, err);
}

/* ---- connections ---- */

#define CONNECTION_COLS                                                                  \
    "uc.id, k.slug, uc.label, uc.status, uc.status_reason, uc.scopes, uc.expires_at, "  \
    "uc.created_at, uc.last_used_at, uc.created_at"

static const tc_col connection_cols[] = {
    {"id", TC_COL_TEXT},         {"connector", TC_COL_TEXT},  {"label", TC_COL_TEXT},
    {"status", TC_COL_TEXT},     {"status_reason", TC_COL_TEXT}, {"scopes", TC_COL_TEXT},
    {"expires_at", TC_COL_TIME}, {"created_at", TC_COL_TIME}, {"last_used_at", TC_COL_TIME},
    {"created_ms", TC_COL_SKIP},
};

tc_status tc_repo_connection_insert(tc_db_conn *c, const char *user_id,
                                    const tc_repo_connection_new *n, int64_t now, tc_err *err)
{
    char kid[16];
    snprintf(kid, sizeof(kid), "%u", n->key_id);
    const tc_dbv p[] = {
        TC_DBV_STR(n->id),
        TC_DBV_STR(user_id),
        TC_DBV_STR(n->connector_id),
        TC_DBV_STR(n->label ? n->label : ""),
        TC_DBV_STR(n->status),
        TC_DBV_STR(n->status_reason),
        TC_DBV_STR(n->scopes),
        n->expires_at ? TC_DBV_I64(n->expires_at) : TC_DBV_NULLV,
        n->secret ? TC_DBV_BLOBV(n->secret, n->secret_len) : TC_DBV_NULLV,
        n->secret ? TC_DBV_STR(kid) : TC_DBV_NULLV,
        TC_DBV_I64(now),
    };
    return tc_db_exec(c,
                      "INSERT INTO user_connections (id, user_id, connector_id, label, status, "
                      "status_reason, scopes, expires_at, secret, secret_key_id, created_at, "
                      "updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11)",
                      p, NP(p), NULL, err);
}

/* Cursor "created_ms.id" of the last item on a page. */
tc_status tc_repo_connection_list(tc_db_conn *c, const char *user_id, const char *cursor,
                                  int64_t limit, json_t **items, char **next_cursor,
                                  tc_err *err)
{
    int64_t cur_ms = INT64_MAX;
    char cur_id[37] = "~";
    if (cursor && *cursor) {
        long long ms;
        if (sscanf(cursor, "%lld.%36s", &ms, cur_id) != 2)
            return tc_failf(err, TC_BAD_REQUEST, "cursor", "cursor is not one this API returned");
        cur_ms = ms;
    }
    const tc_dbv p[] = {TC_DBV_STR(user_id), TC_DBV_I64(cur_ms), TC_DBV_STR(cur_id),
                        TC_DBV_I64(limit + 1)};
    tc_db_rows *r = NULL;
    tc_status st = tc_db_query(c,
                               "SELECT " CONNECTION_COLS " FROM user_connections uc "
                               "JOIN connectors k ON k.id = uc.connector_id WHERE uc.user_id = $1 "
                               "AND (uc.created_at < $2 OR (uc.created_at = $2 AND uc.id < $3)) "
                               "ORDER BY uc.created_at DESC, uc.id DESC LIMIT $4",
                               p, NP(p), &r, err);
    if (st != TC_OK)
        return st;
    *items = json_array();
    *next_cursor = NULL;
    int64_t last_ms = 0;
    while (tc_db_rows_next(r)) {
        if ((int64_t)json_array_size(*items) == limit) {
            const char *last_id = jstr(json_array_get(*items, (size_t)limit - 1), "id");
            *next_cursor = tc_asprintf("%lld.%s", (long long)last_ms, last_id);
            break;
        }
        json_array_append_new(*items, tc_db_row_json(r, connection_cols, NP(connection_cols)));
        last_ms = tc_db_rows_int(r, 9);
    }
    tc_db_rows_free(r);
    return TC_OK;
}

tc_status tc_repo_connection_get_json(tc_db_conn *c, const char *user_id, const char *id,
                                      json_t **out, tc_err *err)
{
    const tc_dbv p[] = {TC_DBV_STR(user_id), TC_DBV_STR(id)};
    json_t *rows = NULL;
    tc_status st = tc_db_query_json(c,
                                    "SELECT " CONNECTION_COLS " FROM user_connections uc "
                                    "JOIN connectors k ON k.id = uc.connector_id "
                                    "WHERE uc.user_id = $1 AND uc.id = $2",
                                    p, NP(p), connection_cols, NP(connection_cols), 1, &rows, err);
    if (st != TC_OK)
        return st;
    if (json_array_size(rows) == 0) {
        json_decref(rows);
        return tc_failf(err, TC_NOT_FOUND, "id", "no connection %s", id);
    }
    *out = json_incref(json_array_get(rows, 0));
    json_decref(rows);
    return TC_OK;
}

tc_status tc_repo_connection_get(tc_db_conn *c, const char *user_id, const char *id,
                                 tc_repo_connection *out, tc_err *err)
{
    memset(out, 0, sizeof(*out));
    const tc_dbv p[] = {TC_DBV_STR(user_id), TC_DBV_STR(id)};
    tc_db_rows *r = NULL;
    tc_status st = tc_db_query(c,
                               "SELECT uc.id, uc.connector_id, k.slug, uc.status, uc.secret, "
                               "uc.expires_at, k.updated_at FROM user_connections uc JOIN connectors k "
                               "ON k.id = uc.connector_id WHERE uc.user_id = $1 AND uc.id = $2",
                               p, NP(p), &r, err);
    if (st != TC_OK)
        return st;
    if (!tc_db_rows_next(r)) {
        st = tc_failf(err, TC_NOT_FOUND, "connection_id", "no connection %s", id);
        goto out;
    }
    snprintf(out->id, sizeof(out->id), "%s", tc_db_rows_text(r, 0));
    snprintf(out->connector_id, sizeof(out->connector_id), "%s", tc_db_rows_text(r, 1));
    snprintf(out->connector_slug, sizeof(out->connector_slug), "%s", tc_db_rows_text(r, 2));
    snprintf(out->status, sizeof(out->status), "%s", tc_db_rows_text(r, 3));
    size_t len = 0;
    const void *blob = tc_db_rows_blob(r, 4, &len);
    if (blob && len) {
        out->secret = tc_malloc(len);
        memcpy(out->secret, blob, len);
        out->secret_len = len;
    }
    out->expires_at = tc_db_rows_int(r, 5);
    out->connector_updated_at = tc_db_rows_int(r, 6);
out:
    tc_db_rows_free(r);
    return st;
}

void tc_repo_connection_clear(tc_repo_connection *rc)
{
    if (rc->secret)
        memset(rc->secret, 0, rc->secret_len);
    free(rc->secret);
    memset(rc, 0, sizeof(*rc));
}

static tc_status connection_update(tc_db_conn *c, const char *sql, const tc_dbv *p, size_t n,
                                   const char *id, tc_err *err)
{
    int64_t affected = 0;
    tc_status st = tc_db_exec(c, sql, p, n, &affected, err);
    if (st == TC_OK && affected == 0)
        return tc_failf(err, TC_NOT_FOUND, "id", "no connection %s", id);
    return st;
}

tc_status tc_repo_connection_set_status(tc_db_conn *c, const char *user_id, const char *id,
                                        const char *status, const char *reason, int64_t now,
                                        tc_err *err)
{
    const tc_dbv p[] = {TC_DBV_STR(user_id), TC_DBV_STR(id), TC_DBV_STR(status),
                        TC_DBV_STR(reason), TC_DBV_I64(now)};
    return connection_update(c,
                             "UPDATE user_connections SET status = $3, status_reason = $4, "
                             "updated_at = $5 WHERE user_id = $1 AND id = $2",
                             p, NP(p), id, err);
}

tc_status tc_repo_connection_revoke(tc_db_conn *c, const char *user_id, const char *id,
                                    int64_t now, tc_err *err)
{
    const tc_dbv p[] = {TC_DBV_STR(user_id), TC_DBV_STR(id), TC_DBV_I64(now)};
    return connection_update(c,
                             "UPDATE user_connections SET status = 'revoked', status_reason = "
                             "'disconnected by the user', secret = NULL, secret_key_id = NULL, "
                             "updated_at = $3 WHERE user_id = $1 AND id = $2",
                             p, NP(p), id, err);
}

tc_status tc_repo_connection_touch(tc_db_conn *c, const char *user_id, const char *id,
                                   int64_t now, tc_err *err)
{
    const tc_dbv p[] = {TC_DBV_STR(user_id), TC_DBV_STR(id), TC_DBV_I64(now)};
    return connection_update(c,
                             "UPDATE user_connections SET last_used_at = $3 "
                             "WHERE user_id = $1 AND id = $2",
                             p, NP(p), id, err);
}
