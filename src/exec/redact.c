/* Keeping secrets out of job results, action logs and error excerpts. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exec/exec_int.h"

#define SECRET_MIN_LEN 4

/* Substrings of keys that name a secret (compared lower-case, with - as _). */
static const char *const secret_words[] = {
    "password", "passwd", "secret", "token", "api_key", "apikey", "authorization",
    "cookie", "private_key", "credential", "session",
};

bool tc_exec__secret_key(const char *key)
{
    char low[128];
    size_t n = 0;
    for (; key[n] && n + 1 < sizeof(low); n++)
        low[n] = key[n] == '-' ? '_' : (char)tolower((unsigned char)key[n]);
    low[n] = '\0';
    for (size_t i = 0; i < sizeof(secret_words) / sizeof(secret_words[0]); i++)
        if (strstr(low, secret_words[i]))
            return true;
    return false;
}

/* Calls fn for every string value of the credential worth hiding. */
static bool secret_hit(const char *s, const json_t *secret, size_t *at, size_t *len)
{
    const char *k;
    const json_t *v;
    const char *best = NULL;
    size_t bl = 0;
    json_object_foreach((json_t *)secret, k, v) {
        const char *sv = json_string_value(v);
        size_t sl = sv ? strlen(sv) : 0;
        if (sl < SECRET_MIN_LEN)
            continue;
        const char *hit = strstr(s, sv);
        if (hit && (!best || hit < best || (hit == best && sl > bl))) {
            best = hit;
            bl = sl;
        }
    }
    if (!best)
        return false;
    *at = (size_t)(best - s);
    *len = bl;
    return true;
}

void tc_exec__blot(char *text, const json_t *secret)
{
    if (!text || !secret)
        return;
    size_t at, len;
    char *p = text;
    while (secret_hit(p, secret, &at, &len)) {
        memset(p + at, '*', len);
        p += at + len;
    }
}

/* The string with credential values replaced by [REDACTED]; NULL when it
 * holds none (use the original). */
static char *scrub_string(const char *s, const json_t *secret)
{
    size_t at, len;
    if (!secret || !secret_hit(s, secret, &at, &len))
        return NULL;
    tc_buf b;
    tc_buf_init(&b, SIZE_MAX / 2);
    const char *p = s;
    while (secret_hit(p, secret, &at, &len)) {
        tc_buf_append(&b, p, at);
        tc_buf_puts(&b, TC_EXEC_REDACTED);
        p += at + len;
    }
    tc_buf_puts(&b, p);
    return tc_buf_steal(&b);
}

static json_t *walk(const json_t *v, const json_t *secret, bool keys)
{
    if (json_is_string(v)) {
        char *s = scrub_string(json_string_value(v), secret);
        json_t *out = s ? json_string(s) : json_deep_copy(v);
        free(s);
        return out ? out : json_string(TC_EXEC_REDACTED);
    }
    if (json_is_object(v)) {
        json_t *o = json_object();
        const char *k;
        json_t *e;
        json_object_foreach((json_t *)v, k, e) {
            bool hide = keys && tc_exec__secret_key(k) && !json_is_object(e) && !json_is_array(e) &&
                        !json_is_null(e);
            json_object_set_new(o, k, hide ? json_string(TC_EXEC_REDACTED) : walk(e, secret, keys));
        }
        return o;
    }
    if (json_is_array(v)) {
        json_t *a = json_array();
        size_t i;
        json_t *e;
        json_array_foreach(v, i, e)
            json_array_append_new(a, walk(e, secret, keys));
        return a;
    }
    return v ? json_deep_copy(v) : json_null();
}

static void collect(const json_t *v, json_t *out)
{
    const char *k;
    json_t *e;
    size_t i;
    if (json_is_object(v)) {
        json_object_foreach((json_t *)v, k, e) {
            if (json_is_string(e) && tc_exec__secret_key(k)) {
                char name[32];
                snprintf(name, sizeof(name), "arg%zu", json_object_size(out));
                json_object_set(out, name, e);
            } else {
                collect(e, out);
            }
        }
    } else if (json_is_array(v)) {
        json_array_foreach(v, i, e)
            collect(e, out);
    }
}

json_t *tc_exec__hide_set(const json_t *secret, const json_t *args)
{
    json_t *out = json_is_object(secret) ? json_copy((json_t *)secret) : json_object();
    collect(args, out);
    return out;
}

json_t *tc_exec__scrub(const json_t *v, const json_t *secret)
{
    return walk(v, secret, false);
}

json_t *tc_exec__redact(const json_t *v, const json_t *secret)
{
    return walk(v, secret, true);
}

char *tc_exec__capped_dump(const json_t *v, size_t cap)
{
    char *text = json_dumps(v ? v : json_null(), JSON_COMPACT | JSON_ENCODE_ANY);
    if (!text)
        return tc_strdup("null");
    size_t n = strlen(text);
    if (n <= cap)
        return text;
    /* Cut at a UTF-8 boundary, leaving room for the wrapper; escaping may
     * grow the excerpt, so halve until it fits. */
    size_t keep = cap > 256 ? cap - 256 : cap / 2;
    char *out = NULL;
    for (;;) {
        while (keep > 0 && ((unsigned char)text[keep] & 0xC0) == 0x80)
            keep--;
        json_t *wrap = json_pack("{s:b, s:I, s:s%}", "truncated", 1, "size", (json_int_t)n,
                                 "excerpt", text, keep);
        out = json_dumps(wrap, JSON_COMPACT);
        json_decref(wrap);
        if (!out || strlen(out) <= cap || keep == 0)
            break;
        free(out);
        keep /= 2;
    }
    free(text);
    return out ? out : tc_strdup("null");
}
