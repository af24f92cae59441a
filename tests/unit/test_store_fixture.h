/* Store test fixture, for the contract suite and for repository tests.
 *
 * Any tests/unit/test_store_*.c file joins the unit_store binary, which ctest
 * runs twice: on SQLite (unit.store) and on PostgreSQL (store.postgres, with
 * TC_TEST_PG_URL set). Open the database through these helpers and the same
 * test runs on both backends, each test in its own fresh database (a temp
 * SQLite file, or a PostgreSQL schema created for it and dropped after). */
#ifndef TC_TEST_STORE_FIXTURE_H
#define TC_TEST_STORE_FIXTURE_H

#include "store/db.h"

/* TC_TEST_PG_URL, or NULL when the run is on SQLite. */
const char *tc_test_store_pg_url(void);
/* A URL for a database no other test touches (creates the schema on
 * PostgreSQL). Caller frees. */
char *tc_test_store_url(void);
/* Opens a pool of pool_size on a fresh database, without migrating. */
tc_db *tc_test_store_open_plain(int pool_size);
/* Opens and migrates a fresh database. Fails the test on error. */
tc_db *tc_test_store_open(int pool_size);
/* Closes it and, on PostgreSQL, drops the test's schema. */
void tc_test_store_close(tc_db *db);

#endif
