/* oauth: pure pieces (pointers, cookies). */
#include "oauth/oauth.h"
#include "runner.h"

TEST(oauth_pointer)
{
    json_t *doc = json_loads("{\"authed_user\":{\"access_token\":\"xoxp\",\"a/b\":1,\"t~\":[5,6]}}", 0, NULL);
    ASSERT_STR_EQ(json_string_value(tc_oauth_pointer(doc, "/authed_user/access_token")), "xoxp");
    ASSERT_EQ(json_integer_value(tc_oauth_pointer(doc, "/authed_user/a~1b")), 1);
    ASSERT_EQ(json_integer_value(tc_oauth_pointer(doc, "/authed_user/t~0/1")), 6);
    ASSERT_NULL(tc_oauth_pointer(doc, "/authed_user/missing"));
    ASSERT_NULL(tc_oauth_pointer(doc, "authed_user"));
    json_decref(doc);
}
