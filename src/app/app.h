/* app: wiring of the `serve` and `migrate` commands.
 *
 * tc_app is the process context: configuration, database, master key and
 * HTTP server. Modules plug in through one row each in the module table in
 * app.c ({name, init, shutdown}): init runs after the database is migrated
 * and the HTTP server is created (not yet listening), in table order;
 * shutdown runs in reverse order after the HTTP server stopped and before the
 * database closes. Handlers reach the app through req->ctx. */
#ifndef TC_APP_H
#define TC_APP_H

#include <stdbool.h>

#include "config/config.h"
#include "core/core.h"
#include "crypto/crypto.h"
#include "http/http.h"
#include "store/db.h"

typedef struct tc_app {
    tc_config cfg;
    tc_db *db;
    unsigned char master_key[TC_MASTER_KEY_LEN]; /* secret: never log */
    bool master_key_from_file;  /* true when read/created in <data_dir>/master.key */
    tc_http_server *http;
    bool test_routes;           /* TC_TEST_ROUTES=1: test-only routes served */
    int64_t started_ns;         /* tc_mono_ns() at start, for start-to-ready */
    /* Filled by module init functions (see the table in app.c). */
    tc_pool *work_pool;                 /* slow handler work (api/offload.c) */
    struct tc_keyring *keyring;         /* secret box keys (crypto) */
    struct tc_keys_watch *keys_watch;   /* follows `keys rotate` while serving */
    struct tc_catalog *catalog;         /* built-in connectors (catalog) */
    struct tc_connections *connections; /* connections module context */
    struct tc_oauth *oauth;             /* OAuth flows and token refresh (oauth) */
    struct tc_events *events;           /* change recording + publishing (events) */
    struct tc_webhooks *webhooks;       /* endpoints, outbox, delivery worker (webhooks) */
    struct tc_realtime *realtime;       /* hub + stream settings (api/stream.c) */
    struct tc_exec *exec;               /* jobs, executors, rate limits (exec) */
    struct tc_sched *scheduler;         /* schedules and the tick (scheduler) */
    struct tc_notify *notify;           /* email outbox + sender (notify, health row) */
    struct tc_health *health;           /* connector probes (health) */
} tc_app;

typedef struct tc_app_module {
    const char *name;
    tc_status (*init)(tc_app *app, tc_err *err);  /* may be NULL */
    void (*shutdown)(tc_app *app);                /* may be NULL */
} tc_app_module;

int tc_app_serve_main(int argc, char **argv);
int tc_app_migrate_main(int argc, char **argv);

#endif
