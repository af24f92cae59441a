/* MCP client against real peers on loopback: server-everything in its three
 * transports, and a server written with the SDK (tests/peers/servers). */
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#include "mcp/mcp.h"
#include "net/net.h"
#include "runner.h"
#include "test_mcp_peer.h"

static tc_peer peer;
static char url[256];

static tc_mcp_pool *pool_for_tests(int timeout_ms)
{
    tc_mcp_pool_opts o = {.allow_private = true, .request_timeout_ms = timeout_ms};
    return tc_mcp_pool_new(&o);
}

static const char *first_text(const tc_mcp_result *r)
{
    return json_string_value(json_object_get(json_array_get(r->content, 0), "text"));
}

static bool has_tool(json_t *tools, const char *name)
{
    size_t i;
    json_t *t;
    json_array_foreach(tools, i, t) if (!strcmp(json_string_value(json_object_get(t, "name")), name)) return true;
    return false;
}

/* GET <peer>/__stats and return one counter. */
static long peer_stat(const char *name)
{
    char u[256];
    tc_net_response r;
    tc_err err = {0};
    snprintf(u, sizeof(u), "%s/__stats", peer.url);
    tc_net_request q = {.url = u, .opts = {.allow_private = true}};
    ASSERT_OK(tc_net_request_do(&q, &r, &err));
    json_t *j = json_loads(r.body.data, 0, NULL);
    ASSERT_NOT_NULL(j);
    long v = (long)json_integer_value(json_object_get(j, name));
    json_decref(j);
    tc_net_response_free(&r);
    return v;
}

static void call_ok(tc_mcp_session *s, const char *tool, json_t *args, const char *want)
{
    tc_mcp_result r;
    tc_err err = {0};
    tc_status st = tc_mcp_call_tool(s, tool, args, NULL, &r, &err);
    if (st != TC_OK)
        tc_test_fail(__FILE__, __LINE__, "%s: %s", tool, err.message);
    ASSERT_FALSE(r.is_error);
    ASSERT_STR_CONTAINS(first_text(&r), want);
    tc_mcp_result_free(&r);
    json_decref(args);
}

/* ---- progress and cancel helpers ---------------------------------------- */

typedef struct {
    int calls;
    double last, total;
} progress_seen;

static void on_progress(void *ud, double progress, double total, const char *message)
{
    progress_seen *p = ud;
    p->calls++;
    p->last = progress;
    p->total = total;
}

static void check_progress(tc_mcp_session *s, const char *tool, json_t *args, int want_steps)
{
    progress_seen seen = {0};
    tc_mcp_call_opts o = {.progress = on_progress, .progress_ud = &seen};
    tc_mcp_result r;
    tc_err err = {0};
    tc_status st = tc_mcp_call_tool(s, tool, args, &o, &r, &err);
    if (st != TC_OK)
        tc_test_fail(__FILE__, __LINE__, "%s: %s", tool, err.message);
    ASSERT_EQ(seen.calls, want_steps);
    ASSERT_EQ((int)seen.last, want_steps);
    ASSERT_EQ((int)seen.total, want_steps);
    tc_mcp_result_free(&r);
    json_decref(args);
}

static atomic_bool cancel_flag;

static void *cancel_later(void *arg)
{
    usleep(300000);
    atomic_store(&cancel_flag, true);
    return NULL;
}

static void check_cancel(tc_mcp_session *s, const char *tool, json_t *args)
{
    pthread_t t;
    tc_mcp_result r;
    tc_err err = {0};
    atomic_store(&cancel_flag, false);
    tc_mcp_call_opts o = {.cancel = &cancel_flag};
    pthread_create(&t, NULL, cancel_later, NULL);
    int64_t t0 = tc_mono_ns();
    ASSERT_STATUS(tc_mcp_call_tool(s, tool, args, &o, &r, &err), TC_CONFLICT);
    ASSERT_STR_EQ(err.code, "canceled");
    ASSERT((tc_mono_ns() - t0) / 1000000 < 3000);
    pthread_join(t, NULL);
    json_decref(args);
}

/* ---- server-everything ------------------------------------------------------ */

static void everything_basics(tc_mcp_session *s)
{
    json_t *tools = NULL;
    tc_err err = {0};
    ASSERT_OK(tc_mcp_list_tools(s, &tools, &err));
    ASSERT(has_tool(tools, "echo"));
    ASSERT(has_tool(tools, "get-sum"));
    ASSERT(has_tool(tools, "trigger-long-running-operation"));
    json_decref(tools);
    call_ok(s, "echo", json_pack("{s:s}", "message", "hello mcp"), "Echo: hello mcp");
    call_ok(s, "get-sum", json_pack("{s:i, s:i}", "a", 2, "b", 3), "is 5");
    ASSERT_OK(tc_mcp_ping(s, 2000, &err));
    check_progress(s, "trigger-long-running-operation", json_pack("{s:f, s:i}", "duration", 0.4, "steps", 4), 4);
}

typedef struct {
    tc_mcp_pool *pool;
    const tc_mcp_target *target;
    int calls, failures;
} reuse_arg;

static void *reuse_worker(void *arg)
{
    reuse_arg *a = arg;
    for (int i = 0; i < a->calls; i++) {
        tc_mcp_session *s;
        tc_mcp_result r;
        tc_err err = {0};
        if (tc_mcp_session_get(a->pool, "conn-1|everything", a->target, &s, &err) != TC_OK) {
            a->failures++;
            continue;
        }
        json_t *args = json_pack("{s:s}", "message", "again");
        if (tc_mcp_call_tool(s, "echo", args, NULL, &r, &err) != TC_OK || !strstr(first_text(&r), "again"))
            a->failures++;
        tc_mcp_result_free(&r);
        json_decref(args);
        tc_mcp_session_release(s);
    }
    return NULL;
}

/* 100 calls from 4 threads through the pool: one session, one initialize. */
static void check_reuse(tc_mcp_pool *pool, const tc_mcp_target *target)
{
    pthread_t th[4];
    reuse_arg a[4];
    for (int i = 0; i < 4; i++) {
        a[i] = (reuse_arg){pool, target, 25, 0};
        pthread_create(&th[i], NULL, reuse_worker, &a[i]);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        ASSERT_EQ(a[i].failures, 0);
    }
}

TEST(mcp_everything_streamable_http)
{
    const char *args[] = {"streamableHttp", NULL};
    tc_peer_start(&peer, "tests/mcp/everything.mjs", args, NULL);
    snprintf(url, sizeof(url), "%s/mcp", peer.url);
    tc_mcp_pool *pool = pool_for_tests(10000);
    tc_mcp_target t = {.transport = TC_MCP_HTTP, .url = url};
    tc_mcp_session *s;
    tc_err err = {0};
    ASSERT_OK(tc_mcp_session_get(pool, "conn-1|everything", &t, &s, &err));
    ASSERT_STR_EQ(tc_mcp_session_protocol(s), "2025-11-25");
    everything_basics(s);
    check_cancel(s, "trigger-long-running-operation", json_pack("{s:i, s:i}", "duration", 5, "steps", 5));
    call_ok(s, "echo", json_pack("{s:s}", "message", "after cancel"), "after cancel");
    check_reuse(pool, &t);
    ASSERT_EQ(tc_mcp_session_init_count(s), 1);
    ASSERT_EQ(peer_stat("sessions"), 1);
    tc_mcp_session_release(s);
    tc_mcp_pool_free(pool);
    tc_peer_stop(&peer);
}

TEST(mcp_everything_legacy_sse)
{
    const char *args[] = {"sse", NULL};
    tc_peer_start(&peer, "tests/mcp/everything.mjs", args, NULL);
    snprintf(url, sizeof(url), "%s/sse", peer.url);
    tc_mcp_pool *pool = pool_for_tests(10000);
    tc_mcp_target t = {.transport = TC_MCP_SSE, .url = url};
    tc_mcp_session *s;
    tc_err err = {0};
    ASSERT_OK(tc_mcp_session_get(pool, "conn-1|everything", &t, &s, &err));
    everything_basics(s);
    check_cancel(s, "trigger-long-running-operation", json_pack("{s:i, s:i}", "duration", 5, "steps", 5));
    check_reuse(pool, &t);
    ASSERT_EQ(tc_mcp_session_init_count(s), 1);
    ASSERT_EQ(peer_stat("sessions"), 1);
    tc_mcp_session_release(s);
    tc_mcp_pool_free(pool);
    tc_peer_stop(&peer);
}

TEST(mcp_everything_stdio)
{
    char script[1024];
    snprintf(script, sizeof(script), "%s", tc_test_source_path("tests/mcp/everything.mjs"));
    const char *argv[] = {"node", script, "stdio", NULL};
    tc_mcp_pool *pool = pool_for_tests(10000);
    tc_mcp_target t = {.transport = TC_MCP_STDIO, .argv = argv};
    tc_mcp_session *s;
    tc_err err = {0};
    ASSERT_OK(tc_mcp_session_get(pool, "conn-1|everything", &t, &s, &err));
    everything_basics(s);
    check_cancel(s, "trigger-long-running-operation", json_pack("{s:i, s:i}", "duration", 5, "steps", 5));
    check_reuse(pool, &t);
    ASSERT_EQ(tc_mcp_session_init_count(s), 1);
    char *errtail = tc_mcp_session_stderr(s);
    ASSERT_STR_CONTAINS(errtail, "Starting default (STDIO) server");
    tc_free(errtail);
    tc_mcp_session_release(s);
    tc_mcp_pool_free(pool);
}

/* ---- SDK server ------------------------------------------------------------- */

static tc_mcp_session *sdk_session(tc_mcp_pool *pool, const char *const *flags, const char *path,
                                   tc_mcp_target *t)
{
    tc_mcp_session *s;
    tc_err err = {0};
    tc_peer_start(&peer, "tests/peers/servers/sdk_server.mjs", flags, NULL);
    snprintf(url, sizeof(url), "%s%s", peer.url, path);
    *t = (tc_mcp_target){.transport = TC_MCP_HTTP, .url = url, .bearer = "tok-123"};
    tc_status st = tc_mcp_session_get(pool, "c|sdk", t, &s, &err);
    if (st != TC_OK)
        tc_test_fail(__FILE__, __LINE__, "session: %s", err.message);
    return s;
}

static void sdk_checks(tc_mcp_session *s)
{
    json_t *tools = NULL;
    tc_err err = {0};
    tc_mcp_result r;
    ASSERT_OK(tc_mcp_list_tools(s, &tools, &err));
    ASSERT_EQ(json_array_size(tools), 14); /* 4 pages of 4 */
    ASSERT(has_tool(tools, "filler-6"));
    json_decref(tools);
    json_t *args = json_pack("{s:i, s:i}", "a", 20, "b", 22);
    ASSERT_OK(tc_mcp_call_tool(s, "add", args, NULL, &r, &err));
    ASSERT_EQ(json_integer_value(json_object_get(r.structured, "sum")), 42);
    tc_mcp_result_free(&r);
    json_decref(args);
    ASSERT_OK(tc_mcp_call_tool(s, "fail", NULL, NULL, &r, &err));
    ASSERT_TRUE(r.is_error);
    ASSERT_STR_CONTAINS(first_text(&r), "on purpose");
    tc_mcp_result_free(&r);
    call_ok(s, "echo", json_pack("{s:s}", "message", "plain"), "Echo: plain");
}

TEST(mcp_sdk_sse_answers_and_server_requests)
{
    tc_mcp_pool *pool = pool_for_tests(10000);
    tc_mcp_target t;
    tc_mcp_session *s = sdk_session(pool, NULL, "/mcp", &t);
    sdk_checks(s);
    check_progress(s, "slow", json_pack("{s:i}", "ms", 200), 4);
    /* requests we do not support get -32601; ping gets {} */
    call_ok(s, "ask-client", json_pack("{s:s}", "method", "sampling/createMessage"), "-32601");
    call_ok(s, "ask-client", json_pack("{s:s}", "method", "elicitation/create"), "-32601");
    call_ok(s, "ask-client", json_pack("{s:s}", "method", "ping"), "client answered: {}");
    for (int i = 0; i < 100; i++)
        call_ok(s, "echo", json_pack("{s:s}", "message", "x"), "Echo: x");
    ASSERT_EQ(peer_stat("initialize"), 1);
    tc_mcp_session_release(s);
    tc_mcp_pool_free(pool); /* closes the session with DELETE */
    ASSERT_EQ(peer_stat("deleted"), 1);
    tc_peer_stop(&peer);
}

TEST(mcp_sdk_plain_json_and_bearer)
{
    const char *flags[] = {"--json", NULL};
    tc_mcp_pool *pool = pool_for_tests(10000);
    tc_mcp_target t;
    tc_mcp_session *s = sdk_session(pool, flags, "/mcp", &t);
    sdk_checks(s);
    tc_mcp_session_release(s);
    ASSERT_EQ(peer_stat("initialize"), 1);
    /* a refreshed credential is taken over by the kept session */
    t.bearer = "tok-456";
    tc_err err = {0};
    ASSERT_OK(tc_mcp_session_get(pool, "c|sdk", &t, &s, &err));
    call_ok(s, "echo", json_pack("{s:s}", "message", "y"), "Echo: y");
    tc_mcp_session_release(s);
    tc_net_response r;
    char u[256];
    snprintf(u, sizeof(u), "%s/__stats", peer.url);
    tc_net_request q = {.url = u, .opts = {.allow_private = true}};
    ASSERT_OK(tc_net_request_do(&q, &r, &err));
    ASSERT_STR_CONTAINS(r.body.data, "Bearer tok-456");
    tc_net_response_free(&r);
    ASSERT_EQ(peer_stat("initialize"), 1);
    tc_mcp_pool_free(pool);
    tc_peer_stop(&peer);
}

TEST(mcp_sdk_stateless)
{
    const char *flags[] = {"--stateless", "--json", NULL};
    tc_mcp_pool *pool = pool_for_tests(10000);
    tc_mcp_target t;
    tc_mcp_session *s = sdk_session(pool, flags, "/mcp", &t);
    sdk_checks(s);
    tc_mcp_session_release(s);
    tc_mcp_pool_free(pool);
    ASSERT_EQ(peer_stat("deleted"), 0);
    tc_peer_stop(&peer);
}

TEST(mcp_sdk_404_reinitializes_once)
{
    tc_mcp_pool *pool = pool_for_tests(10000);
    tc_mcp_target t;
    tc_mcp_session *s = sdk_session(pool, NULL, "/mcp", &t);
    call_ok(s, "echo", json_pack("{s:s}", "message", "one"), "one");
    char u[256];
    tc_net_response r;
    tc_err err = {0};
    snprintf(u, sizeof(u), "%s/__expire", peer.url);
    tc_net_request q = {.url = u, .method = "POST", .body = "", .opts = {.allow_private = true}};
    ASSERT_OK(tc_net_request_do(&q, &r, &err));
    tc_net_response_free(&r);
    call_ok(s, "echo", json_pack("{s:s}", "message", "two"), "two");
    ASSERT_EQ(tc_mcp_session_init_count(s), 2);
    ASSERT_EQ(peer_stat("initialize"), 2);
    tc_mcp_session_release(s);
    tc_mcp_pool_free(pool);
    tc_peer_stop(&peer);
}

TEST(mcp_idle_sessions_are_closed)
{
    tc_mcp_pool_opts o = {.allow_private = true, .idle_ms = 50};
    tc_mcp_pool *pool = tc_mcp_pool_new(&o);
    tc_mcp_target t;
    tc_mcp_session *s = sdk_session(pool, NULL, "/mcp", &t);
    tc_mcp_session_release(s);
    usleep(120000);
    ASSERT_EQ(tc_mcp_pool_sweep(pool), 1);
    ASSERT_EQ(peer_stat("deleted"), 1);
    tc_mcp_pool_free(pool);
    tc_peer_stop(&peer);
}

/* ---- error paths ------------------------------------------------------------- */

static tc_status bad_session(const char *path, size_t max_message, int timeout_ms, tc_err *err)
{
    tc_mcp_pool_opts o = {.allow_private = true, .request_timeout_ms = timeout_ms, .max_message = max_message};
    tc_mcp_pool *pool = tc_mcp_pool_new(&o);
    snprintf(url, sizeof(url), "%s%s", peer.url, path);
    tc_mcp_target t = {.transport = TC_MCP_HTTP, .url = url};
    tc_mcp_session *s = NULL;
    tc_status st = tc_mcp_session_get(pool, path, &t, &s, err);
    ASSERT_NULL(s);
    tc_mcp_pool_free(pool);
    return st;
}

TEST(mcp_error_paths_http)
{
    tc_err err = {0};
    tc_peer_start(&peer, "tests/peers/servers/sdk_server.mjs", NULL, NULL);
    ASSERT_STATUS(bad_session("/bad-json", 0, 5000, &err), TC_UPSTREAM);
    ASSERT_STR_CONTAINS(err.message, "invalid JSON");
    ASSERT_STATUS(bad_session("/bad-rpc", 0, 5000, &err), TC_UPSTREAM);
    ASSERT_STR_CONTAINS(err.message, "malformed JSON-RPC");
    ASSERT_STATUS(bad_session("/wrong-type", 0, 5000, &err), TC_UPSTREAM);
    ASSERT_STR_EQ(err.code, "mcp_content_type");
    ASSERT_STATUS(bad_session("/oversize", 65536, 5000, &err), TC_TOO_LARGE);
    ASSERT_STR_CONTAINS(err.message, "65536 bytes");
    int64_t t0 = tc_mono_ns();
    ASSERT_STATUS(bad_session("/hang", 0, 300, &err), TC_TIMEOUT);
    ASSERT((tc_mono_ns() - t0) / 1000000 < 2000);
    ASSERT_STATUS(bad_session("/nothing-here", 0, 5000, &err), TC_UPSTREAM);
    ASSERT_STR_CONTAINS(err.message, "HTTP 404");
    int port = peer.port;
    tc_peer_stop(&peer);
    snprintf(peer.url, sizeof(peer.url), "http://127.0.0.1:%d", port);
    ASSERT_STATUS(bad_session("/mcp", 0, 5000, &err), TC_UNAVAILABLE);
}

TEST(mcp_tool_timeout_and_oversize_answer)
{
    tc_mcp_pool_opts o = {.allow_private = true, .request_timeout_ms = 5000, .max_message = 100000};
    tc_mcp_pool *pool = tc_mcp_pool_new(&o);
    tc_mcp_target t;
    tc_mcp_session *s = sdk_session(pool, NULL, "/mcp", &t);
    tc_mcp_result r;
    tc_err err = {0};
    json_t *args = json_pack("{s:i}", "ms", 5000);
    tc_mcp_call_opts co = {.timeout_ms = 300};
    ASSERT_STATUS(tc_mcp_call_tool(s, "slow", args, &co, &r, &err), TC_TIMEOUT);
    json_decref(args);
    args = json_pack("{s:i}", "n", 200000);
    ASSERT_STATUS(tc_mcp_call_tool(s, "big", args, NULL, &r, &err), TC_TOO_LARGE);
    json_decref(args);
    call_ok(s, "echo", json_pack("{s:s}", "message", "still fine"), "still fine");
    usleep(100000);
    ASSERT(peer_stat("cancelled") >= 1); /* the timeout sent notifications/cancelled */
    tc_mcp_session_release(s);
    tc_mcp_pool_free(pool);
    tc_peer_stop(&peer);
}

TEST(mcp_ssrf_guard_applies)
{
    tc_mcp_pool *pool = tc_mcp_pool_new(NULL);
    tc_mcp_target t = {.transport = TC_MCP_HTTP, .url = "http://127.0.0.1:9/mcp"};
    tc_mcp_session *s = NULL;
    tc_err err = {0};
    ASSERT_STATUS(tc_mcp_session_get(pool, "k", &t, &s, &err), TC_FORBIDDEN);
    ASSERT_STR_CONTAINS(err.message, "loopback");
    t.url = "file:///etc/passwd";
    ASSERT_STATUS(tc_mcp_session_get(pool, "k", &t, &s, &err), TC_BAD_REQUEST);
    ASSERT_STR_EQ(err.field, "url");
    tc_mcp_pool_free(pool);
}

TEST(mcp_stdio_exit_mid_call_and_restart)
{
    char script[1024];
    snprintf(script, sizeof(script), "%s", tc_test_source_path("tests/peers/servers/sdk_server.mjs"));
    const char *argv[] = {"node", script, "--stdio", NULL};
    tc_mcp_pool *pool = pool_for_tests(10000);
    tc_mcp_target t = {.transport = TC_MCP_STDIO, .argv = argv};
    tc_mcp_session *s;
    tc_mcp_result r;
    tc_err err = {0};
    ASSERT_OK(tc_mcp_session_get(pool, "c|stdio", &t, &s, &err));
    sdk_checks(s);
    ASSERT_STATUS(tc_mcp_call_tool(s, "crash", NULL, NULL, &r, &err), TC_UPSTREAM);
    ASSERT_STR_CONTAINS(err.message, "exited (status 3)");
    /* the next call finds the process gone and restarts it */
    call_ok(s, "echo", json_pack("{s:s}", "message", "back"), "Echo: back");
    ASSERT_EQ(tc_mcp_session_init_count(s), 2);
    tc_mcp_session_release(s);
    tc_mcp_pool_free(pool);
    /* a command that does not exist */
    const char *bad[] = {"/nonexistent/mcp-server", NULL};
    pool = pool_for_tests(2000);
    t.argv = bad;
    ASSERT_STATUS(tc_mcp_session_get(pool, "c|bad", &t, &s, &err), TC_UNAVAILABLE);
    ASSERT_STR_EQ(err.field, "command");
    tc_mcp_pool_free(pool);
}
