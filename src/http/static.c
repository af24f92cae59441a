/* Static files of the built web app (web root) for GET/HEAD of non-/api
 * paths. Unknown extension-less paths get index.html (the SPA decides);
 * hashed files under /assets/ are cached for a year; index.html is never
 * cached. gzip: a precompressed NAME.gz wins, else compressible types are
 * compressed on the fly (zlib) when the client accepts gzip. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "http/http_int.h"

#define STATIC_GZIP_MAX (8u << 20)  /* compress on the fly up to this size */
#define STATIC_GZIP_MIN 256u

typedef struct {
    const char *ext;
    const char *type;
    bool compress;
} mime;

static const mime mimes[] = {
    {"html", "text/html; charset=utf-8", true},
    {"js", "text/javascript; charset=utf-8", true},
    {"mjs", "text/javascript; charset=utf-8", true},
    {"css", "text/css; charset=utf-8", true},
    {"json", "application/json", true},
    {"map", "application/json", true},
    {"webmanifest", "application/manifest+json", true},
    {"svg", "image/svg+xml", true},
    {"txt", "text/plain; charset=utf-8", true},
    {"xml", "application/xml", true},
    {"wasm", "application/wasm", true},
    {"png", "image/png", false},
    {"jpg", "image/jpeg", false},
    {"jpeg", "image/jpeg", false},
    {"gif", "image/gif", false},
    {"webp", "image/webp", false},
    {"avif", "image/avif", false},
    {"ico", "image/x-icon", false},
    {"woff", "font/woff", false},
    {"woff2", "font/woff2", false},
    {"ttf", "font/ttf", false},
};

static const mime *mime_for(const char *path)
{
    static const mime fallback = {"", "application/octet-stream", false};
    const char *slash = strrchr(path, '/');
    const char *dot = strrchr(slash ? slash : path, '.');
    if (!dot)
        return &fallback;
    for (size_t i = 0; i < sizeof(mimes) / sizeof(mimes[0]); i++)
        if (!strcasecmp(dot + 1, mimes[i].ext))
            return &mimes[i];
    return &fallback;
}

/* Rejects "..", ".", empty segments, backslashes and control bytes. */
static bool safe_path(const char *p)
{
    if (*p != '/')
        return false;
    for (const char *s = p + 1; *s;) {
        const char *e = strchr(s, '/');
        size_t n = e ? (size_t)(e - s) : strlen(s);
        if ((n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.'))
            return false;
        if (n == 0 && e)
            return false;
        for (size_t i = 0; i < n; i++)
            if ((unsigned char)s[i] < 0x20 || s[i] == '\\' || s[i] == 0x7f)
                return false;
        if (!e)
            break;
        s = e + 1;
    }
    return true;
}

/* "gzip" listed in Accept-Encoding without q=0. */
static bool accepts_gzip(tc_http_req *req)
{
    const char *ae = tc_http_header(req, "Accept-Encoding");
    const char *p = ae ? strcasestr(ae, "gzip") : NULL;
    if (!p)
        return false;
    p += 4;
    p += strspn(p, " ");
    if (*p != ';')
        return true;
    p++;
    p += strspn(p, " ");
    if (strncasecmp(p, "q=0", 3) != 0)
        return true;
    p += 3;
    if (*p != '.')
        return false;
    p++;
    return strspn(p, "0") != strspn(p, "0123456789");
}

static const char *cache_control(const char *urlpath, bool is_index)
{
    if (is_index)
        return "no-cache";
    if (!strncmp(urlpath, "/assets/", 8))
        return "public, max-age=31536000, immutable";
    return "public, max-age=300";
}

static tc_status not_built(http_conn *hc)
{
    static const char page[] =
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>Tool Connect Craft</title></head>"
        "<body><h1>Tool Connect Craft</h1><p>The server is running, but the web app is not built. "
        "Run <code>make web</code> (or <code>make run</code>), or point TC_WEB_ROOT at the built "
        "app. The API is available under <code>/api</code>.</p></body></html>\n";
    tc_http_reply_bytes(&hc->pub, 503, "text/html; charset=utf-8", page, sizeof(page) - 1);
    tc_http_set_header(&hc->pub, "Cache-Control", "no-cache");
    return TC_OK;
}

static tc_status reply_fd(http_conn *hc, int fd, size_t size)
{
    struct MHD_Response *r = MHD_create_response_from_fd(size, fd);
    if (!r) {
        close(fd);
        return TC_INTERNAL;
    }
    tc_http__set_resp(hc, 200, r, size);
    return TC_OK;
}

/* Compresses the file into a gzip member; TC_DECLINED when not worth it. */
static tc_status reply_gzip(http_conn *hc, int fd, size_t size)
{
    if (size < STATIC_GZIP_MIN || size > STATIC_GZIP_MAX)
        return TC_DECLINED;
    tc_status rc = TC_DECLINED;
    unsigned char *in = tc_malloc(size);
    unsigned char *out = NULL;
    z_stream z = {0};
    if (pread(fd, in, size, 0) != (ssize_t)size)
        goto out;
    if (deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        goto out;
    uLong cap = deflateBound(&z, (uLong)size);
    out = tc_malloc(cap);
    z.next_in = in;
    z.avail_in = (uInt)size;
    z.next_out = out;
    z.avail_out = (uInt)cap;
    int zr = deflate(&z, Z_FINISH);
    size_t outlen = cap - z.avail_out;
    deflateEnd(&z);
    if (zr != Z_STREAM_END || outlen >= size)
        goto out;
    struct MHD_Response *r = MHD_create_response_from_buffer(outlen, out, MHD_RESPMEM_MUST_FREE);
    if (!r)
        goto out;
    out = NULL;
    MHD_add_response_header(r, "Content-Encoding", "gzip");
    tc_http__set_resp(hc, 200, r, outlen);
    rc = TC_OK;
out:
    free(in);
    free(out);
    return rc;
}

static int open_regular(const char *path, struct stat *st)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return -1;
    if (fstat(fd, st) != 0 || !S_ISREG(st->st_mode)) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Serves fs (a file under the web root) for urlpath. */
static tc_status serve_file(http_conn *hc, const char *fs, const char *urlpath, int fd, struct stat *st,
                            bool is_index)
{
    tc_http_req *req = &hc->pub;
    const mime *m = mime_for(fs);
    bool gz = m->compress && accepts_gzip(req);
    tc_status rc = TC_DECLINED;
    if (gz) {
        struct stat gst;
        int gfd = open_regular(tc_arena_printf(req->arena, "%s.gz", fs), &gst);
        if (gfd >= 0 && gst.st_mtime >= st->st_mtime) {
            close(fd);
            fd = -1;
            rc = reply_fd(hc, gfd, (size_t)gst.st_size);
            if (rc == TC_OK)
                MHD_add_response_header(hc->resp, "Content-Encoding", "gzip");
        } else {
            if (gfd >= 0)
                close(gfd);
            rc = reply_gzip(hc, fd, (size_t)st->st_size);
        }
    }
    if (rc == TC_DECLINED) {
        rc = reply_fd(hc, fd, (size_t)st->st_size);
        fd = -1;
    } else if (fd >= 0) {
        close(fd);
    }
    if (rc != TC_OK)
        return rc;
    MHD_add_response_header(hc->resp, "Content-Type", m->type);
    MHD_add_response_header(hc->resp, "Cache-Control", cache_control(urlpath, is_index));
    if (m->compress)
        MHD_add_response_header(hc->resp, "Vary", "Accept-Encoding");
    return TC_OK;
}

static bool has_extension(const char *path)
{
    const char *slash = strrchr(path, '/');
    return strchr(slash ? slash : path, '.') != NULL;
}

tc_status tc_http__static(http_conn *hc, tc_err *err)
{
    tc_http_req *req = &hc->pub;
    const char *root = hc->srv->web_root;
    struct stat st;
    if (!safe_path(req->path))
        return tc_failf(err, TC_NOT_FOUND, NULL, "no such file");
    if (stat(root, &st) != 0 || !S_ISDIR(st.st_mode))
        return not_built(hc);
    const char *fs = tc_arena_printf(req->arena, "%s%s", root, req->path);
    bool is_index = !strcmp(req->path, "/") || !strcmp(req->path, "/index.html");
    int fd = strcmp(req->path, "/") ? open_regular(fs, &st) : -1;
    if (fd < 0) {
        if (has_extension(req->path) && !is_index)
            return tc_failf(err, TC_NOT_FOUND, NULL, "no such file: %s", req->path);
        fs = tc_arena_printf(req->arena, "%s/index.html", root);
        fd = open_regular(fs, &st);
        is_index = true;
        if (fd < 0)
            return not_built(hc);
    }
    return serve_file(hc, fs, req->path, fd, &st, is_index);
}
