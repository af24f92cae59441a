/* The `toolconnect cron` command as a standalone binary, so the croner
 * comparison only needs the scheduler module (not the whole server) to link. */
#include "scheduler/scheduler.h"

int main(int argc, char **argv)
{
    return tc_scheduler_cmd_cron(argc, argv);
}
