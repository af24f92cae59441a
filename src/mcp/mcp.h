/* mcp: the Model Context Protocol client shared by catalog discovery, the
 * job executor and health probes.
 *   Transports (a const table each): Streamable HTTP, legacy HTTP+SSE, stdio.
 *   Sessions: one per (connection, server) key in a pool, shared by
 *   concurrent callers (multiplexed by JSON-RPC id), re-initialised when
 *   broken, closed when idle. Everything here is thread-safe.
 * docs/mcp.md describes the design and limits. */
#ifndef TC_MCP_H
#define TC_MCP_H

#include <jansson.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/core.h"

typedef enum {
    TC_MCP_HTTP,   /* Streamable HTTP (2025-03-26 and later, stateless too) */
    TC_MCP_SSE,    /* legacy HTTP+SSE (2024-11-05) */
    TC_MCP_STDIO,  /* child process, newline-delimited JSON-RPC */
} tc_mcp_transport_kind;

/* Parses "http"/"streamable_http"/"streamableHttp", "sse", "stdio". */
tc_status tc_mcp_transport_parse(const char *s, tc_mcp_transport_kind *out);

/* What to connect to. Borrowed for the duration of tc_mcp_session_get; the
 * session copies what it keeps. */
typedef struct tc_mcp_target {
    tc_mcp_transport_kind transport;
    const char *url;               /* HTTP and SSE */
    const char *const *argv;       /* stdio: argv[0] is looked up in PATH */
    const char *const *env;        /* stdio: extra "K=V" on top of PATH/HOME/LANG */
    const char *cwd;               /* stdio: working directory, may be NULL */
    const char *bearer;            /* Authorization: Bearer <x>; never logged */
} tc_mcp_target;

typedef struct tc_mcp_pool_opts {
    int64_t idle_ms;           /* close sessions idle this long; 0 = 300000 */
    int connect_timeout_ms;    /* 0 = 5000 */
    int request_timeout_ms;    /* default per request; 0 = 60000 */
    size_t max_message;        /* bytes of one JSON-RPC message / SSE event; 0 = 4 MiB */
    size_t max_stderr;         /* stdio stderr tail kept; 0 = 16 KiB */
    bool allow_private;        /* lift the SSRF guard (TC_ALLOW_PRIVATE_TARGETS) */
    const char *client_name;   /* clientInfo.name; NULL = "toolconnect" */
} tc_mcp_pool_opts;

typedef struct tc_mcp_pool tc_mcp_pool;
typedef struct tc_mcp_session tc_mcp_session;

/* opts may be NULL. Caller frees with tc_mcp_pool_free (closes every
 * session: DELETE for HTTP sessions, process-group kill for stdio). */
tc_mcp_pool *tc_mcp_pool_new(const tc_mcp_pool_opts *opts);
void tc_mcp_pool_free(tc_mcp_pool *pool);
/* Closes sessions idle past the limit; returns how many. Also runs inside
 * tc_mcp_session_get, so calling it from a tick is optional. */
int tc_mcp_pool_sweep(tc_mcp_pool *pool);

/* Returns the pool's session for key (e.g. "<connection id>|<server url>"),
 * creating and initialising it if needed. A changed bearer is taken over
 * in place; a changed url/argv/env/transport replaces the session. The
 * caller holds a reference: release it with tc_mcp_session_release. */
tc_status tc_mcp_session_get(tc_mcp_pool *pool, const char *key, const tc_mcp_target *target,
                             tc_mcp_session **out, tc_err *err);
void tc_mcp_session_release(tc_mcp_session *s);

/* Negotiated protocol version ("2025-11-25", ...), server info (borrowed
 * while the caller holds the session), count of initialize handshakes done
 * (tests and metrics), and the stdio stderr tail (caller frees). */
const char *tc_mcp_session_protocol(tc_mcp_session *s);
int tc_mcp_session_init_count(tc_mcp_session *s);
char *tc_mcp_session_stderr(tc_mcp_session *s);

typedef void (*tc_mcp_progress_fn)(void *ud, double progress, double total, const char *message);

typedef struct tc_mcp_call_opts {
    int timeout_ms;                 /* 0 = pool default */
    tc_mcp_progress_fn progress;    /* sends a progressToken when set */
    void *progress_ud;
    const atomic_bool *cancel;      /* set to true to cancel; checked every ~20 ms */
} tc_mcp_call_opts;

typedef struct tc_mcp_result {
    json_t *content;       /* array of content blocks (owned) */
    json_t *structured;    /* structuredContent or NULL (owned) */
    bool is_error;         /* the tool reported an error (isError) */
} tc_mcp_result;
void tc_mcp_result_free(tc_mcp_result *r);

/* tools/list following nextCursor to the end (at most 100 pages). *tools
 * is a new array (caller decrefs). */
tc_status tc_mcp_list_tools(tc_mcp_session *s, json_t **tools, tc_err *err);
/* tools/call. args may be NULL ({}); borrowed. On cancel, sends
 * notifications/cancelled upstream and fails with code "canceled"
 * (TC_CONFLICT). Timeouts also send notifications/cancelled (TC_TIMEOUT). */
tc_status tc_mcp_call_tool(tc_mcp_session *s, const char *name, json_t *args,
                           const tc_mcp_call_opts *opts, tc_mcp_result *out, tc_err *err);
tc_status tc_mcp_ping(tc_mcp_session *s, int timeout_ms, tc_err *err);
/* Any request; *result is the JSON-RPC result (caller decrefs). A JSON-RPC
 * error answer fails with TC_UPSTREAM and the server's message. params is
 * borrowed. */
tc_status tc_mcp_request(tc_mcp_session *s, const char *method, json_t *params,
                         const tc_mcp_call_opts *opts, json_t **result, tc_err *err);

#endif
