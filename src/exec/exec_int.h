/* Internal to the exec module (and its unit tests). */
#ifndef TC_EXEC_INT_H
#define TC_EXEC_INT_H

#include <pthread.h>

#include "exec/exec.h"

/* The executor table (exec_table.c): one row per executor. */
extern const tc_executor *const tc_executors[];
extern const size_t tc_nexecutors;

/* ---- REST request template (template.c) ---------------------------------
 * Builds the HTTP request of a REST tool from the connector definition
 * (base_url, headers), the tool's request template (docs/catalog.md) and
 * the arguments. cred_header ("Name: value") / cred_query ("k=v", encoded)
 * come from tc_credential_inject; either may be NULL. */
typedef struct tc_rest_call {
    char method[8];
    char *url;
    char **headers;      /* NULL-terminated "Name: value" lines */
    char *body;          /* NULL = no body */
    size_t body_len;
} tc_rest_call;
tc_status tc_exec__rest_build(const json_t *def, const json_t *request, const json_t *args,
                              const char *cred_header, const char *cred_query, tc_rest_call *out,
                              tc_err *err);
/* Frees (and wipes: lines may hold the credential) everything in c. */
void tc_exec__rest_call_free(tc_rest_call *c);
/* RFC 6901 pointer into doc (borrowed result), NULL when absent. */
const json_t *tc_exec__json_pointer(const json_t *doc, const char *ptr);

/* ---- redaction (redact.c) ---------------------------------------------- */
#define TC_EXEC_REDACTED "[REDACTED]"
/* Deep copy of v with every occurrence of a credential value (string
 * members of secret, >= 4 bytes) inside strings replaced by [REDACTED]. */
json_t *tc_exec__scrub(const json_t *v, const json_t *secret);
/* Same, and members whose key looks secret (password, token, secret,
 * api_key, authorization, cookie, ...) replaced whole. For audit logs. */
json_t *tc_exec__redact(const json_t *v, const json_t *secret);
/* The values to hide in an audit entry: the credential's string members
 * plus the string values of secret-looking keys in args (new object). */
json_t *tc_exec__hide_set(const json_t *secret, const json_t *args);
/* Blots credential values out of text in place (same length). */
void tc_exec__blot(char *text, const json_t *secret);
/* True if the key names a secret (case-insensitive). */
bool tc_exec__secret_key(const char *key);
/* Compact JSON text of v, at most cap bytes: a bigger document becomes
 * {"truncated": true, "size": N, "excerpt": "<first bytes>"}. Caller frees. */
char *tc_exec__capped_dump(const json_t *v, size_t cap);

/* ---- rate limiter (rate.c) ---------------------------------------------- */
typedef struct tc_rate_table tc_rate_table;
tc_rate_table *tc_rate_table_new(void);
void tc_rate_table_free(tc_rate_table *t);
/* Admits one hit on both keys (a NULL key or limit <= 0 is unlimited) at
 * now_ms, or none. */
tc_status tc_rate_admit2(tc_rate_table *t, const char *k1, int64_t lim1, const char *k2,
                         int64_t lim2, int64_t now_ms, tc_exec_rate *info);

/* ---- tool documents by version (toolcache.c) --------------------------- */
typedef struct tc_tool_cache tc_tool_cache;
tc_tool_cache *tc_tool_cache_new(void);
void tc_tool_cache_free(tc_tool_cache *t);
/* The cached document of tool id at exactly updated_at (new reference), or
 * NULL. */
json_t *tc_tool_cache_get(tc_tool_cache *t, const char *id, int64_t updated_at);
/* Keeps tool under its own "id" and "updated_at" (replaces that slot). */
void tc_tool_cache_put(tc_tool_cache *t, json_t *tool);

/* Counts jobs enqueued outside exec.c (enqueue_batch.c) in the stats. */
void tc_exec__count_enqueued(tc_exec *x, uint64_t n);

/* ---- waiters (wait.c) ---------------------------------------------------- */
typedef struct tc_waiters tc_waiters;
tc_waiters *tc_waiters_new(void);
/* Fires every remaining waiter with NULL, then stops the timer thread. */
void tc_waiters_free(tc_waiters *w);
void tc_waiters_add(tc_waiters *w, const char *job_id, const tc_exec_wait *wait);
/* Removes without firing (the enqueue failed). */
void tc_waiters_drop(tc_waiters *w, const char *job_id);
/* A job ended: fires its waiters with the row. */
void tc_waiters_done(tc_waiters *w, const char *job_id, const json_t *row);
int tc_waiters_count(tc_waiters *w);

#endif
