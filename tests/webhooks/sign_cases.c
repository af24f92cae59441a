/* Helper for verify.mjs: produces Standard Webhooks messages signed by our C
 * code, and verifies messages signed by the reference JS library.
 *   webhook_sign_cases cases            JSON array of signed cases on stdout
 *   webhook_sign_cases verify SECRET... reads {id,timestamp,signature,body}
 *                                       JSON on stdin; exit 0 if it verifies,
 *                                       1 if not (reason on stderr) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "webhooks/webhooks.h"

static json_t *signed_case(const char *name, const char *const *secrets, size_t n, const char *body,
                           bool tamper)
{
    char id[TC_WH_MSG_ID_MAX + 1];
    tc_webhook_msg_id(id);
    tc_webhook_headers h;
    tc_err err;
    if (tc_webhook_sign(secrets, n, id, (int64_t)time(NULL), body, strlen(body), &h, &err) != TC_OK) {
        fprintf(stderr, "sign failed: %s\n", err.message);
        exit(2);
    }
    char *sent = tc_strdup(body);
    char *digit = tamper ? strpbrk(sent, "0123456789") : NULL;
    if (digit) /* change one digit: still valid JSON and UTF-8, no longer the signed bytes */
        *digit = *digit == '9' ? '0' : (char)(*digit + 1);
    json_t *c = json_pack("{s:s, s:s, s:s, s:s, s:s}", "name", name, "id", h.id, "timestamp",
                          h.timestamp, "signature", h.signature, "body", sent);
    free(sent);
    return c;
}

static char *envelope_body(void)
{
    json_t *data = json_pack("{s:s, s:s, s:i, s:s}", "job_id", "7b0c2c9e-1111-4b7a-9c1f-0d1e2f3a4b5c",
                             "tool", "create_issue", "duration_ms", 42, "note",
                             "quotes \" backslash \\ newline \n unicode \xc3\xa9\xe2\x82\xac \xf0\x9f\x9a\x80");
    json_t *env = tc_webhook_envelope("job.succeeded", tc_now_ms(), data);
    char *body;
    size_t len;
    const char *src = "{\"text\": \"{{type}}: {{data.tool}} ({{data.note}})\", \"event\": {{data}}}";
    tc_webhook_template *t;
    tc_err err;
    if (tc_webhook_template_compile(src, strlen(src), &t, &err) != TC_OK ||
        tc_webhook_payload(t, env, &body, &len, &err) != TC_OK) {
        fprintf(stderr, "template failed: %s\n", err.message);
        exit(2);
    }
    tc_webhook_template_free(t);
    json_decref(env);
    json_decref(data);
    return body;
}

static int cases(void)
{
    char a[TC_WH_SECRET_TEXT_MAX], b[TC_WH_SECRET_TEXT_MAX], other[TC_WH_SECRET_TEXT_MAX];
    tc_webhook_secret_generate(a);
    tc_webhook_secret_generate(b);
    tc_webhook_secret_generate(other);
    const char *one[] = {a}, *rotated[] = {b, a}, *wrong[] = {other};
    char *body = envelope_body();
    json_t *env_body = tc_webhook_envelope("webhook.test", tc_now_ms(), NULL);
    char *plain;
    size_t plainlen;
    tc_webhook_payload(NULL, env_body, &plain, &plainlen, NULL);
    json_t *out = json_pack("{s:s, s:s, s:s, s:[]}", "secret", a, "new_secret", b, "other_secret", other,
                            "cases");
    json_t *list = json_object_get(out, "cases");
    json_array_append_new(list, signed_case("envelope", one, 1, plain, false));
    json_array_append_new(list, signed_case("template", one, 1, body, false));
    json_array_append_new(list, signed_case("rotated", rotated, 2, body, false));
    json_array_append_new(list, signed_case("tampered", one, 1, body, true));
    json_array_append_new(list, signed_case("wrong_secret", wrong, 1, body, false));
    json_dumpf(out, stdout, JSON_COMPACT);
    fputc('\n', stdout);
    json_decref(out);
    json_decref(env_body);
    free(plain);
    free(body);
    return 0;
}

static int verify(int argc, char **argv)
{
    json_error_t je;
    json_t *in = json_loadf(stdin, 0, &je);
    const char *id = NULL, *ts = NULL, *sig = NULL, *body = NULL;
    if (!in || json_unpack(in, "{s:s, s:s, s:s, s:s}", "id", &id, "timestamp", &ts, "signature", &sig,
                           "body", &body) != 0) {
        fprintf(stderr, "bad input\n");
        return 2;
    }
    tc_err err;
    tc_status st = tc_webhook_verify((const char *const *)argv, (size_t)argc, id, ts, sig, body,
                                     strlen(body), (int64_t)time(NULL), 300, &err);
    if (st != TC_OK)
        fprintf(stderr, "%s\n", err.message);
    json_decref(in);
    return st == TC_OK ? 0 : 1;
}

int main(int argc, char **argv)
{
    if (argc >= 2 && !strcmp(argv[1], "cases"))
        return cases();
    if (argc >= 3 && !strcmp(argv[1], "verify"))
        return verify(argc - 2, argv + 2);
    fprintf(stderr, "usage: webhook_sign_cases cases | verify SECRET...\n");
    return 2;
}
