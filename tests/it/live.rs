//! Livestream sessions, issue 11's first part: a team prepares a session and its numbered
//! items, refused by field when wrong; each item's link and QR code; the session goes live
//! and ends by hand and on its own times (once, however many passes run), taking each
//! quota from the stock and giving back what was not sold; another village's team finds
//! nothing.

use chrono::{Duration, NaiveDateTime};
use reqwest::StatusCode;

use crate::canteen::names_field;
use crate::storefront::product_id;
use crate::support::{Browser, TestApp, both_databases, location};
use village_market::domain::{china_time, live, now_utc};

/// A China wall-clock time as the form's `datetime-local` sends it.
fn typed(t: NaiveDateTime) -> String {
    china_time(t).format("%Y-%m-%dT%H:%M").to_string()
}

fn stock(app: &TestApp, slug: &str) -> i64 {
    app.scalar(&format!(
        "SELECT CAST(stock AS BIGINT) AS n FROM products WHERE slug = '{slug}'"
    ))
}

/// A session of 杨州窑村 from `start` for two hours; its id.
fn new_session(app: &TestApp, team: &Browser, start: NaiveDateTime) -> i64 {
    let village = app
        .scalar("SELECT id AS n FROM villages WHERE slug = 'yangzhouyao'")
        .to_string();
    let (starts, ends) = (typed(start), typed(start + Duration::hours(2)));
    let res = team.submit(
        "/team/live",
        "/team/live",
        &[
            ("village_id", &village),
            ("title", "黄米糕面专场"),
            ("platform", "douyin"),
            ("host_name", "王书记"),
            ("host_commission", "5"),
            ("starts_at", &starts),
            ("ends_at", &ends),
        ],
    );
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    location(&res)
        .rsplit('/')
        .next()
        .and_then(|id| id.parse().ok())
        .expect("the session's page")
}

/// Adds 黄米糕面 at ¥1 off, a quota of 10 and a limit of 2; the item's link code.
fn add_flour(app: &TestApp, team: &Browser, session: i64) -> String {
    let page = format!("/team/live/{session}");
    let flour = product_id(app, "huangmi-gaomian");
    let price = app.scalar(&format!(
        "SELECT unit_price_fen AS n FROM products WHERE id = {flour}"
    )) - 100;
    let live_price = format!("{}.{:02}", price / 100, price % 100);
    let res = team.submit(
        &page,
        &format!("{page}/items"),
        &[
            ("product_id", &flour.to_string()),
            ("live_price", &live_price),
            ("quota", "10"),
            ("per_buyer_limit", "2"),
        ],
    );
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let code = app.scalar(&format!(
        "SELECT COUNT(*) AS n FROM live_items WHERE session_id = {session} AND LENGTH(code) = 6"
    ));
    assert_eq!(code, 1);
    let html = team.text(&page).1;
    html.split("/l/")
        .nth(1)
        .and_then(|r| r.get(..6))
        .expect("the item's link")
        .to_string()
}

both_databases! {
    fn a_team_prepares_a_livestream_and_its_links_follow_the_session(app) {
        let team = app.signed_in("team@example.com");
        let (status, _) = team.text("/team/live");
        assert_eq!(status, StatusCode::OK);
        let village = app.scalar("SELECT id AS n FROM villages WHERE slug = 'yangzhouyao'").to_string();
        let start = now_utc() + Duration::hours(1);
        let (starts, early) = (typed(start), typed(start - Duration::hours(1)));
        let taer = app.scalar("SELECT id AS n FROM villages WHERE slug = 'taer'").to_string();
        // Refused, naming the field, nothing written.
        for (fields, field) in [
            (vec![("village_id", village.as_str()), ("title", "专场"), ("platform", "douyin"), ("host_name", "王"), ("host_commission", "5"), ("starts_at", starts.as_str()), ("ends_at", early.as_str())], "ends_at"),
            (vec![("village_id", village.as_str()), ("title", "专场"), ("platform", "douyin"), ("host_name", "王"), ("host_commission", "31"), ("starts_at", early.as_str()), ("ends_at", starts.as_str())], "host_commission"),
            (vec![("village_id", village.as_str()), ("title", "专场"), ("platform", "tiktok"), ("host_name", "王"), ("host_commission", "5"), ("starts_at", early.as_str()), ("ends_at", starts.as_str())], "platform"),
            (vec![("village_id", taer.as_str()), ("title", "专场"), ("platform", "douyin"), ("host_name", "王"), ("host_commission", "5"), ("starts_at", early.as_str()), ("ends_at", starts.as_str())], "village_id"),
            (vec![("village_id", village.as_str()), ("title", ""), ("platform", "douyin"), ("host_name", "王"), ("host_commission", "5"), ("starts_at", "soon"), ("ends_at", starts.as_str())], "starts_at"),
        ] {
            let res = team.submit("/team/live", "/team/live", &fields);
            assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "{field}");
            assert!(names_field(&res.text().expect("page"), field), "{field} named");
        }
        assert_eq!(app.count("live_sessions"), 0);

        let session = new_session(app, &team, start);
        let page = format!("/team/live/{session}");
        let items = format!("{page}/items");
        let flour = product_id(app, "huangmi-gaomian").to_string();
        let millet = product_id(app, "xiaomi").to_string();
        let in_stock = stock(app, "huangmi-gaomian");
        let too_many = (in_stock + 1).to_string();
        for (fields, field) in [
            (vec![("product_id", flour.as_str()), ("live_price", "9999"), ("quota", "10"), ("per_buyer_limit", "2")], "live_price"),
            (vec![("product_id", flour.as_str()), ("live_price", "1"), ("quota", too_many.as_str()), ("per_buyer_limit", "2")], "quota"),
            (vec![("product_id", flour.as_str()), ("live_price", "1"), ("quota", "10"), ("per_buyer_limit", "11")], "per_buyer_limit"),
            // Another village's product (谢店村's millet) is not this session's.
            (vec![("product_id", millet.as_str()), ("live_price", "1"), ("quota", "10"), ("per_buyer_limit", "2")], "product_id"),
        ] {
            let res = team.submit(&page, &items, &fields);
            assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "{field}");
            assert!(names_field(&res.text().expect("page"), field), "{field} named");
        }
        assert_eq!(app.count("live_items"), 0);
        let code = add_flour(app, &team, session);
        assert_eq!(code.len(), 6);
        assert!(code.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()));

        // The link before the start: when it starts; visits are counted.
        let viewer = app.browser();
        let (status, html) = viewer.text(&format!("/l/{code}"));
        assert_eq!(status, StatusCode::OK);
        assert!(html.contains("1号") && html.contains("黄米糕面") && html.contains("直播") && html.contains("开始"), "{html}");
        assert_eq!(viewer.get("/l/NOSUCH").status(), StatusCode::NOT_FOUND);
        assert_eq!(app.count("live_items WHERE visits = 1"), 1);

        // QR codes to download, and the card for the host.
        let svg = team.get(&format!("{page}/items/{}/qr.svg", app.scalar("SELECT id AS n FROM live_items")));
        assert_eq!(svg.status(), StatusCode::OK);
        assert!(svg.text().expect("svg").contains("<svg"));
        let png = team.get(&format!("{page}/items/{}/qr.png", app.scalar("SELECT id AS n FROM live_items")));
        assert_eq!(png.status(), StatusCode::OK);
        assert!(png.bytes().expect("png").starts_with(b"\x89PNG"));
        let (status, card) = team.text(&format!("{page}/card"));
        assert_eq!(status, StatusCode::OK);
        assert!(card.contains(&format!("/l/{code}")) && card.contains("<svg"));

        // Live by hand: the quota leaves the stock; the link sells.
        assert_eq!(team.submit(&page, &format!("{page}/start"), &[]).status(), StatusCode::SEE_OTHER);
        assert_eq!(stock(app, "huangmi-gaomian"), in_stock - 10);
        assert!(viewer.text(&format!("/l/{code}")).1.contains("还剩 10"));
        // Extended, but not into the past.
        let later = typed(start + Duration::hours(4));
        assert_eq!(team.submit(&page, &format!("{page}/extend"), &[("ends_at", &later)]).status(), StatusCode::SEE_OTHER);
        let res = team.submit(&page, &format!("{page}/extend"), &[("ends_at", &starts)]);
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
        // Ended by hand: the unsold quota goes back; the link says so and offers the product.
        assert_eq!(team.submit(&page, &format!("{page}/end"), &[]).status(), StatusCode::SEE_OTHER);
        assert_eq!(stock(app, "huangmi-gaomian"), in_stock);
        let html = viewer.text(&format!("/l/{code}")).1;
        assert!(html.contains("本场直播已结束") && html.contains(&format!("/products/{flour}")));
        assert_eq!(app.count("audit_log WHERE entity = 'live_session'"), 5, "create, item, live, extend, end");

        // Another village's team finds nothing.
        let other = crate::households::taer_member(app);
        for path in [page.clone(), format!("{page}/card"), format!("{page}/items/{}/qr.svg", app.scalar("SELECT id AS n FROM live_items"))] {
            assert_eq!(other.get(&path).status(), StatusCode::NOT_FOUND, "{path}");
        }
    }

    fn a_scheduled_session_goes_live_and_ends_on_its_own_times_once(app) {
        let team = app.signed_in("team@example.com");
        let start = now_utc() + Duration::hours(1);
        let session = new_session(app, &team, start);
        add_flour(app, &team, session);
        let page = format!("/team/live/{session}");
        assert_eq!(team.submit(&page, &format!("{page}/schedule"), &[]).status(), StatusCode::SEE_OTHER);
        let in_stock = stock(app, "huangmi-gaomian");
        let passes = |at: NaiveDateTime| -> usize {
            std::thread::scope(|s| {
                let runs: Vec<_> = (0..3).map(|_| s.spawn(|| live::advance_due(&mut app.conn(), at).expect("pass"))).collect();
                runs.into_iter().map(|r| r.join().expect("pass")).sum()
            })
        };
        assert_eq!(passes(now_utc()), 0, "not before its start");
        assert_eq!(passes(start + Duration::minutes(1)), 1, "live once");
        assert_eq!(stock(app, "huangmi-gaomian"), in_stock - 10);
        assert_eq!(app.count(&format!("live_sessions WHERE id = {session} AND status = 'live'")), 1);
        assert_eq!(passes(start + Duration::hours(2) + Duration::minutes(1)), 1, "ended once");
        assert_eq!(stock(app, "huangmi-gaomian"), in_stock);
        assert_eq!(app.count(&format!("live_sessions WHERE id = {session} AND status = 'ended'")), 1);
    }
}
