/* /api/oauth/start, /api/oauth/callback, /api/admin/oauth-clients/{slug},
 * the oauth row of the app module table, and test-only refresh routes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "app/app.h"
#include "connections/connections.h"
#include "oauth/oauth.h"
#include "store/repo_connectors.h"
#include "store/repo_oauth.h"

static tc_oauth *oauth_of(tc_http_req *req)
{
    return ((tc_app *)req->ctx)->oauth;
}

tc_status tc_api_oauth_start(tc_http_req *req, tc_err *err)
{
    json_t *body = NULL;
    tc_status st = tc_http_json_body(req, &body, err);
    tc_oauth_started s;
    if (st == TC_OK)
        st = tc_oauth_begin(oauth_of(req), req->user_id, body, &s, err);
    if (st != TC_OK)
        return st;
    tc_http_set_header(req, "Set-Cookie", s.cookie);
    tc_http_set_header(req, "Cache-Control", "no-store");
    json_t *out = json_pack("{s:s, s:s}", "authorization_url", s.authorization_url,
                            "transaction_id", s.transaction_id);
    tc_oauth_started_clear(&s);
    return tc_http_reply_json(req, 200, out);
}

/* ---- the callback ----
 * The browser arrives from the provider without our Authorization header.
 * Finding and claiming the state is local (database only) and happens here;
 * the code exchange calls the provider, so it runs on the oauth module's
 * pool with the request suspended, and the answer is a redirect to the web
 * app either way. */

typedef struct callback_task {
    tc_oauth *oauth;
    tc_http_pending *pending;
    tc_oauth_claim claim;
    char *code;
    char *error;
    char *error_description;
} callback_task;

static tc_status redirect_outcome(tc_http_req *req, const char *connection_id, const char *message)
{
    char *url = tc_oauth_outcome_url(oauth_of(req), connection_id, message);
    tc_http_set_header(req, "Cache-Control", "no-store");
    tc_status st = tc_http_reply_redirect(req, url);
    free(url);
    return st;
}

/* Redirects the suspended request to the outcome page (conn_id NULL: failed,
 * with message) and frees t with its copies of the callback's parameters. */
static void task_end(callback_task *t, const char *conn_id, const char *message)
{
    char *url = tc_oauth_outcome_url(t->oauth, conn_id, message);
    tc_http_pending_reply_redirect(t->pending, url);
    free(url);
    tc_oauth_claim_clear(&t->claim);
    tc_secret_free_str(t->code);
    free(t->error);
    free(t->error_description);
    free(t);
}

static void callback_run(void *arg)
{
    callback_task *t = arg;
    char conn_id[37];
    tc_err err;
    tc_err_clear(&err);
    tc_status st = tc_oauth_finish(t->oauth, &t->claim, t->code, t->error, t->error_description,
                                   conn_id, &err);
    task_end(t, st == TC_OK ? conn_id : NULL, err.message);
}

static void clear_cookie(tc_http_req *req, const char *name)
{
    if (!name[0])
        return;
    char *v = tc_arena_printf(req->arena, "%s=; Path=%s; Max-Age=0; HttpOnly; SameSite=Lax", name,
                              TC_OAUTH_CALLBACK_PATH);
    tc_http_set_header(req, "Set-Cookie", v);
}

tc_status tc_api_oauth_callback(tc_http_req *req, tc_err *err)
{
    tc_oauth *o = oauth_of(req);
    const char *state = tc_http_query(req, "state"), *perr = tc_http_query(req, "error");
    char cookie_name[64];
    tc_oauth_claim claim;
    tc_err cerr;
    tc_err_clear(&cerr);
    if ((!state || !*state) && perr && *perr) {
        char msg[300];
        snprintf(msg, sizeof(msg), "the provider answered %.64s (and sent no state)", perr);
        return redirect_outcome(req, NULL, msg);
    }
    tc_status st = tc_oauth_claim_state(o, state, tc_http_header(req, "Cookie"), &claim, cookie_name, &cerr);
    if (st != TC_OK) {
        if (st != TC_FORBIDDEN)
            clear_cookie(req, cookie_name);
        tc_log(TC_LOG_INFO, "oauth callback refused", "request_id", req->request_id, "code",
               tc_err_code(&cerr), NULL);
        return redirect_outcome(req, NULL, cerr.message);
    }
    clear_cookie(req, cookie_name);
    tc_http_set_header(req, "Cache-Control", "no-store");
    callback_task *t = tc_calloc(1, sizeof(*t));
    t->oauth = o;
    t->claim = claim;
    t->code = tc_strdup(tc_http_query(req, "code"));
    t->error = tc_strdup(perr);
    t->error_description = tc_strdup(tc_http_query(req, "error_description"));
    t->pending = tc_http_suspend(req);
    if (tc_oauth_submit(o, callback_run, t) == TC_OK)
        return TC_OK;
    /* Busy or stopping: the transaction is claimed; end it as failed. */
    char id[37];
    tc_oauth_finish(o, &t->claim, NULL, "temporarily_unavailable", "the server was busy", id, err);
    task_end(t, NULL, "the server is busy: try again");
    return TC_OK;
}

tc_status tc_api_oauth_client_put(tc_http_req *req, tc_err *err)
{
    json_t *body = NULL, *out = NULL;
    tc_status st = tc_http_json_body(req, &body, err);
    if (st == TC_OK)
        st = tc_oauth_client_set(oauth_of(req), tc_http_param(req, "slug"), body, &out, err);
    return st == TC_OK ? tc_http_reply_json(req, 200, out) : st;
}

/* ---- test-only: drive refresh from black-box tests ---- */

static tc_status refresh_task(tc_api_task *t, json_t **out, tc_err *err)
{
    const char *mode = json_string_value(json_object_get(t->body, "mode"));
    tc_oauth *o = t->app->oauth;
    tc_status st;
    if (mode && !strcmp(mode, "force"))
        st = tc_oauth_refresh_now(o, t->user_id, t->param, err);
    else if (mode && !strcmp(mode, "after_401"))
        st = tc_oauth_refresh_after_401(o, t->user_id, t->param,
                                        json_string_value(json_object_get(t->body, "rejected")), err);
    else
        st = tc_oauth_ensure_fresh(o, t->user_id, t->param, err);
    tc_db_conn *c = tc_db_acquire(t->app->db);
    if (st == TC_OK)
        st = tc_repo_connection_get_json(c, t->user_id, t->param, out, err);
    tc_db_release(c);
    return st;
}

tc_status tc_api_test_oauth_refresh(tc_http_req *req, tc_err *err)
{
    json_t *body = NULL;
    tc_status st = tc_http_json_body(req, &body, err);
    return st == TC_OK ? tc_api_offload(req, refresh_task, tc_http_param(req, "id"), body, 200, err) : st;
}

tc_status tc_api_test_oauth_expire(tc_http_req *req, tc_err *err)
{
    json_t *body = NULL;
    tc_status st = tc_http_json_body(req, &body, err);
    int64_t in_s = 0;
    if (st == TC_OK)
        st = tc_json_int(body, "expires_in", true, -86400, 86400 * 365, &in_s, err);
    if (st != TC_OK)
        return st;
    tc_db_conn *c = tc_db_acquire(((tc_app *)req->ctx)->db);
    st = tc_repo_oauth_set_expiry(c, req->user_id, tc_http_param(req, "id"), tc_now_ms() + in_s * 1000, err);
    tc_db_release(c);
    return st == TC_OK ? tc_http_reply_empty(req, 204) : st;
}

tc_status tc_api_test_oauth_tx_expire(tc_http_req *req, tc_err *err)
{
    tc_db_conn *c = tc_db_acquire(((tc_app *)req->ctx)->db);
    tc_status st = tc_repo_oauth_tx_set_expiry(c, req->user_id, tc_http_param(req, "id"), tc_now_ms() - 1000, err);
    tc_db_release(c);
    return st == TC_OK ? tc_http_reply_empty(req, 204) : st;
}

/* ---- module start and stop (after "connections") ---- */

tc_status tc_api_oauth_init(tc_app *app, tc_err *err)
{
    tc_oauth_options opt = {
        .db = app->db,
        .keyring = app->keyring,
        .events = app->events,
        .master_key = app->master_key,
        .public_url = app->cfg.public_url,
        .refresh_margin_ms = app->cfg.oauth_refresh_margin_s * 1000,
        .refresh_interval_ms = app->cfg.oauth_refresh_interval_ms,
        .timeout_ms = (int)app->cfg.provider_timeout_ms,
        .allow_private = app->cfg.allow_private_targets,
    };
    tc_status st = tc_oauth_new(&opt, &app->oauth, err);
    if (st == TC_OK)
        st = tc_oauth_clients_from_env(app->oauth, app->catalog, err);
    if (st == TC_OK)
        tc_oauth_install_hooks(app->oauth, app->connections);
    return st;
}

void tc_api_oauth_shutdown(tc_app *app)
{
    if (app->connections)
        app->connections->oauth = NULL;
    tc_oauth_free(app->oauth);
    app->oauth = NULL;
}
