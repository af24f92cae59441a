/* store: the PostgreSQL driver (libpq).
 *
 * Statements run as named prepared statements, cached per connection and
 * keyed by SQL text plus the types of the bound values (an INT is sent as
 * int8, a REAL as float8, a BLOB as binary bytea; TEXT and NULL leave the
 * type to the server, which infers it from the context). Results come back
 * in text format and are converted on access.
 *
 * A connection that dropped is reset before the next statement (its
 * prepared statements go with it). Error mapping: unique and foreign-key
 * violations and our own "tc_conflict:" trigger messages -> TC_CONFLICT,
 * connection failures -> TC_UNAVAILABLE, statement timeout -> TC_TIMEOUT. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "store/db_int.h"

#define CACHE_MAX 64
#define PARAMS_MAX 1000
#define OID_BYTEA 17
#define OID_INT8 20
#define OID_FLOAT8 701

typedef struct {
    char *url;
} pg_db;

typedef struct {
    uint64_t hash;
    char *sql;
    char *sig;            /* one letter per parameter: n t i r b */
    char name[24];
    uint64_t used;
} stmt_ent;

typedef struct {
    PGconn *h;
    uint64_t clock;
    uint64_t serial;      /* statement names are never reused */
    int ncache;
    stmt_ent cache[CACHE_MAX];
} pg_conn;

typedef struct {
    tc_db_rows base;
    PGresult *res;
    int row;              /* -1 before the first rows_next */
    int nrows;
    unsigned char *blob;  /* last unescaped bytea, freed on next access */
} pg_rows;

static pg_conn *CONN(tc_db_conn *c)
{
    return c->priv;
}

/* ---- errors ------------------------------------------------------------------ */

static void trim(char *s)
{
    size_t n = strlen(s);
    while (n && (s[n - 1] == '\n' || s[n - 1] == ' '))
        s[--n] = '\0';
}

static tc_status conn_error(PGconn *h, tc_err *err)
{
    char msg[TC_ERR_MSG_MAX];
    snprintf(msg, sizeof(msg), "%s", h ? PQerrorMessage(h) : "out of memory");
    trim(msg);
    return tc_failf(err, TC_UNAVAILABLE, NULL, "database unavailable: %s", msg);
}

static tc_status map_result_error(PGconn *h, const PGresult *res, tc_err *err)
{
    if (!res || PQstatus(h) != CONNECTION_OK)
        return conn_error(h, err);
    const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    const char *msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
    if (!state)
        state = "";
    if (!msg)
        msg = PQresultErrorMessage(res);
    const char *mine = strstr(msg, TC_DB_CONFLICT_PREFIX);
    if (mine) {
        mine += strlen(TC_DB_CONFLICT_PREFIX);
        while (*mine == ' ')
            mine++;
        return tc_failf(err, TC_CONFLICT, NULL, "%s", mine);
    }
    if (!strcmp(state, "23505"))
        return tc_failf(err, TC_CONFLICT, NULL, "already exists (%s)", msg);
    if (!strcmp(state, "23503"))
        return tc_failf(err, TC_CONFLICT, NULL, "refers to a missing row (%s)", msg);
    if (!strncmp(state, "08", 2) || !strcmp(state, "40001") || !strcmp(state, "40P01") ||
        !strcmp(state, "55P03"))
        return tc_failf(err, TC_UNAVAILABLE, NULL, "database busy or unavailable (%s)", msg);
    if (!strcmp(state, "57014"))
        return tc_failf(err, TC_TIMEOUT, NULL, "database statement timed out");
    return tc_failf(err, TC_DB, NULL, "database error %s: %s", state, msg);
}

static bool result_ok(const PGresult *res)
{
    ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    return st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
}

/* ---- statement cache ----------------------------------------------------------- */

static uint64_t fnv1a(const char *s, uint64_t h)
{
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

static void cache_clear(pg_conn *k)
{
    for (int i = 0; i < k->ncache; i++) {
        tc_free(k->cache[i].sql);
        tc_free(k->cache[i].sig);
    }
    k->ncache = 0;
}

static void cache_drop(pg_conn *k, stmt_ent *e)
{
    char sql[48];
    snprintf(sql, sizeof(sql), "DEALLOCATE %s", e->name);
    PQclear(PQexec(k->h, sql)); /* failure (aborted transaction) only leaks a name */
    tc_free(e->sql);
    tc_free(e->sig);
    *e = k->cache[--k->ncache];
}

static stmt_ent *cache_find(pg_conn *k, uint64_t h, const char *sql, const char *sig)
{
    for (int i = 0; i < k->ncache; i++) {
        stmt_ent *e = &k->cache[i];
        if (e->hash == h && !strcmp(e->sig, sig) && !strcmp(e->sql, sql)) {
            e->used = ++k->clock;
            return e;
        }
    }
    return NULL;
}

static void cache_evict_lru(pg_conn *k)
{
    stmt_ent *lru = &k->cache[0];
    for (int i = 1; i < k->ncache; i++)
        if (k->cache[i].used < lru->used)
            lru = &k->cache[i];
    cache_drop(k, lru);
}

/* ---- parameters ------------------------------------------------------------------ */

typedef struct {
    int n;
    Oid *types;
    const char **values;
    int *lengths;
    int *formats;
    char (*num)[32];
    char **owned;         /* NUL-terminated copies of length-limited TEXT */
    char sig[PARAMS_MAX + 1];
} pg_params;

static void params_free(pg_params *p)
{
    tc_free(p->types);
    tc_free(p->values);
    tc_free(p->lengths);
    tc_free(p->formats);
    tc_free(p->num);
    for (int i = 0; p->owned && i < p->n; i++)
        tc_free(p->owned[i]);
    tc_free(p->owned);
}

static tc_status params_build(pg_params *p, const tc_dbv *v, size_t n, tc_err *err)
{
    memset(p, 0, sizeof(*p));
    if (n > PARAMS_MAX)
        return tc_failf(err, TC_INTERNAL, NULL, "too many SQL parameters (%zu)", n);
    p->n = (int)n;
    p->types = tc_calloc(n, sizeof(Oid));
    p->values = tc_calloc(n, sizeof(char *));
    p->lengths = tc_calloc(n, sizeof(int));
    p->formats = tc_calloc(n, sizeof(int));
    p->num = tc_calloc(n, sizeof(*p->num));
    p->owned = tc_calloc(n, sizeof(char *));
    for (size_t i = 0; i < n; i++) {
        switch (v[i].type) {
        case TC_DBV_NULL:
            p->sig[i] = 'n';
            break;
        case TC_DBV_TEXT:
            p->sig[i] = v[i].p ? 't' : 'n';
            p->values[i] = v[i].p;
            if (v[i].p && v[i].len && ((const char *)v[i].p)[v[i].len] != '\0')
                p->values[i] = p->owned[i] = tc_strndup(v[i].p, v[i].len);
            break;
        case TC_DBV_INT:
            p->sig[i] = 'i';
            p->types[i] = OID_INT8;
            snprintf(p->num[i], sizeof(p->num[i]), "%lld", (long long)v[i].i);
            p->values[i] = p->num[i];
            break;
        case TC_DBV_REAL:
            p->sig[i] = 'r';
            p->types[i] = OID_FLOAT8;
            snprintf(p->num[i], sizeof(p->num[i]), "%.17g", v[i].d);
            p->values[i] = p->num[i];
            break;
        case TC_DBV_BLOB:
            if (v[i].len > INT32_MAX)
                return tc_failf(err, TC_TOO_LARGE, NULL, "SQL parameter $%zu is too large", i + 1);
            p->sig[i] = 'b';
            p->types[i] = OID_BYTEA;
            p->values[i] = v[i].p ? v[i].p : "";
            p->lengths[i] = (int)v[i].len;
            p->formats[i] = 1;
            break;
        }
    }
    p->sig[n] = '\0';
    return TC_OK;
}

/* ---- running statements ------------------------------------------------------------ */

/* Resets a connection that dropped; its prepared statements are gone. */
static tc_status ensure_connected(tc_db_conn *c, tc_err *err)
{
    pg_conn *k = CONN(c);
    if (PQstatus(k->h) == CONNECTION_OK)
        return TC_OK;
    cache_clear(k);
    PQreset(k->h);
    if (PQstatus(k->h) != CONNECTION_OK)
        return conn_error(k->h, err);
    tc_log(TC_LOG_WARN, "database connection was reset", NULL);
    /* the server rolled back whatever the lost session had open: carrying
     * on (a COMMIT on the new session would "succeed") would lose writes */
    if (c->in_tx)
        return tc_failf(err, TC_UNAVAILABLE, NULL,
                        "database connection was lost inside a transaction");
    return TC_OK;
}

static tc_status prepare(tc_db_conn *c, const char *sql, const pg_params *p, stmt_ent **out,
                         tc_err *err)
{
    pg_conn *k = CONN(c);
    uint64_t h = fnv1a(p->sig, fnv1a(sql, 1469598103934665603ULL));
    *out = cache_find(k, h, sql, p->sig);
    if (*out)
        return TC_OK;
    if (k->ncache == CACHE_MAX)
        cache_evict_lru(k);
    stmt_ent *e = &k->cache[k->ncache];
    snprintf(e->name, sizeof(e->name), "tcs_%llu", (unsigned long long)++k->serial);
    PGresult *res = PQprepare(k->h, e->name, sql, p->n, p->types);
    tc_status s = result_ok(res) ? TC_OK : map_result_error(k->h, res, err);
    PQclear(res);
    if (s != TC_OK)
        return s;
    e->hash = h;
    e->sql = tc_strdup(sql);
    e->sig = tc_strdup(p->sig);
    e->used = ++k->clock;
    k->ncache++;
    *out = e;
    return TC_OK;
}

/* "cached plan must not change result type": the schema changed under a
 * cached statement; drop it and prepare again once. */
static bool stale_plan(const PGresult *res)
{
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    return state && !strcmp(state, "0A000");
}

static tc_status run(tc_db_conn *c, const char *sql, const tc_dbv *v, size_t n, PGresult **out,
                     tc_err *err)
{
    pg_params p;
    stmt_ent *e = NULL;
    PGresult *res = NULL;
    *out = NULL;
    tc_status s = ensure_connected(c, err);
    if (s == TC_OK)
        s = params_build(&p, v, n, err);
    else
        memset(&p, 0, sizeof(p));
    for (int attempt = 0; s == TC_OK && attempt < 2; attempt++) {
        s = prepare(c, sql, &p, &e, err);
        if (s != TC_OK)
            break;
        res = PQexecPrepared(CONN(c)->h, e->name, p.n, p.values, p.lengths, p.formats, 0);
        if (result_ok(res))
            break;
        if (attempt == 0 && stale_plan(res)) {
            PQclear(res);
            res = NULL;
            cache_drop(CONN(c), e);
            continue;
        }
        s = map_result_error(CONN(c)->h, res, err);
    }
    params_free(&p);
    if (s != TC_OK) {
        PQclear(res);
        return s;
    }
    *out = res;
    return TC_OK;
}

static tc_status pg_exec(tc_db_conn *c, const char *sql, const tc_dbv *params, size_t n,
                         int64_t *affected, tc_err *err)
{
    PGresult *res = NULL;
    tc_status s = run(c, sql, params, n, &res, err);
    if (s == TC_OK && affected)
        *affected = strtoll(PQcmdTuples(res), NULL, 10);
    PQclear(res);
    return s;
}

static tc_status pg_query(tc_db_conn *c, const char *sql, const tc_dbv *params, size_t n,
                          tc_db_rows **out, tc_err *err)
{
    PGresult *res = NULL;
    tc_status s = run(c, sql, params, n, &res, err);
    if (s != TC_OK)
        return s;
    pg_rows *r = tc_calloc(1, sizeof(*r));
    *r = (pg_rows){.base.conn = c, .res = res, .row = -1, .nrows = PQntuples(res)};
    *out = &r->base;
    return TC_OK;
}

static tc_status simple(tc_db_conn *c, const char *sql, PGresult **keep, tc_err *err)
{
    tc_status s = ensure_connected(c, err);
    if (s != TC_OK)
        return s;
    PGresult *res = PQexec(CONN(c)->h, sql);
    s = result_ok(res) ? TC_OK : map_result_error(CONN(c)->h, res, err);
    if (keep && s == TC_OK)
        *keep = res;
    else
        PQclear(res);
    return s;
}

static tc_status pg_insert_id(tc_db_conn *c, const char *sql, const tc_dbv *params, size_t n,
                              int64_t *id, tc_err *err)
{
    size_t len = strlen(sql);
    char *q = tc_malloc(len + sizeof(" RETURNING id"));
    memcpy(q, sql, len);
    memcpy(q + len, " RETURNING id", sizeof(" RETURNING id"));
    PGresult *res = NULL;
    tc_status s = run(c, q, params, n, &res, err);
    tc_free(q);
    if (s == TC_OK && PQntuples(res) == 1)
        *id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    else if (s == TC_OK)
        s = tc_failf(err, TC_DB, NULL, "INSERT returned %d rows, expected 1", PQntuples(res));
    PQclear(res);
    return s;
}

static tc_status pg_exec_script(tc_db_conn *c, const char *sql, tc_err *err)
{
    return simple(c, sql, NULL, err);
}

/* ---- rows ----------------------------------------------------------------------------- */

static pg_rows *ROWS(tc_db_rows *r)
{
    return (pg_rows *)r;
}

static void drop_blob(pg_rows *r)
{
    if (r->blob)
        PQfreemem(r->blob);
    r->blob = NULL;
}

static bool pg_rows_next(tc_db_rows *rr)
{
    pg_rows *r = ROWS(rr);
    drop_blob(r);
    if (r->row < r->nrows)
        r->row++;
    return r->row < r->nrows;
}

static int pg_rows_ncols(tc_db_rows *r)
{
    return PQnfields(ROWS(r)->res);
}

static bool pg_rows_isnull(tc_db_rows *rr, int col)
{
    pg_rows *r = ROWS(rr);
    return PQgetisnull(r->res, r->row, col) == 1;
}

static const char *pg_rows_text(tc_db_rows *rr, int col)
{
    pg_rows *r = ROWS(rr);
    if (PQgetisnull(r->res, r->row, col))
        return NULL;
    return PQgetvalue(r->res, r->row, col);
}

static int64_t pg_rows_int(tc_db_rows *rr, int col)
{
    const char *v = pg_rows_text(rr, col);
    if (!v)
        return 0;
    if (v[0] == 't' && !v[1])
        return 1;
    if (v[0] == 'f' && !v[1])
        return 0;
    return strtoll(v, NULL, 10);
}

static double pg_rows_real(tc_db_rows *rr, int col)
{
    const char *v = pg_rows_text(rr, col);
    return v ? strtod(v, NULL) : 0.0;
}

static const void *pg_rows_blob(tc_db_rows *rr, int col, size_t *len)
{
    pg_rows *r = ROWS(rr);
    *len = 0;
    if (PQgetisnull(r->res, r->row, col))
        return NULL;
    const char *v = PQgetvalue(r->res, r->row, col);
    if (PQftype(r->res, col) != OID_BYTEA) {
        *len = (size_t)PQgetlength(r->res, r->row, col);
        return v;
    }
    drop_blob(r);
    r->blob = PQunescapeBytea((const unsigned char *)v, len);
    if (!r->blob) {
        *len = 0;
        return NULL;
    }
    return r->blob;
}

static void pg_rows_free(tc_db_rows *rr)
{
    pg_rows *r = ROWS(rr);
    drop_blob(r);
    PQclear(r->res);
    tc_free(r);
}

/* ---- transactions ------------------------------------------------------------------------ */

static tc_status pg_begin(tc_db_conn *c, tc_err *err)
{
    return simple(c, "BEGIN", NULL, err);
}

/* COMMIT of a transaction that an earlier error aborted answers "ROLLBACK"
 * with a success status: report it as the failure it is. */
static tc_status pg_commit(tc_db_conn *c, tc_err *err)
{
    PGresult *res = NULL;
    tc_status s = simple(c, "COMMIT", &res, err);
    if (s == TC_OK && !strcmp(PQcmdStatus(res), "ROLLBACK"))
        s = tc_failf(err, TC_DB, NULL, "transaction was rolled back after an earlier error");
    PQclear(res);
    return s;
}

static void pg_rollback(tc_db_conn *c)
{
    PGconn *h = CONN(c)->h;
    if (PQstatus(h) == CONNECTION_OK && PQtransactionStatus(h) != PQTRANS_IDLE)
        PQclear(PQexec(h, "ROLLBACK"));
}

/* Session advisory lock per schema: instances starting together migrate one
 * after the other; tests using separate schemas don't wait on each other. */
static tc_status pg_migrate_lock(tc_db_conn *c, tc_err *err)
{
    return simple(c, "SELECT pg_advisory_lock(7420531, hashtext(COALESCE(current_schema(), '')))",
                  NULL, err);
}

static void pg_migrate_unlock(tc_db_conn *c)
{
    simple(c, "SELECT pg_advisory_unlock(7420531, hashtext(COALESCE(current_schema(), '')))",
           NULL, NULL);
}

/* ---- pool ---------------------------------------------------------------------------------- */

static tc_status pg_setup(tc_db *db, const char *url, int *pool_size, tc_err *err)
{
    pg_db *d = db->priv;
    char *msg = NULL;
    PQconninfoOption *opts = PQconninfoParse(url, &msg);
    if (!opts) {
        if (msg)
            trim(msg);
        tc_status s = tc_failf(err, TC_BAD_REQUEST, "database_url", "invalid PostgreSQL URL: %s",
                               msg ? msg : "out of memory");
        PQfreemem(msg);
        return s;
    }
    PQconninfoFree(opts);
    d->url = tc_strdup(url);
    return TC_OK;
}

static void pg_teardown(tc_db *db)
{
    pg_db *d = db->priv;
    tc_free(d->url);
}

static void quiet_notices(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

static const char session_defaults[] =
    "SELECT set_config('statement_timeout', '30s', false)"
    " WHERE current_setting('statement_timeout') = '0';"
    "SELECT set_config('idle_in_transaction_session_timeout', '60s', false)"
    " WHERE current_setting('idle_in_transaction_session_timeout') = '0'";

static tc_status pg_connect(tc_db_conn *c, tc_err *err)
{
    pg_db *d = c->db->priv;
    pg_conn *k = CONN(c);
    /* defaults first: the URL's own settings (expanded from dbname) win */
    const char *keys[] = {"connect_timeout", "application_name", "dbname", NULL};
    const char *vals[] = {"10", "toolconnect", d->url, NULL};
    k->h = PQconnectdbParams(keys, vals, 1);
    if (PQstatus(k->h) != CONNECTION_OK) {
        tc_status s = conn_error(k->h, err);
        PQfinish(k->h);
        k->h = NULL;
        return s;
    }
    PQsetNoticeProcessor(k->h, quiet_notices, NULL);
    /* bounds for a stuck statement or a leaked transaction, unless the URL
     * (options=-c ...) or the server configuration chose its own */
    PGresult *res = PQexec(k->h, session_defaults);
    tc_status s = result_ok(res) ? TC_OK : map_result_error(k->h, res, err);
    PQclear(res);
    if (s != TC_OK) {
        PQfinish(k->h);
        k->h = NULL;
    }
    return s;
}

static void pg_disconnect(tc_db_conn *c)
{
    pg_conn *k = CONN(c);
    cache_clear(k);
    if (k->h)
        PQfinish(k->h);
    k->h = NULL;
}

const tc_db_driver tc_db__pg_driver = {
    .name = "postgres",
    .kind = TC_DB_POSTGRES,
    .db_size = sizeof(pg_db),
    .conn_size = sizeof(pg_conn),
    .setup = pg_setup,
    .teardown = pg_teardown,
    .connect = pg_connect,
    .disconnect = pg_disconnect,
    .exec = pg_exec,
    .query = pg_query,
    .insert_id = pg_insert_id,
    .exec_script = pg_exec_script,
    .rows_next = pg_rows_next,
    .rows_ncols = pg_rows_ncols,
    .rows_isnull = pg_rows_isnull,
    .rows_text = pg_rows_text,
    .rows_int = pg_rows_int,
    .rows_real = pg_rows_real,
    .rows_blob = pg_rows_blob,
    .rows_free = pg_rows_free,
    .begin = pg_begin,
    .commit = pg_commit,
    .rollback = pg_rollback,
    .migrate_lock = pg_migrate_lock,
    .migrate_unlock = pg_migrate_unlock,
};
