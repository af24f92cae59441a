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

static tc_status stream_row(tc_db_conn *c, const char *user_id, const char *kind,
                            const char *payload, int64_t *row_id, tc_err *err)
{
    const tc_dbv p[] = {TC_DBV_STR(user_id), TC_DBV_STR(kind), TC_DBV_STR(payload),
                        TC_DBV_I64(tc_now_ms())};
    return tc_db_insert_id(c,
                           "INSERT INTO stream_events (user_id, kind, payload, created_at) "
                           "VALUES ($1, $2, $3, $4)",
                           p, 4, row_id, err);
}

/* One stream row for chs[idx[0..n)] (one user's changes, n <= TC_STREAM_SLOTS):
 * a lone change as {kind, payload}; several as kind "*" with the payload
 * [["kind", payload], ...], assembled from the texts already dumped. */
static tc_status stream_group(tc_db_conn *c, tc_change *chs, const int *idx, int n, tc_err *err)
{
    for (int i = 0; i < n; i++)
        if (!chs[idx[i]].payload)
            chs[idx[i]].payload = json_dumps(chs[idx[i]].row, JSON_COMPACT);
    int64_t row = 0;
    tc_status st;
    if (n == 1) {
        st = stream_row(c, chs[idx[0]].user_id, chs[idx[0]].kind, chs[idx[0]].payload, &row, err);
    } else {
        size_t len = 3;
        for (int i = 0; i < n; i++)
            len += strlen(chs[idx[i]].kind) + strlen(chs[idx[i]].payload) + 8;
        char *text = tc_malloc(len), *p = text;
        *p++ = '[';
        for (int i = 0; i < n; i++)
            p += sprintf(p, "%s[\"%s\",%s]", i ? "," : "", chs[idx[i]].kind, chs[idx[i]].payload);
        *p++ = ']';
        *p = 0;
        st = stream_row(c, chs[idx[0]].user_id, TC_STREAM_MULTI, text, &row, err);
        free(text);
    }
    for (int i = 0; st == TC_OK && i < n; i++)
        chs[idx[i]].stream_id = row * TC_STREAM_SLOTS + i;
    return st;
}

static tc_status outbox_rows(tc_events *ev, tc_db_conn *c, tc_change *ch, tc_err *err)
{
    if (!ch->webhook_type)
        return TC_OK;
    pthread_rwlock_rdlock(&ev->lock);
    tc_events_outbox_fn outbox = ev->outbox;
    void *ctx = ev->outbox_ctx;
    pthread_rwlock_unlock(&ev->lock);
    if (!outbox)
        return TC_OK; /* no webhook module running: nothing subscribes */
    return outbox(ctx, c, ch->user_id, ch->webhook_type,
                  ch->webhook_data ? ch->webhook_data : ch->row, err);
}

tc_status tc_events_record_all(tc_events *ev, tc_db_conn *c, tc_change *chs, int n, tc_err *err)
{
    bool *done = tc_calloc((size_t)n + 1, sizeof(bool));
    tc_status st = TC_OK;
    for (int i = 0; st == TC_OK && i < n; i++) {
        if (done[i])
            continue;
        int idx[TC_STREAM_SLOTS], k = 0;
        for (int j = i; j < n && k < TC_STREAM_SLOTS; j++)
            if (!done[j] && !strcmp(chs[j].user_id, chs[i].user_id)) {
                idx[k++] = j;
                done[j] = true;
            }
        st = stream_group(c, chs, idx, k, err);
    }
    for (int i = 0; st == TC_OK && i < n; i++)
        st = outbox_rows(ev, c, &chs[i], err);
    free(done);
    return st;
}

tc_status tc_events_record(tc_events *ev, tc_db_conn *c, tc_change *ch, tc_err *err)
{
    return tc_events_record_all(ev, c, ch, 1, err);
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
