//! Being paid (ARCHITECTURE §6.2): an order moves to `paid` once, whether the confirmation is a
//! provider's event, or a payment the team saw and records by hand (`mark_paid`); and
//! the provider checkout a buyer is sent to (`checkout_started`). Provider events are
//! recorded once each by id; a replayed, late or out-of-order event changes nothing, and
//! one that cannot be applied (wrong amount, an order that already expired, a refund
//! made outside the shop) is recorded and flags the order for the team.

use chrono::NaiveDateTime;
use diesel::result::{DatabaseErrorKind, Error as DbError};
use serde_json::json;

use crate::db::orders::{self as q, NewOrderEvent, Order};
use crate::db::payments as events;
use crate::db::{DbConn, write_transaction};
use crate::domain::actor::{TeamScope, Who};
use crate::domain::audit::{self, Change};
use crate::domain::error::{DomainError, DomainResult};
use crate::domain::orders::{self, OrderLines};
use crate::domain::validation::{self as v, FieldErrors};
use crate::domain::{fulfilment, ledger, notify};
use crate::states::{OrderStatus, PaymentMethod};

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
    let (from, to) = (OrderStatus::PendingPayment, OrderStatus::Paid);
    write_transaction(conn, |conn| {
        if !q::transition(conn, order.id, from, to, now)? {
            return Ok(false);
        }
        q::record_payment(conn, order.id, paid_fen, payment_id, now)?;
        let (from_text, to_text) = (from.as_str(), to.as_str());
        let step = NewOrderEvent::step(order.id, Some(from_text), to_text, &who.label, now);
        q::record_event(conn, &step.note(reference))?;
        let change = Change {
            action: "order_paid",
            entity: "order",
            entity_id: order.id,
            village_id: None,
            before: Some(json!({ "status": order.status, "paid_fen": order.paid_fen })),
            after: Some(json!({
                "status": to, "paid_fen": paid_fen, "payment_id": payment_id,
                "reference": reference,
            })),
        };
        audit::record(conn, who, change, now)?;
        let lines = q::lines(conn, order.id)?;
        ledger::allocate_order(conn, order, &lines, default_bp, now)?;
        ledger::reverse_earlier_credits(conn, order, &lines, now)?;
        notify::order_paid(conn, order, &lines, now)?;
        // A cash-on-delivery order may already be on its way or delivered.
        fulfilment::sync_order_status(conn, order.id, &who.label, now)?;
        Ok(true)
    })
}

/// What became of a provider's event, recorded with it and told to the provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Seen before (this event id): nothing done.
    Duplicate,
    Ignored,
    UnknownOrder,
    Paid,
    AlreadyPaid,
    /// A second payment for an order already paid (flagged).
    PaidTwice,
    /// Paid after the order had expired or was cancelled (flagged).
    PaidAfterClose,
    /// Not the order's amount or currency (flagged).
    AmountMismatch,
    AwaitingFunds,
    PaymentFailed,
    Expired,
    RefundKnown,
    /// Refunded outside the shop (flagged).
    RefundOutside,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Duplicate => "duplicate",
            Outcome::Ignored => "ignored",
            Outcome::UnknownOrder => "unknown_order",
            Outcome::PaidTwice => "paid_twice",
            Outcome::AlreadyPaid => "already_paid",
            Outcome::PaidAfterClose => "paid_after_close",
            Outcome::AmountMismatch => "amount_mismatch",
            Outcome::Paid => "paid",
            Outcome::AwaitingFunds => "awaiting_funds",
            Outcome::PaymentFailed => "payment_failed",
            Outcome::Expired => "expired",
            Outcome::RefundKnown => "refund_known",
            Outcome::RefundOutside => "refund_outside",
        }
    }
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Applies a provider's event once. Returns the outcome recorded with it (`duplicate`
/// when this event id was seen before and nothing was done).
pub fn apply_event(
    conn: &mut DbConn,
    event: &PaymentEvent,
    default_bp: u32,
    now: NaiveDateTime,
) -> Result<Outcome, DbError> {
    let result = write_transaction(conn, |conn| {
        if events::event_seen(conn, event.provider, &event.event_id)? {
            return Ok(Outcome::Duplicate);
        }
        let order = match (event.order_id, event.payment_id.as_deref()) {
            (Some(id), _) => q::by_id(conn, id)?,
            (None, Some(payment)) => q::by_provider_payment(conn, payment)?,
            (None, None) => None,
        };
        let outcome = match &order {
            None if event.kind == PaymentEventKind::Other => Outcome::Ignored,
            None => Outcome::UnknownOrder,
            Some(order) => act(conn, event, order, default_bp, now)?,
        };
        events::record_event(
            conn,
            event.provider,
            &event.event_id,
            &event.event_type,
            order.as_ref().map(|o| o.id),
            outcome.as_str(),
            now,
        )?;
        Ok(outcome)
    });
    match result {
        // The same event delivered twice at once: the other delivery applied it.
        Err(DbError::DatabaseError(DatabaseErrorKind::UniqueViolation, _)) => {
            Ok(Outcome::Duplicate)
        }
        other => other,
    }
}

fn act(
    conn: &mut DbConn,
    event: &PaymentEvent,
    order: &Order,
    default_bp: u32,
    now: NaiveDateTime,
) -> Result<Outcome, DbError> {
    let who = Who::tool(&format!("{} webhook", event.provider));
    let note = format!("{} {}", event.event_type, event.event_id);
    // A note in the order's history that leaves its status as it is.
    let remark = |conn: &mut DbConn, text: String| {
        let status = order.status.as_str();
        let step = NewOrderEvent::step(order.id, Some(status), status, &who.label, now);
        q::record_event(conn, &step.note(Some(&text)))
    };
    // The outcome names why the team must look (`attention-<outcome>` in the locales).
    let flag = |conn: &mut DbConn, reason: Outcome| -> Result<Outcome, DbError> {
        let reason_text = reason.as_str();
        q::set_attention(conn, order.id, reason_text)?;
        remark(conn, format!("attention-{reason_text}: {note}"))?;
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
                    flag(conn, Outcome::PaidTwice)
                } else {
                    Ok(Outcome::AlreadyPaid)
                }
            } else if order.status != OrderStatus::PendingPayment {
                flag(conn, Outcome::PaidAfterClose)
            } else if *amount_fen != order.total_fen || currency != "cny" {
                flag(conn, Outcome::AmountMismatch)
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
                Ok(Outcome::Paid)
            } else {
                // The order left `pending_payment` after it was read: expired or cancelled
                // just now (its stock released), or paid by a racing delivery.
                match q::by_id(conn, order.id)? {
                    Some(now_order) if now_order.paid_at.is_some() => Ok(Outcome::AlreadyPaid),
                    _ => flag(conn, Outcome::PaidAfterClose),
                }
            }
        }
        PaymentEventKind::AwaitingFunds => Ok(Outcome::AwaitingFunds),
        PaymentEventKind::Failed if order.status == OrderStatus::PendingPayment => {
            remark(conn, format!("payment failed: {note}"))?;
            Ok(Outcome::PaymentFailed)
        }
        PaymentEventKind::CheckoutExpired if order.status == OrderStatus::PendingPayment => {
            orders::release(conn, order, OrderStatus::Expired, &who.label, now)?;
            Ok(Outcome::Expired)
        }
        PaymentEventKind::Refunded { total_refunded_fen } => {
            if *total_refunded_fen <= order.refunded_fen {
                Ok(Outcome::RefundKnown)
            } else {
                flag(conn, Outcome::RefundOutside)
            }
        }
        PaymentEventKind::Failed | PaymentEventKind::CheckoutExpired | PaymentEventKind::Other => {
            Ok(Outcome::Ignored)
        }
    }
}

/// Records a manual payment (bank transfer seen on the account, or cash taken on
/// delivery) of an order awaiting payment: once only, with who and the reference.
pub fn mark_paid(
    conn: &mut DbConn,
    who: &Who,
    order: &Order,
    reference: &str,
    default_bp: u32,
    now: NaiveDateTime,
) -> DomainResult<()> {
    let mut errors = FieldErrors::default();
    let reference = v::optional_text(&mut errors, "reference", reference, 64);
    if order.payment_method == PaymentMethod::BankTransfer
        && reference.is_none()
        && errors.is_empty()
    {
        errors.add("reference", "invalid-required");
    }
    if !orders::paid_by_hand(order) {
        // Card and wallet payments are confirmed by the provider, on-account orders paid
        // through their statement: never by hand.
        let why = match order.payment_method {
            PaymentMethod::OnAccount => "invalid-order-paid-by-statement",
            _ => "invalid-order-paid-online",
        };
        errors.add("status", why);
    }
    if !errors.is_empty() {
        return Err(errors.into());
    }
    let received = Received {
        paid_fen: amount_due(conn, order)?,
        payment_id: None,
        reference: reference.as_deref(),
    };
    if settle(conn, who, order, &received, default_bp, now)? {
        Ok(())
    } else {
        Err(DomainError::invalid("status", "invalid-order-not-pending"))
    }
}

/// What an unpaid order still asks for: its total less the credits given before payment
/// (a canteen's rejections on arrival, on account).
pub fn amount_due(conn: &mut DbConn, order: &Order) -> diesel::QueryResult<i64> {
    let credited: i64 = crate::db::payments::refunds_of_order(conn, order.id)?
        .iter()
        .map(|r| r.amount_fen)
        .sum();
    Ok(order.total_fen - credited)
}

/// A work team records the manual payment of an order of its villages.
pub fn team_mark_paid(
    conn: &mut DbConn,
    who: &Who,
    scope: &TeamScope,
    order_id: i64,
    reference: &str,
    default_bp: u32,
    now: NaiveDateTime,
) -> DomainResult<()> {
    let order = q::touching_villages_by_id(conn, scope.village_ids(), order_id)?
        .ok_or(DomainError::NotFound)?;
    mark_paid(conn, who, &order, reference, default_bp, now)
}

/// The order the buyer may pay online now, by the token of its link, with its lines
/// for the provider's checkout; refused (`status`) unless it awaits an online payment.
pub fn to_pay(conn: &mut DbConn, token: &str) -> DomainResult<OrderLines> {
    let order = q::by_token(conn, token)?.ok_or(DomainError::NotFound)?;
    if !orders::awaits_online_payment(&order) {
        return Err(DomainError::invalid("status", "invalid-order-not-pending"));
    }
    let lines = q::lines(conn, order.id)?;
    Ok(OrderLines { order, lines })
}

/// When a provider checkout of `order` started at `now` should stop taking payment.
/// Stripe keeps a checkout open at least 30 minutes: the reservation is made to last as
/// long as the checkout, so that a payment never arrives for goods already released.
pub fn checkout_expiry(order: &Order, now: NaiveDateTime) -> Option<NaiveDateTime> {
    order
        .reserved_until
        .map(|until| until.max(now + chrono::Duration::minutes(31)))
}

/// Records the provider checkout the buyer was sent to, holding the order's stock
/// until that checkout closes, in the audit log; nothing when the order has left
/// `pending_payment` meanwhile.
pub fn checkout_started(
    conn: &mut DbConn,
    order: &Order,
    session_id: &str,
    reserved_until: Option<NaiveDateTime>,
    now: NaiveDateTime,
) -> DomainResult<()> {
    write_transaction(conn, |conn| {
        if q::set_provider_session(conn, order.id, session_id, reserved_until)? == 0 {
            return Ok(());
        }
        let change = Change {
            action: "checkout_started",
            entity: "order",
            entity_id: order.id,
            village_id: None,
            before: Some(json!({
                "provider_session_id": order.provider_session_id,
                "reserved_until": order.reserved_until,
            })),
            after: Some(json!({
                "provider_session_id": session_id, "reserved_until": reserved_until,
            })),
        };
        audit::record(conn, &Who::tool("buyer"), change, now)?;
        Ok(())
    })
}
