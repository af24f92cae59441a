import { describe, expect, it } from 'vitest';
import type { Job } from '../api/types';
import { bucketize, yTicks } from './RunChart';

describe('bucketize', () => {
  it('counts runs and failures per hour', () => {
    const now = Date.parse('2030-01-01T12:30:00Z');
    const j = (t: string, status: Job['status']) => ({ queued_at: t, status }) as Job;
    const b = bucketize([j('2030-01-01T12:10:00Z', 'failed'), j('2030-01-01T12:20:00Z', 'succeeded'), j('2030-01-01T11:59:00Z', 'succeeded'), j('2029-12-30T00:00:00Z', 'failed')], now);
    expect(b.length).toBe(24);
    expect(b[23]).toMatchObject({ start: Date.parse('2030-01-01T12:00:00Z'), runs: 2, failures: 1 });
    expect(b[22]).toMatchObject({ runs: 1, failures: 0 });
    expect(b.reduce((s, x) => s + x.runs, 0)).toBe(3);
  });
});

describe('yTicks', () => {
  it('uses whole numbers for small counts and round steps for large ones', () => {
    expect(yTicks(0)).toEqual([0, 1]);
    expect(yTicks(1)).toEqual([0, 1]);
    expect(yTicks(3)).toEqual([0, 1, 2, 3]);
    expect(yTicks(7)).toEqual([0, 2, 4, 6, 8]);
    expect(yTicks(130)).toEqual([0, 50, 100, 150]);
  });
});
