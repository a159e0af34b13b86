//! Village registers as teams already keep them: CSV (UTF-8, or GBK as Excel in China
//! saves it) and XLSX, with column headers in Chinese or English, read into household
//! rows; and the columns of the household list written back out (the files themselves
//! are written by `web::download`, which quotes formula-like text the way `read` undoes).

use std::io::Cursor;

use calamine::{Data, Reader, Xlsx};

use chrono::NaiveDateTime;

use crate::db::DbConn;
use crate::db::households::Household;
use crate::domain::actor::{TeamScope, Who};
use crate::domain::error::{DomainError, DomainResult};
use crate::domain::households::{self, HouseholdForm, ImportOutcome, ImportPage, RowProblem};
use crate::i18n::Lang;

/// The columns of a register, each with the headers it may have.
const COLUMNS: &[(&str, &[&str], bool)] = &[
    (
        "code",
        &[
            "户编号",
            "户号",
            "编号",
            "code",
            "household code",
            "household_code",
        ],
        true,
    ),
    (
        "head_name",
        &[
            "户主姓名",
            "户主",
            "姓名",
            "head",
            "head name",
            "head_name",
            "head of household",
        ],
        true,
    ),
    (
        "resident_members",
        &[
            "常住人口",
            "人口",
            "家庭人口",
            "resident members",
            "resident_members",
            "residents",
        ],
        true,
    ),
    ("category", &["类别", "户类别", "户类型", "category"], true),
    (
        "phone",
        &["电话", "手机", "手机号", "联系电话", "phone", "mobile"],
        false,
    ),
    (
        "payout_method",
        &["收款方式", "结算方式", "payout method", "payout_method"],
        false,
    ),
    (
        "payout_account",
        &[
            "收款账号",
            "账号",
            "银行卡号",
            "payout account",
            "payout_account",
            "account",
        ],
        false,
    ),
];

#[derive(Debug, thiserror::Error)]
pub enum RegisterError {
    /// Problems with the file as a whole (header row, encoding), as row/column/reason.
    #[error("the register cannot be read")]
    Unreadable(Vec<RowProblem>),
}

fn whole_file(key: &'static str) -> RegisterError {
    RegisterError::Unreadable(vec![RowProblem {
        row: 1,
        column: String::new(),
        key,
        args: vec![],
    }])
}

/// Reads a register, telling CSV from XLSX by content, not by name.
/// Imports a register file (CSV or XLSX) into one of the member's villages, all or
/// nothing (see `households::import_rows`); a file that cannot be read at all is
/// refused with its problems and nothing is written.
pub fn import(
    conn: &mut DbConn,
    who: &Who,
    scope: &TeamScope,
    village_id: &str,
    file: &[u8],
    now: NaiveDateTime,
) -> DomainResult<ImportPage> {
    // Another village is refused by name, before the file is read.
    let village_id = households::village_in_scope(scope, village_id)
        .ok_or_else(|| DomainError::invalid("village_id", "invalid-choice"))?;
    let outcome = match read(file) {
        Ok(rows) => households::import_rows(conn, who, village_id, &rows, now)?,
        Err(RegisterError::Unreadable(problems)) => ImportOutcome::Refused(problems),
    };
    households::import_page(conn, scope, outcome)
}

pub fn read(bytes: &[u8]) -> Result<Vec<(usize, HouseholdForm)>, RegisterError> {
    let table = if bytes.starts_with(b"PK\x03\x04") {
        xlsx_cells(bytes)?
    } else {
        csv_cells(bytes)?
    };
    rows_from_table(table)
}

fn decode(bytes: &[u8]) -> Result<String, RegisterError> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if let Ok(text) = std::str::from_utf8(bytes) {
        return Ok(text.to_string());
    }
    // Not UTF-8: Excel in China saves CSV as GBK, of which GB18030 is the superset.
    let (text, _, had_errors) = encoding_rs::GB18030.decode(bytes);
    if had_errors {
        Err(whole_file("invalid-encoding"))
    } else {
        Ok(text.into_owned())
    }
}

fn csv_cells(bytes: &[u8]) -> Result<Vec<Vec<String>>, RegisterError> {
    let text = decode(bytes)?;
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    reader
        .records()
        .map(|r| {
            r.map(|rec| rec.iter().map(str::to_string).collect())
                .map_err(|_| whole_file("invalid-csv"))
        })
        .collect()
}

fn xlsx_cells(bytes: &[u8]) -> Result<Vec<Vec<String>>, RegisterError> {
    let mut book: Xlsx<_> = calamine::open_workbook_from_rs(Cursor::new(bytes))
        .map_err(|_| whole_file("invalid-xlsx"))?;
    let range = book
        .worksheet_range_at(0)
        .ok_or_else(|| whole_file("invalid-xlsx"))?
        .map_err(|_| whole_file("invalid-xlsx"))?;
    Ok(range
        .rows()
        .map(|row| row.iter().map(cell_text).collect())
        .collect())
}

/// A cell as the text a person sees: whole numbers without `.0` (phone numbers and
/// household counts are often stored as numbers).
fn cell_text(cell: &Data) -> String {
    match cell {
        Data::Empty => String::new(),
        Data::String(s) => s.clone(),
        Data::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", *f as i64),
        Data::Float(f) => f.to_string(),
        Data::Int(i) => i.to_string(),
        Data::Bool(b) => b.to_string(),
        other => other.to_string(),
    }
}

/// What makes a spreadsheet read a text cell as a formula (OWASP, "CSV injection").
const FORMULA_START: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// Whether text, past any `'` it starts with, begins like a formula. Downloads write
/// such text behind one more `'` (`web::download`), and `read` takes that one off again:
/// text that already starts with `'` before a formula character gets one more too, so a
/// quoted cell and a value typed with a quote never mix up.
pub fn needs_formula_quote(text: &str) -> bool {
    text.trim_start_matches('\'').starts_with(FORMULA_START)
}

/// A cell as it was before a download quoted it (see `needs_formula_quote`): `'=x` is
/// `=x`, `''=x` is `'=x`, and `'abc` stays as it is.
fn unquoted(cell: &str) -> &str {
    match cell.strip_prefix('\'') {
        Some(rest) if needs_formula_quote(rest) => rest,
        _ => cell,
    }
}

fn normalize_header(h: &str) -> String {
    h.trim().trim_start_matches('\u{feff}').to_lowercase()
}

fn rows_from_table(table: Vec<Vec<String>>) -> Result<Vec<(usize, HouseholdForm)>, RegisterError> {
    let mut lines = table
        .into_iter()
        .enumerate()
        .filter(|(_, cells)| cells.iter().any(|c| !c.trim().is_empty()));
    let Some((header_index, header)) = lines.next() else {
        return Err(whole_file("invalid-empty-register"));
    };
    let header: Vec<String> = header.iter().map(|h| normalize_header(h)).collect();
    let mut positions = Vec::new();
    let mut missing = Vec::new();
    for (field, names, required) in COLUMNS {
        match header
            .iter()
            .position(|h| names.iter().any(|n| n.to_lowercase() == *h))
        {
            Some(i) => positions.push((*field, i)),
            None if *required => missing.push(RowProblem {
                row: header_index + 1,
                column: field.to_string(),
                key: "invalid-missing-column",
                args: vec![],
            }),
            None => {}
        }
    }
    if !missing.is_empty() {
        return Err(RegisterError::Unreadable(missing));
    }
    Ok(lines
        .map(|(index, cells)| {
            let cell = |field: &str| {
                positions
                    .iter()
                    .find(|(f, _)| *f == field)
                    .and_then(|(_, i)| cells.get(*i))
                    .map(|s| unquoted(s.trim()).trim().to_string())
                    .unwrap_or_default()
            };
            let form = HouseholdForm {
                code: cell("code"),
                head_name: cell("head_name"),
                resident_members: cell("resident_members"),
                category: cell("category"),
                phone: cell("phone"),
                payout_method: cell("payout_method"),
                payout_account: cell("payout_account"),
            };
            (index + 1, form)
        })
        .collect())
}

/// The header row of an export, in `lang`; `read` accepts it back.
pub fn export_header(lang: Lang) -> Vec<String> {
    [
        "code",
        "head_name",
        "resident_members",
        "category",
        "phone",
        "payout_method",
        "payout_account",
    ]
    .iter()
    .map(|f| lang.t(&format!("household-{}", f.replace('_', "-"))))
    .collect()
}

/// A household's row of an export, under `export_header`: every cell as the text a
/// person typed or reads, which `read` takes back.
pub fn export_row(lang: Lang, h: &Household) -> Vec<String> {
    vec![
        h.code.clone(),
        h.head_name.clone(),
        h.resident_members.to_string(),
        lang.t(&format!("category-household-{}", h.category)),
        h.phone.clone().unwrap_or_default(),
        lang.t(&format!("payout-{}", h.payout_method)),
        h.payout_account.clone().unwrap_or_default(),
    ]
}

#[cfg(test)]
mod tests {
    use super::{needs_formula_quote, read, unquoted};

    #[test]
    fn a_quote_before_formula_like_text_is_taken_off_once() {
        for (cell, value) in [
            ("'=HYPERLINK(\"x\")", "=HYPERLINK(\"x\")"),
            ("'-1+2", "-1+2"),
            ("'@SUM(A1)", "@SUM(A1)"),
            ("'+86 138", "+86 138"),
            ("''=x", "'=x"),
            ("'abc", "'abc"),
            ("'", "'"),
            ("谢'=x", "谢'=x"),
        ] {
            assert_eq!(unquoted(cell), value, "{cell}");
            // …and a download quotes the value back into the same cell.
            let written = if needs_formula_quote(value) {
                format!("'{value}")
            } else {
                value.to_string()
            };
            assert_eq!(written, cell, "{value}");
        }
    }

    #[test]
    fn a_quoted_csv_register_reads_as_typed() {
        let csv = "户编号,户主姓名,常住人口,类别,收款账号\nXD-9,'=1+2,2,一般户,'-6222\nXD-8,' '-1',1,一般户,\n";
        let rows = read(csv.as_bytes()).expect("a readable register");
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].1.head_name, "=1+2");
        assert_eq!(rows[0].1.payout_account, "-6222");
        assert_eq!(
            rows[1].1.head_name, "' '-1'",
            "a quote before a space is text"
        );
    }
}
