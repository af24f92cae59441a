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

/** A small SVG bar chart: runs per hour, with the failed part in red. */
export function RunChart({ buckets }: { buckets: Bucket[] }) {
  const W = 720;
  const H = 160;
  const pad = { l: 28, r: 8, t: 8, b: 22 };
  const max = Math.max(1, ...buckets.map((b) => b.runs));
  const bw = (W - pad.l - pad.r) / buckets.length;
  const y = (v: number) => pad.t + (H - pad.t - pad.b) * (1 - v / max);
  const total = buckets.reduce((s, b) => s + b.runs, 0);
  const failed = buckets.reduce((s, b) => s + b.failures, 0);
  return (
    <figure>
      <svg viewBox={`0 0 ${W} ${H}`} className="h-40 w-full" role="img" aria-label={`Runs per hour over the last ${buckets.length} hours: ${total} runs, ${failed} failed.`}>
        {[0, 0.5, 1].map((f) => (
          <g key={f}>
            <line x1={pad.l} x2={W - pad.r} y1={y(max * f)} y2={y(max * f)} stroke="#e2e8f0" strokeDasharray={f === 0 ? undefined : '3 3'} />
            <text x={pad.l - 6} y={y(max * f) + 3} textAnchor="end" fontSize="10" fill="#64748b">
              {Math.round(max * f)}
            </text>
          </g>
        ))}
        {buckets.map((b, i) => {
          const x = pad.l + i * bw + bw * 0.15;
          const w = bw * 0.7;
          const hour = new Date(b.start).getHours();
          return (
            <g key={b.start}>
              <title>{`${new Date(b.start).toLocaleString(undefined, { hour: 'numeric', day: 'numeric', month: 'short' })}: ${b.runs} runs, ${b.failures} failed`}</title>
              {b.runs > 0 && <rect x={x} y={y(b.runs)} width={w} height={y(0) - y(b.runs)} rx="2" fill="#818cf8" />}
              {b.failures > 0 && <rect x={x} y={y(b.failures)} width={w} height={y(0) - y(b.failures)} rx="2" fill="#ef4444" />}
              {i % 4 === 0 && (
                <text x={x + w / 2} y={H - 6} textAnchor="middle" fontSize="10" fill="#64748b">
                  {String(hour).padStart(2, '0')}:00
                </text>
              )}
            </g>
          );
        })}
      </svg>
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
