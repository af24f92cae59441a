/* notify: email notifications to users.
 *
 *   tc_notify_user()    queue one email for a user, honouring the user's
 *                       preferences (email on/off, alert types, quiet hours
 *                       in the user's time zone, immediate or digest);
 *                       durable: a row in notification_outbox, written on
 *                       the caller's connection (inside its transaction when
 *                       there is one), so it commits or rolls back with the
 *                       change it reports.
 *   tc_notify_alert()   the same, with subject and bodies rendered from the
 *                       built-in template of the alert type.
 *   sender thread       claims due rows (lease, so instances never send one
 *                       twice), groups digest rows per user and period,
 *                       sends through the configured transport, retries with
 *                       backoff and logs every failure. Queuing never waits
 *                       for a send.
 *
 * Transports are a const table (transport.c): "smtp" (libcurl; smtp:// uses
 * STARTTLS when the server offers it, smtps:// is TLS from the first byte;
 * append "?tls=required" to an smtp:// URL to refuse plaintext) and "http"
 * (Resend-style JSON POST with a bearer key). docs/notifications.md. */
#ifndef TC_NOTIFY_H
#define TC_NOTIFY_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/core.h"
#include "store/db.h"
#include "store/repo_notify.h"

/* Alert types a user can switch on and off (the keys of alert_types). */
#define TC_NOTIFY_HEALTH_DOWN "health.down"
#define TC_NOTIFY_HEALTH_RECOVERED "health.recovered"
#define TC_NOTIFY_CONNECTION_RECONNECT "connection.needs_reconnect"
#define TC_NOTIFY_WEBHOOK_DISABLED "webhook.disabled"
#define TC_NOTIFY_SCHEDULE_FAILING "schedule.failing"
#define TC_NOTIFY_SCHEDULE_PAUSED "schedule.paused"

/* NULL-terminated list of the known alert types. */
const char *const *tc_notify_alert_types(void);
/* The canonical name of an alert type (aliases such as
 * "connection.expired" map to "connection.needs_reconnect"); NULL when
 * unknown. */
const char *tc_notify_alert_type_canonical(const char *name);

/* Seconds east of UTC of zone tz at instant ms (time zone rules are the
 * scheduler's; injected so this module does not link it). Unknown zones: 0. */
typedef int32_t (*tc_notify_tz_offset_fn)(const char *tz, int64_t ms);

typedef struct tc_notify_opts {
    tc_db *db;
    const char *smtp_url;       /* smtp://user:pass@host:port or smtps:// (copied) */
    const char *mail_from;      /* From address (copied) */
    const char *api_url;        /* Resend-style endpoint; wins over SMTP (copied) */
    const char *api_key;        /* bearer key (copied, never logged) */
    const char *public_url;     /* links in emails (copied) */
    bool allow_private;         /* HTTP transport may reach private addresses */
    int max_attempts;           /* 0 = 8 */
    int64_t retry_base_ms;      /* 0 = 30000 (doubles, capped at 1 h) */
    int64_t poll_ms;            /* 0 = 5000 */
    int64_t digest_ms;          /* 0 = 3600000 */
    int64_t clock_offset_ms;    /* tests: added to "now" for quiet hours/digests */
    int send_timeout_ms;        /* 0 = 30000 */
    tc_notify_tz_offset_fn tz_offset; /* NULL = every zone is UTC */
} tc_notify_opts;

typedef struct tc_notify tc_notify;

/* Starts the sender thread when a transport is configured (SMTP URL or API
 * URL, and a From address). Without one, tc_notify_user queues nothing and
 * says so once in the log. Caller frees with tc_notify_stop. */
tc_status tc_notify_start(const tc_notify_opts *opts, tc_notify **out, tc_err *err);
void tc_notify_stop(tc_notify *n);
/* True when a transport is configured. */
bool tc_notify_enabled(const tc_notify *n);
/* Wakes the sender (after a commit that queued mail). Safe on NULL. */
void tc_notify_wake(tc_notify *n);

typedef struct tc_notify_msg {
    const char *type;     /* alert type, e.g. TC_NOTIFY_HEALTH_DOWN */
    const char *subject;  /* one line; CR/LF are replaced */
    const char *text;     /* plain-text body */
    const char *html;     /* HTML body; NULL = the text, escaped, in the layout */
} tc_notify_msg;

typedef enum {
    TC_NOTIFY_QUEUED,       /* sent as soon as the sender gets to it */
    TC_NOTIFY_HELD,         /* held until quiet hours end or the digest is due */
    TC_NOTIFY_SKIPPED,      /* preferences say no (or no transport) */
} tc_notify_outcome;

/* Queues m for user_id on c (the caller's transaction, if any). n may be
 * NULL (nothing queued, TC_OK, SKIPPED). *outcome may be NULL. Call
 * tc_notify_wake after the commit. Thread-safe. */
tc_status tc_notify_user(tc_notify *n, tc_db_conn *c, const char *user_id, const tc_notify_msg *m,
                         tc_notify_outcome *outcome, tc_err *err);

/* Renders the built-in template of type with vars (an object of strings:
 * connector, name, error, status, time, detail, url, ...) and queues it. */
tc_status tc_notify_alert(tc_notify *n, tc_db_conn *c, const char *user_id, const char *type,
                          const json_t *vars, tc_notify_outcome *outcome, tc_err *err);

/* ---- pure helpers (exposed for tests and the API) ------------------------ */

/* Rendered email; caller frees with tc_notify_rendered_free. */
typedef struct tc_notify_rendered {
    char *subject, *text, *html;
} tc_notify_rendered;
/* Renders the template of type ({{var}} replaced, HTML-escaped in the HTML
 * body; unknown vars render empty). TC_NOT_FOUND for an unknown type. */
tc_status tc_notify_render(const char *type, const json_t *vars, const char *public_url,
                           tc_notify_rendered *out, tc_err *err);
void tc_notify_rendered_free(tc_notify_rendered *r);
/* The HTML layout around an escaped plain-text body. Caller frees. */
char *tc_notify_html_from_text(const char *subject, const char *text);

/* Quiet hours: given the local minute of day now_min (0..1439) and the
 * window [start, end) (end < start wraps midnight; start == end or -1 =
 * none), the minutes until the window ends, or 0 when outside it. */
int tc_notify_quiet_minutes_left(int now_min, int start, int end);
/* When a message for prefs created at now (UTC ms) may first be sent:
 * now, the end of quiet hours, or the next digest boundary (then, if that
 * falls in quiet hours, their end). *digest_slot gets the digest period
 * start (0 = not a digest). */
int64_t tc_notify_release_at(const tc_notify_prefs *p, int64_t now, int64_t digest_ms,
                             tc_notify_tz_offset_fn tz_offset, int64_t *digest_slot);

/* Validates a PUT /api/notification-preferences body into out (defaults
 * for absent fields come from cur). TC_VALIDATION naming the field.
 * tz_valid checks a time zone name (NULL = only "UTC"). */
typedef bool (*tc_notify_tz_valid_fn)(const char *tz);
tc_status tc_notify_prefs_parse(const json_t *body, const tc_notify_prefs *cur,
                                tc_notify_tz_valid_fn tz_valid, tc_notify_prefs *out,
                                tc_err *err);
/* API shape {email_enabled, alert_types, timezone, quiet_start, quiet_end,
 * delivery, available_alert_types, updated_at}. */
json_t *tc_notify_prefs_json(const tc_notify_prefs *p);

/* ---- transports (transport.c) -------------------------------------------- */
typedef struct tc_notify_mail {
    const char *from, *to, *subject, *text, *html;
} tc_notify_mail;

typedef struct tc_notify_transport_cfg {
    const char *url;       /* smtp(s) URL or API URL */
    const char *api_key;
    bool allow_private;
    int timeout_ms;
} tc_notify_transport_cfg;

typedef struct tc_notify_transport {
    const char *name;  /* "smtp" | "http" */
    tc_status (*send)(const tc_notify_transport_cfg *cfg, const tc_notify_mail *m, tc_err *err);
} tc_notify_transport;

/* NULL when unknown. */
const tc_notify_transport *tc_notify_transport_find(const char *name);

/* Splits an SMTP URL: the URL for curl without credentials or query into
 * url_out, user/password (percent-decoded), and whether TLS is required
 * (smtps://, or ?tls=required). TC_BAD_REQUEST naming TC_SMTP_URL. */
tc_status tc_notify_smtp_url_parse(const char *url, char *url_out, size_t url_cap, char *user,
                                   size_t user_cap, char *pass, size_t pass_cap,
                                   bool *tls_required, tc_err *err);

#endif
