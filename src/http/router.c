/* Route matching, Allow lists and listen-address parsing. Pure functions:
 * no MHD calls, so the unit tests exercise them directly. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/http_int.h"

/* One pattern segment against one path segment. {name} takes any non-empty
 * segment; literals must match exactly. */
static bool seg_match(tc_slice pat, tc_slice seg, tc_http_param_kv *params, int max_params,
                      int *np)
{
    if (pat.len >= 2 && pat.p[0] == '{' && pat.p[pat.len - 1] == '}') {
        if (seg.len == 0)
            return false;
        if (*np < max_params)
            params[(*np)++] = (tc_http_param_kv){{pat.p + 1, pat.len - 2}, seg};
        return true;
    }
    return pat.len == seg.len && memcmp(pat.p, seg.p, seg.len) == 0;
}

/* Takes the next '/'-separated segment; *s becomes NULL after the last one,
 * so "/a/" has the segments "a" and "". */
static bool next_seg(const char **s, tc_slice *seg)
{
    if (!*s)
        return false;
    const char *p = *s;
    const char *slash = strchr(p, '/');
    size_t n = slash ? (size_t)(slash - p) : strlen(p);
    *seg = (tc_slice){p, n};
    *s = slash ? slash + 1 : NULL;
    return true;
}

bool tc_http_route_match(const char *pattern, const char *path, tc_http_param_kv *params,
                         int max_params, int *nparams)
{
    int np = 0;
    if (*pattern != '/' || *path != '/')
        return false;
    const char *pp = pattern + 1, *sp = path + 1;
    for (;;) {
        tc_slice ps = {0}, ss = {0};
        bool hp = next_seg(&pp, &ps), hs = next_seg(&sp, &ss);
        if (!hp || !hs) {
            if (hp != hs)
                return false;
            break;
        }
        if (!seg_match(ps, ss, params, max_params, &np))
            return false;
    }
    if (nparams)
        *nparams = np;
    return true;
}

const char *tc_http__allow_header(tc_http_server *s, const char *path, tc_arena *a)
{
    tc_buf b;
    tc_buf_init(&b, 256);
    bool get = false;
    for (size_t i = 0; i < s->nroutes; i++) {
        const tc_route *r = &s->routes[i];
        if ((r->flags & TC_ROUTE_TEST) && !s->opt.test_routes)
            continue;
        if (!tc_http_route_match(r->pattern, path, NULL, 0, NULL))
            continue;
        if (b.len && strstr(b.data, r->method))
            continue;
        tc_buf_printf(&b, "%s%s", b.len ? ", " : "", r->method);
        get |= !strcmp(r->method, "GET");
    }
    if (get)
        tc_buf_puts(&b, ", HEAD");
    if (b.len)
        tc_buf_puts(&b, ", OPTIONS");
    char *out = b.len ? tc_arena_strdup(a, b.data) : NULL;
    tc_buf_free(&b);
    return out;
}

tc_status tc_http_parse_listen(const char *listen, char *host, size_t hostcap, int *port,
                               tc_err *err)
{
    const char *colon;
    const char *h = listen;
    size_t hlen;
    if (!listen || !*listen)
        return tc_failf(err, TC_BAD_REQUEST, "TC_LISTEN", "listen address is empty");
    if (*listen == '[') {
        const char *close = strchr(listen, ']');
        if (!close || close[1] != ':')
            return tc_failf(err, TC_BAD_REQUEST, "TC_LISTEN",
                            "listen address \"%s\" must look like [::1]:8080", listen);
        h = listen + 1;
        hlen = (size_t)(close - h);
        colon = close + 1;
    } else {
        colon = strrchr(listen, ':');
        if (!colon)
            return tc_failf(err, TC_BAD_REQUEST, "TC_LISTEN",
                            "listen address \"%s\" must look like host:port", listen);
        hlen = (size_t)(colon - listen);
    }
    if (hlen >= hostcap)
        return tc_failf(err, TC_BAD_REQUEST, "TC_LISTEN", "listen host is too long");
    char *end;
    long p = strtol(colon + 1, &end, 10);
    if (!colon[1] || *end || p < 0 || p > 65535)
        return tc_failf(err, TC_BAD_REQUEST, "TC_LISTEN",
                        "listen port in \"%s\" must be 0..65535", listen);
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    *port = (int)p;
    return TC_OK;
}
