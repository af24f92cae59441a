/* /api/auth/signup|login|refresh|logout, the authentication hook and the
 * accounts module's start-up (tc_api_auth_init). */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "api/accounts_int.h"
#include "api/api.h"
#include "app/app.h"

/* ---- shared helpers ------------------------------------------------------------ */

tc_auth *tc_api__auth(tc_err *err)
{
    tc_auth *a = tc_auth_global();
    if (!a)
        tc_failf(err, TC_UNAVAILABLE, NULL, "the accounts module is not started");
    return a;
}

const tc_auth_principal *tc_api__principal(tc_http_req *req)
{
    return (const tc_auth_principal *)req->auth;
}

/* JSON-Schema-like keyword for a validation message of ours. */
static const char *keyword_of(const char *msg)
{
    static const struct {
        const char *needle, *keyword;
    } map[] = {
        {"is required", "required"},
        {"at least", "minLength"},
        {"must not be empty", "minLength"},
        {"at most", "maxLength"},
        {"must be a", "type"},
    };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (strstr(msg, map[i].needle))
            return map[i].keyword;
    return "format";
}

tc_status tc_api__details(tc_http_req *req, tc_status st, const tc_err *err)
{
    if (st != TC_VALIDATION || req->details || !err->field[0])
        return st;
    req->details = json_pack("[{s:s, s:s, s:s}]", "path", err->field, "keyword",
                             keyword_of(err->message), "message", err->message);
    return st;
}

void tc_api__retry_after(tc_http_req *req, int64_t seconds)
{
    char v[24];
    snprintf(v, sizeof v, "%lld", (long long)seconds);
    tc_http_set_header(req, "Retry-After", v);
}

json_t *tc_api__time_json(int64_t ms)
{
    if (ms <= 0)
        return json_null();
    char buf[32];
    tc_time_format(ms, buf);
    return json_string(buf);
}

json_t *tc_api__user_json(const tc_auth_user *u)
{
    return json_pack("{s:s, s:s, s:o, s:b}", "id", u->id, "email", u->email, "created_at",
                     tc_api__time_json(u->created_at), "is_admin", u->is_admin);
}

tc_status tc_api__page(tc_http_req *req, int *limit, const char **cursor, tc_err *err)
{
    int64_t l = 0;
    tc_status st = tc_http_query_int(req, "limit", 50, 1, TC_AUTH_LIST_MAX, &l, err);
    *limit = (int)l;
    *cursor = tc_http_query(req, "cursor");
    if (*cursor && !**cursor)
        *cursor = NULL;
    return st;
}

tc_status tc_api__revoke(tc_http_req *req, tc_api__revoke_fn revoke, tc_err *err)
{
    tc_auth *a = tc_api__auth(err);
    if (!a)
        return TC_UNAVAILABLE;
    tc_status st = revoke(a, tc_api__principal(req)->user_id, tc_http_param(req, "id"), err);
    if (st != TC_OK)
        return st;
    return tc_http_reply_empty(req, 204);
}

/* ---- authentication hook ---------------------------------------------------------- */

static tc_status auth_hook(tc_http_req *req, tc_err *err)
{
    tc_auth *a = tc_api__auth(err);
    if (!a)
        return TC_UNAVAILABLE;
    tc_auth_principal *p = tc_arena_alloc(req->arena, sizeof *p);
    tc_status st = tc_auth_authenticate(a, tc_http_header(req, "Authorization"), p, err);
    if (st != TC_OK)
        return st;
    req->user_id = tc_arena_strdup(req->arena, p->user_id);
    req->is_admin = p->is_admin;
    req->auth = p;
    return TC_OK;
}

/* ---- module start-up ------------------------------------------------------------ */

tc_status tc_api_auth_init(tc_app *app, tc_err *err)
{
    tc_auth_options o = {
        .master_key = app->master_key,
        .master_key_len = sizeof app->master_key,
        .issuer = app->cfg.public_url,
        .access_ttl_s = app->cfg.access_ttl_s,
        .refresh_ttl_s = app->cfg.refresh_ttl_s,
    };
    tc_auth *a = NULL;
    tc_status st = tc_auth_new(app->db, &o, &a, err);
    if (st != TC_OK)
        return st;
    tc_auth_set_global(a);
    tc_http_set_auth_hook(app->http, auth_hook);
    return TC_OK;
}

void tc_api_auth_shutdown(tc_app *app)
{
    tc_auth *a = tc_auth_global();
    tc_auth_set_global(NULL);
    tc_auth_free(a);
}

/* ---- handlers -------------------------------------------------------------------- */

typedef struct credentials {
    const char *email;
    const char *password;
} credentials;

static const tc_json_field credential_fields[] = {
    {"email", TC_JF_STR, true, 0, 1024, offsetof(credentials, email)},
    {"password", TC_JF_STR, true, 0, TC_AUTH_PASSWORD_MAX, offsetof(credentials, password)},
};

static tc_status read_credentials(tc_http_req *req, credentials *c, tc_err *err)
{
    json_t *body = NULL;
    memset(c, 0, sizeof *c);
    tc_status st = tc_http_json_body(req, &body, err);
    if (st == TC_OK)
        st = tc_json_read(body, credential_fields, 2, c, err);
    return st;
}

static tc_auth_client client_of(tc_http_req *req)
{
    return (tc_auth_client){.addr = tc_http_client_addr(req),
                            .user_agent = tc_http_header(req, "User-Agent")};
}

/* Writes {user, access_token, refresh_token, expires_in, token_type} and
 * wipes the tokens. */
static tc_status reply_tokens(tc_http_req *req, int status, tc_auth_tokens *t)
{
    json_t *j = json_pack("{s:o, s:s, s:s, s:I, s:s}", "user", tc_api__user_json(&t->user),
                          "access_token", t->access_token, "refresh_token", t->refresh_token,
                          "expires_in", (json_int_t)t->expires_in, "token_type", "Bearer");
    tc_auth_tokens_clear(t);
    if (!j)
        return TC_INTERNAL;
    return tc_http_reply_json(req, status, j);
}

tc_status tc_api_auth_signup(tc_http_req *req, tc_err *err)
{
    tc_auth *a = tc_api__auth(err);
    credentials c;
    tc_auth_tokens t;
    if (!a)
        return TC_UNAVAILABLE;
    tc_status st = read_credentials(req, &c, err);
    tc_auth_client cl = client_of(req);
    if (st == TC_OK)
        st = tc_auth_signup(a, c.email, c.password, &cl, &t, err);
    if (st != TC_OK)
        return tc_api__details(req, st, err);
    return reply_tokens(req, 201, &t);
}

tc_status tc_api_auth_login(tc_http_req *req, tc_err *err)
{
    tc_auth *a = tc_api__auth(err);
    credentials c;
    tc_auth_tokens t;
    int64_t retry = 0;
    if (!a)
        return TC_UNAVAILABLE;
    tc_status st = read_credentials(req, &c, err);
    tc_auth_client cl = client_of(req);
    if (st == TC_OK)
        st = tc_auth_login(a, c.email, c.password, &cl, &t, &retry, err);
    if (st == TC_RATE_LIMITED)
        tc_api__retry_after(req, retry);
    if (st != TC_OK)
        return tc_api__details(req, st, err);
    return reply_tokens(req, 200, &t);
}

typedef struct refresh_body {
    const char *refresh_token;
} refresh_body;

static const tc_json_field refresh_fields[] = {
    {"refresh_token", TC_JF_STR, true, 0, 256, offsetof(refresh_body, refresh_token)},
};

tc_status tc_api_auth_refresh(tc_http_req *req, tc_err *err)
{
    tc_auth *a = tc_api__auth(err);
    json_t *body = NULL;
    refresh_body b = {0};
    tc_auth_tokens t;
    if (!a)
        return TC_UNAVAILABLE;
    tc_status st = tc_http_json_body(req, &body, err);
    if (st == TC_OK)
        st = tc_json_read(body, refresh_fields, 1, &b, err);
    tc_auth_client cl = client_of(req);
    if (st == TC_OK)
        st = tc_auth_refresh(a, b.refresh_token, &cl, &t, err);
    if (st != TC_OK)
        return tc_api__details(req, st, err);
    return reply_tokens(req, 200, &t);
}

tc_status tc_api_auth_logout(tc_http_req *req, tc_err *err)
{
    tc_auth *a = tc_api__auth(err);
    if (!a)
        return TC_UNAVAILABLE;
    tc_status st = tc_auth_logout(a, tc_api__principal(req), err);
    if (st != TC_OK)
        return st;
    return tc_http_reply_empty(req, 204);
}
