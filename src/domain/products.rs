//! Products as a work team lists them: names and descriptions in both languages, the
//! sale unit and its price in fen, bulk price tiers, order limits, season, status and
//! supply mode (代卖 consignment or 统购 bought in by the collective).

use chrono::NaiveDateTime;
use serde_json::{Value, json};

use crate::db::catalog::{self as q, NewPriceTier, NewProduct, PriceTier, ProductChanges};
use crate::db::stock::{self as st, has_lots};
use crate::db::{DbConn, write_transaction};
use crate::domain::actor::{TeamScope, Who};
use crate::domain::audit::{self, Change};
use crate::domain::error::{DomainError, DomainResult};
use crate::domain::team::{self, Village};
use crate::domain::validation::{self as v, FieldErrors};
use crate::states::{ProductStatus, SupplyMode};

pub use crate::db::catalog::Product;
pub use crate::db::households::Household;
pub use crate::db::stock::StockLot;

pub const CATEGORIES: [&str; 12] = [
    "grains",
    "flour",
    "fruit",
    "dried",
    "preserves",
    "pickles",
    "meat",
    "poultry_eggs",
    "liquor",
    "vegetables",
    "gifts",
    "herbs",
];
/// Rows of bulk tiers a form offers.
pub const TIER_ROWS: usize = 5;

#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct TierForm {
    pub min_quantity: String,
    pub price: String,
    pub canteen_only: bool,
}

/// A product as typed into the form.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct ProductForm {
    pub village_id: String,
    pub name_zh: String,
    pub name_en: String,
    pub description_zh: String,
    pub description_en: String,
    pub category: String,
    pub sale_unit_zh: String,
    pub sale_unit_en: String,
    pub unit_price: String,
    pub min_per_order: String,
    pub max_per_order: String,
    /// Empty means 1.
    pub canteen_min_quantity: String,
    /// Empty means 1.
    pub canteen_step: String,
    pub season: Vec<String>,
    pub status: String,
    pub supply_mode: String,
    pub low_stock_threshold: String,
    pub tiers: Vec<TierForm>,
}

impl ProductForm {
    /// The form filled in from a saved product, for editing.
    pub fn of(p: &Product, tiers: &[PriceTier]) -> ProductForm {
        let yuan = |fen: i64| format!("{}.{:02}", fen / 100, fen % 100);
        let mut rows: Vec<TierForm> = tiers
            .iter()
            .map(|t| TierForm {
                min_quantity: t.min_quantity.to_string(),
                price: yuan(t.unit_price_fen),
                canteen_only: t.canteen_only,
            })
            .collect();
        rows.resize(TIER_ROWS.max(rows.len()), TierForm::default());
        ProductForm {
            village_id: p.village_id.to_string(),
            name_zh: p.name_zh.clone(),
            name_en: p.name_en.clone(),
            description_zh: p.description_zh.clone(),
            description_en: p.description_en.clone(),
            category: p.category.clone(),
            sale_unit_zh: p.sale_unit_zh.clone(),
            sale_unit_en: p.sale_unit_en.clone(),
            unit_price: yuan(p.unit_price_fen),
            min_per_order: p.min_per_order.to_string(),
            max_per_order: p.max_per_order.map(|m| m.to_string()).unwrap_or_default(),
            canteen_min_quantity: p.canteen_min_quantity.to_string(),
            canteen_step: p.canteen_step.to_string(),
            season: p
                .season_months
                .split(',')
                .filter(|m| !m.is_empty())
                .map(String::from)
                .collect(),
            status: p.status.as_str().to_string(),
            supply_mode: p.supply_mode.as_str().to_string(),
            low_stock_threshold: p.low_stock_threshold.to_string(),
            tiers: rows,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ValidTier {
    pub min_quantity: i32,
    pub unit_price_fen: i64,
    pub canteen_only: bool,
}

#[derive(Debug, Clone)]
pub struct ValidProduct {
    pub name_zh: String,
    pub name_en: String,
    pub description_zh: String,
    pub description_en: String,
    pub category: String,
    pub sale_unit_zh: String,
    pub sale_unit_en: String,
    pub unit_price_fen: i64,
    pub min_per_order: i32,
    pub max_per_order: Option<i32>,
    pub canteen_min_quantity: i32,
    pub canteen_step: i32,
    pub season_months: String,
    pub status: ProductStatus,
    pub supply_mode: SupplyMode,
    pub low_stock_threshold: i32,
    pub tiers: Vec<ValidTier>,
}

impl ValidProduct {
    fn changes(&self, now: NaiveDateTime) -> ProductChanges<'_> {
        ProductChanges {
            name_zh: &self.name_zh,
            name_en: &self.name_en,
            description_zh: &self.description_zh,
            description_en: &self.description_en,
            category: &self.category,
            sale_unit_zh: &self.sale_unit_zh,
            sale_unit_en: &self.sale_unit_en,
            unit_price_fen: self.unit_price_fen,
            min_per_order: self.min_per_order,
            max_per_order: self.max_per_order,
            season_months: &self.season_months,
            status: self.status,
            supply_mode: self.supply_mode,
            low_stock_threshold: self.low_stock_threshold,
            canteen_min_quantity: self.canteen_min_quantity,
            canteen_step: self.canteen_step,
            updated_at: now,
        }
    }

    fn snapshot(&self) -> Value {
        json!({
            "name_zh": self.name_zh, "name_en": self.name_en, "category": self.category,
            "sale_unit_zh": self.sale_unit_zh, "unit_price_fen": self.unit_price_fen,
            "min_per_order": self.min_per_order, "max_per_order": self.max_per_order,
            "canteen_min_quantity": self.canteen_min_quantity, "canteen_step": self.canteen_step,
            "season_months": self.season_months, "status": self.status, "supply_mode": self.supply_mode,
            "low_stock_threshold": self.low_stock_threshold,
            "tiers": self.tiers.iter().map(|t| json!([t.min_quantity, t.unit_price_fen, t.canteen_only])).collect::<Vec<_>>(),
        })
    }
}

fn snapshot_of(p: &Product, tiers: &[PriceTier]) -> Value {
    json!({
        "name_zh": p.name_zh, "name_en": p.name_en, "category": p.category,
        "sale_unit_zh": p.sale_unit_zh, "unit_price_fen": p.unit_price_fen,
        "min_per_order": p.min_per_order, "max_per_order": p.max_per_order,
        "canteen_min_quantity": p.canteen_min_quantity, "canteen_step": p.canteen_step,
        "season_months": p.season_months, "status": p.status, "supply_mode": p.supply_mode,
        "low_stock_threshold": p.low_stock_threshold,
        "tiers": tiers.iter().map(|t| json!([t.min_quantity, t.unit_price_fen, t.canteen_only])).collect::<Vec<_>>(),
    })
}

/// Bulk tiers: each filled row needs both a quantity (2 or more) and a price below the
/// unit price, and a larger minimum quantity must have a strictly lower price.
fn validate_tiers(
    errors: &mut FieldErrors,
    tiers: &[TierForm],
    unit_price: Option<i64>,
) -> Vec<ValidTier> {
    let mut valid = Vec::new();
    for (i, row) in tiers.iter().enumerate() {
        let n = i + 1;
        if row.min_quantity.trim().is_empty() && row.price.trim().is_empty() {
            continue;
        }
        let min_field = format!("tier_min_{n}");
        let price_field = format!("tier_price_{n}");
        let min = v::whole_number(errors, &min_field, &row.min_quantity, 2, 1_000_000);
        let price = v::price_yuan(errors, &price_field, &row.price);
        if let (Some(price), Some(unit)) = (price, unit_price) {
            if price >= unit {
                errors.add(&price_field, "invalid-tier-not-cheaper");
                continue;
            }
        }
        if let (Some(min_quantity), Some(unit_price_fen)) = (min, price) {
            valid.push((
                n,
                ValidTier {
                    min_quantity,
                    unit_price_fen,
                    canteen_only: row.canteen_only,
                },
            ));
        }
    }
    // One ladder: what a canteen sees (public and canteen-only tiers together) must get
    // cheaper with every step, and so must the public tiers within it.
    valid.sort_by_key(|(_, t)| (t.min_quantity, t.canteen_only));
    for pair in valid.windows(2) {
        let ((_, a), (n, b)) = (&pair[0], &pair[1]);
        if a.min_quantity == b.min_quantity && a.canteen_only == b.canteen_only {
            errors.add(&format!("tier_min_{n}"), "invalid-tier-repeated");
        } else if b.unit_price_fen >= a.unit_price_fen {
            errors.add(&format!("tier_price_{n}"), "invalid-tier-order");
        }
    }
    let mut tiers: Vec<ValidTier> = valid.into_iter().map(|(_, t)| t).collect();
    tiers.sort_by_key(|t| (t.canteen_only, t.min_quantity));
    tiers
}

pub fn validate(form: &ProductForm) -> Result<ValidProduct, FieldErrors> {
    let mut errors = FieldErrors::default();
    let name_zh = v::required_text(&mut errors, "name_zh", &form.name_zh, 60);
    let name_en = v::optional_text(&mut errors, "name_en", &form.name_en, 80).unwrap_or_default();
    let description_zh =
        v::optional_text(&mut errors, "description_zh", &form.description_zh, 2000)
            .unwrap_or_default();
    let description_en =
        v::optional_text(&mut errors, "description_en", &form.description_en, 2000)
            .unwrap_or_default();
    let category = v::one_of(&mut errors, "category", &form.category, &CATEGORIES);
    let sale_unit_zh = v::required_text(&mut errors, "sale_unit_zh", &form.sale_unit_zh, 20);
    let sale_unit_en =
        v::optional_text(&mut errors, "sale_unit_en", &form.sale_unit_en, 40).unwrap_or_default();
    let unit_price_fen = v::price_yuan(&mut errors, "unit_price", &form.unit_price);
    let min_per_order = v::whole_number(
        &mut errors,
        "min_per_order",
        &form.min_per_order,
        1,
        100_000,
    );
    let max_per_order = match form.max_per_order.trim() {
        "" => None,
        max => v::whole_number(&mut errors, "max_per_order", max, 1, 100_000),
    };
    if let (Some(min), Some(max)) = (min_per_order, max_per_order) {
        if max < min {
            errors.add("max_per_order", "invalid-max-below-min");
        }
    }
    let mut canteen_quantity = |field: &str, value: &str| match value.trim() {
        "" => Some(1),
        n => v::whole_number(&mut errors, field, n, 1, 100_000),
    };
    let canteen_min_quantity = canteen_quantity("canteen_min_quantity", &form.canteen_min_quantity);
    let canteen_step = canteen_quantity("canteen_step", &form.canteen_step);
    let mut months: Vec<u32> = Vec::new();
    for m in &form.season {
        match m.trim().parse::<u32>() {
            Ok(m) if (1..=12).contains(&m) && !months.contains(&m) => months.push(m),
            _ => errors.add("season", "invalid-choice"),
        }
    }
    months.sort_unstable();
    // Every month ticked is the same as none: all year.
    let season_months = if months.len() == 12 {
        String::new()
    } else {
        months
            .iter()
            .map(u32::to_string)
            .collect::<Vec<_>>()
            .join(",")
    };
    let status = v::state(&mut errors, "status", &form.status, ProductStatus::parse);
    let supply_mode = v::state(
        &mut errors,
        "supply_mode",
        &form.supply_mode,
        SupplyMode::parse,
    );
    let low_stock_threshold = v::whole_number(
        &mut errors,
        "low_stock_threshold",
        &form.low_stock_threshold,
        0,
        1_000_000,
    );
    let tiers = validate_tiers(&mut errors, &form.tiers, unit_price_fen);
    match (
        category,
        unit_price_fen,
        min_per_order,
        status,
        supply_mode,
        low_stock_threshold,
        canteen_min_quantity,
        canteen_step,
    ) {
        (
            Some(category),
            Some(unit_price_fen),
            Some(min_per_order),
            Some(status),
            Some(supply_mode),
            Some(low_stock_threshold),
            Some(canteen_min_quantity),
            Some(canteen_step),
        ) if errors.is_empty() => Ok(ValidProduct {
            name_zh,
            name_en,
            description_zh,
            description_en,
            category,
            sale_unit_zh,
            sale_unit_en,
            unit_price_fen,
            min_per_order,
            max_per_order,
            canteen_min_quantity,
            canteen_step,
            season_months,
            status,
            supply_mode,
            low_stock_threshold,
            tiers,
        }),
        _ => Err(errors),
    }
}

/// A URL-safe name from the English name, unique within the village.
fn free_slug(conn: &mut DbConn, village_id: i64, name_en: &str) -> diesel::QueryResult<String> {
    let base: String = name_en
        .to_ascii_lowercase()
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join("-");
    let base = if base.is_empty() {
        "product".to_string()
    } else {
        base.chars().take(48).collect()
    };
    let taken = q::slugs_of_village(conn, village_id)?;
    Ok((1..)
        .map(|n| {
            if n == 1 {
                base.clone()
            } else {
                format!("{base}-{n}")
            }
        })
        .find(|s| !taken.contains(s))
        .unwrap_or(base))
}

fn save_tiers(conn: &mut DbConn, product_id: i64, tiers: &[ValidTier]) -> diesel::QueryResult<()> {
    q::delete_price_tiers(conn, product_id)?;
    for t in tiers {
        let new = NewPriceTier {
            product_id,
            min_quantity: t.min_quantity,
            unit_price_fen: t.unit_price_fen,
            canteen_only: t.canteen_only,
        };
        q::insert_price_tier(conn, &new)?;
    }
    Ok(())
}

/// Creates a product in one of the member's villages (the form's `village_id`), with
/// no stock: stock arrives as lots from households.
pub fn create(
    conn: &mut DbConn,
    who: &Who,
    scope: &TeamScope,
    form: &ProductForm,
    now: NaiveDateTime,
) -> DomainResult<i64> {
    let village_id = form
        .village_id
        .trim()
        .parse::<i64>()
        .ok()
        .filter(|id| scope.covers(*id));
    let valid = validate(form);
    let (village_id, valid) = match (village_id, valid) {
        (Some(id), Ok(valid)) => (id, valid),
        (None, Ok(_)) => return Err(DomainError::invalid("village_id", "invalid-choice")),
        (None, Err(mut errors)) => {
            errors.add("village_id", "invalid-choice");
            return Err(errors.into());
        }
        (Some(_), Err(errors)) => return Err(errors.into()),
    };
    write_transaction(conn, |conn| {
        let slug = free_slug(conn, village_id, &valid.name_en)?;
        let new = NewProduct {
            village_id,
            slug: &slug,
            name_zh: &valid.name_zh,
            name_en: &valid.name_en,
            description_zh: &valid.description_zh,
            description_en: &valid.description_en,
            category: &valid.category,
            sale_unit_zh: &valid.sale_unit_zh,
            sale_unit_en: &valid.sale_unit_en,
            unit_price_fen: valid.unit_price_fen,
            stock: 0,
            min_per_order: valid.min_per_order,
            max_per_order: valid.max_per_order,
            season_months: &valid.season_months,
            status: valid.status,
            supply_mode: valid.supply_mode,
            featured: false,
            low_stock_threshold: valid.low_stock_threshold,
            canteen_min_quantity: valid.canteen_min_quantity,
            canteen_step: valid.canteen_step,
            created_at: now,
            updated_at: now,
        };
        let id = q::insert_product(conn, &new)?;
        save_tiers(conn, id, &valid.tiers)?;
        let change = Change {
            action: "create",
            entity: "product",
            entity_id: id,
            village_id: Some(village_id),
            before: None,
            after: Some(valid.snapshot()),
        };
        audit::record(conn, who, change, now)?;
        Ok(id)
    })
}

/// A product of the member's villages, or `NotFound`.
pub fn in_scope(conn: &mut DbConn, scope: &TeamScope, id: i64) -> DomainResult<Product> {
    st::product_in_villages(conn, scope.village_ids(), id)?.ok_or(DomainError::NotFound)
}

/// Saves an edit of a product of the member's villages. Its supply mode is fixed once
/// stock has been received, since the lots were paid for under it.
pub fn update(
    conn: &mut DbConn,
    who: &Who,
    scope: &TeamScope,
    id: i64,
    form: &ProductForm,
    now: NaiveDateTime,
) -> DomainResult<()> {
    let product = in_scope(conn, scope, id)?;
    let valid = validate(form)?;
    write_transaction(conn, |conn| {
        if valid.supply_mode != product.supply_mode && has_lots(conn, product.id)? {
            return Err(DomainError::invalid(
                "supply_mode",
                "invalid-supply-mode-fixed",
            ));
        }
        let tiers = q::price_tiers(conn, product.id)?;
        let before = snapshot_of(&product, &tiers);
        let after = valid.snapshot();
        if before == after {
            return Ok(());
        }
        q::update_product(conn, product.id, &valid.changes(now))?;
        save_tiers(conn, product.id, &valid.tiers)?;
        let change = Change {
            action: "update",
            entity: "product",
            entity_id: product.id,
            village_id: Some(product.village_id),
            before: Some(before),
            after: Some(after),
        };
        audit::record(conn, who, change, now)?;
        Ok(())
    })
}

/// The products of the member's villages (archived ones left out).
pub fn list(conn: &mut DbConn, scope: &TeamScope) -> DomainResult<Vec<Product>> {
    Ok(st::products_of_villages(conn, scope.village_ids())?)
}

/// How many lots a product's page lists.
const LOTS_SHOWN: i64 = 500;

/// A product of the member's villages as its workspace page shows it: the product and
/// the lots its stock came from, newest first.
pub struct ProductPage {
    pub product: Product,
    pub lots: Vec<(StockLot, Product, Household)>,
}

pub fn page(conn: &mut DbConn, scope: &TeamScope, id: i64) -> DomainResult<ProductPage> {
    let product = in_scope(conn, scope, id)?;
    let lots = st::lots(
        conn,
        scope.village_ids(),
        Some(product.id),
        None,
        LOTS_SHOWN,
    )?;
    Ok(ProductPage { product, lots })
}

/// A product of the member's villages as its edit form shows it.
pub struct ProductEdit {
    pub product_id: i64,
    pub form: ProductForm,
    pub villages: Vec<Village>,
}

pub fn edit(conn: &mut DbConn, scope: &TeamScope, id: i64) -> DomainResult<ProductEdit> {
    let product = in_scope(conn, scope, id)?;
    let tiers = q::price_tiers(conn, product.id)?;
    Ok(ProductEdit {
        product_id: product.id,
        form: ProductForm::of(&product, &tiers),
        villages: team::villages(conn, scope)?,
    })
}

/// The form for a new product, in the first of the member's villages: a draft of
/// consignment goods.
pub fn new_form(villages: &[Village]) -> ProductForm {
    ProductForm {
        village_id: villages
            .first()
            .map(|v| v.id.to_string())
            .unwrap_or_default(),
        min_per_order: "1".into(),
        status: ProductStatus::Draft.as_str().into(),
        supply_mode: SupplyMode::Consignment.as_str().into(),
        low_stock_threshold: "10".into(),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tier(min: &str, price: &str, canteen_only: bool) -> TierForm {
        TierForm {
            min_quantity: min.into(),
            price: price.into(),
            canteen_only,
        }
    }

    fn tier_errors(tiers: &[TierForm]) -> Vec<(String, &'static str)> {
        let mut errors = FieldErrors::default();
        validate_tiers(&mut errors, tiers, Some(1000));
        errors.0.into_iter().map(|e| (e.field, e.key)).collect()
    }

    #[test]
    fn tiers_get_cheaper_as_quantities_grow() {
        assert!(
            tier_errors(&[
                tier("10", "9", false),
                tier("50", "7.5", false),
                tier("20", "8", true)
            ])
            .is_empty()
        );
        assert_eq!(
            tier_errors(&[tier("10", "9", false), tier("40", "9.5", true)]),
            [("tier_price_2".into(), "invalid-tier-order")],
            "a canteen tier dearer than a smaller public one"
        );
        assert!(
            tier_errors(&[tier("10", "9", false), tier("10", "8.5", true)]).is_empty(),
            "canteens cheaper at the same step"
        );
        assert_eq!(
            tier_errors(&[tier("10", "9", false), tier("50", "9", false)]),
            [("tier_price_2".into(), "invalid-tier-order")]
        );
        assert_eq!(
            tier_errors(&[tier("50", "8", false), tier("10", "9", false)]),
            [],
            "order of rows does not matter"
        );
        assert_eq!(
            tier_errors(&[tier("10", "9", false), tier("10", "8", false)]),
            [("tier_min_2".into(), "invalid-tier-repeated")]
        );
        assert_eq!(
            tier_errors(&[tier("10", "10", false)]),
            [("tier_price_1".into(), "invalid-tier-not-cheaper")]
        );
        assert_eq!(
            tier_errors(&[tier("1", "9", false)]),
            [("tier_min_1".into(), "invalid-range")]
        );
        assert_eq!(
            tier_errors(&[tier("10", "9.001", false)]),
            [("tier_price_1".into(), "invalid-price-decimals")]
        );
    }
}
