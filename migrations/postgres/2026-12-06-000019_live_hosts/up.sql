-- Issue 11, after the session: the host (主播) is paid like a household. A host is a
-- name within a village, found or made when a session names it; the commission the
-- host earns is posted to the ledger with the host's id, as are the payouts, so what a
-- host is owed is the ledger summed, as for a household.
CREATE TABLE live_hosts (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    village_id BIGINT NOT NULL REFERENCES villages(id),
    name TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    UNIQUE (village_id, name)
);
INSERT INTO live_hosts (village_id, name, created_at)
    SELECT village_id, host_name, MIN(created_at) FROM live_sessions GROUP BY village_id, host_name;
ALTER TABLE live_sessions ADD COLUMN host_id BIGINT REFERENCES live_hosts(id);
UPDATE live_sessions SET host_id = (SELECT h.id FROM live_hosts h
    WHERE h.village_id = live_sessions.village_id AND h.name = live_sessions.host_name);

CREATE TABLE host_payouts (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    host_id BIGINT NOT NULL REFERENCES live_hosts(id),
    amount_fen BIGINT NOT NULL CHECK (amount_fen > 0),
    method TEXT NOT NULL CHECK (method IN ('cash', 'bank', 'wechat', 'alipay')),
    reference TEXT NOT NULL,
    paid_on DATE NOT NULL,
    recorded_by BIGINT REFERENCES users(id),
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX host_payouts_host ON host_payouts(host_id, paid_on);

-- The host's commission, its refunds and the host's payouts are entries of their own
-- kinds, and carry the host.
ALTER TABLE ledger_entries DROP CONSTRAINT ledger_entries_kind_check;
ALTER TABLE ledger_entries ADD CONSTRAINT ledger_entries_kind_check CHECK (kind IN ('household_share', 'collective_share', 'collective_sale', 'purchase', 'refund_household', 'refund_collective', 'payout', 'host_commission', 'refund_host_commission', 'host_payout'));
ALTER TABLE ledger_entries ADD COLUMN host_id BIGINT REFERENCES live_hosts(id);
CREATE INDEX ledger_entries_host ON ledger_entries(host_id) WHERE host_id IS NOT NULL;
-- A village's month: sales = household + collective + the hosts' commission.
ALTER TABLE village_month_totals ADD COLUMN host_commission_fen BIGINT NOT NULL DEFAULT 0;
