/* /api/me (GET, DELETE) and /api/me/password. */
#include <stddef.h>
#include <string.h>

#include "api/accounts_int.h"
#include "api/api.h"

/* Appends s as a JSON string, escaped like json_dumps does (quotes,
 * backslashes, control bytes; other bytes as they are: valid UTF-8). */
static char *put_json_str(char *p, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    *p++ = '"';
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            *p++ = '\\';
            *p++ = (char)c;
        } else if (c < 0x20 && strchr("\b\f\n\r\t", c)) { /* as jansson writes them */
            *p++ = '\\';
            *p++ = "bfnrt"[strchr("\b\f\n\r\t", c) - "\b\f\n\r\t"];
        } else if (c < 0x20) {
            memcpy(p, "\\u00", 4);
            p[4] = hex[c >> 4];
            p[5] = hex[c & 15];
            p += 6;
        } else {
            *p++ = (char)c;
        }
    }
    *p++ = '"';
    return p;
}

static char *put_lit(char *p, const char *s)
{
    size_t n = strlen(s);
    memcpy(p, s, n);
    return p + n;
}

/* The user was read together with the credential check (one query, or the
 * access-token cache). The body is written directly, byte for byte what
 * json_dumps makes of tc_api__user_json (docs/performance.md: GET /api/me). */
tc_status tc_api_me_get(tc_http_req *req, tc_err *err)
{
    const tc_auth_user *u = &tc_api__principal(req)->user;
    /* 6x for escaped e-mail bytes, plus the fixed parts and the time. */
    char buf[6 * sizeof u->email + 6 * sizeof u->id + 128];
    char *p = put_lit(buf, "{\"id\":");
    p = put_json_str(p, u->id);
    p = put_lit(p, ",\"email\":");
    p = put_json_str(p, u->email);
    p = put_lit(p, ",\"created_at\":");
    if (u->created_at > 0) {
        char ts[32];
        tc_time_format(u->created_at, ts);
        p = put_json_str(p, ts);
    } else {
        p = put_lit(p, "null");
    }
    p = put_lit(p, u->is_admin ? ",\"is_admin\":true}" : ",\"is_admin\":false}");
    return tc_http_reply_json_text(req, 200, buf, (size_t)(p - buf));
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
