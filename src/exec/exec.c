/* The job engine: preparing and enqueuing jobs, the fixed worker pool that
 * takes them from the database queue, running executors, finishing jobs in
 * one transaction, cancel, progress, and recovery after a crash.
 *
 * Threads: `workers` workers; one lease thread on PostgreSQL; the waiters'
 * timer thread. Locks (never nested, never held across database calls or
 * executor runs): q_mu (wake-ups), run_mu (the running-jobs table). */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "connections/connections.h"
#include "events/events.h"
#include "exec/exec_int.h"
#include "jsonschema/jsonschema.h"
#include "store/repo_connectors.h"
#include "store/repo_jobs.h"

#define EVENTS_MAX 1000
#define AUDIT_CAP (8 * 1024)
#define PROGRESS_EVERY_NS (100 * 1000000LL)
#define LEASE_MS 60000
#define LEASE_TICK_MS 1000
#define STALE_BATCH 256

/* A worker's hand-off state (q_mu): BUSY (not waiting), IDLE (on the idle
 * stack, waiting for a kick or a job), RESERVED (taken off the stack by an
 * enqueue that is writing a job already claimed for this worker), HANDED
 * (that job is committed: run it), WOKEN (look at the queue). */
enum { W_BUSY, W_IDLE, W_RESERVED, W_HANDED, W_WOKEN };

typedef struct slot {
    char job_id[37];         /* "" = idle (run_mu) */
    atomic_bool abort;
    atomic_bool progressed;  /* a progress update was written for this job */
    int64_t last_progress_ns;
    struct tc_exec *x;
    char user_id[37];
    int index;
    char worker_id[64];
    /* q_mu */
    int state;
    pthread_cond_t cv;
    tc_repo_job_claim handoff; /* W_HANDED: the claimed job (owned) */
    json_t *handoff_tool;      /* and its tool document (owned) */
} slot;

struct tc_exec {
    tc_exec_options o;
    tc_waiters *waiters;
    tc_rate_table *rate;
    tc_jsonschema_cache *schemas;
    tc_tool_cache *tools;
    tc_db_group *group;      /* group commit of enqueues and finishes */
    char instance[40];       /* worker ids are "<instance>/<n>" */
    pthread_mutex_t q_mu;
    int64_t kicks;           /* wake-ups no idle worker took yet */
    int *idle;               /* stack of idle worker indexes (q_mu) */
    int nidle;
    atomic_bool stop;
    pthread_mutex_t run_mu;
    slot *slots;
    pthread_t *threads;
    int nthreads;
    pthread_t lease_thread;
    bool lease_started;
    _Atomic uint64_t n_enqueued, n_succeeded, n_failed, n_canceled, n_limited;
};

struct tc_exec_job {
    char id[37];
    char user_id[37];
    char connector_id[37];
    char connector[64];
    char tool[65];
    char connection_id[37];
    json_t *arguments;
    json_t *tooljs;          /* the tool document from prepare (handed to the worker) */
    int64_t timeout_ms;
};

/* ---- changes: record inside the transaction, publish after ------------- */

typedef struct changes {
    tc_change ch[4];
    int n;
    int flushed;   /* ch[0..flushed) are written (stream and outbox rows) */
} changes;

/* Queues a change (takes row, and payload: its JSON text, or NULL to dump
 * it at the flush); flush() writes the queued ones. */
static void record_text(changes *cs, const char *user, const char *kind, json_t *row,
                        char *payload, const char *webhook)
{
    tc_change *ch = &cs->ch[cs->n++];
    tc_change_init(ch, user, kind, row);
    ch->webhook_type = webhook;
    ch->payload = payload;
}

static void record(changes *cs, const char *user, const char *kind, json_t *row,
                   const char *webhook)
{
    record_text(cs, user, kind, row, NULL, webhook);
}

/* Writes the changes queued since the last flush, inside the transaction:
 * one stream row for all of them (events.h), plus outbox rows. */
static tc_status flush(tc_exec *x, tc_db_conn *c, changes *cs, tc_err *err)
{
    tc_status st = tc_events_record_all(x->o.events, c, cs->ch + cs->flushed, cs->n - cs->flushed, err);
    if (st == TC_OK)
        cs->flushed = cs->n;
    return st;
}

static void publish(tc_exec *x, changes *cs)
{
    for (int i = 0; i < cs->n; i++)
        tc_events_publish(x->o.events, &cs->ch[i]);
}

static void changes_clear(changes *cs)
{
    for (int i = 0; i < cs->n; i++)
        tc_change_clear(&cs->ch[i]);
    cs->n = 0;
    cs->flushed = 0;
}

/* An event made before its transaction: everything but the id, which the
 * insert assigns. The JSON work (the row, its text after the id, the data
 * column) is done by the requesting thread, not by the group commit's
 * leader. */
typedef struct ev_pre {
    const char *job_id, *level, *msg;
    int64_t now;
    json_t *row;   /* API shape, "id" 0 */
    char *data;    /* the data column (JSON text) or NULL */
    char *tail;    /* the row's JSON text after `{"id":0,` */
    char *text;    /* owns tail */
} ev_pre;

static void ev_pre_make(ev_pre *e, const char *job_id, const char *level, const char *msg,
                        json_t *data, int64_t now)
{
    char ts[32];
    tc_time_format(now, ts);
    *e = (ev_pre){.job_id = job_id, .level = level, .msg = msg, .now = now};
    e->data = data ? json_dumps(data, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    e->row = json_pack("{s:I, s:s, s:s, s:s?, s:o, s:s}", "id", (json_int_t)0, "job_id", job_id,
                       "level", level, "message", msg, "data", data ? data : json_null(),
                       "created_at", ts);
    e->text = json_dumps(e->row, JSON_COMPACT);
    e->tail = strchr(e->text, ',') + 1; /* "id" is the first member */
}

static void ev_pre_clear(ev_pre *e)
{
    json_decref(e->row);
    free(e->data);
    free(e->text);
    memset(e, 0, sizeof(*e));
}

/* Inside the transaction: the event row from e, and its change. */
static tc_status add_event_pre(changes *cs, tc_db_conn *c, const char *user, const ev_pre *e,
                               tc_err *err)
{
    int64_t id = 0;
    tc_status st = tc_repo_event_insert_text(c, user, e->job_id, e->level, e->msg, e->data, e->now,
                                             &id, err);
    if (st != TC_OK)
        return st;
    json_t *row = json_copy(e->row);
    json_object_set_new(row, "id", json_integer(id));
    size_t n = strlen(e->tail) + 32;
    char *payload = tc_malloc(n);
    snprintf(payload, n, "{\"id\":%lld,%s", (long long)id, e->tail);
    record_text(cs, user, "event", row, payload, NULL);
    return TC_OK;
}

/* Event row + its change, made on the spot (paths outside the group). */
static tc_status add_event(tc_db_conn *c, changes *cs, const char *user, const char *job,
                           const char *level, const char *msg, json_t *data, int64_t now,
                           tc_err *err)
{
    ev_pre e;
    ev_pre_make(&e, job, level, msg, data, now);
    tc_status st = add_event_pre(cs, c, user, &e, err);
    ev_pre_clear(&e);
    return st;
}

static void commit_or_rollback(tc_db_conn *c, tc_status *st, tc_err *err)
{
    if (*st == TC_OK)
        *st = tc_db_commit(c, err);
    else
        tc_db_rollback(c);
}

/* ---- waking workers ------------------------------------------------------ */

/* Wakes one idle worker to look at the queue, or leaves a kick for the
 * next worker that would go idle. */
void tc_exec_notify(tc_exec *x)
{
    pthread_mutex_lock(&x->q_mu);
    if (x->nidle > 0) {
        slot *s = &x->slots[x->idle[--x->nidle]];
        s->state = W_WOKEN;
        pthread_cond_signal(&s->cv);
    } else {
        x->kicks++;
    }
    pthread_mutex_unlock(&x->q_mu);
}

/* Takes an idle worker for a job the caller claims for it (NULL: none is
 * idle). The caller must end the reservation with handoff_give or
 * handoff_cancel. */
static slot *handoff_reserve(tc_exec *x)
{
    slot *s = NULL;
    pthread_mutex_lock(&x->q_mu);
    if (x->nidle > 0 && !atomic_load(&x->stop)) {
        s = &x->slots[x->idle[--x->nidle]];
        s->state = W_RESERVED;
    }
    pthread_mutex_unlock(&x->q_mu);
    return s;
}

/* The claimed job is committed: the reserved worker runs it (takes j and
 * tool). */
static void handoff_give(tc_exec *x, slot *s, tc_repo_job_claim *j, json_t *tool)
{
    pthread_mutex_lock(&x->q_mu);
    s->handoff = *j;
    s->handoff_tool = tool;
    s->state = W_HANDED;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&x->q_mu);
    memset(j, 0, sizeof(*j));
}

static void handoff_cancel(tc_exec *x, slot *s)
{
    pthread_mutex_lock(&x->q_mu);
    s->state = W_WOKEN;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&x->q_mu);
}

/* Waits for a kick, a handed job or the poll interval. true = a job was
 * handed over (*j, *tool filled); false = look at the queue. A reserved
 * worker waits for its job even past the poll interval or at stop (the
 * enqueue holding the reservation always ends it). */
static bool idle_wait(tc_exec *x, slot *s, tc_repo_job_claim *j, json_t **tool)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    int64_t until = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec + x->o.poll_ms * 1000000;
    ts.tv_sec = until / 1000000000;
    ts.tv_nsec = until % 1000000000;
    bool handed = false;
    pthread_mutex_lock(&x->q_mu);
    if (x->kicks > 0 || atomic_load(&x->stop)) {
        if (x->kicks > 0)
            x->kicks--;
        pthread_mutex_unlock(&x->q_mu);
        return false;
    }
    s->state = W_IDLE;
    x->idle[x->nidle++] = s->index;
    bool timed_out = false;
    for (;;) {
        if (s->state == W_HANDED) {
            *j = s->handoff;
            *tool = s->handoff_tool;
            memset(&s->handoff, 0, sizeof(s->handoff));
            s->handoff_tool = NULL;
            handed = true;
            break;
        }
        if (s->state == W_WOKEN)
            break;
        if (s->state == W_IDLE && (timed_out || atomic_load(&x->stop))) {
            for (int i = 0; i < x->nidle; i++) /* leave the idle stack */
                if (x->idle[i] == s->index) {
                    x->idle[i] = x->idle[--x->nidle];
                    break;
                }
            break;
        }
        if (s->state == W_IDLE)
            timed_out = pthread_cond_timedwait(&s->cv, &x->q_mu, &ts) != 0;
        else
            pthread_cond_wait(&s->cv, &x->q_mu);
    }
    s->state = W_BUSY;
    pthread_mutex_unlock(&x->q_mu);
    return handed;
}

/* ---- prepare / enqueue ----------------------------------------------------- */

void tc_exec_job_free(tc_exec_job *j)
{
    if (!j)
        return;
    json_decref(j->arguments);
    json_decref(j->tooljs);
    free(j);
}

const char *tc_exec_job_id(const tc_exec_job *j)
{
    return j->id;
}

static tc_status pick_connection(tc_db_conn *c, const char *user, const char *connector_id,
                                 const char *slug, const char *id, tc_exec_job *j, tc_err *err)
{
    if (!id || !*id) {
        tc_status st = tc_repo_job_default_connection(c, user, connector_id, j->connection_id, err);
        if (st == TC_NOT_FOUND)
            return tc_failc(err, TC_CONFLICT, "no_connection", "connection_id",
                            "you have no active connection to %s: connect an account first "
                            "(POST /api/connections) and pass its id as connection_id", slug);
        return st;
    }
    tc_repo_connection conn;
    tc_status st = tc_repo_connection_get(c, user, id, &conn, err);
    if (st == TC_NOT_FOUND)
        return tc_failc(err, TC_CONFLICT, "no_connection", "connection_id",
                        "there is no connection %s: create one with POST /api/connections "
                        "and pass its id as connection_id", id);
    if (st == TC_OK && strcmp(conn.connector_id, connector_id))
        st = tc_failc(err, TC_CONFLICT, "connection_mismatch", "connection_id",
                      "connection %s belongs to %s, not %s: pass a connection to %s", id,
                      conn.connector_slug, slug, slug);
    else if (st == TC_OK && strcmp(conn.status, "active"))
        st = tc_failc(err, TC_CONFLICT, "connection_inactive", "connection_id",
                      "the connection is %s: reconnect it (POST /api/connections) or pick an "
                      "active one", conn.status);
    if (st == TC_OK)
        snprintf(j->connection_id, sizeof(j->connection_id), "%s", conn.id);
    tc_repo_connection_clear(&conn);
    return st;
}

/* Validates args against the tool's schema (compiled once per tool version). */
static tc_status validate_args(tc_exec *x, const json_t *tool, const json_t *args,
                               json_t **details, tc_err *err)
{
    char key[128];
    snprintf(key, sizeof(key), "%s:%" PRId64, json_string_value(json_object_get(tool, "id")),
             (int64_t)json_integer_value(json_object_get(tool, "updated_at")));
    tc_jsonschema *s = tc_jsonschema_cache_get(x->schemas, key, json_object_get(tool, "input_schema"),
                                               NULL, err);
    if (!s)
        return tc_failc(err, TC_CONFLICT, "tool_schema_invalid", "input_schema",
                        "the tool's input schema is invalid: %s", err->message);
    json_t *errors = NULL;
    tc_status st = tc_jsonschema_validate(s, args, &errors);
    tc_jsonschema_free(s);
    if (st == TC_OK)
        return TC_OK;
    *details = errors;
    const char *first = json_string_value(json_object_get(json_array_get(errors, 0), "message"));
    const char *path = json_string_value(json_object_get(json_array_get(errors, 0), "path"));
    return tc_failf(err, TC_VALIDATION, "arguments", "the arguments do not match the tool's schema%s%s%s%s",
                    first ? ": " : "", path && *path ? path : "", path && *path ? " " : "",
                    first ? first : "");
}

/* The tool document of a connector at its current version: one indexed
 * row read for the version (skipped when the caller has it), the document
 * itself from the cache, read and parsed only when the tool changed. */
static tc_status tool_get(tc_exec *x, tc_db_conn *c, const char *connector_id, const char *name,
                          const char *tool_id, int64_t updated_at, json_t **out, tc_err *err)
{
    char id[37];
    if (!tool_id) {
        tc_status st = tc_repo_job_tool_version(c, connector_id, name, id, &updated_at, err);
        if (st != TC_OK)
            return st;
        tool_id = id;
    }
    *out = tc_tool_cache_get(x->tools, tool_id, updated_at);
    if (*out)
        return TC_OK;
    tc_status st = tc_repo_connector_tool(c, connector_id, name, out, err);
    if (st == TC_OK)
        tc_tool_cache_put(x->tools, *out);
    return st;
}

/* Connector (without its definition) and tool, or TC_NOT_FOUND naming the
 * field (slug for a missing connector, tool for a missing tool). */
static tc_status target_get(tc_exec *x, tc_db_conn *c, const char *user, const char *slug,
                            const char *tool, char connector_id[37], json_t **tooljs,
                            tc_err *err)
{
    tc_repo_job_target t;
    tc_status st = tc_repo_job_target_get(c, user, slug, tool, &t, err);
    if (st != TC_OK)
        return st;
    memcpy(connector_id, t.connector_id, 37);
    if (!t.tool_id[0])
        return tc_failf(err, TC_NOT_FOUND, "tool", "connector \"%s\" has no tool \"%s\"", slug, tool);
    st = tool_get(x, c, t.connector_id, tool, t.tool_id, t.tool_updated_at, tooljs, err);
    if (st == TC_NOT_FOUND) /* deleted between the two reads */
        st = tc_failf(err, TC_NOT_FOUND, "tool", "connector \"%s\" has no tool \"%s\"", slug, tool);
    return st;
}

static tc_status lookup(tc_exec *x, tc_db_conn *c, const char *user, const char *slug,
                        const char *tool, const char *conn_id, tc_exec_job *j, json_t **tooljs,
                        tc_err *err)
{
    char connector_id[37];
    tc_status st = target_get(x, c, user, slug, tool, connector_id, tooljs, err);
    if (st == TC_NOT_FOUND && !strcmp(err->field, "slug"))
        return tc_failf(err, TC_NOT_FOUND, "connector", "no connector \"%s\"", slug);
    if (st != TC_OK)
        return st;
    const char *source = json_string_value(json_object_get(*tooljs, "source"));
    if (!tc_executor_find(source))
        st = tc_failc(err, TC_CONFLICT, "executor_unavailable", "tool",
                      "tools of type \"%s\" can't run on this server yet", source ? source : "?");
    if (st == TC_OK)
        st = pick_connection(c, user, connector_id, slug, conn_id, j, err);
    if (st == TC_OK) {
        memcpy(j->connector_id, connector_id, 37);
        json_int_t to = json_integer_value(json_object_get(*tooljs, "timeout_ms"));
        j->timeout_ms = to > 0 ? to : x->o.default_timeout_ms;
    }
    return st;
}

tc_status tc_exec_prepare(tc_exec *x, const char *user_id, const char *connector_slug,
                          const char *tool, const char *connection_id, const json_t *arguments,
                          tc_exec_job **out, json_t **details, tc_err *err)
{
    *out = NULL;
    *details = NULL;
    if (arguments && !json_is_object(arguments))
        return tc_failf(err, TC_VALIDATION, "arguments", "arguments must be an object");
    tc_exec_job *j = tc_calloc(1, sizeof(*j));
    tc_uuid7(j->id);
    snprintf(j->user_id, sizeof(j->user_id), "%s", user_id);
    snprintf(j->connector, sizeof(j->connector), "%s", connector_slug);
    snprintf(j->tool, sizeof(j->tool), "%s", tool);
    j->arguments = arguments ? json_incref((json_t *)arguments) : json_object();
    json_t *tooljs = NULL;
    tc_db_conn *c = tc_db_acquire(x->o.db);
    tc_status st = lookup(x, c, user_id, connector_slug, tool, connection_id, j, &tooljs, err);
    tc_db_release(c);
    if (st == TC_OK)
        st = validate_args(x, tooljs, j->arguments, details, err);
    j->tooljs = tooljs;
    if (st != TC_OK) {
        tc_exec_job_free(j);
        return st;
    }
    *out = j;
    return TC_OK;
}

/* What an enqueue writes, made before its transaction (see ev_pre): the
 * job row(s) with their texts and the events. */
typedef struct enq_pre {
    json_t *queued, *running;        /* job rows (running: handed to a worker) */
    char *queued_text, *running_text;
    ev_pre ev_queued, ev_started;
} enq_pre;

static void enq_pre_make(const tc_repo_job_new *n, int64_t now, enq_pre *p)
{
    memset(p, 0, sizeof(*p));
    p->queued = tc_repo_job_row_new(n, now, false);
    p->queued_text = json_dumps(p->queued, JSON_COMPACT);
    ev_pre_make(&p->ev_queued, n->id, "info", "queued",
                n->schedule_id ? json_pack("{s:s}", "schedule_id", n->schedule_id) : NULL, now);
    if (!n->worker_id)
        return;
    p->running = tc_repo_job_row_new(n, now, true);
    p->running_text = json_dumps(p->running, JSON_COMPACT);
    ev_pre_make(&p->ev_started, n->id, "info", "started", json_pack("{s:s}", "worker", n->worker_id),
                now);
}

static void enq_pre_clear(enq_pre *p)
{
    json_decref(p->queued);
    json_decref(p->running);
    free(p->queued_text);
    free(p->running_text);
    ev_pre_clear(&p->ev_queued);
    ev_pre_clear(&p->ev_started); /* zeroed when not made */
    memset(p, 0, sizeof(*p));
}

/* Inside the caller's transaction: the job row with its "queued" event and
 * change. When n->worker_id is set the row is written running and both
 * transitions are recorded (job queued, "queued", job running, "started"),
 * so stream subscribers see the same sequence as for a job a worker claims
 * later. Re-runnable (p is only read). */
static tc_status insert_job(tc_exec *x, tc_db_conn *c, const tc_repo_job_new *n, int64_t now,
                            const enq_pre *p, changes *cs, tc_err *err)
{
    tc_status st = tc_repo_job_insert(c, n, now, NULL, err);
    if (st != TC_OK)
        return st;
    record_text(cs, n->user_id, "job", json_incref(p->queued), tc_strdup(p->queued_text), NULL);
    st = add_event_pre(cs, c, n->user_id, &p->ev_queued, err);
    if (st == TC_OK && n->worker_id) {
        record_text(cs, n->user_id, "job", json_incref(p->running), tc_strdup(p->running_text), NULL);
        st = add_event_pre(cs, c, n->user_id, &p->ev_started, err);
    }
    return st == TC_OK ? flush(x, c, cs, err) : st;
}

/* queued -> running for worker_id + "started" event + changes, inside the
 * caller's transaction: the oldest queued job (TC_DECLINED when there is
 * none). */
static tc_status claim_tx(tc_exec *x, tc_db_conn *c, const char *worker_id, int64_t now,
                          tc_repo_job_claim *j, changes *cs, tc_err *err)
{
    json_t *row = NULL;
    tc_status st = tc_repo_job_claim_next(c, worker_id, now, j, &row, err);
    if (st == TC_OK)
        record(cs, j->user_id, "job", row, NULL);
    if (st == TC_OK)
        st = add_event(c, cs, j->user_id, j->id, "info", "started",
                       json_pack("{s:s}", "worker", worker_id), now, err);
    if (st == TC_OK)
        st = flush(x, c, cs, err);
    if (st != TC_OK && st != TC_DECLINED)
        tc_repo_job_claim_clear(j);
    return st;
}

/* An enqueue for the group commit (tc_db_group_run). */
typedef struct enq_work {
    tc_exec *x;
    const tc_repo_job_new *n;
    int64_t now;
    enq_pre pre;
    changes cs;
} enq_work;

static tc_status enq_fn(void *ctx, tc_db_conn *c, tc_err *err)
{
    enq_work *w = ctx;
    changes_clear(&w->cs);
    return insert_job(w->x, c, w->n, w->now, &w->pre, &w->cs, err);
}

/* A synchronous call with a worker idle: the job row is inserted already
 * running for that worker, with both its "queued" and "started" events, in
 * one transaction, then handed to it directly: one transaction, one row
 * update and one queue scan less than enqueue + claim. (The job's change
 * is published once, running: it was never visible queued.) */
tc_status tc_exec_enqueue(tc_exec *x, tc_exec_job *j, const tc_exec_wait *wait, json_t **row,
                          tc_err *err)
{
    char *args = json_dumps(j->arguments, JSON_COMPACT);
    tc_repo_job_new n = {.id = j->id,
                         .user_id = j->user_id,
                         .connector_id = j->connector_id,
                         .connector = j->connector,
                         .tool = j->tool,
                         .connection_id = j->connection_id[0] ? j->connection_id : NULL,
                         .arguments = args,
                         .arguments_json = j->arguments,
                         .timeout_ms = j->timeout_ms};
    if (wait)
        tc_waiters_add(x->waiters, j->id, wait);
    slot *w = wait ? handoff_reserve(x) : NULL;
    n.worker_id = w ? w->worker_id : NULL;
    tc_repo_job_claim claimed;
    memset(&claimed, 0, sizeof(claimed));
    int64_t now = tc_now_ms();
    enq_work ew = {.x = x, .n = &n, .now = now};
    enq_pre_make(&n, now, &ew.pre);
    tc_db_group_req r = {.fn = enq_fn, .ctx = &ew};
    tc_status st = tc_db_group_run(x->group, &r);
    changes cs = ew.cs;
    json_t *job = NULL;
    if (st == TC_OK)
        job = json_incref(ew.pre.running ? ew.pre.running : ew.pre.queued);
    else
        *err = r.err;
    enq_pre_clear(&ew.pre);
    if (st == TC_OK && w)
        tc_repo_job_claim_from_new(&n, now, &claimed);
    if (st == TC_OK) {
        atomic_fetch_add(&x->n_enqueued, 1);
        publish(x, &cs);
        if (w) {
            handoff_give(x, w, &claimed, j->tooljs);
            j->tooljs = NULL;
        } else {
            tc_exec_notify(x);
        }
    } else {
        tc_repo_job_claim_clear(&claimed);
        if (w)
            handoff_cancel(x, w);
        if (wait)
            tc_waiters_drop(x->waiters, j->id);
    }
    changes_clear(&cs);
    free(args);
    tc_exec_job_free(j);
    if (row)
        *row = job;
    else
        json_decref(job);
    return st;
}

tc_status tc_exec_enqueue_in_tx(tc_exec *x, tc_db_conn *c, const tc_exec_scheduled *s,
                                char job_id[37], tc_err *err)
{
    char connector_id[37] = "";
    json_t *tooljs = NULL, *details = NULL;
    tc_status st = target_get(x, c, s->user_id, s->connector, s->tool, connector_id, &tooljs, err);
    if (st == TC_NOT_FOUND && !strcmp(err->field, "slug"))
        return st;
    json_t *args = s->arguments ? json_incref((json_t *)s->arguments) : json_object();
    if (st == TC_OK)
        st = validate_args(x, tooljs, args, &details, err);
    json_decref(details);
    char *text = json_dumps(args, JSON_COMPACT);
    json_int_t to = json_integer_value(json_object_get(tooljs, "timeout_ms"));
    tc_uuid7(job_id);
    tc_repo_job_new n = {.id = job_id,
                         .user_id = s->user_id,
                         .connector_id = connector_id,
                         .connector = s->connector,
                         .tool = s->tool,
                         .connection_id = s->connection_id,
                         .arguments = text,
                         .arguments_json = args,
                         .timeout_ms = to > 0 ? to : x->o.default_timeout_ms,
                         .schedule_id = s->schedule_id,
                         .scheduled_for = s->scheduled_for};
    changes cs = {.n = 0};
    int64_t now = tc_now_ms();
    enq_pre pre;
    enq_pre_make(&n, now, &pre);
    if (st == TC_OK)
        st = insert_job(x, c, &n, now, &pre, &cs, err);
    enq_pre_clear(&pre);
    if (st == TC_OK)
        atomic_fetch_add(&x->n_enqueued, 1);
    /* The caller commits; the stream rows are written, the in-process
     * publish is skipped (readers replay from stream_events). */
    changes_clear(&cs);
    free(text);
    json_decref(args);
    json_decref(tooljs);
    return st;
}

/* ---- finishing ------------------------------------------------------------- */

typedef struct outcome {
    const char *status;   /* succeeded | failed | canceled */
    json_t *result;       /* scrubbed (owned) */
    json_t *error;        /* {code, message, http_status?} (owned) */
    int64_t latency_ms;
} outcome;

static const char *webhook_for(const char *status)
{
    if (!strcmp(status, "succeeded"))
        return "job.succeeded";
    return !strcmp(status, "failed") ? "job.failed" : "job.canceled";
}

/* What a finish writes that needs no database: the result and error texts
 * and the action log's redacted, capped texts. Made by the finishing
 * worker before it joins the group commit, so the leader, which runs every
 * queued piece on one thread, only does the database work. */
typedef struct fin_texts {
    int64_t now;                          /* finished_at */
    char *result, *error;                 /* job columns */
    char *log_args, *log_resp, *log_err;  /* action log columns */
    ev_pre ev;                            /* the final event */
} fin_texts;

static void fin_texts_make(const tc_repo_job_claim *j, const json_t *secret, const outcome *o,
                           fin_texts *t)
{
    t->now = tc_now_ms();
    const char *msg = json_string_value(json_object_get(o->error, "message"));
    json_t *data = json_pack("{s:s, s:I}", "status", o->status, "latency_ms", (json_int_t)o->latency_ms);
    if (o->error)
        json_object_set(data, "error", o->error);
    ev_pre_make(&t->ev, j->id, o->error ? "error" : "info", msg ? msg : o->status, data, t->now);
    t->result = o->result ? json_dumps(o->result, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    t->error = o->error ? json_dumps(o->error, JSON_COMPACT) : NULL;
    json_t *hide = tc_exec__hide_set(secret, j->arguments);
    json_t *ra = tc_exec__redact(j->arguments, hide);
    json_t *rr = o->result ? tc_exec__redact(o->result, hide) : NULL;
    json_t *re = o->error ? tc_exec__redact(o->error, hide) : NULL;
    t->log_args = tc_exec__capped_dump(ra, AUDIT_CAP);
    t->log_resp = rr ? tc_exec__capped_dump(rr, AUDIT_CAP) : NULL;
    t->log_err = re ? tc_exec__capped_dump(re, AUDIT_CAP) : NULL;
    json_decref(ra);
    json_decref(rr);
    json_decref(re);
    json_decref(hide);
}

static void fin_texts_clear(fin_texts *t)
{
    free(t->result);
    free(t->error);
    free(t->log_args);
    free(t->log_resp);
    free(t->log_err);
    ev_pre_clear(&t->ev);
    memset(t, 0, sizeof(*t));
}

static tc_status audit(tc_db_conn *c, const tc_repo_job_claim *j, const char *status,
                       int64_t latency_ms, const fin_texts *t, tc_err *err)
{
    tc_repo_action_log l = {.user_id = j->user_id,
                            .job_id = j->id,
                            .connector = j->connector,
                            .tool = j->tool,
                            .connection_id = j->connection_id[0] ? j->connection_id : NULL,
                            .status = status,
                            .latency_ms = latency_ms,
                            .arguments = t->log_args,
                            .response = t->log_resp,
                            .error = t->log_err};
    return tc_repo_action_log_insert(c, &l, tc_now_ms(), err);
}

static tc_status finish_tx(tc_exec *x, tc_db_conn *c, const tc_repo_job_claim *j,
                           const outcome *o, const fin_texts *t, changes *cs, tc_err *err)
{
    json_t *row = NULL;
    tc_repo_job_end e = {.id = j->id, .status = o->status, .result = t->result, .error = t->error,
                         .arguments_json = j->arguments, .result_json = o->result,
                         .error_json = o->error, .claim = j};
    tc_status st = tc_repo_job_finish_known(c, &e, t->now, &row, err);
    if (st == TC_OK)
        record(cs, j->user_id, "job", row, webhook_for(o->status));
    if (st == TC_OK)
        st = add_event_pre(cs, c, j->user_id, &t->ev, err);
    if (st == TC_OK)
        st = flush(x, c, cs, err);
    if (st == TC_OK)
        st = audit(c, j, o->status, o->latency_ms, t, err);
    return st;
}

/* A finishing job for the group commit (tc_db_group_run). */
typedef struct fin_work {
    tc_exec *x;
    const tc_repo_job_claim *j;
    outcome *o;
    fin_texts t;
    changes cs;
    bool canceled;  /* canceled meanwhile: only the action log was written */
} fin_work;

/* Inside the shared transaction: job row, final event, action log,
 * webhook outbox. When the finish UPDATE itself refuses (canceled
 * meanwhile: nothing written, the transaction intact), only the action log
 * is written (the cancel wrote the rest). Re-runnable. */
static tc_status fin_fn(void *ctx, tc_db_conn *c, tc_err *err)
{
    fin_work *w = ctx;
    changes_clear(&w->cs);
    w->canceled = false;
    tc_status st = finish_tx(w->x, c, w->j, w->o, &w->t, &w->cs, err);
    if (st != TC_CONFLICT || w->cs.n != 0)
        return st;
    tc_err_clear(err);
    w->canceled = true;
    return audit(c, w->j, "canceled", w->o->latency_ms, &w->t, err);
}

/* Finishes a job through the group commit: concurrent finishes (and
 * enqueues) share one transaction; each job keeps its own rows, and is
 * published after the commit. */
static void finish(tc_exec *x, const tc_repo_job_claim *j, const json_t *secret, outcome *o)
{
    fin_work w = {.x = x, .j = j, .o = o};
    fin_texts_make(j, secret, o, &w.t);
    tc_db_group_req r = {.fn = fin_fn, .ctx = &w};
    tc_status st = tc_db_group_run(x->group, &r);
    if (st == TC_OK && w.canceled) {
        o->status = "canceled";
    } else if (st == TC_OK) {
        publish(x, &w.cs);
        atomic_fetch_add(!strcmp(o->status, "succeeded") ? &x->n_succeeded : &x->n_failed, 1);
    } else {
        tc_log(TC_LOG_ERROR, "job finish failed", "job_id", j->id, "error", r.err.message, NULL);
    }
    changes_clear(&w.cs);
    fin_texts_clear(&w.t);
}

/* ---- running ---------------------------------------------------------------- */

static void on_progress(tc_exec_run *run, double progress, double total, bool has_total,
                        const char *message)
{
    slot *s = run->progress_ctx;
    int64_t now_ns = tc_mono_ns();
    bool last = has_total && progress >= total;
    if (!last && now_ns - s->last_progress_ns < PROGRESS_EVERY_NS)
        return; /* throttled: the next one carries the news */
    s->last_progress_ns = now_ns;
    tc_exec *x = s->x;
    changes cs = {.n = 0};
    tc_err err;
    tc_err_clear(&err);
    int64_t now = tc_now_ms();
    json_t *row = NULL;
    tc_db_conn *c = tc_db_acquire(x->o.db);
    tc_status st = tc_db_begin(c, &err);
    if (st == TC_OK)
        st = tc_repo_job_progress(c, s->job_id, progress, total, has_total, message, now, &row, &err);
    if (st == TC_OK)
        record(&cs, s->user_id, "job", row, NULL);
    if (st == TC_OK) {
        json_t *data = json_pack("{s:f, s:s?}", "progress", progress, "message", message);
        if (has_total)
            json_object_set_new(data, "total", json_real(total));
        st = add_event(c, &cs, s->user_id, s->job_id, "info", "progress", data, now, &err);
    }
    if (st == TC_OK)
        st = flush(x, c, &cs, &err);
    commit_or_rollback(c, &st, &err);
    tc_db_release(c);
    if (st == TC_OK) {
        atomic_store(&s->progressed, true);
        publish(x, &cs);
    }
    changes_clear(&cs);
}

static json_t *error_json(const tc_err *err, const char *code, long upstream_status)
{
    json_t *e = json_pack("{s:s, s:s}", "code", code ? code : tc_err_code(err), "message",
                          err->message[0] ? err->message : tc_strerror(err->status));
    if (upstream_status > 0)
        json_object_set_new(e, "http_status", json_integer(upstream_status));
    return e;
}

/* Loads what the run needs: the tool and the decrypted credential. */
static tc_status load_run(tc_exec *x, const tc_repo_job_claim *j, json_t *handed_tool,
                          json_t **tool, tc_credential *cred, tc_err *err)
{
    if (!j->connector_id[0])
        return tc_failc(err, TC_CONFLICT, "connector_deleted", "connector",
                        "the connector was deleted");
    if (!j->connection_id[0])
        return tc_failc(err, TC_CONFLICT, "no_connection", "connection_id",
                        "the job has no connection (it was deleted): connect an account again");
    tc_status st = TC_OK;
    if (handed_tool) { /* read by the enqueue in this same call */
        *tool = json_incref(handed_tool);
    } else {
        tc_db_conn *c = tc_db_acquire(x->o.db);
        st = tool_get(x, c, j->connector_id, j->tool, NULL, 0, tool, err);
        tc_db_release(c);
    }
    if (st == TC_OK)
        st = tc_connection_credential(x->o.connections, j->user_id, j->connection_id, cred, err);
    return st;
}

static void run_executor(tc_exec *x, slot *s, void **states, tc_repo_job_claim *j,
                         json_t *handed_tool, outcome *o)
{
    json_t *tool = NULL;
    tc_credential cred;
    memset(&cred, 0, sizeof(cred));
    tc_err err;
    tc_err_clear(&err);
    int64_t t0 = tc_mono_ns();
    tc_status st = load_run(x, j, handed_tool, &tool, &cred, &err);
    const char *source = json_string_value(json_object_get(tool, "source"));
    const tc_executor *ex = tc_executor_find(source);
    if (st == TC_OK && !ex)
        st = tc_failc(&err, TC_CONFLICT, "executor_unavailable", "tool",
                      "tools of type \"%s\" can't run on this server", source ? source : "?");
    tc_exec_run run = {.job_id = j->id,
                       .user_id = j->user_id,
                       .connection_id = j->connection_id,
                       .definition = cred.definition,
                       .tool = tool,
                       .arguments = j->arguments,
                       .secret = cred.secret,
                       .deadline_ns = t0 + j->timeout_ms * 1000000,
                       .abort = &s->abort,
                       .allow_private = x->o.allow_private,
                       .max_response = x->o.max_response,
                       .progress = on_progress,
                       .progress_ctx = s};
    for (size_t i = 0; st == TC_OK && i < tc_nexecutors; i++)
        if (tc_executors[i] == ex)
            run.state = states[i];
    if (st == TC_OK)
        st = ex->run(&run, &err);
    if (st != TC_OK && run.upstream_status == 401 && !atomic_load(&s->abort) &&
        tc_connection_credential_renew(x->o.connections, j->user_id, j->connection_id, &cred,
                                       &err) == TC_OK) {
        /* OAuth token refused: refreshed once (single-flight), run again. */
        json_decref(run.result);
        run.result = NULL;
        run.secret = cred.secret;
        run.definition = cred.definition;
        run.upstream_status = 0;
        tc_err_clear(&err);
        st = ex->run(&run, &err);
    }
    o->latency_ms = (tc_mono_ns() - t0) / 1000000;
    const char *code = NULL;
    if (st != TC_OK && atomic_load(&s->abort)) {
        o->status = atomic_load(&x->stop) ? "failed" : "canceled";
        code = atomic_load(&x->stop) ? "interrupted" : "canceled";
        tc_failf(&err, err.status, NULL, "%s", atomic_load(&x->stop)
                                                   ? "interrupted: the server stopped while the job was running"
                                                   : "canceled by the user");
    } else if (st == TC_TIMEOUT || (st != TC_OK && tc_mono_ns() >= run.deadline_ns)) {
        o->status = "failed";
        code = "timeout";
        tc_failf(&err, TC_TIMEOUT, NULL, "the job timed out after %" PRId64 " ms (%s)", j->timeout_ms,
                 err.message);
    } else {
        o->status = st == TC_OK ? "succeeded" : "failed";
    }
    if (st == TC_OK)
        o->result = tc_exec__scrub(run.result, cred.secret);
    else
        o->error = error_json(&err, code, run.upstream_status);
    json_decref(run.result);
    j->progressed = atomic_load(&s->progressed);
    finish(x, j, cred.secret, o);
    json_decref(tool);
    tc_credential_clear(&cred);
}

/* Claim transaction: running + "started" event. */
static tc_status claim(tc_exec *x, const char *worker_id, tc_repo_job_claim *j, tc_err *err)
{
    changes cs = {.n = 0};
    memset(j, 0, sizeof(*j));
    tc_db_conn *c = tc_db_acquire(x->o.db);
    bool any = true;
    tc_status st = tc_repo_jobs_queued_any(c, &any, err);
    if (st == TC_OK && !any) {
        tc_db_release(c);
        return TC_DECLINED;
    }
    st = tc_db_begin(c, err);
    if (st == TC_OK)
        st = claim_tx(x, c, worker_id, tc_now_ms(), j, &cs, err);
    commit_or_rollback(c, &st, err);
    tc_db_release(c);
    if (st == TC_OK)
        publish(x, &cs);
    changes_clear(&cs);
    if (st != TC_OK && st != TC_DECLINED)
        tc_repo_job_claim_clear(j);
    return st;
}

typedef struct worker_arg {
    tc_exec *x;
    int index;
} worker_arg;

static void slot_set(tc_exec *x, slot *s, const tc_repo_job_claim *j)
{
    pthread_mutex_lock(&x->run_mu);
    snprintf(s->job_id, sizeof(s->job_id), "%s", j ? j->id : "");
    snprintf(s->user_id, sizeof(s->user_id), "%s", j ? j->user_id : "");
    atomic_store(&s->abort, false);
    atomic_store(&s->progressed, false);
    s->last_progress_ns = 0;
    pthread_mutex_unlock(&x->run_mu);
}

static void *worker_main(void *arg)
{
    worker_arg *wa = arg;
    tc_exec *x = wa->x;
    slot *s = &x->slots[wa->index];
    const char *worker_id = s->worker_id;
    free(wa);
    void **states = tc_calloc(tc_nexecutors + 1, sizeof(void *));
    for (size_t i = 0; i < tc_nexecutors; i++)
        states[i] = tc_calloc(1, tc_executors[i]->state_size ? tc_executors[i]->state_size : 1);
    tc_repo_job_claim j;
    json_t *tool = NULL;
    bool handed = false; /* a handed job is committed running: run it even at stop */
    /* Look at the queue first (at start: jobs left queued; after a job
     * taken from the queue: the rest of a backlog). After a handed job,
     * go idle straight away: a job queued meanwhile left a kick, which
     * idle_wait takes, and other instances' jobs are found by the poll. */
    bool look = true;
    while (handed || !atomic_load(&x->stop)) {
        if (!handed) {
            tc_err err;
            tc_err_clear(&err);
            tc_status st = look ? claim(x, worker_id, &j, &err) : TC_DECLINED;
            if (st != TC_OK) {
                if (st != TC_DECLINED)
                    tc_log(TC_LOG_WARN, "job claim failed", "worker", worker_id, "error", err.message, NULL);
                handed = idle_wait(x, s, &j, &tool);
                look = !handed;
                continue;
            }
        }
        look = !handed;
        handed = false;
        slot_set(x, s, &j);
        outcome o = {.status = "failed"};
        run_executor(x, s, states, &j, tool, &o);
        slot_set(x, s, NULL);
        json_decref(o.result);
        json_decref(o.error);
        json_decref(tool);
        tool = NULL;
        tc_repo_job_claim_clear(&j);
    }
    for (size_t i = 0; i < tc_nexecutors; i++) {
        if (tc_executors[i]->state_free)
            tc_executors[i]->state_free(states[i]);
        free(states[i]);
    }
    free(states);
    return NULL;
}

/* ---- cancel ------------------------------------------------------------------ */

static void abort_local(tc_exec *x, const char *job_id)
{
    pthread_mutex_lock(&x->run_mu);
    for (int i = 0; i < x->nthreads; i++)
        if (!strcmp(x->slots[i].job_id, job_id))
            atomic_store(&x->slots[i].abort, true);
    pthread_mutex_unlock(&x->run_mu);
}

tc_status tc_exec_cancel(tc_exec *x, const char *user_id, const char *job_id, json_t **row,
                         tc_err *err)
{
    changes cs = {.n = 0};
    json_t *job = NULL;
    int64_t now = tc_now_ms();
    tc_db_conn *c = tc_db_acquire(x->o.db);
    tc_status st = tc_db_begin(c, err);
    if (st == TC_OK)
        st = tc_repo_job_cancel(c, user_id, job_id, now, &job, err);
    if (st == TC_CONFLICT && !strcmp(err->field, "id")) {
        /* canceled already: keep the message */
    } else if (st == TC_CONFLICT) {
        tc_failc(err, TC_CONFLICT, "job_finished", "id", "the job has finished already; only "
                                                         "queued and running jobs can be canceled");
    }
    if (st == TC_OK) {
        *row = json_incref(job);
        record(&cs, user_id, "job", job, "job.canceled");
    }
    if (st == TC_OK)
        st = add_event(c, &cs, user_id, job_id, "warn", "canceled by the user", NULL, now, err);
    if (st == TC_OK)
        st = flush(x, c, &cs, err);
    commit_or_rollback(c, &st, err);
    tc_db_release(c);
    if (st == TC_OK) {
        abort_local(x, job_id);
        atomic_fetch_add(&x->n_canceled, 1);
        publish(x, &cs);
    } else if (*row) {
        json_decref(*row);
        *row = NULL;
    }
    changes_clear(&cs);
    return st;
}

/* ---- recovery ------------------------------------------------------------------ */

/* Fails one job left running by a dead process ("interrupted"). */
static void fail_interrupted(tc_exec *x, const char *id)
{
    tc_repo_job_claim j;
    memset(&j, 0, sizeof(j));
    snprintf(j.id, sizeof(j.id), "%s", id);
    tc_err err;
    tc_err_clear(&err);
    json_t *cur = NULL;
    tc_db_conn *c = tc_db_acquire(x->o.db);
    tc_status st = tc_repo_job_owner(c, id, j.user_id, &err);
    if (st == TC_OK)
        st = tc_repo_job_get(c, j.user_id, id, &cur, &err);
    tc_db_release(c);
    if (st != TC_OK)
        return;
    snprintf(j.connector, sizeof(j.connector), "%s", json_string_value(json_object_get(cur, "connector")));
    snprintf(j.tool, sizeof(j.tool), "%s", json_string_value(json_object_get(cur, "tool")));
    const char *cid = json_string_value(json_object_get(cur, "connection_id"));
    snprintf(j.connection_id, sizeof(j.connection_id), "%s", cid ? cid : "");
    j.arguments = json_incref(json_object_get(cur, "arguments"));
    outcome o = {.status = "failed",
                 .error = json_pack("{s:s, s:s}", "code", "interrupted", "message",
                                    "interrupted: the server stopped while the job was running")};
    finish(x, &j, NULL, &o);
    json_decref(o.error);
    json_decref(cur);
    tc_repo_job_claim_clear(&j);
}

static void recover_stale(tc_exec *x, int64_t before)
{
    char (*ids)[37] = tc_calloc(STALE_BATCH, 37);
    for (;;) {
        size_t n = 0;
        tc_err err;
        tc_db_conn *c = tc_db_acquire(x->o.db);
        tc_status st = tc_repo_jobs_stale(c, before, ids, STALE_BATCH, &n, &err);
        tc_db_release(c);
        if (st != TC_OK || n == 0)
            break;
        for (size_t i = 0; i < n; i++)
            fail_interrupted(x, ids[i]);
        char cnt[24];
        snprintf(cnt, sizeof(cnt), "%zu", n);
        tc_log(TC_LOG_WARN, "interrupted jobs marked failed", "count", cnt, NULL);
        if (n < STALE_BATCH)
            break;
    }
    free(ids);
}

/* PostgreSQL: renew this instance's leases, fail expired ones of dead
 * instances, and abort local runs canceled through another instance. */
static void *lease_main(void *arg)
{
    tc_exec *x = arg;
    int64_t last_renew = 0;
    while (!atomic_load(&x->stop)) {
        /* tv_nsec must stay below 1e9: nanosleep fails at once otherwise. */
        struct timespec ts = {LEASE_TICK_MS / 1000, (LEASE_TICK_MS % 1000) * 1000000L};
        nanosleep(&ts, NULL);
        int64_t now = tc_now_ms();
        tc_err err;
        char ids[16][37];
        size_t n = 0;
        bool renew = now - last_renew >= LEASE_MS / 4;
        tc_db_conn *c = tc_db_acquire(x->o.db);
        if (renew)
            tc_repo_jobs_renew(c, x->instance, now, &err);
        tc_repo_jobs_canceled_since(c, x->instance, now - 5 * LEASE_TICK_MS, ids, 16, &n, &err);
        tc_db_release(c);
        for (size_t i = 0; i < n; i++)
            abort_local(x, ids[i]);
        if (renew) {
            recover_stale(x, now - LEASE_MS);
            last_renew = now;
        }
    }
    return NULL;
}

/* ---- lifecycle ---------------------------------------------------------------- */

static void on_change(void *ctx, const char *user_id, const char *kind, const json_t *row)
{
    (void)user_id;
    tc_exec *x = ctx;
    if (strcmp(kind, "job"))
        return;
    const char *status = json_string_value(json_object_get(row, "status"));
    if (!status || !strcmp(status, "queued") || !strcmp(status, "running"))
        return;
    tc_waiters_done(x->waiters, json_string_value(json_object_get(row, "id")), row);
}

static void wake_for_backlog(tc_exec *x)
{
    int64_t n = 0;
    tc_err err;
    tc_db_conn *c = tc_db_acquire(x->o.db);
    tc_repo_jobs_queued_count(c, &n, &err);
    tc_db_release(c);
    for (int64_t i = 0; i < n && i < x->nthreads; i++)
        tc_exec_notify(x);
}

tc_status tc_exec_new(const tc_exec_options *o, tc_exec **out, tc_err *err)
{
    if (!o->db || !o->events || !o->connections || o->workers < 1)
        return tc_failf(err, TC_INTERNAL, NULL, "exec: db, events, connections and workers are required");
    tc_exec *x = tc_calloc(1, sizeof(*x));
    x->o = *o;
    if (x->o.default_timeout_ms <= 0)
        x->o.default_timeout_ms = 60000;
    if (x->o.poll_ms <= 0)
        x->o.poll_ms = 2000;
    if (!x->o.max_response)
        x->o.max_response = 2u << 20;
    char uuid[37];
    tc_uuid(uuid);
    snprintf(x->instance, sizeof(x->instance), "%.8s", uuid);
    x->waiters = tc_waiters_new();
    x->rate = tc_rate_table_new();
    x->schemas = tc_jsonschema_cache_new(0);
    x->tools = tc_tool_cache_new();
    x->group = tc_db_group_new(o->db);
    pthread_mutex_init(&x->q_mu, NULL);
    pthread_mutex_init(&x->run_mu, NULL);
    tc_events_add_observer(o->events, on_change, x);
    bool pg = tc_db_kind_of(o->db) == TC_DB_POSTGRES;
    recover_stale(x, pg ? tc_now_ms() - LEASE_MS : INT64_MAX);
    x->nthreads = o->workers;
    x->slots = tc_calloc((size_t)o->workers, sizeof(slot));
    x->threads = tc_calloc((size_t)o->workers, sizeof(pthread_t));
    x->idle = tc_calloc((size_t)o->workers, sizeof(int));
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    for (int i = 0; i < o->workers; i++) {
        slot *s = &x->slots[i];
        s->x = x;
        s->index = i;
        snprintf(s->worker_id, sizeof(s->worker_id), "%s/%d", x->instance, i);
        pthread_cond_init(&s->cv, &ca);
    }
    pthread_condattr_destroy(&ca);
    for (int i = 0; i < o->workers; i++) {
        worker_arg *wa = tc_calloc(1, sizeof(*wa));
        wa->x = x;
        wa->index = i;
        pthread_create(&x->threads[i], NULL, worker_main, wa);
    }
    if (pg)
        x->lease_started = pthread_create(&x->lease_thread, NULL, lease_main, x) == 0;
    wake_for_backlog(x);
    *out = x;
    return TC_OK;
}

static int running_count(tc_exec *x)
{
    int n = 0;
    pthread_mutex_lock(&x->run_mu);
    for (int i = 0; i < x->nthreads; i++)
        n += x->slots[i].job_id[0] != '\0';
    pthread_mutex_unlock(&x->run_mu);
    return n;
}

void tc_exec_free(tc_exec *x, int grace_ms)
{
    if (!x)
        return;
    atomic_store(&x->stop, true);
    pthread_mutex_lock(&x->q_mu);
    for (int i = 0; i < x->nthreads; i++)
        pthread_cond_signal(&x->slots[i].cv);
    pthread_mutex_unlock(&x->q_mu);
    int64_t end = tc_mono_ns() + (int64_t)grace_ms * 1000000;
    while (running_count(x) > 0 && tc_mono_ns() < end) {
        struct timespec ts = {0, 10 * 1000000};
        nanosleep(&ts, NULL);
    }
    pthread_mutex_lock(&x->run_mu);
    for (int i = 0; i < x->nthreads; i++)
        atomic_store(&x->slots[i].abort, true);
    pthread_mutex_unlock(&x->run_mu);
    for (int i = 0; i < x->nthreads; i++)
        pthread_join(x->threads[i], NULL);
    if (x->lease_started)
        pthread_join(x->lease_thread, NULL);
    tc_waiters_free(x->waiters);
    tc_rate_table_free(x->rate);
    tc_jsonschema_cache_free(x->schemas);
    tc_tool_cache_free(x->tools);
    tc_db_group_free(x->group);
    for (int i = 0; i < x->nthreads; i++)
        pthread_cond_destroy(&x->slots[i].cv);
    pthread_mutex_destroy(&x->q_mu);
    pthread_mutex_destroy(&x->run_mu);
    free(x->slots);
    free(x->threads);
    free(x->idle);
    free(x);
}

/* ---- rate limits and stats --------------------------------------------------- */

tc_status tc_exec_rate_admit(tc_exec *x, const char *user_id, const char *connector,
                             tc_exec_rate *info)
{
    char ku[64], kc[96];
    snprintf(ku, sizeof(ku), "u:%s", user_id ? user_id : "");
    snprintf(kc, sizeof(kc), "c:%.80s", connector ? connector : "");
    tc_status st = tc_rate_admit2(x->rate, ku, x->o.rate_user_per_min, connector ? kc : NULL,
                                  x->o.rate_connector_per_min, tc_now_ms(), info);
    if (st != TC_OK)
        atomic_fetch_add(&x->n_limited, 1);
    return st;
}

void tc_exec__count_enqueued(tc_exec *x, uint64_t n)
{
    atomic_fetch_add(&x->n_enqueued, n);
}

void tc_exec_stats_get(tc_exec *x, tc_exec_stats *out)
{
    out->enqueued = atomic_load(&x->n_enqueued);
    out->succeeded = atomic_load(&x->n_succeeded);
    out->failed = atomic_load(&x->n_failed);
    out->canceled = atomic_load(&x->n_canceled);
    out->rate_limited = atomic_load(&x->n_limited);
    out->running = running_count(x);
    out->waiters = tc_waiters_count(x->waiters);
    tc_db_group_stats(x->group, &out->commits, &out->commit_pieces);
}
