/* Unit tests of the MCP parsers: SSE event stream and JSON-RPC messages. */
#include <string.h>

#include "mcp/mcp_int.h"
#include "runner.h"

typedef struct {
    int n;
    char events[8][32];
    char data[8][256];
} got;

static void collect(void *ud, const char *event, const char *data, size_t len)
{
    got *g = ud;
    if (g->n == 8)
        return;
    snprintf(g->events[g->n], sizeof(g->events[0]), "%s", event);
    snprintf(g->data[g->n], sizeof(g->data[0]), "%.*s", (int)len, data);
    g->n++;
}

TEST(mcp_sse_basic_and_priming)
{
    got g = {0};
    tc_mcp__sse p;
    tc_mcp__sse_init(&p, 1024, collect, &g);
    const char *in = "id: prime-1\ndata:\n\n"           /* priming event, empty data: skipped */
                     ": a comment\n"
                     "event: message\nid: 7\ndata: {\"a\":1}\n\n"
                     "retry: 1500\n"
                     "data: line1\ndata: line2\n\n";
    ASSERT_OK(tc_mcp__sse_feed(&p, in, strlen(in)));
    ASSERT_EQ(g.n, 2);
    ASSERT_STR_EQ(g.events[0], "message");
    ASSERT_STR_EQ(g.data[0], "{\"a\":1}");
    ASSERT_STR_EQ(g.data[1], "line1\nline2");
    ASSERT_STR_EQ(p.last_id, "7");
    ASSERT_EQ(p.retry_ms, 1500);
    tc_mcp__sse_free(&p);
}

TEST(mcp_sse_split_feeds_and_crlf)
{
    got g = {0};
    tc_mcp__sse p;
    tc_mcp__sse_init(&p, 1024, collect, &g);
    const char *in = "\xEF\xBB\xBF" "event: endpoint\r\ndata: /message?sessionId=abc\r\n\r\n"
                     "data: x\r\rdata:no-space\n\n";
    /* feed one byte at a time: a \r\n split across feeds is one line end */
    for (size_t i = 0; in[i]; i++)
        ASSERT_OK(tc_mcp__sse_feed(&p, in + i, 1));
    ASSERT_EQ(g.n, 3);
    ASSERT_STR_EQ(g.events[0], "endpoint");
    ASSERT_STR_EQ(g.data[0], "/message?sessionId=abc");
    ASSERT_STR_EQ(g.events[1], "message");
    ASSERT_STR_EQ(g.data[1], "x");
    ASSERT_STR_EQ(g.data[2], "no-space");
    tc_mcp__sse_free(&p);
}

TEST(mcp_sse_oversize_event_fails)
{
    got g = {0};
    tc_mcp__sse p;
    tc_mcp__sse_init(&p, 64, collect, &g);
    char big[200];
    memset(big, 'x', sizeof(big));
    ASSERT_OK(tc_mcp__sse_feed(&p, "data: ", 6));
    ASSERT_STATUS(tc_mcp__sse_feed(&p, big, sizeof(big)), TC_TOO_LARGE);
    tc_mcp__sse_free(&p);
    /* many short data lines add up too */
    tc_mcp__sse_init(&p, 64, collect, &g);
    tc_status st = TC_OK;
    for (int i = 0; i < 40 && st == TC_OK; i++)
        st = tc_mcp__sse_feed(&p, "data: abcd\n", 11);
    ASSERT_STATUS(st, TC_TOO_LARGE);
    ASSERT_EQ(g.n, 0);
    tc_mcp__sse_free(&p);
}

static tc_mcp__msg_kind kind_of(const char *s)
{
    json_t *m = json_loads(s, 0, NULL);
    tc_mcp__msg_kind k = tc_mcp__msg_kind_of(m);
    json_decref(m);
    return k;
}

TEST(mcp_jsonrpc_kinds)
{
    ASSERT_EQ(kind_of("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}"), TC_MCP__MSG_REQUEST);
    ASSERT_EQ(kind_of("{\"jsonrpc\":\"2.0\",\"id\":\"x\",\"method\":\"roots/list\"}"), TC_MCP__MSG_REQUEST);
    ASSERT_EQ(kind_of("{\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\"}"), TC_MCP__MSG_NOTIFICATION);
    ASSERT_EQ(kind_of("{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}"), TC_MCP__MSG_RESPONSE);
    ASSERT_EQ(kind_of("{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32700,\"message\":\"x\"}}"),
              TC_MCP__MSG_RESPONSE);
    ASSERT_EQ(kind_of("{\"jsonrpc\":\"1.0\",\"id\":1,\"result\":{}}"), TC_MCP__MSG_INVALID);
    ASSERT_EQ(kind_of("{\"jsonrpc\":\"2.0\",\"id\":1}"), TC_MCP__MSG_INVALID);
    ASSERT_EQ(kind_of("{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{},\"error\":{\"code\":1}}"), TC_MCP__MSG_INVALID);
    ASSERT_EQ(kind_of("{\"jsonrpc\":\"2.0\",\"id\":{},\"result\":{}}"), TC_MCP__MSG_INVALID);
    ASSERT_EQ(kind_of("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":5}"), TC_MCP__MSG_INVALID);
    ASSERT_EQ(kind_of("{\"jsonrpc\":\"2.0\",\"id\":1,\"error\":\"bad\"}"), TC_MCP__MSG_INVALID);
    ASSERT_EQ(kind_of("[1]"), TC_MCP__MSG_INVALID);
}

TEST(mcp_jsonrpc_parse_messages)
{
    json_t *msgs = NULL;
    tc_err err = {0};
    const char *one = "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}";
    ASSERT_OK(tc_mcp__parse_messages(one, strlen(one), &msgs, &err));
    ASSERT_EQ(json_array_size(msgs), 1);
    json_decref(msgs);
    const char *batch = "[{\"jsonrpc\":\"2.0\",\"method\":\"a\"},{\"jsonrpc\":\"2.0\",\"id\":2,\"result\":1}]";
    ASSERT_OK(tc_mcp__parse_messages(batch, strlen(batch), &msgs, &err));
    ASSERT_EQ(json_array_size(msgs), 2);
    json_decref(msgs);
    ASSERT_STATUS(tc_mcp__parse_messages("{nope", 5, &msgs, &err), TC_UPSTREAM);
    ASSERT_STR_CONTAINS(err.message, "invalid JSON");
    ASSERT_NULL(msgs);
    ASSERT_STATUS(tc_mcp__parse_messages("[]", 2, &msgs, &err), TC_UPSTREAM);
    ASSERT_STATUS(tc_mcp__parse_messages("{\"id\":1}", 8, &msgs, &err), TC_UPSTREAM);
    ASSERT_STR_CONTAINS(err.message, "malformed JSON-RPC");
    const char *dup = "{\"jsonrpc\":\"2.0\",\"id\":1,\"id\":2,\"result\":{}}";
    ASSERT_STATUS(tc_mcp__parse_messages(dup, strlen(dup), &msgs, &err), TC_UPSTREAM);
}

TEST(mcp_transport_names)
{
    tc_mcp_transport_kind k;
    ASSERT_OK(tc_mcp_transport_parse("streamableHttp", &k));
    ASSERT_EQ(k, TC_MCP_HTTP);
    ASSERT_OK(tc_mcp_transport_parse("sse", &k));
    ASSERT_EQ(k, TC_MCP_SSE);
    ASSERT_OK(tc_mcp_transport_parse("stdio", &k));
    ASSERT_EQ(k, TC_MCP_STDIO);
    ASSERT_STATUS(tc_mcp_transport_parse("carrier-pigeon", &k), TC_BAD_REQUEST);
}
