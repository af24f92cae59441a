/* Key derivation, token hashing, random tokens and JWT HS256. */
#include <jansson.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/kdf.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/auth.h"

/* base64url({"alg":"HS256","typ":"JWT"}): the only header we issue or accept.
 * Pinning the exact bytes rejects alg "none", RS/HS confusion and any header
 * parameter (kid, jku, ...) without parsing anything attacker-controlled. */
static const char JWT_HEADER[] = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9";
#define JWT_HEADER_LEN (sizeof(JWT_HEADER) - 1)
#define JWT_SIG_B64_LEN 43 /* base64url of 32 bytes */
#define JWT_CLOCK_SKEW_S 60

tc_status tc_auth_derive_key(const unsigned char *master, size_t master_len, const char *info,
                             unsigned char out[32])
{
    tc_status st = TC_INTERNAL;
    EVP_KDF *kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
    EVP_KDF_CTX *ctx = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
    if (!ctx)
        goto out;
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)"SHA256", 0),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)master, master_len),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)info, strlen(info)),
        OSSL_PARAM_construct_end(),
    };
    if (EVP_KDF_derive(ctx, out, 32, params) == 1)
        st = TC_OK;
out:
    EVP_KDF_CTX_free(ctx);
    EVP_KDF_free(kdf);
    return st;
}

/* base64url of n random bytes into out (cap includes the NUL). */
static void random_b64url(char *out, size_t cap, size_t nbytes)
{
    unsigned char raw[64];
    tc_random_bytes(raw, nbytes);
    char *s = tc_base64url_encode(raw, nbytes);
    snprintf(out, cap, "%s", s);
    OPENSSL_cleanse(s, strlen(s));
    OPENSSL_cleanse(raw, sizeof raw);
    free(s);
}

void tc_auth_refresh_token_new(char out[TC_AUTH_REFRESH_LEN + 1])
{
    random_b64url(out, TC_AUTH_REFRESH_LEN + 1, 32);
}

void tc_auth_api_key_new(char key[TC_AUTH_API_KEY_LEN + 1],
                         char prefix[TC_AUTH_API_KEY_PREFIX_LEN + 1])
{
    memcpy(key, "tc_", 3);
    random_b64url(key + 3, TC_AUTH_API_KEY_LEN + 1 - 3, 32);
    memcpy(prefix, key, TC_AUTH_API_KEY_PREFIX_LEN);
    prefix[TC_AUTH_API_KEY_PREFIX_LEN] = '\0';
}

static bool b64url_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '_';
}

bool tc_auth_api_key_shape_ok(const char *key, size_t len)
{
    if (len != TC_AUTH_API_KEY_LEN || strncmp(key, "tc_", 3) != 0)
        return false;
    for (size_t i = 3; i < len; i++)
        if (!b64url_char(key[i]))
            return false;
    return true;
}

/* ---- JWT ------------------------------------------------------------------ */

/* SHA-256 fetched once: OpenSSL 3's one-shot HMAC() fetches the algorithm on
 * every call (tens of microseconds); with the digest fetched once, HMAC is
 * two short digests. */
static EVP_MD *sha256_md;
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;

static void sha256_fetch(void)
{
    sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
}

static void digest2(EVP_MD_CTX *ctx, const unsigned char *a, size_t an, const void *b, size_t bn,
                    unsigned char out[32])
{
    unsigned int len = 0;
    EVP_DigestInit_ex2(ctx, sha256_md, NULL);
    EVP_DigestUpdate(ctx, a, an);
    EVP_DigestUpdate(ctx, b, bn);
    EVP_DigestFinal_ex(ctx, out, &len);
}

/* HMAC-SHA256 (RFC 2104) for a 32-byte key. */
static void hmac_sha256(const unsigned char key[32], const void *data, size_t n,
                        unsigned char mac[32])
{
    unsigned char ipad[64], opad[64], inner[32];
    pthread_once(&sha256_once, sha256_fetch);
    EVP_MD_CTX *ctx = sha256_md ? EVP_MD_CTX_new() : NULL;
    if (!ctx) {
        unsigned int maclen = 0; /* fallback: the slow one-shot */
        HMAC(EVP_sha256(), key, 32, data, n, mac, &maclen);
        return;
    }
    memset(ipad, 0x36, sizeof ipad);
    memset(opad, 0x5c, sizeof opad);
    for (int i = 0; i < 32; i++) {
        ipad[i] ^= key[i];
        opad[i] ^= key[i];
    }
    digest2(ctx, ipad, sizeof ipad, data, n, inner);
    digest2(ctx, opad, sizeof opad, inner, sizeof inner, mac);
    EVP_MD_CTX_free(ctx);
    OPENSSL_cleanse(ipad, sizeof ipad);
    OPENSSL_cleanse(opad, sizeof opad);
}

void tc_auth_token_hash(const char *token, char out[TC_AUTH_HASH_HEX_LEN + 1])
{
    unsigned char md[32];
    unsigned int len = 0;
    pthread_once(&sha256_once, sha256_fetch);
    EVP_MD_CTX *ctx = sha256_md ? EVP_MD_CTX_new() : NULL;
    if (ctx) {
        EVP_DigestInit_ex2(ctx, sha256_md, NULL);
        EVP_DigestUpdate(ctx, token, strlen(token));
        EVP_DigestFinal_ex(ctx, md, &len);
        EVP_MD_CTX_free(ctx);
    } else {
        SHA256((const unsigned char *)token, strlen(token), md);
    }
    tc_hex_encode(md, sizeof md, out);
}

/* base64url(HMAC-SHA256(key, data[0..n))) into out[44]. */
static void jwt_mac(const unsigned char key[32], const char *data, size_t n,
                    char out[JWT_SIG_B64_LEN + 1])
{
    unsigned char mac[32];
    hmac_sha256(key, data, n, mac);
    char *s = tc_base64url_encode(mac, sizeof mac);
    snprintf(out, JWT_SIG_B64_LEN + 1, "%s", s);
    free(s);
}

tc_status tc_auth_jwt_sign(const unsigned char key[32], const tc_jwt_claims *c, char **out)
{
    json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:I, s:I}", "iss", c->iss, "sub", c->sub, "sid",
                          c->sid, "jti", c->jti, "iat", (json_int_t)c->iat, "exp",
                          (json_int_t)c->exp);
    if (!j)
        return TC_INTERNAL;
    char *payload = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    if (!payload)
        return TC_INTERNAL;
    char *p64 = tc_base64url_encode(payload, strlen(payload));
    free(payload);
    char *signing = tc_asprintf("%s.%s", JWT_HEADER, p64);
    free(p64);
    char sig[JWT_SIG_B64_LEN + 1];
    jwt_mac(key, signing, strlen(signing), sig);
    *out = tc_asprintf("%s.%s", signing, sig);
    free(signing);
    return TC_OK;
}

static tc_status bad_token(tc_err *err, const char *why)
{
    return tc_failc(err, TC_UNAUTHORIZED, "invalid_token", NULL, "invalid access token: %s", why);
}

/* Copies a required string claim of at most cap-1 bytes. */
static bool claim_str(json_t *o, const char *name, char *dst, size_t cap)
{
    json_t *v = json_object_get(o, name);
    if (!json_is_string(v) || json_string_length(v) >= cap)
        return false;
    memcpy(dst, json_string_value(v), json_string_length(v) + 1);
    return true;
}

static bool claim_int(json_t *o, const char *name, int64_t *dst)
{
    json_t *v = json_object_get(o, name);
    if (!json_is_integer(v))
        return false;
    *dst = (int64_t)json_integer_value(v);
    return true;
}

static signed char b64_tab[256];
static pthread_once_t b64_once = PTHREAD_ONCE_INIT;

static void b64_init(void)
{
    static const char alpha[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    memset(b64_tab, -1, sizeof b64_tab);
    for (int i = 0; i < 64; i++)
        b64_tab[(unsigned char)alpha[i]] = (signed char)i;
}

/* base64url without padding into out (cap bytes); -1 on a bad character,
 * a bad length or overflow. Table-driven: this runs on every request. */
static long b64url_decode(const char *s, size_t n, unsigned char *out, size_t cap)
{
    pthread_once(&b64_once, b64_init);
    if (n % 4 == 1 || n / 4 * 3 + 2 > cap)
        return -1;
    size_t o = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        int v = b64_tab[(unsigned char)s[i]];
        if (v < 0)
            return -1;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (unsigned char)(acc >> bits);
        }
    }
    return (long)o;
}

/* Exact match of a literal at *p; advances. */
static bool lit(const char **p, const char *end, const char *l)
{
    size_t n = strlen(l);
    if ((size_t)(end - *p) < n || memcmp(*p, l, n) != 0)
        return false;
    *p += n;
    return true;
}

/* A string without escapes up to the closing quote, at most cap-1 bytes. */
static bool plain_str(const char **p, const char *end, char *dst, size_t cap)
{
    const char *q = memchr(*p, '"', (size_t)(end - *p));
    if (!q || (size_t)(q - *p) >= cap || memchr(*p, '\\', (size_t)(q - *p)))
        return false;
    memcpy(dst, *p, (size_t)(q - *p));
    dst[q - *p] = '\0';
    *p = q;
    return true;
}

static bool plain_int(const char **p, const char *end, int64_t *v)
{
    int64_t x = 0;
    const char *q = *p;
    while (q < end && *q >= '0' && *q <= '9' && q - *p < 18)
        x = x * 10 + (*q++ - '0');
    if (q == *p)
        return false;
    *v = x;
    *p = q;
    return true;
}

/* Fast path for the exact payload tc_auth_jwt_sign writes (jansson keeps
 * insertion order): {"iss":"..","sub":"..","sid":"..","jti":"..","iat":N,"exp":N}.
 * Only reached after the signature matched, so the text is ours; anything
 * else (e.g. an issuer with escapes) falls back to the JSON parser. */
static bool claims_fast(const char *s, size_t n, tc_jwt_claims *c)
{
    const char *p = s, *end = s + n;
    return lit(&p, end, "{\"iss\":\"") && plain_str(&p, end, c->iss, sizeof c->iss) &&
           lit(&p, end, "\",\"sub\":\"") && plain_str(&p, end, c->sub, sizeof c->sub) &&
           lit(&p, end, "\",\"sid\":\"") && plain_str(&p, end, c->sid, sizeof c->sid) &&
           lit(&p, end, "\",\"jti\":\"") && plain_str(&p, end, c->jti, sizeof c->jti) &&
           lit(&p, end, "\",\"iat\":") && plain_int(&p, end, &c->iat) &&
           lit(&p, end, ",\"exp\":") && plain_int(&p, end, &c->exp) && lit(&p, end, "}") &&
           p == end;
}

static bool claims_json(const char *s, size_t n, tc_jwt_claims *c)
{
    json_t *o = json_loadb(s, n, JSON_REJECT_DUPLICATES, NULL);
    bool ok = json_is_object(o) && claim_str(o, "sub", c->sub, sizeof c->sub) &&
              claim_str(o, "sid", c->sid, sizeof c->sid) &&
              claim_str(o, "jti", c->jti, sizeof c->jti) &&
              claim_str(o, "iss", c->iss, sizeof c->iss) && claim_int(o, "iat", &c->iat) &&
              claim_int(o, "exp", &c->exp);
    json_decref(o);
    return ok;
}

static tc_status parse_claims(const char *p64, size_t n, tc_jwt_claims *c, tc_err *err)
{
    unsigned char raw[TC_AUTH_TOKEN_MAX];
    long rawlen = b64url_decode(p64, n, raw, sizeof raw);
    if (rawlen < 0)
        return bad_token(err, "payload is not base64url");
    bool ok = claims_fast((const char *)raw, (size_t)rawlen, c);
    if (!ok) {
        memset(c, 0, sizeof *c);
        ok = claims_json((const char *)raw, (size_t)rawlen, c);
    }
    if (!ok || !tc_uuid_valid(c->sub) || !tc_uuid_valid(c->sid))
        return bad_token(err, "claims are missing or malformed");
    return TC_OK;
}

tc_status tc_auth_jwt_verify(const unsigned char key[32], const char *token, size_t len,
                             const char *issuer, int64_t now_s, tc_jwt_claims *out, tc_err *err)
{
    memset(out, 0, sizeof *out);
    if (len > TC_AUTH_TOKEN_MAX)
        return bad_token(err, "too long");
    const char *dot1 = memchr(token, '.', len);
    const char *dot2 = dot1 ? memchr(dot1 + 1, '.', len - (size_t)(dot1 + 1 - token)) : NULL;
    if (!dot2 || memchr(dot2 + 1, '.', len - (size_t)(dot2 + 1 - token)))
        return bad_token(err, "not a JWT");
    if ((size_t)(dot1 - token) != JWT_HEADER_LEN || memcmp(token, JWT_HEADER, JWT_HEADER_LEN))
        return bad_token(err, "unsupported header (only HS256 is accepted)");
    size_t siglen = len - (size_t)(dot2 + 1 - token);
    char want[JWT_SIG_B64_LEN + 1];
    jwt_mac(key, token, (size_t)(dot2 - token), want);
    /* Compare the encodings, not decoded bytes: base64 decoders accept
     * several spellings of the last character, encodings have one. */
    if (siglen != JWT_SIG_B64_LEN || !tc_ct_equal(want, dot2 + 1, JWT_SIG_B64_LEN))
        return bad_token(err, "bad signature");
    tc_status st = parse_claims(dot1 + 1, (size_t)(dot2 - dot1 - 1), out, err);
    if (st != TC_OK)
        return st;
    if (strcmp(out->iss, issuer) != 0)
        return bad_token(err, "wrong issuer");
    if (out->iat > now_s + JWT_CLOCK_SKEW_S)
        return bad_token(err, "issued in the future");
    if (out->exp <= now_s)
        return tc_failc(err, TC_UNAUTHORIZED, "token_expired", NULL, "access token expired");
    return TC_OK;
}
