/* http: the HTTP server (libmicrohttpd, internal epoll thread pool).
 *
 * A request goes through fixed phases: request id, CORS, route match,
 * authentication hook, rate-limit hook, handler. Routes come from ONE
 * `static const` table (src/api/routes.c) given to tc_http_server_new().
 *
 * Handlers: `tc_status handler(tc_http_req *req, tc_err *err)`.
 *   - Success: call one tc_http_reply_*() and return TC_OK.
 *   - Failure: fill err (tc_failf) and return its status; the server writes
 *     {"error":{"code","message","field"}} with the mapped HTTP status
 *     (422 adds "details" from req->details when the handler set it).
 *   - Later: call tc_http_suspend() and return TC_OK; another thread
 *     answers through the returned tc_http_pending handle.
 *   - Streams (SSE): tc_http_stream_open() and return TC_OK.
 * Handlers run on the server's threads: keep them short, never sleep.
 *
 * Memory: everything reachable from a tc_http_req is borrowed until the
 * request completes; allocate request data from req->arena. */
#ifndef TC_HTTP_H
#define TC_HTTP_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/core.h"

typedef struct tc_http_server tc_http_server;
typedef struct tc_http_req tc_http_req;
typedef tc_status (*tc_http_handler)(tc_http_req *req, tc_err *err);

/* ---- routes ------------------------------------------------------------- */
typedef enum {
    TC_AUTH_NONE,     /* the authenticate hook is not called */
    TC_AUTH_OPTIONAL, /* called; anonymous allowed; bad credentials -> 401 */
    TC_AUTH_REQUIRED, /* called; anonymous -> 401 */
} tc_route_auth;

enum {
    TC_ROUTE_TEST = 1u << 0,  /* only served when the server's test_routes is on */
    TC_ROUTE_ADMIN = 1u << 1, /* requires req->is_admin after authentication */
};

/* Rate-limit classes handed to the rate-limit hook; 0 = not limited. */
enum { TC_RATE_NONE = 0, TC_RATE_AUTH = 1, TC_RATE_TOOL = 2, TC_RATE_API = 3 };

typedef struct tc_route {
    const char *method;   /* "GET", "POST", "PUT", "PATCH", "DELETE" */
    const char *pattern;  /* "/api/sessions/{id}": {name} matches one segment */
    tc_http_handler handler;
    tc_route_auth auth;
    int rate_class;       /* TC_RATE_* */
    unsigned flags;       /* TC_ROUTE_* */
} tc_route;

/* ---- server ------------------------------------------------------------- */
typedef struct tc_http_options {
    const char *listen;        /* "host:port" or "[v6]:port"; port 0 = any free port */
    int threads;               /* thread pool size (>= 1) */
    size_t body_max;           /* largest request body */
    int json_depth_max;        /* deepest JSON nesting in request bodies */
    size_t json_string_max;    /* longest string in a JSON body; 0 = body_max */
    int header_count_max;      /* 0 = default (64) */
    unsigned connection_limit; /* 0 = default (4096) */
    size_t conn_memory_limit;  /* per connection (bounds header size); 0 = 12 KiB; 4 KiB..1 MiB */
    unsigned timeout_s;        /* idle timeout of normal requests; 0 = 30 */
    const char *cors_origins;  /* comma-separated; "*" = any; "" = none */
    const char *web_root;      /* static files for non-/api paths; NULL = none */
    bool test_routes;          /* serve routes flagged TC_ROUTE_TEST */
    void *ctx;                 /* handlers read it back with req->ctx (the tc_app) */
} tc_http_options;

/* Creates the server (not yet listening). routes must outlive the server.
 * Caller frees with tc_http_server_free. */
tc_status tc_http_server_new(const tc_http_options *opt, const tc_route *routes, size_t nroutes,
                             tc_http_server **out, tc_err *err);
/* Binds and starts the thread pool. */
tc_status tc_http_server_start(tc_http_server *s, tc_err *err);
/* Actual bound port (after start), and "http://host:port". */
int tc_http_server_port(const tc_http_server *s);
const char *tc_http_server_url(const tc_http_server *s);
/* Graceful stop: stop accepting, end streams, fail pending requests with 503,
 * wait up to wait_ms for in-flight requests, then stop the threads. */
void tc_http_server_stop(tc_http_server *s, int wait_ms);
void tc_http_server_free(tc_http_server *s);

/* Authentication hook (filled by the accounts module). Called for routes
 * with TC_AUTH_OPTIONAL/REQUIRED. Returns:
 *   TC_OK        credentials valid; set req->user_id (arena string) and req->is_admin
 *   TC_DECLINED  no credentials presented (anonymous)
 *   an error     bad credentials (usually TC_UNAUTHORIZED with a message) */
typedef tc_status (*tc_http_auth_hook)(tc_http_req *req, tc_err *err);
void tc_http_set_auth_hook(tc_http_server *s, tc_http_auth_hook fn);

/* Rate-limit hook (filled by the executor work). Called after authentication
 * for routes with rate_class != 0. Return TC_OK to admit, or TC_RATE_LIMITED
 * after tc_http_set_header(req, "Retry-After", "N"). */
typedef tc_status (*tc_http_rate_hook)(tc_http_req *req, int rate_class, tc_err *err);
void tc_http_set_rate_hook(tc_http_server *s, tc_http_rate_hook fn);

/* Extra Prometheus text appended to GET /metrics output (DB pool, build info). */
typedef void (*tc_http_metrics_hook)(tc_buf *out, void *ctx);
void tc_http_set_metrics_hook(tc_http_server *s, tc_http_metrics_hook fn, void *ctx);
/* Writes the server's own metrics (requests, latency) into out. */
void tc_http_metrics_render(tc_http_server *s, tc_buf *out);

/* ---- the request -------------------------------------------------------- */
struct tc_http_req {
    tc_arena *arena;          /* freed when the request completes */
    tc_http_server *server;
    void *ctx;                /* tc_http_options.ctx */
    const char *method;
    const char *path;         /* decoded path without the query string */
    const char *request_id;   /* echoed as X-Request-Id */
    const tc_route *route;    /* matched route (NULL for static files) */
    /* Set by the authentication hook. */
    const char *user_id;      /* NULL = anonymous */
    bool is_admin;
    void *auth;               /* hook-defined (session id, api key id, ...) */
    /* A handler returning TC_VALIDATION may set an array of
     * {"path","keyword","message"}; the server takes ownership. */
    json_t *details;
};

/* Path parameter from the route pattern ("id" for {id}); NULL if absent. */
const char *tc_http_param(tc_http_req *req, const char *name);
/* Decoded query parameter; NULL if absent. Never logged. */
const char *tc_http_query(tc_http_req *req, const char *name);
/* Integer query parameter in [min,max]; *out = def when absent. 400 naming
 * the parameter when malformed or out of range. */
tc_status tc_http_query_int(tc_http_req *req, const char *name, int64_t def, int64_t min,
                            int64_t max, int64_t *out, tc_err *err);
/* Request header (case-insensitive); NULL if absent. */
const char *tc_http_header(tc_http_req *req, const char *name);
/* "Bearer xxx" token from Authorization, or NULL. */
const char *tc_http_bearer(tc_http_req *req);
/* Client IP address as text ("127.0.0.1"), arena-owned. */
const char *tc_http_client_addr(tc_http_req *req);
/* Raw body bytes (borrowed; NUL-terminated) and its length. */
const char *tc_http_body(tc_http_req *req, size_t *len);

/* Parses the body as JSON: Content-Type must be application/json (415),
 * valid UTF-8 (400), well-formed (400 with line/column), nesting at most
 * json_depth_max (400), strings at most json_string_max (413). An empty body
 * is 400. On success *out is a new reference the request owns (decref'd at
 * completion): do not decref it yourself. */
tc_status tc_http_json_body(tc_http_req *req, json_t **out, tc_err *err);

/* ---- replies (call at most one) ----------------------------------------- */
/* Takes ownership of json (may be NULL = "null"). */
tc_status tc_http_reply_json(tc_http_req *req, int status, json_t *json);
tc_status tc_http_reply_empty(tc_http_req *req, int status);  /* e.g. 204 */
tc_status tc_http_reply_redirect(tc_http_req *req, const char *location); /* 302 */
/* Already serialized JSON (copied; the caller made it valid), with the same
 * headers as tc_http_reply_json. For hot paths that skip building a json_t. */
tc_status tc_http_reply_json_text(tc_http_req *req, int status, const char *json, size_t len);
/* Body is copied. */
tc_status tc_http_reply_bytes(tc_http_req *req, int status, const char *content_type,
                              const void *body, size_t len);
/* Adds a response header to whatever response this request sends (also
 * error responses). Values are copied. */
void tc_http_set_header(tc_http_req *req, const char *name, const char *value);

/* ---- suspended requests ------------------------------------------------- */
/* Parks the request; the thread pool is free to serve others. Exactly one
 * tc_http_pending_* completion must follow, from any thread. The handler
 * returns TC_OK right after. The server completes still-pending requests
 * with 503 at shutdown (the completion then returns TC_UNAVAILABLE). */
typedef struct tc_http_pending tc_http_pending;
tc_http_pending *tc_http_suspend(tc_http_req *req);
/* Takes ownership of json. Returns TC_UNAVAILABLE when the client is gone or
 * the server answered already (shutdown); the handle is released either way. */
tc_status tc_http_pending_reply_json(tc_http_pending *p, int status, json_t *json);
tc_status tc_http_pending_fail(tc_http_pending *p, const tc_err *err);
/* 302 to location (copied; refused with TC_INTERNAL if it holds CR/LF). */
tc_status tc_http_pending_reply_redirect(tc_http_pending *p, const char *location);
/* Request id of a pending request, for logs (valid until completion). */
const char *tc_http_pending_request_id(const tc_http_pending *p);

/* ---- streams (SSE) ------------------------------------------------------ */
/* Answers 200 with content_type and a body the producer writes over time.
 * The stream's idle timeout is disabled; a heartbeat (": hb\n\n" for SSE)
 * goes out every heartbeat_ms when nothing else was sent (0 = none).
 * queue_max bounds bytes waiting for a slow client.
 * The producer holds one reference: release it with tc_http_stream_release
 * (after tc_http_stream_close, or when send reports the client gone). */
typedef struct tc_http_stream tc_http_stream;
tc_http_stream *tc_http_stream_open(tc_http_req *req, const char *content_type,
                                    size_t queue_max, int heartbeat_ms);
/* Queues bytes (copied). TC_TOO_LARGE: the queue is full (slow client; the
 * bytes were not queued). TC_UNAVAILABLE: the client is gone or the stream
 * closed. Any thread. */
tc_status tc_http_stream_send(tc_http_stream *st, const void *data, size_t len);
/* Ends the body after queued bytes are flushed. Idempotent. */
void tc_http_stream_close(tc_http_stream *st);
bool tc_http_stream_alive(tc_http_stream *st);
void tc_http_stream_release(tc_http_stream *st);
/* Optional: called once (on an internal thread) when the stream ends for any
 * reason: client gone, closed, shutdown. Keep it short. */
void tc_http_stream_on_end(tc_http_stream *st, void (*fn)(void *), void *arg);

/* ---- JSON field readers (for request bodies) ----------------------------
 * Errors are 422 TC_VALIDATION naming the field; strings are borrowed from
 * obj. "required" false: *out keeps its value when the field is absent or
 * null. Strings must be valid UTF-8 (jansson guarantees it) and hold 1..max
 * bytes when required (0..max when optional). */
tc_status tc_json_str(const json_t *obj, const char *name, bool required, size_t max,
                      const char **out, tc_err *err);
tc_status tc_json_bool(const json_t *obj, const char *name, bool required, bool *out,
                       tc_err *err);
tc_status tc_json_int(const json_t *obj, const char *name, bool required, int64_t min,
                      int64_t max, int64_t *out, tc_err *err);
/* Object/array members: borrowed, *out NULL when absent and optional. */
tc_status tc_json_obj(const json_t *obj, const char *name, bool required, json_t **out,
                      tc_err *err);
tc_status tc_json_arr(const json_t *obj, const char *name, bool required, json_t **out,
                      tc_err *err);

/* Table-driven reading of several fields into a struct:
 *   static const tc_json_field f[] = {
 *       {"email", TC_JF_STR, true, 0, 254, offsetof(signup, email)},
 *       {"remember", TC_JF_BOOL, false, 0, 0, offsetof(signup, remember)},
 *   };
 *   tc_json_read(body, f, 2, &s, err);
 * STR -> const char*, BOOL -> bool, INT -> int64_t, OBJ/ARR -> json_t*.
 * The body itself must be an object (422 otherwise). */
typedef enum { TC_JF_STR, TC_JF_BOOL, TC_JF_INT, TC_JF_OBJ, TC_JF_ARR } tc_json_ftype;
typedef struct tc_json_field {
    const char *name;
    tc_json_ftype type;
    bool required;
    int64_t min, max; /* INT: value range; STR: max length in bytes (min unused) */
    size_t offset;
} tc_json_field;
tc_status tc_json_read(const json_t *obj, const tc_json_field *fields, size_t n, void *out,
                       tc_err *err);

/* ---- internals exposed for tests ----------------------------------------
 * Matches path against a route pattern; fills up to max_params name/value
 * pairs (values point into path, not NUL-terminated: see lengths). */
typedef struct tc_http_param_kv {
    tc_slice name;
    tc_slice value;
} tc_http_param_kv;
bool tc_http_route_match(const char *pattern, const char *path, tc_http_param_kv *params,
                         int max_params, int *nparams);
/* Checks JSON nesting without parsing; returns the byte offset of the first
 * bracket that goes deeper than max_depth, or -1 when within limits. */
long tc_http_json_depth_check(const char *s, size_t n, int max_depth);
/* Parses "host:port" / "[v6]:port"; host out is NUL-terminated. */
tc_status tc_http_parse_listen(const char *listen, char *host, size_t hostcap, int *port,
                               tc_err *err);

#endif
