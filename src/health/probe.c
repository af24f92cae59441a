/* Health probes: the plan for one connector definition, and the parallel
 * run of many probes on curl multi (REST GET; MCP initialize -> ping ->
 * DELETE session, each step one parallel batch). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "health/health.h"
#include <curl/curl.h>

#include "net/net.h"

#define PROBE_BODY_MAX (256u << 10)
#define MCP_PROTOCOL "2025-06-18"

static const char init_body[] =
    "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{\"protocolVersion\":\"" MCP_PROTOCOL
    "\",\"capabilities\":{},\"clientInfo\":{\"name\":\"toolconnect-health\",\"version\":\"1\"}}}";
static const char ping_body[] = "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"ping\"}";

static void set_str(char *dst, size_t cap, const char *s)
{
    snprintf(dst, cap, "%s", s ? s : "");
}

void tc_health_probe_plan(const json_t *def, tc_health_probe *out)
{
    memset(out, 0, sizeof(*out));
    const json_t *health = json_object_get(def, "health");
    const json_t *mcp = json_object_get(def, "mcp");
    const char *hurl = json_string_value(json_object_get(health, "url"));
    if (hurl) {
        out->kind = TC_PROBE_REST;
        set_str(out->url, sizeof(out->url), hurl);
        return;
    }
    if (mcp) {
        const char *url = json_string_value(json_object_get(mcp, "url"));
        const char *tp = json_string_value(json_object_get(mcp, "transport"));
        if (!url || (tp && !strcmp(tp, "sse"))) { /* stdio or legacy SSE: the MCP client */
            out->kind = TC_PROBE_MCP_CLIENT;
            out->def = def;
            out->stdio = !url;
            set_str(out->url, sizeof(out->url), url);
            return;
        }
        out->kind = TC_PROBE_MCP;
        set_str(out->url, sizeof(out->url), url);
        return;
    }
    const char *base = json_string_value(json_object_get(def, "base_url"));
    if (!base) {
        set_str(out->why, sizeof(out->why), "no URL to probe");
        return;
    }
    out->kind = TC_PROBE_REST;
    set_str(out->url, sizeof(out->url), base);
}

/* ---- MCP answers ---------------------------------------------------------- */

static json_t *match_id(json_t *msg, int64_t id)
{
    const json_t *v = json_object_get(msg, "id");
    if (json_is_integer(v) && json_integer_value(v) == id &&
        (json_object_get(msg, "result") || json_object_get(msg, "error")))
        return msg;
    json_decref(msg);
    return NULL;
}

json_t *tc_health_mcp_response(const char *body, size_t len, int64_t id)
{
    size_t i = 0;
    while (i < len && (body[i] == ' ' || body[i] == '\r' || body[i] == '\n' || body[i] == '\t'))
        i++;
    if (i < len && body[i] == '{')
        return match_id(json_loadb(body + i, len - i, 0, NULL), id);
    /* SSE: each "data:" line of an event; our messages fit on one line */
    for (const char *p = body, *end = body + len; p < end;) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        if (le - p > 5 && !strncmp(p, "data:", 5)) {
            json_t *m = match_id(json_loadb(p + 5, (size_t)(le - p - 5), 0, NULL), id);
            if (m)
                return m;
        }
        p = nl ? nl + 1 : end;
    }
    return NULL;
}

/* ---- running --------------------------------------------------------------
 * Our own small multi loop (instead of tc_net_request_many) because each
 * probe needs its own latency (CURLINFO_TOTAL_TIME_T); the limits and the
 * SSRF guard are the net module's (tc_net_easy_limits). */

typedef struct {
    CURL *h;
    tc_net_guard g;
    struct curl_slist *hdrs;
    tc_buf body;
    char session[200];
    char errbuf[CURL_ERROR_SIZE];
    CURLcode rc;
    long status;
    int64_t us;
    bool active;
} step;

static size_t on_body(char *p, size_t size, size_t nmemb, void *ud)
{
    step *s = ud;
    size_t n = size * nmemb;
    return tc_buf_append(&s->body, p, n) == TC_OK ? n : 0;
}

static size_t on_header(char *p, size_t size, size_t nmemb, void *ud)
{
    step *s = ud;
    size_t n = size * nmemb;
    if (!tc_net_guard_header(&s->g, n))
        return 0;
    static const char name[] = "mcp-session-id:";
    if (n > sizeof(name) - 1 && !strncasecmp(p, name, sizeof(name) - 1)) {
        size_t i = sizeof(name) - 1, j = 0;
        while (i < n && p[i] == ' ')
            i++;
        /* visible ASCII only (the spec's rule); anything else ends it */
        while (i < n && j + 1 < sizeof(s->session) && p[i] > 0x20 && p[i] < 0x7f)
            s->session[j++] = p[i++];
        s->session[j] = '\0';
    }
    return n;
}

static void step_free(step *s)
{
    if (s->h)
        curl_easy_cleanup(s->h);
    curl_slist_free_all(s->hdrs);
    tc_buf_free(&s->body);
    s->h = NULL;
    s->hdrs = NULL;
    s->active = false;
}

static void init_step(step *s, const tc_health_probe *p, const char *method, const char *body,
                      int timeout_ms, bool allow_private)
{
    step_free(s);
    memset(&s->g, 0, sizeof(s->g));
    tc_buf_init(&s->body, PROBE_BODY_MAX);
    s->errbuf[0] = '\0';
    s->rc = CURLE_OK;
    s->status = 0;
    s->h = curl_easy_init();
    tc_net_opts o = {.connect_timeout_ms = timeout_ms, .timeout_ms = timeout_ms,
                     .max_body = PROBE_BODY_MAX, .max_redirects = 3, .allow_private = allow_private};
    tc_net_easy_limits(s->h, &o, &s->g);
    if (body) {
        s->hdrs = curl_slist_append(s->hdrs, "Content-Type: application/json");
        s->hdrs = curl_slist_append(s->hdrs, "Accept: application/json, text/event-stream");
        curl_easy_setopt(s->h, CURLOPT_POSTFIELDS, body);
    }
    if (s->session[0]) {
        char line[256];
        snprintf(line, sizeof(line), "Mcp-Session-Id: %s", s->session);
        s->hdrs = curl_slist_append(s->hdrs, line);
        s->hdrs = curl_slist_append(s->hdrs, "MCP-Protocol-Version: " MCP_PROTOCOL);
    }
    curl_easy_setopt(s->h, CURLOPT_URL, p->url);
    curl_easy_setopt(s->h, CURLOPT_CUSTOMREQUEST, method);
    if (!strcmp(method, "GET"))
        curl_easy_setopt(s->h, CURLOPT_HTTPGET, 1L);
    curl_easy_setopt(s->h, CURLOPT_HTTPHEADER, s->hdrs);
    curl_easy_setopt(s->h, CURLOPT_USERAGENT, "toolconnect-health/1");
    curl_easy_setopt(s->h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(s->h, CURLOPT_WRITEDATA, s);
    curl_easy_setopt(s->h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(s->h, CURLOPT_HEADERDATA, s);
    curl_easy_setopt(s->h, CURLOPT_ERRORBUFFER, s->errbuf);
    curl_easy_setopt(s->h, CURLOPT_PRIVATE, s);
    s->active = true;
}

/* Runs every active step at once; fills rc, status and time of each. */
static void run_batch(step *s, size_t n)
{
    CURLM *m = curl_multi_init();
    for (size_t i = 0; i < n; i++)
        if (s[i].active)
            curl_multi_add_handle(m, s[i].h);
    int running = 1;
    while (running) {
        if (curl_multi_perform(m, &running) != CURLM_OK)
            break;
        if (running)
            curl_multi_poll(m, NULL, 0, 1000, NULL);
    }
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(m, &left))) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        step *st = NULL;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&st);
        st->rc = msg->data.result;
    }
    for (size_t i = 0; i < n; i++) {
        if (!s[i].active)
            continue;
        curl_off_t us = 0;
        curl_easy_getinfo(s[i].h, CURLINFO_RESPONSE_CODE, &s[i].status);
        curl_easy_getinfo(s[i].h, CURLINFO_TOTAL_TIME_T, &us);
        s[i].us += (int64_t)us;
        curl_multi_remove_handle(m, s[i].h);
    }
    curl_multi_cleanup(m);
}

/* status plus the error "<what><detail>" (what NULL = no error). */
static void outcome(tc_health_probe *p, const char *status, const char *what, const char *detail)
{
    set_str(p->status, sizeof(p->status), status);
    if (what)
        snprintf(p->error, sizeof(p->error), "%s%s", what, detail ? detail : "");
}

static void slow_check(tc_health_probe *p, int64_t degraded_ms)
{
    if (strcmp(p->status, "healthy") || p->latency_ms <= degraded_ms)
        return;
    set_str(p->status, sizeof(p->status), "degraded");
    snprintf(p->error, sizeof(p->error), "slow answer: %lld ms (limit %lld ms)",
             (long long)p->latency_ms, (long long)degraded_ms);
}

/* Transport failure of a step as a message; false when it got an answer. */
static bool failed(step *s, char *msg, size_t cap)
{
    if (s->rc == CURLE_OK && s->status)
        return false;
    tc_err e;
    tc_err_clear(&e);
    tc_net_curl_fail(s->rc == CURLE_OK ? CURLE_RECV_ERROR : s->rc, &s->g, s->errbuf, &e);
    const char *src = e.message[0] ? e.message : curl_easy_strerror(s->rc);
    size_t n = strnlen(src, cap - 1); /* cut long messages (no -Wformat-truncation at -O2) */
    memcpy(msg, src, n);
    msg[n] = '\0';
    return true;
}

static void rest_outcome(tc_health_probe *p, step *s, int64_t degraded_ms)
{
    char msg[200], code[16];
    snprintf(code, sizeof(code), "%ld", s->status);
    if (failed(s, msg, sizeof(msg)))
        outcome(p, "down", "", msg);
    else if (s->status >= 500)
        outcome(p, "degraded", "answered HTTP ", code);
    else
        outcome(p, "healthy", NULL, NULL);
    slow_check(p, degraded_ms);
}

/* After initialize: true when the ping step should run. */
static bool mcp_init_outcome(tc_health_probe *p, step *s)
{
    char msg[200], code[16];
    snprintf(code, sizeof(code), "%ld", s->status);
    if (failed(s, msg, sizeof(msg))) {
        outcome(p, "down", "initialize: ", msg);
        return false;
    }
    if (s->status == 401 || s->status == 403) {
        outcome(p, "healthy", "reachable; initialize needs authorization: HTTP ", code);
        return false;
    }
    if (s->status < 200 || s->status > 299) {
        outcome(p, "degraded", "initialize answered HTTP ", code);
        return false;
    }
    json_t *m = tc_health_mcp_response(s->body.data ? s->body.data : "", s->body.len, 1);
    bool ok = m && json_is_object(json_object_get(m, "result"));
    json_decref(m);
    if (!ok)
        outcome(p, "degraded", "initialize: ", "no valid JSON-RPC result");
    return ok;
}

static void mcp_ping_outcome(tc_health_probe *p, step *s)
{
    char msg[200], code[16];
    snprintf(code, sizeof(code), "%ld", s->status);
    if (failed(s, msg, sizeof(msg))) {
        outcome(p, "degraded", "ping: ", msg);
        return;
    }
    json_t *m = tc_health_mcp_response(s->body.data ? s->body.data : "", s->body.len, 2);
    bool ok = s->status >= 200 && s->status < 300 && m && json_object_get(m, "result");
    json_decref(m);
    if (ok)
        outcome(p, "healthy", NULL, NULL);
    else
        outcome(p, "degraded", "ping failed: HTTP ", code);
}

void tc_health_probe_run(tc_health_probe *probes, size_t n, int timeout_ms, int64_t degraded_ms,
                         bool allow_private)
{
    step *s = tc_calloc(n ? n : 1, sizeof(*s));
    for (size_t i = 0; i < n; i++) {
        if (probes[i].kind == TC_PROBE_REST)
            init_step(&s[i], &probes[i], "GET", NULL, timeout_ms, allow_private);
        else if (probes[i].kind == TC_PROBE_MCP)
            init_step(&s[i], &probes[i], "POST", init_body, timeout_ms, allow_private);
    }
    run_batch(s, n);
    bool again = false;
    for (size_t i = 0; i < n; i++) {
        if (!s[i].active)
            continue;
        probes[i].latency_ms = s[i].us / 1000;
        if (probes[i].kind == TC_PROBE_REST) {
            rest_outcome(&probes[i], &s[i], degraded_ms);
            step_free(&s[i]);
        } else if (mcp_init_outcome(&probes[i], &s[i])) {
            init_step(&s[i], &probes[i], "POST", ping_body, timeout_ms, allow_private);
            again = true;
        } else {
            step_free(&s[i]);
        }
    }
    if (again)
        run_batch(s, n);
    bool cleanup = false;
    for (size_t i = 0; i < n && again; i++) {
        if (!s[i].active)
            continue;
        probes[i].latency_ms = s[i].us / 1000;
        mcp_ping_outcome(&probes[i], &s[i]);
        slow_check(&probes[i], degraded_ms);
        if (s[i].session[0]) {
            init_step(&s[i], &probes[i], "DELETE", NULL, timeout_ms < 2000 ? timeout_ms : 2000,
                      allow_private);
            cleanup = true;
        } else {
            step_free(&s[i]);
        }
    }
    if (cleanup)
        run_batch(s, n); /* courtesy: end the session; the outcome does not matter */
    for (size_t i = 0; i < n; i++)
        step_free(&s[i]);
    free(s);
}
