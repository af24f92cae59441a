/* The REST request template of docs/catalog.md turned into one HTTP request:
 * method, URL (base_url + path with URL-encoded {placeholders}, or an
 * absolute URL from an argument), query, JSON body or form, headers, and
 * the credential (header or query pair). Pure: no I/O. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "exec/exec_int.h"
#include "net/net.h"

#define URL_MAX (16 * 1024)
#define BODY_MAX (4u << 20)
#define HEADERS_MAX 64
#define NAME_MAX_LEN 64

static const char *const methods[] = {"GET", "POST", "PUT", "PATCH", "DELETE"};

typedef struct build {
    const json_t *args;
    json_t *used;       /* names taken by the path, url, method or query */
    tc_err *err;
} build;

/* "{name}" exactly (a whole-value placeholder): copies name into out. */
static bool whole_placeholder(const char *s, char out[NAME_MAX_LEN + 1])
{
    size_t n = s ? strlen(s) : 0;
    if (n < 3 || n > NAME_MAX_LEN + 2 || s[0] != '{' || s[n - 1] != '}')
        return false;
    for (size_t i = 1; i < n - 1; i++)
        if (!isalnum((unsigned char)s[i]) && !strchr("_.-*", s[i]))
            return false;
    memcpy(out, s + 1, n - 2);
    out[n - 2] = '\0';
    return true;
}

/* Text of a scalar argument (caller frees); NULL for null, objects and
 * arrays are compact JSON. */
static char *scalar_text(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_STRING:
        return tc_strndup(json_string_value(v), json_string_length(v));
    case JSON_INTEGER:
        return tc_asprintf("%lld", (long long)json_integer_value(v));
    case JSON_REAL:
        return tc_asprintf("%.17g", json_real_value(v));
    case JSON_TRUE:
        return tc_strdup("true");
    case JSON_FALSE:
        return tc_strdup("false");
    case JSON_NULL:
        return NULL;
    default:
        return json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    }
}

static const json_t *arg(build *b, const char *name, bool mark_used)
{
    const json_t *v = json_object_get(b->args, name);
    if (v && mark_used)
        json_object_set_new(b->used, name, json_true());
    return v && !json_is_null(v) ? v : NULL;
}

/* Expands inline {name} placeholders of tpl into out; encode: URL-encode
 * each value (path segments). A missing argument fails naming it. */
static tc_status expand(build *b, const char *tpl, bool encode, bool mark, const char *where,
                        tc_buf *out)
{
    for (const char *p = tpl; *p;) {
        const char *open = strchr(p, '{'), *close = open ? strchr(open, '}') : NULL;
        if (!open || !close || (size_t)(close - open - 1) > NAME_MAX_LEN) {
            if (tc_buf_puts(out, p) != TC_OK)
                return tc_failf(b->err, TC_TOO_LARGE, where, "the request %s is too long", where);
            break;
        }
        tc_buf_append(out, p, (size_t)(open - p));
        char name[NAME_MAX_LEN + 1];
        snprintf(name, sizeof(name), "%.*s", (int)(close - open - 1), open + 1);
        const json_t *v = arg(b, name, mark);
        if (!v)
            return tc_failf(b->err, TC_VALIDATION, name,
                            "argument \"%s\" is required to build the request %s", name, where);
        char *text = scalar_text(v);
        char *enc = encode ? tc_net_urlencode(text) : NULL;
        tc_status st = tc_buf_puts(out, enc ? enc : text);
        free(text);
        free(enc);
        if (st != TC_OK)
            return tc_failf(b->err, TC_TOO_LARGE, where, "the request %s is too long", where);
        p = close + 1;
    }
    return TC_OK;
}

static tc_status build_method(build *b, const json_t *req, tc_rest_call *out)
{
    const char *m = json_string_value(json_object_get(req, "method"));
    char name[NAME_MAX_LEN + 1];
    if (m && whole_placeholder(m, name)) {
        const json_t *v = arg(b, name, true);
        m = json_string_value(v);
        if (!m)
            return tc_failf(b->err, TC_VALIDATION, name, "argument \"%s\" must name the HTTP method", name);
    }
    if (!m)
        m = "GET";
    for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
        if (!strcasecmp(m, methods[i])) {
            snprintf(out->method, sizeof(out->method), "%s", methods[i]);
            return TC_OK;
        }
    }
    return tc_failf(b->err, TC_VALIDATION, "method", "method must be GET, POST, PUT, PATCH or DELETE");
}

static bool is_http_url(const char *u)
{
    return !strncasecmp(u, "http://", 7) || !strncasecmp(u, "https://", 8);
}

static tc_status build_base(build *b, const json_t *def, const json_t *req, tc_buf *url)
{
    const char *path = json_string_value(json_object_get(req, "path"));
    const char *utpl = json_string_value(json_object_get(req, "url"));
    if (utpl) {
        tc_buf tmp;
        tc_buf_init(&tmp, URL_MAX);
        tc_status st = expand(b, utpl, false, true, "url", &tmp);
        if (st == TC_OK && !is_http_url(tmp.data ? tmp.data : ""))
            st = tc_failf(b->err, TC_VALIDATION, "url", "url must be an absolute http(s) URL");
        if (st == TC_OK)
            st = tc_buf_puts(url, tmp.data);
        tc_buf_free(&tmp);
        return st;
    }
    const char *base = json_string_value(json_object_get(def, "base_url"));
    if (!base || !path)
        return tc_failf(b->err, TC_INTERNAL, "request", "the tool declares neither url nor base_url + path");
    size_t bl = strlen(base);
    while (bl > 0 && base[bl - 1] == '/')
        bl--;
    tc_buf_append(url, base, bl);
    return expand(b, path, true, true, "path", url);
}

/* Appends k=v (both encoded) with the right separator. */
static tc_status query_pair(tc_buf *url, const char *k, const char *v)
{
    char *ek = tc_net_urlencode(k), *ev = tc_net_urlencode(v);
    tc_status st = tc_buf_printf(url, "%c%s=%s", strchr(url->data, '?') ? '&' : '?', ek, ev);
    free(ek);
    free(ev);
    return st;
}

/* One query parameter from a value: arrays repeat the key. */
static tc_status query_value(tc_buf *url, const char *k, const json_t *v)
{
    if (json_is_array(v)) {
        size_t i;
        const json_t *e;
        json_array_foreach(v, i, e) {
            tc_status st = query_value(url, k, e);
            if (st != TC_OK)
                return st;
        }
        return TC_OK;
    }
    char *text = scalar_text(v);
    tc_status st = text ? query_pair(url, k, text) : TC_OK;
    free(text);
    return st;
}

static tc_status build_query(build *b, const json_t *req, tc_buf *url)
{
    const json_t *q = json_object_get(req, "query");
    char name[NAME_MAX_LEN + 1];
    if (json_is_string(q) && whole_placeholder(json_string_value(q), name))
        q = arg(b, name, true);
    if (!q)
        return TC_OK;
    if (!json_is_object(q))
        return tc_failf(b->err, TC_VALIDATION, "query", "the query must be an object of parameters");
    const char *k;
    const json_t *v;
    json_object_foreach((json_t *)q, k, v) {
        const json_t *val = v;
        if (json_is_string(v) && whole_placeholder(json_string_value(v), name))
            val = arg(b, name, true);
        if (val && query_value(url, k, val) != TC_OK)
            return tc_failf(b->err, TC_TOO_LARGE, "query", "the request URL is too long");
    }
    return TC_OK;
}

/* Deep copy of a JSON template with "{name}" strings replaced by argument
 * values; absent ones are dropped. NULL when the whole value is absent. */
static json_t *fill(build *b, const json_t *tpl)
{
    char name[NAME_MAX_LEN + 1];
    if (json_is_string(tpl) && whole_placeholder(json_string_value(tpl), name)) {
        const json_t *v = arg(b, name, false);
        return v ? json_deep_copy(v) : NULL;
    }
    if (json_is_object(tpl)) {
        json_t *o = json_object();
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)tpl, k, v) {
            json_t *f = fill(b, v);
            if (f)
                json_object_set_new(o, k, f);
        }
        return o;
    }
    if (json_is_array(tpl)) {
        json_t *a = json_array();
        size_t i;
        json_t *v;
        json_array_foreach(tpl, i, v) {
            json_t *f = fill(b, v);
            if (f)
                json_array_append_new(a, f);
        }
        return a;
    }
    return json_deep_copy(tpl);
}

/* "{*}": every argument not used by the path, url, method or query. */
static json_t *unused_args(build *b)
{
    json_t *o = json_object();
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)b->args, k, v) {
        if (!json_object_get(b->used, k))
            json_object_set(o, k, v);
    }
    return o;
}

static json_t *body_doc(build *b, const json_t *tpl)
{
    if (json_is_string(tpl) && !strcmp(json_string_value(tpl), "{*}"))
        return unused_args(b);
    return fill(b, tpl);
}

/* Form encoding with bracket nesting (Stripe style: a[b]=1, a[0]=x). */
static tc_status form_value(tc_buf *out, const char *key, const json_t *v)
{
    if (json_is_object(v) || json_is_array(v)) {
        const char *k;
        json_t *e;
        size_t i;
        if (json_is_object(v)) {
            json_object_foreach((json_t *)v, k, e) {
                char *sub = tc_asprintf("%s[%s]", key, k);
                tc_status st = form_value(out, sub, e);
                free(sub);
                if (st != TC_OK)
                    return st;
            }
            return TC_OK;
        }
        json_array_foreach(v, i, e) {
            char *sub = tc_asprintf("%s[%zu]", key, i);
            tc_status st = form_value(out, sub, e);
            free(sub);
            if (st != TC_OK)
                return st;
        }
        return TC_OK;
    }
    char *text = scalar_text(v);
    if (!text)
        return TC_OK;
    char *ek = tc_net_urlencode(key), *ev = tc_net_urlencode(text);
    tc_status st = tc_buf_printf(out, "%s%s=%s", out->len ? "&" : "", ek, ev);
    free(text);
    free(ek);
    free(ev);
    return st;
}

static tc_status build_body(build *b, const json_t *req, tc_rest_call *out, const char **ctype)
{
    const json_t *form = json_object_get(req, "form"), *tpl = json_object_get(req, "body");
    *ctype = NULL;
    if (!form && !tpl)
        return TC_OK;
    json_t *doc = body_doc(b, form ? form : tpl);
    if (!doc)
        return TC_OK; /* "{name}" body with the argument absent: no body */
    tc_status st = TC_OK;
    if (form) {
        tc_buf fb;
        tc_buf_init(&fb, BODY_MAX);
        const char *k;
        json_t *v;
        json_object_foreach(doc, k, v) {
            if ((st = form_value(&fb, k, v)) != TC_OK)
                break;
        }
        out->body_len = fb.len;
        out->body = tc_buf_steal(&fb);
        if (!out->body)
            out->body = tc_strdup("");
        *ctype = "Content-Type: application/x-www-form-urlencoded";
    } else {
        out->body = json_dumps(doc, JSON_COMPACT | JSON_ENCODE_ANY);
        out->body_len = out->body ? strlen(out->body) : 0;
        *ctype = "Content-Type: application/json";
        if (out->body_len > BODY_MAX)
            st = TC_TOO_LARGE;
    }
    json_decref(doc);
    if (st != TC_OK)
        return tc_failf(b->err, TC_TOO_LARGE, "body", "the request body is too large");
    return TC_OK;
}

/* ---- headers ---- */

typedef struct hdrs {
    char *lines[HEADERS_MAX + 8];
    size_t n;
} hdrs;

static bool header_name_ok(const char *k)
{
    if (!*k || strlen(k) > 128)
        return false;
    for (const char *p = k; *p; p++)
        if (!isalnum((unsigned char)*p) && !strchr("!#$%&'*+-.^_`|~", *p))
            return false;
    return true;
}

static bool same_name(const char *line, const char *name)
{
    size_t n = strlen(name);
    return !strncasecmp(line, name, n) && line[n] == ':';
}

/* Sets (replacing a header of the same name) unless it is the credential's. */
static tc_status hdr_set(build *b, hdrs *h, const char *name, const char *value, const char *cred)
{
    if (!header_name_ok(name) || strpbrk(value, "\r\n"))
        return tc_failf(b->err, TC_VALIDATION, "headers", "header \"%.64s\" has an invalid name or value", name);
    if (cred && same_name(cred, name))
        return TC_OK; /* credential headers can't be overridden */
    for (size_t i = 0; i < h->n; i++) {
        if (same_name(h->lines[i], name)) {
            free(h->lines[i]);
            h->lines[i] = tc_asprintf("%s: %s", name, value);
            return TC_OK;
        }
    }
    if (h->n >= HEADERS_MAX)
        return tc_failf(b->err, TC_VALIDATION, "headers", "too many headers (at most %d)", HEADERS_MAX);
    h->lines[h->n++] = tc_asprintf("%s: %s", name, value);
    return TC_OK;
}

static tc_status hdr_from_object(build *b, hdrs *h, const json_t *obj, bool templated,
                                 const char *cred)
{
    const char *k;
    const json_t *v;
    char name[NAME_MAX_LEN + 1];
    json_object_foreach((json_t *)obj, k, v) {
        tc_status st = TC_OK;
        if (templated && json_is_string(v) && whole_placeholder(json_string_value(v), name)) {
            const json_t *a = arg(b, name, false);
            char *text = a ? scalar_text(a) : NULL;
            if (text)
                st = hdr_set(b, h, k, text, cred);
            free(text);
        } else if (templated && json_is_string(v)) {
            tc_buf tmp;
            tc_buf_init(&tmp, 8192);
            st = expand(b, json_string_value(v), false, false, "headers", &tmp);
            if (st == TC_OK)
                st = hdr_set(b, h, k, tmp.data ? tmp.data : "", cred);
            tc_buf_free(&tmp);
        } else {
            char *text = scalar_text(v);
            if (text)
                st = hdr_set(b, h, k, text, cred);
            free(text);
        }
        if (st != TC_OK)
            return st;
    }
    return TC_OK;
}

static tc_status build_headers(build *b, const json_t *def, const json_t *req, const char *cred,
                               const char *ctype, tc_rest_call *out)
{
    hdrs h = {.n = 0};
    h.lines[h.n++] = tc_strdup("Accept: application/json");
    h.lines[h.n++] = tc_asprintf("User-Agent: toolconnect/%s", TC_VERSION);
    tc_status st = hdr_from_object(b, &h, json_object_get(def, "headers"), false, cred);
    const json_t *th = json_object_get(req, "headers");
    char name[NAME_MAX_LEN + 1];
    if (st == TC_OK && json_is_string(th) && whole_placeholder(json_string_value(th), name)) {
        const json_t *a = arg(b, name, false);
        if (a && !json_is_object(a))
            st = tc_failf(b->err, TC_VALIDATION, name, "argument \"%s\" must be an object of headers", name);
        else if (a)
            st = hdr_from_object(b, &h, a, false, cred);
    } else if (st == TC_OK && json_is_object(th)) {
        st = hdr_from_object(b, &h, th, true, cred);
    }
    if (st == TC_OK && ctype) {
        for (size_t i = 0; i < h.n; i++)
            if (same_name(h.lines[i], "Content-Type"))
                ctype = NULL; /* the template chose one */
        if (ctype)
            h.lines[h.n++] = tc_strdup(ctype);
    }
    if (st == TC_OK && cred)
        h.lines[h.n++] = tc_strdup(cred);
    out->headers = tc_calloc(h.n + 1, sizeof(char *));
    memcpy(out->headers, h.lines, h.n * sizeof(char *));
    return st;
}

tc_status tc_exec__rest_build(const json_t *def, const json_t *request, const json_t *args,
                              const char *cred_header, const char *cred_query, tc_rest_call *out,
                              tc_err *err)
{
    memset(out, 0, sizeof(*out));
    build b = {.args = args, .used = json_object(), .err = err};
    tc_buf url;
    tc_buf_init(&url, URL_MAX);
    const char *ctype = NULL;
    tc_status st = build_method(&b, request, out);
    if (st == TC_OK)
        st = build_base(&b, def, request, &url);
    if (st == TC_OK)
        st = build_query(&b, request, &url);
    if (st == TC_OK && cred_query)
        st = tc_buf_printf(&url, "%c%s", strchr(url.data, '?') ? '&' : '?', cred_query) == TC_OK
                 ? TC_OK
                 : tc_failf(err, TC_TOO_LARGE, "query", "the request URL is too long");
    if (st == TC_OK)
        st = build_body(&b, request, out, &ctype);
    if (st == TC_OK)
        st = build_headers(&b, def, request, cred_header, ctype, out);
    out->url = tc_buf_steal(&url);
    json_decref(b.used);
    if (st != TC_OK)
        tc_exec__rest_call_free(out);
    return st;
}

static void wipe_free(char *s)
{
    if (!s)
        return;
    explicit_bzero(s, strlen(s));
    free(s);
}

void tc_exec__rest_call_free(tc_rest_call *c)
{
    wipe_free(c->url);
    for (size_t i = 0; c->headers && c->headers[i]; i++)
        wipe_free(c->headers[i]);
    free(c->headers);
    if (c->body)
        explicit_bzero(c->body, c->body_len);
    free(c->body);
    memset(c, 0, sizeof(*c));
}

/* RFC 6901: "/a/0/b~1c" */
const json_t *tc_exec__json_pointer(const json_t *doc, const char *ptr)
{
    if (!ptr || !*ptr)
        return doc;
    if (*ptr != '/')
        return NULL;
    const json_t *cur = doc;
    const char *p = ptr + 1;
    for (;;) {
        char tok[512];
        size_t n = 0;
        for (; *p && *p != '/'; p++) {
            char ch = *p;
            if (ch == '~') {
                if (p[1] != '0' && p[1] != '1')
                    return NULL;
                ch = p[1] == '0' ? '~' : '/';
                p++;
            }
            if (n + 1 >= sizeof(tok))
                return NULL;
            tok[n++] = ch;
        }
        tok[n] = '\0';
        if (json_is_object(cur)) {
            cur = json_object_get(cur, tok);
        } else if (json_is_array(cur)) {
            char *end;
            unsigned long i = strtoul(tok, &end, 10);
            if (!n || *end || (tok[0] == '0' && n > 1))
                return NULL;
            cur = json_array_get(cur, i);
        } else {
            return NULL;
        }
        if (!cur || !*p)
            return cur;
        p++;
    }
}
