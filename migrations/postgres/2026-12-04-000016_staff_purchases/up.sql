-- Issue 10: staff purchases (职工个人购买). An organisation's staff code, entered at the
-- storefront's checkout, counts a personal order towards the organisation's yearly target;
-- the order stays the buyer's own.
ALTER TABLE organizations ADD COLUMN staff_code TEXT;
CREATE UNIQUE INDEX organizations_staff_code ON organizations(staff_code);
ALTER TABLE orders ADD COLUMN staff_organization_id BIGINT REFERENCES organizations(id);
CREATE INDEX orders_staff_organization ON orders(staff_organization_id, paid_at);
