/* scheduler: cron expressions, IANA time zones and the next-run computation.
 *
 *   tc_cron   a parsed cron expression (5 or 6 fields, or an @macro)
 *   tc_tz     a time zone read from the system's TZif files (thread-safe,
 *             never touches the process TZ), cached for the process lifetime
 *   tc_cron_next  the next firing instant after a given one, in a zone,
 *             with the DST policy of docs/scheduler.md
 *
 * The engine that enqueues due runs as jobs builds on these; see
 * docs/scheduler.md. Times are ms since the Unix epoch (UTC). */
#ifndef TC_SCHEDULER_H
#define TC_SCHEDULER_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/core.h"

/* ---- cron expressions ----------------------------------------------------
 * Syntax (docs/scheduler.md has the full table):
 *   [second] minute hour day-of-month month day-of-week
 *   lists a,b  ranges a-b  steps a-b/n, a/n and * with /n, names JAN-DEC SUN-SAT
 *   (any case), 0 and 7 are Sunday, ? is * in day fields;
 *   @yearly @annually @monthly @weekly @daily @midnight @hourly;
 *   day-of-month: L (last day), nW (nearest weekday to n), LW;
 *   day-of-week: nL or n#L (last weekday n of the month), n#k (k-th, 1..5).
 * When day-of-month and day-of-week are both restricted (neither is * or ?)
 * a day matches if either matches (Vixie rule). */
#define TC_CRON_EXPR_MAX 256

/* Treat as opaque; it is public only so callers can keep it by value. */
typedef struct tc_cron {
    uint64_t sec;       /* bit n: second n */
    uint64_t min;       /* bit n: minute n */
    uint32_t hour;      /* bit n: hour n */
    uint32_t dom;       /* bit n: day n of the month (1..31) */
    uint32_t dom_w;     /* bit n: the weekday nearest to day n (nW) */
    uint16_t month;     /* bit n: month n (1..12) */
    uint8_t dow;        /* bit n: weekday n (0 = Sunday) */
    uint8_t dow_last;   /* bit n: last weekday n of the month (nL, n#L) */
    uint8_t dow_nth[7]; /* [n] bit k: k-th weekday n of the month (n#k) */
    bool dom_last;      /* L in day-of-month */
    bool dom_last_wd;   /* LW in day-of-month */
    bool dom_star;      /* day-of-month is * or ? (unrestricted) */
    bool dow_star;      /* day-of-week is * or ? (unrestricted) */
    bool interval;      /* hour field is * or has a step: DST "rhythm" policy */
} tc_cron;

typedef struct tc_cron_error {
    int position;   /* 0-based character offset in the expression */
    char field[16]; /* "second", "minute", ..., or "expression" */
    /* Full sentence: "minute: 61 is out of range 0-59 at position 3" */
    char message[200];
} tc_cron_error;

/* Parses and validates expr (NUL-terminated, at most TC_CRON_EXPR_MAX bytes).
 * Rejects expressions that can never fire (e.g. "0 0 30 2 *") with the
 * reason. Returns TC_OK, or TC_VALIDATION with err filled (err may be NULL). */
tc_status tc_cron_parse(const char *expr, tc_cron *out, tc_cron_error *err);

/* ---- time zones ---------------------------------------------------------- */
typedef struct tc_tz tc_tz;
#define TC_TZ_NAME_MAX 64

/* Loads an IANA zone ("Europe/Berlin", "UTC") from /usr/share/zoneinfo (or
 * $TZDIR). The result is cached and lives until process exit: *out is
 * borrowed, never freed, safe to share between threads. TC_NOT_FOUND (field
 * "timezone") for unknown names, TC_VALIDATION for malformed names. */
tc_status tc_tz_load(const char *name, const tc_tz **out, tc_err *err);
const char *tc_tz_name(const tc_tz *tz);
/* UTC offset in seconds east of Greenwich at instant t (seconds). */
int32_t tc_tz_offset(const tc_tz *tz, int64_t t);
/* RFC 3339 local time with offset, "2024-03-10T03:00:00.000-04:00". out >= 40. */
void tc_tz_format_local(const tc_tz *tz, int64_t ms, char out[40]);

/* ---- next run -------------------------------------------------------------
 * The first instant strictly after after_ms at which the schedule fires in tz
 * (whole seconds, returned in ms). DST policy (docs/scheduler.md):
 *   - fixed-hour schedules: a local time skipped by spring-forward runs at the
 *     first valid instant after it; a repeated local time runs once (first);
 *   - interval schedules (hour field * or a step): every real occurrence,
 *     skipped local times do not run.
 * Returns TC_OK, or TC_NOT_FOUND when there is no such time before year 9999. */
tc_status tc_cron_next(const tc_cron *c, const tc_tz *tz, int64_t after_ms, int64_t *next_ms);

/* ---- API helpers -----------------------------------------------------------
 * {"next":[{"utc":"2024-03-10T07:00:00.000Z","local":"2024-03-10T03:00:00.000-04:00"}]}
 * with up to n times after from_ms (fewer when the schedule ends before year
 * 9999). Caller owns the result. For GET /api/schedules/{id}/preview. */
json_t *tc_cron_next_json(const tc_cron *c, const tc_tz *tz, int64_t from_ms, int n);

/* POST /api/cron/preview: body {cron, timezone, n (1..100), from? (RFC 3339,
 * default now_ms)}. On success returns TC_OK and *out = {"next":[{utc,local}]}.
 * Otherwise returns the error status (TC_VALIDATION -> 422, TC_BAD_REQUEST)
 * with err filled and *out = the complete error document
 *   {"error":{"code","message","field"[,"position","cron_field"]}}.
 * Either way the caller owns *out (json_decref). body is borrowed. */
tc_status tc_cron_preview_json(const json_t *body, int64_t now_ms, json_t **out, tc_err *err);

/* ---- tick -------------------------------------------------------------------
 * The engine's periodic tick, as a pure function (no clock, no I/O, no
 * locks): the engine loads its schedules into entries, calls this with the
 * current time, enqueues one job per fire, and persists next_due_ms of the
 * entries (so each due time fires at most once across restarts). */
typedef enum { TC_OVERLAP_SKIP, TC_OVERLAP_ALLOW } tc_overlap;
typedef enum { TC_MISFIRE_RUN_ONCE, TC_MISFIRE_SKIP } tc_misfire;

typedef struct tc_sched_entry {
    const tc_cron *cron; /* borrowed */
    const tc_tz *tz;     /* borrowed (tc_tz_load) */
    int64_t next_due_ms; /* in/out; 0 = not scheduled yet (set from now, no fire) */
    tc_overlap overlap;
    tc_misfire misfire;
    bool enabled;
    bool running; /* a previous run is still going */
} tc_sched_entry;

typedef enum { TC_FIRE_RUN, TC_FIRE_SKIPPED_OVERLAP, TC_FIRE_SKIPPED_MISFIRE } tc_fire_kind;

typedef struct tc_sched_fire {
    size_t index;      /* into the entries array */
    int64_t due_ms;    /* the due time this fire is for */
    tc_fire_kind kind; /* only TC_FIRE_RUN becomes a job; skips are for events */
    bool late;         /* due more than grace_ms before now (after downtime) */
} tc_sched_fire;

/* For every enabled entry with next_due_ms <= now_ms: appends at most one
 * fire to out (so missed due times collapse into one), and advances
 * next_due_ms to the first due time after now_ms (INT64_MAX if none). A due
 * time older than now_ms - grace_ms is a misfire: TC_MISFIRE_RUN_ONCE runs it
 * (late = true), TC_MISFIRE_SKIP records a skip. A due entry that is running
 * with TC_OVERLAP_SKIP records an overlap skip. Stops when out is full
 * (cap); the remaining due entries stay due for the next call. Returns the
 * number of fires written. */
size_t tc_sched_tick(tc_sched_entry *entries, size_t n, int64_t now_ms, int64_t grace_ms,
                     tc_sched_fire *out, size_t cap);

/* `toolconnect cron ...` (src/main.c): next EXPR TZ [FROM] [N] | batch. */
int tc_scheduler_cmd_cron(int argc, char **argv);

/* ---- schedules: the service and the engine (service.c, engine.c) ---------
 * tc_sched holds a user's schedules (validated on save, scoped to the user)
 * and runs the engine thread: one periodic tick that enqueues due runs as
 * jobs through the enqueue hook (the exec module) and never runs them
 * itself, and the bookkeeping of finished runs (consecutive failures,
 * auto-pause with an event and the schedule.failed webhook). See
 * docs/scheduler.md, "Engine". Lock order: sinks lock -> done_mu; nothing
 * is held across database calls or hooks. */
struct tc_events;
struct tc_db;
struct tc_db_conn;

/* A due run to enqueue (mirrors exec's tc_exec_scheduled). */
typedef struct tc_sched_run {
    const char *user_id;
    const char *connector; /* slug */
    const char *tool;
    const char *connection_id; /* may be NULL */
    const json_t *arguments;
    const char *schedule_id;
    int64_t scheduled_for; /* ms: the due time (run now: the request time) */
} tc_sched_run;

/* Inserts the queued job inside the caller's transaction on c (job_id gets
 * its id). TC_CONFLICT: that (schedule_id, scheduled_for) has a job
 * already. TC_NOT_FOUND / TC_VALIDATION / TC_CONFLICT with another code: the
 * run can't start (counted as a failure). Other statuses are database
 * faults: the engine rolls this run back (it runs in its own savepoint) and
 * leaves the schedule due, to be retried next tick; when every run of a
 * batch faults, the whole batch is rolled back. */
typedef tc_status (*tc_sched_enqueue_fn)(void *ctx, struct tc_db_conn *c, const tc_sched_run *run,
                                         char job_id[37], tc_err *err);
/* What became of one run of a batch (tc_sched_enqueue_batch_fn): st and
 * err as tc_sched_enqueue_fn would return them, job_id when TC_OK. */
typedef struct tc_sched_enqueued {
    tc_status st;
    char job_id[37];
    tc_err err;
} tc_sched_enqueued;
/* Optional, and preferred by the engine: enqueues runs[0..n) at once inside
 * the caller's transaction, out[i] telling what became of run i. Returns
 * TC_OK, or the database error that stopped the batch: the engine then
 * rolls back to before the call and enqueues the runs one at a time with
 * the enqueue hook, each in its own savepoint (so one run's database error
 * does not hold up the others). */
typedef tc_status (*tc_sched_enqueue_batch_fn)(void *ctx, struct tc_db_conn *c,
                                               const tc_sched_run *runs, size_t n,
                                               tc_sched_enqueued *out, tc_err *err);
/* After a commit that enqueued jobs (wake the workers). */
typedef void (*tc_sched_notify_fn)(void *ctx);
/* A schedule paused itself: called INSIDE the transaction that pauses it,
 * on c, so a notification queued there (notify's outbox) commits or rolls
 * back with the pause. schedule is the row in API shape (borrowed). An error
 * rolls the whole batch back. paused_done runs after the commit (wake the
 * sender). */
typedef tc_status (*tc_sched_paused_fn)(void *ctx, struct tc_db_conn *c, const char *user_id,
                                        const json_t *schedule, const char *reason, tc_err *err);
typedef void (*tc_sched_paused_done_fn)(void *ctx);

typedef struct tc_sched_options {
    struct tc_db *db;
    struct tc_events *events;      /* record + publish changes; job observer */
    tc_sched_enqueue_fn enqueue;   /* required */
    tc_sched_enqueue_batch_fn enqueue_batch; /* may be NULL: one enqueue per run */
    tc_sched_notify_fn notify;     /* may be NULL */
    void *exec_ctx;                /* for enqueue, enqueue_batch and notify */
    tc_sched_paused_fn on_paused;  /* may be NULL */
    tc_sched_paused_done_fn paused_done; /* may be NULL */
    void *paused_ctx;
    bool engine;                   /* run the tick thread (TC_SCHEDULER_ENABLED) */
    int64_t tick_ms;               /* longest sleep between ticks (0 = 250) */
    int64_t misfire_grace_ms;      /* later than this is a misfire (0 = 60000) */
    int64_t clock_offset_ms;       /* added to the engine's clock (tests) */
    int64_t batch;                 /* schedules per transaction (0 = 256) */
    int64_t per_user_max;          /* schedules per user (0 = 1000) */
} tc_sched_options;

typedef struct tc_sched tc_sched;

/* Starts the engine thread when o->engine (it also works through finished
 * runs), and registers the job observer on o->events. Caller frees. */
tc_status tc_sched_new(const tc_sched_options *o, tc_sched **out, tc_err *err);
/* Stops and joins the thread. Jobs finishing after this are ignored. */
void tc_sched_free(tc_sched *s);
/* Wakes the engine (a schedule was created or resumed). */
void tc_sched_wake(tc_sched *s);

typedef struct tc_sched_tick_stats {
    size_t due;              /* schedules found due */
    size_t enqueued;         /* jobs enqueued */
    size_t skipped_overlap;  /* due while the previous run was still going */
    size_t skipped_misfire;  /* late with misfire = skip */
    size_t late;             /* late runs with misfire = run_once */
    size_t failed_to_start;  /* enqueue refused (tool gone, bad arguments ...) */
    size_t duplicates;       /* the due time had a job already */
    size_t faulted;          /* a database error on this run alone: left due, retried */
    size_t batches;          /* transactions */
    bool locked_out;         /* PostgreSQL: another instance holds the tick lock */
} tc_sched_tick_stats;

/* One tick at now_ms (the engine thread calls it; tests and the benchmark
 * call it directly with the engine off). Fires every schedule due at now_ms,
 * in batches of one transaction each. */
tc_status tc_sched_tick_now(tc_sched *s, int64_t now_ms, tc_sched_tick_stats *stats,
                            tc_err *err);
/* The observer's input: a job row (API shape) of user_id changed. Finished
 * runs of a schedule are queued for the engine thread. */
void tc_sched_job_changed(tc_sched *s, const char *user_id, const json_t *job);
/* Works through queued finished runs now (tests; the thread does it). */
void tc_sched_drain(tc_sched *s);

typedef struct tc_sched_stats {
    uint64_t ticks, enqueued, skipped_overlap, skipped_misfire, failed_to_start, auto_paused;
    int64_t last_tick_us;  /* duration of the last tick that found work */
    int64_t max_late_ms;   /* largest (enqueue time - due time) seen */
} tc_sched_stats;
void tc_sched_stats_get(tc_sched *s, tc_sched_stats *out);

/* ---- the service (one call per endpoint) ----------------------------------
 * Errors name the field. A cron error fills fail->cron (position and cron
 * field) besides err; a schema error of the arguments sets fail->details
 * (new array of {path, keyword, message}, the caller's). */
typedef struct tc_sched_fail {
    bool has_cron;
    tc_cron_error cron;
    json_t *details;
} tc_sched_fail;

/* The writable fields of a schedule as read from a request body (the HTTP
 * side checks JSON types and sizes); NULL / has_* false = absent. */
typedef struct tc_sched_input {
    const char *name;          /* 1..200 bytes */
    const char *cron;
    const char *timezone;      /* default UTC */
    const char *connector;     /* slug */
    const char *tool;
    const char *connection_id; /* default: the newest active connection */
    const json_t *arguments;   /* an object; default {} */
    const char *overlap;       /* skip (default) | allow */
    const char *misfire;       /* run_once (default) | skip */
    bool has_enabled, enabled; /* default true */
    bool has_max_failures;
    int64_t max_failures;      /* 0..1000, 0 = never pause; default 5 */
} tc_sched_input;

/* POST /api/schedules: name, cron, connector and tool are required. */
tc_status tc_sched_create(tc_sched *s, const char *user_id, const tc_sched_input *in,
                          json_t **row, tc_sched_fail *fail, tc_err *err);
/* PATCH: only the fields present change; everything is validated again as
 * a whole (a new connector without connection_id takes its default). */
tc_status tc_sched_update(tc_sched *s, const char *user_id, const char *id,
                          const tc_sched_input *in, json_t **row, tc_sched_fail *fail,
                          tc_err *err);
tc_status tc_sched_get(tc_sched *s, const char *user_id, const char *id, json_t **row,
                       tc_err *err);
tc_status tc_sched_delete(tc_sched *s, const char *user_id, const char *id, tc_err *err);
tc_status tc_sched_list(tc_sched *s, const char *user_id, const char *cursor, int64_t limit,
                        json_t **items, char **next_cursor, tc_err *err);
tc_status tc_sched_runs(tc_sched *s, const char *user_id, const char *id, const char *cursor,
                        int64_t limit, json_t **items, char **next_cursor, tc_err *err);
/* {"next":[{utc, local}]} for the next n (1..100) times from now. */
tc_status tc_sched_preview(tc_sched *s, const char *user_id, const char *id, int n,
                           json_t **out, tc_err *err);
/* Pause (enabled false, not scheduled) or resume (enabled, failures reset,
 * next run from now). Idempotent. */
tc_status tc_sched_set_enabled(tc_sched *s, const char *user_id, const char *id, bool enabled,
                               json_t **row, tc_err *err);
/* Run now: enqueues a job linked to the schedule (paused ones too). *job is
 * the queued job row. */
tc_status tc_sched_run_now(tc_sched *s, const char *user_id, const char *id, json_t **job,
                           tc_err *err);

#endif
