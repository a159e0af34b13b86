//! 共富账单: a household's statement for a period — every sale of its goods, what it
//! earned from purchased lots, refunds, payouts — between its opening and closing
//! balance, all read from the ledger.

use crate::states::LedgerKind;
use std::collections::HashMap;

use chrono::NaiveDate;
use diesel::QueryResult;

use crate::db::DbConn;
use crate::db::catalog::{self as cat};
use crate::db::households::{self as hh, Household};
use crate::db::ledger::{self as q, LedgerEntry};
use crate::domain::actor::TeamScope;
use crate::domain::error::{DomainError, DomainResult};

pub struct StatementLine {
    pub entry: LedgerEntry,
    /// The product's names (zh, en), for sales, purchases and refunds.
    pub product: Option<(String, String)>,
}

pub struct Statement {
    pub household: Household,
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub opening_fen: i64,
    pub lines: Vec<StatementLine>,
    pub earned_fen: i64,
    pub paid_out_fen: i64,
    pub closing_fen: i64,
}

/// The statement of a household of the member's villages for the days `from..=to`.
pub fn of_team_household(
    conn: &mut DbConn,
    scope: &TeamScope,
    household_id: i64,
    from: NaiveDate,
    to: NaiveDate,
) -> DomainResult<Statement> {
    let household =
        hh::in_villages(conn, scope.village_ids(), household_id)?.ok_or(DomainError::NotFound)?;
    Ok(statement(conn, household, from, to)?)
}

/// The statement of `household` for the days `from..=to`.
pub fn statement(
    conn: &mut DbConn,
    household: Household,
    from: NaiveDate,
    to: NaiveDate,
) -> QueryResult<Statement> {
    let opening_fen = q::household_balance(conn, household.id, Some(from))?;
    let entries = q::household_entries(conn, household.id, from, to)?;
    let mut ids: Vec<i64> = entries.iter().filter_map(|e| e.product_id).collect();
    ids.sort_unstable();
    ids.dedup();
    let names: HashMap<i64, (String, String)> = cat::product_names(conn, &ids)?
        .into_iter()
        .map(|(id, zh, en)| (id, (zh, en)))
        .collect();
    let paid_out_fen = -entries
        .iter()
        .filter(|e| e.kind == LedgerKind::Payout)
        .map(|e| e.amount_fen)
        .sum::<i64>();
    let earned_fen = entries
        .iter()
        .filter(|e| e.kind != LedgerKind::Payout)
        .map(|e| e.amount_fen)
        .sum::<i64>();
    let lines = entries
        .into_iter()
        .map(|entry| StatementLine {
            product: entry.product_id.and_then(|p| names.get(&p).cloned()),
            entry,
        })
        .collect();
    Ok(Statement {
        household,
        from,
        to,
        opening_fen,
        lines,
        earned_fen,
        paid_out_fen,
        closing_fen: opening_fen + earned_fen - paid_out_fen,
    })
}
