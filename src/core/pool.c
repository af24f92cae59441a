/* A fixed pool of worker threads: mutex + condition variable, an intrusive
 * FIFO of tasks, and a shutdown flag. Lock order: only pool->mu exists. */
#include <pthread.h>
#include <stdlib.h>

#include "core/core.h"

typedef struct task {
    struct task *next;
    void (*fn)(void *);
    void *arg;
} task;

struct tc_pool {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    task *head, *tail;
    size_t queued, max_queued;
    bool stopping;
    int nthreads;
    pthread_t *threads;
};

static void *worker(void *arg)
{
    tc_pool *p = arg;
    for (;;) {
        pthread_mutex_lock(&p->mu);
        while (!p->head && !p->stopping)
            pthread_cond_wait(&p->cv, &p->mu);
        task *t = p->head;
        if (!t) { /* stopping and drained */
            pthread_mutex_unlock(&p->mu);
            return NULL;
        }
        p->head = t->next;
        if (!p->head)
            p->tail = NULL;
        p->queued--;
        pthread_mutex_unlock(&p->mu);
        t->fn(t->arg);
        free(t);
    }
}

tc_pool *tc_pool_new(int nthreads, size_t max_queued)
{
    tc_pool *p = tc_calloc(1, sizeof(*p));
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    p->max_queued = max_queued ? max_queued : 10000;
    p->nthreads = nthreads > 0 ? nthreads : 1;
    p->threads = tc_calloc((size_t)p->nthreads, sizeof(pthread_t));
    for (int i = 0; i < p->nthreads; i++)
        pthread_create(&p->threads[i], NULL, worker, p);
    return p;
}

tc_status tc_pool_submit(tc_pool *p, void (*fn)(void *), void *arg)
{
    task *t = tc_malloc(sizeof(*t));
    t->fn = fn;
    t->arg = arg;
    t->next = NULL;
    pthread_mutex_lock(&p->mu);
    if (p->stopping || p->queued >= p->max_queued) {
        tc_status st = p->stopping ? TC_UNAVAILABLE : TC_RATE_LIMITED;
        pthread_mutex_unlock(&p->mu);
        free(t);
        return st;
    }
    if (p->tail)
        p->tail->next = t;
    else
        p->head = t;
    p->tail = t;
    p->queued++;
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
    return TC_OK;
}

void tc_pool_free(tc_pool *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    p->stopping = true;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < p->nthreads; i++)
        pthread_join(p->threads[i], NULL);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    free(p->threads);
    free(p);
}
