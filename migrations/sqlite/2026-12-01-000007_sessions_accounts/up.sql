-- Accounts a person can manage (issue #13, items 6 and 8).
-- `session_version` is carried in the session cookie and compared with this column on
-- every signed-in request: signing out, a password change and disabling an account bump
-- it, so every copy of an older cookie, in any process, stops working at once.
ALTER TABLE users ADD COLUMN session_version BIGINT NOT NULL DEFAULT 0;
-- Set at each sign-in, shown in the admin's list of accounts.
ALTER TABLE users ADD COLUMN last_sign_in_at TIMESTAMP;

-- "Forgot password" links: only the SHA-256 of the token is kept; each is used once and
-- expires.
CREATE TABLE password_reset_tokens (
    id INTEGER PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users(id),
    token_hash TEXT NOT NULL UNIQUE,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    used_at TIMESTAMP
);
CREATE INDEX password_reset_tokens_user ON password_reset_tokens(user_id);

-- Every "forgot password" request, known address or not, for throttling by address and
-- by client.
CREATE TABLE password_reset_requests (
    id INTEGER PRIMARY KEY,
    email TEXT NOT NULL,
    ip TEXT NOT NULL,
    requested_at TIMESTAMP NOT NULL
);
CREATE INDEX password_reset_requests_email ON password_reset_requests(email, requested_at);
CREATE INDEX password_reset_requests_ip ON password_reset_requests(ip, requested_at);
