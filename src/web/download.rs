//! Tables as downloads: CSV (UTF-8 with a byte-order mark, so that Excel reads the
//! Chinese right) or XLSX, with the same rows as the page they come from. The one CSV
//! writer and the one XLSX writer: every download (register, bank list, packing list,
//! reports) is a `Table` written here.

use actix_web::HttpResponse;
use actix_web::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};

use crate::domain::money::format_yuan_plain;
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

fn csv_bytes(table: &Table) -> AppResult<Vec<u8>> {
    let mut out = csv::Writer::from_writer(b"\xEF\xBB\xBF".to_vec());
    out.write_record(&table.header)
        .map_err(AppError::internal)?;
    for row in &table.rows {
        out.write_record(row.iter().map(|c| match c {
            Cell::Text(s) => s.clone(),
            Cell::Number(n) => n.to_string(),
            Cell::Money(fen) => format_yuan_plain(*fen),
        }))
        .map_err(AppError::internal)?;
    }
    out.into_inner().map_err(AppError::internal)
}

fn xlsx_bytes(table: &Table) -> Result<Vec<u8>, rust_xlsxwriter::XlsxError> {
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    sheet.set_name(&table.sheet)?;
    let bold = rust_xlsxwriter::Format::new().set_bold();
    let money = rust_xlsxwriter::Format::new().set_num_format("0.00");
    for (col, title) in table.header.iter().enumerate() {
        sheet.write_string_with_format(0, col as u16, title, &bold)?;
    }
    for (r, row) in table.rows.iter().enumerate() {
        let r = r as u32 + 1;
        for (col, cell) in row.iter().enumerate() {
            let col = col as u16;
            match cell {
                // Text stays text: a phone number must not become 1.38E+10.
                Cell::Text(s) => sheet.write_string(r, col, s)?,
                Cell::Number(n) => sheet.write_number(r, col, *n as f64)?,
                // Display only: the sheet shows yuan; every sum here was made in fen.
                Cell::Money(fen) => {
                    sheet.write_number_with_format(r, col, *fen as f64 / 100.0, &money)?
                }
            };
        }
    }
    book.save_to_buffer()
}
