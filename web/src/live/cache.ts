import type { QueryClient } from '@tanstack/react-query';
import type { Connection, HealthRow, Job, JobEvent, JobFilters, Page } from '../api/types';

// Query keys shared by pages and the live updater.
export const qk = {
  me: ['me'] as const,
  connectors: (f: object) => ['connectors', f] as const,
  connector: (slug: string) => ['connector', slug] as const,
  categories: ['categories'] as const,
  connections: ['connections'] as const,
  connection: (id: string) => ['connection', id] as const,
  jobs: (f: JobFilters) => ['jobs', f] as const,
  job: (id: string) => ['job', id] as const,
  schedules: ['schedules'] as const,
  scheduleRuns: (id: string) => ['schedule', id, 'runs'] as const,
  webhooks: ['webhooks'] as const,
  deliveries: (id: string, status?: string) => ['webhook', id, 'deliveries', status ?? ''] as const,
  eventTypes: ['webhook-event-types'] as const,
  health: ['health'] as const,
  sessions: ['sessions'] as const,
  apiKeys: ['api-keys'] as const,
  notificationPreferences: ['notification-preferences'] as const,
};

export type LiveEventType = 'job' | 'connection' | 'event' | 'health' | 'refetch';

function matchesFilters(job: Job, f: JobFilters | undefined): boolean {
  if (!f) return true;
  if (f.status && f.status !== job.status) return false;
  if (f.connector && f.connector !== job.connector) return false;
  if (f.tool && f.tool !== job.tool) return false;
  if (f.cursor) return false; // later pages: a new job belongs on the first page
  const t = job.queued_at ? Date.parse(job.queued_at) : NaN;
  if (f.since && t < Date.parse(f.since)) return false;
  if (f.until && t > Date.parse(f.until)) return false;
  return true;
}

function upsertInPage<X extends { id: string }>(page: Page<X> | undefined, row: X, insert: boolean, cmp?: (a: X) => boolean): Page<X> | undefined {
  if (!page || !Array.isArray(page.items)) return page;
  const i = page.items.findIndex((x) => x.id === row.id);
  if (i >= 0) {
    if (cmp && !cmp(row)) {
      // The row no longer matches this list's filters: drop it.
      return { ...page, items: page.items.filter((x) => x.id !== row.id) };
    }
    const items = page.items.slice();
    items[i] = { ...items[i], ...row };
    return { ...page, items };
  }
  if (!insert) return page;
  return { ...page, items: [row, ...page.items] };
}

function applyJob(qc: QueryClient, job: Job): void {
  qc.setQueryData<Job>(qk.job(job.id), (old) => (old ? { ...old, ...job, events: job.events ?? old.events } : old));
  for (const [key] of qc.getQueriesData<Page<Job>>({ queryKey: ['jobs'] })) {
    const filters = key[1] as JobFilters | undefined;
    qc.setQueryData<Page<Job>>(key, (old) => upsertInPage(old, job, matchesFilters(job, filters), (j) => matchesFilters(j, filters)));
  }
  if (job.schedule_id) void qc.invalidateQueries({ queryKey: ['schedule', job.schedule_id, 'runs'] });
}

function applyEvent(qc: QueryClient, ev: JobEvent): void {
  qc.setQueryData<Job>(qk.job(ev.job_id), (old) => {
    if (!old) return old;
    const events = old.events ?? [];
    if (events.some((e) => String(e.id) === String(ev.id))) return old;
    return { ...old, events: [...events, ev] };
  });
}

function applyConnection(qc: QueryClient, conn: Connection): void {
  qc.setQueryData<Connection>(qk.connection(conn.id), (old) => (old ? { ...old, ...conn } : old));
  const list = qc.getQueryData<Page<Connection>>(qk.connections);
  if (list && !list.items.some((c) => c.id === conn.id)) {
    void qc.invalidateQueries({ queryKey: qk.connections });
    return;
  }
  qc.setQueryData<Page<Connection>>(qk.connections, (old) => upsertInPage(old, conn, false));
}

function applyHealth(qc: QueryClient, row: HealthRow): void {
  qc.setQueryData<Page<HealthRow> | HealthRow[]>(qk.health, (old) => {
    if (!old) return old;
    const items = Array.isArray(old) ? old : old.items;
    const i = items.findIndex((h) => h.connector === row.connector);
    const next = i >= 0 ? items.map((h, j) => (j === i ? { ...h, ...row } : h)) : [...items, row];
    return Array.isArray(old) ? next : { ...old, items: next };
  });
  void qc.invalidateQueries({ queryKey: ['health-history', row.connector] });
}

/**
 * Applies one message of the SSE stream to the query cache. `data` is the
 * changed row (parsed JSON). A `refetch` hint (sent by the server when it
 * cannot replay what a client missed) invalidates the named resource, or
 * everything when none is named.
 */
export function applyLiveEvent(qc: QueryClient, type: string, data: unknown): void {
  if (type === 'refetch') {
    const resource = (data as { resource?: string } | null)?.resource;
    void qc.invalidateQueries(resource ? { queryKey: [resource] } : undefined);
    return;
  }
  if (!data || typeof data !== 'object') return;
  switch (type) {
    case 'job':
      applyJob(qc, data as Job);
      break;
    case 'event':
      applyEvent(qc, data as JobEvent);
      break;
    case 'connection':
      applyConnection(qc, data as Connection);
      break;
    case 'health':
      applyHealth(qc, data as HealthRow);
      break;
    default:
      break;
  }
}
