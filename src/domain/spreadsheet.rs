//! Reading uploaded spreadsheets — CSV (UTF-8, or GBK as Excel in China saves it) and
//! XLSX, told apart by content — into rows of named columns, with headers in Chinese or
//! English. Every limit is checked before anything is kept: the rows and columns a
//! caller allows, what an XLSX unpacks to and the texts it declares, so a small file
//! that claims a huge sheet is refused without the memory it claims. Formula-like text
//! that a download quoted (`web::download`) reads back as typed. Used by the household
//! register and the canteen's order upload.

use std::borrow::Cow;
use std::io::Cursor;

use calamine::{Data, Reader, Xlsx};

/// A table's columns: each one's name, the headers it may have, and whether it must be
/// there.
pub type Columns = [(&'static str, &'static [&'static str], bool)];

/// The most a table may hold: rows (the header included) and columns.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub rows: usize,
    pub columns: usize,
}

/// An XLSX is a zip of XML files. However small the upload, what it unpacks to is held
/// to this much in all (a 20,000-household register unpacks to about 10 MB)…
const MAX_XLSX_UNPACKED: u64 = 64 * 1024 * 1024;
/// …and to this many times its packed size, above the first 8 MB: real sheets pack
/// 5–20 times, a zip bomb a thousand.
const MAX_XLSX_RATIO: u64 = 100;
const MIN_XLSX_ALLOWANCE: u64 = 8 * 1024 * 1024;
/// More files than any workbook a team saves has.
const MAX_XLSX_ENTRIES: usize = 1_000;

/// One bad cell of an uploaded table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowProblem {
    /// The row as a spreadsheet numbers it (the header is row 1).
    pub row: usize,
    pub column: String,
    pub key: &'static str,
    pub args: Vec<(&'static str, String)>,
}

/// A table that could not be read at all (header row, encoding, size), as
/// row/column/reason.
#[derive(Debug, thiserror::Error)]
#[error("the table cannot be read")]
pub struct Unreadable(pub Vec<RowProblem>);

/// A row read from a table: its number as a spreadsheet numbers it, and its cells in the
/// order of the caller's `Columns` (empty where the column is absent).
pub type TableRow = (usize, Vec<String>);

/// Reads a table, telling CSV from XLSX by content, not by name. CPU-bound and
/// blocking: the web layer runs it off the async workers, before it takes a database
/// connection. Memory stays within a few times the file: rows are cut to the columns
/// asked for as they are read, and nothing past `limits` is kept.
pub fn read(
    bytes: &[u8],
    columns: &'static Columns,
    limits: Limits,
) -> Result<Vec<TableRow>, Unreadable> {
    let mut table = TableRows {
        columns,
        limits,
        header: None,
        rows: Vec::new(),
        problems: Vec::new(),
    };
    if bytes.starts_with(b"PK\x03\x04") {
        read_xlsx(bytes, &mut table)?;
    } else {
        read_csv(bytes, &mut table)?;
    }
    table.finish()
}

fn whole_file(key: &'static str) -> Unreadable {
    file_problem(1, key, vec![])
}

fn file_problem(row: usize, key: &'static str, args: Vec<(&'static str, String)>) -> Unreadable {
    Unreadable(vec![RowProblem {
        row,
        column: String::new(),
        key,
        args,
    }])
}

/// A cell past the table's limits (`row` and `column` counted from 0), named the way
/// a spreadsheet names it.
fn beyond_limits(limits: Limits, row: usize, column: usize) -> Unreadable {
    file_problem(
        row.saturating_add(1),
        "invalid-register-too-big",
        vec![
            ("cell", cell_name(row, column)),
            ("rows", limits.rows.to_string()),
            ("columns", limits.columns.to_string()),
            ("last", column_name(limits.columns - 1)),
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

/// UTF-8, or else GBK, without a copy for UTF-8 and without replacement characters for
/// GBK (the first malformed byte stops it), so the text is at most 1.5 times the file.
fn decode(bytes: &[u8]) -> Result<Cow<'_, str>, Unreadable> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if let Ok(text) = std::str::from_utf8(bytes) {
        return Ok(Cow::Borrowed(text));
    }
    // Not UTF-8: Excel in China saves CSV as GBK, of which GB18030 is the superset.
    encoding_rs::GB18030
        .decode_without_bom_handling_and_without_replacement(bytes)
        .ok_or_else(|| whole_file("invalid-encoding"))
}

fn read_csv(bytes: &[u8], table: &mut TableRows) -> Result<(), Unreadable> {
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
        if index >= table.limits.rows {
            return Err(beyond_limits(table.limits, index, 0));
        }
        if record.len() > table.limits.columns {
            return Err(beyond_limits(table.limits, index, record.len() - 1));
        }
        let cells: Vec<String> = record.iter().map(str::to_string).collect();
        table.push(index + 1, &cells)?;
        index += 1;
    }
    Ok(())
}

/// Checks what the zip claims before calamine opens it: how many files, how much they
/// unpack to (the zip crate then stops any file that unpacks to more than it declared),
/// and how many shared texts the workbook says it has (calamine reserves room for that
/// many before reading one).
fn check_xlsx_package(bytes: &[u8], limits: Limits) -> Result<(), Unreadable> {
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
        check_shared_strings(entry, limits.rows.saturating_mul(limits.columns))?;
    }
    Ok(())
}

/// Counts the shared texts (`<si>`) and reads the count the file declares (`<sst
/// uniqueCount>`), holding one XML event at a time: at most one per cell the limits allow.
fn check_shared_strings(xml: impl std::io::Read, max: usize) -> Result<(), Unreadable> {
    let too_many = |count: usize| {
        file_problem(
            1,
            "invalid-xlsx-too-many-texts",
            vec![("count", count.to_string()), ("max", max.to_string())],
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
                    if declared > max as u64 {
                        return Err(too_many(usize::try_from(declared).unwrap_or(usize::MAX)));
                    }
                }
            }
            "si" => {
                count += 1;
                if count > max {
                    return Err(too_many(count));
                }
            }
            _ => {}
        }
    }
}

/// The first sheet, one cell at a time (calamine's cell reader): the declared range and
/// each cell's place are checked against the limits before the cell is kept, and a row
/// is cut to its columns as soon as the next one starts.
fn read_xlsx(bytes: &[u8], table: &mut TableRows) -> Result<(), Unreadable> {
    let limits = table.limits;
    check_xlsx_package(bytes, limits)?;
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
    if last_row >= limits.rows || last_column >= limits.columns {
        return Err(beyond_limits(limits, last_row, last_column));
    }
    let mut row: Option<(usize, Vec<String>)> = None;
    while let Some(cell) = cells.next_cell().map_err(|_| whole_file("invalid-xlsx"))? {
        let (r, c) = cell.get_position();
        let (r, c) = (r as usize, c as usize);
        if r >= limits.rows || c >= limits.columns {
            return Err(beyond_limits(limits, r, c));
        }
        let text = cell_text(&Data::from(cell.get_value().clone()));
        if text.is_empty() {
            continue;
        }
        if row.as_ref().is_some_and(|(index, _)| *index != r) {
            if let Some((index, done)) = row.take() {
                table.push(index + 1, &done)?;
            }
        }
        let (_, values) = row.get_or_insert_with(|| (r, Vec::new()));
        if values.len() <= c {
            values.resize(c + 1, String::new());
        }
        values[c] = text;
    }
    if let Some((index, done)) = row {
        table.push(index + 1, &done)?;
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

/// The rows of a table as they are read: the first row with any text is the header,
/// which must name every required column; each row after it with any text is cut to the
/// columns asked for at once.
struct TableRows {
    columns: &'static Columns,
    limits: Limits,
    /// The header's row and where each column is.
    header: Option<(usize, Vec<(usize, usize)>)>,
    rows: Vec<TableRow>,
    /// Cells holding control characters, which no field may hold.
    problems: Vec<RowProblem>,
}

impl TableRows {
    /// Takes the row numbered `row` (as a spreadsheet numbers it).
    fn push(&mut self, row: usize, cells: &[String]) -> Result<(), Unreadable> {
        if cells.iter().all(|c| c.trim().is_empty()) {
            return Ok(());
        }
        let Some((_, positions)) = &self.header else {
            self.header = Some((row, header_positions(self.columns, row, cells)?));
            return Ok(());
        };
        let mut values = vec![String::new(); self.columns.len()];
        for (column, at) in positions {
            let value = cells
                .get(*at)
                .map(|s| unquoted(s.trim()).trim().to_string())
                .unwrap_or_default();
            if value
                .chars()
                .any(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r'))
            {
                self.problems.push(RowProblem {
                    row,
                    column: self.columns[*column].0.to_string(),
                    key: "invalid-control-character",
                    args: vec![],
                });
            }
            values[*column] = value;
        }
        self.rows.push((row, values));
        Ok(())
    }

    fn finish(self) -> Result<Vec<TableRow>, Unreadable> {
        if self.header.is_none() {
            return Err(whole_file("invalid-empty-register"));
        }
        if !self.problems.is_empty() {
            return Err(Unreadable(self.problems));
        }
        Ok(self.rows)
    }
}

/// Where each of `columns` is (its index, the cell's) in the header row `row`; every
/// missing required column is a problem.
fn header_positions(
    columns: &Columns,
    row: usize,
    cells: &[String],
) -> Result<Vec<(usize, usize)>, Unreadable> {
    let header: Vec<String> = cells.iter().map(|h| normalize_header(h)).collect();
    let mut positions = Vec::new();
    let mut missing = Vec::new();
    for (index, (field, names, required)) in columns.iter().enumerate() {
        match header
            .iter()
            .position(|h| names.iter().any(|n| n.to_lowercase() == *h))
        {
            Some(at) => positions.push((index, at)),
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
        Err(Unreadable(missing))
    }
}

#[cfg(test)]
mod tests {
    use super::{needs_formula_quote, unquoted};

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
}
