/* The `serve` and `migrate` commands: configuration, logging, data
 * directory, master key, database, migrations, HTTP server, modules, and the
 * graceful shutdown on SIGTERM/SIGINT. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/api.h"
#include "app/app.h"
#include "exec/exec.h"

#define SHUTDOWN_WAIT_MS 10000

/* ---- modules -------------------------------------------------------------
 * One row per module that needs the app at start (register hooks, start
 * workers) and at stop. init runs in order before the server listens;
 * shutdown in reverse order after the server stopped. */
static tc_status metrics_init(tc_app *app, tc_err *err);

static const tc_app_module modules[] = {
    {"metrics", metrics_init, NULL},
    {"accounts", tc_api_auth_init, tc_api_auth_shutdown},
    {"connections", tc_api_connections_init, tc_api_connections_shutdown},
    {"health", tc_api_health_init, tc_api_health_shutdown},
    {"oauth", tc_api_oauth_init, tc_api_oauth_shutdown},
    {"webhooks", tc_api_webhooks_init, tc_api_webhooks_shutdown},
    {"realtime", tc_api_stream_init, tc_api_stream_shutdown},
    {"jobs", tc_api_jobs_init, tc_api_jobs_shutdown},
    {"scheduler", tc_api_schedules_init, tc_api_schedules_shutdown},
};
#define NMODULES (sizeof(modules) / sizeof(modules[0]))

/* Run first on SIGTERM/SIGINT, while the HTTP server still serves: modules
 * that hold open streams end them with a final event. */
static void (*const stopping_hooks[])(tc_app *app) = {
    tc_api_stream_stopping,
};

/* Tool runs: outcomes, what is running, and how well the group commit
 * batches (pieces / commits = runs' writes per transaction). */
static void exec_metrics(tc_buf *out, tc_exec *x)
{
    tc_exec_stats e;
    tc_exec_stats_get(x, &e);
    tc_buf_printf(out,
                  "# HELP tc_jobs_total Tool runs by outcome since start.\n"
                  "# TYPE tc_jobs_total counter\n"
                  "tc_jobs_total{status=\"enqueued\"} %llu\n"
                  "tc_jobs_total{status=\"succeeded\"} %llu\n"
                  "tc_jobs_total{status=\"failed\"} %llu\n"
                  "tc_jobs_total{status=\"canceled\"} %llu\n"
                  "tc_jobs_total{status=\"rate_limited\"} %llu\n"
                  "# HELP tc_jobs_running Tool runs executing now.\n"
                  "# TYPE tc_jobs_running gauge\ntc_jobs_running %d\n"
                  "# HELP tc_jobs_waiting Synchronous requests waiting for their run.\n"
                  "# TYPE tc_jobs_waiting gauge\ntc_jobs_waiting %d\n"
                  "# HELP tc_exec_commits_total Group-commit transactions of tool runs.\n"
                  "# TYPE tc_exec_commits_total counter\ntc_exec_commits_total %llu\n"
                  "# HELP tc_exec_commit_pieces_total Enqueues and finishes those carried.\n"
                  "# TYPE tc_exec_commit_pieces_total counter\ntc_exec_commit_pieces_total %llu\n",
                  (unsigned long long)e.enqueued, (unsigned long long)e.succeeded,
                  (unsigned long long)e.failed, (unsigned long long)e.canceled,
                  (unsigned long long)e.rate_limited, e.running, e.waiters,
                  (unsigned long long)e.commits, (unsigned long long)e.commit_pieces);
}

/* DB pool figures and build info appended to GET /metrics. */
static void app_metrics(tc_buf *out, void *ctx)
{
    tc_app *app = ctx;
    tc_db_stats s = {0};
    if (app->db)
        tc_db_stats_get(app->db, &s);
    tc_buf_printf(out,
                  "# HELP tc_db_pool_size Database connections in the pool.\n"
                  "# TYPE tc_db_pool_size gauge\ntc_db_pool_size %d\n"
                  "# HELP tc_db_pool_in_use Connections handed out.\n"
                  "# TYPE tc_db_pool_in_use gauge\ntc_db_pool_in_use %d\n"
                  "# HELP tc_db_pool_waits_total Acquisitions that had to wait.\n"
                  "# TYPE tc_db_pool_waits_total counter\ntc_db_pool_waits_total %llu\n"
                  "# HELP tc_db_queries_total Statements run.\n"
                  "# TYPE tc_db_queries_total counter\ntc_db_queries_total %llu\n"
                  "# HELP tc_db_errors_total Statements that failed.\n"
                  "# TYPE tc_db_errors_total counter\ntc_db_errors_total %llu\n"
                  "# HELP tc_build_info Build information.\n"
                  "# TYPE tc_build_info gauge\ntc_build_info{version=\"%s\",db=\"%s\"} 1\n",
                  s.pool_size, s.in_use, (unsigned long long)s.waits, (unsigned long long)s.queries,
                  (unsigned long long)s.errors, TC_VERSION,
                  app->db && tc_db_kind_of(app->db) == TC_DB_POSTGRES ? "postgres" : "sqlite");
    if (app->exec)
        exec_metrics(out, app->exec);
}

static tc_status metrics_init(tc_app *app, tc_err *err)
{
    tc_http_set_metrics_hook(app->http, app_metrics, app);
    return TC_OK;
}

/* ---- setup steps ---------------------------------------------------------- */

static tc_status setup_logging(const tc_config *cfg, tc_err *err)
{
    tc_log_level lvl;
    if (tc_log_parse_level(cfg->log_level, &lvl) != TC_OK)
        return tc_failf(err, TC_BAD_REQUEST, "TC_LOG_LEVEL",
                        "TC_LOG_LEVEL must be debug, info, warn or error, got \"%s\"", cfg->log_level);
    tc_log_format fmt;
    if (!strcmp(cfg->log_format, "text"))
        fmt = TC_LOG_TEXT;
    else if (!strcmp(cfg->log_format, "json"))
        fmt = TC_LOG_JSON;
    else
        return tc_failf(err, TC_BAD_REQUEST, "TC_LOG_FORMAT", "TC_LOG_FORMAT must be text or json, got \"%s\"",
                        cfg->log_format);
    tc_log_setup(lvl, fmt, 2);
    return TC_OK;
}

/* mkdir -p with mode 0700 for directories we create. */
static tc_status make_dirs(const char *dir, tc_err *err)
{
    char path[4096];
    if (snprintf(path, sizeof(path), "%s", dir) >= (int)sizeof(path))
        return tc_failf(err, TC_BAD_REQUEST, "TC_DATA_DIR", "TC_DATA_DIR is too long");
    for (char *p = path + 1;; p++) {
        bool end = *p == '\0';
        if (*p != '/' && !end)
            continue;
        *p = '\0';
        if (mkdir(path, 0700) != 0 && errno != EEXIST)
            return tc_failf(err, TC_IO, "TC_DATA_DIR", "cannot create %s: %s", path, strerror(errno));
        if (end)
            break;
        *p = '/';
    }
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return tc_failf(err, TC_IO, "TC_DATA_DIR", "%s is not a directory", dir);
    return TC_OK;
}

static tc_status load_config(tc_app *app, int argc, char **argv, tc_err *err)
{
    int argi = 1;
    tc_status st = tc_config_load(&app->cfg, argc, argv, &argi, err);
    if (st == TC_OK && argi < argc)
        st = tc_failf(err, TC_BAD_REQUEST, argv[argi], "unexpected argument \"%s\" (see --help)", argv[argi]);
    if (st == TC_OK)
        st = setup_logging(&app->cfg, err);
    return st;
}

static tc_status open_db(tc_app *app, tc_err *err)
{
    tc_status st = make_dirs(app->cfg.data_dir, err);
    if (st != TC_OK)
        return st;
    int pool = app->cfg.db_pool_size > 0 ? (int)app->cfg.db_pool_size : 1;
    st = tc_db_open(app->cfg.database_url, pool, &app->db, err);
    if (st == TC_OK)
        st = tc_db_migrate(app->db, err);
    return st;
}

static tc_status load_master_key(tc_app *app, tc_err *err)
{
    app->master_key_from_file = !app->cfg.master_key[0];
    tc_status st = tc_master_key_load(app->cfg.master_key, app->cfg.data_dir, true, app->master_key, err);
    if (st == TC_OK && app->master_key_from_file)
        tc_log(TC_LOG_WARN, "TC_MASTER_KEY is not set: using the key file in the data directory; "
                            "production deployments should set TC_MASTER_KEY",
               "path", app->cfg.data_dir, NULL);
    return st;
}

static tc_status create_http(tc_app *app, tc_err *err)
{
    const tc_config *c = &app->cfg;
    tc_http_options o = {
        .listen = c->listen,
        .threads = (int)c->http_threads,
        .body_max = (size_t)c->body_max,
        .json_depth_max = (int)c->json_depth_max,
        .connection_limit = (unsigned)c->http_max_connections,
        .conn_memory_limit = (size_t)c->http_conn_memory,
        .cors_origins = c->cors_origins,
        .web_root = c->web_root,
        .test_routes = app->test_routes,
        .ctx = app,
    };
    return tc_http_server_new(&o, tc_api_routes, tc_api_nroutes, &app->http, err);
}

static size_t init_modules(tc_app *app, tc_err *err)
{
    for (size_t i = 0; i < NMODULES; i++) {
        if (modules[i].init && modules[i].init(app, err) != TC_OK) {
            tc_log(TC_LOG_ERROR, "module failed to start", "module", modules[i].name, "error", err->message, NULL);
            return i;
        }
    }
    return NMODULES;
}

static void shutdown_modules(tc_app *app, size_t started)
{
    while (started-- > 0)
        if (modules[started].shutdown)
            modules[started].shutdown(app);
}

static void write_port_file(const tc_app *app)
{
    const char *path = getenv("TC_PORT_FILE");
    if (!path || !*path)
        return;
    FILE *f = fopen(path, "w");
    if (!f)
        return;
    fprintf(f, "%d\n", tc_http_server_port(app->http));
    fclose(f);
}

static void app_free(tc_app *app)
{
    tc_http_server_free(app->http);
    app->http = NULL;
    if (app->db)
        tc_db_close(app->db);
    app->db = NULL;
    explicit_bzero(app->master_key, sizeof(app->master_key));
    tc_config_free(&app->cfg);
}

static int fail(tc_app *app, const tc_err *err, int code)
{
    fprintf(stderr, "toolconnect: %s\n", err->message[0] ? err->message : tc_strerror(err->status));
    tc_log(TC_LOG_ERROR, "startup failed", "code", tc_err_code(err), "field", err->field, "error", err->message,
           NULL);
    app_free(app);
    return code;
}

/* Blocks SIGTERM/SIGINT in every thread (threads inherit the mask) so the
 * main thread alone takes them with sigwait. */
static void block_signals(sigset_t *set)
{
    sigemptyset(set);
    sigaddset(set, SIGTERM);
    sigaddset(set, SIGINT);
    pthread_sigmask(SIG_BLOCK, set, NULL);
    signal(SIGPIPE, SIG_IGN);
}

int tc_app_serve_main(int argc, char **argv)
{
    tc_app app = {0};
    tc_err err;
    tc_err_clear(&err);
    sigset_t set;
    block_signals(&set);
    app.started_ns = tc_mono_ns();
    const char *tr = getenv("TC_TEST_ROUTES");
    app.test_routes = tr && !strcmp(tr, "1");
    if (load_config(&app, argc, argv, &err) != TC_OK)
        return fail(&app, &err, 2);
    if (make_dirs(app.cfg.data_dir, &err) != TC_OK || load_master_key(&app, &err) != TC_OK ||
        open_db(&app, &err) != TC_OK || create_http(&app, &err) != TC_OK)
        return fail(&app, &err, 1);
    size_t started = init_modules(&app, &err);
    if (started < NMODULES) {
        shutdown_modules(&app, started);
        return fail(&app, &err, 1);
    }
    if (tc_http_server_start(app.http, &err) != TC_OK) {
        shutdown_modules(&app, started);
        return fail(&app, &err, 1);
    }
    char port[16], ready[32];
    snprintf(port, sizeof(port), "%d", tc_http_server_port(app.http));
    snprintf(ready, sizeof(ready), "%.1f", (double)(tc_mono_ns() - app.started_ns) / 1e6);
    tc_log(TC_LOG_INFO, "listening", "url", tc_http_server_url(app.http), "port", port, "ready_ms", ready,
           "test_routes", app.test_routes ? "1" : "0", NULL);
    write_port_file(&app);

    int sig = 0;
    sigwait(&set, &sig);
    tc_log(TC_LOG_INFO, "shutting down", "signal", sig == SIGINT ? "SIGINT" : "SIGTERM", NULL);
    for (size_t i = 0; i < sizeof(stopping_hooks) / sizeof(stopping_hooks[0]); i++)
        stopping_hooks[i](&app);
    tc_http_server_stop(app.http, SHUTDOWN_WAIT_MS);
    shutdown_modules(&app, started);
    app_free(&app);
    tc_log(TC_LOG_INFO, "stopped", NULL);
    return 0;
}

int tc_app_migrate_main(int argc, char **argv)
{
    tc_app app = {0};
    tc_err err;
    tc_err_clear(&err);
    if (load_config(&app, argc, argv, &err) != TC_OK)
        return fail(&app, &err, 2);
    if (open_db(&app, &err) != TC_OK)
        return fail(&app, &err, 1);
    tc_log(TC_LOG_INFO, "migrations applied", "database", tc_db_kind_of(app.db) == TC_DB_POSTGRES ? "postgres" : "sqlite",
           NULL);
    app_free(&app);
    return 0;
}
