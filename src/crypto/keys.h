/* keys: the secret box's key ids in the database, and key rotation.
 *
 * A separate small library (tc_keys) next to tc_crypto, so the crypto
 * primitives stay free of SQL. Table secret_keys holds key ids only (decimal
 * text "1", "2", ...), never key material: keys are derived from the master
 * key (see crypto.h). The active key is the highest id not retired.
 *
 * Every secret-bearing column is one row of tc_secret_columns(): its table,
 * id column, ciphertext column (BLOB, secret box binary form), key id column
 * and the AAD purpose; a row's AAD is "<purpose>:<row id>" (tc_secret_aad).
 * A new secret column needs one row there and nothing else.
 *
 * Rotation (`toolconnect keys rotate`) adds a key id, makes it active and
 * re-encrypts every secret on an older key, in batches of at most
 * TC_KEYS_BATCH rows per transaction, each row updated with a
 * compare-and-swap on its old ciphertext, so it runs while servers write and
 * can be interrupted and resumed (`keys rotate --resume`). Docs:
 * docs/security.md. */
#ifndef TC_CRYPTO_KEYS_H
#define TC_CRYPTO_KEYS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/core.h"
#include "crypto/crypto.h"
#include "store/db.h"

#define TC_KEYS_BATCH 200

typedef struct tc_secret_column {
    const char *table;
    const char *id_col;
    const char *ct_col;     /* BLOB ciphertext, may be NULL in a row */
    const char *kid_col;    /* TEXT key id kept next to it */
    const char *purpose;    /* AAD purpose, "user_connections.secret" */
} tc_secret_column;

/* AAD purposes, for the modules that seal these columns. */
#define TC_AAD_CONNECTION_SECRET "user_connections.secret"
#define TC_AAD_OAUTH_VERIFIER "oauth_transactions.code_verifier"
#define TC_AAD_OAUTH_CLIENT_SECRET "oauth_clients.client_secret"
#define TC_AAD_WEBHOOK_SECRET "webhooks.secret"
#define TC_AAD_WEBHOOK_PREVIOUS_SECRET "webhooks.previous_secret"

const tc_secret_column *tc_secret_columns(size_t *n);

/* Loads every key id of secret_keys into kr and makes the highest id that is
 * not retired active. With create and an empty table, inserts key id 1 first
 * (ON CONFLICT DO NOTHING, so instances starting together agree). Safe to call
 * again at any time: it only adds ids and moves the active one (a "sync"). */
tc_status tc_keys_load(tc_db *db, tc_keyring *kr, bool create, tc_err *err);

/* Inserts a new key id (highest + 1), and makes it active in kr. */
tc_status tc_keys_add(tc_db *db, tc_keyring *kr, tc_kid *kid, tc_err *err);

typedef struct tc_keys_progress {
    int64_t rewrapped;   /* rows re-encrypted with the active key */
    int64_t relabeled;   /* rows whose key id column only needed fixing */
    int64_t conflicts;   /* rows changed by someone else meanwhile (retried next pass) */
    int64_t failed;      /* rows that did not decrypt (left as they are, logged by id) */
    int64_t batches;
} tc_keys_progress;

/* Re-encrypts every secret whose key id is not the active one, batch rows
 * per transaction (0 = TC_KEYS_BATCH), until a pass finds nothing more to do
 * (at most 8 passes). progress accumulates. Failures to decrypt are counted,
 * logged with table and row id, and do not stop the run. */
tc_status tc_keys_reencrypt(tc_db *db, tc_keyring *kr, size_t batch, tc_keys_progress *progress,
                            tc_err *err);

/* Rows per key id per column, for `keys status` and the tests: calls fn
 * for each (column, key id or "" when none, count). */
typedef void (*tc_keys_count_fn)(void *ctx, const tc_secret_column *col, const char *kid,
                                 int64_t count);
tc_status tc_keys_count(tc_db *db, tc_keys_count_fn fn, void *ctx, tc_err *err);

/* Marks retired every key id except the active one that no row uses. */
tc_status tc_keys_retire_unused(tc_db *db, tc_keyring *kr, int64_t *retired, tc_err *err);

/* Keeps a server's keyring in step with secret_keys while another process
 * rotates: a thread re-reads the table every interval_ms (on its own
 * one-connection pool, opened from db_url, so it never waits on the server's
 * pool), and the keyring's resolver does the same at once when a ciphertext
 * names a key id it has not seen. Stop with tc_keys_watch_stop. */
typedef struct tc_keys_watch tc_keys_watch;
tc_status tc_keys_watch_start(tc_keyring *kr, const char *db_url, int64_t interval_ms,
                              tc_keys_watch **out, tc_err *err);
void tc_keys_watch_stop(tc_keys_watch *w);

/* `toolconnect keys rotate [--resume] | status` (argv[0] == "keys"). */
int tc_keys_main(int argc, char **argv);

#endif
