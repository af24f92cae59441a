/* stream_events replay and pruning, stream_tickets (see realtime.h). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crypto/crypto.h"
#include "events/events.h"
#include "realtime/realtime.h"
#include "store/db.h"

#define TICKET_PREFIX "tcst_"
#define TICKET_BYTES 32

static void ticket_hash(const char *ticket, char hex[2 * TC_SHA256_LEN + 1])
{
    unsigned char d[TC_SHA256_LEN];
    tc_sha256(ticket, strlen(ticket), d);
    tc_hex_encode(d, sizeof(d), hex);
}

tc_status tc_stream_ticket_issue(tc_db *db, const char *user_id, int64_t ttl_s, char **out,
                                 tc_err *err)
{
    unsigned char raw[TICKET_BYTES];
    tc_random_bytes(raw, sizeof(raw));
    char *b64 = tc_base64url_encode(raw, sizeof(raw));
    size_t n = strlen(TICKET_PREFIX) + strlen(b64) + 1;
    char *ticket = tc_malloc(n);
    snprintf(ticket, n, "%s%s", TICKET_PREFIX, b64);
    free(b64);
    char hex[2 * TC_SHA256_LEN + 1];
    ticket_hash(ticket, hex);
    int64_t now = tc_now_ms();
    const tc_dbv p[] = {TC_DBV_STR(hex), TC_DBV_STR(user_id), TC_DBV_I64(now + ttl_s * 1000),
                        TC_DBV_I64(now)};
    tc_db_conn *c = tc_db_acquire(db);
    tc_status st = tc_db_exec(c,
                              "INSERT INTO stream_tickets (ticket_hash, user_id, expires_at, created_at) "
                              "VALUES ($1, $2, $3, $4)",
                              p, 4, NULL, err);
    tc_db_release(c);
    if (st != TC_OK) {
        free(ticket);
        return st;
    }
    *out = ticket;
    return TC_OK;
}

tc_status tc_stream_ticket_redeem(tc_db *db, const char *ticket, char user_id[37], tc_err *err)
{
    size_t n = strlen(ticket);
    if (n > TC_STREAM_TICKET_MAX || strncmp(ticket, TICKET_PREFIX, strlen(TICKET_PREFIX)))
        return tc_failf(err, TC_UNAUTHORIZED, "ticket", "the ticket is malformed");
    char hex[2 * TC_SHA256_LEN + 1];
    ticket_hash(ticket, hex);
    const tc_dbv p[] = {TC_DBV_I64(tc_now_ms()), TC_DBV_STR(hex)};
    tc_db_rows *r = NULL;
    tc_db_conn *c = tc_db_acquire(db);
    /* One statement: of two requests racing with one ticket, one wins. */
    tc_status st = tc_db_query(c,
                               "UPDATE stream_tickets SET used_at = $1 WHERE ticket_hash = $2 "
                               "AND used_at IS NULL AND expires_at > $1 RETURNING user_id",
                               p, 2, &r, err);
    if (st == TC_OK && tc_db_rows_next(r))
        snprintf(user_id, 37, "%s", tc_db_rows_text(r, 0));
    else if (st == TC_OK)
        st = tc_failf(err, TC_UNAUTHORIZED, "ticket",
                      "the ticket is unknown, expired or used already: get a new one from "
                      "POST /api/stream/ticket");
    tc_db_rows_free(r);
    tc_db_release(c);
    return st;
}

/* One integer from a query without parameters but the given ones. */
static tc_status query_int(tc_db_conn *c, const char *sql, const tc_dbv *p, size_t n, int64_t *out,
                           bool *isnull, tc_err *err)
{
    tc_db_rows *r = NULL;
    tc_status st = tc_db_query(c, sql, p, n, &r, err);
    *out = 0;
    if (isnull)
        *isnull = true;
    if (st == TC_OK && tc_db_rows_next(r) && !tc_db_rows_isnull(r, 0)) {
        *out = tc_db_rows_int(r, 0);
        if (isnull)
            *isnull = false;
    }
    tc_db_rows_free(r);
    return st;
}

tc_status tc_stream_max_id(tc_db *db, int64_t *out, tc_err *err)
{
    tc_db_conn *c = tc_db_acquire(db);
    int64_t row = 0;
    tc_status st = query_int(c, "SELECT MAX(id) FROM stream_events", NULL, 0, &row, NULL, err);
    tc_db_release(c);
    /* the last SSE id the newest row can hold (events.h) */
    *out = row > 0 ? row * TC_STREAM_SLOTS + TC_STREAM_SLOTS - 1 : 0;
    return st;
}

/* Adds the messages of one stream row whose SSE ids are after `after`. */
static void replay_row(tc_hub_replay *out, int64_t row, const char *kind, const char *payload,
                       int64_t after)
{
    int64_t base = row * TC_STREAM_SLOTS;
    if (strcmp(kind, TC_STREAM_MULTI)) {
        if (base > after)
            tc_hub_replay_add(out, base, kind, payload);
        return;
    }
    json_t *items = json_loads(payload, 0, NULL);
    size_t i;
    json_t *item;
    json_array_foreach(items, i, item) {
        const char *k = json_string_value(json_array_get(item, 0));
        if (!k || i >= TC_STREAM_SLOTS || base + (int64_t)i <= after)
            continue;
        char *data = json_dumps(json_array_get(item, 1), JSON_COMPACT);
        if (data)
            tc_hub_replay_add(out, base + (int64_t)i, k, data);
        free(data);
    }
    json_decref(items);
}

bool tc_stream_replay_db(void *ctx, const char *user_id, int64_t after, size_t max, tc_hub_replay *out)
{
    tc_db *db = ctx;
    tc_err err;
    tc_err_clear(&err);
    int64_t min_id = 0;
    bool empty = true;
    tc_db_conn *c = tc_db_acquire(db);
    tc_status st = query_int(c, "SELECT MIN(id) FROM stream_events", NULL, 0, &min_id, &empty, &err);
    /* Row ids are global and consecutive: the client's row (after /
     * TC_STREAM_SLOTS) gone means rows after its point may be gone too
     * (pruned), so it must refetch. after 0 (nothing seen) needs the first
     * row ever. */
    int64_t after_row = after / TC_STREAM_SLOTS;
    bool ok = st == TC_OK && !empty && min_id <= (after > 0 ? after_row : 1);
    tc_db_rows *r = NULL;
    if (ok) {
        const tc_dbv p[] = {TC_DBV_STR(user_id), TC_DBV_I64(after_row), TC_DBV_I64((int64_t)max + 1)};
        st = tc_db_query(c,
                         "SELECT id, kind, payload FROM stream_events WHERE user_id = $1 AND id >= $2 "
                         "ORDER BY id LIMIT $3",
                         p, 3, &r, &err);
        ok = st == TC_OK;
    }
    while (ok && tc_db_rows_next(r))
        replay_row(out, tc_db_rows_int(r, 0), tc_db_rows_text(r, 1), tc_db_rows_text(r, 2), after);
    tc_db_rows_free(r);
    tc_db_release(c);
    if (st != TC_OK)
        tc_log(TC_LOG_WARN, "stream replay query failed", "error", err.message, NULL);
    return ok;
}

tc_status tc_stream_prune(tc_db *db, int64_t now_ms, int64_t retain_ms, int64_t retain_max,
                          int64_t *deleted, tc_err *err)
{
    int64_t a = 0, b = 0;
    tc_db_conn *c = tc_db_acquire(db);
    const tc_dbv p1[] = {TC_DBV_I64(now_ms - retain_ms)};
    tc_status st = tc_db_exec(c, "DELETE FROM stream_events WHERE created_at < $1", p1, 1, &a, err);
    const tc_dbv p2[] = {TC_DBV_I64(retain_max)};
    if (st == TC_OK)
        st = tc_db_exec(c,
                        "DELETE FROM stream_events WHERE id <= (SELECT id FROM stream_events "
                        "ORDER BY id DESC LIMIT 1 OFFSET $1)",
                        p2, 1, &b, err);
    const tc_dbv p3[] = {TC_DBV_I64(now_ms - 60000)};
    if (st == TC_OK)
        st = tc_db_exec(c, "DELETE FROM stream_tickets WHERE expires_at < $1", p3, 1, NULL, err);
    tc_db_release(c);
    if (deleted)
        *deleted = a + b;
    return st;
}

/* ---- pruner thread ------------------------------------------------------------ */

struct tc_stream_pruner {
    tc_db *db;
    int64_t interval_ms, retain_ms, retain_max;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stop;
};

static void prune_once(tc_stream_pruner *p)
{
    tc_err err;
    tc_err_clear(&err);
    int64_t n = 0;
    if (tc_stream_prune(p->db, tc_now_ms(), p->retain_ms, p->retain_max, &n, &err) != TC_OK) {
        tc_log(TC_LOG_WARN, "stream prune failed", "error", err.message, NULL);
    } else if (n > 0) {
        char num[24];
        snprintf(num, sizeof(num), "%lld", (long long)n);
        tc_log(TC_LOG_DEBUG, "stream events pruned", "deleted", num, NULL);
    }
}

static void *pruner_main(void *arg)
{
    tc_stream_pruner *p = arg;
    pthread_mutex_lock(&p->mu);
    while (!p->stop) {
        pthread_mutex_unlock(&p->mu);
        prune_once(p);
        pthread_mutex_lock(&p->mu);
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        int64_t ns = ts.tv_nsec + (p->interval_ms % 1000) * 1000000;
        ts.tv_sec += (time_t)(p->interval_ms / 1000 + ns / 1000000000);
        ts.tv_nsec = (long)(ns % 1000000000);
        while (!p->stop && pthread_cond_timedwait(&p->cv, &p->mu, &ts) == 0)
            ;
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

tc_stream_pruner *tc_stream_pruner_start(tc_db *db, int64_t interval_ms, int64_t retain_ms,
                                         int64_t retain_max)
{
    tc_stream_pruner *p = tc_calloc(1, sizeof(*p));
    p->db = db;
    p->interval_ms = interval_ms > 0 ? interval_ms : 60000;
    p->retain_ms = retain_ms;
    p->retain_max = retain_max;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    if (pthread_create(&p->thread, NULL, pruner_main, p) != 0) {
        pthread_cond_destroy(&p->cv);
        pthread_mutex_destroy(&p->mu);
        free(p);
        return NULL;
    }
    return p;
}

void tc_stream_pruner_stop(tc_stream_pruner *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    p->stop = true;
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
    pthread_join(p->thread, NULL);
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->mu);
    free(p);
}
