-- Every fen traced (ARCHITECTURE §6.3): paid lines allocated to the lots (hence households)
-- that supplied them, the append-only ledger, monthly totals kept in the same
-- transaction for the reports, and payouts to households.
CREATE TABLE allocations (
    id INTEGER PRIMARY KEY,
    order_line_id BIGINT NOT NULL REFERENCES order_lines(id),
    lot_id BIGINT NOT NULL REFERENCES stock_lots(id),
    household_id BIGINT NOT NULL REFERENCES households(id),
    -- The units of the line this allocation covers: [first_unit, first_unit + quantity).
    first_unit INTEGER NOT NULL CHECK (first_unit >= 0),
    quantity INTEGER NOT NULL CHECK (quantity > 0),
    amount_fen BIGINT NOT NULL,
    -- The collective's share in force when the line was paid (consignment goods).
    collective_share_bp INTEGER NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX allocations_line ON allocations(order_line_id);
CREATE INDEX allocations_household ON allocations(household_id);

CREATE TABLE payouts (
    id INTEGER PRIMARY KEY,
    household_id BIGINT NOT NULL REFERENCES households(id),
    amount_fen BIGINT NOT NULL CHECK (amount_fen > 0),
    method TEXT NOT NULL CHECK (method IN ('cash', 'bank', 'wechat', 'alipay')),
    reference TEXT NOT NULL,
    paid_on DATE NOT NULL,
    recorded_by BIGINT REFERENCES users(id),
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX payouts_household ON payouts(household_id, paid_on);

-- Append-only: rows are inserted, never updated or deleted. Amounts are signed.
CREATE TABLE ledger_entries (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('household_share', 'collective_share', 'collective_sale', 'purchase', 'refund_household', 'refund_collective', 'payout')),
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
    -- The first day of the business date's month, so that totals group without date
    -- arithmetic in SQL.
    business_month DATE NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX ledger_household_date ON ledger_entries(household_id, business_date);
CREATE INDEX ledger_village_date ON ledger_entries(village_id, business_date);

-- Kept with every ledger entry, in its transaction; `village-market verify` recomputes them.
CREATE TABLE household_month_totals (
    household_id BIGINT NOT NULL REFERENCES households(id),
    village_id BIGINT NOT NULL REFERENCES villages(id),
    month DATE NOT NULL,
    income_fen BIGINT NOT NULL,
    payouts_fen BIGINT NOT NULL,
    PRIMARY KEY (household_id, month)
);
-- Covering: the reports sum a scope's households over months from the index alone.
CREATE INDEX household_month_totals_village ON household_month_totals(village_id, month, household_id, income_fen, payouts_fen);

CREATE TABLE village_month_totals (
    village_id BIGINT NOT NULL REFERENCES villages(id),
    month DATE NOT NULL,
    channel TEXT NOT NULL,
    sales_fen BIGINT NOT NULL,
    household_fen BIGINT NOT NULL,
    collective_fen BIGINT NOT NULL,
    PRIMARY KEY (village_id, month, channel)
);

CREATE TABLE product_month_totals (
    product_id BIGINT NOT NULL REFERENCES products(id),
    village_id BIGINT NOT NULL REFERENCES villages(id),
    month DATE NOT NULL,
    quantity BIGINT NOT NULL,
    sales_fen BIGINT NOT NULL,
    PRIMARY KEY (product_id, month)
);
CREATE INDEX product_month_totals_village ON product_month_totals(village_id, month);

-- The ledger is append-only: the database itself refuses to change or remove an entry.
CREATE TRIGGER ledger_entries_no_update BEFORE UPDATE ON ledger_entries
BEGIN SELECT RAISE(ABORT, 'ledger_entries is append-only'); END;
CREATE TRIGGER ledger_entries_no_delete BEFORE DELETE ON ledger_entries
BEGIN SELECT RAISE(ABORT, 'ledger_entries is append-only'); END;
