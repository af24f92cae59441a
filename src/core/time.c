#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/core.h"

int64_t tc_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t tc_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void tc_time_format(int64_t ms, char out[32])
{
    time_t secs = (time_t)(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
    int frac = (int)(ms - (int64_t)secs * 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    /* Years past 9999 are clamped: RFC 3339 has four digits. */
    int year = tm.tm_year + 1900;
    if (year > 9999)
        year = 9999;
    if (year < 0)
        year = 0;
    snprintf(out, 32, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", year & 0x3fff,
             (tm.tm_mon + 1) & 31, tm.tm_mday & 31, tm.tm_hour & 31, tm.tm_min & 63,
             tm.tm_sec & 63, frac % 1000);
}

static int digits(const char **p, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++, (*p)++) {
        if (!isdigit((unsigned char)**p))
            return -1;
        v = v * 10 + (**p - '0');
    }
    return v;
}

static int days_in_month(int y, int m)
{
    static const int d[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : d[m - 1];
}

tc_status tc_time_parse(const char *s, int64_t *ms)
{
    const char *p = s;
    int y = digits(&p, 4);
    if (y < 0 || *p++ != '-')
        return TC_BAD_REQUEST;
    int mo = digits(&p, 2);
    if (mo < 1 || mo > 12 || *p++ != '-')
        return TC_BAD_REQUEST;
    int d = digits(&p, 2);
    if (d < 1 || d > days_in_month(y, mo) || (*p != 'T' && *p != 't' && *p != ' '))
        return TC_BAD_REQUEST;
    p++;
    int h = digits(&p, 2);
    if (h < 0 || h > 23 || *p++ != ':')
        return TC_BAD_REQUEST;
    int mi = digits(&p, 2);
    if (mi < 0 || mi > 59 || *p++ != ':')
        return TC_BAD_REQUEST;
    int sec = digits(&p, 2);
    if (sec < 0 || sec > 60)
        return TC_BAD_REQUEST;
    int frac = 0;
    if (*p == '.') {
        p++;
        int scale = 100, nd = 0;
        for (; isdigit((unsigned char)*p); p++, nd++) {
            frac += (*p - '0') * scale;
            scale /= 10;
        }
        if (nd == 0)
            return TC_BAD_REQUEST;
    }
    int offset = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int sign = *p++ == '-' ? -1 : 1;
        int oh = digits(&p, 2);
        if (oh < 0 || oh > 23 || *p++ != ':')
            return TC_BAD_REQUEST;
        int om = digits(&p, 2);
        if (om < 0 || om > 59)
            return TC_BAD_REQUEST;
        offset = sign * (oh * 60 + om);
    } else {
        return TC_BAD_REQUEST;
    }
    if (*p)
        return TC_BAD_REQUEST;
    struct tm tm = {.tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d,
                    .tm_hour = h, .tm_min = mi, .tm_sec = sec > 59 ? 59 : sec};
    int64_t secs = (int64_t)timegm(&tm) - (int64_t)offset * 60;
    *ms = secs * 1000 + frac;
    return TC_OK;
}
