-- 0001 init (SQLite): the whole data model. Keep in step with 0001_init.pg.sql.
-- Times are INTEGER ms since the Unix epoch. Ids are app-generated UUID text,
-- except append-only logs, which use a monotonic integer id.
-- Booleans are INTEGER 0/1. JSON documents are TEXT. Ciphertexts are BLOB.
-- STRICT tables make SQLite reject wrongly typed values, as PostgreSQL does.

-- ---- accounts -------------------------------------------------------------

CREATE TABLE users (
    id              TEXT PRIMARY KEY,
    email           TEXT NOT NULL,
    password_hash   TEXT NOT NULL,
    name            TEXT,
    is_admin        INTEGER NOT NULL DEFAULT 0 CHECK (is_admin IN (0, 1)),
    disabled_at     INTEGER,
    created_at      INTEGER NOT NULL DEFAULT (CAST(ROUND((julianday('now') - 2440587.5) * 86400000.0) AS INTEGER)),
    updated_at      INTEGER NOT NULL DEFAULT (CAST(ROUND((julianday('now') - 2440587.5) * 86400000.0) AS INTEGER))
) STRICT;
CREATE UNIQUE INDEX users_email_lower ON users (lower(email));

CREATE TABLE sessions (
    id              TEXT PRIMARY KEY,
    user_id         TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    family          TEXT NOT NULL UNIQUE,
    user_agent      TEXT,
    ip              TEXT,
    created_at      INTEGER NOT NULL DEFAULT (CAST(ROUND((julianday('now') - 2440587.5) * 86400000.0) AS INTEGER)),
    updated_at      INTEGER NOT NULL DEFAULT (CAST(ROUND((julianday('now') - 2440587.5) * 86400000.0) AS INTEGER)),
    last_used_at    INTEGER,
    expires_at      INTEGER NOT NULL,
    revoked_at      INTEGER,
    revoked_reason  TEXT
) STRICT;
CREATE INDEX sessions_user_created ON sessions (user_id, created_at);

CREATE TABLE refresh_tokens (
    id              TEXT PRIMARY KEY,
    session_id      TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    user_id         TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash      TEXT NOT NULL UNIQUE,
    created_at      INTEGER NOT NULL DEFAULT (CAST(ROUND((julianday('now') - 2440587.5) * 86400000.0) AS INTEGER)),
    expires_at      INTEGER NOT NULL,
    rotated_at      INTEGER,
    replaced_by     TEXT
) STRICT;
CREATE INDEX refresh_tokens_session ON refresh_tokens (session_id);
CREATE INDEX refresh_tokens_user ON refresh_tokens (user_id);

CREATE TABLE api_keys (
    id              TEXT PRIMARY KEY,
    user_id         TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name            TEXT NOT NULL,
    prefix          TEXT NOT NULL UNIQUE,
    key_hash        TEXT NOT NULL UNIQUE,
    created_at      INTEGER NOT NULL DEFAULT (CAST(ROUND((julianday('now') - 2440587.5) * 86400000.0) AS INTEGER)),
    updated_at      INTEGER NOT NULL DEFAULT (CAST(ROUND((julianday('now') - 2440587.5) * 86400000.0) AS INTEGER)),
    last_used_at    INTEGER,
    expires_at      INTEGER,
    revoked_at      INTEGER
) STRICT;
CREATE INDEX api_keys_user_created ON api_keys (user_id, created_at);

-- Login throttling: one row per attempt, by account (scope 'account', key =
-- normalized email) and by client address (scope 'address', key = ip).
CREATE TABLE login_attempts (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    scope           TEXT NOT NULL CHECK (scope IN ('account', 'address')),
    key             TEXT NOT NULL,
    succeeded       INTEGER NOT NULL DEFAULT 0 CHECK (succeeded IN (0, 1)),
    created_at      INTEGER NOT NULL DEFAULT (CAST(ROUND((julianday('now') - 2440587.5) * 86400000.0) AS INTEGER))
) STRICT;
CREATE INDEX login_attempts_key_created ON login_attempts (scope, key, created_at);

-- Key ids of the secret box. Never the key material itself.
CREATE TABLE secret_keys (
    id              TEXT PRIMARY KEY,
    created_at      INTEGER NOT NULL DEFAULT (CAST(ROUND((julianday('now') - 2440587.5) * 86400000.0) AS INTEGER)),
    updated_at      INTEGER NOT NULL DEFAULT (CAST(ROUND((julianday('now') - 2440587.5) * 86400000.0) AS INTEGER)),
    retired_at      INTEGER
) STRICT;

-- Administrator settings: key -> JSON value.
CREATE TABLE settings (
    key             TEXT PRIMARY KEY,
    value           TEXT NOT NULL,
    created_at      INTEGER NOT NULL DEFAULT (CAST(ROUND((julianday('now') - 2440587.5) * 86400000.0) AS INTEGER)),
    updated_at      INTEGER NOT NULL DEFAULT (CAST(ROUND((julianday('now') - 2440587.5) * 86400000.0) AS INTEGER))
) STRICT;

-- ---- catalog and connections ------------------------------------------------

-- owner_id NULL = catalog connector; otherwise a user's custom connector.
CREATE TABLE connectors (
    id              TEXT PRIMARY KEY,
    owner_id        TEXT REFERENCES users (id) ON DELETE CASCADE,
    slug            TEXT NOT NULL,
    name            TEXT NOT NULL,
    description     TEXT NOT NULL DEFAULT '',
    category        TEXT NOT NULL DEFAULT 'other',
    icon            TEXT,
    docs_url        TEXT,
    base_url        TEXT,
    auth_type       TEXT NOT NULL CHECK (auth_type IN ('oauth2', 'api_key', 'basic', 'bearer', 'none')),
    auth_config     TEXT,
    mcp_url         TEXT,
    mcp_command     TEXT,
    health          TEXT,
    enabled         INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
    source          TEXT NOT NULL DEFAULT 'catalog' CHECK (source IN ('catalog', 'custom')),
    tools_refreshed_at INTEGER,
    created_at      INTEGER NOT NULL DEFAULT (CAST(ROUND((julianday('now') - 2440587.5) * 86400000.0) AS INTEGER)),
    updated_at      INTEGER NOT NULL DEFAULT (CAST(ROUND((julianday('now') - 2440587.5) * 86400000.0) AS INTEGER))
) STRICT;
CREATE UNIQUE INDEX connectors_owner_slug ON connectors (COALESCE(owner_id, ''), slug);
CREATE INDEX connectors_owner_created ON connectors (owner_id, created_at);
CREATE INDEX connectors_category ON connectors (category);

CREATE TABLE connector_tools (
    id              TEXT PRIMARY KEY,
    connector_id    TEXT NOT NULL REFERENCES connectors (id) ON DELETE CASCADE,
    name            TEXT NOT NULL,
    title           TEXT,
    description     TEXT NOT NULL DEFAULT '',
    input_schema    TEXT NOT NULL DEFAULT '{"type":"object"}',
    output_schema   TEXT,
    annotations     TEXT,
    source          TEXT NOT NULL CHECK (source IN ('mcp', 'rest')),
    request         TEXT,
    timeout_ms      INTEGER,
    created_at      INTEGER NOT NULL DEFAULT (CAST(ROUND((julianday('now') - 2440587.5) * 86400000.0) AS INTEGER)),
    updated_at      INTEGER NOT NULL DEFAULT (CAST(ROUND((julianday('now') - 2440587.5) * 86400000.0) AS INTEGER)),
    UNIQUE (connector_id, name)
) STRICT;

-- OAuth client credentials per connector (administrator-set).
CREATE TABLE oauth_clients (
    id              TEXT PRIMARY KEY,
    connector_id    TEXT NOT NULL UNIQUE REFERENCES connectors (id) ON DELETE CASCADE,
    client_id       TEXT NOT NULL,
    client_secret   BLOB,
    secret_key_id   TEXT,
    created_at      INTEGER NOT NULL DEFAULT (CAST(ROUND((julianday('now') - 2440587.5) * 86400000.0) AS INTEGER)),
    updated_at      INTEGER NOT NULL DEFAULT (CAST(ROUND((julianday('now') - 2440587.5) * 86400000.0) AS INTEGER))
) STRICT;

-- secret: secret-box ciphertext of the credential / token set.
-- refresh_version + refresh_lock_*: OAuth refresh single-flight (compare and
-- swap on refresh_version, lease in refresh_lock_until).
CREATE TABLE user_connections (
    id              TEXT PRIMARY KEY,
    user_id         TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    connector_id    TEXT NOT NULL REFERENCES connectors (id) ON DELETE CASCADE,
    label           TEXT NOT NULL DEFAULT '',
    status          TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'active', 'expired', 'revoked', 'error')),
    status_reason   TEXT,
    scopes          TEXT,
    expires_at      INTEGER,
    secret          BLOB,
    secret_key_id   TEXT,
    refresh_version INTEGER NOT NULL DEFAULT 0,
    refresh_lock_owner TEXT,
    refresh_lock_until INTEGER,
    last_refreshed_at  INTEGER,
    last_used_at    INTEGER,
    created_at      INTEGER NOT NULL DEFAULT (CAST(ROUND((julianday('now') - 2440587.5) * 86400000.0) AS INTEGER)),
    updated_at      INTEGER NOT NULL DEFAULT (CAST(ROUND((julianday('now') - 2440587.5) * 86400000.0) AS INTEGER))
) STRICT;
CREATE INDEX user_connections_user_created ON user_connections (user_id, created_at);
CREATE INDEX user_connections_connector ON user_connections (connector_id, status);
CREATE INDEX user_connections_expiry ON user_connections (status, expires_at);

CREATE TABLE oauth_transactions (
    id              TEXT PRIMARY KEY,
    user_id         TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    connector_id    TEXT NOT NULL REFERENCES connectors (id) ON DELETE CASCADE,
    connection_id   TEXT REFERENCES user_connections (id) ON DELETE SET NULL,
    label           TEXT,
    state_hash      TEXT NOT NULL UNIQUE,
    code_verifier   BLOB NOT NULL,
    secret_key_id   TEXT,
    redirect_uri    TEXT,
    scopes          TEXT,
    status          TEXT NOT NULL DEFAULT 'started' CHECK (status IN ('started', 'completed', 'failed')),
    error           TEXT,
    error_description TEXT,
    expires_at      INTEGER NOT NULL,
    completed_at    INTEGER,
    created_at      INTEGER NOT NULL DEFAULT (CAST(ROUND((julianday('now') - 2440587.5) * 86400000.0) AS INTEGER)),
    updated_at      INTEGER NOT NULL DEFAULT (CAST(ROUND((julianday('now') - 2440587.5) * 86400000.0) AS INTEGER))
) STRICT;
CREATE INDEX oauth_transactions_user_created ON oauth_transactions (user_id, created_at);
CREATE INDEX oauth_transactions_expires ON oauth_transactions (status, expires_at);

-- ---- runs -------------------------------------------------------------------

CREATE TABLE scheduler_jobs (
    id              TEXT PRIMARY KEY,
    user_id         TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name            TEXT NOT NULL,
    cron            TEXT NOT NULL,
    timezone        TEXT NOT NULL DEFAULT 'UTC',
    connector_id    TEXT REFERENCES connectors (id) ON DELETE CASCADE,
    connector       TEXT NOT NULL,
    tool            TEXT NOT NULL,
    connection_id   TEXT REFERENCES user_connections (id) ON DELETE SET NULL,
    arguments       TEXT NOT NULL DEFAULT '{}',
    enabled         INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
    overlap         TEXT NOT NULL DEFAULT 'skip' CHECK (overlap IN ('skip', 'allow')),
    misfire         TEXT NOT NULL DEFAULT 'run_once' CHECK (misfire IN ('run_once', 'skip')),
    max_failures    INTEGER NOT NULL DEFAULT 5,
    consecutive_failures INTEGER NOT NULL DEFAULT 0,
    next_run_at     INTEGER,
    last_run_at     INTEGER,
    last_job_id     TEXT,
    paused_reason   TEXT,
    created_at      INTEGER NOT NULL DEFAULT (CAST(ROUND((julianday('now') - 2440587.5) * 86400000.0) AS INTEGER)),
    updated_at      INTEGER NOT NULL DEFAULT (CAST(ROUND((julianday('now') - 2440587.5) * 86400000.0) AS INTEGER))
) STRICT;
CREATE INDEX scheduler_jobs_user_created ON scheduler_jobs (user_id, created_at);
CREATE INDEX scheduler_jobs_due ON scheduler_jobs (enabled, next_run_at);

-- The job queue. status moves only queued->running|canceled and
-- running->succeeded|failed|canceled (trigger below). A schedule's due time
-- makes at most one job (unique schedule_id + scheduled_for).
CREATE TABLE pipeline_jobs (
    id              TEXT PRIMARY KEY,
    user_id         TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    connector_id    TEXT REFERENCES connectors (id) ON DELETE SET NULL,
    connector       TEXT NOT NULL,
    tool            TEXT NOT NULL,
    connection_id   TEXT REFERENCES user_connections (id) ON DELETE SET NULL,
    status          TEXT NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'canceled')),
    arguments       TEXT NOT NULL DEFAULT '{}',
    result          TEXT,
    error           TEXT,
    progress        REAL,
    progress_total  REAL,
    progress_message TEXT,
    timeout_ms      INTEGER NOT NULL DEFAULT 60000,
    schedule_id     TEXT REFERENCES scheduler_jobs (id) ON DELETE SET NULL,
    scheduled_for   INTEGER,
    queued_at       INTEGER NOT NULL,
    started_at      INTEGER,
    finished_at     INTEGER,
    worker_id       TEXT,
    claimed_at      INTEGER,
    cancel_requested INTEGER NOT NULL DEFAULT 0 CHECK (cancel_requested IN (0, 1)),
    created_at      INTEGER NOT NULL DEFAULT (CAST(ROUND((julianday('now') - 2440587.5) * 86400000.0) AS INTEGER)),
    updated_at      INTEGER NOT NULL DEFAULT (CAST(ROUND((julianday('now') - 2440587.5) * 86400000.0) AS INTEGER))
) STRICT;
CREATE INDEX pipeline_jobs_queue ON pipeline_jobs (status, queued_at);
CREATE INDEX pipeline_jobs_user_created ON pipeline_jobs (user_id, created_at);
CREATE UNIQUE INDEX pipeline_jobs_schedule_due ON pipeline_jobs (schedule_id, scheduled_for);

CREATE TRIGGER pipeline_jobs_transition BEFORE UPDATE OF status ON pipeline_jobs
FOR EACH ROW WHEN NEW.status <> OLD.status AND NOT (
    (OLD.status = 'queued' AND NEW.status IN ('running', 'canceled')) OR
    (OLD.status = 'running' AND NEW.status IN ('succeeded', 'failed', 'canceled')))
BEGIN
    SELECT RAISE(ABORT, 'tc_conflict: illegal job status transition');
END;

CREATE TABLE pipeline_events (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    job_id          TEXT NOT NULL REFERENCES pipeline_jobs (id) ON DELETE CASCADE,
    user_id         TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    level           TEXT NOT NULL DEFAULT 'info' CHECK (level IN ('info', 'warn', 'error')),
    message         TEXT NOT NULL,
    data            TEXT,
    created_at      INTEGER NOT NULL DEFAULT (CAST(ROUND((julianday('now') - 2440587.5) * 86400000.0) AS INTEGER))
) STRICT;
CREATE INDEX pipeline_events_job ON pipeline_events (job_id, id);
CREATE INDEX pipeline_events_user_created ON pipeline_events (user_id, created_at);

CREATE TABLE action_logs (
    id              TEXT PRIMARY KEY,
    user_id         TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    job_id          TEXT REFERENCES pipeline_jobs (id) ON DELETE SET NULL,
    connector       TEXT NOT NULL,
    tool            TEXT NOT NULL,
    connection_id   TEXT,
    status          TEXT NOT NULL,
    latency_ms      INTEGER,
    arguments       TEXT,
    response        TEXT,
    error           TEXT,
    created_at      INTEGER NOT NULL DEFAULT (CAST(ROUND((julianday('now') - 2440587.5) * 86400000.0) AS INTEGER))
) STRICT;
CREATE INDEX action_logs_user_created ON action_logs (user_id, created_at);

-- ---- webhooks ---------------------------------------------------------------

CREATE TABLE webhooks (
    id              TEXT PRIMARY KEY,
    user_id         TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    url             TEXT NOT NULL,
    description     TEXT NOT NULL DEFAULT '',
    event_types     TEXT NOT NULL DEFAULT '[]',
    enabled         INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
    headers         TEXT,
    template        TEXT,
    secret          BLOB NOT NULL,
    secret_key_id   TEXT,
    previous_secret BLOB,
    previous_secret_key_id TEXT,
    previous_secret_expires_at INTEGER,
    disabled_reason TEXT,
    disabled_at     INTEGER,
    failing_since   INTEGER,
    created_at      INTEGER NOT NULL DEFAULT (CAST(ROUND((julianday('now') - 2440587.5) * 86400000.0) AS INTEGER)),
    updated_at      INTEGER NOT NULL DEFAULT (CAST(ROUND((julianday('now') - 2440587.5) * 86400000.0) AS INTEGER))
) STRICT;
CREATE INDEX webhooks_user_created ON webhooks (user_id, created_at);

CREATE TABLE webhook_deliveries (
    id              TEXT PRIMARY KEY,
    webhook_id      TEXT NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    user_id         TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    event_type      TEXT NOT NULL,
    event_id        TEXT NOT NULL,
    payload         TEXT NOT NULL,
    status          TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'succeeded', 'failed')),
    attempt_count   INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER,
    last_attempt_at INTEGER,
    last_status_code INTEGER,
    last_error      TEXT,
    claimed_by      TEXT,
    claimed_until   INTEGER,
    created_at      INTEGER NOT NULL DEFAULT (CAST(ROUND((julianday('now') - 2440587.5) * 86400000.0) AS INTEGER)),
    updated_at      INTEGER NOT NULL DEFAULT (CAST(ROUND((julianday('now') - 2440587.5) * 86400000.0) AS INTEGER))
) STRICT;
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (status, next_attempt_at);
CREATE INDEX webhook_deliveries_webhook_created ON webhook_deliveries (webhook_id, created_at);
CREATE INDEX webhook_deliveries_user_created ON webhook_deliveries (user_id, created_at);

CREATE TABLE webhook_attempts (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    delivery_id     TEXT NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
    user_id         TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    attempt         INTEGER NOT NULL,
    status_code     INTEGER,
    response_headers TEXT,
    response_body   TEXT,
    duration_ms     INTEGER,
    error           TEXT,
    created_at      INTEGER NOT NULL DEFAULT (CAST(ROUND((julianday('now') - 2440587.5) * 86400000.0) AS INTEGER))
) STRICT;
CREATE INDEX webhook_attempts_delivery ON webhook_attempts (delivery_id, id);

-- ---- notifications, health ----------------------------------------------------

-- quiet_start/quiet_end: minutes after local midnight in timezone; NULL = none.
CREATE TABLE notification_preferences (
    user_id         TEXT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    email_enabled   INTEGER NOT NULL DEFAULT 1 CHECK (email_enabled IN (0, 1)),
    alert_types     TEXT NOT NULL DEFAULT '[]',
    timezone        TEXT NOT NULL DEFAULT 'UTC',
    quiet_start     INTEGER CHECK (quiet_start BETWEEN 0 AND 1439),
    quiet_end       INTEGER CHECK (quiet_end BETWEEN 0 AND 1439),
    delivery        TEXT NOT NULL DEFAULT 'immediate' CHECK (delivery IN ('immediate', 'hourly_digest')),
    created_at      INTEGER NOT NULL DEFAULT (CAST(ROUND((julianday('now') - 2440587.5) * 86400000.0) AS INTEGER)),
    updated_at      INTEGER NOT NULL DEFAULT (CAST(ROUND((julianday('now') - 2440587.5) * 86400000.0) AS INTEGER))
) STRICT;

-- Queued emails. hold_until: quiet hours / digest; digest_key groups a digest.
CREATE TABLE notification_outbox (
    id              TEXT PRIMARY KEY,
    user_id         TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind            TEXT NOT NULL,
    to_address      TEXT NOT NULL,
    subject         TEXT NOT NULL,
    body_text       TEXT NOT NULL,
    body_html       TEXT,
    status          TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'failed')),
    digest_key      TEXT,
    hold_until      INTEGER,
    attempt_count   INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER,
    last_error      TEXT,
    sent_at         INTEGER,
    created_at      INTEGER NOT NULL DEFAULT (CAST(ROUND((julianday('now') - 2440587.5) * 86400000.0) AS INTEGER)),
    updated_at      INTEGER NOT NULL DEFAULT (CAST(ROUND((julianday('now') - 2440587.5) * 86400000.0) AS INTEGER))
) STRICT;
CREATE INDEX notification_outbox_due ON notification_outbox (status, next_attempt_at);
CREATE INDEX notification_outbox_user_created ON notification_outbox (user_id, created_at);

CREATE TABLE health_results (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    connector_id    TEXT NOT NULL REFERENCES connectors (id) ON DELETE CASCADE,
    status          TEXT NOT NULL CHECK (status IN ('healthy', 'degraded', 'down')),
    latency_ms      INTEGER,
    error           TEXT,
    checked_at      INTEGER NOT NULL
) STRICT;
CREATE INDEX health_results_connector_checked ON health_results (connector_id, checked_at);
CREATE INDEX health_results_checked ON health_results (checked_at);

CREATE TABLE alert_cooldowns (
    connector_id    TEXT PRIMARY KEY REFERENCES connectors (id) ON DELETE CASCADE,
    last_status     TEXT,
    last_alert_at   INTEGER NOT NULL
) STRICT;

-- ---- cross-instance state ----------------------------------------------------

-- Rate limit counters per (bucket, fixed window start ms); a sliding window
-- is estimated from the current and previous window.
CREATE TABLE rate_limit_windows (
    bucket          TEXT NOT NULL,
    window_start    INTEGER NOT NULL,
    hits            INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (bucket, window_start)
) STRICT;

-- Bounded replay log for SSE Last-Event-ID: id is monotonic, never reused.
CREATE TABLE stream_events (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id         TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind            TEXT NOT NULL,
    payload         TEXT NOT NULL,
    created_at      INTEGER NOT NULL DEFAULT (CAST(ROUND((julianday('now') - 2440587.5) * 86400000.0) AS INTEGER))
) STRICT;
CREATE INDEX stream_events_user_id ON stream_events (user_id, id);
CREATE INDEX stream_events_created ON stream_events (created_at);

-- Single-use EventSource tickets (stored hashed).
CREATE TABLE stream_tickets (
    ticket_hash     TEXT PRIMARY KEY,
    user_id         TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    expires_at      INTEGER NOT NULL,
    used_at         INTEGER,
    created_at      INTEGER NOT NULL DEFAULT (CAST(ROUND((julianday('now') - 2440587.5) * 86400000.0) AS INTEGER))
) STRICT;

-- ---- updated_at maintenance ---------------------------------------------------
-- After an UPDATE that left updated_at unchanged, stamp it with now. (A
-- RETURNING clause sees the value from before this AFTER trigger.)
CREATE TRIGGER users_touch AFTER UPDATE ON users FOR EACH ROW WHEN NEW.updated_at = OLD.updated_at
BEGIN UPDATE users SET updated_at = CAST(ROUND((julianday('now') - 2440587.5) * 86400000.0) AS INTEGER) WHERE id = NEW.id; END;
CREATE TRIGGER sessions_touch AFTER UPDATE ON sessions FOR EACH ROW WHEN NEW.updated_at = OLD.updated_at
BEGIN UPDATE sessions SET updated_at = CAST(ROUND((julianday('now') - 2440587.5) * 86400000.0) AS INTEGER) WHERE id = NEW.id; END;
CREATE TRIGGER api_keys_touch AFTER UPDATE ON api_keys FOR EACH ROW WHEN NEW.updated_at = OLD.updated_at
BEGIN UPDATE api_keys SET updated_at = CAST(ROUND((julianday('now') - 2440587.5) * 86400000.0) AS INTEGER) WHERE id = NEW.id; END;
CREATE TRIGGER secret_keys_touch AFTER UPDATE ON secret_keys FOR EACH ROW WHEN NEW.updated_at = OLD.updated_at
BEGIN UPDATE secret_keys SET updated_at = CAST(ROUND((julianday('now') - 2440587.5) * 86400000.0) AS INTEGER) WHERE id = NEW.id; END;
CREATE TRIGGER settings_touch AFTER UPDATE ON settings FOR EACH ROW WHEN NEW.updated_at = OLD.updated_at
BEGIN UPDATE settings SET updated_at = CAST(ROUND((julianday('now') - 2440587.5) * 86400000.0) AS INTEGER) WHERE key = NEW.key; END;
CREATE TRIGGER connectors_touch AFTER UPDATE ON connectors FOR EACH ROW WHEN NEW.updated_at = OLD.updated_at
BEGIN UPDATE connectors SET updated_at = CAST(ROUND((julianday('now') - 2440587.5) * 86400000.0) AS INTEGER) WHERE id = NEW.id; END;
CREATE TRIGGER connector_tools_touch AFTER UPDATE ON connector_tools FOR EACH ROW WHEN NEW.updated_at = OLD.updated_at
BEGIN UPDATE connector_tools SET updated_at = CAST(ROUND((julianday('now') - 2440587.5) * 86400000.0) AS INTEGER) WHERE id = NEW.id; END;
CREATE TRIGGER oauth_clients_touch AFTER UPDATE ON oauth_clients FOR EACH ROW WHEN NEW.updated_at = OLD.updated_at
BEGIN UPDATE oauth_clients SET updated_at = CAST(ROUND((julianday('now') - 2440587.5) * 86400000.0) AS INTEGER) WHERE id = NEW.id; END;
CREATE TRIGGER user_connections_touch AFTER UPDATE ON user_connections FOR EACH ROW WHEN NEW.updated_at = OLD.updated_at
BEGIN UPDATE user_connections SET updated_at = CAST(ROUND((julianday('now') - 2440587.5) * 86400000.0) AS INTEGER) WHERE id = NEW.id; END;
CREATE TRIGGER oauth_transactions_touch AFTER UPDATE ON oauth_transactions FOR EACH ROW WHEN NEW.updated_at = OLD.updated_at
BEGIN UPDATE oauth_transactions SET updated_at = CAST(ROUND((julianday('now') - 2440587.5) * 86400000.0) AS INTEGER) WHERE id = NEW.id; END;
CREATE TRIGGER scheduler_jobs_touch AFTER UPDATE ON scheduler_jobs FOR EACH ROW WHEN NEW.updated_at = OLD.updated_at
BEGIN UPDATE scheduler_jobs SET updated_at = CAST(ROUND((julianday('now') - 2440587.5) * 86400000.0) AS INTEGER) WHERE id = NEW.id; END;
CREATE TRIGGER pipeline_jobs_touch AFTER UPDATE ON pipeline_jobs FOR EACH ROW WHEN NEW.updated_at = OLD.updated_at
BEGIN UPDATE pipeline_jobs SET updated_at = CAST(ROUND((julianday('now') - 2440587.5) * 86400000.0) AS INTEGER) WHERE id = NEW.id; END;
CREATE TRIGGER webhooks_touch AFTER UPDATE ON webhooks FOR EACH ROW WHEN NEW.updated_at = OLD.updated_at
BEGIN UPDATE webhooks SET updated_at = CAST(ROUND((julianday('now') - 2440587.5) * 86400000.0) AS INTEGER) WHERE id = NEW.id; END;
CREATE TRIGGER webhook_deliveries_touch AFTER UPDATE ON webhook_deliveries FOR EACH ROW WHEN NEW.updated_at = OLD.updated_at
BEGIN UPDATE webhook_deliveries SET updated_at = CAST(ROUND((julianday('now') - 2440587.5) * 86400000.0) AS INTEGER) WHERE id = NEW.id; END;
CREATE TRIGGER notification_preferences_touch AFTER UPDATE ON notification_preferences FOR EACH ROW WHEN NEW.updated_at = OLD.updated_at
BEGIN UPDATE notification_preferences SET updated_at = CAST(ROUND((julianday('now') - 2440587.5) * 86400000.0) AS INTEGER) WHERE user_id = NEW.user_id; END;
CREATE TRIGGER notification_outbox_touch AFTER UPDATE ON notification_outbox FOR EACH ROW WHEN NEW.updated_at = OLD.updated_at
BEGIN UPDATE notification_outbox SET updated_at = CAST(ROUND((julianday('now') - 2440587.5) * 86400000.0) AS INTEGER) WHERE id = NEW.id; END;
