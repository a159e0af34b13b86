//! The demo canteen's last two months on account, so that a newcomer finds its whole
//! cycle: quick orders placed on the sheet, delivered by the villages and accepted (one
//! unit rejected), a monthly statement for each month — the older one paid, its orders
//! posted to the households — and a standing order for the weeks ahead. Every step goes
//! through the functions a member's, a team's and the city office's requests call, at
//! the times they would have happened. Loaded after `demo_history`; a second load
//! changes nothing.

use chrono::{Duration, Months, NaiveDate, NaiveDateTime};

use crate::db::canteen_statements as st;
use crate::db::ledger::month_of;
use crate::db::stock::products_of_villages;
use crate::db::{DbConn, accounts as acc, canteen as cq, catalog as cat, shipments};
use crate::domain::actor::{OrgScope, TeamScope, Who};
use crate::domain::canteen::acceptance::{self, LineAcceptance};
use crate::domain::canteen::ordering::{self, OrderForm, Orderer, Rules};
use crate::domain::canteen::standing::{self, StandingForm};
use crate::domain::canteen::statements::{self, PaymentForm};
use crate::domain::demo::{self, DemoError};
use crate::domain::error::DomainError;
use crate::domain::fulfilment::{self, Part, ShipForm, Step};
use crate::domain::money::format_yuan_plain;
use crate::domain::orders::Checkout;
use crate::domain::team::delivery_weekdays;
use crate::domain::{china_date, china_start};
use crate::states::PaymentMethod;

/// What the demo canteen's load did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct CanteenReport {
    pub orders: usize,
    pub statements: usize,
    pub standing_orders: usize,
}

/// The demo canteen's weekly buys: (product slug, how many canteen minimums).
const BASKET: [(&str, i32); 3] = [("xiaomi", 2), ("huangmi-gaomian", 1), ("jidan", 1)];

fn invalid(e: DomainError) -> DemoError {
    match e {
        DomainError::Database(e) => DemoError::Database(e),
        other => DemoError::Refused(format!("{other:?}")),
    }
}

/// The first day from `from` on when every one of `masks` (delivery weekdays) delivers.
fn next_delivery_day(from: NaiveDate, masks: &[String]) -> NaiveDate {
    use chrono::Datelike;
    let mut day = from;
    for _ in 0..14 {
        let weekday = day.weekday().number_from_monday();
        if masks
            .iter()
            .all(|m| delivery_weekdays(m).contains(&weekday))
        {
            return day;
        }
        day += Duration::days(1);
    }
    from
}

/// Loads the demo canteen's two months before `now`, its statements and a standing order;
/// nothing when its organisation is missing or already has a statement. All or nothing,
/// and without mail: like the history, it is months old.
pub fn load(
    conn: &mut DbConn,
    default_bp: u32,
    now: NaiveDateTime,
) -> Result<CanteenReport, DemoError> {
    demo::without_mail(conn, |conn| load_in(conn, default_bp, now))
}

fn load_in(
    conn: &mut DbConn,
    default_bp: u32,
    now: NaiveDateTime,
) -> Result<CanteenReport, DemoError> {
    let mut report = CanteenReport::default();
    let Some(org) = acc::organization_by_name(conn, &demo::organization_name()?)? else {
        return Ok(report);
    };
    if !st::of_organization(conn, org.id)?.is_empty() {
        return Ok(report);
    }
    let (Some(buyer), Some(site)) = (
        acc::user_by_email(conn, "canteen@example.com")?,
        cq::sites_of(conn, org.id)?.into_iter().find(|s| !s.retired),
    ) else {
        return Ok(report);
    };
    let Some((_, role)) = acc::membership(conn, buyer.id)? else {
        return Ok(report);
    };
    let scope = OrgScope::new(org.id, role);
    let member = Who {
        user_id: Some(buyer.id),
        label: buyer.email.clone(),
        client_addr: None,
    };
    let orderer = Orderer {
        user_id: buyer.id,
        email: buyer.email.clone(),
        locale: buyer.locale.clone(),
        checkout_scope: "demo canteen".into(),
    };
    let villages = cat::villages(conn)?;
    let team_scope = TeamScope::new(villages.iter().map(|v| v.id).collect());
    let team = Who::tool("demo loader (work team)");
    let office = Who::tool("demo loader (city office)");
    let rules = Rules {
        shop_methods: vec![PaymentMethod::BankTransfer],
        reservation_minutes: 30,
        approval_hold_hours: 48,
    };
    let products = products_of_villages(conn, team_scope.village_ids())?;
    let mut basket = Vec::new();
    for (slug, minimums) in BASKET {
        if let Some(p) = products.iter().find(|p| p.slug == slug) {
            let village = villages.iter().find(|v| v.id == p.village_id);
            let mask = village
                .map(|v| v.delivery_weekdays.clone())
                .unwrap_or_default();
            basket.push((p.id, p.canteen_min_quantity * minimums, mask));
        }
    }
    let masks: Vec<String> = basket.iter().map(|(_, _, m)| m.clone()).collect();
    let this_month = month_of(china_date(now));
    let mut last_order = None;
    for (k, back) in [2u32, 1].into_iter().enumerate() {
        let Some(month) = this_month.checked_sub_months(Months::new(back)) else {
            continue;
        };
        for (n, day) in [2i64, 11, 19].into_iter().enumerate() {
            let at = china_start(month + Duration::days(day)) + Duration::hours(1);
            let delivery = next_delivery_day(china_date(at) + Duration::days(2), &masks);
            let form = OrderForm {
                quantities: basket
                    .iter()
                    .map(|(id, q, _)| (*id, q.to_string()))
                    .collect(),
                delivery_site: site.id.to_string(),
                delivery_date: delivery.to_string(),
                po_number: format!("CG-{}-{:02}", month.format("%Y%m"), n + 1),
                note: String::new(),
                payment_method: PaymentMethod::OnAccount.as_str().into(),
                idempotency_key: format!("democanteen{k:03}{n:03}"),
            };
            let placed = match ordering::place(conn, &member, &orderer, scope, &form, &rules, at) {
                Ok(Checkout::Placed(placed) | Checkout::Repeated(placed)) => placed,
                // Stock the demo's history bought up: that week the canteen ordered nothing.
                Ok(Checkout::Refused(_)) => continue,
                Err(e) => return Err(invalid(e)),
            };
            let order = placed.order.id;
            let arrived = china_start(delivery) + Duration::hours(7);
            for shipment in shipments::of_order(conn, order)? {
                let part = Part {
                    order_id: order,
                    village_id: shipment.village_id,
                };
                let ship = ShipForm {
                    carrier: "村里自送".into(),
                    tracking_number: format!("DEMO-{order}"),
                };
                for (step, when) in [
                    (Step::Pack, arrived - Duration::hours(20)),
                    (Step::Ship, arrived - Duration::hours(3)),
                    (Step::Deliver, arrived),
                ] {
                    fulfilment::advance(conn, &team, &team_scope, part, step, &ship, when)
                        .map_err(invalid)?;
                }
                // The first delivery of each month has one damaged unit in a line.
                let rejected: Vec<LineAcceptance> = placed
                    .lines
                    .iter()
                    .filter(|l| n == 0 && l.village_id == shipment.village_id)
                    .take(1)
                    .map(|l| LineAcceptance {
                        line_id: l.id,
                        accepted: (l.quantity - 1).to_string(),
                        rejected: "1".into(),
                        reason: "damaged".into(),
                    })
                    .collect();
                let village = shipment.village_id;
                let accepted_at = arrived + Duration::hours(2);
                acceptance::record(
                    conn,
                    &member,
                    buyer.id,
                    scope,
                    order,
                    village,
                    &rejected,
                    accepted_at,
                )
                .map_err(invalid)?;
            }
            report.orders += 1;
            last_order = Some(order);
        }
        let next = month + Months::new(1);
        let issued_at = china_start(next) + Duration::hours(1);
        report.statements += statements::issue_due(conn, default_bp, issued_at).map_err(invalid)?;
        // The older month's statement was paid by transfer ten days after it was issued.
        if k == 0 {
            if let Some(statement) = st::of_organization(conn, org.id)?.first() {
                let paid_on = next + Duration::days(10);
                let form = PaymentForm {
                    amount: format_yuan_plain(statement.total_fen),
                    bank_reference: format!("ICBC-DEMO-{}", month.format("%Y%m")),
                    paid_on: paid_on.to_string(),
                };
                statements::record_payment(
                    conn,
                    &office,
                    statement.id,
                    &form,
                    default_bp,
                    china_start(paid_on) + Duration::hours(3),
                )
                .map_err(invalid)?;
            }
        }
    }
    // The last order again every week, on the first two weekdays all its villages deliver.
    let weekdays: Vec<String> = (1..=7u32)
        .filter(|d| masks.iter().all(|m| delivery_weekdays(m).contains(d)))
        .take(2)
        .map(|d| d.to_string())
        .collect();
    if let (Some(order), false) = (last_order, weekdays.is_empty()) {
        let starts = next_delivery_day(china_date(now) + Duration::days(7), &masks);
        let form = StandingForm {
            every_weeks: "1".into(),
            weekdays,
            starts_on: starts.to_string(),
            ends_on: String::new(),
        };
        standing::create_from_order(conn, &member, buyer.id, scope, order, &form, now)
            .map_err(invalid)?;
        report.standing_orders += 1;
    }
    Ok(report)
}
