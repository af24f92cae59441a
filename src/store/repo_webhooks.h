/* store: webhook endpoints (webhooks), the durable delivery outbox
 * (webhook_deliveries) and the attempt log (webhook_attempts).
 *
 * Functions taking user_id scope their SQL to that user: someone else's
 * endpoint or delivery is TC_NOT_FOUND exactly like a missing one. The
 * delivery worker's functions (claim, claimed, record, release, next_due)
 * are not user-scoped: they work on the queue as a whole, and own a row only
 * through its claim token (claimed_by) while the lease (claimed_until) runs.
 *
 * API shapes (times RFC 3339):
 *   endpoint: {id, url, description, event_types, enabled, headers, template,
 *              disabled_reason, disabled_at, failing_since,
 *              previous_secret_expires_at, created_at, updated_at}
 *   delivery: {id, webhook_id, event_type, webhook_message_id, status,
 *              attempt_count, next_attempt_at, last_attempt_at,
 *              last_status_code, last_error, payload, created_at, updated_at,
 *              attempts: [{attempt, status_code, response_headers,
 *                          response_body, duration_ms, error, created_at}]}
 * Secrets (ciphertexts) never appear in these shapes. */
#ifndef TC_STORE_REPO_WEBHOOKS_H
#define TC_STORE_REPO_WEBHOOKS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/db.h"

#define TC_REPO_WEBHOOKS_LIST_MAX 200
#define TC_REPO_WEBHOOK_ATTEMPTS_SHOWN 50 /* attempts listed per delivery */

/* ---- endpoints ------------------------------------------------------------ */
typedef struct tc_repo_webhook_row {
    const char *id;
    const char *url;
    const char *description;  /* "" when none */
    const char *event_types;  /* JSON array text */
    bool enabled;
    const char *headers;      /* JSON object text or NULL */
    const char *template_src; /* or NULL */
} tc_repo_webhook_row;

/* Inserts an endpoint with its sealed secret (secret_kid: key id). */
tc_status tc_repo_webhook_insert(tc_db_conn *c, const char *user_id, const tc_repo_webhook_row *w,
                                 const void *secret, size_t secret_len, uint32_t secret_kid,
                                 int64_t now, tc_err *err);
/* Rewrites the editable fields of an endpoint (w->id). When set_enabled,
 * enabled takes w->enabled and, when it becomes true, the automatic
 * disabling (disabled_reason, disabled_at, failing_since) is cleared;
 * otherwise enabled is left as it is (the worker may change it meanwhile). */
tc_status tc_repo_webhook_update(tc_db_conn *c, const char *user_id, const tc_repo_webhook_row *w,
                                 bool set_enabled, int64_t now, tc_err *err);
tc_status tc_repo_webhook_delete(tc_db_conn *c, const char *user_id, const char *id,
                                 tc_err *err);
/* The endpoint in API shape (new reference). */
tc_status tc_repo_webhook_get_json(tc_db_conn *c, const char *user_id, const char *id,
                                   json_t **out, tc_err *err);
/* Newest first; cursor "created_ms.id"; *next_cursor (caller frees) NULL on
 * the last page. TC_BAD_REQUEST field "cursor" for a foreign cursor. */
tc_status tc_repo_webhook_list(tc_db_conn *c, const char *user_id, const char *cursor,
                               int64_t limit, json_t **items, char **next_cursor, tc_err *err);

/* The current secret ciphertext (copy in *ct, caller frees) and, when
 * enabled_out is not NULL, whether the endpoint is enabled. */
tc_status tc_repo_webhook_secret(tc_db_conn *c, const char *user_id, const char *id,
                                 unsigned char **ct, size_t *ct_len, bool *enabled_out,
                                 tc_err *err);
/* Rotation with a compare-and-swap on the old ciphertext: the new secret
 * becomes current, prev (the old one sealed for the previous_secret column)
 * signs alongside until prev_expires. TC_CONFLICT when the secret changed
 * meanwhile. */
tc_status tc_repo_webhook_rotate(tc_db_conn *c, const char *user_id, const char *id,
                                 const void *old_ct, size_t old_len, const void *new_ct,
                                 size_t new_len, uint32_t new_kid, const void *prev_ct,
                                 size_t prev_len, uint32_t prev_kid, int64_t prev_expires,
                                 int64_t now, tc_err *err);

/* Enabled endpoints of the user: [{id, event_types (array), template}]
 * (template text or null), at most max. */
tc_status tc_repo_webhook_subscribers(tc_db_conn *c, const char *user_id, size_t max,
                                      json_t **out, tc_err *err);

/* Worker bookkeeping after an attempt on endpoint id. ok clears
 * failing_since; a failure sets it when unset. When disable_reason is not
 * NULL the endpoint is disabled with that reason; the same happens when it
 * has been failing since before fail_cutoff (fail_cutoff 0 = never), with
 * a reason saying so. *disabled tells whether it was disabled now; its
 * pending deliveries are then failed with last_error "endpoint disabled". */
tc_status tc_repo_webhook_note_result(tc_db_conn *c, const char *id, bool ok,
                                      const char *disable_reason, int64_t fail_cutoff,
                                      int64_t now, bool *disabled, char *reason_out,
                                      size_t reason_cap, tc_err *err);

/* ---- deliveries ------------------------------------------------------------- */
typedef struct tc_repo_delivery_new {
    const char *id;          /* tc_uuid() */
    const char *webhook_id;
    const char *user_id;
    const char *event_type;
    const char *message_id;  /* webhook-id header, the same on every attempt */
    const char *payload;     /* the exact body to send */
} tc_repo_delivery_new;

/* A pending delivery due now (inside the caller's transaction). */
tc_status tc_repo_delivery_insert(tc_db_conn *c, const tc_repo_delivery_new *d, int64_t now,
                                  tc_err *err);

/* One claimed delivery with what sending it needs (owned copies). */
typedef struct tc_repo_claimed {
    char id[37];
    char webhook_id[37];
    char user_id[37];
    char event_type[64];
    char message_id[65];
    char *payload;
    int64_t attempt_count;    /* attempts made before this one */
    int64_t created_at;
    char *url;
    char *headers;            /* JSON object text or NULL */
    unsigned char *secret;    /* ciphertext */
    size_t secret_len;
    unsigned char *prev_secret; /* ciphertext or NULL */
    size_t prev_secret_len;
    int64_t prev_expires_at;
} tc_repo_claimed;
void tc_repo_claimed_clear(tc_repo_claimed *d);

/* Claims up to limit due deliveries (pending, next_attempt_at <= now, no
 * live lease, endpoint enabled) for token until lease_until, and returns
 * them with their endpoint's URL, headers and secrets in *out (caller clears
 * each with tc_repo_claimed_clear, then frees the array). One UPDATE ...
 * RETURNING; SQLite's writer lock makes it exclusive, PostgreSQL uses
 * FOR UPDATE SKIP LOCKED. */
tc_status tc_repo_delivery_claim(tc_db_conn *c, const char *token, int64_t now,
                                 int64_t lease_until, int64_t limit, tc_repo_claimed **out,
                                 size_t *n, tc_err *err);

/* The outcome of one attempt. status: "pending" (retry at next_attempt_at),
 * "succeeded" or "failed". */
typedef struct tc_repo_attempt {
    const char *delivery_id;
    const char *user_id;
    int64_t attempt;            /* 1-based number of this attempt */
    const char *status;
    int64_t next_attempt_at;    /* pending only */
    long status_code;           /* 0 = no response */
    const char *response_headers;
    const char *response_body;
    int64_t duration_ms;
    const char *error;          /* NULL on success */
} tc_repo_attempt;

/* Records the attempt and moves the delivery on, releasing the claim; only
 * while token still owns it (*owned false and nothing written otherwise). */
tc_status tc_repo_delivery_record(tc_db_conn *c, const char *token, const tc_repo_attempt *a,
                                  int64_t now, bool *owned, tc_err *err);
/* The same for n succeeded attempts at once (the common case of a busy
 * queue): chunks of 16, 8, 4, 2 and 1 rows, each one UPDATE (ids distinct)
 * and one multi-row INSERT. *all_owned is false when some row was no longer
 * token's (a lease ran out): the statements so far wrote part of the batch,
 * so the caller must roll the transaction back and record the rows one by
 * one with tc_repo_delivery_record. */
#define TC_REPO_RECORD_CHUNK 16
/* Retention: deletes up to max finished deliveries (status succeeded or
 * failed) created and last attempted before cutoff, their attempts with
 * them (ON DELETE CASCADE); then up to max attempts created before cutoff
 * among the oldest ones (ids grow with time). *deliveries and *attempts:
 * rows deleted by each statement (cascaded attempts not counted). */
tc_status tc_repo_webhook_prune(tc_db_conn *c, int64_t cutoff, int64_t max, int64_t *deliveries,
                                int64_t *attempts, tc_err *err);
tc_status tc_repo_delivery_record_succeeded(tc_db_conn *c, const char *token,
                                            const tc_repo_attempt *a, size_t n, int64_t now,
                                            bool *all_owned, tc_err *err);
/* Drops every claim of token (shutdown): the rows are due again at once. */
tc_status tc_repo_delivery_release(tc_db_conn *c, const char *token, tc_err *err);
/* Earliest next_attempt_at of an unclaimed pending delivery of an enabled
 * endpoint; *found false when none. (Expired leases are found by the
 * periodic claim.) */
tc_status tc_repo_delivery_next_due(tc_db_conn *c, int64_t *at, bool *found, tc_err *err);

typedef struct tc_repo_delivery_filter {
    const char *webhook_id;   /* required */
    const char *status;       /* NULL = any */
    const char *event_type;   /* NULL = any */
    const char *cursor;
    int64_t limit;
} tc_repo_delivery_filter;
/* Newest first, each with its attempts. TC_NOT_FOUND when the endpoint is
 * not the user's. */
tc_status tc_repo_delivery_list(tc_db_conn *c, const char *user_id,
                                const tc_repo_delivery_filter *f, json_t **items,
                                char **next_cursor, tc_err *err);
tc_status tc_repo_delivery_get_json(tc_db_conn *c, const char *user_id, const char *id,
                                    json_t **out, tc_err *err);
/* Manual retry: the delivery becomes pending and due now (one more attempt
 * when it had used them all). TC_CONFLICT when it is pending already or its
 * endpoint is disabled. */
tc_status tc_repo_delivery_retry(tc_db_conn *c, const char *user_id, const char *id,
                                 int64_t now, tc_err *err);

#endif
