import { useRef, useState, type FormEvent } from 'react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { api, itemsOf } from '../api';
import { qk } from '../live/cache';
import { SettingsTabs } from '../components/Layout';
import { fmtRelative, fmtTime, describeUserAgent } from '../components/format';
import { useToast } from '../components/toast';
import { Badge, Button, Card, CopyField, Empty, FormError, Modal, PageHeader, QueryView, TextField } from '../components/ui';
import { fieldErrors } from '../lib/formErrors';

function PasswordCard() {
  const toast = useToast();
  const [current, setCurrent] = useState('');
  const [next, setNext] = useState('');
  const [confirm, setConfirm] = useState('');
  const [mismatch, setMismatch] = useState(false);
  const curRef = useRef<HTMLInputElement>(null);
  const newRef = useRef<HTMLInputElement>(null);
  const change = useMutation({
    mutationFn: () => api.changePassword(current, next),
    onSuccess: () => {
      toast.success('Password changed.');
      setCurrent('');
      setNext('');
      setConfirm('');
    },
    onError: (e) => (fieldErrors(e).new_password ? newRef : curRef).current?.focus(),
  });
  const errs = fieldErrors(change.error);
  const onSubmit = (e: FormEvent) => {
    e.preventDefault();
    if (next !== confirm) {
      setMismatch(true);
      return;
    }
    setMismatch(false);
    change.mutate();
  };
  return (
    <Card className="p-5">
      <h2 className="font-semibold text-slate-900">Change password</h2>
      <form aria-label="Change password" className="mt-4 max-w-md space-y-4" onSubmit={onSubmit} noValidate>
        <FormError error={change.error && !errs.current_password && !errs.new_password ? change.error : null} />
        <TextField ref={curRef} label="Current password" type="password" autoComplete="current-password" required value={current} onChange={(e) => setCurrent(e.target.value)} error={errs.current_password} />
        <TextField ref={newRef} label="New password" type="password" autoComplete="new-password" required value={next} onChange={(e) => setNext(e.target.value)} error={errs.new_password} />
        <TextField label="Repeat new password" type="password" autoComplete="new-password" required value={confirm} onChange={(e) => setConfirm(e.target.value)} error={mismatch ? 'The two passwords differ.' : null} />
        <Button type="submit" busy={change.isPending}>Change password</Button>
      </form>
    </Card>
  );
}

function SessionsCard() {
  const qc = useQueryClient();
  const toast = useToast();
  const q = useQuery({ queryKey: qk.sessions, queryFn: () => api.sessions({ limit: 100 }) });
  const revoke = useMutation({
    mutationFn: (id: string) => api.revokeSession(id),
    onSuccess: () => {
      toast.success('Session signed out.');
      void qc.invalidateQueries({ queryKey: qk.sessions });
    },
    onError: toast.error,
  });
  return (
    <Card className="p-5">
      <h2 className="font-semibold text-slate-900">Sessions</h2>
      <p className="mt-1 text-sm text-slate-600">Browsers signed in to your account.</p>
      <div className="mt-4">
        <QueryView q={q} isEmpty={(d) => itemsOf(d).length === 0} empty={<p className="text-sm text-slate-500">No sessions.</p>}>
          {(d) => (
            <ul className="divide-y divide-slate-100">
              {itemsOf(d).map((s) => (
                <li key={s.id} className="flex flex-col gap-2 py-3 sm:flex-row sm:items-center">
                  <div className="min-w-0 flex-1 text-sm">
                    <p className="truncate text-slate-900" title={s.user_agent ?? undefined}>{describeUserAgent(s.user_agent)} {s.current && <Badge color="green">this browser</Badge>}</p>
                    <p className="text-xs text-slate-500">{s.ip ?? ''} · signed in {fmtTime(s.created_at)} · active {fmtRelative(s.last_used_at ?? s.created_at)}</p>
                  </div>
                  {!s.current && <Button size="sm" variant="danger" className="self-start sm:self-auto" busy={revoke.isPending && revoke.variables === s.id} onClick={() => revoke.mutate(s.id)}>Sign out<span className="sr-only"> {describeUserAgent(s.user_agent)} from {fmtTime(s.created_at)}</span></Button>}
                </li>
              ))}
            </ul>
          )}
        </QueryView>
      </div>
    </Card>
  );
}

function ApiKeysCard() {
  const qc = useQueryClient();
  const toast = useToast();
  const [name, setName] = useState('');
  const [shown, setShown] = useState<string | null>(null);
  const [revoking, setRevoking] = useState<{ id: string; name: string } | null>(null);
  const q = useQuery({ queryKey: qk.apiKeys, queryFn: () => api.apiKeys({ limit: 100 }) });
  const create = useMutation({
    mutationFn: () => api.createApiKey(name),
    onSuccess: (k) => {
      setShown(k.key);
      setName('');
      toast.success(`API key “${k.name}” created.`);
      void qc.invalidateQueries({ queryKey: qk.apiKeys });
    },
  });
  const revoke = useMutation({
    mutationFn: (id: string) => api.deleteApiKey(id),
    onSuccess: () => {
      setRevoking(null);
      toast.success('API key revoked.');
      void qc.invalidateQueries({ queryKey: qk.apiKeys });
    },
    onError: toast.error,
  });
  const errs = fieldErrors(create.error);
  return (
    <Card className="p-5">
      <h2 className="font-semibold text-slate-900">API keys</h2>
      <p className="mt-1 text-sm text-slate-600">For scripts and other services: send one as <code>Authorization: Bearer …</code>.</p>
      <form aria-label="Create API key" className="mt-4 flex max-w-md flex-col gap-2 sm:flex-row sm:items-start" onSubmit={(e) => { e.preventDefault(); create.mutate(); }} noValidate>
        <TextField className="flex-1" label="Key name" required value={name} onChange={(e) => setName(e.target.value)} error={errs.name ?? (create.error && !errs.name ? (create.error as Error).message : null)} placeholder="CI deploys" />
        <Button type="submit" className="sm:mt-6" busy={create.isPending}>Create key</Button>
      </form>
      <div className="mt-4">
        <QueryView q={q} isEmpty={(d) => itemsOf(d).length === 0} empty={<Empty title="No API keys" />}>
          {(d) => (
            <ul className="divide-y divide-slate-100" aria-label="API keys">
              {itemsOf(d).map((k) => (
                <li key={k.id} className="flex items-center gap-3 py-3" data-testid="api-key-row">
                  <div className="min-w-0 flex-1 text-sm">
                    <p className="font-medium text-slate-900">{k.name}</p>
                    <p className="text-xs text-slate-500"><code>{k.prefix}…</code> · created {fmtTime(k.created_at)} · used {fmtRelative(k.last_used_at)}</p>
                  </div>
                  <Button size="sm" variant="danger" onClick={() => setRevoking({ id: k.id, name: k.name })}>Revoke</Button>
                </li>
              ))}
            </ul>
          )}
        </QueryView>
      </div>
      <Modal open={shown !== null} onClose={() => setShown(null)} title="Your new API key" footer={<Button onClick={() => setShown(null)}>I have stored it</Button>}>
        <p className="mb-3 text-sm text-slate-600">Copy it now: it is shown only this once.</p>
        {shown && <div data-testid="new-api-key"><CopyField value={shown} label="API key" /></div>}
      </Modal>
      <Modal open={revoking !== null} onClose={() => setRevoking(null)} title="Revoke this key?" footer={<><Button variant="secondary" onClick={() => setRevoking(null)}>Keep it</Button><Button variant="danger" busy={revoke.isPending} onClick={() => revoking && revoke.mutate(revoking.id)}>Revoke</Button></>}>
        <p className="text-sm text-slate-600">Anything using “{revoking?.name}” stops working at once.</p>
      </Modal>
    </Card>
  );
}

export default function SecuritySettings() {
  return (
    <>
      <PageHeader title="Settings" />
      <SettingsTabs />
      <div className="space-y-6">
        <PasswordCard />
        <SessionsCard />
        <ApiKeysCard />
      </div>
    </>
  );
}
