DROP INDEX stock_lots_idempotency_key;
ALTER TABLE stock_lots DROP COLUMN idempotency_key;
