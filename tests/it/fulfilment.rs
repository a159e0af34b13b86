//! After payment: each village team packs, ships and delivers its own part of an order,
//! the day's packing list, cancellations, manual refunds, and mail written to files when
//! no SMTP server is set.

use reqwest::StatusCode;

use crate::households::taer_member;
use crate::orders::{app_token, buy};
use crate::stock::stock_of;
use crate::storefront::product_id;
use crate::support::{TestApp, both_databases, csrf_token, location};

/// A guest's bank-transfer order of flour (杨州窑村, team@example.com) and eggs (塔儿村),
/// recorded as paid by the team; returns its id.
fn paid_two_village_order(app: &TestApp) -> i64 {
    let res = buy(
        app,
        &[("huangmi-gaomian", "2"), ("jidan", "1")],
        "bank_transfer",
        "buyer@example.com",
    );
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let order = app.scalar("SELECT MAX(id) AS n FROM orders");
    let team = app.signed_in("team@example.com");
    let page = format!("/team/orders/{order}");
    let res = team.submit(&page, &format!("{page}/paid"), &[("reference", "ABC 123")]);
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    order
}

fn village(app: &TestApp, slug: &str) -> i64 {
    app.scalar(&format!(
        "SELECT id AS n FROM villages WHERE slug = '{slug}'"
    ))
}

fn status(app: &TestApp, order: i64) -> String {
    #[derive(diesel::QueryableByName)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::Text)]
        status: String,
    }
    let row: Row = diesel::RunQueryDsl::get_result(
        diesel::sql_query(format!("SELECT status FROM orders WHERE id = {order}")),
        &mut *app.conn() as &mut village_market::db::DbConn,
    )
    .expect("order");
    row.status
}

both_databases! {
    fn each_village_ships_its_own_part_and_the_order_follows_the_slowest(app) {
        let order = paid_two_village_order(app);
        let (yzy, taer) = (village(app, "yangzhouyao"), village(app, "taer"));
        let team = app.signed_in("team@example.com");
        let eggs_team = taer_member(app);
        let page = format!("/team/orders/{order}");
        let step = |v: i64, s: &str| format!("{page}/villages/{v}/{s}");

        // Shipping needs packing first, and a carrier and tracking number.
        let res = team.submit(&page, &step(yzy, "ship"), &[("carrier", "顺丰"), ("tracking_number", "SF1")]);
        assert_eq!(res.status(), StatusCode::CONFLICT);
        assert_eq!(team.submit(&page, &step(yzy, "pack"), &[]).status(), StatusCode::SEE_OTHER);
        assert_eq!(team.submit(&page, &step(yzy, "pack"), &[]).status(), StatusCode::CONFLICT, "packed once");
        let res = team.submit(&page, &step(yzy, "ship"), &[("carrier", ""), ("tracking_number", "")]);
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let html = res.text().unwrap_or_default();
        assert!(html.contains("id=\"carrier\"") && html.contains("field-error"), "the page names the field");
        let res = team.submit(&page, &step(yzy, "ship"), &[("carrier", "顺丰"), ("tracking_number", "SF1234567890")]);
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        assert_eq!(status(app, order), "paid", "the eggs are not packed yet");

        // The other team cannot touch this village's part, nor the reverse.
        let res = eggs_team.submit(&format!("/team/orders/{order}"), &step(yzy, "deliver"), &[]);
        assert_eq!(res.status(), StatusCode::NOT_FOUND);
        assert_eq!(team.submit(&page, &step(taer, "pack"), &[]).status(), StatusCode::NOT_FOUND);
        let eggs_page = eggs_team.text(&page).1;
        assert!(eggs_page.contains("散养鸡蛋") && !eggs_page.contains("黄米糕面"), "each team sees its own lines");

        for (s, form) in [("pack", vec![]), ("ship", vec![("carrier", "邮政"), ("tracking_number", "EMS42")])] {
            assert_eq!(eggs_team.submit(&page, &step(taer, s), &form).status(), StatusCode::SEE_OTHER);
        }
        assert_eq!(status(app, order), "shipped");
        assert_eq!(team.submit(&page, &step(yzy, "deliver"), &[]).status(), StatusCode::SEE_OTHER);
        assert_eq!(status(app, order), "shipped");
        assert_eq!(eggs_team.submit(&page, &step(taer, "deliver"), &[]).status(), StatusCode::SEE_OTHER);
        assert_eq!(status(app, order), "delivered");

        let buyer_page = app.browser().text(&format!("/orders/{}", app_token(app, order))).1;
        assert!(buyer_page.contains("SF1234567890") && buyer_page.contains("EMS42") && buyer_page.contains("已送达"));
        assert_eq!(app.count(&format!("order_events WHERE order_id = {order} AND to_status = 'shipped' AND actor_label = 'taer@example.com'")), 2, "the village's step and the order's");
        assert_eq!(app.count("email_outbox WHERE template = 'order_shipped' AND recipient = 'buyer@example.com'"), 2, "one per village");
        assert_eq!(app.signed_in("cadre@example.com").get(&step(yzy, "pack")).status(), StatusCode::NOT_FOUND, "GET is no route");
    }

    fn unpaid_orders_are_not_sent_but_cash_on_delivery_is(app) {
        let yzy = village(app, "yangzhouyao");
        let team = app.signed_in("team@example.com");
        buy(app, &[("huangmi-gaomian", "1")], "bank_transfer", "");
        let unpaid = app.scalar("SELECT MAX(id) AS n FROM orders");
        let page = format!("/team/orders/{unpaid}");
        let res = team.submit(&page, &format!("{page}/villages/{yzy}/pack"), &[]);
        assert_eq!(res.status(), StatusCode::CONFLICT);
        assert_eq!(app.count(&format!("shipments WHERE order_id = {unpaid} AND status = 'pending'")), 1);

        buy(app, &[("huangmi-gaomian", "1")], "cash_on_delivery", "");
        let cod = app.scalar("SELECT MAX(id) AS n FROM orders");
        // Sent before it is paid: the team hears of it when it is placed, once.
        let told = "email_outbox WHERE template = 'team_new_order' AND recipient = 'team@example.com' AND data LIKE '%\"cod\":true%'";
        assert_eq!(app.count(told), 1);
        let page = format!("/team/orders/{cod}");
        for (s, form) in [("pack", vec![]), ("ship", vec![("carrier", "村邮站"), ("tracking_number", "C-7")]), ("deliver", vec![])] {
            assert_eq!(team.submit(&page, &format!("{page}/villages/{yzy}/{s}"), &form).status(), StatusCode::SEE_OTHER, "{s}");
        }
        assert_eq!(status(app, cod), "pending_payment", "delivered, cash not yet recorded");
        // On its way or delivered, it can no longer be cancelled (the buyer would keep the
        // goods unpaid and their stock would be sold twice).
        assert_eq!(team.submit(&page, &format!("{page}/cancel"), &[]).status(), StatusCode::CONFLICT);
        assert!(!app.browser().text(&format!("/orders/{}", app_token(app, cod))).1.contains("/cancel\""), "no cancel button for the buyer");
        let res = team.submit(&page, &format!("{page}/paid"), &[("reference", "")]);
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        assert_eq!(status(app, cod), "delivered", "paid on delivery: the order is complete");
        assert_eq!(app.count("email_outbox WHERE template = 'team_new_order'"), 1, "not told again when the cash is recorded");
    }

    fn the_packing_list_holds_the_days_paid_lines_of_one_village(app) {
        let order = paid_two_village_order(app);
        buy(app, &[("huangmi-gaomian", "5")], "bank_transfer", "");
        let unpaid = app.scalar("SELECT MAX(id) AS n FROM orders");
        let team = app.signed_in("team@example.com");
        let yzy = village(app, "yangzhouyao");
        let day = village_market::domain::china_date(village_market::domain::now_utc()).to_string();
        let (code, html) = team.text(&format!("/team/packing?village={yzy}&date={day}"));
        assert_eq!(code, StatusCode::OK);
        let number = |id: i64| {
            #[derive(diesel::QueryableByName)]
            struct Row {
                #[diesel(sql_type = diesel::sql_types::Text)]
                number: String,
            }
            let row: Row = diesel::RunQueryDsl::get_result(
                diesel::sql_query(format!("SELECT number FROM orders WHERE id = {id}")),
                &mut *app.conn() as &mut village_market::db::DbConn,
            ).expect("order");
            row.number
        };
        assert!(html.contains(&number(order)) && html.contains("黄米糕面 × 2"), "{html}");
        assert!(!html.contains(&number(unpaid)), "unpaid orders are not packed");
        assert!(!html.contains("散养鸡蛋"), "another village's goods are not on this list");
        let res = team.get(&format!("/team/packing?village={yzy}&date={day}&format=csv"));
        assert_eq!(res.status(), StatusCode::OK);
        assert!(res.headers()["content-disposition"].to_str().unwrap_or_default().contains(".csv"));
        let bytes = res.bytes().expect("csv");
        assert!(bytes.starts_with(&[0xEF, 0xBB, 0xBF]), "a BOM, so that Excel reads UTF-8");
        let text = String::from_utf8_lossy(&bytes[3..]).to_string();
        let rows: Vec<&str> = text.lines().collect();
        assert_eq!(rows.len(), 2, "{text}");
        assert!(rows[0].starts_with("订单号,收货人,手机号"));
        assert!(rows[1].contains(&number(order)) && rows[1].contains(",2,"));
        let taer = village(app, "taer");
        assert_eq!(team.get(&format!("/team/packing?village={taer}")).status(), StatusCode::NOT_FOUND);
        assert_eq!(team.get("/team/packing?date=yesterday").status(), StatusCode::BAD_REQUEST);
        assert_eq!(team.get(&format!("/team/packing?village={yzy}&format=pdf")).status(), StatusCode::BAD_REQUEST);
    }

    fn a_buyer_cancels_an_unpaid_order_and_the_stock_returns(app) {
        let flour = product_id(app, "huangmi-gaomian");
        let before = stock_of(app, flour);
        let buyer = app.browser();
        crate::orders::add(&buyer, flour, "3");
        let (token, key) = crate::orders::checkout_fields(&buyer.text("/checkout").1);
        let res = crate::orders::place_with(&buyer, &token, &key, "bank_transfer", "");
        let page = location(&res);
        assert_eq!(stock_of(app, flour), before - 3);
        let token = csrf_token(&buyer.text(&page).1).expect("the order page has a cancel form");
        let res = buyer.submit(&page, &format!("{page}/cancel"), &[]);
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        assert_eq!(stock_of(app, flour), before);
        assert!(buyer.text(&page).1.contains("已取消"));
        let res = buyer.post_form(&format!("{page}/cancel"), &[("csrf_token", &token)]);
        assert_eq!(res.status(), StatusCode::CONFLICT, "cancelled once");
        assert_eq!(stock_of(app, flour), before);
        let res = app.browser().post_form(&format!("{page}/cancel"), &[]);
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "no CSRF token, nothing done");
    }

    fn a_team_does_not_cancel_an_order_with_another_villages_goods(app) {
        let res = buy(app, &[("huangmi-gaomian", "1"), ("jidan", "1")], "bank_transfer", "");
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        let order = app.scalar("SELECT MAX(id) AS n FROM orders");
        let page = format!("/team/orders/{order}");
        for team in [app.signed_in("team@example.com"), taer_member(app)] {
            let res = team.submit(&page, &format!("{page}/cancel"), &[]);
            assert_eq!(res.status(), StatusCode::CONFLICT);
            assert_eq!(status(app, order), "pending_payment", "the other village's part stays");
        }
        let buyer_page = format!("/orders/{}", app_token(app, order));
        let res = app.browser().submit(&buyer_page, &format!("{buyer_page}/cancel"), &[]);
        assert_eq!(res.status(), StatusCode::SEE_OTHER, "its buyer may");
        assert_eq!(status(app, order), "cancelled");
    }

    fn a_manual_refund_of_every_line_refunds_the_order_to_the_fen(app) {
        let order = paid_two_village_order(app);
        let eggs = product_id(app, "jidan");
        let eggs_stock = stock_of(app, eggs);
        let team = app.signed_in("team@example.com");
        let eggs_team = taer_member(app);
        let page = format!("/team/orders/{order}");
        let line = |slug: &str| app.scalar(&format!("SELECT l.id AS n FROM order_lines l JOIN products p ON p.id = l.product_id WHERE l.order_id = {order} AND p.slug = '{slug}'"));
        let (flour_line, eggs_line) = (line("huangmi-gaomian"), line("jidan"));
        // A team refunds only its own villages' lines.
        let res = team.submit(&page, &format!("{page}/refund"), &[(&format!("qty_{eggs_line}"), "1"), ("reason", "x")]);
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(app.count("refunds"), 0);
        let res = team.submit(&page, &format!("{page}/refund"), &[(&format!("qty_{flour_line}"), "2"), ("reason", "发错货")]);
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        assert_eq!(status(app, order), "partially_refunded");
        assert_eq!(app.count(&format!("shipments WHERE order_id = {order} AND status = 'cancelled'")), 1, "nothing left to ship from 杨州窑");
        let res = eggs_team.submit(&page, &format!("{page}/refund"), &[(&format!("qty_{eggs_line}"), "1"), ("reason", "碎了"), ("restock", "on")]);
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        assert_eq!(status(app, order), "refunded");
        assert_eq!(app.count(&format!("orders WHERE id = {order} AND refunded_fen = total_fen")), 1);
        assert_eq!(app.scalar("SELECT CAST(SUM(amount_fen) AS BIGINT) AS n FROM refund_lines"), app.scalar(&format!("SELECT total_fen AS n FROM orders WHERE id = {order}")));
        assert_eq!(stock_of(app, eggs), eggs_stock + 1);
        assert_eq!(app.count("refunds WHERE provider_refund_id IS NULL"), 2, "bank transfers are paid back by hand");
        assert_eq!(app.count(&format!("audit_log WHERE entity = 'order' AND entity_id = {order} AND action = 'refund'")), 2);
    }

    fn a_team_reads_only_its_own_villages_refunds_and_steps(app) {
        let order = paid_two_village_order(app);
        let (yzy, taer) = (village(app, "yangzhouyao"), village(app, "taer"));
        let team = app.signed_in("team@example.com");
        let eggs_team = taer_member(app);
        let page = format!("/team/orders/{order}");
        let line = |slug: &str| app.scalar(&format!("SELECT l.id AS n FROM order_lines l JOIN products p ON p.id = l.product_id WHERE l.order_id = {order} AND p.slug = '{slug}'"));
        let eggs_line = line("jidan");
        let res = eggs_team.submit(&page, &format!("{page}/villages/{taer}/pack"), &[]);
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        let res = eggs_team.submit(&page, &format!("{page}/villages/{taer}/ship"), &[("carrier", "韵达快递"), ("tracking_number", "YD99887766")]);
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        let res = eggs_team.submit(&page, &format!("{page}/refund"), &[(&format!("qty_{eggs_line}"), "1"), ("reason", "蛋壳碎了一地")]);
        assert_eq!(res.status(), StatusCode::SEE_OTHER);

        let theirs = eggs_team.text(&page).1;
        assert!(theirs.contains("蛋壳碎了一地") && theirs.contains("YD99887766"), "{theirs}");
        let ours = team.text(&page).1;
        assert!(!ours.contains("蛋壳碎了一地"), "another village's refund reason: {ours}");
        assert!(!ours.contains("YD99887766"), "another village's shipping note: {ours}");
        assert!(!ours.contains(&format!("village {taer}")), "{ours}");
        assert!(!ours.contains("已退款"), "another village's refund in the order's header: {ours}");
        assert!(theirs.contains("已退款"), "{theirs}");
        // Its own steps it still reads.
        let res = team.submit(&page, &format!("{page}/villages/{yzy}/pack"), &[]);
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        assert!(team.text(&page).1.contains(&format!("village {yzy}")));
    }

    fn without_smtp_mail_is_written_to_files(app) {
        paid_two_village_order(app);
        let dir = app.database.dir.join("data").join("mail");
        crate::support::wait_until("three .eml files", std::time::Duration::from_secs(20), || {
            std::fs::read_dir(&dir).map(|d| d.filter_map(Result::ok).filter(|e| e.path().extension().is_some_and(|x| x == "eml")).count()).unwrap_or(0) >= 3
        });
        let mails: Vec<crate::support::Mail> = std::fs::read_dir(&dir).expect("mail dir").filter_map(Result::ok)
            .filter(|e| e.path().extension().is_some_and(|x| x == "eml"))
            .map(|e| crate::support::Mail::parse(&std::fs::read(e.path()).expect("eml")))
            .collect();
        assert_eq!(mails.len(), 3, "received + paid to the buyer, new order to the team: {mails:?}");
        assert!(mails.iter().any(|m| m.to == "team@example.com" && m.subject.contains("新的已付款订单")));
        // A file is written before its message is marked sent.
        crate::support::wait_until("three sent", std::time::Duration::from_secs(10), || {
            app.count("email_outbox WHERE status = 'sent'") == 3
        });
    }
}
