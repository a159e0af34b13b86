//! Paying online: a full Stripe Checkout purchase against the project's own
//! Stripe-compatible server, and the webhook under replays, reordering, bad signatures,
//! stale timestamps, wrong amounts and events for orders that already expired.

use reqwest::StatusCode;
use serde_json::Value;
use village_market::db::Backend;
use village_market::domain::now_utc;
use village_market::domain::orders::expire_reservations;

use crate::orders::{app_token, buy};
use crate::stock::stock_of;
use crate::storefront::product_id;
use crate::stripe_server::StripeServer;
use crate::support::{SmtpServer, TestApp, both_backends, csrf_token, location};

/// A server with Stripe keys pointing at `stripe`, and optionally a real SMTP server.
pub fn shop(backend: Backend, stripe: &StripeServer, smtp: Option<&SmtpServer>) -> TestApp {
    TestApp::start_with(backend, |args| {
        args.stripe_secret_key = Some(stripe.secret_key.clone());
        args.stripe_webhook_secret = Some(stripe.webhook_secret.clone());
        args.stripe_api_base = Some(stripe.base.clone());
        args.smtp_url = smtp.map(SmtpServer::url);
    })
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// Places a Stripe order of `items`; returns (order id, checkout session id).
fn stripe_order(
    app: &TestApp,
    stripe: &StripeServer,
    items: &[(&str, &str)],
    email: &str,
) -> (i64, String) {
    let res = buy(app, items, "stripe", email);
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let to = location(&res);
    assert!(
        to.starts_with(&stripe.base),
        "the buyer is sent to Stripe's page: {to}"
    );
    let order = app.scalar("SELECT MAX(id) AS n FROM orders");
    let session = to.rsplit('/').next().expect("session id").to_string();
    (order, session)
}

fn outcome(body: &str) -> String {
    let json: Value = serde_json::from_str(body).expect("the webhook answers JSON");
    json["outcome"].as_str().unwrap_or_default().to_string()
}

both_backends! {
    fn a_buyer_pays_two_villages_through_stripe_and_everyone_is_told(backend) {
        let stripe = StripeServer::start();
        let smtp = SmtpServer::start();
        let app = shop(backend, &stripe, Some(&smtp));
        let (order, session_id) = stripe_order(&app, &stripe, &[("huangmi-gaomian", "2"), ("jidan", "1")], "buyer@example.com");
        let total = app.scalar(&format!("SELECT total_fen AS n FROM orders WHERE id = {order}"));
        assert_eq!(total, 2 * 3800 + 4500);

        let session = stripe.session(&session_id).expect("the session was created");
        assert_eq!(session["amount_total"], total, "{session}");
        assert_eq!(session["currency"], "cny");
        assert_eq!(session["metadata"]["order_id"], order.to_string());
        let token = app_token(&app, order);
        assert!(session["success_url"].as_str().unwrap_or_default().contains(&token));
        assert!(session["payment_method_types"].to_string().contains("wechat_pay"));
        // The checkout closes when the reservation does (Stripe's minimum is 30 minutes).
        let sent = stripe.requests().into_iter().find(|(m, p, _)| m == "POST" && p == "/v1/checkout/sessions").expect("the session request").2;
        let expires: i64 = sent.iter().find(|(k, _)| k == "expires_at").expect("expires_at is sent").1.parse().expect("a timestamp");
        assert!((30 * 60..=32 * 60).contains(&(expires - now())), "{}", expires - now());
        let soon = (village_market::domain::now_utc() + chrono::Duration::minutes(29)).format("%Y-%m-%d %H:%M:%S");
        let held = app.count(&format!("orders WHERE id = {order} AND reserved_until > '{soon}'"));
        assert_eq!(held, 1, "the reservation lasts as long as the checkout");
        assert_eq!(app.count(&format!("orders WHERE id = {order} AND provider_session_id = '{session_id}' AND status = 'pending_payment'")), 1);

        let paid = stripe.event("checkout.session.completed", stripe.completed_session(&session_id, None));
        let (status, body) = stripe.deliver(&app.base, &paid, now());
        assert_eq!(status, 200, "{body}");
        assert_eq!(outcome(&body), "paid");
        assert_eq!(app.count(&format!("orders WHERE id = {order} AND status = 'paid' AND paid_fen = {total} AND provider_payment_id LIKE 'pi_%' AND reserved_until IS NULL")), 1);
        let page = app.browser().text(&format!("/orders/{token}")).1;
        assert!(page.contains("已付款"), "the buyer's page says paid");

        // Received and paid to the buyer; the yangzhouyao team gets its flour line only
        // (the taer village has no team account in the demo data).
        let mails = smtp.wait_for(3);
        let to_buyer: Vec<_> = mails.iter().filter(|m| m.to == "buyer@example.com").collect();
        assert_eq!(to_buyer.len(), 2, "{mails:?}");
        assert!(to_buyer.iter().any(|m| m.subject.contains("已付款") && m.text.contains("¥121.00") && m.html.contains("散养鸡蛋")));
        assert!(to_buyer.iter().any(|m| m.subject.contains("已收到您的订单") && m.text.contains(&format!("{}/orders/{token}", app.base))));
        let team: Vec<_> = mails.iter().filter(|m| m.to == "team@example.com").collect();
        assert_eq!(team.len(), 1);
        assert!(team[0].text.contains("黄米糕面") && !team[0].text.contains("散养鸡蛋"), "{:?}", team[0]);
        assert!(team[0].text.contains(&format!("/team/orders/{order}")));
        std::thread::sleep(std::time::Duration::from_millis(1500));
        assert_eq!(smtp.messages().len(), 3, "nothing is sent twice");
        assert_eq!(app.count("email_outbox WHERE status = 'sent'"), 3);
    }

    fn the_same_event_five_times_pays_once(backend) {
        let stripe = StripeServer::start();
        let app = shop(backend, &stripe, None);
        let (order, session) = stripe_order(&app, &stripe, &[("huangmi-gaomian", "1")], "buyer@example.com");
        let event = stripe.event("checkout.session.completed", stripe.completed_session(&session, None));
        // Five deliveries, two of them at the same moment from different threads.
        let outcomes: Vec<String> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..5).map(|_| s.spawn(|| stripe.deliver(&app.base, &event, now()))).collect();
            handles.into_iter().map(|h| {
                let (status, body) = h.join().expect("delivery");
                assert_eq!(status, 200, "{body}");
                outcome(&body)
            }).collect()
        });
        assert_eq!(outcomes.iter().filter(|o| *o == "paid").count(), 1, "{outcomes:?}");
        assert_eq!(outcomes.iter().filter(|o| *o == "duplicate").count(), 4, "{outcomes:?}");
        assert_eq!(app.count(&format!("order_events WHERE order_id = {order} AND to_status = 'paid'")), 1);
        assert_eq!(app.count("payment_events"), 1);
        assert_eq!(app.count("email_outbox WHERE template = 'order_paid'"), 1);
        assert_eq!(app.count(&format!("audit_log WHERE entity = 'order' AND entity_id = {order} AND action = 'order_paid'")), 1);
    }

    fn events_out_of_order_change_nothing_once_paid(backend) {
        let stripe = StripeServer::start();
        let app = shop(backend, &stripe, None);
        let flour = product_id(&app, "huangmi-gaomian");
        let (order, session) = stripe_order(&app, &stripe, &[("huangmi-gaomian", "1")], "");
        let stock = stock_of(&app, flour);
        // The payment succeeds after a delay: completed (unpaid) → async succeeded;
        // then a stale "expired" and a second success arrive late.
        let mut pending = stripe.completed_session(&session, None);
        pending["payment_status"] = "unpaid".into();
        let (_, body) = stripe.deliver(&app.base, &stripe.event("checkout.session.completed", pending), now());
        assert_eq!(outcome(&body), "awaiting_funds");
        assert_eq!(app.count(&format!("orders WHERE id = {order} AND status = 'pending_payment'")), 1);
        let paid = stripe.completed_session(&session, None);
        let (_, body) = stripe.deliver(&app.base, &stripe.event("checkout.session.async_payment_succeeded", paid.clone()), now());
        assert_eq!(outcome(&body), "paid");
        let (_, body) = stripe.deliver(&app.base, &stripe.event("checkout.session.expired", stripe.expired_session(&session)), now());
        assert_eq!(outcome(&body), "ignored");
        let (_, body) = stripe.deliver(&app.base, &stripe.event("checkout.session.async_payment_failed", paid.clone()), now());
        assert_eq!(outcome(&body), "ignored");
        let (_, body) = stripe.deliver(&app.base, &stripe.event("checkout.session.completed", paid), now());
        assert_eq!(outcome(&body), "already_paid");
        assert_eq!(app.count(&format!("orders WHERE id = {order} AND status = 'paid' AND attention IS NULL")), 1);
        assert_eq!(stock_of(&app, flour), stock, "the late expiry returned nothing");
        assert_eq!(app.count("payment_events"), 5);
        // A second, different payment for the order is flagged for the team to refund.
        let mut second = stripe.completed_session(&session, None);
        second["payment_intent"] = "pi_test_second_payment".into();
        let (_, body) = stripe.deliver(&app.base, &stripe.event("checkout.session.completed", second), now());
        assert_eq!(outcome(&body), "paid_twice");
        assert_eq!(app.count(&format!("orders WHERE id = {order} AND status = 'paid' AND attention = 'paid_twice'")), 1);
    }

    fn bad_signatures_and_stale_timestamps_are_refused_before_reading(backend) {
        let stripe = StripeServer::start();
        let app = shop(backend, &stripe, None);
        let (order, session) = stripe_order(&app, &stripe, &[("huangmi-gaomian", "1")], "");
        let event = stripe.event("checkout.session.completed", stripe.completed_session(&session, None));
        let body = event.to_string();
        let client = reqwest::blocking::Client::new();
        let post = |signature: Option<String>, body: &str| {
            let mut req = client.post(format!("{}/webhooks/stripe", app.base)).header("Content-Type", "application/json").body(body.to_string());
            if let Some(s) = signature {
                req = req.header("Stripe-Signature", s);
            }
            req.send().expect("webhook answers")
        };
        let forged = format!("t={},v1={}", now(), "ab".repeat(32));
        assert_eq!(post(Some(forged), &body).status(), StatusCode::BAD_REQUEST);
        assert_eq!(post(None, &body).status(), StatusCode::BAD_REQUEST);
        assert_eq!(post(Some("nonsense".into()), &body).status(), StatusCode::BAD_REQUEST);
        let stale = now() - 600;
        assert_eq!(post(Some(stripe.signature(&body, stale)), &body).status(), StatusCode::BAD_REQUEST);
        // Signed, then changed: the amount says one fen.
        let signed = stripe.signature(&body, now());
        let tampered = body.replace("\"amount_total\":", "\"amount_total\":1,\"x\":");
        let res = post(Some(signed), &tampered);
        assert_eq!(res.status(), StatusCode::BAD_REQUEST);
        assert!(res.text().unwrap_or_default().contains("Stripe-Signature"), "the refusal names the header");
        assert_eq!(app.count("payment_events"), 0, "nothing recorded");
        assert_eq!(app.count(&format!("orders WHERE id = {order} AND status = 'pending_payment'")), 1);
    }

    fn a_wrong_amount_or_an_expired_order_is_flagged_not_paid(backend) {
        let stripe = StripeServer::start();
        let app = shop(backend, &stripe, None);
        let flour = product_id(&app, "huangmi-gaomian");
        let (short, session) = stripe_order(&app, &stripe, &[("huangmi-gaomian", "2")], "");
        let underpaid = stripe.completed_session(&session, Some(100));
        let (status, body) = stripe.deliver(&app.base, &stripe.event("checkout.session.completed", underpaid), now());
        assert_eq!((status, outcome(&body).as_str()), (200, "amount_mismatch"));
        assert_eq!(app.count(&format!("orders WHERE id = {short} AND status = 'pending_payment' AND attention = 'amount_mismatch' AND paid_fen = 0")), 1);
        let team = app.signed_in("team@example.com");
        assert!(team.text(&format!("/team/orders/{short}")).1.contains("支付金额与订单金额不符"));

        let (late, session) = stripe_order(&app, &stripe, &[("huangmi-gaomian", "1")], "");
        let before = stock_of(&app, flour);
        assert_eq!(expire_reservations(&mut app.conn(), now_utc() + chrono::Duration::hours(2)).expect("expiry"), 2);
        assert_eq!(stock_of(&app, flour), before + 3, "both reservations returned");
        let (status, body) = stripe.deliver(&app.base, &stripe.event("checkout.session.completed", stripe.completed_session(&session, None)), now());
        assert_eq!((status, outcome(&body).as_str()), (200, "paid_after_close"));
        assert_eq!(app.count(&format!("orders WHERE id = {late} AND status = 'expired' AND attention = 'paid_after_close'")), 1);
        assert_eq!(stock_of(&app, flour), before + 3, "an expired order's payment takes no stock");
        assert!(team.text("/team/orders").1.contains("需要处理"));

        // An event naming an order the shop never had is recorded and answered.
        let mut stranger = stripe.completed_session(&session, None);
        stranger["metadata"]["order_id"] = "999999".into();
        let (status, body) = stripe.deliver(&app.base, &stripe.event("checkout.session.completed", stranger), now());
        assert_eq!((status, outcome(&body).as_str()), (200, "unknown_order"));
        assert_eq!(app.count("payment_events WHERE outcome = 'unknown_order'"), 1);
    }

    fn a_buyer_who_comes_back_later_pays_again(backend) {
        let stripe = StripeServer::start();
        let app = shop(backend, &stripe, None);
        stripe.send_events_to(&app.base);
        let (order, first) = stripe_order(&app, &stripe, &[("huangmi-gaomian", "1")], "buyer@example.com");
        // The buyer leaves Stripe's page unpaid and comes back later: the new checkout
        // closes later than the first (the expiry moves with the clock, by the second).
        std::thread::sleep(std::time::Duration::from_millis(1100));
        let token = app_token(&app, order);
        let page = format!("/orders/{token}");
        let buyer = app.browser();
        let res = buyer.submit(&page, &format!("{page}/pay"), &[]);
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        let to = location(&res);
        assert!(to.starts_with(&stripe.base), "the buyer is sent to Stripe's page again, not told to retry: {to}");
        let second = to.rsplit('/').next().expect("session id").to_string();
        assert_ne!(second, first, "a new checkout for the new expiry");
        let expiries: Vec<i64> = stripe.requests().iter()
            .filter(|(m, p, _)| m == "POST" && p == "/v1/checkout/sessions")
            .map(|(_, _, params)| params.iter().find(|(k, _)| k == "expires_at").expect("expires_at").1.parse().expect("a timestamp"))
            .collect();
        assert_eq!(expiries.len(), 2);
        assert!(expiries[1] > expiries[0], "{expiries:?}");
        let keys = stripe.idempotency_keys();
        assert_eq!(keys.len(), 2, "{keys:?}");
        assert_ne!(keys[0], keys[1]);

        // Paying on the new page pays the order, once.
        let paid = reqwest::blocking::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client")
            .post(format!("{}/pay/{second}", stripe.base))
            .send()
            .expect("Stripe's page");
        assert_eq!(paid.status(), StatusCode::SEE_OTHER);
        assert_eq!(app.count(&format!("orders WHERE id = {order} AND status = 'paid' AND provider_session_id = '{second}'")), 1);
        assert_eq!(app.count(&format!("payment_events WHERE order_id = {order}")), 1);
    }

    fn an_expired_checkout_returns_the_stock_at_once(backend) {
        let stripe = StripeServer::start();
        let app = shop(backend, &stripe, None);
        let flour = product_id(&app, "huangmi-gaomian");
        let before = stock_of(&app, flour);
        let (order, session) = stripe_order(&app, &stripe, &[("huangmi-gaomian", "4")], "");
        assert_eq!(stock_of(&app, flour), before - 4);
        let (_, body) = stripe.deliver(&app.base, &stripe.event("checkout.session.expired", stripe.expired_session(&session)), now());
        assert_eq!(outcome(&body), "expired");
        assert_eq!(stock_of(&app, flour), before);
        assert_eq!(app.count(&format!("orders WHERE id = {order} AND status = 'expired'")), 1);
    }

    fn a_refund_goes_through_stripe_and_can_restock(backend) {
        let stripe = StripeServer::start();
        let app = shop(backend, &stripe, None);
        let flour = product_id(&app, "huangmi-gaomian");
        let (order, session) = stripe_order(&app, &stripe, &[("huangmi-gaomian", "3")], "buyer@example.com");
        let paid = stripe.completed_session(&session, None);
        let intent = paid["payment_intent"].as_str().expect("payment intent").to_string();
        stripe.deliver(&app.base, &stripe.event("checkout.session.completed", paid), now());
        let stock = stock_of(&app, flour);
        let team = app.signed_in("team@example.com");
        let page = format!("/team/orders/{order}");
        let line = app.scalar(&format!("SELECT id AS n FROM order_lines WHERE order_id = {order}"));
        let qty = format!("qty_{line}");

        // Bad input: nothing is sent to Stripe, nothing written.
        for bad in ["4", "-1", "1.5", "abc", "99999999999"] {
            let res = team.submit(&page, &format!("{page}/refund"), &[(&qty, bad), ("reason", "破损")]);
            assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
        }
        let res = team.submit(&page, &format!("{page}/refund"), &[(&qty, "1"), ("reason", "")]);
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "a reason is needed");
        // Stripe down: the team is told, nothing is recorded.
        stripe.fail_next(500);
        let res = team.submit(&page, &format!("{page}/refund"), &[(&qty, "1"), ("reason", "破损"), ("restock", "on")]);
        assert_eq!(res.status(), StatusCode::BAD_GATEWAY);
        assert_eq!(app.count("refunds"), 0);
        assert!(stripe.refunds().is_empty());

        let res = team.submit(&page, &format!("{page}/refund"), &[(&qty, "1"), ("reason", "破损"), ("restock", "on")]);
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        let refunds = stripe.refunds();
        assert_eq!(refunds.len(), 1);
        assert_eq!((refunds[0]["amount"].as_i64(), refunds[0]["payment_intent"].as_str()), (Some(3800), Some(intent.as_str())));
        assert_eq!(app.count(&format!("orders WHERE id = {order} AND status = 'partially_refunded' AND refunded_fen = 3800")), 1);
        assert_eq!(app.count("refunds WHERE provider_refund_id LIKE 're_%' AND restock"), 1);
        assert_eq!(stock_of(&app, flour), stock + 1, "back on sale");
        assert_eq!(app.count("email_outbox WHERE template = 'order_refunded' AND recipient = 'buyer@example.com'"), 1);

        // Stripe tells of the refund the shop made: known. A larger one made elsewhere: flagged.
        let (_, body) = stripe.deliver(&app.base, &stripe.event("charge.refunded", stripe.refunded_charge(&intent, 11400, 3800)), now());
        assert_eq!(outcome(&body), "refund_known");
        let (_, body) = stripe.deliver(&app.base, &stripe.event("charge.refunded", stripe.refunded_charge(&intent, 11400, 7600)), now());
        assert_eq!(outcome(&body), "refund_outside");
        assert_eq!(app.count(&format!("orders WHERE id = {order} AND attention = 'refund_outside'")), 1);

        // The rest, without restocking: the order is refunded in full, to the fen.
        let res = team.submit(&page, &format!("{page}/refund"), &[(&qty, "2"), ("reason", "买家取消")]);
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        assert_eq!(app.count(&format!("orders WHERE id = {order} AND status = 'refunded' AND refunded_fen = total_fen")), 1);
        assert_eq!(stock_of(&app, flour), stock + 1);
        let res = team.submit(&page, &format!("{page}/refund"), &[(&qty, "1"), ("reason", "again")]);
        assert_eq!(res.status(), StatusCode::CONFLICT, "nothing left to refund");
    }

    fn two_refunds_of_the_same_units_at_once_send_money_back_once(backend) {
        let stripe = StripeServer::start();
        let app = shop(backend, &stripe, None);
        let (order, session) = stripe_order(&app, &stripe, &[("huangmi-gaomian", "3")], "");
        stripe.deliver(&app.base, &stripe.event("checkout.session.completed", stripe.completed_session(&session, None)), now());
        let line = app.scalar(&format!("SELECT id AS n FROM order_lines WHERE order_id = {order}"));
        let page = format!("/team/orders/{order}");
        let (a, b) = (app.signed_in("team@example.com"), app.signed_in("team@example.com"));
        let qty = format!("qty_{line}");
        let statuses: Vec<StatusCode> = std::thread::scope(|s| {
            let runs: Vec<_> = [&a, &b].into_iter().map(|team| {
                let (page, qty) = (page.clone(), qty.clone());
                s.spawn(move || team.submit(&page, &format!("{page}/refund"), &[(&qty, "2"), ("reason", "同时")]).status())
            }).collect();
            runs.into_iter().map(|r| r.join().expect("refund")).collect()
        });
        assert_eq!(statuses.iter().filter(|s| **s == StatusCode::SEE_OTHER).count(), 1, "{statuses:?}");
        assert!(statuses.iter().any(|s| matches!(*s, StatusCode::CONFLICT | StatusCode::UNPROCESSABLE_ENTITY)), "{statuses:?}");
        assert_eq!(stripe.refunds().len(), 1, "Stripe sent money back once");
        assert_eq!(app.count(&format!("orders WHERE id = {order} AND refunded_fen = 7600")), 1);
        assert!(village_market::domain::ledger::verify(&mut app.conn()).expect("verify").is_empty());

        // Units held for a refund that never got recorded are what `verify` reports.
        let o = village_market::db::orders::by_id(&mut app.conn(), order).expect("order").expect("order");
        let request = village_market::domain::refunds::RefundRequest { quantities: vec![(line, "1".into())], restock: false, reason: "x".into() };
        let plan = village_market::domain::refunds::plan(&mut app.conn(), &o, None, &request).expect("plan");
        village_market::domain::refunds::reserve(&mut app.conn(), &plan).expect("held");
        let problems = village_market::domain::ledger::verify(&mut app.conn()).expect("verify");
        assert!(problems.len() == 1 && problems[0].contains("held as refunded"), "{problems:?}");
        village_market::domain::refunds::release(&mut app.conn(), &plan).expect("released");
        assert!(village_market::domain::ledger::verify(&mut app.conn()).expect("verify").is_empty());
    }

    fn without_stripe_keys_the_shop_offers_manual_payment_only(backend) {
        let app = TestApp::start(backend);
        let buyer = app.browser();
        crate::orders::add(&buyer, product_id(&app, "huangmi-gaomian"), "1");
        let page = buyer.text("/checkout").1;
        assert!(!page.contains("value=\"stripe\"") && page.contains("value=\"bank_transfer\""));
        let token = csrf_token(&page).expect("csrf");
        let (_, key) = crate::orders::checkout_fields(&page);
        let res = crate::orders::place_with(&buyer, &token, &key, "stripe", "");
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(app.count("orders"), 0);
        let res = reqwest::blocking::Client::new().post(format!("{}/webhooks/stripe", app.base)).body("{}").send().expect("answer");
        assert_eq!(res.status(), StatusCode::NOT_FOUND);
    }
}
