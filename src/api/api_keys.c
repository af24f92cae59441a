/* /api/api-keys (POST, GET) and /api/api-keys/{id} (DELETE). */
#include <stddef.h>
#include <stdlib.h>

#include "api/accounts_int.h"
#include "api/api.h"

static json_t *key_json(const tc_auth_api_key *k)
{
    return json_pack("{s:s, s:s, s:s, s:o, s:o}", "id", k->id, "name", k->name, "prefix",
                     k->prefix, "created_at", tc_api__time_json(k->created_at), "last_used_at",
                     tc_api__time_json(k->last_used_at));
}

typedef struct key_body {
    const char *name;
} key_body;

static const tc_json_field key_fields[] = {
    {"name", TC_JF_STR, true, 0, TC_AUTH_KEY_NAME_MAX, offsetof(key_body, name)},
};

tc_status tc_api_api_keys_create(tc_http_req *req, tc_err *err)
{
    tc_auth *a = tc_api__auth(err);
    json_t *body = NULL;
    key_body b = {0};
    tc_auth_api_key k;
    char key[TC_AUTH_API_KEY_LEN + 1];
    if (!a)
        return TC_UNAVAILABLE;
    tc_status st = tc_http_json_body(req, &body, err);
    if (st == TC_OK)
        st = tc_json_read(body, key_fields, 1, &b, err);
    if (st == TC_OK)
        st = tc_auth_api_key_create(a, tc_api__principal(req)->user_id, b.name, &k, key, err);
    if (st != TC_OK)
        return tc_api__details(req, st, err);
    json_t *j = key_json(&k);
    json_object_set_new(j, "key", json_string(key)); /* shown once, never stored */
    tc_random_bytes(key, sizeof key);
    return tc_http_reply_json(req, 201, j);
}

tc_status tc_api_api_keys_list(tc_http_req *req, tc_err *err)
{
    tc_auth *a = tc_api__auth(err);
    int limit = 0;
    const char *cursor = NULL;
    tc_auth_api_key *items = NULL;
    size_t n = 0;
    char *next = NULL;
    if (!a)
        return TC_UNAVAILABLE;
    tc_status st = tc_api__page(req, &limit, &cursor, err);
    if (st == TC_OK)
        st = tc_auth_api_keys_list(a, tc_api__principal(req)->user_id, limit, cursor, &items, &n,
                                   &next, err);
    if (st != TC_OK)
        return st;
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, key_json(&items[i]));
    free(items);
    return tc_api__reply_list(req, arr, next);
}

tc_status tc_api_api_keys_delete(tc_http_req *req, tc_err *err)
{
    return tc_api__revoke(req, tc_auth_api_key_revoke, err);
}
