/* cron: expression parser and the next-run search.
 *
 * Fields become bit sets; day matching is computed per month as a 31-bit mask
 * (so L, W and # cost nothing extra). The next run is found by walking the
 * zone's constant-offset segments in UTC order and, within each, searching
 * the wall clock; DST gaps and overlaps are the segment boundaries, which is
 * where the policy (see scheduler.h) is applied. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "scheduler/sched_int.h"

#define YEAR_MAX 9999
#define NFIELDS 6

enum { F_SEC, F_MIN, F_HOUR, F_DOM, F_MON, F_DOW };

typedef struct {
    const char *name;
    int min, max;             /* accepted values (day-of-week accepts 7 = Sunday) */
    int star_max;             /* upper end of * and a/n */
    const char *const *names; /* 3-letter names for values from min, or NULL */
} field_spec;

static const char *const month_names[] = {"JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL",
                                          "AUG", "SEP", "OCT", "NOV", "DEC", NULL};
static const char *const day_names[] = {"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT", NULL};

static const field_spec specs[NFIELDS] = {
    {"second", 0, 59, 59, NULL},       {"minute", 0, 59, 59, NULL},
    {"hour", 0, 23, 23, NULL},         {"day-of-month", 1, 31, 31, NULL},
    {"month", 1, 12, 12, month_names}, {"day-of-week", 0, 7, 6, day_names},
};

static const struct {
    const char *name;
    const char *expansion;
} macros[] = {
    {"@yearly", "0 0 1 1 *"}, {"@annually", "0 0 1 1 *"}, {"@monthly", "0 0 1 * *"},
    {"@weekly", "0 0 * * 0"}, {"@daily", "0 0 * * *"},    {"@midnight", "0 0 * * *"},
    {"@hourly", "0 * * * *"},
};

/* ---- parsing --------------------------------------------------------------- */

typedef struct {
    const char *expr; /* whole expression, for positions */
    const char *p;    /* cursor inside the current field */
    const char *end;  /* end of the current field */
    int field;
    tc_cron *c;
    tc_cron_error *err;
} parser;

__attribute__((format(printf, 3, 4))) static tc_status fail(parser *ps, const char *at,
                                                            const char *fmt, ...)
{
    if (!ps->err)
        return TC_VALIDATION;
    char reason[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof(reason), fmt, ap);
    va_end(ap);
    const char *fname = ps->field >= 0 ? specs[ps->field].name : "expression";
    ps->err->position = (int)(at - ps->expr);
    snprintf(ps->err->field, sizeof(ps->err->field), "%s", fname);
    snprintf(ps->err->message, sizeof(ps->err->message), "%s: %s at position %d", fname, reason,
             ps->err->position);
    return TC_VALIDATION;
}

static bool is_digit(char ch)
{
    return ch >= '0' && ch <= '9';
}

static bool is_alpha(char ch)
{
    return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z');
}

/* A number or a 3-letter name of this field; -1 with the error set if bad. */
static int parse_value(parser *ps, tc_status *st)
{
    const field_spec *f = &specs[ps->field];
    const char *s = ps->p;
    if (is_digit(*s)) {
        int v = 0;
        while (ps->p < ps->end && is_digit(*ps->p) && v < 1000)
            v = v * 10 + (*ps->p++ - '0');
        if (v < f->min || v > f->max) {
            *st = fail(ps, s, "%.*s is out of range %d-%d", (int)(ps->p - s), s, f->min, f->max);
            return -1;
        }
        return v;
    }
    if (f->names && ps->end - s >= 3 && is_alpha(s[0]) && is_alpha(s[1]) && is_alpha(s[2])) {
        for (int i = 0; f->names[i]; i++)
            if (!strncasecmp(s, f->names[i], 3)) {
                ps->p += 3;
                return f->min + i;
            }
    }
    if (ps->p >= ps->end || *s == ',')
        *st = fail(ps, s, "a value is missing");
    else if (is_alpha(*s) && f->names)
        *st = fail(ps, s, "unknown name \"%.*s\" (use %s-%s)",
                   (int)(ps->end - s < 3 ? ps->end - s : 3), s, f->names[0],
                   ps->field == F_MON ? "DEC" : "SAT");
    else
        *st = fail(ps, s, "unexpected character '%c'", *s);
    return -1;
}

static void set_bit(tc_cron *c, int field, int v)
{
    switch (field) {
    case F_SEC:
        c->sec |= 1ull << v;
        break;
    case F_MIN:
        c->min |= 1ull << v;
        break;
    case F_HOUR:
        c->hour |= 1u << v;
        break;
    case F_DOM:
        c->dom |= 1u << v;
        break;
    case F_MON:
        c->month |= (uint16_t)(1u << v);
        break;
    default:
        c->dow |= (uint8_t)(1u << (v % 7));
        break;
    }
}

/* Day-of-month specials: L, LW, nW. Returns DECLINED when the item is not one. */
static tc_status parse_dom_special(parser *ps)
{
    const char *s = ps->p;
    size_t len = (size_t)(ps->end - s);
    const char *comma = memchr(s, ',', len);
    size_t item = comma ? (size_t)(comma - s) : len;
    if (item == 1 && (*s == 'L' || *s == 'l')) {
        ps->c->dom_last = true;
        ps->p += 1;
        return TC_OK;
    }
    if (item == 2 && !strncasecmp(s, "LW", 2)) {
        ps->c->dom_last_wd = true;
        ps->p += 2;
        return TC_OK;
    }
    if (item < 2 || (s[item - 1] != 'W' && s[item - 1] != 'w'))
        return TC_DECLINED;
    tc_status st = TC_OK;
    int v = parse_value(ps, &st);
    if (v < 0)
        return st;
    if (ps->p != s + item - 1)
        return fail(ps, s, "W takes a single day, e.g. 15W");
    ps->c->dom_w |= 1u << v;
    ps->p++;
    return TC_OK;
}

/* Day-of-week suffixes after a single weekday: nL, n#L, n#k. */
static tc_status parse_dow_suffix(parser *ps, int v, bool *done)
{
    const char *s = ps->p;
    *done = true;
    if (ps->p < ps->end && (*s == 'L' || *s == 'l')) {
        ps->c->dow_last |= (uint8_t)(1u << (v % 7));
        ps->p++;
        return TC_OK;
    }
    if (ps->p >= ps->end || *s != '#') {
        *done = false;
        return TC_OK;
    }
    ps->p++;
    if (ps->p < ps->end && (*ps->p == 'L' || *ps->p == 'l')) {
        ps->c->dow_last |= (uint8_t)(1u << (v % 7));
        ps->p++;
        return TC_OK;
    }
    if (ps->p >= ps->end || !is_digit(*ps->p) || *ps->p < '1' || *ps->p > '5' ||
        (ps->p + 1 < ps->end && is_digit(ps->p[1])))
        return fail(ps, ps->p, "# must be followed by 1-5 or L (e.g. MON#2)");
    ps->c->dow_nth[v % 7] |= (uint8_t)(1u << (*ps->p - '0'));
    ps->p++;
    return TC_OK;
}

/* One list item: * | ? | v | v-w, then optional /step; or a day special. */
static tc_status parse_item(parser *ps)
{
    const field_spec *f = &specs[ps->field];
    const char *s = ps->p;
    tc_status st = TC_OK;
    if (ps->field == F_DOM && (st = parse_dom_special(ps)) != TC_DECLINED)
        return st;
    int lo, hi;
    bool star = *s == '*' || (*s == '?' && (ps->field == F_DOM || ps->field == F_DOW));
    if (star) {
        ps->p++;
        lo = f->min;
        hi = f->star_max;
    } else {
        if ((lo = parse_value(ps, &st)) < 0)
            return st;
        hi = lo;
        if (ps->field == F_DOW) {
            bool done;
            if ((st = parse_dow_suffix(ps, lo, &done)) != TC_OK || done)
                return st;
        }
        if (ps->p < ps->end && *ps->p == '-') {
            ps->p++;
            if ((hi = parse_value(ps, &st)) < 0)
                return st;
            if (ps->field == F_DOW && hi == 0)
                hi = 7; /* FRI-SUN: Sunday closes the week */
            if (hi < lo)
                return fail(ps, s, "range %.*s goes backwards", (int)(ps->p - s), s);
        }
    }
    int step = 1;
    if (ps->p < ps->end && *ps->p == '/') {
        const char *sp = ++ps->p;
        step = 0;
        while (ps->p < ps->end && is_digit(*ps->p) && step < 1000)
            step = step * 10 + (*ps->p++ - '0');
        if (ps->p == sp)
            return fail(ps, sp, "a step is missing after /");
        if (step < 1 || step > f->star_max - f->min + 1)
            return fail(ps, sp, "step %d is out of range 1-%d", step, f->star_max - f->min + 1);
        if (!star && hi == lo)
            hi = f->star_max; /* a/n means a-max/n */
    }
    for (int v = lo; v <= hi; v += step)
        set_bit(ps->c, ps->field, v);
    return TC_OK;
}

static tc_status parse_field(parser *ps)
{
    const char *s = ps->p;
    size_t len = (size_t)(ps->end - s);
    if ((len == 1 && (*s == '*' || *s == '?')) && ps->field == F_DOM)
        ps->c->dom_star = true;
    if ((len == 1 && (*s == '*' || *s == '?')) && ps->field == F_DOW)
        ps->c->dow_star = true;
    if (ps->field == F_HOUR && (memchr(s, '*', len) || memchr(s, '/', len)))
        ps->c->interval = true;
    for (;;) {
        tc_status st = parse_item(ps);
        if (st != TC_OK)
            return st;
        if (ps->p == ps->end)
            return TC_OK;
        if (*ps->p != ',')
            return fail(ps, ps->p, "unexpected character '%c'", *ps->p);
        if (++ps->p == ps->end)
            return fail(ps, ps->p, "a value is missing after ','");
    }
}

/* ---- day matching ---------------------------------------------------------- */

static uint32_t bit(int d)
{
    return 1u << d;
}

/* Weekday closest to day k (1..n) inside the month whose 1st is weekday wd0. */
static int nearest_weekday(int k, int n, int wd0)
{
    int wd = (wd0 + k - 1) % 7;
    if (wd == 6)
        return k == 1 ? 3 : k - 1;
    if (wd == 0)
        return k == n ? k - 2 : k + 1;
    return k;
}

static uint32_t dom_mask(const tc_cron *c, int n, int wd0)
{
    uint32_t full = (uint32_t)((2ull << n) - 2); /* bits 1..n */
    uint32_t m = c->dom & full;
    if (c->dom_last)
        m |= bit(n);
    if (c->dom_last_wd)
        m |= bit(nearest_weekday(n, n, wd0));
    for (uint32_t w = c->dom_w & full; w; w &= w - 1)
        m |= bit(nearest_weekday(__builtin_ctz(w), n, wd0));
    return m;
}

static uint32_t dow_mask(const tc_cron *c, int n, int wd0)
{
    uint32_t m = 0;
    for (int w = 0; w < 7; w++) {
        int first = 1 + (w - wd0 + 7) % 7;
        if (c->dow >> w & 1)
            for (int d = first; d <= n; d += 7)
                m |= bit(d);
        if (c->dow_last >> w & 1)
            m |= bit(first + (n - first) / 7 * 7);
        for (int k = 1; k <= 5; k++)
            if ((c->dow_nth[w] >> k & 1) && first + (k - 1) * 7 <= n)
                m |= bit(first + (k - 1) * 7);
    }
    return m;
}

/* Bit d set when day d of month m of year y matches (bit 0 unused). */
static uint32_t day_mask(const tc_cron *c, int64_t y, int m)
{
    int n = tc_sched__mdays(y, m);
    int wd0 = tc_sched__weekday(tc_sched__days_from_civil(y, m, 1));
    if (c->dom_star && c->dow_star)
        return (uint32_t)((2ull << n) - 2);
    if (c->dom_star)
        return dow_mask(c, n, wd0);
    if (c->dow_star)
        return dom_mask(c, n, wd0);
    return dom_mask(c, n, wd0) | dow_mask(c, n, wd0); /* Vixie: either */
}

/* The Gregorian calendar repeats every 400 years, so a day pattern that
 * matches nothing in one 400-year cycle never matches. */
static bool matches_some_day(const tc_cron *c)
{
    for (int64_t y = 2000; y < 2400; y++)
        for (int m = 1; m <= 12; m++)
            if ((c->month >> m & 1) && day_mask(c, y, m))
                return true;
    return false;
}

/* ---- public: parse ----------------------------------------------------------- */

static tc_status parse_fields(parser *ps, const char *text)
{
    const char *start[NFIELDS + 1], *end[NFIELDS + 1];
    int n = 0;
    const char *p = text;
    for (;;) {
        while (*p == ' ' || *p == '\t')
            p++;
        if (!*p)
            break;
        if (n == NFIELDS)
            return fail(ps, p, "expected 5 or 6 fields, found more");
        start[n] = p;
        while (*p && *p != ' ' && *p != '\t')
            p++;
        end[n++] = p;
    }
    if (n < 5)
        return fail(ps, p, "expected 5 or 6 fields, found %d", n);
    int first = n == 5 ? F_MIN : F_SEC;
    if (n == 5)
        ps->c->sec = 1;
    for (int i = 0; i < n; i++) {
        ps->field = first + i;
        ps->p = start[i];
        ps->end = end[i];
        tc_status st = parse_field(ps);
        if (st != TC_OK)
            return st;
    }
    ps->field = ps->c->dom_star ? F_DOW : F_DOM;
    if (!matches_some_day(ps->c))
        return fail(ps, start[ps->field - first],
                    "no day in the selected months matches, so the expression can never fire");
    return TC_OK;
}

tc_status tc_cron_parse(const char *expr, tc_cron *out, tc_cron_error *err)
{
    tc_cron c;
    memset(&c, 0, sizeof(c));
    parser ps = {expr ? expr : "", NULL, NULL, -1, &c, err};
    if (err)
        memset(err, 0, sizeof(*err));
    if (!expr)
        return fail(&ps, ps.expr, "the expression is empty");
    size_t len = strnlen(expr, TC_CRON_EXPR_MAX + 1);
    if (len > TC_CRON_EXPR_MAX)
        return fail(&ps, expr + TC_CRON_EXPR_MAX, "longer than %d characters", TC_CRON_EXPR_MAX);
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)expr[i] < 0x20 && expr[i] != '\t')
            return fail(&ps, expr + i, "control character in the expression");
    const char *text = expr;
    while (*text == ' ' || *text == '\t')
        text++;
    if (*text == '@') {
        size_t n = strcspn(text, " \t");
        const char *rest = text + n + strspn(text + n, " \t");
        for (size_t i = 0; i < sizeof(macros) / sizeof(macros[0]); i++)
            if (n == strlen(macros[i].name) && !strncasecmp(text, macros[i].name, n) && !*rest) {
                ps.expr = macros[i].expansion;
                tc_status st = parse_fields(&ps, macros[i].expansion);
                if (st == TC_OK)
                    *out = c;
                return st;
            }
        return fail(&ps, text,
                    "unknown macro \"%.*s\" (use @yearly, @annually, @monthly, "
                    "@weekly, @daily, @midnight or @hourly)",
                    (int)(n > 20 ? 20 : n), text);
    }
    tc_status st = parse_fields(&ps, text);
    if (st == TC_OK)
        *out = c;
    return st;
}

/* ---- next time on the wall clock ------------------------------------------- */

static int next_bit64(uint64_t set, int from, int limit)
{
    if (from >= limit)
        return -1;
    uint64_t m = set & (~0ull << from);
    return m ? __builtin_ctzll(m) : -1;
}

/* Earliest time of day at or after h:m:s; false when none is left today. */
static bool time_from(const tc_cron *c, int *h, int *m, int *s)
{
    for (int hh = next_bit64(c->hour, *h, 24); hh >= 0; hh = next_bit64(c->hour, hh + 1, 24)) {
        int mm = next_bit64(c->min, hh == *h ? *m : 0, 60);
        for (; mm >= 0; mm = next_bit64(c->min, mm + 1, 60)) {
            int ss = next_bit64(c->sec, hh == *h && mm == *m ? *s : 0, 60);
            if (ss >= 0) {
                *h = hh, *m = mm, *s = ss;
                return true;
            }
        }
    }
    return false;
}

/* First matching wall-clock second in [lo, hi) (wall = local time counted
 * as if it were UTC). */
static bool next_wall(const tc_cron *c, int64_t lo, int64_t hi, int64_t *out)
{
    int64_t days = tc_sched__floor_div(lo, TC_SCHED__DAY), y;
    int m, d, sod = (int)(lo - days * TC_SCHED__DAY);
    tc_sched__civil_from_days(days, &y, &m, &d);
    int h = sod / 3600, mi = sod / 60 % 60, s = sod % 60;
    for (; y <= YEAR_MAX; d = 1, h = mi = s = 0) {
        if (tc_sched__days_from_civil(y, m, d) * TC_SCHED__DAY >= hi)
            return false;
        uint32_t mask = (c->month >> m & 1) ? day_mask(c, y, m) & ~(bit(d) - 1) : 0;
        for (; mask; mask &= mask - 1, h = mi = s = 0) {
            int dd = __builtin_ctz(mask);
            if (dd != d)
                h = mi = s = 0;
            d = dd;
            if (!time_from(c, &h, &mi, &s))
                continue;
            int64_t w =
                tc_sched__days_from_civil(y, m, dd) * TC_SCHED__DAY + h * 3600 + mi * 60 + s;
            if (w >= hi)
                return false;
            *out = w;
            return true;
        }
        if (++m > 12) {
            m = 1;
            y++;
        }
    }
    return false;
}

/* ---- public: next ---------------------------------------------------------- */

tc_status tc_cron_next(const tc_cron *c, const tc_tz *tz, int64_t after_ms, int64_t *next_ms)
{
    const int64_t t_max = tc_sched__days_from_civil(YEAR_MAX + 1, 1, 1) * TC_SCHED__DAY;
    int64_t t0 = tc_sched__floor_div(after_ms, 1000) + 1;
    for (int64_t t = t0; t < t_max;) {
        tc_tz__seg sg;
        tc_tz__segment(tz, t, &sg);
        bool bounded = sg.start != INT64_MIN;
        int64_t w;
        /* Spring-forward gap just before this segment: fixed-hour schedules
         * run at its end (the first valid instant) for a skipped match. */
        if (!c->interval && bounded && sg.start >= t0 && sg.off > sg.prev_off &&
            next_wall(c, sg.start + sg.prev_off, sg.start + sg.off, &w)) {
            *next_ms = sg.start * 1000;
            return TC_OK;
        }
        int64_t lo = t + sg.off;
        /* Fall-back overlap: fixed-hour schedules already ran the first time. */
        if (!c->interval && bounded && sg.off < sg.prev_off && lo < sg.start + sg.prev_off)
            lo = sg.start + sg.prev_off;
        int64_t hi = sg.end == INT64_MAX ? INT64_MAX : sg.end + sg.off;
        if (lo < hi && next_wall(c, lo, hi, &w)) {
            *next_ms = (w - sg.off) * 1000;
            return TC_OK;
        }
        if (sg.end == INT64_MAX)
            break;
        t = sg.end;
    }
    return TC_NOT_FOUND;
}
