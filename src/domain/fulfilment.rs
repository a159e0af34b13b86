//! Fulfilment per village: each village team packs, ships (with carrier and tracking
//! number) and delivers its own lines of an order. The order's status follows the
//! slowest of its villages; each step is kept in the order's history with who and when.

use chrono::{NaiveDate, NaiveDateTime};
use diesel::QueryResult;

use crate::db::catalog::{Village, villages_by_ids};
use crate::db::orders::{self as q, NewOrderEvent, Order, OrderLine};
use crate::db::shipments;
use crate::db::{DbConn, write_transaction};
use crate::domain::actor::{TeamScope, Who};
use crate::domain::error::{DomainError, DomainResult};
use crate::domain::notify;
use crate::domain::validation::{self as v, FieldErrors};
use crate::states::{OrderStatus, PaymentMethod, ShipmentStatus};

/// A step a village team takes with its part of an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Pack,
    Ship,
    Deliver,
}

impl Step {
    pub fn parse(s: &str) -> Option<Step> {
        match s {
            "pack" => Some(Step::Pack),
            "ship" => Some(Step::Ship),
            "deliver" => Some(Step::Deliver),
            _ => None,
        }
    }

    /// The shipment status the step starts from and the one it ends in.
    fn statuses(self) -> (ShipmentStatus, ShipmentStatus) {
        use ShipmentStatus::*;
        match self {
            Step::Pack => (Pending, Packed),
            Step::Ship => (Packed, Shipped),
            Step::Deliver => (Shipped, Delivered),
        }
    }
}

/// Whether goods of this order may be sent: paid (and not fully refunded), or to be
/// paid later — in cash when they arrive, or with a canteen's monthly statement.
pub fn may_fulfil(order: &Order) -> bool {
    use OrderStatus::*;
    matches!(order.status, Paid | Packed | Shipped | PartiallyRefunded)
        || (order.status == PendingPayment
            && matches!(
                order.payment_method,
                PaymentMethod::CashOnDelivery | PaymentMethod::OnAccount
            ))
}

#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(default)]
pub struct ShipForm {
    pub carrier: String,
    pub tracking_number: String,
}

/// One village's part of an order (its shipment).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Part {
    pub order_id: i64,
    pub village_id: i64,
}

/// Takes `step` for a village's part of an order: a village of the team's, of an order
/// touching it (not found otherwise).
pub fn advance(
    conn: &mut DbConn,
    who: &Who,
    scope: &TeamScope,
    part: Part,
    step: Step,
    form: &ShipForm,
    now: NaiveDateTime,
) -> DomainResult<()> {
    let Part {
        order_id,
        village_id,
    } = part;
    if !scope.covers(village_id) {
        return Err(DomainError::NotFound);
    }
    let order = q::touching_villages_by_id(conn, scope.village_ids(), order_id)?
        .ok_or(DomainError::NotFound)?;
    let order = &order;
    let mut errors = FieldErrors::default();
    let tracking = if step == Step::Ship {
        let carrier = v::required_text(&mut errors, "carrier", &form.carrier, 40);
        let number = v::required_text(&mut errors, "tracking_number", &form.tracking_number, 64);
        Some((carrier, number))
    } else {
        None
    };
    if !may_fulfil(order) {
        errors.add("status", "invalid-order-not-fulfillable");
    }
    if !errors.is_empty() {
        return Err(errors.into());
    }
    let (from, to) = step.statuses();
    write_transaction(conn, |conn| {
        let tracking_ref = tracking.as_ref().map(|(c, n)| (c.as_str(), n.as_str()));
        if !shipments::advance(conn, order.id, village_id, from, to, tracking_ref, now)? {
            return Err(DomainError::invalid("status", "invalid-shipment-step"));
        }
        let note = match &tracking {
            Some((carrier, number)) => format!("village {village_id}: {to} · {carrier} {number}"),
            None => format!("village {village_id}: {to}"),
        };
        let (from, to) = (from.as_str(), to.as_str());
        let step = NewOrderEvent::step(order.id, Some(from), to, &who.label, now);
        q::record_event(conn, &step.note(Some(&note)).village(village_id))?;
        if let Some((carrier, number)) = &tracking {
            let lines = q::lines(conn, order.id)?;
            let theirs: Vec<&OrderLine> = lines
                .iter()
                .filter(|l| l.village_id == village_id)
                .collect();
            notify::shipped(conn, order, village_id, &theirs, carrier, number, now)?;
        }
        sync_order_status(conn, order.id, &who.label, now)?;
        Ok(())
    })
}

/// Moves a paid order's status to the slowest of its villages' shipments (cancelled ones
/// left out), recording the change. Orders awaiting payment or refunded keep theirs.
pub fn sync_order_status(
    conn: &mut DbConn,
    order_id: i64,
    actor: &str,
    now: NaiveDateTime,
) -> QueryResult<()> {
    let Some(order) = q::by_id(conn, order_id)? else {
        return Ok(());
    };
    if !matches!(
        order.status,
        OrderStatus::Paid | OrderStatus::Packed | OrderStatus::Shipped
    ) {
        return Ok(());
    }
    // The order's status for each shipment status, in the order goods move.
    let follows = |s: ShipmentStatus| match s {
        ShipmentStatus::Pending | ShipmentStatus::Cancelled => OrderStatus::Paid,
        ShipmentStatus::Packed => OrderStatus::Packed,
        ShipmentStatus::Shipped => OrderStatus::Shipped,
        ShipmentStatus::Delivered => OrderStatus::Delivered,
    };
    let rank = |s: OrderStatus| {
        [
            OrderStatus::Paid,
            OrderStatus::Packed,
            OrderStatus::Shipped,
            OrderStatus::Delivered,
        ]
        .iter()
        .position(|r| *r == s)
    };
    let slowest = shipments::of_order(conn, order_id)?
        .iter()
        .filter(|s| s.status != ShipmentStatus::Cancelled)
        .map(|s| follows(s.status))
        .min_by_key(|s| rank(*s));
    let Some(status) = slowest else {
        return Ok(());
    };
    if status != order.status && q::transition(conn, order_id, order.status, status, now)? {
        let (from, to) = (order.status.as_str(), status.as_str());
        q::record_event(
            conn,
            &NewOrderEvent::step(order_id, Some(from), to, actor, now),
        )?;
    }
    Ok(())
}

/// One order on a village's packing list, with that village's lines only.
pub struct PackingEntry {
    pub order: Order,
    pub lines: Vec<OrderLine>,
}

/// Each product of a packing list once (its first line, for names and unit) with the
/// units to pack of it across the orders.
pub fn packing_totals(entries: &[PackingEntry]) -> Vec<(&OrderLine, i32)> {
    let mut totals: Vec<(&OrderLine, i32)> = Vec::new();
    for line in entries.iter().flat_map(|e| &e.lines) {
        match totals
            .iter_mut()
            .find(|(l, _)| l.product_id == line.product_id)
        {
            Some((_, units)) => *units += line.units_left(),
            None => totals.push((line, line.units_left())),
        }
    }
    totals
}

/// A team's packing list: the village chosen (the team's first when none is) among the
/// team's villages, the day, and what that village packs for the orders of that day.
pub struct Packing {
    pub villages: Vec<Village>,
    pub village: Village,
    pub day: NaiveDate,
    pub entries: Vec<PackingEntry>,
}

/// What one of the team's villages packs for orders placed on `day` (China time); not
/// found for a village that is not the team's.
pub fn packing(
    conn: &mut DbConn,
    scope: &TeamScope,
    village_id: Option<i64>,
    day: NaiveDate,
) -> DomainResult<Packing> {
    let villages = villages_by_ids(conn, scope.village_ids())?;
    let village = match village_id {
        None => villages.first(),
        Some(id) => villages.iter().find(|v| v.id == id),
    }
    .ok_or(DomainError::NotFound)?
    .clone();
    Ok(Packing {
        entries: packing_list(conn, village.id, day)?,
        villages,
        village,
        day,
    })
}

/// What `village_id` packs for orders placed on `day` (China time).
fn packing_list(
    conn: &mut DbConn,
    village_id: i64,
    day: NaiveDate,
) -> QueryResult<Vec<PackingEntry>> {
    let mut entries: Vec<PackingEntry> = Vec::new();
    for (order, line) in shipments::packing_list(conn, village_id, day)? {
        match entries.last_mut() {
            Some(entry) if entry.order.id == order.id => entry.lines.push(line),
            _ => entries.push(PackingEntry {
                order,
                lines: vec![line],
            }),
        }
    }
    Ok(entries)
}
