//! Buying: the cart, checkout with stock reserved in the same transaction, double
//! submits, short stock, concurrency, and reservations that run out.

use std::sync::Arc;

use reqwest::StatusCode;
use village_market::domain::now_utc;
use village_market::domain::orders::expire_reservations;

use crate::households::taer_member;
use crate::stock::stock_of;
use crate::storefront::product_id;
use crate::support::{Browser, TestApp, both_databases, csrf_token, location};

pub fn add(browser: &Browser, product: i64, quantity: &str) -> StatusCode {
    let page = browser.text(&format!("/products/{product}")).1;
    let token = csrf_token(&page).expect("the product page has a cart form");
    browser
        .post_form(
            "/cart",
            &[
                ("csrf_token", &token),
                ("product_id", &product.to_string()),
                ("quantity", quantity),
            ],
        )
        .status()
}

pub fn checkout_fields(page: &str) -> (String, String) {
    let token = csrf_token(page).expect("csrf");
    let at = page.find("name=\"idempotency_key\" value=\"").expect("key")
        + "name=\"idempotency_key\" value=\"".len();
    let key = page[at..].split('"').next().expect("key").to_string();
    (token, key)
}

fn place(browser: &Browser, token: &str, key: &str) -> reqwest::blocking::Response {
    place_with(browser, token, key, "bank_transfer", "")
}

pub fn place_with(
    browser: &Browser,
    token: &str,
    key: &str,
    payment_method: &str,
    email: &str,
) -> reqwest::blocking::Response {
    browser.post_form(
        "/checkout",
        &[
            ("csrf_token", token),
            ("idempotency_key", key),
            ("name", "李大姐"),
            ("phone", "13912345678"),
            ("address", "大同市平城区某小区 3 号楼"),
            ("email", email),
            ("note", ""),
            ("payment_method", payment_method),
        ],
    )
}

/// A new guest buys `items` (product slug, quantity) and pays by `payment_method`;
/// returns the checkout's response (a redirect to the order or to the payment page).
pub fn buy(
    app: &TestApp,
    items: &[(&str, &str)],
    payment_method: &str,
    email: &str,
) -> reqwest::blocking::Response {
    let buyer = app.browser();
    for (slug, quantity) in items {
        assert_eq!(
            add(&buyer, product_id(app, slug), quantity),
            StatusCode::SEE_OTHER
        );
    }
    let (token, key) = checkout_fields(&buyer.text("/checkout").1);
    place_with(&buyer, &token, &key, payment_method, email)
}

both_databases! {
    fn a_guest_buys_from_two_villages_with_bulk_prices(app) {
        let buyer = app.browser();
        let flour = product_id(app, "huangmi-gaomian");
        let eggs = product_id(app, "jidan");
        let (flour_before, eggs_before) = (stock_of(app, flour), stock_of(app, eggs));
        assert_eq!(add(&buyer, flour, "10"), StatusCode::SEE_OTHER);
        assert_eq!(add(&buyer, eggs, "1"), StatusCode::SEE_OTHER);
        assert_eq!(add(&buyer, eggs, "1"), StatusCode::SEE_OTHER, "adding again adds up");
        let cart = buyer.text("/cart").1;
        assert!(cart.contains("¥35.00") && cart.contains("¥350.00"), "the 10-bag tier applies: {cart}");
        assert!(cart.contains("¥45.00") && cart.contains("¥90.00"));
        assert!(cart.contains("¥440.00"), "total");

        let page = buyer.text("/checkout").1;
        let (token, key) = checkout_fields(&page);
        let res = place(&buyer, &token, &key);
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        let order_path = location(&res);
        assert!(order_path.starts_with("/orders/"));
        assert_eq!(stock_of(app, flour), flour_before - 10, "reserved");
        assert_eq!(stock_of(app, eggs), eggs_before - 2);

        // The same form submitted again: one order, reserved once.
        let again = place(&buyer, &token, &key);
        assert_eq!(location(&again), order_path);
        assert_eq!(app.count("orders"), 1);
        assert_eq!(stock_of(app, flour), flour_before - 10);
        assert_eq!(app.count("order_lines"), 2);
        assert_eq!(app.count("orders WHERE total_fen = 44000 AND status = 'pending_payment' AND channel = 'store'"), 1);

        let (status, html) = app.browser().text(&order_path);
        assert_eq!(status, StatusCode::OK, "the link works without signing in");
        assert!(html.contains("待付款") && html.contains("黄米糕面") && html.contains("¥440.00"));
        assert_eq!(app.browser().get("/orders/0000").status(), StatusCode::NOT_FOUND);
        assert!(buyer.text("/cart").1.contains("购物车是空的"), "the cart is emptied");
    }

    fn signed_in_buyers_see_their_order_history(app) {
        let canteen = app.signed_in("canteen@example.com");
        add(&canteen, product_id(app, "yancai"), "20");
        let (token, key) = checkout_fields(&canteen.text("/checkout").1);
        let order_path = location(&place(&canteen, &token, &key));
        assert_eq!(app.count("orders WHERE channel = 'canteen' AND organization_id IS NOT NULL AND total_fen = 50000"), 1, "20 jars at the canteen tier");
        let history = canteen.text("/my/orders").1;
        assert!(history.contains(&order_path) && history.contains("¥500.00"));
        // A guest's order is nobody's history; others do not see this one.
        placed_order(app, "jidan", "1");
        assert_eq!(canteen.text("/my/orders").1.matches("href=\"/orders/").count(), 1, "only the canteen's own order");
        assert!(!app.signed_in("cadre@example.com").text("/my/orders").1.contains(&order_path));
        assert_eq!(app.browser().get("/my/orders").status(), StatusCode::SEE_OTHER);
    }

    fn a_canteen_buyer_gets_canteen_tiers(app) {
        let canteen = app.signed_in("canteen@example.com");
        let flour = product_id(app, "huangmi-gaomian");
        assert_eq!(add(&canteen, flour, "40"), StatusCode::SEE_OTHER);
        assert!(canteen.text("/cart").1.contains("¥32.00"), "the canteen-only 40-bag tier");
        assert_eq!(add(&app.browser(), flour, "40"), StatusCode::SEE_OTHER);
        let guest = app.browser();
        add(&guest, flour, "40");
        let cart = guest.text("/cart").1;
        assert!(cart.contains("¥35.00") && !cart.contains("¥32.00"), "guests do not get it");
    }

    fn bad_quantities_and_products_are_refused(app) {
        let buyer = app.browser();
        let flour = product_id(app, "huangmi-gaomian");
        for quantity in ["0", "-1", "1.5", "99999999999", "abc", ""] {
            assert_eq!(add(&buyer, flour, quantity), StatusCode::BAD_REQUEST, "{quantity:?}");
        }
        let page = buyer.text(&format!("/products/{flour}")).1;
        let token = csrf_token(&page).expect("token");
        let res = buyer.post_form("/cart", &[("csrf_token", &token), ("product_id", "999999"), ("quantity", "1")]);
        assert_eq!(res.status(), StatusCode::BAD_REQUEST);
        assert!(res.text().expect("page").contains("product_id"));
        // A price field sent along is ignored: prices come from the catalogue.
        let res = buyer.post_form("/cart", &[
            ("csrf_token", &token), ("product_id", &flour.to_string()), ("quantity", "1"), ("unit_price_fen", "1"),
        ]);
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        assert!(buyer.text("/cart").1.contains("¥38.00"));
        // Without the session's token nothing changes.
        let res = buyer.post_form("/cart", &[("product_id", &flour.to_string()), ("quantity", "5")]);
        assert_eq!(res.status(), StatusCode::FORBIDDEN);
        // A product taken off sale after it was put in the cart cannot be checked out.
        let page = buyer.text("/checkout").1;
        let (token, key) = checkout_fields(&page);
        app.execute(&format!("UPDATE products SET status = 'paused' WHERE id = {flour}"));
        let before = stock_of(app, flour);
        let res = place(&buyer, &token, &key);
        assert_eq!(res.status(), StatusCode::CONFLICT);
        assert!(res.text().expect("page").contains("已暂停销售"));
        assert_eq!((app.count("orders"), stock_of(app, flour)), (0, before));
        // Bad delivery details are named and nothing is written.
        app.execute(&format!("UPDATE products SET status = 'on_sale' WHERE id = {flour}"));
        let res = buyer.post_form("/checkout", &[
            ("csrf_token", &token), ("idempotency_key", &key), ("name", ""), ("phone", "123"), ("address", ""),
            ("payment_method", "gold bars"),
        ]);
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let html = res.text().expect("page");
        assert!(html.contains("请填 11 位手机号") && html.contains("请从列表中选择") && html.contains("必填"));
        assert_eq!(app.count("orders"), 0);
    }

    fn a_short_line_reserves_nothing_and_says_how_many_are_left(app) {
        let buyer = app.browser();
        let flour = product_id(app, "huangmi-gaomian");
        let liquor = product_id(app, "yuanjiang-jiu");
        add(&buyer, flour, "5");
        add(&buyer, liquor, "3");
        let page = buyer.text("/checkout").1;
        let (token, key) = checkout_fields(&page);
        app.execute(&format!("UPDATE products SET stock = 2 WHERE id = {liquor}"));
        let flour_before = stock_of(app, flour);
        let res = place(&buyer, &token, &key);
        assert_eq!(res.status(), StatusCode::CONFLICT);
        let html = res.text().expect("page");
        assert!(html.contains("原浆酒") && html.contains("只剩 2 了"), "{html}");
        assert_eq!(stock_of(app, flour), flour_before, "the flour line was not reserved either");
        assert_eq!(stock_of(app, liquor), 2);
        assert_eq!(app.count("orders"), 0);
    }

    fn an_unpaid_order_expires_and_gives_its_stock_back(app) {
        let buyer = app.browser();
        let eggs = product_id(app, "jidan");
        let before = stock_of(app, eggs);
        add(&buyer, eggs, "4");
        let page = buyer.text("/checkout").1;
        let (token, key) = checkout_fields(&page);
        let order_path = location(&place(&buyer, &token, &key));
        assert_eq!(stock_of(app, eggs), before - 4);
        assert_eq!(expire_reservations(&mut app.conn(), now_utc()).expect("expiry"), 0, "not yet");
        let later = now_utc() + chrono::Duration::minutes(31);
        assert_eq!(expire_reservations(&mut app.conn(), later).expect("expiry"), 1);
        assert_eq!(stock_of(app, eggs), before, "stock returned");
        assert_eq!(expire_reservations(&mut app.conn(), later).expect("expiry"), 0, "once only");
        assert_eq!(stock_of(app, eggs), before);
        assert!(app.browser().text(&order_path).1.contains("已过期"));
        assert_eq!(app.count("order_events WHERE to_status = 'expired'"), 1);
    }

    fn cash_on_delivery_keeps_its_reservation(app) {
        let buyer = app.browser();
        let eggs = product_id(app, "jidan");
        add(&buyer, eggs, "2");
        let (token, key) = checkout_fields(&buyer.text("/checkout").1);
        let res = buyer.post_form("/checkout", &[
            ("csrf_token", &token), ("idempotency_key", &key), ("name", "赵师傅"), ("phone", "13912345678"),
            ("address", "大同市云州区"), ("payment_method", "cash_on_delivery"),
        ]);
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        let later = now_utc() + chrono::Duration::days(2);
        assert_eq!(expire_reservations(&mut app.conn(), later).expect("expiry"), 0);
        assert_eq!(app.count("orders WHERE payment_method = 'cash_on_delivery' AND status = 'pending_payment' AND reserved_until IS NULL"), 1);
    }

    fn two_hundred_buyers_race_for_fifty_units(app) {
        let flour = product_id(app, "huangmi-gaomian");
        app.execute(&format!("UPDATE products SET stock = 50 WHERE id = {flour}"));
        // Each buyer fills a cart and opens the checkout page first…
        let buyers: Vec<(Browser, String, String)> = (0..200)
            .map(|_| {
                let buyer = app.browser();
                assert_eq!(add(&buyer, flour, "1"), StatusCode::SEE_OTHER);
                let (token, key) = checkout_fields(&buyer.text("/checkout").1);
                (buyer, token, key)
            })
            .collect();
        // …then all of them press "place order" at once.
        let buyers = Arc::new(buyers);
        let threads: Vec<_> = (0..20)
            .map(|t| {
                let buyers = Arc::clone(&buyers);
                std::thread::spawn(move || {
                    (t..200).step_by(20).map(|i| {
                        let (buyer, token, key) = &buyers[i];
                        place(buyer, token, key).status()
                    }).collect::<Vec<_>>()
                })
            })
            .collect();
        let statuses: Vec<StatusCode> = threads.into_iter().flat_map(|t| t.join().expect("thread")).collect();
        let placed = statuses.iter().filter(|s| **s == StatusCode::SEE_OTHER).count();
        let refused = statuses.iter().filter(|s| **s == StatusCode::CONFLICT).count();
        assert_eq!((placed, refused), (50, 150), "{statuses:?}");
        assert_eq!(stock_of(app, flour), 0);
        assert_eq!(app.count("orders"), 50);
        let reserved = app.scalar(&format!("SELECT CAST(COALESCE(SUM(quantity), 0) AS BIGINT) AS n FROM order_lines WHERE product_id = {flour}"));
        assert_eq!(stock_of(app, flour) + reserved, 50, "stock + reserved = what was there");
    }
}

pub fn placed_order(app: &TestApp, slug: &str, quantity: &str) -> i64 {
    let buyer = app.browser();
    add(&buyer, product_id(app, slug), quantity);
    let (token, key) = checkout_fields(&buyer.text("/checkout").1);
    assert_eq!(place(&buyer, &token, &key).status(), StatusCode::SEE_OTHER);
    app.scalar("SELECT MAX(id) AS n FROM orders")
}

both_databases! {
    fn a_team_records_a_bank_transfer_once(app) {
        let order = placed_order(app, "huangmi-gaomian", "3");
        let team = app.signed_in("team@example.com");
        let list = team.text("/team/orders").1;
        assert!(list.contains(&format!("/team/orders/{order}")) && list.contains("¥114.00"));
        let page = format!("/team/orders/{order}");
        let html = team.text(&page).1;
        assert!(html.contains("黄米糕面") && html.contains("13912345678"));
        let res = team.submit(&page, &format!("{page}/paid"), &[("reference", "")]);
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "a bank transfer needs its reference");
        let res = team.submit(&page, &format!("{page}/paid"), &[("reference", "ICBC 2026112800017")]);
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        assert_eq!(app.count(&format!("orders WHERE id = {order} AND status = 'paid' AND reserved_until IS NULL")), 1);
        assert_eq!(app.count(&format!("order_events WHERE order_id = {order} AND to_status = 'paid' AND actor_label = 'team@example.com' AND note = 'ICBC 2026112800017'")), 1);
        assert_eq!(app.count(&format!("audit_log WHERE entity = 'order' AND entity_id = {order} AND action = 'order_paid'")), 1);
        // Paid once: a second time is refused, and expiry leaves it alone.
        let res = team.post_form(&format!("{page}/paid"), &[("csrf_token", &csrf_token(&team.text(&page).1).expect("token")), ("reference", "again")]);
        assert_eq!(res.status(), StatusCode::CONFLICT);
        assert_eq!(app.count(&format!("order_events WHERE order_id = {order} AND to_status = 'paid'")), 1);
        let later = now_utc() + chrono::Duration::hours(2);
        assert_eq!(expire_reservations(&mut app.conn(), later).expect("expiry"), 0);
        assert!(app.browser().text(&format!("/orders/{}", app_token(app, order))).1.contains("已付款"));
        assert!(team.text("/team/orders?status=paid").1.contains(&format!("/team/orders/{order}")));
        assert_eq!(team.get("/team/orders?status=nonsense").status(), StatusCode::BAD_REQUEST);
    }

    fn another_villages_team_does_not_see_the_order(app) {
        let order = placed_order(app, "huangmi-gaomian", "1");
        let taer = taer_member(app);
        assert!(!taer.text("/team/orders").1.contains(&format!("/team/orders/{order}")));
        assert_eq!(taer.get(&format!("/team/orders/{order}")).status(), StatusCode::NOT_FOUND);
        let token = csrf_token(&taer.text("/team/orders").1).expect("token");
        let res = taer.post_form(&format!("/team/orders/{order}/paid"), &[("csrf_token", &token), ("reference", "x")]);
        assert_eq!(res.status(), StatusCode::NOT_FOUND);
        assert_eq!(app.count(&format!("orders WHERE id = {order} AND status = 'pending_payment'")), 1);
        assert_eq!(app.signed_in("cadre@example.com").get("/team/orders").status(), StatusCode::FORBIDDEN);
    }
}

pub fn app_token(app: &TestApp, order: i64) -> String {
    #[derive(diesel::QueryableByName)]
    struct Token {
        #[diesel(sql_type = diesel::sql_types::Text)]
        token: String,
    }
    let row: Token = diesel::RunQueryDsl::get_result(
        diesel::sql_query(format!("SELECT token FROM orders WHERE id = {order}")),
        &mut *app.conn() as &mut village_market::db::DbConn,
    )
    .expect("order");
    row.token
}
