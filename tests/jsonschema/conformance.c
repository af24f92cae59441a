/* JSON-Schema-Test-Suite runner for tc_jsonschema.
 *
 *   jsonschema_conformance --dialect 2020-12|7 [--min-rate 97] [--optional]
 *                          [--quiet] SUITE_DIR
 *
 * Walks the *.json files of SUITE_DIR (the required cases), compiles each group's schema
 * and checks every test's expected validity. Groups whose schema needs a
 * remote $ref (compile fails with code "schema_remote_ref") are counted
 * separately and left out of the rate. Prints counts per file and every
 * failing case. Exit 1 when the pass rate is below --min-rate, 77 when the
 * suite directory is missing (ctest reports it as skipped).
 * --optional also runs SUITE_DIR/optional (format with assertion on); those
 * counts are informational and do not affect the exit code. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonschema/jsonschema.h"

typedef struct {
    size_t pass, fail, remote, total;
} counts;

static bool quiet;

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted list of *.json names in dir; NULL if the directory is missing. */
static char **list_json(const char *dir, size_t *n)
{
    DIR *d = opendir(dir);
    if (!d)
        return NULL;
    char **names = NULL;
    size_t cap = 0;
    *n = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        size_t len = strlen(de->d_name);
        if (len < 6 || strcmp(de->d_name + len - 5, ".json"))
            continue;
        if (*n == cap)
            names = tc_realloc(names, (cap = cap ? cap * 2 : 64) * sizeof *names);
        names[(*n)++] = tc_strdup(de->d_name);
    }
    closedir(d);
    qsort(names, *n, sizeof *names, cmp_str);
    return names;
}

static void run_group(const char *file, const json_t *group, const tc_jsonschema_opts *o,
                      counts *c)
{
    const char *gdesc = json_string_value(json_object_get(group, "description"));
    const json_t *tests = json_object_get(group, "tests");
    tc_err err;
    tc_err_clear(&err);
    tc_jsonschema *s = tc_jsonschema_compile(json_object_get(group, "schema"), o, &err);
    size_t ntests = json_array_size(tests);
    c->total += ntests;
    if (!s && !strcmp(tc_err_code(&err), "schema_remote_ref")) {
        c->remote += ntests;
        return;
    }
    size_t i;
    json_t *t;
    json_array_foreach(tests, i, t) {
        bool want = json_is_true(json_object_get(t, "valid"));
        bool got = false;
        if (s)
            got = tc_jsonschema_validate(s, json_object_get(t, "data"), NULL) == TC_OK;
        if (s && got == want) {
            c->pass++;
            continue;
        }
        c->fail++;
        if (!quiet)
            printf("  FAIL %s | %s | %s: %s\n", file, gdesc,
                   json_string_value(json_object_get(t, "description")),
                   s ? (want ? "rejected a valid instance" : "accepted an invalid instance")
                     : err.message);
    }
    tc_jsonschema_free(s);
}

static void run_file(const char *dir, const char *name, const tc_jsonschema_opts *o,
                     counts *total)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    json_error_t je;
    json_t *doc = json_load_file(path, JSON_ALLOW_NUL, &je);
    counts c = {0};
    if (!doc) {
        printf("%-40s cannot load: %s (not counted)\n", name, je.text);
        return;
    }
    size_t i;
    json_t *g;
    json_array_foreach(doc, i, g) run_group(name, g, o, &c);
    json_decref(doc);
    printf("%-40s %4zu/%-4zu passed", name, c.pass, c.total - c.remote);
    if (c.remote)
        printf("  (%zu remote-ref cases excluded)", c.remote);
    printf("\n");
    total->pass += c.pass;
    total->fail += c.fail;
    total->remote += c.remote;
    total->total += c.total;
}

static bool run_dir(const char *dir, const tc_jsonschema_opts *o, counts *total)
{
    size_t n;
    char **names = list_json(dir, &n);
    if (!names)
        return false;
    for (size_t i = 0; i < n; i++) {
        run_file(dir, names[i], o, total);
        free(names[i]);
    }
    free(names);
    return true;
}

static void run_optional(const char *dir, tc_jsonschema_opts o)
{
    char sub[4096];
    counts c = {0};
    printf("\noptional (informational, not part of the rate):\n");
    snprintf(sub, sizeof sub, "%s/optional", dir);
    run_dir(sub, &o, &c);
    o.format_assert = true;
    snprintf(sub, sizeof sub, "%s/optional/format", dir);
    run_dir(sub, &o, &c);
    printf("optional total: %zu passed, %zu failed, %zu remote-ref excluded\n", c.pass, c.fail,
           c.remote);
}

int main(int argc, char **argv)
{
    tc_jsonschema_opts o = {0};
    double min_rate = 0;
    bool optional = false;
    const char *dir = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--dialect") && i + 1 < argc)
            o.default_dialect = !strcmp(argv[++i], "7") ? TC_JSONSCHEMA_DRAFT7
                                                         : TC_JSONSCHEMA_DRAFT2020_12;
        else if (!strcmp(argv[i], "--min-rate") && i + 1 < argc)
            min_rate = atof(argv[++i]);
        else if (!strcmp(argv[i], "--optional"))
            optional = true;
        else if (!strcmp(argv[i], "--quiet"))
            quiet = true;
        else
            dir = argv[i];
    }
    if (!dir) {
        fprintf(stderr, "usage: jsonschema_conformance [--dialect 2020-12|7] [--min-rate N] "
                        "[--optional] [--quiet] SUITE_DIR\n");
        return 2;
    }
    counts c = {0};
    if (!run_dir(dir, &o, &c)) {
        printf("SKIPPED: test suite directory %s not found (install json-schema-test-suite "
               "or check out ../shared/data/JSON-Schema-Test-Suite)\n", dir);
        return 77;
    }
    size_t counted = c.total - c.remote;
    double rate = counted ? 100.0 * (double)c.pass / (double)counted : 0;
    printf("\nTOTAL %s: %zu cases, %zu remote-ref excluded, %zu/%zu required cases passed "
           "(%.2f%%), %zu failed\n", dir, c.total, c.remote, c.pass, counted, rate, c.fail);
    if (optional)
        run_optional(dir, o);
    if (rate < min_rate) {
        printf("FAILED: pass rate %.2f%% is under %.2f%%\n", rate, min_rate);
        return 1;
    }
    return 0;
}
