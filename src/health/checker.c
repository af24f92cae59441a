/* The checker: a thread that runs a probe round every interval, and the
 * recording of results (status changes -> events and alert emails).
 * Lock order: round_mu (one round at a time) before mu (thread state);
 * neither is held by a database call of another thread. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "events/events.h"
#include "health/health.h"
#include "notify/notify.h"
#include "store/repo_health.h"

struct tc_health {
    tc_health_opts o;
    pthread_t thread;
    bool running, stop;
    pthread_mutex_t mu, round_mu;
    pthread_cond_t cv;
};

typedef struct {
    const char *id, *slug, *name;
    tc_health_probe probe;
} target;

/* ---- recording ------------------------------------------------------------- */

static const char *webhook_type(const char *prev, const char *now)
{
    if (!strcmp(now, "down"))
        return "health.down";
    if (!strcmp(prev, "down"))
        return "health.recovered";
    return NULL;
}

static json_t *change_row(const target *t, const char *prev, int64_t checked_at)
{
    char ts[32];
    tc_time_format(checked_at, ts);
    const tc_health_probe *p = &t->probe;
    return json_pack("{s:s, s:s, s:s, s:s?, s:o, s:s?, s:s}", "connector", t->slug, "name", t->name,
                     "status", p->status, "previous_status", prev[0] ? prev : NULL, "latency_ms",
                     p->latency_ms >= 0 ? json_integer(p->latency_ms) : json_null(), "error",
                     p->error[0] ? p->error : NULL, "checked_at", ts);
}

static tc_status queue_alerts(tc_health *h, tc_db_conn *c, const target *t, const json_t *users,
                              const char *type, int64_t now, tc_err *err)
{
    bool claimed = false;
    tc_status st = tc_repo_health_cooldown_claim(c, t->id, t->probe.status, now,
                                                 h->o.cooldown_ms, &claimed, err);
    if (st != TC_OK || !claimed) {
        if (st == TC_OK)
            tc_log(TC_LOG_INFO, "health alert suppressed by the cooldown", "connector", t->slug,
                   "status", t->probe.status, NULL);
        return st;
    }
    char ts[32];
    tc_time_format(now, ts);
    json_t *vars = json_pack("{s:s, s:s, s:s, s:s, s:s}", "connector", t->slug, "name", t->name,
                             "status", t->probe.status, "error",
                             t->probe.error[0] ? t->probe.error : "none", "time", ts);
    size_t i;
    const json_t *u;
    json_array_foreach(users, i, u) {
        st = tc_notify_alert(h->o.notify, c, json_string_value(u), type, vars, NULL, err);
        if (st != TC_OK)
            break;
    }
    json_decref(vars);
    return st;
}

/* Records one change per user; changes[] gets them for publishing. */
static tc_status record_changes(tc_health *h, tc_db_conn *c, const target *t, const char *prev,
                                const json_t *users, int64_t now, tc_change *changes,
                                size_t *nchanges, tc_err *err)
{
    size_t i;
    const json_t *u;
    json_array_foreach(users, i, u) {
        tc_change *ch = &changes[(*nchanges)++];
        tc_change_init(ch, json_string_value(u), "health", change_row(t, prev, now));
        ch->webhook_type = webhook_type(prev, t->probe.status);
        tc_status st = tc_events_record(h->o.events, c, ch, err);
        if (st != TC_OK)
            return st;
    }
    return TC_OK;
}

static void publish(tc_health *h, tc_change *changes, size_t n, bool committed)
{
    for (size_t i = 0; i < n; i++) {
        if (committed && h->o.events)
            tc_events_publish(h->o.events, &changes[i]);
        tc_change_clear(&changes[i]);
    }
}

/* Stores one result; on a status change records events and queues alerts,
 * all in one transaction. */
static tc_status record_one(tc_health *h, tc_db_conn *c, const target *t, int64_t now, tc_err *err)
{
    char prev[16];
    json_t *users = NULL;
    tc_change *changes = NULL;
    size_t nchanges = 0;
    tc_status st = tc_db_begin(c, err);
    if (st != TC_OK)
        return st;
    st = tc_repo_health_last_status(c, t->id, prev, err);
    tc_repo_health_result res = {.connector_id = t->id, .status = t->probe.status,
                                 .latency_ms = t->probe.latency_ms,
                                 .error = t->probe.error[0] ? t->probe.error : NULL, .checked_at = now};
    if (st == TC_OK)
        st = tc_repo_health_insert(c, &res, NULL, err);
    bool changed = prev[0] ? strcmp(prev, t->probe.status) != 0 : strcmp(t->probe.status, "healthy") != 0;
    if (st != TC_OK || !changed)
        goto out;
    tc_log(TC_LOG_INFO, "health status changed", "connector", t->slug, "from", prev[0] ? prev : "unknown",
           "to", t->probe.status, "error", t->probe.error, NULL);
    st = tc_repo_health_users(c, t->id, &users, err);
    if (st != TC_OK)
        goto out;
    changes = tc_calloc(json_array_size(users) + 1, sizeof(*changes));
    if (h->o.events)
        st = record_changes(h, c, t, prev, users, now, changes, &nchanges, err);
    const char *type = webhook_type(prev, t->probe.status);
    if (st == TC_OK && type && h->o.notify)
        st = queue_alerts(h, c, t, users, type, now, err);
out:
    if (st == TC_OK)
        st = tc_db_commit(c, err);
    else
        tc_db_rollback(c);
    publish(h, changes, nchanges, st == TC_OK);
    free(changes);
    json_decref(users);
    return st;
}

/* ---- a round ------------------------------------------------------------------ */

static tc_status load_targets(tc_health *h, json_t **rows, target **out, size_t *n, tc_err *err)
{
    tc_db_conn *c = tc_db_acquire(h->o.db);
    tc_status st = tc_repo_health_targets(c, rows, err);
    tc_db_release(c);
    if (st != TC_OK)
        return st;
    *n = 0;
    *out = tc_calloc(json_array_size(*rows) + 1, sizeof(**out));
    size_t i;
    const json_t *r;
    json_array_foreach(*rows, i, r) {
        target *t = &(*out)[*n];
        t->id = json_string_value(json_object_get(r, "id"));
        t->slug = json_string_value(json_object_get(r, "slug"));
        t->name = json_string_value(json_object_get(r, "name"));
        tc_health_probe_plan(json_object_get(r, "definition"), &t->probe);
        if (t->probe.kind == TC_PROBE_MCP_CLIENT && t->probe.stdio && !h->o.allow_stdio)
            t->probe.kind = TC_PROBE_NONE; /* cannot be used either: nothing to report */
        t->probe.latency_ms = -1;
        if (t->probe.kind != TC_PROBE_NONE)
            (*n)++;
    }
    return TC_OK;
}

static tc_status run_round(tc_health *h, int *probed, tc_err *err)
{
    json_t *rows = NULL;
    target *ts = NULL;
    size_t n = 0;
    tc_status st = load_targets(h, &rows, &ts, &n, err);
    if (st != TC_OK)
        return st;
    tc_health_probe *probes = tc_calloc(n + 1, sizeof(*probes));
    for (size_t i = 0; i < n; i++)
        probes[i] = ts[i].probe;
    /* stdio / legacy SSE servers on their own threads, curl probes here */
    tc_health_mcp_run *mr = tc_health_mcp_probes_start(probes, n, h->o.timeout_ms, h->o.degraded_ms,
                                                       h->o.allow_private, h->o.allow_stdio);
    tc_health_probe_run(probes, n, h->o.timeout_ms, h->o.degraded_ms, h->o.allow_private);
    tc_health_mcp_probes_wait(mr);
    int64_t now = tc_now_ms();
    tc_db_conn *c = tc_db_acquire(h->o.db);
    bool queued = false;
    for (size_t i = 0; i < n; i++) {
        ts[i].probe = probes[i];
        tc_err e;
        tc_err_clear(&e);
        if (record_one(h, c, &ts[i], now, &e) != TC_OK)
            tc_log(TC_LOG_ERROR, "cannot store a health result", "connector", ts[i].slug, "error",
                   e.message, NULL);
        queued = true;
    }
    tc_err e;
    tc_err_clear(&e);
    int64_t deleted = 0;
    if (tc_repo_health_prune(c, now - h->o.retention_ms, &deleted, &e) != TC_OK)
        tc_log(TC_LOG_WARN, "cannot prune health history", "error", e.message, NULL);
    tc_db_release(c);
    if (queued)
        tc_notify_wake(h->o.notify);
    if (probed)
        *probed = (int)n;
    free(probes);
    free(ts);
    json_decref(rows);
    return TC_OK;
}

tc_status tc_health_check_now(tc_health *h, int *probed, tc_err *err)
{
    pthread_mutex_lock(&h->round_mu);
    tc_status st = run_round(h, probed, err);
    pthread_mutex_unlock(&h->round_mu);
    return st;
}

/* ---- the thread ---------------------------------------------------------------- */

static void wait_ms(tc_health *h, int64_t ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t ns = ts.tv_nsec + (ms % 1000) * 1000000;
    ts.tv_sec += ms / 1000 + ns / 1000000000;
    ts.tv_nsec = ns % 1000000000;
    pthread_mutex_lock(&h->mu);
    if (!h->stop)
        pthread_cond_timedwait(&h->cv, &h->mu, &ts);
    pthread_mutex_unlock(&h->mu);
}

static bool stopping(tc_health *h)
{
    pthread_mutex_lock(&h->mu);
    bool s = h->stop;
    pthread_mutex_unlock(&h->mu);
    return s;
}

static void *checker_main(void *arg)
{
    tc_health *h = arg;
    /* The first round waits one interval too: the modules started after
     * this one (webhook outbox hook, ...) are in place by then. */
    wait_ms(h, h->o.interval_ms);
    while (!stopping(h)) {
        int64_t t0 = tc_mono_ns();
        tc_err err;
        tc_err_clear(&err);
        int probed = 0;
        if (tc_health_check_now(h, &probed, &err) != TC_OK)
            tc_log(TC_LOG_WARN, "health round failed", "error", err.message, NULL);
        int64_t spent = (tc_mono_ns() - t0) / 1000000;
        wait_ms(h, h->o.interval_ms > spent ? h->o.interval_ms - spent : 1);
    }
    return NULL;
}

tc_status tc_health_start(const tc_health_opts *opts, tc_health **out, tc_err *err)
{
    tc_health *h = tc_calloc(1, sizeof(*h));
    h->o = *opts;
    if (h->o.timeout_ms <= 0)
        h->o.timeout_ms = 10000;
    if (h->o.degraded_ms <= 0)
        h->o.degraded_ms = 3000;
    if (h->o.retention_ms <= 0)
        h->o.retention_ms = 7LL * 86400000;
    if (h->o.cooldown_ms <= 0)
        h->o.cooldown_ms = 900000;
    pthread_mutex_init(&h->mu, NULL);
    pthread_mutex_init(&h->round_mu, NULL);
    pthread_cond_init(&h->cv, NULL);
    if (h->o.interval_ms > 0) {
        h->running = pthread_create(&h->thread, NULL, checker_main, h) == 0;
        if (!h->running) {
            tc_health_stop(h);
            return tc_failf(err, TC_INTERNAL, NULL, "cannot start the health checker thread");
        }
    }
    *out = h;
    return TC_OK;
}

void tc_health_stop(tc_health *h)
{
    if (!h)
        return;
    pthread_mutex_lock(&h->mu);
    h->stop = true;
    pthread_cond_broadcast(&h->cv);
    pthread_mutex_unlock(&h->mu);
    if (h->running)
        pthread_join(h->thread, NULL);
    pthread_mutex_destroy(&h->mu);
    pthread_mutex_destroy(&h->round_mu);
    pthread_cond_destroy(&h->cv);
    free(h);
}
