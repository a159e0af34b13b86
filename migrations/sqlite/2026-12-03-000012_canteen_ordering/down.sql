-- The wider payment-method CHECK stays: orders placed on account may exist.
DROP TABLE canteen_orders;
ALTER TABLE products DROP COLUMN canteen_step;
ALTER TABLE products DROP COLUMN canteen_min_quantity;
