#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runner.h"
#include "webhooks/webhooks.h"

/* The reference vector of the Standard Webhooks libraries. */
#define SPEC_SECRET "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
#define SPEC_ID "msg_p5jXN8AQM9LWM0D4loKWxJek"
#define SPEC_TS 1614265330
#define SPEC_BODY "{\"test\": 2432232314}"
#define SPEC_SIG "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="

TEST(sign_spec_vector)
{
    const char *secrets[] = {SPEC_SECRET};
    tc_webhook_headers h;
    tc_err err;
    ASSERT_OK(tc_webhook_sign(secrets, 1, SPEC_ID, SPEC_TS, SPEC_BODY, strlen(SPEC_BODY), &h, &err));
    ASSERT_STR_EQ(h.id, SPEC_ID);
    ASSERT_STR_EQ(h.timestamp, "1614265330");
    ASSERT_STR_EQ(h.signature, SPEC_SIG);
    ASSERT_EQ(strlen(h.signature), TC_WH_SIGNATURE_LEN);
}

TEST(sign_rotation_two_signatures)
{
    char a[TC_WH_SECRET_TEXT_MAX], b[TC_WH_SECRET_TEXT_MAX];
    tc_webhook_secret_generate(a);
    tc_webhook_secret_generate(b);
    const char *both[] = {a, b}, *only_a[] = {a}, *only_b[] = {b};
    tc_webhook_headers h, ha, hb;
    ASSERT_OK(tc_webhook_sign(both, 2, "msg_1", 1700000000, "{}", 2, &h, NULL));
    ASSERT_OK(tc_webhook_sign(only_a, 1, "msg_1", 1700000000, "{}", 2, &ha, NULL));
    ASSERT_OK(tc_webhook_sign(only_b, 1, "msg_1", 1700000000, "{}", 2, &hb, NULL));
    char want[2 * TC_WH_SIGNATURE_HEADER_MAX];
    snprintf(want, sizeof(want), "%s %s", ha.signature, hb.signature);
    ASSERT_STR_EQ(h.signature, want);
    ASSERT(strcmp(ha.signature, hb.signature) != 0);
}

TEST(secret_generate_shape)
{
    char s[TC_WH_SECRET_TEXT_MAX];
    unsigned char key[TC_WH_SECRET_MAX_BYTES];
    size_t keylen = 0;
    tc_webhook_secret_generate(s);
    ASSERT(strncmp(s, "whsec_", 6) == 0);
    ASSERT_EQ(strlen(s), 6 + 44);
    ASSERT_OK(tc_webhook_secret_parse(s, key, &keylen, NULL));
    ASSERT_EQ(keylen, 32);
    char t[TC_WH_SECRET_TEXT_MAX];
    tc_webhook_secret_generate(t);
    ASSERT(strcmp(s, t) != 0);
}

TEST(secret_parse_rejects_bad_secrets)
{
    tc_err err;
    size_t keylen;
    unsigned char key[TC_WH_SECRET_MAX_BYTES];
    ASSERT_STATUS(tc_webhook_secret_parse(NULL, key, &keylen, &err), TC_VALIDATION);
    ASSERT_STATUS(tc_webhook_secret_parse("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", key, &keylen, &err), TC_VALIDATION);
    ASSERT_STR_EQ(err.field, "secret");
    ASSERT_STR_CONTAINS(err.message, "whsec_");
    /* 16 bytes: too short */
    ASSERT_STATUS(tc_webhook_secret_parse("whsec_AAAAAAAAAAAAAAAAAAAAAA==", key, &keylen, &err), TC_VALIDATION);
    ASSERT_STR_CONTAINS(err.message, "24 to 64 bytes");
    /* not base64 */
    ASSERT_STATUS(tc_webhook_secret_parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2La!aSw", key, &keylen, &err), TC_VALIDATION);
    ASSERT(strstr(err.message, "MfKQ") == NULL); /* never echoes the secret */
    ASSERT_STATUS(tc_webhook_secret_parse("whsec_", key, &keylen, &err), TC_VALIDATION);
    /* 65 bytes: too long */
    unsigned char raw[65] = {0};
    char *enc = tc_base64_encode(raw, sizeof(raw));
    char *s = tc_asprintf("whsec_%s", enc);
    ASSERT_STATUS(tc_webhook_secret_parse(s, key, &keylen, &err), TC_VALIDATION);
    free(s);
    free(enc);
    /* 64 bytes is the upper bound, accepted */
    enc = tc_base64_encode(raw, 64);
    s = tc_asprintf("whsec_%s", enc);
    ASSERT_OK(tc_webhook_secret_parse(s, key, &keylen, &err));
    ASSERT_EQ(keylen, 64);
    free(s);
    free(enc);
}

TEST(sign_rejects_bad_input)
{
    const char *good[] = {SPEC_SECRET}, *bad[] = {SPEC_SECRET, "nope"};
    tc_webhook_headers h;
    tc_err err;
    ASSERT_STATUS(tc_webhook_sign(good, 0, SPEC_ID, 1, "x", 1, &h, &err), TC_VALIDATION);
    ASSERT_STATUS(tc_webhook_sign(good, 5, SPEC_ID, 1, "x", 1, &h, &err), TC_VALIDATION);
    ASSERT_STATUS(tc_webhook_sign(good, 1, "msg\r\nX-Evil: 1", 1, "x", 1, &h, &err), TC_VALIDATION);
    ASSERT_STR_EQ(err.field, "webhook_id");
    ASSERT_STATUS(tc_webhook_sign(good, 1, "", 1, "x", 1, &h, &err), TC_VALIDATION);
    ASSERT_STATUS(tc_webhook_sign(bad, 2, SPEC_ID, 1, "x", 1, &h, &err), TC_VALIDATION);
    ASSERT_STR_EQ(err.field, "secret");
    ASSERT_STR_EQ(h.signature, ""); /* never a partial header */
    ASSERT_STATUS(tc_webhook_sign(good, 1, SPEC_ID, -1, "x", 1, &h, &err), TC_VALIDATION);
}

TEST(msg_id)
{
    char id[TC_WH_MSG_ID_MAX + 1], id2[TC_WH_MSG_ID_MAX + 1];
    tc_webhook_msg_id(id);
    tc_webhook_msg_id(id2);
    ASSERT(strncmp(id, "msg_", 4) == 0);
    ASSERT_EQ(strlen(id), 4 + 22);
    ASSERT(tc_webhook_msg_id_valid(id));
    ASSERT(strcmp(id, id2) != 0);
    ASSERT(tc_webhook_msg_id_valid("0b9a4a36-2b7c-4f8e-9d2a-1f4f0c8b2a11"));
    ASSERT(!tc_webhook_msg_id_valid("a b"));
    ASSERT(!tc_webhook_msg_id_valid("a.b"));
    char longid[80];
    memset(longid, 'a', sizeof(longid));
    longid[65] = '\0';
    ASSERT(!tc_webhook_msg_id_valid(longid));
}

TEST(verify_accepts_and_rejects)
{
    const char *secrets[] = {SPEC_SECRET};
    tc_err err;
    const char *body = SPEC_BODY;
    size_t n = strlen(body);
    ASSERT_OK(tc_webhook_verify(secrets, 1, SPEC_ID, "1614265330", SPEC_SIG, body, n, SPEC_TS + 10, 300, &err));
    /* several entries, other versions ignored */
    ASSERT_OK(tc_webhook_verify(secrets, 1, SPEC_ID, "1614265330",
                                "v1a,xxx v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA= " SPEC_SIG, body, n,
                                SPEC_TS, 300, &err));
    /* tampered body, id, timestamp */
    ASSERT_STATUS(tc_webhook_verify(secrets, 1, SPEC_ID, "1614265330", SPEC_SIG, "{\"test\": 2432232315}", n,
                                    SPEC_TS, 300, &err), TC_UNAUTHORIZED);
    ASSERT_STR_CONTAINS(err.message, "no matching signature");
    ASSERT_STATUS(tc_webhook_verify(secrets, 1, "msg_other", "1614265330", SPEC_SIG, body, n, SPEC_TS, 300, &err),
                  TC_UNAUTHORIZED);
    ASSERT_STATUS(tc_webhook_verify(secrets, 1, SPEC_ID, "1614265331", SPEC_SIG, body, n, SPEC_TS, 300, &err),
                  TC_UNAUTHORIZED);
    /* too old, too new, garbage timestamp */
    ASSERT_STATUS(tc_webhook_verify(secrets, 1, SPEC_ID, "1614265330", SPEC_SIG, body, n, SPEC_TS + 301, 300, &err),
                  TC_UNAUTHORIZED);
    ASSERT_STR_EQ(err.field, "webhook-timestamp");
    ASSERT_STATUS(tc_webhook_verify(secrets, 1, SPEC_ID, "1614265330", SPEC_SIG, body, n, SPEC_TS - 301, 300, &err),
                  TC_UNAUTHORIZED);
    ASSERT_STATUS(tc_webhook_verify(secrets, 1, SPEC_ID, "16x", SPEC_SIG, body, n, SPEC_TS, 300, &err),
                  TC_UNAUTHORIZED);
    ASSERT_STATUS(tc_webhook_verify(secrets, 1, SPEC_ID, "1614265330", "", body, n, SPEC_TS, 300, &err),
                  TC_UNAUTHORIZED);
}

TEST(verify_rotation_either_secret)
{
    char oldk[TC_WH_SECRET_TEXT_MAX], newk[TC_WH_SECRET_TEXT_MAX], other[TC_WH_SECRET_TEXT_MAX];
    tc_webhook_secret_generate(oldk);
    tc_webhook_secret_generate(newk);
    tc_webhook_secret_generate(other);
    const char *both[] = {newk, oldk};
    tc_webhook_headers h;
    ASSERT_OK(tc_webhook_sign(both, 2, "msg_rot", 1700000000, "{\"a\":1}", 7, &h, NULL));
    const char *r1[] = {oldk}, *r2[] = {newk}, *r3[] = {other};
    ASSERT_OK(tc_webhook_verify(r1, 1, h.id, h.timestamp, h.signature, "{\"a\":1}", 7, 1700000000, 300, NULL));
    ASSERT_OK(tc_webhook_verify(r2, 1, h.id, h.timestamp, h.signature, "{\"a\":1}", 7, 1700000000, 300, NULL));
    ASSERT_STATUS(tc_webhook_verify(r3, 1, h.id, h.timestamp, h.signature, "{\"a\":1}", 7, 1700000000, 300, NULL),
                  TC_UNAUTHORIZED);
}

TEST(sign_binary_body_with_nul)
{
    const char *secrets[] = {SPEC_SECRET};
    tc_webhook_headers a, b;
    ASSERT_OK(tc_webhook_sign(secrets, 1, "m", 5, "a\0b", 3, &a, NULL));
    ASSERT_OK(tc_webhook_sign(secrets, 1, "m", 5, "a\0c", 3, &b, NULL));
    ASSERT(strcmp(a.signature, b.signature) != 0); /* bytes after a NUL are signed */
}

/* The worker's signer (keys opened once) gives the very same headers as
 * tc_webhook_sign: the spec vector, a rotated pair, many messages in a row,
 * and it refuses what tc_webhook_sign refuses. */
TEST(signer_matches_sign)
{
    tc_err err;
    tc_webhook_signer *s = NULL;
    const char *spec[] = {SPEC_SECRET};
    ASSERT_OK(tc_webhook_signer_new(spec, 1, &s, &err));
    tc_webhook_headers h;
    ASSERT_OK(tc_webhook_signer_sign(s, SPEC_ID, SPEC_TS, SPEC_BODY, strlen(SPEC_BODY), &h, &err));
    ASSERT_STR_EQ(h.id, SPEC_ID);
    ASSERT_STR_EQ(h.timestamp, "1614265330");
    ASSERT_STR_EQ(h.signature, SPEC_SIG);
    ASSERT_STATUS(tc_webhook_signer_sign(s, "bad id!", SPEC_TS, "x", 1, &h, &err), TC_VALIDATION);
    ASSERT_STR_EQ(h.signature, "");
    tc_webhook_signer_free(s);

    char a[TC_WH_SECRET_TEXT_MAX], b[TC_WH_SECRET_TEXT_MAX];
    tc_webhook_secret_generate(a);
    tc_webhook_secret_generate(b);
    const char *pair[] = {a, b};
    ASSERT_OK(tc_webhook_signer_new(pair, 2, &s, &err));
    for (int i = 0; i < 50; i++) {
        char body[64], id[32];
        snprintf(body, sizeof(body), "{\"n\":%d}", i);
        snprintf(id, sizeof(id), "msg_%d", i);
        tc_webhook_headers want, got;
        ASSERT_OK(tc_webhook_sign(pair, 2, id, 1700000000 + i, body, strlen(body), &want, &err));
        ASSERT_OK(tc_webhook_signer_sign(s, id, 1700000000 + i, body, strlen(body), &got, &err));
        ASSERT_STR_EQ(got.signature, want.signature);
        ASSERT_STR_EQ(got.timestamp, want.timestamp);
    }
    tc_webhook_signer_free(s);

    const char *bad[] = {"whsec_short"};
    ASSERT_STATUS(tc_webhook_signer_new(bad, 1, &s, &err), TC_VALIDATION);
    ASSERT(s == NULL);
    ASSERT_STATUS(tc_webhook_signer_new(pair, 0, &s, &err), TC_VALIDATION);
}
