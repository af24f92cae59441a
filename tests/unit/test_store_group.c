/* Group commit (tc_db_group_*): concurrent writers share transactions, each
 * keeps its own write, and a failing piece never loses another's. Runs on
 * SQLite and PostgreSQL (test_store_fixture.h). */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "runner.h"
#include "test_store_fixture.h"

#define GTHREADS 8
#define GPER 40

typedef struct piece {
    int n;          /* settings key number */
    bool fail;      /* refuse after writing (rolls the batch back) */
    int runs;       /* how many times fn ran (re-runs after a failed batch) */
} piece;

static tc_status put_setting(void *ctx, tc_db_conn *c, tc_err *err)
{
    piece *p = ctx;
    p->runs++;
    char key[32];
    snprintf(key, sizeof(key), "group.%d", p->n);
    const tc_dbv v[] = {TC_DBV_STR(key), TC_DBV_STR("\"x\"")};
    tc_status st = tc_db_exec(c, "INSERT INTO settings (key, value) VALUES ($1, $2)", v, 2, NULL, err);
    if (st == TC_OK && p->fail)
        return tc_failf(err, TC_VALIDATION, "value", "refused on purpose");
    return st;
}

typedef struct garg {
    tc_db_group *g;
    int base;
    int failures;
} garg;

static void *writer(void *arg)
{
    garg *a = arg;
    for (int i = 0; i < GPER; i++) {
        piece p = {.n = a->base + i};
        tc_db_group_req r = {.fn = put_setting, .ctx = &p};
        if (tc_db_group_run(a->g, &r) != TC_OK)
            a->failures++;
    }
    return NULL;
}

static int64_t count_settings(tc_db *db, const char *like)
{
    tc_db_conn *c = tc_db_acquire(db);
    tc_db_rows *r = NULL;
    const tc_dbv v[] = {TC_DBV_STR(like)};
    int64_t n = -1;
    if (tc_db_query(c, "SELECT COUNT(*) FROM settings WHERE key LIKE $1", v, 1, &r, NULL) == TC_OK &&
        tc_db_rows_next(r))
        n = tc_db_rows_int(r, 0);
    tc_db_rows_free(r);
    tc_db_release(c);
    return n;
}

TEST(group_commit_keeps_every_concurrent_write_and_batches_them)
{
    tc_db *db = tc_test_store_open(4);
    tc_db_group *g = tc_db_group_new(db);
    pthread_t t[GTHREADS];
    garg a[GTHREADS];
    for (int i = 0; i < GTHREADS; i++) {
        a[i] = (garg){.g = g, .base = i * 1000};
        ASSERT_EQ(pthread_create(&t[i], NULL, writer, &a[i]), 0);
    }
    for (int i = 0; i < GTHREADS; i++) {
        pthread_join(t[i], NULL);
        ASSERT_EQ(a[i].failures, 0);
    }
    ASSERT_EQ(count_settings(db, "group.%"), GTHREADS * GPER);
    uint64_t batches = 0, pieces = 0;
    tc_db_group_stats(g, &batches, &pieces);
    ASSERT_EQ(pieces, (uint64_t)(GTHREADS * GPER));
    ASSERT(batches <= pieces);
    tc_db_group_free(g);
    tc_test_store_close(db);
}

/* A failing piece in a batch: the batch rolls back, every piece runs again
 * alone; the good ones commit once, the bad one reports its own error. */
typedef struct fail_arg {
    tc_db_group *g;
    piece p;
    tc_status st;
    char field[128];
} fail_arg;

static void *one(void *arg)
{
    fail_arg *a = arg;
    tc_db_group_req r = {.fn = put_setting, .ctx = &a->p};
    a->st = tc_db_group_run(a->g, &r);
    snprintf(a->field, sizeof(a->field), "%s", r.err.field);
    return NULL;
}

TEST(group_commit_failing_piece_loses_no_other_write)
{
    tc_db *db = tc_test_store_open(4);
    tc_db_group *g = tc_db_group_new(db);
    enum { N = 6 };
    for (int round = 0; round < 5; round++) {
        fail_arg a[N];
        pthread_t t[N];
        for (int i = 0; i < N; i++) {
            a[i] = (fail_arg){.g = g, .p = {.n = 100 * round + i, .fail = i == 2}};
            ASSERT_EQ(pthread_create(&t[i], NULL, one, &a[i]), 0);
        }
        for (int i = 0; i < N; i++)
            pthread_join(t[i], NULL);
        for (int i = 0; i < N; i++) {
            if (i == 2) {
                ASSERT_STATUS(a[i].st, TC_VALIDATION);
                ASSERT_STR_EQ(a[i].field, "value");
            } else {
                ASSERT_OK(a[i].st);
            }
        }
    }
    /* 5 good per round, the refused one never committed */
    ASSERT_EQ(count_settings(db, "group.%"), 25);
    ASSERT_EQ(count_settings(db, "group.2"), 0);
    tc_db_group_free(g);
    tc_test_store_close(db);
}
