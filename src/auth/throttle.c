/* Login throttling: a sliding window of failures in login_attempts, per
 * account (normalized e-mail, existing or not) and per client address.
 *
 * An attempt is recorded as a failure BEFORE the password is checked, and
 * the window is counted after that insert (so it includes the attempt
 * itself). Both statements autocommit, outside any transaction, on purpose:
 * every insert is visible to everyone at once, so the k-th of N parallel
 * attempts counts at least k rows and at most the limit are admitted, on
 * SQLite and PostgreSQL alike (inside a transaction, PostgreSQL attempts
 * would not see each other's uncommitted rows). Parallel guesses therefore
 * cannot all pass the check while the first ones are still inside argon2.
 * A successful attempt takes its rows back; a refused one (429) removes
 * itself so hammering does not push the window forward. */
#include <string.h>

#include "auth/auth_int.h"

#define WINDOW_MS (TC_AUTH_THROTTLE_WINDOW_S * 1000LL)

static int64_t retry_after(const tc_repo_login_window *w, int64_t now)
{
    int64_t s = (w->oldest + WINDOW_MS - now + 999) / 1000;
    return s < 1 ? 1 : s;
}

/* Seconds to wait when a window is over its limit, else 0. The counts
 * include the current attempt, hence ">". */
static int64_t over_limit(const tc_repo_login_window *acct, const tc_repo_login_window *addr,
                          int64_t now)
{
    int64_t wait = 0;
    if (acct->count > TC_AUTH_THROTTLE_PER_ACCOUNT)
        wait = retry_after(acct, now);
    if (addr->count > TC_AUTH_THROTTLE_PER_ADDR) {
        int64_t w2 = retry_after(addr, now);
        wait = w2 > wait ? w2 : wait;
    }
    return wait;
}

/* c must not be inside a transaction (see the top of the file). */
tc_status tc_auth__attempt_begin(tc_db_conn *c, const char *email, const char *addr,
                                 char attempt[37], int64_t *retry_after_s, tc_err *err)
{
    int64_t now = tc_now_ms();
    tc_repo_login_window acct, by_addr;
    tc_uuid(attempt);
    tc_status st = tc_repo_login_failure_add(c, email, addr, attempt, now, err);
    if (st == TC_OK && (now & 15) == 0) /* housekeeping, now and then */
        st = tc_repo_login_prune(c, now - WINDOW_MS, err);
    if (st == TC_OK)
        st = tc_repo_login_failures(c, email, addr, now - WINDOW_MS, &acct, &by_addr, err);
    if (st != TC_OK)
        return st;
    int64_t wait = over_limit(&acct, &by_addr, now);
    if (wait == 0)
        return TC_OK;
    st = tc_repo_login_attempt_drop(c, attempt, err);
    if (st != TC_OK)
        return st;
    if (retry_after_s)
        *retry_after_s = wait;
    return tc_failc(err, TC_RATE_LIMITED, "too_many_attempts", NULL,
                    "too many failed attempts; try again in %lld seconds", (long long)wait);
}

tc_status tc_auth__attempt_succeeded(tc_db_conn *c, const char *email, const char *attempt,
                                     tc_err *err)
{
    return tc_repo_login_attempt_succeeded(c, email, attempt, err);
}
