//! Placing orders (ARCHITECTURE §6.1): the order and its stock reservation are one
//! transaction, every line's stock taken with a conditional update, so that no amount
//! of concurrent checkouts can sell what is not there. Unpaid orders give their stock
//! back when the reservation runs out.

use chrono::{Duration, NaiveDateTime};
use diesel::result::{DatabaseErrorKind, Error as DbError};
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::db::canteen::{
    AcceptanceLine, CanteenOrder, DeliverySite, acceptance_of_order, part_of_order,
};
use crate::db::catalog::{Village, villages_by_ids};
use crate::db::orders::{self as q, NewOrder, NewOrderEvent, NewOrderLine};
use crate::db::payments::{refund_lines_by_village, refunds_of_order};
use crate::db::shipments;
use crate::db::stock::{add_to_product, take_from_product};
use crate::db::{DbConn, write_transaction};
use crate::domain::actor::{TeamScope, Who};
use crate::domain::audit::{self, Change};
use crate::domain::cart::{self, Buyer, CartItem, LineProblem, PricedLine, Shopper};
use crate::domain::error::{DomainError, DomainResult};
use crate::domain::validation::{self as v, FieldErrors};
use crate::domain::{china_date, notify};
use crate::states::{Channel, OrderStatus, PaymentMethod, ShipmentStatus};
use crate::util::random_token;

pub use crate::db::orders::{Order, OrderEvent, OrderFilter, OrderLine};
pub use crate::db::payments::Refund;
pub use crate::db::shipments::Shipment;

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
    /// 职工码: an organisation's staff code, to count the order towards its target.
    pub staff_code: String,
}

/// A line that could not be bought, named for the buyer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefusedLine {
    pub product_id: i64,
    pub name_zh: String,
    pub name_en: String,
    pub problem: LineProblem,
}

/// An order with its lines.
#[derive(Debug, Clone)]
pub struct OrderLines {
    pub order: Order,
    pub lines: Vec<OrderLine>,
}

/// How a checkout ended: the order placed, the order its key placed before (a repeated
/// submit, a retry, a race's loser: nothing more written), or the lines that cannot be
/// bought as they stand, with nothing reserved.
#[derive(Debug)]
pub enum Checkout {
    Placed(Box<OrderLines>),
    Repeated(Box<OrderLines>),
    Refused(Vec<RefusedLine>),
}

impl Checkout {
    /// The order, and whether its key had placed it before (an API's
    /// `Idempotent-Replayed`); or the lines refused.
    pub fn order(self) -> Result<(Box<OrderLines>, bool), Vec<RefusedLine>> {
        match self {
            Checkout::Placed(placed) => Ok((placed, false)),
            Checkout::Repeated(found) => Ok((found, true)),
            Checkout::Refused(lines) => Err(lines),
        }
    }
}

/// Why a placement stopped inside its transaction; each rolls back what it reserved.
pub enum Unplaced {
    Refused(Vec<RefusedLine>),
    Failed(DomainError),
    /// A repeated submit: the order its key placed before is the answer.
    Repeat(Box<OrderLines>),
}

impl From<DbError> for Unplaced {
    fn from(e: DbError) -> Self {
        Unplaced::Failed(e.into())
    }
}

impl From<DomainError> for Unplaced {
    fn from(e: DomainError) -> Self {
        Unplaced::Failed(e)
    }
}

impl From<FieldErrors> for Unplaced {
    fn from(e: FieldErrors) -> Self {
        Unplaced::Failed(e.into())
    }
}

/// Who an order is for and how it is paid, as its channel's checkout decided.
pub struct OrderTerms<'a> {
    pub channel: Channel,
    pub organization_id: Option<i64>,
    pub buyer_user_id: Option<i64>,
    pub buyer_name: &'a str,
    pub buyer_phone: &'a str,
    pub buyer_email: Option<&'a str>,
    pub delivery_address: &'a str,
    pub note: &'a str,
    pub payment_method: PaymentMethod,
    /// `PendingPayment`, or `AwaitingApproval` for a canteen order above its threshold.
    pub status: OrderStatus,
    /// When the stock goes back if nothing happens; `None`: held until the order ends.
    pub reserved_until: Option<NaiveDateTime>,
    /// Stored form (`stored_idempotency_key`).
    pub idempotency_key: &'a str,
    pub locale: &'a str,
    /// The organisation a staff member's personal order counts for.
    pub staff_organization_id: Option<i64>,
    /// The livestream item a link order came through.
    pub live_item_id: Option<i64>,
}

struct ValidCheckout {
    name: String,
    phone: String,
    address: String,
    email: Option<String>,
    note: String,
    payment_method: PaymentMethod,
    key: String,
    /// Upper-cased as stored.
    staff_code: Option<String>,
}

fn validate(
    form: &CheckoutForm,
    items: &[CartItem],
    methods: &[PaymentMethod],
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
    // Checked as the outbox will address it, so the buyer's mail can always be sent.
    let email = v::email(&mut errors, "email", &form.email, 120);
    let note = v::optional_text(&mut errors, "note", &form.note, 200).unwrap_or_default();
    let offered: Vec<&str> = methods.iter().map(|m| m.as_str()).collect();
    let payment_method = v::one_of(
        &mut errors,
        "payment_method",
        &form.payment_method,
        &offered,
    )
    .and_then(|m| PaymentMethod::parse(&m));
    let key = form.idempotency_key.trim().to_string();
    if !is_idempotency_key(&key) {
        errors.add("idempotency_key", "invalid-stale-form");
    }
    let staff_code = v::optional_text(&mut errors, "staff_code", &form.staff_code, 16)
        .map(|code| code.to_uppercase());
    match (phone, payment_method) {
        (Some(phone), Some(payment_method)) if errors.is_empty() => Ok(ValidCheckout {
            name,
            phone,
            address,
            email,
            note,
            payment_method,
            key,
            staff_code,
        }),
        _ => Err(errors),
    }
}

/// The shopper's checkout: who they are decides their prices (see `cart::buyer`), then
/// `place`.
pub fn checkout(
    conn: &mut DbConn,
    shopper: &Shopper,
    items: &[CartItem],
    form: &CheckoutForm,
    methods: &[PaymentMethod],
    reservation_minutes: u32,
    now: NaiveDateTime,
) -> DomainResult<Checkout> {
    let buyer = cart::buyer(conn, shopper)?;
    place(conn, items, &buyer, form, methods, reservation_minutes, now)
}

/// Places the order and reserves its stock, all or nothing, paid by one of `methods`
/// (those the shop offers now). A repeated submit of the same checkout (same idempotency
/// key) returns the order placed the first time.
pub fn place(
    conn: &mut DbConn,
    items: &[CartItem],
    buyer: &Buyer,
    form: &CheckoutForm,
    methods: &[PaymentMethod],
    reservation_minutes: u32,
    now: NaiveDateTime,
) -> DomainResult<Checkout> {
    let stored_key = stored_idempotency_key(&buyer.checkout_scope, form.idempotency_key.trim());
    place_once(conn, &stored_key, |conn| {
        let mut valid = validate(form, items, methods)?;
        valid.key = stored_key.clone();
        place_in_transaction(conn, items, buyer, &valid, reservation_minutes, now)
    })
}

/// A guest's storefront order sent by a program (the API): `lines` of product and
/// quantity, placed once per idempotency key and request. The key counts only with the
/// request it came with (`request` is its body in a canonical form): a retry of the same request finds
/// the order placed first; the same key with another request finds nothing of it.
#[allow(clippy::too_many_arguments)]
pub fn place_for_program(
    conn: &mut DbConn,
    lines: &[(i64, i64)],
    form: &CheckoutForm,
    request: &[u8],
    locale: &str,
    methods: &[PaymentMethod],
    reservation_minutes: u32,
    now: NaiveDateTime,
) -> DomainResult<Checkout> {
    let items = cart::items_of(lines, cart::MAX_LINES)?;
    let buyer = Buyer {
        locale: locale.to_string(),
        checkout_scope: program_scope(request),
        ..Buyer::default()
    };
    place(
        conn,
        &items,
        &buyer,
        form,
        methods,
        reservation_minutes,
        now,
    )
}

/// The checkout scope of a program's request: its canonical bytes, hashed, so that its
/// idempotency key finds only what the same request placed.
pub fn program_scope(request: &[u8]) -> String {
    hex::encode(Sha256::digest(request))
}

/// Places an order once per stored idempotency key, whatever the channel: a repeated
/// submit finds its order (even though the first emptied the cart) inside the
/// transaction, and when two submits raced past that look-up the loser's insert hits the
/// key's UNIQUE and it finds the winner's order. (No look-up before the transaction: a
/// repeat is rare, and every first submit would pay for it.) Only the session that was
/// given the key can find it, so a key copied from elsewhere finds nothing.
pub fn place_once(
    conn: &mut DbConn,
    stored_key: &str,
    place: impl FnOnce(&mut DbConn) -> Result<OrderLines, Unplaced>,
) -> DomainResult<Checkout> {
    let result = write_transaction(conn, |conn| {
        if let Some(order) = q::by_idempotency_key(conn, stored_key)? {
            return Err(Unplaced::Repeat(Box::new(with_lines(conn, order)?)));
        }
        place(conn)
    });
    checkout_once(conn, stored_key, result)
}

/// How a placement's transaction ended, as the buyer is answered: a repeat whose insert
/// met the key's UNIQUE (its transaction rolled back) finds the order placed under it.
pub fn checkout_once(
    conn: &mut DbConn,
    stored_key: &str,
    placed: Result<OrderLines, Unplaced>,
) -> DomainResult<Checkout> {
    match placed {
        Ok(placed) => Ok(Checkout::Placed(Box::new(placed))),
        Err(Unplaced::Refused(lines)) => Ok(Checkout::Refused(lines)),
        Err(Unplaced::Repeat(placed)) => Ok(Checkout::Repeated(placed)),
        Err(Unplaced::Failed(DomainError::Database(DbError::DatabaseError(
            DatabaseErrorKind::UniqueViolation,
            _,
        )))) => {
            let order = q::by_idempotency_key(conn, stored_key)?.ok_or(DomainError::NotFound)?;
            Ok(Checkout::Repeated(Box::new(with_lines(conn, order)?)))
        }
        Err(Unplaced::Failed(e)) => Err(e),
    }
}

/// Whether `key` can be an idempotency key as every checkout gives them (a form's hidden
/// field, the API's `Idempotency-Key`): 16–64 letters and digits.
pub fn is_idempotency_key(key: &str) -> bool {
    (16..=64).contains(&key.len()) && key.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// The key an order is stored under: the form's idempotency key bound to the session
/// that was given it (`Buyer::checkout_scope`), hashed so neither can be read back.
pub fn stored_idempotency_key(checkout_scope: &str, key: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(checkout_scope.as_bytes());
    hasher.update([0]);
    hasher.update(key.as_bytes());
    hex::encode(hasher.finalize())
}

pub fn with_lines(conn: &mut DbConn, order: Order) -> diesel::QueryResult<OrderLines> {
    let lines = q::lines(conn, order.id)?;
    Ok(OrderLines { order, lines })
}

fn place_in_transaction(
    conn: &mut DbConn,
    items: &[CartItem],
    buyer: &Buyer,
    valid: &ValidCheckout,
    reservation_minutes: u32,
    now: NaiveDateTime,
) -> Result<OrderLines, Unplaced> {
    let canteen = buyer.organization_id.is_some();
    let lines = cart::price(conn, items, canteen)?;
    if lines.len() != items.len() || lines.is_empty() {
        return Err(DomainError::invalid("cart", "invalid-cart-changed").into());
    }
    let staff_organization_id = match &valid.staff_code {
        None => None,
        // An organisation's own purchase is never its staff's.
        Some(_) if canteen => {
            return Err(DomainError::invalid("staff_code", "invalid-staff-code-canteen").into());
        }
        Some(code) => match crate::db::accounts::organization_by_staff_code(conn, code)? {
            Some(org) => Some(org.id),
            None => return Err(DomainError::invalid("staff_code", "invalid-staff-code").into()),
        },
    };
    let terms = OrderTerms {
        staff_organization_id,
        live_item_id: None,
        channel: if canteen {
            Channel::Canteen
        } else {
            Channel::Store
        },
        organization_id: buyer.organization_id,
        buyer_user_id: buyer.user_id,
        buyer_name: &valid.name,
        buyer_phone: &valid.phone,
        buyer_email: valid.email.as_deref(),
        delivery_address: &valid.address,
        note: &valid.note,
        payment_method: valid.payment_method,
        status: OrderStatus::PendingPayment,
        // Cash on delivery is paid when the goods arrive: its stock stays reserved
        // instead of running out with the payment window.
        reserved_until: (valid.payment_method != PaymentMethod::CashOnDelivery)
            .then(|| now + Duration::minutes(i64::from(reservation_minutes))),
        idempotency_key: &valid.key,
        locale: &buyer.locale,
    };
    let placed = reserve_and_record(conn, &lines, &terms, now)?;
    notify::order_received(conn, &placed.order, &placed.lines, now)?;
    Ok(placed)
}

/// Takes every priced line's stock with a conditional update and records the order, its
/// lines, one shipment per village and the first step of its history; inside the
/// caller's transaction. Lines that cannot be bought as they stand are named in
/// `Unplaced::Refused`, and the caller's rollback returns whatever was taken.
pub fn reserve_and_record(
    conn: &mut DbConn,
    lines: &[PricedLine],
    terms: &OrderTerms,
    now: NaiveDateTime,
) -> Result<OrderLines, Unplaced> {
    reserve(conn, lines, now)?;
    record(conn, lines, terms, now)
}

/// Takes every priced line's stock from its product with a conditional update; the short
/// lines are named in `Unplaced::Refused`, and the caller's rollback returns the rest.
fn reserve(conn: &mut DbConn, lines: &[PricedLine], now: NaiveDateTime) -> Result<(), Unplaced> {
    let mut refused = Vec::new();
    for line in lines {
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
    if !refused.is_empty() {
        // Returning the error rolls back every reservation this checkout made.
        return Err(Unplaced::Refused(refused));
    }
    Ok(())
}

/// Records an order whose stock is already held: the order, its lines, one shipment per
/// village and the first step of its history; inside the caller's transaction.
pub fn record(
    conn: &mut DbConn,
    lines: &[PricedLine],
    terms: &OrderTerms,
    now: NaiveDateTime,
) -> Result<OrderLines, Unplaced> {
    let total_fen: i64 = lines.iter().map(|l| l.line_total_fen).sum();
    let today = china_date(now);
    let token = random_token(24);
    // Eight hex characters a day (4 billion), and never one already given: a flash sale's
    // thousands of orders a day must not meet an old number's UNIQUE, which would read as
    // a repeated tap of the same form. The insert gives way to a number taken.
    let order = loop {
        let number = format!(
            "{}-{}",
            today.format("%Y%m%d"),
            random_token(4).to_uppercase()
        );
        let new = NewOrder {
            number: &number,
            channel: terms.channel,
            organization_id: terms.organization_id,
            buyer_user_id: terms.buyer_user_id,
            buyer_name: terms.buyer_name,
            buyer_phone: terms.buyer_phone,
            buyer_email: terms.buyer_email,
            delivery_address: terms.delivery_address,
            note: terms.note,
            payment_method: terms.payment_method,
            status: terms.status,
            total_fen,
            token: &token,
            idempotency_key: terms.idempotency_key,
            reserved_until: terms.reserved_until,
            business_date: today,
            created_at: now,
            updated_at: now,
            locale: terms.locale,
            staff_organization_id: terms.staff_organization_id,
            live_item_id: terms.live_item_id,
        };
        if let Some(order) = q::insert(conn, &new)? {
            break order;
        }
    };
    let order_id = order.id;
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
    let lines = q::insert_lines(conn, &new_lines)?;
    let mut villages: Vec<i64> = new_lines.iter().map(|l| l.village_id).collect();
    villages.sort_unstable();
    villages.dedup();
    shipments::create_for_order(conn, order_id, &villages, now)?;
    q::record_event(
        conn,
        &NewOrderEvent::step(order_id, None, terms.status.as_str(), "buyer", now),
    )?;
    Ok(OrderLines { order, lines })
}

/// Ends an unpaid order (`expired` or `cancelled`), or a canteen order awaiting approval,
/// and returns its reserved stock; `false` if it was in neither state as read.
pub fn release(
    conn: &mut DbConn,
    order: &Order,
    to: OrderStatus,
    actor: &str,
    now: NaiveDateTime,
) -> diesel::QueryResult<bool> {
    let from = order.status;
    if !matches!(
        from,
        OrderStatus::PendingPayment | OrderStatus::AwaitingApproval
    ) {
        return Ok(false);
    }
    write_transaction(conn, |conn| {
        if !q::transition(conn, order.id, from, to, now)? {
            return Ok(false);
        }
        // A livestream order's units go back to its item's quota while the session runs.
        let live = crate::db::live::item_of_order(conn, order.id)?;
        for line in q::lines(conn, order.id)? {
            let back_on_sale = match &live {
                Some((item, live_now)) => {
                    crate::db::live::give_back(
                        conn,
                        item.id,
                        &order.buyer_phone,
                        line.quantity,
                        *live_now,
                    )?;
                    !live_now
                }
                None => true,
            };
            if back_on_sale {
                add_to_product(conn, line.product_id, line.quantity, now)?;
            }
        }
        shipments::cancel_unshipped(conn, order.id, None, now)?;
        q::clear_reservation(conn, order.id)?;
        let (from, to) = (from.as_str(), to.as_str());
        q::record_event(
            conn,
            &NewOrderEvent::step(order.id, Some(from), to, actor, now),
        )?;
        Ok(true)
    })
}

/// Whether any village has sent its part of an order.
fn on_its_way(shipments: &[Shipment]) -> bool {
    shipments.iter().any(|s| {
        matches!(
            s.status,
            ShipmentStatus::Shipped | ShipmentStatus::Delivered
        )
    })
}

/// Whether an order may still be cancelled: unpaid, and not sent by any of its villages.
pub fn may_cancel(order: &Order, shipments: &[Shipment]) -> bool {
    order.status == OrderStatus::PendingPayment && !on_its_way(shipments)
}

/// Whether the buyer is to pay the order online now (through the provider's checkout).
pub fn awaits_online_payment(order: &Order) -> bool {
    order.status == OrderStatus::PendingPayment && order.payment_method == PaymentMethod::Stripe
}

/// Whether the order's payment is recorded by hand by the team (bank transfer, cash on
/// delivery): not confirmed by the provider, nor paid through a monthly statement (on
/// account).
pub fn paid_by_hand(order: &Order) -> bool {
    matches!(
        order.payment_method,
        PaymentMethod::BankTransfer | PaymentMethod::CashOnDelivery
    )
}

/// Whether the buyer is to pay the order by bank transfer now.
pub fn awaits_transfer(order: &Order) -> bool {
    order.status == OrderStatus::PendingPayment
        && order.payment_method == PaymentMethod::BankTransfer
}

/// Cancels an order that is still awaiting payment and has not left any village (a
/// cash-on-delivery order may be on its way before it is paid).
fn cancel(conn: &mut DbConn, who: &Who, order: &Order, now: NaiveDateTime) -> DomainResult<()> {
    write_transaction(conn, |conn| {
        if on_its_way(&shipments::of_order(conn, order.id)?) {
            return Err(DomainError::invalid("status", "invalid-order-on-its-way"));
        }
        if !release(conn, order, OrderStatus::Cancelled, &who.label, now)? {
            return Err(DomainError::invalid("status", "invalid-order-not-pending"));
        }
        let change = Change {
            action: "cancel_order",
            entity: "order",
            entity_id: order.id,
            village_id: None,
            before: Some(json!({ "status": order.status })),
            after: Some(json!({ "status": OrderStatus::Cancelled })),
        };
        audit::record(conn, who, change, now)?;
        Ok(())
    })
}

/// The buyer cancels their own order, found by the secret token of its link.
pub fn buyer_cancel(conn: &mut DbConn, token: &str, now: NaiveDateTime) -> DomainResult<()> {
    let order = q::by_token(conn, token)?.ok_or(DomainError::NotFound)?;
    cancel(conn, &Who::tool("buyer"), &order, now)
}

/// A work team cancels an order of its villages. An order with another village's goods
/// is that village's too: its buyer cancels it, or it expires; one team does not cancel
/// the other's part.
pub fn team_cancel(
    conn: &mut DbConn,
    who: &Who,
    scope: &TeamScope,
    order_id: i64,
    now: NaiveDateTime,
) -> DomainResult<()> {
    let order = in_scope(conn, scope, order_id)?;
    if q::lines(conn, order.id)?
        .iter()
        .any(|l| !scope.covers(l.village_id))
    {
        return Err(DomainError::invalid(
            "status",
            "invalid-order-other-villages",
        ));
    }
    cancel(conn, who, &order, now)
}

/// Expires unpaid orders whose reservation ran out and returns their stock. Safe to run
/// in several processes at once (see `db::orders::take_expired`). Returns how many.
pub fn expire_reservations(conn: &mut DbConn, now: NaiveDateTime) -> diesel::QueryResult<usize> {
    write_transaction(conn, |conn| {
        let mut expired = 0;
        for order in q::take_expired(conn, now, 200)? {
            if release(
                conn,
                &order,
                OrderStatus::Expired,
                "reservation expiry",
                now,
            )? {
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
    /// Whether the order may still be cancelled (judged on all its villages' parts).
    pub cancellable: bool,
    /// A canteen's order: where and when it is delivered, its PO number.
    pub canteen: Option<(CanteenOrder, DeliverySite)>,
    /// A canteen's acceptance of its lines on arrival, as recorded so far.
    pub acceptance: Vec<AcceptanceLine>,
}

pub fn view(conn: &mut DbConn, order: Order) -> diesel::QueryResult<OrderView> {
    let lines = q::lines(conn, order.id)?;
    let shipments = shipments::of_order(conn, order.id)?;
    let cancellable = may_cancel(&order, &shipments);
    let ids: Vec<i64> = shipments.iter().map(|s| s.village_id).collect();
    let villages = villages_by_ids(conn, &ids)?;
    let shipments = shipments
        .into_iter()
        .filter_map(|s| {
            let village = villages.iter().find(|v| v.id == s.village_id)?.clone();
            Some((s, village))
        })
        .collect();
    let canteen = part_of_order(conn, order.id)?;
    let acceptance = match canteen {
        Some(_) => acceptance_of_order(conn, order.id)?,
        None => Vec::new(),
    };
    Ok(OrderView {
        canteen,
        acceptance,
        refunds: refunds_of_order(conn, order.id)?,
        events: q::events(conn, order.id)?,
        order,
        lines,
        shipments,
        cancellable,
    })
}

/// The buyer's order by the secret token in its link.
pub fn by_token(conn: &mut DbConn, token: &str) -> DomainResult<OrderView> {
    let order = q::by_token(conn, token)?.ok_or(DomainError::NotFound)?;
    Ok(view(conn, order)?)
}

/// A signed-in buyer's own orders, newest first.
pub fn of_buyer(conn: &mut DbConn, user_id: i64) -> DomainResult<Vec<Order>> {
    Ok(q::of_buyer(conn, user_id, 200)?)
}

/// The order, if it touches one of the team's villages.
fn in_scope(conn: &mut DbConn, scope: &TeamScope, id: i64) -> DomainResult<Order> {
    q::touching_villages_by_id(conn, scope.village_ids(), id)?.ok_or(DomainError::NotFound)
}

/// The orders with a line from the team's villages, newest first.
pub fn team_list(
    conn: &mut DbConn,
    scope: &TeamScope,
    filter: &OrderFilter,
) -> DomainResult<Vec<Order>> {
    Ok(q::touching_villages(
        conn,
        scope.village_ids(),
        filter,
        200,
    )?)
}

/// An order of the team's villages as the team sees it: its own villages' lines and
/// shipments only.
pub fn team_view(conn: &mut DbConn, scope: &TeamScope, id: i64) -> DomainResult<OrderView> {
    let order = in_scope(conn, scope, id)?;
    let parts = refund_lines_by_village(conn, order.id)?;
    let mut view = view(conn, order)?;
    view.lines.retain(|l| scope.covers(l.village_id));
    view.shipments.retain(|(s, _)| scope.covers(s.village_id));
    view.events
        .retain(|e| e.village_id.is_none_or(|v| scope.covers(v)));
    // Each refund counts for the team as much as it gave back for the team's lines.
    view.refunds.retain_mut(|refund| {
        refund.amount_fen = parts
            .iter()
            .filter(|(id, village, _)| *id == refund.id && scope.covers(*village))
            .map(|(_, _, fen)| fen)
            .sum();
        refund.amount_fen > 0
    });
    view.order.refunded_fen = view.refunds.iter().map(|r| r.amount_fen).sum();
    Ok(view)
}
