-- 0020 accounts (PostgreSQL): see 0020_accounts.sqlite.sql.
ALTER TABLE login_attempts ADD COLUMN attempt TEXT;
CREATE INDEX login_attempts_attempt ON login_attempts (attempt);
