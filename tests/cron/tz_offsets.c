/* Reads "ZONE UNIX_SECONDS" lines, prints our UTC offset (seconds east) for
 * each, or ERR. Used by tz_zoneinfo.py to check tz.c against Python. */
#include <stdio.h>

#include "scheduler/scheduler.h"

int main(void)
{
    char zone[TC_TZ_NAME_MAX + 2];
    long long t;
    while (scanf("%65s %lld", zone, &t) == 2) {
        const tc_tz *tz;
        if (tc_tz_load(zone, &tz, NULL) != TC_OK)
            printf("ERR\n");
        else
            printf("%d\n", (int)tc_tz_offset(tz, t));
    }
    return 0;
}
