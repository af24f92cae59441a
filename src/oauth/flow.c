/* The authorization-code flow with PKCE: begin, the browser-binding cookie,
 * claiming the state, the code exchange and the new connection. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/keys.h"
#include "events/events.h"
#include "net/net.h"
#include "oauth/oauth_int.h"
#include "store/repo_connectors.h"
#include "store/repo_oauth.h"

#define LABEL_MAX 100
#define SCOPES_MAX 50
#define SCOPE_LEN_MAX 200
#define STATE_MAX 256
#define MESSAGE_MAX 300

static const char *jstr(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

/* ---- the binding cookie ----
 * tc_oauth_<transaction id> = base64url(HMAC(key, "<tx id>:<user id>")):
 * only the browser that called /start (as that user) can finish the flow. */

static char *cookie_mac(const tc_oauth *o, const char *tx_id, const char *user_id)
{
    const tc_slice parts[] = {tc_slice_from(tx_id), TC_SLICE_LIT(":"), tc_slice_from(user_id)};
    unsigned char mac[TC_SHA256_LEN];
    tc_hmac_sha256_parts(o->cookie_key, sizeof(o->cookie_key), parts, 3, mac);
    return tc_base64url_encode(mac, sizeof(mac));
}

bool tc_oauth_cookie_get(const char *header, const char *name, char *out, size_t outsz)
{
    size_t nl = strlen(name);
    for (const char *p = header; p && *p;) {
        while (*p == ' ' || *p == ';')
            p++;
        size_t len = strcspn(p, ";");
        if (len > nl && !strncmp(p, name, nl) && p[nl] == '=') {
            size_t vl = len - nl - 1;
            if (vl + 1 > outsz)
                return false;
            memcpy(out, p + nl + 1, vl);
            out[vl] = '\0';
            return true;
        }
        p += len;
    }
    return false;
}

static void cookie_header(const tc_oauth *o, const char *tx_id, const char *value, int max_age,
                          char *out, size_t cap)
{
    snprintf(out, cap, "%s%s=%s; Path=%s; Max-Age=%d; HttpOnly; SameSite=Lax%s",
             TC_OAUTH_COOKIE_PREFIX, tx_id, value, TC_OAUTH_CALLBACK_PATH, max_age,
             o->secure_cookie ? "; Secure" : "");
}

/* ---- begin ---- */

typedef struct begin_req {
    const char *connector;
    const char *label;
    const json_t *scopes;
} begin_req;

static tc_status read_begin(const json_t *body, begin_req *b, tc_err *err)
{
    if (!json_is_object(body))
        return tc_failf(err, TC_VALIDATION, NULL, "the body must be a JSON object");
    const json_t *c = json_object_get(body, "connector"), *l = json_object_get(body, "label");
    if (!json_is_string(c) || !json_string_length(c) || json_string_length(c) > 64)
        return tc_failf(err, TC_VALIDATION, "connector", "is required (a connector slug)");
    if (l && !json_is_null(l) && (!json_is_string(l) || json_string_length(l) > LABEL_MAX))
        return tc_failf(err, TC_VALIDATION, "label", "must be a string of at most %d bytes", LABEL_MAX);
    const json_t *s = json_object_get(body, "scopes");
    if (s && !json_is_null(s)) {
        if (!json_is_array(s) || json_array_size(s) > SCOPES_MAX)
            return tc_failf(err, TC_VALIDATION, "scopes", "must be an array of at most %d scopes", SCOPES_MAX);
        size_t i;
        const json_t *v;
        json_array_foreach(s, i, v) {
            const char *t = json_string_value(v);
            if (!t || !*t || strlen(t) > SCOPE_LEN_MAX || strpbrk(t, " ,\t\r\n\"\\"))
                return tc_failf(err, TC_VALIDATION, "scopes", "scopes[%zu] must be a scope name of 1..%d "
                                "characters without spaces or commas", i, SCOPE_LEN_MAX);
        }
    } else {
        s = NULL;
    }
    b->connector = json_string_value(c);
    b->label = json_string_value(l);
    b->scopes = s;
    return TC_OK;
}

/* Requested scopes joined with sep (space for storage). */
static char *join_scopes(const json_t *arr, const char *sep)
{
    tc_buf b;
    tc_buf_init(&b, 64 * 1024);
    size_t i;
    const json_t *v;
    json_array_foreach(arr, i, v) {
        if (json_is_string(v))
            tc_buf_printf(&b, "%s%s", b.len ? sep : "", json_string_value(v));
    }
    return b.data ? tc_buf_steal(&b) : tc_strdup("");
}

static bool reserved_param(const char *k)
{
    static const char *const names[] = {"response_type", "client_id", "redirect_uri", "state",
                                        "code_challenge", "code_challenge_method"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (!strcmp(k, names[i]))
            return true;
    return false;
}

static void q_add(tc_buf *b, const char *k, const char *v)
{
    char *ek = tc_net_urlencode(k), *ev = tc_net_urlencode(v);
    tc_buf_printf(b, "&%s=%s", ek, ev);
    free(ek);
    free(ev);
}

static char *authorization_url(const json_t *auth, const char *client_id, const char *redirect,
                               const char *scope, const char *state, const char *challenge)
{
    const char *base = jstr(auth, "authorization_url");
    tc_buf b;
    tc_buf_init(&b, 64 * 1024);
    tc_buf_puts(&b, base);
    size_t mark = b.len;
    q_add(&b, "response_type", "code");
    q_add(&b, "client_id", client_id);
    q_add(&b, "redirect_uri", redirect);
    const char *sp = jstr(auth, "scope_param") ? jstr(auth, "scope_param") : "scope";
    if (scope && *scope)
        q_add(&b, sp, scope);
    q_add(&b, "state", state);
    if (challenge) {
        q_add(&b, "code_challenge", challenge);
        q_add(&b, "code_challenge_method", "S256");
    }
    const char *k;
    const json_t *v;
    json_object_foreach((json_t *)json_object_get(auth, "authorize_params"), k, v) {
        if (json_is_string(v) && !reserved_param(k) && strcmp(k, sp))
            q_add(&b, k, json_string_value(v));
    }
    b.data[mark] = strchr(base, '?') ? '&' : '?';
    return tc_buf_steal(&b);
}

static tc_status load_connector(tc_oauth *o, const char *user_id, const char *slug,
                                tc_repo_connector *rc, tc_oauth__client *cl, tc_err *err)
{
    tc_db_conn *c = tc_db_acquire(o->o.db);
    tc_status st = tc_repo_connector_get(c, user_id, slug, rc, err);
    if (st == TC_NOT_FOUND)
        snprintf(err->field, sizeof(err->field), "connector");
    const char *type = st == TC_OK ? jstr(json_object_get(rc->definition, "auth"), "type") : NULL;
    if (st == TC_OK && (!type || strcmp(type, "oauth2")))
        st = tc_failc(err, TC_CONFLICT, "oauth_not_supported", "connector",
                      "connector %.64s does not use OAuth: create the connection with POST /api/connections", slug);
    if (st == TC_OK)
        st = tc_oauth__client_load(o, c, rc->id, cl, err);
    tc_db_release(c);
    return st;
}

static tc_status store_tx(tc_oauth *o, tc_repo_oauth_tx *tx, const char *verifier,
                          const char *state, tc_err *err)
{
    unsigned char *ct = NULL;
    size_t ctlen = 0;
    char kid[16];
    tc_status st = tc_oauth__seal(o, TC_AAD_OAUTH_VERIFIER, tx->id, verifier, &ct, &ctlen, kid, err);
    if (st != TC_OK)
        return st;
    unsigned char h[TC_SHA256_LEN];
    char hash[2 * TC_SHA256_LEN + 1];
    tc_sha256(state, strlen(state), h);
    tc_hex_encode(h, sizeof(h), hash);
    tx->verifier = ct;
    tx->verifier_len = ctlen;
    tc_db_conn *c = tc_db_acquire(o->o.db);
    st = tc_repo_oauth_tx_insert(c, tx, hash, kid, tc_now_ms(), err);
    tc_db_release(c);
    tx->verifier = NULL;
    free(ct);
    return st;
}

tc_status tc_oauth_begin(tc_oauth *o, const char *user_id, const json_t *body,
                         tc_oauth_started *out, tc_err *err)
{
    memset(out, 0, sizeof(*out));
    begin_req b = {0};
    tc_status st = read_begin(body, &b, err);
    if (st != TC_OK)
        return st;
    tc_repo_connector rc = {0};
    tc_oauth__client cl = {0};
    st = load_connector(o, user_id, b.connector, &rc, &cl, err);
    if (st != TC_OK)
        goto out;
    const json_t *auth = json_object_get(rc.definition, "auth");
    const json_t *scopes = b.scopes ? b.scopes : json_object_get(auth, "scopes");
    const char *sep = jstr(auth, "scope_separator") ? jstr(auth, "scope_separator") : " ";
    char *scope_param = join_scopes(scopes, sep), *scope_store = join_scopes(scopes, " ");
    char verifier[TC_PKCE_VERIFIER_MAX + 1], challenge[TC_PKCE_CHALLENGE_LEN + 1];
    tc_pkce_verifier(verifier);
    st = tc_pkce_challenge_s256(verifier, challenge, err);
    bool pkce = !json_is_false(json_object_get(auth, "pkce"));
    char *state = tc_random_token(32);
    char *redirect = tc_asprintf("%s%s", o->public_url, TC_OAUTH_CALLBACK_PATH);
    tc_repo_oauth_tx tx = {.label = (char *)b.label, .scopes = scope_store, .redirect_uri = redirect,
                           .expires_at = tc_now_ms() + TC_OAUTH_TX_TTL_MS};
    tc_uuid(tx.id);
    snprintf(tx.user_id, sizeof(tx.user_id), "%s", user_id);
    snprintf(tx.connector_id, sizeof(tx.connector_id), "%s", rc.id);
    if (st == TC_OK)
        st = store_tx(o, &tx, verifier, state, err);
    if (st == TC_OK) {
        snprintf(out->transaction_id, sizeof(out->transaction_id), "%s", tx.id);
        out->authorization_url = authorization_url(auth, cl.client_id, redirect, scope_param, state,
                                                   pkce ? challenge : NULL);
        char *mac = cookie_mac(o, tx.id, user_id);
        cookie_header(o, tx.id, mac, TC_OAUTH_TX_TTL_MS / 1000, out->cookie, sizeof(out->cookie));
        free(mac);
    }
    explicit_bzero(verifier, sizeof(verifier));
    tc_secret_free_str(state);
    free(redirect);
    free(scope_param);
    free(scope_store);
out:
    tc_oauth__client_clear(&cl);
    tc_repo_connector_clear(&rc);
    return st;
}

void tc_oauth_started_clear(tc_oauth_started *s)
{
    free(s->authorization_url);
    memset(s, 0, sizeof(*s));
}

/* ---- the callback: claim ---- */

static tc_status check_cookie(const tc_oauth *o, const tc_repo_oauth_tx *tx,
                              const char *cookie_header, const char *name, tc_err *err)
{
    char got[128];
    if (!cookie_header || !tc_oauth_cookie_get(cookie_header, name, got, sizeof(got)))
        return tc_failc(err, TC_FORBIDDEN, "oauth_cookie_missing", "state",
                        "this sign-in was not started in this browser (its cookie is missing): start again");
    char *want = cookie_mac(o, tx->id, tx->user_id);
    bool ok = strlen(got) == strlen(want) && tc_ct_equal(got, want, strlen(want));
    free(want);
    if (!ok)
        return tc_failc(err, TC_FORBIDDEN, "oauth_cookie_mismatch", "state",
                        "this sign-in belongs to another user or session: start again");
    return TC_OK;
}

static tc_status open_verifier(tc_oauth *o, const tc_repo_oauth_tx *tx, char **out, tc_err *err)
{
    char aad[TC_SECRET_AAD_MAX];
    tc_secret_aad(aad, TC_AAD_OAUTH_VERIFIER, tx->id);
    unsigned char *pt = NULL;
    size_t n = 0;
    tc_status st = tc_secretbox_open(o->o.keyring, aad, tx->verifier, tx->verifier_len, &pt, &n, err);
    if (st == TC_OK)
        *out = tc_strndup((const char *)pt, n);
    tc_secret_free(pt, n);
    return st;
}

static void fail_tx(tc_oauth *o, const char *id, const char *error, const char *desc)
{
    tc_err e;
    tc_db_conn *c = tc_db_acquire(o->o.db);
    if (tc_repo_oauth_tx_finish(c, id, "failed", error, desc, NULL, tc_now_ms(), &e) != TC_OK)
        tc_log(TC_LOG_WARN, "oauth transaction update failed", "transaction", id, "error", e.message, NULL);
    tc_db_release(c);
}

/* Why a transaction can't be claimed. */
static tc_status refuse(tc_oauth *o, const tc_repo_oauth_tx *tx, tc_err *err)
{
    if (tx->completed_at || strcmp(tx->status, "started"))
        return tc_failc(err, TC_CONFLICT, "oauth_state_used", "state",
                        "this sign-in link was already used: start again");
    if (strcmp(tx->status, "failed"))
        fail_tx(o, tx->id, "expired", "the state expired before the callback");
    return tc_failc(err, TC_CONFLICT, "oauth_state_expired", "state",
                    "this sign-in took longer than 10 minutes and expired: start again");
}

tc_status tc_oauth_claim_state(tc_oauth *o, const char *state, const char *cookie_header,
                               tc_oauth_claim *out, char cookie_name[64], tc_err *err)
{
    memset(out, 0, sizeof(*out));
    cookie_name[0] = '\0';
    if (!state || !*state)
        return tc_failc(err, TC_BAD_REQUEST, "oauth_state_missing", "state",
                        "the provider sent no state: start again");
    if (strlen(state) > STATE_MAX)
        return tc_failc(err, TC_BAD_REQUEST, "oauth_state_unknown", "state", "unknown sign-in state: start again");
    unsigned char h[TC_SHA256_LEN];
    char hash[2 * TC_SHA256_LEN + 1];
    tc_sha256(state, strlen(state), h);
    tc_hex_encode(h, sizeof(h), hash);
    tc_repo_oauth_tx tx;
    tc_db_conn *c = tc_db_acquire(o->o.db);
    tc_status st = tc_repo_oauth_tx_by_state(c, hash, &tx, err);
    tc_db_release(c);
    if (st == TC_NOT_FOUND)
        return tc_failc(err, TC_BAD_REQUEST, "oauth_state_unknown", "state", "unknown sign-in state: start again");
    if (st != TC_OK)
        return st;
    snprintf(cookie_name, 64, "%s%s", TC_OAUTH_COOKIE_PREFIX, tx.id);
    st = check_cookie(o, &tx, cookie_header, cookie_name, err);
    bool claimed = false;
    if (st == TC_OK && (tx.completed_at || strcmp(tx.status, "started") || tx.expires_at <= tc_now_ms()))
        st = refuse(o, &tx, err);
    if (st == TC_OK) {
        c = tc_db_acquire(o->o.db);
        st = tc_repo_oauth_tx_claim(c, tx.id, tc_now_ms(), &claimed, err);
        tc_db_release(c);
        if (st == TC_OK && !claimed)
            st = refuse(o, &(tc_repo_oauth_tx){.completed_at = 1}, err);
    }
    if (st == TC_OK)
        st = open_verifier(o, &tx, &out->verifier, err);
    if (st == TC_OK) {
        memcpy(out->id, tx.id, sizeof(out->id));
        memcpy(out->user_id, tx.user_id, sizeof(out->user_id));
        memcpy(out->connector_id, tx.connector_id, sizeof(out->connector_id));
        out->label = tc_strdup(tx.label);
        out->scopes = tc_strdup(tx.scopes);
        out->redirect_uri = tc_strdup(tx.redirect_uri);
    } else if (claimed) {
        fail_tx(o, tx.id, "server_error", err->message);
    }
    tc_repo_oauth_tx_clear(&tx);
    return st;
}

void tc_oauth_claim_clear(tc_oauth_claim *c)
{
    free(c->label);
    free(c->scopes);
    free(c->redirect_uri);
    tc_secret_free_str(c->verifier);
    memset(c, 0, sizeof(*c));
}

/* ---- the callback: exchange and store ---- */

static tc_status exchange(tc_oauth *o, const tc_oauth_claim *cl, const char *code,
                          json_t **def, tc_oauth__tokens *tok, tc_err *err)
{
    tc_oauth__client client = {0};
    char cid[37];
    tc_repo_connector rc = {0};
    tc_db_conn *c = tc_db_acquire(o->o.db);
    /* The connector by id through the user's visibility: its slug first. */
    char slug[65] = "";
    tc_status st = tc_repo_oauth_connector_slug(c, cl->connector_id, slug, err);
    if (st == TC_OK)
        st = tc_repo_connector_get(c, cl->user_id, slug, &rc, err);
    if (st == TC_OK)
        st = tc_oauth__client_load(o, c, rc.id, &client, err);
    tc_db_release(c);
    snprintf(cid, sizeof(cid), "%s", rc.id);
    if (st == TC_OK) {
        const json_t *auth = json_object_get(rc.definition, "auth");
        bool pkce = !json_is_false(json_object_get(auth, "pkce"));
        const char *params[] = {"grant_type", "authorization_code", "code", code,
                                "redirect_uri", cl->redirect_uri,
                                pkce ? "code_verifier" : NULL, cl->verifier, NULL};
        st = tc_oauth__token_call(o, auth, &client, params, tok, err);
        *def = json_incref(rc.definition);
    }
    tc_oauth__client_clear(&client);
    tc_repo_connector_clear(&rc);
    return st;
}

static tc_status store_connection(tc_oauth *o, const tc_oauth_claim *cl, const tc_oauth__tokens *t,
                                  char connection_id[37], tc_err *err)
{
    tc_uuid(connection_id);
    char *text = tc_oauth__secret_text(t, NULL);
    unsigned char *ct = NULL;
    size_t ctlen = 0;
    char kid[16];
    tc_status st = tc_oauth__seal(o, TC_AAD_CONNECTION_SECRET, connection_id, text, &ct, &ctlen, kid, err);
    tc_secret_free_str(text);
    if (st != TC_OK)
        return st;
    int64_t now = tc_now_ms();
    tc_repo_connection_new n = {
        .id = connection_id, .connector_id = cl->connector_id, .label = cl->label, .status = "active",
        .scopes = t->scope ? t->scope : cl->scopes,
        .expires_at = t->expires_in >= 0 ? now + t->expires_in * 1000 : 0,
        .secret = ct, .secret_len = ctlen, .key_id = (uint32_t)strtoul(kid, NULL, 10)};
    tc_change ch = {0};
    tc_db_conn *c = tc_db_acquire(o->o.db);
    st = tc_db_begin(c, err);
    if (st == TC_OK)
        st = tc_repo_connection_insert(c, cl->user_id, &n, now, err);
    if (st == TC_OK)
        st = tc_repo_oauth_tx_finish(c, cl->id, "completed", NULL, NULL, connection_id, now, err);
    if (st == TC_OK)
        st = tc_oauth__record(o, c, cl->user_id, connection_id, "connection.created", &ch, err);
    if (st == TC_OK)
        st = tc_db_commit(c, err);
    else
        tc_db_rollback(c);
    tc_db_release(c);
    if (st == TC_OK && o->o.events)
        tc_events_publish(o->o.events, &ch);
    tc_change_clear(&ch);
    free(ct);
    return st;
}

tc_status tc_oauth_finish(tc_oauth *o, const tc_oauth_claim *cl, const char *code,
                          const char *provider_error, const char *provider_error_description,
                          char connection_id[37], tc_err *err)
{
    connection_id[0] = '\0';
    char e[64] = "", d[MESSAGE_MAX] = "";
    if (provider_error && *provider_error) {
        snprintf(e, sizeof(e), "%s", provider_error);
        snprintf(d, sizeof(d), "%s", provider_error_description ? provider_error_description : "");
        for (char *p = e; *p; p++)
            *p = (unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e ? ' ' : *p;
        for (char *p = d; *p; p++)
            *p = (unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e ? ' ' : *p;
        fail_tx(o, cl->id, e, d[0] ? d : NULL);
        return tc_failc(err, TC_FORBIDDEN, "oauth_denied", NULL, "the provider answered %s%s%s", e,
                        d[0] ? ": " : "", d);
    }
    if (!code || !*code || strlen(code) > 4096) {
        fail_tx(o, cl->id, "invalid_request", "no authorization code in the callback");
        return tc_failc(err, TC_BAD_REQUEST, "oauth_code_missing", "code",
                        "the provider sent no authorization code: start again");
    }
    json_t *def = NULL;
    tc_oauth__tokens tok = {0};
    tc_status st = exchange(o, cl, code, &def, &tok, err);
    if (st == TC_OK)
        st = store_connection(o, cl, &tok, connection_id, err);
    if (st != TC_OK) {
        fail_tx(o, cl->id, err->code[0] ? err->code : tc_status_code(st), err->message);
        tc_log(TC_LOG_WARN, "oauth code exchange failed", "transaction", cl->id, "error", err->message, NULL);
    }
    tc_oauth__tokens_clear(&tok);
    json_decref(def);
    return st;
}

char *tc_oauth_outcome_url(const tc_oauth *o, const char *connection_id, const char *message)
{
    if (connection_id && *connection_id)
        return tc_asprintf("%s/connections?oauth=ok&connection=%s", o->public_url, connection_id);
    char *m = tc_net_urlencode(message && *message ? message : "the connection was not completed");
    char *url = tc_asprintf("%s/connections?oauth=error&message=%s", o->public_url, m);
    free(m);
    return url;
}
