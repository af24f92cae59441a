#include <stdlib.h>
#include <string.h>

#include "runner.h"
#include "webhooks/webhooks.h"

/* 2026-11-28T18:00:00.000Z */
#define TS_MS 1795888800000LL

static json_t *sample(void)
{
    json_error_t je;
    json_t *data = json_loads("{\"job\":{\"id\":\"j-1\",\"tool\":\"create_issue\",\"duration_ms\":42,"
                              "\"ok\":true,\"error\":null,\"ratio\":0.5,"
                              "\"message\":\"He said \\\"hi\\\"\\n\\tand left \\\\ </script> \\u00e9\\u0001\","
                              "\"tags\":[\"a\",\"b\"],\"result\":{\"n\":1,\"s\":\"x\"}}}",
                              0, &je);
    ASSERT_NOT_NULL(data);
    json_t *env = tc_webhook_envelope("job.succeeded", TS_MS, data);
    json_decref(data);
    return env;
}

static char *render(const char *tpl, tc_err *err, tc_status *st)
{
    tc_webhook_template *t = NULL;
    *st = tc_webhook_template_compile(tpl, strlen(tpl), &t, err);
    if (*st != TC_OK)
        return NULL;
    json_t *env = sample();
    char *out = NULL;
    size_t len = 0;
    *st = tc_webhook_template_render(t, env, &out, &len, err);
    if (out)
        ASSERT_EQ(strlen(out), len);
    json_decref(env);
    tc_webhook_template_free(t);
    return out;
}

static void expect_render(const char *tpl, const char *want)
{
    tc_err err;
    tc_status st;
    char *out = render(tpl, &err, &st);
    if (st != TC_OK)
        tc_test_fail(__FILE__, __LINE__, "rendering %s failed: %s", tpl, err.message);
    ASSERT_STR_EQ(out, want);
    free(out);
}

static void expect_compile_error(const char *tpl, const char *fragment)
{
    tc_webhook_template *t = NULL;
    tc_err err;
    tc_err_clear(&err);
    tc_status st = tc_webhook_template_compile(tpl, strlen(tpl), &t, &err);
    if (st != TC_VALIDATION)
        tc_test_fail(__FILE__, __LINE__, "\"%s\" compiled (status %s), expected an error containing \"%s\"",
                     tpl, tc_status_code(st), fragment);
    ASSERT_NULL(t);
    ASSERT_STR_EQ(err.field, "template");
    ASSERT_STR_CONTAINS(err.message, fragment);
}

TEST(envelope_shape)
{
    json_t *env = sample();
    ASSERT_STR_EQ(json_string_value(json_object_get(env, "type")), "job.succeeded");
    ASSERT_STR_EQ(json_string_value(json_object_get(env, "timestamp")), "2026-11-28T18:00:00.000Z");
    ASSERT(json_is_object(json_object_get(env, "data")));
    char *body;
    size_t len;
    ASSERT_OK(tc_webhook_payload(NULL, env, &body, &len, NULL));
    ASSERT(strncmp(body, "{\"type\":\"job.succeeded\",\"timestamp\":\"2026-11-28T18:00:00.000Z\",\"data\":{", 71) == 0);
    free(body);
    json_decref(env);
    json_t *empty = tc_webhook_envelope("webhook.test", 0, NULL);
    ASSERT_OK(tc_webhook_payload(NULL, empty, &body, &len, NULL));
    ASSERT_STR_EQ(body, "{\"type\":\"webhook.test\",\"timestamp\":\"1970-01-01T00:00:00.000Z\",\"data\":{}}");
    free(body);
    json_decref(empty);
}

TEST(event_types)
{
    size_t n;
    const tc_webhook_event_type *t = tc_webhook_event_types(&n);
    ASSERT_EQ(n, 10);
    ASSERT_STR_EQ(t[0].name, "job.succeeded");
    ASSERT(tc_webhook_event_type_valid("health.recovered"));
    ASSERT(tc_webhook_event_type_valid("webhook.test"));
    ASSERT(!tc_webhook_event_type_valid("job.exploded"));
    ASSERT(!tc_webhook_event_type_valid(NULL));
}

TEST(values_outside_strings_are_json)
{
    expect_render("{\"id\": {{data.job.id}}, \"n\": {{data.job.duration_ms}}, \"ok\": {{data.job.ok}}}",
                  "{\"id\": \"j-1\", \"n\": 42, \"ok\": true}");
    expect_render("[{{data.job.tags}}, {{data.job.result}}, {{data.job.error}}, {{data.job.ratio}}]",
                  "[[\"a\",\"b\"], {\"n\":1,\"s\":\"x\"}, null, 0.5]");
    expect_render("{{data}}", "{\"job\":{\"id\":\"j-1\",\"tool\":\"create_issue\",\"duration_ms\":42,\"ok\":true,"
                              "\"error\":null,\"ratio\":0.5,\"message\":\"He said \\\"hi\\\"\\n\\tand left \\\\ "
                              "</script> \xc3\xa9\\u0001\",\"tags\":[\"a\",\"b\"],\"result\":{\"n\":1,\"s\":\"x\"}}}");
    expect_render("{\"t\": {{ type }}, \"at\": {{timestamp}}}",
                  "{\"t\": \"job.succeeded\", \"at\": \"2026-11-28T18:00:00.000Z\"}");
}

TEST(values_inside_strings_are_escaped_content)
{
    expect_render("{\"text\": \"Job {{data.job.id}} ran {{data.job.tool}} in {{data.job.duration_ms}} ms\"}",
                  "{\"text\": \"Job j-1 ran create_issue in 42 ms\"}");
    expect_render("{\"m\": \"<{{data.job.message}}>\"}",
                  "{\"m\": \"<He said \\\"hi\\\"\\n\\tand left \\\\ </script> \xc3\xa9\\u0001>\"}");
    /* non-strings inside a string: their JSON text, escaped */
    expect_render("{\"r\": \"{{data.job.result}}|{{data.job.ok}}|{{data.job.error}}|{{data.job.tags}}\"}",
                  "{\"r\": \"{\\\"n\\\":1,\\\"s\\\":\\\"x\\\"}|true|null|[\\\"a\\\",\\\"b\\\"]\"}");
    /* placeholders as object keys (all empty when checked at compile time) */
    expect_render("{\"{{data.job.id}}\": 1}", "{\"j-1\": 1}");
    expect_render("{\"{{data.job.id}}\": 1, \"{{data.job.tool}}\": 2}", "{\"j-1\": 1, \"create_issue\": 2}");
    /* escaped quotes in the literal do not confuse the string tracking */
    expect_render("{\"a\": \"say \\\"{{data.job.id}}\\\"\", \"b\": {{data.job.id}}}",
                  "{\"a\": \"say \\\"j-1\\\"\", \"b\": \"j-1\"}");
}

TEST(missing_paths_and_arrays)
{
    expect_render("{\"x\": {{data.nope.deeper}}, \"y\": \"[{{data.nope}}]\"}", "{\"x\": null, \"y\": \"[]\"}");
    expect_render("[{{data.job.tags.1}}, {{data.job.tags.2}}, {{data.job.id.0}}]", "[\"b\", null, null]");
}

TEST(rendered_output_always_parses)
{
    const char *tpls[] = {
        "{\"m\": {{data.job.message}}, \"s\": \"{{data.job.message}}\", \"k\": {\"{{data.job.message}}\": 0}}",
        "\"{{data.job.result}}\"",
        "{{data.job.ratio}}",
    };
    for (size_t i = 0; i < sizeof(tpls) / sizeof(tpls[0]); i++) {
        tc_err err;
        tc_status st;
        char *out = render(tpls[i], &err, &st);
        ASSERT_OK(st);
        json_error_t je;
        json_t *doc = json_loads(out, JSON_DECODE_ANY, &je);
        ASSERT_NOT_NULL(doc);
        json_decref(doc);
        free(out);
    }
    /* the string round-trips exactly */
    tc_err err;
    tc_status st;
    char *out = render("{\"m\": \"{{data.job.message}}\"}", &err, &st);
    json_error_t je;
    json_t *doc = json_loads(out, 0, &je);
    ASSERT_STR_EQ(json_string_value(json_object_get(doc, "m")), "He said \"hi\"\n\tand left \\ </script> \xc3\xa9\x01");
    json_decref(doc);
    free(out);
}

TEST(compile_errors_are_clear)
{
    expect_compile_error("{\"a\": {{data.x}", "unclosed placeholder");
    expect_compile_error("{\"a\": {{data.x", "line 1, column 7");
    expect_compile_error("{\"a\": {{}}}", "empty placeholder");
    expect_compile_error("{\"a\": {{   }}}", "empty placeholder");
    expect_compile_error("{\"a\": {{data..x}}}", "empty segment");
    expect_compile_error("{\"a\": {{.data}}}", "empty segment");
    expect_compile_error("{\"a\": {{data.}}}", "empty segment");
    expect_compile_error("{\"a\": {{data[0]}}}", "bad character '['");
    expect_compile_error("{\"a\": {{data x}}}", "bad character ' '");
    expect_compile_error("{\"a\": {{da\nta}}}", "bad character 0x0a");
    expect_compile_error("{\"a\":\n  {{data.x}} {{data.y}}}", "line 2, column 14");
    expect_compile_error("{\"a\": 1,}", "not valid JSON");
    expect_compile_error("{{data.key}}: 1", "not valid JSON");
    expect_compile_error("{ {{data.key}}: 1}", "not valid JSON");
    expect_compile_error("{\"a\": \"\\{{data.x}}\"}", "backslash");
    expect_compile_error("", "not valid JSON");
    expect_compile_error("{\"a\": \"unterminated}", "not valid JSON");
}

TEST(compile_limits)
{
    /* size */
    size_t n = TC_WH_TPL_MAX + 1;
    char *big = tc_malloc(n + 1);
    memset(big, ' ', n);
    big[0] = '1';
    big[n] = '\0';
    expect_compile_error(big, "limit is 16384");
    free(big);
    /* placeholders */
    tc_buf b;
    tc_buf_init(&b, 1 << 20);
    tc_buf_puts(&b, "[");
    for (int i = 0; i < TC_WH_TPL_PLACEHOLDERS_MAX + 1; i++)
        tc_buf_printf(&b, "%s{{type}}", i ? "," : "");
    tc_buf_puts(&b, "]");
    expect_compile_error(b.data, "more than 64 placeholders");
    /* exactly at the limit is fine */
    tc_buf_reset(&b);
    tc_buf_puts(&b, "[");
    for (int i = 0; i < TC_WH_TPL_PLACEHOLDERS_MAX; i++)
        tc_buf_printf(&b, "%s{{type}}", i ? "," : "");
    tc_buf_puts(&b, "]");
    tc_webhook_template *t;
    ASSERT_OK(tc_webhook_template_compile(b.data, b.len, &t, NULL));
    ASSERT_EQ(tc_webhook_template_placeholders(t), 64);
    tc_webhook_template_free(t);
    /* path length and depth */
    tc_buf_reset(&b);
    tc_buf_puts(&b, "{{");
    for (int i = 0; i < 130; i++)
        tc_buf_puts(&b, "a");
    tc_buf_puts(&b, "}}");
    expect_compile_error(b.data, "longer than 128");
    expect_compile_error("{{a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p.q}}", "deeper than 16");
    tc_buf_free(&b);
    /* NUL bytes and invalid UTF-8 */
    tc_err err;
    ASSERT_STATUS(tc_webhook_template_compile("{\"a\":1}\0", 8, &t, &err), TC_VALIDATION);
    ASSERT_STATUS(tc_webhook_template_compile("\"\xff\"", 3, &t, &err), TC_VALIDATION);
    ASSERT_STR_CONTAINS(err.message, "UTF-8");
}

TEST(render_output_is_bounded)
{
    tc_webhook_template *t;
    const char *tpl = "[{{data.big}},{{data.big}}]";
    ASSERT_OK(tc_webhook_template_compile(tpl, strlen(tpl), &t, NULL));
    size_t n = TC_WH_RENDER_MAX / 2 + 10;
    char *s = tc_malloc(n + 1);
    memset(s, 'x', n);
    s[n] = '\0';
    json_t *data = json_pack("{s:s}", "big", s);
    json_t *env = tc_webhook_envelope("job.failed", TS_MS, data);
    char *out = NULL;
    size_t len;
    tc_err err;
    ASSERT_STATUS(tc_webhook_template_render(t, env, &out, &len, &err), TC_TOO_LARGE);
    ASSERT_NULL(out);
    ASSERT_STR_CONTAINS(err.message, "exceeds");
    /* the default envelope is bounded too */
    json_object_set_new(data, "big2", json_string(s));
    ASSERT_STATUS(tc_webhook_payload(NULL, env, &out, &len, &err), TC_TOO_LARGE);
    json_decref(env);
    json_decref(data);
    free(s);
    tc_webhook_template_free(t);
}

TEST(payload_uses_template)
{
    const char *tpl = "{\"text\": \"{{type}}: {{data.job.id}}\"}";
    tc_webhook_template *t;
    ASSERT_OK(tc_webhook_template_compile(tpl, strlen(tpl), &t, NULL));
    json_t *env = sample();
    char *out;
    size_t len;
    ASSERT_OK(tc_webhook_payload(t, env, &out, &len, NULL));
    ASSERT_STR_EQ(out, "{\"text\": \"job.succeeded: j-1\"}");
    free(out);
    json_decref(env);
    tc_webhook_template_free(t);
}
