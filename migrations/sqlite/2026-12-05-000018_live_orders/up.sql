-- Issue 11: orders from a livestream link carry their item; each buyer's units of an item
-- are counted by their mobile number, so the per-buyer limit holds across their orders.
ALTER TABLE orders ADD COLUMN live_item_id BIGINT REFERENCES live_items(id);
CREATE INDEX orders_live_item ON orders(live_item_id);
CREATE TABLE live_buyer_units (
    item_id BIGINT NOT NULL REFERENCES live_items(id),
    -- The buyer's mobile number, normalised (11 digits).
    phone TEXT NOT NULL,
    units INTEGER NOT NULL CHECK (units >= 0),
    PRIMARY KEY (item_id, phone)
);
