//! `/team/live/hosts`: the livestream hosts (主播) of the team's villages with what each
//! is owed, and a host's statement (主播结算单): their sessions with what each sold and
//! earned them, the payouts, and the form to record the next one.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use serde_json::json;

use super::AppState;
use super::auth::{TeamArea, redirect};
use super::csrf::{self, CsrfForm};
use super::forms::{coded_options, errors_json};
use super::orders::time;
use super::render::Ctx;
use crate::domain::actor::Who;
use crate::domain::live_hosts;
use crate::domain::money::format_fen;
use crate::domain::payouts::PayoutForm;
use crate::domain::validation::FieldErrors;
use crate::domain::{china_date, now_utc};
use crate::error::{AppError, AppResult};
use crate::states::PayoutMethod;

/// `GET /team/live/hosts`: every host of the team's villages and what they are owed.
pub async fn list(state: web::Data<AppState>, ctx: Ctx, area: TeamArea) -> AppResult<HttpResponse> {
    let scope = area.scope.clone();
    let owed = state.db(move |conn| live_hosts::owed(conn, &scope)).await?;
    let data = json!({
        "hosts": owed.iter().map(|o| json!({
            "id": o.host.id, "name": o.host.name, "balance": format_fen(o.balance_fen),
        })).collect::<Vec<_>>(),
        "total": format_fen(owed.iter().map(|o| o.balance_fen.max(0)).sum()),
    });
    ctx.page(
        &state.templates,
        StatusCode::OK,
        "pages/team/live_hosts",
        data,
    )
}

async fn render_statement(
    state: &AppState,
    ctx: &Ctx,
    area: &TeamArea,
    id: i64,
    status: StatusCode,
    form: &PayoutForm,
    errors: &FieldErrors,
) -> AppResult<HttpResponse> {
    let scope = area.scope.clone();
    let statement = state
        .db(move |conn| live_hosts::statement(conn, &scope, id))
        .await?;
    let lang = ctx.lang;
    let data = json!({
        "csrf_token": csrf::token(&ctx.session),
        "host": { "id": statement.host.id, "name": statement.host.name },
        "sessions": statement.sessions.iter().map(|(s, sum)| json!({
            "id": s.id, "title": s.title, "starts_at": time(s.starts_at),
            "platform": lang.t(&format!("live-platform-{}", s.platform)),
            "commission_rate": super::live::commission_rate(s.host_commission_bp),
            "paid": format_fen(sum.paid_fen), "refunded": format_fen(sum.refunded_fen),
            "commission": format_fen(sum.commission_fen),
        })).collect::<Vec<_>>(),
        "earned": format_fen(statement.sessions.iter().map(|(_, sum)| sum.commission_fen).sum()),
        "payouts": statement.payouts.iter().map(|p| json!({
            "paid_on": p.paid_on.to_string(), "amount": format_fen(p.amount_fen),
            "method": lang.t(&format!("payout-{}", p.method)), "reference": p.reference,
        })).collect::<Vec<_>>(),
        "balance": format_fen(statement.balance_fen),
        "owed": statement.balance_fen > 0,
        "methods": coded_options(lang, PayoutMethod::ALL, "payout-", &form.method),
        "values": form,
        "today": china_date(now_utc()).to_string(),
        "errors": errors_json(lang, errors),
        "has_errors": !errors.is_empty(),
    });
    ctx.page(&state.templates, status, "pages/team/live_host", data)
}

/// `GET /team/live/hosts/{id}`: a host's statement; another village's host is a 404.
pub async fn statement(
    state: web::Data<AppState>,
    ctx: Ctx,
    area: TeamArea,
    id: web::Path<i64>,
) -> AppResult<HttpResponse> {
    let none = FieldErrors::default();
    let form = PayoutForm::default();
    render_statement(
        &state,
        &ctx,
        &area,
        id.into_inner(),
        StatusCode::OK,
        &form,
        &none,
    )
    .await
}

/// `POST /team/live/hosts/{id}/payouts`: money handed to the host.
pub async fn record_payout(
    state: web::Data<AppState>,
    ctx: Ctx,
    area: TeamArea,
    id: web::Path<i64>,
    CsrfForm(form): CsrfForm<PayoutForm>,
) -> AppResult<HttpResponse> {
    let id = id.into_inner();
    let (who, scope, f) = (Who::from(&area.actor), area.scope.clone(), form.clone());
    let result = state
        .db(move |conn| live_hosts::record_payout(conn, &who, &scope, id, &f, now_utc()))
        .await;
    match result {
        Ok(_) => Ok(redirect(&format!("/team/live/hosts/{id}"))),
        Err(AppError::Invalid(errors)) => {
            let status = StatusCode::UNPROCESSABLE_ENTITY;
            render_statement(&state, &ctx, &area, id, status, &form, &errors).await
        }
        Err(e) => Err(e),
    }
}
