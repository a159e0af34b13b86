//! Report queries over the monthly totals (never over the ledger itself, so that a year
//! of a million lines reads in milliseconds). Sums are cast back to BIGINT: PostgreSQL's
//! `SUM` of a `BIGINT` is `NUMERIC`. Only numbers and formatted dates go into the SQL
//! text here, never text from a request.

use chrono::NaiveDate;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Date, Text};

use super::DbConn;

/// Ids (read from the database, never from a request) for an `IN (…)` of plain SQL.
pub(super) fn id_list(ids: &[i64]) -> String {
    if ids.is_empty() {
        // `IN ()` is not SQL; no row has id 0.
        return "0".into();
    }
    ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",")
}

#[derive(Debug, Clone, QueryableByName)]
pub struct VillageChannel {
    #[diesel(sql_type = BigInt)]
    pub village_id: i64,
    #[diesel(sql_type = Text)]
    pub channel: String,
    #[diesel(sql_type = BigInt)]
    pub sales_fen: i64,
    #[diesel(sql_type = BigInt)]
    pub household_fen: i64,
    #[diesel(sql_type = BigInt)]
    pub collective_fen: i64,
    #[diesel(sql_type = BigInt)]
    pub host_commission_fen: i64,
}

/// Sales and their split by village and channel, months `from..=to`.
pub fn village_channels(
    conn: &mut DbConn,
    village_ids: &[i64],
    from: NaiveDate,
    to: NaiveDate,
) -> QueryResult<Vec<VillageChannel>> {
    diesel::sql_query(format!(
        "SELECT village_id, channel, CAST(SUM(sales_fen) AS BIGINT) AS sales_fen, \
         CAST(SUM(household_fen) AS BIGINT) AS household_fen, \
         CAST(SUM(collective_fen) AS BIGINT) AS collective_fen, \
         CAST(SUM(host_commission_fen) AS BIGINT) AS host_commission_fen \
         FROM village_month_totals WHERE village_id IN ({}) AND month BETWEEN '{from}' AND '{to}' \
         GROUP BY village_id, channel",
        id_list(village_ids)
    ))
    .load(conn)
}

#[derive(Debug, Clone, QueryableByName)]
pub struct HouseholdIncome {
    #[diesel(sql_type = BigInt)]
    pub household_id: i64,
    #[diesel(sql_type = BigInt)]
    pub income_fen: i64,
    #[diesel(sql_type = BigInt)]
    pub payouts_fen: i64,
}

/// Each household's income and payouts in months `from..=to`; households without any
/// total in the period are not in the result (they earned nothing).
pub fn household_incomes(
    conn: &mut DbConn,
    village_ids: &[i64],
    from: NaiveDate,
    to: NaiveDate,
) -> QueryResult<Vec<HouseholdIncome>> {
    diesel::sql_query(format!(
        "SELECT household_id, CAST(SUM(income_fen) AS BIGINT) AS income_fen, \
         CAST(SUM(payouts_fen) AS BIGINT) AS payouts_fen \
         FROM household_month_totals WHERE village_id IN ({}) AND month BETWEEN '{from}' AND '{to}' \
         GROUP BY household_id",
        id_list(village_ids)
    ))
    .load(conn)
}

#[derive(Debug, Clone, QueryableByName)]
pub struct MonthPoint {
    #[diesel(sql_type = Date)]
    pub month: NaiveDate,
    #[diesel(sql_type = BigInt)]
    pub household_fen: i64,
    #[diesel(sql_type = BigInt)]
    pub collective_fen: i64,
}

/// Household income and collective income per month, months `from..=to`.
pub fn months(
    conn: &mut DbConn,
    village_ids: &[i64],
    from: NaiveDate,
    to: NaiveDate,
) -> QueryResult<Vec<MonthPoint>> {
    let ids = id_list(village_ids);
    diesel::sql_query(format!(
        "SELECT month, CAST(SUM(household_fen) AS BIGINT) AS household_fen, \
         CAST(SUM(collective_fen) AS BIGINT) AS collective_fen FROM ( \
           SELECT month, income_fen AS household_fen, 0 AS collective_fen \
           FROM household_month_totals WHERE village_id IN ({ids}) AND month BETWEEN '{from}' AND '{to}' \
           UNION ALL \
           SELECT month, 0 AS household_fen, collective_fen \
           FROM village_month_totals WHERE village_id IN ({ids}) AND month BETWEEN '{from}' AND '{to}' \
         ) AS m GROUP BY month ORDER BY month"
    ))
    .load(conn)
}

#[derive(Debug, Clone, QueryableByName)]
pub struct ProductSales {
    #[diesel(sql_type = BigInt)]
    pub product_id: i64,
    #[diesel(sql_type = Text)]
    pub name_zh: String,
    #[diesel(sql_type = Text)]
    pub name_en: String,
    #[diesel(sql_type = BigInt)]
    pub quantity: i64,
    #[diesel(sql_type = BigInt)]
    pub sales_fen: i64,
}

/// The products that sold most (by money) in months `from..=to`.
pub fn top_products(
    conn: &mut DbConn,
    village_ids: &[i64],
    from: NaiveDate,
    to: NaiveDate,
    limit: i64,
) -> QueryResult<Vec<ProductSales>> {
    diesel::sql_query(format!(
        "SELECT t.product_id, p.name_zh, p.name_en, CAST(SUM(t.quantity) AS BIGINT) AS quantity, \
         CAST(SUM(t.sales_fen) AS BIGINT) AS sales_fen \
         FROM product_month_totals t JOIN products p ON p.id = t.product_id \
         WHERE t.village_id IN ({}) AND t.month BETWEEN '{from}' AND '{to}' \
         GROUP BY t.product_id, p.name_zh, p.name_en ORDER BY sales_fen DESC, t.product_id LIMIT {limit}",
        id_list(village_ids)
    ))
    .load(conn)
}
