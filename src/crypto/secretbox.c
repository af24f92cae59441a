/* Keyring and secret box: AES-256-GCM with per-key-id keys derived from the
 * master key by HKDF. Format and reasoning in docs/security.md. */
#include <assert.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "crypto/crypto.h"

#define KEY_LEN 32
#define NONCE_LEN 12
#define TAG_LEN 16
#define HEADER_LEN 5 /* version + key id */

static const char hkdf_salt[] = "toolconnect secretbox";
static const char hkdf_info_prefix[] = "toolconnect/secretbox/v1/kid:";

typedef struct {
    tc_kid kid;
    unsigned char key[KEY_LEN];
} kr_entry;

struct tc_keyring {
    pthread_rwlock_t lock;  /* guards n, active and entries; keys never change once added */
    unsigned char master[TC_MASTER_KEY_LEN];
    size_t n;
    tc_kid active;
    kr_entry entries[TC_KEYRING_MAX];
    /* The resolver has its own lock: it is called without holding the
     * rwlock (it adds ids), and replacing it waits for calls in flight, so
     * its context can be freed right after tc_keyring_set_resolver(NULL). */
    pthread_mutex_t rmu;
    pthread_cond_t rdone;
    int resolving;
    tc_keyring_resolver resolver;
    void *resolver_ctx;
};

static void put_be32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

static uint32_t get_be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

tc_status tc_keyring_new(const void *master, size_t len, tc_keyring **out, tc_err *err)
{
    *out = NULL;
    if (!master || len != TC_MASTER_KEY_LEN)
        return tc_failf(err, TC_BAD_REQUEST, "TC_MASTER_KEY",
                        "the master key must be exactly %d bytes, got %zu", TC_MASTER_KEY_LEN, len);
    tc_keyring *kr = tc_calloc(1, sizeof(*kr));
    pthread_rwlock_init(&kr->lock, NULL);
    pthread_mutex_init(&kr->rmu, NULL);
    pthread_cond_init(&kr->rdone, NULL);
    memcpy(kr->master, master, TC_MASTER_KEY_LEN);
    *out = kr;
    return TC_OK;
}

void tc_keyring_free(tc_keyring *kr)
{
    if (!kr)
        return;
    pthread_rwlock_destroy(&kr->lock);
    pthread_mutex_destroy(&kr->rmu);
    pthread_cond_destroy(&kr->rdone);
    tc_secret_free(kr, sizeof(*kr));
}

/* Caller holds the lock (read or write). */
static const kr_entry *find_locked(const tc_keyring *kr, tc_kid kid)
{
    for (size_t i = 0; i < kr->n; i++)
        if (kr->entries[i].kid == kid)
            return &kr->entries[i];
    return NULL;
}

static tc_status derive(const tc_keyring *kr, tc_kid kid, unsigned char key[KEY_LEN])
{
    unsigned char info[sizeof(hkdf_info_prefix) - 1 + 4];
    memcpy(info, hkdf_info_prefix, sizeof(hkdf_info_prefix) - 1);
    put_be32(info + sizeof(hkdf_info_prefix) - 1, kid);
    return tc_hkdf_sha256(kr->master, TC_MASTER_KEY_LEN, hkdf_salt, sizeof(hkdf_salt) - 1,
                          info, sizeof(info), key, KEY_LEN);
}

tc_status tc_keyring_add(tc_keyring *kr, tc_kid kid, tc_err *err)
{
    if (kid == 0)
        return tc_failf(err, TC_BAD_REQUEST, "key_id", "key id 0 is reserved");
    unsigned char key[KEY_LEN];
    if (derive(kr, kid, key) != TC_OK)
        return tc_failf(err, TC_INTERNAL, NULL, "deriving key %u failed", kid);
    tc_status st = TC_OK;
    pthread_rwlock_wrlock(&kr->lock);
    if (find_locked(kr, kid))
        goto out;
    if (kr->n == TC_KEYRING_MAX) {
        st = tc_failf(err, TC_TOO_LARGE, "key_id", "the keyring holds at most %d keys",
                      TC_KEYRING_MAX);
        goto out;
    }
    kr->entries[kr->n].kid = kid;
    memcpy(kr->entries[kr->n].key, key, KEY_LEN);
    kr->n++;
    if (!kr->active)
        kr->active = kid;
out:
    pthread_rwlock_unlock(&kr->lock);
    OPENSSL_cleanse(key, sizeof(key));
    return st;
}

tc_status tc_keyring_set_active(tc_keyring *kr, tc_kid kid, tc_err *err)
{
    tc_status st = TC_OK;
    pthread_rwlock_wrlock(&kr->lock);
    if (find_locked(kr, kid))
        kr->active = kid;
    else
        st = tc_failf(err, TC_NOT_FOUND, "key_id", "key id %u is not in the keyring", kid);
    pthread_rwlock_unlock(&kr->lock);
    return st;
}

tc_kid tc_keyring_active(tc_keyring *kr)
{
    pthread_rwlock_rdlock(&kr->lock);
    tc_kid kid = kr->active;
    pthread_rwlock_unlock(&kr->lock);
    return kid;
}

bool tc_keyring_has(tc_keyring *kr, tc_kid kid)
{
    pthread_rwlock_rdlock(&kr->lock);
    bool has = find_locked(kr, kid) != NULL;
    pthread_rwlock_unlock(&kr->lock);
    return has;
}

void tc_keyring_set_resolver(tc_keyring *kr, tc_keyring_resolver fn, void *ctx)
{
    pthread_mutex_lock(&kr->rmu);
    kr->resolver = fn;
    kr->resolver_ctx = ctx;
    while (kr->resolving > 0)
        pthread_cond_wait(&kr->rdone, &kr->rmu);
    pthread_mutex_unlock(&kr->rmu);
}

/* Copies the key for *kid into key; false if absent. With use_active, *kid
 * is first set to the active id (read under the same lock). */
static bool key_copy(tc_keyring *kr, bool use_active, tc_kid *kid, unsigned char key[KEY_LEN])
{
    pthread_rwlock_rdlock(&kr->lock);
    if (use_active)
        *kid = kr->active;
    const kr_entry *e = *kid ? find_locked(kr, *kid) : NULL;
    if (e)
        memcpy(key, e->key, KEY_LEN);
    pthread_rwlock_unlock(&kr->lock);
    return e != NULL;
}

static bool key_resolve(tc_keyring *kr, tc_kid kid, unsigned char key[KEY_LEN])
{
    if (kid == 0)
        return false;
    if (key_copy(kr, false, &kid, key))
        return true;
    pthread_mutex_lock(&kr->rmu);
    tc_keyring_resolver fn = kr->resolver;
    void *ctx = kr->resolver_ctx;
    if (fn)
        kr->resolving++;
    pthread_mutex_unlock(&kr->rmu);
    if (!fn)
        return false;
    bool found = fn(ctx, kr, kid);
    pthread_mutex_lock(&kr->rmu);
    if (--kr->resolving == 0)
        pthread_cond_broadcast(&kr->rdone);
    pthread_mutex_unlock(&kr->rmu);
    return found && key_copy(kr, false, &kid, key);
}

tc_status tc_secret_aad(char out[TC_SECRET_AAD_MAX], const char *purpose, const char *row_id)
{
    int n = snprintf(out, TC_SECRET_AAD_MAX, "%s:%s", purpose, row_id ? row_id : "");
    if (n < 0 || n >= TC_SECRET_AAD_MAX) {
        out[0] = '\0';
        return TC_TOO_LARGE;
    }
    return TC_OK;
}

/* Additional authenticated data = 5-byte header || caller aad. */
static int gcm_aad(EVP_CIPHER_CTX *c, const unsigned char *header, const char *aad)
{
    int outl;
    if (EVP_CipherUpdate(c, NULL, &outl, header, HEADER_LEN) != 1)
        return 0;
    size_t alen = aad ? strlen(aad) : 0;
    return !alen || EVP_CipherUpdate(c, NULL, &outl, (const unsigned char *)aad, (int)alen) == 1;
}

static int gcm_seal(const unsigned char key[KEY_LEN], const char *aad, const unsigned char *pt,
                    size_t len, unsigned char *box)
{
    unsigned char *nonce = box + HEADER_LEN, *body = nonce + NONCE_LEN;
    int outl = 0, ok = 0;
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    if (!c)
        return 0;
    if (EVP_EncryptInit_ex(c, EVP_aes_256_gcm(), NULL, key, nonce) != 1 || !gcm_aad(c, box, aad))
        goto out;
    if (len && EVP_EncryptUpdate(c, body, &outl, pt, (int)len) != 1)
        goto out;
    if (EVP_EncryptFinal_ex(c, body + outl, &outl) != 1)
        goto out;
    ok = EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, TAG_LEN, body + len) == 1;
out:
    EVP_CIPHER_CTX_free(c);
    return ok;
}

/* Returns 1 when authentic; pt gets len - overhead bytes. */
static int gcm_open(const unsigned char key[KEY_LEN], const char *aad, const unsigned char *box,
                    size_t len, unsigned char *pt)
{
    const unsigned char *nonce = box + HEADER_LEN, *body = nonce + NONCE_LEN;
    size_t n = len - TC_SECRETBOX_OVERHEAD;
    int outl = 0, ok = 0;
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    if (!c)
        return 0;
    if (EVP_DecryptInit_ex(c, EVP_aes_256_gcm(), NULL, key, nonce) != 1 || !gcm_aad(c, box, aad))
        goto out;
    if (n && EVP_DecryptUpdate(c, pt, &outl, body, (int)n) != 1)
        goto out;
    if (EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, TAG_LEN, (void *)(body + n)) != 1)
        goto out;
    ok = EVP_DecryptFinal_ex(c, pt + outl, &outl) == 1;
out:
    EVP_CIPHER_CTX_free(c);
    return ok;
}

tc_status tc_secretbox_seal(tc_keyring *kr, const char *aad, const void *pt, size_t len,
                            unsigned char **out, size_t *outlen, tc_err *err)
{
    *out = NULL;
    *outlen = 0;
    if (len > TC_SECRETBOX_MAX_PLAINTEXT)
        return tc_failf(err, TC_TOO_LARGE, NULL, "a secret is limited to %u bytes",
                        TC_SECRETBOX_MAX_PLAINTEXT);
    unsigned char key[KEY_LEN];
    tc_kid kid = 0;
    if (!key_copy(kr, true, &kid, key))
        return tc_failc(err, TC_INTERNAL, "secret_no_key", NULL, "the keyring has no active key");
    unsigned char *box = tc_malloc(len + TC_SECRETBOX_OVERHEAD);
    box[0] = TC_SECRETBOX_VERSION;
    put_be32(box + 1, kid);
    tc_random_bytes(box + HEADER_LEN, NONCE_LEN);
    int ok = gcm_seal(key, aad, pt, len, box);
    OPENSSL_cleanse(key, sizeof(key));
    if (!ok) {
        free(box);
        return tc_failc(err, TC_INTERNAL, "secret_crypto", NULL, "encryption failed");
    }
    *out = box;
    *outlen = len + TC_SECRETBOX_OVERHEAD;
    return TC_OK;
}

tc_status tc_secretbox_key_id(const void *ct, size_t len, tc_kid *kid)
{
    const unsigned char *b = ct;
    if (!ct || len < TC_SECRETBOX_OVERHEAD || b[0] != TC_SECRETBOX_VERSION)
        return TC_BAD_REQUEST;
    *kid = get_be32(b + 1);
    return TC_OK;
}

tc_status tc_secretbox_open(tc_keyring *kr, const char *aad, const void *ct, size_t len,
                            unsigned char **pt, size_t *ptlen, tc_err *err)
{
    *pt = NULL;
    *ptlen = 0;
    tc_kid kid;
    if (tc_secretbox_key_id(ct, len, &kid) != TC_OK)
        return tc_failc(err, TC_INTERNAL, "secret_malformed", NULL,
                        "the stored secret is not a version %d secret box", TC_SECRETBOX_VERSION);
    if (len - TC_SECRETBOX_OVERHEAD > TC_SECRETBOX_MAX_PLAINTEXT)
        return tc_failf(err, TC_TOO_LARGE, NULL, "the stored secret is too large");
    unsigned char key[KEY_LEN];
    if (!key_resolve(kr, kid, key))
        return tc_failc(err, TC_INTERNAL, "secret_unknown_key", NULL,
                        "the stored secret uses key id %u, which is not in the keyring", kid);
    size_t n = len - TC_SECRETBOX_OVERHEAD;
    unsigned char *out = tc_malloc(n + 1);
    int ok = gcm_open(key, aad, ct, len, out);
    OPENSSL_cleanse(key, sizeof(key));
    if (!ok) {
        tc_secret_free(out, n + 1);
        return tc_failc(err, TC_INTERNAL, "secret_tampered", NULL,
                        "the stored secret failed authentication: it was altered, or it "
                        "belongs to another row or purpose");
    }
    out[n] = '\0';
    *pt = out;
    *ptlen = n;
    return TC_OK;
}

/* ---- text form: "v1." + base64url ----------------------------------------- */
static const char text_prefix[] = "v1.";
#define TEXT_PREFIX_LEN (sizeof(text_prefix) - 1)
#define TEXT_MAX (TEXT_PREFIX_LEN + (TC_SECRETBOX_MAX_PLAINTEXT + TC_SECRETBOX_OVERHEAD) / 3 * 4 + 4)

tc_status tc_secretbox_seal_text(tc_keyring *kr, const char *aad, const void *pt, size_t len,
                                 char **out, tc_err *err)
{
    unsigned char *box;
    size_t boxlen;
    *out = NULL;
    tc_status st = tc_secretbox_seal(kr, aad, pt, len, &box, &boxlen, err);
    if (st != TC_OK)
        return st;
    char *enc = tc_base64url_encode(box, boxlen);
    free(box);
    *out = tc_asprintf("%s%s", text_prefix, enc);
    free(enc);
    return TC_OK;
}

static tc_status text_decode(const char *text, unsigned char **box, size_t *boxlen)
{
    if (!text || strncmp(text, text_prefix, TEXT_PREFIX_LEN) != 0)
        return TC_BAD_REQUEST;
    size_t n = strnlen(text, TEXT_MAX + 1);
    if (n > TEXT_MAX)
        return TC_TOO_LARGE;
    return tc_base64url_decode(text + TEXT_PREFIX_LEN, n - TEXT_PREFIX_LEN, box, boxlen);
}

tc_status tc_secretbox_open_text(tc_keyring *kr, const char *aad, const char *text,
                                 unsigned char **pt, size_t *ptlen, tc_err *err)
{
    unsigned char *box;
    size_t boxlen;
    *pt = NULL;
    *ptlen = 0;
    if (text_decode(text, &box, &boxlen) != TC_OK)
        return tc_failc(err, TC_INTERNAL, "secret_malformed", NULL,
                        "the stored secret is not in the \"v1.<base64url>\" form");
    tc_status st = tc_secretbox_open(kr, aad, box, boxlen, pt, ptlen, err);
    free(box);
    return st;
}

tc_status tc_secretbox_text_key_id(const char *text, tc_kid *kid)
{
    unsigned char *box;
    size_t boxlen;
    if (text_decode(text, &box, &boxlen) != TC_OK)
        return TC_BAD_REQUEST;
    tc_status st = tc_secretbox_key_id(box, boxlen, kid);
    free(box);
    return st;
}
