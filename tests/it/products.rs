//! Products as a work team lists and edits them.

use reqwest::StatusCode;

use crate::households::{taer_member, village_id};
use crate::storefront::product_id;
use crate::support::{TestApp, both_databases, location};

fn fields<'a>(village: &'a str, overrides: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut base: Vec<(&str, &str)> = vec![
        ("village_id", village),
        ("name_zh", "谢店红小豆"),
        ("name_en", "Xiedian red beans"),
        ("category", "grains"),
        ("sale_unit_zh", "斤"),
        ("sale_unit_en", "jin (500 g)"),
        ("unit_price", "8.50"),
        ("min_per_order", "1"),
        ("max_per_order", "50"),
        ("status", "on_sale"),
        ("supply_mode", "consignment"),
        ("low_stock_threshold", "5"),
        ("tier_min_1", "10"),
        ("tier_price_1", "8.00"),
        ("tier_min_2", "40"),
        ("tier_price_2", "7.2"),
        ("tier_canteen_2", "1"),
        ("season", "9"),
        ("season", "10"),
        ("description_zh", "红小豆"),
        ("description_en", "Small red beans"),
    ];
    for (k, v) in overrides {
        base.retain(|(key, _)| key != k);
        if !v.is_empty() {
            base.push((k, v));
        }
    }
    base
}

fn new_product_id(app: &TestApp) -> i64 {
    app.scalar("SELECT MAX(id) AS n FROM products")
}

both_databases! {
    fn a_product_is_listed_with_tiers_and_season_then_edited(app) {
        let team = app.signed_in("team@example.com");
        let xiedian = village_id(app, "xiedian").to_string();
        let res = team.submit("/team/products/new", "/team/products", &fields(&xiedian, &[]));
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        let id = new_product_id(app);
        assert_eq!(location(&res), format!("/team/products/{id}"));
        assert_eq!(app.count(&format!("products WHERE id = {id} AND unit_price_fen = 850 AND stock = 0 AND slug = 'xiedian-red-beans' AND season_months = '9,10'")), 1);
        assert_eq!(app.count(&format!("price_tiers WHERE product_id = {id}")), 2);
        assert_eq!(app.count(&format!("price_tiers WHERE product_id = {id} AND canteen_only = TRUE AND unit_price_fen = 720")), 1);
        // The storefront shows it (sold out until a lot is received).
        let page = app.browser().text(&format!("/products/{id}")).1;
        assert!(page.contains("谢店红小豆") && page.contains("¥8.50") && page.contains("满 40 斤") && page.contains("已售罄"));
        assert!(page.contains("9月、10月上市"));

        let edit = format!("/team/products/{id}/edit");
        let form = team.text(&edit).1;
        assert!(form.contains("value=\"8.50\"") && form.contains("name=\"tier_min_2\" value=\"40\""));
        let res = team.submit(&edit, &format!("/team/products/{id}"), &fields("", &[("unit_price", "9"), ("tier_min_2", ""), ("tier_price_2", "")]));
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        assert_eq!(app.count(&format!("products WHERE id = {id} AND unit_price_fen = 900")), 1);
        assert_eq!(app.count(&format!("price_tiers WHERE product_id = {id}")), 1, "the removed tier is gone");
        assert_eq!(app.count(&format!(
            "audit_log WHERE entity = 'product' AND entity_id = {id} AND action = 'update' \
             AND before_json LIKE '%\"unit_price_fen\":850%' AND after_json LIKE '%\"unit_price_fen\":900%'"
        )), 1, "price change recorded before → after");
        // Saving the same values again records nothing.
        let res = team.submit(&edit, &format!("/team/products/{id}"), &fields("", &[("unit_price", "9"), ("tier_min_2", ""), ("tier_price_2", "")]));
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        assert_eq!(app.count(&format!("audit_log WHERE entity = 'product' AND entity_id = {id}")), 2);
    }

    fn bad_products_are_shown_back_and_nothing_is_written(app) {
        let team = app.signed_in("team@example.com");
        let xiedian = village_id(app, "xiedian").to_string();
        let before = (app.count("products"), app.count("price_tiers"), app.count("audit_log"));
        for (overrides, field_message) in [
            (vec![("unit_price", "8.505")], "金额最多两位小数"),
            (vec![("unit_price", "-1")], "请填金额"),
            (vec![("unit_price", "0")], "金额要大于零"),
            (vec![("name_zh", "")], "必填"),
            (vec![("tier_price_2", "8.10")], "数量更多的一档，价格要更低"),
            (vec![("tier_price_1", "9")], "批量价要低于单价"),
            (vec![("min_per_order", "0")], "请填 1 到 100000 之间的整数"),
            (vec![("max_per_order", "1"), ("min_per_order", "5")], "不能少于每单最少数量"),
            (vec![("category", "gold")], "请从列表中选择"),
            (vec![("season", "13")], "请从列表中选择"),
        ] {
            let res = team.submit("/team/products/new", "/team/products", &fields(&xiedian, &overrides));
            assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "{overrides:?}");
            let html = res.text().expect("page");
            assert!(html.contains(field_message), "{overrides:?}: {field_message}");
            assert!(html.contains("value=\"谢店红小豆\"") || overrides.iter().any(|(k, _)| *k == "name_zh"), "values kept");
        }
        assert_eq!((app.count("products"), app.count("price_tiers"), app.count("audit_log")), before);
    }

    fn names_with_markup_are_shown_escaped_everywhere(app) {
        let team = app.signed_in("team@example.com");
        let xiedian = village_id(app, "xiedian").to_string();
        let res = team.submit("/team/products/new", "/team/products", &fields(&xiedian, &[
            ("name_zh", "<script>alert('x')</script>豆"), ("name_en", "<b>beans</b>"), ("description_zh", "<img src=x onerror=alert(1)>"),
        ]));
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        let id = new_product_id(app);
        for (browser, path) in [
            (&team, format!("/team/products/{id}")),
            (&team, format!("/team/products/{id}/edit")),
            (&team, "/team/products".to_string()),
            (&app.browser(), format!("/products/{id}")),
            (&app.browser(), "/villages/xiedian".to_string()),
            (&app.browser(), "/products?q=%E8%B1%86&lang=en".to_string()),
        ] {
            let html = browser.text(&path).1;
            assert!(!html.contains("<script>alert") && !html.contains("<img src=x") && !html.contains("<b>beans"), "{path}");
            assert!(html.contains("&lt;script&gt;") || html.contains("&lt;b&gt;beans"), "{path} shows the name, escaped");
        }
    }

    fn the_supply_mode_is_fixed_once_stock_arrived(app) {
        let team = app.signed_in("team@example.com");
        let millet = product_id(app, "xiaomi");
        let edit = format!("/team/products/{millet}/edit");
        let res = team.submit(&edit, &format!("/team/products/{millet}"), &fields("", &[("supply_mode", "purchased")]));
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert!(res.text().expect("page").contains("供货方式不能再改"));
        assert_eq!(app.count(&format!("products WHERE id = {millet} AND supply_mode = 'consignment' AND name_zh = '谢店小米'")), 1);
    }

    fn another_villages_products_cannot_be_edited(app) {
        let taer = taer_member(app);
        let flour = product_id(app, "huangmi-gaomian");
        assert_eq!(taer.get(&format!("/team/products/{flour}/edit")).status(), StatusCode::NOT_FOUND);
        let res = taer.submit("/team/products/new", &format!("/team/products/{flour}"), &fields("", &[]));
        assert_eq!(res.status(), StatusCode::NOT_FOUND);
        let xiedian = village_id(app, "xiedian").to_string();
        let before = app.count("products");
        let res = taer.submit("/team/products/new", "/team/products", &fields(&xiedian, &[]));
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "a village outside the member's scope");
        assert_eq!(app.count("products"), before);
        assert_eq!(app.count(&format!("products WHERE id = {flour} AND name_zh = '黄米糕面'")), 1);
    }
}
