/* Suspended requests and streaming responses.
 *
 * Pending: the handler suspends the MHD connection; a completer on another
 * thread stores a response and resumes it; MHD calls the access handler
 * again, which queues the stored response. A pending handle has two
 * references (completer, connection) and is freed when both are gone.
 *
 * Streams: a callback response reads from a bounded per-stream queue. With
 * nothing to send, the reader suspends the connection and returns 0; a send
 * resumes it. The stream has two references (producer, MHD response).
 *
 * Locks: the server lock guards the pending and stream lists and pending
 * state; each stream has its own mutex for its queue. MHD_resume_connection
 * is never called while holding the server lock (MHD may call back into us
 * from connection cleanup while holding its own locks). */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "http/http_int.h"

struct tc_http_pending {
    struct tc_http_pending *next, *prev; /* server list */
    tc_http_server *srv;
    http_conn *hc;           /* NULL once the connection finished */
    _Atomic int refs;
    bool answered;
    struct MHD_Response *resp;
    int status;
    uint64_t bytes;
    char request_id[65];
};

static void pending_release(tc_http_pending *p)
{
    if (atomic_fetch_sub(&p->refs, 1) != 1)
        return;
    if (p->resp)
        MHD_destroy_response(p->resp);
    free(p);
}

tc_http_pending *tc_http_suspend(tc_http_req *req)
{
    http_conn *hc = (http_conn *)req;
    tc_http_server *s = hc->srv;
    tc_http_pending *p = tc_calloc(1, sizeof(*p));
    p->srv = s;
    p->hc = hc;
    atomic_init(&p->refs, 2);
    snprintf(p->request_id, sizeof(p->request_id), "%s", req->request_id);
    pthread_mutex_lock(&s->lock);
    p->next = s->pendings;
    if (s->pendings)
        s->pendings->prev = p;
    s->pendings = p;
    pthread_mutex_unlock(&s->lock);
    hc->pending = p;
    MHD_suspend_connection(hc->mhd);
    return p;
}

const char *tc_http_pending_request_id(const tc_http_pending *p)
{
    return p->request_id;
}

/* Stores the response unless answered already; resumes outside the lock.
 * Only the thread that flips `answered` resumes, and the connection cannot
 * be cleaned up while suspended, so hc->mhd stays valid until then. */
static tc_status complete(tc_http_pending *p, int status, struct MHD_Response *r, uint64_t bytes)
{
    tc_http_server *s = p->srv;
    struct MHD_Connection *conn = NULL;
    pthread_mutex_lock(&s->lock);
    if (!p->answered && p->hc) {
        p->answered = true;
        p->resp = r;
        p->status = status;
        p->bytes = bytes;
        conn = p->hc->mhd;
        r = NULL;
    }
    pthread_mutex_unlock(&s->lock);
    if (conn)
        MHD_resume_connection(conn);
    if (r)
        MHD_destroy_response(r);
    return conn ? TC_OK : TC_UNAVAILABLE;
}

tc_status tc_http_pending_reply_json(tc_http_pending *p, int status, json_t *json)
{
    size_t len;
    struct MHD_Response *r = tc_http__json_response(json, &len);
    json_decref(json);
    tc_status st = r ? complete(p, status, r, len) : TC_INTERNAL;
    pending_release(p);
    return st;
}

tc_status tc_http_pending_fail(tc_http_pending *p, const tc_err *err)
{
    int status;
    size_t len = 0;
    struct MHD_Response *r = tc_http__error_response(err, NULL, &status, &len);
    tc_status st = r ? complete(p, status, r, len) : TC_INTERNAL;
    pending_release(p);
    return st;
}

tc_status tc_http_pending_reply_redirect(tc_http_pending *p, const char *location)
{
    if (!location || strpbrk(location, "\r\n")) {
        tc_err err;
        tc_failf(&err, TC_INTERNAL, NULL, "bad redirect location");
        tc_http_pending_fail(p, &err);
        return TC_INTERNAL;
    }
    struct MHD_Response *r = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    if (r)
        MHD_add_response_header(r, "Location", location);
    tc_status st = r ? complete(p, 302, r, 0) : TC_INTERNAL;
    pending_release(p);
    return st;
}

/* MHD thread, after resume: queue what the completer stored. */
void tc_http__pending_resumed(http_conn *hc)
{
    tc_http_pending *p = hc->pending;
    pthread_mutex_lock(&hc->srv->lock);
    struct MHD_Response *r = p->resp;
    p->resp = NULL;
    pthread_mutex_unlock(&hc->srv->lock);
    if (!r || hc->queued)
        return;
    tc_http__set_resp(hc, p->status, r, p->bytes);
    tc_http__queue(hc);
}

void tc_http__pending_conn_done(http_conn *hc)
{
    tc_http_pending *p = hc->pending;
    tc_http_server *s = hc->srv;
    pthread_mutex_lock(&s->lock);
    p->hc = NULL;
    if (p->prev)
        p->prev->next = p->next;
    else
        s->pendings = p->next;
    if (p->next)
        p->next->prev = p->prev;
    pthread_mutex_unlock(&s->lock);
    hc->pending = NULL;
    pending_release(p);
}

void tc_http__fail_all_pending(tc_http_server *s)
{
    tc_err err;
    tc_failf(&err, TC_UNAVAILABLE, NULL, "the server is shutting down");
    for (;;) {
        tc_http_pending *p;
        pthread_mutex_lock(&s->lock);
        for (p = s->pendings; p && p->answered; p = p->next)
            ;
        if (p)
            atomic_fetch_add(&p->refs, 1);
        pthread_mutex_unlock(&s->lock);
        if (!p)
            return;
        tc_http_pending_fail(p, &err); /* drops the reference taken above */
    }
}

/* ---- streams ------------------------------------------------------------ */

struct tc_http_stream {
    struct tc_http_stream *next, *prev; /* server list (server lock) */
    tc_http_server *srv;
    pthread_mutex_t mu;
    _Atomic int refs;
    struct MHD_Connection *conn; /* NULL once the response is gone */
    tc_buf q;
    size_t off;
    bool closed, gone, suspended, listed;
    int heartbeat_ms;
    int64_t last_ms;
    uint64_t sent;
    void (*on_end)(void *);
    void *on_end_arg;
    bool ended;
};

void tc_http_stream_release(tc_http_stream *st)
{
    if (!st || atomic_fetch_sub(&st->refs, 1) != 1)
        return;
    tc_buf_free(&st->q);
    pthread_mutex_destroy(&st->mu);
    free(st);
}

static void stream_unlist(tc_http_stream *st)
{
    tc_http_server *s = st->srv;
    pthread_mutex_lock(&s->lock);
    if (st->listed) {
        if (st->prev)
            st->prev->next = st->next;
        else
            s->streams = st->next;
        if (st->next)
            st->next->prev = st->prev;
        st->listed = false;
    }
    pthread_mutex_unlock(&s->lock);
}

static void stream_ended(tc_http_stream *st)
{
    void (*fn)(void *) = NULL;
    void *arg = NULL;
    pthread_mutex_lock(&st->mu);
    if (!st->ended) {
        st->ended = true;
        fn = st->on_end;
        arg = st->on_end_arg;
    }
    pthread_mutex_unlock(&st->mu);
    if (fn)
        fn(arg);
}

/* MHD reader: copy queued bytes; with none, suspend until a send resumes. */
static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    tc_http_stream *st = cls;
    ssize_t n = 0;
    pthread_mutex_lock(&st->mu);
    size_t avail = st->q.len - st->off;
    if (avail) {
        n = (ssize_t)(avail < max ? avail : max);
        memcpy(buf, st->q.data + st->off, (size_t)n);
        st->off += (size_t)n;
        st->sent += (uint64_t)n;
        if (st->off == st->q.len) {
            tc_buf_reset(&st->q);
            st->off = 0;
        }
    } else if (st->closed) {
        n = MHD_CONTENT_READER_END_OF_STREAM;
    } else {
        st->suspended = true;
        MHD_suspend_connection(st->conn);
    }
    pthread_mutex_unlock(&st->mu);
    return n;
}

/* The response is gone: the request completed or the client left. */
static void stream_free(void *cls)
{
    tc_http_stream *st = cls;
    pthread_mutex_lock(&st->mu);
    st->gone = true;
    st->conn = NULL;
    pthread_mutex_unlock(&st->mu);
    stream_unlist(st);
    stream_ended(st);
    tc_http_stream_release(st);
}

tc_http_stream *tc_http_stream_open(tc_http_req *req, const char *content_type, size_t queue_max,
                                    int heartbeat_ms)
{
    http_conn *hc = (http_conn *)req;
    tc_http_server *s = hc->srv;
    tc_http_stream *st = tc_calloc(1, sizeof(*st));
    st->srv = s;
    st->conn = hc->mhd;
    st->heartbeat_ms = heartbeat_ms;
    st->last_ms = tc_now_ms();
    pthread_mutex_init(&st->mu, NULL);
    atomic_init(&st->refs, 3); /* producer, MHD response, the request */
    tc_buf_init(&st->q, queue_max ? queue_max : 64 * 1024);
    struct MHD_Response *r =
        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, HTTP_STREAM_BLOCK, stream_read, st, stream_free);
    if (!r) {
        tc_buf_free(&st->q);
        pthread_mutex_destroy(&st->mu);
        free(st);
        return NULL;
    }
    MHD_add_response_header(r, "Content-Type", content_type);
    MHD_add_response_header(r, "Cache-Control", "no-cache");
    MHD_add_response_header(r, "X-Accel-Buffering", "no");
    MHD_set_connection_option(hc->mhd, MHD_CONNECTION_OPTION_TIMEOUT, (unsigned)0);
    tc_http__set_resp(hc, 200, r, 0);
    hc->stream = st;
    pthread_mutex_lock(&s->lock);
    if (!s->stopping) {
        st->next = s->streams;
        if (s->streams)
            s->streams->prev = st;
        s->streams = st;
        st->listed = true;
    } else {
        st->closed = true; /* shutting down: the client gets an empty body */
    }
    pthread_mutex_unlock(&s->lock);
    return st;
}

static void stream_wake_locked(tc_http_stream *st)
{
    if (st->suspended && st->conn) {
        st->suspended = false;
        MHD_resume_connection(st->conn);
    }
}

tc_status tc_http_stream_send(tc_http_stream *st, const void *data, size_t len)
{
    tc_status rc = TC_OK;
    pthread_mutex_lock(&st->mu);
    if (st->gone || st->closed) {
        rc = TC_UNAVAILABLE;
        goto out;
    }
    if (st->q.len - st->off + len > st->q.max) {
        rc = TC_TOO_LARGE;
        goto out;
    }
    if (st->off && st->q.len + len > st->q.max) { /* compact to make room */
        memmove(st->q.data, st->q.data + st->off, st->q.len - st->off);
        st->q.len -= st->off;
        st->q.data[st->q.len] = '\0';
        st->off = 0;
    }
    rc = tc_buf_append(&st->q, data, len);
    st->last_ms = tc_now_ms();
    stream_wake_locked(st);
out:
    pthread_mutex_unlock(&st->mu);
    return rc;
}

void tc_http_stream_close(tc_http_stream *st)
{
    pthread_mutex_lock(&st->mu);
    st->closed = true;
    stream_wake_locked(st);
    pthread_mutex_unlock(&st->mu);
}

bool tc_http_stream_alive(tc_http_stream *st)
{
    pthread_mutex_lock(&st->mu);
    bool alive = !st->gone && !st->closed;
    pthread_mutex_unlock(&st->mu);
    return alive;
}

void tc_http_stream_on_end(tc_http_stream *st, void (*fn)(void *), void *arg)
{
    bool already;
    pthread_mutex_lock(&st->mu);
    st->on_end = fn;
    st->on_end_arg = arg;
    already = st->gone;
    pthread_mutex_unlock(&st->mu);
    if (already)
        stream_ended(st);
}

void tc_http__stream_conn_done(http_conn *hc)
{
    tc_http_stream *st = hc->stream;
    pthread_mutex_lock(&st->mu);
    hc->bytes = st->sent;
    pthread_mutex_unlock(&st->mu);
    hc->stream = NULL;
    tc_http_stream_release(st);
}

/* Takes references to every listed stream (server lock held briefly), so
 * the caller can act on them without the server lock. Caller frees *out
 * and releases each. */
static size_t snapshot_streams(tc_http_server *s, tc_http_stream ***out)
{
    pthread_mutex_lock(&s->lock);
    size_t n = 0, i = 0;
    for (tc_http_stream *st = s->streams; st; st = st->next)
        n++;
    tc_http_stream **v = tc_malloc((n ? n : 1) * sizeof(*v));
    for (tc_http_stream *st = s->streams; st; st = st->next) {
        atomic_fetch_add(&st->refs, 1);
        v[i++] = st;
    }
    pthread_mutex_unlock(&s->lock);
    *out = v;
    return n;
}

void tc_http__close_all_streams(tc_http_server *s)
{
    tc_http_stream **v;
    size_t n = snapshot_streams(s, &v);
    for (size_t i = 0; i < n; i++) {
        tc_http_stream_close(v[i]);
        tc_http_stream_release(v[i]);
    }
    free(v);
}

static void heartbeat(tc_http_server *s)
{
    tc_http_stream **v;
    size_t n = snapshot_streams(s, &v);
    int64_t now = tc_now_ms();
    for (size_t i = 0; i < n; i++) {
        tc_http_stream *st = v[i];
        pthread_mutex_lock(&st->mu);
        bool due = st->heartbeat_ms > 0 && now - st->last_ms >= st->heartbeat_ms;
        pthread_mutex_unlock(&st->mu);
        if (due)
            tc_http_stream_send(st, ": hb\n\n", 6);
        tc_http_stream_release(st);
    }
    free(v);
}

/* One thread per server: heartbeats every ~250 ms tick until stop. */
void *tc_http__ticker(void *arg)
{
    tc_http_server *s = arg;
    pthread_mutex_lock(&s->lock);
    while (!s->stopping) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 250 * 1000000;
        if (ts.tv_nsec >= 1000000000) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(&s->ticker_cv, &s->lock, &ts);
        if (s->stopping)
            break;
        pthread_mutex_unlock(&s->lock);
        heartbeat(s);
        pthread_mutex_lock(&s->lock);
    }
    pthread_mutex_unlock(&s->lock);
    return NULL;
}
