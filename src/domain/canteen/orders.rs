//! The organisation's orders as its members see them (another organisation's order is not
//! there), an approver's decision on an order above the threshold (approve, or send back
//! with a reason, which returns its stock), and "order again" from a past order.

use chrono::NaiveDateTime;
use serde_json::json;

use crate::db::canteen::{self as q, CanteenOrder};
use crate::db::orders as oq;
use crate::db::orders::NewOrderEvent;
use crate::db::{DbConn, write_transaction};
use crate::domain::actor::{OrgScope, Who};
use crate::domain::audit::{self, Change};
use crate::domain::cart::{self, CartItem};
use crate::domain::error::{DomainError, DomainResult};
use crate::domain::notify;
use crate::domain::orders::{self, Order, OrderView};
use crate::domain::validation::{self as v, FieldErrors};
use crate::states::{OrderStatus, ProductStatus};

use super::DeliverySite;
use super::ordering::{Rules, payment_window};

/// Orders a page of the organisation's list holds.
pub const PAGE_SIZE: i64 = 50;

/// One of the organisation's orders in its list.
pub struct ListedOrder {
    pub order: Order,
    pub part: CanteenOrder,
    pub site: DeliverySite,
}

pub struct OrdersPage {
    pub orders: Vec<ListedOrder>,
    pub page: i64,
    pub pages: i64,
}

/// The organisation's orders, newest first, `PAGE_SIZE` a page (pages count from 1).
pub fn list(conn: &mut DbConn, scope: OrgScope, page: i64) -> DomainResult<OrdersPage> {
    let page = page.clamp(1, 100_000);
    let (rows, total) = q::orders_of(
        conn,
        scope.organization_id(),
        (page - 1) * PAGE_SIZE,
        PAGE_SIZE,
    )?;
    Ok(OrdersPage {
        orders: rows
            .into_iter()
            .map(|(order, part, site)| ListedOrder { order, part, site })
            .collect(),
        page,
        pages: ((total + PAGE_SIZE - 1) / PAGE_SIZE).max(1),
    })
}

/// A canteen order with everything its page shows (its site, date and decision are in
/// `view.canteen`).
pub struct CanteenOrderView {
    pub view: OrderView,
    /// The member who placed it and the approver who decided, by name.
    pub placed_by: String,
    pub decided_by: Option<String>,
    /// Whether this member may approve or send it back now.
    pub may_decide: bool,
}

fn in_scope(
    conn: &mut DbConn,
    scope: OrgScope,
    order_id: i64,
) -> DomainResult<(Order, CanteenOrder, DeliverySite)> {
    q::order_in(conn, scope.organization_id(), order_id)?.ok_or(DomainError::NotFound)
}

fn name_of(conn: &mut DbConn, user_id: i64) -> diesel::QueryResult<String> {
    Ok(crate::db::accounts::user_by_id(conn, user_id)?
        .map(|u| u.display_name)
        .unwrap_or_default())
}

/// One of the organisation's orders; another organisation's is not found.
pub fn one(conn: &mut DbConn, scope: OrgScope, order_id: i64) -> DomainResult<CanteenOrderView> {
    let (order, part, _) = in_scope(conn, scope, order_id)?;
    let may_decide = scope.is_approver() && order.status == OrderStatus::AwaitingApproval;
    let placed_by = name_of(conn, part.placed_by_user_id)?;
    let decided_by = match part.decided_by_user_id {
        Some(id) => Some(name_of(conn, id)?),
        None => None,
    };
    Ok(CanteenOrderView {
        view: orders::view(conn, order)?,
        placed_by,
        decided_by,
        may_decide,
    })
}

/// The order awaiting a decision, for an approver of its organisation; to anyone else it
/// is not there to decide.
fn awaiting_decision(conn: &mut DbConn, scope: OrgScope, order_id: i64) -> DomainResult<Order> {
    if !scope.is_approver() {
        return Err(DomainError::NotFound);
    }
    let (order, _, _) = in_scope(conn, scope, order_id)?;
    if order.status != OrderStatus::AwaitingApproval {
        return Err(DomainError::invalid(
            "decision",
            "invalid-order-not-awaiting-approval",
        ));
    }
    Ok(order)
}

/// An approver approves: the order goes on as if placed below the threshold — on
/// account its villages hear of it now, otherwise the buyer pays within the usual window.
pub fn approve(
    conn: &mut DbConn,
    who: &Who,
    approver_id: i64,
    scope: OrgScope,
    order_id: i64,
    rules: &Rules,
    now: NaiveDateTime,
) -> DomainResult<()> {
    let order = awaiting_decision(conn, scope, order_id)?;
    let (from, to) = (OrderStatus::AwaitingApproval, OrderStatus::PendingPayment);
    write_transaction(conn, |conn| {
        if q::record_decision(conn, order.id, approver_id, None, now)? != 1
            || !oq::transition(conn, order.id, from, to, now)?
        {
            return Err(DomainError::invalid(
                "decision",
                "invalid-order-not-awaiting-approval",
            ));
        }
        let reserved_until = payment_window(order.payment_method, rules, now);
        oq::set_reservation(conn, order.id, reserved_until)?;
        let step = NewOrderEvent::step(order.id, Some(from.as_str()), to.as_str(), &who.label, now);
        oq::record_event(conn, &step)?;
        let change = Change {
            action: "approve_order",
            entity: "order",
            entity_id: order.id,
            village_id: None,
            before: Some(json!({ "status": from })),
            after: Some(json!({ "status": to, "reserved_until": reserved_until })),
        };
        audit::record(conn, who, change, now)?;
        let order = oq::by_id(conn, order.id)?.ok_or(DomainError::NotFound)?;
        let lines = oq::lines(conn, order.id)?;
        notify::order_decided(conn, &order, &lines, None, now)?;
        Ok(())
    })
}

/// An approver sends the order back with a reason: it is cancelled and its stock returns.
pub fn send_back(
    conn: &mut DbConn,
    who: &Who,
    approver_id: i64,
    scope: OrgScope,
    order_id: i64,
    reason: &str,
    now: NaiveDateTime,
) -> DomainResult<()> {
    let order = awaiting_decision(conn, scope, order_id)?;
    let mut errors = FieldErrors::default();
    let reason = v::required_text(&mut errors, "reason", reason, 200);
    if !errors.is_empty() {
        return Err(errors.into());
    }
    write_transaction(conn, |conn| {
        if q::record_decision(conn, order.id, approver_id, Some(&reason), now)? != 1
            || !orders::release(conn, &order, OrderStatus::Cancelled, &who.label, now)?
        {
            return Err(DomainError::invalid(
                "decision",
                "invalid-order-not-awaiting-approval",
            ));
        }
        let change = Change {
            action: "send_back_order",
            entity: "order",
            entity_id: order.id,
            village_id: None,
            before: Some(json!({ "status": order.status })),
            after: Some(json!({ "status": OrderStatus::Cancelled, "reason": reason })),
        };
        audit::record(conn, who, change, now)?;
        let lines = oq::lines(conn, order.id)?;
        notify::order_decided(conn, &order, &lines, Some(&reason), now)?;
        Ok(())
    })
}

/// A past order's line as "order again" finds it today.
pub struct Reordered {
    pub product_id: i64,
    pub name_zh: String,
    pub name_en: String,
    pub quantity: i32,
    pub was_fen: i64,
    /// Today's canteen price at that quantity; `None`: no longer on sale.
    pub now_fen: Option<i64>,
}

/// The quantities of a past order, for the sheet, and what changed since: each line's
/// price then and now, and the products no longer on sale (left out of the quantities).
pub fn reorder(
    conn: &mut DbConn,
    scope: OrgScope,
    order_id: i64,
) -> DomainResult<(Vec<CartItem>, Vec<Reordered>)> {
    let (order, _, _) = in_scope(conn, scope, order_id)?;
    let past = oq::lines(conn, order.id)?;
    let items: Vec<CartItem> = past
        .iter()
        .map(|l| CartItem {
            product_id: l.product_id,
            quantity: l.quantity,
        })
        .collect();
    let priced = cart::price(conn, &items, true)?;
    let mut available = Vec::new();
    let mut changes = Vec::new();
    for line in &past {
        let now = priced
            .iter()
            .find(|p| p.product.id == line.product_id && p.product.status == ProductStatus::OnSale);
        if let Some(p) = now {
            available.push(CartItem {
                product_id: line.product_id,
                quantity: line.quantity,
            });
            if p.unit_price_fen == line.unit_price_fen {
                continue;
            }
        }
        changes.push(Reordered {
            product_id: line.product_id,
            name_zh: line.product_name_zh.clone(),
            name_en: line.product_name_en.clone(),
            quantity: line.quantity,
            was_fen: line.unit_price_fen,
            now_fen: now.map(|p| p.unit_price_fen),
        });
    }
    Ok((available, changes))
}
