import { useEffect, useState } from 'react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { Link, useSearchParams } from 'react-router';
import { api, itemsOf } from '../api';
import type { Connection, HealthRow } from '../api/types';
import { invalidateFresh, qk } from '../live/cache';
import { ConnectForm, useOAuthStart } from '../components/ConnectForm';
import { fmtRelative, fmtTime, scopeList } from '../components/format';
import { useToast } from '../components/toast';
import { Button, Card, cx, Empty, Loading, Modal, PageHeader, QueryView, StatusBadge } from '../components/ui';
import { HealthBadge, useHealth } from '../components/Health';
import { readOAuthOutcome, rememberReplaced, takeReplaced } from '../lib/oauth';

// `revoked` is what a disconnect leaves behind (the row stays, without its
// credentials): it is history, not something to fix. Expired (OAuth grant
// refused) and error (the provider rejected the credentials) need a reconnect.
const NEEDS_RECONNECT = new Set(['expired', 'error']);

function Reconnect({ conn }: { conn: Connection }) {
  const [open, setOpen] = useState(false);
  const connector = useQuery({ queryKey: qk.connector(conn.connector), queryFn: () => api.connector(conn.connector), enabled: open });
  const oauth = useOAuthStart();
  const isOAuth = connector.data?.auth_type === 'oauth2';
  // OAuth is one click: as soon as we know the connector, go. The old
  // connection is remembered so it can be removed when the new one arrives.
  useEffect(() => {
    if (open && isOAuth && !oauth.isPending && !oauth.isSuccess && !oauth.isError) {
      rememberReplaced(conn);
      oauth.mutate({ connector: conn.connector, label: conn.label });
    }
  }, [open, isOAuth, oauth, conn]);
  useEffect(() => {
    if (oauth.isError) setOpen(false);
  }, [oauth.isError]);
  return (
    <>
      <Button size="sm" onClick={() => { oauth.reset(); setOpen(true); }} busy={oauth.isPending || (open && isOAuth)}>
        Reconnect<span className="sr-only"> {conn.label}</span>
      </Button>
      <Modal open={open && !isOAuth} onClose={() => setOpen(false)} title={`Reconnect ${conn.label}`}>
        {connector.isPending ? <Loading /> : connector.data ? <ConnectForm connector={connector.data} replaces={conn} onDone={() => setOpen(false)} /> : <p className="text-sm text-red-700">Could not load the connector.</p>}
      </Modal>
    </>
  );
}

function ConnectionRow({ c, health, highlight }: { c: Connection; health?: HealthRow; highlight?: boolean }) {
  const qc = useQueryClient();
  const toast = useToast();
  const [confirm, setConfirm] = useState(false);
  const test = useMutation({
    mutationFn: () => api.testConnection(c.id),
    onSuccess: (r) => {
      if (r && typeof r === 'object' && 'status' in r && r.status) qc.setQueryData(qk.connections, (old: { items: Connection[] } | undefined) => old && { ...old, items: old.items.map((x) => (x.id === c.id ? { ...x, ...r } : x)) });
      const t = r?.test;
      if (t && t.ok === false) toast.error(new Error(t.message ?? 'The test failed.'));
      else if (t && t.verified === false) toast.info(`${c.label}: ${t.message ?? 'reachable, but the credentials could not be checked.'}`);
      else toast.success(`${c.label}: the connection works.`);
      void qc.invalidateQueries({ queryKey: qk.connections });
    },
    onError: (e) => {
      toast.error(e);
      void qc.invalidateQueries({ queryKey: qk.connections });
    },
  });
  const remove = useMutation({
    mutationFn: () => api.deleteConnection(c.id),
    onSuccess: () => {
      setConfirm(false);
      toast.success(`Disconnected ${c.label}.`);
      void qc.invalidateQueries({ queryKey: qk.connections });
    },
    onError: toast.error,
  });
  const needs = NEEDS_RECONNECT.has(c.status);
  const gone = c.status === 'revoked';
  return (
    <li data-testid="connection-row" data-status={c.status} data-needs-reconnect={needs || undefined}>
      <Card className={cx('flex flex-col gap-3 p-4 sm:flex-row sm:items-center', highlight && 'ring-2 ring-emerald-400')}>
        <div className="min-w-0 flex-1">
          <div className="flex flex-wrap items-center gap-2">
            <span className="font-semibold text-slate-900">{c.label}</span>
            <StatusBadge status={gone ? 'disabled' : c.status} label={gone ? 'disconnected' : c.status} />
            {needs && <StatusBadge status="pending" label="needs reconnect" />}
            <HealthBadge row={health} />
          </div>
          <p className="mt-1 text-sm text-slate-600">
            <Link className="text-indigo-600 hover:text-indigo-500" to={`/connectors/${encodeURIComponent(c.connector)}`}>
              {c.connector}
            </Link>
            {' · '}created {fmtTime(c.created_at)} · {c.last_used_at ? <>last used {fmtRelative(c.last_used_at)}</> : "never used"}
            {c.expires_at && <> · expires {fmtTime(c.expires_at)}</>}
          </p>
          {c.status_reason && !(needs && c.status_reason === 'needs reconnect') && <p className={cx('mt-1 text-sm', gone ? 'text-slate-500' : 'text-amber-800')}>{c.status_reason}</p>}
          {scopeList(c.scopes).length > 0 && <p className="mt-1 text-xs text-slate-500">Scopes: {scopeList(c.scopes).join(', ')}</p>}
        </div>
        {!gone && <div className="flex flex-wrap gap-2">
          {needs && <Reconnect conn={c} />}
          <Button variant="secondary" size="sm" busy={test.isPending} onClick={() => test.mutate()}>
            Test<span className="sr-only"> {c.label}</span>
          </Button>
          <Button variant="danger" size="sm" onClick={() => setConfirm(true)}>
            Disconnect<span className="sr-only"> {c.label}</span>
          </Button>
        </div>}
      </Card>
      <Modal
        open={confirm}
        onClose={() => setConfirm(false)}
        title="Disconnect?"
        footer={
          <>
            <Button variant="secondary" onClick={() => setConfirm(false)}>
              Keep it
            </Button>
            <Button variant="danger" busy={remove.isPending} onClick={() => remove.mutate()}>
              Disconnect
            </Button>
          </>
        }
      >
        <p className="text-sm text-slate-600">
          The credentials for <strong>{c.label}</strong> are deleted. Schedules that use this connection will fail until you pick another.
        </p>
      </Modal>
    </li>
  );
}

export default function Connections() {
  const toast = useToast();
  const [params, setParams] = useSearchParams();
  const qc = useQueryClient();
  const q = useQuery({ queryKey: qk.connections, queryFn: () => api.connections({ limit: 200 }) });
  const health = useHealth();
  const [fresh, setFresh] = useState<string | null>(null);

  // The OAuth callback redirects here: ?oauth=ok&connection=<id> or
  // ?oauth=error&message=<text>. After a reconnect the old connection goes.
  useEffect(() => {
    const outcome = readOAuthOutcome(params);
    if (!outcome) return;
    const replaced = takeReplaced();
    if (outcome.ok) {
      toast.success('Connected.');
      setFresh(outcome.connection);
      if (replaced && replaced.id !== outcome.connection) {
        void api.deleteConnection(replaced.id).catch(() => undefined).finally(() => invalidateFresh(qc, qk.connections));
      }
    } else {
      toast.error(new Error(outcome.message));
    }
    setParams({}, { replace: true });
  }, [params, setParams, toast, qc]);

  return (
    <>
      <PageHeader title="Connections" description="Your connected accounts. Credentials are stored encrypted and never shown again." actions={<Link to="/connectors" className="rounded-md bg-indigo-600 px-3.5 py-2 text-sm font-medium text-white hover:bg-indigo-500">New connection</Link>} />
      <QueryView q={q} isEmpty={(d) => itemsOf(d).length === 0} loadingLabel="Loading connections…" empty={<Empty title="No connections yet" action={<Link className="text-sm font-medium text-indigo-600" to="/connectors">Browse connectors</Link>}>Connect a tool to start running it.</Empty>}>
        {(d) => {
          const all = itemsOf(d);
          const current = all.filter((c) => c.status !== 'revoked');
          const past = all.filter((c) => c.status === 'revoked');
          return (
            <>
              {current.length === 0 ? (
                <Empty title="No connections" action={<Link className="text-sm font-medium text-indigo-600" to="/connectors">Browse connectors</Link>}>Every connection here was disconnected.</Empty>
              ) : (
                <ul className="space-y-3" aria-label="Connections">
                  {current.map((c) => (
                    <ConnectionRow key={c.id} c={c} health={health.get(c.connector)} highlight={c.id === fresh} />
                  ))}
                </ul>
              )}
              {past.length > 0 && (
                <details className="mt-6">
                  <summary className="cursor-pointer text-sm text-slate-600">Disconnected ({past.length})</summary>
                  <ul className="mt-3 space-y-3 opacity-80" aria-label="Disconnected connections">
                    {past.map((c) => <ConnectionRow key={c.id} c={c} />)}
                  </ul>
                </details>
              )}
            </>
          );
        }}
      </QueryView>
    </>
  );
}
