//! Payouts to households (`/team/payouts`): what each household is owed — its ledger
//! summed — and the money a team hands over, which can never be more than that.

use crate::states::LedgerKind;
use chrono::{NaiveDate, NaiveDateTime};
use serde_json::json;

use crate::db::households as hh;
use crate::db::ledger::{self as q, NewLedgerEntry, NewPayout};
use crate::db::{DbConn, write_transaction};
use crate::domain::actor::{TeamScope, Who};
use crate::domain::audit::{self, Change};
use crate::domain::china_date;
use crate::domain::error::{DomainError, DomainResult};
use crate::domain::money::format_fen;
use crate::domain::validation::{self as v, FieldErrors};
use crate::states::PayoutMethod;

pub use crate::db::households::Household;
pub use crate::db::ledger::Payout;

#[derive(Debug, Clone, Default, serde::Deserialize, serde::Serialize)]
#[serde(default)]
pub struct PayoutForm {
    pub household_id: String,
    pub amount: String,
    pub method: String,
    pub reference: String,
    pub paid_on: String,
}

/// Money handed over to a household or a host: how much, how, the bank's reference
/// (required for a bank transfer) and the day (today when left empty, never ahead).
pub struct Handover {
    pub amount: i64,
    pub method: PayoutMethod,
    pub reference: String,
    pub paid_on: NaiveDate,
}

impl Handover {
    pub fn read(errors: &mut FieldErrors, form: &PayoutForm, now: NaiveDateTime) -> Option<Self> {
        let amount = v::price_yuan(errors, "amount", &form.amount);
        let method = v::state(errors, "method", &form.method, PayoutMethod::parse);
        let reference = v::optional_text(errors, "reference", &form.reference, 64);
        if method == Some(PayoutMethod::Bank) && reference.is_none() && !errors.has("reference") {
            errors.add("reference", "invalid-required");
        }
        let today = china_date(now);
        let paid_on = if form.paid_on.trim().is_empty() {
            Some(today)
        } else {
            v::date(errors, "paid_on", &form.paid_on)
        };
        let earliest = NaiveDate::from_ymd_opt(2000, 1, 1).unwrap_or(today);
        if paid_on.is_some_and(|d| d > today || d < earliest) {
            errors.add("paid_on", "invalid-date-range");
        }
        Some(Handover {
            amount: amount?,
            method: method?,
            reference: reference.unwrap_or_default(),
            paid_on: paid_on?,
        })
    }
}

/// Refuses to hand over more than is owed, naming the amount and the balance.
pub fn refuse_over_balance(amount: i64, balance: i64) -> DomainResult<()> {
    if amount > balance {
        let mut errors = FieldErrors::default();
        errors.add_with(
            "amount",
            "invalid-payout-over-balance",
            vec![("balance", format_fen(balance))],
        );
        return Err(errors.into());
    }
    Ok(())
}

/// A household and what it is owed.
pub struct Owed {
    pub household: Household,
    pub balance_fen: i64,
}

/// Every active household of the member's villages with its balance, by village and
/// code.
pub fn owed(conn: &mut DbConn, scope: &TeamScope) -> DomainResult<Vec<Owed>> {
    let village_ids = scope.village_ids();
    let balances: std::collections::HashMap<i64, i64> =
        q::balances(conn, village_ids)?.into_iter().collect();
    Ok(hh::active_in_villages(conn, village_ids)?
        .into_iter()
        .map(|household| Owed {
            balance_fen: balances.get(&household.id).copied().unwrap_or(0),
            household,
        })
        .collect())
}

/// The bank-transfer list: households of the member's villages owed money who are paid
/// by bank, to hand to the bank.
pub fn bank_transfers(conn: &mut DbConn, scope: &TeamScope) -> DomainResult<Vec<Owed>> {
    Ok(owed(conn, scope)?
        .into_iter()
        .filter(|o| o.balance_fen > 0 && o.household.payout_method == PayoutMethod::Bank)
        .collect())
}

/// Records a payout to a household of the member's villages: at most its balance, with
/// a ledger entry that lowers what it is owed and an audit entry. A household outside
/// the villages is refused like any wrong choice.
pub fn record(
    conn: &mut DbConn,
    who: &Who,
    scope: &TeamScope,
    form: &PayoutForm,
    now: NaiveDateTime,
) -> DomainResult<i64> {
    let mut errors = FieldErrors::default();
    let household = match form.household_id.trim().parse::<i64>() {
        Ok(id) => hh::in_villages(conn, scope.village_ids(), id)?,
        Err(_) => None,
    };
    if household.is_none() {
        errors.add("household_id", "invalid-choice");
    }
    let handover = Handover::read(&mut errors, form, now);
    let (
        Some(household),
        Some(Handover {
            amount,
            method,
            reference,
            paid_on,
        }),
    ) = (household, handover)
    else {
        return Err(errors.into());
    };
    if !errors.is_empty() {
        return Err(errors.into());
    }
    write_transaction(conn, |conn| {
        hh::lock(conn, household.id)?;
        let balance = q::household_balance(conn, household.id, None)?;
        refuse_over_balance(amount, balance)?;
        let payout_id = q::insert_payout(
            conn,
            &NewPayout {
                household_id: household.id,
                amount_fen: amount,
                method,
                reference: &reference,
                paid_on,
                recorded_by: who.user_id,
                created_at: now,
            },
        )?;
        q::post(
            conn,
            &[NewLedgerEntry {
                household_id: Some(household.id),
                payout_id: Some(payout_id),
                ..NewLedgerEntry::handover(
                    LedgerKind::Payout,
                    household.village_id,
                    amount,
                    paid_on,
                    now,
                )
            }],
        )?;
        let change = Change {
            action: "payout",
            entity: "household",
            entity_id: household.id,
            village_id: Some(household.village_id),
            before: Some(json!({ "balance_fen": balance })),
            after: Some(json!({
                "balance_fen": balance - amount, "payout_fen": amount, "method": method,
                "reference": reference, "paid_on": paid_on,
            })),
        };
        audit::record(conn, who, change, now)?;
        Ok(payout_id)
    })
}

/// A household of the member's villages: its payouts, newest first, and what it is
/// owed now.
pub struct PayoutHistory {
    pub household: Household,
    pub payouts: Vec<Payout>,
    pub balance_fen: i64,
}

pub fn history(
    conn: &mut DbConn,
    scope: &TeamScope,
    household_id: i64,
) -> DomainResult<PayoutHistory> {
    let household =
        hh::in_villages(conn, scope.village_ids(), household_id)?.ok_or(DomainError::NotFound)?;
    Ok(PayoutHistory {
        payouts: q::payouts_of(conn, household.id)?,
        balance_fen: q::household_balance(conn, household.id, None)?,
        household,
    })
}
