/* Baseline for bench/http: a bare libmicrohttpd server with the same
 * threading model as toolconnect (epoll, internal thread pool) answering
 * every request with the bytes GET /healthz returns; with ME_BODY (a file),
 * GET /api/me answers that file's bytes instead (what toolconnect's
 * /api/me returned in the same run). Usage:
 *   bare PORT [THREADS] [ME_BODY]  (prints "listening PORT" when ready; SIGTERM stops) */
#include <microhttpd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char body[] = "{\"status\":\"ok\"}";
static struct MHD_Response *resp, *me_resp;

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                               const char *version, const char *upload, size_t *upload_size, void **state)
{
    if (!*state) { /* answer on the second call, like toolconnect */
        *state = (void *)1;
        return MHD_YES;
    }
    return MHD_queue_response(c, MHD_HTTP_OK, me_resp && !strcmp(url, "/api/me") ? me_resp : resp);
}

int main(int argc, char **argv)
{
    int port = argc > 1 ? atoi(argv[1]) : 8090;
    unsigned threads = argc > 2 ? (unsigned)atoi(argv[2]) : 2;
    resp = MHD_create_response_from_buffer(sizeof(body) - 1, (void *)body, MHD_RESPMEM_PERSISTENT);
    MHD_add_response_header(resp, "Content-Type", "application/json");
    static char me_body[4096];
    FILE *f = argc > 3 ? fopen(argv[3], "rb") : NULL;
    if (f) {
        size_t n = fread(me_body, 1, sizeof(me_body), f);
        fclose(f);
        me_resp = MHD_create_response_from_buffer(n, me_body, MHD_RESPMEM_PERSISTENT);
        MHD_add_response_header(me_resp, "Content-Type", "application/json");
    }
    struct MHD_Daemon *d = MHD_start_daemon(MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ERROR_LOG, (uint16_t)port,
                                            NULL, NULL, handler, NULL, MHD_OPTION_THREAD_POOL_SIZE, threads,
                                            MHD_OPTION_CONNECTION_TIMEOUT, 30u, MHD_OPTION_END);
    if (!d) {
        fprintf(stderr, "bare: cannot listen on %d\n", port);
        return 1;
    }
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    printf("listening %d\n", port);
    fflush(stdout);
    int sig;
    sigwait(&set, &sig);
    MHD_stop_daemon(d);
    MHD_destroy_response(resp);
    return 0;
}
