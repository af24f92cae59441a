/* Group commit (see db.h): a leader runs every queued writer's work in one
 * transaction. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "store/db.h"

struct tc_db_group {
    tc_db *db;
    pthread_mutex_t mu;
    tc_db_group_req *head, **tail; /* queued, not yet taken by a leader */
    bool busy;                     /* a leader is running a batch */
    _Atomic uint64_t batches, pieces;
};

tc_db_group *tc_db_group_new(tc_db *db)
{
    tc_db_group *g = tc_calloc(1, sizeof(*g));
    g->db = db;
    pthread_mutex_init(&g->mu, NULL);
    g->tail = &g->head;
    return g;
}

void tc_db_group_free(tc_db_group *g)
{
    if (!g)
        return;
    pthread_mutex_destroy(&g->mu);
    free(g);
}

/* One piece of work in a transaction of its own. */
static void run_alone(tc_db_group *g, tc_db_group_req *r)
{
    tc_err_clear(&r->err);
    tc_db_conn *c = tc_db_acquire(g->db);
    tc_status st = tc_db_begin(c, &r->err);
    if (st == TC_OK) {
        st = r->fn(r->ctx, c, &r->err);
        if (st == TC_OK)
            st = tc_db_commit(c, &r->err);
        else
            tc_db_rollback(c);
    }
    tc_db_release(c);
    r->st = st;
}

/* Every piece in one transaction; on any failure, each alone. */
static void run_batch(tc_db_group *g, tc_db_group_req *list)
{
    tc_err err;
    tc_err_clear(&err);
    tc_db_conn *c = tc_db_acquire(g->db);
    tc_status st = tc_db_begin(c, &err);
    tc_db_group_req *r = list;
    for (; st == TC_OK && r; r = r->next) {
        tc_err_clear(&r->err);
        st = r->fn(r->ctx, c, &r->err);
    }
    if (st == TC_OK)
        st = tc_db_commit(c, &err);
    else
        tc_db_rollback(c);
    tc_db_release(c);
    if (st == TC_OK) {
        uint64_t n = 0;
        for (r = list; r; r = r->next, n++)
            r->st = TC_OK;
        atomic_fetch_add(&g->batches, 1);
        atomic_fetch_add(&g->pieces, n);
        return;
    }
    for (r = list; r; r = r->next)
        run_alone(g, r);
}

/* Each waiter sleeps on its own condition variable: a finished batch wakes
 * exactly its pieces, and the first one queued meanwhile to lead the next
 * batch (one shared broadcast woke every waiter after every batch). */
tc_status tc_db_group_run(tc_db_group *g, tc_db_group_req *r)
{
    r->done = false;
    r->next = NULL;
    pthread_cond_init(&r->cv, NULL);
    pthread_mutex_lock(&g->mu);
    *g->tail = r;
    g->tail = &r->next;
    while (!r->done) {
        if (g->busy) {
            pthread_cond_wait(&r->cv, &g->mu);
            continue;
        }
        g->busy = true;
        tc_db_group_req *list = g->head;
        g->head = NULL;
        g->tail = &g->head;
        pthread_mutex_unlock(&g->mu);
        if (list->next) {
            run_batch(g, list);
        } else {
            run_alone(g, list);
            atomic_fetch_add(&g->batches, 1);
            atomic_fetch_add(&g->pieces, 1);
        }
        pthread_mutex_lock(&g->mu);
        for (tc_db_group_req *q = list, *next; q; q = next) {
            next = q->next; /* q lives on its waiter's stack: read it first */
            q->done = true;
            if (q != r)
                pthread_cond_signal(&q->cv); /* it can't leave before we unlock */
        }
        g->busy = false;
        if (g->head)
            pthread_cond_signal(&g->head->cv); /* lead the next batch */
    }
    pthread_mutex_unlock(&g->mu);
    pthread_cond_destroy(&r->cv);
    return r->st;
}

void tc_db_group_stats(tc_db_group *g, uint64_t *batches, uint64_t *pieces)
{
    *batches = atomic_load(&g->batches);
    *pieces = atomic_load(&g->pieces);
}
