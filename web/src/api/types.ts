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
  scopes: string[] | null;
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
  created_at?: string;
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
  id?: string | number;
  attempt?: number;
  status_code?: number | null;
  response_status?: number | null;
  error?: string | null;
  duration_ms?: number | null;
  created_at?: string;
  attempted_at?: string;
}

export interface WebhookDelivery {
  id: string;
  webhook_id: string;
  event_type: string;
  status: string;
  attempts: DeliveryAttempt[];
  created_at: string;
  next_attempt_at?: string | null;
  payload?: unknown;
}

export interface WebhookEventType {
  name: string;
  description?: string;
}

export type Overlap = 'skip' | 'allow' | 'queue' | string;
export type Misfire = 'skip' | 'run_once' | 'run_all' | string;

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
  next_run_at?: string | null;
  last_run_at?: string | null;
  created_at?: string;
}

export type ScheduleInput = Omit<Schedule, 'id' | 'next_run_at' | 'last_run_at' | 'created_at'>;

export interface CronRun {
  utc: string;
  local: string;
}

export interface CronPreview {
  next: CronRun[];
}

export interface HealthRow {
  connector: string;
  status: string;
  latency_ms?: number | null;
  checked_at: string;
  message?: string | null;
  [key: string]: unknown;
}

export interface NotificationPreferences {
  [key: string]: unknown;
}
