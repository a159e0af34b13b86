-- Orders and their lines; stock is reserved when an order is placed and returned when
-- an unpaid order expires. Status changes are kept in order_events.
CREATE TABLE orders (
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
    payment_method TEXT NOT NULL CHECK (payment_method IN ('bank_transfer', 'cash_on_delivery', 'stripe')),
    status TEXT NOT NULL,
    total_fen BIGINT NOT NULL CHECK (total_fen > 0),
    token TEXT NOT NULL UNIQUE,
    idempotency_key TEXT NOT NULL UNIQUE,
    reserved_until TIMESTAMP,
    business_date DATE NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX orders_status_reserved ON orders(status, reserved_until);

CREATE TABLE order_lines (
    id INTEGER PRIMARY KEY,
    order_id BIGINT NOT NULL REFERENCES orders(id),
    product_id BIGINT NOT NULL REFERENCES products(id),
    village_id BIGINT NOT NULL REFERENCES villages(id),
    quantity INTEGER NOT NULL CHECK (quantity > 0),
    unit_price_fen BIGINT NOT NULL CHECK (unit_price_fen > 0),
    line_total_fen BIGINT NOT NULL CHECK (line_total_fen > 0),
    product_name_zh TEXT NOT NULL,
    product_name_en TEXT NOT NULL,
    sale_unit_zh TEXT NOT NULL,
    sale_unit_en TEXT NOT NULL
);
CREATE INDEX order_lines_order ON order_lines(order_id);
CREATE INDEX order_lines_village ON order_lines(village_id);

CREATE TABLE order_events (
    id INTEGER PRIMARY KEY,
    order_id BIGINT NOT NULL REFERENCES orders(id),
    from_status TEXT,
    to_status TEXT NOT NULL,
    actor_label TEXT NOT NULL,
    note TEXT,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX order_events_order ON order_events(order_id);
