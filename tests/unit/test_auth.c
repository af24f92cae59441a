/* Unit tests for src/auth: passwords, e-mail, key derivation, JWT, tokens. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth/auth.h"
#include "runner.h"

static void test_key(unsigned char key[32])
{
    static const unsigned char master[32] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
    ASSERT_OK(tc_auth_derive_key(master, sizeof master, "toolconnect access-token v1", key));
}

static void sample_claims(tc_jwt_claims *c, int64_t now)
{
    memset(c, 0, sizeof *c);
    tc_uuid(c->sub);
    tc_uuid(c->sid);
    tc_uuid(c->jti);
    strcpy(c->iss, "http://127.0.0.1:8080");
    c->iat = now;
    c->exp = now + 900;
}

/* Replaces the payload segment of a signed token with base64url(json) and
 * re-signs nothing: used to prove tampering is detected. */
static char *with_payload(const char *tok, const char *json)
{
    const char *d1 = strchr(tok, '.');
    const char *d2 = strchr(d1 + 1, '.');
    char *p = tc_base64url_encode(json, strlen(json));
    char *out = tc_asprintf("%.*s.%s%s", (int)(d1 - tok), tok, p, d2);
    free(p);
    return out;
}

TEST(derive_key_is_deterministic_and_info_bound)
{
    unsigned char a[32], b[32], c[32];
    static const unsigned char master[32] = {9};
    ASSERT_OK(tc_auth_derive_key(master, 32, "one", a));
    ASSERT_OK(tc_auth_derive_key(master, 32, "one", b));
    ASSERT_OK(tc_auth_derive_key(master, 32, "two", c));
    ASSERT(memcmp(a, b, 32) == 0);
    ASSERT(memcmp(a, c, 32) != 0);
}

/* One signed token for the JWT tests: a derived key, sample claims issued
 * at 1800000000 and their token (freed by jwt_end). */
typedef struct {
    unsigned char key[32];
    tc_jwt_claims c;
    tc_jwt_claims got;
    char *tok;
    tc_err err;
} jwt_case;

static void jwt_sign(jwt_case *j)
{
    free(j->tok);
    j->tok = NULL;
    ASSERT_OK(tc_auth_jwt_sign(j->key, &j->c, &j->tok));
}

static void jwt_begin(jwt_case *j)
{
    memset(j, 0, sizeof *j);
    test_key(j->key);
    sample_claims(&j->c, 1800000000);
    jwt_sign(j);
}

/* Verifies tok against iss at time now, into j->got and j->err. */
static tc_status jwt_check(jwt_case *j, const char *tok, const char *iss, int64_t now)
{
    return tc_auth_jwt_verify(j->key, tok, strlen(tok), iss, now, &j->got, &j->err);
}

static void jwt_end(jwt_case *j)
{
    free(j->tok);
    j->tok = NULL;
}

TEST(jwt_sign_verify_roundtrip)
{
    jwt_case j;
    jwt_begin(&j);
    ASSERT(strncmp(j.tok, "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.", 37) == 0);
    ASSERT_OK(jwt_check(&j, j.tok, j.c.iss, j.c.iat + 10));
    ASSERT_STR_EQ(j.got.sub, j.c.sub);
    ASSERT_STR_EQ(j.got.sid, j.c.sid);
    ASSERT_STR_EQ(j.got.jti, j.c.jti);
    ASSERT_EQ(j.got.exp, j.c.exp);
    ASSERT_EQ(j.got.iat, j.c.iat);
    jwt_end(&j);
}

TEST(jwt_issuer_with_escapes_roundtrips)
{
    jwt_case j;
    jwt_begin(&j);
    strcpy(j.c.iss, "https://x.test/a\"b\\c/\u00e9");
    jwt_sign(&j);
    ASSERT_OK(jwt_check(&j, j.tok, j.c.iss, j.c.iat));
    ASSERT_STR_EQ(j.got.iss, j.c.iss);
    ASSERT_STR_EQ(j.got.sub, j.c.sub);
    ASSERT_EQ(j.got.exp, j.c.exp);
    jwt_end(&j);
}

TEST(jwt_tampered_signature_rejected)
{
    jwt_case j;
    jwt_begin(&j);
    size_t n = strlen(j.tok);
    /* flip the last signature character, including its low (padding) bits */
    j.tok[n - 1] = j.tok[n - 1] == 'A' ? 'B' : 'A';
    ASSERT_STATUS(jwt_check(&j, j.tok, j.c.iss, j.c.iat), TC_UNAUTHORIZED);
    ASSERT_STR_EQ(tc_err_code(&j.err), "invalid_token");
    ASSERT_STR_CONTAINS(j.err.message, "signature");

    /* a payload swapped under the old signature */
    jwt_sign(&j);
    char *forged = with_payload(j.tok, "{\"sub\":\"00000000-0000-4000-8000-000000000000\"}");
    ASSERT_STATUS(jwt_check(&j, forged, j.c.iss, j.c.iat), TC_UNAUTHORIZED);
    free(forged);

    /* another key */
    j.key[0] ^= 1;
    ASSERT_STATUS(jwt_check(&j, j.tok, j.c.iss, j.c.iat), TC_UNAUTHORIZED);
    jwt_end(&j);
}

TEST(jwt_alg_none_and_other_headers_rejected)
{
    jwt_case j;
    jwt_begin(&j);
    const char *payload = strchr(j.tok, '.') + 1;
    size_t plen = (size_t)(strrchr(j.tok, '.') - payload);
    static const char *headers[] = {
        "{\"alg\":\"none\",\"typ\":\"JWT\"}",
        "{\"alg\":\"HS512\",\"typ\":\"JWT\"}",
        "{\"alg\":\"RS256\",\"typ\":\"JWT\"}",
        "{\"typ\":\"JWT\",\"alg\":\"HS256\"}",
        "{\"alg\":\"HS256\",\"typ\":\"JWT\",\"kid\":\"x\"}",
    };
    for (size_t i = 0; i < sizeof headers / sizeof headers[0]; i++) {
        char *h = tc_base64url_encode(headers[i], strlen(headers[i]));
        char *forged = tc_asprintf("%s.%.*s.", h, (int)plen, payload);
        ASSERT_STATUS(jwt_check(&j, forged, j.c.iss, j.c.iat), TC_UNAUTHORIZED);
        ASSERT_STR_CONTAINS(j.err.message, "header");
        free(forged);
        /* alg none with the real signature appended must also fail */
        forged = tc_asprintf("%s.%s", h, payload);
        ASSERT_STATUS(jwt_check(&j, forged, j.c.iss, j.c.iat), TC_UNAUTHORIZED);
        free(forged);
        free(h);
    }
    jwt_end(&j);
}

TEST(jwt_expired_and_future_rejected)
{
    jwt_case j;
    jwt_begin(&j);
    ASSERT_STATUS(jwt_check(&j, j.tok, j.c.iss, j.c.exp), TC_UNAUTHORIZED);
    ASSERT_STR_EQ(tc_err_code(&j.err), "token_expired");
    ASSERT_STATUS(jwt_check(&j, j.tok, j.c.iss, j.c.exp + 5000), TC_UNAUTHORIZED);
    /* issued more than the allowed skew in the future */
    ASSERT_STATUS(jwt_check(&j, j.tok, j.c.iss, j.c.iat - 120), TC_UNAUTHORIZED);
    ASSERT_STR_CONTAINS(j.err.message, "future");
    jwt_end(&j);
}

TEST(jwt_wrong_issuer_rejected)
{
    jwt_case j;
    jwt_begin(&j);
    ASSERT_STATUS(jwt_check(&j, j.tok, "https://evil.example", j.c.iat), TC_UNAUTHORIZED);
    ASSERT_STR_CONTAINS(j.err.message, "issuer");
    jwt_end(&j);
}

TEST(jwt_malformed_inputs_rejected)
{
    unsigned char key[32];
    test_key(key);
    tc_jwt_claims got;
    tc_err err;
    static const char *bad[] = {"", ".", "..", "a.b.c", "a.b", "a.b.c.d",
                                "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9..",
                                "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.!!!.x"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ASSERT_STATUS(tc_auth_jwt_verify(key, bad[i], strlen(bad[i]), "i", 1, &got, &err),
                      TC_UNAUTHORIZED);
    char *huge = malloc(TC_AUTH_TOKEN_MAX + 10);
    memset(huge, 'a', TC_AUTH_TOKEN_MAX + 9);
    huge[TC_AUTH_TOKEN_MAX + 9] = '\0';
    ASSERT_STATUS(tc_auth_jwt_verify(key, huge, strlen(huge), "i", 1, &got, &err),
                  TC_UNAUTHORIZED);
    free(huge);

    /* correctly signed but with claims of the wrong type */
    tc_jwt_claims c;
    sample_claims(&c, 1800000000);
    strcpy(c.sub, "not-a-uuid");
    char *tok = NULL;
    ASSERT_OK(tc_auth_jwt_sign(key, &c, &tok));
    ASSERT_STATUS(tc_auth_jwt_verify(key, tok, strlen(tok), c.iss, c.iat, &got, &err),
                  TC_UNAUTHORIZED);
    free(tok);
}

TEST(password_hash_and_verify)
{
    tc_auth__set_password_cost(1, 64);
    char *enc = NULL;
    tc_err err;
    ASSERT_OK(tc_auth_password_hash("correct horse battery", &enc, &err));
    ASSERT(strncmp(enc, "$argon2id$v=19$m=64,t=1,p=1$", 28) == 0);
    ASSERT_TRUE(tc_auth_password_verify(enc, "correct horse battery"));
    ASSERT_FALSE(tc_auth_password_verify(enc, "correct horse batterY"));
    ASSERT_FALSE(tc_auth_password_verify(enc, ""));
    ASSERT_FALSE(tc_auth_password_verify("garbage", "correct horse battery"));
    ASSERT_FALSE(tc_auth_password_verify(NULL, "x"));
    char *enc2 = NULL;
    ASSERT_OK(tc_auth_password_hash("correct horse battery", &enc2, &err));
    ASSERT(strcmp(enc, enc2) != 0); /* fresh salt each time */
    free(enc);
    free(enc2);
}

TEST(password_default_cost_is_owasp)
{
    char *enc = NULL;
    tc_err err;
    ASSERT_OK(tc_auth_password_hash("correct horse battery", &enc, &err));
    ASSERT(strncmp(enc, "$argon2id$v=19$m=19456,t=2,p=1$", 31) == 0);
    ASSERT_TRUE(tc_auth_password_verify(enc, "correct horse battery"));
    free(enc);
}

TEST(password_policy)
{
    tc_err err;
    ASSERT_STATUS(tc_auth_password_policy("short", "password", &err), TC_VALIDATION);
    ASSERT_STR_EQ(err.field, "password");
    ASSERT_STATUS(tc_auth_password_policy(NULL, "new_password", &err), TC_VALIDATION);
    ASSERT_STR_EQ(err.field, "new_password");
    ASSERT_OK(tc_auth_password_policy("12345678", "password", &err));
    char *big = malloc(TC_AUTH_PASSWORD_MAX + 2);
    memset(big, 'x', TC_AUTH_PASSWORD_MAX + 1);
    big[TC_AUTH_PASSWORD_MAX + 1] = '\0';
    ASSERT_STATUS(tc_auth_password_policy(big, "password", &err), TC_VALIDATION);
    big[TC_AUTH_PASSWORD_MAX] = '\0';
    ASSERT_OK(tc_auth_password_policy(big, "password", &err));
    free(big);
    ASSERT_STATUS(tc_auth_password_policy("abcdefg\xff", "password", &err), TC_VALIDATION);
}

TEST(email_normalization)
{
    char out[TC_AUTH_EMAIL_MAX + 1];
    tc_err err;
    ASSERT_OK(tc_auth_email_normalize("  Alice.Smith+x@Example.COM \t", out, &err));
    ASSERT_STR_EQ(out, "alice.smith+x@example.com");
    static const char *bad[] = {"", "   ", "alice", "@example.com", "alice@", "alice@com",
                                "a@b@example.com", "al ice@example.com", "alice@.example.com",
                                "alice@example..com", "alice@example.com.", "a<b>@example.com",
                                "al\x01ice@example.com", "alice@exam\xffple.com"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        tc_err_clear(&err);
        ASSERT_STATUS(tc_auth_email_normalize(bad[i], out, &err), TC_VALIDATION);
        ASSERT_STR_EQ(err.field, "email");
    }
    char longmail[300];
    memset(longmail, 'a', sizeof longmail);
    memcpy(longmail + 250, "@example.com", 13);
    ASSERT_STATUS(tc_auth_email_normalize(longmail, out, &err), TC_VALIDATION);
    ASSERT_STR_CONTAINS(err.message, "254");
}

TEST(refresh_token_and_hash)
{
    char a[TC_AUTH_REFRESH_LEN + 1], b[TC_AUTH_REFRESH_LEN + 1];
    tc_auth_refresh_token_new(a);
    tc_auth_refresh_token_new(b);
    ASSERT_EQ(strlen(a), TC_AUTH_REFRESH_LEN);
    ASSERT(strcmp(a, b) != 0);
    char h1[65], h2[65], h3[65];
    tc_auth_token_hash(a, h1);
    tc_auth_token_hash(a, h2);
    tc_auth_token_hash(b, h3);
    ASSERT_EQ(strlen(h1), 64);
    ASSERT_STR_EQ(h1, h2);
    ASSERT(strcmp(h1, h3) != 0);
    /* known answer: SHA-256("abc") */
    tc_auth_token_hash("abc", h1);
    ASSERT_STR_EQ(h1, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(api_key_format)
{
    char key[TC_AUTH_API_KEY_LEN + 1], prefix[TC_AUTH_API_KEY_PREFIX_LEN + 1];
    tc_auth_api_key_new(key, prefix);
    ASSERT_EQ(strlen(key), TC_AUTH_API_KEY_LEN);
    ASSERT(strncmp(key, "tc_", 3) == 0);
    ASSERT(strncmp(key, prefix, TC_AUTH_API_KEY_PREFIX_LEN) == 0);
    ASSERT_EQ(strlen(prefix), TC_AUTH_API_KEY_PREFIX_LEN);
    ASSERT_TRUE(tc_auth_api_key_shape_ok(key, strlen(key)));
    ASSERT_FALSE(tc_auth_api_key_shape_ok(key, strlen(key) - 1));
    key[10] = '.';
    ASSERT_FALSE(tc_auth_api_key_shape_ok(key, strlen(key)));
}

/* ---- the service on a real SQLite database ---------------------------------- */

static tc_db *svc_db;
static char pg_schema[64];

/* One statement on the PostgreSQL server itself (schema set-up). */
static void pg_admin(const char *base, const char *sql)
{
    tc_db *db = NULL;
    tc_err err;
    tc_err_clear(&err);
    if (tc_db_open(base, 1, &db, &err) != TC_OK)
        tc_test_fail(__FILE__, __LINE__, "open %s: %s", base, err.message);
    tc_db_conn *c = tc_db_acquire(db);
    tc_status st = tc_db_exec(c, sql, NULL, 0, NULL, &err);
    tc_db_release(c);
    tc_db_close(db);
    if (st != TC_OK)
        tc_test_fail(__FILE__, __LINE__, "%s: %s", sql, err.message);
}

/* SQLite in the test's temp dir; with TC_TEST_PG_URL (ctest unit.auth.postgres)
 * a fresh schema of that server, so each test starts from an empty instance. */
static char *svc_url(void)
{
    const char *base = getenv("TC_TEST_PG_URL");
    if (!base || !*base)
        return tc_asprintf("sqlite:%s/auth.db", tc_test_tmpdir());
    char id[37];
    tc_uuid(id);
    snprintf(pg_schema, sizeof pg_schema, "auth_%.8s", id);
    char *sql = tc_asprintf("CREATE SCHEMA %s", pg_schema);
    pg_admin(base, sql);
    free(sql);
    return tc_asprintf("%s%soptions=-csearch_path%%3D%s", base, strchr(base, '?') ? "&" : "?",
                       pg_schema);
}

static tc_auth *svc_new(int64_t access_ttl)
{
    static const unsigned char master[32] = {7, 7, 7};
    tc_err err;
    tc_err_clear(&err);
    tc_auth__set_password_cost(1, 64);
    char *url = svc_url();
    if (tc_db_open(url, 2, &svc_db, &err) != TC_OK)
        tc_test_fail(__FILE__, __LINE__, "open: %s", err.message);
    free(url);
    if (tc_db_migrate(svc_db, &err) != TC_OK)
        tc_test_fail(__FILE__, __LINE__, "migrate: %s", err.message);
    tc_auth_options o = {.master_key = master,
                         .master_key_len = 32,
                         .issuer = "http://test",
                         .access_ttl_s = access_ttl,
                         .refresh_ttl_s = 3600};
    tc_auth *a = NULL;
    ASSERT_OK(tc_auth_new(svc_db, &o, &a, &err));
    return a;
}

static void svc_free(tc_auth *a)
{
    tc_auth_free(a);
    tc_db_close(svc_db);
    const char *base = getenv("TC_TEST_PG_URL");
    if (base && *base && pg_schema[0]) {
        char *sql = tc_asprintf("DROP SCHEMA %s CASCADE", pg_schema);
        pg_admin(base, sql);
        free(sql);
    }
}

static char *bearer(const char *tok)
{
    return tc_asprintf("Bearer %s", tok);
}

static tc_status auth_with(tc_auth *a, const char *tok, tc_auth_principal *p, tc_err *err)
{
    char *h = bearer(tok);
    tc_status st = tc_auth_authenticate(a, h, p, err);
    free(h);
    return st;
}

TEST(svc_signup_first_admin_and_duplicates)
{
    tc_auth *a = svc_new(900);
    tc_auth_tokens t1, t2, t3;
    tc_err err;
    tc_auth_client cl = {.addr = "127.0.0.1", .user_agent = "unit"};
    ASSERT_OK(tc_auth_signup(a, " Alice@Example.com ", "password-1", &cl, &t1, &err));
    ASSERT_TRUE(t1.user.is_admin);
    ASSERT_STR_EQ(t1.user.email, "alice@example.com");
    ASSERT_OK(tc_auth_signup(a, "bob@example.com", "password-2", &cl, &t2, &err));
    ASSERT_FALSE(t2.user.is_admin);
    ASSERT_STATUS(tc_auth_signup(a, "ALICE@example.com", "password-3", &cl, &t3, &err),
                  TC_CONFLICT);
    ASSERT_STR_EQ(err.field, "email");
    ASSERT_STATUS(tc_auth_signup(a, "carol@example.com", "short", &cl, &t3, &err), TC_VALIDATION);
    ASSERT_STR_EQ(err.field, "password");

    tc_auth_principal p;
    ASSERT_OK(auth_with(a, t1.access_token, &p, &err));
    ASSERT_STR_EQ(p.user_id, t1.user.id);
    ASSERT_TRUE(p.is_admin);
    ASSERT_STR_EQ(p.session_id, t1.session_id);
    ASSERT_STR_EQ(p.user.email, "alice@example.com");
    ASSERT_EQ(p.user.created_at, t1.user.created_at);
    ASSERT_OK(auth_with(a, t2.access_token, &p, &err));
    ASSERT_FALSE(p.is_admin);
    ASSERT_STATUS(tc_auth_authenticate(a, NULL, &p, &err), TC_DECLINED);
    ASSERT_STATUS(tc_auth_authenticate(a, "Basic abc", &p, &err), TC_UNAUTHORIZED);
    ASSERT_STATUS(tc_auth_authenticate(a, "Bearer ", &p, &err), TC_UNAUTHORIZED);
    tc_auth_tokens_clear(&t1);
    tc_auth_tokens_clear(&t2);
    svc_free(a);
}

TEST(svc_login_same_error_and_throttle)
{
    tc_auth *a = svc_new(900);
    tc_auth_tokens t;
    tc_err err;
    int64_t retry = 0;
    tc_auth_client cl = {.addr = "10.0.0.1"};
    ASSERT_OK(tc_auth_signup(a, "alice@example.com", "password-1", &cl, &t, &err));
    tc_auth_tokens_clear(&t);
    ASSERT_OK(tc_auth_login(a, "alice@example.com", "password-1", &cl, &t, &retry, &err));
    tc_auth_tokens_clear(&t);

    char known[TC_ERR_MSG_MAX], unknown[TC_ERR_MSG_MAX];
    ASSERT_STATUS(tc_auth_login(a, "alice@example.com", "wrong-pass", &cl, &t, &retry, &err),
                  TC_UNAUTHORIZED);
    snprintf(known, sizeof known, "%s", err.message);
    ASSERT_STATUS(tc_auth_login(a, "nobody@example.com", "wrong-pass", &cl, &t, &retry, &err),
                  TC_UNAUTHORIZED);
    snprintf(unknown, sizeof unknown, "%s", err.message);
    ASSERT_STR_EQ(known, unknown);
    ASSERT_STR_EQ(known, "invalid email or password");

    for (int i = 1; i < TC_AUTH_THROTTLE_PER_ACCOUNT; i++)
        ASSERT_STATUS(tc_auth_login(a, "alice@example.com", "wrong-pass", &cl, &t, &retry, &err),
                      TC_UNAUTHORIZED);
    /* over the limit: even the right password is refused, with a wait */
    ASSERT_STATUS(tc_auth_login(a, "alice@example.com", "password-1", &cl, &t, &retry, &err),
                  TC_RATE_LIMITED);
    ASSERT(retry > 0 && retry <= TC_AUTH_THROTTLE_WINDOW_S);
    /* the same for an address that does not exist */
    for (int i = 1; i < TC_AUTH_THROTTLE_PER_ACCOUNT; i++)
        tc_auth_login(a, "nobody@example.com", "wrong-pass", &cl, &t, &retry, &err);
    ASSERT_STATUS(tc_auth_login(a, "nobody@example.com", "wrong-pass", &cl, &t, &retry, &err),
                  TC_RATE_LIMITED);
    svc_free(a);
}

TEST(svc_refresh_rotation_and_reuse)
{
    tc_auth *a = svc_new(900);
    tc_auth_tokens t0, t1, t2;
    tc_err err;
    tc_auth_principal p;
    ASSERT_OK(tc_auth_signup(a, "alice@example.com", "password-1", NULL, &t0, &err));
    ASSERT_OK(tc_auth_refresh(a, t0.refresh_token, NULL, &t1, &err));
    ASSERT(strcmp(t0.refresh_token, t1.refresh_token) != 0);
    ASSERT_STR_EQ(t1.session_id, t0.session_id);
    ASSERT_STR_EQ(t1.user.email, "alice@example.com");
    ASSERT_OK(auth_with(a, t1.access_token, &p, &err));
    /* the rotated token comes back: the whole family dies */
    ASSERT_STATUS(tc_auth_refresh(a, t0.refresh_token, NULL, &t2, &err), TC_UNAUTHORIZED);
    ASSERT_STR_EQ(tc_err_code(&err), "refresh_token_reused");
    ASSERT_STATUS(tc_auth_refresh(a, t1.refresh_token, NULL, &t2, &err), TC_UNAUTHORIZED);
    ASSERT_STATUS(auth_with(a, t1.access_token, &p, &err), TC_UNAUTHORIZED);
    ASSERT_STR_EQ(tc_err_code(&err), "session_revoked");
    ASSERT_STATUS(tc_auth_refresh(a, "not-a-token", NULL, &t2, &err), TC_UNAUTHORIZED);
    tc_auth_tokens_clear(&t0);
    tc_auth_tokens_clear(&t1);
    svc_free(a);
}

TEST(svc_sessions_isolation_and_password_change)
{
    tc_auth *a = svc_new(900);
    tc_auth_tokens ta1, ta2, tb;
    tc_err err;
    tc_auth_principal pa1, pa2, pb;
    int64_t retry;
    ASSERT_OK(tc_auth_signup(a, "alice@example.com", "password-1", NULL, &ta1, &err));
    ASSERT_OK(tc_auth_login(a, "alice@example.com", "password-1", NULL, &ta2, &retry, &err));
    ASSERT_OK(tc_auth_signup(a, "bob@example.com", "password-2", NULL, &tb, &err));
    ASSERT_OK(auth_with(a, ta1.access_token, &pa1, &err));
    ASSERT_OK(auth_with(a, ta2.access_token, &pa2, &err));
    ASSERT_OK(auth_with(a, tb.access_token, &pb, &err));

    tc_auth_session *items = NULL;
    size_t n = 0;
    char *next = NULL;
    ASSERT_OK(tc_auth_sessions_list(a, &pa1, 1, NULL, &items, &n, &next, &err));
    ASSERT_EQ(n, 1);
    ASSERT_NOT_NULL(next);
    free(items);
    ASSERT_OK(tc_auth_sessions_list(a, &pa1, 1, next, &items, &n, &next, &err));
    ASSERT_EQ(n, 1);
    ASSERT_NULL(next);
    free(items);

    /* Bob cannot revoke Alice's session: 404 like a missing one */
    ASSERT_STATUS(tc_auth_session_revoke(a, pb.user_id, pa1.session_id, &err), TC_NOT_FOUND);
    ASSERT_OK(auth_with(a, ta1.access_token, &pa1, &err));

    /* password change: wrong current refused, then other sessions revoked */
    ASSERT_STATUS(tc_auth_change_password(a, &pa1, "nope-nope", "password-9", NULL, &err),
                  TC_FORBIDDEN);
    ASSERT_OK(tc_auth_change_password(a, &pa1, "password-1", "password-9", NULL, &err));
    ASSERT_OK(auth_with(a, ta1.access_token, &pa1, &err));
    ASSERT_STATUS(auth_with(a, ta2.access_token, &pa2, &err), TC_UNAUTHORIZED);
    tc_auth_tokens tx;
    ASSERT_STATUS(tc_auth_login(a, "alice@example.com", "password-1", NULL, &tx, &retry, &err),
                  TC_UNAUTHORIZED);
    ASSERT_OK(tc_auth_login(a, "alice@example.com", "password-9", NULL, &tx, &retry, &err));
    tc_auth_tokens_clear(&tx);

    /* logout ends only that session */
    ASSERT_OK(tc_auth_logout(a, &pa1, &err));
    ASSERT_STATUS(auth_with(a, ta1.access_token, &pa1, &err), TC_UNAUTHORIZED);
    ASSERT_OK(auth_with(a, tb.access_token, &pb, &err));
    tc_auth_tokens_clear(&ta1);
    tc_auth_tokens_clear(&ta2);
    tc_auth_tokens_clear(&tb);
    svc_free(a);
}

TEST(svc_api_keys_and_delete_account)
{
    tc_auth *a = svc_new(900);
    tc_auth_tokens ta, tb;
    tc_err err;
    tc_auth_principal p;
    ASSERT_OK(tc_auth_signup(a, "alice@example.com", "password-1", NULL, &ta, &err));
    ASSERT_OK(tc_auth_signup(a, "bob@example.com", "password-2", NULL, &tb, &err));
    tc_auth_api_key k;
    char key[TC_AUTH_API_KEY_LEN + 1];
    ASSERT_OK(tc_auth_api_key_create(a, ta.user.id, "ci", &k, key, &err));
    ASSERT_STR_EQ(k.name, "ci");
    ASSERT(strncmp(key, k.prefix, strlen(k.prefix)) == 0);
    ASSERT_STATUS(tc_auth_api_key_create(a, ta.user.id, "", &k, key, &err), TC_VALIDATION);
    ASSERT_OK(tc_auth_api_key_create(a, ta.user.id, "ci", &k, key, &err));

    ASSERT_OK(auth_with(a, key, &p, &err));
    ASSERT_STR_EQ(p.user_id, ta.user.id);
    ASSERT_STR_EQ(p.api_key_id, k.id);
    ASSERT_STR_EQ(p.session_id, "");
    ASSERT_TRUE(p.is_admin);
    ASSERT_STR_EQ(p.user.email, "alice@example.com");

    tc_auth_api_key *items = NULL;
    size_t n = 0;
    char *next = NULL;
    ASSERT_OK(tc_auth_api_keys_list(a, ta.user.id, 50, NULL, &items, &n, &next, &err));
    ASSERT_EQ(n, 2);
    free(items);
    ASSERT_OK(tc_auth_api_keys_list(a, tb.user.id, 50, NULL, &items, &n, &next, &err));
    ASSERT_EQ(n, 0);
    free(items);

    ASSERT_STATUS(tc_auth_api_key_revoke(a, tb.user.id, k.id, &err), TC_NOT_FOUND);
    ASSERT_OK(tc_auth_api_key_revoke(a, ta.user.id, k.id, &err));
    ASSERT_STATUS(tc_auth_api_key_revoke(a, ta.user.id, k.id, &err), TC_NOT_FOUND);
    ASSERT_STATUS(auth_with(a, key, &p, &err), TC_UNAUTHORIZED);
    key[5] ^= 1;
    ASSERT_STATUS(auth_with(a, key, &p, &err), TC_UNAUTHORIZED);

    ASSERT_OK(tc_auth_delete_account(a, ta.user.id, &err));
    /* the cascade removed every account row of the user */
    static const char *const tables[] = {"sessions", "refresh_tokens", "api_keys", "users"};
    for (size_t i = 0; i < sizeof tables / sizeof tables[0]; i++) {
        char *sql = tc_asprintf("SELECT COUNT(*) FROM %s WHERE %s = $1", tables[i],
                                i == 3 ? "id" : "user_id");
        const tc_dbv prm[] = {TC_DBV_STR(ta.user.id)};
        tc_db_rows *r = NULL;
        tc_db_conn *c = tc_db_acquire(svc_db);
        ASSERT_OK(tc_db_query(c, sql, prm, 1, &r, &err));
        ASSERT_TRUE(tc_db_rows_next(r));
        ASSERT_EQ(tc_db_rows_int(r, 0), 0);
        tc_db_rows_free(r);
        tc_db_release(c);
        free(sql);
    }
    ASSERT_STATUS(tc_auth_delete_account(a, ta.user.id, &err), TC_NOT_FOUND);
    ASSERT_STATUS(auth_with(a, ta.access_token, &p, &err), TC_UNAUTHORIZED);
    int64_t retry;
    tc_auth_tokens tx;
    ASSERT_STATUS(tc_auth_login(a, "alice@example.com", "password-1", NULL, &tx, &retry, &err),
                  TC_UNAUTHORIZED);
    ASSERT_STATUS(tc_auth_refresh(a, ta.refresh_token, NULL, &tx, &err), TC_UNAUTHORIZED);
    ASSERT_OK(auth_with(a, tb.access_token, &p, &err));
    tc_auth_tokens_clear(&ta);
    tc_auth_tokens_clear(&tb);
    svc_free(a);
}

TEST(svc_expired_access_token)
{
    tc_auth *a = svc_new(1);
    tc_auth_tokens t;
    tc_err err;
    tc_auth_principal p;
    ASSERT_OK(tc_auth_signup(a, "alice@example.com", "password-1", NULL, &t, &err));
    ASSERT_OK(auth_with(a, t.access_token, &p, &err));
    struct timespec ts = {1, 50000000}; /* exp = floor(iat) + 1 */
    nanosleep(&ts, NULL);
    ASSERT_STATUS(auth_with(a, t.access_token, &p, &err), TC_UNAUTHORIZED);
    ASSERT_STR_EQ(tc_err_code(&err), "token_expired");
    tc_auth_tokens_clear(&t);
    svc_free(a);
}

/* The access-token cache: on SQLite a verified token is remembered, so a
 * change made behind the service's back (here: a direct UPDATE) is only
 * seen once the user's entries are forgotten; on PostgreSQL there is no
 * cache and every request reads the session. */
TEST(svc_cache_remembers_until_forgotten)
{
    tc_auth *a = svc_new(900);
    tc_auth_tokens t, tb;
    tc_err err;
    tc_auth_principal p, pb;
    ASSERT_OK(tc_auth_signup(a, "alice@example.com", "password-1", NULL, &t, &err));
    ASSERT_OK(tc_auth_signup(a, "bob@example.com", "password-2", NULL, &tb, &err));
    ASSERT_OK(auth_with(a, t.access_token, &p, &err));
    ASSERT_OK(auth_with(a, tb.access_token, &pb, &err));
    tc_auth_principal again;
    ASSERT_OK(auth_with(a, t.access_token, &again, &err));
    ASSERT_STR_EQ(again.user_id, p.user_id);
    ASSERT_STR_EQ(again.session_id, p.session_id);
    ASSERT_STR_EQ(again.user.email, "alice@example.com");
    ASSERT_TRUE(again.is_admin);
    /* A token differing in one signature character is verified, not served
     * from the cache. */
    char *forged = tc_strdup(t.access_token);
    size_t fl = strlen(forged);
    forged[fl - 2] = forged[fl - 2] == 'A' ? 'B' : 'A';
    ASSERT_STATUS(auth_with(a, forged, &again, &err), TC_UNAUTHORIZED);
    ASSERT_STR_EQ(tc_err_code(&err), "invalid_token");
    free(forged);

    tc_db_conn *c = tc_db_acquire(svc_db);
    tc_dbv pr[] = {TC_DBV_STR(p.user_id)};
    tc_status st = tc_db_exec(c, "UPDATE sessions SET revoked_at = 1 WHERE user_id = $1", pr, 1,
                              NULL, &err);
    tc_db_release(c);
    ASSERT_OK(st);
    bool pg = tc_db_kind_of(svc_db) == TC_DB_POSTGRES;
    ASSERT_STATUS(auth_with(a, t.access_token, &again, &err), pg ? TC_UNAUTHORIZED : TC_OK);
    tc_auth_cache_forget_user(a, pb.user_id); /* someone else: alice stays cached */
    ASSERT_STATUS(auth_with(a, t.access_token, &again, &err), pg ? TC_UNAUTHORIZED : TC_OK);
    tc_auth_cache_forget_user(a, p.user_id);
    ASSERT_STATUS(auth_with(a, t.access_token, &again, &err), TC_UNAUTHORIZED);
    ASSERT_STR_EQ(tc_err_code(&err), "session_revoked");
    ASSERT_OK(auth_with(a, tb.access_token, &pb, &err));
    /* Forget everyone; deleting bob through the service forgets him. */
    tc_auth_cache_forget_user(a, NULL);
    ASSERT_OK(auth_with(a, tb.access_token, &pb, &err));
    ASSERT_OK(tc_auth_delete_account(a, pb.user_id, &err));
    ASSERT_STATUS(auth_with(a, tb.access_token, &pb, &err), TC_UNAUTHORIZED);
    tc_auth_tokens_clear(&t);
    tc_auth_tokens_clear(&tb);
    svc_free(a);
}

typedef struct cache_race {
    tc_auth *a;
    const char *token;
    _Atomic bool *stop;
    _Atomic bool *revoked; /* set once the revocation returned */
    int late_ok;           /* successes that started after the revocation returned */
} cache_race;

static void *cache_race_thread(void *arg)
{
    cache_race *r = arg;
    while (!atomic_load(r->stop)) {
        bool after = atomic_load(r->revoked);
        tc_auth_principal p;
        tc_err err;
        if (auth_with(r->a, r->token, &p, &err) == TC_OK && after)
            r->late_ok++;
    }
    return NULL;
}

/* Requests racing a logout: none that starts after the logout returned may
 * succeed (the cache's generation check drops entries read before). */
TEST(svc_cache_logout_races_requests)
{
    tc_auth *a = svc_new(900);
    tc_err err;
    for (int round = 0; round < 20; round++) {
        tc_auth_tokens t;
        tc_auth_principal p;
        char email[64];
        snprintf(email, sizeof email, "u%d@example.com", round);
        ASSERT_OK(tc_auth_signup(a, email, "password-1", NULL, &t, &err));
        ASSERT_OK(auth_with(a, t.access_token, &p, &err));
        _Atomic bool stop = false, revoked = false;
        cache_race r[2] = {{a, t.access_token, &stop, &revoked, 0},
                           {a, t.access_token, &stop, &revoked, 0}};
        pthread_t th[2];
        for (int i = 0; i < 2; i++)
            pthread_create(&th[i], NULL, cache_race_thread, &r[i]);
        struct timespec ts = {0, 2000000};
        nanosleep(&ts, NULL);
        ASSERT_OK(tc_auth_logout(a, &p, &err));
        atomic_store(&revoked, true);
        nanosleep(&ts, NULL);
        atomic_store(&stop, true);
        for (int i = 0; i < 2; i++)
            pthread_join(th[i], NULL);
        ASSERT_EQ(r[0].late_ok + r[1].late_ok, 0);
        ASSERT_STATUS(auth_with(a, t.access_token, &p, &err), TC_UNAUTHORIZED);
        tc_auth_tokens_clear(&t);
    }
    svc_free(a);
}

/* ---- races ------------------------------------------------------------------ */

typedef struct race_arg {
    tc_auth *a;
    int i;
    const char *refresh; /* refresh race: the shared token */
    tc_status st;
    bool admin;
} race_arg;

static void *signup_thread(void *p)
{
    race_arg *r = p;
    char email[64];
    tc_err err;
    tc_auth_tokens t;
    snprintf(email, sizeof email, "user%d@example.com", r->i);
    r->st = tc_auth_signup(r->a, email, "password-1", NULL, &t, &err);
    r->admin = r->st == TC_OK && t.user.is_admin;
    if (r->st == TC_OK)
        tc_auth_tokens_clear(&t);
    return NULL;
}

TEST(svc_concurrent_signups_make_one_admin)
{
    tc_auth *a = svc_new(900);
    enum { N = 6 };
    pthread_t th[N];
    race_arg args[N];
    for (int i = 0; i < N; i++) {
        args[i] = (race_arg){.a = a, .i = i};
        pthread_create(&th[i], NULL, signup_thread, &args[i]);
    }
    int admins = 0;
    for (int i = 0; i < N; i++) {
        pthread_join(th[i], NULL);
        ASSERT_OK(args[i].st);
        admins += args[i].admin;
    }
    ASSERT_EQ(admins, 1);
    svc_free(a);
}

static void *refresh_thread(void *p)
{
    race_arg *r = p;
    tc_err err;
    tc_auth_tokens t;
    r->st = tc_auth_refresh(r->a, r->refresh, NULL, &t, &err);
    if (r->st == TC_OK)
        tc_auth_tokens_clear(&t);
    return NULL;
}

TEST(svc_concurrent_refresh_one_winner_at_most)
{
    tc_auth *a = svc_new(900);
    tc_auth_tokens t;
    tc_err err;
    ASSERT_OK(tc_auth_signup(a, "alice@example.com", "password-1", NULL, &t, &err));
    enum { N = 4 };
    pthread_t th[N];
    race_arg args[N];
    for (int i = 0; i < N; i++) {
        args[i] = (race_arg){.a = a, .i = i, .refresh = t.refresh_token};
        pthread_create(&th[i], NULL, refresh_thread, &args[i]);
    }
    int ok = 0;
    for (int i = 0; i < N; i++) {
        pthread_join(th[i], NULL);
        ok += args[i].st == TC_OK;
        ASSERT(args[i].st == TC_OK || args[i].st == TC_UNAUTHORIZED);
    }
    /* one may win; every loser counts as reuse, which revokes the family */
    ASSERT(ok <= 1);
    tc_auth_principal p;
    ASSERT_STATUS(auth_with(a, t.access_token, &p, &err), TC_UNAUTHORIZED);
    tc_auth_tokens_clear(&t);
    svc_free(a);
}

TEST(svc_login_rehashes_old_parameters)
{
    tc_auth *a = svc_new(900);
    tc_auth_tokens t;
    tc_err err;
    int64_t retry;
    ASSERT_OK(tc_auth_signup(a, "alice@example.com", "password-1", NULL, &t, &err));
    tc_auth_tokens_clear(&t);
    tc_auth__set_password_cost(2, 128); /* the operator raised the cost */
    ASSERT_OK(tc_auth_login(a, "alice@example.com", "password-1", NULL, &t, &retry, &err));
    tc_auth_tokens_clear(&t);
    tc_db_conn *c = tc_db_acquire(svc_db);
    tc_db_rows *r = NULL;
    const tc_dbv prm[] = {TC_DBV_STR("alice@example.com")};
    ASSERT_OK(tc_db_query(c, "SELECT password_hash FROM users WHERE email = $1", prm, 1, &r, &err));
    ASSERT_TRUE(tc_db_rows_next(r));
    ASSERT(strncmp(tc_db_rows_text(r, 0), "$argon2id$v=19$m=128,t=2,p=1$", 29) == 0);
    ASSERT_FALSE(tc_auth_password_needs_rehash(tc_db_rows_text(r, 0)));
    tc_db_rows_free(r);
    tc_db_release(c);
    ASSERT_OK(tc_auth_login(a, "alice@example.com", "password-1", NULL, &t, &retry, &err));
    tc_auth_tokens_clear(&t);
    svc_free(a);
}

static void *bad_login_thread(void *p)
{
    race_arg *r = p;
    tc_err err;
    tc_auth_tokens t;
    int64_t retry = 0;
    tc_auth_client cl = {.addr = "10.9.9.9"};
    r->st = tc_auth_login(r->a, "alice@example.com", "wrong-password", &cl, &t, &retry, &err);
    return NULL;
}

TEST(svc_parallel_guesses_stay_within_the_limit)
{
    tc_auth *a = svc_new(900);
    tc_auth_tokens t;
    tc_err err;
    ASSERT_OK(tc_auth_signup(a, "alice@example.com", "password-1", NULL, &t, &err));
    tc_auth_tokens_clear(&t);
    enum { N = 12 };
    pthread_t th[N];
    race_arg args[N];
    for (int i = 0; i < N; i++) {
        args[i] = (race_arg){.a = a, .i = i};
        pthread_create(&th[i], NULL, bad_login_thread, &args[i]);
    }
    int checked = 0, limited = 0;
    for (int i = 0; i < N; i++) {
        pthread_join(th[i], NULL);
        checked += args[i].st == TC_UNAUTHORIZED;
        limited += args[i].st == TC_RATE_LIMITED;
    }
    /* only up to the limit reached the password check, in any interleaving
     * (fewer is possible: racing refused attempts are counted by others
     * before they take themselves back) */
    ASSERT(checked >= 1 && checked <= TC_AUTH_THROTTLE_PER_ACCOUNT);
    ASSERT_EQ(checked + limited, N);
    /* the window holds exactly the checked failures */
    int64_t retry = 0;
    for (int i = checked; i < TC_AUTH_THROTTLE_PER_ACCOUNT; i++)
        ASSERT_STATUS(tc_auth_login(a, "alice@example.com", "wrong-again", NULL, &t, &retry, &err),
                      TC_UNAUTHORIZED);
    ASSERT_STATUS(tc_auth_login(a, "alice@example.com", "password-1", NULL, &t, &retry, &err),
                  TC_RATE_LIMITED);
    svc_free(a);
}

TEST(svc_password_change_is_throttled)
{
    tc_auth *a = svc_new(900);
    tc_auth_tokens t;
    tc_err err;
    tc_auth_principal p;
    int64_t retry = 0;
    ASSERT_OK(tc_auth_signup(a, "alice@example.com", "password-1", NULL, &t, &err));
    ASSERT_OK(auth_with(a, t.access_token, &p, &err));
    for (int i = 0; i < TC_AUTH_THROTTLE_PER_ACCOUNT; i++)
        ASSERT_STATUS(tc_auth_change_password(a, &p, "wrong-pass", "password-2", &retry, &err),
                      TC_FORBIDDEN);
    ASSERT_STATUS(tc_auth_change_password(a, &p, "password-1", "password-2", &retry, &err),
                  TC_RATE_LIMITED);
    ASSERT(retry > 0 && retry <= TC_AUTH_THROTTLE_WINDOW_S);
    tc_auth_tokens_clear(&t);
    svc_free(a);
}

static int64_t count_rows(const char *sql, const char *arg)
{
    tc_err err;
    const tc_dbv prm[] = {TC_DBV_STR(arg)};
    tc_db_rows *r = NULL;
    tc_db_conn *c = tc_db_acquire(svc_db);
    ASSERT_OK(tc_db_query(c, sql, prm, 1, &r, &err));
    ASSERT_TRUE(tc_db_rows_next(r));
    int64_t n = tc_db_rows_int(r, 0);
    tc_db_rows_free(r);
    tc_db_release(c);
    return n;
}

TEST(svc_login_prunes_old_sessions_and_tokens)
{
    tc_auth *a = svc_new(900);
    tc_auth_tokens t0, t1, tx;
    tc_err err;
    int64_t retry;
    ASSERT_OK(tc_auth_signup(a, "alice@example.com", "password-1", NULL, &t0, &err));
    ASSERT_OK(tc_auth_refresh(a, t0.refresh_token, NULL, &t1, &err)); /* 2 token rows */
    ASSERT_EQ(count_rows("SELECT COUNT(*) FROM refresh_tokens WHERE user_id = $1", t0.user.id), 2);
    /* age the session: revoked and expired long ago */
    tc_db_conn *c = tc_db_acquire(svc_db);
    const tc_dbv prm[] = {TC_DBV_STR(t0.session_id)};
    ASSERT_OK(tc_db_exec(c,
                         "UPDATE sessions SET revoked_at = 1000, expires_at = 2000 WHERE id = $1",
                         prm, 1, NULL, &err));
    ASSERT_OK(tc_db_exec(c, "UPDATE refresh_tokens SET expires_at = 2000 WHERE session_id = $1",
                         prm, 1, NULL, &err));
    tc_db_release(c);
    ASSERT_OK(tc_auth_login(a, "alice@example.com", "password-1", NULL, &tx, &retry, &err));
    ASSERT_EQ(count_rows("SELECT COUNT(*) FROM sessions WHERE id = $1", t0.session_id), 0);
    /* only the new session's first token is left */
    ASSERT_EQ(count_rows("SELECT COUNT(*) FROM refresh_tokens WHERE user_id = $1", t0.user.id), 1);
    ASSERT_EQ(count_rows("SELECT COUNT(*) FROM sessions WHERE user_id = $1", t0.user.id), 1);
    tc_auth_tokens_clear(&t0);
    tc_auth_tokens_clear(&t1);
    tc_auth_tokens_clear(&tx);
    svc_free(a);
}
