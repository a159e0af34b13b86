-- Issue 10, second slice: canteens order with a delivery site and date, on account (月结)
-- within their credit limit, with approval above their threshold.

ALTER TABLE orders DROP CONSTRAINT orders_payment_method_check;
ALTER TABLE orders ADD CONSTRAINT orders_payment_method_check
    CHECK (payment_method IN ('bank_transfer', 'cash_on_delivery', 'stripe', 'on_account'));

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
