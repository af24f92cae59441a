/* Notification preferences and the email outbox (see repo_notify.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/repo_json.h"
#include "store/repo_notify.h"

#define NP(a) (sizeof(a) / sizeof((a)[0]))

void tc_notify_prefs_defaults(tc_notify_prefs *p)
{
    memset(p, 0, sizeof(*p));
    p->email_enabled = true;
    p->alert_types = json_array();
    snprintf(p->timezone, sizeof(p->timezone), "UTC");
    p->quiet_start = -1;
    p->quiet_end = -1;
    snprintf(p->delivery, sizeof(p->delivery), "immediate");
}

void tc_notify_prefs_clear(tc_notify_prefs *p)
{
    json_decref(p->alert_types);
    p->alert_types = NULL;
}

tc_status tc_repo_notify_prefs_get(tc_db_conn *c, const char *user_id, tc_notify_prefs *out,
                                   tc_err *err)
{
    static const char sql[] =
        "SELECT email_enabled, alert_types, timezone, quiet_start, quiet_end, delivery, updated_at "
        "FROM notification_preferences WHERE user_id = $1";
    tc_notify_prefs_defaults(out);
    tc_dbv p[] = {TC_DBV_STR(user_id)};
    tc_db_rows *r = NULL;
    tc_status st = tc_db_query(c, sql, p, NP(p), &r, err);
    if (st != TC_OK)
        return st;
    if (tc_db_rows_next(r)) {
        out->email_enabled = tc_db_rows_int(r, 0) != 0;
        json_t *types = json_loads(tc_db_rows_text(r, 1), 0, NULL);
        if (json_is_array(types)) {
            json_decref(out->alert_types);
            out->alert_types = types;
        } else {
            json_decref(types);
        }
        snprintf(out->timezone, sizeof(out->timezone), "%s", tc_db_rows_text(r, 2));
        out->quiet_start = tc_db_rows_isnull(r, 3) ? -1 : (int)tc_db_rows_int(r, 3);
        out->quiet_end = tc_db_rows_isnull(r, 4) ? -1 : (int)tc_db_rows_int(r, 4);
        snprintf(out->delivery, sizeof(out->delivery), "%s", tc_db_rows_text(r, 5));
        out->updated_at = tc_db_rows_int(r, 6);
    }
    tc_db_rows_free(r);
    return TC_OK;
}

static tc_dbv minutes(int m)
{
    return m < 0 ? TC_DBV_NULLV : TC_DBV_I64(m);
}

tc_status tc_repo_notify_prefs_put(tc_db_conn *c, const char *user_id, const tc_notify_prefs *p,
                                   int64_t now, tc_err *err)
{
    static const char sql[] =
        "INSERT INTO notification_preferences (user_id, email_enabled, alert_types, timezone, "
        "quiet_start, quiet_end, delivery, created_at, updated_at) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) "
        "ON CONFLICT (user_id) DO UPDATE SET email_enabled = excluded.email_enabled, "
        "alert_types = excluded.alert_types, timezone = excluded.timezone, "
        "quiet_start = excluded.quiet_start, quiet_end = excluded.quiet_end, "
        "delivery = excluded.delivery, updated_at = excluded.updated_at";
    char *types = json_dumps(p->alert_types ? p->alert_types : json_array(), JSON_COMPACT);
    tc_dbv v[] = {TC_DBV_STR(user_id),      TC_DBV_BOOL(p->email_enabled), TC_DBV_STR(types),
                  TC_DBV_STR(p->timezone),  minutes(p->quiet_start),       minutes(p->quiet_end),
                  TC_DBV_STR(p->delivery),  TC_DBV_I64(now)};
    tc_status st = tc_db_exec(c, sql, v, NP(v), NULL, err);
    free(types);
    return st;
}

tc_status tc_repo_notify_user_email(tc_db_conn *c, const char *user_id,
                                    char out[TC_NOTIFY_EMAIL_MAX + 1], tc_err *err)
{
    static const char sql[] = "SELECT email FROM users WHERE id = $1 AND disabled_at IS NULL";
    tc_dbv p[] = {TC_DBV_STR(user_id)};
    tc_db_rows *r = NULL;
    tc_status st = tc_db_query(c, sql, p, NP(p), &r, err);
    if (st != TC_OK)
        return st;
    st = tc_db_rows_next(r) ? TC_OK : tc_failf(err, TC_NOT_FOUND, NULL, "user not found");
    if (st == TC_OK)
        snprintf(out, TC_NOTIFY_EMAIL_MAX + 1, "%s", tc_db_rows_text(r, 0));
    tc_db_rows_free(r);
    return st;
}

tc_status tc_repo_notify_outbox_insert(tc_db_conn *c, const tc_repo_outbox_new *n, int64_t now,
                                       char *out_id, tc_err *err)
{
    static const char sql[] =
        "INSERT INTO notification_outbox (id, user_id, kind, to_address, subject, body_text, "
        "body_html, status, digest_key, hold_until, attempt_count, next_attempt_at, created_at, "
        "updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending', $8, $9, 0, $10, $11, $11)";
    char id[37];
    tc_uuid7(id);
    tc_dbv p[] = {TC_DBV_STR(id),         TC_DBV_STR(n->user_id),   TC_DBV_STR(n->kind),
                  TC_DBV_STR(n->to),      TC_DBV_STR(n->subject),   TC_DBV_STR(n->text),
                  TC_DBV_STR(n->html),    TC_DBV_STR(n->digest_key),
                  n->hold_until ? TC_DBV_I64(n->hold_until) : TC_DBV_NULLV,
                  TC_DBV_I64(n->next_attempt_at), TC_DBV_I64(now)};
    tc_status st = tc_db_exec(c, sql, p, NP(p), NULL, err);
    if (st == TC_OK && out_id)
        memcpy(out_id, id, 37);
    return st;
}

static const tc_col outbox_cols[] = {
    {"id", TC_COL_TEXT},           {"user_id", TC_COL_TEXT},   {"kind", TC_COL_TEXT},
    {"to", TC_COL_TEXT},           {"subject", TC_COL_TEXT},   {"text", TC_COL_TEXT},
    {"html", TC_COL_TEXT},         {"digest_key", TC_COL_TEXT}, {"attempt_count", TC_COL_INT},
    {"next_attempt_at", TC_COL_INT},
};

tc_status tc_repo_notify_outbox_due(tc_db_conn *c, int64_t now, int64_t limit, json_t **out,
                                    tc_err *err)
{
    static const char sql[] =
        "SELECT id, user_id, kind, to_address, subject, body_text, body_html, digest_key, "
        "attempt_count, next_attempt_at FROM notification_outbox "
        "WHERE status = 'pending' AND next_attempt_at <= $1 "
        "ORDER BY next_attempt_at, created_at, id LIMIT $2";
    tc_dbv p[] = {TC_DBV_I64(now), TC_DBV_I64(limit)};
    return tc_db_query_json(c, sql, p, NP(p), outbox_cols, NP(outbox_cols), (size_t)limit, out,
                            err);
}

tc_status tc_repo_notify_outbox_claim(tc_db_conn *c, const char *id, int64_t seen, int64_t until,
                                      bool *claimed, tc_err *err)
{
    static const char sql[] =
        "UPDATE notification_outbox SET next_attempt_at = $3 "
        "WHERE id = $1 AND status = 'pending' AND next_attempt_at = $2";
    tc_dbv p[] = {TC_DBV_STR(id), TC_DBV_I64(seen), TC_DBV_I64(until)};
    int64_t n = 0;
    tc_status st = tc_db_exec(c, sql, p, NP(p), &n, err);
    *claimed = st == TC_OK && n == 1;
    return st;
}

tc_status tc_repo_notify_outbox_sent(tc_db_conn *c, const char *id, int attempts, int64_t now,
                                     tc_err *err)
{
    static const char sql[] =
        "UPDATE notification_outbox SET status = 'sent', sent_at = $2, attempt_count = $3, "
        "last_error = NULL, next_attempt_at = NULL WHERE id = $1";
    tc_dbv p[] = {TC_DBV_STR(id), TC_DBV_I64(now), TC_DBV_I64(attempts)};
    return tc_db_exec(c, sql, p, NP(p), NULL, err);
}

tc_status tc_repo_notify_outbox_failed(tc_db_conn *c, const char *id, int attempts, int64_t next_at,
                                       const char *error, tc_err *err)
{
    static const char sql[] =
        "UPDATE notification_outbox SET status = CASE WHEN $3 > 0 THEN 'pending' ELSE 'failed' END, "
        "attempt_count = $2, next_attempt_at = CASE WHEN $3 > 0 THEN $3 ELSE NULL END, "
        "last_error = $4 WHERE id = $1";
    tc_dbv p[] = {TC_DBV_STR(id), TC_DBV_I64(attempts), TC_DBV_I64(next_at), TC_DBV_STR(error)};
    return tc_db_exec(c, sql, p, NP(p), NULL, err);
}

tc_status tc_repo_notify_outbox_list(tc_db_conn *c, const char *user_id, json_t **out,
                                     tc_err *err)
{
    static const char sql[] =
        "SELECT id, kind, subject, status, digest_key, hold_until, attempt_count, "
        "next_attempt_at, last_error, sent_at FROM notification_outbox WHERE user_id = $1 "
        "ORDER BY created_at DESC, id DESC LIMIT 100";
    static const tc_col cols[] = {
        {"id", TC_COL_TEXT},       {"kind", TC_COL_TEXT},          {"subject", TC_COL_TEXT},
        {"status", TC_COL_TEXT},   {"digest_key", TC_COL_TEXT},    {"hold_until", TC_COL_INT},
        {"attempt_count", TC_COL_INT}, {"next_attempt_at", TC_COL_INT}, {"last_error", TC_COL_TEXT},
        {"sent_at", TC_COL_INT},
    };
    tc_dbv p[] = {TC_DBV_STR(user_id)};
    return tc_db_query_json(c, sql, p, NP(p), cols, NP(cols), 100, out, err);
}

tc_status tc_repo_notify_outbox_counts(tc_db_conn *c, const char *user_id, json_t **out,
                                       tc_err *err)
{
    static const char sql[] =
        "SELECT status, COUNT(*) FROM notification_outbox WHERE user_id = $1 GROUP BY status";
    tc_dbv p[] = {TC_DBV_STR(user_id)};
    tc_db_rows *r = NULL;
    tc_status st = tc_db_query(c, sql, p, NP(p), &r, err);
    if (st != TC_OK)
        return st;
    *out = json_pack("{s:i, s:i, s:i}", "pending", 0, "sent", 0, "failed", 0);
    while (tc_db_rows_next(r))
        json_object_set_new(*out, tc_db_rows_text(r, 0), json_integer(tc_db_rows_int(r, 1)));
    tc_db_rows_free(r);
    return TC_OK;
}
