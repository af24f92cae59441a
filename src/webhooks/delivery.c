/* The delivery worker: one thread, one libcurl multi handle.
 *
 * Loop: claim due deliveries (lease: claimed_by = a token of this instance,
 * claimed_until = now + timeout + margin) up to the free slots, start them
 * on the multi handle, let curl run, record every finished attempt (all that
 * finished in one round in one transaction), sleep in curl_multi_poll until
 * a socket is ready, the next delivery is due, or a kick arrives
 * (curl_multi_wakeup). A delivery belongs to this worker only while its
 * claim does; a crash leaves the lease to run out, after which any instance
 * takes it again (at-least-once, same webhook-id). */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "net/net.h"
#include "store/repo_webhooks.h"
#include "webhooks/webhooks_int.h"

#define LEASE_MARGIN_MS 10000
#define KICK_RECHECK_MS 100
#define MAX_HEADER_BYTES (16 * 1024)
#define USER_AGENT "ToolConnect-Webhooks/1.0"

typedef struct flight {
    CURL *h;
    struct curl_slist *hdrs;
    tc_net_guard guard;
    tc_repo_claimed d;
    char token[64];
    tc_buf body;          /* excerpt, at most TC_WH_RESPONSE_KEEP */
    size_t body_seen;
    bool body_cut;        /* stopped reading past TC_WH_RESPONSE_READ_MAX */
    tc_buf headers;       /* excerpt of the final response's header lines */
    char retry_after[64];
    int64_t started_ns;
    /* outcome */
    long status;
    tc_status transport;
    char error[256];
    char errbuf[CURL_ERROR_SIZE];
    struct flight *next;
} flight;

typedef struct worker {
    tc_webhooks *w;
    CURLM *m;
    flight *list;         /* in flight */
    int64_t n;
    int64_t next_claim_at;
    uint64_t seq;
} worker;

/* ---- curl callbacks ---------------------------------------------------------- */

static size_t on_body(char *p, size_t size, size_t nmemb, void *ud)
{
    flight *f = ud;
    size_t n = size * nmemb;
    f->body_seen += n;
    if (f->body.len < TC_WH_RESPONSE_KEEP) {
        size_t take = TC_WH_RESPONSE_KEEP - f->body.len;
        tc_buf_append(&f->body, p, n < take ? n : take);
    }
    if (f->body_seen > TC_WH_RESPONSE_READ_MAX) {
        f->body_cut = true;
        return 0; /* enough: the status is known, the rest is not needed */
    }
    return n;
}

static void keep_retry_after(flight *f, const char *p, size_t n)
{
    if (n <= 12 || strncasecmp(p, "retry-after:", 12))
        return;
    p += 12;
    n -= 12;
    while (n && (*p == ' ' || *p == '\t'))
        p++, n--;
    while (n && (p[n - 1] == '\r' || p[n - 1] == '\n' || p[n - 1] == ' '))
        n--;
    snprintf(f->retry_after, sizeof(f->retry_after), "%.*s", (int)n, p);
}

static size_t on_header(char *p, size_t size, size_t nmemb, void *ud)
{
    flight *f = ud;
    size_t n = size * nmemb;
    if (!tc_net_guard_header(&f->guard, n))
        return 0;
    if (n >= 5 && !strncmp(p, "HTTP/", 5)) { /* a new response (after 1xx) */
        tc_buf_reset(&f->headers);
        f->retry_after[0] = '\0';
    }
    if (f->headers.len + n <= TC_WH_RESPONSE_HEADERS_KEEP)
        tc_buf_append(&f->headers, p, n);
    keep_retry_after(f, p, n);
    return n;
}

/* ---- starting a request --------------------------------------------------------- */

static void add_header(flight *f, const char *name, const char *value)
{
    char line[TC_WH_HEADER_NAME_MAX + TC_WH_HEADER_VALUE_MAX + TC_WH_SIGNATURE_HEADER_MAX + 8];
    if (*value)
        snprintf(line, sizeof(line), "%s: %s", name, value);
    else
        snprintf(line, sizeof(line), "%s;", name); /* curl's form for an empty value */
    f->hdrs = curl_slist_append(f->hdrs, line);
}

static void add_custom_headers(flight *f)
{
    json_t *h = f->d.headers ? json_loads(f->d.headers, 0, NULL) : NULL;
    const char *k;
    json_t *v;
    json_object_foreach(h, k, v) {
        if (json_is_string(v))
            add_header(f, k, json_string_value(v));
    }
    json_decref(h);
}

/* Signs the payload with the current secret (and the previous one during
 * the overlap). */
static tc_status sign(tc_webhooks *w, flight *f, int64_t now, tc_webhook_headers *hd, tc_err *err)
{
    unsigned char *secrets[2] = {NULL, NULL};
    size_t lens[2] = {0, 0};
    size_t n = tc_webhooks__open_secrets(w, &f->d, now, secrets, lens, err);
    if (n == 0)
        return err->status != TC_OK ? err->status : TC_INTERNAL;
    const char *list[2] = {(const char *)secrets[0], (const char *)secrets[1]};
    tc_status st = tc_webhook_sign(list, n, f->d.message_id, now / 1000, f->d.payload,
                                   strlen(f->d.payload), hd, err);
    for (size_t i = 0; i < n; i++)
        tc_secret_free(secrets[i], lens[i]);
    return st;
}

static tc_status flight_setup(tc_webhooks *w, flight *f, int64_t now, tc_err *err)
{
    tc_webhook_headers hd;
    tc_status st = sign(w, f, now, &hd, err);
    if (st != TC_OK)
        return st;
    f->h = curl_easy_init();
    if (!f->h)
        return tc_failf(err, TC_INTERNAL, NULL, "curl_easy_init failed");
    tc_net_opts o = {.connect_timeout_ms = (int)w->cfg.timeout_ms,
                     .timeout_ms = (int)w->cfg.timeout_ms,
                     .max_headers = MAX_HEADER_BYTES,
                     .allow_private = w->cfg.allow_private};
    tc_net_easy_limits(f->h, &o, &f->guard);
    add_header(f, "Content-Type", "application/json");
    add_header(f, "webhook-id", hd.id);
    add_header(f, "webhook-timestamp", hd.timestamp);
    add_header(f, "webhook-signature", hd.signature);
    f->hdrs = curl_slist_append(f->hdrs, "Expect:");
    add_custom_headers(f);
    explicit_bzero(&hd, sizeof(hd));
    curl_easy_setopt(f->h, CURLOPT_URL, f->d.url);
    curl_easy_setopt(f->h, CURLOPT_USERAGENT, USER_AGENT);
    curl_easy_setopt(f->h, CURLOPT_HTTPHEADER, f->hdrs);
    curl_easy_setopt(f->h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(f->d.payload));
    curl_easy_setopt(f->h, CURLOPT_POSTFIELDS, f->d.payload);
    curl_easy_setopt(f->h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(f->h, CURLOPT_WRITEDATA, f);
    curl_easy_setopt(f->h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(f->h, CURLOPT_HEADERDATA, f);
    curl_easy_setopt(f->h, CURLOPT_ERRORBUFFER, f->errbuf);
    curl_easy_setopt(f->h, CURLOPT_PRIVATE, f);
    return TC_OK;
}

static void flight_free(flight *f)
{
    if (f->h)
        curl_easy_cleanup(f->h);
    curl_slist_free_all(f->hdrs);
    tc_buf_free(&f->body);
    tc_buf_free(&f->headers);
    tc_repo_claimed_clear(&f->d);
    free(f);
}

/* ---- recording outcomes ----------------------------------------------------------- */

static void outcome_from_curl(flight *f, CURLcode rc)
{
    curl_easy_getinfo(f->h, CURLINFO_RESPONSE_CODE, &f->status);
    if (rc == CURLE_OK || (f->body_cut && f->status > 0)) {
        f->transport = TC_OK;
        if (f->status < 200 || f->status > 299)
            snprintf(f->error, sizeof(f->error), "HTTP %ld", f->status);
        return;
    }
    tc_err e;
    tc_err_clear(&e);
    f->transport = tc_net_curl_fail(rc, &f->guard, f->errbuf, &e);
    if (f->transport == TC_OK)
        f->transport = TC_UPSTREAM;
    snprintf(f->error, sizeof(f->error), "%.200s", e.message[0] ? e.message : tc_strerror(f->transport));
}

static uint32_t jitter(void)
{
    uint32_t r;
    tc_random_bytes(&r, sizeof(r));
    return r;
}

typedef struct recorded {
    flight *f;
    tc_webhook_next next;
    bool owned, disabled;
    char reason[256];
} recorded;

static tc_status record_one(tc_webhooks *w, tc_db_conn *c, recorded *r, int64_t now, tc_err *err)
{
    flight *f = r->f;
    tc_webhook_verdict v = tc_webhook_classify(f->status, f->transport);
    int64_t ra = -1;
    if (!tc_webhook_retry_after(f->retry_after[0] ? f->retry_after : NULL, now, &ra))
        ra = -1;
    tc_webhook_plan(&w->cfg, v, f->d.attempt_count + 1, f->d.created_at, now, ra, jitter(), &r->next);
    char err_text[400];
    if (!strcmp(r->next.status, "failed") && r->next.why)
        snprintf(err_text, sizeof(err_text), "%s%s%s", f->error, f->error[0] ? ": " : "", r->next.why);
    else
        snprintf(err_text, sizeof(err_text), "%s", f->error);
    tc_repo_attempt a = {
        .delivery_id = f->d.id,
        .user_id = f->d.user_id,
        .status = r->next.status,
        .next_attempt_at = r->next.next_attempt_at,
        .status_code = f->status,
        .response_headers = f->headers.len ? f->headers.data : NULL,
        .response_body = f->body.len && tc_utf8_valid(f->body.data, f->body.len) ? f->body.data : NULL,
        .duration_ms = (tc_mono_ns() - f->started_ns) / 1000000,
        .error = err_text[0] ? err_text : NULL,
    };
    tc_status st = tc_repo_delivery_record(c, f->token, &a, now, &r->owned, err);
    if (st != TC_OK || !r->owned)
        return st;
    int64_t cutoff = w->cfg.disable_after_ms > 0 ? now - w->cfg.disable_after_ms : 0;
    return tc_repo_webhook_note_result(c, f->d.webhook_id, v == TC_WH_SUCCEEDED,
                                       v == TC_WH_GONE ? "the endpoint answered 410 Gone" : NULL,
                                       cutoff, now, &r->disabled, r->reason, sizeof(r->reason), err);
}

static void notify(tc_webhooks *w, const char *user_id, const char *kind, json_t *info)
{
    pthread_mutex_lock(&w->lock);
    tc_webhooks_notify_fn fn = w->notify;
    void *ctx = w->notify_ctx;
    pthread_mutex_unlock(&w->lock);
    if (fn)
        fn(ctx, user_id, kind, info);
    json_decref(info);
}

/* After the commit: counters, logs, the owner's notification hook. */
static void announce(tc_webhooks *w, worker *k, recorded *r)
{
    flight *f = r->f;
    if (!r->owned) {
        tc_log(TC_LOG_WARN, "webhook delivery lease lost; another worker owns it now",
               "delivery_id", f->d.id, NULL);
        return;
    }
    atomic_fetch_add(&w->n_attempts, 1);
    char code[16];
    snprintf(code, sizeof(code), "%ld", f->status);
    if (!strcmp(r->next.status, "succeeded")) {
        atomic_fetch_add(&w->n_succeeded, 1);
    } else if (!strcmp(r->next.status, "pending")) {
        atomic_fetch_add(&w->n_retried, 1);
        if (r->next.next_attempt_at < k->next_claim_at)
            k->next_claim_at = r->next.next_attempt_at;
        tc_log(TC_LOG_INFO, "webhook attempt failed; retrying", "delivery_id", f->d.id,
               "webhook_id", f->d.webhook_id, "status", code, "error", f->error, NULL);
    } else {
        atomic_fetch_add(&w->n_failed, 1);
        tc_log(TC_LOG_WARN, "webhook delivery failed", "delivery_id", f->d.id, "webhook_id",
               f->d.webhook_id, "user_id", f->d.user_id, "event_type", f->d.event_type, "status",
               code, "error", f->error, "reason", r->next.why, NULL);
        notify(w, f->d.user_id, "delivery_failed",
               json_pack("{s:s, s:s, s:s, s:I, s:s?, s:s?}", "id", f->d.id, "webhook_id",
                         f->d.webhook_id, "event_type", f->d.event_type, "attempt_count",
                         (json_int_t)(f->d.attempt_count + 1), "last_error",
                         f->error[0] ? f->error : NULL, "reason", r->next.why));
    }
    if (r->disabled) {
        atomic_fetch_add(&w->n_disabled, 1);
        tc_log(TC_LOG_WARN, "webhook endpoint disabled", "webhook_id", f->d.webhook_id, "user_id",
               f->d.user_id, "reason", r->reason, NULL);
        notify(w, f->d.user_id, "endpoint_disabled",
               json_pack("{s:s, s:s}", "webhook_id", f->d.webhook_id, "reason", r->reason));
    }
}

/* Records the finished flights in one transaction, then announces them. On
 * a database failure nothing is written: the leases run out and the
 * deliveries are sent again (at-least-once). */
static void record_batch(tc_webhooks *w, worker *k, flight **done, size_t n)
{
    recorded *rs = tc_calloc(n, sizeof(*rs));
    tc_err err;
    tc_err_clear(&err);
    int64_t now = tc_now_ms();
    tc_db_conn *c = tc_db_acquire(w->db);
    tc_status st = tc_db_begin(c, &err);
    for (size_t i = 0; i < n && st == TC_OK; i++) {
        rs[i].f = done[i];
        st = record_one(w, c, &rs[i], now, &err);
    }
    if (st == TC_OK)
        st = tc_db_commit(c, &err);
    else
        tc_db_rollback(c);
    tc_db_release(c);
    if (st != TC_OK)
        tc_log(TC_LOG_ERROR, "webhook attempts not recorded; they will be sent again",
               "error", err.message, NULL);
    for (size_t i = 0; i < n; i++) {
        if (st == TC_OK)
            announce(w, k, &rs[i]);
        flight_free(done[i]);
    }
    free(rs);
}

/* ---- the loop ---------------------------------------------------------------------- */

static void unlink_flight(worker *k, flight *f)
{
    for (flight **pp = &k->list; *pp; pp = &(*pp)->next) {
        if (*pp == f) {
            *pp = f->next;
            k->n--;
            atomic_fetch_sub(&k->w->n_inflight, 1);
            return;
        }
    }
}

static void collect(worker *k)
{
    flight *done[256];
    size_t n = 0;
    CURLMsg *msg;
    int left = 0;
    while ((msg = curl_multi_info_read(k->m, &left))) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        flight *f = NULL;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&f);
        CURLcode rc = msg->data.result;
        curl_multi_remove_handle(k->m, f->h);
        outcome_from_curl(f, rc);
        unlink_flight(k, f);
        done[n++] = f;
        if (n == sizeof(done) / sizeof(done[0])) {
            record_batch(k->w, k, done, n);
            n = 0;
        }
    }
    if (n)
        record_batch(k->w, k, done, n);
}

/* A delivery that cannot even be signed (its secret does not open) counts
 * as a failed attempt and is retried like a transport failure. */
static void start_flight(worker *k, tc_repo_claimed *d, const char *token, int64_t now)
{
    flight *f = tc_calloc(1, sizeof(*f));
    f->d = *d;
    memset(d, 0, sizeof(*d));
    snprintf(f->token, sizeof(f->token), "%s", token);
    tc_buf_init(&f->body, TC_WH_RESPONSE_KEEP);
    tc_buf_init(&f->headers, TC_WH_RESPONSE_HEADERS_KEEP);
    f->started_ns = tc_mono_ns();
    tc_err err;
    tc_err_clear(&err);
    if (flight_setup(k->w, f, now, &err) != TC_OK) {
        f->transport = TC_INTERNAL;
        snprintf(f->error, sizeof(f->error), "cannot sign the delivery: %.200s", err.message);
        record_batch(k->w, k, &f, 1);
        return;
    }
    curl_multi_add_handle(k->m, f->h);
    f->next = k->list;
    k->list = f;
    k->n++;
    atomic_fetch_add(&k->w->n_inflight, 1);
}

static void claim(worker *k, bool kicked)
{
    tc_webhooks *w = k->w;
    int64_t now = tc_now_ms(), room = w->cfg.concurrency - k->n, got = 0;
    char token[64];
    snprintf(token, sizeof(token), "%s:%llu", w->instance, (unsigned long long)++k->seq);
    tc_err err;
    tc_err_clear(&err);
    tc_repo_claimed *ds = NULL;
    size_t nd = 0;
    bool found = false;
    int64_t due = 0;
    tc_db_conn *c = tc_db_acquire(w->db);
    tc_status st = tc_repo_delivery_claim(c, token, now, now + w->cfg.timeout_ms + LEASE_MARGIN_MS,
                                          room, &got, &err);
    if (st == TC_OK && got > 0)
        st = tc_repo_delivery_claimed(c, token, (size_t)got, &ds, &nd, &err);
    if (st == TC_OK && got < room)
        st = tc_repo_delivery_next_due(c, &due, &found, &err);
    tc_db_release(c);
    if (st != TC_OK) {
        tc_log(TC_LOG_ERROR, "webhook queue unavailable", "error", err.message, NULL);
        k->next_claim_at = now + w->cfg.poll_ms;
        free(ds);
        return;
    }
    for (size_t i = 0; i < nd; i++)
        start_flight(k, &ds[i], token, now);
    free(ds);
    if (got >= room)
        k->next_claim_at = now; /* more may be due: claim as slots free up */
    else
        k->next_claim_at = found ? (due > now + 10 ? due : now + 10) : now + w->cfg.poll_ms;
    if (k->next_claim_at > now + w->cfg.poll_ms)
        k->next_claim_at = now + w->cfg.poll_ms;
    if (kicked && got == 0 && k->next_claim_at > now + KICK_RECHECK_MS)
        k->next_claim_at = now + KICK_RECHECK_MS; /* the enqueuing commit may still be on its way */
}

/* Abandons what is in flight and releases its claims (shutdown). */
static void drain(worker *k)
{
    tc_db_conn *c = k->list ? tc_db_acquire(k->w->db) : NULL;
    while (k->list) {
        flight *f = k->list;
        k->list = f->next;
        curl_multi_remove_handle(k->m, f->h);
        tc_err err;
        tc_err_clear(&err);
        tc_repo_delivery_release(c, f->token, &err);
        atomic_fetch_sub(&k->w->n_inflight, 1);
        flight_free(f);
    }
    k->n = 0;
    if (c)
        tc_db_release(c);
}

static void *worker_main(void *arg)
{
    tc_webhooks *w = arg;
    worker k = {.w = w, .m = w->multi, .next_claim_at = 0};
    while (!atomic_load(&w->stop)) {
        bool kicked = atomic_exchange(&w->kicked, false);
        if (k.n < w->cfg.concurrency && (kicked || tc_now_ms() >= k.next_claim_at))
            claim(&k, kicked);
        int running = 0;
        curl_multi_perform(k.m, &running);
        collect(&k);
        int64_t wait = k.next_claim_at - tc_now_ms();
        if (k.n >= w->cfg.concurrency || wait > w->cfg.poll_ms)
            wait = w->cfg.poll_ms;
        if (wait > 0 && !atomic_load(&w->kicked))
            curl_multi_poll(k.m, NULL, 0, (int)wait, NULL);
    }
    drain(&k);
    return NULL;
}

tc_status tc_webhooks__worker_start(tc_webhooks *w, tc_err *err)
{
    if (w->started)
        return TC_OK;
    tc_net_global_init();
    w->multi = curl_multi_init();
    if (!w->multi)
        return tc_failf(err, TC_INTERNAL, NULL, "curl_multi_init failed");
    atomic_store(&w->stop, false);
    if (pthread_create(&w->thread, NULL, worker_main, w) != 0) {
        curl_multi_cleanup(w->multi);
        w->multi = NULL;
        return tc_failf(err, TC_INTERNAL, NULL, "cannot start the webhook worker thread");
    }
    w->started = true;
    return TC_OK;
}

void tc_webhooks__worker_stop(tc_webhooks *w)
{
    if (!w->started)
        return;
    atomic_store(&w->stop, true);
    curl_multi_wakeup(w->multi);
    pthread_join(w->thread, NULL);
    curl_multi_cleanup(w->multi);
    w->multi = NULL;
    w->started = false;
}

void tc_webhooks_kick(tc_webhooks *w)
{
    if (!w)
        return;
    atomic_store(&w->kicked, true);
    if (w->started && w->multi)
        curl_multi_wakeup(w->multi);
}
