//! Tables as downloads: CSV (UTF-8 with a byte-order mark, so that Excel reads the
//! Chinese right) or XLSX, with the same rows as the page they come from. The one CSV
//! writer and the one XLSX writer: every download (register, bank list, packing list,
//! reports) is a `Table` written here.
//!
//! Text that a spreadsheet would run as a formula (it starts with `=`, `+`, `-`, `@`, a
//! tab or a carriage return: a guest's name, a household's, a note) is made inert as
//! OWASP recommends against CSV injection: behind a `'` in CSV; in XLSX it is a string
//! cell, which is never a formula, marked with Excel's quote prefix. Numbers and amounts
//! are ours and stay numbers, a minus included.

use actix_web::HttpResponse;
use actix_web::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use rust_xlsxwriter::{Format as XlsxFormat, Worksheet, XlsxError};

use crate::domain::money::format_yuan_plain;
use crate::domain::spreadsheet::needs_formula_quote;
use crate::error::{AppError, AppResult};

#[derive(Debug, Clone)]
pub enum Cell {
    Text(String),
    Number(i64),
    /// Fen, written as yuan: `12.50` in CSV, the number 12.5 formatted `0.00` in XLSX.
    Money(i64),
}

pub struct Table {
    pub sheet: String,
    pub header: Vec<String>,
    pub rows: Vec<Vec<Cell>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    Xlsx,
}

impl Format {
    /// `csv` or `xlsx`; anything else is a bad `format`.
    pub fn parse(raw: &str) -> AppResult<Format> {
        match raw {
            "csv" => Ok(Format::Csv),
            "xlsx" => Ok(Format::Xlsx),
            other => Err(AppError::bad_field("format", other)),
        }
    }
}

pub fn respond(table: &Table, format: Format, name: &str) -> AppResult<HttpResponse> {
    let (bytes, content_type, ext) = match format {
        Format::Csv => (csv_bytes(table)?, "text/csv; charset=utf-8", "csv"),
        Format::Xlsx => (
            xlsx_bytes(table).map_err(AppError::internal)?,
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "xlsx",
        ),
    };
    Ok(HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, content_type))
        .insert_header((
            CONTENT_DISPOSITION,
            format!("attachment; filename=\"{name}.{ext}\""),
        ))
        .body(bytes))
}

/// Text as a CSV cell: behind a `'` when a spreadsheet would read it as a formula
/// (Excel and WPS then show it as text; the register import takes the `'` off again).
fn csv_text(text: &str) -> String {
    if needs_formula_quote(text) {
        format!("'{text}")
    } else {
        text.to_string()
    }
}

fn csv_bytes(table: &Table) -> AppResult<Vec<u8>> {
    let mut out = csv::Writer::from_writer(b"\xEF\xBB\xBF".to_vec());
    out.write_record(table.header.iter().map(|h| csv_text(h)))
        .map_err(AppError::internal)?;
    for row in &table.rows {
        out.write_record(row.iter().map(|c| match c {
            Cell::Text(s) => csv_text(s),
            Cell::Number(n) => n.to_string(),
            Cell::Money(fen) => format_yuan_plain(*fen),
        }))
        .map_err(AppError::internal)?;
    }
    out.into_inner().map_err(AppError::internal)
}

/// Text as an XLSX cell: always a string cell (`write_string` never makes a formula,
/// whatever the text starts with). Formula-like text also carries Excel's quote prefix,
/// the mark Excel sets itself when someone types `'=…`: the cell shows and holds the
/// text exactly, and stays text when someone edits it. No `'` is added to the text,
/// except before text that starts with one already, as in CSV, since the register
/// import takes one such `'` off.
fn xlsx_text(
    sheet: &mut Worksheet,
    (row, col): (u32, u16),
    text: &str,
    plain: Option<&XlsxFormat>,
    quoted: &XlsxFormat,
) -> Result<(), XlsxError> {
    if !needs_formula_quote(text) {
        match plain {
            Some(format) => sheet.write_string_with_format(row, col, text, format)?,
            None => sheet.write_string(row, col, text)?,
        };
    } else if text.starts_with('\'') {
        sheet.write_string(row, col, format!("'{text}"))?;
    } else {
        sheet.write_string_with_format(row, col, text, quoted)?;
    }
    Ok(())
}

fn xlsx_bytes(table: &Table) -> Result<Vec<u8>, XlsxError> {
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    sheet.set_name(&table.sheet)?;
    let bold = XlsxFormat::new().set_bold();
    let bold_quoted = XlsxFormat::new().set_bold().set_quote_prefix();
    let quoted = XlsxFormat::new().set_quote_prefix();
    let money = XlsxFormat::new().set_num_format("0.00");
    for (col, title) in table.header.iter().enumerate() {
        xlsx_text(sheet, (0, col as u16), title, Some(&bold), &bold_quoted)?;
    }
    for (r, row) in table.rows.iter().enumerate() {
        let r = r as u32 + 1;
        for (col, cell) in row.iter().enumerate() {
            let col = col as u16;
            match cell {
                // Text stays text: a phone number must not become 1.38E+10.
                Cell::Text(s) => xlsx_text(sheet, (r, col), s, None, &quoted)?,
                Cell::Number(n) => {
                    sheet.write_number(r, col, *n as f64)?;
                }
                // Display only: the sheet shows yuan; every sum here was made in fen.
                Cell::Money(fen) => {
                    sheet.write_number_with_format(r, col, *fen as f64 / 100.0, &money)?;
                }
            };
        }
    }
    book.save_to_buffer()
}

#[cfg(test)]
mod tests {
    use std::io::Cursor;

    use calamine::{Data, Reader, Xlsx};

    use super::{Cell, Table, csv_bytes, xlsx_bytes};

    fn table() -> Table {
        let text = |s: &str| Cell::Text(s.to_string());
        Table {
            sheet: "表".into(),
            header: vec!["名".into(), "数".into(), "钱".into()],
            rows: vec![
                vec![text("=1+2"), Cell::Number(-3), Cell::Money(-1250)],
                vec![text("-3"), Cell::Number(3), Cell::Money(1250)],
                vec![text("\tx"), text("\r=1"), text("@A1")],
                vec![text("'=x"), text("'x"), text("a=b")],
                vec![text("+86 138"), text("谢"), text("")],
            ],
        }
    }

    #[test]
    fn csv_quotes_formula_like_text_and_never_a_number() {
        let bytes = csv_bytes(&table()).expect("csv");
        let text = String::from_utf8(bytes).expect("utf-8");
        assert_eq!(
            text,
            "\u{feff}名,数,钱\n\
             '=1+2,-3,-12.50\n\
             '-3,3,12.50\n\
             '\tx,\"'\r=1\",'@A1\n\
             ''=x,'x,a=b\n\
             '+86 138,谢,\n"
        );
    }

    #[test]
    fn xlsx_writes_formula_like_text_as_strings_and_amounts_as_numbers() {
        let bytes = xlsx_bytes(&table()).expect("xlsx");
        let mut book: Xlsx<_> = calamine::open_workbook_from_rs(Cursor::new(bytes)).expect("book");
        assert_eq!(
            book.worksheet_formula("表")
                .expect("formulas")
                .used_cells()
                .count(),
            0
        );
        let range = book.worksheet_range("表").expect("cells");
        let cell = |r: u32, c: u32| range.get_value((r, c)).cloned().unwrap_or(Data::Empty);
        let text = |s: &str| Data::String(s.to_string());
        assert_eq!(cell(1, 0), text("=1+2"));
        assert_eq!(cell(1, 1), Data::Float(-3.0));
        assert_eq!(cell(1, 2), Data::Float(-12.5));
        assert_eq!(cell(2, 0), text("-3"));
        assert_eq!(cell(3, 2), text("@A1"));
        assert_eq!(cell(4, 0), text("''=x"), "one more quote, as in CSV");
        assert_eq!(cell(4, 1), text("'x"));
        assert_eq!(cell(5, 0), text("+86 138"));
    }
}
