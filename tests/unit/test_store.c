/* The store contract suite: written against store/db.h only, so the same
 * tests run on every driver. SQLite (a temp file) by default; PostgreSQL when
 * TC_TEST_PG_URL is set (ctest entry store.postgres), each test in its own
 * schema so tests are isolated. */
#include <pthread.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "runner.h"
#include "store/db.h"
#include "test_store_fixture.h"

/* ---- fixtures ------------------------------------------------------------- */

/* fixtures: test_store_fixture.h (a fresh database per test, either backend) */

static tc_status exec(tc_db_conn *c, const char *sql, const tc_dbv *p, size_t n)
{
    tc_err err;
    tc_err_clear(&err);
    return tc_db_exec(c, sql, p, n, NULL, &err);
}

#define EXEC_OK(c, sql, ...)                                                   \
    do {                                                                       \
        tc_dbv p_[] = {__VA_ARGS__};                                           \
        tc_err e_;                                                             \
        tc_err_clear(&e_);                                                     \
        tc_status s_ = tc_db_exec(c, sql, p_, sizeof(p_) / sizeof(p_[0]), NULL, &e_); \
        if (s_ != TC_OK)                                                       \
            tc_test_fail(__FILE__, __LINE__, "%s: %s", sql, e_.message);        \
    } while (0)

#define EXEC0(c, sql)                                                          \
    do {                                                                       \
        tc_err e_;                                                             \
        tc_err_clear(&e_);                                                     \
        if (tc_db_exec(c, sql, NULL, 0, NULL, &e_) != TC_OK)                   \
            tc_test_fail(__FILE__, __LINE__, "%s: %s", sql, e_.message);        \
    } while (0)

/* First column of the first row as an integer (count queries). */
static int64_t scalar(tc_db_conn *c, const char *sql, const tc_dbv *p, size_t n)
{
    tc_db_rows *r = NULL;
    tc_err err;
    tc_err_clear(&err);
    if (tc_db_query(c, sql, p, n, &r, &err) != TC_OK)
        tc_test_fail(__FILE__, __LINE__, "%s: %s", sql, err.message);
    int64_t v = tc_db_rows_next(r) ? tc_db_rows_int(r, 0) : -1;
    tc_db_rows_free(r);
    return v;
}

static void add_user(tc_db_conn *c, const char *id, const char *email)
{
    EXEC_OK(c, "INSERT INTO users (id, email, password_hash) VALUES ($1, $2, $3)",
            TC_DBV_STR(id), TC_DBV_STR(email), TC_DBV_STR("$argon2id$x"));
}

static void add_connector(tc_db_conn *c, const char *id, const char *owner, const char *slug)
{
    EXEC_OK(c, "INSERT INTO connectors (id, owner_id, slug, name, auth_type, source)"
               " VALUES ($1, $2, $3, $3, 'api_key', $4)",
            TC_DBV_STR(id), TC_DBV_STR(owner), TC_DBV_STR(slug),
            TC_DBV_STR(owner ? "custom" : "catalog"));
}

static void add_job(tc_db_conn *c, const char *id, const char *user)
{
    EXEC_OK(c, "INSERT INTO pipeline_jobs (id, user_id, connector, tool, queued_at)"
               " VALUES ($1, $2, 'github', 'list_repos', $3)",
            TC_DBV_STR(id), TC_DBV_STR(user), TC_DBV_I64(tc_now_ms()));
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* ---- opening, migrations ------------------------------------------------------ */

TEST(store_open_rejects_bad_urls)
{
    tc_db *db = NULL;
    tc_err err;
    tc_err_clear(&err);
    ASSERT_STATUS(tc_db_open("mysql://x", 2, &db, &err), TC_BAD_REQUEST);
    ASSERT_STR_EQ(err.field, "database_url");
    ASSERT_NULL(db);
    ASSERT_STATUS(tc_db_open("sqlite:", 2, &db, &err), TC_BAD_REQUEST);
    ASSERT_STATUS(tc_db_open("", 2, &db, &err), TC_BAD_REQUEST);
    char *missing = tc_asprintf("sqlite:%s/no/such/dir/x.db", tc_test_tmpdir());
    ASSERT_STATUS(tc_db_open(missing, 2, &db, &err), TC_UNAVAILABLE);
    ASSERT_STR_CONTAINS(err.message, "cannot open");
    ASSERT_NULL(db);
    tc_free(missing);
}

TEST(store_sqlite_file_is_private)
{
    char *path = tc_asprintf("%s/private.db", tc_test_tmpdir());
    char *url = tc_asprintf("sqlite:%s", path);
    tc_db *db = NULL;
    tc_err err;
    tc_err_clear(&err);
    ASSERT_OK(tc_db_open(url, 2, &db, &err));
    ASSERT_EQ(tc_db_kind_of(db), TC_DB_SQLITE);
    ASSERT_OK(tc_db_migrate(db, &err));
    struct stat st;
    ASSERT_EQ(stat(path, &st), 0);
    ASSERT_EQ(st.st_mode & 0777, 0600);
    tc_db_close(db);
    tc_free(url);
    tc_free(path);
}

TEST(store_sqlite_memory_is_one_connection)
{
    tc_db *db = NULL;
    tc_err err;
    tc_err_clear(&err);
    ASSERT_OK(tc_db_open("sqlite::memory:", 8, &db, &err));
    ASSERT_OK(tc_db_migrate(db, &err));
    tc_db_stats st;
    tc_db_stats_get(db, &st);
    ASSERT_EQ(st.pool_size, 1);
    ASSERT_OK(tc_db_ping(db, &err));
    tc_db_close(db);
}

TEST(store_migrate_twice_is_idempotent)
{
    tc_db *db = tc_test_store_open_plain(2);
    tc_err err;
    tc_err_clear(&err);
    ASSERT_OK(tc_db_migrate(db, &err));
    tc_db_conn *c = tc_db_acquire(db);
    int64_t n = scalar(c, "SELECT COUNT(*) FROM schema_migrations", NULL, 0);
    int64_t v = scalar(c, "SELECT MAX(version) FROM schema_migrations", NULL, 0);
    ASSERT(n >= 1);
    add_user(c, "u1", "a@example.com");
    tc_db_release(c);

    ASSERT_OK(tc_db_migrate(db, &err));
    ASSERT_OK(tc_db_migrate(db, &err));
    c = tc_db_acquire(db);
    ASSERT_EQ(scalar(c, "SELECT COUNT(*) FROM schema_migrations", NULL, 0), n);
    ASSERT_EQ(scalar(c, "SELECT MAX(version) FROM schema_migrations", NULL, 0), v);
    ASSERT_EQ(scalar(c, "SELECT COUNT(*) FROM users", NULL, 0), 1);
    tc_db_release(c);
    tc_test_store_close(db);
}

typedef struct {
    const char *url;
    tc_status status;
    char message[TC_ERR_MSG_MAX];
} migrator_arg;

static void *migrator(void *p)
{
    migrator_arg *a = p;
    tc_db *db = NULL;
    tc_err err;
    tc_err_clear(&err);
    a->status = tc_db_open(a->url, 1, &db, &err);
    if (a->status == TC_OK)
        a->status = tc_db_migrate(db, &err);
    snprintf(a->message, sizeof(a->message), "%s", err.message);
    tc_db_close(db);
    return NULL;
}

/* Instances starting together: every one succeeds, each version once. */
TEST(store_concurrent_migrations_are_safe)
{
    char *url = tc_test_store_url();
    enum { N = 4 };
    pthread_t t[N];
    migrator_arg a[N];
    for (int i = 0; i < N; i++) {
        a[i] = (migrator_arg){.url = url};
        ASSERT_EQ(pthread_create(&t[i], NULL, migrator, &a[i]), 0);
    }
    for (int i = 0; i < N; i++) {
        pthread_join(t[i], NULL);
        if (a[i].status != TC_OK)
            tc_test_fail(__FILE__, __LINE__, "migrator %d: %s", i, a[i].message);
    }
    tc_db *db = NULL;
    tc_err err;
    tc_err_clear(&err);
    ASSERT_OK(tc_db_open(url, 1, &db, &err));
    tc_db_conn *c = tc_db_acquire(db);
    ASSERT_EQ(scalar(c, "SELECT COUNT(*) FROM schema_migrations", NULL, 0),
              scalar(c, "SELECT COUNT(DISTINCT version) FROM schema_migrations", NULL, 0));
    ASSERT(scalar(c, "SELECT COUNT(*) FROM schema_migrations WHERE version = 1", NULL, 0) == 1);
    tc_db_release(c);
    tc_free(url);
    tc_test_store_close(db);
}

TEST(store_migrate_refuses_newer_schema)
{
    tc_db *db = tc_test_store_open(1);
    tc_db_conn *c = tc_db_acquire(db);
    EXEC0(c, "INSERT INTO schema_migrations (version, name, applied_at) VALUES (9999, 'future', 0)");
    tc_db_release(c);
    tc_err err;
    tc_err_clear(&err);
    ASSERT_STATUS(tc_db_migrate(db, &err), TC_DB);
    ASSERT_STR_CONTAINS(err.message, "newer");
    tc_test_store_close(db);
}

TEST(store_ping_and_stats)
{
    tc_db *db = tc_test_store_open(3);
    tc_err err;
    tc_err_clear(&err);
    ASSERT_OK(tc_db_ping(db, &err));
    tc_db_stats st;
    tc_db_stats_get(db, &st);
    ASSERT_EQ(st.pool_size, 3);
    ASSERT_EQ(st.in_use, 0);
    ASSERT(st.queries > 0);
    tc_db_conn *a = tc_db_acquire(db), *b = tc_db_acquire(db);
    tc_db_stats_get(db, &st);
    ASSERT_EQ(st.in_use, 2);
    uint64_t errors = st.errors;
    ASSERT_STATUS(exec(a, "SELECT no_such_column FROM users", NULL, 0), TC_DB);
    tc_db_stats_get(db, &st);
    ASSERT_EQ(st.errors, errors + 1);
    tc_db_release(a);
    tc_db_release(b);
    tc_test_store_close(db);
}

/* ---- values ----------------------------------------------------------------------- */

static void make_values_table(tc_db_conn *c)
{
    if (tc_db_conn_kind(c) == TC_DB_POSTGRES)
        EXEC0(c, "CREATE TABLE tv (k TEXT PRIMARY KEY, t TEXT, i BIGINT, r DOUBLE PRECISION, b BYTEA)");
    else
        EXEC0(c, "CREATE TABLE tv (k TEXT PRIMARY KEY, t TEXT, i INTEGER, r REAL, b BLOB)");
}

TEST(store_bind_every_type)
{
    tc_db *db = tc_test_store_open(1);
    tc_db_conn *c = tc_db_acquire(db);
    make_values_table(c);
    const char *text = "it's \"quoted\" \\ back$1slash; -- not a comment \xc3\xa9\xe2\x9c\x93\xf0\x9f\x98\x80";
    const unsigned char blob[] = {0x00, 0xff, 0x27, 0x5c, 0x00, 0x01, 0x80};
    EXEC_OK(c, "INSERT INTO tv (k, t, i, r, b) VALUES ($1, $2, $3, $4, $5)", TC_DBV_STR("a"),
            TC_DBV_STR(text), TC_DBV_I64(INT64_MIN), (tc_dbv){.type = TC_DBV_REAL, .d = -3.25e-300},
            TC_DBV_BLOBV(blob, sizeof(blob)));
    EXEC_OK(c, "INSERT INTO tv (k, t, i, r, b) VALUES ($1, $2, $3, $4, $5)", TC_DBV_STR("b"),
            TC_DBV_STR(""), TC_DBV_I64(INT64_MAX), (tc_dbv){.type = TC_DBV_REAL, .d = 0.1},
            TC_DBV_BLOBV(blob, 0));
    EXEC_OK(c, "INSERT INTO tv (k, t, i, r, b) VALUES ($1, $2, $3, $4, $5)", TC_DBV_STR("c"),
            TC_DBV_STR(NULL), TC_DBV_NULLV, TC_DBV_NULLV, TC_DBV_NULLV);
    /* a length-limited TEXT binds only its first len bytes */
    EXEC_OK(c, "INSERT INTO tv (k, t) VALUES ($1, $2)", TC_DBV_STR("d"),
            ((tc_dbv){.type = TC_DBV_TEXT, .p = "abcdef", .len = 3}));

    tc_db_rows *r = NULL;
    tc_err err;
    tc_err_clear(&err);
    ASSERT_OK(tc_db_query(c, "SELECT k, t, i, r, b FROM tv ORDER BY k", NULL, 0, &r, &err));
    ASSERT(tc_db_rows_next(r));
    ASSERT_EQ(tc_db_rows_ncols(r), 5);
    ASSERT_STR_EQ(tc_db_rows_text(r, 0), "a");
    ASSERT_STR_EQ(tc_db_rows_text(r, 1), text);
    ASSERT(tc_db_rows_int(r, 2) == INT64_MIN);
    ASSERT(tc_db_rows_real(r, 3) == -3.25e-300);
    size_t len = 0;
    const void *p = tc_db_rows_blob(r, 4, &len);
    ASSERT_EQ(len, sizeof(blob));
    ASSERT(p && !memcmp(p, blob, sizeof(blob)));

    ASSERT(tc_db_rows_next(r));
    ASSERT_FALSE(tc_db_rows_isnull(r, 1));
    ASSERT_STR_EQ(tc_db_rows_text(r, 1), "");
    ASSERT(tc_db_rows_int(r, 2) == INT64_MAX);
    ASSERT(tc_db_rows_real(r, 3) == 0.1);
    ASSERT_FALSE(tc_db_rows_isnull(r, 4));
    p = tc_db_rows_blob(r, 4, &len);
    ASSERT_NOT_NULL(p);
    ASSERT_EQ(len, 0);

    ASSERT(tc_db_rows_next(r));
    for (int col = 1; col < 5; col++)
        ASSERT(tc_db_rows_isnull(r, col));
    ASSERT_NULL(tc_db_rows_text(r, 1));
    ASSERT_EQ(tc_db_rows_int(r, 2), 0);
    ASSERT_NULL(tc_db_rows_blob(r, 4, &len));
    ASSERT_EQ(len, 0);

    ASSERT(tc_db_rows_next(r));
    ASSERT_STR_EQ(tc_db_rows_text(r, 1), "abc");
    ASSERT_FALSE(tc_db_rows_next(r));
    ASSERT_FALSE(tc_db_rows_next(r));
    tc_db_rows_free(r);

    /* parameters compare by value, reused and past $9; literals keep "$1" */
    tc_dbv many[11];
    for (int i = 0; i < 10; i++)
        many[i] = TC_DBV_STR("zzz");
    many[10] = TC_DBV_STR(text);
    ASSERT_EQ(scalar(c, "SELECT COUNT(*) FROM tv WHERE t = $11 OR k = $11 OR t IN ($1, $2, $3, $4,"
                        " $5, $6, $7, $8, $9, $10)", many, 11), 1);
    tc_dbv one[] = {TC_DBV_STR("a")};
    ASSERT_OK(tc_db_query(c, "SELECT '$1 stays', k FROM tv WHERE k = $1", one, 1, &r, &err));
    ASSERT(tc_db_rows_next(r));
    ASSERT_STR_EQ(tc_db_rows_text(r, 0), "$1 stays");
    tc_db_rows_free(r);
    tc_db_release(c);
    tc_test_store_close(db);
}

TEST(store_param_count_mismatch_is_an_error)
{
    tc_db *db = tc_test_store_open(1);
    tc_db_conn *c = tc_db_acquire(db);
    tc_dbv p[] = {TC_DBV_STR("x")};
    ASSERT(exec(c, "SELECT COUNT(*) FROM users WHERE id = $1 AND email = $2", p, 1) != TC_OK);
    ASSERT(exec(c, "SELECT COUNT(*) FROM users", p, 1) != TC_OK);
    /* every $N up to n must appear (PostgreSQL could not type a gap) */
    tc_dbv two[] = {TC_DBV_STR("x"), TC_DBV_STR("y")};
    ASSERT(exec(c, "SELECT COUNT(*) FROM users WHERE id = $2", two, 2) != TC_OK);
    /* the connection still works afterwards */
    ASSERT_EQ(scalar(c, "SELECT COUNT(*) FROM users", NULL, 0), 0);
    tc_db_release(c);
    tc_test_store_close(db);
}

TEST(store_returning_and_monotonic_ids)
{
    tc_db *db = tc_test_store_open(1);
    tc_db_conn *c = tc_db_acquire(db);
    add_user(c, "u1", "a@example.com");
    add_job(c, "j1", "u1");
    int64_t last = 0;
    for (int i = 0; i < 5; i++) {
        tc_dbv p[] = {TC_DBV_STR("j1"), TC_DBV_STR("u1"), TC_DBV_STR("step")};
        int64_t id = scalar(c, "INSERT INTO pipeline_events (job_id, user_id, message)"
                               " VALUES ($1, $2, $3) RETURNING id", p, 3);
        ASSERT(id > last);
        last = id;
    }
    /* a conflict inside INSERT .. RETURNING is reported by the query itself */
    tc_db_rows *r = NULL;
    tc_err err;
    tc_err_clear(&err);
    tc_dbv dup[] = {TC_DBV_STR("u1"), TC_DBV_STR("other@example.com")};
    ASSERT_STATUS(tc_db_query(c, "INSERT INTO users (id, email, password_hash) VALUES ($1, $2, 'x')"
                                 " RETURNING id", dup, 2, &r, &err), TC_CONFLICT);
    ASSERT_NULL(r);
    tc_db_release(c);
    tc_test_store_close(db);
}

/* ---- constraints ---------------------------------------------------------------------- */

TEST(store_unique_violation_is_conflict)
{
    tc_db *db = tc_test_store_open(1);
    tc_db_conn *c = tc_db_acquire(db);
    add_user(c, "u1", "Alice@Example.com");
    tc_dbv same_case[] = {TC_DBV_STR("u2"), TC_DBV_STR("alice@example.COM")};
    ASSERT_STATUS(exec(c, "INSERT INTO users (id, email, password_hash) VALUES ($1, $2, 'x')",
                       same_case, 2), TC_CONFLICT);
    tc_dbv same_id[] = {TC_DBV_STR("u1"), TC_DBV_STR("bob@example.com")};
    ASSERT_STATUS(exec(c, "INSERT INTO users (id, email, password_hash) VALUES ($1, $2, 'x')",
                       same_id, 2), TC_CONFLICT);
    /* catalog slugs are unique among catalog rows (NULL owner) too */
    add_connector(c, "c1", NULL, "github");
    tc_dbv dup[] = {TC_DBV_STR("c2"), TC_DBV_STR("github")};
    ASSERT_STATUS(exec(c, "INSERT INTO connectors (id, slug, name, auth_type) VALUES ($1, $2, $2, 'none')",
                       dup, 2), TC_CONFLICT);
    /* a user's custom connector may reuse a catalog slug, but only once */
    add_connector(c, "c3", "u1", "github");
    tc_dbv dup2[] = {TC_DBV_STR("c4"), TC_DBV_STR("u1"), TC_DBV_STR("github")};
    ASSERT_STATUS(exec(c, "INSERT INTO connectors (id, owner_id, slug, name, auth_type)"
                          " VALUES ($1, $2, $3, $3, 'none')", dup2, 3), TC_CONFLICT);
    /* ON CONFLICT works the same on both backends */
    int64_t n = -1;
    tc_err err;
    tc_err_clear(&err);
    ASSERT_OK(tc_db_exec(c, "INSERT INTO connectors (id, slug, name, auth_type) VALUES ($1, $2, $2, 'none')"
                            " ON CONFLICT DO NOTHING", dup, 2, &n, &err));
    ASSERT_EQ(n, 0);
    ASSERT_EQ(scalar(c, "SELECT COUNT(*) FROM users", NULL, 0), 1);
    tc_db_release(c);
    tc_test_store_close(db);
}

TEST(store_checked_enumerations_and_foreign_keys)
{
    tc_db *db = tc_test_store_open(1);
    tc_db_conn *c = tc_db_acquire(db);
    add_user(c, "u1", "a@example.com");
    tc_dbv bad_auth[] = {TC_DBV_STR("c1"), TC_DBV_STR("x"), TC_DBV_STR("oauth")};
    ASSERT_STATUS(exec(c, "INSERT INTO connectors (id, slug, name, auth_type) VALUES ($1, $2, $2, $3)",
                       bad_auth, 3), TC_DB);
    static const char *const good[] = {"oauth2", "api_key", "basic", "bearer", "none"};
    for (int i = 0; i < 5; i++) {
        tc_dbv p[] = {TC_DBV_STR(good[i]), TC_DBV_STR(good[i])};
        ASSERT_OK(exec(c, "INSERT INTO connectors (id, slug, name, auth_type) VALUES ($1, $1, $1, $2)", p, 2));
    }
    tc_dbv bad_level[] = {TC_DBV_STR("u1")};
    add_job(c, "j1", "u1");
    ASSERT_STATUS(exec(c, "INSERT INTO pipeline_events (job_id, user_id, level, message)"
                          " VALUES ('j1', $1, 'debug', 'x')", bad_level, 1), TC_DB);
    tc_dbv bad_status[] = {TC_DBV_STR("u1")};
    ASSERT_STATUS(exec(c, "INSERT INTO user_connections (id, user_id, connector_id, status)"
                          " VALUES ('k1', $1, 'none', 'broken')", bad_status, 1), TC_DB);
    /* a missing parent row is a conflict */
    tc_dbv orphan[] = {TC_DBV_STR("nobody"), TC_DBV_BLOBV("k", 1)};
    ASSERT_STATUS(exec(c, "INSERT INTO webhooks (id, user_id, url, secret) VALUES ('w1', $1, 'https://x', $2)",
                       orphan, 2), TC_CONFLICT);
    tc_db_release(c);
    tc_test_store_close(db);
}

/* ---- transactions ------------------------------------------------------------------------ */

TEST(store_transactions_commit_and_rollback)
{
    tc_db *db = tc_test_store_open(2);
    tc_db_conn *c = tc_db_acquire(db), *other = tc_db_acquire(db);
    tc_err err;
    tc_err_clear(&err);

    ASSERT_OK(tc_db_begin(c, &err));
    ASSERT_STATUS(tc_db_begin(c, &err), TC_INTERNAL);
    add_user(c, "u1", "a@example.com");
    ASSERT_EQ(scalar(c, "SELECT COUNT(*) FROM users", NULL, 0), 1);
    ASSERT_EQ(scalar(other, "SELECT COUNT(*) FROM users", NULL, 0), 0);
    tc_db_rollback(c);
    ASSERT_EQ(scalar(c, "SELECT COUNT(*) FROM users", NULL, 0), 0);

    ASSERT_OK(tc_db_begin(c, &err));
    add_user(c, "u2", "b@example.com");
    add_job(c, "j1", "u2");
    ASSERT_OK(tc_db_commit(c, &err));
    ASSERT_EQ(scalar(other, "SELECT COUNT(*) FROM users", NULL, 0), 1);
    ASSERT_EQ(scalar(other, "SELECT COUNT(*) FROM pipeline_jobs", NULL, 0), 1);
    ASSERT_STATUS(tc_db_commit(c, &err), TC_INTERNAL);

    /* releasing a connection inside a transaction rolls it back */
    ASSERT_OK(tc_db_begin(c, &err));
    add_user(c, "u3", "c@example.com");
    tc_db_release(c);
    ASSERT_EQ(scalar(other, "SELECT COUNT(*) FROM users", NULL, 0), 1);
    c = tc_db_acquire(db);
    ASSERT_OK(tc_db_begin(c, &err));
    add_user(c, "u3", "c@example.com");
    ASSERT_OK(tc_db_commit(c, &err));
    ASSERT_EQ(scalar(other, "SELECT COUNT(*) FROM users", NULL, 0), 2);
    tc_db_release(c);
    tc_db_release(other);
    tc_test_store_close(db);
}

TEST(store_failed_statement_then_rollback_leaves_nothing)
{
    tc_db *db = tc_test_store_open(1);
    tc_db_conn *c = tc_db_acquire(db);
    tc_err err;
    tc_err_clear(&err);
    ASSERT_OK(tc_db_begin(c, &err));
    add_user(c, "u1", "a@example.com");
    tc_dbv dup[] = {TC_DBV_STR("u2"), TC_DBV_STR("A@example.com")};
    ASSERT_STATUS(exec(c, "INSERT INTO users (id, email, password_hash) VALUES ($1, $2, 'x')", dup, 2),
                  TC_CONFLICT);
    tc_db_rollback(c);
    ASSERT_EQ(scalar(c, "SELECT COUNT(*) FROM users", NULL, 0), 0);
    /* the connection is usable for a new transaction */
    ASSERT_OK(tc_db_begin(c, &err));
    add_user(c, "u1", "a@example.com");
    ASSERT_OK(tc_db_commit(c, &err));
    ASSERT_EQ(scalar(c, "SELECT COUNT(*) FROM users", NULL, 0), 1);
    tc_db_release(c);
    tc_test_store_close(db);
}

/* PostgreSQL only: a server-side disconnect fails the statement that meets
 * it, the next one reconnects, and a transaction that lost its session
 * cannot be committed. */
TEST(store_postgres_connection_loss)
{
    if (!tc_test_store_pg_url())
        return; /* SQLite has no server connection to lose */
    tc_db *db = tc_test_store_open(2);
    tc_db_conn *c = tc_db_acquire(db), *killer = tc_db_acquire(db);
    tc_err err;
    tc_err_clear(&err);
    ASSERT_OK(tc_db_begin(c, &err));
    add_user(c, "u1", "a@example.com");
    tc_dbv pid[] = {TC_DBV_I64(scalar(c, "SELECT pg_backend_pid()", NULL, 0))};
    ASSERT_EQ(scalar(killer, "SELECT CASE WHEN pg_terminate_backend(CAST($1 AS INTEGER)) THEN 1 ELSE 0 END", pid, 1), 1);
    sleep_ms(100);
    ASSERT_STATUS(tc_db_commit(c, &err), TC_UNAVAILABLE);
    ASSERT_EQ(scalar(c, "SELECT COUNT(*) FROM users", NULL, 0), 0);   /* reconnected */
    /* after a reset inside a transaction, commit refuses rather than "succeed" */
    ASSERT_OK(tc_db_begin(c, &err));
    add_user(c, "u2", "b@example.com");
    pid[0] = TC_DBV_I64(scalar(c, "SELECT pg_backend_pid()", NULL, 0));
    ASSERT_EQ(scalar(killer, "SELECT CASE WHEN pg_terminate_backend(CAST($1 AS INTEGER)) THEN 1 ELSE 0 END", pid, 1), 1);
    sleep_ms(100);
    ASSERT(exec(c, "SELECT 1", NULL, 0) != TC_OK);                  /* meets the dead socket */
    ASSERT_STATUS(tc_db_commit(c, &err), TC_UNAVAILABLE);           /* reset, but tx is gone */
    ASSERT_EQ(scalar(killer, "SELECT COUNT(*) FROM users", NULL, 0), 0);
    ASSERT_OK(exec(c, "SELECT 1", NULL, 0));
    tc_db_release(c);
    tc_db_release(killer);
    tc_test_store_close(db);
}

TEST(store_postgres_statement_timeout)
{
    if (!tc_test_store_pg_url())
        return; /* PostgreSQL only */
    tc_db *db = tc_test_store_open(1);
    tc_db_conn *c = tc_db_acquire(db);
    tc_db_rows *r = NULL;
    tc_err err;
    tc_err_clear(&err);
    /* the pool's default bound is set on every connection */
    ASSERT_OK(tc_db_query(c, "SELECT current_setting('statement_timeout')", NULL, 0, &r, &err));
    ASSERT(tc_db_rows_next(r));
    ASSERT_STR_EQ(tc_db_rows_text(r, 0), "30s");
    tc_db_rows_free(r);
    ASSERT_OK(tc_db_begin(c, &err));
    EXEC0(c, "SET LOCAL statement_timeout = '50ms'");
    ASSERT_STATUS(exec(c, "SELECT pg_sleep(2)", NULL, 0), TC_TIMEOUT);
    tc_db_rollback(c);
    ASSERT_OK(exec(c, "SELECT 1", NULL, 0));
    tc_db_release(c);
    tc_test_store_close(db);
}

/* ---- the job state machine ------------------------------------------------------------------ */

static tc_status set_status(tc_db_conn *c, const char *job, const char *status, tc_err *err)
{
    tc_dbv p[] = {TC_DBV_STR(status), TC_DBV_STR(job)};
    tc_err_clear(err);
    return tc_db_exec(c, "UPDATE pipeline_jobs SET status = $1 WHERE id = $2", p, 2, NULL, err);
}

TEST(store_job_transitions_enforced)
{
    tc_db *db = tc_test_store_open(1);
    tc_db_conn *c = tc_db_acquire(db);
    tc_err err;
    add_user(c, "u1", "a@example.com");
    add_job(c, "j1", "u1");
    ASSERT_STATUS(set_status(c, "j1", "succeeded", &err), TC_CONFLICT);
    ASSERT_STR_CONTAINS(err.message, "illegal job status transition");
    ASSERT_STATUS(set_status(c, "j1", "failed", &err), TC_CONFLICT);
    ASSERT_OK(set_status(c, "j1", "queued", &err));   /* no change is fine */
    ASSERT_OK(set_status(c, "j1", "running", &err));
    ASSERT_STATUS(set_status(c, "j1", "queued", &err), TC_CONFLICT);
    ASSERT_OK(set_status(c, "j1", "succeeded", &err));
    static const char *const after[] = {"queued", "running", "failed", "canceled"};
    for (int i = 0; i < 4; i++)
        ASSERT_STATUS(set_status(c, "j1", after[i], &err), TC_CONFLICT);

    add_job(c, "j2", "u1");
    ASSERT_OK(set_status(c, "j2", "canceled", &err));
    ASSERT_STATUS(set_status(c, "j2", "running", &err), TC_CONFLICT);
    add_job(c, "j3", "u1");
    ASSERT_OK(set_status(c, "j3", "running", &err));
    ASSERT_OK(set_status(c, "j3", "failed", &err));
    add_job(c, "j4", "u1");
    ASSERT_OK(set_status(c, "j4", "running", &err));
    ASSERT_OK(set_status(c, "j4", "canceled", &err));

    /* inside a transaction the rejected update can be rolled back cleanly */
    add_job(c, "j5", "u1");
    ASSERT_OK(tc_db_begin(c, &err));
    ASSERT_STATUS(set_status(c, "j5", "succeeded", &err), TC_CONFLICT);
    tc_db_rollback(c);

    tc_db_rows *r = NULL;
    ASSERT_OK(tc_db_query(c, "SELECT id, status FROM pipeline_jobs ORDER BY id", NULL, 0, &r, &err));
    static const char *const want[] = {"succeeded", "canceled", "failed", "canceled", "queued"};
    for (int i = 0; i < 5; i++) {
        ASSERT(tc_db_rows_next(r));
        ASSERT_STR_EQ(tc_db_rows_text(r, 1), want[i]);
    }
    tc_db_rows_free(r);
    /* a schedule's due time makes at most one job */
    EXEC0(c, "INSERT INTO scheduler_jobs (id, user_id, name, cron, connector, tool)"
               " VALUES ('s1', 'u1', 'n', '* * * * *', 'github', 't')");
    tc_dbv due[] = {TC_DBV_STR("j6"), TC_DBV_I64(60000)};
    const char *ins = "INSERT INTO pipeline_jobs (id, user_id, connector, tool, queued_at, schedule_id,"
                      " scheduled_for) VALUES ($1, 'u1', 'github', 't', 0, 's1', $2)";
    ASSERT_OK(exec(c, ins, due, 2));
    due[0] = TC_DBV_STR("j7");
    ASSERT_STATUS(exec(c, ins, due, 2), TC_CONFLICT);
    tc_db_release(c);
    tc_test_store_close(db);
}

/* ---- account deletion ---------------------------------------------------------------------------- */

static const char *const user_tables[] = {
    "sessions", "refresh_tokens", "api_keys", "user_connections", "oauth_transactions",
    "scheduler_jobs", "pipeline_jobs", "pipeline_events", "action_logs", "webhooks",
    "webhook_deliveries", "webhook_attempts", "notification_preferences", "notification_outbox",
    "stream_events", "stream_tickets",
};
#define NUSER_TABLES (sizeof(user_tables) / sizeof(user_tables[0]))

/* One row in every user-owned table for user u (suffix keeps ids apart). */
static void fill_user(tc_db_conn *c, const char *u, const char *sfx)
{
    char id[16][40];
    for (int i = 0; i < 16; i++)
        snprintf(id[i], sizeof(id[i]), "%s-%d", sfx, i);
    char email[64];
    snprintf(email, sizeof(email), "%s@example.com", u);
    add_user(c, u, email);
    const unsigned char ct[] = {1, 2, 3};
    tc_dbv U = TC_DBV_STR(u);
    EXEC_OK(c, "INSERT INTO sessions (id, user_id, family, expires_at) VALUES ($1, $2, $1, 1)",
            TC_DBV_STR(id[0]), U);
    EXEC_OK(c, "INSERT INTO refresh_tokens (id, session_id, user_id, token_hash, expires_at)"
               " VALUES ($1, $2, $3, $1, 1)", TC_DBV_STR(id[1]), TC_DBV_STR(id[0]), U);
    EXEC_OK(c, "INSERT INTO api_keys (id, user_id, name, prefix, key_hash) VALUES ($1, $2, 'k', $1, $1)",
            TC_DBV_STR(id[2]), U);
    add_connector(c, id[3], u, "custom");
    EXEC_OK(c, "INSERT INTO connector_tools (id, connector_id, name, source) VALUES ($1, $2, 'echo', 'mcp')",
            TC_DBV_STR(id[4]), TC_DBV_STR(id[3]));
    EXEC_OK(c, "INSERT INTO user_connections (id, user_id, connector_id, secret) VALUES ($1, $2, $3, $4)",
            TC_DBV_STR(id[5]), U, TC_DBV_STR(id[3]), TC_DBV_BLOBV(ct, 3));
    EXEC_OK(c, "INSERT INTO oauth_transactions (id, user_id, connector_id, state_hash, code_verifier, expires_at)"
               " VALUES ($1, $2, $3, $1, $4, 1)", TC_DBV_STR(id[6]), U, TC_DBV_STR(id[3]), TC_DBV_BLOBV(ct, 3));
    EXEC_OK(c, "INSERT INTO scheduler_jobs (id, user_id, name, cron, connector, tool, connection_id)"
               " VALUES ($1, $2, 'n', '@hourly', 'custom', 'echo', $3)", TC_DBV_STR(id[7]), U, TC_DBV_STR(id[5]));
    EXEC_OK(c, "INSERT INTO pipeline_jobs (id, user_id, connector, tool, connection_id, schedule_id, queued_at)"
               " VALUES ($1, $2, 'custom', 'echo', $3, $4, 1)", TC_DBV_STR(id[8]), U, TC_DBV_STR(id[5]),
            TC_DBV_STR(id[7]));
    EXEC_OK(c, "INSERT INTO pipeline_events (job_id, user_id, message) VALUES ($1, $2, 'queued')",
            TC_DBV_STR(id[8]), U);
    EXEC_OK(c, "INSERT INTO action_logs (id, user_id, job_id, connector, tool, status) VALUES ($1, $2, $3, 'custom', 'echo', 'ok')",
            TC_DBV_STR(id[9]), U, TC_DBV_STR(id[8]));
    EXEC_OK(c, "INSERT INTO webhooks (id, user_id, url, secret) VALUES ($1, $2, 'https://h', $3)",
            TC_DBV_STR(id[10]), U, TC_DBV_BLOBV(ct, 3));
    EXEC_OK(c, "INSERT INTO webhook_deliveries (id, webhook_id, user_id, event_type, event_id, payload)"
               " VALUES ($1, $2, $3, 'job.succeeded', $1, '{}')", TC_DBV_STR(id[11]), TC_DBV_STR(id[10]), U);
    EXEC_OK(c, "INSERT INTO webhook_attempts (delivery_id, user_id, attempt, status_code) VALUES ($1, $2, 1, 500)",
            TC_DBV_STR(id[11]), U);
    EXEC_OK(c, "INSERT INTO notification_preferences (user_id) VALUES ($1)", U);
    EXEC_OK(c, "INSERT INTO notification_outbox (id, user_id, kind, to_address, subject, body_text)"
               " VALUES ($1, $2, 'alert', 'x@example.com', 's', 'b')", TC_DBV_STR(id[12]), U);
    EXEC_OK(c, "INSERT INTO stream_events (user_id, kind, payload) VALUES ($1, 'job', '{}')", U);
    EXEC_OK(c, "INSERT INTO stream_tickets (ticket_hash, user_id, expires_at) VALUES ($1, $2, 1)",
            TC_DBV_STR(id[13]), U);
    EXEC_OK(c, "INSERT INTO health_results (connector_id, status, checked_at) VALUES ($1, 'down', 1)",
            TC_DBV_STR(id[3]));
}

static int64_t rows_of(tc_db_conn *c, const char *table, const char *user)
{
    char *sql = tc_asprintf("SELECT COUNT(*) FROM %s WHERE user_id = $1", table);
    tc_dbv p[] = {TC_DBV_STR(user)};
    int64_t n = scalar(c, sql, p, 1);
    tc_free(sql);
    return n;
}

TEST(store_deleting_a_user_removes_all_their_rows)
{
    tc_db *db = tc_test_store_open(1);
    tc_db_conn *c = tc_db_acquire(db);
    fill_user(c, "alice", "a");
    fill_user(c, "bob", "b");
    for (size_t i = 0; i < NUSER_TABLES; i++) {
        ASSERT_EQ(rows_of(c, user_tables[i], "alice"), 1);
        ASSERT_EQ(rows_of(c, user_tables[i], "bob"), 1);
    }
    int64_t n = -1;
    tc_err err;
    tc_err_clear(&err);
    tc_dbv p[] = {TC_DBV_STR("alice")};
    ASSERT_OK(tc_db_exec(c, "DELETE FROM users WHERE id = $1", p, 1, &n, &err));
    ASSERT_EQ(n, 1);
    for (size_t i = 0; i < NUSER_TABLES; i++) {
        if (rows_of(c, user_tables[i], "alice") != 0)
            tc_test_fail(__FILE__, __LINE__, "%s still has alice's rows", user_tables[i]);
        ASSERT_EQ(rows_of(c, user_tables[i], "bob"), 1);
    }
    /* the custom connector, its tools and health history went with her */
    ASSERT_EQ(scalar(c, "SELECT COUNT(*) FROM connectors WHERE owner_id = 'alice'", NULL, 0), 0);
    ASSERT_EQ(scalar(c, "SELECT COUNT(*) FROM connector_tools", NULL, 0), 1);
    ASSERT_EQ(scalar(c, "SELECT COUNT(*) FROM health_results", NULL, 0), 1);
    tc_db_release(c);
    tc_test_store_close(db);
}

/* ---- timestamps ------------------------------------------------------------------------------------- */

TEST(store_timestamps_maintained)
{
    tc_db *db = tc_test_store_open(1);
    tc_db_conn *c = tc_db_acquire(db);
    int64_t before = tc_now_ms();
    add_user(c, "u1", "a@example.com");
    int64_t after = tc_now_ms();
    tc_dbv u[] = {TC_DBV_STR("u1")};
    int64_t created = scalar(c, "SELECT created_at FROM users WHERE id = $1", u, 1);
    int64_t updated = scalar(c, "SELECT updated_at FROM users WHERE id = $1", u, 1);
    ASSERT(created >= before - 5 && created <= after + 5);
    ASSERT(updated >= before - 5 && updated <= after + 5);

    sleep_ms(20);
    EXEC_OK(c, "UPDATE users SET name = 'Alice' WHERE id = $1", TC_DBV_STR("u1"));
    int64_t touched = scalar(c, "SELECT updated_at FROM users WHERE id = $1", u, 1);
    ASSERT(touched >= updated + 15);
    ASSERT_EQ(scalar(c, "SELECT created_at FROM users WHERE id = $1", u, 1), created);

    /* an explicit value wins */
    EXEC_OK(c, "UPDATE users SET updated_at = 42 WHERE id = $1", TC_DBV_STR("u1"));
    ASSERT_EQ(scalar(c, "SELECT updated_at FROM users WHERE id = $1", u, 1), 42);

    /* the same on another table: the job queue */
    add_job(c, "j1", "u1");
    tc_dbv j[] = {TC_DBV_STR("j1")};
    int64_t job_updated = scalar(c, "SELECT updated_at FROM pipeline_jobs WHERE id = $1", j, 1);
    sleep_ms(20);
    EXEC_OK(c, "UPDATE pipeline_jobs SET status = 'running' WHERE id = $1", TC_DBV_STR("j1"));
    ASSERT(scalar(c, "SELECT updated_at FROM pipeline_jobs WHERE id = $1", j, 1) >= job_updated + 15);
    tc_db_release(c);
    tc_test_store_close(db);
}

/* ---- the pool under threads ---------------------------------------------------------------------------- */

#define THREADS 8
#define PER_THREAD 200

typedef struct {
    tc_db *db;
    int n;
    int failures;
} worker_arg;

static void *worker(void *p)
{
    worker_arg *a = p;
    for (int i = 0; i < PER_THREAD; i++) {
        tc_db_conn *c = tc_db_acquire(a->db);
        char id[37];
        tc_uuid(id);
        tc_dbv v[] = {TC_DBV_STR(id), TC_DBV_STR("u1"), TC_DBV_I64(a->n * PER_THREAD + i)};
        tc_err err;
        tc_err_clear(&err);
        bool tx = i % 4 == 0; /* mix lone writes, transactions and reads */
        tc_status s = tx ? tc_db_begin(c, &err) : TC_OK;
        if (s == TC_OK)
            s = tc_db_exec(c, "INSERT INTO pipeline_jobs (id, user_id, connector, tool, queued_at)"
                              " VALUES ($1, $2, 'github', 'list', $3)", v, 3, NULL, &err);
        if (s == TC_OK && tx)
            s = tc_db_commit(c, &err);
        if (s == TC_OK && i % 10 == 0) {
            tc_db_rows *r = NULL;
            s = tc_db_query(c, "SELECT COUNT(*) FROM pipeline_jobs", NULL, 0, &r, &err);
            if (s == TC_OK && (!tc_db_rows_next(r) || tc_db_rows_int(r, 0) < 1))
                s = TC_INTERNAL;
            tc_db_rows_free(r);
        }
        if (s != TC_OK) {
            tc_db_rollback(c);
            fprintf(stderr, "worker %d: %s\n", a->n, err.message);
            a->failures++;
        }
        tc_db_release(c);
    }
    return NULL;
}

TEST(store_pool_under_concurrent_threads)
{
    tc_db *db = tc_test_store_open(4);
    tc_db_conn *c = tc_db_acquire(db);
    add_user(c, "u1", "a@example.com");
    tc_db_release(c);
    pthread_t t[THREADS];
    worker_arg args[THREADS];
    for (int i = 0; i < THREADS; i++) {
        args[i] = (worker_arg){.db = db, .n = i};
        ASSERT_EQ(pthread_create(&t[i], NULL, worker, &args[i]), 0);
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(t[i], NULL);
        ASSERT_EQ(args[i].failures, 0);
    }
    c = tc_db_acquire(db);
    ASSERT_EQ(scalar(c, "SELECT COUNT(*) FROM pipeline_jobs", NULL, 0), THREADS * PER_THREAD);
    ASSERT_EQ(scalar(c, "SELECT COUNT(DISTINCT queued_at) FROM pipeline_jobs", NULL, 0), THREADS * PER_THREAD);
    tc_db_release(c);
    tc_db_stats st;
    tc_db_stats_get(db, &st);
    ASSERT_EQ(st.in_use, 0);
    ASSERT_EQ(st.pool_size, 4);
    ASSERT(st.queries >= THREADS * PER_THREAD);
    ASSERT_EQ(st.errors, 0);
    tc_test_store_close(db);
}

TEST(store_acquire_waits_for_a_free_connection)
{
    tc_db *db = tc_test_store_open(1);
    tc_db_conn *c = tc_db_acquire(db);
    pthread_t t;
    worker_arg a = {.db = db, .n = 0};
    add_user(c, "u1", "a@example.com");
    ASSERT_EQ(pthread_create(&t, NULL, worker, &a), 0);
    sleep_ms(50);
    tc_db_stats st;
    tc_db_stats_get(db, &st);
    ASSERT_EQ(st.in_use, 1);
    tc_db_release(c);
    pthread_join(t, NULL);
    ASSERT_EQ(a.failures, 0);
    tc_db_stats_get(db, &st);
    ASSERT(st.waits >= 1);
    tc_test_store_close(db);
}
