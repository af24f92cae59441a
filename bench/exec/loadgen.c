/* loadgen: a small HTTP/1.1 load generator (raw non-blocking sockets, epoll,
 * keep-alive) that spends a few microseconds of CPU per call, so the
 * process under test keeps the cores.
 *
 *   loadgen seq  --n N [--warmup W] --url A [req opts] --url B [req opts]
 *       N rounds of one call to A then one call to B, one at a time, on one
 *       kept connection each; latency of every call in ns. Prints p50/p99 of
 *       A, of B and of the per-round difference A - B.
 *   loadgen conc --n N --c C [--warmup W] --url U [req opts]
 *       N calls to U with C in flight (C connections); prints calls/s.
 *
 *   req opts (apply to the preceding --url):
 *       -X METHOD          default GET, or POST with a body
 *       -H 'Name: value'   repeatable
 *       -d BODY            request body (sent with Content-Length)
 *       --expect STATUS    default 200
 *       --expect-body STR  the body must contain STR
 *   --timeout-ms MS       per call (default 30000)
 *
 * Output: one JSON object on stdout: per target ok/fail counts and latency
 * percentiles (µs), the loadgen's own CPU time (user+system, getrusage) for
 * the measured part, and the first failure seen. Exit status 0 even with
 * failures (they are counted); 2 on bad usage, 1 when a target cannot be
 * reached at all.
 *
 * Limits: http:// only, responses up to 4 MiB (larger ones fail), Content-
 * Length or chunked bodies, 1024 connections. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define RESP_MAX (4u << 20)
#define CONN_MAX 1024
#define HEADERS_MAX 32
#define EXCERPT 300

typedef struct target {
    const char *url;
    const char *method;
    const char *headers[HEADERS_MAX];
    int nheaders;
    const char *body;
    int expect;
    const char *expect_body;
    struct sockaddr_storage addr;
    socklen_t addrlen;
    char *request; /* the whole request, built once */
    size_t request_len;
    /* results */
    int64_t *lat;
    size_t nlat, ok, fail;
    char first_failure[EXCERPT + 64];
} target;

typedef struct conn {
    int fd;
    target *t;
    bool busy, connected;
    size_t sent;
    char *in;
    size_t in_len, in_cap;
    int64_t start_ns;
    bool record; /* false during warm-up */
} conn;

typedef struct loop {
    int ep;
    int timeout_ms;
    size_t done; /* calls completed (ok or failed) */
} loop;

__attribute__((format(printf, 1, 2), noreturn)) static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "loadgen: ");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(2);
}

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void *xrealloc(void *p, size_t n)
{
    p = realloc(p, n);
    if (!p)
        abort();
    return p;
}

/* ---- targets ---------------------------------------------------------------- */

/* Resolves t->url (http://host[:port]/path) and builds the request bytes. */
static void target_prepare(target *t)
{
    const char *u = t->url;
    if (strncmp(u, "http://", 7))
        die("only http:// URLs are supported: %s", u);
    const char *host = u + 7, *slash = strchr(host, '/');
    const char *path = slash ? slash : "/";
    size_t hostlen = slash ? (size_t)(slash - host) : strlen(host);
    char hostport[256], name[256], port[16] = "80";
    if (hostlen == 0 || hostlen >= sizeof(hostport))
        die("bad host in URL %s", u);
    memcpy(hostport, host, hostlen);
    hostport[hostlen] = '\0';
    snprintf(name, sizeof(name), "%s", hostport);
    char *colon = strrchr(name, ':');
    if (colon) {
        snprintf(port, sizeof(port), "%s", colon + 1);
        *colon = '\0';
    }
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *ai;
    if (getaddrinfo(name, port, &hints, &ai) != 0)
        die("cannot resolve %s", u);
    memcpy(&t->addr, ai->ai_addr, ai->ai_addrlen);
    t->addrlen = ai->ai_addrlen;
    freeaddrinfo(ai);

    if (!t->method)
        t->method = t->body ? "POST" : "GET";
    size_t cap = 256 + strlen(path) + hostlen + (t->body ? strlen(t->body) : 0);
    for (int i = 0; i < t->nheaders; i++)
        cap += strlen(t->headers[i]) + 2;
    t->request = xrealloc(NULL, cap);
    int n = snprintf(t->request, cap, "%s %s HTTP/1.1\r\nHost: %s\r\n", t->method, path, hostport);
    for (int i = 0; i < t->nheaders; i++)
        n += snprintf(t->request + n, cap - (size_t)n, "%s\r\n", t->headers[i]);
    if (t->body)
        n += snprintf(t->request + n, cap - (size_t)n, "Content-Length: %zu\r\n\r\n%s", strlen(t->body), t->body);
    else
        n += snprintf(t->request + n, cap - (size_t)n, "\r\n");
    t->request_len = (size_t)n;
}

/* Counts a failed call (when recording) and keeps the first one's story. */
static void target_fail(target *t, bool record, const char *what, int status, const char *excerpt, size_t len)
{
    if (record)
        t->fail++;
    if (t->first_failure[0])
        return;
    char ex[EXCERPT + 1];
    size_t k = len < EXCERPT ? len : EXCERPT;
    memcpy(ex, excerpt ? excerpt : "", excerpt ? k : 0);
    ex[excerpt ? k : 0] = '\0';
    if (status)
        snprintf(t->first_failure, sizeof(t->first_failure), "%s (HTTP %d): %s", what, status, ex);
    else
        snprintf(t->first_failure, sizeof(t->first_failure), "%s: %s", what, ex);
}

/* ---- HTTP response parsing -------------------------------------------------- */

typedef struct resp {
    int status;
    const char *body;
    size_t body_len;
    size_t total; /* bytes of the buffer this response used */
    bool close;
} resp;

static bool header_is(const char *line, size_t len, const char *name, const char **value)
{
    size_t n = strlen(name);
    if (len <= n || strncasecmp(line, name, n) || line[n] != ':')
        return false;
    const char *v = line + n + 1;
    while (*v == ' ' || *v == '\t')
        v++;
    *value = v;
    return true;
}

/* Decodes a chunked body in place. 1 complete (*out_len, *used set), 0 need
 * more, -1 malformed. */
static int dechunk(char *b, size_t len, size_t *out_len, size_t *used)
{
    size_t r = 0, w = 0;
    for (;;) {
        char *eol = memmem(b + r, len - r, "\r\n", 2);
        if (!eol)
            return 0;
        char *end;
        unsigned long sz = strtoul(b + r, &end, 16);
        if (end == b + r)
            return -1;
        size_t data = (size_t)(eol - b) + 2;
        if (sz == 0) {
            char *fin = memmem(b + data - 2, len - (data - 2), "\r\n\r\n", 4);
            if (!fin)
                return 0;
            *out_len = w;
            *used = (size_t)(fin - b) + 4;
            return 1;
        }
        if (len < data + sz + 2)
            return 0;
        memmove(b + w, b + data, sz);
        w += sz;
        r = data + sz + 2;
    }
}

/* 1 complete, 0 need more, -1 malformed. Chunked bodies are decoded in place
 * once complete (the buffer is consumed by then). */
static int parse_response(char *b, size_t len, resp *out)
{
    char *hend = memmem(b, len, "\r\n\r\n", 4);
    if (!hend)
        return 0;
    if (len < 12 || strncmp(b, "HTTP/1.", 7))
        return -1;
    *out = (resp){.status = atoi(b + 9)};
    long clen = -1;
    bool chunked = false;
    for (char *line = strstr(b, "\r\n") + 2; line < hend;) {
        char *eol = strstr(line, "\r\n");
        const char *v;
        if (header_is(line, (size_t)(eol - line), "Content-Length", &v))
            clen = atol(v);
        else if (header_is(line, (size_t)(eol - line), "Transfer-Encoding", &v))
            chunked = !strncasecmp(v, "chunked", 7);
        else if (header_is(line, (size_t)(eol - line), "Connection", &v))
            out->close = !strncasecmp(v, "close", 5);
        line = eol + 2;
    }
    size_t hlen = (size_t)(hend - b) + 4;
    if (chunked) {
        size_t blen, used;
        int r = dechunk(b + hlen, len - hlen, &blen, &used);
        if (r <= 0)
            return r;
        out->body = b + hlen;
        out->body_len = blen;
        out->total = hlen + used;
        return 1;
    }
    if (clen < 0) /* no length: body runs to close; we don't expect those */
        return out->status == 204 || out->status == 304 ? (out->total = hlen, 1) : -1;
    if (len < hlen + (size_t)clen)
        return 0;
    out->body = b + hlen;
    out->body_len = (size_t)clen;
    out->total = hlen + (size_t)clen;
    return 1;
}

/* ---- connections ------------------------------------------------------------- */

static void conn_close(loop *l, conn *c)
{
    if (c->fd >= 0) {
        epoll_ctl(l->ep, EPOLL_CTL_DEL, c->fd, NULL);
        close(c->fd);
    }
    c->fd = -1;
    c->connected = false;
    c->in_len = 0;
}

static bool conn_open(loop *l, conn *c)
{
    target *t = c->t;
    c->fd = socket(t->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0)
        return false;
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (connect(c->fd, (struct sockaddr *)&t->addr, t->addrlen) < 0 && errno != EINPROGRESS) {
        conn_close(l, c);
        return false;
    }
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = c};
    epoll_ctl(l->ep, EPOLL_CTL_ADD, c->fd, &ev);
    c->connected = true;
    return true;
}

static void want_write(loop *l, conn *c, bool on)
{
    struct epoll_event ev = {.events = EPOLLIN | (on ? EPOLLOUT : 0), .data.ptr = c};
    epoll_ctl(l->ep, EPOLL_CTL_MOD, c->fd, &ev);
}

static void conn_flush(loop *l, conn *c)
{
    target *t = c->t;
    while (c->sent < t->request_len) {
        ssize_t n = send(c->fd, t->request + c->sent, t->request_len - c->sent, MSG_NOSIGNAL);
        if (n < 0 && (errno == EAGAIN || errno == EINTR || errno == ENOTCONN))
            break;
        if (n < 0)
            return; /* the read side sees the error */
        c->sent += (size_t)n;
    }
    want_write(l, c, c->sent < t->request_len);
}

/* Ends the call on c: records latency and checks the answer (r NULL: a
 * transport failure described by why). */
static void conn_done(loop *l, conn *c, const resp *r, const char *why)
{
    target *t = c->t;
    int64_t lat = now_ns() - c->start_ns;
    c->busy = false;
    l->done++;
    if (!r) {
        target_fail(t, c->record, "transport error", 0, why, strlen(why));
        conn_close(l, c);
        return;
    }
    if (c->record)
        t->lat[t->nlat++] = lat;
    if (r->status != t->expect)
        target_fail(t, c->record, "unexpected status", r->status, r->body, r->body_len);
    else if (t->expect_body && !memmem(r->body, r->body_len, t->expect_body, strlen(t->expect_body)))
        target_fail(t, c->record, "body lacks the expected text", r->status, r->body, r->body_len);
    else if (c->record)
        t->ok++;
    size_t used = r->total;
    bool close_after = r->close;
    memmove(c->in, c->in + used, c->in_len - used);
    c->in_len -= used;
    if (close_after)
        conn_close(l, c);
}

static void conn_start(loop *l, conn *c, bool record)
{
    if (c->fd < 0 && !conn_open(l, c)) {
        c->start_ns = now_ns();
        c->record = record;
        c->busy = true;
        conn_done(l, c, NULL, "connect failed");
        return;
    }
    c->busy = true;
    c->record = record;
    c->sent = 0;
    c->start_ns = now_ns();
    conn_flush(l, c);
}

static void conn_read(loop *l, conn *c)
{
    for (;;) {
        if (c->in_cap - c->in_len < 4096) {
            if (c->in_cap >= RESP_MAX) {
                conn_done(l, c, NULL, "response too large");
                return;
            }
            c->in_cap = c->in_cap ? c->in_cap * 2 : 16384;
            c->in = xrealloc(c->in, c->in_cap + 1);
        }
        ssize_t n = recv(c->fd, c->in + c->in_len, c->in_cap - c->in_len, 0);
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            break;
        if (n <= 0) {
            if (c->busy)
                conn_done(l, c, NULL, n == 0 ? "connection closed" : strerror(errno));
            else
                conn_close(l, c); /* an idle keep-alive connection ended */
            return;
        }
        c->in_len += (size_t)n;
    }
    if (!c->busy)
        return;
    c->in[c->in_len] = '\0';
    resp r;
    int st = parse_response(c->in, c->in_len, &r);
    if (st < 0)
        conn_done(l, c, NULL, "malformed HTTP response");
    else if (st > 0)
        conn_done(l, c, &r, NULL);
}

/* Waits for events once (up to the per-call timeout) and handles them. */
static void loop_step(loop *l, conn *conns, size_t nconns)
{
    struct epoll_event ev[64];
    int n = epoll_wait(l->ep, ev, 64, 100);
    for (int i = 0; i < n; i++) {
        conn *c = ev[i].data.ptr;
        if (c->fd < 0)
            continue;
        if (ev[i].events & EPOLLOUT)
            conn_flush(l, c);
        if (ev[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP))
            conn_read(l, c);
    }
    int64_t now = now_ns();
    for (size_t i = 0; i < nconns; i++)
        if (conns[i].busy && now - conns[i].start_ns > (int64_t)l->timeout_ms * 1000000)
            conn_done(l, &conns[i], NULL, "timed out");
}

/* ---- modes ---------------------------------------------------------------------- */

static void run_one(loop *l, conn *c, bool record)
{
    conn_start(l, c, record);
    while (c->busy)
        loop_step(l, c, 1);
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* p-th percentile of sorted v (same rule as the node benches). */
static double pct_us(const int64_t *v, size_t n, double p)
{
    if (!n)
        return 0;
    size_t i = (size_t)(p / 100.0 * (double)n);
    return (double)v[i < n ? i : n - 1] / 1000.0;
}

static double cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
           (double)ru.ru_stime.tv_usec / 1e6;
}

static void json_str(const char *s)
{
    putchar('"');
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            printf("\\%c", ch);
        else if (ch < 0x20)
            printf("\\u%04x", ch);
        else
            putchar(ch);
    }
    putchar('"');
}

static void print_stats(const char *name, int64_t *v, size_t n)
{
    qsort(v, n, sizeof(*v), cmp_i64);
    double sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += (double)v[i];
    printf("\"%s\":{\"n\":%zu,\"p50_us\":%.1f,\"p90_us\":%.1f,\"p99_us\":%.1f,\"min_us\":%.1f,\"max_us\":%.1f,"
           "\"mean_us\":%.1f}",
           name, n, pct_us(v, n, 50), pct_us(v, n, 90), pct_us(v, n, 99), n ? (double)v[0] / 1000.0 : 0.0,
           n ? (double)v[n - 1] / 1000.0 : 0.0, n ? sum / (double)n / 1000.0 : 0.0);
}

static void print_target(const char *name, target *t)
{
    printf("\"%s\":{\"url\":", name);
    json_str(t->url);
    printf(",\"ok\":%zu,\"fail\":%zu,", t->ok, t->fail);
    int64_t *copy = xrealloc(NULL, (t->nlat ? t->nlat : 1) * sizeof(int64_t));
    memcpy(copy, t->lat, t->nlat * sizeof(int64_t));
    print_stats("latency", copy, t->nlat);
    free(copy);
    printf(",\"first_failure\":");
    if (t->first_failure[0])
        json_str(t->first_failure);
    else
        printf("null");
    putchar('}');
}

static void run_seq(loop *l, target *a, target *b, size_t n, size_t warmup)
{
    conn ca = {.fd = -1, .t = a}, cb = {.fd = -1, .t = b};
    for (size_t i = 0; i < warmup; i++) {
        run_one(l, &ca, false);
        run_one(l, &cb, false);
    }
    a->first_failure[0] = b->first_failure[0] = '\0';
    double cpu0 = cpu_s();
    int64_t t0 = now_ns();
    for (size_t i = 0; i < n; i++) {
        run_one(l, &ca, true);
        run_one(l, &cb, true);
    }
    double secs = (double)(now_ns() - t0) / 1e9, cpu = cpu_s() - cpu0;
    /* per-round difference, only over rounds where both calls got an answer */
    size_t m = a->nlat < b->nlat ? a->nlat : b->nlat;
    int64_t *diff = xrealloc(NULL, (m ? m : 1) * sizeof(int64_t));
    for (size_t i = 0; i < m; i++)
        diff[i] = a->lat[i] - b->lat[i];
    printf("{\"mode\":\"seq\",\"n\":%zu,\"warmup\":%zu,\"secs\":%.3f,", n, warmup, secs);
    print_target("a", a);
    putchar(',');
    print_target("b", b);
    putchar(',');
    print_stats("diff", diff, m);
    printf(",\"loadgen_cpu_s\":%.4f,\"loadgen_cpu_us_per_call\":%.2f}\n", cpu, n ? cpu * 1e6 / (double)(2 * n) : 0);
    free(diff);
    conn_close(l, &ca);
    conn_close(l, &cb);
    free(ca.in);
    free(cb.in);
}

/* Issues `total` calls over nc connections; returns when all ended. */
static void run_burst(loop *l, conn *cs, size_t nc, size_t total, bool record)
{
    size_t issued = 0;
    l->done = 0;
    for (size_t i = 0; i < nc && issued < total; i++, issued++)
        conn_start(l, &cs[i], record);
    while (l->done < total) {
        loop_step(l, cs, nc);
        for (size_t i = 0; i < nc && issued < total; i++)
            if (!cs[i].busy) {
                conn_start(l, &cs[i], record);
                issued++;
            }
    }
}

static void run_conc(loop *l, target *t, size_t n, size_t nc, size_t warmup)
{
    conn *cs = xrealloc(NULL, nc * sizeof(conn));
    for (size_t i = 0; i < nc; i++)
        cs[i] = (conn){.fd = -1, .t = t};
    if (warmup)
        run_burst(l, cs, nc, warmup, false);
    t->first_failure[0] = '\0';
    double cpu0 = cpu_s();
    int64_t t0 = now_ns();
    run_burst(l, cs, nc, n, true);
    double secs = (double)(now_ns() - t0) / 1e9, cpu = cpu_s() - cpu0;
    printf("{\"mode\":\"conc\",\"n\":%zu,\"concurrency\":%zu,\"warmup\":%zu,\"secs\":%.3f,\"calls_per_s\":%.0f,"
           "\"ok_per_s\":%.0f,",
           n, nc, warmup, secs, (double)n / secs, (double)t->ok / secs);
    print_target("target", t);
    printf(",\"loadgen_cpu_s\":%.4f,\"loadgen_cpu_us_per_call\":%.2f}\n", cpu, n ? cpu * 1e6 / (double)n : 0);
    for (size_t i = 0; i < nc; i++) {
        conn_close(l, &cs[i]);
        free(cs[i].in);
    }
    free(cs);
}

/* ---- command line ---------------------------------------------------------- */

static size_t num(const char *name, const char *v, size_t lo, size_t hi)
{
    char *end;
    unsigned long long x = v ? strtoull(v, &end, 10) : 0;
    if (!v || *end || x < lo || x > hi) {
        fprintf(stderr, "loadgen: %s must be an integer in [%zu, %zu]\n", name, lo, hi);
        exit(2);
    }
    return (size_t)x;
}

typedef struct args {
    const char *mode;
    size_t n, c, warmup;
    int timeout_ms;
    target t[2];
    int nt;
} args;

static target *cur(args *a, const char *opt)
{
    if (!a->nt)
        die("%s must follow a --url", opt);
    return &a->t[a->nt - 1];
}

static void parse_args(int argc, char **argv, args *a)
{
    if (argc < 2)
        die("usage: loadgen seq|conc --n N [--c C] [--warmup W] --url URL [-X M] [-H H]... [-d BODY] "
            "[--expect S] [--expect-body STR] ...");
    a->mode = argv[1];
    for (int i = 2; i < argc; i++) {
        const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v)
            die("%s needs a value", o);
        i++;
        if (!strcmp(o, "--n"))
            a->n = num(o, v, 1, 100000000);
        else if (!strcmp(o, "--c"))
            a->c = num(o, v, 1, CONN_MAX);
        else if (!strcmp(o, "--warmup"))
            a->warmup = num(o, v, 0, 100000000);
        else if (!strcmp(o, "--timeout-ms"))
            a->timeout_ms = (int)num(o, v, 1, 3600000);
        else if (!strcmp(o, "--url")) {
            if (a->nt == 2)
                die("at most two --url (%s)", v);
            a->t[a->nt++] = (target){.url = v, .expect = 200};
        } else if (!strcmp(o, "-X"))
            cur(a, o)->method = v;
        else if (!strcmp(o, "-d"))
            cur(a, o)->body = v;
        else if (!strcmp(o, "--expect"))
            cur(a, o)->expect = (int)num(o, v, 100, 599);
        else if (!strcmp(o, "--expect-body"))
            cur(a, o)->expect_body = v;
        else if (!strcmp(o, "-H")) {
            target *t = cur(a, o);
            if (t->nheaders == HEADERS_MAX || !strchr(v, ':') || strpbrk(v, "\r\n"))
                die("bad or too many -H: %s", v);
            t->headers[t->nheaders++] = v;
        } else
            die("unknown option %s", o);
    }
}

int main(int argc, char **argv)
{
    args a = {.n = 1000, .c = 16, .timeout_ms = 30000};
    parse_args(argc, argv, &a);
    bool seq = !strcmp(a.mode, "seq");
    if (!seq && strcmp(a.mode, "conc"))
        die("mode must be seq or conc, not %s", a.mode);
    if (a.nt != (seq ? 2 : 1))
        die("%s", seq ? "seq needs two --url (A, then B)" : "conc needs one --url");
    signal(SIGPIPE, SIG_IGN);
    for (int i = 0; i < a.nt; i++) {
        target_prepare(&a.t[i]);
        a.t[i].lat = xrealloc(NULL, a.n * sizeof(int64_t));
    }
    loop l = {.ep = epoll_create1(EPOLL_CLOEXEC), .timeout_ms = a.timeout_ms};
    if (l.ep < 0)
        die("epoll_create1: %s", strerror(errno));
    if (seq)
        run_seq(&l, &a.t[0], &a.t[1], a.n, a.warmup);
    else
        run_conc(&l, &a.t[0], a.n, a.c, a.warmup);
    fflush(stdout);
    int rc = 0;
    for (int i = 0; i < a.nt; i++) {
        if (a.t[i].ok == 0)
            rc = 1;
        free(a.t[i].lat);
        free(a.t[i].request);
    }
    close(l.ep);
    return rc;
}
