/* libFuzzer target for the MCP client's parsers: the first byte picks how
 * the rest is fed to the SSE parser (chunk size), every SSE event's data
 * goes through the JSON-RPC parser and classifier, and the whole input is
 * also parsed as one JSON-RPC body. Limits are small so the size caps are
 * exercised too. */
#include <stddef.h>
#include <stdint.h>

#include "mcp/mcp_int.h"

static void on_event(void *ud, const char *event, const char *data, size_t len)
{
    json_t *msgs = NULL;
    if (tc_mcp__parse_messages(data, len, &msgs, NULL) == TC_OK) {
        size_t i;
        json_t *m;
        json_array_foreach(msgs, i, m) (void)tc_mcp__msg_kind_of(m);
        json_decref(msgs);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    size_t chunk = (size_t)(data[0] % 16) + 1;
    const char *p = (const char *)data + 1;
    size_t n = size - 1;
    tc_mcp__sse sse;
    tc_mcp__sse_init(&sse, 4096, on_event, NULL);
    for (size_t off = 0; off < n; off += chunk) {
        size_t k = n - off < chunk ? n - off : chunk;
        if (tc_mcp__sse_feed(&sse, p + off, k) != TC_OK)
            break;
    }
    tc_mcp__sse_free(&sse);
    json_t *msgs = NULL;
    if (tc_mcp__parse_messages(p, n, &msgs, NULL) == TC_OK)
        json_decref(msgs);
    return 0;
}
