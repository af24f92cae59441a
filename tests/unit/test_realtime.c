/* realtime: the hub (fan-out, filters, slow subscribers, replay, stop) with
 * memory sinks, and the stream_events/stream_tickets store on SQLite. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "events/events.h"
#include "realtime/realtime.h"
#include "runner.h"
#include "store/db.h"

/* ---- a memory sink ------------------------------------------------------------ */
/* A sink collecting frames; like the HTTP stream it stands in for, it takes
 * calls from several publishing threads at once. */
typedef struct msink {
    pthread_mutex_t mu;
    tc_buf out;
    int closes;
    tc_hub_end why;
    int *released; /* set when the hub lets go */
} msink;

static tc_status ms_send(void *ctx, const char *data, size_t len)
{
    msink *m = ctx;
    pthread_mutex_lock(&m->mu);
    tc_status st = tc_buf_append(&m->out, data, len) == TC_OK ? TC_OK : TC_TOO_LARGE;
    pthread_mutex_unlock(&m->mu);
    return st;
}

static void ms_close(void *ctx, tc_hub_end why)
{
    msink *m = ctx;
    pthread_mutex_lock(&m->mu);
    m->closes++;
    m->why = why;
    pthread_mutex_unlock(&m->mu);
}

static void ms_release(void *ctx)
{
    msink *m = ctx;
    if (m->released)
        (*m->released)++;
}

static tc_hub_sink sink_of(msink *m, size_t max)
{
    pthread_mutex_init(&m->mu, NULL);
    tc_buf_init(&m->out, max);
    m->closes = 0;
    return (tc_hub_sink){ms_send, ms_close, ms_release, m};
}

static tc_hub_sub *sub(tc_hub *h, msink *m, size_t max, const char *user, const tc_hub_filter *f,
                       int64_t last)
{
    tc_hub_sink s = sink_of(m, max);
    tc_hub_sub_options o = {.user_id = user, .filter = f, .last_event_id = last};
    tc_err err;
    tc_hub_sub *x = tc_hub_subscribe(h, &o, &s, &err);
    ASSERT_NOT_NULL(x);
    return x;
}

static int count(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = hay ? strstr(hay, needle) : NULL; p; p = strstr(p + 1, needle))
        n++;
    return n;
}

/* ---- format and parsing ------------------------------------------------------------ */

TEST(format_splits_lines_and_omits_missing_id)
{
    tc_buf b;
    tc_buf_init(&b, 1024);
    ASSERT_OK(tc_hub_format(&b, 42, "job", "{\"a\":1}"));
    ASSERT_STR_EQ(b.data, "id: 42\nevent: job\ndata: {\"a\":1}\n\n");
    tc_buf_reset(&b);
    ASSERT_OK(tc_hub_format(&b, 0, "refetch", "one\ntwo\r\nthree"));
    ASSERT_STR_EQ(b.data, "event: refetch\ndata: one\ndata: two\ndata: three\n\n");
    tc_buf_free(&b);
}

TEST(parse_kinds)
{
    unsigned k = 0;
    ASSERT_TRUE(tc_hub_parse_kinds("job,event", &k));
    ASSERT_EQ(k, TC_HUB_JOB | TC_HUB_EVENT);
    ASSERT_TRUE(tc_hub_parse_kinds("health", &k));
    ASSERT_EQ(k, TC_HUB_HEALTH);
    ASSERT_FALSE(tc_hub_parse_kinds("job,", &k));
    ASSERT_FALSE(tc_hub_parse_kinds("", &k));
    ASSERT_FALSE(tc_hub_parse_kinds("jobs", &k));
    ASSERT_FALSE(tc_hub_parse_kinds(",job", &k));
}

/* ---- fan-out ------------------------------------------------------------------------ */

TEST(publish_reaches_only_the_users_subscribers)
{
    tc_hub *h = tc_hub_new(NULL);
    msink a1 = {0}, a2 = {0}, b = {0};
    tc_hub_sub *s1 = sub(h, &a1, 4096, "alice", NULL, 0);
    tc_hub_sub *s2 = sub(h, &a2, 4096, "alice", NULL, 0);
    tc_hub_sub *s3 = sub(h, &b, 4096, "bob", NULL, 0);
    tc_hub_publish(h, "alice", 7, "job", "{\"id\":\"j1\",\"status\":\"queued\"}");
    ASSERT_STR_EQ(a1.out.data, "id: 7\nevent: job\ndata: {\"id\":\"j1\",\"status\":\"queued\"}\n\n");
    ASSERT_STR_EQ(a2.out.data, a1.out.data);
    ASSERT_EQ(b.out.len, 0);
    tc_hub_stats st;
    tc_hub_stats_get(h, &st);
    ASSERT_EQ(st.published, 1);
    ASSERT_EQ(st.delivered, 2);
    ASSERT_EQ(st.subscribers, 3);
    tc_hub_unsubscribe(s1);
    tc_hub_unsubscribe(s2);
    tc_hub_unsubscribe(s3);
    tc_hub_publish(h, "alice", 8, "job", "{\"id\":\"j1\"}");
    ASSERT_EQ(count(a1.out.data, "event: job"), 1);
    tc_hub_free(h);
    tc_buf_free(&a1.out);
    tc_buf_free(&a2.out);
    tc_buf_free(&b.out);
}

TEST(bad_input_is_ignored)
{
    tc_hub *h = tc_hub_new(NULL);
    msink a = {0};
    tc_hub_sub *s = sub(h, &a, 4096, "alice", NULL, 0);
    tc_hub_publish(h, "alice", 1, "job", "{not json");
    tc_hub_publish(h, "alice", 2, "bad\nkind", "{}");
    tc_hub_publish(h, "alice", 3, "", "{}");
    tc_hub_publish(h, NULL, 4, "job", "{}");
    ASSERT_EQ(a.out.len, 0);
    tc_hub_unsubscribe(s);
    tc_hub_free(h);
    tc_buf_free(&a.out);
}

TEST(filters_by_kind_job_and_connection)
{
    tc_hub *h = tc_hub_new(NULL);
    msink k = {0}, j = {0}, c = {0};
    tc_hub_filter fk = {.kinds = TC_HUB_EVENT};
    tc_hub_filter fj = {0};
    snprintf(fj.job_id, sizeof(fj.job_id), "j2");
    tc_hub_filter fc = {0};
    snprintf(fc.connection_id, sizeof(fc.connection_id), "c1");
    tc_hub_sub *s1 = sub(h, &k, 4096, "u", &fk, 0);
    tc_hub_sub *s2 = sub(h, &j, 4096, "u", &fj, 0);
    tc_hub_sub *s3 = sub(h, &c, 4096, "u", &fc, 0);
    tc_hub_publish(h, "u", 1, "job", "{\"id\":\"j1\",\"connection_id\":\"c1\"}");
    tc_hub_publish(h, "u", 2, "job", "{\"id\":\"j2\",\"connection_id\":\"c2\"}");
    tc_hub_publish(h, "u", 3, "event", "{\"id\":5,\"job_id\":\"j2\"}");
    tc_hub_publish(h, "u", 4, "connection", "{\"id\":\"c1\"}");
    tc_hub_publish(h, "u", 5, "health", "{\"connector\":\"x\"}");
    ASSERT_EQ(count(k.out.data, "event: "), 1);
    ASSERT_STR_CONTAINS(k.out.data, "id: 3\n");
    ASSERT_EQ(count(j.out.data, "event: "), 2);
    ASSERT_STR_CONTAINS(j.out.data, "id: 2\n");
    ASSERT_STR_CONTAINS(j.out.data, "id: 3\n");
    ASSERT_EQ(count(c.out.data, "event: "), 2);
    ASSERT_STR_CONTAINS(c.out.data, "id: 1\n");
    ASSERT_STR_CONTAINS(c.out.data, "id: 4\n");
    tc_hub_unsubscribe(s1);
    tc_hub_unsubscribe(s2);
    tc_hub_unsubscribe(s3);
    tc_hub_free(h);
    tc_buf_free(&k.out);
    tc_buf_free(&j.out);
    tc_buf_free(&c.out);
}

TEST(oversized_rows_go_out_truncated)
{
    tc_hub *h = tc_hub_new(NULL);
    msink a = {0};
    tc_hub_sub *s = sub(h, &a, 4096, "u", NULL, 0);
    size_t n = TC_HUB_DATA_MAX + 100;
    char *big = malloc(n + 64);
    int off = snprintf(big, n + 64, "{\"id\":\"j9\",\"result\":\"");
    memset(big + off, 'x', n);
    strcpy(big + off + n, "\"}");
    tc_hub_publish(h, "u", 1, "job", big);
    ASSERT_STR_EQ(a.out.data, "id: 1\nevent: job\ndata: {\"id\":\"j9\",\"truncated\":true}\n\n");
    free(big);
    tc_hub_unsubscribe(s);
    tc_hub_free(h);
    tc_buf_free(&a.out);
}

TEST(slow_subscriber_is_dropped_and_others_keep_receiving)
{
    tc_hub *h = tc_hub_new(NULL);
    msink slow = {0}, fast = {0};
    int released = 0;
    slow.released = &released;
    tc_hub_sub *s1 = sub(h, &slow, 200, "u", NULL, 0);
    tc_hub_sub *s2 = sub(h, &fast, 1 << 20, "u", NULL, 0);
    for (int i = 1; i <= 20; i++)
        tc_hub_publish(h, "u", i, "event", "{\"job_id\":\"j\",\"message\":\"progress\"}");
    ASSERT_EQ(slow.closes, 1);
    ASSERT_EQ(slow.why, TC_HUB_END_SLOW);
    ASSERT_EQ(count(fast.out.data, "event: event"), 20);
    ASSERT(slow.out.len <= 200);
    tc_hub_stats st;
    tc_hub_stats_get(h, &st);
    ASSERT_EQ(st.dropped, 1);
    ASSERT_EQ(st.subscribers, 1);
    ASSERT_EQ(released, 0); /* the owner still holds its handle */
    tc_hub_unsubscribe(s1);
    ASSERT_EQ(released, 1);
    tc_hub_unsubscribe(s2);
    tc_hub_free(h);
    tc_buf_free(&slow.out);
    tc_buf_free(&fast.out);
}

TEST(stop_ends_subscribers_and_refuses_new_ones)
{
    tc_hub *h = tc_hub_new(NULL);
    msink a = {0}, b = {0};
    tc_hub_sub *s1 = sub(h, &a, 4096, "u", NULL, 0);
    tc_hub_sub *s2 = sub(h, &b, 4096, "v", NULL, 0);
    tc_hub_stop(h);
    ASSERT_EQ(a.closes, 1);
    ASSERT_EQ(a.why, TC_HUB_END_SHUTDOWN);
    ASSERT_EQ(b.closes, 1);
    tc_hub_publish(h, "u", 1, "job", "{}");
    ASSERT_EQ(a.out.len, 0);
    msink c = {0};
    int released = 0;
    c.released = &released;
    tc_hub_sink sk = sink_of(&c, 100);
    tc_hub_sub_options o = {.user_id = "u"};
    tc_err err;
    ASSERT_NULL(tc_hub_subscribe(h, &o, &sk, &err));
    ASSERT_EQ(err.status, TC_UNAVAILABLE);
    ASSERT_EQ(released, 1);
    tc_hub_unsubscribe(s1);
    tc_hub_unsubscribe(s2);
    tc_hub_free(h);
    tc_buf_free(&a.out);
    tc_buf_free(&b.out);
    tc_buf_free(&c.out);
}

/* ---- replay -------------------------------------------------------------------------- */

TEST(replay_from_the_ring_then_live)
{
    tc_hub *h = tc_hub_new(NULL);
    for (int i = 1; i <= 5; i++) {
        char d[64];
        snprintf(d, sizeof(d), "{\"id\":\"j%d\"}", i);
        tc_hub_publish(h, i % 2 ? "u" : "v", i, "job", d);
    }
    msink a = {0};
    tc_hub_sub *s = sub(h, &a, 4096, "u", NULL, 2);
    ASSERT_STR_EQ(a.out.data, "id: 3\nevent: job\ndata: {\"id\":\"j3\"}\n\n"
                              "id: 5\nevent: job\ndata: {\"id\":\"j5\"}\n\n");
    tc_hub_publish(h, "u", 6, "job", "{\"id\":\"j6\"}");
    ASSERT_STR_CONTAINS(a.out.data, "id: 6\n");
    tc_hub_stats st;
    tc_hub_stats_get(h, &st);
    ASSERT_EQ(st.replayed, 2);
    tc_hub_unsubscribe(s);
    tc_hub_free(h);
    tc_buf_free(&a.out);
}

TEST(replay_past_the_ring_without_a_database_says_refetch)
{
    tc_hub_options o = {.ring_max = 4};
    tc_hub *h = tc_hub_new(&o);
    for (int i = 1; i <= 10; i++)
        tc_hub_publish(h, "u", i, "job", "{}");
    msink a = {0};
    tc_hub_sub *s = sub(h, &a, 4096, "u", NULL, 3);
    ASSERT_STR_EQ(a.out.data, "id: 10\nevent: refetch\ndata: {\"reason\":\"too_old\",\"last_event_id\":10}\n\n");
    tc_hub_unsubscribe(s);
    /* An id from the future (another database): refetch too. */
    msink b = {0};
    s = sub(h, &b, 4096, "u", NULL, 99);
    ASSERT_STR_CONTAINS(b.out.data, "event: refetch\ndata: {\"reason\":\"unknown_id\"");
    tc_hub_unsubscribe(s);
    tc_hub_free(h);
    tc_buf_free(&a.out);
    tc_buf_free(&b.out);
}

TEST(replay_larger_than_its_budget_says_refetch)
{
    tc_hub_options o = {.replay_max = 3};
    tc_hub *h = tc_hub_new(&o);
    for (int i = 1; i <= 5; i++)
        tc_hub_publish(h, "u", i, "job", "{}");
    msink a = {0};
    tc_hub_sub *s = sub(h, &a, 4096, "u", NULL, 1);
    ASSERT_EQ(count(a.out.data, "event: refetch"), 1);
    ASSERT_EQ(count(a.out.data, "event: job"), 0);
    tc_hub_unsubscribe(s);
    tc_hub_free(h);
    tc_buf_free(&a.out);
}

/* ---- store ------------------------------------------------------------------------------ */

static tc_db *open_db(void)
{
    char url[512];
    snprintf(url, sizeof(url), "sqlite:%s/rt.db", tc_test_tmpdir());
    tc_db *db = NULL;
    tc_err err;
    ASSERT_OK(tc_db_open(url, 2, &db, &err));
    ASSERT_OK(tc_db_migrate(db, &err));
    tc_db_conn *c = tc_db_acquire(db);
    const char *users[] = {"u", "v"};
    for (int i = 0; i < 2; i++) {
        char email[64];
        snprintf(email, sizeof(email), "%s@example.com", users[i]);
        const tc_dbv p[] = {TC_DBV_STR(users[i]), TC_DBV_STR(email)};
        ASSERT_OK(tc_db_exec(c, "INSERT INTO users (id, email, password_hash) VALUES ($1, $2, 'x')", p, 2,
                             NULL, &err));
    }
    tc_db_release(c);
    return db;
}

/* Records a change through the events module, publishing to the hub. */
static int64_t record(tc_db *db, tc_events *ev, const char *user, const char *kind, const char *json)
{
    tc_change ch;
    tc_change_init(&ch, user, kind, json_loads(json, 0, NULL));
    tc_err err;
    tc_db_conn *c = tc_db_acquire(db);
    ASSERT_OK(tc_db_begin(c, &err));
    ASSERT_OK(tc_events_record(ev, c, &ch, &err));
    ASSERT_OK(tc_db_commit(c, &err));
    tc_db_release(c);
    tc_events_publish(ev, &ch);
    int64_t id = ch.stream_id;
    tc_change_clear(&ch);
    return id;
}

TEST(replay_from_the_database_after_a_restart)
{
    tc_db *db = open_db();
    tc_events *ev = tc_events_new(); /* no publisher: a previous process */
    int64_t ids[4];
    for (int i = 0; i < 4; i++)
        ids[i] = record(db, ev, i == 2 ? "v" : "u", "job", "{\"id\":\"j\",\"status\":\"running\"}");
    tc_hub *h = tc_hub_new(NULL);
    tc_err err;
    int64_t max = 0;
    ASSERT_OK(tc_stream_max_id(db, &max, &err));
    /* the last id the newest row can hold (events.h: row * SLOTS + k) */
    ASSERT_EQ(max, ids[3] + TC_STREAM_SLOTS - 1);
    tc_hub_set_floor(h, max);
    tc_events_set_publisher(ev, tc_hub_publish_row, h);
    msink a = {0};
    tc_hub_sink sk = sink_of(&a, 4096);
    tc_hub_sub_options o = {.user_id = "u", .last_event_id = ids[0], .replay = tc_stream_replay_db,
                            .replay_ctx = db};
    tc_hub_sub *s = tc_hub_subscribe(h, &o, &sk, &err);
    ASSERT_NOT_NULL(s);
    char want[64];
    snprintf(want, sizeof(want), "id: %lld\nevent: job\n", (long long)ids[1]);
    ASSERT_STR_CONTAINS(a.out.data, want);
    snprintf(want, sizeof(want), "id: %lld\nevent: job\n", (long long)ids[3]);
    ASSERT_STR_CONTAINS(a.out.data, want);
    ASSERT_EQ(count(a.out.data, "event: job"), 2); /* not v's row */
    int64_t live = record(db, ev, "u", "event", "{\"id\":1,\"job_id\":\"j\"}");
    snprintf(want, sizeof(want), "id: %lld\nevent: event\n", (long long)live);
    ASSERT_STR_CONTAINS(a.out.data, want);
    tc_hub_unsubscribe(s);
    tc_hub_free(h);
    tc_events_free(ev);
    tc_db_close(db);
    tc_buf_free(&a.out);
}

/* One transaction's changes share a row; a client that saw the first of
 * them gets the rest (and only the rest) from the database. */
TEST(replay_resumes_inside_a_shared_row)
{
    tc_db *db = open_db();
    tc_events *ev = tc_events_new();
    tc_change ch[3];
    tc_change_init(&ch[0], "u", "job", json_pack("{s:s, s:s}", "id", "j", "status", "queued"));
    tc_change_init(&ch[1], "u", "event", json_pack("{s:i, s:s}", "id", 1, "job_id", "j"));
    tc_change_init(&ch[2], "u", "job", json_pack("{s:s, s:s}", "id", "j", "status", "running"));
    tc_err err;
    tc_db_conn *c = tc_db_acquire(db);
    ASSERT_OK(tc_db_begin(c, &err));
    ASSERT_OK(tc_events_record_all(ev, c, ch, 3, &err));
    ASSERT_OK(tc_db_commit(c, &err));
    tc_db_release(c);
    ASSERT_EQ(ch[1].stream_id, ch[0].stream_id + 1);
    ASSERT_EQ(ch[2].stream_id, ch[0].stream_id + 2);
    tc_hub *h = tc_hub_new(NULL);
    int64_t max = 0;
    ASSERT_OK(tc_stream_max_id(db, &max, &err));
    tc_hub_set_floor(h, max);
    msink a = {0};
    tc_hub_sink sk = sink_of(&a, 4096);
    tc_hub_sub_options o = {.user_id = "u", .last_event_id = ch[0].stream_id,
                            .replay = tc_stream_replay_db, .replay_ctx = db};
    tc_hub_sub *s = tc_hub_subscribe(h, &o, &sk, &err);
    ASSERT_NOT_NULL(s);
    char want[96];
    snprintf(want, sizeof(want), "id: %lld\nevent: event\n", (long long)ch[1].stream_id);
    ASSERT_STR_CONTAINS(a.out.data, want);
    snprintf(want, sizeof(want), "id: %lld\nevent: job\n", (long long)ch[2].stream_id);
    ASSERT_STR_CONTAINS(a.out.data, want);
    ASSERT_STR_CONTAINS(a.out.data, "\"status\":\"running\"");
    ASSERT_EQ(count(a.out.data, "event: job"), 1); /* not the queued one it saw */
    tc_hub_unsubscribe(s);
    tc_hub_free(h);
    for (int i = 0; i < 3; i++)
        tc_change_clear(&ch[i]);
    tc_events_free(ev);
    tc_db_close(db);
    tc_buf_free(&a.out);
}

/* Changes of different users in one transaction never share a row, and a
 * row holds at most TC_STREAM_SLOTS changes. */
TEST(record_all_groups_per_user_and_caps_rows)
{
    tc_db *db = open_db();
    tc_events *ev = tc_events_new();
    enum { N = TC_STREAM_SLOTS + 3 };
    tc_change ch[N];
    for (int i = 0; i < N; i++)
        tc_change_init(&ch[i], i % 2 ? "v" : "u", "job", json_pack("{s:i}", "n", i));
    tc_err err;
    tc_db_conn *c = tc_db_acquire(db);
    ASSERT_OK(tc_db_begin(c, &err));
    ASSERT_OK(tc_events_record_all(ev, c, ch, N, &err));
    ASSERT_OK(tc_db_commit(c, &err));
    tc_db_rows *r = NULL;
    ASSERT_OK(tc_db_query(c, "SELECT COUNT(*), COUNT(DISTINCT user_id) FROM stream_events", NULL, 0,
                          &r, &err));
    ASSERT(tc_db_rows_next(r));
    ASSERT_EQ(tc_db_rows_int(r, 0), 2); /* 10 of u's, 9 of v's: one row each */
    ASSERT_EQ(tc_db_rows_int(r, 1), 2);
    tc_db_rows_free(r);
    tc_db_release(c);
    for (int i = 2; i < N; i++) /* each user's ids keep the recording order */
        ASSERT(ch[i].stream_id > ch[i - 2].stream_id);
    for (int i = 0; i + 1 < N; i++)
        ASSERT(ch[i].stream_id / TC_STREAM_SLOTS != ch[i + 1].stream_id / TC_STREAM_SLOTS);
    for (int i = 0; i < N; i++) {
        tc_change_clear(&ch[i]);
        tc_change_init(&ch[i], "u", "job", json_pack("{s:i}", "n", i));
    }
    ASSERT_OK(tc_db_begin(c = tc_db_acquire(db), &err));
    ASSERT_OK(tc_events_record_all(ev, c, ch, N, &err));
    ASSERT_OK(tc_db_commit(c, &err));
    ASSERT_OK(tc_db_query(c, "SELECT COUNT(*) FROM stream_events WHERE user_id = 'u'", NULL, 0, &r,
                          &err));
    ASSERT(tc_db_rows_next(r));
    ASSERT_EQ(tc_db_rows_int(r, 0), 3); /* the first row, then 19 changes: 16 + 3 */
    tc_db_rows_free(r);
    tc_db_release(c);
    ASSERT_EQ(ch[TC_STREAM_SLOTS].stream_id % TC_STREAM_SLOTS, 0);
    for (int i = 0; i < N; i++)
        tc_change_clear(&ch[i]);
    tc_events_free(ev);
    tc_db_close(db);
}

TEST(pruned_history_says_refetch)
{
    tc_db *db = open_db();
    tc_events *ev = tc_events_new();
    int64_t first = record(db, ev, "u", "job", "{\"id\":\"a\"}");
    for (int i = 0; i < 5; i++)
        record(db, ev, "u", "job", "{\"id\":\"b\"}");
    tc_err err;
    int64_t deleted = 0;
    ASSERT_OK(tc_stream_prune(db, tc_now_ms(), 3600 * 1000, 2, &deleted, &err));
    ASSERT_EQ(deleted, 4);
    tc_hub *h = tc_hub_new(NULL);
    int64_t max = 0;
    ASSERT_OK(tc_stream_max_id(db, &max, &err));
    tc_hub_set_floor(h, max);
    msink a = {0};
    tc_hub_sink sk = sink_of(&a, 4096);
    tc_hub_sub_options o = {.user_id = "u", .last_event_id = first, .replay = tc_stream_replay_db,
                            .replay_ctx = db};
    tc_hub_sub *s = tc_hub_subscribe(h, &o, &sk, &err);
    ASSERT_STR_CONTAINS(a.out.data, "event: refetch\n");
    ASSERT_EQ(count(a.out.data, "event: job"), 0);
    tc_hub_unsubscribe(s);
    /* By age: everything is older than 0 ms ago + 1 s in the future. */
    ASSERT_OK(tc_stream_prune(db, tc_now_ms() + 1000, 0, 1000, &deleted, &err));
    ASSERT_EQ(deleted, 2);
    tc_hub_free(h);
    tc_events_free(ev);
    tc_db_close(db);
    tc_buf_free(&a.out);
}

TEST(tickets_are_single_use_and_expire)
{
    tc_db *db = open_db();
    tc_err err;
    char *t = NULL;
    ASSERT_OK(tc_stream_ticket_issue(db, "u", 30, &t, &err));
    ASSERT(strncmp(t, "tcst_", 5) == 0);
    ASSERT_EQ(strlen(t), 5 + 43);
    /* Stored hashed: the ticket itself is nowhere in the table. */
    tc_db_conn *c = tc_db_acquire(db);
    tc_db_rows *r = NULL;
    ASSERT_OK(tc_db_query(c, "SELECT ticket_hash FROM stream_tickets", NULL, 0, &r, &err));
    ASSERT(tc_db_rows_next(r));
    ASSERT(strstr(t, tc_db_rows_text(r, 0)) == NULL);
    ASSERT_EQ(strlen(tc_db_rows_text(r, 0)), 64);
    tc_db_rows_free(r);
    tc_db_release(c);
    char user[37] = "";
    ASSERT_OK(tc_stream_ticket_redeem(db, t, user, &err));
    ASSERT_STR_EQ(user, "u");
    ASSERT_STATUS(tc_stream_ticket_redeem(db, t, user, &err), TC_UNAUTHORIZED);
    ASSERT_STR_CONTAINS(err.message, "used already");
    free(t);
    ASSERT_OK(tc_stream_ticket_issue(db, "v", 0, &t, &err)); /* expires at once */
    ASSERT_STATUS(tc_stream_ticket_redeem(db, t, user, &err), TC_UNAUTHORIZED);
    free(t);
    ASSERT_STATUS(tc_stream_ticket_redeem(db, "eyJhbGciOi.x.y", user, &err), TC_UNAUTHORIZED);
    ASSERT_STR_CONTAINS(err.message, "malformed");
    tc_db_close(db);
}

/* ---- threads ------------------------------------------------------------------------------ */

typedef struct {
    tc_hub *h;
    int base;
} pub_arg;

static void *publisher(void *arg)
{
    pub_arg *a = arg;
    for (int i = 0; i < 500; i++)
        tc_hub_publish(a->h, i % 2 ? "u" : "v", a->base + i, "event", "{\"job_id\":\"j\"}");
    return NULL;
}

static void heap_release(void *ctx)
{
    msink *m = ctx;
    tc_buf_free(&m->out);
    free(m);
}

TEST(concurrent_publish_subscribe_unsubscribe)
{
    tc_hub_options o = {.ring_max = 64};
    tc_hub *h = tc_hub_new(&o);
    pthread_t t[3];
    pub_arg args[3];
    for (int i = 0; i < 3; i++) {
        args[i] = (pub_arg){h, 1 + i * 1000};
        pthread_create(&t[i], NULL, publisher, &args[i]);
    }
    for (int round = 0; round < 200; round++) {
        /* Heap sink freed by release: a publisher may still hold the
         * subscriber for a moment after the unsubscribe. */
        msink *m = calloc(1, sizeof(*m));
        tc_hub_sink sk = sink_of(m, round % 3 ? 1 << 16 : 300);
        sk.release = heap_release;
        tc_hub_sub_options so = {.user_id = round % 2 ? "u" : "v", .last_event_id = round % 5 ? 0 : 1500};
        tc_err err;
        tc_hub_sub *s = tc_hub_subscribe(h, &so, &sk, &err);
        ASSERT_NOT_NULL(s);
        tc_hub_unsubscribe(s);
    }
    for (int i = 0; i < 3; i++)
        pthread_join(t[i], NULL);
    tc_hub_stats st;
    tc_hub_stats_get(h, &st);
    ASSERT_EQ(st.published, 1500);
    ASSERT_EQ(st.subscribers, 0);
    tc_hub_free(h);
}
