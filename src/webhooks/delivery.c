/* The delivery worker: two threads around one libcurl multi handle.
 *
 * The dispatcher does all database work, in rounds of one transaction
 * each: it records the attempts that finished since the last round
 * (successes in multi-row statements) and, in the same transaction, claims
 * due deliveries (lease: claimed_by = a token of this instance,
 * claimed_until = now + 2 x timeout + margin, see lease_end) up to the
 * free slots plus a reserve of a quarter of the concurrency.
 * It waits for a batch of finished requests (a quarter of the slots, all
 * that were in flight, or BATCH_WAIT_NS) so each round's statements and
 * commit serve many deliveries.
 * The sender runs curl: as slots free up it takes claimed deliveries,
 * oldest first (the reserve refills a slot at once, without waiting for a
 * round), signs them (keys opened once per endpoint and cached, see
 * key_get), prepares a pooled easy handle, lets them run, and hands
 * finished ones back. So the database work (the serial part: one SQLite
 * writer) overlaps the network and signing work, and SQLite's single
 * writer is never contended by our own threads.
 *
 * Queues: ready (dispatcher -> sender, FIFO, woken by curl_multi_wakeup) and
 * done (sender -> dispatcher, woken by the condition variable when a batch
 * is worth a look). Lock order: q.mu only, never held across a database or
 * curl call.
 *
 * A delivery belongs to this worker only while its claim does; a crash
 * leaves the lease to run out, after which any instance takes it again
 * (at-least-once, same webhook-id). At stop, requests in flight and
 * claimed ones not started are abandoned and, once what finished is
 * recorded, this instance's claims are released so the next start sends
 * them at once. */
#include <curl/curl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

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
    flight *ready, *ready_tail; /* prepared, for the sender, oldest first */
    flight *done;            /* finished or abandoned, for the dispatcher */
    size_t n_done;
    int64_t first_done_ns;   /* when the oldest item of done arrived */
    size_t batch_min;        /* wake the dispatcher at this many done items */
    size_t max_running;      /* the sender's slots (concurrency) */
    bool stop_sender, stop_dispatcher, sender_gone;
    pthread_t sender, dispatcher;
} queues;

/* The dispatcher records finished flights in batches: it waits for a
 * quarter of the slots (or everything in flight) to come back, but never
 * longer than BATCH_WAIT_NS after the first one. */
#define BATCH_WAIT_NS (3 * 1000000LL)

/* Opened signing keys per endpoint (dispatcher only): reopened when the
 * endpoint's ciphertexts change, when the previous secret's overlap ends,
 * and at least every KEY_TTL_MS. */
#define KEY_CACHE_MAX 64
#define KEY_TTL_MS 60000

typedef struct key_entry {
    char webhook_id[37];
    unsigned char *ct, *prev_ct; /* the ciphertexts it was opened from */
    size_t ct_len, prev_len;
    bool want_prev;              /* the previous secret was in its overlap */
    int64_t opened_at;
    tc_webhook_signer *signer;
} key_entry;

/* The sender's opened keys (only the sender signs). */
typedef struct keycache {
    tc_webhooks *w;
    key_entry keys[KEY_CACHE_MAX];
    int n_keys;
} keycache;

typedef struct dispatcher {
    tc_webhooks *w;
    struct queues *q;
    int64_t outstanding;   /* handed to the sender, not back yet */
    int64_t next_claim_at;
    int64_t next_prune_at;
} dispatcher;

/* CPU time of the calling thread, for the stats (tuning and the bench). */
static uint64_t thread_cpu_ns(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) != 0)
        return 0;
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

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

static void key_clear(key_entry *k)
{
    tc_webhook_signer_free(k->signer);
    free(k->ct);
    free(k->prev_ct);
    memset(k, 0, sizeof(*k));
}

static bool same_blob(const unsigned char *a, size_t alen, const unsigned char *b, size_t blen)
{
    return alen == blen && (alen == 0 || (a && b && !memcmp(a, b, alen)));
}

static bool key_fresh(const key_entry *k, const tc_repo_claimed *d, int64_t now)
{
    bool want_prev = d->prev_secret && d->prev_expires_at > now;
    return now - k->opened_at < KEY_TTL_MS && k->want_prev == want_prev &&
           same_blob(k->ct, k->ct_len, d->secret, d->secret_len) &&
           same_blob(k->prev_ct, k->prev_len, want_prev ? d->prev_secret : NULL,
                     want_prev ? d->prev_secret_len : 0);
}

static unsigned char *blob_dup(const unsigned char *p, size_t n)
{
    if (!p || !n)
        return NULL;
    unsigned char *c = tc_malloc(n);
    memcpy(c, p, n);
    return c;
}

/* Opens the endpoint's secrets into a signer in entry k. */
static tc_status key_open(tc_webhooks *w, key_entry *k, const tc_repo_claimed *d, int64_t now,
                          tc_err *err)
{
    unsigned char *secrets[2] = {NULL, NULL};
    size_t lens[2] = {0, 0};
    size_t n = tc_webhooks__open_secrets(w, d, now, secrets, lens, err);
    if (n == 0)
        return err->status != TC_OK ? err->status : TC_INTERNAL;
    const char *list[2] = {(const char *)secrets[0], (const char *)secrets[1]};
    tc_webhook_signer *sg = NULL;
    tc_status st = tc_webhook_signer_new(list, n, &sg, err);
    for (size_t i = 0; i < n; i++)
        tc_secret_free(secrets[i], lens[i]);
    if (st != TC_OK)
        return st;
    key_clear(k);
    snprintf(k->webhook_id, sizeof(k->webhook_id), "%s", d->webhook_id);
    k->want_prev = d->prev_secret && d->prev_expires_at > now;
    k->ct = blob_dup(d->secret, d->secret_len);
    k->ct_len = k->ct ? d->secret_len : 0;
    if (k->want_prev) {
        k->prev_ct = blob_dup(d->prev_secret, d->prev_secret_len);
        k->prev_len = k->prev_ct ? d->prev_secret_len : 0;
    }
    k->opened_at = now;
    k->signer = sg;
    return TC_OK;
}

/* The signer of d's endpoint: cached, or opened now (in its slot, a free
 * slot, or the oldest one's). */
static const tc_webhook_signer *key_get(keycache *x, const tc_repo_claimed *d, int64_t now,
                                        tc_err *err)
{
    key_entry *slot = NULL;
    for (int i = 0; i < x->n_keys && !slot; i++)
        if (!strcmp(x->keys[i].webhook_id, d->webhook_id))
            slot = &x->keys[i];
    if (slot && key_fresh(slot, d, now))
        return slot->signer;
    if (!slot && x->n_keys < KEY_CACHE_MAX)
        slot = &x->keys[x->n_keys++];
    if (!slot) {
        slot = &x->keys[0];
        for (int i = 1; i < x->n_keys; i++)
            if (x->keys[i].opened_at < slot->opened_at)
                slot = &x->keys[i];
    }
    key_entry fresh = {0};
    if (key_open(x->w, &fresh, d, now, err) != TC_OK)
        return NULL;
    key_clear(slot);
    *slot = fresh;
    return slot->signer;
}

static void keys_free(keycache *x)
{
    for (int i = 0; i < x->n_keys; i++)
        key_clear(&x->keys[i]);
    x->n_keys = 0;
}

/* Signs the payload with the current secret (and the previous one during
 * the overlap). */
static tc_status sign(keycache *x, flight *f, int64_t now, tc_webhook_headers *hd, tc_err *err)
{
    const tc_webhook_signer *sg = key_get(x, &f->d, now, err);
    if (!sg)
        return err->status != TC_OK ? err->status : TC_INTERNAL;
    return tc_webhook_signer_sign(sg, f->d.message_id, now / 1000, f->d.payload,
                                  strlen(f->d.payload), hd, err);
}

/* Easy handles are reused rather than created per request; only the
 * sender thread touches the pool. A pooled handle keeps the options
 * every request sets the same way (limits, callbacks, user agent, see
 * easy_configure); flight_setup sets the per-request ones each time. */
static void easy_configure(tc_webhooks *w, CURL *h, tc_net_guard *g)
{
    tc_net_opts o = {.connect_timeout_ms = (int)w->cfg.timeout_ms,
                     .timeout_ms = (int)w->cfg.timeout_ms,
                     .max_headers = MAX_HEADER_BYTES,
                     .allow_private = w->cfg.allow_private};
    tc_net_easy_limits(h, &o, g);
    /* No Accept-Encoding: we keep a 4 KiB excerpt of answers that are
     * normally a few bytes; nothing to gain from compressed ones. */
    curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, NULL);
    curl_easy_setopt(h, CURLOPT_USERAGENT, USER_AGENT);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
}

static CURL *easy_get(tc_webhooks *w, tc_net_guard *g)
{
    if (w->n_easy > 0)
        return w->easy_pool[--w->n_easy];
    CURL *h = curl_easy_init();
    if (h)
        easy_configure(w, h, g);
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

static tc_status flight_setup(keycache *x, flight *f, int64_t now, tc_err *err)
{
    tc_webhooks *w = x->w;
    tc_webhook_headers hd;
    tc_status st = sign(x, f, now, &hd, err);
    if (st != TC_OK)
        return st;
    f->h = easy_get(w, &f->guard);
    if (!f->h)
        return tc_failf(err, TC_INTERNAL, NULL, "curl_easy_init failed");
    f->guard = (tc_net_guard){.allow_private = w->cfg.allow_private, .max_headers = MAX_HEADER_BYTES};
    curl_easy_setopt(f->h, CURLOPT_OPENSOCKETDATA, &f->guard);
    add_header(f, "Content-Type", "application/json");
    add_header(f, "webhook-id", hd.id);
    add_header(f, "webhook-timestamp", hd.timestamp);
    add_header(f, "webhook-signature", hd.signature);
    f->hdrs = curl_slist_append(f->hdrs, "Expect:");
    add_custom_headers(f);
    explicit_bzero(&hd, sizeof(hd));
    curl_easy_setopt(f->h, CURLOPT_URL, f->d.url);
    curl_easy_setopt(f->h, CURLOPT_HTTPHEADER, f->hdrs);
    curl_easy_setopt(f->h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(f->d.payload));
    curl_easy_setopt(f->h, CURLOPT_POSTFIELDS, f->d.payload);
    curl_easy_setopt(f->h, CURLOPT_WRITEDATA, f);
    curl_easy_setopt(f->h, CURLOPT_HEADERDATA, f);
    curl_easy_setopt(f->h, CURLOPT_ERRORBUFFER, f->errbuf);
    curl_easy_setopt(f->h, CURLOPT_PRIVATE, f);
    return TC_OK;
}

/* Back to the sender's pool once the transfer is over (sender only). */
static void flight_release_handle(tc_webhooks *w, flight *f)
{
    if (f->h)
        easy_put(w, f->h);
    f->h = NULL;
}

static void flight_free(flight *f)
{
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
    uint32_t j = r->verdict == TC_WH_SUCCEEDED ? 0 : jitter(); /* only retries use it */
    tc_webhook_plan(&w->cfg, r->verdict, f->d.attempt_count + 1, f->d.created_at, now, ra, j,
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

/* Writes the attempts: all successes in multi-row statements (chunks of
 * 16, 8, 4, 2, 1) unless one_by_one, the rest one by one. Every flight
 * carries the instance's claim token. *redo: a chunk met a row that was no
 * longer ours, so part of it was written; roll back and redo one by one. */
static tc_status write_batch(tc_db_conn *c, const char *token, recorded *rs, size_t n, int64_t now,
                             bool one_by_one, bool *redo, tc_err *err)
{
    tc_repo_attempt *a = tc_calloc(n ? n : 1, sizeof(*a));
    size_t *idx = tc_calloc(n ? n : 1, sizeof(*idx));
    size_t k = 0;
    tc_status st = TC_OK;
    *redo = false;
    for (size_t i = 0; i < n && st == TC_OK; i++) {
        if (one_by_one || rs[i].verdict != TC_WH_SUCCEEDED)
            st = tc_repo_delivery_record(c, token, &rs[i].a, now, &rs[i].owned, err);
        else
            a[k] = rs[i].a, idx[k++] = i;
    }
    bool all_owned = true;
    if (st == TC_OK && k)
        st = tc_repo_delivery_record_succeeded(c, token, a, k, now, &all_owned, err);
    for (size_t j = 0; j < k && st == TC_OK; j++)
        rs[idx[j]].owned = all_owned;
    *redo = st == TC_OK && !all_owned;
    free(a);
    free(idx);
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

/* ---- dispatcher ---------------------------------------------------------------- */

static void push(flight **list, flight *f)
{
    f->next = *list;
    *list = f;
}

/* A claimed delivery as a flight for the sender (which signs it). */
static flight *flight_new(dispatcher *x, tc_repo_claimed *d)
{
    flight *f = tc_calloc(1, sizeof(*f));
    f->d = *d;
    memset(d, 0, sizeof(*d));
    snprintf(f->token, sizeof(f->token), "%s", x->w->instance);
    tc_buf_init(&f->body, TC_WH_RESPONSE_KEEP);
    tc_buf_init(&f->headers, TC_WH_RESPONSE_HEADERS_KEEP);
    return f;
}

/* Signs and prepares one flight (sender). One that cannot even be signed
 * (its secret does not open) goes back at once as a failed attempt,
 * recorded by the next round and retried like a transport failure. */
static bool prepare(keycache *kc, flight *f)
{
    f->started_ns = tc_mono_ns();
    tc_err err;
    tc_err_clear(&err);
    if (flight_setup(kc, f, tc_now_ms(), &err) == TC_OK)
        return true;
    flight_release_handle(kc->w, f);
    f->transport = TC_INTERNAL;
    snprintf(f->error, sizeof(f->error), "cannot sign the delivery: %.200s", err.message);
    f->status = 0;
    return false;
}

/* The dispatcher keeps up to a quarter of the concurrency prepared beyond
 * the sender's slots (the reserve), so a finished request's slot is
 * refilled by the sender at once rather than after the next round. */
static int64_t reserve_of(const dispatcher *x)
{
    static int div = 0;
    if (!div) div = getenv("WH_RES") ? atoi(getenv("WH_RES")) : 4;
    return (x->w->cfg.concurrency + div - 1) / div;
}

/* How many more deliveries may be claimed now. */
static int64_t room_of(const dispatcher *x)
{
    return x->w->cfg.concurrency + reserve_of(x) - x->outstanding;
}

/* Claims come in batches: with requests in flight, only once a quarter of
 * the slots is free (fewer, larger claim statements). */
static bool room_to_claim(const dispatcher *x)
{
    return x->outstanding == 0 || room_of(x) >= (x->w->cfg.concurrency + 3) / 4;
}

/* What one round does in its transaction. */
typedef struct round {
    recorded *rs;              /* finished attempts to record */
    size_t n;
    bool claim;                /* also claim up to room due deliveries */
    int64_t room;
    tc_repo_claimed *claimed;  /* out */
    size_t n_claimed;
    bool found;                /* out: a later delivery is due at due */
    int64_t due;
} round;

/* A claimed delivery may wait in the reserve until a slot frees up (every
 * running request ends within one timeout, and the reserve is smaller than
 * the slots, so at most one timeout), then run for up to one timeout: the
 * lease covers both, so it never runs out while the request is ours. */
static int64_t lease_end(const tc_webhooks *w, int64_t now)
{
    return now + 2 * w->cfg.timeout_ms + LEASE_MARGIN_MS;
}

/* One transaction: the attempts that finished (and their endpoints'
 * bookkeeping), then the claim of what is due now. Nothing is written when
 * it fails: the recorded flights' leases run out and they are sent again
 * (at-least-once), the claim never happened. */
static tc_status round_txn(dispatcher *x, round *r, int64_t now, tc_err *err)
{
    tc_webhooks *w = x->w;
    tc_db_conn *c = tc_db_acquire(w->db);
    bool redo = false;
    tc_status st = tc_db_begin(c, err);
    if (st == TC_OK)
        st = write_batch(c, w->instance, r->rs, r->n, now, false, &redo, err);
    if (st == TC_OK && redo) { /* a lease ran out: start over, row by row */
        tc_db_rollback(c);
        st = tc_db_begin(c, err);
        if (st == TC_OK)
            st = write_batch(c, w->instance, r->rs, r->n, now, true, &redo, err);
    }
    for (size_t i = 0; i < r->n && st == TC_OK; i++)
        st = note_one(w, c, r->rs, i, now, err);
    if (st == TC_OK && r->claim)
        st = tc_repo_delivery_claim(c, w->instance, now, lease_end(w, now), r->room, &r->claimed,
                                    &r->n_claimed, err);
    if (st == TC_OK && r->claim && (int64_t)r->n_claimed < r->room)
        st = tc_repo_delivery_next_due(c, &r->due, &r->found, err);
    if (st == TC_OK)
        st = tc_db_commit(c, err);
    else
        tc_db_rollback(c);
    tc_db_release(c);
    if (st != TC_OK) {
        for (size_t i = 0; i < r->n_claimed; i++)
            tc_repo_claimed_clear(&r->claimed[i]);
        r->n_claimed = 0;
    }
    return st;
}

/* When to claim next, after a claim that found nd of room. */
static void plan_next_claim(dispatcher *x, const round *r, bool kicked, int64_t now)
{
    int64_t poll = x->w->cfg.poll_ms;
    if ((int64_t)r->n_claimed >= r->room)
        x->next_claim_at = now; /* more may be due: claim as slots free up */
    else
        x->next_claim_at = r->found ? (r->due > now + 10 ? r->due : now + 10) : now + poll;
    if (x->next_claim_at > now + poll)
        x->next_claim_at = now + poll;
    if (kicked && r->n_claimed == 0 && x->next_claim_at > now + KICK_RECHECK_MS)
        x->next_claim_at = now + KICK_RECHECK_MS; /* the enqueuing commit may still be on its way */
}

/* Hands the claimed deliveries to the sender, oldest first. */
static void dispatch(dispatcher *x, round *r)
{
    flight *head = NULL, *last = NULL;
    int64_t n = 0;
    for (size_t i = 0; i < r->n_claimed; i++) {
        flight *f = flight_new(x, &r->claimed[i]);
        f->next = NULL;
        if (last)
            last->next = f;
        else
            head = f;
        last = f;
        n++;
    }
    if (!head)
        return;
    queues *q = x->q;
    pthread_mutex_lock(&q->mu);
    if (q->ready_tail)
        q->ready_tail->next = head;
    else
        q->ready = head;
    q->ready_tail = last;
    pthread_mutex_unlock(&q->mu);
    x->outstanding += n;
    atomic_fetch_add(&x->w->n_inflight, (uint_fast64_t)n);
    curl_multi_wakeup(x->w->multi);
}

/* Frees abandoned flights (stop; *abandoned tells whether there were any)
 * and returns the rest as an array in *out. */
static size_t sort_done(dispatcher *x, flight *list, flight ***out, bool *abandoned)
{
    size_t n = 0, cap = 16;
    flight **arr = tc_malloc(cap * sizeof(*arr));
    for (flight *next; list; list = next) {
        next = list->next;
        if (list->abandoned) {
            *abandoned = true;
            flight_free(list);
            continue;
        }
        if (n == cap)
            arr = tc_realloc(arr, (cap *= 2) * sizeof(*arr));
        arr[n++] = list;
    }
    *out = arr;
    return n;
}

/* Stop: drops this instance's remaining claims so the next start (or
 * another instance) sends those deliveries at once. */
static void release_claims(tc_webhooks *w)
{
    tc_err err;
    tc_err_clear(&err);
    tc_db_conn *c = tc_db_acquire(w->db);
    if (tc_repo_delivery_release(c, w->instance, &err) != TC_OK)
        tc_log(TC_LOG_WARN, "webhook claims not released; they return when the lease ends",
               "error", err.message, NULL);
    tc_db_release(c);
}

/* One round: record what came back, claim what is due when there is
 * room, in one transaction; then announce and dispatch. */
static void run_round(dispatcher *x, flight *list, bool may_claim, bool kicked)
{
    tc_webhooks *w = x->w;
    flight **done = NULL;
    bool abandoned = false;
    size_t n = sort_done(x, list, &done, &abandoned);
    int64_t now = tc_now_ms();
    round r = {.rs = tc_calloc(n ? n : 1, sizeof(recorded)), .n = n};
    for (size_t i = 0; i < n; i++) {
        r.rs[i].f = done[i];
        plan_one(w, &r.rs[i], now);
    }
    r.claim = may_claim && room_to_claim(x) && (kicked || now >= x->next_claim_at);
    r.room = room_of(x);
    if (r.claim)
        atomic_store(&w->kicked, false);
    tc_err err;
    tc_err_clear(&err);
    tc_status st = n || r.claim ? round_txn(x, &r, now, &err) : TC_OK;
    if (st != TC_OK) {
        tc_log(TC_LOG_ERROR, n ? "webhook attempts not recorded; they will be sent again"
                               : "webhook queue unavailable",
               "error", err.message, NULL);
        if (r.claim)
            x->next_claim_at = now + w->cfg.poll_ms;
    } else if (r.claim) {
        plan_next_claim(x, &r, kicked, now);
    }
    atomic_fetch_add(&w->n_rounds, 1);
    atomic_store(&w->dispatch_cpu_ns, thread_cpu_ns());
    if (abandoned) /* after recording what finished, so those stay ours */
        release_claims(w);
    for (size_t i = 0; i < n; i++) {
        if (st == TC_OK)
            announce(w, &r.rs[i], &x->next_claim_at);
        flight_free(done[i]);
    }
    dispatch(x, &r);
    free(r.claimed);
    free(r.rs);
    free(done);
}

/* Whether the done items make a batch worth a round: enough of them, all
 * that was in flight, or the oldest has waited long enough. */
static bool batch_ready(const dispatcher *x, const queues *q, int64_t now_ns)
{
    if (!q->done)
        return false;
    return q->n_done >= q->batch_min || (int64_t)q->n_done >= x->outstanding ||
           now_ns - q->first_done_ns >= BATCH_WAIT_NS;
}

static void wait_until_ms(queues *q, int64_t ms_from_now, int64_t ns_extra)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t ns = (int64_t)ts.tv_nsec + ms_from_now * 1000000 + ns_extra;
    ts.tv_sec += (time_t)(ns / 1000000000);
    ts.tv_nsec = (long)(ns % 1000000000);
    pthread_cond_timedwait(&q->cv, &q->mu, &ts);
}

/* Takes the done list, or waits for something to do: a batch of done
 * items, carried flights, a kick or the next claim time (with room to
 * claim), or stop. */
static flight *wait_work(dispatcher *x, bool *stop, bool *may_claim)
{
    queues *q = x->q;
    tc_webhooks *w = x->w;
    pthread_mutex_lock(&q->mu);
    for (;;) {
        *stop = q->stop_dispatcher && q->sender_gone;
        int64_t now_ns = tc_mono_ns(), now = tc_now_ms();
        if (*stop || batch_ready(x, q, now_ns))
            break;
        bool room = room_to_claim(x) && !q->stop_sender;
        if (room && (atomic_load(&w->kicked) || now >= x->next_claim_at))
            break;
        int64_t until = room ? x->next_claim_at : now + w->cfg.poll_ms;
        if (until > now + w->cfg.poll_ms)
            until = now + w->cfg.poll_ms;
        int64_t extra_ns = 0;
        if (q->done) { /* the batch's deadline */
            int64_t left = q->first_done_ns + BATCH_WAIT_NS - now_ns;
            if (left < (until - now) * 1000000) {
                until = now;
                extra_ns = left;
            }
        }
        wait_until_ms(q, until - now, extra_ns);
    }
    flight *list = q->done;
    q->done = NULL;
    q->n_done = 0;
    while (*stop && q->ready) { /* dispatched after the sender left: never started */
        flight *f = q->ready;
        q->ready = f->next;
        f->abandoned = true;
        f->status = -1;
        push(&list, f);
    }
    if (*stop)
        q->ready_tail = NULL;
    *may_claim = !q->stop_sender; /* nothing new once the sender stops */
    pthread_mutex_unlock(&q->mu);
    return list;
}

/* ---- retention ---------------------------------------------------------------- */

#define PRUNE_EVERY_MS (10 * 60 * 1000)
#define PRUNE_BACKLOG_MS 1000 /* a full batch came out: the next one soon */

tc_status tc_webhooks_prune(tc_webhooks *w, int64_t now, int64_t max, int64_t *removed,
                            tc_err *err)
{
    int64_t dn = 0, an = 0;
    if (removed)
        *removed = 0;
    if (w->cfg.retain_days <= 0)
        return TC_OK;
    if (max < 1)
        max = 1;
    int64_t cutoff = now - w->cfg.retain_days * 86400000LL;
    tc_db_conn *c = tc_db_acquire(w->db);
    tc_status st = tc_db_begin(c, err);
    if (st == TC_OK)
        st = tc_repo_webhook_prune(c, cutoff, max, &dn, &an, err);
    if (st == TC_OK)
        st = tc_db_commit(c, err);
    else
        tc_db_rollback(c);
    tc_db_release(c);
    if (st != TC_OK)
        return st;
    atomic_fetch_add(&w->n_pruned, (uint_fast64_t)(dn + an));
    if (removed)
        *removed = dn + an;
    if (dn + an > 0) {
        char d[24], a[24];
        snprintf(d, sizeof(d), "%lld", (long long)dn);
        snprintf(a, sizeof(a), "%lld", (long long)an);
        tc_log(TC_LOG_INFO, "webhook history pruned", "deliveries", d, "attempts", a, NULL);
    }
    return TC_OK;
}

/* Between rounds: one bounded retention pass when it is due (its own short
 * transaction, so deliveries wait for at most one batch of deletes). */
static void maybe_prune(dispatcher *x)
{
    tc_webhooks *w = x->w;
    int64_t now = tc_now_ms();
    if (w->cfg.retain_days <= 0 || now < x->next_prune_at)
        return;
    tc_err err;
    tc_err_clear(&err);
    int64_t removed = 0;
    if (tc_webhooks_prune(w, now, TC_WH_PRUNE_BATCH, &removed, &err) != TC_OK) {
        tc_log(TC_LOG_WARN, "webhook history not pruned; trying again later", "error", err.message,
               NULL);
        removed = 0;
    }
    x->next_prune_at = now + (removed >= TC_WH_PRUNE_BATCH ? PRUNE_BACKLOG_MS : PRUNE_EVERY_MS);
}

static void *dispatcher_main(void *arg)
{
    tc_webhooks *w = arg;
    pthread_setname_np(pthread_self(), "wh-dispatch"); /* top -H, perf */
    dispatcher *x = tc_calloc(1, sizeof(*x));
    x->w = w;
    x->q = w->queues;
    bool stop = false, may_claim = true;
    while (!stop) {
        flight *list = wait_work(x, &stop, &may_claim);
        for (flight *f = list; f; f = f->next) {
            x->outstanding--;
            atomic_fetch_sub(&w->n_inflight, 1);
        }
        run_round(x, list, may_claim && !stop, atomic_load(&w->kicked));
        if (!stop)
            maybe_prune(x);
    }
    free(x);
    return NULL;
}

/* ---- sender ------------------------------------------------------------------------ */

/* Signals the dispatcher only when it has a reason to look: the first
 * item (it starts the batch clock), a full batch, or nothing left running. */
static void hand_back(queues *q, flight *list, bool idle)
{
    if (!list)
        return;
    pthread_mutex_lock(&q->mu);
    bool first = q->n_done == 0;
    if (first)
        q->first_done_ns = tc_mono_ns();
    while (list) {
        flight *f = list;
        list = f->next;
        push(&q->done, f);
        q->n_done++;
    }
    if (first || idle || q->n_done >= q->batch_min)
        pthread_cond_signal(&q->cv);
    pthread_mutex_unlock(&q->mu);
}

/* Up to max flights from the head of the ready queue (q->mu held). */
static flight *take_ready(queues *q, size_t max)
{
    flight *head = q->ready, *last = NULL;
    size_t n = 0;
    for (flight *f = head; f && n < max; f = f->next, n++)
        last = f;
    if (!last)
        return NULL;
    q->ready = last->next;
    if (!q->ready)
        q->ready_tail = NULL;
    last->next = NULL;
    return head;
}

static void *sender_main(void *arg)
{
    tc_webhooks *w = arg;
    queues *q = w->queues;
    CURLM *m = w->multi;
    flight *running_list = NULL;
    size_t n_running = 0;
    keycache *kc = tc_calloc(1, sizeof(*kc));
    kc->w = w;
    pthread_setname_np(pthread_self(), "wh-send");
    for (;;) {
        pthread_mutex_lock(&q->mu);
        bool stop = q->stop_sender;
        flight *ready = take_ready(q, stop ? 0 : q->max_running - n_running);
        pthread_mutex_unlock(&q->mu);
        if (stop)
            break;
        flight *finished = NULL;
        while (ready) {
            flight *f = ready;
            ready = f->next;
            if (!prepare(kc, f)) { /* not signable: back as a failed attempt */
                push(&finished, f);
                continue;
            }
            curl_multi_add_handle(m, f->h);
            push(&running_list, f);
            n_running++;
        }
        int still = 0;
        curl_multi_perform(m, &still);
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
            flight_release_handle(w, f);
            for (flight **pp = &running_list; *pp; pp = &(*pp)->next)
                if (*pp == f) {
                    *pp = f->next;
                    break;
                }
            push(&finished, f);
            n_running--;
        }
        if (finished)
            atomic_store(&w->send_cpu_ns, thread_cpu_ns());
        hand_back(q, finished, running_list == NULL);
        curl_multi_poll(m, NULL, 0, 1000, NULL);
    }
    /* Abandon what is still running, and what never started. */
    for (flight *f = running_list; f; f = f->next) {
        curl_multi_remove_handle(m, f->h);
        flight_release_handle(w, f);
    }
    keys_free(kc);
    free(kc);
    pthread_mutex_lock(&q->mu);
    flight *unstarted = take_ready(q, SIZE_MAX);
    q->sender_gone = true;
    pthread_mutex_unlock(&q->mu);
    while (unstarted) {
        flight *f = unstarted;
        unstarted = f->next;
        push(&running_list, f);
    }
    for (flight *f = running_list; f; f = f->next) {
        f->abandoned = true;
        f->status = -1;
    }
    hand_back(q, running_list, true);
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
    /* Keep a connection per slot (and the reserve) alive between requests:
     * curl's default cache is 4 x the handles added at the moment, so a dip
     * in running requests closed connections the next batch reopened. */
    curl_multi_setopt(w->multi, CURLMOPT_MAXCONNECTS,
                      (long)(w->cfg.concurrency + (w->cfg.concurrency + 3) / 4));
    queues *q = tc_calloc(1, sizeof(*q));
    pthread_mutex_init(&q->mu, NULL);
    pthread_cond_init(&q->cv, NULL);
    q->batch_min = (size_t)(w->cfg.concurrency + 3) / 4;
    if (q->batch_min < 1)
        q->batch_min = 1;
    q->max_running = (size_t)w->cfg.concurrency;
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
