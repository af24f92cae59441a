/* Credential injection and provider verification (see connections.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "connections/conn_int.h"
#include "net/net.h"

#define VERIFY_BODY_MAX (64 * 1024)
#define EXCERPT_MAX 200

static const char *jstr(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

/* Default injection per auth type when the definition declares none. */
static const char *default_format(const char *type)
{
    if (!strcmp(type, "basic"))
        return "Basic {basic}";
    if (!strcmp(type, "api_key"))
        return "Bearer {api_key}";
    return "Bearer {token}";
}

/* The token-like value of a secret: api_key, token, or OAuth access_token. */
static const char *secret_token(const json_t *secret)
{
    const char *v = jstr(secret, "api_key");
    if (!v)
        v = jstr(secret, "token");
    if (!v)
        v = jstr(secret, "access_token");
    return v;
}

/* Value of one {name} placeholder of an injection format. Caller frees
 * (securely). */
static char *placeholder_value(const json_t *secret, const char *name, size_t len)
{
    if (len == 5 && !strncmp(name, "basic", 5)) {
        const char *u = jstr(secret, "username"), *p = jstr(secret, "password");
        char *pair = tc_asprintf("%s:%s", u ? u : "", p ? p : "");
        char *b64 = tc_base64_encode(pair, strlen(pair));
        tc_secret_free_str(pair);
        return b64;
    }
    if ((len == 7 && !strncmp(name, "api_key", 7)) || (len == 5 && !strncmp(name, "token", 5)))
        return tc_strdup(secret_token(secret) ? secret_token(secret) : "");
    char key[64];
    snprintf(key, sizeof(key), "%.*s", (int)(len < 63 ? len : 63), name);
    const char *v = jstr(secret, key);
    return tc_strdup(v ? v : "");
}

/* Expands {placeholders} of fmt from the secret. Caller frees securely. */
static char *expand_format(const char *fmt, const json_t *secret)
{
    tc_buf b;
    tc_buf_init(&b, 64 * 1024);
    for (const char *p = fmt; *p;) {
        const char *open = strchr(p, '{'), *close = open ? strchr(open, '}') : NULL;
        if (!open || !close) {
            tc_buf_puts(&b, p);
            break;
        }
        tc_buf_append(&b, p, (size_t)(open - p));
        char *v = placeholder_value(secret, open + 1, (size_t)(close - open - 1));
        tc_buf_puts(&b, v);
        tc_secret_free_str(v);
        p = close + 1;
    }
    return tc_buf_steal(&b);
}

tc_status tc_credential_inject(const json_t *auth, const json_t *secret, char **header,
                               char **query, tc_err *err)
{
    *header = *query = NULL;
    const char *type = jstr(auth, "type");
    if (!type || !strcmp(type, "none"))
        return TC_OK;
    const json_t *inj = json_object_get(auth, "inject");
    const char *qname = jstr(inj, "query");
    if (qname) {
        const char *tok = secret_token(secret);
        if (!tok)
            return tc_failf(err, TC_INTERNAL, NULL, "the stored credential has no token");
        char *name = tc_net_urlencode(qname), *val = tc_net_urlencode(tok);
        *query = tc_asprintf("%s=%s", name, val);
        free(name);
        tc_secret_free_str(val);
        return TC_OK;
    }
    const char *hname = jstr(inj, "header") ? jstr(inj, "header") : "Authorization";
    const char *fmt = jstr(inj, "format") ? jstr(inj, "format") : default_format(type);
    char *value = expand_format(fmt, secret);
    *header = tc_asprintf("%s: %s", hname, value);
    tc_secret_free_str(value);
    return TC_OK;
}

/* Copies up to EXCERPT_MAX printable bytes of body with every secret value
 * blotted out, so a provider echoing the key can't leak it. */
static void excerpt(const tc_buf *body, const json_t *secret, char *out, size_t cap)
{
    size_t n = body->len < cap - 1 ? body->len : cap - 1;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)body->data[i];
        out[i] = ch >= 0x20 && ch < 0x7f ? (char)ch : ' ';
    }
    out[n] = '\0';
    const char *key;
    const json_t *v;
    json_object_foreach((json_t *)secret, key, v) {
        const char *s = json_string_value(v);
        size_t sl = s ? strlen(s) : 0;
        if (sl < 4)
            continue;
        for (char *hit = strstr(out, s); hit; hit = strstr(hit + sl, s))
            memset(hit, '*', sl);
    }
}

/* NULL-terminated header lines: the connector's fixed headers, then the
 * credential header. The caller frees all lines with free_headers. */
static char **build_headers(const json_t *def, const char *cred_header)
{
    const json_t *fixed = json_object_get(def, "headers");
    size_t n = json_object_size(fixed);
    char **h = tc_calloc(n + 4, sizeof(char *));
    size_t i = 0;
    const char *k;
    const json_t *v;
    json_object_foreach((json_t *)fixed, k, v)
        h[i++] = tc_asprintf("%s: %s", k, json_string_value(v));
    h[i++] = tc_strdup("Accept: application/json");
    h[i++] = tc_asprintf("User-Agent: toolconnect/%s", TC_VERSION);
    if (cred_header)
        h[i++] = tc_strdup(cred_header);
    return h;
}

static void free_headers(char **h)
{
    for (size_t i = 0; h && h[i]; i++)
        tc_secret_free_str(h[i]);
    free(h);
}

static char *verify_url(const json_t *def, const json_t *verify, const char *query)
{
    const char *base = jstr(def, "base_url"), *path = jstr(verify, "path");
    size_t bl = strlen(base);
    while (bl > 0 && base[bl - 1] == '/')
        bl--;
    if (!query)
        return tc_asprintf("%.*s%s", (int)bl, base, path);
    return tc_asprintf("%.*s%s%c%s", (int)bl, base, path, strchr(path, '?') ? '&' : '?', query);
}

/* Maps the provider's answer to our verdict. */
static tc_status verify_verdict(const tc_net_response *resp, const json_t *secret, tc_err *err)
{
    if (resp->status >= 200 && resp->status < 300)
        return TC_OK;
    char ex[EXCERPT_MAX + 1];
    excerpt(&resp->body, secret, ex, sizeof(ex));
    if (resp->status == 401 || resp->status == 403)
        return tc_failc(err, TC_VALIDATION, "credentials_rejected", "credentials",
                        "the provider rejected the credentials (HTTP %ld): %s", resp->status, ex);
    return tc_failc(err, TC_UPSTREAM, "provider_error", "credentials",
                    "the provider answered HTTP %ld while verifying: %s", resp->status, ex);
}

tc_status tc_conn__verify(const tc_connections *cx, const json_t *def, const json_t *secret,
                          bool *verified, tc_err *err)
{
    const json_t *auth = json_object_get(def, "auth");
    const json_t *verify = json_object_get(auth, "verify");
    *verified = false;
    if (!verify || !jstr(def, "base_url"))
        return TC_OK;
    char *hline = NULL, *query = NULL;
    tc_status st = tc_credential_inject(auth, secret, &hline, &query, err);
    if (st != TC_OK)
        return st;
    char *url = verify_url(def, verify, query);
    char **headers = build_headers(def, hline);
    tc_net_request req = {
        .method = jstr(verify, "method"),
        .url = url,
        .headers = (const char *const *)headers,
        .opts = {.connect_timeout_ms = 5000,
                 .timeout_ms = cx->verify_timeout_ms ? cx->verify_timeout_ms : 10000,
                 .max_body = VERIFY_BODY_MAX,
                 .max_redirects = 3,
                 .allow_private = cx->allow_private},
    };
    tc_net_response resp;
    tc_err nerr;
    tc_err_clear(&nerr);
    st = tc_net_request_do(&req, &resp, &nerr);
    if (st == TC_TOO_LARGE && resp.status >= 200 && resp.status < 300)
        st = TC_OK; /* a big success body still proves the key works */
    if (st != TC_OK)
        st = tc_failc(err, st == TC_TIMEOUT ? TC_TIMEOUT : TC_UPSTREAM, "provider_unreachable",
                      "connector", "could not verify the credentials with the provider: %s",
                      nerr.message);
    else
        st = verify_verdict(&resp, secret, err);
    *verified = st == TC_OK;
    tc_net_response_free(&resp);
    free_headers(headers);
    tc_secret_free_str(url);
    tc_secret_free_str(hline);
    tc_secret_free_str(query);
    return st;
}
