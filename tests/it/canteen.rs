//! Canteen organisations, first slice of issue 10: the admin completes an organisation
//! (invoice details, payment terms with a credit limit, an approval threshold, delivery
//! sites retired never deleted, members' roles); every member sees it at `/canteen` and
//! no other organisation's member does; a work team sets its villages' lead time and
//! delivery weekdays, which the storefront and `/canteen` show.

use reqwest::StatusCode;

use crate::households::{taer_member, village_id};
use crate::support::{Browser, PASSWORD, TestApp, both_databases};
use village_market::domain::accounts::{NewAccount, create_account};
use village_market::domain::actor::{Role, Who};
use village_market::domain::now_utc;
use village_market::i18n::Lang;

pub const DEMO_ORG: &str = "大同市直机关第一食堂";

pub fn org_id(app: &TestApp, name: &str) -> i64 {
    app.scalar(&format!(
        "SELECT id AS n FROM organizations WHERE name = '{name}'"
    ))
}

fn user_id(app: &TestApp, email: &str) -> i64 {
    app.scalar(&format!(
        "SELECT id AS n FROM users WHERE email = '{email}'"
    ))
}

/// Whether the page shows a field error right after the input named `field`.
pub fn names_field(html: &str, field: &str) -> bool {
    let Some(at) = html.find(&format!("name=\"{field}\"")) else {
        return false;
    };
    let rest = &html[at..];
    let end = rest[1..].find("<label").map_or(rest.len(), |e| e + 1);
    rest[..end].contains("field-error")
}

fn organisation_fields<'a>(
    name: &'a str,
    terms: &'a str,
    days: &'a str,
    credit: &'a str,
) -> Vec<(&'a str, &'a str)> {
    vec![
        ("name", name),
        ("invoice_title", "大同市机关事务服务中心"),
        ("tax_id", "12140200DEMO00001X"),
        ("address", "大同市平城区"),
        ("contact_name", "李采购"),
        ("contact_phone", "13803520000"),
        ("invoice_bank", "中国建设银行大同分行"),
        ("invoice_account", "6222 0000 1111 2222"),
        ("invoice_address_phone", "大同市平城区 0352-2000000"),
        ("payment_terms", terms),
        ("payment_terms_days", days),
        ("credit_limit", credit),
        ("approval_threshold", "3,000"),
        ("annual_target", "600000"),
    ]
}

/// A second organisation with a buyer of its own, signed in.
pub fn second_organisation(app: &TestApp) -> Browser {
    let admin = app.signed_in("admin@example.com");
    let fields = organisation_fields("大同市第三中学食堂", "prepay", "", "");
    let res = admin.submit("/admin/organizations/new", "/admin/organizations", &fields);
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let new = NewAccount {
        email: "school@example.com".into(),
        display_name: "周采购".into(),
        role: Role::Canteen,
        password: PASSWORD.into(),
        lang: Lang::ZhCn,
        village_slugs: Vec::new(),
        county_slug: None,
        organization: Some("大同市第三中学食堂".into()),
    };
    create_account(&mut app.conn(), &new, &Who::tool("test"), now_utc()).expect("account");
    app.signed_in("school@example.com")
}

both_databases! {
    fn the_admin_sets_invoice_details_terms_and_threshold(app) {
        let admin = app.signed_in("admin@example.com");
        let org = org_id(app, DEMO_ORG);
        let page = format!("/admin/organizations/{org}");
        let audits = app.count("audit_log WHERE entity = 'organization'");
        let fields = organisation_fields(DEMO_ORG, "on_account", "45", "¥80,000");
        let res = admin.submit(&page, &page, &fields);
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        let saved = "organizations WHERE invoice_bank = '中国建设银行大同分行' AND invoice_account = '6222 0000 1111 2222' \
                     AND invoice_address_phone = '大同市平城区 0352-2000000' AND payment_terms = 'on_account' \
                     AND payment_terms_days = 45 AND credit_limit_fen = 8000000 AND approval_threshold_fen = 300000";
        assert_eq!(app.count(saved), 1);
        assert_eq!(app.count("audit_log WHERE entity = 'organization'"), audits + 1);

        // Each bad value is refused, named by its field, and nothing is written.
        for (field, value) in [("credit_limit", "-5"), ("credit_limit", ""), ("payment_terms", "weekly"),
                               ("payment_terms_days", "0"), ("approval_threshold", "-1"), ("invoice_account", "ICBC-abc")] {
            let mut bad = fields.clone();
            bad.retain(|(k, _)| *k != field);
            bad.push((field, value));
            let res = admin.submit(&page, &page, &bad);
            assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "{field} = {value:?}");
            assert!(names_field(&res.text().unwrap(), field), "{field} is named");
            assert_eq!(app.count(saved), 1, "{field} = {value:?} wrote nothing");
        }
        assert_eq!(app.count("audit_log WHERE entity = 'organization'"), audits + 1);

        // Prepaying has no days and no credit.
        let prepay = organisation_fields(DEMO_ORG, "prepay", "", "");
        assert_eq!(admin.submit(&page, &page, &prepay).status(), StatusCode::SEE_OTHER);
        assert_eq!(app.count(&format!("organizations WHERE id = {org} AND payment_terms = 'prepay' AND credit_limit_fen = 0 AND payment_terms_days = 0")), 1);
        let (_, html) = app.signed_in("canteen@example.com").text("/canteen");
        assert!(html.contains("预付"), "{html}");
    }

    fn the_admin_adds_edits_and_retires_delivery_sites(app) {
        let admin = app.signed_in("admin@example.com");
        let org = org_id(app, DEMO_ORG);
        let sites = format!("delivery_sites WHERE organization_id = {org}");
        assert_eq!(app.count(&sites), 2, "the demo's two sites");
        let new_page = format!("/admin/organizations/{org}/sites/new");
        let create = format!("/admin/organizations/{org}/sites");
        let good = [("name", "西院食堂"), ("address", "大同市平城区西院"), ("receiver", "吴师傅"),
                    ("phone", "0352-7654321"), ("delivery_window", "07:00-08:30")];
        let res = admin.submit(&new_page, &create, &good);
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        assert_eq!(app.count(&format!("{sites} AND name = '西院食堂' AND delivery_window = '07:00–08:30'")), 1);

        let bad = [("name", " "), ("address", "大同市平城区西院"), ("receiver", "吴师傅"),
                   ("phone", "12345"), ("delivery_window", "09:00-08:00")];
        let res = admin.submit(&new_page, &create, &bad);
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let html = res.text().unwrap();
        for field in ["name", "phone", "delivery_window"] {
            assert!(names_field(&html, field), "{field} is named");
        }
        assert!(!names_field(&html, "receiver"));
        assert_eq!(app.count(&sites), 3, "nothing written");

        let site = app.scalar(&format!("SELECT id AS n FROM {sites} AND name = '西院食堂'"));
        let edit = format!("/admin/organizations/{org}/sites/{site}");
        let mut changed = good.to_vec();
        changed[2] = ("receiver", "郑师傅");
        assert_eq!(admin.submit(&edit, &edit, &changed).status(), StatusCode::SEE_OTHER);
        assert_eq!(app.count(&format!("delivery_sites WHERE id = {site} AND receiver = '郑师傅'")), 1);
        changed[3] = ("phone", "");
        assert_eq!(admin.submit(&edit, &edit, &changed).status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(app.count(&format!("delivery_sites WHERE id = {site} AND phone = '0352-7654321'")), 1);

        let canteen = app.signed_in("canteen@example.com");
        assert!(canteen.text("/canteen").1.contains("西院食堂"));
        let retire = format!("{edit}/retire");
        assert_eq!(admin.submit(&edit, &retire, &[]).status(), StatusCode::SEE_OTHER);
        assert_eq!(app.count(&format!("delivery_sites WHERE id = {site} AND retired = TRUE")), 1, "kept, retired");
        assert!(!canteen.text("/canteen").1.contains("西院食堂"), "a retired site is offered no more");
        assert_eq!(app.count("audit_log WHERE entity = 'delivery_site'"), 2 + 3, "the demo's two, add, edit, retire");

        // Another organisation's site is not found under this one.
        second_organisation(app);
        let other = org_id(app, "大同市第三中学食堂");
        assert_eq!(admin.get(&format!("/admin/organizations/{other}/sites/{site}")).status(), StatusCode::NOT_FOUND);
        let res = admin.submit(&edit, &format!("/admin/organizations/{other}/sites/{site}"), &good);
        assert_eq!(res.status(), StatusCode::NOT_FOUND);
    }

    fn the_admin_sets_members_roles(app) {
        let admin = app.signed_in("admin@example.com");
        let org = org_id(app, DEMO_ORG);
        let page = format!("/admin/organizations/{org}");
        let buyer = user_id(app, "canteen@example.com");
        let role_of = |id: i64, role: &str| app.count(&format!("organization_members WHERE user_id = {id} AND member_role = '{role}'"));
        assert_eq!(role_of(buyer, "buyer"), 1);
        assert_eq!(role_of(user_id(app, "approver@example.com"), "approver"), 1);

        let set = format!("/admin/organizations/{org}/members/{buyer}");
        assert_eq!(admin.submit(&page, &set, &[("member_role", "approver")]).status(), StatusCode::SEE_OTHER);
        assert_eq!(role_of(buyer, "approver"), 1, "an organisation can have two approvers");
        let res = admin.submit(&page, &set, &[("member_role", "boss")]);
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert!(res.text().unwrap().contains("field-error"));
        assert_eq!(role_of(buyer, "approver"), 1, "unchanged");
        assert_eq!(app.count("audit_log WHERE entity = 'organization_member'"), 1 + 1, "the demo's approver and this");

        // Editing the account in the same organisation keeps the role.
        let user_page = format!("/admin/users/{buyer}");
        let res = admin.submit(&user_page, &user_page, &[("display_name", "李采购"), ("organization", DEMO_ORG)]);
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        assert_eq!(role_of(buyer, "approver"), 1);

        // Someone who is not the organisation's member is not found.
        let team = user_id(app, "team@example.com");
        let res = admin.submit(&page, &format!("/admin/organizations/{org}/members/{team}"), &[("member_role", "buyer")]);
        assert_eq!(res.status(), StatusCode::NOT_FOUND);
        let school = second_organisation(app);
        drop(school);
        let other = org_id(app, "大同市第三中学食堂");
        let res = admin.submit(&page, &format!("/admin/organizations/{other}/members/{buyer}"), &[("member_role", "buyer")]);
        assert_eq!(res.status(), StatusCode::NOT_FOUND, "a member of another organisation");
        assert_eq!(role_of(buyer, "approver"), 1);
    }

    fn members_see_their_organisation_and_no_other(app) {
        for email in ["canteen@example.com", "approver@example.com"] {
            let (status, html) = app.signed_in(email).text("/canteen");
            assert_eq!(status, StatusCode::OK);
            for text in [DEMO_ORG, "市直机关第一食堂（主楼）", "市直机关第一食堂（东院分餐点）", "06:30–08:00",
                         "中国工商银行大同分行营业部", "0502 0000 0000 0000 001", "月结，30 天内付款", "¥50,000.00",
                         "超过 ¥5,000.00 的订单需审批人批准", "孙主任（审批）", "审批人", "采购员", "谢店村"] {
                assert!(html.contains(text), "{email} sees {text}");
            }
        }
        let school = second_organisation(app);
        let (status, html) = school.text("/canteen");
        assert_eq!(status, StatusCode::OK);
        assert!(html.contains("大同市第三中学食堂") && html.contains("预付") && html.contains("周采购"));
        for text in [DEMO_ORG, "市直机关第一食堂（主楼）", "孙主任（审批）", "¥50,000.00"] {
            assert!(!html.contains(text), "another organisation's member does not see {text}");
        }
    }

    fn a_team_sets_lead_time_and_delivery_weekdays_for_its_own_villages(app) {
        let team = app.signed_in("team@example.com");
        let xiedian = village_id(app, "xiedian");
        let page = format!("/team/villages/{xiedian}/delivery");
        assert_eq!(team.get(&page).status(), StatusCode::OK);
        let res = team.submit(&page, &page, &[("lead_time_days", "2"), ("weekday", "2"), ("weekday", "5")]);
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        let saved = format!("villages WHERE id = {xiedian} AND lead_time_days = 2 AND delivery_weekdays = '0100100'");
        assert_eq!(app.count(&saved), 1);
        assert_eq!(app.count(&format!("audit_log WHERE entity = 'village' AND action = 'set_delivery' AND village_id = {xiedian}")), 1);

        for (bad, field) in [
            (vec![("lead_time_days", "31"), ("weekday", "1")], "lead_time_days"),
            (vec![("lead_time_days", "-1"), ("weekday", "1")], "lead_time_days"),
            (vec![("lead_time_days", "two"), ("weekday", "1")], "lead_time_days"),
            (vec![("lead_time_days", "1"), ("weekday", "8")], "weekday"),
            (vec![("lead_time_days", "1")], "weekday"),
        ] {
            let res = team.submit(&page, &page, &bad);
            assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "{bad:?}");
            let html = res.text().unwrap();
            let named = if field == "weekday" { html.contains("</fieldset>") && html[..html.find("</fieldset>").unwrap()].contains("field-error") } else { names_field(&html, field) };
            assert!(named, "{bad:?} names {field}");
            assert_eq!(app.count(&saved), 1, "{bad:?} wrote nothing");
        }

        // Another village's team: not found, and nothing changes.
        let taer = taer_member(app);
        assert_eq!(taer.get(&page).status(), StatusCode::NOT_FOUND);
        let taer_page = format!("/team/villages/{}/delivery", village_id(app, "taer"));
        let res = taer.submit(&taer_page, &page, &[("lead_time_days", "9"), ("weekday", "7")]);
        assert_eq!(res.status(), StatusCode::NOT_FOUND);
        assert_eq!(team.get(&taer_page).status(), StatusCode::NOT_FOUND);
        assert_eq!(app.count(&saved), 1);

        // The storefront and the canteen read it.
        let (_, html) = app.browser().text("/villages/xiedian");
        assert!(html.contains("提前 2 天下单 · 送货日：周二、周五"), "{html}");
        let (_, html) = app.browser().text("/villages/xiedian?lang=en");
        assert!(html.contains("Order 2 days ahead · delivers Tue, Fri"));
        let (_, html) = app.signed_in("canteen@example.com").text("/canteen");
        assert!(html.contains("提前 2 天下单 · 送货日：周二、周五"));
    }
}
