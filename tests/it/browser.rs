//! Pages people use, in a real headless Chromium at a phone's size, driven through
//! chromedriver's WebDriver protocol: links, the search form, the sign-in form, cookies.
//! No JavaScript of ours is needed for any of it.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::{PASSWORD, both_databases};

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// One Chromium session behind its own chromedriver; both end when this is dropped.
struct Chromium {
    driver: Child,
    http: reqwest::blocking::Client,
    session: String,
    base: String,
    _profile: tempdir::Profile,
}

mod tempdir {
    /// A fresh `--user-data-dir`, removed afterwards.
    pub struct Profile(pub std::path::PathBuf);
    impl Drop for Profile {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

impl Chromium {
    fn start(width: u32, height: u32) -> Chromium {
        let driver_path = std::env::var("VM_TEST_CHROMEDRIVER")
            .unwrap_or_else(|_| "/usr/bin/chromedriver".into());
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .expect("port")
            .local_addr()
            .expect("addr")
            .port();
        let driver = Command::new(&driver_path)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("chromedriver at {driver_path} (apt-get install chromium-driver): {e}")
            });
        let base = format!("http://127.0.0.1:{port}");
        let http = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .expect("client");
        let started = Instant::now();
        while http.get(format!("{base}/status")).send().is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "chromedriver did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        let profile = std::env::temp_dir().join(format!("vm-chromium-{port}"));
        let args = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--disable-dev-shm-usage",
        ]
        .iter()
        .map(|s| s.to_string())
        .chain([
            format!("--user-data-dir={}", profile.display()),
            format!("--window-size={width},{height}"),
        ])
        .collect::<Vec<_>>();
        let binary =
            std::env::var("VM_TEST_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": binary, "args": args},
        }}});
        let mut browser = Chromium {
            driver,
            http,
            session: String::new(),
            base,
            _profile: tempdir::Profile(profile),
        };
        let created = browser.call("POST", "/session", caps);
        browser.session = created["sessionId"]
            .as_str()
            .expect("session id")
            .to_string();
        browser
    }

    fn call(&self, method: &str, path: &str, body: Value) -> Value {
        let url = if path == "/session" {
            format!("{}{path}", self.base)
        } else {
            format!("{}/session/{}{path}", self.base, self.session)
        };
        let req = match method {
            "GET" => self.http.get(url),
            "DELETE" => self.http.delete(url),
            _ => self.http.post(url).json(&body),
        };
        let res: Value = req
            .send()
            .expect("webdriver answers")
            .json()
            .expect("webdriver json");
        if let Some(error) = res["value"]["error"].as_str() {
            panic!(
                "webdriver {method} {path}: {error}: {}",
                res["value"]["message"]
            );
        }
        res["value"].clone()
    }

    fn open(&self, url: &str) {
        self.call("POST", "/url", json!({"url": url}));
    }

    fn url(&self) -> String {
        self.call("GET", "/url", Value::Null)
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    fn source(&self) -> String {
        self.call("GET", "/source", Value::Null)
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    fn find(&self, css: &str) -> String {
        let found = self.call(
            "POST",
            "/element",
            json!({"using": "css selector", "value": css}),
        );
        found[ELEMENT]
            .as_str()
            .unwrap_or_else(|| panic!("element {css}"))
            .to_string()
    }

    fn click(&self, css: &str) {
        let id = self.find(css);
        self.call("POST", &format!("/element/{id}/click"), json!({}));
    }

    fn type_into(&self, css: &str, text: &str) {
        let id = self.find(css);
        self.call(
            "POST",
            &format!("/element/{id}/value"),
            json!({"text": text}),
        );
    }

    /// Replaces what a field holds, as a person selecting it and typing would.
    fn fill(&self, css: &str, text: &str) {
        let id = self.find(css);
        self.call("POST", &format!("/element/{id}/clear"), json!({}));
        self.call(
            "POST",
            &format!("/element/{id}/value"),
            json!({"text": text}),
        );
    }

    fn script(&self, script: &str) -> Value {
        self.call(
            "POST",
            "/execute/sync",
            json!({"script": script, "args": []}),
        )
    }

    /// Waits (up to ten seconds) for `ready` to hold: a click that submits a form or
    /// follows a link may return before the next page has arrived.
    fn wait_for(&self, what: &str, ready: impl Fn(&Self) -> bool) {
        let started = Instant::now();
        while !ready(self) {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "waited in vain for {what}; at {}",
                self.url()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The page fits the screen's width: nothing to scroll sideways on a phone.
    fn fits_width(&self) -> bool {
        self.script("return document.documentElement.scrollWidth <= window.innerWidth;")
            == json!(true)
    }
}

impl Drop for Chromium {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let _ = self
                .http
                .delete(format!("{}/session/{}", self.base, self.session))
                .send();
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

both_databases! {
    fn a_phone_visitor_browses_searches_and_switches_language(app) {
        let phone = Chromium::start(390, 844);
        phone.open(&format!("{}/", app.base));
        assert!(phone.source().contains("当季推荐"));
        assert!(phone.fits_width(), "front page fits a phone's width");

        phone.click("a.lang");
        phone.wait_for("the English front page", |p| p.source().contains("In season now"));
        phone.type_into("#q", "millet");
        phone.click("form.search button");
        phone.wait_for("search results", |p| p.url().contains("/products?q=millet"));
        assert!(phone.source().contains("Yellow millet cake flour"));
        assert!(phone.fits_width(), "results fit a phone's width");

        phone.click("a[href^='/products/'] .card-name");
        phone.wait_for("a product page", |p| p.source().contains("class=\"price\""));
        phone.click(".where a");
        phone.wait_for("the village page", |p| p.url().contains("/villages/"));
        assert!(phone.source().contains("From this village"), "English is remembered across pages");
        assert!(phone.fits_width());
    }

    fn a_team_member_signs_in_and_out_with_the_forms(app) {
        let phone = Chromium::start(390, 844);
        phone.open(&format!("{}/team", app.base));
        assert!(phone.url().ends_with("/login?next=%2Fteam"), "sent to sign in: {}", phone.url());
        phone.type_into("#email", "team@example.com");
        phone.type_into("#password", "wrong password");
        phone.click("form.stack button");
        phone.wait_for("the refusal", |p| p.source().contains("邮箱或密码不对"));
        phone.type_into("#password", PASSWORD);
        phone.click("form.stack button");
        phone.wait_for("the team's home", |p| p.url().ends_with("/team"));
        let html = phone.source();
        assert!(html.contains("工作队工作台") && html.contains("谢店村"));
        phone.click("form[action='/logout'] button");
        phone.wait_for("the front page", |p| p.url().ends_with('/'));
        assert!(phone.source().contains("href=\"/login\""), "signed out");
    }
}

both_databases! {
    fn a_team_member_on_a_phone_imports_the_register_and_records_a_lot(app) {
        let register = app.database.dir.join("花名册.csv");
        std::fs::write(&register, "户编号,户主姓名,常住人口,类别,电话\nXD-501,谢春生,3,脱贫户,13803525010\n").expect("register file");
        let phone = Chromium::start(390, 844);
        phone.open(&format!("{}/login", app.base));
        phone.type_into("#email", "team@example.com");
        phone.type_into("#password", PASSWORD);
        phone.click("form.stack button");
        phone.wait_for("the team's home", |p| p.url().ends_with("/team"));

        phone.open(&format!("{}/team/households/import", app.base));
        assert!(phone.fits_width(), "the import page fits a phone");
        phone.type_into("#file", &register.display().to_string());
        phone.click("form.stack button");
        phone.wait_for("the import summary", |p| p.source().contains("导入完成"));
        assert!(phone.source().contains("新登记 1 户"));

        phone.open(&format!("{}/team/stock", app.base));
        assert!(phone.fits_width(), "the stock page fits a phone");
        let millet = app.scalar("SELECT id AS n FROM products WHERE slug = 'xiaomi'");
        let household = app.scalar("SELECT id AS n FROM households WHERE code = 'XD-501'");
        phone.click(&format!("#product_id option[value='{millet}']"));
        phone.click(&format!("#household_id option[value='{household}']"));
        phone.type_into("#quantity", "12");
        phone.click("form.stack button");
        phone.wait_for("the new lot", |p| p.url().contains("/team/stock/lots/"));
        assert!(phone.source().contains("XD-501 谢春生"));
        assert_eq!(app.count(&format!("stock_lots WHERE household_id = {household} AND quantity = 12")), 1);
    }
}

both_databases! {
    fn a_livestream_viewer_buys_on_a_phone_without_an_account(app) {
        let flour = app.scalar("SELECT id AS n FROM products WHERE slug = 'huangmi-gaomian'");
        let phone = Chromium::start(390, 844);
        phone.open(&format!("{}/products/{flour}", app.base));
        assert!(phone.fits_width(), "the product page fits a phone");
        phone.fill("#quantity", "2");
        phone.click("form.buy button");
        phone.wait_for("the cart", |p| p.url().ends_with("/cart"));
        assert!(phone.source().contains("¥76.00"), "two bags at ¥38.00");
        phone.click("a.button[href='/checkout']");
        phone.wait_for("the checkout form", |p| p.url().ends_with("/checkout"));
        assert!(phone.fits_width(), "the checkout fits a phone");
        phone.type_into("#name", "王女士");
        phone.type_into("#phone", "13912345678");
        phone.type_into("#address", "大同市平城区");
        phone.click("form.stack button[type='submit']");
        phone.wait_for("the order page", |p| p.url().contains("/orders/"));
        assert!(phone.source().contains("待付款"));
        assert_eq!(app.count("orders WHERE buyer_name = '王女士'"), 1);
    }
}

crate::support::both_backends! {
    fn a_phone_buys_from_two_villages_pays_through_stripe_and_follows_delivery(backend) {
        let stripe = crate::stripe_server::StripeServer::start();
        let app = crate::payments::shop(backend, &stripe, None);
        stripe.send_events_to(&app.base);
        let phone = Chromium::start(390, 844);
        for (slug, quantity) in [("huangmi-gaomian", "2"), ("jidan", "1")] {
            let id = app.scalar(&format!("SELECT id AS n FROM products WHERE slug = '{slug}'"));
            phone.open(&format!("{}/products/{id}", app.base));
            phone.fill("#quantity", quantity);
            phone.click("form.buy button");
            phone.wait_for("the cart", |p| p.url().ends_with("/cart"));
        }
        assert!(phone.source().contains("¥121.00"));
        phone.click("a.button[href='/checkout']");
        phone.wait_for("the checkout form", |p| p.url().ends_with("/checkout"));
        assert!(phone.source().contains("value=\"stripe\" checked"), "online payment is offered first");
        phone.type_into("#name", "王女士");
        phone.type_into("#phone", "13912345678");
        phone.type_into("#address", "大同市平城区");
        phone.click("form.stack button[type='submit']");
        phone.wait_for("Stripe's payment page", |p| p.url().starts_with(&stripe.base));
        assert!(phone.source().contains("CNY 121.00"));
        phone.click("#pay");
        phone.wait_for("back on the order page", |p| p.url().contains("/orders/") && p.url().contains("paid=1"));
        let page = phone.source();
        assert!(page.contains("已付款"), "the webhook arrived before the buyer came back: {page}");
        let order_url = phone.url();
        let order = app.scalar("SELECT MAX(id) AS n FROM orders");

        // Each village team ships its part.
        let taer = crate::households::taer_member(&app);
        for (team, slug, carrier) in [(app.signed_in("team@example.com"), "yangzhouyao", "SF100"), (taer, "taer", "EMS200")] {
            let village = app.scalar(&format!("SELECT id AS n FROM villages WHERE slug = '{slug}'"));
            let page = format!("/team/orders/{order}");
            for (step, form) in [("pack", vec![]), ("ship", vec![("carrier", "快递"), ("tracking_number", carrier)]), ("deliver", vec![])] {
                let res = team.submit(&page, &format!("{page}/villages/{village}/{step}"), &form);
                assert_eq!(res.status(), reqwest::StatusCode::SEE_OTHER, "{slug} {step}");
            }
        }
        phone.open(&order_url);
        let page = phone.source();
        assert!(page.contains("SF100") && page.contains("EMS200") && page.contains("已送达"));
        assert!(phone.fits_width(), "the order page fits a phone");
    }
}

crate::support::both_backends! {
    fn a_livestream_viewer_goes_from_the_link_to_a_paid_order_in_three_screens(backend) {
        let stripe = crate::stripe_server::StripeServer::start();
        let app = crate::payments::shop(backend, &stripe, None);
        stripe.send_events_to(&app.base);
        let team = app.signed_in("team@example.com");
        let session = crate::live::new_session(&app, &team, village_market::domain::now_utc() - chrono::Duration::minutes(5));
        let code = crate::live::add_flour(&app, &team, session);
        let page = format!("/team/live/{session}");
        assert_eq!(team.submit(&page, &format!("{page}/start"), &[]).status(), reqwest::StatusCode::SEE_OTHER);

        // Screen 1: the link, on a 360 px phone, with everything to buy on it.
        let phone = Chromium::start(360, 740);
        phone.open(&format!("{}/l/{code}", app.base));
        assert!(phone.fits_width(), "the link page fits 360 px");
        let countdown = "return document.querySelector('[data-countdown]').textContent";
        phone.wait_for("the countdown", |p| p.script(countdown).as_str().is_some_and(|t| t.contains(':')));
        assert!(phone.source().contains("value=\"stripe\" checked"), "online payment first");
        phone.type_into("#quantity", "2");
        phone.type_into("#name", "刘女士");
        phone.type_into("#phone", "13933334444");
        phone.type_into("#address", "大同市云州区");
        phone.click("form.stack button[type='submit']");
        // Screen 2: Stripe's payment page.
        phone.wait_for("Stripe's payment page", |p| p.url().starts_with(&stripe.base));
        phone.click("#pay");
        // Screen 3: the order, paid.
        phone.wait_for("back on the order page", |p| p.url().contains("/orders/") && p.url().contains("paid=1"));
        assert!(phone.source().contains("已付款"));
        assert!(phone.fits_width(), "the order page fits 360 px");
        assert_eq!(app.count("orders WHERE channel = 'livestream' AND buyer_phone = '13933334444' AND paid_at IS NOT NULL"), 1);
        assert_eq!(app.count("live_items WHERE sold = 2"), 1);
    }
}

both_databases! {
    fn a_cadre_on_a_phone_reads_the_demo_reports_down_to_a_households_statement(app) {
        village_market::domain::demo_history::load(&mut app.conn(), 1000, village_market::domain::now_utc()).expect("demo orders");
        let phone = Chromium::start(390, 844);
        phone.open(&format!("{}/login?next=%2Freports", app.base));
        phone.type_into("#email", "cadre@example.com");
        phone.type_into("#password", PASSWORD);
        phone.click("form.stack button");
        phone.wait_for("the reports", |p| p.url().ends_with("/reports"));
        let home = phone.source();
        assert!(home.contains("人均增收") && home.contains("<svg"), "figures and the monthly chart");
        assert!(phone.fits_width(), "the report fits a phone (its table scrolls inside)");
        phone.click("ul.counties a[href^='/reports/villages/']");
        phone.wait_for("a village's households", |p| p.url().contains("/reports/villages/"));
        assert!(phone.source().contains("****"), "phones masked");
        assert!(phone.fits_width());
        phone.click("table.report tbody a");
        phone.wait_for("the statement", |p| p.url().contains("/statement"));
        assert!(phone.source().contains("共富账单"));
        assert!(phone.fits_width(), "the statement fits a phone");
    }
}

both_databases! {
    fn a_canteen_buyer_at_a_desk_places_a_quick_order_and_accepts_the_delivery(app) {
        let millet = crate::storefront::product_id(app, "xiaomi");
        let flour = crate::storefront::product_id(app, "huangmi-gaomian");
        let date = crate::canteen_orders::delivery_day(2).to_string();
        let desk = Chromium::start(1280, 900);
        desk.open(&format!("{}/login?next=%2Fcanteen%2Forder", app.base));
        desk.type_into("#email", "canteen@example.com");
        desk.type_into("#password", PASSWORD);
        desk.click("form.stack button");
        desk.wait_for("the quick-order sheet", |d| d.url().ends_with("/canteen/order"));
        assert!(desk.fits_width(), "the sheet fits a desk's screen");
        desk.fill(&format!("#q-{millet}"), "15");
        desk.fill(&format!("#q-{flour}"), "40");
        desk.click("button[value='review']");
        desk.wait_for("the priced lines", |d| d.source().contains("¥1,407.50"));
        // The quantities typed stay in the sheet.
        assert!(desk.source().contains(&format!("id=\"q-{millet}\" name=\"q-{millet}\" value=\"15\"")));
        desk.click("#delivery_site option:nth-child(2)");
        // A date field takes typed digits in the browser's own order: set it as a person's
        // date picker would.
        desk.script(&format!("document.getElementById('delivery_date').value = '{date}';"));
        desk.fill("#po_number", "CG-DESK-1");
        desk.click("button[value='place']");
        desk.wait_for("the placed order", |d| d.url().contains("/canteen/orders/"));
        let html = desk.source();
        assert!(html.contains("CG-DESK-1") && html.contains(&date) && html.contains("月结记账"), "{html}");
        assert_eq!(app.count("canteen_orders WHERE po_number = 'CG-DESK-1'"), 1);

        // 谢店村 delivers the millet; at the kitchen door one bag is found damaged.
        let order = app.scalar("SELECT order_id AS n FROM canteen_orders WHERE po_number = 'CG-DESK-1'");
        crate::canteen_orders::deliver(app, order, "xiaomi");
        let line = app.scalar(&format!("SELECT id AS n FROM order_lines WHERE order_id = {order} AND product_id = {millet}"));
        desk.open(&format!("{}/canteen/orders/{order}", app.base));
        desk.fill(&format!("#accepted-{line}"), "14");
        desk.fill(&format!("#rejected-{line}"), "1");
        desk.click(&format!("#reason-{line} option[value='damaged']"));
        desk.click("section.acceptance button[type='submit']");
        desk.wait_for("the acceptance recorded", |d| d.source().contains("接收 14，拒收 1"));
        assert!(desk.source().contains("破损"));
        // 1 of 15 units of a ¥127.50 line.
        assert_eq!(app.count(&format!("refunds WHERE order_id = {order} AND amount_fen = 850")), 1);
    }
}
