/* Internal to the catalog module. */
#ifndef TC_CATALOG_INT_H
#define TC_CATALOG_INT_H

#include "catalog/catalog.h"

#define TC_CATALOG_MAX_TOOLS 500
#define TC_CATALOG_MAX_FILE (4 * 1024 * 1024)
#define TC_CATALOG_MAX_CONNECTORS 10000

/* The shipped catalog/NAME.json files, embedded at build time (catalog_gen.c). */
typedef struct tc_catalog_file {
    const char *name;
    const char *text;
} tc_catalog_file;
extern const tc_catalog_file tc_catalog__builtin[];
extern const size_t tc_catalog__nbuiltin;

tc_status tc_catalog__validate(const json_t *doc, const char *origin, tc_catalog_kind kind,
                               bool allow_stdio, tc_err *err);
/* "{name}" -> "name" (static buffer per thread), else NULL. */
const char *tc_catalog__placeholder(const char *s);
/* Compiles the schema; on failure writes why. */
tc_status tc_catalog__schema_check(const json_t *schema, char *why, size_t whylen);

#endif
