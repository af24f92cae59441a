import { describe, expect, it } from 'vitest';
import type { Job, Page } from '../api/types';
import { countJobs, fetchJobsSince, JOBS_PAGE_MAX } from './jobs';
import { scheduleInput } from './schedules';
import { fromHHMM, prefsInput, toHHMM } from './notifications';
import { readOAuthOutcome, rememberReplaced, takeReplaced } from './oauth';
import { describeUserAgent, scopeList } from '../components/format';
import { mcpText } from '../components/JobView';

const job = (id: string, status: Job['status']) => ({ id, status, queued_at: '2030-01-01T00:00:00Z' }) as Job;

describe('fetchJobsSince', () => {
  it('pages with the cursor at the server limit and stops at the last page', async () => {
    const calls: unknown[] = [];
    const pages: Page<Job>[] = [
      { items: [job('a', 'queued'), job('b', 'failed')], next_cursor: 'c1' },
      { items: [job('c', 'succeeded')], next_cursor: null },
    ];
    const api = { jobs: async (f: unknown) => (calls.push(f), pages[calls.length - 1]) };
    const r = await fetchJobsSince(api as never, '2030-01-01T00:00:00.000Z');
    expect(r.items.map((j) => j.id)).toEqual(['a', 'b', 'c']);
    expect(r.next_cursor).toBeNull();
    expect(calls).toEqual([
      { since: '2030-01-01T00:00:00.000Z', limit: JOBS_PAGE_MAX, cursor: undefined },
      { since: '2030-01-01T00:00:00.000Z', limit: JOBS_PAGE_MAX, cursor: 'c1' },
    ]);
    expect(JOBS_PAGE_MAX).toBeLessThanOrEqual(200);
  });
  it('keeps the cursor when it stops early', async () => {
    let n = 0;
    const api = { jobs: async () => ({ items: [job(String(++n), 'succeeded')], next_cursor: 'more' }) };
    const r = await fetchJobsSince(api as never, 'x', 3);
    expect(r.items.length).toBe(3);
    expect(r.next_cursor).toBe('more');
  });
  it('counts by status', () => {
    expect(countJobs([job('1', 'queued'), job('2', 'running'), job('3', 'failed'), job('4', 'succeeded'), job('5', 'canceled')])).toEqual({ total: 5, inProgress: 2, succeeded: 1, failed: 1, canceled: 1 });
  });
});

describe('scheduleInput', () => {
  it('keeps only the fields the API takes', () => {
    const v = scheduleInput({ id: 's1', name: 'n', cron: '* * * * *', timezone: 'UTC', connector: 'c', tool: 't', connection_id: 'k', arguments: { a: 1 }, enabled: false, overlap: 'allow', misfire: 'skip', max_failures: 0, next_run_at: 'x', paused_reason: 'y' });
    expect(Object.keys(v).sort()).toEqual(['arguments', 'connection_id', 'connector', 'cron', 'enabled', 'max_failures', 'misfire', 'name', 'overlap', 'timezone', 'tool']);
    expect(v).toMatchObject({ enabled: false, overlap: 'allow', misfire: 'skip', max_failures: 0 });
  });
  it('replaces overlap and misfire values the server refuses', () => {
    const v = scheduleInput({ overlap: 'queue' as never, misfire: 'run_all' as never });
    expect(v.overlap).toBe('skip');
    expect(v.misfire).toBe('run_once');
    expect(v.max_failures).toBe(5);
  });
});

describe('notification preferences', () => {
  it('reads the server shape and drops read-only fields', () => {
    const p = prefsInput({ email_enabled: false, alert_types: ['health.down'], timezone: 'Europe/Berlin', quiet_start: 1320, quiet_end: 420, delivery: 'hourly_digest', available_alert_types: ['health.down'], updated_at: null });
    expect(p).toEqual({ email_enabled: false, alert_types: ['health.down'], timezone: 'Europe/Berlin', quiet_start: 1320, quiet_end: 420, delivery: 'hourly_digest' });
    expect(prefsInput({ delivery: 'digest' as never }).delivery).toBe('immediate');
  });
  it('converts quiet hours', () => {
    expect(toHHMM(1320)).toBe('22:00');
    expect(toHHMM(null)).toBe('');
    expect(fromHHMM('07:05')).toBe(425);
    expect(fromHHMM('24:00')).toBeNull();
    expect(fromHHMM('')).toBeNull();
  });
});

describe('OAuth outcome and reconnect', () => {
  it('reads the callback redirect', () => {
    expect(readOAuthOutcome(new URLSearchParams('oauth=ok&connection=c9'))).toEqual({ ok: true, connection: 'c9' });
    expect(readOAuthOutcome(new URLSearchParams('oauth=error&message=access%20denied'))).toEqual({ ok: false, message: 'access denied' });
    expect(readOAuthOutcome(new URLSearchParams('x=1'))).toBeNull();
  });
  it('remembers the replaced connection once, for a while', () => {
    const m = new Map<string, string>();
    const st = { getItem: (k: string) => m.get(k) ?? null, setItem: (k: string, v: string) => void m.set(k, v), removeItem: (k: string) => void m.delete(k) } as Storage;
    rememberReplaced({ id: 'old', connector: 'github' }, st);
    expect(takeReplaced(st)).toEqual({ id: 'old', connector: 'github' });
    expect(takeReplaced(st)).toBeNull();
    rememberReplaced({ id: 'old', connector: 'github' }, st);
    expect(takeReplaced(st, Date.now() + 16 * 60_000)).toBeNull();
  });
});

describe('display helpers', () => {
  it('names browsers', () => {
    expect(describeUserAgent('Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36')).toBe('Chrome on Linux');
    expect(describeUserAgent('Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Version/17.0 Mobile/15E148 Safari/604.1')).toBe('Safari on iOS');
    expect(describeUserAgent(null)).toBe('Unknown client');
    expect(describeUserAgent('curl/8.5.0')).toBe('curl');
  });
  it('lists scopes from the server string', () => {
    expect(scopeList('channels:read chat:write')).toEqual(['channels:read', 'chat:write']);
    expect(scopeList(['a'])).toEqual(['a']);
    expect(scopeList(null)).toEqual([]);
  });
  it('shows MCP text results as text', () => {
    expect(mcpText({ content: [{ type: 'text', text: 'HI' }], isError: false })).toEqual(['HI']);
    expect(mcpText({ content: [{ type: 'image', data: 'x' }] })).toBeNull();
    expect(mcpText({ ok: true })).toBeNull();
  });
});
