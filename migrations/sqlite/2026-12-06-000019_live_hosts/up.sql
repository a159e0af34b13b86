-- Issue 11, after the session: the host (主播) is paid like a household. A host is a
-- name within a village, found or made when a session names it; the commission the
-- host earns is posted to the ledger with the host's id, as are the payouts, so what a
-- host is owed is the ledger summed, as for a household.
CREATE TABLE live_hosts (
    id INTEGER PRIMARY KEY,
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
    id INTEGER PRIMARY KEY,
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
-- kinds, and carry the host. SQLite cannot change a CHECK in place: the table is built
-- again with every entry copied as it was (dropping a table fires no DELETE trigger), and
-- its indexes and append-only triggers made again.
CREATE TABLE ledger_entries_next (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('household_share', 'collective_share', 'collective_sale', 'purchase', 'refund_household', 'refund_collective', 'payout', 'host_commission', 'refund_host_commission', 'host_payout')),
    village_id BIGINT NOT NULL REFERENCES villages(id),
    household_id BIGINT REFERENCES households(id),
    channel TEXT,
    product_id BIGINT REFERENCES products(id),
    order_id BIGINT REFERENCES orders(id),
    order_line_id BIGINT REFERENCES order_lines(id),
    allocation_id BIGINT REFERENCES allocations(id),
    lot_id BIGINT REFERENCES stock_lots(id),
    refund_id BIGINT REFERENCES refunds(id),
    payout_id BIGINT REFERENCES payouts(id),
    quantity INTEGER NOT NULL,
    amount_fen BIGINT NOT NULL,
    business_date DATE NOT NULL,
    business_month DATE NOT NULL,
    created_at TIMESTAMP NOT NULL,
    host_id BIGINT REFERENCES live_hosts(id)
);
INSERT INTO ledger_entries_next (id, kind, village_id, household_id, channel, product_id, order_id,
        order_line_id, allocation_id, lot_id, refund_id, payout_id, quantity, amount_fen,
        business_date, business_month, created_at)
    SELECT id, kind, village_id, household_id, channel, product_id, order_id, order_line_id,
        allocation_id, lot_id, refund_id, payout_id, quantity, amount_fen, business_date,
        business_month, created_at FROM ledger_entries;
DROP TABLE ledger_entries;
ALTER TABLE ledger_entries_next RENAME TO ledger_entries;
CREATE INDEX ledger_household_date ON ledger_entries(household_id, business_date);
CREATE INDEX ledger_village_date ON ledger_entries(village_id, business_date);
CREATE TRIGGER ledger_entries_no_update BEFORE UPDATE ON ledger_entries
BEGIN SELECT RAISE(ABORT, 'ledger_entries is append-only'); END;
CREATE TRIGGER ledger_entries_no_delete BEFORE DELETE ON ledger_entries
BEGIN SELECT RAISE(ABORT, 'ledger_entries is append-only'); END;
CREATE INDEX ledger_entries_host ON ledger_entries(host_id) WHERE host_id IS NOT NULL;
-- A village's month: sales = household + collective + the hosts' commission.
ALTER TABLE village_month_totals ADD COLUMN host_commission_fen BIGINT NOT NULL DEFAULT 0;
