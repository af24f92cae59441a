/* libFuzzer target for tc_jsonschema: the input is SCHEMA '\0' INSTANCE
 * (both JSON). Without a NUL, the input is used as a schema validated against
 * a few fixed instances, and as an instance validated against a fixed schema
 * that uses most keywords. Any crash, leak or sanitizer report is a bug; a
 * rejected schema or instance is fine. Limits are lowered so that each input
 * stays fast. */
#include <stdint.h>
#include <string.h>

#include "jsonschema/jsonschema.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const fixed_instances[] = {
    "null", "0", "-1.5", "\"abc\"", "[1,\"a\",[],{}]", "{\"a\":1,\"b\":[true,null],\"c\":{\"d\":\"x\"}}",
};

static const char fixed_schema[] =
    "{\"$defs\":{\"n\":{\"$dynamicAnchor\":\"n\",\"type\":[\"object\",\"array\",\"string\",\"number\"],"
    "\"items\":{\"$dynamicRef\":\"#n\"}}},"
    "\"type\":\"object\",\"properties\":{\"a\":{\"multipleOf\":0.01,\"maximum\":1e9},"
    "\"b\":{\"type\":\"array\",\"prefixItems\":[{\"const\":true}],\"uniqueItems\":true,"
    "\"contains\":{\"type\":\"null\"},\"maxContains\":2},"
    "\"c\":{\"$ref\":\"#/$defs/n\",\"unevaluatedProperties\":{\"pattern\":\"^(x|y)+$\"}}},"
    "\"patternProperties\":{\"^\\\\p{L}+$\":{\"minLength\":1,\"format\":\"email\"}},"
    "\"propertyNames\":{\"maxLength\":20},\"dependentRequired\":{\"a\":[\"b\"]},"
    "\"if\":{\"required\":[\"a\"]},\"then\":{\"minProperties\":2},\"else\":{\"not\":{}},"
    "\"oneOf\":[{\"required\":[\"a\"]},{\"required\":[\"c\"]},true],\"unevaluatedProperties\":false}";

static const tc_jsonschema_opts opts = {
    .format_assert = true, .max_work = 20000, .max_nodes = 2000, .max_depth = 64};

static void run(const json_t *schema, const json_t *instance)
{
    tc_err err;
    tc_jsonschema *s = tc_jsonschema_compile(schema, &opts, &err);
    if (!s)
        return;
    json_t *errors = NULL;
    tc_jsonschema_validate(s, instance, &errors);
    json_decref(errors);
    tc_jsonschema_validate(s, instance, NULL);
    tc_jsonschema_free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    const char *nul = memchr(text, 0, size);
    json_error_t je;
    if (nul) {
        json_t *schema = json_loadb(text, (size_t)(nul - text), JSON_DECODE_ANY, &je);
        json_t *inst = json_loadb(nul + 1, size - (size_t)(nul - text) - 1,
                                  JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
        if (schema && inst)
            run(schema, inst);
        json_decref(schema);
        json_decref(inst);
        return 0;
    }
    json_t *v = json_loadb(text, size, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
    if (!v)
        return 0;
    for (size_t i = 0; i < sizeof fixed_instances / sizeof fixed_instances[0]; i++) {
        json_t *inst = json_loads(fixed_instances[i], JSON_DECODE_ANY, &je);
        run(v, inst);
        json_decref(inst);
    }
    json_t *schema = json_loads(fixed_schema, 0, &je);
    run(schema, v);
    json_decref(schema);
    json_decref(v);
    return 0;
}
