/* The MCP executor: tools/call on the connection's kept session from the
 * process-wide MCP pool (one session per connection and server, shared by
 * every worker), with progress, cancel (notifications/cancelled) and the
 * job's remaining time as the request timeout. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exec/exec_int.h"
#include "connections/connections.h"
#include "mcp/mcp.h"

#define ERROR_TEXT_MAX 1000

static tc_mcp_pool *pool;
static bool stdio_allowed;

void tc_exec_mcp_configure(struct tc_mcp_pool *p, bool allow_stdio)
{
    pool = p;
    stdio_allowed = allow_stdio;
}

/* Session key: one session per connection and server. */
static char *session_key(const tc_exec_run *run, const tc_mcp_target *t)
{
    return tc_asprintf("%s|%s", run->connection_id ? run->connection_id : "-",
                       t->url ? t->url : t->argv[0]);
}

static void on_progress(void *ud, double progress, double total, const char *message)
{
    tc_exec_run *run = ud;
    if (run->progress)
        run->progress(run, progress, total, total > 0, message);
}

/* Text of the tool's error content, for the job's error message. */
static void error_text(const json_t *content, char *out, size_t cap)
{
    tc_buf b;
    tc_buf_init(&b, cap - 1);
    for (size_t i = 0; i < json_array_size(content); i++) {
        const char *t = json_string_value(json_object_get(json_array_get(content, i), "text"));
        if (t && (tc_buf_puts(&b, b.len ? " " : "") != TC_OK || tc_buf_puts(&b, t) != TC_OK))
            break;
    }
    snprintf(out, cap, "%s", b.data && b.len ? b.data : "the tool reported an error");
    tc_buf_free(&b);
}

static json_t *result_json(tc_mcp_result *r)
{
    json_t *out = json_object();
    json_object_set(out, "content", r->content ? r->content : json_array());
    if (r->structured)
        json_object_set(out, "structuredContent", r->structured);
    json_object_set_new(out, "isError", json_boolean(r->is_error));
    return out;
}

static tc_status call_tool(tc_exec_run *run, tc_mcp_session *s, tc_err *err)
{
    int64_t left_ms = (run->deadline_ns - tc_mono_ns()) / 1000000;
    if (left_ms <= 0)
        return tc_failf(err, TC_TIMEOUT, NULL, "the job ran out of time");
    tc_mcp_call_opts opts = {.timeout_ms = (int)left_ms, .progress = on_progress,
                             .progress_ud = run, .cancel = run->abort};
    tc_mcp_result r = {0};
    const char *name = json_string_value(json_object_get(run->tool, "name"));
    tc_status st = tc_mcp_call_tool(s, name, (json_t *)run->arguments, &opts, &r, err);
    if (st != TC_OK)
        return st;
    run->result = result_json(&r);
    if (r.is_error) {
        char text[ERROR_TEXT_MAX];
        error_text(r.content, text, sizeof(text));
        st = tc_failc(err, TC_UPSTREAM, "tool_error", NULL, "%s", text);
    }
    tc_mcp_result_free(&r);
    return st;
}

static tc_status mcp_run(tc_exec_run *run, tc_err *err)
{
    if (!pool)
        return tc_failc(err, TC_UNAVAILABLE, "executor_unavailable", NULL, "the MCP client is not started");
    tc_mcp_target_buf tb;
    tc_status st = tc_connection_mcp_target(run->definition, run->secret, stdio_allowed, &tb, err);
    if (st != TC_OK)
        return st;
    char *key = session_key(run, &tb.target);
    tc_mcp_session *s = NULL;
    st = tc_mcp_session_get(pool, key, &tb.target, &s, err);
    if (st == TC_OK) {
        st = call_tool(run, s, err);
        tc_mcp_session_release(s);
    }
    free(key);
    tc_mcp_target_buf_free(&tb);
    tc_exec__blot(err->message, run->secret);
    return st;
}

const tc_executor tc_exec_mcp = {
    .name = "mcp",
    .run = mcp_run,
    .state_size = 0,
    .state_free = NULL,
};
