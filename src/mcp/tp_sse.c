/* Legacy HTTP+SSE transport (MCP 2024-11-05): a GET opens an event stream
 * whose first `endpoint` event names the URL to POST messages to; every
 * answer comes back on the stream and is matched to its request by id.
 * One reader thread per session owns the stream (curl multi, polled every
 * 20 ms so close is prompt). The endpoint must be on the same origin as the
 * stream URL, and every connection passes the SSRF guard. */
#include <string.h>
#include <strings.h>
#include <time.h>

#include "mcp/mcp_int.h"
#include "net/net.h"

typedef struct sse_state {
    pthread_t reader;
    bool reader_started;
    atomic_bool stop;
    pthread_mutex_t mu;
    pthread_cond_t cond;
    bool mu_init;
    char *endpoint;       /* resolved POST URL, guarded by mu */
    bool ended;           /* stream over, guarded by mu */
    tc_err end_err;
    bool bad_stream;      /* not 2xx text/event-stream */
    long status;
    char ctype[96];
} sse_state;

typedef struct reader_ctx {
    tc_mcp_session *s;
    CURL *h;
    tc_mcp__sse parser;
    bool checked, too_big;
} reader_ctx;

static bool same_origin(CURLU *a, CURLU *b)
{
    static const CURLUPart parts[] = {CURLUPART_SCHEME, CURLUPART_HOST, CURLUPART_PORT};
    for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
        char *x = NULL, *y = NULL;
        curl_url_get(a, parts[i], &x, CURLU_DEFAULT_PORT);
        curl_url_get(b, parts[i], &y, CURLU_DEFAULT_PORT);
        bool eq = x && y && !strcasecmp(x, y);
        curl_free(x);
        curl_free(y);
        if (!eq)
            return false;
    }
    return true;
}

/* Resolves the endpoint event's data against the stream URL. */
static char *resolve_endpoint(const char *base, const char *rel)
{
    CURLU *b = curl_url(), *u = curl_url();
    char *out = NULL, *res = NULL;
    if (curl_url_set(b, CURLUPART_URL, base, 0) != CURLUE_OK ||
        curl_url_set(u, CURLUPART_URL, base, 0) != CURLUE_OK ||
        curl_url_set(u, CURLUPART_URL, rel, 0) != CURLUE_OK)
        goto out;
    if (!same_origin(b, u))
        goto out;
    if (curl_url_get(u, CURLUPART_URL, &out, 0) == CURLUE_OK)
        res = tc_strdup(out);
out:
    curl_free(out);
    curl_url_cleanup(b);
    curl_url_cleanup(u);
    return res;
}

static void on_event(void *ud, const char *event, const char *data, size_t len)
{
    reader_ctx *r = ud;
    sse_state *st = r->s->tps;
    if (!strcmp(event, "endpoint")) {
        char *ep = resolve_endpoint(r->s->url, data);
        pthread_mutex_lock(&st->mu);
        if (!st->endpoint)
            st->endpoint = ep, ep = NULL;
        pthread_cond_broadcast(&st->cond);
        pthread_mutex_unlock(&st->mu);
        tc_free(ep);
        return;
    }
    if (strcmp(event, "message") != 0)
        return;
    json_t *msgs = NULL;
    tc_err e = {0};
    if (tc_mcp__parse_messages(data, len, &msgs, &e) != TC_OK)
        return;
    size_t i;
    json_t *m;
    json_array_foreach(msgs, i, m) tc_mcp__dispatch(r->s, m);
    json_decref(msgs);
}

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
    reader_ctx *r = ud;
    sse_state *st = r->s->tps;
    if (!r->checked) {
        char *ct = NULL;
        r->checked = true;
        curl_easy_getinfo(r->h, CURLINFO_RESPONSE_CODE, &st->status);
        curl_easy_getinfo(r->h, CURLINFO_CONTENT_TYPE, &ct);
        snprintf(st->ctype, sizeof(st->ctype), "%s", ct ? ct : "");
        if (st->status < 200 || st->status > 299 || strncasecmp(st->ctype, "text/event-stream", 17) != 0) {
            st->bad_stream = true;
            return 0;
        }
    }
    if (tc_mcp__sse_feed(&r->parser, p, size * n) != TC_OK) {
        r->too_big = true;
        return 0;
    }
    return size * n;
}

static void stream_end(tc_mcp_session *s, reader_ctx *r, CURLcode rc, const tc_net_guard *g,
                       const char *errbuf, tc_err *why)
{
    sse_state *st = s->tps;
    if (st->bad_stream)
        tc_failc(why, TC_UPSTREAM, "mcp_content_type", NULL,
                 "the MCP SSE endpoint answered HTTP %ld with content type \"%s\"", st->status, st->ctype);
    else if (r->too_big)
        tc_failf(why, TC_TOO_LARGE, NULL, "an MCP message exceeds %zu bytes", s->opts.max_message);
    else if (rc != CURLE_OK && rc != CURLE_ABORTED_BY_CALLBACK)
        tc_net_curl_fail(rc, g, errbuf, why);
    else
        tc_failf(why, TC_UPSTREAM, NULL, "the MCP server closed its event stream");
}

static void *reader_main(void *arg)
{
    tc_mcp_session *s = arg;
    sse_state *st = s->tps;
    char auth[4096], errbuf[CURL_ERROR_SIZE] = "";
    reader_ctx r = {.s = s, .h = curl_easy_init()};
    CURLM *m = curl_multi_init();
    tc_net_guard g;
    tc_net_opts no = {.connect_timeout_ms = s->opts.connect_timeout_ms, .allow_private = s->opts.allow_private};
    tc_mcp__sse_init(&r.parser, s->opts.max_message, on_event, &r);
    tc_net_easy_limits(r.h, &no, &g);
    curl_easy_setopt(r.h, CURLOPT_TIMEOUT_MS, 0L); /* a stream has no total time limit */
    struct curl_slist *l = curl_slist_append(NULL, "Accept: text/event-stream");
    tc_mcp__auth_header(s, auth, sizeof(auth));
    if (auth[0])
        l = curl_slist_append(l, auth);
    memset(auth, 0, sizeof(auth));
    curl_easy_setopt(r.h, CURLOPT_URL, s->url);
    curl_easy_setopt(r.h, CURLOPT_HTTPHEADER, l);
    curl_easy_setopt(r.h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(r.h, CURLOPT_WRITEDATA, &r);
    curl_easy_setopt(r.h, CURLOPT_ERRORBUFFER, errbuf);
    CURLcode rc = tc_net_perform(r.h, m, &st->stop);
    tc_err why = {0};
    stream_end(s, &r, rc, &g, errbuf, &why);
    pthread_mutex_lock(&st->mu);
    st->ended = true;
    st->end_err = why;
    pthread_cond_broadcast(&st->cond);
    pthread_mutex_unlock(&st->mu);
    tc_mcp__fail_all(s, &why);
    curl_slist_free_all(l);
    curl_easy_cleanup(r.h);
    curl_multi_cleanup(m);
    tc_mcp__sse_free(&r.parser);
    return NULL;
}

static void stop_reader(sse_state *st)
{
    if (!st->reader_started)
        return;
    atomic_store(&st->stop, true);
    pthread_join(st->reader, NULL);
    st->reader_started = false;
}

static tc_status sse_open(tc_mcp_session *s, tc_err *err)
{
    sse_state *st = s->tps;
    if (!st->mu_init) {
        pthread_condattr_t ca;
        pthread_condattr_init(&ca);
        pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
        pthread_cond_init(&st->cond, &ca);
        pthread_condattr_destroy(&ca);
        pthread_mutex_init(&st->mu, NULL);
        st->mu_init = true;
    }
    tc_free(st->endpoint);
    st->endpoint = NULL;
    st->ended = st->bad_stream = false;
    atomic_store(&st->stop, false);
    if (pthread_create(&st->reader, NULL, reader_main, s) != 0)
        return tc_failf(err, TC_INTERNAL, NULL, "cannot start the SSE reader thread");
    st->reader_started = true;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += s->opts.connect_timeout_ms / 1000 + 5;
    tc_status ret = TC_OK;
    pthread_mutex_lock(&st->mu);
    while (!st->endpoint && !st->ended)
        if (pthread_cond_timedwait(&st->cond, &st->mu, &ts) != 0)
            break;
    if (!st->endpoint) {
        if (st->ended) {
            if (err)
                *err = st->end_err;
            ret = st->end_err.status;
        } else {
            ret = tc_failf(err, TC_TIMEOUT, NULL, "the MCP SSE stream sent no endpoint event");
        }
    }
    pthread_mutex_unlock(&st->mu);
    if (ret != TC_OK)
        stop_reader(st);
    return ret;
}

static tc_status post_status(tc_net_response *resp, tc_err *err)
{
    if (resp->status == 404)
        return tc_failc(err, TC_NOT_FOUND, TC_MCP__SESSION_GONE, NULL, "the MCP SSE session is gone (HTTP 404)");
    if (resp->status < 200 || resp->status > 299)
        return tc_failf(err, TC_UPSTREAM, NULL, "the MCP server answered HTTP %ld: %.200s", resp->status,
                        resp->body.data ? resp->body.data : "");
    return TC_OK;
}

static tc_status sse_send(tc_mcp_session *s, json_t *msg, tc_mcp__pending *p, int64_t deadline_ns,
                          const atomic_bool *cancel, tc_err *err)
{
    sse_state *st = s->tps;
    char auth[4096];
    pthread_mutex_lock(&st->mu);
    char *ep = st->ended || !st->endpoint ? NULL : tc_strdup(st->endpoint);
    pthread_mutex_unlock(&st->mu);
    if (!ep)
        return tc_failc(err, TC_UPSTREAM, TC_MCP__SESSION_GONE, NULL, "the MCP event stream is closed");
    int64_t left = (deadline_ns - tc_mono_ns()) / 1000000;
    if (left <= 0)
        left = 1;
    tc_mcp__auth_header(s, auth, sizeof(auth));
    const char *hdrs[] = {"Content-Type: application/json", auth[0] ? auth : NULL, NULL};
    char *body = tc_mcp__dump(msg);
    tc_net_request req = {
        .method = "POST", .url = ep, .headers = hdrs, .body = body, .body_len = strlen(body),
        .opts = {.connect_timeout_ms = s->opts.connect_timeout_ms, .timeout_ms = (int)left,
                 .max_body = 64 << 10, .allow_private = s->opts.allow_private}};
    tc_net_response resp;
    tc_status ret = tc_net_request_do(&req, &resp, err);
    if (ret == TC_OK)
        ret = post_status(&resp, err);
    memset(auth, 0, sizeof(auth));
    tc_net_response_free(&resp);
    free(body);
    tc_free(ep);
    return ret;
}

static void sse_close(tc_mcp_session *s)
{
    sse_state *st = s->tps;
    if (!st->mu_init)
        return;
    stop_reader(st);
    tc_free(st->endpoint);
    st->endpoint = NULL;
    pthread_mutex_destroy(&st->mu);
    pthread_cond_destroy(&st->cond);
    st->mu_init = false;
}

const tc_mcp__transport tc_mcp__sse_tp = {
    .name = "sse",
    .state_size = sizeof(sse_state),
    .open = sse_open,
    .send = sse_send,
    .close = sse_close,
};
