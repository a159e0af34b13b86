//! `/team/payouts`: what each household of the team's villages is owed, payouts recorded
//! against it, the bank-transfer list to hand to the bank, each household's history, and
//! its printable statement (共富账单).

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use chrono::{Datelike, NaiveDate};
use serde_json::{Value, json};

use super::AppState;
use super::auth::{TeamArea, redirect};
use super::csrf::{self, CsrfForm};
use super::download::{self, Cell, Format, Table};
use super::forms::{coded_options, errors_json};
use super::render::Ctx;
use crate::domain::actor::Who;
use crate::domain::money::{format_fen, mask_phone};
use crate::domain::payouts::{self, PayoutForm};
use crate::domain::statements::{self, Statement};
use crate::domain::validation::FieldErrors;
use crate::domain::{china_date, now_utc};
use crate::error::{AppError, AppResult};
use crate::i18n::Lang;
use crate::states::PayoutMethod;

async fn render_list(
    state: &AppState,
    ctx: &Ctx,
    area: &TeamArea,
    status: StatusCode,
    form: &PayoutForm,
    errors: &FieldErrors,
) -> AppResult<HttpResponse> {
    let scope = area.scope.clone();
    let owed = state.db(move |conn| payouts::owed(conn, &scope)).await?;
    let lang = ctx.lang;
    let total: i64 = owed.iter().map(|o| o.balance_fen.max(0)).sum();
    let data = json!({
        "csrf_token": csrf::token(&ctx.session),
        "households": owed.iter().map(|o| json!({
            "id": o.household.id, "code": o.household.code, "name": o.household.head_name,
            "method": lang.t(&format!("payout-{}", o.household.payout_method)),
            "balance": format_fen(o.balance_fen), "owed": o.balance_fen > 0,
            "selected": o.household.id.to_string() == form.household_id,
        })).collect::<Vec<_>>(),
        "total": format_fen(total),
        "methods": coded_options(lang, PayoutMethod::ALL, "payout-", &form.method),
        "values": form,
        "today": china_date(now_utc()).to_string(),
        "errors": errors_json(lang, errors),
    });
    ctx.page(&state.templates, status, "pages/team/payouts", data)
}

pub async fn list(state: web::Data<AppState>, ctx: Ctx, area: TeamArea) -> AppResult<HttpResponse> {
    let form = PayoutForm::default();
    let none = FieldErrors::default();
    render_list(&state, &ctx, &area, StatusCode::OK, &form, &none).await
}

pub async fn record(
    state: web::Data<AppState>,
    ctx: Ctx,
    area: TeamArea,
    CsrfForm(form): CsrfForm<PayoutForm>,
) -> AppResult<HttpResponse> {
    let (who, scope, f) = (Who::from(&area.actor), area.scope.clone(), form.clone());
    let result = state
        .db(move |conn| payouts::record(conn, &who, &scope, &f, now_utc()))
        .await;
    match result {
        Ok(_) => Ok(redirect(&format!(
            "/team/payouts/{}",
            form.household_id.trim()
        ))),
        Err(AppError::Invalid(errors)) => {
            let status = StatusCode::UNPROCESSABLE_ENTITY;
            render_list(&state, &ctx, &area, status, &form, &errors).await
        }
        Err(e) => Err(e),
    }
}

/// The bank-transfer list: households owed money who are paid by bank, with their
/// account, as CSV or XLSX for the bank.
pub async fn bank_list(
    state: web::Data<AppState>,
    ctx: Ctx,
    area: TeamArea,
    format: web::Path<String>,
) -> AppResult<HttpResponse> {
    let format = Format::parse(&format)?;
    let scope = area.scope.clone();
    let owed = state
        .db(move |conn| payouts::bank_transfers(conn, &scope))
        .await?;
    let lang = ctx.lang;
    let header = [
        "household-code",
        "household-head-name",
        "household-payout-account",
        "payouts-amount",
    ]
    .iter()
    .map(|k| lang.t(k))
    .collect();
    let rows = owed
        .iter()
        .map(|o| {
            vec![
                Cell::Text(o.household.code.clone()),
                Cell::Text(o.household.head_name.clone()),
                Cell::Text(o.household.payout_account.clone().unwrap_or_default()),
                Cell::Money(o.balance_fen),
            ]
        })
        .collect();
    let table = Table {
        sheet: lang.t("payouts-bank-sheet"),
        header,
        rows,
    };
    download::respond(&table, format, "bank-transfers")
}

/// One household's payouts and what it is owed now.
pub async fn history(
    state: web::Data<AppState>,
    ctx: Ctx,
    area: TeamArea,
    id: web::Path<i64>,
) -> AppResult<HttpResponse> {
    let (scope, id) = (area.scope.clone(), id.into_inner());
    let page = state
        .db(move |conn| payouts::history(conn, &scope, id))
        .await?;
    let lang = ctx.lang;
    let household = &page.household;
    let data = json!({
        "household": { "id": household.id, "code": household.code, "name": household.head_name },
        "balance": format_fen(page.balance_fen),
        "payouts": page.payouts.iter().map(|p| json!({
            "paid_on": p.paid_on.to_string(), "amount": format_fen(p.amount_fen),
            "method": lang.t(&format!("payout-{}", p.method)), "reference": p.reference,
        })).collect::<Vec<_>>(),
    });
    ctx.page(
        &state.templates,
        StatusCode::OK,
        "pages/team/payout_history",
        data,
    )
}

#[derive(serde::Deserialize, Default)]
#[serde(default)]
pub struct PeriodQuery {
    from: String,
    to: String,
}

/// The period asked for (`from`, `to` as `YYYY-MM-DD`); by default this month so far.
pub fn period(q: &PeriodQuery) -> AppResult<(NaiveDate, NaiveDate)> {
    days(&q.from, &q.to)
}

/// The days `from..=to` as typed (`YYYY-MM-DD`, empty for the default): this month so
/// far unless given; a day that is no date (or not in 2000–2100) is a 400 naming it, `to`
/// before `from` a 422 naming `to`.
pub fn days(from: &str, to: &str) -> AppResult<(NaiveDate, NaiveDate)> {
    let today = china_date(now_utc());
    let day = |field: &str, raw: &str, default: NaiveDate| -> AppResult<NaiveDate> {
        match raw.trim() {
            "" => Ok(default),
            s => NaiveDate::parse_from_str(s, "%Y-%m-%d")
                .ok()
                .filter(|d| (2000..=2100).contains(&d.year()))
                .ok_or_else(|| AppError::bad_field(field, raw)),
        }
    };
    let (from, to) = (
        day("from", from, today.with_day(1).unwrap_or(today))?,
        day("to", to, today)?,
    );
    if to < from {
        return Err(AppError::Invalid(FieldErrors::single(
            "to",
            "invalid-days-reversed",
        )));
    }
    Ok((from, to))
}

/// The statement as the page shows it; phone masked unless `full_phone`.
pub fn statement_json(lang: Lang, s: &Statement, full_phone: bool) -> Value {
    let h = &s.household;
    let phone = h.phone.as_deref().map(|p| {
        if full_phone {
            p.to_string()
        } else {
            mask_phone(p)
        }
    });
    json!({
        "household": {
            "id": h.id, "code": h.code, "name": h.head_name, "phone": phone,
            "members": h.resident_members,
            "category": lang.t(&format!("category-household-{}", h.category)),
        },
        "from": s.from.to_string(), "to": s.to.to_string(),
        "opening": format_fen(s.opening_fen), "closing": format_fen(s.closing_fen),
        "earned": format_fen(s.earned_fen), "paid_out": format_fen(s.paid_out_fen),
        "lines": s.lines.iter().map(|l| json!({
            "date": l.entry.business_date.to_string(),
            "kind": lang.t(&format!("ledger-kind-{}", l.entry.kind)),
            "product": l.product.as_ref().map(|(zh, en)| lang.pick(zh, en).to_string()),
            "quantity": (l.entry.quantity != 0).then_some(l.entry.quantity),
            "amount": format_fen(l.entry.amount_fen),
        })).collect::<Vec<_>>(),
    })
}

/// `/team/households/{id}/statement`: the household's 共富账单 for a period, to print.
pub async fn statement(
    state: web::Data<AppState>,
    ctx: Ctx,
    area: TeamArea,
    id: web::Path<i64>,
    query: web::Query<PeriodQuery>,
) -> AppResult<HttpResponse> {
    let (from, to) = period(&query)?;
    let (scope, id) = (area.scope.clone(), id.into_inner());
    let s = state
        .db(move |conn| statements::of_team_household(conn, &scope, id, from, to))
        .await?;
    let mut data = statement_json(ctx.lang, &s, true);
    data["base"] = json!(format!("/team/households/{}/statement", s.household.id));
    ctx.page(&state.templates, StatusCode::OK, "pages/statement", data)
}
