/* events: the one way a domain change is announced.
 *
 * A change to a user's rows that others must hear about (a job moved, an
 * event was logged, a connection expired, a health status changed) is
 * recorded INSIDE the transaction that makes it, and published AFTER the
 * commit:
 *
 *   tc_change ch;
 *   tc_change_init(&ch, user_id, "job", job_json);      // takes job_json
 *   ch.webhook_type = "job.succeeded";                   // optional
 *   tc_db_begin(c) ... update the job ...
 *   tc_events_record(ev, c, &ch, err);   // stream_events row (SSE replay id)
 *                                        // + webhook outbox rows
 *   tc_db_commit(c) ... then:
 *   tc_events_publish(ev, &ch);          // realtime hub (SSE streams, waiters)
 *   tc_change_clear(&ch);
 *
 * The realtime hub and the webhook outbox plug in as function pointers, so
 * this module depends on neither; on PostgreSQL a LISTEN/NOTIFY feeder can
 * call the same publisher. Lock order: none held across callbacks. */
#ifndef TC_EVENTS_H
#define TC_EVENTS_H

#include <jansson.h>
#include <stdint.h>

#include "core/core.h"
#include "store/db.h"

/* Realtime input: one message for one user's streams. data is the JSON text
 * of the row; id is the monotonic stream id (SSE "id:"); row is the same row
 * as JSON when the caller has it (NULL otherwise, e.g. from LISTEN/NOTIFY),
 * so the receiver needn't parse data again. */
typedef void (*tc_events_publish_fn)(void *ctx, const char *user_id, int64_t id,
                                     const char *kind, const char *data, const json_t *row);
/* Webhook outbox: enqueue deliveries of `type` with `data` for the user's
 * subscribed endpoints, on connection c (inside the caller's transaction). */
typedef tc_status (*tc_events_outbox_fn)(void *ctx, tc_db_conn *c, const char *user_id,
                                         const char *type, const json_t *data, tc_err *err);
/* In-process observers of published changes (e.g. waiters on a job). */
typedef void (*tc_events_observer_fn)(void *ctx, const char *user_id, const char *kind,
                                      const json_t *row);

typedef struct tc_events tc_events;
tc_events *tc_events_new(void);
void tc_events_free(tc_events *ev);
void tc_events_set_publisher(tc_events *ev, tc_events_publish_fn fn, void *ctx);
void tc_events_set_outbox(tc_events *ev, tc_events_outbox_fn fn, void *ctx);
/* Up to 8 observers; call during start-up only. */
void tc_events_add_observer(tc_events *ev, tc_events_observer_fn fn, void *ctx);

typedef struct tc_change {
    char user_id[37];
    const char *kind;          /* "job" | "event" | "connection" | "health" (SSE event name) */
    json_t *row;               /* the changed row in API shape (owned) */
    const char *webhook_type;  /* "job.succeeded", ... or NULL for none */
    json_t *webhook_data;      /* owned; NULL = the row */
    int64_t stream_id;         /* set by tc_events_record */
    char *payload;             /* JSON text of row, written by tc_events_record and
                                  reused by tc_events_publish (owned; do not change
                                  row between the two) */
} tc_change;

/* Takes ownership of row. */
void tc_change_init(tc_change *ch, const char *user_id, const char *kind, json_t *row);
void tc_change_clear(tc_change *ch);

/* Stream ids. The changes one transaction records for one user share ONE
 * stream_events row (one b-tree insert instead of one per change): a lone
 * change is stored as {kind, payload}, several as kind TC_STREAM_MULTI with
 * the payload [["kind", row], ...]. The SSE id of the change at position k
 * of row r is r * TC_STREAM_SLOTS + k: monotonic, never reused, and a
 * Last-Event-ID names the row and how far into it the client got. */
#define TC_STREAM_SLOTS 16
#define TC_STREAM_MULTI "*"

/* Inside a transaction on c: appends the stream_events row(s) of n changes
 * (assigning each ch->stream_id; changes of the same user share a row, at
 * most TC_STREAM_SLOTS per row, in order) and the webhook outbox rows. */
tc_status tc_events_record_all(tc_events *ev, tc_db_conn *c, tc_change *chs, int n, tc_err *err);
/* The same for one change. */
tc_status tc_events_record(tc_events *ev, tc_db_conn *c, tc_change *ch, tc_err *err);
/* After the commit: hands the change to the publisher and the observers.
 * Never blocks on slow consumers. */
void tc_events_publish(tc_events *ev, const tc_change *ch);

#endif
