//! Payouts to households (`/team/payouts`): what each household is owed — its ledger
//! summed — and the money a team hands over, which can never be more than that.

use chrono::{NaiveDate, NaiveDateTime};
use diesel::QueryResult;
use serde_json::json;

use crate::db::households::{self as hh, Household};
use crate::db::ledger::{self as q, NewLedgerEntry, NewPayout, Payout, kind, month_of};
use crate::db::{DbConn, write_transaction};
use crate::domain::actor::Who;
use crate::domain::audit::{self, Change};
use crate::domain::china_date;
use crate::domain::money::format_fen;
use crate::domain::validation::{self as v, FieldErrors};

pub const METHODS: [&str; 4] = ["cash", "bank", "wechat", "alipay"];

#[derive(Debug, Clone, Default, serde::Deserialize, serde::Serialize)]
#[serde(default)]
pub struct PayoutForm {
    pub household_id: String,
    pub amount: String,
    pub method: String,
    pub reference: String,
    pub paid_on: String,
}

#[derive(Debug, thiserror::Error)]
pub enum PayoutError {
    #[error("invalid payout")]
    Invalid(FieldErrors),
    #[error(transparent)]
    Database(#[from] diesel::result::Error),
}

/// A household and what it is owed.
pub struct Owed {
    pub household: Household,
    pub balance_fen: i64,
}

/// Every active household of `village_ids` with its balance, by village and code.
pub fn owed(conn: &mut DbConn, village_ids: &[i64]) -> QueryResult<Vec<Owed>> {
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

/// Records a payout to a household of `village_ids`: at most its balance, with a
/// ledger entry that lowers what it is owed and an audit entry.
pub fn record(
    conn: &mut DbConn,
    who: &Who,
    village_ids: &[i64],
    form: &PayoutForm,
    now: NaiveDateTime,
) -> Result<i64, PayoutError> {
    let mut errors = FieldErrors::default();
    let household = match form.household_id.trim().parse::<i64>() {
        Ok(id) => hh::in_villages(conn, village_ids, id)?,
        Err(_) => None,
    };
    if household.is_none() {
        errors.add("household_id", "invalid-choice");
    }
    let amount = v::price_yuan(&mut errors, "amount", &form.amount);
    let method = v::one_of(&mut errors, "method", &form.method, &METHODS);
    let reference = v::optional_text(&mut errors, "reference", &form.reference, 64);
    if method.as_deref() == Some("bank") && reference.is_none() && !errors.has("reference") {
        errors.add("reference", "invalid-required");
    }
    let today = china_date(now);
    let paid_on = if form.paid_on.trim().is_empty() {
        Some(today)
    } else {
        v::date(&mut errors, "paid_on", &form.paid_on)
    };
    if paid_on.is_some_and(|d| d > today || d < NaiveDate::from_ymd_opt(2000, 1, 1).unwrap_or(d)) {
        errors.add("paid_on", "invalid-date-range");
    }
    let (Some(household), Some(amount), Some(method), Some(paid_on)) =
        (household, amount, method, paid_on)
    else {
        return Err(PayoutError::Invalid(errors));
    };
    if !errors.is_empty() {
        return Err(PayoutError::Invalid(errors));
    }
    write_transaction(conn, |conn| {
        hh::lock(conn, household.id)?;
        let balance = q::household_balance(conn, household.id, None)?;
        if amount > balance {
            let mut errors = FieldErrors::default();
            errors.add_with(
                "amount",
                "invalid-payout-over-balance",
                vec![("balance", format_fen(balance))],
            );
            return Err(PayoutError::Invalid(errors));
        }
        let reference = reference.clone().unwrap_or_default();
        let payout_id = q::insert_payout(
            conn,
            &NewPayout {
                household_id: household.id,
                amount_fen: amount,
                method: &method,
                reference: &reference,
                paid_on,
                recorded_by: who.user_id,
                created_at: now,
            },
        )?;
        q::post(
            conn,
            &[NewLedgerEntry {
                kind: kind::PAYOUT,
                village_id: household.village_id,
                household_id: Some(household.id),
                channel: None,
                product_id: None,
                order_id: None,
                order_line_id: None,
                allocation_id: None,
                lot_id: None,
                refund_id: None,
                payout_id: Some(payout_id),
                quantity: 0,
                amount_fen: -amount,
                business_date: paid_on,
                business_month: month_of(paid_on),
                created_at: now,
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

pub fn history(conn: &mut DbConn, household_id: i64) -> QueryResult<Vec<Payout>> {
    q::payouts_of(conn, household_id)
}
