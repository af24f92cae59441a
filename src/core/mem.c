#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/core.h"

static void oom(size_t n)
{
    fprintf(stderr, "toolconnect: out of memory allocating %zu bytes\n", n);
    abort();
}

void *tc_malloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        oom(n);
    return p;
}

void *tc_calloc(size_t count, size_t size)
{
    void *p = calloc(count ? count : 1, size ? size : 1);
    if (!p)
        oom(count * size);
    return p;
}

void *tc_realloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q)
        oom(n);
    return q;
}

char *tc_strdup(const char *s)
{
    return s ? tc_strndup(s, strlen(s)) : NULL;
}

char *tc_strndup(const char *s, size_t n)
{
    if (!s)
        return NULL;
    char *d = tc_malloc(n + 1);
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

char *tc_asprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *out = NULL;
    int n = vasprintf(&out, fmt, ap);
    va_end(ap);
    if (n < 0)
        oom(0);
    return out;
}

void tc_free(void *p)
{
    free(p);
}

/* ---- arena ---- */

typedef struct chunk {
    struct chunk *next;
    size_t size, used;
    _Alignas(16) unsigned char data[];
} chunk;

typedef struct cleanup {
    struct cleanup *next;
    void (*fn)(void *);
    void *arg;
} cleanup;

struct tc_arena {
    chunk *head;
    cleanup *cleanups;
    size_t chunk_size;
};

tc_arena *tc_arena_new(size_t chunk_size)
{
    tc_arena *a = tc_calloc(1, sizeof(*a));
    a->chunk_size = chunk_size ? chunk_size : 4096;
    return a;
}

void *tc_arena_alloc(tc_arena *a, size_t n)
{
    n = (n + 15) & ~(size_t)15;
    if (!a->head || a->head->size - a->head->used < n) {
        size_t size = n > a->chunk_size ? n : a->chunk_size;
        chunk *c = tc_malloc(sizeof(chunk) + size);
        c->size = size;
        c->used = 0;
        c->next = a->head;
        a->head = c;
    }
    void *p = a->head->data + a->head->used;
    a->head->used += n;
    memset(p, 0, n);
    return p;
}

char *tc_arena_strndup(tc_arena *a, const char *s, size_t n)
{
    char *d = tc_arena_alloc(a, n + 1);
    memcpy(d, s, n);
    return d;
}

char *tc_arena_strdup(tc_arena *a, const char *s)
{
    return s ? tc_arena_strndup(a, s, strlen(s)) : NULL;
}

char *tc_arena_printf(tc_arena *a, const char *fmt, ...)
{
    va_list ap, ap2;
    va_start(ap, fmt);
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *d = tc_arena_alloc(a, (size_t)(n < 0 ? 0 : n) + 1);
    if (n > 0)
        vsnprintf(d, (size_t)n + 1, fmt, ap2);
    va_end(ap2);
    return d;
}

void tc_arena_on_free(tc_arena *a, void (*fn)(void *), void *arg)
{
    cleanup *c = tc_malloc(sizeof(*c));
    c->fn = fn;
    c->arg = arg;
    c->next = a->cleanups;
    a->cleanups = c;
}

void tc_arena_free(tc_arena *a)
{
    if (!a)
        return;
    while (a->cleanups) {
        cleanup *c = a->cleanups;
        a->cleanups = c->next;
        c->fn(c->arg);
        free(c);
    }
    while (a->head) {
        chunk *c = a->head;
        a->head = c->next;
        free(c);
    }
    free(a);
}

/* ---- bounded buffer ---- */

void tc_buf_init(tc_buf *b, size_t max)
{
    b->data = NULL;
    b->len = b->cap = 0;
    b->max = max;
}

static tc_status buf_reserve(tc_buf *b, size_t extra)
{
    if (extra > b->max || b->len > b->max - extra)
        return TC_TOO_LARGE;
    size_t need = b->len + extra + 1;
    if (need <= b->cap)
        return TC_OK;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap *= 2;
    if (cap > b->max + 1)
        cap = b->max + 1;
    b->data = tc_realloc(b->data, cap);
    b->cap = cap;
    return TC_OK;
}

tc_status tc_buf_append(tc_buf *b, const void *p, size_t n)
{
    if (buf_reserve(b, n) != TC_OK)
        return TC_TOO_LARGE;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return TC_OK;
}

tc_status tc_buf_puts(tc_buf *b, const char *s)
{
    return tc_buf_append(b, s, strlen(s));
}

tc_status tc_buf_printf(tc_buf *b, const char *fmt, ...)
{
    va_list ap, ap2;
    va_start(ap, fmt);
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    tc_status st = n < 0 ? TC_INTERNAL : buf_reserve(b, (size_t)n);
    if (st == TC_OK) {
        vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap2);
        b->len += (size_t)n;
    }
    va_end(ap2);
    return st;
}

void tc_buf_reset(tc_buf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

char *tc_buf_steal(tc_buf *b)
{
    char *d = b->data ? b->data : tc_strdup("");
    b->data = NULL;
    b->len = b->cap = 0;
    return d;
}

void tc_buf_free(tc_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

/* ---- slices ---- */

tc_slice tc_slice_from(const char *s)
{
    return (tc_slice){s, s ? strlen(s) : 0};
}

bool tc_slice_eq(tc_slice a, const char *s)
{
    size_t n = strlen(s);
    return a.len == n && memcmp(a.p, s, n) == 0;
}

bool tc_slice_eq_nocase(tc_slice a, const char *s)
{
    size_t n = strlen(s);
    return a.len == n && strncasecmp(a.p, s, n) == 0;
}
