/* Test-only routes (TC_ROUTE_TEST: served only with TC_TEST_ROUTES=1). They
 * exercise the server's mechanisms from black-box tests: JSON body limits and
 * field readers, suspended requests completed from another thread, streams. */
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "api/api.h"

/* POST /api/_test/echo: body must be a JSON object; optional "name" (string
 * up to 16 bytes), "n" (0..100), "flag" (bool). Echoes them back. */
typedef struct {
    const char *name;
    int64_t n;
    bool flag;
} echo_in;

tc_status tc_api_test_echo(tc_http_req *req, tc_err *err)
{
    static const tc_json_field fields[] = {
        {"name", TC_JF_STR, false, 0, 16, offsetof(echo_in, name)},
        {"n", TC_JF_INT, false, 0, 100, offsetof(echo_in, n)},
        {"flag", TC_JF_BOOL, false, 0, 0, offsetof(echo_in, flag)},
    };
    json_t *body;
    echo_in in = {.name = NULL, .n = 0, .flag = false};
    tc_status st = tc_http_json_body(req, &body, err);
    if (st == TC_OK)
        st = tc_json_read(body, fields, sizeof(fields) / sizeof(fields[0]), &in, err);
    if (st != TC_OK)
        return st;
    return tc_http_reply_json(req, 200, json_pack("{s:O, s:s?, s:I, s:b}", "json", body, "name", in.name,
                                                  "n", (json_int_t)in.n, "flag", in.flag));
}

static void sleep_ms(int64_t ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

typedef struct {
    tc_http_pending *p;
    int64_t ms;
} slow_job;

static void *slow_thread(void *arg)
{
    slow_job *j = arg;
    sleep_ms(j->ms);
    tc_http_pending_reply_json(j->p, 200, json_pack("{s:I}", "slept_ms", (json_int_t)j->ms));
    tc_free(j);
    return NULL;
}

static tc_status detach(void *(*fn)(void *), void *arg, tc_err *err)
{
    pthread_t t;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    int rc = pthread_create(&t, &attr, fn, arg);
    pthread_attr_destroy(&attr);
    return rc ? tc_failf(err, TC_INTERNAL, NULL, "cannot start a thread") : TC_OK;
}

/* GET /api/_test/slow?ms=N: answers after N ms from another thread while the
 * connection is suspended. */
tc_status tc_api_test_slow(tc_http_req *req, tc_err *err)
{
    int64_t ms;
    tc_status st = tc_http_query_int(req, "ms", 100, 0, 30000, &ms, err);
    if (st != TC_OK)
        return st;
    slow_job *j = tc_malloc(sizeof(*j));
    j->ms = ms;
    j->p = tc_http_suspend(req);
    st = detach(slow_thread, j, err);
    if (st != TC_OK) {
        tc_http_pending_fail(j->p, err);
        tc_free(j);
    }
    return TC_OK;
}

typedef struct {
    tc_http_stream *st;
    int64_t n, interval_ms;
} stream_job;

/* Sends n events (n = 0: until the client leaves or the server stops). */
static void *stream_thread(void *arg)
{
    stream_job *j = arg;
    for (int64_t i = 1; j->n == 0 || i <= j->n; i++) {
        char msg[128];
        int len = snprintf(msg, sizeof(msg), "id: %lld\nevent: tick\ndata: {\"i\":%lld}\n\n",
                           (long long)i, (long long)i);
        if (tc_http_stream_send(j->st, msg, (size_t)len) == TC_UNAVAILABLE)
            break;
        for (int64_t w = 0; w < j->interval_ms && tc_http_stream_alive(j->st); w += 10)
            sleep_ms(10);
        if (!tc_http_stream_alive(j->st))
            break;
    }
    tc_http_stream_close(j->st);
    tc_http_stream_release(j->st);
    tc_free(j);
    return NULL;
}

/* GET /api/_test/stream?n=&interval_ms=&heartbeat_ms=: an SSE stream. */
tc_status tc_api_test_stream(tc_http_req *req, tc_err *err)
{
    int64_t n, interval, hb;
    tc_status st = tc_http_query_int(req, "n", 3, 0, 1000, &n, err);
    if (st == TC_OK)
        st = tc_http_query_int(req, "interval_ms", 50, 0, 60000, &interval, err);
    if (st == TC_OK)
        st = tc_http_query_int(req, "heartbeat_ms", 15000, 0, 600000, &hb, err);
    if (st != TC_OK)
        return st;
    stream_job *j = tc_malloc(sizeof(*j));
    j->n = n;
    j->interval_ms = interval;
    j->st = tc_http_stream_open(req, "text/event-stream", 64 * 1024, (int)hb);
    if (!j->st) {
        tc_free(j);
        return tc_failf(err, TC_INTERNAL, NULL, "cannot open the stream");
    }
    st = detach(stream_thread, j, err);
    if (st != TC_OK) {
        tc_http_stream_close(j->st);
        tc_http_stream_release(j->st);
        tc_free(j);
    }
    return TC_OK;
}

/* GET /api/_test/whoami: what the authentication phase resolved. */
tc_status tc_api_test_whoami(tc_http_req *req, tc_err *err)
{
    return tc_http_reply_json(req, 200, json_pack("{s:s?, s:b, s:s}", "user_id", req->user_id, "is_admin",
                                                  req->is_admin, "client", tc_http_client_addr(req)));
}
