/* Webhook delivery policy (verdicts, backoff, Retry-After, plans), endpoint
 * validation, and the outbox + endpoint service on a real SQLite database:
 * deliveries exist only when the enclosing transaction commits. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crypto/crypto.h"
#include "runner.h"
#include "store/db.h"
#include "store/repo_webhooks.h"
#include "webhooks/webhooks.h"

static tc_webhooks_config cfg(void)
{
    tc_webhooks_config c;
    tc_webhooks_config_defaults(&c);
    return c;
}

TEST(webhooks_classify)
{
    ASSERT_EQ(tc_webhook_classify(200, TC_OK), TC_WH_SUCCEEDED);
    ASSERT_EQ(tc_webhook_classify(204, TC_OK), TC_WH_SUCCEEDED);
    ASSERT_EQ(tc_webhook_classify(500, TC_OK), TC_WH_RETRY);
    ASSERT_EQ(tc_webhook_classify(503, TC_OK), TC_WH_RETRY);
    ASSERT_EQ(tc_webhook_classify(408, TC_OK), TC_WH_RETRY);
    ASSERT_EQ(tc_webhook_classify(429, TC_OK), TC_WH_RETRY);
    ASSERT_EQ(tc_webhook_classify(400, TC_OK), TC_WH_FAIL);
    ASSERT_EQ(tc_webhook_classify(404, TC_OK), TC_WH_FAIL);
    ASSERT_EQ(tc_webhook_classify(301, TC_OK), TC_WH_FAIL);
    ASSERT_EQ(tc_webhook_classify(410, TC_OK), TC_WH_GONE);
    ASSERT_EQ(tc_webhook_classify(0, TC_TIMEOUT), TC_WH_RETRY);
    ASSERT_EQ(tc_webhook_classify(0, TC_UNAVAILABLE), TC_WH_RETRY);
    ASSERT_EQ(tc_webhook_classify(0, TC_FORBIDDEN), TC_WH_FAIL);
    ASSERT_EQ(tc_webhook_classify(0, TC_BAD_REQUEST), TC_WH_FAIL);
    /* a status that arrived before the transport failed wins */
    ASSERT_EQ(tc_webhook_classify(200, TC_TOO_LARGE), TC_WH_SUCCEEDED);
}

TEST(webhooks_backoff_doubles_with_bounded_jitter)
{
    tc_webhooks_config c = cfg();
    ASSERT_EQ(tc_webhook_backoff_ms(&c, 1, 0), 1000);
    ASSERT_EQ(tc_webhook_backoff_ms(&c, 2, 0), 2000);
    ASSERT_EQ(tc_webhook_backoff_ms(&c, 3, 0), 4000);
    ASSERT_EQ(tc_webhook_backoff_ms(&c, 7, 0), 64000);
    int64_t hi = tc_webhook_backoff_ms(&c, 1, UINT32_MAX);
    ASSERT(hi >= 1249 && hi <= 1250);
    ASSERT_EQ(tc_webhook_backoff_ms(&c, 40, 0), 3600 * 1000); /* capped */
    c.retry_base_ms = 100;
    c.retry_max_ms = 250;
    ASSERT_EQ(tc_webhook_backoff_ms(&c, 3, 0), 250);
}

TEST(webhooks_retry_after_forms)
{
    int64_t d = -1, now = 1795892565000;
    ASSERT(tc_webhook_retry_after("5", now, &d));
    ASSERT_EQ(d, 5000);
    ASSERT(tc_webhook_retry_after(" 0 ", now, &d));
    ASSERT_EQ(d, 0);
    /* 2026-11-28T19:02:45Z + 10 s as an HTTP-date */
    ASSERT(tc_webhook_retry_after("Sat, 28 Nov 2026 19:02:55 GMT", now, &d));
    ASSERT_EQ(d, 10000);
    ASSERT(tc_webhook_retry_after("Sat, 28 Nov 2026 19:00:00 GMT", now, &d));
    ASSERT_EQ(d, 0); /* in the past: now */
    ASSERT(!tc_webhook_retry_after("soon", now, &d));
    ASSERT(!tc_webhook_retry_after("-3", now, &d));
    ASSERT(!tc_webhook_retry_after("5s", now, &d));
    ASSERT(!tc_webhook_retry_after("", now, &d));
    ASSERT(!tc_webhook_retry_after(NULL, now, &d));
    ASSERT(tc_webhook_retry_after("999999999999", now, &d));
    ASSERT_EQ(d, 365LL * 86400 * 1000); /* clamped */
}

TEST(webhooks_plan)
{
    tc_webhooks_config c = cfg();
    tc_webhook_next n;
    int64_t t0 = 1000000;
    tc_webhook_plan(&c, TC_WH_SUCCEEDED, 1, t0, t0, -1, 0, &n);
    ASSERT_STR_EQ(n.status, "succeeded");
    tc_webhook_plan(&c, TC_WH_RETRY, 1, t0, t0, -1, 0, &n);
    ASSERT_STR_EQ(n.status, "pending");
    ASSERT_EQ(n.next_attempt_at, t0 + 1000);
    tc_webhook_plan(&c, TC_WH_RETRY, 1, t0, t0, 30000, 0, &n); /* Retry-After wins */
    ASSERT_EQ(n.next_attempt_at, t0 + 30000);
    tc_webhook_plan(&c, TC_WH_RETRY, 8, t0, t0, -1, 0, &n);
    ASSERT_STR_EQ(n.status, "failed");
    ASSERT_STR_CONTAINS(n.why, "every attempt");
    tc_webhook_plan(&c, TC_WH_RETRY, 2, t0, t0 + c.retry_window_ms - 100, -1, 0, &n);
    ASSERT_STR_EQ(n.status, "failed");
    ASSERT_STR_CONTAINS(n.why, "window");
    tc_webhook_plan(&c, TC_WH_FAIL, 1, t0, t0, -1, 0, &n);
    ASSERT_STR_EQ(n.status, "failed");
    tc_webhook_plan(&c, TC_WH_GONE, 1, t0, t0, -1, 0, &n);
    ASSERT_STR_EQ(n.status, "failed");
    ASSERT_STR_CONTAINS(n.why, "410");
}

TEST(webhooks_url_check)
{
    tc_err e;
    ASSERT_OK(tc_webhook_url_check("https://hooks.example.com/in?x=1", false, &e));
    ASSERT_OK(tc_webhook_url_check("https://93.184.216.34/in", false, &e));
    ASSERT_STATUS(tc_webhook_url_check("http://hooks.example.com/in", false, &e), TC_VALIDATION);
    ASSERT_STR_EQ(e.field, "url");
    ASSERT_STR_CONTAINS(e.message, "https");
    ASSERT_OK(tc_webhook_url_check("http://127.0.0.1:9000/in", true, &e));
    const char *refused[] = {"https://127.0.0.1/x", "https://10.0.0.8/x",     "https://192.168.1.1/",
                             "https://[::1]/x",     "https://localhost/x",    "https://a.localhost./x",
                             "https://169.254.169.254/", "https://[::ffff:127.0.0.1]/", "https://0.0.0.0/"};
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        ASSERT_STATUS(tc_webhook_url_check(refused[i], false, &e), TC_VALIDATION);
        ASSERT_STR_CONTAINS(e.message, "private targets");
    }
    ASSERT_STATUS(tc_webhook_url_check("ftp://example.com/", true, &e), TC_VALIDATION);
    ASSERT_STATUS(tc_webhook_url_check("https://u:p@example.com/", false, &e), TC_VALIDATION);
    ASSERT_STR_CONTAINS(e.message, "credentials");
    ASSERT_STATUS(tc_webhook_url_check("https://exa mple.com/", false, &e), TC_VALIDATION);
    ASSERT_STATUS(tc_webhook_url_check("/relative", false, &e), TC_VALIDATION);
    ASSERT_STATUS(tc_webhook_url_check("", false, &e), TC_VALIDATION);
    char *big = malloc(TC_WH_URL_MAX + 32);
    snprintf(big, TC_WH_URL_MAX + 32, "https://example.com/%0*d", TC_WH_URL_MAX, 0);
    ASSERT_STATUS(tc_webhook_url_check(big, false, &e), TC_VALIDATION);
    free(big);
}

static tc_status headers_of(const char *json, tc_err *e)
{
    json_t *h = json_loads(json, 0, NULL);
    tc_status st = tc_webhook_headers_check(h, e);
    json_decref(h);
    return st;
}

TEST(webhooks_headers_check)
{
    tc_err e;
    ASSERT_OK(headers_of("{\"X-Token\": \"abc\", \"Authorization\": \"Bearer x\", \"X-Empty\": \"\"}", &e));
    ASSERT_STATUS(headers_of("{\"X-A\": \"a\\r\\nB: c\"}", &e), TC_VALIDATION);
    ASSERT_STR_EQ(e.field, "headers.X-A");
    ASSERT_STATUS(headers_of("{\"X-A\": \"a\\u0000b\"}", &e), TC_VALIDATION);
    ASSERT_STATUS(headers_of("{\"Webhook-Id\": \"x\"}", &e), TC_VALIDATION);
    ASSERT_STR_EQ(e.field, "headers.Webhook-Id");
    ASSERT_STATUS(headers_of("{\"content-type\": \"x\"}", &e), TC_VALIDATION);
    ASSERT_STATUS(headers_of("{\"Host\": \"x\"}", &e), TC_VALIDATION);
    ASSERT_STATUS(headers_of("{\"X A\": \"x\"}", &e), TC_VALIDATION);
    ASSERT_STR_EQ(e.field, "headers");
    ASSERT_STATUS(headers_of("{\"X-N\": 5}", &e), TC_VALIDATION);
    ASSERT_STATUS(headers_of("{\"X-a\": \"1\", \"x-A\": \"2\"}", &e), TC_VALIDATION);
    ASSERT_STATUS(headers_of("[]", &e), TC_VALIDATION);
    json_t *many = json_object();
    for (int i = 0; i <= TC_WH_HEADERS_MAX; i++) {
        char k[16];
        snprintf(k, sizeof(k), "X-H%d", i);
        json_object_set_new(many, k, json_string("v"));
    }
    ASSERT_STATUS(tc_webhook_headers_check(many, &e), TC_VALIDATION);
    json_decref(many);
    json_t *big = json_object();
    char v[TC_WH_HEADER_VALUE_MAX + 1];
    memset(v, 'v', TC_WH_HEADER_VALUE_MAX);
    v[TC_WH_HEADER_VALUE_MAX] = '\0';
    for (int i = 0; i < 9; i++) { /* 9 KiB in all */
        char k[16];
        snprintf(k, sizeof(k), "X-B%d", i);
        json_object_set_new(big, k, json_string(v));
    }
    ASSERT_STATUS(tc_webhook_headers_check(big, &e), TC_VALIDATION);
    ASSERT_STR_CONTAINS(e.message, "bytes in all");
    json_decref(big);
}

TEST(webhooks_event_types_check)
{
    tc_err e;
    json_t *ok = json_pack("[s, s]", "job.succeeded", "webhook.test");
    ASSERT_OK(tc_webhook_event_types_check(ok, &e));
    json_decref(ok);
    json_t *bad = json_pack("[s, s]", "job.succeeded", "job.exploded");
    ASSERT_STATUS(tc_webhook_event_types_check(bad, &e), TC_VALIDATION);
    ASSERT_STR_EQ(e.field, "event_types.1");
    json_decref(bad);
    json_t *empty = json_array();
    ASSERT_STATUS(tc_webhook_event_types_check(empty, &e), TC_VALIDATION);
    json_decref(empty);
    ASSERT_STATUS(tc_webhook_event_types_check(NULL, &e), TC_VALIDATION);
}

/* ---- the service on SQLite ------------------------------------------------- */

typedef struct fixture {
    tc_db *db;
    tc_keyring *kr;
    tc_webhooks *w;
} fixture;

static void fixture_open(fixture *f)
{
    tc_err e;
    char url[600];
    snprintf(url, sizeof(url), "sqlite:%s/wh.db", tc_test_tmpdir());
    ASSERT_OK(tc_db_open(url, 2, &f->db, &e));
    ASSERT_OK(tc_db_migrate(f->db, &e));
    unsigned char master[32];
    tc_random_bytes(master, sizeof(master));
    ASSERT_OK(tc_keyring_new(master, sizeof(master), &f->kr, &e));
    ASSERT_OK(tc_keyring_add(f->kr, 1, &e));
    tc_webhooks_config c = cfg();
    c.allow_private = true;
    ASSERT_OK(tc_webhooks_new(f->db, f->kr, &c, &f->w, &e));
    tc_db_conn *conn = tc_db_acquire(f->db);
    const char *users[] = {"11111111-1111-4111-8111-111111111111", "22222222-2222-4222-8222-222222222222"};
    for (int i = 0; i < 2; i++) {
        char email[32];
        snprintf(email, sizeof(email), "u%d@example.com", i);
        tc_dbv p[] = {TC_DBV_STR(users[i]), TC_DBV_STR(email)};
        ASSERT_OK(tc_db_exec(conn, "INSERT INTO users (id, email, password_hash) VALUES ($1, $2, 'x')",
                             p, 2, NULL, &e));
    }
    tc_db_release(conn);
}

static void fixture_close(fixture *f)
{
    tc_webhooks_free(f->w);
    tc_keyring_free(f->kr);
    tc_db_close(f->db);
}

#define ALICE "11111111-1111-4111-8111-111111111111"
#define BOB "22222222-2222-4222-8222-222222222222"

static json_t *create(fixture *f, const char *user, const char *body_json)
{
    tc_err e;
    json_t *body = json_loads(body_json, 0, NULL);
    json_t *out = NULL;
    ASSERT(body);
    ASSERT_OK(tc_webhooks_create(f->w, user, body, &out, &e));
    json_decref(body);
    return out;
}

static int64_t count_deliveries(fixture *f, const char *where_status)
{
    tc_err e;
    tc_db_conn *c = tc_db_acquire(f->db);
    tc_db_rows *r = NULL;
    tc_dbv p[] = {TC_DBV_STR(where_status)};
    ASSERT_OK(tc_db_query(c, "SELECT COUNT(*) FROM webhook_deliveries WHERE status = $1", p, 1, &r, &e));
    ASSERT(tc_db_rows_next(r));
    int64_t n = tc_db_rows_int(r, 0);
    tc_db_rows_free(r);
    tc_db_release(c);
    return n;
}

static tc_status outbox_in_tx(fixture *f, const char *user, const char *type, bool commit)
{
    tc_err e;
    tc_db_conn *c = tc_db_acquire(f->db);
    ASSERT_OK(tc_db_begin(c, &e));
    json_t *data = json_pack("{s:s, s:s}", "id", "job-1", "status", "succeeded");
    tc_status st = tc_webhooks_outbox(f->w, c, user, type, data, &e);
    json_decref(data);
    if (commit && st == TC_OK)
        ASSERT_OK(tc_db_commit(c, &e));
    else
        tc_db_rollback(c);
    tc_db_release(c);
    return st;
}

TEST(webhooks_outbox_is_transactional_and_follows_subscriptions)
{
    fixture f;
    fixture_open(&f);
    json_t *a = create(&f, ALICE, "{\"url\":\"http://127.0.0.1:9/a\",\"event_types\":[\"job.succeeded\"]}");
    json_t *b = create(&f, ALICE, "{\"url\":\"http://127.0.0.1:9/b\",\"event_types\":[\"job.failed\"],"
                                  "\"template\":\"{\\\"t\\\": {{type}}, \\\"id\\\": {{data.id}}}\"}");
    json_t *off = create(&f, ALICE, "{\"url\":\"http://127.0.0.1:9/c\",\"event_types\":[\"job.succeeded\"],\"enabled\":false}");
    json_t *other = create(&f, BOB, "{\"url\":\"http://127.0.0.1:9/d\",\"event_types\":[\"job.succeeded\"]}");
    ASSERT_STR_CONTAINS(json_string_value(json_object_get(a, "secret")), "whsec_");

    ASSERT_OK(outbox_in_tx(&f, ALICE, "job.succeeded", false)); /* rolled back */
    ASSERT_EQ(count_deliveries(&f, "pending"), 0);
    ASSERT_OK(outbox_in_tx(&f, ALICE, "job.succeeded", true));
    ASSERT_EQ(count_deliveries(&f, "pending"), 1); /* a only: b unsubscribed, c disabled, d Bob's */
    ASSERT_OK(outbox_in_tx(&f, ALICE, "job.failed", true));
    ASSERT_EQ(count_deliveries(&f, "pending"), 2);
    ASSERT_STATUS(outbox_in_tx(&f, ALICE, "job.exploded", true), TC_INTERNAL);

    /* b's body is its rendered template, a's the envelope */
    tc_err e;
    tc_db_conn *c = tc_db_acquire(f.db);
    tc_db_rows *r = NULL;
    tc_dbv p[] = {TC_DBV_STR(json_string_value(json_object_get(b, "id")))};
    ASSERT_OK(tc_db_query(c, "SELECT payload, event_id FROM webhook_deliveries WHERE webhook_id = $1", p, 1, &r, &e));
    ASSERT(tc_db_rows_next(r));
    ASSERT_STR_EQ(tc_db_rows_text(r, 0), "{\"t\": \"job.failed\", \"id\": \"job-1\"}");
    ASSERT(tc_webhook_msg_id_valid(tc_db_rows_text(r, 1)));
    tc_db_rows_free(r);
    /* the secret is stored sealed, never as text */
    ASSERT_OK(tc_db_query(c, "SELECT secret FROM webhooks", NULL, 0, &r, &e));
    while (tc_db_rows_next(r)) {
        size_t n = 0;
        const char *blob = tc_db_rows_blob(r, 0, &n);
        ASSERT(n > TC_SECRETBOX_OVERHEAD);
        ASSERT(!memmem(blob, n, "whsec_", 6));
    }
    tc_db_rows_free(r);
    tc_db_release(c);
    json_decref(a);
    json_decref(b);
    json_decref(off);
    json_decref(other);
    fixture_close(&f);
}

TEST(webhooks_service_scopes_to_the_owner)
{
    fixture f;
    fixture_open(&f);
    json_t *a = create(&f, ALICE, "{\"url\":\"http://127.0.0.1:9/a\",\"event_types\":[\"webhook.test\"]}");
    const char *id = json_string_value(json_object_get(a, "id"));
    tc_err e;
    json_t *out = NULL;
    ASSERT_STATUS(tc_webhooks_rotate(f.w, BOB, id, &out, &e), TC_NOT_FOUND);
    ASSERT_STATUS(tc_webhooks_test(f.w, BOB, id, &out, &e), TC_NOT_FOUND);
    json_t *patch = json_pack("{s:s}", "description", "x");
    ASSERT_STATUS(tc_webhooks_update(f.w, BOB, id, patch, &out, &e), TC_NOT_FOUND);
    json_decref(patch);
    ASSERT_OK(tc_webhooks_test(f.w, ALICE, id, &out, &e));
    const char *did = json_string_value(json_object_get(out, "id"));
    json_t *d = NULL;
    tc_db_conn *c = tc_db_acquire(f.db);
    ASSERT_STATUS(tc_repo_delivery_get_json(c, BOB, did, &d, &e), TC_NOT_FOUND);
    ASSERT_OK(tc_repo_delivery_get_json(c, ALICE, did, &d, &e));
    tc_db_release(c);
    ASSERT_STATUS(tc_webhooks_retry(f.w, ALICE, did, &out, &e), TC_CONFLICT); /* still pending */
    json_decref(d);
    json_decref(out);
    /* rotation: new secret, previous kept with an expiry */
    json_t *rot = NULL;
    ASSERT_OK(tc_webhooks_rotate(f.w, ALICE, id, &rot, &e));
    ASSERT(strcmp(json_string_value(json_object_get(rot, "secret")),
                  json_string_value(json_object_get(a, "secret"))) != 0);
    ASSERT(json_is_string(json_object_get(rot, "previous_secret_expires_at")));
    json_decref(rot);
    json_decref(a);
    fixture_close(&f);
}

/* ---- retention ------------------------------------------------------------------ */

static void sql(fixture *f, const char *q, const tc_dbv *p, size_t n)
{
    tc_err e;
    tc_db_conn *c = tc_db_acquire(f->db);
    ASSERT_OK(tc_db_exec(c, q, p, n, NULL, &e));
    tc_db_release(c);
}

static int64_t scalar(fixture *f, const char *q, const tc_dbv *p, size_t n)
{
    tc_err e;
    tc_db_conn *c = tc_db_acquire(f->db);
    tc_db_rows *r = NULL;
    ASSERT_OK(tc_db_query(c, q, p, n, &r, &e));
    ASSERT(tc_db_rows_next(r));
    int64_t v = tc_db_rows_int(r, 0);
    tc_db_rows_free(r);
    tc_db_release(c);
    return v;
}

/* The n-th delivery (oldest first) gets a status, times and one attempt. */
static void age_delivery(fixture *f, int nth, const char *status, int64_t created, int64_t last,
                         int64_t attempt_at)
{
    tc_dbv p[] = {TC_DBV_I64(nth), TC_DBV_STR(status), TC_DBV_I64(created), TC_DBV_I64(last)};
    sql(f,
        "UPDATE webhook_deliveries SET status = $2, created_at = $3, last_attempt_at = $4, "
        "next_attempt_at = CASE WHEN $2 = 'pending' THEN $4 + 86400000 ELSE NULL END, updated_at = $4 "
        "WHERE id = (SELECT id FROM webhook_deliveries ORDER BY id LIMIT 1 OFFSET $1)",
        p, 4);
    tc_dbv q[] = {TC_DBV_I64(nth), TC_DBV_I64(attempt_at)};
    sql(f,
        "INSERT INTO webhook_attempts (delivery_id, user_id, attempt, status_code, duration_ms, created_at) "
        "SELECT id, user_id, 1, 200, 3, $2 FROM webhook_deliveries ORDER BY id LIMIT 1 OFFSET $1",
        q, 2);
}

TEST(webhooks_retention_prunes_old_history_in_bounded_passes)
{
    fixture f;
    fixture_open(&f);
    json_t *a = create(&f, ALICE, "{\"url\":\"http://127.0.0.1:9/a\",\"event_types\":[\"job.succeeded\"]}");
    json_t *b = create(&f, BOB, "{\"url\":\"http://127.0.0.1:9/b\",\"event_types\":[\"job.succeeded\"]}");
    for (int i = 0; i < 5; i++)
        ASSERT_OK(outbox_in_tx(&f, ALICE, "job.succeeded", true));
    ASSERT_OK(outbox_in_tx(&f, BOB, "job.succeeded", true));
    ASSERT_EQ(count_deliveries(&f, "pending"), 6);

    int64_t now = tc_now_ms(), day = 86400000LL, old = now - 40 * day, recent = now - day;
    /* attempts in time order, so their ids grow with created_at */
    age_delivery(&f, 0, "succeeded", old, old, old);       /* pruned */
    age_delivery(&f, 1, "failed", old, old, old);          /* pruned */
    age_delivery(&f, 2, "succeeded", old, recent, old);    /* retried by hand lately: kept */
    age_delivery(&f, 3, "pending", old, old, old);         /* still pending: kept, old attempt goes */
    age_delivery(&f, 4, "succeeded", recent, recent, recent); /* young: kept */
    age_delivery(&f, 5, "succeeded", old, old, old);       /* Bob's, old: pruned */
    {
        tc_dbv p[] = {TC_DBV_I64(recent)}; /* a young attempt of the pending one stays */
        sql(&f,
            "INSERT INTO webhook_attempts (delivery_id, user_id, attempt, status_code, duration_ms, created_at) "
            "SELECT id, user_id, 2, 500, 3, $1 FROM webhook_deliveries ORDER BY id LIMIT 1 OFFSET 3",
            p, 1);
    }
    ASSERT_EQ(scalar(&f, "SELECT COUNT(*) FROM webhook_attempts", NULL, 0), 7);

    /* bounded: one delivery, then at most one attempt, per pass of 1 */
    tc_err e;
    int64_t removed = -1;
    ASSERT_OK(tc_webhooks_prune(f.w, now, 1, &removed, &e));
    ASSERT(removed >= 1 && removed <= 2);
    ASSERT_EQ(scalar(&f, "SELECT COUNT(*) FROM webhook_deliveries", NULL, 0), 5);
    int passes = 0;
    do {
        ASSERT_OK(tc_webhooks_prune(f.w, now, 2, &removed, &e));
        ASSERT(removed <= 4);
        ASSERT(++passes < 10);
    } while (removed > 0);

    /* three old finished deliveries gone with their attempts; the others stay */
    ASSERT_EQ(scalar(&f, "SELECT COUNT(*) FROM webhook_deliveries", NULL, 0), 3);
    tc_dbv pa[] = {TC_DBV_I64(old)};
    ASSERT_EQ(scalar(&f, "SELECT COUNT(*) FROM webhook_deliveries WHERE created_at = $1 "
                         "AND status <> 'pending'", pa, 1), 1); /* the one retried lately */
    ASSERT_EQ(scalar(&f, "SELECT COUNT(*) FROM webhook_deliveries WHERE status = 'pending'", NULL, 0), 1);
    ASSERT_EQ(scalar(&f, "SELECT COUNT(*) FROM webhook_deliveries WHERE user_id = '" BOB "'", NULL, 0), 0);
    /* attempts: no old one left; the young ones (pending's retry, the young delivery's) stay */
    ASSERT_EQ(scalar(&f, "SELECT COUNT(*) FROM webhook_attempts WHERE created_at < $1", pa, 1), 0);
    ASSERT_EQ(scalar(&f, "SELECT COUNT(*) FROM webhook_attempts", NULL, 0), 2);
    ASSERT_EQ(scalar(&f, "SELECT COUNT(*) FROM webhook_attempts a LEFT JOIN webhook_deliveries d "
                         "ON d.id = a.delivery_id WHERE d.id IS NULL", NULL, 0), 0);
    tc_webhooks_stats st;
    tc_webhooks_stats_get(f.w, &st);
    /* 3 deliveries plus the old attempts the attempt pass took (2 to 5, as
     * the passes interleaved; cascaded attempts are not counted) */
    ASSERT(st.pruned >= 5 && st.pruned <= 8);
    json_decref(a);
    json_decref(b);
    fixture_close(&f);
}

TEST(webhooks_retention_settings_and_the_worker_prunes_by_itself)
{
    fixture f;
    fixture_open(&f);
    tc_err e;
    tc_webhooks_config c = cfg();
    ASSERT_EQ(c.retain_days, 30);
    c.retain_days = -1;
    tc_webhooks *bad = NULL;
    ASSERT_STATUS(tc_webhooks_new(f.db, f.kr, &c, &bad, &e), TC_BAD_REQUEST);
    ASSERT_STR_EQ(e.field, "TC_WEBHOOK_RETAIN_DAYS");

    json_t *a = create(&f, ALICE, "{\"url\":\"http://127.0.0.1:9/a\",\"event_types\":[\"job.succeeded\"]}");
    ASSERT_OK(outbox_in_tx(&f, ALICE, "job.succeeded", true));
    int64_t old = tc_now_ms() - 31 * 86400000LL;
    age_delivery(&f, 0, "succeeded", old, old, old);

    /* 0 keeps everything */
    c.retain_days = 0;
    tc_webhooks *keep = NULL;
    ASSERT_OK(tc_webhooks_new(f.db, f.kr, &c, &keep, &e));
    int64_t removed = -1;
    ASSERT_OK(tc_webhooks_prune(keep, tc_now_ms(), 100, &removed, &e));
    ASSERT_EQ(removed, 0);
    tc_webhooks_free(keep);
    ASSERT_EQ(scalar(&f, "SELECT COUNT(*) FROM webhook_deliveries", NULL, 0), 1);

    /* the running worker prunes on its own (first pass right after start) */
    ASSERT_OK(tc_webhooks_start(f.w, &e));
    tc_webhooks_stats st = {0};
    for (int i = 0; i < 300 && st.pruned == 0; i++) {
        struct timespec ts = {0, 10 * 1000000L};
        nanosleep(&ts, NULL);
        tc_webhooks_stats_get(f.w, &st);
    }
    ASSERT_EQ(st.pruned, 1);
    ASSERT_EQ(scalar(&f, "SELECT COUNT(*) FROM webhook_deliveries", NULL, 0), 0);
    ASSERT_EQ(scalar(&f, "SELECT COUNT(*) FROM webhook_attempts", NULL, 0), 0);
    json_decref(a);
    fixture_close(&f);
}

/* Chunked recording proves the claims by the changed-row count: a chunk
 * with a row another instance took since reports it, and the row-by-row
 * path then writes only the rows still ours. */
TEST(webhooks_chunked_record_detects_a_lost_claim)
{
    fixture f;
    fixture_open(&f);
    json_t *a = create(&f, ALICE, "{\"url\":\"http://127.0.0.1:9/a\",\"event_types\":[\"job.succeeded\"]}");
    for (int i = 0; i < 4; i++)
        ASSERT_OK(outbox_in_tx(&f, ALICE, "job.succeeded", true));
    tc_err e;
    tc_db_conn *c = tc_db_acquire(f.db);
    int64_t now = tc_now_ms() + 10;
    tc_repo_claimed *ds = NULL;
    size_t n = 0;
    ASSERT_OK(tc_repo_delivery_claim(c, "wh-mine", now, now + 60000, 10, &ds, &n, &e));
    ASSERT_EQ(n, 4);
    tc_repo_attempt at[4];
    for (size_t i = 0; i < n; i++)
        at[i] = (tc_repo_attempt){.delivery_id = ds[i].id, .user_id = ds[i].user_id, .attempt = 1,
                                  .status = "succeeded", .status_code = 200, .duration_ms = 2};
    /* both still ours: one chunk of 2, both rows written */
    ASSERT_OK(tc_db_begin(c, &e));
    bool all = false;
    ASSERT_OK(tc_repo_delivery_record_succeeded(c, "wh-mine", at, 2, now, &all, &e));
    ASSERT(all);
    ASSERT_OK(tc_db_commit(c, &e));
    ASSERT_EQ(count_deliveries(&f, "succeeded"), 2);
    /* another instance took the third row (its lease ran out) */
    tc_dbv p[] = {TC_DBV_STR(ds[2].id)};
    ASSERT_OK(tc_db_exec(c, "UPDATE webhook_deliveries SET claimed_by = 'wh-other' WHERE id = $1", p, 1,
                         NULL, &e));
    ASSERT_OK(tc_db_begin(c, &e));
    ASSERT_OK(tc_repo_delivery_record_succeeded(c, "wh-mine", at + 2, 2, now, &all, &e));
    ASSERT(!all);
    tc_db_rollback(c); /* what the worker does, then row by row: */
    ASSERT_OK(tc_db_begin(c, &e));
    bool owned[2];
    for (int i = 0; i < 2; i++)
        ASSERT_OK(tc_repo_delivery_record(c, "wh-mine", &at[2 + i], now, &owned[i], &e));
    ASSERT_OK(tc_db_commit(c, &e));
    ASSERT(!owned[0] && owned[1]);
    ASSERT_EQ(count_deliveries(&f, "succeeded"), 3);
    ASSERT_EQ(count_deliveries(&f, "pending"), 1); /* the other instance's, untouched */
    tc_dbv q[] = {TC_DBV_STR(ds[2].id)};
    tc_db_release(c);
    ASSERT_EQ(scalar(&f, "SELECT COUNT(*) FROM webhook_attempts WHERE delivery_id = $1", q, 1), 0);
    ASSERT_EQ(scalar(&f, "SELECT COUNT(*) FROM webhook_attempts", NULL, 0), 3);
    for (size_t i = 0; i < n; i++)
        tc_repo_claimed_clear(&ds[i]);
    free(ds);
    json_decref(a);
    fixture_close(&f);
}
