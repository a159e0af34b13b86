//! The JSON API v1 through the real server: the catalogue walked by cursor, a guest's
//! order placed once per idempotency key, tokens as the only way in, the one error shape,
//! the rate limit counted across two server processes, and the document describing every
//! route the server answers.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{TestApp, both_databases, read_json};

const KEY: &str = "retrykey0000000000000001";

fn order_body(product_id: i64, quantity: i64) -> Value {
    json!({
        "lines": [{"product_id": product_id, "quantity": quantity}],
        "name": "王芳",
        "phone": "138 0013 8000",
        "address": "大同市平城区迎宾街 1 号",
        "payment_method": "cash_on_delivery",
    })
}

/// A product on sale with stock, and how much it has.
fn product_in_stock(app: &TestApp) -> (i64, i64) {
    let id = app.scalar(
        "SELECT MIN(id) AS n FROM products WHERE status = 'on_sale' AND stock >= 10 AND min_per_order = 1",
    );
    (
        id,
        app.scalar(&format!(
            "SELECT CAST(stock AS BIGINT) AS n FROM products WHERE id = {id}"
        )),
    )
}

both_databases! {
    fn the_catalogue_is_walked_by_cursor_without_skipping_or_repeating(app) {
        let api = app.api(None);
        let (status, villages) = api.get("/api/v1/villages");
        assert_eq!(status, StatusCode::OK);
        assert_eq!(villages["villages"].as_array().expect("list").len() as i64, app.count("villages"));

        let on_sale = app.count("products WHERE status = 'on_sale'");
        let mut seen = Vec::new();
        let mut path = "/api/v1/products?limit=7".to_string();
        loop {
            let (status, page) = api.get(&path);
            assert_eq!(status, StatusCode::OK, "{page}");
            let products = page["products"].as_array().expect("products");
            assert!(products.len() <= 7);
            seen.extend(products.iter().map(|p| p["id"].as_i64().expect("id")));
            match page["next_cursor"].as_str() {
                Some(cursor) => path = format!("/api/v1/products?limit=7&cursor={cursor}"),
                None => break,
            }
        }
        let mut unique = seen.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), seen.len(), "no product twice");
        assert_eq!(seen.len() as i64, on_sale, "every product on sale once");

        // Money as fen and text; the search and the county filter narrow it.
        let (_, page) = api.get("/api/v1/products?q=%E5%B0%8F%E7%B1%B3&limit=100");
        let first = &page["products"][0];
        assert!(first["name_zh"].as_str().expect("name").contains("小米") || first["village"]["name_zh"].as_str().expect("village").contains("小米"));
        let fen = first["price"]["fen"].as_i64().expect("fen");
        assert_eq!(first["price"]["text"], village_market::domain::money::format_fen(fen));
        let (_, none) = api.get("/api/v1/products?county=nowhere");
        assert_eq!(none["products"], json!([]));
        assert_eq!(none["next_cursor"], Value::Null);

        // One product with its tiers; a draft or unknown one is not there.
        let id = first["id"].as_i64().expect("id");
        let (status, product) = api.get(&format!("/api/v1/products/{id}"));
        assert_eq!(status, StatusCode::OK);
        assert_eq!(product["id"], id);
        assert!(product["tiers"].is_array() && product["county"]["slug"].is_string());
        app.execute(&format!("UPDATE products SET status = 'draft' WHERE id = {id}"));
        let (status, body) = api.get(&format!("/api/v1/products/{id}"));
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(body["error"]["code"], "not_found");

        // Bad parameters are 400 naming the parameter.
        for (path, field) in [
            ("/api/v1/products?limit=0", "limit"),
            ("/api/v1/products?limit=101", "limit"),
            ("/api/v1/products?cursor=after-7", "cursor"),
            ("/api/v1/products?q=a%00b", "q"),
        ] {
            let (status, body) = api.get(path);
            assert_eq!(status, StatusCode::BAD_REQUEST, "{path}");
            assert_eq!(body["error"]["field"], field, "{path}: {body}");
            assert_eq!(body["error"]["code"], "bad_field");
        }
        // A known path with another method: 405 naming the methods it takes.
        let res = api.request(Method::DELETE, "/api/v1/products/1").send().expect("DELETE");
        assert_eq!(res.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(res.headers()["allow"], "GET");
        let (status, body) = api.get("/api/v1/no-such-thing");
        assert_eq!((status, body["error"]["code"].clone()), (StatusCode::NOT_FOUND, json!("not_found")));
    }

    /// Retries of one order sent together (a client that timed out and resent, twice): one
    /// order, and only the request that placed it answers `Idempotent-Replayed: false`,
    /// whichever of them read the clock first.
    fn retries_sent_together_place_one_order_and_only_its_placer_is_no_replay(app) {
        let api = app.api(None);
        let (product, stock) = product_in_stock(app);
        let orders_before = app.count("orders");
        let body = order_body(product, 1);
        for round in 0..4 {
            let key = format!("raceRetryKey{round:012}");
            let answers: Vec<(StatusCode, String, String)> = std::thread::scope(|s| {
                let sent: Vec<_> = (0..6).map(|_| s.spawn(|| {
                    let res = api.request(Method::POST, "/api/v1/orders").header("Idempotency-Key", key.as_str()).json(&body).send().expect("POST");
                    let replayed = crate::support::replayed(&res).unwrap_or_default();
                    let (status, answer) = read_json(res);
                    (status, answer["number"].as_str().unwrap_or("").to_string(), replayed)
                })).collect();
                sent.into_iter().map(|h| h.join().expect("a request")).collect()
            });
            assert!(answers.iter().all(|(status, number, _)| *status == StatusCode::CREATED && *number == answers[0].1), "round {round}: {answers:?}");
            assert_eq!(answers.iter().filter(|(_, _, replayed)| replayed == "false").count(), 1, "round {round}: {answers:?}");
        }
        assert_eq!(app.count("orders"), orders_before + 4);
        assert_eq!(app.scalar(&format!("SELECT CAST(stock AS BIGINT) AS n FROM products WHERE id = {product}")), stock - 4);
    }

    fn a_guests_order_is_placed_once_per_idempotency_key_and_read_by_its_key(app) {
        let api = app.api(None);
        let (product, stock) = product_in_stock(app);
        let orders_before = app.count("orders");

        // Refusals name their field and write nothing.
        let (status, body) = api.post("/api/v1/orders", &[], &order_body(product, 2));
        assert_eq!((status, body["error"]["field"].clone()), (StatusCode::BAD_REQUEST, json!("Idempotency-Key")));
        let key = [("Idempotency-Key", KEY)];
        let refusals = [
            (json!({"lines": [{"product_id": product, "quantity": "two"}]}), StatusCode::BAD_REQUEST, "lines[0].quantity"),
            (json!({"lines": [], "name": "x", "phone": "13800138000", "address": "x", "payment_method": "cash_on_delivery", "extra": 1}), StatusCode::BAD_REQUEST, "extra"),
            ({ let mut b = order_body(product, 2); b["payment_method"] = json!("bitcoin"); b }, StatusCode::BAD_REQUEST, "payment_method"),
            ({ let mut b = order_body(product, 2); b["name"] = json!("王\u{0007}芳"); b }, StatusCode::BAD_REQUEST, "name"),
            (order_body(product, 0), StatusCode::UNPROCESSABLE_ENTITY, "lines[0].quantity"),
            ({ let mut b = order_body(product, 2); b["phone"] = json!("12345"); b }, StatusCode::UNPROCESSABLE_ENTITY, "phone"),
            ({ let mut b = order_body(product, 2); b["name"] = json!("  "); b }, StatusCode::UNPROCESSABLE_ENTITY, "name"),
            (order_body(product, stock + 1), StatusCode::CONFLICT, "lines[0].quantity"),
        ];
        for (body, expected, field) in refusals {
            let (status, answer) = api.post("/api/v1/orders", &key, &body);
            assert_eq!(status, expected, "{body}: {answer}");
            assert_eq!(answer["error"]["field"], field, "{answer}");
        }
        let (status, answer) = api.post("/api/v1/orders?lang=fr", &key, &order_body(product, 2));
        assert_eq!((status, answer["error"]["field"].clone()), (StatusCode::BAD_REQUEST, json!("lang")));
        let res = api.request(Method::POST, "/api/v1/orders").header("Idempotency-Key", KEY).header("Content-Type", "text/plain").body("{}").send().expect("POST");
        let (status, answer) = read_json(res);
        assert_eq!((status, answer["error"]["field"].clone()), (StatusCode::BAD_REQUEST, json!("Content-Type")));
        // A body over 64 KiB: 413, its own code.
        let mut big = order_body(product, 2);
        big["note"] = json!("长".repeat(30_000));
        let (status, answer) = api.post("/api/v1/orders", &key, &big);
        assert_eq!((status, answer["error"]["code"].clone()), (StatusCode::PAYLOAD_TOO_LARGE, json!("too_large")));
        assert_eq!(app.count("orders"), orders_before, "nothing written");
        assert_eq!(app.scalar(&format!("SELECT CAST(stock AS BIGINT) AS n FROM products WHERE id = {product}")), stock);

        // Placed: 201 with its address; a retry of the same request answers the same order.
        let body = order_body(product, 2);
        let res = api.request(Method::POST, "/api/v1/orders?lang=en").header("Idempotency-Key", KEY).json(&body).send().expect("POST");
        assert_eq!(res.status(), StatusCode::CREATED);
        assert_eq!(res.headers()["idempotent-replayed"], "false");
        let location = res.headers()["location"].to_str().expect("location").to_string();
        let first: Value = res.json().expect("json");
        assert_eq!(location, format!("/api/v1/orders/{}", first["key"].as_str().expect("key")));
        assert_eq!(first["status"], "pending_payment");
        assert_eq!(first["buyer_phone"], "13800138000");
        let unit = app.scalar(&format!("SELECT unit_price_fen AS n FROM products WHERE id = {product}"));
        assert_eq!(first["total"]["fen"], unit * 2);
        assert!(first["created_at"].as_str().expect("time").ends_with('Z'));
        // The retry spells its JSON otherwise (keys reordered, spaced, `2.0`): the same request.
        let mut respelled = serde_json::to_string_pretty(&body).expect("json");
        respelled = respelled.replace("\"quantity\": 2", "\"quantity\": 2.0");
        let lines = respelled.find("\"lines\"").expect("lines");
        assert!(lines > 1, "the pretty form starts with another key: {respelled}");
        let res = api.request(Method::POST, "/api/v1/orders?lang=en").header("Idempotency-Key", KEY).header("Content-Type", "application/json").body(respelled).send().expect("POST");
        assert_eq!(res.status(), StatusCode::CREATED);
        assert_eq!(res.headers()["idempotent-replayed"], "true");
        let again: Value = res.json().expect("json");
        assert_eq!(again["number"], first["number"]);
        assert_eq!(app.count("orders"), orders_before + 1, "one order for the retry");
        assert_eq!(app.scalar(&format!("SELECT CAST(stock AS BIGINT) AS n FROM products WHERE id = {product}")), stock - 2);
        assert_eq!(app.scalar(&format!("SELECT COUNT(*) AS n FROM orders WHERE locale = 'en' AND number = '{}'", first["number"].as_str().expect("number"))), 1);

        // The same key with another request finds nothing of the first: a new order. (`1.0`
        // is the integer 1, as JSON Schema reads it.)
        let mut body = order_body(product, 1);
        body["lines"][0]["quantity"] = json!(1.0);
        let (status, other) = api.post("/api/v1/orders", &key, &body);
        assert_eq!(status, StatusCode::CREATED);
        assert_ne!(other["number"], first["number"]);
        assert_eq!(app.count("orders"), orders_before + 2);

        // Read by its key; a key that names nothing is 404.
        let (status, read) = api.get(&location);
        assert_eq!(status, StatusCode::OK);
        assert_eq!(read["number"], first["number"]);
        assert_eq!(read["lines"][0]["quantity"], 2);
        assert_eq!(read["shipments"][0]["status"], "pending");
        let (status, _) = api.get(&format!("/api/v1/orders/{}", "0".repeat(48)));
        assert_eq!(status, StatusCode::NOT_FOUND);
    }

    fn the_api_answers_tokens_alone_each_as_its_user(app) {
        let guest = app.api(None);
        let res = guest.request(Method::GET, "/api/v1/me").send().expect("GET");
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(res.headers()["www-authenticate"], "Bearer");
        let (_, body) = read_json(res);
        assert_eq!(body["error"]["code"], "token_required");

        // A signed-in browser's cookie does not open the API, however the path is spelled.
        let browser = app.signed_in("team@example.com");
        for path in ["/api/v1/me", "/%61pi/v1/me", "/api/v1/%6De"] {
            let res = browser.get(path);
            assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{path}");
            let (_, body) = read_json(res);
            assert_eq!(body["error"]["code"], "token_required", "{path}: JSON");
        }

        for (email, role, kind) in [
            ("admin@example.com", "admin", "city"),
            ("team@example.com", "team", "villages"),
            ("canteen@example.com", "canteen", "organization"),
            ("cadre@example.com", "cadre", "city"),
        ] {
            let token = app.token(email);
            let (status, me) = app.api(Some(&token)).get("/api/v1/me");
            assert_eq!(status, StatusCode::OK, "{email}");
            assert_eq!((me["email"].as_str(), me["role"].as_str(), me["scope"]["kind"].as_str()), (Some(email), Some(role), Some(kind)), "{me}");
        }
        let team = app.api(Some(&app.token("team@example.com")));
        let (_, me) = team.get("/api/v1/me");
        let villages = app.scalar(&format!("SELECT COUNT(*) AS n FROM team_villages WHERE user_id = {}", me["id"]));
        assert_eq!(me["scope"]["village_ids"].as_array().expect("ids").len() as i64, villages);

        let (status, body) = app.api(Some("vm_not-a-token")).get("/api/v1/me");
        assert_eq!((status, body["error"]["code"].clone()), (StatusCode::UNAUTHORIZED, json!("token_refused")));
        app.execute(&format!("UPDATE users SET disabled = TRUE WHERE id = {}", me["id"]));
        let (status, _) = team.get("/api/v1/me");
        assert_eq!(status, StatusCode::UNAUTHORIZED, "a disabled user's token stops at once");
    }

    fn every_route_the_api_answers_is_in_its_document(app) {
        let api = app.api(None);
        let (status, doc) = api.get("/api/v1/openapi.json");
        assert_eq!(status, StatusCode::OK);
        assert_eq!(doc["openapi"], "3.1.0");
        assert_eq!(doc["components"]["securitySchemes"]["bearer"]["scheme"], "bearer");
        // Every reference names a schema the document holds.
        let text = doc.to_string();
        for reference in text.split("\"$ref\":\"#/components/schemas/").skip(1) {
            let name = reference.split('"').next().expect("name");
            assert!(doc["components"]["schemas"].get(name).is_some(), "{name} is referred to and missing");
        }
        let paths = doc["paths"].as_object().expect("paths");
        for needed in ["/api/v1/villages", "/api/v1/products", "/api/v1/products/{id}", "/api/v1/orders", "/api/v1/orders/{key}", "/api/v1/me", "/api/v1/openapi.json", "/api/v1/docs"] {
            assert!(paths.contains_key(needed), "{needed} is described");
        }
        // Each described operation is served (a filled-in path reaches its handler, not
        // the 404/405 of an address the API does not have); each answer is described too.
        for (path, item) in paths {
            let concrete = path.replace("{id}", "1").replace("{key}", &"0".repeat(48));
            for method in ["get", "post", "put", "patch", "delete"] {
                let Some(op) = item.get(method) else { continue };
                let responses = op["responses"].as_object().expect("responses");
                for status in ["400", "429"] {
                    assert!(responses.contains_key(status), "{method} {path} describes {status}");
                }
                let res = api.request(method.to_uppercase().parse().expect("method"), &concrete).header("Content-Type", "application/json").body("{}").send().expect("request");
                let status = res.status();
                assert_ne!(status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
                assert!(responses.contains_key(status.as_str()), "{method} {path} answered {status}, which it does not describe");
                if status == StatusCode::NOT_FOUND {
                    let (_, body) = read_json(res);
                    assert_eq!(body["error"]["code"], "not_found", "{method} {path}");
                }
            }
        }
        // The reference page is served by the binary, from the same document.
        let page = app.browser().text("/api/v1/docs?lang=en").1;
        assert!(page.contains("API reference"));
        assert!(page.contains("POST /api/v1/orders") && page.contains("PlaceOrder"));
        assert!(!page.contains("cdn"), "nothing from a CDN");
    }
}

#[test]
fn the_rate_limit_holds_across_server_processes_per_token() {
    for backend in [
        village_market::db::Backend::Sqlite,
        village_market::db::Backend::Postgres,
    ] {
        let app = TestApp::start_with(backend, |args| args.api_requests_per_minute = 6);
        let other = app.another_server();
        let token = app.token("team@example.com");
        // Requests near a minute's end would fall into two windows.
        let second = chrono::Utc::now().timestamp() % 60;
        if second > 50 {
            std::thread::sleep(std::time::Duration::from_secs((61 - second) as u64));
        }
        let here = app.api(Some(&token));
        let there = crate::support::Api::new(&other.base, Some(&token));
        for api in [&here, &there, &here, &there, &here, &there] {
            assert_eq!(api.get("/api/v1/me").0, StatusCode::OK);
        }
        // The first process counts what the second let through (whose own limit is the
        // tests' default): the 7th of the minute is refused.
        let res = here.request(Method::GET, "/api/v1/me").send().expect("GET");
        assert_eq!(
            res.status(),
            StatusCode::TOO_MANY_REQUESTS,
            "{backend:?}: the 7th of the minute"
        );
        let wait: u64 = res.headers()["retry-after"]
            .to_str()
            .expect("text")
            .parse()
            .expect("seconds");
        assert!((1..=60).contains(&wait), "{wait}");
        let (_, body) = read_json(res);
        assert_eq!(body["error"]["code"], "too_many_attempts");
        // A guest's address has a minute of its own, and a bearer that is no token of ours
        // (made up afresh each time) counts as its address, not as a fresh minute.
        for n in 0..6 {
            let made_up = app.api(Some(&format!("vm_made-up-{n}")));
            assert_eq!(
                made_up.get("/api/v1/villages").0,
                StatusCode::OK,
                "{backend:?}: {n}"
            );
        }
        let (status, _) = app.api(Some("vm_made-up-again")).get("/api/v1/villages");
        assert_eq!(
            status,
            StatusCode::TOO_MANY_REQUESTS,
            "{backend:?}: the address's 7th"
        );
        assert_eq!(
            app.api(None).get("/api/v1/villages").0,
            StatusCode::TOO_MANY_REQUESTS
        );
        // Another token has a minute of its own.
        let fresh = app.api(Some(&app.token("cadre@example.com")));
        assert_eq!(fresh.get("/api/v1/me").0, StatusCode::OK);
    }
}

both_databases! {
    fn a_team_works_its_orders_register_and_stock_through_the_api_within_its_villages(app) {
        crate::households::taer_member(app);
        let team = app.api(Some(&app.token("team@example.com")));
        let taer = app.api(Some(&app.token("taer@example.com")));
        let (_, me) = team.get("/api/v1/me");
        let mine: Vec<i64> = me["scope"]["village_ids"].as_array().expect("ids").iter().map(|v| v.as_i64().expect("id")).collect();
        let taer_village = crate::households::village_id(app, "taer");
        assert!(!mine.contains(&taer_village), "the demo team is not 塔儿村's");

        // A guest's cash-on-delivery order for one of the team's products.
        let product = app.scalar(&format!(
            "SELECT MIN(id) AS n FROM products WHERE status = 'on_sale' AND stock >= 10 AND min_per_order = 1 AND village_id IN ({})",
            mine.iter().map(i64::to_string).collect::<Vec<_>>().join(",")));
        let village = app.scalar(&format!("SELECT village_id AS n FROM products WHERE id = {product}"));
        let (status, placed) = app.api(None).post("/api/v1/orders", &[("Idempotency-Key", "teamapiorder00000001")], &order_body(product, 3));
        assert_eq!(status, StatusCode::CREATED, "{placed}");
        let id = app.scalar(&format!("SELECT id AS n FROM orders WHERE number = '{}'", placed["number"].as_str().expect("number")));

        // Listed and read by the team; another village's team finds nothing.
        let (status, list) = team.get("/api/v1/team/orders?status=pending_payment");
        assert_eq!(status, StatusCode::OK);
        assert!(list["orders"].as_array().expect("orders").iter().any(|o| o["id"] == id));
        assert!(list["orders"].as_array().expect("orders").iter().all(|o| o["status"] == "pending_payment"));
        let (_, theirs) = taer.get("/api/v1/team/orders");
        assert!(!theirs["orders"].as_array().expect("orders").iter().any(|o| o["id"] == id));
        let (status, order) = team.get(&format!("/api/v1/team/orders/{id}"));
        assert_eq!(status, StatusCode::OK);
        assert_eq!((order["number"].clone(), order["lines"][0]["quantity"].clone()), (placed["number"].clone(), json!(3)));
        assert!(order.get("key").is_none(), "the buyer's key is the buyer's");
        assert_eq!(taer.get(&format!("/api/v1/team/orders/{id}")).0, StatusCode::NOT_FOUND);
        for (path, field) in [("/api/v1/team/orders?status=lost", "status"), ("/api/v1/team/orders?date=", "date"), ("/api/v1/team/orders?date=2026-13-01", "date")] {
            let (status, body) = team.get(path);
            assert_eq!((status, body["error"]["field"].clone()), (StatusCode::BAD_REQUEST, json!(field)), "{path}");
        }

        // Its part packed, refused out of turn (409 naming status), shipped with a carrier;
        // another village's team cannot touch it, nor a canteen buyer's token.
        let step = |api: &crate::support::Api, step: &str, body: Value| api.post(&format!("/api/v1/team/orders/{id}/villages/{village}/{step}"), &[], &body);
        assert_eq!(step(&taer, "pack", json!({})).0, StatusCode::NOT_FOUND);
        let canteen = app.api(Some(&app.token("canteen@example.com")));
        assert_eq!(step(&canteen, "pack", json!({})).0, StatusCode::FORBIDDEN);
        let (status, packed) = step(&team, "pack", json!({}));
        assert_eq!(status, StatusCode::OK, "{packed}");
        assert_eq!(packed["shipments"][0]["status"], "packed");
        let (status, body) = step(&team, "deliver", json!({}));
        assert_eq!((status, body["error"]["field"].clone()), (StatusCode::CONFLICT, json!("status")));
        assert_eq!(step(&team, "fly", json!({})).0, StatusCode::NOT_FOUND);
        let (status, shipped) = step(&team, "ship", json!({"carrier": "顺丰", "tracking_number": "SF1234567890"}));
        assert_eq!(status, StatusCode::OK, "{shipped}");
        assert_eq!((shipped["shipments"][0]["status"].clone(), shipped["shipments"][0]["carrier"].clone()), (json!("shipped"), json!("顺丰")));
        assert_eq!(app.count(&format!("order_events WHERE order_id = {id} AND village_id = {village}")), 2, "packed, shipped");

        // The register: a household registered (audited), refused by field, edited; another
        // village's team gets 404 on it.
        let households_before = app.count("households");
        let new = json!({"village_id": village, "code": "API-001", "head_name": "李大山", "resident_members": 4,
                         "category": "yiban", "phone": "13912345678", "payout_method": "bank", "payout_account": "6222 0000 1111"});
        let (status, made) = team.post("/api/v1/team/households", &[], &new);
        assert_eq!(status, StatusCode::CREATED, "{made}");
        assert_eq!((made["code"].clone(), made["resident_members"].clone(), made["category"].clone()), (json!("API-001"), json!(4), json!("yiban")));
        let household = made["id"].as_i64().expect("id");
        assert_eq!(team.get(&format!("/api/v1/team/households/{household}")).1["code"], "API-001");
        assert_eq!(taer.get(&format!("/api/v1/team/households/{household}")).0, StatusCode::NOT_FOUND);
        assert_eq!(app.count(&format!("audit_log WHERE entity = 'household' AND entity_id = {household} AND action = 'create'")), 1);
        let (status, body) = team.post("/api/v1/team/households", &[], &new);
        assert_eq!((status, body["error"]["field"].clone()), (StatusCode::UNPROCESSABLE_ENTITY, json!("code")), "the code is taken");
        let mut elsewhere = new.clone();
        elsewhere["village_id"] = json!(taer_village);
        elsewhere["code"] = json!("API-002");
        let (status, body) = team.post("/api/v1/team/households", &[], &elsewhere);
        assert_eq!((status, body["error"]["field"].clone()), (StatusCode::UNPROCESSABLE_ENTITY, json!("village_id")));
        let mut bad = new.clone();
        bad["category"] = json!("rich");
        let (status, body) = team.post("/api/v1/team/households", &[], &bad);
        assert_eq!((status, body["error"]["field"].clone()), (StatusCode::BAD_REQUEST, json!("category")));
        // 2⁵³ written as a whole float is an integer to JSON Schema, so a village id like
        // any other (none such: 422), not a malformed body (the fuzzer's find).
        let huge = r#"{"village_id": 9007199254740992.0, "code": "API-003", "head_name": "李大山",
            "resident_members": 4, "category": "yiban", "payout_method": "bank"}"#;
        let res = team.request(Method::POST, "/api/v1/team/households").header("Content-Type", "application/json").body(huge).send().expect("POST");
        let (status, body) = read_json(res);
        assert_eq!((status, body["error"]["field"].clone()), (StatusCode::UNPROCESSABLE_ENTITY, json!("village_id")), "{body}");
        assert_eq!(app.count("households"), households_before + 1);

        let mut edit = new.clone();
        edit.as_object_mut().expect("object").remove("village_id");
        edit["resident_members"] = json!(5);
        let res = team.request(Method::PUT, &format!("/api/v1/team/households/{household}")).json(&edit).send().expect("PUT");
        let (status, saved) = read_json(res);
        assert_eq!((status, saved["resident_members"].clone()), (StatusCode::OK, json!(5)));
        let res = taer.request(Method::PUT, &format!("/api/v1/team/households/{household}")).json(&edit).send().expect("PUT");
        assert_eq!(res.status(), StatusCode::NOT_FOUND);
        let (status, page) = team.get("/api/v1/team/households?q=API-001");
        assert_eq!(status, StatusCode::OK);
        assert_eq!((page["total"].clone(), page["households"][0]["id"].clone()), (json!(1), json!(household)));
        let (_, none) = taer.get("/api/v1/team/households?q=API-001");
        assert_eq!(none["total"], 0);

        // A lot received from the new household: the product's stock grows, audited.
        let stock = app.scalar(&format!("SELECT CAST(stock AS BIGINT) AS n FROM products WHERE id = {product}"));
        let today = village_market::domain::china_date(village_market::domain::now_utc()).to_string();
        let consignment = app.scalar(&format!("SELECT COUNT(*) AS n FROM products WHERE id = {product} AND supply_mode = 'consignment'")) == 1;
        let mut lot = json!({"product_id": product, "household_id": household, "quantity": 12, "received_on": today});
        if !consignment {
            lot["purchase_price_fen"] = json!(500);
        }
        let (status, recorded) = team.post("/api/v1/team/stock-lots", &[], &lot);
        assert_eq!(status, StatusCode::CREATED, "{recorded}");
        assert_eq!((recorded["quantity"].clone(), recorded["remaining"].clone()), (json!(12), json!(12)));
        assert_eq!(app.scalar(&format!("SELECT CAST(stock AS BIGINT) AS n FROM products WHERE id = {product}")), stock + 12);
        let mut tomorrow = lot.clone();
        tomorrow["received_on"] = json!("2999-01-01");
        let (status, body) = team.post("/api/v1/team/stock-lots", &[], &tomorrow);
        assert_eq!((status, body["error"]["field"].clone()), (StatusCode::UNPROCESSABLE_ENTITY, json!("received_on")));
        let mut wrong_price = lot.clone();
        wrong_price["purchase_price_fen"] = if consignment { json!(500) } else { Value::Null };
        let (status, body) = team.post("/api/v1/team/stock-lots", &[], &wrong_price);
        assert_eq!((status, body["error"]["field"].clone()), (StatusCode::UNPROCESSABLE_ENTITY, json!("purchase_price_fen")), "{body}");
        let (status, _) = taer.post("/api/v1/team/stock-lots", &[], &lot);
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "another village's product is no choice of theirs");
        assert_eq!(app.scalar(&format!("SELECT CAST(stock AS BIGINT) AS n FROM products WHERE id = {product}")), stock + 12);

        // With an Idempotency-Key a retry answers the lot the first request recorded.
        let send = |key: &str| {
            let res = team.request(Method::POST, "/api/v1/team/stock-lots").header("Idempotency-Key", key).json(&lot).send().expect("POST");
            let replayed = crate::support::replayed(&res);
            let (status, body) = read_json(res);
            (status, body["id"].clone(), replayed)
        };
        let (status, first, replayed) = send("lotRetryKey0000000001");
        assert_eq!((status, replayed.as_deref()), (StatusCode::CREATED, Some("false")));
        let (status, again, replayed) = send("lotRetryKey0000000001");
        assert_eq!((status, again, replayed.as_deref()), (StatusCode::CREATED, first, Some("true")));
        let mut other_lot = lot.clone();
        other_lot["quantity"] = json!(13);
        let (status, body) = team.post("/api/v1/team/stock-lots", &[("Idempotency-Key", "lotRetryKey0000000001")], &other_lot);
        assert_eq!((status, body["error"]["field"].clone()), (StatusCode::UNPROCESSABLE_ENTITY, json!("Idempotency-Key")), "{body}");
        let (status, body) = team.post("/api/v1/team/stock-lots", &[("Idempotency-Key", "short")], &lot);
        assert_eq!((status, body["error"]["field"].clone()), (StatusCode::BAD_REQUEST, json!("Idempotency-Key")), "{body}");
        assert_eq!(app.scalar(&format!("SELECT CAST(stock AS BIGINT) AS n FROM products WHERE id = {product}")), stock + 24);
    }
}

both_databases! {
    fn the_report_figures_are_read_within_each_readers_scope(app) {
        // Trade to read: a guest's order of 杨州窑村, by bank transfer, which the team
        // records as paid on the order's page.
        let yzy = crate::households::village_id(app, "yangzhouyao");
        let product = app.scalar(&format!("SELECT MIN(id) AS n FROM products WHERE status = 'on_sale' AND stock >= 10 AND min_per_order = 1 AND village_id = {yzy}"));
        let mut body = order_body(product, 2);
        body["payment_method"] = json!("bank_transfer");
        let (status, placed) = app.api(None).post("/api/v1/orders", &[("Idempotency-Key", "reportsorder00000001")], &body);
        assert_eq!(status, StatusCode::CREATED, "{placed}");
        let id = app.scalar(&format!("SELECT id AS n FROM orders WHERE number = '{}'", placed["number"].as_str().expect("number")));
        let page = format!("/team/orders/{id}");
        let paid = app.signed_in("team@example.com").submit(&page, &format!("{page}/paid"), &[("reference", "ICBC 2026")]);
        assert_eq!(paid.status(), StatusCode::SEE_OTHER);

        let cadre = app.api(Some(&app.token("cadre@example.com")));
        let all = "from=2000-01&to=2100-12";
        let (status, scope) = cadre.get(&format!("/api/v1/reports?{all}"));
        assert_eq!(status, StatusCode::OK, "{scope}");
        let sales = app.scalar("SELECT CAST(COALESCE(SUM(sales_fen), 0) AS BIGINT) AS n FROM village_month_totals");
        let collective = app.scalar("SELECT CAST(COALESCE(SUM(collective_fen), 0) AS BIGINT) AS n FROM village_month_totals");
        let income = app.scalar("SELECT CAST(COALESCE(SUM(income_fen), 0) AS BIGINT) AS n FROM household_month_totals");
        assert!(sales >= placed["total"]["fen"].as_i64().expect("fen"), "the order paid is in");
        assert_eq!(scope["totals"]["sales"]["fen"], sales);
        assert_eq!(scope["totals"]["collective"]["fen"], collective);
        assert_eq!(scope["totals"]["household_income"]["fen"], income);
        let by_channel: i64 = scope["totals"]["sales_by_channel"].as_array().expect("channels").iter().map(|c| c["sales"]["fen"].as_i64().expect("fen")).sum();
        assert_eq!(by_channel, sales);
        let counties = scope["counties"].as_array().expect("counties");
        let county_sales: i64 = counties.iter().map(|c| c["figures"]["sales"]["fen"].as_i64().expect("fen")).sum();
        assert_eq!(county_sales, sales, "the counties add up to the whole");

        // A village, household by household: its households add up to its income.
        let (status, village) = cadre.get(&format!("/api/v1/reports/villages/{yzy}?{all}&sort=income&order=desc"));
        assert_eq!(status, StatusCode::OK, "{village}");
        let rows = village["households"].as_array().expect("households");
        let incomes: Vec<i64> = rows.iter().map(|h| h["income"]["fen"].as_i64().expect("fen")).collect();
        assert_eq!(incomes.iter().sum::<i64>(), village["totals"]["household_income"]["fen"].as_i64().expect("fen"));
        assert!(incomes.windows(2).all(|w| w[0] >= w[1]), "by income, highest first");
        assert_eq!(rows.len() as i64, app.count(&format!("households WHERE village_id = {yzy} AND NOT archived")));
        let (_, tuopin) = cadre.get(&format!("/api/v1/reports/villages/{yzy}?{all}&category=tuopin"));
        assert!(tuopin["households"].as_array().expect("households").iter().all(|h| h["category"] == "tuopin"));
        let county_id = app.scalar(&format!("SELECT county_id AS n FROM villages WHERE id = {yzy}"));
        let (status, county) = cadre.get(&format!("/api/v1/reports/counties/{county_id}?{all}"));
        assert_eq!(status, StatusCode::OK);
        assert!(county["villages"].as_array().expect("villages").iter().any(|v| v["village"]["id"] == yzy));

        // A team reads its own villages only; a canteen buyer reads no reports.
        let team = app.api(Some(&app.token("team@example.com")));
        let (_, me) = team.get("/api/v1/me");
        let mine = me["scope"]["village_ids"].as_array().expect("ids").clone();
        let (_, theirs) = team.get(&format!("/api/v1/reports?{all}"));
        for c in theirs["counties"].as_array().expect("counties") {
            for v in c["villages"].as_array().expect("villages") {
                assert!(mine.contains(&v["village"]["id"]), "{v}");
            }
        }
        let outside = app.scalar(&format!("SELECT MIN(id) AS n FROM villages WHERE id NOT IN ({})", mine.iter().map(|v| v.to_string()).collect::<Vec<_>>().join(",")));
        assert_eq!(team.get(&format!("/api/v1/reports/villages/{outside}")).0, StatusCode::NOT_FOUND);
        let canteen = app.api(Some(&app.token("canteen@example.com")));
        assert_eq!(canteen.get("/api/v1/reports").0, StatusCode::FORBIDDEN);

        // The period and the order are named when wrong.
        for (path, status, field) in [
            ("/api/v1/reports?from=2026-06&to=2026-01", StatusCode::UNPROCESSABLE_ENTITY, "from"),
            ("/api/v1/reports?from=2026-13", StatusCode::BAD_REQUEST, "from"),
            ("/api/v1/reports?to=", StatusCode::BAD_REQUEST, "to"),
            (&format!("/api/v1/reports/villages/{yzy}?sort=wealth"), StatusCode::BAD_REQUEST, "sort"),
            (&format!("/api/v1/reports/villages/{yzy}?category="), StatusCode::BAD_REQUEST, "category"),
        ] {
            let (got, body) = cadre.get(path);
            assert_eq!((got, body["error"]["field"].clone()), (status, json!(field)), "{path}: {body}");
        }
    }
}

both_databases! {
    fn a_households_statement_through_the_api_is_the_ledgers(app) {
        // The household of the team's villages with the most entries in the demo's ledger.
        let team = app.api(Some(&app.token("team@example.com")));
        let (_, me) = team.get("/api/v1/me");
        let mine: Vec<String> = me["scope"]["village_ids"].as_array().expect("ids").iter().map(|v| v.to_string()).collect();
        let household = app.scalar(&format!(
            "SELECT l.household_id AS n FROM ledger_entries l JOIN households h ON h.id = l.household_id \
             WHERE h.village_id IN ({}) GROUP BY l.household_id ORDER BY COUNT(*) DESC, l.household_id LIMIT 1",
            mine.join(",")
        ));
        let sum = |filter: &str| app.scalar(&format!(
            "SELECT CAST(COALESCE(SUM(amount_fen), 0) AS BIGINT) AS n FROM ledger_entries WHERE household_id = {household} {filter}"
        ));
        let days: Vec<chrono::NaiveDate> = {
            let mut conn = app.conn();
            use diesel::prelude::*;
            use village_market::db::schema::ledger_entries::dsl as l;
            l::ledger_entries.filter(l::household_id.eq(household)).select(l::business_date).distinct().order(l::business_date)
                .load::<chrono::NaiveDate>(&mut *conn).expect("days")
        };
        let (first, last) = (days[0], days[days.len() - 1]);
        app.execute(&format!("UPDATE households SET phone = '13800138000' WHERE id = {household}"));
        let cadre = app.api(Some(&app.token("cadre@example.com")));
        let statement_of = |from: chrono::NaiveDate, to: chrono::NaiveDate| {
            cadre.get(&format!("/api/v1/reports/households/{household}/statement?from={from}&to={to}"))
        };
        let (status, statement) = statement_of(first, last);
        assert_eq!(status, StatusCode::OK, "{statement}");
        assert_eq!(statement["household"]["id"], household);
        assert_eq!(statement["opening"]["fen"], 0);
        assert_eq!(statement["closing"]["fen"], sum(""));
        let entries = statement["entries"].as_array().expect("entries");
        assert_eq!(entries.len() as i64, app.count(&format!("ledger_entries WHERE household_id = {household}")));
        let moved: i64 = entries.iter().map(|e| e["amount"]["fen"].as_i64().expect("fen")).sum();
        let (earned, paid_out) = (statement["earned"]["fen"].as_i64().expect("fen"), statement["paid_out"]["fen"].as_i64().expect("fen"));
        assert_eq!(moved, earned - paid_out);
        assert_eq!(moved, sum(""));
        assert!(entries.iter().any(|e| e["product_zh"].is_string()), "sales name their product");
        // After its last entry: all of it is the opening balance, and nothing moved.
        let after = last + chrono::Duration::days(1);
        let (_, later) = statement_of(after, after + chrono::Duration::days(30));
        assert_eq!((later["opening"]["fen"].clone(), later["closing"]["fen"].clone(), later["entries"].clone()), (json!(sum("")), json!(sum("")), json!([])));
        let path = format!("/api/v1/reports/households/{household}/statement?from={first}&to={last}");
        assert_eq!(statement["household"]["phone"], village_market::domain::money::mask_phone("13800138000"), "a cadre reads the phone masked");
        assert_ne!(statement["household"]["phone"], "13800138000");
        // The team reads its own household; another village's team and a canteen do not.
        assert_eq!(team.get(&path).1["closing"], statement["closing"]);
        crate::households::taer_member(app);
        assert_eq!(app.api(Some(&app.token("taer@example.com"))).get(&path).0, StatusCode::NOT_FOUND);
        assert_eq!(app.api(Some(&app.token("canteen@example.com"))).get(&path).0, StatusCode::FORBIDDEN);
        for (query, status, field) in [
            ("from=2026-13-01", StatusCode::BAD_REQUEST, "from"),
            ("to=", StatusCode::BAD_REQUEST, "to"),
            ("from=2026-06-01&to=2026-01-01", StatusCode::UNPROCESSABLE_ENTITY, "to"),
        ] {
            let (got, body) = cadre.get(&format!("/api/v1/reports/households/{household}/statement?{query}"));
            assert_eq!((got, body["error"]["field"].clone()), (status, json!(field)), "{query}");
        }
    }
}

both_databases! {
    fn a_team_reads_its_livestreams_figures_as_they_stand(app) {
        use chrono::Duration;
        let team_pages = app.signed_in("team@example.com");
        app.execute("UPDATE products SET stock = 1000 WHERE slug = 'huangmi-gaomian'");
        let session = crate::live::new_session(app, &team_pages, village_market::domain::now_utc() - Duration::minutes(5));
        let code = crate::live::add_flour(app, &team_pages, session);
        let page = format!("/team/live/{session}");
        assert_eq!(team_pages.submit(&page, &format!("{page}/start"), &[]).status(), StatusCode::SEE_OTHER);
        // A viewer buys two through the link.
        let viewer = app.browser();
        let link = format!("/l/{code}");
        let token = crate::support::csrf_token(&viewer.text(&link).1).expect("the link's form");
        let res = viewer.post_form(&link, &[
            ("csrf_token", &token), ("idempotency_key", "apilivefigures00001"), ("quantity", "2"), ("name", "观众"),
            ("phone", "13900000001"), ("address", "大同市平城区"), ("payment_method", "bank_transfer"),
        ]);
        assert_eq!(res.status(), StatusCode::SEE_OTHER);

        let team = app.api(Some(&app.token("team@example.com")));
        let (status, list) = team.get("/api/v1/team/live-sessions");
        assert_eq!(status, StatusCode::OK);
        assert!(list["sessions"].as_array().expect("sessions").iter().any(|s| s["id"] == session && s["status"] == "live"));
        let (status, figures) = team.get(&format!("/api/v1/team/live-sessions/{session}"));
        assert_eq!(status, StatusCode::OK, "{figures}");
        let item = &figures["items"][0];
        assert_eq!((item["number"].clone(), item["sold"].clone(), item["units_left"].clone()), (json!(1), json!(2), json!(8)));
        assert!(item["link_url"].as_str().expect("url").ends_with(&link));
        assert_eq!((item["figures"]["orders"].clone(), figures["total"]["orders"].clone()), (json!(1), json!(1)));
        assert_eq!(figures["total"]["paid"]["fen"], 0, "a bank transfer not yet received");

        crate::households::taer_member(app);
        assert_eq!(app.api(Some(&app.token("taer@example.com"))).get(&format!("/api/v1/team/live-sessions/{session}")).0, StatusCode::NOT_FOUND);
        assert_eq!(app.api(Some(&app.token("cadre@example.com"))).get("/api/v1/team/live-sessions").0, StatusCode::FORBIDDEN);
    }
}
