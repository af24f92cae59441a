/* Throughput of the per-request crypto: secret box seal/open, Standard
 * Webhooks signing, template rendering. Each case runs for ~0.5 s. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/crypto.h"
#include "webhooks/webhooks.h"

#define CASE_NS 500000000LL

typedef void (*bench_fn)(void *ctx);

static void run(const char *name, bench_fn fn, void *ctx)
{
    int64_t start = tc_mono_ns(), n = 0;
    while (tc_mono_ns() - start < CASE_NS) {
        for (int i = 0; i < 64; i++)
            fn(ctx);
        n += 64;
    }
    double s = (double)(tc_mono_ns() - start) / 1e9;
    printf("%-44s %10.0f ops/s  %8.2f us/op\n", name, (double)n / s, s * 1e6 / (double)n);
}

typedef struct {
    tc_keyring *kr;
    unsigned char *ct;
    size_t ctlen;
} box_ctx;

static void box_seal(void *p)
{
    box_ctx *b = p;
    unsigned char *ct;
    size_t len;
    static const char secret[] = "{\"access_token\":\"gho_0123456789abcdefghijklmnopqrstuvwxyzAB\","
                                 "\"refresh_token\":\"ghr_0123456789abcdefghijklmnopqrstuvwxyzAB\"}";
    if (tc_secretbox_seal(b->kr, "user_connections.secret:0b9a4a36-2b7c-4f8e-9d2a-1f4f0c8b2a11", secret,
                          sizeof(secret) - 1, &ct, &len, NULL) != TC_OK)
        abort();
    free(ct);
}

static void box_open(void *p)
{
    box_ctx *b = p;
    unsigned char *pt;
    size_t len;
    if (tc_secretbox_open(b->kr, "user_connections.secret:0b9a4a36-2b7c-4f8e-9d2a-1f4f0c8b2a11", b->ct,
                          b->ctlen, &pt, &len, NULL) != TC_OK)
        abort();
    tc_secret_free(pt, len);
}

typedef struct {
    const char *secrets[2];
    size_t nsecrets;
    char *body;
    size_t len;
} sign_ctx;

static void sign(void *p)
{
    sign_ctx *s = p;
    tc_webhook_headers h;
    if (tc_webhook_sign(s->secrets, s->nsecrets, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1700000000, s->body, s->len,
                        &h, NULL) != TC_OK)
        abort();
}

typedef struct {
    tc_webhook_template *t;
    json_t *env;
} tpl_ctx;

static void render(void *p)
{
    tpl_ctx *c = p;
    char *out;
    size_t len;
    if (tc_webhook_payload(c->t, c->env, &out, &len, NULL) != TC_OK)
        abort();
    free(out);
}

int main(void)
{
    unsigned char master[32];
    tc_random_bytes(master, sizeof(master));
    box_ctx b = {0};
    tc_keyring_new(master, 32, &b.kr, NULL);
    tc_keyring_add(b.kr, 1, NULL);
    tc_secretbox_seal(b.kr, "user_connections.secret:0b9a4a36-2b7c-4f8e-9d2a-1f4f0c8b2a11", "{\"a\":1}", 7,
                      &b.ct, &b.ctlen, NULL);
    free(b.ct);
    box_seal(&b); /* warm up */
    static const char secret[] = "{\"access_token\":\"gho_0123456789abcdefghijklmnopqrstuvwxyzAB\","
                                 "\"refresh_token\":\"ghr_0123456789abcdefghijklmnopqrstuvwxyzAB\"}";
    tc_secretbox_seal(b.kr, "user_connections.secret:0b9a4a36-2b7c-4f8e-9d2a-1f4f0c8b2a11", secret,
                      sizeof(secret) - 1, &b.ct, &b.ctlen, NULL);
    run("secretbox seal (110 B token set)", box_seal, &b);
    run("secretbox open (110 B token set)", box_open, &b);

    char s1[TC_WH_SECRET_TEXT_MAX], s2[TC_WH_SECRET_TEXT_MAX];
    tc_webhook_secret_generate(s1);
    tc_webhook_secret_generate(s2);
    json_t *data = json_pack("{s:s, s:s, s:s, s:i, s:{s:[s,s,s], s:s}}", "id", "0b9a4a36-2b7c-4f8e-9d2a-1f4f0c8b2a11",
                             "connector", "github", "tool", "create_issue", "duration_ms", 412, "result",
                             "labels", "bug", "p1", "triage", "url", "https://github.com/acme/app/issues/42");
    json_t *env = tc_webhook_envelope("job.succeeded", tc_now_ms(), data);
    sign_ctx sc = {{s1, s2}, 1, NULL, 0};
    tc_webhook_payload(NULL, env, &sc.body, &sc.len, NULL);
    char name[96];
    snprintf(name, sizeof(name), "webhook sign, 1 secret (%zu B envelope)", sc.len);
    run(name, sign, &sc);
    sc.nsecrets = 2;
    snprintf(name, sizeof(name), "webhook sign, 2 secrets (%zu B envelope)", sc.len);
    run(name, sign, &sc);

    tpl_ctx tc = {NULL, env};
    run("payload: envelope as compact JSON", render, &tc);
    const char *src = "{\"text\": \"{{type}}: {{data.tool}} on {{data.connector}} took {{data.duration_ms}} ms\","
                      " \"url\": {{data.result.url}}, \"labels\": {{data.result.labels}}, \"job\": {{data}}}";
    if (tc_webhook_template_compile(src, strlen(src), &tc.t, NULL) != TC_OK)
        abort();
    run("payload: template, 6 placeholders (+ JSON check)", render, &tc);

    tc_webhook_template_free(tc.t);
    json_decref(env);
    json_decref(data);
    free(sc.body);
    free(b.ct);
    tc_keyring_free(b.kr);
    return 0;
}
