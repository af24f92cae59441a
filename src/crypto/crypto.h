/* crypto: hashes, MACs, key derivation, random tokens, PKCE and the secret
 * box that encrypts every credential, token and webhook secret at rest.
 *
 * Everything here is a thin, bounded layer over OpenSSL 3 (libcrypto). The
 * key hierarchy, the ciphertext format and rotation are explained in
 * docs/security.md; keep the two in step. */
#ifndef TC_CRYPTO_H
#define TC_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/core.h"

/* ---- hashes and MACs ------------------------------------------------------ */
#define TC_SHA256_LEN 32

void tc_sha256(const void *p, size_t n, unsigned char out[TC_SHA256_LEN]);
void tc_hmac_sha256(const void *key, size_t klen, const void *p, size_t n,
                    unsigned char out[TC_SHA256_LEN]);
/* HMAC over the concatenation of nparts slices, without building it. */
void tc_hmac_sha256_parts(const void *key, size_t klen, const tc_slice *parts, size_t nparts,
                          unsigned char out[TC_SHA256_LEN]);
/* HKDF-SHA256 (RFC 5869, extract + expand). outlen <= 255 * 32. salt may be
 * NULL/0 (then a zero salt is used, as the RFC says). */
tc_status tc_hkdf_sha256(const void *ikm, size_t ikmlen, const void *salt, size_t saltlen,
                         const void *info, size_t infolen, unsigned char *out, size_t outlen);

/* ---- random tokens and PKCE (RFC 7636) -------------------------------------- */
/* base64url (no padding) of nbytes random bytes, 16 <= nbytes <= 96 (asserted).
 * Use for OAuth state, tickets, nonces. Caller frees. */
char *tc_random_token(size_t nbytes);

#define TC_PKCE_VERIFIER_MIN 43
#define TC_PKCE_VERIFIER_MAX 128
#define TC_PKCE_CHALLENGE_LEN 43  /* base64url of 32 bytes */
/* A fresh code_verifier: base64url of 32 random bytes = 43 characters of the
 * unreserved alphabet. out must hold TC_PKCE_VERIFIER_MAX + 1 bytes. */
void tc_pkce_verifier(char out[TC_PKCE_VERIFIER_MAX + 1]);
/* True when v is 43..128 characters of [A-Za-z0-9-._~]. */
bool tc_pkce_verifier_valid(const char *v);
/* S256 challenge: base64url(SHA-256(ascii verifier)). TC_BAD_REQUEST (with a
 * message naming "code_verifier") when the verifier is invalid. */
tc_status tc_pkce_challenge_s256(const char *verifier, char out[TC_PKCE_CHALLENGE_LEN + 1],
                                 tc_err *err);

/* Overwrites n bytes at p (not optimised away), then frees. NULL is fine.
 * Use for every buffer that held a plaintext secret. */
void tc_secret_free(void *p, size_t n);
/* Same for a NUL-terminated string. */
void tc_secret_free_str(char *s);

/* ---- master key ------------------------------------------------------------- */
#define TC_MASTER_KEY_LEN 32
/* Decodes TC_MASTER_KEY (base64 of exactly 32 bytes). Errors name
 * "TC_MASTER_KEY" and never echo the value. */
tc_status tc_master_key_decode(const char *b64, unsigned char out[TC_MASTER_KEY_LEN], tc_err *err);
/* The master key from the setting when non-empty, else from
 * <data_dir>/master.key (base64, mode 0600). When the file is missing and
 * create is true, 32 random bytes are generated and written there with
 * O_EXCL (a second process racing us reads the winner's file). */
tc_status tc_master_key_load(const char *setting, const char *data_dir, bool create,
                             unsigned char out[TC_MASTER_KEY_LEN], tc_err *err);

/* ---- keyring ------------------------------------------------------------------
 * A master key plus the list of key ids in use, one of them active. The AES
 * key for id k is HKDF-SHA256(master, salt "toolconnect secretbox",
 * info "toolconnect/secretbox/v1/kid:" || be32(k)); key material is derived,
 * never stored. Thread-safe: many threads may seal/open while another adds
 * ids or switches the active one. */
typedef struct tc_keyring tc_keyring;
typedef uint32_t tc_kid;
#define TC_KEYRING_MAX 256

/* Copies the master key. TC_BAD_REQUEST unless len == 32. Caller frees with
 * tc_keyring_free (which wipes every key). */
tc_status tc_keyring_new(const void *master, size_t len, tc_keyring **out, tc_err *err);
void tc_keyring_free(tc_keyring *kr);
/* Registers a key id (0 is reserved). Adding a known id is a no-op (TC_OK).
 * The first id added becomes active. TC_TOO_LARGE past TC_KEYRING_MAX. */
tc_status tc_keyring_add(tc_keyring *kr, tc_kid kid, tc_err *err);
/* TC_NOT_FOUND when kid was never added. */
tc_status tc_keyring_set_active(tc_keyring *kr, tc_kid kid, tc_err *err);
tc_kid tc_keyring_active(tc_keyring *kr);   /* 0 when empty */
bool tc_keyring_has(tc_keyring *kr, tc_kid kid);
/* Called (outside the keyring lock) when tc_secretbox_open meets an unknown
 * key id: return true after registering it (e.g. it was added by a rotation
 * running in another process), false to fail with "secret_unknown_key". */
typedef bool (*tc_keyring_resolver)(void *ctx, tc_keyring *kr, tc_kid kid);
/* Installs (or with NULL removes) the resolver. Returns only when no call of
 * the previous resolver is still running, so its ctx may be freed then. */
void tc_keyring_set_resolver(tc_keyring *kr, tc_keyring_resolver fn, void *ctx);

/* ---- secret box -------------------------------------------------------------
 * AES-256-GCM. Ciphertext layout (all binary):
 *   version (1 byte, 0x01) | key id (4 bytes, big endian) | nonce (12 random
 *   bytes) | encrypted data (same length as the plaintext) | tag (16 bytes)
 * The authenticated data is the 5-byte header followed by the caller's aad
 * string, which binds the ciphertext to its row and purpose; build it with
 * tc_secret_aad ("user_connections.secret:<row id>"). */
#define TC_SECRETBOX_VERSION 1
#define TC_SECRETBOX_OVERHEAD (1 + 4 + 12 + 16)
#define TC_SECRETBOX_MAX_PLAINTEXT (1u << 20)
#define TC_SECRET_AAD_MAX 256

/* "<purpose>:<row id>" into out; TC_TOO_LARGE (asserted in debug) if it
 * does not fit TC_SECRET_AAD_MAX. */
tc_status tc_secret_aad(char out[TC_SECRET_AAD_MAX], const char *purpose, const char *row_id);

/* Seals with the active key. *out (caller frees with free) gets
 * len + TC_SECRETBOX_OVERHEAD bytes. Fails (TC_INTERNAL, "secret_no_key")
 * with no active key, TC_TOO_LARGE past TC_SECRETBOX_MAX_PLAINTEXT. */
tc_status tc_secretbox_seal(tc_keyring *kr, const char *aad, const void *pt, size_t len,
                            unsigned char **out, size_t *outlen, tc_err *err);
/* Opens. *pt (free with tc_secret_free(pt, ptlen)) is NUL-terminated for
 * convenience; ptlen excludes the NUL. Errors, all TC_INTERNAL with a code:
 *   secret_malformed    too short or unknown version byte
 *   secret_unknown_key  key id not in the keyring (and the resolver declined)
 *   secret_tampered     authentication failed: the ciphertext was altered, or
 *                       it belongs to another row/purpose (wrong aad). GCM
 *                       cannot tell these apart, so the message names both. */
tc_status tc_secretbox_open(tc_keyring *kr, const char *aad, const void *ct, size_t len,
                            unsigned char **pt, size_t *ptlen, tc_err *err);
/* The key id inside a ciphertext; TC_BAD_REQUEST when malformed. */
tc_status tc_secretbox_key_id(const void *ct, size_t len, tc_kid *kid);

/* Text forms for TEXT columns: "v1." + base64url(binary ciphertext). */
tc_status tc_secretbox_seal_text(tc_keyring *kr, const char *aad, const void *pt, size_t len,
                                 char **out, tc_err *err);
tc_status tc_secretbox_open_text(tc_keyring *kr, const char *aad, const char *text,
                                 unsigned char **pt, size_t *ptlen, tc_err *err);
tc_status tc_secretbox_text_key_id(const char *text, tc_kid *kid);

#endif
