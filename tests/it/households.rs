//! The work team's household register: forms, bad input, scoping, import and export.

use reqwest::StatusCode;
use reqwest::blocking::multipart;
use village_market::domain::accounts::{NewAccount, create_account};
use village_market::domain::actor::Role;
use village_market::domain::actor::Who;
use village_market::domain::now_utc;
use village_market::i18n::Lang;

use crate::support::{Browser, PASSWORD, TestApp, both_databases, location};

/// A second team member, bound to 塔儿村 only.
pub fn taer_member(app: &TestApp) -> Browser {
    team_member(app, "taer@example.com", "塔儿村工作队", "taer")
}

/// A new team member bound to one village, signed in.
pub fn team_member(app: &TestApp, email: &str, name: &str, village: &str) -> Browser {
    let new = NewAccount {
        email: email.into(),
        display_name: name.into(),
        role: Role::Team,
        password: PASSWORD.into(),
        lang: Lang::ZhCn,
        village_slugs: vec![village.into()],
        county_slug: None,
        organization: None,
    };
    create_account(&mut app.conn(), &new, &Who::tool("test"), now_utc()).expect("account");
    app.signed_in(email)
}

pub fn village_id(app: &TestApp, slug: &str) -> i64 {
    app.scalar(&format!(
        "SELECT id AS n FROM villages WHERE slug = '{slug}'"
    ))
}

pub fn household_id(app: &TestApp, code: &str) -> i64 {
    app.scalar(&format!(
        "SELECT id AS n FROM households WHERE code = '{code}'"
    ))
}

pub fn upload(
    browser: &Browser,
    village: i64,
    filename: &str,
    bytes: Vec<u8>,
) -> (StatusCode, String) {
    let page = browser.text("/team/households/import").1;
    let token = crate::support::csrf_token(&page).expect("token");
    let form = multipart::Form::new()
        .text("csrf_token", token)
        .text("village_id", village.to_string())
        .part(
            "file",
            multipart::Part::bytes(bytes).file_name(filename.to_string()),
        );
    let res = browser
        .client
        .post(format!("{}/team/households/import", browser.base))
        .multipart(form)
        .send()
        .expect("upload");
    let status = res.status();
    (status, res.text().expect("page"))
}

pub fn xlsx(rows: &[&[&str]]) -> Vec<u8> {
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    for (r, row) in rows.iter().enumerate() {
        for (c, cell) in row.iter().enumerate() {
            match cell.parse::<f64>() {
                // Numbers as numbers, the way Excel keeps typed digits.
                Ok(n) => sheet.write_number(r as u32, c as u16, n).map(|_| ()),
                Err(_) => sheet.write_string(r as u32, c as u16, *cell).map(|_| ()),
            }
            .expect("cell");
        }
    }
    book.save_to_buffer().expect("xlsx")
}

both_databases! {
    fn a_household_is_registered_edited_and_archived(app) {
        let team = app.signed_in("team@example.com");
        let xiedian = village_id(app, "xiedian").to_string();
        let audit_before = app.count("audit_log WHERE entity = 'household'");
        let res = team.submit("/team/households/new", "/team/households", &[
            ("village_id", &xiedian), ("code", "XD-101"), ("head_name", "谢新民"), ("resident_members", "3"),
            ("category", "jiance"), ("phone", "138 0352 9999"), ("payout_method", "wechat"), ("payout_account", ""),
        ]);
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        let id = household_id(app, "XD-101");
        assert!(location(&res).starts_with(&format!("/team/households/{id}")));
        let list = team.text("/team/households?q=XD-101").1;
        assert!(list.contains("谢新民") && list.contains("监测户") && list.contains("13803529999"));

        let res = team.submit(&format!("/team/households/{id}"), &format!("/team/households/{id}"), &[
            ("code", "XD-101"), ("head_name", "谢新民"), ("resident_members", "4"),
            ("category", "jiance"), ("phone", "13803529999"), ("payout_method", "bank"), ("payout_account", "6222 0000 1111"),
        ]);
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        assert_eq!(app.count("audit_log WHERE entity = 'household'"), audit_before + 2);
        assert_eq!(app.count(&format!(
            "audit_log WHERE entity = 'household' AND action = 'update' AND entity_id = {id} \
             AND before_json LIKE '%\"resident_members\":3%' AND after_json LIKE '%\"resident_members\":4%'"
        )), 1, "before → after");

        let res = team.submit(&format!("/team/households/{id}"), &format!("/team/households/{id}/archive"), &[("archived", "1")]);
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        assert!(!team.text("/team/households?q=XD-101").1.contains("谢新民"), "archived leave the list");
        assert!(team.text("/team/households?q=XD-101&archived=1").1.contains("谢新民"));
        assert_eq!(app.count(&format!("households WHERE id = {id}")), 1, "never deleted");
        assert_eq!(app.count(&format!("audit_log WHERE entity_id = {id} AND action = 'archive'")), 1);
    }

    fn bad_input_is_shown_back_and_nothing_is_written(app) {
        let team = app.signed_in("team@example.com");
        let xiedian = village_id(app, "xiedian").to_string();
        let before = (app.count("households"), app.count("audit_log"));
        let res = team.submit("/team/households/new", "/team/households", &[
            ("village_id", &xiedian), ("code", "XD-001"), ("head_name", "<script>alert(1)</script>"),
            ("resident_members", "1.5"), ("category", "rich"), ("phone", "12345"), ("payout_method", "bank"),
        ]);
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let html = res.text().expect("page");
        assert!(html.contains("请填整数"), "non-integer members");
        assert!(html.contains("请填 11 位手机号"));
        assert!(html.contains("请从列表中选择"), "unknown category");
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;") && !html.contains("<script>alert"), "escaped");
        assert!(html.contains("value=\"XD-001\""), "values kept");
        for (members, message) in [("-2", "请填 1 到 50 之间的整数"), ("0", "请填 1 到 50 之间的整数"), ("", "必填")] {
            let res = team.submit("/team/households/new", "/team/households", &[
                ("village_id", &xiedian), ("code", "XD-900"), ("head_name", "某某"), ("resident_members", members),
                ("category", "yiban"), ("payout_method", "cash"),
            ]);
            assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
            assert!(res.text().expect("page").contains(message), "{members:?}");
        }
        // An existing code of this village.
        let res = team.submit("/team/households/new", "/team/households", &[
            ("village_id", &xiedian), ("code", "XD-001"), ("head_name", "某某"), ("resident_members", "2"),
            ("category", "yiban"), ("payout_method", "cash"),
        ]);
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert!(res.text().expect("page").contains("本村已有这个户编号"));
        assert_eq!((app.count("households"), app.count("audit_log")), before);

        // A name with markup is stored as typed and shown escaped everywhere.
        let res = team.submit("/team/households/new", "/team/households", &[
            ("village_id", &xiedian), ("code", "XD-777"), ("head_name", "<script>alert(1)</script>"), ("resident_members", "2"),
            ("category", "yiban"), ("payout_method", "cash"),
        ]);
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        let list = team.text("/team/households?q=XD-777").1;
        assert!(list.contains("&lt;script&gt;") && !list.contains("<script>alert"));
    }

    fn another_villages_households_do_not_exist_for_a_team(app) {
        let taer = taer_member(app);
        let xiedian_household = household_id(app, "XD-001");
        let (status, _) = taer.text(&format!("/team/households/{xiedian_household}"));
        assert_eq!(status, StatusCode::NOT_FOUND);
        let res = taer.submit("/team/households", &format!("/team/households/{xiedian_household}"), &[
            ("code", "XD-001"), ("head_name", "改名"), ("resident_members", "2"), ("category", "yiban"), ("payout_method", "cash"),
        ]);
        assert_eq!(res.status(), StatusCode::NOT_FOUND);
        let res = taer.submit("/team/households", &format!("/team/households/{xiedian_household}/archive"), &[("archived", "1")]);
        assert_eq!(res.status(), StatusCode::NOT_FOUND);
        // Creating in another village is refused by name, and nothing is written.
        let xiedian = village_id(app, "xiedian").to_string();
        let before = app.count("households");
        let res = taer.submit("/team/households/new", "/team/households", &[
            ("village_id", &xiedian), ("code", "X-1"), ("head_name", "某某"), ("resident_members", "2"),
            ("category", "yiban"), ("payout_method", "cash"),
        ]);
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(app.count("households"), before);
        let list = taer.text("/team/households").1;
        assert!(list.contains("张建国") && !list.contains("谢永富"), "only 塔儿村 in the list");
        assert!(list.contains("共 3 户"));
        let csv = taer.get("/team/households/export.csv").text().expect("csv");
        assert!(!csv.contains("谢永富"));
        assert_eq!(app.count("households WHERE head_name = '改名'"), 0);
    }

    fn registers_import_from_utf8_and_gbk_csv_and_again_without_duplicates(app) {
        let team = app.signed_in("team@example.com");
        let village = village_id(app, "yangzhouyao");
        let csv = "户编号,户主姓名,常住人口,类别,电话,收款方式\n\
                   YZY-101,杨大山,4,脱贫户,13803521001,银行卡\n\
                   YZY-102,杨小河,2,一般户,,微信\n\
                   YZY-001,杨来福,5,脱贫户,13803520301,bank\n";
        let (status, html) = upload(&team, village, "register.csv", csv.as_bytes().to_vec());
        assert_eq!(status, StatusCode::OK, "{html}");
        assert!(html.contains("新登记 2 户，更新 1 户"), "{html}");
        assert_eq!(app.count("households WHERE code = 'YZY-101' AND category = 'tuopin' AND payout_method = 'bank'"), 1);
        assert_eq!(app.count("households WHERE code = 'YZY-001' AND resident_members = 5"), 1, "updated by 户编号");
        let households = app.count("households");
        let (status, html) = upload(&team, village, "register.csv", csv.as_bytes().to_vec());
        assert_eq!(status, StatusCode::OK);
        assert!(html.contains("新登记 0 户，更新 0 户，未变 3 户"), "{html}");
        assert_eq!(app.count("households"), households, "no duplicates");

        // The same register as Excel in China saves it: GBK, English payout words.
        let gbk_text = "户编号,户主姓名,常住人口,类别,电话\r\nYZY-103,郭二妮,3,监测户,13803521003\r\n";
        let (gbk, _, _) = encoding_rs::GBK.encode(gbk_text);
        assert!(std::str::from_utf8(&gbk).is_err(), "really GBK");
        let (status, html) = upload(&team, village, "gbk.csv", gbk.into_owned());
        assert_eq!(status, StatusCode::OK, "{html}");
        assert_eq!(app.count("households WHERE code = 'YZY-103' AND head_name = '郭二妮' AND category = 'jiance'"), 1);
    }

    fn a_bad_row_in_the_middle_writes_nothing_and_every_problem_is_listed(app) {
        let team = app.signed_in("team@example.com");
        let village = village_id(app, "xiedian");
        let csv = "code,head_name,resident_members,category,phone\n\
                   XD-201,A,2,yiban,\n\
                   XD-202,B,two,yiban,13800000000\n\
                   XD-203,,3,tuopin,12345\n\
                   XD-201,D,1,yiban,\n";
        let before = (app.count("households"), app.count("audit_log"));
        let (status, html) = upload(&team, village, "bad.csv", csv.as_bytes().to_vec());
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(html.contains("什么都没有导入"));
        for (row, column, reason) in [
            ("3", "常住人口", "请填整数"),
            ("4", "户主姓名", "必填"),
            ("4", "电话", "请填 11 位手机号"),
            ("5", "户编号", "户编号与第 2 行重复"),
        ] {
            let cells = format!("<tr><td>{row}</td><td>{column}</td><td>{reason}</td></tr>");
            assert!(html.contains(&cells), "{cells} in {html}");
        }
        assert_eq!((app.count("households"), app.count("audit_log")), before);
    }

    fn xlsx_registers_import_and_a_missing_column_is_named(app) {
        let team = app.signed_in("team@example.com");
        let village = village_id(app, "xiedian");
        let good = xlsx(&[
            &["Household code", "Head of household", "Resident members", "Category", "Phone"],
            &["XD-301", "Xie Wen", "3", "Lifted out of poverty", "13803523010"],
            &["XD-302", "谢秀", "1", "yiban", ""],
        ]);
        let (status, html) = upload(&team, village, "register.xlsx", good);
        assert_eq!(status, StatusCode::OK, "{html}");
        assert_eq!(app.count("households WHERE code = 'XD-301' AND phone = '13803523010' AND category = 'tuopin'"), 1);

        let missing = xlsx(&[&["户编号", "户主姓名", "类别"], &["XD-401", "某", "一般户"]]);
        let before = app.count("households");
        let (status, html) = upload(&team, village, "missing.xlsx", missing);
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(html.contains("<td>1</td><td>常住人口</td><td>缺少这一列</td>"), "{html}");
        assert_eq!(app.count("households"), before);

        // A text file named .xlsx is read for what it is, and refused.
        let (status, _) = upload(&team, village, "fake.xlsx", b"PK\x03\x04 not really a zip".to_vec());
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    }

    fn exports_round_trip_through_import(app) {
        let team = app.signed_in("team@example.com");
        let res = team.get("/team/households/export.csv");
        assert_eq!(res.status(), StatusCode::OK);
        assert!(res.headers()["content-disposition"].to_str().expect("header").contains("households.csv"));
        let csv = res.bytes().expect("csv").to_vec();
        assert!(csv.starts_with(b"\xEF\xBB\xBF"), "a BOM for Excel");
        let text = String::from_utf8(csv.clone()).expect("utf-8");
        assert!(text.contains("户编号,户主姓名,常住人口,类别,电话,收款方式,收款账号"));
        assert!(text.contains("XD-001,谢永富,4,脱贫户,13803520001,银行卡"));
        assert_eq!(text.lines().count(), 1 + 9, "header and the two villages' nine households");

        let xlsx = team.get("/team/households/export.xlsx?category=tuopin&lang=en").bytes().expect("xlsx").to_vec();
        let mut book: calamine::Xlsx<_> = calamine::open_workbook_from_rs(std::io::Cursor::new(xlsx)).expect("workbook");
        use calamine::Reader;
        let range = book.worksheet_range_at(0).expect("sheet").expect("range");
        let rows: Vec<Vec<String>> = range.rows().map(|r| r.iter().map(|c| c.to_string()).collect()).collect();
        assert_eq!(rows[0][0], "Household code");
        assert!(rows.iter().skip(1).all(|r| r[3] == "Lifted out of poverty"));
        assert_eq!(rows.len(), 1 + 4, "the tuopin households of 谢店村 and 杨州窑村");

        team.get("/team?lang=zh-CN");
        // Importing an export into its own village changes nothing.
        let village = village_id(app, "xiedian");
        let only_xiedian: String = text.lines().filter(|l| !l.starts_with("YZY")).collect::<Vec<_>>().join("\n");
        let (status, html) = upload(&team, village, "export.csv", only_xiedian.into_bytes());
        assert_eq!(status, StatusCode::OK, "{html}");
        assert!(html.contains("未变 4 户"), "{html}");
    }

    fn other_roles_cannot_open_the_register(app) {
        for email in ["canteen@example.com", "cadre@example.com", "admin@example.com"] {
            let browser = app.signed_in(email);
            for path in ["/team/households", "/team/households/new", "/team/households/import", "/team/households/export.csv"] {
                assert_eq!(browser.get(path).status(), StatusCode::FORBIDDEN, "{email} {path}");
            }
        }
        assert_eq!(app.browser().get("/team/households").status(), StatusCode::SEE_OTHER);
    }
}
