#include <stdlib.h>

#include "config/config.h"
#include "runner.h"

TEST(defaults_env_then_flags)
{
    setenv("TC_LISTEN", "127.0.0.1:9999", 1);
    setenv("TC_ALLOW_STDIO", "1", 1);
    char *argv[] = {"serve", "--rate-user-per-min=7", "--data-dir", "/tmp/x", "rest", NULL};
    tc_config cfg;
    tc_err err;
    int argi = 1;
    ASSERT_OK(tc_config_load(&cfg, 5, argv, &argi, &err));
    ASSERT_EQ(argi, 4);
    ASSERT_STR_EQ(cfg.listen, "127.0.0.1:9999");
    ASSERT(cfg.allow_stdio);
    ASSERT_EQ(cfg.rate_user_per_min, 7);
    ASSERT_EQ(cfg.rate_connector_per_min, 100);
    ASSERT_STR_EQ(cfg.database_url, "sqlite:/tmp/x/toolconnect.db");
    tc_config_free(&cfg);
}

TEST(bad_values_name_the_setting)
{
    setenv("TC_RATE_USER_PER_MIN", "lots", 1);
    tc_config cfg;
    tc_err err;
    int argi = 0;
    ASSERT_STATUS(tc_config_load(&cfg, 0, NULL, &argi, &err), TC_BAD_REQUEST);
    ASSERT_STR_CONTAINS(err.message, "TC_RATE_USER_PER_MIN");
    tc_config_free(&cfg);
    unsetenv("TC_RATE_USER_PER_MIN");
    char *argv[] = {"serve", "--nope=1", NULL};
    argi = 1;
    ASSERT_STATUS(tc_config_load(&cfg, 2, argv, &argi, &err), TC_BAD_REQUEST);
    ASSERT_STR_CONTAINS(err.message, "--nope");
    tc_config_free(&cfg);
}
