import { useEffect, useState, type FormEvent } from 'react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { api } from '../api';
import type { NotificationPreferences } from '../api/types';
import { qk } from '../live/cache';
import { SettingsTabs } from '../components/Layout';
import { useToast } from '../components/toast';
import { Button, Card, ErrorState, Field, FormError, Input, Loading, PageHeader, Select } from '../components/ui';
import { fieldErrors, unmatchedErrors } from '../lib/formErrors';

interface Prefs {
  email_enabled: boolean;
  alert_types: string[];
  timezone: string;
  quiet_start: number | null;
  quiet_end: number | null;
  delivery: string;
}

const browserTz = Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';

function toPrefs(p: NotificationPreferences): Prefs {
  return {
    email_enabled: p.email_enabled !== false,
    alert_types: Array.isArray(p.alert_types) ? (p.alert_types as string[]) : [],
    timezone: typeof p.timezone === 'string' ? p.timezone : browserTz,
    quiet_start: typeof p.quiet_start === 'number' ? p.quiet_start : null,
    quiet_end: typeof p.quiet_end === 'number' ? p.quiet_end : null,
    delivery: typeof p.delivery === 'string' ? p.delivery : 'immediate',
  };
}

const toHHMM = (m: number | null) => (m === null ? '' : `${String(Math.floor(m / 60)).padStart(2, '0')}:${String(m % 60).padStart(2, '0')}`);
const fromHHMM = (s: string) => {
  const m = /^(\d{2}):(\d{2})$/.exec(s);
  return m ? Number(m[1]) * 60 + Number(m[2]) : null;
};

export default function NotificationSettings() {
  const qc = useQueryClient();
  const toast = useToast();
  const q = useQuery({ queryKey: qk.notificationPreferences, queryFn: api.notificationPreferences });
  const [p, setP] = useState<Prefs | null>(null);
  const [typesText, setTypesText] = useState('');
  useEffect(() => {
    if (q.data && !p) {
      const x = toPrefs(q.data);
      setP(x);
      setTypesText(x.alert_types.join(', '));
    }
  }, [q.data, p]);
  const save = useMutation({
    mutationFn: (body: Prefs) => api.saveNotificationPreferences({ ...body }),
    onSuccess: (r) => {
      toast.success('Notification preferences saved.');
      if (r) qc.setQueryData(qk.notificationPreferences, r);
    },
  });
  const errs = fieldErrors(save.error);
  const stray = unmatchedErrors(errs, ['email_enabled', 'alert_types', 'timezone', 'quiet_start', 'quiet_end', 'delivery']);
  const onSubmit = (e: FormEvent) => {
    e.preventDefault();
    if (!p) return;
    save.mutate({ ...p, alert_types: typesText.split(',').map((s) => s.trim()).filter(Boolean) });
  };
  const set = <K extends keyof Prefs>(k: K, v: Prefs[K]) => setP((o) => (o ? { ...o, [k]: v } : o));
  return (
    <>
      <PageHeader title="Settings" />
      <SettingsTabs />
      <Card className="p-5">
        <h2 className="font-semibold text-slate-900">Email alerts</h2>
        <p className="mt-1 text-sm text-slate-600">When a connection needs attention or a connector goes down.</p>
        {q.isPending ? <Loading /> : q.error ? <div className="mt-4"><ErrorState error={q.error} onRetry={() => q.refetch()} /></div> : p && (
          <form aria-label="Notification preferences" className="mt-4 max-w-lg space-y-4" onSubmit={onSubmit} noValidate>
            {stray.length > 0 && <FormError error={new Error(stray.join(' · '))} />}
            <label className="flex items-center gap-2 text-sm text-slate-700">
              <input type="checkbox" checked={p.email_enabled} onChange={(e) => set('email_enabled', e.target.checked)} className="h-4 w-4 rounded border-slate-300 text-indigo-600" />
              Send me email alerts
            </label>
            <Field label="Alert types" hint="Comma-separated; empty means all." error={errs.alert_types}>
              {({ id, describedBy, invalid }) => <Input id={id} aria-describedby={describedBy} aria-invalid={invalid} value={typesText} onChange={(e) => setTypesText(e.target.value)} placeholder="connection.expired, health.down" />}
            </Field>
            <Field label="Delivery" error={errs.delivery}>
              {({ id, describedBy, invalid }) => (
                <Select id={id} aria-describedby={describedBy} aria-invalid={invalid} value={p.delivery} onChange={(e) => set('delivery', e.target.value)}>
                  <option value="immediate">At once</option>
                  <option value="hourly_digest">Hourly digest</option>
                </Select>
              )}
            </Field>
            <div className="grid grid-cols-2 gap-3">
              <Field label="Quiet hours from" error={errs.quiet_start}>
                {({ id, describedBy, invalid }) => <Input id={id} type="time" aria-describedby={describedBy} aria-invalid={invalid} value={toHHMM(p.quiet_start)} onChange={(e) => set('quiet_start', fromHHMM(e.target.value))} />}
              </Field>
              <Field label="until" error={errs.quiet_end}>
                {({ id, describedBy, invalid }) => <Input id={id} type="time" aria-describedby={describedBy} aria-invalid={invalid} value={toHHMM(p.quiet_end)} onChange={(e) => set('quiet_end', fromHHMM(e.target.value))} />}
              </Field>
            </div>
            <Field label="Time zone for quiet hours" error={errs.timezone}>
              {({ id, describedBy, invalid }) => <Input id={id} aria-describedby={describedBy} aria-invalid={invalid} value={p.timezone} onChange={(e) => set('timezone', e.target.value)} />}
            </Field>
            <Button type="submit" busy={save.isPending}>Save preferences</Button>
          </form>
        )}
      </Card>
    </>
  );
}
