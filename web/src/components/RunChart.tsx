import type { Job } from '../api/types';

export interface Bucket {
  start: number;
  runs: number;
  failures: number;
}

/** Counts jobs queued in each of `n` buckets of `size` ms ending at `now`. */
export function bucketize(jobs: Job[], now: number, n = 24, size = 3_600_000): Bucket[] {
  const end = Math.ceil(now / size) * size;
  const first = end - n * size;
  const out: Bucket[] = Array.from({ length: n }, (_, i) => ({ start: first + i * size, runs: 0, failures: 0 }));
  for (const j of jobs) {
    const t = new Date(j.queued_at).getTime();
    if (!(t >= first && t < end)) continue;
    const b = out[Math.floor((t - first) / size)];
    b.runs++;
    if (j.status === 'failed') b.failures++;
  }
  return out;
}

/** Round ticks for a y axis from 0 to at least `max`: [0, step, 2*step, ...]. */
export function yTicks(max: number): number[] {
  if (max <= 4) return Array.from({ length: Math.max(1, max) + 1 }, (_, i) => i);
  const rough = max / 4;
  const mag = 10 ** Math.floor(Math.log10(rough));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= rough) ?? rough;
  const top = Math.ceil(max / step) * step;
  return Array.from({ length: top / step + 1 }, (_, i) => i * step);
}

const hh = (t: number) => `${String(new Date(t).getHours()).padStart(2, '0')}:00`;

/**
 * Runs per hour, with the failed part in red. Plain boxes rather than SVG so
 * the bars and labels keep their size at any width (phones included).
 */
export function RunChart({ buckets }: { buckets: Bucket[] }) {
  const ticks = yTicks(Math.max(0, ...buckets.map((b) => b.runs)));
  const top = ticks[ticks.length - 1] || 1;
  const total = buckets.reduce((s, b) => s + b.runs, 0);
  const failed = buckets.reduce((s, b) => s + b.failures, 0);
  const pct = (v: number) => `${(100 * v) / top}%`;
  return (
    <figure>
      <div role="img" aria-label={`Runs per hour over the last ${buckets.length} hours: ${total} runs, ${failed} failed.`} className="flex gap-2">
        <div aria-hidden="true" className="relative h-40 w-6 shrink-0 text-right text-[10px] text-slate-500">
          {ticks.map((t) => (
            <span key={t} className="absolute right-0 translate-y-1/2 leading-none" style={{ bottom: pct(t) }}>
              {t}
            </span>
          ))}
        </div>
        <div className="min-w-0 flex-1">
          <div className="relative h-40 border-b border-slate-300">
            {ticks.slice(1).map((t) => (
              <div key={t} aria-hidden="true" className="absolute inset-x-0 border-t border-dashed border-slate-200" style={{ bottom: pct(t) }} />
            ))}
            <div className="absolute inset-0 flex items-end gap-px sm:gap-1">
              {buckets.map((b) => (
                <div key={b.start} className="relative flex h-full flex-1 items-end" title={`${new Date(b.start).toLocaleString(undefined, { hour: 'numeric', day: 'numeric', month: 'short' })}: ${b.runs} runs, ${b.failures} failed`} data-testid="chart-bucket" data-runs={b.runs} data-failures={b.failures}>
                  {b.runs > 0 && (
                    <div className="relative w-full rounded-t-sm bg-indigo-400" style={{ height: pct(b.runs) }}>
                      {b.failures > 0 && <div className="absolute inset-x-0 bottom-0 rounded-t-sm bg-red-500" style={{ height: `${(100 * b.failures) / b.runs}%` }} />}
                    </div>
                  )}
                </div>
              ))}
            </div>
          </div>
          <div aria-hidden="true" className="mt-1 flex text-[10px] text-slate-500">
            {buckets.map((b, i) => (
              <span key={b.start} className="flex-1 overflow-visible text-center whitespace-nowrap">
                {i % 6 === 0 ? hh(b.start) : ''}
              </span>
            ))}
          </div>
        </div>
      </div>
      <figcaption className="mt-2 flex gap-4 text-xs text-slate-600">
        <span className="inline-flex items-center gap-1.5">
          <span className="h-2.5 w-2.5 rounded-sm bg-indigo-400" aria-hidden="true" /> Runs
        </span>
        <span className="inline-flex items-center gap-1.5">
          <span className="h-2.5 w-2.5 rounded-sm bg-red-500" aria-hidden="true" /> Failures
        </span>
      </figcaption>
    </figure>
  );
}
