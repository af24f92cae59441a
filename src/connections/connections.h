/* connections: connecting accounts.
 *   - the catalog in the database: built-in connectors synced at start,
 *     custom connectors per user;
 *   - connections holding a credential (API key, basic, bearer; OAuth
 *     tokens come from the oauth module) sealed with the secret box;
 *   - verification of a credential against the provider's declared request;
 *   - credential injection into outgoing requests, shared with executors.
 * Every operation takes the acting user and only reaches that user's rows. */
#ifndef TC_CONNECTIONS_H
#define TC_CONNECTIONS_H

#include <jansson.h>
#include <stdbool.h>

#include "catalog/catalog.h"
#include "core/core.h"
#include "crypto/crypto.h"
#include "mcp/mcp.h"
#include "store/db.h"

/* Hooks the oauth module installs (src/oauth/oauth.h); NULL members = none.
 * ensure_fresh runs before a credential with an expiry (an OAuth access
 * token) is handed out (refreshes tokens about to expire); revoke runs after disconnect (asynchronous, best
 * effort; arguments are borrowed for the call). */
typedef struct tc_connection_oauth_hooks {
    void *ctx;
    tc_status (*ensure_fresh)(void *ctx, const char *user_id, const char *id, tc_err *err);
    void (*revoke)(void *ctx, const json_t *definition, const json_t *secret);
    /* The provider answered 401 to a call made with rejected_token. */
    tc_status (*after_401)(void *ctx, const char *user_id, const char *id, const char *rejected_token,
                           tc_err *err);
} tc_connection_oauth_hooks;

typedef struct tc_connections {
    const tc_connection_oauth_hooks *oauth; /* may be NULL */
    tc_db *db;
    tc_keyring *keyring;
    bool allow_private;      /* TC_ALLOW_PRIVATE_TARGETS */
    bool allow_stdio;        /* TC_ALLOW_STDIO */
    int verify_timeout_ms;   /* provider verification budget (default 10000) */
    tc_mcp_pool *mcp;        /* kept MCP sessions (discovery; shared with exec) */
    struct tc_events *events; /* connection changes are announced here (may be NULL) */
} tc_connections;

/* AAD purpose of connection secrets: "user_connections.secret:<id>". */
#define TC_CONNECTION_SECRET_PURPOSE "user_connections.secret"

/* Upserts every connector of cat into the database (one transaction). */
tc_status tc_connectors_sync(tc_db *db, const tc_catalog *cat, tc_err *err);

/* ---- custom connectors (POST/DELETE /api/connectors) ---- */
/* body as in API.md; *out is the connector with its tools (new ref). */
tc_status tc_connector_create_custom(tc_connections *cx, const char *user_id, const json_t *body,
                                     json_t **out, tc_err *err);
/* Connector summary + tools, as GET /api/connectors/{slug} answers. */
tc_status tc_connector_get_json(tc_connections *cx, const char *user_id, const char *slug,
                                json_t **out, tc_err *err);

/* ---- connections ---- */
/* POST /api/connections: validates, verifies with the provider when the
 * connector declares a verification request, seals and stores. Nothing is
 * stored when verification fails. *out: the connection JSON (new ref). */
tc_status tc_connection_create(tc_connections *cx, const char *user_id, const json_t *body,
                               json_t **out, tc_err *err);
/* POST /api/connections/{id}/test: re-verifies and updates the status. */
tc_status tc_connection_test(tc_connections *cx, const char *user_id, const char *id,
                             json_t **out, tc_err *err);
/* DELETE /api/connections/{id}: deletes the secret, keeps the row (revoked). */
tc_status tc_connection_disconnect(tc_connections *cx, const char *user_id, const char *id,
                                   tc_err *err);

/* A usable credential for an outgoing call (executors). The JSON holds the
 * plaintext secret: release with tc_credential_clear, never log it. */
typedef struct tc_credential {
    json_t *secret;      /* {"api_key"} | {"username","password"} | {"token"} |
                            {"access_token", ...} | {} */
    json_t *definition;  /* the connector's definition (borrowed from caller or owned) */
    char connector_slug[64];
    char status[16];
} tc_credential;
/* Loads and opens the secret of the user's connection. TC_NOT_FOUND for
 * someone else's or a missing id; TC_CONFLICT ("connection_inactive") when
 * the connection is not active. */
tc_status tc_connection_credential(tc_connections *cx, const char *user_id, const char *id,
                                   tc_credential *out, tc_err *err);
void tc_credential_clear(tc_credential *c);
/* After the provider answered 401 to a call made with *cred: for an OAuth
 * connection, refreshes its tokens once (single-flight; nothing to do when
 * another worker already replaced the rejected token) and reloads *cred.
 * TC_DECLINED when the credential is not an OAuth token (retrying would not
 * help). On other errors *cred is cleared. */
tc_status tc_connection_credential_renew(tc_connections *cx, const char *user_id, const char *id,
                                         tc_credential *cred, tc_err *err);

/* The header line ("Authorization: Bearer ...") or query pair
 * ("api_key=...", URL-encoded) that carries the credential, as the auth block
 * of a definition declares (defaults per auth type). Exactly one of *header
 * and *query is set (both NULL for auth none); free with tc_secret_free_str. */
tc_status tc_credential_inject(const json_t *auth, const json_t *secret, char **header,
                               char **query, tc_err *err);

/* ---- MCP ---- */
/* The MCP target of a connector definition with the credential as bearer
 * token: Streamable HTTP (or legacy SSE) by URL, or a stdio command (refused
 * with 403 stdio_disabled unless allow_stdio). The buffer owns the argv and
 * "K=V" environment arrays; target borrows strings of def and secret. */
#define TC_MCP_ARGV_MAX 64
typedef struct tc_mcp_target_buf {
    tc_mcp_target target;
    const char *argv[TC_MCP_ARGV_MAX];
    char **env;
} tc_mcp_target_buf;
tc_status tc_connection_mcp_target(const json_t *def, const json_t *secret, bool allow_stdio,
                                   tc_mcp_target_buf *out, tc_err *err);
void tc_mcp_target_buf_free(tc_mcp_target_buf *b);

/* POST /api/connectors/{slug}/discover: initialize + tools/list (all pages)
 * on the connector's MCP server, with the credential of connection_id (or
 * the user's newest active connection; none needed for auth "none"), then
 * replaces the stored tools. *out: the connector with its tools. */
tc_status tc_connector_discover(tc_connections *cx, const char *user_id, const char *slug,
                                const char *connection_id, json_t **out, tc_err *err);

#endif
