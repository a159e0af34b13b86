//! Provider events received (each once) and refunds with their lines.

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;

use super::schema::{order_lines, payment_events, refund_lines, refunds};
use super::{DbConn, insert_batched};

pub fn event_seen(conn: &mut DbConn, provider: &str, event_id: &str) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        payment_events::table
            .filter(payment_events::provider.eq(provider))
            .filter(payment_events::event_id.eq(event_id)),
    ))
    .get_result(conn)
}

/// Records a provider event; the unique (provider, event_id) makes a racing duplicate
/// fail here, rolling back whatever its transaction did.
pub fn record_event(
    conn: &mut DbConn,
    provider: &str,
    event_id: &str,
    event_type: &str,
    order_id: Option<i64>,
    outcome: &str,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::insert_into(payment_events::table)
        .values((
            payment_events::provider.eq(provider),
            payment_events::event_id.eq(event_id),
            payment_events::event_type.eq(event_type),
            payment_events::order_id.eq(order_id),
            payment_events::outcome.eq(outcome),
            payment_events::received_at.eq(now),
        ))
        .execute(conn)
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = refunds)]
pub struct Refund {
    pub id: i64,
    pub order_id: i64,
    pub amount_fen: i64,
    pub provider_refund_id: Option<String>,
    pub reason: String,
    pub restock: bool,
    pub actor_label: String,
    pub business_date: NaiveDate,
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = refunds)]
pub struct NewRefund<'a> {
    pub order_id: i64,
    pub amount_fen: i64,
    pub provider_refund_id: Option<&'a str>,
    pub reason: &'a str,
    pub restock: bool,
    pub actor_label: &'a str,
    pub business_date: NaiveDate,
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = refund_lines)]
pub struct NewRefundLine {
    pub refund_id: i64,
    pub order_line_id: i64,
    pub quantity: i32,
    pub amount_fen: i64,
}

pub fn insert_refund(
    conn: &mut DbConn,
    refund: &NewRefund,
    lines: &mut [NewRefundLine],
) -> QueryResult<i64> {
    let id = diesel::insert_into(refunds::table)
        .values(refund)
        .returning(refunds::id)
        .get_result(conn)?;
    for line in lines.iter_mut() {
        line.refund_id = id;
    }
    let inserted: QueryResult<()> = insert_batched!(conn, refund_lines::table, lines);
    inserted.map(|()| id)
}

/// The refunded lines of an order: (refund, the line's village, money).
pub fn refund_lines_by_village(
    conn: &mut DbConn,
    order_id: i64,
) -> QueryResult<Vec<(i64, i64, i64)>> {
    refund_lines::table
        .inner_join(refunds::table)
        .inner_join(order_lines::table)
        .filter(refunds::order_id.eq(order_id))
        .select((
            refund_lines::refund_id,
            order_lines::village_id,
            refund_lines::amount_fen,
        ))
        .load(conn)
}

pub fn refunds_of_order(conn: &mut DbConn, order_id: i64) -> QueryResult<Vec<Refund>> {
    refunds::table
        .filter(refunds::order_id.eq(order_id))
        .order(refunds::id)
        .select(Refund::as_select())
        .load(conn)
}

/// The refunded units of an order's lines, refund by refund in the order they were
/// recorded: (refund, line, units, restocked).
pub fn refunded_units_of_order(
    conn: &mut DbConn,
    order_id: i64,
) -> QueryResult<Vec<(i64, i64, i32, bool)>> {
    refund_lines::table
        .inner_join(refunds::table)
        .filter(refunds::order_id.eq(order_id))
        .order((refunds::id, refund_lines::id))
        .select((
            refunds::id,
            refund_lines::order_line_id,
            refund_lines::quantity,
            refunds::restock,
        ))
        .load(conn)
}

pub fn refund_amount(conn: &mut DbConn, id: i64) -> QueryResult<i64> {
    refunds::table
        .find(id)
        .select(refunds::amount_fen)
        .first(conn)
}
