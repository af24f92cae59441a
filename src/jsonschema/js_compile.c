/* Schema compilation: one walk over the schema document turns every
 * subschema into a js_node (keywords parsed and checked, regexes compiled,
 * $id/$anchor/$dynamicAnchor registered), then a second pass binds every
 * $ref/$dynamicRef to its target node. Nodes are shared by json_t address,
 * so recursive schemas compile to cyclic graphs. Everything lives in the
 * schema's arena; regexes are freed by arena cleanup hooks. */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "jsonschema/js_int.h"
#include "jsonschema/js_uri.h"

#define JS_DEFAULT_BASE "tc:/root.json"

typedef struct {
    const json_t *key;
    js_node *node;
} map_slot;

typedef struct {
    const char *uri; /* absolute, without fragment ("" never) */
    const json_t *json;
    js_resource *res;
    js_dialect dialect;
} res_entry;

typedef struct {
    const char *uri; /* absolute with "#name" */
    const json_t *json;
    bool dynamic;
} anchor_entry;

typedef struct {
    js_node *owner;
    bool dynamic;
    const char *uri; /* resolved */
    const char *where;
} ref_entry;

typedef struct {
    tc_jsonschema *s;
    tc_err *err;
    bool failed;
    map_slot *map;
    size_t map_cap, map_len;
    res_entry *res;
    size_t nres, cres;
    anchor_entry *anchors;
    size_t nanchors, canchors;
    ref_entry *refs;
    size_t nrefs, crefs;
    size_t nnodes;
} js_cc;

typedef struct {
    const char *base;
    js_resource *res;
    js_dialect dialect;
    int depth;
} js_scope;

#define GROW(arr, n, cap)                                                      \
    do {                                                                       \
        if ((n) == (cap)) {                                                    \
            (cap) = (cap) ? (cap) * 2 : 16;                                    \
            (arr) = tc_realloc((arr), (cap) * sizeof(*(arr)));                 \
        }                                                                      \
    } while (0)

static bool fail(js_cc *cc, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static bool fail(js_cc *cc, const char *field, const char *fmt, ...)
{
    if (cc->failed)
        return false;
    cc->failed = true;
    char msg[TC_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    const char *where = field && *field ? field : "/";
    size_t wlen = strlen(where);
    /* long paths are shortened in the message (err->field keeps what fits) */
    tc_failf(cc->err, TC_BAD_REQUEST, where, "schema %s%s: %s", wlen > 100 ? "..." : "",
             wlen > 100 ? where + wlen - 100 : where, msg);
    return false;
}

/* ---- node map (json_t address -> node) ---- */

static size_t ptr_hash(const void *p)
{
    uintptr_t x = (uintptr_t)p;
    x ^= x >> 17;
    x *= 0xed5ad4bbU;
    x ^= x >> 11;
    return (size_t)x;
}

static js_node *map_get(js_cc *cc, const json_t *key)
{
    if (!cc->map_cap)
        return NULL;
    for (size_t i = ptr_hash(key) & (cc->map_cap - 1);; i = (i + 1) & (cc->map_cap - 1)) {
        if (!cc->map[i].key)
            return NULL;
        if (cc->map[i].key == key)
            return cc->map[i].node;
    }
}

static void map_put(js_cc *cc, const json_t *key, js_node *node);
static void map_grow(js_cc *cc)
{
    map_slot *old = cc->map;
    size_t oldcap = cc->map_cap;
    cc->map_cap = oldcap ? oldcap * 2 : 64;
    cc->map = tc_calloc(cc->map_cap, sizeof *cc->map);
    cc->map_len = 0;
    for (size_t i = 0; i < oldcap; i++)
        if (old[i].key)
            map_put(cc, old[i].key, old[i].node);
    free(old);
}

static void map_put(js_cc *cc, const json_t *key, js_node *node)
{
    if ((cc->map_len + 1) * 2 > cc->map_cap)
        map_grow(cc);
    size_t i = ptr_hash(key) & (cc->map_cap - 1);
    while (cc->map[i].key)
        i = (i + 1) & (cc->map_cap - 1);
    cc->map[i] = (map_slot){key, node};
    cc->map_len++;
}

/* ---- helpers ---- */

static const char *child_path(js_cc *cc, const char *path, const char *key)
{
    tc_buf b;
    tc_buf_init(&b, 1 << 20);
    tc_buf_puts(&b, path);
    tc_buf_puts(&b, "/");
    for (const char *p = key; *p; p++) {
        if (*p == '~')
            tc_buf_puts(&b, "~0");
        else if (*p == '/')
            tc_buf_puts(&b, "~1");
        else
            tc_buf_append(&b, p, 1);
    }
    char *s = tc_arena_strdup(cc->s->arena, b.data);
    tc_buf_free(&b);
    return s;
}

static const char *index_path(js_cc *cc, const char *path, const char *kw, size_t i)
{
    return tc_arena_printf(cc->s->arena, "%s/%zu", child_path(cc, path, kw), i);
}

static const char *arena_owned(js_cc *cc, char *heap)
{
    const char *s = tc_arena_strdup(cc->s->arena, heap);
    free(heap);
    return s;
}

/* Strips the fragment (and an empty "#") from an absolute URI. */
static const char *without_fragment(js_cc *cc, const char *uri)
{
    const char *hash = strchr(uri, '#');
    return hash ? tc_arena_strndup(cc->s->arena, uri, (size_t)(hash - uri)) : uri;
}

static res_entry *find_resource(js_cc *cc, const char *uri)
{
    for (size_t i = 0; i < cc->nres; i++)
        if (!strcmp(cc->res[i].uri, uri))
            return &cc->res[i];
    return NULL;
}

static js_resource *add_resource(js_cc *cc, const char *uri, const json_t *json, js_dialect d)
{
    res_entry *old = find_resource(cc, uri);
    if (old)
        return old->res;
    js_resource *r = tc_arena_alloc(cc->s->arena, sizeof *r);
    r->uri = uri;
    GROW(cc->res, cc->nres, cc->cres);
    cc->res[cc->nres++] = (res_entry){uri, json, r, d};
    return r;
}

static void add_anchor(js_cc *cc, const char *base, const char *name, const json_t *json,
                       bool dynamic)
{
    const char *uri = tc_arena_printf(cc->s->arena, "%s#%s", base, name);
    for (size_t i = 0; i < cc->nanchors; i++) {
        if (!strcmp(cc->anchors[i].uri, uri)) {
            cc->anchors[i].dynamic |= dynamic;
            return;
        }
    }
    GROW(cc->anchors, cc->nanchors, cc->canchors);
    cc->anchors[cc->nanchors++] = (anchor_entry){uri, json, dynamic};
}

static js_node *compile_node(js_cc *cc, const json_t *j, const char *path, js_scope sc);

static js_node *schema_kw(js_cc *cc, const json_t *obj, const char *kw, const char *path,
                          js_scope sc)
{
    const json_t *v = json_object_get(obj, kw);
    if (!v || cc->failed)
        return NULL;
    return compile_node(cc, v, child_path(cc, path, kw), sc);
}

static js_node **schema_array(js_cc *cc, const json_t *obj, const char *kw, const char *path,
                              js_scope sc, size_t *n)
{
    const json_t *v = json_object_get(obj, kw);
    *n = 0;
    if (!v || cc->failed)
        return NULL;
    if (!json_is_array(v) || json_array_size(v) == 0) {
        fail(cc, child_path(cc, path, kw), "%s must be a non-empty array of schemas", kw);
        return NULL;
    }
    js_node **out = tc_arena_alloc(cc->s->arena, json_array_size(v) * sizeof *out);
    for (size_t i = 0; i < json_array_size(v) && !cc->failed; i++)
        out[i] = compile_node(cc, json_array_get(v, i), index_path(cc, path, kw, i), sc);
    *n = json_array_size(v);
    return out;
}

static int cmp_named(const void *a, const void *b)
{
    return strcmp(((const js_named *)a)->name, ((const js_named *)b)->name);
}

static js_named *schema_map(js_cc *cc, const json_t *obj, const char *kw, const char *path,
                            js_scope sc, size_t *n)
{
    const json_t *v = json_object_get(obj, kw);
    *n = 0;
    if (!v || cc->failed)
        return NULL;
    const char *kpath = child_path(cc, path, kw);
    if (!json_is_object(v)) {
        fail(cc, kpath, "%s must be an object of schemas", kw);
        return NULL;
    }
    js_named *out = tc_arena_alloc(cc->s->arena, (json_object_size(v) + 1) * sizeof *out);
    const char *k;
    json_t *sub;
    json_object_foreach((json_t *)v, k, sub) {
        if (cc->failed)
            return NULL;
        out[*n].name = tc_arena_strdup(cc->s->arena, k);
        out[*n].schema = compile_node(cc, sub, child_path(cc, kpath, k), sc);
        (*n)++;
    }
    qsort(out, *n, sizeof *out, cmp_named);
    return out;
}

/* Non-negative integer keyword (integral reals like 2.0 accepted); -1 = absent. */
static int64_t count_kw(js_cc *cc, const json_t *obj, const char *kw, const char *path)
{
    const json_t *v = json_object_get(obj, kw);
    if (!v)
        return -1;
    if (!json_is_number(v) || !js__is_integer(v) || json_number_value(v) < 0) {
        fail(cc, child_path(cc, path, kw), "%s must be a non-negative integer", kw);
        return -1;
    }
    double d = json_number_value(v);
    return d > 9e18 ? INT64_MAX : (int64_t)d;
}

static const json_t *number_kw(js_cc *cc, const json_t *obj, const char *kw, const char *path)
{
    const json_t *v = json_object_get(obj, kw);
    if (v && !json_is_number(v)) {
        fail(cc, child_path(cc, path, kw), "%s must be a number", kw);
        return NULL;
    }
    return v;
}

static void free_regex(void *p)
{
    pcre2_code_free(p);
}

static pcre2_code *compile_regex(js_cc *cc, const char *src, size_t len, const char *field)
{
    if (len > cc->s->opts.max_pattern_len) {
        fail(cc, field, "regular expression longer than %u bytes", cc->s->opts.max_pattern_len);
        return NULL;
    }
    int code;
    PCRE2_SIZE off;
    pcre2_compile_context *ctx = pcre2_compile_context_create(NULL);
    pcre2_set_parens_nest_limit(ctx, 64);
    size_t plen;
    char *pcre = js__ecma_to_pcre(src, len, &plen);
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)pcre, plen,
                                   PCRE2_UTF | PCRE2_DOLLAR_ENDONLY | PCRE2_NEVER_BACKSLASH_C,
                                   &code, &off, ctx);
    pcre2_compile_context_free(ctx);
    free(pcre);
    if (!re) {
        PCRE2_UCHAR msg[160];
        pcre2_get_error_message(code, msg, sizeof msg);
        fail(cc, field, "invalid regular expression: %s", (char *)msg);
        return NULL;
    }
    pcre2_jit_compile(re, PCRE2_JIT_COMPLETE); /* best effort; interpreter otherwise */
    tc_arena_on_free(cc->s->arena, free_regex, re);
    cc->s->has_patterns = true;
    return re;
}

static const struct {
    const char *name;
    uint32_t bit;
} type_names[] = {
    {"null", JS_T_NULL},     {"boolean", JS_T_BOOLEAN}, {"object", JS_T_OBJECT},
    {"array", JS_T_ARRAY},   {"number", JS_T_NUMBER},   {"integer", JS_T_INTEGER},
    {"string", JS_T_STRING},
};

static uint32_t type_bit(const json_t *v)
{
    if (!json_is_string(v))
        return 0;
    for (size_t i = 0; i < sizeof type_names / sizeof type_names[0]; i++)
        if (!strcmp(json_string_value(v), type_names[i].name))
            return type_names[i].bit;
    return 0;
}

static void parse_type(js_cc *cc, js_node *n, const json_t *obj, const char *path)
{
    const json_t *t = json_object_get(obj, "type");
    if (!t)
        return;
    const char *field = child_path(cc, path, "type");
    if (json_is_string(t)) {
        n->types = type_bit(t);
    } else if (json_is_array(t) && json_array_size(t) > 0) {
        for (size_t i = 0; i < json_array_size(t); i++) {
            uint32_t bit = type_bit(json_array_get(t, i));
            if (!bit) {
                n->types = 0;
                break;
            }
            n->types |= bit;
        }
    }
    if (!n->types)
        fail(cc, field, "type must be one of null, boolean, object, array, number, integer, "
                        "string, or a non-empty array of them");
}

static bool string_array(const json_t *v)
{
    if (!json_is_array(v))
        return false;
    for (size_t i = 0; i < json_array_size(v); i++)
        if (!json_is_string(json_array_get(v, i)))
            return false;
    return true;
}

static void parse_objects(js_cc *cc, js_node *n, const json_t *obj, const char *path,
                          js_scope sc)
{
    n->props = schema_map(cc, obj, "properties", path, sc, &n->nprops);
    const json_t *pp = json_object_get(obj, "patternProperties");
    if (pp && !json_is_object(pp)) {
        fail(cc, child_path(cc, path, "patternProperties"),
             "patternProperties must be an object of schemas");
    } else if (pp) {
        const char *ppath = child_path(cc, path, "patternProperties");
        n->patprops = tc_arena_alloc(cc->s->arena, (json_object_size(pp) + 1) * sizeof(js_regex));
        const char *k;
        json_t *sub;
        json_object_foreach((json_t *)pp, k, sub) {
            if (cc->failed)
                break;
            const char *field = child_path(cc, ppath, k);
            js_regex *r = &n->patprops[n->npatprops++];
            r->src = tc_arena_strdup(cc->s->arena, k);
            r->re = compile_regex(cc, k, strlen(k), field);
            r->schema = compile_node(cc, sub, field, sc);
        }
    }
    n->additional_props = schema_kw(cc, obj, "additionalProperties", path, sc);
    n->property_names = schema_kw(cc, obj, "propertyNames", path, sc);
    n->min_props = count_kw(cc, obj, "minProperties", path);
    n->max_props = count_kw(cc, obj, "maxProperties", path);
    const json_t *req = json_object_get(obj, "required");
    if (req && !string_array(req))
        fail(cc, child_path(cc, path, "required"), "required must be an array of strings");
    n->required = req;
}

/* dependentRequired/dependentSchemas (2020-12) and draft-7 "dependencies"
 * (array -> required names, schema -> subschema). "dependencies" is also
 * honoured under 2020-12: tool schemas mix dialects and dropping it silently
 * would accept inputs the author meant to reject. */
static void add_dependency(js_cc *cc, js_node *n, const char *name, const json_t *v,
                           const char *field, bool as_req, js_scope sc)
{
    if (as_req) {
        if (string_array(v))
            n->depreq[n->ndepreq++] = (js_depreq){tc_arena_strdup(cc->s->arena, name), v};
        else
            fail(cc, field, "must be an array of strings");
        return;
    }
    js_named *d = &n->depschemas[n->ndepschemas++];
    d->name = tc_arena_strdup(cc->s->arena, name);
    d->schema = compile_node(cc, v, field, sc);
}

static void parse_dependencies(js_cc *cc, js_node *n, const json_t *obj, const char *path,
                               js_scope sc)
{
    static const char *const kws[] = {"dependencies", "dependentRequired", "dependentSchemas"};
    size_t cap = 1;
    for (size_t k = 0; k < 3; k++) {
        const json_t *v = json_object_get(obj, kws[k]);
        if (v && !json_is_object(v)) {
            fail(cc, child_path(cc, path, kws[k]), "%s must be an object", kws[k]);
            return;
        }
        cap += json_object_size(v);
    }
    if (cap == 1)
        return;
    n->depreq = tc_arena_alloc(cc->s->arena, cap * sizeof *n->depreq);
    n->depschemas = tc_arena_alloc(cc->s->arena, cap * sizeof *n->depschemas);
    for (size_t k = 0; k < 3 && !cc->failed; k++) {
        const json_t *v = json_object_get(obj, kws[k]);
        if (!v || (k > 0 && sc.dialect == JS_DRAFT7))
            continue;
        const char *kpath = child_path(cc, path, kws[k]);
        const char *name;
        json_t *dep;
        json_object_foreach((json_t *)v, name, dep) {
            bool as_req = k == 1 || (k == 0 && json_is_array(dep));
            add_dependency(cc, n, name, dep, child_path(cc, kpath, name), as_req, sc);
            if (cc->failed)
                return;
        }
    }
}

static void parse_arrays(js_cc *cc, js_node *n, const json_t *obj, const char *path,
                         js_scope sc)
{
    const json_t *items = json_object_get(obj, "items");
    if (json_is_array(items)) {
        /* draft-7 tuple form (also accepted, leniently, in 2020-12) */
        n->prefix = tc_arena_alloc(cc->s->arena, (json_array_size(items) + 1) * sizeof(js_node *));
        for (size_t i = 0; i < json_array_size(items) && !cc->failed; i++)
            n->prefix[i] = compile_node(cc, json_array_get(items, i),
                                        index_path(cc, path, "items", i), sc);
        n->nprefix = json_array_size(items);
        n->items = schema_kw(cc, obj, "additionalItems", path, sc);
    } else {
        if (sc.dialect != JS_DRAFT7)
            n->prefix = schema_array(cc, obj, "prefixItems", path, sc, &n->nprefix);
        n->items = schema_kw(cc, obj, "items", path, sc);
    }
    n->contains = schema_kw(cc, obj, "contains", path, sc);
    n->min_items = count_kw(cc, obj, "minItems", path);
    n->max_items = count_kw(cc, obj, "maxItems", path);
    n->min_contains = n->max_contains = -1;
    if (sc.dialect != JS_DRAFT7) {
        n->min_contains = count_kw(cc, obj, "minContains", path);
        n->max_contains = count_kw(cc, obj, "maxContains", path);
        n->unevaluated_items = schema_kw(cc, obj, "unevaluatedItems", path, sc);
        n->unevaluated_props = schema_kw(cc, obj, "unevaluatedProperties", path, sc);
        n->needs_eval = n->unevaluated_items || n->unevaluated_props;
    }
    const json_t *u = json_object_get(obj, "uniqueItems");
    if (u && !json_is_boolean(u))
        fail(cc, child_path(cc, path, "uniqueItems"), "uniqueItems must be a boolean");
    n->unique_items = json_is_true(u);
}

static void parse_scalars(js_cc *cc, js_node *n, const json_t *obj, const char *path)
{
    parse_type(cc, n, obj, path);
    n->enum_ = json_object_get(obj, "enum");
    if (n->enum_ && !json_is_array(n->enum_))
        fail(cc, child_path(cc, path, "enum"), "enum must be an array");
    n->const_ = json_object_get(obj, "const");
    n->has_const = n->const_ != NULL;
    n->minimum = number_kw(cc, obj, "minimum", path);
    n->maximum = number_kw(cc, obj, "maximum", path);
    n->xminimum = number_kw(cc, obj, "exclusiveMinimum", path);
    n->xmaximum = number_kw(cc, obj, "exclusiveMaximum", path);
    n->multiple_of = number_kw(cc, obj, "multipleOf", path);
    if (n->multiple_of && json_number_value(n->multiple_of) <= 0)
        fail(cc, child_path(cc, path, "multipleOf"), "multipleOf must be greater than 0");
    else if (n->multiple_of)
        js__decimal(n->multiple_of, &n->mo_mant, &n->mo_exp);
    n->min_length = count_kw(cc, obj, "minLength", path);
    n->max_length = count_kw(cc, obj, "maxLength", path);
    const json_t *pat = json_object_get(obj, "pattern");
    if (pat && !json_is_string(pat)) {
        fail(cc, child_path(cc, path, "pattern"), "pattern must be a string");
    } else if (pat) {
        n->pattern = tc_arena_alloc(cc->s->arena, sizeof *n->pattern);
        n->pattern->src = json_string_value(pat);
        n->pattern->re = compile_regex(cc, json_string_value(pat), json_string_length(pat),
                                       child_path(cc, path, "pattern"));
    }
    const json_t *fmt = json_object_get(obj, "format");
    if (json_is_string(fmt) && cc->s->opts.format_assert)
        n->format = json_string_value(fmt);
}

static void parse_logic(js_cc *cc, js_node *n, const json_t *obj, const char *path, js_scope sc)
{
    n->all_of = schema_array(cc, obj, "allOf", path, sc, &n->nall_of);
    n->any_of = schema_array(cc, obj, "anyOf", path, sc, &n->nany_of);
    n->one_of = schema_array(cc, obj, "oneOf", path, sc, &n->none_of);
    n->not_ = schema_kw(cc, obj, "not", path, sc);
    n->if_ = schema_kw(cc, obj, "if", path, sc);
    n->then_ = schema_kw(cc, obj, "then", path, sc);
    n->else_ = schema_kw(cc, obj, "else", path, sc);
}

/* Queues a $ref/$dynamicRef for the binding pass. */
static void add_ref(js_cc *cc, js_node *n, const json_t *obj, const char *kw, const char *path,
                    js_scope sc)
{
    const json_t *r = json_object_get(obj, kw);
    if (!r)
        return;
    const char *field = child_path(cc, path, kw);
    if (!json_is_string(r)) {
        fail(cc, field, "%s must be a string", kw);
        return;
    }
    GROW(cc->refs, cc->nrefs, cc->crefs);
    cc->refs[cc->nrefs++] = (ref_entry){
        n, kw[1] == 'd', arena_owned(cc, tc_js__uri_resolve(sc.base, json_string_value(r))), field};
}

static js_dialect dialect_of(js_cc *cc, const json_t *obj, const char *path, js_dialect d)
{
    const json_t *s = json_object_get(obj, "$schema");
    if (!s)
        return d;
    const char *v = json_string_value(s);
    if (!v) {
        fail(cc, child_path(cc, path, "$schema"), "$schema must be a string");
        return d;
    }
    if (strstr(v, "json-schema.org/draft-07") || strstr(v, "json-schema.org/draft-06") ||
        strstr(v, "json-schema.org/draft-04"))
        return JS_DRAFT7;
    return JS_DRAFT2020; /* 2020-12, 2019-09 and unknown meta-schemas */
}

/* $id / $anchor / $dynamicAnchor: may open a new resource (updates sc). */
static void parse_ids(js_cc *cc, const json_t *obj, const char *path, js_scope *sc)
{
    bool ref_hides = sc->dialect == JS_DRAFT7 && json_object_get(obj, "$ref");
    const json_t *id = json_object_get(obj, "$id");
    if (id && !ref_hides) {
        const char *v = json_string_value(id);
        if (!v) {
            fail(cc, child_path(cc, path, "$id"), "$id must be a string");
            return;
        }
        if (v[0] == '#' && sc->dialect == JS_DRAFT7) {
            if (v[1])
                add_anchor(cc, sc->base, v + 1, obj, false);
        } else {
            sc->base = without_fragment(cc, arena_owned(cc, tc_js__uri_resolve(sc->base, v)));
            sc->res = add_resource(cc, sc->base, obj, sc->dialect);
        }
    }
    if (sc->dialect == JS_DRAFT7)
        return;
    const json_t *a = json_object_get(obj, "$anchor");
    if (json_is_string(a))
        add_anchor(cc, sc->base, json_string_value(a), obj, false);
    const json_t *da = json_object_get(obj, "$dynamicAnchor");
    if (json_is_string(da))
        add_anchor(cc, sc->base, json_string_value(da), obj, true);
}

static void add_dynamic_anchor(js_cc *cc, js_node *n, const json_t *obj)
{
    const json_t *da = json_object_get(obj, "$dynamicAnchor");
    if (n->dialect == JS_DRAFT7 || !json_is_string(da))
        return;
    js_resource *r = n->res;
    GROW(r->dyn, r->ndyn, r->cdyn); /* heap: freed with the schema */
    r->dyn[r->ndyn++] = (js_named){json_string_value(da), n};
}

static js_node *compile_node(js_cc *cc, const json_t *j, const char *path, js_scope sc)
{
    if (cc->failed)
        return NULL;
    js_node *n = map_get(cc, j);
    if (n)
        return n;
    if (++sc.depth > (int)cc->s->opts.max_depth) {
        fail(cc, path, "nested deeper than %u levels", cc->s->opts.max_depth);
        return NULL;
    }
    if (++cc->nnodes > cc->s->opts.max_nodes) {
        fail(cc, path, "more than %u subschemas", cc->s->opts.max_nodes);
        return NULL;
    }
    if (!json_is_object(j) && !json_is_boolean(j)) {
        fail(cc, path, "a schema must be an object or a boolean");
        return NULL;
    }
    n = tc_arena_alloc(cc->s->arena, sizeof *n);
    n->src = j;
    n->path = path;
    n->min_length = n->max_length = n->min_items = n->max_items = -1;
    n->min_props = n->max_props = n->min_contains = n->max_contains = -1;
    map_put(cc, j, n);
    if (json_is_boolean(j)) {
        n->is_bool = true;
        n->bool_val = json_is_true(j);
        n->res = sc.res;
        n->dialect = sc.dialect;
        return n;
    }
    sc.dialect = dialect_of(cc, j, path, sc.dialect);
    parse_ids(cc, j, path, &sc);
    n->res = sc.res;
    n->dialect = sc.dialect;
    add_dynamic_anchor(cc, n, j);
    add_ref(cc, n, j, "$ref", path, sc);
    if (sc.dialect == JS_DRAFT7 && json_object_get(j, "$ref")) {
        n->ref_only = true; /* siblings ignored; still compile definitions */
        js_named *defs;
        size_t nd;
        defs = schema_map(cc, j, "definitions", path, sc, &nd);
        (void)defs;
        return cc->failed ? NULL : n;
    }
    if (sc.dialect != JS_DRAFT7)
        add_ref(cc, n, j, "$dynamicRef", path, sc);
    size_t nd;
    schema_map(cc, j, sc.dialect == JS_DRAFT7 ? "definitions" : "$defs", path, sc, &nd);
    parse_scalars(cc, n, j, path);
    parse_objects(cc, n, j, path, sc);
    parse_dependencies(cc, n, j, path, sc);
    parse_arrays(cc, n, j, path, sc);
    parse_logic(cc, n, j, path, sc);
    return cc->failed ? NULL : n;
}

/* ---- binding $ref ---- */

/* Decodes one JSON-pointer token of a URI fragment: %XX, then ~1 and ~0. */
static char *pointer_token(const char *p, size_t n)
{
    char *out = tc_malloc(n + 1);
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        char c = p[i];
        if (c == '%' && i + 2 < n) {
            char hex[3] = {p[i + 1], p[i + 2], 0};
            char *end;
            long v = strtol(hex, &end, 16);
            if (end == hex + 2) {
                c = (char)v;
                i += 2;
            }
        }
        out[o++] = c;
    }
    out[o] = 0;
    size_t w = 0;
    for (size_t r = 0; r < o; r++) {
        if (out[r] == '~' && out[r + 1] == '1')
            out[w++] = '/', r++;
        else if (out[r] == '~' && out[r + 1] == '0')
            out[w++] = '~', r++;
        else
            out[w++] = out[r];
    }
    out[w] = 0;
    return out;
}

/* Walks a JSON pointer (URI fragment form) from root; tracks the path. */
static const json_t *walk_pointer(const json_t *root, const char *ptr)
{
    const json_t *cur = root;
    while (*ptr == '/' && cur) {
        ptr++;
        size_t len = strcspn(ptr, "/");
        char *tok = pointer_token(ptr, len);
        if (json_is_object(cur)) {
            cur = json_object_get(cur, tok);
        } else if (json_is_array(cur)) {
            char *end;
            unsigned long i = strtoul(tok, &end, 10);
            cur = (*tok && !*end) ? json_array_get(cur, i) : NULL;
        } else {
            cur = NULL;
        }
        free(tok);
        ptr += len;
    }
    return cur;
}

static const json_t *find_anchor(js_cc *cc, const char *uri, bool *dynamic)
{
    for (size_t i = 0; i < cc->nanchors; i++) {
        if (!strcmp(cc->anchors[i].uri, uri)) {
            *dynamic = cc->anchors[i].dynamic;
            return cc->anchors[i].json;
        }
    }
    return NULL;
}

static bool bind_ref(js_cc *cc, ref_entry *r)
{
    const char *hash = strchr(r->uri, '#');
    const char *frag = hash ? hash + 1 : "";
    char *doc = hash ? tc_strndup(r->uri, (size_t)(hash - r->uri)) : tc_strdup(r->uri);
    res_entry *res = find_resource(cc, doc);
    bool dynamic = false;
    const json_t *target = NULL;
    if (res && (!*frag || *frag == '/'))
        target = walk_pointer(res->json, frag);
    else if (*frag)
        target = find_anchor(cc, r->uri, &dynamic);
    free(doc);
    if (!target && !res) {
        tc_failc(cc->err, TC_BAD_REQUEST, "schema_remote_ref", r->where,
                 "schema %s: $ref \"%s\" points outside this schema (remote refs are not "
                 "supported)", r->where, r->uri);
        cc->failed = true;
        return false;
    }
    if (!target)
        return fail(cc, r->where, "cannot resolve \"%s\"", r->uri);
    js_node *t = map_get(cc, target);
    if (!t) {
        js_scope sc = {res ? res->uri : r->owner->res->uri, res ? res->res : r->owner->res,
                       res ? res->dialect : r->owner->dialect, 0};
        t = compile_node(cc, target, tc_arena_printf(cc->s->arena, "%s(target)", r->where), sc);
        if (!t)
            return false;
    }
    if (!r->dynamic) {
        r->owner->ref = t;
        return true;
    }
    r->owner->dynref = t;
    if (dynamic)
        r->owner->dynref_name = tc_arena_strdup(cc->s->arena, frag);
    return true;
}

static void free_resources(void *p)
{
    js_cc *cc = p;
    for (size_t i = 0; i < cc->nres; i++)
        free(cc->res[i].res->dyn);
    free(cc->res);
    free(cc);
}

void js__opts_defaults(tc_jsonschema_opts *o)
{
    if (!o->max_depth)
        o->max_depth = 128;
    if (!o->max_nodes)
        o->max_nodes = 20000;
    if (!o->max_work)
        o->max_work = 1000000;
    if (!o->max_errors)
        o->max_errors = 100;
    if (!o->max_pattern_len)
        o->max_pattern_len = 4096;
    if (!o->regex_match_limit)
        o->regex_match_limit = 100000;
    if (!o->regex_depth_limit)
        o->regex_depth_limit = 1000;
}

tc_jsonschema *tc_jsonschema_compile(const json_t *schema, const tc_jsonschema_opts *opts,
                                     tc_err *err)
{
    if (!schema) {
        tc_failf(err, TC_BAD_REQUEST, "/", "schema is missing");
        return NULL;
    }
    tc_jsonschema *s = tc_calloc(1, sizeof *s);
    s->refs = 1;
    s->arena = tc_arena_new(16384);
    if (opts)
        s->opts = *opts;
    js__opts_defaults(&s->opts);
    s->doc = json_deep_copy(schema);
    js_cc *cc = tc_calloc(1, sizeof *cc);
    cc->s = s;
    cc->err = err;
    tc_arena_on_free(s->arena, free_resources, cc);
    js_dialect d = s->opts.default_dialect == TC_JSONSCHEMA_DRAFT7 ? JS_DRAFT7 : JS_DRAFT2020;
    if (json_is_object(s->doc))
        d = dialect_of(cc, s->doc, "", d);
    js_scope sc = {JS_DEFAULT_BASE, NULL, d, 0};
    sc.res = add_resource(cc, JS_DEFAULT_BASE, s->doc, d);
    s->root = compile_node(cc, s->doc, "", sc);
    for (size_t i = 0; i < cc->nrefs && !cc->failed; i++) {
        ref_entry r = cc->refs[i]; /* binding may compile more nodes and grow refs */
        bind_ref(cc, &r);
    }
    bool ok = !cc->failed && s->root;
    free(cc->map);
    free(cc->anchors);
    free(cc->refs);
    cc->map = NULL;
    cc->anchors = NULL;
    cc->refs = NULL;
    if (!ok) {
        tc_jsonschema_free(s);
        return NULL;
    }
    return s;
}

void tc_jsonschema_free(tc_jsonschema *s)
{
    if (!s)
        return;
    if (atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) != 1)
        return;
    tc_arena_free(s->arena);
    json_decref(s->doc);
    free(s);
}
