DROP INDEX orders_staff_organization;
ALTER TABLE orders DROP COLUMN staff_organization_id;
DROP INDEX organizations_staff_code;
ALTER TABLE organizations DROP COLUMN staff_code;
