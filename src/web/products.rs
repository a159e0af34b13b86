//! `/team/products`: the village's products in the workspace — stock, a low-stock mark
//! under the team's threshold, and the lots each product's stock came from.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use serde_json::json;

use super::AppState;
use super::auth::TeamArea;
use super::render::Ctx;
use super::stock::lot_row;
use crate::db::stock as q;
use crate::domain::catalog::StockState;
use crate::domain::money::format_fen;
use crate::error::{AppError, AppResult};

pub async fn list(state: web::Data<AppState>, ctx: Ctx, area: TeamArea) -> AppResult<HttpResponse> {
    let ids = area.village_ids.clone();
    let products = state
        .db(move |conn| q::products_of_villages(conn, &ids))
        .await?;
    let lang = ctx.lang;
    let data = json!({
        "products": products.iter().map(|p| json!({
            "id": p.id,
            "name": lang.pick(&p.name_zh, &p.name_en),
            "price": format_fen(p.unit_price_fen),
            "unit": lang.pick(&p.sale_unit_zh, &p.sale_unit_en),
            "stock": p.stock,
            "low": StockState::of(p) != StockState::InStock,
            "status": lang.t(&format!("product-status-{}", p.status)),
        })).collect::<Vec<_>>(),
    });
    ctx.page(
        &state.templates,
        StatusCode::OK,
        "pages/team/products",
        data,
    )
}

pub async fn show(
    state: web::Data<AppState>,
    ctx: Ctx,
    area: TeamArea,
    id: web::Path<i64>,
) -> AppResult<HttpResponse> {
    let (ids, id) = (area.village_ids.clone(), id.into_inner());
    let (product, lots) = state
        .db(move |conn| {
            let Some(product) = q::product_in_villages(conn, &ids, id)? else {
                return Err(AppError::NotFound);
            };
            let lots = q::lots(conn, &ids, Some(product.id), None, 500)?;
            Ok((product, lots))
        })
        .await?;
    let lang = ctx.lang;
    let data = json!({
        "product": {
            "id": product.id,
            "name": lang.pick(&product.name_zh, &product.name_en),
            "price": format_fen(product.unit_price_fen),
            "unit": lang.pick(&product.sale_unit_zh, &product.sale_unit_en),
            "stock": product.stock,
            "threshold": product.low_stock_threshold,
            "low": StockState::of(&product) != StockState::InStock,
            "supply_mode": lang.t(&format!("supply-{}", product.supply_mode)),
            "status": lang.t(&format!("product-status-{}", product.status)),
        },
        "lots": lots.iter().map(|(l, p, h)| lot_row(lang, l, p, h)).collect::<Vec<_>>(),
    });
    ctx.page(&state.templates, StatusCode::OK, "pages/team/product", data)
}
