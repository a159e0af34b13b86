//! Fulfilment per village: each village team packs, ships (with carrier and tracking
//! number) and delivers its own lines of an order. The order's status follows the
//! slowest of its villages; each step is kept in the order's history with who and when.

use chrono::{NaiveDate, NaiveDateTime};
use diesel::QueryResult;

use crate::db::orders::{self as q, Order, OrderLine};
use crate::db::shipments;
use crate::db::{DbConn, write_transaction};
use crate::domain::actor::Who;
use crate::domain::notify;
use crate::domain::orders::{OrderError, units_left};
use crate::domain::validation::{self as v, FieldErrors};

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
    fn statuses(self) -> (&'static str, &'static str) {
        match self {
            Step::Pack => ("pending", "packed"),
            Step::Ship => ("packed", "shipped"),
            Step::Deliver => ("shipped", "delivered"),
        }
    }
}

/// Whether goods of this order may be sent: paid (and not fully refunded), or to be
/// paid in cash when they arrive.
pub fn may_fulfil(order: &Order) -> bool {
    matches!(
        order.status.as_str(),
        "paid" | "packed" | "shipped" | "partially_refunded"
    ) || (order.status == "pending_payment" && order.payment_method == "cash_on_delivery")
}

#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(default)]
pub struct ShipForm {
    pub carrier: String,
    pub tracking_number: String,
}

/// Takes `step` for `village_id`'s part of `order`.
pub fn advance(
    conn: &mut DbConn,
    who: &Who,
    order: &Order,
    village_id: i64,
    step: Step,
    form: &ShipForm,
    now: NaiveDateTime,
) -> Result<(), OrderError> {
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
        return Err(OrderError::Invalid(errors));
    }
    let (from, to) = step.statuses();
    write_transaction(conn, |conn| {
        let tracking_ref = tracking.as_ref().map(|(c, n)| (c.as_str(), n.as_str()));
        if !shipments::advance(conn, order.id, village_id, from, to, tracking_ref, now)? {
            return Err(OrderError::Invalid(FieldErrors::single(
                "status",
                "invalid-shipment-step",
            )));
        }
        let note = match &tracking {
            Some((carrier, number)) => format!("village {village_id}: {to} · {carrier} {number}"),
            None => format!("village {village_id}: {to}"),
        };
        q::record_event(conn, order.id, Some(from), to, &who.label, Some(&note), now)?;
        if let Some((carrier, number)) = &tracking {
            let lines = q::lines(conn, order.id)?;
            let theirs: Vec<&OrderLine> = lines
                .iter()
                .filter(|l| l.village_id == village_id)
                .collect();
            notify::shipped(conn, order, &theirs, carrier, number, now)?;
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
    if !matches!(order.status.as_str(), "paid" | "packed" | "shipped") {
        return Ok(());
    }
    let rank = |s: &str| match s {
        "packed" => 1,
        "shipped" => 2,
        "delivered" => 3,
        _ => 0,
    };
    let slowest = shipments::of_order(conn, order_id)?
        .iter()
        .filter(|s| s.status != "cancelled")
        .map(|s| rank(&s.status))
        .min();
    let Some(slowest) = slowest else {
        return Ok(());
    };
    let status = ["paid", "packed", "shipped", "delivered"][slowest];
    if status != order.status && q::transition(conn, order_id, &order.status, status, now)? {
        q::record_event(
            conn,
            order_id,
            Some(&order.status),
            status,
            actor,
            None,
            now,
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
            Some((_, units)) => *units += units_left(line),
            None => totals.push((line, units_left(line))),
        }
    }
    totals
}

/// What `village_id` packs for orders placed on `day` (China time).
pub fn packing_list(
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
