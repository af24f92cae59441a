/* The REST executor: the tool's declarative request template (template.c)
 * sent with libcurl through src/net's limits and SSRF guard, on a per-worker
 * easy + multi pair (kept connections), abortable through run->abort.
 * 2xx: the parsed body or its `result` part. Other statuses fail with the
 * status and an excerpt (credential blotted out). 429/503 with Retry-After
 * are retried while the job's time budget allows. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "connections/connections.h"
#include "exec/exec_int.h"
#include "net/net.h"

#define CONNECT_MS 5000
#define MAX_REDIRECTS 3
#define MAX_RETRIES 5
#define EXCERPT_MAX 300
#define HEADERS_MAX (32u << 10)

typedef struct rest_state {
    CURL *h;
    CURLM *m;
} rest_state;

typedef struct xfer {
    tc_net_guard guard;
    tc_buf body, headers;
    bool body_too_big;
    char errbuf[CURL_ERROR_SIZE];
} xfer;

static void rest_state_free(void *p)
{
    rest_state *s = p;
    if (s->h)
        curl_easy_cleanup(s->h);
    if (s->m)
        curl_multi_cleanup(s->m);
}

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
    xfer *x = ud;
    if (tc_buf_append(&x->body, p, size * n) != TC_OK) {
        x->body_too_big = true;
        return 0;
    }
    return size * n;
}

static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
    xfer *x = ud;
    size_t len = size * n;
    if (!tc_net_guard_header(&x->guard, len))
        return 0;
    if (len >= 5 && !memcmp(p, "HTTP/", 5))
        tc_buf_reset(&x->headers); /* a redirect: keep the final response's */
    if (tc_buf_append(&x->headers, p, len) != TC_OK)
        return 0;
    return len;
}

static int64_t remaining_ms(const tc_exec_run *run)
{
    return (run->deadline_ns - tc_mono_ns()) / 1000000;
}

/* One attempt. Transport errors come back mapped (net.h); HTTP statuses
 * are in *status. */
static tc_status attempt(rest_state *s, tc_exec_run *run, const tc_rest_call *call, xfer *x,
                         long *status, tc_err *err)
{
    int64_t left = remaining_ms(run);
    if (left <= 0)
        return tc_failf(err, TC_TIMEOUT, NULL, "the job's time limit passed before the call");
    curl_easy_reset(s->h);
    tc_net_opts o = {.connect_timeout_ms = (int)(left < CONNECT_MS ? left : CONNECT_MS),
                     .timeout_ms = (int)left,
                     .max_body = run->max_response,
                     .max_headers = HEADERS_MAX,
                     .max_redirects = MAX_REDIRECTS,
                     .allow_private = run->allow_private};
    tc_net_easy_limits(s->h, &o, &x->guard);
    struct curl_slist *hl = NULL;
    for (char **h = call->headers; h && *h; h++)
        hl = curl_slist_append(hl, *h);
    curl_easy_setopt(s->h, CURLOPT_URL, call->url);
    curl_easy_setopt(s->h, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(s->h, CURLOPT_ERRORBUFFER, x->errbuf);
    curl_easy_setopt(s->h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(s->h, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(s->h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(s->h, CURLOPT_HEADERDATA, x);
    curl_easy_setopt(s->h, CURLOPT_CUSTOMREQUEST, call->method);
    if (!strcmp(call->method, "GET"))
        curl_easy_setopt(s->h, CURLOPT_HTTPGET, 1L);
    if (call->body) {
        curl_easy_setopt(s->h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)call->body_len);
        curl_easy_setopt(s->h, CURLOPT_POSTFIELDS, call->body);
    }
    CURLcode rc = tc_net_perform(s->h, s->m, run->abort);
    curl_slist_free_all(hl);
    curl_easy_getinfo(s->h, CURLINFO_RESPONSE_CODE, status);
    if (x->body_too_big)
        return tc_failc(err, TC_TOO_LARGE, "response_too_large", NULL,
                        "the upstream response is larger than %zu bytes", x->body.max);
    if (rc == CURLE_ABORTED_BY_CALLBACK)
        return tc_failc(err, TC_UNAVAILABLE, "aborted", NULL, "the call was aborted");
    if (rc == CURLE_OPERATION_TIMEDOUT)
        return tc_failc(err, TC_TIMEOUT, "timeout", NULL,
                        "the upstream did not answer within the job's time limit");
    return tc_net_curl_fail(rc, &x->guard, x->errbuf, err);
}

/* Retry-After as delta seconds or an HTTP date; -1 when absent/unusable. */
static int64_t retry_after_ms(const xfer *x)
{
    tc_net_response r = {.headers = x->headers};
    char v[64];
    if (!tc_net_response_header(&r, "Retry-After", v, sizeof(v)))
        return -1;
    char *end;
    long secs = strtol(v, &end, 10);
    if (end != v && !*end && secs >= 0)
        return (int64_t)secs * 1000;
    struct tm tm = {0};
    if (!strptime(v, "%a, %d %b %Y %H:%M:%S GMT", &tm))
        return -1;
    int64_t at = (int64_t)timegm(&tm) * 1000 - tc_now_ms();
    return at < 0 ? 0 : at;
}

/* Sleeps up to ms, returning early (false) when the run is aborted. */
static bool nap(const tc_exec_run *run, int64_t ms)
{
    int64_t end = tc_mono_ns() + ms * 1000000;
    while (tc_mono_ns() < end) {
        if (run->abort && atomic_load(run->abort))
            return false;
        struct timespec ts = {0, 10 * 1000000};
        nanosleep(&ts, NULL);
    }
    return true;
}

static bool retryable(long status, const xfer *x, const tc_exec_run *run, int tries,
                      int64_t *delay)
{
    if ((status != 429 && status != 503) || tries >= MAX_RETRIES)
        return false;
    *delay = retry_after_ms(x);
    return *delay >= 0 && *delay + 200 < remaining_ms(run);
}

static const char *content_type(const xfer *x, char *out, size_t cap)
{
    tc_net_response r = {.headers = x->headers};
    if (!tc_net_response_header(&r, "Content-Type", out, cap))
        return NULL;
    return out;
}

static bool is_json_type(const char *ct)
{
    return !ct || !strncasecmp(ct, "application/json", 16) || strstr(ct, "+json");
}

/* 2xx: the body as JSON (or text for text/ types), then the result part. */
static tc_status success(tc_exec_run *run, const json_t *req, const xfer *x, long status,
                         tc_err *err)
{
    char ctb[128];
    const char *ct = content_type(x, ctb, sizeof(ctb));
    json_t *doc = NULL;
    if (x->body.len == 0) {
        doc = json_null();
    } else if (is_json_type(ct)) {
        json_error_t je;
        doc = json_loadb(x->body.data, x->body.len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
        if (!doc)
            return tc_failc(err, TC_UPSTREAM, "invalid_upstream_json", NULL,
                            "the upstream answered HTTP %ld with a body that is not valid JSON "
                            "(line %d, column %d: %s)", status, je.line, je.column, je.text);
    } else if (!strncasecmp(ct, "text/", 5) && tc_utf8_valid(x->body.data, x->body.len)) {
        doc = json_stringn(x->body.data, x->body.len);
    } else {
        return tc_failc(err, TC_UPSTREAM, "unsupported_upstream_content", NULL,
                        "the upstream answered HTTP %ld with content type %.64s, which is "
                        "neither JSON nor text", status, ct);
    }
    const char *ptr = json_string_value(json_object_get(req, "result"));
    const json_t *part = tc_exec__json_pointer(doc, ptr);
    if (!part) {
        json_decref(doc);
        return tc_failc(err, TC_UPSTREAM, "result_missing", NULL,
                        "the upstream response has no %s (the tool's result pointer)", ptr);
    }
    run->result = json_incref((json_t *)part);
    json_decref(doc);
    return TC_OK;
}

static tc_status http_error(const tc_exec_run *run, const xfer *x, long status, tc_err *err)
{
    char ex[EXCERPT_MAX + 1];
    size_t n = x->body.len < EXCERPT_MAX ? x->body.len : EXCERPT_MAX;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)x->body.data[i];
        ex[i] = ch >= 0x20 && ch < 0x7f ? (char)ch : ' ';
    }
    ex[n] = '\0';
    tc_exec__blot(ex, run->secret);
    return tc_failc(err, TC_UPSTREAM, "upstream_http_error", NULL,
                    "the upstream answered HTTP %ld%s%s", status, n ? ": " : "", ex);
}

static void xfer_init(xfer *x, size_t max_body)
{
    memset(x, 0, sizeof(*x));
    tc_buf_init(&x->body, max_body);
    tc_buf_init(&x->headers, HEADERS_MAX);
}

static void xfer_free(xfer *x)
{
    tc_buf_free(&x->body);
    tc_buf_free(&x->headers);
}

static tc_status send_call(rest_state *s, tc_exec_run *run, const json_t *req,
                           const tc_rest_call *call, tc_err *err)
{
    for (int tries = 0;; tries++) {
        xfer x;
        xfer_init(&x, run->max_response);
        long status = 0;
        int64_t delay = 0;
        tc_status st = attempt(s, run, call, &x, &status, err);
        run->upstream_status = status;
        if (st == TC_OK && retryable(status, &x, run, tries, &delay)) {
            xfer_free(&x);
            if (!nap(run, delay))
                return tc_failc(err, TC_UNAVAILABLE, "aborted", NULL, "the call was aborted");
            continue;
        }
        if (st == TC_OK)
            st = status >= 200 && status < 300 ? success(run, req, &x, status, err)
                                               : http_error(run, &x, status, err);
        xfer_free(&x);
        return st;
    }
}

static tc_status rest_run(tc_exec_run *run, tc_err *err)
{
    rest_state *s = run->state;
    if (!s->h) {
        s->h = curl_easy_init();
        s->m = curl_multi_init();
    }
    const json_t *req = json_object_get(run->tool, "request");
    if (!json_is_object(req))
        return tc_failf(err, TC_INTERNAL, "request", "the tool has no request template");
    char *hline = NULL, *query = NULL;
    tc_status st = tc_credential_inject(json_object_get(run->definition, "auth"), run->secret,
                                        &hline, &query, err);
    tc_rest_call call;
    memset(&call, 0, sizeof(call));
    if (st == TC_OK)
        st = tc_exec__rest_build(run->definition, req, run->arguments, hline, query, &call, err);
    if (st == TC_OK)
        st = send_call(s, run, req, &call, err);
    tc_exec__rest_call_free(&call);
    tc_exec__blot(err->message, run->secret);
    tc_secret_free_str(hline);
    tc_secret_free_str(query);
    return st;
}

const tc_executor tc_exec_rest = {
    .name = "rest",
    .run = rest_run,
    .state_size = sizeof(rest_state),
    .state_free = rest_state_free,
};
