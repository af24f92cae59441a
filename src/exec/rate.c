/* Exact sliding-window rate limits: a log of the admitted calls' times per
 * key (a ring of `limit` slots), all under one mutex, so N concurrent calls
 * against a limit of L admit exactly min(N, L). One process only: several
 * instances would share counters in rate_limit_windows (docs/exec.md). */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "exec/exec_int.h"

#define WINDOW_MS 60000
#define NBUCKETS 4096
#define SWEEP_EVERY 4096

typedef struct rate_entry {
    struct rate_entry *next;
    int64_t *ts;     /* ring of admitted times */
    int64_t cap;
    int64_t head;    /* oldest */
    int64_t count;
    int64_t last;
    char key[];
} rate_entry;

struct tc_rate_table {
    pthread_mutex_t mu;
    rate_entry *buckets[NBUCKETS];
    uint64_t ops;
};

static uint64_t hash(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

tc_rate_table *tc_rate_table_new(void)
{
    tc_rate_table *t = tc_calloc(1, sizeof(*t));
    pthread_mutex_init(&t->mu, NULL);
    return t;
}

static void entry_free(rate_entry *e)
{
    free(e->ts);
    free(e);
}

void tc_rate_table_free(tc_rate_table *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < NBUCKETS; i++) {
        for (rate_entry *e = t->buckets[i], *n; e; e = n) {
            n = e->next;
            entry_free(e);
        }
    }
    pthread_mutex_destroy(&t->mu);
    free(t);
}

static void expire(rate_entry *e, int64_t now)
{
    while (e->count > 0 && e->ts[e->head] <= now - WINDOW_MS) {
        e->head = (e->head + 1) % e->cap;
        e->count--;
    }
}

/* Drops entries idle for a whole window (bounded memory under many keys). */
static void sweep(tc_rate_table *t, int64_t now)
{
    for (size_t i = 0; i < NBUCKETS; i++) {
        rate_entry **pp = &t->buckets[i];
        while (*pp) {
            rate_entry *e = *pp;
            if (e->last <= now - WINDOW_MS) {
                *pp = e->next;
                entry_free(e);
            } else {
                pp = &e->next;
            }
        }
    }
}

static rate_entry *lookup(tc_rate_table *t, const char *key, int64_t limit)
{
    rate_entry **b = &t->buckets[hash(key) % NBUCKETS];
    for (rate_entry *e = *b; e; e = e->next)
        if (!strcmp(e->key, key) && e->cap == limit)
            return e;
    size_t kl = strlen(key);
    rate_entry *e = tc_calloc(1, sizeof(*e) + kl + 1);
    memcpy(e->key, key, kl + 1);
    e->cap = limit;
    e->ts = tc_calloc((size_t)limit, sizeof(int64_t));
    e->next = *b;
    *b = e;
    return e;
}

static int64_t ceil_s(int64_t ms)
{
    return ms <= 0 ? 0 : (ms + 999) / 1000;
}

/* Seconds until the oldest admitted call leaves the window. */
static int64_t reset_after(const rate_entry *e, int64_t now)
{
    return e->count ? ceil_s(e->ts[e->head] + WINDOW_MS - now) : 0;
}

static void push(rate_entry *e, int64_t now)
{
    e->ts[(e->head + e->count) % e->cap] = now;
    e->count++;
    e->last = now;
}

static void describe(const rate_entry *e, const char *scope, int64_t now, tc_exec_rate *info)
{
    info->limit = e->cap;
    info->remaining = e->cap - e->count;
    info->reset_s = reset_after(e, now);
    info->scope = scope;
}

tc_status tc_rate_admit2(tc_rate_table *t, const char *k1, int64_t lim1, const char *k2,
                         int64_t lim2, int64_t now, tc_exec_rate *info)
{
    memset(info, 0, sizeof(*info));
    pthread_mutex_lock(&t->mu);
    if (++t->ops % SWEEP_EVERY == 0)
        sweep(t, now);
    rate_entry *a = k1 && lim1 > 0 ? lookup(t, k1, lim1) : NULL;
    rate_entry *b = k2 && lim2 > 0 ? lookup(t, k2, lim2) : NULL;
    if (a)
        expire(a, now);
    if (b)
        expire(b, now);
    rate_entry *full = a && a->count >= a->cap ? a : b && b->count >= b->cap ? b : NULL;
    tc_status st = TC_OK;
    if (full) {
        describe(full, full == a ? "user" : "connector", now, info);
        info->retry_after_s = reset_after(full, now) > 0 ? reset_after(full, now) : 1;
        st = TC_RATE_LIMITED;
    } else {
        if (a)
            push(a, now);
        if (b)
            push(b, now);
        /* Report the window closest to its limit. */
        rate_entry *bind = a && (!b || a->cap - a->count <= b->cap - b->count) ? a : b;
        if (bind)
            describe(bind, bind == a ? "user" : "connector", now, info);
    }
    pthread_mutex_unlock(&t->mu);
    return st;
}
