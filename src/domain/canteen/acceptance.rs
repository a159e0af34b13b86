//! Acceptance on arrival (验收): a canteen member records, for each line of a village's
//! delivered shipment, the units accepted and those rejected with a reason (short,
//! damaged, quality). Rejected units become a credit through the refund path
//! (`refunds::credit`: reversed against the same households once paid; short goods go
//! back on sale, damaged or poor ones do not). A shipment is accepted once; one not
//! accepted within `ACCEPTANCE_DAYS` of its delivery is accepted whole by the jobs loop.

use chrono::{Duration, NaiveDateTime};
use serde_json::json;

use crate::db::canteen::{self as q, AcceptanceLine};
use crate::db::orders::{self as oq, NewOrderEvent, OrderLine};
use crate::db::shipments;
use crate::db::{DbConn, write_transaction};
use crate::domain::actor::{OrgScope, Who};
use crate::domain::audit::{self, Change};
use crate::domain::error::{DomainError, DomainResult};
use crate::domain::validation::{self as v, FieldErrors};
use crate::domain::{notify, refunds};
use crate::states::{RejectionReason, ShipmentStatus};

/// A line's acceptance as typed: `accepted-<line>`, `rejected-<line>`, `reason-<line>`.
#[derive(Debug, Clone, Default)]
pub struct LineAcceptance {
    pub line_id: i64,
    pub accepted: String,
    pub rejected: String,
    pub reason: String,
}

pub fn field(kind: &str, line_id: i64) -> String {
    format!("{kind}-{line_id}")
}

/// A line as read: the line, units accepted, units rejected and why.
type ReadLine = (OrderLine, i32, i32, Option<RejectionReason>);

/// Reads the form against the village's lines: every line answered, accepted and
/// rejected adding up to what was sent, a reason for any rejection.
fn read(lines: &[OrderLine], form: &[LineAcceptance]) -> Result<Vec<ReadLine>, FieldErrors> {
    let mut errors = FieldErrors::default();
    let mut read = Vec::new();
    for line in lines {
        let typed = form.iter().find(|f| f.line_id == line.id);
        let sent = line.units_left();
        let accepted_field = field("accepted", line.id);
        let (accepted, rejected) = match typed {
            None => (Some(sent), Some(0)),
            Some(t) => {
                let number =
                    |errors: &mut FieldErrors, name: &str, text: &str, default| match text.trim() {
                        "" => Some(default),
                        n => v::whole_number(errors, name, n, 0, sent),
                    };
                let rejected = number(&mut errors, &field("rejected", line.id), &t.rejected, 0);
                let accepted = number(
                    &mut errors,
                    &accepted_field,
                    &t.accepted,
                    sent - rejected.unwrap_or(0),
                );
                (accepted, rejected)
            }
        };
        let (Some(accepted), Some(rejected)) = (accepted, rejected) else {
            continue;
        };
        if accepted + rejected != sent {
            errors.add_with(
                &accepted_field,
                "invalid-acceptance-sum",
                vec![("sent", sent.to_string())],
            );
            continue;
        }
        let reason_field = field("reason", line.id);
        let reason = match (rejected, typed.map(|t| t.reason.trim()).unwrap_or("")) {
            (0, _) => None,
            (_, "") => {
                errors.add(&reason_field, "invalid-required");
                continue;
            }
            (_, text) => {
                let parsed = v::state(&mut errors, &reason_field, text, RejectionReason::parse);
                if parsed.is_none() {
                    continue;
                }
                parsed
            }
        };
        read.push((line.clone(), accepted, rejected, reason));
    }
    errors.finish(read)
}

/// A canteen member records the acceptance of a village's delivered part of one of the
/// organisation's orders; another organisation's is not found.
#[allow(clippy::too_many_arguments)]
pub fn record(
    conn: &mut DbConn,
    who: &Who,
    member_id: i64,
    scope: OrgScope,
    order_id: i64,
    village_id: i64,
    form: &[LineAcceptance],
    now: NaiveDateTime,
) -> DomainResult<()> {
    let (order, _, _) =
        q::order_in(conn, scope.organization_id(), order_id)?.ok_or(DomainError::NotFound)?;
    let shipment = shipments::of_order(conn, order.id)?
        .into_iter()
        .find(|s| s.village_id == village_id)
        .ok_or(DomainError::NotFound)?;
    if shipment.status != ShipmentStatus::Delivered || shipment.accepted_at.is_some() {
        return Err(DomainError::invalid(
            "acceptance",
            "invalid-acceptance-not-due",
        ));
    }
    let lines: Vec<OrderLine> = oq::lines(conn, order.id)?
        .into_iter()
        .filter(|l| l.village_id == village_id && l.units_left() > 0)
        .collect();
    let read = read(&lines, form)?;
    write_transaction(conn, |conn| {
        if shipments::mark_accepted(conn, shipment.id, Some(member_id), now)? != 1 {
            return Err(DomainError::invalid(
                "acceptance",
                "invalid-acceptance-not-due",
            ));
        }
        // One credit for what goes back on sale (short: it never left the village) and
        // one for what does not (damaged, poor quality).
        let mut refund_of = Vec::new();
        for restock in [true, false] {
            let credited: Vec<(OrderLine, i32)> = read
                .iter()
                .filter(|(_, _, rejected, reason)| {
                    *rejected > 0 && (*reason == Some(RejectionReason::Short)) == restock
                })
                .map(|(line, _, rejected, _)| (line.clone(), *rejected))
                .collect();
            if credited.is_empty() {
                continue;
            }
            // The order as it stands now: a first credit moved its refunded units on.
            let current = oq::by_id(conn, order.id)?.ok_or(DomainError::NotFound)?;
            let fresh: Vec<(OrderLine, i32)> = oq::lines(conn, order.id)?
                .into_iter()
                .filter_map(|l| {
                    let n = credited.iter().find(|(c, _)| c.id == l.id)?.1;
                    Some((l, n))
                })
                .collect();
            let id = refunds::credit(conn, who, &current, &fresh, "acceptance", restock, now)?;
            refund_of.extend(fresh.iter().map(|(l, _)| (l.id, id)));
        }
        let rows: Vec<AcceptanceLine> = read
            .iter()
            .map(|(line, accepted, rejected, reason)| AcceptanceLine {
                order_line_id: line.id,
                shipment_id: shipment.id,
                accepted: *accepted,
                rejected: *rejected,
                reason: *reason,
                refund_id: refund_of
                    .iter()
                    .find(|(l, _)| *l == line.id)
                    .map(|(_, r)| *r),
            })
            .collect();
        q::insert_acceptance(conn, &rows)?;
        let rejected: i32 = read.iter().map(|(_, _, r, _)| r).sum();
        let note = format!("village {village_id}: accepted, {rejected} rejected");
        let step = NewOrderEvent::step(order.id, None, "accepted", &who.label, now);
        oq::record_event(conn, &step.note(Some(&note)).village(village_id))?;
        let change = Change {
            action: "accept_delivery",
            entity: "order",
            entity_id: order.id,
            village_id: Some(village_id),
            before: None,
            after: Some(json!({
                "shipment_id": shipment.id,
                "lines": read.iter().map(|(l, a, r, why)| json!({
                    "line": l.id, "accepted": a, "rejected": r, "reason": why,
                })).collect::<Vec<_>>(),
            })),
        };
        audit::record(conn, who, change, now)?;
        let credited_fen: i64 = rows
            .iter()
            .filter_map(|r| r.refund_id)
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .map(|id| crate::db::payments::refund_amount(conn, id))
            .sum::<Result<i64, _>>()?;
        notify::acceptance_recorded(conn, &order, village_id, rejected, credited_fen, now)?;
        Ok(())
    })
}

/// Days after delivery a canteen has to record its acceptance before the goods count as
/// accepted whole.
pub const ACCEPTANCE_DAYS: i64 = 3;

/// Accepts whole every canteen shipment delivered more than `ACCEPTANCE_DAYS` ago and not
/// accepted; each once, however many processes run this at the same time. Returns how
/// many.
pub fn accept_overdue(conn: &mut DbConn, now: NaiveDateTime) -> diesel::QueryResult<usize> {
    write_transaction(conn, |conn| {
        let mut accepted = 0;
        for shipment in
            shipments::take_unaccepted(conn, now - Duration::days(ACCEPTANCE_DAYS), 200)?
        {
            if shipments::mark_accepted(conn, shipment.id, None, now)? != 1 {
                continue;
            }
            let rows: Vec<AcceptanceLine> = oq::lines(conn, shipment.order_id)?
                .into_iter()
                .filter(|l| l.village_id == shipment.village_id && l.units_left() > 0)
                .map(|l| AcceptanceLine {
                    order_line_id: l.id,
                    shipment_id: shipment.id,
                    accepted: l.units_left(),
                    rejected: 0,
                    reason: None,
                    refund_id: None,
                })
                .collect();
            q::insert_acceptance(conn, &rows)?;
            let note = format!(
                "village {}: accepted after {ACCEPTANCE_DAYS} days",
                shipment.village_id
            );
            let step = NewOrderEvent::step(shipment.order_id, None, "accepted", "acceptance", now);
            oq::record_event(conn, &step.note(Some(&note)).village(shipment.village_id))?;
            accepted += 1;
        }
        Ok(accepted)
    })
}
