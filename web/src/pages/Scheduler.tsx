import { useMemo, useState, type FormEvent } from 'react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { Link } from 'react-router';
import { api, itemsOf } from '../api';
import { MISFIRES, OVERLAPS, SCHEDULE_INPUT_FIELDS, type Misfire, type Overlap, type Schedule, type ScheduleInput } from '../api/types';
import { scheduleInput } from '../lib/schedules';
import { zonesWith } from '../lib/zones';
import { qk } from '../live/cache';
import { CRON_PRESETS, CronPreview } from '../components/CronPreview';
import { fmtRelative, fmtTime } from '../components/format';
import { useToast } from '../components/toast';
import { Badge, Button, Card, Empty, Field, FormError, Input, Loading, Modal, PageHeader, QueryView, Select, StatusBadge, TextField } from '../components/ui';
import { useFocusFirstInvalid } from '../lib/focus';
import { fieldErrors, unmatchedErrors } from '../lib/formErrors';
import { SchemaForm } from '../schema-form/SchemaForm';
import { cleanValue, initialValue } from '../schema-form/schema';

const OVERLAP_LABELS: Record<Overlap, string> = { skip: 'Skip this run', allow: 'Run anyway' };
const MISFIRE_LABELS: Record<Misfire, string> = { run_once: 'Run once to catch up', skip: 'Skip missed runs' };

function ScheduleForm({ initial, onDone }: { initial?: Schedule; onDone: () => void }) {
  const qc = useQueryClient();
  const toast = useToast();
  const [v, setV] = useState<ScheduleInput>(() => scheduleInput(initial));
  const set = <K extends keyof ScheduleInput>(k: K, x: ScheduleInput[K]) => setV((o) => ({ ...o, [k]: x }));
  const conns = useQuery({ queryKey: qk.connections, queryFn: () => api.connections({ limit: 200 }) });
  const connections = itemsOf(conns.data);
  const slugs = Array.from(new Set(connections.filter((c) => c.status !== 'revoked' || c.connector === v.connector).map((c) => c.connector)));
  const connector = useQuery({ queryKey: qk.connector(v.connector), queryFn: () => api.connector(v.connector), enabled: !!v.connector });
  const tool = connector.data?.tools.find((t) => t.name === v.tool);
  const save = useMutation({
    mutationFn: () => {
      const body: ScheduleInput = { ...v, arguments: (cleanValue(v.arguments) as Record<string, unknown>) ?? {} };
      return initial ? api.updateSchedule(initial.id, body) : api.createSchedule(body);
    },
    onSuccess: () => {
      toast.success(initial ? 'Schedule saved.' : 'Schedule created.');
      void qc.invalidateQueries({ queryKey: qk.schedules });
      onDone();
    },
  });
  const errs = fieldErrors(save.error);
  useFocusFirstInvalid(save.error, 'form[aria-label="Schedule"]');
  const argErrs = fieldErrors(save.error, 'arguments');
  // Argument errors come with paths relative to the arguments (shown in the form below).
  const fields: string[] = [...SCHEDULE_INPUT_FIELDS, ...Object.keys(tool?.input_schema?.properties ?? {})];
  const stray = unmatchedErrors(errs, fields);
  const onSubmit = (e: FormEvent) => {
    e.preventDefault();
    save.mutate();
  };
  return (
    <form aria-label="Schedule" className="space-y-4" onSubmit={onSubmit} noValidate>
      {stray.length > 0 && <FormError error={new Error(stray.join(' · '))} />}
      <TextField label="Name" required value={v.name} onChange={(e) => set('name', e.target.value)} error={errs.name} />
      <Field label="Cron expression" required error={errs.cron} hint="minute hour day-of-month month day-of-week">
        {({ id, describedBy, invalid }) => (
          <>
            <Input id={id} className="font-mono" aria-describedby={[describedBy, 'cron-preview'].filter(Boolean).join(' ')} aria-invalid={invalid} value={v.cron} onChange={(e) => set('cron', e.target.value)} />
            <div className="flex flex-wrap gap-1.5 pt-1" role="group" aria-label="Presets">
              {CRON_PRESETS.map((p) => (
                <button key={p.cron} type="button" onClick={() => set('cron', p.cron)} className="rounded-full px-2.5 py-0.5 text-xs text-slate-700 ring-1 ring-slate-300 hover:bg-slate-100">
                  {p.label}
                </button>
              ))}
            </div>
          </>
        )}
      </Field>
      <Field label="Time zone" required error={errs.timezone}>
        {({ id, describedBy, invalid }) => (
          <Select id={id} aria-describedby={describedBy} aria-invalid={invalid} value={v.timezone} onChange={(e) => set('timezone', e.target.value)}>
            {zonesWith(v.timezone).map((z) => <option key={z}>{z}</option>)}
          </Select>
        )}
      </Field>
      <CronPreview id="cron-preview" cron={v.cron} timezone={v.timezone} />
      <div className="grid gap-4 sm:grid-cols-2">
        <Field label="Connector" required error={errs.connector}>
          {({ id, describedBy, invalid }) => (
            <Select id={id} aria-describedby={describedBy} aria-invalid={invalid} value={v.connector} onChange={(e) => setV((o) => ({ ...o, connector: e.target.value, tool: '', connection_id: '', arguments: {} }))}>
              <option value="">Choose…</option>
              {slugs.map((s) => <option key={s}>{s}</option>)}
            </Select>
          )}
        </Field>
        <Field label="Connection" required error={errs.connection_id}>
          {({ id, describedBy, invalid }) => (
            <Select id={id} aria-describedby={describedBy} aria-invalid={invalid} value={v.connection_id} onChange={(e) => set('connection_id', e.target.value)} disabled={!v.connector}>
              <option value="">Choose…</option>
              {connections.filter((c) => c.connector === v.connector && (c.status !== 'revoked' || c.id === v.connection_id)).map((c) => <option key={c.id} value={c.id}>{c.label}{c.status !== 'active' ? ` (${c.status})` : ''}</option>)}
            </Select>
          )}
        </Field>
      </div>
      {conns.data && slugs.length === 0 && (
        <p className="text-sm text-amber-800">
          You have no connections yet. <Link className="font-medium text-indigo-600" to="/connectors">Connect a tool</Link> first.
        </p>
      )}
      <Field label="Tool" required error={errs.tool}>
        {({ id, describedBy, invalid }) => (
          <Select id={id} aria-describedby={describedBy} aria-invalid={invalid} value={v.tool} disabled={!connector.data} onChange={(e) => {
            const t = connector.data?.tools.find((x) => x.name === e.target.value);
            setV((o) => ({ ...o, tool: e.target.value, arguments: (initialValue(t?.input_schema, true) as Record<string, unknown>) ?? {} }));
          }}>
            <option value="">Choose…</option>
            {connector.data?.tools.map((t) => <option key={t.name}>{t.name}</option>)}
          </Select>
        )}
      </Field>
      {tool && (
        <div className="rounded-lg border border-slate-200 p-4">
          <p className="mb-3 text-sm font-semibold text-slate-800">Arguments</p>
          <SchemaForm schema={tool.input_schema} value={v.arguments} onChange={(x) => set('arguments', (x as Record<string, unknown>) ?? {})} errors={argErrs} idPrefix="sched-args" />
        </div>
      )}
      <div className="grid gap-4 sm:grid-cols-2">
        <Field label="If the last run is still going" error={errs.overlap}>
          {({ id, describedBy }) => (
            <Select id={id} aria-describedby={describedBy} value={v.overlap} onChange={(e) => set('overlap', e.target.value as Overlap)}>
              {OVERLAPS.map((o) => <option key={o} value={o}>{OVERLAP_LABELS[o]}</option>)}
            </Select>
          )}
        </Field>
        <Field label="After downtime" error={errs.misfire}>
          {({ id, describedBy }) => (
            <Select id={id} aria-describedby={describedBy} value={v.misfire} onChange={(e) => set('misfire', e.target.value as Misfire)}>
              {MISFIRES.map((m) => <option key={m} value={m}>{MISFIRE_LABELS[m]}</option>)}
            </Select>
          )}
        </Field>
      </div>
      <Field label="Pause after this many failed runs in a row" hint="0 never pauses." error={errs.max_failures}>
        {({ id, describedBy, invalid }) => (
          <Input id={id} type="number" min={0} max={1000} step={1} className="w-32" aria-describedby={describedBy} aria-invalid={invalid} value={Number.isFinite(v.max_failures) ? v.max_failures : ''} onChange={(e) => set('max_failures', e.target.value === '' ? NaN : Number(e.target.value))} />
        )}
      </Field>
      <label className="flex items-center gap-2 text-sm text-slate-700">
        <input type="checkbox" checked={v.enabled} onChange={(e) => set('enabled', e.target.checked)} className="h-4 w-4 rounded border-slate-300 text-indigo-600" />
        Enabled
      </label>
      <div className="flex justify-end gap-2 pt-2">
        <Button variant="secondary" onClick={onDone}>Cancel</Button>
        <Button type="submit" busy={save.isPending}>{initial ? 'Save' : 'Create schedule'}</Button>
      </div>
    </form>
  );
}

function History({ s }: { s: Schedule }) {
  const q = useQuery({ queryKey: qk.scheduleRuns(s.id), queryFn: () => api.scheduleRuns(s.id, { limit: 20 }) });
  return (
    <QueryView q={q} isEmpty={(d) => d.items.length === 0} empty={<p className="text-sm text-slate-500">No runs yet.</p>}>
      {(d) => (
        <ul className="divide-y divide-slate-100">
          {d.items.map((j) => (
            <li key={j.id} className="flex items-center gap-3 py-2 text-sm">
              <StatusBadge status={j.status} />
              <span className="text-slate-600">{fmtTime(j.queued_at)}</span>
              <Link className="ml-auto text-indigo-600" to={`/dashboard/jobs/${encodeURIComponent(j.id)}`}>Details<span className="sr-only"> of the run at {fmtTime(j.queued_at)}</span></Link>
            </li>
          ))}
        </ul>
      )}
    </QueryView>
  );
}

function ScheduleRow({ s, onEdit }: { s: Schedule; onEdit: () => void }) {
  const qc = useQueryClient();
  const toast = useToast();
  const [history, setHistory] = useState(false);
  const [confirm, setConfirm] = useState(false);
  const act = useMutation({
    mutationFn: async (what: 'pause' | 'resume' | 'run' | 'delete') => {
      if (what === 'pause') await api.pauseSchedule(s.id);
      else if (what === 'resume') await api.resumeSchedule(s.id);
      else if (what === 'run') await api.runSchedule(s.id);
      else await api.deleteSchedule(s.id);
      return what;
    },
    onSuccess: (what) => {
      toast.success({ pause: 'Schedule paused.', resume: 'Schedule resumed.', run: 'Run queued.', delete: 'Schedule deleted.' }[what]);
      void qc.invalidateQueries({ queryKey: qk.schedules });
      void qc.invalidateQueries({ queryKey: qk.scheduleRuns(s.id) });
      setConfirm(false);
    },
    onError: toast.error,
  });
  return (
    <li data-testid="schedule-row">
      <Card className="p-4">
        <div className="flex flex-col gap-3 md:flex-row md:items-center">
          <div className="min-w-0 flex-1">
            <div className="flex flex-wrap items-center gap-2">
              <span className="font-semibold text-slate-900">{s.name}</span>
              {s.enabled ? <StatusBadge status="active" /> : <StatusBadge status="paused" />}
              <Badge><code>{s.cron}</code></Badge>
              <span className="text-xs text-slate-500">{s.timezone}</span>
            </div>
            <p className="mt-1 text-sm text-slate-600">
              {s.connector} / <span className="font-mono text-xs">{s.tool}</span>
              {s.next_run_at && s.enabled && <> · next {fmtRelative(s.next_run_at)} ({fmtTime(s.next_run_at)})</>}
              {s.last_run_at && <> · last run {fmtRelative(s.last_run_at)}</>}
            </p>
            {!s.enabled && s.paused_reason && <p className="mt-1 text-sm text-amber-800" data-testid="paused-reason">{s.paused_reason}</p>}
            {s.enabled && (s.consecutive_failures ?? 0) > 0 && (
              <p className="mt-1 text-sm text-amber-800">
                {s.consecutive_failures} failed run{s.consecutive_failures === 1 ? '' : 's'} in a row{s.max_failures > 0 ? `; pauses at ${s.max_failures}` : ''}.
              </p>
            )}
          </div>
          <div className="flex flex-wrap gap-2">
            <Button size="sm" variant="secondary" onClick={onEdit}>Edit</Button>
            {s.enabled ? (
              <Button size="sm" variant="secondary" busy={act.isPending && act.variables === 'pause'} onClick={() => act.mutate('pause')}>Pause</Button>
            ) : (
              <Button size="sm" variant="secondary" busy={act.isPending && act.variables === 'resume'} onClick={() => act.mutate('resume')}>Resume</Button>
            )}
            <Button size="sm" busy={act.isPending && act.variables === 'run'} onClick={() => act.mutate('run')}>Run now</Button>
            <Button size="sm" variant="ghost" aria-expanded={history} onClick={() => setHistory((h) => !h)}>History</Button>
            <Button size="sm" variant="danger" onClick={() => setConfirm(true)}>Delete</Button>
          </div>
        </div>
        {history && <div className="mt-4 border-t border-slate-100 pt-3"><History s={s} /></div>}
      </Card>
      <Modal open={confirm} onClose={() => setConfirm(false)} title="Delete this schedule?" footer={<><Button variant="secondary" onClick={() => setConfirm(false)}>Keep it</Button><Button variant="danger" busy={act.isPending} onClick={() => act.mutate('delete')}>Delete</Button></>}>
        <p className="text-sm text-slate-600">“{s.name}” stops running. Past runs stay in the dashboard.</p>
      </Modal>
    </li>
  );
}

export default function Scheduler() {
  const q = useQuery({ queryKey: qk.schedules, queryFn: () => api.schedules({ limit: 200 }) });
  const [editing, setEditing] = useState<Schedule | 'new' | null>(null);
  const title = useMemo(() => (editing === 'new' ? 'New schedule' : editing ? `Edit ${editing.name}` : ''), [editing]);
  return (
    <>
      <PageHeader title="Scheduler" description="Run tools on a cron schedule, in any time zone." actions={<Button onClick={() => setEditing('new')}>New schedule</Button>} />
      <QueryView q={q} loadingLabel="Loading schedules…" isEmpty={(d) => d.items.length === 0} empty={<Empty title="No schedules yet" action={<Button onClick={() => setEditing('new')}>Create one</Button>}>Schedules run a tool for you at the times you pick.</Empty>}>
        {(d) => <ul className="space-y-3" aria-label="Schedules">{d.items.map((s) => <ScheduleRow key={s.id} s={s} onEdit={() => setEditing(s)} />)}</ul>}
      </QueryView>
      <Modal open={editing !== null} onClose={() => setEditing(null)} title={title}>
        {editing === null ? <Loading /> : <ScheduleForm initial={editing === 'new' ? undefined : editing} onDone={() => setEditing(null)} />}
      </Modal>
    </>
  );
}
