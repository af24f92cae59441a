/* The daemon and the request lifecycle.
 *
 * libmicrohttpd calls on_request() several times per request:
 *   1st call: headers are in; set up the per-request state (limits checked,
 *             oversize Content-Length answered 413 right away);
 *   N calls:  body chunks, accumulated up to body_max (beyond: discarded and
 *             answered 413 at the end);
 *   last:     *upload_data_size == 0: run the phases and queue the response.
 * After a suspended request is resumed, MHD calls it once more and the
 * stored response is queued. on_completed() writes the access log line,
 * counts metrics and frees the request's arena. */
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "http/http_int.h"

#define BODY_DISCARD_FACTOR 4 /* past 4x body_max of discarded body: drop the connection */

/* ---- phases ------------------------------------------------------------- */

static bool origin_allowed(tc_http_server *s, const char *origin)
{
    const char *list = s->cors_origins;
    size_t olen = strlen(origin);
    if (!list || !*list)
        return false;
    if (!strcmp(list, "*"))
        return true;
    for (const char *p = list; *p;) {
        while (*p == ' ' || *p == ',')
            p++;
        const char *end = p;
        while (*end && *end != ',')
            end++;
        size_t n = (size_t)(end - p);
        while (n && p[n - 1] == ' ')
            n--;
        if (n && n == olen && !strncasecmp(p, origin, n))
            return true;
        p = end;
    }
    return false;
}

/* CORS phase: remembers an allowed Origin; answers preflight requests.
 * Returns TC_DECLINED when the request continues to the router. */
static tc_status phase_cors(http_conn *hc, tc_err *err)
{
    tc_http_req *req = &hc->pub;
    const char *origin = tc_http_header(req, "Origin");
    if (origin && origin_allowed(hc->srv, origin))
        hc->cors_origin = tc_arena_strdup(req->arena, origin);
    if (strcmp(req->method, "OPTIONS") != 0)
        return TC_DECLINED;
    const char *allow = tc_http__allow_header(hc->srv, req->path, req->arena);
    bool preflight = origin && tc_http_header(req, "Access-Control-Request-Method");
    if (preflight && !hc->cors_origin)
        return tc_failc(err, TC_FORBIDDEN, "cors_origin_denied", NULL,
                        "origin %s is not allowed (TC_CORS_ORIGINS)", origin);
    tc_http_reply_empty(req, 204);
    if (allow) {
        tc_http_set_header(req, "Allow", allow);
        if (preflight)
            tc_http_set_header(req, "Access-Control-Allow-Methods", allow);
    }
    if (preflight) {
        tc_http_set_header(req, "Access-Control-Allow-Headers",
                           "Authorization, Content-Type, Last-Event-ID, X-Request-Id");
        tc_http_set_header(req, "Access-Control-Max-Age", "600");
    }
    return TC_OK;
}

static bool route_enabled(tc_http_server *s, const tc_route *r)
{
    return !(r->flags & TC_ROUTE_TEST) || s->opt.test_routes;
}

static bool is_api_path(const char *path)
{
    return !strncmp(path, "/api", 4) && (path[4] == '\0' || path[4] == '/');
}

/* Router: finds the row for method + path. TC_DECLINED = serve static. */
static tc_status phase_route(http_conn *hc, tc_err *err)
{
    tc_http_server *s = hc->srv;
    tc_http_req *req = &hc->pub;
    const char *m = !strcmp(req->method, "HEAD") ? "GET" : req->method;
    bool path_known = false;
    for (size_t i = 0; i < s->nroutes; i++) {
        const tc_route *r = &s->routes[i];
        if (!route_enabled(s, r))
            continue;
        int np = 0;
        if (!tc_http_route_match(r->pattern, req->path, hc->params, HTTP_MAX_PARAMS, &np))
            continue;
        path_known = true;
        if (strcmp(r->method, m) != 0)
            continue;
        hc->nparams = np;
        req->route = r;
        hc->slot = SLOT_FIRST_ROUTE + (int)i;
        return TC_OK;
    }
    hc->nparams = 0;
    if (path_known) {
        const char *allow = tc_http__allow_header(s, req->path, req->arena);
        tc_http_set_header(req, "Allow", allow ? allow : "");
        return tc_failf(err, TC_METHOD_NOT_ALLOWED, NULL, "%s is not allowed on %s (allowed: %s)",
                        req->method, req->path, allow ? allow : "none");
    }
    if (!is_api_path(req->path) && s->web_root && (!strcmp(m, "GET"))) {
        hc->slot = SLOT_STATIC;
        return TC_DECLINED;
    }
    if (!is_api_path(req->path) && s->web_root) {
        tc_http_set_header(req, "Allow", "GET, HEAD, OPTIONS");
        return tc_failf(err, TC_METHOD_NOT_ALLOWED, NULL, "%s is not allowed on %s (allowed: GET, HEAD)",
                        req->method, req->path);
    }
    return tc_failf(err, TC_NOT_FOUND, NULL, "no such endpoint: %s %s", req->method, req->path);
}

static tc_status phase_auth(http_conn *hc, tc_err *err)
{
    tc_http_req *req = &hc->pub;
    const tc_route *r = req->route;
    if (r->auth == TC_AUTH_NONE)
        return TC_OK;
    tc_status st = TC_DECLINED;
    if (hc->srv->auth_hook)
        st = hc->srv->auth_hook(req, err);
    if (st == TC_DECLINED) {
        req->user_id = NULL;
        req->is_admin = false;
        if (r->auth == TC_AUTH_REQUIRED)
            return tc_failf(err, TC_UNAUTHORIZED, NULL,
                            hc->srv->auth_hook ? "authentication required"
                                               : "authentication is not available on this server");
        return TC_OK;
    }
    if (st != TC_OK)
        return st;
    if ((r->flags & TC_ROUTE_ADMIN) && !req->is_admin)
        return tc_failf(err, TC_FORBIDDEN, NULL, "administrators only");
    return TC_OK;
}

static tc_status phase_rate(http_conn *hc, tc_err *err)
{
    const tc_route *r = hc->pub.route;
    if (!r->rate_class || !hc->srv->rate_hook)
        return TC_OK;
    return hc->srv->rate_hook(&hc->pub, r->rate_class, err);
}

static tc_status run_phases(http_conn *hc, tc_err *err)
{
    tc_status st = phase_cors(hc, err);
    if (st != TC_DECLINED)
        return st;
    if (hc->body_too_large)
        return tc_failf(err, TC_TOO_LARGE, NULL, "the request body is larger than %zu bytes",
                        hc->srv->opt.body_max);
    st = phase_route(hc, err);
    if (st == TC_DECLINED)
        return tc_http__static(hc, err);
    if (st != TC_OK)
        return st;
    if ((st = phase_auth(hc, err)) != TC_OK)
        return st;
    if ((st = phase_rate(hc, err)) != TC_OK)
        return st;
    return hc->pub.route->handler(&hc->pub, err);
}

static void dispatch(http_conn *hc)
{
    tc_err err;
    tc_err_clear(&err);
    hc->dispatched = true;
    tc_status st = run_phases(hc, &err);
    if (hc->pending)
        return; /* answered later from another thread */
    if (st == TC_OK && !hc->resp)
        st = tc_failf(&err, TC_INTERNAL, NULL, "the handler produced no response");
    if (st != TC_OK) {
        if (err.status != st)
            tc_failf(&err, st, NULL, "%s", tc_strerror(st));
        if (tc_status_http(st) >= 500)
            tc_log(TC_LOG_ERROR, "request failed", "request_id", hc->pub.request_id,
                   "code", tc_err_code(&err), "error", err.message, NULL);
        tc_http__reply_error(hc, &err);
    }
    tc_http__queue(hc);
}

/* ---- responses ---------------------------------------------------------- */

void tc_http__add_common_headers(http_conn *hc, struct MHD_Response *r)
{
    MHD_add_response_header(r, "X-Request-Id", hc->pub.request_id);
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    if (hc->cors_origin) {
        MHD_add_response_header(r, "Access-Control-Allow-Origin", hc->cors_origin);
        MHD_add_response_header(r, "Access-Control-Expose-Headers", "X-Request-Id, Retry-After");
        MHD_add_response_header(r, "Vary", "Origin");
    }
    for (http_hdr *h = hc->headers; h; h = h->next)
        MHD_add_response_header(r, h->name, h->value);
}

void tc_http__queue(http_conn *hc)
{
    if (!hc->resp || hc->queued)
        return;
    tc_http__add_common_headers(hc, hc->resp);
    if (MHD_queue_response(hc->mhd, (unsigned)hc->status, hc->resp) != MHD_YES)
        tc_log(TC_LOG_WARN, "queue response failed", "request_id", hc->pub.request_id, NULL);
    MHD_destroy_response(hc->resp);
    hc->resp = NULL;
    hc->queued = true;
}

/* Answers at the first call (before reading the body); MHD then closes the
 * connection because the body was not consumed. */
static enum MHD_Result answer_early(http_conn *hc, tc_status st, const char *code, const char *msg)
{
    tc_err err;
    tc_failc(&err, st, code, NULL, "%s", msg);
    hc->dispatched = true;
    tc_http__reply_error(hc, &err);
    tc_http__queue(hc);
    return MHD_YES;
}

/* ---- request state ------------------------------------------------------ */

static bool safe_request_id(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 64)
        return false;
    return strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") == n;
}

static enum MHD_Result count_header(void *cls, enum MHD_ValueKind kind, const char *k, const char *v)
{
    (*(int *)cls)++;
    return MHD_YES;
}

/* Request ids: UUID v4 shaped, from a per-thread xorshift generator seeded
 * once from the CSPRNG. They only need to be unique, not secret, and this
 * costs a fraction of a CSPRNG call per request (docs/performance.md). */
static uint64_t rid_next(void)
{
    static _Thread_local uint64_t s[2];
    if (!s[0] && !s[1]) {
        tc_random_bytes(s, sizeof s);
        s[0] |= 1;
    }
    uint64_t x = s[0], y = s[1]; /* xorshift128+ */
    s[0] = y;
    x ^= x << 23;
    s[1] = x ^ y ^ (x >> 17) ^ (y >> 26);
    return s[1] + y;
}

static void request_id_new(char out[37])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char b[16];
    uint64_t hi = rid_next(), lo = rid_next();
    memcpy(b, &hi, 8);
    memcpy(b + 8, &lo, 8);
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    char *p = out;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            *p++ = '-';
        *p++ = hex[b[i] >> 4];
        *p++ = hex[b[i] & 15];
    }
    *p = '\0';
}

static http_conn *conn_new(tc_http_server *s, struct MHD_Connection *c, const char *url,
                           const char *method)
{
    tc_arena *a = tc_arena_new(HTTP_ARENA_CHUNK);
    http_conn *hc = tc_arena_alloc(a, sizeof(*hc));
    hc->pub.arena = a;
    hc->pub.server = s;
    hc->pub.ctx = s->opt.ctx;
    hc->pub.method = tc_arena_strdup(a, method);
    hc->pub.path = tc_arena_strdup(a, url);
    hc->srv = s;
    hc->mhd = c;
    hc->start_ns = tc_mono_ns();
    atomic_fetch_add(&s->inflight, 1);
    hc->slot = SLOT_UNMATCHED;
    tc_buf_init(&hc->body, s->opt.body_max);
    const char *rid = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Request-Id");
    if (rid && safe_request_id(rid)) {
        hc->pub.request_id = tc_arena_strdup(a, rid);
    } else {
        char *id = tc_arena_alloc(a, 37);
        request_id_new(id);
        hc->pub.request_id = id;
    }
    return hc;
}

static enum MHD_Result first_call(http_conn *hc)
{
    tc_http_server *s = hc->srv;
    int nh = 0;
    MHD_get_connection_values(hc->mhd, MHD_HEADER_KIND, count_header, &nh);
    if (nh > s->opt.header_count_max)
        return answer_early(hc, TC_TOO_LARGE, "too_many_headers", "the request has too many headers");
    const char *cl = MHD_lookup_connection_value(hc->mhd, MHD_HEADER_KIND, "Content-Length");
    if (cl && strtoull(cl, NULL, 10) > s->opt.body_max) {
        char msg[96];
        snprintf(msg, sizeof(msg), "the request body is larger than %zu bytes", s->opt.body_max);
        return answer_early(hc, TC_TOO_LARGE, NULL, msg);
    }
    return MHD_YES;
}

static enum MHD_Result take_body(http_conn *hc, const char *data, size_t *size)
{
    size_t n = *size;
    *size = 0;
    hc->body_seen += n;
    if (!hc->body_too_large && tc_buf_append(&hc->body, data, n) != TC_OK) {
        hc->body_too_large = true;
        tc_buf_free(&hc->body);
        tc_buf_init(&hc->body, 0);
    }
    /* Bound the work spent on a client streaming an endless body. */
    if (hc->body_too_large && hc->body_seen / BODY_DISCARD_FACTOR > hc->srv->opt.body_max)
        return MHD_NO;
    return MHD_YES;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    tc_http_server *s = cls;
    http_conn *hc = *con_cls;
    if (!hc) {
        hc = conn_new(s, c, url, method);
        *con_cls = hc;
        return first_call(hc);
    }
    if (*upload_data_size)
        return hc->dispatched ? (*upload_data_size = 0, MHD_YES)
                              : take_body(hc, upload_data, upload_data_size);
    if (hc->pending) {
        tc_http__pending_resumed(hc);
        return MHD_YES;
    }
    if (!hc->dispatched)
        dispatch(hc);
    return MHD_YES;
}

/* Decimal without printf (the access log is on every request's path). */
static char *fmt_u64(char out[24], uint64_t v)
{
    char tmp[24];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    for (size_t i = 0; i < n; i++)
        out[i] = tmp[n - 1 - i];
    out[n] = '\0';
    return out + n;
}

/* Nanoseconds as milliseconds with three decimals ("12.345"). */
static void fmt_ms3(char out[32], int64_t ns)
{
    uint64_t us = ns > 0 ? (uint64_t)(ns + 500) / 1000 : 0;
    char *p = fmt_u64(out, us / 1000);
    unsigned frac = (unsigned)(us % 1000);
    p[0] = '.';
    p[1] = (char)('0' + frac / 100);
    p[2] = (char)('0' + frac / 10 % 10);
    p[3] = (char)('0' + frac % 10);
    p[4] = '\0';
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    http_conn *hc = *con_cls;
    if (!hc)
        return;
    *con_cls = NULL;
    int64_t ns = tc_mono_ns() - hc->start_ns;
    if (hc->pending)
        tc_http__pending_conn_done(hc);
    if (hc->stream)
        tc_http__stream_conn_done(hc);
    if (hc->status)
        tc_http__metrics_observe(&hc->srv->metrics, hc->slot, hc->status, ns);
    if (tc_log_enabled(TC_LOG_INFO)) {
        char status[24], lat[32], bytes[24];
        fmt_u64(status, (uint64_t)(hc->status > 0 ? hc->status : 0));
        fmt_ms3(lat, ns);
        fmt_u64(bytes, hc->bytes);
        tc_log(TC_LOG_INFO, "request", "request_id", hc->pub.request_id, "method", hc->pub.method,
               "path", hc->pub.path, "route", hc->pub.route ? hc->pub.route->pattern : "",
               "status", status, "user_id", hc->pub.user_id ? hc->pub.user_id : "",
               "latency_ms", lat, "bytes", bytes,
               "outcome", toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "ok" : "aborted", NULL);
    }
    if (hc->resp)
        MHD_destroy_response(hc->resp);
    json_decref(hc->json_body);
    json_decref(hc->pub.details);
    tc_buf_free(&hc->body);
    tc_http_server *s = hc->srv;
    tc_arena_free(hc->pub.arena);
    atomic_fetch_sub(&s->inflight, 1);
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    char msg[512];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    size_t n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
        msg[--n] = '\0';
    tc_log(TC_LOG_WARN, "libmicrohttpd", "detail", msg, NULL);
}

/* ---- lifecycle ---------------------------------------------------------- */

void tc_http_set_auth_hook(tc_http_server *s, tc_http_auth_hook fn)
{
    s->auth_hook = fn;
}

void tc_http_set_rate_hook(tc_http_server *s, tc_http_rate_hook fn)
{
    s->rate_hook = fn;
}

void tc_http_set_metrics_hook(tc_http_server *s, tc_http_metrics_hook fn, void *ctx)
{
    s->metrics_hook = fn;
    s->metrics_ctx = ctx;
}

static char *dup_or_null(const char *s)
{
    return s && *s ? tc_strdup(s) : NULL;
}

tc_status tc_http_server_new(const tc_http_options *opt, const tc_route *routes, size_t nroutes,
                             tc_http_server **out, tc_err *err)
{
    char host[256];
    int port;
    tc_status st = tc_http_parse_listen(opt->listen, host, sizeof(host), &port, err);
    if (st != TC_OK)
        return st;
    tc_http_server *s = tc_calloc(1, sizeof(*s));
    s->opt = *opt;
    s->listen = tc_strdup(opt->listen);
    s->cors_origins = dup_or_null(opt->cors_origins);
    s->web_root = dup_or_null(opt->web_root);
    s->opt.listen = s->listen;
    s->opt.cors_origins = s->cors_origins;
    s->opt.web_root = s->web_root;
    if (s->opt.threads < 1)
        s->opt.threads = 1;
    if (s->opt.json_depth_max < 1)
        s->opt.json_depth_max = 32;
    if (!s->opt.body_max)
        s->opt.body_max = 1 << 20;
    if (s->opt.header_count_max < 1)
        s->opt.header_count_max = HTTP_HEADER_COUNT_DEFAULT;
    if (!s->opt.connection_limit)
        s->opt.connection_limit = 4096;
    if (!s->opt.conn_memory_limit)
        s->opt.conn_memory_limit = HTTP_CONN_MEMORY_DEFAULT;
    if (s->opt.conn_memory_limit < HTTP_CONN_MEMORY_MIN)
        s->opt.conn_memory_limit = HTTP_CONN_MEMORY_MIN;
    if (s->opt.conn_memory_limit > HTTP_CONN_MEMORY_MAX)
        s->opt.conn_memory_limit = HTTP_CONN_MEMORY_MAX;
    if (!s->opt.timeout_s)
        s->opt.timeout_s = 30;
    s->routes = routes;
    s->nroutes = nroutes;
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->ticker_cv, NULL);
    tc_http__metrics_init(&s->metrics, nroutes + SLOT_FIRST_ROUTE);
    *out = s;
    return TC_OK;
}

static tc_status resolve(const char *host, int port, struct sockaddr_storage *ss, socklen_t *len,
                         tc_err *err)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    char ps[16];
    snprintf(ps, sizeof(ps), "%d", port);
    int rc = getaddrinfo(*host ? host : NULL, ps, &hints, &res);
    if (rc != 0 || !res)
        return tc_failf(err, TC_BAD_REQUEST, "TC_LISTEN", "cannot resolve listen host \"%s\": %s",
                        host, gai_strerror(rc));
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    *len = res->ai_addrlen;
    freeaddrinfo(res);
    return TC_OK;
}

static void make_url(tc_http_server *s, const char *host, const struct sockaddr_storage *ss)
{
    const char *h = *host ? host : "127.0.0.1";
    if (!strcmp(h, "0.0.0.0"))
        h = "127.0.0.1";
    bool v6 = ss->ss_family == AF_INET6;
    snprintf(s->url, sizeof(s->url), v6 ? "http://[%s]:%d" : "http://%s:%d", h, s->port);
}

tc_status tc_http_server_start(tc_http_server *s, tc_err *err)
{
    char host[256];
    int port;
    struct sockaddr_storage ss;
    socklen_t sslen;
    tc_status st = tc_http_parse_listen(s->listen, host, sizeof(host), &port, err);
    if (st == TC_OK)
        st = resolve(host, port, &ss, &sslen, err);
    if (st != TC_OK)
        return st;
    unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ERROR_LOG | MHD_ALLOW_SUSPEND_RESUME |
                     (ss.ss_family == AF_INET6 ? MHD_USE_IPv6 : 0);
    s->daemon = MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, s,
        MHD_OPTION_EXTERNAL_LOGGER, mhd_log, s,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned)s->opt.threads,
        MHD_OPTION_CONNECTION_LIMIT, s->opt.connection_limit,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, s->opt.conn_memory_limit,
        MHD_OPTION_CONNECTION_TIMEOUT, s->opt.timeout_s,
        MHD_OPTION_LISTENING_ADDRESS_REUSE, (unsigned)1,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
        MHD_OPTION_END);
    if (!s->daemon)
        return tc_failf(err, TC_IO, "TC_LISTEN", "cannot listen on %s (address in use or not allowed?)",
                        s->listen);
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
    s->port = di ? di->port : port;
    make_url(s, host, &ss);
    if (pthread_create(&s->ticker, NULL, tc_http__ticker, s) == 0)
        s->ticker_running = true;
    return TC_OK;
}

int tc_http_server_port(const tc_http_server *s)
{
    return s->port;
}

const char *tc_http_server_url(const tc_http_server *s)
{
    return s->url;
}

static void wait_inflight(tc_http_server *s, int wait_ms)
{
    int64_t deadline = tc_mono_ns() + (int64_t)wait_ms * 1000000;
    while (atomic_load(&s->inflight) > 0 && tc_mono_ns() < deadline) {
        struct timespec ts = {0, 5 * 1000000};
        nanosleep(&ts, NULL);
    }
}

void tc_http_server_stop(tc_http_server *s, int wait_ms)
{
    if (!s->daemon)
        return;
    MHD_socket lfd = MHD_quiesce_daemon(s->daemon);
    if (lfd != MHD_INVALID_SOCKET)
        close(lfd);
    pthread_mutex_lock(&s->lock);
    s->stopping = true;
    pthread_cond_broadcast(&s->ticker_cv);
    pthread_mutex_unlock(&s->lock);
    if (s->ticker_running)
        pthread_join(s->ticker, NULL);
    s->ticker_running = false;
    /* Streams never finish by themselves: end them now. Then let in-flight
     * requests (including suspended ones) finish within wait_ms; whatever is
     * still pending after that is answered 503. Idle keep-alive connections
     * are not requests: MHD_stop_daemon closes them. */
    tc_http__close_all_streams(s);
    wait_inflight(s, wait_ms);
    tc_http__fail_all_pending(s);
    wait_inflight(s, 1000);
    MHD_stop_daemon(s->daemon);
    s->daemon = NULL;
}

void tc_http_server_free(tc_http_server *s)
{
    if (!s)
        return;
    if (s->daemon)
        tc_http_server_stop(s, 0);
    tc_http__metrics_free(&s->metrics);
    pthread_mutex_destroy(&s->lock);
    pthread_cond_destroy(&s->ticker_cv);
    free(s->listen);
    free(s->cors_origins);
    free(s->web_root);
    free(s);
}
