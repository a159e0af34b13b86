-- Issue 11, first slice: livestream sessions (直播场次) and their numbered items (1号, 2号…),
-- each with a short link for viewers. A session's quota of each item is taken from the
-- product's stock when it goes live and what is unsold goes back when it ends.
CREATE TABLE live_sessions (
    id INTEGER PRIMARY KEY,
    village_id BIGINT NOT NULL REFERENCES villages(id),
    title TEXT NOT NULL,
    platform TEXT NOT NULL CHECK (platform IN ('douyin', 'kuaishou', 'channels', 'other')),
    host_name TEXT NOT NULL,
    -- 主播佣金: the host's share of paid sales less refunds, in basis points.
    host_commission_bp INTEGER NOT NULL CHECK (host_commission_bp BETWEEN 0 AND 3000),
    starts_at TIMESTAMP NOT NULL,
    ends_at TIMESTAMP NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('draft', 'scheduled', 'live', 'ended')),
    created_by_user_id BIGINT REFERENCES users(id),
    created_at TIMESTAMP NOT NULL,
    started_at TIMESTAMP,
    ended_at TIMESTAMP,
    CHECK (ends_at > starts_at)
);
CREATE INDEX live_sessions_village ON live_sessions(village_id, starts_at);
CREATE INDEX live_sessions_due ON live_sessions(status, starts_at, ends_at);

CREATE TABLE live_items (
    id INTEGER PRIMARY KEY,
    session_id BIGINT NOT NULL REFERENCES live_sessions(id),
    -- 1号, 2号…: the order the host shows them in.
    number INTEGER NOT NULL CHECK (number >= 1),
    product_id BIGINT NOT NULL REFERENCES products(id),
    live_price_fen BIGINT NOT NULL CHECK (live_price_fen > 0),
    quota INTEGER NOT NULL CHECK (quota >= 1),
    per_buyer_limit INTEGER NOT NULL CHECK (per_buyer_limit >= 1),
    -- Units taken from the product's stock while live; given back at the end.
    taken INTEGER NOT NULL DEFAULT 0 CHECK (taken >= 0),
    sold INTEGER NOT NULL DEFAULT 0 CHECK (sold >= 0 AND sold <= quota),
    -- The link /l/{code}: short to read aloud, not guessable in sequence.
    code TEXT NOT NULL UNIQUE,
    visits BIGINT NOT NULL DEFAULT 0,
    UNIQUE (session_id, number),
    UNIQUE (session_id, product_id)
);
