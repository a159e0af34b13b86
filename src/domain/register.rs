//! Village registers as teams already keep them: CSV (UTF-8, or GBK as Excel in China
//! saves it) and XLSX, with column headers in Chinese or English, read into household
//! rows; and the columns of the household list written back out (the files themselves
//! are written by `web::download`, which quotes formula-like text the way `read` undoes).

use std::borrow::Cow;
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

/// The register's real limits: at most 20,000 households below one header row, in at
/// most 50 columns (A to AX). A file is measured against them as it is read, before any
/// of its cells are kept, so a small file that claims a huge sheet is refused without
/// the memory it claims.
pub const MAX_HOUSEHOLDS: usize = 20_000;
pub const MAX_ROWS: usize = MAX_HOUSEHOLDS + 1;
pub const MAX_COLUMNS: usize = 50;
/// An XLSX is a zip of XML files. However small the upload, what it unpacks to is held
/// to this much in all (a 20,000-household register unpacks to about 10 MB)…
const MAX_XLSX_UNPACKED: u64 = 64 * 1024 * 1024;
/// …and to this many times its packed size, above the first 8 MB: real sheets pack
/// 5–20 times, a zip bomb a thousand.
const MAX_XLSX_RATIO: u64 = 100;
const MIN_XLSX_ALLOWANCE: u64 = 8 * 1024 * 1024;
/// More files than any workbook a team saves has.
const MAX_XLSX_ENTRIES: usize = 1_000;
/// At most one shared text per cell of the largest register.
const MAX_SHARED_STRINGS: usize = MAX_ROWS * MAX_COLUMNS;

#[derive(Debug, thiserror::Error)]
pub enum RegisterError {
    /// Problems with the file as a whole (header row, encoding, size), as
    /// row/column/reason.
    #[error("the register cannot be read")]
    Unreadable(Vec<RowProblem>),
}

fn whole_file(key: &'static str) -> RegisterError {
    file_problem(1, key, vec![])
}

fn file_problem(row: usize, key: &'static str, args: Vec<(&'static str, String)>) -> RegisterError {
    RegisterError::Unreadable(vec![RowProblem {
        row,
        column: String::new(),
        key,
        args,
    }])
}

/// A cell past the register's limits (`row` and `column` counted from 0), named the way
/// a spreadsheet names it.
fn beyond_limits(row: usize, column: usize) -> RegisterError {
    file_problem(
        row.saturating_add(1),
        "invalid-register-too-big",
        vec![
            ("cell", cell_name(row, column)),
            ("rows", MAX_ROWS.to_string()),
            ("columns", MAX_COLUMNS.to_string()),
            ("last", column_name(MAX_COLUMNS - 1)),
        ],
    )
}

/// `A`, `Z`, `AA`, … `XFD` for columns counted from 0.
fn column_name(column: usize) -> String {
    let mut n = column + 1;
    let mut letters = Vec::new();
    while n > 0 {
        let rem = (n - 1) % 26;
        letters.push(char::from(b'A' + rem as u8));
        n = (n - 1) / 26;
    }
    letters.iter().rev().collect()
}

fn cell_name(row: usize, column: usize) -> String {
    format!("{}{}", column_name(column), row.saturating_add(1))
}

/// Imports a register file (CSV or XLSX), already read by `read`, into one of the
/// member's villages, all or nothing (see `households::import_rows`); a file that could
/// not be read at all is refused with its problems and nothing is written. Another
/// village is refused by name whatever the file held.
pub fn import(
    conn: &mut DbConn,
    who: &Who,
    scope: &TeamScope,
    village_id: &str,
    register: Result<Vec<(usize, HouseholdForm)>, RegisterError>,
    now: NaiveDateTime,
) -> DomainResult<ImportPage> {
    let village_id = households::village_in_scope(scope, village_id)
        .ok_or_else(|| DomainError::invalid("village_id", "invalid-choice"))?;
    let outcome = match register {
        Ok(rows) => households::import_rows(conn, who, village_id, &rows, now)?,
        Err(RegisterError::Unreadable(problems)) => ImportOutcome::Refused(problems),
    };
    households::import_page(conn, scope, outcome)
}

/// Reads a register, telling CSV from XLSX by content, not by name. CPU-bound and
/// blocking: the web layer runs it off the async workers, before it takes a database
/// connection. Memory stays within a few times the file: rows are turned into
/// households as they are read, and nothing past the limits above is kept.
pub fn read(bytes: &[u8]) -> Result<Vec<(usize, HouseholdForm)>, RegisterError> {
    let mut register = RegisterRows::default();
    if bytes.starts_with(b"PK\x03\x04") {
        read_xlsx(bytes, &mut register)?;
    } else {
        read_csv(bytes, &mut register)?;
    }
    register.finish()
}

/// UTF-8, or else GBK, without a copy for UTF-8 and without replacement characters for
/// GBK (the first malformed byte stops it), so the text is at most 1.5 times the file.
fn decode(bytes: &[u8]) -> Result<Cow<'_, str>, RegisterError> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if let Ok(text) = std::str::from_utf8(bytes) {
        return Ok(Cow::Borrowed(text));
    }
    // Not UTF-8: Excel in China saves CSV as GBK, of which GB18030 is the superset.
    encoding_rs::GB18030
        .decode_without_bom_handling_and_without_replacement(bytes)
        .ok_or_else(|| whole_file("invalid-encoding"))
}

fn read_csv(bytes: &[u8], register: &mut RegisterRows) -> Result<(), RegisterError> {
    let text = decode(bytes)?;
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    // One record at a time: a row is measured before its fields become strings.
    let mut record = csv::StringRecord::new();
    let mut index = 0;
    while reader
        .read_record(&mut record)
        .map_err(|_| whole_file("invalid-csv"))?
    {
        if index >= MAX_ROWS {
            return Err(beyond_limits(index, 0));
        }
        if record.len() > MAX_COLUMNS {
            return Err(beyond_limits(index, record.len() - 1));
        }
        let cells: Vec<String> = record.iter().map(str::to_string).collect();
        register.push(index + 1, &cells)?;
        index += 1;
    }
    Ok(())
}

/// Checks what the zip claims before calamine opens it: how many files, how much they
/// unpack to (the zip crate then stops any file that unpacks to more than it declared),
/// and how many shared texts the workbook says it has (calamine reserves room for that
/// many before reading one).
fn check_xlsx_package(bytes: &[u8]) -> Result<(), RegisterError> {
    let mut zip =
        zip::ZipArchive::new(Cursor::new(bytes)).map_err(|_| whole_file("invalid-xlsx"))?;
    if zip.len() > MAX_XLSX_ENTRIES {
        return Err(whole_file("invalid-xlsx"));
    }
    let allowance = MAX_XLSX_UNPACKED.min(
        (bytes.len() as u64)
            .saturating_mul(MAX_XLSX_RATIO)
            .max(MIN_XLSX_ALLOWANCE),
    );
    let mut unpacked: u64 = 0;
    let mut shared_strings = Vec::new();
    for i in 0..zip.len() {
        let entry = zip
            .by_index_raw(i)
            .map_err(|_| whole_file("invalid-xlsx"))?;
        unpacked = unpacked.saturating_add(entry.size());
        let name = entry.name().map_err(|_| whole_file("invalid-xlsx"))?;
        if name.to_ascii_lowercase().ends_with("sharedstrings.xml") {
            shared_strings.push(i);
        }
    }
    if unpacked > allowance {
        let mb = |n: u64| n.div_ceil(1024 * 1024).to_string();
        return Err(file_problem(
            1,
            "invalid-xlsx-unpacked",
            vec![("size", mb(unpacked)), ("max", mb(allowance))],
        ));
    }
    for i in shared_strings {
        let entry = zip.by_index(i).map_err(|_| whole_file("invalid-xlsx"))?;
        check_shared_strings(entry)?;
    }
    Ok(())
}

/// Counts the shared texts (`<si>`) and reads the count the file declares (`<sst
/// uniqueCount>`), holding one XML event at a time.
fn check_shared_strings(xml: impl std::io::Read) -> Result<(), RegisterError> {
    let too_many = |count: usize| {
        file_problem(
            1,
            "invalid-xlsx-too-many-texts",
            vec![
                ("count", count.to_string()),
                ("max", MAX_SHARED_STRINGS.to_string()),
            ],
        )
    };
    let mut reader = quick_xml::Reader::from_reader(std::io::BufReader::new(xml));
    let mut buf = Vec::new();
    let mut count = 0usize;
    loop {
        buf.clear();
        let event = reader
            .read_event_into(&mut buf)
            .map_err(|_| whole_file("invalid-xlsx"))?;
        let element = match &event {
            quick_xml::events::Event::Start(e) | quick_xml::events::Event::Empty(e) => e,
            quick_xml::events::Event::Eof => return Ok(()),
            _ => continue,
        };
        match element.local_name().as_ref() {
            "sst" => {
                for name in ["count", "uniqueCount"] {
                    let declared = element
                        .try_get_attribute(name)
                        .map_err(|_| whole_file("invalid-xlsx"))?
                        .map(|a| a.value.trim().parse::<u64>())
                        .transpose()
                        .map_err(|_| whole_file("invalid-xlsx"))?
                        .unwrap_or(0);
                    if declared > MAX_SHARED_STRINGS as u64 {
                        return Err(too_many(usize::try_from(declared).unwrap_or(usize::MAX)));
                    }
                }
            }
            "si" => {
                count += 1;
                if count > MAX_SHARED_STRINGS {
                    return Err(too_many(count));
                }
            }
            _ => {}
        }
    }
}

/// The first sheet, one cell at a time (calamine's cell reader): the declared range and
/// each cell's place are checked against the limits before the cell is kept, and a row
/// becomes a household as soon as the next one starts.
fn read_xlsx(bytes: &[u8], register: &mut RegisterRows) -> Result<(), RegisterError> {
    check_xlsx_package(bytes)?;
    let mut book: Xlsx<_> = calamine::open_workbook_from_rs(Cursor::new(bytes))
        .map_err(|_| whole_file("invalid-xlsx"))?;
    let first = book
        .sheet_names()
        .into_iter()
        .next()
        .ok_or_else(|| whole_file("invalid-xlsx"))?;
    let mut cells = book
        .worksheet_cells_reader(&first)
        .map_err(|_| whole_file("invalid-xlsx"))?;
    let declared = cells.dimensions().end;
    let (last_row, last_column) = (declared.0 as usize, declared.1 as usize);
    if last_row >= MAX_ROWS || last_column >= MAX_COLUMNS {
        return Err(beyond_limits(last_row, last_column));
    }
    let mut row: Option<(usize, Vec<String>)> = None;
    while let Some(cell) = cells.next_cell().map_err(|_| whole_file("invalid-xlsx"))? {
        let (r, c) = cell.get_position();
        let (r, c) = (r as usize, c as usize);
        if r >= MAX_ROWS || c >= MAX_COLUMNS {
            return Err(beyond_limits(r, c));
        }
        let text = cell_text(&Data::from(cell.get_value().clone()));
        if text.is_empty() {
            continue;
        }
        if row.as_ref().is_some_and(|(index, _)| *index != r) {
            if let Some((index, done)) = row.take() {
                register.push(index + 1, &done)?;
            }
        }
        let (_, values) = row.get_or_insert_with(|| (r, Vec::new()));
        if values.len() <= c {
            values.resize(c + 1, String::new());
        }
        values[c] = text;
    }
    if let Some((index, done)) = row {
        register.push(index + 1, &done)?;
    }
    Ok(())
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

/// The rows of a register as they are read: the first row with any text is the header,
/// which must name every required column; each row after it with any text becomes a
/// household form at once, so only the columns a household has are kept.
#[derive(Default)]
struct RegisterRows {
    /// The header's row and where each column is.
    header: Option<(usize, Vec<(&'static str, usize)>)>,
    rows: Vec<(usize, HouseholdForm)>,
    /// Cells holding control characters, which no household field may hold.
    problems: Vec<RowProblem>,
}

impl RegisterRows {
    /// Takes the row numbered `row` (as a spreadsheet numbers it).
    fn push(&mut self, row: usize, cells: &[String]) -> Result<(), RegisterError> {
        if cells.iter().all(|c| c.trim().is_empty()) {
            return Ok(());
        }
        let Some((_, positions)) = &self.header else {
            self.header = Some((row, header_positions(row, cells)?));
            return Ok(());
        };
        let mut problems = Vec::new();
        let mut cell = |field: &'static str| {
            let value = positions
                .iter()
                .find(|(f, _)| *f == field)
                .and_then(|(_, i)| cells.get(*i))
                .map(|s| unquoted(s.trim()).trim().to_string())
                .unwrap_or_default();
            if value
                .chars()
                .any(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r'))
            {
                problems.push(RowProblem {
                    row,
                    column: field.to_string(),
                    key: "invalid-control-character",
                    args: vec![],
                });
            }
            value
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
        self.problems.extend(problems);
        self.rows.push((row, form));
        Ok(())
    }

    fn finish(self) -> Result<Vec<(usize, HouseholdForm)>, RegisterError> {
        if self.header.is_none() {
            return Err(whole_file("invalid-empty-register"));
        }
        if !self.problems.is_empty() {
            return Err(RegisterError::Unreadable(self.problems));
        }
        Ok(self.rows)
    }
}

/// Where each column is in the header row `row`; every missing required column is a
/// problem.
fn header_positions(
    row: usize,
    cells: &[String],
) -> Result<Vec<(&'static str, usize)>, RegisterError> {
    let header: Vec<String> = cells.iter().map(|h| normalize_header(h)).collect();
    let mut positions = Vec::new();
    let mut missing = Vec::new();
    for (field, names, required) in COLUMNS {
        match header
            .iter()
            .position(|h| names.iter().any(|n| n.to_lowercase() == *h))
        {
            Some(i) => positions.push((*field, i)),
            None if *required => missing.push(RowProblem {
                row,
                column: field.to_string(),
                key: "invalid-missing-column",
                args: vec![],
            }),
            None => {}
        }
    }
    if missing.is_empty() {
        Ok(positions)
    } else {
        Err(RegisterError::Unreadable(missing))
    }
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
