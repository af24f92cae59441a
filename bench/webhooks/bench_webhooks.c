/* Webhook deliveries per second to a local receiver answering 200:
 *   durable  events go through the real path: one transaction per event
 *            calling the outbox hook (row in webhook_deliveries), the worker
 *            claims, signs, sends on curl multi and records each attempt
 *            (SQLite file under $TMPDIR);
 *   bare     a plain libcurl multi loop posting the same bodies with the same
 *            concurrency and no database: by default with the same header
 *            lines (signed before the timed loop), so the receiver parses
 *            the same bytes; TC_BENCH_BARE_MINIMAL=1 sends only
 *            Content-Type (the loop of the earlier measurements).
 * The receiver is libmicrohttpd in this process (its own thread), so both
 * runs meet the same server. Usage: bench_webhooks [events] [concurrency] [rounds].
 * TC_BENCH_DATABASE_URL=postgres://... runs the durable side on PostgreSQL
 * (an empty database: the schema is migrated and a user is inserted). */
#include <curl/curl.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "crypto/crypto.h"
#include "store/db.h"
#include "webhooks/webhooks.h"

#define USER_ID "11111111-1111-4111-8111-111111111111"

/* ---- receiver ----------------------------------------------------------------- */
static atomic_uint_fast64_t received, connections;

/* Counts TCP connections the receiver accepted: both loops should reuse
 * keep-alive connections the same way. */
static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode code)
{
    (void)cls, (void)conn, (void)socket_context;
    if (code == MHD_CONNECTION_NOTIFY_STARTED)
        atomic_fetch_add(&connections, 1);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *data,
                                  size_t *data_size, void **state)
{
    (void)cls, (void)url, (void)method, (void)version, (void)data;
    if (!*state) {
        *state = (void *)1;
        return MHD_YES;
    }
    if (*data_size) {
        *data_size = 0; /* body consumed */
        return MHD_YES;
    }
    atomic_fetch_add(&received, 1);
    struct MHD_Response *r = MHD_create_response_from_buffer(2, (void *)"ok", MHD_RESPMEM_PERSISTENT);
    enum MHD_Result ret = MHD_queue_response(conn, 200, r);
    MHD_destroy_response(r);
    return ret;
}

static struct MHD_Daemon *receiver_start(int *port)
{
    struct MHD_Daemon *d = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL, 0, NULL, NULL, on_request, NULL,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)4096, MHD_OPTION_NOTIFY_CONNECTION, on_connection,
        NULL, MHD_OPTION_END);
    if (!d)
        return NULL;
    *port = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT)->port;
    return d;
}

/* ---- event bodies --------------------------------------------------------------- */
static json_t *event_data(int i)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:{s:i, s:s}, s:s, s:s}", "id", "7c9e6679-7425-40de-944b-e07fc1f90ae7",
                     "connector", "github", "tool", "create_issue", "status", "succeeded", "result",
                     "number", i, "title", "Bench issue with a moderately long title for realism",
                     "queued_at", "2026-11-28T18:00:00.000Z", "finished_at", "2026-11-28T18:00:00.120Z");
}

/* ---- bare libcurl multi loop ------------------------------------------------------ */
static size_t discard(char *p, size_t s, size_t n, void *u)
{
    (void)p, (void)u;
    return s * n;
}

/* What the bare loop posts: the stored bodies and, unless minimal, the very
 * header lines the worker sends (webhook-id, -timestamp, -signature signed
 * beforehand with the endpoint's secret, and the User-Agent), so the
 * receiver parses the same bytes from both loops. No database, no signing
 * inside the timed loop. */
typedef struct bare_req {
    char *body;
    struct curl_slist *hdrs;
} bare_req;

static const char *bare_minimal(void)
{
    const char *v = getenv("TC_BENCH_BARE_MINIMAL");
    return v && *v == '1' ? "minimal headers" : "the worker's headers";
}

static double bare_run(const char *url, bare_req *reqs, int n, int conc)
{
    CURLM *m = curl_multi_init();
    int next = 0, done = 0, running = 0;
    int64_t t0 = tc_mono_ns();
    while (done < n) {
        while (next < n && running < conc) {
            CURL *e = curl_easy_init();
            curl_easy_setopt(e, CURLOPT_URL, url);
            curl_easy_setopt(e, CURLOPT_HTTPHEADER, reqs[next].hdrs);
            curl_easy_setopt(e, CURLOPT_POSTFIELDS, reqs[next].body);
            curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(reqs[next].body));
            curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard);
            curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
            curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 15000L);
            curl_multi_add_handle(m, e);
            next++;
            running++;
        }
        int still = 0;
        curl_multi_perform(m, &still);
        CURLMsg *msg;
        int left;
        while ((msg = curl_multi_info_read(m, &left))) {
            if (msg->msg != CURLMSG_DONE)
                continue;
            long code = 0;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &code);
            if (code != 200) {
                fprintf(stderr, "bare: HTTP %ld\n", code);
                exit(1);
            }
            curl_multi_remove_handle(m, msg->easy_handle);
            curl_easy_cleanup(msg->easy_handle);
            done++;
            running--;
        }
        if (done < n && !(next < n && running < conc)) /* nothing to start: wait for sockets */
            curl_multi_poll(m, NULL, 0, 100, NULL);
    }
    double secs = (double)(tc_mono_ns() - t0) / 1e9;
    curl_multi_cleanup(m);
    return n / secs;
}

/* ---- durable run ---------------------------------------------------------------- */
typedef struct setup {
    tc_db *db;
    tc_keyring *kr;
    tc_webhooks *w;
    char secret[TC_WH_SECRET_TEXT_MAX]; /* the endpoint's, for the bare loop's headers */
} setup;

static void die(const char *what, const tc_err *e)
{
    fprintf(stderr, "%s: %s\n", what, e->message);
    exit(1);
}

static void setup_open(setup *s, const char *dir, const char *url, int conc)
{
    tc_err e;
    char dburl[600];
    const char *pg = getenv("TC_BENCH_DATABASE_URL"); /* e.g. a fresh PostgreSQL database */
    if (pg && *pg)
        snprintf(dburl, sizeof(dburl), "%s", pg);
    else
        snprintf(dburl, sizeof(dburl), "sqlite:%s/bench.db", dir);
    if (tc_db_open(dburl, 4, &s->db, &e) != TC_OK || tc_db_migrate(s->db, &e) != TC_OK)
        die("database", &e);
    unsigned char master[32];
    tc_random_bytes(master, sizeof(master));
    if (tc_keyring_new(master, 32, &s->kr, &e) != TC_OK || tc_keyring_add(s->kr, 1, &e) != TC_OK)
        die("keyring", &e);
    tc_webhooks_config c;
    tc_webhooks_config_defaults(&c);
    c.allow_private = true;
    c.concurrency = conc;
    if (tc_webhooks_new(s->db, s->kr, &c, &s->w, &e) != TC_OK)
        die("webhooks", &e);
    tc_db_conn *conn = tc_db_acquire(s->db);
    const tc_dbv p[] = {TC_DBV_STR(USER_ID)};
    if (tc_db_exec(conn, "INSERT INTO users (id, email, password_hash) VALUES ($1, 'b@example.com', 'x')", p, 1,
                   NULL, &e) != TC_OK)
        die("user", &e);
    tc_db_release(conn);
    json_t *body = json_pack("{s:s, s:[s]}", "url", url, "event_types", "job.succeeded");
    json_t *out = NULL;
    if (tc_webhooks_create(s->w, USER_ID, body, &out, &e) != TC_OK)
        die("endpoint", &e);
    snprintf(s->secret, sizeof(s->secret), "%s", json_string_value(json_object_get(out, "secret")));
    json_decref(body);
    json_decref(out);
}

/* One transaction per event, like a domain change recording it. */
static void enqueue(setup *s, int n)
{
    tc_err e;
    tc_db_conn *c = tc_db_acquire(s->db);
    for (int i = 0; i < n; i++) {
        json_t *d = event_data(i);
        if (tc_db_begin(c, &e) != TC_OK || tc_webhooks_outbox(s->w, c, USER_ID, "job.succeeded", d, &e) != TC_OK ||
            tc_db_commit(c, &e) != TC_OK)
            die("enqueue", &e);
        json_decref(d);
    }
    tc_db_release(c);
}

typedef struct producer {
    setup *s;
    int n;
    double secs;
} producer;

static void *produce(void *arg)
{
    producer *p = arg;
    int64_t t0 = tc_mono_ns();
    enqueue(p->s, p->n);
    p->secs = (double)(tc_mono_ns() - t0) / 1e9;
    return NULL;
}

static void wait_done(setup *s, uint64_t target)
{
    tc_webhooks_stats st;
    for (;;) {
        tc_webhooks_stats_get(s->w, &st);
        if (st.succeeded + st.failed >= target)
            break;
        struct timespec ts = {0, 2000000}; /* 2 ms: a poller that wakes too often costs the worker CPU */
        nanosleep(&ts, NULL);
    }
    if (st.failed) {
        fprintf(stderr, "durable: %llu deliveries failed\n", (unsigned long long)st.failed);
        exit(1);
    }
}

static uint64_t drain_rounds; /* dispatcher transactions over all drains */

/* CPU time of the whole process (every thread, receiver included), in µs:
 * under a loaded machine the CPU cost per delivery is steadier than the
 * rates. */
static double cpu_us(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec * 1e6 + (double)ru.ru_utime.tv_usec +
           (double)ru.ru_stime.tv_sec * 1e6 + (double)ru.ru_stime.tv_usec;
}

/* The queue filled first, then the worker alone drains it: claim, sign,
 * send, record. */
static double drain_run(setup *s, int n, double *enqueue_rate, double *cpu_per, double *disp_us,
                        double *send_us)
{
    tc_err e;
    int64_t t0 = tc_mono_ns();
    enqueue(s, n);
    *enqueue_rate = n / ((double)(tc_mono_ns() - t0) / 1e9);
    t0 = tc_mono_ns();
    double c0 = cpu_us();
    if (tc_webhooks_start(s->w, &e) != TC_OK)
        die("start", &e);
    wait_done(s, (uint64_t)n);
    double rate = n / ((double)(tc_mono_ns() - t0) / 1e9);
    *cpu_per = (cpu_us() - c0) / n;
    tc_webhooks_stats st;
    tc_webhooks_stats_get(s->w, &st);
    drain_rounds += st.rounds;
    *disp_us = (double)st.dispatch_cpu_ns / 1e3 / n;
    *send_us = (double)st.send_cpu_ns / 1e3 / n;
    return rate;
}

/* Producer and worker at once: events committed one per transaction while
 * the worker sends (the worker is already running). */
static double durable_run(setup *s, int n, double *enqueue_rate)
{
    tc_webhooks_stats before;
    tc_webhooks_stats_get(s->w, &before);
    producer p = {.s = s, .n = n};
    pthread_t t;
    int64_t t0 = tc_mono_ns();
    pthread_create(&t, NULL, produce, &p);
    wait_done(s, before.succeeded + (uint64_t)n);
    double secs = (double)(tc_mono_ns() - t0) / 1e9;
    pthread_join(t, NULL);
    *enqueue_rate = n / p.secs;
    return n / secs;
}

/* Empties the queue and starts a fresh (stopped) service for the next round. */
static void reset_queue(setup *s, int conc)
{
    tc_err e;
    tc_db_conn *c = tc_db_acquire(s->db);
    if (tc_db_exec(c, "DELETE FROM webhook_deliveries", NULL, 0, NULL, &e) != TC_OK)
        die("reset", &e);
    tc_db_release(c);
    tc_webhooks_config cfg;
    tc_webhooks_config_defaults(&cfg);
    cfg.allow_private = true;
    cfg.concurrency = conc;
    if (tc_webhooks_new(s->db, s->kr, &cfg, &s->w, &e) != TC_OK)
        die("webhooks", &e);
}

static struct curl_slist *bare_headers(const setup *s, const char *msg_id, const char *body)
{
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    h = curl_slist_append(h, "Expect:");
    if (bare_minimal()[0] == 'm')
        return h;
    tc_err e;
    tc_webhook_headers hd;
    const char *secrets[] = {s->secret};
    if (tc_webhook_sign(secrets, 1, msg_id, tc_now_ms() / 1000, body, strlen(body), &hd, &e) != TC_OK)
        die("sign", &e);
    char line[512];
    snprintf(line, sizeof(line), "webhook-id: %s", hd.id);
    h = curl_slist_append(h, line);
    snprintf(line, sizeof(line), "webhook-timestamp: %s", hd.timestamp);
    h = curl_slist_append(h, line);
    snprintf(line, sizeof(line), "webhook-signature: %s", hd.signature);
    h = curl_slist_append(h, line);
    return curl_slist_append(h, "User-Agent: ToolConnect-Webhooks/1.0");
}

/* The exact bodies (and ids) the durable run sent, for the bare loop. */
static bare_req *stored_requests(setup *s, int n)
{
    tc_err e;
    bare_req *b = tc_calloc((size_t)n, sizeof(*b));
    tc_db_conn *c = tc_db_acquire(s->db);
    tc_db_rows *r = NULL;
    const tc_dbv p[] = {TC_DBV_I64(n)};
    if (tc_db_query(c, "SELECT payload, event_id FROM webhook_deliveries ORDER BY created_at LIMIT $1", p, 1,
                    &r, &e) != TC_OK)
        die("bodies", &e);
    int i = 0;
    while (i < n && tc_db_rows_next(r)) {
        b[i].body = tc_strdup(tc_db_rows_text(r, 0));
        b[i].hdrs = bare_headers(s, tc_db_rows_text(r, 1), b[i].body);
        i++;
    }
    tc_db_rows_free(r);
    tc_db_release(c);
    if (i != n) {
        fprintf(stderr, "only %d bodies stored\n", i);
        exit(1);
    }
    return b;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof(*v), cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

#define ROUNDS_MAX 15

/* Rounds alternate the two loops (queue filled then drained, then the bare
 * loop on the same bodies), so both see the same machine load; medians. */
int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 3000;
    int conc = argc > 2 ? atoi(argv[2]) : 64;
    int rounds = argc > 3 ? atoi(argv[3]) : 5;
    if (n < 1 || conc < 1 || rounds < 1 || rounds > ROUNDS_MAX)
        return 2;
    tc_log_setup(TC_LOG_ERROR, TC_LOG_TEXT, 2);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    int port = 0;
    struct MHD_Daemon *d = receiver_start(&port);
    if (!d) {
        fprintf(stderr, "receiver did not start\n");
        return 1;
    }
    char url[64], dir[] = "/tmp/tc-bench-webhooks-XXXXXX";
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/hook", port);
    if (!mkdtemp(dir))
        return 1;
    setup s = {0};
    setup_open(&s, dir, url, conc);
    double enq[ROUNDS_MAX], drain[ROUNDS_MAX], bare[ROUNDS_MAX], ratio[ROUNDS_MAX];
    uint64_t drain_conns = 0, bare_conns = 0;
    double drain_cpu[ROUNDS_MAX], bare_cpu[ROUNDS_MAX], disp_cpu[ROUNDS_MAX], send_cpu[ROUNDS_MAX];
    for (int r = 0; r < rounds; r++) {
        uint64_t k0 = atomic_load(&connections);
        drain[r] = drain_run(&s, n, &enq[r], &drain_cpu[r], &disp_cpu[r], &send_cpu[r]);
        drain_conns += atomic_load(&connections) - k0;
        tc_webhooks_free(s.w);
        bare_req *reqs = stored_requests(&s, n);
        double c0 = cpu_us();
        k0 = atomic_load(&connections);
        bare[r] = bare_run(url, reqs, n, conc);
        bare_conns += atomic_load(&connections) - k0;
        bare_cpu[r] = (cpu_us() - c0) / n;
        ratio[r] = drain[r] / bare[r];
        for (int i = 0; i < n; i++) {
            free(reqs[i].body);
            curl_slist_free_all(reqs[i].hdrs);
        }
        free(reqs);
        reset_queue(&s, conc);
    }
    double enq2 = 0;
    tc_err e;
    if (tc_webhooks_start(s.w, &e) != TC_OK)
        die("start", &e);
    double e2e = durable_run(&s, n, &enq2);
    tc_webhooks_free(s.w);
    const char *pg = getenv("TC_BENCH_DATABASE_URL");
    printf("events %d per round, %d rounds, concurrency %d, receiver libmicrohttpd (epoll thread), %s, "
           "bare loop with %s\n",
           n, rounds, conc, pg && *pg ? "PostgreSQL" : "SQLite file", bare_minimal());
    printf("%-52s %9.0f /s\n", "enqueue alone (1 transaction per event)", median(enq, rounds));
    printf("%-52s %9.0f /s\n", "durable queue drained by the worker", median(drain, rounds));
    printf("%-52s %9.0f /s\n", "bare libcurl multi, same bodies", median(bare, rounds));
    printf("%-52s %9.0f %%\n", "drained / bare (median of the rounds)", 100.0 * median(ratio, rounds));
    printf("%-52s %9.1f us\n", "CPU per delivery, durable drain (all threads)", median(drain_cpu, rounds));
    printf("%-52s %9.1f us\n", "  of which the dispatcher thread (database, signing)", median(disp_cpu, rounds));
    printf("%-52s %9.1f us\n", "  of which the sender thread (curl)", median(send_cpu, rounds));
    printf("%-52s %9.1f us\n", "CPU per delivery, bare loop (all threads)", median(bare_cpu, rounds));
    printf("%-52s %9.0f /s\n", "enqueue + deliver concurrently (end to end)", e2e);
    printf("%-52s %9.1f\n", "deliveries per dispatcher transaction (drains)",
           drain_rounds ? (double)n * rounds / (double)drain_rounds : 0.0);
    printf("%-52s %9.1f / %.1f\n", "TCP connections per 1000 requests, durable / bare",
           1000.0 * (double)drain_conns / ((double)n * rounds), 1000.0 * (double)bare_conns / ((double)n * rounds));
    printf("receiver saw %llu requests\n", (unsigned long long)atomic_load(&received));
    tc_keyring_free(s.kr);
    tc_db_close(s.db);
    MHD_stop_daemon(d);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    return system(cmd) != 0;
}
