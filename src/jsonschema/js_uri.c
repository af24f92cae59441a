/* RFC 3986 reference resolution (section 5.2), just enough for $id and $ref:
 * scheme, authority, path, query and fragment, with dot-segment removal. */
#include <string.h>

#include "jsonschema/js_uri.h"

typedef struct {
    tc_slice scheme, auth, path, query, frag;
    bool has_scheme, has_auth, has_query, has_frag;
} uri_parts;

static void uri_split(const char *s, uri_parts *u)
{
    memset(u, 0, sizeof *u);
    const char *p = s;
    const char *colon = p + strcspn(p, ":/?#");
    if (*colon == ':' && colon > p) {
        u->has_scheme = true;
        u->scheme = (tc_slice){p, (size_t)(colon - p)};
        p = colon + 1;
    }
    if (p[0] == '/' && p[1] == '/') {
        p += 2;
        size_t n = strcspn(p, "/?#");
        u->has_auth = true;
        u->auth = (tc_slice){p, n};
        p += n;
    }
    size_t n = strcspn(p, "?#");
    u->path = (tc_slice){p, n};
    p += n;
    if (*p == '?') {
        p++;
        n = strcspn(p, "#");
        u->has_query = true;
        u->query = (tc_slice){p, n};
        p += n;
    }
    if (*p == '#') {
        u->has_frag = true;
        u->frag = (tc_slice){p + 1, strlen(p + 1)};
    }
}

/* Removes "." and ".." segments from path (RFC 3986 5.2.4) into out. */
static void remove_dots(tc_slice in, tc_buf *out)
{
    const char *p = in.p, *end = in.p + in.len;
    while (p < end) {
        size_t rest = (size_t)(end - p);
        if (rest >= 3 && !memcmp(p, "../", 3)) {
            p += 3;
        } else if (rest >= 2 && !memcmp(p, "./", 2)) {
            p += 2;
        } else if ((rest >= 3 && !memcmp(p, "/./", 3)) || (rest == 2 && !memcmp(p, "/.", 2))) {
            p += 2;
            if (rest == 2) {
                tc_buf_puts(out, "/");
                break;
            }
        } else if ((rest >= 4 && !memcmp(p, "/../", 4)) || (rest == 3 && !memcmp(p, "/..", 3))) {
            char *slash = out->len ? memrchr(out->data, '/', out->len) : NULL;
            out->len = slash ? (size_t)(slash - out->data) : 0;
            if (out->data)
                out->data[out->len] = 0;
            p += 3;
            if (rest == 3) {
                tc_buf_puts(out, "/");
                break;
            }
        } else if ((rest == 1 && *p == '.') || (rest == 2 && !memcmp(p, "..", 2))) {
            break;
        } else {
            const char *seg = p + (*p == '/');
            const char *next = memchr(seg, '/', (size_t)(end - seg));
            if (!next)
                next = end;
            tc_buf_append(out, p, (size_t)(next - p));
            p = next;
        }
    }
}

char *tc_js__uri_resolve(const char *base, const char *ref)
{
    uri_parts b, r;
    uri_split(base ? base : "", &b);
    uri_split(ref, &r);
    tc_buf out, path;
    tc_buf_init(&out, 1 << 16);
    tc_buf_init(&path, 1 << 16);
    tc_slice scheme = b.scheme, auth = b.auth, query = b.query;
    bool has_scheme = b.has_scheme, has_auth = b.has_auth, has_query = b.has_query;
    if (r.has_scheme) {
        scheme = r.scheme, has_scheme = true;
        auth = r.auth, has_auth = r.has_auth;
        remove_dots(r.path, &path);
        query = r.query, has_query = r.has_query;
    } else if (r.has_auth) {
        auth = r.auth, has_auth = true;
        remove_dots(r.path, &path);
        query = r.query, has_query = r.has_query;
    } else if (r.path.len == 0) {
        tc_buf_append(&path, b.path.p, b.path.len);
        if (r.has_query)
            query = r.query, has_query = true;
    } else {
        if (r.path.p[0] == '/') {
            remove_dots(r.path, &path);
        } else {
            tc_buf merged;
            tc_buf_init(&merged, 1 << 16);
            if (b.has_auth && b.path.len == 0) {
                tc_buf_puts(&merged, "/");
            } else {
                const char *slash = b.path.len ? memrchr(b.path.p, '/', b.path.len) : NULL;
                if (slash)
                    tc_buf_append(&merged, b.path.p, (size_t)(slash - b.path.p) + 1);
            }
            tc_buf_append(&merged, r.path.p, r.path.len);
            remove_dots((tc_slice){merged.data ? merged.data : "", merged.len}, &path);
            tc_buf_free(&merged);
        }
        query = r.query, has_query = r.has_query;
    }
    if (has_scheme) {
        tc_buf_append(&out, scheme.p, scheme.len);
        tc_buf_puts(&out, ":");
    }
    if (has_auth) {
        tc_buf_puts(&out, "//");
        tc_buf_append(&out, auth.p, auth.len);
    }
    if (path.len)
        tc_buf_append(&out, path.data, path.len);
    if (has_query) {
        tc_buf_puts(&out, "?");
        tc_buf_append(&out, query.p, query.len);
    }
    if (r.has_frag) {
        tc_buf_puts(&out, "#");
        tc_buf_append(&out, r.frag.p, r.frag.len);
    }
    tc_buf_free(&path);
    char *res = tc_buf_steal(&out);
    return res ? res : tc_strdup("");
}
