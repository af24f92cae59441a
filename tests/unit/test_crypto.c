#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crypto/crypto.h"
#include "runner.h"

static void hex(const unsigned char *p, size_t n, char *out)
{
    tc_hex_encode(p, n, out);
}

/* ---- hashes (published test vectors) ---- */
TEST(sha256_vector)
{
    unsigned char d[32];
    char h[65];
    tc_sha256("abc", 3, d);
    hex(d, 32, h);
    ASSERT_STR_EQ(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    tc_sha256("", 0, d);
    hex(d, 32, h);
    ASSERT_STR_EQ(h, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(hmac_rfc4231_case2)
{
    unsigned char d[32];
    char h[65];
    const char *msg = "what do ya want for nothing?";
    tc_hmac_sha256("Jefe", 4, msg, strlen(msg), d);
    hex(d, 32, h);
    ASSERT_STR_EQ(h, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST(hmac_parts_equals_whole)
{
    unsigned char a[32], b[32];
    tc_slice parts[] = {TC_SLICE_LIT("what do "), TC_SLICE_LIT(""), TC_SLICE_LIT("ya want for nothing?")};
    tc_hmac_sha256_parts("Jefe", 4, parts, 3, a);
    tc_hmac_sha256("Jefe", 4, "what do ya want for nothing?", 28, b);
    ASSERT(memcmp(a, b, 32) == 0);
}

TEST(hkdf_rfc5869_case1)
{
    unsigned char ikm[22], salt[13], info[10], okm[42];
    char h[85];
    memset(ikm, 0x0b, sizeof(ikm));
    for (int i = 0; i < 13; i++)
        salt[i] = (unsigned char)i;
    for (int i = 0; i < 10; i++)
        info[i] = (unsigned char)(0xf0 + i);
    ASSERT_OK(tc_hkdf_sha256(ikm, sizeof(ikm), salt, sizeof(salt), info, sizeof(info), okm, 42));
    hex(okm, 42, h);
    ASSERT_STR_EQ(h, "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865");
}

TEST(hkdf_rfc5869_case3_no_salt)
{
    unsigned char ikm[22], okm[42];
    char h[85];
    memset(ikm, 0x0b, sizeof(ikm));
    ASSERT_OK(tc_hkdf_sha256(ikm, sizeof(ikm), NULL, 0, "", 0, okm, 42));
    hex(okm, 42, h);
    ASSERT_STR_EQ(h, "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8");
}

TEST(hkdf_rejects_bad_lengths)
{
    unsigned char okm[8];
    ASSERT_STATUS(tc_hkdf_sha256("k", 1, NULL, 0, NULL, 0, okm, 0), TC_BAD_REQUEST);
    ASSERT_STATUS(tc_hkdf_sha256("k", 0, NULL, 0, NULL, 0, okm, 8), TC_BAD_REQUEST);
}

/* ---- tokens and PKCE ---- */
TEST(random_token_shape)
{
    char *a = tc_random_token(32), *b = tc_random_token(32);
    ASSERT_EQ(strlen(a), 43);
    ASSERT(strcmp(a, b) != 0);
    for (const char *p = a; *p; p++)
        ASSERT(strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", *p));
    free(a);
    free(b);
}

TEST(pkce_rfc7636_appendix_b)
{
    char c[TC_PKCE_CHALLENGE_LEN + 1];
    tc_err err;
    ASSERT_OK(tc_pkce_challenge_s256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk", c, &err));
    ASSERT_STR_EQ(c, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
}

TEST(pkce_verifier_generated_is_valid_and_unique)
{
    char a[TC_PKCE_VERIFIER_MAX + 1], b[TC_PKCE_VERIFIER_MAX + 1];
    tc_pkce_verifier(a);
    tc_pkce_verifier(b);
    ASSERT_EQ(strlen(a), 43);
    ASSERT(tc_pkce_verifier_valid(a));
    ASSERT(strcmp(a, b) != 0);
    char c[TC_PKCE_CHALLENGE_LEN + 1];
    ASSERT_OK(tc_pkce_challenge_s256(a, c, NULL));
    ASSERT_EQ(strlen(c), 43);
}

TEST(pkce_verifier_validation)
{
    char longv[200];
    memset(longv, 'a', sizeof(longv));
    longv[128] = '\0';
    ASSERT(tc_pkce_verifier_valid(longv));
    longv[128] = 'a';
    longv[129] = '\0';
    ASSERT(!tc_pkce_verifier_valid(longv));
    ASSERT(!tc_pkce_verifier_valid("short"));
    ASSERT(!tc_pkce_verifier_valid("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa+"));  /* bad char */
    ASSERT(tc_pkce_verifier_valid("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.~_"));
    ASSERT(!tc_pkce_verifier_valid(NULL));
    tc_err err;
    char c[TC_PKCE_CHALLENGE_LEN + 1];
    ASSERT_STATUS(tc_pkce_challenge_s256("short", c, &err), TC_BAD_REQUEST);
    ASSERT_STR_EQ(err.field, "code_verifier");
}

/* ---- master key ---- */
TEST(master_key_decode)
{
    unsigned char k[32];
    tc_err err;
    char *b64 = tc_base64_encode("0123456789abcdef0123456789abcdef", 32);
    ASSERT_OK(tc_master_key_decode(b64, k, &err));
    ASSERT(memcmp(k, "0123456789abcdef0123456789abcdef", 32) == 0);
    free(b64);
    ASSERT_STATUS(tc_master_key_decode("c2hvcnQ=", k, &err), TC_BAD_REQUEST);
    ASSERT_STR_EQ(err.field, "TC_MASTER_KEY");
    ASSERT_STR_CONTAINS(err.message, "32 bytes");
    ASSERT_STATUS(tc_master_key_decode("!!!notbase64", k, &err), TC_BAD_REQUEST);
    ASSERT(strstr(err.message, "!!!") == NULL); /* never echoes the value */
}

TEST(master_key_file_created_once)
{
    unsigned char a[32], b[32];
    tc_err err;
    char *dir = tc_asprintf("%s/data", tc_test_tmpdir());
    ASSERT_STATUS(tc_master_key_load("", dir, false, a, &err), TC_NOT_FOUND);
    ASSERT_STR_CONTAINS(err.message, "master.key");
    ASSERT_OK(tc_master_key_load("", dir, true, a, &err));
    ASSERT_OK(tc_master_key_load(NULL, dir, true, b, &err));
    ASSERT(memcmp(a, b, 32) == 0);
    char *path = tc_asprintf("%s/master.key", dir);
    struct stat st;
    ASSERT_EQ(stat(path, &st), 0);
    ASSERT_EQ(st.st_mode & 0777, 0600);
    free(path);
    free(dir);
}

/* ---- secret box ---- */
static tc_keyring *ring(tc_kid kid)
{
    unsigned char master[32];
    memset(master, 7, sizeof(master));
    tc_keyring *kr;
    ASSERT_OK(tc_keyring_new(master, 32, &kr, NULL));
    if (kid)
        ASSERT_OK(tc_keyring_add(kr, kid, NULL));
    return kr;
}

TEST(keyring_rules)
{
    tc_keyring *kr;
    tc_err err;
    ASSERT_STATUS(tc_keyring_new("short", 5, &kr, &err), TC_BAD_REQUEST);
    kr = ring(0);
    ASSERT_EQ(tc_keyring_active(kr), 0);
    ASSERT_STATUS(tc_keyring_add(kr, 0, &err), TC_BAD_REQUEST);
    ASSERT_OK(tc_keyring_add(kr, 5, &err));
    ASSERT_EQ(tc_keyring_active(kr), 5); /* first one becomes active */
    ASSERT_OK(tc_keyring_add(kr, 9, &err));
    ASSERT_OK(tc_keyring_add(kr, 9, &err)); /* idempotent */
    ASSERT_EQ(tc_keyring_active(kr), 5);
    ASSERT_OK(tc_keyring_set_active(kr, 9, &err));
    ASSERT_EQ(tc_keyring_active(kr), 9);
    ASSERT_STATUS(tc_keyring_set_active(kr, 77, &err), TC_NOT_FOUND);
    ASSERT(tc_keyring_has(kr, 5) && !tc_keyring_has(kr, 6));
    tc_keyring_free(kr);
}

TEST(secretbox_round_trip)
{
    tc_keyring *kr = ring(1);
    const char *secret = "ghp_abcdefghijklmnopqrstuvwxyz0123456789";
    unsigned char *ct, *pt;
    size_t ctlen, ptlen;
    tc_err err;
    ASSERT_OK(tc_secretbox_seal(kr, "user_connections.secret:42", secret, strlen(secret), &ct, &ctlen, &err));
    ASSERT_EQ(ctlen, strlen(secret) + TC_SECRETBOX_OVERHEAD);
    ASSERT_EQ(ct[0], 1);
    ASSERT(memmem(ct, ctlen, "ghp_", 4) == NULL);
    tc_kid kid = 0;
    ASSERT_OK(tc_secretbox_key_id(ct, ctlen, &kid));
    ASSERT_EQ(kid, 1);
    ASSERT_OK(tc_secretbox_open(kr, "user_connections.secret:42", ct, ctlen, &pt, &ptlen, &err));
    ASSERT_EQ(ptlen, strlen(secret));
    ASSERT_STR_EQ((char *)pt, secret);
    tc_secret_free(pt, ptlen);
    free(ct);
    tc_keyring_free(kr);
}

TEST(secretbox_empty_plaintext_and_random_nonce)
{
    tc_keyring *kr = ring(1);
    unsigned char *a, *b, *pt;
    size_t alen, blen, ptlen;
    ASSERT_OK(tc_secretbox_seal(kr, "x:1", "", 0, &a, &alen, NULL));
    ASSERT_OK(tc_secretbox_seal(kr, "x:1", "", 0, &b, &blen, NULL));
    ASSERT_EQ(alen, TC_SECRETBOX_OVERHEAD);
    ASSERT(memcmp(a, b, alen) != 0); /* fresh nonce each time */
    ASSERT_OK(tc_secretbox_open(kr, "x:1", a, alen, &pt, &ptlen, NULL));
    ASSERT_EQ(ptlen, 0);
    ASSERT_EQ(pt[0], 0);
    tc_secret_free(pt, ptlen);
    free(a);
    free(b);
    tc_keyring_free(kr);
}

TEST(secretbox_detects_every_flipped_bit)
{
    tc_keyring *kr = ring(1);
    unsigned char *ct, *pt;
    size_t ctlen, ptlen;
    tc_err err;
    ASSERT_OK(tc_secretbox_seal(kr, "webhooks.secret:7", "whsec_abc", 9, &ct, &ctlen, &err));
    for (size_t i = 0; i < ctlen; i++) {
        for (int bit = 0; bit < 8; bit++) {
            ct[i] ^= (unsigned char)(1 << bit);
            tc_status st = tc_secretbox_open(kr, "webhooks.secret:7", ct, ctlen, &pt, &ptlen, &err);
            ASSERT_STATUS(st, TC_INTERNAL);
            ASSERT_NULL(pt);
            /* version byte -> malformed; key id bytes -> unknown key; rest -> tampered */
            const char *want = i == 0 ? "secret_malformed" : i < 5 ? "secret_unknown_key" : "secret_tampered";
            ASSERT_STR_EQ(tc_err_code(&err), want);
            ct[i] ^= (unsigned char)(1 << bit);
        }
    }
    ASSERT_OK(tc_secretbox_open(kr, "webhooks.secret:7", ct, ctlen, &pt, &ptlen, &err));
    tc_secret_free(pt, ptlen);
    free(ct);
    tc_keyring_free(kr);
}

TEST(secretbox_wrong_aad)
{
    tc_keyring *kr = ring(1);
    unsigned char *ct, *pt;
    size_t ctlen, ptlen;
    tc_err err;
    char aad[TC_SECRET_AAD_MAX], other[TC_SECRET_AAD_MAX];
    ASSERT_OK(tc_secret_aad(aad, "user_connections.secret", "42"));
    ASSERT_STR_EQ(aad, "user_connections.secret:42");
    ASSERT_OK(tc_secret_aad(other, "user_connections.secret", "43"));
    ASSERT_OK(tc_secretbox_seal(kr, aad, "tok", 3, &ct, &ctlen, &err));
    ASSERT_STATUS(tc_secretbox_open(kr, other, ct, ctlen, &pt, &ptlen, &err), TC_INTERNAL);
    ASSERT_STR_EQ(tc_err_code(&err), "secret_tampered");
    ASSERT_STR_CONTAINS(err.message, "another row or purpose");
    ASSERT_STATUS(tc_secretbox_open(kr, "webhooks.secret:42", ct, ctlen, &pt, &ptlen, &err), TC_INTERNAL);
    ASSERT_STATUS(tc_secretbox_open(kr, NULL, ct, ctlen, &pt, &ptlen, &err), TC_INTERNAL);
    free(ct);
    tc_keyring_free(kr);
}

TEST(secretbox_unknown_key_and_malformed)
{
    tc_keyring *kr = ring(1), *other = ring(2);
    unsigned char *ct, *pt;
    size_t ctlen, ptlen;
    tc_err err;
    ASSERT_OK(tc_secretbox_seal(other, "a:1", "tok", 3, &ct, &ctlen, &err));
    ASSERT_STATUS(tc_secretbox_open(kr, "a:1", ct, ctlen, &pt, &ptlen, &err), TC_INTERNAL);
    ASSERT_STR_EQ(tc_err_code(&err), "secret_unknown_key");
    ASSERT_STR_CONTAINS(err.message, "key id 2");
    ASSERT_STATUS(tc_secretbox_open(kr, "a:1", ct, 10, &pt, &ptlen, &err), TC_INTERNAL);
    ASSERT_STR_EQ(tc_err_code(&err), "secret_malformed");
    /* a different master key with the same key id fails authentication */
    unsigned char m2[32];
    memset(m2, 8, sizeof(m2));
    tc_keyring *kr2;
    ASSERT_OK(tc_keyring_new(m2, 32, &kr2, NULL));
    ASSERT_OK(tc_keyring_add(kr2, 2, NULL));
    ASSERT_STATUS(tc_secretbox_open(kr2, "a:1", ct, ctlen, &pt, &ptlen, &err), TC_INTERNAL);
    ASSERT_STR_EQ(tc_err_code(&err), "secret_tampered");
    free(ct);
    tc_keyring_free(kr);
    tc_keyring_free(kr2);
    tc_keyring_free(other);
}

TEST(secretbox_no_active_key)
{
    tc_keyring *kr = ring(0);
    unsigned char *ct;
    size_t ctlen;
    tc_err err;
    ASSERT_STATUS(tc_secretbox_seal(kr, "a:1", "x", 1, &ct, &ctlen, &err), TC_INTERNAL);
    ASSERT_STR_EQ(tc_err_code(&err), "secret_no_key");
    tc_keyring_free(kr);
}

TEST(secretbox_rotation_mixed_ciphertexts)
{
    tc_keyring *kr = ring(1);
    unsigned char *old_ct, *new_ct, *pt;
    size_t old_len, new_len, ptlen;
    ASSERT_OK(tc_secretbox_seal(kr, "a:1", "old", 3, &old_ct, &old_len, NULL));
    ASSERT_OK(tc_keyring_add(kr, 2, NULL));
    ASSERT_OK(tc_keyring_set_active(kr, 2, NULL));
    ASSERT_OK(tc_secretbox_seal(kr, "a:2", "new", 3, &new_ct, &new_len, NULL));
    tc_kid k1, k2;
    ASSERT_OK(tc_secretbox_key_id(old_ct, old_len, &k1));
    ASSERT_OK(tc_secretbox_key_id(new_ct, new_len, &k2));
    ASSERT_EQ(k1, 1);
    ASSERT_EQ(k2, 2);
    ASSERT_OK(tc_secretbox_open(kr, "a:1", old_ct, old_len, &pt, &ptlen, NULL));
    ASSERT_STR_EQ((char *)pt, "old");
    tc_secret_free(pt, ptlen);
    ASSERT_OK(tc_secretbox_open(kr, "a:2", new_ct, new_len, &pt, &ptlen, NULL));
    ASSERT_STR_EQ((char *)pt, "new");
    tc_secret_free(pt, ptlen);
    /* derived keys are stable: a fresh keyring from the same master opens both */
    tc_keyring *again = ring(2);
    ASSERT_OK(tc_keyring_add(again, 1, NULL));
    ASSERT_OK(tc_secretbox_open(again, "a:1", old_ct, old_len, &pt, &ptlen, NULL));
    tc_secret_free(pt, ptlen);
    free(old_ct);
    free(new_ct);
    tc_keyring_free(kr);
    tc_keyring_free(again);
}

static bool resolve_three(void *ctx, tc_keyring *kr, tc_kid kid)
{
    int *calls = ctx;
    (*calls)++;
    return kid == 3 && tc_keyring_add(kr, kid, NULL) == TC_OK;
}

TEST(secretbox_resolver_learns_new_key)
{
    tc_keyring *writer = ring(3), *reader = ring(1);
    int calls = 0;
    tc_keyring_set_resolver(reader, resolve_three, &calls);
    unsigned char *ct, *pt;
    size_t ctlen, ptlen;
    tc_err err;
    ASSERT_OK(tc_secretbox_seal(writer, "a:1", "hello", 5, &ct, &ctlen, NULL));
    ASSERT_OK(tc_secretbox_open(reader, "a:1", ct, ctlen, &pt, &ptlen, &err));
    ASSERT_STR_EQ((char *)pt, "hello");
    tc_secret_free(pt, ptlen);
    ASSERT_EQ(calls, 1);
    ASSERT_OK(tc_secretbox_open(reader, "a:1", ct, ctlen, &pt, &ptlen, &err));
    tc_secret_free(pt, ptlen);
    ASSERT_EQ(calls, 1); /* cached now */
    ASSERT_EQ(tc_keyring_active(reader), 1); /* learning a key never switches the active one */
    free(ct);
    tc_keyring_free(writer);
    tc_keyring_free(reader);
}

TEST(secretbox_text_form)
{
    tc_keyring *kr = ring(4);
    char *text;
    unsigned char *pt;
    size_t ptlen;
    tc_err err;
    ASSERT_OK(tc_secretbox_seal_text(kr, "oauth_clients.client_secret:github", "s3cr3t", 6, &text, &err));
    ASSERT(strncmp(text, "v1.", 3) == 0);
    tc_kid kid;
    ASSERT_OK(tc_secretbox_text_key_id(text, &kid));
    ASSERT_EQ(kid, 4);
    ASSERT_OK(tc_secretbox_open_text(kr, "oauth_clients.client_secret:github", text, &pt, &ptlen, &err));
    ASSERT_STR_EQ((char *)pt, "s3cr3t");
    tc_secret_free(pt, ptlen);
    ASSERT_STATUS(tc_secretbox_open_text(kr, "x", "plaintext!", &pt, &ptlen, &err), TC_INTERNAL);
    ASSERT_STR_EQ(tc_err_code(&err), "secret_malformed");
    ASSERT_STATUS(tc_secretbox_text_key_id("v1.@@@", &kid), TC_BAD_REQUEST);
    free(text);
    tc_keyring_free(kr);
}

TEST(secretbox_size_limit)
{
    tc_keyring *kr = ring(1);
    size_t n = TC_SECRETBOX_MAX_PLAINTEXT + 1;
    char *big = tc_calloc(1, n);
    unsigned char *ct;
    size_t ctlen;
    tc_err err;
    ASSERT_STATUS(tc_secretbox_seal(kr, "a:1", big, n, &ct, &ctlen, &err), TC_TOO_LARGE);
    free(big);
    tc_keyring_free(kr);
}

typedef struct {
    tc_keyring *kr;
    int ok;
} thread_arg;

static void *churn(void *p)
{
    thread_arg *a = p;
    for (int i = 0; i < 200; i++) {
        unsigned char *ct, *pt;
        size_t ctlen, ptlen;
        if (tc_secretbox_seal(a->kr, "t:1", "abc", 3, &ct, &ctlen, NULL) != TC_OK)
            return NULL;
        if (tc_secretbox_open(a->kr, "t:1", ct, ctlen, &pt, &ptlen, NULL) == TC_OK && ptlen == 3)
            a->ok++;
        tc_secret_free(pt, ptlen);
        free(ct);
    }
    return NULL;
}

TEST(keyring_concurrent_rotation)
{
    tc_keyring *kr = ring(1);
    pthread_t t[3];
    thread_arg args[3];
    for (int i = 0; i < 3; i++) {
        args[i] = (thread_arg){kr, 0};
        pthread_create(&t[i], NULL, churn, &args[i]);
    }
    for (tc_kid k = 2; k < 40; k++) {
        ASSERT_OK(tc_keyring_add(kr, k, NULL));
        ASSERT_OK(tc_keyring_set_active(kr, k, NULL));
    }
    for (int i = 0; i < 3; i++) {
        pthread_join(t[i], NULL);
        ASSERT_EQ(args[i].ok, 200);
    }
    tc_keyring_free(kr);
}
