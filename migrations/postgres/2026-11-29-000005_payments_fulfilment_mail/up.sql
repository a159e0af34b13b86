-- Payments through a provider (Stripe) and the events it sends, per-village fulfilment,
-- refunds by line, and the email outbox (ARCHITECTURE §6.2, §6.4).
ALTER TABLE orders ADD COLUMN locale TEXT NOT NULL DEFAULT 'zh-CN';
ALTER TABLE orders ADD COLUMN provider_session_id TEXT;
ALTER TABLE orders ADD COLUMN provider_payment_id TEXT;
ALTER TABLE orders ADD COLUMN paid_fen BIGINT NOT NULL DEFAULT 0;
ALTER TABLE orders ADD COLUMN refunded_fen BIGINT NOT NULL DEFAULT 0;
ALTER TABLE orders ADD COLUMN paid_at TIMESTAMP;
-- Why the team must look at this order (a payment that does not match, a payment for an
-- expired order, a refund made outside the shop); NULL when nothing is wrong.
ALTER TABLE orders ADD COLUMN attention TEXT;
CREATE INDEX orders_provider_session ON orders(provider_session_id);
CREATE INDEX orders_provider_payment ON orders(provider_payment_id);

ALTER TABLE order_lines ADD COLUMN refunded_quantity INTEGER NOT NULL DEFAULT 0;

-- One per village of an order: each village team packs and ships its own lines.
CREATE TABLE shipments (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    order_id BIGINT NOT NULL REFERENCES orders(id),
    village_id BIGINT NOT NULL REFERENCES villages(id),
    status TEXT NOT NULL CHECK (status IN ('pending', 'packed', 'shipped', 'delivered', 'cancelled')),
    carrier TEXT,
    tracking_number TEXT,
    packed_at TIMESTAMP,
    shipped_at TIMESTAMP,
    delivered_at TIMESTAMP,
    updated_at TIMESTAMP NOT NULL,
    UNIQUE (order_id, village_id)
);
CREATE INDEX shipments_village_status ON shipments(village_id, status);

CREATE TABLE refunds (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    order_id BIGINT NOT NULL REFERENCES orders(id),
    amount_fen BIGINT NOT NULL CHECK (amount_fen > 0),
    provider_refund_id TEXT,
    reason TEXT NOT NULL,
    restock BOOLEAN NOT NULL,
    actor_label TEXT NOT NULL,
    business_date DATE NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX refunds_order ON refunds(order_id);

CREATE TABLE refund_lines (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    refund_id BIGINT NOT NULL REFERENCES refunds(id),
    order_line_id BIGINT NOT NULL REFERENCES order_lines(id),
    quantity INTEGER NOT NULL CHECK (quantity > 0),
    amount_fen BIGINT NOT NULL CHECK (amount_fen > 0)
);
CREATE INDEX refund_lines_refund ON refund_lines(refund_id);

-- Each provider event once: a replay finds its id here and changes nothing.
CREATE TABLE payment_events (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    provider TEXT NOT NULL,
    event_id TEXT NOT NULL,
    event_type TEXT NOT NULL,
    order_id BIGINT REFERENCES orders(id),
    outcome TEXT NOT NULL,
    received_at TIMESTAMP NOT NULL,
    UNIQUE (provider, event_id)
);
CREATE INDEX payment_events_order ON payment_events(order_id);

-- Written in the transaction of the event that causes the message, sent by the worker.
CREATE TABLE email_outbox (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    recipient TEXT NOT NULL,
    template TEXT NOT NULL,
    locale TEXT NOT NULL,
    data TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'sent', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMP NOT NULL,
    locked_until TIMESTAMP,
    last_error TEXT,
    created_at TIMESTAMP NOT NULL,
    sent_at TIMESTAMP
);
CREATE INDEX email_outbox_due ON email_outbox(status, next_attempt_at);
