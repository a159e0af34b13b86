//! Standing orders (周期订单), issue 10: a member repeats an order on given weekdays; the
//! jobs loop places each delivery date once its cutoff comes, exactly once however many
//! processes run it; short stock gives what there is and the members are told; a date is
//! skipped, the whole paused and resumed; bad schedules are refused with the field named.

use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime};
use reqwest::StatusCode;

use crate::canteen::{DEMO_ORG, names_field, org_id};
use crate::canteen_orders::place_canteen_order;
use crate::support::{Browser, TestApp, both_databases};
use village_market::domain::canteen::ordering::Rules;
use village_market::domain::canteen::standing;
use village_market::domain::{china_date, china_start, now_utc};
use village_market::states::PaymentMethod;

fn rules() -> Rules {
    Rules {
        shop_methods: vec![PaymentMethod::BankTransfer],
        reservation_minutes: 30,
        approval_hold_hours: 48,
    }
}

/// Ten in the morning, China time, `days` from today.
fn morning(days: i64) -> NaiveDateTime {
    china_start(china_date(now_utc()) + Duration::days(days)) + Duration::hours(2)
}

/// Sets up a standing order from `order` and returns its id.
fn standing_from(buyer: &Browser, app: &TestApp, order: i64, fields: &[(&str, &str)]) -> i64 {
    let page = format!("/canteen/orders/{order}/standing");
    let res = buyer.submit(&page, &page, fields);
    assert_eq!(
        res.status(),
        StatusCode::SEE_OTHER,
        "{}",
        res.text().unwrap_or_default()
    );
    app.scalar("SELECT MAX(id) AS n FROM standing_orders")
}

/// Runs the jobs' pass for each day from today on, from two connections at once (as two
/// server processes would); how many dates were run in all.
fn run_days(app: &TestApp, days: i64) -> usize {
    (0..days)
        .map(|day| {
            std::thread::scope(|s| {
                let passes: Vec<_> = (0..2)
                    .map(|_| {
                        s.spawn(|| {
                            standing::place_due(&mut app.conn(), &rules(), morning(day))
                                .expect("pass")
                        })
                    })
                    .collect();
                passes
                    .into_iter()
                    .map(|p| p.join().expect("pass"))
                    .sum::<usize>()
            })
        })
        .sum()
}

fn no_threshold(app: &TestApp) {
    let org = org_id(app, DEMO_ORG);
    app.execute(&format!(
        "UPDATE organizations SET approval_threshold_fen = NULL WHERE id = {org}"
    ));
}

both_databases! {
    fn a_standing_order_over_four_weeks_places_one_order_per_date(app) {
        no_threshold(app);
        let order = place_canteen_order(app, "canteen@example.com", &[("xiaomi", "10")], "on_account");
        app.execute("UPDATE products SET stock = 1000 WHERE slug = 'xiaomi'");
        let buyer = app.signed_in("canteen@example.com");
        let page = format!("/canteen/orders/{order}/standing");
        let (status, form) = buyer.text(&page);
        assert_eq!(status, StatusCode::OK);
        assert!(form.contains("谢店小米"));
        let today = china_date(now_utc());
        let (tomorrow, end) = ((today + Duration::days(1)).to_string(), (today + Duration::days(28)).to_string());
        let today_text = today.to_string();
        // Refused with the field named, nothing written: a Saturday (the village does not
        // deliver then), a start before the lead time, an end before the start.
        for (fields, field) in [
            (vec![("every_weeks", "1"), ("weekday", "6"), ("starts_on", tomorrow.as_str())], "weekdays"),
            (vec![("every_weeks", "1"), ("weekday", "1"), ("starts_on", today_text.as_str())], "starts_on"),
            (vec![("every_weeks", "1"), ("weekday", "1"), ("starts_on", end.as_str()), ("ends_on", tomorrow.as_str())], "ends_on"),
            (vec![("every_weeks", "3"), ("weekday", "1"), ("starts_on", tomorrow.as_str())], "every_weeks"),
            (vec![("every_weeks", "1"), ("starts_on", tomorrow.as_str())], "weekdays"),
        ] {
            let res = buyer.submit(&page, &page, &fields);
            assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "{field}");
            let html = res.text().expect("page");
            // The weekdays are checkboxes: their message follows the set.
            let named = match field {
                "weekdays" => html.contains("<p class=\"field-error\" role=\"alert\">谢店村 这天不送货")
                    || html.contains("<p class=\"field-error\" role=\"alert\">至少选一个送货日"),
                _ => names_field(&html, field),
            };
            assert!(named, "{field} named");
        }
        assert_eq!(app.count("standing_orders"), 0);

        // Mondays and Thursdays for four weeks.
        let id = standing_from(&buyer, app, order, &[
            ("every_weeks", "1"), ("weekday", "1"), ("weekday", "4"), ("starts_on", &tomorrow), ("ends_on", &end),
        ]);
        let dates: Vec<NaiveDate> = (1..=28)
            .map(|d| today + Duration::days(d))
            .filter(|d| matches!(d.weekday().number_from_monday(), 1 | 4))
            .collect();
        assert_eq!(dates.len(), 8);
        // One date skipped from the page.
        let (_, list) = buyer.text("/canteen/standing-orders");
        assert!(list.contains(&dates[1].to_string()));
        let skip = format!("/canteen/standing-orders/{id}/skip");
        let res = buyer.submit("/canteen/standing-orders", &skip, &[("date", &dates[1].to_string())]);
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        // Not a date of it: refused.
        let saturday = (1..=7).map(|d| today + Duration::days(d)).find(|d| d.weekday().number_from_monday() == 6).expect("a Saturday");
        let res = buyer.submit("/canteen/standing-orders", &skip, &[("date", &saturday.to_string())]);
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);

        // Today's pass places only what is due tomorrow: the villages' lead time is a day.
        let orders_before = app.count("orders");
        let first = run_days(app, 1);
        assert_eq!(first, usize::from(dates[0] == today + Duration::days(1)));
        let ran = first + run_days(app, 28);
        assert_eq!(ran, 7, "each date once, the skipped one never");
        assert_eq!(app.count("orders") - orders_before, 7);
        assert_eq!(app.count(&format!("standing_order_runs WHERE standing_order_id = {id} AND outcome = 'placed' AND order_id IS NOT NULL")), 7);
        for (n, date) in dates.iter().enumerate() {
            let placed = app.count(&format!(
                "canteen_orders WHERE delivery_date = '{date}' AND order_id IN (SELECT order_id FROM standing_order_runs)"
            ));
            assert_eq!(placed, if n == 1 { 0 } else { 1 }, "{date}");
        }
        // Running the days again places nothing more.
        assert_eq!(run_days(app, 28), 0);
        let org = org_id(app, DEMO_ORG);
        let members = app.count(&format!("organization_members WHERE organization_id = {org}"));
        assert_eq!(app.count("email_outbox WHERE template = 'canteen_standing_order'"), 7 * members);
        let (_, list) = buyer.text("/canteen/standing-orders");
        assert!(list.contains("已下单"));
    }

    fn short_stock_gives_what_there_is_and_pausing_stops_the_dates(app) {
        no_threshold(app);
        let order = place_canteen_order(app, "canteen@example.com", &[("xiaomi", "20")], "on_account");
        let buyer = app.signed_in("canteen@example.com");
        let tomorrow = (china_date(now_utc()) + Duration::days(1)).to_string();
        let every_weekday = [("every_weeks", "1"), ("weekday", "1"), ("weekday", "2"), ("weekday", "3"), ("weekday", "4"), ("weekday", "5"), ("starts_on", tomorrow.as_str())];
        let id = standing_from(&buyer, app, order, &every_weekday);
        // 35 in stock: 20, then the 15 left (the minimum is 10, in steps of 5), then none.
        app.execute("UPDATE products SET stock = 35 WHERE slug = 'xiaomi'");
        assert_eq!(run_days(app, 7), 5);
        let outcomes = |outcome: &str| app.count(&format!("standing_order_runs WHERE standing_order_id = {id} AND outcome = '{outcome}'"));
        assert_eq!((outcomes("placed"), outcomes("short"), outcomes("not_placed")), (1, 1, 3));
        assert_eq!(app.count("order_lines WHERE quantity = 15 AND order_id IN (SELECT order_id FROM standing_order_runs WHERE outcome = 'short')"), 1);
        let mails = app.count("email_outbox WHERE template = 'canteen_standing_order' AND data LIKE '%\"got\":15%'");
        assert!(mails >= 1, "the members are told what was short");
        let (_, list) = buyer.text("/canteen/standing-orders");
        assert!(list.contains("部分缺货") && list.contains("所订商品都没有库存"), "{list}");

        // Paused, no date is placed; resumed, they are again.
        let pause = format!("/canteen/standing-orders/{id}/pause");
        assert_eq!(buyer.submit("/canteen/standing-orders", &pause, &[]).status(), StatusCode::SEE_OTHER);
        app.execute("UPDATE products SET stock = 1000 WHERE slug = 'xiaomi'");
        let runs = app.count("standing_order_runs");
        let later = |day: i64| standing::place_due(&mut app.conn(), &rules(), morning(day)).expect("pass");
        assert_eq!(later(8) + later(9), 0);
        assert_eq!(app.count("standing_order_runs"), runs);
        let resume = format!("/canteen/standing-orders/{id}/resume");
        assert_eq!(buyer.submit("/canteen/standing-orders", &resume, &[]).status(), StatusCode::SEE_OTHER);
        assert!((10..14).map(later).sum::<usize>() >= 1);
        assert_eq!(app.count("audit_log WHERE entity = 'standing_order' AND action IN ('pause', 'resume')"), 2);
    }
}
