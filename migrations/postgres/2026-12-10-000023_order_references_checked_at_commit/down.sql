ALTER TABLE orders ALTER CONSTRAINT orders_live_item_id_fkey NOT DEFERRABLE;
ALTER TABLE live_buyer_units ALTER CONSTRAINT live_buyer_units_item_id_fkey NOT DEFERRABLE;
ALTER TABLE order_lines ALTER CONSTRAINT order_lines_product_id_fkey NOT DEFERRABLE;
ALTER TABLE order_lines ALTER CONSTRAINT order_lines_village_id_fkey NOT DEFERRABLE;
ALTER TABLE shipments ALTER CONSTRAINT shipments_village_id_fkey NOT DEFERRABLE;
