/* toolconnect: one binary, a table of subcommands. Each command's work lives
 * in its module; this file only dispatches. */
#include <stdio.h>
#include <string.h>

#include "app/app.h"
#include "config/config.h"
#include "core/core.h"
#include "crypto/keys.h"
#include "scheduler/scheduler.h"
#include "jsonschema/jsonschema.h"

typedef struct {
    const char *name;
    const char *summary;
    int (*run)(int argc, char **argv); /* argv[0] is the command name */
} command;

static int cmd_version(int argc, char **argv)
{
    printf("toolconnect %s\n", TC_VERSION);
    return 0;
}

static int cmd_help(int argc, char **argv);

static const command commands[] = {
    {"serve", "migrate the database and start the HTTP server", tc_app_serve_main},
    {"migrate", "apply database migrations and exit", tc_app_migrate_main},
    {"schema", "validate JSON against a JSON Schema", tc_jsonschema_cli_main},
    {"cron", "preview a cron schedule: cron next EXPR [TZ] [FROM] [N] | cron batch", tc_scheduler_cmd_cron},
    {"keys", "rotate the secret-box key (keys rotate) or show key status", tc_keys_main},
    {"version", "print the version", cmd_version},
    {"help", "show this help", cmd_help},
};
#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static int cmd_help(int argc, char **argv)
{
    printf("usage: toolconnect <command> [--setting=value ...]\n\ncommands:\n");
    for (size_t i = 0; i < NCOMMANDS; i++)
        printf("  %-18s %s\n", commands[i].name, commands[i].summary);
    printf("\n");
    tc_config_print_help(stdout);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))
        return cmd_help(argc, argv);
    if (!strcmp(argv[1], "--version"))
        return cmd_version(argc, argv);
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (!strcmp(argv[1], commands[i].name))
            return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "toolconnect: unknown command \"%s\" (see toolconnect --help)\n", argv[1]);
    return 2;
}
