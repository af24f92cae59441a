/* Internals shared by the http module's files (not a public header). */
#ifndef TC_HTTP_INT_H
#define TC_HTTP_INT_H

#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>

#include "http/http.h"

#define HTTP_MAX_PARAMS 8
#define HTTP_HEADER_COUNT_DEFAULT 64
/* libmicrohttpd allocates (and zeroes) a block of this size per streaming
 * response: small, since every idle SSE stream holds one (frames are small;
 * a burst just takes more callback calls). */
#define HTTP_STREAM_BLOCK 1024
/* First chunk of a request's arena (the request state and a few strings). */
#define HTTP_ARENA_CHUNK 1024
/* Per-connection memory of libmicrohttpd (TC_HTTP_CONN_MEMORY). It bounds
 * the request header size (beyond: 431), and about half of it stays resident
 * per open connection: libmicrohttpd zeroes the read buffer (half the pool)
 * when it shrinks it to send the response, so it is the largest part of an
 * idle stream's memory (docs/performance.md, Realtime). */
#define HTTP_CONN_MEMORY_DEFAULT (12 * 1024)
#define HTTP_CONN_MEMORY_MIN 4096
#define HTTP_CONN_MEMORY_MAX (1024 * 1024)

typedef struct http_hdr {
    struct http_hdr *next;
    const char *name;
    const char *value;
} http_hdr;

/* Route slot used by metrics for requests without a table row. */
enum { SLOT_STATIC = 0, SLOT_UNMATCHED = 1, SLOT_FIRST_ROUTE = 2 };

/* Per-request state; the public part first (so &conn->pub casts back). */
typedef struct http_conn {
    tc_http_req pub;
    tc_http_server *srv;
    struct MHD_Connection *mhd;
    int64_t start_ns;
    tc_buf body;
    size_t body_seen;       /* bytes received, including discarded ones */
    bool body_too_large;
    bool dispatched;        /* the final call ran the phases */
    bool queued;            /* a response was handed to MHD */
    tc_http_param_kv params[HTTP_MAX_PARAMS];
    int nparams;
    http_hdr *headers;      /* extra response headers */
    json_t *json_body;
    struct MHD_Response *resp; /* built by a reply, waiting to be queued */
    int status;             /* status of the response */
    uint64_t bytes;         /* body bytes of the response (streams: sent) */
    int slot;               /* metrics slot */
    const char *cors_origin; /* allowed Origin to echo, or NULL */
    struct tc_http_pending *pending;
    struct tc_http_stream *stream;
} http_conn;

#define HTTP_NSTATUS 24
#define HTTP_NBUCKETS 12
typedef struct http_metrics {
    size_t nslots;
    _Atomic uint64_t *requests;   /* nslots * HTTP_NSTATUS */
    _Atomic uint64_t *buckets;    /* nslots * HTTP_NBUCKETS (non-cumulative) */
    _Atomic uint64_t *sum_us;     /* nslots */
    _Atomic uint64_t *count;      /* nslots */
} http_metrics;

struct tc_http_server {
    tc_http_options opt;
    char *listen;
    char *cors_origins;
    char *web_root;
    const tc_route *routes;
    size_t nroutes;
    struct MHD_Daemon *daemon;
    int port;
    char url[128];
    tc_http_auth_hook auth_hook;
    tc_http_rate_hook rate_hook;
    tc_http_metrics_hook metrics_hook;
    void *metrics_ctx;
    http_metrics metrics;
    /* lock guards the pending and stream lists and `stopping`.
     * Lock order: server lock, then a stream's lock. */
    pthread_mutex_t lock;
    struct tc_http_pending *pendings;
    struct tc_http_stream *streams;
    bool stopping;
    _Atomic int inflight;   /* requests between first call and completion */
    pthread_t ticker;
    bool ticker_running;
    pthread_cond_t ticker_cv;
};

/* server.c */
void tc_http__queue(http_conn *hc);
void tc_http__add_common_headers(http_conn *hc, struct MHD_Response *r);
/* reply.c */
void tc_http__reply_error(http_conn *hc, const tc_err *err);
struct MHD_Response *tc_http__error_response(const tc_err *err, json_t *details, int *status, size_t *len);
struct MHD_Response *tc_http__json_response(json_t *json, size_t *len);
void tc_http__set_resp(http_conn *hc, int status, struct MHD_Response *r, uint64_t bytes);
/* metrics.c */
tc_status tc_http__metrics_init(http_metrics *m, size_t nslots);
void tc_http__metrics_free(http_metrics *m);
void tc_http__metrics_observe(http_metrics *m, int slot, int status, int64_t ns);
/* static.c: GET/HEAD of a non-API path */
tc_status tc_http__static(http_conn *hc, tc_err *err);
/* pending.c */
void tc_http__pending_resumed(http_conn *hc);
void tc_http__pending_conn_done(http_conn *hc);
void tc_http__stream_conn_done(http_conn *hc);
void tc_http__fail_all_pending(tc_http_server *s);
void tc_http__close_all_streams(tc_http_server *s);
void *tc_http__ticker(void *arg);
/* router.c */
const char *tc_http__allow_header(tc_http_server *s, const char *path, tc_arena *a);

#endif
