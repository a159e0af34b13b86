//! The email outbox: SMTP down delays mail and never loses it; however many workers
//! claim at once, each message is taken by exactly one; a message that can never be sent
//! is given up without stopping the others; a process killed mid-send holds back only
//! the message it was sending, for less than a minute, and each message carries a
//! Message-ID derived from its row, so a copy sent twice is recognisable.

use std::collections::HashSet;
use std::process::Stdio;
use std::time::Duration;

use reqwest::StatusCode;
use village_market::db::outbox;
use village_market::domain::now_utc;
use village_market::mail;

use crate::cli::village_market;
use crate::orders::buy;
use crate::support::{
    self, Contents, FreshDatabase, Mail, SmtpServer, TestApp, both_backends, both_databases,
    free_port, wait_until,
};

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
                while let Some(message) = mail::claim(&mut app.conn(), now).expect("claim") {
                    mine.push(message.id);
                }
                mine
            })).collect();
            workers.into_iter().flat_map(|w| w.join().expect("worker")).collect()
        });
        let distinct: HashSet<i64> = claimed.iter().copied().collect();
        assert_eq!((claimed.len(), distinct.len()), (120, 120), "each message claimed once");
        assert_eq!(app.count("email_outbox WHERE attempts = 1 AND locked_until IS NOT NULL"), 120);
        // A lease covers one send; once it runs out (a worker died mid-send) the message
        // is due again, within a minute.
        let lease = chrono::Duration::from_std(mail::LEASE).expect("lease");
        assert!(lease <= chrono::Duration::minutes(1), "{lease}");
        assert!(lease > chrono::Duration::from_std(mail::SEND_LIMIT).expect("limit"));
        let during = now + lease - chrono::Duration::seconds(1);
        assert!(mail::claim(&mut app.conn(), during).expect("claim").is_none(), "held while it may still be sending");
        let after = now + lease + chrono::Duration::seconds(1);
        let again = mail::claim(&mut app.conn(), after).expect("claim").expect("due again");
        assert_eq!(again.attempts, 2);
    }

    fn addresses_the_mail_library_refuses_are_refused_where_they_are_typed(app) {
        let orders = app.count("orders");
        let outbox = app.count("email_outbox");
        for bad in ["a@b@example.com", "a..b@example.com", "a@example..com", "Li <li@example.com>", "a@b"] {
            let buyer = app.browser();
            crate::orders::add(&buyer, crate::storefront::product_id(app, "huangmi-gaomian"), "1");
            let (token, key) = crate::orders::checkout_fields(&buyer.text("/checkout").1);
            let res = crate::orders::place_with(&buyer, &token, &key, "bank_transfer", bad);
            assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
            let html = res.text().expect("page");
            let email_field = html.find("id=\"email\"").expect("the email field");
            let next_field = html.find("id=\"note\"").expect("the note field");
            let message = html.find("请填正确的邮箱").unwrap_or_else(|| panic!("{bad}: no message"));
            assert!((email_field..next_field).contains(&message), "{bad}: the message is by the email field");
        }
        assert_eq!((app.count("orders"), app.count("email_outbox")), (orders, outbox), "nothing written");

        // An account's address, typed by the admin.
        let admin = app.signed_in("admin@example.com");
        let users = app.count("users");
        let res = admin.submit("/admin/users/new", "/admin/users", &[
            ("email", "liu@b@example.com"), ("display_name", "刘队员"), ("role", "team"), ("password", "a good password"),
            ("village", "taer"),
        ]);
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert!(res.text().expect("page").contains("请填正确的邮箱"));
        assert_eq!(app.count("users"), users);
    }
}

both_backends! {
    fn a_malformed_message_is_given_up_and_the_next_is_delivered(backend) {
        let smtp = SmtpServer::start();
        let app = TestApp::start_with(backend, |args| args.smtp_url = Some(smtp.url()));
        let now = now_utc();
        let mut conn = app.conn();
        // Rows no checkout writes today, but a database may hold: each can never be sent.
        for (recipient, template, data) in [
            ("list@example.com", "order_paid", "[1, 2]"),
            ("number@example.com", "order_paid", "7"),
            ("text@example.com", "order_paid", "not json"),
            ("a@b@example.com", "order_paid", "{}"),
            ("nobody@example.com", "no_such_template", "{}"),
        ] {
            outbox::enqueue(&mut conn, recipient, template, "zh-CN", data, now).expect("enqueue");
        }
        outbox::enqueue(&mut conn, "good@example.com", "order_paid", "zh-CN", "{}", now).expect("enqueue");
        drop(conn);
        let good = app.scalar("SELECT MAX(id) AS n FROM email_outbox");
        let mail = &smtp.wait_for(1)[0];
        assert_eq!(mail.to, "good@example.com");
        // The SMTP server has the good message before the worker hears its reply and
        // marks the row sent: wait for both.
        wait_until("the bad messages given up and the good one marked sent", Duration::from_secs(20), || {
            app.count("email_outbox WHERE status = 'failed' AND last_error IS NOT NULL") == 5
                && app.count(&format!("email_outbox WHERE id = {good} AND status = 'sent'")) == 1
        });
        assert_eq!(app.count("email_outbox WHERE status = 'failed' AND attempts = 1 AND locked_until IS NULL"), 5, "tried once, not held");
        assert!(mail.message_id.starts_with(&format!("outbox-{good}.")) && mail.message_id.ends_with("@127.0.0.1"), "{}", mail.message_id);

        // The loop goes on: mail written later still goes out.
        outbox::enqueue(&mut app.conn(), "later@example.com", "order_paid", "zh-CN", "{}", now_utc()).expect("enqueue");
        let mails = smtp.wait_for(2);
        assert!(mails.iter().any(|m| m.to == "later@example.com"), "{mails:?}");
    }

    fn a_server_killed_while_sending_mail_delivers_every_claimed_message_after_a_restart(backend) {
        // Each message is stored at once and acknowledged 3 s later: the server is killed
        // between the two, with a message written but not known to be.
        let smtp = SmtpServer::start_slow(3.0);
        let database = FreshDatabase::with(backend, Contents::Migrated);
        let url = village_market::db::DatabaseUrl::parse(&database.url).expect("url");
        let pool = village_market::db::open_pool(&url, 2).expect("database");
        for n in 0..4 {
            outbox::enqueue(&mut pool.get().expect("conn"), &format!("r{n}@example.com"), "order_paid", "zh-CN", "{}", now_utc()).expect("enqueue");
        }
        let serve = || {
            village_market(&database.url, &database.dir, &["serve", "--bind", &format!("127.0.0.1:{}", free_port())])
                .env("SMTP_URL", smtp.url())
                .env("BASE_URL", "https://market.example")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("the server starts")
        };
        let mut first = serve();
        wait_until("the first message stored", Duration::from_secs(30), || !smtp.messages().is_empty());
        first.kill().expect("SIGKILL");
        first.wait().expect("killed");
        let held = support::scalar(&mut pool.get().expect("conn"), "SELECT COUNT(*) AS n FROM email_outbox WHERE status = 'pending' AND locked_until IS NOT NULL");
        assert_eq!(held, 1, "only the message being sent is held by the dead process");

        let restarted = std::time::Instant::now();
        let mut second = serve();
        let all_sent = || support::scalar(&mut pool.get().expect("conn"), "SELECT COUNT(*) AS n FROM email_outbox WHERE status = 'sent'") == 4;
        let deadline = Duration::from_secs(60);
        while !all_sent() && restarted.elapsed() < deadline {
            std::thread::sleep(Duration::from_millis(200));
        }
        let took = restarted.elapsed();
        let _ = second.kill();
        let _ = second.wait();
        assert!(all_sent(), "every message sent within a minute of the restart ({took:?})");

        let mails: Vec<Mail> = smtp.messages().iter().map(|raw| Mail::parse(raw)).collect();
        let ids: HashSet<String> = mails.iter().map(|m| m.message_id.clone()).collect();
        let rows: HashSet<String> = mails.iter().map(|m| m.to.clone()).collect();
        assert_eq!(rows.len(), 4, "every recipient has their message: {mails:?}");
        assert_eq!(ids.len(), 4, "one Message-ID per outbox row: {ids:?}");
        assert_eq!(mails.len(), 5, "the message stored before the kill went again: {mails:?}");
        for mail in &mails {
            let id = &mail.message_id;
            assert!(id.starts_with("outbox-") && id.ends_with("@market.example"), "{id}");
            let same: HashSet<&str> = mails.iter().filter(|m| &m.message_id == id).map(|m| m.to.as_str()).collect();
            assert_eq!(same.len(), 1, "a Message-ID names one message: {id}");
        }
        eprintln!("all mail sent {took:?} after the restart");
    }
}
