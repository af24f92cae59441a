#include <stdio.h>
#include <stdlib.h>

#include "catalog/catalog.h"
#include "runner.h"

static json_t *parse(const char *text)
{
    json_error_t e;
    json_t *j = json_loads(text, 0, &e);
    if (!j)
        tc_test_fail(__FILE__, __LINE__, "bad test JSON: %s", e.text);
    return j;
}

/* Validates text as a connector and returns the status; err gets details. */
static tc_status check(const char *text, tc_err *err)
{
    json_t *doc = parse(text);
    tc_connector *c = NULL;
    tc_err_clear(err);
    tc_status st = tc_catalog_parse(doc, "test.json", TC_CATALOG_BUILTIN, false, &c, err);
    tc_connector_free(c);
    json_decref(doc);
    return st;
}

#define REST_HEAD                                                                         \
    "{\"slug\":\"demo\",\"name\":\"Demo\",\"description\":\"d\",\"category\":\"other\","  \
    "\"base_url\":\"https://api.example.com\",\"auth\":{\"type\":\"api_key\"},"

TEST(shipped_catalog_loads_completely)
{
    tc_catalog *cat = tc_catalog_new();
    tc_err err;
    tc_err_clear(&err);
    tc_status st = tc_catalog_load_path(cat, tc_test_source_path("catalog"), &err);
    if (st != TC_OK)
        tc_test_fail(__FILE__, __LINE__, "%s", err.message);
    ASSERT(tc_catalog_count(cat) >= 12);
    static const char *const required[] = {"github", "gmail", "google-calendar", "google-drive",
                                           "slack", "notion", "airtable", "linear", "jira",
                                           "stripe", "openai", "rest"};
    for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++)
        ASSERT_NOT_NULL(tc_catalog_get(cat, required[i]));
    const tc_connector *gh = tc_catalog_get(cat, "github");
    ASSERT_STR_EQ(gh->auth_type, "oauth2");
    ASSERT_NOT_NULL(tc_connector_tool(gh, "create_issue"));
    ASSERT_STR_EQ(tc_catalog_get(cat, "stripe")->auth_type, "api_key");
    ASSERT(tc_catalog_get(cat, "github-mcp")->is_mcp);
    ASSERT(tc_catalog_get(cat, "filesystem-mcp")->stdio);
    tc_catalog_free(cat);
}

TEST(minimal_rest_connector_is_valid)
{
    tc_err err;
    ASSERT_OK(check(REST_HEAD "\"tools\":[{\"name\":\"t\",\"input_schema\":{\"type\":\"object\"},"
                              "\"request\":{\"method\":\"GET\",\"path\":\"/x/{id}\"}}]}", &err));
}

TEST(errors_name_the_field)
{
    tc_err err;
    ASSERT_STATUS(check(REST_HEAD "\"tools\":[{\"name\":\"t\",\"input_schema\":{\"type\":\"object\"},"
                                  "\"request\":{\"method\":\"FETCH\",\"path\":\"/x\"}}]}", &err),
                  TC_VALIDATION);
    ASSERT_STR_EQ(err.field, "tools[0].request.method");
    ASSERT_STR_CONTAINS(err.message, "test.json: tools[0].request.method");

    ASSERT_STATUS(check("{\"slug\":\"Bad Slug\",\"name\":\"n\",\"description\":\"d\",\"category\":\"x\","
                        "\"auth\":{\"type\":\"none\"},\"base_url\":\"https://a\",\"tools\":[]}", &err),
                  TC_VALIDATION);
    ASSERT_STR_EQ(err.field, "slug");

    ASSERT_STATUS(check(REST_HEAD "\"tools\":[], \"colour\":\"red\"}", &err), TC_VALIDATION);
    ASSERT_STR_EQ(err.field, "colour");

    ASSERT_STATUS(check(REST_HEAD "\"tools\":[{\"name\":\"t\",\"input_schema\":{\"type\":\"object\"}}]}", &err),
                  TC_VALIDATION);
    ASSERT_STR_EQ(err.field, "tools[0].request");
}

TEST(tool_schema_must_compile_and_describe_an_object)
{
    tc_err err;
    ASSERT_STATUS(check(REST_HEAD "\"tools\":[{\"name\":\"t\",\"input_schema\":{\"type\":\"string\"},"
                                  "\"request\":{\"method\":\"GET\",\"path\":\"/x\"}}]}", &err),
                  TC_VALIDATION);
    ASSERT_STR_EQ(err.field, "tools[0].input_schema");
    ASSERT_STATUS(check(REST_HEAD "\"tools\":[{\"name\":\"t\",\"input_schema\":{\"type\":\"object\","
                                  "\"properties\":{\"a\":{\"minLength\":\"three\"}}},"
                                  "\"request\":{\"method\":\"GET\",\"path\":\"/x\"}}]}", &err),
                  TC_VALIDATION);
    ASSERT_STR_CONTAINS(err.message, "not a valid JSON Schema");
}

TEST(duplicate_tools_and_oauth_rules)
{
    tc_err err;
    ASSERT_STATUS(check(REST_HEAD "\"tools\":[{\"name\":\"t\",\"input_schema\":{\"type\":\"object\"},"
                                  "\"request\":{\"method\":\"GET\",\"path\":\"/x\"}},"
                                  "{\"name\":\"t\",\"input_schema\":{\"type\":\"object\"},"
                                  "\"request\":{\"method\":\"GET\",\"path\":\"/y\"}}]}", &err),
                  TC_VALIDATION);
    ASSERT_STR_EQ(err.field, "tools[1].name");
    ASSERT_STATUS(check("{\"slug\":\"oa\",\"name\":\"n\",\"description\":\"d\",\"category\":\"x\","
                        "\"base_url\":\"https://a\",\"tools\":[],\"auth\":{\"type\":\"oauth2\","
                        "\"authorization_url\":\"https://a/auth\",\"token_url\":\"http://evil.example/token\"}}",
                        &err),
                  TC_VALIDATION);
    ASSERT_STR_EQ(err.field, "auth.token_url");
    ASSERT_OK(check("{\"slug\":\"oa\",\"name\":\"n\",\"description\":\"d\",\"category\":\"x\","
                    "\"base_url\":\"https://a\",\"tools\":[],\"auth\":{\"type\":\"oauth2\","
                    "\"authorization_url\":\"http://127.0.0.1:9/auth\",\"token_url\":\"http://127.0.0.1:9/token\"}}",
                    &err));
}

TEST(custom_stdio_needs_permission)
{
    json_t *doc = parse("{\"slug\":\"local\",\"name\":\"n\",\"description\":\"d\",\"category\":\"x\","
                        "\"auth\":{\"type\":\"none\"},\"mcp\":{\"command\":[\"node\",\"server.js\"]}}");
    tc_connector *c = NULL;
    tc_err err;
    ASSERT_STATUS(tc_catalog_parse(doc, "custom", TC_CATALOG_CUSTOM, false, &c, &err), TC_FORBIDDEN);
    ASSERT_STR_CONTAINS(err.message, "TC_ALLOW_STDIO");
    ASSERT_OK(tc_catalog_parse(doc, "custom", TC_CATALOG_CUSTOM, true, &c, &err));
    ASSERT(c->stdio);
    tc_connector_free(c);
    json_decref(doc);
}

TEST(broken_file_fails_the_load_naming_the_file)
{
    char dir[512], path[600];
    snprintf(dir, sizeof(dir), "%s", tc_test_tmpdir());
    snprintf(path, sizeof(path), "%s/broken.json", dir);
    FILE *f = fopen(path, "w");
    ASSERT_NOT_NULL(f);
    fputs("{\"slug\": \"x\", ", f);
    fclose(f);
    tc_catalog *cat = tc_catalog_new();
    tc_err err;
    ASSERT_STATUS(tc_catalog_load_path(cat, dir, &err), TC_INVALID_JSON);
    ASSERT_STR_CONTAINS(err.message, "broken.json");
    tc_catalog_free(cat);
}

TEST(builtin_catalog_is_embedded)
{
    tc_catalog *cat = tc_catalog_new();
    tc_err err;
    ASSERT_OK(tc_catalog_load_builtin(cat, &err));
    ASSERT(tc_catalog_count(cat) >= 12);
    ASSERT_STR_EQ(tc_catalog_get(cat, "slack")->origin, "catalog/slack.json");
    tc_catalog_free(cat);
}

TEST(auth_type_valid_lists_the_five_types)
{
    static const char *const ok[] = {"oauth2", "api_key", "basic", "bearer", "none"};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
        ASSERT(tc_catalog_auth_type_valid(ok[i]));
    ASSERT(!tc_catalog_auth_type_valid(""));
    ASSERT(!tc_catalog_auth_type_valid("OAuth2"));
    ASSERT(!tc_catalog_auth_type_valid("oauth2 "));
}
