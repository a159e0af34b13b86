DROP TABLE statement_payments;
DROP TABLE statement_orders;
DROP TABLE statements;
