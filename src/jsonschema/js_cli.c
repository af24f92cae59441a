/* `toolconnect schema validate SCHEMA.json INSTANCE.json [--format] [--draft7] [--json]`
 * Exit: 0 valid, 1 invalid, 2 bad schema, 3 usage error or unreadable file. */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "jsonschema/jsonschema.h"

#define CLI_MAX_FILE (64u << 20)

static void usage(FILE *f)
{
    fprintf(f, "usage: toolconnect schema validate SCHEMA.json INSTANCE.json "
               "[--format] [--draft7] [--json]\n"
               "  --format  assert \"format\" (date-time, email, uri, ...)\n"
               "  --draft7  treat schemas without $schema as draft-07 (default 2020-12)\n"
               "  --json    print {\"valid\": ..., \"errors\": [...]} instead of lines\n"
               "exit: 0 valid, 1 invalid, 2 the schema is bad, 3 usage or unreadable file\n");
}

/* Loads a JSON file of any type; NULL with a message on stderr. Integers
 * beyond 64 bits are read as reals rather than rejected. */
static json_t *load(const char *path, const char *what)
{
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) {
        fprintf(stderr, "toolconnect schema: cannot read %s file %s\n", what, path);
        return NULL;
    }
    if ((unsigned long long)st.st_size > CLI_MAX_FILE) {
        fprintf(stderr, "toolconnect schema: %s file %s is larger than %u MiB\n", what, path,
                CLI_MAX_FILE >> 20);
        return NULL;
    }
    json_error_t je;
    json_t *v = json_load_file(path, JSON_DECODE_ANY, &je);
    if (!v && strstr(je.text, "too big"))
        v = json_load_file(path, JSON_DECODE_ANY | JSON_DECODE_INT_AS_REAL, &je);
    if (!v)
        fprintf(stderr, "toolconnect schema: %s file %s is not valid JSON: %s (line %d)\n",
                what, path, je.text, je.line);
    return v;
}

static void print_errors(const json_t *errors)
{
    size_t i;
    json_t *e;
    json_array_foreach(errors, i, e) {
        const char *path = json_string_value(json_object_get(e, "path"));
        printf("%s: %s  [%s at %s]\n", path && *path ? path : "(root)",
               json_string_value(json_object_get(e, "message")),
               json_string_value(json_object_get(e, "keyword")),
               json_string_value(json_object_get(e, "schema_path")));
    }
}

static int run(const char *schema_path, const char *inst_path, const tc_jsonschema_opts *o,
               bool as_json)
{
    int rc = 3;
    json_t *schema = load(schema_path, "schema"), *inst = NULL, *errors = NULL;
    tc_jsonschema *s = NULL;
    if (!schema) {
        rc = 2;
        goto out;
    }
    tc_err err;
    tc_err_clear(&err);
    s = tc_jsonschema_compile(schema, o, &err);
    if (!s) {
        fprintf(stderr, "toolconnect schema: bad schema: %s\n", err.message);
        rc = 2;
        goto out;
    }
    if (!(inst = load(inst_path, "instance")))
        goto out;
    tc_status st = tc_jsonschema_validate(s, inst, &errors);
    rc = st == TC_OK ? 0 : 1;
    if (as_json) {
        json_t *list = errors ? json_incref(errors) : json_array();
        json_t *res = json_pack("{s:b, s:o}", "valid", st == TC_OK, "errors", list);
        json_dumpf(res, stdout, JSON_INDENT(2));
        printf("\n");
        json_decref(res);
    } else if (st == TC_OK) {
        printf("valid\n");
    } else {
        print_errors(errors);
    }
out:
    json_decref(errors);
    json_decref(inst);
    json_decref(schema);
    tc_jsonschema_free(s);
    return rc;
}

int tc_jsonschema_cli_main(int argc, char **argv)
{
    tc_jsonschema_opts o = {0};
    bool as_json = false;
    const char *files[2];
    int nfiles = 0;
    if (argc < 2 || strcmp(argv[1], "validate") != 0) {
        usage(argc >= 2 && !strcmp(argv[1], "--help") ? stdout : stderr);
        return argc >= 2 && !strcmp(argv[1], "--help") ? 0 : 3;
    }
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--format"))
            o.format_assert = true;
        else if (!strcmp(argv[i], "--draft7"))
            o.default_dialect = TC_JSONSCHEMA_DRAFT7;
        else if (!strcmp(argv[i], "--json"))
            as_json = true;
        else if (argv[i][0] == '-' && argv[i][1]) {
            fprintf(stderr, "toolconnect schema: unknown option %s\n", argv[i]);
            usage(stderr);
            return 3;
        } else if (nfiles < 2)
            files[nfiles++] = argv[i];
        else
            nfiles = 3;
    }
    if (nfiles != 2) {
        usage(stderr);
        return 3;
    }
    return run(files[0], files[1], &o, as_json);
}
