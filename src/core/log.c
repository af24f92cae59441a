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

static void json_str(tc_buf *b, const char *s)
{
    tc_buf_append(b, "\"", 1);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            tc_buf_printf(b, "\\%c", c);
        else if (c < 0x20)
            tc_buf_printf(b, "\\u%04x", c);
        else
            tc_buf_append(b, s, 1);
    }
    tc_buf_append(b, "\"", 1);
}

/* Text values with spaces, quotes or '=' are quoted so lines stay parseable. */
static void text_val(tc_buf *b, const char *s)
{
    if (*s && !strpbrk(s, " \"=\t\n")) {
        tc_buf_puts(b, s);
        return;
    }
    json_str(b, s);
}

void tc_log(tc_log_level l, const char *msg, ...)
{
    if (l < min_level)
        return;
    char ts[32];
    tc_time_format(tc_now_ms(), ts);
    tc_buf b;
    tc_buf_init(&b, 16384);
    if (format == TC_LOG_JSON) {
        tc_buf_printf(&b, "{\"ts\":\"%s\",\"level\":\"%s\",\"msg\":", ts, level_names[l]);
        json_str(&b, msg);
    } else {
        tc_buf_printf(&b, "%s %s %s", ts, level_upper[l], msg);
    }
    va_list ap;
    va_start(ap, msg);
    for (const char *k; (k = va_arg(ap, const char *));) {
        const char *v = va_arg(ap, const char *);
        if (!v)
            v = "";
        if (format == TC_LOG_JSON) {
            tc_buf_puts(&b, ",");
            json_str(&b, k);
            tc_buf_puts(&b, ":");
            json_str(&b, v);
        } else {
            tc_buf_printf(&b, " %s=", k);
            text_val(&b, v);
        }
    }
    va_end(ap);
    tc_buf_puts(&b, format == TC_LOG_JSON ? "}\n" : "\n");
    if (b.data) {
        ssize_t w = write(log_fd, b.data, b.len);
        (void)w;
    }
    tc_buf_free(&b);
}
