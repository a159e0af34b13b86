//! Signing in and out, CSRF, throttling, and who may enter which area.

use reqwest::StatusCode;

use crate::support::{PASSWORD, both_databases, location};

both_databases! {
    fn each_role_lands_on_its_own_home(app) {
        let cases = [
            ("admin@example.com", "/admin", "管理后台", "谢店村"),
            ("team@example.com", "/team", "工作队工作台", "杨州窑村"),
            ("canteen@example.com", "/canteen", "食堂采购", "12140200DEMO00001X"),
            ("cadre@example.com", "/reports", "收入报表", "全市"),
        ];
        for (email, home, title, detail) in cases {
            let browser = app.signed_in(email);
            let (status, html) = browser.text(home);
            assert_eq!(status, StatusCode::OK, "{email} at {home}");
            assert!(html.contains(title) && html.contains(detail), "{email}'s home shows {title} and {detail}");
            assert!(html.contains("action=\"/logout\""), "a sign-out button");
        }
        // The team member's home lists their two villages only.
        let html = app.signed_in("team@example.com").text("/team").1;
        assert!(html.contains("谢店村") && html.contains("杨州窑村") && !html.contains("塔儿村"));
        assert!(html.contains("农户 4 户") && html.contains("农户 5 户"));
    }

    fn roles_are_refused_at_other_roles_homes(app) {
        let homes = ["/admin", "/team", "/canteen", "/reports"];
        let allowed = [
            ("admin@example.com", vec!["/admin", "/reports"]),
            // A work team reads the reports of its own villages.
            ("team@example.com", vec!["/team", "/reports"]),
            ("canteen@example.com", vec!["/canteen"]),
            ("cadre@example.com", vec!["/reports"]),
        ];
        for (email, mine) in allowed {
            let browser = app.signed_in(email);
            for home in homes {
                let status = browser.get(home).status();
                let expected = if mine.contains(&home) { StatusCode::OK } else { StatusCode::FORBIDDEN };
                assert_eq!(status, expected, "{email} at {home}");
            }
        }
        let (status, html) = app.signed_in("team@example.com").text("/admin");
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert!(html.contains("你的账号不能访问这里"));
    }

    fn guests_are_sent_to_sign_in_and_back(app) {
        let browser = app.browser();
        let res = browser.get("/team");
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        assert_eq!(location(&res), "/login?next=%2Fteam");
        let res = browser.submit("/login?next=%2Fteam", "/login", &[
            ("email", "team@example.com"), ("password", PASSWORD), ("next", "/team"),
        ]);
        assert_eq!(location(&res), "/team");
        // An off-site `next` is ignored.
        let other = app.browser();
        let res = other.submit("/login", "/login", &[
            ("email", "team@example.com"), ("password", PASSWORD), ("next", "//evil.example/"),
        ]);
        assert_eq!(location(&res), "/team");
    }

    fn a_next_that_a_browser_would_read_as_another_site_is_ignored(app) {
        // A tab, other control characters and backslashes are dropped or rewritten by
        // browsers, so `/\t/evil.example` is `//evil.example` to them.
        for next in ["/\t/evil.example", "/\n/evil.example", "/\\evil.example", "/\u{1}x", "https://evil.example/"] {
            let browser = app.browser();
            let query = format!("/login?next={}", village_market::util::url_encode(next));
            let (_, form) = browser.text(&query);
            assert!(!form.contains("name=\"next\""), "{next:?} is not carried into the form");
            let res = browser.submit(&query, "/login", &[
                ("email", "team@example.com"), ("password", PASSWORD), ("next", next),
            ]);
            assert_eq!(res.status(), StatusCode::SEE_OTHER, "{next:?}");
            assert_eq!(location(&res), "/team", "{next:?}");
        }
        // A path of this site, with its query, still comes back.
        let browser = app.browser();
        let res = browser.submit("/login", "/login", &[
            ("email", "team@example.com"), ("password", PASSWORD), ("next", "/team/orders?status=paid"),
        ]);
        assert_eq!(location(&res), "/team/orders?status=paid");
    }

    fn wrong_password_and_unknown_email_get_the_same_answer(app) {
        let browser = app.browser();
        let wrong = browser.sign_in("team@example.com", "not the password");
        assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
        let wrong = wrong.text().expect("page");
        let unknown = browser.sign_in("nobody@example.com", PASSWORD);
        assert_eq!(unknown.status(), StatusCode::UNAUTHORIZED);
        let unknown = unknown.text().expect("page");
        assert!(wrong.contains("邮箱或密码不对"));
        let message = |html: &str| html.split("role=\"alert\">").nth(1).map(|s| s.split('<').next().unwrap_or("").to_string());
        assert_eq!(message(&wrong), message(&unknown));
        assert!(wrong.contains("value=\"team@example.com\""), "the email is kept in the form");
        assert_eq!(browser.get("/team").status(), StatusCode::SEE_OTHER, "still signed out");
        // The email is matched without regard to case or spaces.
        assert_eq!(app.browser().sign_in("  Team@Example.com ", PASSWORD).status(), StatusCode::SEE_OTHER);
    }

    fn forms_without_the_sessions_csrf_token_are_refused(app) {
        let browser = app.browser();
        browser.get("/login");
        let res = browser.post_form("/login", &[("email", "team@example.com"), ("password", PASSWORD)]);
        assert_eq!(res.status(), StatusCode::FORBIDDEN);
        assert!(res.text().expect("page").contains("表单已过期"));
        let res = browser.post_form("/login", &[("csrf_token", "forged"), ("email", "team@example.com"), ("password", PASSWORD)]);
        assert_eq!(res.status(), StatusCode::FORBIDDEN);
        // Another visitor's token does not work in this session.
        let other = app.browser();
        let token = crate::support::csrf_token(&other.text("/login").1).expect("token");
        let res = browser.post_form("/login", &[("csrf_token", &token), ("email", "team@example.com"), ("password", PASSWORD)]);
        assert_eq!(res.status(), StatusCode::FORBIDDEN);
        assert_eq!(browser.get("/team").status(), StatusCode::SEE_OTHER, "not signed in");
        assert_eq!(app.count("login_failures"), 0, "nothing was written");

        let signed_in = app.signed_in("cadre@example.com");
        assert_eq!(signed_in.post_form("/logout", &[]).status(), StatusCode::FORBIDDEN);
        assert_eq!(signed_in.get("/reports").status(), StatusCode::OK, "still signed in");
    }

    fn missing_fields_are_named(app) {
        let browser = app.browser();
        let res = browser.submit("/login", "/login", &[("email", "team@example.com")]);
        assert_eq!(res.status(), StatusCode::BAD_REQUEST);
        assert!(res.text().expect("page").contains("password"));
        let res = browser.submit("/login?lang=en", "/login", &[("password", "x")]);
        assert_eq!(res.status(), StatusCode::BAD_REQUEST);
        assert!(res.text().expect("page").contains("Please check this field: email"));
    }

    fn signing_out_ends_the_session(app) {
        let browser = app.signed_in("admin@example.com");
        let res = browser.submit("/admin", "/logout", &[]);
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        assert_eq!(location(&res), "/");
        assert_eq!(browser.get("/admin").status(), StatusCode::SEE_OTHER);
    }

    fn repeated_failures_from_one_address_are_slowed_down(app) {
        let browser = app.browser();
        for _ in 0..5 {
            assert_eq!(browser.sign_in("team@example.com", "guess").status(), StatusCode::UNAUTHORIZED);
        }
        let res = browser.sign_in("team@example.com", PASSWORD);
        assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS, "even the right password waits");
        let retry: u64 = res.headers()["retry-after"].to_str().expect("header").parse().expect("seconds");
        assert!((1..=15 * 60).contains(&retry));
        assert!(res.text().expect("page").contains("分钟后再试"));
        assert_eq!(browser.get("/team").status(), StatusCode::SEE_OTHER);
        // Once the window has passed, the address may try again.
        app.execute("UPDATE login_failures SET failed_at = failed_at - INTERVAL '1 hour'".replace(
            "failed_at - INTERVAL '1 hour'",
            match app.backend {
                village_market::db::Backend::Sqlite => "datetime(failed_at, '-1 hour')",
                village_market::db::Backend::Postgres => "failed_at - INTERVAL '1 hour'",
            },
        ).as_str());
        assert_eq!(browser.sign_in("team@example.com", PASSWORD).status(), StatusCode::SEE_OTHER);
    }

    fn a_disabled_account_is_signed_out_at_once(app) {
        let browser = app.signed_in("canteen@example.com");
        assert_eq!(browser.get("/canteen").status(), StatusCode::OK);
        app.execute("UPDATE users SET disabled = TRUE WHERE email = 'canteen@example.com'");
        assert_eq!(browser.get("/canteen").status(), StatusCode::SEE_OTHER);
        assert_eq!(app.browser().sign_in("canteen@example.com", PASSWORD).status(), StatusCode::UNAUTHORIZED);
    }
}
