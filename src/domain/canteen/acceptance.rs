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

/// Reads the form against the village's lines: a line left out is accepted whole;
/// otherwise accepted and rejected add up to what was sent, with a reason for any
/// rejection.
fn read(lines: &[OrderLine], form: &[LineAcceptance]) -> Result<Vec<ReadLine>, FieldErrors> {
    let mut errors = FieldErrors::default();
    // A line typed that is not one of the village's part is a mistake, not "nothing";
    // so is a line typed twice.
    for (i, typed) in form.iter().enumerate() {
        if lines.iter().all(|l| l.id != typed.line_id) {
            errors.add(&field("line", typed.line_id), "invalid-choice");
        } else if form[..i].iter().any(|f| f.line_id == typed.line_id) {
            errors.add(
                &field("line", typed.line_id),
                "invalid-acceptance-line-repeated",
            );
        }
    }
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
/// organisation's orders; another organisation's is not found. Read, checked and written
/// in one transaction, with the order's row held, so that a refund or a payment of the
/// same order comes wholly before or after.
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
    write_transaction(conn, |conn| {
        let order = oq::locked(conn, order.id)?.ok_or(DomainError::NotFound)?;
        let shipment = shipments::of_order(conn, order.id)?
            .into_iter()
            .find(|s| s.village_id == village_id)
            .ok_or(DomainError::NotFound)?;
        // Said before the form is read: an accepted part's lines no longer match it.
        if shipment.status != ShipmentStatus::Delivered || shipment.accepted_at.is_some() {
            return Err(DomainError::invalid(
                "acceptance",
                "invalid-acceptance-not-due",
            ));
        }
        let lines = sent_lines(conn, order.id, village_id)?;
        let read = read(&lines, form)?;
        if shipments::mark_accepted(conn, shipment.id, Some(member_id), now)? != 1 {
            return Err(DomainError::invalid(
                "acceptance",
                "invalid-acceptance-not-due",
            ));
        }
        // One credit for what goes back on sale (short: it never left the village) and
        // one for what does not (damaged, poor quality).
        let mut refund_of: Vec<(i64, i64)> = Vec::new();
        let mut credited_fen = 0;
        for restock in [true, false] {
            let units: Vec<(i64, i32)> = read
                .iter()
                .filter(|(_, _, rejected, reason)| {
                    *rejected > 0 && (*reason == Some(RejectionReason::Short)) == restock
                })
                .map(|(line, _, rejected, _)| (line.id, *rejected))
                .collect();
            if units.is_empty() {
                continue;
            }
            let id = refunds::credit(conn, who, order.id, &units, "acceptance", restock, now)?;
            credited_fen += crate::db::payments::refund_amount(conn, id)?;
            refund_of.extend(units.iter().map(|(line, _)| (*line, id)));
        }
        let results: Vec<Accepted> = read
            .iter()
            .map(|(line, accepted, rejected, reason)| Accepted {
                line_id: line.id,
                accepted: *accepted,
                rejected: *rejected,
                reason: *reason,
                refund_id: refund_of
                    .iter()
                    .find(|(l, _)| *l == line.id)
                    .map(|(_, r)| *r),
            })
            .collect();
        let rejected: i32 = results.iter().map(|r| r.rejected).sum();
        write_acceptance(conn, who, &shipment, &results, now)?;
        notify::acceptance_recorded(conn, &order, village_id, rejected, credited_fen, now)?;
        Ok(())
    })
}

/// The lines of a village's part of an order that were sent (not refunded whole).
fn sent_lines(
    conn: &mut DbConn,
    order_id: i64,
    village_id: i64,
) -> diesel::QueryResult<Vec<OrderLine>> {
    Ok(oq::lines(conn, order_id)?
        .into_iter()
        .filter(|l| l.village_id == village_id && l.units_left() > 0)
        .collect())
}

/// One line's acceptance, as recorded.
struct Accepted {
    line_id: i64,
    accepted: i32,
    rejected: i32,
    reason: Option<RejectionReason>,
    refund_id: Option<i64>,
}

/// Writes a shipment's acceptance: its lines, a step in the order's history for the
/// village, and the audit entry.
fn write_acceptance(
    conn: &mut DbConn,
    who: &Who,
    shipment: &shipments::Shipment,
    results: &[Accepted],
    now: NaiveDateTime,
) -> DomainResult<()> {
    let rows: Vec<AcceptanceLine> = results
        .iter()
        .map(|r| AcceptanceLine {
            order_line_id: r.line_id,
            shipment_id: shipment.id,
            accepted: r.accepted,
            rejected: r.rejected,
            reason: r.reason,
            refund_id: r.refund_id,
        })
        .collect();
    q::insert_acceptance(conn, &rows)?;
    let rejected: i32 = results.iter().map(|r| r.rejected).sum();
    let village_id = shipment.village_id;
    let note = format!("village {village_id}: accepted, {rejected} rejected");
    let step = NewOrderEvent::step(shipment.order_id, None, "accepted", &who.label, now);
    oq::record_event(conn, &step.note(Some(&note)).village(village_id))?;
    let change = Change {
        action: "accept_delivery",
        entity: "order",
        entity_id: shipment.order_id,
        village_id: Some(village_id),
        before: None,
        after: Some(json!({
            "shipment_id": shipment.id,
            "lines": results.iter().map(|r| json!({
                "line": r.line_id, "accepted": r.accepted, "rejected": r.rejected,
                "reason": r.reason, "refund_id": r.refund_id,
            })).collect::<Vec<_>>(),
        })),
    };
    audit::record(conn, who, change, now)?;
    Ok(())
}

/// Days after delivery a canteen has to record its acceptance before the goods count as
/// accepted whole.
pub const ACCEPTANCE_DAYS: i64 = 3;

/// Accepts whole every canteen shipment delivered more than `ACCEPTANCE_DAYS` ago and not
/// accepted; each once, however many processes run this at the same time. Returns how
/// many.
pub fn accept_overdue(conn: &mut DbConn, now: NaiveDateTime) -> DomainResult<usize> {
    let who = Who::tool("acceptance");
    write_transaction(conn, |conn| {
        let mut accepted = 0;
        let due = now - Duration::days(ACCEPTANCE_DAYS);
        for shipment in shipments::take_unaccepted(conn, due, 200)? {
            if shipments::mark_accepted(conn, shipment.id, None, now)? != 1 {
                continue;
            }
            let results: Vec<Accepted> = sent_lines(conn, shipment.order_id, shipment.village_id)?
                .iter()
                .map(|l| Accepted {
                    line_id: l.id,
                    accepted: l.units_left(),
                    rejected: 0,
                    reason: None,
                    refund_id: None,
                })
                .collect();
            write_acceptance(conn, &who, &shipment, &results, now)?;
            accepted += 1;
        }
        Ok(accepted)
    })
}
