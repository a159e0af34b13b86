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
