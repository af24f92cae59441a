/* Email transports, a const table: "smtp" (libcurl SMTP with a MIME
 * multipart/alternative body) and "http" (Resend-style JSON POST). Each send
 * is one blocking call made by the sender thread only. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "net/net.h"
#include "notify/notify.h"

#define ADDR_MAX 330

/* ---- helpers ------------------------------------------------------------- */

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = tolower(c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Percent-decodes n bytes of s into out (cap bytes). false when too long
 * or malformed. */
static bool pct_decode(const char *s, size_t n, char *out, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        int c = (unsigned char)s[i];
        if (c == '%') {
            int hi = i + 2 < n ? hexval(s[i + 1]) : -1;
            int lo = hi >= 0 ? hexval(s[i + 2]) : -1;
            if (hi < 0 || lo < 0)
                return false;
            c = hi * 16 + lo;
            i += 2;
        }
        if (o + 1 >= cap || c == 0)
            return false;
        out[o++] = (char)c;
    }
    out[o] = '\0';
    return true;
}

tc_status tc_notify_smtp_url_parse(const char *url, char *url_out, size_t url_cap, char *user,
                                   size_t user_cap, char *pass, size_t pass_cap,
                                   bool *tls_required, tc_err *err)
{
    static const char field[] = "TC_SMTP_URL";
    user[0] = pass[0] = url_out[0] = '\0';
    bool smtps = !strncmp(url, "smtps://", 8);
    if (!smtps && strncmp(url, "smtp://", 7))
        return tc_failf(err, TC_BAD_REQUEST, field, "TC_SMTP_URL must start with smtp:// or smtps://");
    const char *rest = url + (smtps ? 8 : 7);
    const char *q = strchr(rest, '?');
    size_t rlen = q ? (size_t)(q - rest) : strlen(rest);
    *tls_required = smtps || (q && !strcmp(q, "?tls=required"));
    if (q && !*tls_required)
        return tc_failf(err, TC_BAD_REQUEST, field, "TC_SMTP_URL: the only option is ?tls=required");
    const char *at = memrchr(rest, '@', rlen);
    const char *host = at ? at + 1 : rest;
    if (at) {
        const char *colon = memchr(rest, ':', (size_t)(at - rest));
        size_t ulen = colon ? (size_t)(colon - rest) : (size_t)(at - rest);
        if (!pct_decode(rest, ulen, user, user_cap) ||
            (colon && !pct_decode(colon + 1, (size_t)(at - colon - 1), pass, pass_cap)))
            return tc_failf(err, TC_BAD_REQUEST, field, "TC_SMTP_URL: bad user or password encoding");
    }
    size_t hlen = (size_t)(rest + rlen - host);
    while (hlen && host[hlen - 1] == '/')
        hlen--;
    if (!hlen || memchr(host, '/', hlen))
        return tc_failf(err, TC_BAD_REQUEST, field, "TC_SMTP_URL needs a host (smtp://host:port)");
    if ((size_t)snprintf(url_out, url_cap, "%s://%.*s", smtps ? "smtps" : "smtp", (int)hlen, host) >=
        url_cap)
        return tc_failf(err, TC_BAD_REQUEST, field, "TC_SMTP_URL is too long");
    return TC_OK;
}

/* "Name <a@b>" or "a@b" -> "<a@b>" for the envelope. */
static bool envelope_addr(const char *s, char out[ADDR_MAX])
{
    const char *lt = strrchr(s, '<');
    const char *gt = lt ? strchr(lt, '>') : NULL;
    const char *a = lt && gt ? lt + 1 : s;
    size_t n = lt && gt ? (size_t)(gt - lt - 1) : strlen(s);
    if (!n || n > ADDR_MAX - 3 || !memchr(a, '@', n))
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)a[i] <= ' ' || a[i] == '<' || a[i] == '>')
            return false;
    snprintf(out, ADDR_MAX, "<%.*s>", (int)n, a);
    return true;
}

static bool ascii_printable(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
            return false;
    return true;
}

/* A header line "Name: value" with CR/LF removed; non-ASCII subjects as an
 * RFC 2047 encoded word. Caller frees. */
static char *header_line(const char *name, const char *value, bool encode)
{
    if (encode && !ascii_printable(value)) {
        char *b64 = tc_base64_encode(value, strlen(value));
        char *h = tc_asprintf("%s: =?UTF-8?B?%s?=", name, b64);
        free(b64);
        return h;
    }
    char *h = tc_asprintf("%s: %s", name, value);
    for (char *p = h; *p; p++)
        if (*p == '\r' || *p == '\n')
            *p = ' ';
    return h;
}

static void date_header(char *out, size_t cap)
{
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, cap, "Date: %a, %d %b %Y %H:%M:%S +0000", &tm);
}

/* ---- smtp ------------------------------------------------------------------ */

typedef struct {
    CURL *h;
    curl_mime *mime;
    struct curl_slist *rcpt, *headers;
    char url[1024], user[256], pass[256];
} smtp_job;

static void smtp_job_free(smtp_job *j)
{
    curl_mime_free(j->mime);
    curl_slist_free_all(j->rcpt);
    curl_slist_free_all(j->headers);
    if (j->h)
        curl_easy_cleanup(j->h);
    explicit_bzero(j->pass, sizeof(j->pass));
}

static void add_header(smtp_job *j, char *line)
{
    j->headers = curl_slist_append(j->headers, line);
    free(line);
}

static void smtp_body(smtp_job *j, const tc_notify_mail *m)
{
    curl_mime *alt = curl_mime_init(j->h);
    curl_mimepart *part = curl_mime_addpart(alt);
    curl_mime_data(part, m->text ? m->text : "", CURL_ZERO_TERMINATED);
    curl_mime_type(part, "text/plain; charset=UTF-8");
    curl_mime_encoder(part, "quoted-printable");
    if (m->html) {
        part = curl_mime_addpart(alt);
        curl_mime_data(part, m->html, CURL_ZERO_TERMINATED);
        curl_mime_type(part, "text/html; charset=UTF-8");
        curl_mime_encoder(part, "quoted-printable");
    }
    j->mime = curl_mime_init(j->h);
    part = curl_mime_addpart(j->mime);
    curl_mime_subparts(part, alt);
    curl_mime_type(part, "multipart/alternative");
    struct curl_slist *inline_hdr = curl_slist_append(NULL, "Content-Disposition: inline");
    curl_mime_headers(part, inline_hdr, 1);
}

static tc_status smtp_send(const tc_notify_transport_cfg *cfg, const tc_notify_mail *m, tc_err *err)
{
    smtp_job j = {0};
    char from[ADDR_MAX], to[ADDR_MAX], date[64], errbuf[CURL_ERROR_SIZE] = "";
    bool tls = false;
    tc_status st = tc_notify_smtp_url_parse(cfg->url, j.url, sizeof(j.url), j.user, sizeof(j.user),
                                            j.pass, sizeof(j.pass), &tls, err);
    if (st != TC_OK)
        return st;
    if (!envelope_addr(m->from, from))
        return tc_failf(err, TC_BAD_REQUEST, "TC_MAIL_FROM", "TC_MAIL_FROM is not an email address");
    if (!envelope_addr(m->to, to))
        return tc_failf(err, TC_BAD_REQUEST, "to", "the recipient is not an email address");
    j.h = curl_easy_init();
    if (!j.h)
        return tc_failf(err, TC_INTERNAL, NULL, "curl_easy_init failed");
    j.rcpt = curl_slist_append(NULL, to);
    date_header(date, sizeof(date));
    j.headers = curl_slist_append(NULL, date);
    add_header(&j, header_line("From", m->from, false));
    add_header(&j, header_line("To", m->to, false));
    add_header(&j, header_line("Subject", m->subject, true));
    char id[37];
    tc_uuid(id);
    const char *dom = strchr(from, '@');
    add_header(&j, tc_asprintf("Message-ID: <%s%.*s>", id, (int)strlen(dom) - 1, dom));
    smtp_body(&j, m);
    curl_easy_setopt(j.h, CURLOPT_URL, j.url);
    curl_easy_setopt(j.h, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
    curl_easy_setopt(j.h, CURLOPT_USE_SSL, tls ? (long)CURLUSESSL_ALL : (long)CURLUSESSL_TRY);
    if (j.user[0]) {
        curl_easy_setopt(j.h, CURLOPT_USERNAME, j.user);
        curl_easy_setopt(j.h, CURLOPT_PASSWORD, j.pass);
    }
    curl_easy_setopt(j.h, CURLOPT_MAIL_FROM, from);
    curl_easy_setopt(j.h, CURLOPT_MAIL_RCPT, j.rcpt);
    curl_easy_setopt(j.h, CURLOPT_HTTPHEADER, j.headers);
    curl_easy_setopt(j.h, CURLOPT_MIMEPOST, j.mime);
    curl_easy_setopt(j.h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(j.h, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
    curl_easy_setopt(j.h, CURLOPT_TIMEOUT_MS, (long)(cfg->timeout_ms > 0 ? cfg->timeout_ms : 30000));
    curl_easy_setopt(j.h, CURLOPT_ERRORBUFFER, errbuf);
    CURLcode rc = curl_easy_perform(j.h);
    if (rc != CURLE_OK) {
        long code = 0;
        curl_easy_getinfo(j.h, CURLINFO_RESPONSE_CODE, &code);
        st = tc_failf(err, rc == CURLE_OPERATION_TIMEDOUT ? TC_TIMEOUT : TC_UNAVAILABLE, NULL,
                      "smtp: %s%s%s (server code %ld)", curl_easy_strerror(rc), errbuf[0] ? ": " : "",
                      errbuf, code);
    }
    smtp_job_free(&j);
    return st;
}

/* ---- http (Resend-style) --------------------------------------------------- */

static tc_status http_send(const tc_notify_transport_cfg *cfg, const tc_notify_mail *m, tc_err *err)
{
    json_t *doc = json_pack("{s:s, s:[s], s:s, s:s, s:s?}", "from", m->from, "to", m->to,
                            "subject", m->subject, "text", m->text ? m->text : "", "html", m->html);
    char *body = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
    json_decref(doc);
    if (!body)
        return tc_failf(err, TC_BAD_REQUEST, NULL, "the email is not valid UTF-8");
    char *auth = tc_asprintf("Authorization: Bearer %s", cfg->api_key ? cfg->api_key : "");
    const char *headers[] = {"Content-Type: application/json", "Accept: application/json", auth, NULL};
    tc_net_request req = {
        .method = "POST",
        .url = cfg->url,
        .headers = headers,
        .body = body,
        .body_len = strlen(body),
        .opts = {.timeout_ms = cfg->timeout_ms, .max_body = 64u << 10, .allow_private = cfg->allow_private},
    };
    tc_net_response resp;
    tc_status st = tc_net_request_do(&req, &resp, err);
    if (st == TC_OK && (resp.status == 429 || resp.status >= 500))
        st = tc_failf(err, TC_UNAVAILABLE, NULL, "email API answered %ld", resp.status);
    else if (st == TC_OK && (resp.status < 200 || resp.status > 299))
        st = tc_failf(err, TC_BAD_REQUEST, NULL, "email API refused the message with %ld", resp.status);
    tc_net_response_free(&resp);
    explicit_bzero(auth, strlen(auth));
    free(auth);
    free(body);
    return st;
}

static const tc_notify_transport transports[] = {
    {"smtp", smtp_send},
    {"http", http_send},
};

const tc_notify_transport *tc_notify_transport_find(const char *name)
{
    for (size_t i = 0; name && i < sizeof(transports) / sizeof(transports[0]); i++)
        if (!strcmp(transports[i].name, name))
            return &transports[i];
    return NULL;
}
