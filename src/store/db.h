/* store: the database behind one driver interface (SQLite or PostgreSQL).
 *
 * SQL is written once with $1..$N placeholders and portable syntax
 * (ON CONFLICT, RETURNING, no now(): the caller passes times as int64 ms).
 * Only bound parameters, never formatted values. Dialect differences live in
 * the per-backend migrations (migrations/NNNN_name.sqlite.sql / .pg.sql).
 *
 * Concurrency: a tc_db is a pool; tc_db_acquire() hands a connection to one
 * thread until tc_db_release(). Every repository function takes the acting
 * user id and scopes its SQL to it (our row-level security). */
#ifndef TC_STORE_DB_H
#define TC_STORE_DB_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/core.h"

typedef struct tc_db tc_db;
typedef struct tc_db_conn tc_db_conn;
typedef struct tc_db_rows tc_db_rows;

typedef enum { TC_DB_SQLITE, TC_DB_POSTGRES } tc_db_kind;

typedef enum { TC_DBV_NULL, TC_DBV_TEXT, TC_DBV_INT, TC_DBV_REAL, TC_DBV_BLOB } tc_dbv_type;

/* A bound parameter. TEXT/BLOB point at caller memory for the call only. */
typedef struct tc_dbv {
    tc_dbv_type type;
    const void *p;  /* TEXT (NUL-terminated, len may be 0 = strlen) or BLOB */
    size_t len;
    int64_t i;
    double d;
} tc_dbv;

#define TC_DBV_NULLV ((tc_dbv){.type = TC_DBV_NULL})
/* NULL text binds SQL NULL. A function, so char arrays don't trip -Waddress. */
static inline tc_dbv tc_dbv_str(const char *s)
{
    return s ? (tc_dbv){.type = TC_DBV_TEXT, .p = s} : TC_DBV_NULLV;
}
#define TC_DBV_STR(s) tc_dbv_str(s)
#define TC_DBV_I64(v) ((tc_dbv){.type = TC_DBV_INT, .i = (v)})
#define TC_DBV_BOOL(v) ((tc_dbv){.type = TC_DBV_INT, .i = (v) ? 1 : 0})
#define TC_DBV_BLOBV(ptr, n) ((tc_dbv){.type = TC_DBV_BLOB, .p = (ptr), .len = (n)})

typedef struct tc_db_stats {
    int pool_size;
    int in_use;
    uint64_t waits;     /* acquisitions that had to wait */
    uint64_t queries;
    uint64_t errors;
} tc_db_stats;

/* url: "sqlite:PATH" (":memory:" allowed) or "postgres://..." /
 * "postgresql://...". pool_size connections at most. */
tc_status tc_db_open(const char *url, int pool_size, tc_db **out, tc_err *err);
void tc_db_close(tc_db *db);
tc_db_kind tc_db_kind_of(const tc_db *db);
/* Backend of a pooled connection, for the rare dialect-specific statement
 * (e.g. FOR UPDATE SKIP LOCKED on PostgreSQL only). */
tc_db_kind tc_db_conn_kind(const tc_db_conn *c);
void tc_db_stats_get(tc_db *db, tc_db_stats *out);

/* Applies pending migrations in order, each in its own transaction, recording
 * versions in schema_migrations. Idempotent; safe with several instances
 * starting at once (PostgreSQL: advisory lock). */
tc_status tc_db_migrate(tc_db *db, tc_err *err);
/* Cheap liveness check for /readyz. */
tc_status tc_db_ping(tc_db *db, tc_err *err);

/* Blocks until a pooled connection is free. Never returns NULL. */
tc_db_conn *tc_db_acquire(tc_db *db);
void tc_db_release(tc_db_conn *c);

/* Runs a statement that returns no rows. *affected (may be NULL) gets the
 * number of changed rows. A unique-constraint violation returns TC_CONFLICT. */
tc_status tc_db_exec(tc_db_conn *c, const char *sql, const tc_dbv *params, size_t n,
                     int64_t *affected, tc_err *err);
/* Runs a one-row INSERT into a table keyed by an integer `id` and returns
 * that id. sql has no RETURNING clause: SQLite reads the rowid (a RETURNING
 * clause there buffers its rows in a temporary b-tree on every execution,
 * ~20 K instructions), PostgreSQL appends " RETURNING id". */
tc_status tc_db_insert_id(tc_db_conn *c, const char *sql, const tc_dbv *params, size_t n,
                          int64_t *id, tc_err *err);
/* Runs a query; iterate with tc_db_rows_next; caller frees with
 * tc_db_rows_free. Values are valid until the next tc_db_rows_next. */
tc_status tc_db_query(tc_db_conn *c, const char *sql, const tc_dbv *params, size_t n,
                      tc_db_rows **out, tc_err *err);
bool tc_db_rows_next(tc_db_rows *r);
int tc_db_rows_ncols(tc_db_rows *r);
bool tc_db_rows_isnull(tc_db_rows *r, int col);
const char *tc_db_rows_text(tc_db_rows *r, int col);   /* NULL when NULL */
int64_t tc_db_rows_int(tc_db_rows *r, int col);        /* 0 when NULL */
double tc_db_rows_real(tc_db_rows *r, int col);
const void *tc_db_rows_blob(tc_db_rows *r, int col, size_t *len);
void tc_db_rows_free(tc_db_rows *r);

/* Transactions on one connection. BEGIN IMMEDIATE on SQLite. */
tc_status tc_db_begin(tc_db_conn *c, tc_err *err);
tc_status tc_db_commit(tc_db_conn *c, tc_err *err);
void tc_db_rollback(tc_db_conn *c);

/* ---- group commit --------------------------------------------------------
 * Writers that each need one short transaction queue their work; whoever
 * finds no transaction running becomes the leader and runs every queued
 * piece of work in ONE transaction, then wakes the others. Under load the
 * fixed cost of a commit (WAL frames, locks; a round trip on PostgreSQL) is
 * paid once per batch; a lone writer pays nothing extra.
 *
 * fn runs on the leader's thread, inside the shared transaction, with ctx.
 * It must be re-runnable: if any fn or the commit fails, the batch is rolled
 * back and each piece runs again in a transaction of its own (so one bad
 * request never loses another's write), so fn must reset whatever it filled
 * before (e.g. recorded changes). A fn that wants to refuse without
 * spoiling the batch must write nothing and return TC_OK with its own flag. */
typedef struct tc_db_group tc_db_group;
typedef struct tc_db_group_req {
    tc_status (*fn)(void *ctx, tc_db_conn *c, tc_err *err);
    void *ctx;
    tc_status st;       /* out: fn's status, or the commit's */
    tc_err err;         /* out */
    bool done;          /* internal */
    pthread_cond_t cv;  /* internal */
    struct tc_db_group_req *next; /* internal */
} tc_db_group_req;
tc_db_group *tc_db_group_new(tc_db *db);
void tc_db_group_free(tc_db_group *g);
/* Runs r (fn, ctx set by the caller) and returns r->st once committed or
 * failed. */
tc_status tc_db_group_run(tc_db_group *g, tc_db_group_req *r);
/* Batches committed and pieces of work in them, since start (stats). */
void tc_db_group_stats(tc_db_group *g, uint64_t *batches, uint64_t *pieces);

#endif
