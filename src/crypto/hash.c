/* Hashes, HMAC, HKDF, random tokens, PKCE and secret wiping. */
#include <assert.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>

#include "crypto/crypto.h"

void tc_sha256(const void *p, size_t n, unsigned char out[TC_SHA256_LEN])
{
    unsigned int len = TC_SHA256_LEN;
    if (EVP_Digest(p, n, out, &len, EVP_sha256(), NULL) != 1)
        abort(); /* only fails on OOM or a broken libcrypto */
}

/* Fetching an algorithm is a locked table lookup: do it once per process. */
static pthread_once_t hmac_once = PTHREAD_ONCE_INIT;
static EVP_MAC *hmac_alg;

static void hmac_fetch(void)
{
    hmac_alg = EVP_MAC_fetch(NULL, "HMAC", NULL);
}

void tc_hmac_sha256_parts(const void *key, size_t klen, const tc_slice *parts, size_t nparts,
                          unsigned char out[TC_SHA256_LEN])
{
    static const unsigned char empty_key[1];
    pthread_once(&hmac_once, hmac_fetch);
    EVP_MAC_CTX *mctx = hmac_alg ? EVP_MAC_CTX_new(hmac_alg) : NULL;
    if (!mctx)
        abort();
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0),
        OSSL_PARAM_construct_end(),
    };
    size_t outl = 0;
    int ok = EVP_MAC_init(mctx, klen ? key : empty_key, klen, params);
    for (size_t i = 0; ok && i < nparts; i++)
        if (parts[i].len)
            ok = EVP_MAC_update(mctx, (const unsigned char *)parts[i].p, parts[i].len);
    if (ok)
        ok = EVP_MAC_final(mctx, out, &outl, TC_SHA256_LEN);
    EVP_MAC_CTX_free(mctx);
    if (!ok || outl != TC_SHA256_LEN)
        abort();
}

void tc_hmac_sha256(const void *key, size_t klen, const void *p, size_t n,
                    unsigned char out[TC_SHA256_LEN])
{
    tc_slice part = {p, n};
    tc_hmac_sha256_parts(key, klen, &part, 1, out);
}

tc_status tc_hkdf_sha256(const void *ikm, size_t ikmlen, const void *salt, size_t saltlen,
                         const void *info, size_t infolen, unsigned char *out, size_t outlen)
{
    static const unsigned char zero_salt[TC_SHA256_LEN];
    if (!outlen || outlen > 255 * TC_SHA256_LEN || !ikmlen)
        return TC_BAD_REQUEST;
    if (!salt || !saltlen) {
        salt = zero_salt;
        saltlen = sizeof(zero_salt);
    }
    EVP_KDF *kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
    EVP_KDF_CTX *kctx = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
    EVP_KDF_free(kdf);
    if (!kctx)
        return TC_INTERNAL;
    OSSL_PARAM params[5], *p = params;
    *p++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)"SHA256", 0);
    *p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)ikm, ikmlen);
    *p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)salt, saltlen);
    *p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)info, infolen);
    *p = OSSL_PARAM_construct_end();
    int ok = EVP_KDF_derive(kctx, out, outlen, params);
    EVP_KDF_CTX_free(kctx);
    return ok == 1 ? TC_OK : TC_INTERNAL;
}

char *tc_random_token(size_t nbytes)
{
    assert(nbytes >= 16 && nbytes <= 96);
    unsigned char buf[96];
    tc_random_bytes(buf, nbytes);
    char *out = tc_base64url_encode(buf, nbytes);
    OPENSSL_cleanse(buf, sizeof(buf));
    return out;
}

void tc_pkce_verifier(char out[TC_PKCE_VERIFIER_MAX + 1])
{
    unsigned char buf[32];
    tc_random_bytes(buf, sizeof(buf));
    char *enc = tc_base64url_encode(buf, sizeof(buf));
    size_t n = strlen(enc);
    assert(n == TC_PKCE_VERIFIER_MIN);
    memcpy(out, enc, n + 1);
    tc_secret_free(enc, n);
    OPENSSL_cleanse(buf, sizeof(buf));
}

static bool pkce_unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '.' || c == '_' || c == '~';
}

bool tc_pkce_verifier_valid(const char *v)
{
    if (!v)
        return false;
    size_t n = strnlen(v, TC_PKCE_VERIFIER_MAX + 1);
    if (n < TC_PKCE_VERIFIER_MIN || n > TC_PKCE_VERIFIER_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!pkce_unreserved((unsigned char)v[i]))
            return false;
    return true;
}

tc_status tc_pkce_challenge_s256(const char *verifier, char out[TC_PKCE_CHALLENGE_LEN + 1],
                                 tc_err *err)
{
    if (!tc_pkce_verifier_valid(verifier))
        return tc_failf(err, TC_BAD_REQUEST, "code_verifier",
                        "code_verifier must be 43 to 128 characters of A-Z a-z 0-9 - . _ ~");
    unsigned char digest[TC_SHA256_LEN];
    tc_sha256(verifier, strlen(verifier), digest);
    char *enc = tc_base64url_encode(digest, sizeof(digest));
    assert(strlen(enc) == TC_PKCE_CHALLENGE_LEN);
    memcpy(out, enc, TC_PKCE_CHALLENGE_LEN + 1);
    free(enc);
    return TC_OK;
}

void tc_secret_free(void *p, size_t n)
{
    if (!p)
        return;
    OPENSSL_cleanse(p, n);
    free(p);
}

void tc_secret_free_str(char *s)
{
    if (s)
        tc_secret_free(s, strlen(s));
}
