//! Queries over standing orders (周期订单): the schedule and lines a canteen set up, the
//! dates it skipped, and what became of each delivery date.

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;

use super::DbConn;
use super::schema::{
    orders, standing_order_lines, standing_order_runs, standing_order_skips, standing_orders,
};
use crate::states::{PaymentMethod, StandingRunOutcome};

#[derive(Debug, Clone, Queryable, Selectable, Identifiable, serde::Serialize)]
#[diesel(table_name = standing_orders)]
pub struct StandingOrder {
    pub id: i64,
    pub organization_id: i64,
    pub delivery_site_id: i64,
    /// The member whose name the orders are placed in.
    pub created_by_user_id: i64,
    /// 1: every week; 2: every other week, counted from the week it starts.
    pub every_weeks: i32,
    /// Monday first: `1010000` is Monday and Wednesday.
    pub weekdays: String,
    pub starts_on: NaiveDate,
    pub ends_on: Option<NaiveDate>,
    pub paused: bool,
    pub payment_method: PaymentMethod,
    pub po_number: String,
    pub note: String,
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = standing_orders)]
pub struct NewStandingOrder<'a> {
    pub organization_id: i64,
    pub delivery_site_id: i64,
    pub created_by_user_id: i64,
    pub every_weeks: i32,
    pub weekdays: &'a str,
    pub starts_on: NaiveDate,
    pub ends_on: Option<NaiveDate>,
    pub payment_method: PaymentMethod,
    pub po_number: &'a str,
    pub note: &'a str,
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = standing_order_lines)]
pub struct StandingLine {
    pub standing_order_id: i64,
    pub product_id: i64,
    pub quantity: i32,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = standing_order_runs)]
pub struct StandingRun {
    pub standing_order_id: i64,
    pub delivery_date: NaiveDate,
    pub order_id: Option<i64>,
    pub outcome: StandingRunOutcome,
    /// What was short, or why nothing was placed.
    pub detail: String,
    pub ran_at: NaiveDateTime,
}

pub fn insert(conn: &mut DbConn, new: &NewStandingOrder, lines: &[(i64, i32)]) -> QueryResult<i64> {
    let id = diesel::insert_into(standing_orders::table)
        .values(new)
        .returning(standing_orders::id)
        .get_result(conn)?;
    let rows: Vec<StandingLine> = lines
        .iter()
        .map(|(product_id, quantity)| StandingLine {
            standing_order_id: id,
            product_id: *product_id,
            quantity: *quantity,
        })
        .collect();
    let inserted: QueryResult<()> = super::insert_batched!(conn, standing_order_lines::table, rows);
    inserted.map(|()| id)
}

/// One of the organisation's standing orders; another organisation's is not there.
pub fn in_organization(
    conn: &mut DbConn,
    organization_id: i64,
    id: i64,
) -> QueryResult<Option<StandingOrder>> {
    standing_orders::table
        .find(id)
        .filter(standing_orders::organization_id.eq(organization_id))
        .select(StandingOrder::as_select())
        .first(conn)
        .optional()
}

/// A standing order, held until the transaction ends (PostgreSQL), so that a skip or a
/// pause and the placing of a date come one after the other. SQLite's write transaction
/// already holds the only write lock.
pub fn locked(conn: &mut DbConn, id: i64) -> QueryResult<Option<StandingOrder>> {
    macro_rules! one {
        () => {
            standing_orders::table
                .find(id)
                .select(StandingOrder::as_select())
        };
    }
    match conn {
        DbConn::Pg(c) => one!().for_update().first(c).optional(),
        DbConn::Sqlite(c) => one!().first(c).optional(),
    }
}

/// Whether one date of a standing order was skipped.
pub fn is_skipped(conn: &mut DbConn, id: i64, date: NaiveDate) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        standing_order_skips::table.find((id, date)),
    ))
    .get_result(conn)
}

pub fn of_organization(conn: &mut DbConn, organization_id: i64) -> QueryResult<Vec<StandingOrder>> {
    standing_orders::table
        .filter(standing_orders::organization_id.eq(organization_id))
        .order(standing_orders::id.desc())
        .select(StandingOrder::as_select())
        .load(conn)
}

/// Standing orders that may have a delivery date from `from` on: not paused, not ended.
pub fn running(conn: &mut DbConn, from: NaiveDate) -> QueryResult<Vec<StandingOrder>> {
    standing_orders::table
        .filter(standing_orders::paused.eq(false))
        .filter(
            standing_orders::ends_on
                .is_null()
                .or(standing_orders::ends_on.ge(from)),
        )
        .order(standing_orders::id)
        .select(StandingOrder::as_select())
        .load(conn)
}

pub fn lines_of(conn: &mut DbConn, ids: &[i64]) -> QueryResult<Vec<StandingLine>> {
    standing_order_lines::table
        .filter(standing_order_lines::standing_order_id.eq_any(ids))
        .order((
            standing_order_lines::standing_order_id,
            standing_order_lines::product_id,
        ))
        .select(StandingLine::as_select())
        .load(conn)
}

pub fn set_paused(conn: &mut DbConn, id: i64, paused: bool) -> QueryResult<usize> {
    diesel::update(
        standing_orders::table
            .find(id)
            .filter(standing_orders::paused.ne(paused)),
    )
    .set(standing_orders::paused.eq(paused))
    .execute(conn)
}

/// The dates skipped of `ids`: (standing order, date).
pub fn skips_of(conn: &mut DbConn, ids: &[i64]) -> QueryResult<Vec<(i64, NaiveDate)>> {
    standing_order_skips::table
        .filter(standing_order_skips::standing_order_id.eq_any(ids))
        .select((
            standing_order_skips::standing_order_id,
            standing_order_skips::delivery_date,
        ))
        .load(conn)
}

/// Skips one date: rows written (0: it was skipped already).
pub fn skip(
    conn: &mut DbConn,
    id: i64,
    date: NaiveDate,
    user_id: i64,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    macro_rules! insert {
        ($c:expr) => {
            diesel::insert_into(standing_order_skips::table)
                .values((
                    standing_order_skips::standing_order_id.eq(id),
                    standing_order_skips::delivery_date.eq(date),
                    standing_order_skips::skipped_by_user_id.eq(user_id),
                    standing_order_skips::skipped_at.eq(now),
                ))
                .on_conflict_do_nothing()
                .execute($c)
        };
    }
    match conn {
        DbConn::Pg(c) => insert!(c),
        DbConn::Sqlite(c) => insert!(c),
    }
}

/// Claims a delivery date of a standing order for this transaction: `true` if it had no
/// run yet. Another process claiming the same date waits for this transaction and then
/// finds the row (PostgreSQL), or cannot write at the same time at all (SQLite).
pub fn claim_run(conn: &mut DbConn, run: &StandingRun) -> QueryResult<bool> {
    macro_rules! insert {
        ($c:expr) => {
            diesel::insert_into(standing_order_runs::table)
                .values(run)
                .on_conflict_do_nothing()
                .execute($c)
        };
    }
    let written = match conn {
        DbConn::Pg(c) => insert!(c)?,
        DbConn::Sqlite(c) => insert!(c)?,
    };
    Ok(written == 1)
}

/// Records what became of a claimed date.
pub fn finish_run(
    conn: &mut DbConn,
    id: i64,
    date: NaiveDate,
    order_id: Option<i64>,
    outcome: StandingRunOutcome,
    detail: &str,
) -> QueryResult<usize> {
    diesel::update(standing_order_runs::table.find((id, date)))
        .set((
            standing_order_runs::order_id.eq(order_id),
            standing_order_runs::outcome.eq(outcome),
            standing_order_runs::detail.eq(detail),
        ))
        .execute(conn)
}

/// The dates of `ids` already run, newest first, at most `limit` of each… in all.
pub fn runs_of(
    conn: &mut DbConn,
    ids: &[i64],
    limit: i64,
) -> QueryResult<Vec<(StandingRun, Option<String>)>> {
    standing_order_runs::table
        .left_join(orders::table)
        .filter(standing_order_runs::standing_order_id.eq_any(ids))
        .order(standing_order_runs::delivery_date.desc())
        .limit(limit)
        .select((StandingRun::as_select(), orders::number.nullable()))
        .load(conn)
}

/// The dates of one standing order already run.
pub fn run_dates(conn: &mut DbConn, id: i64, from: NaiveDate) -> QueryResult<Vec<NaiveDate>> {
    standing_order_runs::table
        .filter(standing_order_runs::standing_order_id.eq(id))
        .filter(standing_order_runs::delivery_date.ge(from))
        .select(standing_order_runs::delivery_date)
        .load(conn)
}
