/* notify: quiet hours, release times, preference validation, templates and
 * the SMTP URL parser (pure functions), plus queuing by preferences against
 * a real database. */
#include <stdlib.h>
#include <string.h>

#include "notify/notify.h"
#include "store/repo_health.h"
#include "runner.h"
#include "test_store_fixture.h"

TEST(quiet_hours_plain_window)
{
    ASSERT_EQ(tc_notify_quiet_minutes_left(600, 540, 1020), 420);
    ASSERT_EQ(tc_notify_quiet_minutes_left(539, 540, 1020), 0);
    ASSERT_EQ(tc_notify_quiet_minutes_left(1020, 540, 1020), 0);
    ASSERT_EQ(tc_notify_quiet_minutes_left(600, -1, -1), 0);
    ASSERT_EQ(tc_notify_quiet_minutes_left(600, 600, 600), 0);
}

TEST(quiet_hours_wrap_midnight)
{
    /* 22:00 -> 07:00 */
    ASSERT_EQ(tc_notify_quiet_minutes_left(1380, 1320, 420), 60 + 420);
    ASSERT_EQ(tc_notify_quiet_minutes_left(60, 1320, 420), 360);
    ASSERT_EQ(tc_notify_quiet_minutes_left(420, 1320, 420), 0);
    ASSERT_EQ(tc_notify_quiet_minutes_left(1319, 1320, 420), 0);
}

static int32_t plus_two_hours(const char *tz, int64_t ms)
{
    (void)ms;
    return strcmp(tz, "Test/Plus2") ? 0 : 7200;
}

TEST(release_at_quiet_and_digest)
{
    tc_notify_prefs p;
    tc_notify_prefs_defaults(&p);
    int64_t slot = -1;
    /* 2026-01-01T10:30:00Z */
    int64_t now = 1767263400000LL;
    ASSERT_EQ(tc_notify_release_at(&p, now, 3600000, NULL, &slot), now);
    ASSERT_EQ(slot, 0);
    /* quiet 12:00-13:00 local, zone +2: 10:30Z is 12:30 local -> held to 11:00Z */
    snprintf(p.timezone, sizeof(p.timezone), "Test/Plus2");
    p.quiet_start = 720;
    p.quiet_end = 780;
    ASSERT_EQ(tc_notify_release_at(&p, now, 3600000, plus_two_hours, &slot), 1767265200000LL);
    /* digest: next hour boundary 11:00Z = 13:00 local, outside quiet hours */
    snprintf(p.delivery, sizeof(p.delivery), "hourly_digest");
    ASSERT_EQ(tc_notify_release_at(&p, now, 3600000, plus_two_hours, &slot), 1767265200000LL);
    ASSERT_EQ(slot, 1767261600000LL);
    tc_notify_prefs_clear(&p);
}

static bool tz_ok(const char *tz)
{
    return !strcmp(tz, "UTC") || !strcmp(tz, "Europe/Berlin");
}

TEST(prefs_parse_validates_each_field)
{
    tc_notify_prefs cur, out;
    tc_notify_prefs_defaults(&cur);
    tc_err err;
    json_t *b = json_pack("{s:b, s:[s,s,s], s:s, s:i, s:i, s:s}", "email_enabled", 0, "alert_types",
                          "health.down", "connection.expired", "health.down", "timezone",
                          "Europe/Berlin", "quiet_start", 1320, "quiet_end", 420, "delivery", "digest");
    ASSERT_OK(tc_notify_prefs_parse(b, &cur, tz_ok, &out, &err));
    ASSERT(!out.email_enabled);
    ASSERT_EQ(json_array_size(out.alert_types), 2);
    ASSERT_STR_EQ(json_string_value(json_array_get(out.alert_types, 1)), "connection.needs_reconnect");
    ASSERT_STR_EQ(out.delivery, "hourly_digest");
    ASSERT_EQ(out.quiet_start, 1320);
    tc_notify_prefs_clear(&out);
    json_decref(b);

    static const char *bad[][2] = {
        {"{\"email_enabled\":\"yes\"}", "email_enabled"},
        {"{\"alert_types\":[\"nope\"]}", "alert_types[0]"},
        {"{\"timezone\":\"Mars/Olympus\"}", "timezone"},
        {"{\"quiet_start\":1440,\"quiet_end\":1}", "quiet_start"},
        {"{\"quiet_start\":10}", "quiet_end"},
        {"{\"quiet_start\":10,\"quiet_end\":10}", "quiet_end"},
        {"{\"delivery\":\"weekly\"}", "delivery"},
        {"{\"colour\":\"red\"}", "colour"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        json_t *v = json_loads(bad[i][0], 0, NULL);
        tc_err_clear(&err);
        ASSERT_STATUS(tc_notify_prefs_parse(v, &cur, tz_ok, &out, &err), TC_VALIDATION);
        ASSERT_STR_EQ(err.field, bad[i][1]);
        json_decref(v);
    }
    tc_notify_prefs_clear(&cur);
}

TEST(template_escapes_html_and_fills_text)
{
    tc_notify_rendered r;
    tc_err err;
    json_t *vars = json_pack("{s:s, s:s, s:s, s:s}", "name", "Acme <API>", "connector", "acme",
                             "error", "connect \"refused\"\r\nBcc: x@y", "time", "2026-01-01T00:00:00Z");
    ASSERT_OK(tc_notify_render("health.down", vars, "http://tc.local", &r, &err));
    ASSERT_STR_EQ(r.subject, "Acme <API> is down");
    ASSERT_STR_CONTAINS(r.text, "Acme <API> (acme) failed its health check at 2026-01-01T00:00:00Z");
    ASSERT_STR_CONTAINS(r.text, "http://tc.local");
    ASSERT_STR_CONTAINS(r.html, "<strong>Acme &lt;API&gt;</strong>");
    ASSERT_STR_CONTAINS(r.html, "connect &quot;refused&quot;");
    ASSERT(!strstr(r.html, "<API>"));
    tc_notify_rendered_free(&r);
    ASSERT_STATUS(tc_notify_render("nope", vars, NULL, &r, &err), TC_NOT_FOUND);
    json_decref(vars);
}

TEST(smtp_url_parse)
{
    char url[256], user[64], pass[64];
    bool tls = true;
    tc_err err;
    ASSERT_OK(tc_notify_smtp_url_parse("smtp://me%40x.io:p%3Ass@mail.x.io:587", url, sizeof(url), user,
                                       sizeof(user), pass, sizeof(pass), &tls, &err));
    ASSERT_STR_EQ(url, "smtp://mail.x.io:587");
    ASSERT_STR_EQ(user, "me@x.io");
    ASSERT_STR_EQ(pass, "p:ss");
    ASSERT(!tls);
    ASSERT_OK(tc_notify_smtp_url_parse("smtps://h:465", url, sizeof(url), user, sizeof(user), pass,
                                       sizeof(pass), &tls, &err));
    ASSERT(tls);
    ASSERT_STR_EQ(user, "");
    ASSERT_OK(tc_notify_smtp_url_parse("smtp://h:25?tls=required", url, sizeof(url), user,
                                       sizeof(user), pass, sizeof(pass), &tls, &err));
    ASSERT(tls);
    ASSERT_STR_EQ(url, "smtp://h:25");
    ASSERT_STATUS(tc_notify_smtp_url_parse("http://h", url, sizeof(url), user, sizeof(user), pass,
                                           sizeof(pass), &tls, &err), TC_BAD_REQUEST);
    ASSERT_STR_EQ(err.field, "TC_SMTP_URL");
    ASSERT_STATUS(tc_notify_smtp_url_parse("smtp://u:p@", url, sizeof(url), user, sizeof(user), pass,
                                           sizeof(pass), &tls, &err), TC_BAD_REQUEST);
    ASSERT_STATUS(tc_notify_smtp_url_parse("smtp://u:%zz@h", url, sizeof(url), user, sizeof(user),
                                           pass, sizeof(pass), &tls, &err), TC_BAD_REQUEST);
}

/* ---- against a database ---------------------------------------------------- */

static void add_user(tc_db *db, const char *id, const char *email)
{
    tc_db_conn *c = tc_db_acquire(db);
    tc_err err;
    tc_dbv p[] = {TC_DBV_STR(id), TC_DBV_STR(email)};
    ASSERT_OK(tc_db_exec(c, "INSERT INTO users (id, email, password_hash) VALUES ($1, $2, 'x')", p, 2,
                         NULL, &err));
    tc_db_release(c);
}

TEST(queue_respects_preferences)
{
    tc_db *db = tc_test_store_open(2);
    const char *uid = "00000000-0000-4000-8000-000000000001";
    add_user(db, uid, "ann@example.com");
    tc_notify_opts o = {.db = db, .smtp_url = "smtp://127.0.0.1:9", .mail_from = "tc@example.com",
                        .poll_ms = 3600000, .retry_base_ms = 3600000};
    tc_notify *n = NULL;
    tc_err err;
    ASSERT_OK(tc_notify_start(&o, &n, &err));
    tc_db_conn *c = tc_db_acquire(db);
    tc_notify_outcome oc;
    tc_notify_msg m = {.type = "health.down", .subject = "s", .text = "t"};
    /* defaults: everything, immediately */
    ASSERT_OK(tc_notify_user(n, c, uid, &m, &oc, &err));
    ASSERT_EQ(oc, TC_NOTIFY_QUEUED);
    /* only webhook.disabled: health.down skipped */
    tc_notify_prefs p;
    tc_notify_prefs_defaults(&p);
    json_array_append_new(p.alert_types, json_string("webhook.disabled"));
    ASSERT_OK(tc_repo_notify_prefs_put(c, uid, &p, tc_now_ms(), &err));
    ASSERT_OK(tc_notify_user(n, c, uid, &m, &oc, &err));
    ASSERT_EQ(oc, TC_NOTIFY_SKIPPED);
    m.type = "webhook.disabled";
    ASSERT_OK(tc_notify_user(n, c, uid, &m, &oc, &err));
    ASSERT_EQ(oc, TC_NOTIFY_QUEUED);
    /* quiet hours all day except one minute from now: held */
    int now_min = (int)((tc_now_ms() / 60000) % 1440);
    p.quiet_start = (now_min + 1439) % 1440;
    p.quiet_end = (now_min + 2) % 1440;
    ASSERT_OK(tc_repo_notify_prefs_put(c, uid, &p, tc_now_ms(), &err));
    ASSERT_OK(tc_notify_user(n, c, uid, &m, &oc, &err));
    ASSERT_EQ(oc, TC_NOTIFY_HELD);
    /* email off: nothing */
    p.email_enabled = false;
    ASSERT_OK(tc_repo_notify_prefs_put(c, uid, &p, tc_now_ms(), &err));
    ASSERT_OK(tc_notify_user(n, c, uid, &m, &oc, &err));
    ASSERT_EQ(oc, TC_NOTIFY_SKIPPED);
    json_t *counts = NULL;
    ASSERT_OK(tc_repo_notify_outbox_counts(c, uid, &counts, &err));
    ASSERT_EQ(json_integer_value(json_object_get(counts, "pending")) +
                  json_integer_value(json_object_get(counts, "failed")) +
                  json_integer_value(json_object_get(counts, "sent")), 3);
    json_decref(counts);
    tc_notify_prefs_clear(&p);
    tc_db_release(c);
    tc_notify_stop(n);
    tc_test_store_close(db);
}

TEST(cooldown_claim_holds_for_the_window)
{
    tc_db *db = tc_test_store_open(1);
    tc_db_conn *c = tc_db_acquire(db);
    tc_err err;
    ASSERT_OK(tc_db_exec(c, "INSERT INTO connectors (id, slug, name, auth_type) VALUES "
                            "('c1', 'one', 'One', 'none')", NULL, 0, NULL, &err));
    bool claimed = false;
    int64_t t0 = 1000000000;
    ASSERT_OK(tc_repo_health_cooldown_claim(c, "c1", "down", t0, 900000, &claimed, &err));
    ASSERT(claimed);
    ASSERT_OK(tc_repo_health_cooldown_claim(c, "c1", "healthy", t0 + 60000, 900000, &claimed, &err));
    ASSERT(!claimed);
    ASSERT_OK(tc_repo_health_cooldown_claim(c, "c1", "down", t0 + 899999, 900000, &claimed, &err));
    ASSERT(!claimed);
    ASSERT_OK(tc_repo_health_cooldown_claim(c, "c1", "healthy", t0 + 900000, 900000, &claimed, &err));
    ASSERT(claimed);
    tc_db_release(c);
    tc_test_store_close(db);
}

TEST(health_repository_targets_latest_history_prune)
{
    tc_db *db = tc_test_store_open(1);
    tc_db_conn *c = tc_db_acquire(db);
    tc_err err;
    const char *uid = "00000000-0000-4000-8000-000000000002";
    tc_dbv pu[] = {TC_DBV_STR(uid)};
    ASSERT_OK(tc_db_exec(c, "INSERT INTO users (id, email, password_hash) VALUES ($1, 'h@x.io', 'x')", pu, 1,
                         NULL, &err));
    ASSERT_OK(tc_db_exec(c, "INSERT INTO connectors (id, slug, name, auth_type, definition) VALUES "
                            "('c1', 'one', 'One', 'none', '{\"base_url\":\"http://a\"}'), "
                            "('c2', 'two', 'Two', 'none', NULL)", NULL, 0, NULL, &err));
    ASSERT_OK(tc_db_exec(c, "INSERT INTO user_connections (id, user_id, connector_id, status) VALUES "
                            "('k1', $1, 'c1', 'active')", pu, 1, NULL, &err));
    json_t *t = NULL;
    ASSERT_OK(tc_repo_health_targets(c, &t, &err));
    ASSERT_EQ(json_array_size(t), 1);
    ASSERT_STR_EQ(json_string_value(json_object_get(json_array_get(t, 0), "slug")), "one");
    ASSERT_STR_EQ(json_string_value(json_object_get(json_object_get(json_array_get(t, 0), "definition"), "base_url")), "http://a");
    json_decref(t);
    char last[16];
    ASSERT_OK(tc_repo_health_last_status(c, "c1", last, &err));
    ASSERT_STR_EQ(last, "");
    for (int i = 0; i < 3; i++) {
        tc_repo_health_result r = {.connector_id = "c1", .status = i == 2 ? "down" : "healthy",
                                   .latency_ms = i == 2 ? -1 : 10 + i, .error = i == 2 ? "refused" : NULL,
                                   .checked_at = 1000 + i};
        ASSERT_OK(tc_repo_health_insert(c, &r, NULL, &err));
    }
    ASSERT_OK(tc_repo_health_last_status(c, "c1", last, &err));
    ASSERT_STR_EQ(last, "down");
    json_t *users = NULL;
    ASSERT_OK(tc_repo_health_users(c, "c1", &users, &err));
    ASSERT_EQ(json_array_size(users), 1);
    json_decref(users);
    json_t *latest = NULL;
    ASSERT_OK(tc_repo_health_latest(c, uid, &latest, &err));
    ASSERT_EQ(json_array_size(latest), 1);
    ASSERT_STR_EQ(json_string_value(json_object_get(json_array_get(latest, 0), "status")), "down");
    ASSERT(json_is_null(json_object_get(json_array_get(latest, 0), "latency_ms")));
    json_decref(latest);
    json_t *items = NULL;
    char *next = NULL;
    ASSERT_OK(tc_repo_health_history(c, uid, "one", NULL, 2, &items, &next, &err));
    ASSERT_EQ(json_array_size(items), 2);
    ASSERT(next != NULL);
    json_decref(items);
    char *next2 = NULL;
    ASSERT_OK(tc_repo_health_history(c, uid, "one", next, 2, &items, &next2, &err));
    ASSERT_EQ(json_array_size(items), 1);
    ASSERT(next2 == NULL);
    ASSERT_STR_EQ(json_string_value(json_object_get(json_array_get(items, 0), "status")), "healthy");
    json_decref(items);
    free(next);
    ASSERT_STATUS(tc_repo_health_history(c, uid, "nope", NULL, 2, &items, &next, &err), TC_NOT_FOUND);
    int64_t deleted = 0;
    ASSERT_OK(tc_repo_health_prune(c, 1002, &deleted, &err));
    ASSERT_EQ(deleted, 2);
    tc_db_release(c);
    tc_test_store_close(db);
}
