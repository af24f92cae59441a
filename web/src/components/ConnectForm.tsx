import { useRef, useState, type FormEvent } from 'react';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { api } from '../api';
import type { Connection, Connector, Credentials } from '../api/types';
import { qk } from '../live/cache';
import { fieldErrors } from '../lib/formErrors';
import { useToast } from './toast';
import { Button, FormError, TextField } from './ui';

/** Starts the OAuth dance: the server answers with the provider URL, and we go there. */
export function useOAuthStart() {
  const toast = useToast();
  return useMutation({
    mutationFn: (v: { connector: string; label?: string }) => api.oauthStart(v.connector, { label: v.label }),
    onSuccess: (r) => {
      window.location.assign(r.authorization_url);
    },
    onError: toast.error,
  });
}

/**
 * The credentials form for one connector (API key, username/password, token or
 * none). `replaces` is a connection to delete once the new one is in place
 * (the reconnect flow).
 */
export function ConnectForm({ connector, onDone, replaces }: { connector: Connector; onDone?: (c: Connection) => void; replaces?: Connection }) {
  const qc = useQueryClient();
  const toast = useToast();
  const [label, setLabel] = useState(replaces?.label ?? `My ${connector.name}`);
  const [creds, setCreds] = useState<Credentials>({});
  const firstRef = useRef<HTMLInputElement>(null);
  const oauth = useOAuthStart();
  const create = useMutation({
    mutationFn: async () => {
      const c = await api.createConnection(connector.slug, label, connector.auth_type === 'none' ? {} : creds);
      if (replaces) await api.deleteConnection(replaces.id).catch(() => undefined);
      return c;
    },
    onSuccess: (c) => {
      toast.success(`Connected ${connector.name}${c.status !== 'active' ? ` (status: ${c.status})` : ''}.`);
      setCreds({});
      void qc.invalidateQueries({ queryKey: qk.connections });
      onDone?.(c);
    },
    onError: () => firstRef.current?.focus(),
  });
  const errs = fieldErrors(create.error);
  const err = (k: string) => errs[`credentials.${k}`] ?? errs[k];
  const known = ['label', 'credentials.api_key', 'credentials.username', 'credentials.password', 'credentials.token', 'api_key', 'username', 'password', 'token'];
  const general = create.error && !Object.keys(errs).some((k) => known.includes(k)) ? create.error : null;

  if (connector.auth_type === 'oauth2') {
    return (
      <div className="space-y-3">
        <TextField label="Label" value={label} onChange={(e) => setLabel(e.target.value)} hint="To tell several accounts apart." />
        <Button busy={oauth.isPending} onClick={() => oauth.mutate({ connector: connector.slug, label })}>
          {replaces ? 'Reconnect' : 'Connect'} with {connector.name}
        </Button>
        <p className="text-xs text-slate-500">You will be sent to {connector.name} to approve access, then brought back here.</p>
      </div>
    );
  }

  const set = (k: keyof Credentials) => (e: React.ChangeEvent<HTMLInputElement>) => setCreds((c) => ({ ...c, [k]: e.target.value }));
  const onSubmit = (e: FormEvent) => {
    e.preventDefault();
    create.mutate();
  };
  return (
    <form className="space-y-3" onSubmit={onSubmit} noValidate aria-label={`Connect ${connector.name}`}>
      <FormError error={general} />
      <TextField label="Label" required value={label} onChange={(e) => setLabel(e.target.value)} error={errs.label} />
      {connector.auth_type === 'api_key' && <TextField ref={firstRef} label="API key" type="password" autoComplete="off" required value={creds.api_key ?? ''} onChange={set('api_key')} error={err('api_key')} />}
      {connector.auth_type === 'basic' && (
        <>
          <TextField ref={firstRef} label="Username" autoComplete="off" required value={creds.username ?? ''} onChange={set('username')} error={err('username')} />
          <TextField label="Password" type="password" autoComplete="off" required value={creds.password ?? ''} onChange={set('password')} error={err('password')} />
        </>
      )}
      {connector.auth_type === 'bearer' && <TextField ref={firstRef} label="Token" type="password" autoComplete="off" required value={creds.token ?? ''} onChange={set('token')} error={err('token')} />}
      {connector.auth_type === 'none' && <p className="text-sm text-slate-600">This connector needs no credentials.</p>}
      <p className="text-xs text-slate-500">Credentials are encrypted on the server and never shown again.</p>
      <Button type="submit" busy={create.isPending}>
        {replaces ? 'Reconnect' : 'Connect'}
      </Button>
    </form>
  );
}
