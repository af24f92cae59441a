/* Unit tests of the http module's pure parts: route matching, listen
 * parsing, the JSON limit scanner and the JSON field readers. The server
 * itself is covered by tests/blackbox/server.test.mjs. */
#include <stddef.h>

#include "http/http.h"
#include "runner.h"

TEST(route_match_literal)
{
    ASSERT(tc_http_route_match("/healthz", "/healthz", NULL, 0, NULL));
    ASSERT(!tc_http_route_match("/healthz", "/healthz/", NULL, 0, NULL));
    ASSERT(!tc_http_route_match("/healthz", "/health", NULL, 0, NULL));
    ASSERT(!tc_http_route_match("/healthz", "/healthzz", NULL, 0, NULL));
    ASSERT(!tc_http_route_match("/api/me", "/api", NULL, 0, NULL));
    ASSERT(!tc_http_route_match("/api", "/api/me", NULL, 0, NULL));
    ASSERT(tc_http_route_match("/", "/", NULL, 0, NULL));
    ASSERT(!tc_http_route_match("/", "/x", NULL, 0, NULL));
    ASSERT(!tc_http_route_match("/x", "", NULL, 0, NULL));
}

TEST(route_match_params)
{
    tc_http_param_kv p[4];
    int n = -1;
    ASSERT(tc_http_route_match("/api/connectors/{slug}/tools/{tool}/execute",
                               "/api/connectors/github/tools/create_issue/execute", p, 4, &n));
    ASSERT_EQ(n, 2);
    ASSERT(tc_slice_eq(p[0].name, "slug"));
    ASSERT(tc_slice_eq(p[0].value, "github"));
    ASSERT(tc_slice_eq(p[1].name, "tool"));
    ASSERT(tc_slice_eq(p[1].value, "create_issue"));
}

TEST(route_param_needs_a_non_empty_segment)
{
    ASSERT(!tc_http_route_match("/api/sessions/{id}", "/api/sessions/", NULL, 0, NULL));
    ASSERT(!tc_http_route_match("/api/sessions/{id}", "/api/sessions", NULL, 0, NULL));
    ASSERT(!tc_http_route_match("/api/sessions/{id}", "/api/sessions/a/b", NULL, 0, NULL));
    ASSERT(!tc_http_route_match("/api/sessions/{id}", "/api/sessions/a/", NULL, 0, NULL));
    ASSERT(!tc_http_route_match("/api/{x}/b", "/api//b", NULL, 0, NULL));
}

TEST(route_params_beyond_capacity_still_match)
{
    tc_http_param_kv p[1];
    int n = 0;
    ASSERT(tc_http_route_match("/{a}/{b}", "/x/y", p, 1, &n));
    ASSERT_EQ(n, 1);
    ASSERT(tc_slice_eq(p[0].value, "x"));
}

TEST(listen_parse)
{
    char host[64];
    int port = -1;
    tc_err err;
    ASSERT_OK(tc_http_parse_listen("127.0.0.1:8080", host, sizeof(host), &port, &err));
    ASSERT_STR_EQ(host, "127.0.0.1");
    ASSERT_EQ(port, 8080);
    ASSERT_OK(tc_http_parse_listen("[::1]:0", host, sizeof(host), &port, &err));
    ASSERT_STR_EQ(host, "::1");
    ASSERT_EQ(port, 0);
    ASSERT_OK(tc_http_parse_listen(":9000", host, sizeof(host), &port, &err));
    ASSERT_STR_EQ(host, "");
    ASSERT_EQ(port, 9000);
}

TEST(listen_parse_errors_name_the_setting)
{
    char host[8];
    int port;
    tc_err err;
    ASSERT_STATUS(tc_http_parse_listen("localhost", host, sizeof(host), &port, &err), TC_BAD_REQUEST);
    ASSERT_STR_EQ(err.field, "TC_LISTEN");
    ASSERT_STATUS(tc_http_parse_listen("a:70000", host, sizeof(host), &port, &err), TC_BAD_REQUEST);
    ASSERT_STATUS(tc_http_parse_listen("a:12x", host, sizeof(host), &port, &err), TC_BAD_REQUEST);
    ASSERT_STATUS(tc_http_parse_listen("a:", host, sizeof(host), &port, &err), TC_BAD_REQUEST);
    ASSERT_STATUS(tc_http_parse_listen("[::1]8080", host, sizeof(host), &port, &err), TC_BAD_REQUEST);
    ASSERT_STATUS(tc_http_parse_listen("a-very-long-host-name:1", host, sizeof(host), &port, &err),
                  TC_BAD_REQUEST);
    ASSERT_STATUS(tc_http_parse_listen("", host, sizeof(host), &port, &err), TC_BAD_REQUEST);
}

TEST(json_depth_check)
{
    ASSERT_EQ(tc_http_json_depth_check("[[[]]]", 6, 3), -1);
    ASSERT_EQ(tc_http_json_depth_check("[[[[]]]]", 8, 3), 3);
    /* brackets inside strings do not count, escaped quotes do not end them */
    const char *s = "{\"a\":\"[[[[\\\"[[[[\"}";
    ASSERT_EQ(tc_http_json_depth_check(s, strlen(s), 1), -1);
    ASSERT_EQ(tc_http_json_depth_check("{\"a\":{\"b\":1}}", 13, 1), 5);
}

static json_t *parse(const char *s)
{
    json_error_t je;
    json_t *j = json_loads(s, 0, &je);
    ASSERT_NOT_NULL(j);
    return j;
}

TEST(json_readers_name_the_field)
{
    json_t *o = parse("{\"email\":\"a@b.c\",\"n\":7,\"ok\":true,\"bad\":\"x\",\"empty\":\"\",\"nul\":null}");
    tc_err err;
    const char *s = NULL;
    ASSERT_OK(tc_json_str(o, "email", true, 254, &s, &err));
    ASSERT_STR_EQ(s, "a@b.c");
    ASSERT_STATUS(tc_json_str(o, "email", true, 3, &s, &err), TC_VALIDATION);
    ASSERT_STR_EQ(err.field, "email");
    ASSERT_STR_CONTAINS(err.message, "at most 3");
    ASSERT_STATUS(tc_json_str(o, "missing", true, 10, &s, &err), TC_VALIDATION);
    ASSERT_STR_CONTAINS(err.message, "missing is required");
    ASSERT_STATUS(tc_json_str(o, "empty", true, 10, &s, &err), TC_VALIDATION);
    ASSERT_STATUS(tc_json_str(o, "nul", true, 10, &s, &err), TC_VALIDATION);
    s = "keep";
    ASSERT_OK(tc_json_str(o, "nul", false, 10, &s, &err));
    ASSERT_STR_EQ(s, "keep");
    ASSERT_STATUS(tc_json_str(o, "n", true, 10, &s, &err), TC_VALIDATION);
    ASSERT_STR_CONTAINS(err.message, "n must be a string, not an integer");

    int64_t n = 0;
    ASSERT_OK(tc_json_int(o, "n", true, 0, 10, &n, &err));
    ASSERT_EQ(n, 7);
    ASSERT_STATUS(tc_json_int(o, "n", true, 8, 10, &n, &err), TC_VALIDATION);
    ASSERT_STR_EQ(err.field, "n");
    ASSERT_STATUS(tc_json_int(o, "bad", true, 0, 10, &n, &err), TC_VALIDATION);

    bool b = false;
    ASSERT_OK(tc_json_bool(o, "ok", true, &b, &err));
    ASSERT(b);
    ASSERT_STATUS(tc_json_bool(o, "n", false, &b, &err), TC_VALIDATION);

    json_t *arr = NULL;
    ASSERT_OK(tc_json_arr(o, "absent", false, &arr, &err));
    ASSERT_NULL(arr);
    ASSERT_STATUS(tc_json_obj(o, "n", true, &arr, &err), TC_VALIDATION);
    json_decref(o);
}

typedef struct {
    const char *name;
    int64_t limit;
    bool on;
    json_t *tags;
} rec;

TEST(json_read_table)
{
    static const tc_json_field f[] = {
        {"name", TC_JF_STR, true, 0, 10, offsetof(rec, name)},
        {"limit", TC_JF_INT, false, 1, 100, offsetof(rec, limit)},
        {"on", TC_JF_BOOL, false, 0, 0, offsetof(rec, on)},
        {"tags", TC_JF_ARR, false, 0, 0, offsetof(rec, tags)},
    };
    tc_err err;
    rec r = {.limit = 20};
    json_t *o = parse("{\"name\":\"x\",\"on\":true,\"tags\":[1]}");
    ASSERT_OK(tc_json_read(o, f, 4, &r, &err));
    ASSERT_STR_EQ(r.name, "x");
    ASSERT_EQ(r.limit, 20);
    ASSERT(r.on);
    ASSERT(json_is_array(r.tags));
    json_decref(o);

    o = parse("{\"name\":\"x\",\"limit\":0}");
    ASSERT_STATUS(tc_json_read(o, f, 4, &r, &err), TC_VALIDATION);
    ASSERT_STR_EQ(err.field, "limit");
    json_decref(o);

    o = parse("[1]");
    ASSERT_STATUS(tc_json_read(o, f, 4, &r, &err), TC_VALIDATION);
    json_decref(o);
}

/* ---- access-log line writer (core/log.c, on every request's path) ---- */

#include <unistd.h>

/* Runs one tc_log call into a pipe and returns the line (static buffer). */
static const char *log_capture(tc_log_format fmt, const char *k, const char *v)
{
    static char out[16384];
    int fds[2];
    if (pipe(fds) != 0)
        return "";
    tc_log_setup(TC_LOG_DEBUG, fmt, fds[1]);
    tc_log(TC_LOG_INFO, "request", "status", "200", k, v, NULL);
    close(fds[1]);
    ssize_t n = read(fds[0], out, sizeof out - 1);
    close(fds[0]);
    out[n > 0 ? n : 0] = '\0';
    tc_log_setup(TC_LOG_INFO, TC_LOG_TEXT, 2);
    return out;
}

TEST(log_text_and_json_lines)
{
    const char *t = log_capture(TC_LOG_TEXT, "path", "/api/me");
    ASSERT_EQ(strlen(t), 24 + strlen(" INFO request status=200 path=/api/me\n"));
    ASSERT(t[4] == '-' && t[10] == 'T' && t[19] == '.' && t[23] == 'Z');
    ASSERT_STR_CONTAINS(t, " INFO request status=200 path=/api/me\n");
    t = log_capture(TC_LOG_TEXT, "error", "two words \"q\"");
    ASSERT_STR_CONTAINS(t, " error=\"two words \\\"q\\\"\"\n");
    t = log_capture(TC_LOG_TEXT, "user_id", "");
    ASSERT_STR_CONTAINS(t, " user_id=\"\"\n");
    t = log_capture(TC_LOG_JSON, "detail", "a\"b\\c\n\x01");
    ASSERT(!strncmp(t, "{\"ts\":\"", 7));
    ASSERT_STR_CONTAINS(t, "\",\"level\":\"info\",\"msg\":\"request\",\"status\":\"200\","
                           "\"detail\":\"a\\\"b\\\\c\\u000a\\u0001\"}\n");
}

TEST(log_long_values_are_cut_and_lines_stay_valid)
{
    static char big[20000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    /* A multi-byte character straddling the 2048-byte value limit. */
    big[2047] = (char)0xC3;
    big[2048] = (char)0xA9;
    const char *t = log_capture(TC_LOG_JSON, "detail", big);
    ASSERT(strlen(t) < 8192);
    ASSERT_STR_CONTAINS(t, "xxx...\"}\n");
    ASSERT(!strstr(t, "\xC3..."));
    /* Every value control bytes: escaped 6x, does not fit: left out. */
    memset(big, 1, sizeof big - 1);
    t = log_capture(TC_LOG_JSON, "detail", big);
    ASSERT_STR_CONTAINS(t, "\"status\":\"200\",\"log_truncated\":\"true\"}\n");
    t = log_capture(TC_LOG_TEXT, "detail", big);
    ASSERT_STR_CONTAINS(t, " status=200 log_truncated=true\n");
}
