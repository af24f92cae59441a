/* store: tool-run jobs (pipeline_jobs), their events (pipeline_events) and
 * the audit trail (action_logs).
 *
 * Jobs move queued -> running -> succeeded | failed | canceled, or
 * queued -> canceled; the database trigger refuses anything else and the
 * refusal comes back as TC_CONFLICT. Every function that writes a job
 * returns the job row in API shape (*row, new reference) so the caller can
 * record the change (events.h) in the same transaction:
 *   {id, connector, tool, connection_id, status, arguments, result, error,
 *    queued_at, started_at, finished_at, schedule_id, scheduled_for,
 *    progress, progress_total, progress_message, timeout_ms}
 * (times RFC 3339, arguments/result/error parsed JSON). Functions taking
 * user_id scope their SQL to that user: someone else's job is TC_NOT_FOUND. */
#ifndef TC_STORE_REPO_JOBS_H
#define TC_STORE_REPO_JOBS_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "store/db.h"

#define TC_REPO_JOBS_LIST_MAX 200

typedef struct tc_repo_job_new {
    const char *id;            /* tc_uuid() */
    const char *user_id;
    const char *connector_id;  /* connectors.id, may be NULL */
    const char *connector;     /* slug */
    const char *tool;
    const char *connection_id; /* may be NULL */
    const char *arguments;     /* JSON text of the arguments object */
    const json_t *arguments_json; /* optional: the same as a value, put into *row
                                     as is instead of parsing the text back */
    int64_t timeout_ms;
    const char *schedule_id;   /* NULL for direct runs */
    int64_t scheduled_for;     /* ms; used with schedule_id */
    const char *worker_id;     /* set: insert it claimed by this worker (see below) */
} tc_repo_job_new;

/* Inserts a queued job (queued_at = now). A scheduled job whose
 * (schedule_id, scheduled_for) exists already is not inserted: TC_CONFLICT
 * with nothing written, and the transaction stays usable (ON CONFLICT).
 * With worker_id, the job is inserted already running for that worker
 * (queued_at = started_at = claimed_at = now): the enqueue that hands a new
 * job straight to an idle worker writes the row once instead of inserting
 * it queued and claiming it (the caller records both transitions' events).
 * *row is built from the inputs (no RETURNING). */
tc_status tc_repo_job_insert(tc_db_conn *c, const tc_repo_job_new *n, int64_t now, json_t **row,
                             tc_err *err);

/* What a worker needs to run a claimed job (strings owned by the struct). */
typedef struct tc_repo_job_claim {
    char id[37];
    char user_id[37];
    char connector_id[37];
    char connector[64];
    char tool[65];
    char connection_id[37];
    json_t *arguments;  /* owned */
    int64_t timeout_ms;
    int64_t started_at;
    int64_t queued_at;
    char schedule_id[37];
    int64_t scheduled_for;
    bool progressed;    /* progress was written: finish re-reads the row */
} tc_repo_job_claim;
/* The claim of a job inserted running (tc_repo_job_new.worker_id). */
void tc_repo_job_claim_from_new(const tc_repo_job_new *n, int64_t now, tc_repo_job_claim *out);
void tc_repo_job_claim_clear(tc_repo_job_claim *j);

/* Takes the oldest queued job: status running, started_at/claimed_at = now,
 * worker_id. TC_DECLINED when the queue is empty. SQLite: one UPDATE with a
 * sub-select (the writer lock makes it exclusive); PostgreSQL: FOR UPDATE
 * SKIP LOCKED, so instances never take the same job. */
tc_status tc_repo_job_claim_next(tc_db_conn *c, const char *worker_id, int64_t now,
                                 tc_repo_job_claim *out, json_t **row, tc_err *err);
/* running -> status (succeeded | failed | canceled) with result / error
 * (JSON texts, may be NULL). TC_CONFLICT when the job is no longer running
 * (canceled meanwhile): nothing written. */
tc_status tc_repo_job_finish(tc_db_conn *c, const char *id, const char *status,
                             const char *result, const char *error, int64_t now, json_t **row,
                             tc_err *err);
/* The same with the values the writer holds: *row takes (references to)
 * arguments_json / result_json / error_json instead of parsing the stored
 * texts back. result_json / error_json must be the values of result / error
 * (ignored when the text is NULL); arguments_json NULL = read from the row. */
typedef struct tc_repo_job_end {
    const char *id;
    const char *status;
    const char *result, *error;  /* JSON texts or NULL */
    const json_t *arguments_json, *result_json, *error_json;
    /* optional: the running job's claim (started_at > 0); unless it
     * progressed, *row is built from it and the outcome (no RETURNING) */
    const tc_repo_job_claim *claim;
} tc_repo_job_end;
tc_status tc_repo_job_finish_known(tc_db_conn *c, const tc_repo_job_end *e, int64_t now,
                                   json_t **row, tc_err *err);

/* User cancel: queued or running -> canceled. TC_NOT_FOUND when not the
 * user's, TC_CONFLICT (from the trigger) when already finished. */
tc_status tc_repo_job_cancel(tc_db_conn *c, const char *user_id, const char *id, int64_t now,
                             json_t **row, tc_err *err);

/* Latest progress of a running job. TC_CONFLICT when not running. */
tc_status tc_repo_job_progress(tc_db_conn *c, const char *id, double progress, double total,
                               bool has_total, const char *message, int64_t now, json_t **row,
                               tc_err *err);

/* Running jobs left by a dead process: claimed_at < before (INT64_MAX on
 * SQLite at start: all of them). Up to max ids into ids[] (37 bytes each),
 * oldest first; *n gets the count. */
tc_status tc_repo_jobs_stale(tc_db_conn *c, int64_t before, char (*ids)[37], size_t max,
                             size_t *n, tc_err *err);
/* The user id of a job (workers and sweepers act on behalf of its owner). */
tc_status tc_repo_job_owner(tc_db_conn *c, const char *id, char user_id[37], tc_err *err);
/* Renews the lease of a worker's running jobs (PostgreSQL instances). */
tc_status tc_repo_jobs_renew(tc_db_conn *c, const char *worker_prefix, int64_t now, tc_err *err);
/* Ids of this instance's jobs canceled by someone else while running:
 * status canceled, worker_id LIKE prefix%, finished_at >= since. */
tc_status tc_repo_jobs_canceled_since(tc_db_conn *c, const char *worker_prefix, int64_t since,
                                      char (*ids)[37], size_t max, size_t *n, tc_err *err);
/* Whether any job is queued: a read (no writer lock on SQLite), so an idle
 * worker looks at the queue without starting a write transaction. */
tc_status tc_repo_jobs_queued_any(tc_db_conn *c, bool *any, tc_err *err);
/* Jobs still queued (to wake workers at start). */
tc_status tc_repo_jobs_queued_count(tc_db_conn *c, int64_t *n, tc_err *err);

/* The user's newest active connection to a connector (connections.id into
 * out). TC_NOT_FOUND when there is none. */
tc_status tc_repo_job_default_connection(tc_db_conn *c, const char *user_id,
                                         const char *connector_id, char out[37], tc_err *err);

tc_status tc_repo_job_get(tc_db_conn *c, const char *user_id, const char *id, json_t **row,
                          tc_err *err);

/* ---- light lookups for the run path ------------------------------------
 * What a run needs to find its connector and tool without reading (and
 * parsing) the connector definition: the visible connector (same rule as
 * tc_repo_connector_get: the user's own connector of that slug before a
 * catalog one, catalog ones only when enabled) and the version of its tool.
 * Callers cache the tool document by (tool_id, tool_updated_at). */
typedef struct tc_repo_job_target {
    char connector_id[37];
    char tool_id[37];          /* "" when the connector has no such tool */
    int64_t tool_updated_at;
} tc_repo_job_target;
/* TC_NOT_FOUND (field slug) when no visible connector has that slug; a
 * missing tool is TC_OK with tool_id "". */
tc_status tc_repo_job_target_get(tc_db_conn *c, const char *user_id, const char *slug,
                                 const char *tool, tc_repo_job_target *out, tc_err *err);
/* The id and updated_at of a connector's tool. TC_NOT_FOUND (field tool). */
tc_status tc_repo_job_tool_version(tc_db_conn *c, const char *connector_id, const char *tool,
                                   char id[37], int64_t *updated_at, tc_err *err);

typedef struct tc_repo_job_filter {
    const char *status;     /* NULL = any */
    const char *connector;  /* slug */
    const char *tool;
    int64_t since, until;   /* queued_at range in ms; 0 = open */
    const char *cursor;     /* from a previous page */
    int64_t limit;          /* 1..TC_REPO_JOBS_LIST_MAX */
} tc_repo_job_filter;
/* Newest first (queued_at, id). *next_cursor (caller frees) NULL on the
 * last page. TC_BAD_REQUEST (field cursor) for a cursor we never made. */
tc_status tc_repo_job_list(tc_db_conn *c, const char *user_id, const tc_repo_job_filter *f,
                           json_t **items, char **next_cursor, tc_err *err);

/* ---- events ------------------------------------------------------------ */
/* Appends an event; *row is {id, job_id, level, message, data, created_at}.
 * data: JSON text or NULL. */
tc_status tc_repo_event_insert(tc_db_conn *c, const char *user_id, const char *job_id,
                               const char *level, const char *message, const char *data,
                               int64_t now, json_t **row, tc_err *err);
/* Only the insert; *id = the event's id (the caller builds the row). */
tc_status tc_repo_event_insert_text(tc_db_conn *c, const char *user_id, const char *job_id,
                                    const char *level, const char *message, const char *data,
                                    int64_t now, int64_t *id, tc_err *err);
/* The row tc_repo_job_insert writes for n at now (queued, or running), in
 * API shape, made without the database. */
json_t *tc_repo_job_row_new(const tc_repo_job_new *n, int64_t now, bool running);
/* A job's events in order (at most max). */
tc_status tc_repo_event_list(tc_db_conn *c, const char *user_id, const char *job_id, size_t max,
                             json_t **items, tc_err *err);

/* ---- action log -------------------------------------------------------- */
typedef struct tc_repo_action_log {
    const char *user_id;
    const char *job_id;
    const char *connector;
    const char *tool;
    const char *connection_id;
    const char *status;     /* the job's final status */
    int64_t latency_ms;
    const char *arguments;  /* redacted, capped JSON text */
    const char *response;   /* redacted, capped JSON text, may be NULL */
    const char *error;      /* JSON text, may be NULL */
} tc_repo_action_log;
tc_status tc_repo_action_log_insert(tc_db_conn *c, const tc_repo_action_log *l, int64_t now,
                                    tc_err *err);
/* Newest first; same filter fields as jobs (status ignored). Items:
 * {id, job_id, connector, tool, connection_id, status, latency_ms,
 *  arguments, response, error, created_at}. */
tc_status tc_repo_action_log_list(tc_db_conn *c, const char *user_id, const tc_repo_job_filter *f,
                                  json_t **items, char **next_cursor, tc_err *err);

#endif
