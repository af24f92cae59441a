/* sse_bench: N concurrent GET /api/stream clients on one epoll thread
 * against a running toolconnect (loopback only), then P published changes;
 * reports the server's RSS per idle stream, its threads, and the fan-out
 * latency from the publish request until the last client has the event.
 *
 *   sse_bench PORT TOKEN SERVER_PID [streams=10000] [publishes=20]
 *
 * Bounded: gives up after 120 s in total. Exit 0 when every stream got
 * every event. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define CARRY 32
#define DEADLINE_NS (120LL * 1000000000LL)

typedef struct {
    int fd;
    int ready;  /* saw ": ready" */
    int jobs;   /* "event: job" frames seen */
    int64_t last_ns;
    char carry[CARRY];
    int ncarry;
} client;

static int port;
static const char *token;
static int64_t t_start;

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void check_deadline(void)
{
    if (now_ns() - t_start > DEADLINE_NS) {
        fprintf(stderr, "sse_bench: deadline passed\n");
        exit(2);
    }
}

static int dial(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
        perror("connect");
        exit(2);
    }
    return fd;
}

static void send_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w <= 0) {
            perror("write");
            exit(2);
        }
        p += w;
        n -= (size_t)w;
    }
}

/* Counts needle in carry+data across read boundaries. */
static int scan(client *c, const char *data, size_t n, const char *needle)
{
    char buf[CARRY + 65536];
    memcpy(buf, c->carry, (size_t)c->ncarry);
    memcpy(buf + c->ncarry, data, n);
    size_t len = (size_t)c->ncarry + n, nl = strlen(needle);
    int hits = 0;
    for (char *p = buf; (p = memmem(p, len - (size_t)(p - buf), needle, nl)); p += nl)
        hits++;
    size_t keep = len < CARRY - 1 ? len : CARRY - 1;
    memcpy(c->carry, buf + len - keep, keep);
    c->ncarry = (int)keep;
    return hits;
}

static void on_readable(client *c)
{
    char data[65536];
    for (;;) {
        ssize_t n = read(c->fd, data, sizeof(data));
        if (n == 0) {
            fprintf(stderr, "sse_bench: a stream ended early\n");
            exit(2);
        }
        if (n < 0)
            return; /* EAGAIN */
        if (!c->ready && memmem(data, (size_t)n, ": ready", 7))
            c->ready = 1;
        int j = scan(c, data, (size_t)n, "event: job");
        if (j) {
            c->jobs += j;
            c->last_ns = now_ns();
        }
    }
}

static void pump(int ep, client *cl, int ms)
{
    struct epoll_event ev[1024];
    int n = epoll_wait(ep, ev, 1024, ms);
    for (int i = 0; i < n; i++)
        on_readable(&cl[ev[i].data.u32]);
}

static long proc_status(int pid, const char *key)
{
    char path[64], line[256];
    snprintf(path, sizeof(path), "/proc/%d/status", pid);
    FILE *f = fopen(path, "r");
    long v = -1;
    while (f && fgets(line, sizeof(line), f))
        if (!strncmp(line, key, strlen(key)))
            v = atol(line + strlen(key) + 1);
    if (f)
        fclose(f);
    return v;
}

static int cmp64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static void publish(int k)
{
    char body[128], req[1024];
    int bn = snprintf(body, sizeof(body), "{\"kind\":\"job\",\"row\":{\"id\":\"bench-%d\",\"status\":\"running\"}}", k);
    int rn = snprintf(req, sizeof(req),
                      "POST /api/_test/stream/publish HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer %s\r\n"
                      "Content-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s",
                      token, bn, body);
    int fd = dial();
    send_all(fd, req, (size_t)rn);
    char resp[4096];
    while (read(fd, resp, sizeof(resp)) > 0) /* until the server closes */
        ;
    close(fd);
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: sse_bench PORT TOKEN SERVER_PID [streams] [publishes]\n");
        return 2;
    }
    port = atoi(argv[1]);
    token = argv[2];
    int pid = atoi(argv[3]);
    int n = argc > 4 ? atoi(argv[4]) : 10000;
    int pubs = argc > 5 ? atoi(argv[5]) : 20;
    t_start = now_ns();
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);

    long rss0 = proc_status(pid, "VmRSS:"), thr0 = proc_status(pid, "Threads:");
    client *cl = calloc((size_t)n, sizeof(*cl));
    int ep = epoll_create1(0);
    char req[1024];
    int rn = snprintf(req, sizeof(req), "GET /api/stream?kinds=job HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer %s\r\n\r\n",
                      token);
    int64_t t_open = now_ns();
    for (int i = 0; i < n; i++) {
        cl[i].fd = dial();
        send_all(cl[i].fd, req, (size_t)rn);
        fcntl(cl[i].fd, F_SETFL, O_NONBLOCK);
        struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
        epoll_ctl(ep, EPOLL_CTL_ADD, cl[i].fd, &ev);
        if (i % 200 == 199) /* let the server accept and answer */
            pump(ep, cl, 0);
    }
    for (int ready = 0; ready < n; check_deadline()) {
        pump(ep, cl, 50);
        ready = 0;
        for (int i = 0; i < n; i++)
            ready += cl[i].ready;
    }
    double open_s = (double)(now_ns() - t_open) / 1e9;
    struct timespec settle = {1, 0};
    nanosleep(&settle, NULL);
    pump(ep, cl, 0);
    long rss1 = proc_status(pid, "VmRSS:"), thr1 = proc_status(pid, "Threads:");

    int64_t *lat = calloc((size_t)pubs, sizeof(*lat)), *first = calloc((size_t)pubs, sizeof(*first));
    for (int k = 1; k <= pubs; k++) {
        int64_t t0 = now_ns();
        publish(k);
        int64_t t_first = 0;
        for (int done = 0; done < n; check_deadline()) {
            pump(ep, cl, 20);
            done = 0;
            for (int i = 0; i < n; i++) {
                done += cl[i].jobs >= k;
                if (cl[i].jobs >= k && (!t_first || cl[i].last_ns < t_first))
                    t_first = cl[i].last_ns;
            }
        }
        int64_t t_last = 0;
        for (int i = 0; i < n; i++)
            if (cl[i].last_ns > t_last)
                t_last = cl[i].last_ns;
        lat[k - 1] = t_last - t0;
        first[k - 1] = t_first - t0;
        struct timespec gap = {0, 100 * 1000000L};
        nanosleep(&gap, NULL);
    }
    long rss2 = proc_status(pid, "VmRSS:");
    qsort(lat, (size_t)pubs, sizeof(*lat), cmp64);
    qsort(first, (size_t)pubs, sizeof(*first), cmp64);
    int p99 = (int)((pubs * 99 + 99) / 100) - 1;
    printf("streams            %d (opened and ready in %.2f s)\n", n, open_s);
    printf("server RSS         %ld KiB before, %ld KiB with %d idle streams, %ld KiB after %d publishes\n", rss0,
           rss1, n, rss2, pubs);
    printf("RSS per idle stream %.1f KiB\n", (double)(rss1 - rss0) / n);
    printf("server threads     %ld before, %ld with the streams open\n", thr0, thr1);
    printf("fan-out, publish -> last client: p50 %.1f ms, p99 %.1f ms, max %.1f ms (%d publishes)\n",
           lat[pubs / 2] / 1e6, lat[p99] / 1e6, lat[pubs - 1] / 1e6, pubs);
    printf("fan-out, publish -> first client: p50 %.1f ms\n", first[pubs / 2] / 1e6);
    for (int i = 0; i < n; i++)
        close(cl[i].fd);
    free(cl);
    free(lat);
    free(first);
    return 0;
}
