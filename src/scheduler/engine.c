/* engine: the scheduler's thread. Every tick it takes the due schedules
 * from the database in batches, decides with tc_sched_tick (tick.c) which
 * of them run, are skipped (overlap, misfire) or ended, and in ONE
 * transaction per batch enqueues the runs through the enqueue hook and
 * advances next_run_at. It never runs a tool itself.
 *
 * It also keeps the books of finished runs (the job observer queues them):
 * a failure adds one to consecutive_failures, a success resets it, and at
 * max_failures the schedule pauses itself with an event on the failed job
 * and the schedule.failed webhook.
 *
 * Threads: the engine thread; observer calls come from job workers. Locks:
 * sinks_mu -> s->mu; tick_mu and stats_mu are taken alone. None is held
 * across a database call except tick_mu (it only serialises ticks). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "events/events.h"
#include "scheduler/engine_int.h"
#include "store/repo_jobs.h"
#include "store/repo_schedules.h"

#define TICK_MS_DEFAULT 250
#define GRACE_MS_DEFAULT 60000
#define BATCH_DEFAULT 256
#define BATCH_MAX 4096
#define PER_USER_DEFAULT 1000
#define WAIT_LOCKED_MS 20 /* rows still due (locked by another instance) */
#define BATCHES_MAX 100000
/* PostgreSQL advisory lock key of the tick ("tcsched1"). */
#define TICK_LOCK_KEY INT64_C(0x7463736368656431)

int64_t tc_sched__now(const tc_sched *s)
{
    return tc_now_ms() + s->o.clock_offset_ms;
}

tc_status tc_sched__compile(const char *cron, const char *zone, tc_cron *c, const tc_tz **tz,
                            tc_cron_error *ce, tc_err *err)
{
    if (tc_cron_parse(cron, c, ce) != TC_OK)
        return tc_failf(err, TC_VALIDATION, "cron", "%s", ce->message);
    tc_status st = tc_tz_load(zone, tz, err);
    if (st == TC_NOT_FOUND)
        st = tc_failf(err, TC_VALIDATION, "timezone",
                      "timezone \"%s\" is not a known IANA time zone (e.g. Europe/Berlin, UTC)",
                      zone);
    return st;
}

/* ---- changes published after a commit ------------------------------------ */

typedef struct notice {
    tc_change ch;
    json_t *paused; /* the schedule row when it paused itself */
    char reason[TC_REPO_SCHEDULE_REASON_MAX + 1];
} notice;

typedef struct notices {
    notice *v;
    size_t n, cap;
} notices;

static notice *notice_add(notices *ns)
{
    if (ns->n == ns->cap) {
        ns->cap = ns->cap ? ns->cap * 2 : 4;
        ns->v = tc_realloc(ns->v, ns->cap * sizeof(*ns->v));
    }
    notice *x = &ns->v[ns->n++];
    memset(x, 0, sizeof(*x));
    return x;
}

static void notices_clear(notices *ns)
{
    for (size_t i = 0; i < ns->n; i++) {
        tc_change_clear(&ns->v[i].ch);
        json_decref(ns->v[i].paused);
    }
    free(ns->v);
    memset(ns, 0, sizeof(*ns));
}

static void notices_publish(tc_sched *s, notices *ns)
{
    for (size_t i = 0; i < ns->n; i++) {
        notice *x = &ns->v[i];
        if (s->o.events)
            tc_events_publish(s->o.events, &x->ch);
        if (!x->paused)
            continue;
        pthread_mutex_lock(&s->stats_mu);
        s->stats.auto_paused++;
        pthread_mutex_unlock(&s->stats_mu);
        tc_log(TC_LOG_WARN, "schedule paused itself", "schedule_id",
               json_string_value(json_object_get(x->paused, "id")), "reason", x->reason, NULL);
        if (s->o.paused_done)
            s->o.paused_done(s->o.paused_ctx);
    }
}

/* ---- failures and auto-pause ---------------------------------------------- */

typedef struct failure {
    const char *schedule_id;
    const char *job_id;  /* NULL: the run could not start */
    const char *message; /* what went wrong */
} failure;

/* The event row: stored on the failed job, or (no job) only streamed. */
static tc_status failure_event(tc_db_conn *c, const char *user, const failure *f,
                               const char *reason, const json_t *data, int64_t now,
                               json_t **row, tc_err *err)
{
    if (!f->job_id) {
        char ts[32];
        tc_time_format(now, ts);
        *row = json_pack("{s:n, s:n, s:s, s:s, s:O, s:s}", "id", "job_id", "level", "error",
                         "message", reason, "data", data, "created_at", ts);
        return TC_OK;
    }
    char *text = json_dumps(data, JSON_COMPACT);
    tc_status st = tc_repo_event_insert(c, user, f->job_id, "error", reason, text, now, row, err);
    free(text);
    return st;
}

/* Records the failure (event + schedule.failed webhook) inside the
 * transaction; paused is the schedule row when it paused itself. */
static tc_status record_failure(tc_sched *s, tc_db_conn *c, const tc_repo_schedule_outcome *oc,
                                const failure *f, const char *reason, json_t *paused,
                                notices *ns, tc_err *err)
{
    int64_t now = tc_now_ms();
    json_t *data = json_pack("{s:s, s:s, s:s?, s:s, s:b, s:I, s:I}", "schedule_id",
                             f->schedule_id, "name", oc->name, "job_id", f->job_id, "reason",
                             reason, "paused", paused != NULL, "consecutive_failures",
                             (json_int_t)oc->consecutive_failures, "max_failures",
                             (json_int_t)oc->max_failures);
    if (paused)
        json_object_set(data, "schedule", paused);
    json_t *row = NULL;
    tc_status st = failure_event(c, oc->user_id, f, reason, data, now, &row, err);
    if (st != TC_OK) {
        json_decref(data);
        json_decref(paused);
        return st;
    }
    if (paused && s->o.on_paused)
        st = s->o.on_paused(s->o.paused_ctx, c, oc->user_id, paused, reason, err);
    notice *x = notice_add(ns);
    tc_change_init(&x->ch, oc->user_id, "event", row);
    x->ch.webhook_type = "schedule.failed";
    x->ch.webhook_data = data;
    x->paused = paused;
    snprintf(x->reason, sizeof(x->reason), "%s", reason);
    if (st != TC_OK)
        return st;
    return s->o.events ? tc_events_record(s->o.events, c, &x->ch, err) : TC_OK;
}

/* Counts one outcome of the schedule inside the caller's transaction. A
 * failure at the limit pauses the schedule; a run that could not start is
 * announced even below the limit (a failed job has its job.failed). */
static tc_status count_outcome(tc_sched *s, tc_db_conn *c, const failure *f, bool failed,
                               notices *ns, tc_err *err)
{
    tc_repo_schedule_outcome oc;
    int64_t now = tc_now_ms();
    tc_status st = tc_repo_schedule_outcome_add(c, f->schedule_id, failed, now, &oc, err);
    if (st != TC_OK || !failed)
        return st;
    bool pause = oc.enabled && oc.max_failures > 0 && oc.consecutive_failures >= oc.max_failures;
    if (!pause && f->job_id)
        return TC_OK;
    char reason[TC_REPO_SCHEDULE_REASON_MAX + 1];
    if (pause)
        snprintf(reason, sizeof(reason), "paused after %" PRId64 " consecutive failed runs; last: %.400s",
                 oc.consecutive_failures, f->message);
    else
        snprintf(reason, sizeof(reason), "a scheduled run could not start: %.400s", f->message);
    json_t *row = NULL;
    if (pause) {
        st = tc_repo_schedule_auto_pause(c, f->schedule_id, reason, now, &row, err);
        if (st == TC_DECLINED)
            st = TC_OK; /* paused meanwhile */
        if (st != TC_OK)
            return st;
    }
    return record_failure(s, c, &oc, f, reason, row, ns, err);
}

/* ---- finished runs (observer -> queue -> engine thread) ------------------- */

#define SINKS_MAX 8
static pthread_mutex_t sinks_mu = PTHREAD_MUTEX_INITIALIZER;
/* Observers can't be removed from tc_events and job workers may finish jobs
 * after the scheduler stopped, so observers point at these static slots,
 * which tc_sched_free empties. Slots are never reused. */
static tc_sched *sinks[SINKS_MAX];
static int nsinks;

static void observer(void *ctx, const char *user_id, const char *kind, const json_t *row)
{
    tc_sched **slot = ctx;
    if (strcmp(kind, "job") != 0)
        return;
    pthread_mutex_lock(&sinks_mu);
    if (*slot)
        tc_sched_job_changed(*slot, user_id, row);
    pthread_mutex_unlock(&sinks_mu);
}

void tc_sched_job_changed(tc_sched *s, const char *user_id, const json_t *job)
{
    const char *sid = json_string_value(json_object_get(job, "schedule_id"));
    const char *status = json_string_value(json_object_get(job, "status"));
    const char *jid = json_string_value(json_object_get(job, "id"));
    if (!sid || !status || !jid)
        return;
    bool failed = !strcmp(status, "failed");
    if (!failed && strcmp(status, "succeeded") != 0)
        return; /* queued, running, canceled: not an outcome */
    tc_sched__done d;
    memset(&d, 0, sizeof(d));
    snprintf(d.schedule_id, sizeof(d.schedule_id), "%s", sid);
    snprintf(d.job_id, sizeof(d.job_id), "%s", jid);
    snprintf(d.user_id, sizeof(d.user_id), "%s", user_id);
    d.failed = failed;
    const char *msg = json_string_value(json_object_get(json_object_get(job, "error"), "message"));
    snprintf(d.message, sizeof(d.message), "%s", msg ? msg : "the run failed");
    pthread_mutex_lock(&s->mu);
    if (s->ndone == s->capdone && s->capdone < TC_SCHED__DONE_MAX) {
        s->capdone = s->capdone ? s->capdone * 2 : 64;
        s->done = tc_realloc(s->done, s->capdone * sizeof(*s->done));
    }
    if (s->ndone < s->capdone)
        s->done[s->ndone++] = d;
    else
        s->dropped++;
    pthread_mutex_unlock(&s->mu);
}

#define DONE_BATCH 256

/* Counts finished runs d[0..n) in one transaction. */
static tc_status process_done(tc_sched *s, const tc_sched__done *d, size_t n, tc_err *err)
{
    notices ns = {0};
    tc_db_conn *c = tc_db_acquire(s->o.db);
    tc_status st = tc_db_begin(c, err);
    for (size_t i = 0; st == TC_OK && i < n; i++) {
        failure f = {.schedule_id = d[i].schedule_id, .job_id = d[i].job_id, .message = d[i].message};
        st = count_outcome(s, c, &f, d[i].failed, &ns, err);
        if (st == TC_NOT_FOUND && n == 1)
            st = TC_OK; /* the schedule was deleted meanwhile */
    }
    if (st == TC_OK)
        st = tc_db_commit(c, err);
    else
        tc_db_rollback(c);
    tc_db_release(c);
    if (st == TC_OK)
        notices_publish(s, &ns);
    notices_clear(&ns);
    return st;
}

/* Batches of DONE_BATCH per transaction; a batch that fails (a schedule
 * deleted meanwhile, a database fault) is retried one run at a time. */
static void process_all(tc_sched *s, const tc_sched__done *v, size_t n)
{
    for (size_t i = 0; i < n; i += DONE_BATCH) {
        size_t k = n - i < DONE_BATCH ? n - i : DONE_BATCH;
        tc_err err;
        tc_err_clear(&err);
        if (process_done(s, v + i, k, &err) == TC_OK)
            continue;
        for (size_t j = i; j < i + k; j++) {
            tc_err_clear(&err);
            if (process_done(s, v + j, 1, &err) != TC_OK)
                tc_log(TC_LOG_ERROR, "schedule outcome not recorded", "schedule_id",
                       v[j].schedule_id, "job_id", v[j].job_id, "error", err.message, NULL);
        }
    }
}

void tc_sched_drain(tc_sched *s)
{
    pthread_mutex_lock(&s->mu);
    tc_sched__done *v = s->done;
    size_t n = s->ndone;
    uint64_t dropped = s->dropped;
    s->done = NULL;
    s->ndone = s->capdone = 0;
    s->dropped = 0;
    pthread_mutex_unlock(&s->mu);
    if (dropped)
        tc_log(TC_LOG_WARN, "scheduler: finished runs dropped (queue full); failure counts may be low",
               NULL);
    process_all(s, v, n);
    free(v);
}

/* ---- the tick -------------------------------------------------------------- */

static bool is_fault(tc_status st)
{
    return st == TC_DB || st == TC_UNAVAILABLE || st == TC_TIMEOUT || st == TC_INTERNAL ||
           st == TC_IO;
}

/* PostgreSQL: only one instance ticks at a time (the lock ends with the
 * transaction). SQLite: BEGIN IMMEDIATE already excludes other writers. */
static tc_status tick_lock(tc_db_conn *c, tc_sched_tick_stats *stats, tc_err *err)
{
    if (tc_db_conn_kind(c) != TC_DB_POSTGRES)
        return TC_OK;
    const tc_dbv p[] = {TC_DBV_I64(TICK_LOCK_KEY)};
    tc_db_rows *r = NULL;
    tc_status st = tc_db_query(c, "SELECT pg_try_advisory_xact_lock($1)", p, 1, &r, err);
    if (st != TC_OK)
        return st;
    bool got = tc_db_rows_next(r) && tc_db_rows_int(r, 0) != 0;
    tc_db_rows_free(r);
    if (got)
        return TC_OK;
    stats->locked_out = true;
    return TC_DECLINED;
}

typedef struct batch_ctx {
    tc_sched *s;
    tc_db_conn *c;
    tc_sched_tick_stats *stats;
    notices ns;
    size_t enqueued;
    size_t advanced;
} batch_ctx;

static void note_late(tc_sched *s, int64_t due_ms)
{
    int64_t late = tc_sched__now(s) - due_ms;
    pthread_mutex_lock(&s->stats_mu);
    if (late > s->stats.max_late_ms)
        s->stats.max_late_ms = late;
    pthread_mutex_unlock(&s->stats_mu);
}

/* ---- enqueueing a batch's runs ------------------------------------------------ */

static tc_status sql(tc_db_conn *c, const char *q, tc_err *err)
{
    return tc_db_exec(c, q, NULL, 0, NULL, err);
}

/* Rolls back to the savepoint and ends it (the transaction goes on). */
static tc_status undo_to(tc_db_conn *c, const char *name, tc_err *err)
{
    char q[96];
    snprintf(q, sizeof(q), "ROLLBACK TO SAVEPOINT %s", name);
    tc_status st = sql(c, q, err);
    snprintf(q, sizeof(q), "RELEASE SAVEPOINT %s", name);
    return st == TC_OK ? sql(c, q, err) : st;
}

/* One run through the single-run hook, in its own savepoint: a database
 * error undoes only this run's rows (and, on PostgreSQL, keeps the
 * transaction usable for the others). */
static tc_status enqueue_one(batch_ctx *b, const tc_sched_run *run, tc_sched_enqueued *r,
                             tc_err *err)
{
    tc_sched *s = b->s;
    tc_status st = sql(b->c, "SAVEPOINT tc_sched_run", err);
    if (st != TC_OK)
        return st;
    tc_err_clear(&r->err);
    r->st = s->o.enqueue(s->o.exec_ctx, b->c, run, r->job_id, &r->err);
    if (is_fault(r->st))
        return undo_to(b->c, "tc_sched_run", err);
    return sql(b->c, "RELEASE SAVEPOINT tc_sched_run", err);
}

/* Enqueues s->runs[0..n) into s->results: the batch hook in one call, or
 * (no batch hook, or it failed on the database) one run at a time. Only a
 * failing savepoint statement is returned. */
static tc_status enqueue_runs(batch_ctx *b, size_t n, tc_err *err)
{
    tc_sched *s = b->s;
    if (!n)
        return TC_OK;
    if (s->o.enqueue_batch) {
        tc_status st = sql(b->c, "SAVEPOINT tc_sched_batch", err);
        if (st != TC_OK)
            return st;
        tc_err e;
        tc_err_clear(&e);
        st = s->o.enqueue_batch(s->o.exec_ctx, b->c, s->runs, n, s->results, &e);
        if (st == TC_OK)
            return sql(b->c, "RELEASE SAVEPOINT tc_sched_batch", err);
        tc_log(TC_LOG_WARN, "scheduler: batch enqueue failed; enqueueing one run at a time",
               "error", e.message, NULL);
        st = undo_to(b->c, "tc_sched_batch", err);
        if (st != TC_OK)
            return st;
    }
    for (size_t i = 0; i < n; i++) {
        tc_status st = enqueue_one(b, &s->runs[i], &s->results[i], err);
        if (st != TC_OK)
            return st;
    }
    return TC_OK;
}

/* What became of a run: counted, and its advance added (with the job when
 * one was inserted). A run refused for good is counted as a failure; a run
 * whose own enqueue hit a database error is left due (retried next tick). */
static tc_status settle_run(batch_ctx *b, const tc_repo_schedule *d, const tc_sched_fire *f,
                            const tc_sched_enqueued *r, bool *advance, tc_err *err)
{
    tc_sched *s = b->s;
    *advance = true;
    if (r->st == TC_OK) {
        b->stats->enqueued++;
        b->stats->late += f->late;
        b->enqueued++;
        note_late(s, f->due_ms);
        return TC_OK;
    }
    if (r->st == TC_CONFLICT && !strcmp(r->err.field, "scheduled_for")) {
        b->stats->duplicates++; /* fired already (another instance, or before a crash) */
        return TC_OK;
    }
    if (is_fault(r->st)) {
        *advance = false;
        b->stats->faulted++;
        tc_log(TC_LOG_ERROR, "scheduled run not enqueued (database error); retried next tick",
               "schedule_id", d->id, "error", r->err.message, NULL);
        return TC_OK;
    }
    b->stats->failed_to_start++;
    tc_log(TC_LOG_WARN, "scheduled run could not start", "schedule_id", d->id, "error",
           r->err.message, NULL);
    failure fl = {.schedule_id = d->id, .job_id = NULL, .message = r->err.message};
    return count_outcome(s, b->c, &fl, true, &b->ns, err);
}

/* The fires of the batch: runs enqueued together, then every fire counted
 * and every schedule advanced in a few statements. */
static tc_status fire_all(batch_ctx *b, size_t nf, tc_err *err)
{
    tc_sched *s = b->s;
    size_t nr = 0;
    for (size_t i = 0; i < nf; i++) {
        const tc_sched_fire *f = &s->fires[i];
        if (f->kind != TC_FIRE_RUN)
            continue;
        const tc_repo_schedule *d = &s->due[f->index];
        s->runs[nr++] = (tc_sched_run){.user_id = d->user_id,
                                       .connector = d->connector,
                                       .tool = d->tool,
                                       .connection_id = d->connection_id[0] ? d->connection_id : NULL,
                                       .arguments = d->arguments,
                                       .schedule_id = d->id,
                                       .scheduled_for = f->due_ms};
    }
    tc_status st = enqueue_runs(b, nr, err);
    size_t ns = 0, ri = 0, faulted = b->stats->faulted;
    for (size_t i = 0; st == TC_OK && i < nf; i++) {
        const tc_sched_fire *f = &s->fires[i];
        const tc_repo_schedule *d = &s->due[f->index];
        const tc_sched_enqueued *r = f->kind == TC_FIRE_RUN ? &s->results[ri++] : NULL;
        bool advance = true;
        if (r)
            st = settle_run(b, d, f, r, &advance, err);
        else if (f->kind == TC_FIRE_SKIPPED_OVERLAP)
            b->stats->skipped_overlap++;
        else {
            b->stats->skipped_misfire++;
            tc_log(TC_LOG_INFO, "scheduled run skipped (misfire)", "schedule_id", d->id, NULL);
        }
        if (st != TC_OK || !advance)
            continue;
        int64_t next = s->entries[f->index].next_due_ms;
        bool ran = r && r->st == TC_OK;
        s->steps[ns++] = (tc_repo_schedule_step){.id = d->id,
                                                 .expected = d->next_run_at,
                                                 .next = next == INT64_MAX ? 0 : next,
                                                 .ran_at = ran ? f->due_ms : 0,
                                                 .job_id = ran ? r->job_id : NULL};
    }
    if (st == TC_OK && nr && b->stats->faulted - faulted == nr) {
        *err = s->results[0].err; /* nothing could be enqueued: roll back, retry */
        return s->results[0].st;
    }
    size_t moved = 0;
    if (st == TC_OK)
        st = tc_repo_schedules_advance(b->c, s->steps, ns, tc_now_ms(), &moved, err);
    b->advanced += moved;
    return st;
}

/* A stored schedule whose cron or zone no longer loads (tzdata changed):
 * it pauses itself instead of blocking the queue. */
static tc_status broken(batch_ctx *b, const tc_repo_schedule *d, const tc_err *why, tc_err *err)
{
    char reason[TC_REPO_SCHEDULE_REASON_MAX + 1];
    snprintf(reason, sizeof(reason), "paused: the schedule can no longer be computed: %.400s",
             why->message);
    json_t *row = NULL;
    tc_status st = tc_repo_schedule_auto_pause(b->c, d->id, reason, tc_now_ms(), &row, err);
    if (st != TC_OK)
        return st == TC_DECLINED ? TC_OK : st;
    b->advanced++;
    tc_repo_schedule_outcome oc = {.enabled = false, .max_failures = d->max_failures,
                                   .consecutive_failures = d->consecutive_failures};
    snprintf(oc.user_id, sizeof(oc.user_id), "%s", d->user_id);
    snprintf(oc.name, sizeof(oc.name), "%s", d->name);
    failure fl = {.schedule_id = d->id, .job_id = NULL, .message = why->message};
    return record_failure(b->s, b->c, &oc, &fl, reason, row, &b->ns, err);
}

/* The cron and zone of due row i; the previous row's when they are the
 * same text (schedules made from one template), else compiled. */
static bool compile_due(tc_sched *s, size_t i, const tc_tz **tz, tc_cron_error *ce, tc_err *why)
{
    const tc_repo_schedule *d = &s->due[i];
    if (i > 0 && s->entries[i - 1].enabled && !strcmp(d->cron, s->due[i - 1].cron) &&
        !strcmp(d->timezone, s->due[i - 1].timezone)) {
        s->crons[i] = s->crons[i - 1];
        *tz = s->entries[i - 1].tz;
        return true;
    }
    return tc_sched__compile(d->cron, d->timezone, &s->crons[i], tz, ce, why) == TC_OK;
}

static tc_status fire_batch(batch_ctx *b, int64_t now, size_t n, tc_err *err)
{
    tc_sched *s = b->s;
    for (size_t i = 0; i < n; i++) {
        const tc_repo_schedule *d = &s->due[i];
        const tc_tz *tz = NULL;
        tc_cron_error ce;
        tc_err why;
        tc_err_clear(&why);
        bool ok = compile_due(s, i, &tz, &ce, &why);
        s->entries[i] = (tc_sched_entry){.cron = &s->crons[i],
                                         .tz = tz,
                                         .next_due_ms = d->next_run_at,
                                         .overlap = !strcmp(d->overlap, "allow") ? TC_OVERLAP_ALLOW
                                                                                 : TC_OVERLAP_SKIP,
                                         .misfire = !strcmp(d->misfire, "skip") ? TC_MISFIRE_SKIP
                                                                               : TC_MISFIRE_RUN_ONCE,
                                         .enabled = ok,
                                         .running = d->running};
        tc_status st = ok ? TC_OK : broken(b, d, &why, err);
        if (st != TC_OK)
            return st;
    }
    size_t nf = tc_sched_tick(s->entries, n, now, s->o.misfire_grace_ms, s->fires, n);
    return fire_all(b, nf, err);
}

/* One transaction: lock (PostgreSQL), due rows, runs, advances. *ndue gets
 * the number of due rows found; TC_DECLINED when another instance ticks. */
static tc_status tick_batch(tc_sched *s, int64_t now, tc_sched_tick_stats *stats, size_t *ndue,
                            size_t *advanced, tc_err *err)
{
    batch_ctx b = {.s = s, .stats = stats};
    *ndue = 0;
    b.c = tc_db_acquire(s->o.db);
    tc_status st = tc_db_begin(b.c, err);
    if (st == TC_OK)
        st = tick_lock(b.c, stats, err);
    if (st == TC_OK)
        st = tc_repo_schedules_due(b.c, now, (size_t)s->o.batch, s->due, ndue, err);
    if (st == TC_OK && *ndue)
        st = fire_batch(&b, now, *ndue, err);
    if (st == TC_OK)
        st = tc_db_commit(b.c, err);
    else
        tc_db_rollback(b.c);
    tc_db_release(b.c);
    for (size_t i = 0; i < *ndue; i++)
        tc_repo_schedule_clear(&s->due[i]);
    if (st == TC_OK) {
        stats->batches++;
        stats->due += *ndue;
        notices_publish(s, &b.ns);
        if (b.enqueued && s->o.notify)
            s->o.notify(s->o.exec_ctx);
    }
    notices_clear(&b.ns);
    *advanced = b.advanced;
    return st;
}

static void stats_add(tc_sched *s, const tc_sched_tick_stats *t, int64_t us)
{
    pthread_mutex_lock(&s->stats_mu);
    s->stats.ticks++;
    s->stats.enqueued += t->enqueued;
    s->stats.skipped_overlap += t->skipped_overlap;
    s->stats.skipped_misfire += t->skipped_misfire;
    s->stats.failed_to_start += t->failed_to_start;
    if (t->due)
        s->stats.last_tick_us = us;
    pthread_mutex_unlock(&s->stats_mu);
}

tc_status tc_sched_tick_now(tc_sched *s, int64_t now_ms, tc_sched_tick_stats *stats,
                            tc_err *err)
{
    tc_sched_tick_stats local;
    if (!stats)
        stats = &local;
    memset(stats, 0, sizeof(*stats));
    tc_status st = TC_OK;
    pthread_mutex_lock(&s->tick_mu);
    int64_t t0 = tc_mono_ns();
    for (int i = 0; i < BATCHES_MAX; i++) {
        size_t n = 0, advanced = 0;
        st = tick_batch(s, now_ms, stats, &n, &advanced, err);
        /* A short batch was the last; a batch that moved nothing would be
         * found due again (rows changed under us): try next tick. */
        if (st != TC_OK || n < (size_t)s->o.batch || advanced == 0)
            break;
    }
    stats_add(s, stats, (tc_mono_ns() - t0) / 1000);
    pthread_mutex_unlock(&s->tick_mu);
    return st == TC_DECLINED ? TC_OK : st;
}

/* ---- the thread ------------------------------------------------------------- */

/* Ticks once; returns how long to sleep (until the next due time, at most
 * tick_ms). */
static int64_t engine_step(tc_sched *s, bool *failing)
{
    tc_err err;
    tc_err_clear(&err);
    tc_status st = tc_sched_tick_now(s, tc_sched__now(s), NULL, &err);
    if (st != TC_OK) {
        if (!*failing)
            tc_log(TC_LOG_ERROR, "scheduler tick failed; retrying", "error", err.message, NULL);
        *failing = true;
        return s->o.tick_ms;
    }
    if (*failing)
        tc_log(TC_LOG_INFO, "scheduler tick works again", NULL);
    *failing = false;
    int64_t next = 0;
    tc_db_conn *c = tc_db_acquire(s->o.db);
    st = tc_repo_schedules_next_due(c, &next, &err);
    tc_db_release(c);
    if (st != TC_OK || next == 0)
        return s->o.tick_ms;
    int64_t w = next - tc_sched__now(s);
    if (w < 0)
        return WAIT_LOCKED_MS;
    return w + 1 < s->o.tick_ms ? w + 1 : s->o.tick_ms; /* +1: wake at or after it */
}

static void sleep_ms(tc_sched *s, int64_t ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&s->mu);
    while (!s->stop && !s->woken)
        if (pthread_cond_timedwait(&s->cv, &s->mu, &ts) != 0)
            break;
    s->woken = false;
    pthread_mutex_unlock(&s->mu);
}

static bool stopping(tc_sched *s)
{
    pthread_mutex_lock(&s->mu);
    bool stop = s->stop;
    pthread_mutex_unlock(&s->mu);
    return stop;
}

static void *engine_main(void *arg)
{
    tc_sched *s = arg;
    bool failing = false;
    while (!stopping(s)) {
        /* Tick first: bookkeeping of finished runs never delays a due run
         * by more than one drain. */
        int64_t wait = s->o.engine ? engine_step(s, &failing) : s->o.tick_ms;
        int64_t t0 = tc_mono_ns();
        tc_sched_drain(s);
        wait -= (tc_mono_ns() - t0) / 1000000;
        sleep_ms(s, wait > 0 ? wait : 0);
    }
    tc_sched_drain(s);
    return NULL;
}

void tc_sched_wake(tc_sched *s)
{
    pthread_mutex_lock(&s->mu);
    s->woken = true;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

/* ---- lifecycle ----------------------------------------------------------------- */

static void set_defaults(tc_sched_options *o)
{
    if (o->tick_ms <= 0)
        o->tick_ms = TICK_MS_DEFAULT;
    if (o->misfire_grace_ms <= 0)
        o->misfire_grace_ms = GRACE_MS_DEFAULT;
    if (o->batch <= 0)
        o->batch = BATCH_DEFAULT;
    if (o->batch > BATCH_MAX)
        o->batch = BATCH_MAX;
    if (o->per_user_max <= 0)
        o->per_user_max = PER_USER_DEFAULT;
}

static int take_sink(tc_sched *s)
{
    pthread_mutex_lock(&sinks_mu);
    int i = nsinks < SINKS_MAX ? nsinks++ : -1;
    if (i >= 0)
        sinks[i] = s;
    pthread_mutex_unlock(&sinks_mu);
    return i;
}

tc_status tc_sched_new(const tc_sched_options *o, tc_sched **out, tc_err *err)
{
    *out = NULL;
    if (!o->db || !o->enqueue)
        return tc_failf(err, TC_INTERNAL, NULL, "scheduler: db and enqueue are required");
    tc_sched *s = tc_calloc(1, sizeof(*s));
    s->o = *o;
    set_defaults(&s->o);
    size_t b = (size_t)s->o.batch;
    s->due = tc_calloc(b, sizeof(*s->due));
    s->entries = tc_calloc(b, sizeof(*s->entries));
    s->fires = tc_calloc(b, sizeof(*s->fires));
    s->crons = tc_calloc(b, sizeof(*s->crons));
    s->runs = tc_calloc(b, sizeof(*s->runs));
    s->results = tc_calloc(b, sizeof(*s->results));
    s->steps = tc_calloc(b, sizeof(*s->steps));
    s->schemas = tc_jsonschema_cache_new(256);
    pthread_mutex_init(&s->mu, NULL);
    pthread_mutex_init(&s->tick_mu, NULL);
    pthread_mutex_init(&s->stats_mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->cv, &ca);
    pthread_condattr_destroy(&ca);
    s->sink = take_sink(s);
    if (s->sink < 0) {
        tc_sched_free(s);
        return tc_failf(err, TC_INTERNAL, NULL, "scheduler: too many instances in one process");
    }
    if (o->events)
        tc_events_add_observer(o->events, observer, &sinks[s->sink]);
    if (pthread_create(&s->thread, NULL, engine_main, s) != 0) {
        tc_sched_free(s);
        return tc_failf(err, TC_INTERNAL, NULL, "scheduler: cannot start its thread");
    }
    s->started = true;
    *out = s;
    return TC_OK;
}

void tc_sched_free(tc_sched *s)
{
    if (!s)
        return;
    if (s->sink >= 0) {
        pthread_mutex_lock(&sinks_mu);
        sinks[s->sink] = NULL;
        pthread_mutex_unlock(&sinks_mu);
    }
    if (s->started) {
        pthread_mutex_lock(&s->mu);
        s->stop = true;
        pthread_cond_signal(&s->cv);
        pthread_mutex_unlock(&s->mu);
        pthread_join(s->thread, NULL);
    }
    free(s->done);
    free(s->due);
    free(s->entries);
    free(s->fires);
    free(s->crons);
    free(s->runs);
    free(s->results);
    free(s->steps);
    tc_jsonschema_cache_free(s->schemas);
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->mu);
    pthread_mutex_destroy(&s->tick_mu);
    pthread_mutex_destroy(&s->stats_mu);
    free(s);
}

void tc_sched_stats_get(tc_sched *s, tc_sched_stats *out)
{
    pthread_mutex_lock(&s->stats_mu);
    *out = s->stats;
    pthread_mutex_unlock(&s->stats_mu);
}
