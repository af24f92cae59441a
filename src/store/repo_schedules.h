/* store: cron schedules (scheduler_jobs) and their runs.
 *
 * A schedule in API shape (every function returning *row uses it):
 *   {id, name, cron, timezone, connector, tool, connection_id, arguments,
 *    enabled, overlap, misfire, max_failures, consecutive_failures,
 *    next_run_at, last_run_at, last_job_id, paused_reason, created_at,
 *    updated_at}
 * (times RFC 3339 or null, arguments parsed JSON, enabled boolean).
 *
 * Functions taking user_id scope their SQL to that user: someone else's
 * schedule is TC_NOT_FOUND exactly like a missing one. The engine's
 * functions (due, advance, outcome, auto-pause) act for the system and take
 * no user. next_run_at is the persisted due time: the engine advances it in
 * the same transaction that enqueues the due run, which together with the
 * unique index pipeline_jobs (schedule_id, scheduled_for) makes each due time
 * fire at most once, across restarts and instances. */
#ifndef TC_STORE_REPO_SCHEDULES_H
#define TC_STORE_REPO_SCHEDULES_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "store/db.h"

#define TC_REPO_SCHEDULES_LIST_MAX 200
#define TC_REPO_SCHEDULE_NAME_MAX 200
#define TC_REPO_SCHEDULE_REASON_MAX 500

/* One schedule as the service and the engine handle it. Strings are
 * bounded copies; arguments is owned (tc_repo_schedule_clear). */
typedef struct tc_repo_schedule {
    char id[37];
    char user_id[37];
    char name[TC_REPO_SCHEDULE_NAME_MAX + 1];
    char cron[257];
    char timezone[65];
    char connector_id[37]; /* connectors.id ("" = unknown) */
    char connector[65];    /* slug */
    char tool[65];
    char connection_id[37]; /* "" = none */
    json_t *arguments;      /* owned; NULL = {} */
    bool enabled;
    char overlap[8];        /* skip | allow */
    char misfire[10];       /* run_once | skip */
    int64_t max_failures;   /* 0 = never pause */
    int64_t consecutive_failures;
    int64_t next_run_at;    /* ms; 0 = not scheduled (NULL) */
    int64_t last_run_at;    /* ms; 0 = never */
    char last_job_id[37];
    char paused_reason[TC_REPO_SCHEDULE_REASON_MAX + 1];
    bool running;           /* due(): the last job is still queued or running */
} tc_repo_schedule;
void tc_repo_schedule_clear(tc_repo_schedule *s);

/* Inserts s (all fields but the counters and last_*). */
tc_status tc_repo_schedule_insert(tc_db_conn *c, const tc_repo_schedule *s, int64_t now,
                                  json_t **row, tc_err *err);
/* Writes every field of s except id/user_id/last_* over the user's
 * schedule s->id. TC_NOT_FOUND when it is not theirs. */
tc_status tc_repo_schedule_update(tc_db_conn *c, const tc_repo_schedule *s, int64_t now,
                                  json_t **row, tc_err *err);
/* The user's schedule into out (cleared first). On PostgreSQL the row is
 * locked FOR UPDATE (until the caller's transaction ends). */
tc_status tc_repo_schedule_load(tc_db_conn *c, const char *user_id, const char *id,
                                tc_repo_schedule *out, tc_err *err);
tc_status tc_repo_schedule_get(tc_db_conn *c, const char *user_id, const char *id, json_t **row,
                               tc_err *err);
tc_status tc_repo_schedule_delete(tc_db_conn *c, const char *user_id, const char *id,
                                  tc_err *err);
/* Newest first (created_at, id). *next_cursor (caller frees) NULL on the
 * last page; TC_BAD_REQUEST (field cursor) for a cursor we never made. */
tc_status tc_repo_schedule_list(tc_db_conn *c, const char *user_id, const char *cursor,
                                int64_t limit, json_t **items, char **next_cursor, tc_err *err);
tc_status tc_repo_schedule_count(tc_db_conn *c, const char *user_id, int64_t *n, tc_err *err);

/* The schedule's jobs, newest first (queued_at, id), each in the job API
 * shape of repo_jobs.h. TC_NOT_FOUND when the schedule is not the user's. */
tc_status tc_repo_schedule_runs(tc_db_conn *c, const char *user_id, const char *id,
                                const char *cursor, int64_t limit, json_t **items,
                                char **next_cursor, tc_err *err);

/* ---- the engine ----------------------------------------------------------- */
/* Up to max enabled schedules with next_run_at <= now, earliest first, into
 * out[0..*n) (caller clears each), with running set from the last job's
 * status. On PostgreSQL the rows are locked (FOR UPDATE SKIP LOCKED), so call
 * it inside the transaction that advances them. */
tc_status tc_repo_schedules_due(tc_db_conn *c, int64_t now, size_t max, tc_repo_schedule *out,
                                size_t *n, tc_err *err);
/* Earliest next_run_at of the enabled schedules, 0 when none. */
tc_status tc_repo_schedules_next_due(tc_db_conn *c, int64_t *next, tc_err *err);
/* Moves the schedule from due time `expected` to `next` (0 = NULL: never
 * again); with a run, also last_run_at = ran_at and last_job_id = job_id
 * (ran_at 0: keep them). TC_DECLINED when the row changed meanwhile
 * (next_run_at no longer expected, or paused): nothing written. */
tc_status tc_repo_schedule_advance(tc_db_conn *c, const char *id, int64_t expected, int64_t next,
                                   int64_t ran_at, const char *job_id, int64_t now, tc_err *err);
/* One schedule's move in tc_repo_schedules_advance. */
typedef struct tc_repo_schedule_step {
    const char *id;
    int64_t expected;   /* next_run_at as read with the due row */
    int64_t next;       /* 0: never again (NULL) */
    int64_t ran_at;     /* 0: no run (keep last_run_at, last_job_id) */
    const char *job_id; /* the run's job (with ran_at) */
} tc_repo_schedule_step;
/* tc_repo_schedule_advance for v[0..n) in a few statements (one UPDATE per
 * 64 schedules); a row that changed meanwhile is left alone. *advanced gets
 * the number of schedules moved. */
tc_status tc_repo_schedules_advance(tc_db_conn *c, const tc_repo_schedule_step *v, size_t n,
                                    int64_t now, size_t *advanced, tc_err *err);
/* A run of the schedule started by hand: last_run_at, last_job_id. */
tc_status tc_repo_schedule_ran(tc_db_conn *c, const char *user_id, const char *id,
                               int64_t ran_at, const char *job_id, int64_t now, tc_err *err);

typedef struct tc_repo_schedule_outcome {
    char user_id[37];
    char name[TC_REPO_SCHEDULE_NAME_MAX + 1];
    bool enabled;
    int64_t consecutive_failures; /* after this outcome */
    int64_t max_failures;
} tc_repo_schedule_outcome;
/* Counts a finished run: failed -> consecutive_failures + 1, else 0.
 * TC_NOT_FOUND when the schedule is gone. */
tc_status tc_repo_schedule_outcome_add(tc_db_conn *c, const char *id, bool failed, int64_t now,
                                       tc_repo_schedule_outcome *out, tc_err *err);
/* Pauses the schedule itself: enabled 0, next_run_at NULL, paused_reason.
 * TC_DECLINED when it was not enabled (paused already). */
tc_status tc_repo_schedule_auto_pause(tc_db_conn *c, const char *id, const char *reason,
                                      int64_t now, json_t **row, tc_err *err);

#endif
