/* Store test fixture (see test_store_fixture.h). */
#include <stdio.h>
#include <string.h>

#include "runner.h"
#include "test_store_fixture.h"

static char pg_schema[64];

const char *tc_test_store_pg_url(void)
{
    const char *u = getenv("TC_TEST_PG_URL");
    return u && *u ? u : NULL;
}

static void admin_exec(const char *sql)
{
    tc_db *db = NULL;
    tc_err err;
    tc_err_clear(&err);
    tc_status s = tc_db_open(tc_test_store_pg_url(), 1, &db, &err);
    if (s != TC_OK)
        tc_test_fail(__FILE__, __LINE__, "open test server: %s", err.message);
    tc_db_conn *c = tc_db_acquire(db);
    s = tc_db_exec(c, sql, NULL, 0, NULL, &err);
    tc_db_release(c);
    tc_db_close(db);
    if (s != TC_OK)
        tc_test_fail(__FILE__, __LINE__, "%s: %s", sql, err.message);
}

char *tc_test_store_url(void)
{
    const char *base = tc_test_store_pg_url();
    if (!base)
        return tc_asprintf("sqlite:%s/store.db", tc_test_tmpdir());
    char id[37];
    tc_uuid(id);
    snprintf(pg_schema, sizeof(pg_schema), "t_%.8s%.4s", id, id + 9);
    char *sql = tc_asprintf("CREATE SCHEMA %s", pg_schema);
    admin_exec(sql);
    tc_free(sql);
    return tc_asprintf("%s%soptions=-csearch_path%%3D%s", base, strchr(base, '?') ? "&" : "?",
                       pg_schema);
}

tc_db *tc_test_store_open_plain(int pool_size)
{
    char *url = tc_test_store_url();
    tc_db *db = NULL;
    tc_err err;
    tc_err_clear(&err);
    tc_status s = tc_db_open(url, pool_size, &db, &err);
    tc_free(url);
    if (s != TC_OK)
        tc_test_fail(__FILE__, __LINE__, "open: %s", err.message);
    return db;
}

tc_db *tc_test_store_open(int pool_size)
{
    tc_db *db = tc_test_store_open_plain(pool_size);
    tc_err err;
    tc_err_clear(&err);
    if (tc_db_migrate(db, &err) != TC_OK)
        tc_test_fail(__FILE__, __LINE__, "migrate: %s", err.message);
    return db;
}

void tc_test_store_close(tc_db *db)
{
    tc_db_close(db);
    if (tc_test_store_pg_url() && pg_schema[0]) {
        char *sql = tc_asprintf("DROP SCHEMA %s CASCADE", pg_schema);
        admin_exec(sql);
        tc_free(sql);
        pg_schema[0] = '\0';
    }
}
