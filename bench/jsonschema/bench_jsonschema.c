/* Benchmark: a typical tool input schema (an object of 10 properties with
 * strings, enums, numbers, a pattern, a format and a nested array of
 * objects), compiled once and validated many times.
 * Prints ns per compile, per validation (fast path: valid instance, no error
 * list), per validation with an error list, and per invalid instance with
 * errors collected. Target: < 5 us per validation. */
#include <stdio.h>
#include <stdlib.h>

#include "jsonschema/jsonschema.h"

static const char schema_text[] =
    "{\"$schema\":\"https://json-schema.org/draft/2020-12/schema\",\"type\":\"object\","
    "\"properties\":{"
    "\"channel\":{\"type\":\"string\",\"pattern\":\"^[a-z0-9_-]+$\",\"maxLength\":80},"
    "\"text\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":4000},"
    "\"priority\":{\"enum\":[\"low\",\"normal\",\"high\",\"urgent\"]},"
    "\"retries\":{\"type\":\"integer\",\"minimum\":0,\"maximum\":10},"
    "\"ratio\":{\"type\":\"number\",\"exclusiveMinimum\":0,\"maximum\":1,\"multipleOf\":0.01},"
    "\"notify\":{\"type\":\"boolean\"},"
    "\"due\":{\"type\":\"string\",\"format\":\"date-time\"},"
    "\"format\":{\"type\":\"string\",\"enum\":[\"plain\",\"markdown\",\"html\"]},"
    "\"thread_id\":{\"type\":[\"string\",\"null\"]},"
    "\"attachments\":{\"type\":\"array\",\"maxItems\":10,\"items\":{\"type\":\"object\","
    "\"properties\":{\"name\":{\"type\":\"string\"},\"size\":{\"type\":\"integer\",\"minimum\":0}},"
    "\"required\":[\"name\"],\"additionalProperties\":false}}},"
    "\"required\":[\"channel\",\"text\"],\"additionalProperties\":false}";

static const char valid_text[] =
    "{\"channel\":\"general\",\"text\":\"Deploy finished: 42 services updated\","
    "\"priority\":\"high\",\"retries\":3,\"ratio\":0.25,\"notify\":true,"
    "\"due\":\"2026-11-28T18:00:00Z\",\"format\":\"markdown\",\"thread_id\":null,"
    "\"attachments\":[{\"name\":\"log.txt\",\"size\":1200},{\"name\":\"diff.patch\",\"size\":88}]}";

static const char invalid_text[] =
    "{\"channel\":\"General Chat\",\"text\":\"\",\"priority\":\"asap\",\"retries\":11,"
    "\"ratio\":0.255,\"attachments\":[{\"size\":-1}],\"extra\":1}";

static double per_op_ns(int64_t start, long n)
{
    return (double)(tc_mono_ns() - start) / (double)n;
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 200000;
    json_error_t je;
    json_t *schema = json_loads(schema_text, 0, &je);
    json_t *good = json_loads(valid_text, 0, &je), *bad = json_loads(invalid_text, 0, &je);
    tc_jsonschema_opts o = {.format_assert = true};
    tc_err err;

    long nc = n / 20 + 1;
    int64_t t = tc_mono_ns();
    for (long i = 0; i < nc; i++)
        tc_jsonschema_free(tc_jsonschema_compile(schema, &o, &err));
    double compile_ns = per_op_ns(t, nc);

    tc_jsonschema *s = tc_jsonschema_compile(schema, &o, &err);
    if (!s || tc_jsonschema_validate(s, good, NULL) != TC_OK ||
        tc_jsonschema_validate(s, bad, NULL) != TC_VALIDATION) {
        fprintf(stderr, "bench setup failed\n");
        return 1;
    }
    t = tc_mono_ns();
    for (long i = 0; i < n; i++)
        tc_jsonschema_validate(s, good, NULL);
    double fast_ns = per_op_ns(t, n);

    t = tc_mono_ns();
    for (long i = 0; i < n; i++) {
        json_t *errors = NULL;
        tc_jsonschema_validate(s, good, &errors);
    }
    double full_ns = per_op_ns(t, n);

    json_t *errors = NULL;
    tc_jsonschema_validate(s, bad, &errors);
    size_t nerr = json_array_size(errors);
    json_decref(errors);
    t = tc_mono_ns();
    for (long i = 0; i < n / 10; i++) {
        errors = NULL;
        tc_jsonschema_validate(s, bad, &errors);
        json_decref(errors);
    }
    double bad_ns = per_op_ns(t, n / 10);

    tc_jsonschema_cache *c = tc_jsonschema_cache_new(0);
    tc_jsonschema_free(tc_jsonschema_cache_get(c, "tool", schema, &o, &err));
    t = tc_mono_ns();
    for (long i = 0; i < n / 10; i++)
        tc_jsonschema_free(tc_jsonschema_cache_get(c, "tool", schema, &o, &err));
    double hit_ns = per_op_ns(t, n / 10);
    tc_jsonschema_cache_free(c);

    printf("compile (10-property tool schema)          %9.0f ns\n", compile_ns);
    printf("validate valid input, fast path            %9.0f ns  (target < 5000)\n", fast_ns);
    printf("validate valid input, with error list      %9.0f ns\n", full_ns);
    printf("validate invalid input, %zu errors listed   %9.0f ns\n", nerr, bad_ns);
    printf("cache hit (hash schema text + lookup)      %9.0f ns\n", hit_ns);
    tc_jsonschema_free(s);
    json_decref(schema);
    json_decref(good);
    json_decref(bad);
    return fast_ns < 5000 ? 0 : 1;
}
