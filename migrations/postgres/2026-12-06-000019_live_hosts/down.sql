ALTER TABLE village_month_totals DROP COLUMN host_commission_fen;
DROP INDEX ledger_entries_host;
ALTER TABLE ledger_entries DROP COLUMN host_id;
ALTER TABLE ledger_entries DROP CONSTRAINT ledger_entries_kind_check;
ALTER TABLE ledger_entries ADD CONSTRAINT ledger_entries_kind_check CHECK (kind IN ('household_share', 'collective_share', 'collective_sale', 'purchase', 'refund_household', 'refund_collective', 'payout'));
DROP TABLE host_payouts;
ALTER TABLE live_sessions DROP COLUMN host_id;
DROP TABLE live_hosts;
