//! Canteen ordering, second slice of issue 10: the quick-order sheet across villages at
//! canteen tier prices; minimums, steps, lead times and delivery weekdays refused with
//! the field named and nothing written; on account within the credit limit only; above
//! the approval threshold the order waits, its stock held, for an approver who approves
//! or sends it back; the organisation's orders are its members' alone; "order again".

use chrono::{Datelike, Duration, NaiveDate, Weekday};
use reqwest::StatusCode;

use crate::canteen::{DEMO_ORG, names_field, org_id, second_organisation};
use crate::storefront::product_id;
use crate::support::{Browser, TestApp, both_databases, csrf_token, location};
use village_market::domain::{china_date, now_utc, orders};

/// The first weekday (Monday to Friday) at least `days` after today in China: every demo
/// village delivers then with its one day's lead time.
pub fn delivery_day(days: i64) -> NaiveDate {
    let mut date = china_date(now_utc()) + Duration::days(days);
    while matches!(date.weekday(), Weekday::Sat | Weekday::Sun) {
        date += Duration::days(1);
    }
    date
}

fn site_id(app: &TestApp) -> i64 {
    let org = org_id(app, DEMO_ORG);
    app.scalar(&format!(
        "SELECT MIN(id) AS n FROM delivery_sites WHERE organization_id = {org}"
    ))
}

fn stock(app: &TestApp, slug: &str) -> i64 {
    app.scalar(&format!(
        "SELECT CAST(stock AS BIGINT) AS n FROM products WHERE slug = '{slug}'"
    ))
}

/// The sheet's fields for `lines` (slug, quantity) and the order's details.
pub fn order_fields(
    app: &TestApp,
    browser: &Browser,
    lines: &[(&str, &str)],
    date: &str,
    method: &str,
) -> Vec<(String, String)> {
    let html = browser.text("/canteen/order").1;
    let key = html
        .split("name=\"idempotency_key\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("idempotency key")
        .to_string();
    let mut fields = vec![
        (
            "csrf_token".to_string(),
            csrf_token(&html).expect("csrf token"),
        ),
        ("idempotency_key".into(), key),
        ("delivery_site".into(), site_id(app).to_string()),
        ("delivery_date".into(), date.to_string()),
        ("po_number".into(), "CG-2026-118".into()),
        ("note".into(), "后门卸货".into()),
        ("payment_method".into(), method.into()),
        ("action".into(), "place".into()),
    ];
    for (slug, quantity) in lines {
        fields.push((format!("q-{}", product_id(app, slug)), quantity.to_string()));
    }
    fields
}

/// The team mails an order of `slugs` sends: one per team member of each village.
fn team_mails(app: &TestApp, slugs: &[&str]) -> i64 {
    let list: Vec<String> = slugs.iter().map(|s| format!("'{s}'")).collect();
    app.scalar(&format!(
        "SELECT COUNT(*) AS n FROM team_villages tv JOIN users u ON u.id = tv.user_id \
         WHERE u.role = 'team' AND tv.village_id IN (SELECT DISTINCT village_id FROM products WHERE slug IN ({}))",
        list.join(", ")
    ))
}

/// Whether the payment choice (radio buttons in a fieldset) shows a field error.
fn names_payment_method(html: &str) -> bool {
    html.find("name=\"payment_method\"")
        .and_then(|at| html[at..].split("</fieldset>").next())
        .is_some_and(|set| set.contains("field-error"))
}

pub fn post(browser: &Browser, fields: &[(String, String)]) -> reqwest::blocking::Response {
    let pairs: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    browser.post_form("/canteen/order", &pairs)
}

/// Places an order as `email` and returns its id.
pub fn place_canteen_order(
    app: &TestApp,
    email: &str,
    lines: &[(&str, &str)],
    method: &str,
) -> i64 {
    let buyer = app.signed_in(email);
    let fields = order_fields(app, &buyer, lines, &delivery_day(2).to_string(), method);
    let res = post(&buyer, &fields);
    assert_eq!(
        res.status(),
        StatusCode::SEE_OTHER,
        "{}",
        res.text().unwrap_or_default()
    );
    app.scalar("SELECT MAX(order_id) AS n FROM canteen_orders")
}

/// Three villages' goods at canteen tiers, ¥2,090 in all: below the demo's ¥5,000
/// threshold and within its ¥50,000 credit.
const THREE_VILLAGES: [(&str, &str); 3] =
    [("xiaomi", "50"), ("huangmi-gaomian", "40"), ("jidan", "10")];

both_databases! {
    fn a_quick_order_across_three_villages_is_priced_by_tier_and_placed_on_account(app) {
        let buyer = app.signed_in("canteen@example.com");
        let (status, html) = buyer.text("/canteen/order");
        assert_eq!(status, StatusCode::OK);
        assert!(html.contains("谢店小米") && html.contains("10斤起订，每次加 5"), "the catalogue with minimum and step");
        let villages = app.scalar(
            "SELECT COUNT(DISTINCT village_id) AS n FROM products WHERE slug IN ('xiaomi', 'huangmi-gaomian', 'jidan')",
        );
        assert_eq!(villages, 3);
        let before: Vec<i64> = THREE_VILLAGES.iter().map(|(s, _)| stock(app, s)).collect();
        let date = delivery_day(2).to_string();

        // Reviewing prices the sheet and writes nothing.
        let mut fields = order_fields(app, &buyer, &THREE_VILLAGES, &date, "on_account");
        fields.retain(|(k, _)| k != "action");
        fields.push(("action".into(), "review".into()));
        let res = post(&buyer, &fields);
        assert_eq!(res.status(), StatusCode::OK);
        let review = res.text().unwrap();
        assert!(review.contains("¥2,090.00") && review.contains("¥7.80") && review.contains("¥32.00"), "canteen tiers");
        assert_eq!(app.count("canteen_orders"), 0);

        let id = place_canteen_order(app, "canteen@example.com", &THREE_VILLAGES, "on_account");
        assert_eq!(app.count(&format!(
            "orders WHERE id = {id} AND channel = 'canteen' AND payment_method = 'on_account' AND status = 'pending_payment' \
             AND reserved_until IS NULL AND total_fen = 209000"
        )), 1);
        assert_eq!(app.count(&format!("order_lines WHERE order_id = {id}")), 3);
        assert_eq!(app.count(&format!("shipments WHERE order_id = {id}")), 3, "one shipment per village");
        assert_eq!(app.count(&format!(
            "canteen_orders WHERE order_id = {id} AND delivery_date = '{date}' AND po_number = 'CG-2026-118' AND delivery_site_id = {}",
            site_id(app)
        )), 1);
        for ((slug, quantity), was) in THREE_VILLAGES.iter().zip(before) {
            assert_eq!(stock(app, slug), was - quantity.parse::<i64>().unwrap(), "{slug} reserved");
        }
        assert_eq!(app.count(&format!("audit_log WHERE action = 'place_canteen_order' AND entity_id = {id}")), 1);
        // On account, the villages hear of it at once; the buyer gets the receipt.
        let expected = team_mails(app, &["xiaomi", "huangmi-gaomian", "jidan"]);
        assert!(expected > 0);
        assert_eq!(app.count("email_outbox WHERE template = 'team_new_order'"), expected);
        assert_eq!(app.count("email_outbox WHERE template = 'order_received' AND recipient = 'canteen@example.com'"), 1);
        // The team may pack it before it is paid, as with cash on delivery.
        let team = app.signed_in("team@example.com");
        let village = app.scalar("SELECT village_id AS n FROM products WHERE slug = 'xiaomi'");
        let page = format!("/team/orders/{id}");
        let res = team.submit(&page, &format!("{page}/villages/{village}/pack"), &[]);
        assert_eq!(res.status(), StatusCode::SEE_OTHER);

        // Every member sees it; the page names the site, date and PO number.
        let approver = app.signed_in("approver@example.com");
        assert!(approver.text("/canteen/orders").1.contains(&format!("/canteen/orders/{id}")));
        let html = approver.text(&format!("/canteen/orders/{id}")).1;
        assert!(html.contains("CG-2026-118") && html.contains(&date) && html.contains("月结记账"), "{html}");
    }

    fn bad_lines_and_dates_are_refused_by_field_and_nothing_is_written(app) {
        let buyer = app.signed_in("canteen@example.com");
        let written = |app: &TestApp| (app.count("orders"), stock(app, "xiaomi"), app.count("email_outbox"), app.count("audit_log"));
        let before = written(app);
        let xiaomi = format!("q-{}", product_id(app, "xiaomi"));
        let good_date = delivery_day(2).to_string();
        for (quantity, message) in [("7", "至少订 10"), ("12", "从 10 起，每次加 5"), ("1.5", ""), ("-5", "")] {
            let fields = order_fields(app, &buyer, &[("xiaomi", quantity)], &good_date, "on_account");
            let res = post(&buyer, &fields);
            assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "{quantity}");
            let html = res.text().unwrap();
            assert!(names_field(&html, &xiaomi), "{quantity}: the line is named");
            assert!(html.contains(message), "{quantity}: {message}");
        }
        let today = china_date(now_utc());
        let saturday = (1..8).map(|d| today + Duration::days(d)).find(|d| d.weekday() == Weekday::Sat).unwrap();
        for (date, message) in [(today.to_string(), "谢店村 需提前 1 天下单"), (saturday.to_string(), "谢店村 这天不送货"),
                                ("2026-13-01".to_string(), ""), ((today + Duration::days(200)).to_string(), "最多只能订 90 天内")] {
            let fields = order_fields(app, &buyer, &[("xiaomi", "15")], &date, "on_account");
            let res = post(&buyer, &fields);
            assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "{date}");
            let html = res.text().unwrap();
            assert!(names_field(&html, "delivery_date"), "{date}: the date is named");
            assert!(html.contains(message), "{date}: {message}");
            assert!(html.contains("value=\"15\""), "{date}: the quantities are kept");
        }
        // Another organisation's site, a method the terms do not allow.
        let mut fields = order_fields(app, &buyer, &[("xiaomi", "15")], &good_date, "cash_on_delivery");
        fields.retain(|(k, _)| k != "delivery_site");
        fields.push(("delivery_site".into(), "999999".into()));
        let res = post(&buyer, &fields);
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let html = res.text().unwrap();
        assert!(names_field(&html, "delivery_site") && names_payment_method(&html));
        assert_eq!(written(app), before, "nothing written");
    }

    fn on_account_is_refused_above_the_credit_limit_and_paying_now_is_not(app) {
        let org = org_id(app, DEMO_ORG);
        // ¥3,000 of credit, no approval: the first ¥2,090 fits, the second does not.
        app.execute(&format!("UPDATE organizations SET credit_limit_fen = 300000, approval_threshold_fen = NULL WHERE id = {org}"));
        place_canteen_order(app, "canteen@example.com", &THREE_VILLAGES, "on_account");
        let buyer = app.signed_in("canteen@example.com");
        assert!(buyer.text("/canteen/order").1.contains("月结可用额度 ¥910.00"));
        let orders = app.count("orders");
        let fields = order_fields(app, &buyer, &THREE_VILLAGES, &delivery_day(2).to_string(), "on_account");
        let res = post(&buyer, &fields);
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let html = res.text().unwrap();
        assert!(names_payment_method(&html) && html.contains("可用 ¥910.00"), "{html}");
        assert_eq!(app.count("orders"), orders);
        // Paying now by bank transfer is not on account: placed, its stock held for the
        // payment window.
        let id = place_canteen_order(app, "canteen@example.com", &THREE_VILLAGES, "bank_transfer");
        assert_eq!(app.count(&format!(
            "orders WHERE id = {id} AND payment_method = 'bank_transfer' AND status = 'pending_payment' AND reserved_until IS NOT NULL"
        )), 1);
        assert!(buyer.text(&format!("/canteen/orders/{id}")).1.contains("/orders/"), "a link to pay");
    }

    fn above_the_threshold_an_order_waits_for_an_approver(app) {
        // A ¥1,000 threshold: the three villages' ¥2,090 is above it.
        let org = org_id(app, DEMO_ORG);
        app.execute(&format!("UPDATE organizations SET approval_threshold_fen = 100000 WHERE id = {org}"));
        let before = stock(app, "huangmi-gaomian");
        let id = place_canteen_order(app, "canteen@example.com", &THREE_VILLAGES, "on_account");
        assert_eq!(app.count(&format!(
            "orders WHERE id = {id} AND status = 'awaiting_approval' AND reserved_until IS NOT NULL AND total_fen = 209000"
        )), 1);
        assert_eq!(stock(app, "huangmi-gaomian"), before - 40, "held while it waits");
        assert_eq!(app.count("email_outbox WHERE template = 'canteen_approval_needed' AND recipient = 'approver@example.com'"), 1);
        assert_eq!(app.count("email_outbox WHERE template = 'team_new_order'"), 0, "the villages hear of it once approved");

        // The buyer cannot decide; the approver sees the forms and approves.
        let page = format!("/canteen/orders/{id}");
        let buyer = app.signed_in("canteen@example.com");
        assert!(!buyer.text(&page).1.contains("/approve"));
        assert_eq!(buyer.submit(&page, &format!("{page}/approve"), &[]).status(), StatusCode::NOT_FOUND);
        let approver = app.signed_in("approver@example.com");
        assert!(approver.text(&page).1.contains(&format!("{page}/approve")));
        let res = approver.submit(&page, &format!("{page}/send-back"), &[("reason", " ")]);
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert!(names_field(&res.text().unwrap(), "reason"));
        let res = approver.submit(&page, &format!("{page}/approve"), &[]);
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        assert_eq!(location(&res), page);
        assert_eq!(app.count(&format!(
            "orders WHERE id = {id} AND status = 'pending_payment' AND reserved_until IS NULL"
        )), 1, "on account: held until delivered and paid by the statement");
        let approver_id = app.scalar("SELECT id AS n FROM users WHERE email = 'approver@example.com'");
        assert_eq!(app.count(&format!("canteen_orders WHERE order_id = {id} AND decided_by_user_id = {approver_id}")), 1);
        assert_eq!(app.count("email_outbox WHERE template = 'canteen_order_approved' AND recipient = 'canteen@example.com'"), 1);
        assert_eq!(app.count("email_outbox WHERE template = 'team_new_order'"), team_mails(app, &["xiaomi", "huangmi-gaomian", "jidan"]));
        assert_eq!(app.count(&format!("audit_log WHERE action = 'approve_order' AND entity_id = {id}")), 1);
        // Decided once.
        let res = approver.submit(&page, &format!("{page}/approve"), &[]);
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);

        // Another is sent back: cancelled, its stock returned, the buyer told why.
        let held = stock(app, "huangmi-gaomian");
        let second = place_canteen_order(app, "canteen@example.com", &[("huangmi-gaomian", "40")], "on_account");
        assert_eq!(stock(app, "huangmi-gaomian"), held - 40);
        let page = format!("/canteen/orders/{second}");
        let res = approver.submit(&page, &format!("{page}/send-back"), &[("reason", "本周已采购黄米面")]);
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        assert_eq!(app.count(&format!("orders WHERE id = {second} AND status = 'cancelled'")), 1);
        assert_eq!(stock(app, "huangmi-gaomian"), held);
        assert_eq!(app.count(&format!("canteen_orders WHERE order_id = {second} AND sent_back_reason = '本周已采购黄米面'")), 1);
        assert_eq!(app.count("email_outbox WHERE template = 'canteen_order_sent_back' AND recipient = 'canteen@example.com'"), 1);
        assert!(buyer.text(&page).1.contains("本周已采购黄米面"));

        // A third waits past its hold: the expiry loop returns its stock.
        let third = place_canteen_order(app, "canteen@example.com", &[("huangmi-gaomian", "40")], "on_account");
        let later = now_utc() + Duration::hours(49);
        assert_eq!(orders::expire_reservations(&mut app.conn(), later).expect("expire"), 1);
        assert_eq!(app.count(&format!("orders WHERE id = {third} AND status = 'expired'")), 1);
        assert_eq!(stock(app, "huangmi-gaomian"), held);
        // An approver's own order above the threshold is approved by placing it.
        let own = place_canteen_order(app, "approver@example.com", &THREE_VILLAGES, "on_account");
        assert_eq!(app.count(&format!("orders WHERE id = {own} AND status = 'pending_payment'")), 1);
        assert_eq!(app.count(&format!("canteen_orders WHERE order_id = {own} AND decided_by_user_id = {approver_id}")), 1);
    }

    fn a_second_submit_places_one_order(app) {
        let buyer = app.signed_in("canteen@example.com");
        let fields = order_fields(app, &buyer, &THREE_VILLAGES, &delivery_day(2).to_string(), "on_account");
        let first = post(&buyer, &fields);
        let again = post(&buyer, &fields);
        assert_eq!((first.status(), again.status()), (StatusCode::SEE_OTHER, StatusCode::SEE_OTHER));
        assert_eq!(location(&first), location(&again));
        assert_eq!(app.count("canteen_orders"), 1);
    }

    fn another_organisations_orders_are_not_found(app) {
        let id = place_canteen_order(app, "canteen@example.com", &THREE_VILLAGES, "on_account");
        let school = second_organisation(app);
        for path in [format!("/canteen/orders/{id}"), format!("/canteen/orders/{id}/reorder")] {
            assert_eq!(school.get(&path).status(), StatusCode::NOT_FOUND, "{path}");
        }
        assert!(!school.text("/canteen/orders").1.contains(&format!("/canteen/orders/{id}")));
        let token = csrf_token(&school.text("/canteen").1).unwrap();
        let res = school.post_form(&format!("/canteen/orders/{id}/approve"), &[("csrf_token", &token)]);
        assert_eq!(res.status(), StatusCode::NOT_FOUND);
    }

    fn order_again_fills_the_sheet_at_todays_prices(app) {
        let id = place_canteen_order(app, "canteen@example.com", &THREE_VILLAGES, "on_account");
        let jidan = product_id(app, "jidan");
        app.execute(&format!("UPDATE price_tiers SET unit_price_fen = 4000 WHERE product_id = {jidan}"));
        app.execute("UPDATE products SET status = 'archived' WHERE slug = 'xiaomi'");
        let buyer = app.signed_in("canteen@example.com");
        let (status, html) = buyer.text(&format!("/canteen/orders/{id}/reorder"));
        assert_eq!(status, StatusCode::OK);
        assert!(html.contains("单价由 ¥42.00 变为 ¥40.00"), "{html}");
        assert!(html.contains("已下架，未填入"));
        let gaomian = product_id(app, "huangmi-gaomian");
        assert!(html.contains(&format!("name=\"q-{gaomian}\" value=\"40\"")));
        assert!(html.contains(&format!("name=\"q-{jidan}\" value=\"10\"")));
    }
}

/// Uploads an order file to the sheet.
fn upload_order(browser: &Browser, filename: &str, bytes: Vec<u8>) -> (StatusCode, String) {
    let token = csrf_token(&browser.text("/canteen/order").1).expect("token");
    let form = reqwest::blocking::multipart::Form::new()
        .text("csrf_token", token)
        .part(
            "file",
            reqwest::blocking::multipart::Part::bytes(bytes).file_name(filename.to_string()),
        );
    let res = browser
        .client
        .post(format!("{}/canteen/order/upload", browser.base))
        .multipart(form)
        .send()
        .expect("upload");
    let status = res.status();
    (status, res.text().expect("page"))
}

both_databases! {
    fn an_uploaded_order_fills_the_sheet_only_when_every_row_is_good(app) {
        let buyer = app.signed_in("canteen@example.com");
        let (xiaomi, gaomian, jidan) = (product_id(app, "xiaomi"), product_id(app, "huangmi-gaomian"), product_id(app, "jidan"));
        let written = |app: &TestApp| (app.count("orders"), app.count("audit_log"), stock(app, "xiaomi"));
        let before = written(app);

        // The catalogue downloads as an order form; filled in and uploaded, it fills the sheet.
        let res = buyer.get("/canteen/order/template.csv");
        assert_eq!(res.status(), StatusCode::OK);
        let template = res.text().unwrap();
        let template = template.trim_start_matches('\u{feff}');
        assert!(template.starts_with("编号,商品,村,单位,食堂价（元）,起订量,递增量,数量"), "{template}");
        let filled: String = template
            .lines()
            .map(|line| {
                if line.starts_with(&format!("{xiaomi},")) {
                    format!("{line}15\n")
                } else if line.starts_with(&format!("{gaomian},")) {
                    format!("{line}40\n")
                } else {
                    format!("{line}\n")
                }
            })
            .collect();
        let (status, html) = upload_order(&buyer, "order.csv", filled.into_bytes());
        assert_eq!(status, StatusCode::OK, "{html}");
        assert!(html.contains(&format!("name=\"q-{xiaomi}\" value=\"15\"")), "{html}");
        assert!(html.contains(&format!("name=\"q-{gaomian}\" value=\"40\"")));
        assert!(html.contains("¥1,280.00"), "priced at the canteen tier");

        // An XLSX with English headers, and a GBK CSV as Excel in China saves it.
        let xlsx = crate::households::xlsx(&[&["Code", "Quantity"], &[&jidan.to_string(), "10"]]);
        let (status, html) = upload_order(&buyer, "order.xlsx", xlsx);
        assert_eq!(status, StatusCode::OK, "{html}");
        assert!(html.contains(&format!("name=\"q-{jidan}\" value=\"10\"")));
        let text = format!("编号,数量\n{jidan},12\n");
        let gbk = encoding_rs::GBK.encode(&text).0.into_owned();
        let (status, html) = upload_order(&buyer, "order.csv", gbk);
        assert_eq!(status, StatusCode::OK, "{html}");
        assert!(html.contains(&format!("name=\"q-{jidan}\" value=\"12\"")));

        // One bad row among good ones: nothing is taken, every problem named by row.
        let bad = format!(
            "编号,数量\n{gaomian},40\n999999,5\n{xiaomi},7\n{xiaomi},10\n{jidan},abc\n=1+1,3\n"
        );
        let (status, html) = upload_order(&buyer, "order.csv", bad.into_bytes());
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        for (row, reason) in [(3, "没有这个编号的商品"), (4, "至少订 10"), (5, "同一商品填了两次"), (6, "请填整数"), (7, "没有这个编号的商品")] {
            assert!(html.contains(&format!("<tr><td>{row}</td>")), "row {row} named: {html}");
            assert!(html.contains(reason), "row {row}: {reason}");
        }
        assert!(!html.contains("value=\"40\""), "nothing taken");
        // A file without the columns, and one too long.
        let (status, html) = upload_order(&buyer, "order.csv", b"name,amount\nx,1\n".to_vec());
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(html.contains("缺少这一列"));
        // The whole catalogue as a form fits (5,000 rows); a longer file is refused by size.
        let long: String = std::iter::once("编号,数量\n".to_string()).chain((0..5_001).map(|_| format!("{xiaomi},\n"))).collect();
        let (status, html) = upload_order(&buyer, "order.csv", long.into_bytes());
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(html.contains("这里最多 5001 行"), "{html}");
        assert_eq!(written(app), before, "an upload writes nothing");
    }
}

both_databases! {
    fn the_team_sees_its_deliveries_by_day_and_site_and_prints_the_delivery_note(app) {
        let id = place_canteen_order(app, "canteen@example.com", &THREE_VILLAGES, "on_account");
        let date = delivery_day(2).to_string();
        let team = app.signed_in("team@example.com");
        let (status, html) = team.text("/team/deliveries");
        assert_eq!(status, StatusCode::OK);
        assert!(html.contains(&date) && html.contains(DEMO_ORG), "{html}");
        // The team's own villages' goods only: millet and cake flour, not Ta'er's eggs.
        assert!(html.contains("谢店小米 <strong>50</strong>") && html.contains("黄米糕面 <strong>40</strong>"), "{html}");
        assert!(!html.contains("散养鸡蛋"));
        assert!(html.contains(&format!("/team/orders/{id}")));

        // The delivery note: lines, prices, site and date, the supplying households.
        let xiedian = app.scalar("SELECT village_id AS n FROM products WHERE slug = 'xiaomi'");
        let note = format!("/team/orders/{id}/villages/{xiedian}/delivery-note");
        let (status, html) = team.text(&note);
        assert_eq!(status, StatusCode::OK);
        // First in, first out takes the 50 units from the oldest lot alone (the demo's
        // first lot of millet holds three fifths of it): one household, until paid.
        let oldest = app.scalar(&format!(
            "SELECT CAST(remaining AS BIGINT) AS n FROM stock_lots WHERE product_id = {} AND remaining > 0 \
             ORDER BY received_on, id LIMIT 1",
            product_id(app, "xiaomi")
        ));
        assert!(oldest >= 50, "the oldest lot covers the line");
        assert!(html.contains("送货单") && html.contains("CG-2026-118") && html.contains(&date));
        assert!(html.contains("谢店小米") && html.contains("¥7.80") && html.contains("¥390.00"));
        assert!(!html.contains("黄米糕面"), "another village's lines are on its own note");
        assert!(html.contains("预计 1 户农户"), "{html}");
        assert!(html.contains("收货人签字"));
        // The canteen's members print the same note; another village's team and another
        // organisation do not.
        let (status, html) = app.signed_in("canteen@example.com").text(&format!("/canteen/orders/{id}/villages/{xiedian}/delivery-note"));
        assert_eq!(status, StatusCode::OK);
        assert!(html.contains("谢店小米"));
        assert_eq!(crate::households::taer_member(app).get(&note).status(), StatusCode::NOT_FOUND);
        assert_eq!(second_organisation(app).get(&format!("/canteen/orders/{id}/villages/{xiedian}/delivery-note")).status(), StatusCode::NOT_FOUND);
        // A calendar is read a year either way at most; a page number past the end is the last.
        assert_eq!(team.get("/team/deliveries?from=-262143-01-01").status(), StatusCode::BAD_REQUEST);
        assert_eq!(team.get("/team/deliveries?from=2100-01-01").status(), StatusCode::BAD_REQUEST);
        let buyer = app.signed_in("canteen@example.com");
        assert_eq!(buyer.get("/canteen/orders?page=9223372036854775807").status(), StatusCode::OK);
        // A store order has no delivery note.
        let store = crate::orders::placed_order(app, "xiaomi", "1");
        assert_eq!(team.get(&format!("/team/orders/{store}/villages/{xiedian}/delivery-note")).status(), StatusCode::NOT_FOUND);
    }
}

/// `village-market verify` finds the ledger adding up.
pub fn verify_is_clean(app: &TestApp) {
    let out = crate::cli::village_market(&app.database.url, &app.database.dir, &["verify"])
        .output()
        .expect("verify runs");
    assert!(
        out.status.success(),
        "verify: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Takes a village's part of an order through pack, ship and deliver as its team.
pub fn deliver(app: &TestApp, order: i64, slug: &str) -> i64 {
    let village = app.scalar(&format!(
        "SELECT village_id AS n FROM products WHERE slug = '{slug}'"
    ));
    let team = app.signed_in("team@example.com");
    let page = format!("/team/orders/{order}");
    for (step, fields) in [
        ("pack", vec![]),
        (
            "ship",
            vec![("carrier", "村里自送"), ("tracking_number", "XD-1")],
        ),
        ("deliver", vec![]),
    ] {
        let res = team.submit(&page, &format!("{page}/villages/{village}/{step}"), &fields);
        assert_eq!(res.status(), StatusCode::SEE_OTHER, "{step}");
    }
    village
}

/// The households' and the collective's shares of an order's lines, as the ledger holds them.
pub fn ledger_of(app: &TestApp, order: i64) -> i64 {
    app.scalar(&format!(
        "SELECT CAST(COALESCE(SUM(amount_fen), 0) AS BIGINT) AS n FROM ledger_entries WHERE order_id = {order} \
         AND kind NOT IN ('purchase', 'payout')"
    ))
}

both_databases! {
    fn acceptance_credits_rejected_units_against_the_same_households(app) {
        // A prepaid order, paid by bank transfer and posted, then 2 of 15 units rejected.
        let org = org_id(app, DEMO_ORG);
        app.execute(&format!("UPDATE organizations SET approval_threshold_fen = NULL WHERE id = {org}"));
        let id = place_canteen_order(app, "canteen@example.com", &[("xiaomi", "15")], "bank_transfer");
        let team = app.signed_in("team@example.com");
        let page = format!("/team/orders/{id}");
        assert_eq!(team.submit(&page, &format!("{page}/paid"), &[("reference", "ICBC 7788")]).status(), StatusCode::SEE_OTHER);
        let total = app.scalar(&format!("SELECT total_fen AS n FROM orders WHERE id = {id}"));
        assert_eq!((total, ledger_of(app, id)), (12750, 12750), "15 × ¥8.50, posted");
        let xiedian = deliver(app, id, "xiaomi");
        // The buyer's "shipped" mail links the village's delivery note.
        assert_eq!(app.count(&format!(
            "email_outbox WHERE template = 'order_shipped' AND data LIKE '%/canteen/orders/{id}/villages/{xiedian}/delivery-note%'"
        )), 1);
        let line = app.scalar(&format!("SELECT id AS n FROM order_lines WHERE order_id = {id}"));
        let buyer = app.signed_in("canteen@example.com");
        let order_page = format!("/canteen/orders/{id}");
        let accept = format!("{order_page}/villages/{xiedian}/acceptance");
        assert!(buyer.text(&order_page).1.contains(&accept), "the acceptance form");

        // Bad answers: not adding up, a rejection without a reason.
        let before = (app.count("refunds"), app.count("acceptance_lines"));
        for (accepted, rejected, reason, field) in [("14", "2", "damaged", "accepted"), ("13", "2", "", "reason"), ("13", "2", "lost", "reason")] {
            let res = buyer.submit(&order_page, &accept, &[
                (&format!("accepted-{line}"), accepted), (&format!("rejected-{line}"), rejected), (&format!("reason-{line}"), reason),
            ]);
            assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "{accepted}/{rejected}/{reason}");
            assert!(names_field(&res.text().unwrap(), &format!("{field}-{line}")), "{field} named");
        }
        assert_eq!((app.count("refunds"), app.count("acceptance_lines")), before, "nothing written");

        let stock_before = stock(app, "xiaomi");
        let res = buyer.submit(&order_page, &accept, &[
            (&format!("accepted-{line}"), "13"), (&format!("rejected-{line}"), "2"), (&format!("reason-{line}"), "damaged"),
        ]);
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        // 2 of 15 units of a ¥127.50 line: ¥17.00 to the fen, reversed against the
        // households the units came from.
        assert_eq!(app.count(&format!("refunds WHERE order_id = {id} AND amount_fen = 1700 AND NOT restock")), 1);
        assert_eq!(app.count(&format!("acceptance_lines WHERE order_line_id = {line} AND accepted = 13 AND rejected = 2 AND reason = 'damaged' AND refund_id IS NOT NULL")), 1);
        assert_eq!(ledger_of(app, id), 12750 - 1700);
        let reversed_households = app.scalar(&format!(
            "SELECT COUNT(*) AS n FROM ledger_entries e WHERE e.order_id = {id} AND e.kind = 'refund_household' \
             AND e.household_id NOT IN (SELECT household_id FROM allocations WHERE order_line_id = {line})"
        ));
        assert_eq!(reversed_households, 0, "reversed against the same households");
        assert!(app.count(&format!("ledger_entries WHERE order_id = {id} AND kind = 'refund_household'")) >= 1);
        assert_eq!(stock(app, "xiaomi"), stock_before, "damaged goods do not go back on sale");
        assert_eq!(app.count(&format!("orders WHERE id = {id} AND refunded_fen = 1700")), 1);
        assert_eq!(app.count("email_outbox WHERE template = 'canteen_acceptance'"), team_mails(app, &["xiaomi"]));
        verify_is_clean(app);
        // Accepted once.
        let res = buyer.submit(&order_page, &accept, &[]);
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert!(team.text(&page).1.contains("接收 13，拒收 2"));
    }

    fn on_account_a_credit_waits_for_the_payment_and_overdue_deliveries_are_accepted_once(app) {
        let org = org_id(app, DEMO_ORG);
        app.execute(&format!("UPDATE organizations SET approval_threshold_fen = NULL WHERE id = {org}"));
        let id = place_canteen_order(app, "canteen@example.com", &[("xiaomi", "15")], "on_account");
        let xiedian = deliver(app, id, "xiaomi");
        let line = app.scalar(&format!("SELECT id AS n FROM order_lines WHERE order_id = {id}"));
        let buyer = app.signed_in("canteen@example.com");
        let order_page = format!("/canteen/orders/{id}");
        let stock_before = stock(app, "xiaomi");
        let res = buyer.submit(&order_page, &format!("{order_page}/villages/{xiedian}/acceptance"), &[
            (&format!("accepted-{line}"), "12"), (&format!("rejected-{line}"), "3"), (&format!("reason-{line}"), "short"),
        ]);
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        // Not paid yet: the credit lowers what is due; no money went back, nothing is in
        // the ledger, and short goods are back on sale.
        assert_eq!(app.count(&format!("refunds WHERE order_id = {id} AND amount_fen = 2550 AND restock")), 1);
        assert_eq!(app.count(&format!("orders WHERE id = {id} AND status = 'pending_payment' AND refunded_fen = 0")), 1);
        assert_eq!(ledger_of(app, id), 0);
        assert_eq!(stock(app, "xiaomi"), stock_before + 3);
        verify_is_clean(app);
        // Paid through its statement: what was due is received, the whole line posted
        // and the credited units reversed against the same households.
        assert_eq!(village_market::domain::canteen::statements::issue_due(&mut app.conn(), 0, crate::canteen_statements::next_month()).expect("pass"), 1);
        let statement = app.scalar("SELECT id AS n FROM statements");
        let admin = app.signed_in("admin@example.com");
        let page = format!("/admin/statements/{statement}");
        let paid_on = china_date(now_utc()).to_string();
        let res = admin.submit(&page, &format!("{page}/payments"), &[("amount", "102.00"), ("bank_reference", "月结 2026-12"), ("paid_on", &paid_on)]);
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        // Delivered already, it takes its shipment's status once paid.
        assert_eq!(app.count(&format!("orders WHERE id = {id} AND status = 'delivered' AND paid_fen = 10200 AND refunded_fen = 0")), 1);
        assert_eq!(ledger_of(app, id), 12750 - 2550);
        verify_is_clean(app);

        // Another order delivered and left unanswered is accepted whole after three days,
        // once, however many passes run.
        let second = place_canteen_order(app, "canteen@example.com", &[("xiaomi", "10")], "on_account");
        deliver(app, second, "xiaomi");
        let soon = now_utc() + Duration::days(2);
        assert_eq!(village_market::domain::canteen::acceptance::accept_overdue(&mut app.conn(), soon).expect("pass"), 0);
        let later = now_utc() + Duration::days(4);
        let passes: Vec<usize> = std::thread::scope(|s| {
            let workers: Vec<_> = (0..3).map(|_| s.spawn(|| {
                village_market::domain::canteen::acceptance::accept_overdue(&mut app.conn(), later).expect("pass")
            })).collect();
            workers.into_iter().map(|w| w.join().expect("worker")).collect()
        });
        assert_eq!(passes.iter().sum::<usize>(), 1, "accepted once: {passes:?}");
        assert_eq!(app.count(&format!("shipments WHERE order_id = {second} AND accepted_at IS NOT NULL AND accepted_by_user_id IS NULL")), 1);
        assert_eq!(app.count(&format!("acceptance_lines WHERE accepted = 10 AND rejected = 0 AND shipment_id IN (SELECT id FROM shipments WHERE order_id = {second})")), 1);
        assert!(buyer.text(&format!("/canteen/orders/{second}")).1.contains("已自动按全部接收处理"));
    }
}

both_databases! {
    fn two_submits_at_once_place_one_order_and_two_members_cannot_overrun_the_credit(app) {
        // The same sheet submitted twice at the same moment: one order.
        let buyer = app.signed_in("canteen@example.com");
        let fields = order_fields(app, &buyer, &THREE_VILLAGES, &delivery_day(2).to_string(), "on_account");
        let answers: Vec<StatusCode> = std::thread::scope(|s| {
            let posts: Vec<_> = (0..2).map(|_| s.spawn(|| post(&buyer, &fields).status())).collect();
            posts.into_iter().map(|p| p.join().expect("post")).collect()
        });
        assert_eq!(answers, [StatusCode::SEE_OTHER, StatusCode::SEE_OTHER]);
        assert_eq!(app.count("canteen_orders"), 1);

        // ¥3,000 of credit with ¥2,090 open: two members each ordering ¥700 on account at
        // once — only one of them fits.
        let org = org_id(app, DEMO_ORG);
        app.execute(&format!("UPDATE organizations SET credit_limit_fen = 300000, approval_threshold_fen = NULL WHERE id = {org}"));
        let members = [app.signed_in("canteen@example.com"), app.signed_in("approver@example.com")];
        let forms: Vec<_> = members.iter()
            .map(|m| order_fields(app, m, &[("huangmi-gaomian", "20"), ("jidan", "2")], &delivery_day(2).to_string(), "on_account"))
            .collect();
        let answers: Vec<StatusCode> = std::thread::scope(|s| {
            let posts: Vec<_> = members.iter().zip(&forms).map(|(m, f)| s.spawn(move || post(m, f).status())).collect();
            posts.into_iter().map(|p| p.join().expect("post")).collect()
        });
        let placed = answers.iter().filter(|s| **s == StatusCode::SEE_OTHER).count();
        let refused = answers.iter().filter(|s| **s == StatusCode::UNPROCESSABLE_ENTITY).count();
        assert_eq!((placed, refused), (1, 1), "{answers:?}");
        assert_eq!(app.count("canteen_orders"), 2);
    }
}

both_databases! {
    fn the_year_counts_what_was_accepted_less_credits_against_the_target(app) {
        let id = place_canteen_order(app, "canteen@example.com", &THREE_VILLAGES, "on_account");
        let xiedian = deliver(app, id, "xiaomi");
        let yangzhouyao = deliver(app, id, "huangmi-gaomian");
        let buyer = app.signed_in("canteen@example.com");
        let page = format!("/canteen/orders/{id}");
        let millet = app.scalar(&format!("SELECT id AS n FROM order_lines WHERE order_id = {id} AND product_id = {}", product_id(app, "xiaomi")));
        let res = buyer.submit(&page, &format!("{page}/villages/{xiedian}/acceptance"), &[
            (&format!("accepted-{millet}"), "48"), (&format!("rejected-{millet}"), "2"), (&format!("reason-{millet}"), "quality"),
        ]);
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        assert_eq!(buyer.submit(&page, &format!("{page}/villages/{yangzhouyao}/acceptance"), &[]).status(), StatusCode::SEE_OTHER);
        // Millet ¥390.00 less 2 units (¥15.60), cake flour ¥1,280.00; the eggs of 塔儿村
        // are not delivered yet and do not count.
        let (status, html) = buyer.text("/canteen");
        assert_eq!(status, StatusCode::OK);
        assert!(html.contains("已采购 ¥1,654.40"), "{html}");
        assert!(html.contains("<svg") && html.contains("谢店村") && html.contains("¥374.40"), "{html}");
        let csv = buyer.get("/canteen/target.csv").text().unwrap();
        assert!(csv.contains("谢店村,374.40") && csv.contains("杨州窑村,1280.00") && csv.contains("合计,,1654.40"), "{csv}");
        assert_eq!(buyer.get("/canteen/target.xlsx").status(), StatusCode::OK);
        // Another organisation's year is its own.
        let school = second_organisation(app);
        assert!(school.text("/canteen").1.contains("今年还没有验收的采购"));
        // The city's readers see the organisation among the canteens buying from it; a
        // team whose village it has not bought from yet does not.
        for reader in ["cadre@example.com", "admin@example.com"] {
            let (status, reports) = app.signed_in(reader).text("/reports");
            assert_eq!(status, StatusCode::OK);
            assert!(reports.contains(DEMO_ORG) && reports.contains("¥1,654.40"), "{reader}: {reports}");
        }
        let (status, theirs) = crate::households::taer_member(app).text("/reports");
        assert_eq!(status, StatusCode::OK);
        assert!(!theirs.contains(DEMO_ORG));
    }
}

/// A guest's checkout of one product with a staff code.
fn staff_checkout(
    app: &TestApp,
    slug: &str,
    quantity: &str,
    code: &str,
) -> reqwest::blocking::Response {
    checkout_with_code(&app.browser(), app, slug, quantity, code)
}

/// `guest`'s checkout of one product with a staff code.
fn checkout_with_code(
    guest: &Browser,
    app: &TestApp,
    slug: &str,
    quantity: &str,
    code: &str,
) -> reqwest::blocking::Response {
    crate::orders::add(guest, product_id(app, slug), quantity);
    let (token, key) = crate::orders::checkout_fields(&guest.text("/checkout").1);
    guest.post_form(
        "/checkout",
        &[
            ("csrf_token", token.as_str()),
            ("idempotency_key", key.as_str()),
            ("name", "王职工"),
            ("phone", "13912345678"),
            ("address", "大同市平城区某小区 3 号楼"),
            ("email", ""),
            ("note", ""),
            ("payment_method", "bank_transfer"),
            ("staff_code", code),
        ],
    )
}

both_databases! {
    fn staff_purchases_with_the_staff_code_count_towards_the_target(app) {
        // The city office makes the organisation a new code; the old one stops counting.
        let org = org_id(app, DEMO_ORG);
        let admin = app.signed_in("admin@example.com");
        let page = format!("/admin/organizations/{org}");
        assert_eq!(admin.submit(&page, &format!("{page}/staff-code"), &[]).status(), StatusCode::SEE_OTHER);
        assert_eq!(app.count("audit_log WHERE action = 'new_staff_code'"), 1);
        let buyer = app.signed_in("canteen@example.com");
        let home = buyer.text("/canteen").1;
        let code = home.split("<strong class=\"code\">").nth(1).and_then(|r| r.split('<').next()).expect("the staff code").to_string();
        assert_eq!(code.len(), 8);
        // A wrong code is refused, naming the field, and nothing is placed.
        let orders = app.count("orders");
        for wrong in ["NOSUCH01", "DTJG2026"] {
            let res = staff_checkout(app, "xiaomi", "2", wrong);
            assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "{wrong}");
            assert!(names_field(&res.text().expect("page"), "staff_code"), "{wrong}");
        }
        // A canteen member's own cart order is the organisation's, never a staff purchase.
        let res = checkout_with_code(&buyer, app, "xiaomi", "10", &code);
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert!(res.text().expect("page").contains("单位采购不是职工个人购买"));
        assert_eq!(app.count("orders"), orders);
        // Typed in lower case, it counts: a personal order, counted once paid.
        assert_eq!(staff_checkout(app, "xiaomi", "2", &code.to_lowercase()).status(), StatusCode::SEE_OTHER);
        let order = app.scalar("SELECT MAX(id) AS n FROM orders");
        assert_eq!(app.count(&format!("orders WHERE id = {order} AND channel = 'store' AND organization_id IS NULL AND staff_organization_id = {org}")), 1);
        assert!(buyer.text("/canteen").1.contains("今年还没有验收的采购"), "not before it is paid");
        let team = app.signed_in("team@example.com");
        let order_page = format!("/team/orders/{order}");
        assert_eq!(team.submit(&order_page, &format!("{order_page}/paid"), &[("reference", "ICBC 88")]).status(), StatusCode::SEE_OTHER);
        let total = app.scalar(&format!("SELECT total_fen AS n FROM orders WHERE id = {order}"));
        let amount = format!("¥{}.{:02}", total / 100, total % 100);
        let home = buyer.text("/canteen").1;
        assert!(home.contains(&format!("已采购 {amount}")) && home.contains(&format!("其中职工个人购买 {amount}")), "{home}");
        // Another organisation's target does not count it.
        let school = second_organisation(app);
        assert!(school.text("/canteen").1.contains("今年还没有验收的采购"));
    }
}
