/* Standard Webhooks signing: secrets, message ids, signatures, verification. */
#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "crypto/crypto.h"
#include "webhooks/webhooks.h"

#define PREFIX_LEN (sizeof(TC_WH_SECRET_PREFIX) - 1)
#define SECRET_B64_MAX 88           /* base64 of 64 bytes */
#define VERIFY_HEADER_MAX 2048
#define VERIFY_ENTRIES_MAX 16

void tc_webhook_secret_generate(char out[TC_WH_SECRET_TEXT_MAX])
{
    unsigned char key[TC_WH_SECRET_BYTES];
    tc_random_bytes(key, sizeof(key));
    char *enc = tc_base64_encode(key, sizeof(key));
    int n = snprintf(out, TC_WH_SECRET_TEXT_MAX, "%s%s", TC_WH_SECRET_PREFIX, enc);
    assert(n > 0 && n < TC_WH_SECRET_TEXT_MAX);
    (void)n;
    tc_secret_free_str(enc);
    OPENSSL_cleanse(key, sizeof(key));
}

static bool b64_char(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '+' || c == '/';
}

/* Strict standard base64: alphabet, length a multiple of 4, padding only at the end. */
static bool b64_strict(const char *s, size_t n)
{
    if (n == 0 || n % 4)
        return false;
    size_t pad = s[n - 1] == '=' ? (s[n - 2] == '=' ? 2 : 1) : 0;
    for (size_t i = 0; i < n - pad; i++)
        if (!b64_char((unsigned char)s[i]))
            return false;
    return true;
}

tc_status tc_webhook_secret_parse(const char *secret, unsigned char key[TC_WH_SECRET_MAX_BYTES],
                                  size_t *keylen, tc_err *err)
{
    if (!secret || strncmp(secret, TC_WH_SECRET_PREFIX, PREFIX_LEN) != 0)
        return tc_failf(err, TC_VALIDATION, "secret", "a webhook secret starts with \"whsec_\"");
    const char *b64 = secret + PREFIX_LEN;
    size_t n = strnlen(b64, SECRET_B64_MAX + 1);
    if (n > SECRET_B64_MAX || !b64_strict(b64, n))
        return tc_failf(err, TC_VALIDATION, "secret",
                        "a webhook secret is \"whsec_\" followed by standard base64 of %d to %d bytes",
                        TC_WH_SECRET_MIN_BYTES, TC_WH_SECRET_MAX_BYTES);
    unsigned char *raw = NULL;
    size_t rawlen = 0;
    if (tc_base64_decode(b64, n, &raw, &rawlen) != TC_OK)
        return tc_failf(err, TC_VALIDATION, "secret", "the webhook secret is not valid base64");
    tc_status st = TC_OK;
    if (rawlen < TC_WH_SECRET_MIN_BYTES || rawlen > TC_WH_SECRET_MAX_BYTES)
        st = tc_failf(err, TC_VALIDATION, "secret",
                      "a webhook secret must hold %d to %d bytes, this one holds %zu",
                      TC_WH_SECRET_MIN_BYTES, TC_WH_SECRET_MAX_BYTES, rawlen);
    else if (key)
        memcpy(key, raw, rawlen);
    if (st == TC_OK && keylen)
        *keylen = rawlen;
    tc_secret_free(raw, rawlen);
    return st;
}

void tc_webhook_msg_id(char out[TC_WH_MSG_ID_MAX + 1])
{
    unsigned char b[16];
    tc_random_bytes(b, sizeof(b));
    char *enc = tc_base64url_encode(b, sizeof(b));
    snprintf(out, TC_WH_MSG_ID_MAX + 1, "msg_%s", enc);
    free(enc);
}

bool tc_webhook_msg_id_valid(const char *id)
{
    if (!id)
        return false;
    size_t n = strnlen(id, TC_WH_MSG_ID_MAX + 1);
    if (n == 0 || n > TC_WH_MSG_ID_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)id[i];
        bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                  c == '_' || c == '-';
        if (!ok)
            return false;
    }
    return true;
}

/* base64(HMAC-SHA256(key, "id.timestamp.body")) into out (45 bytes). */
static void sign_one(const unsigned char *key, size_t keylen, const char *msg_id,
                     const char *ts, const void *body, size_t len, char out[45])
{
    tc_slice parts[] = {tc_slice_from(msg_id), TC_SLICE_LIT("."), tc_slice_from(ts),
                        TC_SLICE_LIT("."), {body, len}};
    unsigned char mac[TC_SHA256_LEN];
    tc_hmac_sha256_parts(key, keylen, parts, sizeof(parts) / sizeof(parts[0]), mac);
    char *enc = tc_base64_encode(mac, sizeof(mac));
    assert(strlen(enc) == 44);
    memcpy(out, enc, 45);
    free(enc);
}

/* What both signers check of a message before signing it. */
static tc_status check_message(const char *msg_id, int64_t timestamp_s, const void *body,
                               size_t len, tc_err *err)
{
    if (!tc_webhook_msg_id_valid(msg_id))
        return tc_failf(err, TC_VALIDATION, "webhook_id",
                        "a webhook id is 1 to %d characters of A-Z a-z 0-9 _ -", TC_WH_MSG_ID_MAX);
    if (timestamp_s < 0)
        return tc_failf(err, TC_VALIDATION, "timestamp", "the timestamp must not be negative");
    if (!body && len)
        return tc_failf(err, TC_VALIDATION, "body", "missing body");
    return TC_OK;
}

tc_status tc_webhook_sign(const char *const *secrets, size_t nsecrets, const char *msg_id,
                          int64_t timestamp_s, const void *body, size_t len,
                          tc_webhook_headers *out, tc_err *err)
{
    memset(out, 0, sizeof(*out));
    if (nsecrets == 0 || nsecrets > TC_WH_SIGNERS_MAX)
        return tc_failf(err, TC_VALIDATION, "secret", "sign with 1 to %d secrets, not %zu",
                        TC_WH_SIGNERS_MAX, nsecrets);
    tc_status st = check_message(msg_id, timestamp_s, body, len, err);
    if (st != TC_OK)
        return st;
    snprintf(out->timestamp, sizeof(out->timestamp), "%" PRId64, timestamp_s);
    unsigned char key[TC_WH_SECRET_MAX_BYTES];
    size_t keylen = 0, o = 0;
    for (size_t i = 0; i < nsecrets; i++) {
        st = tc_webhook_secret_parse(secrets[i], key, &keylen, err);
        if (st != TC_OK)
            goto out;
        char sig[45];
        sign_one(key, keylen, msg_id, out->timestamp, body, len, sig);
        o += (size_t)snprintf(out->signature + o, sizeof(out->signature) - o, "%sv1,%s",
                              i ? " " : "", sig);
    }
    memcpy(out->id, msg_id, strlen(msg_id) + 1);
out:
    OPENSSL_cleanse(key, sizeof(key));
    if (st != TC_OK)
        memset(out, 0, sizeof(*out));
    return st;
}

static tc_status parse_timestamp(const char *ts, int64_t *out)
{
    if (!ts || !*ts || strlen(ts) > 19)
        return TC_BAD_REQUEST;
    int64_t v = 0;
    for (const char *p = ts; *p; p++) {
        if (*p < '0' || *p > '9')
            return TC_BAD_REQUEST;
        v = v * 10 + (*p - '0');
    }
    *out = v;
    return TC_OK;
}

/* Does any "v1,<sig>" entry of header equal expected (44 chars)? Scans all
 * entries so the time does not depend on which one matches. */
static bool header_matches(const char *header, const char expected[45])
{
    bool found = false;
    const char *p = header;
    for (int entries = 0; *p && entries < VERIFY_ENTRIES_MAX; entries++) {
        while (*p == ' ')
            p++;
        size_t n = strcspn(p, " ");
        if (n == 47 && !strncmp(p, "v1,", 3))
            found |= tc_ct_equal(p + 3, expected, 44);
        p += n;
    }
    return found;
}

tc_status tc_webhook_verify(const char *const *secrets, size_t nsecrets, const char *msg_id,
                            const char *timestamp, const char *signature_header,
                            const void *body, size_t len, int64_t now_s, int64_t tolerance_s,
                            tc_err *err)
{
    int64_t ts;
    if (!msg_id || !*msg_id || !signature_header || !*signature_header)
        return tc_failf(err, TC_UNAUTHORIZED, NULL, "missing webhook-id or webhook-signature");
    if (strlen(signature_header) > VERIFY_HEADER_MAX || strlen(msg_id) > 256)
        return tc_failf(err, TC_UNAUTHORIZED, "webhook-signature", "the signature header is too long");
    if (parse_timestamp(timestamp, &ts) != TC_OK)
        return tc_failf(err, TC_UNAUTHORIZED, "webhook-timestamp", "invalid webhook-timestamp");
    if (ts < now_s - tolerance_s || ts > now_s + tolerance_s)
        return tc_failf(err, TC_UNAUTHORIZED, "webhook-timestamp",
                        "webhook-timestamp is outside the %" PRId64 " s tolerance", tolerance_s);
    unsigned char key[TC_WH_SECRET_MAX_BYTES];
    size_t keylen;
    bool ok = false;
    for (size_t i = 0; i < nsecrets; i++) {
        if (tc_webhook_secret_parse(secrets[i], key, &keylen, NULL) != TC_OK)
            continue;
        char expected[45];
        sign_one(key, keylen, msg_id, timestamp, body, len, expected);
        ok |= header_matches(signature_header, expected);
    }
    OPENSSL_cleanse(key, sizeof(key));
    if (!ok)
        return tc_failf(err, TC_UNAUTHORIZED, "webhook-signature", "no matching signature");
    return TC_OK;
}

/* ---- signer: keys opened once, for many messages ------------------------------- */

/* One keyed HMAC context per secret; each message signs on a copy, so the
 * digest lookup and the key schedule are paid once per signer rather than
 * once per message. */
struct tc_webhook_signer {
    EVP_MAC_CTX *keyed[TC_WH_SIGNERS_MAX];
    size_t n;
};

void tc_webhook_signer_free(tc_webhook_signer *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n; i++)
        EVP_MAC_CTX_free(s->keyed[i]); /* the provider cleanses its key state */
    free(s);
}

static EVP_MAC_CTX *keyed_ctx(const unsigned char *key, size_t keylen)
{
    EVP_MAC *alg = EVP_MAC_fetch(NULL, "HMAC", NULL);
    EVP_MAC_CTX *m = alg ? EVP_MAC_CTX_new(alg) : NULL;
    EVP_MAC_free(alg); /* the context keeps its own reference */
    if (!m)
        return NULL;
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0),
        OSSL_PARAM_construct_end(),
    };
    if (!EVP_MAC_init(m, key, keylen, params)) {
        EVP_MAC_CTX_free(m);
        return NULL;
    }
    return m;
}

tc_status tc_webhook_signer_new(const char *const *secrets, size_t nsecrets,
                                tc_webhook_signer **out, tc_err *err)
{
    *out = NULL;
    if (nsecrets == 0 || nsecrets > TC_WH_SIGNERS_MAX)
        return tc_failf(err, TC_VALIDATION, "secret", "sign with 1 to %d secrets, not %zu",
                        TC_WH_SIGNERS_MAX, nsecrets);
    tc_webhook_signer *s = tc_calloc(1, sizeof(*s));
    unsigned char key[TC_WH_SECRET_MAX_BYTES];
    size_t keylen = 0;
    tc_status st = TC_OK;
    for (size_t i = 0; i < nsecrets && st == TC_OK; i++) {
        st = tc_webhook_secret_parse(secrets[i], key, &keylen, err);
        if (st != TC_OK)
            break;
        s->keyed[i] = keyed_ctx(key, keylen);
        if (!s->keyed[i])
            st = tc_failf(err, TC_INTERNAL, NULL, "HMAC-SHA256 is not available");
        else
            s->n++;
    }
    OPENSSL_cleanse(key, sizeof(key));
    if (st != TC_OK) {
        tc_webhook_signer_free(s);
        return st;
    }
    *out = s;
    return TC_OK;
}

static bool mac_one(const EVP_MAC_CTX *keyed, const tc_slice *parts, size_t nparts,
                    unsigned char mac[TC_SHA256_LEN])
{
    EVP_MAC_CTX *m = EVP_MAC_CTX_dup(keyed);
    size_t outl = 0;
    int ok = m != NULL;
    for (size_t i = 0; ok && i < nparts; i++)
        if (parts[i].len)
            ok = EVP_MAC_update(m, (const unsigned char *)parts[i].p, parts[i].len);
    if (ok)
        ok = EVP_MAC_final(m, mac, &outl, TC_SHA256_LEN);
    EVP_MAC_CTX_free(m);
    return ok && outl == TC_SHA256_LEN;
}

tc_status tc_webhook_signer_sign(const tc_webhook_signer *s, const char *msg_id,
                                 int64_t timestamp_s, const void *body, size_t len,
                                 tc_webhook_headers *out, tc_err *err)
{
    memset(out, 0, sizeof(*out));
    tc_status st = check_message(msg_id, timestamp_s, body, len, err);
    if (st != TC_OK)
        return st;
    snprintf(out->timestamp, sizeof(out->timestamp), "%" PRId64, timestamp_s);
    tc_slice parts[] = {tc_slice_from(msg_id), TC_SLICE_LIT("."), tc_slice_from(out->timestamp),
                        TC_SLICE_LIT("."), {body, len}};
    size_t o = 0;
    for (size_t i = 0; i < s->n; i++) {
        unsigned char mac[TC_SHA256_LEN];
        if (!mac_one(s->keyed[i], parts, sizeof(parts) / sizeof(parts[0]), mac)) {
            memset(out, 0, sizeof(*out));
            return tc_failf(err, TC_INTERNAL, NULL, "HMAC-SHA256 failed");
        }
        char *enc = tc_base64_encode(mac, sizeof(mac));
        o += (size_t)snprintf(out->signature + o, sizeof(out->signature) - o, "%sv1,%s",
                              i ? " " : "", enc);
        free(enc);
    }
    memcpy(out->id, msg_id, strlen(msg_id) + 1);
    return TC_OK;
}
