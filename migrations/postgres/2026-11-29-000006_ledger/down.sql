DROP TABLE product_month_totals;
DROP TABLE village_month_totals;
DROP TABLE household_month_totals;
DROP TABLE ledger_entries;
DROP FUNCTION ledger_entries_append_only();
DROP TABLE payouts;
DROP TABLE allocations;
