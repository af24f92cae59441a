/* core: the pieces every module uses.
 *   status codes + per-call error (tc_err), allocator that aborts on OOM,
 *   request arena with cleanup hooks, bounded growable buffers, slices,
 *   structured logging, clocks, random bytes, ids, base64/hex.
 * Nothing here knows about HTTP, SQL or JSON documents. */
#ifndef TC_CORE_H
#define TC_CORE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- status ------------------------------------------------------------
 * X(NAME, http_status, "api_error_code", "default message")
 * TC_OK and TC_DECLINED are not errors: DECLINED means "not mine, pass it on"
 * (middleware, route matching). */
#define TC_STATUS_MAP(X)                                                        \
    X(OK, 200, "ok", "success")                                                 \
    X(DECLINED, 0, "declined", "not handled")                                   \
    X(BAD_REQUEST, 400, "bad_request", "the request is malformed")              \
    X(INVALID_JSON, 400, "invalid_json", "the body is not valid JSON")          \
    X(UNAUTHORIZED, 401, "unauthorized", "missing or invalid credentials")      \
    X(FORBIDDEN, 403, "forbidden", "not allowed")                               \
    X(NOT_FOUND, 404, "not_found", "not found")                                 \
    X(METHOD_NOT_ALLOWED, 405, "method_not_allowed", "method not allowed")      \
    X(CONFLICT, 409, "conflict", "conflicts with the current state")            \
    X(TOO_LARGE, 413, "too_large", "too large")                                 \
    X(UNSUPPORTED_MEDIA, 415, "unsupported_media_type", "unsupported content type") \
    X(VALIDATION, 422, "validation_failed", "validation failed")                \
    X(RATE_LIMITED, 429, "rate_limited", "too many requests")                   \
    X(INTERNAL, 500, "internal", "internal error")                              \
    X(DB, 500, "database_error", "database error")                              \
    X(IO, 500, "io_error", "input/output error")                                \
    X(UPSTREAM, 502, "upstream_error", "the upstream service failed")           \
    X(UNAVAILABLE, 503, "unavailable", "temporarily unavailable")               \
    X(TIMEOUT, 504, "timeout", "timed out")

typedef enum {
#define TC_X(name, http, code, msg) TC_##name,
    TC_STATUS_MAP(TC_X)
#undef TC_X
        TC__STATUS_COUNT
} tc_status;

const char *tc_strerror(tc_status s);     /* default human message */
const char *tc_status_code(tc_status s);  /* snake_case API error code */
int tc_status_http(tc_status s);          /* HTTP status it maps to */

/* A readable failure travels with the status (curl's failf). Fill it where the
 * failure is understood; the HTTP layer turns it into the API error body. */
#define TC_ERR_MSG_MAX 512
#define TC_ERR_FIELD_MAX 128
typedef struct tc_err {
    tc_status status;
    char code[48];                 /* optional override of the API code */
    char message[TC_ERR_MSG_MAX];
    char field[TC_ERR_FIELD_MAX];  /* JSON path of the offending field, or "" */
} tc_err;

void tc_err_clear(tc_err *e);
/* Sets status, field (may be NULL) and a printf message; returns status.
 * err may be NULL, in which case only the status is returned. */
tc_status tc_failf(tc_err *e, tc_status s, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Same, with an explicit API error code (e.g. "connection_inactive"). */
tc_status tc_failc(tc_err *e, tc_status s, const char *code, const char *field,
                   const char *fmt, ...) __attribute__((format(printf, 5, 6)));
const char *tc_err_code(const tc_err *e); /* override, or the status' code */

/* ---- memory ------------------------------------------------------------
 * These abort on out-of-memory: a server cannot recover from it anyway. */
void *tc_malloc(size_t n);
void *tc_calloc(size_t count, size_t size);
void *tc_realloc(void *p, size_t n);
char *tc_strdup(const char *s);           /* NULL in, NULL out */
char *tc_strndup(const char *s, size_t n);
char *tc_asprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void tc_free(void *p);

/* Request-scoped arena: everything is freed by one tc_arena_free(). Cleanup
 * hooks run in reverse order of registration before the memory goes. */
typedef struct tc_arena tc_arena;
tc_arena *tc_arena_new(size_t chunk_size);   /* 0 = default (4 KiB) */
void *tc_arena_alloc(tc_arena *a, size_t n); /* 16-byte aligned, zeroed */
char *tc_arena_strdup(tc_arena *a, const char *s);
char *tc_arena_strndup(tc_arena *a, const char *s, size_t n);
char *tc_arena_printf(tc_arena *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void tc_arena_on_free(tc_arena *a, void (*fn)(void *), void *arg);
void tc_arena_free(tc_arena *a);

/* Growable buffer with a mandatory maximum (curl's dynbuf). Appends past max
 * fail with TC_TOO_LARGE and leave the buffer unchanged. data is always
 * NUL-terminated when non-NULL. */
typedef struct tc_buf {
    char *data;
    size_t len;
    size_t cap;
    size_t max;
} tc_buf;
void tc_buf_init(tc_buf *b, size_t max);
tc_status tc_buf_append(tc_buf *b, const void *p, size_t n);
tc_status tc_buf_puts(tc_buf *b, const char *s);
tc_status tc_buf_printf(tc_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void tc_buf_reset(tc_buf *b);             /* len = 0, keeps memory */
char *tc_buf_steal(tc_buf *b);            /* caller frees; buffer is reset */
void tc_buf_free(tc_buf *b);

/* Length-carrying view into someone else's memory. */
typedef struct tc_slice {
    const char *p;
    size_t len;
} tc_slice;
#define TC_SLICE_LIT(s) ((tc_slice){(s), sizeof(s) - 1})
tc_slice tc_slice_from(const char *s);
bool tc_slice_eq(tc_slice a, const char *s);
bool tc_slice_eq_nocase(tc_slice a, const char *s);

/* ---- worker pool -------------------------------------------------------
 * Fixed threads taking tasks in FIFO order. tc_pool_free stops accepting,
 * runs every queued task, then joins the threads. */
typedef struct tc_pool tc_pool;
tc_pool *tc_pool_new(int nthreads, size_t max_queued); /* 0 = 10000 queued */
/* TC_UNAVAILABLE once stopping; TC_RATE_LIMITED when the queue is full. */
tc_status tc_pool_submit(tc_pool *p, void (*fn)(void *), void *arg);
void tc_pool_free(tc_pool *p);

/* ---- logging -----------------------------------------------------------
 * Structured: a message and key/value string pairs ending with NULL.
 *   tc_log(TC_LOG_INFO, "request", "request_id", rid, "status", "200", NULL);
 * Text: "2026-11-28T18:00:00.123Z INFO request request_id=... status=200"
 * JSON: {"ts":"...","level":"info","msg":"request","request_id":"..."}
 * One write per line, so lines from threads never interleave. Never pass a
 * secret as a value. */
typedef enum { TC_LOG_DEBUG, TC_LOG_INFO, TC_LOG_WARN, TC_LOG_ERROR } tc_log_level;
typedef enum { TC_LOG_TEXT, TC_LOG_JSON } tc_log_format;
void tc_log_setup(tc_log_level min, tc_log_format fmt, int fd);
tc_status tc_log_parse_level(const char *s, tc_log_level *out);
bool tc_log_enabled(tc_log_level l);
void tc_log(tc_log_level l, const char *msg, ...) __attribute__((sentinel));

/* ---- time --------------------------------------------------------------- */
int64_t tc_now_ms(void);    /* wall clock, ms since the Unix epoch */
int64_t tc_mono_ns(void);   /* monotonic, for durations */
/* RFC 3339 UTC with milliseconds: "2026-11-28T18:00:00.123Z". out >= 32. */
void tc_time_format(int64_t ms, char out[32]);
/* Parses RFC 3339 (Z or offset, optional fraction) into ms since epoch. */
tc_status tc_time_parse(const char *s, int64_t *ms);

/* ---- random, ids, encodings --------------------------------------------- */
void tc_random_bytes(void *out, size_t n);   /* CSPRNG; aborts on failure */
void tc_uuid(char out[37]);                   /* random (v4) UUID, lowercase */
/* Time-ordered (v7) UUID for row ids of append-heavy tables: ids made later
 * in this process sort higher (inserts append to the index instead of
 * dirtying random pages); 62 random bits. Not for secrets or tokens. */
void tc_uuid7(char out[37]);
bool tc_uuid_valid(const char *s);
/* Standard base64 (with padding) and base64url (no padding). Encoders return
 * a malloc'd string (caller frees); decoders fill a malloc'd buffer and its
 * length, and return TC_BAD_REQUEST on invalid input. */
char *tc_base64_encode(const void *p, size_t n);
char *tc_base64url_encode(const void *p, size_t n);
tc_status tc_base64_decode(const char *s, size_t slen, unsigned char **out, size_t *outlen);
tc_status tc_base64url_decode(const char *s, size_t slen, unsigned char **out, size_t *outlen);
void tc_hex_encode(const void *p, size_t n, char *out);  /* out: 2n+1 */
/* Constant-time comparison for secrets. */
bool tc_ct_equal(const void *a, const void *b, size_t n);
/* Valid UTF-8 (no overlongs, surrogates or values past U+10FFFF)? */
bool tc_utf8_valid(const char *s, size_t n);

#endif
