/* store: OAuth transactions, client credentials, and the refresh columns of
 * user_connections (single-flight lease + version compare-and-swap).
 * User-owned rows are scoped by user id; the few system calls (clients, the
 * refresher's due list) say so. */
#ifndef TC_STORE_REPO_OAUTH_H
#define TC_STORE_REPO_OAUTH_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "store/db.h"

/* ---- clients (system: administrator-set) ---- */
/* Built-in connector id and auth block by slug; TC_NOT_FOUND if none. */
tc_status tc_repo_oauth_builtin(tc_db_conn *c, const char *slug, char id[37], json_t **definition,
                                tc_err *err);
/* Slug of a connector by id (built-in or custom); TC_NOT_FOUND if gone. */
tc_status tc_repo_oauth_connector_slug(tc_db_conn *c, const char *connector_id, char slug[65],
                                       tc_err *err);
/* Upsert by connector id. secret may be NULL (public client). */
tc_status tc_repo_oauth_client_put(tc_db_conn *c, const char *connector_id, const char *client_id,
                                   const unsigned char *secret, size_t secret_len,
                                   const char *key_id, int64_t now, tc_err *err);
typedef struct tc_repo_oauth_client {
    char row_id[37];          /* oauth_clients.id (AAD of the secret) */
    char *client_id;
    unsigned char *secret;    /* ciphertext or NULL */
    size_t secret_len;
    int64_t updated_at;
} tc_repo_oauth_client;
/* TC_NOT_FOUND when no client is configured for the connector. */
tc_status tc_repo_oauth_client_get(tc_db_conn *c, const char *connector_id,
                                   tc_repo_oauth_client *out, tc_err *err);
void tc_repo_oauth_client_clear(tc_repo_oauth_client *cl);

/* ---- transactions ---- */
typedef struct tc_repo_oauth_tx {
    char id[37];
    char user_id[37];
    char connector_id[37];
    char status[16];          /* started | completed | failed */
    char *label;
    char *scopes;
    char *redirect_uri;
    unsigned char *verifier;  /* ciphertext */
    size_t verifier_len;
    int64_t expires_at;
    int64_t completed_at;     /* 0 = not claimed */
} tc_repo_oauth_tx;

tc_status tc_repo_oauth_tx_insert(tc_db_conn *c, const tc_repo_oauth_tx *tx,
                                  const char *state_hash, const char *key_id, int64_t now,
                                  tc_err *err);
/* By state hash (the callback knows no user). TC_NOT_FOUND if none. */
tc_status tc_repo_oauth_tx_by_state(tc_db_conn *c, const char *state_hash, tc_repo_oauth_tx *out,
                                    tc_err *err);
void tc_repo_oauth_tx_clear(tc_repo_oauth_tx *tx);
/* Single use: stamps completed_at if still started, unclaimed and unexpired.
 * *claimed false when someone else got it first (or it expired). */
tc_status tc_repo_oauth_tx_claim(tc_db_conn *c, const char *id, int64_t now, bool *claimed,
                                 tc_err *err);
/* Final status with the error (failed) or the connection (completed). */
tc_status tc_repo_oauth_tx_finish(tc_db_conn *c, const char *id, const char *status,
                                  const char *error, const char *error_description,
                                  const char *connection_id, int64_t now, tc_err *err);

/* ---- refresh ---- */
typedef struct tc_repo_oauth_conn {
    char id[37];
    char connector_slug[64];
    char auth_type[16];
    char status[16];
    int64_t expires_at;       /* 0 = none */
    int64_t version;          /* refresh_version */
    int64_t lock_until;       /* 0 = no lease */
    unsigned char *secret;    /* ciphertext or NULL */
    size_t secret_len;
    char *scopes;
} tc_repo_oauth_conn;
tc_status tc_repo_oauth_conn_get(tc_db_conn *c, const char *user_id, const char *id,
                                 tc_repo_oauth_conn *out, tc_err *err);
void tc_repo_oauth_conn_clear(tc_repo_oauth_conn *rc);
/* Takes the refresh lease if the row is active, still at version and no
 * unexpired lease exists. */
tc_status tc_repo_oauth_lease(tc_db_conn *c, const char *user_id, const char *id, int64_t version,
                              const char *owner, int64_t until, int64_t now, bool *got,
                              tc_err *err);
/* Drops our lease (after a transient failure); keeps the version. */
tc_status tc_repo_oauth_lease_drop(tc_db_conn *c, const char *user_id, const char *id,
                                   const char *owner, tc_err *err);
/* Saves new tokens (access + possibly rotated refresh, in one sealed secret)
 * if the row is still at version: version + 1, lease cleared. */
tc_status tc_repo_oauth_tokens_save(tc_db_conn *c, const char *user_id, const char *id,
                                    int64_t version, const unsigned char *secret,
                                    size_t secret_len, const char *key_id, int64_t expires_at,
                                    const char *scopes, int64_t now, bool *saved, tc_err *err);
/* status expired with reason, version + 1, lease cleared, if at version. */
tc_status tc_repo_oauth_expire(tc_db_conn *c, const char *user_id, const char *id,
                               int64_t version, const char *reason, int64_t now, bool *done,
                               tc_err *err);
/* System (refresher): active oauth2 connections expiring before `before`
 * and not leased, soonest first: [{id, user_id}]. */
tc_status tc_repo_oauth_due(tc_db_conn *c, int64_t before, int64_t now, int64_t limit,
                            json_t **out, tc_err *err);
/* Moves the access token's recorded expiry (test routes: simulate time). */
tc_status tc_repo_oauth_set_expiry(tc_db_conn *c, const char *user_id, const char *id,
                                   int64_t expires_at, tc_err *err);
/* Moves a user's transaction expiry (test routes). */
tc_status tc_repo_oauth_tx_set_expiry(tc_db_conn *c, const char *user_id, const char *id,
                                      int64_t expires_at, tc_err *err);
/* System: started transactions past expiry become failed "expired". */
tc_status tc_repo_oauth_tx_expire_old(tc_db_conn *c, int64_t now, tc_err *err);

#endif
