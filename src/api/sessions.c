/* /api/sessions (GET) and /api/sessions/{id} (DELETE). */
#include <stdlib.h>

#include "api/accounts_int.h"
#include "api/api.h"

static json_t *session_json(const tc_auth_session *s)
{
    return json_pack("{s:s, s:o, s:o, s:o, s:o, s:o, s:b}", "id", s->id, "created_at",
                     tc_api__time_json(s->created_at), "last_used_at",
                     tc_api__time_json(s->last_used_at), "expires_at",
                     tc_api__time_json(s->expires_at), "user_agent",
                     s->user_agent[0] ? json_string(s->user_agent) : json_null(), "ip",
                     s->ip[0] ? json_string(s->ip) : json_null(), "current", s->current);
}

tc_status tc_api_sessions_list(tc_http_req *req, tc_err *err)
{
    tc_auth *a = tc_api__auth(err);
    int limit = 0;
    const char *cursor = NULL;
    tc_auth_session *items = NULL;
    size_t n = 0;
    char *next = NULL;
    if (!a)
        return TC_UNAVAILABLE;
    tc_status st = tc_api__page(req, &limit, &cursor, err);
    if (st == TC_OK)
        st = tc_auth_sessions_list(a, tc_api__principal(req), limit, cursor, &items, &n, &next,
                                   err);
    if (st != TC_OK)
        return st;
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, session_json(&items[i]));
    free(items);
    return tc_api__reply_list(req, arr, next);
}

tc_status tc_api_sessions_delete(tc_http_req *req, tc_err *err)
{
    return tc_api__revoke(req, tc_auth_session_revoke, err);
}
