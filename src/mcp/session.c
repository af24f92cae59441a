/* Sessions and the pool: the MCP handshake, request/response matching by
 * JSON-RPC id, re-initialisation, and the protocol calls.
 *
 * Lock order: pool->mu, then s->init_mu, then s->mu. Transports never hold
 * s->mu while doing I/O. */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "mcp/mcp_int.h"
#include "net/net.h"

#define OFFERED_VERSION "2025-11-25"
static const char *const accepted_versions[] = {"2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"};
#define MAX_LIST_PAGES 100

struct tc_mcp_pool {
    pthread_mutex_t mu;
    tc_mcp_session *sessions;
    tc_mcp_pool_opts opts;
};

static const tc_mcp__transport *const transports[] = {
    [TC_MCP_HTTP] = &tc_mcp__http,
    [TC_MCP_SSE] = &tc_mcp__sse_tp,
    [TC_MCP_STDIO] = &tc_mcp__stdio,
};

static const struct {
    const char *name;
    tc_mcp_transport_kind kind;
} transport_names[] = {
    {"http", TC_MCP_HTTP},   {"streamable_http", TC_MCP_HTTP}, {"streamableHttp", TC_MCP_HTTP},
    {"streamable-http", TC_MCP_HTTP}, {"sse", TC_MCP_SSE}, {"stdio", TC_MCP_STDIO},
};

tc_status tc_mcp_transport_parse(const char *s, tc_mcp_transport_kind *out)
{
    for (size_t i = 0; s && i < sizeof(transport_names) / sizeof(transport_names[0]); i++) {
        if (!strcmp(s, transport_names[i].name)) {
            *out = transport_names[i].kind;
            return TC_OK;
        }
    }
    return TC_BAD_REQUEST;
}

/* ---- small helpers -------------------------------------------------------- */

static char **strv_dup(const char *const *v)
{
    size_t n = 0;
    while (v && v[n])
        n++;
    char **out = tc_calloc(n + 1, sizeof(char *));
    for (size_t i = 0; i < n; i++)
        out[i] = tc_strdup(v[i]);
    return out;
}

static void strv_free(char **v)
{
    for (size_t i = 0; v && v[i]; i++)
        tc_free(v[i]);
    tc_free(v);
}

static bool strv_eq(char **a, const char *const *b)
{
    size_t i = 0;
    for (; a && a[i]; i++)
        if (!b || !b[i] || strcmp(a[i], b[i]) != 0)
            return false;
    return !b || !b[i];
}

static bool str_eq(const char *a, const char *b)
{
    return (!a && !b) || (a && b && !strcmp(a, b));
}

static void sleep_ms(int64_t ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

static void abs_deadline(struct timespec *ts, int64_t ms)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (ms % 1000) * 1000000;
    if (ts->tv_nsec >= 1000000000) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000;
    }
}

void tc_mcp__auth_header(tc_mcp_session *s, char *out, size_t outsz)
{
    pthread_mutex_lock(&s->mu);
    if (s->bearer && s->bearer[0])
        snprintf(out, outsz, "Authorization: Bearer %s", s->bearer);
    else
        out[0] = '\0';
    pthread_mutex_unlock(&s->mu);
}

/* ---- dispatch of received messages ---------------------------------------- */

static tc_mcp__pending *find_pending(tc_mcp_session *s, json_t *id)
{
    if (!json_is_integer(id))
        return NULL;
    for (tc_mcp__pending *p = s->pendings; p; p = p->next)
        if (p->id == json_integer_value(id))
            return p;
    return NULL;
}

static void answer_server_request(tc_mcp_session *s, json_t *msg)
{
    const char *method = json_string_value(json_object_get(msg, "method"));
    json_t *reply;
    if (!strcmp(method, "ping"))
        reply = json_pack("{s:s, s:O, s:{}}", "jsonrpc", "2.0", "id", json_object_get(msg, "id"), "result");
    else
        reply = json_pack("{s:s, s:O, s:{s:i, s:s}}", "jsonrpc", "2.0", "id", json_object_get(msg, "id"),
                          "error", "code", -32601, "message", "Method not found: not supported by this client");
    tc_err err = {0};
    int64_t deadline = tc_mono_ns() + 5 * (int64_t)1000000000;
    if (s->tp->send(s, reply, NULL, deadline, NULL, &err) != TC_OK)
        tc_log(TC_LOG_DEBUG, "mcp: could not answer a server request", "method", method, "error",
               err.message, NULL);
    json_decref(reply);
}

static void deliver_progress(tc_mcp_session *s, json_t *params)
{
    json_t *token = json_object_get(params, "progressToken");
    pthread_mutex_lock(&s->mu);
    tc_mcp__pending *p = find_pending(s, token);
    if (p && p->progress)
        p->progress(p->progress_ud, json_number_value(json_object_get(params, "progress")),
                    json_number_value(json_object_get(params, "total")),
                    json_string_value(json_object_get(params, "message")));
    pthread_mutex_unlock(&s->mu);
}

void tc_mcp__dispatch(tc_mcp_session *s, json_t *msg)
{
    switch (tc_mcp__msg_kind_of(msg)) {
    case TC_MCP__MSG_RESPONSE: {
        pthread_mutex_lock(&s->mu);
        tc_mcp__pending *p = find_pending(s, json_object_get(msg, "id"));
        if (p && !atomic_load(&p->done)) {
            p->response = json_incref(msg);
            atomic_store(&p->done, true);
            pthread_cond_broadcast(&s->cond);
        }
        pthread_mutex_unlock(&s->mu);
        break;
    }
    case TC_MCP__MSG_NOTIFICATION: {
        const char *method = json_string_value(json_object_get(msg, "method"));
        if (!strcmp(method, "notifications/progress"))
            deliver_progress(s, json_object_get(msg, "params"));
        break;
    }
    case TC_MCP__MSG_REQUEST:
        answer_server_request(s, msg);
        break;
    case TC_MCP__MSG_INVALID:
        tc_log(TC_LOG_DEBUG, "mcp: ignored a malformed message", "session", s->key, NULL);
        break;
    }
}

void tc_mcp__fail_all(tc_mcp_session *s, const tc_err *err)
{
    pthread_mutex_lock(&s->mu);
    for (tc_mcp__pending *p = s->pendings; p; p = p->next) {
        if (atomic_load(&p->done))
            continue;
        p->fail = *err;
        atomic_store(&p->done, true);
    }
    if (s->state == TC_MCP__READY) {
        s->state = TC_MCP__BROKEN;
        s->broken_at_ms = tc_now_ms();
        s->fails++;
    }
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->mu);
}

/* ---- one round trip --------------------------------------------------------- */

static void pending_add(tc_mcp_session *s, tc_mcp__pending *p)
{
    pthread_mutex_lock(&s->mu);
    p->next = s->pendings;
    s->pendings = p;
    pthread_mutex_unlock(&s->mu);
}

static void pending_remove(tc_mcp_session *s, tc_mcp__pending *p)
{
    pthread_mutex_lock(&s->mu);
    for (tc_mcp__pending **pp = &s->pendings; *pp; pp = &(*pp)->next) {
        if (*pp == p) {
            *pp = p->next;
            break;
        }
    }
    pthread_mutex_unlock(&s->mu);
}

/* Waits for p, waking every 20 ms to look at the cancel flag. */
static tc_status wait_pending(tc_mcp_session *s, tc_mcp__pending *p, int64_t deadline_ns,
                              const atomic_bool *cancel)
{
    tc_status st = TC_OK;
    pthread_mutex_lock(&s->mu);
    while (!atomic_load(&p->done)) {
        if (cancel && atomic_load(cancel)) {
            st = TC_CONFLICT;
            break;
        }
        if (tc_mono_ns() >= deadline_ns) {
            st = TC_TIMEOUT;
            break;
        }
        struct timespec ts;
        abs_deadline(&ts, 20);
        pthread_cond_timedwait(&s->cond, &s->mu, &ts);
    }
    pthread_mutex_unlock(&s->mu);
    return st;
}

static void send_cancelled(tc_mcp_session *s, int64_t id, const char *reason)
{
    json_t *n = json_pack("{s:s, s:s, s:{s:I, s:s}}", "jsonrpc", "2.0", "method", "notifications/cancelled",
                          "params", "requestId", (json_int_t)id, "reason", reason);
    tc_err err = {0};
    s->tp->send(s, n, NULL, tc_mono_ns() + 1000 * (int64_t)1000000, NULL, &err);
    json_decref(n);
}

static tc_status response_result(json_t *resp, const char *method, json_t **result, tc_err *err)
{
    json_t *e = json_object_get(resp, "error");
    if (e) {
        const char *m = json_string_value(json_object_get(e, "message"));
        return tc_failc(err, TC_UPSTREAM, "mcp_error", NULL, "MCP server error %lld on %s: %.300s",
                        (long long)json_integer_value(json_object_get(e, "code")), method,
                        m ? m : "(no message)");
    }
    *result = json_incref(json_object_get(resp, "result"));
    return TC_OK;
}

/* Sends one request and waits for its response, the deadline or the
 * cancel flag. *result is the JSON-RPC result (caller decrefs). */
static tc_status roundtrip(tc_mcp_session *s, const char *method, json_t *params,
                           const tc_mcp_call_opts *o, json_t **result, tc_err *err)
{
    tc_mcp__pending p = {.id = atomic_fetch_add(&s->next_id, 1)};
    int timeout = o && o->timeout_ms > 0 ? o->timeout_ms : s->opts.request_timeout_ms;
    int64_t deadline = tc_mono_ns() + (int64_t)timeout * 1000000;
    const atomic_bool *cancel = o ? o->cancel : NULL;
    json_t *prm = params ? json_deep_copy(params) : json_object();
    if (o && o->progress) {
        p.progress = o->progress;
        p.progress_ud = o->progress_ud;
        json_t *meta = json_object_get(prm, "_meta");
        if (!json_is_object(meta)) {
            meta = json_object();
            json_object_set_new(prm, "_meta", meta);
        }
        json_object_set_new(meta, "progressToken", json_integer(p.id));
    }
    json_t *msg = json_pack("{s:s, s:I, s:s, s:o}", "jsonrpc", "2.0", "id", (json_int_t)p.id, "method",
                            method, "params", prm);
    *result = NULL;
    pending_add(s, &p);
    tc_status st = s->tp->send(s, msg, &p, deadline, cancel, err);
    if (st == TC_OK)
        st = wait_pending(s, &p, deadline, cancel);
    pending_remove(s, &p);
    if (st == TC_TIMEOUT || st == TC_CONFLICT) {
        bool canceled = st == TC_CONFLICT;
        if (strcmp(method, "initialize") != 0) /* the spec forbids cancelling initialize */
            send_cancelled(s, p.id, canceled ? "canceled by the client" : "timed out");
        if (canceled)
            tc_failc(err, TC_CONFLICT, "canceled", NULL, "the %s call was canceled", method);
        else
            tc_failf(err, TC_TIMEOUT, NULL, "the MCP server did not answer %s within %d ms", method,
                     timeout);
    } else if (st == TC_OK && !p.response) {
        st = p.fail.status != TC_OK ? p.fail.status : TC_UPSTREAM;
        if (err)
            *err = p.fail;
        if (err && err->status == TC_OK)
            tc_failf(err, TC_UPSTREAM, NULL, "the MCP session ended before answering %s", method);
    } else if (st == TC_OK) {
        st = response_result(p.response, method, result, err);
    }
    json_decref(p.response);
    json_decref(msg);
    return st;
}

static tc_status notify(tc_mcp_session *s, const char *method, tc_err *err)
{
    json_t *n = json_pack("{s:s, s:s}", "jsonrpc", "2.0", "method", method);
    tc_status st = s->tp->send(s, n, NULL, tc_mono_ns() + (int64_t)s->opts.request_timeout_ms * 1000000,
                               NULL, err);
    json_decref(n);
    return st;
}

/* ---- initialisation ------------------------------------------------------- */

static bool version_accepted(const char *v)
{
    for (size_t i = 0; v && i < sizeof(accepted_versions) / sizeof(accepted_versions[0]); i++)
        if (!strcmp(v, accepted_versions[i]))
            return true;
    return false;
}

static tc_status handshake(tc_mcp_session *s, tc_err *err)
{
    json_t *params = json_pack("{s:s, s:{}, s:{s:s, s:s}}", "protocolVersion", OFFERED_VERSION,
                               "capabilities", "clientInfo", "name", s->opts.client_name, "version",
                               TC_VERSION);
    json_t *res = NULL;
    tc_status st = roundtrip(s, "initialize", params, NULL, &res, err);
    json_decref(params);
    if (st != TC_OK)
        goto out;
    const char *v = json_string_value(json_object_get(res, "protocolVersion"));
    if (!version_accepted(v)) {
        st = tc_failc(err, TC_UPSTREAM, "mcp_version", NULL,
                      "MCP server answered protocol version %.40s, which this client does not support",
                      v ? v : "(none)");
        goto out;
    }
    pthread_mutex_lock(&s->mu);
    snprintf(s->protocol, sizeof(s->protocol), "%s", v);
    json_decref(s->server_info);
    s->server_info = json_incref(json_object_get(res, "serverInfo"));
    pthread_mutex_unlock(&s->mu);
    st = notify(s, "notifications/initialized", err);
out:
    json_decref(res);
    return st;
}

/* Brings the session to READY: opens the transport (again) and runs the
 * handshake. Repeated breaks back off (stdio restarts): 0, 100, 200 ms ...
 * up to 5 s. */
static tc_status ensure_ready(tc_mcp_session *s, tc_err *err)
{
    pthread_mutex_lock(&s->init_mu);
    pthread_mutex_lock(&s->mu);
    tc_mcp__state state = s->state;
    int fails = s->fails;
    int64_t since = tc_now_ms() - s->broken_at_ms;
    pthread_mutex_unlock(&s->mu);
    tc_status st = TC_OK;
    if (state == TC_MCP__READY)
        goto out;
    if (state == TC_MCP__BROKEN && fails > 1) {
        int64_t delay = fails > 7 ? 5000 : 100LL << (fails - 2);
        if (delay > 5000)
            delay = 5000;
        if (since < delay)
            sleep_ms(delay - since);
    }
    if (s->opened)
        s->tp->close(s);
    s->opened = false;
    pthread_mutex_lock(&s->mu);
    s->protocol[0] = '\0';
    pthread_mutex_unlock(&s->mu);
    st = s->tp->open(s, err);
    if (st != TC_OK)
        goto fail;
    s->opened = true;
    st = handshake(s, err);
    if (st != TC_OK)
        goto fail;
    pthread_mutex_lock(&s->mu);
    s->state = TC_MCP__READY;
    s->generation++;
    s->init_count++;
    pthread_mutex_unlock(&s->mu);
    goto out;
fail:
    pthread_mutex_lock(&s->mu);
    s->state = TC_MCP__BROKEN;
    s->broken_at_ms = tc_now_ms();
    s->fails++;
    pthread_mutex_unlock(&s->mu);
out:
    pthread_mutex_unlock(&s->init_mu);
    return st;
}

static void mark_broken(tc_mcp_session *s, int generation)
{
    pthread_mutex_lock(&s->mu);
    if (s->generation == generation && s->state == TC_MCP__READY) {
        s->state = TC_MCP__BROKEN;
        s->broken_at_ms = tc_now_ms();
    }
    pthread_mutex_unlock(&s->mu);
}

tc_status tc_mcp_request(tc_mcp_session *s, const char *method, json_t *params,
                         const tc_mcp_call_opts *opts, json_t **result, tc_err *err)
{
    tc_status st = TC_OK;
    *result = NULL;
    for (int attempt = 0; attempt < 2; attempt++) {
        st = ensure_ready(s, err);
        if (st != TC_OK)
            break;
        pthread_mutex_lock(&s->mu);
        int gen = s->generation;
        pthread_mutex_unlock(&s->mu);
        st = roundtrip(s, method, params, opts, result, err);
        if (st == TC_OK) {
            pthread_mutex_lock(&s->mu);
            s->fails = 0;
            s->last_used_ms = tc_now_ms();
            pthread_mutex_unlock(&s->mu);
        }
        bool gone = st != TC_OK && err && !strcmp(err->code, TC_MCP__SESSION_GONE);
        if (!gone)
            break;
        mark_broken(s, gen);  /* and retry once on a fresh session */
    }
    return st;
}

/* ---- protocol calls --------------------------------------------------------- */

tc_status tc_mcp_list_tools(tc_mcp_session *s, json_t **tools, tc_err *err)
{
    json_t *all = json_array();
    char *cursor = NULL;
    tc_status st = TC_OK;
    for (int page = 0; page < MAX_LIST_PAGES; page++) {
        json_t *params = cursor ? json_pack("{s:s}", "cursor", cursor) : json_object();
        json_t *res = NULL;
        st = tc_mcp_request(s, "tools/list", params, NULL, &res, err);
        json_decref(params);
        if (st != TC_OK)
            goto out;
        json_t *page_tools = json_object_get(res, "tools");
        if (!json_is_array(page_tools)) {
            json_decref(res);
            st = tc_failf(err, TC_UPSTREAM, NULL, "tools/list answer has no tools array");
            goto out;
        }
        json_array_extend(all, page_tools);
        const char *next = json_string_value(json_object_get(res, "nextCursor"));
        tc_free(cursor);
        cursor = next && next[0] ? tc_strdup(next) : NULL;
        json_decref(res);
        if (!cursor)
            goto out;
    }
    st = tc_failf(err, TC_UPSTREAM, NULL, "tools/list did not end after %d pages", MAX_LIST_PAGES);
out:
    tc_free(cursor);
    if (st != TC_OK)
        json_decref(all);
    *tools = st == TC_OK ? all : NULL;
    return st;
}

void tc_mcp_result_free(tc_mcp_result *r)
{
    if (!r)
        return;
    json_decref(r->content);
    json_decref(r->structured);
    memset(r, 0, sizeof(*r));
}

tc_status tc_mcp_call_tool(tc_mcp_session *s, const char *name, json_t *args,
                           const tc_mcp_call_opts *opts, tc_mcp_result *out, tc_err *err)
{
    memset(out, 0, sizeof(*out));
    if (!name || !name[0])
        return tc_failf(err, TC_BAD_REQUEST, "name", "tool name is required");
    json_t *params = json_pack("{s:s, s:o}", "name", name, "arguments", args ? json_incref(args) : json_object());
    json_t *res = NULL;
    tc_status st = tc_mcp_request(s, "tools/call", params, opts, &res, err);
    json_decref(params);
    if (st != TC_OK)
        return st;
    json_t *content = json_object_get(res, "content");
    if (!json_is_array(content)) {
        json_decref(res);
        return tc_failf(err, TC_UPSTREAM, NULL, "tools/call answer has no content array");
    }
    out->content = json_incref(content);
    json_t *sc = json_object_get(res, "structuredContent");
    out->structured = sc && !json_is_null(sc) ? json_incref(sc) : NULL;
    out->is_error = json_is_true(json_object_get(res, "isError"));
    json_decref(res);
    return TC_OK;
}

tc_status tc_mcp_ping(tc_mcp_session *s, int timeout_ms, tc_err *err)
{
    tc_mcp_call_opts o = {.timeout_ms = timeout_ms};
    json_t *res = NULL;
    tc_status st = tc_mcp_request(s, "ping", NULL, &o, &res, err);
    json_decref(res);
    return st;
}

/* ---- session lifecycle ------------------------------------------------------ */

static tc_mcp_session *session_new(tc_mcp_pool *pool, const char *key, const tc_mcp_target *t)
{
    tc_mcp_session *s = tc_calloc(1, sizeof(*s));
    s->pool = pool;
    s->key = tc_strdup(key);
    s->kind = t->transport;
    s->tp = transports[t->transport];
    s->tps = tc_calloc(1, s->tp->state_size);
    s->url = tc_strdup(t->url);
    s->argv = strv_dup(t->argv);
    s->env = strv_dup(t->env);
    s->cwd = tc_strdup(t->cwd);
    s->bearer = tc_strdup(t->bearer);
    s->opts = pool->opts;
    s->refs = 1;  /* the pool's */
    s->in_pool = true;
    atomic_init(&s->next_id, 1);
    s->last_used_ms = tc_now_ms();
    pthread_mutex_init(&s->mu, NULL);
    pthread_mutex_init(&s->init_mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->cond, &ca);
    pthread_condattr_destroy(&ca);
    return s;
}

static void session_destroy(tc_mcp_session *s)
{
    s->destroying = true;
    s->tp->close(s); /* transports cope with a never-opened state */
    tc_free(s->tps);
    json_decref(s->server_info);
    if (s->bearer)
        memset(s->bearer, 0, strlen(s->bearer));
    tc_free(s->bearer);
    tc_free(s->key);
    tc_free(s->url);
    tc_free(s->cwd);
    strv_free(s->argv);
    strv_free(s->env);
    pthread_mutex_destroy(&s->mu);
    pthread_mutex_destroy(&s->init_mu);
    pthread_cond_destroy(&s->cond);
    tc_free(s);
}

static bool same_target(tc_mcp_session *s, const tc_mcp_target *t)
{
    return s->kind == t->transport && str_eq(s->url, t->url) && strv_eq(s->argv, t->argv) &&
           strv_eq(s->env, t->env) && str_eq(s->cwd, t->cwd);
}

static tc_status check_target(const tc_mcp_target *t, tc_err *err)
{
    if ((unsigned)t->transport > TC_MCP_STDIO)
        return tc_failf(err, TC_BAD_REQUEST, "transport", "unknown MCP transport");
    if (t->transport == TC_MCP_STDIO && (!t->argv || !t->argv[0] || !t->argv[0][0]))
        return tc_failf(err, TC_BAD_REQUEST, "command", "a stdio MCP server needs a command");
    if (t->transport != TC_MCP_STDIO &&
        (!t->url || (strncmp(t->url, "http://", 7) != 0 && strncmp(t->url, "https://", 8) != 0)))
        return tc_failf(err, TC_BAD_REQUEST, "url", "an MCP server URL must start with http:// or https://");
    return TC_OK;
}

/* Unlinks s from the pool list; pool->mu held. */
static void pool_unlink(tc_mcp_pool *pool, tc_mcp_session *s)
{
    for (tc_mcp_session **pp = &pool->sessions; *pp; pp = &(*pp)->next_in_pool) {
        if (*pp == s) {
            *pp = s->next_in_pool;
            break;
        }
    }
    s->in_pool = false;
}

/* Drops one reference; pool->mu held. Returns s if it must be destroyed
 * (outside the lock: closing does I/O). */
static tc_mcp_session *unref_locked(tc_mcp_session *s)
{
    return --s->refs == 0 ? s : NULL;
}

tc_status tc_mcp_session_get(tc_mcp_pool *pool, const char *key, const tc_mcp_target *target,
                             tc_mcp_session **out, tc_err *err)
{
    *out = NULL;
    tc_status st = check_target(target, err);
    if (st != TC_OK)
        return st;
    tc_mcp_pool_sweep(pool);
    tc_mcp_session *s, *dead = NULL;
    pthread_mutex_lock(&pool->mu);
    for (s = pool->sessions; s; s = s->next_in_pool)
        if (!strcmp(s->key, key))
            break;
    if (s && !same_target(s, target)) {
        pool_unlink(pool, s);
        dead = unref_locked(s);
        s = NULL;
    }
    if (!s) {
        s = session_new(pool, key, target);
        s->next_in_pool = pool->sessions;
        pool->sessions = s;
    }
    s->refs++;
    pthread_mutex_unlock(&pool->mu);
    if (dead)
        session_destroy(dead);
    pthread_mutex_lock(&s->mu);
    if (!str_eq(s->bearer, target->bearer)) {
        tc_free(s->bearer);
        s->bearer = tc_strdup(target->bearer);
    }
    s->last_used_ms = tc_now_ms();
    pthread_mutex_unlock(&s->mu);
    st = ensure_ready(s, err);
    if (st != TC_OK) {
        tc_mcp_session_release(s);
        return st;
    }
    *out = s;
    return TC_OK;
}

void tc_mcp_session_release(tc_mcp_session *s)
{
    if (!s)
        return;
    tc_mcp_pool *pool = s->pool;
    pthread_mutex_lock(&pool->mu);
    s->last_used_ms = tc_now_ms();
    tc_mcp_session *dead = unref_locked(s);
    pthread_mutex_unlock(&pool->mu);
    if (dead)
        session_destroy(dead);
}

const char *tc_mcp_session_protocol(tc_mcp_session *s)
{
    return s->protocol;
}

int tc_mcp_session_init_count(tc_mcp_session *s)
{
    pthread_mutex_lock(&s->mu);
    int n = s->init_count;
    pthread_mutex_unlock(&s->mu);
    return n;
}

/* ---- pool --------------------------------------------------------------------- */

tc_mcp_pool *tc_mcp_pool_new(const tc_mcp_pool_opts *opts)
{
    tc_mcp_pool *pool = tc_calloc(1, sizeof(*pool));
    if (opts)
        pool->opts = *opts;
    tc_mcp_pool_opts *o = &pool->opts;
    if (o->idle_ms <= 0)
        o->idle_ms = 300000;
    if (o->connect_timeout_ms <= 0)
        o->connect_timeout_ms = 5000;
    if (o->request_timeout_ms <= 0)
        o->request_timeout_ms = 60000;
    if (o->max_message == 0)
        o->max_message = 4u << 20;
    if (o->max_stderr == 0)
        o->max_stderr = 16u << 10;
    if (!o->client_name)
        o->client_name = "toolconnect";
    pthread_mutex_init(&pool->mu, NULL);
    tc_net_global_init();
    /* stdio servers that die make writes fail with EPIPE; without this the
     * signal would kill the whole process. */
    signal(SIGPIPE, SIG_IGN);
    return pool;
}

int tc_mcp_pool_sweep(tc_mcp_pool *pool)
{
    tc_mcp_session *dead = NULL;
    int n = 0;
    int64_t now = tc_now_ms();
    pthread_mutex_lock(&pool->mu);
    for (tc_mcp_session **pp = &pool->sessions; *pp;) {
        tc_mcp_session *s = *pp;
        if (s->refs == 1 && now - s->last_used_ms > pool->opts.idle_ms) {
            *pp = s->next_in_pool;
            s->in_pool = false;
            s->refs = 0;
            s->next_in_pool = dead;
            dead = s;
            n++;
        } else {
            pp = &s->next_in_pool;
        }
    }
    pthread_mutex_unlock(&pool->mu);
    while (dead) {
        tc_mcp_session *next = dead->next_in_pool;
        session_destroy(dead);
        dead = next;
    }
    return n;
}

void tc_mcp_pool_free(tc_mcp_pool *pool)
{
    if (!pool)
        return;
    pthread_mutex_lock(&pool->mu);
    tc_mcp_session *list = pool->sessions;
    pool->sessions = NULL;
    pthread_mutex_unlock(&pool->mu);
    while (list) {
        tc_mcp_session *next = list->next_in_pool;
        list->in_pool = false;
        pthread_mutex_lock(&pool->mu);
        tc_mcp_session *dead = unref_locked(list);
        pthread_mutex_unlock(&pool->mu);
        if (dead)
            session_destroy(dead);
        list = next;
    }
    pthread_mutex_destroy(&pool->mu);
    tc_free(pool);
}
