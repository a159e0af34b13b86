//! Which emails an event sends, to whom and with what data (ARCHITECTURE §6.4). Every function
//! here only writes to the outbox, inside the caller's transaction, so a message exists
//! exactly when the event that causes it was committed; `mail` renders and sends it.

use chrono::NaiveDateTime;
use diesel::QueryResult;
use serde_json::{Value, json};

use crate::db::DbConn;
use crate::db::catalog::Product;
use crate::db::live::{LiveItem, LiveSession};
use crate::db::live_hosts::ItemFigures;
use crate::db::orders::{Order, OrderLine};
use crate::db::{accounts, outbox};
use crate::domain::money::format_fen;
use crate::i18n::Lang;
use crate::states::{Channel, OrderStatus, PaymentMethod};

fn lines_json(lang: Lang, lines: &[&OrderLine]) -> Value {
    json!(
        lines
            .iter()
            .map(|l| json!({
                "name": lang.pick(&l.product_name_zh, &l.product_name_en),
                "unit": lang.pick(&l.sale_unit_zh, &l.sale_unit_en),
                "quantity": l.quantity,
                "line_total": format_fen(l.line_total_fen),
            }))
            .collect::<Vec<_>>()
    )
}

fn order_json(order: &Order, lang: Lang, lines: &[&OrderLine]) -> Value {
    json!({
        "number": order.number,
        "name": order.buyer_name,
        "total": format_fen(order.total_fen),
        "payment_method": lang.t(&format!("payment-{}", order.payment_method)),
        "address": order.delivery_address,
        "lines": lines_json(lang, lines),
        // A canteen's members follow their organisation's orders in their own area.
        "order_path": if order.channel == Channel::Canteen && order.buyer_user_id.is_some() {
            format!("/canteen/orders/{}", order.id)
        } else {
            format!("/orders/{}", order.token)
        },
    })
}

/// To the buyer, when they gave an email, in the language they bought in.
fn to_buyer(
    conn: &mut DbConn,
    order: &Order,
    template: &str,
    data: impl FnOnce(Lang) -> Value,
    now: NaiveDateTime,
) -> QueryResult<()> {
    let Some(email) = order.buyer_email.as_deref() else {
        return Ok(());
    };
    let lang = Lang::parse(&order.locale).unwrap_or_default();
    outbox::enqueue(
        conn,
        email,
        template,
        lang.code(),
        &data(lang).to_string(),
        now,
    )?;
    Ok(())
}

/// To the buyer, about the whole order.
fn whole_order_to_buyer(
    conn: &mut DbConn,
    order: &Order,
    lines: &[OrderLine],
    template: &str,
    now: NaiveDateTime,
) -> QueryResult<()> {
    let all: Vec<&OrderLine> = lines.iter().collect();
    to_buyer(
        conn,
        order,
        template,
        |lang| order_json(order, lang, &all),
        now,
    )
}

/// Cash on delivery and a canteen's order on account are sent before they are paid: their
/// villages' teams hear of them once they are placed (and approved, where that is
/// needed); every other order's teams when it is paid.
fn teams_hear_at_placement(order: &Order) -> bool {
    matches!(
        order.payment_method,
        PaymentMethod::CashOnDelivery | PaymentMethod::OnAccount
    ) && order.status != OrderStatus::AwaitingApproval
}

/// An order through a livestream link is not told to its team one by one: in a flash sale
/// that would be a message a second. The team watches them arrive on the live dashboard
/// and hears of them all at the session's end (`live_session_ended`).
fn teams_hear_of_it(order: &Order) -> bool {
    order.channel != Channel::Livestream
}

pub fn order_received(
    conn: &mut DbConn,
    order: &Order,
    lines: &[OrderLine],
    now: NaiveDateTime,
) -> QueryResult<()> {
    whole_order_to_buyer(conn, order, lines, "order_received", now)?;
    if teams_hear_of_it(order) && teams_hear_at_placement(order) {
        to_teams(conn, order, lines, now)?;
    }
    Ok(())
}

pub fn order_paid(
    conn: &mut DbConn,
    order: &Order,
    lines: &[OrderLine],
    now: NaiveDateTime,
) -> QueryResult<()> {
    whole_order_to_buyer(conn, order, lines, "order_paid", now)?;
    if teams_hear_of_it(order) && !teams_hear_at_placement(order) {
        to_teams(conn, order, lines, now)?;
    }
    Ok(())
}

/// To the team of every village in the order, with that village's lines only.
fn to_teams(
    conn: &mut DbConn,
    order: &Order,
    lines: &[OrderLine],
    now: NaiveDateTime,
) -> QueryResult<()> {
    let mut villages: Vec<i64> = lines.iter().map(|l| l.village_id).collect();
    villages.sort_unstable();
    villages.dedup();
    for (village_id, email, locale) in accounts::team_recipients(conn, &villages)? {
        let lang = Lang::parse(&locale).unwrap_or_default();
        let theirs: Vec<&OrderLine> = lines
            .iter()
            .filter(|l| l.village_id == village_id)
            .collect();
        let mut data = order_json(order, lang, &theirs);
        data["order_path"] = json!(format!("/team/orders/{}", order.id));
        data["phone"] = json!(order.buyer_phone);
        data["cod"] = json!(order.payment_method == PaymentMethod::CashOnDelivery);
        data["by_statement"] = json!(order.payment_method == PaymentMethod::OnAccount);
        outbox::enqueue(
            conn,
            &email,
            "team_new_order",
            lang.code(),
            &data.to_string(),
            now,
        )?;
    }
    Ok(())
}

/// To the team of a livestream session's village, once it has ended: each link's units
/// sold of its quota and its orders, and the session's `orders` and amount paid in all;
/// the orders themselves wait in the team's order list to be packed and sent.
pub fn live_session_ended(
    conn: &mut DbConn,
    session: &LiveSession,
    links: &[(LiveItem, Product, ItemFigures)],
    (orders, paid_fen): (i64, i64),
    now: NaiveDateTime,
) -> QueryResult<()> {
    for (_, email, locale) in accounts::team_recipients(conn, &[session.village_id])? {
        let lang = Lang::parse(&locale).unwrap_or_default();
        let data = json!({
            "title": session.title,
            "host": session.host_name,
            "links": links.iter().map(|(item, product, f)| json!({
                "number": item.number,
                "name": lang.pick(&product.name_zh, &product.name_en),
                "unit": lang.pick(&product.sale_unit_zh, &product.sale_unit_en),
                "sold": item.sold,
                "quota": item.quota,
                "orders": f.orders,
            })).collect::<Vec<_>>(),
            "orders": orders,
            "paid": format_fen(paid_fen),
            "report_path": format!("/team/live/{}/report", session.id),
        });
        outbox::enqueue(
            conn,
            &email,
            "live_session_ended",
            lang.code(),
            &data.to_string(),
            now,
        )?;
    }
    Ok(())
}

/// To the buyer: a village's part was sent; a canteen's mail links that part's delivery
/// note (送货单).
pub fn shipped(
    conn: &mut DbConn,
    order: &Order,
    village_id: i64,
    lines: &[&OrderLine],
    carrier: &str,
    tracking_number: &str,
    now: NaiveDateTime,
) -> QueryResult<()> {
    to_buyer(
        conn,
        order,
        "order_shipped",
        |lang| {
            let mut data = order_json(order, lang, lines);
            data["carrier"] = json!(carrier);
            data["tracking_number"] = json!(tracking_number);
            if order.channel == Channel::Canteen && order.buyer_user_id.is_some() {
                data["delivery_note_path"] = json!(format!(
                    "/canteen/orders/{}/villages/{village_id}/delivery-note",
                    order.id
                ));
            }
            data
        },
        now,
    )
}

pub fn refunded(
    conn: &mut DbConn,
    order: &Order,
    lines: &[&OrderLine],
    amount_fen: i64,
    now: NaiveDateTime,
) -> QueryResult<()> {
    to_buyer(
        conn,
        order,
        "order_refunded",
        |lang| {
            let mut data = order_json(order, lang, lines);
            data["amount"] = json!(format_fen(amount_fen));
            data
        },
        now,
    )
}

/// To a canteen's approvers (address, language): an order above the threshold waits for
/// one of them.
pub fn approval_needed(
    conn: &mut DbConn,
    order: &Order,
    lines: &[OrderLine],
    approvers: &[(String, String)],
    now: NaiveDateTime,
) -> QueryResult<()> {
    let all: Vec<&OrderLine> = lines.iter().collect();
    for (email, locale) in approvers {
        let lang = Lang::parse(locale).unwrap_or_default();
        let data = order_json(order, lang, &all);
        outbox::enqueue(
            conn,
            email,
            "canteen_approval_needed",
            lang.code(),
            &data.to_string(),
            now,
        )?;
    }
    Ok(())
}

/// To the canteen buyer: an approver approved the order, or sent it back with `reason`.
/// Once approved, an order on account goes to its villages' teams.
pub fn order_decided(
    conn: &mut DbConn,
    order: &Order,
    lines: &[OrderLine],
    sent_back: Option<&str>,
    now: NaiveDateTime,
) -> QueryResult<()> {
    let all: Vec<&OrderLine> = lines.iter().collect();
    let template = match sent_back {
        None => "canteen_order_approved",
        Some(_) => "canteen_order_sent_back",
    };
    to_buyer(
        conn,
        order,
        template,
        |lang| {
            let mut data = order_json(order, lang, &all);
            data["reason"] = json!(sent_back);
            data
        },
        now,
    )?;
    if sent_back.is_none() && teams_hear_at_placement(order) {
        to_teams(conn, order, lines, now)?;
    }
    Ok(())
}

/// To the village's team: the canteen recorded its acceptance of the village's part, with
/// the units it rejected and the credit they became.
pub fn acceptance_recorded(
    conn: &mut DbConn,
    order: &Order,
    village_id: i64,
    rejected: i32,
    credit_fen: i64,
    now: NaiveDateTime,
) -> QueryResult<()> {
    for (_, email, locale) in accounts::team_recipients(conn, &[village_id])? {
        let lang = Lang::parse(&locale).unwrap_or_default();
        let data = json!({
            "number": order.number,
            "rejected": rejected,
            "credit": format_fen(credit_fen),
            "order_path": format!("/team/orders/{}", order.id),
        });
        outbox::enqueue(
            conn,
            &email,
            "canteen_acceptance",
            lang.code(),
            &data.to_string(),
            now,
        )?;
    }
    Ok(())
}

/// To every member of a statement's organisation: it was issued (`canteen_statement_issued`)
/// or it is overdue (`canteen_statement_overdue`).
pub fn statement(
    conn: &mut DbConn,
    statement: &crate::db::canteen_statements::Statement,
    template: &str,
    now: NaiveDateTime,
) -> QueryResult<()> {
    for (user, _) in accounts::members_of(conn, statement.organization_id)? {
        let lang = Lang::parse(&user.locale).unwrap_or_default();
        let data = json!({
            "number": statement.number,
            "month": statement.month.format("%Y-%m").to_string(),
            "total": format_fen(statement.total_fen),
            "outstanding": format_fen(statement.outstanding_fen()),
            "due_date": statement.due_date.to_string(),
            "statement_path": format!("/canteen/statements/{}", statement.id),
        });
        outbox::enqueue(
            conn,
            &user.email,
            template,
            lang.code(),
            &data.to_string(),
            now,
        )?;
    }
    Ok(())
}

/// What became of one date of a standing order, for the organisation's members.
pub struct StandingRunNews<'a> {
    pub organization_id: i64,
    pub delivery_date: chrono::NaiveDate,
    /// The order placed, if one was.
    pub order_number: Option<&'a str>,
    /// Lines that got less than asked: `name_zh`, `name_en`, `wanted`, `got`.
    pub short: &'a [Value],
    /// Why nothing was placed: a message key and its arguments.
    pub reason: Option<(&'static str, &'a [(&'static str, String)])>,
}

/// To every member of the organisation: a standing order's date was placed (whole or
/// short, naming what was short) or could not be, and why.
pub fn standing_order_run(
    conn: &mut DbConn,
    run: &StandingRunNews,
    now: NaiveDateTime,
) -> QueryResult<()> {
    for (user, _) in accounts::members_of(conn, run.organization_id)? {
        let lang = Lang::parse(&user.locale).unwrap_or_default();
        let data = json!({
            "number": run.order_number,
            "delivery_date": run.delivery_date.to_string(),
            "short": run.short.iter().map(|s| json!({
                "name": lang.pick(s["name_zh"].as_str().unwrap_or(""), s["name_en"].as_str().unwrap_or("")),
                "wanted": s["wanted"], "got": s["got"],
            })).collect::<Vec<_>>(),
            "reason": run.reason.map(|(key, args)| lang.t_args(key, args)),
            "path": "/canteen/standing-orders",
        });
        outbox::enqueue(
            conn,
            &user.email,
            "canteen_standing_order",
            lang.code(),
            &data.to_string(),
            now,
        )?;
    }
    Ok(())
}

/// To a person who asked for a new password: the link that sets one, valid `minutes`.
pub fn password_reset(
    conn: &mut DbConn,
    email: &str,
    lang: Lang,
    name: &str,
    reset_path: &str,
    minutes: i64,
    now: NaiveDateTime,
) -> QueryResult<()> {
    let data = json!({ "name": name, "reset_path": reset_path, "minutes": minutes });
    outbox::enqueue(
        conn,
        email,
        "password_reset",
        lang.code(),
        &data.to_string(),
        now,
    )?;
    Ok(())
}
