-- Issue 10: standing orders (周期订单). A canteen's order repeated every week or every two
-- weeks on given weekdays, from a start date to an optional end. The jobs loop places each
-- delivery date's order once its cutoff (the villages' lead time before it) has come:
-- exactly once, since a run is recorded under (standing order, delivery date) before the
-- order is placed, in the same transaction.
CREATE TABLE standing_orders (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    organization_id BIGINT NOT NULL REFERENCES organizations(id),
    delivery_site_id BIGINT NOT NULL REFERENCES delivery_sites(id),
    created_by_user_id BIGINT NOT NULL REFERENCES users(id),
    every_weeks INTEGER NOT NULL CHECK (every_weeks IN (1, 2)),
    -- Monday first, as villages' delivery weekdays: '1010000' is Monday and Wednesday.
    weekdays TEXT NOT NULL CHECK (length(weekdays) = 7),
    starts_on DATE NOT NULL,
    ends_on DATE,
    paused BOOLEAN NOT NULL DEFAULT FALSE,
    payment_method TEXT NOT NULL CHECK (payment_method IN ('on_account', 'bank_transfer')),
    po_number TEXT NOT NULL,
    note TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    CHECK (ends_on IS NULL OR ends_on >= starts_on)
);
CREATE INDEX standing_orders_organization ON standing_orders(organization_id);

CREATE TABLE standing_order_lines (
    standing_order_id BIGINT NOT NULL REFERENCES standing_orders(id),
    product_id BIGINT NOT NULL REFERENCES products(id),
    quantity INTEGER NOT NULL CHECK (quantity > 0),
    PRIMARY KEY (standing_order_id, product_id)
);

-- One delivery date a buyer skipped.
CREATE TABLE standing_order_skips (
    standing_order_id BIGINT NOT NULL REFERENCES standing_orders(id),
    delivery_date DATE NOT NULL,
    skipped_by_user_id BIGINT NOT NULL REFERENCES users(id),
    skipped_at TIMESTAMP NOT NULL,
    PRIMARY KEY (standing_order_id, delivery_date)
);

-- What became of each delivery date: placed (whole or short), or not placed and why.
CREATE TABLE standing_order_runs (
    standing_order_id BIGINT NOT NULL REFERENCES standing_orders(id),
    delivery_date DATE NOT NULL,
    order_id BIGINT REFERENCES orders(id),
    outcome TEXT NOT NULL CHECK (outcome IN ('placed', 'short', 'not_placed')),
    detail TEXT NOT NULL,
    ran_at TIMESTAMP NOT NULL,
    PRIMARY KEY (standing_order_id, delivery_date)
);
