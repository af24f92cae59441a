/* tz: IANA time zones read straight from TZif files (RFC 8536).
 *
 * Why not setenv("TZ") + localtime_r: the process TZ is global state, so
 * switching it per schedule is not thread-safe. Instead we parse the version 2+
 * (64-bit) data block of /usr/share/zoneinfo/<name> ourselves, and the POSIX
 * TZ footer string for instants after the last listed transition. Loaded
 * zones are immutable and cached for the process lifetime. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "scheduler/sched_int.h"

#define TZ_FILE_MAX (1 << 20) /* largest TZif file we read */
#define TZ_TRANS_MAX 20000    /* transitions in one file */
#define TZ_CACHE_SLOTS 4096   /* at most half are used: ~600 names x aliases fit */
#define TZ_RULE_HOURS_MAX 167 /* RFC 8536 extension of POSIX times */

/* One end of a POSIX DST rule: day form plus local time of day (seconds). */
typedef struct {
    char kind; /* 'M' (month.week.weekday), 'J' (1..365, no Feb 29), 'N' (0..365) */
    int month, week, wday, yday;
    int32_t time;
} tz_rule;

struct tc_tz {
    char name[TC_TZ_NAME_MAX + 1];
    size_t n;        /* explicit transitions */
    int64_t *at;     /* transition instants, ascending */
    int32_t *off;    /* offset in effect from at[i] */
    int32_t off0;    /* offset before at[0] (time type 0) */
    bool has_footer; /* footer gives the offset after at[n-1] */
    bool has_dst;    /* footer has a DST rule */
    int32_t std_off, dst_off;
    tz_rule start, end; /* DST starts / ends */
};

/* ---- POSIX TZ string (the TZif footer) ----------------------------------- */

typedef struct {
    const char *p;
    bool ok;
} tz_lex;

static int lex_num(tz_lex *x, int max)
{
    int v = 0, nd = 0;
    for (; *x->p >= '0' && *x->p <= '9' && nd < 4; x->p++, nd++)
        v = v * 10 + (*x->p - '0');
    if (nd == 0 || v > max)
        x->ok = false;
    return v;
}

static void lex_name(tz_lex *x)
{
    if (*x->p == '<') {
        const char *e = strchr(x->p, '>');
        if (!e || e - x->p < 2)
            x->ok = false;
        x->p = e ? e + 1 : x->p + strlen(x->p);
        return;
    }
    const char *s = x->p;
    while ((*x->p >= 'A' && *x->p <= 'Z') || (*x->p >= 'a' && *x->p <= 'z'))
        x->p++;
    if (x->p - s < 3)
        x->ok = false;
}

/* [+-]hh[:mm[:ss]] in seconds, sign as written. */
static int32_t lex_hms(tz_lex *x, int max_hours)
{
    int sign = 1;
    if (*x->p == '+' || *x->p == '-')
        sign = *x->p++ == '-' ? -1 : 1;
    int32_t v = lex_num(x, max_hours) * 3600;
    if (*x->p == ':') {
        x->p++;
        v += lex_num(x, 59) * 60;
        if (*x->p == ':') {
            x->p++;
            v += lex_num(x, 59);
        }
    }
    return sign * v;
}

static void lex_rule(tz_lex *x, tz_rule *r)
{
    memset(r, 0, sizeof(*r));
    if (*x->p == 'M') {
        x->p++;
        r->kind = 'M';
        r->month = lex_num(x, 12);
        x->ok = x->ok && r->month >= 1 && *x->p++ == '.';
        r->week = lex_num(x, 5);
        x->ok = x->ok && r->week >= 1 && *x->p++ == '.';
        r->wday = lex_num(x, 6);
    } else if (*x->p == 'J') {
        x->p++;
        r->kind = 'J';
        r->yday = lex_num(x, 365);
        x->ok = x->ok && r->yday >= 1;
    } else {
        r->kind = 'N';
        r->yday = lex_num(x, 365);
    }
    r->time = 7200; /* POSIX default 02:00 */
    if (*x->p == '/') {
        x->p++;
        r->time = lex_hms(x, TZ_RULE_HOURS_MAX);
    }
}

/* Parses e.g. "CET-1CEST,M3.5.0,M10.5.0/3" or "<+0330>-3:30". */
static bool parse_footer(tc_tz *tz, const char *s)
{
    tz_lex x = {s, true};
    lex_name(&x);
    tz->std_off = -lex_hms(&x, 24);
    if (!x.ok)
        return false;
    tz->has_footer = true;
    if (*x.p == '\0')
        return true;
    lex_name(&x);
    tz->dst_off = tz->std_off + 3600;
    if (*x.p != ',' && *x.p != '\0')
        tz->dst_off = -lex_hms(&x, 24);
    if (*x.p == ',') {
        x.p++;
        lex_rule(&x, &tz->start);
        x.ok = x.ok && *x.p++ == ',';
        if (x.ok)
            lex_rule(&x, &tz->end);
    } else { /* POSIX leaves it to the implementation; use the US rule */
        tz->start = (tz_rule){'M', 3, 2, 0, 0, 7200};
        tz->end = (tz_rule){'M', 11, 1, 0, 0, 7200};
    }
    tz->has_dst = x.ok && *x.p == '\0';
    if (!tz->has_dst)
        tz->has_footer = false;
    return tz->has_footer;
}

/* The UTC instant at which rule r fires in year y, given the offset in
 * effect just before it (rule times are in that local time). */
static int64_t rule_instant(const tz_rule *r, int64_t y, int32_t off_before)
{
    int64_t day;
    if (r->kind == 'M') {
        int64_t first = tc_sched__days_from_civil(y, r->month, 1);
        day = first + (r->wday - tc_sched__weekday(first) + 7) % 7 + (r->week - 1) * 7;
        while (day - first >= tc_sched__mdays(y, r->month))
            day -= 7;
    } else if (r->kind == 'J') {
        day =
            tc_sched__days_from_civil(y, 1, 1) + r->yday - 1 + (tc_sched__leap(y) && r->yday >= 60);
    } else {
        day = tc_sched__days_from_civil(y, 1, 1) + r->yday;
    }
    return day * TC_SCHED__DAY + r->time - off_before;
}

/* ---- TZif ---------------------------------------------------------------- */

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int64_t be64(const unsigned char *p)
{
    return (int64_t)((uint64_t)be32(p) << 32 | be32(p + 4));
}

typedef struct {
    uint32_t isut, isstd, leap, time, type, chars;
} tzif_counts;

static bool read_counts(const unsigned char *p, size_t len, tzif_counts *c)
{
    if (len < 44 || memcmp(p, "TZif", 4) != 0)
        return false;
    c->isut = be32(p + 20);
    c->isstd = be32(p + 24);
    c->leap = be32(p + 28);
    c->time = be32(p + 32);
    c->type = be32(p + 36);
    c->chars = be32(p + 40);
    return c->time <= TZ_TRANS_MAX && c->type >= 1 && c->type <= 256 && c->chars <= 4096 &&
           c->leap <= 1000 && c->isut <= 256 && c->isstd <= 256;
}

static size_t block_size(const tzif_counts *c, size_t tsize)
{
    return c->time * (tsize + 1) + c->type * 6 + c->chars + c->leap * (tsize + 4) + c->isstd +
           c->isut;
}

/* Fills tz from a whole TZif file. Only the 64-bit (v2+) block is used. */
static tc_status parse_tzif(tc_tz *tz, const unsigned char *buf, size_t len, tc_err *err)
{
    tzif_counts c1, c;
    if (!read_counts(buf, len, &c1) || buf[4] < '2')
        return tc_failf(err, TC_INTERNAL, "timezone", "%s: not a TZif version 2+ file", tz->name);
    size_t off2 = 44 + block_size(&c1, 4);
    if (off2 > len || !read_counts(buf + off2, len - off2, &c))
        return tc_failf(err, TC_INTERNAL, "timezone", "%s: truncated TZif file", tz->name);
    if (c.leap > 0)
        return tc_failf(err, TC_VALIDATION, "timezone",
                        "%s: zones with leap seconds are not supported", tz->name);
    const unsigned char *d = buf + off2 + 44;
    size_t need = block_size(&c, 8);
    if (need > len - off2 - 44)
        return tc_failf(err, TC_INTERNAL, "timezone", "%s: truncated TZif file", tz->name);
    const unsigned char *idx = d + c.time * 8, *types = idx + c.time;
    tz->n = c.time;
    tz->at = tc_calloc(c.time + 1, sizeof(int64_t));
    tz->off = tc_calloc(c.time + 1, sizeof(int32_t));
    tz->off0 = (int32_t)be32(types);
    for (uint32_t i = 0; i < c.time; i++) {
        if (idx[i] >= c.type || (i > 0 && be64(d + i * 8) <= tz->at[i - 1]))
            return tc_failf(err, TC_INTERNAL, "timezone", "%s: corrupt TZif file", tz->name);
        tz->at[i] = be64(d + i * 8);
        tz->off[i] = (int32_t)be32(types + idx[i] * 6);
    }
    /* Footer: "\n<POSIX TZ>\n" right after the block; optional. */
    const char *f = (const char *)d + need;
    size_t flen = len - off2 - 44 - need;
    char footer[128];
    if (flen >= 2 && f[0] == '\n' && flen - 1 < sizeof(footer)) {
        memcpy(footer, f + 1, flen - 1);
        footer[flen - 1] = '\0';
        char *nl = strchr(footer, '\n');
        if (nl) {
            *nl = '\0';
            parse_footer(tz, footer);
        }
    }
    return TC_OK;
}

/* ---- segments ------------------------------------------------------------ */

typedef struct {
    int64_t at;
    int32_t off;
} tz_tr;

/* Transitions from the footer rule for years y-1..y+1, sorted, with the
 * no-change ones (e.g. "DST all year" rules) removed. Returns the count. */
static int rule_transitions(const tc_tz *tz, int64_t y, tz_tr out[6])
{
    int n = 0;
    for (int64_t yy = y - 1; yy <= y + 1; yy++) {
        out[n++] = (tz_tr){rule_instant(&tz->start, yy, tz->std_off), tz->dst_off};
        out[n++] = (tz_tr){rule_instant(&tz->end, yy, tz->dst_off), tz->std_off};
    }
    for (int i = 1; i < n; i++) /* insertion sort, 6 items */
        for (int j = i; j > 0 && out[j].at < out[j - 1].at; j--) {
            tz_tr t = out[j];
            out[j] = out[j - 1];
            out[j - 1] = t;
        }
    int m = 0;
    for (int i = 0; i < n; i++) {
        if (m > 0 && out[i].at == out[m - 1].at)
            m--; /* same instant: the later one wins */
        if (m > 0 && out[i].off == out[m - 1].off)
            continue;
        out[m++] = out[i];
    }
    return m;
}

/* Segment for t at or after the last explicit transition (or with none). */
static void rule_segment(const tc_tz *tz, int64_t t, tc_tz__seg *s)
{
    tz_tr tr[7];
    int64_t days = tc_sched__floor_div(t, TC_SCHED__DAY);
    int64_t y;
    int m, d;
    tc_sched__civil_from_days(days, &y, &m, &d);
    int n = 0;
    if (tz->n > 0)
        tr[n++] = (tz_tr){tz->at[tz->n - 1], tz->off[tz->n - 1]};
    tz_tr gen[6];
    int g = rule_transitions(tz, y, gen);
    int32_t before = tz->n > 1 ? tz->off[tz->n - 2] : tz->off0;
    if (tz->n == 0) /* rules alternate: what came before the first one */
        before = gen[0].off == tz->dst_off ? tz->std_off : tz->dst_off;
    for (int i = 0; i < g; i++)
        if ((n == 0 || gen[i].at > tr[n - 1].at) && (n == 0 || gen[i].off != tr[n - 1].off))
            tr[n++] = gen[i];
    int k = -1;
    for (int i = 0; i < n && tr[i].at <= t; i++)
        k = i;
    if (k < 0) {
        *s = (tc_tz__seg){INT64_MIN, tr[0].at, before, before};
        return;
    }
    s->start = tr[k].at;
    s->end = k + 1 < n ? tr[k + 1].at : INT64_MAX;
    s->off = tr[k].off;
    s->prev_off = k > 0 ? tr[k - 1].off : before;
}

void tc_tz__segment(const tc_tz *tz, int64_t t, tc_tz__seg *s)
{
    if (tz->n == 0 && tz->has_dst) {
        rule_segment(tz, t, s);
        return;
    }
    if (tz->n == 0 || t < tz->at[0]) {
        int32_t o = tz->n == 0 && tz->has_footer ? tz->std_off : tz->off0;
        *s = (tc_tz__seg){INT64_MIN, tz->n ? tz->at[0] : INT64_MAX, o, o};
        return;
    }
    size_t lo = 0, hi = tz->n; /* largest i with at[i] <= t */
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (tz->at[mid] <= t)
            lo = mid;
        else
            hi = mid;
    }
    if (lo == tz->n - 1 && tz->has_dst) {
        rule_segment(tz, t, s);
        return;
    }
    s->start = tz->at[lo];
    s->end = lo + 1 < tz->n ? tz->at[lo + 1] : INT64_MAX;
    s->off = tz->off[lo];
    s->prev_off = lo > 0 ? tz->off[lo - 1] : tz->off0;
}

int32_t tc_tz_offset(const tc_tz *tz, int64_t t)
{
    tc_tz__seg s;
    tc_tz__segment(tz, t, &s);
    return s.off;
}

const char *tc_tz_name(const tc_tz *tz)
{
    return tz->name;
}

void tc_tz_format_local(const tc_tz *tz, int64_t ms, char out[40])
{
    int64_t secs = tc_sched__floor_div(ms, 1000);
    int frac = (int)(ms - secs * 1000);
    int32_t off = tc_tz_offset(tz, secs);
    int64_t local = secs + off;
    int64_t days = tc_sched__floor_div(local, TC_SCHED__DAY), y;
    int m, d;
    tc_sched__civil_from_days(days, &y, &m, &d);
    int sod = (int)(local - days * TC_SCHED__DAY);
    int aoff = off < 0 ? -off : off;
    /* RFC 3339 offsets have minutes only; LMT seconds are truncated. */
    snprintf(out, 40, "%04d-%02d-%02dT%02d:%02d:%02d.%03d%c%02d:%02d",
             (int)(y < 0      ? 0
                   : y > 9999 ? 9999
                              : y),
             m, d, sod / 3600, sod / 60 % 60, sod % 60, frac, off < 0 ? '-' : '+',
             aoff / 3600 % 100, aoff / 60 % 60);
}

/* ---- loading and the cache ----------------------------------------------- */

/* IANA names: letters, digits, "_+-./"; no empty, "." or ".." components. */
static bool name_valid(const char *name)
{
    size_t len = strlen(name);
    if (len == 0 || len > TC_TZ_NAME_MAX || name[0] == '/' || name[len - 1] == '/')
        return false;
    for (const char *p = name; *p; p++) {
        bool ok = (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
                  (*p >= '0' && *p <= '9') || strchr("_+-./", *p);
        if (!ok || (*p == '/' && p[1] == '/'))
            return false;
        if (*p == '.' && (p == name || p[-1] == '/'))
            return false; /* hidden files, "." and ".." */
    }
    return true;
}

static tc_status read_file(const char *path, unsigned char **buf, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT || errno == ENOTDIR ? TC_NOT_FOUND : TC_IO;
    tc_status st = TC_IO;
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode) || sb.st_size > TZ_FILE_MAX) {
        st = TC_NOT_FOUND;
        goto out;
    }
    *buf = tc_malloc((size_t)sb.st_size + 1);
    size_t got = 0;
    while (got < (size_t)sb.st_size) {
        ssize_t r = read(fd, *buf + got, (size_t)sb.st_size - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    *len = got;
    st = TC_OK;
out:
    close(fd);
    return st;
}

static void tz_free(tc_tz *tz)
{
    if (!tz)
        return;
    tc_free(tz->at);
    tc_free(tz->off);
    tc_free(tz);
}

static tc_status tz_read(const char *name, tc_tz **out, tc_err *err)
{
    const char *dir = getenv("TZDIR");
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/%s", dir && *dir ? dir : "/usr/share/zoneinfo", name);
    tc_tz *tz = tc_calloc(1, sizeof(*tz));
    snprintf(tz->name, sizeof(tz->name), "%s", name);
    unsigned char *buf = NULL;
    size_t len = 0;
    tc_status st = read_file(path, &buf, &len);
    if (st == TC_NOT_FOUND && (!strcmp(name, "UTC") || !strcmp(name, "Etc/UTC"))) {
        *out = tz; /* no tzdata installed: UTC still works */
        return TC_OK;
    }
    if (st == TC_NOT_FOUND)
        tc_failf(err, st, "timezone", "unknown time zone \"%s\"", name);
    else if (st != TC_OK)
        tc_failf(err, st, "timezone", "cannot read time zone \"%s\"", name);
    else
        st = parse_tzif(tz, buf, len, err);
    tc_free(buf);
    if (st != TC_OK) {
        tz_free(tz);
        return st;
    }
    *out = tz;
    return TC_OK;
}

static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static tc_tz *cache[TZ_CACHE_SLOTS];
static size_t cache_count;

static size_t name_hash(const char *s)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h % TZ_CACHE_SLOTS;
}

tc_status tc_tz_load(const char *name, const tc_tz **out, tc_err *err)
{
    if (!name || !name_valid(name))
        return tc_failf(err, TC_VALIDATION, "timezone", "invalid time zone name \"%.64s\"",
                        name ? name : "");
    pthread_mutex_lock(&cache_lock);
    size_t i = name_hash(name), probes = 0;
    for (; cache[i] && probes < TZ_CACHE_SLOTS; i = (i + 1) % TZ_CACHE_SLOTS, probes++)
        if (!strcmp(cache[i]->name, name)) {
            *out = cache[i];
            pthread_mutex_unlock(&cache_lock);
            return TC_OK;
        }
    tc_tz *tz = NULL;
    tc_status st =
        cache_count < TZ_CACHE_SLOTS / 2
            ? tz_read(name, &tz, err)
            : tc_failf(err, TC_UNAVAILABLE, "timezone", "too many distinct time zones loaded");
    if (st == TC_OK) {
        cache[i] = tz;
        cache_count++;
        *out = tz;
    }
    pthread_mutex_unlock(&cache_lock);
    return st;
}
