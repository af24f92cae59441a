/* enqueue_batch: tc_exec_enqueue_in_tx for a whole batch of scheduled runs
 * (the scheduler's tick), with the same rows and the same refusals, at a
 * fraction of the cost:
 *
 *   - one connector/tool lookup and one schema compile per distinct
 *     (user, connector, tool) of the batch instead of one per run;
 *   - multi-row INSERTs (jobs, their "queued" events, the stream rows) of up
 *     to 16 rows, without RETURNING, instead of four single-row
 *     INSERT ... RETURNING per run. On SQLite each RETURNING statement built
 *     an ephemeral table and opened a statement journal (~40 % of a run's
 *     instructions; see docs/performance.md, Scheduler, third pass).
 *
 * The stream rows carry the same changes as exec's path (the job row in API
 * shape, the event row), their JSON built as text from the inputs, written
 * by tc_events_record_all (a user's changes share rows); like
 * tc_exec_enqueue_in_tx nothing is published (readers replay from
 * stream_events) and nothing is committed here. Only public functions of
 * the store, events and jsonschema are used: exec.c is not touched. */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "events/events.h"
#include "exec/exec_int.h"
#include "jsonschema/jsonschema.h"
#include "store/repo_connectors.h"
#include "store/repo_jobs.h"

#define DEFAULT_TIMEOUT_MS 60000
#define PAYLOAD_FIXED 512    /* a payload's bytes besides its strings and arguments */
/* Parameters per row (after $1, the time shared by every row). */
#define JOB_NP 10
#define EVENT_NP 3

/* A distinct (user, connector, tool) of the batch and what it resolved to. */
typedef struct target {
    const char *user_id, *connector, *tool;
    tc_status st;
    tc_err err;
    char connector_id[37];
    int64_t timeout_ms;
    tc_jsonschema *schema;
} target;

/* One run being enqueued. */
typedef struct item {
    const tc_exec_scheduled *s;
    tc_exec_scheduled_out *out;
    target *t;
    json_t *args;     /* owned */
    char *args_text;  /* owned */
    char *data;       /* the event's data (owned) */
    bool inserted;
    int64_t event_id;
} item;

typedef struct batch {
    tc_events *events;
    tc_db_conn *c;
    int64_t now;
    char now_ts[32];
    target *targets;
    size_t ntargets;
    item *items;
    size_t n;
} batch;

/* ---- lookups and validation ------------------------------------------------ */

/* The messages are exec's (validate_args, target_get in exec.c). */
static tc_status resolve(target *t, tc_db_conn *c, int64_t default_timeout_ms)
{
    tc_repo_job_target tg;
    tc_err_clear(&t->err);
    tc_status st = tc_repo_job_target_get(c, t->user_id, t->connector, t->tool, &tg, &t->err);
    if (st != TC_OK)
        return st;
    memcpy(t->connector_id, tg.connector_id, 37);
    if (!tg.tool_id[0])
        return tc_failf(&t->err, TC_NOT_FOUND, "tool", "connector \"%s\" has no tool \"%s\"",
                        t->connector, t->tool);
    json_t *tool = NULL;
    st = tc_repo_connector_tool(c, tg.connector_id, t->tool, &tool, &t->err);
    if (st == TC_NOT_FOUND)
        return tc_failf(&t->err, TC_NOT_FOUND, "tool", "connector \"%s\" has no tool \"%s\"",
                        t->connector, t->tool);
    if (st != TC_OK)
        return st;
    json_int_t to = json_integer_value(json_object_get(tool, "timeout_ms"));
    t->timeout_ms = to > 0 ? to : default_timeout_ms > 0 ? default_timeout_ms : DEFAULT_TIMEOUT_MS;
    t->schema = tc_jsonschema_compile(json_object_get(tool, "input_schema"), NULL, &t->err);
    if (!t->schema)
        st = tc_failc(&t->err, TC_CONFLICT, "tool_schema_invalid", "input_schema",
                      "the tool's input schema is invalid: %s", t->err.message);
    json_decref(tool);
    return st;
}

static bool is_fault(tc_status st)
{
    return st != TC_OK && st != TC_NOT_FOUND && st != TC_VALIDATION && st != TC_CONFLICT;
}

/* The batch's target for s, resolved on first sight. A database fault is
 * returned (the whole batch fails); a refusal stays in t->st. */
static tc_status target_of(batch *b, const tc_exec_scheduled *s, int64_t default_timeout_ms,
                           target **out, tc_err *err)
{
    for (size_t i = 0; i < b->ntargets; i++) {
        target *t = &b->targets[i];
        if (!strcmp(t->user_id, s->user_id) && !strcmp(t->connector, s->connector) &&
            !strcmp(t->tool, s->tool)) {
            *out = t;
            return TC_OK;
        }
    }
    target *t = &b->targets[b->ntargets++];
    *t = (target){.user_id = s->user_id, .connector = s->connector, .tool = s->tool};
    t->st = resolve(t, b->c, default_timeout_ms);
    *out = t;
    if (is_fault(t->st)) {
        *err = t->err;
        return t->st;
    }
    return TC_OK;
}

static tc_status validate(const target *t, const json_t *args, tc_err *err)
{
    json_t *errors = NULL;
    tc_status st = tc_jsonschema_validate(t->schema, args, &errors);
    if (st == TC_OK)
        return TC_OK;
    const json_t *e0 = json_array_get(errors, 0);
    const char *first = json_string_value(json_object_get(e0, "message"));
    const char *path = json_string_value(json_object_get(e0, "path"));
    st = tc_failf(err, TC_VALIDATION, "arguments", "the arguments do not match the tool's schema%s%s%s%s",
                  first ? ": " : "", path && *path ? path : "", path && *path ? " " : "",
                  first ? first : "");
    json_decref(errors);
    return st;
}

/* ---- SQL of a chunk ------------------------------------------------------------ */

/* Rows per statement: 16, 4 or 1 (few SQL texts for the statement caches,
 * and few parameters per statement: the SQLite driver's check that every
 * $N is used costs O(parameters^2) per statement). */
#define NSIZES 3
static const size_t sizes[NSIZES] = {16, 4, 1};

enum { Q_JOBS, Q_EVENTS, Q_EVENT_IDS, NQ };
static char *texts[NQ][NSIZES];
static pthread_once_t texts_once = PTHREAD_ONCE_INIT;

/* head, then m copies of the row template, then tail. In the template,
 * ?k (k = 1..np) is the row's k-th parameter, $1 the time all rows share:
 * row r's ?k becomes $(2 + r * np + k - 1). */
static char *values_sql(const char *head, size_t m, const char *row, size_t np, const char *tail)
{
    size_t cap = strlen(head) + strlen(tail) + m * (strlen(row) * 2 + 4) + 1;
    char *sql = tc_malloc(cap);
    size_t len = (size_t)snprintf(sql, cap, "%s", head);
    for (size_t r = 0; r < m; r++) {
        len += (size_t)snprintf(sql + len, cap - len, "%s", r ? ", " : "");
        for (const char *t = row; *t;) {
            if (*t != '?') {
                sql[len++] = *t++;
                continue;
            }
            char *end = NULL;
            unsigned long k = strtoul(t + 1, &end, 10);
            len += (size_t)snprintf(sql + len, cap - len, "$%zu", 2 + r * np + (size_t)k - 1);
            t = end;
        }
        sql[len] = '\0';
    }
    snprintf(sql + len, cap - len, "%s", tail);
    return sql;
}

/* head, then "$1, ..., $m)". */
static char *in_sql(const char *head, size_t m)
{
    size_t cap = strlen(head) + m * 8 + 2;
    char *sql = tc_malloc(cap);
    size_t len = (size_t)snprintf(sql, cap, "%s", head);
    for (size_t r = 0; r < m; r++)
        len += (size_t)snprintf(sql + len, cap - len, "%s$%zu", r ? ", " : "", r + 1);
    snprintf(sql + len, cap - len, ")");
    return sql;
}

static void texts_init(void)
{
    for (size_t i = 0; i < NSIZES; i++) {
        size_t m = sizes[i];
        texts[Q_JOBS][i] = values_sql(
            "INSERT INTO pipeline_jobs (id, user_id, connector_id, connector, tool, connection_id, "
            "arguments, timeout_ms, schedule_id, scheduled_for, queued_at, created_at, updated_at) "
            "VALUES ",
            m, "(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, $1, $1, $1)", JOB_NP,
            " ON CONFLICT (schedule_id, scheduled_for) DO NOTHING");
        texts[Q_EVENTS][i] = values_sql("INSERT INTO pipeline_events (job_id, user_id, level, "
                                        "message, data, created_at) VALUES ",
                                        m, "(?1, ?2, 'info', 'queued', ?3, $1)", EVENT_NP, "");
        texts[Q_EVENT_IDS][i] = in_sql("SELECT id, job_id FROM pipeline_events WHERE job_id IN (", m);
    }
}

/* The statement of kind q for m rows (m one of sizes). */
static const char *text_of(int q, size_t m)
{
    pthread_once(&texts_once, texts_init);
    for (size_t i = 0; i < NSIZES; i++)
        if (sizes[i] == m)
            return texts[q][i];
    return NULL;
}

static size_t chunk_of(size_t left)
{
    for (size_t i = 0; i < NSIZES; i++)
        if (left >= sizes[i])
            return sizes[i];
    return 1;
}

/* ---- JSON text without building documents ------------------------------------ */

/* s as a JSON string (NULL: null); ids, slugs and times are copied as they
 * are, anything else is escaped by jansson. */
static void put_str(tc_buf *b, const char *s)
{
    if (!s) {
        tc_buf_puts(b, "null");
        return;
    }
    const char *p = s;
    while (*p && (*p == '-' || *p == '_' || *p == '.' || *p == ':' ||
                  (*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')))
        p++;
    if (!*p) {
        tc_buf_puts(b, "\"");
        tc_buf_append(b, s, (size_t)(p - s));
        tc_buf_puts(b, "\"");
        return;
    }
    json_t *j = json_string(s);
    char *t = j ? json_dumps(j, JSON_ENCODE_ANY) : NULL;
    tc_buf_puts(b, t ? t : "null");
    free(t);
    json_decref(j);
}

static void put_int(tc_buf *b, int64_t v)
{
    char n[24];
    snprintf(n, sizeof(n), "%" PRId64, v);
    tc_buf_puts(b, n);
}

static void put_time(tc_buf *b, int64_t ms)
{
    char ts[32];
    tc_time_format(ms, ts);
    put_str(b, ts);
}

/* ---- jobs ------------------------------------------------------------------------ */

static tc_status job_exists(tc_db_conn *c, const char *id, bool *yes, tc_err *err)
{
    const tc_dbv p[] = {TC_DBV_STR(id)};
    tc_db_rows *r = NULL;
    tc_status st = tc_db_query(c, "SELECT 1 FROM pipeline_jobs WHERE id = $1", p, 1, &r, err);
    *yes = st == TC_OK && tc_db_rows_next(r);
    tc_db_rows_free(r);
    return st;
}

/* Inserts the jobs of v[0..m); those whose due time has a job already are
 * left out (ON CONFLICT DO NOTHING). No RETURNING: on SQLite it costs an
 * ephemeral table per statement, and the count of rows tells whether all
 * went in. */
static tc_status insert_jobs(batch *b, item **v, size_t m, tc_err *err)
{
    const char *sql = text_of(Q_JOBS, m);
    tc_dbv *p = tc_calloc(1 + m * JOB_NP, sizeof(*p));
    p[0] = TC_DBV_I64(b->now);
    for (size_t r = 0; r < m; r++) {
        const item *it = v[r];
        tc_dbv *q = p + 1 + r * JOB_NP;
        q[0] = TC_DBV_STR(it->out->job_id);
        q[1] = TC_DBV_STR(it->s->user_id);
        q[2] = TC_DBV_STR(it->t->connector_id);
        q[3] = TC_DBV_STR(it->s->connector);
        q[4] = TC_DBV_STR(it->s->tool);
        q[5] = TC_DBV_STR(it->s->connection_id);
        q[6] = TC_DBV_STR(it->args_text);
        q[7] = TC_DBV_I64(it->t->timeout_ms);
        q[8] = TC_DBV_STR(it->s->schedule_id);
        q[9] = it->s->schedule_id ? TC_DBV_I64(it->s->scheduled_for) : TC_DBV_NULLV;
    }
    int64_t n = 0;
    tc_status st = tc_db_exec(b->c, sql, p, 1 + m * JOB_NP, &n, err);
    free(p);
    for (size_t r = 0; st == TC_OK && r < m; r++)
        v[r]->inserted = n == (int64_t)m;
    /* Some due time had a job already (rare: another instance, a restored
     * row): find out which of ours went in. */
    for (size_t r = 0; st == TC_OK && n != (int64_t)m && r < m; r++)
        st = job_exists(b->c, v[r]->out->job_id, &v[r]->inserted, err);
    return st;
}

/* The "queued" events of the inserted jobs; their ids come back by job. */
static tc_status insert_events(batch *b, item **v, size_t m, tc_err *err)
{
    const char *sql = text_of(Q_EVENTS, m);
    tc_dbv *p = tc_calloc(1 + m * EVENT_NP, sizeof(*p));
    p[0] = TC_DBV_I64(b->now);
    for (size_t r = 0; r < m; r++) {
        const item *it = v[r];
        tc_dbv *q = p + 1 + r * EVENT_NP;
        q[0] = TC_DBV_STR(it->out->job_id);
        q[1] = TC_DBV_STR(it->s->user_id);
        q[2] = TC_DBV_STR(it->data);
    }
    tc_status st = tc_db_exec(b->c, sql, p, 1 + m * EVENT_NP, NULL, err);
    /* their ids, by job (no RETURNING: see insert_jobs) */
    tc_db_rows *rows = NULL;
    for (size_t r = 0; r < m; r++)
        p[r] = TC_DBV_STR(v[r]->out->job_id);
    if (st == TC_OK)
        st = tc_db_query(b->c, text_of(Q_EVENT_IDS, m), p, m, &rows, err);
    while (st == TC_OK && tc_db_rows_next(rows)) {
        const char *job = tc_db_rows_text(rows, 1);
        for (size_t r = 0; job && r < m; r++)
            if (!strcmp(v[r]->out->job_id, job))
                v[r]->event_id = tc_db_rows_int(rows, 0);
    }
    tc_db_rows_free(rows);
    for (size_t r = 0; st == TC_OK && r < m; r++)
        if (!v[r]->event_id)
            st = tc_failf(err, TC_DB, NULL, "event insert returned no row for job %s",
                          v[r]->out->job_id);
    free(p);
    return st;
}

/* ---- stream rows ------------------------------------------------------------------ */

static size_t slen(const char *s)
{
    return s ? strlen(s) : 0;
}

/* The job row in API shape, as repo_jobs.c returns it for a new job. */
static char *job_payload(const batch *b, const item *it)
{
    tc_buf o; /* room for every string escaped (at most 6 bytes a byte) */
    tc_buf_init(&o, strlen(it->args_text) + PAYLOAD_FIXED +
                        6 * (strlen(it->s->connector) + strlen(it->s->tool) +
                             strlen(it->out->job_id) + slen(it->s->connection_id) +
                             slen(it->s->schedule_id)));
    tc_buf_puts(&o, "{\"id\":");
    put_str(&o, it->out->job_id);
    tc_buf_puts(&o, ",\"connector\":");
    put_str(&o, it->s->connector);
    tc_buf_puts(&o, ",\"tool\":");
    put_str(&o, it->s->tool);
    tc_buf_puts(&o, ",\"connection_id\":");
    put_str(&o, it->s->connection_id);
    tc_buf_puts(&o, ",\"status\":\"queued\",\"queued_at\":");
    put_str(&o, b->now_ts);
    tc_buf_puts(&o, ",\"started_at\":null,\"finished_at\":null,\"schedule_id\":");
    put_str(&o, it->s->schedule_id);
    tc_buf_puts(&o, ",\"scheduled_for\":");
    if (it->s->schedule_id)
        put_time(&o, it->s->scheduled_for);
    else
        tc_buf_puts(&o, "null");
    tc_buf_puts(&o, ",\"timeout_ms\":");
    put_int(&o, it->t->timeout_ms);
    tc_buf_puts(&o, ",\"progress_message\":null,\"arguments\":");
    tc_buf_puts(&o, it->args_text);
    tc_buf_puts(&o, ",\"result\":null,\"error\":null,\"progress\":null,\"progress_total\":null}");
    return tc_buf_steal(&o);
}

/* The event's data column: {"schedule_id": ...} (NULL without a schedule). */
static char *event_data(const item *it)
{
    if (!it->s->schedule_id)
        return NULL;
    tc_buf o;
    tc_buf_init(&o, PAYLOAD_FIXED + 6 * strlen(it->s->schedule_id));
    tc_buf_puts(&o, "{\"schedule_id\":");
    put_str(&o, it->s->schedule_id);
    tc_buf_puts(&o, "}");
    return tc_buf_steal(&o);
}

/* The event row as repo_jobs.c returns it. */
static char *event_payload(const batch *b, const item *it, const char *data)
{
    tc_buf o;
    tc_buf_init(&o, slen(data) + PAYLOAD_FIXED + 6 * strlen(it->out->job_id));
    tc_buf_puts(&o, "{\"id\":");
    put_int(&o, it->event_id);
    tc_buf_puts(&o, ",\"job_id\":");
    put_str(&o, it->out->job_id);
    tc_buf_puts(&o, ",\"level\":\"info\",\"message\":\"queued\",\"data\":");
    tc_buf_puts(&o, data ? data : "null");
    tc_buf_puts(&o, ",\"created_at\":");
    put_str(&o, b->now_ts);
    tc_buf_puts(&o, "}");
    return tc_buf_steal(&o);
}

/* The stream rows of the inserted jobs through events (its layout: a
 * user's changes share rows, TC_STREAM_SLOTS a row), in exec's order: the
 * job, then its event. The changes carry their JSON text only (row NULL):
 * nothing is published or sent to webhooks here. */
static tc_status insert_stream(batch *b, item **v, size_t m, tc_err *err)
{
    if (!m)
        return TC_OK;
    tc_change *chs = tc_calloc(2 * m, sizeof(*chs));
    for (size_t r = 0; r < m; r++) {
        tc_change_init(&chs[2 * r], v[r]->s->user_id, "job", NULL);
        chs[2 * r].payload = job_payload(b, v[r]);
        tc_change_init(&chs[2 * r + 1], v[r]->s->user_id, "event", NULL);
        chs[2 * r + 1].payload = event_payload(b, v[r], v[r]->data);
    }
    tc_status st = tc_events_record_all(b->events, b->c, chs, (int)(2 * m), err);
    for (size_t i = 0; i < 2 * m; i++)
        tc_change_clear(&chs[i]);
    free(chs);
    return st;
}

/* ---- the batch ---------------------------------------------------------------------- */

typedef tc_status (*chunk_fn)(batch *b, item **v, size_t m, tc_err *err);

/* Runs fn over v[0..m) in chunks of 64, 16, 4 and 1 rows. */
static tc_status chunked(batch *b, chunk_fn fn, item **v, size_t m, tc_err *err)
{
    tc_status st = TC_OK;
    for (size_t i = 0; st == TC_OK && i < m;) {
        size_t k = chunk_of(m - i);
        st = fn(b, v + i, k, err);
        i += k;
    }
    return st;
}

/* Lookups and validation of every item; the valid ones in *ok. */
static tc_status prepare_items(batch *b, const tc_exec_scheduled *v, tc_exec_scheduled_out *out,
                               int64_t default_timeout_ms, item **ok, size_t *nok, tc_err *err)
{
    *nok = 0;
    for (size_t i = 0; i < b->n; i++) {
        item *it = &b->items[i];
        *it = (item){.s = &v[i], .out = &out[i]};
        tc_err_clear(&out[i].err);
        out[i].job_id[0] = '\0';
        tc_status st = target_of(b, &v[i], default_timeout_ms, &it->t, err);
        if (st != TC_OK)
            return st;
        out[i].st = it->t->st;
        if (it->t->st != TC_OK) {
            out[i].err = it->t->err;
            continue;
        }
        it->args = v[i].arguments ? json_incref((json_t *)v[i].arguments) : json_object();
        out[i].st = validate(it->t, it->args, &out[i].err);
        if (out[i].st != TC_OK)
            continue;
        it->args_text = json_dumps(it->args, JSON_COMPACT);
        it->data = event_data(it);
        tc_uuid7(out[i].job_id);
        ok[(*nok)++] = it;
    }
    return TC_OK;
}

static tc_status write_rows(batch *b, item **ok, size_t nok, tc_err *err)
{
    tc_status st = chunked(b, insert_jobs, ok, nok, err);
    if (st != TC_OK)
        return st;
    size_t nin = 0;
    for (size_t i = 0; i < nok; i++) {
        if (ok[i]->inserted) {
            ok[nin++] = ok[i];
            continue;
        }
        ok[i]->out->st = tc_failf(&ok[i]->out->err, TC_CONFLICT, "scheduled_for",
                                  "a job for this due time exists already");
        ok[i]->out->job_id[0] = '\0';
    }
    st = chunked(b, insert_events, ok, nin, err);
    if (st == TC_OK)
        st = insert_stream(b, ok, nin, err);
    return st;
}

tc_status tc_exec_enqueue_batch_in_tx(tc_exec *x, tc_events *events, tc_db_conn *c,
                                      const tc_exec_scheduled *v, size_t n,
                                      int64_t default_timeout_ms, tc_exec_scheduled_out *out,
                                      tc_err *err)
{
    if (!n)
        return TC_OK;
    batch b = {.events = events, .c = c, .now = tc_now_ms(), .n = n};
    tc_time_format(b.now, b.now_ts);
    b.targets = tc_calloc(n, sizeof(*b.targets));
    b.items = tc_calloc(n, sizeof(*b.items));
    item **ok = tc_calloc(n, sizeof(*ok));
    size_t nok = 0;
    tc_status st = prepare_items(&b, v, out, default_timeout_ms, ok, &nok, err);
    if (st == TC_OK)
        st = write_rows(&b, ok, nok, err);
    uint64_t enqueued = 0;
    for (size_t i = 0; i < n; i++) {
        json_decref(b.items[i].args);
        free(b.items[i].args_text);
        free(b.items[i].data);
        if (st != TC_OK)
            out[i].job_id[0] = '\0';
        else if (out[i].st == TC_OK)
            enqueued++;
    }
    if (x)
        tc_exec__count_enqueued(x, enqueued);
    for (size_t i = 0; i < b.ntargets; i++)
        tc_jsonschema_free(b.targets[i].schema);
    free(ok);
    free(b.items);
    free(b.targets);
    return st;
}
