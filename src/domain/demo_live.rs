//! The demo's livestreams in 杨州窑村: one three evenings ago that sold out its 黄米糕面
//! quota to viewers' phones (paid, one order refunded, the host's commission posted to
//! the ledger), and one scheduled for tomorrow evening. Every step goes through the
//! functions a team's and a viewer's requests call, at the times they would have
//! happened. Loaded after `demo_history`; a second load changes nothing.

use chrono::{Duration, NaiveDateTime};

use crate::db::orders as oq;
use crate::db::{DbConn, catalog as cat, live as lq, stock};
use crate::domain::actor::{TeamScope, Who};
use crate::domain::cart::Buyer;
use crate::domain::demo::{self, DemoError};
use crate::domain::error::DomainError;
use crate::domain::live::{self, ItemForm, LiveOrderForm, SessionForm, SessionStep};
use crate::domain::money::format_yuan_plain;
use crate::domain::orders::Checkout;
use crate::domain::refunds::{self, RefundRequest};
use crate::domain::{china_date, china_start, china_time, payments};
use crate::states::PaymentMethod;

/// What the demo livestreams' load did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct LiveReport {
    pub sessions: usize,
    pub orders: usize,
}

/// The past session's quota of 黄米糕面, and how many each viewer bought.
const QUOTA: i32 = 24;
const EACH: [i32; 10] = [3, 2, 3, 1, 3, 2, 3, 2, 3, 2];

fn invalid(e: DomainError) -> DemoError {
    match e {
        DomainError::Database(e) => DemoError::Database(e),
        other => DemoError::Refused(format!("{other:?}")),
    }
}

fn typed(t: NaiveDateTime) -> String {
    china_time(t).format("%Y-%m-%dT%H:%M").to_string()
}

pub fn load(
    conn: &mut DbConn,
    default_bp: u32,
    now: NaiveDateTime,
) -> Result<LiveReport, DemoError> {
    demo::without_mail(conn, |conn| load_in(conn, default_bp, now))
}

fn load_in(
    conn: &mut DbConn,
    default_bp: u32,
    now: NaiveDateTime,
) -> Result<LiveReport, DemoError> {
    let mut report = LiveReport::default();
    let Some(village) = cat::villages(conn)?
        .into_iter()
        .find(|v| v.slug == "yangzhouyao")
    else {
        return Ok(report);
    };
    if !lq::sessions_of(conn, &[village.id])?.is_empty() {
        return Ok(report);
    }
    let Some(flour) = stock::products_of_villages(conn, &[village.id])?
        .into_iter()
        .find(|p| p.slug == "huangmi-gaomian")
    else {
        return Ok(report);
    };
    let scope = TeamScope::new(vec![village.id]);
    let team = Who::tool("demo loader (work team)");
    let session_form = |title: &str, start: NaiveDateTime| SessionForm {
        village_id: village.id.to_string(),
        title: title.into(),
        platform: "douyin".into(),
        host_name: "杨州窑村 李书记".into(),
        host_commission: "5".into(),
        starts_at: typed(start),
        ends_at: typed(start + Duration::hours(2)),
    };
    let item_form = ItemForm {
        product_id: flour.id.to_string(),
        live_price: format_yuan_plain(flour.unit_price_fen * 9 / 10),
        quota: QUOTA.to_string(),
        per_buyer_limit: "3".into(),
    };

    // Three evenings ago, 19:30 China time: prepared that afternoon, sold out on air.
    let start = china_start(china_date(now) - Duration::days(3)) + Duration::minutes(19 * 60 + 30);
    let prepared = start - Duration::hours(3);
    let past = session_form("石磨黄米糕面直播专场", start);
    let id = live::create_session(conn, &team, &scope, &past, prepared).map_err(invalid)?;
    live::add_item(conn, &team, &scope, id, &item_form, prepared).map_err(invalid)?;
    live::take_step(conn, &team, &scope, id, SessionStep::Start, start).map_err(invalid)?;
    report.sessions += 1;
    let code = lq::items_of(conn, id)?
        .into_iter()
        .next()
        .map(|(item, _)| item.code)
        .ok_or(diesel::result::Error::NotFound)?;
    let methods = [PaymentMethod::BankTransfer];
    let mut placed = Vec::new();
    for (i, quantity) in EACH.into_iter().enumerate() {
        let at = start + Duration::minutes(3 + 4 * i as i64);
        let buyer = Buyer {
            user_id: None,
            organization_id: None,
            locale: "zh-CN".into(),
            checkout_scope: "demo livestream".into(),
        };
        let form = LiveOrderForm {
            quantity: quantity.to_string(),
            name: format!("观众{}", i + 1),
            phone: format!("1370000{:04}", 2600 + i),
            address: "大同市平城区（演示地址）".into(),
            payment_method: PaymentMethod::BankTransfer.as_str().into(),
            idempotency_key: format!("demolivestream{i:04}"),
        };
        match live::buy(conn, &code, &form, &buyer, &methods, 10, at).map_err(invalid)? {
            Checkout::Placed(order) | Checkout::Repeated(order) => placed.push((order.order, at)),
            Checkout::Refused(_) => {
                return Err(DemoError::Refused("the demo livestream sold short".into()));
            }
        }
    }
    for (i, (order, at)) in placed.iter().enumerate() {
        let reference = format!("DEMO-LIVE-{i:03}");
        payments::mark_paid(
            conn,
            &team,
            order,
            &reference,
            default_bp,
            *at + Duration::minutes(5),
        )
        .map_err(invalid)?;
        report.orders += 1;
    }
    live::take_step(
        conn,
        &team,
        &scope,
        id,
        SessionStep::End,
        start + Duration::hours(2),
    )
    .map_err(invalid)?;
    // The next day one viewer sends a bag back: refunded, the commission on it taken back.
    if let Some((order, _)) = placed.first() {
        let paid = oq::by_id(conn, order.id)?.ok_or(diesel::result::Error::NotFound)?;
        let line = oq::lines(conn, order.id)?
            .into_iter()
            .next()
            .ok_or(diesel::result::Error::NotFound)?;
        let request = RefundRequest {
            quantities: vec![(line.id, "1".into())],
            restock: false,
            reason: "演示：快递途中破袋".into(),
        };
        let plan = refunds::plan(conn, &paid, None, &request).map_err(invalid)?;
        refunds::record(conn, &team, &plan, None, start + Duration::days(1)).map_err(invalid)?;
    }

    // Tomorrow, 19:30 China time: announced, its quota taken from the stock when it starts.
    let tomorrow =
        china_start(china_date(now) + Duration::days(1)) + Duration::minutes(19 * 60 + 30);
    let next = session_form("杨州窑村年货直播", tomorrow);
    let id = live::create_session(conn, &team, &scope, &next, now).map_err(invalid)?;
    live::add_item(conn, &team, &scope, id, &item_form, now).map_err(invalid)?;
    live::take_step(conn, &team, &scope, id, SessionStep::Schedule, now).map_err(invalid)?;
    report.sessions += 1;
    Ok(report)
}
