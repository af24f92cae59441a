/* exec: running tools.
 *
 *   - jobs: prepared (connector, tool and connection lookup, argument
 *     validation), enqueued in the database with their first event, taken by
 *     a fixed pool of workers, finished with their events, the action log and
 *     the webhook outbox in ONE transaction, published after the commit;
 *   - executors: a const table of {name, run} keyed by the tool's source
 *     ("rest", "mcp"); exec_table.c has one row per executor;
 *   - waiters: a caller can be told once when a job ends or a wait limit
 *     passes (sync tool calls suspend their HTTP request on it);
 *   - the rate limiter: exact sliding one-minute windows per user and per
 *     connector.
 *
 * Domain only: no HTTP server headers here (api/jobs.c is the HTTP side).
 * Lock order: waiters lock -> nothing; running-jobs lock -> nothing; rate
 * lock -> nothing; the queue lock is never held across database calls. */
#ifndef TC_EXEC_H
#define TC_EXEC_H

#include <jansson.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/core.h"
#include "store/db.h"

struct tc_events;
struct tc_connections;

/* ---- executors ----------------------------------------------------------
 * One run of one tool. The worker fills the inputs, the executor fills
 * result (success) or returns an error status with err filled (the message
 * must never contain the secret). */
typedef struct tc_exec_run tc_exec_run;
struct tc_exec_run {
    const char *job_id;
    const char *user_id;
    const char *connection_id;
    const json_t *definition; /* connector definition (docs/catalog.md) */
    const json_t *tool;       /* {name, input_schema, source, request, timeout_ms} */
    const json_t *arguments;  /* validated against the tool's schema */
    const json_t *secret;     /* decrypted credential: NEVER log or return it */
    int64_t deadline_ns;      /* tc_mono_ns() by which the run must end (TC_TIMEOUT) */
    const atomic_bool *abort; /* becomes true on cancel or shutdown: stop soon */
    bool allow_private;       /* TC_ALLOW_PRIVATE_TARGETS */
    size_t max_response;      /* response body cap in bytes */
    void *state;              /* this worker's private state for this executor
                                 (state_size bytes, zeroed at worker start) */
    /* Reports progress (MCP notifications/progress); throttled and recorded
     * as an event plus the job's progress fields. Any thread of the run. */
    void (*progress)(tc_exec_run *run, double progress, double total, bool has_total,
                     const char *message);
    void *progress_ctx;
    /* outputs */
    json_t *result;           /* success: new reference */
    long upstream_status;     /* HTTP status of the last upstream answer, 0 if none */
};

typedef struct tc_executor {
    const char *name;                                 /* tool source */
    tc_status (*run)(tc_exec_run *run, tc_err *err);
    size_t state_size;                                /* per-worker state */
    void (*state_free)(void *state);                  /* may be NULL */
} tc_executor;

/* The MCP executor's process-wide session pool (owned by the caller, kept
 * alive until tc_exec_free) and whether stdio servers may be started. */
struct tc_mcp_pool;
void tc_exec_mcp_configure(struct tc_mcp_pool *pool, bool allow_stdio);

/* The executor for a tool source, or NULL. */
const tc_executor *tc_executor_find(const char *source);

/* ---- the module ---------------------------------------------------------- */
typedef struct tc_exec tc_exec;

typedef struct tc_exec_options {
    tc_db *db;
    struct tc_events *events;
    struct tc_connections *connections;
    int workers;                 /* fixed worker threads (>= 1) */
    int64_t default_timeout_ms;  /* job time limit unless the tool says otherwise */
    int64_t poll_ms;             /* queue poll when nothing was enqueued locally */
    size_t max_response;         /* upstream response body cap */
    bool allow_private;
    int64_t rate_user_per_min;   /* 0 = unlimited */
    int64_t rate_connector_per_min;
} tc_exec_options;

/* Recovers interrupted jobs (SQLite: every job still running is failed
 * "interrupted"; PostgreSQL: those whose lease expired), then starts the
 * workers, which pick up queued jobs. Caller frees with tc_exec_free. */
tc_status tc_exec_new(const tc_exec_options *o, tc_exec **out, tc_err *err);
/* Stops taking jobs, lets running ones end for up to grace_ms, then aborts
 * them (failed "interrupted"), joins the workers and fires every remaining
 * waiter as timed out. */
void tc_exec_free(tc_exec *x, int grace_ms);

/* ---- submitting jobs ----------------------------------------------------- */
typedef struct tc_exec_job tc_exec_job;

/* Looks up the connector visible to the user, the tool and the connection
 * (connection_id NULL: the user's newest active connection of that
 * connector), and validates arguments (NULL = {}) against the tool's schema.
 * Errors: TC_NOT_FOUND (connector or tool), TC_CONFLICT with code
 * no_connection / connection_inactive / connection_mismatch, TC_VALIDATION
 * with *details (new array of {path, keyword, message}). Nothing is written.
 * *out is freed by tc_exec_enqueue or tc_exec_job_free. */
tc_status tc_exec_prepare(tc_exec *x, const char *user_id, const char *connector_slug,
                          const char *tool, const char *connection_id, const json_t *arguments,
                          tc_exec_job **out, json_t **details, tc_err *err);
void tc_exec_job_free(tc_exec_job *j);
const char *tc_exec_job_id(const tc_exec_job *j);

/* Told exactly once per registered wait: job is the finished job row (API
 * shape, with result), or NULL when the wait limit passed first (or the
 * module stops). Runs on a worker or timer thread: keep it short. */
typedef void (*tc_exec_done_fn)(void *ctx, const char *job_id, const json_t *job);

typedef struct tc_exec_wait {
    tc_exec_done_fn fn;
    void *ctx;
    int64_t wait_ms;
} tc_exec_wait;

/* Inserts the prepared job (queued, with its "queued" event) and wakes a
 * worker; frees j. With wait, the waiter is registered before the commit,
 * so a fast job can't slip past it; wait->fn is called only if this returns
 * TC_OK. *row (may be NULL) gets the queued job. */
tc_status tc_exec_enqueue(tc_exec *x, tc_exec_job *j, const tc_exec_wait *wait, json_t **row,
                          tc_err *err);

/* For the scheduler: inserts a queued job for a schedule's due time inside
 * the caller's transaction on c (the change is recorded there too; the
 * caller publishes nothing: call tc_exec_notify after the commit). The
 * arguments are validated against the tool's schema (TC_VALIDATION), the
 * connection is NOT checked (an inactive one fails the job when it runs).
 * TC_CONFLICT when that (schedule_id, scheduled_for) has a job already. */
typedef struct tc_exec_scheduled {
    const char *user_id;
    const char *connector;      /* slug */
    const char *tool;
    const char *connection_id;
    const json_t *arguments;
    const char *schedule_id;
    int64_t scheduled_for;      /* ms */
} tc_exec_scheduled;
tc_status tc_exec_enqueue_in_tx(tc_exec *x, tc_db_conn *c, const tc_exec_scheduled *s,
                                char job_id[37], tc_err *err);
/* Wakes the workers (after a commit that enqueued jobs). */
void tc_exec_notify(tc_exec *x);

/* Cancels the user's job: queued or running -> canceled (a running one's
 * executor is aborted). TC_NOT_FOUND / TC_CONFLICT (already finished). */
tc_status tc_exec_cancel(tc_exec *x, const char *user_id, const char *job_id, json_t **row,
                         tc_err *err);

/* ---- rate limits ---------------------------------------------------------- */
typedef struct tc_exec_rate {
    int64_t limit;        /* the binding window's limit */
    int64_t remaining;    /* calls left in it after this one */
    int64_t reset_s;      /* seconds until that window has a free slot again */
    int64_t retry_after_s; /* when refused */
    const char *scope;    /* "user" or "connector" (the binding one) */
} tc_exec_rate;
/* Admits one call of user on connector (both windows, atomically) or
 * refuses with TC_RATE_LIMITED. Exact under concurrency. */
tc_status tc_exec_rate_admit(tc_exec *x, const char *user_id, const char *connector,
                             tc_exec_rate *info);

/* Counters for /metrics. */
typedef struct tc_exec_stats {
    uint64_t enqueued, succeeded, failed, canceled, rate_limited;
    uint64_t commits, commit_pieces; /* group commit: transactions, and the
                                        enqueues/finishes they carried */
    int running, waiters;
} tc_exec_stats;
void tc_exec_stats_get(tc_exec *x, tc_exec_stats *out);

/* ---- batch enqueue for the scheduler (enqueue_batch.c) --------------------
 * tc_exec_enqueue_in_tx for n runs at once, inside the caller's transaction
 * on c: the same rows (queued job, "queued" event, two stream rows) and the
 * same refusals, with one connector/tool lookup per distinct target and
 * multi-row INSERTs. out[i].st: TC_OK (out[i].job_id set), TC_CONFLICT with
 * field "scheduled_for" (that due time has a job already), or why the run
 * can't start (TC_NOT_FOUND / TC_VALIDATION / TC_CONFLICT, in out[i].err).
 * Returns TC_OK or the database error that stopped the batch (rows of it may
 * be written: the caller rolls back, e.g. to a savepoint). The stream rows
 * go through events (the instance exec was made with). Nothing is
 * published; call tc_exec_notify after the commit. default_timeout_ms is
 * the job limit for tools without one (exec's option; <= 0 = 60000). */
typedef struct tc_exec_scheduled_out {
    tc_status st;
    char job_id[37];
    tc_err err;
} tc_exec_scheduled_out;
tc_status tc_exec_enqueue_batch_in_tx(tc_exec *x, struct tc_events *events, tc_db_conn *c,
                                      const tc_exec_scheduled *v, size_t n,
                                      int64_t default_timeout_ms, tc_exec_scheduled_out *out,
                                      tc_err *err);

#endif
