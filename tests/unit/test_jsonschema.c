#include <pthread.h>
#include <time.h>

#include "jsonschema/jsonschema.h"
#include "runner.h"

static json_t *J(const char *text)
{
    json_error_t je;
    json_t *v = json_loads(text, JSON_DECODE_ANY, &je);
    if (!v)
        tc_test_fail(__FILE__, __LINE__, "bad JSON in test: %s: %s", text, je.text);
    return v;
}

static tc_jsonschema *compile_opts(const char *schema, const tc_jsonschema_opts *o)
{
    tc_err err;
    tc_err_clear(&err);
    json_t *s = J(schema);
    tc_jsonschema *c = tc_jsonschema_compile(s, o, &err);
    json_decref(s);
    if (!c)
        tc_test_fail(__FILE__, __LINE__, "compile failed: %s", err.message);
    return c;
}

static tc_jsonschema *compile(const char *schema)
{
    return compile_opts(schema, NULL);
}

/* Validates and returns the errors array (NULL when valid); caller decrefs. */
static json_t *check(const tc_jsonschema *s, const char *instance, tc_status *st)
{
    json_t *inst = J(instance), *errors = NULL;
    tc_status got = tc_jsonschema_validate(s, inst, &errors);
    if (st)
        *st = got;
    /* the fast path must agree with the full one */
    tc_status fast = tc_jsonschema_validate(s, inst, NULL);
    if ((fast == TC_OK) != (got == TC_OK))
        tc_test_fail(__FILE__, __LINE__, "fast and full validation disagree on %s", instance);
    json_decref(inst);
    return errors;
}

static const char *err_field(const json_t *errors, size_t i, const char *field)
{
    return json_string_value(json_object_get(json_array_get(errors, i), field));
}

static bool valid(const tc_jsonschema *s, const char *instance)
{
    tc_status st;
    json_t *e = check(s, instance, &st);
    json_decref(e);
    return st == TC_OK;
}

TEST(messages_read_well)
{
    tc_jsonschema *s = compile("{\"type\":\"object\",\"required\":[\"name\",\"age\"],"
                               "\"properties\":{\"name\":{\"type\":\"string\",\"pattern\":\"^[a-z]+$\"},"
                               "\"age\":{\"type\":\"integer\"}}}");
    tc_status st;
    json_t *e = check(s, "{\"name\":\"Bob\",\"age\":1.5}", &st);
    ASSERT_STATUS(st, TC_VALIDATION);
    ASSERT_EQ(json_array_size(e), 2);
    ASSERT_STR_EQ(err_field(e, 0, "path"), "/name");
    ASSERT_STR_EQ(err_field(e, 0, "message"), "must match pattern ^[a-z]+$");
    ASSERT_STR_EQ(err_field(e, 0, "keyword"), "pattern");
    ASSERT_STR_EQ(err_field(e, 0, "schema_path"), "/properties/name/pattern");
    ASSERT_STR_EQ(err_field(e, 1, "path"), "/age");
    ASSERT_STR_EQ(err_field(e, 1, "message"), "must be an integer");
    json_decref(e);
    e = check(s, "{\"name\":\"bob\"}", &st);
    ASSERT_EQ(json_array_size(e), 1);
    ASSERT_STR_EQ(err_field(e, 0, "path"), "/age");
    ASSERT_STR_EQ(err_field(e, 0, "message"), "is required");
    ASSERT_STR_EQ(err_field(e, 0, "keyword"), "required");
    json_decref(e);
    ASSERT_NULL(check(s, "{\"name\":\"bob\",\"age\":3}", &st));
    ASSERT_OK(st);
    tc_jsonschema_free(s);
}

TEST(type_lists_enum_const_and_bounds_messages)
{
    tc_jsonschema *s = compile("{\"properties\":{"
                               "\"a\":{\"type\":[\"string\",\"null\"]},"
                               "\"b\":{\"enum\":[\"red\",\"green\",1]},"
                               "\"c\":{\"minimum\":1,\"exclusiveMaximum\":10,\"multipleOf\":0.5},"
                               "\"d\":{\"minLength\":2,\"maxItems\":1},"
                               "\"e\":{\"const\":{\"k\":true}}}}");
    tc_status st;
    json_t *e = check(s, "{\"a\":1,\"b\":\"blue\",\"c\":10,\"d\":\"x\",\"e\":{\"k\":false}}", &st);
    ASSERT_EQ(json_array_size(e), 5);
    ASSERT_STR_EQ(err_field(e, 0, "message"), "must be a string or null");
    ASSERT_STR_EQ(err_field(e, 1, "message"), "must be one of: \"red\", \"green\", 1");
    ASSERT_STR_EQ(err_field(e, 2, "message"), "must be < 10");
    ASSERT_STR_EQ(err_field(e, 3, "message"), "must be at least 2 characters long");
    ASSERT_STR_EQ(err_field(e, 4, "message"), "must be equal to {\"k\":true}");
    json_decref(e);
    e = check(s, "{\"c\":0.7}", &st);
    ASSERT_EQ(json_array_size(e), 2);
    ASSERT_STR_EQ(err_field(e, 0, "message"), "must be >= 1");
    ASSERT_STR_EQ(err_field(e, 1, "message"), "must be a multiple of 0.5");
    json_decref(e);
    tc_jsonschema_free(s);
}

TEST(error_paths_are_json_pointers)
{
    tc_jsonschema *s = compile("{\"properties\":{\"a/b~c\":{\"type\":\"array\",\"items\":{"
                               "\"type\":\"object\",\"properties\":{\"n\":{\"type\":\"number\"}},"
                               "\"additionalProperties\":false}}}}");
    tc_status st;
    json_t *e = check(s, "{\"a/b~c\":[{\"n\":1},{\"n\":\"x\",\"zz\":0}]}", &st);
    ASSERT_EQ(json_array_size(e), 2);
    ASSERT_STR_EQ(err_field(e, 0, "path"), "/a~1b~0c/1/n");
    ASSERT_STR_EQ(err_field(e, 0, "schema_path"), "/properties/a~1b~0c/items/properties/n/type");
    ASSERT_STR_EQ(err_field(e, 1, "path"), "/a~1b~0c/1/zz");
    ASSERT_STR_EQ(err_field(e, 1, "message"), "is not an allowed property");
    json_decref(e);
    tc_jsonschema_free(s);
}

TEST(refs_recursion_and_anchors)
{
    tc_jsonschema *s = compile("{\"$defs\":{\"node\":{\"$anchor\":\"n\",\"type\":\"object\","
                               "\"properties\":{\"v\":{\"type\":\"integer\"},"
                               "\"kids\":{\"type\":\"array\",\"items\":{\"$ref\":\"#n\"}}}}},"
                               "\"$ref\":\"#/$defs/node\"}");
    ASSERT(valid(s, "{\"v\":1,\"kids\":[{\"v\":2,\"kids\":[{\"v\":3}]}]}"));
    tc_status st;
    json_t *e = check(s, "{\"v\":1,\"kids\":[{\"v\":2,\"kids\":[{\"v\":\"x\"}]}]}", &st);
    ASSERT_STR_EQ(err_field(e, 0, "path"), "/kids/0/kids/0/v");
    ASSERT_STR_EQ(err_field(e, 0, "schema_path"), "/$defs/node/properties/v/type");
    json_decref(e);
    tc_jsonschema_free(s);
}

TEST(bad_schemas_name_the_field)
{
    static const struct {
        const char *schema, *field, *msg;
    } cases[] = {
        {"{\"type\":\"text\"}", "/type", "type must be one of"},
        {"{\"properties\":{\"a\":{\"minLength\":-1}}}", "/properties/a/minLength", "non-negative"},
        {"{\"pattern\":\"(\"}", "/pattern", "invalid regular expression"},
        {"{\"items\":{\"$ref\":\"#/$defs/missing\"}}", "/items/$ref", "cannot resolve"},
        {"{\"multipleOf\":0}", "/multipleOf", "greater than 0"},
        {"[1]", "/", "object or a boolean"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tc_err err;
        tc_err_clear(&err);
        json_t *j = J(cases[i].schema);
        ASSERT_NULL(tc_jsonschema_compile(j, NULL, &err));
        json_decref(j);
        ASSERT_STATUS(err.status, TC_BAD_REQUEST);
        ASSERT_STR_EQ(err.field, cases[i].field);
        ASSERT_STR_CONTAINS(err.message, cases[i].msg);
    }
}

TEST(remote_refs_are_refused_with_their_own_code)
{
    tc_err err;
    tc_err_clear(&err);
    json_t *j = J("{\"$ref\":\"https://example.com/other.json\"}");
    ASSERT_NULL(tc_jsonschema_compile(j, NULL, &err));
    json_decref(j);
    ASSERT_STR_EQ(tc_err_code(&err), "schema_remote_ref");
    ASSERT_STR_CONTAINS(err.message, "remote refs are not supported");
}

TEST(multiple_of_is_exact)
{
    tc_jsonschema *s = compile("{\"multipleOf\":0.01}");
    ASSERT(valid(s, "19.99"));
    ASSERT(valid(s, "0.07"));
    ASSERT(valid(s, "1e300"));
    ASSERT_FALSE(valid(s, "19.991"));
    tc_jsonschema_free(s);
    s = compile("{\"multipleOf\":0.1}");
    ASSERT(valid(s, "0.3"));
    tc_jsonschema_free(s);
    s = compile("{\"multipleOf\":3}");
    ASSERT(valid(s, "9007199254740993")); /* 2^53+1, not representable as a double */
    ASSERT_FALSE(valid(s, "9007199254740992"));
    ASSERT(valid(s, "-9223372036854775806"));
    tc_jsonschema_free(s);
    s = compile("{\"type\":\"integer\",\"multipleOf\":0.5}");
    ASSERT(valid(s, "1e308"));
    tc_jsonschema_free(s);
    s = compile("{\"maximum\":9007199254740992}");
    ASSERT_FALSE(valid(s, "9007199254740993")); /* compared as integers, not doubles */
    ASSERT(valid(s, "9007199254740992.0"));
    tc_jsonschema_free(s);
}

TEST(lengths_count_code_points_and_equality_is_numeric)
{
    tc_jsonschema *s = compile("{\"maxLength\":2,\"minLength\":2}");
    ASSERT(valid(s, "\"\u65e5\u672c\""));
    ASSERT(valid(s, "\"\xf0\x9f\x98\x80x\"")); /* emoji = 1 code point */
    ASSERT_FALSE(valid(s, "\"abc\""));
    tc_jsonschema_free(s);
    s = compile("{\"uniqueItems\":true}");
    ASSERT_FALSE(valid(s, "[1, {\"a\":[1.0]}, 2, {\"a\":[1]}]"));
    ASSERT(valid(s, "[1, true, \"1\", [1], {\"1\":1}]"));
    tc_jsonschema_free(s);
    s = compile("{\"enum\":[1.0, {\"b\":2,\"a\":1}]}");
    ASSERT(valid(s, "1"));
    ASSERT(valid(s, "{\"a\":1,\"b\":2}"));
    ASSERT_FALSE(valid(s, "true"));
    tc_jsonschema_free(s);
}

TEST(applicators_and_unevaluated)
{
    tc_jsonschema *s = compile("{\"type\":\"object\",\"properties\":{\"kind\":{\"enum\":[\"a\",\"b\"]}},"
                               "\"if\":{\"properties\":{\"kind\":{\"const\":\"a\"}}},"
                               "\"then\":{\"properties\":{\"x\":{\"type\":\"string\"}},\"required\":[\"x\"]},"
                               "\"else\":{\"properties\":{\"y\":{\"type\":\"number\"}}},"
                               "\"unevaluatedProperties\":false}");
    ASSERT(valid(s, "{\"kind\":\"a\",\"x\":\"s\"}"));
    ASSERT(valid(s, "{\"kind\":\"b\",\"y\":1}"));
    tc_status st;
    json_t *e = check(s, "{\"kind\":\"a\",\"x\":\"s\",\"y\":1}", &st);
    ASSERT_EQ(json_array_size(e), 1);
    ASSERT_STR_EQ(err_field(e, 0, "path"), "/y");
    ASSERT_STR_EQ(err_field(e, 0, "keyword"), "unevaluatedProperties");
    json_decref(e);
    tc_jsonschema_free(s);

    s = compile("{\"oneOf\":[{\"type\":\"integer\"},{\"minimum\":2}]}");
    e = check(s, "3", &st);
    ASSERT_STR_CONTAINS(err_field(e, 0, "message"), "matches more than one (schemas 0 and 1)");
    json_decref(e);
    ASSERT(valid(s, "1"));
    tc_jsonschema_free(s);

    s = compile("{\"propertyNames\":{\"pattern\":\"^[a-z]+$\"},\"not\":{\"required\":[\"zz\"]}}");
    e = check(s, "{\"Abc\":1}", &st);
    ASSERT_STR_EQ(err_field(e, 0, "message"), "property name \"Abc\" must match pattern ^[a-z]+$");
    ASSERT_STR_EQ(err_field(e, 0, "path"), "/Abc");
    json_decref(e);
    e = check(s, "{\"zz\":1}", &st);
    ASSERT_STR_EQ(err_field(e, 0, "message"), "must not match the schema in not");
    json_decref(e);
    tc_jsonschema_free(s);
}

TEST(draft7_dialect_from_schema_keyword)
{
    tc_jsonschema *s = compile("{\"$schema\":\"http://json-schema.org/draft-07/schema#\","
                               "\"items\":[{\"type\":\"string\"}],\"additionalItems\":false,"
                               "\"dependencies\":{\"a\":[\"b\"]}}");
    ASSERT(valid(s, "[\"x\"]"));
    tc_status st;
    json_t *e = check(s, "[\"x\", 2]", &st);
    ASSERT_STR_EQ(err_field(e, 0, "path"), "/1");
    ASSERT_STR_EQ(err_field(e, 0, "keyword"), "additionalItems");
    json_decref(e);
    e = check(s, "{\"a\":1}", &st);
    ASSERT_STR_EQ(err_field(e, 0, "path"), "/b");
    ASSERT_STR_EQ(err_field(e, 0, "message"), "is required when \"a\" is present");
    json_decref(e);
    tc_jsonschema_free(s);
    /* 2020-12: $ref next to siblings applies both */
    s = compile("{\"$defs\":{\"s\":{\"type\":\"string\"}},\"$ref\":\"#/$defs/s\",\"maxLength\":2}");
    ASSERT_FALSE(valid(s, "\"abc\""));
    tc_jsonschema_free(s);
}

TEST(format_asserted_only_when_enabled)
{
    const char *schema = "{\"properties\":{\"when\":{\"format\":\"date-time\"},"
                         "\"mail\":{\"format\":\"email\"},\"ip\":{\"format\":\"ipv4\"},"
                         "\"id\":{\"format\":\"uuid\"}}}";
    tc_jsonschema *off = compile(schema);
    ASSERT(valid(off, "{\"when\":\"yesterday\"}"));
    tc_jsonschema_free(off);
    tc_jsonschema_opts o = {.format_assert = true};
    tc_jsonschema *on = compile_opts(schema, &o);
    ASSERT(valid(on, "{\"when\":\"2026-02-28T10:00:00.5+01:00\",\"mail\":\"a.b@example.com\","
                     "\"ip\":\"10.0.0.1\",\"id\":\"123e4567-e89b-12d3-a456-426614174000\"}"));
    tc_status st;
    json_t *e = check(on, "{\"when\":\"2026-02-30T10:00:00Z\",\"mail\":\"a..b@x\",\"ip\":\"1.2.3.04\"}", &st);
    ASSERT_EQ(json_array_size(e), 3);
    ASSERT_STR_EQ(err_field(e, 0, "message"), "must be a valid date-time");
    json_decref(e);
    tc_jsonschema_free(on);
}

TEST(ecma_regex_features)
{
    tc_jsonschema *s = compile("{\"pattern\":\"^\\\\p{Letter}+\\\\u00e9$\"}");
    ASSERT(valid(s, "\"caf\u00e9\""));
    ASSERT(valid(s, "\"\u03c0\u00e9\""));
    ASSERT_FALSE(valid(s, "\"12\u00e9\""));
    tc_jsonschema_free(s);
    s = compile("{\"pattern\":\"^\\\\d+$\"}"); /* ASCII digits only, as in ECMA-262 */
    ASSERT_FALSE(valid(s, "\"\u0661\""));
    ASSERT(valid(s, "\"42\""));
    tc_jsonschema_free(s);
    s = compile("{\"pattern\":\"^a$\"}"); /* $ does not match before a final newline */
    ASSERT_FALSE(valid(s, "\"a\\n\""));
    tc_jsonschema_free(s);
}

static double elapsed_s(struct timespec a)
{
    struct timespec b;
    clock_gettime(CLOCK_MONOTONIC, &b);
    return (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
}

TEST(limits_stop_hostile_schemas_quickly)
{
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    /* exponential: each level evaluates the next one twice */
    tc_buf b;
    tc_buf_init(&b, 1 << 20);
    tc_buf_puts(&b, "{\"$defs\":{");
    for (int i = 0; i < 40; i++)
        tc_buf_printf(&b, "\"d%d\":{\"allOf\":[{\"$ref\":\"#/$defs/d%d\"},{\"$ref\":\"#/$defs/d%d\"}]},",
                      i, i + 1, i + 1);
    tc_buf_puts(&b, "\"d40\":{\"type\":\"integer\"}},\"$ref\":\"#/$defs/d0\"}");
    tc_jsonschema *s = compile(b.data);
    tc_buf_free(&b);
    tc_status st;
    json_t *e = check(s, "1", &st);
    ASSERT_STATUS(st, TC_TOO_LARGE);
    ASSERT_STR_EQ(err_field(e, json_array_size(e) - 1, "keyword"), "limit");
    ASSERT_STR_CONTAINS(err_field(e, json_array_size(e) - 1, "message"), "work limit");
    json_decref(e);
    tc_jsonschema_free(s);

    /* infinite $ref loop */
    s = compile("{\"$defs\":{\"a\":{\"$ref\":\"#/$defs/b\"},\"b\":{\"$ref\":\"#/$defs/a\"}},"
                "\"$ref\":\"#/$defs/a\"}");
    e = check(s, "1", &st);
    ASSERT_STATUS(st, TC_TOO_LARGE);
    ASSERT_STR_CONTAINS(err_field(e, 0, "message"), "deeper than");
    json_decref(e);
    tc_jsonschema_free(s);

    /* catastrophic backtracking is cut by the PCRE2 match limit */
    s = compile("{\"pattern\":\"^(a|aa)+$\"}");
    e = check(s, "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab\"", &st);
    ASSERT_STATUS(st, TC_TOO_LARGE);
    ASSERT_STR_CONTAINS(err_field(e, 0, "message"), "regular expression limit");
    json_decref(e);
    tc_jsonschema_free(s);
    ASSERT(elapsed_s(t0) < 5.0);
}

TEST(limits_on_schema_size_and_depth)
{
    tc_buf b;
    tc_buf_init(&b, 1 << 20);
    for (int i = 0; i < 300; i++)
        tc_buf_puts(&b, "{\"not\":");
    tc_buf_puts(&b, "{}");
    for (int i = 0; i < 300; i++)
        tc_buf_puts(&b, "}");
    tc_err err;
    tc_err_clear(&err);
    json_t *j = J(b.data);
    ASSERT_NULL(tc_jsonschema_compile(j, NULL, &err));
    ASSERT_STR_CONTAINS(err.message, "nested deeper than 128 levels");
    tc_jsonschema_opts o = {.max_nodes = 50};
    tc_jsonschema_opts deep = {.max_depth = 400};
    tc_err_clear(&err);
    ASSERT_NULL(tc_jsonschema_compile(j, &o, &err));
    ASSERT_STR_CONTAINS(err.message, "more than 50 subschemas");
    tc_jsonschema *s = tc_jsonschema_compile(j, &deep, &err);
    ASSERT_NOT_NULL(s);
    tc_jsonschema_free(s);
    json_decref(j);
    tc_buf_free(&b);

    tc_jsonschema_opts few = {.max_errors = 3};
    s = compile_opts("{\"items\":{\"type\":\"string\"}}", &few);
    tc_status st;
    json_t *e = check(s, "[1,2,3,4,5,6]", &st);
    ASSERT_EQ(json_array_size(e), 3);
    json_decref(e);
    tc_jsonschema_free(s);
}

TEST(cache_reuses_and_recompiles)
{
    tc_jsonschema_cache *c = tc_jsonschema_cache_new(2);
    json_t *a = J("{\"type\":\"string\"}"), *b = J("{\"type\":\"integer\"}");
    tc_err err;
    tc_jsonschema *s1 = tc_jsonschema_cache_get(c, "tool-1", a, NULL, &err);
    tc_jsonschema *s2 = tc_jsonschema_cache_get(c, "tool-1", a, NULL, &err);
    ASSERT(s1 == s2);
    tc_jsonschema *s3 = tc_jsonschema_cache_get(c, "tool-1", b, NULL, &err); /* schema changed */
    ASSERT(s3 != s1);
    json_t *one = J("1");
    ASSERT_OK(tc_jsonschema_validate(s3, one, NULL));
    ASSERT_STATUS(tc_jsonschema_validate(s1, one, NULL), TC_VALIDATION); /* old ref still alive */
    tc_jsonschema_opts fmt = {.format_assert = true};
    tc_jsonschema *s4 = tc_jsonschema_cache_get(c, "tool-2", a, &fmt, &err);
    tc_jsonschema *s5 = tc_jsonschema_cache_get(c, "tool-3", a, NULL, &err); /* evicts tool-1 */
    ASSERT_EQ(tc_jsonschema_cache_size(c), 2);
    tc_jsonschema *s6 = tc_jsonschema_cache_get(c, "tool-2", a, NULL, &err); /* other opts */
    ASSERT(s6 != s4);
    json_t *bad = J("{\"type\":1}");
    ASSERT_NULL(tc_jsonschema_cache_get(c, "tool-4", bad, NULL, &err));
    ASSERT_STR_EQ(err.field, "/type");
    tc_jsonschema *list[] = {s1, s2, s3, s4, s5, s6};
    for (size_t i = 0; i < 6; i++)
        tc_jsonschema_free(list[i]);
    tc_jsonschema_cache_free(c);
    json_decref(a);
    json_decref(b);
    json_decref(one);
    json_decref(bad);
}

static tc_jsonschema_cache *shared_cache;

static void *cache_worker(void *arg)
{
    json_t *schema = J("{\"type\":\"object\",\"required\":[\"x\"]}");
    json_t *ok = J("{\"x\":1}");
    char key[32];
    for (int i = 0; i < 300; i++) {
        snprintf(key, sizeof key, "tool-%d", i % 7);
        tc_err err;
        tc_jsonschema *s = tc_jsonschema_cache_get(shared_cache, key, schema, NULL, &err);
        if (!s || tc_jsonschema_validate(s, ok, NULL) != TC_OK)
            *(int *)arg = 1;
        tc_jsonschema_free(s);
    }
    json_decref(schema);
    json_decref(ok);
    return NULL;
}

TEST(cache_is_thread_safe)
{
    shared_cache = tc_jsonschema_cache_new(4);
    pthread_t t[4];
    int failed[4] = {0};
    for (int i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, cache_worker, &failed[i]);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    for (int i = 0; i < 4; i++)
        ASSERT_EQ(failed[i], 0);
    ASSERT(tc_jsonschema_cache_size(shared_cache) <= 4);
    tc_jsonschema_cache_free(shared_cache);
}

static const char *write_file(const char *name, const char *text)
{
    static char paths[4][512];
    static int next;
    char *p = paths[next++ % 4];
    snprintf(p, 512, "%s/%s", tc_test_tmpdir(), name);
    FILE *f = fopen(p, "w");
    fputs(text, f);
    fclose(f);
    return p;
}

TEST(cli_exit_codes)
{
    const char *schema = write_file("s.json", "{\"type\":\"object\",\"required\":[\"a\"]}");
    const char *good = write_file("good.json", "{\"a\":1}");
    const char *bad = write_file("bad.json", "{}");
    const char *broken = write_file("broken.json", "{\"type\":\"nope\"}");
    char *argv1[] = {"schema", "validate", (char *)schema, (char *)good, NULL};
    ASSERT_EQ(tc_jsonschema_cli_main(4, argv1), 0);
    char *argv2[] = {"schema", "validate", (char *)schema, (char *)bad, "--json", NULL};
    ASSERT_EQ(tc_jsonschema_cli_main(5, argv2), 1);
    char *argv3[] = {"schema", "validate", (char *)broken, (char *)good, NULL};
    ASSERT_EQ(tc_jsonschema_cli_main(4, argv3), 2);
    char *argv4[] = {"schema", "validate", (char *)schema, NULL};
    ASSERT_EQ(tc_jsonschema_cli_main(3, argv4), 3);
    char *argv5[] = {"schema", "validate", (char *)schema, "/nonexistent/x.json", NULL};
    ASSERT_EQ(tc_jsonschema_cli_main(4, argv5), 3);
}
