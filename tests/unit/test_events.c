#include <stdio.h>
#include <stdlib.h>

#include "events/events.h"
#include "runner.h"

static tc_db *open_db(void)
{
    char url[512];
    snprintf(url, sizeof(url), "sqlite:%s/events.db", tc_test_tmpdir());
    tc_db *db = NULL;
    tc_err err;
    ASSERT_OK(tc_db_open(url, 2, &db, &err));
    ASSERT_OK(tc_db_migrate(db, &err));
    tc_db_conn *c = tc_db_acquire(db);
    const tc_dbv p[] = {TC_DBV_STR("u1"), TC_DBV_STR("u1@example.com"), TC_DBV_I64(1)};
    ASSERT_OK(tc_db_exec(c,
                         "INSERT INTO users (id, email, password_hash, created_at, updated_at) "
                         "VALUES ($1, $2, 'x', $3, $3)",
                         p, 3, NULL, &err));
    tc_db_release(c);
    return db;
}

static int outbox_calls, publish_calls, observer_calls;
static int64_t last_id;

static tc_status outbox(void *ctx, tc_db_conn *c, const char *user_id, const char *type,
                        const json_t *data, tc_err *err)
{
    outbox_calls++;
    ASSERT_STR_EQ(type, "job.succeeded");
    ASSERT_STR_EQ(json_string_value(json_object_get(data, "status")), "succeeded");
    return TC_OK;
}

static void publish(void *ctx, const char *user_id, int64_t id, const char *kind, const char *data,
                    const json_t *row)
{
    ASSERT_STR_EQ(json_string_value(json_object_get(row, "status")), "succeeded");
    publish_calls++;
    ASSERT(id > last_id);
    last_id = id;
    ASSERT_STR_EQ(user_id, "u1");
    ASSERT_STR_CONTAINS(data, "\"status\":\"succeeded\"");
}

static void observe(void *ctx, const char *user_id, const char *kind, const json_t *row)
{
    observer_calls++;
    ASSERT_STR_EQ(kind, "job");
}

TEST(record_then_publish_assigns_monotonic_ids)
{
    tc_db *db = open_db();
    tc_events *ev = tc_events_new();
    tc_events_set_outbox(ev, outbox, NULL);
    tc_events_set_publisher(ev, publish, NULL);
    tc_events_add_observer(ev, observe, NULL);
    tc_err err;
    for (int i = 0; i < 3; i++) {
        tc_change ch;
        tc_change_init(&ch, "u1", "job", json_pack("{s:s}", "status", "succeeded"));
        ch.webhook_type = i == 0 ? "job.succeeded" : NULL;
        tc_db_conn *c = tc_db_acquire(db);
        ASSERT_OK(tc_db_begin(c, &err));
        ASSERT_OK(tc_events_record(ev, c, &ch, &err));
        ASSERT_OK(tc_db_commit(c, &err));
        tc_db_release(c);
        ASSERT(ch.stream_id > 0);
        tc_events_publish(ev, &ch);
        tc_change_clear(&ch);
    }
    ASSERT_EQ(outbox_calls, 1);
    ASSERT_EQ(publish_calls, 3);
    ASSERT_EQ(observer_calls, 3);
    tc_events_free(ev);
    tc_db_close(db);
}

TEST(rolled_back_changes_leave_no_stream_row)
{
    tc_db *db = open_db();
    tc_events *ev = tc_events_new();
    tc_err err;
    tc_change ch;
    tc_change_init(&ch, "u1", "event", json_pack("{s:s}", "message", "x"));
    tc_db_conn *c = tc_db_acquire(db);
    ASSERT_OK(tc_db_begin(c, &err));
    ASSERT_OK(tc_events_record(ev, c, &ch, &err));
    tc_db_rollback(c);
    tc_db_rows *r = NULL;
    ASSERT_OK(tc_db_query(c, "SELECT COUNT(*) FROM stream_events", NULL, 0, &r, &err));
    ASSERT(tc_db_rows_next(r));
    ASSERT_EQ(tc_db_rows_int(r, 0), 0);
    tc_db_rows_free(r);
    tc_db_release(c);
    tc_change_clear(&ch);
    tc_events_free(ev);
    tc_db_close(db);
}
