-- Issue 10, first slice: the canteen organisation completed (invoice bank details, payment
-- terms with a credit limit, an approval threshold, delivery sites, members' roles) and
-- each village's delivery rhythm (lead time, delivery weekdays).

-- 开户行, 账号, 地址电话: the rest of what a VAT invoice (增值税发票) needs.
ALTER TABLE organizations ADD COLUMN invoice_bank TEXT NOT NULL DEFAULT '';
ALTER TABLE organizations ADD COLUMN invoice_account TEXT NOT NULL DEFAULT '';
ALTER TABLE organizations ADD COLUMN invoice_address_phone TEXT NOT NULL DEFAULT '';
-- Prepay, or on account (月结) for payment_terms_days within credit_limit_fen.
ALTER TABLE organizations ADD COLUMN payment_terms TEXT NOT NULL DEFAULT 'on_account'
    CHECK (payment_terms IN ('prepay', 'on_account'));
ALTER TABLE organizations ADD COLUMN credit_limit_fen BIGINT NOT NULL DEFAULT 0
    CHECK (credit_limit_fen >= 0);
-- Orders above this wait for an approver; NULL: no order needs approval.
ALTER TABLE organizations ADD COLUMN approval_threshold_fen BIGINT
    CHECK (approval_threshold_fen IS NULL OR approval_threshold_fen > 0);

ALTER TABLE organization_members ADD COLUMN member_role TEXT NOT NULL DEFAULT 'buyer'
    CHECK (member_role IN ('buyer', 'approver'));

-- Days between the order's cutoff and delivery, and the weekdays the village delivers on,
-- Monday first: '1111100' delivers Monday to Friday.
ALTER TABLE villages ADD COLUMN lead_time_days INTEGER NOT NULL DEFAULT 1
    CHECK (lead_time_days BETWEEN 0 AND 30);
ALTER TABLE villages ADD COLUMN delivery_weekdays TEXT NOT NULL DEFAULT '1111100'
    CHECK (length(delivery_weekdays) = 7 AND delivery_weekdays <> '0000000'
           AND replace(replace(delivery_weekdays, '0', ''), '1', '') = '');

-- A canteen's delivery site (食堂): retired, never deleted, once orders may name it.
CREATE TABLE delivery_sites (
    id INTEGER PRIMARY KEY,
    organization_id BIGINT NOT NULL REFERENCES organizations(id),
    name TEXT NOT NULL,
    address TEXT NOT NULL,
    receiver TEXT NOT NULL,
    phone TEXT NOT NULL,
    delivery_window TEXT NOT NULL,
    retired BOOLEAN NOT NULL DEFAULT 0,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX delivery_sites_organization ON delivery_sites(organization_id);
