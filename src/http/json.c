/* JSON request bodies: content type, UTF-8, nesting and string limits checked
 * before jansson parses; small field readers that name the failing field. */
#include <string.h>
#include <strings.h>

#include "http/http_int.h"

typedef enum { SCAN_OK, SCAN_TOO_DEEP, SCAN_STRING_TOO_LONG } scan_result;

/* One linear pass over raw JSON text tracking nesting depth and string
 * lengths (in bytes, escapes counted as written). Malformed text is left to
 * the parser; this only enforces limits. *at = offending byte offset. */
static scan_result json_scan(const char *s, size_t n, int max_depth, size_t max_str, size_t *at)
{
    int depth = 0;
    bool in_str = false;
    size_t str_start = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (in_str) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_str = false;
            if (in_str && max_str && i - str_start > max_str) {
                *at = str_start;
                return SCAN_STRING_TOO_LONG;
            }
            continue;
        }
        if (c == '"') {
            in_str = true;
            str_start = i + 1;
        } else if (c == '[' || c == '{') {
            if (++depth > max_depth) {
                *at = i;
                return SCAN_TOO_DEEP;
            }
        } else if (c == ']' || c == '}') {
            depth--;
        }
    }
    return SCAN_OK;
}

long tc_http_json_depth_check(const char *s, size_t n, int max_depth)
{
    size_t at = 0;
    return json_scan(s, n, max_depth, 0, &at) == SCAN_TOO_DEEP ? (long)at : -1;
}

static bool is_json_type(const char *ct)
{
    static const char want[] = "application/json";
    if (!ct)
        return false;
    while (*ct == ' ')
        ct++;
    if (strncasecmp(ct, want, sizeof(want) - 1) != 0)
        return false;
    char next = ct[sizeof(want) - 1];
    return next == '\0' || next == ';' || next == ' ';
}

tc_status tc_http_json_body(tc_http_req *req, json_t **out, tc_err *err)
{
    http_conn *hc = (http_conn *)req;
    tc_http_server *s = hc->srv;
    *out = NULL;
    if (hc->json_body) {
        *out = hc->json_body;
        return TC_OK;
    }
    if (!is_json_type(tc_http_header(req, "Content-Type")))
        return tc_failf(err, TC_UNSUPPORTED_MEDIA, NULL,
                        "the body must be JSON with Content-Type: application/json");
    size_t n = hc->body.len;
    const char *b = hc->body.data ? hc->body.data : "";
    if (n == 0)
        return tc_failf(err, TC_INVALID_JSON, NULL, "the request body is empty; JSON expected");
    if (!tc_utf8_valid(b, n))
        return tc_failc(err, TC_BAD_REQUEST, "invalid_utf8", NULL, "the body is not valid UTF-8");
    size_t at = 0;
    size_t smax = s->opt.json_string_max ? s->opt.json_string_max : s->opt.body_max;
    switch (json_scan(b, n, s->opt.json_depth_max, smax, &at)) {
    case SCAN_TOO_DEEP:
        return tc_failc(err, TC_BAD_REQUEST, "json_too_deep", NULL,
                        "JSON nesting deeper than %d at byte %zu", s->opt.json_depth_max, at);
    case SCAN_STRING_TOO_LONG:
        return tc_failc(err, TC_TOO_LARGE, "json_string_too_long", NULL,
                        "a JSON string at byte %zu is longer than %zu bytes", at, smax);
    case SCAN_OK:
        break;
    }
    json_error_t je;
    json_t *j = json_loadb(b, n, JSON_REJECT_DUPLICATES, &je);
    if (!j)
        return tc_failf(err, TC_INVALID_JSON, NULL, "malformed JSON at line %d column %d (byte %d): %s",
                        je.line, je.column, je.position, je.text);
    hc->json_body = j;
    *out = j;
    return TC_OK;
}

/* ---- field readers ------------------------------------------------------ */

static const char *type_name(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER: return "an integer";
    case JSON_REAL: return "a number";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    case JSON_NULL: return "null";
    }
    return "unknown";
}

/* Common head of every reader: the member, or NULL when it may be absent.
 * Returns TC_DECLINED for "absent and optional". */
static tc_status member(const json_t *obj, const char *name, bool required, json_t **v,
                        tc_err *err)
{
    if (!json_is_object(obj))
        return tc_failf(err, TC_VALIDATION, NULL, "the body must be a JSON object");
    *v = json_object_get(obj, name);
    if (*v && !json_is_null(*v))
        return TC_OK;
    if (required)
        return tc_failf(err, TC_VALIDATION, name, "%s is required", name);
    return TC_DECLINED;
}

static tc_status wrong_type(const char *name, const char *want, const json_t *v, tc_err *err)
{
    return tc_failf(err, TC_VALIDATION, name, "%s must be %s, not %s", name, want, type_name(v));
}

tc_status tc_json_str(const json_t *obj, const char *name, bool required, size_t max,
                      const char **out, tc_err *err)
{
    json_t *v = NULL;
    tc_status st = member(obj, name, required, &v, err);
    if (st != TC_OK)
        return st == TC_DECLINED ? TC_OK : st;
    if (!json_is_string(v))
        return wrong_type(name, "a string", v, err);
    size_t len = json_string_length(v);
    if (required && len == 0)
        return tc_failf(err, TC_VALIDATION, name, "%s must not be empty", name);
    if (max && len > max)
        return tc_failf(err, TC_VALIDATION, name, "%s must be at most %zu bytes", name, max);
    if (strlen(json_string_value(v)) != len)
        return tc_failf(err, TC_VALIDATION, name, "%s must not contain NUL characters", name);
    *out = json_string_value(v);
    return TC_OK;
}

tc_status tc_json_bool(const json_t *obj, const char *name, bool required, bool *out, tc_err *err)
{
    json_t *v = NULL;
    tc_status st = member(obj, name, required, &v, err);
    if (st != TC_OK)
        return st == TC_DECLINED ? TC_OK : st;
    if (!json_is_boolean(v))
        return wrong_type(name, "a boolean", v, err);
    *out = json_is_true(v);
    return TC_OK;
}

tc_status tc_json_int(const json_t *obj, const char *name, bool required, int64_t min,
                      int64_t max, int64_t *out, tc_err *err)
{
    json_t *v = NULL;
    tc_status st = member(obj, name, required, &v, err);
    if (st != TC_OK)
        return st == TC_DECLINED ? TC_OK : st;
    if (!json_is_integer(v))
        return wrong_type(name, "an integer", v, err);
    json_int_t i = json_integer_value(v);
    if (i < min || i > max)
        return tc_failf(err, TC_VALIDATION, name, "%s must be between %lld and %lld", name,
                        (long long)min, (long long)max);
    *out = i;
    return TC_OK;
}

static tc_status container(const json_t *obj, const char *name, bool required, bool want_obj,
                           json_t **out, tc_err *err)
{
    json_t *v = NULL;
    *out = NULL;
    tc_status st = member(obj, name, required, &v, err);
    if (st != TC_OK)
        return st == TC_DECLINED ? TC_OK : st;
    if (want_obj ? !json_is_object(v) : !json_is_array(v))
        return wrong_type(name, want_obj ? "an object" : "an array", v, err);
    *out = v;
    return TC_OK;
}

tc_status tc_json_obj(const json_t *obj, const char *name, bool required, json_t **out,
                      tc_err *err)
{
    return container(obj, name, required, true, out, err);
}

tc_status tc_json_arr(const json_t *obj, const char *name, bool required, json_t **out,
                      tc_err *err)
{
    return container(obj, name, required, false, out, err);
}

tc_status tc_json_read(const json_t *obj, const tc_json_field *fields, size_t n, void *out,
                       tc_err *err)
{
    if (!json_is_object(obj))
        return tc_failf(err, TC_VALIDATION, NULL, "the body must be a JSON object");
    for (size_t i = 0; i < n; i++) {
        const tc_json_field *f = &fields[i];
        void *slot = (char *)out + f->offset;
        tc_status st = TC_INTERNAL;
        switch (f->type) {
        case TC_JF_STR:
            st = tc_json_str(obj, f->name, f->required, (size_t)f->max, (const char **)slot, err);
            break;
        case TC_JF_BOOL:
            st = tc_json_bool(obj, f->name, f->required, (bool *)slot, err);
            break;
        case TC_JF_INT:
            st = tc_json_int(obj, f->name, f->required, f->min, f->max, (int64_t *)slot, err);
            break;
        case TC_JF_OBJ:
            st = tc_json_obj(obj, f->name, f->required, (json_t **)slot, err);
            break;
        case TC_JF_ARR:
            st = tc_json_arr(obj, f->name, f->required, (json_t **)slot, err);
            break;
        }
        if (st != TC_OK)
            return st;
    }
    return TC_OK;
}
