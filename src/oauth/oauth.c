/* The module: start and stop, client credentials, shared helpers, hooks
 * into the connections module, and revocation (see oauth.h). */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/keys.h"
#include "events/events.h"
#include "oauth/oauth_int.h"
#include "store/repo_connectors.h"
#include "store/repo_oauth.h"

#define CLIENT_ID_MAX 512
#define CLIENT_SECRET_MAX 2048

static const char *jstr(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

/* ---- hooks ---- */

static tc_status hook_fresh(void *ctx, const char *user_id, const char *id, tc_err *err)
{
    return tc_oauth_ensure_fresh(ctx, user_id, id, err);
}

static void hook_revoke(void *ctx, const json_t *definition, const json_t *secret)
{
    tc_oauth_revoke_async(ctx, definition, secret);
}

static tc_status hook_401(void *ctx, const char *user_id, const char *id, const char *rejected,
                          tc_err *err)
{
    return tc_oauth_refresh_after_401(ctx, user_id, id, rejected, err);
}

void tc_oauth_install_hooks(tc_oauth *o, tc_connections *cx)
{
    o->hooks.ctx = o;
    o->hooks.ensure_fresh = hook_fresh;
    o->hooks.revoke = hook_revoke;
    o->hooks.after_401 = hook_401;
    cx->oauth = &o->hooks;
}

/* ---- start and stop ---- */

tc_status tc_oauth_new(const tc_oauth_options *opt, tc_oauth **out, tc_err *err)
{
    if (!opt->db || !opt->keyring || !opt->master_key)
        return tc_failf(err, TC_INTERNAL, NULL, "oauth: db, keyring and master key are required");
    const char *pub = opt->public_url ? opt->public_url : "";
    if (strncmp(pub, "http://", 7) && strncmp(pub, "https://", 8))
        return tc_failf(err, TC_BAD_REQUEST, "TC_PUBLIC_URL",
                        "TC_PUBLIC_URL must be an http(s) URL (the OAuth redirect URI is built from it)");
    tc_oauth *o = tc_calloc(1, sizeof(*o));
    o->o = *opt;
    size_t n = strlen(pub);
    while (n > 0 && pub[n - 1] == '/')
        n--;
    o->public_url = tc_strndup(pub, n);
    o->o.public_url = o->public_url;
    o->secure_cookie = !strncmp(pub, "https://", 8);
    static const char info[] = "toolconnect/oauth/state-cookie/v1";
    tc_hkdf_sha256(opt->master_key, TC_MASTER_KEY_LEN, NULL, 0, info, sizeof(info) - 1,
                   o->cookie_key, sizeof(o->cookie_key));
    pthread_mutex_init(&o->lock, NULL);
    pthread_cond_init(&o->cond, NULL);
    o->pool = tc_pool_new(2, 1000);
    if (opt->refresh_interval_ms > 0) {
        if (pthread_create(&o->thread, NULL, tc_oauth__refresher_main, o) != 0) {
            tc_oauth_free(o);
            return tc_failf(err, TC_INTERNAL, NULL, "oauth: cannot start the refresher thread");
        }
        o->thread_started = true;
    }
    *out = o;
    return TC_OK;
}

void tc_oauth_free(tc_oauth *o)
{
    if (!o)
        return;
    pthread_mutex_lock(&o->lock);
    o->stop = true;
    pthread_cond_broadcast(&o->cond);
    pthread_mutex_unlock(&o->lock);
    if (o->thread_started)
        pthread_join(o->thread, NULL);
    tc_pool_free(o->pool); /* runs what is queued while o is valid */
    pthread_cond_destroy(&o->cond);
    pthread_mutex_destroy(&o->lock);
    explicit_bzero(o->cookie_key, sizeof(o->cookie_key));
    free(o->public_url);
    free(o);
}

tc_status tc_oauth_submit(tc_oauth *o, void (*fn)(void *), void *arg)
{
    return tc_pool_submit(o->pool, fn, arg);
}

/* ---- shared helpers ---- */

tc_status tc_oauth__seal(tc_oauth *o, const char *purpose, const char *id, const char *text,
                         unsigned char **ct, size_t *ctlen, char kid[16], tc_err *err)
{
    char aad[TC_SECRET_AAD_MAX];
    tc_secret_aad(aad, purpose, id);
    tc_status st = tc_secretbox_seal(o->o.keyring, aad, text, strlen(text), ct, ctlen, err);
    tc_kid k = 0;
    if (st == TC_OK)
        tc_secretbox_key_id(*ct, *ctlen, &k);
    snprintf(kid, 16, "%u", k);
    return st;
}

char *tc_oauth__secret_text(const tc_oauth__tokens *t, const char *old_refresh)
{
    json_t *s = json_object();
    json_object_set_new(s, "access_token", json_string(t->access_token));
    const char *rt = t->refresh_token ? t->refresh_token : old_refresh;
    if (rt)
        json_object_set_new(s, "refresh_token", json_string(rt));
    if (t->token_type)
        json_object_set_new(s, "token_type", json_string(t->token_type));
    char *text = json_dumps(s, JSON_COMPACT);
    const char *k;
    json_t *v;
    json_object_foreach(s, k, v)
        json_string_set(v, "");
    json_decref(s);
    return text;
}

tc_status tc_oauth__record(tc_oauth *o, tc_db_conn *c, const char *user_id, const char *id,
                           const char *webhook_type, void *chp, tc_err *err)
{
    tc_change *ch = chp;
    json_t *row = NULL;
    tc_status st = tc_repo_connection_get_json(c, user_id, id, &row, err);
    if (st != TC_OK)
        return st;
    tc_change_init(ch, user_id, "connection", row);
    ch->webhook_type = webhook_type;
    return o->o.events ? tc_events_record(o->o.events, c, ch, err) : TC_OK;
}

/* ---- client credentials ---- */

tc_status tc_oauth__client_load(tc_oauth *o, tc_db_conn *c, const char *connector_id,
                                tc_oauth__client *out, tc_err *err)
{
    memset(out, 0, sizeof(*out));
    tc_repo_oauth_client cl;
    tc_status st = tc_repo_oauth_client_get(c, connector_id, &cl, err);
    if (st == TC_NOT_FOUND)
        return tc_failc(err, TC_CONFLICT, "oauth_client_missing", "connector",
                        "no OAuth client is configured for this connector: an administrator must "
                        "set its client id (TC_OAUTH_<SLUG>_CLIENT_ID or PUT /api/admin/oauth-clients/{slug})");
    if (st != TC_OK)
        return st;
    out->client_id = tc_strdup(cl.client_id);
    if (cl.secret) {
        char aad[TC_SECRET_AAD_MAX];
        tc_secret_aad(aad, TC_AAD_OAUTH_CLIENT_SECRET, cl.row_id);
        unsigned char *pt = NULL;
        size_t ptlen = 0;
        st = tc_secretbox_open(o->o.keyring, aad, cl.secret, cl.secret_len, &pt, &ptlen, err);
        if (st == TC_OK)
            out->client_secret = tc_strndup((const char *)pt, ptlen);
        tc_secret_free(pt, ptlen);
    }
    tc_repo_oauth_client_clear(&cl);
    if (st != TC_OK)
        tc_oauth__client_clear(out);
    return st;
}

void tc_oauth__client_clear(tc_oauth__client *cl)
{
    free(cl->client_id);
    tc_secret_free_str(cl->client_secret);
    memset(cl, 0, sizeof(*cl));
}

static bool printable(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x21 || (unsigned char)*s > 0x7e)
            return false;
    return true;
}

/* Stores one client; the secret is sealed against the row id, which the
 * upsert keeps, so read it back first. */
static tc_status client_store(tc_oauth *o, const char *connector_id, const char *client_id,
                              const char *secret, tc_err *err)
{
    tc_db_conn *c = tc_db_acquire(o->o.db);
    tc_status st = tc_db_begin(c, err);
    if (st == TC_OK)
        st = tc_repo_oauth_client_put(c, connector_id, client_id, NULL, 0, NULL, tc_now_ms(), err);
    tc_repo_oauth_client cl = {0};
    if (st == TC_OK)
        st = tc_repo_oauth_client_get(c, connector_id, &cl, err);
    unsigned char *ct = NULL;
    size_t ctlen = 0;
    char kid[16] = "";
    if (st == TC_OK && secret && *secret)
        st = tc_oauth__seal(o, TC_AAD_OAUTH_CLIENT_SECRET, cl.row_id, secret, &ct, &ctlen, kid, err);
    if (st == TC_OK && ct)
        st = tc_repo_oauth_client_put(c, connector_id, client_id, ct, ctlen, kid, tc_now_ms(), err);
    if (st == TC_OK)
        st = tc_db_commit(c, err);
    else
        tc_db_rollback(c);
    tc_db_release(c);
    tc_repo_oauth_client_clear(&cl);
    free(ct);
    return st;
}

static bool is_oauth2(const json_t *def)
{
    const char *t = jstr(json_object_get(def, "auth"), "type");
    return t && !strcmp(t, "oauth2");
}

tc_status tc_oauth_client_set(tc_oauth *o, const char *slug, const json_t *body, json_t **out,
                              tc_err *err)
{
    if (!json_is_object(body))
        return tc_failf(err, TC_VALIDATION, NULL, "the body must be a JSON object");
    const json_t *id = json_object_get(body, "client_id"), *sec = json_object_get(body, "client_secret");
    if (!json_is_string(id) || !json_string_length(id) || json_string_length(id) > CLIENT_ID_MAX ||
        !printable(json_string_value(id)))
        return tc_failf(err, TC_VALIDATION, "client_id", "is required: printable text of at most %d bytes",
                        CLIENT_ID_MAX);
    if (sec && !json_is_null(sec) &&
        (!json_is_string(sec) || json_string_length(sec) > CLIENT_SECRET_MAX || !printable(json_string_value(sec))))
        return tc_failf(err, TC_VALIDATION, "client_secret", "must be printable text of at most %d bytes",
                        CLIENT_SECRET_MAX);
    char cid[37];
    json_t *def = NULL;
    tc_db_conn *c = tc_db_acquire(o->o.db);
    tc_status st = tc_repo_oauth_builtin(c, slug, cid, &def, err);
    tc_db_release(c);
    if (st == TC_OK && !is_oauth2(def))
        st = tc_failc(err, TC_CONFLICT, "oauth_not_supported", "slug", "connector %.64s does not use OAuth", slug);
    json_decref(def);
    if (st == TC_OK)
        st = client_store(o, cid, json_string_value(id), json_string_value(sec), err);
    if (st == TC_OK)
        *out = json_pack("{s:s, s:s, s:b}", "connector", slug, "client_id", json_string_value(id),
                         "has_secret", json_string_value(sec) && json_string_length(sec) > 0);
    return st;
}

/* TC_OAUTH_<SLUG>_CLIENT_ID: slug upper-cased, '-' as '_'. */
static void env_name(const char *slug, const char *suffix, char *out, size_t cap)
{
    size_t n = (size_t)snprintf(out, cap, "TC_OAUTH_");
    for (const char *p = slug; *p && n + 1 < cap; p++)
        out[n++] = *p == '-' ? '_' : (char)toupper((unsigned char)*p);
    out[n] = '\0';
    snprintf(out + n, cap - n, "_%s", suffix);
}

tc_status tc_oauth_clients_from_env(tc_oauth *o, const tc_catalog *cat, tc_err *err)
{
    for (size_t i = 0; i < tc_catalog_count(cat); i++) {
        const tc_connector *k = tc_catalog_at(cat, i);
        if (strcmp(k->auth_type, "oauth2"))
            continue;
        char idvar[160], secvar[160];
        env_name(k->slug, "CLIENT_ID", idvar, sizeof(idvar));
        env_name(k->slug, "CLIENT_SECRET", secvar, sizeof(secvar));
        const char *id = getenv(idvar), *sec = getenv(secvar);
        if (!id || !*id)
            continue;
        json_t *body = json_pack("{s:s, s:s?}", "client_id", id, "client_secret", sec);
        json_t *out = NULL;
        tc_status st = tc_oauth_client_set(o, k->slug, body, &out, err);
        json_decref(body);
        json_decref(out);
        if (st != TC_OK) {
            snprintf(err->field, sizeof(err->field), "%.100s", idvar);
            return st;
        }
        tc_log(TC_LOG_INFO, "oauth client configured from the environment", "connector", k->slug, NULL);
    }
    return TC_OK;
}

/* ---- revocation (RFC 7009) ---- */

typedef struct revoke_job {
    tc_oauth *o;
    json_t *definition;
    json_t *secret;
} revoke_job;

static void revoke_one(tc_oauth *o, const json_t *def, const tc_oauth__client *cl,
                       const char *token, const char *hint)
{
    const json_t *auth = json_object_get(def, "auth");
    const char *params[] = {"token", token, "token_type_hint", hint, NULL};
    long status = 0;
    tc_err err;
    tc_err_clear(&err);
    tc_status st = tc_oauth__post_form(o, auth, cl, jstr(auth, "revocation_url"), params, &status, &err);
    char code[16];
    snprintf(code, sizeof(code), "%ld", status);
    if (st != TC_OK || status < 200 || status >= 300)
        tc_log(TC_LOG_WARN, "oauth revocation failed", "connector", jstr(def, "slug"), "token", hint,
               "http_status", code, "error", st != TC_OK ? err.message : "", NULL);
    else
        tc_log(TC_LOG_INFO, "oauth token revoked", "connector", jstr(def, "slug"), "token", hint, NULL);
}

static void revoke_run(void *arg)
{
    revoke_job *j = arg;
    tc_oauth__client cl = {0};
    char cid[37];
    json_t *def = NULL;
    tc_err err;
    tc_err_clear(&err);
    tc_db_conn *c = tc_db_acquire(j->o->o.db);
    tc_status st = tc_repo_oauth_builtin(c, jstr(j->definition, "slug"), cid, &def, &err);
    if (st == TC_OK)
        st = tc_oauth__client_load(j->o, c, cid, &cl, &err);
    tc_db_release(c);
    json_decref(def);
    if (st != TC_OK) {
        tc_log(TC_LOG_WARN, "oauth revocation skipped", "connector", jstr(j->definition, "slug"),
               "error", err.message, NULL);
    } else {
        if (jstr(j->secret, "refresh_token"))
            revoke_one(j->o, j->definition, &cl, jstr(j->secret, "refresh_token"), "refresh_token");
        if (jstr(j->secret, "access_token"))
            revoke_one(j->o, j->definition, &cl, jstr(j->secret, "access_token"), "access_token");
    }
    tc_oauth__client_clear(&cl);
    const char *k;
    json_t *v;
    json_object_foreach(j->secret, k, v)
        if (json_is_string(v))
            json_string_set(v, "");
    json_decref(j->secret);
    json_decref(j->definition);
    free(j);
}

void tc_oauth_revoke_async(tc_oauth *o, const json_t *definition, const json_t *secret)
{
    if (!is_oauth2(definition) || !jstr(json_object_get(definition, "auth"), "revocation_url") ||
        !secret)
        return;
    revoke_job *j = tc_calloc(1, sizeof(*j));
    j->o = o;
    j->definition = json_deep_copy(definition);
    j->secret = json_deep_copy(secret);
    if (tc_pool_submit(o->pool, revoke_run, j) != TC_OK) {
        tc_log(TC_LOG_WARN, "oauth revocation dropped: queue full or stopping", NULL);
        json_decref(j->secret);
        json_decref(j->definition);
        free(j);
    }
}
