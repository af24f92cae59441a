import { useEffect, useState } from 'react';
import { useQuery } from '@tanstack/react-query';
import { api, ApiError } from '../api';
import type { CronPreview as CP } from '../api/types';
import { cx } from './ui';

export const CRON_PRESETS: { label: string; cron: string }[] = [
  { label: 'Every 5 minutes', cron: '*/5 * * * *' },
  { label: 'Hourly', cron: '0 * * * *' },
  { label: 'Daily at 09:00', cron: '0 9 * * *' },
  { label: 'Weekdays at 09:00', cron: '0 9 * * 1-5' },
  { label: 'Mondays at 08:00', cron: '0 8 * * 1' },
  { label: 'First of the month', cron: '0 0 1 * *' },
];

function useDebounced<T>(v: T, ms: number): T {
  const [d, setD] = useState(v);
  useEffect(() => {
    const t = setTimeout(() => setD(v), ms);
    return () => clearTimeout(t);
  }, [v, ms]);
  return d;
}

/** "Monday 2 March, 09:00" in the browser's own time zone. */
export function browserLocal(utc: string): string {
  const d = new Date(utc);
  if (Number.isNaN(d.getTime())) return utc;
  return d.toLocaleString(undefined, { weekday: 'short', day: 'numeric', month: 'short', year: 'numeric', hour: '2-digit', minute: '2-digit' });
}

/**
 * The next runs of a cron expression from POST /api/cron/preview, shown in the
 * browser's local time (and in the schedule's zone when that differs), or the
 * server's error with a caret under the position it names.
 */
export function CronPreview({ cron, timezone, n = 5, id, preview = api.cronPreview, debounceMs = 300 }: { cron: string; timezone: string; n?: number; id?: string; preview?: (cron: string, tz: string, n: number) => Promise<CP>; debounceMs?: number }) {
  const c = useDebounced(cron.trim(), debounceMs);
  const tz = useDebounced(timezone, debounceMs);
  const q = useQuery({ queryKey: ['cron-preview', c, tz, n], queryFn: () => preview(c, tz, n), enabled: c !== '' && tz !== '', retry: false, staleTime: 30_000 });
  const browserTz = Intl.DateTimeFormat().resolvedOptions().timeZone;
  if (c === '') return <p id={id} className="text-xs text-slate-500">Enter a cron expression to see when it runs.</p>;
  if (q.isPending) return <p id={id} className="text-xs text-slate-500" role="status">Working out the next runs…</p>;
  if (q.error) {
    const e = q.error;
    const pos = e instanceof ApiError && typeof e.raw.position === 'number' ? (e.raw.position as number) : null;
    return (
      <div id={id} role="alert" className="rounded-md bg-red-50 px-3 py-2 text-xs text-red-800 ring-1 ring-red-200" data-testid="cron-error">
        <p>{e instanceof Error ? e.message : 'Invalid expression.'}</p>
        {pos !== null && pos >= 0 && pos <= c.length && (
          <pre aria-hidden="true" className="mt-1 font-mono leading-tight">
            {c}
            {'\n'}
            {' '.repeat(pos)}^
          </pre>
        )}
      </div>
    );
  }
  const runs = q.data?.next ?? [];
  return (
    <div id={id} className="rounded-md bg-slate-50 px-3 py-2 ring-1 ring-slate-200" data-testid="cron-preview">
      <p className="mb-1 text-xs font-medium text-slate-700">Next runs ({browserTz})</p>
      {runs.length === 0 ? (
        <p className="text-xs text-slate-500">This expression never runs.</p>
      ) : (
        <ol className="space-y-0.5 text-xs text-slate-700">
          {runs.map((r) => (
            <li key={r.utc} className={cx('flex flex-wrap gap-x-2')}>
              <time dateTime={r.utc}>{browserLocal(r.utc)}</time>
              {tz !== browserTz && <span className="text-slate-500">({r.local} {tz})</span>}
            </li>
          ))}
        </ol>
      )}
    </div>
  );
}
