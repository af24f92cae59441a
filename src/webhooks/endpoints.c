/* Endpoint operations (create, update, rotate, test, retry) and the outbox
 * hook that turns an event into pending deliveries. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/keys.h"
#include "store/repo_webhooks.h"
#include "webhooks/webhooks_int.h"

#define NP(a) (sizeof(a) / sizeof((a)[0]))

/* ---- service lifetime ------------------------------------------------------ */

tc_status tc_webhooks_new(tc_db *db, tc_keyring *kr, const tc_webhooks_config *cfg,
                          tc_webhooks **out, tc_err *err)
{
    if (!db || !kr || !cfg)
        return tc_failf(err, TC_INTERNAL, NULL, "webhooks: database, keyring and settings needed");
    if (cfg->max_attempts < 1 || cfg->timeout_ms < 1 || cfg->concurrency < 1 || cfg->poll_ms < 1)
        return tc_failf(err, TC_BAD_REQUEST, "TC_WEBHOOK_MAX_ATTEMPTS",
                        "webhook attempts, timeout, concurrency and poll interval must be >= 1");
    if (cfg->retain_days < 0 || cfg->retain_days > 36500)
        return tc_failf(err, TC_BAD_REQUEST, "TC_WEBHOOK_RETAIN_DAYS",
                        "webhook history retention must be 0 (forever) to 36500 days");
    tc_webhooks *w = tc_calloc(1, sizeof(*w));
    w->db = db;
    w->keyring = kr;
    w->cfg = *cfg;
    unsigned char rnd[4];
    tc_random_bytes(rnd, sizeof(rnd));
    char hex[9];
    tc_hex_encode(rnd, sizeof(rnd), hex);
    snprintf(w->instance, sizeof(w->instance), "wh-%s", hex);
    pthread_mutex_init(&w->lock, NULL);
    *out = w;
    return TC_OK;
}

tc_status tc_webhooks_start(tc_webhooks *w, tc_err *err)
{
    return tc_webhooks__worker_start(w, err);
}

void tc_webhooks_free(tc_webhooks *w)
{
    if (!w)
        return;
    tc_webhooks__worker_stop(w);
    pthread_mutex_destroy(&w->lock);
    free(w);
}

void tc_webhooks_set_notify(tc_webhooks *w, tc_webhooks_notify_fn fn, void *ctx)
{
    pthread_mutex_lock(&w->lock);
    w->notify = fn;
    w->notify_ctx = ctx;
    pthread_mutex_unlock(&w->lock);
}

void tc_webhooks_stats_get(tc_webhooks *w, tc_webhooks_stats *out)
{
    out->attempts = atomic_load(&w->n_attempts);
    out->succeeded = atomic_load(&w->n_succeeded);
    out->failed = atomic_load(&w->n_failed);
    out->retried = atomic_load(&w->n_retried);
    out->disabled = atomic_load(&w->n_disabled);
    out->inflight = atomic_load(&w->n_inflight);
    out->rounds = atomic_load(&w->n_rounds);
    out->dispatch_cpu_ns = atomic_load(&w->dispatch_cpu_ns);
    out->send_cpu_ns = atomic_load(&w->send_cpu_ns);
    out->pruned = atomic_load(&w->n_pruned);
}

/* ---- secrets ------------------------------------------------------------------- */

static tc_status seal(tc_webhooks *w, const char *purpose, const char *id, const void *pt,
                      size_t len, unsigned char **ct, size_t *ct_len, tc_kid *kid, tc_err *err)
{
    char aad[TC_SECRET_AAD_MAX];
    tc_status st = tc_secret_aad(aad, purpose, id);
    if (st == TC_OK)
        st = tc_secretbox_seal(w->keyring, aad, pt, len, ct, ct_len, err);
    if (st == TC_OK)
        st = tc_secretbox_key_id(*ct, *ct_len, kid);
    return st;
}

static tc_status unseal(tc_webhooks *w, const char *purpose, const char *id, const void *ct,
                        size_t len, unsigned char **pt, size_t *pt_len, tc_err *err)
{
    char aad[TC_SECRET_AAD_MAX];
    tc_status st = tc_secret_aad(aad, purpose, id);
    return st == TC_OK ? tc_secretbox_open(w->keyring, aad, ct, len, pt, pt_len, err) : st;
}

size_t tc_webhooks__open_secrets(tc_webhooks *w, const tc_repo_claimed *d, int64_t now,
                                 unsigned char *secrets[2], size_t lens[2], tc_err *err)
{
    size_t n = 0;
    if (unseal(w, TC_AAD_WEBHOOK_SECRET, d->webhook_id, d->secret, d->secret_len, &secrets[0],
               &lens[0], err) != TC_OK)
        return 0;
    n = 1;
    if (d->prev_secret && d->prev_expires_at > now &&
        unseal(w, TC_AAD_WEBHOOK_PREVIOUS_SECRET, d->webhook_id, d->prev_secret,
               d->prev_secret_len, &secrets[1], &lens[1], NULL) == TC_OK)
        n = 2;
    return n;
}

/* ---- reading bodies -------------------------------------------------------------- */

/* The validated fields of a create/update body. Strings borrowed from the
 * body; event_types/headers are new compact JSON texts (freed by clear). */
typedef struct wh_fields {
    const char *url, *description, *template_src;
    char *event_types, *headers;
    bool enabled;
    bool has_url, has_description, has_template, has_event_types, has_headers, has_enabled;
} wh_fields;

static void fields_clear(wh_fields *f)
{
    free(f->event_types);
    free(f->headers);
}

static const char *const known_fields[] = {"url",      "description", "event_types",
                                           "template", "headers",     "enabled"};

static tc_status unknown_field_check(const json_t *body, tc_err *err)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)body, k, v) {
        bool known = false;
        for (size_t i = 0; i < NP(known_fields) && !known; i++)
            known = !strcmp(k, known_fields[i]);
        if (!known)
            return tc_failf(err, TC_VALIDATION, k, "unknown field %s", k);
    }
    return TC_OK;
}

static tc_status read_template(const json_t *body, wh_fields *f, tc_err *err)
{
    json_t *t = json_object_get(body, "template");
    f->has_template = t != NULL;
    if (!t || json_is_null(t))
        return TC_OK;
    if (!json_is_string(t))
        return tc_failf(err, TC_VALIDATION, "template", "template must be a string (JSON text with {{path}} placeholders) or null");
    f->template_src = json_string_value(t);
    if (!*f->template_src) {
        f->template_src = NULL;
        return TC_OK;
    }
    tc_webhook_template *tpl = NULL;
    tc_status st = tc_webhook_template_compile(f->template_src, json_string_length(t), &tpl, err);
    tc_webhook_template_free(tpl);
    return st;
}

static tc_status read_headers(const json_t *body, wh_fields *f, tc_err *err)
{
    json_t *h = json_object_get(body, "headers");
    f->has_headers = h != NULL;
    if (!h || json_is_null(h) || (json_is_object(h) && json_object_size(h) == 0))
        return TC_OK;
    tc_status st = tc_webhook_headers_check(h, err);
    if (st == TC_OK)
        f->headers = json_dumps(h, JSON_COMPACT);
    return st;
}

static tc_status read_fields(tc_webhooks *w, const json_t *body, bool create, wh_fields *f,
                             tc_err *err)
{
    memset(f, 0, sizeof(*f));
    f->enabled = true;
    if (!json_is_object(body))
        return tc_failf(err, TC_VALIDATION, NULL, "the body must be a JSON object");
    tc_status st = unknown_field_check(body, err);
    if (st != TC_OK)
        return st;
    f->has_url = json_object_get(body, "url") != NULL;
    if (create || f->has_url) {
        json_t *u = json_object_get(body, "url");
        if (!json_is_string(u))
            return tc_failf(err, TC_VALIDATION, "url", "url is required (an https URL)");
        f->url = json_string_value(u);
        if ((st = tc_webhook_url_check(f->url, w->cfg.allow_private, err)) != TC_OK)
            return st;
    }
    json_t *d = json_object_get(body, "description");
    f->has_description = d != NULL;
    if (d && !json_is_null(d)) {
        if (!json_is_string(d) || json_string_length(d) > TC_WH_DESCRIPTION_MAX)
            return tc_failf(err, TC_VALIDATION, "description",
                            "description must be a string of at most %d bytes", TC_WH_DESCRIPTION_MAX);
        f->description = json_string_value(d);
    }
    json_t *types = json_object_get(body, "event_types");
    f->has_event_types = types != NULL;
    if (create || types) {
        if ((st = tc_webhook_event_types_check(types, err)) != TC_OK)
            return st;
        f->event_types = json_dumps(types, JSON_COMPACT);
    }
    json_t *en = json_object_get(body, "enabled");
    f->has_enabled = en != NULL && !json_is_null(en);
    if (f->has_enabled) {
        if (!json_is_boolean(en))
            return tc_failf(err, TC_VALIDATION, "enabled", "enabled must be true or false");
        f->enabled = json_is_true(en);
    }
    if ((st = read_template(body, f, err)) != TC_OK)
        return st;
    return read_headers(body, f, err);
}

/* ---- create / update ----------------------------------------------------------- */

static tc_status count_endpoints(tc_db_conn *c, const char *user_id, size_t *n, tc_err *err)
{
    /* Enabled or not, every endpoint counts: list them (bounded). */
    json_t *items = NULL;
    char *next = NULL;
    tc_status st = tc_repo_webhook_list(c, user_id, NULL, TC_WH_ENDPOINTS_MAX, &items, &next, err);
    if (st == TC_OK)
        *n = json_array_size(items) + (next ? 1 : 0);
    json_decref(items);
    free(next);
    return st;
}

tc_status tc_webhooks_create(tc_webhooks *w, const char *user_id, const json_t *body, json_t **out,
                             tc_err *err)
{
    wh_fields f;
    char id[37], secret[TC_WH_SECRET_TEXT_MAX];
    unsigned char *ct = NULL;
    size_t ct_len = 0, n = 0;
    tc_kid kid = 0;
    tc_db_conn *c = NULL;
    tc_status st = read_fields(w, body, true, &f, err);
    if (st != TC_OK)
        goto out;
    tc_uuid(id);
    tc_webhook_secret_generate(secret);
    st = seal(w, TC_AAD_WEBHOOK_SECRET, id, secret, strlen(secret), &ct, &ct_len, &kid, err);
    if (st != TC_OK)
        goto out;
    c = tc_db_acquire(w->db);
    st = count_endpoints(c, user_id, &n, err);
    if (st == TC_OK && n >= TC_WH_ENDPOINTS_MAX)
        st = tc_failf(err, TC_CONFLICT, NULL, "at most %d webhook endpoints per account",
                      TC_WH_ENDPOINTS_MAX);
    if (st != TC_OK)
        goto out;
    tc_repo_webhook_row row = {.id = id,
                               .url = f.url,
                               .description = f.description,
                               .event_types = f.event_types,
                               .enabled = f.enabled,
                               .headers = f.headers,
                               .template_src = f.template_src};
    st = tc_repo_webhook_insert(c, user_id, &row, ct, ct_len, kid, tc_now_ms(), err);
    if (st == TC_OK)
        st = tc_repo_webhook_get_json(c, user_id, id, out, err);
    if (st == TC_OK)
        json_object_set_new(*out, "secret", json_string(secret));
out:
    if (c)
        tc_db_release(c);
    explicit_bzero(secret, sizeof(secret));
    free(ct);
    fields_clear(&f);
    return st;
}

/* Current editable fields as a row (strings borrowed from cur). */
static void row_from_json(const json_t *cur, tc_repo_webhook_row *row, char **types, char **hdrs)
{
    row->url = json_string_value(json_object_get(cur, "url"));
    row->description = json_string_value(json_object_get(cur, "description"));
    *types = json_dumps(json_object_get(cur, "event_types"), JSON_COMPACT);
    json_t *h = json_object_get(cur, "headers");
    *hdrs = json_is_object(h) ? json_dumps(h, JSON_COMPACT) : NULL;
    row->event_types = *types;
    row->headers = *hdrs;
    row->template_src = json_string_value(json_object_get(cur, "template"));
    row->enabled = json_is_true(json_object_get(cur, "enabled"));
}

static void merge_fields(const wh_fields *f, tc_repo_webhook_row *row)
{
    if (f->has_url)
        row->url = f->url;
    if (f->has_description)
        row->description = f->description ? f->description : "";
    if (f->has_event_types)
        row->event_types = f->event_types;
    if (f->has_headers)
        row->headers = f->headers;
    if (f->has_template)
        row->template_src = f->template_src;
    if (f->has_enabled)
        row->enabled = f->enabled;
}

tc_status tc_webhooks_update(tc_webhooks *w, const char *user_id, const char *id,
                             const json_t *body, json_t **out, tc_err *err)
{
    wh_fields f;
    json_t *cur = NULL;
    char *types = NULL, *hdrs = NULL;
    tc_status st = read_fields(w, body, false, &f, err);
    if (st != TC_OK) {
        fields_clear(&f);
        return st;
    }
    tc_db_conn *c = tc_db_acquire(w->db);
    st = tc_repo_webhook_get_json(c, user_id, id, &cur, err);
    if (st == TC_OK) {
        tc_repo_webhook_row row = {.id = id};
        row_from_json(cur, &row, &types, &hdrs);
        merge_fields(&f, &row);
        st = tc_repo_webhook_update(c, user_id, &row, f.has_enabled, tc_now_ms(), err);
    }
    if (st == TC_OK)
        st = tc_repo_webhook_get_json(c, user_id, id, out, err);
    tc_db_release(c);
    if (st == TC_OK && f.has_enabled && f.enabled)
        tc_webhooks_kick(w); /* deliveries held while disabled are due again */
    json_decref(cur);
    free(types);
    free(hdrs);
    fields_clear(&f);
    return st;
}

/* ---- rotation -------------------------------------------------------------------- */

tc_status tc_webhooks_rotate(tc_webhooks *w, const char *user_id, const char *id, json_t **out,
                             tc_err *err)
{
    unsigned char *old_ct = NULL, *old_pt = NULL, *new_ct = NULL, *prev_ct = NULL;
    size_t old_len = 0, old_pt_len = 0, new_len = 0, prev_len = 0;
    tc_kid new_kid = 0, prev_kid = 0;
    char secret[TC_WH_SECRET_TEXT_MAX];
    int64_t now = tc_now_ms();
    tc_webhook_secret_generate(secret);
    tc_db_conn *c = tc_db_acquire(w->db);
    tc_status st = tc_repo_webhook_secret(c, user_id, id, &old_ct, &old_len, NULL, err);
    if (st == TC_OK)
        st = unseal(w, TC_AAD_WEBHOOK_SECRET, id, old_ct, old_len, &old_pt, &old_pt_len, err);
    if (st == TC_OK)
        st = seal(w, TC_AAD_WEBHOOK_PREVIOUS_SECRET, id, old_pt, old_pt_len, &prev_ct, &prev_len,
                  &prev_kid, err);
    if (st == TC_OK)
        st = seal(w, TC_AAD_WEBHOOK_SECRET, id, secret, strlen(secret), &new_ct, &new_len,
                  &new_kid, err);
    if (st == TC_OK)
        st = tc_repo_webhook_rotate(c, user_id, id, old_ct, old_len, new_ct, new_len, new_kid,
                                    prev_ct, prev_len, prev_kid, now + TC_WH_SECRET_OVERLAP_MS,
                                    now, err);
    if (st == TC_OK)
        st = tc_repo_webhook_get_json(c, user_id, id, out, err);
    tc_db_release(c);
    if (st == TC_OK)
        json_object_set_new(*out, "secret", json_string(secret));
    explicit_bzero(secret, sizeof(secret));
    if (old_pt)
        tc_secret_free(old_pt, old_pt_len);
    free(old_ct);
    free(new_ct);
    free(prev_ct);
    return st;
}

/* ---- the outbox ------------------------------------------------------------------ */

static bool subscribed(const json_t *sub, const char *type)
{
    size_t i;
    json_t *t;
    json_array_foreach(json_object_get(sub, "event_types"), i, t) {
        if (json_is_string(t) && !strcmp(json_string_value(t), type))
            return true;
    }
    return false;
}

/* The body for one endpoint: its template rendered, or the envelope. A
 * template that no longer compiles (it was checked when saved, so only after
 * a change of the rules) falls back to the envelope, logged. */
static tc_status render_body(const json_t *sub, const json_t *env, char **body, tc_err *err)
{
    const char *src = json_string_value(json_object_get(sub, "template"));
    tc_webhook_template *tpl = NULL;
    size_t len = 0;
    if (src && *src && tc_webhook_template_compile(src, strlen(src), &tpl, NULL) != TC_OK)
        tc_log(TC_LOG_WARN, "webhook template does not compile; sending the envelope",
               "webhook_id", json_string_value(json_object_get(sub, "id")), NULL);
    tc_status st = tc_webhook_payload(tpl, env, body, &len, err);
    tc_webhook_template_free(tpl);
    return st;
}

tc_status tc_webhooks__enqueue(tc_webhooks *w, tc_db_conn *c, const char *user_id,
                               const char *type, const json_t *data, const char *only_id,
                               char *delivery_id, size_t *count, tc_err *err)
{
    (void)w;
    json_t *subs = NULL;
    *count = 0;
    tc_status st = tc_repo_webhook_subscribers(c, user_id, TC_WH_ENDPOINTS_MAX, &subs, err);
    if (st != TC_OK)
        return st;
    json_t *env = tc_webhook_envelope(type, tc_now_ms(), (json_t *)data);
    int64_t now = tc_now_ms();
    size_t i;
    json_t *sub;
    json_array_foreach(subs, i, sub) {
        const char *wid = json_string_value(json_object_get(sub, "id"));
        if (only_id ? strcmp(only_id, wid) != 0 : !subscribed(sub, type))
            continue;
        char *body = NULL, did[37], msg[TC_WH_MSG_ID_MAX + 1];
        if ((st = render_body(sub, env, &body, err)) != TC_OK)
            break;
        tc_uuid7(did); /* time-ordered: inserts append, a round's rows share pages */
        tc_webhook_msg_id(msg);
        tc_repo_delivery_new d = {.id = did, .webhook_id = wid, .user_id = user_id,
                                  .event_type = type, .message_id = msg, .payload = body};
        st = tc_repo_delivery_insert(c, &d, now, err);
        free(body);
        if (st != TC_OK)
            break;
        if (delivery_id)
            memcpy(delivery_id, did, sizeof(did));
        (*count)++;
    }
    json_decref(env);
    json_decref(subs);
    return st;
}

tc_status tc_webhooks_outbox(void *ctx, tc_db_conn *c, const char *user_id, const char *type,
                             const json_t *data, tc_err *err)
{
    tc_webhooks *w = ctx;
    if (!tc_webhook_event_type_valid(type))
        return tc_failf(err, TC_INTERNAL, NULL, "unknown webhook event type %s", type);
    size_t n = 0;
    tc_status st = tc_webhooks__enqueue(w, c, user_id, type, data, NULL, NULL, &n, err);
    /* Before the commit: on SQLite the worker's claim waits for the writer
     * lock we hold; elsewhere it re-checks shortly after an empty kick. */
    if (st == TC_OK && n > 0)
        tc_webhooks_kick(w);
    return st;
}

/* ---- test and retry --------------------------------------------------------------- */

tc_status tc_webhooks_test(tc_webhooks *w, const char *user_id, const char *id, json_t **out,
                           tc_err *err)
{
    bool enabled = false;
    unsigned char *ct = NULL;
    size_t ct_len = 0, n = 0;
    char did[37] = "";
    tc_db_conn *c = tc_db_acquire(w->db);
    tc_status st = tc_repo_webhook_secret(c, user_id, id, &ct, &ct_len, &enabled, err);
    free(ct);
    if (st == TC_OK && !enabled)
        st = tc_failc(err, TC_CONFLICT, "webhook_disabled", NULL,
                      "the webhook is disabled; enable it to send a test event");
    if (st != TC_OK)
        goto out;
    json_t *data = json_pack("{s:s, s:s}", "webhook_id", id, "message",
                             "This is a test event from Tool Connect Craft.");
    st = tc_db_begin(c, err);
    if (st == TC_OK)
        st = tc_webhooks__enqueue(w, c, user_id, "webhook.test", data, id, did, &n, err);
    if (st == TC_OK && n == 0)
        st = tc_failc(err, TC_CONFLICT, "webhook_disabled", NULL, "the webhook is disabled");
    if (st == TC_OK)
        st = tc_db_commit(c, err);
    else
        tc_db_rollback(c);
    json_decref(data);
    if (st == TC_OK) {
        /* Read before the kick: the worker may deliver before a later read. */
        st = tc_repo_delivery_get_json(c, user_id, did, out, err);
        tc_webhooks_kick(w);
    }
out:
    tc_db_release(c);
    return st;
}

tc_status tc_webhooks_retry(tc_webhooks *w, const char *user_id, const char *delivery_id,
                            json_t **out, tc_err *err)
{
    tc_db_conn *c = tc_db_acquire(w->db);
    tc_status st = tc_repo_delivery_retry(c, user_id, delivery_id, tc_now_ms(), err);
    if (st == TC_OK) {
        /* Read before the kick: the worker may deliver before a later read. */
        st = tc_repo_delivery_get_json(c, user_id, delivery_id, out, err);
        tc_webhooks_kick(w);
    }
    tc_db_release(c);
    return st;
}
