import { MISFIRES, OVERLAPS, SCHEDULE_INPUT_FIELDS, type Schedule, type ScheduleInput } from '../api/types';

const browserTz = () => Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';

export function emptyScheduleInput(): ScheduleInput {
  return { name: '', cron: '0 9 * * 1-5', timezone: browserTz(), connector: '', tool: '', connection_id: '', arguments: {}, enabled: true, overlap: 'skip', misfire: 'run_once', max_failures: 5 };
}

/**
 * The editable part of a schedule, for the form: only the fields the API
 * takes (not id, next_run_at, ...), with values the server accepts. A stored
 * overlap/misfire the server no longer knows falls back to its default.
 */
export function scheduleInput(s?: Partial<Schedule>): ScheduleInput {
  const out = emptyScheduleInput();
  if (!s) return out;
  const o = out as unknown as Record<string, unknown>;
  for (const k of SCHEDULE_INPUT_FIELDS) if (s[k] !== undefined && s[k] !== null) o[k] = s[k];
  if (!(OVERLAPS as readonly string[]).includes(out.overlap)) out.overlap = 'skip';
  if (!(MISFIRES as readonly string[]).includes(out.misfire)) out.misfire = 'run_once';
  return out;
}
