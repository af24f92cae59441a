/* tick: decide which schedules are due, as a pure function over entries.
 * The engine (later) owns the clock, the store and the job queue. */
#include "scheduler/sched_int.h"

/* Next due time strictly after t, or INT64_MAX when the schedule ends. */
static int64_t due_after(const tc_sched_entry *e, int64_t t)
{
    int64_t next;
    return tc_cron_next(e->cron, e->tz, t, &next) == TC_OK ? next : INT64_MAX;
}

static tc_fire_kind decide(const tc_sched_entry *e, bool late)
{
    if (late && e->misfire == TC_MISFIRE_SKIP)
        return TC_FIRE_SKIPPED_MISFIRE;
    if (e->running && e->overlap == TC_OVERLAP_SKIP)
        return TC_FIRE_SKIPPED_OVERLAP;
    return TC_FIRE_RUN;
}

size_t tc_sched_tick(tc_sched_entry *entries, size_t n, int64_t now_ms, int64_t grace_ms,
                     tc_sched_fire *out, size_t cap)
{
    size_t nout = 0;
    for (size_t i = 0; i < n; i++) {
        tc_sched_entry *e = &entries[i];
        if (!e->enabled)
            continue;
        if (e->next_due_ms == 0) {
            e->next_due_ms = due_after(e, now_ms);
            continue;
        }
        if (e->next_due_ms > now_ms)
            continue;
        if (nout == cap)
            break;
        bool late = e->next_due_ms < now_ms - grace_ms;
        out[nout++] = (tc_sched_fire){i, e->next_due_ms, decide(e, late), late};
        e->next_due_ms = due_after(e, now_ms);
    }
    return nout;
}
