/* webhooks: the service struct, shared by endpoints.c, outbox.c and
 * delivery.c. Lock order: w->lock only guards the notify hook copy; the
 * two worker threads share only their queues, under their own mutex
 * (delivery.c). */
#ifndef TC_WEBHOOKS_INT_H
#define TC_WEBHOOKS_INT_H

#include <pthread.h>
#include <stdatomic.h>

#include "crypto/crypto.h"
#include "store/db.h"
#include "webhooks/webhooks.h"

struct tc_webhooks {
    tc_db *db;
    tc_keyring *keyring;
    tc_webhooks_config cfg;
    char instance[40];          /* "wh-" + 8 random hex: the claim token of this instance */

    pthread_mutex_t lock;
    tc_webhooks_notify_fn notify;
    void *notify_ctx;

    /* worker */
    bool started;
    atomic_bool stop;
    atomic_bool kicked;
    void *multi;                /* CURLM *, created by tc_webhooks_start */
    struct queues *queues;      /* delivery.c: sender and dispatcher threads */
#define TC_WH_EASY_POOL 256
    void *easy_pool[TC_WH_EASY_POOL]; /* CURL * kept for reuse (dispatcher only) */
    int n_easy;

    atomic_uint_fast64_t n_attempts, n_succeeded, n_failed, n_retried, n_disabled, n_inflight;
    atomic_uint_fast64_t n_rounds; /* dispatcher transactions (record + claim) */
    atomic_uint_fast64_t dispatch_cpu_ns, send_cpu_ns; /* thread CPU time (bench, tuning) */
    atomic_uint_fast64_t n_pruned;
};

/* Inserts the deliveries of one event on c (caller's transaction). When
 * only_id is set, that endpoint alone gets it whatever it subscribes to
 * (the test event); *delivery_id (may be NULL, 37 bytes) gets the last
 * delivery's id. *count the number inserted. */
tc_status tc_webhooks__enqueue(tc_webhooks *w, tc_db_conn *c, const char *user_id,
                               const char *type, const json_t *data, const char *only_id,
                               char *delivery_id, size_t *count, tc_err *err);

/* Opens the current (and, during the overlap, the previous) secret of a
 * claimed delivery's endpoint into secrets[] (caller wipes with
 * tc_secret_free). Returns how many. */
struct tc_repo_claimed;
size_t tc_webhooks__open_secrets(tc_webhooks *w, const struct tc_repo_claimed *d, int64_t now,
                                 unsigned char *secrets[2], size_t lens[2], tc_err *err);

tc_status tc_webhooks__worker_start(tc_webhooks *w, tc_err *err);
void tc_webhooks__worker_stop(tc_webhooks *w);

#endif
