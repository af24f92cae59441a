/* Health probes of MCP servers the curl probes cannot reach: stdio
 * (a process to spawn) and legacy HTTP+SSE (a stream to hold). They go
 * through the MCP client (src/mcp): a fresh session per probe (initialize),
 * then ping, then the session is closed (process-group kill for stdio).
 *
 * They run on threads of their own while the checker runs the curl probes,
 * so one slow stdio server never delays the rest. Each round gets a pool of
 * its own, freed at the end: every probe really initializes, nothing is
 * kept running between rounds, and user sessions (the process-wide pool)
 * are never touched. Probes carry no user credential. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "connections/connections.h"
#include "health/health.h"
#include "mcp/mcp.h"

#define MCP_PROBE_THREADS 16
#define MIN_PING_MS 100

struct tc_health_mcp_run {
    tc_health_probe *probes;
    size_t *todo;             /* indexes of the MCP client probes */
    size_t n_todo;
    atomic_size_t next;
    int timeout_ms;
    int64_t degraded_ms;
    bool allow_stdio;
    tc_mcp_pool *pool;
    pthread_t threads[MCP_PROBE_THREADS];
    int n_threads;
};

static void set_outcome(tc_health_probe *p, const char *status, const char *what, const char *detail)
{
    snprintf(p->status, sizeof(p->status), "%s", status);
    if (what)
        snprintf(p->error, sizeof(p->error), "%s%.200s", what, detail ? detail : "");
}

/* initialize failed: unreachable, except that a refusal for want of
 * credentials proves the server is up (as for Streamable HTTP). */
static void init_failed(tc_health_probe *p, const tc_err *e)
{
    if (e->status == TC_UNAUTHORIZED || e->status == TC_FORBIDDEN)
        set_outcome(p, "healthy", "reachable; initialize needs authorization: ", e->message);
    else
        set_outcome(p, "down", "initialize: ", e->message[0] ? e->message : tc_strerror(e->status));
}

/* One probe: target from the definition, session (initialize), ping. */
static void probe_one(tc_health_mcp_run *r, size_t idx)
{
    tc_health_probe *p = &r->probes[idx];
    int64_t t0 = tc_mono_ns();
    tc_mcp_target_buf tb;
    tc_err e;
    tc_err_clear(&e);
    if (tc_connection_mcp_target(p->def, NULL, r->allow_stdio, &tb, &e) != TC_OK) {
        set_outcome(p, "down", "", e.message);
        p->latency_ms = 0;
        return;
    }
    char key[64];
    snprintf(key, sizeof(key), "health|%zu", idx);
    tc_mcp_session *s = NULL;
    tc_status st = tc_mcp_session_get(r->pool, key, &tb.target, &s, &e);
    if (st != TC_OK) {
        init_failed(p, &e);
    } else {
        int64_t left = r->timeout_ms - (tc_mono_ns() - t0) / 1000000;
        tc_err_clear(&e);
        if (tc_mcp_ping(s, (int)(left > MIN_PING_MS ? left : MIN_PING_MS), &e) == TC_OK)
            set_outcome(p, "healthy", NULL, NULL);
        else
            set_outcome(p, "degraded", "ping: ", e.message);
        tc_mcp_session_release(s);
    }
    tc_mcp_target_buf_free(&tb);
    p->latency_ms = (tc_mono_ns() - t0) / 1000000;
    if (!strcmp(p->status, "healthy") && p->latency_ms > r->degraded_ms) {
        snprintf(p->status, sizeof(p->status), "degraded");
        snprintf(p->error, sizeof(p->error), "slow answer: %lld ms (limit %lld ms)",
                 (long long)p->latency_ms, (long long)r->degraded_ms);
    }
}

static void *worker(void *arg)
{
    tc_health_mcp_run *r = arg;
    for (;;) {
        size_t i = atomic_fetch_add(&r->next, 1);
        if (i >= r->n_todo)
            return NULL;
        probe_one(r, r->todo[i]);
    }
}

tc_health_mcp_run *tc_health_mcp_probes_start(tc_health_probe *probes, size_t n, int timeout_ms,
                                              int64_t degraded_ms, bool allow_private,
                                              bool allow_stdio)
{
    size_t count = 0;
    for (size_t i = 0; i < n; i++)
        count += probes[i].kind == TC_PROBE_MCP_CLIENT;
    if (count == 0)
        return NULL;
    tc_health_mcp_run *r = tc_calloc(1, sizeof(*r));
    r->probes = probes;
    r->todo = tc_calloc(count, sizeof(*r->todo));
    for (size_t i = 0; i < n; i++)
        if (probes[i].kind == TC_PROBE_MCP_CLIENT)
            r->todo[r->n_todo++] = i;
    atomic_init(&r->next, 0);
    r->timeout_ms = timeout_ms > 0 ? timeout_ms : 10000;
    r->degraded_ms = degraded_ms > 0 ? degraded_ms : 3000;
    r->allow_stdio = allow_stdio;
    /* initialize gets three quarters of the limit, ping what is left */
    tc_mcp_pool_opts o = {.connect_timeout_ms = r->timeout_ms * 3 / 4,
                          .request_timeout_ms = r->timeout_ms * 3 / 4,
                          .allow_private = allow_private,
                          .client_name = "toolconnect-health"};
    r->pool = tc_mcp_pool_new(&o);
    size_t want = count < MCP_PROBE_THREADS ? count : MCP_PROBE_THREADS;
    while ((size_t)r->n_threads < want &&
           pthread_create(&r->threads[r->n_threads], NULL, worker, r) == 0)
        r->n_threads++;
    if (r->n_threads == 0) /* no thread: run them here rather than not at all */
        worker(r);
    return r;
}

void tc_health_mcp_probes_wait(tc_health_mcp_run *r)
{
    if (!r)
        return;
    for (int i = 0; i < r->n_threads; i++)
        pthread_join(r->threads[i], NULL);
    tc_mcp_pool_free(r->pool); /* ends every probe session (stdio: kills the process group) */
    free(r->todo);
    free(r);
}
