/* store: turning result rows into JSON objects for API answers.
 * A column list names each selected column (in SELECT order) and how to
 * render it: times (int64 ms) become RFC 3339 strings, JSON text columns are
 * parsed, 0/1 become booleans, NULL becomes null. */
#ifndef TC_STORE_REPO_JSON_H
#define TC_STORE_REPO_JSON_H

#include <jansson.h>

#include "store/db.h"

typedef enum {
    TC_COL_TEXT,
    TC_COL_INT,
    TC_COL_BOOL,
    TC_COL_TIME,  /* int64 ms -> "2026-11-28T18:00:00.000Z" */
    TC_COL_JSON,  /* text holding JSON -> the value (invalid JSON -> null) */
    TC_COL_SKIP,  /* selected for other uses, not rendered */
} tc_col_kind;

typedef struct tc_col {
    const char *name;
    tc_col_kind kind;
} tc_col;

/* The current row as a new JSON object (caller decrefs). */
json_t *tc_db_row_json(tc_db_rows *r, const tc_col *cols, size_t ncols);
/* Runs a query and collects up to max rows as a JSON array (new reference in
 * *out). */
tc_status tc_db_query_json(tc_db_conn *c, const char *sql, const tc_dbv *params, size_t n,
                           const tc_col *cols, size_t ncols, size_t max, json_t **out,
                           tc_err *err);

/* Keyset page cursors "<ms>.<uuid>" (the sort time and id of a page's last
 * row). An absent cursor starts at the newest row (*ms INT64_MAX, id "~",
 * above every UUID); anything this API did not hand out is TC_BAD_REQUEST
 * naming "cursor". tc_repo_cursor returns a new string (caller frees). */
tc_status tc_repo_parse_cursor(const char *cursor, int64_t *ms, char id[37], tc_err *err);
char *tc_repo_cursor(int64_t ms, const char *id);

#endif
