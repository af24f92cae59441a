/* Webhook endpoints, deliveries and attempts (see repo_webhooks.h). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/repo_json.h"
#include "store/repo_webhooks.h"

#define NP(a) (sizeof(a) / sizeof((a)[0]))

static void copy_text(char *dst, size_t cap, const char *src)
{
    snprintf(dst, cap, "%s", src ? src : "");
}

static unsigned char *copy_blob(tc_db_rows *r, int col, size_t *len)
{
    *len = 0;
    if (tc_db_rows_isnull(r, col))
        return NULL;
    size_t n = 0;
    const void *p = tc_db_rows_blob(r, col, &n);
    unsigned char *out = tc_malloc(n ? n : 1);
    if (n)
        memcpy(out, p, n);
    *len = n;
    return out;
}

/* ---- endpoints ----------------------------------------------------------- */

#define WEBHOOK_COLS                                                                   \
    "id, url, description, event_types, enabled, headers, template, disabled_reason, " \
    "disabled_at, failing_since, previous_secret_expires_at, created_at, updated_at"

static const tc_col webhook_cols[] = {
    {"id", TC_COL_TEXT},
    {"url", TC_COL_TEXT},
    {"description", TC_COL_TEXT},
    {"event_types", TC_COL_JSON},
    {"enabled", TC_COL_BOOL},
    {"headers", TC_COL_JSON},
    {"template", TC_COL_TEXT},
    {"disabled_reason", TC_COL_TEXT},
    {"disabled_at", TC_COL_TIME},
    {"failing_since", TC_COL_TIME},
    {"previous_secret_expires_at", TC_COL_TIME},
    {"created_at", TC_COL_TIME},
    {"updated_at", TC_COL_TIME},
};

tc_status tc_repo_webhook_insert(tc_db_conn *c, const char *user_id, const tc_repo_webhook_row *w,
                                 const void *secret, size_t secret_len, uint32_t secret_kid,
                                 int64_t now, tc_err *err)
{
    char kid[16];
    snprintf(kid, sizeof(kid), "%u", secret_kid);
    const tc_dbv p[] = {
        TC_DBV_STR(w->id),          TC_DBV_STR(user_id),        TC_DBV_STR(w->url),
        TC_DBV_STR(w->description ? w->description : ""),     TC_DBV_STR(w->event_types),
        TC_DBV_BOOL(w->enabled),    TC_DBV_STR(w->headers),     TC_DBV_STR(w->template_src),
        TC_DBV_BLOBV(secret, secret_len),                       TC_DBV_STR(kid),
        TC_DBV_I64(now),
    };
    return tc_db_exec(c,
                      "INSERT INTO webhooks (id, user_id, url, description, event_types, enabled, "
                      "headers, template, secret, secret_key_id, created_at, updated_at) "
                      "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11)",
                      p, NP(p), NULL, err);
}

tc_status tc_repo_webhook_update(tc_db_conn *c, const char *user_id, const tc_repo_webhook_row *w,
                                 bool set_enabled, int64_t now, tc_err *err)
{
    const tc_dbv p[] = {
        TC_DBV_STR(w->id),        TC_DBV_STR(user_id),      TC_DBV_STR(w->url),
        TC_DBV_STR(w->description ? w->description : ""),  TC_DBV_STR(w->event_types),
        TC_DBV_BOOL(set_enabled), TC_DBV_BOOL(w->enabled),  TC_DBV_STR(w->headers),
        TC_DBV_STR(w->template_src),                        TC_DBV_I64(now),
    };
    int64_t n = 0;
    tc_status st = tc_db_exec(
        c,
        "UPDATE webhooks SET url = $3, description = $4, event_types = $5, "
        "enabled = CASE WHEN $6 = 1 THEN $7 ELSE enabled END, "
        "disabled_reason = CASE WHEN $6 = 1 AND $7 = 1 THEN NULL ELSE disabled_reason END, "
        "disabled_at = CASE WHEN $6 = 1 AND $7 = 1 THEN NULL ELSE disabled_at END, "
        "failing_since = CASE WHEN $6 = 1 AND $7 = 1 THEN NULL ELSE failing_since END, "
        "headers = $8, template = $9, updated_at = $10 WHERE id = $1 AND user_id = $2",
        p, NP(p), &n, err);
    if (st == TC_OK && n == 0)
        return tc_failf(err, TC_NOT_FOUND, NULL, "webhook not found");
    return st;
}

tc_status tc_repo_webhook_delete(tc_db_conn *c, const char *user_id, const char *id, tc_err *err)
{
    const tc_dbv p[] = {TC_DBV_STR(id), TC_DBV_STR(user_id)};
    int64_t n = 0;
    tc_status st = tc_db_exec(c, "DELETE FROM webhooks WHERE id = $1 AND user_id = $2", p, NP(p),
                              &n, err);
    if (st == TC_OK && n == 0)
        return tc_failf(err, TC_NOT_FOUND, NULL, "webhook not found");
    return st;
}

tc_status tc_repo_webhook_get_json(tc_db_conn *c, const char *user_id, const char *id,
                                   json_t **out, tc_err *err)
{
    const tc_dbv p[] = {TC_DBV_STR(id), TC_DBV_STR(user_id)};
    json_t *arr = NULL;
    tc_status st = tc_db_query_json(c,
                                    "SELECT " WEBHOOK_COLS " FROM webhooks WHERE id = $1 AND user_id = $2",
                                    p, NP(p), webhook_cols, NP(webhook_cols), 1, &arr, err);
    if (st != TC_OK)
        return st;
    if (json_array_size(arr) == 0) {
        json_decref(arr);
        return tc_failf(err, TC_NOT_FOUND, NULL, "webhook not found");
    }
    *out = json_incref(json_array_get(arr, 0));
    json_decref(arr);
    return TC_OK;
}

tc_status tc_repo_webhook_list(tc_db_conn *c, const char *user_id, const char *cursor,
                               int64_t limit, json_t **items, char **next_cursor, tc_err *err)
{
    int64_t cur_ms;
    char cur_id[37];
    tc_status st = tc_repo_parse_cursor(cursor, &cur_ms, cur_id, err);
    if (st != TC_OK)
        return st;
    const tc_dbv p[] = {TC_DBV_STR(user_id), TC_DBV_I64(cur_ms), TC_DBV_STR(cur_id),
                        TC_DBV_I64(limit + 1)};
    tc_db_rows *r = NULL;
    st = tc_db_query(c,
                     "SELECT " WEBHOOK_COLS ", created_at FROM webhooks WHERE user_id = $1 "
                     "AND (created_at < $2 OR (created_at = $2 AND id < $3)) "
                     "ORDER BY created_at DESC, id DESC LIMIT $4",
                     p, NP(p), &r, err);
    if (st != TC_OK)
        return st;
    *items = json_array();
    *next_cursor = NULL;
    int64_t last_ms = 0;
    char last_id[37] = "";
    while (tc_db_rows_next(r)) {
        if ((int64_t)json_array_size(*items) == limit) {
            *next_cursor = tc_repo_cursor(last_ms, last_id);
            break;
        }
        json_array_append_new(*items, tc_db_row_json(r, webhook_cols, NP(webhook_cols)));
        last_ms = tc_db_rows_int(r, (int)NP(webhook_cols));
        copy_text(last_id, sizeof(last_id), tc_db_rows_text(r, 0));
    }
    tc_db_rows_free(r);
    return TC_OK;
}

tc_status tc_repo_webhook_secret(tc_db_conn *c, const char *user_id, const char *id,
                                 unsigned char **ct, size_t *ct_len, bool *enabled_out,
                                 tc_err *err)
{
    const tc_dbv p[] = {TC_DBV_STR(id), TC_DBV_STR(user_id)};
    tc_db_rows *r = NULL;
    tc_status st = tc_db_query(c, "SELECT secret, enabled FROM webhooks WHERE id = $1 AND user_id = $2",
                               p, NP(p), &r, err);
    if (st != TC_OK)
        return st;
    if (!tc_db_rows_next(r)) {
        tc_db_rows_free(r);
        return tc_failf(err, TC_NOT_FOUND, NULL, "webhook not found");
    }
    *ct = copy_blob(r, 0, ct_len);
    if (enabled_out)
        *enabled_out = tc_db_rows_int(r, 1) != 0;
    tc_db_rows_free(r);
    return *ct ? TC_OK : tc_failf(err, TC_INTERNAL, NULL, "webhook has no secret");
}

tc_status tc_repo_webhook_rotate(tc_db_conn *c, const char *user_id, const char *id,
                                 const void *old_ct, size_t old_len, const void *new_ct,
                                 size_t new_len, uint32_t new_kid, const void *prev_ct,
                                 size_t prev_len, uint32_t prev_kid, int64_t prev_expires,
                                 int64_t now, tc_err *err)
{
    char nk[16], pk[16];
    snprintf(nk, sizeof(nk), "%u", new_kid);
    snprintf(pk, sizeof(pk), "%u", prev_kid);
    const tc_dbv p[] = {
        TC_DBV_STR(id),       TC_DBV_STR(user_id), TC_DBV_BLOBV(old_ct, old_len),
        TC_DBV_BLOBV(new_ct, new_len),             TC_DBV_STR(nk),
        TC_DBV_BLOBV(prev_ct, prev_len),           TC_DBV_STR(pk),
        TC_DBV_I64(prev_expires),                  TC_DBV_I64(now),
    };
    int64_t n = 0;
    tc_status st = tc_db_exec(c,
                              "UPDATE webhooks SET secret = $4, secret_key_id = $5, "
                              "previous_secret = $6, previous_secret_key_id = $7, "
                              "previous_secret_expires_at = $8, updated_at = $9 "
                              "WHERE id = $1 AND user_id = $2 AND secret = $3",
                              p, NP(p), &n, err);
    if (st == TC_OK && n == 0)
        return tc_failf(err, TC_CONFLICT, NULL, "the secret changed meanwhile; try again");
    return st;
}

tc_status tc_repo_webhook_subscribers(tc_db_conn *c, const char *user_id, size_t max,
                                      json_t **out, tc_err *err)
{
    static const tc_col cols[] = {
        {"id", TC_COL_TEXT}, {"event_types", TC_COL_JSON}, {"template", TC_COL_TEXT}};
    const tc_dbv p[] = {TC_DBV_STR(user_id), TC_DBV_I64((int64_t)max)};
    return tc_db_query_json(c,
                            "SELECT id, event_types, template FROM webhooks "
                            "WHERE user_id = $1 AND enabled = 1 ORDER BY created_at, id LIMIT $2",
                            p, NP(p), cols, NP(cols), max, out, err);
}

static tc_status fail_pending_of(tc_db_conn *c, const char *id, int64_t now, tc_err *err)
{
    const tc_dbv p[] = {TC_DBV_STR(id), TC_DBV_I64(now)};
    return tc_db_exec(c,
                      "UPDATE webhook_deliveries SET status = 'failed', next_attempt_at = NULL, "
                      "last_error = 'endpoint disabled', claimed_by = NULL, claimed_until = NULL, "
                      "updated_at = $2 WHERE webhook_id = $1 AND status = 'pending' "
                      "AND claimed_by IS NULL",
                      p, NP(p), NULL, err);
}

tc_status tc_repo_webhook_note_result(tc_db_conn *c, const char *id, bool ok,
                                      const char *disable_reason, int64_t fail_cutoff,
                                      int64_t now, bool *disabled, char *reason_out,
                                      size_t reason_cap, tc_err *err)
{
    *disabled = false;
    if (ok) {
        const tc_dbv p[] = {TC_DBV_STR(id)};
        return tc_db_exec(c,
                          "UPDATE webhooks SET failing_since = NULL WHERE id = $1 "
                          "AND failing_since IS NOT NULL",
                          p, NP(p), NULL, err);
    }
    const tc_dbv p[] = {TC_DBV_STR(id), TC_DBV_I64(now)};
    tc_status st = tc_db_exec(c,
                              "UPDATE webhooks SET failing_since = $2 WHERE id = $1 "
                              "AND failing_since IS NULL",
                              p, NP(p), NULL, err);
    if (st != TC_OK)
        return st;
    char reason[256];
    if (disable_reason) {
        copy_text(reason, sizeof(reason), disable_reason);
    } else {
        if (fail_cutoff <= 0)
            return TC_OK;
        const tc_dbv q[] = {TC_DBV_STR(id), TC_DBV_I64(fail_cutoff)};
        tc_db_rows *r = NULL;
        st = tc_db_query(c,
                         "SELECT failing_since FROM webhooks WHERE id = $1 AND enabled = 1 "
                         "AND failing_since IS NOT NULL AND failing_since <= $2",
                         q, NP(q), &r, err);
        if (st != TC_OK)
            return st;
        bool hit = tc_db_rows_next(r);
        char since[32] = "";
        if (hit)
            tc_time_format(tc_db_rows_int(r, 0), since);
        tc_db_rows_free(r);
        if (!hit)
            return TC_OK;
        snprintf(reason, sizeof(reason), "every delivery has failed since %s", since);
    }
    const tc_dbv d[] = {TC_DBV_STR(id), TC_DBV_STR(reason), TC_DBV_I64(now)};
    int64_t n = 0;
    st = tc_db_exec(c,
                    "UPDATE webhooks SET enabled = 0, disabled_reason = $2, disabled_at = $3 "
                    "WHERE id = $1 AND enabled = 1",
                    d, NP(d), &n, err);
    if (st == TC_OK && n > 0) {
        *disabled = true;
        copy_text(reason_out, reason_cap, reason);
        st = fail_pending_of(c, id, now, err);
    }
    return st;
}

/* ---- deliveries ------------------------------------------------------------ */

tc_status tc_repo_delivery_insert(tc_db_conn *c, const tc_repo_delivery_new *d, int64_t now,
                                  tc_err *err)
{
    const tc_dbv p[] = {TC_DBV_STR(d->id),         TC_DBV_STR(d->webhook_id),
                        TC_DBV_STR(d->user_id),    TC_DBV_STR(d->event_type),
                        TC_DBV_STR(d->message_id), TC_DBV_STR(d->payload),
                        TC_DBV_I64(now)};
    return tc_db_exec(c,
                      "INSERT INTO webhook_deliveries (id, webhook_id, user_id, event_type, "
                      "event_id, payload, status, attempt_count, next_attempt_at, created_at, "
                      "updated_at) VALUES ($1, $2, $3, $4, $5, $6, 'pending', 0, $7, $7, $7)",
                      p, NP(p), NULL, err);
}


void tc_repo_claimed_clear(tc_repo_claimed *d)
{
    free(d->payload);
    free(d->url);
    free(d->headers);
    free(d->secret);
    free(d->prev_secret);
    memset(d, 0, sizeof(*d));
}

static void claimed_from_row(tc_db_rows *r, tc_repo_claimed *d)
{
    copy_text(d->id, sizeof(d->id), tc_db_rows_text(r, 0));
    copy_text(d->webhook_id, sizeof(d->webhook_id), tc_db_rows_text(r, 1));
    copy_text(d->user_id, sizeof(d->user_id), tc_db_rows_text(r, 2));
    copy_text(d->event_type, sizeof(d->event_type), tc_db_rows_text(r, 3));
    copy_text(d->message_id, sizeof(d->message_id), tc_db_rows_text(r, 4));
    d->payload = tc_strdup(tc_db_rows_text(r, 5));
    d->attempt_count = tc_db_rows_int(r, 6);
    d->created_at = tc_db_rows_int(r, 7);
}

/* Fills the endpoint columns of ds[i..n) that share ds[i]'s endpoint. */
static tc_status claimed_endpoint(tc_db_conn *c, tc_repo_claimed *ds, size_t i, size_t n,
                                  tc_err *err)
{
    const tc_dbv p[] = {TC_DBV_STR(ds[i].webhook_id)};
    tc_db_rows *r = NULL;
    tc_status st = tc_db_query(c,
                               "SELECT url, headers, secret, previous_secret, "
                               "previous_secret_expires_at FROM webhooks WHERE id = $1",
                               p, NP(p), &r, err);
    if (st != TC_OK)
        return st;
    if (tc_db_rows_next(r)) {
        for (size_t j = i; j < n; j++) {
            tc_repo_claimed *d = &ds[j];
            if (d->url || strcmp(d->webhook_id, ds[i].webhook_id))
                continue;
            d->url = tc_strdup(tc_db_rows_text(r, 0));
            d->headers = tc_strdup(tc_db_rows_text(r, 1));
            d->secret = copy_blob(r, 2, &d->secret_len);
            d->prev_secret = copy_blob(r, 3, &d->prev_secret_len);
            d->prev_expires_at = tc_db_rows_int(r, 4);
        }
    }
    tc_db_rows_free(r);
    return TC_OK;
}

/* Due: pending, time come, no live lease, endpoint enabled. PostgreSQL's
 * outer WHERE repeats the conditions so a row claimed meanwhile (READ
 * COMMITTED re-check) is not taken twice. */
#define DUE_WHERE                                                                 \
    "d.status = 'pending' AND d.next_attempt_at <= $2 "                           \
    "AND (d.claimed_until IS NULL OR d.claimed_until < $2) "                      \
    "AND EXISTS (SELECT 1 FROM webhooks w WHERE w.id = d.webhook_id AND w.enabled = 1)"
#define CLAIM_RETURNING \
    " RETURNING id, webhook_id, user_id, event_type, event_id, payload, attempt_count, created_at"

tc_status tc_repo_delivery_claim(tc_db_conn *c, const char *token, int64_t now,
                                 int64_t lease_until, int64_t limit, tc_repo_claimed **out,
                                 size_t *n, tc_err *err)
{
    static const char sql_sqlite[] =
        "UPDATE webhook_deliveries SET claimed_by = $1, claimed_until = $3, updated_at = $2 "
        "WHERE id IN (SELECT d.id FROM webhook_deliveries d WHERE " DUE_WHERE
        " ORDER BY d.next_attempt_at LIMIT $4)" CLAIM_RETURNING;
    static const char sql_pg[] =
        "UPDATE webhook_deliveries SET claimed_by = $1, claimed_until = $3, updated_at = $2 "
        "WHERE id IN (SELECT d.id FROM webhook_deliveries d WHERE " DUE_WHERE
        " ORDER BY d.next_attempt_at LIMIT $4 FOR UPDATE OF d SKIP LOCKED) "
        "AND status = 'pending' AND (claimed_until IS NULL OR claimed_until < $2)" CLAIM_RETURNING;
    const tc_dbv p[] = {TC_DBV_STR(token), TC_DBV_I64(now), TC_DBV_I64(lease_until),
                        TC_DBV_I64(limit)};
    *out = NULL;
    *n = 0;
    tc_db_rows *r = NULL;
    const char *sql = tc_db_conn_kind(c) == TC_DB_POSTGRES ? sql_pg : sql_sqlite;
    tc_status st = tc_db_query(c, sql, p, NP(p), &r, err);
    if (st != TC_OK)
        return st;
    size_t cap = limit > 0 ? (size_t)limit : 1;
    tc_repo_claimed *ds = tc_calloc(cap, sizeof(*ds));
    while (*n < cap && tc_db_rows_next(r))
        claimed_from_row(r, &ds[(*n)++]);
    tc_db_rows_free(r); /* releases SQLite's writer lock before the next reads */
    for (size_t i = 0; i < *n && st == TC_OK; i++)
        if (!ds[i].url)
            st = claimed_endpoint(c, ds, i, *n, err);
    *out = ds;
    return st;
}

static tc_status attempt_insert(tc_db_conn *c, const tc_repo_attempt *a, int64_t now, tc_err *err)
{
    const tc_dbv q[] = {
        TC_DBV_STR(a->delivery_id),
        TC_DBV_STR(a->user_id),
        TC_DBV_I64(a->attempt),
        a->status_code ? TC_DBV_I64(a->status_code) : TC_DBV_NULLV,
        TC_DBV_STR(a->response_headers),
        TC_DBV_STR(a->response_body),
        TC_DBV_I64(a->duration_ms),
        TC_DBV_STR(a->error),
        TC_DBV_I64(now),
    };
    return tc_db_exec(c,
                      "INSERT INTO webhook_attempts (delivery_id, user_id, attempt, status_code, "
                      "response_headers, response_body, duration_ms, error, created_at) "
                      "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                      q, NP(q), NULL, err);
}

tc_status tc_repo_delivery_record(tc_db_conn *c, const char *token, const tc_repo_attempt *a,
                                  int64_t now, bool *owned, tc_err *err)
{
    bool pending = !strcmp(a->status, "pending");
    const tc_dbv p[] = {
        TC_DBV_STR(a->delivery_id),
        TC_DBV_STR(token),
        TC_DBV_STR(a->status),
        pending ? TC_DBV_I64(a->next_attempt_at) : TC_DBV_NULLV,
        TC_DBV_I64(now),
        a->status_code ? TC_DBV_I64(a->status_code) : TC_DBV_NULLV,
        TC_DBV_STR(a->error),
    };
    int64_t n = 0;
    *owned = false;
    tc_status st = tc_db_exec(c,
                              "UPDATE webhook_deliveries SET status = $3, next_attempt_at = $4, "
                              "attempt_count = attempt_count + 1, last_attempt_at = $5, "
                              "last_status_code = $6, last_error = $7, claimed_by = NULL, "
                              "claimed_until = NULL, updated_at = $5 "
                              "WHERE id = $1 AND claimed_by = $2 AND status = 'pending'",
                              p, NP(p), &n, err);
    if (st != TC_OK || n == 0)
        return st;
    *owned = true;
    return attempt_insert(c, a, now, err);
}

/* Statements for chunks of 1, 2, 4, 8 and 16 rows (any count is recorded
 * as at most five of them, so few distinct statements sit in each
 * connection's cache): "UPDATE ... CASE id WHEN $3 THEN $4 ... WHERE id IN
 * ($3, $5, ...)" and "INSERT ... VALUES (...), (...)". Built once. */
#define CHUNK_SIZES 5
static pthread_once_t chunk_once = PTHREAD_ONCE_INIT;
static char chunk_upd[CHUNK_SIZES][2048], chunk_ins[CHUNK_SIZES][4096];

static void chunk_sql(int n, char *upd, size_t ucap, char *ins, size_t icap)
{
    tc_buf b;
    tc_buf_init(&b, ucap);
    tc_buf_puts(&b, "UPDATE webhook_deliveries SET status = 'succeeded', next_attempt_at = NULL, "
                    "attempt_count = attempt_count + 1, last_attempt_at = $2, last_error = NULL, "
                    "claimed_by = NULL, claimed_until = NULL, updated_at = $2, "
                    "last_status_code = CASE id");
    for (int i = 0; i < n; i++)
        tc_buf_printf(&b, " WHEN $%d THEN $%d", 3 + 2 * i, 4 + 2 * i);
    /* coalesce(status, ...): without it SQLite's planner walks the
     * (status, next_attempt_at) index over every pending row instead of
     * looking the ids up (quadratic on a full queue). */
    tc_buf_puts(&b, " END WHERE claimed_by = $1 AND coalesce(status, '') = 'pending' AND id IN (");
    for (int i = 0; i < n; i++)
        tc_buf_printf(&b, "%s$%d", i ? ", " : "", 3 + 2 * i);
    tc_buf_puts(&b, ")");
    snprintf(upd, ucap, "%s", b.data);
    tc_buf_reset(&b);
    b.max = icap;
    tc_buf_puts(&b, "INSERT INTO webhook_attempts (delivery_id, user_id, attempt, status_code, "
                    "response_headers, response_body, duration_ms, error, created_at) VALUES ");
    for (int i = 0; i < n; i++) {
        int p = 2 + 7 * i;
        tc_buf_printf(&b, "%s($%d, $%d, $%d, $%d, $%d, $%d, $%d, NULL, $1)", i ? ", " : "", p, p + 1,
                      p + 2, p + 3, p + 4, p + 5, p + 6);
    }
    snprintf(ins, icap, "%s", b.data);
    tc_buf_free(&b);
}

static void chunk_init(void)
{
    for (int k = 0; k < CHUNK_SIZES; k++)
        chunk_sql(1 << k, chunk_upd[k], sizeof(chunk_upd[k]), chunk_ins[k], sizeof(chunk_ins[k]));
}

/* One chunk of n = 1 << k rows: the UPDATE proves the claims (each id
 * matches at most one row, so n changed rows means every one was still
 * ours), then the attempts. */
static tc_status record_chunk(tc_db_conn *c, int k, const char *token, const tc_repo_attempt *a,
                              int64_t now, bool *all_owned, tc_err *err)
{
    int n = 1 << k;
    tc_dbv up[2 + 2 * TC_REPO_RECORD_CHUNK];
    up[0] = TC_DBV_STR(token);
    up[1] = TC_DBV_I64(now);
    for (int i = 0; i < n; i++) {
        up[2 + 2 * i] = TC_DBV_STR(a[i].delivery_id);
        up[3 + 2 * i] = TC_DBV_I64(a[i].status_code);
    }
    int64_t changed = 0;
    tc_status st = tc_db_exec(c, chunk_upd[k], up, (size_t)(2 + 2 * n), &changed, err);
    if (st != TC_OK)
        return st;
    if (changed != n) { /* rare: a lease ran out; the caller redoes it row by row */
        *all_owned = false;
        return TC_OK;
    }
    tc_dbv ip[1 + 7 * TC_REPO_RECORD_CHUNK];
    ip[0] = TC_DBV_I64(now);
    for (int i = 0; i < n; i++) {
        tc_dbv *p = &ip[1 + 7 * i];
        p[0] = TC_DBV_STR(a[i].delivery_id);
        p[1] = TC_DBV_STR(a[i].user_id);
        p[2] = TC_DBV_I64(a[i].attempt);
        p[3] = TC_DBV_I64(a[i].status_code);
        p[4] = TC_DBV_STR(a[i].response_headers);
        p[5] = TC_DBV_STR(a[i].response_body);
        p[6] = TC_DBV_I64(a[i].duration_ms);
    }
    return tc_db_exec(c, chunk_ins[k], ip, (size_t)(1 + 7 * n), NULL, err);
}

tc_status tc_repo_delivery_record_succeeded(tc_db_conn *c, const char *token,
                                            const tc_repo_attempt *a, size_t n, int64_t now,
                                            bool *all_owned, tc_err *err)
{
    pthread_once(&chunk_once, chunk_init);
    tc_status st = TC_OK;
    size_t off = 0;
    *all_owned = true;
    while (off < n && st == TC_OK && *all_owned) {
        int k = CHUNK_SIZES - 1;
        while (k > 0 && (size_t)1 << k > n - off)
            k--;
        st = record_chunk(c, k, token, a + off, now, all_owned, err);
        off += (size_t)1 << k;
    }
    return st;
}

tc_status tc_repo_delivery_release(tc_db_conn *c, const char *token, tc_err *err)
{
    const tc_dbv p[] = {TC_DBV_STR(token)};
    return tc_db_exec(c,
                      "UPDATE webhook_deliveries SET claimed_by = NULL, claimed_until = NULL "
                      "WHERE claimed_by = $1",
                      p, NP(p), NULL, err);
}

tc_status tc_repo_delivery_next_due(tc_db_conn *c, int64_t *at, bool *found, tc_err *err)
{
    tc_db_rows *r = NULL;
    *found = false;
    tc_status st = tc_db_query(
        c,
        "SELECT d.next_attempt_at FROM webhook_deliveries d WHERE d.status = 'pending' "
        "AND d.claimed_by IS NULL AND EXISTS (SELECT 1 FROM webhooks w "
        "WHERE w.id = d.webhook_id AND w.enabled = 1) ORDER BY d.next_attempt_at LIMIT 1",
        NULL, 0, &r, err);
    if (st != TC_OK)
        return st;
    if (tc_db_rows_next(r) && !tc_db_rows_isnull(r, 0)) {
        *at = tc_db_rows_int(r, 0);
        *found = true;
    }
    tc_db_rows_free(r);
    return TC_OK;
}

#define DELIVERY_COLS                                                                         \
    "id, webhook_id, event_type, event_id, status, attempt_count, next_attempt_at, "          \
    "last_attempt_at, last_status_code, last_error, payload, created_at, updated_at"

static const tc_col delivery_cols[] = {
    {"id", TC_COL_TEXT},
    {"webhook_id", TC_COL_TEXT},
    {"event_type", TC_COL_TEXT},
    {"webhook_message_id", TC_COL_TEXT},
    {"status", TC_COL_TEXT},
    {"attempt_count", TC_COL_INT},
    {"next_attempt_at", TC_COL_TIME},
    {"last_attempt_at", TC_COL_TIME},
    {"last_status_code", TC_COL_INT},
    {"last_error", TC_COL_TEXT},
    {"payload", TC_COL_JSON},
    {"created_at", TC_COL_TIME},
    {"updated_at", TC_COL_TIME},
};

static const tc_col attempt_cols[] = {
    {"attempt", TC_COL_INT},          {"status_code", TC_COL_INT},
    {"response_headers", TC_COL_TEXT}, {"response_body", TC_COL_TEXT},
    {"duration_ms", TC_COL_INT},      {"error", TC_COL_TEXT},
    {"created_at", TC_COL_TIME},
};

static tc_status attach_attempts(tc_db_conn *c, const char *user_id, json_t *delivery, tc_err *err)
{
    const tc_dbv p[] = {TC_DBV_STR(json_string_value(json_object_get(delivery, "id"))),
                        TC_DBV_STR(user_id), TC_DBV_I64(TC_REPO_WEBHOOK_ATTEMPTS_SHOWN)};
    json_t *arr = NULL;
    tc_status st = tc_db_query_json(c,
                                    "SELECT attempt, status_code, response_headers, response_body, "
                                    "duration_ms, error, created_at FROM webhook_attempts "
                                    "WHERE delivery_id = $1 AND user_id = $2 ORDER BY id DESC LIMIT $3",
                                    p, NP(p), attempt_cols, NP(attempt_cols),
                                    TC_REPO_WEBHOOK_ATTEMPTS_SHOWN, &arr, err);
    if (st == TC_OK)
        json_object_set_new(delivery, "attempts", arr);
    return st;
}

static tc_status webhook_owned(tc_db_conn *c, const char *user_id, const char *id, tc_err *err)
{
    const tc_dbv p[] = {TC_DBV_STR(id), TC_DBV_STR(user_id)};
    tc_db_rows *r = NULL;
    tc_status st = tc_db_query(c, "SELECT 1 FROM webhooks WHERE id = $1 AND user_id = $2", p, NP(p),
                               &r, err);
    if (st != TC_OK)
        return st;
    bool hit = tc_db_rows_next(r);
    tc_db_rows_free(r);
    return hit ? TC_OK : tc_failf(err, TC_NOT_FOUND, NULL, "webhook not found");
}

tc_status tc_repo_delivery_list(tc_db_conn *c, const char *user_id,
                                const tc_repo_delivery_filter *f, json_t **items,
                                char **next_cursor, tc_err *err)
{
    int64_t cur_ms;
    char cur_id[37];
    tc_status st = tc_repo_parse_cursor(f->cursor, &cur_ms, cur_id, err);
    if (st == TC_OK)
        st = webhook_owned(c, user_id, f->webhook_id, err);
    if (st != TC_OK)
        return st;
    const tc_dbv p[] = {TC_DBV_STR(f->webhook_id), TC_DBV_STR(user_id),   TC_DBV_STR(f->status),
                        TC_DBV_STR(f->event_type), TC_DBV_I64(cur_ms),     TC_DBV_STR(cur_id),
                        TC_DBV_I64(f->limit + 1)};
    tc_db_rows *r = NULL;
    st = tc_db_query(c,
                     "SELECT " DELIVERY_COLS ", created_at FROM webhook_deliveries "
                     "WHERE webhook_id = $1 AND user_id = $2 "
                     "AND (CAST($3 AS TEXT) IS NULL OR status = $3) "
                     "AND (CAST($4 AS TEXT) IS NULL OR event_type = $4) "
                     "AND (created_at < $5 OR (created_at = $5 AND id < $6)) "
                     "ORDER BY created_at DESC, id DESC LIMIT $7",
                     p, NP(p), &r, err);
    if (st != TC_OK)
        return st;
    json_t *arr = json_array();
    *next_cursor = NULL;
    int64_t last_ms = 0;
    char last_id[37] = "";
    while (tc_db_rows_next(r)) {
        if ((int64_t)json_array_size(arr) == f->limit) {
            *next_cursor = tc_repo_cursor(last_ms, last_id);
            break;
        }
        json_array_append_new(arr, tc_db_row_json(r, delivery_cols, NP(delivery_cols)));
        last_ms = tc_db_rows_int(r, (int)NP(delivery_cols));
        copy_text(last_id, sizeof(last_id), tc_db_rows_text(r, 0));
    }
    tc_db_rows_free(r);
    size_t i;
    json_t *d;
    json_array_foreach(arr, i, d) {
        if ((st = attach_attempts(c, user_id, d, err)) != TC_OK)
            break;
    }
    if (st != TC_OK) {
        json_decref(arr);
        free(*next_cursor);
        *next_cursor = NULL;
        return st;
    }
    *items = arr;
    return TC_OK;
}

tc_status tc_repo_delivery_get_json(tc_db_conn *c, const char *user_id, const char *id,
                                    json_t **out, tc_err *err)
{
    const tc_dbv p[] = {TC_DBV_STR(id), TC_DBV_STR(user_id)};
    json_t *arr = NULL;
    tc_status st = tc_db_query_json(c,
                                    "SELECT " DELIVERY_COLS " FROM webhook_deliveries "
                                    "WHERE id = $1 AND user_id = $2",
                                    p, NP(p), delivery_cols, NP(delivery_cols), 1, &arr, err);
    if (st != TC_OK)
        return st;
    json_t *d = json_array_get(arr, 0);
    if (!d) {
        json_decref(arr);
        return tc_failf(err, TC_NOT_FOUND, NULL, "delivery not found");
    }
    json_incref(d);
    json_decref(arr);
    st = attach_attempts(c, user_id, d, err);
    if (st != TC_OK) {
        json_decref(d);
        return st;
    }
    *out = d;
    return TC_OK;
}

tc_status tc_repo_delivery_retry(tc_db_conn *c, const char *user_id, const char *id, int64_t now,
                                 tc_err *err)
{
    const tc_dbv p[] = {TC_DBV_STR(id), TC_DBV_STR(user_id)};
    tc_db_rows *r = NULL;
    tc_status st = tc_db_query(c,
                               "SELECT d.status, w.enabled FROM webhook_deliveries d "
                               "JOIN webhooks w ON w.id = d.webhook_id "
                               "WHERE d.id = $1 AND d.user_id = $2",
                               p, NP(p), &r, err);
    if (st != TC_OK)
        return st;
    if (!tc_db_rows_next(r)) {
        tc_db_rows_free(r);
        return tc_failf(err, TC_NOT_FOUND, NULL, "delivery not found");
    }
    bool pending = !strcmp(tc_db_rows_text(r, 0), "pending");
    bool enabled = tc_db_rows_int(r, 1) != 0;
    tc_db_rows_free(r);
    if (pending)
        return tc_failc(err, TC_CONFLICT, "delivery_pending", NULL,
                        "the delivery is still pending; it is retried automatically");
    if (!enabled)
        return tc_failc(err, TC_CONFLICT, "webhook_disabled", NULL,
                        "the webhook is disabled; enable it before retrying");
    const tc_dbv q[] = {TC_DBV_STR(id), TC_DBV_STR(user_id), TC_DBV_I64(now)};
    int64_t n = 0;
    st = tc_db_exec(c,
                    "UPDATE webhook_deliveries SET status = 'pending', next_attempt_at = $3, "
                    "claimed_by = NULL, claimed_until = NULL, updated_at = $3 "
                    "WHERE id = $1 AND user_id = $2 AND status <> 'pending'",
                    q, NP(q), &n, err);
    if (st == TC_OK && n == 0)
        return tc_failc(err, TC_CONFLICT, "delivery_pending", NULL,
                        "the delivery is still pending; it is retried automatically");
    return st;
}

/* ---- retention ---------------------------------------------------------------- */

tc_status tc_repo_webhook_prune(tc_db_conn *c, int64_t cutoff, int64_t max, int64_t *deliveries,
                                int64_t *attempts, tc_err *err)
{
    /* Endpoint by endpoint along (webhook_id, created_at): only rows older
     * than the cutoff are visited, whatever the table's size. SQLite keeps
     * CROSS JOIN's order, and coalesce() keeps it off the (status, ...)
     * index, which would walk every finished row (EXPLAIN QUERY PLAN). */
    const tc_dbv p[] = {TC_DBV_I64(cutoff), TC_DBV_I64(max)};
    *deliveries = *attempts = 0;
    tc_status st = tc_db_exec(c,
                              "DELETE FROM webhook_deliveries WHERE id IN (SELECT d.id FROM webhooks w "
                              "CROSS JOIN webhook_deliveries d WHERE d.webhook_id = w.id "
                              "AND d.created_at < $1 AND coalesce(d.status, '') IN ('succeeded', 'failed') "
                              "AND coalesce(d.last_attempt_at, d.created_at) < $1 LIMIT $2)",
                              p, NP(p), deliveries, err);
    if (st != TC_OK)
        return st;
    /* The oldest max attempts only: once they are younger than the cutoff
     * there is nothing older, and the statement reads max rows at most. */
    return tc_db_exec(c,
                      "DELETE FROM webhook_attempts WHERE id IN (SELECT o.id FROM "
                      "(SELECT id, created_at FROM webhook_attempts ORDER BY id LIMIT $2) o "
                      "WHERE o.created_at < $1)",
                      p, NP(p), attempts, err);
}
