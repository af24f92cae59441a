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

const RANK: Record<string, number> = { queued: 0, running: 1, succeeded: 2, failed: 2, canceled: 2 };

function mergeEvents(a: JobEvent[] | undefined, b: JobEvent[] | undefined): JobEvent[] | undefined {
  if (!a) return b;
  if (!b) return a;
  const seen = new Set(a.map((e) => String(e.id)));
  const extra = b.filter((e) => !seen.has(String(e.id)));
  if (extra.length === 0) return a;
  const num = (e: JobEvent) => (typeof e.id === 'number' ? e.id : Number(e.id));
  const all = [...a, ...extra];
  return all.every((e) => Number.isFinite(num(e))) ? all.sort((x, y) => num(x) - num(y)) : all;
}

/**
 * Two views of one job, from the stream and from fetches, in any order: a
 * job never moves back (queued < running < finished), so the further one
 * wins, and the events are the union of both (by id).
 */
export function mergeJob(old: Job | undefined, next: Job): Job {
  if (!old) return next;
  const events = mergeEvents(old.events, next.events);
  const newer = (RANK[next.status] ?? 0) >= (RANK[old.status] ?? 0) ? { ...old, ...next } : { ...next, ...old };
  return events ? { ...newer, events } : newer;
}

/**
 * A fetch that started before this change may answer with the older state
 * (or, with no data yet, the change had nowhere to go): fetch again.
 */
const waiting = new WeakSet<object>();

/**
 * Invalidates `key` so that the data shown is read after now. Plain
 * invalidateQueries is not enough while a first fetch is in flight: TanStack
 * does not cancel it for a new one, so its answer (possibly read before the
 * change) would be the last word. Use after a mutation that changed `key`.
 */
export function invalidateFresh(qc: QueryClient, key: readonly unknown[]): void {
  const query = qc.getQueryCache().find({ queryKey: key, exact: true });
  if (query && query.state.fetchStatus === 'fetching') refetchIfInFlight(qc, key);
  else void qc.invalidateQueries({ queryKey: key });
}

function refetchIfInFlight(qc: QueryClient, key: readonly unknown[]): void {
  const query = qc.getQueryCache().find({ queryKey: key, exact: true });
  if (!query || query.state.fetchStatus !== 'fetching') return;
  if (query.state.data !== undefined) {
    // Cancels the running fetch and starts a new one.
    void qc.invalidateQueries({ queryKey: key, exact: true });
    return;
  }
  // A first fetch is never cancelled for a new one (TanStack dedupes it):
  // fetch again once it settles.
  if (waiting.has(query)) return;
  waiting.add(query);
  const unsubscribe = qc.getQueryCache().subscribe((e) => {
    if (e.query !== query || (e.type !== 'removed' && query.state.fetchStatus !== 'idle')) return;
    unsubscribe();
    waiting.delete(query);
    if (e.type !== 'removed') void qc.invalidateQueries({ queryKey: key, exact: true });
  });
}

function applyJob(qc: QueryClient, job: Job): void {
  refetchIfInFlight(qc, qk.job(job.id));
  qc.setQueryData<Job>(qk.job(job.id), (old) => (old ? mergeJob(old, { ...job, events: job.events ?? old.events }) : old));
  for (const [key] of qc.getQueriesData<Page<Job>>({ queryKey: ['jobs'] })) {
    const filters = key[1] as JobFilters | undefined;
    refetchIfInFlight(qc, key);
    qc.setQueryData<Page<Job>>(key, (old) => {
      const cur = old?.items?.find((j) => j.id === job.id);
      const row = cur ? mergeJob(cur, job) : job;
      return upsertInPage(old, row, matchesFilters(row, filters), (j) => matchesFilters(j, filters));
    });
  }
  if (job.schedule_id) void qc.invalidateQueries({ queryKey: ['schedule', job.schedule_id, 'runs'] });
}

function applyEvent(qc: QueryClient, ev: JobEvent): void {
  refetchIfInFlight(qc, qk.job(ev.job_id));
  qc.setQueryData<Job>(qk.job(ev.job_id), (old) => {
    if (!old) return old;
    const events = old.events ?? [];
    if (events.some((e) => String(e.id) === String(ev.id))) return old;
    return { ...old, events: [...events, ev] };
  });
}

function applyConnection(qc: QueryClient, conn: Connection): void {
  refetchIfInFlight(qc, qk.connections);
  refetchIfInFlight(qc, qk.connection(conn.id));
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

function refetchTruncated(qc: QueryClient, type: string, id: string): void {
  switch (type) {
    case 'job':
      void qc.invalidateQueries({ queryKey: qk.job(id) });
      void qc.invalidateQueries({ queryKey: ['jobs'] });
      break;
    case 'event':
      void qc.invalidateQueries({ queryKey: ['job'] });
      break;
    case 'connection':
      void qc.invalidateQueries({ queryKey: qk.connections });
      void qc.invalidateQueries({ queryKey: qk.connection(id) });
      break;
    case 'health':
      void qc.invalidateQueries({ queryKey: qk.health });
      break;
    default:
      break;
  }
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
  if ((data as { truncated?: boolean }).truncated) {
    // The row was too large for the stream: only its id came; fetch it.
    refetchTruncated(qc, type, String((data as { id?: unknown }).id ?? ''));
    return;
  }
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
