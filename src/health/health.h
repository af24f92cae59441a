/* health: periodic probes of every connector in use, results, status-change
 * events and alert emails.
 *
 * A round loads every enabled connector (built-in or custom) that has at
 * least one connection not revoked, and probes them all at once on one curl
 * multi handle (tc_net_request_many), each with its own time limit:
 *   REST: GET of health.url, or else base_url;
 *   MCP (Streamable HTTP): POST initialize, then POST ping (with the
 *   session id the server gave), then DELETE of that session;
 *   MCP over stdio (TC_ALLOW_STDIO) or legacy HTTP+SSE: initialize + ping
 *   through the MCP client (src/mcp), on threads of their own alongside
 *   the curl probes, within the same time limit.
 * Each result (healthy | degraded | down, latency, error, time) is stored.
 * When a connector's status differs from its previous one, a "health"
 * change is recorded for every user with a connection to it (live stream;
 * webhooks health.down / health.recovered), and, for down and recovery, an
 * alert email is queued for each of them if the connector's cooldown slot
 * in alert_cooldowns can be taken (one alert per connector per cooldown,
 * across restarts and instances). Emails are only queued here; the notify
 * sender delivers them, so a dead mail server never slows the checker.
 * docs/health.md. */
#ifndef TC_HEALTH_H
#define TC_HEALTH_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/core.h"
#include "store/db.h"

struct tc_events;
struct tc_notify;

typedef struct tc_health_opts {
    tc_db *db;
    struct tc_events *events;   /* may be NULL (no change events) */
    struct tc_notify *notify;   /* may be NULL (no emails) */
    int64_t interval_ms;        /* 0 = no periodic rounds (check now only) */
    int timeout_ms;             /* per probe; 0 = 10000 */
    int64_t degraded_ms;        /* slower answers are degraded; 0 = 3000 */
    int64_t retention_ms;       /* history kept; 0 = 7 days */
    int64_t cooldown_ms;        /* alert cooldown per connector; 0 = 15 min */
    bool allow_private;         /* probes may reach loopback/private addresses */
    bool allow_stdio;           /* stdio MCP servers may be spawned (TC_ALLOW_STDIO) */
} tc_health_opts;

typedef struct tc_health tc_health;

/* Starts the checker thread (when interval_ms > 0; its first round comes
 * after one interval, so the modules started later are in place).
 * Caller frees with tc_health_stop (waits for a running round). */
tc_status tc_health_start(const tc_health_opts *opts, tc_health **out, tc_err *err);
void tc_health_stop(tc_health *h);

/* Runs one full round now and returns when it is stored. Blocking: call it
 * from a worker thread (POST /api/health/check offloads it). Rounds never
 * overlap; a caller arriving during one waits for it and runs its own.
 * *probed (may be NULL) gets the number of connectors probed. */
tc_status tc_health_check_now(tc_health *h, int *probed, tc_err *err);

/* ---- probes (probe.c), exposed for tests --------------------------------- */
typedef enum {
    TC_PROBE_NONE,
    TC_PROBE_REST,       /* curl multi: GET */
    TC_PROBE_MCP,        /* curl multi: Streamable HTTP initialize, ping, DELETE */
    TC_PROBE_MCP_CLIENT, /* the MCP client: stdio or legacy SSE, initialize + ping */
} tc_probe_kind;

typedef struct tc_health_probe {
    tc_probe_kind kind;
    char url[2048];
    char why[128];        /* TC_PROBE_NONE: why it cannot be probed */
    const json_t *def;    /* TC_PROBE_MCP_CLIENT: the definition (borrowed) */
    bool stdio;           /* TC_PROBE_MCP_CLIENT: spawns a process */
    /* outcome */
    char status[16];      /* healthy | degraded | down */
    int64_t latency_ms;
    char error[256];
} tc_health_probe;

/* What to probe for a connector definition (docs/catalog.md). */
void tc_health_probe_plan(const json_t *definition, tc_health_probe *out);
/* Runs the REST and Streamable HTTP probes in parallel (curl multi),
 * filling each outcome; other kinds are left alone. */
void tc_health_probe_run(tc_health_probe *probes, size_t n, int timeout_ms, int64_t degraded_ms,
                         bool allow_private);
/* Starts the TC_PROBE_MCP_CLIENT probes of probes[0..n) on threads of
 * their own (at most 16; each probe: a fresh session, initialize, ping,
 * closed again) and returns at once; tc_health_mcp_probes_wait joins them
 * (their outcomes are then filled in). Each probe ends within about
 * timeout_ms. Returns NULL when there is no such probe. probes must stay
 * in place until the wait. */
typedef struct tc_health_mcp_run tc_health_mcp_run;
tc_health_mcp_run *tc_health_mcp_probes_start(tc_health_probe *probes, size_t n, int timeout_ms,
                                              int64_t degraded_ms, bool allow_private,
                                              bool allow_stdio);
void tc_health_mcp_probes_wait(tc_health_mcp_run *r);

/* Finds the JSON-RPC response with the given id in an MCP answer body that
 * is either JSON or an SSE stream of data: lines. New reference or NULL. */
json_t *tc_health_mcp_response(const char *body, size_t len, int64_t id);

#endif
