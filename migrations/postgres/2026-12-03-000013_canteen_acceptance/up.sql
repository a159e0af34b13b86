-- Issue 10: acceptance on arrival (验收). A canteen records, per line of a village's
-- delivered shipment, the units it accepts and those it rejects with a reason; rejected
-- units become a credit (a refund without a provider). A shipment not accepted within
-- ACCEPTANCE_DAYS of delivery is accepted by the jobs loop (accepted_by_user_id NULL).
ALTER TABLE shipments ADD COLUMN accepted_at TIMESTAMP;
ALTER TABLE shipments ADD COLUMN accepted_by_user_id BIGINT REFERENCES users(id);
CREATE INDEX shipments_to_accept ON shipments(status, accepted_at, delivered_at);

CREATE TABLE acceptance_lines (
    order_line_id BIGINT PRIMARY KEY REFERENCES order_lines(id),
    shipment_id BIGINT NOT NULL REFERENCES shipments(id),
    accepted INTEGER NOT NULL CHECK (accepted >= 0),
    rejected INTEGER NOT NULL CHECK (rejected >= 0),
    reason TEXT CHECK (reason IN ('short', 'damaged', 'quality')),
    -- The credit the rejected units became.
    refund_id BIGINT REFERENCES refunds(id),
    CHECK ((rejected = 0) = (reason IS NULL))
);
CREATE INDEX acceptance_lines_shipment ON acceptance_lines(shipment_id);
