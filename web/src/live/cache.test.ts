import { describe, expect, it, vi } from 'vitest';
import { QueryClient, QueryObserver } from '@tanstack/react-query';
import type { Connection, Job, Page } from '../api/types';
import { applyLiveEvent, invalidateFresh, mergeJob, qk } from './cache';
import { LiveStream, type EventSourceLike } from './stream';

const job = (over: Partial<Job> = {}): Job => ({
  id: 'j1', connector: 'github', tool: 'create_issue', connection_id: 'c1', status: 'queued', arguments: {}, result: null, error: null,
  queued_at: '2026-01-01T10:00:00Z', started_at: null, finished_at: null, schedule_id: null, ...over,
});

describe('applyLiveEvent', () => {
  it('updates a job everywhere it is cached', () => {
    const qc = new QueryClient();
    qc.setQueryData(qk.job('j1'), { ...job(), events: [{ id: 1, job_id: 'j1', level: 'info', message: 'queued', data: null, created_at: '' }] });
    qc.setQueryData<Page<Job>>(qk.jobs({}), { items: [job(), job({ id: 'j0' })], next_cursor: null });
    applyLiveEvent(qc, 'job', job({ status: 'succeeded', result: { n: 1 } }));
    const d = qc.getQueryData<Job>(qk.job('j1'))!;
    expect(d.status).toBe('succeeded');
    expect(d.result).toEqual({ n: 1 });
    expect(d.events?.length).toBe(1); // events kept
    expect(qc.getQueryData<Page<Job>>(qk.jobs({}))!.items.map((j) => j.status)).toEqual(['succeeded', 'queued']);
  });

  it('inserts new jobs only into lists whose filters they match', () => {
    const qc = new QueryClient();
    qc.setQueryData<Page<Job>>(qk.jobs({}), { items: [], next_cursor: null });
    qc.setQueryData<Page<Job>>(qk.jobs({ status: 'failed' }), { items: [], next_cursor: null });
    qc.setQueryData<Page<Job>>(qk.jobs({ connector: 'slack' }), { items: [], next_cursor: null });
    qc.setQueryData<Page<Job>>(qk.jobs({ cursor: 'page2' }), { items: [], next_cursor: null });
    applyLiveEvent(qc, 'job', job({ id: 'new' }));
    expect(qc.getQueryData<Page<Job>>(qk.jobs({}))!.items.map((j) => j.id)).toEqual(['new']);
    expect(qc.getQueryData<Page<Job>>(qk.jobs({ status: 'failed' }))!.items).toEqual([]);
    expect(qc.getQueryData<Page<Job>>(qk.jobs({ connector: 'slack' }))!.items).toEqual([]);
    expect(qc.getQueryData<Page<Job>>(qk.jobs({ cursor: 'page2' }))!.items).toEqual([]);
  });

  it('drops a job from a filtered list when it stops matching', () => {
    const qc = new QueryClient();
    qc.setQueryData<Page<Job>>(qk.jobs({ status: 'running' }), { items: [job({ status: 'running' })], next_cursor: null });
    applyLiveEvent(qc, 'job', job({ status: 'failed' }));
    expect(qc.getQueryData<Page<Job>>(qk.jobs({ status: 'running' }))!.items).toEqual([]);
  });

  it('appends job events once', () => {
    const qc = new QueryClient();
    qc.setQueryData(qk.job('j1'), { ...job(), events: [] });
    const ev = { id: 7, job_id: 'j1', level: 'info', message: 'started', data: null, created_at: '' };
    applyLiveEvent(qc, 'event', ev);
    applyLiveEvent(qc, 'event', ev);
    expect(qc.getQueryData<Job>(qk.job('j1'))!.events).toEqual([ev]);
    // An event for a job nobody is looking at does not create a cache entry.
    applyLiveEvent(qc, 'event', { ...ev, job_id: 'other' });
    expect(qc.getQueryData(qk.job('other'))).toBeUndefined();
  });

  it('updates connections and refetches when one is unknown', () => {
    const qc = new QueryClient();
    const c: Connection = { id: 'c1', connector: 'github', label: 'Mine', status: 'active', status_reason: null, scopes: null, expires_at: null, created_at: '', last_used_at: null };
    qc.setQueryData<Page<Connection>>(qk.connections, { items: [c], next_cursor: null });
    applyLiveEvent(qc, 'connection', { ...c, status: 'expired', status_reason: 'token expired' });
    expect(qc.getQueryData<Page<Connection>>(qk.connections)!.items[0].status).toBe('expired');
    const spy = vi.spyOn(qc, 'invalidateQueries');
    applyLiveEvent(qc, 'connection', { ...c, id: 'c2' });
    expect(spy).toHaveBeenCalledWith({ queryKey: qk.connections });
  });

  it('updates health rows and honours refetch hints', () => {
    const qc = new QueryClient();
    qc.setQueryData(qk.health, { items: [{ connector: 'github', status: 'up', checked_at: '' }], next_cursor: null });
    applyLiveEvent(qc, 'health', { connector: 'github', status: 'down', checked_at: 'x' });
    applyLiveEvent(qc, 'health', { connector: 'slack', status: 'up', checked_at: 'x' });
    expect(qc.getQueryData<Page<{ connector: string; status: string }>>(qk.health)!.items.map((h) => `${h.connector}:${h.status}`)).toEqual(['github:down', 'slack:up']);
    const spy = vi.spyOn(qc, 'invalidateQueries');
    applyLiveEvent(qc, 'refetch', { resource: 'jobs' });
    expect(spy).toHaveBeenLastCalledWith({ queryKey: ['jobs'] });
    applyLiveEvent(qc, 'refetch', null);
    expect(spy).toHaveBeenLastCalledWith(undefined);
    applyLiveEvent(qc, 'job', 'not an object');
  });
});

class FakeES implements EventSourceLike {
  static all: FakeES[] = [];
  onopen: ((ev: Event) => void) | null = null;
  onerror: ((ev: Event) => void) | null = null;
  closed = false;
  listeners = new Map<string, (ev: MessageEvent) => void>();
  constructor(public url: string) {
    FakeES.all.push(this);
  }
  addEventListener(type: string, fn: (ev: MessageEvent) => void) {
    this.listeners.set(type, fn);
  }
  close() {
    this.closed = true;
  }
  emit(type: string, data: unknown, id = '') {
    this.listeners.get(type)?.(new MessageEvent(type, { data: JSON.stringify(data), lastEventId: id }));
  }
}

describe('mergeJob and fetch races', () => {
  const ev = (id: number, message: string) => ({ id, job_id: 'j1', level: 'info' as const, message, data: null, created_at: '' });
  it('never moves a job back and keeps every event', () => {
    const streamed = job({ status: 'succeeded', result: { ok: 1 }, events: [ev(1, 'queued'), ev(3, 'succeeded')] });
    const staleFetch = job({ status: 'running', events: [ev(1, 'queued'), ev(2, 'started')] });
    const m = mergeJob(streamed, staleFetch);
    expect(m.status).toBe('succeeded');
    expect(m.result).toEqual({ ok: 1 });
    expect(m.events!.map((e) => e.message)).toEqual(['queued', 'started', 'succeeded']);
    expect(mergeJob(staleFetch, streamed).status).toBe('succeeded');
  });
  it('applies a late running row without undoing succeeded', () => {
    const qc = new QueryClient();
    qc.setQueryData<Page<Job>>(qk.jobs({}), { items: [job({ status: 'succeeded' })], next_cursor: null });
    qc.setQueryData(qk.job('j1'), job({ status: 'succeeded' }));
    applyLiveEvent(qc, 'job', job({ status: 'running' }));
    expect(qc.getQueryData<Page<Job>>(qk.jobs({}))!.items[0].status).toBe('succeeded');
    expect(qc.getQueryData<Job>(qk.job('j1'))!.status).toBe('succeeded');
  });
  it('fetches again when a change lands while a fetch is in flight', async () => {
    const qc = new QueryClient();
    let calls = 0;
    let release: (v: Job) => void = () => {};
    const first = new Promise<Job>((r) => (release = r));
    // A page watching the job (an active query), its first fetch in flight.
    const obs = new QueryObserver(qc, { queryKey: qk.job('j1'), queryFn: () => (++calls === 1 ? first : Promise.resolve(job({ status: 'running' }))) });
    const unsub = obs.subscribe(() => {});
    expect(qc.getQueryState(qk.job('j1'))?.fetchStatus).toBe('fetching');
    applyLiveEvent(qc, 'job', job({ status: 'running' }));
    release(job({ status: 'queued' })); // the older answer of the first fetch
    await vi.waitFor(() => expect(qc.getQueryState(qk.job('j1'))?.fetchStatus).toBe('idle'));
    expect(calls).toBe(2);
    expect(qc.getQueryData<Job>(qk.job('j1'))!.status).toBe('running');
    unsub();
  });
});

describe('invalidateFresh', () => {
  it('fetches again after a first fetch that was in flight during the change', async () => {
    const qc = new QueryClient();
    let calls = 0;
    let release: (v: Page<Connection>) => void = () => {};
    const first = new Promise<Page<Connection>>((r) => (release = r));
    const obs = new QueryObserver(qc, { queryKey: qk.connections, queryFn: () => (++calls === 1 ? first : Promise.resolve({ items: [], next_cursor: null })) });
    const unsub = obs.subscribe(() => {});
    invalidateFresh(qc, qk.connections); // e.g. right after deleting the replaced connection
    const stale: Connection = { id: 'old', connector: 'x', label: 'old', status: 'expired', status_reason: null, scopes: null, expires_at: null, created_at: '', last_used_at: null };
    release({ items: [stale], next_cursor: null });
    await vi.waitFor(() => expect(calls).toBe(2));
    await vi.waitFor(() => expect(qc.getQueryData<Page<Connection>>(qk.connections)!.items).toEqual([]));
    unsub();
  });
});

describe('truncated rows', () => {
  it('refetch the row instead of merging a stub', () => {
    const qc = new QueryClient();
    qc.setQueryData(qk.job('j1'), job({ status: 'running' }));
    qc.setQueryData<Page<Job>>(qk.jobs({}), { items: [job({ status: 'running' })], next_cursor: null });
    const spy = vi.spyOn(qc, 'invalidateQueries');
    applyLiveEvent(qc, 'job', { id: 'j1', truncated: true });
    expect(qc.getQueryData<Job>(qk.job('j1'))!.status).toBe('running');
    expect(qc.getQueryData<Page<Job>>(qk.jobs({}))!.items[0].status).toBe('running');
    expect(spy).toHaveBeenCalledWith({ queryKey: qk.job('j1') });
    expect(spy).toHaveBeenCalledWith({ queryKey: ['jobs'] });
  });
  it('compares times, not strings, for the since filter', () => {
    const qc = new QueryClient();
    qc.setQueryData<Page<Job>>(qk.jobs({ since: '2026-01-01T10:00:00.000Z' }), { items: [], next_cursor: null });
    applyLiveEvent(qc, 'job', job({ id: 'same-second', queued_at: '2026-01-01T10:00:00Z' }));
    applyLiveEvent(qc, 'job', job({ id: 'before', queued_at: '2026-01-01T09:59:59Z' }));
    expect(qc.getQueryData<Page<Job>>(qk.jobs({ since: '2026-01-01T10:00:00.000Z' }))!.items.map((j) => j.id)).toEqual(['same-second']);
  });
});

describe('LiveStream', () => {
  it('gets a fresh ticket on every reconnect and resumes from the last id', async () => {
    vi.useFakeTimers();
    FakeES.all = [];
    let n = 0;
    const got: [string, unknown][] = [];
    const reconnects = vi.fn();
    const s = new LiveStream({
      getTicket: async () => `t${++n}`,
      onMessage: (t, d) => got.push([t, d]),
      onReconnect: reconnects,
      createEventSource: (u) => new FakeES(u),
      minDelayMs: 10,
    });
    s.start();
    await vi.runOnlyPendingTimersAsync();
    expect(FakeES.all[0].url).toBe('/api/stream?ticket=t1');
    FakeES.all[0].onopen?.(new Event('open'));
    expect(s.status).toBe('open');
    FakeES.all[0].emit('job', { id: 'j1' }, '41');
    expect(got).toEqual([['job', { id: 'j1' }]]);
    FakeES.all[0].onerror?.(new Event('error'));
    expect(FakeES.all[0].closed).toBe(true);
    expect(s.status).toBe('retrying');
    await vi.advanceTimersByTimeAsync(50);
    expect(FakeES.all[1].url).toBe('/api/stream?ticket=t2&last_event_id=41');
    FakeES.all[1].onopen?.(new Event('open'));
    expect(reconnects).toHaveBeenCalledTimes(1);
    s.stop();
    expect(FakeES.all[1].closed).toBe(true);
    vi.useRealTimers();
  });

  it('reconnects after the server drops or shuts the stream', async () => {
    vi.useFakeTimers();
    FakeES.all = [];
    let n = 0;
    const s = new LiveStream({ getTicket: async () => `t${++n}`, onMessage: () => {}, createEventSource: (u) => new FakeES(u), minDelayMs: 10 });
    s.start();
    await vi.runOnlyPendingTimersAsync();
    FakeES.all[0].onopen?.(new Event('open'));
    FakeES.all[0].emit('job', { id: 'j1' }, '7');
    FakeES.all[0].emit('dropped', { reason: 'slow_consumer' });
    expect(FakeES.all[0].closed).toBe(true);
    expect(s.status).toBe('retrying');
    await vi.advanceTimersByTimeAsync(50);
    expect(FakeES.all[1].url).toBe('/api/stream?ticket=t2&last_event_id=7');
    FakeES.all[1].onopen?.(new Event('open'));
    FakeES.all[1].emit('shutdown', { reason: 'server_shutdown' });
    expect(FakeES.all[1].closed).toBe(true);
    // The closed source's own error event does not start a second retry.
    FakeES.all[1].onerror?.(new Event('error'));
    await vi.advanceTimersByTimeAsync(50);
    expect(FakeES.all.length).toBe(3);
    s.stop();
    vi.useRealTimers();
  });
  it('retries when the ticket cannot be fetched', async () => {
    vi.useFakeTimers();
    FakeES.all = [];
    let calls = 0;
    const s = new LiveStream({
      getTicket: async () => {
        if (++calls === 1) throw new Error('503');
        return 'ok';
      },
      onMessage: () => {},
      createEventSource: (u) => new FakeES(u),
      minDelayMs: 10,
    });
    s.start();
    await vi.advanceTimersByTimeAsync(100);
    expect(calls).toBe(2);
    expect(FakeES.all.map((e) => e.url)).toEqual(['/api/stream?ticket=ok']);
    s.stop();
    vi.useRealTimers();
  });
});
