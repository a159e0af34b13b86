//! Refunds, whole or by line: first planned against what the order still holds, then —
//! once the provider has returned the money (or the team has, by hand) — recorded in one
//! transaction with the goods returned to stock when asked.
//!
//! A team's refund goes through the provider that took the money, which is a network
//! call and so not made here: `prepare` plans the refund and holds its units (so that
//! two refunds at once cannot both send back money for them), the caller asks the
//! provider with what the `HeldRefund` says, and `complete` records the refund or lets
//! the units go, as the provider answered. A `HeldRefund` is made only by `prepare` and
//! used up by `complete`, so neither step can be skipped or taken twice.

use chrono::NaiveDateTime;
use serde_json::json;

use crate::db::orders::{self as q, NewOrderEvent, Order, OrderLine};
use crate::db::payments::{self as p, NewRefund, NewRefundLine};
use crate::db::shipments;
use crate::db::stock::add_to_product;
use crate::db::{DbConn, write_transaction};
use crate::domain::actor::{TeamScope, Who};
use crate::domain::audit::{self, Change};
use crate::domain::error::{DomainError, DomainResult};
use crate::domain::validation::{self as v, FieldErrors};
use crate::domain::{china_date, ledger, notify};
use crate::states::OrderStatus;

/// The refund form: a quantity per line (`qty_<line id>`), whether the goods go back on
/// sale, and why.
#[derive(Debug, Clone, Default)]
pub struct RefundRequest {
    pub quantities: Vec<(i64, String)>,
    pub restock: bool,
    pub reason: String,
}

#[derive(Debug, Clone)]
pub struct RefundPlan {
    pub order: Order,
    /// Each line refunded: the line, how many units, and their money.
    pub lines: Vec<(OrderLine, i32, i64)>,
    pub amount_fen: i64,
    pub restock: bool,
    pub reason: String,
}

impl RefundPlan {
    /// The same refund asked twice (same units of the same lines, from the same point)
    /// gets one answer from the provider; any other refund gets its own.
    pub fn idempotency_key(&self) -> String {
        let units: Vec<String> = self
            .lines
            .iter()
            .map(|(line, quantity, _)| {
                format!("{}:{}+{}", line.id, line.refunded_quantity, quantity)
            })
            .collect();
        format!("refund-{}-{}", self.order.id, units.join(","))
    }
}

/// The money of `quantity` more units of a line of which `already` were refunded: the
/// shares are cut from the line's total cumulatively, so that refunding every unit, in
/// any steps, gives back exactly the line's total and never a fen more.
pub fn line_refund_fen(line: &OrderLine, already: i32, quantity: i32) -> i64 {
    let total = i128::from(line.line_total_fen);
    let units = i128::from(line.quantity);
    let upto = |n: i32| total * i128::from(n) / units;
    (upto(already + quantity) - upto(already)) as i64
}

/// Whether money was taken for the order and some of it is still to give back.
pub fn may_refund(order: &Order) -> bool {
    use OrderStatus::*;
    matches!(
        order.status,
        Paid | Packed | Shipped | Delivered | PartiallyRefunded
    )
}

/// Checks a refund against the order: refundable now, lines of the team's villages only
/// (`None`: any line, for the tools), each quantity a whole number within what is left
/// of its line.
pub fn plan(
    conn: &mut DbConn,
    order: &Order,
    scope: Option<&TeamScope>,
    request: &RefundRequest,
) -> DomainResult<RefundPlan> {
    let mut errors = FieldErrors::default();
    if !may_refund(order) {
        errors.add("status", "invalid-order-not-refundable");
    }
    let reason = v::required_text(&mut errors, "reason", &request.reason, 200);
    let lines = q::lines(conn, order.id)?;
    let mut planned = Vec::new();
    for (line_id, raw) in &request.quantities {
        let field = format!("qty_{line_id}");
        let raw = raw.trim();
        if raw.is_empty() || raw == "0" {
            continue;
        }
        let Some(line) = lines
            .iter()
            .find(|l| l.id == *line_id && scope.is_none_or(|s| s.covers(l.village_id)))
        else {
            errors.add(&field, "invalid-refund-line");
            continue;
        };
        let left = line.units_left();
        match raw.parse::<i32>() {
            Ok(n) if n > 0 && n <= left => {
                let fen = line_refund_fen(line, line.refunded_quantity, n);
                planned.push((line.clone(), n, fen));
            }
            _ => errors.add(&field, "invalid-refund-quantity"),
        }
    }
    if planned.is_empty() && errors.is_empty() {
        errors.add("lines", "invalid-refund-nothing");
    }
    if !errors.is_empty() {
        return Err(errors.into());
    }
    let amount_fen = planned.iter().map(|(_, _, fen)| fen).sum();
    Ok(RefundPlan {
        order: order.clone(),
        lines: planned,
        amount_fen,
        restock: request.restock,
        reason,
    })
}

/// Holds the plan's units of each line as refunded before the money is sent back, so
/// that no other refund can send back the same units meanwhile. Refused (nothing held)
/// when another refund got there first.
pub fn reserve(conn: &mut DbConn, plan: &RefundPlan) -> DomainResult<()> {
    write_transaction(conn, |conn| {
        for (line, quantity, _) in &plan.lines {
            if !q::refund_line_quantity(conn, line.id, line.refunded_quantity, *quantity)? {
                return Err(DomainError::invalid("status", "invalid-refund-changed"));
            }
        }
        Ok(())
    })
}

/// Lets go of units held by `reserve` when the provider did not refund them.
pub fn release(conn: &mut DbConn, plan: &RefundPlan) -> diesel::QueryResult<()> {
    write_transaction(conn, |conn| {
        for (line, quantity, _) in &plan.lines {
            q::unrefund_line_quantity(conn, line.id, line.refunded_quantity, *quantity)?;
        }
        Ok(())
    })
}

/// Records a refund that needs no provider round trip (the team pays back by hand):
/// holds the units and records it, in one transaction.
pub fn record(
    conn: &mut DbConn,
    who: &Who,
    plan: &RefundPlan,
    provider_refund_id: Option<&str>,
    now: NaiveDateTime,
) -> DomainResult<i64> {
    write_transaction(conn, |conn| {
        reserve(conn, plan)?;
        record_reserved(conn, who, plan, provider_refund_id, now)
    })
}

/// Records a refund whose units `reserve` holds and whose money has gone back.
fn record_reserved(
    conn: &mut DbConn,
    who: &Who,
    plan: &RefundPlan,
    provider_refund_id: Option<&str>,
    now: NaiveDateTime,
) -> DomainResult<i64> {
    let order = &plan.order;
    write_transaction(conn, |conn| {
        let mut refund_lines: Vec<NewRefundLine> = plan
            .lines
            .iter()
            .map(|(line, quantity, fen)| NewRefundLine {
                refund_id: 0,
                order_line_id: line.id,
                quantity: *quantity,
                amount_fen: *fen,
            })
            .collect();
        let refund = NewRefund {
            order_id: order.id,
            amount_fen: plan.amount_fen,
            provider_refund_id,
            reason: &plan.reason,
            restock: plan.restock,
            actor_label: &who.label,
            business_date: china_date(now),
            created_at: now,
        };
        let refund_id = p::insert_refund(conn, &refund, &mut refund_lines)?;
        // Units [already, already + quantity) of each line go back, against the same
        // households (see `domain::ledger`). A credit on an order not yet paid (a
        // canteen's, on account) has nothing in the ledger to reverse: the payment
        // reverses it when it posts the lines (`ledger::reverse_earlier_credits`).
        let paid = may_refund(order);
        for (line, quantity, _) in &plan.lines {
            if plan.restock {
                add_to_product(conn, line.product_id, *quantity, now)?;
            }
            if !paid {
                continue;
            }
            let units = ledger::RefundedUnits {
                first: line.refunded_quantity,
                quantity: *quantity,
                refund_id,
                restock: plan.restock,
            };
            ledger::reverse_units(conn, order, line, &units, now)?;
        }
        let lines_after = q::lines(conn, order.id)?;
        let all_refunded = lines_after.iter().all(|l| l.units_left() == 0);
        let status = if !paid {
            // Still to be paid, for what is left.
            order.status
        } else if all_refunded {
            OrderStatus::Refunded
        } else {
            OrderStatus::PartiallyRefunded
        };
        let mut villages: Vec<i64> = plan.lines.iter().map(|(l, _, _)| l.village_id).collect();
        villages.sort_unstable();
        villages.dedup();
        for &village in &villages {
            let done = lines_after
                .iter()
                .filter(|l| l.village_id == village)
                .all(|l| l.units_left() == 0);
            if done {
                shipments::cancel_unshipped(conn, order.id, Some(village), now)?;
            }
        }
        let current = q::by_id(conn, order.id)?.map_or(order.status, |o| o.status);
        // Money goes back only once it was taken: before, a credit lowers what is due
        // (`payments::amount_due`), and the order's refunded money stays as it was.
        let refunded_fen = if paid { plan.amount_fen } else { 0 };
        q::add_refunded(conn, order.id, refunded_fen, status, now)?;
        // One history step per village, with its own money: a team reads its part only.
        for village in &villages {
            let fen: i64 = plan
                .lines
                .iter()
                .filter(|(l, _, _)| l.village_id == *village)
                .map(|(_, _, fen)| fen)
                .sum();
            let note = format!("refund {fen} · {}", plan.reason);
            let (from, to) = (current.as_str(), status.as_str());
            let step = NewOrderEvent::step(order.id, Some(from), to, &who.label, now);
            q::record_event(conn, &step.note(Some(&note)).village(*village))?;
        }
        let change = Change {
            action: "refund",
            entity: "order",
            entity_id: order.id,
            village_id: plan.lines.first().map(|(l, _, _)| l.village_id),
            before: Some(json!({ "status": current, "refunded_fen": order.refunded_fen })),
            after: Some(json!({
                "status": status,
                "refunded_fen": order.refunded_fen + plan.amount_fen,
                "restock": plan.restock,
                "provider_refund_id": provider_refund_id,
                "lines": plan.lines.iter().map(|(l, q, f)| json!({"line": l.id, "quantity": q, "fen": f})).collect::<Vec<_>>(),
            })),
        };
        audit::record(conn, who, change, now)?;
        let refunded: Vec<&OrderLine> = plan.lines.iter().map(|(l, _, _)| l).collect();
        notify::refunded(conn, order, &refunded, plan.amount_fen, now)?;
        Ok(refund_id)
    })
}

/// Credits units of an order's lines that were not taken (a canteen's rejection on
/// arrival): recorded as a refund without a provider, the goods back on sale when
/// `restock`. Once the order is paid its units are reversed in the ledger at once;
/// before, the payment reverses them (see `record_reserved`).
pub fn credit(
    conn: &mut DbConn,
    who: &Who,
    order_id: i64,
    units: &[(i64, i32)],
    reason: &str,
    restock: bool,
    now: NaiveDateTime,
) -> DomainResult<i64> {
    write_transaction(conn, |conn| {
        // Read as it is now, and held: a payment of the same order waits for this credit,
        // or this credit sees the payment.
        let order = q::locked(conn, order_id)?.ok_or(DomainError::NotFound)?;
        let lines: Vec<(OrderLine, i32, i64)> = q::lines(conn, order.id)?
            .into_iter()
            .filter_map(|line| {
                let n = units.iter().find(|(id, _)| *id == line.id)?.1;
                let fen = line_refund_fen(&line, line.refunded_quantity, n);
                Some((line, n, fen))
            })
            .collect();
        let plan = RefundPlan {
            amount_fen: lines.iter().map(|(_, _, fen)| fen).sum(),
            order,
            lines,
            restock,
            reason: reason.to_string(),
        };
        record(conn, who, &plan, None, now)
    })
}

/// A team's refund planned and its units held, waiting for the provider's answer.
#[derive(Debug)]
pub struct HeldRefund {
    plan: RefundPlan,
}

impl HeldRefund {
    /// The order whose payment the provider gives back part of.
    pub fn order(&self) -> &Order {
        &self.plan.order
    }

    pub fn amount_fen(&self) -> i64 {
        self.plan.amount_fen
    }

    /// The provider's idempotency key (see `RefundPlan::idempotency_key`).
    pub fn idempotency_key(&self) -> String {
        self.plan.idempotency_key()
    }
}

/// Plans a refund of lines of the team's villages, of an order touching them (not found
/// otherwise), and holds its units until `complete`.
pub fn prepare(
    conn: &mut DbConn,
    scope: &TeamScope,
    order_id: i64,
    request: &RefundRequest,
) -> DomainResult<HeldRefund> {
    let order = q::touching_villages_by_id(conn, scope.village_ids(), order_id)?
        .ok_or(DomainError::NotFound)?;
    let plan = plan(conn, &order, Some(scope), request)?;
    reserve(conn, &plan)?;
    Ok(HeldRefund { plan })
}

/// What the provider answered to a held refund.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProviderAnswer {
    /// The money went back; the provider's refund id (`None` when the team pays the
    /// money back by hand).
    Refunded { provider_refund_id: Option<String> },
    /// Refused, or the provider could not be reached.
    Failed,
}

/// How a held refund ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Completed {
    /// Recorded, with this refund id.
    Recorded(i64),
    /// The provider did not refund: the held units are let go, nothing recorded.
    Released,
}

/// Records the held refund if the provider refunded it, or lets its units go.
pub fn complete(
    conn: &mut DbConn,
    who: &Who,
    held: HeldRefund,
    answer: ProviderAnswer,
    now: NaiveDateTime,
) -> DomainResult<Completed> {
    match answer {
        ProviderAnswer::Refunded { provider_refund_id } => {
            let id = record_reserved(conn, who, &held.plan, provider_refund_id.as_deref(), now)?;
            Ok(Completed::Recorded(id))
        }
        ProviderAnswer::Failed => {
            release(conn, &held.plan)?;
            Ok(Completed::Released)
        }
    }
}
