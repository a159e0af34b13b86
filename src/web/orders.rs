//! Orders as people follow them: a buyer's own order by the secret token in its link
//! (`/orders/{token}`), and a work team's orders touching its villages (`/team/orders`),
//! where a manual payment is recorded.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use serde_json::json;

use super::AppState;
use super::auth::{TeamArea, redirect};
use super::csrf::{self, CsrfForm};
use super::forms::{coded_options, errors_json};
use super::render::Ctx;
use crate::db::orders as db_orders;
use crate::domain::audit::Who;
use crate::domain::money::format_fen;
use crate::domain::orders::OrderError;
use crate::domain::validation::FieldErrors;
use crate::domain::{china_time, now_utc, orders};
use crate::error::{AppError, AppResult};

pub async fn show(
    state: web::Data<AppState>,
    ctx: Ctx,
    token: web::Path<String>,
) -> AppResult<HttpResponse> {
    let token = token.into_inner();
    if token.len() != 48 || !token.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(AppError::NotFound);
    }
    let view = state
        .db(move |conn| orders::by_token(conn, &token))
        .await?
        .ok_or(AppError::NotFound)?;
    let lang = ctx.lang;
    let o = &view.order;
    let data = json!({
        "order": {
            "number": o.number,
            "status": o.status,
            "status_label": lang.t(&format!("order-status-{}", o.status)),
            "total": format_fen(o.total_fen),
            "payment_method": lang.t(&format!("payment-{}", o.payment_method)),
            "bank_transfer": o.payment_method == "bank_transfer" && o.status == "pending_payment",
            "reserved_until": o.reserved_until.map(|t| china_time(t).format("%Y-%m-%d %H:%M").to_string()),
            "name": o.buyer_name,
            "address": o.delivery_address,
            "placed": china_time(o.created_at).format("%Y-%m-%d %H:%M").to_string(),
        },
        "lines": view.lines.iter().map(|l| json!({
            "name": lang.pick(&l.product_name_zh, &l.product_name_en),
            "unit": lang.pick(&l.sale_unit_zh, &l.sale_unit_en),
            "quantity": l.quantity,
            "unit_price": format_fen(l.unit_price_fen),
            "line_total": format_fen(l.line_total_fen),
        })).collect::<Vec<_>>(),
    });
    ctx.page(&state.templates, StatusCode::OK, "pages/order", data)
}

const ORDER_STATUSES: [&str; 4] = ["pending_payment", "paid", "expired", "cancelled"];

#[derive(serde::Deserialize, Default)]
#[serde(default)]
pub struct StatusFilter {
    status: String,
}

/// `/team/orders`: orders with a line from the member's villages.
pub async fn team_list(
    state: web::Data<AppState>,
    ctx: Ctx,
    area: TeamArea,
    filter: web::Query<StatusFilter>,
) -> AppResult<HttpResponse> {
    let status = filter.into_inner().status;
    if !status.is_empty() && !ORDER_STATUSES.contains(&status.as_str()) {
        return Err(AppError::bad_field("status", status));
    }
    let (ids, s) = (area.village_ids.clone(), status.clone());
    let found = state
        .db(move |conn| {
            db_orders::touching_villages(conn, &ids, (!s.is_empty()).then_some(s.as_str()), 200)
        })
        .await?;
    let lang = ctx.lang;
    let data = json!({
        "orders": found.iter().map(|o| json!({
            "id": o.id, "number": o.number, "status": lang.t(&format!("order-status-{}", o.status)),
            "total": format_fen(o.total_fen), "name": o.buyer_name,
            "placed": china_time(o.created_at).format("%m-%d %H:%M").to_string(),
        })).collect::<Vec<_>>(),
        "statuses": coded_options(lang, &ORDER_STATUSES, "order-status-", &status),
    });
    ctx.page(&state.templates, StatusCode::OK, "pages/team/orders", data)
}

async fn team_order(state: &AppState, area: &TeamArea, id: i64) -> AppResult<db_orders::Order> {
    let ids = area.village_ids.clone();
    state
        .db(move |conn| db_orders::touching_villages_by_id(conn, &ids, id))
        .await?
        .ok_or(AppError::NotFound)
}

async fn render_team_order(
    state: &AppState,
    ctx: &Ctx,
    area: &TeamArea,
    order: &db_orders::Order,
    status: StatusCode,
    errors: &FieldErrors,
) -> AppResult<HttpResponse> {
    let (ids, id) = (area.village_ids.clone(), order.id);
    let lines = state.db(move |conn| db_orders::lines(conn, id)).await?;
    let lang = ctx.lang;
    let data = json!({
        "csrf_token": csrf::token(&ctx.session),
        "order": {
            "id": order.id, "number": order.number, "status": order.status,
            "status_label": lang.t(&format!("order-status-{}", order.status)),
            "total": format_fen(order.total_fen), "name": order.buyer_name, "phone": order.buyer_phone,
            "address": order.delivery_address, "note": order.note,
            "payment_method": lang.t(&format!("payment-{}", order.payment_method)),
            "pending": order.status == "pending_payment",
        },
        // Each team sees its own villages' lines only.
        "lines": lines.iter().filter(|l| ids.contains(&l.village_id)).map(|l| json!({
            "name": lang.pick(&l.product_name_zh, &l.product_name_en),
            "unit": lang.pick(&l.sale_unit_zh, &l.sale_unit_en),
            "quantity": l.quantity, "line_total": format_fen(l.line_total_fen),
        })).collect::<Vec<_>>(),
        "errors": errors_json(lang, errors),
    });
    ctx.page(&state.templates, status, "pages/team/order", data)
}

pub async fn team_show(
    state: web::Data<AppState>,
    ctx: Ctx,
    area: TeamArea,
    id: web::Path<i64>,
) -> AppResult<HttpResponse> {
    let order = team_order(&state, &area, id.into_inner()).await?;
    render_team_order(
        &state,
        &ctx,
        &area,
        &order,
        StatusCode::OK,
        &FieldErrors::default(),
    )
    .await
}

#[derive(serde::Deserialize, Default)]
#[serde(default)]
pub struct PaidForm {
    reference: String,
}

pub async fn mark_paid(
    state: web::Data<AppState>,
    ctx: Ctx,
    area: TeamArea,
    id: web::Path<i64>,
    CsrfForm(form): CsrfForm<PaidForm>,
) -> AppResult<HttpResponse> {
    let order = team_order(&state, &area, id.into_inner()).await?;
    let who = Who::from(&area.actor);
    let o = order.clone();
    let result = state
        .db(move |conn| {
            Ok::<_, AppError>(orders::mark_paid(
                conn,
                &who,
                &o,
                &form.reference,
                now_utc(),
            ))
        })
        .await?;
    match result {
        Ok(()) => Ok(redirect(&format!("/team/orders/{}", order.id))),
        Err(OrderError::Invalid(errors)) => {
            let fresh = team_order(&state, &area, order.id).await?;
            render_team_order(
                &state,
                &ctx,
                &area,
                &fresh,
                StatusCode::UNPROCESSABLE_ENTITY,
                &errors,
            )
            .await
        }
        Err(OrderError::Lines(_)) => Err(AppError::Internal(
            "a payment has no lines to refuse".into(),
        )),
        Err(OrderError::Database(e)) => Err(e.into()),
    }
}

/// `/my/orders`: a signed-in buyer's order history, each linking to its order page.
pub async fn history(state: web::Data<AppState>, ctx: Ctx) -> AppResult<HttpResponse> {
    let Some(user) = ctx.user.as_ref() else {
        return Err(AppError::SignInRequired {
            next: ctx.uri.clone(),
        });
    };
    let id = user.id;
    let mine = state
        .db(move |conn| db_orders::of_buyer(conn, id, 200))
        .await?;
    let lang = ctx.lang;
    let data = json!({
        "orders": mine.iter().map(|o| json!({
            "token": o.token, "number": o.number, "status": lang.t(&format!("order-status-{}", o.status)),
            "total": format_fen(o.total_fen), "placed": china_time(o.created_at).format("%Y-%m-%d %H:%M").to_string(),
        })).collect::<Vec<_>>(),
    });
    ctx.page(&state.templates, StatusCode::OK, "pages/my_orders", data)
}
