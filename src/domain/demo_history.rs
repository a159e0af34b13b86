//! Three months of demo trade, so that a newcomer's reports are not empty: orders from
//! the storefront and the canteen placed, paid, allocated, a few refunded, and some
//! payouts — every one through the same functions a buyer's and a team's requests call.
//! Loaded by `serve --demo` and `village-market demo`; a second load changes nothing.

use chrono::{Duration, NaiveDateTime};

use crate::db::catalog as cat;
use crate::db::orders as q;
use crate::db::stock::products_of_villages;
use crate::db::{DbConn, accounts as acc};
use crate::domain::actor::{TeamScope, Who};
use crate::domain::cart::{Buyer, CartItem};
use crate::domain::demo::{self, DemoError};
use crate::domain::error::DomainError;
use crate::domain::orders::{self, Checkout, CheckoutForm};
use crate::domain::payouts::{self, PayoutForm};
use crate::domain::refunds::{self, RefundRequest};
use crate::domain::{china_date, money::format_yuan_plain, payments};
use crate::states::{PaymentMethod, PayoutMethod, ProductStatus};

const DAYS: i64 = 90;
const ORDERS: i64 = 72;
const KEY_PREFIX: &str = "demohistory";
/// The demo history's orders are one buyer's checkouts, as far as idempotency goes.
const DEMO_SCOPE: &str = "demo history";

/// What the history load did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct HistoryReport {
    pub orders: usize,
    pub refunds: usize,
    pub payouts: usize,
}

/// A small deterministic generator: the demo is the same every time it is loaded.
struct Dice(u64);

impl Dice {
    fn roll(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n.max(1)
    }
}

fn key(i: i64) -> String {
    format!("{KEY_PREFIX}{i:05}")
}

fn invalid(e: DomainError) -> DemoError {
    match e {
        DomainError::Database(e) => DemoError::Database(e),
        other => DemoError::Refused(format!("{other:?}")),
    }
}

/// Places, pays and partly refunds the demo orders of the last three months up to
/// `now`, then pays some households part of what they are owed; all or nothing.
pub fn load(
    conn: &mut DbConn,
    default_bp: u32,
    now: NaiveDateTime,
) -> Result<HistoryReport, DemoError> {
    demo::without_mail(conn, |conn| load_in(conn, default_bp, now))
}

fn load_in(
    conn: &mut DbConn,
    default_bp: u32,
    now: NaiveDateTime,
) -> Result<HistoryReport, DemoError> {
    let mut report = HistoryReport::default();
    if q::by_idempotency_key(conn, &orders::stored_idempotency_key(DEMO_SCOPE, &key(0)))?.is_some()
    {
        return Ok(report);
    }
    let villages: Vec<i64> = cat::villages(conn)?.iter().map(|v| v.id).collect();
    let products: Vec<i64> = products_of_villages(conn, &villages)?
        .iter()
        .filter(|p| p.status == ProductStatus::OnSale)
        .map(|p| p.id)
        .collect();
    if products.is_empty() {
        return Ok(report);
    }
    let organization = acc::organization_by_name(conn, &demo::organization_name()?)?;
    let canteen_user = acc::user_by_email(conn, "canteen@example.com")?;
    let team = Who::tool("demo loader (work team)");
    let methods = [PaymentMethod::BankTransfer, PaymentMethod::CashOnDelivery];
    let names = [
        "王秀英",
        "李建国",
        "张丽",
        "刘强",
        "陈静",
        "杨帆",
        "赵敏",
        "周涛",
    ];
    let mut dice = Dice(0x0dd5_eed5_2026);
    for i in 0..ORDERS {
        let at = now - Duration::days(DAYS)
            + Duration::minutes(i * DAYS * 24 * 60 / ORDERS)
            + Duration::hours(2);
        let canteen = i % 4 == 3 && organization.is_some();
        let lines = 1 + dice.roll(2) as usize;
        let mut items: Vec<CartItem> = Vec::new();
        for _ in 0..lines {
            let product_id = products[dice.roll(products.len() as u64) as usize];
            if items.iter().any(|c| c.product_id == product_id) {
                continue;
            }
            let quantity = if canteen {
                4 + dice.roll(6)
            } else {
                1 + dice.roll(3)
            } as i32;
            items.push(CartItem {
                product_id,
                quantity,
            });
        }
        let buyer = Buyer {
            user_id: canteen
                .then(|| canteen_user.as_ref().map(|u| u.id))
                .flatten(),
            organization_id: canteen
                .then(|| organization.as_ref().map(|o| o.id))
                .flatten(),
            locale: "zh-CN".into(),
            checkout_scope: DEMO_SCOPE.into(),
        };
        let name = names[dice.roll(names.len() as u64) as usize];
        let form = CheckoutForm {
            name: if canteen {
                "李采购".into()
            } else {
                name.into()
            },
            phone: format!("139{:08}", 35_200_000 + i),
            address: "大同市平城区（演示地址）".into(),
            email: String::new(),
            note: String::new(),
            payment_method: methods[usize::from(i % 5 == 4)].as_str().into(),
            idempotency_key: key(i),
            // Some staff of the demo canteen buy for themselves with its staff code.
            staff_code: match (&organization, canteen || i % 6 != 1) {
                (Some(org), false) => org.staff_code.clone().unwrap_or_default(),
                _ => String::new(),
            },
        };
        let order = match orders::place(conn, &items, &buyer, &form, &methods, 30, at) {
            Ok(Checkout::Placed(placed) | Checkout::Repeated(placed)) => placed.order,
            // A product ran short in the demo's dice: that buyer bought nothing.
            Ok(Checkout::Refused(_)) => continue,
            Err(e) => return Err(invalid(e)),
        };
        report.orders += 1;
        let paid_at = at + Duration::hours(3);
        payments::mark_paid(
            conn,
            &team,
            &order,
            &format!("DEMO-{i:05}"),
            default_bp,
            paid_at,
        )
        .map_err(invalid)?;
        if i % 9 == 5 {
            let paid = q::by_id(conn, order.id)?.ok_or(diesel::result::Error::NotFound)?;
            let first = q::lines(conn, order.id)?;
            let Some(line) = first.first() else { continue };
            let request = RefundRequest {
                quantities: vec![(line.id, "1".into())],
                restock: i % 2 == 1,
                reason: "演示：买家反映包装破损".into(),
            };
            let plan = refunds::plan(conn, &paid, None, &request).map_err(invalid)?;
            refunds::record(conn, &team, &plan, None, paid_at + Duration::days(2))
                .map_err(invalid)?;
            report.refunds += 1;
        }
    }
    let payday = now - Duration::days(3);
    // The demo's work team is bound to every village.
    let scope = TeamScope::new(villages);
    let owed = payouts::owed(conn, &scope).map_err(invalid)?;
    for (n, owed) in owed.into_iter().enumerate() {
        if owed.balance_fen <= 0 || n % 2 == 1 {
            continue;
        }
        let form = PayoutForm {
            household_id: owed.household.id.to_string(),
            amount: format_yuan_plain((owed.balance_fen / 2).max(1)),
            method: PayoutMethod::Cash.as_str().into(),
            reference: String::new(),
            paid_on: china_date(payday).to_string(),
        };
        payouts::record(conn, &team, &scope, &form, payday).map_err(invalid)?;
        report.payouts += 1;
    }
    Ok(report)
}
