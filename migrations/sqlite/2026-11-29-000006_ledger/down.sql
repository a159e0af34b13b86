DROP TABLE product_month_totals;
DROP TABLE village_month_totals;
DROP TABLE household_month_totals;
DROP TABLE ledger_entries;
DROP TABLE payouts;
DROP TABLE allocations;
