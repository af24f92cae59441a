/* JSON-RPC 2.0 message parsing and classification. */
#include <string.h>

#include "mcp/mcp_int.h"

#define MAX_BATCH 256

static bool valid_id(json_t *id)
{
    return json_is_integer(id) || json_is_string(id);
}

tc_mcp__msg_kind tc_mcp__msg_kind_of(json_t *m)
{
    if (!json_is_object(m))
        return TC_MCP__MSG_INVALID;
    json_t *v = json_object_get(m, "jsonrpc");
    if (!json_is_string(v) || strcmp(json_string_value(v), "2.0") != 0)
        return TC_MCP__MSG_INVALID;
    json_t *id = json_object_get(m, "id");
    json_t *method = json_object_get(m, "method");
    if (method) {
        if (!json_is_string(method))
            return TC_MCP__MSG_INVALID;
        if (!id)
            return TC_MCP__MSG_NOTIFICATION;
        return valid_id(id) ? TC_MCP__MSG_REQUEST : TC_MCP__MSG_INVALID;
    }
    json_t *result = json_object_get(m, "result");
    json_t *error = json_object_get(m, "error");
    if ((result != NULL) == (error != NULL))
        return TC_MCP__MSG_INVALID;
    if (error && (!json_is_object(error) || !json_is_integer(json_object_get(error, "code"))))
        return TC_MCP__MSG_INVALID;
    /* error responses may carry id null when the request could not be read */
    if (!valid_id(id) && !(error && json_is_null(id)))
        return TC_MCP__MSG_INVALID;
    return TC_MCP__MSG_RESPONSE;
}

tc_status tc_mcp__parse_messages(const char *p, size_t n, json_t **out, tc_err *err)
{
    json_error_t je;
    *out = NULL;
    json_t *doc = json_loadb(p, n, JSON_REJECT_DUPLICATES, &je);
    if (!doc)
        return tc_failf(err, TC_UPSTREAM, NULL, "MCP server sent invalid JSON: %s (line %d)", je.text,
                        je.line);
    json_t *arr = json_is_array(doc) ? json_incref(doc) : json_pack("[O]", doc);
    json_decref(doc);
    tc_status st = TC_OK;
    if (json_array_size(arr) == 0 || json_array_size(arr) > MAX_BATCH) {
        st = tc_failf(err, TC_UPSTREAM, NULL, "MCP server sent an empty or oversized batch");
        goto out;
    }
    size_t i;
    json_t *m;
    json_array_foreach(arr, i, m) {
        if (tc_mcp__msg_kind_of(m) == TC_MCP__MSG_INVALID) {
            st = tc_failf(err, TC_UPSTREAM, NULL, "MCP server sent a malformed JSON-RPC message");
            goto out;
        }
    }
    *out = json_incref(arr);
out:
    json_decref(arr);
    return st;
}

char *tc_mcp__dump(json_t *m)
{
    char *s = json_dumps(m, JSON_COMPACT);
    if (!s)
        abort();
    return s;
}
