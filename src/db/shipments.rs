//! Shipments: one per village of an order, so that each village team packs and ships
//! its own lines; and the packing list that a team prints each day.

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;

use super::DbConn;
use super::schema::{order_lines, orders, shipments};
use crate::db::orders::{Order, OrderLine};
use crate::states::{OrderStatus, PaymentMethod, ShipmentStatus};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = shipments)]
pub struct Shipment {
    pub id: i64,
    pub order_id: i64,
    pub village_id: i64,
    pub status: ShipmentStatus,
    pub carrier: Option<String>,
    pub tracking_number: Option<String>,
    pub packed_at: Option<NaiveDateTime>,
    pub shipped_at: Option<NaiveDateTime>,
    pub delivered_at: Option<NaiveDateTime>,
    pub updated_at: NaiveDateTime,
    /// A canteen's acceptance (验收) of the delivered goods.
    pub accepted_at: Option<NaiveDateTime>,
    /// Who recorded it; `None` with `accepted_at` set: accepted automatically.
    pub accepted_by_user_id: Option<i64>,
}

#[derive(Insertable)]
#[diesel(table_name = shipments)]
struct NewShipment {
    order_id: i64,
    village_id: i64,
    status: ShipmentStatus,
    updated_at: NaiveDateTime,
}

/// Shipments that have not left their village.
const TO_PACK: [ShipmentStatus; 2] = [ShipmentStatus::Pending, ShipmentStatus::Packed];

/// Paid orders whose goods may still be sent (the same rule as `domain::fulfilment`'s
/// `may_fulfil`, with cash on delivery beside it in the query).
const FULFILLABLE: [OrderStatus; 4] = [
    OrderStatus::Paid,
    OrderStatus::Packed,
    OrderStatus::Shipped,
    OrderStatus::PartiallyRefunded,
];

/// One pending shipment for each village among `village_ids`.
pub fn create_for_order(
    conn: &mut DbConn,
    order_id: i64,
    village_ids: &[i64],
    now: NaiveDateTime,
) -> QueryResult<()> {
    let rows: Vec<NewShipment> = village_ids
        .iter()
        .map(|&village_id| NewShipment {
            order_id,
            village_id,
            status: ShipmentStatus::Pending,
            updated_at: now,
        })
        .collect();
    let insert = diesel::insert_into(shipments::table).values(&rows);
    match conn {
        DbConn::Sqlite(c) => insert.execute(c).map(drop),
        // An order reaches a few villages: kept prepared, and run by loading (`Prepared`).
        DbConn::Pg(c) => crate::db::Prepared::rows(insert.returning(shipments::id), rows.len())
            .get_results::<i64>(c)
            .map(drop),
    }
}

pub fn of_order(conn: &mut DbConn, order_id: i64) -> QueryResult<Vec<Shipment>> {
    shipments::table
        .filter(shipments::order_id.eq(order_id))
        .order(shipments::village_id)
        .select(Shipment::as_select())
        .load(conn)
}

/// Moves one village's shipment from `from` to `to`, with the time of the step and, when
/// shipping, the carrier and tracking number; `false` if it was no longer in `from`.
pub fn advance(
    conn: &mut DbConn,
    order_id: i64,
    village_id: i64,
    from: ShipmentStatus,
    to: ShipmentStatus,
    tracking: Option<(&str, &str)>,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    let target = shipments::table
        .filter(shipments::order_id.eq(order_id))
        .filter(shipments::village_id.eq(village_id))
        .filter(shipments::status.eq(from));
    let rows = match to {
        ShipmentStatus::Packed => diesel::update(target)
            .set((
                shipments::status.eq(to),
                shipments::packed_at.eq(Some(now)),
                shipments::updated_at.eq(now),
            ))
            .execute(conn)?,
        ShipmentStatus::Shipped => diesel::update(target)
            .set((
                shipments::status.eq(to),
                shipments::carrier.eq(tracking.map(|t| t.0)),
                shipments::tracking_number.eq(tracking.map(|t| t.1)),
                shipments::shipped_at.eq(Some(now)),
                shipments::updated_at.eq(now),
            ))
            .execute(conn)?,
        ShipmentStatus::Delivered => diesel::update(target)
            .set((
                shipments::status.eq(to),
                shipments::delivered_at.eq(Some(now)),
                shipments::updated_at.eq(now),
            ))
            .execute(conn)?,
        ShipmentStatus::Pending | ShipmentStatus::Cancelled => diesel::update(target)
            .set((shipments::status.eq(to), shipments::updated_at.eq(now)))
            .execute(conn)?,
    };
    Ok(rows == 1)
}

/// Cancels every shipment of an order that has not left the village.
pub fn cancel_unshipped(
    conn: &mut DbConn,
    order_id: i64,
    village_id: Option<i64>,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    let mut target = diesel::update(
        shipments::table
            .filter(shipments::order_id.eq(order_id))
            .filter(shipments::status.eq_any(TO_PACK)),
    )
    .into_boxed();
    if let Some(v) = village_id {
        target = target.filter(shipments::village_id.eq(v));
    }
    target
        .set((
            shipments::status.eq(ShipmentStatus::Cancelled),
            shipments::updated_at.eq(now),
        ))
        .execute(conn)
}

/// What a village packs for one business day: its lines of the orders placed that day
/// that are paid, paid on delivery or on a canteen's account, and still to be shipped or already packed.
pub fn packing_list(
    conn: &mut DbConn,
    village_id: i64,
    day: NaiveDate,
) -> QueryResult<Vec<(Order, OrderLine)>> {
    let to_pack = shipments::table
        .filter(shipments::village_id.eq(village_id))
        .filter(shipments::status.eq_any(TO_PACK))
        .select(shipments::order_id);
    orders::table
        .inner_join(order_lines::table)
        .filter(orders::business_date.eq(day))
        .filter(orders::id.eq_any(to_pack))
        .filter(order_lines::village_id.eq(village_id))
        .filter(order_lines::refunded_quantity.lt(order_lines::quantity))
        .filter(
            orders::status.eq_any(FULFILLABLE).or(orders::status
                .eq(OrderStatus::PendingPayment)
                .and(
                    orders::payment_method
                        .eq_any([PaymentMethod::CashOnDelivery, PaymentMethod::OnAccount]),
                )),
        )
        .order((orders::id, order_lines::id))
        .select((Order::as_select(), OrderLine::as_select()))
        .load(conn)
}

/// Marks a delivered shipment accepted, once: rows changed (0: not delivered, or
/// accepted already).
pub fn mark_accepted(
    conn: &mut DbConn,
    id: i64,
    by: Option<i64>,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(
        shipments::table
            .find(id)
            .filter(shipments::status.eq(ShipmentStatus::Delivered))
            .filter(shipments::accepted_at.is_null()),
    )
    .set((
        shipments::accepted_at.eq(Some(now)),
        shipments::accepted_by_user_id.eq(by),
        shipments::updated_at.eq(now),
    ))
    .execute(conn)
}

/// Canteen shipments delivered before `delivered_before` and not accepted, taken for
/// acceptance. On PostgreSQL the rows are locked and those another process holds are
/// skipped; each is then accepted by `mark_accepted`, whose condition lets one process win.
pub fn take_unaccepted(
    conn: &mut DbConn,
    delivered_before: NaiveDateTime,
    limit: i64,
) -> QueryResult<Vec<Shipment>> {
    use super::schema::canteen_orders;
    macro_rules! due {
        () => {
            shipments::table
                .filter(shipments::status.eq(ShipmentStatus::Delivered))
                .filter(shipments::accepted_at.is_null())
                .filter(shipments::delivered_at.lt(delivered_before))
                .filter(
                    shipments::order_id
                        .eq_any(canteen_orders::table.select(canteen_orders::order_id)),
                )
                .order(shipments::id)
                .limit(limit)
                .select(Shipment::as_select())
        };
    }
    match conn {
        DbConn::Pg(c) => due!().for_update().skip_locked().load(c),
        DbConn::Sqlite(c) => due!().load(c),
    }
}
