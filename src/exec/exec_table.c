/* The executor table: one row per executor, keyed by the tool's source.
 * Adding one (MCP): write exec_<name>.c defining `const tc_executor
 * tc_exec_<name>` and add its row here. */
#include <string.h>

#include "exec/exec_int.h"

extern const tc_executor tc_exec_rest;
extern const tc_executor tc_exec_mcp;

const tc_executor *const tc_executors[] = {
    &tc_exec_rest,
    &tc_exec_mcp,
};
const size_t tc_nexecutors = sizeof(tc_executors) / sizeof(tc_executors[0]);

const tc_executor *tc_executor_find(const char *source)
{
    for (size_t i = 0; source && i < tc_nexecutors; i++)
        if (!strcmp(tc_executors[i]->name, source))
            return tc_executors[i];
    return NULL;
}
