/* Recording and publishing domain changes (see events.h). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "events/events.h"

#define MAX_OBSERVERS 8

struct tc_events {
    pthread_rwlock_t lock; /* guards the hooks; held only to copy them */
    tc_events_publish_fn publish;
    void *publish_ctx;
    tc_events_outbox_fn outbox;
    void *outbox_ctx;
    struct {
        tc_events_observer_fn fn;
        void *ctx;
    } observers[MAX_OBSERVERS];
    int nobservers;
};

tc_events *tc_events_new(void)
{
    tc_events *ev = tc_calloc(1, sizeof(*ev));
    pthread_rwlock_init(&ev->lock, NULL);
    return ev;
}

void tc_events_free(tc_events *ev)
{
    if (!ev)
        return;
    pthread_rwlock_destroy(&ev->lock);
    free(ev);
}

void tc_events_set_publisher(tc_events *ev, tc_events_publish_fn fn, void *ctx)
{
    pthread_rwlock_wrlock(&ev->lock);
    ev->publish = fn;
    ev->publish_ctx = ctx;
    pthread_rwlock_unlock(&ev->lock);
}

void tc_events_set_outbox(tc_events *ev, tc_events_outbox_fn fn, void *ctx)
{
    pthread_rwlock_wrlock(&ev->lock);
    ev->outbox = fn;
    ev->outbox_ctx = ctx;
    pthread_rwlock_unlock(&ev->lock);
}

void tc_events_add_observer(tc_events *ev, tc_events_observer_fn fn, void *ctx)
{
    pthread_rwlock_wrlock(&ev->lock);
    if (ev->nobservers < MAX_OBSERVERS) {
        ev->observers[ev->nobservers].fn = fn;
        ev->observers[ev->nobservers].ctx = ctx;
        ev->nobservers++;
    }
    pthread_rwlock_unlock(&ev->lock);
}

void tc_change_init(tc_change *ch, const char *user_id, const char *kind, json_t *row)
{
    memset(ch, 0, sizeof(*ch));
    snprintf(ch->user_id, sizeof(ch->user_id), "%s", user_id);
    ch->kind = kind;
    ch->row = row;
}

void tc_change_clear(tc_change *ch)
{
    json_decref(ch->row);
    json_decref(ch->webhook_data);
    free(ch->payload);
    memset(ch, 0, sizeof(*ch));
}

static tc_status stream_insert(tc_db_conn *c, tc_change *ch, tc_err *err)
{
    if (!ch->payload)
        ch->payload = json_dumps(ch->row, JSON_COMPACT);
    const tc_dbv p[] = {TC_DBV_STR(ch->user_id), TC_DBV_STR(ch->kind), TC_DBV_STR(ch->payload),
                        TC_DBV_I64(tc_now_ms())};
    return tc_db_insert_id(c,
                           "INSERT INTO stream_events (user_id, kind, payload, created_at) "
                           "VALUES ($1, $2, $3, $4)",
                           p, 4, &ch->stream_id, err);
}

tc_status tc_events_record(tc_events *ev, tc_db_conn *c, tc_change *ch, tc_err *err)
{
    tc_status st = stream_insert(c, ch, err);
    if (st != TC_OK || !ch->webhook_type)
        return st;
    pthread_rwlock_rdlock(&ev->lock);
    tc_events_outbox_fn outbox = ev->outbox;
    void *ctx = ev->outbox_ctx;
    pthread_rwlock_unlock(&ev->lock);
    if (!outbox)
        return TC_OK; /* no webhook module running: nothing subscribes */
    return outbox(ctx, c, ch->user_id, ch->webhook_type,
                  ch->webhook_data ? ch->webhook_data : ch->row, err);
}

void tc_events_publish(tc_events *ev, const tc_change *ch)
{
    pthread_rwlock_rdlock(&ev->lock);
    tc_events_publish_fn publish = ev->publish;
    void *pctx = ev->publish_ctx;
    int n = ev->nobservers;
    tc_events_observer_fn fns[MAX_OBSERVERS];
    void *ctxs[MAX_OBSERVERS];
    for (int i = 0; i < n; i++) {
        fns[i] = ev->observers[i].fn;
        ctxs[i] = ev->observers[i].ctx;
    }
    pthread_rwlock_unlock(&ev->lock);
    if (publish) {
        char *own = ch->payload ? NULL : json_dumps(ch->row, JSON_COMPACT);
        publish(pctx, ch->user_id, ch->stream_id, ch->kind, own ? own : ch->payload, ch->row);
        free(own);
    }
    for (int i = 0; i < n; i++)
        fns[i](ctxs[i], ch->user_id, ch->kind, ch->row);
}
