//! Stock received from households (入库) and written off. Receiving a lot adds to the
//! product's stock; a write-off takes from a lot and from the stock, with a reason.
//! Every movement is in the audit log, so that sold + available + reserved = received −
//! written off can be checked per product.

use chrono::{NaiveDate, NaiveDateTime};
use serde_json::json;

use crate::db::households as hh;
use crate::db::stock::{self as q, NewStockLot, NewWriteOff};
use crate::db::{DbConn, write_transaction};
use crate::domain::actor::{TeamScope, Who};
use crate::domain::audit::{self, Change};
use crate::domain::china_date;
use crate::domain::error::{DomainError, DomainResult};
use crate::domain::validation::{self as v, FieldErrors};
use crate::states::SupplyMode;

pub use crate::db::catalog::Product;
pub use crate::db::households::Household;
pub use crate::db::stock::{StockLot, WriteOff};

/// The most one lot or write-off may hold: far past a village's harvest, short of overflow.
pub const MAX_LOT_QUANTITY: i32 = 1_000_000;

/// A lot as typed into the form.
#[derive(Debug, Clone, Default, serde::Deserialize, serde::Serialize)]
#[serde(default)]
pub struct LotForm {
    pub product_id: String,
    pub household_id: String,
    pub quantity: String,
    pub received_on: String,
    /// Yuan per sale unit, for 统购 goods only.
    pub purchase_price: String,
    /// Set once per form page (or the API's `Idempotency-Key`), so that a double tap or a
    /// retry records one lot; empty for none.
    pub idempotency_key: String,
}

/// How many lots a list shows; older ones are reached by product or household.
const LOTS_SHOWN: i64 = 200;

/// A team's stock page: its products and households to choose from, and its lots
/// (newest first), optionally of one product or one household.
pub struct StockOverview {
    pub products: Vec<Product>,
    pub households: Vec<Household>,
    pub lots: Vec<(StockLot, Product, Household)>,
}

pub fn overview(
    conn: &mut DbConn,
    scope: &TeamScope,
    product_id: Option<i64>,
    household_id: Option<i64>,
) -> DomainResult<StockOverview> {
    let ids = scope.village_ids();
    let households = hh::HouseholdFilter {
        village_ids: ids,
        query: "",
        category: None,
        archived: false,
    };
    Ok(StockOverview {
        products: q::products_of_villages(conn, ids)?,
        households: hh::list(conn, &households, 0, 10_000)?.0,
        lots: q::lots(conn, ids, product_id, household_id, LOTS_SHOWN)?,
    })
}

/// A lot of the team's villages, with its product, household and write-offs.
pub struct LotDetail {
    pub lot: StockLot,
    pub product: Product,
    pub household: Household,
    pub write_offs: Vec<WriteOff>,
}

pub fn lot(conn: &mut DbConn, scope: &TeamScope, id: i64) -> DomainResult<LotDetail> {
    let (lot, product, household) =
        q::lot_in_villages(conn, scope.village_ids(), id)?.ok_or(DomainError::NotFound)?;
    Ok(LotDetail {
        write_offs: q::write_offs_of_lot(conn, lot.id)?,
        lot,
        product,
        household,
    })
}

/// Records a lot in one transaction: the lot, the product's stock, the audit entry.
/// Used by the team's form (after its checks) and by the demo loader.
pub fn receive_lot(
    conn: &mut DbConn,
    who: &Who,
    village_id: i64,
    lot: &NewStockLot,
    now: NaiveDateTime,
) -> diesel::QueryResult<i64> {
    write_transaction(conn, |conn| {
        let id = q::insert_lot(conn, lot)?;
        q::add_to_product(conn, lot.product_id, lot.quantity, now)?;
        crate::domain::ledger::post_purchase(conn, id, village_id, lot, now)?;
        let after = json!({
            "product_id": lot.product_id, "household_id": lot.household_id, "quantity": lot.quantity,
            "received_on": lot.received_on, "purchase_price_fen": lot.purchase_price_fen,
        });
        let change = Change {
            action: "receive",
            entity: "stock_lot",
            entity_id: id,
            village_id: Some(village_id),
            before: None,
            after: Some(after),
        };
        audit::record(conn, who, change, now)?;
        Ok(id)
    })
}

/// A lot `record_lot` answers: the one recorded now, or (`replayed`) the one the same
/// submission recorded before.
pub struct RecordedLot {
    pub id: i64,
    pub replayed: bool,
}

/// Checks a lot typed by a team member of `village_ids` and records it, once per
/// idempotency key: the same lot sent again under a key that recorded it (a double tap, a
/// retry after a dropped answer) answers that lot and writes nothing. A different lot under
/// a used key is a page kept from before (the browser's back button) and is refused as
/// stale, naming `idempotency_key`, rather than answered with a lot it is not. The key is
/// bound to the user who sent it, so no one finds a lot by another's key.
pub fn record_lot(
    conn: &mut DbConn,
    who: &Who,
    scope: &TeamScope,
    form: &LotForm,
    now: NaiveDateTime,
) -> DomainResult<RecordedLot> {
    let key = form.idempotency_key.trim();
    let stored_key = match who.user_id {
        Some(user_id) if !key.is_empty() => {
            if !crate::domain::orders::is_idempotency_key(key) {
                let mut errors = FieldErrors::default();
                errors.add("idempotency_key", "invalid-stale-form");
                return Err(errors.into());
            }
            let scope = format!("stock-lot:{user_id}");
            Some(crate::domain::orders::stored_idempotency_key(&scope, key))
        }
        _ => None,
    };
    let village_ids = scope.village_ids();
    let mut errors = FieldErrors::default();
    let product = match form.product_id.trim().parse::<i64>() {
        Ok(id) => q::product_in_villages(conn, village_ids, id)?,
        Err(_) => None,
    };
    if product.is_none() {
        errors.add("product_id", "invalid-choice");
    }
    let household = match form.household_id.trim().parse::<i64>() {
        Ok(id) => hh::in_villages(conn, village_ids, id)?,
        Err(_) => None,
    };
    match (&product, &household) {
        (_, None) => errors.add("household_id", "invalid-choice"),
        (_, Some(h)) if h.archived => errors.add("household_id", "invalid-household-archived"),
        (Some(p), Some(h)) if h.village_id != p.village_id => {
            errors.add("household_id", "invalid-household-village")
        }
        _ => {}
    }
    let quantity = v::whole_number(&mut errors, "quantity", &form.quantity, 1, MAX_LOT_QUANTITY);
    let received_on = v::date(&mut errors, "received_on", &form.received_on);
    if let Some(day) = received_on {
        if day > china_date(now) || day < NaiveDate::from_ymd_opt(2000, 1, 1).unwrap_or(day) {
            errors.add("received_on", "invalid-date-range");
        }
    }
    let purchase_price_fen = match &product {
        Some(p) if p.supply_mode == SupplyMode::Purchased => {
            v::price_yuan(&mut errors, "purchase_price", &form.purchase_price)
        }
        Some(_) if !form.purchase_price.trim().is_empty() => {
            errors.add("purchase_price", "invalid-price-consignment");
            None
        }
        _ => None,
    };
    let (Some(product), Some(household), Some(quantity), Some(received_on)) =
        (product, household, quantity, received_on)
    else {
        return Err(errors.into());
    };
    if !errors.is_empty() {
        return Err(errors.into());
    }
    let lot = NewStockLot {
        product_id: product.id,
        household_id: household.id,
        quantity,
        remaining: quantity,
        received_on,
        purchase_price_fen,
        recorded_by: who.user_id,
        created_at: now,
        idempotency_key: stored_key.clone(),
    };
    let Some(stored) = &stored_key else {
        let id = receive_lot(conn, who, product.village_id, &lot, now)?;
        return Ok(RecordedLot {
            id,
            replayed: false,
        });
    };
    if let Some(earlier) = q::lot_by_idempotency_key(conn, stored)? {
        return replayed(&earlier, &lot);
    }
    use diesel::result::{DatabaseErrorKind, Error};
    match receive_lot(conn, who, product.village_id, &lot, now) {
        // The same key sent at the same moment: the other submission recorded its lot.
        Err(Error::DatabaseError(DatabaseErrorKind::UniqueViolation, _)) => {
            let earlier = q::lot_by_idempotency_key(conn, stored)?.ok_or(DomainError::NotFound)?;
            replayed(&earlier, &lot)
        }
        recorded => Ok(RecordedLot {
            id: recorded?,
            replayed: false,
        }),
    }
}

/// The answer to a lot sent under a key that recorded `earlier`: that lot if it is the
/// same, or the form refused as stale.
fn replayed(earlier: &StockLot, lot: &NewStockLot) -> DomainResult<RecordedLot> {
    let same = (
        earlier.product_id,
        earlier.household_id,
        earlier.quantity,
        earlier.received_on,
        earlier.purchase_price_fen,
    ) == (
        lot.product_id,
        lot.household_id,
        lot.quantity,
        lot.received_on,
        lot.purchase_price_fen,
    );
    if !same {
        let mut errors = FieldErrors::default();
        errors.add("idempotency_key", "invalid-stale-form");
        return Err(errors.into());
    }
    Ok(RecordedLot {
        id: earlier.id,
        replayed: true,
    })
}

#[derive(Debug, Clone, Default, serde::Deserialize, serde::Serialize)]
#[serde(default)]
pub struct WriteOffForm {
    pub quantity: String,
    pub reason: String,
}

/// Writes off part of a lot of the team's villages: from the lot's remainder and from
/// the product's stock, both conditionally, so a write-off can never take goods that are
/// no longer there.
pub fn write_off(
    conn: &mut DbConn,
    who: &Who,
    scope: &TeamScope,
    lot_id: i64,
    form: &WriteOffForm,
    now: NaiveDateTime,
) -> DomainResult<i64> {
    let (lot, product, _) =
        q::lot_in_villages(conn, scope.village_ids(), lot_id)?.ok_or(DomainError::NotFound)?;
    let mut errors = FieldErrors::default();
    let quantity = v::whole_number(
        &mut errors,
        "quantity",
        &form.quantity,
        1,
        lot.remaining.max(1),
    );
    let reason = v::required_text(&mut errors, "reason", &form.reason, 200);
    let Some(quantity) = quantity.filter(|_| errors.is_empty()) else {
        return Err(errors.into());
    };
    write_transaction(conn, |conn| {
        if !q::take_from_lot(conn, lot.id, quantity)?
            || !q::take_from_product(conn, product.id, quantity, now)?
        {
            // Sold or written off meanwhile; nothing of this transaction stays.
            return Err(DomainError::invalid("quantity", "invalid-not-enough-stock"));
        }
        let new = NewWriteOff {
            lot_id: lot.id,
            product_id: product.id,
            quantity,
            reason: &reason,
            written_off_on: china_date(now),
            recorded_by: who.user_id,
            created_at: now,
        };
        let id = q::insert_write_off(conn, &new)?;
        let change = Change {
            action: "write_off",
            entity: "stock_lot",
            entity_id: lot.id,
            village_id: Some(product.village_id),
            before: Some(json!({ "remaining": lot.remaining, "product_stock": product.stock })),
            after: Some(json!({ "write_off_id": id, "quantity": quantity, "reason": reason })),
        };
        audit::record(conn, who, change, now)?;
        Ok(id)
    })
}
