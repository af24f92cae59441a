/* store: the SQLite driver.
 *
 * Each pooled connection: WAL, synchronous=NORMAL, foreign_keys=ON, a busy
 * timeout, and a small cache of prepared statements keyed by SQL text
 * ($N placeholders rewritten to ?N once, when the statement is prepared).
 *
 * Writers: SQLite allows one writer at a time. Instead of letting threads
 * spin in SQLite's busy handler (which sleeps in steps of up to 100 ms), the
 * pool keeps one writer lock: tc_db_begin takes it until commit/rollback, and
 * a lone write statement outside a transaction takes it for its duration.
 * Read-only statements never take it (WAL readers run alongside the writer).
 * The busy timeout still covers other processes (toolconnect migrate).
 *
 * One writer handle: whoever holds the writer lock runs its statements on
 * the pool's dedicated writer connection, not on its own. In WAL mode a
 * connection drops its whole page cache whenever another connection has
 * committed since its last read, so writes rotating over the pool re-read
 * every b-tree page they touch (callgrind: ~30 page fetches and 4 KiB
 * memsets per tool call). The writer handle only ever sees its own commits,
 * so its cache stays warm. Readers keep their own handles.
 *
 * Checkpoints: SQLite normally checkpoints the WAL inside the commit that
 * crosses 1000 pages, so that one writer pays for copying pages and an fsync
 * while holding the write lock (a latency spike of tens of ms). Instead a
 * background thread with its own connection runs PASSIVE checkpoints, woken
 * by the WAL hook; writers only checkpoint themselves if the WAL grows far
 * past the mark (the thread fell behind). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "store/db_int.h"

#define CACHE_MAX 64
#define BUSY_TIMEOUT_MS 5000
#define CKPT_PAGES 1000          /* wake the checkpointer at this WAL size */
#define CKPT_INLINE_PAGES 20000  /* ~80 MB: the writer checkpoints itself */
#define CKPT_IDLE_MS 1000        /* ... and it checks at least this often */
#define CKPT_RESTART_PAGES 4000  /* ~16 MB left after a passive one: restart the WAL */
#define CKPT_RESTART_WAIT_MS 50  /* how long a restart may wait for readers */

typedef struct {
    char *path;
    pthread_mutex_t wlock;
    pthread_cond_t wfree;
    bool wheld;
    /* checkpointer thread */
    pthread_t ck_thread;
    bool ck_started;
    pthread_mutex_t ck_lock;
    pthread_cond_t ck_cond;
    bool ck_wanted;
    bool ck_stop;
    bool memory;
    bool ck_inited;
    struct sq_conn *writer;  /* the writer handle (NULL for :memory:) */
} sq_db;

typedef struct {
    uint64_t hash;
    char *sql;              /* the caller's text (untranslated), owned */
    sqlite3_stmt *st;
    uint64_t used;          /* LRU clock */
    bool busy;              /* an open result set is using it */
    bool params_ok;         /* every $N was found used (checked once) */
} cache_ent;

typedef struct sq_conn {
    sqlite3 *h;
    int writer_depth;       /* holds the pool's writer lock when > 0 */
    uint64_t clock;
    int ncache;
    cache_ent cache[CACHE_MAX];
} sq_conn;

typedef struct {
    tc_db_rows base;
    sqlite3_stmt *st;
    cache_ent *ent;         /* NULL: uncached, finalize on free */
    bool holds_writer;
    bool first;             /* the prefetched step has not been consumed */
    sqlite3 *h;             /* the handle the statement belongs to */
    int rc;                 /* last sqlite3_step result */
} sq_rows;

static sq_db *DB(tc_db_conn *c)
{
    return c->db->priv;
}

/* The pooled connection itself (its writer lock depth). */
static sq_conn *OWN(tc_db_conn *c)
{
    return c->priv;
}

/* The handle statements run on: the writer handle while holding the lock. */
static sq_conn *CONN(tc_db_conn *c)
{
    sq_conn *k = c->priv;
    sq_db *d = c->db->priv;
    return k->writer_depth > 0 && d->writer ? d->writer : k;
}

/* ---- writer lock ----------------------------------------------------------- */

/* Reentrant per connection (a write while this connection's own INSERT ..
 * RETURNING rows are open, or inside its transaction, must not wait on
 * itself); a connection is used by one thread at a time, so the depth needs
 * no lock. */
static tc_status writer_lock(tc_db_conn *c, tc_err *err)
{
    sq_db *d = DB(c);
    if (OWN(c)->writer_depth > 0) {
        OWN(c)->writer_depth++;
        return TC_OK;
    }
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += BUSY_TIMEOUT_MS / 1000;
    int rc = 0;
    pthread_mutex_lock(&d->wlock);
    while (d->wheld && rc != ETIMEDOUT)
        rc = pthread_cond_timedwait(&d->wfree, &d->wlock, &until);
    bool got = !d->wheld;
    if (got)
        d->wheld = true;
    pthread_mutex_unlock(&d->wlock);
    if (!got)
        return tc_failf(err, TC_UNAVAILABLE, NULL, "database is busy (writer lock timed out)");
    OWN(c)->writer_depth = 1;
    return TC_OK;
}

static void writer_unlock(tc_db_conn *c)
{
    sq_db *d = DB(c);
    if (--OWN(c)->writer_depth > 0)
        return;
    pthread_mutex_lock(&d->wlock);
    d->wheld = false;
    pthread_cond_signal(&d->wfree);
    pthread_mutex_unlock(&d->wlock);
}

/* ---- errors ---------------------------------------------------------------- */

static tc_status map_error(sqlite3 *h, int rc, tc_err *err)
{
    const char *msg = sqlite3_errmsg(h);
    const char *mine = strstr(msg, TC_DB_CONFLICT_PREFIX);
    if (mine) {
        mine += strlen(TC_DB_CONFLICT_PREFIX);
        while (*mine == ' ')
            mine++;
        return tc_failf(err, TC_CONFLICT, NULL, "%s", mine);
    }
    switch (rc) {
    case SQLITE_CONSTRAINT_UNIQUE:
    case SQLITE_CONSTRAINT_PRIMARYKEY:
        return tc_failf(err, TC_CONFLICT, NULL, "already exists (%s)", msg);
    case SQLITE_CONSTRAINT_FOREIGNKEY:
        return tc_failf(err, TC_CONFLICT, NULL, "refers to a missing row (%s)", msg);
    default:
        break;
    }
    if ((rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED)
        return tc_failf(err, TC_UNAVAILABLE, NULL, "database is busy (%s)", msg);
    return tc_failf(err, TC_DB, NULL, "database error: %s", msg);
}

/* ---- statement cache ---------------------------------------------------------- */

static uint64_t fnv1a(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

/* Copies sql with each $N outside quotes and comments turned into ?N
 * (SQLite reads "$1" as a named parameter, "?1" as number 1). */
static char *translate(const char *sql)
{
    char *out = tc_strdup(sql);
    char quote = 0;
    for (char *p = out; *p; p++) {
        if (quote) {
            if (*p == quote)
                quote = 0;
        } else if (*p == '\'' || *p == '"') {
            quote = *p;
        } else if (p[0] == '-' && p[1] == '-') {
            while (p[1] && p[1] != '\n')
                p++;
        } else if (p[0] == '/' && p[1] == '*') {
            char *end = strstr(p + 2, "*/");
            p = end ? end + 1 : p + strlen(p) - 1;
        } else if (*p == '$' && p[1] >= '0' && p[1] <= '9') {
            *p = '?';
        }
    }
    return out;
}

static tc_status prepare_raw(tc_db_conn *c, const char *sql, unsigned flags, sqlite3_stmt **st,
                             tc_err *err)
{
    char *t = translate(sql);
    const char *tail = NULL;
    int rc = sqlite3_prepare_v3(CONN(c)->h, t, -1, flags, st, &tail);
    tc_status s = TC_OK;
    if (rc != SQLITE_OK) {
        s = map_error(CONN(c)->h, rc, err);
    } else if (!*st) {
        s = tc_failf(err, TC_INTERNAL, NULL, "empty SQL statement");
    } else {
        while (*tail == ' ' || *tail == '\n' || *tail == '\t' || *tail == ';' || *tail == '\r')
            tail++;
        if (*tail)
            s = tc_failf(err, TC_INTERNAL, NULL, "one statement per call (use a migration for scripts)");
    }
    if (s != TC_OK && *st) {
        sqlite3_finalize(*st);
        *st = NULL;
    }
    tc_free(t);
    return s;
}

static cache_ent *cache_slot(sq_conn *k)
{
    if (k->ncache < CACHE_MAX)
        return &k->cache[k->ncache++];
    cache_ent *lru = NULL;
    for (int i = 0; i < k->ncache; i++)
        if (!k->cache[i].busy && (!lru || k->cache[i].used < lru->used))
            lru = &k->cache[i];
    if (lru) {
        sqlite3_finalize(lru->st);
        tc_free(lru->sql);
        memset(lru, 0, sizeof(*lru));
    }
    return lru;
}

/* Finds or prepares sql. *ent is the cache entry (marked busy) or NULL when
 * the statement is private to this call (finalize it after use). */
static tc_status prepare(tc_db_conn *c, const char *sql, sqlite3_stmt **st, cache_ent **ent,
                         tc_err *err)
{
    sq_conn *k = CONN(c);
    uint64_t h = fnv1a(sql);
    *ent = NULL;
    for (int i = 0; i < k->ncache; i++) {
        cache_ent *e = &k->cache[i];
        if (e->hash == h && !e->busy && !strcmp(e->sql, sql)) {
            e->busy = true;
            e->used = ++k->clock;
            *st = e->st;
            *ent = e;
            return TC_OK;
        }
    }
    tc_status s = prepare_raw(c, sql, SQLITE_PREPARE_PERSISTENT, st, err);
    if (s != TC_OK)
        return s;
    cache_ent *e = cache_slot(k);
    if (e) {
        *e = (cache_ent){.hash = h, .sql = tc_strdup(sql), .st = *st, .used = ++k->clock, .busy = true};
        *ent = e;
    }
    return TC_OK;
}

static void unprepare(sqlite3_stmt *st, cache_ent *ent)
{
    if (!st)
        return;
    if (!ent) {
        sqlite3_finalize(st);
        return;
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    ent->busy = false;
}

static const char empty[1];

/* PostgreSQL cannot type a parameter the SQL never mentions; refuse gaps
 * here too so SQL that works on SQLite works there. (Each name lookup scans
 * the statement's list: checked once per prepared statement.) */
static tc_status params_used(sqlite3_stmt *st, cache_ent *ent, tc_err *err)
{
    if (ent && ent->params_ok)
        return TC_OK;
    int want = sqlite3_bind_parameter_count(st);
    for (int i = 1; i <= want; i++)
        if (!sqlite3_bind_parameter_name(st, i))
            return tc_failf(err, TC_INTERNAL, NULL, "parameter $%d is not used in the statement", i);
    if (ent)
        ent->params_ok = true;
    return TC_OK;
}

static tc_status bind_all(sqlite3_stmt *st, cache_ent *ent, const tc_dbv *params, size_t n,
                          bool copy, tc_err *err)
{
    int want = sqlite3_bind_parameter_count(st);
    if ((size_t)want != n)
        return tc_failf(err, TC_INTERNAL, NULL, "statement takes %d parameters, got %zu", want, n);
    tc_status s = params_used(st, ent, err);
    if (s != TC_OK)
        return s;
    sqlite3_destructor_type how = copy ? SQLITE_TRANSIENT : SQLITE_STATIC;
    for (size_t i = 0; i < n; i++) {
        const tc_dbv *v = &params[i];
        int idx = (int)i + 1, rc = SQLITE_OK;
        switch (v->type) {
        case TC_DBV_NULL:
            rc = sqlite3_bind_null(st, idx);
            break;
        case TC_DBV_TEXT:
            rc = v->p ? sqlite3_bind_text64(st, idx, v->p, v->len ? v->len : strlen(v->p), how, SQLITE_UTF8)
                      : sqlite3_bind_null(st, idx);
            break;
        case TC_DBV_INT:
            rc = sqlite3_bind_int64(st, idx, v->i);
            break;
        case TC_DBV_REAL:
            rc = sqlite3_bind_double(st, idx, v->d);
            break;
        case TC_DBV_BLOB:
            rc = sqlite3_bind_blob64(st, idx, v->p ? v->p : empty, v->len, how);
            break;
        }
        if (rc != SQLITE_OK)
            return tc_failf(err, TC_DB, NULL, "cannot bind parameter $%d: %s", idx,
                            sqlite3_errstr(rc));
    }
    return TC_OK;
}

/* ---- checkpointer ------------------------------------------------------------------ */

static void *checkpointer(void *arg)
{
    sq_db *d = arg;
    sqlite3 *h = NULL;
    if (sqlite3_open_v2(d->path, &h, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
        tc_log(TC_LOG_WARN, "SQLite checkpointer could not open the database; writers checkpoint", NULL);
        sqlite3_close(h);
        return NULL;
    }
    sqlite3_busy_timeout(h, BUSY_TIMEOUT_MS);
    pthread_mutex_lock(&d->ck_lock);
    while (!d->ck_stop) {
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_sec += CKPT_IDLE_MS / 1000;
        while (!d->ck_wanted && !d->ck_stop)
            if (pthread_cond_timedwait(&d->ck_cond, &d->ck_lock, &until) == ETIMEDOUT)
                break;
        if (d->ck_stop)
            break;
        d->ck_wanted = false;
        pthread_mutex_unlock(&d->ck_lock);
        sqlite3_wal_checkpoint_v2(h, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
        pthread_mutex_lock(&d->ck_lock);
    }
    pthread_mutex_unlock(&d->ck_lock);
    sqlite3_close(h);
    return NULL;
}

/* Called by SQLite after each commit with the WAL size in pages. Replaces
 * the built-in autocheckpoint.
 *
 * The background passive checkpoints copy pages back without waiting, but
 * under steady load some reader always holds a WAL snapshot, so the log is
 * never rewound and grows to the inline limit (~80 MB; every page lookup
 * then searches more of the WAL index). Past CKPT_RESTART_PAGES the
 * committing writer (it holds the pool's writer lock, so no other writer of
 * this process competes) runs a RESTART checkpoint that waits at most
 * CKPT_RESTART_WAIT_MS for readers; the pages are mostly copied already,
 * and the next commit starts the log from the beginning. */
static int wal_hook(void *arg, sqlite3 *h, const char *name, int pages)
{
    sq_db *d = arg;
    if (pages >= CKPT_INLINE_PAGES || !d->ck_started) {
        if (pages >= CKPT_PAGES)
            sqlite3_wal_checkpoint_v2(h, name, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
        return SQLITE_OK;
    }
    if (pages >= CKPT_RESTART_PAGES) {
        sqlite3_busy_timeout(h, CKPT_RESTART_WAIT_MS);
        sqlite3_wal_checkpoint_v2(h, name, SQLITE_CHECKPOINT_RESTART, NULL, NULL);
        sqlite3_busy_timeout(h, BUSY_TIMEOUT_MS);
        return SQLITE_OK;
    }
    if (pages >= CKPT_PAGES) {
        pthread_mutex_lock(&d->ck_lock);
        d->ck_wanted = true;
        pthread_cond_signal(&d->ck_cond);
        pthread_mutex_unlock(&d->ck_lock);
    }
    return SQLITE_OK;
}

static void checkpointer_start(sq_db *d)
{
    pthread_mutex_init(&d->ck_lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&d->ck_cond, &ca);
    pthread_condattr_destroy(&ca);
    d->ck_started = pthread_create(&d->ck_thread, NULL, checkpointer, d) == 0;
}

static void checkpointer_stop(sq_db *d)
{
    if (d->ck_started) {
        pthread_mutex_lock(&d->ck_lock);
        d->ck_stop = true;
        pthread_cond_signal(&d->ck_cond);
        pthread_mutex_unlock(&d->ck_lock);
        pthread_join(d->ck_thread, NULL);
        d->ck_started = false;
    }
    pthread_cond_destroy(&d->ck_cond);
    pthread_mutex_destroy(&d->ck_lock);
}

/* ---- pool ---------------------------------------------------------------------- */

/* The database holds password hashes and ciphertexts: a new file is created
 * readable by its owner only (SQLite gives the -wal and -shm files the same
 * mode). An existing file keeps its mode. */
static void create_private(const char *path)
{
    if (!strncmp(path, "file:", 5))
        return;
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd >= 0)
        close(fd);
}

/* SQLite counts every allocation in global statistics under one global
 * mutex (SQLITE_DEFAULT_MEMSTATUS=1 in Debian's build): with a dozen
 * threads in SQLite that mutex was a top reason threads slept (perf
 * sched_switch). Nothing here reads those statistics. Must run before
 * SQLite initialises; later calls are refused and change nothing. */
static void no_memstatus(void)
{
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

static tc_status sq_setup(tc_db *db, const char *url, int *pool_size, tc_err *err)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, no_memstatus);
    sq_db *d = db->priv;
    const char *path = url + strlen("sqlite:");
    if (!strncmp(path, "//", 2))
        path += 2;
    if (!*path)
        return tc_failf(err, TC_BAD_REQUEST, "database_url", "sqlite: URL needs a file path");
    d->path = tc_strdup(path);
    /* every :memory: connection is a separate database: keep just one */
    if (!strcmp(path, ":memory:"))
        *pool_size = 1;
    else
        create_private(path);
    d->memory = !strcmp(path, ":memory:");
    pthread_mutex_init(&d->wlock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&d->wfree, &ca);
    pthread_condattr_destroy(&ca);
    return TC_OK;
}

static void close_handle(sq_conn *k)
{
    for (int i = 0; i < k->ncache; i++) {
        sqlite3_finalize(k->cache[i].st);
        tc_free(k->cache[i].sql);
    }
    k->ncache = 0;
    if (k->h) {
        sqlite3_exec(k->h, "PRAGMA optimize", NULL, NULL, NULL);
        sqlite3_close(k->h);
    }
    k->h = NULL;
}

static void sq_teardown(tc_db *db)
{
    sq_db *d = db->priv;
    if (!d->path)
        return;
    if (d->ck_inited)
        checkpointer_stop(d);
    if (d->writer) {
        close_handle(d->writer);
        tc_free(d->writer);
        d->writer = NULL;
    }
    pthread_mutex_destroy(&d->wlock);
    pthread_cond_destroy(&d->wfree);
    tc_free(d->path);
}

static const char pragmas[] =
    "PRAGMA journal_mode = WAL;"
    "PRAGMA synchronous = NORMAL;"
    "PRAGMA foreign_keys = ON;"
    "PRAGMA temp_store = MEMORY;"
    /* No memory-mapped reads: in WAL mode a connection whose read
     * transaction sees that another one committed drops its whole mapping
     * (munmap, then mmap and page faults again; a TLB shootdown across
     * cores each time). Under steady writes that was every read
     * transaction: ~1.5 munmap per tool call, ~5 % of the server's CPU in
     * the kernel. pread copies into each connection's cache are cheaper. */
    "PRAGMA mmap_size = 0;";

/* Opens k->h with the pragmas. The writer handle is shared by threads in
 * turn (FULLMUTEX: rows read after their transaction ended may still step
 * while the next holder writes). */
static tc_status open_handle(sq_db *d, sq_conn *k, bool shared, tc_err *err)
{
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
                (shared ? SQLITE_OPEN_FULLMUTEX : SQLITE_OPEN_NOMUTEX);
    int rc = sqlite3_open_v2(d->path, &k->h, flags, NULL);
    if (rc != SQLITE_OK) {
        tc_status s = tc_failf(err, TC_UNAVAILABLE, "database_url", "cannot open SQLite database %s: %s",
                               d->path, k->h ? sqlite3_errmsg(k->h) : sqlite3_errstr(rc));
        sqlite3_close(k->h);
        k->h = NULL;
        return s;
    }
    sqlite3_extended_result_codes(k->h, 1);
    sqlite3_busy_timeout(k->h, BUSY_TIMEOUT_MS);
    sqlite3_wal_hook(k->h, wal_hook, d);
    char *msg = NULL;
    /* Switching a new file to WAL takes an exclusive lock, and a handle
     * opened meanwhile (another process migrating, or this pool's writer
     * handle) can get SQLITE_BUSY without the busy handler being called:
     * retry for up to the busy timeout. */
    for (int tries = 0;; tries++) {
        rc = sqlite3_exec(k->h, pragmas, NULL, NULL, &msg);
        if ((rc & 0xff) != SQLITE_BUSY || tries * 10 >= BUSY_TIMEOUT_MS)
            break;
        sqlite3_free(msg);
        msg = NULL;
        nanosleep(&(struct timespec){.tv_nsec = 10 * 1000000}, NULL);
    }
    if (rc != SQLITE_OK) {
        tc_status s = tc_failf(err, TC_UNAVAILABLE, "database_url", "cannot set up SQLite database %s: %s",
                               d->path, msg ? msg : sqlite3_errstr(rc));
        sqlite3_free(msg);
        sqlite3_close(k->h);
        k->h = NULL;
        return s;
    }
    return TC_OK;
}

static tc_status sq_connect(tc_db_conn *c, tc_err *err)
{
    sq_db *d = DB(c);
    tc_status s = open_handle(d, OWN(c), false, err);
    if (s != TC_OK || d->memory)
        return s;
    /* once the file exists and is in WAL mode */
    pthread_mutex_lock(&d->wlock);
    if (!d->writer) {
        sq_conn *w = tc_calloc(1, sizeof(*w));
        s = open_handle(d, w, true, err);
        if (s == TC_OK)
            d->writer = w;
        else
            tc_free(w);
    }
    pthread_mutex_unlock(&d->wlock);
    if (s == TC_OK && !d->ck_inited) {
        checkpointer_start(d);
        d->ck_inited = true;
    }
    return s;
}

static void sq_disconnect(tc_db_conn *c)
{
    close_handle(OWN(c));
}

/* ---- statements ------------------------------------------------------------------ */

/* Prepares sql on the handle it must run on and binds params. A write
 * outside a transaction takes the writer lock for its duration (*locked),
 * and is prepared again on the writer handle. */
static tc_status prepare_bound(tc_db_conn *c, const char *sql, const tc_dbv *params, size_t n,
                               bool copy, sqlite3_stmt **st, cache_ent **ent, bool *locked,
                               tc_err *err)
{
    *locked = false;
    tc_status s = prepare(c, sql, st, ent, err);
    if (s == TC_OK && !sqlite3_stmt_readonly(*st) && OWN(c)->writer_depth == 0) {
        unprepare(*st, *ent);
        *st = NULL;
        s = writer_lock(c, err);
        *locked = s == TC_OK;
        if (s == TC_OK)
            s = prepare(c, sql, st, ent, err);
    }
    if (s == TC_OK)
        s = bind_all(*st, *ent, params, n, copy, err);
    if (s != TC_OK) {
        unprepare(*st, *ent);
        *st = NULL;
        if (*locked)
            writer_unlock(c);
        *locked = false;
    }
    return s;
}

/* Runs a statement to its end; *affected (rows changed) and *rowid (the
 * last inserted rowid) when asked for. */
static tc_status run_write(tc_db_conn *c, const char *sql, const tc_dbv *params, size_t n,
                           int64_t *affected, int64_t *rowid, tc_err *err)
{
    sqlite3_stmt *st = NULL;
    cache_ent *ent = NULL;
    bool locked = false;
    tc_status s = prepare_bound(c, sql, params, n, false, &st, &ent, &locked, err);
    if (s != TC_OK)
        return s;
    sqlite3 *h = CONN(c)->h;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        ;
    if (rc != SQLITE_DONE) {
        s = map_error(h, rc, err);
    } else {
        if (affected)
            *affected = sqlite3_changes64(h);
        if (rowid)
            *rowid = sqlite3_last_insert_rowid(h);
    }
    unprepare(st, ent);
    if (locked)
        writer_unlock(c);
    return s;
}

static tc_status sq_exec(tc_db_conn *c, const char *sql, const tc_dbv *params, size_t n,
                         int64_t *affected, tc_err *err)
{
    return run_write(c, sql, params, n, affected, NULL, err);
}

static tc_status sq_insert_id(tc_db_conn *c, const char *sql, const tc_dbv *params, size_t n,
                              int64_t *id, tc_err *err)
{
    return run_write(c, sql, params, n, NULL, id, err);
}

static tc_status sq_query(tc_db_conn *c, const char *sql, const tc_dbv *params, size_t n,
                          tc_db_rows **out, tc_err *err)
{
    sqlite3_stmt *st = NULL;
    cache_ent *ent = NULL;
    bool locked = false;
    tc_status s = prepare_bound(c, sql, params, n, true, &st, &ent, &locked, err);
    if (s != TC_OK)
        return s;
    sqlite3 *h = CONN(c)->h;
    /* step once here so errors (a conflict in INSERT .. RETURNING) surface
     * from tc_db_query rather than vanish in rows_next */
    int rc = sqlite3_step(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        s = map_error(h, rc, err);
        unprepare(st, ent);
        if (locked)
            writer_unlock(c);
        return s;
    }
    sq_rows *r = tc_calloc(1, sizeof(*r));
    *r = (sq_rows){.base.conn = c, .st = st, .ent = ent, .holds_writer = locked, .first = true,
                   .rc = rc, .h = h};
    *out = &r->base;
    return TC_OK;
}

static tc_status sq_exec_script(tc_db_conn *c, const char *sql, tc_err *err)
{
    tc_status s = writer_lock(c, err);
    if (s != TC_OK)
        return s;
    char *msg = NULL;
    int rc = sqlite3_exec(CONN(c)->h, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK)
        s = tc_failf(err, TC_DB, NULL, "%s", msg ? msg : sqlite3_errstr(rc));
    sqlite3_free(msg);
    writer_unlock(c);
    return s;
}

/* ---- rows ------------------------------------------------------------------------- */

static sq_rows *ROWS(tc_db_rows *r)
{
    return (sq_rows *)r;
}

static bool sq_rows_next(tc_db_rows *rr)
{
    sq_rows *r = ROWS(rr);
    if (r->first) {
        r->first = false;
        return r->rc == SQLITE_ROW;
    }
    if (r->rc != SQLITE_ROW)
        return false;
    r->rc = sqlite3_step(r->st);
    if (r->rc != SQLITE_ROW && r->rc != SQLITE_DONE) {
        tc_err e;
        tc_err_clear(&e);
        map_error(r->h, r->rc, &e);
        tc_log(TC_LOG_ERROR, "database error while reading rows", "error", e.message, NULL);
        __atomic_fetch_add(&rr->conn->db->errors, 1, __ATOMIC_RELAXED);
    }
    return r->rc == SQLITE_ROW;
}

static int sq_rows_ncols(tc_db_rows *r)
{
    return sqlite3_column_count(ROWS(r)->st);
}

static bool sq_rows_isnull(tc_db_rows *r, int col)
{
    return sqlite3_column_type(ROWS(r)->st, col) == SQLITE_NULL;
}

static const char *sq_rows_text(tc_db_rows *r, int col)
{
    return (const char *)sqlite3_column_text(ROWS(r)->st, col);
}

static int64_t sq_rows_int(tc_db_rows *r, int col)
{
    return sqlite3_column_int64(ROWS(r)->st, col);
}

static double sq_rows_real(tc_db_rows *r, int col)
{
    return sqlite3_column_double(ROWS(r)->st, col);
}

static const void *sq_rows_blob(tc_db_rows *r, int col, size_t *len)
{
    sqlite3_stmt *st = ROWS(r)->st;
    if (sqlite3_column_type(st, col) == SQLITE_NULL) {
        *len = 0;
        return NULL;
    }
    const void *p = sqlite3_column_blob(st, col);
    *len = (size_t)sqlite3_column_bytes(st, col);
    return p ? p : empty;
}

static void sq_rows_free(tc_db_rows *rr)
{
    sq_rows *r = ROWS(rr);
    sq_db *d = DB(rr->conn);
    /* rows of the writer handle outliving their transaction: its statement
     * cache belongs to whoever holds the lock now */
    bool relock = !r->holds_writer && d->writer && r->h == d->writer->h &&
                  OWN(rr->conn)->writer_depth == 0 && writer_lock(rr->conn, NULL) == TC_OK;
    unprepare(r->st, r->ent);
    if (r->holds_writer || relock)
        writer_unlock(rr->conn);
    tc_free(r);
}

/* ---- transactions -------------------------------------------------------------------- */

static tc_status run_simple(tc_db_conn *c, const char *sql, tc_err *err)
{
    sqlite3_stmt *st = NULL;
    cache_ent *ent = NULL;
    tc_status s = prepare(c, sql, &st, &ent, err);
    if (s != TC_OK)
        return s;
    int rc = sqlite3_step(st);
    if (rc != SQLITE_DONE)
        s = map_error(CONN(c)->h, rc, err);
    unprepare(st, ent);
    return s;
}

static tc_status sq_begin(tc_db_conn *c, tc_err *err)
{
    tc_status s = writer_lock(c, err);
    if (s != TC_OK)
        return s;
    s = run_simple(c, "BEGIN IMMEDIATE", err);
    if (s != TC_OK) {
        writer_unlock(c);
        return s;
    }
    return TC_OK;
}

static void end_tx(tc_db_conn *c)
{
    if (!sqlite3_get_autocommit(CONN(c)->h))
        run_simple(c, "ROLLBACK", NULL);
    writer_unlock(c);
}

static tc_status sq_commit(tc_db_conn *c, tc_err *err)
{
    tc_status s = run_simple(c, "COMMIT", err);
    end_tx(c);
    return s;
}

static void sq_rollback(tc_db_conn *c)
{
    end_tx(c);
}

const tc_db_driver tc_db__sqlite_driver = {
    .name = "sqlite",
    .kind = TC_DB_SQLITE,
    .db_size = sizeof(sq_db),
    .conn_size = sizeof(sq_conn),
    .setup = sq_setup,
    .teardown = sq_teardown,
    .connect = sq_connect,
    .disconnect = sq_disconnect,
    .exec = sq_exec,
    .query = sq_query,
    .insert_id = sq_insert_id,
    .exec_script = sq_exec_script,
    .rows_next = sq_rows_next,
    .rows_ncols = sq_rows_ncols,
    .rows_isnull = sq_rows_isnull,
    .rows_text = sq_rows_text,
    .rows_int = sq_rows_int,
    .rows_real = sq_rows_real,
    .rows_blob = sq_rows_blob,
    .rows_free = sq_rows_free,
    .begin = sq_begin,
    .commit = sq_commit,
    .rollback = sq_rollback,
    .migrate_lock = NULL,
    .migrate_unlock = NULL,
};
