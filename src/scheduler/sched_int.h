/* scheduler internals shared by cron.c, tz.c and preview.c. */
#ifndef TC_SCHED_INT_H
#define TC_SCHED_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "scheduler/scheduler.h"

#define TC_SCHED__DAY 86400

/* Proleptic Gregorian calendar; days since 1970-01-01 (negative before).
 * The usual era-based formulas: a 400-year era has 146097 days. */
static inline int64_t tc_sched__days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static inline void tc_sched__civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

static inline bool tc_sched__leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static inline int tc_sched__mdays(int64_t y, int m)
{
    static const int d[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && tc_sched__leap(y) ? 29 : d[m - 1];
}

/* 0 = Sunday. */
static inline int tc_sched__weekday(int64_t days)
{
    int64_t w = (days + 4) % 7;
    return (int)(w < 0 ? w + 7 : w);
}

static inline int64_t tc_sched__floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* A stretch of UTC time [start, end) with one UTC offset. start is INT64_MIN
 * before the first known transition, end INT64_MAX after the last one.
 * prev_off is the offset just before start (== off when there is none). */
typedef struct tc_tz__seg {
    int64_t start, end;
    int32_t off, prev_off;
} tc_tz__seg;

/* The segment containing instant t (seconds). */
void tc_tz__segment(const tc_tz *tz, int64_t t, tc_tz__seg *out);

#endif
