//! The demo loader: the villages and accounts it promises, and idempotence.

use village_market::domain::{demo, now_utc};

use crate::support::{PASSWORD, both_databases};

both_databases! {
    fn loading_twice_changes_nothing(app) {
        let tables = ["counties", "villages", "households", "products", "price_tiers", "stock_lots", "users", "audit_log"];
        let before: Vec<i64> = tables.iter().map(|t| app.count(t)).collect();
        assert_eq!(before[0..2], [9, 9], "nine counties and nine villages");
        assert!(before[3] >= 25, "25+ products, got {}", before[3]);
        let report = demo::load(&mut app.conn(), PASSWORD, now_utc()).expect("second load");
        assert!(report.is_empty(), "second load created {report:?}");
        let after: Vec<i64> = tables.iter().map(|t| app.count(t)).collect();
        assert_eq!(before, after);
    }

    fn stock_is_received_from_households_in_lots(app) {
        // Every unit on sale arrived as a lot from a household of the product's village.
        let mismatched = app.count(
            "(SELECT p.id FROM products p LEFT JOIN stock_lots l ON l.product_id = p.id \
              GROUP BY p.id, p.stock HAVING p.stock <> COALESCE(SUM(l.remaining), 0)) AS x",
        );
        assert_eq!(mismatched, 0, "products whose stock differs from their lots");
        let foreign = app.count(
            "stock_lots l JOIN products p ON p.id = l.product_id JOIN households h ON h.id = l.household_id \
             WHERE h.village_id <> p.village_id",
        );
        assert_eq!(foreign, 0, "lots from another village's household");
        let households_per_village = app.count(
            "(SELECT village_id FROM households GROUP BY village_id HAVING COUNT(*) BETWEEN 3 AND 6) AS x",
        );
        assert_eq!(households_per_village, 9);
        assert!(app.count("audit_log WHERE entity = 'stock_lot'") >= app.count("stock_lots"));
    }

    fn every_role_has_a_demo_account(app) {
        for (email, home) in [
            ("admin@example.com", "/admin"),
            ("team@example.com", "/team"),
            ("canteen@example.com", "/canteen"),
            ("cadre@example.com", "/reports"),
        ] {
            let browser = app.browser();
            let res = browser.sign_in(email, PASSWORD);
            assert_eq!(crate::support::location(&res), home, "{email}");
        }
    }
}
