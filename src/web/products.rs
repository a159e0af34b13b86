//! `/team/products`: the village's products in the workspace — stock, a low-stock mark
//! under the team's threshold, and the lots each product's stock came from.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use serde_json::json;

use super::AppState;
use super::auth::{TeamArea, redirect};
use super::csrf::{self, CsrfForm};
use super::forms::{all, coded_options, errors_json, field, village_options};
use super::render::Ctx;
use super::stock::lot_row;
use super::upload::Upload;
use crate::db::catalog::{Village, price_tiers};
use crate::db::stock as q;
use crate::domain::actor::Who;
use crate::domain::catalog::StockState;
use crate::domain::images;
use crate::domain::money::format_fen;
use crate::domain::now_utc;
use crate::domain::products::{
    self, CATEGORIES, ProductError, ProductForm, STATUSES, SUPPLY_MODES, TIER_ROWS, TierForm,
};
use crate::domain::validation::FieldErrors;
use crate::error::{AppError, AppResult};

pub async fn list(state: web::Data<AppState>, ctx: Ctx, area: TeamArea) -> AppResult<HttpResponse> {
    let ids = area.scope.village_ids().to_vec();
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
    render_show(
        &state,
        &ctx,
        &area,
        id.into_inner(),
        StatusCode::OK,
        &FieldErrors::default(),
    )
    .await
}

/// The product's workspace page: stock, lots, photo, with any problem of an upload.
async fn render_show(
    state: &AppState,
    ctx: &Ctx,
    area: &TeamArea,
    id: i64,
    status: StatusCode,
    errors: &FieldErrors,
) -> AppResult<HttpResponse> {
    let ids = area.scope.village_ids().to_vec();
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
        "csrf_token": csrf::token(&ctx.session),
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
            "image": product.image,
        },
        "lots": lots.iter().map(|(l, p, h)| lot_row(lang, l, p, h)).collect::<Vec<_>>(),
        "errors": errors_json(lang, errors),
    });
    ctx.page(&state.templates, status, "pages/team/product", data)
}

pub async fn upload_image(
    state: web::Data<AppState>,
    ctx: Ctx,
    area: TeamArea,
    id: web::Path<i64>,
    upload: Upload,
) -> AppResult<HttpResponse> {
    let id = id.into_inner();
    let product = find(&state, &area, id).await?;
    let upload = upload.verified()?;
    let file = upload.file("image")?;
    let prepared = match images::prepare("image", &file.bytes) {
        Ok(prepared) => prepared,
        Err(errors) => {
            return render_show(
                &state,
                &ctx,
                &area,
                id,
                StatusCode::UNPROCESSABLE_ENTITY,
                &errors,
            )
            .await;
        }
    };
    let who = Who::from(&area.actor);
    state
        .db(move |conn| images::attach(conn, &who, &product, &prepared, now_utc()))
        .await?;
    Ok(redirect(&format!("/team/products/{id}")))
}

/// The create/edit form with the values typed so far and a message at each wrong field.
fn render_form(
    state: &AppState,
    ctx: &Ctx,
    status: StatusCode,
    villages: &[Village],
    product_id: Option<i64>,
    form: &ProductForm,
    errors: &FieldErrors,
) -> AppResult<HttpResponse> {
    let lang = ctx.lang;
    let messages = errors_json(lang, errors);
    let mut tiers = form.tiers.clone();
    tiers.resize(TIER_ROWS.max(tiers.len()), Default::default());
    let data = json!({
        "csrf_token": csrf::token(&ctx.session),
        "product_id": product_id,
        "action": product_id.map_or("/team/products".to_string(), |id| format!("/team/products/{id}")),
        "values": form,
        "errors": messages,
        "has_errors": !errors.is_empty(),
        "villages": village_options(lang, villages, &form.village_id),
        "categories": coded_options(lang, &CATEGORIES, "category-", &form.category),
        "statuses": coded_options(lang, &STATUSES, "product-status-", &form.status),
        "supply_modes": coded_options(lang, &SUPPLY_MODES, "supply-", &form.supply_mode),
        "months": (1..=12).map(|m| json!({
            "value": m, "label": lang.t(&format!("month-{m}")), "checked": form.season.contains(&m.to_string()),
        })).collect::<Vec<_>>(),
        "tiers": tiers.iter().enumerate().map(|(i, t)| json!({
            "n": i + 1, "min_quantity": t.min_quantity, "price": t.price, "canteen_only": t.canteen_only,
            "min_error": messages.get(format!("tier_min_{}", i + 1)),
            "price_error": messages.get(format!("tier_price_{}", i + 1)),
        })).collect::<Vec<_>>(),
    });
    ctx.page(&state.templates, status, "pages/team/product_form", data)
}

/// Reads the product form (`tier_min_1`…, `season` repeated) as the browser sent it.
fn product_form(pairs: &[(String, String)]) -> ProductForm {
    let get = |name: &str| field(pairs, name);
    ProductForm {
        village_id: get("village_id"),
        name_zh: get("name_zh"),
        name_en: get("name_en"),
        description_zh: get("description_zh"),
        description_en: get("description_en"),
        category: get("category"),
        sale_unit_zh: get("sale_unit_zh"),
        sale_unit_en: get("sale_unit_en"),
        unit_price: get("unit_price"),
        min_per_order: get("min_per_order"),
        max_per_order: get("max_per_order"),
        season: all(pairs, "season"),
        status: get("status"),
        supply_mode: get("supply_mode"),
        low_stock_threshold: get("low_stock_threshold"),
        tiers: (1..=TIER_ROWS)
            .map(|i| TierForm {
                min_quantity: get(&format!("tier_min_{i}")),
                price: get(&format!("tier_price_{i}")),
                canteen_only: !get(&format!("tier_canteen_{i}")).is_empty(),
            })
            .collect(),
    }
}

pub async fn new_form(
    state: web::Data<AppState>,
    ctx: Ctx,
    area: TeamArea,
) -> AppResult<HttpResponse> {
    let villages = area.villages(&state).await?;
    let form = ProductForm {
        village_id: villages
            .first()
            .map(|v| v.id.to_string())
            .unwrap_or_default(),
        min_per_order: "1".into(),
        status: "draft".into(),
        supply_mode: "consignment".into(),
        low_stock_threshold: "10".into(),
        ..Default::default()
    };
    render_form(
        &state,
        &ctx,
        StatusCode::OK,
        &villages,
        None,
        &form,
        &FieldErrors::default(),
    )
}

pub async fn create(
    state: web::Data<AppState>,
    ctx: Ctx,
    area: TeamArea,
    CsrfForm(pairs): CsrfForm<Vec<(String, String)>>,
) -> AppResult<HttpResponse> {
    let form = product_form(&pairs);
    let who = Who::from(&area.actor);
    let (ids, f) = (area.scope.village_ids().to_vec(), form.clone());
    let result = state
        .db(move |conn| Ok::<_, AppError>(products::create(conn, &who, &ids, &f, now_utc())))
        .await?;
    match result {
        Ok(id) => Ok(redirect(&format!("/team/products/{id}"))),
        Err(ProductError::Invalid(errors)) => {
            let villages = area.villages(&state).await?;
            render_form(
                &state,
                &ctx,
                StatusCode::UNPROCESSABLE_ENTITY,
                &villages,
                None,
                &form,
                &errors,
            )
        }
        Err(ProductError::Database(e)) => Err(e.into()),
    }
}

async fn find(
    state: &AppState,
    area: &TeamArea,
    id: i64,
) -> AppResult<crate::db::catalog::Product> {
    let ids = area.scope.village_ids().to_vec();
    state
        .db(move |conn| q::product_in_villages(conn, &ids, id))
        .await?
        .ok_or(AppError::NotFound)
}

pub async fn edit_form(
    state: web::Data<AppState>,
    ctx: Ctx,
    area: TeamArea,
    id: web::Path<i64>,
) -> AppResult<HttpResponse> {
    let product = find(&state, &area, id.into_inner()).await?;
    let product_id = product.id;
    let tiers = state.db(move |conn| price_tiers(conn, product_id)).await?;
    let villages = area.villages(&state).await?;
    let form = ProductForm::of(&product, &tiers);
    render_form(
        &state,
        &ctx,
        StatusCode::OK,
        &villages,
        Some(product.id),
        &form,
        &FieldErrors::default(),
    )
}

pub async fn update(
    state: web::Data<AppState>,
    ctx: Ctx,
    area: TeamArea,
    id: web::Path<i64>,
    CsrfForm(pairs): CsrfForm<Vec<(String, String)>>,
) -> AppResult<HttpResponse> {
    let product = find(&state, &area, id.into_inner()).await?;
    let mut form = product_form(&pairs);
    form.village_id = product.village_id.to_string();
    let who = Who::from(&area.actor);
    let (p, f) = (product.clone(), form.clone());
    let result = state
        .db(move |conn| Ok::<_, AppError>(products::update(conn, &who, &p, &f, now_utc())))
        .await?;
    match result {
        Ok(()) => Ok(redirect(&format!("/team/products/{}", product.id))),
        Err(ProductError::Invalid(errors)) => {
            let villages = area.villages(&state).await?;
            render_form(
                &state,
                &ctx,
                StatusCode::UNPROCESSABLE_ENTITY,
                &villages,
                Some(product.id),
                &form,
                &errors,
            )
        }
        Err(ProductError::Database(e)) => Err(e.into()),
    }
}
