/* exec: the REST template builder, redaction, JSON pointers, the rate
 * table and the waiters. */
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include "exec/exec_int.h"
#include "runner.h"

static json_t *J(const char *text)
{
    json_error_t e;
    json_t *v = json_loads(text, JSON_DECODE_ANY, &e);
    if (!v)
        tc_test_fail(__FILE__, __LINE__, "bad JSON in test: %s", e.text);
    return v;
}

static const char *header(const tc_rest_call *c, const char *name)
{
    size_t n = strlen(name);
    for (char **h = c->headers; h && *h; h++)
        if (!strncasecmp(*h, name, n) && (*h)[n] == ':')
            return *h + n + 2;
    return NULL;
}

static int header_count(const tc_rest_call *c, const char *name)
{
    int k = 0;
    size_t n = strlen(name);
    for (char **h = c->headers; h && *h; h++)
        k += !strncasecmp(*h, name, n) && (*h)[n] == ':';
    return k;
}

TEST(template_path_query_encoding)
{
    json_t *def = J("{\"base_url\":\"https://api.example.com/v1/\",\"headers\":{\"X-V\":\"2\"}}");
    json_t *req = J("{\"method\":\"GET\",\"path\":\"/repos/{owner}/{repo}/issues\","
                    "\"query\":{\"state\":\"{state}\",\"labels\":\"{labels}\",\"n\":\"{n}\",\"fixed\":\"a b\"}}");
    json_t *args = J("{\"owner\":\"o/x\",\"repo\":\"r p\",\"labels\":[\"a\",\"b&c\"],\"n\":5}");
    tc_rest_call c;
    tc_err err;
    ASSERT_OK(tc_exec__rest_build(def, req, args, "Authorization: Bearer K", "api_key=Q", &c, &err));
    ASSERT_STR_EQ(c.method, "GET");
    ASSERT_STR_EQ(c.url, "https://api.example.com/v1/repos/o%2Fx/r%20p/issues?labels=a&labels=b%26c&n=5&fixed=a%20b&api_key=Q");
    ASSERT_STR_EQ(header(&c, "X-V"), "2");
    ASSERT_STR_EQ(header(&c, "Authorization"), "Bearer K");
    ASSERT_NULL(c.body);
    tc_exec__rest_call_free(&c);
    json_decref(def);
    json_decref(req);
    json_decref(args);
}

TEST(template_missing_path_argument_names_it)
{
    json_t *def = J("{\"base_url\":\"https://x.test\"}");
    json_t *req = J("{\"method\":\"GET\",\"path\":\"/a/{id}\"}");
    json_t *args = J("{}");
    tc_rest_call c;
    tc_err err;
    ASSERT_STATUS(tc_exec__rest_build(def, req, args, NULL, NULL, &c, &err), TC_VALIDATION);
    ASSERT_STR_EQ(err.field, "id");
    ASSERT_STR_CONTAINS(err.message, "\"id\"");
    json_decref(def);
    json_decref(req);
    json_decref(args);
}

TEST(template_json_body_drops_absent_and_keeps_types)
{
    json_t *def = J("{\"base_url\":\"https://x.test\"}");
    json_t *req = J("{\"method\":\"POST\",\"path\":\"/t\",\"body\":{\"a\":\"{a}\",\"n\":{\"b\":\"{b}\","
                    "\"gone\":\"{nope}\"},\"list\":[\"{a}\",\"{nope}\",\"lit\"],\"k\":\"const\"}}");
    json_t *args = J("{\"a\":\"x\",\"b\":[1,{\"c\":true}]}");
    tc_rest_call c;
    tc_err err;
    ASSERT_OK(tc_exec__rest_build(def, req, args, NULL, NULL, &c, &err));
    ASSERT_STR_EQ(c.body, "{\"a\":\"x\",\"n\":{\"b\":[1,{\"c\":true}]},\"list\":[\"x\",\"lit\"],\"k\":\"const\"}");
    ASSERT_STR_EQ(header(&c, "Content-Type"), "application/json");
    tc_exec__rest_call_free(&c);
    json_decref(def);
    json_decref(req);
    json_decref(args);
}

TEST(template_star_body_excludes_path_and_query_args)
{
    json_t *def = J("{\"base_url\":\"https://x.test\"}");
    json_t *req = J("{\"method\":\"POST\",\"path\":\"/e/{id}\",\"query\":{\"q\":\"{q}\"},\"body\":\"{*}\"}");
    json_t *args = J("{\"id\":\"7\",\"q\":\"s\",\"input\":\"hello\",\"dims\":3}");
    tc_rest_call c;
    tc_err err;
    ASSERT_OK(tc_exec__rest_build(def, req, args, NULL, NULL, &c, &err));
    ASSERT_STR_EQ(c.url, "https://x.test/e/7?q=s");
    ASSERT_STR_EQ(c.body, "{\"input\":\"hello\",\"dims\":3}");
    tc_exec__rest_call_free(&c);
    json_decref(def);
    json_decref(req);
    json_decref(args);
}

TEST(template_form_nesting)
{
    json_t *def = J("{\"base_url\":\"https://x.test\"}");
    json_t *req = J("{\"method\":\"POST\",\"path\":\"/c\",\"form\":{\"email\":\"{email}\",\"meta\":\"{meta}\",\"x\":\"{nope}\"}}");
    json_t *args = J("{\"email\":\"a+b@c.d\",\"meta\":{\"k\":\"v w\",\"l\":[1,2]}}");
    tc_rest_call c;
    tc_err err;
    ASSERT_OK(tc_exec__rest_build(def, req, args, NULL, NULL, &c, &err));
    ASSERT_STR_EQ(c.body, "email=a%2Bb%40c.d&meta%5Bk%5D=v%20w&meta%5Bl%5D%5B0%5D=1&meta%5Bl%5D%5B1%5D=2");
    ASSERT_STR_EQ(header(&c, "Content-Type"), "application/x-www-form-urlencoded");
    tc_exec__rest_call_free(&c);
    json_decref(def);
    json_decref(req);
    json_decref(args);
}

TEST(template_url_method_headers_from_arguments)
{
    json_t *def = J("{\"base_url\":\"https://example.invalid\"}");
    json_t *req = J("{\"method\":\"{method}\",\"url\":\"{url}\",\"query\":\"{query}\",\"headers\":\"{headers}\",\"body\":\"{body}\"}");
    json_t *args = J("{\"method\":\"patch\",\"url\":\"https://h.test/p?x=1\",\"query\":{\"a\":\"1\"},"
                     "\"headers\":{\"X-One\":\"1\",\"authorization\":\"evil\"},\"body\":[1]}");
    tc_rest_call c;
    tc_err err;
    ASSERT_OK(tc_exec__rest_build(def, req, args, "Authorization: Bearer K", NULL, &c, &err));
    ASSERT_STR_EQ(c.method, "PATCH");
    ASSERT_STR_EQ(c.url, "https://h.test/p?x=1&a=1");
    ASSERT_STR_EQ(header(&c, "X-One"), "1");
    ASSERT_EQ(header_count(&c, "Authorization"), 1);
    ASSERT_STR_EQ(header(&c, "Authorization"), "Bearer K"); /* can't be overridden */
    ASSERT_STR_EQ(c.body, "[1]");
    tc_exec__rest_call_free(&c);
    json_decref(args);
    args = J("{\"method\":\"TRACE\",\"url\":\"https://h.test\"}");
    ASSERT_STATUS(tc_exec__rest_build(def, req, args, NULL, NULL, &c, &err), TC_VALIDATION);
    json_decref(args);
    args = J("{\"method\":\"GET\",\"url\":\"file:///etc/passwd\"}");
    ASSERT_STATUS(tc_exec__rest_build(def, req, args, NULL, NULL, &c, &err), TC_VALIDATION);
    ASSERT_STR_EQ(err.field, "url");
    json_decref(args);
    args = J("{\"method\":\"GET\",\"url\":\"https://h.test\",\"headers\":{\"X\":\"a\\r\\nInjected: 1\"}}");
    ASSERT_STATUS(tc_exec__rest_build(def, req, args, NULL, NULL, &c, &err), TC_VALIDATION);
    json_decref(def);
    json_decref(req);
    json_decref(args);
}

TEST(json_pointer)
{
    json_t *doc = J("{\"a\":{\"b/c\":[10,{\"~k\":true}]},\"\":1}");
    ASSERT(tc_exec__json_pointer(doc, "") == doc);
    ASSERT_EQ(json_integer_value(tc_exec__json_pointer(doc, "/a/b~1c/0")), 10);
    ASSERT(json_is_true(tc_exec__json_pointer(doc, "/a/b~1c/1/~0k")));
    ASSERT_NULL(tc_exec__json_pointer(doc, "/a/b~1c/2"));
    ASSERT_NULL(tc_exec__json_pointer(doc, "/a/b~1c/01"));
    ASSERT_NULL(tc_exec__json_pointer(doc, "a"));
    ASSERT_EQ(json_integer_value(tc_exec__json_pointer(doc, "/")), 1);
    json_decref(doc);
}

TEST(redaction_keys_and_credential_values)
{
    json_t *secret = J("{\"api_key\":\"sk_live_abcdef\",\"short\":\"ab\"}");
    json_t *v = J("{\"Password\":\"p1\",\"x-api-key\":\"k\",\"nested\":{\"access_token\":\"t\",\"ok\":\"see sk_live_abcdef here\"},"
                  "\"list\":[\"sk_live_abcdef\",\"ab\"],\"authorization\":{\"kept\":\"object\"},\"n\":1}");
    json_t *r = tc_exec__redact(v, secret);
    char *text = json_dumps(r, JSON_COMPACT | JSON_SORT_KEYS);
    ASSERT_STR_EQ(text, "{\"Password\":\"[REDACTED]\",\"authorization\":{\"kept\":\"object\"},"
                        "\"list\":[\"[REDACTED]\",\"ab\"],\"n\":1,\"nested\":{\"access_token\":\"[REDACTED]\","
                        "\"ok\":\"see [REDACTED] here\"},\"x-api-key\":\"[REDACTED]\"}");
    free(text);
    json_t *s = tc_exec__scrub(v, secret);
    ASSERT_STR_EQ(json_string_value(json_object_get(s, "Password")), "p1"); /* scrub: values only */
    ASSERT_STR_EQ(json_string_value(json_array_get(json_object_get(s, "list"), 0)), "[REDACTED]");
    char ex[] = "body: sk_live_abcdef!";
    tc_exec__blot(ex, secret);
    ASSERT_STR_EQ(ex, "body: **************!");
    json_t *args = J("{\"password\":\"hunter2\",\"x\":{\"token\":\"tttt\"}}");
    json_t *hide = tc_exec__hide_set(secret, args);
    ASSERT_EQ(json_object_size(hide), 4);
    json_decref(hide);
    json_decref(args);
    json_decref(r);
    json_decref(s);
    json_decref(v);
    json_decref(secret);
}

TEST(capped_dump)
{
    json_t *small = J("{\"a\":1}");
    char *t = tc_exec__capped_dump(small, 100);
    ASSERT_STR_EQ(t, "{\"a\":1}");
    free(t);
    char big[20000];
    memset(big, '"', sizeof(big) - 1); /* escaping doubles its size */
    big[sizeof(big) - 1] = '\0';
    json_t *b = json_pack("{s:s}", "x", big);
    t = tc_exec__capped_dump(b, 8192);
    ASSERT(strlen(t) <= 8192);
    json_t *back = J(t);
    ASSERT(json_is_true(json_object_get(back, "truncated")));
    ASSERT(json_integer_value(json_object_get(back, "size")) > 20000);
    free(t);
    json_decref(back);
    json_decref(b);
    json_decref(small);
}

TEST(rate_sliding_window)
{
    tc_rate_table *t = tc_rate_table_new();
    tc_exec_rate info;
    int64_t now = 1000000;
    for (int i = 0; i < 3; i++)
        ASSERT_OK(tc_rate_admit2(t, "u:1", 3, "c:x", 10, now + i * 1000, &info));
    ASSERT_EQ(info.remaining, 0);
    ASSERT_STATUS(tc_rate_admit2(t, "u:1", 3, "c:x", 10, now + 5000, &info), TC_RATE_LIMITED);
    ASSERT_STR_EQ(info.scope, "user");
    ASSERT_EQ(info.retry_after_s, 55); /* the first call leaves the window at now+60 s */
    ASSERT_OK(tc_rate_admit2(t, "u:2", 3, "c:x", 10, now + 5000, &info)); /* other user */
    /* The refused call took nothing from the connector window: 4 used. */
    ASSERT_OK(tc_rate_admit2(t, "u:1", 3, "c:x", 10, now + 60000, &info)); /* first expired */
    ASSERT_STATUS(tc_rate_admit2(t, "u:1", 3, "c:x", 10, now + 60500, &info), TC_RATE_LIMITED);
    for (int i = 0; i < 5; i++)
        ASSERT_OK(tc_rate_admit2(t, NULL, 0, "c:y", 5, now, &info));
    ASSERT_STATUS(tc_rate_admit2(t, "u:9", 100, "c:y", 5, now, &info), TC_RATE_LIMITED);
    ASSERT_STR_EQ(info.scope, "connector");
    ASSERT_EQ(info.limit, 5);
    tc_rate_table_free(t);
}

typedef struct race {
    tc_rate_table *t;
    atomic_int ok;
} race;

static void *hammer(void *arg)
{
    race *r = arg;
    tc_exec_rate info;
    for (int i = 0; i < 50; i++)
        if (tc_rate_admit2(r->t, "u:same", 30, "c:c", 100, 5000, &info) == TC_OK)
            atomic_fetch_add(&r->ok, 1);
    return NULL;
}

TEST(rate_exact_under_threads)
{
    race r = {.t = tc_rate_table_new()};
    atomic_init(&r.ok, 0);
    pthread_t th[8];
    for (int i = 0; i < 8; i++)
        pthread_create(&th[i], NULL, hammer, &r);
    for (int i = 0; i < 8; i++)
        pthread_join(th[i], NULL);
    ASSERT_EQ(atomic_load(&r.ok), 30);
    tc_rate_table_free(r.t);
}

typedef struct fired {
    atomic_int n;
    atomic_int with_row;
    char last[37];
} fired;

static void on_fire(void *ctx, const char *job_id, const json_t *job)
{
    fired *f = ctx;
    snprintf(f->last, sizeof(f->last), "%s", job_id);
    if (job)
        atomic_fetch_add(&f->with_row, 1);
    atomic_fetch_add(&f->n, 1);
}

TEST(waiters_fire_once_on_done_or_deadline)
{
    tc_waiters *w = tc_waiters_new();
    fired f = {0};
    tc_exec_wait a = {.fn = on_fire, .ctx = &f, .wait_ms = 5000};
    tc_exec_wait b = {.fn = on_fire, .ctx = &f, .wait_ms = 30};
    tc_waiters_add(w, "job-a", &a);
    tc_waiters_add(w, "job-b", &b);
    tc_waiters_add(w, "job-c", &a);
    ASSERT_EQ(tc_waiters_count(w), 3);
    json_t *row = json_pack("{s:s}", "status", "succeeded");
    tc_waiters_done(w, "job-a", row);
    ASSERT_EQ(atomic_load(&f.with_row), 1);
    tc_waiters_done(w, "job-a", row); /* again: nothing */
    ASSERT_EQ(atomic_load(&f.n), 1);
    for (int i = 0; i < 200 && atomic_load(&f.n) < 2; i++) {
        struct timespec ts = {0, 5000000};
        nanosleep(&ts, NULL);
    }
    ASSERT_EQ(atomic_load(&f.n), 2);
    ASSERT_STR_EQ(f.last, "job-b");
    tc_waiters_drop(w, "job-c");
    ASSERT_EQ(tc_waiters_count(w), 0);
    tc_waiters_add(w, "job-d", &a);
    tc_waiters_free(w); /* fires job-d with NULL */
    ASSERT_EQ(atomic_load(&f.n), 3);
    ASSERT_EQ(atomic_load(&f.with_row), 1);
    json_decref(row);
}

TEST(executor_table)
{
    ASSERT_NOT_NULL(tc_executor_find("rest"));
    ASSERT_STR_EQ(tc_executor_find("rest")->name, "rest");
    ASSERT_NULL(tc_executor_find("carrier-pigeon"));
    ASSERT_NULL(tc_executor_find(NULL));
}
