//! The ledger (ARCHITECTURE §5, §6.3): allocations of paid lines to lots, append-only
//! `ledger_entries`, the monthly totals posted with them, and payouts. Entries are only
//! ever inserted; `post` is the one way in, and it keeps the totals in the same
//! transaction.

use std::collections::BTreeMap;

use chrono::{Datelike, NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use diesel::upsert::excluded;

use super::schema::{
    allocations, household_month_totals, ledger_entries, payouts, product_month_totals,
    village_month_totals,
};
use super::{DbConn, insert_batched};
use crate::states::{LedgerKind, PayoutMethod};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = allocations)]
pub struct Allocation {
    pub id: i64,
    pub order_line_id: i64,
    pub lot_id: i64,
    pub household_id: i64,
    pub first_unit: i32,
    pub quantity: i32,
    pub amount_fen: i64,
    pub collective_share_bp: i32,
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = allocations)]
pub struct NewAllocation {
    pub order_line_id: i64,
    pub lot_id: i64,
    pub household_id: i64,
    pub first_unit: i32,
    pub quantity: i32,
    pub amount_fen: i64,
    pub collective_share_bp: i32,
    pub created_at: NaiveDateTime,
}

pub fn insert_allocation(conn: &mut DbConn, new: &NewAllocation) -> QueryResult<i64> {
    diesel::insert_into(allocations::table)
        .values(new)
        .returning(allocations::id)
        .get_result(conn)
}

/// A line's allocations in the order of the units they cover.
pub fn allocations_of_line(conn: &mut DbConn, line_id: i64) -> QueryResult<Vec<Allocation>> {
    allocations::table
        .filter(allocations::order_line_id.eq(line_id))
        .order(allocations::first_unit)
        .select(Allocation::as_select())
        .load(conn)
}

/// Sale kinds carry a channel and count in sales.
fn is_sale(kind: LedgerKind) -> bool {
    !matches!(
        kind,
        LedgerKind::Purchase | LedgerKind::Payout | LedgerKind::HostPayout
    )
}

/// The host's commission and its refunds: part of a sale, but neither household's nor
/// collective's.
fn is_commission(kind: LedgerKind) -> bool {
    matches!(
        kind,
        LedgerKind::HostCommission | LedgerKind::RefundHostCommission
    )
}

fn is_collective(kind: LedgerKind) -> bool {
    matches!(
        kind,
        LedgerKind::CollectiveShare | LedgerKind::CollectiveSale | LedgerKind::RefundCollective
    )
}

#[derive(Debug, Clone, Insertable)]
// `None` is NULL, not DEFAULT: then SQLite batches are one statement, not one per row.
#[diesel(table_name = ledger_entries, treat_none_as_default_value = false)]
pub struct NewLedgerEntry {
    pub kind: LedgerKind,
    pub village_id: i64,
    pub household_id: Option<i64>,
    pub channel: Option<String>,
    pub product_id: Option<i64>,
    pub order_id: Option<i64>,
    pub order_line_id: Option<i64>,
    pub allocation_id: Option<i64>,
    pub lot_id: Option<i64>,
    pub refund_id: Option<i64>,
    pub payout_id: Option<i64>,
    /// The host (主播) of a commission, its refund or a payout to the host.
    pub host_id: Option<i64>,
    pub quantity: i32,
    pub amount_fen: i64,
    pub business_date: NaiveDate,
    pub business_month: NaiveDate,
    pub created_at: NaiveDateTime,
}

impl NewLedgerEntry {
    /// Money handed over on `paid_on` (to a household or a host: the caller says which,
    /// and its kind), lowering what is owed by `amount_fen`.
    pub fn handover(
        kind: LedgerKind,
        village_id: i64,
        amount_fen: i64,
        paid_on: NaiveDate,
        now: NaiveDateTime,
    ) -> NewLedgerEntry {
        NewLedgerEntry {
            kind,
            village_id,
            household_id: None,
            channel: None,
            product_id: None,
            order_id: None,
            order_line_id: None,
            allocation_id: None,
            lot_id: None,
            refund_id: None,
            payout_id: None,
            host_id: None,
            quantity: 0,
            amount_fen: -amount_fen,
            business_date: paid_on,
            business_month: month_of(paid_on),
            created_at: now,
        }
    }
}

/// Whether a host's commission was posted for a line when it was paid.
pub fn commission_posted(conn: &mut DbConn, line_id: i64) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        ledger_entries::table
            .filter(ledger_entries::host_id.is_not_null())
            .filter(ledger_entries::order_line_id.eq(line_id))
            .filter(ledger_entries::kind.eq(LedgerKind::HostCommission)),
    ))
    .get_result(conn)
}

/// The first day of `day`'s month.
pub fn month_of(day: NaiveDate) -> NaiveDate {
    day.with_day(1).unwrap_or(day)
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HouseholdMonth {
    pub village_id: i64,
    pub income_fen: i64,
    pub payouts_fen: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Queryable)]
pub struct VillageMonth {
    pub sales_fen: i64,
    pub household_fen: i64,
    pub collective_fen: i64,
    /// 主播佣金 out of `sales_fen`, before the split.
    pub host_commission_fen: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProductMonth {
    pub village_id: i64,
    pub quantity: i64,
    pub sales_fen: i64,
}

/// What a set of entries adds to each total, keyed as the totals tables are.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Totals {
    pub households: BTreeMap<(i64, NaiveDate), HouseholdMonth>,
    pub villages: BTreeMap<(i64, NaiveDate, String), VillageMonth>,
    pub products: BTreeMap<(i64, NaiveDate), ProductMonth>,
}

/// What of an entry the totals count.
pub struct Posting<'a> {
    pub kind: LedgerKind,
    pub village_id: i64,
    pub household_id: Option<i64>,
    pub channel: Option<&'a str>,
    pub product_id: Option<i64>,
    pub quantity: i64,
    pub amount_fen: i64,
    pub month: NaiveDate,
}

impl Totals {
    pub fn add(&mut self, p: &Posting) {
        let Posting {
            kind,
            village_id,
            household_id,
            channel,
            product_id,
            quantity,
            amount_fen,
            month,
        } = *p;
        if let Some(h) = household_id {
            let t = self.households.entry((h, month)).or_default();
            t.village_id = village_id;
            if kind == LedgerKind::Payout {
                t.payouts_fen -= amount_fen;
            } else {
                t.income_fen += amount_fen;
            }
        }
        if !is_sale(kind) {
            return;
        }
        if let Some(channel) = channel {
            let t = self
                .villages
                .entry((village_id, month, channel.to_string()))
                .or_default();
            t.sales_fen += amount_fen;
            if is_commission(kind) {
                t.host_commission_fen += amount_fen;
            } else if is_collective(kind) {
                t.collective_fen += amount_fen;
            } else {
                t.household_fen += amount_fen;
            }
        }
        if let Some(p) = product_id {
            let t = self.products.entry((p, month)).or_default();
            t.village_id = village_id;
            t.sales_fen += amount_fen;
            // A line's units are counted once: by the entry that carries them.
            t.quantity += quantity;
        }
    }
}

/// Appends entries to the ledger and adds them to the monthly totals.
pub fn post(conn: &mut DbConn, entries: &[NewLedgerEntry]) -> QueryResult<()> {
    if entries.is_empty() {
        return Ok(());
    }
    let inserted: QueryResult<()> = insert_batched!(conn, ledger_entries::table, entries);
    inserted?;
    let mut totals = Totals::default();
    for e in entries {
        totals.add(&Posting {
            kind: e.kind,
            village_id: e.village_id,
            household_id: e.household_id,
            channel: e.channel.as_deref(),
            product_id: e.product_id,
            quantity: i64::from(e.quantity),
            amount_fen: e.amount_fen,
            month: e.business_month,
        });
    }
    add_totals(conn, &totals)
}

/// Adds `totals` to the totals tables: one upsert per row (the backends' `ON CONFLICT`).
pub fn add_totals(conn: &mut DbConn, totals: &Totals) -> QueryResult<()> {
    macro_rules! upsert_all {
        ($c:expr) => {{
            for ((household, month), t) in &totals.households {
                diesel::insert_into(household_month_totals::table)
                    .values((
                        household_month_totals::household_id.eq(household),
                        household_month_totals::village_id.eq(t.village_id),
                        household_month_totals::month.eq(month),
                        household_month_totals::income_fen.eq(t.income_fen),
                        household_month_totals::payouts_fen.eq(t.payouts_fen),
                    ))
                    .on_conflict((
                        household_month_totals::household_id,
                        household_month_totals::month,
                    ))
                    .do_update()
                    .set((
                        household_month_totals::income_fen.eq(household_month_totals::income_fen
                            + excluded(household_month_totals::income_fen)),
                        household_month_totals::payouts_fen.eq(household_month_totals::payouts_fen
                            + excluded(household_month_totals::payouts_fen)),
                    ))
                    .execute($c)?;
            }
            for ((village, month, channel), t) in &totals.villages {
                diesel::insert_into(village_month_totals::table)
                    .values((
                        village_month_totals::village_id.eq(village),
                        village_month_totals::month.eq(month),
                        village_month_totals::channel.eq(channel),
                        village_month_totals::sales_fen.eq(t.sales_fen),
                        village_month_totals::household_fen.eq(t.household_fen),
                        village_month_totals::collective_fen.eq(t.collective_fen),
                        village_month_totals::host_commission_fen.eq(t.host_commission_fen),
                    ))
                    .on_conflict((
                        village_month_totals::village_id,
                        village_month_totals::month,
                        village_month_totals::channel,
                    ))
                    .do_update()
                    .set((
                        village_month_totals::sales_fen.eq(village_month_totals::sales_fen
                            + excluded(village_month_totals::sales_fen)),
                        village_month_totals::household_fen.eq(village_month_totals::household_fen
                            + excluded(village_month_totals::household_fen)),
                        village_month_totals::collective_fen
                            .eq(village_month_totals::collective_fen
                                + excluded(village_month_totals::collective_fen)),
                        village_month_totals::host_commission_fen
                            .eq(village_month_totals::host_commission_fen
                                + excluded(village_month_totals::host_commission_fen)),
                    ))
                    .execute($c)?;
            }
            for ((product, month), t) in &totals.products {
                diesel::insert_into(product_month_totals::table)
                    .values((
                        product_month_totals::product_id.eq(product),
                        product_month_totals::village_id.eq(t.village_id),
                        product_month_totals::month.eq(month),
                        product_month_totals::quantity.eq(t.quantity),
                        product_month_totals::sales_fen.eq(t.sales_fen),
                    ))
                    .on_conflict((
                        product_month_totals::product_id,
                        product_month_totals::month,
                    ))
                    .do_update()
                    .set((
                        product_month_totals::quantity.eq(product_month_totals::quantity
                            + excluded(product_month_totals::quantity)),
                        product_month_totals::sales_fen.eq(product_month_totals::sales_fen
                            + excluded(product_month_totals::sales_fen)),
                    ))
                    .execute($c)?;
            }
            Ok(())
        }};
    }
    match conn {
        DbConn::Sqlite(c) => upsert_all!(c),
        DbConn::Pg(c) => upsert_all!(c),
    }
}

#[derive(QueryableByName)]
struct EntrySum {
    #[diesel(sql_type = diesel::sql_types::Text)]
    kind: LedgerKind,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    village_id: i64,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::BigInt>)]
    household_id: Option<i64>,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
    channel: Option<String>,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::BigInt>)]
    product_id: Option<i64>,
    #[diesel(sql_type = diesel::sql_types::Date)]
    business_month: NaiveDate,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    quantity: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    amount_fen: i64,
}

/// The totals as the ledger says they should be, recomputed from every entry. (Plain
/// SQL: PostgreSQL's `SUM` of a `BIGINT` is `NUMERIC`, cast back here on both backends.)
pub fn recompute_totals(conn: &mut DbConn) -> QueryResult<Totals> {
    let rows: Vec<EntrySum> = diesel::sql_query(
        "SELECT kind, village_id, household_id, channel, product_id, business_month, \
         CAST(SUM(quantity) AS BIGINT) AS quantity, CAST(SUM(amount_fen) AS BIGINT) AS amount_fen \
         FROM ledger_entries \
         GROUP BY kind, village_id, household_id, channel, product_id, business_month",
    )
    .load(conn)?;
    let mut totals = Totals::default();
    for r in rows {
        totals.add(&Posting {
            kind: r.kind,
            village_id: r.village_id,
            household_id: r.household_id,
            channel: r.channel.as_deref(),
            product_id: r.product_id,
            quantity: r.quantity,
            amount_fen: r.amount_fen,
            month: r.business_month,
        });
    }
    Ok(totals)
}

/// The totals tables as stored.
pub fn stored_totals(conn: &mut DbConn) -> QueryResult<Totals> {
    let mut totals = Totals::default();
    let rows: Vec<(i64, i64, NaiveDate, i64, i64)> = household_month_totals::table
        .select((
            household_month_totals::household_id,
            household_month_totals::village_id,
            household_month_totals::month,
            household_month_totals::income_fen,
            household_month_totals::payouts_fen,
        ))
        .load(conn)?;
    for (h, village_id, month, income_fen, payouts_fen) in rows {
        totals.households.insert(
            (h, month),
            HouseholdMonth {
                village_id,
                income_fen,
                payouts_fen,
            },
        );
    }
    let rows: Vec<(i64, NaiveDate, String, VillageMonth)> = village_month_totals::table
        .select((
            village_month_totals::village_id,
            village_month_totals::month,
            village_month_totals::channel,
            (
                village_month_totals::sales_fen,
                village_month_totals::household_fen,
                village_month_totals::collective_fen,
                village_month_totals::host_commission_fen,
            ),
        ))
        .load(conn)?;
    for (v, month, channel, totals_row) in rows {
        totals.villages.insert((v, month, channel), totals_row);
    }
    let rows: Vec<(i64, i64, NaiveDate, i64, i64)> = product_month_totals::table
        .select((
            product_month_totals::product_id,
            product_month_totals::village_id,
            product_month_totals::month,
            product_month_totals::quantity,
            product_month_totals::sales_fen,
        ))
        .load(conn)?;
    for (p, village_id, month, quantity, sales_fen) in rows {
        totals.products.insert(
            (p, month),
            ProductMonth {
                village_id,
                quantity,
                sales_fen,
            },
        );
    }
    Ok(totals)
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = ledger_entries)]
pub struct LedgerEntry {
    pub id: i64,
    pub kind: LedgerKind,
    pub village_id: i64,
    pub household_id: Option<i64>,
    pub channel: Option<String>,
    pub product_id: Option<i64>,
    pub order_id: Option<i64>,
    pub order_line_id: Option<i64>,
    pub quantity: i32,
    pub amount_fen: i64,
    pub business_date: NaiveDate,
}

/// A household's entries on days `from..=to`, in order.
pub fn household_entries(
    conn: &mut DbConn,
    household_id: i64,
    from: NaiveDate,
    to: NaiveDate,
) -> QueryResult<Vec<LedgerEntry>> {
    ledger_entries::table
        .filter(ledger_entries::household_id.eq(household_id))
        .filter(ledger_entries::business_date.between(from, to))
        .order((ledger_entries::business_date, ledger_entries::id))
        .select(LedgerEntry::as_select())
        .load(conn)
}

#[derive(QueryableByName)]
struct Amount {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    fen: i64,
}

/// What a household is owed from its entries before `day` (`None`: all of them).
pub fn household_balance(
    conn: &mut DbConn,
    household_id: i64,
    before: Option<NaiveDate>,
) -> QueryResult<i64> {
    // Only numbers and a formatted date go into the text: nothing from a request.
    let before = before.map_or(String::new(), |d| format!(" AND business_date < '{d}'"));
    let row: Amount = diesel::sql_query(format!(
        "SELECT CAST(COALESCE(SUM(amount_fen), 0) AS BIGINT) AS fen FROM ledger_entries \
         WHERE household_id = {household_id}{before}"
    ))
    .get_result(conn)?;
    Ok(row.fen)
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = payouts)]
pub struct NewPayout<'a> {
    pub household_id: i64,
    pub amount_fen: i64,
    pub method: PayoutMethod,
    pub reference: &'a str,
    pub paid_on: NaiveDate,
    pub recorded_by: Option<i64>,
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = payouts)]
pub struct Payout {
    pub id: i64,
    pub household_id: i64,
    pub amount_fen: i64,
    pub method: PayoutMethod,
    pub reference: String,
    pub paid_on: NaiveDate,
    pub created_at: NaiveDateTime,
}

pub fn insert_payout(conn: &mut DbConn, new: &NewPayout) -> QueryResult<i64> {
    diesel::insert_into(payouts::table)
        .values(new)
        .returning(payouts::id)
        .get_result(conn)
}

pub fn payouts_of(conn: &mut DbConn, household_id: i64) -> QueryResult<Vec<Payout>> {
    payouts::table
        .filter(payouts::household_id.eq(household_id))
        .order((payouts::paid_on.desc(), payouts::id.desc()))
        .select(Payout::as_select())
        .load(conn)
}

#[derive(QueryableByName)]
struct Balance {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    household_id: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    fen: i64,
}

/// What each household of `village_ids` is owed now, from the monthly totals;
/// households that never had an entry are left out.
pub fn balances(conn: &mut DbConn, village_ids: &[i64]) -> QueryResult<Vec<(i64, i64)>> {
    // Ids are numbers from the database, never text from a request.
    let ids: Vec<String> = village_ids.iter().map(i64::to_string).collect();
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let rows: Vec<Balance> = diesel::sql_query(format!(
        "SELECT household_id, CAST(SUM(income_fen) - SUM(payouts_fen) AS BIGINT) AS fen \
         FROM household_month_totals WHERE village_id IN ({}) GROUP BY household_id",
        ids.join(",")
    ))
    .load(conn)?;
    Ok(rows.into_iter().map(|r| (r.household_id, r.fen)).collect())
}

/// Money in from buyers (`paid_fen` of paid orders) and money refunded to them.
pub fn money_in_and_refunded(conn: &mut DbConn) -> QueryResult<(i64, i64)> {
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        paid: i64,
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        refunded: i64,
    }
    let row: Row = diesel::sql_query(
        "SELECT CAST(COALESCE(SUM(paid_fen), 0) AS BIGINT) AS paid, \
         CAST(COALESCE(SUM(refunded_fen), 0) AS BIGINT) AS refunded FROM orders",
    )
    .get_result(conn)?;
    Ok((row.paid, row.refunded))
}

/// The sum of the sale entries: household and collective shares and the hosts'
/// commission, net of refunds.
pub fn sales_total(conn: &mut DbConn) -> QueryResult<i64> {
    let row: Amount = diesel::sql_query(format!(
        "SELECT CAST(COALESCE(SUM(amount_fen), 0) AS BIGINT) AS fen FROM ledger_entries \
         WHERE kind NOT IN ('{}', '{}', '{}')",
        LedgerKind::Purchase.as_str(),
        LedgerKind::Payout.as_str(),
        LedgerKind::HostPayout.as_str()
    ))
    .get_result(conn)?;
    Ok(row.fen)
}

#[derive(QueryableByName)]
pub struct LineRefunds {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    pub line_id: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    pub counted: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    pub recorded: i64,
}

/// Order lines whose units counted as refunded differ from what their refunds hold.
pub fn lines_with_unrecorded_refunds(conn: &mut DbConn) -> QueryResult<Vec<LineRefunds>> {
    diesel::sql_query(
        "SELECT l.id AS line_id, CAST(l.refunded_quantity AS BIGINT) AS counted, \
         CAST(COALESCE(SUM(r.quantity), 0) AS BIGINT) AS recorded \
         FROM order_lines l LEFT JOIN refund_lines r ON r.order_line_id = l.id \
         GROUP BY l.id, l.refunded_quantity \
         HAVING l.refunded_quantity <> COALESCE(SUM(r.quantity), 0)",
    )
    .load(conn)
}
