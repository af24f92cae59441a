import { useQuery } from '@tanstack/react-query';
import { api, itemsOf } from '../api';
import type { HealthRow } from '../api/types';
import { qk } from '../live/cache';
import { fmtRelative } from './format';
import { StatusBadge } from './ui';

/**
 * The latest health check of every connector the user has a connection to
 * (GET /api/health), by slug. `health` stream events keep it current; a
 * connector that is not checked (no connection yet, or stdio) is absent.
 */
export function useHealth(): Map<string, HealthRow> {
  const q = useQuery({ queryKey: qk.health, queryFn: () => api.health(), staleTime: 60_000, retry: false });
  return new Map(itemsOf(q.data).map((h) => [h.connector, h]));
}

const LABELS: Record<string, string> = { healthy: 'healthy', degraded: 'degraded', down: 'down' };

export function healthTitle(h: HealthRow): string {
  const parts = [`Checked ${fmtRelative(h.checked_at)}`];
  if (h.latency_ms != null) parts.push(`${h.latency_ms} ms`);
  if (h.error) parts.push(h.error);
  return parts.join(' · ');
}

/** "Service: healthy" with the check's time, latency and error as a tooltip and for screen readers. */
export function HealthBadge({ row }: { row: HealthRow | undefined }) {
  if (!row) return null;
  const title = healthTitle(row);
  return (
    <span className="inline-flex items-center gap-1" title={title} data-testid="health-badge" data-status={row.status}>
      <StatusBadge status={row.status} label={`service ${LABELS[row.status] ?? row.status}`} />
      <span className="sr-only">({title})</span>
    </span>
  );
}
