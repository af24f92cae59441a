/* mcp_echo_server: a small, fast MCP server for benchmarks and interop tests.
 *
 *   mcp_echo_server [--port N] [--threads N] [--max-sessions N]
 *
 * Listens on 127.0.0.1 only (port 0 = any free port) and prints
 * "LISTENING <port>" on stdout once it accepts connections. SIGTERM or
 * SIGINT stops it (exit 0).
 *
 * Transport: MCP Streamable HTTP on POST /mcp, always answered with plain
 * `application/json` (a server may choose JSON instead of an SSE stream):
 *   - initialize creates a session and returns its id in Mcp-Session-Id;
 *     every later request must carry it (400 without, 404 if unknown);
 *   - a body with only notifications or responses gets 202 and no body;
 *   - GET /mcp is 405 (no server-initiated stream), DELETE /mcp with the
 *     session header ends the session;
 *   - MCP-Protocol-Version, when sent, must be a version we speak (400);
 *   - Origin, when sent, must be a loopback origin (403: DNS rebinding);
 *   - JSON-RPC batches (2025-03-26) are answered with an array.
 * Methods: initialize, ping, tools/list (echo, add), tools/call, and any
 * notification (accepted, ignored). Unknown methods get -32601, bad
 * params -32602, malformed JSON -32700, malformed messages -32600. Tool
 * input errors are tool execution errors (isError: true), as the 2025-11-25
 * revision asks.
 *
 * Limits: request body 1 MiB (413), 64 connections, sessions
 * --max-sessions (default 4096; initialize beyond it gets 503). */
#include <errno.h>
#include <microhttpd.h>
#include <jansson.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

#define BODY_MAX (1u << 20)
#define SID_LEN 32 /* hex chars */
#define BUCKETS 4096
#define LATEST_VERSION "2025-11-25"

static const char *const versions[] = {"2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"};

/* JSON-RPC error codes */
enum { PARSE_ERROR = -32700, INVALID_REQUEST = -32600, METHOD_NOT_FOUND = -32601, INVALID_PARAMS = -32602,
       SESSION_REQUIRED = -32000, SESSION_NOT_FOUND = -32001 };

/* ---- sessions --------------------------------------------------------------- */

typedef struct session {
    struct session *next;
    char id[SID_LEN + 1];
    char version[16];
    bool initialized;
} session;

static struct {
    pthread_mutex_t mu;
    session *bucket[BUCKETS];
    size_t count, max;
} sessions = {.mu = PTHREAD_MUTEX_INITIALIZER, .max = 4096};

static unsigned sid_hash(const char *id)
{
    unsigned h = 2166136261u;
    for (; *id; id++)
        h = (h ^ (unsigned char)*id) * 16777619u;
    return h % BUCKETS;
}

static void sid_new(char out[SID_LEN + 1])
{
    unsigned char raw[SID_LEN / 2];
    size_t got = 0;
    while (got < sizeof(raw)) {
        ssize_t n = getrandom(raw + got, sizeof(raw) - got, 0);
        if (n < 0 && errno != EINTR)
            abort();
        got += n > 0 ? (size_t)n : 0;
    }
    for (size_t i = 0; i < sizeof(raw); i++)
        snprintf(out + 2 * i, 3, "%02x", raw[i]);
}

/* Creates a session speaking `version`; copies its id to id_out. False when
 * the table is full. */
static bool session_create(const char *version, char id_out[SID_LEN + 1])
{
    session *s = calloc(1, sizeof(*s));
    if (!s)
        abort();
    sid_new(s->id);
    snprintf(s->version, sizeof(s->version), "%s", version);
    unsigned b = sid_hash(s->id);
    pthread_mutex_lock(&sessions.mu);
    bool ok = sessions.count < sessions.max;
    if (ok) {
        s->next = sessions.bucket[b];
        sessions.bucket[b] = s;
        sessions.count++;
        memcpy(id_out, s->id, SID_LEN + 1);
    }
    pthread_mutex_unlock(&sessions.mu);
    if (!ok)
        free(s);
    return ok;
}

/* Looks a session up; with `remove` it is unlinked and freed. With
 * `initialized` the session is marked as having received
 * notifications/initialized. True when it existed. */
static bool session_touch(const char *id, bool remove, bool initialized)
{
    if (strlen(id) != SID_LEN)
        return false;
    unsigned b = sid_hash(id);
    bool found = false;
    pthread_mutex_lock(&sessions.mu);
    for (session **pp = &sessions.bucket[b]; *pp; pp = &(*pp)->next) {
        session *s = *pp;
        if (strcmp(s->id, id))
            continue;
        found = true;
        if (initialized)
            s->initialized = true;
        if (remove) {
            *pp = s->next;
            sessions.count--;
            free(s);
        }
        break;
    }
    pthread_mutex_unlock(&sessions.mu);
    return found;
}

/* ---- JSON-RPC --------------------------------------------------------------- */

static json_t *rpc_error(json_t *id, int code, const char *msg)
{
    return json_pack("{s:s, s:O, s:{s:i, s:s}}", "jsonrpc", "2.0", "id", id ? id : json_null(), "error", "code",
                     code, "message", msg);
}

static json_t *rpc_result(json_t *id, json_t *result)
{
    return json_pack("{s:s, s:O, s:o}", "jsonrpc", "2.0", "id", id, "result", result);
}

static json_t *text_result(const char *text, bool is_error)
{
    return json_pack("{s:[{s:s, s:s}], s:b}", "content", "type", "text", "text", text, "isError", is_error);
}

static bool version_known(const char *v)
{
    for (size_t i = 0; v && i < sizeof(versions) / sizeof(versions[0]); i++)
        if (!strcmp(v, versions[i]))
            return true;
    return false;
}

static json_t *tool_list(void)
{
    return json_pack(
        "{s:[{s:s, s:s, s:{s:s, s:{s:{s:s}}, s:[s]}},"
        "    {s:s, s:s, s:{s:s, s:{s:{s:s}, s:{s:s}}, s:[s,s]}, s:{s:s, s:{s:{s:s}}, s:[s]}}]}",
        "tools",
        "name", "echo", "description", "Echoes the message back", "inputSchema", "type", "object",
        "properties", "message", "type", "string", "required", "message",
        "name", "add", "description", "Adds a and b", "inputSchema", "type", "object", "properties", "a", "type",
        "number", "b", "type", "number", "required", "a", "b", "outputSchema", "type", "object", "properties",
        "sum", "type", "number", "required", "sum");
}

static json_t *tool_echo(json_t *args)
{
    const char *m = json_string_value(json_object_get(args, "message"));
    if (!m)
        return text_result("Invalid arguments: \"message\" must be a string", true);
    size_t n = strlen(m) + sizeof("Echo: ");
    char *t = malloc(n);
    if (!t)
        abort();
    snprintf(t, n, "Echo: %s", m);
    json_t *r = text_result(t, false);
    free(t);
    return r;
}

static json_t *tool_add(json_t *args)
{
    json_t *a = json_object_get(args, "a"), *b = json_object_get(args, "b");
    if (!json_is_number(a) || !json_is_number(b))
        return text_result("Invalid arguments: \"a\" and \"b\" must be numbers", true);
    double sum = json_number_value(a) + json_number_value(b);
    char t[64];
    snprintf(t, sizeof(t), "%.17g", sum);
    json_t *r = text_result(t, false);
    json_object_set_new(r, "structuredContent", json_pack("{s:f}", "sum", sum));
    return r;
}

typedef struct {
    const char *name;
    json_t *(*run)(json_t *args);
} tool;

static const tool tools[] = {{"echo", tool_echo}, {"add", tool_add}};

static json_t *call_tool(json_t *id, json_t *params)
{
    const char *name = json_string_value(json_object_get(params, "name"));
    json_t *args = json_object_get(params, "arguments");
    if (!name)
        return rpc_error(id, INVALID_PARAMS, "params.name must be a string");
    if (args && !json_is_object(args))
        return rpc_error(id, INVALID_PARAMS, "params.arguments must be an object");
    for (size_t i = 0; i < sizeof(tools) / sizeof(tools[0]); i++)
        if (!strcmp(name, tools[i].name))
            return rpc_result(id, tools[i].run(args));
    return rpc_error(id, INVALID_PARAMS, "Unknown tool");
}

/* The answer of an initialize request; on success new_sid holds the id of
 * the session created for it. */
static json_t *initialize(json_t *id, json_t *params, char new_sid[SID_LEN + 1], int *http_status)
{
    const char *asked = json_string_value(json_object_get(params, "protocolVersion"));
    if (!asked || !json_is_object(json_object_get(params, "capabilities")))
        return rpc_error(id, INVALID_PARAMS, "params.protocolVersion (string) and params.capabilities (object) "
                                             "are required");
    /* the client's version when we speak it, else our latest */
    const char *v = version_known(asked) ? asked : LATEST_VERSION;
    if (!session_create(v, new_sid)) {
        *http_status = MHD_HTTP_SERVICE_UNAVAILABLE;
        return rpc_error(id, -32603, "too many sessions");
    }
    return rpc_result(id, json_pack("{s:s, s:{s:{s:b}}, s:{s:s, s:s}}", "protocolVersion", v, "capabilities",
                                    "tools", "listChanged", 0, "serverInfo", "name", "tc-mcp-echo", "version",
                                    "1.0.0"));
}

/* One message of a request body: its answer (caller owns), or NULL when it
 * needs none (notifications, responses). */
static json_t *handle_message(json_t *m, const char *sid)
{
    const char *jsonrpc = json_string_value(json_object_get(m, "jsonrpc"));
    if (!json_is_object(m) || !jsonrpc || strcmp(jsonrpc, "2.0"))
        return rpc_error(NULL, INVALID_REQUEST, "not a JSON-RPC 2.0 message");
    json_t *id = json_object_get(m, "id");
    const char *method = json_string_value(json_object_get(m, "method"));
    if (!method) /* a response to nothing we asked, or garbage */
        return id && (json_object_get(m, "result") || json_object_get(m, "error"))
                   ? NULL
                   : rpc_error(id, INVALID_REQUEST, "method must be a string");
    if (!id) {
        if (!strcmp(method, "notifications/initialized"))
            session_touch(sid, false, true);
        return NULL;
    }
    if (!json_is_string(id) && !json_is_integer(id))
        return rpc_error(NULL, INVALID_REQUEST, "id must be a string or an integer");
    json_t *params = json_object_get(m, "params");
    if (params && !json_is_object(params))
        return rpc_error(id, INVALID_PARAMS, "params must be an object");
    if (!strcmp(method, "tools/call"))
        return call_tool(id, params);
    if (!strcmp(method, "ping"))
        return rpc_result(id, json_object());
    if (!strcmp(method, "tools/list"))
        return rpc_result(id, tool_list());
    if (!strcmp(method, "initialize"))
        return rpc_error(id, INVALID_REQUEST, "initialize must be sent alone, without Mcp-Session-Id");
    return rpc_error(id, METHOD_NOT_FOUND, "Method not found");
}

/* ---- HTTP ------------------------------------------------------------------- */

typedef struct req {
    char *body;
    size_t len, cap;
    bool too_big;
} req;

static enum MHD_Result send_json(struct MHD_Connection *c, unsigned status, json_t *j, const char *sid)
{
    char *text = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    if (!text)
        abort();
    struct MHD_Response *r = MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
    MHD_add_response_header(r, "Content-Type", "application/json");
    if (sid)
        MHD_add_response_header(r, "Mcp-Session-Id", sid);
    enum MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result send_empty(struct MHD_Connection *c, unsigned status, const char *allow)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
    if (allow)
        MHD_add_response_header(r, "Allow", allow);
    enum MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result send_error(struct MHD_Connection *c, unsigned status, int code, const char *msg)
{
    return send_json(c, status, rpc_error(NULL, code, msg), NULL);
}

static bool has_token(const char *list, const char *tok)
{
    for (const char *p = list; p && (p = strcasestr(p, tok)); p += strlen(tok)) {
        char after = p[strlen(tok)];
        if (after == '\0' || after == ',' || after == ';' || after == ' ')
            return true;
    }
    return false;
}

static bool loopback_origin(const char *o)
{
    static const char *const ok[] = {"http://127.0.0.1", "http://localhost", "http://[::1]"};
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        size_t n = strlen(ok[i]);
        if (!strncmp(o, ok[i], n) && (o[n] == '\0' || o[n] == ':' || o[n] == '/'))
            return true;
    }
    return false;
}

static const char *header(struct MHD_Connection *c, const char *name)
{
    return MHD_lookup_connection_value(c, MHD_HEADER_KIND, name);
}

/* Checks common to every /mcp request after initialize: a live session and a
 * protocol version we speak. True when fine, else false with the error
 * queued in *ret. */
static bool session_ok(struct MHD_Connection *c, const char *sid, enum MHD_Result *ret)
{
    const char *v = header(c, "MCP-Protocol-Version");
    if (!sid) {
        *ret = send_error(c, MHD_HTTP_BAD_REQUEST, SESSION_REQUIRED, "Bad Request: Mcp-Session-Id header is required");
        return false;
    }
    if (!session_touch(sid, false, false)) {
        *ret = send_error(c, MHD_HTTP_NOT_FOUND, SESSION_NOT_FOUND, "Session not found");
        return false;
    }
    if (v && !version_known(v)) {
        *ret = send_error(c, MHD_HTTP_BAD_REQUEST, SESSION_REQUIRED, "Bad Request: unsupported MCP-Protocol-Version");
        return false;
    }
    return true;
}

static enum MHD_Result handle_batch(struct MHD_Connection *c, json_t *batch, const char *sid)
{
    enum MHD_Result ret;
    if (!session_ok(c, sid, &ret))
        goto out;
    if (json_array_size(batch) == 0) {
        ret = send_error(c, MHD_HTTP_BAD_REQUEST, INVALID_REQUEST, "empty batch");
        goto out;
    }
    json_t *answers = json_array(), *m;
    size_t i;
    json_array_foreach(batch, i, m) {
        json_t *a = handle_message(m, sid);
        if (a)
            json_array_append_new(answers, a);
    }
    if (json_array_size(answers) == 0) {
        json_decref(answers);
        ret = send_empty(c, MHD_HTTP_ACCEPTED, NULL);
    } else {
        ret = send_json(c, MHD_HTTP_OK, answers, NULL);
    }
out:
    json_decref(batch);
    return ret;
}

static bool is_initialize(json_t *m)
{
    const char *method = json_string_value(json_object_get(m, "method"));
    return method && !strcmp(method, "initialize") && json_object_get(m, "id");
}

static enum MHD_Result handle_post(struct MHD_Connection *c, req *r)
{
    const char *ct = header(c, MHD_HTTP_HEADER_CONTENT_TYPE), *accept = header(c, MHD_HTTP_HEADER_ACCEPT);
    const char *sid = header(c, "Mcp-Session-Id");
    if (r->too_big)
        return send_error(c, MHD_HTTP_CONTENT_TOO_LARGE, INVALID_REQUEST, "request body exceeds 1 MiB");
    if (!ct || strncasecmp(ct, "application/json", 16))
        return send_error(c, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE, INVALID_REQUEST,
                          "Content-Type must be application/json");
    if (!has_token(accept, "application/json") || !has_token(accept, "text/event-stream"))
        return send_error(c, MHD_HTTP_NOT_ACCEPTABLE, INVALID_REQUEST,
                          "Accept must list application/json and text/event-stream");
    json_error_t je;
    json_t *m = json_loadb(r->body ? r->body : "", r->len, JSON_REJECT_DUPLICATES, &je);
    if (!m)
        return send_error(c, MHD_HTTP_BAD_REQUEST, PARSE_ERROR, "Parse error");
    if (json_is_array(m))
        return handle_batch(c, m, sid);
    enum MHD_Result ret;
    if (is_initialize(m)) {
        char new_sid[SID_LEN + 1];
        int status = MHD_HTTP_OK;
        json_t *a = initialize(json_object_get(m, "id"), json_object_get(m, "params"), new_sid, &status);
        ret = send_json(c, status, a, status == MHD_HTTP_OK && json_object_get(a, "result") ? new_sid : NULL);
        goto out;
    }
    if (!session_ok(c, sid, &ret))
        goto out;
    json_t *a = handle_message(m, sid);
    ret = a ? send_json(c, MHD_HTTP_OK, a, NULL) : send_empty(c, MHD_HTTP_ACCEPTED, NULL);
out:
    json_decref(m);
    return ret;
}

static enum MHD_Result handle_delete(struct MHD_Connection *c)
{
    const char *sid = header(c, "Mcp-Session-Id");
    if (!sid)
        return send_error(c, MHD_HTTP_BAD_REQUEST, SESSION_REQUIRED, "Bad Request: Mcp-Session-Id header is required");
    if (!session_touch(sid, true, false))
        return send_error(c, MHD_HTTP_NOT_FOUND, SESSION_NOT_FOUND, "Session not found");
    return send_empty(c, MHD_HTTP_OK, NULL);
}

static bool gather(req *r, const char *data, size_t n)
{
    if (r->too_big || r->len + n > BODY_MAX) {
        r->too_big = true;
        return true;
    }
    if (r->len + n > r->cap) {
        size_t cap = r->cap ? r->cap : 1024;
        while (cap < r->len + n)
            cap *= 2;
        r->body = realloc(r->body, cap);
        if (!r->body)
            abort();
        r->cap = cap;
    }
    memcpy(r->body + r->len, data, n);
    r->len += n;
    return true;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *data, size_t *data_size, void **ctx)
{
    if (!*ctx) {
        *ctx = calloc(1, sizeof(req));
        return *ctx ? MHD_YES : MHD_NO;
    }
    req *r = *ctx;
    if (*data_size) {
        gather(r, data, *data_size);
        *data_size = 0;
        return MHD_YES;
    }
    const char *origin = header(c, "Origin");
    if (strcmp(url, "/mcp"))
        return send_error(c, MHD_HTTP_NOT_FOUND, INVALID_REQUEST, "not found: the MCP endpoint is /mcp");
    if (origin && !loopback_origin(origin))
        return send_error(c, MHD_HTTP_FORBIDDEN, INVALID_REQUEST, "Origin not allowed");
    if (!strcmp(method, "POST"))
        return handle_post(c, r);
    if (!strcmp(method, "DELETE"))
        return handle_delete(c);
    return send_empty(c, MHD_HTTP_METHOD_NOT_ALLOWED, "POST, DELETE");
}

static void on_completed(void *cls, struct MHD_Connection *c, void **ctx, enum MHD_RequestTerminationCode why)
{
    req *r = *ctx;
    if (!r)
        return;
    free(r->body);
    free(r);
    *ctx = NULL;
}

/* ---- main ------------------------------------------------------------------- */

static long arg_num(int argc, char **argv, const char *name, long def, long lo, long hi)
{
    for (int i = 1; i + 1 < argc; i++) {
        if (strcmp(argv[i], name))
            continue;
        char *end;
        long v = strtol(argv[i + 1], &end, 10);
        if (*end || v < lo || v > hi) {
            fprintf(stderr, "mcp_echo_server: %s must be an integer in [%ld, %ld]\n", name, lo, hi);
            exit(2);
        }
        return v;
    }
    return def;
}

int main(int argc, char **argv)
{
    long port = arg_num(argc, argv, "--port", 0, 0, 65535);
    long threads = arg_num(argc, argv, "--threads", 1, 1, 64);
    sessions.max = (size_t)arg_num(argc, argv, "--max-sessions", 4096, 1, 1000000);
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop, NULL); /* MHD's threads inherit the mask */
    signal(SIGPIPE, SIG_IGN);

    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    /* the pool option only when asked for: MHD warns about a pool of 1 */
    struct MHD_OptionItem pool[] = {{MHD_OPTION_THREAD_POOL_SIZE, threads, NULL}, {MHD_OPTION_END, 0, NULL}};
    struct MHD_Daemon *d = MHD_start_daemon(
        MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ERROR_LOG, 0, NULL, NULL, on_request, NULL,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa, MHD_OPTION_CONNECTION_LIMIT, (unsigned)64,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)60, MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
        MHD_OPTION_ARRAY, threads > 1 ? pool : pool + 1, MHD_OPTION_END);
    if (!d) {
        fprintf(stderr, "mcp_echo_server: cannot listen on 127.0.0.1:%ld\n", port);
        return 1;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    printf("LISTENING %u\n", info ? info->port : 0);
    fflush(stdout);
    int sig;
    sigwait(&stop, &sig);
    MHD_stop_daemon(d);
    return 0;
}
