-- 0020 accounts (SQLite): each login attempt is recorded as a failure BEFORE
-- the password is checked (so parallel guesses cannot all pass the throttle
-- check first); `attempt` identifies the rows of one attempt, so a
-- successful login can take its own address row back. See docs/auth.md.
ALTER TABLE login_attempts ADD COLUMN attempt TEXT;
CREATE INDEX login_attempts_attempt ON login_attempts (attempt);
