//! Queries over a canteen organisation's delivery sites (食堂 and where goods are taken)
//! and what its orders add to an order: site, delivery date, PO number, approval.

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;

use super::DbConn;
use super::orders::{Order, OrderLine};
use super::schema::{
    acceptance_lines, allocations, canteen_orders, delivery_sites, order_lines, orders,
    organizations, refund_lines, shipments,
};
use crate::states::{OrderStatus, PaymentMethod, RejectionReason};

#[derive(Debug, Clone, Queryable, Selectable, Identifiable, serde::Serialize)]
#[diesel(table_name = delivery_sites)]
pub struct DeliverySite {
    pub id: i64,
    pub organization_id: i64,
    pub name: String,
    pub address: String,
    pub receiver: String,
    pub phone: String,
    /// When goods may arrive, as `06:30–08:00`.
    pub delivery_window: String,
    /// No longer delivered to; kept because orders may name it.
    pub retired: bool,
    pub created_at: NaiveDateTime,
}

/// What a site says, for a new site or an edit.
#[derive(Debug, Clone, Insertable, AsChangeset)]
#[diesel(table_name = delivery_sites)]
pub struct SiteFields<'a> {
    pub name: &'a str,
    pub address: &'a str,
    pub receiver: &'a str,
    pub phone: &'a str,
    pub delivery_window: &'a str,
}

/// The organisation's sites, retired ones last.
pub fn sites_of(conn: &mut DbConn, organization_id: i64) -> QueryResult<Vec<DeliverySite>> {
    delivery_sites::table
        .filter(delivery_sites::organization_id.eq(organization_id))
        .order((delivery_sites::retired, delivery_sites::id))
        .select(DeliverySite::as_select())
        .load(conn)
}

/// One site, only within its organisation.
pub fn site_in(
    conn: &mut DbConn,
    organization_id: i64,
    id: i64,
) -> QueryResult<Option<DeliverySite>> {
    delivery_sites::table
        .find(id)
        .filter(delivery_sites::organization_id.eq(organization_id))
        .select(DeliverySite::as_select())
        .first(conn)
        .optional()
}

pub fn insert_site(
    conn: &mut DbConn,
    organization_id: i64,
    fields: &SiteFields,
    now: NaiveDateTime,
) -> QueryResult<i64> {
    diesel::insert_into(delivery_sites::table)
        .values((
            fields,
            delivery_sites::organization_id.eq(organization_id),
            delivery_sites::created_at.eq(now),
        ))
        .returning(delivery_sites::id)
        .get_result(conn)
}

pub fn update_site(conn: &mut DbConn, id: i64, fields: &SiteFields) -> QueryResult<usize> {
    diesel::update(delivery_sites::table.find(id))
        .set(fields)
        .execute(conn)
}

/// Retires a site that is still in use: rows changed (0: it already was).
pub fn retire_site(conn: &mut DbConn, id: i64) -> QueryResult<usize> {
    diesel::update(
        delivery_sites::table
            .find(id)
            .filter(delivery_sites::retired.eq(false)),
    )
    .set(delivery_sites::retired.eq(true))
    .execute(conn)
}

/// A canteen order's own part: where and when it is delivered, its PO number, who placed
/// it and, above the approval threshold, who decided.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = canteen_orders)]
pub struct CanteenOrder {
    pub order_id: i64,
    pub organization_id: i64,
    pub delivery_site_id: i64,
    pub delivery_date: NaiveDate,
    /// 采购单号: the canteen's own purchase order number; may be empty.
    pub po_number: String,
    pub placed_by_user_id: i64,
    pub decided_by_user_id: Option<i64>,
    pub decided_at: Option<NaiveDateTime>,
    /// Why an approver sent the order back.
    pub sent_back_reason: Option<String>,
}

pub fn insert_canteen_order(conn: &mut DbConn, new: &CanteenOrder) -> QueryResult<usize> {
    diesel::insert_into(canteen_orders::table)
        .values(new)
        .execute(conn)
}

/// A canteen order with its order and site, only within its organisation.
pub type CanteenOrderRow = (Order, CanteenOrder, DeliverySite);

/// The organisation's orders, newest first, one page of them, and how many in all.
pub fn orders_of(
    conn: &mut DbConn,
    organization_id: i64,
    offset: i64,
    limit: i64,
) -> QueryResult<(Vec<CanteenOrderRow>, i64)> {
    let total = canteen_orders::table
        .filter(canteen_orders::organization_id.eq(organization_id))
        .count()
        .get_result(conn)?;
    let rows = canteen_orders::table
        .inner_join(orders::table)
        .inner_join(delivery_sites::table)
        .filter(canteen_orders::organization_id.eq(organization_id))
        .order(canteen_orders::order_id.desc())
        .offset(offset)
        .limit(limit)
        .select((
            Order::as_select(),
            CanteenOrder::as_select(),
            DeliverySite::as_select(),
        ))
        .load(conn)?;
    Ok((rows, total))
}

/// One of the organisation's orders; another organisation's is not there.
pub fn order_in(
    conn: &mut DbConn,
    organization_id: i64,
    order_id: i64,
) -> QueryResult<Option<CanteenOrderRow>> {
    canteen_orders::table
        .inner_join(orders::table)
        .inner_join(delivery_sites::table)
        .filter(canteen_orders::organization_id.eq(organization_id))
        .filter(canteen_orders::order_id.eq(order_id))
        .select((
            Order::as_select(),
            CanteenOrder::as_select(),
            DeliverySite::as_select(),
        ))
        .first(conn)
        .optional()
}

/// The canteen part of an order, if it is a canteen's (for the team's pages).
pub fn part_of_order(
    conn: &mut DbConn,
    order_id: i64,
) -> QueryResult<Option<(CanteenOrder, DeliverySite)>> {
    canteen_orders::table
        .inner_join(delivery_sites::table)
        .filter(canteen_orders::order_id.eq(order_id))
        .select((CanteenOrder::as_select(), DeliverySite::as_select()))
        .first(conn)
        .optional()
}

/// What the organisation owes on account or has asked to: its on-account orders that
/// are awaiting approval or payment, net of their refunds.
pub fn open_on_account_fen(conn: &mut DbConn, organization_id: i64) -> QueryResult<i64> {
    let rows: Vec<(i64, i64)> = orders::table
        .filter(orders::organization_id.eq(organization_id))
        .filter(orders::payment_method.eq(PaymentMethod::OnAccount))
        .filter(orders::status.eq_any([OrderStatus::AwaitingApproval, OrderStatus::PendingPayment]))
        .select((orders::total_fen, orders::refunded_fen))
        .load(conn)?;
    Ok(rows.iter().map(|(total, refunded)| total - refunded).sum())
}

/// Records an approver's decision on an order still awaiting one: rows changed (0: it
/// was decided already).
pub fn record_decision(
    conn: &mut DbConn,
    order_id: i64,
    user_id: i64,
    reason: Option<&str>,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(
        canteen_orders::table
            .find(order_id)
            .filter(canteen_orders::decided_at.is_null()),
    )
    .set((
        canteen_orders::decided_by_user_id.eq(Some(user_id)),
        canteen_orders::decided_at.eq(Some(now)),
        canteen_orders::sent_back_reason.eq(reason),
    ))
    .execute(conn)
}

/// A canteen order's line of one of `village_ids` to deliver between two dates, with its
/// order, canteen part, site and organisation name.
pub type DeliveryRow = (Order, CanteenOrder, DeliverySite, String, OrderLine);

/// The lines of `village_ids` in canteen orders to deliver from `from` to `to`
/// (inclusive) that are still on: awaiting approval, to be paid later (on account, cash on
/// delivery) or paid; not those waiting to be paid now, which may yet expire.
pub fn deliveries(
    conn: &mut DbConn,
    village_ids: &[i64],
    from: NaiveDate,
    to: NaiveDate,
) -> QueryResult<Vec<DeliveryRow>> {
    use OrderStatus::*;
    canteen_orders::table
        .inner_join(orders::table.inner_join(order_lines::table))
        .inner_join(delivery_sites::table)
        .inner_join(organizations::table.on(organizations::id.eq(canteen_orders::organization_id)))
        .filter(canteen_orders::delivery_date.between(from, to))
        .filter(order_lines::village_id.eq_any(village_ids))
        .filter(
            orders::status
                .eq_any([
                    AwaitingApproval,
                    Paid,
                    Packed,
                    Shipped,
                    Delivered,
                    PartiallyRefunded,
                ])
                .or(orders::status.eq(PendingPayment).and(
                    orders::payment_method
                        .eq_any([PaymentMethod::OnAccount, PaymentMethod::CashOnDelivery]),
                )),
        )
        .order((
            canteen_orders::delivery_date,
            organizations::name,
            delivery_sites::id,
            orders::id,
            order_lines::id,
        ))
        .select((
            Order::as_select(),
            CanteenOrder::as_select(),
            DeliverySite::as_select(),
            organizations::name,
            OrderLine::as_select(),
        ))
        .load(conn)
}

/// The households a line's units were allocated to (once paid), each once.
pub fn households_of_line(conn: &mut DbConn, line_id: i64) -> QueryResult<Vec<i64>> {
    allocations::table
        .filter(allocations::order_line_id.eq(line_id))
        .select(allocations::household_id)
        .distinct()
        .load(conn)
}

/// What a canteen accepted of one line on arrival, and what it rejected and why.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = acceptance_lines)]
pub struct AcceptanceLine {
    pub order_line_id: i64,
    pub shipment_id: i64,
    pub accepted: i32,
    pub rejected: i32,
    pub reason: Option<RejectionReason>,
    /// The credit the rejected units became.
    pub refund_id: Option<i64>,
}

pub fn insert_acceptance(conn: &mut DbConn, lines: &[AcceptanceLine]) -> QueryResult<usize> {
    let mut written = 0;
    for line in lines {
        written += diesel::insert_into(acceptance_lines::table)
            .values(line)
            .execute(conn)?;
    }
    Ok(written)
}

/// The acceptance of every line of an order recorded so far.
pub fn acceptance_of_order(conn: &mut DbConn, order_id: i64) -> QueryResult<Vec<AcceptanceLine>> {
    acceptance_lines::table
        .inner_join(order_lines::table)
        .filter(order_lines::order_id.eq(order_id))
        .order(acceptance_lines::order_line_id)
        .select(AcceptanceLine::as_select())
        .load(conn)
}

/// Locks an organisation's row until the transaction ends (PostgreSQL), so that two
/// orders on account are checked against its credit one after the other. SQLite's write
/// transaction already holds the only write lock.
pub fn lock_organization(conn: &mut DbConn, id: i64) -> QueryResult<()> {
    let q = organizations::table.find(id).select(organizations::id);
    match conn {
        DbConn::Pg(c) => q.for_update().first::<i64>(c).map(drop),
        DbConn::Sqlite(c) => q.first::<i64>(c).map(drop),
    }
}

/// What counts towards an organisation's target between two instants: the goods it
/// accepted and what its staff paid for with its staff code, each less what was given
/// back; by village, and the staff's part of it.
pub fn bought_in(
    conn: &mut DbConn,
    organization_id: i64,
    from: NaiveDateTime,
    to: NaiveDateTime,
) -> QueryResult<(std::collections::BTreeMap<i64, i64>, i64)> {
    let mut by_village = std::collections::BTreeMap::new();
    for (village, fen) in accepted_value_by_village(conn, organization_id, from, to)? {
        *by_village.entry(village).or_default() += fen;
    }
    let mut staff = 0;
    for (village, fen) in staff_value_by_village(conn, organization_id, from, to)? {
        *by_village.entry(village).or_default() += fen;
        staff += fen;
    }
    Ok((by_village, staff))
}

/// What staff bought for themselves with the organisation's staff code, paid between two
/// instants, by village: each line's total less what was refunded on it. (village, fen)
/// per line; the caller adds them up.
pub fn staff_value_by_village(
    conn: &mut DbConn,
    organization_id: i64,
    from: NaiveDateTime,
    to: NaiveDateTime,
) -> QueryResult<Vec<(i64, i64)>> {
    let lines: Vec<(i64, i64, i64)> = orders::table
        .inner_join(order_lines::table)
        .filter(orders::staff_organization_id.eq(organization_id))
        .filter(orders::channel.eq(crate::states::Channel::Store))
        .filter(orders::paid_at.ge(from))
        .filter(orders::paid_at.lt(to))
        .select((
            order_lines::id,
            order_lines::village_id,
            order_lines::line_total_fen,
        ))
        .load(conn)?;
    less_given_back(conn, lines)
}

/// Each line's (village, total) less what was credited or refunded on it.
fn less_given_back(conn: &mut DbConn, lines: Vec<(i64, i64, i64)>) -> QueryResult<Vec<(i64, i64)>> {
    let ids: Vec<i64> = lines.iter().map(|(id, _, _)| *id).collect();
    let mut back: std::collections::HashMap<i64, i64> = std::collections::HashMap::new();
    for chunk in ids.chunks(5_000) {
        let rows: Vec<(i64, i64)> = refund_lines::table
            .filter(refund_lines::order_line_id.eq_any(chunk))
            .select((refund_lines::order_line_id, refund_lines::amount_fen))
            .load(conn)?;
        for (line, fen) in rows {
            *back.entry(line).or_default() += fen;
        }
    }
    Ok(lines
        .into_iter()
        .map(|(id, village, total)| (village, total - back.get(&id).copied().unwrap_or(0)))
        .collect())
}

/// The money of the goods an organisation accepted between two instants, by village: for
/// each line of a shipment accepted then, its total less what was credited or refunded
/// on it. (village, fen) per line; the caller adds them up.
pub fn accepted_value_by_village(
    conn: &mut DbConn,
    organization_id: i64,
    from: NaiveDateTime,
    to: NaiveDateTime,
) -> QueryResult<Vec<(i64, i64)>> {
    let lines: Vec<(i64, i64, i64)> = canteen_orders::table
        .inner_join(orders::table.inner_join(order_lines::table))
        .inner_join(
            shipments::table.on(shipments::order_id
                .eq(canteen_orders::order_id)
                .and(shipments::village_id.eq(order_lines::village_id))),
        )
        .filter(canteen_orders::organization_id.eq(organization_id))
        .filter(shipments::accepted_at.ge(from))
        .filter(shipments::accepted_at.lt(to))
        .select((
            order_lines::id,
            order_lines::village_id,
            order_lines::line_total_fen,
        ))
        .load(conn)?;
    less_given_back(conn, lines)
}
