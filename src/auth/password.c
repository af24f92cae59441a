/* Passwords (argon2id through libargon2) and e-mail normalization. */
#include <argon2.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/auth.h"

/* OWASP Password Storage Cheat Sheet, argon2id option 2: m = 19 MiB, t = 2,
 * p = 1. docs/auth.md explains the choice. Atomics only so the test-only
 * setter stays race-free under the sanitizers. */
#define ARGON2_T_DEFAULT 2
#define ARGON2_M_KIB_DEFAULT (19 * 1024)
#define ARGON2_P 1
#define ARGON2_SALT_LEN 16
#define ARGON2_HASH_LEN 32
#define ARGON2_ENCODED_MAX 160

static _Atomic uint32_t cost_t = ARGON2_T_DEFAULT;
static _Atomic uint32_t cost_m_kib = ARGON2_M_KIB_DEFAULT;

void tc_auth__set_password_cost(uint32_t t_cost, uint32_t m_kib)
{
    atomic_store(&cost_t, t_cost < 1 ? 1 : t_cost);
    atomic_store(&cost_m_kib, m_kib < 8 ? 8 : m_kib);
}

tc_status tc_auth_password_policy(const char *pw, const char *field, tc_err *err)
{
    if (!pw)
        return tc_failf(err, TC_VALIDATION, field, "%s is required", field);
    size_t n = strnlen(pw, TC_AUTH_PASSWORD_MAX + 1);
    if (n < TC_AUTH_PASSWORD_MIN)
        return tc_failf(err, TC_VALIDATION, field, "%s must be at least %d characters", field,
                        TC_AUTH_PASSWORD_MIN);
    if (n > TC_AUTH_PASSWORD_MAX)
        return tc_failf(err, TC_VALIDATION, field, "%s must be at most %d bytes", field,
                        TC_AUTH_PASSWORD_MAX);
    if (!tc_utf8_valid(pw, n))
        return tc_failf(err, TC_VALIDATION, field, "%s must be valid UTF-8", field);
    return TC_OK;
}

tc_status tc_auth_password_hash(const char *pw, char **encoded, tc_err *err)
{
    unsigned char salt[ARGON2_SALT_LEN];
    char buf[ARGON2_ENCODED_MAX];
    uint32_t t = atomic_load(&cost_t), m = atomic_load(&cost_m_kib);

    *encoded = NULL;
    tc_random_bytes(salt, sizeof salt);
    int rc = argon2id_hash_encoded(t, m, ARGON2_P, pw, strlen(pw), salt, sizeof salt,
                                   ARGON2_HASH_LEN, buf, sizeof buf);
    if (rc != ARGON2_OK)
        return tc_failf(err, TC_INTERNAL, NULL, "password hashing failed: %s",
                        argon2_error_message(rc));
    *encoded = tc_strdup(buf);
    return TC_OK;
}

bool tc_auth_password_verify(const char *encoded, const char *pw)
{
    if (!encoded || !pw || strncmp(encoded, "$argon2id$", 10) != 0)
        return false;
    return argon2id_verify(encoded, pw, strlen(pw)) == ARGON2_OK;
}

bool tc_auth_password_needs_rehash(const char *encoded)
{
    char want[64];
    snprintf(want, sizeof want, "$argon2id$v=19$m=%u,t=%u,p=%u$", (unsigned)atomic_load(&cost_m_kib),
             (unsigned)atomic_load(&cost_t), (unsigned)ARGON2_P);
    return !encoded || strncmp(encoded, want, strlen(want)) != 0;
}

/* ---- e-mail ---------------------------------------------------------------- */

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/* Basic shape only: deliverability is the mail system's business. */
static bool domain_ok(const char *d)
{
    size_t n = strlen(d);
    if (n < 3 || d[0] == '.' || d[n - 1] == '.' || d[0] == '-' || !strchr(d, '.'))
        return false;
    return strstr(d, "..") == NULL;
}

static bool chars_ok(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= 0x20 || c == 0x7f || c == '"' || c == '(' || c == ')' || c == ',' ||
            c == ':' || c == ';' || c == '<' || c == '>' || c == '[' || c == ']' || c == '\\')
            return false;
    }
    return true;
}

tc_status tc_auth_email_normalize(const char *in, char out[TC_AUTH_EMAIL_MAX + 1], tc_err *err)
{
    out[0] = '\0';
    if (!in)
        return tc_failf(err, TC_VALIDATION, "email", "email is required");
    size_t n = strnlen(in, 4096);
    while (n > 0 && is_space(*in)) {
        in++;
        n--;
    }
    while (n > 0 && is_space(in[n - 1]))
        n--;
    if (n == 0)
        return tc_failf(err, TC_VALIDATION, "email", "email is required");
    if (n > TC_AUTH_EMAIL_MAX)
        return tc_failf(err, TC_VALIDATION, "email", "email must be at most %d characters",
                        TC_AUTH_EMAIL_MAX);
    if (!tc_utf8_valid(in, n) || !chars_ok(in, n))
        return tc_failf(err, TC_VALIDATION, "email", "email contains invalid characters");
    for (size_t i = 0; i < n; i++)
        out[i] = (in[i] >= 'A' && in[i] <= 'Z') ? (char)(in[i] - 'A' + 'a') : in[i];
    out[n] = '\0';
    char *at = strchr(out, '@');
    if (!at || at == out || strchr(at + 1, '@') || at - out > 64 || !domain_ok(at + 1)) {
        out[0] = '\0';
        return tc_failf(err, TC_VALIDATION, "email", "email is not a valid address");
    }
    return TC_OK;
}
