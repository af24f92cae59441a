#include "core/core.h"
#include "runner.h"

TEST(status_maps_to_http_and_code)
{
    ASSERT_EQ(tc_status_http(TC_NOT_FOUND), 404);
    ASSERT_STR_EQ(tc_status_code(TC_VALIDATION), "validation_failed");
    ASSERT_EQ(tc_status_http(TC_RATE_LIMITED), 429);
}

TEST(failf_fills_message_and_field)
{
    tc_err e;
    tc_err_clear(&e);
    ASSERT_STATUS(tc_failf(&e, TC_BAD_REQUEST, "email", "must be %s", "an email"), TC_BAD_REQUEST);
    ASSERT_STR_EQ(e.message, "must be an email");
    ASSERT_STR_EQ(e.field, "email");
    ASSERT_STR_EQ(tc_err_code(&e), "bad_request");
    tc_failc(&e, TC_CONFLICT, "connection_inactive", NULL, "x");
    ASSERT_STR_EQ(tc_err_code(&e), "connection_inactive");
}

TEST(buf_enforces_max)
{
    tc_buf b;
    tc_buf_init(&b, 8);
    ASSERT_OK(tc_buf_puts(&b, "12345"));
    ASSERT_STATUS(tc_buf_puts(&b, "6789"), TC_TOO_LARGE);
    ASSERT_STR_EQ(b.data, "12345");
    ASSERT_OK(tc_buf_printf(&b, "%d", 678));
    ASSERT_STR_EQ(b.data, "12345678");
    ASSERT_EQ(b.len, 8);
    ASSERT_STATUS(tc_buf_puts(&b, "9"), TC_TOO_LARGE);
    tc_buf_free(&b);
}

static int cleanup_calls;
static void count_cleanup(void *arg)
{
    cleanup_calls += *(int *)arg;
}

TEST(arena_allocates_and_runs_cleanups)
{
    tc_arena *a = tc_arena_new(64);
    char *s = tc_arena_printf(a, "%s-%d", "x", 42);
    ASSERT_STR_EQ(s, "x-42");
    void *big = tc_arena_alloc(a, 10000);
    ASSERT_NOT_NULL(big);
    ASSERT_EQ(((uintptr_t)big) % 16, 0);
    int three = 3;
    tc_arena_on_free(a, count_cleanup, &three);
    tc_arena_free(a);
    ASSERT_EQ(cleanup_calls, 3);
}

TEST(base64_round_trips)
{
    const char *in = "any carnal pleas";
    for (size_t n = 0; n <= strlen(in); n++) {
        char *enc = tc_base64_encode(in, n);
        unsigned char *dec;
        size_t dlen;
        ASSERT_OK(tc_base64_decode(enc, strlen(enc), &dec, &dlen));
        ASSERT_EQ(dlen, n);
        ASSERT(memcmp(dec, in, n) == 0);
        free(enc);
        free(dec);
    }
    char *u = tc_base64url_encode("\xfb\xff", 2);
    ASSERT_STR_EQ(u, "-_8");
    free(u);
    unsigned char *d;
    size_t dl;
    ASSERT_STATUS(tc_base64_decode("ab!d", 4, &d, &dl), TC_BAD_REQUEST);
}

TEST(uuid_is_v4_and_unique)
{
    char a[37], b[37];
    tc_uuid(a);
    tc_uuid(b);
    ASSERT(tc_uuid_valid(a));
    ASSERT(strcmp(a, b) != 0);
    ASSERT_EQ(a[14], '4');
    ASSERT_FALSE(tc_uuid_valid("not-a-uuid"));
}

TEST(uuid7_is_time_ordered_and_valid)
{
    char prev[37] = "", cur[37];
    int64_t before = tc_now_ms();
    for (int i = 0; i < 10000; i++) {
        tc_uuid7(cur);
        ASSERT(tc_uuid_valid(cur));
        ASSERT_EQ(cur[14], '7');
        ASSERT(strchr("89ab", cur[19]) != NULL);
        ASSERT(strcmp(prev, cur) < 0); /* strictly increasing, even within one ms */
        memcpy(prev, cur, sizeof(cur));
    }
    /* The first 48 bits are the Unix time in ms (not before the loop began). */
    char hex[13];
    memcpy(hex, cur, 8);
    memcpy(hex + 8, cur + 9, 4);
    hex[12] = 0;
    ASSERT(strtoll(hex, NULL, 16) >= before);
}

TEST(time_format_and_parse)
{
    char out[32];
    tc_time_format(1764353696123, out);
    ASSERT_STR_EQ(out, "2025-11-28T18:14:56.123Z");
    int64_t ms;
    ASSERT_OK(tc_time_parse("2025-11-28T18:14:56.123Z", &ms));
    ASSERT_EQ(ms, 1764353696123);
    ASSERT_OK(tc_time_parse("2025-11-28T19:14:56+01:00", &ms));
    ASSERT_EQ(ms, 1764353696000);
    ASSERT_STATUS(tc_time_parse("2025-02-30T00:00:00Z", &ms), TC_BAD_REQUEST);
    ASSERT_STATUS(tc_time_parse("yesterday", &ms), TC_BAD_REQUEST);
}

TEST(utf8_validation)
{
    ASSERT(tc_utf8_valid("h\xc3\xa9llo", 6));
    ASSERT(tc_utf8_valid("\xf0\x9f\x98\x80", 4));
    ASSERT_FALSE(tc_utf8_valid("\xc0\xaf", 2));         /* overlong */
    ASSERT_FALSE(tc_utf8_valid("\xed\xa0\x80", 3));     /* surrogate */
    ASSERT_FALSE(tc_utf8_valid("\xe2\x82", 2));         /* truncated */
}

#include <stdatomic.h>
static atomic_int pool_sum;
static void add_task(void *arg)
{
    atomic_fetch_add(&pool_sum, (int)(intptr_t)arg);
}

TEST(pool_runs_every_task_before_free_returns)
{
    tc_pool *p = tc_pool_new(3, 0);
    for (int i = 1; i <= 1000; i++)
        ASSERT_OK(tc_pool_submit(p, add_task, (void *)(intptr_t)i));
    tc_pool_free(p);
    ASSERT_EQ(atomic_load(&pool_sum), 500500);
}

TEST(pool_queue_is_bounded)
{
    tc_pool *p = tc_pool_new(1, 1);
    int accepted = 0, refused = 0;
    for (int i = 0; i < 100; i++)
        tc_pool_submit(p, add_task, (void *)(intptr_t)1) == TC_OK ? accepted++ : refused++;
    ASSERT(refused > 0);
    ASSERT(accepted >= 1);
    tc_pool_free(p);
}
