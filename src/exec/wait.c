/* Waiters on jobs: a hash of job id -> waiters for the "job ended" side, a
 * min-heap of deadlines for the wait limit, and one timer thread. Each
 * waiter fires exactly once, outside the lock: with the finished job row,
 * or NULL when its deadline passes (or at shutdown). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "exec/exec_int.h"

#define NBUCKETS 1024

typedef struct waiter {
    struct waiter *next; /* bucket chain */
    size_t heap_idx;
    int64_t deadline_ns;
    tc_exec_wait w;
    char job_id[37];
} waiter;

struct tc_waiters {
    pthread_mutex_t mu;
    pthread_cond_t cv;   /* CLOCK_MONOTONIC */
    pthread_t timer;
    bool stop;
    waiter *buckets[NBUCKETS];
    waiter **heap;
    size_t nheap, capheap;
};

static size_t bucket_of(const char *id)
{
    uint64_t h = 1469598103934665603ull;
    for (; *id; id++)
        h = (h ^ (unsigned char)*id) * 1099511628211ull;
    return (size_t)(h % NBUCKETS);
}

/* ---- heap (lock held) ---- */
static void heap_swap(tc_waiters *t, size_t i, size_t j)
{
    waiter *a = t->heap[i];
    t->heap[i] = t->heap[j];
    t->heap[j] = a;
    t->heap[i]->heap_idx = i;
    t->heap[j]->heap_idx = j;
}

static void heap_up(tc_waiters *t, size_t i)
{
    while (i > 0 && t->heap[(i - 1) / 2]->deadline_ns > t->heap[i]->deadline_ns) {
        heap_swap(t, i, (i - 1) / 2);
        i = (i - 1) / 2;
    }
}

static void heap_down(tc_waiters *t, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < t->nheap && t->heap[l]->deadline_ns < t->heap[m]->deadline_ns)
            m = l;
        if (r < t->nheap && t->heap[r]->deadline_ns < t->heap[m]->deadline_ns)
            m = r;
        if (m == i)
            return;
        heap_swap(t, i, m);
        i = m;
    }
}

static void heap_remove(tc_waiters *t, waiter *w)
{
    size_t i = w->heap_idx;
    t->nheap--;
    if (i != t->nheap) {
        t->heap[i] = t->heap[t->nheap];
        t->heap[i]->heap_idx = i;
        heap_down(t, i);
        heap_up(t, i);
    }
}

static void unlink_bucket(tc_waiters *t, waiter *w)
{
    for (waiter **pp = &t->buckets[bucket_of(w->job_id)]; *pp; pp = &(*pp)->next) {
        if (*pp == w) {
            *pp = w->next;
            return;
        }
    }
}

static void fire(waiter *w, const json_t *row)
{
    w->w.fn(w->w.ctx, w->job_id, row);
    free(w);
}

static void *timer_main(void *arg)
{
    tc_waiters *t = arg;
    pthread_mutex_lock(&t->mu);
    while (!t->stop) {
        if (t->nheap == 0) {
            pthread_cond_wait(&t->cv, &t->mu);
            continue;
        }
        waiter *top = t->heap[0];
        int64_t now = tc_mono_ns();
        if (top->deadline_ns <= now) {
            heap_remove(t, top);
            unlink_bucket(t, top);
            pthread_mutex_unlock(&t->mu);
            fire(top, NULL);
            pthread_mutex_lock(&t->mu);
            continue;
        }
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        int64_t until = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec + (top->deadline_ns - now);
        ts.tv_sec = until / 1000000000;
        ts.tv_nsec = until % 1000000000;
        pthread_cond_timedwait(&t->cv, &t->mu, &ts);
    }
    pthread_mutex_unlock(&t->mu);
    return NULL;
}

tc_waiters *tc_waiters_new(void)
{
    tc_waiters *t = tc_calloc(1, sizeof(*t));
    pthread_mutex_init(&t->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&t->cv, &ca);
    pthread_condattr_destroy(&ca);
    pthread_create(&t->timer, NULL, timer_main, t);
    return t;
}

void tc_waiters_free(tc_waiters *t)
{
    if (!t)
        return;
    pthread_mutex_lock(&t->mu);
    t->stop = true;
    pthread_cond_signal(&t->cv);
    pthread_mutex_unlock(&t->mu);
    pthread_join(t->timer, NULL);
    while (t->nheap > 0) {
        waiter *w = t->heap[0];
        heap_remove(t, w);
        unlink_bucket(t, w);
        fire(w, NULL);
    }
    free(t->heap);
    pthread_cond_destroy(&t->cv);
    pthread_mutex_destroy(&t->mu);
    free(t);
}

void tc_waiters_add(tc_waiters *t, const char *job_id, const tc_exec_wait *wait)
{
    waiter *w = tc_calloc(1, sizeof(*w));
    snprintf(w->job_id, sizeof(w->job_id), "%s", job_id);
    w->w = *wait;
    w->deadline_ns = tc_mono_ns() + (wait->wait_ms > 0 ? wait->wait_ms : 0) * 1000000;
    pthread_mutex_lock(&t->mu);
    if (t->nheap == t->capheap) {
        t->capheap = t->capheap ? t->capheap * 2 : 64;
        t->heap = tc_realloc(t->heap, t->capheap * sizeof(*t->heap));
    }
    w->heap_idx = t->nheap;
    t->heap[t->nheap++] = w;
    heap_up(t, w->heap_idx);
    size_t b = bucket_of(job_id);
    w->next = t->buckets[b];
    t->buckets[b] = w;
    if (t->heap[0] == w)
        pthread_cond_signal(&t->cv);
    pthread_mutex_unlock(&t->mu);
}

/* Unlinks every waiter of job_id into a private list (lock held). */
static waiter *take(tc_waiters *t, const char *job_id)
{
    waiter *list = NULL;
    waiter **pp = &t->buckets[bucket_of(job_id)];
    while (*pp) {
        waiter *w = *pp;
        if (strcmp(w->job_id, job_id)) {
            pp = &w->next;
            continue;
        }
        *pp = w->next;
        heap_remove(t, w);
        w->next = list;
        list = w;
    }
    return list;
}

void tc_waiters_drop(tc_waiters *t, const char *job_id)
{
    pthread_mutex_lock(&t->mu);
    waiter *list = take(t, job_id);
    pthread_mutex_unlock(&t->mu);
    for (waiter *n; list; list = n) {
        n = list->next;
        free(list);
    }
}

void tc_waiters_done(tc_waiters *t, const char *job_id, const json_t *row)
{
    pthread_mutex_lock(&t->mu);
    waiter *list = take(t, job_id);
    pthread_mutex_unlock(&t->mu);
    for (waiter *n; list; list = n) {
        n = list->next;
        fire(list, row);
    }
}

int tc_waiters_count(tc_waiters *t)
{
    pthread_mutex_lock(&t->mu);
    int n = (int)t->nheap;
    pthread_mutex_unlock(&t->mu);
    return n;
}
