#include <stdio.h>
#include <string.h>

#include "core/core.h"

static const struct {
    int http;
    const char *code;
    const char *msg;
} status_table[] = {
#define TC_X(name, http, code, msg) {http, code, msg},
    TC_STATUS_MAP(TC_X)
#undef TC_X
};

const char *tc_strerror(tc_status s)
{
    return (unsigned)s < TC__STATUS_COUNT ? status_table[s].msg : "unknown status";
}

const char *tc_status_code(tc_status s)
{
    return (unsigned)s < TC__STATUS_COUNT ? status_table[s].code : "internal";
}

int tc_status_http(tc_status s)
{
    return (unsigned)s < TC__STATUS_COUNT ? status_table[s].http : 500;
}

void tc_err_clear(tc_err *e)
{
    if (e)
        memset(e, 0, sizeof(*e));
}

static void vfail(tc_err *e, tc_status s, const char *code, const char *field,
                  const char *fmt, va_list ap)
{
    e->status = s;
    snprintf(e->code, sizeof(e->code), "%s", code ? code : "");
    snprintf(e->field, sizeof(e->field), "%s", field ? field : "");
    vsnprintf(e->message, sizeof(e->message), fmt, ap);
}

tc_status tc_failf(tc_err *e, tc_status s, const char *field, const char *fmt, ...)
{
    if (!e)
        return s;
    va_list ap;
    va_start(ap, fmt);
    vfail(e, s, NULL, field, fmt, ap);
    va_end(ap);
    return s;
}

tc_status tc_failc(tc_err *e, tc_status s, const char *code, const char *field,
                   const char *fmt, ...)
{
    if (!e)
        return s;
    va_list ap;
    va_start(ap, fmt);
    vfail(e, s, code, field, fmt, ap);
    va_end(ap);
    return s;
}

const char *tc_err_code(const tc_err *e)
{
    return e->code[0] ? e->code : tc_status_code(e->status);
}
