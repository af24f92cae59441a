/* SSRF guard: classify resolved addresses. Anything that is not plainly a
 * public unicast address is refused unless private targets are allowed. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "net/net.h"

static const char *const class_names[] = {
#define TC_X(name, text) text,
    TC_NET_ADDR_MAP(TC_X)
#undef TC_X
};

const char *tc_net_addr_class_name(tc_net_addr_class c)
{
    if ((size_t)c >= sizeof(class_names) / sizeof(class_names[0]))
        return "unknown";
    return class_names[c];
}

/* One IPv4 range: addr/prefix -> class. Order matters: first match wins, so
 * the metadata host sits before link-local. */
typedef struct {
    uint32_t net;
    int prefix;
    tc_net_addr_class cls;
} v4_range;

#define V4(a, b, c, d) (((uint32_t)(a) << 24) | ((uint32_t)(b) << 16) | ((uint32_t)(c) << 8) | (uint32_t)(d))

static const v4_range v4_ranges[] = {
    {V4(169, 254, 169, 254), 32, TC_NET_ADDR_METADATA},
    {V4(100, 100, 100, 200), 32, TC_NET_ADDR_METADATA}, /* Alibaba Cloud */
    {V4(0, 0, 0, 0), 8, TC_NET_ADDR_UNSPECIFIED},
    {V4(10, 0, 0, 0), 8, TC_NET_ADDR_PRIVATE},
    {V4(100, 64, 0, 0), 10, TC_NET_ADDR_PRIVATE},       /* carrier-grade NAT */
    {V4(127, 0, 0, 0), 8, TC_NET_ADDR_LOOPBACK},
    {V4(169, 254, 0, 0), 16, TC_NET_ADDR_LINK_LOCAL},
    {V4(172, 16, 0, 0), 12, TC_NET_ADDR_PRIVATE},
    {V4(192, 0, 0, 0), 24, TC_NET_ADDR_RESERVED},       /* IETF protocol assignments */
    {V4(192, 168, 0, 0), 16, TC_NET_ADDR_PRIVATE},
    {V4(198, 18, 0, 0), 15, TC_NET_ADDR_RESERVED},      /* benchmarking */
    {V4(224, 0, 0, 0), 4, TC_NET_ADDR_MULTICAST},
    {V4(240, 0, 0, 0), 4, TC_NET_ADDR_RESERVED},        /* incl. broadcast */
};

static tc_net_addr_class classify_v4(uint32_t a)
{
    for (size_t i = 0; i < sizeof(v4_ranges) / sizeof(v4_ranges[0]); i++) {
        const v4_range *r = &v4_ranges[i];
        uint32_t mask = r->prefix == 0 ? 0 : ~(uint32_t)0 << (32 - r->prefix);
        if ((a & mask) == r->net)
            return r->cls;
    }
    return TC_NET_ADDR_PUBLIC;
}

static uint32_t v4_at(const uint8_t *p)
{
    return V4(p[0], p[1], p[2], p[3]);
}

static bool all_zero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i])
            return false;
    return true;
}

static tc_net_addr_class classify_v6(const uint8_t *b)
{
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    static const uint8_t nat64[12] = {0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0};
    static const uint8_t ec2[16] = {0xfd, 0, 0x0e, 0xc2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02, 0x54};
    if (!memcmp(b, ec2, 16))
        return TC_NET_ADDR_METADATA;
    if (all_zero(b, 16))
        return TC_NET_ADDR_UNSPECIFIED;
    if (all_zero(b, 15) && b[15] == 1)
        return TC_NET_ADDR_LOOPBACK;
    if (!memcmp(b, mapped, 12) || !memcmp(b, nat64, 12))
        return classify_v4(v4_at(b + 12));
    if (all_zero(b, 12)) /* deprecated IPv4-compatible ::a.b.c.d */
        return classify_v4(v4_at(b + 12));
    if (b[0] == 0x20 && b[1] == 0x02) /* 6to4 2002:AABB:CCDD:: */
        return classify_v4(v4_at(b + 2));
    if ((b[0] & 0xfe) == 0xfc)
        return TC_NET_ADDR_PRIVATE; /* fc00::/7 unique local */
    if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80)
        return TC_NET_ADDR_LINK_LOCAL; /* fe80::/10 */
    if (b[0] == 0xfe && (b[1] & 0xc0) == 0xc0)
        return TC_NET_ADDR_PRIVATE; /* fec0::/10 site-local (deprecated) */
    if (b[0] == 0xff)
        return TC_NET_ADDR_MULTICAST;
    if (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x0d && b[3] == 0xb8)
        return TC_NET_ADDR_RESERVED; /* documentation */
    return TC_NET_ADDR_PUBLIC;
}

tc_net_addr_class tc_net_addr_classify(const struct sockaddr *sa)
{
    if (!sa)
        return TC_NET_ADDR_RESERVED;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)sa;
        return classify_v4(ntohl(in->sin_addr.s_addr));
    }
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)(const void *)sa;
        return classify_v6(in6->sin6_addr.s6_addr);
    }
    return TC_NET_ADDR_RESERVED;
}

tc_net_addr_class tc_net_addr_classify_str(const char *ip)
{
    struct sockaddr_in in = {.sin_family = AF_INET};
    struct sockaddr_in6 in6 = {.sin6_family = AF_INET6};
    if (!ip)
        return TC_NET_ADDR_RESERVED;
    if (inet_pton(AF_INET, ip, &in.sin_addr) == 1)
        return tc_net_addr_classify((struct sockaddr *)&in);
    if (inet_pton(AF_INET6, ip, &in6.sin6_addr) == 1)
        return tc_net_addr_classify((struct sockaddr *)&in6);
    return TC_NET_ADDR_RESERVED;
}
