/* The scheduler engine against a real database (SQLite here; PostgreSQL in
 * sched.postgres): ticks at chosen instants, with an enqueue hook that
 * inserts the job row exactly as exec does (tc_repo_job_insert, so the
 * unique (schedule_id, scheduled_for) index is the real one). */
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "events/events.h"
#include "runner.h"
#include "scheduler/scheduler.h"
#include "store/repo_jobs.h"
#include "store/repo_schedules.h"
#include "test_store_fixture.h"

#define USER "11111111-1111-4111-8111-111111111111"
#define T0 INT64_C(1800000000000) /* 2027-01-15T08:00:00Z, a whole second */

typedef struct fixture {
    tc_db *db;
    tc_events *events;
    tc_sched *s;
    tc_status refuse; /* TC_OK: enqueue; else the hook refuses with it */
    int notified;
} fixture;

static tc_status enqueue(void *ctx, tc_db_conn *c, const tc_sched_run *r, char job_id[37],
                         tc_err *err)
{
    fixture *f = ctx;
    if (f->refuse != TC_OK)
        return tc_failf(err, f->refuse, "tool", "connector \"%s\" has no tool \"%s\"", r->connector,
                        r->tool);
    tc_uuid(job_id);
    char *args = json_dumps(r->arguments, JSON_COMPACT);
    tc_repo_job_new n = {.id = job_id,
                         .user_id = r->user_id,
                         .connector = r->connector,
                         .tool = r->tool,
                         .arguments = args,
                         .schedule_id = r->schedule_id,
                         .scheduled_for = r->scheduled_for};
    tc_status st = tc_repo_job_insert(c, &n, tc_now_ms(), NULL, err);
    free(args);
    return st;
}

static void notify(void *ctx)
{
    ((fixture *)ctx)->notified++;
}

static tc_status exec_sql(tc_db *db, const char *sql, const tc_dbv *p, size_t n)
{
    tc_err err;
    tc_err_clear(&err);
    tc_db_conn *c = tc_db_acquire(db);
    tc_status st = tc_db_exec(c, sql, p, n, NULL, &err);
    tc_db_release(c);
    return st;
}

static int64_t scalar(tc_db *db, const char *sql, const tc_dbv *p, size_t n)
{
    tc_err err;
    tc_err_clear(&err);
    tc_db_rows *r = NULL;
    int64_t v = -1;
    tc_db_conn *c = tc_db_acquire(db);
    if (tc_db_query(c, sql, p, n, &r, &err) == TC_OK && tc_db_rows_next(r))
        v = tc_db_rows_int(r, 0);
    tc_db_rows_free(r);
    tc_db_release(c);
    return v;
}

static void setup(fixture *f, bool engine, int64_t tick_ms)
{
    memset(f, 0, sizeof(*f));
    f->db = tc_test_store_open(4);
    f->events = tc_events_new();
    const tc_dbv p[] = {TC_DBV_STR(USER), TC_DBV_STR("sched@example.com"), TC_DBV_STR("x")};
    ASSERT_OK(exec_sql(f->db, "INSERT INTO users (id, email, password_hash) VALUES ($1, $2, $3)", p, 3));
    tc_sched_options o = {.db = f->db,
                          .events = f->events,
                          .enqueue = enqueue,
                          .notify = notify,
                          .exec_ctx = f,
                          .engine = engine,
                          .tick_ms = tick_ms};
    tc_err err;
    tc_err_clear(&err);
    ASSERT_OK(tc_sched_new(&o, &f->s, &err));
}

static void teardown(fixture *f)
{
    tc_sched_free(f->s);
    tc_events_free(f->events);
    tc_test_store_close(f->db);
}

/* Inserts an enabled schedule due at next_run_at; returns its id in id. */
static void add(fixture *f, const char *cron, const char *overlap, const char *misfire,
                int64_t next_run_at, int64_t max_failures, char id[37])
{
    tc_repo_schedule s;
    memset(&s, 0, sizeof(s));
    tc_uuid(s.id);
    snprintf(s.user_id, sizeof(s.user_id), "%s", USER);
    snprintf(s.name, sizeof(s.name), "test %s", cron);
    snprintf(s.cron, sizeof(s.cron), "%s", cron);
    snprintf(s.timezone, sizeof(s.timezone), "UTC");
    snprintf(s.connector, sizeof(s.connector), "stub");
    snprintf(s.tool, sizeof(s.tool), "echo");
    snprintf(s.overlap, sizeof(s.overlap), "%s", overlap);
    snprintf(s.misfire, sizeof(s.misfire), "%s", misfire);
    s.arguments = json_pack("{s:s}", "text", "hi");
    s.enabled = true;
    s.max_failures = max_failures;
    s.next_run_at = next_run_at;
    tc_err err;
    tc_err_clear(&err);
    tc_db_conn *c = tc_db_acquire(f->db);
    ASSERT_OK(tc_repo_schedule_insert(c, &s, tc_now_ms(), NULL, &err));
    tc_db_release(c);
    memcpy(id, s.id, 37);
    tc_repo_schedule_clear(&s);
}

static void load(fixture *f, const char *id, tc_repo_schedule *out)
{
    tc_err err;
    tc_err_clear(&err);
    tc_db_conn *c = tc_db_acquire(f->db);
    ASSERT_OK(tc_repo_schedule_load(c, USER, id, out, &err));
    tc_db_release(c);
}

static int64_t jobs_of(fixture *f, const char *id)
{
    const tc_dbv p[] = {TC_DBV_STR(id)};
    return scalar(f->db, "SELECT COUNT(*) FROM pipeline_jobs WHERE schedule_id = $1", p, 1);
}

static int64_t jobs_due_at(fixture *f, const char *id, int64_t due)
{
    const tc_dbv p[] = {TC_DBV_STR(id), TC_DBV_I64(due)};
    return scalar(f->db,
                  "SELECT COUNT(*) FROM pipeline_jobs WHERE schedule_id = $1 AND scheduled_for = $2",
                  p, 2);
}

static tc_sched_tick_stats tick(fixture *f, int64_t now)
{
    tc_sched_tick_stats st;
    tc_err err;
    tc_err_clear(&err);
    tc_status s = tc_sched_tick_now(f->s, now, &st, &err);
    if (s != TC_OK)
        tc_test_fail(__FILE__, __LINE__, "tick: %s", err.message);
    return st;
}

/* Moves the schedule's last job through the state machine. */
static void last_job_to(fixture *f, const char *id, const char *status)
{
    tc_repo_schedule s;
    load(f, id, &s);
    const tc_dbv p[] = {TC_DBV_STR(status), TC_DBV_STR(s.last_job_id)};
    ASSERT_OK(exec_sql(f->db, "UPDATE pipeline_jobs SET status = $1 WHERE id = $2", p, 2));
    tc_repo_schedule_clear(&s);
}

TEST(sched_fires_each_due_time_once)
{
    fixture f;
    setup(&f, false, 0);
    char id[37];
    add(&f, "* * * * * *", "allow", "run_once", T0, 5, id);

    tc_sched_tick_stats st = tick(&f, T0 - 1);
    ASSERT_EQ(st.due, 0);
    st = tick(&f, T0 + 100);
    ASSERT_EQ(st.due, 1);
    ASSERT_EQ(st.enqueued, 1);
    ASSERT_EQ(f.notified, 1);
    ASSERT_EQ(jobs_due_at(&f, id, T0), 1);
    tc_repo_schedule s;
    load(&f, id, &s);
    ASSERT_EQ(s.next_run_at, T0 + 1000);
    ASSERT_EQ(s.last_run_at, T0);
    ASSERT_EQ(strlen(s.last_job_id), 36);
    tc_repo_schedule_clear(&s);

    st = tick(&f, T0 + 200); /* same second again: nothing */
    ASSERT_EQ(st.due, 0);
    ASSERT_EQ(jobs_of(&f, id), 1);
    st = tick(&f, T0 + 1000);
    ASSERT_EQ(st.enqueued, 1);
    ASSERT_EQ(jobs_due_at(&f, id, T0 + 1000), 1);

    /* A crash between enqueue and advance can't happen (one transaction),
     * but a second instance or a restored row can see the same due time
     * again: the unique index keeps it to one job. */
    const tc_dbv p[] = {TC_DBV_I64(T0), TC_DBV_STR(id)};
    ASSERT_OK(exec_sql(f.db, "UPDATE scheduler_jobs SET next_run_at = $1 WHERE id = $2", p, 2));
    st = tick(&f, T0 + 300);
    ASSERT_EQ(st.duplicates, 1);
    ASSERT_EQ(st.enqueued, 0);
    ASSERT_EQ(jobs_of(&f, id), 2);
    load(&f, id, &s);
    ASSERT_EQ(s.next_run_at, T0 + 1000);
    tc_repo_schedule_clear(&s);
    teardown(&f);
}

TEST(sched_overlap_skip_waits_for_the_previous_run)
{
    fixture f;
    setup(&f, false, 0);
    char skip[37], allow[37];
    add(&f, "* * * * * *", "skip", "run_once", T0, 5, skip);
    add(&f, "* * * * * *", "allow", "run_once", T0, 5, allow);
    ASSERT_EQ(tick(&f, T0).enqueued, 2);

    tc_sched_tick_stats st = tick(&f, T0 + 1000); /* both first runs still queued */
    ASSERT_EQ(st.skipped_overlap, 1);
    ASSERT_EQ(st.enqueued, 1);
    ASSERT_EQ(jobs_of(&f, skip), 1);
    ASSERT_EQ(jobs_of(&f, allow), 2);

    last_job_to(&f, skip, "running");
    st = tick(&f, T0 + 2000);
    ASSERT_EQ(st.skipped_overlap, 1);
    ASSERT_EQ(jobs_of(&f, skip), 1);

    last_job_to(&f, skip, "succeeded");
    st = tick(&f, T0 + 3000);
    ASSERT_EQ(st.skipped_overlap, 0);
    ASSERT_EQ(jobs_due_at(&f, skip, T0 + 3000), 1);
    ASSERT_EQ(jobs_due_at(&f, skip, T0 + 1000), 0);
    teardown(&f);
}

TEST(sched_misfire_after_downtime)
{
    fixture f;
    setup(&f, false, 0);
    char once[37], skip[37];
    add(&f, "0 * * * *", "skip", "run_once", T0, 5, once);
    add(&f, "0 * * * *", "skip", "skip", T0, 5, skip);
    int64_t later = T0 + 3 * 3600 * 1000 + 5000; /* down for three hours */
    tc_sched_tick_stats st = tick(&f, later);
    ASSERT_EQ(st.due, 2);
    ASSERT_EQ(st.enqueued, 1);
    ASSERT_EQ(st.late, 1);
    ASSERT_EQ(st.skipped_misfire, 1);
    ASSERT_EQ(jobs_of(&f, once), 1); /* three missed hours collapse into one run */
    ASSERT_EQ(jobs_due_at(&f, once, T0), 1);
    ASSERT_EQ(jobs_of(&f, skip), 0);
    tc_repo_schedule a, b;
    load(&f, once, &a);
    load(&f, skip, &b);
    ASSERT_EQ(a.next_run_at, T0 + 4 * 3600 * 1000);
    ASSERT_EQ(b.next_run_at, T0 + 4 * 3600 * 1000);
    tc_repo_schedule_clear(&a);
    tc_repo_schedule_clear(&b);

    /* Inside the grace period (60 s) it is just late, not a misfire. */
    char late[37];
    add(&f, "0 * * * *", "skip", "skip", T0, 5, late);
    st = tick(&f, T0 + 30000);
    ASSERT_EQ(st.enqueued, 1);
    ASSERT_EQ(st.skipped_misfire, 0);
    teardown(&f);
}

static json_t *job_json(const char *job_id, const char *schedule_id, const char *status)
{
    return json_pack("{s:s, s:s, s:s, s:{s:s}}", "id", job_id, "schedule_id", schedule_id,
                     "status", status, "error", "message", "upstream answered 500");
}

/* Runs one due time and reports its job finished with status. */
static void run_and_finish(fixture *f, const char *id, int64_t now, const char *status)
{
    ASSERT_EQ(tick(f, now).enqueued, 1);
    tc_repo_schedule s;
    load(f, id, &s);
    last_job_to(f, id, "running");
    last_job_to(f, id, status);
    json_t *job = job_json(s.last_job_id, id, status);
    tc_events_publish(f->events, &(tc_change){.user_id = USER, .kind = "job", .row = job});
    json_decref(job);
    tc_sched_drain(f->s);
    tc_repo_schedule_clear(&s);
}

TEST(sched_auto_pause_after_consecutive_failures)
{
    fixture f;
    setup(&f, false, 0);
    char id[37];
    add(&f, "* * * * * *", "skip", "run_once", T0, 2, id);
    run_and_finish(&f, id, T0, "failed");
    tc_repo_schedule s;
    load(&f, id, &s);
    ASSERT_EQ(s.consecutive_failures, 1);
    ASSERT(s.enabled);
    tc_repo_schedule_clear(&s);

    run_and_finish(&f, id, T0 + 1000, "succeeded"); /* a success resets the count */
    load(&f, id, &s);
    ASSERT_EQ(s.consecutive_failures, 0);
    tc_repo_schedule_clear(&s);

    run_and_finish(&f, id, T0 + 2000, "failed");
    run_and_finish(&f, id, T0 + 3000, "failed");
    load(&f, id, &s);
    ASSERT_EQ(s.consecutive_failures, 2);
    ASSERT(!s.enabled);
    ASSERT_EQ(s.next_run_at, 0);
    ASSERT_STR_CONTAINS(s.paused_reason, "paused after 2 consecutive failed runs");
    ASSERT_STR_CONTAINS(s.paused_reason, "upstream answered 500");
    /* the event sits on the failed run, and went to the stream */
    const tc_dbv p[] = {TC_DBV_STR(s.last_job_id)};
    ASSERT_EQ(scalar(f.db,
                     "SELECT COUNT(*) FROM pipeline_events WHERE job_id = $1 AND level = 'error' "
                     "AND message LIKE 'paused after 2%'",
                     p, 1),
              1);
    ASSERT_EQ(scalar(f.db, "SELECT COUNT(*) FROM stream_events WHERE kind = 'event'", NULL, 0), 1);
    tc_repo_schedule_clear(&s);
    ASSERT_EQ(tick(&f, T0 + 4000).due, 0); /* paused: never due */

    tc_sched_stats stats;
    tc_sched_stats_get(f.s, &stats);
    ASSERT_EQ(stats.auto_paused, 1);
    teardown(&f);
}

TEST(sched_run_that_cannot_start_counts_as_a_failure)
{
    fixture f;
    setup(&f, false, 0);
    char id[37];
    add(&f, "* * * * * *", "skip", "run_once", T0, 2, id);
    f.refuse = TC_NOT_FOUND; /* the tool was removed */
    tc_sched_tick_stats st = tick(&f, T0);
    ASSERT_EQ(st.failed_to_start, 1);
    ASSERT_EQ(st.enqueued, 0);
    tc_repo_schedule s;
    load(&f, id, &s);
    ASSERT_EQ(s.consecutive_failures, 1);
    ASSERT_EQ(s.next_run_at, T0 + 1000);
    tc_repo_schedule_clear(&s);
    /* announced (no job to hang it on: a streamed event only) */
    ASSERT_EQ(scalar(f.db, "SELECT COUNT(*) FROM stream_events WHERE kind = 'event'", NULL, 0), 1);

    st = tick(&f, T0 + 1000);
    load(&f, id, &s);
    ASSERT(!s.enabled);
    ASSERT_STR_CONTAINS(s.paused_reason, "no tool");
    tc_repo_schedule_clear(&s);

    /* A database fault rolls the batch back: nothing advances. */
    char other[37];
    add(&f, "* * * * * *", "skip", "run_once", T0, 2, other);
    f.refuse = TC_UNAVAILABLE;
    tc_err err;
    tc_err_clear(&err);
    ASSERT_STATUS(tc_sched_tick_now(f.s, T0 + 100, NULL, &err), TC_UNAVAILABLE);
    load(&f, other, &s);
    ASSERT_EQ(s.next_run_at, T0);
    ASSERT_EQ(s.consecutive_failures, 0);
    tc_repo_schedule_clear(&s);
    teardown(&f);
}

TEST(sched_many_due_go_in_batches)
{
    fixture f;
    setup(&f, false, 0);
    char id[37];
    for (int i = 0; i < 600; i++)
        add(&f, "0 * * * * *", "skip", "run_once", T0, 5, id);
    tc_sched_tick_stats st = tick(&f, T0 + 10);
    ASSERT_EQ(st.due, 600);
    ASSERT_EQ(st.enqueued, 600);
    ASSERT_EQ(st.batches, 3); /* 256 + 256 + 88 */
    ASSERT_EQ(scalar(f.db, "SELECT COUNT(*) FROM pipeline_jobs", NULL, 0), 600);
    const tc_dbv p[] = {TC_DBV_I64(T0 + 60000)};
    ASSERT_EQ(scalar(f.db, "SELECT COUNT(*) FROM scheduler_jobs WHERE next_run_at = $1", p, 1), 600);
    teardown(&f);
}

TEST(sched_broken_stored_schedule_pauses_itself)
{
    fixture f;
    setup(&f, false, 0);
    char id[37];
    add(&f, "* * * * * *", "skip", "run_once", T0, 5, id);
    const tc_dbv p[] = {TC_DBV_STR(id)};
    ASSERT_OK(exec_sql(f.db, "UPDATE scheduler_jobs SET timezone = 'Gone/Away' WHERE id = $1", p, 1));
    tick(&f, T0);
    tc_repo_schedule s;
    load(&f, id, &s);
    ASSERT(!s.enabled);
    ASSERT_STR_CONTAINS(s.paused_reason, "Gone/Away");
    tc_repo_schedule_clear(&s);
    ASSERT_EQ(jobs_of(&f, id), 0);
    teardown(&f);
}

/* The thread with the real clock: a schedule every second fires within a
 * second of each due time. */
TEST(sched_engine_thread_fires_on_time)
{
    fixture f;
    setup(&f, true, 100);
    char id[37];
    int64_t now = tc_now_ms();
    add(&f, "* * * * * *", "allow", "run_once", (now / 1000 + 1) * 1000, 5, id);
    tc_sched_wake(f.s);
    struct timespec ts = {2, 300 * 1000000L};
    nanosleep(&ts, NULL);
    int64_t n = jobs_of(&f, id);
    ASSERT(n >= 2 && n <= 3);
    const tc_dbv p[] = {TC_DBV_STR(id)};
    ASSERT(scalar(f.db, "SELECT MAX(queued_at - scheduled_for) FROM pipeline_jobs WHERE schedule_id = $1",
                  p, 1) < 1000);
    ASSERT(scalar(f.db, "SELECT MIN(queued_at - scheduled_for) FROM pipeline_jobs WHERE schedule_id = $1",
                  p, 1) >= 0);
    teardown(&f);
}

/* PostgreSQL only: a second instance holding the tick lock keeps this one
 * from ticking (it tries again next time). */
TEST(sched_pg_tick_lock)
{
    if (!tc_test_store_pg_url())
        return;
    fixture f;
    setup(&f, false, 0);
    char id[37];
    add(&f, "* * * * * *", "skip", "run_once", T0, 5, id);
    tc_db_conn *other = tc_db_acquire(f.db);
    tc_err err;
    tc_err_clear(&err);
    ASSERT_OK(tc_db_begin(other, &err));
    const tc_dbv p[] = {TC_DBV_I64(INT64_C(0x7463736368656431))};
    tc_db_rows *r = NULL;
    ASSERT_OK(tc_db_query(other, "SELECT pg_advisory_xact_lock($1)", p, 1, &r, &err));
    tc_db_rows_free(r);
    tc_sched_tick_stats st = tick(&f, T0);
    ASSERT(st.locked_out);
    ASSERT_EQ(st.enqueued, 0);
    tc_db_rollback(other);
    tc_db_release(other);
    st = tick(&f, T0);
    ASSERT(!st.locked_out);
    ASSERT_EQ(st.enqueued, 1);
    teardown(&f);
}
