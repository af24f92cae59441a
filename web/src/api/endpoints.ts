// One typed function per endpoint in shared/API.md.
import { ApiClient } from './client';
import type * as T from './types';

const enc = encodeURIComponent;
type ListQuery = { limit?: number; cursor?: string };

export function createApi(c: ApiClient) {
  const get = <R>(p: string, query?: Record<string, string | number | boolean | undefined | null>) => c.request<R>('GET', p, { query });
  const post = <R>(p: string, body?: unknown, query?: Record<string, string | number | undefined>) => c.request<R>('POST', p, { body, query });
  const del = (p: string) => c.request<void>('DELETE', p);

  return {
    // Operations
    healthz: () => c.request<{ status: string }>('GET', '/healthz', { auth: false }),
    readyz: () => c.request<unknown>('GET', '/readyz', { auth: false }),

    // Accounts
    signup: (email: string, password: string) => c.request<T.AuthResponse>('POST', '/api/auth/signup', { body: { email, password }, auth: false }),
    login: (email: string, password: string) => c.request<T.AuthResponse>('POST', '/api/auth/login', { body: { email, password }, auth: false }),
    refresh: (refresh_token: string) => c.request<T.AuthResponse>('POST', '/api/auth/refresh', { body: { refresh_token }, auth: false }),
    logout: () => c.request<void>('POST', '/api/auth/logout', { body: { refresh_token: c.tokens.refreshToken ?? undefined } }),
    me: () => get<T.User>('/api/me'),
    changePassword: (current_password: string, new_password: string) => post<void>('/api/me/password', { current_password, new_password }),
    deleteAccount: () => del('/api/me'),
    sessions: (q: ListQuery = {}) => get<T.Page<T.Session>>('/api/sessions', q),
    revokeSession: (id: string) => del(`/api/sessions/${enc(id)}`),
    createApiKey: (name: string) => post<T.NewApiKey>('/api/api-keys', { name }),
    apiKeys: (q: ListQuery = {}) => get<T.Page<T.ApiKey>>('/api/api-keys', q),
    deleteApiKey: (id: string) => del(`/api/api-keys/${enc(id)}`),

    // Catalog
    connectors: (q: { category?: string; auth_type?: string; q?: string } & ListQuery = {}) => get<T.Page<T.Connector>>('/api/connectors', q),
    connector: (slug: string) => get<T.ConnectorDetail>(`/api/connectors/${enc(slug)}`),
    categories: () => get<T.Page<T.Category | string> | (T.Category | string)[]>('/api/categories'),
    createConnector: (body: Record<string, unknown>) => post<T.ConnectorDetail>('/api/connectors', body),
    deleteConnector: (slug: string) => del(`/api/connectors/${enc(slug)}`),
    discover: (slug: string) => post<T.ConnectorDetail>(`/api/connectors/${enc(slug)}/discover`),

    // Connections
    createConnection: (connector: string, label: string, credentials: T.Credentials) => post<T.Connection>('/api/connections', { connector, label, credentials }),
    connections: (q: ListQuery = {}) => get<T.Page<T.Connection>>('/api/connections', q),
    connection: (id: string) => get<T.Connection>(`/api/connections/${enc(id)}`),
    testConnection: (id: string) => post<T.Connection & { test?: { ok: boolean; verified?: boolean; message?: string } }>(`/api/connections/${enc(id)}/test`),
    deleteConnection: (id: string) => del(`/api/connections/${enc(id)}`),

    // OAuth
    oauthStart: (connector: string, opts: { scopes?: string[]; label?: string } = {}) =>
      post<{ authorization_url: string; transaction_id: string }>('/api/oauth/start', { connector, ...opts }),

    // Running tools
    execute: (slug: string, tool: string, connection_id: string, args: unknown, async = true) =>
      post<{ job: T.Job; result?: unknown }>(`/api/connectors/${enc(slug)}/tools/${enc(tool)}/execute`, { connection_id, arguments: args }, async ? { async: 1 } : undefined),
    jobs: (q: T.JobFilters = {}) => get<T.Page<T.Job>>('/api/jobs', { ...q }),
    job: (id: string) => get<T.Job>(`/api/jobs/${enc(id)}`),
    cancelJob: (id: string) => post<T.Job>(`/api/jobs/${enc(id)}/cancel`),
    actionLogs: (q: { connector?: string; tool?: string; since?: string; until?: string } & ListQuery = {}) => get<T.Page<T.ActionLog>>('/api/action-logs', q),

    // Live updates
    streamTicket: () => post<T.StreamTicket>('/api/stream/ticket'),

    // Webhooks
    createWebhook: (body: T.WebhookInput) => post<T.Webhook & { secret: string }>('/api/webhooks', body),
    webhooks: (q: ListQuery = {}) => get<T.Page<T.Webhook>>('/api/webhooks', q),
    webhook: (id: string) => get<T.Webhook>(`/api/webhooks/${enc(id)}`),
    updateWebhook: (id: string, body: Partial<T.WebhookInput>) => c.request<T.Webhook>('PATCH', `/api/webhooks/${enc(id)}`, { body }),
    deleteWebhook: (id: string) => del(`/api/webhooks/${enc(id)}`),
    testWebhook: (id: string) => post<unknown>(`/api/webhooks/${enc(id)}/test`),
    rotateWebhookSecret: (id: string) => post<T.Webhook & { secret: string }>(`/api/webhooks/${enc(id)}/rotate-secret`),
    deliveries: (id: string, q: { status?: string } & ListQuery = {}) => get<T.Page<T.WebhookDelivery>>(`/api/webhooks/${enc(id)}/deliveries`, q),
    retryDelivery: (id: string) => post<T.WebhookDelivery>(`/api/webhook-deliveries/${enc(id)}/retry`),
    webhookEventTypes: () => get<T.Page<T.WebhookEventType | string> | (T.WebhookEventType | string)[]>('/api/webhook-event-types'),

    // Scheduler
    createSchedule: (body: T.ScheduleInput) => post<T.Schedule>('/api/schedules', body),
    schedules: (q: ListQuery = {}) => get<T.Page<T.Schedule>>('/api/schedules', q),
    schedule: (id: string) => get<T.Schedule>(`/api/schedules/${enc(id)}`),
    updateSchedule: (id: string, body: Partial<T.ScheduleInput>) => c.request<T.Schedule>('PATCH', `/api/schedules/${enc(id)}`, { body }),
    deleteSchedule: (id: string) => del(`/api/schedules/${enc(id)}`),
    schedulePreview: (id: string, n = 10) => get<T.CronPreview>(`/api/schedules/${enc(id)}/preview`, { n }),
    runSchedule: (id: string) => post<{ job?: T.Job } | T.Job>(`/api/schedules/${enc(id)}/run`),
    pauseSchedule: (id: string) => post<T.Schedule>(`/api/schedules/${enc(id)}/pause`),
    resumeSchedule: (id: string) => post<T.Schedule>(`/api/schedules/${enc(id)}/resume`),
    scheduleRuns: (id: string, q: ListQuery = {}) => get<T.Page<T.Job>>(`/api/schedules/${enc(id)}/runs`, q),
    cronPreview: (cron: string, timezone: string, n = 5, from?: string) => post<T.CronPreview>('/api/cron/preview', { cron, timezone, n, from }),

    // Health and notifications
    health: () => get<T.Page<T.HealthRow> | T.HealthRow[]>('/api/health'),
    healthHistory: (slug: string, q: ListQuery = {}) => get<T.Page<T.HealthRow>>(`/api/health/${enc(slug)}/history`, q),
    checkHealth: () => post<unknown>('/api/health/check'),
    notificationPreferences: () => get<T.NotificationPreferences>('/api/notification-preferences'),
    saveNotificationPreferences: (body: T.NotificationPreferences) => c.request<T.NotificationPreferences>('PUT', '/api/notification-preferences', { body }),
  };
}

export type Api = ReturnType<typeof createApi>;

/** Lists answer {items,next_cursor}; a few small ones may be bare arrays. */
export function itemsOf<X>(v: { items: X[] } | X[] | undefined | null): X[] {
  if (!v) return [];
  return Array.isArray(v) ? v : v.items ?? [];
}
