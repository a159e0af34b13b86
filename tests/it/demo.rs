//! The demo loader: the villages and accounts it promises, and idempotence.

use village_market::domain::money::format_fen;
use village_market::domain::{china_date, demo, demo_canteen, demo_history, ledger, now_utc};

use crate::support::{PASSWORD, both_databases};
use reqwest::StatusCode;

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

    fn three_months_of_demo_orders_add_up_in_the_reports_to_the_fen(app) {
        let now = now_utc();
        let report = demo_history::load(&mut app.conn(), 1000, now).expect("history");
        assert!(report.orders >= 50 && report.refunds >= 5 && report.payouts >= 5, "{report:?}");
        assert!(app.count("orders WHERE channel = 'canteen'") * 5 >= app.count("orders"), "canteen orders are a share");
        assert!(app.count("orders WHERE status = 'pending_payment'") == 0, "every demo order was paid");
        let months = app.scalar("SELECT COUNT(DISTINCT business_month) AS n FROM ledger_entries WHERE order_id IS NOT NULL");
        assert!(months >= 3, "spread over three months or more: {months}");
        assert!(ledger::verify(&mut app.conn()).expect("verify").is_empty());
        let again = demo_history::load(&mut app.conn(), 1000, now).expect("second load");
        assert_eq!(again.orders, 0, "a second load places nothing");

        // What the cadre reads is what the ledger holds, to the fen.
        let today = china_date(now);
        let from = (today - chrono::Duration::days(120)).format("%Y-%m").to_string();
        let to = today.format("%Y-%m").to_string();
        let income = app.scalar("SELECT CAST(SUM(amount_fen) AS BIGINT) AS n FROM ledger_entries WHERE household_id IS NOT NULL AND kind <> 'payout'");
        let residents = app.scalar("SELECT CAST(SUM(resident_members) AS BIGINT) AS n FROM households WHERE NOT archived");
        let cadre = app.signed_in("cadre@example.com");
        let home = cadre.text(&format!("/reports?from={from}&to={to}")).1;
        assert!(home.contains(&format_fen(income)), "household income {} on {home}", format_fen(income));
        assert!(home.contains(&format_fen(income / residents)), "per-capita income added {}", format_fen(income / residents));
        let (household, earned) = {
            let h = app.scalar("SELECT household_id AS n FROM ledger_entries WHERE kind = 'household_share' ORDER BY id LIMIT 1");
            (h, app.scalar(&format!("SELECT CAST(SUM(amount_fen) AS BIGINT) AS n FROM ledger_entries WHERE household_id = {h} AND kind <> 'payout'")))
        };
        let village = app.scalar(&format!("SELECT village_id AS n FROM households WHERE id = {household}"));
        let page = cadre.text(&format!("/reports/villages/{village}?from={from}&to={to}")).1;
        assert!(page.contains(&format_fen(earned)), "the household's income {}", format_fen(earned));
        let xlsx = cadre.get(&format!("/reports/villages/{village}?from={from}&to={to}&format=xlsx"));
        assert!(xlsx.bytes().expect("xlsx").starts_with(b"PK"));
        let statement = cadre.text(&format!("/reports/households/{household}/statement?from={}&to={today}", today - chrono::Duration::days(130))).1;
        assert!(statement.contains("共富账单") && statement.contains(&format_fen(earned)), "{statement}");
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
            ("approver@example.com", "/canteen"),
            ("cadre@example.com", "/reports"),
        ] {
            let browser = app.browser();
            let res = browser.sign_in(email, PASSWORD);
            assert_eq!(crate::support::location(&res), home, "{email}");
        }
    }

    fn yangzhouyao_sold_out_a_livestream_and_has_the_next_one_scheduled(app) {
        let now = now_utc();
        demo_history::load(&mut app.conn(), 1000, now).expect("history");
        let report = village_market::domain::demo_live::load(&mut app.conn(), 1000, now).expect("livestreams");
        assert_eq!((report.sessions, report.orders), (2, 10), "{report:?}");
        assert_eq!(app.count("live_sessions WHERE status = 'ended'"), 1);
        assert_eq!(app.count("live_sessions WHERE status = 'scheduled' AND starts_at > CURRENT_TIMESTAMP"), 1);
        assert_eq!(app.count("live_items i JOIN live_sessions s ON s.id = i.session_id WHERE s.status = 'ended' AND i.sold = i.quota"), 1, "sold out");
        assert_eq!(app.count("orders WHERE channel = 'livestream' AND paid_at IS NOT NULL"), 10);
        assert_eq!(app.count("refunds r JOIN orders o ON o.id = r.order_id WHERE o.channel = 'livestream'"), 1);
        let earned = app.scalar("SELECT CAST(SUM(amount_fen) AS BIGINT) AS n FROM ledger_entries WHERE kind IN ('host_commission', 'refund_host_commission')");
        assert!(earned > 0);
        assert!(app.count("ledger_entries WHERE kind = 'refund_host_commission'") >= 1);
        crate::canteen_orders::verify_is_clean(app);
        // The team reads it all on the session's report; a second load changes nothing.
        let team = app.signed_in("team@example.com");
        let session = app.scalar("SELECT id AS n FROM live_sessions WHERE status = 'ended'");
        let (status, html) = team.text(&format!("/team/live/{session}/report"));
        assert_eq!(status, StatusCode::OK);
        assert!(html.contains(&format!("¥{}.{:02}", earned / 100, earned % 100)), "{html}");
        let again = village_market::domain::demo_live::load(&mut app.conn(), 1000, now).expect("again");
        assert_eq!(again.sessions, 0);
    }

    fn the_demo_canteen_has_two_months_on_account_a_paid_statement_and_a_standing_order(app) {
        let now = now_utc();
        demo_history::load(&mut app.conn(), 1000, now).expect("history");
        let report = demo_canteen::load(&mut app.conn(), 1000, now).expect("canteen");
        assert!(report.orders >= 4, "{report:?}");
        assert_eq!((report.statements, report.standing_orders), (2, 1), "{report:?}");
        assert_eq!(app.count("statements WHERE paid_at IS NOT NULL AND paid_fen = total_fen"), 1, "the older one paid");
        assert_eq!(app.count("statements WHERE paid_at IS NULL AND paid_fen = 0"), 1, "last month's issued");
        assert!(app.count("acceptance_lines WHERE rejected = 1 AND reason = 'damaged'") >= 1);
        // The paid statement's orders are posted to the households; the other's wait.
        let posted = app.count(
            "statement_orders so JOIN statements s ON s.id = so.statement_id \
             JOIN orders o ON o.id = so.order_id WHERE s.paid_at IS NOT NULL AND o.paid_at IS NOT NULL",
        );
        assert_eq!(posted, app.count("statement_orders so JOIN statements s ON s.id = so.statement_id WHERE s.paid_at IS NOT NULL"));
        assert!(ledger::verify(&mut app.conn()).expect("verify").is_empty());
        let again = demo_canteen::load(&mut app.conn(), 1000, now).expect("second load");
        assert_eq!(again, demo_canteen::CanteenReport::default(), "a second load places nothing");
        // The buyer sees them, and this year's purchases against the target.
        let buyer = app.signed_in("canteen@example.com");
        let (status, list) = buyer.text("/canteen/statements");
        assert_eq!(status, StatusCode::OK);
        assert!(list.contains("已结清") && list.contains("已出单"), "{list}");
        assert!(buyer.text("/canteen/standing-orders").1.contains("每周周一"));
        // (In January and February the two months were last year's.)
        if chrono::Datelike::month(&china_date(now)) > 2 {
            assert!(!buyer.text("/canteen").1.contains("今年还没有验收的采购"));
        }
    }
}
