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

#endif
