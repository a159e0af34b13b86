//! Stock received from households: lots, their scope, write-offs.

use reqwest::StatusCode;

use crate::households::{household_id, taer_member};
use crate::storefront::product_id;
use crate::support::{TestApp, both_databases, location};

fn household(app: &TestApp, code: &str) -> String {
    household_id(app, code).to_string()
}

pub fn stock_of(app: &TestApp, product: i64) -> i64 {
    app.scalar(&format!(
        "SELECT CAST(stock AS BIGINT) AS n FROM products WHERE id = {product}"
    ))
}

/// Stock equals what remains of the lots: nothing is sold in these tests.
fn assert_stock_matches_lots(app: &TestApp, product: i64) {
    let lots_remaining = app.count(&format!(
        "(SELECT 1 AS one FROM stock_lots l JOIN products p ON p.id = l.product_id WHERE p.id = {product} \
          GROUP BY p.id, p.stock HAVING p.stock = SUM(l.remaining)) AS x"
    ));
    assert_eq!(
        lots_remaining, 1,
        "stock of {product} equals its lots' remainder"
    );
}

both_databases! {
    /// A team member's double tap, a retry after a dropped answer, or the same form sent
    /// from two tabs records one lot: the stock grows once, the household is credited once
    /// (统购 goods), one audit entry; each answer is the lot's page. The key is bound to
    /// whoever sent it: another member's form with the same key records its own lot.
    fn a_lot_form_sent_again_records_one_lot(app) {
        let team = app.signed_in("team@example.com");
        let kernels = product_id(app, "xingren");
        let before = stock_of(app, kernels);
        let (token, key) = crate::orders::checkout_fields(&team.text("/team/stock").1);
        let supplier = household(app, "XD-001");
        let fields = [
            ("csrf_token", token.as_str()), ("idempotency_key", key.as_str()),
            ("product_id", &kernels.to_string()), ("household_id", &supplier), ("quantity", "7"),
            ("received_on", "2026-11-20"), ("purchase_price", "20.5"),
        ];
        let pages: Vec<String> = std::thread::scope(|s| {
            let sends: Vec<_> = (0..6).map(|_| s.spawn(|| {
                let res = team.post_form("/team/stock", &fields);
                assert_eq!(res.status(), StatusCode::SEE_OTHER);
                location(&res)
            })).collect();
            sends.into_iter().map(|t| t.join().expect("a submission")).collect()
        });
        let again = team.post_form("/team/stock", &fields);
        assert_eq!(location(&again), pages[0]);
        assert!(pages.iter().all(|p| *p == pages[0]), "every answer is the one lot: {pages:?}");
        assert_eq!(app.count(&format!("stock_lots WHERE product_id = {kernels} AND quantity = 7")), 1);
        assert_eq!(stock_of(app, kernels), before + 7);
        assert_stock_matches_lots(app, kernels);
        // Another lot under the used key is a page kept from before: refused as stale.
        let mut changed = fields;
        changed[4].1 = "8";
        let res = team.post_form("/team/stock", &changed);
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert!(res.text().expect("page").contains("页面已过期，请刷新后再提交"));
        assert_eq!(app.count(&format!("stock_lots WHERE product_id = {kernels} AND quantity IN (7, 8)")), 1);
        let lot = pages[0].rsplit('/').next().expect("the lot's id");
        assert_eq!(app.count(&format!("audit_log WHERE entity = 'stock_lot' AND action = 'receive' AND entity_id = {lot}")), 1);
        assert_eq!(app.count(&format!("ledger_entries WHERE lot_id = {lot}")), 1, "the household credited once");

        // The same key from another member of the team is that member's own submission.
        let other = crate::households::team_member(app, "xiedian@example.com", "谢店村工作队", "xiedian");
        let token = crate::support::csrf_token(&other.text("/team/stock").1).expect("csrf");
        let mut theirs = fields;
        theirs[0].1 = &token;
        let res = other.post_form("/team/stock", &theirs);
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        assert_ne!(location(&res), pages[0]);
        assert_eq!(app.count(&format!("stock_lots WHERE product_id = {kernels} AND quantity = 7")), 2);

        // A key no form gives is refused, naming the field, and nothing is written.
        let mut forged = fields;
        forged[1].1 = "not-a-key";
        let res = team.post_form("/team/stock", &forged);
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert!(res.text().expect("page").contains("页面已过期，请刷新后再提交"));
        assert_eq!(app.count("stock_lots WHERE quantity = 7"), 2);
    }

    fn a_lot_from_a_household_adds_to_stock_and_is_listed(app) {
        let team = app.signed_in("team@example.com");
        let flour = product_id(app, "huangmi-gaomian");
        let before = stock_of(app, flour);
        let supplier = household(app, "YZY-002");
        let res = team.submit("/team/stock", "/team/stock", &[
            ("product_id", &flour.to_string()), ("household_id", &supplier), ("quantity", "25"),
            ("received_on", "2026-11-20"), ("purchase_price", ""),
        ]);
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        assert!(location(&res).starts_with("/team/stock/lots/"));
        assert_eq!(stock_of(app, flour), before + 25);
        assert_stock_matches_lots(app, flour);
        assert_eq!(app.count("audit_log WHERE entity = 'stock_lot' AND action = 'receive' AND actor_label = 'team@example.com'"), 1);

        let per_household = team.text(&format!("/team/stock?household={supplier}")).1;
        assert!(per_household.contains("2026-11-20") && per_household.contains("YZY-002 赵金花"));
        let per_product = team.text(&format!("/team/products/{flour}")).1;
        assert!(per_product.contains("2026-11-20") && per_product.contains(&format!("库存 {}", before + 25)));

        // 统购 goods need the price paid; consignment goods refuse one.
        let liquor = product_id(app, "xiaomi");
        let res = team.submit("/team/stock", "/team/stock", &[
            ("product_id", &liquor.to_string()), ("household_id", &household(app, "XD-001")), ("quantity", "5"),
            ("received_on", "2026-11-20"), ("purchase_price", "12.00"),
        ]);
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert!(res.text().expect("page").contains("代卖商品不填收购价"));
        let kernels = product_id(app, "xingren");
        let res = team.submit("/team/stock", "/team/stock", &[
            ("product_id", &kernels.to_string()), ("household_id", &household(app, "XD-001")), ("quantity", "5"),
            ("received_on", "2026-11-20"), ("purchase_price", "20.5"),
        ]);
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        assert_eq!(app.count("stock_lots WHERE purchase_price_fen = 2050"), 1);
    }

    fn bad_lots_are_refused_whole(app) {
        let team = app.signed_in("team@example.com");
        let flour = product_id(app, "huangmi-gaomian").to_string();
        let yzy = household(app, "YZY-001");
        let before = (app.count("stock_lots"), stock_of(app, flour.parse().expect("id")), app.count("audit_log"));
        for (quantity, date, price, message) in [
            ("-3", "2026-11-20", "", "请填 1 到 1000000 之间的整数"),
            ("2.5", "2026-11-20", "", "请填整数"),
            ("0", "2026-11-20", "", "请填 1 到 1000000 之间的整数"),
            ("99999999999", "2026-11-20", "", "请填 1 到 1000000 之间的整数"),
            ("3", "2126-01-01", "", "日期不能晚于今天"),
            ("3", "20.11.2026", "", "请按 年-月-日 填写"),
        ] {
            let res = team.submit("/team/stock", "/team/stock", &[
                ("product_id", &flour), ("household_id", &yzy), ("quantity", quantity), ("received_on", date), ("purchase_price", price),
            ]);
            assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "{quantity} {date}");
            let html = res.text().expect("page");
            assert!(html.contains(message), "{message}");
            assert!(html.contains(&format!("value=\"{quantity}\"")), "the typed quantity is kept");
        }
        // A household of another village, even one of the member's own villages.
        let res = team.submit("/team/stock", "/team/stock", &[
            ("product_id", &flour), ("household_id", &household(app, "XD-001")), ("quantity", "3"), ("received_on", "2026-11-20"),
        ]);
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert!(res.text().expect("page").contains("这户不是这个商品所在村的"));
        // A household of a village that is not the member's at all.
        let res = team.submit("/team/stock", "/team/stock", &[
            ("product_id", &flour), ("household_id", &household(app, "TE-001")), ("quantity", "3"), ("received_on", "2026-11-20"),
        ]);
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!((app.count("stock_lots"), stock_of(app, flour.parse().expect("id")), app.count("audit_log")), before);
    }

    fn a_write_off_takes_from_the_lot_and_the_stock(app) {
        let team = app.signed_in("team@example.com");
        let flour = product_id(app, "huangmi-gaomian");
        let before = stock_of(app, flour);
        let lot = {
            let page = team.text(&format!("/team/products/{flour}")).1;
            let at = page.find("/team/stock/lots/").expect("a lot link") + "/team/stock/lots/".len();
            page[at..].split('"').next().expect("id").to_string()
        };
        let lot_page = format!("/team/stock/lots/{lot}");
        let res = team.submit(&lot_page, &format!("{lot_page}/write-off"), &[("quantity", "4"), ("reason", "受潮结块")]);
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        assert_eq!(stock_of(app, flour), before - 4);
        assert_stock_matches_lots(app, flour);
        let html = team.text(&lot_page).1;
        assert!(html.contains("受潮结块"));
        assert_eq!(app.count("stock_write_offs WHERE quantity = 4"), 1);
        assert_eq!(app.count("audit_log WHERE action = 'write_off'"), 1);

        // More than remains, no reason, or a fraction: refused, nothing changes.
        for (quantity, reason, message) in [("100000", "x", "请填 1 到"), ("1", "", "必填"), ("1.5", "x", "请填整数")] {
            let res = team.submit(&lot_page, &format!("{lot_page}/write-off"), &[("quantity", quantity), ("reason", reason)]);
            assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
            assert!(res.text().expect("page").contains(message), "{quantity}");
        }
        assert_eq!(stock_of(app, flour), before - 4);
    }

    fn another_villages_lots_and_products_do_not_exist_for_a_team(app) {
        let taer = taer_member(app);
        let flour = product_id(app, "huangmi-gaomian");
        assert_eq!(taer.get(&format!("/team/products/{flour}")).status(), StatusCode::NOT_FOUND);
        let lots_page = app.signed_in("team@example.com").text(&format!("/team/products/{flour}")).1;
        let at = lots_page.find("/team/stock/lots/").expect("lot") + "/team/stock/lots/".len();
        let lot = lots_page[at..].split('"').next().expect("id").to_string();
        assert_eq!(taer.get(&format!("/team/stock/lots/{lot}")).status(), StatusCode::NOT_FOUND);
        let res = taer.submit("/team/stock", &format!("/team/stock/lots/{lot}/write-off"), &[("quantity", "1"), ("reason", "x")]);
        assert_eq!(res.status(), StatusCode::NOT_FOUND);
        // Recording a lot of another village's product is refused by field.
        let res = taer.submit("/team/stock", "/team/stock", &[
            ("product_id", &flour.to_string()), ("household_id", &household(app, "TE-001")), ("quantity", "1"), ("received_on", "2026-11-20"),
        ]);
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let list = taer.text("/team/stock").1;
        assert!(!list.contains("黄米糕面") && list.contains("散养鸡蛋"));
    }
}

both_databases! {
    fn the_change_log_shows_a_team_its_own_villages_only(app) {
        let taer = taer_member(app);
        let html = taer.text("/team/audit").1;
        assert!(html.contains("张建国") && html.contains("散养鸡蛋"), "塔儿村's households and products");
        assert!(!html.contains("谢永富") && !html.contains("黄米糕面"), "nothing of other villages");
        let html = app.signed_in("admin@example.com").text("/admin/audit").1;
        assert!(html.contains("张建国") && html.contains("谢永富"));
        let cadre = app.signed_in("cadre@example.com");
        assert_eq!(cadre.get("/team/audit").status(), StatusCode::FORBIDDEN);
        assert_eq!(cadre.get("/admin/audit").status(), StatusCode::FORBIDDEN);
    }
}
