import type { NotificationPreferences } from '../api/types';
import { browserTz } from './zones';

/** The fields PUT /api/notification-preferences takes. */
export type PrefsInput = Omit<NotificationPreferences, 'available_alert_types' | 'updated_at'>;

/** Alert types the server knows, with words for people (docs/notifications.md). */
export const ALERT_TYPE_LABELS: Record<string, string> = {
  'health.down': 'A connector you use goes down',
  'health.recovered': 'A connector you use recovers',
  'connection.needs_reconnect': 'A connection needs reconnecting',
  'webhook.disabled': 'A webhook is turned off after failing',
  'schedule.failing': 'A schedule keeps failing',
  'schedule.paused': 'A schedule pauses itself',
};

export function prefsInput(p: Partial<NotificationPreferences> | undefined): PrefsInput {
  return {
    email_enabled: p?.email_enabled !== false,
    alert_types: Array.isArray(p?.alert_types) ? p.alert_types : [],
    timezone: typeof p?.timezone === 'string' && p.timezone ? p.timezone : browserTz,
    quiet_start: typeof p?.quiet_start === 'number' ? p.quiet_start : null,
    quiet_end: typeof p?.quiet_end === 'number' ? p.quiet_end : null,
    delivery: p?.delivery === 'hourly_digest' ? 'hourly_digest' : 'immediate',
  };
}

/** "HH:MM" <-> minutes after midnight. */
export const toHHMM = (m: number | null) => (m === null ? '' : `${String(Math.floor(m / 60)).padStart(2, '0')}:${String(m % 60).padStart(2, '0')}`);
export function fromHHMM(s: string): number | null {
  const m = /^(\d{2}):(\d{2})$/.exec(s);
  if (!m) return null;
  const h = Number(m[1]);
  const min = Number(m[2]);
  return h < 24 && min < 60 ? h * 60 + min : null;
}
