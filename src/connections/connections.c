/* Connections: create with a verified credential, test, disconnect, and
 * hand credentials to executors (see connections.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "connections/conn_int.h"
#include "events/events.h"
#include "store/repo_connectors.h"

#define LABEL_MAX 100
#define SECRET_FIELD_MAX 8192

typedef struct {
    const char *name;
    bool required;
} secret_field;

typedef struct {
    const char *auth_type;
    secret_field fields[3];
} secret_shape;

/* Which credential fields each auth type takes. */
static const secret_shape shapes[] = {
    {"api_key", {{"api_key", true}}},
    {"bearer", {{"token", true}}},
    {"basic", {{"username", true}, {"password", false}}},
    {"none", {{NULL, false}}},
};

static const secret_shape *shape_for(const char *auth_type)
{
    for (size_t i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++)
        if (!strcmp(shapes[i].auth_type, auth_type))
            return &shapes[i];
    return NULL;
}

static bool shape_has(const secret_shape *sh, const char *name)
{
    for (size_t i = 0; i < 3 && sh->fields[i].name; i++)
        if (!strcmp(sh->fields[i].name, name))
            return true;
    return false;
}

/* Builds the secret JSON from body.credentials for the connector's auth
 * type, naming the offending field on error. */
static tc_status read_secret(const char *auth_type, const json_t *creds, json_t **out, tc_err *err)
{
    if (!strcmp(auth_type, "oauth2"))
        return tc_failc(err, TC_VALIDATION, "oauth_required", "connector",
                        "this connector uses OAuth: start with POST /api/oauth/start");
    const secret_shape *sh = shape_for(auth_type);
    if (!sh)
        return tc_failf(err, TC_INTERNAL, NULL, "unknown auth type %s", auth_type);
    if (creds && !json_is_object(creds))
        return tc_failf(err, TC_VALIDATION, "credentials", "must be an object");
    const char *key;
    const json_t *v;
    json_object_foreach((json_t *)creds, key, v) {
        if (!shape_has(sh, key))
            return tc_failf(err, TC_VALIDATION, "credentials", "credentials.%.64s is not used by %s connectors",
                            key, auth_type);
    }
    json_t *secret = json_object();
    for (size_t i = 0; i < 3 && sh->fields[i].name; i++) {
        const secret_field *f = &sh->fields[i];
        const json_t *val = json_object_get(creds, f->name);
        const char *s = json_string_value(val);
        char path[64];
        snprintf(path, sizeof(path), "credentials.%s", f->name);
        if ((val && !s) || (s && strlen(s) > SECRET_FIELD_MAX) || (f->required && (!s || !*s))) {
            json_decref(secret);
            return tc_failf(err, TC_VALIDATION, path, f->required && !val ? "is required"
                            : "must be a string of at most %d bytes", SECRET_FIELD_MAX);
        }
        if (s)
            json_object_set_new(secret, f->name, json_string(s));
    }
    *out = secret;
    return TC_OK;
}

/* Frees a secret JSON, wiping its strings first. */
static void secret_free(json_t *secret)
{
    const char *key;
    json_t *v;
    json_object_foreach(secret, key, v) {
        if (json_is_string(v))
            json_string_set(v, "");
    }
    json_decref(secret);
}

typedef struct {
    const char *connector;
    const char *label;
    json_t *credentials;
} create_body;

static tc_status read_body(const json_t *body, create_body *b, tc_err *err)
{
    if (!json_is_object(body))
        return tc_failf(err, TC_VALIDATION, NULL, "the body must be a JSON object");
    const json_t *c = json_object_get(body, "connector"), *l = json_object_get(body, "label");
    if (!json_is_string(c) || !json_string_length(c))
        return tc_failf(err, TC_VALIDATION, "connector", "is required (a connector slug)");
    if (l && !json_is_null(l) && (!json_is_string(l) || json_string_length(l) > LABEL_MAX))
        return tc_failf(err, TC_VALIDATION, "label", "must be a string of at most %d bytes", LABEL_MAX);
    b->connector = json_string_value(c);
    b->label = json_string_value(l);
    b->credentials = json_object_get(body, "credentials");
    return TC_OK;
}

/* Seals the secret for row id. */
static tc_status seal(tc_connections *cx, const char *id, const json_t *secret, unsigned char **ct,
                      size_t *ctlen, uint32_t *kid, tc_err *err)
{
    char aad[TC_SECRET_AAD_MAX];
    tc_secret_aad(aad, TC_CONNECTION_SECRET_PURPOSE, id);
    char *text = json_dumps(secret, JSON_COMPACT);
    tc_status st = tc_secretbox_seal(cx->keyring, aad, text, strlen(text), ct, ctlen, err);
    tc_secret_free_str(text);
    if (st == TC_OK)
        tc_secretbox_key_id(*ct, *ctlen, kid);
    return st;
}

/* ---- writes announced as "connection" changes ---- */

typedef tc_status (*conn_write_fn)(tc_db_conn *c, const void *arg, tc_err *err);

/* Runs write, then records the connection's new row as a "connection"
 * change (with an optional webhook type) in the same transaction, and
 * publishes it after the commit. *row (may be NULL) gets the row. */
static tc_status write_announced(tc_connections *cx, const char *user_id, const char *id,
                                 const char *webhook_type, conn_write_fn write, const void *arg,
                                 json_t **row, tc_err *err)
{
    tc_db_conn *c = tc_db_acquire(cx->db);
    json_t *json = NULL;
    tc_change ch;
    memset(&ch, 0, sizeof(ch));
    tc_status st = tc_db_begin(c, err);
    if (st == TC_OK)
        st = write(c, arg, err);
    if (st == TC_OK)
        st = tc_repo_connection_get_json(c, user_id, id, &json, err);
    if (st == TC_OK && cx->events) {
        tc_change_init(&ch, user_id, "connection", json_incref(json));
        ch.webhook_type = webhook_type;
        st = tc_events_record(cx->events, c, &ch, err);
    }
    if (st == TC_OK)
        st = tc_db_commit(c, err);
    else
        tc_db_rollback(c);
    tc_db_release(c);
    if (st == TC_OK && cx->events)
        tc_events_publish(cx->events, &ch);
    tc_change_clear(&ch);
    if (st == TC_OK && row)
        *row = json;
    else
        json_decref(json);
    return st;
}

typedef struct {
    const char *user_id;
    const tc_repo_connection_new *n;
} insert_args;

static tc_status do_insert(tc_db_conn *c, const void *arg, tc_err *err)
{
    const insert_args *a = arg;
    return tc_repo_connection_insert(c, a->user_id, a->n, tc_now_ms(), err);
}

typedef struct {
    const char *user_id, *id, *status, *reason;
} status_args;

static tc_status do_set_status(tc_db_conn *c, const void *arg, tc_err *err)
{
    const status_args *a = arg;
    return tc_repo_connection_set_status(c, a->user_id, a->id, a->status, a->reason, tc_now_ms(), err);
}

static tc_status do_revoke(tc_db_conn *c, const void *arg, tc_err *err)
{
    const status_args *a = arg;
    return tc_repo_connection_revoke(c, a->user_id, a->id, tc_now_ms(), err);
}

static tc_status insert_connection(tc_connections *cx, const char *user_id, const char *connector_id,
                                   const char *label, const json_t *secret, json_t **out, tc_err *err)
{
    char id[37];
    tc_uuid(id);
    unsigned char *ct = NULL;
    size_t ctlen = 0;
    uint32_t kid = 0;
    tc_status st = seal(cx, id, secret, &ct, &ctlen, &kid, err);
    if (st != TC_OK)
        return st;
    tc_repo_connection_new n = {.id = id, .connector_id = connector_id, .label = label,
                                .status = "active", .secret = ct, .secret_len = ctlen, .key_id = kid};
    insert_args a = {user_id, &n};
    st = write_announced(cx, user_id, id, "connection.created", do_insert, &a, out, err);
    free(ct);
    return st;
}

tc_status tc_connection_create(tc_connections *cx, const char *user_id, const json_t *body,
                               json_t **out, tc_err *err)
{
    create_body b = {0};
    tc_status st = read_body(body, &b, err);
    if (st != TC_OK)
        return st;
    tc_repo_connector rc;
    tc_db_conn *c = tc_db_acquire(cx->db);
    st = tc_repo_connector_get(c, user_id, b.connector, &rc, err);
    tc_db_release(c);
    if (st != TC_OK) {
        snprintf(err->field, sizeof(err->field), "connector");
        return st;
    }
    json_t *secret = NULL;
    bool verified = false;
    st = read_secret(json_string_value(json_object_get(rc.summary, "auth_type")), b.credentials,
                     &secret, err);
    if (st == TC_OK)
        st = tc_conn__verify(cx, rc.definition, secret, &verified, err);
    if (st == TC_OK)
        st = insert_connection(cx, user_id, rc.id, b.label, secret, out, err);
    if (st == TC_OK)
        json_object_set_new(*out, "verified", json_boolean(verified));
    secret_free(secret);
    tc_repo_connector_clear(&rc);
    return st;
}

/* Opens the sealed secret of a loaded connection. */
static tc_status open_secret(tc_connections *cx, const tc_repo_connection *rc, json_t **out,
                             tc_err *err)
{
    if (!rc->secret)
        return tc_failc(err, TC_CONFLICT, "connection_inactive", "connection_id",
                        "the connection has no credential (status %s): reconnect it", rc->status);
    char aad[TC_SECRET_AAD_MAX];
    tc_secret_aad(aad, TC_CONNECTION_SECRET_PURPOSE, rc->id);
    unsigned char *pt = NULL;
    size_t ptlen = 0;
    tc_status st = tc_secretbox_open(cx->keyring, aad, rc->secret, rc->secret_len, &pt, &ptlen, err);
    if (st != TC_OK)
        return st;
    *out = json_loadb((const char *)pt, ptlen, 0, NULL);
    tc_secret_free(pt, ptlen);
    if (!*out)
        return tc_failf(err, TC_INTERNAL, NULL, "the stored credential is unreadable");
    return TC_OK;
}

/* Loads connection + connector definition + opened secret. */
static tc_status load_full(tc_connections *cx, const char *user_id, const char *id,
                           tc_repo_connection *rc, tc_repo_connector *conn, json_t **secret,
                           tc_err *err)
{
    memset(conn, 0, sizeof(*conn));
    *secret = NULL;
    tc_db_conn *c = tc_db_acquire(cx->db);
    tc_status st = tc_repo_connection_get(c, user_id, id, rc, err);
    if (st == TC_OK)
        st = tc_repo_connector_get(c, user_id, rc->connector_slug, conn, err);
    tc_db_release(c);
    if (st == TC_OK && strcmp(rc->status, "revoked") && rc->secret)
        st = open_secret(cx, rc, secret, err);
    return st;
}

/* {"ok", "verified", "message"} describing a verification outcome. */
static json_t *test_outcome(tc_status vst, bool verified, const tc_err *verr)
{
    const char *message = vst != TC_OK ? verr->message
                          : verified   ? "the provider accepted the credentials"
                                       : "this connector declares no verification request";
    return json_pack("{s:b, s:b, s:s}", "ok", vst == TC_OK, "verified", verified, "message", message);
}

/* Re-verifies with the provider. A definite answer (accepted, or rejected
 * with 401/403) updates the status; a provider that can't be reached says
 * nothing about the credential, so that error is returned as is. */
static tc_status retest(tc_connections *cx, const char *user_id, const char *id,
                        const json_t *def, const json_t *secret, json_t **out, tc_err *err)
{
    bool verified = false;
    tc_err verr;
    tc_err_clear(&verr);
    tc_status vst = tc_conn__verify(cx, def, secret, &verified, &verr);
    if (vst != TC_OK && vst != TC_VALIDATION) {
        *err = verr;
        return vst;
    }
    status_args a = {user_id, id, vst == TC_OK ? "active" : "error", vst == TC_OK ? NULL : verr.message};
    tc_status st = write_announced(cx, user_id, id, NULL, do_set_status, &a, out, err);
    if (st == TC_OK)
        json_object_set_new(*out, "test", test_outcome(vst, verified, &verr));
    return st;
}

tc_status tc_connection_test(tc_connections *cx, const char *user_id, const char *id,
                             json_t **out, tc_err *err)
{
    tc_repo_connection rc;
    tc_repo_connector conn;
    json_t *secret = NULL;
    tc_status st = load_full(cx, user_id, id, &rc, &conn, &secret, err);
    if (st == TC_OK && !secret)
        st = tc_failc(err, TC_CONFLICT, "connection_revoked", "id",
                      "the connection was disconnected: connect again to use it");
    if (st == TC_OK)
        st = retest(cx, user_id, id, conn.definition, secret, out, err);
    secret_free(secret);
    tc_repo_connector_clear(&conn);
    tc_repo_connection_clear(&rc);
    return st;
}

tc_status tc_connection_disconnect(tc_connections *cx, const char *user_id, const char *id,
                                   tc_err *err)
{
    /* OAuth tokens are revoked at the provider too: read them first. */
    tc_repo_connection rc = {0};
    tc_repo_connector conn = {0};
    json_t *secret = NULL;
    tc_status st = cx->oauth && cx->oauth->revoke
                       ? load_full(cx, user_id, id, &rc, &conn, &secret, err) : TC_OK;
    status_args a = {user_id, id, NULL, NULL};
    if (st == TC_OK)
        st = write_announced(cx, user_id, id, "connection.revoked", do_revoke, &a, NULL, err);
    if (st == TC_OK && secret)
        cx->oauth->revoke(cx->oauth->ctx, conn.definition, secret);
    secret_free(secret);
    tc_repo_connector_clear(&conn);
    tc_repo_connection_clear(&rc);
    return st;
}

/* The connection row and its connector's definition (cached by version). */
static tc_status load_light(tc_connections *cx, const char *user_id, const char *id,
                            tc_repo_connection *rc, json_t **def, tc_err *err)
{
    tc_db_conn *c = tc_db_acquire(cx->db);
    tc_status st = tc_repo_connection_get(c, user_id, id, rc, err);
    if (st == TC_OK)
        st = tc_repo_connector_definition(c, rc->connector_id, rc->connector_updated_at, def, err);
    tc_db_release(c);
    return st;
}

/* Only a credential with an expiry (OAuth access tokens) can need a refresh
 * first; after one, the row is read again for the new token. */
static tc_status load_fresh(tc_connections *cx, const char *user_id, const char *id,
                            tc_repo_connection *rc, json_t **def, tc_err *err)
{
    tc_status st = load_light(cx, user_id, id, rc, def, err);
    if (st != TC_OK || rc->expires_at <= 0 || !cx->oauth || !cx->oauth->ensure_fresh)
        return st;
    st = cx->oauth->ensure_fresh(cx->oauth->ctx, user_id, id, err);
    tc_repo_connection_clear(rc);
    json_decref(*def);
    *def = NULL;
    return st == TC_OK ? load_light(cx, user_id, id, rc, def, err) : st;
}

tc_status tc_connection_credential(tc_connections *cx, const char *user_id, const char *id,
                                   tc_credential *out, tc_err *err)
{
    memset(out, 0, sizeof(*out));
    tc_repo_connection rc;
    json_t *def = NULL, *secret = NULL;
    tc_status st = load_fresh(cx, user_id, id, &rc, &def, err);
    if (st == TC_OK && strcmp(rc.status, "active"))
        st = tc_failc(err, TC_CONFLICT, "connection_inactive", "connection_id",
                      "the connection is %s: reconnect it or pick an active one", rc.status);
    if (st == TC_OK)
        st = open_secret(cx, &rc, &secret, err);
    if (st == TC_OK) {
        out->secret = secret;
        out->definition = def;
        def = NULL;
        snprintf(out->connector_slug, sizeof(out->connector_slug), "%s", rc.connector_slug);
        snprintf(out->status, sizeof(out->status), "%s", rc.status);
    }
    json_decref(def);
    tc_repo_connection_clear(&rc);
    return st;
}

tc_status tc_connection_credential_renew(tc_connections *cx, const char *user_id, const char *id,
                                         tc_credential *cred, tc_err *err)
{
    const char *tok = json_string_value(json_object_get(cred->secret, "access_token"));
    if (!tok || !cx->oauth || !cx->oauth->after_401)
        return TC_DECLINED;
    char *rejected = tc_strdup(tok);
    tc_status st = cx->oauth->after_401(cx->oauth->ctx, user_id, id, rejected, err);
    tc_secret_free_str(rejected);
    tc_credential_clear(cred);
    return st == TC_OK ? tc_connection_credential(cx, user_id, id, cred, err) : st;
}

void tc_credential_clear(tc_credential *c)
{
    if (c->secret)
        secret_free(c->secret);
    json_decref(c->definition);
    memset(c, 0, sizeof(*c));
}
