/* webhooks: outgoing webhooks.
 *
 * This header starts with the self-contained pieces every delivery needs:
 *   - signing (Standard Webhooks: webhook-id, webhook-timestamp,
 *     webhook-signature = "v1,<base64 HMAC-SHA256(key, id.timestamp.body)>",
 *     space-separated when several secrets sign during a rotation), sign.c;
 *   - the payload envelope {"type","timestamp","data"}, event types and the
 *     {{path}} template renderer, template.c.
 * docs/webhooks.md documents the formats and limits. The delivery engine
 * (outbox, worker, retries) adds its own section below. */
#ifndef TC_WEBHOOKS_H
#define TC_WEBHOOKS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "core/core.h"

/* ---- secrets ----------------------------------------------------------------
 * "whsec_" + standard base64 (with padding) of the key bytes. We generate 32
 * bytes; parsing accepts 24..64 (the spec's range). */
#define TC_WH_SECRET_PREFIX "whsec_"
#define TC_WH_SECRET_BYTES 32
#define TC_WH_SECRET_MIN_BYTES 24
#define TC_WH_SECRET_MAX_BYTES 64
#define TC_WH_SECRET_TEXT_MAX (6 + 88 + 1) /* prefix + base64(64) + NUL */

/* A fresh secret. Show it once, store it only through the secret box. */
void tc_webhook_secret_generate(char out[TC_WH_SECRET_TEXT_MAX]);
/* Validates a secret and decodes its key bytes. TC_VALIDATION with field
 * "secret" and a message that never echoes the value. key may be NULL to
 * validate only. */
tc_status tc_webhook_secret_parse(const char *secret, unsigned char key[TC_WH_SECRET_MAX_BYTES],
                                  size_t *keylen, tc_err *err);

/* ---- message ids --------------------------------------------------------------
 * The webhook-id: 1..TC_WH_MSG_ID_MAX characters of [A-Za-z0-9_-]. Retries
 * of one delivery must reuse its id so receivers can deduplicate. */
#define TC_WH_MSG_ID_MAX 64
void tc_webhook_msg_id(char out[TC_WH_MSG_ID_MAX + 1]); /* "msg_" + 22 random base64url chars */
bool tc_webhook_msg_id_valid(const char *id);

/* ---- signing ------------------------------------------------------------------ */
#define TC_WH_SIGNATURE_LEN 47 /* "v1," + base64(32 bytes) */
#define TC_WH_SIGNERS_MAX 4    /* secrets signing one message (current + previous, with slack) */
#define TC_WH_SIGNATURE_HEADER_MAX (TC_WH_SIGNERS_MAX * (TC_WH_SIGNATURE_LEN + 1))

/* The headers of one delivery. timestamp is in Unix seconds. */
typedef struct tc_webhook_headers {
    char id[TC_WH_MSG_ID_MAX + 1];
    char timestamp[24];
    char signature[TC_WH_SIGNATURE_HEADER_MAX]; /* "v1,... v1,..." */
} tc_webhook_headers;

/* Signs body (the exact bytes sent) with each of nsecrets secrets (1..
 * TC_WH_SIGNERS_MAX; the current one first, then the previous one during the
 * rotation overlap). Fails with TC_VALIDATION naming "secret" or "webhook_id"
 * on a bad secret or id, never with a partial header. */
tc_status tc_webhook_sign(const char *const *secrets, size_t nsecrets, const char *msg_id,
                          int64_t timestamp_s, const void *body, size_t len,
                          tc_webhook_headers *out, tc_err *err);

/* A signer opens the secrets once (text "whsec_...", current first) for
 * many messages: the delivery worker keeps one per endpoint. Same output as
 * tc_webhook_sign. The signer holds key material: free it (it is wiped)
 * when done. */
typedef struct tc_webhook_signer tc_webhook_signer;
tc_status tc_webhook_signer_new(const char *const *secrets, size_t nsecrets,
                                tc_webhook_signer **out, tc_err *err);
tc_status tc_webhook_signer_sign(const tc_webhook_signer *s, const char *msg_id,
                                 int64_t timestamp_s, const void *body, size_t len,
                                 tc_webhook_headers *out, tc_err *err);
void tc_webhook_signer_free(tc_webhook_signer *s);

/* Receiver side, as the spec describes it (used by tests and documented for
 * users): checks the timestamp is within tolerance_s of now_s and that some
 * v1 signature in the header matches one of the secrets, in constant time.
 * TC_UNAUTHORIZED with a reason otherwise. The header may hold at most 16
 * entries and 2048 characters. */
tc_status tc_webhook_verify(const char *const *secrets, size_t nsecrets, const char *msg_id,
                            const char *timestamp, const char *signature_header,
                            const void *body, size_t len, int64_t now_s, int64_t tolerance_s,
                            tc_err *err);

/* ---- event types ---------------------------------------------------------------- */
typedef struct tc_webhook_event_type {
    const char *name;        /* "job.succeeded" */
    const char *description;
} tc_webhook_event_type;
/* The fixed list served by GET /api/webhook-event-types. */
const tc_webhook_event_type *tc_webhook_event_types(size_t *n);
bool tc_webhook_event_type_valid(const char *name);

/* ---- envelope -----------------------------------------------------------------
 * {"type": "<event type>", "timestamp": "<RFC 3339 UTC, ms>", "data": {...}}
 * data is borrowed (a reference is taken); NULL becomes {}. New reference. */
json_t *tc_webhook_envelope(const char *type, int64_t ts_ms, json_t *data);

/* ---- templates -----------------------------------------------------------------
 * A template is JSON text with {{path.to.field}} placeholders resolved against
 * the envelope ("type", "timestamp", "data.job.id", "data.items.0.name").
 * Path: 1..TC_WH_TPL_PATH_MAX characters, segments of [A-Za-z0-9_-] separated
 * by '.', spaces allowed around it inside the braces; a numeric segment
 * indexes an array. Values are JSON-escaped by position:
 *   - outside a JSON string: the value as JSON (string with quotes, number,
 *     true/false/null, object/array compact); a missing path gives null;
 *   - inside a JSON string ("Job {{data.job.id}} failed"): string content
 *     without quotes (escaped), other values as their compact JSON text,
 *     escaped; a missing path gives nothing; null gives "null".
 * Compilation checks the syntax and that the template is valid JSON with
 * every placeholder filled, so a compiled template always renders valid JSON
 * (the renderer still checks the result). */
#define TC_WH_TPL_MAX 16384            /* template source bytes */
#define TC_WH_TPL_PLACEHOLDERS_MAX 64
#define TC_WH_TPL_PATH_MAX 128
#define TC_WH_TPL_DEPTH_MAX 16         /* segments per path */
#define TC_WH_RENDER_MAX (256 * 1024)  /* rendered body bytes */

typedef struct tc_webhook_template tc_webhook_template;

/* Compiles src (len bytes, UTF-8). On failure TC_VALIDATION with field
 * "template" and a message naming the problem and its line:column. Caller
 * frees with tc_webhook_template_free. */
tc_status tc_webhook_template_compile(const char *src, size_t len, tc_webhook_template **out,
                                      tc_err *err);
void tc_webhook_template_free(tc_webhook_template *t);
size_t tc_webhook_template_placeholders(const tc_webhook_template *t);
/* Renders against envelope into *out (caller frees; NUL-terminated). Fails
 * with TC_TOO_LARGE past TC_WH_RENDER_MAX, TC_VALIDATION if the result is not
 * JSON (should not happen for a compiled template). */
tc_status tc_webhook_template_render(const tc_webhook_template *t, const json_t *envelope,
                                     char **out, size_t *outlen, tc_err *err);

/* The body of a delivery: the template rendered when t is non-NULL, else the
 * envelope as compact JSON. Caller frees *out. Bounded by TC_WH_RENDER_MAX. */
tc_status tc_webhook_payload(const tc_webhook_template *t, const json_t *envelope, char **out,
                             size_t *outlen, tc_err *err);

/* ==== delivery engine ===========================================================
 * Endpoints belong to users (table webhooks). A domain change calls
 * tc_webhooks_outbox() inside its transaction (through tc_events): one
 * pending row per subscribed enabled endpoint goes into webhook_deliveries
 * with the exact body to send and its webhook-id. A worker thread claims due
 * rows with a lease (claimed_by/claimed_until), sends them on one libcurl
 * multi handle (many at once), records every attempt, and schedules retries.
 * docs/webhooks.md ("Delivery") documents the policy and its settings. */

typedef struct tc_webhooks_config {
    int64_t max_attempts;     /* attempts in all, >= 1 (TC_WEBHOOK_MAX_ATTEMPTS) */
    int64_t retry_base_ms;    /* first retry delay, doubled each time (TC_WEBHOOK_RETRY_BASE_MS) */
    int64_t retry_max_ms;     /* cap of one delay (TC_WEBHOOK_RETRY_MAX_MS) */
    int64_t retry_window_ms;  /* no attempt after created + window (TC_WEBHOOK_RETRY_WINDOW_MS) */
    int64_t timeout_ms;       /* one attempt, connect included (TC_WEBHOOK_TIMEOUT_MS) */
    int64_t disable_after_ms; /* failing continuously that long disables; 0 = never */
    int64_t concurrency;      /* requests in flight (TC_WEBHOOK_CONCURRENCY) */
    int64_t poll_ms;          /* queue poll when nothing was enqueued locally */
    bool allow_private;       /* TC_ALLOW_PRIVATE_TARGETS: http and private addresses */
    int64_t retain_days;      /* finished deliveries and attempts kept (TC_WEBHOOK_RETAIN_DAYS), 0 = forever */
} tc_webhooks_config;

/* 8 attempts (1 s, 2 s, ... 64 s between them, +0..25% jitter), 1 h cap per
 * delay, 24 h window, 15 s timeout, disabled after 5 days of failures, 64 in
 * flight, 1 s poll, 30 days of history. */
void tc_webhooks_config_defaults(tc_webhooks_config *c);

/* ---- retry policy (pure functions, unit-tested) ------------------------------ */
typedef enum {
    TC_WH_SUCCEEDED, /* 2xx */
    TC_WH_RETRY,     /* 5xx, 408, 429, timeout, connection failures */
    TC_WH_FAIL,      /* other 4xx, 3xx (redirects are not followed), refused target */
    TC_WH_GONE,      /* 410: the endpoint is disabled */
} tc_webhook_verdict;

/* status: HTTP status (0 = no response); transport: TC_OK or the transport
 * failure (TC_TIMEOUT, TC_UNAVAILABLE, TC_FORBIDDEN for the SSRF guard, ...).
 * A response status wins over a transport error that came after it. */
tc_webhook_verdict tc_webhook_classify(long status, tc_status transport);
/* Delay before attempt n+1 after n attempts (n >= 1): base * 2^(n-1), capped
 * at retry_max_ms, plus jitter of 0..25% drawn from rnd. */
int64_t tc_webhook_backoff_ms(const tc_webhooks_config *c, int64_t attempts_made, uint32_t rnd);
/* Retry-After as delta-seconds or an HTTP-date; *delay_ms >= 0. false when
 * absent or malformed. */
bool tc_webhook_retry_after(const char *value, int64_t now_ms, int64_t *delay_ms);

typedef struct tc_webhook_next {
    const char *status;      /* "succeeded" | "pending" | "failed" */
    int64_t next_attempt_at; /* pending only */
    const char *why;         /* failed: static reason, else NULL */
} tc_webhook_next;
/* What happens after an attempt. attempts_made includes this one;
 * retry_after_ms < 0 when the response had none. A retry is scheduled at
 * now + max(backoff, Retry-After) unless attempts are used up or it would
 * fall after created_at + retry_window_ms. */
void tc_webhook_plan(const tc_webhooks_config *c, tc_webhook_verdict v, int64_t attempts_made,
                     int64_t created_at, int64_t now, int64_t retry_after_ms, uint32_t rnd,
                     tc_webhook_next *out);

/* ---- endpoint validation ------------------------------------------------------ */
#define TC_WH_URL_MAX 2048
#define TC_WH_DESCRIPTION_MAX 500
#define TC_WH_HEADERS_MAX 16          /* custom headers per endpoint */
#define TC_WH_HEADER_NAME_MAX 64
#define TC_WH_HEADER_VALUE_MAX 1024
#define TC_WH_HEADERS_BYTES_MAX 8192  /* names + values */
#define TC_WH_ENDPOINTS_MAX 100       /* endpoints per user */
#define TC_WH_RESPONSE_KEEP 4096      /* response body excerpt stored per attempt */
#define TC_WH_RESPONSE_HEADERS_KEEP 2048
#define TC_WH_RESPONSE_READ_MAX (64 * 1024) /* read at most this much of a response */
#define TC_WH_SECRET_OVERLAP_MS (24 * 3600 * 1000LL) /* previous secret keeps signing */

/* https only unless allow_private (then http too); no credentials in the
 * URL; without allow_private a literal private/loopback address or
 * "localhost" is refused here (names are checked on the resolved address at
 * delivery). TC_VALIDATION field "url". */
tc_status tc_webhook_url_check(const char *url, bool allow_private, tc_err *err);
/* Custom headers: an object of at most TC_WH_HEADERS_MAX string values,
 * token names, no CR/LF/control characters, not webhook-* nor Content-Type,
 * Content-Length, Host, Transfer-Encoding, Connection, Expect, TE, Trailer,
 * Upgrade; sizes bounded. TC_VALIDATION field "headers.<name>" or "headers". */
tc_status tc_webhook_headers_check(const json_t *headers, tc_err *err);
/* A JSON array of 1..16 distinct known event types. Field "event_types". */
tc_status tc_webhook_event_types_check(const json_t *types, tc_err *err);

/* ---- the service -------------------------------------------------------------- */
typedef struct tc_webhooks tc_webhooks;
struct tc_db;
struct tc_db_conn;
struct tc_keyring;

/* The db and keyring are borrowed and must outlive the service. */
tc_status tc_webhooks_new(struct tc_db *db, struct tc_keyring *kr, const tc_webhooks_config *cfg,
                          tc_webhooks **out, tc_err *err);
/* Starts the delivery worker thread (optional: without it, deliveries only
 * queue up). */
tc_status tc_webhooks_start(tc_webhooks *w, tc_err *err);
/* Stops the worker (in-flight requests are abandoned and their claims
 * released, so the next start sends them again) and frees. NULL is fine. */
void tc_webhooks_free(tc_webhooks *w);
/* Wakes the worker: something was enqueued or retried. */
void tc_webhooks_kick(tc_webhooks *w);

/* The tc_events outbox hook (ctx = tc_webhooks *): inside the caller's
 * transaction on c, one pending delivery of `type` for each of the user's
 * enabled endpoints subscribed to it, body rendered now (template or
 * envelope). */
tc_status tc_webhooks_outbox(void *ctx, struct tc_db_conn *c, const char *user_id, const char *type,
                             const json_t *data, tc_err *err);

/* Told (on the worker thread, after the commit) when a delivery failed for
 * good (kind "delivery_failed", info = the delivery) or an endpoint was
 * disabled (kind "endpoint_disabled", info {webhook_id, reason, url}). The hook
 * where the owner's notification preferences apply (e-mail: another module);
 * without a hook both are logged at warn level, as they are anyway. */
typedef void (*tc_webhooks_notify_fn)(void *ctx, const char *user_id, const char *kind,
                                      const json_t *info);
void tc_webhooks_set_notify(tc_webhooks *w, tc_webhooks_notify_fn fn, void *ctx);

/* Retention: removes up to max finished deliveries (with their attempts)
 * whose last activity is older than cfg.retain_days before now, and up to
 * max attempts that old of deliveries still kept (a delivery retried by hand
 * for months). *removed (may be NULL) = rows removed. No-op when
 * retain_days is 0. The worker runs it by itself (every PRUNE_EVERY_MS, in
 * batches of TC_WH_PRUNE_BATCH, sooner while there is a backlog); exposed
 * for tests and maintenance. */
#define TC_WH_PRUNE_BATCH 500
tc_status tc_webhooks_prune(tc_webhooks *w, int64_t now, int64_t max, int64_t *removed,
                            tc_err *err);

typedef struct tc_webhooks_stats {
    uint64_t attempts, succeeded, failed, retried, disabled;
    uint64_t inflight;
    uint64_t rounds; /* dispatcher rounds: one transaction records and claims */
    uint64_t dispatch_cpu_ns, send_cpu_ns; /* CPU time of the two worker threads so far */
    uint64_t pruned;  /* attempts and finished deliveries removed by retention */
} tc_webhooks_stats;
void tc_webhooks_stats_get(tc_webhooks *w, tc_webhooks_stats *out);

/* ---- endpoint operations (the API's verbs; bodies as in docs/webhooks.md) ----
 * All scoped to user_id: someone else's id is TC_NOT_FOUND. *out is a new
 * reference in API shape (store/repo_webhooks.h). */
/* {url, description?, event_types, template?, headers?, enabled?}; *out has
 * "secret", the only time it is shown. */
tc_status tc_webhooks_create(tc_webhooks *w, const char *user_id, const json_t *body, json_t **out,
                             tc_err *err);
/* Any subset of the create fields (template/headers null = none). */
tc_status tc_webhooks_update(tc_webhooks *w, const char *user_id, const char *id,
                             const json_t *body, json_t **out, tc_err *err);
/* New secret in *out ("secret"); the old one signs alongside for 24 h. */
tc_status tc_webhooks_rotate(tc_webhooks *w, const char *user_id, const char *id, json_t **out,
                             tc_err *err);
/* Enqueues a webhook.test event for this endpoint alone (through the same
 * outbox path, in a transaction); *out is the delivery. TC_CONFLICT when the
 * endpoint is disabled. */
tc_status tc_webhooks_test(tc_webhooks *w, const char *user_id, const char *id, json_t **out,
                           tc_err *err);
/* Manual retry of a finished delivery; *out is the delivery. */
tc_status tc_webhooks_retry(tc_webhooks *w, const char *user_id, const char *delivery_id,
                            json_t **out, tc_err *err);

#endif
