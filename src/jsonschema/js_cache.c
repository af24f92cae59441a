/* A bounded, thread-safe cache of compiled schemas.
 * Entries: key -> (structural hash of the schema, options, schema). The hash
 * (js__hash: key order and 1 vs 1.0 ignored, as in validation) is not
 * cryptographic: keys are per tool, so a collision could only make a tool's
 * owner keep their own previous schema; the size check narrows it further.
 * Chained hash buckets for lookup; least recently used entry evicted when
 * full. Compilation happens outside the lock; returned schemas carry their
 * own reference, so eviction never frees a schema in use.
 * Lock order: only c->lock; never held while compiling or freeing user data
 * beyond a schema's last reference. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "jsonschema/js_int.h"

typedef struct entry {
    struct entry *next;
    char *key;
    uint64_t digest;
    tc_jsonschema_opts opts;
    tc_jsonschema *schema;
    uint64_t used;
} entry;

struct tc_jsonschema_cache {
    pthread_mutex_t lock;
    entry **buckets;
    size_t nbuckets, len, max;
    uint64_t tick;
};

tc_jsonschema_cache *tc_jsonschema_cache_new(size_t max_entries)
{
    tc_jsonschema_cache *c = tc_calloc(1, sizeof *c);
    c->max = max_entries ? max_entries : 1024;
    c->nbuckets = 64;
    while (c->nbuckets < c->max)
        c->nbuckets *= 2;
    c->buckets = tc_calloc(c->nbuckets, sizeof *c->buckets);
    pthread_mutex_init(&c->lock, NULL);
    return c;
}

static void entry_free(entry *e)
{
    tc_jsonschema_free(e->schema);
    free(e->key);
    free(e);
}

void tc_jsonschema_cache_free(tc_jsonschema_cache *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->nbuckets; i++) {
        for (entry *e = c->buckets[i], *next; e; e = next) {
            next = e->next;
            entry_free(e);
        }
    }
    free(c->buckets);
    pthread_mutex_destroy(&c->lock);
    free(c);
}

static size_t bucket_of(const tc_jsonschema_cache *c, const char *key)
{
    uint64_t h = 1469598103934665603ULL;
    for (const unsigned char *p = (const unsigned char *)key; *p; p++)
        h = (h ^ *p) * 1099511628211ULL;
    return (size_t)(h & (c->nbuckets - 1));
}

static uint64_t digest_of(const json_t *schema)
{
    return js__hash(schema);
}

/* Normalized options: padding zeroed so memcmp compares only values. */
static void norm_opts(const tc_jsonschema_opts *in, tc_jsonschema_opts *out)
{
    memset(out, 0, sizeof *out);
    if (in) {
        out->format_assert = in->format_assert;
        out->default_dialect = in->default_dialect;
        out->max_depth = in->max_depth;
        out->max_nodes = in->max_nodes;
        out->max_work = in->max_work;
        out->max_errors = in->max_errors;
        out->max_pattern_len = in->max_pattern_len;
        out->regex_match_limit = in->regex_match_limit;
        out->regex_depth_limit = in->regex_depth_limit;
    }
    js__opts_defaults(out);
}

static entry **find(tc_jsonschema_cache *c, const char *key)
{
    entry **pp = &c->buckets[bucket_of(c, key)];
    while (*pp && strcmp((*pp)->key, key))
        pp = &(*pp)->next;
    return pp;
}

static tc_jsonschema *take_ref(tc_jsonschema *s)
{
    atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
    return s;
}

/* Unlinks the least recently used entry (caller holds the lock). */
static entry *evict_lru(tc_jsonschema_cache *c)
{
    entry **victim = NULL;
    for (size_t i = 0; i < c->nbuckets; i++)
        for (entry **pp = &c->buckets[i]; *pp; pp = &(*pp)->next)
            if (!victim || (*pp)->used < (*victim)->used)
                victim = pp;
    entry *e = *victim;
    *victim = e->next;
    c->len--;
    return e;
}

/* Inserts or replaces (caller holds the lock); returns the entry to free. */
static entry *insert(tc_jsonschema_cache *c, const char *key, uint64_t digest,
                     const tc_jsonschema_opts *opts, tc_jsonschema *s)
{
    entry **pp = find(c, key);
    entry *old = NULL;
    if (*pp) {
        old = *pp;
        *pp = old->next;
        c->len--;
    } else if (c->len >= c->max) {
        old = evict_lru(c);
    }
    entry *e = tc_calloc(1, sizeof *e);
    e->key = tc_strdup(key);
    e->digest = digest;
    e->opts = *opts;
    e->schema = s;
    e->used = ++c->tick;
    pp = &c->buckets[bucket_of(c, key)];
    e->next = *pp;
    *pp = e;
    c->len++;
    return old;
}

tc_jsonschema *tc_jsonschema_cache_get(tc_jsonschema_cache *c, const char *key,
                                       const json_t *schema, const tc_jsonschema_opts *opts,
                                       tc_err *err)
{
    tc_jsonschema_opts o;
    if (!c || !key || !schema) {
        tc_failf(err, TC_BAD_REQUEST, "/", "schema cache: key and schema are required");
        return NULL;
    }
    uint64_t digest = digest_of(schema);
    norm_opts(opts, &o);
    pthread_mutex_lock(&c->lock);
    entry *e = *find(c, key);
    if (e && e->digest == digest && !memcmp(&e->opts, &o, sizeof o)) {
        e->used = ++c->tick;
        tc_jsonschema *hit = take_ref(e->schema);
        pthread_mutex_unlock(&c->lock);
        return hit;
    }
    pthread_mutex_unlock(&c->lock);
    tc_jsonschema *s = tc_jsonschema_compile(schema, &o, err);
    if (!s)
        return NULL;
    pthread_mutex_lock(&c->lock);
    entry *old = insert(c, key, digest, &o, take_ref(s));
    pthread_mutex_unlock(&c->lock);
    if (old)
        entry_free(old);
    return s;
}

size_t tc_jsonschema_cache_size(tc_jsonschema_cache *c)
{
    pthread_mutex_lock(&c->lock);
    size_t n = c->len;
    pthread_mutex_unlock(&c->lock);
    return n;
}
