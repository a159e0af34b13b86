DROP TABLE acceptance_lines;
DROP INDEX shipments_to_accept;
ALTER TABLE shipments DROP COLUMN accepted_by_user_id;
ALTER TABLE shipments DROP COLUMN accepted_at;
