/* config: every setting, from defaults, TC_* environment variables and
 * --flags (flags win). The table in config.c is the single list; it also
 * prints --help. docs/configuration.md documents each one. */
#ifndef TC_CONFIG_H
#define TC_CONFIG_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "core/core.h"

typedef struct tc_config {
    char *listen;            /* TC_LISTEN host:port */
    char *public_url;        /* TC_PUBLIC_URL */
    char *database_url;      /* TC_DATABASE_URL sqlite:PATH | postgres://... */
    char *data_dir;          /* TC_DATA_DIR */
    char *master_key;        /* TC_MASTER_KEY base64 of 32 bytes (secret) */
    char *log_level;         /* TC_LOG_LEVEL debug|info|warn|error */
    char *log_format;        /* TC_LOG_FORMAT text|json */
    char *web_root;          /* TC_WEB_ROOT directory of the built web app */
    char *cors_origins;      /* TC_CORS_ORIGINS comma-separated, "" = none */
    char *catalog_path;      /* TC_CATALOG_PATH colon-separated extra dirs */
    bool allow_private_targets; /* TC_ALLOW_PRIVATE_TARGETS */
    bool allow_stdio;        /* TC_ALLOW_STDIO */
    char *smtp_url;          /* TC_SMTP_URL (secret: may hold a password) */
    char *mail_from;         /* TC_MAIL_FROM */
    int64_t rate_user_per_min;      /* TC_RATE_USER_PER_MIN */
    int64_t rate_connector_per_min; /* TC_RATE_CONNECTOR_PER_MIN */
    int64_t http_threads;    /* TC_HTTP_THREADS */
    int64_t body_max;        /* TC_BODY_MAX bytes */
    int64_t json_depth_max;  /* TC_JSON_DEPTH_MAX */
    int64_t db_pool_size;    /* TC_DB_POOL_SIZE */
    int64_t provider_timeout_ms; /* TC_PROVIDER_TIMEOUT_MS credential checks */
    int64_t access_ttl_s;    /* TC_ACCESS_TTL seconds */
    int64_t refresh_ttl_s;   /* TC_REFRESH_TTL seconds */
    int64_t http_max_connections; /* TC_HTTP_MAX_CONNECTIONS */
    int64_t http_conn_memory;     /* TC_HTTP_CONN_MEMORY bytes */
    int64_t stream_heartbeat_ms;  /* TC_STREAM_HEARTBEAT_MS */
    int64_t stream_queue_bytes;   /* TC_STREAM_QUEUE_BYTES */
    int64_t stream_ticket_ttl_s;  /* TC_STREAM_TICKET_TTL seconds */
    int64_t stream_retain_s;      /* TC_STREAM_RETAIN seconds */
    int64_t stream_retain_max;    /* TC_STREAM_RETAIN_MAX rows */
    int64_t stream_prune_ms;      /* TC_STREAM_PRUNE_MS */
    int64_t job_workers;      /* TC_JOB_WORKERS */
    int64_t job_wait_ms;      /* TC_JOB_WAIT_MS */
    int64_t job_timeout_ms;   /* TC_JOB_TIMEOUT_MS */
    int64_t job_response_max; /* TC_JOB_RESPONSE_MAX bytes */
    int64_t job_poll_ms;      /* TC_JOB_POLL_MS */
    bool scheduler_enabled;          /* TC_SCHEDULER_ENABLED */
    int64_t scheduler_tick_ms;       /* TC_SCHEDULER_TICK_MS */
    int64_t scheduler_misfire_grace_ms; /* TC_SCHEDULER_MISFIRE_GRACE_MS */
    int64_t scheduler_clock_offset_ms;  /* TC_SCHEDULER_CLOCK_OFFSET_MS (tests) */
    int64_t webhook_max_attempts;     /* TC_WEBHOOK_MAX_ATTEMPTS */
    int64_t webhook_retry_base_ms;    /* TC_WEBHOOK_RETRY_BASE_MS */
    int64_t webhook_retry_max_ms;     /* TC_WEBHOOK_RETRY_MAX_MS */
    int64_t webhook_retry_window_ms;  /* TC_WEBHOOK_RETRY_WINDOW_MS */
    int64_t webhook_timeout_ms;       /* TC_WEBHOOK_TIMEOUT_MS */
    int64_t webhook_disable_after_ms; /* TC_WEBHOOK_DISABLE_AFTER_MS */
    int64_t webhook_concurrency;      /* TC_WEBHOOK_CONCURRENCY */
    int64_t webhook_poll_ms;          /* TC_WEBHOOK_POLL_MS */
    int64_t webhook_retain_days;      /* TC_WEBHOOK_RETAIN_DAYS, 0 = keep forever */
    int64_t oauth_refresh_margin_s;     /* TC_OAUTH_REFRESH_MARGIN_S */
    int64_t oauth_refresh_interval_ms;  /* TC_OAUTH_REFRESH_INTERVAL_MS, 0 = off */
    int64_t health_interval_s;     /* TC_HEALTH_INTERVAL_S, 0 = no periodic probes */
    int64_t health_timeout_ms;     /* TC_HEALTH_TIMEOUT_MS per probe */
    int64_t health_degraded_ms;    /* TC_HEALTH_DEGRADED_MS slower = degraded */
    int64_t health_retention_days; /* TC_HEALTH_RETENTION_DAYS */
    int64_t alert_cooldown_s;      /* TC_ALERT_COOLDOWN_S per connector */
    char *email_api_url;           /* TC_EMAIL_API_URL Resend-style endpoint */
    char *email_api_key;           /* TC_EMAIL_API_KEY bearer key (secret) */
    int64_t notify_max_attempts;   /* TC_NOTIFY_MAX_ATTEMPTS */
    int64_t notify_retry_base_ms;  /* TC_NOTIFY_RETRY_BASE_MS */
    int64_t notify_poll_ms;        /* TC_NOTIFY_POLL_MS */
    int64_t notify_digest_s;       /* TC_NOTIFY_DIGEST_S digest period */
    int64_t notify_clock_offset_ms; /* TC_NOTIFY_CLOCK_OFFSET_MS (tests) */
} tc_config;

/* Fills defaults, then the environment, then argv flags (--name=value or
 * --name value; booleans also as bare --name). Unknown flags fail with a
 * message in err naming the flag. *argi returns the index of the first
 * non-flag argument. Caller frees with tc_config_free. */
tc_status tc_config_load(tc_config *cfg, int argc, char **argv, int *argi, tc_err *err);
void tc_config_free(tc_config *cfg);
/* Prints every setting: flag, variable, default and description. */
void tc_config_print_help(FILE *out);

#endif
