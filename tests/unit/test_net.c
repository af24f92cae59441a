#include <stdlib.h>
#include <string.h>

#include "net/net.h"
#include "runner.h"
#include "test_mcp_peer.h"

#define CLS(ip) tc_net_addr_classify_str(ip)

TEST(net_classify_v4)
{
    ASSERT_EQ(CLS("8.8.8.8"), TC_NET_ADDR_PUBLIC);
    ASSERT_EQ(CLS("93.184.216.34"), TC_NET_ADDR_PUBLIC);
    ASSERT_EQ(CLS("127.0.0.1"), TC_NET_ADDR_LOOPBACK);
    ASSERT_EQ(CLS("127.255.1.2"), TC_NET_ADDR_LOOPBACK);
    ASSERT_EQ(CLS("10.1.2.3"), TC_NET_ADDR_PRIVATE);
    ASSERT_EQ(CLS("172.16.0.1"), TC_NET_ADDR_PRIVATE);
    ASSERT_EQ(CLS("172.31.255.255"), TC_NET_ADDR_PRIVATE);
    ASSERT_EQ(CLS("172.32.0.1"), TC_NET_ADDR_PUBLIC);
    ASSERT_EQ(CLS("192.168.1.1"), TC_NET_ADDR_PRIVATE);
    ASSERT_EQ(CLS("100.64.0.1"), TC_NET_ADDR_PRIVATE);
    ASSERT_EQ(CLS("169.254.169.254"), TC_NET_ADDR_METADATA);
    ASSERT_EQ(CLS("169.254.1.1"), TC_NET_ADDR_LINK_LOCAL);
    ASSERT_EQ(CLS("0.0.0.0"), TC_NET_ADDR_UNSPECIFIED);
    ASSERT_EQ(CLS("0.1.2.3"), TC_NET_ADDR_UNSPECIFIED);
    ASSERT_EQ(CLS("224.0.0.1"), TC_NET_ADDR_MULTICAST);
    ASSERT_EQ(CLS("239.255.255.250"), TC_NET_ADDR_MULTICAST);
    ASSERT_EQ(CLS("255.255.255.255"), TC_NET_ADDR_RESERVED);
    ASSERT_EQ(CLS("not an ip"), TC_NET_ADDR_RESERVED);
}

TEST(net_classify_v6)
{
    ASSERT_EQ(CLS("2606:4700:4700::1111"), TC_NET_ADDR_PUBLIC);
    ASSERT_EQ(CLS("::1"), TC_NET_ADDR_LOOPBACK);
    ASSERT_EQ(CLS("::"), TC_NET_ADDR_UNSPECIFIED);
    ASSERT_EQ(CLS("fc00::1"), TC_NET_ADDR_PRIVATE);
    ASSERT_EQ(CLS("fdab:1234::1"), TC_NET_ADDR_PRIVATE);
    ASSERT_EQ(CLS("fd00:ec2::254"), TC_NET_ADDR_METADATA);
    ASSERT_EQ(CLS("fe80::1"), TC_NET_ADDR_LINK_LOCAL);
    ASSERT_EQ(CLS("febf::1"), TC_NET_ADDR_LINK_LOCAL);
    ASSERT_EQ(CLS("ff02::1"), TC_NET_ADDR_MULTICAST);
    /* IPv4 smuggled inside IPv6 is judged by the IPv4 address */
    ASSERT_EQ(CLS("::ffff:127.0.0.1"), TC_NET_ADDR_LOOPBACK);
    ASSERT_EQ(CLS("::ffff:169.254.169.254"), TC_NET_ADDR_METADATA);
    ASSERT_EQ(CLS("::ffff:8.8.8.8"), TC_NET_ADDR_PUBLIC);
    ASSERT_EQ(CLS("64:ff9b::10.0.0.1"), TC_NET_ADDR_PRIVATE);
    ASSERT_EQ(CLS("2002:7f00:0001::1"), TC_NET_ADDR_LOOPBACK);
    ASSERT_STR_EQ(tc_net_addr_class_name(TC_NET_ADDR_METADATA), "cloud metadata");
}

static tc_peer peer;

static void start(void)
{
    tc_peer_start(&peer, "tests/mcp/net_peer.mjs", NULL, NULL);
}

static tc_net_request req_for(const char *path, char *url, size_t n)
{
    snprintf(url, n, "%s%s", peer.url, path);
    return (tc_net_request){.url = url, .opts = {.allow_private = true, .timeout_ms = 3000}};
}

TEST(net_get_ok_and_header)
{
    char url[256], v[64];
    tc_net_response r;
    tc_err err = {0};
    start();
    tc_net_request q = req_for("/ok", url, sizeof(url));
    ASSERT_OK(tc_net_request_do(&q, &r, &err));
    ASSERT_EQ(r.status, 200);
    ASSERT_STR_EQ(r.body.data, "hello");
    ASSERT(tc_net_response_header(&r, "x-test", v, sizeof(v)));
    ASSERT_STR_EQ(v, "yes");
    ASSERT_FALSE(tc_net_response_header(&r, "x-none", v, sizeof(v)));
    tc_net_response_free(&r);
    tc_peer_stop(&peer);
}

TEST(net_post_headers_and_status)
{
    char url[256];
    tc_net_response r;
    tc_err err = {0};
    const char *hdrs[] = {"Authorization: Bearer s3cret", "Content-Type: text/plain", NULL};
    start();
    tc_net_request q = req_for("/echo", url, sizeof(url));
    q.method = "PUT";
    q.headers = hdrs;
    q.body = "abc";
    q.body_len = 3;
    ASSERT_OK(tc_net_request_do(&q, &r, &err));
    ASSERT_STR_CONTAINS(r.body.data, "\"method\":\"PUT\"");
    ASSERT_STR_CONTAINS(r.body.data, "\"body\":\"abc\"");
    ASSERT_STR_CONTAINS(r.body.data, "Bearer s3cret");
    tc_net_response_free(&r);
    q = req_for("/status/503", url, sizeof(url));
    ASSERT_OK(tc_net_request_do(&q, &r, &err));
    ASSERT_EQ(r.status, 503);
    tc_net_response_free(&r);
    tc_peer_stop(&peer);
}

TEST(net_ssrf_guard_refuses_loopback)
{
    char url[256];
    tc_net_response r;
    tc_err err = {0};
    start();
    tc_net_request q = req_for("/ok", url, sizeof(url));
    q.opts.allow_private = false;
    ASSERT_STATUS(tc_net_request_do(&q, &r, &err), TC_FORBIDDEN);
    ASSERT_STR_CONTAINS(err.message, "127.0.0.1 (loopback)");
    ASSERT_STR_EQ(err.code, "ssrf_blocked");
    tc_net_response_free(&r);
    /* a name that resolves to loopback is judged by its address */
    snprintf(url, sizeof(url), "http://localhost:%d/ok", peer.port);
    ASSERT_STATUS(tc_net_request_do(&q, &r, &err), TC_FORBIDDEN);
    ASSERT_STR_CONTAINS(err.message, "loopback");
    tc_net_response_free(&r);
    tc_peer_stop(&peer);
}

TEST(net_ssrf_guard_checks_redirect_targets)
{
    /* A public-looking first hop is not available offline, so check that a
     * redirect chain is re-checked: with the guard on, even the first hop
     * to loopback is refused, and with it off the chain is followed. */
    char url[256];
    tc_net_response r;
    tc_err err = {0};
    start();
    tc_net_request q = req_for("/redirect/2", url, sizeof(url));
    q.opts.max_redirects = 3;
    ASSERT_OK(tc_net_request_do(&q, &r, &err));
    ASSERT_EQ(r.status, 200);
    ASSERT_EQ(r.redirects, 2);
    ASSERT_STR_EQ(r.body.data, "hello");
    tc_net_response_free(&r);
    q = req_for("/redirect/5", url, sizeof(url));
    q.opts.max_redirects = 3;
    ASSERT_STATUS(tc_net_request_do(&q, &r, &err), TC_UPSTREAM);
    ASSERT_STR_CONTAINS(err.message, "redirect");
    tc_net_response_free(&r);
    q = req_for("/redirect/1", url, sizeof(url));
    ASSERT_OK(tc_net_request_do(&q, &r, &err)); /* max_redirects 0: not followed */
    ASSERT_EQ(r.status, 302);
    tc_net_response_free(&r);
    tc_peer_stop(&peer);
}

TEST(net_limits_body_headers_timeout)
{
    char url[256];
    tc_net_response r;
    tc_err err = {0};
    start();
    tc_net_request q = req_for("/big", url, sizeof(url));
    q.opts.max_body = 1000;
    ASSERT_STATUS(tc_net_request_do(&q, &r, &err), TC_TOO_LARGE);
    ASSERT_STR_CONTAINS(err.message, "1000 bytes");
    ASSERT(r.body.len <= 1000);
    tc_net_response_free(&r);
    q = req_for("/bigheaders", url, sizeof(url));
    q.opts.max_headers = 8000;
    ASSERT_STATUS(tc_net_request_do(&q, &r, &err), TC_TOO_LARGE);
    ASSERT_STR_CONTAINS(err.message, "headers");
    tc_net_response_free(&r);
    q = req_for("/hang", url, sizeof(url));
    q.opts.timeout_ms = 300;
    ASSERT_STATUS(tc_net_request_do(&q, &r, &err), TC_TIMEOUT);
    tc_net_response_free(&r);
    tc_peer_stop(&peer);
}

TEST(net_errors_down_and_bad_url)
{
    tc_net_response r;
    tc_err err = {0};
    start();
    int port = peer.port;
    tc_peer_stop(&peer);
    char url[128];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/ok", port);
    tc_net_request q = {.url = url, .opts = {.allow_private = true}};
    ASSERT_STATUS(tc_net_request_do(&q, &r, &err), TC_UNAVAILABLE);
    tc_net_response_free(&r);
    q.url = "ftp://127.0.0.1/x";
    ASSERT_STATUS(tc_net_request_do(&q, &r, &err), TC_BAD_REQUEST);
    ASSERT_STR_EQ(err.field, "url");
    tc_net_response_free(&r);
    q.url = NULL;
    ASSERT_STATUS(tc_net_request_do(&q, &r, &err), TC_BAD_REQUEST);
    tc_net_response_free(&r);
}

TEST(net_many_concurrent)
{
    enum { N = 40 };
    char urls[N][256];
    tc_net_request reqs[N];
    tc_net_response resps[N];
    tc_err errs[N];
    memset(errs, 0, sizeof(errs));
    start();
    for (int i = 0; i < N; i++) {
        const char *path = i % 10 == 9 ? "/hang" : (i % 2 ? "/echo" : "/ok");
        reqs[i] = req_for(path, urls[i], sizeof(urls[i]));
        reqs[i].opts.timeout_ms = 500;
    }
    size_t failed = tc_net_request_many(reqs, resps, errs, N, 8);
    ASSERT_EQ(failed, 4);
    for (int i = 0; i < N; i++) {
        if (i % 10 == 9) {
            ASSERT_STATUS(errs[i].status, TC_TIMEOUT);
        } else {
            ASSERT_EQ(resps[i].status, 200);
            ASSERT_STR_CONTAINS(resps[i].body.data, i % 2 ? "GET" : "hello");
        }
        tc_net_response_free(&resps[i]);
    }
    tc_peer_stop(&peer);
}

TEST(urlencode_keeps_only_unreserved)
{
    char *e = tc_net_urlencode("aZ09-._~ /?&=+%\xc3\xa9");
    ASSERT_STR_EQ(e, "aZ09-._~%20%2F%3F%26%3D%2B%25%C3%A9");
    free(e);
    e = tc_net_urlencode("");
    ASSERT_STR_EQ(e, "");
    free(e);
}
