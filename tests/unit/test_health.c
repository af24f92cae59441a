/* health: probe plans, MCP answer parsing, a probe of a closed port. */
#include <stdio.h>
#include <string.h>

#include "health/health.h"
#include "runner.h"

TEST(plan_follows_the_definition)
{
    tc_health_probe p;
    json_t *d = json_loads("{\"base_url\":\"https://api.x.io/v1\"}", 0, NULL);
    tc_health_probe_plan(d, &p);
    ASSERT_EQ(p.kind, TC_PROBE_REST);
    ASSERT_STR_EQ(p.url, "https://api.x.io/v1");
    json_decref(d);
    d = json_loads("{\"base_url\":\"https://api.x.io/v1\",\"health\":{\"url\":\"https://st.x.io/ok\"}}", 0, NULL);
    tc_health_probe_plan(d, &p);
    ASSERT_STR_EQ(p.url, "https://st.x.io/ok");
    json_decref(d);
    d = json_loads("{\"mcp\":{\"url\":\"https://m.x.io/mcp\"},\"health\":{\"mcp\":\"ping\"}}", 0, NULL);
    tc_health_probe_plan(d, &p);
    ASSERT_EQ(p.kind, TC_PROBE_MCP);
    ASSERT_STR_EQ(p.url, "https://m.x.io/mcp");
    json_decref(d);
    d = json_loads("{\"mcp\":{\"command\":[\"npx\",\"x\"]}}", 0, NULL);
    tc_health_probe_plan(d, &p);
    ASSERT_EQ(p.kind, TC_PROBE_MCP_CLIENT); /* stdio: through the MCP client */
    ASSERT(p.stdio);
    ASSERT(p.def == d);
    json_decref(d);
    d = json_loads("{\"mcp\":{\"url\":\"https://m.x.io/sse\",\"transport\":\"sse\"}}", 0, NULL);
    tc_health_probe_plan(d, &p);
    ASSERT_EQ(p.kind, TC_PROBE_MCP_CLIENT); /* legacy SSE too */
    ASSERT(!p.stdio);
    ASSERT_STR_EQ(p.url, "https://m.x.io/sse");
    json_decref(d);
    tc_health_probe_plan(NULL, &p);
    ASSERT_EQ(p.kind, TC_PROBE_NONE);
}

TEST(mcp_answers_json_and_sse)
{
    const char *j = " {\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"protocolVersion\":\"2025-06-18\"}}";
    json_t *m = tc_health_mcp_response(j, strlen(j), 1);
    ASSERT(m != NULL);
    json_decref(m);
    ASSERT(tc_health_mcp_response(j, strlen(j), 2) == NULL);
    const char *sse = "event: message\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/x\"}\n\n"
                      "event: message\r\ndata: {\"jsonrpc\":\"2.0\",\"id\":2,\"result\":{}}\r\n\r\n";
    m = tc_health_mcp_response(sse, strlen(sse), 2);
    ASSERT(m != NULL);
    json_decref(m);
    ASSERT(tc_health_mcp_response("garbage", 7, 1) == NULL);
    ASSERT(tc_health_mcp_response("data: {\"id\":1}", 14, 1) == NULL); /* neither result nor error */
}

TEST(closed_port_is_down_and_guard_refuses_loopback)
{
    tc_health_probe p[3];
    memset(p, 0, sizeof(p));
    p[0].kind = TC_PROBE_REST;
    snprintf(p[0].url, sizeof(p[0].url), "http://127.0.0.1:1/");
    p[1].kind = TC_PROBE_MCP;
    snprintf(p[1].url, sizeof(p[1].url), "http://127.0.0.1:1/mcp");
    p[2].kind = TC_PROBE_REST;
    snprintf(p[2].url, sizeof(p[2].url), "http://127.0.0.1:1/");
    tc_health_probe_run(p, 2, 2000, 3000, true);
    ASSERT_STR_EQ(p[0].status, "down");
    ASSERT_STR_EQ(p[1].status, "down");
    ASSERT_STR_CONTAINS(p[1].error, "initialize");
    tc_health_probe_run(&p[2], 1, 2000, 3000, false);
    ASSERT_STR_EQ(p[2].status, "down");
    ASSERT_STR_CONTAINS(p[2].error, "loopback");
}

/* stdio and legacy SSE servers go through the MCP client on their own
 * threads: a command that exits at once and a closed port are down (the
 * error names initialize), within the time limit; without TC_ALLOW_STDIO a
 * stdio server is refused, never spawned. */
TEST(mcp_client_probes_report_down)
{
    json_t *defs[3] = {
        json_loads("{\"mcp\":{\"command\":[\"/bin/false\"]}}", 0, NULL),
        json_loads("{\"mcp\":{\"url\":\"http://127.0.0.1:1/sse\",\"transport\":\"sse\"}}", 0, NULL),
        json_loads("{\"mcp\":{\"command\":[\"/bin/false\"]}}", 0, NULL),
    };
    tc_health_probe p[3];
    for (int i = 0; i < 3; i++) {
        tc_health_probe_plan(defs[i], &p[i]);
        ASSERT_EQ(p[i].kind, TC_PROBE_MCP_CLIENT);
    }
    int64_t t0 = tc_mono_ns();
    tc_health_mcp_run *r = tc_health_mcp_probes_start(p, 2, 3000, 3000, true, true);
    ASSERT(r != NULL);
    tc_health_probe_run(p, 2, 3000, 3000, true); /* leaves MCP client probes alone */
    tc_health_mcp_probes_wait(r);
    ASSERT((tc_mono_ns() - t0) / 1000000 < 6000);
    for (int i = 0; i < 2; i++) {
        ASSERT_STR_EQ(p[i].status, "down");
        ASSERT_STR_CONTAINS(p[i].error, "initialize");
        ASSERT(p[i].latency_ms >= 0);
    }
    r = tc_health_mcp_probes_start(&p[2], 1, 3000, 3000, true, false);
    tc_health_mcp_probes_wait(r);
    ASSERT_STR_EQ(p[2].status, "down");
    ASSERT_STR_CONTAINS(p[2].error, "TC_ALLOW_STDIO");
    ASSERT(tc_health_mcp_probes_start(p, 0, 3000, 3000, true, true) == NULL);
    for (int i = 0; i < 3; i++)
        json_decref(defs[i]);
}
