//! The rules of the marketplace, free of HTTP: what the storefront shows, who may sign
//! in and what they may reach, money and business dates, the demo data.

pub mod accounts;
pub mod actor;
pub mod admin;
pub mod api_limits;
pub mod api_tokens;
pub mod audit;
pub mod canteen;
pub mod cart;
pub mod catalog;
pub mod demo;
pub mod demo_canteen;
pub mod demo_history;
pub mod demo_live;
pub mod error;
pub mod fulfilment;
pub mod households;
pub mod images;
pub mod ledger;
pub mod live;
pub mod live_hosts;
pub mod money;
pub mod notify;
pub mod orders;
pub mod password_reset;
pub mod payments;
pub mod payouts;
pub mod products;
pub mod refunds;
pub mod register;
pub mod reports;
pub mod spreadsheet;
pub mod statements;
pub mod stock;
pub mod team;
pub mod validation;

use chrono::{Datelike, NaiveDate, NaiveDateTime, Utc};

/// Now, in UTC, as stored in every timestamp column.
pub fn now_utc() -> NaiveDateTime {
    Utc::now().naive_utc()
}

/// The business date (China time, UTC+8, no daylight saving) of a UTC instant.
pub fn china_date(utc: NaiveDateTime) -> NaiveDate {
    china_time(utc).date()
}

/// The UTC instant at which a business date begins in China.
pub fn china_start(date: NaiveDate) -> NaiveDateTime {
    date.and_time(chrono::NaiveTime::MIN) - chrono::Duration::hours(8)
}

/// The UTC instants that bound a year in China: its first instant and the next year's.
pub fn china_year(year: i32) -> (NaiveDateTime, NaiveDateTime) {
    let start = |y: i32| china_start(NaiveDate::from_ymd_opt(y, 1, 1).unwrap_or_default());
    (start(year), start(year + 1))
}

/// A UTC instant as the wall-clock time in China, for display.
pub fn china_time(utc: NaiveDateTime) -> NaiveDateTime {
    utc + chrono::Duration::hours(8)
}

/// The month (1–12) it is in China at `utc`.
pub fn china_month(utc: NaiveDateTime) -> u32 {
    china_date(utc).month()
}
