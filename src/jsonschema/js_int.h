/* jsonschema internals shared by the module's .c files. */
#ifndef TC_JSONSCHEMA_INT_H
#define TC_JSONSCHEMA_INT_H

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "jsonschema/jsonschema.h"

/* instance type bits ("integer" is a subset of "number") */
enum {
    JS_T_NULL = 1 << 0,
    JS_T_BOOLEAN = 1 << 1,
    JS_T_OBJECT = 1 << 2,
    JS_T_ARRAY = 1 << 3,
    JS_T_NUMBER = 1 << 4,
    JS_T_INTEGER = 1 << 5,
    JS_T_STRING = 1 << 6,
};

typedef struct js_node js_node;

typedef struct {
    const char *name;
    js_node *schema;
} js_named;

typedef struct {
    pcre2_code *re;
    const char *src;
    js_node *schema; /* NULL for "pattern" */
} js_regex;

typedef struct {
    const char *name;
    const json_t *names; /* array of strings */
} js_depreq;

/* A schema resource (document root or subschema with $id): the unit of
 * $dynamicAnchor lookup. */
typedef struct js_resource {
    const char *uri;
    js_named *dyn; /* $dynamicAnchor name -> node */
    size_t ndyn;
    size_t cdyn;
} js_resource;

typedef enum { JS_DRAFT2020 = 0, JS_DRAFT7 = 1 } js_dialect;

struct js_node {
    const json_t *src;
    const char *path; /* JSON pointer of this schema in the document */
    js_resource *res;
    js_dialect dialect;
    bool is_bool, bool_val;
    bool ref_only;      /* draft 7: $ref hides its siblings */
    bool has_const;
    bool needs_eval;    /* has unevaluated*: must track evaluated keys/items */
    uint32_t types;     /* 0 = no "type" */
    const json_t *enum_, *const_;
    const json_t *minimum, *maximum, *xminimum, *xmaximum, *multiple_of;
    uint64_t mo_mant; /* multipleOf as mo_mant * 10^mo_exp */
    int mo_exp;
    int64_t min_length, max_length, min_items, max_items, min_props, max_props;
    int64_t min_contains, max_contains;
    bool unique_items;
    js_regex *pattern;
    const char *format;
    js_named *props;        /* sorted by name */
    size_t nprops;
    js_regex *patprops;
    size_t npatprops;
    js_node *additional_props, *property_names, *unevaluated_props;
    const json_t *required;
    js_depreq *depreq;
    size_t ndepreq;
    js_named *depschemas;
    size_t ndepschemas;
    js_node **prefix;        /* prefixItems, or draft-7 array "items" */
    size_t nprefix;
    js_node *items;          /* applies past the prefix */
    js_node *contains, *unevaluated_items;
    js_node **all_of, **any_of, **one_of;
    size_t nall_of, nany_of, none_of;
    js_node *not_, *if_, *then_, *else_;
    js_node *ref;
    js_node *dynref;         /* initial target of $dynamicRef */
    const char *dynref_name; /* set when the target is a matching $dynamicAnchor */
};

struct tc_jsonschema {
    _Atomic int refs;
    json_t *doc;
    tc_arena *arena;
    js_node *root;
    tc_jsonschema_opts opts;
    bool has_patterns;
};

/* fills zero fields of o with the defaults (js_compile.c) */
void js__opts_defaults(tc_jsonschema_opts *o);

/* values (js_value.c) */
int js__num_cmp(const json_t *a, const json_t *b); /* both numbers */
bool js__is_integer(const json_t *v);
/* v = mant * 10^exp for the shortest decimal text of v (sign dropped) */
void js__decimal(const json_t *v, uint64_t *mant, int *exp);
/* divisor = b * 10^eb (from js__decimal, precomputed at compile time) */
bool js__multiple_of(const json_t *v, const json_t *divisor, uint64_t b, int eb);
bool js__equal(const json_t *a, const json_t *b);
uint64_t js__hash(const json_t *v);
size_t js__utf8_len(const char *s, size_t n);
void js__num_format(const json_t *v, char *out, size_t n);

/* ECMA-262 pattern -> PCRE2 pattern (js_regex.c); caller frees */
char *js__ecma_to_pcre(const char *src, size_t len, size_t *outlen);

/* formats (js_format.c): true when s is valid for format (unknown formats pass) */
bool js__format_ok(const char *format, const char *s, size_t n);

#endif
