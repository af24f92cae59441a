/* /api/me (GET, DELETE) and /api/me/password. */
#include <stddef.h>

#include "api/accounts_int.h"
#include "api/api.h"

/* The user was read together with the credential check (one query). */
tc_status tc_api_me_get(tc_http_req *req, tc_err *err)
{
    return tc_http_reply_json(req, 200, tc_api__user_json(&tc_api__principal(req)->user));
}

tc_status tc_api_me_delete(tc_http_req *req, tc_err *err)
{
    tc_auth *a = tc_api__auth(err);
    if (!a)
        return TC_UNAVAILABLE;
    tc_status st = tc_auth_delete_account(a, tc_api__principal(req)->user_id, err);
    if (st != TC_OK)
        return st;
    return tc_http_reply_empty(req, 204);
}

typedef struct password_body {
    const char *current_password;
    const char *new_password;
} password_body;

static const tc_json_field password_fields[] = {
    {"current_password", TC_JF_STR, true, 0, TC_AUTH_PASSWORD_MAX,
     offsetof(password_body, current_password)},
    {"new_password", TC_JF_STR, true, 0, TC_AUTH_PASSWORD_MAX,
     offsetof(password_body, new_password)},
};

tc_status tc_api_me_password(tc_http_req *req, tc_err *err)
{
    tc_auth *a = tc_api__auth(err);
    json_t *body = NULL;
    password_body b = {0};
    if (!a)
        return TC_UNAVAILABLE;
    tc_status st = tc_http_json_body(req, &body, err);
    if (st == TC_OK)
        st = tc_json_read(body, password_fields, 2, &b, err);
    int64_t retry = 0;
    if (st == TC_OK)
        st = tc_auth_change_password(a, tc_api__principal(req), b.current_password,
                                     b.new_password, &retry, err);
    if (st == TC_RATE_LIMITED)
        tc_api__retry_after(req, retry);
    if (st != TC_OK)
        return tc_api__details(req, st, err);
    return tc_http_reply_empty(req, 204);
}
