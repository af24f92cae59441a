/* store: notification preferences and the email outbox (notification_outbox).
 * Preferences are per user; a user without a row gets the defaults (email
 * on, every alert type, no quiet hours, UTC, immediate). Outbox rows are
 * claimed with a lease (compare-and-set on next_attempt_at), so several
 * instances can run senders on one database without sending twice. */
#ifndef TC_STORE_REPO_NOTIFY_H
#define TC_STORE_REPO_NOTIFY_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "store/db.h"

#define TC_NOTIFY_TZ_MAX 64
#define TC_NOTIFY_EMAIL_MAX 320

typedef struct tc_notify_prefs {
    bool email_enabled;
    json_t *alert_types;           /* array of strings, [] = all (owned) */
    char timezone[TC_NOTIFY_TZ_MAX];
    int quiet_start;               /* minutes after local midnight, -1 = none */
    int quiet_end;
    char delivery[16];             /* immediate | hourly_digest */
    int64_t updated_at;            /* 0 when defaults */
} tc_notify_prefs;

void tc_notify_prefs_defaults(tc_notify_prefs *p);
void tc_notify_prefs_clear(tc_notify_prefs *p);

/* The user's preferences, or the defaults when never saved. */
tc_status tc_repo_notify_prefs_get(tc_db_conn *c, const char *user_id, tc_notify_prefs *out,
                                   tc_err *err);
/* Upsert of the whole document (already validated). */
tc_status tc_repo_notify_prefs_put(tc_db_conn *c, const char *user_id, const tc_notify_prefs *p,
                                   int64_t now, tc_err *err);
/* The user's email address into out; TC_NOT_FOUND for a missing or
 * disabled user. */
tc_status tc_repo_notify_user_email(tc_db_conn *c, const char *user_id,
                                    char out[TC_NOTIFY_EMAIL_MAX + 1], tc_err *err);

typedef struct tc_repo_outbox_new {
    const char *user_id;
    const char *kind;        /* alert type */
    const char *to;
    const char *subject;
    const char *text;
    const char *html;        /* may be NULL */
    const char *digest_key;  /* NULL = sent on its own */
    int64_t hold_until;      /* 0 = none */
    int64_t next_attempt_at;
} tc_repo_outbox_new;

/* Inserts a pending row; out_id (37 bytes, may be NULL) gets its id. */
tc_status tc_repo_notify_outbox_insert(tc_db_conn *c, const tc_repo_outbox_new *n, int64_t now,
                                       char *out_id, tc_err *err);

/* Pending rows due at now (next_attempt_at <= now), oldest first, at most
 * limit, as [{id, user_id, kind, to, subject, text, html, digest_key,
 * attempt_count, next_attempt_at}]. */
tc_status tc_repo_notify_outbox_due(tc_db_conn *c, int64_t now, int64_t limit, json_t **out,
                                    tc_err *err);
/* Lease: moves next_attempt_at from seen to until if nobody else did.
 * *claimed tells whether this caller won the row. */
tc_status tc_repo_notify_outbox_claim(tc_db_conn *c, const char *id, int64_t seen, int64_t until,
                                      bool *claimed, tc_err *err);
tc_status tc_repo_notify_outbox_sent(tc_db_conn *c, const char *id, int attempts, int64_t now,
                                     tc_err *err);
/* A failed attempt: next_at > 0 schedules a retry, 0 marks the row failed. */
tc_status tc_repo_notify_outbox_failed(tc_db_conn *c, const char *id, int attempts, int64_t next_at,
                                       const char *error, tc_err *err);
/* The user's newest rows (at most 100) as [{id, kind, subject, status,
 * digest_key, hold_until, attempt_count, next_attempt_at, last_error,
 * sent_at}] (times in ms), for tests. */
tc_status tc_repo_notify_outbox_list(tc_db_conn *c, const char *user_id, json_t **out,
                                     tc_err *err);
/* Counts of the user's rows by status, for tests and the API:
 * {pending, sent, failed}. */
tc_status tc_repo_notify_outbox_counts(tc_db_conn *c, const char *user_id, json_t **out,
                                       tc_err *err);

#endif
