/* Key ids in secret_keys, re-encryption in batches, the keyring watcher and
 * the `keys` command. Design in docs/security.md. */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config/config.h"
#include "crypto/keys.h"

#define MAX_PASSES 8
#define WATCH_INTERVAL_MS 5000
#define RESOLVE_MIN_GAP_NS 200000000LL /* at most 5 lookups a second from the resolver */

static const tc_secret_column secret_columns[] = {
    {"user_connections", "id", "secret", "secret_key_id", TC_AAD_CONNECTION_SECRET},
    {"oauth_transactions", "id", "code_verifier", "secret_key_id", TC_AAD_OAUTH_VERIFIER},
    {"oauth_clients", "id", "client_secret", "secret_key_id", TC_AAD_OAUTH_CLIENT_SECRET},
    {"webhooks", "id", "secret", "secret_key_id", TC_AAD_WEBHOOK_SECRET},
    {"webhooks", "id", "previous_secret", "previous_secret_key_id", TC_AAD_WEBHOOK_PREVIOUS_SECRET},
};
#define NCOLUMNS (sizeof(secret_columns) / sizeof(secret_columns[0]))

const tc_secret_column *tc_secret_columns(size_t *n)
{
    *n = NCOLUMNS;
    return secret_columns;
}

static bool parse_kid(const char *s, tc_kid *out)
{
    if (!s || !*s || strlen(s) > 10)
        return false;
    uint64_t v = 0;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9')
            return false;
        v = v * 10 + (uint64_t)(*p - '0');
    }
    if (v == 0 || v > UINT32_MAX)
        return false;
    *out = (tc_kid)v;
    return true;
}

/* ---- secret_keys ------------------------------------------------------------- */
static tc_status ensure_first_key(tc_db_conn *c, tc_err *err)
{
    tc_db_rows *rows;
    tc_status st = tc_db_query(c, "SELECT COUNT(*) FROM secret_keys", NULL, 0, &rows, err);
    if (st != TC_OK)
        return st;
    int64_t n = tc_db_rows_next(rows) ? tc_db_rows_int(rows, 0) : 0;
    tc_db_rows_free(rows);
    if (n > 0)
        return TC_OK;
    int64_t now = tc_now_ms();
    tc_dbv p[] = {TC_DBV_STR("1"), TC_DBV_I64(now)};
    return tc_db_exec(c, "INSERT INTO secret_keys (id, created_at, updated_at) VALUES ($1, $2, $2) "
                         "ON CONFLICT (id) DO NOTHING", p, 2, NULL, err);
}

/* Reads every key id; adds them to kr; returns the id that should be active. */
static tc_status read_keys(tc_db_conn *c, tc_keyring *kr, tc_kid *active, tc_kid *highest,
                           tc_err *err)
{
    tc_db_rows *rows;
    tc_status st = tc_db_query(c, "SELECT id, retired_at FROM secret_keys", NULL, 0, &rows, err);
    if (st != TC_OK)
        return st;
    tc_kid best_live = 0, best_any = 0;
    while (st == TC_OK && tc_db_rows_next(rows)) {
        tc_kid kid;
        const char *id = tc_db_rows_text(rows, 0);
        if (!parse_kid(id, &kid)) {
            tc_log(TC_LOG_WARN, "ignoring a malformed secret key id", "id", id ? id : "", NULL);
            continue;
        }
        st = tc_keyring_add(kr, kid, err);
        if (kid > best_any)
            best_any = kid;
        if (tc_db_rows_isnull(rows, 1) && kid > best_live)
            best_live = kid;
    }
    tc_db_rows_free(rows);
    *active = best_live ? best_live : best_any;
    if (highest)
        *highest = best_any;
    return st;
}

tc_status tc_keys_load(tc_db *db, tc_keyring *kr, bool create, tc_err *err)
{
    tc_db_conn *c = tc_db_acquire(db);
    tc_kid active = 0;
    tc_status st = create ? ensure_first_key(c, err) : TC_OK;
    if (st == TC_OK)
        st = read_keys(c, kr, &active, NULL, err);
    tc_db_release(c);
    if (st != TC_OK)
        return st;
    if (!active)
        return tc_failc(err, TC_INTERNAL, "secret_no_key", NULL,
                        "secret_keys holds no key id (run `toolconnect migrate` or `serve` first)");
    return tc_keyring_set_active(kr, active, err);
}

tc_status tc_keys_add(tc_db *db, tc_keyring *kr, tc_kid *kid, tc_err *err)
{
    tc_db_conn *c = tc_db_acquire(db);
    tc_kid active = 0, highest = 0;
    tc_status st = tc_db_begin(c, err);
    if (st != TC_OK)
        goto out;
    st = read_keys(c, kr, &active, &highest, err);
    if (st == TC_OK && highest == UINT32_MAX)
        st = tc_failf(err, TC_CONFLICT, "key_id", "no key id left");
    char id[16];
    snprintf(id, sizeof(id), "%" PRIu32, highest + 1);
    int64_t now = tc_now_ms();
    tc_dbv p[] = {TC_DBV_STR(id), TC_DBV_I64(now)};
    if (st == TC_OK)
        st = tc_db_exec(c, "INSERT INTO secret_keys (id, created_at, updated_at) VALUES ($1, $2, $2)",
                        p, 2, NULL, err);
    if (st == TC_CONFLICT)
        tc_failf(err, st, "key_id", "another rotation added key %s at the same time", id);
    if (st == TC_OK)
        st = tc_db_commit(c, err);
    else
        tc_db_rollback(c);
    if (st == TC_OK)
        st = tc_keyring_add(kr, highest + 1, err);
    if (st == TC_OK)
        st = tc_keyring_set_active(kr, highest + 1, err);
    if (st == TC_OK)
        *kid = highest + 1;
out:
    tc_db_release(c);
    return st;
}

/* ---- re-encryption ----------------------------------------------------------- */
typedef struct {
    char *id;
    unsigned char *ct;
    size_t len;
} batch_row;

typedef struct {
    tc_db_conn *c;
    tc_keyring *kr;
    const tc_secret_column *col;
    tc_kid active;
    char active_text[16];
    tc_keys_progress *progress;
} rewrap_ctx;

static void free_rows(batch_row *rows, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(rows[i].id);
        free(rows[i].ct);
    }
    free(rows);
}

/* Rows of col on another key than the active one, after cursor, in id order. */
static tc_status select_batch(rewrap_ctx *x, const char *cursor, size_t limit, batch_row **out,
                              size_t *n, tc_err *err)
{
    const tc_secret_column *col = x->col;
    char *sql = tc_asprintf("SELECT %s, %s FROM %s WHERE %s IS NOT NULL AND (%s IS NULL OR %s <> $1) "
                            "AND %s > $2 ORDER BY %s LIMIT $3",
                            col->id_col, col->ct_col, col->table, col->ct_col, col->kid_col,
                            col->kid_col, col->id_col, col->id_col);
    tc_dbv p[] = {TC_DBV_STR(x->active_text), TC_DBV_STR(cursor), TC_DBV_I64((int64_t)limit)};
    tc_db_rows *rows;
    tc_status st = tc_db_query(x->c, sql, p, 3, &rows, err);
    free(sql);
    *out = NULL;
    *n = 0;
    if (st != TC_OK)
        return st;
    batch_row *list = tc_calloc(limit, sizeof(*list));
    size_t k = 0;
    while (k < limit && tc_db_rows_next(rows)) {
        size_t len = 0;
        const void *blob = tc_db_rows_blob(rows, 1, &len);
        list[k].id = tc_strdup(tc_db_rows_text(rows, 0));
        list[k].ct = tc_malloc(len ? len : 1);
        if (len)
            memcpy(list[k].ct, blob, len);
        list[k].len = len;
        k++;
    }
    tc_db_rows_free(rows);
    *out = list;
    *n = k;
    return TC_OK;
}

static tc_status cas_update(rewrap_ctx *x, const batch_row *r, const unsigned char *ct, size_t len,
                            int64_t *affected, tc_err *err)
{
    const tc_secret_column *col = x->col;
    char *sql = tc_asprintf("UPDATE %s SET %s = $1, %s = $2 WHERE %s = $3 AND %s = $4", col->table,
                            col->ct_col, col->kid_col, col->id_col, col->ct_col);
    tc_dbv p[] = {TC_DBV_BLOBV(ct, len), TC_DBV_STR(x->active_text), TC_DBV_STR(r->id),
                  TC_DBV_BLOBV(r->ct, r->len)};
    tc_status st = tc_db_exec(x->c, sql, p, 4, affected, err);
    free(sql);
    return st;
}

static void row_failed(rewrap_ctx *x, const batch_row *r, const char *why)
{
    x->progress->failed++;
    tc_log(TC_LOG_WARN, "a secret could not be re-encrypted", "table", x->col->table, "column",
           x->col->ct_col, "id", r->id ? r->id : "", "reason", why, NULL);
}

static tc_status rewrap_row(rewrap_ctx *x, const batch_row *r, tc_err *err)
{
    tc_kid kid;
    char aad[TC_SECRET_AAD_MAX];
    if (!r->id || tc_secretbox_key_id(r->ct, r->len, &kid) != TC_OK) {
        row_failed(x, r, "secret_malformed");
        return TC_OK;
    }
    unsigned char *fresh = NULL, *pt = NULL;
    size_t freshlen = 0, ptlen = 0;
    int64_t affected = 0;
    tc_err rowerr;
    tc_status st;
    if (kid == x->active) { /* only the key id column is behind */
        st = cas_update(x, r, r->ct, r->len, &affected, err);
        x->progress->relabeled += affected;
        goto count;
    }
    if (tc_secret_aad(aad, x->col->purpose, r->id) != TC_OK ||
        tc_secretbox_open(x->kr, aad, r->ct, r->len, &pt, &ptlen, &rowerr) != TC_OK) {
        row_failed(x, r, tc_err_code(&rowerr));
        return TC_OK;
    }
    st = tc_secretbox_seal(x->kr, aad, pt, ptlen, &fresh, &freshlen, err);
    tc_secret_free(pt, ptlen);
    if (st == TC_OK)
        st = cas_update(x, r, fresh, freshlen, &affected, err);
    free(fresh);
    x->progress->rewrapped += affected;
count:
    if (st == TC_OK && affected == 0)
        x->progress->conflicts++;
    return st;
}

/* One transaction: up to limit rows after *cursor. *more when the batch was full. */
static tc_status run_batch(rewrap_ctx *x, char **cursor, size_t limit, bool *more, tc_err *err)
{
    batch_row *rows = NULL;
    size_t n = 0;
    *more = false;
    tc_status st = tc_db_begin(x->c, err);
    if (st != TC_OK)
        return st;
    st = select_batch(x, *cursor, limit, &rows, &n, err);
    for (size_t i = 0; st == TC_OK && i < n; i++)
        st = rewrap_row(x, &rows[i], err);
    if (st == TC_OK)
        st = tc_db_commit(x->c, err);
    else
        tc_db_rollback(x->c);
    if (st == TC_OK && n > 0) {
        free(*cursor);
        *cursor = tc_strdup(rows[n - 1].id ? rows[n - 1].id : "");
        *more = n == limit;
        x->progress->batches++;
    }
    free_rows(rows, n);
    return st;
}

static tc_status rewrap_column(rewrap_ctx *x, size_t limit, tc_err *err)
{
    char *cursor = tc_strdup("");
    bool more = true;
    tc_status st = TC_OK;
    while (st == TC_OK && more)
        st = run_batch(x, &cursor, limit, &more, err);
    free(cursor);
    return st;
}

tc_status tc_keys_reencrypt(tc_db *db, tc_keyring *kr, size_t batch, tc_keys_progress *progress,
                            tc_err *err)
{
    rewrap_ctx x = {.kr = kr, .active = tc_keyring_active(kr), .progress = progress};
    if (!x.active)
        return tc_failc(err, TC_INTERNAL, "secret_no_key", NULL, "the keyring has no active key");
    snprintf(x.active_text, sizeof(x.active_text), "%" PRIu32, x.active);
    size_t limit = batch ? batch : TC_KEYS_BATCH;
    tc_status st = TC_OK;
    x.c = tc_db_acquire(db);
    for (int pass = 0; st == TC_OK && pass < MAX_PASSES; pass++) {
        tc_keys_progress before = *progress;
        for (size_t i = 0; st == TC_OK && i < NCOLUMNS; i++) {
            x.col = &secret_columns[i];
            st = rewrap_column(&x, limit, err);
        }
        bool moved = progress->rewrapped != before.rewrapped || progress->relabeled != before.relabeled ||
                     progress->conflicts != before.conflicts;
        if (!moved)
            break;
        if (pass + 1 < MAX_PASSES) /* the next pass meets (and counts) the same broken rows */
            progress->failed = before.failed;
    }
    tc_db_release(x.c);
    return st;
}

/* ---- counting and retiring ----------------------------------------------------- */
tc_status tc_keys_count(tc_db *db, tc_keys_count_fn fn, void *ctx, tc_err *err)
{
    tc_db_conn *c = tc_db_acquire(db);
    tc_status st = TC_OK;
    for (size_t i = 0; st == TC_OK && i < NCOLUMNS; i++) {
        const tc_secret_column *col = &secret_columns[i];
        char *sql = tc_asprintf("SELECT %s, COUNT(*) FROM %s WHERE %s IS NOT NULL GROUP BY %s ORDER BY %s",
                                col->kid_col, col->table, col->ct_col, col->kid_col, col->kid_col);
        tc_db_rows *rows;
        st = tc_db_query(c, sql, NULL, 0, &rows, err);
        free(sql);
        if (st != TC_OK)
            break;
        while (tc_db_rows_next(rows)) {
            const char *kid = tc_db_rows_text(rows, 0);
            fn(ctx, col, kid ? kid : "", tc_db_rows_int(rows, 1));
        }
        tc_db_rows_free(rows);
    }
    tc_db_release(c);
    return st;
}

#define USED_MAX 64
typedef struct {
    char used[USED_MAX][16];
    size_t n;
    bool overflow;
} used_set;

static void note_used(void *ctx, const tc_secret_column *col, const char *kid, int64_t count)
{
    used_set *u = ctx;
    for (size_t i = 0; i < u->n; i++)
        if (!strcmp(u->used[i], kid))
            return;
    if (u->n == USED_MAX || strlen(kid) >= sizeof(u->used[0])) {
        u->overflow = true;
        return;
    }
    snprintf(u->used[u->n++], sizeof(u->used[0]), "%s", kid);
}

tc_status tc_keys_retire_unused(tc_db *db, tc_keyring *kr, int64_t *retired, tc_err *err)
{
    used_set u = {.n = 0};
    *retired = 0;
    tc_status st = tc_keys_count(db, note_used, &u, err);
    if (st != TC_OK || u.overflow)
        return st;
    char active[16];
    snprintf(active, sizeof(active), "%" PRIu32, tc_keyring_active(kr));
    tc_db_conn *c = tc_db_acquire(db);
    tc_db_rows *rows;
    st = tc_db_query(c, "SELECT id FROM secret_keys WHERE retired_at IS NULL", NULL, 0, &rows, err);
    char (*ids)[16] = tc_calloc(TC_KEYRING_MAX, sizeof(*ids));
    size_t n = 0;
    while (st == TC_OK && n < TC_KEYRING_MAX && tc_db_rows_next(rows)) {
        const char *id = tc_db_rows_text(rows, 0);
        if (id && strlen(id) < sizeof(ids[0]))
            snprintf(ids[n++], sizeof(ids[0]), "%s", id);
    }
    if (st == TC_OK)
        tc_db_rows_free(rows);
    for (size_t i = 0; st == TC_OK && i < n; i++) {
        bool in_use = !strcmp(ids[i], active);
        for (size_t j = 0; !in_use && j < u.n; j++)
            in_use = !strcmp(u.used[j], ids[i]);
        if (in_use)
            continue;
        int64_t affected = 0, now = tc_now_ms();
        tc_dbv p[] = {TC_DBV_I64(now), TC_DBV_STR(ids[i])};
        st = tc_db_exec(c, "UPDATE secret_keys SET retired_at = $1, updated_at = $1 "
                           "WHERE id = $2 AND retired_at IS NULL", p, 2, &affected, err);
        *retired += affected;
    }
    free(ids);
    tc_db_release(c);
    return st;
}

/* ---- watcher --------------------------------------------------------------------- */
struct tc_keys_watch {
    tc_keyring *kr;
    tc_db *db;
    int64_t interval_ms;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stop;
    int64_t last_resolve_ns;
};

static void *watch_loop(void *arg)
{
    tc_keys_watch *w = arg;
    pthread_mutex_lock(&w->mu);
    while (!w->stop) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_sec += w->interval_ms / 1000;
        ts.tv_nsec += (w->interval_ms % 1000) * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        int rc = 0;
        while (!w->stop && rc != ETIMEDOUT)
            rc = pthread_cond_timedwait(&w->cv, &w->mu, &ts);
        if (w->stop)
            break;
        pthread_mutex_unlock(&w->mu);
        tc_err err;
        if (tc_keys_load(w->db, w->kr, false, &err) != TC_OK)
            tc_log(TC_LOG_WARN, "reloading secret key ids failed", "error", err.message, NULL);
        pthread_mutex_lock(&w->mu);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

static bool watch_resolve(void *ctx, tc_keyring *kr, tc_kid kid)
{
    tc_keys_watch *w = ctx;
    pthread_mutex_lock(&w->mu);
    int64_t now = tc_mono_ns();
    bool allowed = now - w->last_resolve_ns >= RESOLVE_MIN_GAP_NS;
    if (allowed)
        w->last_resolve_ns = now;
    pthread_mutex_unlock(&w->mu);
    if (allowed && tc_keys_load(w->db, kr, false, NULL) != TC_OK)
        return false;
    return tc_keyring_has(kr, kid);
}

tc_status tc_keys_watch_start(tc_keyring *kr, const char *db_url, int64_t interval_ms,
                              tc_keys_watch **out, tc_err *err)
{
    *out = NULL;
    tc_keys_watch *w = tc_calloc(1, sizeof(*w));
    w->kr = kr;
    w->interval_ms = interval_ms > 0 ? interval_ms : WATCH_INTERVAL_MS;
    w->last_resolve_ns = tc_mono_ns() - RESOLVE_MIN_GAP_NS;
    tc_status st = tc_db_open(db_url, 1, &w->db, err);
    if (st != TC_OK) {
        free(w);
        return st;
    }
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&w->cv, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&w->mu, NULL);
    if (pthread_create(&w->thread, NULL, watch_loop, w) != 0) {
        tc_db_close(w->db);
        free(w);
        return tc_failf(err, TC_INTERNAL, NULL, "cannot start the key watcher thread");
    }
    tc_keyring_set_resolver(kr, watch_resolve, w);
    *out = w;
    return TC_OK;
}

void tc_keys_watch_stop(tc_keys_watch *w)
{
    if (!w)
        return;
    tc_keyring_set_resolver(w->kr, NULL, NULL);
    pthread_mutex_lock(&w->mu);
    w->stop = true;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->thread, NULL);
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
    tc_db_close(w->db);
    free(w);
}
