/* The notify service: queuing by preferences, and the sender thread that
 * delivers the outbox (see notify.h). Lock order: n->mu is never held while
 * a database call or a send runs. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "notify/notify.h"

#define BATCH 50
#define RETRY_CAP_MS 3600000
#define DIGEST_MAX_ITEMS 50

struct tc_notify {
    tc_db *db;
    char *smtp_url, *from, *api_url, *api_key, *public_url;
    const tc_notify_transport *transport;
    tc_notify_transport_cfg tcfg;
    int max_attempts;
    int64_t retry_base_ms, poll_ms, digest_ms, clock_offset_ms;
    tc_notify_tz_offset_fn tz_offset;
    pthread_t thread;
    bool running, stop, wake;
    pthread_mutex_t mu;
    pthread_cond_t cv;
};

static void *sender_main(void *arg);

static tc_status pick_transport(tc_notify *n, tc_err *err)
{
    if (!n->from[0] || (!n->api_url[0] && !n->smtp_url[0]))
        return TC_OK; /* no email configured */
    n->transport = tc_notify_transport_find(n->api_url[0] ? "http" : "smtp");
    n->tcfg.url = n->api_url[0] ? n->api_url : n->smtp_url;
    n->tcfg.api_key = n->api_key;
    if (!n->api_url[0]) {
        char u[1024], user[256], pass[256];
        bool tls;
        tc_status st = tc_notify_smtp_url_parse(n->smtp_url, u, sizeof(u), user, sizeof(user), pass,
                                                sizeof(pass), &tls, err);
        explicit_bzero(pass, sizeof(pass));
        return st;
    }
    if (strncmp(n->api_url, "https://", 8) && strncmp(n->api_url, "http://", 7))
        return tc_failf(err, TC_BAD_REQUEST, "TC_EMAIL_API_URL", "TC_EMAIL_API_URL must be an http(s) URL");
    return TC_OK;
}

tc_status tc_notify_start(const tc_notify_opts *o, tc_notify **out, tc_err *err)
{
    tc_notify *n = tc_calloc(1, sizeof(*n));
    n->db = o->db;
    n->smtp_url = tc_strdup(o->smtp_url ? o->smtp_url : "");
    n->from = tc_strdup(o->mail_from ? o->mail_from : "");
    n->api_url = tc_strdup(o->api_url ? o->api_url : "");
    n->api_key = tc_strdup(o->api_key ? o->api_key : "");
    n->public_url = tc_strdup(o->public_url ? o->public_url : "");
    n->tcfg.allow_private = o->allow_private;
    n->tcfg.timeout_ms = o->send_timeout_ms > 0 ? o->send_timeout_ms : 30000;
    n->max_attempts = o->max_attempts > 0 ? o->max_attempts : 8;
    n->retry_base_ms = o->retry_base_ms > 0 ? o->retry_base_ms : 30000;
    n->poll_ms = o->poll_ms > 0 ? o->poll_ms : 5000;
    n->digest_ms = o->digest_ms > 0 ? o->digest_ms : 3600000;
    n->clock_offset_ms = o->clock_offset_ms;
    n->tz_offset = o->tz_offset;
    pthread_mutex_init(&n->mu, NULL);
    pthread_cond_init(&n->cv, NULL);
    tc_status st = pick_transport(n, err);
    if (st == TC_OK && n->transport) {
        n->running = pthread_create(&n->thread, NULL, sender_main, n) == 0;
        if (!n->running)
            st = tc_failf(err, TC_INTERNAL, NULL, "cannot start the email sender thread");
    }
    if (st != TC_OK) {
        tc_notify_stop(n);
        return st;
    }
    tc_log(TC_LOG_INFO, "email notifications", "transport", n->transport ? n->transport->name : "none",
           NULL);
    *out = n;
    return TC_OK;
}

void tc_notify_stop(tc_notify *n)
{
    if (!n)
        return;
    pthread_mutex_lock(&n->mu);
    n->stop = true;
    pthread_cond_broadcast(&n->cv);
    pthread_mutex_unlock(&n->mu);
    if (n->running)
        pthread_join(n->thread, NULL);
    pthread_mutex_destroy(&n->mu);
    pthread_cond_destroy(&n->cv);
    if (n->api_key)
        explicit_bzero(n->api_key, strlen(n->api_key));
    if (n->smtp_url)
        explicit_bzero(n->smtp_url, strlen(n->smtp_url));
    free(n->smtp_url);
    free(n->from);
    free(n->api_url);
    free(n->api_key);
    free(n->public_url);
    free(n);
}

bool tc_notify_enabled(const tc_notify *n)
{
    return n && n->transport;
}

void tc_notify_wake(tc_notify *n)
{
    if (!n)
        return;
    pthread_mutex_lock(&n->mu);
    n->wake = true;
    pthread_cond_signal(&n->cv);
    pthread_mutex_unlock(&n->mu);
}

/* ---- queuing ------------------------------------------------------------------ */

static bool wants_type(const tc_notify_prefs *p, const char *type)
{
    if (!p->email_enabled)
        return false;
    if (json_array_size(p->alert_types) == 0)
        return true;
    size_t i;
    const json_t *v;
    json_array_foreach(p->alert_types, i, v) if (!strcmp(json_string_value(v), type)) return true;
    return false;
}

tc_status tc_notify_user(tc_notify *n, tc_db_conn *c, const char *user_id, const tc_notify_msg *m,
                         tc_notify_outcome *outcome, tc_err *err)
{
    tc_notify_outcome dummy;
    outcome = outcome ? outcome : &dummy;
    *outcome = TC_NOTIFY_SKIPPED;
    const char *type = tc_notify_alert_type_canonical(m->type);
    if (!type)
        return tc_failf(err, TC_BAD_REQUEST, "type", "unknown alert type \"%s\"", m->type ? m->type : "");
    if (!tc_notify_enabled(n))
        return TC_OK;
    tc_notify_prefs prefs;
    char to[TC_NOTIFY_EMAIL_MAX + 1];
    tc_status st = tc_repo_notify_prefs_get(c, user_id, &prefs, err);
    if (st != TC_OK || !wants_type(&prefs, type))
        goto out;
    st = tc_repo_notify_user_email(c, user_id, to, err);
    if (st != TC_OK)
        goto out;
    int64_t real = tc_now_ms(), now = real + n->clock_offset_ms, slot = 0;
    int64_t release = tc_notify_release_at(&prefs, now, n->digest_ms, n->tz_offset, &slot);
    char digest_key[80] = "";
    if (slot)
        snprintf(digest_key, sizeof(digest_key), "%s:%lld", user_id, (long long)slot);
    char *html = m->html ? NULL : tc_notify_html_from_text(m->subject, m->text);
    tc_repo_outbox_new row = {
        .user_id = user_id, .kind = type, .to = to, .subject = m->subject ? m->subject : type,
        .text = m->text ? m->text : "", .html = m->html ? m->html : html,
        .digest_key = slot ? digest_key : NULL,
        .hold_until = release > now ? release - n->clock_offset_ms : 0,
        .next_attempt_at = release > now ? release - n->clock_offset_ms : real,
    };
    st = tc_repo_notify_outbox_insert(c, &row, real, NULL, err);
    free(html);
    if (st == TC_OK)
        *outcome = release > now ? TC_NOTIFY_HELD : TC_NOTIFY_QUEUED;
out:
    tc_notify_prefs_clear(&prefs);
    return st;
}

tc_status tc_notify_alert(tc_notify *n, tc_db_conn *c, const char *user_id, const char *type,
                          const json_t *vars, tc_notify_outcome *outcome, tc_err *err)
{
    tc_notify_rendered r;
    tc_status st = tc_notify_render(type, vars, n ? n->public_url : NULL, &r, err);
    if (st != TC_OK)
        return st;
    tc_notify_msg m = {.type = type, .subject = r.subject, .text = r.text, .html = r.html};
    st = tc_notify_user(n, c, user_id, &m, outcome, err);
    tc_notify_rendered_free(&r);
    return st;
}

/* ---- sending ------------------------------------------------------------------ */

/* One email to send: a single row, or the rows of one digest. */
typedef struct {
    json_t *rows;  /* array of outbox rows (owned) */
} mail_group;

static int64_t backoff_ms(const tc_notify *n, int attempts)
{
    int64_t d = n->retry_base_ms;
    for (int i = 1; i < attempts && d < RETRY_CAP_MS; i++)
        d *= 2;
    if (d > RETRY_CAP_MS)
        d = RETRY_CAP_MS;
    uint32_t r;
    tc_random_bytes(&r, sizeof(r));
    return d + (int64_t)(r % (uint32_t)(d / 10 + 1));
}

static void compose_digest(const json_t *rows, tc_buf *text, char **subject)
{
    size_t i;
    const json_t *row;
    *subject = tc_asprintf("Tool Connect: %zu notifications", json_array_size(rows));
    json_array_foreach(rows, i, row) {
        tc_buf_printf(text, "== %s ==\n%s\n\n", json_string_value(json_object_get(row, "subject")),
                      json_string_value(json_object_get(row, "text")));
    }
}

static tc_status send_group(tc_notify *n, const mail_group *g, tc_err *err)
{
    const json_t *first = json_array_get(g->rows, 0);
    tc_notify_mail m = {
        .from = n->from,
        .to = json_string_value(json_object_get(first, "to")),
        .subject = json_string_value(json_object_get(first, "subject")),
        .text = json_string_value(json_object_get(first, "text")),
        .html = json_string_value(json_object_get(first, "html")),
    };
    if (json_array_size(g->rows) == 1)
        return n->transport->send(&n->tcfg, &m, err);
    tc_buf text;
    tc_buf_init(&text, 1u << 20);
    char *subject = NULL;
    compose_digest(g->rows, &text, &subject);
    char *body = tc_buf_steal(&text);
    char *html = tc_notify_html_from_text(subject, body);
    m.subject = subject;
    m.text = body ? body : "";
    m.html = html;
    tc_status st = n->transport->send(&n->tcfg, &m, err);
    free(subject);
    free(body);
    free(html);
    return st;
}

static void record_outcome(tc_notify *n, const mail_group *g, tc_status st, const tc_err *serr)
{
    tc_db_conn *c = tc_db_acquire(n->db);
    int64_t now = tc_now_ms();
    size_t i;
    const json_t *row;
    json_array_foreach(g->rows, i, row) {
        const char *id = json_string_value(json_object_get(row, "id"));
        int attempts = (int)json_integer_value(json_object_get(row, "attempt_count")) + 1;
        char at[16];
        snprintf(at, sizeof(at), "%d", attempts);
        tc_err err;
        tc_err_clear(&err);
        tc_status wst;
        if (st == TC_OK) {
            wst = tc_repo_notify_outbox_sent(c, id, attempts, now, &err);
            tc_log(TC_LOG_INFO, "email sent", "outbox_id", id, "kind",
                   json_string_value(json_object_get(row, "kind")), "attempt", at, "transport",
                   n->transport->name, NULL);
        } else {
            bool last = st == TC_BAD_REQUEST || attempts >= n->max_attempts;
            int64_t next = last ? 0 : now + backoff_ms(n, attempts);
            wst = tc_repo_notify_outbox_failed(c, id, attempts, next, serr->message, &err);
            tc_log(last ? TC_LOG_ERROR : TC_LOG_WARN, last ? "email failed for good" : "email send failed; will retry",
                   "outbox_id", id, "attempt", at, "transport", n->transport->name, "error",
                   serr->message, NULL);
        }
        if (wst != TC_OK)
            tc_log(TC_LOG_ERROR, "cannot record an email outcome", "outbox_id", id, "error",
                   err.message, NULL);
    }
    tc_db_release(c);
}

/* Claims due rows and groups them: digest rows by digest_key, others one
 * per group. Returns the number of rows seen (claimed or not). */
static size_t claim_groups(tc_notify *n, mail_group *groups, size_t *ngroups)
{
    *ngroups = 0;
    tc_err err;
    tc_err_clear(&err);
    json_t *rows = NULL;
    int64_t now = tc_now_ms();
    tc_db_conn *c = tc_db_acquire(n->db);
    if (tc_repo_notify_outbox_due(c, now, BATCH, &rows, &err) != TC_OK) {
        tc_db_release(c);
        tc_log(TC_LOG_WARN, "email outbox poll failed", "error", err.message, NULL);
        return 0;
    }
    size_t seen = json_array_size(rows), i;
    int64_t lease = now + 2 * (int64_t)n->tcfg.timeout_ms + 10000;
    json_t *row;
    json_array_foreach(rows, i, row) {
        bool claimed = false;
        const char *id = json_string_value(json_object_get(row, "id"));
        int64_t seen_at = json_integer_value(json_object_get(row, "next_attempt_at"));
        if (tc_repo_notify_outbox_claim(c, id, seen_at, lease, &claimed, &err) != TC_OK || !claimed)
            continue;
        const char *dk = json_string_value(json_object_get(row, "digest_key"));
        size_t g = *ngroups;
        for (size_t k = 0; dk && k < *ngroups; k++) {
            const char *gk = json_string_value(json_object_get(json_array_get(groups[k].rows, 0), "digest_key"));
            if (gk && !strcmp(gk, dk) && json_array_size(groups[k].rows) < DIGEST_MAX_ITEMS)
                g = k;
        }
        if (g == *ngroups)
            groups[(*ngroups)++].rows = json_array();
        json_array_append(groups[g].rows, row);
    }
    tc_db_release(c);
    json_decref(rows);
    return seen;
}

static size_t send_due(tc_notify *n)
{
    mail_group groups[BATCH];
    size_t ng = 0;
    size_t seen = claim_groups(n, groups, &ng);
    for (size_t i = 0; i < ng; i++) {
        tc_err err;
        tc_err_clear(&err);
        tc_status st = send_group(n, &groups[i], &err);
        record_outcome(n, &groups[i], st, &err);
        json_decref(groups[i].rows);
    }
    return seen;
}

static void *sender_main(void *arg)
{
    tc_notify *n = arg;
    pthread_mutex_lock(&n->mu);
    while (!n->stop) {
        pthread_mutex_unlock(&n->mu);
        size_t seen = send_due(n);
        pthread_mutex_lock(&n->mu);
        if (seen == BATCH || n->stop)
            continue;
        if (!n->wake) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            int64_t ns = ts.tv_nsec + (n->poll_ms % 1000) * 1000000;
            ts.tv_sec += n->poll_ms / 1000 + ns / 1000000000;
            ts.tv_nsec = ns % 1000000000;
            pthread_cond_timedwait(&n->cv, &n->mu, &ts);
        }
        n->wake = false;
    }
    pthread_mutex_unlock(&n->mu);
    return NULL;
}
