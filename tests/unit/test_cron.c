#include "runner.h"
#include "scheduler/scheduler.h"
TEST(smoke)
{
    tc_cron c;
    tc_cron_error e;
    ASSERT_OK(tc_cron_parse("0 0 * * *", &c, &e));
}
