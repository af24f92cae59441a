/* Request accessors for handlers: path and query parameters, headers,
 * client address, body. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http/http_int.h"

const char *tc_http_param(tc_http_req *req, const char *name)
{
    http_conn *hc = (http_conn *)req;
    for (int i = 0; i < hc->nparams; i++) {
        tc_http_param_kv *kv = &hc->params[i];
        if (tc_slice_eq(kv->name, name))
            return tc_arena_strndup(req->arena, kv->value.p, kv->value.len);
    }
    return NULL;
}

const char *tc_http_query(tc_http_req *req, const char *name)
{
    http_conn *hc = (http_conn *)req;
    return MHD_lookup_connection_value(hc->mhd, MHD_GET_ARGUMENT_KIND, name);
}

tc_status tc_http_query_int(tc_http_req *req, const char *name, int64_t def, int64_t min,
                            int64_t max, int64_t *out, tc_err *err)
{
    const char *v = tc_http_query(req, name);
    if (!v) {
        *out = def;
        return TC_OK;
    }
    char *end;
    errno = 0;
    long long n = strtoll(v, &end, 10);
    if (!*v || *end || errno)
        return tc_failf(err, TC_BAD_REQUEST, name, "query parameter %s must be an integer", name);
    if (n < min || n > max)
        return tc_failf(err, TC_BAD_REQUEST, name, "query parameter %s must be between %lld and %lld",
                        name, (long long)min, (long long)max);
    *out = n;
    return TC_OK;
}

const char *tc_http_header(tc_http_req *req, const char *name)
{
    http_conn *hc = (http_conn *)req;
    return MHD_lookup_connection_value(hc->mhd, MHD_HEADER_KIND, name);
}

const char *tc_http_bearer(tc_http_req *req)
{
    const char *h = tc_http_header(req, "Authorization");
    if (!h || strncasecmp(h, "Bearer ", 7) != 0)
        return NULL;
    h += 7;
    while (*h == ' ')
        h++;
    return *h ? h : NULL;
}

const char *tc_http_client_addr(tc_http_req *req)
{
    http_conn *hc = (http_conn *)req;
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(hc->mhd, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    char buf[INET6_ADDRSTRLEN] = "unknown";
    if (ci && ci->client_addr) {
        const struct sockaddr *sa = ci->client_addr;
        if (sa->sa_family == AF_INET)
            inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, buf, sizeof(buf));
        else if (sa->sa_family == AF_INET6)
            inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, buf, sizeof(buf));
    }
    return tc_arena_strdup(req->arena, buf);
}

const char *tc_http_body(tc_http_req *req, size_t *len)
{
    http_conn *hc = (http_conn *)req;
    *len = hc->body.len;
    return hc->body.data ? hc->body.data : "";
}
