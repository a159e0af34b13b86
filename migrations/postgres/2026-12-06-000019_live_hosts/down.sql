ALTER TABLE village_month_totals DROP COLUMN host_commission_fen;
DROP INDEX ledger_entries_host;
ALTER TABLE ledger_entries DROP COLUMN host_id;
-- The wider kinds' CHECK stays: no entry of the new kinds can be undone (append-only).
DROP TABLE host_payouts;
ALTER TABLE live_sessions DROP COLUMN host_id;
DROP TABLE live_hosts;
