/* The delivery worker: two threads around one libcurl multi handle.
 *
 * The dispatcher does all database work: it claims due deliveries (lease:
 * claimed_by = a token of this instance, claimed_until = now + timeout +
 * margin) up to the free slots, signs them and prepares their requests,
 * hands them to the sender, and records every finished attempt (all that
 * finished since the last round in one transaction), scheduling retries.
 * The sender only runs curl: it adds the prepared requests to the multi
 * handle, lets them run, and hands finished ones back. So the database work
 * of one round overlaps the network work of the next, and SQLite's single
 * writer is never contended by our own threads.
 *
 * Queues: ready (dispatcher -> sender, woken by curl_multi_wakeup) and done
 * (sender -> dispatcher, woken by the condition variable). Lock order: q.mu
 * only, never held across a database or curl call.
 *
 * A delivery belongs to this worker only while its claim does; a crash
 * leaves the lease to run out, after which any instance takes it again
 * (at-least-once, same webhook-id). At stop, requests in flight are
 * abandoned and their claims released so the next start sends them. */
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
    bool abandoned;       /* stopped before it finished: release the claim */
    int64_t duration_ms;
    struct flight *next;
} flight;

typedef struct queues {
    pthread_mutex_t mu;
    pthread_cond_t cv;       /* dispatcher waits: done items, kick, stop */
    flight *ready;           /* prepared, for the sender (LIFO is fine) */
    flight *done;            /* finished or abandoned, for the dispatcher */
    bool stop_sender, stop_dispatcher, sender_gone;
    pthread_t sender, dispatcher;
} queues;

#define RECORD_BATCH_MAX 512

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

/* Easy handles are reused (curl_easy_reset) rather than created per
 * request; only the dispatcher thread touches the pool. */
static CURL *easy_get(tc_webhooks *w)
{
    if (w->n_easy == 0)
        return curl_easy_init();
    CURL *h = w->easy_pool[--w->n_easy];
    curl_easy_reset(h);
    return h;
}

static void easy_put(tc_webhooks *w, CURL *h)
{
    if (w->n_easy < TC_WH_EASY_POOL)
        w->easy_pool[w->n_easy++] = h;
    else
        curl_easy_cleanup(h);
}

static void easy_pool_free(tc_webhooks *w)
{
    while (w->n_easy > 0)
        curl_easy_cleanup(w->easy_pool[--w->n_easy]);
}

static tc_status flight_setup(tc_webhooks *w, flight *f, int64_t now, tc_err *err)
{
    tc_webhook_headers hd;
    tc_status st = sign(w, f, now, &hd, err);
    if (st != TC_OK)
        return st;
    f->h = easy_get(w);
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

static void flight_free(tc_webhooks *w, flight *f)
{
    if (f->h)
        easy_put(w, f->h);
    curl_slist_free_all(f->hdrs);
    tc_buf_free(&f->body);
    tc_buf_free(&f->headers);
    tc_repo_claimed_clear(&f->d);
    free(f);
}

/* ---- recording outcomes ----------------------------------------------------------- */

static void outcome_from_curl(flight *f, CURLcode rc)
{
    f->duration_ms = (tc_mono_ns() - f->started_ns) / 1000000;
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
    tc_webhook_verdict verdict;
    tc_webhook_next next;
    tc_repo_attempt a;
    char err_text[400];
    bool owned, disabled;
    char reason[256];
} recorded;

/* Decides what happens next and fills the attempt row. */
static void plan_one(tc_webhooks *w, recorded *r, int64_t now)
{
    flight *f = r->f;
    r->verdict = tc_webhook_classify(f->status, f->transport);
    int64_t ra = -1;
    if (!tc_webhook_retry_after(f->retry_after[0] ? f->retry_after : NULL, now, &ra))
        ra = -1;
    tc_webhook_plan(&w->cfg, r->verdict, f->d.attempt_count + 1, f->d.created_at, now, ra, jitter(),
                    &r->next);
    if (!strcmp(r->next.status, "failed") && r->next.why)
        snprintf(r->err_text, sizeof(r->err_text), "%s%s%s", f->error, f->error[0] ? ": " : "",
                 r->next.why);
    else
        snprintf(r->err_text, sizeof(r->err_text), "%s", f->error);
    r->a = (tc_repo_attempt){
        .delivery_id = f->d.id,
        .user_id = f->d.user_id,
        .attempt = f->d.attempt_count + 1,
        .status = r->next.status,
        .next_attempt_at = r->next.next_attempt_at,
        .status_code = f->status,
        .response_headers = f->headers.len ? f->headers.data : NULL,
        .response_body = f->body.len && tc_utf8_valid(f->body.data, f->body.len) ? f->body.data : NULL,
        .duration_ms = f->duration_ms,
        .error = r->err_text[0] ? r->err_text : NULL,
    };
}

/* Endpoint bookkeeping: failures always; a success clears failing_since,
 * once per endpoint per batch (rs[0..i) are the batch's earlier rows). */
static tc_status note_one(tc_webhooks *w, tc_db_conn *c, recorded *rs, size_t i, int64_t now,
                          tc_err *err)
{
    recorded *r = &rs[i];
    bool ok = r->verdict == TC_WH_SUCCEEDED;
    if (!r->owned)
        return TC_OK;
    for (size_t j = 0; ok && j < i; j++)
        if (rs[j].owned && rs[j].verdict == TC_WH_SUCCEEDED &&
            !strcmp(rs[j].f->d.webhook_id, r->f->d.webhook_id))
            return TC_OK;
    int64_t cutoff = w->cfg.disable_after_ms > 0 ? now - w->cfg.disable_after_ms : 0;
    return tc_repo_webhook_note_result(c, r->f->d.webhook_id, ok,
                                       r->verdict == TC_WH_GONE ? "the endpoint answered 410 Gone" : NULL,
                                       cutoff, now, &r->disabled, r->reason, sizeof(r->reason), err);
}

/* Writes the attempts: successes in chunks of TC_REPO_RECORD_CHUNK (two
 * statements per chunk), the rest one by one. */
static tc_status write_batch(tc_db_conn *c, recorded *rs, size_t n, int64_t now, tc_err *err)
{
    size_t idx[TC_REPO_RECORD_CHUNK], k = 0;
    tc_status st = TC_OK;
    for (size_t i = 0; i < n && st == TC_OK; i++) {
        if (rs[i].verdict != TC_WH_SUCCEEDED) {
            st = tc_repo_delivery_record(c, rs[i].f->token, &rs[i].a, now, &rs[i].owned, err);
            continue;
        }
        idx[k++] = i;
        if (k < TC_REPO_RECORD_CHUNK)
            continue;
        tc_repo_attempt a[TC_REPO_RECORD_CHUNK];
        bool owned[TC_REPO_RECORD_CHUNK];
        for (size_t j = 0; j < k; j++)
            a[j] = rs[idx[j]].a;
        /* one token per claim batch: chunks mix tokens, so pass each row's */
        const char *token = rs[idx[0]].f->token;
        bool same = true;
        for (size_t j = 1; j < k; j++)
            same = same && !strcmp(rs[idx[j]].f->token, token);
        if (same) {
            st = tc_repo_delivery_record_succeeded(c, token, a, now, owned, err);
            for (size_t j = 0; j < k; j++)
                rs[idx[j]].owned = owned[j];
        } else {
            for (size_t j = 0; j < k && st == TC_OK; j++)
                st = tc_repo_delivery_record(c, rs[idx[j]].f->token, &rs[idx[j]].a, now,
                                             &rs[idx[j]].owned, err);
        }
        k = 0;
    }
    for (size_t j = 0; j < k && st == TC_OK; j++)
        st = tc_repo_delivery_record(c, rs[idx[j]].f->token, &rs[idx[j]].a, now, &rs[idx[j]].owned,
                                     err);
    return st;
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
static void announce(tc_webhooks *w, recorded *r, int64_t *next_claim_at)
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
        if (r->next.next_attempt_at < *next_claim_at)
            *next_claim_at = r->next.next_attempt_at;
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
               json_pack("{s:s, s:s, s:s?}", "webhook_id", f->d.webhook_id, "reason", r->reason,
                         "url", f->d.url));
    }
}

/* Records the finished flights in one transaction, then announces them. On
 * a database failure nothing is written: the leases run out and the
 * deliveries are sent again (at-least-once). */
static void record_batch(tc_webhooks *w, flight **done, size_t n, int64_t *next_claim_at)
{
    recorded *rs = tc_calloc(n, sizeof(*rs));
    tc_err err;
    tc_err_clear(&err);
    int64_t now = tc_now_ms();
    for (size_t i = 0; i < n; i++) {
        rs[i].f = done[i];
        plan_one(w, &rs[i], now);
    }
    tc_db_conn *c = tc_db_acquire(w->db);
    tc_status st = tc_db_begin(c, &err);
    if (st == TC_OK)
        st = write_batch(c, rs, n, now, &err);
    for (size_t i = 0; i < n && st == TC_OK; i++)
        st = note_one(w, c, rs, i, now, &err);
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
            announce(w, &rs[i], next_claim_at);
        flight_free(w, done[i]);
    }
    free(rs);
}

/* ---- the loop ---------------------------------------------------------------------- */

/* ---- dispatcher ---------------------------------------------------------------- */

typedef struct dispatcher {
    tc_webhooks *w;
    queues *q;
    int64_t outstanding;   /* handed to the sender, not back yet */
    int64_t next_claim_at;
} dispatcher;

static void push(flight **list, flight *f)
{
    f->next = *list;
    *list = f;
}

/* Signs and prepares one claimed delivery. One that cannot even be signed
 * (its secret does not open) goes straight back as a failed attempt,
 * retried like a transport failure. */
static flight *prepare(dispatcher *x, tc_repo_claimed *d, const char *token, int64_t now)
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
    if (flight_setup(x->w, f, now, &err) != TC_OK) {
        f->transport = TC_INTERNAL;
        snprintf(f->error, sizeof(f->error), "cannot sign the delivery: %.200s", err.message);
        f->status = -1; /* marks "not sent" for the dispatcher */
    }
    return f;
}

/* Claims what is due (up to the free slots) and hands it to the sender.
 * Unsendable ones are returned in *bounced. */
static void claim(dispatcher *x, bool kicked, flight **bounced)
{
    tc_webhooks *w = x->w;
    int64_t now = tc_now_ms(), room = w->cfg.concurrency - x->outstanding;
    const char *token = w->instance; /* one claim token per running instance */
    tc_err err;
    tc_err_clear(&err);
    tc_repo_claimed *ds = NULL;
    size_t nd = 0;
    bool found = false;
    int64_t due = 0;
    tc_db_conn *c = tc_db_acquire(w->db);
    tc_status st = tc_repo_delivery_claim(c, token, now, now + w->cfg.timeout_ms + LEASE_MARGIN_MS,
                                          room, &ds, &nd, &err);
    if (st == TC_OK && (int64_t)nd < room)
        st = tc_repo_delivery_next_due(c, &due, &found, &err);
    tc_db_release(c);
    if (st != TC_OK) {
        /* Rows claimed by a failed call stay leased until it runs out. */
        tc_log(TC_LOG_ERROR, "webhook queue unavailable", "error", err.message, NULL);
        x->next_claim_at = now + w->cfg.poll_ms;
        for (size_t i = 0; i < nd; i++)
            tc_repo_claimed_clear(&ds[i]);
        free(ds);
        return;
    }
    flight *ready = NULL;
    for (size_t i = 0; i < nd; i++) {
        flight *f = prepare(x, &ds[i], token, now);
        push(f->status < 0 ? bounced : &ready, f);
    }
    free(ds);
    if (ready) {
        queues *q = x->q;
        pthread_mutex_lock(&q->mu);
        while (ready) {
            flight *f = ready;
            ready = f->next;
            push(&q->ready, f);
            x->outstanding++;
            atomic_fetch_add(&w->n_inflight, 1);
        }
        pthread_mutex_unlock(&q->mu);
        curl_multi_wakeup(w->multi);
    }
    if ((int64_t)nd >= room)
        x->next_claim_at = now; /* more may be due: claim as slots free up */
    else
        x->next_claim_at = found ? (due > now + 10 ? due : now + 10) : now + w->cfg.poll_ms;
    if (x->next_claim_at > now + w->cfg.poll_ms)
        x->next_claim_at = now + w->cfg.poll_ms;
    if (kicked && nd == 0 && x->next_claim_at > now + KICK_RECHECK_MS)
        x->next_claim_at = now + KICK_RECHECK_MS; /* the enqueuing commit may still be on its way */
}

/* Claims come in batches: with requests in flight, only once a quarter of
 * the slots is free (fewer, larger claim statements). */
static bool room_to_claim(const dispatcher *x)
{
    int64_t conc = x->w->cfg.concurrency;
    return x->outstanding == 0 || conc - x->outstanding >= (conc + 3) / 4;
}

/* Records finished flights, releases the claims of abandoned ones. */
static void settle(dispatcher *x, flight *list)
{
    flight *batch[RECORD_BATCH_MAX];
    size_t n = 0;
    tc_db_conn *c = NULL;
    while (list) {
        flight *f = list;
        list = f->next;
        if (f->status >= 0 || !f->abandoned) {
            if (f->status < 0)
                f->status = 0;
            batch[n++] = f;
        } else {
            tc_err err;
            tc_err_clear(&err);
            if (!c)
                c = tc_db_acquire(x->w->db);
            tc_repo_delivery_release(c, f->token, &err);
            flight_free(x->w, f);
        }
        if (n == RECORD_BATCH_MAX || (!list && n)) {
            record_batch(x->w, batch, n, &x->next_claim_at);
            n = 0;
        }
    }
    if (c)
        tc_db_release(c);
}

/* Takes the done list, or waits for something to do: done items, a kick,
 * the next claim time, or stop. */
static flight *wait_work(dispatcher *x, bool *stop, bool *may_claim)
{
    queues *q = x->q;
    tc_webhooks *w = x->w;
    pthread_mutex_lock(&q->mu);
    for (;;) {
        *stop = q->stop_dispatcher && q->sender_gone;
        if (q->done || *stop)
            break;
        /* A kick or a due time matters only with room to claim; without
         * room, finished flights (q->done) wake us. */
        int64_t now = tc_now_ms();
        if (room_to_claim(x) && (atomic_load(&w->kicked) || now >= x->next_claim_at))
            break;
        int64_t until = room_to_claim(x) ? x->next_claim_at : now + w->cfg.poll_ms;
        if (until > now + w->cfg.poll_ms)
            until = now + w->cfg.poll_ms;
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        int64_t ns = (int64_t)ts.tv_nsec + (until - now) * 1000000;
        ts.tv_sec += (time_t)(ns / 1000000000);
        ts.tv_nsec = (long)(ns % 1000000000);
        pthread_cond_timedwait(&q->cv, &q->mu, &ts);
    }
    flight *list = q->done;
    q->done = NULL;
    *may_claim = !q->stop_sender; /* nothing new once the sender stops */
    pthread_mutex_unlock(&q->mu);
    return list;
}

static void *dispatcher_main(void *arg)
{
    dispatcher x = {.w = arg, .q = ((tc_webhooks *)arg)->queues, .next_claim_at = 0};
    bool stop = false, may_claim = true;
    while (!stop) {
        flight *list = wait_work(&x, &stop, &may_claim);
        for (flight *f = list; f; f = f->next) {
            x.outstanding--;
            atomic_fetch_sub(&x.w->n_inflight, 1);
        }
        settle(&x, list);
        bool kicked = atomic_load(&x.w->kicked);
        if (may_claim && room_to_claim(&x) && (kicked || tc_now_ms() >= x.next_claim_at)) {
            flight *bounced = NULL;
            claim(&x, atomic_exchange(&x.w->kicked, false), &bounced);
            settle(&x, bounced);
        }
    }
    return NULL;
}

/* ---- sender ------------------------------------------------------------------------ */

static void hand_back(queues *q, flight *list)
{
    if (!list)
        return;
    pthread_mutex_lock(&q->mu);
    while (list) {
        flight *f = list;
        list = f->next;
        push(&q->done, f);
    }
    pthread_cond_signal(&q->cv);
    pthread_mutex_unlock(&q->mu);
}

static void *sender_main(void *arg)
{
    tc_webhooks *w = arg;
    queues *q = w->queues;
    CURLM *m = w->multi;
    flight *running_list = NULL;
    for (;;) {
        pthread_mutex_lock(&q->mu);
        bool stop = q->stop_sender;
        flight *ready = q->ready;
        q->ready = NULL;
        pthread_mutex_unlock(&q->mu);
        while (ready) {
            flight *f = ready;
            ready = f->next;
            f->started_ns = tc_mono_ns();
            curl_multi_add_handle(m, f->h);
            push(&running_list, f);
        }
        if (stop)
            break;
        int still = 0;
        curl_multi_perform(m, &still);
        flight *finished = NULL;
        CURLMsg *msg;
        int left = 0;
        while ((msg = curl_multi_info_read(m, &left))) {
            if (msg->msg != CURLMSG_DONE)
                continue;
            flight *f = NULL;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&f);
            CURLcode rc = msg->data.result;
            curl_multi_remove_handle(m, f->h);
            outcome_from_curl(f, rc);
            for (flight **pp = &running_list; *pp; pp = &(*pp)->next)
                if (*pp == f) {
                    *pp = f->next;
                    break;
                }
            push(&finished, f);
        }
        hand_back(q, finished);
        curl_multi_poll(m, NULL, 0, 1000, NULL);
    }
    /* Abandon what is still running. */
    for (flight *f = running_list; f; f = f->next) {
        curl_multi_remove_handle(m, f->h);
        f->abandoned = true;
        f->status = -1;
    }
    pthread_mutex_lock(&q->mu);
    q->sender_gone = true;
    pthread_mutex_unlock(&q->mu);
    hand_back(q, running_list);
    return NULL;
}

/* ---- start and stop ------------------------------------------------------------------ */

static void queues_free(tc_webhooks *w)
{
    queues *q = w->queues;
    pthread_mutex_destroy(&q->mu);
    pthread_cond_destroy(&q->cv);
    free(q);
    w->queues = NULL;
}

static void stop_thread(tc_webhooks *w, bool *flag, pthread_t t)
{
    queues *q = w->queues;
    pthread_mutex_lock(&q->mu);
    *flag = true;
    pthread_cond_signal(&q->cv);
    pthread_mutex_unlock(&q->mu);
    curl_multi_wakeup(w->multi);
    pthread_join(t, NULL);
}

tc_status tc_webhooks__worker_start(tc_webhooks *w, tc_err *err)
{
    if (w->started)
        return TC_OK;
    tc_net_global_init();
    w->multi = curl_multi_init();
    if (!w->multi)
        return tc_failf(err, TC_INTERNAL, NULL, "curl_multi_init failed");
    queues *q = tc_calloc(1, sizeof(*q));
    pthread_mutex_init(&q->mu, NULL);
    pthread_cond_init(&q->cv, NULL);
    w->queues = q;
    if (pthread_create(&q->sender, NULL, sender_main, w) != 0)
        goto fail;
    if (pthread_create(&q->dispatcher, NULL, dispatcher_main, w) != 0) {
        stop_thread(w, &q->stop_sender, q->sender);
        goto fail;
    }
    w->started = true;
    return TC_OK;
fail:
    queues_free(w);
    curl_multi_cleanup(w->multi);
    w->multi = NULL;
    return tc_failf(err, TC_INTERNAL, NULL, "cannot start the webhook worker threads");
}

/* The sender first (it hands back what is in flight, abandoned), then the
 * dispatcher once it recorded what finished and released the rest. */
void tc_webhooks__worker_stop(tc_webhooks *w)
{
    if (!w->started)
        return;
    queues *q = w->queues;
    stop_thread(w, &q->stop_sender, q->sender);
    stop_thread(w, &q->stop_dispatcher, q->dispatcher);
    for (flight *f = q->ready; f;) { /* prepared but never started */
        flight *next = f->next;
        flight_free(w, f);
        f = next;
    }
    queues_free(w);
    easy_pool_free(w);
    curl_multi_cleanup(w->multi);
    w->multi = NULL;
    w->started = false;
}

void tc_webhooks_kick(tc_webhooks *w)
{
    if (!w)
        return;
    atomic_store(&w->kicked, true);
    if (w->started && w->queues) {
        pthread_mutex_lock(&w->queues->mu);
        pthread_cond_signal(&w->queues->cv);
        pthread_mutex_unlock(&w->queues->mu);
    }
}
