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

#endif
