//! Monthly statements (对账单), issue 10: the jobs loop issues one per organisation and
//! month, once, holding the on-account orders whose deliveries were accepted, less their
//! credits; the city office records payments, in parts, and the orders each covers become
//! paid and posted to the households; an overdue statement stops ordering on account;
//! another organisation's statement is a 404.

use chrono::{Duration, Months, NaiveDateTime};
use reqwest::StatusCode;

use crate::canteen::{DEMO_ORG, names_field, org_id, second_organisation};
use crate::canteen_orders::{deliver, ledger_of, place_canteen_order, verify_is_clean};
use crate::support::{TestApp, both_databases};
use village_market::db::ledger::month_of;
use village_market::domain::canteen::statements;
use village_market::domain::{china_date, china_start, now_utc};

/// An hour into next month, China time: when this month's statement is due to be issued.
pub fn next_month() -> NaiveDateTime {
    let this_month = month_of(china_date(now_utc()));
    china_start(this_month + Months::new(1)) + Duration::hours(1)
}

/// Places an order on account, delivers it and has the buyer accept it, rejecting
/// `rejected` units of its one line as damaged.
fn accepted_order(app: &TestApp, slug: &str, quantity: &str, rejected: i32) -> i64 {
    let id = place_canteen_order(
        app,
        "canteen@example.com",
        &[(slug, quantity)],
        "on_account",
    );
    let village = deliver(app, id, slug);
    let line = app.scalar(&format!(
        "SELECT id AS n FROM order_lines WHERE order_id = {id}"
    ));
    let buyer = app.signed_in("canteen@example.com");
    let page = format!("/canteen/orders/{id}");
    let sent: i32 = quantity.parse().expect("a quantity");
    let (accepted, rejected) = ((sent - rejected).to_string(), rejected.to_string());
    let res = buyer.submit(
        &page,
        &format!("{page}/villages/{village}/acceptance"),
        &[
            (&format!("accepted-{line}"), &accepted),
            (&format!("rejected-{line}"), &rejected),
            (
                &format!("reason-{line}"),
                if rejected == "0" { "" } else { "damaged" },
            ),
        ],
    );
    assert_eq!(res.status(), StatusCode::SEE_OTHER, "accepted");
    id
}

/// The households' income as the reports' monthly totals hold it.
fn month_income(app: &TestApp) -> i64 {
    app.scalar(
        "SELECT CAST(COALESCE(SUM(income_fen), 0) AS BIGINT) AS n FROM household_month_totals",
    )
}

fn no_threshold(app: &TestApp) {
    let org = org_id(app, DEMO_ORG);
    app.execute(&format!(
        "UPDATE organizations SET approval_threshold_fen = NULL WHERE id = {org}"
    ));
}

/// Issues the statements due next month, from three passes at once; how many in all.
fn issue_at_once(app: &TestApp, at: NaiveDateTime) -> usize {
    std::thread::scope(|s| {
        let passes: Vec<_> = (0..3)
            .map(|_| s.spawn(|| statements::issue_due(&mut app.conn(), 0, at).expect("pass")))
            .collect();
        passes.into_iter().map(|p| p.join().expect("pass")).sum()
    })
}

both_databases! {
    fn a_month_on_account_is_one_statement_paid_in_parts_and_posted_to_the_households(app) {
        no_threshold(app);
        let first = accepted_order(app, "xiaomi", "15", 2);
        let second = accepted_order(app, "xiaomi", "20", 0);
        // Placed but not delivered yet: it waits for a later statement.
        let later = place_canteen_order(app, "canteen@example.com", &[("xiaomi", "10")], "on_account");
        // The team may no longer mark an on-account order paid by hand.
        let team = app.signed_in("team@example.com");
        let page = format!("/team/orders/{first}");
        let res = team.submit(&page, &format!("{page}/paid"), &[("reference", "x")]);
        assert_eq!(res.status(), StatusCode::CONFLICT);
        assert_eq!(ledger_of(app, first), 0);

        // Not before the month is over; then once, however many passes run.
        assert_eq!(statements::issue_due(&mut app.conn(), 0, now_utc()).expect("pass"), 0);
        assert_eq!(issue_at_once(app, next_month()), 1);
        assert_eq!(issue_at_once(app, next_month()), 0);
        assert_eq!(app.count("statements"), 1);
        let id = app.scalar("SELECT id AS n FROM statements");
        assert_eq!(app.count(&format!("statement_orders WHERE statement_id = {id}")), 2);
        assert_eq!(app.count(&format!("statement_orders WHERE order_id = {later}")), 0);
        // 15 + 20 units at ¥8.50, less 2 damaged (¥17.00): to the fen.
        let sums = |sql: &str| app.scalar(&format!("SELECT {sql} AS n FROM statements WHERE id = {id}"));
        assert_eq!((sums("goods_fen"), sums("credits_fen"), sums("total_fen")), (29750, 1700, 28050));
        let org = org_id(app, DEMO_ORG);
        let members = app.count(&format!("organization_members WHERE organization_id = {org}"));
        assert_eq!(app.count("email_outbox WHERE template = 'canteen_statement_issued'"), members);
        assert_eq!(app.count("audit_log WHERE action = 'issue_statement'"), 1);

        // The members read it, print it and download it; another organisation cannot.
        let buyer = app.signed_in("canteen@example.com");
        let number = format!("DZ{}-{org:04}", china_date(now_utc()).format("%Y%m"));
        let (status, list) = buyer.text("/canteen/statements");
        assert_eq!(status, StatusCode::OK);
        assert!(list.contains(&number));
        let (status, html) = buyer.text(&format!("/canteen/statements/{id}"));
        assert_eq!(status, StatusCode::OK);
        assert!(html.contains("¥280.50") && html.contains("¥17.00") && html.contains("谢店村"), "{html}");
        let csv = buyer.get(&format!("/canteen/statements/{id}/download.csv"));
        assert_eq!(csv.status(), StatusCode::OK);
        let csv = csv.text().expect("csv");
        assert!(csv.contains("合计") && csv.contains("280.50") && csv.contains("CG-2026-118"), "{csv}");
        let xlsx = buyer.get(&format!("/canteen/statements/{id}/download.xlsx"));
        assert_eq!(xlsx.status(), StatusCode::OK);
        assert!(xlsx.bytes().expect("xlsx").starts_with(b"PK"));
        assert_eq!(buyer.get(&format!("/canteen/statements/{id}")).status(), StatusCode::OK);
        let other = second_organisation(app);
        for path in [format!("/canteen/statements/{id}"), format!("/canteen/statements/{id}/download.csv")] {
            assert_eq!(other.get(&path).status(), StatusCode::NOT_FOUND, "{path}");
        }
        let (status, theirs) = other.text("/canteen/statements");
        assert_eq!(status, StatusCode::OK);
        assert!(!theirs.contains(&number));

        let income_before = month_income(app);
        // The city office records payments: refused with the field named, nothing written.
        let admin = app.signed_in("admin@example.com");
        let page = format!("/admin/statements/{id}");
        let pay = format!("{page}/payments");
        let today = china_date(now_utc()).to_string();
        let tomorrow = (china_date(now_utc()) + Duration::days(1)).to_string();
        for (amount, reference, paid_on, field) in [
            ("280.51", "ICBC 1", today.as_str(), "amount"),
            ("0", "ICBC 1", today.as_str(), "amount"),
            ("100", "", today.as_str(), "bank_reference"),
            ("100", "ICBC 1", tomorrow.as_str(), "paid_on"),
            ("100", "ICBC 1", "2020-01-01", "paid_on"),
        ] {
            let res = admin.submit(&page, &pay, &[("amount", amount), ("bank_reference", reference), ("paid_on", paid_on)]);
            assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "{amount} {reference} {paid_on}");
            assert!(names_field(&res.text().expect("page"), field), "{field} named");
        }
        assert_eq!(app.count("statement_payments"), 0);
        let paid_on = china_date(now_utc()).to_string();
        // A part that does not cover the first order whole pays no order yet.
        let first_due = 12750 - 1700;
        let part = format!("{}.{:02}", (first_due - 1) / 100, (first_due - 1) % 100);
        let res = admin.submit(&page, &pay, &[("amount", &part), ("bank_reference", "ICBC 20261201-1"), ("paid_on", &paid_on)]);
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        assert_eq!(app.count("orders WHERE status = 'pending_payment' AND payment_method = 'on_account'"), 3);
        assert_eq!(sums("paid_fen"), first_due - 1);
        // The same transfer twice is refused.
        let res = admin.submit(&page, &pay, &[("amount", "0.01"), ("bank_reference", "ICBC 20261201-1"), ("paid_on", &paid_on)]);
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert!(names_field(&res.text().expect("page"), "bank_reference"));
        // One fen more covers it: paid, posted against the households, credit reversed.
        let res = admin.submit(&page, &pay, &[("amount", "0.01"), ("bank_reference", "ICBC 20261201-2"), ("paid_on", &paid_on)]);
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        assert_eq!(app.count(&format!("orders WHERE id = {first} AND paid_fen = {first_due} AND paid_at IS NOT NULL")), 1);
        assert_eq!(app.count(&format!("orders WHERE id = {second} AND status = 'pending_payment'")), 1);
        assert_eq!(ledger_of(app, first), first_due);
        assert_eq!(ledger_of(app, second), 0);
        // The rest: the statement is paid, every order on it too.
        let res = admin.submit(&page, &pay, &[("amount", "170.00"), ("bank_reference", "ICBC 20261201-3"), ("paid_on", &paid_on)]);
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        assert_eq!(app.count(&format!("statements WHERE id = {id} AND paid_fen = 28050 AND paid_at IS NOT NULL")), 1);
        assert_eq!(ledger_of(app, second), 17000);
        assert_eq!(app.count(&format!("orders WHERE id = {later} AND status = 'pending_payment'")), 1);
        let res = admin.submit(&page, &pay, &[("amount", "0.01"), ("bank_reference", "ICBC 4"), ("paid_on", &paid_on)]);
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "nothing is outstanding");
        assert_eq!(app.count("statement_payments"), 3);
        assert_eq!(app.count("audit_log WHERE action = 'statement_payment'"), 3);
        // The households' income in the cadres' reports grew by what they earned.
        let household_income = app.scalar(&format!(
            "SELECT CAST(COALESCE(SUM(amount_fen), 0) AS BIGINT) AS n FROM ledger_entries \
             WHERE order_id IN ({first}, {second}) AND household_id IS NOT NULL"
        ));
        assert!(household_income > 0);
        assert_eq!(month_income(app) - income_before, household_income);
        verify_is_clean(app);

        // The invoice number, for the members to see.
        let res = admin.submit(&page, &format!("{page}/invoice"), &[("invoice_number", "FP-0042")]);
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        let html = buyer.text(&format!("/canteen/statements/{id}")).1;
        assert!(html.contains("FP-0042") && html.contains("已结清"));
    }

    fn an_overdue_statement_is_marked_told_once_and_stops_ordering_on_account(app) {
        no_threshold(app);
        accepted_order(app, "xiaomi", "10", 0);
        assert_eq!(issue_at_once(app, next_month()), 1);
        let id = app.scalar("SELECT id AS n FROM statements");
        // Not yet due: on account is still offered, nobody told.
        assert_eq!(statements::tell_overdue(&mut app.conn(), now_utc()).expect("pass"), 0);
        let buyer = app.signed_in("canteen@example.com");
        assert!(buyer.text("/canteen/order").1.contains("value=\"on_account\""));
        // Past its due date and unpaid.
        let yesterday = china_date(now_utc()) - Duration::days(1);
        app.execute(&format!("UPDATE statements SET due_date = '{yesterday}' WHERE id = {id}"));
        let told: Vec<usize> = std::thread::scope(|s| {
            let passes: Vec<_> = (0..2)
                .map(|_| s.spawn(|| statements::tell_overdue(&mut app.conn(), now_utc()).expect("pass")))
                .collect();
            passes.into_iter().map(|p| p.join().expect("pass")).collect()
        });
        assert_eq!(told.iter().sum::<usize>(), 1, "told once: {told:?}");
        let org = org_id(app, DEMO_ORG);
        let members = app.count(&format!("organization_members WHERE organization_id = {org}"));
        assert_eq!(app.count("email_outbox WHERE template = 'canteen_statement_overdue'"), members);
        let (_, list) = buyer.text("/canteen/statements");
        assert!(list.contains("已逾期"));
        let admin = app.signed_in("admin@example.com");
        assert!(admin.text("/admin/statements").1.contains("status-overdue"));
        // Ordering goes on, but only to pay now.
        let (_, sheet) = buyer.text("/canteen/order");
        assert!(!sheet.contains("value=\"on_account\""), "on account not offered");
        assert!(sheet.contains("本单须现付"));
        let orders_before = app.count("orders");
        let fields = crate::canteen_orders::order_fields(
            app, &buyer, &[("xiaomi", "10")], &crate::canteen_orders::delivery_day(2).to_string(), "on_account",
        );
        let res = crate::canteen_orders::post(&buyer, &fields);
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let page = res.text().expect("page");
        assert!(names_field(&page, "payment_method") && page.contains("请现付本单"), "payment_method refused, saying why");
        assert_eq!(app.count("orders"), orders_before, "nothing placed");
        place_canteen_order(app, "canteen@example.com", &[("xiaomi", "10")], "bank_transfer");
        assert_eq!(app.count("orders"), orders_before + 1);
    }
}
