/* oauth: pure pieces (pointers, cookies). */
#include "oauth/oauth.h"
#include "runner.h"

#include <stdio.h>
#include <stdlib.h>

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

TEST(oauth_cookie_get)
{
    char v[64];
    const char *h = "a=1; tc_oauth_x=abc; tc_oauth_xy=def;b=2";
    ASSERT(tc_oauth_cookie_get(h, "tc_oauth_x", v, sizeof(v)));
    ASSERT_STR_EQ(v, "abc");
    ASSERT(tc_oauth_cookie_get(h, "tc_oauth_xy", v, sizeof(v)));
    ASSERT_STR_EQ(v, "def");
    ASSERT(tc_oauth_cookie_get(h, "b", v, sizeof(v)));
    ASSERT_STR_EQ(v, "2");
    ASSERT_FALSE(tc_oauth_cookie_get(h, "tc_oauth", v, sizeof(v)));
    ASSERT_FALSE(tc_oauth_cookie_get("", "a", v, sizeof(v)));
    char tiny[2];
    ASSERT_FALSE(tc_oauth_cookie_get(h, "tc_oauth_x", tiny, sizeof(tiny))); /* too long: refused */
}

TEST(oauth_new_checks_public_url)
{
    unsigned char key[32] = {1};
    tc_keyring *kr = NULL;
    tc_err err;
    ASSERT_OK(tc_keyring_new(key, sizeof(key), &kr, &err));
    tc_db *db = NULL;
    char url[512];
    snprintf(url, sizeof(url), "sqlite:%s/t.db", tc_test_tmpdir());
    ASSERT_OK(tc_db_open(url, 1, &db, &err));
    tc_oauth_options o = {.db = db, .keyring = kr, .master_key = key, .public_url = "ftp://x"};
    tc_oauth *oa = NULL;
    ASSERT_STATUS(tc_oauth_new(&o, &oa, &err), TC_BAD_REQUEST);
    ASSERT_STR_EQ(err.field, "TC_PUBLIC_URL");
    o.public_url = "https://tc.example/base//";
    ASSERT_OK(tc_oauth_new(&o, &oa, &err));
    char *ok = tc_oauth_outcome_url(oa, "0b7f", NULL);
    ASSERT_STR_EQ(ok, "https://tc.example/base/connections?oauth=ok&connection=0b7f");
    char *bad = tc_oauth_outcome_url(oa, NULL, "access_denied: no & yes");
    ASSERT_STR_EQ(bad, "https://tc.example/base/connections?oauth=error&message=access_denied%3A%20no%20%26%20yes");
    free(ok);
    free(bad);
    tc_oauth_free(oa);
    tc_db_close(db);
    tc_keyring_free(kr);
}
