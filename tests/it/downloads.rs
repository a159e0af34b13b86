//! Downloads opened in Excel or WPS: text that a spreadsheet would run as a formula
//! (`=`, `+`, `-`, `@` first) comes out inert in every download — register export, bank
//! list, packing list, reports — while our own numbers and amounts stay numbers; and the
//! register still reads its own export back unchanged.

use std::io::Cursor;

use calamine::{Data, Reader, Xlsx};
use reqwest::StatusCode;

use crate::households::{upload, village_id};
use crate::orders::{add, checkout_fields};
use crate::storefront::product_id;
use crate::support::{Browser, both_databases};

const HYPERLINK: &str = r#"=HYPERLINK("http://x","y")"#;
const CALC: &str = "+cmd|' /C calc'!A0";

/// The rows of a CSV download, which must start with the byte-order mark.
fn csv_rows(bytes: &[u8]) -> Vec<Vec<String>> {
    let text = bytes
        .strip_prefix(b"\xEF\xBB\xBF")
        .expect("a BOM, so that Excel reads UTF-8");
    csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text)
        .records()
        .map(|r| {
            r.expect("a CSV record")
                .iter()
                .map(str::to_string)
                .collect()
        })
        .collect()
}

/// The cells of an XLSX download's sheet, after checking that no cell holds a formula.
fn xlsx_rows(bytes: Vec<u8>) -> Vec<Vec<Data>> {
    assert!(bytes.starts_with(b"PK"), "an XLSX");
    let mut book: Xlsx<_> = calamine::open_workbook_from_rs(Cursor::new(bytes)).expect("workbook");
    let sheet = book.sheet_names().first().cloned().expect("a sheet");
    let formulas = book.worksheet_formula(&sheet).expect("formulas");
    assert_eq!(formulas.used_cells().count(), 0, "no cell is a formula");
    let range = book.worksheet_range(&sheet).expect("cells");
    range.rows().map(<[Data]>::to_vec).collect()
}

fn get_bytes(browser: &Browser, path: &str) -> Vec<u8> {
    let res = browser.get(path);
    assert_eq!(res.status(), StatusCode::OK, "{path}");
    res.bytes().expect("body").to_vec()
}

/// The row whose first cell is `first`.
fn row_of<'a, T: PartialEq + std::fmt::Debug>(rows: &'a [Vec<T>], first: &T) -> &'a [T] {
    rows.iter()
        .find(|r| r.first() == Some(first))
        .unwrap_or_else(|| panic!("a row for {first:?} in {rows:?}"))
}

fn text(s: &str) -> Data {
    Data::String(s.to_string())
}

/// A CSV amount as written for the bank and for reports: plain yuan, no quote.
fn is_plain_amount(cell: &str) -> bool {
    !cell.starts_with('\'') && cell.parse::<f64>().is_ok() && cell.contains('.')
}

both_databases! {
    fn the_register_export_is_inert_and_reads_itself_back(app) {
        let team = app.signed_in("team@example.com");
        let xiedian = village_id(app, "xiedian");
        // What a team member might type; the last one already starts with the quote that
        // neutralises, and must come back as typed too.
        let names = [
            ("XD-901", HYPERLINK),
            ("XD-902", "-1+2"),
            ("XD-903", "@SUM(A1)"),
            ("XD-904", CALC),
            ("XD-905", "'=已加引号"),
            ("XD-906", "谢'=不是公式"),
        ];
        for (code, name) in names {
            let res = team.submit("/team/households/new", "/team/households", &[
                ("village_id", &xiedian.to_string()), ("code", code), ("head_name", name),
                ("resident_members", "2"), ("category", "yiban"), ("phone", ""),
                ("payout_method", "bank"), ("payout_account", "-6222"),
            ]);
            assert_eq!(res.status(), StatusCode::SEE_OTHER, "{name}");
        }
        let quoted = |name: &str| match name {
            "谢'=不是公式" => name.to_string(),
            _ => format!("'{name}"),
        };

        let csv = get_bytes(&team, "/team/households/export.csv?q=XD-90");
        let rows = csv_rows(&csv);
        assert_eq!(rows.len(), 1 + names.len());
        for (code, name) in names {
            let row = row_of(&rows, &code.to_string());
            assert_eq!(row[1], quoted(name), "{code}");
            assert_eq!(row[2], "2", "our own count is not quoted");
            assert_eq!(row[6], "'-6222", "an account typed with a minus first");
        }
        assert_eq!(row_of(&rows, &"XD-905".to_string())[1], "''=已加引号");

        let xlsx = get_bytes(&team, "/team/households/export.xlsx?q=XD-90");
        let cells = xlsx_rows(xlsx.clone());
        assert_eq!(cells.len(), 1 + names.len());
        for (code, name) in names {
            let row = row_of(&cells, &text(code));
            // A string cell holding exactly what was typed (Excel's quote prefix marks
            // it as text), except the one that starts with a quote already.
            let expected = if code == "XD-905" { quoted(name) } else { name.to_string() };
            assert_eq!(row[1], text(&expected), "{code}");
            assert_eq!(row[6], text("-6222"));
        }

        // Each export, imported into its own village, changes nothing and adds nothing.
        let before = app.count("households");
        let (status, html) = upload(&team, xiedian, "export.csv", csv);
        assert_eq!(status, StatusCode::OK, "{html}");
        assert!(html.contains(&format!("未变 {} 户", names.len())), "{html}");
        let (status, html) = upload(&team, xiedian, "export.xlsx", xlsx);
        assert_eq!(status, StatusCode::OK, "{html}");
        assert!(html.contains(&format!("未变 {} 户", names.len())), "{html}");
        assert_eq!(app.count("households"), before);
        assert_eq!(app.count("households WHERE head_name LIKE '''%'"), 1, "only the one typed with a quote");
        assert_eq!(app.count("households WHERE head_name LIKE '=HYPERLINK(%'"), 1);

        // The village report a cadre downloads lists the same households.
        let cadre = app.signed_in("cadre@example.com");
        let rows = csv_rows(&get_bytes(&cadre, &format!("/reports/villages/{xiedian}?format=csv")));
        for (code, name) in names {
            let row = row_of(&rows, &code.to_string());
            assert_eq!(row[1], quoted(name), "{code}");
            assert_eq!(row[4], "2");
            assert!(row[5..].iter().all(|c| is_plain_amount(c)), "{row:?}");
        }
        let cells = xlsx_rows(get_bytes(&cadre, &format!("/reports/villages/{xiedian}?format=xlsx")));
        let row = row_of(&cells, &text("XD-901"));
        assert_eq!(row[1], text(HYPERLINK));
        assert!(row[5..].iter().all(|c| matches!(c, Data::Float(_))), "amounts are numbers: {row:?}");
        // The county and city reports name villages and counties, ours: nothing to quote,
        // and their amounts stay plain.
        for path in ["/reports?format=csv", "/reports?format=csv&lang=en"] {
            let rows = csv_rows(&get_bytes(&cadre, path));
            assert!(rows[1..].iter().all(|r| r[1..].iter().all(|c| is_plain_amount(c) || c.parse::<i64>().is_ok())), "{rows:?}");
        }
    }

    fn the_bank_list_is_inert(app) {
        let team = app.signed_in("team@example.com");
        let rows = csv_rows(&get_bytes(&team, "/team/payouts/bank.csv"));
        let code = rows.get(1).map(|r| r[0].clone()).expect("the demo owes a household paid by bank");
        app.execute(&format!(
            "UPDATE households SET head_name = '{HYPERLINK}', payout_account = '-6222 0000' WHERE code = '{code}'"
        ));
        let rows = csv_rows(&get_bytes(&team, "/team/payouts/bank.csv"));
        let row = row_of(&rows, &code);
        assert_eq!(row[1], format!("'{HYPERLINK}"));
        assert_eq!(row[2], "'-6222 0000");
        assert!(is_plain_amount(&row[3]), "{row:?}");
        let cells = xlsx_rows(get_bytes(&team, "/team/payouts/bank.xlsx"));
        let row = row_of(&cells, &text(&code));
        assert_eq!(row[1], text(HYPERLINK));
        assert_eq!(row[2], text("-6222 0000"));
        assert!(matches!(row[3], Data::Float(f) if f > 0.0), "{row:?}");
    }

    fn the_packing_list_is_inert(app) {
        // What a guest typed at checkout ends up in the team's packing list.
        let buyer = app.browser();
        assert_eq!(add(&buyer, product_id(app, "huangmi-gaomian"), "2"), StatusCode::SEE_OTHER);
        let (token, key) = checkout_fields(&buyer.text("/checkout").1);
        let res = buyer.post_form("/checkout", &[
            ("csrf_token", &token), ("idempotency_key", &key), ("name", CALC),
            ("phone", "13912345678"), ("address", HYPERLINK), ("email", ""),
            ("note", "@SUM(1+1)"), ("payment_method", "bank_transfer"),
        ]);
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        let order = app.scalar("SELECT MAX(id) AS n FROM orders");
        let team = app.signed_in("team@example.com");
        let page = format!("/team/orders/{order}");
        assert_eq!(team.submit(&page, &format!("{page}/paid"), &[("reference", "T1")]).status(), StatusCode::SEE_OTHER);

        let yzy = village_id(app, "yangzhouyao");
        let day = village_market::domain::china_date(village_market::domain::now_utc());
        let rows = csv_rows(&get_bytes(&team, &format!("/team/packing?village={yzy}&date={day}&format=csv")));
        assert_eq!(rows.len(), 2, "{rows:?}");
        // number, name, phone, address, product, quantity, unit, payment, note
        let row = &rows[1];
        assert_eq!(row[1], format!("'{CALC}"));
        assert_eq!(row[2], "13912345678");
        assert_eq!(row[3], format!("'{HYPERLINK}"));
        assert_eq!(row[5], "2", "a quantity is not quoted");
        assert_eq!(row[8], "'@SUM(1+1)");
    }
}
