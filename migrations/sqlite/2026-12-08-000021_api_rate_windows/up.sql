-- Issue 12: the JSON API's rate limit, counted where every server process sees it. A row
-- counts one caller's requests (a token's hash, or a guest's address) in one minute.
CREATE TABLE api_rate_windows (
    subject TEXT NOT NULL,
    minute BIGINT NOT NULL,
    requests INTEGER NOT NULL,
    PRIMARY KEY (subject, minute)
);
CREATE INDEX api_rate_windows_minute ON api_rate_windows(minute);
