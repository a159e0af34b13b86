-- Foundation: places, households, catalogue, stock lots, accounts, audit.
-- Kept in lockstep with migrations/sqlite; a test compares the two.

CREATE TABLE counties (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    slug TEXT NOT NULL UNIQUE,
    name_zh TEXT NOT NULL,
    name_en TEXT NOT NULL,
    sort_order INTEGER NOT NULL
);

CREATE TABLE villages (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    county_id BIGINT NOT NULL REFERENCES counties(id),
    slug TEXT NOT NULL UNIQUE,
    name_zh TEXT NOT NULL,
    name_en TEXT NOT NULL,
    township_zh TEXT,
    township_en TEXT,
    story_zh TEXT NOT NULL,
    story_en TEXT NOT NULL,
    collective_share_bp INTEGER,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX villages_county ON villages(county_id);

CREATE TABLE households (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    village_id BIGINT NOT NULL REFERENCES villages(id),
    code TEXT NOT NULL,
    head_name TEXT NOT NULL,
    resident_members INTEGER NOT NULL CHECK (resident_members > 0),
    category TEXT NOT NULL CHECK (category IN ('tuopin', 'jiance', 'yiban')),
    phone TEXT,
    payout_method TEXT NOT NULL CHECK (payout_method IN ('cash', 'bank', 'wechat', 'alipay')),
    payout_account TEXT,
    archived BOOLEAN NOT NULL DEFAULT FALSE,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    UNIQUE (village_id, code)
);

CREATE TABLE products (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    village_id BIGINT NOT NULL REFERENCES villages(id),
    slug TEXT NOT NULL,
    name_zh TEXT NOT NULL,
    name_en TEXT NOT NULL,
    description_zh TEXT NOT NULL,
    description_en TEXT NOT NULL,
    category TEXT NOT NULL,
    sale_unit_zh TEXT NOT NULL,
    sale_unit_en TEXT NOT NULL,
    unit_price_fen BIGINT NOT NULL CHECK (unit_price_fen > 0),
    stock INTEGER NOT NULL CHECK (stock >= 0),
    min_per_order INTEGER NOT NULL CHECK (min_per_order > 0),
    max_per_order INTEGER,
    season_months TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('draft', 'on_sale', 'paused', 'archived')),
    supply_mode TEXT NOT NULL CHECK (supply_mode IN ('consignment', 'purchased')),
    featured BOOLEAN NOT NULL DEFAULT FALSE,
    low_stock_threshold INTEGER NOT NULL,
    image TEXT,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    UNIQUE (village_id, slug)
);
CREATE INDEX products_status_category ON products(status, category);

CREATE TABLE price_tiers (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    product_id BIGINT NOT NULL REFERENCES products(id),
    min_quantity INTEGER NOT NULL CHECK (min_quantity > 1),
    unit_price_fen BIGINT NOT NULL CHECK (unit_price_fen > 0),
    canteen_only BOOLEAN NOT NULL DEFAULT FALSE,
    UNIQUE (product_id, min_quantity, canteen_only)
);

CREATE TABLE stock_lots (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    product_id BIGINT NOT NULL REFERENCES products(id),
    household_id BIGINT NOT NULL REFERENCES households(id),
    quantity INTEGER NOT NULL CHECK (quantity > 0),
    remaining INTEGER NOT NULL CHECK (remaining >= 0 AND remaining <= quantity),
    received_on DATE NOT NULL,
    purchase_price_fen BIGINT,
    recorded_by BIGINT,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX stock_lots_product ON stock_lots(product_id, received_on);
CREATE INDEX stock_lots_household ON stock_lots(household_id);

CREATE TABLE users (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email TEXT NOT NULL UNIQUE,
    display_name TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('admin', 'team', 'canteen', 'cadre')),
    locale TEXT NOT NULL,
    disabled BOOLEAN NOT NULL DEFAULT FALSE,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

CREATE TABLE team_villages (
    user_id BIGINT NOT NULL REFERENCES users(id),
    village_id BIGINT NOT NULL REFERENCES villages(id),
    PRIMARY KEY (user_id, village_id)
);

CREATE TABLE cadre_scopes (
    user_id BIGINT NOT NULL PRIMARY KEY REFERENCES users(id),
    county_id BIGINT REFERENCES counties(id),
    village_id BIGINT REFERENCES villages(id)
);

CREATE TABLE organizations (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name TEXT NOT NULL,
    invoice_title TEXT NOT NULL,
    tax_id TEXT NOT NULL,
    address TEXT NOT NULL,
    contact_name TEXT NOT NULL,
    contact_phone TEXT NOT NULL,
    payment_terms_days INTEGER NOT NULL CHECK (payment_terms_days >= 0),
    annual_target_fen BIGINT NOT NULL CHECK (annual_target_fen >= 0),
    created_at TIMESTAMP NOT NULL,
    UNIQUE (name)
);

CREATE TABLE organization_members (
    user_id BIGINT NOT NULL PRIMARY KEY REFERENCES users(id),
    organization_id BIGINT NOT NULL REFERENCES organizations(id)
);

CREATE TABLE login_failures (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    ip TEXT NOT NULL,
    failed_at TIMESTAMP NOT NULL
);
CREATE INDEX login_failures_ip ON login_failures(ip, failed_at);

CREATE TABLE audit_log (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    actor_user_id BIGINT REFERENCES users(id),
    actor_label TEXT NOT NULL,
    action TEXT NOT NULL,
    entity TEXT NOT NULL,
    entity_id BIGINT NOT NULL,
    village_id BIGINT REFERENCES villages(id),
    before_json TEXT,
    after_json TEXT,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX audit_log_village ON audit_log(village_id, created_at);
