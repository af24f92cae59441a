/* scheduler internals shared by engine.c and service.c. */
#ifndef TC_SCHED_ENGINE_INT_H
#define TC_SCHED_ENGINE_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "jsonschema/jsonschema.h"
#include "scheduler/scheduler.h"
#include "store/db.h"

/* A finished run waiting for the engine thread. */
typedef struct tc_sched__done {
    char schedule_id[37];
    char job_id[37];
    char user_id[37];
    bool failed;
    char message[200]; /* the job's error message (failed runs) */
} tc_sched__done;

#define TC_SCHED__DONE_MAX 65536 /* queued finished runs; more are dropped (logged) */

struct tc_sched {
    tc_sched_options o;
    tc_jsonschema_cache *schemas;
    int sink; /* slot of the job observer (engine.c) */

    pthread_t thread;
    bool started;
    pthread_mutex_t mu; /* stop, woken, done queue */
    pthread_cond_t cv;
    bool stop, woken;
    tc_sched__done *done;
    size_t ndone, capdone;
    uint64_t dropped;

    pthread_mutex_t tick_mu; /* one tick at a time; guards the scratch arrays */
    struct tc_repo_schedule *due;
    tc_sched_entry *entries;
    tc_sched_fire *fires;
    tc_cron *crons;
    tc_sched_run *runs;               /* the batch's runs to enqueue */
    tc_sched_enqueued *results;       /* ... and what became of them */
    struct tc_repo_schedule_step *steps; /* the batch's advances */

    pthread_mutex_t stats_mu;
    tc_sched_stats stats;
};

/* The scheduler's clock: wall time plus the configured offset (tests). */
int64_t tc_sched__now(const tc_sched *s);

/* Validated, ready-to-use cron and zone of a stored schedule. */
tc_status tc_sched__compile(const char *cron, const char *zone, tc_cron *c, const tc_tz **tz,
                            tc_cron_error *ce, tc_err *err);

#endif
