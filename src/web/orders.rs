//! `GET /orders/{token}`: a buyer's own order, by the secret token in its link.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use serde_json::json;

use super::AppState;
use super::render::Ctx;
use crate::domain::money::format_fen;
use crate::domain::{china_time, orders};
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
