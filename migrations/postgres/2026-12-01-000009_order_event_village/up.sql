-- The village whose part of the order a history step concerns (a shipment's step, that
-- village's share of a refund); NULL for a step of the whole order. A team's order page
-- shows its own villages' steps and the whole order's, nobody else's.
ALTER TABLE order_events ADD COLUMN village_id BIGINT REFERENCES villages(id);
-- Shipment steps were written as "village {id}: {status}…".
UPDATE order_events
SET village_id = CAST(substring(note FROM '^village ([0-9]+):') AS BIGINT)
WHERE note LIKE 'village %:%';
