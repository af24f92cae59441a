#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"

typedef enum { CFG_STR, CFG_BOOL, CFG_INT } cfg_type;

typedef struct {
    const char *flag;   /* without the leading -- */
    const char *env;
    cfg_type type;
    size_t offset;
    const char *def;
    const char *doc;
} cfg_desc;

#define F(field) offsetof(tc_config, field)
static const cfg_desc settings[] = {
    {"listen", "TC_LISTEN", CFG_STR, F(listen), "127.0.0.1:8080", "address and port to listen on"},
    {"public-url", "TC_PUBLIC_URL", CFG_STR, F(public_url), "http://127.0.0.1:8080",
     "base URL browsers and OAuth providers see"},
    {"database-url", "TC_DATABASE_URL", CFG_STR, F(database_url), "",
     "sqlite:PATH or postgres://...; default sqlite:<data-dir>/toolconnect.db"},
    {"data-dir", "TC_DATA_DIR", CFG_STR, F(data_dir), "./data", "directory for the database and generated keys"},
    {"master-key", "TC_MASTER_KEY", CFG_STR, F(master_key), "",
     "base64 of 32 random bytes; generated into the data dir when unset"},
    {"log-level", "TC_LOG_LEVEL", CFG_STR, F(log_level), "info", "debug, info, warn or error"},
    {"log-format", "TC_LOG_FORMAT", CFG_STR, F(log_format), "text", "text or json"},
    {"web-root", "TC_WEB_ROOT", CFG_STR, F(web_root), "./web/dist", "directory of the built web app"},
    {"cors-origins", "TC_CORS_ORIGINS", CFG_STR, F(cors_origins), "",
     "comma-separated origins allowed by CORS; empty allows none"},
    {"catalog-path", "TC_CATALOG_PATH", CFG_STR, F(catalog_path), "",
     "colon-separated directories of extra connector files"},
    {"allow-private-targets", "TC_ALLOW_PRIVATE_TARGETS", CFG_BOOL, F(allow_private_targets), "0",
     "let outgoing calls and webhooks reach loopback and private addresses"},
    {"allow-stdio", "TC_ALLOW_STDIO", CFG_BOOL, F(allow_stdio), "0", "allow stdio MCP commands"},
    {"smtp-url", "TC_SMTP_URL", CFG_STR, F(smtp_url), "", "smtp://user:pass@host:port or smtps://"},
    {"mail-from", "TC_MAIL_FROM", CFG_STR, F(mail_from), "", "From address of emails"},
    {"rate-user-per-min", "TC_RATE_USER_PER_MIN", CFG_INT, F(rate_user_per_min), "30",
     "tool calls per minute per user"},
    {"rate-connector-per-min", "TC_RATE_CONNECTOR_PER_MIN", CFG_INT, F(rate_connector_per_min), "100",
     "tool calls per minute per connector"},
    {"http-threads", "TC_HTTP_THREADS", CFG_INT, F(http_threads), "2", "HTTP thread pool size"},
    {"body-max", "TC_BODY_MAX", CFG_INT, F(body_max), "1048576", "largest request body in bytes"},
    {"json-depth-max", "TC_JSON_DEPTH_MAX", CFG_INT, F(json_depth_max), "32", "deepest JSON nesting accepted"},
    {"db-pool-size", "TC_DB_POOL_SIZE", CFG_INT, F(db_pool_size), "8", "database connections in the pool"},
    {"provider-timeout-ms", "TC_PROVIDER_TIMEOUT_MS", CFG_INT, F(provider_timeout_ms), "10000",
     "time limit of credential checks against a provider, in ms"},
    {"access-ttl", "TC_ACCESS_TTL", CFG_INT, F(access_ttl_s), "900", "access token lifetime in seconds"},
    {"refresh-ttl", "TC_REFRESH_TTL", CFG_INT, F(refresh_ttl_s), "2592000", "refresh token lifetime in seconds"},
    {"http-max-connections", "TC_HTTP_MAX_CONNECTIONS", CFG_INT, F(http_max_connections), "4096",
     "most concurrent HTTP connections (streams included)"},
    {"http-conn-memory", "TC_HTTP_CONN_MEMORY", CFG_INT, F(http_conn_memory), "12288",
     "memory per HTTP connection in bytes (4096..1048576; bounds request header size, 431 beyond)"},
    {"stream-heartbeat-ms", "TC_STREAM_HEARTBEAT_MS", CFG_INT, F(stream_heartbeat_ms), "15000",
     "heartbeat comment interval of /api/stream, in ms"},
    {"stream-queue-bytes", "TC_STREAM_QUEUE_BYTES", CFG_INT, F(stream_queue_bytes), "65536",
     "bytes queued for a slow /api/stream client before it is dropped"},
    {"stream-ticket-ttl", "TC_STREAM_TICKET_TTL", CFG_INT, F(stream_ticket_ttl_s), "30",
     "lifetime of /api/stream tickets in seconds"},
    {"stream-retain", "TC_STREAM_RETAIN", CFG_INT, F(stream_retain_s), "86400",
     "seconds stream events are kept for Last-Event-ID replay"},
    {"stream-retain-max", "TC_STREAM_RETAIN_MAX", CFG_INT, F(stream_retain_max), "1000000",
     "most stream events kept for replay"},
    {"stream-prune-ms", "TC_STREAM_PRUNE_MS", CFG_INT, F(stream_prune_ms), "60000",
     "interval of stream event pruning, in ms"},
    {"job-workers", "TC_JOB_WORKERS", CFG_INT, F(job_workers), "8", "tool-run worker threads"},
    {"job-wait-ms", "TC_JOB_WAIT_MS", CFG_INT, F(job_wait_ms), "30000",
     "longest a synchronous tool call waits before answering 202, in ms"},
    {"job-timeout-ms", "TC_JOB_TIMEOUT_MS", CFG_INT, F(job_timeout_ms), "60000",
     "default time limit of a tool run, in ms (tools may override)"},
    {"job-response-max", "TC_JOB_RESPONSE_MAX", CFG_INT, F(job_response_max), "2097152",
     "largest upstream response body of a tool run, in bytes"},
    {"job-poll-ms", "TC_JOB_POLL_MS", CFG_INT, F(job_poll_ms), "2000",
     "job queue poll interval when nothing was enqueued locally, in ms"},
    {"scheduler-enabled", "TC_SCHEDULER_ENABLED", CFG_BOOL, F(scheduler_enabled), "1",
     "run the scheduler's tick in this instance (schedules still fire from another one)"},
    {"scheduler-tick-ms", "TC_SCHEDULER_TICK_MS", CFG_INT, F(scheduler_tick_ms), "250",
     "longest pause between scheduler ticks, in ms"},
    {"scheduler-misfire-grace-ms", "TC_SCHEDULER_MISFIRE_GRACE_MS", CFG_INT,
     F(scheduler_misfire_grace_ms), "60000",
     "a due run later than this (after downtime) follows the schedule's misfire policy, in ms"},
    {"scheduler-clock-offset-ms", "TC_SCHEDULER_CLOCK_OFFSET_MS", CFG_INT,
     F(scheduler_clock_offset_ms), "0", "for tests: added to the scheduler's clock, in ms"},
    {"webhook-max-attempts", "TC_WEBHOOK_MAX_ATTEMPTS", CFG_INT, F(webhook_max_attempts), "8",
     "attempts per webhook delivery before it fails"},
    {"webhook-retry-base-ms", "TC_WEBHOOK_RETRY_BASE_MS", CFG_INT, F(webhook_retry_base_ms), "1000",
     "first webhook retry delay in ms (doubles each retry, plus jitter)"},
    {"webhook-retry-max-ms", "TC_WEBHOOK_RETRY_MAX_MS", CFG_INT, F(webhook_retry_max_ms), "3600000",
     "longest delay between two webhook attempts, in ms"},
    {"webhook-retry-window-ms", "TC_WEBHOOK_RETRY_WINDOW_MS", CFG_INT, F(webhook_retry_window_ms), "86400000",
     "no webhook retry later than this after the event, in ms"},
    {"webhook-timeout-ms", "TC_WEBHOOK_TIMEOUT_MS", CFG_INT, F(webhook_timeout_ms), "15000",
     "time limit of one webhook attempt, in ms"},
    {"webhook-disable-after-ms", "TC_WEBHOOK_DISABLE_AFTER_MS", CFG_INT, F(webhook_disable_after_ms), "432000000",
     "disable a webhook endpoint failing continuously this long, in ms (0 = never)"},
    {"webhook-concurrency", "TC_WEBHOOK_CONCURRENCY", CFG_INT, F(webhook_concurrency), "64",
     "webhook requests in flight at once"},
    {"webhook-poll-ms", "TC_WEBHOOK_POLL_MS", CFG_INT, F(webhook_poll_ms), "1000",
     "webhook queue poll interval when nothing was enqueued locally, in ms"},
    {"webhook-retain-days", "TC_WEBHOOK_RETAIN_DAYS", CFG_INT, F(webhook_retain_days), "30",
     "days finished webhook deliveries and attempts are kept (0 = forever)"},
    {"oauth-refresh-margin-s", "TC_OAUTH_REFRESH_MARGIN_S", CFG_INT, F(oauth_refresh_margin_s), "600",
     "renew OAuth tokens this many seconds before they expire"},
    {"oauth-refresh-interval-ms", "TC_OAUTH_REFRESH_INTERVAL_MS", CFG_INT, F(oauth_refresh_interval_ms),
     "30000", "how often the background OAuth refresher looks for expiring tokens, in ms (0 = off)"},
    {"health-interval-s", "TC_HEALTH_INTERVAL_S", CFG_INT, F(health_interval_s), "300",
     "seconds between health probes of connectors in use (0 = only on demand)"},
    {"health-timeout-ms", "TC_HEALTH_TIMEOUT_MS", CFG_INT, F(health_timeout_ms), "10000",
     "time limit of one health probe, in ms"},
    {"health-degraded-ms", "TC_HEALTH_DEGRADED_MS", CFG_INT, F(health_degraded_ms), "3000",
     "a probe answering slower than this is degraded, in ms"},
    {"health-retention-days", "TC_HEALTH_RETENTION_DAYS", CFG_INT, F(health_retention_days), "7",
     "days of health history kept"},
    {"alert-cooldown-s", "TC_ALERT_COOLDOWN_S", CFG_INT, F(alert_cooldown_s), "900",
     "a connector alerts at most once per this many seconds"},
    {"email-api-url", "TC_EMAIL_API_URL", CFG_STR, F(email_api_url), "",
     "Resend-style email API endpoint (JSON POST); used instead of SMTP when set"},
    {"email-api-key", "TC_EMAIL_API_KEY", CFG_STR, F(email_api_key), "", "bearer key of the email API"},
    {"notify-max-attempts", "TC_NOTIFY_MAX_ATTEMPTS", CFG_INT, F(notify_max_attempts), "8",
     "attempts per email before it is marked failed"},
    {"notify-retry-base-ms", "TC_NOTIFY_RETRY_BASE_MS", CFG_INT, F(notify_retry_base_ms), "30000",
     "first email retry delay in ms (doubles each retry, at most 1 h)"},
    {"notify-poll-ms", "TC_NOTIFY_POLL_MS", CFG_INT, F(notify_poll_ms), "5000",
     "email outbox poll interval when nothing was queued locally, in ms"},
    {"notify-digest-s", "TC_NOTIFY_DIGEST_S", CFG_INT, F(notify_digest_s), "3600",
     "period of digest emails, in seconds"},
    {"notify-clock-offset-ms", "TC_NOTIFY_CLOCK_OFFSET_MS", CFG_INT, F(notify_clock_offset_ms), "0",
     "for tests: added to the clock used for quiet hours and digests, in ms"},
};
#undef F
#define NSETTINGS (sizeof(settings) / sizeof(settings[0]))

static tc_status set_value(tc_config *cfg, const cfg_desc *d, const char *v, tc_err *err)
{
    char *base = (char *)cfg + d->offset;
    switch (d->type) {
    case CFG_STR: {
        char **slot = (char **)(void *)base;
        free(*slot);
        *slot = tc_strdup(v);
        return TC_OK;
    }
    case CFG_BOOL: {
        bool *slot = (bool *)(void *)base;
        if (!strcmp(v, "1") || !strcmp(v, "true") || !strcmp(v, "yes") || !strcmp(v, "on"))
            *slot = true;
        else if (!strcmp(v, "0") || !strcmp(v, "false") || !strcmp(v, "no") || !strcmp(v, "off") || !*v)
            *slot = false;
        else
            return tc_failf(err, TC_BAD_REQUEST, d->env, "%s must be 0 or 1, got \"%s\"", d->env, v);
        return TC_OK;
    }
    case CFG_INT: {
        int64_t *slot = (int64_t *)(void *)base;
        char *end;
        errno = 0;
        long long n = strtoll(v, &end, 10);
        if (errno || end == v || *end || n < 0)
            return tc_failf(err, TC_BAD_REQUEST, d->env, "%s must be a non-negative integer, got \"%s\"", d->env, v);
        *slot = n;
        return TC_OK;
    }
    }
    return TC_INTERNAL;
}

static const cfg_desc *find_flag(const char *name, size_t len)
{
    for (size_t i = 0; i < NSETTINGS; i++)
        if (strlen(settings[i].flag) == len && !strncmp(settings[i].flag, name, len))
            return &settings[i];
    return NULL;
}

static tc_status apply_flags(tc_config *cfg, int argc, char **argv, int *argi, tc_err *err)
{
    int i = *argi;
    for (; i < argc && !strncmp(argv[i], "--", 2) && argv[i][2]; i++) {
        const char *name = argv[i] + 2;
        const char *eq = strchr(name, '=');
        const cfg_desc *d = find_flag(name, eq ? (size_t)(eq - name) : strlen(name));
        if (!d)
            return tc_failf(err, TC_BAD_REQUEST, argv[i], "unknown option %s (see --help)", argv[i]);
        const char *v = eq ? eq + 1 : NULL;
        if (!v && d->type == CFG_BOOL)
            v = "1";
        if (!v && i + 1 < argc)
            v = argv[++i];
        if (!v)
            return tc_failf(err, TC_BAD_REQUEST, argv[i], "option --%s needs a value", d->flag);
        tc_status st = set_value(cfg, d, v, err);
        if (st != TC_OK)
            return st;
    }
    *argi = i;
    return TC_OK;
}

tc_status tc_config_load(tc_config *cfg, int argc, char **argv, int *argi, tc_err *err)
{
    memset(cfg, 0, sizeof(*cfg));
    for (size_t i = 0; i < NSETTINGS; i++) {
        const char *env = getenv(settings[i].env);
        tc_status st = set_value(cfg, &settings[i], settings[i].def, err);
        if (st == TC_OK && env)
            st = set_value(cfg, &settings[i], env, err);
        if (st != TC_OK)
            return st;
    }
    tc_status st = apply_flags(cfg, argc, argv, argi, err);
    if (st != TC_OK)
        return st;
    if (!cfg->database_url[0]) {
        free(cfg->database_url);
        cfg->database_url = tc_asprintf("sqlite:%s/toolconnect.db", cfg->data_dir);
    }
    return TC_OK;
}

void tc_config_free(tc_config *cfg)
{
    for (size_t i = 0; i < NSETTINGS; i++) {
        if (settings[i].type != CFG_STR)
            continue;
        char **slot = (char **)(void *)((char *)cfg + settings[i].offset);
        free(*slot);
        *slot = NULL;
    }
}

void tc_config_print_help(FILE *out)
{
    fprintf(out, "Settings (flag, environment variable, default):\n");
    for (size_t i = 0; i < NSETTINGS; i++)
        fprintf(out, "  --%-24s %-28s [%s]\n      %s\n", settings[i].flag, settings[i].env,
                settings[i].def, settings[i].doc);
}
