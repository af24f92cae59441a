#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "catalog/catalog_int.h"
#include "jsonschema/jsonschema.h"

const char *tc_catalog__placeholder(const char *s)
{
    static _Thread_local char name[128];
    size_t n = strlen(s);
    if (n < 3 || n - 2 >= sizeof(name) || s[0] != '{' || s[n - 1] != '}')
        return NULL;
    for (size_t i = 1; i < n - 1; i++)
        if (s[i] == '{' || s[i] == '}')
            return NULL;
    memcpy(name, s + 1, n - 2);
    name[n - 2] = '\0';
    return name;
}

tc_status tc_catalog__schema_check(const json_t *schema, char *why, size_t whylen)
{
    tc_err err;
    tc_err_clear(&err);
    tc_jsonschema *s = tc_jsonschema_compile(schema, NULL, &err);
    if (!s) {
        snprintf(why, whylen, "is not a valid JSON Schema: %s%s%s", err.message,
                 err.field[0] ? " at " : "", err.field);
        return TC_VALIDATION;
    }
    tc_jsonschema_free(s);
    return TC_OK;
}

static const char *str(const json_t *doc, const char *key)
{
    return json_string_value(json_object_get(doc, key));
}

tc_status tc_catalog_parse(const json_t *doc, const char *origin, tc_catalog_kind kind,
                           bool allow_stdio, tc_connector **out, tc_err *err)
{
    tc_status st = tc_catalog__validate(doc, origin, kind, allow_stdio, err);
    if (st != TC_OK)
        return st;
    tc_connector *c = tc_calloc(1, sizeof(*c));
    c->doc = json_deep_copy(doc);
    c->slug = str(c->doc, "slug");
    c->name = str(c->doc, "name");
    c->category = str(c->doc, "category");
    c->auth_type = str(json_object_get(c->doc, "auth"), "type");
    c->base_url = str(c->doc, "base_url");
    const json_t *mcp = json_object_get(c->doc, "mcp");
    c->is_mcp = mcp != NULL;
    c->stdio = mcp && json_object_get(mcp, "command");
    c->origin = tc_strdup(origin);
    *out = c;
    return TC_OK;
}

void tc_connector_free(tc_connector *c)
{
    if (!c)
        return;
    json_decref(c->doc);
    free(c->origin);
    free(c);
}

const json_t *tc_connector_tool(const tc_connector *c, const char *name)
{
    const json_t *tools = json_object_get(c->doc, "tools");
    for (size_t i = 0; i < json_array_size(tools); i++) {
        const json_t *t = json_array_get(tools, i);
        if (!strcmp(str(t, "name"), name))
            return t;
    }
    return NULL;
}

/* ---- the in-memory catalog ---- */

struct tc_catalog {
    tc_connector **items;
    size_t n, cap;
};

tc_catalog *tc_catalog_new(void)
{
    return tc_calloc(1, sizeof(tc_catalog));
}

void tc_catalog_free(tc_catalog *cat)
{
    if (!cat)
        return;
    for (size_t i = 0; i < cat->n; i++)
        tc_connector_free(cat->items[i]);
    free(cat->items);
    free(cat);
}

size_t tc_catalog_count(const tc_catalog *cat)
{
    return cat->n;
}

const tc_connector *tc_catalog_at(const tc_catalog *cat, size_t i)
{
    return i < cat->n ? cat->items[i] : NULL;
}

const tc_connector *tc_catalog_get(const tc_catalog *cat, const char *slug)
{
    for (size_t i = 0; i < cat->n; i++)
        if (!strcmp(cat->items[i]->slug, slug))
            return cat->items[i];
    return NULL;
}

/* Adds c, replacing a connector with the same slug. Takes ownership. */
static tc_status catalog_put(tc_catalog *cat, tc_connector *c, tc_err *err)
{
    for (size_t i = 0; i < cat->n; i++) {
        if (strcmp(cat->items[i]->slug, c->slug))
            continue;
        tc_connector_free(cat->items[i]);
        cat->items[i] = c;
        return TC_OK;
    }
    if (cat->n == TC_CATALOG_MAX_CONNECTORS) {
        tc_connector_free(c);
        return tc_failf(err, TC_TOO_LARGE, NULL, "more than %d catalog connectors", TC_CATALOG_MAX_CONNECTORS);
    }
    if (cat->n == cat->cap) {
        cat->cap = cat->cap ? cat->cap * 2 : 16;
        cat->items = tc_realloc(cat->items, cat->cap * sizeof(*cat->items));
    }
    cat->items[cat->n++] = c;
    return TC_OK;
}

static tc_status load_text(tc_catalog *cat, const char *origin, const char *text, tc_err *err)
{
    json_error_t jerr;
    json_t *doc = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
    if (!doc)
        return tc_failf(err, TC_INVALID_JSON, NULL, "%s:%d:%d: %s", origin, jerr.line, jerr.column,
                        jerr.text);
    tc_connector *c = NULL;
    tc_status st = tc_catalog_parse(doc, origin, TC_CATALOG_BUILTIN, true, &c, err);
    json_decref(doc);
    return st == TC_OK ? catalog_put(cat, c, err) : st;
}

static tc_status load_file(tc_catalog *cat, const char *path, tc_err *err)
{
    struct stat sb;
    if (stat(path, &sb) != 0 || !S_ISREG(sb.st_mode))
        return tc_failf(err, TC_IO, NULL, "%s: cannot read the file", path);
    if (sb.st_size > TC_CATALOG_MAX_FILE)
        return tc_failf(err, TC_TOO_LARGE, NULL, "%s: larger than %d bytes", path, TC_CATALOG_MAX_FILE);
    FILE *f = fopen(path, "rb");
    if (!f)
        return tc_failf(err, TC_IO, NULL, "%s: cannot read the file", path);
    char *text = tc_malloc((size_t)sb.st_size + 1);
    size_t n = fread(text, 1, (size_t)sb.st_size, f);
    fclose(f);
    text[n] = '\0';
    tc_status st = load_text(cat, path, text, err);
    free(text);
    return st;
}

tc_status tc_catalog_load_builtin(tc_catalog *cat, tc_err *err)
{
    for (size_t i = 0; i < tc_catalog__nbuiltin; i++) {
        tc_status st = load_text(cat, tc_catalog__builtin[i].name, tc_catalog__builtin[i].text, err);
        if (st != TC_OK)
            return st;
    }
    return TC_OK;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Lists *.json in dir, sorted so loading order is stable. */
static tc_status list_json(const char *dir, char ***names, size_t *n, tc_err *err)
{
    DIR *d = opendir(dir);
    if (!d)
        return tc_failf(err, TC_IO, NULL, "%s: cannot open the catalog directory", dir);
    size_t cap = 0;
    *names = NULL;
    *n = 0;
    for (struct dirent *e; (e = readdir(d));) {
        size_t len = strlen(e->d_name);
        if (len < 6 || strcmp(e->d_name + len - 5, ".json") || e->d_name[0] == '.')
            continue;
        if (*n == cap) {
            cap = cap ? cap * 2 : 32;
            *names = tc_realloc(*names, cap * sizeof(char *));
        }
        (*names)[(*n)++] = tc_asprintf("%s/%s", dir, e->d_name);
    }
    closedir(d);
    if (*n)
        qsort(*names, *n, sizeof(char *), cmp_names);
    return TC_OK;
}

tc_status tc_catalog_load_path(tc_catalog *cat, const char *dirs, tc_err *err)
{
    char *copy = tc_strdup(dirs ? dirs : "");
    tc_status st = TC_OK;
    char *save = NULL;
    for (char *dir = strtok_r(copy, ":", &save); dir && st == TC_OK; dir = strtok_r(NULL, ":", &save)) {
        char **names = NULL;
        size_t n = 0;
        st = list_json(dir, &names, &n, err);
        for (size_t i = 0; i < n; i++) {
            if (st == TC_OK)
                st = load_file(cat, names[i], err);
            free(names[i]);
        }
        free(names);
    }
    free(copy);
    return st;
}
