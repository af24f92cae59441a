/* Building responses: JSON, empty, redirect, bytes, and the one error shape
 * {"error":{"code","message","field"}} (+ "details" for 422). A reply only
 * stores the response; server.c adds common headers and queues it. */
#include <string.h>

#include "http/http_int.h"

void tc_http__set_resp(http_conn *hc, int status, struct MHD_Response *r, uint64_t bytes)
{
    if (hc->resp) /* a second reply replaces the first: last one wins */
        MHD_destroy_response(hc->resp);
    hc->resp = r;
    hc->status = status;
    hc->bytes = bytes;
}

struct MHD_Response *tc_http__json_response(json_t *json, size_t *len)
{
    char *text = json ? json_dumps(json, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    if (!text)
        text = tc_strdup("null");
    *len = strlen(text);
    struct MHD_Response *r = MHD_create_response_from_buffer(*len, text, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(text);
        return NULL;
    }
    MHD_add_response_header(r, "Content-Type", "application/json");
    MHD_add_response_header(r, "Cache-Control", "no-store");
    return r;
}

tc_status tc_http_reply_json(tc_http_req *req, int status, json_t *json)
{
    http_conn *hc = (http_conn *)req;
    size_t len;
    struct MHD_Response *r = tc_http__json_response(json, &len);
    json_decref(json);
    if (!r)
        return TC_INTERNAL;
    tc_http__set_resp(hc, status, r, len);
    return TC_OK;
}

tc_status tc_http_reply_json_text(tc_http_req *req, int status, const char *json, size_t len)
{
    http_conn *hc = (http_conn *)req;
    struct MHD_Response *r =
        MHD_create_response_from_buffer(len, (void *)json, MHD_RESPMEM_MUST_COPY);
    if (!r)
        return TC_INTERNAL;
    MHD_add_response_header(r, "Content-Type", "application/json");
    MHD_add_response_header(r, "Cache-Control", "no-store");
    tc_http__set_resp(hc, status, r, len);
    return TC_OK;
}

tc_status tc_http_reply_bytes(tc_http_req *req, int status, const char *content_type,
                              const void *body, size_t len)
{
    http_conn *hc = (http_conn *)req;
    struct MHD_Response *r =
        MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
    if (!r)
        return TC_INTERNAL;
    if (content_type)
        MHD_add_response_header(r, "Content-Type", content_type);
    tc_http__set_resp(hc, status, r, len);
    return TC_OK;
}

tc_status tc_http_reply_empty(tc_http_req *req, int status)
{
    return tc_http_reply_bytes(req, status, NULL, "", 0);
}

tc_status tc_http_reply_redirect(tc_http_req *req, const char *location)
{
    if (!location || strpbrk(location, "\r\n"))
        return TC_INTERNAL;
    tc_status st = tc_http_reply_bytes(req, 302, NULL, "", 0);
    if (st == TC_OK)
        MHD_add_response_header(((http_conn *)req)->resp, "Location", location);
    return st;
}

/* Builds the error body. details (an array, stolen) only for 422. */
struct MHD_Response *tc_http__error_response(const tc_err *err, json_t *details, int *status, size_t *len)
{
    tc_status st = err->status;
    if (st == TC_OK || st == TC_DECLINED || st >= TC__STATUS_COUNT)
        st = TC_INTERNAL;
    *status = tc_status_http(st);
    const char *msg = err->message[0] ? err->message : tc_strerror(st);
    json_t *e = json_pack("{s:s, s:s}", "code", err->status == st ? tc_err_code(err) : tc_status_code(st),
                          "message", msg);
    if (!e) /* invalid UTF-8 in a message: never fail the error path */
        e = json_pack("{s:s, s:s}", "code", tc_status_code(st), "message", tc_strerror(st));
    if (err->field[0])
        json_object_set_new(e, "field", json_string(err->field));
    if (st == TC_VALIDATION && details)
        json_object_set(e, "details", details);
    json_decref(details);
    json_t *body = json_pack("{s:o}", "error", e);
    struct MHD_Response *r = tc_http__json_response(body, len);
    json_decref(body);
    return r;
}

void tc_http__reply_error(http_conn *hc, const tc_err *err)
{
    int status;
    size_t len = 0;
    struct MHD_Response *r = tc_http__error_response(err, hc->pub.details, &status, &len);
    hc->pub.details = NULL;
    if (r && status == 401)
        MHD_add_response_header(r, "WWW-Authenticate", "Bearer");
    if (r)
        tc_http__set_resp(hc, status, r, len);
}

void tc_http_set_header(tc_http_req *req, const char *name, const char *value)
{
    http_conn *hc = (http_conn *)req;
    if (!name || !value || strpbrk(name, "\r\n:") || strpbrk(value, "\r\n"))
        return;
    http_hdr *h = tc_arena_alloc(req->arena, sizeof(*h));
    h->name = tc_arena_strdup(req->arena, name);
    h->value = tc_arena_strdup(req->arena, value);
    h->next = hc->headers;
    hc->headers = h;
}
