-- Goods written off (spoilage, damage) from a household's lot, with the reason.
CREATE TABLE stock_write_offs (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    lot_id BIGINT NOT NULL REFERENCES stock_lots(id),
    product_id BIGINT NOT NULL REFERENCES products(id),
    quantity INTEGER NOT NULL CHECK (quantity > 0),
    reason TEXT NOT NULL,
    written_off_on DATE NOT NULL,
    recorded_by BIGINT REFERENCES users(id),
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX stock_write_offs_lot ON stock_write_offs(lot_id);
CREATE INDEX stock_write_offs_product ON stock_write_offs(product_id);
