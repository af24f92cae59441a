import { useState, type FormEvent } from 'react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { api, itemsOf } from '../api';
import type { DeliveryAttempt, Webhook, WebhookDelivery, WebhookEventType, WebhookInput } from '../api/types';
import { qk } from '../live/cache';
import { fmtRelative, fmtTime } from '../components/format';
import { useToast } from '../components/toast';
import { Badge, Button, Card, CopyField, Empty, Field, FormError, JsonBlock, Loading, Modal, PageHeader, QueryView, Select, StatusBadge, Textarea, TextField } from '../components/ui';
import { useFocusFirstInvalid } from '../lib/focus';
import { fieldErrors, unmatchedErrors } from '../lib/formErrors';

function parseHeaders(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const i = line.indexOf(':');
    if (i <= 0) continue;
    out[line.slice(0, i).trim()] = line.slice(i + 1).trim();
  }
  return out;
}

function evName(e: WebhookEventType | string): string {
  return typeof e === 'string' ? e : e.name;
}

function WebhookForm({ initial, onDone }: { initial?: Webhook; onDone: (secret?: string) => void }) {
  const qc = useQueryClient();
  const toast = useToast();
  const types = useQuery({ queryKey: qk.eventTypes, queryFn: api.webhookEventTypes, staleTime: 300_000 });
  const [url, setUrl] = useState(initial?.url ?? '');
  const [description, setDescription] = useState(initial?.description ?? '');
  const [events, setEvents] = useState<string[]>(initial?.event_types ?? []);
  const [template, setTemplate] = useState(initial?.template ?? '');
  const [headers, setHeaders] = useState(Object.entries(initial?.headers ?? {}).map(([k, v]) => `${k}: ${v}`).join('\n'));
  const [enabled, setEnabled] = useState(initial?.enabled ?? true);
  const save = useMutation({
    mutationFn: async () => {
      const body: WebhookInput = { url, description, event_types: events, enabled, template: template.trim() ? template : null, headers: parseHeaders(headers) };
      return initial ? { hook: await api.updateWebhook(initial.id, body), secret: undefined } : (async () => { const h = await api.createWebhook(body); return { hook: h, secret: h.secret }; })();
    },
    onSuccess: ({ secret }) => {
      toast.success(initial ? 'Webhook saved.' : 'Webhook created.');
      void qc.invalidateQueries({ queryKey: qk.webhooks });
      onDone(secret);
    },
  });
  const errs = fieldErrors(save.error);
  useFocusFirstInvalid(save.error, 'form[aria-label="Webhook"]');
  const stray = unmatchedErrors(errs, ['url', 'description', 'event_types', 'template', 'headers', 'enabled']);
  const all = itemsOf(types.data);
  const onSubmit = (e: FormEvent) => {
    e.preventDefault();
    save.mutate();
  };
  return (
    <form aria-label="Webhook" className="space-y-4" onSubmit={onSubmit} noValidate>
      {stray.length > 0 && <FormError error={new Error(stray.join(' · '))} />}
      <TextField label="Endpoint URL" type="url" required placeholder="https://example.com/hooks/toolconnect" value={url} onChange={(e) => setUrl(e.target.value)} error={errs.url} />
      <TextField label="Description" value={description} onChange={(e) => setDescription(e.target.value)} error={errs.description} />
      <fieldset aria-describedby={errs.event_types ? 'wh-events-err' : undefined}>
        <legend className="text-sm font-medium text-slate-700">Events<span className="ml-0.5 text-red-600" aria-hidden="true">*</span><span className="sr-only"> (required)</span></legend>
        {types.isPending ? <Loading /> : types.error ? <p className="text-sm text-red-700">Could not load event types.</p> : (
          <div className="mt-2 grid gap-1.5 sm:grid-cols-2">
            {all.map((t) => {
              const name = evName(t);
              return (
                <label key={name} className="flex items-start gap-2 text-sm text-slate-700">
                  <input type="checkbox" className="mt-0.5 h-4 w-4 rounded border-slate-300 text-indigo-600" checked={events.includes(name)} onChange={(e) => setEvents((x) => (e.target.checked ? [...x, name] : x.filter((n) => n !== name)))} />
                  <span><code className="text-xs">{name}</code>{typeof t !== 'string' && t.description && <span className="block text-xs text-slate-500">{t.description}</span>}</span>
                </label>
              );
            })}
          </div>
        )}
        {errs.event_types && <p id="wh-events-err" className="mt-1 text-xs font-medium text-red-600">{errs.event_types}</p>}
      </fieldset>
      <Field label="Custom headers" hint="One per line, as Name: value." error={errs.headers}>
        {({ id, describedBy, invalid }) => <Textarea id={id} rows={2} aria-describedby={describedBy} aria-invalid={invalid} value={headers} onChange={(e) => setHeaders(e.target.value)} />}
      </Field>
      <Field label="Body template" hint="Optional. {{path}} inserts a value from the event, e.g. {{data.job.status}}. Empty sends the standard envelope." error={errs.template}>
        {({ id, describedBy, invalid }) => <Textarea id={id} rows={3} aria-describedby={describedBy} aria-invalid={invalid} value={template} onChange={(e) => setTemplate(e.target.value)} />}
      </Field>
      <label className="flex items-center gap-2 text-sm text-slate-700">
        <input type="checkbox" checked={enabled} onChange={(e) => setEnabled(e.target.checked)} className="h-4 w-4 rounded border-slate-300 text-indigo-600" />
        Enabled
      </label>
      <div className="flex justify-end gap-2 pt-2">
        <Button variant="secondary" onClick={() => onDone()}>Cancel</Button>
        <Button type="submit" busy={save.isPending}>{initial ? 'Save' : 'Create webhook'}</Button>
      </div>
    </form>
  );
}

function Attempt({ a }: { a: DeliveryAttempt }) {
  const ok = a.status_code !== null && a.status_code >= 200 && a.status_code < 300;
  return (
    <li className="rounded-md bg-slate-50 px-3 py-2 ring-1 ring-slate-200" data-testid="delivery-attempt">
      <div className="flex flex-wrap items-center gap-x-3 gap-y-1 text-xs text-slate-700">
        <span className="font-medium">Attempt {a.attempt}</span>
        <StatusBadge status={ok ? 'succeeded' : 'failed'} label={a.status_code !== null ? `HTTP ${a.status_code}` : 'no answer'} />
        {a.duration_ms !== null && <span>{a.duration_ms} ms</span>}
        <span className="text-slate-500">{fmtTime(a.created_at)}</span>
      </div>
      {a.error && <p className="mt-1 text-xs text-red-700">{a.error}</p>}
      {a.response_body && (
        <details className="mt-1">
          <summary className="cursor-pointer text-xs text-slate-500">Response</summary>
          <JsonBlock value={[a.response_headers?.trim(), a.response_body].filter(Boolean).join('\n\n')} />
        </details>
      )}
    </li>
  );
}

function Delivery({ d }: { d: WebhookDelivery }) {
  const qc = useQueryClient();
  const toast = useToast();
  const retry = useMutation({
    mutationFn: () => api.retryDelivery(d.id),
    onSuccess: () => {
      toast.success('Delivery queued again.');
      void qc.invalidateQueries({ queryKey: ['webhook', d.webhook_id] });
    },
    onError: toast.error,
  });
  const attempts = d.attempts ?? [];
  const count = d.attempt_count ?? attempts.length;
  return (
    <li className="py-3" data-testid="delivery-row" data-status={d.status}>
      <div className="flex flex-wrap items-center gap-2 text-sm">
        <StatusBadge status={d.status} />
        <code className="text-xs">{d.event_type}</code>
        <span className="text-slate-500">{fmtTime(d.created_at)}</span>
        <span className="text-slate-500">
          · {count} attempt{count === 1 ? '' : 's'}
          {d.last_status_code != null && <> · last HTTP {d.last_status_code}</>}
        </span>
        {d.status === 'pending' && d.next_attempt_at && <span className="text-slate-500">· next try {fmtRelative(d.next_attempt_at)}</span>}
        {d.status === 'failed' && (
          <Button size="sm" variant="secondary" className="ml-auto" busy={retry.isPending} onClick={() => retry.mutate()}>
            Retry<span className="sr-only"> delivery of {d.event_type} from {fmtTime(d.created_at)}</span>
          </Button>
        )}
      </div>
      {d.last_error && d.status !== 'succeeded' && <p className="mt-1 text-xs text-red-700">{d.last_error}</p>}
      {(attempts.length > 0 || d.payload !== undefined) && (
        <details className="mt-1">
          <summary className="cursor-pointer text-xs text-slate-500">Attempts and payload</summary>
          {attempts.length > 0 && <ol className="mt-2 space-y-1.5" aria-label="Attempts, newest first">{attempts.map((a) => <Attempt key={a.attempt} a={a} />)}</ol>}
          {d.payload !== undefined && (
            <div className="mt-2">
              <p className="mb-1 text-xs font-medium text-slate-600">Payload{d.webhook_message_id && <> · <code>{d.webhook_message_id}</code></>}</p>
              <JsonBlock value={d.payload} label="Payload" />
            </div>
          )}
        </details>
      )}
    </li>
  );
}

function Deliveries({ hook }: { hook: Webhook }) {
  const [status, setStatus] = useState('');
  // Deliveries are not on the live stream: refresh while one is on its way.
  const q = useQuery({
    queryKey: qk.deliveries(hook.id, status),
    queryFn: () => api.deliveries(hook.id, { status: status || undefined, limit: 50 }),
    refetchInterval: (x) => (x.state.data?.items.some((d) => d.status === 'pending') ? 2000 : 15000),
  });
  return (
    <div>
      <div className="mb-2 flex items-center justify-between gap-2">
        <h3 className="text-sm font-semibold text-slate-900">Deliveries</h3>
        <Field label={<span className="sr-only">Delivery status</span>} className="w-40">
          {({ id }) => (
            <Select id={id} value={status} onChange={(e) => setStatus(e.target.value)}>
              <option value="">All</option>
              <option value="pending">Pending</option>
              <option value="succeeded">Succeeded</option>
              <option value="failed">Failed</option>
            </Select>
          )}
        </Field>
      </div>
      <QueryView q={q} loadingLabel="Loading deliveries…" isEmpty={(d) => d.items.length === 0} empty={<p className="text-sm text-slate-500">{status ? `No ${status} deliveries.` : 'No deliveries yet. Send a test to see one.'}</p>}>
        {(d) => <ul className="divide-y divide-slate-100" aria-label="Deliveries">{d.items.map((x) => <Delivery key={x.id} d={x} />)}</ul>}
      </QueryView>
    </div>
  );
}

function WebhookRow({ hook, onEdit, onSecret }: { hook: Webhook; onEdit: () => void; onSecret: (s: string) => void }) {
  const qc = useQueryClient();
  const toast = useToast();
  const [open, setOpen] = useState(false);
  const [confirm, setConfirm] = useState(false);
  const test = useMutation({
    mutationFn: () => api.testWebhook(hook.id),
    onSuccess: () => {
      toast.success('Test event sent.');
      setOpen(true);
      void qc.invalidateQueries({ queryKey: ['webhook', hook.id] });
    },
    onError: toast.error,
  });
  const rotate = useMutation({ mutationFn: () => api.rotateWebhookSecret(hook.id), onSuccess: (r) => onSecret(r.secret), onError: toast.error });
  const remove = useMutation({
    mutationFn: () => api.deleteWebhook(hook.id),
    onSuccess: () => {
      toast.success('Webhook deleted.');
      setConfirm(false);
      void qc.invalidateQueries({ queryKey: qk.webhooks });
    },
    onError: toast.error,
  });
  return (
    <li data-testid="webhook-row">
      <Card className="p-4">
        <div className="flex flex-col gap-3 md:flex-row md:items-center">
          <div className="min-w-0 flex-1">
            <div className="flex flex-wrap items-center gap-2">
              <span className="truncate font-mono text-sm font-semibold text-slate-900">{hook.url}</span>
              <StatusBadge status={hook.enabled ? 'enabled' : 'disabled'} />
            </div>
            {hook.description && <p className="mt-1 text-sm text-slate-600">{hook.description}</p>}
            {!hook.enabled && hook.disabled_reason && <p className="mt-1 text-sm text-amber-800" data-testid="webhook-disabled-reason">Turned off {fmtRelative(hook.disabled_at)}: {hook.disabled_reason}</p>}
            {hook.enabled && hook.failing_since && <p className="mt-1 text-sm text-amber-800">Deliveries failing since {fmtTime(hook.failing_since)}.</p>}
            {hook.previous_secret_expires_at && Date.parse(hook.previous_secret_expires_at) > Date.now() && <p className="mt-1 text-xs text-slate-500">The previous secret also signs until {fmtTime(hook.previous_secret_expires_at)}.</p>}
            <div className="mt-2 flex flex-wrap gap-1">{hook.event_types.map((t) => <Badge key={t}>{t}</Badge>)}</div>
          </div>
          <div className="flex flex-wrap gap-2">
            <Button size="sm" busy={test.isPending} onClick={() => test.mutate()}>Send test</Button>
            <Button size="sm" variant="secondary" onClick={onEdit}>Edit</Button>
            <Button size="sm" variant="secondary" busy={rotate.isPending} onClick={() => rotate.mutate()}>Rotate secret</Button>
            <Button size="sm" variant="ghost" aria-expanded={open} onClick={() => setOpen((o) => !o)}>Deliveries</Button>
            <Button size="sm" variant="danger" onClick={() => setConfirm(true)}>Delete</Button>
          </div>
        </div>
        {open && <div className="mt-4 border-t border-slate-100 pt-3"><Deliveries hook={hook} /></div>}
      </Card>
      <Modal open={confirm} onClose={() => setConfirm(false)} title="Delete this webhook?" footer={<><Button variant="secondary" onClick={() => setConfirm(false)}>Keep it</Button><Button variant="danger" busy={remove.isPending} onClick={() => remove.mutate()}>Delete</Button></>}>
        <p className="text-sm text-slate-600">No more events go to <code>{hook.url}</code>, and its delivery history is removed.</p>
      </Modal>
    </li>
  );
}

export default function Webhooks() {
  const q = useQuery({ queryKey: qk.webhooks, queryFn: () => api.webhooks({ limit: 200 }) });
  const [editing, setEditing] = useState<Webhook | 'new' | null>(null);
  const [secret, setSecret] = useState<string | null>(null);
  return (
    <>
      <PageHeader title="Webhooks" description="Signed HTTP callbacks (Standard Webhooks) when jobs, connections or health change." actions={<Button onClick={() => setEditing('new')}>New webhook</Button>} />
      <QueryView q={q} loadingLabel="Loading webhooks…" isEmpty={(d) => d.items.length === 0} empty={<Empty title="No webhooks yet" action={<Button onClick={() => setEditing('new')}>Create one</Button>}>Send events to your own services as they happen.</Empty>}>
        {(d) => <ul className="space-y-3" aria-label="Webhooks">{d.items.map((h) => <WebhookRow key={h.id} hook={h} onEdit={() => setEditing(h)} onSecret={setSecret} />)}</ul>}
      </QueryView>
      <Modal open={editing !== null} onClose={() => setEditing(null)} title={editing === 'new' ? 'New webhook' : 'Edit webhook'}>
        {editing !== null && <WebhookForm initial={editing === 'new' ? undefined : editing} onDone={(s) => { setEditing(null); if (s) setSecret(s); }} />}
      </Modal>
      <Modal open={secret !== null} onClose={() => setSecret(null)} title="Signing secret" footer={<Button onClick={() => setSecret(null)}>I have stored it</Button>}>
        <p className="mb-3 text-sm text-slate-600">Use it to verify the <code>webhook-signature</code> header. It is shown only this once.</p>
        {secret && <div data-testid="webhook-secret"><CopyField value={secret} label="Signing secret" /></div>}
      </Modal>
    </>
  );
}
