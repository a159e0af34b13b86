DROP TABLE live_buyer_units;
DROP INDEX orders_live_item;
ALTER TABLE orders DROP COLUMN live_item_id;
