import { useEffect, useState, type FormEvent } from 'react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { api } from '../api';
import { qk } from '../live/cache';
import { SettingsTabs } from '../components/Layout';
import { useToast } from '../components/toast';
import { Button, Card, ErrorState, Field, FormError, Input, Loading, PageHeader, Select } from '../components/ui';
import { useFocusFirstInvalid } from '../lib/focus';
import { fieldErrors, unmatchedErrors } from '../lib/formErrors';
import { ALERT_TYPE_LABELS, fromHHMM, prefsInput, toHHMM, type PrefsInput } from '../lib/notifications';
import { zonesWith } from '../lib/zones';

const FIELDS = ['email_enabled', 'alert_types', 'timezone', 'quiet_start', 'quiet_end', 'delivery'];

export default function NotificationSettings() {
  const qc = useQueryClient();
  const toast = useToast();
  const q = useQuery({ queryKey: qk.notificationPreferences, queryFn: api.notificationPreferences });
  const [p, setP] = useState<PrefsInput | null>(null);
  const [quiet, setQuiet] = useState(false);
  useEffect(() => {
    if (q.data && !p) {
      const x = prefsInput(q.data);
      setP(x);
      setQuiet(x.quiet_start !== null);
    }
  }, [q.data, p]);
  const save = useMutation({
    mutationFn: (body: PrefsInput) => api.saveNotificationPreferences(body),
    onSuccess: (r) => {
      toast.success('Notification preferences saved.');
      if (r) qc.setQueryData(qk.notificationPreferences, r);
    },
  });
  const errs = fieldErrors(save.error);
  useFocusFirstInvalid(save.error, 'form[aria-label="Notification preferences"]');
  // alert_types[1] -> alert_types (the checkbox group)
  const typeErr = Object.entries(errs).find(([k]) => k === 'alert_types' || k.startsWith('alert_types.'))?.[1];
  const stray = unmatchedErrors(errs, FIELDS).filter((m) => !typeErr || m !== typeErr);
  const available = q.data?.available_alert_types?.length ? q.data.available_alert_types : Object.keys(ALERT_TYPE_LABELS);
  const onSubmit = (e: FormEvent) => {
    e.preventDefault();
    if (!p) return;
    save.mutate(quiet ? p : { ...p, quiet_start: null, quiet_end: null });
  };
  const set = <K extends keyof PrefsInput>(k: K, v: PrefsInput[K]) => setP((o) => (o ? { ...o, [k]: v } : o));
  const allTypes = p?.alert_types.length === 0;
  return (
    <>
      <PageHeader title="Settings" />
      <SettingsTabs />
      <Card className="p-5">
        <h2 className="font-semibold text-slate-900">Email alerts</h2>
        <p className="mt-1 text-sm text-slate-600">When a connection needs attention, a connector goes down, or a schedule or webhook stops.</p>
        {q.isPending ? (
          <Loading label="Loading preferences…" />
        ) : q.error ? (
          <div className="mt-4"><ErrorState error={q.error} onRetry={() => q.refetch()} /></div>
        ) : (
          p && (
            <form aria-label="Notification preferences" className="mt-4 max-w-xl space-y-5" onSubmit={onSubmit} noValidate>
              {(stray.length > 0 || (save.error && Object.keys(errs).length === 0)) && <FormError error={stray.length ? new Error(stray.join(' · ')) : save.error} />}
              <label className="flex items-center gap-2 text-sm font-medium text-slate-700">
                <input type="checkbox" checked={p.email_enabled} onChange={(e) => set('email_enabled', e.target.checked)} className="h-4 w-4 rounded border-slate-300 text-indigo-600" />
                Send me email alerts
              </label>
              <fieldset disabled={!p.email_enabled} aria-describedby={typeErr ? 'alert-types-err' : 'alert-types-hint'} className="space-y-2 disabled:opacity-60">
                <legend className="text-sm font-medium text-slate-700">Which alerts</legend>
                <p id="alert-types-hint" className="text-xs text-slate-500">With none ticked you get all of them, including types added later.</p>
                <label className="flex items-center gap-2 text-sm text-slate-700">
                  <input type="checkbox" checked={allTypes} onChange={(e) => e.target.checked && set('alert_types', [])} className="h-4 w-4 rounded border-slate-300 text-indigo-600" />
                  All alerts
                </label>
                <div className="grid gap-1.5 sm:grid-cols-2">
                  {available.map((t) => (
                    <label key={t} className="flex items-start gap-2 text-sm text-slate-700">
                      <input
                        type="checkbox"
                        className="mt-0.5 h-4 w-4 rounded border-slate-300 text-indigo-600"
                        checked={p.alert_types.includes(t)}
                        aria-invalid={!!typeErr || undefined}
                        onChange={(e) => set('alert_types', e.target.checked ? [...p.alert_types, t] : p.alert_types.filter((x) => x !== t))}
                      />
                      <span>
                        {ALERT_TYPE_LABELS[t] ?? t}
                        <code className="block text-xs text-slate-500">{t}</code>
                      </span>
                    </label>
                  ))}
                </div>
                {typeErr && <p id="alert-types-err" className="text-xs font-medium text-red-600">{typeErr}</p>}
              </fieldset>
              <Field label="Delivery" error={errs.delivery}>
                {({ id, describedBy, invalid }) => (
                  <Select id={id} aria-describedby={describedBy} aria-invalid={invalid} value={p.delivery} onChange={(e) => set('delivery', e.target.value === 'hourly_digest' ? 'hourly_digest' : 'immediate')} disabled={!p.email_enabled}>
                    <option value="immediate">Each alert at once</option>
                    <option value="hourly_digest">One digest per hour</option>
                  </Select>
                )}
              </Field>
              <fieldset disabled={!p.email_enabled} className="space-y-3 disabled:opacity-60">
                <legend className="sr-only">Quiet hours</legend>
                <label className="flex items-center gap-2 text-sm font-medium text-slate-700">
                  <input
                    type="checkbox"
                    checked={quiet}
                    onChange={(e) => {
                      setQuiet(e.target.checked);
                      if (e.target.checked && p.quiet_start === null) setP({ ...p, quiet_start: 22 * 60, quiet_end: 7 * 60 });
                    }}
                    className="h-4 w-4 rounded border-slate-300 text-indigo-600"
                  />
                  Quiet hours (alerts wait until they end)
                </label>
                {quiet && (
                  <div className="grid grid-cols-2 gap-3">
                    <Field label="From" required error={errs.quiet_start}>
                      {({ id, describedBy, invalid }) => <Input id={id} type="time" required aria-describedby={describedBy} aria-invalid={invalid} value={toHHMM(p.quiet_start)} onChange={(e) => set('quiet_start', fromHHMM(e.target.value))} />}
                    </Field>
                    <Field label="Until" required error={errs.quiet_end}>
                      {({ id, describedBy, invalid }) => <Input id={id} type="time" required aria-describedby={describedBy} aria-invalid={invalid} value={toHHMM(p.quiet_end)} onChange={(e) => set('quiet_end', fromHHMM(e.target.value))} />}
                    </Field>
                  </div>
                )}
                <Field label="Time zone" hint="For quiet hours." error={errs.timezone}>
                  {({ id, describedBy, invalid }) => (
                    <Select id={id} aria-describedby={describedBy} aria-invalid={invalid} value={p.timezone} onChange={(e) => set('timezone', e.target.value)}>
                      {zonesWith(p.timezone).map((z) => <option key={z}>{z}</option>)}
                    </Select>
                  )}
                </Field>
              </fieldset>
              <Button type="submit" busy={save.isPending}>Save preferences</Button>
            </form>
          )
        )}
      </Card>
    </>
  );
}
