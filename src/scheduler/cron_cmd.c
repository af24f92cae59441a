/* `toolconnect cron`: preview a schedule from the shell, or answer many
 * previews as JSON lines (used by the croner comparison in tests/cron/). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scheduler/sched_int.h"

#define BATCH_LINE_MAX 4096

static int usage(void)
{
    fprintf(stderr, "usage: toolconnect cron next EXPR [TIMEZONE] [FROM] [N]\n"
                    "       toolconnect cron batch   (JSON lines on stdin: "
                    "{\"cron\",\"timezone\",\"from\",\"n\"})\n");
    return 2;
}

static int cmd_next(int argc, char **argv)
{
    json_t *body = json_pack("{s:s, s:s}", "cron", argv[1], "timezone", argc > 2 ? argv[2] : "UTC");
    if (argc > 3)
        json_object_set_new(body, "from", json_string(argv[3]));
    if (argc > 4)
        json_object_set_new(body, "n", json_integer(strtol(argv[4], NULL, 10)));
    json_t *out = NULL;
    tc_err err;
    tc_status st = tc_cron_preview_json(body, tc_now_ms(), &out, &err);
    if (st != TC_OK) {
        fprintf(stderr, "toolconnect cron: %s\n", err.message);
    } else {
        size_t i;
        json_t *v;
        json_array_foreach(json_object_get(out, "next"), i, v)
            printf("%s  %s\n", json_string_value(json_object_get(v, "utc")),
                   json_string_value(json_object_get(v, "local")));
    }
    json_decref(out);
    json_decref(body);
    return st == TC_OK ? 0 : 1;
}

static int cmd_batch(void)
{
    char line[BATCH_LINE_MAX];
    int64_t now = tc_now_ms();
    while (fgets(line, sizeof(line), stdin)) {
        size_t len = strlen(line);
        if (len == sizeof(line) - 1 && line[len - 1] != '\n') {
            int ch;
            while ((ch = getchar()) != EOF && ch != '\n')
                ; /* one answer per input line, even for overlong ones */
            printf("{\"error\":{\"code\":\"too_large\",\"message\":\"line longer than %d "
                   "bytes\",\"field\":\"\"}}\n",
                   BATCH_LINE_MAX - 2);
            continue;
        }
        json_error_t jerr;
        json_t *body = json_loads(line, 0, &jerr), *out = NULL;
        tc_err err;
        tc_cron_preview_json(body, now, &out, &err);
        char *s = json_dumps(out, JSON_COMPACT);
        printf("%s\n", s);
        free(s);
        json_decref(out);
        json_decref(body);
    }
    return ferror(stdin) ? 1 : 0;
}

int tc_scheduler_cmd_cron(int argc, char **argv)
{
    if (argc >= 3 && !strcmp(argv[1], "next"))
        return cmd_next(argc - 1, argv + 1);
    if (argc == 2 && !strcmp(argv[1], "batch"))
        return cmd_batch();
    return usage();
}
