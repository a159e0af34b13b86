//! Queries over monthly statements (对账单): which on-account orders are ready to be
//! billed, the statements and the orders they hold, and the payments recorded against
//! them.

use chrono::{NaiveDate, NaiveDateTime};
use diesel::dsl::{exists, not};
use diesel::prelude::*;

use super::DbConn;
use super::canteen::{CanteenOrder, DeliverySite};
use super::orders::Order;
use super::schema::{
    canteen_orders, delivery_sites, order_lines, orders, organizations, refund_lines, refunds,
    shipments, statement_orders, statement_payments, statements,
};
use crate::states::{OrderStatus, PaymentMethod, ShipmentStatus};

#[derive(Debug, Clone, Queryable, Selectable, Identifiable, serde::Serialize)]
#[diesel(table_name = statements)]
pub struct Statement {
    pub id: i64,
    pub organization_id: i64,
    /// The first day of the month it bills.
    pub month: NaiveDate,
    pub number: String,
    pub issued_at: NaiveDateTime,
    pub due_date: NaiveDate,
    /// The goods of its orders, before credits.
    pub goods_fen: i64,
    /// Credited on arrival (rejected units) and refunded before it was issued.
    pub credits_fen: i64,
    /// What the organisation owes: goods less credits.
    pub total_fen: i64,
    pub paid_fen: i64,
    /// When the last of it was paid.
    pub paid_at: Option<NaiveDateTime>,
    /// 发票号: the village collective's invoice for it.
    pub invoice_number: Option<String>,
    pub overdue_mailed_at: Option<NaiveDateTime>,
}

impl Statement {
    pub fn outstanding_fen(&self) -> i64 {
        self.total_fen - self.paid_fen
    }

    /// Past its due date (a China business date) and not paid in full.
    pub fn is_overdue(&self, today: NaiveDate) -> bool {
        self.paid_at.is_none() && self.due_date < today
    }
}

#[derive(Debug, Insertable)]
#[diesel(table_name = statements)]
pub struct NewStatement<'a> {
    pub organization_id: i64,
    pub month: NaiveDate,
    pub number: &'a str,
    pub issued_at: NaiveDateTime,
    pub due_date: NaiveDate,
    pub goods_fen: i64,
    pub credits_fen: i64,
    pub total_fen: i64,
}

/// One order on a statement, with what it came to when the statement was issued.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = statement_orders)]
pub struct StatementOrder {
    pub order_id: i64,
    pub statement_id: i64,
    pub goods_fen: i64,
    pub credits_fen: i64,
    pub amount_fen: i64,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = statement_payments)]
pub struct StatementPayment {
    pub id: i64,
    pub statement_id: i64,
    pub amount_fen: i64,
    pub bank_reference: String,
    pub paid_on: NaiveDate,
    pub recorded_by_user_id: Option<i64>,
    pub recorded_at: NaiveDateTime,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = statement_payments)]
pub struct NewStatementPayment<'a> {
    pub statement_id: i64,
    pub amount_fen: i64,
    pub bank_reference: &'a str,
    pub paid_on: NaiveDate,
    pub recorded_by_user_id: Option<i64>,
    pub recorded_at: NaiveDateTime,
}

/// An on-account order ready to be billed: (order id, organisation, total fen).
pub type BillableOrder = (i64, i64, i64);

/// Canteen orders on account, still unpaid and on no statement, whose every village
/// shipment that was not cancelled was accepted before `accepted_before`, oldest first.
pub fn billable_orders(
    conn: &mut DbConn,
    accepted_before: NaiveDateTime,
) -> QueryResult<Vec<BillableOrder>> {
    let still_open = shipments::table
        .filter(shipments::order_id.eq(orders::id))
        .filter(shipments::status.ne(ShipmentStatus::Cancelled))
        .filter(
            shipments::accepted_at
                .is_null()
                .or(shipments::accepted_at.ge(accepted_before)),
        );
    let accepted = shipments::table
        .filter(shipments::order_id.eq(orders::id))
        .filter(shipments::accepted_at.is_not_null());
    canteen_orders::table
        .inner_join(orders::table)
        .filter(orders::payment_method.eq(PaymentMethod::OnAccount))
        .filter(orders::status.eq(OrderStatus::PendingPayment))
        .filter(not(exists(
            statement_orders::table.filter(statement_orders::order_id.eq(orders::id)),
        )))
        .filter(not(exists(still_open)))
        .filter(exists(accepted))
        .order(orders::id)
        .select((
            orders::id,
            canteen_orders::organization_id,
            orders::total_fen,
        ))
        .load(conn)
}

/// What was credited or refunded on each of `order_ids` so far: (order, fen).
pub fn credits_by_order(conn: &mut DbConn, order_ids: &[i64]) -> QueryResult<Vec<(i64, i64)>> {
    let mut all = Vec::new();
    for chunk in order_ids.chunks(5_000) {
        let rows: Vec<(i64, i64)> = refunds::table
            .filter(refunds::order_id.eq_any(chunk))
            .select((refunds::order_id, refunds::amount_fen))
            .load(conn)?;
        all.extend(rows);
    }
    Ok(all)
}

/// Creates the organisation's statement for `month` unless it has one: its id, or `None`
/// when another process (or an earlier pass) issued it. Any conflict does nothing: the
/// number is made of the organisation and the month, so its UNIQUE is met together with
/// `(organization_id, month)`'s, and naming only one of them would let the other raise.
pub fn insert_statement(conn: &mut DbConn, new: &NewStatement) -> QueryResult<Option<i64>> {
    macro_rules! insert {
        ($c:expr) => {
            diesel::insert_into(statements::table)
                .values(new)
                .on_conflict_do_nothing()
                .returning(statements::id)
                .get_result($c)
                .optional()
        };
    }
    match conn {
        DbConn::Pg(c) => insert!(c),
        DbConn::Sqlite(c) => insert!(c),
    }
}

pub fn insert_orders(conn: &mut DbConn, rows: &[StatementOrder]) -> QueryResult<()> {
    super::insert_batched!(conn, statement_orders::table, rows)
}

pub fn by_id(conn: &mut DbConn, id: i64) -> QueryResult<Option<Statement>> {
    statements::table
        .find(id)
        .select(Statement::as_select())
        .first(conn)
        .optional()
}

/// A statement, held until the transaction ends (PostgreSQL), so that two payments of it
/// are recorded one after the other. SQLite's write transaction already holds the only
/// write lock.
pub fn locked(conn: &mut DbConn, id: i64) -> QueryResult<Option<Statement>> {
    macro_rules! one {
        () => {
            statements::table.find(id).select(Statement::as_select())
        };
    }
    match conn {
        DbConn::Pg(c) => one!().for_update().first(c).optional(),
        DbConn::Sqlite(c) => one!().first(c).optional(),
    }
}

/// The organisation's statements, newest first.
pub fn of_organization(conn: &mut DbConn, organization_id: i64) -> QueryResult<Vec<Statement>> {
    statements::table
        .filter(statements::organization_id.eq(organization_id))
        .order(statements::month.desc())
        .select(Statement::as_select())
        .load(conn)
}

/// Every statement with its organisation's name, newest first; only those not paid in
/// full when `unpaid`.
pub fn all(conn: &mut DbConn, unpaid: bool, limit: i64) -> QueryResult<Vec<(Statement, String)>> {
    let mut q = statements::table
        .inner_join(organizations::table)
        .order((statements::month.desc(), organizations::name))
        .limit(limit)
        .select((Statement::as_select(), organizations::name))
        .into_boxed();
    if unpaid {
        q = q.filter(statements::paid_at.is_null());
    }
    q.load(conn)
}

/// Whether the organisation has a statement past its due date and not paid in full.
pub fn has_overdue(conn: &mut DbConn, organization_id: i64, today: NaiveDate) -> QueryResult<bool> {
    diesel::select(exists(
        statements::table
            .filter(statements::organization_id.eq(organization_id))
            .filter(statements::paid_at.is_null())
            .filter(statements::due_date.lt(today)),
    ))
    .get_result(conn)
}

/// A statement's orders, with their canteen part and site, oldest first.
pub fn orders_of(
    conn: &mut DbConn,
    statement_id: i64,
) -> QueryResult<Vec<(StatementOrder, Order, CanteenOrder, DeliverySite)>> {
    statement_orders::table
        .inner_join(
            orders::table.inner_join(canteen_orders::table.inner_join(delivery_sites::table)),
        )
        .filter(statement_orders::statement_id.eq(statement_id))
        .order(statement_orders::order_id)
        .select((
            StatementOrder::as_select(),
            Order::as_select(),
            CanteenOrder::as_select(),
            DeliverySite::as_select(),
        ))
        .load(conn)
}

/// The lines of a statement's orders: (order, village, line total).
pub fn line_totals(conn: &mut DbConn, statement_id: i64) -> QueryResult<Vec<(i64, i64, i64)>> {
    order_lines::table
        .inner_join(
            statement_orders::table.on(statement_orders::order_id.eq(order_lines::order_id)),
        )
        .filter(statement_orders::statement_id.eq(statement_id))
        .select((
            order_lines::order_id,
            order_lines::village_id,
            order_lines::line_total_fen,
        ))
        .load(conn)
}

/// What was credited on the lines of a statement's orders by the time it was issued:
/// (order, village, fen). A refund made later is not on the statement.
pub fn line_credits(
    conn: &mut DbConn,
    statement_id: i64,
    issued_at: NaiveDateTime,
) -> QueryResult<Vec<(i64, i64, i64)>> {
    refund_lines::table
        .inner_join(order_lines::table)
        .inner_join(refunds::table)
        .inner_join(
            statement_orders::table.on(statement_orders::order_id.eq(order_lines::order_id)),
        )
        .filter(statement_orders::statement_id.eq(statement_id))
        .filter(refunds::created_at.le(issued_at))
        .select((
            order_lines::order_id,
            order_lines::village_id,
            refund_lines::amount_fen,
        ))
        .load(conn)
}

pub fn payments_of(conn: &mut DbConn, statement_id: i64) -> QueryResult<Vec<StatementPayment>> {
    statement_payments::table
        .filter(statement_payments::statement_id.eq(statement_id))
        .order(statement_payments::id)
        .select(StatementPayment::as_select())
        .load(conn)
}

pub fn insert_payment(conn: &mut DbConn, new: &NewStatementPayment) -> QueryResult<i64> {
    diesel::insert_into(statement_payments::table)
        .values(new)
        .returning(statement_payments::id)
        .get_result(conn)
}

/// Adds a payment to what was paid of a statement, and marks it paid when that is all of
/// it: rows changed (0: it would pay more than is owed).
pub fn add_paid(
    conn: &mut DbConn,
    id: i64,
    amount_fen: i64,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    let changed = diesel::update(
        statements::table
            .find(id)
            .filter((statements::paid_fen + amount_fen).le(statements::total_fen)),
    )
    .set(statements::paid_fen.eq(statements::paid_fen + amount_fen))
    .execute(conn)?;
    diesel::update(
        statements::table
            .find(id)
            .filter(statements::paid_fen.eq(statements::total_fen))
            .filter(statements::paid_at.is_null()),
    )
    .set(statements::paid_at.eq(Some(now)))
    .execute(conn)?;
    Ok(changed)
}

pub fn set_invoice_number(conn: &mut DbConn, id: i64, number: Option<&str>) -> QueryResult<usize> {
    diesel::update(statements::table.find(id))
        .set(statements::invoice_number.eq(number))
        .execute(conn)
}

/// Statements past their due date, unpaid, whose members have not been told.
pub fn overdue_untold(conn: &mut DbConn, today: NaiveDate) -> QueryResult<Vec<Statement>> {
    statements::table
        .filter(statements::paid_at.is_null())
        .filter(statements::due_date.lt(today))
        .filter(statements::overdue_mailed_at.is_null())
        .order(statements::id)
        .select(Statement::as_select())
        .load(conn)
}

/// Notes that the members were told a statement is overdue, once: rows changed (0:
/// another process told them).
pub fn mark_overdue_told(conn: &mut DbConn, id: i64, now: NaiveDateTime) -> QueryResult<usize> {
    diesel::update(
        statements::table
            .find(id)
            .filter(statements::overdue_mailed_at.is_null())
            .filter(statements::paid_at.is_null()),
    )
    .set(statements::overdue_mailed_at.eq(Some(now)))
    .execute(conn)
}
