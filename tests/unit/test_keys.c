/* Key ids in secret_keys and rotation, on a real database: SQLite (a temp
 * file) by default, PostgreSQL when TC_TEST_PG_URL is set (ctest entry
 * keys.postgres), each test in its own schema. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crypto/keys.h"
#include "runner.h"

typedef struct {
    tc_db *db;
    tc_keyring *kr;
    char *url;
} fixture;

static const char *pg_base(void)
{
    const char *u = getenv("TC_TEST_PG_URL");
    return u && *u ? u : NULL;
}

static void admin_exec(const char *sql)
{
    tc_db *db = NULL;
    tc_err err;
    if (tc_db_open(pg_base(), 1, &db, &err) != TC_OK)
        tc_test_fail(__FILE__, __LINE__, "open %s: %s", pg_base(), err.message);
    tc_db_conn *c = tc_db_acquire(db);
    tc_status st = tc_db_exec(c, sql, NULL, 0, NULL, &err);
    tc_db_release(c);
    tc_db_close(db);
    if (st != TC_OK)
        tc_test_fail(__FILE__, __LINE__, "%s: %s", sql, err.message);
}

/* A database no other test touches (the schema is dropped with the server). */
static char *test_url(void)
{
    if (!pg_base())
        return tc_asprintf("sqlite:%s/keys.db", tc_test_tmpdir());
    char id[37], schema[32];
    tc_uuid(id);
    snprintf(schema, sizeof(schema), "k_%.8s%.4s", id, id + 9);
    char *sql = tc_asprintf("CREATE SCHEMA %s", schema);
    admin_exec(sql);
    free(sql);
    const char *base = pg_base();
    return tc_asprintf("%s%soptions=-csearch_path%%3D%s", base, strchr(base, '?') ? "&" : "?", schema);
}

static void setup(fixture *f)
{
    unsigned char master[32];
    memset(master, 0x42, sizeof(master));
    tc_err err;
    f->url = test_url();
    ASSERT_OK(tc_db_open(f->url, 4, &f->db, &err));
    ASSERT_OK(tc_db_migrate(f->db, &err));
    ASSERT_OK(tc_keyring_new(master, 32, &f->kr, &err));
    ASSERT_OK(tc_keys_load(f->db, f->kr, true, &err));
}

static void teardown(fixture *f)
{
    tc_db_close(f->db);
    tc_keyring_free(f->kr);
    free(f->url);
}

static void exec(tc_db *db, const char *sql, const tc_dbv *p, size_t n)
{
    tc_err err;
    tc_db_conn *c = tc_db_acquire(db);
    tc_status st = tc_db_exec(c, sql, p, n, NULL, &err);
    tc_db_release(c);
    if (st != TC_OK)
        tc_test_fail(__FILE__, __LINE__, "%s: %s", sql, err.message);
}

static void seed_parents(tc_db *db)
{
    exec(db, "INSERT INTO users (id, email, password_hash) VALUES ('u1', 'a@example.com', 'x')", NULL, 0);
    exec(db, "INSERT INTO connectors (id, slug, name, auth_type) VALUES ('c1', 'github', 'GitHub', 'api_key')",
         NULL, 0);
}

/* Seals plaintext for (purpose, id) with the keyring's active key. */
static unsigned char *seal(tc_keyring *kr, const char *purpose, const char *id, const char *pt, size_t *len)
{
    char aad[TC_SECRET_AAD_MAX];
    unsigned char *ct;
    ASSERT_OK(tc_secret_aad(aad, purpose, id));
    ASSERT_OK(tc_secretbox_seal(kr, aad, pt, strlen(pt), &ct, len, NULL));
    return ct;
}

static void insert_connection(fixture *f, const char *id, const char *secret)
{
    size_t len;
    unsigned char *ct = seal(f->kr, TC_AAD_CONNECTION_SECRET, id, secret, &len);
    char kid[16];
    snprintf(kid, sizeof(kid), "%u", tc_keyring_active(f->kr));
    tc_dbv p[] = {TC_DBV_STR(id), TC_DBV_BLOBV(ct, len), TC_DBV_STR(kid)};
    exec(f->db, "INSERT INTO user_connections (id, user_id, connector_id, secret, secret_key_id) "
                "VALUES ($1, 'u1', 'c1', $2, $3)", p, 3);
    free(ct);
}

static void insert_webhook(fixture *f, const char *id, const char *secret, const char *previous)
{
    size_t len, plen;
    unsigned char *ct = seal(f->kr, TC_AAD_WEBHOOK_SECRET, id, secret, &len);
    unsigned char *pct = seal(f->kr, TC_AAD_WEBHOOK_PREVIOUS_SECRET, id, previous, &plen);
    char kid[16];
    snprintf(kid, sizeof(kid), "%u", tc_keyring_active(f->kr));
    tc_dbv p[] = {TC_DBV_STR(id), TC_DBV_BLOBV(ct, len), TC_DBV_STR(kid), TC_DBV_BLOBV(pct, plen)};
    exec(f->db, "INSERT INTO webhooks (id, user_id, url, secret, secret_key_id, previous_secret, "
                "previous_secret_key_id) VALUES ($1, 'u1', 'https://example.com/h', $2, $3, $4, $3)", p, 4);
    free(ct);
    free(pct);
}

/* Reads and opens one secret; returns the plaintext (caller frees) and its key id. */
static char *read_secret(fixture *f, const char *table, const char *col, const char *kidcol,
                         const char *purpose, const char *id, tc_kid *kid_in_ct, char *kid_col_out)
{
    char *sql = tc_asprintf("SELECT %s, %s FROM %s WHERE id = $1", col, kidcol, table);
    tc_dbv p[] = {TC_DBV_STR(id)};
    tc_db_conn *c = tc_db_acquire(f->db);
    tc_db_rows *rows;
    tc_err err;
    ASSERT_OK(tc_db_query(c, sql, p, 1, &rows, &err));
    ASSERT(tc_db_rows_next(rows));
    size_t len;
    const void *blob = tc_db_rows_blob(rows, 0, &len);
    ASSERT_OK(tc_secretbox_key_id(blob, len, kid_in_ct));
    snprintf(kid_col_out, 16, "%s", tc_db_rows_text(rows, 1) ? tc_db_rows_text(rows, 1) : "");
    char aad[TC_SECRET_AAD_MAX];
    tc_secret_aad(aad, purpose, id);
    unsigned char *pt;
    size_t ptlen;
    tc_status st = tc_secretbox_open(f->kr, aad, blob, len, &pt, &ptlen, &err);
    if (st != TC_OK)
        tc_test_fail(__FILE__, __LINE__, "open %s.%s %s: %s", table, col, id, err.message);
    tc_db_rows_free(rows);
    tc_db_release(c);
    free(sql);
    char *out = tc_strdup((char *)pt);
    tc_secret_free(pt, ptlen);
    return out;
}

TEST(load_creates_first_key_once)
{
    fixture f;
    setup(&f);
    ASSERT_EQ(tc_keyring_active(f.kr), 1);
    ASSERT_OK(tc_keys_load(f.db, f.kr, true, NULL)); /* idempotent */
    tc_db_conn *c = tc_db_acquire(f.db);
    tc_db_rows *rows;
    ASSERT_OK(tc_db_query(c, "SELECT COUNT(*) FROM secret_keys", NULL, 0, &rows, NULL));
    ASSERT(tc_db_rows_next(rows));
    ASSERT_EQ(tc_db_rows_int(rows, 0), 1);
    tc_db_rows_free(rows);
    tc_db_release(c);
    teardown(&f);
}

TEST(add_makes_new_key_active_and_visible_to_others)
{
    fixture f;
    setup(&f);
    tc_kid kid;
    ASSERT_OK(tc_keys_add(f.db, f.kr, &kid, NULL));
    ASSERT_EQ(kid, 2);
    ASSERT_EQ(tc_keyring_active(f.kr), 2);
    /* another process (fresh keyring) syncing sees the same */
    unsigned char master[32];
    memset(master, 0x42, 32);
    tc_keyring *other;
    ASSERT_OK(tc_keyring_new(master, 32, &other, NULL));
    ASSERT_OK(tc_keys_load(f.db, other, false, NULL));
    ASSERT_EQ(tc_keyring_active(other), 2);
    ASSERT(tc_keyring_has(other, 1));
    tc_keyring_free(other);
    teardown(&f);
}

typedef struct {
    int64_t by_kid[8];
} counts;

static void count_cb(void *ctx, const tc_secret_column *col, const char *kid, int64_t n)
{
    counts *c = ctx;
    int k = atoi(kid);
    if (k >= 0 && k < 8)
        c->by_kid[k] += n;
}

TEST(rotation_reencrypts_mixed_rows_in_batches)
{
    fixture f;
    setup(&f);
    seed_parents(f.db);
    char id[32], secret[64];
    for (int i = 0; i < 25; i++) {
        snprintf(id, sizeof(id), "conn-%02d", i);
        snprintf(secret, sizeof(secret), "api-key-%02d", i);
        insert_connection(&f, id, secret);
    }
    insert_webhook(&f, "wh-1", "whsec_current", "whsec_previous");
    tc_kid kid;
    ASSERT_OK(tc_keys_add(f.db, f.kr, &kid, NULL));
    /* rows written after the new key became active are already current */
    for (int i = 25; i < 30; i++) {
        snprintf(id, sizeof(id), "conn-%02d", i);
        snprintf(secret, sizeof(secret), "api-key-%02d", i);
        insert_connection(&f, id, secret);
    }
    counts before = {{0}};
    ASSERT_OK(tc_keys_count(f.db, count_cb, &before, NULL));
    ASSERT_EQ(before.by_kid[1], 27);
    ASSERT_EQ(before.by_kid[2], 5);

    tc_keys_progress p = {0};
    ASSERT_OK(tc_keys_reencrypt(f.db, f.kr, 7, &p, NULL));
    ASSERT_EQ(p.rewrapped, 27);
    ASSERT_EQ(p.failed, 0);
    ASSERT(p.batches >= 4); /* 25 connection rows in batches of 7 */

    counts after = {{0}};
    ASSERT_OK(tc_keys_count(f.db, count_cb, &after, NULL));
    ASSERT_EQ(after.by_kid[1], 0);
    ASSERT_EQ(after.by_kid[2], 32);
    for (int i = 0; i < 30; i++) {
        snprintf(id, sizeof(id), "conn-%02d", i);
        snprintf(secret, sizeof(secret), "api-key-%02d", i);
        tc_kid k;
        char kcol[16];
        char *pt = read_secret(&f, "user_connections", "secret", "secret_key_id", TC_AAD_CONNECTION_SECRET, id,
                               &k, kcol);
        ASSERT_STR_EQ(pt, secret);
        ASSERT_EQ(k, 2);
        ASSERT_STR_EQ(kcol, "2");
        free(pt);
    }
    tc_kid k;
    char kcol[16];
    char *pt = read_secret(&f, "webhooks", "previous_secret", "previous_secret_key_id",
                           TC_AAD_WEBHOOK_PREVIOUS_SECRET, "wh-1", &k, kcol);
    ASSERT_STR_EQ(pt, "whsec_previous");
    ASSERT_EQ(k, 2);
    free(pt);

    /* running again is a no-op (resumable, idempotent) */
    tc_keys_progress again = {0};
    ASSERT_OK(tc_keys_reencrypt(f.db, f.kr, 7, &again, NULL));
    ASSERT_EQ(again.rewrapped, 0);

    int64_t retired = 0;
    ASSERT_OK(tc_keys_retire_unused(f.db, f.kr, &retired, NULL));
    ASSERT_EQ(retired, 1);
    /* a retired key stays loadable; the active one is the highest live id */
    ASSERT_OK(tc_keys_load(f.db, f.kr, false, NULL));
    ASSERT_EQ(tc_keyring_active(f.kr), 2);
    teardown(&f);
}

TEST(rotation_skips_undecryptable_rows_and_fixes_key_id_column)
{
    fixture f;
    setup(&f);
    seed_parents(f.db);
    insert_connection(&f, "good", "ok-secret");
    insert_connection(&f, "moved", "other-secret");
    /* a ciphertext copied onto another row no longer authenticates (AAD) */
    exec(f.db, "UPDATE user_connections SET secret = (SELECT secret FROM user_connections WHERE id = 'moved') "
               "WHERE id = 'good'", NULL, 0);
    tc_kid kid;
    ASSERT_OK(tc_keys_add(f.db, f.kr, &kid, NULL));
    insert_connection(&f, "fresh", "new-secret");
    exec(f.db, "UPDATE user_connections SET secret_key_id = NULL WHERE id = 'fresh'", NULL, 0);
    tc_keys_progress p = {0};
    ASSERT_OK(tc_keys_reencrypt(f.db, f.kr, 0, &p, NULL));
    ASSERT_EQ(p.failed, 1);
    ASSERT_EQ(p.rewrapped, 1);
    ASSERT_EQ(p.relabeled, 1);
    int64_t retired = 0;
    ASSERT_OK(tc_keys_retire_unused(f.db, f.kr, &retired, NULL));
    ASSERT_EQ(retired, 0); /* key 1 still holds the broken row */
    teardown(&f);
}

TEST(watcher_resolver_learns_keys_added_elsewhere)
{
    fixture f;
    setup(&f);
    seed_parents(f.db);
    /* "server": its own keyring, watching the database */
    unsigned char master[32];
    memset(master, 0x42, 32);
    tc_keyring *server;
    tc_err err;
    ASSERT_OK(tc_keyring_new(master, 32, &server, NULL));
    ASSERT_OK(tc_keys_load(f.db, server, false, NULL));
    tc_keys_watch *w;
    ASSERT_OK(tc_keys_watch_start(server, f.url, 100, &w, &err));
    /* "rotation process" adds key 2 and writes with it */
    tc_kid kid;
    ASSERT_OK(tc_keys_add(f.db, f.kr, &kid, NULL));
    size_t len;
    unsigned char *ct = seal(f.kr, "x", "1", "hello", &len);
    char aad[TC_SECRET_AAD_MAX];
    tc_secret_aad(aad, "x", "1");
    unsigned char *pt;
    size_t ptlen;
    ASSERT_OK(tc_secretbox_open(server, aad, ct, len, &pt, &ptlen, &err)); /* resolver, at once */
    ASSERT_STR_EQ((char *)pt, "hello");
    tc_secret_free(pt, ptlen);
    /* the periodic sync moves the active key within an interval or two */
    for (int i = 0; i < 50 && tc_keyring_active(server) != 2; i++)
        usleep(20000);
    ASSERT_EQ(tc_keyring_active(server), 2);
    /* an id nobody added stays unknown */
    ct[4] = 9;
    ASSERT_STATUS(tc_secretbox_open(server, aad, ct, len, &pt, &ptlen, &err), TC_INTERNAL);
    ASSERT_STR_EQ(tc_err_code(&err), "secret_unknown_key");
    free(ct);
    tc_keys_watch_stop(w);
    tc_keyring_free(server);
    teardown(&f);
}
