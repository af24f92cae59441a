/* Streamable HTTP transport (MCP 2025-03-26 and later).
 * Every message is a POST; the answer comes back on that same response, as
 * one JSON body or as an SSE stream carrying notifications and server
 * requests before the response. The calling thread reads its own answer,
 * so concurrent callers of one session run concurrent POSTs (no reader
 * thread). We do not open the optional GET stream: everything a call needs
 * arrives on its POST stream. Sessions without Mcp-Session-Id (stateless
 * servers, the 2026 revision) simply never send the header. */
#include <string.h>
#include <strings.h>

#include "mcp/mcp_int.h"
#include "net/net.h"

#define SESSION_ID_MAX 256
#define EXCERPT_MAX 512

typedef struct handle {
    struct handle *next;
    CURL *h;
    CURLM *m;  /* keeps this handle's connection cache */
} handle;

typedef struct http_state {
    pthread_mutex_t mu;
    bool mu_init;
    handle *free;
    char session_id[SESSION_ID_MAX + 1];
} http_state;

typedef enum { MODE_UNKNOWN, MODE_JSON, MODE_SSE, MODE_ERROR, MODE_BAD_TYPE } body_mode;

typedef struct hx {
    CURL *h;
    tc_mcp_session *s;
    tc_mcp__pending *p;
    tc_net_guard guard;
    body_mode mode;
    long status;
    tc_buf body;
    tc_mcp__sse sse;
    bool too_big;
    tc_err parse_err;
    char session_id[SESSION_ID_MAX + 1];
    char ctype[96];
    char errbuf[CURL_ERROR_SIZE];
} hx;

static handle *handle_take(http_state *st)
{
    pthread_mutex_lock(&st->mu);
    handle *h = st->free;
    if (h)
        st->free = h->next;
    pthread_mutex_unlock(&st->mu);
    if (!h) {
        h = tc_calloc(1, sizeof(*h));
        h->h = curl_easy_init();
        h->m = curl_multi_init();
    }
    curl_easy_reset(h->h);
    return h;
}

static void handle_give(http_state *st, handle *h)
{
    pthread_mutex_lock(&st->mu);
    h->next = st->free;
    st->free = h;
    pthread_mutex_unlock(&st->mu);
}

static void handle_free(handle *h)
{
    curl_easy_cleanup(h->h);
    curl_multi_cleanup(h->m);
    tc_free(h);
}

/* ---- receiving -------------------------------------------------------------- */

static void dispatch_body(hx *x, const char *data, size_t len)
{
    json_t *msgs = NULL;
    tc_err e = {0};
    if (tc_mcp__parse_messages(data, len, &msgs, &e) != TC_OK) {
        if (x->parse_err.status == TC_OK)
            x->parse_err = e;
        return;
    }
    size_t i;
    json_t *m;
    json_array_foreach(msgs, i, m) tc_mcp__dispatch(x->s, m);
    json_decref(msgs);
}

static void on_sse_event(void *ud, const char *event, const char *data, size_t len)
{
    if (!strcmp(event, "message"))
        dispatch_body(ud, data, len);
}

static bool has_prefix_nocase(const char *s, const char *prefix)
{
    return !strncasecmp(s, prefix, strlen(prefix));
}

static void pick_mode(hx *x, CURL *h)
{
    char *ct = NULL;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &x->status);
    curl_easy_getinfo(h, CURLINFO_CONTENT_TYPE, &ct);
    snprintf(x->ctype, sizeof(x->ctype), "%s", ct ? ct : "");
    if (x->status < 200 || x->status > 299)
        x->mode = MODE_ERROR;
    else if (has_prefix_nocase(x->ctype, "text/event-stream"))
        x->mode = MODE_SSE;
    else if (has_prefix_nocase(x->ctype, "application/json"))
        x->mode = MODE_JSON;
    else
        x->mode = MODE_BAD_TYPE;
}

/* Decides at the first byte how to read the body: SSE events are
 * dispatched as they arrive (progress must reach the caller while the
 * tool runs), JSON is buffered up to max_message, and anything else stops
 * the transfer. */
static size_t on_body(char *data, size_t size, size_t n, void *ud)
{
    hx *x = ud;
    size_t len = size * n;
    if (x->mode == MODE_UNKNOWN)
        pick_mode(x, x->h);
    switch (x->mode) {
    case MODE_SSE:
        if (tc_mcp__sse_feed(&x->sse, data, len) != TC_OK) {
            x->too_big = true;
            return 0;
        }
        return len;
    case MODE_JSON:
        if (tc_buf_append(&x->body, data, len) != TC_OK) {
            x->too_big = true;
            return 0;
        }
        return len;
    case MODE_ERROR: /* keep an excerpt for the error message */
        if (x->body.len < EXCERPT_MAX)
            tc_buf_append(&x->body, data, len < EXCERPT_MAX - x->body.len ? len : EXCERPT_MAX - x->body.len);
        return len;
    default:
        return 0;
    }
}

static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
    hx *x = ud;
    size_t len = size * n;
    if (!tc_net_guard_header(&x->guard, len))
        return 0;
    static const char name[] = "mcp-session-id:";
    if (len > sizeof(name) - 1 && !strncasecmp(p, name, sizeof(name) - 1)) {
        const char *v = p + sizeof(name) - 1, *end = p + len;
        while (v < end && (*v == ' ' || *v == '\t'))
            v++;
        while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' '))
            end--;
        size_t k = (size_t)(end - v);
        bool ok = k > 0 && k <= SESSION_ID_MAX;
        for (size_t i = 0; ok && i < k; i++)
            ok = v[i] >= 0x21 && v[i] <= 0x7e; /* visible ASCII only, per the spec */
        if (ok) {
            memcpy(x->session_id, v, k);
            x->session_id[k] = '\0';
        }
    }
    return len;
}

/* ---- sending ----------------------------------------------------------------- */

static struct curl_slist *build_headers(tc_mcp_session *s, http_state *st, bool initialize, bool *sent_sid)
{
    char line[SESSION_ID_MAX + 64], auth[4096];
    struct curl_slist *l = NULL;
    l = curl_slist_append(l, "Content-Type: application/json");
    l = curl_slist_append(l, "Accept: application/json, text/event-stream");
    pthread_mutex_lock(&st->mu);
    *sent_sid = st->session_id[0] != '\0';
    if (*sent_sid) {
        snprintf(line, sizeof(line), "Mcp-Session-Id: %s", st->session_id);
        l = curl_slist_append(l, line);
    }
    pthread_mutex_unlock(&st->mu);
    pthread_mutex_lock(&s->mu);
    if (!initialize && s->protocol[0]) {
        snprintf(line, sizeof(line), "MCP-Protocol-Version: %s", s->protocol);
        l = curl_slist_append(l, line);
    }
    pthread_mutex_unlock(&s->mu);
    tc_mcp__auth_header(s, auth, sizeof(auth));
    if (auth[0])
        l = curl_slist_append(l, auth);
    memset(auth, 0, sizeof(auth));
    return l;
}

typedef enum { RUN_DONE, RUN_ANSWERED, RUN_CANCELED } run_end;

/* Drives the transfer; stops early once the pending request is answered
 * (a server may keep the SSE stream open) or the caller cancels. */
static run_end run(handle *hd, tc_mcp__pending *p, const atomic_bool *cancel, CURLcode *rc)
{
    run_end end = RUN_DONE;
    int64_t answered_at = 0;
    *rc = CURLE_OK;
    curl_multi_add_handle(hd->m, hd->h);
    for (;;) {
        int running = 0, left = 0;
        if (curl_multi_perform(hd->m, &running) != CURLM_OK) {
            *rc = CURLE_FAILED_INIT;
            break;
        }
        if (!running) {
            CURLMsg *msg = curl_multi_info_read(hd->m, &left);
            *rc = msg && msg->msg == CURLMSG_DONE ? msg->data.result : CURLE_OK;
            break;
        }
        if (p && atomic_load(&p->done)) {
            /* Give the server a moment to end the stream cleanly so the
             * connection can be reused; then stop reading. */
            if (!answered_at)
                answered_at = tc_mono_ns();
            else if (tc_mono_ns() - answered_at > 100 * 1000000LL) {
                end = RUN_ANSWERED;
                break;
            }
        }
        if (cancel && atomic_load(cancel)) {
            end = RUN_CANCELED;
            break;
        }
        curl_multi_poll(hd->m, NULL, 0, 20, NULL);
    }
    curl_multi_remove_handle(hd->m, hd->h);
    return end;
}

static tc_status http_failure(hx *x, bool sent_sid, tc_err *err)
{
    const char *body = x->body.data ? x->body.data : "";
    if (x->status == 404 && sent_sid)
        return tc_failc(err, TC_NOT_FOUND, TC_MCP__SESSION_GONE, NULL, "the MCP session expired (HTTP 404)");
    if (x->status == 401 || x->status == 403)
        return tc_failc(err, TC_UPSTREAM, "upstream_unauthorized", NULL,
                        "the MCP server refused the credential (HTTP %ld)", x->status);
    return tc_failf(err, TC_UPSTREAM, NULL, "the MCP server answered HTTP %ld: %.200s", x->status, body);
}

static tc_status finish(hx *x, CURLcode rc, run_end end, bool sent_sid, tc_err *err)
{
    if (end == RUN_CANCELED)
        return tc_failc(err, TC_CONFLICT, "canceled", NULL, "canceled");
    if (end == RUN_ANSWERED || (x->p && atomic_load(&x->p->done)))
        return TC_OK;
    if (x->mode == MODE_BAD_TYPE)
        return tc_failc(err, TC_UPSTREAM, "mcp_content_type", NULL,
                        "the MCP server answered with content type \"%s\", expected application/json "
                        "or text/event-stream", x->ctype);
    if (x->too_big)
        return tc_failf(err, TC_TOO_LARGE, NULL, "an MCP message exceeds %zu bytes",
                        x->s->opts.max_message);
    if (rc != CURLE_OK)
        return tc_net_curl_fail(rc, &x->guard, x->errbuf, err);
    if (x->mode == MODE_UNKNOWN)
        curl_easy_getinfo(x->h, CURLINFO_RESPONSE_CODE, &x->status);
    if (x->status < 200 || x->status > 299)
        return http_failure(x, sent_sid, err);
    if (x->mode == MODE_JSON && x->body.len > 0)
        dispatch_body(x, x->body.data, x->body.len);
    if (x->p && !atomic_load(&x->p->done)) {
        if (x->parse_err.status != TC_OK) {
            if (err)
                *err = x->parse_err;
            return x->parse_err.status;
        }
        return tc_failf(err, TC_UPSTREAM, NULL, "the MCP server ended its answer without a response");
    }
    return TC_OK;
}

static tc_status http_send(tc_mcp_session *s, json_t *msg, tc_mcp__pending *p, int64_t deadline_ns,
                           const atomic_bool *cancel, tc_err *err)
{
    http_state *st = s->tps;
    const char *method = json_string_value(json_object_get(msg, "method"));
    bool initialize = method && !strcmp(method, "initialize");
    bool sent_sid = false;
    int64_t left_ms = (deadline_ns - tc_mono_ns()) / 1000000;
    if (left_ms <= 0)
        return tc_failf(err, TC_TIMEOUT, NULL, "no time left to send %s", method ? method : "a reply");
    char *body = tc_mcp__dump(msg);
    handle *hd = handle_take(st);
    hx x = {.h = hd->h, .s = s, .p = p};
    tc_buf_init(&x.body, s->opts.max_message);
    tc_mcp__sse_init(&x.sse, s->opts.max_message, on_sse_event, &x);
    tc_net_opts no = {.connect_timeout_ms = s->opts.connect_timeout_ms, .timeout_ms = (int)left_ms,
                      .allow_private = s->opts.allow_private};
    tc_net_easy_limits(hd->h, &no, &x.guard);
    struct curl_slist *hdrs = build_headers(s, st, initialize, &sent_sid);
    curl_easy_setopt(hd->h, CURLOPT_URL, s->url);
    curl_easy_setopt(hd->h, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(hd->h, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(hd->h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
    curl_easy_setopt(hd->h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(hd->h, CURLOPT_WRITEDATA, &x);
    curl_easy_setopt(hd->h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(hd->h, CURLOPT_HEADERDATA, &x);
    curl_easy_setopt(hd->h, CURLOPT_ERRORBUFFER, x.errbuf);
    CURLcode rc;
    run_end end = run(hd, p, cancel, &rc);
    tc_status ret = finish(&x, rc, end, sent_sid, err);
    if (ret == TC_OK && initialize) {
        pthread_mutex_lock(&st->mu);
        memcpy(st->session_id, x.session_id, sizeof(st->session_id));
        pthread_mutex_unlock(&st->mu);
    }
    /* an aborted transfer leaves its connection in an unknown state */
    curl_slist_free_all(hdrs);
    if (end == RUN_DONE && rc == CURLE_OK)
        handle_give(st, hd);
    else
        handle_free(hd);
    tc_buf_free(&x.body);
    tc_mcp__sse_free(&x.sse);
    free(body);
    return ret;
}

static tc_status http_open(tc_mcp_session *s, tc_err *err)
{
    http_state *st = s->tps;
    if (!st->mu_init) {
        pthread_mutex_init(&st->mu, NULL);
        st->mu_init = true;
    }
    st->session_id[0] = '\0';
    return TC_OK;
}

/* DELETE the session (best effort, 2 s), then drop the handles. */
static void http_close(tc_mcp_session *s)
{
    http_state *st = s->tps;
    if (!st->mu_init)
        return;
    if (st->session_id[0]) {
        char line[SESSION_ID_MAX + 32], auth[4096];
        handle *hd = handle_take(st);
        tc_net_guard g;
        tc_net_opts no = {.connect_timeout_ms = 2000, .timeout_ms = 2000, .allow_private = s->opts.allow_private};
        tc_net_easy_limits(hd->h, &no, &g);
        struct curl_slist *l = NULL;
        snprintf(line, sizeof(line), "Mcp-Session-Id: %s", st->session_id);
        l = curl_slist_append(l, line);
        tc_mcp__auth_header(s, auth, sizeof(auth));
        if (auth[0])
            l = curl_slist_append(l, auth);
        curl_easy_setopt(hd->h, CURLOPT_URL, s->url);
        curl_easy_setopt(hd->h, CURLOPT_CUSTOMREQUEST, "DELETE");
        curl_easy_setopt(hd->h, CURLOPT_HTTPHEADER, l);
        curl_easy_setopt(hd->h, CURLOPT_NOBODY, 1L);
        curl_easy_perform(hd->h);
        curl_slist_free_all(l);
        handle_free(hd);
        st->session_id[0] = '\0';
    }
    while (st->free) {
        handle *next = st->free->next;
        handle_free(st->free);
        st->free = next;
    }
    pthread_mutex_destroy(&st->mu);
    st->mu_init = false;
}

const tc_mcp__transport tc_mcp__http = {
    .name = "streamable_http",
    .state_size = sizeof(http_state),
    .open = http_open,
    .send = http_send,
    .close = http_close,
};
