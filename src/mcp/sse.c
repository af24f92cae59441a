/* Incremental Server-Sent Events parser (WHATWG event-stream format) with a
 * size cap per line and per event. */
#include <stdlib.h>
#include <string.h>

#include "mcp/mcp_int.h"

void tc_mcp__sse_init(tc_mcp__sse *p, size_t max_event, tc_mcp__sse_fn fn, void *ud)
{
    memset(p, 0, sizeof(*p));
    tc_buf_init(&p->line, max_event + 16);
    tc_buf_init(&p->data, max_event);
    p->retry_ms = -1;
    p->on_event = fn;
    p->ud = ud;
}

void tc_mcp__sse_free(tc_mcp__sse *p)
{
    tc_buf_free(&p->line);
    tc_buf_free(&p->data);
}

static void dispatch_event(tc_mcp__sse *p)
{
    /* Empty data: a priming event (id only) or a keep-alive; skip it. */
    if (p->data.len > 0) {
        size_t len = p->data.len;
        if (p->data.data[len - 1] == '\n')
            len--;  /* the last data line's newline is not part of the data */
        p->data.data[len] = '\0';
        if (len > 0)
            p->on_event(p->ud, p->event[0] ? p->event : "message", p->data.data, len);
    }
    tc_buf_reset(&p->data);
    p->event[0] = '\0';
}

static bool all_digits(const char *s, size_t n)
{
    if (n == 0 || n > 9)
        return false;
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

/* One complete line (without its terminator). */
static tc_status process_line(tc_mcp__sse *p, const char *l, size_t n)
{
    if (!p->started) { /* a UTF-8 BOM may open the stream */
        p->started = true;
        if (n >= 3 && !memcmp(l, "\xEF\xBB\xBF", 3))
            l += 3, n -= 3;
    }
    if (n == 0) {
        dispatch_event(p);
        return TC_OK;
    }
    if (l[0] == ':')
        return TC_OK; /* comment */
    const char *colon = memchr(l, ':', n);
    size_t flen = colon ? (size_t)(colon - l) : n;
    const char *v = colon ? colon + 1 : l + n;
    size_t vlen = colon ? n - flen - 1 : 0;
    if (vlen && *v == ' ') {
        v++;
        vlen--;
    }
    tc_slice f = {l, flen};
    if (tc_slice_eq(f, "data")) {
        if (tc_buf_append(&p->data, v, vlen) != TC_OK || tc_buf_append(&p->data, "\n", 1) != TC_OK)
            return TC_TOO_LARGE;
    } else if (tc_slice_eq(f, "event")) {
        size_t k = vlen < sizeof(p->event) - 1 ? vlen : sizeof(p->event) - 1;
        memcpy(p->event, v, k);
        p->event[k] = '\0';
    } else if (tc_slice_eq(f, "id")) {
        if (!memchr(v, '\0', vlen) && vlen < sizeof(p->last_id)) {
            memcpy(p->last_id, v, vlen);
            p->last_id[vlen] = '\0';
        }
    } else if (tc_slice_eq(f, "retry")) {
        if (all_digits(v, vlen))
            p->retry_ms = strtol(v, NULL, 10);
    }
    return TC_OK;
}

tc_status tc_mcp__sse_feed(tc_mcp__sse *p, const char *buf, size_t n)
{
    size_t i = 0;
    while (i < n) {
        if (p->last_cr && buf[i] == '\n') { /* the \n of a \r\n pair */
            p->last_cr = false;
            i++;
            continue;
        }
        p->last_cr = false;
        const char *start = buf + i;
        size_t k = 0;
        while (i + k < n && start[k] != '\n' && start[k] != '\r')
            k++;
        if (tc_buf_append(&p->line, start, k) != TC_OK)
            return TC_TOO_LARGE;
        i += k;
        if (i == n)
            break; /* partial line: wait for more */
        p->last_cr = buf[i] == '\r';
        i++;
        tc_status st = process_line(p, p->line.data ? p->line.data : "", p->line.len);
        tc_buf_reset(&p->line);
        if (st != TC_OK)
            return st;
    }
    return TC_OK;
}
