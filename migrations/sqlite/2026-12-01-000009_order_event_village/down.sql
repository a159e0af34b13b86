ALTER TABLE order_events DROP COLUMN village_id;
