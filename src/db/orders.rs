//! Queries over orders, their lines and status history.

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;

use super::schema::{order_events, order_lines, orders};
use super::{DbConn, insert_batched};

#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = orders)]
pub struct Order {
    pub id: i64,
    pub number: String,
    pub channel: String,
    pub organization_id: Option<i64>,
    pub buyer_user_id: Option<i64>,
    pub buyer_name: String,
    pub buyer_phone: String,
    pub buyer_email: Option<String>,
    pub delivery_address: String,
    pub note: String,
    pub payment_method: String,
    pub status: String,
    pub total_fen: i64,
    /// The secret in the buyer's link to the order.
    pub token: String,
    pub idempotency_key: String,
    pub reserved_until: Option<NaiveDateTime>,
    pub business_date: NaiveDate,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = orders)]
pub struct NewOrder<'a> {
    pub number: &'a str,
    pub channel: &'a str,
    pub organization_id: Option<i64>,
    pub buyer_user_id: Option<i64>,
    pub buyer_name: &'a str,
    pub buyer_phone: &'a str,
    pub buyer_email: Option<&'a str>,
    pub delivery_address: &'a str,
    pub note: &'a str,
    pub payment_method: &'a str,
    pub status: &'a str,
    pub total_fen: i64,
    pub token: &'a str,
    pub idempotency_key: &'a str,
    pub reserved_until: Option<NaiveDateTime>,
    pub business_date: NaiveDate,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = order_lines)]
pub struct OrderLine {
    pub id: i64,
    pub order_id: i64,
    pub product_id: i64,
    pub village_id: i64,
    pub quantity: i32,
    pub unit_price_fen: i64,
    pub line_total_fen: i64,
    pub product_name_zh: String,
    pub product_name_en: String,
    pub sale_unit_zh: String,
    pub sale_unit_en: String,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = order_lines)]
pub struct NewOrderLine {
    pub order_id: i64,
    pub product_id: i64,
    pub village_id: i64,
    pub quantity: i32,
    pub unit_price_fen: i64,
    pub line_total_fen: i64,
    pub product_name_zh: String,
    pub product_name_en: String,
    pub sale_unit_zh: String,
    pub sale_unit_en: String,
}

pub fn insert(conn: &mut DbConn, new: &NewOrder) -> QueryResult<i64> {
    diesel::insert_into(orders::table)
        .values(new)
        .returning(orders::id)
        .get_result(conn)
}

pub fn insert_lines(conn: &mut DbConn, lines: &[NewOrderLine]) -> QueryResult<()> {
    insert_batched!(conn, order_lines::table, lines)
}

pub fn record_event(
    conn: &mut DbConn,
    order_id: i64,
    from: Option<&str>,
    to: &str,
    actor: &str,
    note: Option<&str>,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::insert_into(order_events::table)
        .values((
            order_events::order_id.eq(order_id),
            order_events::from_status.eq(from),
            order_events::to_status.eq(to),
            order_events::actor_label.eq(actor),
            order_events::note.eq(note),
            order_events::created_at.eq(now),
        ))
        .execute(conn)
}

pub fn by_token(conn: &mut DbConn, token: &str) -> QueryResult<Option<Order>> {
    orders::table
        .filter(orders::token.eq(token))
        .select(Order::as_select())
        .first(conn)
        .optional()
}

pub fn by_idempotency_key(conn: &mut DbConn, key: &str) -> QueryResult<Option<Order>> {
    orders::table
        .filter(orders::idempotency_key.eq(key))
        .select(Order::as_select())
        .first(conn)
        .optional()
}

pub fn lines(conn: &mut DbConn, order_id: i64) -> QueryResult<Vec<OrderLine>> {
    order_lines::table
        .filter(order_lines::order_id.eq(order_id))
        .order(order_lines::id)
        .select(OrderLine::as_select())
        .load(conn)
}

/// Unpaid orders whose reservation ran out, taken for expiry. On PostgreSQL the rows are
/// locked and those another process holds are skipped, so two servers never expire the
/// same order; SQLite has one writer at a time anyway.
pub fn take_expired(conn: &mut DbConn, now: NaiveDateTime, limit: i64) -> QueryResult<Vec<Order>> {
    macro_rules! expired {
        () => {
            orders::table
                .filter(orders::status.eq("pending_payment"))
                .filter(orders::reserved_until.lt(now))
                .order(orders::id)
                .limit(limit)
                .select(Order::as_select())
        };
    }
    match conn {
        DbConn::Pg(c) => expired!().for_update().skip_locked().load(c),
        DbConn::Sqlite(c) => expired!().load(c),
    }
}

/// Moves an order from `from` to `to`; `false` when it was no longer in `from`.
pub fn transition(
    conn: &mut DbConn,
    id: i64,
    from: &str,
    to: &str,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    let rows = diesel::update(orders::table.find(id).filter(orders::status.eq(from)))
        .set((orders::status.eq(to), orders::updated_at.eq(now)))
        .execute(conn)?;
    Ok(rows == 1)
}

/// Orders with a line from one of `village_ids`, newest first, optionally in one status.
pub fn touching_villages(
    conn: &mut DbConn,
    village_ids: &[i64],
    status: Option<&str>,
    limit: i64,
) -> QueryResult<Vec<Order>> {
    let with_lines = order_lines::table
        .filter(order_lines::village_id.eq_any(village_ids.to_vec()))
        .select(order_lines::order_id);
    let mut query = orders::table
        .filter(orders::id.eq_any(with_lines))
        .into_boxed();
    if let Some(status) = status {
        query = query.filter(orders::status.eq(status.to_string()));
    }
    query
        .order(orders::id.desc())
        .limit(limit)
        .select(Order::as_select())
        .load(conn)
}

/// The order, if one of its lines is from `village_ids`.
pub fn touching_villages_by_id(
    conn: &mut DbConn,
    village_ids: &[i64],
    id: i64,
) -> QueryResult<Option<Order>> {
    let with_lines = order_lines::table
        .filter(order_lines::village_id.eq_any(village_ids.to_vec()))
        .select(order_lines::order_id);
    orders::table
        .filter(orders::id.eq(id))
        .filter(orders::id.eq_any(with_lines))
        .select(Order::as_select())
        .first(conn)
        .optional()
}

/// Clears an order's reservation deadline once it is paid.
pub fn clear_reservation(conn: &mut DbConn, id: i64) -> QueryResult<usize> {
    diesel::update(orders::table.find(id))
        .set(orders::reserved_until.eq(None::<NaiveDateTime>))
        .execute(conn)
}

/// A signed-in buyer's own orders, newest first.
pub fn of_buyer(conn: &mut DbConn, user_id: i64, limit: i64) -> QueryResult<Vec<Order>> {
    orders::table
        .filter(orders::buyer_user_id.eq(user_id))
        .order(orders::id.desc())
        .limit(limit)
        .select(Order::as_select())
        .load(conn)
}
