//! The email outbox: SMTP down delays mail and never loses it, and however many workers
//! claim at once, each message is taken by exactly one.

use std::collections::HashSet;
use std::time::Duration;

use reqwest::StatusCode;
use village_market::db::outbox;
use village_market::domain::now_utc;
use village_market::mail;

use crate::orders::buy;
use crate::support::{SmtpServer, TestApp, both_backends, both_databases, free_port, wait_until};

both_backends! {
    fn mail_waits_for_a_stopped_smtp_server_and_arrives_once(backend) {
        let port = free_port();
        let app = TestApp::start_with(backend, |args| {
            args.smtp_url = Some(format!("smtp://127.0.0.1:{port}"));
        });
        let team = app.signed_in("team@example.com");
        for n in 0..3 {
            let res = buy(&app, &[("huangmi-gaomian", "1")], "bank_transfer", &format!("buyer{n}@example.com"));
            assert_eq!(res.status(), StatusCode::SEE_OTHER, "the order is placed though mail is down");
            let order = app.scalar("SELECT MAX(id) AS n FROM orders");
            let page = format!("/team/orders/{order}");
            let res = team.submit(&page, &format!("{page}/paid"), &[("reference", &format!("T{n}"))]);
            assert_eq!(res.status(), StatusCode::SEE_OTHER, "payment is recorded though mail is down");
        }
        // 3 × (received + paid to the buyer, new order to the team).
        assert_eq!(app.count("email_outbox"), 9);
        wait_until("every message tried and failed", Duration::from_secs(20), || {
            app.count("email_outbox WHERE status = 'pending' AND attempts >= 1 AND last_error IS NOT NULL") == 9
        });
        let smtp = SmtpServer::start_on(port);
        wait_until("the outbox to empty", Duration::from_secs(60), || app.count("email_outbox WHERE status = 'sent'") == 9);
        let mails = smtp.wait_for(9);
        std::thread::sleep(Duration::from_secs(2));
        assert_eq!(smtp.messages().len(), 9, "each message once");
        let distinct: HashSet<(String, String)> = mails.iter().map(|m| (m.to.clone(), m.subject.clone())).collect();
        assert_eq!(distinct.len(), 9, "{mails:?}");
        for n in 0..3 {
            let to = format!("buyer{n}@example.com");
            assert_eq!(mails.iter().filter(|m| m.to == to).count(), 2);
        }
        assert_eq!(mails.iter().filter(|m| m.to == "team@example.com").count(), 3);
        assert!(mails.iter().all(|m| !m.text.is_empty() && m.html.contains("<p>")), "plain-text and HTML parts");
    }

    fn an_english_buyer_gets_english_mail(backend) {
        let smtp = SmtpServer::start();
        let app = TestApp::start_with(backend, |args| args.smtp_url = Some(smtp.url()));
        let buyer = app.browser();
        assert_eq!(buyer.get("/?lang=en").status(), StatusCode::OK);
        crate::orders::add(&buyer, crate::storefront::product_id(&app, "huangmi-gaomian"), "1");
        let (token, key) = crate::orders::checkout_fields(&buyer.text("/checkout").1);
        let res = crate::orders::place_with(&buyer, &token, &key, "bank_transfer", "en@example.com");
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        let mail = &smtp.wait_for(1)[0];
        assert!(mail.subject.starts_with("Village Market: we have your order"), "{mail:?}");
        assert!(mail.text.contains("Yellow millet cake flour") && mail.text.contains("Bank transfer"));
    }
}

both_databases! {
    fn concurrent_workers_never_take_the_same_message(app) {
        // An hour ahead, so that the server's own worker finds none of these due.
        let now = now_utc() + chrono::Duration::hours(1);
        for n in 0..120 {
            outbox::enqueue(&mut app.conn(), &format!("r{n}@example.com"), "order_paid", "zh-CN", "{}", now).expect("enqueue");
        }
        let claimed: Vec<i64> = std::thread::scope(|s| {
            let workers: Vec<_> = (0..4).map(|_| s.spawn(|| {
                let mut mine = Vec::new();
                loop {
                    let batch = mail::claim(&mut app.conn(), now).expect("claim");
                    if batch.is_empty() {
                        break mine;
                    }
                    mine.extend(batch.iter().map(|m| m.id));
                }
            })).collect();
            workers.into_iter().flat_map(|w| w.join().expect("worker")).collect()
        });
        let distinct: HashSet<i64> = claimed.iter().copied().collect();
        assert_eq!((claimed.len(), distinct.len()), (120, 120), "each message claimed once");
        assert_eq!(app.count("email_outbox WHERE attempts = 1 AND locked_until IS NOT NULL"), 120);
        // A lease that runs out (a worker died mid-send) makes the message due again.
        let later = now + chrono::Duration::minutes(7);
        assert_eq!(mail::claim(&mut app.conn(), later).expect("claim").len(), 20, "one batch");
    }
}
