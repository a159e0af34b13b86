//! Queries over orders, their lines and status history.

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;

use super::DbConn;
use super::schema::{order_events, order_lines, orders};
use crate::states::{Channel, OrderStatus, PaymentMethod};

#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = orders)]
pub struct Order {
    pub id: i64,
    pub number: String,
    pub channel: Channel,
    pub organization_id: Option<i64>,
    pub buyer_user_id: Option<i64>,
    pub buyer_name: String,
    pub buyer_phone: String,
    pub buyer_email: Option<String>,
    pub delivery_address: String,
    pub note: String,
    pub payment_method: PaymentMethod,
    pub status: OrderStatus,
    pub total_fen: i64,
    /// The secret in the buyer's link to the order.
    pub token: String,
    pub idempotency_key: String,
    pub reserved_until: Option<NaiveDateTime>,
    pub business_date: NaiveDate,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    /// The buyer's language, for the emails about this order.
    pub locale: String,
    /// The provider's checkout (a Stripe Checkout Session id).
    pub provider_session_id: Option<String>,
    /// The provider's payment (a Stripe PaymentIntent id), known once paid.
    pub provider_payment_id: Option<String>,
    pub paid_fen: i64,
    pub refunded_fen: i64,
    pub paid_at: Option<NaiveDateTime>,
    /// Why the team must look at this order; `None` when nothing is wrong.
    pub attention: Option<String>,
}

/// `None` is written as NULL, not as the column's DEFAULT: every nullable column here
/// defaults to NULL anyway, and a statement without DEFAULT can come from diesel's
/// statement cache instead of being prepared anew for every order.
#[derive(Debug, Insertable)]
#[diesel(table_name = orders, treat_none_as_default_value = false)]
pub struct NewOrder<'a> {
    pub number: &'a str,
    pub channel: Channel,
    pub organization_id: Option<i64>,
    pub buyer_user_id: Option<i64>,
    pub buyer_name: &'a str,
    pub buyer_phone: &'a str,
    pub buyer_email: Option<&'a str>,
    pub delivery_address: &'a str,
    pub note: &'a str,
    pub payment_method: PaymentMethod,
    pub status: OrderStatus,
    pub total_fen: i64,
    pub token: &'a str,
    pub idempotency_key: &'a str,
    pub reserved_until: Option<NaiveDateTime>,
    pub business_date: NaiveDate,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub locale: &'a str,
    /// The organisation whose staff code the buyer gave (a personal order counted
    /// towards its target).
    pub staff_organization_id: Option<i64>,
    /// The livestream item whose link the order came through.
    pub live_item_id: Option<i64>,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = order_lines)]
pub struct OrderLine {
    pub id: i64,
    pub order_id: i64,
    pub product_id: i64,
    pub village_id: i64,
    pub quantity: i32,
    pub unit_price_fen: i64,
    pub line_total_fen: i64,
    pub product_name_zh: String,
    pub product_name_en: String,
    pub sale_unit_zh: String,
    pub sale_unit_en: String,
    pub refunded_quantity: i32,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = order_lines)]
pub struct NewOrderLine {
    pub order_id: i64,
    pub product_id: i64,
    pub village_id: i64,
    pub quantity: i32,
    pub unit_price_fen: i64,
    pub line_total_fen: i64,
    pub product_name_zh: String,
    pub product_name_en: String,
    pub sale_unit_zh: String,
    pub sale_unit_en: String,
}

/// Inserts an order and answers it as stored, in the one statement (`RETURNING`); `None`
/// if its number was already given (`ON CONFLICT DO NOTHING`: one statement where a
/// look-up first would be two, and in a flash sale every order's statements run one
/// after another). Any other UNIQUE it meets, the idempotency key's, is an error.
pub fn insert(conn: &mut DbConn, new: &NewOrder) -> QueryResult<Option<Order>> {
    macro_rules! insert {
        ($c:expr) => {
            diesel::insert_into(orders::table)
                .values(new)
                .on_conflict(orders::number)
                .do_nothing()
                .returning(Order::as_returning())
                .get_result($c)
                .optional()
        };
    }
    match conn {
        DbConn::Sqlite(c) => insert!(c),
        DbConn::Pg(c) => insert!(c),
    }
}

/// Inserts an order's lines (at most a few hundred) and answers them as stored, in order.
pub fn insert_lines(conn: &mut DbConn, lines: &[NewOrderLine]) -> QueryResult<Vec<OrderLine>> {
    // A multi-row `INSERT` is typed per backend (as in `insert_batched!`); the SQL is the same.
    // (`as_returning` is typed for one backend: the statement is built in each arm.)
    macro_rules! insert {
        () => {
            diesel::insert_into(order_lines::table)
                .values(lines)
                .returning(OrderLine::as_returning())
        };
    }
    let mut stored: Vec<OrderLine> = match conn {
        DbConn::Sqlite(c) => insert!().get_results(c)?,
        DbConn::Pg(c) => crate::db::Prepared::rows(insert!(), lines.len()).get_results(c)?,
    };
    stored.sort_by_key(|l| l.id);
    Ok(stored)
}

impl OrderLine {
    /// The units bought and not refunded: still to send, and still refundable.
    pub fn units_left(&self) -> i32 {
        self.quantity - self.refunded_quantity
    }
}

/// A step in an order's history. `from_status` and `to_status` are the text of an
/// `OrderStatus`, or of a `ShipmentStatus` for one village's step (the history holds both).
///
/// `None` is written as NULL, which each of these columns defaults to anyway: a statement
/// with a DEFAULT in it diesel would not keep prepared.
#[derive(Debug, Insertable)]
#[diesel(table_name = order_events, treat_none_as_default_value = false)]
pub struct NewOrderEvent<'a> {
    pub order_id: i64,
    /// The village whose part of the order the step concerns; `None` for the whole order.
    pub village_id: Option<i64>,
    pub from_status: Option<&'a str>,
    pub to_status: &'a str,
    pub actor_label: &'a str,
    pub note: Option<&'a str>,
    pub created_at: NaiveDateTime,
}

impl<'a> NewOrderEvent<'a> {
    /// A step of the whole order, without a note.
    pub fn step(
        order_id: i64,
        from_status: Option<&'a str>,
        to_status: &'a str,
        actor_label: &'a str,
        created_at: NaiveDateTime,
    ) -> NewOrderEvent<'a> {
        NewOrderEvent {
            order_id,
            village_id: None,
            from_status,
            to_status,
            actor_label,
            note: None,
            created_at,
        }
    }

    pub fn note(self, note: Option<&'a str>) -> NewOrderEvent<'a> {
        NewOrderEvent { note, ..self }
    }

    /// The step concerns this village's part of the order only.
    pub fn village(self, village_id: i64) -> NewOrderEvent<'a> {
        NewOrderEvent {
            village_id: Some(village_id),
            ..self
        }
    }
}

pub fn record_event(conn: &mut DbConn, event: &NewOrderEvent) -> QueryResult<usize> {
    diesel::insert_into(order_events::table)
        .values(event)
        .execute(conn)
}

pub fn by_token(conn: &mut DbConn, token: &str) -> QueryResult<Option<Order>> {
    orders::table
        .filter(orders::token.eq(token))
        .select(Order::as_select())
        .first(conn)
        .optional()
}

pub fn by_idempotency_key(conn: &mut DbConn, key: &str) -> QueryResult<Option<Order>> {
    orders::table
        .filter(orders::idempotency_key.eq(key))
        .select(Order::as_select())
        .first(conn)
        .optional()
}

pub fn lines(conn: &mut DbConn, order_id: i64) -> QueryResult<Vec<OrderLine>> {
    order_lines::table
        .filter(order_lines::order_id.eq(order_id))
        .order(order_lines::id)
        .select(OrderLine::as_select())
        .load(conn)
}

/// Unpaid orders (and canteen orders awaiting approval) whose reservation ran out, taken
/// for expiry. On PostgreSQL the rows are
/// locked and those another process holds are skipped, so two servers never expire the
/// same order; SQLite has one writer at a time anyway.
pub fn take_expired(conn: &mut DbConn, now: NaiveDateTime, limit: i64) -> QueryResult<Vec<Order>> {
    macro_rules! expired {
        () => {
            orders::table
                .filter(
                    orders::status
                        .eq_any([OrderStatus::PendingPayment, OrderStatus::AwaitingApproval]),
                )
                .filter(orders::reserved_until.lt(now))
                .order(orders::id)
                .limit(limit)
                .select(Order::as_select())
        };
    }
    match conn {
        DbConn::Pg(c) => expired!().for_update().skip_locked().load(c),
        DbConn::Sqlite(c) => expired!().load(c),
    }
}

/// Moves an order from `from` to `to`; `false` when it was no longer in `from`.
pub fn transition(
    conn: &mut DbConn,
    id: i64,
    from: OrderStatus,
    to: OrderStatus,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    let rows = diesel::update(orders::table.find(id).filter(orders::status.eq(from)))
        .set((orders::status.eq(to), orders::updated_at.eq(now)))
        .execute(conn)?;
    Ok(rows == 1)
}

/// What the team's order list is narrowed to.
#[derive(Debug, Clone, Default)]
pub struct OrderFilter {
    pub status: Option<OrderStatus>,
    pub channel: Option<Channel>,
    pub day: Option<NaiveDate>,
}

/// Orders with a line from one of `village_ids`, newest first.
pub fn touching_villages(
    conn: &mut DbConn,
    village_ids: &[i64],
    filter: &OrderFilter,
    limit: i64,
) -> QueryResult<Vec<Order>> {
    let with_lines = order_lines::table
        .filter(order_lines::village_id.eq_any(village_ids.to_vec()))
        .select(order_lines::order_id);
    let mut query = orders::table
        .filter(orders::id.eq_any(with_lines))
        .into_boxed();
    if let Some(status) = filter.status {
        query = query.filter(orders::status.eq(status));
    }
    if let Some(channel) = filter.channel {
        query = query.filter(orders::channel.eq(channel));
    }
    if let Some(day) = filter.day {
        query = query.filter(orders::business_date.eq(day));
    }
    query
        .order(orders::id.desc())
        .limit(limit)
        .select(Order::as_select())
        .load(conn)
}

/// The order, if one of its lines is from `village_ids`.
pub fn touching_villages_by_id(
    conn: &mut DbConn,
    village_ids: &[i64],
    id: i64,
) -> QueryResult<Option<Order>> {
    let with_lines = order_lines::table
        .filter(order_lines::village_id.eq_any(village_ids.to_vec()))
        .select(order_lines::order_id);
    orders::table
        .filter(orders::id.eq(id))
        .filter(orders::id.eq_any(with_lines))
        .select(Order::as_select())
        .first(conn)
        .optional()
}

/// Sets when an order's reserved stock goes back if it is not paid (`None`: never).
pub fn set_reservation(
    conn: &mut DbConn,
    id: i64,
    reserved_until: Option<NaiveDateTime>,
) -> QueryResult<usize> {
    diesel::update(orders::table.find(id))
        .set(orders::reserved_until.eq(reserved_until))
        .execute(conn)
}

/// The order, its row locked until the transaction ends (PostgreSQL), so that a payment
/// and a credit of the same order are written one after the other, each seeing the
/// other. SQLite's write transaction already holds the only write lock.
pub fn locked(conn: &mut DbConn, id: i64) -> QueryResult<Option<Order>> {
    match conn {
        DbConn::Pg(c) => orders::table
            .find(id)
            .select(Order::as_select())
            .for_update()
            .first(c)
            .optional(),
        DbConn::Sqlite(c) => orders::table
            .find(id)
            .select(Order::as_select())
            .first(c)
            .optional(),
    }
}

/// Clears an order's reservation deadline once it is paid.
pub fn clear_reservation(conn: &mut DbConn, id: i64) -> QueryResult<usize> {
    diesel::update(orders::table.find(id))
        .set(orders::reserved_until.eq(None::<NaiveDateTime>))
        .execute(conn)
}

/// A signed-in buyer's own orders, newest first.
pub fn of_buyer(conn: &mut DbConn, user_id: i64, limit: i64) -> QueryResult<Vec<Order>> {
    orders::table
        .filter(orders::buyer_user_id.eq(user_id))
        .order(orders::id.desc())
        .limit(limit)
        .select(Order::as_select())
        .load(conn)
}

pub fn by_id(conn: &mut DbConn, id: i64) -> QueryResult<Option<Order>> {
    orders::table
        .find(id)
        .select(Order::as_select())
        .first(conn)
        .optional()
}

pub fn by_provider_payment(conn: &mut DbConn, payment_id: &str) -> QueryResult<Option<Order>> {
    orders::table
        .filter(orders::provider_payment_id.eq(payment_id))
        .select(Order::as_select())
        .first(conn)
        .optional()
}

/// Records the provider checkout the buyer was sent to, and holds the order's stock
/// until that checkout closes (`reserved_until`), while the order awaits payment.
pub fn set_provider_session(
    conn: &mut DbConn,
    id: i64,
    session_id: &str,
    reserved_until: Option<NaiveDateTime>,
) -> QueryResult<usize> {
    diesel::update(
        orders::table
            .find(id)
            .filter(orders::status.eq(OrderStatus::PendingPayment)),
    )
    .set((
        orders::provider_session_id.eq(session_id),
        orders::reserved_until.eq(reserved_until),
    ))
    .execute(conn)
}

/// The payment of an order that has just moved to `paid`.
pub fn record_payment(
    conn: &mut DbConn,
    id: i64,
    paid_fen: i64,
    payment_id: Option<&str>,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(orders::table.find(id))
        .set((
            orders::paid_fen.eq(paid_fen),
            orders::provider_payment_id.eq(payment_id),
            orders::paid_at.eq(Some(now)),
            orders::reserved_until.eq(None::<NaiveDateTime>),
        ))
        .execute(conn)
}

/// Marks an order for the team's attention with the reason (a fluent key's suffix).
pub fn set_attention(conn: &mut DbConn, id: i64, reason: &str) -> QueryResult<usize> {
    diesel::update(orders::table.find(id))
        .set(orders::attention.eq(Some(reason)))
        .execute(conn)
}

pub fn add_refunded(
    conn: &mut DbConn,
    id: i64,
    amount_fen: i64,
    status: OrderStatus,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(orders::table.find(id))
        .set((
            orders::refunded_fen.eq(orders::refunded_fen + amount_fen),
            orders::status.eq(status),
            orders::updated_at.eq(now),
        ))
        .execute(conn)
}

/// Counts `quantity` more of a line as refunded, if `already` were refunded until now
/// and it stays within what was bought; `false` when another refund got there first.
pub fn refund_line_quantity(
    conn: &mut DbConn,
    line_id: i64,
    already: i32,
    quantity: i32,
) -> QueryResult<bool> {
    let rows = diesel::update(
        order_lines::table
            .find(line_id)
            .filter(order_lines::refunded_quantity.eq(already))
            .filter(order_lines::refunded_quantity.le(order_lines::quantity - quantity)),
    )
    .set(order_lines::refunded_quantity.eq(order_lines::refunded_quantity + quantity))
    .execute(conn)?;
    Ok(rows == 1)
}

/// Gives back `quantity` units counted as refunded by `refund_line_quantity` from
/// `already`, when the refund they were held for did not happen.
pub fn unrefund_line_quantity(
    conn: &mut DbConn,
    line_id: i64,
    already: i32,
    quantity: i32,
) -> QueryResult<bool> {
    let rows = diesel::update(
        order_lines::table
            .find(line_id)
            .filter(order_lines::refunded_quantity.eq(already + quantity)),
    )
    .set(order_lines::refunded_quantity.eq(already))
    .execute(conn)?;
    Ok(rows == 1)
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = order_events)]
pub struct OrderEvent {
    pub village_id: Option<i64>,
    /// An `OrderStatus`'s text, or a `ShipmentStatus`'s for a village's step.
    pub from_status: Option<String>,
    pub to_status: String,
    pub actor_label: String,
    pub note: Option<String>,
    pub created_at: NaiveDateTime,
}

pub fn events(conn: &mut DbConn, order_id: i64) -> QueryResult<Vec<OrderEvent>> {
    order_events::table
        .filter(order_events::order_id.eq(order_id))
        .order(order_events::id)
        .select(OrderEvent::as_select())
        .load(conn)
}
