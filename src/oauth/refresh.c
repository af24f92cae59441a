/* Token refresh (RFC 6749 section 6), single-flight through the database:
 *
 *   1. read the row: status, expiry, refresh_version, lease;
 *   2. decide whether this caller needs a refresh (mode below);
 *   3. take the lease: UPDATE ... SET refresh_lock_owner/until WHERE
 *      refresh_version = seen AND no unexpired lease (one winner across
 *      threads, processes and instances);
 *   4. the winner calls the provider and saves access + refresh token in ONE
 *      UPDATE guarded by refresh_version = seen (version + 1, lease cleared);
 *      losers poll the row until the version moves or the lease lapses.
 * invalid_grant expires the connection; transient failures drop the lease
 * and retry with backoff, leaving the connection active. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crypto/keys.h"
#include "events/events.h"
#include "oauth/oauth_int.h"
#include "store/repo_connectors.h"
#include "store/repo_oauth.h"

#define POLL_MS 50
#define LEASE_EXTRA_MS 5000
#define ON_DEMAND_TRIES 3
#define BACKOFF_BASE_MS 1000
#define BACKOFF_MAX_MS (5 * 60 * 1000)
#define NEEDS_RECONNECT "needs reconnect"

typedef enum { MODE_ON_DEMAND, MODE_AFTER_401, MODE_FORCE, MODE_BACKGROUND } mode;

typedef struct refresh_call {
    tc_oauth *o;
    const char *user_id;
    const char *id;
    mode mode;
    const char *rejected;   /* MODE_AFTER_401 */
    int64_t first_version;  /* -1 until the first read */
    bool renewed;
} refresh_call;

static void sleep_ms(int64_t ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

static int64_t lease_ms(const tc_oauth *o)
{
    return (o->o.timeout_ms > 0 ? o->o.timeout_ms : 10000) + LEASE_EXTRA_MS;
}

static tc_status open_secret(tc_oauth *o, const tc_repo_oauth_conn *rc, json_t **out, tc_err *err)
{
    *out = NULL;
    if (!rc->secret)
        return TC_OK;
    char aad[TC_SECRET_AAD_MAX];
    tc_secret_aad(aad, TC_AAD_CONNECTION_SECRET, rc->id);
    unsigned char *pt = NULL;
    size_t n = 0;
    tc_status st = tc_secretbox_open(o->o.keyring, aad, rc->secret, rc->secret_len, &pt, &n, err);
    if (st == TC_OK)
        *out = json_loadb((const char *)pt, n, 0, NULL);
    tc_secret_free(pt, n);
    return st;
}

static void secret_free(json_t *s)
{
    const char *k;
    json_t *v;
    json_object_foreach(s, k, v)
        if (json_is_string(v))
            json_string_set(v, "");
    json_decref(s);
}

/* Does this caller still need a refresh, given the row as it is now? */
static bool needed(const refresh_call *rc, const tc_repo_oauth_conn *row, const json_t *secret)
{
    int64_t now = tc_now_ms();
    switch (rc->mode) {
    case MODE_ON_DEMAND:
        return row->expires_at && row->expires_at - now <= TC_OAUTH_ON_DEMAND_SKEW_MS;
    case MODE_BACKGROUND:
        return row->expires_at && row->expires_at - now <= rc->o->o.refresh_margin_ms;
    case MODE_FORCE:
        return row->version == rc->first_version;
    case MODE_AFTER_401: {
        const char *cur = json_string_value(json_object_get(secret, "access_token"));
        return cur && rc->rejected && !strcmp(cur, rc->rejected);
    }
    }
    return false;
}

/* Expires the connection (if still at version) and announces it. */
static tc_status expire(refresh_call *rc, int64_t version, tc_err *err)
{
    tc_oauth *o = rc->o;
    tc_change ch = {0};
    bool done = false;
    tc_err e2;
    tc_db_conn *c = tc_db_acquire(o->o.db);
    tc_status st = tc_db_begin(c, &e2);
    if (st == TC_OK)
        st = tc_repo_oauth_expire(c, rc->user_id, rc->id, version, NEEDS_RECONNECT, tc_now_ms(), &done, &e2);
    if (st == TC_OK && done)
        st = tc_oauth__record(o, c, rc->user_id, rc->id, "connection.expired", &ch, &e2);
    if (st == TC_OK)
        st = tc_db_commit(c, &e2);
    else
        tc_db_rollback(c);
    tc_db_release(c);
    if (st == TC_OK && done && o->o.events)
        tc_events_publish(o->o.events, &ch);
    tc_change_clear(&ch);
    if (st != TC_OK)
        tc_log(TC_LOG_ERROR, "oauth: marking a connection expired failed", "connection", rc->id,
               "error", e2.message, NULL);
    else if (done)
        tc_log(TC_LOG_INFO, "oauth connection expired: needs reconnect", "connection", rc->id, NULL);
    return tc_failc(err, TC_CONFLICT, "connection_expired", "connection_id",
                    "the provider no longer accepts this connection's grant: reconnect it");
}

static tc_status save(refresh_call *rc, const tc_repo_oauth_conn *row, const json_t *secret,
                      const tc_oauth__tokens *t, tc_err *err)
{
    tc_oauth *o = rc->o;
    char *text = tc_oauth__secret_text(t, json_string_value(json_object_get(secret, "refresh_token")));
    unsigned char *ct = NULL;
    size_t ctlen = 0;
    char kid[16];
    tc_status st = tc_oauth__seal(o, TC_AAD_CONNECTION_SECRET, rc->id, text, &ct, &ctlen, kid, err);
    tc_secret_free_str(text);
    if (st != TC_OK)
        return st;
    int64_t now = tc_now_ms();
    bool saved = false;
    tc_change ch = {0};
    tc_db_conn *c = tc_db_acquire(o->o.db);
    st = tc_db_begin(c, err);
    if (st == TC_OK)
        st = tc_repo_oauth_tokens_save(c, rc->user_id, rc->id, row->version, ct, ctlen, kid,
                                       t->expires_in >= 0 ? now + t->expires_in * 1000 : 0, t->scope,
                                       now, &saved, err);
    if (st == TC_OK && saved)
        st = tc_oauth__record(o, c, rc->user_id, rc->id, NULL, &ch, err);
    if (st == TC_OK)
        st = tc_db_commit(c, err);
    else
        tc_db_rollback(c);
    tc_db_release(c);
    if (st == TC_OK && saved && o->o.events)
        tc_events_publish(o->o.events, &ch);
    tc_change_clear(&ch);
    free(ct);
    if (st == TC_OK && !saved)
        tc_log(TC_LOG_WARN, "oauth: refreshed tokens not saved (the row moved on meanwhile)",
               "connection", rc->id, NULL);
    rc->renewed = st == TC_OK && saved;
    return st;
}

/* Calls the provider while holding the lease. */
static tc_status renew(refresh_call *rc, const tc_repo_oauth_conn *row, const json_t *secret,
                       const char *owner, tc_err *err)
{
    tc_oauth *o = rc->o;
    tc_repo_connector conn = {0};
    tc_oauth__client cl = {0};
    tc_db_conn *c = tc_db_acquire(o->o.db);
    tc_status st = tc_repo_connector_get(c, rc->user_id, row->connector_slug, &conn, err);
    if (st == TC_OK)
        st = tc_oauth__client_load(o, c, conn.id, &cl, err);
    tc_db_release(c);
    tc_oauth__tokens t = {0};
    if (st == TC_OK) {
        const char *params[] = {"grant_type", "refresh_token", "refresh_token",
                                json_string_value(json_object_get(secret, "refresh_token")), NULL};
        st = tc_oauth__token_call(o, json_object_get(conn.definition, "auth"), &cl, params, &t, err);
    }
    if (st == TC_OK)
        st = save(rc, row, secret, &t, err);
    else if (st == TC_CONFLICT && !strcmp(err->code, "invalid_grant"))
        st = expire(rc, row->version, err);
    if (st != TC_OK && st != TC_CONFLICT) {
        tc_err e2;
        c = tc_db_acquire(o->o.db);
        tc_repo_oauth_lease_drop(c, rc->user_id, rc->id, owner, &e2);
        tc_db_release(c);
    }
    tc_oauth__tokens_clear(&t);
    tc_oauth__client_clear(&cl);
    tc_repo_connector_clear(&conn);
    return st;
}

/* One round: read, decide, lease, renew. *again asks the caller to read
 * again after a pause (someone else holds the lease). */
static tc_status round_once(refresh_call *rc, bool *again, tc_err *err)
{
    *again = false;
    tc_repo_oauth_conn row;
    tc_db_conn *c = tc_db_acquire(rc->o->o.db);
    tc_status st = tc_repo_oauth_conn_get(c, rc->user_id, rc->id, &row, err);
    tc_db_release(c);
    if (st != TC_OK)
        return st;
    json_t *secret = NULL;
    if (strcmp(row.auth_type, "oauth2") || strcmp(row.status, "active"))
        goto out; /* not ours, or inactive: the credential load says so */
    if (rc->first_version < 0)
        rc->first_version = row.version;
    /* Cheap test first: most credential loads find a fresh token. */
    if (rc->mode != MODE_AFTER_401 && !needed(rc, &row, NULL))
        goto out;
    st = open_secret(rc->o, &row, &secret, err);
    if (st != TC_OK || !needed(rc, &row, secret))
        goto out;
    if (!json_string_value(json_object_get(secret, "refresh_token"))) {
        if (row.expires_at && row.expires_at <= tc_now_ms())
            st = expire(rc, row.version, err);
        goto out;
    }
    char owner[37];
    tc_uuid(owner);
    bool got = false;
    int64_t now = tc_now_ms();
    c = tc_db_acquire(rc->o->o.db);
    st = tc_repo_oauth_lease(c, rc->user_id, rc->id, row.version, owner, now + lease_ms(rc->o), now,
                             &got, err);
    tc_db_release(c);
    if (st == TC_OK && got)
        st = renew(rc, &row, secret, owner, err);
    else if (st == TC_OK)
        *again = rc->mode != MODE_BACKGROUND;
out:
    secret_free(secret);
    tc_repo_oauth_conn_clear(&row);
    return st;
}

static bool transient(tc_status st)
{
    return st == TC_UNAVAILABLE || st == TC_TIMEOUT || st == TC_UPSTREAM;
}

/* Is the stored access token still usable (not expired)? */
static bool still_valid(tc_oauth *o, const char *user_id, const char *id)
{
    tc_repo_oauth_conn row;
    tc_err e;
    tc_db_conn *c = tc_db_acquire(o->o.db);
    tc_status st = tc_repo_oauth_conn_get(c, user_id, id, &row, &e);
    tc_db_release(c);
    bool ok = st == TC_OK && !strcmp(row.status, "active") &&
              (!row.expires_at || row.expires_at > tc_now_ms());
    if (st == TC_OK)
        tc_repo_oauth_conn_clear(&row);
    return ok;
}

static tc_status run(refresh_call *rc, tc_err *err)
{
    rc->first_version = -1;
    int64_t wait_until = tc_mono_ns() / 1000000 + lease_ms(rc->o) + 2000;
    int tries = 0;
    for (;;) {
        bool again = false;
        tc_status st = round_once(rc, &again, err);
        if (st == TC_OK && !again)
            return TC_OK;
        if (st == TC_OK) {
            if (tc_mono_ns() / 1000000 > wait_until)
                return tc_failf(err, TC_UNAVAILABLE, NULL, "another refresh of this connection is taking too long");
            sleep_ms(POLL_MS);
            continue;
        }
        if (!transient(st) || rc->mode == MODE_BACKGROUND)
            return st;
        if (++tries >= ON_DEMAND_TRIES)
            break;
        sleep_ms(200 * (int64_t)tries * tries);
    }
    if (rc->mode == MODE_ON_DEMAND && still_valid(rc->o, rc->user_id, rc->id)) {
        tc_log(TC_LOG_WARN, "oauth refresh failed; the current token is still valid", "connection",
               rc->id, "error", err->message, NULL);
        return TC_OK;
    }
    return err->status;
}

tc_status tc_oauth_ensure_fresh(tc_oauth *o, const char *user_id, const char *connection_id,
                                tc_err *err)
{
    refresh_call rc = {.o = o, .user_id = user_id, .id = connection_id, .mode = MODE_ON_DEMAND};
    return run(&rc, err);
}

tc_status tc_oauth_refresh_after_401(tc_oauth *o, const char *user_id, const char *connection_id,
                                     const char *rejected_access_token, tc_err *err)
{
    refresh_call rc = {.o = o, .user_id = user_id, .id = connection_id, .mode = MODE_AFTER_401,
                       .rejected = rejected_access_token};
    return run(&rc, err);
}

tc_status tc_oauth_refresh_now(tc_oauth *o, const char *user_id, const char *connection_id,
                               tc_err *err)
{
    refresh_call rc = {.o = o, .user_id = user_id, .id = connection_id, .mode = MODE_FORCE};
    return run(&rc, err);
}

/* ---- the background refresher ---- */

static backoff_slot *slot_for(tc_oauth *o, const char *id, bool create)
{
    backoff_slot *free_slot = NULL, *oldest = &o->backoff[0];
    for (size_t i = 0; i < BACKOFF_SLOTS; i++) {
        backoff_slot *s = &o->backoff[i];
        if (!strcmp(s->id, id))
            return s;
        if (!s->id[0] && !free_slot)
            free_slot = s;
        if (s->next_at < oldest->next_at)
            oldest = s;
    }
    if (!create)
        return NULL;
    backoff_slot *s = free_slot ? free_slot : oldest;
    memset(s, 0, sizeof(*s));
    snprintf(s->id, sizeof(s->id), "%s", id);
    return s;
}

static bool backing_off(tc_oauth *o, const char *id, int64_t now)
{
    pthread_mutex_lock(&o->lock);
    backoff_slot *s = slot_for(o, id, false);
    bool wait = s && s->next_at > now;
    pthread_mutex_unlock(&o->lock);
    return wait;
}

static void note_result(tc_oauth *o, const char *id, bool failed)
{
    pthread_mutex_lock(&o->lock);
    backoff_slot *s = slot_for(o, id, failed);
    if (s && !failed) {
        memset(s, 0, sizeof(*s));
    } else if (s) {
        int64_t d = BACKOFF_BASE_MS << (s->failures < 10 ? s->failures : 10);
        s->failures++;
        d = d > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : d;
        unsigned char r;
        tc_random_bytes(&r, 1);
        s->next_at = tc_now_ms() + d / 2 + (d / 2) * r / 255; /* jitter */
    }
    pthread_mutex_unlock(&o->lock);
}

tc_status tc_oauth_refresh_due(tc_oauth *o, int *renewed, tc_err *err)
{
    *renewed = 0;
    int64_t now = tc_now_ms();
    json_t *due = NULL;
    tc_db_conn *c = tc_db_acquire(o->o.db);
    tc_status st = tc_repo_oauth_due(c, now + o->o.refresh_margin_ms, now, REFRESH_BATCH, &due, err);
    if (st == TC_OK)
        st = tc_repo_oauth_tx_expire_old(c, now, err);
    tc_db_release(c);
    size_t i;
    const json_t *row;
    json_array_foreach(due, i, row) {
        const char *id = json_string_value(json_object_get(row, "id"));
        if (backing_off(o, id, now))
            continue;
        refresh_call rc = {.o = o, .user_id = json_string_value(json_object_get(row, "user_id")),
                           .id = id, .mode = MODE_BACKGROUND};
        tc_err e;
        tc_err_clear(&e);
        tc_status rst = run(&rc, &e);
        note_result(o, id, transient(rst));
        if (rst != TC_OK && transient(rst))
            tc_log(TC_LOG_WARN, "oauth background refresh failed; will retry", "connection", id,
                   "error", e.message, NULL);
        *renewed += rc.renewed;
    }
    json_decref(due);
    return st;
}

void *tc_oauth__refresher_main(void *arg)
{
    tc_oauth *o = arg;
    pthread_mutex_lock(&o->lock);
    while (!o->stop) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        int64_t ns = ts.tv_nsec + (o->o.refresh_interval_ms % 1000) * 1000000;
        ts.tv_sec += o->o.refresh_interval_ms / 1000 + ns / 1000000000;
        ts.tv_nsec = ns % 1000000000;
        pthread_cond_timedwait(&o->cond, &o->lock, &ts);
        if (o->stop)
            break;
        pthread_mutex_unlock(&o->lock);
        int renewed = 0;
        tc_err err;
        tc_err_clear(&err);
        if (tc_oauth_refresh_due(o, &renewed, &err) != TC_OK)
            tc_log(TC_LOG_WARN, "oauth refresher pass failed", "error", err.message, NULL);
        pthread_mutex_lock(&o->lock);
    }
    pthread_mutex_unlock(&o->lock);
    return NULL;
}
