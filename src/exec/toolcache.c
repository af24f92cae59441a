/* A small cache of tool documents ({id, name, input_schema, source,
 * request, timeout_ms, updated_at}, as tc_repo_connector_tool returns them)
 * keyed by (tool id, updated_at): the run path reads only the version of a
 * tool (one indexed row) and parses its schema and request template once
 * per version instead of once per call. Direct-mapped, one mutex; entries
 * are shared read-only (jansson reference counts are atomic). */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "exec/exec_int.h"

#define NSLOTS 256

typedef struct entry {
    char id[37];
    int64_t updated_at;
    json_t *tool;
} entry;

struct tc_tool_cache {
    pthread_mutex_t mu;
    entry slots[NSLOTS];
};

static size_t slot_of(const char *id)
{
    uint64_t h = 1469598103934665603ull;
    for (; *id; id++)
        h = (h ^ (unsigned char)*id) * 1099511628211ull;
    return (size_t)(h % NSLOTS);
}

tc_tool_cache *tc_tool_cache_new(void)
{
    tc_tool_cache *t = tc_calloc(1, sizeof(*t));
    pthread_mutex_init(&t->mu, NULL);
    return t;
}

void tc_tool_cache_free(tc_tool_cache *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < NSLOTS; i++)
        json_decref(t->slots[i].tool);
    pthread_mutex_destroy(&t->mu);
    free(t);
}

json_t *tc_tool_cache_get(tc_tool_cache *t, const char *id, int64_t updated_at)
{
    if (!id || !*id)
        return NULL;
    json_t *out = NULL;
    entry *e = &t->slots[slot_of(id)];
    pthread_mutex_lock(&t->mu);
    if (e->tool && e->updated_at == updated_at && !strcmp(e->id, id))
        out = json_incref(e->tool);
    pthread_mutex_unlock(&t->mu);
    return out;
}

void tc_tool_cache_put(tc_tool_cache *t, json_t *tool)
{
    const char *id = json_string_value(json_object_get(tool, "id"));
    if (!id || strlen(id) > 36)
        return;
    int64_t updated_at = json_integer_value(json_object_get(tool, "updated_at"));
    entry *e = &t->slots[slot_of(id)];
    pthread_mutex_lock(&t->mu);
    json_t *old = e->tool;
    memcpy(e->id, id, strlen(id) + 1);
    e->updated_at = updated_at;
    e->tool = json_incref(tool);
    pthread_mutex_unlock(&t->mu);
    json_decref(old);
}
