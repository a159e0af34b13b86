-- Issue 11: in a flash sale every order points at the same few rows (the link's item, its
-- product, its village). A foreign key checked at once locks the row it points at (FOR KEY
-- SHARE) until the order commits; with a dozen orders in flight PostgreSQL keeps those
-- lockers of one row as a shared "multixact", rebuilt for every new locker: some 85
-- multixact pages were read per order. Checked at commit instead, the checks run in the
-- lane's turn (`db::write_in_turn`), one order of a process at a time, and the item's row
-- is by then locked by the order's own update of its quota. Every reference still holds:
-- a dangling one fails the commit.
ALTER TABLE orders ALTER CONSTRAINT orders_live_item_id_fkey DEFERRABLE INITIALLY DEFERRED;
ALTER TABLE live_buyer_units ALTER CONSTRAINT live_buyer_units_item_id_fkey DEFERRABLE INITIALLY DEFERRED;
ALTER TABLE order_lines ALTER CONSTRAINT order_lines_product_id_fkey DEFERRABLE INITIALLY DEFERRED;
ALTER TABLE order_lines ALTER CONSTRAINT order_lines_village_id_fkey DEFERRABLE INITIALLY DEFERRED;
ALTER TABLE shipments ALTER CONSTRAINT shipments_village_id_fkey DEFERRABLE INITIALLY DEFERRED;
