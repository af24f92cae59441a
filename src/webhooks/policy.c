/* Delivery policy (verdicts, backoff, Retry-After, plans) and endpoint
 * validation (URL, custom headers, event types). Pure functions. */
/* strptime, timegm: _GNU_SOURCE comes from the build */
#include <ctype.h>
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "net/net.h"
#include "webhooks/webhooks.h"

void tc_webhooks_config_defaults(tc_webhooks_config *c)
{
    *c = (tc_webhooks_config){
        .max_attempts = 8,
        .retry_base_ms = 1000,
        .retry_max_ms = 3600 * 1000,
        .retry_window_ms = 24 * 3600 * 1000LL,
        .timeout_ms = 15000,
        .disable_after_ms = 5 * 24 * 3600 * 1000LL,
        .concurrency = 64,
        .poll_ms = 1000,
        .allow_private = false,
        .retain_days = 30,
    };
}

/* ---- verdicts and schedule ------------------------------------------------ */

tc_webhook_verdict tc_webhook_classify(long status, tc_status transport)
{
    if (status >= 200 && status <= 299)
        return TC_WH_SUCCEEDED;
    if (status == 410)
        return TC_WH_GONE;
    if (status == 408 || status == 429 || status >= 500)
        return TC_WH_RETRY;
    if (status >= 300)
        return TC_WH_FAIL;
    /* No (usable) response: the transport decides. */
    switch (transport) {
    case TC_FORBIDDEN:   /* SSRF guard: retrying cannot help */
    case TC_BAD_REQUEST: /* malformed URL */
        return TC_WH_FAIL;
    default:
        return TC_WH_RETRY;
    }
}

int64_t tc_webhook_backoff_ms(const tc_webhooks_config *c, int64_t attempts_made, uint32_t rnd)
{
    int64_t base = c->retry_base_ms > 0 ? c->retry_base_ms : 1;
    int64_t cap = c->retry_max_ms > 0 ? c->retry_max_ms : base;
    int64_t d = base;
    for (int64_t i = 1; i < attempts_made && d < cap; i++)
        d *= 2;
    if (d > cap)
        d = cap;
    return d + (int64_t)((double)d * 0.25 * ((double)rnd / 4294967296.0));
}

bool tc_webhook_retry_after(const char *value, int64_t now_ms, int64_t *delay_ms)
{
    if (!value)
        return false;
    while (*value == ' ' || *value == '\t')
        value++;
    if (!*value)
        return false;
    if (isdigit((unsigned char)*value)) {
        char *end;
        long long s = strtoll(value, &end, 10);
        while (*end == ' ' || *end == '\t')
            end++;
        if (*end || s < 0)
            return false;
        if (s > 365LL * 86400)
            s = 365LL * 86400;
        *delay_ms = s * 1000;
        return true;
    }
    struct tm tm = {0};
    const char *end = strptime(value, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    if (!end || *end)
        return false;
    int64_t at = (int64_t)timegm(&tm) * 1000;
    *delay_ms = at > now_ms ? at - now_ms : 0;
    return true;
}

void tc_webhook_plan(const tc_webhooks_config *c, tc_webhook_verdict v, int64_t attempts_made,
                     int64_t created_at, int64_t now, int64_t retry_after_ms, uint32_t rnd,
                     tc_webhook_next *out)
{
    *out = (tc_webhook_next){.status = "failed"};
    switch (v) {
    case TC_WH_SUCCEEDED:
        out->status = "succeeded";
        return;
    case TC_WH_GONE:
        out->why = "the endpoint answered 410 Gone";
        return;
    case TC_WH_FAIL:
        out->why = "not retried: the response is final";
        return;
    case TC_WH_RETRY:
        break;
    }
    if (attempts_made >= c->max_attempts) {
        out->why = "every attempt failed";
        return;
    }
    int64_t delay = tc_webhook_backoff_ms(c, attempts_made, rnd);
    if (retry_after_ms > delay)
        delay = retry_after_ms;
    if (now + delay > created_at + c->retry_window_ms) {
        out->why = "the retry window is over";
        return;
    }
    out->status = "pending";
    out->next_attempt_at = now + delay;
}

/* ---- validation --------------------------------------------------------- */

static bool is_localhost_name(const char *host)
{
    size_t n = strlen(host);
    if (n && host[n - 1] == '.')
        n--;
    if (n == 9 && !strncasecmp(host, "localhost", 9))
        return true;
    return n > 10 && !strncasecmp(host + n - 10, ".localhost", 10);
}

/* A bracketed IPv6 literal loses its brackets; other hosts stay as they are. */
static tc_status host_check(const char *host, tc_err *err)
{
    char ip[128];
    size_t n = strlen(host);
    if (n >= sizeof(ip))
        return tc_failf(err, TC_VALIDATION, "url", "url has an overlong host name");
    if (host[0] == '[' && n > 2 && host[n - 1] == ']')
        snprintf(ip, sizeof(ip), "%.*s", (int)(n - 2), host + 1);
    else
        snprintf(ip, sizeof(ip), "%s", host);
    if (is_localhost_name(ip))
        return tc_failf(err, TC_VALIDATION, "url",
                        "url points at localhost; private targets are not allowed "
                        "(TC_ALLOW_PRIVATE_TARGETS)");
    bool literal = strchr(ip, ':') || strspn(ip, "0123456789.") == strlen(ip);
    if (!literal)
        return TC_OK;
    tc_net_addr_class cls = tc_net_addr_classify_str(ip);
    if (cls == TC_NET_ADDR_PUBLIC)
        return TC_OK;
    return tc_failf(err, TC_VALIDATION, "url",
                    "url points at a %s address; private targets are not allowed "
                    "(TC_ALLOW_PRIVATE_TARGETS)",
                    tc_net_addr_class_name(cls));
}

tc_status tc_webhook_url_check(const char *url, bool allow_private, tc_err *err)
{
    if (!url || !*url)
        return tc_failf(err, TC_VALIDATION, "url", "url is required");
    if (strlen(url) > TC_WH_URL_MAX)
        return tc_failf(err, TC_VALIDATION, "url", "url is longer than %d bytes", TC_WH_URL_MAX);
    for (const unsigned char *p = (const unsigned char *)url; *p; p++)
        if (*p <= 0x20 || *p >= 0x7f)
            return tc_failf(err, TC_VALIDATION, "url",
                            "url must be ASCII without spaces or control characters");
    tc_status st = TC_OK;
    char *scheme = NULL, *host = NULL, *user = NULL, *pass = NULL;
    CURLU *u = curl_url();
    if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK || !host[0]) {
        st = tc_failf(err, TC_VALIDATION, "url", "url is not a valid absolute URL");
        goto out;
    }
    bool https = !strcasecmp(scheme, "https"), http = !strcasecmp(scheme, "http");
    if (!https && !(http && allow_private)) {
        st = tc_failf(err, TC_VALIDATION, "url",
                      allow_private ? "url must use http or https" : "url must use https");
        goto out;
    }
    if (curl_url_get(u, CURLUPART_USER, &user, 0) == CURLUE_OK ||
        curl_url_get(u, CURLUPART_PASSWORD, &pass, 0) == CURLUE_OK) {
        st = tc_failf(err, TC_VALIDATION, "url",
                      "url must not carry credentials; use a custom header instead");
        goto out;
    }
    if (!allow_private)
        st = host_check(host, err);
out:
    curl_free(scheme);
    curl_free(host);
    curl_free(user);
    curl_free(pass);
    curl_url_cleanup(u);
    return st;
}

static bool is_tchar(unsigned char c)
{
    return isalnum(c) || (c && strchr("!#$%&'*+-.^_`|~", c));
}

static bool reserved_header(const char *name)
{
    static const char *const reserved[] = {
        "content-type", "content-length", "host", "transfer-encoding", "connection",
        "expect",       "te",             "trailer", "upgrade",
    };
    if (!strncasecmp(name, "webhook-", 8))
        return true;
    for (size_t i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++)
        if (!strcasecmp(name, reserved[i]))
            return true;
    return false;
}

static tc_status header_check(const char *name, const json_t *v, size_t *total, tc_err *err)
{
    size_t n = strlen(name);
    if (n == 0 || n > TC_WH_HEADER_NAME_MAX)
        return tc_failf(err, TC_VALIDATION, "headers",
                        "header names must be 1 to %d characters", TC_WH_HEADER_NAME_MAX);
    for (size_t i = 0; i < n; i++)
        if (!is_tchar((unsigned char)name[i]))
            return tc_failf(err, TC_VALIDATION, "headers",
                            "header names may only use letters, digits and !#$%%&'*+-.^_`|~");
    char field[TC_ERR_FIELD_MAX];
    snprintf(field, sizeof(field), "headers.%s", name);
    if (reserved_header(name))
        return tc_failf(err, TC_VALIDATION, field,
                        "header %s is set by the webhook sender and cannot be overridden", name);
    if (!json_is_string(v))
        return tc_failf(err, TC_VALIDATION, field, "header values must be strings");
    const char *s = json_string_value(v);
    size_t len = json_string_length(v);
    if (len > TC_WH_HEADER_VALUE_MAX)
        return tc_failf(err, TC_VALIDATION, field, "header value is longer than %d bytes",
                        TC_WH_HEADER_VALUE_MAX);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c < 0x20 && c != '\t') || c == 0x7f)
            return tc_failf(err, TC_VALIDATION, field,
                            "header value must not contain CR, LF or other control characters");
    }
    *total += n + len;
    return TC_OK;
}

tc_status tc_webhook_headers_check(const json_t *headers, tc_err *err)
{
    if (!json_is_object(headers))
        return tc_failf(err, TC_VALIDATION, "headers", "headers must be an object of strings");
    if (json_object_size(headers) > TC_WH_HEADERS_MAX)
        return tc_failf(err, TC_VALIDATION, "headers", "at most %d custom headers",
                        TC_WH_HEADERS_MAX);
    size_t total = 0;
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)headers, k, v) {
        tc_status st = header_check(k, v, &total, err);
        if (st != TC_OK)
            return st;
        /* Names differing only in case would both be sent. */
        const char *k2;
        json_t *v2;
        json_object_foreach((json_t *)headers, k2, v2) {
            if (k2 != k && !strcasecmp(k, k2))
                return tc_failf(err, TC_VALIDATION, "headers", "header %s appears twice", k);
        }
    }
    if (total > TC_WH_HEADERS_BYTES_MAX)
        return tc_failf(err, TC_VALIDATION, "headers", "custom headers exceed %d bytes in all",
                        TC_WH_HEADERS_BYTES_MAX);
    return TC_OK;
}

tc_status tc_webhook_event_types_check(const json_t *types, tc_err *err)
{
    if (!json_is_array(types) || json_array_size(types) == 0)
        return tc_failf(err, TC_VALIDATION, "event_types",
                        "event_types must be a non-empty array (see GET /api/webhook-event-types)");
    if (json_array_size(types) > 16)
        return tc_failf(err, TC_VALIDATION, "event_types", "at most 16 event types");
    for (size_t i = 0; i < json_array_size(types); i++) {
        char field[48];
        snprintf(field, sizeof(field), "event_types.%zu", i);
        const char *t = json_string_value(json_array_get(types, i));
        if (!t || !tc_webhook_event_type_valid(t))
            return tc_failf(err, TC_VALIDATION, field,
                            "unknown event type (see GET /api/webhook-event-types)");
        for (size_t j = 0; j < i; j++)
            if (!strcmp(t, json_string_value(json_array_get(types, j))))
                return tc_failf(err, TC_VALIDATION, field, "event type %s is listed twice", t);
    }
    return TC_OK;
}
