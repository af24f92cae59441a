/* jsonschema: JSON Schema validation (drafts 2020-12 and 07) for tool inputs.
 *
 *   tc_err err;
 *   tc_jsonschema *s = tc_jsonschema_compile(schema_json, NULL, &err);
 *   if (!s) -> err.message says what is wrong with the schema, err.field where
 *   json_t *errors = NULL;
 *   tc_status st = tc_jsonschema_validate(s, instance, &errors);
 *   st == TC_OK: valid; otherwise errors is a JSON array of
 *     {"path": "/items/0/name", "schema_path": "/properties/items/...",
 *      "keyword": "required", "message": "is required"}
 *   -> usable as the "details" of a 422 answer (see docs/jsonschema.md).
 *   json_decref(errors); tc_jsonschema_free(s);
 *
 * A compiled schema is immutable and may be used from many threads at once.
 * See docs/jsonschema.md for keywords, limits and known gaps. */
#ifndef TC_JSONSCHEMA_H
#define TC_JSONSCHEMA_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/core.h"

typedef enum {
    TC_JSONSCHEMA_DRAFT2020_12 = 0, /* the default */
    TC_JSONSCHEMA_DRAFT7 = 1,
} tc_jsonschema_dialect;

/* Options; a zeroed struct (or NULL) means the defaults shown. */
typedef struct tc_jsonschema_opts {
    bool format_assert;                    /* check "format" (default off: annotation) */
    tc_jsonschema_dialect default_dialect; /* when the schema has no $schema */
    uint32_t max_depth;        /* schema nesting and validation recursion (128) */
    uint32_t max_nodes;        /* subschemas per compiled schema (20000) */
    uint64_t max_work;         /* keyword evaluations per validation (1000000) */
    uint32_t max_errors;       /* errors reported per validation (100) */
    uint32_t max_pattern_len;  /* bytes per regular expression (4096) */
    uint32_t regex_match_limit; /* PCRE2 match limit per match (100000) */
    uint32_t regex_depth_limit; /* PCRE2 depth limit per match (1000) */
} tc_jsonschema_opts;

typedef struct tc_jsonschema tc_jsonschema;

/* Compiles schema (an object or a boolean; borrowed, a private copy is kept).
 * Returns NULL with err filled when the schema is invalid: status
 * TC_BAD_REQUEST, err->field is the JSON pointer of the offending keyword.
 * A $ref to a document other than this one fails with code
 * "schema_remote_ref" (remote refs are never fetched). Caller frees with
 * tc_jsonschema_free(). */
tc_jsonschema *tc_jsonschema_compile(const json_t *schema, const tc_jsonschema_opts *opts,
                                     tc_err *err);

/* Validates instance (borrowed). Returns TC_OK when valid, TC_VALIDATION when
 * not, TC_TOO_LARGE when a limit (work, depth, regex) stopped the check (the
 * instance is then treated as invalid). When errors_out is non-NULL and the
 * result is not TC_OK, *errors_out is a new JSON array of error objects
 * (caller decrefs); on TC_OK it is set to NULL. With errors_out NULL the
 * validator stops at the first error (faster). */
tc_status tc_jsonschema_validate(const tc_jsonschema *s, const json_t *instance,
                                 json_t **errors_out);

/* Drops one reference (compile and tc_jsonschema_cache_get each return one).
 * NULL is ignored. */
void tc_jsonschema_free(tc_jsonschema *s);

/* ---- cache of compiled schemas -------------------------------------------
 * Thread-safe, bounded (least recently used entries go first). The key names
 * the schema's owner, e.g. the tool id; the cache also remembers a hash of the
 * schema text, so a changed schema under the same key is recompiled. */
typedef struct tc_jsonschema_cache tc_jsonschema_cache;

tc_jsonschema_cache *tc_jsonschema_cache_new(size_t max_entries); /* 0 = 1024 */
void tc_jsonschema_cache_free(tc_jsonschema_cache *c);
/* Returns a compiled schema for (key, schema), compiling on a miss. The result
 * is a new reference: release it with tc_jsonschema_free() when done (it stays
 * valid even if the cache evicts it meanwhile). NULL + err on a bad schema
 * (bad schemas are not cached). opts may be NULL; it is part of the key. */
tc_jsonschema *tc_jsonschema_cache_get(tc_jsonschema_cache *c, const char *key,
                                       const json_t *schema, const tc_jsonschema_opts *opts,
                                       tc_err *err);
/* Entries currently held (for tests and metrics). */
size_t tc_jsonschema_cache_size(tc_jsonschema_cache *c);

/* `toolconnect schema validate SCHEMA.json INSTANCE.json [--format] [--draft7]
 * [--json]`: exit 0 valid, 1 invalid, 2 bad schema, 3 usage or unreadable file. */
int tc_jsonschema_cli_main(int argc, char **argv);

#endif
