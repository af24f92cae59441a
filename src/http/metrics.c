/* Request counters and latency histograms: fixed arrays of atomics indexed by
 * route slot, so observing a request is a few relaxed increments. */
#include <stdlib.h>
#include <string.h>

#include "http/http_int.h"

/* Statuses we count individually; the last slot is "other". */
static const int status_codes[HTTP_NSTATUS] = {200, 201, 202, 204, 301, 302, 304, 400, 401, 403, 404, 405,
                                              409, 413, 415, 422, 429, 431, 500, 502, 503, 504, 101, 0};
/* Upper bounds in seconds; +Inf is implicit. */
static const double bucket_le[HTTP_NBUCKETS] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                                0.05,   0.1,   0.25,   0.5,   1.0,  5.0};

tc_status tc_http__metrics_init(http_metrics *m, size_t nslots)
{
    m->nslots = nslots;
    m->requests = tc_calloc(nslots * HTTP_NSTATUS, sizeof(*m->requests));
    m->buckets = tc_calloc(nslots * (HTTP_NBUCKETS + 1), sizeof(*m->buckets));
    m->sum_us = tc_calloc(nslots, sizeof(*m->sum_us));
    m->count = tc_calloc(nslots, sizeof(*m->count));
    return TC_OK;
}

void tc_http__metrics_free(http_metrics *m)
{
    free(m->requests);
    free(m->buckets);
    free(m->sum_us);
    free(m->count);
    memset(m, 0, sizeof(*m));
}

static int status_index(int status)
{
    for (int i = 0; i < HTTP_NSTATUS - 1; i++)
        if (status_codes[i] == status)
            return i;
    return HTTP_NSTATUS - 1;
}

void tc_http__metrics_observe(http_metrics *m, int slot, int status, int64_t ns)
{
    if (slot < 0 || (size_t)slot >= m->nslots)
        return;
    double secs = (double)ns / 1e9;
    int b = 0;
    while (b < HTTP_NBUCKETS && secs > bucket_le[b])
        b++;
    atomic_fetch_add_explicit(&m->requests[(size_t)slot * HTTP_NSTATUS + (size_t)status_index(status)], 1,
                              memory_order_relaxed);
    atomic_fetch_add_explicit(&m->buckets[(size_t)slot * (HTTP_NBUCKETS + 1) + (size_t)b], 1,
                              memory_order_relaxed);
    atomic_fetch_add_explicit(&m->sum_us[slot], (uint64_t)(ns / 1000), memory_order_relaxed);
    atomic_fetch_add_explicit(&m->count[slot], 1, memory_order_relaxed);
}

static void slot_labels(tc_http_server *s, size_t slot, const char **route, const char **method)
{
    if (slot == SLOT_STATIC) {
        *route = "static";
        *method = "GET";
    } else if (slot == SLOT_UNMATCHED) {
        *route = "unmatched";
        *method = "any";
    } else {
        *route = s->routes[slot - SLOT_FIRST_ROUTE].pattern;
        *method = s->routes[slot - SLOT_FIRST_ROUTE].method;
    }
}

static void render_requests(tc_http_server *s, tc_buf *out)
{
    http_metrics *m = &s->metrics;
    tc_buf_puts(out, "# HELP tc_http_requests_total HTTP requests by route, method and status.\n"
                     "# TYPE tc_http_requests_total counter\n");
    for (size_t slot = 0; slot < m->nslots; slot++) {
        const char *route, *method;
        slot_labels(s, slot, &route, &method);
        for (int i = 0; i < HTTP_NSTATUS; i++) {
            uint64_t v = atomic_load_explicit(&m->requests[slot * HTTP_NSTATUS + (size_t)i], memory_order_relaxed);
            if (!v)
                continue;
            char st[16];
            if (status_codes[i])
                snprintf(st, sizeof(st), "%d", status_codes[i]);
            else
                snprintf(st, sizeof(st), "other");
            tc_buf_printf(out, "tc_http_requests_total{route=\"%s\",method=\"%s\",status=\"%s\"} %llu\n",
                          route, method, st, (unsigned long long)v);
        }
    }
}

static void render_latency(tc_http_server *s, tc_buf *out)
{
    http_metrics *m = &s->metrics;
    tc_buf_puts(out, "# HELP tc_http_request_duration_seconds Time from request headers to completion.\n"
                     "# TYPE tc_http_request_duration_seconds histogram\n");
    for (size_t slot = 0; slot < m->nslots; slot++) {
        uint64_t count = atomic_load_explicit(&m->count[slot], memory_order_relaxed);
        if (!count)
            continue;
        const char *route, *method;
        slot_labels(s, slot, &route, &method);
        uint64_t cum = 0;
        for (int b = 0; b <= HTTP_NBUCKETS; b++) {
            cum += atomic_load_explicit(&m->buckets[slot * (HTTP_NBUCKETS + 1) + (size_t)b], memory_order_relaxed);
            char le[32];
            if (b < HTTP_NBUCKETS)
                snprintf(le, sizeof(le), "%g", bucket_le[b]);
            else
                snprintf(le, sizeof(le), "+Inf");
            tc_buf_printf(out, "tc_http_request_duration_seconds_bucket{route=\"%s\",method=\"%s\",le=\"%s\"} %llu\n",
                          route, method, le, (unsigned long long)cum);
        }
        double sum = (double)atomic_load_explicit(&m->sum_us[slot], memory_order_relaxed) / 1e6;
        tc_buf_printf(out, "tc_http_request_duration_seconds_sum{route=\"%s\",method=\"%s\"} %.6f\n", route,
                      method, sum);
        tc_buf_printf(out, "tc_http_request_duration_seconds_count{route=\"%s\",method=\"%s\"} %llu\n", route,
                      method, (unsigned long long)count);
    }
}

void tc_http_metrics_render(tc_http_server *s, tc_buf *out)
{
    render_requests(s, out);
    render_latency(s, out);
    tc_buf_printf(out, "# HELP tc_http_requests_in_flight Requests being processed.\n"
                       "# TYPE tc_http_requests_in_flight gauge\ntc_http_requests_in_flight %d\n",
                  atomic_load(&s->inflight));
    if (s->metrics_hook)
        s->metrics_hook(out, s->metrics_ctx);
}
