/* store: health probe results (health_results, append-only, integer id) and
 * per-connector alert cooldowns (alert_cooldowns). Results are not
 * user-owned; reads through the API are scoped to the connectors the user
 * can see (built-in ones and the user's own custom ones). */
#ifndef TC_STORE_REPO_HEALTH_H
#define TC_STORE_REPO_HEALTH_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "store/db.h"

#define TC_REPO_HEALTH_LIST_MAX 500

/* Enabled connectors that have at least one connection not revoked, as
 * [{id, slug, name, definition}] (definition parsed; null if absent). */
tc_status tc_repo_health_targets(tc_db_conn *c, json_t **out, tc_err *err);
/* One connector by id as {id, slug, name, definition}; TC_NOT_FOUND. */
tc_status tc_repo_health_target(tc_db_conn *c, const char *connector_id, json_t **out,
                                tc_err *err);

/* The last stored status of a connector into status (16 bytes); "" when it
 * was never probed. */
tc_status tc_repo_health_last_status(tc_db_conn *c, const char *connector_id, char status[16],
                                     tc_err *err);

typedef struct tc_repo_health_result {
    const char *connector_id;
    const char *status;    /* healthy | degraded | down */
    int64_t latency_ms;    /* < 0 = none */
    const char *error;     /* may be NULL */
    int64_t checked_at;
} tc_repo_health_result;
tc_status tc_repo_health_insert(tc_db_conn *c, const tc_repo_health_result *res, int64_t *id,
                                tc_err *err);

/* Distinct users with a connection (not revoked) to the connector, as an
 * array of user id strings (at most 10000). */
tc_status tc_repo_health_users(tc_db_conn *c, const char *connector_id, json_t **out,
                               tc_err *err);

/* Takes the connector's alert slot if the last alert is older than
 * cooldown_ms (or there was none): one atomic upsert, so two instances (or a
 * restarted one) never both alert inside the window. *claimed says whether
 * this caller may send. */
tc_status tc_repo_health_cooldown_claim(tc_db_conn *c, const char *connector_id,
                                        const char *status, int64_t now, int64_t cooldown_ms,
                                        bool *claimed, tc_err *err);

/* Latest result per connector visible to the user:
 * [{connector, name, status, latency_ms, error, checked_at}] by slug. */
tc_status tc_repo_health_latest(tc_db_conn *c, const char *user_id, json_t **out, tc_err *err);
/* History of one visible connector, newest first; cursor is the id of the
 * last row seen (decimal). TC_NOT_FOUND when the slug is not visible. */
tc_status tc_repo_health_history(tc_db_conn *c, const char *user_id, const char *slug,
                                 const char *cursor, int64_t limit, json_t **items,
                                 char **next_cursor, tc_err *err);
/* Deletes results older than before_ms; *deleted may be NULL. */
tc_status tc_repo_health_prune(tc_db_conn *c, int64_t before_ms, int64_t *deleted, tc_err *err);

#endif
