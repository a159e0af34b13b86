//! Monthly statements (对账单) for organisations on account (月结). On the first of each
//! month (China time) the jobs loop issues one per organisation for the month before,
//! holding each of its on-account orders whose deliveries were all accepted by then, net
//! of the credits given on arrival; due after the organisation's payment days. The city
//! office, which receives the money into the platform's account, records each payment
//! with its bank reference: the statement's orders become paid oldest first, as far as
//! the money paid so far covers each one whole, and only then are they allocated to lots
//! and posted to the ledger, so households earn when the money arrives.

use std::collections::BTreeMap;

use chrono::{Duration, Months, NaiveDate, NaiveDateTime};
use serde_json::json;

use crate::db::accounts as acc;
use crate::db::canteen::{CanteenOrder, DeliverySite};
use crate::db::canteen_statements::{
    self as q, NewStatement, NewStatementPayment, StatementOrder, StatementPayment,
};
use crate::db::catalog as cat;
use crate::db::ledger::month_of;
use crate::db::orders::{self as oq, Order};
use crate::db::{DbConn, write_transaction};
use crate::domain::actor::{OrgScope, Who};
use crate::domain::audit::{self, Change};
use crate::domain::error::{DomainError, DomainResult};
use crate::domain::payments::{self, Received};
use crate::domain::validation::{self as v, FieldErrors};
use crate::domain::{china_date, china_start, notify};
use crate::states::OrderStatus;

pub use crate::db::canteen_statements::Statement;

/// The statement's number: `DZ` (对账), the month, the organisation.
fn number(month: NaiveDate, organization_id: i64) -> String {
    format!("DZ{}-{organization_id:04}", month.format("%Y%m"))
}

/// Issues every statement that is due at `now`: for the month before the current one, to
/// each organisation with on-account orders accepted by its end and on no statement yet.
/// Each organisation's statement for a month is issued once, however many processes run
/// this at the same time (the second one's insert finds the first one's). Returns how
/// many were issued.
pub fn issue_due(conn: &mut DbConn, default_bp: u32, now: NaiveDateTime) -> DomainResult<usize> {
    let this_month = month_of(china_date(now));
    let Some(month) = this_month.checked_sub_months(Months::new(1)) else {
        return Ok(0);
    };
    let billable = q::billable_orders(conn, china_start(this_month))?;
    let mut by_org: BTreeMap<i64, Vec<(i64, i64)>> = BTreeMap::new();
    for (order_id, org_id, total_fen) in billable {
        by_org
            .entry(org_id)
            .or_default()
            .push((order_id, total_fen));
    }
    let mut issued = 0;
    for (org_id, orders) in by_org {
        if issue(conn, org_id, month, this_month, &orders, default_bp, now)? {
            issued += 1;
        }
    }
    Ok(issued)
}

/// Issues one organisation's statement for `month` holding `orders` (id, total); `false`
/// if it already had one. A statement that comes to nothing (every unit rejected) is
/// paid as it is issued, and so are its orders.
fn issue(
    conn: &mut DbConn,
    org_id: i64,
    month: NaiveDate,
    issued_on: NaiveDate,
    orders: &[(i64, i64)],
    default_bp: u32,
    now: NaiveDateTime,
) -> DomainResult<bool> {
    let org = acc::organization_by_id(conn, org_id)?.ok_or(DomainError::NotFound)?;
    write_transaction(conn, |conn| {
        let ids: Vec<i64> = orders.iter().map(|(id, _)| *id).collect();
        let mut credited: BTreeMap<i64, i64> = BTreeMap::new();
        for (order_id, fen) in q::credits_by_order(conn, &ids)? {
            *credited.entry(order_id).or_default() += fen;
        }
        let (goods_fen, credits_fen) = orders.iter().fold((0, 0), |(g, c), (id, total)| {
            (g + total, c + credited.get(id).copied().unwrap_or(0))
        });
        let number = number(month, org.id);
        let new = NewStatement {
            organization_id: org.id,
            month,
            number: &number,
            issued_at: now,
            due_date: issued_on + Duration::days(i64::from(org.payment_terms_days)),
            goods_fen,
            credits_fen,
            total_fen: goods_fen - credits_fen,
        };
        let Some(id) = q::insert_statement(conn, &new)? else {
            return Ok(false);
        };
        let rows: Vec<StatementOrder> = orders
            .iter()
            .map(|(order_id, total)| {
                let credits = credited.get(order_id).copied().unwrap_or(0);
                StatementOrder {
                    order_id: *order_id,
                    statement_id: id,
                    goods_fen: *total,
                    credits_fen: credits,
                    amount_fen: total - credits,
                }
            })
            .collect();
        q::insert_orders(conn, &rows)?;
        let change = Change {
            action: "issue_statement",
            entity: "statement",
            entity_id: id,
            village_id: None,
            before: None,
            after: Some(json!({
                "organization_id": org.id, "number": number, "month": month,
                "orders": ids.len(), "goods_fen": goods_fen, "credits_fen": credits_fen,
                "total_fen": goods_fen - credits_fen, "due_date": new.due_date,
            })),
        };
        let who = Who::tool("statements");
        audit::record(conn, &who, change, now)?;
        if new.total_fen == 0 {
            q::add_paid(conn, id, 0, now)?;
        }
        let statement = q::by_id(conn, id)?.ok_or(DomainError::NotFound)?;
        if new.total_fen == 0 {
            settle_covered(conn, &who, &statement, 0, "", default_bp, now)?;
        }
        notify::statement(conn, &statement, "canteen_statement_issued", now)?;
        Ok(true)
    })
}

/// Tells the members of each organisation whose statement has passed its due date
/// unpaid, once per statement. Returns how many statements.
pub fn tell_overdue(conn: &mut DbConn, now: NaiveDateTime) -> DomainResult<usize> {
    let mut told = 0;
    for untold in q::overdue_untold(conn, china_date(now))? {
        told += write_transaction(conn, |conn| {
            if q::mark_overdue_told(conn, untold.id, now)? != 1 {
                return Ok::<_, DomainError>(0);
            }
            // As it stands now that it is held: a payment may have come in meanwhile.
            let statement = q::by_id(conn, untold.id)?.ok_or(DomainError::NotFound)?;
            notify::statement(conn, &statement, "canteen_statement_overdue", now)?;
            Ok(1)
        })?;
    }
    Ok(told)
}

/// One village's part of one order on a statement: the shipment it billed.
#[derive(Debug, Clone)]
pub struct BilledShipment {
    pub order: Order,
    pub part: CanteenOrder,
    pub site: DeliverySite,
    pub village_zh: String,
    pub village_en: String,
    pub goods_fen: i64,
    pub credits_fen: i64,
}

impl BilledShipment {
    pub fn amount_fen(&self) -> i64 {
        self.goods_fen - self.credits_fen
    }
}

/// A statement as its pages and downloads show it.
pub struct StatementView {
    pub statement: Statement,
    pub organization: acc::Organization,
    /// By delivery date, then order, then village.
    pub shipments: Vec<BilledShipment>,
    pub payments: Vec<StatementPayment>,
    /// The statement's orders already paid (by its payments).
    pub orders_paid: usize,
    pub orders: usize,
    /// The business date it was read on, which says whether it is overdue.
    pub today: NaiveDate,
}

fn view(
    conn: &mut DbConn,
    statement: Statement,
    now: NaiveDateTime,
) -> DomainResult<StatementView> {
    let organization =
        acc::organization_by_id(conn, statement.organization_id)?.ok_or(DomainError::NotFound)?;
    let orders = q::orders_of(conn, statement.id)?;
    let mut by_part: BTreeMap<(i64, i64), (i64, i64)> = BTreeMap::new();
    for (order_id, village_id, fen) in q::line_totals(conn, statement.id)? {
        by_part.entry((order_id, village_id)).or_default().0 += fen;
    }
    for (order_id, village_id, fen) in q::line_credits(conn, statement.id, statement.issued_at)? {
        by_part.entry((order_id, village_id)).or_default().1 += fen;
    }
    let villages = cat::villages(conn)?;
    let mut shipments = Vec::with_capacity(by_part.len());
    for (_, order, part, site) in &orders {
        for ((_, village_id), (goods, credits)) in
            by_part.range((order.id, i64::MIN)..=(order.id, i64::MAX))
        {
            let village = villages.iter().find(|v| v.id == *village_id);
            shipments.push(BilledShipment {
                order: order.clone(),
                part: part.clone(),
                site: site.clone(),
                village_zh: village.map(|v| v.name_zh.clone()).unwrap_or_default(),
                village_en: village.map(|v| v.name_en.clone()).unwrap_or_default(),
                goods_fen: *goods,
                credits_fen: *credits,
            });
        }
    }
    shipments.sort_by_key(|s| (s.part.delivery_date, s.order.id));
    let orders_paid = orders
        .iter()
        .filter(|(_, o, _, _)| o.status != OrderStatus::PendingPayment)
        .count();
    Ok(StatementView {
        today: china_date(now),
        payments: q::payments_of(conn, statement.id)?,
        organization,
        orders: orders.len(),
        orders_paid,
        shipments,
        statement,
    })
}

/// The organisation's statements, newest first, as its members see them.
pub fn of_organization(conn: &mut DbConn, scope: OrgScope) -> DomainResult<Vec<Statement>> {
    Ok(q::of_organization(conn, scope.organization_id())?)
}

/// One of the organisation's statements; another organisation's is not found.
pub fn for_member(
    conn: &mut DbConn,
    scope: OrgScope,
    id: i64,
    now: NaiveDateTime,
) -> DomainResult<StatementView> {
    let statement = q::by_id(conn, id)?
        .filter(|s| s.organization_id == scope.organization_id())
        .ok_or(DomainError::NotFound)?;
    view(conn, statement, now)
}

/// Every statement, newest first (only those not paid in full when `unpaid`), with its
/// organisation's name, for the city office.
pub fn all(conn: &mut DbConn, unpaid: bool) -> DomainResult<Vec<(Statement, String)>> {
    Ok(q::all(conn, unpaid, 500)?)
}

/// Any statement, for the city office.
pub fn for_admin(conn: &mut DbConn, id: i64, now: NaiveDateTime) -> DomainResult<StatementView> {
    let statement = q::by_id(conn, id)?.ok_or(DomainError::NotFound)?;
    view(conn, statement, now)
}

/// A payment of a statement as the city office types it.
#[derive(Debug, Clone, Default, serde::Deserialize, serde::Serialize)]
#[serde(default)]
pub struct PaymentForm {
    /// Yuan.
    pub amount: String,
    /// The bank's reference of the transfer (流水号).
    pub bank_reference: String,
    /// `YYYY-MM-DD`, the day the money arrived.
    pub paid_on: String,
}

/// Records a payment of a statement (all that is outstanding or a part), with the bank's
/// reference; then pays each of its orders, oldest first, that what has been paid so far
/// covers whole. Refused, naming the field, above what is outstanding, dated in the
/// future or before the month billed.
pub fn record_payment(
    conn: &mut DbConn,
    who: &Who,
    id: i64,
    form: &PaymentForm,
    default_bp: u32,
    now: NaiveDateTime,
) -> DomainResult<()> {
    let mut errors = FieldErrors::default();
    let amount = v::price_yuan(&mut errors, "amount", &form.amount);
    let reference = v::required_text(&mut errors, "bank_reference", &form.bank_reference, 64);
    let paid_on = v::date(&mut errors, "paid_on", &form.paid_on);
    write_transaction(conn, |conn| {
        let statement = q::locked(conn, id)?.ok_or(DomainError::NotFound)?;
        if let Some(day) = paid_on {
            if day > china_date(now) || day < statement.month {
                errors.add("paid_on", "invalid-paid-on");
            }
        }
        if q::payments_of(conn, statement.id)?
            .iter()
            .any(|p| p.bank_reference == reference)
        {
            errors.add("bank_reference", "invalid-payment-duplicate");
        }
        if let Some(fen) = amount {
            if fen > statement.outstanding_fen() {
                errors.add_with(
                    "amount",
                    "invalid-payment-over",
                    vec![(
                        "outstanding",
                        crate::domain::money::format_fen(statement.outstanding_fen()),
                    )],
                );
            }
        }
        let (Some(amount_fen), Some(paid_on)) = (amount, paid_on) else {
            return Err(errors.into());
        };
        if !errors.is_empty() {
            return Err(errors.into());
        }
        let payment_id = q::insert_payment(
            conn,
            &NewStatementPayment {
                statement_id: statement.id,
                amount_fen,
                bank_reference: &reference,
                paid_on,
                recorded_by_user_id: who.user_id,
                recorded_at: now,
            },
        )?;
        if q::add_paid(conn, statement.id, amount_fen, now)? != 1 {
            return Err(DomainError::invalid("amount", "invalid-payment-over"));
        }
        let paid_so_far = statement.paid_fen + amount_fen;
        let settled = settle_covered(
            conn,
            who,
            &statement,
            paid_so_far,
            &reference,
            default_bp,
            now,
        )?;
        let change = Change {
            action: "statement_payment",
            entity: "statement",
            entity_id: statement.id,
            village_id: None,
            before: Some(json!({ "paid_fen": statement.paid_fen })),
            after: Some(json!({
                "payment_id": payment_id, "amount_fen": amount_fen,
                "bank_reference": reference, "paid_on": paid_on,
                "paid_fen": paid_so_far, "orders_paid": settled,
            })),
        };
        audit::record(conn, who, change, now)?;
        Ok(())
    })
}

/// Pays the statement's unpaid orders, oldest first, while `paid_fen` (all paid of the
/// statement so far) covers each whole, beyond the orders it paid before. Returns how many
/// it paid now.
fn settle_covered(
    conn: &mut DbConn,
    who: &Who,
    statement: &Statement,
    paid_fen: i64,
    reference: &str,
    default_bp: u32,
    now: NaiveDateTime,
) -> DomainResult<usize> {
    let orders = q::orders_of(conn, statement.id)?;
    let mut left = paid_fen
        - orders
            .iter()
            .filter(|(_, o, _, _)| o.status != OrderStatus::PendingPayment)
            .map(|(s, _, _, _)| s.amount_fen)
            .sum::<i64>();
    let mut settled = 0;
    for (billed, order, _, _) in orders
        .iter()
        .filter(|(_, o, _, _)| o.status == OrderStatus::PendingPayment)
    {
        if billed.amount_fen > left {
            break;
        }
        let order = oq::locked(conn, order.id)?.ok_or(DomainError::NotFound)?;
        let received = Received {
            paid_fen: billed.amount_fen,
            payment_id: None,
            reference: (!reference.is_empty()).then_some(reference),
        };
        if payments::settle(conn, who, &order, &received, default_bp, now)? {
            settled += 1;
        }
        left -= billed.amount_fen;
    }
    Ok(settled)
}

/// Records (or clears, when empty) the invoice number (发票号) the village collective
/// issued for a statement.
pub fn set_invoice_number(
    conn: &mut DbConn,
    who: &Who,
    id: i64,
    number: &str,
    now: NaiveDateTime,
) -> DomainResult<()> {
    let mut errors = FieldErrors::default();
    let number = v::optional_text(&mut errors, "invoice_number", number, 40);
    errors.finish(())?;
    write_transaction(conn, |conn| {
        let statement = q::locked(conn, id)?.ok_or(DomainError::NotFound)?;
        q::set_invoice_number(conn, statement.id, number.as_deref())?;
        let change = Change {
            action: "statement_invoice",
            entity: "statement",
            entity_id: statement.id,
            village_id: None,
            before: Some(json!({ "invoice_number": statement.invoice_number })),
            after: Some(json!({ "invoice_number": number })),
        };
        audit::record(conn, who, change, now)?;
        Ok(())
    })
}
