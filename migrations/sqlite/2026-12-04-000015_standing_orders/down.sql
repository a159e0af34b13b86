DROP TABLE standing_order_runs;
DROP TABLE standing_order_skips;
DROP TABLE standing_order_lines;
DROP TABLE standing_orders;
