/* store: connectors (built-in and custom), their tools, and users'
 * connections. Every function that touches user-owned rows takes the acting
 * user id and scopes its SQL to it; another user's row answers TC_NOT_FOUND
 * exactly like a missing one. Built-in connectors have owner_id NULL and are
 * visible to everyone while enabled; custom ones only to their owner. */
#ifndef TC_STORE_REPO_CONNECTORS_H
#define TC_STORE_REPO_CONNECTORS_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "store/db.h"

#define TC_REPO_LIST_MAX 200

/* ---- connectors ---------------------------------------------------------- */
/* Inserts or updates a built-in connector from its validated definition
 * (docs/catalog.md) and replaces its declared tools. MCP connectors keep
 * their discovered tools when the definition lists none. */
tc_status tc_repo_connector_upsert_builtin(tc_db_conn *c, const json_t *def, int64_t now,
                                           tc_err *err);
/* Custom connector owned by user_id. TC_CONFLICT (field "slug") when the
 * slug is taken by a built-in connector or another of the user's. */
tc_status tc_repo_connector_insert_custom(tc_db_conn *c, const char *user_id, const json_t *def,
                                          int64_t now, tc_err *err);
/* Deletes the user's own custom connector (its connections go with it). */
tc_status tc_repo_connector_delete_custom(tc_db_conn *c, const char *user_id, const char *slug,
                                          tc_err *err);
/* Administrator switch for a built-in connector. */
tc_status tc_repo_connector_set_enabled(tc_db_conn *c, const char *slug, bool enabled,
                                        tc_err *err);

typedef struct tc_repo_connector_filter {
    const char *category;   /* NULL = any */
    const char *auth_type;  /* NULL = any */
    const char *q;          /* substring of slug, name or description */
    const char *cursor;     /* slug after which to continue */
    int64_t limit;          /* 1..TC_REPO_LIST_MAX */
} tc_repo_connector_filter;

/* Summaries {slug, name, description, category, auth_type, icon, docs_url,
 * tool_count, source, kind} ordered by slug. *next_cursor (caller frees) is
 * NULL on the last page. */
tc_status tc_repo_connector_list(tc_db_conn *c, const char *user_id,
                                 const tc_repo_connector_filter *f, json_t **items,
                                 char **next_cursor, tc_err *err);
/* [{category, count}] of the connectors visible to the user. */
tc_status tc_repo_connector_categories(tc_db_conn *c, const char *user_id, json_t **out,
                                       tc_err *err);

typedef struct tc_repo_connector {
    char id[37];
    json_t *summary;     /* as in the list (owned) */
    json_t *definition;  /* the validated definition (a reference to a shared,
                            cached document: read it, never modify it) */
    bool custom;
} tc_repo_connector;
/* The connector visible to the user under slug; the user's own custom
 * connector wins over nothing else (slugs are unique across both). */
tc_status tc_repo_connector_get(tc_db_conn *c, const char *user_id, const char *slug,
                                tc_repo_connector *out, tc_err *err);
void tc_repo_connector_clear(tc_repo_connector *rc);

/* Tools of a connector as [{name, description, input_schema, source}]. */
tc_status tc_repo_connector_tools(tc_db_conn *c, const char *connector_id, json_t **out,
                                  tc_err *err);
/* One tool: {name, description, input_schema, source, request, timeout_ms}. */
tc_status tc_repo_connector_tool(tc_db_conn *c, const char *connector_id, const char *name,
                                 json_t **out, tc_err *err);
/* Replaces all tools (e.g. after MCP discovery). tools: array of objects
 * {name, description?, input_schema, source, request?, timeout_ms?}. */
tc_status tc_repo_connector_tools_replace(tc_db_conn *c, const char *connector_id,
                                          const json_t *tools, int64_t now, tc_err *err);

/* ---- connections ---------------------------------------------------------- */
typedef struct tc_repo_connection_new {
    const char *id;
    const char *connector_id;
    const char *label;
    const char *status;        /* pending | active | ... */
    const char *status_reason; /* may be NULL */
    const char *scopes;        /* space-separated, may be NULL */
    int64_t expires_at;        /* 0 = none */
    const unsigned char *secret; /* secret-box ciphertext, may be NULL */
    size_t secret_len;
    uint32_t key_id;
} tc_repo_connection_new;

tc_status tc_repo_connection_insert(tc_db_conn *c, const char *user_id,
                                    const tc_repo_connection_new *n, int64_t now, tc_err *err);
/* API shape {id, connector, label, status, status_reason, scopes,
 * expires_at, created_at, last_used_at}, newest first. */
tc_status tc_repo_connection_list(tc_db_conn *c, const char *user_id, const char *cursor,
                                  int64_t limit, json_t **items, char **next_cursor,
                                  tc_err *err);
tc_status tc_repo_connection_get_json(tc_db_conn *c, const char *user_id, const char *id,
                                      json_t **out, tc_err *err);

typedef struct tc_repo_connection {
    char id[37];
    char connector_id[37];
    char connector_slug[64];
    char status[16];
    unsigned char *secret;  /* ciphertext (owned, may be NULL) */
    size_t secret_len;
    int64_t expires_at;
    int64_t connector_updated_at; /* the connector row's version */
} tc_repo_connection;
tc_status tc_repo_connection_get(tc_db_conn *c, const char *user_id, const char *id,
                                 tc_repo_connection *out, tc_err *err);
/* The parsed definition of connector id at version updated_at (new
 * reference): from the process-wide cache without a query when that
 * version is cached, else read (the newest version) and cached. */
tc_status tc_repo_connector_definition(tc_db_conn *c, const char *id, int64_t updated_at,
                                       json_t **out, tc_err *err);
void tc_repo_connection_clear(tc_repo_connection *rc);
tc_status tc_repo_connection_set_status(tc_db_conn *c, const char *user_id, const char *id,
                                        const char *status, const char *reason, int64_t now,
                                        tc_err *err);
/* Disconnect: status revoked, secret deleted, row kept for history. */
tc_status tc_repo_connection_revoke(tc_db_conn *c, const char *user_id, const char *id,
                                    int64_t now, tc_err *err);
tc_status tc_repo_connection_touch(tc_db_conn *c, const char *user_id, const char *id,
                                   int64_t now, tc_err *err);

#endif
