import type { Api } from '../api/endpoints';
import type { Job, JobFilters, Page } from '../api/types';

/** The server's largest page for GET /api/jobs. */
export const JOBS_PAGE_MAX = 200;

/**
 * Every job queued since `since`, newest first, fetched page by page (the
 * server answers at most 200 per page) up to `maxPages`. When there are more,
 * `next_cursor` is left set so the caller can say "at least N".
 */
export async function fetchJobsSince(api: Pick<Api, 'jobs'>, since: string, maxPages = 5): Promise<Page<Job>> {
  const items: Job[] = [];
  let cursor: string | undefined;
  for (let i = 0; i < maxPages; i++) {
    const f: JobFilters = { since, limit: JOBS_PAGE_MAX, cursor };
    const page = await api.jobs(f);
    items.push(...page.items);
    cursor = page.next_cursor ?? undefined;
    if (!cursor) break;
  }
  return { items, next_cursor: cursor ?? null };
}

export interface JobCounts {
  total: number;
  inProgress: number;
  succeeded: number;
  failed: number;
  canceled: number;
}

export function countJobs(jobs: Job[]): JobCounts {
  const c: JobCounts = { total: jobs.length, inProgress: 0, succeeded: 0, failed: 0, canceled: 0 };
  for (const j of jobs) {
    if (j.status === 'queued' || j.status === 'running') c.inProgress++;
    else if (j.status === 'succeeded') c.succeeded++;
    else if (j.status === 'failed') c.failed++;
    else if (j.status === 'canceled') c.canceled++;
  }
  return c;
}
