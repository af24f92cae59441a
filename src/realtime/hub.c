/* The pub/sub hub (see realtime.h).
 *
 * Data: a hash table of users, each with an intrusive list of subscribers;
 * a ring of the newest messages for replay. Messages and subscribers are
 * reference counted: a publish takes a reference on each recipient under
 * the hub lock, then writes to the sinks with the lock released, so a slow
 * or dying transport never holds up the others or the publisher.
 *
 * Lock order: hub lock only; sinks are never called with it held. */
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "realtime/realtime.h"

#define NBUCKETS 1024
#define BACKLOG_MAX 1024 /* live messages held for a subscriber while it replays */
#define KIND_MAX 32
#define TC_HUB_OTHER (1u << 4)

typedef struct msg {
    _Atomic int refs;
    int64_t id;
    unsigned kind_bit;
    char user_id[37];
    char job_id[TC_HUB_ID_MAX + 1];
    char conn_id[TC_HUB_ID_MAX + 1];
    size_t len;
    char frame[]; /* the SSE frame, NUL-terminated */
} msg;

typedef struct user {
    struct user *next; /* bucket chain */
    struct tc_hub_sub *subs;
    char id[37];
} user;

struct tc_hub_sub {
    struct tc_hub_sub *next, *prev; /* the user's list (hub lock) */
    tc_hub *hub;
    user *owner;
    _Atomic int refs;
    bool listed;
    bool replaying;       /* live messages go to the backlog meanwhile */
    bool backlog_overflow;
    msg **backlog;
    size_t nbacklog;
    tc_hub_filter f;
    tc_hub_sink sink;
};

struct tc_hub {
    pthread_mutex_t lock;
    tc_hub_options opt;
    bool stopped;
    user *buckets[NBUCKETS];
    msg **ring;      /* ring_max slots */
    size_t ring_head; /* index of the oldest */
    size_t ring_len;
    size_t ring_bytes;
    int64_t floor;   /* ids <= floor may be missing from the ring */
    int64_t max_id;  /* highest id published */
    size_t nsubs;
    _Atomic uint64_t published, delivered, dropped, replayed, refetches;
};

struct tc_hub_replay {
    tc_hub *hub;
    const tc_hub_filter *f;
    const char *user_id;
    msg **v;
    size_t n, cap;
};

/* ---- messages ------------------------------------------------------------- */

static void msg_unref(msg *m)
{
    if (m && atomic_fetch_sub(&m->refs, 1) == 1)
        free(m);
}

static msg *msg_ref(msg *m)
{
    atomic_fetch_add(&m->refs, 1);
    return m;
}

unsigned tc_hub_kind_bit(const char *kind)
{
    static const struct {
        const char *name;
        unsigned bit;
    } kinds[] = {{"job", TC_HUB_JOB}, {"connection", TC_HUB_CONNECTION}, {"event", TC_HUB_EVENT},
                 {"health", TC_HUB_HEALTH}};
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
        if (!strcmp(kind, kinds[i].name))
            return kinds[i].bit;
    return 0;
}

bool tc_hub_parse_kinds(const char *list, unsigned *out)
{
    unsigned bits = 0;
    char name[KIND_MAX + 1];
    const char *p = list;
    while (*p) {
        size_t n = strcspn(p, ",");
        if (n == 0 || n > KIND_MAX)
            return false;
        memcpy(name, p, n);
        name[n] = '\0';
        unsigned b = tc_hub_kind_bit(name);
        if (!b)
            return false;
        bits |= b;
        p += n;
        if (*p == ',' && !*++p)
            return false; /* trailing comma */
    }
    *out = bits;
    return bits != 0;
}

/* A kind is an SSE event name: [a-z_.-], 1..32 bytes. */
static bool kind_valid(const char *kind)
{
    size_t n = strlen(kind);
    if (n == 0 || n > KIND_MAX)
        return false;
    return strspn(kind, "abcdefghijklmnopqrstuvwxyz_.-") == n;
}

tc_status tc_hub_format(tc_buf *out, int64_t id, const char *kind, const char *data)
{
    tc_status st = TC_OK;
    if (id > 0)
        st = tc_buf_printf(out, "id: %lld\n", (long long)id);
    if (st == TC_OK)
        st = tc_buf_printf(out, "event: %s\n", kind);
    for (const char *p = data; st == TC_OK;) {
        size_t n = strcspn(p, "\r\n");
        st = tc_buf_puts(out, "data: ");
        if (st == TC_OK)
            st = tc_buf_append(out, p, n);
        if (st == TC_OK)
            st = tc_buf_puts(out, "\n");
        p += n;
        if (!*p)
            break;
        p += (p[0] == '\r' && p[1] == '\n') ? 2 : 1;
    }
    if (st == TC_OK)
        st = tc_buf_puts(out, "\n");
    return st;
}

/* Copies a string or integer member as text into dst (cap bytes). */
static void member_text(const json_t *row, const char *name, char *dst, size_t cap)
{
    const json_t *v = json_object_get(row, name);
    if (json_is_string(v) && json_string_length(v) < cap)
        snprintf(dst, cap, "%s", json_string_value(v));
    else if (json_is_integer(v))
        snprintf(dst, cap, "%lld", (long long)json_integer_value(v));
}

/* Filter keys of a row: the job and connection it belongs to. */
static void msg_keys(msg *m, const json_t *row)
{
    if (m->kind_bit == TC_HUB_JOB) {
        member_text(row, "id", m->job_id, sizeof(m->job_id));
        member_text(row, "connection_id", m->conn_id, sizeof(m->conn_id));
    } else if (m->kind_bit == TC_HUB_EVENT) {
        member_text(row, "job_id", m->job_id, sizeof(m->job_id));
    } else if (m->kind_bit == TC_HUB_CONNECTION) {
        member_text(row, "id", m->conn_id, sizeof(m->conn_id));
    }
}

/* Builds the shared message (one reference for the caller), or NULL when
 * the input is unusable (bad kind, not JSON). */
static msg *msg_new(const char *user_id, int64_t id, const char *kind, const char *data,
                    const json_t *given, size_t data_max)
{
    if (!user_id || !kind || !data || !kind_valid(kind) || strlen(user_id) > 36)
        return NULL;
    json_t *row = given ? json_incref((json_t *)given) : json_loads(data, JSON_DECODE_ANY, NULL);
    if (!row)
        return NULL;
    char small[160];
    const char *body = data;
    if (strlen(data) > data_max) { /* too big to push: tell the client to fetch it */
        char rid[TC_HUB_ID_MAX + 1] = "";
        member_text(row, "id", rid, sizeof(rid));
        json_t *t = json_pack("{s:s, s:b}", "id", rid, "truncated", 1);
        char *txt = json_dumps(t, JSON_COMPACT);
        snprintf(small, sizeof(small), "%s", txt);
        free(txt);
        json_decref(t);
        body = small;
    }
    tc_buf b;
    tc_buf_init(&b, data_max * 2 + 256);
    tc_status st = tc_hub_format(&b, id, kind, body);
    msg *m = NULL;
    if (st == TC_OK) {
        m = tc_calloc(1, sizeof(*m) + b.len + 1);
        atomic_init(&m->refs, 1);
        m->id = id;
        m->kind_bit = tc_hub_kind_bit(kind);
        if (!m->kind_bit)
            m->kind_bit = TC_HUB_OTHER;
        snprintf(m->user_id, sizeof(m->user_id), "%s", user_id);
        memcpy(m->frame, b.data, b.len + 1);
        m->len = b.len;
        msg_keys(m, row);
    }
    tc_buf_free(&b);
    json_decref(row);
    return m;
}

static bool msg_matches(const msg *m, const tc_hub_filter *f)
{
    unsigned kinds = f->kinds ? f->kinds : (TC_HUB_ALL_KINDS | TC_HUB_OTHER);
    if (!(m->kind_bit & kinds))
        return false;
    if (f->job_id[0] && strcmp(f->job_id, m->job_id))
        return false;
    if (f->connection_id[0] && strcmp(f->connection_id, m->conn_id))
        return false;
    return true;
}

/* ---- hub ---------------------------------------------------------------------- */

tc_hub *tc_hub_new(const tc_hub_options *opt)
{
    tc_hub *h = tc_calloc(1, sizeof(*h));
    if (opt)
        h->opt = *opt;
    if (!h->opt.ring_max)
        h->opt.ring_max = 4096;
    if (!h->opt.ring_bytes)
        h->opt.ring_bytes = 8u << 20;
    if (!h->opt.replay_max)
        h->opt.replay_max = 512;
    if (!h->opt.data_max)
        h->opt.data_max = TC_HUB_DATA_MAX;
    if (!h->opt.replay_bytes)
        h->opt.replay_bytes = 32 * 1024;
    h->ring = tc_calloc(h->opt.ring_max, sizeof(*h->ring));
    pthread_mutex_init(&h->lock, NULL);
    return h;
}

void tc_hub_free(tc_hub *h)
{
    if (!h)
        return;
    for (size_t i = 0; i < h->ring_len; i++)
        msg_unref(h->ring[(h->ring_head + i) % h->opt.ring_max]);
    for (size_t i = 0; i < NBUCKETS; i++) {
        for (user *u = h->buckets[i], *next; u; u = next) {
            next = u->next;
            free(u); /* subscribers still listed belong to their owners */
        }
    }
    free(h->ring);
    pthread_mutex_destroy(&h->lock);
    free(h);
}

void tc_hub_set_floor(tc_hub *h, int64_t floor)
{
    pthread_mutex_lock(&h->lock);
    if (floor > h->floor)
        h->floor = floor;
    if (floor > h->max_id)
        h->max_id = floor;
    pthread_mutex_unlock(&h->lock);
}

static size_t bucket_of(const char *user_id)
{
    uint32_t x = 2166136261u; /* FNV-1a */
    for (const unsigned char *p = (const unsigned char *)user_id; *p; p++)
        x = (x ^ *p) * 16777619u;
    return x % NBUCKETS;
}

static user *user_find(tc_hub *h, const char *user_id, bool create)
{
    size_t b = bucket_of(user_id);
    for (user *u = h->buckets[b]; u; u = u->next)
        if (!strcmp(u->id, user_id))
            return u;
    if (!create)
        return NULL;
    user *u = tc_calloc(1, sizeof(*u));
    snprintf(u->id, sizeof(u->id), "%s", user_id);
    u->next = h->buckets[b];
    h->buckets[b] = u;
    return u;
}

static void user_drop_if_empty(tc_hub *h, user *u)
{
    if (u->subs)
        return;
    user **pp = &h->buckets[bucket_of(u->id)];
    while (*pp && *pp != u)
        pp = &(*pp)->next;
    if (*pp)
        *pp = u->next;
    free(u);
}

/* Newest message in; oldest out while over either bound. Hub lock held. */
static void ring_push(tc_hub *h, msg *m)
{
    while (h->ring_len && (h->ring_len == h->opt.ring_max || h->ring_bytes + m->len > h->opt.ring_bytes)) {
        msg *old = h->ring[h->ring_head];
        h->ring_head = (h->ring_head + 1) % h->opt.ring_max;
        h->ring_len--;
        h->ring_bytes -= old->len;
        if (old->id > h->floor)
            h->floor = old->id;
        msg_unref(old);
    }
    h->ring[(h->ring_head + h->ring_len) % h->opt.ring_max] = msg_ref(m);
    h->ring_len++;
    h->ring_bytes += m->len;
}

/* ---- subscribers --------------------------------------------------------------- */

static void sub_release(tc_hub_sub *s)
{
    if (atomic_fetch_sub(&s->refs, 1) != 1)
        return;
    for (size_t i = 0; i < s->nbacklog; i++)
        msg_unref(s->backlog[i]);
    free(s->backlog);
    if (s->sink.release)
        s->sink.release(s->sink.ctx);
    free(s);
}

/* Hub lock held. Returns true when this call removed s (the caller then owns
 * the list's reference). */
static bool sub_unlist(tc_hub *h, tc_hub_sub *s)
{
    if (!s->listed)
        return false;
    if (s->prev)
        s->prev->next = s->next;
    else
        s->owner->subs = s->next;
    if (s->next)
        s->next->prev = s->prev;
    s->listed = false;
    h->nsubs--;
    user_drop_if_empty(h, s->owner);
    s->owner = NULL;
    return true;
}

/* Ends a subscriber from the hub's side (slow or shutdown). */
static void sub_drop(tc_hub_sub *s, tc_hub_end why)
{
    tc_hub *h = s->hub;
    pthread_mutex_lock(&h->lock);
    bool mine = sub_unlist(h, s);
    pthread_mutex_unlock(&h->lock);
    if (!mine)
        return;
    if (why == TC_HUB_END_SLOW)
        atomic_fetch_add(&h->dropped, 1);
    if (s->sink.close)
        s->sink.close(s->sink.ctx, why);
    sub_release(s);
}

/* Writes one frame; a full queue drops the subscriber. */
static bool deliver(tc_hub_sub *s, const char *frame, size_t len)
{
    tc_status st = s->sink.send(s->sink.ctx, frame, len);
    if (st == TC_OK) {
        atomic_fetch_add(&s->hub->delivered, 1);
        return true;
    }
    if (st == TC_TOO_LARGE)
        sub_drop(s, TC_HUB_END_SLOW);
    return false;
}

void tc_hub_publish(void *hub, const char *user_id, int64_t id, const char *kind, const char *data)
{
    tc_hub_publish_row(hub, user_id, id, kind, data, NULL);
}

void tc_hub_publish_row(void *hub, const char *user_id, int64_t id, const char *kind,
                        const char *data, const json_t *row)
{
    tc_hub *h = hub;
    msg *m = msg_new(user_id, id, kind, data, row, h->opt.data_max);
    if (!m)
        return;
    tc_hub_sub **v = NULL;
    size_t n = 0, cap = 0;
    pthread_mutex_lock(&h->lock);
    if (h->stopped)
        goto unlock;
    atomic_fetch_add(&h->published, 1);
    ring_push(h, m);
    if (id > h->max_id)
        h->max_id = id;
    user *u = user_find(h, user_id, false);
    for (tc_hub_sub *s = u ? u->subs : NULL; s; s = s->next) {
        if (!msg_matches(m, &s->f))
            continue;
        if (s->replaying) {
            if (s->nbacklog < BACKLOG_MAX)
                s->backlog[s->nbacklog++] = msg_ref(m);
            else
                s->backlog_overflow = true;
            continue;
        }
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            v = tc_realloc(v, cap * sizeof(*v));
        }
        atomic_fetch_add(&s->refs, 1);
        v[n++] = s;
    }
unlock:
    pthread_mutex_unlock(&h->lock);
    for (size_t i = 0; i < n; i++) {
        deliver(v[i], m->frame, m->len);
        sub_release(v[i]);
    }
    free(v);
    msg_unref(m);
}

/* ---- replay ---------------------------------------------------------------------- */

void tc_hub_replay_add(tc_hub_replay *r, int64_t id, const char *kind, const char *data)
{
    msg *m = msg_new(r->user_id, id, kind, data, NULL, r->hub->opt.data_max);
    if (!m)
        return;
    if (!msg_matches(m, r->f)) {
        msg_unref(m);
        return;
    }
    if (r->n == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 16;
        r->v = tc_realloc(r->v, r->cap * sizeof(*r->v));
    }
    r->v[r->n++] = m;
}

static void replay_clear(tc_hub_replay *r)
{
    for (size_t i = 0; i < r->n; i++)
        msg_unref(r->v[i]);
    free(r->v);
    r->v = NULL;
    r->n = r->cap = 0;
}

/* Hub lock held. Collects the user's ring messages after `after` when the
 * ring still covers that point; false when it does not. */
static bool ring_collect(tc_hub *h, tc_hub_sub *s, const char *user_id, int64_t after, tc_hub_replay *r)
{
    if (after < h->floor)
        return false;
    for (size_t i = 0; i < h->ring_len; i++) {
        msg *m = h->ring[(h->ring_head + i) % h->opt.ring_max];
        if (m->id <= after || strcmp(m->user_id, user_id) || !msg_matches(m, &s->f))
            continue;
        if (r->n == r->cap) {
            r->cap = r->cap ? r->cap * 2 : 16;
            r->v = tc_realloc(r->v, r->cap * sizeof(*r->v));
        }
        r->v[r->n++] = msg_ref(m);
    }
    return true;
}

static bool send_refetch(tc_hub_sub *s, int64_t resume_id, const char *reason)
{
    char data[128];
    snprintf(data, sizeof(data), "{\"reason\":\"%s\",\"last_event_id\":%lld}", reason,
             (long long)resume_id);
    tc_buf b;
    tc_buf_init(&b, 512);
    tc_hub_format(&b, resume_id, "refetch", data);
    atomic_fetch_add(&s->hub->refetches, 1);
    bool ok = deliver(s, b.data, b.len);
    tc_buf_free(&b);
    return ok;
}

/* Sends the replay list; *hi gets the highest id sent. */
static bool send_replay(tc_hub_sub *s, tc_hub_replay *r, int64_t *hi)
{
    for (size_t i = 0; i < r->n; i++) {
        if (!deliver(s, r->v[i]->frame, r->v[i]->len))
            return false;
        atomic_fetch_add(&s->hub->replayed, 1);
        if (r->v[i]->id > *hi)
            *hi = r->v[i]->id;
    }
    return true;
}

/* Moves the live messages held during the replay out, until none are left;
 * then the subscriber goes live. Skips what the replay already sent. */
static void drain_backlog(tc_hub_sub *s, int64_t hi)
{
    tc_hub *h = s->hub;
    bool ok = true;
    for (;;) {
        pthread_mutex_lock(&h->lock);
        msg **v = s->backlog;
        size_t n = s->nbacklog;
        bool overflow = s->backlog_overflow;
        s->backlog_overflow = false;
        if (n == 0 || !ok) {
            s->replaying = false;
            pthread_mutex_unlock(&h->lock);
            if (overflow && ok)
                send_refetch(s, hi, "overflow");
            return;
        }
        s->backlog = tc_calloc(BACKLOG_MAX, sizeof(*s->backlog));
        s->nbacklog = 0;
        int64_t resume = h->max_id;
        pthread_mutex_unlock(&h->lock);
        for (size_t i = 0; i < n; i++) {
            if (ok && v[i]->id > hi)
                ok = deliver(s, v[i]->frame, v[i]->len);
            msg_unref(v[i]);
        }
        free(v);
        if (ok && overflow)
            ok = send_refetch(s, resume, "overflow");
    }
}

/* The replay itself: the ring, else the database, else refetch. */
static void replay(tc_hub_sub *s, const tc_hub_sub_options *o, tc_hub_replay *r, bool from_ring,
                   int64_t resume)
{
    tc_hub *h = s->hub;
    int64_t hi = o->last_event_id;
    bool ok = from_ring;
    if (!from_ring && o->replay)
        ok = o->replay(o->replay_ctx, o->user_id, o->last_event_id, h->opt.replay_max, r);
    size_t bytes = 0;
    for (size_t i = 0; i < r->n; i++)
        bytes += r->v[i]->len;
    if (ok && (r->n > h->opt.replay_max || bytes > h->opt.replay_bytes))
        ok = false;
    if (o->last_event_id > resume)
        ok = false; /* an id this server never issued (another database?) */
    if (ok) {
        ok = send_replay(s, r, &hi);
        if (!ok) {
            replay_clear(r);
            drain_backlog(s, INT64_MAX);
            return;
        }
    } else {
        hi = resume;
        send_refetch(s, resume, o->last_event_id > resume ? "unknown_id" : "too_old");
    }
    replay_clear(r);
    drain_backlog(s, hi);
}

tc_hub_sub *tc_hub_subscribe(tc_hub *h, const tc_hub_sub_options *o, const tc_hub_sink *sink,
                             tc_err *err)
{
    tc_hub_sub *s = tc_calloc(1, sizeof(*s));
    s->hub = h;
    s->sink = *sink;
    atomic_init(&s->refs, 2); /* the user's list, the caller */
    if (o->filter)
        s->f = *o->filter;
    s->replaying = o->last_event_id > 0;
    if (s->replaying)
        s->backlog = tc_calloc(BACKLOG_MAX, sizeof(*s->backlog));
    tc_hub_replay r = {.hub = h, .f = &s->f, .user_id = o->user_id};
    pthread_mutex_lock(&h->lock);
    if (h->stopped) {
        pthread_mutex_unlock(&h->lock);
        free(s->backlog);
        if (sink->release)
            sink->release(sink->ctx);
        free(s);
        tc_failf(err, TC_UNAVAILABLE, NULL, "the server is shutting down");
        return NULL;
    }
    s->owner = user_find(h, o->user_id, true);
    s->next = s->owner->subs;
    if (s->next)
        s->next->prev = s;
    s->owner->subs = s;
    s->listed = true;
    h->nsubs++;
    bool from_ring = s->replaying && ring_collect(h, s, o->user_id, o->last_event_id, &r);
    int64_t resume = h->max_id;
    pthread_mutex_unlock(&h->lock);
    if (s->replaying)
        replay(s, o, &r, from_ring, resume);
    return s;
}

void tc_hub_unsubscribe(tc_hub_sub *s)
{
    if (!s)
        return;
    tc_hub *h = s->hub;
    pthread_mutex_lock(&h->lock);
    bool mine = sub_unlist(h, s);
    pthread_mutex_unlock(&h->lock);
    if (mine)
        sub_release(s);
    sub_release(s);
}

void tc_hub_stop(tc_hub *h)
{
    pthread_mutex_lock(&h->lock);
    h->stopped = true;
    pthread_mutex_unlock(&h->lock);
    for (;;) { /* one at a time: sink close runs without the lock */
        tc_hub_sub *s = NULL;
        pthread_mutex_lock(&h->lock);
        for (size_t i = 0; i < NBUCKETS && !s; i++)
            if (h->buckets[i])
                s = h->buckets[i]->subs;
        if (s)
            atomic_fetch_add(&s->refs, 1);
        pthread_mutex_unlock(&h->lock);
        if (!s)
            return;
        sub_drop(s, TC_HUB_END_SHUTDOWN);
        sub_release(s);
    }
}

void tc_hub_stats_get(tc_hub *h, tc_hub_stats *out)
{
    pthread_mutex_lock(&h->lock);
    out->subscribers = h->nsubs;
    out->ring_len = h->ring_len;
    pthread_mutex_unlock(&h->lock);
    out->published = atomic_load(&h->published);
    out->delivered = atomic_load(&h->delivered);
    out->dropped = atomic_load(&h->dropped);
    out->replayed = atomic_load(&h->replayed);
    out->refetches = atomic_load(&h->refetches);
}
