import { useMemo, useState } from 'react';
import { useQuery } from '@tanstack/react-query';
import { Link, useNavigate, useSearchParams } from 'react-router';
import { api } from '../api';
import type { Job, JobFilters } from '../api/types';
import { qk } from '../live/cache';
import { fmtDuration, fmtRelative } from '../components/format';
import { bucketize, RunChart } from '../components/RunChart';
import { countJobs, fetchJobsSince, JOBS_PAGE_MAX } from '../lib/jobs';
import { Button, Card, Empty, ErrorState, Field, Input, Loading, PageHeader, Select, StatusBadge } from '../components/ui';

const STATUSES = ['queued', 'running', 'succeeded', 'failed', 'canceled'];
const DAY = 86_400_000;

function Stat({ label, value, tone, testId }: { label: string; value: number | string; tone?: string; testId: string }) {
  return (
    <Card className="p-4" data-testid={testId} data-value={value}>
      <dt className="text-xs font-medium tracking-wide text-slate-500 uppercase">{label}</dt>
      <dd className={`mt-1 text-2xl font-semibold ${tone ?? 'text-slate-900'}`}>{value}</dd>
    </Card>
  );
}

function JobsTable({ jobs }: { jobs: Job[] }) {
  const nav = useNavigate();
  return (
    <div className="overflow-x-auto">
      <table className="min-w-full divide-y divide-slate-200 text-sm" aria-label="Jobs">
        <thead>
          <tr className="text-left text-xs font-medium tracking-wide text-slate-500 uppercase">
            <th scope="col" className="px-4 py-2">Status</th>
            <th scope="col" className="px-4 py-2">Tool</th>
            <th scope="col" className="hidden px-4 py-2 sm:table-cell">Queued</th>
            <th scope="col" className="hidden px-4 py-2 md:table-cell">Duration</th>
            <th scope="col" className="px-4 py-2"><span className="sr-only">Open</span></th>
          </tr>
        </thead>
        <tbody className="divide-y divide-slate-100">
          {jobs.map((j) => (
            <tr key={j.id} className="cursor-pointer hover:bg-slate-50" data-testid="job-row" data-status={j.status} onClick={() => nav(`/dashboard/jobs/${encodeURIComponent(j.id)}`)}>
              <td className="px-4 py-2.5"><StatusBadge status={j.status} /></td>
              <td className="px-4 py-2.5">
                <span className="font-medium text-slate-900">{j.connector}</span>
                <span className="text-slate-500"> / </span>
                <span className="font-mono text-xs">{j.tool}</span>
                {j.schedule_id && <span className="ml-2 text-xs text-slate-400">scheduled</span>}
              </td>
              <td className="hidden px-4 py-2.5 text-slate-600 sm:table-cell">{fmtRelative(j.queued_at)}</td>
              <td className="hidden px-4 py-2.5 text-slate-600 md:table-cell">{j.started_at ? fmtDuration(j.started_at, j.finished_at) : '—'}</td>
              <td className="px-4 py-2.5 text-right">
                <Link to={`/dashboard/jobs/${encodeURIComponent(j.id)}`} className="text-indigo-600 hover:text-indigo-500" onClick={(e) => e.stopPropagation()}>
                  Details<span className="sr-only"> of job {j.id}</span>
                </Link>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

export default function Dashboard() {
  const [params, setParams] = useSearchParams();
  const [cursor, setCursor] = useState<string | undefined>();
  const filters: JobFilters = {
    status: params.get('status') || undefined,
    connector: params.get('connector') || undefined,
    tool: params.get('tool') || undefined,
    limit: 50,
    cursor,
  };
  const set = (k: string, v: string) => {
    const p = new URLSearchParams(params);
    if (v) p.set(k, v);
    else p.delete(k);
    setCursor(undefined);
    setParams(p, { replace: true });
  };
  const jobs = useQuery({ queryKey: qk.jobs(filters), queryFn: () => api.jobs(filters), placeholderData: (p) => p });

  // Counts and chart cover the last 24 hours (paged, up to 1000 jobs); the
  // live updater inserts new jobs into this list too, so they stay current.
  const [since] = useState(() => new Date(Date.now() - DAY).toISOString());
  const recentFilters: JobFilters = { since, limit: JOBS_PAGE_MAX };
  const recent = useQuery({ queryKey: qk.jobs(recentFilters), queryFn: () => fetchJobsSince(api, since) });
  const stats = useMemo(() => {
    const items = recent.data?.items ?? [];
    return { ...countJobs(items), more: !!recent.data?.next_cursor, buckets: bucketize(items, Date.now()) };
  }, [recent.data]);
  const n = (v: number, more = false) => (recent.isPending ? '…' : more ? `${v}+` : v);

  return (
    <>
      <PageHeader title="Dashboard" description="Every tool run, as it happens." />
      {recent.error ? (
        <div className="mb-6"><ErrorState error={recent.error} onRetry={() => recent.refetch()} /></div>
      ) : (
        <>
          <dl className="mb-6 grid grid-cols-2 gap-3 lg:grid-cols-4">
            <Stat testId="stat-total" label="Runs (24 h)" value={n(stats.total, stats.more)} />
            <Stat testId="stat-in-progress" label="In progress" value={n(stats.inProgress)} tone="text-indigo-700" />
            <Stat testId="stat-succeeded" label="Succeeded" value={n(stats.succeeded)} tone="text-emerald-700" />
            <Stat testId="stat-failed" label="Failed" value={n(stats.failed)} tone="text-red-700" />
          </dl>
          <Card className="mb-8 p-4">
            <h2 className="mb-2 text-sm font-semibold text-slate-900">Runs and failures, last 24 hours</h2>
            {recent.isPending ? <Loading /> : <RunChart buckets={stats.buckets} />}
          </Card>
        </>
      )}
      <section aria-labelledby="jobs-h">
        <div className="mb-3 flex flex-col gap-3 sm:flex-row sm:items-end">
          <h2 id="jobs-h" className="flex-1 font-semibold text-slate-900">Jobs</h2>
          <div className="grid grid-cols-3 gap-2 sm:w-[36rem]">
            <Field label="Status">
              {({ id }) => (
                <Select id={id} value={filters.status ?? ''} onChange={(e) => set('status', e.target.value)}>
                  <option value="">Any</option>
                  {STATUSES.map((s) => <option key={s}>{s}</option>)}
                </Select>
              )}
            </Field>
            <Field label="Connector">
              {({ id }) => <Input id={id} value={filters.connector ?? ''} onChange={(e) => set('connector', e.target.value.trim())} placeholder="slug" />}
            </Field>
            <Field label="Tool">
              {({ id }) => <Input id={id} value={filters.tool ?? ''} onChange={(e) => set('tool', e.target.value.trim())} placeholder="name" />}
            </Field>
          </div>
        </div>
        <Card>
          {jobs.isPending ? (
            <Loading label="Loading jobs…" />
          ) : jobs.error || !jobs.data ? (
            <div className="p-4"><ErrorState error={jobs.error} onRetry={() => jobs.refetch()} /></div>
          ) : jobs.data.items.length === 0 ? (
            <div className="p-4">
              <Empty title="No jobs yet" action={<Link className="text-sm font-medium text-indigo-600" to="/connectors">Run a tool</Link>}>
                {filters.status || filters.connector || filters.tool ? 'No job matches these filters.' : 'Jobs appear here the moment they are queued.'}
              </Empty>
            </div>
          ) : (
            <>
              <JobsTable jobs={jobs.data.items} />
              {(cursor || jobs.data.next_cursor) && (
                <div className="flex justify-between border-t border-slate-100 px-4 py-2">
                  <Button variant="ghost" size="sm" disabled={!cursor} onClick={() => setCursor(undefined)}>Newest</Button>
                  <Button variant="ghost" size="sm" disabled={!jobs.data.next_cursor} onClick={() => setCursor(jobs.data?.next_cursor ?? undefined)}>Older</Button>
                </div>
              )}
            </>
          )}
        </Card>
      </section>
    </>
  );
}
