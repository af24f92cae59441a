/* realtime: the in-process pub/sub hub behind GET /api/stream.
 *
 * Input: ONE function, tc_hub_publish(), with the signature of
 * tc_events_publish_fn, so it plugs into tc_events_set_publisher() today and
 * a PostgreSQL LISTEN/NOTIFY feeder can call it later. Each published change
 * becomes one reference-counted message holding the SSE frame, formatted
 * once ("id: N\nevent: kind\ndata: {...}\n\n") and shared by every
 * recipient and by the replay ring.
 *
 * Output: subscribers, one per open stream, kept in per-user lists. A
 * subscriber writes frames into a sink (the HTTP stream in src/api/stream.c,
 * a memory buffer in the unit tests). A sink answers TC_TOO_LARGE when its
 * bounded queue is full: the hub then drops that subscriber (the sink's
 * close gets the reason, and sends a final event) and never waits for it.
 *
 * Replay: a subscriber may start after a Last-Event-ID. The hub serves the
 * missed messages from its ring (the newest ring_max messages, at most
 * ring_bytes) when the ring covers them, else asks the caller's replay
 * callback (the database), else sends `event: refetch`.
 *
 * Threads: publish, subscribe and unsubscribe from any thread. No thread
 * per subscriber; the hub has none. Lock order: the hub lock is never held
 * while calling a sink (sinks may take transport locks, and transports may
 * call tc_hub_unsubscribe from their own locked sections). */
#ifndef TC_REALTIME_H
#define TC_REALTIME_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/core.h"

typedef struct tc_hub tc_hub;
typedef struct tc_hub_sub tc_hub_sub;

/* Event kinds (SSE event names) a subscriber can ask for. */
enum {
    TC_HUB_JOB = 1u << 0,
    TC_HUB_CONNECTION = 1u << 1,
    TC_HUB_EVENT = 1u << 2,
    TC_HUB_HEALTH = 1u << 3,
    TC_HUB_ALL_KINDS = 0xfu,
};

/* Default largest data JSON sent as is; bigger rows go out as
 * {"id","truncated":true} (the client fetches the row). */
#define TC_HUB_DATA_MAX (32 * 1024)
/* Longest id filter value. */
#define TC_HUB_ID_MAX 64

typedef struct tc_hub_options {
    size_t ring_max;   /* messages kept for replay (0 = 4096) */
    size_t ring_bytes; /* bytes of frames kept for replay (0 = 8 MiB) */
    size_t replay_max; /* most messages replayed to one subscriber (0 = 512) */
    size_t data_max;   /* largest row sent as is (0 = TC_HUB_DATA_MAX); keep
                        * it well under the sinks' queues */
    size_t replay_bytes; /* most frame bytes replayed at once (0 = 32 KiB); keep it
                          * under the sink's queue, or a replay drops the client */
} tc_hub_options;

/* Caller frees with tc_hub_free (after every subscriber is gone). */
tc_hub *tc_hub_new(const tc_hub_options *opt);
void tc_hub_free(tc_hub *h);

/* THE input (a tc_events_publish_fn; ctx is the hub). data is the row's
 * JSON text; id the stream_events id. Copies what it keeps; never blocks on
 * a subscriber. Ignored after tc_hub_stop. */
void tc_hub_publish(void *hub, const char *user_id, int64_t id, const char *kind,
                    const char *data);
/* The same with the row as JSON when the caller has it (saves parsing data
 * again for the filter keys): the tc_events_publish_fn given to
 * tc_events_set_publisher. row may be NULL. */
void tc_hub_publish_row(void *hub, const char *user_id, int64_t id, const char *kind,
                        const char *data, const json_t *row);

/* Messages with ids up to floor may be missing from the ring (published
 * before this process started, or evicted): replay below it goes to the
 * replay callback. Call at start with the database's highest id. */
void tc_hub_set_floor(tc_hub *h, int64_t floor);

/* Parses "job,event" into TC_HUB_* bits; false on an unknown name. */
bool tc_hub_parse_kinds(const char *list, unsigned *out);
/* Kind name to bit; 0 when unknown. */
unsigned tc_hub_kind_bit(const char *kind);

/* ---- subscribers ---------------------------------------------------------- */
typedef enum {
    TC_HUB_END_CLIENT,   /* unsubscribed by its owner (client gone) */
    TC_HUB_END_SLOW,     /* its sink's queue was full */
    TC_HUB_END_SHUTDOWN, /* tc_hub_stop */
} tc_hub_end;

typedef struct tc_hub_sink {
    /* Queues bytes (the sink copies them). TC_TOO_LARGE: queue full;
     * TC_UNAVAILABLE: gone. Any thread, never under the hub lock, and
     * possibly from several publishing threads at once: it must be
     * thread-safe (each call's bytes are one unit). */
    tc_status (*send)(void *ctx, const char *data, size_t len);
    /* The hub dropped the subscriber (SLOW or SHUTDOWN): send a final event
     * if possible and end the transport. Called at most once. */
    void (*close)(void *ctx, tc_hub_end why);
    /* The subscriber's memory is going away: release ctx. Called once. */
    void (*release)(void *ctx);
    void *ctx;
} tc_hub_sink;

typedef struct tc_hub_filter {
    unsigned kinds;                  /* TC_HUB_* bits; 0 = all */
    char job_id[TC_HUB_ID_MAX + 1];  /* "" = any; matches job rows' id, events' job_id */
    char connection_id[TC_HUB_ID_MAX + 1]; /* "" = any; connections' id, jobs' connection_id */
} tc_hub_filter;

/* Older messages for a replay: the caller (database) appends to out the
 * user's messages with id > after, oldest first, at most max+1 of them, by
 * calling tc_hub_replay_add. Returns false when it cannot tell (error, or
 * ids after `after` were pruned): the subscriber then gets `event: refetch`. */
typedef struct tc_hub_replay tc_hub_replay;
typedef bool (*tc_hub_replay_fn)(void *ctx, const char *user_id, int64_t after, size_t max,
                                 tc_hub_replay *out);
void tc_hub_replay_add(tc_hub_replay *r, int64_t id, const char *kind, const char *data);

typedef struct tc_hub_sub_options {
    const char *user_id;
    const tc_hub_filter *filter; /* NULL = everything */
    int64_t last_event_id;       /* 0 = live only */
    tc_hub_replay_fn replay;     /* NULL = ring only */
    void *replay_ctx;
} tc_hub_sub_options;

/* Registers a subscriber, replays what it missed (synchronously, through the
 * sink), then delivers live messages. The hub owns the sink from here on
 * (release is called when the subscriber is freed, also on failure).
 * Returns NULL with TC_UNAVAILABLE after tc_hub_stop. The returned handle
 * belongs to the caller until tc_hub_unsubscribe. */
tc_hub_sub *tc_hub_subscribe(tc_hub *h, const tc_hub_sub_options *o, const tc_hub_sink *sink,
                             tc_err *err);
/* The owner is done (transport ended): removes and drops the handle. */
void tc_hub_unsubscribe(tc_hub_sub *s);

/* Ends every subscriber (final event through sink close) and refuses new
 * ones; publishing becomes a no-op. */
void tc_hub_stop(tc_hub *h);

typedef struct tc_hub_stats {
    uint64_t published;   /* messages accepted */
    uint64_t delivered;   /* frames handed to sinks */
    uint64_t dropped;     /* subscribers dropped as slow */
    uint64_t replayed;    /* frames replayed (ring + database) */
    uint64_t refetches;   /* refetch events sent */
    size_t subscribers;   /* current */
    size_t ring_len;      /* messages in the ring */
} tc_hub_stats;
void tc_hub_stats_get(tc_hub *h, tc_hub_stats *out);

/* SSE frame helpers (exposed for tests and the stream endpoint). Appends
 * "id: N\nevent: kind\n" (id omitted when <= 0), one "data: " line per line
 * of data, and a blank line. */
tc_status tc_hub_format(tc_buf *out, int64_t id, const char *kind, const char *data);

/* ---- persistence (store.c): stream_events and stream_tickets ---------------- */
struct tc_db;

/* Ticket for GET /api/stream?ticket=: "tcst_" + 43 base64url characters.
 * Stored as its SHA-256 (hex); single use; expires after ttl_s. *out is
 * caller-freed. */
#define TC_STREAM_TICKET_MAX 128
tc_status tc_stream_ticket_issue(struct tc_db *db, const char *user_id, int64_t ttl_s, char **out,
                                 tc_err *err);
/* Marks the ticket used and copies its user into user_id; TC_UNAUTHORIZED
 * (with a message) when unknown, expired or used already. */
tc_status tc_stream_ticket_redeem(struct tc_db *db, const char *ticket, char user_id[37],
                                  tc_err *err);
/* Highest stream_events id (0 when empty). */
tc_status tc_stream_max_id(struct tc_db *db, int64_t *out, tc_err *err);
/* tc_hub_replay_fn over stream_events; ctx is the tc_db. Refuses (false)
 * when rows after `after` may have been pruned. */
bool tc_stream_replay_db(void *ctx, const char *user_id, int64_t after, size_t max,
                         tc_hub_replay *out);
/* Deletes stream_events older than now_ms - retain_ms, beyond the newest
 * retain_max rows, and tickets expired over a minute ago. */
tc_status tc_stream_prune(struct tc_db *db, int64_t now_ms, int64_t retain_ms, int64_t retain_max,
                          int64_t *deleted, tc_err *err);

/* A thread that runs tc_stream_prune every interval_ms until stopped. */
typedef struct tc_stream_pruner tc_stream_pruner;
tc_stream_pruner *tc_stream_pruner_start(struct tc_db *db, int64_t interval_ms, int64_t retain_ms,
                                         int64_t retain_max);
void tc_stream_pruner_stop(tc_stream_pruner *p);

#endif
