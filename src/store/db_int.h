/* store internals: the driver table and the structs the drivers embed.
 * Only db.c, sqlite.c and pg.c include this; repositories use db.h.
 *
 * Lock order: tc_db.lock (pool) is never held while a driver call runs.
 * The SQLite driver's writer mutex (sqlite.c) is taken only with no pool
 * lock held. */
#ifndef TC_STORE_DB_INT_H
#define TC_STORE_DB_INT_H

#include <pthread.h>

#include "store/db.h"

/* One pooled connection. Drivers keep their state in priv (drv->conn_size
 * bytes, zeroed, owned by db.c). */
struct tc_db_conn {
    tc_db *db;
    int index;          /* slot in the pool */
    int next_free;      /* free-list link, -1 = end */
    bool in_tx;         /* between tc_db_begin and commit/rollback */
    bool broken;        /* the driver saw the connection die */
    void *priv;
};

/* A result set. Drivers allocate a larger struct with this one first
 * (drv->rows_size bytes) and fill it in query(). */
struct tc_db_rows {
    tc_db_conn *conn;
};

/* One embedded migration (generated from migrations/NNNN_name.KIND.sql). */
typedef struct tc_db_migration {
    int64_t version;
    const char *name;
    tc_db_kind kind;
    const char *sql;
} tc_db_migration;

extern const tc_db_migration tc_db__migrations[];
extern const size_t tc_db__nmigrations;

typedef struct tc_db_driver {
    const char *name;
    tc_db_kind kind;
    size_t db_size;    /* per-pool private state (tc_db.priv) */
    size_t conn_size;  /* per-connection private state (tc_db_conn.priv) */

    /* Parses the URL once for the whole pool; may adjust *pool_size
     * (":memory:" has exactly one connection). */
    tc_status (*setup)(tc_db *db, const char *url, int *pool_size, tc_err *err);
    void (*teardown)(tc_db *db);
    tc_status (*connect)(tc_db_conn *c, tc_err *err);
    void (*disconnect)(tc_db_conn *c);

    tc_status (*exec)(tc_db_conn *c, const char *sql, const tc_dbv *params, size_t n,
                      int64_t *affected, tc_err *err);
    tc_status (*query)(tc_db_conn *c, const char *sql, const tc_dbv *params, size_t n,
                       tc_db_rows **out, tc_err *err);
    /* One-row INSERT; *id = the new row's integer `id` (see tc_db_insert_id). */
    tc_status (*insert_id)(tc_db_conn *c, const char *sql, const tc_dbv *params, size_t n,
                           int64_t *id, tc_err *err);
    /* Runs a multi-statement script without parameters (migrations). */
    tc_status (*exec_script)(tc_db_conn *c, const char *sql, tc_err *err);

    bool (*rows_next)(tc_db_rows *r);
    int (*rows_ncols)(tc_db_rows *r);
    bool (*rows_isnull)(tc_db_rows *r, int col);
    const char *(*rows_text)(tc_db_rows *r, int col);
    int64_t (*rows_int)(tc_db_rows *r, int col);
    double (*rows_real)(tc_db_rows *r, int col);
    const void *(*rows_blob)(tc_db_rows *r, int col, size_t *len);
    void (*rows_free)(tc_db_rows *r);

    tc_status (*begin)(tc_db_conn *c, tc_err *err);
    tc_status (*commit)(tc_db_conn *c, tc_err *err);
    void (*rollback)(tc_db_conn *c);

    /* Serializes migrations across processes (PostgreSQL advisory lock);
     * NULL when the backend's own locking is enough. */
    tc_status (*migrate_lock)(tc_db_conn *c, tc_err *err);
    void (*migrate_unlock)(tc_db_conn *c);
} tc_db_driver;

extern const tc_db_driver tc_db__sqlite_driver;
extern const tc_db_driver tc_db__pg_driver;

struct tc_db {
    const tc_db_driver *drv;
    void *priv;
    pthread_mutex_t lock;
    pthread_cond_t freed;
    int pool_size;
    int free_head;      /* -1 = none free */
    int in_use;
    tc_db_conn *conns;  /* pool_size slots */
    /* stats, updated with atomics (no lock on the query path) */
    uint64_t waits;
    uint64_t queries;
    uint64_t errors;
};

/* A driver-level message that starts with this prefix (raised by our own
 * triggers) maps to TC_CONFLICT. */
#define TC_DB_CONFLICT_PREFIX "tc_conflict:"

#endif
