//! Being paid (DESIGN §6.2): an order moves to `paid` once, whether the confirmation is a
//! provider's event, or a payment the team saw and records by hand. Provider events are
//! recorded once each by id; a replayed, late or out-of-order event changes nothing, and
//! one that cannot be applied (wrong amount, an order that already expired, a refund
//! made outside the shop) is recorded and flags the order for the team.

use chrono::NaiveDateTime;
use diesel::result::{DatabaseErrorKind, Error as DbError};
use serde_json::json;

use crate::db::orders::{self as q, Order};
use crate::db::payments as events;
use crate::db::{DbConn, write_transaction};
use crate::domain::actor::Who;
use crate::domain::audit::{self, Change};
use crate::domain::{fulfilment, ledger, notify, orders};

/// What a provider's event means for an order, in the shop's words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PaymentEventKind {
    /// The buyer paid this amount (fen) in this currency (lower-case ISO code).
    Paid { amount_fen: i64, currency: String },
    /// The checkout finished but the money is still on its way (a delayed method).
    AwaitingFunds,
    /// A delayed payment failed; the order stays unpaid until its reservation ends.
    Failed,
    /// The provider's checkout expired unpaid.
    CheckoutExpired,
    /// The payment has been refunded up to this total (fen), by whoever did it.
    Refunded { total_refunded_fen: i64 },
    /// Anything else the provider sends; recorded, nothing done.
    Other,
}

#[derive(Debug, Clone)]
pub struct PaymentEvent {
    pub provider: &'static str,
    pub event_id: String,
    pub event_type: String,
    pub kind: PaymentEventKind,
    /// The order the checkout was made for (our id, carried in the provider's metadata).
    pub order_id: Option<i64>,
    /// The provider's payment id, which later refund events name.
    pub payment_id: Option<String>,
}

/// A payment received for an order: how much, the provider's payment id, and the
/// reference a person typed.
pub struct Received<'a> {
    pub paid_fen: i64,
    pub payment_id: Option<&'a str>,
    pub reference: Option<&'a str>,
}

/// Moves a `pending_payment` order to `paid` with what was received, allocates its
/// lines to the households' lots and posts the money to the ledger (`default_bp`: the
/// collective's share where the village has none); `false` (and nothing written) if it
/// was no longer awaiting payment.
pub fn settle(
    conn: &mut DbConn,
    who: &Who,
    order: &Order,
    received: &Received,
    default_bp: u32,
    now: NaiveDateTime,
) -> Result<bool, DbError> {
    let Received {
        paid_fen,
        payment_id,
        reference,
    } = *received;
    write_transaction(conn, |conn| {
        if !q::transition(conn, order.id, "pending_payment", "paid", now)? {
            return Ok(false);
        }
        q::record_payment(conn, order.id, paid_fen, payment_id, now)?;
        q::record_event(
            conn,
            order.id,
            Some("pending_payment"),
            "paid",
            &who.label,
            reference,
            now,
        )?;
        let change = Change {
            action: "order_paid",
            entity: "order",
            entity_id: order.id,
            village_id: None,
            before: Some(json!({ "status": order.status, "paid_fen": order.paid_fen })),
            after: Some(json!({
                "status": "paid", "paid_fen": paid_fen, "payment_id": payment_id,
                "reference": reference,
            })),
        };
        audit::record(conn, who, change, now)?;
        let lines = q::lines(conn, order.id)?;
        ledger::allocate_order(conn, order, &lines, default_bp, now)?;
        notify::order_paid(conn, order, &lines, now)?;
        // A cash-on-delivery order may already be on its way or delivered.
        fulfilment::sync_order_status(conn, order.id, &who.label, now)?;
        Ok(true)
    })
}

/// Applies a provider's event once. Returns the outcome recorded with it (`duplicate`
/// when this event id was seen before and nothing was done).
pub fn apply_event(
    conn: &mut DbConn,
    event: &PaymentEvent,
    default_bp: u32,
    now: NaiveDateTime,
) -> Result<&'static str, DbError> {
    let result = write_transaction(conn, |conn| {
        if events::event_seen(conn, event.provider, &event.event_id)? {
            return Ok("duplicate");
        }
        let order = match (event.order_id, event.payment_id.as_deref()) {
            (Some(id), _) => q::by_id(conn, id)?,
            (None, Some(payment)) => q::by_provider_payment(conn, payment)?,
            (None, None) => None,
        };
        let outcome = match &order {
            None if event.kind == PaymentEventKind::Other => "ignored",
            None => "unknown_order",
            Some(order) => act(conn, event, order, default_bp, now)?,
        };
        events::record_event(
            conn,
            event.provider,
            &event.event_id,
            &event.event_type,
            order.as_ref().map(|o| o.id),
            outcome,
            now,
        )?;
        Ok(outcome)
    });
    match result {
        // The same event delivered twice at once: the other delivery applied it.
        Err(DbError::DatabaseError(DatabaseErrorKind::UniqueViolation, _)) => Ok("duplicate"),
        other => other,
    }
}

fn act(
    conn: &mut DbConn,
    event: &PaymentEvent,
    order: &Order,
    default_bp: u32,
    now: NaiveDateTime,
) -> Result<&'static str, DbError> {
    let who = Who::tool(&format!("{} webhook", event.provider));
    let note = format!("{} {}", event.event_type, event.event_id);
    // A note in the order's history that leaves its status as it is.
    let remark = |conn: &mut DbConn, text: String| {
        q::record_event(
            conn,
            order.id,
            Some(&order.status),
            &order.status,
            &who.label,
            Some(&text),
            now,
        )
    };
    let flag = |conn: &mut DbConn, reason: &'static str| -> Result<&'static str, DbError> {
        q::set_attention(conn, order.id, reason)?;
        remark(conn, format!("attention-{reason}: {note}"))?;
        Ok(reason)
    };
    match &event.kind {
        PaymentEventKind::Paid {
            amount_fen,
            currency,
        } => {
            if order.paid_at.is_some() {
                // A second payment for the same order (another checkout of it) is money
                // the buyer must get back; the same payment told twice is not.
                let other = event.payment_id.is_some()
                    && order.provider_payment_id.is_some()
                    && event.payment_id != order.provider_payment_id;
                if other {
                    flag(conn, "paid_twice")
                } else {
                    Ok("already_paid")
                }
            } else if order.status != "pending_payment" {
                flag(conn, "paid_after_close")
            } else if *amount_fen != order.total_fen || currency != "cny" {
                flag(conn, "amount_mismatch")
            } else if settle(
                conn,
                &who,
                order,
                &Received {
                    paid_fen: *amount_fen,
                    payment_id: event.payment_id.as_deref(),
                    reference: Some(&note),
                },
                default_bp,
                now,
            )? {
                Ok("paid")
            } else {
                // The order left `pending_payment` after it was read: expired or cancelled
                // just now (its stock released), or paid by a racing delivery.
                match q::by_id(conn, order.id)? {
                    Some(now_order) if now_order.paid_at.is_some() => Ok("already_paid"),
                    _ => flag(conn, "paid_after_close"),
                }
            }
        }
        PaymentEventKind::AwaitingFunds => Ok("awaiting_funds"),
        PaymentEventKind::Failed if order.status == "pending_payment" => {
            remark(conn, format!("payment failed: {note}"))?;
            Ok("payment_failed")
        }
        PaymentEventKind::CheckoutExpired if order.status == "pending_payment" => {
            orders::release(conn, order, "expired", &who.label, now)?;
            Ok("expired")
        }
        PaymentEventKind::Refunded { total_refunded_fen } => {
            if *total_refunded_fen <= order.refunded_fen {
                Ok("refund_known")
            } else {
                flag(conn, "refund_outside")
            }
        }
        PaymentEventKind::Failed | PaymentEventKind::CheckoutExpired | PaymentEventKind::Other => {
            Ok("ignored")
        }
    }
}
