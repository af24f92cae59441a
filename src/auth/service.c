/* The accounts service: sign-up, login (throttled), refresh rotation with
 * reuse detection, logout, password change, account deletion, and the
 * request authenticator. Repositories: store/repo_accounts.h. */
#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/auth.h"
#include "auth/auth_int.h"
#include "store/repo_accounts.h"

static const char ACCESS_KEY_INFO[] = "toolconnect access-token v1";
static const char BAD_LOGIN[] = "invalid email or password";

static tc_auth *global_auth;

void tc_auth_set_global(tc_auth *a)
{
    __atomic_store_n(&global_auth, a, __ATOMIC_RELEASE);
}

tc_auth *tc_auth_global(void)
{
    return __atomic_load_n(&global_auth, __ATOMIC_ACQUIRE);
}

tc_status tc_auth_new(tc_db *db, const tc_auth_options *o, tc_auth **out, tc_err *err)
{
    *out = NULL;
    if (!o->master_key || o->master_key_len < 32)
        return tc_failf(err, TC_INTERNAL, NULL, "auth: master key missing or short");
    if (o->access_ttl_s < 1 || o->refresh_ttl_s < 1)
        return tc_failf(err, TC_BAD_REQUEST, NULL, "auth: token lifetimes must be positive");
    const char *iss = (o->issuer && *o->issuer) ? o->issuer : "toolconnect";
    if (strlen(iss) >= TC_AUTH_ISS_MAX)
        return tc_failf(err, TC_BAD_REQUEST, "TC_PUBLIC_URL", "issuer longer than %d bytes",
                        TC_AUTH_ISS_MAX - 1);
    tc_auth *a = tc_calloc(1, sizeof *a);
    a->db = db;
    snprintf(a->issuer, sizeof a->issuer, "%s", iss);
    a->access_ttl_s = o->access_ttl_s;
    a->refresh_ttl_s = o->refresh_ttl_s;
    if (tc_auth_derive_key(o->master_key, o->master_key_len, ACCESS_KEY_INFO, a->jwt_key) !=
        TC_OK) {
        tc_free(a);
        return tc_failf(err, TC_INTERNAL, NULL, "auth: key derivation failed");
    }
    pthread_mutex_init(&a->dummy_lock, NULL);
    if (tc_db_kind_of(db) == TC_DB_SQLITE)
        a->cache = tc_auth__cache_new(TC_AUTH_CACHE_TTL_MS);
    /* argon2 allocates 19 MiB per hash. glibc's dynamic mmap threshold would
     * move such blocks onto the heap after the first free and keep them
     * resident (idle RSS grew from 17 to 56 MB after a few logins); a fixed
     * threshold makes them mmap'd and returned at once. Process-wide, and
     * harmless for everything else. */
    mallopt(M_MMAP_THRESHOLD, 1 << 20);
    *out = a;
    return TC_OK;
}

void tc_auth_free(tc_auth *a)
{
    if (!a)
        return;
    tc_auth__wipe(a->jwt_key, sizeof a->jwt_key);
    tc_auth__cache_free(a->cache);
    pthread_mutex_destroy(&a->dummy_lock);
    tc_free(a->dummy_hash);
    tc_free(a);
}

void tc_auth_tokens_clear(tc_auth_tokens *t)
{
    if (t->access_token)
        tc_auth__wipe(t->access_token, strlen(t->access_token));
    tc_free(t->access_token);
    tc_auth__wipe(t, sizeof *t);
}

void tc_auth__user_from_repo(const tc_repo_user *u, tc_auth_user *out)
{
    snprintf(out->id, sizeof out->id, "%s", u->id);
    snprintf(out->email, sizeof out->email, "%s", u->email);
    out->created_at = u->created_at;
    out->is_admin = u->is_admin;
}

/* ---- sessions and tokens ---------------------------------------------------- */

tc_status tc_auth__issue_access(tc_auth *a, const char *user_id, const char *session_id,
                                tc_auth_tokens *out)
{
    tc_jwt_claims c;
    memset(&c, 0, sizeof c);
    snprintf(c.sub, sizeof c.sub, "%s", user_id);
    snprintf(c.sid, sizeof c.sid, "%s", session_id);
    tc_uuid(c.jti);
    snprintf(c.iss, sizeof c.iss, "%s", a->issuer);
    c.iat = tc_now_ms() / 1000;
    c.exp = c.iat + a->access_ttl_s;
    out->expires_in = a->access_ttl_s;
    if (session_id != out->session_id) /* callers may pass out->session_id itself */
        snprintf(out->session_id, sizeof out->session_id, "%s", session_id);
    return tc_auth_jwt_sign(a->jwt_key, &c, &out->access_token);
}

/* New refresh token for the session (inside the caller's transaction). */
static tc_status add_refresh(tc_auth *a, tc_db_conn *c, const char *user_id,
                             const char *session_id, int64_t now, tc_auth_tokens *out,
                             tc_err *err)
{
    char hash[TC_AUTH_HASH_HEX_LEN + 1];
    tc_auth_refresh_token_new(out->refresh_token);
    tc_auth_token_hash(out->refresh_token, hash);
    return tc_repo_refresh_insert(c, user_id, session_id, hash, now,
                                  now + a->refresh_ttl_s * 1000, err);
}

/* Copies an untrusted header value for display: printable ASCII only (other
 * bytes become '?'), truncated to cap - 1. Header bytes need not be UTF-8,
 * and the sessions list must always be valid JSON. */
static void copy_printable(char *dst, size_t cap, const char *src)
{
    size_t i = 0;
    for (; src && src[i] && i + 1 < cap; i++)
        dst[i] = (src[i] >= 0x20 && src[i] < 0x7f) ? src[i] : '?';
    dst[i] = '\0';
}

/* A new session (refresh-token family) with its first refresh token. */
static tc_status open_session(tc_auth *a, tc_db_conn *c, const char *user_id,
                              const tc_auth_client *cl, int64_t now, tc_auth_tokens *out,
                              tc_err *err)
{
    tc_repo_session s;
    memset(&s, 0, sizeof s);
    tc_uuid(s.id);
    s.created_at = now;
    s.expires_at = now + a->refresh_ttl_s * 1000;
    if (cl) {
        copy_printable(s.user_agent, sizeof s.user_agent, cl->user_agent);
        copy_printable(s.ip, sizeof s.ip, cl->addr);
    }
    tc_status st = tc_repo_session_insert(c, user_id, &s, err);
    if (st == TC_OK)
        st = add_refresh(a, c, user_id, s.id, now, out, err);
    snprintf(out->session_id, sizeof out->session_id, "%s", s.id);
    return st;
}

/* ---- sign-up ------------------------------------------------------------------ */

static tc_status signup_tx(tc_auth *a, tc_db_conn *c, tc_repo_user *u, const tc_auth_client *cl,
                           tc_auth_tokens *out, tc_err *err)
{
    int64_t now = tc_now_ms();
    bool won = false;
    tc_status st = tc_db_begin(c, err);
    if (st != TC_OK)
        return st;
    /* The admin decision and the insert share one transaction: a failed
     * insert (e-mail taken) also gives the claim back. */
    st = tc_repo_admin_claim(c, u->id, now, &won, err);
    if (st != TC_OK)
        goto fail;
    u->is_admin = won;
    u->created_at = now;
    st = tc_repo_user_insert(c, u, now, err);
    if (st != TC_OK)
        goto fail;
    st = open_session(a, c, u->id, cl, now, out, err);
    if (st != TC_OK)
        goto fail;
    return tc_db_commit(c, err);
fail:
    tc_db_rollback(c);
    return st;
}

tc_status tc_auth_signup(tc_auth *a, const char *email, const char *password,
                         const tc_auth_client *cl, tc_auth_tokens *out, tc_err *err)
{
    tc_repo_user u;
    char *hash = NULL;
    memset(&u, 0, sizeof u);
    memset(out, 0, sizeof *out);
    tc_status st = tc_auth_email_normalize(email, u.email, err);
    if (st == TC_OK)
        st = tc_auth_password_policy(password, "password", err);
    if (st == TC_OK) /* argon2 runs before any connection is held */
        st = tc_auth_password_hash(password, &hash, err);
    if (st != TC_OK)
        goto out;
    tc_uuid(u.id);
    snprintf(u.password_hash, sizeof u.password_hash, "%s", hash);
    tc_db_conn *c = tc_db_acquire(a->db);
    st = signup_tx(a, c, &u, cl, out, err);
    tc_db_release(c);
    if (st != TC_OK)
        goto out;
    tc_auth__user_from_repo(&u, &out->user);
    st = tc_auth__issue_access(a, u.id, out->session_id, out);
    tc_log(TC_LOG_INFO, "user signed up", "user_id", u.id, "is_admin", u.is_admin ? "1" : "0",
           NULL);
out:
    tc_free(hash);
    if (st != TC_OK)
        tc_auth_tokens_clear(out);
    return st;
}

/* ---- login -------------------------------------------------------------------- */

/* The hash verified for unknown e-mails, so both paths cost one argon2 run.
 * Made on first need (not at start-up: start-to-ready stays fast). */
static const char *dummy_hash(tc_auth *a)
{
    pthread_mutex_lock(&a->dummy_lock);
    if (!a->dummy_hash) {
        unsigned char raw[24];
        tc_random_bytes(raw, sizeof raw);
        char *pw = tc_base64url_encode(raw, sizeof raw);
        if (tc_auth_password_hash(pw, &a->dummy_hash, NULL) != TC_OK)
            a->dummy_hash = NULL;
        tc_free(pw);
    }
    pthread_mutex_unlock(&a->dummy_lock);
    return a->dummy_hash;
}

/* Records the attempt (throttled) and loads the user. No transaction on
 * purpose: see throttle.c. */
static tc_status login_begin(tc_auth *a, const char *email, const char *addr, char attempt[37],
                             tc_repo_user *u, bool *found, int64_t *retry_after_s, tc_err *err)
{
    tc_db_conn *c = tc_db_acquire(a->db);
    tc_status st = tc_auth__attempt_begin(c, email, addr, attempt, retry_after_s, err);
    if (st == TC_OK) {
        st = tc_repo_user_by_email(c, email, u, err);
        *found = st == TC_OK;
        if (st == TC_NOT_FOUND)
            st = TC_OK;
    }
    tc_db_release(c);
    return st;
}

/* Revoked or expired sessions are kept this long (visible to nobody, but
 * handy for investigating a reuse alarm), then deleted at the user's next
 * login together with their refresh tokens. */
#define SESSION_KEEP_MS (7LL * 24 * 3600 * 1000)

static tc_status login_session(tc_auth *a, const tc_repo_user *u, const char *attempt,
                               const tc_auth_client *cl, tc_auth_tokens *out, tc_err *err)
{
    tc_db_conn *c = tc_db_acquire(a->db);
    int64_t now = tc_now_ms();
    tc_status st = tc_db_begin(c, err);
    if (st == TC_OK)
        st = tc_auth__attempt_succeeded(c, u->email, attempt, err);
    if (st == TC_OK)
        st = tc_repo_session_prune(c, u->id, now - SESSION_KEEP_MS, now, err);
    if (st == TC_OK)
        st = open_session(a, c, u->id, cl, now, out, err);
    if (st == TC_OK)
        st = tc_db_commit(c, err);
    else
        tc_db_rollback(c);
    tc_db_release(c);
    return st;
}

/* Upgrades a hash made with older parameters, best effort: a failure is
 * logged and the login goes on (the old hash still verifies). */
static void rehash_if_needed(tc_auth *a, const tc_repo_user *u, const char *password)
{
    char *hash = NULL;
    tc_err err;
    if (!tc_auth_password_needs_rehash(u->password_hash))
        return;
    if (tc_auth_password_hash(password, &hash, &err) == TC_OK) {
        tc_db_conn *c = tc_db_acquire(a->db);
        tc_repo_user_set_password(c, u->id, hash, tc_now_ms(), &err);
        tc_db_release(c);
        tc_log(TC_LOG_INFO, "password re-hashed with current parameters", "user_id", u->id, NULL);
    }
    tc_free(hash);
}

tc_status tc_auth_login(tc_auth *a, const char *email, const char *password,
                        const tc_auth_client *cl, tc_auth_tokens *out, int64_t *retry_after_s,
                        tc_err *err)
{
    char norm[TC_AUTH_EMAIL_MAX + 1];
    tc_repo_user u;
    bool found = false;
    const char *addr = cl ? cl->addr : NULL;
    memset(out, 0, sizeof *out);
    memset(&u, 0, sizeof u);
    if (!password || !*password)
        return tc_failf(err, TC_VALIDATION, "password", "password is required");
    if (strnlen(password, TC_AUTH_PASSWORD_MAX + 1) > TC_AUTH_PASSWORD_MAX)
        return tc_failf(err, TC_VALIDATION, "password", "password must be at most %d bytes",
                        TC_AUTH_PASSWORD_MAX);
    tc_status st = tc_auth_email_normalize(email, norm, err);
    if (st != TC_OK)
        return st;
    char attempt[37];
    st = login_begin(a, norm, addr, attempt, &u, &found, retry_after_s, err);
    if (st != TC_OK)
        return st;
    const char *hash = found ? u.password_hash : dummy_hash(a);
    bool ok = tc_auth_password_verify(hash, password) && found;
    if (!ok) { /* the attempt already counts as a failure */
        tc_log(TC_LOG_INFO, "login failed", "user_id", found ? u.id : "-", NULL);
        return tc_failc(err, TC_UNAUTHORIZED, "invalid_credentials", NULL, "%s", BAD_LOGIN);
    }
    rehash_if_needed(a, &u, password);
    st = login_session(a, &u, attempt, cl, out, err);
    if (st == TC_OK)
        st = tc_auth__issue_access(a, u.id, out->session_id, out);
    if (st != TC_OK) {
        tc_auth_tokens_clear(out);
        return st;
    }
    tc_auth__user_from_repo(&u, &out->user);
    return TC_OK;
}
