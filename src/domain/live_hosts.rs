//! Livestream hosts (主播) after their sessions: what each earned (the commission posted
//! to the ledger when a live order is paid, less what refunds took back), what the team
//! handed over, and the host's statement of sessions. A host is paid like a household:
//! never more than the ledger says they are owed, with a ledger entry and an audit entry.

use chrono::NaiveDateTime;
use serde_json::json;

use crate::db::ledger::{self as lq, NewLedgerEntry};
use crate::db::live::{self as lv, LiveSession};
use crate::db::live_hosts::{self as q, Host, HostPayout, ItemFigures, NewHostPayout};
use crate::db::{DbConn, write_transaction};
use crate::domain::actor::{TeamScope, Who};
use crate::domain::audit::{self, Change};
use crate::domain::error::{DomainError, DomainResult};
use crate::domain::payouts::{Handover, PayoutForm, refuse_over_balance};
use crate::domain::validation::FieldErrors;
use crate::states::LedgerKind;

/// A host and what they are owed now.
pub struct Owed {
    pub host: Host,
    pub balance_fen: i64,
}

/// The hosts of the member's villages with their balances.
pub fn owed(conn: &mut DbConn, scope: &TeamScope) -> DomainResult<Vec<Owed>> {
    let hosts = q::hosts_in(conn, scope.village_ids())?;
    let ids: Vec<i64> = hosts.iter().map(|h| h.id).collect();
    let balances: std::collections::HashMap<i64, i64> =
        q::balances(conn, &ids)?.into_iter().collect();
    Ok(hosts
        .into_iter()
        .map(|host| Owed {
            balance_fen: balances.get(&host.id).copied().unwrap_or(0),
            host,
        })
        .collect())
}

/// A session's figures summed over its links.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Sum {
    pub orders: i64,
    pub paid_orders: i64,
    pub paid_fen: i64,
    pub refunded_fen: i64,
    pub commission_fen: i64,
}

impl Sum {
    /// Links' figures summed.
    pub fn of<'a>(figures: impl IntoIterator<Item = &'a ItemFigures>) -> Sum {
        Sum::of_sums(figures.into_iter().map(|f| Sum {
            orders: f.orders,
            paid_orders: f.paid_orders,
            paid_fen: f.paid_fen,
            refunded_fen: f.refunded_fen,
            commission_fen: f.commission_fen,
        }))
    }

    /// What is left for the village: paid, less refunds, less the host's commission.
    pub fn net_fen(&self) -> i64 {
        self.paid_fen - self.refunded_fen - self.commission_fen
    }

    /// Sessions' sums summed.
    pub fn of_sums<S: std::borrow::Borrow<Sum>>(sums: impl IntoIterator<Item = S>) -> Sum {
        sums.into_iter().fold(Sum::default(), |s, f| {
            let f = f.borrow();
            Sum {
                orders: s.orders + f.orders,
                paid_orders: s.paid_orders + f.paid_orders,
                paid_fen: s.paid_fen + f.paid_fen,
                refunded_fen: s.refunded_fen + f.refunded_fen,
                commission_fen: s.commission_fen + f.commission_fen,
            }
        })
    }
}

/// 主播结算单: a host's sessions with what each sold and earned them, the payouts, and
/// what is owed now.
pub struct Statement {
    pub host: Host,
    pub sessions: Vec<(LiveSession, Sum)>,
    pub payouts: Vec<HostPayout>,
    pub balance_fen: i64,
}

pub fn statement(conn: &mut DbConn, scope: &TeamScope, host_id: i64) -> DomainResult<Statement> {
    let host = q::host_in(conn, scope.village_ids(), host_id)?.ok_or(DomainError::NotFound)?;
    let sessions = lv::sessions_of_host(conn, host.id)?;
    let ids: Vec<i64> = sessions.iter().map(|s| s.id).collect();
    let figures = q::item_figures(conn, &ids)?;
    Ok(Statement {
        sessions: sessions
            .into_iter()
            .map(|s| {
                let sum = Sum::of(figures.iter().filter(|f| f.session_id == s.id));
                (s, sum)
            })
            .collect(),
        payouts: q::payouts_of(conn, host.id)?,
        balance_fen: balance(conn, host.id)?,
        host,
    })
}

fn balance(conn: &mut DbConn, host_id: i64) -> DomainResult<i64> {
    Ok(q::balances(conn, &[host_id])?
        .first()
        .map_or(0, |(_, fen)| *fen))
}

/// Records money handed to a host of the member's villages: at most what they are owed,
/// with a ledger entry that lowers it and an audit entry.
pub fn record_payout(
    conn: &mut DbConn,
    who: &Who,
    scope: &TeamScope,
    host_id: i64,
    form: &PayoutForm,
    now: NaiveDateTime,
) -> DomainResult<i64> {
    let host = q::host_in(conn, scope.village_ids(), host_id)?.ok_or(DomainError::NotFound)?;
    let mut errors = FieldErrors::default();
    let handover = Handover::read(&mut errors, form, now);
    let Some(handover) = handover.filter(|_| errors.is_empty()) else {
        return Err(errors.into());
    };
    write_transaction(conn, |conn| {
        q::lock(conn, host.id)?;
        let owed = balance(conn, host.id)?;
        refuse_over_balance(handover.amount, owed)?;
        let payout_id = q::insert_payout(
            conn,
            &NewHostPayout {
                host_id: host.id,
                amount_fen: handover.amount,
                method: handover.method,
                reference: &handover.reference,
                paid_on: handover.paid_on,
                recorded_by: who.user_id,
                created_at: now,
            },
        )?;
        lq::post(
            conn,
            &[NewLedgerEntry {
                host_id: Some(host.id),
                ..NewLedgerEntry::handover(
                    LedgerKind::HostPayout,
                    host.village_id,
                    handover.amount,
                    handover.paid_on,
                    now,
                )
            }],
        )?;
        let change = Change {
            action: "payout",
            entity: "live_host",
            entity_id: host.id,
            village_id: Some(host.village_id),
            before: Some(json!({ "balance_fen": owed })),
            after: Some(json!({
                "balance_fen": owed - handover.amount, "payout_fen": handover.amount,
                "host_payout_id": payout_id, "method": handover.method,
                "reference": handover.reference, "paid_on": handover.paid_on,
            })),
        };
        audit::record(conn, who, change, now)?;
        Ok(payout_id)
    })
}
