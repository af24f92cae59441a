#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "core/core.h"

static tc_log_level min_level = TC_LOG_INFO;
static tc_log_format format = TC_LOG_TEXT;
static int log_fd = 2;

static const char *const level_names[] = {"debug", "info", "warn", "error"};
static const char *const level_upper[] = {"DEBUG", "INFO", "WARN", "ERROR"};

void tc_log_setup(tc_log_level min, tc_log_format fmt, int fd)
{
    min_level = min;
    format = fmt;
    log_fd = fd;
}

tc_status tc_log_parse_level(const char *s, tc_log_level *out)
{
    for (int i = 0; i < 4; i++) {
        if (strcasecmp(s, level_names[i]) == 0) {
            *out = (tc_log_level)i;
            return TC_OK;
        }
    }
    if (strcasecmp(s, "warning") == 0) {
        *out = TC_LOG_WARN;
        return TC_OK;
    }
    return TC_BAD_REQUEST;
}

bool tc_log_enabled(tc_log_level l)
{
    return l >= min_level;
}

/* One log line is built in a stack buffer (no heap, no printf) and written
 * with one write(2), so concurrent lines never interleave. A value longer
 * than LOG_VALUE_MAX bytes is cut (at a UTF-8 boundary, marked "..."); a
 * field that does not fit in the line any more is left out, with
 * log_truncated=true instead, so every line stays parseable. */
#define LOG_LINE_MAX 8192
#define LOG_VALUE_MAX 2048
#define LOG_RESERVE 32 /* room for the truncation marker and the line end */

typedef struct line {
    char buf[LOG_LINE_MAX];
    size_t len;
    bool cut; /* something did not fit */
} line;

static void put(line *w, const char *s, size_t n)
{
    if (n > sizeof w->buf - LOG_RESERVE - w->len) {
        w->cut = true;
        return;
    }
    memcpy(w->buf + w->len, s, n);
    w->len += n;
}

/* The value's length to write: at most LOG_VALUE_MAX, not splitting a
 * UTF-8 sequence. *more tells it was cut. */
static size_t value_len(const char *s, bool *more)
{
    size_t n = strnlen(s, LOG_VALUE_MAX + 1);
    *more = n > LOG_VALUE_MAX;
    if (!*more)
        return n;
    n = LOG_VALUE_MAX;
    while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
        n--;
    return n;
}

static void json_str(line *w, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    bool more;
    const char *end = s + value_len(s, &more);
    put(w, "\"", 1);
    while (s < end) {
        const char *run = s; /* copy runs of plain bytes at once */
        while (s < end && (unsigned char)*s >= 0x20 && *s != '"' && *s != '\\')
            s++;
        put(w, run, (size_t)(s - run));
        if (s == end)
            break;
        unsigned char c = (unsigned char)*s++;
        if (c == '"' || c == '\\') {
            char e[2] = {'\\', (char)c};
            put(w, e, 2);
        } else {
            char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            put(w, e, 6);
        }
    }
    if (more)
        put(w, "...", 3);
    put(w, "\"", 1);
}

/* Text values with spaces, quotes or '=' are quoted so lines stay parseable. */
static void text_val(line *w, const char *s)
{
    bool more;
    size_t n = value_len(s, &more);
    if (n && !more && !strpbrk(s, " \"=\t\n")) {
        put(w, s, n);
        return;
    }
    json_str(w, s);
}

/* "YYYY-MM-DDTHH:MM:SS.mmmZ": the part up to the second is formatted once per
 * second per thread, the milliseconds are written by hand. */
static void timestamp(char out[32])
{
    static _Thread_local int64_t cached_sec = INT64_MIN;
    static _Thread_local char cached[32];
    int64_t ms = tc_now_ms();
    int64_t sec = ms >= 0 ? ms / 1000 : (ms - 999) / 1000;
    int frac = (int)(ms - sec * 1000);
    if (sec != cached_sec) {
        tc_time_format(sec * 1000, cached);
        cached_sec = sec;
    }
    memcpy(out, cached, 32);
    out[20] = (char)('0' + frac / 100);
    out[21] = (char)('0' + frac / 10 % 10);
    out[22] = (char)('0' + frac % 10);
}

static void put_str(line *w, const char *s)
{
    put(w, s, strlen(s));
}

void tc_log(tc_log_level l, const char *msg, ...)
{
    if (l < min_level)
        return;
    char ts[32];
    timestamp(ts);
    bool json = format == TC_LOG_JSON;
    line w;
    w.len = 0;
    w.cut = false;
    if (json) {
        put_str(&w, "{\"ts\":\"");
        put_str(&w, ts);
        put_str(&w, "\",\"level\":\"");
        put_str(&w, level_names[l]);
        put_str(&w, "\",\"msg\":");
    } else {
        put_str(&w, ts);
        put_str(&w, " ");
        put_str(&w, level_upper[l]);
        put_str(&w, " ");
    }
    size_t mark = w.len;
    if (json) {
        json_str(&w, msg);
    } else { /* as is, like before: messages are the caller's constants */
        bool more;
        put(&w, msg, value_len(msg, &more));
    }
    if (w.cut) { /* only a huge message of control bytes can get here */
        w.len = mark;
        put_str(&w, json ? "\"\"" : "-");
    }
    va_list ap;
    va_start(ap, msg);
    for (const char *k; !w.cut && (k = va_arg(ap, const char *));) {
        const char *v = va_arg(ap, const char *);
        mark = w.len;
        if (!v)
            v = "";
        if (json) {
            put_str(&w, ",");
            json_str(&w, k);
            put_str(&w, ":");
            json_str(&w, v);
        } else {
            put_str(&w, " ");
            text_val(&w, k);
            put_str(&w, "=");
            text_val(&w, v);
        }
        if (w.cut)
            w.len = mark; /* the field did not fit: leave it out */
    }
    va_end(ap);
    const char *end = json ? "}\n" : "\n";
    if (w.cut)
        end = json ? ",\"log_truncated\":\"true\"}\n" : " log_truncated=true\n";
    memcpy(w.buf + w.len, end, strlen(end)); /* LOG_RESERVE keeps room */
    w.len += strlen(end);
    ssize_t wr = write(log_fd, w.buf, w.len);
    (void)wr;
}
