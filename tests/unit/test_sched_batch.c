/* The engine with exec's real enqueue, as api/schedules.c plugs it in: the
 * batch hook (tc_exec_enqueue_batch_in_tx) with the single-run hook
 * (tc_exec_enqueue_in_tx) as its fallback, against a real database
 * (SQLite here; PostgreSQL in sched.postgres). A connector "svc" with tools
 * "ping" (arguments {n: integer >= 0}) and "boom" (its job inserts are made
 * to fail by a trigger in the fault test). */
#include <string.h>

#include "connections/connections.h"
#include "events/events.h"
#include "exec/exec.h"
#include "runner.h"
#include "scheduler/scheduler.h"
#include "store/repo_jobs.h"
#include "store/repo_schedules.h"
#include "test_store_fixture.h"

#define USER "22222222-2222-4222-8222-222222222222"
#define CONNECTOR "33333333-3333-4333-8333-333333333333"
#define T0 INT64_C(1800000000000) /* a whole second */

typedef struct bfix {
    tc_db *db;
    tc_events *events;
    tc_connections cx;
    tc_exec *x;
    tc_sched *s;
    int batch_calls;
} bfix;

static tc_exec_scheduled scheduled_of(const tc_sched_run *r)
{
    return (tc_exec_scheduled){.user_id = r->user_id,
                               .connector = r->connector,
                               .tool = r->tool,
                               .connection_id = r->connection_id,
                               .arguments = r->arguments,
                               .schedule_id = r->schedule_id,
                               .scheduled_for = r->scheduled_for};
}

static tc_status one(void *ctx, tc_db_conn *c, const tc_sched_run *r, char job_id[37], tc_err *err)
{
    tc_exec_scheduled s = scheduled_of(r);
    return tc_exec_enqueue_in_tx(((bfix *)ctx)->x, c, &s, job_id, err);
}

static tc_status many(void *ctx, tc_db_conn *c, const tc_sched_run *runs, size_t n,
                      tc_sched_enqueued *out, tc_err *err)
{
    bfix *f = ctx;
    f->batch_calls++;
    tc_exec_scheduled v[64] = {{0}}; /* zeroed: gcc -O2 sees n unbounded and warns */
    tc_exec_scheduled_out res[64];
    if (n > 64)
        return tc_failf(err, TC_INTERNAL, NULL, "test batch too big");
    for (size_t i = 0; i < n; i++)
        v[i] = scheduled_of(&runs[i]);
    tc_status st = tc_exec_enqueue_batch_in_tx(f->x, f->events, c, v, n, 0, res, err);
    for (size_t i = 0; st == TC_OK && i < n; i++) {
        out[i].st = res[i].st;
        memcpy(out[i].job_id, res[i].job_id, 37);
        out[i].err = res[i].err;
    }
    return st;
}

static void sql(tc_db *db, const char *q, const tc_dbv *p, size_t n)
{
    tc_err err;
    tc_err_clear(&err);
    tc_db_conn *c = tc_db_acquire(db);
    tc_status st = tc_db_exec(c, q, p, n, NULL, &err);
    tc_db_release(c);
    if (st != TC_OK)
        tc_test_fail(__FILE__, __LINE__, "%s: %s", q, err.message);
}

static int64_t scalar(tc_db *db, const char *q, const tc_dbv *p, size_t n)
{
    tc_err err;
    tc_err_clear(&err);
    tc_db_rows *r = NULL;
    int64_t v = -1;
    tc_db_conn *c = tc_db_acquire(db);
    if (tc_db_query(c, q, p, n, &r, &err) == TC_OK && tc_db_rows_next(r))
        v = tc_db_rows_int(r, 0);
    tc_db_rows_free(r);
    tc_db_release(c);
    return v;
}

static void tool(tc_db *db, const char *name)
{
    char id[37];
    tc_uuid(id);
    const tc_dbv p[] = {TC_DBV_STR(id), TC_DBV_STR(CONNECTOR), TC_DBV_STR(name),
                        TC_DBV_STR("{\"type\":\"object\",\"properties\":{\"n\":{\"type\":"
                                   "\"integer\",\"minimum\":0}},\"additionalProperties\":false}"),
                        TC_DBV_STR("{\"method\":\"GET\",\"path\":\"/ping\"}")};
    sql(db, "INSERT INTO connector_tools (id, connector_id, name, input_schema, source, request, "
            "timeout_ms) VALUES ($1, $2, $3, $4, 'rest', $5, 7000)",
        p, 5);
}

/* batch: plug in the batch hook (else only the single-run hook). */
static void start(bfix *f, bool batch)
{
    tc_sched_options o = {.db = f->db,
                          .events = f->events,
                          .enqueue = one,
                          .enqueue_batch = batch ? many : NULL,
                          .exec_ctx = f,
                          .tick_ms = 3600 * 1000, /* the thread never counts outcomes meanwhile */
                          .batch = 16};
    tc_err err;
    tc_err_clear(&err);
    ASSERT_OK(tc_sched_new(&o, &f->s, &err));
}

static void setup(bfix *f, bool batch)
{
    memset(f, 0, sizeof(*f));
    f->db = tc_test_store_open(4);
    f->events = tc_events_new();
    const tc_dbv pu[] = {TC_DBV_STR(USER), TC_DBV_STR("batch@example.com"), TC_DBV_STR("x")};
    sql(f->db, "INSERT INTO users (id, email, password_hash) VALUES ($1, $2, $3)", pu, 3);
    const tc_dbv pc[] = {TC_DBV_STR(CONNECTOR), TC_DBV_STR("svc"), TC_DBV_STR("Svc"),
                         TC_DBV_STR("http://127.0.0.1:9"), TC_DBV_STR("{}")};
    sql(f->db, "INSERT INTO connectors (id, slug, name, base_url, auth_type, definition) "
               "VALUES ($1, $2, $3, $4, 'none', $5)",
        pc, 5);
    tool(f->db, "ping");
    tool(f->db, "boom");
    f->cx.db = f->db;
    /* workers never woken (no notify hook, a one-hour poll), but the
     * worker's first look at the queue may come after a tick and take a
     * job: the checks hold either way (as_queued, stream_count) */
    tc_exec_options xo = {.db = f->db, .events = f->events, .connections = &f->cx, .workers = 1,
                          .poll_ms = 3600 * 1000};
    tc_err err;
    tc_err_clear(&err);
    ASSERT_OK(tc_exec_new(&xo, &f->x, &err));
    start(f, batch);
}

static void teardown(bfix *f)
{
    tc_sched_free(f->s);
    tc_exec_free(f->x, 0);
    tc_events_free(f->events);
    tc_test_store_close(f->db);
}

/* An every-second schedule due at T0; args is JSON text. */
static void add(bfix *f, const char *connector, const char *tool_name, const char *args,
                char id[37])
{
    tc_repo_schedule s;
    memset(&s, 0, sizeof(s));
    tc_uuid(s.id);
    snprintf(s.user_id, sizeof(s.user_id), "%s", USER);
    snprintf(s.name, sizeof(s.name), "batch %s", tool_name);
    snprintf(s.cron, sizeof(s.cron), "* * * * * *");
    snprintf(s.timezone, sizeof(s.timezone), "UTC");
    snprintf(s.connector, sizeof(s.connector), "%s", connector);
    snprintf(s.tool, sizeof(s.tool), "%s", tool_name);
    snprintf(s.overlap, sizeof(s.overlap), "allow");
    snprintf(s.misfire, sizeof(s.misfire), "run_once");
    s.arguments = json_loads(args, 0, NULL);
    s.enabled = true;
    s.max_failures = 5;
    s.next_run_at = T0;
    tc_err err;
    tc_err_clear(&err);
    tc_db_conn *c = tc_db_acquire(f->db);
    ASSERT_OK(tc_repo_schedule_insert(c, &s, tc_now_ms(), NULL, &err));
    tc_db_release(c);
    memcpy(id, s.id, 37);
    tc_repo_schedule_clear(&s);
}

static tc_sched_tick_stats tick(bfix *f, int64_t now)
{
    tc_sched_tick_stats st;
    tc_err err;
    tc_err_clear(&err);
    if (tc_sched_tick_now(f->s, now, &st, &err) != TC_OK)
        tc_test_fail(__FILE__, __LINE__, "tick: %s", err.message);
    return st;
}

static void load(bfix *f, const char *id, tc_repo_schedule *out)
{
    tc_err err;
    tc_err_clear(&err);
    tc_db_conn *c = tc_db_acquire(f->db);
    ASSERT_OK(tc_repo_schedule_load(c, USER, id, out, &err));
    tc_db_release(c);
}

static int64_t jobs_of(bfix *f, const char *id)
{
    const tc_dbv p[] = {TC_DBV_STR(id)};
    return scalar(f->db, "SELECT COUNT(*) FROM pipeline_jobs WHERE schedule_id = $1", p, 1);
}

static int64_t failures_of(bfix *f, const char *id)
{
    tc_repo_schedule s;
    load(f, id, &s);
    int64_t n = s.consecutive_failures;
    tc_repo_schedule_clear(&s);
    return n;
}

static int64_t next_of(bfix *f, const char *id)
{
    tc_repo_schedule s;
    load(f, id, &s);
    int64_t n = s.next_run_at;
    tc_repo_schedule_clear(&s);
    return n;
}

/* Every streamed change as [kind, row], in stream order. A row holds one
 * change ({kind, payload}) or several (kind "*", payload [[kind, row], ...]:
 * events.h may group a transaction's changes), so the tests hold for both. */
static json_t *stream_changes(bfix *f)
{
    tc_err err;
    tc_err_clear(&err);
    tc_db_conn *c = tc_db_acquire(f->db);
    tc_db_rows *r = NULL;
    ASSERT_OK(tc_db_query(c, "SELECT kind, payload FROM stream_events ORDER BY id", NULL, 0, &r,
                          &err));
    json_t *all = json_array();
    while (tc_db_rows_next(r)) {
        json_t *j = json_loads(tc_db_rows_text(r, 1), 0, NULL);
        ASSERT(j != NULL);
        if (strcmp(tc_db_rows_text(r, 0), "*") != 0) {
            json_array_append_new(all, json_pack("[s, o]", tc_db_rows_text(r, 0), j));
            continue;
        }
        json_array_extend(all, j);
        json_decref(j);
    }
    tc_db_rows_free(r);
    tc_db_release(c);
    return all;
}

/* The streamed changes the engine's transactions wrote: queued jobs, their
 * "queued" events, and failure announcements (no job). The idle worker may
 * still pick a job up and stream its start and end: those are not counted. */
static int64_t stream_count(bfix *f)
{
    json_t *all = stream_changes(f);
    int64_t n = 0;
    for (size_t i = 0; i < json_array_size(all); i++) {
        json_t *ch = json_array_get(all, i);
        const char *kind = json_string_value(json_array_get(ch, 0));
        json_t *row = json_array_get(ch, 1);
        const char *status = json_string_value(json_object_get(row, "status"));
        const char *msg = json_string_value(json_object_get(row, "message"));
        if (!strcmp(kind, "job") ? status && !strcmp(status, "queued")
                                 : (msg && !strcmp(msg, "queued")) ||
                                       json_is_null(json_object_get(row, "job_id")))
            n++;
    }
    json_decref(all);
    return n;
}

/* The job as it was when queued: what a run changes, put back. */
static void as_queued(json_t *job)
{
    static const char *const ran[] = {"started_at", "finished_at", "result", "error",
                                      "progress", "progress_total", "progress_message"};
    json_object_set_new(job, "status", json_string("queued"));
    for (size_t i = 0; i < sizeof(ran) / sizeof(ran[0]); i++)
        json_object_set_new(job, ran[i], json_null());
}

/* The streamed row of kind whose "key" is value (new reference), or NULL. */
static json_t *stream_row(bfix *f, const char *kind, const char *key, const char *value)
{
    json_t *all = stream_changes(f), *found = NULL;
    for (size_t i = 0; !found && i < json_array_size(all); i++) {
        json_t *ch = json_array_get(all, i);
        json_t *row = json_array_get(ch, 1);
        const char *v = json_string_value(json_object_get(row, key));
        if (!strcmp(json_string_value(json_array_get(ch, 0)), kind) && v && !strcmp(v, value))
            found = json_incref(row);
    }
    json_decref(all);
    return found;
}

/* The streamed rows of the schedule's job are exactly the job and its
 * "queued" event as the API reads them back. */
static void check_streamed(bfix *f, const char *schedule_id)
{
    tc_repo_schedule s;
    load(f, schedule_id, &s);
    ASSERT_EQ(strlen(s.last_job_id), 36);
    tc_err err;
    tc_err_clear(&err);
    tc_db_conn *c = tc_db_acquire(f->db);
    json_t *job = NULL, *events = NULL;
    ASSERT_OK(tc_repo_job_get(c, USER, s.last_job_id, &job, &err));
    ASSERT_OK(tc_repo_event_list(c, USER, s.last_job_id, 10, &events, &err));
    tc_db_release(c);
    ASSERT(json_array_size(events) >= 1); /* then "started" ... if the worker took it */
    json_t *ev = json_array_get(events, 0);
    ASSERT_STR_EQ(json_string_value(json_object_get(ev, "message")), "queued");
    ASSERT_STR_EQ(json_string_value(json_object_get(json_object_get(ev, "data"), "schedule_id")),
                  schedule_id);
    as_queued(job);
    ASSERT_EQ(json_integer_value(json_object_get(job, "timeout_ms")), 7000);
    json_t *sj = stream_row(f, "job", "id", s.last_job_id);
    json_t *se = stream_row(f, "event", "job_id", s.last_job_id);
    ASSERT(sj && se);
    if (!json_equal(sj, job)) {
        char *a = json_dumps(sj, JSON_SORT_KEYS), *b = json_dumps(job, JSON_SORT_KEYS);
        tc_test_fail(__FILE__, __LINE__, "streamed job %s differs from the job %s", a, b);
    }
    ASSERT(json_equal(se, ev));
    json_decref(sj);
    json_decref(se);
    json_decref(job);
    json_decref(events);
    tc_repo_schedule_clear(&s);
}

/* The reason streamed for a run that could not start (the failure event). */
static char *failure_reason(bfix *f, const char *schedule_id)
{
    json_t *all = stream_changes(f);
    char *out = NULL;
    for (size_t i = 0; !out && i < json_array_size(all); i++) {
        json_t *ch = json_array_get(all, i);
        json_t *row = json_array_get(ch, 1);
        const char *sid = json_string_value(json_object_get(json_object_get(row, "data"), "schedule_id"));
        if (!strcmp(json_string_value(json_array_get(ch, 0)), "event") && sid &&
            !strcmp(sid, schedule_id) && json_is_null(json_object_get(row, "job_id")))
            out = strdup(json_string_value(json_object_get(row, "message")));
    }
    json_decref(all);
    return out;
}

TEST(sched_batch_enqueues_what_the_single_path_does)
{
    bfix f;
    setup(&f, true);
    char a[37], b[37], odd[37];
    tool(f.db, "odd \"tool\" \\ caf\xc3\xa9\t"); /* escaped in the streamed job */
    add(&f, "svc", "ping", "{\"n\":1}", a);
    add(&f, "svc", "ping", "{\"n\":2}", b);
    add(&f, "svc", "odd \"tool\" \\ caf\xc3\xa9\t", "{\"n\":3}", odd);
    tc_sched_tick_stats st = tick(&f, T0 + 5);
    ASSERT_EQ(f.batch_calls, 1);
    ASSERT_EQ(st.enqueued, 3);
    check_streamed(&f, a);
    check_streamed(&f, b);
    check_streamed(&f, odd);
    ASSERT_EQ(next_of(&f, a), T0 + 1000);
    ASSERT_EQ(stream_count(&f), 6);

    /* the same through the single-run hook: the same rows */
    tc_sched_free(f.s);
    start(&f, false);
    char c[37];
    add(&f, "svc", "ping", "{\"n\":3}", c);
    st = tick(&f, T0 + 10);
    ASSERT_EQ(st.enqueued, 1);
    check_streamed(&f, c);
    teardown(&f);
}

TEST(sched_batch_bad_schedules_do_not_block_the_others)
{
    bfix f;
    setup(&f, true);
    char ok1[37], ok2[37], bad_args[37], no_tool[37], no_conn[37];
    add(&f, "svc", "ping", "{\"n\":1}", ok1);
    add(&f, "svc", "ping", "{\"n\":-1}", bad_args);
    add(&f, "svc", "gone", "{}", no_tool);
    add(&f, "nope", "ping", "{}", no_conn);
    add(&f, "svc", "ping", "{\"n\":2}", ok2);
    tc_sched_tick_stats st = tick(&f, T0 + 5);
    ASSERT_EQ(f.batch_calls, 1);
    ASSERT_EQ(st.due, 5);
    ASSERT_EQ(st.enqueued, 2);
    ASSERT_EQ(st.failed_to_start, 3);
    ASSERT_EQ(jobs_of(&f, ok1), 1);
    ASSERT_EQ(jobs_of(&f, ok2), 1);
    ASSERT_EQ(jobs_of(&f, bad_args), 0);
    const char *ids[] = {ok1, ok2, bad_args, no_tool, no_conn};
    for (int i = 0; i < 5; i++)
        ASSERT_EQ(next_of(&f, ids[i]), T0 + 1000); /* every one moved on */
    ASSERT_EQ(failures_of(&f, bad_args), 1);
    ASSERT_EQ(failures_of(&f, no_tool), 1);
    ASSERT_EQ(failures_of(&f, ok1), 0);

    /* The refusals read as exec's own: the same schedules through the
     * single-run hook give the same reasons. */
    char *r1 = failure_reason(&f, bad_args), *r2 = failure_reason(&f, no_tool),
         *r3 = failure_reason(&f, no_conn);
    ASSERT(r1 && r2 && r3);
    ASSERT_STR_CONTAINS(r1, "the arguments do not match the tool's schema");
    ASSERT_STR_CONTAINS(r2, "has no tool \"gone\"");
    ASSERT_STR_CONTAINS(r3, "nope");
    tc_sched_free(f.s);
    start(&f, false);
    sql(f.db, "DELETE FROM stream_events", NULL, 0);
    st = tick(&f, T0 + 1005);
    ASSERT_EQ(st.enqueued, 2);
    ASSERT_EQ(st.failed_to_start, 3);
    char *s1 = failure_reason(&f, bad_args), *s2 = failure_reason(&f, no_tool),
         *s3 = failure_reason(&f, no_conn);
    ASSERT(s1 && s2 && s3);
    ASSERT_STR_EQ(r1, s1);
    ASSERT_STR_EQ(r2, s2);
    ASSERT_STR_EQ(r3, s3);
    free(r1), free(r2), free(r3), free(s1), free(s2), free(s3);
    teardown(&f);
}

TEST(sched_batch_conflict_is_skipped)
{
    bfix f;
    setup(&f, true);
    char x[37], y[37];
    add(&f, "svc", "ping", "{\"n\":1}", x);
    add(&f, "svc", "ping", "{\"n\":2}", y);
    /* x's due time has a job already (another instance, a restored row) */
    char jid[37];
    tc_uuid7(jid);
    tc_repo_job_new n = {.id = jid, .user_id = USER, .connector = "svc", .tool = "ping",
                         .arguments = "{}", .schedule_id = x, .scheduled_for = T0};
    tc_err err;
    tc_err_clear(&err);
    tc_db_conn *c = tc_db_acquire(f.db);
    ASSERT_OK(tc_repo_job_insert(c, &n, T0, NULL, &err));
    tc_db_release(c);
    tc_sched_tick_stats st = tick(&f, T0 + 5);
    ASSERT_EQ(f.batch_calls, 1);
    ASSERT_EQ(st.duplicates, 1);
    ASSERT_EQ(st.enqueued, 1);
    ASSERT_EQ(jobs_of(&f, x), 1);
    ASSERT_EQ(jobs_of(&f, y), 1);
    ASSERT_EQ(next_of(&f, x), T0 + 1000);
    tc_repo_schedule s;
    load(&f, x, &s);
    ASSERT_STR_EQ(s.last_job_id, ""); /* no run of ours */
    tc_repo_schedule_clear(&s);
    check_streamed(&f, y);
    /* nothing streamed for the duplicate */
    ASSERT_EQ(stream_count(&f), 2);
    teardown(&f);
}

TEST(sched_batch_due_time_fires_once_across_a_restart)
{
    bfix f;
    setup(&f, true);
    char id[5][37];
    for (int i = 0; i < 5; i++)
        add(&f, "svc", "ping", "{\"n\":1}", id[i]);
    tc_sched_tick_stats st = tick(&f, T0 + 5);
    ASSERT_EQ(st.enqueued, 5);

    /* restart: a new engine on the same database sees nothing due */
    tc_sched_free(f.s);
    start(&f, true);
    st = tick(&f, T0 + 500);
    ASSERT_EQ(st.due, 0);
    /* even with the due time seen again (a restored row), no second job */
    const tc_dbv p[] = {TC_DBV_I64(T0)};
    sql(f.db, "UPDATE scheduler_jobs SET next_run_at = $1", p, 1);
    st = tick(&f, T0 + 600);
    ASSERT_EQ(st.due, 5);
    ASSERT_EQ(st.duplicates, 5);
    ASSERT_EQ(st.enqueued, 0);
    for (int i = 0; i < 5; i++) {
        ASSERT_EQ(jobs_of(&f, id[i]), 1);
        ASSERT_EQ(next_of(&f, id[i]), T0 + 1000);
    }
    st = tick(&f, T0 + 1000);
    ASSERT_EQ(st.enqueued, 5);
    for (int i = 0; i < 5; i++)
        ASSERT_EQ(jobs_of(&f, id[i]), 2);
    teardown(&f);
}

/* A database error on one run's rows: the batch statement fails, the engine
 * rolls it back and enqueues one run per savepoint; the faulty run stays due
 * (retried next tick), the others go out. */
TEST(sched_batch_database_fault_is_isolated)
{
    bfix f;
    setup(&f, true);
    if (tc_test_store_pg_url()) {
        sql(f.db,
            "CREATE FUNCTION boom_guard() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            "IF NEW.tool = 'boom' THEN RAISE EXCEPTION 'injected fault'; END IF; RETURN NEW; END $$",
            NULL, 0);
        sql(f.db, "CREATE TRIGGER boom BEFORE INSERT ON pipeline_jobs FOR EACH ROW "
                  "EXECUTE FUNCTION boom_guard()",
            NULL, 0);
    } else {
        sql(f.db, "CREATE TRIGGER boom BEFORE INSERT ON pipeline_jobs WHEN NEW.tool = 'boom' "
                  "BEGIN SELECT RAISE(ABORT, 'injected fault'); END",
            NULL, 0);
    }
    char a[37], bad[37], b[37];
    add(&f, "svc", "ping", "{\"n\":1}", a);
    add(&f, "svc", "boom", "{\"n\":1}", bad);
    add(&f, "svc", "ping", "{\"n\":2}", b);
    tc_sched_tick_stats st = tick(&f, T0 + 5);
    ASSERT_EQ(st.enqueued, 2);
    ASSERT_EQ(st.faulted, 1);
    ASSERT_EQ(jobs_of(&f, a), 1);
    ASSERT_EQ(jobs_of(&f, b), 1);
    ASSERT_EQ(jobs_of(&f, bad), 0);
    ASSERT_EQ(next_of(&f, bad), T0); /* still due */
    ASSERT_EQ(failures_of(&f, bad), 0);
    ASSERT_EQ(next_of(&f, a), T0 + 1000);
    check_streamed(&f, a);
    check_streamed(&f, b);
    /* no stray rows of the failed attempt */
    ASSERT_EQ(stream_count(&f), 4);
    ASSERT_EQ(scalar(f.db, "SELECT COUNT(*) FROM pipeline_events WHERE message = 'queued'", NULL, 0), 2);

    /* fixed: the next tick runs it, once */
    if (tc_test_store_pg_url())
        sql(f.db, "DROP TRIGGER boom ON pipeline_jobs", NULL, 0);
    else
        sql(f.db, "DROP TRIGGER boom", NULL, 0);
    st = tick(&f, T0 + 300);
    ASSERT_EQ(st.enqueued, 1);
    ASSERT_EQ(jobs_of(&f, bad), 1);
    ASSERT_EQ(next_of(&f, bad), T0 + 1000);
    teardown(&f);
}

/* Only faulty runs in a batch: rolled back as a whole, nothing moves. */
TEST(sched_batch_all_faulty_rolls_back)
{
    bfix f;
    setup(&f, true);
    if (tc_test_store_pg_url()) {
        sql(f.db,
            "CREATE FUNCTION boom_all() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            "RAISE EXCEPTION 'injected fault'; END $$",
            NULL, 0);
        sql(f.db, "CREATE TRIGGER boom BEFORE INSERT ON pipeline_jobs FOR EACH ROW "
                  "EXECUTE FUNCTION boom_all()",
            NULL, 0);
    } else {
        sql(f.db, "CREATE TRIGGER boom BEFORE INSERT ON pipeline_jobs "
                  "BEGIN SELECT RAISE(ABORT, 'injected fault'); END",
            NULL, 0);
    }
    char a[37];
    add(&f, "svc", "ping", "{\"n\":1}", a);
    tc_sched_tick_stats st;
    tc_err err;
    tc_err_clear(&err);
    ASSERT_STATUS(tc_sched_tick_now(f.s, T0 + 5, &st, &err), TC_DB);
    ASSERT_EQ(next_of(&f, a), T0);
    ASSERT_EQ(stream_count(&f), 0);
    teardown(&f);
}
