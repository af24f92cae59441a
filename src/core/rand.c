#include <ctype.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "core/core.h"

void tc_random_bytes(void *out, size_t n)
{
    if (n && RAND_bytes(out, (int)n) != 1) {
        fprintf(stderr, "toolconnect: the random generator failed\n");
        abort();
    }
}

/* 8-4-4-4-12 lowercase hex (a table, not snprintf: ids are made per row). */
static void uuid_format(const unsigned char b[16], char out[37])
{
    static const char hex[] = "0123456789abcdef";
    char *p = out;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            *p++ = '-';
        *p++ = hex[b[i] >> 4];
        *p++ = hex[b[i] & 15];
    }
    *p = 0;
}

void tc_uuid(char out[37])
{
    unsigned char b[16];
    tc_random_bytes(b, sizeof(b));
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    uuid_format(b, out);
}

/* RFC 9562 version 7: 48-bit Unix ms, then a 12-bit counter in rand_a
 * (method 1: strictly increasing within this process, so ids made in a
 * burst sort in creation order and b-tree inserts append), then 62 random
 * bits. */
void tc_uuid7(char out[37])
{
    static _Atomic uint64_t last; /* ms << 12 | counter */
    uint64_t now = (uint64_t)tc_now_ms() << 12, prev = atomic_load(&last), next;
    do {
        next = now > prev ? now : prev + 1;
    } while (!atomic_compare_exchange_weak(&last, &prev, next));
    unsigned char b[16];
    tc_random_bytes(b + 8, 8);
    uint64_t ms = next >> 12;
    unsigned seq = (unsigned)(next & 0xfff);
    for (int i = 0; i < 6; i++)
        b[i] = (unsigned char)(ms >> (40 - 8 * i));
    b[6] = (unsigned char)(0x70 | (seq >> 8));
    b[7] = (unsigned char)(seq & 0xff);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    uuid_format(b, out);
}

bool tc_uuid_valid(const char *s)
{
    if (!s || strlen(s) != 36)
        return false;
    for (int i = 0; i < 36; i++) {
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? s[i] != '-' : !isxdigit((unsigned char)s[i]))
            return false;
    }
    return true;
}

static const char b64std[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char b64url[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static char *b64_encode(const unsigned char *p, size_t n, const char *alpha, bool pad)
{
    char *out = tc_malloc(4 * ((n + 2) / 3) + 1);
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)p[i + 1] << 8;
        if (i + 2 < n)
            v |= p[i + 2];
        out[o++] = alpha[(v >> 18) & 63];
        out[o++] = alpha[(v >> 12) & 63];
        if (i + 1 < n)
            out[o++] = alpha[(v >> 6) & 63];
        else if (pad)
            out[o++] = '=';
        if (i + 2 < n)
            out[o++] = alpha[v & 63];
        else if (pad)
            out[o++] = '=';
    }
    out[o] = '\0';
    return out;
}

char *tc_base64_encode(const void *p, size_t n)
{
    return b64_encode(p, n, b64std, true);
}

char *tc_base64url_encode(const void *p, size_t n)
{
    return b64_encode(p, n, b64url, false);
}

static int b64_value(char c, const char *alpha)
{
    const char *f = c ? strchr(alpha, c) : NULL;
    return f ? (int)(f - alpha) : -1;
}

/* Accepts input with or without padding; rejects anything else. */
static tc_status b64_decode(const char *s, size_t n, const char *alpha,
                            unsigned char **out, size_t *outlen)
{
    while (n > 0 && s[n - 1] == '=')
        n--;
    if (n % 4 == 1)
        return TC_BAD_REQUEST;
    unsigned char *d = tc_malloc(n * 3 / 4 + 1);
    size_t o = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        int v = b64_value(s[i], alpha);
        if (v < 0) {
            free(d);
            return TC_BAD_REQUEST;
        }
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            d[o++] = (unsigned char)((acc >> bits) & 0xff);
        }
    }
    *out = d;
    *outlen = o;
    return TC_OK;
}

tc_status tc_base64_decode(const char *s, size_t slen, unsigned char **out, size_t *outlen)
{
    return b64_decode(s, slen, b64std, out, outlen);
}

tc_status tc_base64url_decode(const char *s, size_t slen, unsigned char **out, size_t *outlen)
{
    return b64_decode(s, slen, b64url, out, outlen);
}

void tc_hex_encode(const void *p, size_t n, char *out)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hex[b[i] >> 4];
        out[2 * i + 1] = hex[b[i] & 15];
    }
    out[2 * n] = '\0';
}

bool tc_ct_equal(const void *a, const void *b, size_t n)
{
    return CRYPTO_memcmp(a, b, n) == 0;
}

bool tc_utf8_valid(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s, *end = p + n;
    while (p < end) {
        unsigned c = *p;
        size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
        if (!len || (size_t)(end - p) < len)
            return false;
        uint32_t cp = len == 1 ? c : c & (0x7f >> len);
        for (size_t i = 1; i < len; i++) {
            if ((p[i] & 0xc0) != 0x80)
                return false;
            cp = (cp << 6) | (p[i] & 0x3f);
        }
        static const uint32_t min[] = {0, 0, 0x80, 0x800, 0x10000};
        if (cp < min[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        p += len;
    }
    return true;
}
