-- Issue 10: monthly statements (对账单) for organisations on account (月结). The jobs loop
-- issues one per organisation and month, holding each on-account order whose deliveries
-- were all accepted by the month's end; the city office records payments against it, and
-- each order it covers in full becomes paid, oldest first.
CREATE TABLE statements (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    organization_id BIGINT NOT NULL REFERENCES organizations(id),
    -- The first day of the month (China time) the statement is for.
    month DATE NOT NULL,
    number TEXT NOT NULL UNIQUE,
    issued_at TIMESTAMP NOT NULL,
    due_date DATE NOT NULL,
    goods_fen BIGINT NOT NULL CHECK (goods_fen >= 0),
    credits_fen BIGINT NOT NULL CHECK (credits_fen >= 0),
    total_fen BIGINT NOT NULL CHECK (total_fen >= 0),
    paid_fen BIGINT NOT NULL DEFAULT 0 CHECK (paid_fen >= 0 AND paid_fen <= total_fen),
    paid_at TIMESTAMP,
    -- 发票号: the invoice the village collective issued for it.
    invoice_number TEXT,
    overdue_mailed_at TIMESTAMP,
    UNIQUE (organization_id, month)
);
CREATE INDEX statements_due ON statements(due_date) WHERE paid_at IS NULL;

CREATE TABLE statement_orders (
    order_id BIGINT PRIMARY KEY REFERENCES orders(id),
    statement_id BIGINT NOT NULL REFERENCES statements(id),
    goods_fen BIGINT NOT NULL,
    credits_fen BIGINT NOT NULL,
    amount_fen BIGINT NOT NULL CHECK (amount_fen >= 0)
);
CREATE INDEX statement_orders_statement ON statement_orders(statement_id, order_id);

CREATE TABLE statement_payments (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    statement_id BIGINT NOT NULL REFERENCES statements(id),
    amount_fen BIGINT NOT NULL CHECK (amount_fen > 0),
    bank_reference TEXT NOT NULL,
    paid_on DATE NOT NULL,
    recorded_by_user_id BIGINT REFERENCES users(id),
    recorded_at TIMESTAMP NOT NULL
);
-- A transfer is recorded once.
CREATE UNIQUE INDEX statement_payments_reference ON statement_payments(statement_id, bank_reference);
