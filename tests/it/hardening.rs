//! Ready for a real install: what a browser is told about every response, and what a
//! request crafted by an attacker gets back.

use reqwest::StatusCode;

use crate::support::{TestApp, both_databases};

fn header(res: &reqwest::blocking::Response, name: &str) -> String {
    res.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string()
}

both_databases! {
    fn every_page_forbids_inline_script_framing_and_referrers(app) {
        let flour = crate::storefront::product_id(app, "huangmi-gaomian");
        let (guest, team) = (app.browser(), app.signed_in("team@example.com"));
        for (who, path) in [
            (&guest, "/".to_string()),
            (&guest, format!("/products/{flour}")),
            (&guest, "/no/such/page".to_string()),
            (&team, "/team/packing".to_string()),
        ] {
            let res = who.get(&path);
            let csp = header(&res, "content-security-policy");
            assert!(csp.contains("script-src 'self'"), "{path}: {csp}");
            assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
            assert!(!csp.contains("unsafe-inline"), "{path}: {csp}");
            assert_eq!(header(&res, "x-frame-options"), "DENY", "{path}");
            // The order page's address is its key: no link may carry it away.
            assert_eq!(header(&res, "referrer-policy"), "no-referrer", "{path}");
            assert_eq!(header(&res, "strict-transport-security"), "", "{path}: not over http");
            let html = res.text().expect("page");
            assert!(!html.contains("onclick="), "{path}: no inline handlers");
            assert!(!html.contains("<script>"), "{path}: no inline script");
        }
    }

    /// A signed-in area's pages and an order's page are kept by no cache: on a shared phone
    /// going back after signing out shows nothing of them, and a form is fetched anew. The
    /// shop's own pages may be kept.
    fn a_signed_in_areas_pages_are_not_stored_and_the_shops_may_be(app) {
        let (guest, team, cadre) = (app.browser(), app.signed_in("team@example.com"), app.signed_in("cadre@example.com"));
        for (who, path) in [(&team, "/team/stock"), (&team, "/team/households"), (&team, "/account"), (&cadre, "/reports")] {
            let res = who.get(path);
            assert_eq!(res.status(), StatusCode::OK, "{path}");
            assert_eq!(header(&res, "cache-control"), "no-store", "{path}");
        }
        for path in ["/", "/products"] {
            let res = guest.get(path);
            assert_eq!(res.status(), StatusCode::OK, "{path}");
            assert_ne!(header(&res, "cache-control"), "no-store", "{path}");
        }
    }
}

#[test]
fn over_https_the_browser_is_told_to_stay_on_https() {
    let app = TestApp::start_with(village_market::db::Backend::Sqlite, |args| {
        args.base_url = Some("https://shop.example".into());
    });
    let res = app.browser().get("/");
    assert_eq!(res.status(), StatusCode::OK);
    assert!(header(&res, "strict-transport-security").starts_with("max-age="));
}

both_databases! {
    fn an_idempotency_key_finds_only_its_own_sessions_order(app) {
        let flour = crate::storefront::product_id(app, "huangmi-gaomian");
        let first = app.browser();
        assert_eq!(crate::orders::add(&first, flour, "1"), StatusCode::SEE_OTHER);
        let (token, key) = crate::orders::checkout_fields(&first.text("/checkout").1);
        let placed = crate::orders::place_with(&first, &token, &key, "bank_transfer", "");
        assert_eq!(placed.status(), StatusCode::SEE_OTHER);
        let order_page = crate::support::location(&placed);
        // The same session submitting again (a double click) gets its own order back.
        let again = crate::orders::place_with(&first, &token, &key, "bank_transfer", "");
        assert_eq!(crate::support::location(&again), order_page);

        // Another session that learnt the key, with an empty cart: no order is handed over.
        let other = app.browser();
        other.get("/");
        let other_token = crate::support::csrf_token(&other.text("/login").1).expect("csrf");
        let orders_before = app.count("orders");
        let replay = crate::orders::place_with(&other, &other_token, &key, "bank_transfer", "");
        assert_ne!(replay.status(), StatusCode::SEE_OTHER, "{}", crate::support::location(&replay));
        assert!(!replay.text().expect("page").contains(&order_page));

        // With a cart of its own, the same key places that session's own order.
        assert_eq!(crate::orders::add(&other, flour, "1"), StatusCode::SEE_OTHER);
        let own = crate::orders::place_with(&other, &other_token, &key, "bank_transfer", "");
        assert_eq!(own.status(), StatusCode::SEE_OTHER);
        assert_ne!(crate::support::location(&own), order_page);
        assert_eq!(app.count("orders"), orders_before + 1);
    }
}

/// A visitor reaching the server through a proxy that forwards `header: value`.
fn behind_proxy(app: &TestApp, header: &'static str, value: &str) -> crate::support::Browser {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(header, value.parse().expect("header value"));
    app.browser_with_headers(headers)
}

crate::support::both_backends! {
    fn behind_a_trusted_proxy_each_client_is_throttled_and_audited_apart(backend) {
        // The test's connections come from 127.0.0.1: here, the load balancer.
        let app = TestApp::start_with(backend, |args| args.trusted_proxies = "127.0.0.1/32, 10.0.0.0/8".into());
        let attacker = behind_proxy(&app, "x-forwarded-for", "6.6.6.6, 203.0.113.7, 10.0.0.2");
        for _ in 0..5 {
            assert_eq!(attacker.sign_in("team@example.com", "guess").status(), StatusCode::UNAUTHORIZED);
        }
        assert_eq!(attacker.sign_in("team@example.com", crate::support::PASSWORD).status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(app.count("login_failures WHERE ip = '203.0.113.7'"), 5, "the hop our proxy saw, not what the client wrote");
        // Another client behind the same balancer signs in.
        let member = behind_proxy(&app, "forwarded", "for=\"[2001:db8::7]:4711\";proto=https");
        assert_eq!(member.sign_in("team@example.com", crate::support::PASSWORD).status(), StatusCode::SEE_OTHER);
        // And what they change is audited with where they were.
        let xiedian = app.scalar("SELECT id AS n FROM villages WHERE slug = 'xiedian'").to_string();
        let before = app.count("audit_log WHERE client_addr = '2001:db8::7'");
        let res = member.submit("/team/households/new", "/team/households", &[
            ("village_id", &xiedian), ("code", "XD-990"), ("head_name", "代理后面"), ("resident_members", "3"), ("category", "yiban"),
            ("phone", ""), ("payout_method", "cash"), ("payout_account", ""),
        ]);
        assert_eq!(res.status(), StatusCode::SEE_OTHER, "{}", res.text().unwrap_or_default());
        assert_eq!(app.count("audit_log WHERE client_addr = '2001:db8::7'"), before + 1);
    }

    fn without_trusted_proxies_forwarded_headers_are_ignored(backend) {
        let app = TestApp::start(backend);
        for i in 0..5 {
            let spoofer = behind_proxy(&app, "x-forwarded-for", &format!("198.51.100.{i}"));
            assert_eq!(spoofer.sign_in("team@example.com", "guess").status(), StatusCode::UNAUTHORIZED);
        }
        let spoofer = behind_proxy(&app, "x-forwarded-for", "198.51.100.99");
        assert_eq!(spoofer.sign_in("team@example.com", crate::support::PASSWORD).status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(app.count("login_failures WHERE ip = '127.0.0.1'"), 5);
    }
}
