DROP TABLE password_reset_requests;
DROP TABLE password_reset_tokens;
ALTER TABLE users DROP COLUMN last_sign_in_at;
ALTER TABLE users DROP COLUMN session_version;
