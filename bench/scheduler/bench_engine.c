/* bench_engine: the whole scheduler tick against a database, with 10,000
 * active schedules firing every minute, enqueueing through the real exec
 * batch enqueue (tc_exec_enqueue_batch_in_tx: connector + tool lookup and
 * schema per distinct tool, multi-row inserts of the jobs, "queued" events
 * and stream rows), as api/schedules.c plugs it in.
 *
 *   bench_engine [count] [minutes] [db-url]      count 10000, minutes 3,
 *                                                SQLite file in /tmp
 *   bench_engine 10000 1 sqlite:/tmp/x.db real   the engine thread on the
 *                                                real clock (waits for the
 *                                                next minute boundaries)
 *   bench_engine 10000 3 sqlite:/tmp/x.db plain  enqueue = the job row only
 *   bench_engine 10000 3 sqlite:/tmp/x.db spread schedule i fires at second
 *                                                i % 60 (167 due per second)
 *   bench_engine 10000 3 sqlite:/tmp/x.db single one exec enqueue per run
 *                                                (tc_exec_enqueue_in_tx, each
 *                                                in a savepoint) instead of
 *                                                the batch enqueue
 *
 * BENCH_BATCH=n sets the schedules per transaction (default 256).
 *
 * Virtual mode ticks at each minute directly (no waiting): the tick cost
 * is the time of tc_sched_tick_now with every schedule due; the lateness
 * of a run is its job's queued_at minus the start of the tick (the engine
 * thread wakes at the due time itself, ~1 ms late; real mode measures that
 * too: queued_at minus scheduled_for). The job workers are left idle so
 * only the scheduler's work is measured; schedules use overlap "allow" so
 * every minute fires all of them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "connections/connections.h"
#include "events/events.h"
#include "exec/exec.h"
#include "scheduler/scheduler.h"
#include "store/repo_jobs.h"
#include "store/repo_schedules.h"

static char user_id[37], connector_id[37];
static tc_events *bench_events;
static bool spread; /* "spread": schedule i fires at second i % 60 of every minute */

static void must(tc_status s, const char *what, const tc_err *err)
{
    if (s == TC_OK)
        return;
    fprintf(stderr, "bench_engine: %s: %s\n", what, err ? err->message : tc_strerror(s));
    exit(1);
}

static void sql(tc_db_conn *c, const char *q, const tc_dbv *p, size_t n)
{
    tc_err err;
    tc_err_clear(&err);
    must(tc_db_exec(c, q, p, n, NULL, &err), q, &err);
}

static void seed(tc_db *db, size_t count, int64_t first_due)
{
    tc_err err;
    tc_err_clear(&err);
    tc_db_conn *c = tc_db_acquire(db);
    char tool_id[37];
    tc_uuid(user_id);
    tc_uuid(connector_id);
    tc_uuid(tool_id);
    const tc_dbv pu[] = {TC_DBV_STR(user_id), TC_DBV_STR("bench@example.com"), TC_DBV_STR("x")};
    sql(c, "INSERT INTO users (id, email, password_hash) VALUES ($1, $2, $3)", pu, 3);
    const tc_dbv pc[] = {TC_DBV_STR(connector_id), TC_DBV_STR("bench"), TC_DBV_STR("Bench"),
                         TC_DBV_STR("http://127.0.0.1:9"), TC_DBV_STR("{}")};
    sql(c, "INSERT INTO connectors (id, slug, name, base_url, auth_type, definition) "
           "VALUES ($1, $2, $3, $4, 'none', $5)", pc, 5);
    const tc_dbv pt[] = {TC_DBV_STR(tool_id), TC_DBV_STR(connector_id), TC_DBV_STR("ping"),
                         TC_DBV_STR("{\"type\":\"object\",\"properties\":{\"n\":{\"type\":"
                                    "\"integer\",\"minimum\":0}},\"additionalProperties\":false}"),
                         TC_DBV_STR("{\"method\":\"GET\",\"path\":\"/ping\"}")};
    sql(c, "INSERT INTO connector_tools (id, connector_id, name, input_schema, source, request) "
           "VALUES ($1, $2, $3, $4, 'rest', $5)", pt, 5);
    must(tc_db_begin(c, &err), "begin", &err);
    for (size_t i = 0; i < count; i++) {
        tc_repo_schedule s;
        memset(&s, 0, sizeof(s));
        tc_uuid(s.id);
        memcpy(s.user_id, user_id, 37);
        snprintf(s.name, sizeof(s.name), "bench %zu", i);
        if (spread)
            snprintf(s.cron, sizeof(s.cron), "%zu * * * * *", i % 60);
        else
            snprintf(s.cron, sizeof(s.cron), "* * * * *");
        snprintf(s.timezone, sizeof(s.timezone), "UTC");
        memcpy(s.connector_id, connector_id, 37);
        snprintf(s.connector, sizeof(s.connector), "bench");
        snprintf(s.tool, sizeof(s.tool), "ping");
        snprintf(s.overlap, sizeof(s.overlap), "allow");
        snprintf(s.misfire, sizeof(s.misfire), "run_once");
        s.arguments = json_pack("{s:i}", "n", (int)i);
        s.enabled = true;
        s.next_run_at = first_due + (spread ? (int64_t)(i % 60) * 1000 : 0);
        must(tc_repo_schedule_insert(c, &s, tc_now_ms(), NULL, &err), "insert schedule", &err);
        tc_repo_schedule_clear(&s);
    }
    must(tc_db_commit(c, &err), "commit", &err);
    tc_db_release(c);
}

static tc_status enqueue(void *ctx, tc_db_conn *c, const tc_sched_run *r, char job_id[37],
                         tc_err *err)
{
    tc_exec_scheduled s = {.user_id = r->user_id,
                           .connector = r->connector,
                           .tool = r->tool,
                           .connection_id = r->connection_id,
                           .arguments = r->arguments,
                           .schedule_id = r->schedule_id,
                           .scheduled_for = r->scheduled_for};
    return tc_exec_enqueue_in_tx(ctx, c, &s, job_id, err);
}

/* The default: the whole batch through exec's batch enqueue, as
 * api/schedules.c plugs it in. */
static tc_status enqueue_batch(void *ctx, tc_db_conn *c, const tc_sched_run *runs, size_t n,
                               tc_sched_enqueued *out, tc_err *err)
{
    tc_exec_scheduled *v = calloc(n ? n : 1, sizeof(*v));
    tc_exec_scheduled_out *res = calloc(n ? n : 1, sizeof(*res));
    for (size_t i = 0; i < n; i++)
        v[i] = (tc_exec_scheduled){.user_id = runs[i].user_id,
                                   .connector = runs[i].connector,
                                   .tool = runs[i].tool,
                                   .connection_id = runs[i].connection_id,
                                   .arguments = runs[i].arguments,
                                   .schedule_id = runs[i].schedule_id,
                                   .scheduled_for = runs[i].scheduled_for};
    tc_status st = tc_exec_enqueue_batch_in_tx(ctx, bench_events, c, v, n, 0, res, err);
    for (size_t i = 0; st == TC_OK && i < n; i++) {
        out[i].st = res[i].st;
        memcpy(out[i].job_id, res[i].job_id, 37);
        out[i].err = res[i].err;
    }
    free(v);
    free(res);
    return st;
}

/* "plain" mode: only the job row (what the engine itself needs), to tell
 * the scheduler's own cost from exec's enqueue work. */
static tc_status enqueue_plain(void *ctx, tc_db_conn *c, const tc_sched_run *r, char job_id[37],
                               tc_err *err)
{
    (void)ctx;
    tc_uuid(job_id);
    char *args = json_dumps(r->arguments, JSON_COMPACT);
    tc_repo_job_new n = {.id = job_id,
                         .user_id = r->user_id,
                         .connector_id = connector_id,
                         .connector = r->connector,
                         .tool = r->tool,
                         .arguments = args,
                         .schedule_id = r->schedule_id,
                         .scheduled_for = r->scheduled_for};
    tc_status st = tc_repo_job_insert(c, &n, tc_now_ms(), NULL, err);
    free(args);
    return st;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Lateness of the runs due at `due` (ms): queued_at - base. */
static size_t lateness(tc_db *db, int64_t due, int64_t base, int64_t *out, size_t max)
{
    tc_err err;
    tc_err_clear(&err);
    tc_db_conn *c = tc_db_acquire(db);
    tc_db_rows *r = NULL;
    const tc_dbv p[] = {TC_DBV_I64(due)};
    must(tc_db_query(c, "SELECT queued_at FROM pipeline_jobs WHERE scheduled_for = $1", p, 1, &r,
                     &err),
         "lateness", &err);
    size_t n = 0;
    while (n < max && tc_db_rows_next(r))
        out[n++] = tc_db_rows_int(r, 0) - base;
    tc_db_rows_free(r);
    tc_db_release(c);
    return n;
}

static void report_late(const char *what, const int64_t *v, size_t n)
{
    if (!n)
        return (void)printf("%s: no runs\n", what);
    printf("%s: runs %zu  lateness p50 %lld ms  p99 %lld ms  max %lld ms\n", what, n,
           (long long)v[n / 2], (long long)v[(n * 99) / 100], (long long)v[n - 1]);
}

/* Ticks at each due second of minute m (one tick per minute, or sixty when
 * spread); lateness of every run relative to the start of its tick. */
/* CPU time of this thread (the tick runs here in virtual mode): unlike the
 * wall time it does not grow when neighbours on the machine take the CPU. */
static int64_t thread_cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void virtual_minute(tc_sched *s, tc_db *db, size_t count, int m, int64_t t0, int64_t *late)
{
    size_t nlate = 0, due_total = 0, batches = 0;
    double busy_ms = 0, worst_ms = 0, cpu_ms = 0;
    for (int sec = 0; sec < (spread ? 60 : 1); sec++) {
        int64_t due = t0 + m * 60000 + sec * 1000;
        tc_sched_tick_stats st;
        tc_err err;
        tc_err_clear(&err);
        int64_t wall = tc_now_ms(), ns = tc_mono_ns(), cpu = thread_cpu_ns();
        must(tc_sched_tick_now(s, due, &st, &err), "tick", &err);
        double ms = (double)(tc_mono_ns() - ns) / 1e6;
        cpu_ms += (double)(thread_cpu_ns() - cpu) / 1e6;
        busy_ms += ms;
        worst_ms = ms > worst_ms ? ms : worst_ms;
        due_total += st.due;
        batches += st.batches;
        nlate += lateness(db, due, wall, late + nlate, count - nlate);
    }
    qsort(late, nlate, sizeof(*late), cmp_i64);
    printf("minute %d: %zu due, %zu batches, tick time %.1f ms in all (longest tick %.1f ms), "
           "%.1f us per schedule\n",
           m + 1, due_total, batches, busy_ms, worst_ms, busy_ms * 1000 / (double)(due_total ? due_total : 1));
    printf("minute %d: tick CPU time %.1f ms (%.1f us per schedule; wall / CPU %.2f)\n", m + 1,
           cpu_ms, cpu_ms * 1000 / (double)(due_total ? due_total : 1),
           cpu_ms > 0 ? busy_ms / cpu_ms : 0);
    char what[64];
    snprintf(what, sizeof(what), "minute %d", m + 1);
    report_late(what, late, nlate);
}

static void virtual_minutes(tc_sched *s, tc_db *db, size_t count, int minutes, int64_t t0)
{
    int64_t *late = calloc(count, sizeof(*late));
    for (int m = 0; m < minutes; m++) {
        virtual_minute(s, db, count, m, t0, late);
        tc_sched_tick_stats st;
        tc_err err;
        tc_err_clear(&err);
        int64_t ns = tc_mono_ns();
        must(tc_sched_tick_now(s, t0 + m * 60000 + 59500, &st, &err), "idle tick", &err);
        printf("minute %d: idle tick (nothing due) %.2f ms\n", m + 1,
               (double)(tc_mono_ns() - ns) / 1e6);
    }
    free(late);
}

/* The engine thread on the real clock: wait for `minutes` minute
 * boundaries after the seed; lateness = queued_at - scheduled_for. */
static void real_minutes(tc_db *db, size_t count, int minutes, int64_t first_due)
{
    int64_t *late = calloc(count, sizeof(*late));
    for (int m = 0; m < minutes; m++) {
        int64_t due = first_due + m * 60000;
        while (tc_now_ms() < due + 15000)
            sleep(1);
        char what[64];
        snprintf(what, sizeof(what), "real minute %d", m + 1);
        size_t n = lateness(db, due, due, late, count);
        qsort(late, n, sizeof(*late), cmp_i64);
        report_late(what, late, n);
    }
    free(late);
}

int main(int argc, char **argv)
{
    size_t count = argc > 1 ? (size_t)strtoul(argv[1], NULL, 10) : 10000;
    int minutes = argc > 2 ? atoi(argv[2]) : 3;
    char path[256];
    snprintf(path, sizeof(path), "sqlite:/tmp/bench_engine_%d.db", (int)getpid());
    const char *url = argc > 3 ? argv[3] : path;
    bool real = argc > 4 && !strcmp(argv[4], "real");
    bool plain = argc > 4 && !strcmp(argv[4], "plain");
    spread = argc > 4 && !strcmp(argv[4], "spread");
    bool single = argc > 4 && !strcmp(argv[4], "single");
    tc_err err;
    tc_err_clear(&err);
    tc_db *db = NULL;
    must(tc_db_open(url, 4, &db, &err), "open", &err);
    must(tc_db_migrate(db, &err), "migrate", &err);
    int64_t now = tc_now_ms();
    int64_t first_due = real ? (now / 60000 + 1) * 60000 : (now / 60000 - 100) * 60000;
    int64_t ns = tc_mono_ns();
    seed(db, count, first_due);
    printf("seeded %zu schedules in %.1f s (%s)\n", count, (double)(tc_mono_ns() - ns) / 1e9,
           tc_db_kind_of(db) == TC_DB_POSTGRES ? "postgres" : "sqlite");

    tc_events *events = tc_events_new();
    bench_events = events;
    tc_connections cx = {.db = db};
    tc_exec_options xo = {.db = db, .events = events, .connections = &cx, .workers = 1,
                          .poll_ms = 3600 * 1000};
    tc_exec *x = NULL;
    must(tc_exec_new(&xo, &x, &err), "exec", &err);
    tc_sched_options so = {.db = db, .events = events, .enqueue = plain ? enqueue_plain : enqueue,
                           .enqueue_batch = plain || single ? NULL : enqueue_batch,
                           .exec_ctx = x,
                           .batch = getenv("BENCH_BATCH") ? atoi(getenv("BENCH_BATCH")) : 0,
                           .engine = real};
    tc_sched *s = NULL;
    must(tc_sched_new(&so, &s, &err), "scheduler", &err);
    if (real)
        real_minutes(db, count, minutes, first_due);
    else
        virtual_minutes(s, db, count, minutes, first_due);
    tc_sched_stats st;
    tc_sched_stats_get(s, &st);
    printf("engine: ticks %llu, enqueued %llu, last busy tick %.1f ms\n",
           (unsigned long long)st.ticks, (unsigned long long)st.enqueued, st.last_tick_us / 1e3);
    tc_sched_free(s);
    tc_exec_free(x, 0);
    tc_events_free(events);
    tc_db_close(db);
    if (!strncmp(url, "sqlite:/tmp/bench_engine_", 25)) {
        unlink(url + 7);
        char side[300];
        snprintf(side, sizeof(side), "%s-wal", url + 7);
        unlink(side);
        snprintf(side, sizeof(side), "%s-shm", url + 7);
        unlink(side);
    }
    return 0;
}
