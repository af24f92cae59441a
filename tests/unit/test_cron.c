/* scheduler: cron parser, time zones and next-run computation.
 * Expected instants were worked out by hand from the published DST dates
 * (and checked against Python's zoneinfo / croner where those apply). */
#include "runner.h"
#include "scheduler/scheduler.h"

#include <stdlib.h>

#define MAXN 6

typedef struct {
    const char *expr, *tz, *from;
    const char *want[MAXN]; /* UTC instants, in order; NULL-terminated */
} next_case;

static const next_case dst_cases[] = {
    /* America/New_York 2024: spring Mar 10 02:00 EST -> 03:00 EDT,
     * fall Nov 3 02:00 EDT -> 01:00 EST. */
    {"30 2 * * *",
     "America/New_York",
     "2024-03-09T12:00:00Z", /* skipped: runs 03:00 EDT */
     {"2024-03-10T07:00:00Z", "2024-03-11T06:30:00Z"}},
    {"0 2 * * *",
     "America/New_York",
     "2024-03-09T12:00:00Z",
     {"2024-03-10T07:00:00Z", "2024-03-11T06:00:00Z"}},
    {"0,30 2 * * *",
     "America/New_York",
     "2024-03-09T12:00:00Z", /* both meet at 03:00: once */
     {"2024-03-10T07:00:00Z", "2024-03-11T06:00:00Z", "2024-03-11T06:30:00Z"}},
    {"0 2,3 * * *",
     "America/New_York",
     "2024-03-09T12:00:00Z",
     {"2024-03-10T07:00:00Z", "2024-03-11T06:00:00Z", "2024-03-11T07:00:00Z"}},
    {"30 1 * * *",
     "America/New_York",
     "2024-11-02T12:00:00Z", /* repeated: first only */
     {"2024-11-03T05:30:00Z", "2024-11-04T06:30:00Z"}},
    {"0 1 * * *",
     "America/New_York",
     "2024-11-03T05:30:00Z", /* between the two 01:00s */
     {"2024-11-04T06:00:00Z"}},
    {"0 1-3 * * *",
     "America/New_York",
     "2024-11-03T04:00:00Z",
     {"2024-11-03T05:00:00Z", "2024-11-03T07:00:00Z", "2024-11-03T08:00:00Z",
      "2024-11-04T06:00:00Z"}},
    {"30 * * * *",
     "America/New_York",
     "2024-11-03T04:00:00Z", /* hourly: both 01:30s */
     {"2024-11-03T04:30:00Z", "2024-11-03T05:30:00Z", "2024-11-03T06:30:00Z",
      "2024-11-03T07:30:00Z"}},
    {"30 * * * *",
     "America/New_York",
     "2024-03-10T05:00:00Z", /* hourly: no extra fire */
     {"2024-03-10T05:30:00Z", "2024-03-10T06:30:00Z", "2024-03-10T07:30:00Z",
      "2024-03-10T08:30:00Z"}},
    {"*/15 * * * *",
     "America/New_York",
     "2024-11-03T05:50:00Z",
     {"2024-11-03T06:00:00Z", "2024-11-03T06:15:00Z"}},
    {"0 */2 * * *",
     "America/New_York",
     "2024-03-10T04:00:00Z", /* step: 02:00 skipped */
     {"2024-03-10T05:00:00Z", "2024-03-10T08:00:00Z", "2024-03-10T10:00:00Z"}},
    {"30 2 * * *",
     "America/New_York",
     "2090-03-11T12:00:00Z", /* after the TZif table: footer rule */
     {"2090-03-12T07:00:00Z", "2090-03-13T06:30:00Z"}},
    /* Europe/Berlin 2024: spring Mar 31 02:00 CET -> 03:00 CEST (01:00Z),
     * fall Oct 27 03:00 CEST -> 02:00 CET (01:00Z). */
    {"0 30 2 * * *",
     "Europe/Berlin",
     "2024-03-30T12:00:00Z",
     {"2024-03-31T01:00:00Z", "2024-04-01T00:30:00Z"}},
    {"30 2 * * *",
     "Europe/Berlin",
     "2024-10-26T12:00:00Z",
     {"2024-10-27T00:30:00Z", "2024-10-28T01:30:00Z"}},
    {"*/30 * * * *",
     "Europe/Berlin",
     "2024-10-27T00:10:00Z",
     {"2024-10-27T00:30:00Z", "2024-10-27T01:00:00Z", "2024-10-27T01:30:00Z",
      "2024-10-27T02:00:00Z"}},
    {"*/30 * * * *",
     "Europe/Berlin",
     "2024-03-31T00:40:00Z",
     {"2024-03-31T01:00:00Z", "2024-03-31T01:30:00Z"}},
    {"15 */1 * * *",
     "Europe/Berlin",
     "2024-03-31T00:00:00Z",
     {"2024-03-31T00:15:00Z", "2024-03-31T01:15:00Z"}},
    /* hour fixed, minutes stepped: a fixed-hour schedule (see docs) */
    {"*/20 2 * * *",
     "Europe/Berlin",
     "2024-03-30T12:00:00Z",
     {"2024-03-31T01:00:00Z", "2024-04-01T00:00:00Z"}},
    {"*/20 2 * * *",
     "Europe/Berlin",
     "2024-10-26T12:00:00Z",
     {"2024-10-27T00:00:00Z", "2024-10-27T00:20:00Z", "2024-10-27T00:40:00Z",
      "2024-10-28T01:00:00Z"}},
    {"0 3 * * *",
     "Europe/Berlin",
     "2024-10-26T12:00:00Z", /* 03:00 CEST never happens that day */
     {"2024-10-27T02:00:00Z", "2024-10-28T02:00:00Z"}},
    /* Southern hemisphere: Sydney springs forward Oct 6 2024 02:00 -> 03:00. */
    {"30 2 * * *", "Australia/Sydney", "2024-10-05T00:00:00Z", {"2024-10-05T16:00:00Z"}},
    {"0 0 * * *",
     "Asia/Kolkata",
     "2024-01-01T00:00:00Z",
     {"2024-01-01T18:30:00Z", "2024-01-02T18:30:00Z"}},
};

static const next_case calendar_cases[] = {
    {"0 0 L * *",
     "UTC",
     "2024-01-15T00:00:00Z",
     {"2024-01-31T00:00:00Z", "2024-02-29T00:00:00Z", "2024-03-31T00:00:00Z",
      "2024-04-30T00:00:00Z"}},
    {"0 0 L 2 *",
     "UTC",
     "2025-01-01T00:00:00Z",
     {"2025-02-28T00:00:00Z", "2026-02-28T00:00:00Z", "2027-02-28T00:00:00Z",
      "2028-02-29T00:00:00Z"}},
    {"0 0 31 * *",
     "UTC",
     "2024-01-31T00:00:00Z",
     {"2024-03-31T00:00:00Z", "2024-05-31T00:00:00Z", "2024-07-31T00:00:00Z",
      "2024-08-31T00:00:00Z"}},
    {"0 0 29 2 *", "UTC", "2024-03-01T00:00:00Z", {"2028-02-29T00:00:00Z", "2032-02-29T00:00:00Z"}},
    {"0 0 29 2 *", "UTC", "2096-03-01T00:00:00Z", {"2104-02-29T00:00:00Z"}}, /* 2100 not leap */
    {"0 0 * 2 MON#5",
     "UTC",
     "2024-01-01T00:00:00Z", /* a 5th Monday in February is rare */
     {"2044-02-29T00:00:00Z", "2072-02-29T00:00:00Z"}},
    {"59 23 31 12 *",
     "America/New_York",
     "2024-12-31T12:00:00Z",
     {"2025-01-01T04:59:00Z", "2026-01-01T04:59:00Z"}},
};

static const next_case syntax_cases[] = {
    {"* * * * *", "UTC", "2024-01-01T00:00:30Z", {"2024-01-01T00:01:00Z", "2024-01-01T00:02:00Z"}},
    {"*/10 * * * * *",
     "UTC",
     "2024-01-01T00:00:05Z",
     {"2024-01-01T00:00:10Z", "2024-01-01T00:00:20Z"}},
    {"5,35 0 * * * *",
     "UTC",
     "2024-01-01T00:00:00Z",
     {"2024-01-01T00:00:05Z", "2024-01-01T00:00:35Z", "2024-01-01T01:00:05Z"}},
    {"5/15 * * * *",
     "UTC",
     "2024-01-01T00:00:00Z",
     {"2024-01-01T00:05:00Z", "2024-01-01T00:20:00Z", "2024-01-01T00:35:00Z",
      "2024-01-01T00:50:00Z", "2024-01-01T01:05:00Z"}},
    {"10-20/5 8 * * *",
     "UTC",
     "2024-01-01T00:00:00Z",
     {"2024-01-01T08:10:00Z", "2024-01-01T08:15:00Z", "2024-01-01T08:20:00Z",
      "2024-01-02T08:10:00Z"}},
    {"0 12 * * 1-5",
     "UTC",
     "2024-06-28T13:00:00Z", /* Fri after noon -> Mon */
     {"2024-07-01T12:00:00Z", "2024-07-02T12:00:00Z"}},
    {"0 9 * jan,JUL mon-FRI",
     "UTC",
     "2024-06-28T00:00:00Z",
     {"2024-07-01T09:00:00Z", "2024-07-02T09:00:00Z"}},
    {"0 0 * * 7", "UTC", "2024-03-30T00:00:00Z", {"2024-03-31T00:00:00Z", "2024-04-07T00:00:00Z"}},
    {"0 0 * * 0", "UTC", "2024-03-30T00:00:00Z", {"2024-03-31T00:00:00Z", "2024-04-07T00:00:00Z"}},
    {"0 0 * * FRI-SUN",
     "UTC",
     "2024-03-30T12:00:00Z",
     {"2024-03-31T00:00:00Z", "2024-04-05T00:00:00Z", "2024-04-06T00:00:00Z"}},
    {"0 0 * * 5-7",
     "UTC",
     "2024-03-30T12:00:00Z",
     {"2024-03-31T00:00:00Z", "2024-04-05T00:00:00Z", "2024-04-06T00:00:00Z"}},
    {"0 0 1 */3 *",
     "UTC",
     "2024-02-01T00:00:00Z",
     {"2024-04-01T00:00:00Z", "2024-07-01T00:00:00Z"}},
    {"@yearly", "UTC", "2024-06-01T00:00:00Z", {"2025-01-01T00:00:00Z", "2026-01-01T00:00:00Z"}},
    {"@annually", "UTC", "2024-06-01T00:00:00Z", {"2025-01-01T00:00:00Z"}},
    {"@monthly", "UTC", "2024-01-31T00:00:00Z", {"2024-02-01T00:00:00Z", "2024-03-01T00:00:00Z"}},
    {"@weekly", "UTC", "2024-03-27T00:00:00Z", {"2024-03-31T00:00:00Z", "2024-04-07T00:00:00Z"}},
    {"@daily", "UTC", "2024-03-27T10:00:00Z", {"2024-03-28T00:00:00Z"}},
    {"@MIDNIGHT", "UTC", "2024-03-27T10:00:00Z", {"2024-03-28T00:00:00Z"}},
    {"@hourly", "UTC", "2024-03-27T10:00:00Z", {"2024-03-27T11:00:00Z", "2024-03-27T12:00:00Z"}},
    {"0 0 15W * *",
     "UTC",
     "2024-06-01T00:00:00Z", /* Jun 15 Sat -> Fri 14; Sep 15 Sun -> Mon 16 */
     {"2024-06-14T00:00:00Z", "2024-07-15T00:00:00Z", "2024-08-15T00:00:00Z",
      "2024-09-16T00:00:00Z"}},
    {"0 0 1W * *",
     "UTC",
     "2024-05-15T00:00:00Z", /* Jun 1 Sat -> Mon 3, never leaves the month */
     {"2024-06-03T00:00:00Z", "2024-07-01T00:00:00Z"}},
    {"0 0 31W * *",
     "UTC",
     "2024-07-31T12:00:00Z", /* Aug 31 Sat -> Fri 30; Sep has no 31 */
     {"2024-08-30T00:00:00Z", "2024-10-31T00:00:00Z"}},
    {"0 0 LW * *",
     "UTC",
     "2024-03-01T00:00:00Z", /* Mar 31 is a Sunday */
     {"2024-03-29T00:00:00Z", "2024-04-30T00:00:00Z", "2024-05-31T00:00:00Z",
      "2024-06-28T00:00:00Z"}},
    {"0 0 * * 5L", "UTC", "2024-03-01T00:00:00Z", {"2024-03-29T00:00:00Z", "2024-04-26T00:00:00Z"}},
    {"0 0 * * FRI#L",
     "UTC",
     "2024-03-01T00:00:00Z",
     {"2024-03-29T00:00:00Z", "2024-04-26T00:00:00Z"}},
    {"0 0 * * 1#2",
     "UTC",
     "2024-01-30T00:00:00Z",
     {"2024-02-12T00:00:00Z", "2024-03-11T00:00:00Z"}},
    {"0 0 * * 1#2,5#L",
     "UTC",
     "2024-03-30T12:00:00Z",
     {"2024-04-08T00:00:00Z", "2024-04-26T00:00:00Z", "2024-05-13T00:00:00Z"}},
    /* Vixie rule: both day fields restricted -> either matches */
    {"0 0 1 * MON",
     "UTC",
     "2024-01-30T00:00:00Z",
     {"2024-02-01T00:00:00Z", "2024-02-05T00:00:00Z", "2024-02-12T00:00:00Z"}},
    {"0 0 L * 5L",
     "UTC",
     "2024-03-30T12:00:00Z",
     {"2024-03-31T00:00:00Z", "2024-04-26T00:00:00Z", "2024-04-30T00:00:00Z"}},
    {"0 0 ? * MON",
     "UTC",
     "2024-01-30T00:00:00Z",
     {"2024-02-05T00:00:00Z", "2024-02-12T00:00:00Z"}},
    {"0 0 1 * ?", "UTC", "2024-01-30T00:00:00Z", {"2024-02-01T00:00:00Z", "2024-03-01T00:00:00Z"}},
    {"\t0  0 1 1 *  ", "UTC", "2024-01-30T00:00:00Z", {"2025-01-01T00:00:00Z"}},
};

static void run_cases(const next_case *cases, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const next_case *k = &cases[i];
        tc_cron c;
        tc_cron_error ce;
        const tc_tz *tz;
        tc_err err;
        if (tc_cron_parse(k->expr, &c, &ce) != TC_OK)
            tc_test_fail(__FILE__, __LINE__, "\"%s\": %s", k->expr, ce.message);
        if (tc_tz_load(k->tz, &tz, &err) != TC_OK)
            tc_test_fail(__FILE__, __LINE__, "%s: %s", k->tz, err.message);
        int64_t t;
        ASSERT_OK(tc_time_parse(k->from, &t));
        for (int j = 0; j < MAXN && k->want[j]; j++) {
            int64_t want;
            ASSERT_OK(tc_time_parse(k->want[j], &want));
            if (tc_cron_next(&c, tz, t, &t) != TC_OK)
                tc_test_fail(__FILE__, __LINE__, "\"%s\" %s: no time #%d", k->expr, k->tz, j);
            if (t != want) {
                char got[32];
                tc_time_format(t, got);
                tc_test_fail(__FILE__, __LINE__, "\"%s\" %s from %s: #%d is %s, want %s", k->expr,
                             k->tz, k->from, j, got, k->want[j]);
            }
        }
    }
}

TEST(next_dst)
{
    run_cases(dst_cases, sizeof(dst_cases) / sizeof(dst_cases[0]));
}

TEST(next_calendar)
{
    run_cases(calendar_cases, sizeof(calendar_cases) / sizeof(calendar_cases[0]));
}

TEST(next_syntax)
{
    run_cases(syntax_cases, sizeof(syntax_cases) / sizeof(syntax_cases[0]));
}

/* ---- parse errors ---------------------------------------------------------- */

typedef struct {
    const char *expr;
    int position;
    const char *field, *message;
} error_case;

static const error_case error_cases[] = {
    {"61 * * * *", 0, "minute", "minute: 61 is out of range 0-59 at position 0"},
    {"0,61 * * * *", 2, "minute", "61 is out of range 0-59"},
    {"* 24 * * *", 2, "hour", "24 is out of range 0-23"},
    {"60 * * * * *", 0, "second", "60 is out of range 0-59"},
    {"* * 0 * *", 4, "day-of-month", "0 is out of range 1-31"},
    {"* * 32 * *", 4, "day-of-month", "32 is out of range 1-31"},
    {"* * * 13 *", 6, "month", "13 is out of range 1-12"},
    {"* * * * 8", 8, "day-of-week", "8 is out of range 0-7"},
    {"* * * FOO *", 6, "month", "unknown name \"FOO\""},
    {"* * * * MON-FRX", 12, "day-of-week", "unknown name"},
    {"* * * * MON#6", 12, "day-of-week", "# must be followed by 1-5 or L"},
    {"*/0 * * * *", 2, "minute", "step 0 is out of range 1-60"},
    {"0 */25 * * *", 4, "hour", "step 25 is out of range 1-24"},
    {"*/ * * * *", 2, "minute", "a step is missing"},
    {"5-3 * * * *", 0, "minute", "range 5-3 goes backwards"},
    {"1,,2 * * * *", 2, "minute", "a value is missing"},
    {"* * * * 1,", 10, "day-of-week", "a value is missing after ','"},
    {"a * * * *", 0, "minute", "unexpected character 'a'"},
    {"L * * * *", 0, "minute", "unexpected character 'L'"},
    {"? * * * *", 0, "minute", "unexpected character '?'"},
    {"1-2x * * * *", 3, "minute", "unexpected character 'x'"},
    {"* * 1-5W * *", 4, "day-of-month", "W takes a single day"},
    {"* * * *", 7, "expression", "expected 5 or 6 fields, found 4"},
    {"", 0, "expression", "expected 5 or 6 fields, found 0"},
    {"* * * * * * *", 12, "expression", "expected 5 or 6 fields, found more"},
    {"@often", 0, "expression", "unknown macro \"@often\""},
    {"@daily *", 0, "expression", "unknown macro"},
    {"0 0 30 2 *", 4, "day-of-month", "can never fire"},
    {"0 0 31 4,6,9,11 *", 4, "day-of-month", "can never fire"},
    {"0 0 * 2 MON#5,TUE#5,WED#5,THU#5,FRI#5,SAT#5,SUN#5 ", -1, NULL, NULL}, /* valid: see below */
    {"0 0 30W 2 *", 4, "day-of-month", "can never fire"},
    {"* * * *\n *", 7, "expression", "control character"},
};

TEST(parse_errors)
{
    for (size_t i = 0; i < sizeof(error_cases) / sizeof(error_cases[0]); i++) {
        const error_case *k = &error_cases[i];
        tc_cron c;
        tc_cron_error e;
        tc_status st = tc_cron_parse(k->expr, &c, &e);
        if (k->position < 0) {
            if (st != TC_OK)
                tc_test_fail(__FILE__, __LINE__, "\"%s\" should parse: %s", k->expr, e.message);
            continue;
        }
        if (st != TC_VALIDATION)
            tc_test_fail(__FILE__, __LINE__, "\"%s\" parsed", k->expr);
        if (e.position != k->position || strcmp(e.field, k->field) != 0 ||
            !strstr(e.message, k->message))
            tc_test_fail(__FILE__, __LINE__, "\"%s\": got {%d, %s, %s}, want {%d, %s, ...%s...}",
                         k->expr, e.position, e.field, e.message, k->position, k->field,
                         k->message);
    }
}

TEST(parse_length_limit)
{
    char expr[TC_CRON_EXPR_MAX + 40];
    memset(expr, ' ', sizeof(expr));
    memcpy(expr, "0 0 * * *", 9);
    expr[TC_CRON_EXPR_MAX] = '\0'; /* exactly the limit: fine */
    tc_cron c;
    tc_cron_error e;
    ASSERT_OK(tc_cron_parse(expr, &c, &e));
    expr[TC_CRON_EXPR_MAX] = ' ';
    expr[sizeof(expr) - 1] = '\0';
    ASSERT_STATUS(tc_cron_parse(expr, &c, &e), TC_VALIDATION);
    ASSERT_EQ(e.position, TC_CRON_EXPR_MAX);
    ASSERT_STR_CONTAINS(e.message, "longer than 256");
    ASSERT_STATUS(tc_cron_parse(NULL, &c, NULL), TC_VALIDATION);
}

TEST(parse_leap_day_accepted)
{
    tc_cron c;
    tc_cron_error e;
    ASSERT_OK(tc_cron_parse("0 0 29 2 *", &c, &e));
    ASSERT_OK(tc_cron_parse("0 0 29 FEB SUN#5", &c, &e)); /* OR: Sundays in Feb too */
    ASSERT_OK(tc_cron_parse("0 0 ? 2 SUN#5", &c, &e));    /* Feb 29 on a Sunday */
    ASSERT_OK(tc_cron_parse("0 0 L 2 *", &c, &e));
}

TEST(parse_interval_flag)
{
    static const struct {
        const char *expr;
        bool interval;
    } k[] = {
        {"0 * * * *", true},    {"0 */2 * * *", true},  {"0 1-23/2 * * *", true},
        {"0 3/4 * * *", true},  {"@hourly", true},      {"0 2 * * *", false},
        {"*/5 2 * * *", false}, {"0 1-3 * * *", false}, {"0 1,13 * * *", false},
        {"@daily", false},
    };
    for (size_t i = 0; i < sizeof(k) / sizeof(k[0]); i++) {
        tc_cron c;
        ASSERT_OK(tc_cron_parse(k[i].expr, &c, NULL));
        if (c.interval != k[i].interval)
            tc_test_fail(__FILE__, __LINE__, "\"%s\": interval %d", k[i].expr, c.interval);
    }
}

/* ---- time zones -------------------------------------------------------------- */

TEST(tz_load_and_cache)
{
    const tc_tz *a, *b;
    tc_err err;
    ASSERT_OK(tc_tz_load("Europe/Berlin", &a, &err));
    ASSERT_OK(tc_tz_load("Europe/Berlin", &b, &err));
    ASSERT(a == b);
    ASSERT_STR_EQ(tc_tz_name(a), "Europe/Berlin");
    int64_t t;
    ASSERT_OK(tc_time_parse("2024-07-01T00:00:00Z", &t));
    ASSERT_EQ(tc_tz_offset(a, t / 1000), 7200);
    ASSERT_OK(tc_time_parse("2024-01-01T00:00:00Z", &t));
    ASSERT_EQ(tc_tz_offset(a, t / 1000), 3600);
    ASSERT_OK(tc_time_parse("2150-07-01T00:00:00Z", &t)); /* footer rule */
    ASSERT_EQ(tc_tz_offset(a, t / 1000), 7200);
    ASSERT_OK(tc_tz_load("Asia/Kathmandu", &a, &err));
    ASSERT_EQ(tc_tz_offset(a, t / 1000), 5 * 3600 + 45 * 60);
    ASSERT_OK(tc_tz_load("Australia/Lord_Howe", &a, &err)); /* 30-minute DST */
    ASSERT_OK(tc_time_parse("2150-01-01T00:00:00Z", &t));
    ASSERT_EQ(tc_tz_offset(a, t / 1000), 11 * 3600);
    ASSERT_OK(tc_time_parse("2150-07-01T00:00:00Z", &t));
    ASSERT_EQ(tc_tz_offset(a, t / 1000), 10 * 3600 + 1800);
    ASSERT_OK(tc_tz_load("UTC", &a, &err));
    ASSERT_EQ(tc_tz_offset(a, t / 1000), 0);
}

TEST(tz_errors)
{
    const tc_tz *tz;
    tc_err err;
    ASSERT_STATUS(tc_tz_load("Mars/Olympus_Mons", &tz, &err), TC_NOT_FOUND);
    ASSERT_STR_EQ(err.field, "timezone");
    ASSERT_STR_CONTAINS(err.message, "unknown time zone");
    static const char *bad[] = {"",
                                "../etc/passwd",
                                "/etc/passwd",
                                "Europe/../UTC",
                                "Europe//Berlin",
                                "Europe/Berlin/",
                                ".hidden",
                                "a b",
                                "Europe/Berlin\nx"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ASSERT_STATUS(tc_tz_load(bad[i], &tz, &err), TC_VALIDATION);
    ASSERT_STATUS(tc_tz_load(NULL, &tz, &err), TC_VALIDATION);
    ASSERT_STATUS(tc_tz_load("Europe", &tz, &err), TC_NOT_FOUND); /* a directory */
}

TEST(tz_format_local)
{
    const tc_tz *tz;
    ASSERT_OK(tc_tz_load("America/New_York", &tz, NULL));
    int64_t t;
    ASSERT_OK(tc_time_parse("2024-03-10T07:00:00Z", &t));
    char out[40];
    tc_tz_format_local(tz, t, out);
    ASSERT_STR_EQ(out, "2024-03-10T03:00:00.000-04:00");
    ASSERT_OK(tc_tz_load("Asia/Kolkata", &tz, NULL));
    tc_tz_format_local(tz, t, out);
    ASSERT_STR_EQ(out, "2024-03-10T12:30:00.000+05:30");
}

TEST(next_far_future_ends)
{
    tc_cron c;
    const tc_tz *tz;
    ASSERT_OK(tc_cron_parse("0 0 1 1 *", &c, NULL));
    ASSERT_OK(tc_tz_load("UTC", &tz, NULL));
    int64_t t, next;
    ASSERT_OK(tc_time_parse("9999-06-01T00:00:00Z", &t));
    ASSERT_STATUS(tc_cron_next(&c, tz, t, &next), TC_NOT_FOUND);
}

/* ---- preview JSON -------------------------------------------------------------- */

static json_t *preview(const char *body_text, tc_status want)
{
    json_t *body = json_loads(body_text, 0, NULL), *out = NULL;
    tc_err err;
    tc_status st = tc_cron_preview_json(body, 1700000000000, &out, &err);
    json_decref(body);
    if (st != want)
        tc_test_fail(__FILE__, __LINE__, "%s: status %s (%s)", body_text, tc_status_code(st),
                     err.message);
    ASSERT_NOT_NULL(out);
    return out;
}

TEST(preview_ok)
{
    json_t *out = preview("{\"cron\":\"30 2 * * *\",\"timezone\":\"America/New_York\",\"n\":2,"
                          "\"from\":\"2024-03-09T12:00:00Z\"}",
                          TC_OK);
    json_t *next = json_object_get(out, "next");
    ASSERT_EQ(json_array_size(next), 2);
    ASSERT_STR_EQ(json_string_value(json_object_get(json_array_get(next, 0), "utc")),
                  "2024-03-10T07:00:00.000Z");
    ASSERT_STR_EQ(json_string_value(json_object_get(json_array_get(next, 0), "local")),
                  "2024-03-10T03:00:00.000-04:00");
    ASSERT_STR_EQ(json_string_value(json_object_get(json_array_get(next, 1), "local")),
                  "2024-03-11T02:30:00.000-04:00");
    json_decref(out);
    out =
        preview("{\"cron\":\"@hourly\",\"timezone\":\"UTC\"}", TC_OK); /* n defaults, from = now */
    ASSERT_EQ(json_array_size(json_object_get(out, "next")), 10);
    ASSERT_STR_EQ(
        json_string_value(json_object_get(json_array_get(json_object_get(out, "next"), 0), "utc")),
        "2023-11-14T23:00:00.000Z");
    json_decref(out);
}

static void expect_error(const char *body, tc_status st, const char *field, const char *msg)
{
    json_t *out = preview(body, st);
    json_t *e = json_object_get(out, "error");
    ASSERT_STR_EQ(json_string_value(json_object_get(e, "field")), field);
    ASSERT_STR_CONTAINS(json_string_value(json_object_get(e, "message")), msg);
    ASSERT_STR_EQ(json_string_value(json_object_get(e, "code")), tc_status_code(st));
    json_decref(out);
}

TEST(preview_errors)
{
    json_t *out = preview("{\"cron\":\"0 61 * * *\",\"timezone\":\"UTC\"}", TC_VALIDATION);
    json_t *e = json_object_get(out, "error");
    ASSERT_EQ(json_integer_value(json_object_get(e, "position")), 2);
    ASSERT_STR_EQ(json_string_value(json_object_get(e, "cron_field")), "hour");
    ASSERT_STR_EQ(json_string_value(json_object_get(e, "field")), "cron");
    ASSERT_STR_EQ(json_string_value(json_object_get(e, "message")),
                  "hour: 61 is out of range 0-23 at position 2");
    json_decref(out);
    expect_error("[1]", TC_BAD_REQUEST, "", "JSON object");
    expect_error("{\"timezone\":\"UTC\"}", TC_VALIDATION, "cron", "required");
    expect_error("{\"cron\":5,\"timezone\":\"UTC\"}", TC_VALIDATION, "cron", "string");
    expect_error("{\"cron\":\"* * * * *\"}", TC_VALIDATION, "timezone", "required");
    expect_error("{\"cron\":\"* * * * *\",\"timezone\":\"Nowhere/City\"}", TC_VALIDATION,
                 "timezone", "unknown time zone");
    expect_error("{\"cron\":\"* * * * *\",\"timezone\":\"UTC\",\"n\":0}", TC_VALIDATION, "n",
                 "1 to 100");
    expect_error("{\"cron\":\"* * * * *\",\"timezone\":\"UTC\",\"n\":101}", TC_VALIDATION, "n",
                 "1 to 100");
    expect_error("{\"cron\":\"* * * * *\",\"timezone\":\"UTC\",\"n\":\"5\"}", TC_VALIDATION, "n",
                 "1 to 100");
    expect_error("{\"cron\":\"* * * * *\",\"timezone\":\"UTC\",\"from\":\"yesterday\"}",
                 TC_VALIDATION, "from", "RFC 3339");
}

/* ---- tick ------------------------------------------------------------------------ */

static tc_sched_entry entry(const tc_cron *c, const tc_tz *tz)
{
    return (tc_sched_entry){c, tz, 0, TC_OVERLAP_SKIP, TC_MISFIRE_RUN_ONCE, true, false};
}

static int64_t at(const char *rfc3339)
{
    int64_t t = 0;
    if (tc_time_parse(rfc3339, &t) != TC_OK)
        tc_test_fail(__FILE__, __LINE__, "bad time %s", rfc3339);
    return t;
}

TEST(tick_fires_each_due_time_once)
{
    tc_cron every_min, hourly;
    const tc_tz *utc;
    ASSERT_OK(tc_cron_parse("* * * * *", &every_min, NULL));
    ASSERT_OK(tc_cron_parse("0 * * * *", &hourly, NULL));
    ASSERT_OK(tc_tz_load("UTC", &utc, NULL));
    tc_sched_entry e[3] = {entry(&every_min, utc), entry(&hourly, utc), entry(&every_min, utc)};
    e[2].enabled = false;
    tc_sched_fire f[4];
    /* first tick only schedules */
    ASSERT_EQ(tc_sched_tick(e, 3, at("2024-01-01T00:59:30Z"), 1000, f, 4), 0);
    ASSERT_EQ(e[0].next_due_ms, at("2024-01-01T01:00:00Z"));
    ASSERT_EQ(e[1].next_due_ms, at("2024-01-01T01:00:00Z"));
    ASSERT_EQ(e[2].next_due_ms, 0);
    ASSERT_EQ(tc_sched_tick(e, 3, at("2024-01-01T00:59:59.900Z"), 1000, f, 4), 0);
    /* at 01:00:00.2 both are due */
    ASSERT_EQ(tc_sched_tick(e, 3, at("2024-01-01T01:00:00.200Z"), 1000, f, 4), 2);
    ASSERT_EQ(f[0].index, 0);
    ASSERT_EQ(f[0].due_ms, at("2024-01-01T01:00:00Z"));
    ASSERT_EQ(f[0].kind, TC_FIRE_RUN);
    ASSERT_FALSE(f[0].late);
    ASSERT_EQ(f[1].index, 1);
    /* the same due time never fires twice */
    ASSERT_EQ(tc_sched_tick(e, 3, at("2024-01-01T01:00:00.900Z"), 1000, f, 4), 0);
    ASSERT_EQ(e[0].next_due_ms, at("2024-01-01T01:01:00Z"));
    ASSERT_EQ(e[1].next_due_ms, at("2024-01-01T02:00:00Z"));
}

TEST(tick_misfire_after_downtime)
{
    tc_cron c;
    const tc_tz *utc;
    ASSERT_OK(tc_cron_parse("*/5 * * * *", &c, NULL));
    ASSERT_OK(tc_tz_load("UTC", &utc, NULL));
    tc_sched_entry e[2] = {entry(&c, utc), entry(&c, utc)};
    e[1].misfire = TC_MISFIRE_SKIP;
    e[0].next_due_ms = e[1].next_due_ms = at("2024-01-01T00:05:00Z"); /* persisted */
    tc_sched_fire f[4];
    /* down for an hour: 12 due times collapse into one fire */
    ASSERT_EQ(tc_sched_tick(e, 2, at("2024-01-01T01:02:00Z"), 1000, f, 4), 2);
    ASSERT_EQ(f[0].kind, TC_FIRE_RUN);
    ASSERT_TRUE(f[0].late);
    ASSERT_EQ(f[0].due_ms, at("2024-01-01T00:05:00Z"));
    ASSERT_EQ(f[1].kind, TC_FIRE_SKIPPED_MISFIRE);
    ASSERT_EQ(e[0].next_due_ms, at("2024-01-01T01:05:00Z"));
    ASSERT_EQ(e[1].next_due_ms, at("2024-01-01T01:05:00Z"));
}

TEST(tick_overlap_and_capacity)
{
    tc_cron c;
    const tc_tz *utc;
    ASSERT_OK(tc_cron_parse("* * * * *", &c, NULL));
    ASSERT_OK(tc_tz_load("UTC", &utc, NULL));
    tc_sched_entry e[3] = {entry(&c, utc), entry(&c, utc), entry(&c, utc)};
    for (int i = 0; i < 3; i++) {
        e[i].next_due_ms = at("2024-01-01T00:01:00Z");
        e[i].running = true;
    }
    e[1].overlap = TC_OVERLAP_ALLOW;
    tc_sched_fire f[2];
    ASSERT_EQ(tc_sched_tick(e, 3, at("2024-01-01T00:01:00.100Z"), 1000, f, 2), 2);
    ASSERT_EQ(f[0].kind, TC_FIRE_SKIPPED_OVERLAP);
    ASSERT_EQ(f[1].kind, TC_FIRE_RUN);
    ASSERT_EQ(e[2].next_due_ms, at("2024-01-01T00:01:00Z")); /* out full: still due */
    ASSERT_EQ(tc_sched_tick(e, 3, at("2024-01-01T00:01:00.300Z"), 1000, f, 2), 1);
    ASSERT_EQ(f[0].index, 2);
}

TEST(tick_dst_spring_forward_fixed_hour)
{
    tc_cron c;
    const tc_tz *ny;
    ASSERT_OK(tc_cron_parse("30 2 * * *", &c, NULL));
    ASSERT_OK(tc_tz_load("America/New_York", &ny, NULL));
    tc_sched_entry e = entry(&c, ny);
    tc_sched_fire f[1];
    tc_sched_tick(&e, 1, at("2024-03-09T12:00:00Z"), 1000, f, 1);
    ASSERT_EQ(e.next_due_ms, at("2024-03-10T07:00:00Z")); /* 03:00 EDT */
    ASSERT_EQ(tc_sched_tick(&e, 1, at("2024-03-10T07:00:00.500Z"), 1000, f, 1), 1);
    ASSERT_EQ(e.next_due_ms, at("2024-03-11T06:30:00Z"));
}

/* Random garbage from the cron alphabet never crashes, and every rejection
 * points inside the expression (run under ASan/UBSan in CI). */
TEST(parse_random_garbage)
{
    static const char alphabet[] = "0123456789*/,-? LW#@abcdefjmnorstuwyFMJSL\t";
    uint32_t state = 12345;
    for (int i = 0; i < 20000; i++) {
        char expr[40];
        state = state * 1103515245u + 12345u;
        size_t len = (state >> 16) % (sizeof(expr) - 1);
        for (size_t j = 0; j < len; j++) {
            state = state * 1103515245u + 12345u;
            expr[j] = alphabet[(state >> 16) % (sizeof(alphabet) - 1)];
        }
        expr[len] = '\0';
        tc_cron c;
        tc_cron_error e;
        if (tc_cron_parse(expr, &c, &e) != TC_OK) {
            if (e.position < 0 || (size_t)e.position > len || !e.field[0] || !e.message[0])
                tc_test_fail(__FILE__, __LINE__, "\"%s\": {%d, %s, %s}", expr, e.position, e.field,
                             e.message);
        } else {
            const tc_tz *tz;
            int64_t next;
            ASSERT_OK(tc_tz_load("Europe/Berlin", &tz, NULL));
            ASSERT_OK(tc_cron_next(&c, tz, 1700000000000, &next)); /* valid => fires */
        }
    }
}
