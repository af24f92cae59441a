/* bench_store: what a tool run costs the store, per backend.
 *
 *   bench_store                 SQLite file in a temp directory
 *   bench_store postgres://...  PostgreSQL (a fresh schema, dropped after)
 *
 * "job lifecycle" is the persistence of one run as the executor does it:
 *   tx 1: insert the job (queued) + its first event
 *   tx 2: mark it running + event
 *   tx 3: mark it succeeded with the result + event + action log
 * measured with 1 and 4 threads on a pool of 4; "point read" is a user-scoped
 * primary-key lookup of a job. Prints ops/s and p50/p99 per operation. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/db.h"

#define RUN_NS 2000000000LL
#define MAX_SAMPLES 2000000

typedef struct {
    tc_db *db;
    int (*op)(tc_db *db, int thread, long i);
    int thread;
    long count;
    int64_t *lat;      /* ns per operation */
    int64_t deadline;
} worker;

static char user_id[37];

static void die(const char *what, const tc_err *err)
{
    fprintf(stderr, "bench_store: %s: %s\n", what, err ? err->message : "");
    exit(1);
}

static void must(tc_status s, const char *what, const tc_err *err)
{
    if (s != TC_OK)
        die(what, err);
}

static int job_lifecycle(tc_db *db, int thread, long i)
{
    char id[37];
    tc_uuid(id);
    tc_err err;
    tc_err_clear(&err);
    tc_db_conn *c = tc_db_acquire(db);
    int64_t now = tc_now_ms();
    tc_dbv job[] = {TC_DBV_STR(id), TC_DBV_STR(user_id), TC_DBV_STR("{\"text\":\"hello\"}"), TC_DBV_I64(now)};
    tc_dbv ev[] = {TC_DBV_STR(id), TC_DBV_STR(user_id), TC_DBV_STR("queued"), TC_DBV_I64(now)};
    must(tc_db_begin(c, &err), "begin", &err);
    must(tc_db_exec(c, "INSERT INTO pipeline_jobs (id, user_id, connector, tool, arguments, queued_at,"
                       " created_at, updated_at) VALUES ($1, $2, 'everything', 'echo', $3, $4, $4, $4)",
                    job, 4, NULL, &err), "insert job", &err);
    must(tc_db_exec(c, "INSERT INTO pipeline_events (job_id, user_id, level, message, created_at)"
                       " VALUES ($1, $2, 'info', $3, $4)", ev, 4, NULL, &err), "event", &err);
    must(tc_db_commit(c, &err), "commit", &err);

    tc_dbv run[] = {TC_DBV_STR(id), TC_DBV_STR(user_id), TC_DBV_I64(now)};
    ev[2] = TC_DBV_STR("running");
    must(tc_db_begin(c, &err), "begin", &err);
    must(tc_db_exec(c, "UPDATE pipeline_jobs SET status = 'running', started_at = $3, updated_at = $3"
                       " WHERE id = $1 AND user_id = $2", run, 3, NULL, &err), "running", &err);
    must(tc_db_exec(c, "INSERT INTO pipeline_events (job_id, user_id, level, message, created_at)"
                       " VALUES ($1, $2, 'info', $3, $4)", ev, 4, NULL, &err), "event", &err);
    must(tc_db_commit(c, &err), "commit", &err);

    char log_id[37];
    tc_uuid(log_id);
    tc_dbv done[] = {TC_DBV_STR(id), TC_DBV_STR(user_id), TC_DBV_STR("{\"content\":[{\"type\":\"text\",\"text\":\"hello\"}]}"),
                     TC_DBV_I64(now)};
    tc_dbv log[] = {TC_DBV_STR(log_id), TC_DBV_STR(user_id), TC_DBV_STR(id), TC_DBV_I64(now)};
    ev[2] = TC_DBV_STR("succeeded");
    must(tc_db_begin(c, &err), "begin", &err);
    must(tc_db_exec(c, "UPDATE pipeline_jobs SET status = 'succeeded', result = $3, finished_at = $4,"
                       " updated_at = $4 WHERE id = $1 AND user_id = $2", done, 4, NULL, &err), "done", &err);
    must(tc_db_exec(c, "INSERT INTO pipeline_events (job_id, user_id, level, message, created_at)"
                       " VALUES ($1, $2, 'info', $3, $4)", ev, 4, NULL, &err), "event", &err);
    must(tc_db_exec(c, "INSERT INTO action_logs (id, user_id, job_id, connector, tool, status, latency_ms,"
                       " created_at) VALUES ($1, $2, $3, 'everything', 'echo', 'succeeded', 1, $4)",
                    log, 4, NULL, &err), "action log", &err);
    must(tc_db_commit(c, &err), "commit", &err);
    tc_db_release(c);
    return 0;
}

static char (*read_ids)[37];
static long nread_ids;

static int point_read(tc_db *db, int thread, long i)
{
    tc_err err;
    tc_err_clear(&err);
    tc_db_conn *c = tc_db_acquire(db);
    tc_dbv p[] = {TC_DBV_STR(read_ids[(i * 7919 + thread) % nread_ids]), TC_DBV_STR(user_id)};
    tc_db_rows *r = NULL;
    must(tc_db_query(c, "SELECT id, status, arguments, result, queued_at FROM pipeline_jobs"
                        " WHERE id = $1 AND user_id = $2", p, 2, &r, &err), "read", &err);
    if (!tc_db_rows_next(r))
        die("read found no row", NULL);
    tc_db_rows_free(r);
    tc_db_release(c);
    return 0;
}

static void *run_worker(void *p)
{
    worker *w = p;
    while (tc_mono_ns() < w->deadline && w->count < MAX_SAMPLES) {
        int64_t t0 = tc_mono_ns();
        w->op(w->db, w->thread, w->count);
        w->lat[w->count++] = tc_mono_ns() - t0;
    }
    return NULL;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static void measure(tc_db *db, const char *name, int (*op)(tc_db *, int, long), int threads)
{
    worker w[8];
    pthread_t t[8];
    int64_t start = tc_mono_ns();
    for (int i = 0; i < threads; i++) {
        w[i] = (worker){.db = db, .op = op, .thread = i, .lat = malloc(sizeof(int64_t) * MAX_SAMPLES),
                        .deadline = start + RUN_NS};
        pthread_create(&t[i], NULL, run_worker, &w[i]);
    }
    long total = 0;
    for (int i = 0; i < threads; i++) {
        pthread_join(t[i], NULL);
        total += w[i].count;
    }
    double secs = (double)(tc_mono_ns() - start) / 1e9;
    int64_t *all = malloc(sizeof(int64_t) * (size_t)total);
    long k = 0;
    for (int i = 0; i < threads; i++) {
        memcpy(all + k, w[i].lat, sizeof(int64_t) * (size_t)w[i].count);
        k += w[i].count;
        free(w[i].lat);
    }
    qsort(all, (size_t)total, sizeof(int64_t), cmp_i64);
    printf("| %s | %d | %.0f | %.1f | %.1f |\n", name, threads, total / secs,
           all[total / 2] / 1e3, all[(long)(total * 0.99)] / 1e3);
    free(all);
}

static void setup_reads(tc_db *db)
{
    tc_err err;
    tc_err_clear(&err);
    tc_db_conn *c = tc_db_acquire(db);
    tc_dbv p[] = {TC_DBV_STR(user_id)};
    tc_db_rows *r = NULL;
    must(tc_db_query(c, "SELECT id FROM pipeline_jobs WHERE user_id = $1 LIMIT 10000", p, 1, &r, &err),
         "ids", &err);
    read_ids = malloc(sizeof(*read_ids) * 10000);
    while (tc_db_rows_next(r))
        snprintf(read_ids[nread_ids++], 37, "%s", tc_db_rows_text(r, 0));
    tc_db_rows_free(r);
    tc_db_release(c);
}

int main(int argc, char **argv)
{
    tc_log_setup(TC_LOG_WARN, TC_LOG_TEXT, 2);
    char dir[] = "/tmp/tc-bench-store-XXXXXX";
    char schema[40] = "";
    char *url;
    const char *pg = argc > 1 ? argv[1] : NULL;
    tc_db *db = NULL;
    tc_err err;
    tc_err_clear(&err);
    if (pg) {
        tc_uuid(user_id);
        snprintf(schema, sizeof(schema), "bench_%.8s", user_id);
        must(tc_db_open(pg, 1, &db, &err), "open", &err);
        tc_db_conn *c = tc_db_acquire(db);
        char *sql = tc_asprintf("CREATE SCHEMA %s", schema);
        must(tc_db_exec(c, sql, NULL, 0, NULL, &err), "schema", &err);
        tc_free(sql);
        tc_db_release(c);
        tc_db_close(db);
        url = tc_asprintf("%s%soptions=-csearch_path%%3D%s", pg, strchr(pg, '?') ? "&" : "?", schema);
    } else {
        if (!mkdtemp(dir))
            die("mkdtemp", NULL);
        url = tc_asprintf("sqlite:%s/bench.db", dir);
    }
    must(tc_db_open(url, 4, &db, &err), "open", &err);
    must(tc_db_migrate(db, &err), "migrate", &err);
    tc_uuid(user_id);
    tc_db_conn *c = tc_db_acquire(db);
    tc_dbv u[] = {TC_DBV_STR(user_id)};
    must(tc_db_exec(c, "INSERT INTO users (id, email, password_hash) VALUES ($1, $1, 'x')", u, 1, NULL, &err),
         "user", &err);
    tc_db_release(c);

    printf("backend: %s\n\n| operation | threads | ops/s | p50 µs | p99 µs |\n|---|---|---|---|---|\n",
           pg ? "postgres" : "sqlite");
    measure(db, "job lifecycle (3 tx, 7 statements)", job_lifecycle, 1);
    measure(db, "job lifecycle (3 tx, 7 statements)", job_lifecycle, 4);
    setup_reads(db);
    measure(db, "point read by id + user_id", point_read, 1);
    measure(db, "point read by id + user_id", point_read, 4);
    tc_db_stats st;
    tc_db_stats_get(db, &st);
    printf("\npool %d, waits %llu, statements %llu, errors %llu\n", st.pool_size,
           (unsigned long long)st.waits, (unsigned long long)st.queries, (unsigned long long)st.errors);
    tc_db_close(db);
    if (pg) {
        must(tc_db_open(pg, 1, &db, &err), "open", &err);
        c = tc_db_acquire(db);
        char *sql = tc_asprintf("DROP SCHEMA %s CASCADE", schema);
        tc_db_exec(c, sql, NULL, 0, NULL, &err);
        tc_free(sql);
        tc_db_release(c);
        tc_db_close(db);
    } else {
        char *cmd = tc_asprintf("rm -rf %s", dir);
        if (system(cmd) != 0)
            fprintf(stderr, "could not remove %s\n", dir);
        tc_free(cmd);
    }
    tc_free(url);
    return 0;
}
