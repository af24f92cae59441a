#include <stdlib.h>

#include "connections/connections.h"
#include "runner.h"

static json_t *j(const char *text)
{
    json_t *v = json_loads(text, 0, NULL);
    if (!v)
        tc_test_fail(__FILE__, __LINE__, "bad JSON in test");
    return v;
}

static void inject(const char *auth, const char *secret, char **h, char **q)
{
    json_t *a = j(auth), *s = j(secret);
    tc_err err;
    ASSERT_OK(tc_credential_inject(a, s, h, q, &err));
    json_decref(a);
    json_decref(s);
}

TEST(api_key_defaults_to_bearer_header)
{
    char *h, *q;
    inject("{\"type\":\"api_key\"}", "{\"api_key\":\"k1\"}", &h, &q);
    ASSERT_STR_EQ(h, "Authorization: Bearer k1");
    ASSERT_NULL(q);
    free(h);
}

TEST(declared_header_and_format)
{
    char *h, *q;
    inject("{\"type\":\"api_key\",\"inject\":{\"header\":\"X-Api-Key\",\"format\":\"{api_key}\"}}",
           "{\"api_key\":\"abc\"}", &h, &q);
    ASSERT_STR_EQ(h, "X-Api-Key: abc");
    free(h);
}

TEST(basic_is_base64_of_user_and_password)
{
    char *h, *q;
    inject("{\"type\":\"basic\"}", "{\"username\":\"Aladdin\",\"password\":\"open sesame\"}", &h, &q);
    ASSERT_STR_EQ(h, "Authorization: Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==");
    free(h);
}

TEST(query_injection_is_url_encoded)
{
    char *h, *q;
    inject("{\"type\":\"api_key\",\"inject\":{\"query\":\"key\"}}", "{\"api_key\":\"a b&c=d\"}", &h, &q);
    ASSERT_NULL(h);
    ASSERT_STR_EQ(q, "key=a%20b%26c%3Dd");
    free(q);
}

TEST(oauth_and_none)
{
    char *h, *q;
    inject("{\"type\":\"oauth2\"}", "{\"access_token\":\"at\",\"refresh_token\":\"rt\"}", &h, &q);
    ASSERT_STR_EQ(h, "Authorization: Bearer at");
    free(h);
    inject("{\"type\":\"none\"}", "{}", &h, &q);
    ASSERT_NULL(h);
    ASSERT_NULL(q);
}
