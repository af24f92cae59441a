/* Verified access tokens of active sessions, per process.
 *
 * Authenticating an access token costs a JWT check (HMAC) and one session +
 * user read. This cache remembers, per token, the principal it resolved to,
 * for at most TC_AUTH_CACHE_TTL_MS and never past the token's exp. Every
 * change that can end a session or alter what the principal holds (logout,
 * session revocation, refresh-token reuse, password change, account
 * deletion) goes through this module's service functions, which call
 * tc_auth_cache_forget_user() after their commit and before they return:
 * the next request then misses the cache and reads the database.
 *
 * Only correct when this process makes every such change, so the service
 * enables it on SQLite (one instance per database file) and not on
 * PostgreSQL (several instances: another instance's logout would be seen
 * up to the TTL late). See docs/auth.md.
 *
 * Race with a concurrent revocation: a request that read the session before
 * the revocation committed must not insert its (now stale) entry after the
 * revocation cleared the cache. Forgetting bumps a generation under the
 * lock; a lookup notes the generation before its database read and the
 * insert is dropped when it changed.
 *
 * Slots: direct-mapped by a hash of the token's signature (the last bytes,
 * HMAC output, unforgeable); a slot holds a copy of the token, compared in
 * constant time. Only tokens that passed verification are inserted, so
 * invalid tokens can neither fill nor evict entries. */
#include <openssl/crypto.h>
#include <string.h>

#include "auth/auth_int.h"

#define CACHE_SLOTS 1024 /* power of two */

typedef struct cache_entry {
    int64_t expires_ms; /* the token's exp */
    int64_t checked_ms; /* when the session was last read from the database */
    tc_auth_principal p;
    size_t len;
    char token[]; /* not NUL-terminated */
} cache_entry;

struct tc_auth_cache {
    pthread_mutex_t lock;
    uint64_t gen;
    int64_t ttl_ms;
    cache_entry *slot[CACHE_SLOTS];
};

tc_auth_cache *tc_auth__cache_new(int64_t ttl_ms)
{
    tc_auth_cache *c = tc_calloc(1, sizeof *c);
    pthread_mutex_init(&c->lock, NULL);
    c->ttl_ms = ttl_ms;
    return c;
}

static void entry_free(cache_entry *e)
{
    if (!e)
        return;
    tc_auth__wipe(e->token, e->len);
    tc_free(e);
}

void tc_auth__cache_free(tc_auth_cache *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < CACHE_SLOTS; i++)
        entry_free(c->slot[i]);
    pthread_mutex_destroy(&c->lock);
    tc_free(c);
}

static size_t slot_of(const char *tok, size_t len)
{
    size_t n = len < 24 ? len : 24;
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (const char *p = tok + len - n; p < tok + len; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ULL;
    return (size_t)(h ^ (h >> 29)) & (CACHE_SLOTS - 1);
}

uint64_t tc_auth__cache_gen(tc_auth_cache *c)
{
    pthread_mutex_lock(&c->lock);
    uint64_t g = c->gen;
    pthread_mutex_unlock(&c->lock);
    return g;
}

bool tc_auth__cache_get(tc_auth_cache *c, const char *tok, size_t len, int64_t now_ms,
                        tc_auth_principal *out)
{
    bool hit = false;
    size_t i = slot_of(tok, len);
    pthread_mutex_lock(&c->lock);
    cache_entry *e = c->slot[i];
    if (e && e->len == len && CRYPTO_memcmp(e->token, tok, len) == 0) {
        if (now_ms < e->expires_ms && now_ms - e->checked_ms < c->ttl_ms) {
            *out = e->p;
            hit = true;
        } else {
            c->slot[i] = NULL;
            entry_free(e);
        }
    }
    pthread_mutex_unlock(&c->lock);
    return hit;
}

void tc_auth__cache_put(tc_auth_cache *c, uint64_t gen, const char *tok, size_t len,
                        int64_t expires_ms, int64_t checked_ms, const tc_auth_principal *p)
{
    cache_entry *e = tc_malloc(sizeof *e + len);
    e->expires_ms = expires_ms;
    e->checked_ms = checked_ms;
    e->p = *p;
    e->len = len;
    memcpy(e->token, tok, len);
    size_t i = slot_of(tok, len);
    pthread_mutex_lock(&c->lock);
    if (c->gen == gen) { /* no forget since the database read */
        cache_entry *old = c->slot[i];
        c->slot[i] = e;
        e = old;
    }
    pthread_mutex_unlock(&c->lock);
    entry_free(e);
}

void tc_auth_cache_forget_user(tc_auth *a, const char *user_id)
{
    tc_auth_cache *c = a ? a->cache : NULL;
    if (!c)
        return;
    cache_entry *gone[64];
    size_t ngone = 0;
    pthread_mutex_lock(&c->lock);
    c->gen++;
    for (size_t i = 0; i < CACHE_SLOTS; i++) {
        cache_entry *e = c->slot[i];
        if (!e || (user_id && strcmp(e->p.user_id, user_id) != 0))
            continue;
        c->slot[i] = NULL;
        if (ngone < sizeof gone / sizeof gone[0])
            gone[ngone++] = e;
        else
            entry_free(e); /* rare: many tokens of one user */
    }
    pthread_mutex_unlock(&c->lock);
    for (size_t i = 0; i < ngone; i++)
        entry_free(gone[i]);
}
