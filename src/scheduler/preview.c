/* preview: JSON for POST /api/cron/preview and the `toolconnect cron` command. */
#include <stdio.h>
#include <string.h>

#include "scheduler/sched_int.h"

#define PREVIEW_N_MAX 100
#define PREVIEW_N_DEFAULT 10

json_t *tc_cron_next_json(const tc_cron *c, const tc_tz *tz, int64_t from_ms, int n)
{
    json_t *list = json_array();
    int64_t t = from_ms;
    for (int i = 0; i < n && tc_cron_next(c, tz, t, &t) == TC_OK; i++) {
        char utc[32], local[40];
        tc_time_format(t, utc);
        tc_tz_format_local(tz, t, local);
        json_array_append_new(list, json_pack("{s:s, s:s}", "utc", utc, "local", local));
    }
    return json_pack("{s:o}", "next", list);
}

static json_t *error_doc(const tc_err *e, const tc_cron_error *ce)
{
    json_t *inner = json_pack("{s:s, s:s, s:s}", "code", tc_err_code(e), "message", e->message,
                              "field", e->field);
    if (ce) {
        json_object_set_new(inner, "position", json_integer(ce->position));
        json_object_set_new(inner, "cron_field", json_string(ce->field));
    }
    return json_pack("{s:o}", "error", inner);
}

static tc_status get_string(const json_t *body, const char *key, bool required, size_t max,
                            const char **out, tc_err *err)
{
    json_t *v = json_object_get(body, key);
    *out = NULL;
    if (!v || json_is_null(v))
        return required ? tc_failf(err, TC_VALIDATION, key, "%s is required", key) : TC_OK;
    if (!json_is_string(v))
        return tc_failf(err, TC_VALIDATION, key, "%s must be a string", key);
    if (json_string_length(v) > max || strlen(json_string_value(v)) != json_string_length(v))
        return tc_failf(err, TC_VALIDATION, key, "%s must be at most %zu characters", key, max);
    *out = json_string_value(v);
    return TC_OK;
}

static tc_status get_n(const json_t *body, int *n, tc_err *err)
{
    json_t *v = json_object_get(body, "n");
    *n = PREVIEW_N_DEFAULT;
    if (!v || json_is_null(v))
        return TC_OK;
    if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > PREVIEW_N_MAX)
        return tc_failf(err, TC_VALIDATION, "n", "n must be an integer from 1 to %d",
                        PREVIEW_N_MAX);
    *n = (int)json_integer_value(v);
    return TC_OK;
}

tc_status tc_cron_preview_json(const json_t *body, int64_t now_ms, json_t **out, tc_err *err)
{
    tc_err local_err;
    tc_err *e = err ? err : &local_err;
    tc_err_clear(e);
    tc_cron_error ce;
    const char *expr, *zone, *from;
    const tc_tz *tz = NULL;
    tc_cron c;
    int n;
    int64_t from_ms = now_ms;
    tc_status st;
    if (!json_is_object(body)) {
        st = tc_failf(e, TC_BAD_REQUEST, NULL, "the body must be a JSON object");
        goto fail;
    }
    if ((st = get_string(body, "cron", true, TC_CRON_EXPR_MAX, &expr, e)) != TC_OK ||
        (st = get_string(body, "timezone", true, TC_TZ_NAME_MAX, &zone, e)) != TC_OK ||
        (st = get_string(body, "from", false, 64, &from, e)) != TC_OK ||
        (st = get_n(body, &n, e)) != TC_OK)
        goto fail;
    if (tc_cron_parse(expr, &c, &ce) != TC_OK) {
        st = tc_failf(e, TC_VALIDATION, "cron", "%s", ce.message);
        *out = error_doc(e, &ce);
        return st;
    }
    if ((st = tc_tz_load(zone, &tz, e)) != TC_OK) {
        if (st == TC_NOT_FOUND)
            st = e->status = TC_VALIDATION; /* a bad field, not a missing resource */
        goto fail;
    }
    if (from && tc_time_parse(from, &from_ms) != TC_OK) {
        st = tc_failf(e, TC_VALIDATION, "from",
                      "from must be an RFC 3339 time, e.g. "
                      "2026-01-31T09:00:00Z");
        goto fail;
    }
    *out = tc_cron_next_json(&c, tz, from_ms, n);
    return TC_OK;
fail:
    *out = error_doc(e, NULL);
    return st;
}
