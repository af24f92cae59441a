/* bench_mcp_client URL CALLS THREADS: echo calls through one pooled session;
 * prints {"calls":..,"calls_per_s":..,"p50_ms":..,"p99_ms":..} on stdout. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mcp/mcp.h"

typedef struct {
    tc_mcp_session *s;
    int calls;
    double *lat_ms;
    int failures;
} worker;

static void *run(void *arg)
{
    worker *w = arg;
    json_t *args = json_pack("{s:s}", "message", "bench");
    for (int i = 0; i < w->calls; i++) {
        tc_mcp_result r;
        tc_err err = {0};
        int64_t t0 = tc_mono_ns();
        if (tc_mcp_call_tool(w->s, "echo", args, NULL, &r, &err) != TC_OK)
            w->failures++;
        w->lat_ms[i] = (double)(tc_mono_ns() - t0) / 1e6;
        tc_mcp_result_free(&r);
    }
    json_decref(args);
    return NULL;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: %s URL CALLS THREADS\n", argv[0]);
        return 2;
    }
    int calls = atoi(argv[2]), threads = atoi(argv[3]);
    if (calls <= 0 || threads <= 0 || threads > 64)
        return 2;
    tc_mcp_pool_opts o = {.allow_private = true};
    tc_mcp_pool *pool = tc_mcp_pool_new(&o);
    tc_mcp_target t = {.transport = TC_MCP_HTTP, .url = argv[1]};
    tc_mcp_session *s;
    tc_err err = {0};
    if (tc_mcp_session_get(pool, "bench", &t, &s, &err) != TC_OK) {
        fprintf(stderr, "session: %s\n", err.message);
        return 1;
    }
    int per = calls / threads;
    double *lat = calloc((size_t)per * (size_t)threads, sizeof(double));
    worker w[64];
    pthread_t th[64];
    int64_t t0 = tc_mono_ns();
    for (int i = 0; i < threads; i++) {
        w[i] = (worker){s, per, lat + (size_t)i * (size_t)per, 0};
        pthread_create(&th[i], NULL, run, &w[i]);
    }
    int failures = 0;
    for (int i = 0; i < threads; i++) {
        pthread_join(th[i], NULL);
        failures += w[i].failures;
    }
    double secs = (double)(tc_mono_ns() - t0) / 1e9;
    int n = per * threads;
    qsort(lat, (size_t)n, sizeof(double), cmp);
    printf("{\"calls\":%d,\"failures\":%d,\"calls_per_s\":%.0f,\"p50_ms\":%.3f,\"p99_ms\":%.3f}\n", n,
           failures, n / secs, lat[n / 2], lat[(n * 99) / 100]);
    free(lat);
    tc_mcp_session_release(s);
    tc_mcp_pool_free(pool);
    return failures ? 1 : 0;
}
