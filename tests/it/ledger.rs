//! Household income: allocation to lots first in, first out, the ledger's split to the
//! fen, refunds reversed against the same households, payouts within the balance,
//! statements, the cadres' reports against figures worked out by hand, and `verify`.

use reqwest::StatusCode;
use village_market::db::stock::NewStockLot;
use village_market::domain::accounts::{NewAccount, create_account};
use village_market::domain::actor::Role;
use village_market::domain::actor::Who;
use village_market::domain::now_utc;
use village_market::domain::stock::receive_lot;
use village_market::i18n::Lang;

use crate::orders::buy;
use crate::stock::stock_of;
use crate::storefront::product_id;
use crate::support::{PASSWORD, TestApp, both_databases};

fn village(app: &TestApp, slug: &str) -> i64 {
    app.scalar(&format!(
        "SELECT id AS n FROM villages WHERE slug = '{slug}'"
    ))
}

/// Empties the flour's lots and records two of our own: 3 bags from the first household
/// of 杨州窑村 on 1 November, 5 from the second on 2 November. Returns the households.
fn two_lots_of_flour(app: &TestApp) -> (i64, i64, i64) {
    let flour = product_id(app, "huangmi-gaomian");
    let yzy = village(app, "yangzhouyao");
    app.execute(&format!(
        "UPDATE stock_lots SET remaining = 0 WHERE product_id = {flour}"
    ));
    app.execute(&format!("UPDATE products SET stock = 0 WHERE id = {flour}"));
    let first = app.scalar(&format!(
        "SELECT MIN(id) AS n FROM households WHERE village_id = {yzy}"
    ));
    let second = app.scalar(&format!(
        "SELECT MIN(id) AS n FROM households WHERE village_id = {yzy} AND id > {first}"
    ));
    for (household, quantity, day) in [(first, 3, 1), (second, 5, 2)] {
        let lot = NewStockLot {
            product_id: flour,
            household_id: household,
            quantity,
            remaining: quantity,
            received_on: chrono::NaiveDate::from_ymd_opt(2026, 11, day).expect("date"),
            purchase_price_fen: None,
            recorded_by: None,
            created_at: now_utc(),
            idempotency_key: None,
        };
        receive_lot(&mut app.conn(), &Who::tool("test"), yzy, &lot, now_utc()).expect("lot");
    }
    (flour, first, second)
}

/// A guest buys `quantity` bags of flour by bank transfer and the team records it paid.
fn paid_flour(app: &TestApp, quantity: &str) -> i64 {
    let res = buy(app, &[("huangmi-gaomian", quantity)], "bank_transfer", "");
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let order = app.scalar("SELECT MAX(id) AS n FROM orders");
    let team = app.signed_in("team@example.com");
    let page = format!("/team/orders/{order}");
    assert_eq!(
        team.submit(&page, &format!("{page}/paid"), &[("reference", "T1")])
            .status(),
        StatusCode::SEE_OTHER
    );
    order
}

fn income(app: &TestApp, household: i64) -> i64 {
    app.scalar(&format!("SELECT CAST(COALESCE(SUM(amount_fen), 0) AS BIGINT) AS n FROM ledger_entries WHERE household_id = {household}"))
}

fn collective(app: &TestApp) -> i64 {
    app.scalar("SELECT CAST(COALESCE(SUM(amount_fen), 0) AS BIGINT) AS n FROM ledger_entries WHERE kind IN ('collective_share', 'refund_collective') AND order_id IS NOT NULL")
}

/// `village-market verify` on the test's database: (succeeded, what it printed).
fn verify(app: &TestApp) -> (bool, String) {
    let out = crate::cli::village_market(&app.database.url, &app.database.dir, &["verify"])
        .output()
        .expect("verify runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

both_databases! {
    fn a_paid_line_is_allocated_first_in_first_out_and_split_to_the_fen(app) {
        let (flour, first, second) = two_lots_of_flour(app);
        let order = paid_flour(app, "4");
        // 4 × ¥38.00 = ¥152.00: 3 bags from the older lot, 1 from the newer.
        let allocated = |household: i64| app.scalar(&format!("SELECT CAST(COALESCE(SUM(quantity), 0) AS BIGINT) AS n FROM allocations WHERE household_id = {household}"));
        assert_eq!((allocated(first), allocated(second)), (3, 1));
        assert_eq!(app.scalar(&format!("SELECT CAST(SUM(remaining) AS BIGINT) AS n FROM stock_lots WHERE product_id = {flour}")), 4);
        // The collective's 10 % of each: ¥11.40 and ¥3.80.
        assert_eq!((income(app, first), income(app, second)), (10260, 3420));
        assert_eq!(collective(app), 1520);
        assert_eq!(income(app, first) + income(app, second) + collective(app), 15200, "the line, to the fen");

        // Two bags come back and go on sale again: the first household's units.
        let team = app.signed_in("team@example.com");
        let page = format!("/team/orders/{order}");
        let line = app.scalar(&format!("SELECT id AS n FROM order_lines WHERE order_id = {order}"));
        let res = team.submit(&page, &format!("{page}/refund"), &[(&format!("qty_{line}"), "2"), ("reason", "受潮"), ("restock", "on")]);
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        assert_eq!((income(app, first), income(app, second)), (10260 - 6840, 3420));
        assert_eq!(collective(app), 1520 - 760);
        assert_eq!(stock_of(app, flour), 8 - 4 + 2, "back on sale");
        assert_eq!(app.scalar(&format!("SELECT CAST(remaining AS BIGINT) AS n FROM stock_lots WHERE household_id = {first} AND product_id = {flour} AND quantity = 3")), 2, "into the lot they came from");
        // The rest of the line, an odd amount: shares still add up exactly.
        let res = team.submit(&page, &format!("{page}/refund"), &[(&format!("qty_{line}"), "2"), ("reason", "取消")]);
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        assert_eq!((income(app, first), income(app, second), collective(app)), (0, 0, 0));
        assert_eq!(app.count("ledger_entries WHERE amount_fen < 0 AND kind = 'refund_household'"), 3, "units 0–1, then 2 (first household) and 3 (second)");
        let (ok, text) = verify(app);
        assert!(ok, "{text}");
        // The database itself keeps the ledger append-only.
        for sql in ["UPDATE ledger_entries SET amount_fen = 0", "DELETE FROM ledger_entries"] {
            let refused = diesel::RunQueryDsl::execute(diesel::sql_query(sql), &mut *app.conn() as &mut village_market::db::DbConn);
            assert!(refused.as_ref().is_err_and(|e| e.to_string().contains("append-only")), "{sql}: {refused:?}");
        }

        // A total that no longer matches its entries is found.
        app.execute(&format!("UPDATE household_month_totals SET income_fen = income_fen + 1 WHERE household_id = {first}"));
        let (ok, text) = verify(app);
        assert!(!ok && text.contains("household month"), "{text}");
    }

    fn payouts_cannot_exceed_what_a_household_is_owed(app) {
        let (_, first, second) = two_lots_of_flour(app);
        paid_flour(app, "4");
        let team = app.signed_in("team@example.com");
        let pay = |household: i64, amount: &str, method: &str, reference: &str| {
            team.submit("/team/payouts", "/team/payouts", &[
                ("household_id", &household.to_string()), ("amount", amount), ("method", method),
                ("reference", reference), ("paid_on", ""),
            ])
        };
        let res = pay(second, "34.21", "cash", "");
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert!(res.text().unwrap_or_default().contains("¥34.20"), "the limit is named");
        assert_eq!(pay(second, "10", "bank", "").status(), StatusCode::UNPROCESSABLE_ENTITY, "a bank payout needs its reference");
        assert_eq!(pay(second, "-1", "cash", "").status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(pay(second, "1.234", "cash", "").status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(pay(second, "10", "gold", "").status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(app.count("payouts"), 0, "nothing written");
        assert_eq!(pay(second, "34.20", "cash", "").status(), StatusCode::SEE_OTHER);
        assert_eq!(income(app, second), 0, "paid in full");
        assert_eq!(pay(second, "0.01", "cash", "").status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(pay(first, "100.00", "wechat", "").status(), StatusCode::SEE_OTHER);
        assert_eq!(app.count("audit_log WHERE action = 'payout'"), 2);

        let history = team.text(&format!("/team/payouts/{first}")).1;
        assert!(history.contains("¥100.00") && history.contains("¥2.60"), "the payout and what is still owed");
        // Another village's team cannot pay this household.
        let taer = crate::households::taer_member(app);
        let res = taer.submit("/team/payouts", "/team/payouts", &[("household_id", &first.to_string()), ("amount", "1"), ("method", "cash")]);
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(taer.get(&format!("/team/payouts/{first}")).status(), StatusCode::NOT_FOUND);
        let (ok, text) = verify(app);
        assert!(ok, "{text}");

        // The household's statement: the sale, the payout, the balance.
        let today = village_market::domain::china_date(now_utc());
        let from = today.format("%Y-%m-01").to_string();
        let statement = team.text(&format!("/team/households/{first}/statement?from={from}&to={today}")).1;
        assert!(statement.contains("共富账单") && statement.contains("¥102.60") && statement.contains("-¥100.00") && statement.contains("¥2.60"), "{statement}");
        assert_eq!(team.get(&format!("/team/households/{first}/statement?from=tomorrow")).status(), StatusCode::BAD_REQUEST);
        assert_eq!(team.get(&format!("/team/households/{first}/statement?from=0000-01-01")).status(), StatusCode::BAD_REQUEST);
        // What people typed is text, also inside a translated sentence.
        app.execute(&format!("UPDATE households SET head_name = '<i>谢</i>' WHERE id = {first}"));
        let statement = team.text(&format!("/team/households/{first}/statement")).1;
        assert!(statement.contains("&lt;i&gt;谢&lt;/i&gt;") && !statement.contains("<i>谢"), "escaped in the heading");
    }

    fn a_random_run_of_orders_refunds_and_payouts_adds_up(app) {
        let team = app.signed_in("team@example.com");
        let products = ["huangmi-gaomian", "xiaomi", "jidan"];
        let mut seed: u64 = 0x5eed_1234_abcd;
        let mut next = |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        let mut orders = Vec::new();
        for _ in 0..12 {
            let slug = products[next(3) as usize];
            let quantity = (1 + next(4)).to_string();
            let res = buy(app, &[(slug, &quantity)], "bank_transfer", "");
            assert_eq!(res.status(), StatusCode::SEE_OTHER);
            let order = app.scalar("SELECT MAX(id) AS n FROM orders");
            if slug == "jidan" {
                // 塔儿村's eggs: their team records it.
                app.execute(&format!("UPDATE orders SET payment_method = 'cash_on_delivery' WHERE id = {order}"));
                let admin_who = Who::tool("test");
                let o = village_market::db::orders::by_id(&mut app.conn(), order).expect("order").expect("order");
                village_market::domain::payments::mark_paid(&mut app.conn(), &admin_who, &o, "", 1000, now_utc()).expect("paid");
            } else {
                let page = format!("/team/orders/{order}");
                assert_eq!(team.submit(&page, &format!("{page}/paid"), &[("reference", "R")]).status(), StatusCode::SEE_OTHER);
            }
            orders.push(order);
        }
        let refunded_orders: Vec<i64> = orders.iter().copied().filter(|_| next(2) == 0).collect();
        for order in refunded_orders {
            let line = app.scalar(&format!("SELECT id AS n FROM order_lines WHERE order_id = {order}"));
            let quantity = app.scalar(&format!("SELECT CAST(quantity AS BIGINT) AS n FROM order_lines WHERE id = {line}"));
            let plan = village_market::domain::refunds::RefundRequest {
                quantities: vec![(line, (1 + next(quantity as u64)).to_string())],
                restock: next(2) == 0,
                reason: "random".into(),
            };
            let o = village_market::db::orders::by_id(&mut app.conn(), order).expect("order").expect("order");
            let planned = village_market::domain::refunds::plan(&mut app.conn(), &o, None, &plan).expect("plan");
            village_market::domain::refunds::record(&mut app.conn(), &Who::tool("test"), &planned, None, now_utc()).expect("refund");
        }
        // What the team member of 谢店村 and 杨州窑村 is shown as owed.
        let user = app.scalar("SELECT id AS n FROM users WHERE email = 'team@example.com'");
        let actor = village_market::domain::accounts::load_actor(&mut app.conn(), user).expect("actor").expect("enabled");
        let village_market::domain::actor::Scope::Team(scope) = actor.scope else { panic!("a team member") };
        for owed in village_market::domain::payouts::owed(&mut app.conn(), &scope).expect("owed") {
            if owed.balance_fen > 0 && next(2) == 0 {
                let amount = 1 + next(owed.balance_fen as u64) as i64;
                let res = team.submit("/team/payouts", "/team/payouts", &[
                    ("household_id", &owed.household.id.to_string()),
                    ("amount", &format!("{}.{:02}", amount / 100, amount % 100)), ("method", "cash"),
                ]);
                assert_eq!(res.status(), StatusCode::SEE_OTHER);
            }
        }
        let paid = app.scalar("SELECT CAST(SUM(paid_fen) AS BIGINT) AS n FROM orders");
        let refunded = app.scalar("SELECT CAST(SUM(refunded_fen) AS BIGINT) AS n FROM orders");
        let shares = app.scalar("SELECT CAST(SUM(amount_fen) AS BIGINT) AS n FROM ledger_entries WHERE kind NOT IN ('purchase', 'payout')");
        assert!(paid > 0 && refunded > 0, "the run paid and refunded something: {paid} {refunded}");
        assert_eq!(paid - refunded, shares, "money in − refunds = household + collective shares");
        assert_eq!(
            app.scalar("SELECT CAST(SUM(income_fen) - SUM(payouts_fen) AS BIGINT) AS n FROM household_month_totals"),
            app.scalar("SELECT CAST(SUM(amount_fen) AS BIGINT) AS n FROM ledger_entries WHERE household_id IS NOT NULL"),
        );
        let (ok, text) = verify(app);
        assert!(ok, "{text}");
    }

    fn reports_show_the_hand_worked_figures_within_each_readers_scope(app) {
        let (_, first, second) = two_lots_of_flour(app);
        paid_flour(app, "4");
        let yzy = village(app, "yangzhouyao");
        let cadre = app.signed_in("cadre@example.com");
        let (code, page) = cadre.text(&format!("/reports/villages/{yzy}"));
        assert_eq!(code, StatusCode::OK);
        assert!(page.contains("¥102.60") && page.contains("¥34.20"), "each household's income");
        assert!(page.contains("<svg"), "the monthly chart, no script needed");
        assert!(page.contains("黄米糕面"), "top products");
        let phone: Option<String> = {
            #[derive(diesel::QueryableByName)]
            struct Row {
                #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
                phone: Option<String>,
            }
            let row: Row = diesel::RunQueryDsl::get_result(
                diesel::sql_query(format!("SELECT phone FROM households WHERE id = {first}")),
                &mut *app.conn() as &mut village_market::db::DbConn,
            ).expect("household");
            row.phone
        };
        // Every demo household has a phone: the check below always runs.
        let phone = phone.expect("the demo household has a phone");
        assert!(!page.contains(phone.as_str()), "phones are masked");
        assert!(page.contains(&format!("{}****{}", &phone[..3], &phone[phone.len() - 4..])));
        // Households that earned nothing are listed too.
        let households = app.scalar(&format!("SELECT COUNT(*) AS n FROM households WHERE village_id = {yzy} AND NOT archived"));
        assert_eq!(page.matches("/statement\"").count() as i64, households);

        let csv = cadre.get(&format!("/reports/villages/{yzy}?format=csv")).text().unwrap_or_default();
        assert!(csv.contains("102.60") && csv.contains("34.20") && !csv.contains(phone.as_str()));
        let poor = app.scalar(&format!("SELECT COUNT(*) AS n FROM households WHERE village_id = {yzy} AND NOT archived AND category = 'tuopin'"));
        let filtered = cadre.text(&format!("/reports/villages/{yzy}?category=tuopin")).1;
        // (`=` is written `&#x3D;` in the attribute, which browsers read back as `=`.)
        assert!(filtered.contains("category&#x3D;tuopin&amp;sort&#x3D;&amp;dir&#x3D;&amp;format=csv"), "the download keeps the page's filter");
        let csv_rows = cadre.get(&format!("/reports/villages/{yzy}?category=tuopin&format=csv")).text().unwrap_or_default().lines().count() as i64;
        assert_eq!((filtered.matches("/statement\"").count() as i64, csv_rows - 1), (poor, poor));
                let xlsx = cadre.get(&format!("/reports/villages/{yzy}?format=xlsx"));
        assert_eq!(xlsx.status(), StatusCode::OK);
        assert!(xlsx.bytes().expect("xlsx").starts_with(b"PK"), "an XLSX is a zip");
        let home = cadre.text("/reports").1;
        assert!(home.contains("¥152.00"), "the store's sales");
        assert!(home.contains("¥15.20"), "the collective's 10 %");
        assert_eq!(cadre.get("/reports?from=2026-13&to=2026-01").status(), StatusCode::BAD_REQUEST);
        assert_eq!(cadre.get(&format!("/reports/villages/{yzy}?category=rich")).status(), StatusCode::BAD_REQUEST);
        let statement = cadre.text(&format!("/reports/households/{first}/statement")).1;
        assert!(statement.contains("¥102.60"));

        // A cadre of another county, and a team of another village, read nothing here.
        let other = NewAccount {
            email: "yunzhou@example.com".into(), display_name: "云州区干部".into(), role: Role::Cadre,
            password: PASSWORD.into(), lang: Lang::ZhCn, village_slugs: vec![],
            county_slug: Some("yunzhou".into()), organization: None,
        };
        create_account(&mut app.conn(), &other, &Who::tool("test"), now_utc()).expect("account");
        let county_cadre = app.signed_in("yunzhou@example.com");
        assert_eq!(county_cadre.get(&format!("/reports/villages/{yzy}")).status(), StatusCode::NOT_FOUND);
        assert_eq!(county_cadre.get(&format!("/reports/households/{second}/statement")).status(), StatusCode::NOT_FOUND);
        let xinrong = app.scalar("SELECT id AS n FROM counties WHERE slug = 'xinrong'");
        assert_eq!(county_cadre.get(&format!("/reports/counties/{xinrong}")).status(), StatusCode::NOT_FOUND);
        assert!(!county_cadre.text("/reports").1.contains("¥152.00"));
        let taer = crate::households::taer_member(app);
        assert_eq!(taer.get(&format!("/reports/villages/{yzy}")).status(), StatusCode::NOT_FOUND);
        assert_eq!(taer.get(&format!("/reports/villages/{}", village(app, "taer"))).status(), StatusCode::OK);
        assert_eq!(app.signed_in("canteen@example.com").get("/reports").status(), StatusCode::FORBIDDEN);
    }
}
