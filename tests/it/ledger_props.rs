//! Property tests of the ledger (DESIGN §6.3): for any lots, any sales and any partial
//! refunds, the units go to the lots oldest first and never past what a lot holds, and
//! the money — household shares, collective shares, purchased goods, refunds — adds up
//! to the fen.
//!
//! The split and the allocation are reachable only through paying and refunding real
//! orders, so each case runs on a fresh copy of the demo database through the domain's
//! own functions (`orders::place`, `payments::mark_paid`, `refunds::plan`/`record`). A pure
//! entry point — the split of units `[a, b)` of a line, and a FIFO plan over a list of
//! lots — would let these run in memory, thousands of cases a second.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use diesel::RunQueryDsl;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use village_market::db::orders::{self as q, OrderLine};
use village_market::db::stock::NewStockLot;
use village_market::db::{self, Backend, DbConn};
use village_market::domain::actor::Who;
use village_market::domain::cart::Buyer;
use village_market::domain::cart::CartItem;
use village_market::domain::orders::{self, Checkout, CheckoutForm};
use village_market::domain::payments;
use village_market::domain::refunds::{self, RefundRequest, line_refund_fen};
use village_market::domain::stock::receive_lot;
use village_market::domain::{ledger, now_utc};
use village_market::states::PaymentMethod;

use crate::support::{Contents, FreshDatabase, scalar};

/// A lot received from one of the village's households (an index into them) on one of a
/// few days, so that lots received the same day are common.
#[derive(Debug, Clone)]
struct LotSpec {
    household: usize,
    quantity: i32,
    day: u32,
}

#[derive(Debug, Clone)]
enum Step {
    /// A guest buys `quantity` (fewer if the stock is short) and the team records the
    /// payment; the line's money is `total_fen` — one that the units need not divide, as
    /// a tier or a discount makes — split at `bp` basis points to the collective.
    Sale {
        quantity: i32,
        total_fen: i64,
        bp: u32,
    },
    /// `quantity` more units (fewer if fewer are left) of one of the paid lines come back.
    Refund {
        line: usize,
        quantity: i32,
        restock: bool,
    },
}

#[derive(Debug, Clone)]
struct Case {
    purchased: bool,
    lots: Vec<LotSpec>,
    /// Stock on sale that came through no lot.
    unlotted: i32,
    steps: Vec<Step>,
}

fn case() -> impl Strategy<Value = Case> {
    let lot = (0usize..6, 1i32..=12, 0u32..4).prop_map(|(household, quantity, day)| LotSpec {
        household,
        quantity,
        day,
    });
    let step = prop_oneof![
        (1i32..=12, 1i64..=3_000_000, 0u32..=10_000).prop_map(|(quantity, total_fen, bp)| {
            Step::Sale {
                quantity,
                total_fen,
                bp,
            }
        }),
        (0usize..8, 1i32..=12, any::<bool>()).prop_map(|(line, quantity, restock)| {
            Step::Refund {
                line,
                quantity,
                restock,
            }
        }),
    ];
    (
        any::<bool>(),
        prop::collection::vec(lot, 1..=5),
        prop_oneof![3 => Just(0i32), 1 => 1i32..=4],
        prop::collection::vec(step, 1..=8),
    )
        .prop_map(|(purchased, lots, unlotted, steps)| Case {
            purchased,
            lots,
            unlotted,
            steps,
        })
}

/// The money of units `[0, n)` of a line: the rule written in `domain::ledger`, cut
/// cumulatively so that the pieces of a line add up to it.
fn upto(total: i64, quantity: i32, n: i32) -> i64 {
    (i128::from(total) * i128::from(n) / i128::from(quantity)) as i64
}

/// (household's, collective's) money of units `[a, b)` of a line at `bp`.
fn split(total: i64, quantity: i32, bp: i32, a: i32, b: i32) -> (i64, i64) {
    let share = |n| (i128::from(upto(total, quantity, n)) * i128::from(bp) / 10_000) as i64;
    let amount = upto(total, quantity, b) - upto(total, quantity, a);
    let collective = share(b) - share(a);
    (amount - collective, collective)
}

/// What the model expects of a paid line.
struct ModelLine {
    line: OrderLine,
    bp: i32,
    /// (lot index, first unit, units), in the order of the units.
    allocations: Vec<(usize, i32, i32)>,
    refunded: i32,
}

struct ModelLot {
    id: i64,
    household: i64,
    received_on: NaiveDate,
    remaining: i32,
}

#[derive(diesel::QueryableByName, Debug)]
struct Entry {
    #[diesel(sql_type = diesel::sql_types::Text)]
    kind: String,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::BigInt>)]
    household_id: Option<i64>,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    quantity: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    amount_fen: i64,
}

fn entries_of_line(conn: &mut DbConn, line: i64) -> Vec<Entry> {
    diesel::sql_query(format!(
        "SELECT kind, household_id, CAST(quantity AS BIGINT) AS quantity, amount_fen \
         FROM ledger_entries WHERE order_line_id = {line} ORDER BY id"
    ))
    .load(conn)
    .expect("ledger entries")
}

fn ensure(ok: bool, what: impl FnOnce() -> String) -> Result<(), TestCaseError> {
    if ok {
        Ok(())
    } else {
        Err(TestCaseError::fail(what()))
    }
}

fn run_case(backend: Backend, case: &Case) -> Result<(), TestCaseError> {
    let database = FreshDatabase::with(backend, Contents::Demo);
    let pool = db::open_pool(&db::DatabaseUrl::parse(&database.url).expect("url"), 1)
        .expect("database opens");
    let conn = &mut *pool.get().expect("connection");
    let who = Who::tool("proptest");
    let now = now_utc();

    // 杨州窑村's flour, emptied of its demo stock, sold only as this case says.
    let product = scalar(
        conn,
        "SELECT p.id AS n FROM products p JOIN villages v ON v.id = p.village_id \
         WHERE v.slug = 'yangzhouyao' AND p.slug = 'huangmi-gaomian'",
    );
    let village = scalar(
        conn,
        &format!("SELECT village_id AS n FROM products WHERE id = {product}"),
    );
    let mode = if case.purchased {
        "purchased"
    } else {
        "consignment"
    };
    for sql in [
        format!("UPDATE stock_lots SET remaining = 0 WHERE product_id = {product}"),
        format!(
            "UPDATE products SET stock = {}, supply_mode = '{mode}', max_per_order = NULL, \
             min_per_order = 1 WHERE id = {product}",
            case.unlotted
        ),
        format!("DELETE FROM price_tiers WHERE product_id = {product}"),
        format!("UPDATE villages SET collective_share_bp = NULL WHERE id = {village}"),
    ] {
        diesel::sql_query(sql)
            .execute(conn)
            .expect("the case is set up");
    }
    let households: Vec<i64> = village_market::db::households::of_village(conn, village)
        .expect("households")
        .iter()
        .map(|h| h.id)
        .collect();

    let mut lots = Vec::new();
    for spec in &case.lots {
        let household = households[spec.household % households.len()];
        let received_on = NaiveDate::from_ymd_opt(2026, 3, 1 + spec.day).expect("date");
        let lot = NewStockLot {
            product_id: product,
            household_id: household,
            quantity: spec.quantity,
            remaining: spec.quantity,
            received_on,
            purchase_price_fen: case.purchased.then_some(1_234),
            recorded_by: None,
            created_at: now,
            idempotency_key: None,
        };
        let id = receive_lot(conn, &who, village, &lot, now).expect("lot received");
        lots.push(ModelLot {
            id,
            household,
            received_on,
            remaining: spec.quantity,
        });
    }
    let mut stock = case.unlotted + lots.iter().map(|l| l.remaining).sum::<i32>();

    let mut lines: Vec<ModelLine> = Vec::new();
    for (n, step) in case.steps.iter().enumerate() {
        match *step {
            Step::Sale {
                quantity,
                total_fen,
                bp,
            } => {
                let quantity = quantity.min(stock);
                if quantity == 0 {
                    continue;
                }
                let form = CheckoutForm {
                    name: "试验".into(),
                    phone: "13800138000".into(),
                    address: "大同市".into(),
                    payment_method: "bank_transfer".into(),
                    idempotency_key: format!("proptestcase{n:08}"),
                    ..CheckoutForm::default()
                };
                let items = [CartItem {
                    product_id: product,
                    quantity,
                }];
                let buyer = Buyer {
                    locale: "zh-CN".into(),
                    ..Buyer::default()
                };
                let placed = orders::place(
                    conn,
                    &items,
                    &buyer,
                    &form,
                    &[PaymentMethod::BankTransfer],
                    30,
                    now,
                )
                .expect("the order is placed");
                let Checkout::Placed(order) = placed else {
                    panic!("the lot holds the units ordered");
                };
                let order = &order.order;
                for sql in [
                    format!(
                        "UPDATE order_lines SET line_total_fen = {total_fen} WHERE order_id = {}",
                        order.id
                    ),
                    format!(
                        "UPDATE orders SET total_fen = {total_fen} WHERE id = {}",
                        order.id
                    ),
                ] {
                    diesel::sql_query(sql)
                        .execute(conn)
                        .expect("the line's money is set");
                }
                let order = q::by_id(conn, order.id).expect("order").expect("order");
                payments::mark_paid(conn, &who, &order, "T1", bp, now).expect("paid");
                stock -= quantity;

                // First in, first out: the oldest lot with goods (the first received of
                // a day first), as often as needed; what no lot holds is the collective's.
                let mut allocations = Vec::new();
                let mut unit = 0;
                while unit < quantity {
                    let Some(oldest) = (0..lots.len())
                        .filter(|&i| lots[i].remaining > 0)
                        .min_by_key(|&i| (lots[i].received_on, lots[i].id))
                    else {
                        break;
                    };
                    let take = lots[oldest].remaining.min(quantity - unit);
                    lots[oldest].remaining -= take;
                    allocations.push((oldest, unit, take));
                    unit += take;
                }
                let line = q::lines(conn, order.id).expect("lines").remove(0);
                lines.push(ModelLine {
                    line,
                    bp: if case.purchased { 10_000 } else { bp as i32 },
                    allocations,
                    refunded: 0,
                });
            }
            Step::Refund {
                line,
                quantity,
                restock,
            } => {
                let open: Vec<usize> = (0..lines.len())
                    .filter(|&i| lines[i].refunded < lines[i].line.quantity)
                    .collect();
                if open.is_empty() {
                    continue;
                }
                let model = &mut lines[open[line % open.len()]];
                let quantity = quantity.min(model.line.quantity - model.refunded);
                let order = q::by_id(conn, model.line.order_id)
                    .expect("order")
                    .expect("order");
                let request = RefundRequest {
                    quantities: vec![(model.line.id, quantity.to_string())],
                    restock,
                    reason: "proptest".into(),
                };
                let plan = refunds::plan(conn, &order, None, &request).expect("refund planned");
                refunds::record(conn, &who, &plan, None, now).expect("refund recorded");
                // Units [refunded, refunded + quantity) come back, into the lots they
                // were taken from when restocked.
                let (from, to) = (model.refunded, model.refunded + quantity);
                if restock {
                    stock += quantity;
                    for &(lot, first, units) in &model.allocations {
                        let back = to.min(first + units) - from.max(first);
                        if back > 0 {
                            lots[lot].remaining += back;
                        }
                    }
                }
                model.refunded = to;
            }
        }
    }

    // Every lot holds what the model says, and never less than nothing.
    for lot in &lots {
        let remaining = scalar(
            conn,
            &format!(
                "SELECT CAST(remaining AS BIGINT) AS n FROM stock_lots WHERE id = {}",
                lot.id
            ),
        );
        ensure(remaining == i64::from(lot.remaining), || {
            format!(
                "lot {}: {remaining} left, the model says {}",
                lot.id, lot.remaining
            )
        })?;
    }
    let on_sale = scalar(
        conn,
        &format!("SELECT CAST(stock AS BIGINT) AS n FROM products WHERE id = {product}"),
    );
    ensure(on_sale == i64::from(stock), || {
        format!("stock {on_sale}, the model says {stock}")
    })?;

    for model in &lines {
        let OrderLine {
            id,
            quantity,
            line_total_fen: total,
            ..
        } = model.line;
        // Oldest lot first, unit by unit as the model took them.
        let stored: Vec<(i64, i64, i32, i32)> = ledger_allocations(conn, id);
        let expected: Vec<(i64, i64, i32, i32)> = model
            .allocations
            .iter()
            .map(|&(lot, first, units)| (lots[lot].id, lots[lot].household, first, units))
            .collect();
        ensure(stored == expected, || {
            format!("line {id}: allocated {stored:?}, first in first out is {expected:?}")
        })?;
        let allocated: i32 = expected.iter().map(|a| a.3).sum();
        ensure(allocated <= quantity, || {
            format!("line {id}: {allocated} allocated of {quantity}")
        })?;

        let entries = entries_of_line(conn, id);
        let sale = |e: &&Entry| {
            ["household_share", "collective_share", "collective_sale"].contains(&e.kind.as_str())
        };
        let sold: i64 = entries.iter().filter(sale).map(|e| e.amount_fen).sum();
        ensure(sold == total, || {
            format!("line {id}: sale entries {sold}, the line {total}: {entries:?}")
        })?;
        let sold_units: i64 = entries.iter().filter(sale).map(|e| e.quantity).sum();
        ensure(sold_units == i64::from(quantity), || {
            format!("line {id}: {sold_units} units in the ledger of {quantity}")
        })?;
        ensure(
            entries.iter().filter(sale).all(|e| e.amount_fen >= 0),
            || format!("line {id}: a negative share {entries:?}"),
        )?;
        // No piece of a line is off its exact share by a fen or more.
        for a in ledger_amounts(conn, id) {
            let (units, amount) = a;
            let exact = i128::from(total) * i128::from(units);
            let off = (i128::from(amount) * i128::from(quantity) - exact).abs();
            ensure(off < i128::from(quantity), || {
                format!("line {id}: {units} units got {amount} of {total} for {quantity}")
            })?;
        }

        // Refunds: what the refunds recorded is what the ledger gave back, and adds up,
        // however it was cut, to the money of the units refunded.
        let refunded_fen = scalar(
            conn,
            &format!(
                "SELECT CAST(COALESCE(SUM(amount_fen), 0) AS BIGINT) AS n FROM refund_lines WHERE order_line_id = {id}"
            ),
        );
        let reversed: i64 = entries
            .iter()
            .filter(|e| !sale(e))
            .map(|e| e.amount_fen)
            .sum();
        ensure(refunded_fen == -reversed, || {
            format!("line {id}: refunds record {refunded_fen}, the ledger reversed {reversed}")
        })?;
        let whole = line_refund_fen(&model.line, 0, model.refunded);
        ensure(refunded_fen == whole, || {
            format!("line {id}: refunded {refunded_fen} in steps, {whole} at once")
        })?;
        if model.refunded == quantity {
            ensure(refunded_fen == total, || {
                format!("line {id}: all units back, {refunded_fen} of {total}")
            })?;
        }

        // Each household and the collective keep exactly their split of the units not
        // refunded: a refund reverses the very fen the sale posted.
        let mut expected: BTreeMap<Option<i64>, i64> = BTreeMap::new();
        let mut covered = 0;
        for &(lot, first, units) in &model.allocations {
            covered = first + units;
            let from = first.max(model.refunded);
            if from >= first + units {
                continue;
            }
            let (household, collective) = split(total, quantity, model.bp, from, first + units);
            if model.bp < 10_000 {
                *expected.entry(Some(lots[lot].household)).or_default() += household;
                *expected.entry(None).or_default() += collective;
            } else {
                *expected.entry(None).or_default() += household + collective;
            }
        }
        let from = covered.max(model.refunded);
        if from < quantity {
            *expected.entry(None).or_default() +=
                upto(total, quantity, quantity) - upto(total, quantity, from);
        }
        let mut kept: BTreeMap<Option<i64>, i64> = BTreeMap::new();
        for e in &entries {
            *kept.entry(e.household_id).or_default() += e.amount_fen;
        }
        kept.retain(|_, fen| *fen != 0);
        expected.retain(|_, fen| *fen != 0);
        ensure(kept == expected, || {
            format!("line {id}: kept {kept:?}, the split of the units left is {expected:?}")
        })?;
    }

    let problems = ledger::verify(conn).expect("verify");
    ensure(problems.is_empty(), || format!("verify: {problems:?}"))
}

fn ledger_allocations(conn: &mut DbConn, line: i64) -> Vec<(i64, i64, i32, i32)> {
    village_market::db::ledger::allocations_of_line(conn, line)
        .expect("allocations")
        .iter()
        .map(|a| (a.lot_id, a.household_id, a.first_unit, a.quantity))
        .collect()
}

/// (units, money) of each allocation of a line.
fn ledger_amounts(conn: &mut DbConn, line: i64) -> Vec<(i32, i64)> {
    village_market::db::ledger::allocations_of_line(conn, line)
        .expect("allocations")
        .iter()
        .map(|a| (a.quantity, a.amount_fen))
        .collect()
}

fn run(backend: Backend, cases: u32) {
    let config = Config {
        cases,
        // A failure prints its smallest case; nothing is written into the tree.
        failure_persistence: None,
        ..Config::default()
    };
    let mut runner = TestRunner::new(config);
    if let Err(e) = runner.run(&case(), |case| run_case(backend, &case)) {
        panic!("{e}");
    }
}

#[test]
fn any_lots_sales_and_refunds_add_up_to_the_fen_sqlite() {
    run(Backend::Sqlite, 40);
}

#[test]
fn any_lots_sales_and_refunds_add_up_to_the_fen_postgres() {
    run(Backend::Postgres, 12);
}

proptest! {
    #![proptest_config(Config { cases: 2_000, failure_persistence: None, ..Config::default() })]

    /// Refunding a line in any steps gives back its money to the fen: each step within
    /// a fen of its units' exact share, all steps together the line, never more.
    #[test]
    fn refunds_of_a_line_in_any_steps_add_up_to_the_line(
        total in 0i64..=100_000_000,
        cuts in prop::collection::vec(1i32..=50, 1..=12),
    ) {
        let quantity: i32 = cuts.iter().sum();
        let line = OrderLine {
            id: 1,
            order_id: 1,
            product_id: 1,
            village_id: 1,
            quantity,
            unit_price_fen: total / i64::from(quantity),
            line_total_fen: total,
            product_name_zh: String::new(),
            product_name_en: String::new(),
            sale_unit_zh: String::new(),
            sale_unit_en: String::new(),
            refunded_quantity: 0,
        };
        let mut already = 0;
        let mut back = 0;
        for units in cuts {
            let fen = line_refund_fen(&line, already, units);
            let exact = i128::from(total) * i128::from(units);
            prop_assert!((i128::from(fen) * i128::from(quantity) - exact).abs() < i128::from(quantity),
                "{units} units of {quantity} got {fen} of {total}");
            back += fen;
            already += units;
            prop_assert!(back <= total);
        }
        prop_assert_eq!(back, total);
    }
}
