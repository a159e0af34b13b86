//! The livestream half of the JSON API (issue 12): a work team prepares a session, adds
//! its numbered items, starts it, changes an item while orders come in through the link,
//! extends and ends it — each through the domain the pages use, checked in the database —
//! and another village's team, another role or no token reach none of it.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::storefront::product_id;
use crate::support::{Api, TestApp, both_databases, read_json};

/// The status and JSON body of `method` on `path` with `body`, as JSON.
fn send(api: &Api, method: Method, path: &str, body: &Value) -> (StatusCode, Value) {
    read_json(
        api.request(method, path)
            .json(body)
            .send()
            .expect("request"),
    )
}

fn stock(app: &TestApp, id: i64) -> i64 {
    app.scalar(&format!(
        "SELECT CAST(stock AS BIGINT) AS n FROM products WHERE id = {id}"
    ))
}

fn price(app: &TestApp, id: i64) -> i64 {
    app.scalar(&format!(
        "SELECT unit_price_fen AS n FROM products WHERE id = {id}"
    ))
}

fn village(app: &TestApp) -> i64 {
    app.scalar("SELECT id AS n FROM villages WHERE slug = 'yangzhouyao'")
}

/// A session of 杨州窑村 as the body gives it: 20:30–22:30 China time on 1 May 2030,
/// written once with its China offset and once in UTC; 5.5 % to the host.
fn session_body(village: i64) -> Value {
    json!({
        "village_id": village, "title": "黄米糕面专场", "platform": "douyin", "host_name": "王书记",
        "host_commission_bp": 550, "starts_at": "2030-05-01T20:30:00+08:00", "ends_at": "2030-05-01T14:30:00Z",
    })
}

/// Prepares a session through the API with 黄米糕面 (stock 1000) as its 1号 (¥1 off,
/// quota 10, limit 2): the session's and the item's ids.
fn prepared(app: &TestApp, team: &Api) -> (i64, i64) {
    app.execute("UPDATE products SET stock = 1000 WHERE slug = 'huangmi-gaomian'");
    let (status, created) = team.post(
        "/api/v1/team/live-sessions",
        &[],
        &session_body(village(app)),
    );
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let session = created["session"]["id"].as_i64().expect("id");
    let flour = product_id(app, "huangmi-gaomian");
    let item = json!({"product_id": flour, "live_price_fen": price(app, flour) - 100, "quota": 10, "per_buyer_limit": 2});
    let (status, figures) = team.post(
        &format!("/api/v1/team/live-sessions/{session}/items"),
        &[],
        &item,
    );
    assert_eq!(status, StatusCode::CREATED, "{figures}");
    (
        session,
        figures["items"][0]["item_id"].as_i64().expect("item_id"),
    )
}

both_databases! {
    fn a_team_prepares_runs_and_ends_a_session(app) {
        let team = app.api(Some(&app.token("team@example.com")));
        let yzy = village(app);
        let flour = product_id(app, "huangmi-gaomian");
        let other = app.scalar(&format!(
            "SELECT MIN(id) AS n FROM products WHERE village_id = {yzy} AND status = 'on_sale' AND id <> {flour}"
        ));
        app.execute(&format!("UPDATE products SET stock = 1000 WHERE id IN ({flour}, {other})"));

        // Prepared: stored as the UTC instants given, at 550 basis points, audited.
        let (status, created) = team.post("/api/v1/team/live-sessions", &[], &session_body(yzy));
        assert_eq!(status, StatusCode::CREATED, "{created}");
        let session = created["session"]["id"].as_i64().expect("id");
        assert_eq!(created["session"]["status"], "draft");
        assert_eq!((created["session"]["starts_at"].clone(), created["session"]["ends_at"].clone()), (json!("2030-05-01T12:30:00Z"), json!("2030-05-01T14:30:00Z")));
        assert_eq!(created["session"]["host_commission_bp"], 550);
        assert_eq!(created["items"], json!([]));
        assert_eq!(app.count(&format!(
            "live_sessions WHERE id = {session} AND village_id = {yzy} AND host_commission_bp = 550 AND platform = 'douyin' \
             AND starts_at = '2030-05-01 12:30:00' AND ends_at = '2030-05-01 14:30:00' AND status = 'draft'"
        )), 1);
        assert_eq!(app.count(&format!("audit_log WHERE entity = 'live_session' AND entity_id = {session} AND action = 'create'")), 1);
        let (status, read) = team.get(&format!("/api/v1/team/live-sessions/{session}"));
        assert_eq!((status, read["session"].clone()), (StatusCode::OK, created["session"].clone()));

        // Items numbered 1, 2; a live price above the normal one is refused, naming it.
        let items = format!("/api/v1/team/live-sessions/{session}/items");
        let too_dear = json!({"product_id": other, "live_price_fen": price(app, other) + 1, "quota": 5, "per_buyer_limit": 1});
        let (status, body) = team.post(&items, &[], &too_dear);
        assert_eq!((status, body["error"]["field"].clone()), (StatusCode::UNPROCESSABLE_ENTITY, json!("live_price_fen")), "{body}");
        assert_eq!(app.count(&format!("live_items WHERE session_id = {session}")), 0);
        let flour_price = price(app, flour) - 100;
        let (status, _) = team.post(&items, &[], &json!({"product_id": flour, "live_price_fen": flour_price, "quota": 10, "per_buyer_limit": 2}));
        assert_eq!(status, StatusCode::CREATED);
        let (status, figures) = team.post(&items, &[], &json!({"product_id": other, "live_price_fen": price(app, other), "quota": 5, "per_buyer_limit": 1}));
        assert_eq!(status, StatusCode::CREATED, "{figures}");
        let numbered: Vec<(Value, Value)> = figures["items"].as_array().expect("items").iter().map(|i| (i["number"].clone(), i["product_id"].clone())).collect();
        assert_eq!(numbered, vec![(json!(1), json!(flour)), (json!(2), json!(other))]);
        let item = figures["items"][0]["item_id"].as_i64().expect("item_id");
        assert_eq!(app.count(&format!("live_items WHERE id = {item} AND session_id = {session} AND number = 1 AND live_price_fen = {flour_price}")), 1);

        // Started: each quota leaves its product's stock; a second start is out of turn.
        let (flour_stock, other_stock) = (stock(app, flour), stock(app, other));
        let (status, live) = team.post(&format!("/api/v1/team/live-sessions/{session}/start"), &[], &json!({}));
        assert_eq!((status, live["session"]["status"].clone()), (StatusCode::OK, json!("live")), "{live}");
        assert_eq!((stock(app, flour), stock(app, other)), (flour_stock - 10, other_stock - 5));
        for step in ["start", "schedule"] {
            let (status, body) = team.post(&format!("/api/v1/team/live-sessions/{session}/{step}"), &[], &json!({}));
            assert_eq!((status, body["error"]["field"].clone()), (StatusCode::CONFLICT, json!("status")), "{step}: {body}");
        }
        assert_eq!(stock(app, flour), flour_stock - 10, "taken once");

        // A viewer buys two of 1号 through its link.
        let link = figures["items"][0]["link_url"].as_str().expect("link").rsplit("/l/").next().expect("code").to_string();
        let viewer = app.browser();
        let (token, key) = crate::orders::checkout_fields(&viewer.text(&format!("/l/{link}")).1);
        let res = viewer.post_form(&format!("/l/{link}"), &[
            ("csrf_token", &token), ("idempotency_key", &key), ("quantity", "2"), ("name", "观众"),
            ("phone", "13900000001"), ("address", "大同市平城区"), ("payment_method", "bank_transfer"),
        ]);
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        let line_price = format!("order_lines l JOIN orders o ON o.id = l.order_id WHERE o.live_item_id = {item} AND l.unit_price_fen = {flour_price}");
        assert_eq!(app.count(&line_price), 1);

        // Mid-session: a lower price and a larger quota (the difference from the stock); the
        // order placed keeps its price. A quota below the two sold is refused, naming it.
        let change = format!("/api/v1/team/live-sessions/{session}/items/{item}");
        let (status, changed) = send(&team, Method::PUT, &change, &json!({"live_price_fen": flour_price - 50, "quota": 12}));
        assert_eq!(status, StatusCode::OK, "{changed}");
        let one = &changed["items"][0];
        assert_eq!((one["live_price"]["fen"].clone(), one["quota"].clone(), one["sold"].clone(), one["units_left"].clone()), (json!(flour_price - 50), json!(12), json!(2), json!(10)));
        assert_eq!(stock(app, flour), flour_stock - 12);
        assert_eq!(app.count(&line_price), 1, "the order keeps the price it was placed at");
        let (status, body) = send(&team, Method::PUT, &change, &json!({"live_price_fen": flour_price - 50, "quota": 1}));
        assert_eq!((status, body["error"]["field"].clone()), (StatusCode::UNPROCESSABLE_ENTITY, json!("quota")), "{body}");
        assert_eq!(app.count(&format!("live_items WHERE id = {item} AND quota = 12")), 1, "nothing changed");

        // Extended by an hour: stored; an end that is not RFC 3339, or not on a minute, is a 400.
        let extend = format!("/api/v1/team/live-sessions/{session}/extend");
        let (status, extended) = team.post(&extend, &[], &json!({"ends_at": "2030-05-01T23:30:00+08:00"}));
        assert_eq!((status, extended["session"]["ends_at"].clone()), (StatusCode::OK, json!("2030-05-01T15:30:00Z")), "{extended}");
        assert_eq!(app.count(&format!("live_sessions WHERE id = {session} AND ends_at = '2030-05-01 15:30:00'")), 1);
        for bad in ["2030-05-01 23:30", "2030-05-01T23:30:30+08:00", "tomorrow"] {
            let (status, body) = team.post(&extend, &[], &json!({"ends_at": bad}));
            assert_eq!((status, body["error"]["field"].clone()), (StatusCode::BAD_REQUEST, json!("ends_at")), "{bad}: {body}");
        }
        let (status, body) = team.post(&extend, &[], &json!({"ends_at": "2030-05-01T15:00:00Z"}));
        assert_eq!((status, body["error"]["field"].clone()), (StatusCode::UNPROCESSABLE_ENTITY, json!("ends_at")), "earlier: {body}");

        // Ended: what was not sold goes back to the stock; the session takes no more changes.
        let (status, ended) = team.post(&format!("/api/v1/team/live-sessions/{session}/end"), &[], &json!({}));
        assert_eq!((status, ended["session"]["status"].clone()), (StatusCode::OK, json!("ended")), "{ended}");
        assert_eq!((stock(app, flour), stock(app, other)), (flour_stock - 2, other_stock));
        let (status, body) = send(&team, Method::PUT, &change, &json!({"live_price_fen": flour_price, "quota": 12}));
        assert_eq!((status, body["error"]["field"].clone()), (StatusCode::CONFLICT, json!("status")), "{body}");
        let (status, body) = team.post(&extend, &[], &json!({"ends_at": "2030-05-02T01:00:00+08:00"}));
        assert_eq!((status, body["error"]["field"].clone()), (StatusCode::CONFLICT, json!("status")), "{body}");
        assert_eq!(app.count(&format!(
            "audit_log WHERE entity = 'live_session' AND entity_id = {session}"
        )), 7, "create, two items, live, the change, extend, end");
    }

    fn a_session_body_is_refused_by_the_field_at_fault(app) {
        let team = app.api(Some(&app.token("team@example.com")));
        let taer = app.scalar("SELECT id AS n FROM villages WHERE slug = 'taer'");
        let with = |field: &str, value: Value| {
            let mut body = session_body(village(app));
            body[field] = value;
            body
        };
        for (body, status, field) in [
            (with("starts_at", json!("2030-05-01 20:30")), StatusCode::BAD_REQUEST, "starts_at"),
            (with("starts_at", json!("2030-05-01T20:30:15+08:00")), StatusCode::BAD_REQUEST, "starts_at"),
            (with("ends_at", json!("2030-05-01T14:30:00.5Z")), StatusCode::BAD_REQUEST, "ends_at"),
            (with("ends_at", json!("2030-02-30T14:30:00Z")), StatusCode::BAD_REQUEST, "ends_at"),
            (with("platform", json!("tiktok")), StatusCode::BAD_REQUEST, "platform"),
            (with("host_commission_bp", json!(3001)), StatusCode::UNPROCESSABLE_ENTITY, "host_commission_bp"),
            (with("host_commission_bp", json!(-1)), StatusCode::UNPROCESSABLE_ENTITY, "host_commission_bp"),
            (with("ends_at", json!("2030-05-01T12:30:00Z")), StatusCode::UNPROCESSABLE_ENTITY, "ends_at"),
            (with("title", json!("  ")), StatusCode::UNPROCESSABLE_ENTITY, "title"),
            (with("host_name", json!("主".repeat(41))), StatusCode::UNPROCESSABLE_ENTITY, "host_name"),
            (with("village_id", json!(taer)), StatusCode::UNPROCESSABLE_ENTITY, "village_id"),
        ] {
            let (got, answer) = team.post("/api/v1/team/live-sessions", &[], &body);
            assert_eq!((got, answer["error"]["field"].clone()), (status, json!(field)), "{body}: {answer}");
        }
        assert_eq!(app.count("live_sessions"), 0);
        // A fraction of zeros is still the minute; 30.00 % is the most a host takes.
        let mut body = with("starts_at", json!("2030-05-01T20:30:00.000+08:00"));
        body["host_commission_bp"] = json!(3000);
        let (status, created) = team.post("/api/v1/team/live-sessions", &[], &body);
        assert_eq!(status, StatusCode::CREATED, "{created}");
        let session = created["session"]["id"].as_i64().expect("id");
        assert_eq!(app.count(&format!("live_sessions WHERE id = {session} AND host_commission_bp = 3000 AND starts_at = '2030-05-01 12:30:00'")), 1);
        // Not yet with items: it cannot be scheduled or started.
        for step in ["schedule", "start"] {
            let (status, body) = team.post(&format!("/api/v1/team/live-sessions/{session}/{step}"), &[], &json!({}));
            assert_eq!((status, body["error"]["field"].clone()), (StatusCode::CONFLICT, json!("status")), "{step}: {body}");
        }
        let (status, body) = team.post(&format!("/api/v1/team/live-sessions/{session}/rewind"), &[], &json!({}));
        assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    }

    fn another_village_another_role_or_no_token_reaches_nothing(app) {
        let team = app.api(Some(&app.token("team@example.com")));
        let (session, item) = prepared(app, &team);
        crate::households::taer_member(app);
        let taer = app.api(Some(&app.token("taer@example.com")));
        let cadre = app.api(Some(&app.token("cadre@example.com")));
        let guest = app.api(None);
        let base = format!("/api/v1/team/live-sessions/{session}");
        let flour = product_id(app, "huangmi-gaomian");
        let calls = [
            (Method::GET, base.clone(), json!({})),
            (Method::POST, format!("{base}/items"), json!({"product_id": flour, "live_price_fen": 100, "quota": 1, "per_buyer_limit": 1})),
            (Method::PUT, format!("{base}/items/{item}"), json!({"live_price_fen": 100, "quota": 3})),
            (Method::POST, format!("{base}/schedule"), json!({})),
            (Method::POST, format!("{base}/start"), json!({})),
            (Method::POST, format!("{base}/end"), json!({})),
            (Method::POST, format!("{base}/extend"), json!({"ends_at": "2030-05-02T01:00:00+08:00"})),
        ];
        for (method, path, body) in &calls {
            let (status, answer) = send(&taer, method.clone(), path, body);
            assert_eq!((status, answer["error"]["code"].clone()), (StatusCode::NOT_FOUND, json!("not_found")), "taer {method} {path}");
        }
        let create = (Method::POST, "/api/v1/team/live-sessions".to_string(), session_body(village(app)));
        let list = (Method::GET, "/api/v1/team/live-sessions".to_string(), json!({}));
        for (method, path, body) in calls.iter().chain([&create, &list]) {
            assert_eq!(send(&cadre, method.clone(), path, body).0, StatusCode::FORBIDDEN, "cadre {method} {path}");
            assert_eq!(send(&guest, method.clone(), path, body).0, StatusCode::UNAUTHORIZED, "guest {method} {path}");
        }
        // Another village's team lists none of it, and cannot prepare one for 杨州窑村.
        let (status, listed) = taer.get("/api/v1/team/live-sessions");
        assert_eq!((status, listed["sessions"].clone()), (StatusCode::OK, json!([])));
        let (status, body) = taer.post("/api/v1/team/live-sessions", &[], &session_body(village(app)));
        assert_eq!((status, body["error"]["field"].clone()), (StatusCode::UNPROCESSABLE_ENTITY, json!("village_id")));
        // Nothing moved.
        assert_eq!(app.count(&format!("live_sessions WHERE id = {session} AND status = 'draft'")), 1);
        assert_eq!(app.count("live_sessions"), 1);
        assert_eq!(app.count(&format!("live_items WHERE session_id = {session} AND quota = 10")), 1);
        assert_eq!(app.count("audit_log WHERE entity = 'live_session'"), 2, "create, the item");
        // An item is reached through its own session only, even by its own team.
        let (other, _) = prepared(app, &team);
        let stray = format!("/api/v1/team/live-sessions/{other}/items/{item}");
        assert_eq!(send(&team, Method::PUT, &stray, &json!({"live_price_fen": 100, "quota": 3})).0, StatusCode::NOT_FOUND);
        assert_eq!(app.count(&format!("live_items WHERE id = {item} AND quota = 10")), 1);
    }
}
