import { useState, type FormEvent } from 'react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { Link, useParams } from 'react-router';
import { api, itemsOf } from '../api';
import type { Connection, ConnectorDetail as CD, Job, Tool } from '../api/types';
import { mergeJob, qk } from '../live/cache';
import { ConnectForm } from '../components/ConnectForm';
import { HealthBadge, useHealth } from '../components/Health';
import { JobPanel } from '../components/JobView';
import { useToast } from '../components/toast';
import { Badge, Button, Card, Empty, ErrorState, Field, FormError, Loading, Select, StatusBadge } from '../components/ui';
import { useFocusFirstInvalid } from '../lib/focus';
import { fieldErrors, unmatchedErrors } from '../lib/formErrors';
import { SchemaForm } from '../schema-form/SchemaForm';
import { cleanValue, initialValue } from '../schema-form/schema';
import { AUTH_LABELS, ConnectorIcon } from './Connectors';

function ToolCard({ connector, tool, connections }: { connector: CD; tool: Tool; connections: Connection[] }) {
  const toast = useToast();
  const qc = useQueryClient();
  const [open, setOpen] = useState(false);
  const [args, setArgs] = useState<unknown>(() => initialValue(tool.input_schema, true) ?? {});
  const usable = connections.filter((c) => c.status === 'active' || c.status === 'pending');
  const [connId, setConnId] = useState('');
  const selected = connId || usable[0]?.id || '';
  const [jobId, setJobId] = useState<string | null>(null);
  const exec = useMutation({
    mutationFn: () => api.execute(connector.slug, tool.name, selected, cleanValue(args) ?? {}),
    onSuccess: (r) => {
      // Start from the job as enqueued; the stream and the panel's fetch add to it.
      // Marked stale (updatedAt 0) so the panel still fetches it once, for
      // the events the stream may have sent before this answer came.
      qc.setQueryData<Job>(qk.job(r.job.id), (old) => mergeJob(old, r.job), { updatedAt: 0 });
      setJobId(r.job.id);
      toast.info(`Running ${tool.name}…`);
    },
    onError: (e) => {
      const f = fieldErrors(e, 'arguments');
      if (Object.keys(f).length === 0) toast.error(e);
    },
  });
  const errs = fieldErrors(exec.error, 'arguments');
  // Focus moves to the first field in error.
  useFocusFirstInvalid(exec.error, `[id="tool-${tool.name.replace(/["\\]/g, '\\$&')}"]`);
  const props = Object.keys(tool.input_schema?.properties ?? {});
  const stray = unmatchedErrors(errs, [...props, 'connection_id']);
  const onSubmit = (e: FormEvent) => {
    e.preventDefault();
    exec.mutate();
  };
  const panelId = `tool-${tool.name}`;
  return (
    <Card>
      <h3>
        <button type="button" aria-expanded={open} aria-controls={panelId} onClick={() => setOpen((o) => !o)} className="flex w-full items-start gap-3 p-4 text-left">
          <span className="min-w-0 flex-1">
            <span className="block font-mono text-sm font-semibold text-slate-900">{tool.name}</span>
            <span className="mt-0.5 block text-sm font-normal text-slate-600">{tool.description}</span>
          </span>
          <svg aria-hidden="true" viewBox="0 0 20 20" className={`mt-1 h-4 w-4 shrink-0 text-slate-400 transition ${open ? 'rotate-180' : ''}`} fill="currentColor">
            <path d="M5.2 7.2a1 1 0 0 1 1.4 0L10 10.6l3.4-3.4a1 1 0 1 1 1.4 1.4l-4.1 4.1a1 1 0 0 1-1.4 0L5.2 8.6a1 1 0 0 1 0-1.4Z" />
          </svg>
        </button>
      </h3>
      {open && (
        <div id={panelId} className="space-y-5 border-t border-slate-100 p-4">
          <form onSubmit={onSubmit} noValidate className="space-y-4" aria-label={`Run ${tool.name}`}>
            {stray.length > 0 && <FormError error={new Error(stray.join(' · '))} />}
            {usable.length === 0 ? (
              <p className="rounded-md bg-amber-50 px-3 py-2 text-sm text-amber-800 ring-1 ring-amber-200">Connect {connector.name} first (above) to run its tools.</p>
            ) : (
              <Field label="Connection" required error={errs.connection_id}>
                {({ id, describedBy, invalid }) => (
                  <Select id={id} aria-describedby={describedBy} aria-invalid={invalid} value={selected} onChange={(e) => setConnId(e.target.value)}>
                    {usable.map((c) => (
                      <option key={c.id} value={c.id}>
                        {c.label}
                      </option>
                    ))}
                  </Select>
                )}
              </Field>
            )}
            <SchemaForm schema={tool.input_schema ?? { type: 'object' }} value={args} onChange={setArgs} errors={errs} idPrefix={`t-${tool.name}`} />
            <Button type="submit" busy={exec.isPending} disabled={usable.length === 0}>
              Run tool
            </Button>
          </form>
          {jobId && (
            <div className="rounded-lg bg-slate-50 p-4 ring-1 ring-slate-200">
              <JobPanel id={jobId} compact />
            </div>
          )}
        </div>
      )}
    </Card>
  );
}

export default function ConnectorDetail() {
  const { slug = '' } = useParams();
  const q = useQuery({ queryKey: qk.connector(slug), queryFn: () => api.connector(slug) });
  const conns = useQuery({ queryKey: qk.connections, queryFn: () => api.connections({ limit: 200 }) });
  const health = useHealth();
  if (q.isPending) return <Loading label="Loading connector…" />;
  if (q.error || !q.data) return <ErrorState error={q.error} onRetry={() => q.refetch()} />;
  const c = q.data;
  const mine = itemsOf(conns.data).filter((x) => x.connector === c.slug && x.status !== 'revoked');
  return (
    <>
      <nav aria-label="Breadcrumb" className="mb-4 text-sm">
        <Link to="/connectors" className="text-indigo-600 hover:text-indigo-500">
          Connectors
        </Link>
        <span className="mx-2 text-slate-400">/</span>
        <span className="text-slate-600">{c.name}</span>
      </nav>
      <div className="mb-8 flex flex-col gap-4 sm:flex-row sm:items-start">
        <ConnectorIcon name={c.name} icon={c.icon} />
        <div className="min-w-0 flex-1">
          <h1 className="text-2xl font-semibold tracking-tight text-slate-900">{c.name}</h1>
          <p className="mt-1 max-w-3xl text-sm text-slate-600">{c.description}</p>
          <div className="mt-3 flex flex-wrap gap-2">
            <Badge color="indigo">{AUTH_LABELS[c.auth_type] ?? c.auth_type}</Badge>
            {c.category && <Badge>{c.category}</Badge>}
            <Badge>{c.source}</Badge>
            <HealthBadge row={health.get(c.slug)} />
          </div>
        </div>
      </div>
      <div className="grid gap-8 lg:grid-cols-[20rem_1fr]">
        <section aria-labelledby="connect-h" className="space-y-4">
          <Card className="p-4">
            <h2 id="connect-h" className="mb-3 font-semibold text-slate-900">
              {mine.length ? 'Add another connection' : 'Connect'}
            </h2>
            <ConnectForm connector={c} />
          </Card>
          {mine.length > 0 && (
            <Card className="p-4">
              <h2 className="mb-2 font-semibold text-slate-900">Your connections</h2>
              <ul className="divide-y divide-slate-100">
                {mine.map((m) => (
                  <li key={m.id} className="flex items-center justify-between gap-2 py-2 text-sm">
                    <span className="truncate">{m.label}</span>
                    <StatusBadge status={m.status} />
                  </li>
                ))}
              </ul>
              <Link to="/connections" className="mt-2 inline-block text-sm font-medium text-indigo-600">
                Manage connections
              </Link>
            </Card>
          )}
        </section>
        <section aria-labelledby="tools-h">
          <h2 id="tools-h" className="mb-3 font-semibold text-slate-900">
            Tools <span className="font-normal text-slate-500">({c.tools.length})</span>
          </h2>
          {c.tools.length === 0 ? (
            <Empty title="No tools yet">This connector has not listed its tools.</Empty>
          ) : (
            <div className="space-y-3">
              {c.tools.map((t) => (
                <ToolCard key={t.name} connector={c} tool={t} connections={mine} />
              ))}
            </div>
          )}
        </section>
      </div>
    </>
  );
}
