/* Validation: a recursive walk of the compiled node graph over the instance.
 *
 * Two modes. With an error list, every failing keyword appends
 * {path, schema_path, keyword, message} and the walk goes on (up to
 * max_errors). Without one ("fast mode", also used for the branches of
 * anyOf/oneOf/not/if/contains whose errors are not reported) the walk stops
 * at the first failure.
 *
 * unevaluatedProperties/Items need to know which keys/items other keywords
 * evaluated: a js_eval (one flag per key or item of the current instance) is
 * threaded through in-place applicators and merged only from subschemas that
 * passed. It is only allocated under a node that has an unevaluated* keyword.
 *
 * Hostile input is bounded by a work counter, a recursion limit and PCRE2
 * match limits; hitting one aborts the walk with TC_TOO_LARGE. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonschema/js_int.h"

typedef struct {
    bool *obj, *arr;
    size_t nobj, narr;
} js_eval;

typedef struct js_scope_link {
    const js_resource *res;
    const struct js_scope_link *outer;
} js_scope_link;

/* One step of the instance path: a key (key != NULL) or an array index.
 * Paths are kept as a stack of borrowed segments and only rendered into a
 * JSON pointer when an error is reported. */
typedef struct {
    const char *key;
    size_t len; /* key length, or the index */
} js_seg;

typedef struct {
    const tc_jsonschema *s;
    json_t *errors; /* NULL: fast mode */
    bool track_path;
    js_seg *segs;
    size_t nsegs, csegs;
    uint64_t work;
    uint32_t depth;
    tc_status abort;
    char abort_msg[256];
    char abort_path[256];
    const js_scope_link *scope;
    pcre2_match_data *md;
    pcre2_match_context *mctx;
} js_vc;

static bool v_node(js_vc *vc, const js_node *n, const json_t *inst, js_eval *ev);
static char *path_render(const js_vc *vc);

/* ---- bookkeeping ---- */

static bool stopped(const js_vc *vc)
{
    return vc->abort != TC_OK || !vc->errors ||
           json_array_size(vc->errors) >= vc->s->opts.max_errors;
}

static bool limit_hit(js_vc *vc, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static bool limit_hit(js_vc *vc, const char *fmt, ...)
{
    if (vc->abort != TC_OK)
        return false;
    vc->abort = TC_TOO_LARGE;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(vc->abort_msg, sizeof vc->abort_msg, fmt, ap);
    va_end(ap);
    char *path = path_render(vc);
    snprintf(vc->abort_path, sizeof vc->abort_path, "%s", path);
    free(path);
    return false;
}

static bool spend(js_vc *vc, uint64_t units)
{
    vc->work += units;
    if (vc->work > vc->s->opts.max_work)
        return limit_hit(vc, "validation needs more than %llu steps (work limit)",
                         (unsigned long long)vc->s->opts.max_work);
    return vc->abort == TC_OK;
}

static size_t push_seg(js_vc *vc, const char *key, size_t len)
{
    size_t mark = vc->nsegs;
    if (!vc->track_path)
        return mark;
    if (vc->nsegs == vc->csegs) {
        vc->csegs = vc->csegs ? vc->csegs * 2 : 32;
        vc->segs = tc_realloc(vc->segs, vc->csegs * sizeof *vc->segs);
    }
    vc->segs[vc->nsegs++] = (js_seg){key, len};
    return mark;
}

static size_t path_push(js_vc *vc, const char *key, size_t len)
{
    return push_seg(vc, key, len);
}

static size_t path_push_index(js_vc *vc, size_t i)
{
    return push_seg(vc, NULL, i);
}

static void path_pop(js_vc *vc, size_t mark)
{
    vc->nsegs = mark;
}

/* Renders the current instance path as a JSON pointer. Caller frees. */
static char *path_render(const js_vc *vc)
{
    tc_buf b;
    tc_buf_init(&b, 1 << 20);
    for (size_t i = 0; i < vc->nsegs; i++) {
        const js_seg *g = &vc->segs[i];
        if (!g->key) {
            tc_buf_printf(&b, "/%zu", g->len);
            continue;
        }
        tc_buf_puts(&b, "/");
        const char *p = g->key, *end = g->key + g->len;
        while (p < end) {
            size_t run = strcspn(p, "~/");
            if (run > (size_t)(end - p))
                run = (size_t)(end - p);
            tc_buf_append(&b, p, run);
            p += run;
            if (p < end)
                tc_buf_puts(&b, *p++ == '~' ? "~0" : "~1");
        }
    }
    return tc_buf_steal(&b);
}

static void add_error(js_vc *vc, const char *path, const char *schema_path, const char *kw,
                      const char *msg)
{
    json_array_append_new(vc->errors, json_pack("{s:s, s:s, s:s, s:s}", "path", path,
                                                "schema_path", schema_path, "keyword", kw,
                                                "message", msg));
}

/* Records a failure of keyword kw of node n; child (may be NULL) names a
 * property below the current instance path. Always returns false. */
static bool v_fail_at(js_vc *vc, const js_node *n, const char *kw, const char *child,
                      const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static bool v_fail_at(js_vc *vc, const js_node *n, const char *kw, const char *child,
                      const char *fmt, ...)
{
    if (stopped(vc))
        return false;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    size_t mark = child ? path_push(vc, child, strlen(child)) : vc->nsegs;
    char *spath = kw[0] ? tc_asprintf("%s/%s", n->path, kw) : tc_strdup(n->path);
    char *ipath = path_render(vc);
    add_error(vc, ipath, spath, kw[0] ? kw : "false", msg);
    free(ipath);
    free(spath);
    path_pop(vc, mark);
    return false;
}
#define v_fail(vc, n, kw, ...) v_fail_at(vc, n, kw, NULL, __VA_ARGS__)

/* ---- evaluated keys/items ---- */

static js_eval *ev_new(const json_t *inst)
{
    js_eval *e = tc_calloc(1, sizeof *e);
    if (json_is_object(inst)) {
        e->nobj = json_object_size(inst);
        e->obj = tc_calloc(e->nobj + 1, 1);
    } else if (json_is_array(inst)) {
        e->narr = json_array_size(inst);
        e->arr = tc_calloc(e->narr + 1, 1);
    }
    return e;
}

static void ev_free(js_eval *e)
{
    if (!e)
        return;
    free(e->obj);
    free(e->arr);
    free(e);
}

static void ev_merge(js_eval *into, const js_eval *from)
{
    if (!into || !from)
        return;
    for (size_t i = 0; i < into->nobj && i < from->nobj; i++)
        into->obj[i] |= from->obj[i];
    for (size_t i = 0; i < into->narr && i < from->narr; i++)
        into->arr[i] |= from->arr[i];
}

/* Runs n in fast mode (errors not collected); ev (may be NULL) receives
 * annotations only when n passes. */
static bool v_quiet(js_vc *vc, const js_node *n, const json_t *inst, js_eval *ev)
{
    json_t *saved = vc->errors;
    vc->errors = NULL;
    js_eval *tmp = ev ? ev_new(inst) : NULL;
    bool ok = v_node(vc, n, inst, tmp);
    if (ok)
        ev_merge(ev, tmp);
    ev_free(tmp);
    vc->errors = saved;
    return ok;
}

/* ---- messages ---- */

static const struct {
    uint32_t bit;
    const char *text;
} type_texts[] = {
    {JS_T_STRING, "a string"}, {JS_T_INTEGER, "an integer"}, {JS_T_NUMBER, "a number"},
    {JS_T_BOOLEAN, "a boolean"}, {JS_T_OBJECT, "an object"},  {JS_T_ARRAY, "an array"},
    {JS_T_NULL, "null"},
};

static void types_text(uint32_t types, char *out, size_t n)
{
    const char *parts[8];
    size_t k = 0;
    for (size_t i = 0; i < sizeof type_texts / sizeof type_texts[0]; i++)
        if (types & type_texts[i].bit)
            parts[k++] = type_texts[i].text;
    size_t o = 0;
    out[0] = 0;
    for (size_t i = 0; i < k && o < n; i++)
        o += (size_t)snprintf(out + o, n - o, "%s%s", i == 0 ? "" : i + 1 == k ? " or " : ", ",
                              parts[i]);
}

/* Compact JSON of v, cut to about max bytes with "...". Caller frees. */
static char *dump_short(const json_t *v, size_t max)
{
    char *s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
    if (!s)
        return tc_strdup("?");
    if (strlen(s) > max) {
        s[max] = 0;
        memcpy(s + max - 3, "...", 3);
    }
    return s;
}

static uint32_t type_bits(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: return JS_T_OBJECT;
    case JSON_ARRAY: return JS_T_ARRAY;
    case JSON_STRING: return JS_T_STRING;
    case JSON_INTEGER: return JS_T_NUMBER | JS_T_INTEGER;
    case JSON_REAL: return JS_T_NUMBER | (js__is_integer(v) ? JS_T_INTEGER : 0);
    case JSON_TRUE:
    case JSON_FALSE: return JS_T_BOOLEAN;
    default: return JS_T_NULL;
    }
}

/* ---- generic keywords ---- */

static bool v_type(js_vc *vc, const js_node *n, const json_t *inst)
{
    if (!n->types || (n->types & type_bits(inst)))
        return true;
    char want[128];
    types_text(n->types, want, sizeof want);
    return v_fail(vc, n, "type", "must be %s", want);
}

static bool v_enum_const(js_vc *vc, const js_node *n, const json_t *inst)
{
    bool ok = true;
    if (n->has_const && !js__equal(inst, n->const_)) {
        char *d = dump_short(n->const_, 120);
        ok = v_fail(vc, n, "const", "must be equal to %s", d);
        free(d);
        if (stopped(vc))
            return false;
    }
    if (!n->enum_)
        return ok;
    size_t len = json_array_size(n->enum_);
    if (!spend(vc, len))
        return false;
    for (size_t i = 0; i < len; i++)
        if (js__equal(inst, json_array_get(n->enum_, i)))
            return ok;
    tc_buf b;
    tc_buf_init(&b, 512);
    for (size_t i = 0; i < len; i++) {
        char *d = dump_short(json_array_get(n->enum_, i), 60);
        tc_status st = tc_buf_printf(&b, "%s%s", i ? ", " : "", d);
        free(d);
        if (st != TC_OK) {
            tc_buf_puts(&b, ", ...");
            break;
        }
    }
    v_fail(vc, n, "enum", "must be one of: %s", b.data ? b.data : "");
    tc_buf_free(&b);
    return false;
}

static bool v_number(js_vc *vc, const js_node *n, const json_t *inst)
{
    bool ok = true;
    char num[40];
    if (n->minimum && js__num_cmp(inst, n->minimum) < 0) {
        js__num_format(n->minimum, num, sizeof num);
        ok = v_fail(vc, n, "minimum", "must be >= %s", num);
    }
    if (n->xminimum && js__num_cmp(inst, n->xminimum) <= 0) {
        js__num_format(n->xminimum, num, sizeof num);
        ok = v_fail(vc, n, "exclusiveMinimum", "must be > %s", num);
    }
    if (n->maximum && js__num_cmp(inst, n->maximum) > 0) {
        js__num_format(n->maximum, num, sizeof num);
        ok = v_fail(vc, n, "maximum", "must be <= %s", num);
    }
    if (n->xmaximum && js__num_cmp(inst, n->xmaximum) >= 0) {
        js__num_format(n->xmaximum, num, sizeof num);
        ok = v_fail(vc, n, "exclusiveMaximum", "must be < %s", num);
    }
    if (n->multiple_of && !js__multiple_of(inst, n->multiple_of, n->mo_mant, n->mo_exp)) {
        js__num_format(n->multiple_of, num, sizeof num);
        ok = v_fail(vc, n, "multipleOf", "must be a multiple of %s", num);
    }
    return ok;
}

/* 1 match, 0 no match, -1 limit hit (vc aborted). */
static int re_match(js_vc *vc, const js_regex *r, const char *s, size_t len)
{
    if (!spend(vc, 1 + len / 64))
        return -1;
    if (!vc->md) {
        vc->md = pcre2_match_data_create(1, NULL);
        vc->mctx = pcre2_match_context_create(NULL);
        pcre2_set_match_limit(vc->mctx, vc->s->opts.regex_match_limit);
        pcre2_set_depth_limit(vc->mctx, vc->s->opts.regex_depth_limit);
        pcre2_set_heap_limit(vc->mctx, 20000); /* KiB */
    }
    int rc = pcre2_match(r->re, (PCRE2_SPTR)s, len, 0, 0, vc->md, vc->mctx);
    if (rc >= 0)
        return 1;
    if (rc == PCRE2_ERROR_NOMATCH)
        return 0;
    limit_hit(vc, "pattern %.100s could not be checked: regular expression limit exceeded",
              r->src);
    return -1;
}

static bool v_string(js_vc *vc, const js_node *n, const json_t *inst)
{
    bool ok = true;
    const char *s = json_string_value(inst);
    size_t len = json_string_length(inst);
    if (n->min_length >= 0 || n->max_length >= 0) {
        int64_t cps = (int64_t)js__utf8_len(s, len);
        if (n->min_length >= 0 && cps < n->min_length)
            ok = v_fail(vc, n, "minLength", "must be at least %lld characters long",
                        (long long)n->min_length);
        if (n->max_length >= 0 && cps > n->max_length)
            ok = v_fail(vc, n, "maxLength", "must be at most %lld characters long",
                        (long long)n->max_length);
    }
    if (n->pattern) {
        int m = re_match(vc, n->pattern, s, len);
        if (m < 0)
            return false;
        if (m == 0)
            ok = v_fail(vc, n, "pattern", "must match pattern %s", n->pattern->src);
    }
    if (n->format && !js__format_ok(n->format, s, len))
        ok = v_fail(vc, n, "format", "must be a valid %s", n->format);
    return ok;
}

/* ---- objects ---- */

static const js_node *find_prop(const js_node *n, const char *key)
{
    size_t lo = 0, hi = n->nprops;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(key, n->props[mid].name);
        if (c == 0)
            return n->props[mid].schema;
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

static bool is_false(const js_node *n)
{
    return n->is_bool && !n->bool_val;
}

/* Validates one property value against properties/patternProperties/
 * additionalProperties; marks it evaluated when any applied. */
static bool v_one_prop(js_vc *vc, const js_node *n, const char *key, const json_t *val,
                       bool *evaluated)
{
    bool ok = true, matched = false;
    const js_node *p = n->nprops ? find_prop(n, key) : NULL;
    size_t mark = path_push(vc, key, strlen(key));
    if (p) {
        matched = true;
        ok = v_node(vc, p, val, NULL);
    }
    for (size_t i = 0; i < n->npatprops && (ok || !stopped(vc)); i++) {
        int m = re_match(vc, &n->patprops[i], key, strlen(key));
        if (m < 0) {
            ok = false;
            break;
        }
        if (m) {
            matched = true;
            ok &= v_node(vc, n->patprops[i].schema, val, NULL);
        }
    }
    path_pop(vc, mark);
    if (!matched && n->additional_props && vc->abort == TC_OK) {
        matched = true;
        if (is_false(n->additional_props)) {
            ok = v_fail_at(vc, n, "additionalProperties", key, "is not an allowed property");
        } else {
            mark = path_push(vc, key, strlen(key));
            ok &= v_node(vc, n->additional_props, val, NULL);
            path_pop(vc, mark);
        }
    }
    if (matched && evaluated)
        *evaluated = true;
    return ok;
}

static bool v_property_names(js_vc *vc, const js_node *n, const char *key)
{
    json_t *name = json_string(key);
    json_t *saved = vc->errors;
    vc->errors = saved ? json_array() : NULL;
    bool ok = v_node(vc, n->property_names, name, NULL);
    json_t *errs = vc->errors;
    vc->errors = saved;
    json_decref(name);
    size_t i;
    json_t *e;
    json_array_foreach(errs, i, e) {
        v_fail_at(vc, n, "propertyNames", key, "property name \"%.100s\" %s", key,
                  json_string_value(json_object_get(e, "message")));
    }
    json_decref(errs);
    return ok;
}

static bool v_required(js_vc *vc, const js_node *n, const json_t *inst)
{
    bool ok = true;
    size_t i;
    json_t *name;
    json_array_foreach(n->required, i, name) {
        if (json_object_get(inst, json_string_value(name)))
            continue;
        ok = v_fail_at(vc, n, "required", json_string_value(name), "is required");
        if (stopped(vc))
            return false;
    }
    for (size_t d = 0; d < n->ndepreq; d++) {
        if (!json_object_get(inst, n->depreq[d].name))
            continue;
        json_array_foreach(n->depreq[d].names, i, name) {
            if (json_object_get(inst, json_string_value(name)))
                continue;
            ok = v_fail_at(vc, n, n->dialect == JS_DRAFT7 ? "dependencies" : "dependentRequired",
                           json_string_value(name), "is required when \"%.100s\" is present",
                           n->depreq[d].name);
            if (stopped(vc))
                return false;
        }
    }
    return ok;
}

static bool v_object(js_vc *vc, const js_node *n, const json_t *inst, js_eval *ev)
{
    bool ok = true;
    size_t size = json_object_size(inst);
    if (n->min_props >= 0 && (int64_t)size < n->min_props)
        ok = v_fail(vc, n, "minProperties", "must have at least %lld properties",
                    (long long)n->min_props);
    if (n->max_props >= 0 && (int64_t)size > n->max_props)
        ok = v_fail(vc, n, "maxProperties", "must have at most %lld properties",
                    (long long)n->max_props);
    if (n->required || n->ndepreq)
        ok &= v_required(vc, n, inst);
    if (!ok && stopped(vc))
        return false;
    bool applies = n->nprops || n->npatprops || n->additional_props || n->property_names;
    if (applies && !spend(vc, size))
        return false;
    size_t i = 0;
    const char *key;
    json_t *val;
    json_object_foreach((json_t *)inst, key, val) {
        if (!applies)
            break;
        ok &= v_one_prop(vc, n, key, val, ev ? &ev->obj[i] : NULL);
        if (n->property_names && (ok || !stopped(vc)))
            ok &= v_property_names(vc, n, key);
        if (!ok && stopped(vc))
            return false;
        i++;
    }
    for (size_t d = 0; d < n->ndepschemas; d++) {
        if (json_object_get(inst, n->depschemas[d].name))
            ok &= v_node(vc, n->depschemas[d].schema, inst, ev);
        if (!ok && stopped(vc))
            return false;
    }
    return ok;
}

/* ---- arrays ---- */

typedef struct {
    uint64_t h;
    size_t i;
} hashed;

static int cmp_hashed(const void *a, const void *b)
{
    const hashed *x = a, *y = b;
    return x->h < y->h ? -1 : x->h > y->h ? 1 : (x->i > y->i) - (x->i < y->i);
}

static bool v_unique(js_vc *vc, const js_node *n, const json_t *inst)
{
    size_t len = json_array_size(inst);
    if (len < 2)
        return true;
    if (!spend(vc, len * 2))
        return false;
    hashed *h = tc_malloc(len * sizeof *h);
    for (size_t i = 0; i < len; i++)
        h[i] = (hashed){js__hash(json_array_get(inst, i)), i};
    qsort(h, len, sizeof *h, cmp_hashed);
    bool ok = true;
    for (size_t i = 0; i + 1 < len && ok; i++) {
        for (size_t j = i + 1; j < len && h[j].h == h[i].h && ok; j++) {
            if (!spend(vc, 1)) {
                free(h);
                return false;
            }
            if (js__equal(json_array_get(inst, h[i].i), json_array_get(inst, h[j].i)))
                ok = v_fail(vc, n, "uniqueItems",
                            "must not contain duplicate items (items %zu and %zu are equal)",
                            h[i].i, h[j].i);
        }
    }
    free(h);
    return ok;
}

static bool v_contains(js_vc *vc, const js_node *n, const json_t *inst, js_eval *ev)
{
    size_t len = json_array_size(inst), count = 0;
    for (size_t i = 0; i < len; i++) {
        if (v_quiet(vc, n->contains, json_array_get(inst, i), NULL)) {
            count++;
            if (ev)
                ev->arr[i] = true;
        }
        if (vc->abort != TC_OK)
            return false;
    }
    int64_t min = n->min_contains >= 0 ? n->min_contains : 1;
    if ((int64_t)count < min)
        return v_fail(vc, n, "contains", "must contain at least %lld matching item%s",
                      (long long)min, min == 1 ? "" : "s");
    if (n->max_contains >= 0 && (int64_t)count > n->max_contains)
        return v_fail(vc, n, "maxContains", "must contain at most %lld matching item%s",
                      (long long)n->max_contains, n->max_contains == 1 ? "" : "s");
    return true;
}

static bool v_array(js_vc *vc, const js_node *n, const json_t *inst, js_eval *ev)
{
    bool ok = true;
    size_t len = json_array_size(inst);
    if (n->min_items >= 0 && (int64_t)len < n->min_items)
        ok = v_fail(vc, n, "minItems", "must have at least %lld items", (long long)n->min_items);
    if (n->max_items >= 0 && (int64_t)len > n->max_items)
        ok = v_fail(vc, n, "maxItems", "must have at most %lld items", (long long)n->max_items);
    if (!ok && stopped(vc))
        return false;
    if ((n->nprefix || n->items) && !spend(vc, len))
        return false;
    for (size_t i = 0; i < len && (n->nprefix || n->items); i++) {
        const js_node *sub = i < n->nprefix ? n->prefix[i] : n->items;
        if (!sub)
            break;
        if (is_false(sub) && i >= n->nprefix) {
            char idx[24];
            snprintf(idx, sizeof idx, "%zu", i);
            ok = v_fail_at(vc, n, n->nprefix ? (n->dialect == JS_DRAFT7 ? "additionalItems" : "items") : "items",
                           idx, "is not allowed: the array must have at most %zu items",
                           n->nprefix);
        } else {
            size_t mark = path_push_index(vc, i);
            ok &= v_node(vc, sub, json_array_get(inst, i), NULL);
            path_pop(vc, mark);
        }
        if (ev)
            ev->arr[i] = true;
        if (!ok && stopped(vc))
            return false;
    }
    if (n->contains)
        ok &= v_contains(vc, n, inst, ev);
    if (n->unique_items && (ok || !stopped(vc)))
        ok &= v_unique(vc, n, inst);
    return ok;
}

/* ---- applicators ---- */

static bool v_any_one(js_vc *vc, const js_node *n, const json_t *inst, js_eval *ev, bool one)
{
    js_node **list = one ? n->one_of : n->any_of;
    size_t count = one ? n->none_of : n->nany_of, matched = 0, first = 0, second = 0;
    for (size_t i = 0; i < count; i++) {
        if (v_quiet(vc, list[i], inst, ev)) {
            if (matched == 0)
                first = i;
            else if (matched == 1)
                second = i;
            matched++;
            if ((!one && !ev) || (one && matched > 1 && !ev))
                break;
        }
        if (vc->abort != TC_OK)
            return false;
    }
    if (!one)
        return matched ? true
                       : v_fail(vc, n, "anyOf", "must match at least one of the schemas in anyOf");
    if (matched == 1)
        return true;
    if (matched == 0)
        return v_fail(vc, n, "oneOf", "must match exactly one of the schemas in oneOf, but "
                                      "matches none");
    return v_fail(vc, n, "oneOf",
                  "must match exactly one of the schemas in oneOf, but matches more than one "
                  "(schemas %zu and %zu)", first, second);
}

static bool v_logic(js_vc *vc, const js_node *n, const json_t *inst, js_eval *ev)
{
    bool ok = true;
    for (size_t i = 0; i < n->nall_of; i++) {
        ok &= v_node(vc, n->all_of[i], inst, ev);
        if (!ok && stopped(vc))
            return false;
    }
    if (n->nany_of)
        ok &= v_any_one(vc, n, inst, ev, false);
    if (n->none_of && (ok || !stopped(vc)))
        ok &= v_any_one(vc, n, inst, ev, true);
    if (n->not_ && (ok || !stopped(vc))) {
        if (v_quiet(vc, n->not_, inst, NULL))
            ok = v_fail(vc, n, "not", "must not match the schema in not");
    }
    if (n->if_ && (ok || !stopped(vc))) {
        bool cond = v_quiet(vc, n->if_, inst, ev);
        const js_node *branch = cond ? n->then_ : n->else_;
        if (branch && vc->abort == TC_OK)
            ok &= v_node(vc, branch, inst, ev);
    }
    return ok && vc->abort == TC_OK;
}

static bool v_refs(js_vc *vc, const js_node *n, const json_t *inst, js_eval *ev)
{
    bool ok = true;
    if (n->ref)
        ok = v_node(vc, n->ref, inst, ev);
    if (!n->dynref || (!ok && stopped(vc)))
        return ok;
    const js_node *target = n->dynref;
    if (n->dynref_name) {
        /* outermost resource in the dynamic scope with that $dynamicAnchor */
        for (const js_scope_link *l = vc->scope; l; l = l->outer)
            for (size_t i = 0; i < l->res->ndyn; i++)
                if (!strcmp(l->res->dyn[i].name, n->dynref_name))
                    target = l->res->dyn[i].schema;
    }
    return v_node(vc, target, inst, ev) && ok;
}

static bool v_unevaluated(js_vc *vc, const js_node *n, const json_t *inst, js_eval *ev)
{
    bool ok = true;
    const js_node *u = n->unevaluated_props;
    if (u && json_is_object(inst)) {
        size_t i = 0;
        const char *key;
        json_t *val;
        json_object_foreach((json_t *)inst, key, val) {
            if (!ev->obj[i]) {
                if (is_false(u)) {
                    ok = v_fail_at(vc, n, "unevaluatedProperties", key,
                                   "is not an allowed property");
                } else {
                    size_t mark = path_push(vc, key, strlen(key));
                    ok &= v_node(vc, u, val, NULL);
                    path_pop(vc, mark);
                }
                ev->obj[i] = true;
                if (!ok && stopped(vc))
                    return false;
            }
            i++;
        }
    }
    u = n->unevaluated_items;
    if (u && json_is_array(inst)) {
        for (size_t i = 0; i < ev->narr; i++) {
            if (ev->arr[i])
                continue;
            size_t mark = path_push_index(vc, i);
            if (is_false(u))
                ok = v_fail(vc, n, "unevaluatedItems", "is not allowed (unevaluated item)");
            else
                ok &= v_node(vc, u, json_array_get(inst, i), NULL);
            path_pop(vc, mark);
            ev->arr[i] = true;
            if (!ok && stopped(vc))
                return false;
        }
    }
    return ok;
}

/* Keywords of an object schema, in order; returns validity. */
static bool v_keywords(js_vc *vc, const js_node *n, const json_t *inst, js_eval *ev)
{
    bool ok = v_refs(vc, n, inst, ev);
    if (n->ref_only || (!ok && stopped(vc)))
        return ok;
#define STEP(expr)                                                             \
    do {                                                                       \
        ok &= (expr);                                                          \
        if (!ok && stopped(vc))                                                \
            return false;                                                      \
    } while (0)
    STEP(v_type(vc, n, inst));
    if (n->enum_ || n->has_const)
        STEP(v_enum_const(vc, n, inst));
    switch (json_typeof(inst)) {
    case JSON_INTEGER:
    case JSON_REAL: STEP(v_number(vc, n, inst)); break;
    case JSON_STRING: STEP(v_string(vc, n, inst)); break;
    case JSON_OBJECT: STEP(v_object(vc, n, inst, ev)); break;
    case JSON_ARRAY: STEP(v_array(vc, n, inst, ev)); break;
    default: break;
    }
    STEP(v_logic(vc, n, inst, ev));
    if (ev && (n->unevaluated_props || n->unevaluated_items))
        STEP(v_unevaluated(vc, n, inst, ev));
#undef STEP
    return ok;
}

static bool v_node(js_vc *vc, const js_node *n, const json_t *inst, js_eval *ev)
{
    if (!spend(vc, 1))
        return false;
    if (n->is_bool)
        return n->bool_val || v_fail(vc, n, "", "is not allowed");
    if (++vc->depth > vc->s->opts.max_depth) {
        vc->depth--;
        return limit_hit(vc, "schema recursion deeper than %u levels", vc->s->opts.max_depth);
    }
    js_scope_link link = {n->res, vc->scope};
    const js_scope_link *saved_scope = vc->scope;
    if (n->res && (!vc->scope || vc->scope->res != n->res))
        vc->scope = &link;
    js_eval *local = NULL;
    if (n->needs_eval && (json_is_object(inst) || json_is_array(inst)))
        local = ev_new(inst);
    bool ok = v_keywords(vc, n, inst, local ? local : ev);
    if (local && ok)
        ev_merge(ev, local);
    ev_free(local);
    vc->scope = saved_scope;
    vc->depth--;
    return ok && vc->abort == TC_OK;
}

tc_status tc_jsonschema_validate(const tc_jsonschema *s, const json_t *instance,
                                 json_t **errors_out)
{
    if (errors_out)
        *errors_out = NULL;
    js_vc vc = {.s = s, .abort = TC_OK};
    vc.errors = errors_out ? json_array() : NULL;
    vc.track_path = errors_out != NULL;
    bool ok = instance && v_node(&vc, s->root, instance, NULL);
    tc_status st = vc.abort != TC_OK ? vc.abort : ok ? TC_OK : TC_VALIDATION;
    if (!instance && vc.errors)
        add_error(&vc, "", "", "type", "must be present");
    if (vc.abort != TC_OK && vc.errors)
        add_error(&vc, vc.abort_path, "", "limit", vc.abort_msg);
    if (st != TC_OK && errors_out)
        *errors_out = vc.errors;
    else
        json_decref(vc.errors);
    free(vc.segs);
    pcre2_match_data_free(vc.md);
    pcre2_match_context_free(vc.mctx);
    return st;
}
