//! Loading the demo: the nine villages of ARCHITECTURE §1 in their real counties, their
//! households, 30 products with stock received from those households as lots, a canteen
//! organisation, and one account per role. The data itself is in the files under `demo/`
//! (read by [`data`]); this module holds the rules it is written through: the same
//! functions and audit entries as the shop's own, and whatever is already there is kept,
//! so that loading twice changes nothing the second time.

pub mod data;

use chrono::{Duration, NaiveDateTime};
use diesel::QueryResult;

use crate::db::accounts as acc;
use crate::db::catalog::{self as cat, NewCounty, NewPriceTier, NewProduct, NewVillage};
use crate::db::households::{self as hh, NewHousehold};
use crate::db::stock::NewStockLot;
use crate::db::{DbConn, write_transaction};
use crate::domain::accounts::{NewAccount, create_account};
use crate::domain::actor::Who;
use crate::domain::audit::{self, Change};
use crate::domain::canteen;
use crate::domain::china_date;
use crate::domain::error::DomainError;
use crate::domain::stock::receive_lot;
use crate::i18n::Lang;
use crate::states::{ProductStatus, SupplyMode};
use data::DemoData;

const ACTOR: &str = "demo loader";

/// What a load did; all zero when the demo data was already there.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct DemoReport {
    pub counties: usize,
    pub villages: usize,
    pub households: usize,
    pub products: usize,
    pub lots: usize,
    pub users: usize,
}

impl DemoReport {
    pub fn is_empty(&self) -> bool {
        *self == DemoReport::default()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error(transparent)]
    Database(#[from] diesel::result::Error),
    #[error(transparent)]
    Account(#[from] DomainError),
    /// A demo order, refund or payout that the shop's own rules refused.
    #[error("demo data refused: {0}")]
    Refused(String),
    /// A file under `demo/` that is not the demo data.
    #[error(transparent)]
    Data(#[from] data::DataError),
    /// The database holds a real install's data: the demo must not mix into it.
    #[error(
        "this database holds {accounts} accounts and {villages} villages that the demo did not make; \
         the demo loads only into an empty database or one it made (choose another DATABASE_URL)"
    )]
    NotDemo { accounts: i64, villages: usize },
}

/// The demo canteen organisation's name, which the demo orders are placed for.
/// Runs a load of months-old demo trade all or nothing, and without mail: it goes through
/// the shop's own functions, which write their mail; nobody is to hear of it now, so what
/// it wrote to the outbox is dropped uncommitted.
pub(crate) fn without_mail<T>(
    conn: &mut DbConn,
    load: impl FnOnce(&mut DbConn) -> Result<T, DemoError>,
) -> Result<T, DemoError> {
    write_transaction(conn, |conn| {
        let last_mail = crate::db::outbox::last_id(conn)?;
        let loaded = load(conn)?;
        crate::db::outbox::discard_after(conn, last_mail)?;
        Ok(loaded)
    })
}

pub fn organization_name() -> Result<String, DemoError> {
    Ok(DemoData::embedded()?.organization.name)
}

/// Loads whatever part of the demo data is missing, in one transaction.
pub fn load(
    conn: &mut DbConn,
    password: &str,
    now: NaiveDateTime,
) -> Result<DemoReport, DemoError> {
    let data = DemoData::embedded()?;
    let mut report = DemoReport::default();
    write_transaction(conn, |conn| {
        refuse_a_real_install(conn)?;
        load_places(conn, &data, now, &mut report)?;
        load_products(conn, &data, now, &mut report)?;
        load_accounts(conn, &data, password, now, &mut report)
    })?;
    Ok(report)
}

/// The demo goes only into an empty database or one that it made itself (its loader's
/// audit entries mark it), never among a real install's villages, accounts and ledger.
fn refuse_a_real_install(conn: &mut DbConn) -> Result<(), DemoError> {
    if crate::db::audit::any_by(conn, ACTOR)? {
        return Ok(());
    }
    let accounts = acc::count_users(conn)?;
    let villages = cat::villages(conn)?.len();
    if accounts == 0 && villages == 0 && cat::counties(conn)?.is_empty() {
        return Ok(());
    }
    Err(DemoError::NotDemo { accounts, villages })
}

fn audit_create(
    conn: &mut DbConn,
    entity: &str,
    id: i64,
    village_id: i64,
    after: serde_json::Value,
    now: NaiveDateTime,
) -> QueryResult<()> {
    let change = Change {
        action: "create",
        entity,
        entity_id: id,
        village_id: Some(village_id),
        before: None,
        after: Some(after),
    };
    audit::record(conn, &Who::tool(ACTOR), change, now)
}

/// Counties are sorted as the file lists them; a household's demo phone number is made
/// from its village's place in the file and its own place in the village.
fn load_places(
    conn: &mut DbConn,
    data: &DemoData,
    now: NaiveDateTime,
    report: &mut DemoReport,
) -> QueryResult<()> {
    for (i, c) in data.counties.iter().enumerate() {
        if cat::county_by_slug(conn, &c.slug)?.is_none() {
            let new = NewCounty {
                slug: &c.slug,
                name_zh: &c.name_zh,
                name_en: &c.name_en,
                sort_order: i as i32 + 1,
            };
            cat::insert_county(conn, &new)?;
            report.counties += 1;
        }
    }
    for (place, v) in data.villages.iter().enumerate() {
        let village_id = match cat::village_by_slug(conn, &v.slug)? {
            Some((village, _)) => village.id,
            None => {
                let county =
                    cat::county_by_slug(conn, &v.county)?.ok_or(diesel::result::Error::NotFound)?;
                report.villages += 1;
                let new = NewVillage {
                    county_id: county.id,
                    slug: &v.slug,
                    name_zh: &v.name_zh,
                    name_en: &v.name_en,
                    township_zh: None,
                    township_en: None,
                    story_zh: &v.story_zh,
                    story_en: &v.story_en,
                    collective_share_bp: None,
                    created_at: now,
                };
                cat::insert_village(conn, &new)?
            }
        };
        for (n, h) in v.households.iter().enumerate() {
            if hh::by_code(conn, village_id, &h.code)?.is_some() {
                continue;
            }
            let phone = format!("1380352{place:02}{:02}", n + 1);
            let new = NewHousehold {
                village_id,
                code: &h.code,
                head_name: &h.head_name,
                resident_members: h.resident_members,
                category: h.category,
                phone: Some(&phone),
                payout_method: h.payout_method,
                payout_account: None,
                archived: false,
                created_at: now,
                updated_at: now,
            };
            let id = hh::insert(conn, &new)?;
            let after = serde_json::json!({"code": h.code, "head_name": h.head_name, "resident_members": h.resident_members, "category": h.category});
            audit_create(conn, "household", id, village_id, after, now)?;
            report.households += 1;
        }
    }
    Ok(())
}

/// Each new product's stock arrives as two lots from the village's first households,
/// received three weeks and one week ago, so that stock is traceable from day one.
fn load_products(
    conn: &mut DbConn,
    data: &DemoData,
    now: NaiveDateTime,
    report: &mut DemoReport,
) -> QueryResult<()> {
    let today = china_date(now);
    for p in &data.products {
        let (village, _) =
            cat::village_by_slug(conn, &p.village)?.ok_or(diesel::result::Error::NotFound)?;
        if cat::product_by_slug(conn, village.id, &p.slug)?.is_some() {
            continue;
        }
        let months: Vec<String> = p.season_months.iter().map(u32::to_string).collect();
        let season = months.join(",");
        let new = NewProduct {
            village_id: village.id,
            slug: &p.slug,
            name_zh: &p.name_zh,
            name_en: &p.name_en,
            description_zh: &p.description_zh,
            description_en: &p.description_en,
            category: &p.category,
            sale_unit_zh: &p.sale_unit_zh,
            sale_unit_en: &p.sale_unit_en,
            unit_price_fen: p.unit_price_fen,
            stock: 0,
            min_per_order: 1,
            max_per_order: p.max_per_order,
            season_months: &season,
            status: ProductStatus::OnSale,
            supply_mode: if p.purchase_price_fen.is_some() {
                SupplyMode::Purchased
            } else {
                SupplyMode::Consignment
            },
            featured: p.featured,
            low_stock_threshold: 10,
            canteen_min_quantity: p.canteen_min_quantity,
            canteen_step: p.canteen_step,
            created_at: now,
            updated_at: now,
        };
        let product_id = cat::insert_product(conn, &new)?;
        let after = serde_json::json!({"slug": p.slug, "name_zh": p.name_zh, "unit_price_fen": p.unit_price_fen});
        audit_create(conn, "product", product_id, village.id, after, now)?;
        for tier in &p.tiers {
            cat::insert_price_tier(
                conn,
                &NewPriceTier {
                    product_id,
                    min_quantity: tier.min_quantity,
                    unit_price_fen: tier.unit_price_fen,
                    canteen_only: tier.canteen_only,
                },
            )?;
        }
        report.products += 1;

        let households = hh::of_village(conn, village.id)?;
        let first_lot = p.stock * 3 / 5;
        // Received before the three months of demo orders (`demo_history`) began.
        let lots = [(0usize, first_lot, 120i64), (1, p.stock - first_lot, 45)];
        for (which, quantity, days_ago) in lots {
            let Some(household) = households.get(which % households.len().max(1)) else {
                continue;
            };
            if quantity <= 0 {
                continue;
            }
            let lot = NewStockLot {
                product_id,
                household_id: household.id,
                quantity,
                remaining: quantity,
                received_on: today - Duration::days(days_ago),
                purchase_price_fen: p.purchase_price_fen,
                recorded_by: None,
                created_at: now,
                idempotency_key: None,
            };
            receive_lot(conn, &Who::tool(ACTOR), village.id, &lot, now)?;
            report.lots += 1;
        }
    }
    Ok(())
}

fn load_accounts(
    conn: &mut DbConn,
    data: &DemoData,
    password: &str,
    now: NaiveDateTime,
    report: &mut DemoReport,
) -> Result<(), DemoError> {
    let o = &data.organization;
    let who = Who::tool(ACTOR);
    if acc::organization_by_name(conn, &o.name)?.is_none() {
        let id = acc::insert_organization(
            conn,
            &acc::NewOrganization {
                name: &o.name,
                invoice_title: &o.invoice_title,
                tax_id: &o.tax_id,
                address: &o.address,
                contact_name: &o.contact_name,
                contact_phone: &o.contact_phone,
                payment_terms_days: o.payment_terms_days,
                annual_target_fen: o.annual_target_fen,
                created_at: now,
            },
        )?;
        let terms = acc::OrganizationChanges {
            name: &o.name,
            invoice_title: &o.invoice_title,
            tax_id: &o.tax_id,
            address: &o.address,
            contact_name: &o.contact_name,
            contact_phone: &o.contact_phone,
            payment_terms_days: o.payment_terms_days,
            annual_target_fen: o.annual_target_fen,
            invoice_bank: &o.invoice_bank,
            invoice_account: &o.invoice_account,
            invoice_address_phone: &o.invoice_address_phone,
            payment_terms: o.payment_terms,
            credit_limit_fen: o.credit_limit_fen,
            approval_threshold_fen: o.approval_threshold_fen,
        };
        acc::update_organization(conn, id, &terms)?;
        acc::set_staff_code(conn, id, &o.staff_code)?;
        for site in &o.site {
            let form = canteen::SiteForm {
                name: site.name.clone(),
                address: site.address.clone(),
                receiver: site.receiver.clone(),
                phone: site.phone.clone(),
                delivery_window: site.delivery_window.clone(),
            };
            canteen::save_site(conn, &who, id, None, &form, now)?;
        }
    }
    for a in &data.accounts {
        if acc::user_by_email(conn, &a.email)?.is_some() {
            continue;
        }
        let new = NewAccount {
            email: a.email.clone(),
            display_name: a.display_name.clone(),
            role: a.role,
            password: password.into(),
            lang: Lang::ZhCn,
            village_slugs: a.villages.clone(),
            county_slug: None,
            organization: a.organization.clone(),
        };
        let user_id = create_account(conn, &new, &who, now)?;
        if let (Some(role), Some(name)) = (a.member_role, &a.organization) {
            if let Some(org) = acc::organization_by_name(conn, name)? {
                canteen::set_member_role(conn, &who, org.id, user_id, role.as_str(), now)?;
            }
        }
        report.users += 1;
    }
    Ok(())
}
