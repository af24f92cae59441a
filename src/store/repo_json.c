/* Rows to JSON and keyset page cursors (see repo_json.h). */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "store/repo_json.h"

static json_t *col_value(tc_db_rows *r, int i, tc_col_kind kind)
{
    if (tc_db_rows_isnull(r, i))
        return json_null();
    switch (kind) {
    case TC_COL_TEXT:
        return json_string(tc_db_rows_text(r, i));
    case TC_COL_INT:
        return json_integer(tc_db_rows_int(r, i));
    case TC_COL_BOOL:
        return json_boolean(tc_db_rows_int(r, i) != 0);
    case TC_COL_TIME: {
        char ts[32];
        tc_time_format(tc_db_rows_int(r, i), ts);
        return json_string(ts);
    }
    case TC_COL_JSON: {
        json_t *v = json_loads(tc_db_rows_text(r, i), JSON_DECODE_ANY, NULL);
        return v ? v : json_null();
    }
    case TC_COL_SKIP:
        break;
    }
    return json_null();
}

json_t *tc_db_row_json(tc_db_rows *r, const tc_col *cols, size_t ncols)
{
    json_t *obj = json_object();
    for (size_t i = 0; i < ncols; i++) {
        if (cols[i].kind == TC_COL_SKIP)
            continue;
        json_object_set_new(obj, cols[i].name, col_value(r, (int)i, cols[i].kind));
    }
    return obj;
}

tc_status tc_repo_parse_cursor(const char *cursor, int64_t *ms, char id[37], tc_err *err)
{
    *ms = INT64_MAX;
    snprintf(id, 37, "~");
    if (!cursor || !*cursor)
        return TC_OK;
    long long v = 0;
    char rest[40] = "";
    if (strlen(cursor) > 64 || sscanf(cursor, "%lld.%36s", &v, rest) != 2 || !tc_uuid_valid(rest))
        return tc_failf(err, TC_BAD_REQUEST, "cursor", "cursor is not one this API returned");
    *ms = v;
    memcpy(id, rest, 37);
    return TC_OK;
}

char *tc_repo_cursor(int64_t ms, const char *id)
{
    return tc_asprintf("%lld.%s", (long long)ms, id);
}

tc_status tc_db_query_json(tc_db_conn *c, const char *sql, const tc_dbv *params, size_t n,
                           const tc_col *cols, size_t ncols, size_t max, json_t **out,
                           tc_err *err)
{
    tc_db_rows *r = NULL;
    tc_status st = tc_db_query(c, sql, params, n, &r, err);
    if (st != TC_OK)
        return st;
    json_t *arr = json_array();
    while (json_array_size(arr) < max && tc_db_rows_next(r))
        json_array_append_new(arr, tc_db_row_json(r, cols, ncols));
    tc_db_rows_free(r);
    *out = arr;
    return TC_OK;
}
