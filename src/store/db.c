/* store: the pool, thin wrappers over the driver table, stats, migrations.
 *
 * Pool: pool_size connections opened at start, a free list, one mutex and a
 * condition variable. tc_db_acquire waits for a free slot; it never opens
 * connections on demand, so a running server never fails to get one. */
#include <stdio.h>
#include <string.h>

#include "store/db_int.h"

#define POOL_MAX 256

static void stat_add(uint64_t *counter)
{
    __atomic_fetch_add(counter, 1, __ATOMIC_RELAXED);
}

/* Conflicts are normal answers (an e-mail already taken), not faults. */
static tc_status count(tc_db *db, tc_status s)
{
    stat_add(&db->queries);
    if (s != TC_OK && s != TC_CONFLICT)
        stat_add(&db->errors);
    return s;
}

static const tc_db_driver *driver_for(const char *url)
{
    if (!strncmp(url, "sqlite:", 7))
        return &tc_db__sqlite_driver;
    if (!strncmp(url, "postgres://", 11) || !strncmp(url, "postgresql://", 13))
        return &tc_db__pg_driver;
    return NULL;
}

static void pool_destroy(tc_db *db, int opened)
{
    for (int i = 0; i < opened; i++) {
        db->drv->disconnect(&db->conns[i]);
        tc_free(db->conns[i].priv);
    }
    if (db->drv->teardown)
        db->drv->teardown(db);
    pthread_cond_destroy(&db->freed);
    pthread_mutex_destroy(&db->lock);
    tc_free(db->conns);
    tc_free(db->priv);
    tc_free(db);
}

static tc_status pool_connect(tc_db *db, int *opened, tc_err *err)
{
    for (int i = 0; i < db->pool_size; i++) {
        tc_db_conn *c = &db->conns[i];
        c->db = db;
        c->index = i;
        c->next_free = i + 1 < db->pool_size ? i + 1 : -1;
        c->priv = tc_calloc(1, db->drv->conn_size);
        tc_status s = db->drv->connect(c, err);
        if (s != TC_OK) {
            tc_free(c->priv);
            return s;
        }
        *opened = i + 1;
    }
    db->free_head = 0;
    return TC_OK;
}

tc_status tc_db_open(const char *url, int pool_size, tc_db **out, tc_err *err)
{
    *out = NULL;
    if (!url || !*url)
        return tc_failf(err, TC_BAD_REQUEST, "database_url", "database URL is empty");
    const tc_db_driver *drv = driver_for(url);
    if (!drv)
        return tc_failf(err, TC_BAD_REQUEST, "database_url",
                        "database URL must start with sqlite: or postgres://");
    if (pool_size <= 0)
        pool_size = 8;
    if (pool_size > POOL_MAX)
        pool_size = POOL_MAX;

    tc_db *db = tc_calloc(1, sizeof(*db));
    db->drv = drv;
    db->priv = tc_calloc(1, drv->db_size);
    pthread_mutex_init(&db->lock, NULL);
    pthread_cond_init(&db->freed, NULL);
    db->free_head = -1;
    int opened = 0;
    tc_status s = drv->setup(db, url, &pool_size, err);
    if (s != TC_OK) {
        db->pool_size = 0;
        pool_destroy(db, 0);
        return s;
    }
    db->pool_size = pool_size;
    db->conns = tc_calloc((size_t)pool_size, sizeof(tc_db_conn));
    s = pool_connect(db, &opened, err);
    if (s != TC_OK) {
        pool_destroy(db, opened);
        return s;
    }
    *out = db;
    return TC_OK;
}

void tc_db_close(tc_db *db)
{
    if (!db)
        return;
    pthread_mutex_lock(&db->lock);
    if (db->in_use)
        tc_log(TC_LOG_WARN, "database closed with connections still in use", NULL);
    pthread_mutex_unlock(&db->lock);
    pool_destroy(db, db->pool_size);
}

tc_db_kind tc_db_kind_of(const tc_db *db)
{
    return db->drv->kind;
}

tc_db_kind tc_db_conn_kind(const tc_db_conn *c)
{
    return c->db->drv->kind;
}

void tc_db_stats_get(tc_db *db, tc_db_stats *out)
{
    pthread_mutex_lock(&db->lock);
    out->pool_size = db->pool_size;
    out->in_use = db->in_use;
    pthread_mutex_unlock(&db->lock);
    out->waits = __atomic_load_n(&db->waits, __ATOMIC_RELAXED);
    out->queries = __atomic_load_n(&db->queries, __ATOMIC_RELAXED);
    out->errors = __atomic_load_n(&db->errors, __ATOMIC_RELAXED);
}

/* ---- pool ----------------------------------------------------------------- */

tc_db_conn *tc_db_acquire(tc_db *db)
{
    bool waited = false;
    pthread_mutex_lock(&db->lock);
    while (db->free_head < 0) {
        waited = true;
        pthread_cond_wait(&db->freed, &db->lock);
    }
    tc_db_conn *c = &db->conns[db->free_head];
    db->free_head = c->next_free;
    c->next_free = -1;
    db->in_use++;
    pthread_mutex_unlock(&db->lock);
    if (waited)
        stat_add(&db->waits);
    return c;
}

void tc_db_release(tc_db_conn *c)
{
    if (!c)
        return;
    tc_db *db = c->db;
    if (c->in_tx) {
        tc_log(TC_LOG_WARN, "database connection released inside a transaction; rolled back", NULL);
        tc_db_rollback(c);
    }
    pthread_mutex_lock(&db->lock);
    c->next_free = db->free_head;
    db->free_head = c->index;
    db->in_use--;
    pthread_cond_signal(&db->freed);
    pthread_mutex_unlock(&db->lock);
}

/* ---- statements ----------------------------------------------------------- */

tc_status tc_db_exec(tc_db_conn *c, const char *sql, const tc_dbv *params, size_t n,
                     int64_t *affected, tc_err *err)
{
    if (affected)
        *affected = 0;
    return count(c->db, c->db->drv->exec(c, sql, params, n, affected, err));
}

tc_status tc_db_insert_id(tc_db_conn *c, const char *sql, const tc_dbv *params, size_t n,
                          int64_t *id, tc_err *err)
{
    *id = 0;
    return count(c->db, c->db->drv->insert_id(c, sql, params, n, id, err));
}

tc_status tc_db_query(tc_db_conn *c, const char *sql, const tc_dbv *params, size_t n,
                      tc_db_rows **out, tc_err *err)
{
    *out = NULL;
    return count(c->db, c->db->drv->query(c, sql, params, n, out, err));
}

bool tc_db_rows_next(tc_db_rows *r)
{
    return r && r->conn->db->drv->rows_next(r);
}

int tc_db_rows_ncols(tc_db_rows *r)
{
    return r->conn->db->drv->rows_ncols(r);
}

bool tc_db_rows_isnull(tc_db_rows *r, int col)
{
    return r->conn->db->drv->rows_isnull(r, col);
}

const char *tc_db_rows_text(tc_db_rows *r, int col)
{
    return r->conn->db->drv->rows_text(r, col);
}

int64_t tc_db_rows_int(tc_db_rows *r, int col)
{
    return r->conn->db->drv->rows_int(r, col);
}

double tc_db_rows_real(tc_db_rows *r, int col)
{
    return r->conn->db->drv->rows_real(r, col);
}

const void *tc_db_rows_blob(tc_db_rows *r, int col, size_t *len)
{
    return r->conn->db->drv->rows_blob(r, col, len);
}

void tc_db_rows_free(tc_db_rows *r)
{
    if (r)
        r->conn->db->drv->rows_free(r);
}

/* ---- transactions ------------------------------------------------------------ */

tc_status tc_db_begin(tc_db_conn *c, tc_err *err)
{
    if (c->in_tx)
        return tc_failf(err, TC_INTERNAL, NULL, "transaction already open on this connection");
    tc_status s = count(c->db, c->db->drv->begin(c, err));
    if (s == TC_OK)
        c->in_tx = true;
    return s;
}

tc_status tc_db_commit(tc_db_conn *c, tc_err *err)
{
    if (!c->in_tx)
        return tc_failf(err, TC_INTERNAL, NULL, "commit without a transaction");
    /* the driver sees in_tx still set; the transaction is over either way */
    tc_status s = count(c->db, c->db->drv->commit(c, err));
    c->in_tx = false;
    return s;
}

void tc_db_rollback(tc_db_conn *c)
{
    if (!c->in_tx)
        return;
    c->db->drv->rollback(c);
    c->in_tx = false;
}

/* ---- ping, migrations -------------------------------------------------------- */

tc_status tc_db_ping(tc_db *db, tc_err *err)
{
    tc_db_conn *c = tc_db_acquire(db);
    tc_db_rows *r = NULL;
    tc_status s = tc_db_query(c, "SELECT 1", NULL, 0, &r, err);
    if (s == TC_OK && (!tc_db_rows_next(r) || tc_db_rows_int(r, 0) != 1))
        s = tc_failf(err, TC_UNAVAILABLE, NULL, "database did not answer the ping");
    tc_db_rows_free(r);
    tc_db_release(c);
    return s;
}

static const char create_migrations_table[] =
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    " version BIGINT PRIMARY KEY,"
    " name TEXT NOT NULL,"
    " applied_at BIGINT NOT NULL)";

/* Highest version applied, 0 for a fresh database. */
static tc_status applied_max(tc_db_conn *c, int64_t *out, tc_err *err)
{
    tc_db_rows *r = NULL;
    tc_status s = tc_db_query(c, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
                              NULL, 0, &r, err);
    *out = (s == TC_OK && tc_db_rows_next(r)) ? tc_db_rows_int(r, 0) : 0;
    tc_db_rows_free(r);
    return s;
}

static tc_status is_applied(tc_db_conn *c, int64_t version, bool *out, tc_err *err)
{
    tc_db_rows *r = NULL;
    tc_dbv p[] = {TC_DBV_I64(version)};
    tc_status s = tc_db_query(c, "SELECT 1 FROM schema_migrations WHERE version = $1", p, 1,
                              &r, err);
    *out = s == TC_OK && tc_db_rows_next(r);
    tc_db_rows_free(r);
    return s;
}

/* Applies one migration in its own transaction unless already recorded
 * (checked inside the transaction, so a concurrent migrator is harmless). */
static tc_status apply_one(tc_db_conn *c, const tc_db_migration *m, bool *applied, tc_err *err)
{
    bool done = false;
    *applied = false;
    tc_status s = tc_db_begin(c, err);
    if (s != TC_OK)
        return s;
    s = is_applied(c, m->version, &done, err);
    if (s != TC_OK || done)
        goto out;
    s = count(c->db, c->db->drv->exec_script(c, m->sql, err));
    if (s != TC_OK) {
        char why[TC_ERR_MSG_MAX];
        snprintf(why, sizeof(why), "%s", err ? err->message : "");
        s = tc_failf(err, s, NULL, "migration %04lld_%s failed: %s", (long long)m->version,
                     m->name, why);
        goto out;
    }
    tc_dbv p[] = {TC_DBV_I64(m->version), TC_DBV_STR(m->name), TC_DBV_I64(tc_now_ms())};
    s = tc_db_exec(c, "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
                   p, 3, NULL, err);
    if (s != TC_OK)
        goto out;
    s = tc_db_commit(c, err);
    *applied = s == TC_OK;
    return s;
out:
    tc_db_rollback(c);
    return s;
}

static tc_status migrate_locked(tc_db_conn *c, tc_err *err)
{
    tc_db_kind kind = c->db->drv->kind;
    int64_t known = 0, have = 0;
    for (size_t i = 0; i < tc_db__nmigrations; i++)
        if (tc_db__migrations[i].kind == kind && tc_db__migrations[i].version > known)
            known = tc_db__migrations[i].version;
    tc_status s = count(c->db, c->db->drv->exec_script(c, create_migrations_table, err));
    if (s == TC_OK)
        s = applied_max(c, &have, err);
    if (s != TC_OK)
        return s;
    if (have > known)
        return tc_failf(err, TC_DB, NULL,
                        "database schema version %lld is newer than this binary knows (%lld)",
                        (long long)have, (long long)known);
    for (size_t i = 0; i < tc_db__nmigrations && s == TC_OK; i++) {
        const tc_db_migration *m = &tc_db__migrations[i];
        bool applied = false;
        if (m->kind != kind)
            continue;
        s = apply_one(c, m, &applied, err);
        if (s == TC_OK && applied) {
            char v[24];
            snprintf(v, sizeof(v), "%lld", (long long)m->version);
            tc_log(TC_LOG_INFO, "migration applied", "version", v, "name", m->name, NULL);
        }
    }
    return s;
}

tc_status tc_db_migrate(tc_db *db, tc_err *err)
{
    tc_db_conn *c = tc_db_acquire(db);
    tc_status s = TC_OK;
    if (db->drv->migrate_lock)
        s = db->drv->migrate_lock(c, err);
    if (s == TC_OK) {
        s = migrate_locked(c, err);
        if (db->drv->migrate_unlock)
            db->drv->migrate_unlock(c);
    }
    tc_db_release(c);
    return s;
}
