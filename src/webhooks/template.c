/* Payloads: event types, the {type,timestamp,data} envelope and the
 * {{path}} template renderer with position-aware JSON escaping. */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "webhooks/webhooks.h"

/* ---- event types -------------------------------------------------------------- */
static const tc_webhook_event_type event_types[] = {
    {"job.succeeded", "a tool run finished successfully"},
    {"job.failed", "a tool run failed"},
    {"job.canceled", "a tool run was canceled"},
    {"connection.created", "a connection was created and is active"},
    {"connection.expired", "a connection expired and needs to be reconnected"},
    {"connection.revoked", "a connection was revoked or disconnected"},
    {"health.down", "a connector's health check started failing"},
    {"health.recovered", "a connector's health check recovered"},
    {"schedule.failed", "a scheduled run could not be started or failed"},
    {"webhook.test", "a test event sent from the API or the web app"},
};
#define NEVENT_TYPES (sizeof(event_types) / sizeof(event_types[0]))

const tc_webhook_event_type *tc_webhook_event_types(size_t *n)
{
    *n = NEVENT_TYPES;
    return event_types;
}

bool tc_webhook_event_type_valid(const char *name)
{
    for (size_t i = 0; name && i < NEVENT_TYPES; i++)
        if (!strcmp(event_types[i].name, name))
            return true;
    return false;
}

json_t *tc_webhook_envelope(const char *type, int64_t ts_ms, json_t *data)
{
    char ts[32];
    tc_time_format(ts_ms, ts);
    json_t *env = json_object();
    json_object_set_new(env, "type", json_string(type ? type : ""));
    json_object_set_new(env, "timestamp", json_string(ts));
    json_object_set_new(env, "data", data ? json_incref(data) : json_object());
    return env;
}

/* ---- compiled templates ------------------------------------------------------- */
typedef struct {
    bool placeholder;
    bool in_string;      /* placeholder inside a JSON string literal */
    size_t src_off;      /* where this part starts in the source */
    size_t len;          /* literal: bytes of source; placeholder: whole {{...}} */
    size_t nsegs;
    char **segs;         /* placeholder path segments */
} tpl_part;

struct tc_webhook_template {
    char *src;
    size_t srclen;
    tpl_part *parts;
    size_t nparts;
    size_t nplaceholders;
};

void tc_webhook_template_free(tc_webhook_template *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->nparts; i++) {
        for (size_t j = 0; j < t->parts[i].nsegs; j++)
            free(t->parts[i].segs[j]);
        free(t->parts[i].segs);
    }
    free(t->parts);
    free(t->src);
    free(t);
}

size_t tc_webhook_template_placeholders(const tc_webhook_template *t)
{
    return t ? t->nplaceholders : 0;
}

/* 1-based line and column (in bytes) of offset off in src. */
static void line_col(const char *src, size_t off, int *line, int *col)
{
    *line = 1;
    *col = 1;
    for (size_t i = 0; i < off; i++) {
        if (src[i] == '\n') {
            (*line)++;
            *col = 1;
        } else {
            (*col)++;
        }
    }
}

static tc_status fail_at(tc_err *err, const char *src, size_t off, const char *what)
{
    int line, col;
    line_col(src, off, &line, &col);
    return tc_failf(err, TC_VALIDATION, "template", "template error at line %d, column %d: %s",
                    line, col, what);
}

static tpl_part *add_part(tc_webhook_template *t, size_t *cap)
{
    if (t->nparts == *cap) {
        *cap = *cap ? *cap * 2 : 8;
        t->parts = tc_realloc(t->parts, *cap * sizeof(*t->parts));
    }
    tpl_part *p = &t->parts[t->nparts++];
    memset(p, 0, sizeof(*p));
    return p;
}

static bool path_char(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '_' || c == '-' || c == '.';
}

/* Parses the inside of {{ }} (src[b..e)) into p's segments. */
static tc_status parse_path(const char *src, size_t b, size_t e, tpl_part *p, tc_err *err)
{
    char msg[160];
    size_t open = b - 2;
    while (b < e && src[b] == ' ')
        b++;
    while (e > b && src[e - 1] == ' ')
        e--;
    if (b == e)
        return fail_at(err, src, open, "empty placeholder {{}}: name a field, e.g. {{data.job.id}}");
    if (e - b > TC_WH_TPL_PATH_MAX) {
        snprintf(msg, sizeof(msg), "placeholder path longer than %d characters", TC_WH_TPL_PATH_MAX);
        return fail_at(err, src, b, msg);
    }
    for (size_t i = b; i < e; i++) {
        unsigned char c = (unsigned char)src[i];
        if (path_char(c))
            continue;
        if (c >= 0x20 && c < 0x7f)
            snprintf(msg, sizeof(msg), "bad character '%c' in placeholder (allowed: A-Z a-z 0-9 _ - .)", c);
        else
            snprintf(msg, sizeof(msg), "bad character 0x%02x in placeholder (allowed: A-Z a-z 0-9 _ - .)", c);
        return fail_at(err, src, i, msg);
    }
    for (size_t s = b; s <= e;) {
        size_t n = 0;
        while (s + n < e && src[s + n] != '.')
            n++;
        if (n == 0)
            return fail_at(err, src, s, "empty segment in placeholder path (\"..\" or a leading or trailing dot)");
        if (p->nsegs == TC_WH_TPL_DEPTH_MAX) {
            snprintf(msg, sizeof(msg), "placeholder path deeper than %d segments", TC_WH_TPL_DEPTH_MAX);
            return fail_at(err, src, s, msg);
        }
        p->segs = tc_realloc(p->segs, (p->nsegs + 1) * sizeof(*p->segs));
        p->segs[p->nsegs++] = tc_strndup(src + s, n);
        s += n + 1;
    }
    return TC_OK;
}

/* Tracks whether the literal text leaves us inside a JSON string. */
typedef struct {
    bool in_string;
    bool escape;
} lexstate;

static void lex(lexstate *ls, char c)
{
    if (!ls->in_string) {
        ls->in_string = c == '"';
    } else if (ls->escape) {
        ls->escape = false;
    } else if (c == '\\') {
        ls->escape = true;
    } else if (c == '"') {
        ls->in_string = false;
    }
}

static tc_status scan(tc_webhook_template *t, tc_err *err)
{
    const char *src = t->src;
    size_t cap = 0, i = 0, lit = 0;
    lexstate ls = {false, false};
    char msg[128];
    while (i < t->srclen) {
        if (!(src[i] == '{' && i + 1 < t->srclen && src[i + 1] == '{')) {
            lex(&ls, src[i++]);
            continue;
        }
        if (ls.escape)
            return fail_at(err, src, i, "a placeholder cannot follow a backslash");
        const char *close = memmem(src + i + 2, t->srclen - i - 2, "}}", 2);
        if (!close)
            return fail_at(err, src, i, "unclosed placeholder: \"{{\" without a matching \"}}\"");
        if (t->nplaceholders == TC_WH_TPL_PLACEHOLDERS_MAX) {
            snprintf(msg, sizeof(msg), "more than %d placeholders", TC_WH_TPL_PLACEHOLDERS_MAX);
            return fail_at(err, src, i, msg);
        }
        if (i > lit)
            *add_part(t, &cap) = (tpl_part){.src_off = lit, .len = i - lit};
        tpl_part *p = add_part(t, &cap);
        size_t end = (size_t)(close - src) + 2;
        *p = (tpl_part){.placeholder = true, .in_string = ls.in_string, .src_off = i, .len = end - i};
        t->nplaceholders++;
        tc_status st = parse_path(src, i + 2, end - 2, p, err);
        if (st != TC_OK)
            return st;
        i = lit = end;
    }
    if (t->srclen > lit)
        *add_part(t, &cap) = (tpl_part){.src_off = lit, .len = t->srclen - lit};
    return TC_OK;
}

/* ---- rendering ------------------------------------------------------------------ */
typedef struct {
    tc_buf *buf;
    bool escape;  /* append as JSON string content */
} sink;

static tc_status put_escaped(tc_buf *b, const char *s, size_t n)
{
    tc_status st = TC_OK;
    size_t run = 0;
    for (size_t i = 0; i < n && st == TC_OK; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        st = tc_buf_append(b, s + run, i - run);
        run = i + 1;
        if (st != TC_OK)
            break;
        switch (c) {
        case '"': st = tc_buf_puts(b, "\\\""); break;
        case '\\': st = tc_buf_puts(b, "\\\\"); break;
        case '\n': st = tc_buf_puts(b, "\\n"); break;
        case '\r': st = tc_buf_puts(b, "\\r"); break;
        case '\t': st = tc_buf_puts(b, "\\t"); break;
        case '\b': st = tc_buf_puts(b, "\\b"); break;
        case '\f': st = tc_buf_puts(b, "\\f"); break;
        default: st = tc_buf_printf(b, "\\u%04x", c); break;
        }
    }
    if (st == TC_OK && n > run)
        st = tc_buf_append(b, s + run, n - run);
    return st;
}

static int dump_cb(const char *p, size_t n, void *data)
{
    sink *s = data;
    tc_status st = s->escape ? put_escaped(s->buf, p, n) : tc_buf_append(s->buf, p, n);
    return st == TC_OK ? 0 : -1;
}

static const json_t *resolve(const json_t *root, const tpl_part *p)
{
    const json_t *v = root;
    for (size_t i = 0; v && i < p->nsegs; i++) {
        const char *seg = p->segs[i];
        if (json_is_object(v)) {
            v = json_object_get(v, seg);
        } else if (json_is_array(v) && strspn(seg, "0123456789") == strlen(seg) && strlen(seg) <= 9) {
            v = json_array_get(v, strtoul(seg, NULL, 10));
        } else {
            v = NULL;
        }
    }
    return v;
}

#define DUMP_FLAGS (JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(17))

static tc_status put_value(tc_buf *b, const json_t *v, bool in_string)
{
    if (!v)
        return in_string ? TC_OK : tc_buf_puts(b, "null");
    if (in_string && json_is_string(v))
        return put_escaped(b, json_string_value(v), json_string_length(v));
    sink s = {b, in_string};
    return json_dump_callback(v, dump_cb, &s, DUMP_FLAGS) == 0 ? TC_OK : TC_TOO_LARGE;
}

/* Renders into b; when offs is non-NULL it gets each part's output offset. */
static tc_status render_into(const tc_webhook_template *t, const json_t *env, tc_buf *b,
                             size_t *offs)
{
    tc_status st = TC_OK;
    for (size_t i = 0; i < t->nparts && st == TC_OK; i++) {
        const tpl_part *p = &t->parts[i];
        if (offs)
            offs[i] = b->len;
        if (p->placeholder)
            st = put_value(b, env ? resolve(env, p) : NULL, p->in_string);
        else
            st = tc_buf_append(b, t->src + p->src_off, p->len);
    }
    return st;
}

/* Maps an offset in the rendered text back to the template source. */
static size_t source_offset(const tc_webhook_template *t, const size_t *offs, size_t out_off)
{
    size_t i = 0;
    while (i + 1 < t->nparts && offs[i + 1] <= out_off)
        i++;
    if (t->nparts == 0)
        return 0;
    const tpl_part *p = &t->parts[i];
    if (p->placeholder)
        return p->src_off;
    size_t delta = out_off - offs[i];
    return p->src_off + (delta < p->len ? delta : p->len);
}

/* Compile-time check: with every placeholder missing (null / empty) the
 * template must already be one valid JSON document. */
static tc_status check_json(const tc_webhook_template *t, tc_err *err)
{
    tc_buf b;
    tc_buf_init(&b, TC_WH_RENDER_MAX);
    size_t *offs = tc_calloc(t->nparts + 1, sizeof(*offs));
    tc_status st = render_into(t, NULL, &b, offs);
    if (st != TC_OK) {
        st = tc_failf(err, TC_VALIDATION, "template", "the template is too large");
        goto out;
    }
    json_error_t jerr;
    json_t *doc = json_loadb(b.data ? b.data : "", b.len, JSON_DECODE_ANY, &jerr);
    if (doc) {
        json_decref(doc);
        goto out;
    }
    char msg[256];
    size_t pos = jerr.position > 0 ? (size_t)jerr.position - 1 : 0;
    snprintf(msg, sizeof(msg), "the template is not valid JSON: %s (placeholders go where a JSON "
             "value goes, or inside a string)", jerr.text);
    st = fail_at(err, t->src, source_offset(t, offs, pos), msg);
out:
    free(offs);
    tc_buf_free(&b);
    return st;
}

tc_status tc_webhook_template_compile(const char *src, size_t len, tc_webhook_template **out,
                                      tc_err *err)
{
    *out = NULL;
    if (!src)
        return tc_failf(err, TC_VALIDATION, "template", "the template is missing");
    if (len > TC_WH_TPL_MAX)
        return tc_failf(err, TC_VALIDATION, "template", "the template is %zu bytes; the limit is %d",
                        len, TC_WH_TPL_MAX);
    if (memchr(src, '\0', len) || !tc_utf8_valid(src, len))
        return tc_failf(err, TC_VALIDATION, "template", "the template must be UTF-8 text without NUL bytes");
    tc_webhook_template *t = tc_calloc(1, sizeof(*t));
    t->src = tc_strndup(src, len);
    t->srclen = len;
    tc_status st = scan(t, err);
    if (st == TC_OK)
        st = check_json(t, err);
    if (st != TC_OK) {
        tc_webhook_template_free(t);
        return st;
    }
    *out = t;
    return TC_OK;
}

static tc_status check_rendered(const char *s, size_t n, tc_err *err)
{
    json_error_t jerr;
    json_t *doc = json_loadb(s, n, JSON_DECODE_ANY, &jerr);
    if (!doc)
        return tc_failf(err, TC_VALIDATION, "template", "the rendered template is not valid JSON: %s",
                        jerr.text);
    json_decref(doc);
    return TC_OK;
}

tc_status tc_webhook_template_render(const tc_webhook_template *t, const json_t *envelope,
                                     char **out, size_t *outlen, tc_err *err)
{
    *out = NULL;
    *outlen = 0;
    tc_buf b;
    tc_buf_init(&b, TC_WH_RENDER_MAX);
    tc_status st = render_into(t, envelope, &b, NULL);
    if (st != TC_OK) {
        tc_buf_free(&b);
        return tc_failf(err, TC_TOO_LARGE, "template", "the rendered payload exceeds %d bytes",
                        TC_WH_RENDER_MAX);
    }
    st = check_rendered(b.data ? b.data : "", b.len, err);
    if (st != TC_OK) {
        tc_buf_free(&b);
        return st;
    }
    *outlen = b.len;
    *out = b.data ? tc_buf_steal(&b) : tc_strdup("");
    tc_buf_free(&b);
    return TC_OK;
}

tc_status tc_webhook_payload(const tc_webhook_template *t, const json_t *envelope, char **out,
                             size_t *outlen, tc_err *err)
{
    if (t)
        return tc_webhook_template_render(t, envelope, out, outlen, err);
    *out = NULL;
    *outlen = 0;
    tc_buf b;
    tc_buf_init(&b, TC_WH_RENDER_MAX);
    if (put_value(&b, envelope, false) != TC_OK) {
        tc_buf_free(&b);
        return tc_failf(err, TC_TOO_LARGE, "data", "the payload exceeds %d bytes", TC_WH_RENDER_MAX);
    }
    *outlen = b.len;
    *out = tc_buf_steal(&b);
    tc_buf_free(&b);
    return TC_OK;
}
