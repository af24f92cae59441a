/* Accounts hot paths, one thread, each case for ~0.5 s (argon2: 10 runs).
 * Uses a temp SQLite database under $TMPDIR. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth/auth.h"

typedef int (*bench_fn)(void *arg);

static void run(const char *name, bench_fn fn, void *arg, int64_t budget_ns, int max_iter)
{
    int64_t t0 = tc_mono_ns(), n = 0;
    while (tc_mono_ns() - t0 < budget_ns && n < max_iter) {
        if (fn(arg) != 0) {
            fprintf(stderr, "%s failed\n", name);
            exit(1);
        }
        n++;
    }
    double per_us = (double)(tc_mono_ns() - t0) / (double)n / 1000.0;
    printf("%-44s %10.2f us/op %12.0f ops/s  (%lld runs)\n", name, per_us, 1e6 / per_us,
           (long long)n);
}

typedef struct ctx {
    tc_auth *a;
    unsigned char key[32];
    tc_jwt_claims claims;
    char *jwt;
    char *header_jwt;
    char *header_key;
} ctx;

static int do_sign(void *p)
{
    ctx *c = p;
    char *t = NULL;
    tc_status st = tc_auth_jwt_sign(c->key, &c->claims, &t);
    free(t);
    return st != TC_OK;
}

static int do_verify(void *p)
{
    ctx *c = p;
    tc_jwt_claims out;
    return tc_auth_jwt_verify(c->key, c->jwt, strlen(c->jwt), c->claims.iss, c->claims.iat, &out,
                              NULL) != TC_OK;
}

static int do_auth_jwt(void *p)
{
    ctx *c = p;
    tc_auth_principal pr;
    tc_err err;
    return tc_auth_authenticate(c->a, c->header_jwt, &pr, &err) != TC_OK;
}

static int do_auth_key(void *p)
{
    ctx *c = p;
    tc_auth_principal pr;
    tc_err err;
    return tc_auth_authenticate(c->a, c->header_key, &pr, &err) != TC_OK;
}

static int do_hash(void *p)
{
    char *h = NULL;
    tc_status st = tc_auth_password_hash("correct horse battery staple", &h, NULL);
    free(h);
    return st != TC_OK;
}

int main(void)
{
    static const unsigned char master[32] = {1};
    ctx c = {0};
    tc_err err;
    tc_log_setup(TC_LOG_WARN, TC_LOG_TEXT, 2);
    char dir[] = "/tmp/bench-auth-XXXXXX";
    if (!mkdtemp(dir))
        return 1;
    char *url = tc_asprintf("sqlite:%s/bench.db", dir);
    tc_db *db = NULL;
    if (tc_db_open(url, 2, &db, &err) != TC_OK || tc_db_migrate(db, &err) != TC_OK) {
        fprintf(stderr, "db: %s\n", err.message);
        return 1;
    }
    tc_auth_options o = {.master_key = master, .master_key_len = 32, .issuer = "http://bench",
                         .access_ttl_s = 900, .refresh_ttl_s = 3600};
    if (tc_auth_new(db, &o, &c.a, &err) != TC_OK)
        return 1;

    run("argon2id hash (m=19 MiB, t=2, p=1)", do_hash, NULL, 2000000000LL, 10);
    tc_auth__set_password_cost(1, 64); /* the rest measures everything else */

    tc_auth_tokens t;
    if (tc_auth_signup(c.a, "bench@example.com", "password-1", NULL, &t, &err) != TC_OK) {
        fprintf(stderr, "signup: %s\n", err.message);
        return 1;
    }
    tc_auth_api_key k;
    char key[TC_AUTH_API_KEY_LEN + 1];
    tc_auth_api_key_create(c.a, t.user.id, "bench", &k, key, &err);
    c.header_jwt = tc_asprintf("Bearer %s", t.access_token);
    c.header_key = tc_asprintf("Bearer %s", key);
    tc_auth_derive_key(master, 32, "bench", c.key);
    tc_uuid(c.claims.sub);
    tc_uuid(c.claims.sid);
    tc_uuid(c.claims.jti);
    strcpy(c.claims.iss, "http://bench");
    c.claims.iat = tc_now_ms() / 1000;
    c.claims.exp = c.claims.iat + 900;
    tc_auth_jwt_sign(c.key, &c.claims, &c.jwt);

    run("JWT sign", do_sign, &c, 500000000LL, 1 << 30);
    run("JWT verify (no I/O)", do_verify, &c, 500000000LL, 1 << 30);
    run("authenticate: access token + session lookup", do_auth_jwt, &c, 500000000LL, 1 << 30);
    run("authenticate: API key (hash + lookup)", do_auth_key, &c, 500000000LL, 1 << 30);

    tc_auth_tokens_clear(&t);
    free(c.jwt);
    free(c.header_jwt);
    free(c.header_key);
    tc_auth_free(c.a);
    tc_db_close(db);
    char *rm = tc_asprintf("rm -rf %s", dir);
    if (system(rm) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    free(rm);
    free(url);
    return 0;
}
