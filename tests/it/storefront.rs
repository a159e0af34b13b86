//! The storefront as a shopper sees it: pages, search, language, errors, health.

use std::time::Duration;

use reqwest::StatusCode;

use crate::support::both_databases;

both_databases! {
    fn home_lists_counties_villages_and_in_season_products(app) {
        let (status, html) = app.browser().text("/");
        assert_eq!(status, StatusCode::OK);
        assert!(html.contains("<html lang=\"zh-CN\">"));
        for name in ["云冈区", "谢店村", "塔儿村", "杨州窑村", "高墙垣村", "下神峪村", "水洞村", "聚兴村", "月明畔村", "三台子村", "左云县"] {
            assert!(html.contains(name), "front page names {name}");
        }
        assert!(html.contains("href=\"/villages/xiedian\""));
        assert!(html.contains("黄米糕面"), "a featured all-year product");
        // Fresh apricots ripen in June–July; the season check runs on China time, and
        // only a July visit would feature them, so they are not on this front page
        // unless it is summer in Datong.
        let month = village_market::domain::china_month(village_market::domain::now_utc());
        assert_eq!(html.contains("香白杏"), month == 6 || month == 7);
        assert!(html.contains("action=\"/products\""), "search box");
    }

    fn village_page_tells_its_story_and_lists_its_products(app) {
        let (status, html) = app.browser().text("/villages/shuidong");
        assert_eq!(status, StatusCode::OK);
        assert!(html.contains("水洞村"));
        assert!(html.contains("灵丘县"));
        assert!(html.contains("党参"), "story mentions codonopsis");
        assert!(html.contains("水洞腌菜") && html.contains("党参鸡") && html.contains("苦荞茶"));
        assert!(!html.contains("原浆酒"), "no other village's products");
    }

    fn product_page_shows_price_tiers_stock_and_season(app) {
        let id: i64 = product_id(app, "huangmi-gaomian");
        let (status, html) = app.browser().text(&format!("/products/{id}"));
        assert_eq!(status, StatusCode::OK);
        assert!(html.contains("黄米糕面"));
        assert!(html.contains("¥38.00"), "price from 3800 fen");
        assert!(html.contains("/袋"));
        assert!(html.contains("¥35.00") && html.contains("满 10 袋"), "bulk tier");
        assert!(html.contains("¥32.00") && html.contains("仅限食堂"), "canteen-only tier");
        assert!(html.contains("有货"));
        assert!(html.contains("杨州窑村") && html.contains("新荣区"));

        let sold_out = product_id(app, "xiangbai-xing");
        let html = app.browser().text(&format!("/products/{sold_out}")).1;
        assert!(html.contains("已售罄"), "no stock: sold out");
        assert!(html.contains("6月、7月上市"), "season months");

        app.execute(&format!("UPDATE products SET stock = 3 WHERE id = {id}"));
        std::thread::sleep(Duration::from_millis(1100));
        let html = app.browser().text(&format!("/products/{id}")).1;
        assert!(html.contains("库存紧张"), "at or under the threshold: low");
    }

    fn page_cache_never_shows_a_price_older_than_a_second(app) {
        let id = product_id(app, "yuanjiang-jiu");
        let browser = app.browser();
        assert!(browser.text(&format!("/products/{id}")).1.contains("¥68.00"));
        app.execute(&format!("UPDATE products SET unit_price_fen = 7250 WHERE id = {id}"));
        std::thread::sleep(Duration::from_millis(1100));
        let html = browser.text(&format!("/products/{id}")).1;
        assert!(html.contains("¥72.50") && !html.contains("¥68.00"), "new price after a second");
    }

    fn products_that_are_not_for_sale_are_not_found(app) {
        let id = product_id(app, "xiaomi");
        app.execute(&format!("UPDATE products SET status = 'draft' WHERE id = {id}"));
        let (status, html) = app.browser().text(&format!("/products/{id}"));
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert!(html.contains("没有找到这个页面"), "friendly 404 in the layout");
        assert!(html.contains("class=\"brand\""));
        let (_, list) = app.browser().text("/products?q=谢店小米");
        assert!(list.contains("共 0 件商品"));
    }

    fn search_matches_chinese_and_english_names_with_filters(app) {
        let browser = app.browser();
        let html = browser.text("/products?q=%E5%B0%8F%E7%B1%B3").1; // 小米
        assert!(html.contains("谢店小米") && html.contains("东方亮小米"));
        assert!(!html.contains("原浆酒"));

        let html = browser.text("/products?q=MILLET&lang=en").1;
        assert!(html.contains("Xiedian millet") && html.contains("Yellow millet cake flour"), "English, any case");

        let html = browser.text("/products?category=meat&lang=zh-CN").1;
        assert!(html.contains("聚兴羊肉") && html.contains("牛肉"));
        assert!(!html.contains("小米</span>"));

        let html = browser.text("/products?county=zuoyun").1;
        assert!(html.contains("左云羊肉") && html.contains("芸豆"));
        assert!(!html.contains("聚兴羊肉"));

        let html = browser.text("/products?q=%25").1; // a bare `%` is a character, not a wildcard
        assert!(html.contains("共 0 件商品"));
        let html = browser.text("/products?q=%E6%9D%91").1; // 村: matches village names
        assert!(html.contains("共 30 件商品"), "every village's name has 村");
    }

    fn search_pages_through_results(app) {
        let browser = app.browser();
        let first = browser.text("/products").1;
        assert!(first.contains("共 30 件商品"));
        assert!(first.contains("第 1 / 3 页"));
        assert!(first.contains("href=\"/products?page&#x3D;2\"") || first.contains("href=\"/products?page=2\""));
        let third = browser.text("/products?page=3").1;
        assert!(third.contains("第 3 / 3 页"));
        assert_eq!(third.matches("class=\"card\"").count(), 6);
        let (status, body) = browser.text("/products?page=abc");
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(body.contains("page"), "the message names the field");
        assert_eq!(browser.text("/products?page=0").0, StatusCode::BAD_REQUEST);
        assert_eq!(browser.text("/products?page=99999999999999999999").0, StatusCode::BAD_REQUEST);
    }

    fn english_is_chosen_by_query_and_remembered(app) {
        let browser = app.browser();
        let html = browser.text("/villages/taer?lang=en").1;
        assert!(html.contains("<html lang=\"en\">"));
        assert!(html.contains("Kate apricots") && html.contains("Yunzhou District"));
        assert!(html.contains("中文"), "a visible switch back");
        let html = browser.text("/").1;
        assert!(html.contains("<html lang=\"en\">") && html.contains("Villages by county"), "remembered");
        let html = browser.text("/?lang=zh-CN").1;
        assert!(html.contains("按区县看村子"));
        // A new visitor still starts in Chinese.
        assert!(app.browser().text("/").1.contains("<html lang=\"zh-CN\">"));
    }

    fn unknown_pages_get_a_friendly_404(app) {
        let browser = app.browser();
        for path in ["/villages/nowhere", "/products/999999", "/products/abc", "/no/such/page"] {
            let (status, html) = browser.text(path);
            assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
            assert!(html.contains("没有找到这个页面"), "{path}");
        }
        let (status, html) = browser.text("/no/such/page?lang=en");
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert!(html.contains("This page does not exist."));
    }

    fn api_errors_are_json(app) {
        let res = app.browser().get("/api/v1/no-such-thing?lang=en");
        assert_eq!(res.status(), StatusCode::NOT_FOUND);
        assert!(res.headers()["content-type"].to_str().expect("type").starts_with("application/json"));
        let body: serde_json::Value = res.json().expect("json");
        assert_eq!(body["error"]["code"], "not_found");
        assert_eq!(body["error"]["message"], "This page does not exist.");
    }

    fn healthz_reports_the_database(app) {
        let res = app.browser().get("/healthz");
        assert_eq!(res.status(), StatusCode::OK);
        let body: serde_json::Value = res.json().expect("json");
        let expected = match app.backend {
            village_market::db::Backend::Sqlite => "sqlite",
            village_market::db::Backend::Postgres => "postgres",
        };
        assert_eq!(body, serde_json::json!({"status": "ok", "database": expected}));
    }

    fn static_files_are_served_with_their_type(app) {
        let res = app.browser().get("/static/app.css");
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(res.headers()["content-type"], "text/css");
        assert!(res.text().expect("css").contains(".cards"));
        assert_eq!(app.browser().get("/static/%2e%2e/Cargo.toml").status(), StatusCode::NOT_FOUND);
    }
}

#[test]
fn healthz_answers_503_when_postgres_is_gone() {
    let app = crate::support::TestApp::start_empty(village_market::db::Backend::Postgres);
    let name = app
        .database
        .url
        .rsplit('/')
        .next()
        .expect("database name")
        .to_string();
    let mut admin = <diesel::PgConnection as diesel::Connection>::establish(
        &crate::support::postgres_admin_url(),
    )
    .expect("admin connection");
    diesel::RunQueryDsl::execute(
        diesel::sql_query(format!("DROP DATABASE {name} WITH (FORCE)")),
        &mut admin,
    )
    .expect("drop");
    let res = app.browser().get("/healthz");
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: serde_json::Value = res.json().expect("json");
    assert_eq!(body["status"], "unavailable");
    assert_eq!(body["database"], "postgres");
}

pub fn product_id(app: &crate::support::TestApp, slug: &str) -> i64 {
    app.scalar(&format!(
        "SELECT id AS n FROM products WHERE slug = '{slug}'"
    ))
}
