//! The city office's area: villages, canteen organisations and accounts.

use reqwest::StatusCode;

use crate::households::village_id;
use crate::support::{TestApp, both_databases, location};

fn user_id(app: &TestApp, email: &str) -> i64 {
    app.scalar(&format!(
        "SELECT id AS n FROM users WHERE email = '{email}'"
    ))
}

fn county_id(app: &TestApp, slug: &str) -> String {
    app.scalar(&format!(
        "SELECT id AS n FROM counties WHERE slug = '{slug}'"
    ))
    .to_string()
}

both_databases! {
    fn a_village_is_added_and_its_story_edited(app) {
        let admin = app.signed_in("admin@example.com");
        let county = county_id(app, "yanggao");
        let res = admin.submit("/admin/villages/new", "/admin/villages", &[
            ("county_id", &county), ("slug", "longquan"), ("name_zh", "龙泉村"), ("name_en", "Longquan"),
            ("story_zh", "龙泉村种杏。"), ("story_en", "Longquan grows apricots."), ("collective_share_bp", "1500"),
        ]);
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        assert_eq!(app.count("villages WHERE slug = 'longquan' AND collective_share_bp = 1500"), 1);
        let (status, html) = app.browser().text("/villages/longquan");
        assert_eq!(status, StatusCode::OK);
        assert!(html.contains("龙泉村种杏。") && html.contains("阳高县"));

        let id = village_id(app, "longquan");
        let res = admin.submit(&format!("/admin/villages/{id}"), &format!("/admin/villages/{id}"), &[
            ("county_id", &county), ("name_zh", "龙泉村"), ("name_en", "Longquan"), ("story_zh", "龙泉村种杏，也养蜂。"),
            ("story_en", ""), ("collective_share_bp", ""),
        ]);
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        assert_eq!(app.count("villages WHERE slug = 'longquan' AND collective_share_bp IS NULL AND story_zh = '龙泉村种杏，也养蜂。'"), 1);
        assert_eq!(app.count(&format!("audit_log WHERE entity = 'village' AND entity_id = {id}")), 2);

        let before = app.count("villages");
        for (fields, message) in [
            (vec![("county_id", county.as_str()), ("slug", "Long Quan"), ("name_zh", "甲"), ("name_en", "A"), ("story_zh", "x")], "只能用小写字母"),
            (vec![("county_id", county.as_str()), ("slug", "xiedian"), ("name_zh", "甲"), ("name_en", "A"), ("story_zh", "x")], "这个网址名已被使用"),
            (vec![("county_id", "999999"), ("slug", "jia"), ("name_zh", "甲"), ("name_en", "A"), ("story_zh", "x")], "请从列表中选择"),
            (vec![("county_id", county.as_str()), ("slug", "jia"), ("name_zh", "甲"), ("name_en", "A"), ("story_zh", "x"), ("collective_share_bp", "20000")], "请填 0 到 10000 之间的整数"),
        ] {
            let res = admin.submit("/admin/villages/new", "/admin/villages", &fields);
            assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "{fields:?}");
            assert!(res.text().expect("page").contains(message), "{message}");
        }
        assert_eq!(app.count("villages"), before);
    }

    fn canteen_organisations_are_set_up_with_their_invoice_details(app) {
        let admin = app.signed_in("admin@example.com");
        let fields = [
            ("name", "大同市第二人民医院食堂"), ("invoice_title", "大同市第二人民医院"), ("tax_id", "12140200ab1234567x"),
            ("address", "大同市平城区"), ("contact_name", "王采购"), ("contact_phone", "0352-1234567"),
            ("payment_terms", "on_account"), ("payment_terms_days", "45"), ("credit_limit", "50000"),
            ("annual_target", "300000"),
        ];
        let res = admin.submit("/admin/organizations/new", "/admin/organizations", &fields);
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        assert_eq!(app.count("organizations WHERE tax_id = '12140200AB1234567X' AND annual_target_fen = 30000000 AND payment_terms_days = 45"), 1);
        let mut bad = fields.to_vec();
        bad[2] = ("tax_id", "123");
        bad[0] = ("name", "另一个食堂");
        let res = admin.submit("/admin/organizations/new", "/admin/organizations", &bad);
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert!(res.text().expect("page").contains("税号是 18 位数字或大写字母"));
        let res = admin.submit("/admin/organizations/new", "/admin/organizations", &fields);
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "same name twice");
        assert_eq!(app.count("organizations"), 2);
    }

    fn accounts_are_created_bound_disabled_and_reset(app) {
        let admin = app.signed_in("admin@example.com");
        let res = admin.submit("/admin/users/new", "/admin/users", &[
            ("email", "Liu@Example.com"), ("display_name", "刘队员"), ("role", "team"), ("password", "a good password"),
            ("locale", "zh-CN"), ("village", "shuidong"), ("village", "juxing"),
        ]);
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        let id = user_id(app, "liu@example.com");
        assert_eq!(location(&res), format!("/admin/users/{id}"));
        let liu = app.browser();
        assert_eq!(liu.sign_in("liu@example.com", "a good password").status(), StatusCode::SEE_OTHER);
        let home = liu.text("/team").1;
        assert!(home.contains("水洞村") && home.contains("聚兴村") && !home.contains("谢店村"));

        // Rebind to one village: takes effect on the member's next page.
        let edit = format!("/admin/users/{id}");
        let res = admin.submit(&edit, &edit, &[("display_name", "刘队员"), ("village", "taer")]);
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        let home = liu.text("/team").1;
        assert!(home.contains("塔儿村") && !home.contains("水洞村"));
        // A team member with no village is refused.
        let res = admin.submit(&edit, &edit, &[("display_name", "刘队员")]);
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert!(res.text().expect("page").contains("工作队账号要绑定至少一个村"));

        // Disabled: signed out at once, and cannot sign in.
        let res = admin.submit(&edit, &edit, &[("display_name", "刘队员"), ("village", "taer"), ("disabled", "1")]);
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        assert_eq!(liu.get("/team").status(), StatusCode::SEE_OTHER);
        assert_eq!(app.browser().sign_in("liu@example.com", "a good password").status(), StatusCode::UNAUTHORIZED);
        admin.submit(&edit, &edit, &[("display_name", "刘队员"), ("village", "taer")]);

        // A new password from the admin.
        let res = admin.submit(&edit, &format!("{edit}/password"), &[("password", "short")]);
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let res = admin.submit(&edit, &format!("{edit}/password"), &[("password", "a brand new password")]);
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        assert_eq!(app.browser().sign_in("liu@example.com", "a good password").status(), StatusCode::UNAUTHORIZED);
        assert_eq!(app.browser().sign_in("liu@example.com", "a brand new password").status(), StatusCode::SEE_OTHER);
        assert_eq!(app.count(&format!("audit_log WHERE entity = 'user' AND entity_id = {id} AND action = 'reset_password' AND after_json LIKE '%sessions_ended%'")), 1);
        assert_eq!(app.count("audit_log WHERE after_json LIKE '%brand new%'"), 0, "no password in the log");

        // An admin cannot lock themselves out.
        let me = user_id(app, "admin@example.com");
        let res = admin.submit(&format!("/admin/users/{me}"), &format!("/admin/users/{me}"), &[("display_name", "平台管理员"), ("disabled", "1")]);
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    }

    fn a_cadre_reads_only_their_county(app) {
        let admin = app.signed_in("admin@example.com");
        let res = admin.submit("/admin/users/new", "/admin/users", &[
            ("email", "lingqiu@example.com"), ("display_name", "灵丘干部"), ("role", "cadre"), ("password", "a good password"),
            ("county", "lingqiu"),
        ]);
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        let cadre = app.browser();
        cadre.sign_in("lingqiu@example.com", "a good password");
        let html = cadre.text("/reports").1;
        assert!(html.contains("水洞村") && !html.contains("谢店村") && html.contains("本区县"));
        let before = app.count("users");
        let res = admin.submit("/admin/users/new", "/admin/users", &[
            ("email", "not-an-email"), ("display_name", ""), ("role", "canteen"), ("password", "x"),
        ]);
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let html = res.text().expect("page");
        assert!(html.contains("请填正确的邮箱") && html.contains("密码至少 8 位"));
        assert_eq!(app.count("users"), before);
    }
}
