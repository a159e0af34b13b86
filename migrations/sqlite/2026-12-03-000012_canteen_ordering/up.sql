-- Issue 10, second slice: canteens order with a delivery site and date, on account (月结)
-- within their credit limit, with approval above their threshold.

PRAGMA foreign_keys = OFF;
BEGIN;

-- 'on_account' joins the payment methods: the orders table is rebuilt with the wider
-- CHECK (SQLite's documented way: new table, copy, drop, rename; nothing else changes).
CREATE TABLE orders_new (
    id INTEGER PRIMARY KEY,
    number TEXT NOT NULL UNIQUE,
    channel TEXT NOT NULL CHECK (channel IN ('store', 'canteen', 'livestream')),
    organization_id BIGINT REFERENCES organizations(id),
    buyer_user_id BIGINT REFERENCES users(id),
    buyer_name TEXT NOT NULL,
    buyer_phone TEXT NOT NULL,
    buyer_email TEXT,
    delivery_address TEXT NOT NULL,
    note TEXT NOT NULL,
    payment_method TEXT NOT NULL
        CHECK (payment_method IN ('bank_transfer', 'cash_on_delivery', 'stripe', 'on_account')),
    status TEXT NOT NULL,
    total_fen BIGINT NOT NULL CHECK (total_fen > 0),
    token TEXT NOT NULL UNIQUE,
    idempotency_key TEXT NOT NULL UNIQUE,
    reserved_until TIMESTAMP,
    business_date DATE NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    locale TEXT NOT NULL DEFAULT 'zh-CN',
    provider_session_id TEXT,
    provider_payment_id TEXT,
    paid_fen BIGINT NOT NULL DEFAULT 0,
    refunded_fen BIGINT NOT NULL DEFAULT 0,
    paid_at TIMESTAMP,
    attention TEXT
);
INSERT INTO orders_new (id, number, channel, organization_id, buyer_user_id, buyer_name,
    buyer_phone, buyer_email, delivery_address, note, payment_method, status, total_fen,
    token, idempotency_key, reserved_until, business_date, created_at, updated_at, locale,
    provider_session_id, provider_payment_id, paid_fen, refunded_fen, paid_at, attention)
SELECT id, number, channel, organization_id, buyer_user_id, buyer_name,
    buyer_phone, buyer_email, delivery_address, note, payment_method, status, total_fen,
    token, idempotency_key, reserved_until, business_date, created_at, updated_at, locale,
    provider_session_id, provider_payment_id, paid_fen, refunded_fen, paid_at, attention
FROM orders;
DROP TABLE orders;
ALTER TABLE orders_new RENAME TO orders;
CREATE INDEX orders_status_reserved ON orders(status, reserved_until);
CREATE INDEX orders_provider_session ON orders(provider_session_id);
CREATE INDEX orders_provider_payment ON orders(provider_payment_id);

-- A canteen buys in multiples: the least it may order of a product, and the step above it
-- (10 斤 steps); set by the village team.
ALTER TABLE products ADD COLUMN canteen_min_quantity INTEGER NOT NULL DEFAULT 1
    CHECK (canteen_min_quantity >= 1);
ALTER TABLE products ADD COLUMN canteen_step INTEGER NOT NULL DEFAULT 1
    CHECK (canteen_step >= 1);

-- What a canteen order adds to an order: where and when it is delivered, the canteen's
-- own purchase order number (采购单号), who placed it and, above the approval threshold,
-- who decided and how.
CREATE TABLE canteen_orders (
    order_id BIGINT PRIMARY KEY REFERENCES orders(id),
    organization_id BIGINT NOT NULL REFERENCES organizations(id),
    delivery_site_id BIGINT NOT NULL REFERENCES delivery_sites(id),
    delivery_date DATE NOT NULL,
    po_number TEXT NOT NULL,
    placed_by_user_id BIGINT NOT NULL REFERENCES users(id),
    decided_by_user_id BIGINT REFERENCES users(id),
    decided_at TIMESTAMP,
    sent_back_reason TEXT
);
CREATE INDEX canteen_orders_organization ON canteen_orders(organization_id, order_id);
CREATE INDEX canteen_orders_delivery ON canteen_orders(delivery_date, delivery_site_id);

COMMIT;
PRAGMA foreign_keys = ON;
