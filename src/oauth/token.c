/* Token endpoint calls (RFC 6749 3.2, 4.1.3, 6; RFC 7009) shaped by the
 * connector's auth block: client authentication, extra parameters and
 * headers, form or JSON bodies, and JSON pointers into the answer. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/net.h"
#include "oauth/oauth_int.h"

#define ERROR_TEXT_MAX 200

static const char *jstr(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

const json_t *tc_oauth_pointer(const json_t *doc, const char *pointer)
{
    if (!pointer || !*pointer)
        return doc;
    if (*pointer != '/')
        return NULL;
    const json_t *cur = doc;
    for (const char *p = pointer + 1; cur;) {
        char tok[128];
        size_t n = 0;
        for (; *p && *p != '/' && n + 1 < sizeof(tok); p++) {
            if (p[0] == '~' && (p[1] == '0' || p[1] == '1')) {
                tok[n++] = p[1] == '0' ? '~' : '/';
                p++;
            } else {
                tok[n++] = *p;
            }
        }
        tok[n] = '\0';
        if (json_is_array(cur)) {
            char *end;
            unsigned long i = strtoul(tok, &end, 10);
            cur = *end || !n ? NULL : json_array_get(cur, i);
        } else {
            cur = json_object_get(cur, tok);
        }
        if (!*p)
            break;
        p++;
    }
    return cur;
}

void tc_oauth__tokens_clear(tc_oauth__tokens *t)
{
    tc_secret_free_str(t->access_token);
    tc_secret_free_str(t->refresh_token);
    free(t->token_type);
    free(t->scope);
    memset(t, 0, sizeof(*t));
}

/* ---- the request ---- */

static void form_add(tc_buf *b, const char *k, const char *v)
{
    char *ek = tc_net_urlencode(k), *ev = tc_net_urlencode(v);
    tc_buf_printf(b, "%s%s=%s", b->len ? "&" : "", ek, ev);
    free(ek);
    tc_secret_free_str(ev);
}

/* Client authentication goes in the body (post / none) or a Basic header. */
static bool auth_in_body(const json_t *auth, const char **method)
{
    const char *m = jstr(auth, "token_auth");
    *method = m ? m : "client_secret_basic";
    return strcmp(*method, "client_secret_basic") != 0;
}

/* Body fields: the call's params, then the client's, then token_params
 * (which never override ours). */
static json_t *body_fields(const json_t *auth, const tc_oauth__client *cl, const char *const *params,
                           bool with_token_params)
{
    json_t *f = json_object();
    for (size_t i = 0; params[i] && params[i + 1]; i += 2)
        json_object_set_new(f, params[i], json_string(params[i + 1]));
    const char *method;
    if (auth_in_body(auth, &method)) {
        json_object_set_new(f, "client_id", json_string(cl->client_id));
        if (!strcmp(method, "client_secret_post") && cl->client_secret)
            json_object_set_new(f, "client_secret", json_string(cl->client_secret));
    }
    const char *k;
    const json_t *v;
    if (with_token_params)
        json_object_foreach((json_t *)json_object_get(auth, "token_params"), k, v) {
            if (!json_object_get(f, k) && json_is_string(v))
                json_object_set(f, k, (json_t *)v);
        }
    return f;
}

static char *encode_body(const json_t *fields, bool as_json)
{
    if (as_json)
        return json_dumps(fields, JSON_COMPACT);
    tc_buf b;
    tc_buf_init(&b, TOKEN_BODY_MAX);
    const char *k;
    const json_t *v;
    json_object_foreach((json_t *)fields, k, v)
        form_add(&b, k, json_string_value(v));
    return b.data ? tc_buf_steal(&b) : tc_strdup("");
}

static char *basic_header(const tc_oauth__client *cl)
{
    char *id = tc_net_urlencode(cl->client_id);
    char *sec = tc_net_urlencode(cl->client_secret ? cl->client_secret : "");
    char *pair = tc_asprintf("%s:%s", id, sec);
    char *b64 = tc_base64_encode(pair, strlen(pair));
    char *h = tc_asprintf("Authorization: Basic %s", b64);
    free(id);
    tc_secret_free_str(sec);
    tc_secret_free_str(pair);
    tc_secret_free_str(b64);
    return h;
}

/* NULL-terminated header lines; free with free_lines. */
static char **build_headers(const json_t *auth, const tc_oauth__client *cl, bool as_json,
                            bool with_extras)
{
    const json_t *extra = with_extras ? json_object_get(auth, "token_headers") : NULL;
    char **h = tc_calloc(json_object_size(extra) + 5, sizeof(char *));
    size_t i = 0;
    const char *method;
    h[i++] = tc_strdup(as_json ? "Content-Type: application/json"
                               : "Content-Type: application/x-www-form-urlencoded");
    h[i++] = tc_asprintf("User-Agent: toolconnect/%s", TC_VERSION);
    if (!auth_in_body(auth, &method))
        h[i++] = basic_header(cl);
    bool accept = false;
    const char *k;
    const json_t *v;
    json_object_foreach((json_t *)extra, k, v) {
        if (!json_is_string(v) || strpbrk(k, "\r\n:") || strpbrk(json_string_value(v), "\r\n"))
            continue;
        accept |= !strcasecmp(k, "Accept");
        h[i++] = tc_asprintf("%s: %s", k, json_string_value(v));
    }
    if (!accept)
        h[i++] = tc_strdup("Accept: application/json");
    return h;
}

static void free_lines(char **h)
{
    for (size_t i = 0; h && h[i]; i++)
        tc_secret_free_str(h[i]);
    free(h);
}

static int hexval(int c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
                                        : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

static char *form_decode(const char *s, size_t n)
{
    char *out = tc_malloc(n + 1), *w = out;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '+') {
            *w++ = ' ';
        } else if (s[i] == '%' && i + 2 < n && hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0) {
            *w++ = (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
            i += 2;
        } else {
            *w++ = s[i];
        }
    }
    *w = '\0';
    return out;
}

/* Some providers (GitHub without Accept) answer form-encoded. */
static json_t *parse_form(const char *s)
{
    json_t *o = json_object();
    while (*s) {
        size_t n = strcspn(s, "&");
        const char *eq = memchr(s, '=', n);
        if (eq) {
            char *k = form_decode(s, (size_t)(eq - s));
            char *v = form_decode(eq + 1, n - (size_t)(eq - s) - 1);
            if (tc_utf8_valid(k, strlen(k)) && tc_utf8_valid(v, strlen(v)))
                json_object_set_new(o, k, json_string(v));
            free(k);
            tc_secret_free_str(v);
        }
        s += n;
        if (*s)
            s++;
    }
    return o;
}

static json_t *parse_answer(const tc_net_response *resp)
{
    json_t *doc = json_loadb(resp->body.data ? resp->body.data : "", resp->body.len, 0, NULL);
    if (!doc && resp->body.data && strchr(resp->body.data, '=') && !strchr(resp->body.data, '<'))
        doc = parse_form(resp->body.data);
    return doc;
}

/* Provider error text: printable, bounded, never a token. */
static void clean_text(const char *in, char *out, size_t cap)
{
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)(in ? in : ""); *p && n + 1 < cap; p++)
        out[n++] = *p >= 0x20 && *p < 0x7f ? (char)*p : ' ';
    out[n] = '\0';
}

static const char *pointer_for(const json_t *auth, const char *field, char *buf, size_t cap)
{
    const char *p = json_string_value(json_object_get(json_object_get(auth, "token_response"), field));
    if (p)
        return p;
    snprintf(buf, cap, "/%s", field);
    return buf;
}

static char *string_at(const json_t *doc, const json_t *auth, const char *field)
{
    char buf[64];
    const json_t *v = tc_oauth_pointer(doc, pointer_for(auth, field, buf, sizeof(buf)));
    return json_is_string(v) && json_string_length(v) ? tc_strdup(json_string_value(v)) : NULL;
}

static int64_t expires_at_ptr(const json_t *doc, const json_t *auth)
{
    char buf[64];
    const json_t *v = tc_oauth_pointer(doc, pointer_for(auth, "expires_in", buf, sizeof(buf)));
    if (json_is_integer(v))
        return json_integer_value(v) >= 0 ? json_integer_value(v) : -1;
    if (json_is_real(v))
        return json_real_value(v) >= 0 ? (int64_t)json_real_value(v) : -1;
    if (json_is_string(v)) {
        char *end;
        long long n = strtoll(json_string_value(v), &end, 10);
        return *end || n < 0 ? -1 : n;
    }
    return -1;
}

/* "a,b c" -> "a b c" */
static char *normalise_scope(char *s)
{
    for (char *p = s; p && *p; p++)
        if (*p == ',' || *p == '+')
            *p = ' ';
    return s;
}

static tc_status read_tokens(const json_t *doc, const json_t *auth, long http_status,
                             tc_oauth__tokens *out, tc_err *err)
{
    char code[64], desc[ERROR_TEXT_MAX];
    const json_t *e = json_object_get(doc, "error");
    clean_text(json_is_string(e) ? json_string_value(e) : NULL, code, sizeof(code));
    clean_text(jstr(doc, "error_description"), desc, sizeof(desc));
    if (http_status == 429 || http_status >= 500)
        return tc_failf(err, TC_UNAVAILABLE, NULL, "the provider's token endpoint answered HTTP %ld%s%s",
                        http_status, code[0] ? ": " : "", code);
    out->access_token = doc ? string_at(doc, auth, "access_token") : NULL;
    if (!strcmp(code, "invalid_grant"))
        return tc_failc(err, TC_CONFLICT, "invalid_grant", NULL, "the provider refused the grant "
                        "(invalid_grant%s%s)", desc[0] ? ": " : "", desc);
    if (http_status < 200 || http_status >= 300 || code[0] || !out->access_token)
        return tc_failc(err, TC_UPSTREAM, "token_error", NULL,
                        "the provider's token endpoint refused (HTTP %ld%s%s%s%s)", http_status,
                        code[0] ? ", " : "", code, desc[0] ? ": " : "", desc);
    out->refresh_token = string_at(doc, auth, "refresh_token");
    out->scope = normalise_scope(string_at(doc, auth, "scope"));
    out->token_type = string_at(doc, auth, "token_type");
    out->expires_in = expires_at_ptr(doc, auth);
    return TC_OK;
}

static tc_status post(const tc_oauth *o, const json_t *auth, const tc_oauth__client *cl,
                      const char *url, const char *const *params, bool token_extras,
                      tc_net_response *resp, tc_err *err)
{
    bool as_json = token_extras && jstr(auth, "token_body") && !strcmp(jstr(auth, "token_body"), "json");
    json_t *fields = body_fields(auth, cl, params, token_extras);
    char *body = encode_body(fields, as_json);
    json_decref(fields);
    char **headers = build_headers(auth, cl, as_json, token_extras);
    tc_net_request req = {
        .method = "POST",
        .url = url,
        .headers = (const char *const *)headers,
        .body = body,
        .body_len = strlen(body),
        .opts = {.connect_timeout_ms = 5000,
                 .timeout_ms = o->o.timeout_ms > 0 ? o->o.timeout_ms : 10000,
                 .max_body = TOKEN_BODY_MAX,
                 .max_redirects = 0,
                 .allow_private = o->o.allow_private},
    };
    tc_err nerr;
    tc_err_clear(&nerr);
    tc_status st = tc_net_request_do(&req, resp, &nerr);
    if (st != TC_OK)
        st = tc_failf(err, st == TC_TIMEOUT ? TC_TIMEOUT : TC_UNAVAILABLE, NULL,
                      "could not reach the provider: %s", nerr.message);
    tc_secret_free_str(body);
    free_lines(headers);
    return st;
}

tc_status tc_oauth__token_call(const tc_oauth *o, const json_t *auth, const tc_oauth__client *cl,
                               const char *const *params, tc_oauth__tokens *out, tc_err *err)
{
    memset(out, 0, sizeof(*out));
    out->expires_in = -1;
    tc_net_response resp;
    tc_status st = post(o, auth, cl, jstr(auth, "token_url"), params, true, &resp, err);
    if (st == TC_OK) {
        json_t *doc = parse_answer(&resp);
        st = read_tokens(doc, auth, resp.status, out, err);
        json_decref(doc);
    }
    tc_net_response_free(&resp);
    if (st != TC_OK)
        tc_oauth__tokens_clear(out);
    return st;
}

tc_status tc_oauth__post_form(const tc_oauth *o, const json_t *auth, const tc_oauth__client *cl,
                              const char *url, const char *const *params, long *status,
                              tc_err *err)
{
    tc_net_response resp;
    tc_status st = post(o, auth, cl, url, params, false, &resp, err);
    *status = resp.status;
    tc_net_response_free(&resp);
    return st;
}
