/* net: outgoing HTTP on libcurl with limits that every caller gets for free.
 *   - connect and total timeouts, a capped body, capped response headers,
 *     at most N redirects, http/https only;
 *   - the SSRF guard: every socket curl opens (first hop, redirects) is
 *     checked against the RESOLVED address, so a DNS answer pointing at
 *     127.0.0.1 or 169.254.169.254 cannot slip past it;
 *   - a small curl-multi runner for many requests at once (webhooks, probes).
 * Streaming users (the MCP client) build their own easy handle and call
 * tc_net_easy_limits() + tc_net_perform() to get the same limits and guard. */
#ifndef TC_NET_H
#define TC_NET_H

#include <curl/curl.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "core/core.h"

/* ---- address classes (SSRF guard) --------------------------------------- */
#define TC_NET_ADDR_MAP(X)                       \
    X(PUBLIC, "public")                          \
    X(LOOPBACK, "loopback")                      \
    X(PRIVATE, "private")                        \
    X(LINK_LOCAL, "link-local")                  \
    X(METADATA, "cloud metadata")                \
    X(UNSPECIFIED, "unspecified")                \
    X(MULTICAST, "multicast")                    \
    X(RESERVED, "reserved")

typedef enum {
#define TC_X(name, text) TC_NET_ADDR_##name,
    TC_NET_ADDR_MAP(TC_X)
#undef TC_X
} tc_net_addr_class;

const char *tc_net_addr_class_name(tc_net_addr_class c);
/* Classifies an IPv4/IPv6 socket address. IPv4-mapped, NAT64 (64:ff9b::/96)
 * and 6to4 IPv6 addresses are classified by the IPv4 address they carry.
 * Unknown families are RESERVED. */
tc_net_addr_class tc_net_addr_classify(const struct sockaddr *sa);
/* Same for a numeric address string; RESERVED if it does not parse. */
tc_net_addr_class tc_net_addr_classify_str(const char *ip);

/* ---- one request -------------------------------------------------------- */
#define TC_NET_DEFAULT_CONNECT_MS 5000
#define TC_NET_DEFAULT_TIMEOUT_MS 30000
#define TC_NET_DEFAULT_MAX_BODY (1u << 20)
#define TC_NET_DEFAULT_MAX_HEADERS (32u << 10)

typedef struct tc_net_opts {
    int connect_timeout_ms; /* 0 = TC_NET_DEFAULT_CONNECT_MS */
    int timeout_ms;         /* total; 0 = TC_NET_DEFAULT_TIMEOUT_MS */
    size_t max_body;        /* response body cap; 0 = default */
    size_t max_headers;     /* bytes of response headers; 0 = default */
    int max_redirects;      /* 0 = do not follow redirects */
    bool allow_private;     /* lift the SSRF guard (TC_ALLOW_PRIVATE_TARGETS) */
} tc_net_opts;

typedef struct tc_net_request {
    const char *method;            /* NULL = GET (or POST when body set) */
    const char *url;
    const char *const *headers;    /* NULL-terminated "Name: value", may be NULL */
    const void *body;
    size_t body_len;
    tc_net_opts opts;
} tc_net_request;

/* Owned by the caller's struct; free with tc_net_response_free. */
typedef struct tc_net_response {
    long status;     /* HTTP status of the final response, 0 if none */
    tc_buf body;     /* NUL-terminated, at most opts.max_body bytes */
    tc_buf headers;  /* raw header lines of the final response */
    int redirects;   /* redirects followed */
} tc_net_response;

/* Runs one request. Non-2xx statuses are NOT errors here (status is set);
 * errors are transport ones: TC_TIMEOUT, TC_TOO_LARGE (body or headers over
 * the cap), TC_FORBIDDEN (SSRF guard, message names the address class),
 * TC_UNAVAILABLE (resolve/connect), TC_UPSTREAM (protocol, redirects),
 * TC_BAD_REQUEST (bad URL, field "url"). resp is always initialised and must
 * be freed. Thread-safe. */
tc_status tc_net_request_do(const tc_net_request *req, tc_net_response *resp, tc_err *err);
void tc_net_response_free(tc_net_response *resp);
/* Copies the value of the first header called name (case-insensitive),
 * trimmed, into out; false if absent. Borrowed resp. */
bool tc_net_response_header(const tc_net_response *resp, const char *name, char *out, size_t outsz);

/* Percent-encodes s (NUL-terminated) for a query string or form body: every
 * byte but the RFC 3986 unreserved set (A-Z a-z 0-9 - . _ ~) becomes %XX.
 * Caller frees. */
char *tc_net_urlencode(const char *s);

/* ---- many requests at once ---------------------------------------------- */
/* Runs n requests on one curl multi handle, at most max_parallel at a time
 * (0 = all). resps[i] and errs[i] (errs may be NULL) receive each outcome;
 * returns the number of requests that failed at the transport level. */
size_t tc_net_request_many(const tc_net_request *reqs, tc_net_response *resps, tc_err *errs,
                           size_t n, size_t max_parallel);

/* ---- building blocks for streaming users -------------------------------- */
typedef struct tc_net_guard {
    bool allow_private;
    char refused[96];  /* "127.0.0.1 (loopback)" once the guard refused a socket */
    size_t header_bytes, max_headers;
    bool headers_too_big;
} tc_net_guard;

/* Applies opts to an easy handle: timeouts, redirects, protocols http/https,
 * NOSIGNAL, CLOEXEC sockets and the SSRF guard (g must outlive the
 * transfer). Does not touch the write/header callbacks. */
void tc_net_easy_limits(CURL *h, const tc_net_opts *opts, tc_net_guard *g);
/* Counts header bytes against g->max_headers; call it from a header
 * callback. Returns false (and sets headers_too_big) past the cap. */
bool tc_net_guard_header(tc_net_guard *g, size_t n);
/* Runs h to completion on multi m (the multi keeps the connection cache, so
 * keep the pair together for reuse). Returns early with
 * CURLE_ABORTED_BY_CALLBACK once *abort becomes true (checked every ~20 ms);
 * abort may be NULL. */
CURLcode tc_net_perform(CURL *h, CURLM *m, const atomic_bool *abort);
/* Maps a curl result to a status + message. errbuf is the
 * CURLOPT_ERRORBUFFER (may be NULL). Never includes header values. */
tc_status tc_net_curl_fail(CURLcode rc, const tc_net_guard *g, const char *errbuf, tc_err *err);

/* Call once at startup before threads (curl_global_init); idempotent. */
void tc_net_global_init(void);

#endif
