//! Queries over livestream hosts (主播), what they are owed and what they were paid, and
//! the figures of sessions and their links that the dashboard, the session report, the
//! host's statement and the reports read.

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;

use super::DbConn;
use super::schema::{host_payouts, live_hosts};
use crate::states::{LedgerKind, PayoutMethod};

#[derive(Debug, Clone, Queryable, Selectable, serde::Serialize)]
#[diesel(table_name = live_hosts)]
pub struct Host {
    pub id: i64,
    pub village_id: i64,
    pub name: String,
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Clone, Queryable, Selectable, serde::Serialize)]
#[diesel(table_name = host_payouts)]
pub struct HostPayout {
    pub id: i64,
    pub host_id: i64,
    pub amount_fen: i64,
    pub method: PayoutMethod,
    pub reference: String,
    pub paid_on: NaiveDate,
    pub recorded_by: Option<i64>,
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = host_payouts)]
pub struct NewHostPayout<'a> {
    pub host_id: i64,
    pub amount_fen: i64,
    pub method: PayoutMethod,
    pub reference: &'a str,
    pub paid_on: NaiveDate,
    pub recorded_by: Option<i64>,
    pub created_at: NaiveDateTime,
}

/// The hosts of `village_ids`, by name.
pub fn hosts_in(conn: &mut DbConn, village_ids: &[i64]) -> QueryResult<Vec<Host>> {
    live_hosts::table
        .filter(live_hosts::village_id.eq_any(village_ids.to_vec()))
        .order((live_hosts::village_id, live_hosts::name))
        .select(Host::as_select())
        .load(conn)
}

/// A host of one of `village_ids`; another village's is not there.
pub fn host_in(conn: &mut DbConn, village_ids: &[i64], id: i64) -> QueryResult<Option<Host>> {
    live_hosts::table
        .filter(live_hosts::id.eq(id))
        .filter(live_hosts::village_id.eq_any(village_ids.to_vec()))
        .select(Host::as_select())
        .first(conn)
        .optional()
}

/// Holds the host's row until the transaction ends, so two payouts cannot both fit in
/// one balance (SQLite's writer lock does this by itself).
pub fn lock(conn: &mut DbConn, id: i64) -> QueryResult<()> {
    let q = live_hosts::table.find(id).select(live_hosts::id);
    match conn {
        DbConn::Pg(c) => q.for_update().first::<i64>(c).map(drop),
        DbConn::Sqlite(c) => q.first::<i64>(c).map(drop),
    }
}

/// What each host is owed: commission less its refunds less payouts, the ledger summed.
pub fn balances(conn: &mut DbConn, host_ids: &[i64]) -> QueryResult<Vec<(i64, i64)>> {
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        host_id: i64,
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        fen: i64,
    }
    let ids = super::reports::id_list(host_ids);
    // Plain SQL: PostgreSQL's SUM of a BIGINT is NUMERIC, cast back on both backends.
    let rows: Vec<Row> = diesel::sql_query(format!(
        "SELECT host_id, CAST(SUM(amount_fen) AS BIGINT) AS fen FROM ledger_entries \
         WHERE host_id IN ({ids}) GROUP BY host_id"
    ))
    .load(conn)?;
    Ok(rows.into_iter().map(|r| (r.host_id, r.fen)).collect())
}

pub fn insert_payout(conn: &mut DbConn, new: &NewHostPayout) -> QueryResult<i64> {
    diesel::insert_into(host_payouts::table)
        .values(new)
        .returning(host_payouts::id)
        .get_result(conn)
}

/// A host's payouts, newest first.
pub fn payouts_of(conn: &mut DbConn, host_id: i64) -> QueryResult<Vec<HostPayout>> {
    host_payouts::table
        .filter(host_payouts::host_id.eq(host_id))
        .order((host_payouts::paid_on.desc(), host_payouts::id.desc()))
        .select(HostPayout::as_select())
        .load(conn)
}

/// One link's figures: what its orders came to and what the host earned on them.
#[derive(Debug, Clone, Default, QueryableByName, serde::Serialize)]
pub struct ItemFigures {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    pub item_id: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    pub session_id: i64,
    /// Orders placed through the link, whatever became of them.
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    pub orders: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    pub paid_orders: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    pub paid_fen: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    pub refunded_fen: i64,
    /// 主播佣金 on the paid sales, less what refunds took back.
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    pub commission_fen: i64,
}

/// The figures of every link of `session_ids` (ids the caller read from the database).
pub fn item_figures(conn: &mut DbConn, session_ids: &[i64]) -> QueryResult<Vec<ItemFigures>> {
    let ids = super::reports::id_list(session_ids);
    // The commission per order first, so that joining it does not count an order once per
    // entry; only the sessions' hosts' entries are read (the partial index on `host_id`).
    diesel::sql_query(format!(
        "SELECT i.id AS item_id, i.session_id, \
         CAST(COUNT(o.id) AS BIGINT) AS orders, \
         CAST(COALESCE(SUM(CASE WHEN o.paid_at IS NOT NULL THEN 1 ELSE 0 END), 0) AS BIGINT) AS paid_orders, \
         CAST(COALESCE(SUM(o.paid_fen), 0) AS BIGINT) AS paid_fen, \
         CAST(COALESCE(SUM(o.refunded_fen), 0) AS BIGINT) AS refunded_fen, \
         CAST(COALESCE(SUM(c.fen), 0) AS BIGINT) AS commission_fen \
         FROM live_items i \
         LEFT JOIN orders o ON o.live_item_id = i.id \
         LEFT JOIN (SELECT order_id, SUM(amount_fen) AS fen FROM ledger_entries \
                    WHERE host_id IN (SELECT host_id FROM live_sessions WHERE id IN ({ids})) \
                    AND kind IN ('{}', '{}') GROUP BY order_id) c ON c.order_id = o.id \
         WHERE i.session_id IN ({ids}) \
         GROUP BY i.id, i.session_id ORDER BY i.session_id, i.id",
        LedgerKind::HostCommission.as_str(),
        LedgerKind::RefundHostCommission.as_str(),
    ))
    .load(conn)
}
