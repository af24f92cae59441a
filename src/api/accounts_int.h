/* Helpers shared by the accounts handlers (auth.c, me.c, sessions.c,
 * api_keys.c). Not a public interface. */
#ifndef TC_API_ACCOUNTS_INT_H
#define TC_API_ACCOUNTS_INT_H

#include "auth/auth.h"
#include "http/http.h"

/* The service, or TC_UNAVAILABLE in err when the module is not started. */
tc_auth *tc_api__auth(tc_err *err);
/* The authenticated caller (set by the hook; routes are TC_AUTH_REQUIRED). */
const tc_auth_principal *tc_api__principal(tc_http_req *req);
/* Turns a TC_VALIDATION err with a field into req->details; returns st. */
tc_status tc_api__details(tc_http_req *req, tc_status st, const tc_err *err);
/* {id, email, created_at, is_admin}: a new reference. */
json_t *tc_api__user_json(const tc_auth_user *u);
/* RFC 3339 string for ms, or JSON null for 0. */
json_t *tc_api__time_json(int64_t ms);
/* Sets the Retry-After header (seconds). */
void tc_api__retry_after(tc_http_req *req, int64_t seconds);
/* limit (1..100, default 50) and cursor query parameters. */
tc_status tc_api__page(tc_http_req *req, int *limit, const char **cursor, tc_err *err);
/* An auth call that revokes one of user_id's own items (session, API key). */
typedef tc_status (*tc_api__revoke_fn)(tc_auth *a, const char *user_id, const char *id,
                                       tc_err *err);
/* DELETE .../{id} of the caller's own item through revoke: 204 on success. */
tc_status tc_api__revoke(tc_http_req *req, tc_api__revoke_fn revoke, tc_err *err);

#endif
