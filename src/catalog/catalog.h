/* catalog: connector definitions (docs/catalog.md).
 * Parses and validates connector documents (shipped catalog/NAME.json files,
 * TC_CATALOG_PATH directories, and users' custom connectors), and keeps the
 * validated set in memory. Errors name the file and the JSON path of the bad
 * field. Storing definitions in the database is tc_catalog_sync(). */
#ifndef TC_CATALOG_H
#define TC_CATALOG_H

#include <jansson.h>
#include <stdbool.h>

#include "core/core.h"

/* A validated connector document. `doc` is the canonical JSON (owned);
 * the string fields borrow from it. */
typedef struct tc_connector {
    json_t *doc;
    const char *slug;
    const char *name;
    const char *category;
    const char *auth_type;   /* oauth2 | api_key | basic | bearer | none */
    const char *base_url;    /* NULL for MCP connectors */
    bool is_mcp;             /* has an "mcp" block */
    bool stdio;              /* MCP over a local command */
    char *origin;            /* file path or "custom" (owned) */
} tc_connector;

typedef enum { TC_CATALOG_BUILTIN, TC_CATALOG_CUSTOM } tc_catalog_kind;

/* Validates doc (borrowed; copied on success) as a connector definition.
 * origin names the source in messages ("catalog/github.json"). Custom
 * connectors (kind CUSTOM) may not use stdio unless allow_stdio. On failure
 * err->field holds the JSON path and err->message "origin: path: why". */
tc_status tc_catalog_parse(const json_t *doc, const char *origin, tc_catalog_kind kind,
                           bool allow_stdio, tc_connector **out, tc_err *err);
void tc_connector_free(tc_connector *c);

/* True for the auth types a connector may declare: oauth2, api_key, basic,
 * bearer, none (also the values of the connectors list's auth_type filter). */
bool tc_catalog_auth_type_valid(const char *type);

/* Tool lookup inside a validated connector: borrowed JSON of the tool. */
const json_t *tc_connector_tool(const tc_connector *c, const char *name);

/* The in-memory catalog: built-in connectors by slug. */
typedef struct tc_catalog tc_catalog;
tc_catalog *tc_catalog_new(void);
void tc_catalog_free(tc_catalog *cat);
/* Loads every *.json file of each directory in a colon-separated list, in
 * order; a later file with the same slug replaces the earlier one. A broken
 * file fails the whole load (the server must not start half-configured). */
tc_status tc_catalog_load_path(tc_catalog *cat, const char *dirs, tc_err *err);
/* Loads the connectors shipped inside the binary (catalog/NAME.json at build
 * time). */
tc_status tc_catalog_load_builtin(tc_catalog *cat, tc_err *err);
size_t tc_catalog_count(const tc_catalog *cat);
const tc_connector *tc_catalog_at(const tc_catalog *cat, size_t i);
const tc_connector *tc_catalog_get(const tc_catalog *cat, const char *slug);

#endif
