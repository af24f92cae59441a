/* Outgoing HTTP requests on libcurl with the limits and the SSRF guard. */
#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "net/net.h"

static pthread_once_t global_once = PTHREAD_ONCE_INIT;

static void global_init_once(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

void tc_net_global_init(void)
{
    pthread_once(&global_once, global_init_once);
}

static void addr_text(const struct sockaddr *sa, char *out, size_t outsz)
{
    const void *src = sa->sa_family == AF_INET6
                          ? (const void *)&((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr
                          : (const void *)&((const struct sockaddr_in *)(const void *)sa)->sin_addr;
    if (!inet_ntop(sa->sa_family, src, out, (socklen_t)outsz))
        snprintf(out, outsz, "?");
}

/* CURLOPT_OPENSOCKETFUNCTION: curl hands us the resolved address of every
 * connection it is about to make (first hop, each redirect, each address
 * of a multi-address answer). Refusing here is what makes the guard hold
 * against DNS answers that point inside. Sockets are CLOEXEC because the
 * MCP stdio transport spawns children. */
static curl_socket_t guard_opensocket(void *clientp, curlsocktype purpose, struct curl_sockaddr *a)
{
    tc_net_guard *g = clientp;
    if (purpose == CURLSOCKTYPE_IPCXN && !g->allow_private) {
        tc_net_addr_class c = tc_net_addr_classify(&a->addr);
        if (c != TC_NET_ADDR_PUBLIC) {
            char ip[INET6_ADDRSTRLEN];
            addr_text(&a->addr, ip, sizeof(ip));
            snprintf(g->refused, sizeof(g->refused), "%s (%s)", ip, tc_net_addr_class_name(c));
            return CURL_SOCKET_BAD;
        }
    }
    return socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
}

void tc_net_easy_limits(CURL *h, const tc_net_opts *o, tc_net_guard *g)
{
    static const tc_net_opts none = {0};
    if (!o)
        o = &none;
    tc_net_global_init();
    g->allow_private = o->allow_private;
    g->refused[0] = '\0';
    g->header_bytes = 0;
    g->max_headers = o->max_headers ? o->max_headers : TC_NET_DEFAULT_MAX_HEADERS;
    g->headers_too_big = false;
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
                     (long)(o->connect_timeout_ms > 0 ? o->connect_timeout_ms : TC_NET_DEFAULT_CONNECT_MS));
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS,
                     (long)(o->timeout_ms > 0 ? o->timeout_ms : TC_NET_DEFAULT_TIMEOUT_MS));
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, o->max_redirects > 0 ? 1L : 0L);
    curl_easy_setopt(h, CURLOPT_MAXREDIRS, (long)(o->max_redirects > 0 ? o->max_redirects : 0));
    curl_easy_setopt(h, CURLOPT_OPENSOCKETFUNCTION, guard_opensocket);
    curl_easy_setopt(h, CURLOPT_OPENSOCKETDATA, g);
    curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
}

bool tc_net_guard_header(tc_net_guard *g, size_t n)
{
    g->header_bytes += n;
    if (g->header_bytes > g->max_headers) {
        g->headers_too_big = true;
        return false;
    }
    return true;
}

CURLcode tc_net_perform(CURL *h, CURLM *m, const atomic_bool *abort)
{
    CURLMcode mc = curl_multi_add_handle(m, h);
    if (mc != CURLM_OK)
        return CURLE_FAILED_INIT;
    CURLcode rc = CURLE_OK;
    for (;;) {
        int running = 0;
        mc = curl_multi_perform(m, &running);
        if (mc != CURLM_OK) {
            rc = CURLE_FAILED_INIT;
            break;
        }
        if (!running) {
            int left;
            CURLMsg *msg = curl_multi_info_read(m, &left);
            rc = msg && msg->msg == CURLMSG_DONE ? msg->data.result : CURLE_OK;
            break;
        }
        if (abort && atomic_load(abort)) {
            rc = CURLE_ABORTED_BY_CALLBACK;
            break;
        }
        curl_multi_poll(m, NULL, 0, 20, NULL);
    }
    curl_multi_remove_handle(m, h);
    return rc;
}

tc_status tc_net_curl_fail(CURLcode rc, const tc_net_guard *g, const char *errbuf, tc_err *err)
{
    const char *detail = errbuf && errbuf[0] ? errbuf : curl_easy_strerror(rc);
    if (g && g->refused[0])
        return tc_failc(err, TC_FORBIDDEN, "ssrf_blocked", "url",
                        "refused to connect to %s: private targets are not allowed "
                        "(TC_ALLOW_PRIVATE_TARGETS)", g->refused);
    if (g && g->headers_too_big)
        return tc_failf(err, TC_TOO_LARGE, NULL, "upstream response headers exceed %zu bytes",
                        g->max_headers);
    switch (rc) {
    case CURLE_OK:
        return TC_OK;
    case CURLE_OPERATION_TIMEDOUT:
        return tc_failf(err, TC_TIMEOUT, NULL, "upstream timed out: %s", detail);
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
        return tc_failf(err, TC_BAD_REQUEST, "url", "invalid URL: %s", detail);
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
        return tc_failf(err, TC_UNAVAILABLE, NULL, "cannot reach upstream: %s", detail);
    case CURLE_FILESIZE_EXCEEDED:
        return tc_failf(err, TC_TOO_LARGE, NULL, "upstream response too large");
    case CURLE_TOO_MANY_REDIRECTS:
        return tc_failf(err, TC_UPSTREAM, NULL, "too many redirects");
    default:
        return tc_failf(err, TC_UPSTREAM, NULL, "upstream transfer failed: %s", detail);
    }
}

/* ---- buffered requests --------------------------------------------------- */

typedef struct xfer {
    CURL *h;
    struct curl_slist *hdrs;
    tc_net_guard guard;
    tc_net_response *resp;
    bool body_too_big;
    char errbuf[CURL_ERROR_SIZE];
} xfer;

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
    xfer *x = ud;
    if (tc_buf_append(&x->resp->body, p, size * n) != TC_OK) {
        x->body_too_big = true;
        return 0;
    }
    return size * n;
}

/* Keeps only the final response's headers: a new status line (redirect,
 * 100-continue) starts over. */
static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
    xfer *x = ud;
    size_t len = size * n;
    if (!tc_net_guard_header(&x->guard, len))
        return 0;
    if (len >= 5 && !memcmp(p, "HTTP/", 5))
        tc_buf_reset(&x->resp->headers);
    if (tc_buf_append(&x->resp->headers, p, len) != TC_OK) {
        x->guard.headers_too_big = true;
        return 0;
    }
    return len;
}

static void response_init(tc_net_response *resp, const tc_net_opts *o)
{
    memset(resp, 0, sizeof(*resp));
    tc_buf_init(&resp->body, o->max_body ? o->max_body : TC_NET_DEFAULT_MAX_BODY);
    tc_buf_init(&resp->headers, o->max_headers ? o->max_headers : TC_NET_DEFAULT_MAX_HEADERS);
}

static void xfer_setup(xfer *x, const tc_net_request *req, tc_net_response *resp)
{
    memset(x, 0, sizeof(*x));
    x->resp = resp;
    response_init(resp, &req->opts);
    x->h = curl_easy_init();
    tc_net_easy_limits(x->h, &req->opts, &x->guard);
    curl_easy_setopt(x->h, CURLOPT_URL, req->url ? req->url : "");
    curl_easy_setopt(x->h, CURLOPT_ERRORBUFFER, x->errbuf);
    curl_easy_setopt(x->h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(x->h, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(x->h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(x->h, CURLOPT_HEADERDATA, x);
    curl_easy_setopt(x->h, CURLOPT_PRIVATE, x);
    for (const char *const *hp = req->headers; hp && *hp; hp++)
        x->hdrs = curl_slist_append(x->hdrs, *hp);
    if (x->hdrs)
        curl_easy_setopt(x->h, CURLOPT_HTTPHEADER, x->hdrs);
    if (req->body) {
        curl_easy_setopt(x->h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
        curl_easy_setopt(x->h, CURLOPT_POSTFIELDS, req->body);
    }
    if (req->method)
        curl_easy_setopt(x->h, CURLOPT_CUSTOMREQUEST, req->method);
}

static tc_status xfer_finish(xfer *x, CURLcode rc, tc_err *err)
{
    long redirects = 0;
    curl_easy_getinfo(x->h, CURLINFO_RESPONSE_CODE, &x->resp->status);
    curl_easy_getinfo(x->h, CURLINFO_REDIRECT_COUNT, &redirects);
    x->resp->redirects = (int)redirects;
    tc_status st = TC_OK;
    if (x->body_too_big)
        st = tc_failf(err, TC_TOO_LARGE, NULL, "upstream response body exceeds %zu bytes",
                      x->resp->body.max);
    else if (rc != CURLE_OK)
        st = tc_net_curl_fail(rc, &x->guard, x->errbuf, err);
    curl_slist_free_all(x->hdrs);
    curl_easy_cleanup(x->h);
    x->h = NULL;
    x->hdrs = NULL;
    return st;
}

tc_status tc_net_request_do(const tc_net_request *req, tc_net_response *resp, tc_err *err)
{
    xfer x;
    if (!req->url || !req->url[0]) {
        response_init(resp, &req->opts);
        return tc_failf(err, TC_BAD_REQUEST, "url", "url is required");
    }
    xfer_setup(&x, req, resp);
    CURLcode rc = curl_easy_perform(x.h);
    return xfer_finish(&x, rc, err);
}

void tc_net_response_free(tc_net_response *resp)
{
    if (!resp)
        return;
    tc_buf_free(&resp->body);
    tc_buf_free(&resp->headers);
}

bool tc_net_response_header(const tc_net_response *resp, const char *name, char *out, size_t outsz)
{
    size_t nlen = strlen(name);
    const char *p = resp->headers.data;
    while (p && *p) {
        const char *eol = strchr(p, '\n');
        size_t len = eol ? (size_t)(eol - p) : strlen(p);
        if (len > nlen && p[nlen] == ':' && !strncasecmp(p, name, nlen)) {
            const char *v = p + nlen + 1, *end = p + len;
            while (v < end && isspace((unsigned char)*v))
                v++;
            while (end > v && isspace((unsigned char)end[-1]))
                end--;
            snprintf(out, outsz, "%.*s", (int)(end - v), v);
            return true;
        }
        p = eol ? eol + 1 : p + len;
    }
    return false;
}

size_t tc_net_request_many(const tc_net_request *reqs, tc_net_response *resps, tc_err *errs,
                           size_t n, size_t max_parallel)
{
    if (n == 0)
        return 0;
    xfer *xs = tc_calloc(n, sizeof(*xs));
    CURLM *m = curl_multi_init();
    size_t next = 0, active = 0, failed = 0;
    if (max_parallel == 0)
        max_parallel = n;
    for (size_t i = 0; i < n; i++)
        response_init(&resps[i], &reqs[i].opts);
    while (next < n || active > 0) {
        while (next < n && active < max_parallel) {
            tc_net_response_free(&resps[next]);
            xfer_setup(&xs[next], &reqs[next], &resps[next]);
            curl_multi_add_handle(m, xs[next].h);
            next++;
            active++;
        }
        int running = 0, left = 0;
        curl_multi_perform(m, &running);
        CURLMsg *msg;
        while ((msg = curl_multi_info_read(m, &left))) {
            if (msg->msg != CURLMSG_DONE)
                continue;
            xfer *x = NULL;
            CURL *h = msg->easy_handle;
            CURLcode rc = msg->data.result;
            curl_easy_getinfo(h, CURLINFO_PRIVATE, (char **)&x);
            curl_multi_remove_handle(m, h);
            if (xfer_finish(x, rc, errs ? &errs[x - xs] : NULL) != TC_OK)
                failed++;
            active--;
        }
        if (active > 0)
            curl_multi_poll(m, NULL, 0, 100, NULL);
    }
    curl_multi_cleanup(m);
    tc_free(xs);
    return failed;
}

char *tc_net_urlencode(const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    char *out = tc_malloc(strlen(s) * 3 + 1), *w = out;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
            strchr("-._~", *p)) {
            *w++ = (char)*p;
        } else {
            *w++ = '%';
            *w++ = hex[*p >> 4];
            *w++ = hex[*p & 15];
        }
    }
    *w = '\0';
    return out;
}
