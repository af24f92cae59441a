/* Live updates: GET /api/stream (Server-Sent Events of the caller's own
 * changes), POST /api/stream/ticket, and the realtime row of the app module
 * table (hub, publisher hook, pruner, final events at shutdown).
 *
 * A stream is a suspended libmicrohttpd connection (tc_http_stream) wrapped
 * as a hub sink: no thread per stream. See docs/realtime.md. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "api/api.h"
#include "app/app.h"
#include "events/events.h"
#include "realtime/realtime.h"

#define RETRY_MS 3000
#define FD_RESERVE 256 /* descriptors beyond the connection limit (db, files, peers) */

typedef struct tc_realtime tc_realtime;
struct tc_realtime {
    tc_hub *hub;
    tc_stream_pruner *pruner;
    tc_db *db;
    tc_events *events;
    int heartbeat_ms;
    size_t queue_bytes;
    int64_t ticket_ttl_s;
    pthread_t finisher;     /* final events of dropped clients (see sink) */
    pthread_mutex_t fin_mu;
    pthread_cond_t fin_cv;
    struct sink *fin_list;
    bool fin_stop;
};

static tc_realtime *realtime(tc_http_req *req, tc_err *err)
{
    tc_app *app = req->ctx;
    if (!app->realtime)
        tc_failf(err, TC_UNAVAILABLE, NULL, "live updates are not started");
    return app->realtime;
}

/* ---- the sink: a hub subscriber writing into an HTTP stream ---------------------- */

/* A dropped client's final event may not fit its full queue. Rather than
 * cut the stream without it, the finisher thread retries it every
 * FINAL_TICK_MS for up to FINAL_WAIT_MS (a client that reads again gets it),
 * then ends the stream either way. The sink holds the producer's reference
 * to the HTTP stream; state says who frees the sink (release vs finisher). */
#define FINAL_WAIT_MS 5000
#define FINAL_TICK_MS 50
enum { SINK_LIVE, SINK_WAITING, SINK_WAITING_DEAD };

typedef struct sink {
    tc_http_stream *hs;
    tc_realtime *rt;
    struct sink *next;   /* finisher list (rt->fin_mu) */
    _Atomic int state;
    const char *final;
    size_t final_len;
    int64_t deadline_ms;
} sink;

static const char final_slow[] = "event: dropped\ndata: {\"reason\":\"slow_consumer\",\"message\":"
                                 "\"the client fell too far behind; reconnect with Last-Event-ID\"}\n\n";
static const char final_bye[] = "event: shutdown\ndata: {\"reason\":\"server_shutdown\",\"message\":"
                                "\"the server is stopping; reconnect with Last-Event-ID\"}\n\n";

static void sink_free(sink *k)
{
    tc_http_stream_close(k->hs); /* no-op when it ended already */
    tc_http_stream_release(k->hs);
    free(k);
}

static tc_status sink_send(void *ctx, const char *data, size_t len)
{
    sink *k = ctx;
    return tc_http_stream_send(k->hs, data, len);
}

static void sink_close(void *ctx, tc_hub_end why)
{
    sink *k = ctx;
    k->final = why == TC_HUB_END_SLOW ? final_slow : final_bye;
    k->final_len = why == TC_HUB_END_SLOW ? sizeof(final_slow) - 1 : sizeof(final_bye) - 1;
    if (tc_http_stream_send(k->hs, k->final, k->final_len) != TC_TOO_LARGE) {
        tc_http_stream_close(k->hs);
        return;
    }
    tc_realtime *rt = k->rt;
    k->deadline_ms = tc_now_ms() + FINAL_WAIT_MS;
    atomic_store(&k->state, SINK_WAITING);
    pthread_mutex_lock(&rt->fin_mu);
    k->next = rt->fin_list;
    rt->fin_list = k;
    pthread_cond_signal(&rt->fin_cv);
    pthread_mutex_unlock(&rt->fin_mu);
}

static void sink_release(void *ctx)
{
    sink *k = ctx;
    int st = SINK_WAITING;
    if (atomic_compare_exchange_strong(&k->state, &st, SINK_WAITING_DEAD))
        return; /* the finisher frees it */
    sink_free(k);
}

/* Finisher: one pass over the waiting sinks, without holding fin_mu while
 * talking to the transport. Returns the sinks still waiting. */
static sink *finish_pass(sink *list, bool stopping)
{
    sink *keep = NULL;
    int64_t now = tc_now_ms();
    for (sink *k = list, *next; k; k = next) {
        next = k->next;
        bool dead = atomic_load(&k->state) == SINK_WAITING_DEAD;
        bool done = dead || stopping || now >= k->deadline_ms ||
                    tc_http_stream_send(k->hs, k->final, k->final_len) != TC_TOO_LARGE;
        if (!done) {
            k->next = keep;
            keep = k;
            continue;
        }
        tc_http_stream_close(k->hs);
        int st = SINK_WAITING;
        if (!atomic_compare_exchange_strong(&k->state, &st, SINK_LIVE))
            sink_free(k); /* released meanwhile */
    }
    return keep;
}

static void *finisher_main(void *arg)
{
    tc_realtime *rt = arg;
    pthread_mutex_lock(&rt->fin_mu);
    for (;;) {
        while (!rt->fin_list && !rt->fin_stop)
            pthread_cond_wait(&rt->fin_cv, &rt->fin_mu);
        bool stopping = rt->fin_stop;
        sink *list = rt->fin_list;
        rt->fin_list = NULL;
        pthread_mutex_unlock(&rt->fin_mu);
        sink *keep = finish_pass(list, stopping);
        if (keep) {
            struct timespec ts = {0, FINAL_TICK_MS * 1000000L};
            nanosleep(&ts, NULL);
        }
        pthread_mutex_lock(&rt->fin_mu);
        while (keep) {
            sink *k = keep;
            keep = k->next;
            k->next = rt->fin_list;
            rt->fin_list = k;
        }
        if (stopping && !rt->fin_list)
            break;
    }
    pthread_mutex_unlock(&rt->fin_mu);
    return NULL;
}

static void on_stream_end(void *arg)
{
    tc_hub_unsubscribe(arg);
}

/* ---- request parsing --------------------------------------------------------------- */

/* Query names that would carry a long-lived credential. */
static const char *const url_token_names[] = {
    "access_token", "token", "api_key", "apikey", "key", "auth", "authorization",
    "bearer", "jwt", "refresh_token", "session",
};

static bool looks_long_lived(const char *v)
{
    if (!strncmp(v, "tc_", 3) || !strncmp(v, "Bearer ", 7))
        return true; /* API key */
    const char *dot = strchr(v, '.');
    return dot && strchr(dot + 1, '.'); /* JWT: three dot-separated parts */
}

static tc_status reject_url_tokens(tc_http_req *req, tc_err *err)
{
    const char *field = NULL;
    for (size_t i = 0; i < sizeof(url_token_names) / sizeof(url_token_names[0]) && !field; i++)
        if (tc_http_query(req, url_token_names[i]))
            field = url_token_names[i];
    const char *ticket = tc_http_query(req, "ticket");
    if (!field && ticket && looks_long_lived(ticket))
        field = "ticket";
    if (!field)
        return TC_OK;
    return tc_failc(err, TC_UNAUTHORIZED, "token_in_url", field,
                    "long-lived tokens are never accepted in URLs: send the Authorization header, "
                    "or get a single-use ticket from POST /api/stream/ticket");
}

/* The caller: the Authorization header (auth hook) or a ticket. */
static tc_status stream_user(tc_http_req *req, tc_realtime *rt, char user[37], tc_err *err)
{
    if (req->user_id) {
        snprintf(user, 37, "%s", req->user_id);
        return TC_OK;
    }
    const char *ticket = tc_http_query(req, "ticket");
    if (!ticket)
        return tc_failf(err, TC_UNAUTHORIZED, NULL,
                        "authentication required: send the Authorization header, or ?ticket= "
                        "from POST /api/stream/ticket");
    return tc_stream_ticket_redeem(rt->db, ticket, user, err);
}

static tc_status id_filter(tc_http_req *req, const char *name, char *out, tc_err *err)
{
    const char *v = tc_http_query(req, name);
    if (!v)
        return TC_OK;
    size_t n = strlen(v);
    if (n == 0 || n > TC_HUB_ID_MAX ||
        strspn(v, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_") != n)
        return tc_failf(err, TC_BAD_REQUEST, name, "%s must be an id (1..%d letters, digits, - or _)",
                        name, TC_HUB_ID_MAX);
    memcpy(out, v, n + 1);
    return TC_OK;
}

static tc_status read_filter(tc_http_req *req, tc_hub_filter *f, tc_err *err)
{
    memset(f, 0, sizeof(*f));
    const char *kinds = tc_http_query(req, "kinds");
    if (kinds && !tc_hub_parse_kinds(kinds, &f->kinds))
        return tc_failf(err, TC_BAD_REQUEST, "kinds",
                        "kinds must be a comma-separated list of job, connection, event, health");
    tc_status st = id_filter(req, "job_id", f->job_id, err);
    if (st == TC_OK)
        st = id_filter(req, "connection_id", f->connection_id, err);
    return st;
}

/* Last-Event-ID header, or ?last_event_id= for EventSource polyfills. */
static tc_status last_event_id(tc_http_req *req, int64_t *out, tc_err *err)
{
    *out = 0;
    const char *h = tc_http_header(req, "Last-Event-ID");
    if (!h || !*h)
        return tc_http_query_int(req, "last_event_id", 0, 0, INT64_MAX, out, err);
    char *end = NULL;
    long long v = strtoll(h, &end, 10);
    if (*end || v < 0 || end == h || strlen(h) > 19)
        return tc_failf(err, TC_BAD_REQUEST, "Last-Event-ID",
                        "Last-Event-ID must be a non-negative integer (an id: from this stream)");
    *out = v;
    return TC_OK;
}

/* ---- handlers ------------------------------------------------------------------------ */

tc_status tc_api_stream(tc_http_req *req, tc_err *err)
{
    tc_realtime *rt = realtime(req, err);
    if (!rt)
        return TC_UNAVAILABLE;
    tc_hub_filter f;
    int64_t last = 0;
    char user[37];
    tc_status st = reject_url_tokens(req, err);
    if (st == TC_OK)
        st = read_filter(req, &f, err);
    if (st == TC_OK)
        st = last_event_id(req, &last, err);
    if (st == TC_OK)
        st = stream_user(req, rt, user, err);
    if (st != TC_OK)
        return st;
    tc_http_stream *hs = tc_http_stream_open(req, "text/event-stream", rt->queue_bytes, rt->heartbeat_ms);
    if (!hs)
        return tc_failf(err, TC_INTERNAL, NULL, "cannot open the stream");
    char retry[32];
    int n = snprintf(retry, sizeof(retry), "retry: %d\n\n", RETRY_MS);
    tc_http_stream_send(hs, retry, (size_t)n);
    /* The sink owns the producer's reference from here on. */
    sink *k = tc_calloc(1, sizeof(*k));
    k->hs = hs;
    k->rt = rt;
    atomic_init(&k->state, SINK_LIVE);
    tc_hub_sink hsink = {sink_send, sink_close, sink_release, k};
    tc_hub_sub_options o = {.user_id = user, .filter = &f, .last_event_id = last,
                            .replay = tc_stream_replay_db, .replay_ctx = rt->db};
    tc_err serr;
    tc_hub_sub *sub = tc_hub_subscribe(rt->hub, &o, &hsink, &serr);
    if (!sub) { /* shutting down: the hub released the sink; end the body */
        return TC_OK;
    }
    tc_http_stream_send(hs, ": ready\n\n", 9);
    tc_http_stream_on_end(hs, on_stream_end, sub);
    return TC_OK;
}

tc_status tc_api_stream_ticket(tc_http_req *req, tc_err *err)
{
    tc_realtime *rt = realtime(req, err);
    if (!rt)
        return TC_UNAVAILABLE;
    char *ticket = NULL;
    tc_status st = tc_stream_ticket_issue(rt->db, req->user_id, rt->ticket_ttl_s, &ticket, err);
    if (st != TC_OK)
        return st;
    tc_http_set_header(req, "Cache-Control", "no-store");
    st = tc_http_reply_json(req, 200, json_pack("{s:s, s:I}", "ticket", ticket, "expires_in",
                                                (json_int_t)rt->ticket_ttl_s));
    free(ticket);
    return st;
}

/* POST /api/_test/stream/publish {kind, row}: records and publishes a change
 * for the caller through the events module, as domain code does. */
tc_status tc_api_test_stream_publish(tc_http_req *req, tc_err *err)
{
    tc_realtime *rt = realtime(req, err);
    if (!rt)
        return TC_UNAVAILABLE;
    json_t *body = NULL, *row = NULL;
    const char *kind = NULL;
    tc_status st = tc_http_json_body(req, &body, err);
    if (st == TC_OK)
        st = tc_json_str(body, "kind", true, 32, &kind, err);
    if (st == TC_OK)
        st = tc_json_obj(body, "row", true, &row, err);
    if (st == TC_OK && !tc_hub_kind_bit(kind))
        st = tc_failf(err, TC_VALIDATION, "kind", "kind must be job, connection, event or health");
    if (st != TC_OK)
        return st;
    tc_change ch;
    tc_change_init(&ch, req->user_id, kind, json_incref(row));
    tc_db_conn *c = tc_db_acquire(rt->db);
    st = tc_db_begin(c, err);
    if (st == TC_OK)
        st = tc_events_record(rt->events, c, &ch, err);
    if (st == TC_OK)
        st = tc_db_commit(c, err);
    else
        tc_db_rollback(c);
    tc_db_release(c);
    if (st == TC_OK)
        tc_events_publish(rt->events, &ch);
    json_int_t id = ch.stream_id;
    tc_change_clear(&ch);
    if (st != TC_OK)
        return st;
    return tc_http_reply_json(req, 200, json_pack("{s:I}", "id", id));
}

/* ---- module ------------------------------------------------------------------------------ */

typedef struct {
    const char *env;
    int64_t value, min, max;
} int_setting;

static tc_status check_settings(const tc_config *c, tc_err *err)
{
    const int_setting s[] = {
        {"TC_STREAM_HEARTBEAT_MS", c->stream_heartbeat_ms, 50, 3600000},
        {"TC_STREAM_QUEUE_BYTES", c->stream_queue_bytes, 4096, 64 << 20},
        {"TC_STREAM_TICKET_TTL", c->stream_ticket_ttl_s, 0, 3600},
        {"TC_STREAM_RETAIN", c->stream_retain_s, 0, 365LL * 86400},
        {"TC_STREAM_RETAIN_MAX", c->stream_retain_max, 0, INT64_MAX},
        {"TC_STREAM_PRUNE_MS", c->stream_prune_ms, 10, 86400000},
        {"TC_HTTP_MAX_CONNECTIONS", c->http_max_connections, 1, 1000000},
    };
    for (size_t i = 0; i < sizeof(s) / sizeof(s[0]); i++)
        if (s[i].value < s[i].min || s[i].value > s[i].max)
            return tc_failf(err, TC_BAD_REQUEST, s[i].env, "%s must be between %lld and %lld, got %lld",
                            s[i].env, (long long)s[i].min, (long long)s[i].max, (long long)s[i].value);
    return TC_OK;
}

/* Room for every allowed connection: raise the soft descriptor limit up to
 * the hard one when the connection limit needs it. */
static void raise_nofile(int64_t connections)
{
    struct rlimit rl;
    rlim_t want = (rlim_t)connections + FD_RESERVE;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= want)
        return;
    rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > want ? want : rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur < want) {
        char have[24];
        snprintf(have, sizeof(have), "%llu", (unsigned long long)rl.rlim_cur);
        tc_log(TC_LOG_WARN, "the open-file limit is below TC_HTTP_MAX_CONNECTIONS", "limit", have, NULL);
    }
}

tc_status tc_api_stream_init(tc_app *app, tc_err *err)
{
    const tc_config *c = &app->cfg;
    tc_status st = check_settings(c, err);
    if (st != TC_OK)
        return st;
    if (!app->events)
        return tc_failf(err, TC_INTERNAL, NULL, "the events module is not started");
    int64_t max_id = 0;
    st = tc_stream_max_id(app->db, &max_id, err);
    if (st != TC_OK)
        return st;
    raise_nofile(c->http_max_connections);
    tc_realtime *rt = tc_calloc(1, sizeof(*rt));
    rt->db = app->db;
    rt->events = app->events;
    rt->heartbeat_ms = (int)c->stream_heartbeat_ms;
    rt->queue_bytes = (size_t)c->stream_queue_bytes;
    rt->ticket_ttl_s = c->stream_ticket_ttl_s;
    size_t data_max = rt->queue_bytes / 4 < TC_HUB_DATA_MAX ? rt->queue_bytes / 4 : TC_HUB_DATA_MAX;
    tc_hub_options ho = {.replay_bytes = rt->queue_bytes / 2, .data_max = data_max};
    rt->hub = tc_hub_new(&ho);
    tc_hub_set_floor(rt->hub, max_id);
    rt->pruner = tc_stream_pruner_start(app->db, c->stream_prune_ms, c->stream_retain_s * 1000,
                                        c->stream_retain_max);
    pthread_mutex_init(&rt->fin_mu, NULL);
    pthread_cond_init(&rt->fin_cv, NULL);
    if (pthread_create(&rt->finisher, NULL, finisher_main, rt) != 0) {
        tc_stream_pruner_stop(rt->pruner);
        tc_hub_free(rt->hub);
        free(rt);
        return tc_failf(err, TC_INTERNAL, NULL, "cannot start the stream finisher thread");
    }
    tc_events_set_publisher(app->events, tc_hub_publish_row, rt->hub);
    app->realtime = rt;
    return TC_OK;
}

void tc_api_stream_stopping(tc_app *app)
{
    if (app->realtime)
        tc_hub_stop(app->realtime->hub);
}

void tc_api_stream_shutdown(tc_app *app)
{
    tc_realtime *rt = app->realtime;
    if (!rt)
        return;
    tc_events_set_publisher(app->events, NULL, NULL);
    tc_stream_pruner_stop(rt->pruner);
    tc_hub_stop(rt->hub);
    pthread_mutex_lock(&rt->fin_mu);
    rt->fin_stop = true;
    pthread_cond_signal(&rt->fin_cv);
    pthread_mutex_unlock(&rt->fin_mu);
    pthread_join(rt->finisher, NULL);
    pthread_cond_destroy(&rt->fin_cv);
    pthread_mutex_destroy(&rt->fin_mu);
    tc_hub_free(rt->hub);
    free(rt);
    app->realtime = NULL;
}
