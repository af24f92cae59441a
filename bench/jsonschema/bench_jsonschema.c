/* Benchmark: a typical tool input schema (an object of 10 properties with
 * strings, enums, numbers, a pattern, a format and a nested array of
 * objects), compiled once and validated many times.
 * Prints ns per compile, per validation (fast path: valid instance, no error
 * list), per validation with an error list, per invalid instance with errors
 * collected, and per cache hit. Target: < 5 us per validation.
 *   bench_jsonschema [iterations]   (default 200000) */
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

/* The machine is shared: each figure is measured in 15 batches and the
 * fastest and median batch are reported (the fastest is the least disturbed
 * by neighbours). */
#define BATCHES 15

typedef struct {
    tc_jsonschema *s;
    const json_t *schema, *good, *bad;
    tc_jsonschema_opts o;
    tc_jsonschema_cache *cache;
} ctx;

static void op_compile(ctx *c)
{
    tc_err err;
    tc_jsonschema_free(tc_jsonschema_compile(c->schema, &c->o, &err));
}

static void op_fast(ctx *c)
{
    tc_jsonschema_validate(c->s, c->good, NULL);
}

static void op_full(ctx *c)
{
    json_t *errors = NULL;
    tc_jsonschema_validate(c->s, c->good, &errors);
    json_decref(errors);
}

static void op_bad(ctx *c)
{
    json_t *errors = NULL;
    tc_jsonschema_validate(c->s, c->bad, &errors);
    json_decref(errors);
}

static void op_cache(ctx *c)
{
    tc_err err;
    tc_jsonschema_free(tc_jsonschema_cache_get(c->cache, "tool", c->schema, &c->o, &err));
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Runs op n times in BATCHES batches; min and median ns per op. */
static void measure(const char *label, void (*op)(ctx *), ctx *c, long n)
{
    double per[BATCHES];
    long each = n / BATCHES + 1;
    for (int b = 0; b < BATCHES; b++) {
        int64_t t = tc_mono_ns();
        for (long i = 0; i < each; i++)
            op(c);
        per[b] = (double)(tc_mono_ns() - t) / (double)each;
    }
    qsort(per, BATCHES, sizeof per[0], cmp_double);
    printf("%-46s min %8.0f ns  median %8.0f ns\n", label, per[0], per[BATCHES / 2]);
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 200000;
    json_error_t je;
    json_t *schema = json_loads(schema_text, 0, &je);
    json_t *good = json_loads(valid_text, 0, &je), *bad = json_loads(invalid_text, 0, &je);
    tc_jsonschema_opts o = {.format_assert = true};
    tc_err err;

    tc_jsonschema *s = tc_jsonschema_compile(schema, &o, &err);
    if (!s || tc_jsonschema_validate(s, good, NULL) != TC_OK ||
        tc_jsonschema_validate(s, bad, NULL) != TC_VALIDATION) {
        fprintf(stderr, "bench setup failed\n");
        return 1;
    }
    json_t *errors = NULL;
    tc_jsonschema_validate(s, bad, &errors);
    size_t nerr = json_array_size(errors);
    json_decref(errors);
    ctx c = {s, schema, good, bad, o, tc_jsonschema_cache_new(0)};
    char label[64];
    snprintf(label, sizeof label, "validate invalid input, %zu errors listed", nerr);
    measure("compile (10-property tool schema)", op_compile, &c, n / 20);
    measure("validate valid input, fast path", op_fast, &c, n);
    measure("validate valid input, with error list", op_full, &c, n);
    measure(label, op_bad, &c, n / 10);
    measure("cache hit (hash schema + lookup)", op_cache, &c, n / 10);
    tc_jsonschema_cache_free(c.cache);
    tc_jsonschema_free(s);
    json_decref(schema);
    json_decref(good);
    json_decref(bad);
    return 0;
}
