//! A canteen through the JSON API: the organisation's catalogue and terms, an order placed
//! once per idempotency key with every refusal naming the body's field and nothing
//! written, an approver's decision, the delivery note for the team and the canteen,
//! acceptance with its credit, the monthly statements; another organisation's order and
//! statement are 404, another role 403.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::canteen::{DEMO_ORG, org_id, second_organisation};
use crate::canteen_orders::{delivery_day, ledger_of, verify_is_clean};
use crate::canteen_statements::next_month;
use crate::storefront::product_id;
use crate::support::{Api, TestApp, both_databases};
use village_market::domain::canteen::statements;

const KEY: &str = "canteenkey000000000001";

fn site_of(app: &TestApp, org: &str) -> i64 {
    let org = org_id(app, org);
    app.scalar(&format!(
        "SELECT MIN(id) AS n FROM delivery_sites WHERE organization_id = {org}"
    ))
}

/// A second organisation, with a site of its own, and its member's API.
fn school(app: &TestApp) -> Api {
    second_organisation(app);
    let org = org_id(app, "大同市第三中学食堂");
    app.execute(&format!(
        "INSERT INTO delivery_sites (organization_id, name, address, receiver, phone, delivery_window, retired, created_at) \
         VALUES ({org}, '三中食堂', '大同市平城区 3 号', '周师傅', '0352-7654321', '06:30–08:00', FALSE, CURRENT_TIMESTAMP)"
    ));
    app.api(Some(&app.token("school@example.com")))
}

fn order_body(app: &TestApp, lines: &[(&str, i64)], method: &str) -> Value {
    json!({
        "lines": lines.iter().map(|(slug, q)| json!({"product_id": product_id(app, slug), "quantity": q})).collect::<Vec<_>>(),
        "delivery_site_id": site_of(app, DEMO_ORG),
        "delivery_date": delivery_day(2).to_string(),
        "po_number": "CG-2026-200",
        "payment_method": method,
    })
}

/// Places `body` with `key` and answers the status, the replay header and the body.
fn place(api: &Api, key: &str, body: &Value) -> (StatusCode, Option<String>, Value) {
    let res = api
        .request(Method::POST, "/api/v1/canteen/orders")
        .header("Idempotency-Key", key)
        .json(body)
        .send()
        .expect("POST");
    let replayed = crate::support::replayed(&res);
    let (status, body) = crate::support::read_json(res);
    (status, replayed, body)
}

fn refused_field(answer: &(StatusCode, Value)) -> (StatusCode, Value) {
    (answer.0, answer.1["error"]["field"].clone())
}

fn no_threshold(app: &TestApp) {
    let org = org_id(app, DEMO_ORG);
    app.execute(&format!(
        "UPDATE organizations SET approval_threshold_fen = NULL WHERE id = {org}"
    ));
}

both_databases! {
    fn a_canteen_orders_through_the_api_once_per_key_within_its_organisation(app) {
        no_threshold(app);
        let buyer = app.api(Some(&app.token("canteen@example.com")));

        // The catalogue at canteen prices, with the organisation's terms and sites.
        let (status, catalogue) = buyer.get("/api/v1/canteen/catalogue");
        assert_eq!(status, StatusCode::OK, "{catalogue}");
        assert_eq!(catalogue["organization"]["name"], DEMO_ORG);
        assert!(catalogue["organization"]["payment_methods"].as_array().expect("methods").contains(&json!("on_account")));
        assert_eq!(catalogue["sites"][0]["id"], site_of(app, DEMO_ORG));
        let xiaomi = product_id(app, "xiaomi");
        let products = catalogue["products"].as_array().expect("products");
        assert_eq!(products.len() as i64, app.count("products WHERE status = 'on_sale'"));
        let entry = products.iter().find(|p| p["id"] == xiaomi).expect("xiaomi listed");
        assert_eq!(entry["min_quantity"], app.scalar(&format!("SELECT CAST(canteen_min_quantity AS BIGINT) AS n FROM products WHERE id = {xiaomi}")));
        assert_eq!(entry["stock"], app.scalar(&format!("SELECT CAST(stock AS BIGINT) AS n FROM products WHERE id = {xiaomi}")));
        assert!(!entry["delivery_weekdays"].as_array().expect("weekdays").is_empty());
        let village = entry["village"]["id"].as_i64().expect("village");
        let (_, narrowed) = buyer.get(&format!("/api/v1/canteen/catalogue?village={village}"));
        assert!(narrowed["products"].as_array().expect("products").iter().all(|p| p["village"]["id"] == village));
        for bad in ["in_season=maybe", "village=x"] {
            let (status, body) = buyer.get(&format!("/api/v1/canteen/catalogue?{bad}"));
            assert_eq!((status, body["error"]["field"].clone()), (StatusCode::BAD_REQUEST, json!(bad.split('=').next())));
        }

        // Refusals name the body's own fields, and write nothing.
        let orders_before = app.count("orders");
        let good = order_body(app, &[("xiaomi", 15), ("huangmi-gaomian", 40)], "on_account");
        let (status, _, body) = place(&buyer, "short", &good);
        assert_eq!(refused_field(&(status, body)), (StatusCode::BAD_REQUEST, json!("Idempotency-Key")));
        let mut below = good.clone();
        below["lines"][0]["quantity"] = json!(3);
        let (status, _, body) = place(&buyer, KEY, &below);
        assert_eq!(refused_field(&(status, body)), (StatusCode::UNPROCESSABLE_ENTITY, json!("lines[0].quantity")));
        let mut zero = good.clone();
        zero["lines"][1]["quantity"] = json!(0);
        let (status, _, body) = place(&buyer, KEY, &zero);
        assert_eq!(refused_field(&(status, body)), (StatusCode::UNPROCESSABLE_ENTITY, json!("lines[1].quantity")));
        let mut twice = good.clone();
        twice["lines"][1]["product_id"] = json!(xiaomi);
        let (status, _, body) = place(&buyer, KEY, &twice);
        assert_eq!(refused_field(&(status, body)), (StatusCode::UNPROCESSABLE_ENTITY, json!("lines[1].product_id")));
        let mut loose = good.clone();
        loose["delivery_date"] = json!(delivery_day(2).format("%Y-%-m-%-d").to_string());
        let (status, _, body) = place(&buyer, KEY, &loose);
        assert_eq!(refused_field(&(status, body)), (StatusCode::BAD_REQUEST, json!("delivery_date")));
        let school = school(app);
        let audits_before = app.count("audit_log");
        let mut elsewhere = good.clone();
        elsewhere["delivery_site_id"] = json!(site_of(app, "大同市第三中学食堂"));
        let (status, _, body) = place(&buyer, KEY, &elsewhere);
        assert_eq!(refused_field(&(status, body)), (StatusCode::UNPROCESSABLE_ENTITY, json!("delivery_site_id")));
        let mut short = good.clone();
        let stock = app.scalar(&format!("SELECT CAST(stock AS BIGINT) AS n FROM products WHERE id = {xiaomi}"));
        short["lines"][0]["quantity"] = json!(stock + 5 - (stock % 5));
        let (status, _, body) = place(&buyer, KEY, &short);
        assert_eq!(refused_field(&(status, body)), (StatusCode::CONFLICT, json!("lines[0].quantity")));
        let mut past = good.clone();
        past["delivery_date"] = json!("2020-01-06");
        let (status, _, body) = place(&buyer, KEY, &past);
        assert_eq!(refused_field(&(status, body)), (StatusCode::UNPROCESSABLE_ENTITY, json!("delivery_date")));
        assert_eq!(app.count("orders"), orders_before, "nothing written");
        assert_eq!(app.scalar(&format!("SELECT CAST(stock AS BIGINT) AS n FROM products WHERE id = {xiaomi}")), stock, "nothing reserved");
        assert_eq!(app.count("audit_log"), audits_before);

        // Placed once; the retry, its keys in another order, answers the same order.
        let (status, replayed, order) = place(&buyer, KEY, &good);
        assert_eq!(status, StatusCode::CREATED, "{order}");
        assert_eq!(replayed.as_deref(), Some("false"));
        let id = order["id"].as_i64().expect("id");
        assert_eq!(order["status"], "pending_payment");
        assert_eq!(order["channel"], "canteen");
        assert_eq!(order["payment_method"], "on_account");
        assert_eq!(order["po_number"], "CG-2026-200");
        assert_eq!(order["delivery_site"]["id"], site_of(app, DEMO_ORG));
        assert_eq!(order["total"]["fen"], app.scalar(&format!("SELECT total_fen AS n FROM orders WHERE id = {id}")));
        assert_eq!(order["lines"].as_array().expect("lines").len(), 2);
        assert_eq!(app.scalar(&format!("SELECT organization_id AS n FROM canteen_orders WHERE order_id = {id}")), org_id(app, DEMO_ORG));
        assert_eq!(app.count(&format!("audit_log WHERE action = 'place_canteen_order' AND entity_id = {id}")), 1);
        // The retry spelled otherwise: its keys reordered, spaced, a quantity as 15.0.
        let respelled = format!(
            r#"{{ "payment_method": "on_account", "po_number": "CG-2026-200",
                 "delivery_site_id": {}, "delivery_date": "{}",
                 "lines": [ {{"quantity": 15.0, "product_id": {xiaomi}}}, {{"product_id": {}, "quantity": 40}} ] }}"#,
            good["delivery_site_id"], good["delivery_date"].as_str().expect("date"), good["lines"][1]["product_id"],
        );
        let res = buyer.request(Method::POST, "/api/v1/canteen/orders").header("Idempotency-Key", KEY)
            .header("Content-Type", "application/json").body(respelled).send().expect("POST");
        assert_eq!(crate::support::replayed(&res).as_deref(), Some("true"));
        let (status, again) = crate::support::read_json(res);
        assert_eq!((status, again["id"].as_i64()), (StatusCode::CREATED, Some(id)));
        assert_eq!(app.count("orders"), orders_before + 1, "one order for the key");
        // Another member of the same organisation sending the same key and body places
        // their own order: a key finds only what its own member placed.
        let approver = app.api(Some(&app.token("approver@example.com")));
        let (status, replayed, theirs) = place(&approver, KEY, &good);
        assert_eq!((status, replayed.as_deref()), (StatusCode::CREATED, Some("false")), "{theirs}");
        assert_ne!(theirs["id"].as_i64(), Some(id));
        assert_eq!(app.count("orders"), orders_before + 2);

        // The list and the order; another organisation and other roles see none of it.
        let (status, list) = buyer.get("/api/v1/canteen/orders");
        assert_eq!(status, StatusCode::OK);
        let listed: Vec<i64> = list["orders"].as_array().expect("orders").iter().map(|o| o["id"].as_i64().expect("id")).collect();
        assert_eq!(listed, vec![theirs["id"].as_i64().expect("id"), id], "every member's orders, newest first");
        assert_eq!(buyer.get("/api/v1/canteen/orders?page=0").0, StatusCode::BAD_REQUEST);
        let (status, read) = buyer.get(&format!("/api/v1/canteen/orders/{id}"));
        assert_eq!((status, read["number"].clone()), (StatusCode::OK, order["number"].clone()));
        assert_eq!(school.get(&format!("/api/v1/canteen/orders/{id}")).0, StatusCode::NOT_FOUND);
        assert_eq!(school.get("/api/v1/canteen/orders").1["orders"], json!([]));
        // The same key and body from another organisation's member is its own request.
        let mut theirs = good.clone();
        theirs["delivery_site_id"] = json!(site_of(app, "大同市第三中学食堂"));
        theirs["payment_method"] = json!("bank_transfer");
        let (status, replayed, other) = place(&school, KEY, &theirs);
        assert_eq!((status, replayed.as_deref()), (StatusCode::CREATED, Some("false")), "{other}");
        assert_ne!(other["id"], id);
        assert_eq!(app.api(Some(&app.token("team@example.com"))).get("/api/v1/canteen/orders").0, StatusCode::FORBIDDEN);
        assert_eq!(app.api(None).get("/api/v1/canteen/catalogue").0, StatusCode::UNAUTHORIZED);
    }

    fn an_order_above_the_threshold_waits_for_an_approver_through_the_api(app) {
        // ¥100: 15 units of millet at ¥8.50 are above it.
        let org = org_id(app, DEMO_ORG);
        app.execute(&format!("UPDATE organizations SET approval_threshold_fen = 10000 WHERE id = {org}"));
        let buyer = app.api(Some(&app.token("canteen@example.com")));
        let (status, _, order) = place(&buyer, KEY, &order_body(app, &[("xiaomi", 15)], "on_account"));
        assert_eq!(status, StatusCode::CREATED, "{order}");
        assert_eq!((order["status"].clone(), order["may_decide"].clone()), (json!("awaiting_approval"), json!(false)));
        let id = order["id"].as_i64().expect("id");

        // A buyer finds nothing to decide; an approver must give a reason to send back.
        let approve = format!("/api/v1/canteen/orders/{id}/approve");
        assert_eq!(buyer.post(&approve, &[], &json!({})).0, StatusCode::NOT_FOUND);
        let approver = app.api(Some(&app.token("approver@example.com")));
        let (_, seen) = approver.get(&format!("/api/v1/canteen/orders/{id}"));
        assert_eq!(seen["may_decide"], true);
        let answer = approver.post(&format!("/api/v1/canteen/orders/{id}/send-back"), &[], &json!({"reason": " "}));
        assert_eq!(refused_field(&answer), (StatusCode::UNPROCESSABLE_ENTITY, json!("reason")));
        assert_eq!(approver.post(&format!("/api/v1/canteen/orders/{id}/reject"), &[], &json!({})).0, StatusCode::NOT_FOUND);
        let (status, decided) = approver.post(&approve, &[], &json!({}));
        assert_eq!(status, StatusCode::OK, "{decided}");
        assert_eq!(decided["status"], "pending_payment");
        assert!(decided["decided_by"].is_string() && decided["decided_at"].is_string());
        assert_eq!(app.count(&format!("audit_log WHERE action = 'approve_order' AND entity_id = {id}")), 1);
        let again = approver.post(&approve, &[], &json!({}));
        assert_eq!(refused_field(&again), (StatusCode::CONFLICT, json!("status")));

        // Sent back: cancelled, its stock back.
        let stock = |app: &TestApp| app.scalar("SELECT CAST(stock AS BIGINT) AS n FROM products WHERE slug = 'xiaomi'");
        let before = stock(app);
        let (_, _, second) = place(&buyer, "canteenkey000000000002", &order_body(app, &[("xiaomi", 15)], "on_account"));
        assert_eq!(stock(app), before - 15);
        let second = second["id"].as_i64().expect("id");
        let (status, sent_back) = approver.post(&format!("/api/v1/canteen/orders/{second}/send-back"), &[], &json!({"reason": "本周已订"}));
        assert_eq!((status, sent_back["status"].clone(), sent_back["sent_back_reason"].clone()), (StatusCode::OK, json!("cancelled"), json!("本周已订")));
        assert_eq!(stock(app), before);
    }

    fn delivery_notes_and_acceptance_through_the_api(app) {
        no_threshold(app);
        let buyer = app.api(Some(&app.token("canteen@example.com")));
        let (_, _, order) = place(&buyer, KEY, &order_body(app, &[("xiaomi", 15)], "on_account"));
        let id = order["id"].as_i64().expect("id");
        let line = order["lines"][0]["id"].as_i64().expect("line id");
        let village = app.scalar("SELECT village_id AS n FROM products WHERE slug = 'xiaomi'");

        // The note, for the team that packs it and the canteen that signs for it.
        let team = app.api(Some(&app.token("team@example.com")));
        let note_path = format!("/orders/{id}/villages/{village}/delivery-note");
        let (status, note) = team.get(&format!("/api/v1/team{note_path}"));
        assert_eq!(status, StatusCode::OK, "{note}");
        assert_eq!((note["lines"][0]["quantity"].clone(), note["total"]["fen"].clone()), (json!(15), json!(12750)));
        assert_eq!(note["organization"], DEMO_ORG);
        assert_eq!(buyer.get(&format!("/api/v1/canteen{note_path}")).1["total"], note["total"]);
        crate::households::taer_member(app);
        assert_eq!(app.api(Some(&app.token("taer@example.com"))).get(&format!("/api/v1/team{note_path}")).0, StatusCode::NOT_FOUND);
        let school = school(app);
        assert_eq!(school.get(&format!("/api/v1/canteen{note_path}")).0, StatusCode::NOT_FOUND);

        // Nothing to accept before it arrives.
        let accept = format!("/api/v1/canteen/orders/{id}/villages/{village}/acceptance");
        let damaged = json!({"lines": [{"line_id": line, "accepted": 13, "rejected": 2, "reason": "damaged"}]});
        assert_eq!(refused_field(&buyer.post(&accept, &[], &damaged)), (StatusCode::CONFLICT, json!("acceptance")));
        for step in ["pack", "ship", "deliver"] {
            let body = json!({"carrier": "村里自送", "tracking_number": "XD-1"});
            let (status, _) = team.post(&format!("/api/v1/team/orders/{id}/villages/{village}/{step}"), &[], &body);
            assert_eq!(status, StatusCode::OK, "{step}");
        }

        // Each refusal names the line's field, and nothing is written.
        for (body, field) in [
            (json!({"lines": [{"line_id": line, "rejected": 2}]}), "lines[0].reason"),
            (json!({"lines": [{"line_id": line, "accepted": 10, "rejected": 2, "reason": "damaged"}]}), "lines[0].accepted"),
            (json!({"lines": [{"line_id": line, "accepted": 15}, {"line_id": line + 1000, "accepted": 1}]}), "lines[1].line_id"),
        ] {
            assert_eq!(refused_field(&buyer.post(&accept, &[], &body)), (StatusCode::UNPROCESSABLE_ENTITY, json!(field)), "{body}");
        }
        let twice = json!({"lines": [{"line_id": line}, {"line_id": line}]});
        assert_eq!(refused_field(&buyer.post(&accept, &[], &twice)), (StatusCode::UNPROCESSABLE_ENTITY, json!("lines[1].line_id")));
        let late = json!({"lines": [{"line_id": line + 1000}, {"line_id": line}]});
        assert_eq!(refused_field(&buyer.post(&accept, &[], &late)), (StatusCode::UNPROCESSABLE_ENTITY, json!("lines[0].line_id")));
        assert_eq!(school.post(&accept, &[], &damaged).0, StatusCode::NOT_FOUND);
        assert_eq!(app.count("acceptance_lines"), 0);

        // Accepted: 2 units credited against the same households; the ledger adds up.
        let (status, accepted) = buyer.post(&accept, &[], &damaged);
        assert_eq!(status, StatusCode::OK, "{accepted}");
        assert_eq!(accepted["acceptance"], json!([{"line_id": line, "accepted": 13, "rejected": 2, "reason": "damaged"}]));
        assert!(accepted["shipments"][0]["accepted_at"].is_string());
        // On account and not yet paid: a credit for the statement, nothing in the ledger.
        assert_eq!(app.scalar(&format!("SELECT CAST(SUM(amount_fen) AS BIGINT) AS n FROM refunds WHERE order_id = {id}")), 2 * 850);
        assert_eq!(ledger_of(app, id), 0);
        assert_eq!(app.count(&format!("audit_log WHERE action = 'accept_delivery' AND entity_id = {id}")), 1);
        assert_eq!(refused_field(&buyer.post(&accept, &[], &damaged)), (StatusCode::CONFLICT, json!("acceptance")));
        verify_is_clean(app);
    }

    fn the_monthly_statements_through_the_api(app) {
        no_threshold(app);
        let buyer = app.api(Some(&app.token("canteen@example.com")));
        let (_, _, order) = place(&buyer, KEY, &order_body(app, &[("xiaomi", 15)], "on_account"));
        let id = order["id"].as_i64().expect("id");
        let village = app.scalar("SELECT village_id AS n FROM products WHERE slug = 'xiaomi'");
        let team = app.api(Some(&app.token("team@example.com")));
        for step in ["pack", "ship", "deliver"] {
            let body = json!({"carrier": "村里自送", "tracking_number": "XD-1"});
            team.post(&format!("/api/v1/team/orders/{id}/villages/{village}/{step}"), &[], &body);
        }
        let line = order["lines"][0]["id"].as_i64().expect("line");
        let body = json!({"lines": [{"line_id": line, "accepted": 14, "rejected": 1, "reason": "short"}]});
        assert_eq!(buyer.post(&format!("/api/v1/canteen/orders/{id}/villages/{village}/acceptance"), &[], &body).0, StatusCode::OK);
        assert_eq!(buyer.get("/api/v1/canteen/statements").1["statements"], json!([]));
        assert_eq!(statements::issue_due(&mut app.conn(), 0, next_month()).expect("issued"), 1);

        let (status, list) = buyer.get("/api/v1/canteen/statements");
        assert_eq!(status, StatusCode::OK);
        let summary = &list["statements"][0];
        let sid = summary["id"].as_i64().expect("id");
        assert_eq!(summary["total"]["fen"], app.scalar(&format!("SELECT total_fen AS n FROM statements WHERE id = {sid}")));
        assert_eq!(summary["total"]["fen"], 12750 - 850);
        assert_eq!(summary["outstanding"], summary["total"]);
        assert_eq!(summary["overdue"], false);
        let (status, statement) = buyer.get(&format!("/api/v1/canteen/statements/{sid}"));
        assert_eq!(status, StatusCode::OK, "{statement}");
        let billed: i64 = statement["shipments"].as_array().expect("shipments").iter().map(|s| s["amount"]["fen"].as_i64().expect("fen")).sum();
        assert_eq!(billed, 12750 - 850);
        assert_eq!(statement["shipments"][0]["order_id"], id);
        assert_eq!((statement["orders"].clone(), statement["orders_paid"].clone()), (json!(1), json!(0)));

        let school = school(app);
        assert_eq!(school.get(&format!("/api/v1/canteen/statements/{sid}")).0, StatusCode::NOT_FOUND);
        assert_eq!(school.get("/api/v1/canteen/statements").1["statements"], json!([]));
        assert_eq!(app.api(Some(&app.token("cadre@example.com"))).get("/api/v1/canteen/statements").0, StatusCode::FORBIDDEN);
    }
}
