// Shapes from shared/API.md. Fields the contract leaves to the server are
// optional here so the UI copes when they are missing.

export interface Page<T> {
  items: T[];
  next_cursor: string | null;
}

export interface ErrorDetail {
  path: string;
  keyword: string;
  message: string;
}

export interface ErrorBody {
  error: { code: string; message: string; field?: string; details?: ErrorDetail[] };
  details?: ErrorDetail[];
}

export interface User {
  id: string;
  email: string;
  created_at: string;
  is_admin: boolean;
}

export interface AuthResponse {
  user: User;
  access_token: string;
  refresh_token: string;
  expires_in: number;
}

export interface Session {
  id: string;
  created_at?: string;
  last_used_at?: string | null;
  expires_at?: string | null;
  user_agent?: string | null;
  ip?: string | null;
  current?: boolean;
}

export interface ApiKey {
  id: string;
  name: string;
  prefix: string;
  created_at?: string;
  last_used_at?: string | null;
}

export interface NewApiKey extends ApiKey {
  key: string;
}

export type AuthType = 'none' | 'api_key' | 'basic' | 'bearer' | 'oauth2' | string;

export interface Connector {
  slug: string;
  name: string;
  description: string;
  category: string;
  auth_type: AuthType;
  icon?: string | null;
  tool_count: number;
  source: string;
}

export interface JsonSchema {
  type?: string | string[];
  title?: string;
  description?: string;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  enum?: unknown[];
  const?: unknown;
  default?: unknown;
  format?: string;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  maxItems?: number;
  pattern?: string;
  oneOf?: JsonSchema[];
  anyOf?: JsonSchema[];
  [key: string]: unknown;
}

export interface Tool {
  name: string;
  description: string;
  input_schema: JsonSchema;
  source?: string;
}

export interface ConnectorDetail extends Connector {
  tools: Tool[];
}

export interface Category {
  slug?: string;
  name: string;
  count?: number;
}

export type ConnectionStatus = 'pending' | 'active' | 'expired' | 'revoked' | 'error';

export interface Connection {
  id: string;
  connector: string;
  label: string;
  status: ConnectionStatus;
  status_reason: string | null;
  /** Granted OAuth scopes: the server sends them space-separated (older shapes: an array). */
  scopes: string | string[] | null;
  expires_at: string | null;
  created_at: string;
  last_used_at: string | null;
}

export interface Credentials {
  api_key?: string;
  username?: string;
  password?: string;
  token?: string;
}

export type JobStatus = 'queued' | 'running' | 'succeeded' | 'failed' | 'canceled';

export interface JobEvent {
  id: string | number;
  job_id: string;
  level: 'info' | 'warn' | 'error';
  message: string;
  data: unknown;
  created_at: string;
}

export interface Job {
  id: string;
  connector: string;
  tool: string;
  connection_id: string | null;
  status: JobStatus;
  arguments: unknown;
  result: unknown;
  error: unknown;
  queued_at: string;
  started_at: string | null;
  finished_at: string | null;
  schedule_id: string | null;
  events?: JobEvent[];
}

export interface JobFilters {
  status?: string;
  connector?: string;
  tool?: string;
  since?: string;
  until?: string;
  limit?: number;
  cursor?: string;
}

export interface ActionLog {
  id: string;
  connector: string;
  tool: string;
  job_id?: string;
  status?: string;
  created_at: string;
  [key: string]: unknown;
}

export interface StreamTicket {
  ticket: string;
  expires_in: number;
}

export interface Webhook {
  id: string;
  url: string;
  description: string;
  event_types: string[];
  template?: string | null;
  headers?: Record<string, string> | null;
  enabled: boolean;
  /** Why the server turned it off (failing too long), when it did. */
  disabled_reason?: string | null;
  disabled_at?: string | null;
  /** Deliveries have been failing since then. */
  failing_since?: string | null;
  /** After a rotation the old secret still signs until then. */
  previous_secret_expires_at?: string | null;
  created_at?: string;
  updated_at?: string;
  secret?: string;
}

export interface WebhookInput {
  url: string;
  description: string;
  event_types: string[];
  template?: string | null;
  headers?: Record<string, string>;
  enabled: boolean;
}

export interface DeliveryAttempt {
  attempt: number;
  status_code: number | null;
  response_headers?: string | null;
  response_body?: string | null;
  duration_ms: number | null;
  error: string | null;
  created_at: string;
}

export type DeliveryStatus = 'pending' | 'succeeded' | 'failed';

export interface WebhookDelivery {
  id: string;
  webhook_id: string;
  event_type: string;
  webhook_message_id?: string;
  status: DeliveryStatus;
  attempt_count?: number;
  next_attempt_at?: string | null;
  last_attempt_at?: string | null;
  last_status_code?: number | null;
  last_error?: string | null;
  /** Newest first, at most 50. */
  attempts: DeliveryAttempt[];
  payload?: unknown;
  created_at: string;
  updated_at?: string;
}

export interface WebhookEventType {
  name: string;
  description?: string;
}

/** What the server accepts (docs/scheduler.md); anything else is a 422. */
export const OVERLAPS = ['skip', 'allow'] as const;
export const MISFIRES = ['run_once', 'skip'] as const;
export type Overlap = (typeof OVERLAPS)[number];
export type Misfire = (typeof MISFIRES)[number];

export interface Schedule {
  id: string;
  name: string;
  cron: string;
  timezone: string;
  connector: string;
  tool: string;
  connection_id: string;
  arguments: Record<string, unknown>;
  enabled: boolean;
  overlap: Overlap;
  misfire: Misfire;
  /** Consecutive failed runs before the schedule pauses itself (0 = never). */
  max_failures: number;
  consecutive_failures?: number;
  next_run_at?: string | null;
  last_run_at?: string | null;
  last_job_id?: string | null;
  /** Set when the schedule paused itself. */
  paused_reason?: string | null;
  created_at?: string;
  updated_at?: string;
}

export const SCHEDULE_INPUT_FIELDS = ['name', 'cron', 'timezone', 'connector', 'tool', 'connection_id', 'arguments', 'enabled', 'overlap', 'misfire', 'max_failures'] as const;
export type ScheduleInput = Pick<Schedule, (typeof SCHEDULE_INPUT_FIELDS)[number]>;

export interface CronRun {
  utc: string;
  local: string;
}

export interface CronPreview {
  next: CronRun[];
}

export type HealthStatus = 'healthy' | 'degraded' | 'down';

/** GET /api/health rows and `health` stream rows (those add previous_status). */
export interface HealthRow {
  connector: string;
  name?: string;
  status: HealthStatus | string;
  previous_status?: string | null;
  latency_ms?: number | null;
  error?: string | null;
  checked_at: string;
}

/** GET/PUT /api/notification-preferences (docs/notifications.md). */
export interface NotificationPreferences {
  email_enabled: boolean;
  /** Empty = every type. */
  alert_types: string[];
  timezone: string;
  /** Minutes after local midnight, both set or both null. */
  quiet_start: number | null;
  quiet_end: number | null;
  delivery: 'immediate' | 'hourly_digest';
  /** Read-only. */
  available_alert_types?: string[];
  updated_at?: string | null;
}
