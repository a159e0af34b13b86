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
use village_market::domain::{china_time, live, now_utc, orders};

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
pub fn new_session(app: &TestApp, team: &Browser, start: NaiveDateTime) -> i64 {
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

/// A session of 杨州窑村 on air since five minutes ago with 黄米糕面 (`add_flour`): the
/// session, its page and the item's link.
fn on_air_with_flour(app: &TestApp, team: &Browser) -> (i64, String, String) {
    let session = new_session(app, team, now_utc() - Duration::minutes(5));
    let code = add_flour(app, team, session);
    let page = format!("/team/live/{session}");
    let res = team.submit(&page, &format!("{page}/start"), &[]);
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    (session, page, format!("/l/{code}"))
}

/// Adds 黄米糕面 at ¥1 off, a quota of 10 and a limit of 2; the item's link code.
pub fn add_flour(app: &TestApp, team: &Browser, session: i64) -> String {
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
        // Counted in the process and written within seconds.
        crate::support::wait_until("the visit written", std::time::Duration::from_secs(10), || app.count("live_items WHERE visits = 1") == 1);

        // QR codes to download, and the card for the host.
        let svg = team.get(&format!("{page}/items/{}/qr.svg", app.scalar("SELECT id AS n FROM live_items")));
        assert_eq!(svg.status(), StatusCode::OK);
        assert!(svg.text().expect("svg").contains("<svg"));
        let png = team.get(&format!("{page}/items/{}/qr.png", app.scalar("SELECT id AS n FROM live_items")));
        assert_eq!(png.status(), StatusCode::OK);
        // The PNG, read by a QR decoder, is the link.
        let png = image::load_from_memory(&png.bytes().expect("png")).expect("a PNG").to_luma8();
        let mut prepared = rqrr::PreparedImage::prepare(png);
        let grids = prepared.detect_grids();
        assert_eq!(grids.len(), 1, "one QR code");
        let (_, content) = grids[0].decode().expect("it decodes");
        assert!(content.starts_with("http") && content.ends_with(&format!("/l/{code}")), "{content}");
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

    fn a_rush_of_phones_buys_exactly_the_quota_and_each_number_its_limit(app) {
        let team = app.signed_in("team@example.com");
        app.execute("UPDATE products SET stock = 1000 WHERE slug = 'huangmi-gaomian'");
        let session = new_session(app, &team, now_utc() - Duration::minutes(5));
        let page = format!("/team/live/{session}");
        let flour = product_id(app, "huangmi-gaomian").to_string();
        let res = team.submit(&page, &format!("{page}/items"), &[
            ("product_id", &flour), ("live_price", "10"), ("quota", "100"), ("per_buyer_limit", "2"),
        ]);
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        let code = team.text(&page).1.split("/l/").nth(1).and_then(|r| r.get(..6)).expect("link").to_string();
        let link = format!("/l/{code}");
        // Not on air yet: refused, naming the quantity, nothing placed.
        // (The page has no form before the start: a token from another page.)
        let viewer = app.browser();
        let token = crate::support::csrf_token(&viewer.text(&format!("/products/{flour}")).1).expect("a token");
        let key = "earlybirdkey0000".to_string();
        let buy = |b: &Browser, token: &str, key: &str, phone: &str, quantity: &str| b.post_form(&link, &[
            ("csrf_token", token), ("idempotency_key", key), ("quantity", quantity), ("name", "观众"),
            ("phone", phone), ("address", "大同市平城区"), ("payment_method", "bank_transfer"),
        ]);
        let res = buy(&viewer, &token, &key, "13900000000", "1");
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert!(res.text().expect("page").contains("这场直播现在不在播"));
        assert_eq!(team.submit(&page, &format!("{page}/start"), &[]).status(), StatusCode::SEE_OTHER);

        // 300 phones, each its own number, open the link, then all tap "buy" at once
        // against a quota of 100.
        let ready = std::sync::Barrier::new(30);
        let answers: Vec<u16> = std::thread::scope(|s| {
            let workers: Vec<_> = (0..30).map(|w| {
                let (buy, link, ready) = (&buy, &link, &ready);
                s.spawn(move || {
                    let opened: Vec<_> = (0..10).map(|i| {
                        let b = app.browser();
                        let (token, key) = crate::orders::checkout_fields(&b.text(link).1);
                        (b, token, key, browser_phone(w * 10 + i))
                    }).collect();
                    ready.wait();
                    opened.iter().map(|(b, token, key, phone)| buy(b, token, key, phone, "1").status().as_u16()).collect::<Vec<u16>>()
                })
            }).collect();
            workers.into_iter().flat_map(|w| w.join().expect("worker")).collect()
        });
        assert_eq!(answers.iter().filter(|s| **s == 303).count(), 100, "placed");
        assert_eq!(answers.iter().filter(|s| **s == 409).count(), 200, "sold out, said clearly");
        assert!(answers.iter().all(|s| *s < 500));
        let item = app.scalar("SELECT id AS n FROM live_items");
        assert_eq!(app.count(&format!("live_items WHERE id = {item} AND sold = 100")), 1);
        let units = app.scalar(&format!(
            "SELECT CAST(SUM(l.quantity) AS BIGINT) AS n FROM order_lines l JOIN orders o ON o.id = l.order_id \
             WHERE o.live_item_id = {item} AND o.channel = 'livestream'"
        ));
        assert_eq!(units, 100, "not one unit oversold");
        assert!(app.browser().text(&link).1.contains("本场已抢光"));
        let _ = viewer;
    }

    fn one_number_buys_at_most_its_limit_and_unpaid_units_go_back_to_the_quota(app) {
        let team = app.signed_in("team@example.com");
        let (session, page, link) = on_air_with_flour(app, &team);
        // The page may come from the page cache, but each view has its own form key.
        let viewer = app.browser();
        let (first, second) = (viewer.text(&link).1, viewer.text(&link).1);
        let (key1, key2) = (crate::orders::checkout_fields(&first).1, crate::orders::checkout_fields(&second).1);
        assert!(key1 != key2 && key1.len() == 32 && key2.bytes().all(|b| b.is_ascii_hexdigit()), "{key1} {key2}");
        assert_eq!(crate::support::csrf_token(&first), crate::support::csrf_token(&second), "the session's token");
        // Twenty taps at once from one mobile number, written three ways, limit 2.
        let answers: Vec<u16> = std::thread::scope(|s| {
            let taps: Vec<_> = (0..20).map(|i| {
                let link = &link;
                s.spawn(move || {
                    let b = app.browser();
                    let (token, key) = crate::orders::checkout_fields(&b.text(link).1);
                    let phone = ["13912345678", "139 1234 5678", "+86 139-1234-5678"][i % 3];
                    b.post_form(link, &[
                        ("csrf_token", token.as_str()), ("idempotency_key", key.as_str()), ("quantity", "1"), ("name", "观众"),
                        ("phone", phone), ("address", "大同市平城区"), ("payment_method", "bank_transfer"),
                    ]).status().as_u16()
                })
            }).collect();
            taps.into_iter().map(|t| t.join().expect("tap")).collect()
        });
        assert_eq!(answers.iter().filter(|s| **s == 303).count(), 2, "{answers:?}");
        assert_eq!(answers.iter().filter(|s| **s == 422).count(), 18, "{answers:?}");
        assert_eq!(app.count("orders WHERE channel = 'livestream' AND buyer_phone = '13912345678'"), 2);
        assert_eq!(app.count("live_items WHERE sold = 2"), 1);
        // Mid-session the team lowers the price and raises the quota; the quota never goes
        // below what is sold; the orders placed keep their price.
        let item = app.scalar("SELECT id AS n FROM live_items");
        let change = format!("{page}/items/{item}");
        let placed_price = app.scalar("SELECT MIN(unit_price_fen) AS n FROM order_lines l JOIN orders o ON o.id = l.order_id WHERE o.channel = 'livestream'");
        let res = team.submit(&page, &change, &[("live_price", "1.00"), ("quota", "1")]);
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert!(res.text().expect("page").contains("额度不能低于已售数量（2）"));
        assert_eq!(app.count("live_items WHERE quota = 10 AND live_price_fen <> 100"), 1, "nothing changed");
        let stock_before = stock(app, "huangmi-gaomian");
        assert_eq!(team.submit(&page, &change, &[("live_price", "1.00"), ("quota", "12")]).status(), StatusCode::SEE_OTHER);
        assert_eq!(app.count(&format!("live_items WHERE id = {item} AND live_price_fen = 100 AND quota = 12 AND taken = 12")), 1);
        assert_eq!(stock(app, "huangmi-gaomian"), stock_before - 2, "the larger quota comes from the stock");
        assert_eq!(app.count(&format!("order_lines l JOIN orders o ON o.id = l.order_id WHERE o.channel = 'livestream' AND l.unit_price_fen = {placed_price}")), 2);
        assert_eq!(app.count("audit_log WHERE action = 'change_item'"), 1);
        // Unpaid past the live reservation (10 minutes): back to the quota and to the
        // number's count, once.
        let later = now_utc() + Duration::minutes(11);
        assert_eq!(orders::expire_reservations(&mut app.conn(), later).expect("expiry"), 2);
        assert_eq!(orders::expire_reservations(&mut app.conn(), later).expect("expiry"), 0);
        assert_eq!(app.count("live_items WHERE sold = 0"), 1);
        assert_eq!(app.count("live_buyer_units WHERE units = 0"), 1);
        assert_eq!(app.count("orders WHERE channel = 'livestream' AND status = 'expired'"), 2);

        // Ended: the team hears of the session's orders once, in one message; it was not
        // mailed one order at a time.
        assert_eq!(team.submit(&page, &format!("{page}/end"), &[]).status(), StatusCode::SEE_OTHER);
        assert_eq!(app.count("email_outbox WHERE template = 'team_new_order'"), 0);
        assert_eq!(app.count("email_outbox WHERE template = 'live_session_ended' AND recipient = 'team@example.com'"), 1);
        let dir = app.database.dir.join("data").join("mail");
        let ended = || std::fs::read_dir(&dir).into_iter().flatten().filter_map(Result::ok)
            .filter(|e| e.path().extension().is_some_and(|x| x == "eml"))
            .map(|e| crate::support::Mail::parse(&std::fs::read(e.path()).expect("eml")))
            .find(|m| m.subject.contains("直播结束"));
        crate::support::wait_until("the session's message written", std::time::Duration::from_secs(20), || ended().is_some());
        let mail = ended().expect("the message");
        assert_eq!(mail.subject, "直播结束：黄米糕面专场");
        assert!(mail.text.contains("1号 黄米糕面：售出 0/12") && mail.text.contains("2 单"), "{}", mail.text);
        assert!(mail.html.contains(&format!("/team/live/{session}/report")), "{}", mail.html);
    }
}

/// Each piece of a shared commit on SQLite (`write_together`) is a savepoint, and a
/// savepoint journals the pages it changes: every connection of a server's pool keeps
/// that temporary data in memory, not in a temporary file written for every order of a
/// flash sale (PostgreSQL's savepoints write no such file).
#[test]
fn on_sqlite_every_connection_keeps_its_temporary_data_in_memory() {
    let app = TestApp::start(village_market::db::Backend::Sqlite);
    let size = crate::support::test_config(&app.database).pool_size;
    let all: Vec<_> = (0..size).map(|_| app.conn()).collect();
    for mut conn in all {
        // 2 is MEMORY; the default, 0, is a file in this build.
        let memory =
            crate::support::scalar(&mut conn, "SELECT temp_store AS n FROM pragma_temp_store");
        assert_eq!(memory, 2, "PRAGMA temp_store");
    }
}

both_databases! {
    /// The item's row alone refuses units the session has not taken from the stock, or
    /// has given back: before it goes live and after it ends, even to an order that read
    /// the session live a moment before (buyers take no lock on the session's row).
    fn an_item_sells_only_what_its_session_took_from_the_stock(app) {
        let team = app.signed_in("team@example.com");
        let session = new_session(app, &team, now_utc() - Duration::minutes(5));
        add_flour(app, &team, session);
        let page = format!("/team/live/{session}");
        let item = app.scalar("SELECT id AS n FROM live_items");
        let in_stock = stock(app, "huangmi-gaomian");
        let take = || village_market::db::live::take_from_quota(&mut app.conn(), item, 1).expect("the update");
        assert!(!take(), "not live yet: nothing taken from the stock");
        assert_eq!(team.submit(&page, &format!("{page}/start"), &[]).status(), StatusCode::SEE_OTHER);
        assert!(take(), "live: out of the quota of 10");
        assert_eq!(team.submit(&page, &format!("{page}/end"), &[]).status(), StatusCode::SEE_OTHER);
        assert!(!take(), "ended: the 9 unsold went back to the stock");
        assert_eq!(app.count(&format!("live_items WHERE id = {item} AND sold = 1 AND taken = 1")), 1);
        assert_eq!(stock(app, "huangmi-gaomian"), in_stock - 1);
    }

    /// A flash sale starts with its first phones all at once, often after a quiet hour: a
    /// server keeps every connection of its pool open, so that no buyer of the first wave
    /// waits while one is opened (on PostgreSQL a new backend, its caches cold).
    fn a_server_keeps_every_connection_of_its_pool_open_for_a_rush(app) {
        let size = crate::support::test_config(&app.database).pool_size;
        assert_eq!(app.pool.state().connections, size, "connections open in the pool");
        if app.backend == village_market::db::Backend::Postgres {
            let sql = "SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database()";
            let backends = app.scalar(sql);
            assert!(backends >= i64::from(size), "{backends} backends for a pool of {size}");
        }
    }

    /// An order's rows point at rows every order of a flash sale shares: the link's item,
    /// its product, its village. On PostgreSQL those references are checked at commit, so
    /// that an order in flight locks none of them (a dozen lockers of one row were kept as
    /// one shared "multixact", rebuilt for each); on both databases a dangling reference
    /// is still refused, and nothing of it is written.
    fn an_order_in_flight_locks_no_shared_row_and_a_dangling_reference_is_refused(app) {
        use diesel::{Connection, RunQueryDsl};
        let (_, _, link) = on_air_with_flour(app, &app.signed_in("team@example.com"));
        let res = app.browser().submit(&link, &link, &[
            ("idempotency_key", "inflightorder000"), ("quantity", "1"), ("name", "观众"),
            ("phone", "13900000000"), ("address", "大同市平城区"), ("payment_method", "bank_transfer"),
        ]);
        assert_eq!(res.status(), StatusCode::SEE_OTHER, "a link order");
        let order = app.scalar("SELECT id AS n FROM orders WHERE buyer_phone = '13900000000'");
        let item = app.scalar(&format!("SELECT live_item_id AS n FROM orders WHERE id = {order}"));
        let line = |column: &str| app.scalar(&format!("SELECT {column} AS n FROM order_lines WHERE order_id = {order}"));
        let (product, village) = (line("product_id"), line("village_id"));
        let url = crate::support::test_config(&app.database).database_url;
        let mut writer = village_market::db::open_connection(&url).expect("a connection");
        let buyer = |item: i64| format!("INSERT INTO live_buyer_units (item_id, phone, units) VALUES ({item}, '13900000001', 1)");
        let in_flight = writer.transaction(|w| -> diesel::QueryResult<()> {
            diesel::sql_query(buyer(item)).execute(w)?;
            diesel::sql_query(format!(
                "INSERT INTO order_lines (order_id, product_id, village_id, quantity, unit_price_fen, line_total_fen, \
                 product_name_zh, product_name_en, sale_unit_zh, sale_unit_en) VALUES ({order}, {product}, {village}, 1, 100, 100, '面', 'flour', '袋', 'bag')"
            )).execute(w)?;
            if app.backend == village_market::db::Backend::Postgres {
                for (table, id) in [("live_items", item), ("products", product), ("villages", village)] {
                    let sql = format!("SELECT id AS n FROM {table} WHERE id = {id} FOR UPDATE NOWAIT");
                    assert_eq!(app.scalar(&sql), id, "{table}'s row is free while the order is in flight");
                }
            }
            Err(diesel::result::Error::RollbackTransaction)
        });
        assert!(matches!(in_flight, Err(diesel::result::Error::RollbackTransaction)), "{in_flight:?}");
        let dangling = item + 1_000_000;
        let refused = writer.transaction(|w| diesel::sql_query(buyer(dangling)).execute(w));
        assert!(matches!(refused, Err(diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::ForeignKeyViolation, _))), "{refused:?}");
        assert_eq!(app.count("live_buyer_units WHERE phone = '13900000001'"), 0);
    }

    /// A link order's statements are each prepared once on a connection and run prepared
    /// after that: in a flash sale on PostgreSQL, parsing and planning its `UPDATE`, its
    /// upsert and its multi-row `INSERT`s anew for every order was about a seventh of the
    /// database's CPU. The second order on the connection sends nothing but the
    /// transaction's own words (`BEGIN`, `COMMIT`…) that was not prepared by the first.
    fn a_link_orders_statements_are_prepared_once_per_connection(app) {
        use std::sync::{Arc, Mutex};
        use diesel::connection::{Connection, InstrumentationEvent};
        let team = app.signed_in("team@example.com");
        let (_, _, link) = on_air_with_flour(app, &team);
        let code = link.trim_start_matches("/l/").to_string();
        let url = crate::support::test_config(&app.database).database_url;
        let mut conn = village_market::db::open_connection(&url).expect("a connection");
        // (order, SQL) of every statement sent, and of every statement prepared to keep.
        let (sent, kept) = (Arc::new(Mutex::new(Vec::new())), Arc::new(Mutex::new(Vec::new())));
        let order = Arc::new(Mutex::new(0));
        let (s, k, o) = (sent.clone(), kept.clone(), order.clone());
        conn.set_instrumentation(move |event: InstrumentationEvent<'_>| {
            let n = *o.lock().expect("order");
            match event {
                InstrumentationEvent::StartQuery { query, .. } => {
                    let text = query.to_string();
                    let sql = text.split(" -- binds:").next().unwrap_or_default().to_string();
                    s.lock().expect("sent").push((n, sql));
                }
                InstrumentationEvent::CacheQuery { sql, .. } => {
                    k.lock().expect("kept").push((n, sql.to_string()));
                }
                _ => {}
            }
        });
        let buyer = village_market::domain::cart::Buyer {
            locale: "zh-CN".into(),
            checkout_scope: "prepared-test".into(),
            ..Default::default()
        };
        for (n, phone) in [(1, "13800138001"), (2, "13800138002")] {
            *order.lock().expect("order") = n;
            let form = live::LiveOrderForm {
                quantity: "1".into(),
                name: "张三".into(),
                phone: phone.into(),
                address: "大同市云州区".into(),
                payment_method: "stripe".into(),
                idempotency_key: format!("preparedtestkey{n:04}"),
            };
            let placed = live::buy(
                &mut conn,
                &code,
                &form,
                &buyer,
                &[village_market::states::PaymentMethod::Stripe],
                10,
                now_utc(),
            )
            .expect("the order");
            assert!(matches!(placed, orders::Checkout::Placed(_)), "order {n} placed");
        }
        let kept = kept.lock().expect("kept").clone();
        let first: Vec<&String> = kept.iter().filter(|(n, _)| *n == 1).map(|(_, sql)| sql).collect();
        // The statements diesel keeps no prepared statement of by itself (names unquoted).
        for words in ["UPDATE live_items", "INTO live_buyer_units", "INTO order_lines", "INTO shipments", "INTO order_events"] {
            assert!(
                first.iter().any(|sql| sql.replace(['"', '`'], "").contains(words)),
                "{words} kept prepared: {first:#?}"
            );
        }
        let transaction = ["BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE"];
        let unprepared: Vec<String> = sent
            .lock()
            .expect("sent")
            .iter()
            .filter(|(n, sql)| {
                *n == 2
                    && !first.contains(&sql)
                    && !transaction.iter().any(|w| sql.trim_start().to_uppercase().starts_with(w))
            })
            .map(|(_, sql)| sql.clone())
            .collect();
        assert!(unprepared.is_empty(), "sent unprepared by the second order: {unprepared:#?}");
        assert!(kept.iter().all(|(n, _)| *n == 1), "the second order prepared nothing new");
    }

    /// A form sent twice (a double tap, a reload) is one order: the second is refused by
    /// the number's limit and answered with the first's order, also when the first took
    /// the quota's last units.
    fn a_repeated_tap_gets_its_order_back_and_takes_nothing_more(app) {
        let team = app.signed_in("team@example.com");
        let (_, _, link) = on_air_with_flour(app, &team);
        // Quota 10, limit 2: the first four buy 2 each, the fifth the last 2.
        let mut last = None;
        for n in 0..5 {
            let b = app.browser();
            let (token, key) = crate::orders::checkout_fields(&b.text(&link).1);
            let tap = || b.post_form(&link, &[
                ("csrf_token", token.as_str()), ("idempotency_key", key.as_str()), ("quantity", "2"), ("name", "观众"),
                ("phone", &browser_phone(n)), ("address", "大同市平城区"), ("payment_method", "bank_transfer"),
            ]);
            let first = tap();
            assert_eq!(first.status(), StatusCode::SEE_OTHER);
            let again = tap();
            assert_eq!(again.status(), StatusCode::SEE_OTHER, "tap {n} again");
            assert_eq!(location(&again), location(&first), "tap {n} again: the same order");
            let sold = app.scalar("SELECT CAST(sold AS BIGINT) AS n FROM live_items");
            assert_eq!(sold, 2 * (n as i64 + 1), "tap {n} again took nothing");
            last = Some((b, location(&first)));
        }
        assert_eq!(app.count("orders WHERE channel = 'livestream'"), 5);
        assert_eq!(app.count("live_buyer_units WHERE units = 2"), 5);
        let (buyer, order) = last.expect("the fifth buyer");
        assert_eq!(buyer.get(&order).status(), StatusCode::OK);
    }

    fn the_hosts_commission_comes_off_before_the_split_and_the_host_is_paid_to_the_fen(app) {
        let team = app.signed_in("team@example.com");
        // 5 % commission (`new_session`), live now.
        let (session, page, link) = on_air_with_flour(app, &team);
        let mut orders = Vec::new();
        for (phone, quantity) in [("13911110001", "2"), ("13911110002", "1")] {
            let b = app.browser();
            let (token, key) = crate::orders::checkout_fields(&b.text(&link).1);
            let res = b.post_form(&link, &[
                ("csrf_token", token.as_str()), ("idempotency_key", key.as_str()), ("quantity", quantity), ("name", "观众"),
                ("phone", phone), ("address", "大同市平城区"), ("payment_method", "bank_transfer"),
            ]);
            assert_eq!(res.status(), StatusCode::SEE_OTHER);
            orders.push(app.scalar("SELECT MAX(id) AS n FROM orders"));
        }
        for order in &orders {
            let page = format!("/team/orders/{order}");
            assert_eq!(team.submit(&page, &format!("{page}/paid"), &[("reference", "B1")]).status(), StatusCode::SEE_OTHER);
        }
        assert_eq!(app.count("email_outbox WHERE template = 'team_new_order'"), 0, "a live order is not mailed to the team one by one");
        // Each line's commission is 5 % of what was paid for it, rounded down; the
        // households and the collective share the rest, and it all adds up to the fen.
        let sum = |kinds: &str| app.scalar(&format!(
            "SELECT CAST(COALESCE(SUM(amount_fen), 0) AS BIGINT) AS n FROM ledger_entries WHERE kind IN ({kinds})"
        ));
        let line_totals: Vec<i64> = orders.iter().map(|o| app.scalar(&format!("SELECT total_fen AS n FROM orders WHERE id = {o}"))).collect();
        let commission: i64 = line_totals.iter().map(|t| t * 500 / 10_000).sum();
        assert!(commission > 0);
        assert_eq!(sum("'host_commission'"), commission);
        let paid: i64 = line_totals.iter().sum();
        let live_shares = |kinds: &str| app.scalar(&format!(
            "SELECT CAST(COALESCE(SUM(e.amount_fen), 0) AS BIGINT) AS n FROM ledger_entries e JOIN orders o ON o.id = e.order_id \
             WHERE o.live_item_id IS NOT NULL AND e.kind IN ({kinds})"
        ));
        assert_eq!(live_shares("'household_share', 'collective_share', 'collective_sale'"), paid - commission);
        assert_eq!(app.count("ledger_entries WHERE kind = 'host_commission' AND host_id IS NOT NULL AND household_id IS NULL"), 2);

        // One bag of the first order refunded: its commission is taken back the same way.
        let first_line = app.scalar(&format!("SELECT id AS n FROM order_lines WHERE order_id = {}", orders[0]));
        let order_page = format!("/team/orders/{}", orders[0]);
        let res = team.submit(&order_page, &format!("{order_page}/refund"), &[(&format!("qty_{first_line}"), "1"), ("reason", "破袋")]);
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        let per_bag = line_totals[0] / 2;
        let back = line_totals[0] * 500 / 10_000 - (line_totals[0] - per_bag) * 500 / 10_000;
        assert_eq!(sum("'refund_host_commission'"), -back);
        let refunded = app.scalar("SELECT CAST(SUM(refunded_fen) AS BIGINT) AS n FROM orders");
        assert_eq!(live_shares("'household_share', 'collective_share', 'collective_sale', 'refund_household', 'refund_collective', 'host_commission', 'refund_host_commission'"), paid - refunded);
        crate::canteen_orders::verify_is_clean(app);
        // A line paid with no commission posted (before commissions were kept) gives none
        // back when refunded: the households give back exactly what they earned.
        app.execute(&format!("UPDATE live_sessions SET host_id = NULL WHERE id = {session}"));
        let b = app.browser();
        let (token, key) = crate::orders::checkout_fields(&b.text(&link).1);
        let res = b.post_form(&link, &[
            ("csrf_token", token.as_str()), ("idempotency_key", key.as_str()), ("quantity", "1"), ("name", "观众"),
            ("phone", "13911110003"), ("address", "大同市平城区"), ("payment_method", "bank_transfer"),
        ]);
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        let old = app.scalar("SELECT MAX(id) AS n FROM orders");
        let old_page = format!("/team/orders/{old}");
        assert_eq!(team.submit(&old_page, &format!("{old_page}/paid"), &[("reference", "B2")]).status(), StatusCode::SEE_OTHER);
        let host = app.scalar("SELECT MAX(id) AS n FROM live_hosts");
        app.execute(&format!("UPDATE live_sessions SET host_id = {host} WHERE id = {session}"));
        let old_line = app.scalar(&format!("SELECT id AS n FROM order_lines WHERE order_id = {old}"));
        let res = team.submit(&old_page, &format!("{old_page}/refund"), &[(&format!("qty_{old_line}"), "1"), ("reason", "破袋")]);
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        assert_eq!(app.count(&format!("ledger_entries WHERE order_id = {old} AND kind IN ('host_commission', 'refund_host_commission')")), 0);
        assert_eq!(app.scalar(&format!("SELECT CAST(SUM(amount_fen) AS BIGINT) AS n FROM ledger_entries WHERE order_id = {old}")), 0);
        crate::canteen_orders::verify_is_clean(app);
        let old_total = app.scalar(&format!("SELECT total_fen AS n FROM orders WHERE id = {old}"));
        let (paid, refunded) = (paid + old_total, refunded + old_total);
        // The village's month keeps the commission apart from the households' and the
        // collective's parts of its sales.
        assert_eq!(app.scalar("SELECT CAST(SUM(host_commission_fen) AS BIGINT) AS n FROM village_month_totals WHERE channel = 'livestream'"), commission - back);

        // The session report and the host's statement say the same.
        let earned = commission - back;
        let money = |fen: i64| format!("¥{}.{:02}", fen / 100, fen % 100);
        let report = team.text(&format!("{page}/report")).1;
        assert!(report.contains(&money(paid)) && report.contains(&money(refunded)) && report.contains(&money(earned)), "{report}");
        assert!(report.contains(&money(paid - refunded - earned)), "what is left for the village");
        let host = app.scalar(&format!("SELECT host_id AS n FROM live_sessions WHERE id = {session}"));
        let statement = format!("/team/live/hosts/{host}");
        let (status, html) = team.text(&statement);
        assert_eq!(status, StatusCode::OK);
        assert!(html.contains("王书记") && html.contains(&money(earned)), "{html}");
        // Not more than owed, naming the amount; nothing written.
        let over = format!("{}.{:02}", (earned + 1) / 100, (earned + 1) % 100);
        let res = team.submit(&statement, &format!("{statement}/payouts"), &[("amount", &over), ("method", "cash")]);
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert!(names_field(&res.text().expect("page"), "amount"));
        assert_eq!(app.count("host_payouts"), 0);
        let all = format!("{}.{:02}", earned / 100, earned % 100);
        let res = team.submit(&statement, &format!("{statement}/payouts"), &[("amount", &all), ("method", "bank"), ("reference", "ICBC 1")]);
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        assert_eq!(app.scalar(&format!("SELECT CAST(SUM(amount_fen) AS BIGINT) AS n FROM ledger_entries WHERE host_id = {host}")), 0, "paid in full");
        assert_eq!(app.count("ledger_entries WHERE kind = 'host_payout'"), 1);
        assert_eq!(app.count("audit_log WHERE action = 'payout' AND entity = 'live_host'"), 1);
        assert!(team.text("/team/live/hosts").1.contains("¥0.00"));
        crate::canteen_orders::verify_is_clean(app);

        // The cadres' livestream channel, by session, host and platform, and as CSV.
        let cadre = app.signed_in("cadre@example.com");
        for by in ["session", "host", "platform"] {
            let (status, html) = cadre.text(&format!("/reports/live?by={by}"));
            assert_eq!(status, StatusCode::OK);
            assert!(html.contains(&money(paid)) && html.contains(&money(earned)), "{by}: {html}");
        }
        let csv = cadre.get("/reports/live?by=host&format=csv").text().expect("csv");
        assert!(csv.contains("王书记") && csv.contains(&format!("{}.{:02}", earned / 100, earned % 100)), "{csv}");
        assert_eq!(cadre.get("/reports/live?by=village").status(), StatusCode::BAD_REQUEST);

        // Another village's team finds none of it.
        let taer = crate::households::taer_member(app);
        for path in [page.clone(), format!("{page}/report"), format!("{page}/events"), statement.clone()] {
            assert_eq!(taer.get(&path).status(), StatusCode::NOT_FOUND, "{path}");
        }
        let res = taer.submit("/team/live", &format!("{statement}/payouts"), &[("amount", "0.01"), ("method", "cash")]);
        assert_eq!(res.status(), StatusCode::NOT_FOUND);
    }
}

crate::support::both_backends! {
    fn the_dashboard_streams_an_order_placed_through_another_server_process(backend) {
        let app = crate::support::TestApp::start(backend);
        let team = app.signed_in("team@example.com");
        let session = new_session(&app, &team, now_utc() - Duration::minutes(5));
        let code = add_flour(&app, &team, session);
        let page = format!("/team/live/{session}");
        assert_eq!(team.submit(&page, &format!("{page}/start"), &[]).status(), StatusCode::SEE_OTHER);
        let dashboard = team.text(&page).1;
        assert!(dashboard.contains(&format!("data-live-events=\"{page}/events\"")) && dashboard.contains("http-equiv=\"refresh\""));
        // The stream's first event: nothing sold yet.
        let mut events = team.get(&format!("{page}/events"));
        assert_eq!(events.headers().get("content-type").and_then(|v| v.to_str().ok()), Some("text/event-stream"));
        let first = next_event(&mut events);
        assert!(first.contains("\"sold\":0"), "{first}");
        // A second server process (the shop's own binary) over the same database sells two.
        let (mut other, base) = second_process(&app);
        let viewer = crate::support::Browser::new(&base);
        let link = format!("/l/{code}");
        let (token, key) = crate::orders::checkout_fields(&viewer.text(&link).1);
        let res = viewer.post_form(&link, &[
            ("csrf_token", token.as_str()), ("idempotency_key", key.as_str()), ("quantity", "2"), ("name", "观众"),
            ("phone", "13922220000"), ("address", "大同市平城区"), ("payment_method", "bank_transfer"),
        ]);
        let _ = other.kill();
        let _ = other.wait();
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        // The stream this process serves tells of it within a few seconds.
        let update = next_event(&mut events);
        assert!(update.contains("\"sold\":2") && update.contains("\"orders\":1"), "{update}");
    }

    /// Two server processes sharing a link sell exactly its quota, and a number no more
    /// than its limit, when the same numbers tap through both at once. On PostgreSQL each
    /// process commits its buyers of a moment together; every order takes the item's row
    /// before the number's, so the two processes' transactions never deadlock (a 5xx).
    fn two_processes_sell_exactly_the_quota_and_each_number_its_limit(backend) {
        let app = crate::support::TestApp::start(backend);
        let team = app.signed_in("team@example.com");
        let (_, _, link) = on_air_with_flour(&app, &team);
        let (mut other, base) = second_process(&app);
        // Twelve numbers open the link on both processes, then tap "2 bags" on both at once:
        // a quota of 10 and a limit of 2 make five orders.
        let opened: Vec<_> = (0..12).flat_map(|n| [app.browser(), Browser::new(&base)].map(|b| {
            let (token, key) = crate::orders::checkout_fields(&b.text(&link).1);
            (b, token, key, browser_phone(n))
        })).collect();
        let ready = std::sync::Barrier::new(opened.len());
        let answers: Vec<u16> = std::thread::scope(|s| {
            let taps: Vec<_> = opened.iter().map(|(b, token, key, phone)| {
                let (link, ready) = (&link, &ready);
                s.spawn(move || {
                    ready.wait();
                    b.post_form(link, &[
                        ("csrf_token", token.as_str()), ("idempotency_key", key.as_str()), ("quantity", "2"), ("name", "观众"),
                        ("phone", phone.as_str()), ("address", "大同市平城区"), ("payment_method", "bank_transfer"),
                    ]).status().as_u16()
                })
            }).collect();
            taps.into_iter().map(|t| t.join().expect("tap")).collect()
        });
        let _ = other.kill();
        let _ = other.wait();
        assert!(answers.iter().all(|s| [303, 409, 422].contains(s)), "{answers:?}");
        assert_eq!(answers.iter().filter(|s| **s == 303).count(), 5, "{answers:?}");
        assert_eq!(app.count("live_items WHERE sold = 10"), 1);
        assert_eq!(app.count("orders WHERE channel = 'livestream'"), 5);
        assert_eq!(app.count("(SELECT buyer_phone FROM orders WHERE channel = 'livestream' GROUP BY buyer_phone HAVING COUNT(*) > 1) AS twice"), 0);
        assert_eq!(app.count("live_buyer_units WHERE units > 2"), 0);
    }
}

/// A second server process (the shop's own binary) over the app's database, with a data
/// directory and a session key of its own, once it answers: the process and its address.
fn second_process(app: &TestApp) -> (std::process::Child, String) {
    let dir = app.database.dir.join("second-process");
    std::fs::create_dir_all(&dir).expect("a directory");
    let port = crate::support::free_port();
    let bind = format!("127.0.0.1:{port}");
    let process = crate::cli::village_market(&app.database.url, &dir, &["serve", "--bind", &bind])
        .env(
            "SESSION_KEY",
            "another process's own session key, long enough",
        )
        .spawn()
        .expect("the second process starts");
    let base = format!("http://{bind}");
    crate::support::wait_until(
        "the second process answers",
        std::time::Duration::from_secs(30),
        || reqwest::blocking::get(format!("{base}/healthz")).is_ok_and(|r| r.status().is_success()),
    );
    (process, base)
}

/// Reads a server-sent event stream up to the end of its next event; its `data`.
fn next_event(stream: &mut reqwest::blocking::Response) -> String {
    use std::io::Read;
    let mut seen = Vec::new();
    let mut byte = [0u8; 1];
    while !seen.ends_with(b"\n\n") {
        let n = stream.read(&mut byte).expect("the stream goes on");
        assert_eq!(n, 1, "the stream ended: {}", String::from_utf8_lossy(&seen));
        seen.push(byte[0]);
    }
    let text = String::from_utf8_lossy(&seen).to_string();
    text.lines()
        .find_map(|l| l.strip_prefix("data: "))
        .map(str::to_string)
        .unwrap_or_default()
}

/// A distinct mainland mobile number for the `n`th buyer.
fn browser_phone(n: usize) -> String {
    format!("1380000{n:04}")
}
