import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { Link } from 'react-router';
import { api } from '../api';
import type { Job, JobEvent } from '../api/types';
import { mergeJob, qk } from '../live/cache';
import { useLiveStatus } from '../live/LiveProvider';
import { fmtDuration, fmtTime } from './format';
import { useToast } from './toast';
import { Button, cx, ErrorState, JsonBlock, Loading, StatusBadge } from './ui';

export const TERMINAL = new Set(['succeeded', 'failed', 'canceled']);

/** A job by id, kept fresh by the SSE stream; polls only while the stream is down. */
export function useJob(id: string | null | undefined) {
  const live = useLiveStatus();
  const qc = useQueryClient();
  return useQuery({
    queryKey: qk.job(id ?? ''),
    // Merged with what the stream delivered meanwhile (never moves back).
    queryFn: async () => {
      const fetched = await api.job(id!);
      return mergeJob(qc.getQueryData<Job>(qk.job(id!)), fetched);
    },
    enabled: !!id,
    refetchInterval: (q) => {
      const j = q.state.data as Job | undefined;
      if (j && TERMINAL.has(j.status)) return false;
      return live === 'open' ? 15000 : 2000;
    },
  });
}

const levelColor: Record<string, string> = { info: 'bg-sky-500', warn: 'bg-amber-500', error: 'bg-red-500' };

export function EventTimeline({ events }: { events: JobEvent[] }) {
  if (events.length === 0) return <p className="text-sm text-slate-500">No events yet.</p>;
  return (
    <ol className="relative space-y-3 border-l border-slate-200 pl-5" aria-label="Event timeline">
      {events.map((e) => (
        <li key={String(e.id)} className="relative">
          <span aria-hidden="true" className={cx('absolute top-1.5 -left-[25px] h-2.5 w-2.5 rounded-full ring-4 ring-white', levelColor[e.level] ?? 'bg-slate-400')} />
          <div className="flex flex-wrap items-baseline gap-x-2">
            <span className="text-sm text-slate-900">{e.message}</span>
            <span className="text-xs text-slate-500">
              <span className="sr-only">{e.level} · </span>
              {fmtTime(e.created_at)}
            </span>
          </div>
          {e.data != null && typeof e.data === 'object' && Object.keys(e.data as object).length > 0 && (
            <details className="mt-1">
              <summary className="cursor-pointer text-xs text-slate-500">Details</summary>
              <JsonBlock value={e.data} />
            </details>
          )}
        </li>
      ))}
    </ol>
  );
}

/** The text blocks of an MCP tool result ({content: [{type: 'text', text}]}), or null. */
export function mcpText(result: unknown): string[] | null {
  const content = (result as { content?: unknown } | null)?.content;
  if (!Array.isArray(content) || content.length === 0) return null;
  const texts = content.filter((c): c is { type: 'text'; text: string } => !!c && typeof c === 'object' && (c as { type?: unknown }).type === 'text' && typeof (c as { text?: unknown }).text === 'string');
  return texts.length === content.length ? texts.map((t) => t.text) : null;
}

function ResultView({ result }: { result: unknown }) {
  const texts = mcpText(result);
  if (!texts) return <JsonBlock value={result} label="Result" />;
  return (
    <div className="space-y-2">
      <div aria-label="Result" className="space-y-2">
        {texts.map((t, i) => (
          <pre key={i} className="max-h-96 overflow-auto rounded-md bg-slate-50 p-3 font-mono text-xs whitespace-pre-wrap text-slate-900 ring-1 ring-slate-200">
            {t}
          </pre>
        ))}
      </div>
      <details>
        <summary className="cursor-pointer text-xs text-slate-500">Raw result</summary>
        <JsonBlock value={result} />
      </details>
    </div>
  );
}

function errorText(err: unknown): string {
  if (!err) return 'The job failed.';
  if (typeof err === 'string') return err;
  const e = err as { message?: string; code?: string };
  return e.message ?? JSON.stringify(err);
}

export function JobPanel({ id, compact }: { id: string; compact?: boolean }) {
  const q = useJob(id);
  const qc = useQueryClient();
  const toast = useToast();
  const cancel = useMutation({
    mutationFn: () => api.cancelJob(id),
    onSuccess: (j) => {
      if (j && typeof j === 'object' && 'id' in j) qc.setQueryData(qk.job(id), (old: Job | undefined) => ({ ...old, ...j }));
      toast.success('Cancel requested.');
      void qc.invalidateQueries({ queryKey: qk.job(id) });
    },
    onError: toast.error,
  });
  if (q.isPending) return <Loading label="Loading job…" />;
  if (q.error || !q.data) return <ErrorState error={q.error} onRetry={() => q.refetch()} />;
  const j = q.data;
  const done = TERMINAL.has(j.status);
  return (
    <section aria-live="polite" aria-label="Job" className="space-y-4" data-testid="job-panel" data-status={j.status}>
      <div className="flex flex-wrap items-center gap-3">
        <StatusBadge status={j.status} />
        <span className="text-sm text-slate-600">
          <span className="font-medium text-slate-900">{j.connector}</span> / {j.tool}
        </span>
        <span className="text-xs text-slate-500">{fmtDuration(j.started_at ?? j.queued_at, j.finished_at)}</span>
        <div className="ml-auto flex gap-2">
          {compact && (
            <Link className="text-sm font-medium text-indigo-600 hover:text-indigo-500" to={`/dashboard/jobs/${encodeURIComponent(j.id)}`}>
              Open in dashboard
            </Link>
          )}
          {!done && (
            <Button variant="danger" size="sm" busy={cancel.isPending} onClick={() => cancel.mutate()}>
              Cancel
            </Button>
          )}
        </div>
      </div>
      {!compact && (
        <dl className="grid grid-cols-2 gap-x-4 gap-y-2 text-sm sm:grid-cols-4">
          <div>
            <dt className="text-slate-500">Queued</dt>
            <dd>{fmtTime(j.queued_at)}</dd>
          </div>
          <div>
            <dt className="text-slate-500">Started</dt>
            <dd>{fmtTime(j.started_at)}</dd>
          </div>
          <div>
            <dt className="text-slate-500">Finished</dt>
            <dd>{fmtTime(j.finished_at)}</dd>
          </div>
          <div>
            <dt className="text-slate-500">Schedule</dt>
            <dd>{j.schedule_id ? <Link className="text-indigo-600" to="/scheduler">{j.schedule_id.slice(0, 8)}</Link> : '—'}</dd>
          </div>
        </dl>
      )}
      {j.status === 'succeeded' && (
        <div>
          <h3 className="mb-1 text-sm font-semibold text-slate-900">Result</h3>
          <ResultView result={j.result} />
        </div>
      )}
      {j.status === 'failed' && (
        <div role="alert" className="rounded-md bg-red-50 px-3 py-2 text-sm text-red-800 ring-1 ring-red-200">
          {errorText(j.error)}
        </div>
      )}
      <div>
        <h3 className="mb-2 text-sm font-semibold text-slate-900">Events</h3>
        <EventTimeline events={j.events ?? []} />
      </div>
      {!compact && (
        <details>
          <summary className="cursor-pointer text-sm text-slate-600">Arguments</summary>
          <JsonBlock value={j.arguments} />
        </details>
      )}
    </section>
  );
}
