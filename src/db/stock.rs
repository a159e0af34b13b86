//! Queries over stock: the lots households hand to the team, write-offs, and the
//! product's `stock` they add to and take from. Decrements are conditional updates, so
//! stock never goes below zero whatever runs beside them.

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;

use super::DbConn;
use super::catalog::Product;
use super::households::Household;
use super::schema::{households, products, stock_lots, stock_write_offs};
use crate::states::SupplyMode;

#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = stock_lots)]
pub struct StockLot {
    pub id: i64,
    pub product_id: i64,
    pub household_id: i64,
    pub quantity: i32,
    /// What is left of the lot to sell or write off.
    pub remaining: i32,
    pub received_on: NaiveDate,
    /// For 统购 goods: what the collective paid the household per unit.
    pub purchase_price_fen: Option<i64>,
    pub recorded_by: Option<i64>,
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = stock_lots)]
pub struct NewStockLot {
    pub product_id: i64,
    pub household_id: i64,
    pub quantity: i32,
    pub remaining: i32,
    pub received_on: NaiveDate,
    pub purchase_price_fen: Option<i64>,
    pub recorded_by: Option<i64>,
    pub created_at: NaiveDateTime,
    /// The submission's key, bound to its sender and hashed (UNIQUE): `None` for a lot
    /// no form or API call recorded (the demo's).
    pub idempotency_key: Option<String>,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = stock_write_offs)]
pub struct WriteOff {
    pub id: i64,
    pub lot_id: i64,
    pub product_id: i64,
    pub quantity: i32,
    pub reason: String,
    pub written_off_on: NaiveDate,
    pub recorded_by: Option<i64>,
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = stock_write_offs)]
pub struct NewWriteOff<'a> {
    pub lot_id: i64,
    pub product_id: i64,
    pub quantity: i32,
    pub reason: &'a str,
    pub written_off_on: NaiveDate,
    pub recorded_by: Option<i64>,
    pub created_at: NaiveDateTime,
}

pub fn insert_lot(conn: &mut DbConn, new: &NewStockLot) -> QueryResult<i64> {
    diesel::insert_into(stock_lots::table)
        .values(new)
        .returning(stock_lots::id)
        .get_result(conn)
}

/// The lot recorded under a submission's stored key, if any.
pub fn lot_by_idempotency_key(conn: &mut DbConn, key: &str) -> QueryResult<Option<StockLot>> {
    stock_lots::table
        .filter(stock_lots::idempotency_key.eq(key))
        .select(StockLot::as_select())
        .first(conn)
        .optional()
}

pub fn add_to_product(
    conn: &mut DbConn,
    product_id: i64,
    quantity: i32,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(products::table.find(product_id))
        .set((
            products::stock.eq(products::stock + quantity),
            products::updated_at.eq(now),
        ))
        .execute(conn)
}

/// Takes `quantity` from the product's stock if that much is there; `false` if not.
pub fn take_from_product(
    conn: &mut DbConn,
    product_id: i64,
    quantity: i32,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    let rows = diesel::update(
        products::table
            .find(product_id)
            .filter(products::stock.ge(quantity)),
    )
    .set((
        products::stock.eq(products::stock - quantity),
        products::updated_at.eq(now),
    ))
    .execute(conn)?;
    Ok(rows == 1)
}

/// Takes `quantity` from what remains of a lot if that much is left; `false` if not.
pub fn take_from_lot(conn: &mut DbConn, lot_id: i64, quantity: i32) -> QueryResult<bool> {
    let rows = diesel::update(
        stock_lots::table
            .find(lot_id)
            .filter(stock_lots::remaining.ge(quantity)),
    )
    .set(stock_lots::remaining.eq(stock_lots::remaining - quantity))
    .execute(conn)?;
    Ok(rows == 1)
}

pub fn insert_write_off(conn: &mut DbConn, new: &NewWriteOff) -> QueryResult<i64> {
    diesel::insert_into(stock_write_offs::table)
        .values(new)
        .returning(stock_write_offs::id)
        .get_result(conn)
}

/// Lots of products in `village_ids`, newest first, optionally of one product or one
/// household, with the product and the household they came from.
pub fn lots(
    conn: &mut DbConn,
    village_ids: &[i64],
    product_id: Option<i64>,
    household_id: Option<i64>,
    limit: i64,
) -> QueryResult<Vec<(StockLot, Product, Household)>> {
    let mut query = stock_lots::table
        .inner_join(products::table)
        .inner_join(households::table)
        .filter(products::village_id.eq_any(village_ids.to_vec()))
        .into_boxed();
    if let Some(id) = product_id {
        query = query.filter(stock_lots::product_id.eq(id));
    }
    if let Some(id) = household_id {
        query = query.filter(stock_lots::household_id.eq(id));
    }
    query
        .order((stock_lots::received_on.desc(), stock_lots::id.desc()))
        .limit(limit)
        .select((
            StockLot::as_select(),
            Product::as_select(),
            Household::as_select(),
        ))
        .load(conn)
}

/// A lot, if its product belongs to one of `village_ids`.
pub fn lot_in_villages(
    conn: &mut DbConn,
    village_ids: &[i64],
    id: i64,
) -> QueryResult<Option<(StockLot, Product, Household)>> {
    stock_lots::table
        .inner_join(products::table)
        .inner_join(households::table)
        .filter(stock_lots::id.eq(id))
        .filter(products::village_id.eq_any(village_ids.to_vec()))
        .select((
            StockLot::as_select(),
            Product::as_select(),
            Household::as_select(),
        ))
        .first(conn)
        .optional()
}

pub fn write_offs_of_lot(conn: &mut DbConn, lot_id: i64) -> QueryResult<Vec<WriteOff>> {
    stock_write_offs::table
        .filter(stock_write_offs::lot_id.eq(lot_id))
        .order(stock_write_offs::id)
        .select(WriteOff::as_select())
        .load(conn)
}

/// Products of `village_ids`, any status but archived, for the workspace.
pub fn products_of_villages(conn: &mut DbConn, village_ids: &[i64]) -> QueryResult<Vec<Product>> {
    products::table
        .filter(products::village_id.eq_any(village_ids.to_vec()))
        .filter(products::status.ne("archived"))
        .order((products::village_id, products::id))
        .select(Product::as_select())
        .load(conn)
}

pub fn product_in_villages(
    conn: &mut DbConn,
    village_ids: &[i64],
    id: i64,
) -> QueryResult<Option<Product>> {
    products::table
        .filter(products::id.eq(id))
        .filter(products::village_id.eq_any(village_ids.to_vec()))
        .select(Product::as_select())
        .first(conn)
        .optional()
}

pub fn has_lots(conn: &mut DbConn, product_id: i64) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        stock_lots::table.filter(stock_lots::product_id.eq(product_id)),
    ))
    .get_result(conn)
}

pub fn product_stock(conn: &mut DbConn, product_id: i64) -> QueryResult<i32> {
    products::table
        .find(product_id)
        .select(products::stock)
        .first(conn)
}

/// The oldest lot of a product that still has goods (first in, first out):
/// `(lot id, household id, remaining)`.
pub fn oldest_lot_with_goods(
    conn: &mut DbConn,
    product_id: i64,
) -> QueryResult<Option<(i64, i64, i32)>> {
    Ok(lots_with_goods(conn, product_id, 1)?.into_iter().next())
}

/// Up to `limit` of a product's lots that still hold goods, oldest first (as first in,
/// first out takes them): lot, household, units.
pub fn lots_with_goods(
    conn: &mut DbConn,
    product_id: i64,
    limit: i64,
) -> QueryResult<Vec<(i64, i64, i32)>> {
    stock_lots::table
        .filter(stock_lots::product_id.eq(product_id))
        .filter(stock_lots::remaining.gt(0))
        .order((stock_lots::received_on, stock_lots::id))
        .limit(limit)
        .select((
            stock_lots::id,
            stock_lots::household_id,
            stock_lots::remaining,
        ))
        .load(conn)
}

/// Puts refunded goods back into the lot they came from.
pub fn return_to_lot(conn: &mut DbConn, lot_id: i64, quantity: i32) -> QueryResult<usize> {
    diesel::update(stock_lots::table.find(lot_id))
        .set(stock_lots::remaining.eq(stock_lots::remaining + quantity))
        .execute(conn)
}

/// How a product is supplied: `consignment` or `purchased`.
pub fn supply_mode(conn: &mut DbConn, product_id: i64) -> QueryResult<SupplyMode> {
    products::table
        .find(product_id)
        .select(products::supply_mode)
        .first(conn)
}
