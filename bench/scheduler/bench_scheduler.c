/* bench_scheduler: the tick's dominant work with 10,000 schedules.
 *   1. next-time computation for 10,000 mixed schedules (expressions x zones)
 *   2. a tick where all 10,000 are due (every-minute schedules), 60 ticks:
 *      p50/p99/max tick cost; every fire of a tick is emitted within it, so
 *      the tick cost bounds the processing part of the lateness
 *   3. a tick over 10,000 mixed schedules where few are due (scan cost)
 * usage: bench_scheduler [count]   (default 10000) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scheduler/scheduler.h"

static const char *const exprs[] = {
    "* * * * *",   "*/5 * * * *",  "0 * * * *",   "30 2 * * *",     "0 9 * * MON-FRI",
    "15 10 L * *", "0 8 * * 1#2",  "0 0 15W * *", "*/10 * * * * *", "0 12 1 1 *",
    "0 0 * * 5L",  "0 6,18 * * *", "0 0 29 2 *",  "45 23 * * SUN",  "0 */3 * * *",
};
static const char *const zones[] = {
    "UTC",          "America/New_York", "Europe/Berlin",     "Australia/Sydney",
    "Asia/Kolkata", "Asia/Tokyo",       "America/Sao_Paulo", "Europe/London"};
#define NE (sizeof(exprs) / sizeof(exprs[0]))
#define NZ (sizeof(zones) / sizeof(zones[0]))

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static void report(const char *what, int64_t *ns, int n, size_t per)
{
    qsort(ns, (size_t)n, sizeof(*ns), cmp_i64);
    printf("%-44s p50 %7.2f ms  p99 %7.2f ms  max %7.2f ms  (%.0f ns per schedule)\n", what,
           ns[n / 2] / 1e6, ns[(n * 99) / 100] / 1e6, ns[n - 1] / 1e6, (double)ns[n / 2] / per);
}

int main(int argc, char **argv)
{
    size_t n = argc > 1 ? (size_t)strtoul(argv[1], NULL, 10) : 10000;
    tc_cron crons[NE];
    const tc_tz *tzs[NZ];
    for (size_t i = 0; i < NE; i++)
        if (tc_cron_parse(exprs[i], &crons[i], NULL) != TC_OK)
            return fprintf(stderr, "bad %s\n", exprs[i]), 1;
    for (size_t i = 0; i < NZ; i++)
        if (tc_tz_load(zones[i], &tzs[i], NULL) != TC_OK)
            return fprintf(stderr, "no zone %s\n", zones[i]), 1;
    tc_sched_entry *e = calloc(n, sizeof(*e));
    tc_sched_fire *f = calloc(n, sizeof(*f));
    int64_t start;
    tc_time_parse("2024-03-09T12:00:00Z", &start); /* a DST weekend in New York */
    enum { RUNS = 60 };
    int64_t ns[RUNS];

    /* 1. next times for n mixed schedules */
    for (size_t i = 0; i < n; i++)
        e[i] = (tc_sched_entry){
            &crons[i % NE], tzs[(i / NE) % NZ], 0, TC_OVERLAP_ALLOW, TC_MISFIRE_RUN_ONCE, true,
            false};
    int64_t sink = 0;
    for (int r = 0; r < RUNS; r++) {
        int64_t t0 = tc_mono_ns(), next;
        for (size_t i = 0; i < n; i++) {
            tc_cron_next(e[i].cron, e[i].tz, start + r * 60000, &next);
            sink += next;
        }
        ns[r] = tc_mono_ns() - t0;
    }
    report("next time, mixed schedules", ns, RUNS, n);

    /* 2. every schedule due every minute */
    for (size_t i = 0; i < n; i++)
        e[i] = (tc_sched_entry){&crons[0],           tzs[i % NZ], 0,    TC_OVERLAP_ALLOW,
                                TC_MISFIRE_RUN_ONCE, true,        false};
    tc_sched_tick(e, n, start, 1000, f, n);
    for (int r = 0; r < RUNS; r++) {
        int64_t now = start + (r + 1) * 60000 + 200; /* tick 200 ms after the minute */
        int64_t t0 = tc_mono_ns();
        size_t fired = tc_sched_tick(e, n, now, 1000, f, n);
        ns[r] = tc_mono_ns() - t0;
        if (fired != n)
            return fprintf(stderr, "tick %d fired %zu of %zu\n", r, fired, n), 1;
    }
    report("tick, all due (every minute)", ns, RUNS, n);

    /* 3. mixed schedules, few due: mostly the scan */
    for (size_t i = 0; i < n; i++)
        e[i] = (tc_sched_entry){
            &crons[i % NE], tzs[(i / NE) % NZ], 0, TC_OVERLAP_ALLOW, TC_MISFIRE_RUN_ONCE, true,
            false};
    tc_sched_tick(e, n, start, 1000, f, n);
    size_t total = 0;
    for (int r = 0; r < RUNS; r++) {
        int64_t t0 = tc_mono_ns();
        total += tc_sched_tick(e, n, start + (r + 1) * 1000 + 200, 1000, f, n);
        ns[r] = tc_mono_ns() - t0;
    }
    report("tick, mixed schedules, 1 s apart", ns, RUNS, n);
    printf("schedules %zu, fires in the mixed run %zu (checksum %lld)\n", n, total,
           (long long)(sink % 1000));
    free(e);
    free(f);
    return 0;
}
