DROP TABLE canteen_orders;
ALTER TABLE products DROP COLUMN canteen_step;
ALTER TABLE products DROP COLUMN canteen_min_quantity;
ALTER TABLE orders DROP CONSTRAINT orders_payment_method_check;
ALTER TABLE orders ADD CONSTRAINT orders_payment_method_check
    CHECK (payment_method IN ('bank_transfer', 'cash_on_delivery', 'stripe'));
