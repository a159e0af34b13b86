//! Placing orders (DESIGN §6.1): the order and its stock reservation are one
//! transaction, every line's stock taken with a conditional update, so that no amount
//! of concurrent checkouts can sell what is not there. Unpaid orders give their stock
//! back when the reservation runs out.

use chrono::{Duration, NaiveDateTime};
use diesel::result::{DatabaseErrorKind, Error as DbError};
use serde_json::json;

use crate::db::catalog::{Village, villages_by_ids};
use crate::db::orders::{self as q, NewOrder, NewOrderLine, Order, OrderEvent, OrderLine};
use crate::db::payments::{Refund, refunds_of_order};
use crate::db::shipments;
use crate::db::shipments::Shipment;
use crate::db::stock::{add_to_product, take_from_product};
use crate::db::{DbConn, write_transaction};
use crate::domain::actor::Who;
use crate::domain::audit::{self, Change};
use crate::domain::cart::{self, CartItem, LineProblem};
use crate::domain::validation::{self as v, FieldErrors};
use crate::domain::{china_date, notify, payments};
use crate::util::random_token;

/// The checkout form as typed.
#[derive(Debug, Clone, Default, serde::Deserialize, serde::Serialize)]
#[serde(default)]
pub struct CheckoutForm {
    pub name: String,
    pub phone: String,
    pub address: String,
    pub email: String,
    pub note: String,
    pub payment_method: String,
    /// Set once per checkout page, so that a double submit places one order.
    pub idempotency_key: String,
}

/// Who is buying: a guest, or a signed-in user (a canteen buyer gets canteen prices),
/// and the language they buy in, which their emails will speak.
#[derive(Debug, Clone, Default)]
pub struct Buyer {
    pub user_id: Option<i64>,
    pub organization_id: Option<i64>,
    pub locale: String,
}

/// A line that could not be bought, named for the buyer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefusedLine {
    pub product_id: i64,
    pub name_zh: String,
    pub name_en: String,
    pub problem: LineProblem,
}

#[derive(Debug, thiserror::Error)]
pub enum OrderError {
    #[error("invalid checkout")]
    Invalid(FieldErrors),
    #[error("some lines cannot be bought")]
    Lines(Vec<RefusedLine>),
    #[error(transparent)]
    Database(#[from] DbError),
}

struct ValidCheckout {
    name: String,
    phone: String,
    address: String,
    email: Option<String>,
    note: String,
    payment_method: String,
    key: String,
}

fn validate(
    form: &CheckoutForm,
    items: &[CartItem],
    methods: &[&str],
) -> Result<ValidCheckout, FieldErrors> {
    let mut errors = FieldErrors::default();
    if items.is_empty() {
        errors.add("cart", "invalid-cart-empty");
    }
    let name = v::required_text(&mut errors, "name", &form.name, 40);
    let phone = v::mobile_phone(&mut errors, "phone", &form.phone);
    if phone.is_none() && !errors.has("phone") {
        errors.add("phone", "invalid-required");
    }
    let address = v::required_text(&mut errors, "address", &form.address, 200);
    let email = v::optional_text(&mut errors, "email", &form.email, 120);
    if email
        .as_deref()
        .is_some_and(|e| !e.contains('@') || e.contains(char::is_whitespace))
    {
        errors.add("email", "invalid-email");
    }
    let note = v::optional_text(&mut errors, "note", &form.note, 200).unwrap_or_default();
    let payment_method = v::one_of(&mut errors, "payment_method", &form.payment_method, methods);
    let key = form.idempotency_key.trim().to_string();
    if !(16..=64).contains(&key.len()) || !key.bytes().all(|b| b.is_ascii_alphanumeric()) {
        errors.add("idempotency_key", "invalid-stale-form");
    }
    match (phone, payment_method) {
        (Some(phone), Some(payment_method)) if errors.is_empty() => Ok(ValidCheckout {
            name,
            phone,
            address,
            email,
            note,
            payment_method,
            key,
        }),
        _ => Err(errors),
    }
}

/// Places the order and reserves its stock, all or nothing, paid by one of `methods`
/// (those the shop offers now). A repeated submit of the same checkout (same idempotency
/// key) returns the order placed the first time.
pub fn place(
    conn: &mut DbConn,
    items: &[CartItem],
    buyer: &Buyer,
    form: &CheckoutForm,
    methods: &[&str],
    reservation_minutes: u32,
    now: NaiveDateTime,
) -> Result<Order, OrderError> {
    // A repeated submit finds its order even though the cart was emptied by the first.
    if let Some(order) = q::by_idempotency_key(conn, form.idempotency_key.trim())? {
        return Ok(order);
    }
    let valid = validate(form, items, methods).map_err(OrderError::Invalid)?;
    let result = write_transaction(conn, |conn| {
        place_in_transaction(conn, items, buyer, &valid, reservation_minutes, now)
    });
    match result {
        // Two submits raced past the look-up: the loser finds the winner's order.
        Err(OrderError::Database(DbError::DatabaseError(
            DatabaseErrorKind::UniqueViolation,
            _,
        ))) => {
            q::by_idempotency_key(conn, &valid.key)?.ok_or(OrderError::Database(DbError::NotFound))
        }
        other => other,
    }
}

fn place_in_transaction(
    conn: &mut DbConn,
    items: &[CartItem],
    buyer: &Buyer,
    valid: &ValidCheckout,
    reservation_minutes: u32,
    now: NaiveDateTime,
) -> Result<Order, OrderError> {
    if let Some(order) = q::by_idempotency_key(conn, &valid.key)? {
        return Ok(order);
    }
    let canteen = buyer.organization_id.is_some();
    let lines = cart::price(conn, items, canteen)?;
    let mut refused = Vec::new();
    for line in &lines {
        let problem = match &line.problem {
            Some(LineProblem::Short(_)) | None => {
                if take_from_product(conn, line.product.id, line.quantity, now)? {
                    None
                } else {
                    Some(LineProblem::Short(crate::db::stock::product_stock(
                        conn,
                        line.product.id,
                    )?))
                }
            }
            Some(other) => Some(other.clone()),
        };
        if let Some(problem) = problem {
            refused.push(RefusedLine {
                product_id: line.product.id,
                name_zh: line.product.name_zh.clone(),
                name_en: line.product.name_en.clone(),
                problem,
            });
        }
    }
    if lines.len() != items.len() || lines.is_empty() {
        return Err(OrderError::Invalid(FieldErrors::single(
            "cart",
            "invalid-cart-changed",
        )));
    }
    if !refused.is_empty() {
        // Returning the error rolls back every reservation this checkout made.
        return Err(OrderError::Lines(refused));
    }
    let total_fen: i64 = lines.iter().map(|l| l.line_total_fen).sum();
    let today = china_date(now);
    let number = format!(
        "{}-{}",
        today.format("%Y%m%d"),
        random_token(3).to_uppercase()
    );
    let token = random_token(24);
    let new = NewOrder {
        number: &number,
        channel: if canteen { "canteen" } else { "store" },
        organization_id: buyer.organization_id,
        buyer_user_id: buyer.user_id,
        buyer_name: &valid.name,
        buyer_phone: &valid.phone,
        buyer_email: valid.email.as_deref(),
        delivery_address: &valid.address,
        note: &valid.note,
        payment_method: &valid.payment_method,
        status: "pending_payment",
        total_fen,
        token: &token,
        idempotency_key: &valid.key,
        // Cash on delivery is paid when the goods arrive: its stock stays reserved
        // instead of running out with the payment window.
        reserved_until: (valid.payment_method != "cash_on_delivery")
            .then(|| now + Duration::minutes(i64::from(reservation_minutes))),
        business_date: today,
        created_at: now,
        updated_at: now,
        locale: &buyer.locale,
    };
    let order_id = q::insert(conn, &new)?;
    let new_lines: Vec<NewOrderLine> = lines
        .iter()
        .map(|l| NewOrderLine {
            order_id,
            product_id: l.product.id,
            village_id: l.village.id,
            quantity: l.quantity,
            unit_price_fen: l.unit_price_fen,
            line_total_fen: l.line_total_fen,
            product_name_zh: l.product.name_zh.clone(),
            product_name_en: l.product.name_en.clone(),
            sale_unit_zh: l.product.sale_unit_zh.clone(),
            sale_unit_en: l.product.sale_unit_en.clone(),
        })
        .collect();
    q::insert_lines(conn, &new_lines)?;
    let mut villages: Vec<i64> = new_lines.iter().map(|l| l.village_id).collect();
    villages.sort_unstable();
    villages.dedup();
    shipments::create_for_order(conn, order_id, &villages, now)?;
    q::record_event(conn, order_id, None, "pending_payment", "buyer", None, now)?;
    let order = q::by_id(conn, order_id)?.ok_or(OrderError::Database(DbError::NotFound))?;
    let lines = q::lines(conn, order_id)?;
    notify::order_received(conn, &order, &lines, now)?;
    Ok(order)
}

/// Ends an unpaid order (`expired` or `cancelled`) and returns its reserved stock;
/// `false` if it was no longer awaiting payment.
pub fn release(
    conn: &mut DbConn,
    order: &Order,
    to: &str,
    actor: &str,
    now: NaiveDateTime,
) -> diesel::QueryResult<bool> {
    write_transaction(conn, |conn| {
        if !q::transition(conn, order.id, "pending_payment", to, now)? {
            return Ok(false);
        }
        for line in q::lines(conn, order.id)? {
            add_to_product(conn, line.product_id, line.quantity, now)?;
        }
        shipments::cancel_unshipped(conn, order.id, None, now)?;
        q::clear_reservation(conn, order.id)?;
        q::record_event(
            conn,
            order.id,
            Some("pending_payment"),
            to,
            actor,
            None,
            now,
        )?;
        Ok(true)
    })
}

/// The units of a line bought and not refunded: still to send, and still refundable.
pub fn units_left(line: &OrderLine) -> i32 {
    line.quantity - line.refunded_quantity
}

/// Whether any village has sent its part of an order.
fn on_its_way(shipments: &[Shipment]) -> bool {
    shipments
        .iter()
        .any(|s| matches!(s.status.as_str(), "shipped" | "delivered"))
}

/// Whether an order may still be cancelled: unpaid, and not sent by any of its villages.
pub fn may_cancel(order: &Order, shipments: &[Shipment]) -> bool {
    order.status == "pending_payment" && !on_its_way(shipments)
}

/// Cancels an order that is still awaiting payment and has not left any village (a
/// cash-on-delivery order may be on its way before it is paid), by its buyer or its
/// village team.
pub fn cancel(
    conn: &mut DbConn,
    who: &Who,
    order: &Order,
    now: NaiveDateTime,
) -> Result<(), OrderError> {
    write_transaction(conn, |conn| {
        if on_its_way(&shipments::of_order(conn, order.id)?) {
            return Err(OrderError::Invalid(FieldErrors::single(
                "status",
                "invalid-order-on-its-way",
            )));
        }
        if !release(conn, order, "cancelled", &who.label, now)? {
            return Err(OrderError::Invalid(FieldErrors::single(
                "status",
                "invalid-order-not-pending",
            )));
        }
        let change = Change {
            action: "cancel_order",
            entity: "order",
            entity_id: order.id,
            village_id: None,
            before: Some(json!({ "status": order.status })),
            after: Some(json!({ "status": "cancelled" })),
        };
        audit::record(conn, who, change, now)?;
        Ok(())
    })
}

/// Expires unpaid orders whose reservation ran out and returns their stock. Safe to run
/// in several processes at once (see `db::orders::take_expired`). Returns how many.
pub fn expire_reservations(conn: &mut DbConn, now: NaiveDateTime) -> diesel::QueryResult<usize> {
    write_transaction(conn, |conn| {
        let mut expired = 0;
        for order in q::take_expired(conn, now, 200)? {
            if release(conn, &order, "expired", "reservation expiry", now)? {
                expired += 1;
            }
        }
        Ok(expired)
    })
}

/// An order with everything its pages show.
pub struct OrderView {
    pub order: Order,
    pub lines: Vec<OrderLine>,
    /// Each village's part of the delivery, with the village.
    pub shipments: Vec<(Shipment, Village)>,
    pub refunds: Vec<Refund>,
    pub events: Vec<OrderEvent>,
}

pub fn view(conn: &mut DbConn, order: Order) -> diesel::QueryResult<OrderView> {
    let lines = q::lines(conn, order.id)?;
    let shipments = shipments::of_order(conn, order.id)?;
    let ids: Vec<i64> = shipments.iter().map(|s| s.village_id).collect();
    let villages = villages_by_ids(conn, &ids)?;
    let shipments = shipments
        .into_iter()
        .filter_map(|s| {
            let village = villages.iter().find(|v| v.id == s.village_id)?.clone();
            Some((s, village))
        })
        .collect();
    Ok(OrderView {
        refunds: refunds_of_order(conn, order.id)?,
        events: q::events(conn, order.id)?,
        order,
        lines,
        shipments,
    })
}

pub fn by_token(conn: &mut DbConn, token: &str) -> diesel::QueryResult<Option<OrderView>> {
    q::by_token(conn, token)?
        .map(|order| view(conn, order))
        .transpose()
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
) -> Result<(), OrderError> {
    let mut errors = FieldErrors::default();
    let reference = v::optional_text(&mut errors, "reference", reference, 64);
    if order.payment_method == "bank_transfer" && reference.is_none() && errors.is_empty() {
        errors.add("reference", "invalid-required");
    }
    if order.payment_method == "stripe" {
        // Card and wallet payments are confirmed by the provider, never by hand.
        errors.add("status", "invalid-order-paid-online");
    }
    if !errors.is_empty() {
        return Err(OrderError::Invalid(errors));
    }
    let received = payments::Received {
        paid_fen: order.total_fen,
        payment_id: None,
        reference: reference.as_deref(),
    };
    let paid = payments::settle(conn, who, order, &received, default_bp, now)?;
    if paid {
        Ok(())
    } else {
        Err(OrderError::Invalid(FieldErrors::single(
            "status",
            "invalid-order-not-pending",
        )))
    }
}
