/* Notification preferences: validation of the API document, its JSON
 * shape, quiet hours and the release time of a held message. */
#include <stdio.h>
#include <string.h>

#include "notify/notify.h"

#define ALERT_TYPES_MAX 32
#define DAY_MIN 1440

int tc_notify_quiet_minutes_left(int now_min, int start, int end)
{
    if (start < 0 || end < 0 || start == end || now_min < 0 || now_min >= DAY_MIN)
        return 0;
    if (start < end)
        return now_min >= start && now_min < end ? end - now_min : 0;
    /* wraps midnight: [start, 1440) + [0, end) */
    if (now_min >= start)
        return DAY_MIN - now_min + end;
    return now_min < end ? end - now_min : 0;
}

static int local_minute(const char *tz, int64_t ms, tc_notify_tz_offset_fn tz_offset)
{
    int64_t off = tz_offset ? tz_offset(tz, ms) : 0;
    int64_t s = ms / 1000 + off;
    int64_t day = s % 86400;
    if (day < 0)
        day += 86400;
    return (int)(day / 60);
}

int64_t tc_notify_release_at(const tc_notify_prefs *p, int64_t now, int64_t digest_ms,
                             tc_notify_tz_offset_fn tz_offset, int64_t *digest_slot)
{
    int64_t at = now;
    *digest_slot = 0;
    if (!strcmp(p->delivery, "hourly_digest") && digest_ms > 0) {
        *digest_slot = now - now % digest_ms;
        at = *digest_slot + digest_ms;
    }
    int left = tc_notify_quiet_minutes_left(local_minute(p->timezone, at, tz_offset),
                                            p->quiet_start, p->quiet_end);
    if (left > 0)
        at = at - at % 60000 + (int64_t)left * 60000;
    return at;
}

/* ---- the API document ----------------------------------------------------- */

static tc_status bad(tc_err *err, const char *field, const char *msg)
{
    return tc_failf(err, TC_VALIDATION, field, "%s: %s", field, msg);
}

static tc_status parse_types(const json_t *v, json_t **out, tc_err *err)
{
    if (!json_is_array(v))
        return bad(err, "alert_types", "must be an array of alert type names");
    if (json_array_size(v) > ALERT_TYPES_MAX)
        return bad(err, "alert_types", "too many entries");
    json_t *types = json_array();
    size_t i;
    const json_t *e;
    json_array_foreach(v, i, e) {
        const char *canon = tc_notify_alert_type_canonical(json_string_value(e));
        if (!canon) {
            json_decref(types);
            char field[48];
            snprintf(field, sizeof(field), "alert_types[%zu]", i);
            return tc_failf(err, TC_VALIDATION, field,
                            "%s: unknown alert type; known: health.down, health.recovered, "
                            "connection.needs_reconnect, webhook.disabled, schedule.failing, "
                            "schedule.paused", field);
        }
        bool dup = false;
        size_t j;
        const json_t *have;
        json_array_foreach(types, j, have) dup = dup || !strcmp(json_string_value(have), canon);
        if (!dup)
            json_array_append_new(types, json_string(canon));
    }
    *out = types;
    return TC_OK;
}

static tc_status parse_minutes(const json_t *v, const char *field, int *out, tc_err *err)
{
    if (json_is_null(v)) {
        *out = -1;
        return TC_OK;
    }
    if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) >= DAY_MIN)
        return bad(err, field, "must be minutes after local midnight (0..1439) or null");
    *out = (int)json_integer_value(v);
    return TC_OK;
}

static const char *const known_fields[] = {
    "email_enabled", "alert_types", "timezone", "quiet_start", "quiet_end", "delivery",
    "available_alert_types", "updated_at", NULL, /* the last two are read-only: ignored */
};

static tc_status check_fields(const json_t *body, tc_err *err)
{
    const char *k;
    const json_t *v;
    json_object_foreach((json_t *)body, k, v) {
        bool ok = false;
        for (size_t i = 0; known_fields[i] && !ok; i++)
            ok = !strcmp(known_fields[i], k);
        if (!ok)
            return tc_failf(err, TC_VALIDATION, k, "%s: unknown field", k);
    }
    return TC_OK;
}

static tc_status parse_scalars(const json_t *body, tc_notify_tz_valid_fn tz_valid,
                               tc_notify_prefs *out, tc_err *err)
{
    const json_t *v;
    if ((v = json_object_get(body, "email_enabled"))) {
        if (!json_is_boolean(v))
            return bad(err, "email_enabled", "must be true or false");
        out->email_enabled = json_is_true(v);
    }
    if ((v = json_object_get(body, "timezone"))) {
        const char *tz = json_string_value(v);
        if (!tz || !*tz || strlen(tz) >= sizeof(out->timezone))
            return bad(err, "timezone", "must be an IANA time zone name such as Europe/Berlin");
        if (tz_valid ? !tz_valid(tz) : strcmp(tz, "UTC") != 0)
            return tc_failf(err, TC_VALIDATION, "timezone", "timezone: unknown time zone \"%s\"", tz);
        snprintf(out->timezone, sizeof(out->timezone), "%s", tz);
    }
    if ((v = json_object_get(body, "delivery"))) {
        const char *d = json_string_value(v);
        if (d && !strcmp(d, "digest"))
            d = "hourly_digest";
        if (!d || (strcmp(d, "immediate") && strcmp(d, "hourly_digest")))
            return bad(err, "delivery", "must be immediate or hourly_digest");
        snprintf(out->delivery, sizeof(out->delivery), "%s", d);
    }
    tc_status st = TC_OK;
    if ((v = json_object_get(body, "quiet_start")))
        st = parse_minutes(v, "quiet_start", &out->quiet_start, err);
    if (st == TC_OK && (v = json_object_get(body, "quiet_end")))
        st = parse_minutes(v, "quiet_end", &out->quiet_end, err);
    if (st != TC_OK)
        return st;
    if ((out->quiet_start < 0) != (out->quiet_end < 0))
        return bad(err, out->quiet_start < 0 ? "quiet_start" : "quiet_end",
                   "quiet_start and quiet_end are set together (or both null)");
    if (out->quiet_start >= 0 && out->quiet_start == out->quiet_end)
        return bad(err, "quiet_end", "must differ from quiet_start");
    return TC_OK;
}

tc_status tc_notify_prefs_parse(const json_t *body, const tc_notify_prefs *cur,
                                tc_notify_tz_valid_fn tz_valid, tc_notify_prefs *out,
                                tc_err *err)
{
    *out = *cur;
    out->alert_types = json_deep_copy(cur->alert_types ? cur->alert_types : json_array());
    tc_status st = json_is_object(body) ? check_fields(body, err)
                                        : tc_failf(err, TC_VALIDATION, NULL, "the body must be a JSON object");
    if (st == TC_OK)
        st = parse_scalars(body, tz_valid, out, err);
    const json_t *v = json_object_get(body, "alert_types");
    json_t *types = NULL;
    if (st == TC_OK && v && (st = parse_types(v, &types, err)) == TC_OK) {
        json_decref(out->alert_types);
        out->alert_types = types;
    }
    if (st != TC_OK)
        tc_notify_prefs_clear(out);
    return st;
}

json_t *tc_notify_prefs_json(const tc_notify_prefs *p)
{
    json_t *avail = json_array();
    for (const char *const *t = tc_notify_alert_types(); *t; t++)
        json_array_append_new(avail, json_string(*t));
    char ts[32] = "";
    if (p->updated_at)
        tc_time_format(p->updated_at, ts);
    return json_pack("{s:b, s:o, s:s, s:o, s:o, s:s, s:o, s:o}", "email_enabled", p->email_enabled,
                     "alert_types", p->alert_types ? json_incref(p->alert_types) : json_array(), "timezone",
                     p->timezone, "quiet_start",
                     p->quiet_start < 0 ? json_null() : json_integer(p->quiet_start), "quiet_end",
                     p->quiet_end < 0 ? json_null() : json_integer(p->quiet_end), "delivery",
                     p->delivery, "available_alert_types", avail, "updated_at",
                     p->updated_at ? json_string(ts) : json_null());
}
