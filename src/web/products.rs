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
use crate::domain::actor::Who;
use crate::domain::catalog::StockState;
use crate::domain::images;
use crate::domain::money::format_fen;
use crate::domain::now_utc;
use crate::domain::products::{
    self, CATEGORIES, ProductEdit, ProductForm, ProductPage, TIER_ROWS, TierForm,
};
use crate::domain::team::{self, Village};
use crate::domain::validation::FieldErrors;
use crate::error::{AppError, AppResult};
use crate::states::{ProductStatus, SupplyMode};

pub async fn list(state: web::Data<AppState>, ctx: Ctx, area: TeamArea) -> AppResult<HttpResponse> {
    let scope = area.scope.clone();
    let products = state.db(move |conn| products::list(conn, &scope)).await?;
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

async fn product_page(state: &AppState, area: &TeamArea, id: i64) -> AppResult<ProductPage> {
    let scope = area.scope.clone();
    state.db(move |conn| products::page(conn, &scope, id)).await
}

pub async fn show(
    state: web::Data<AppState>,
    ctx: Ctx,
    area: TeamArea,
    id: web::Path<i64>,
) -> AppResult<HttpResponse> {
    let page = product_page(&state, &area, id.into_inner()).await?;
    render_show(&state, &ctx, &page, StatusCode::OK, &FieldErrors::default())
}

/// The product's workspace page: stock, lots, photo, with any problem of an upload.
fn render_show(
    state: &AppState,
    ctx: &Ctx,
    page: &ProductPage,
    status: StatusCode,
    errors: &FieldErrors,
) -> AppResult<HttpResponse> {
    let lang = ctx.lang;
    let product = &page.product;
    let data = json!({
        "csrf_token": csrf::token(&ctx.session),
        "product": {
            "id": product.id,
            "name": lang.pick(&product.name_zh, &product.name_en),
            "price": format_fen(product.unit_price_fen),
            "unit": lang.pick(&product.sale_unit_zh, &product.sale_unit_en),
            "stock": product.stock,
            "threshold": product.low_stock_threshold,
            "low": StockState::of(product) != StockState::InStock,
            "supply_mode": lang.t(&format!("supply-{}", product.supply_mode)),
            "status": lang.t(&format!("product-status-{}", product.status)),
            "image": product.image,
        },
        "lots": page.lots.iter().map(|(l, p, h)| lot_row(lang, l, p, h)).collect::<Vec<_>>(),
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
    // Another village's product is not there for this member, whatever the body holds:
    // answered before the body is read.
    let scope = area.scope.clone();
    state
        .db(move |conn| products::in_scope(conn, &scope, id))
        .await?;
    let mut upload = upload.verified()?;
    let file = upload.take_file("image")?;
    // Decoding a photo is CPU-bound: off the async workers.
    let prepared = web::block(move || images::prepare("image", &file.bytes))
        .await
        .map_err(AppError::internal)?;
    let prepared = match prepared {
        Ok(prepared) => prepared,
        Err(errors) => {
            let page = product_page(&state, &area, id).await?;
            let status = StatusCode::UNPROCESSABLE_ENTITY;
            return render_show(&state, &ctx, &page, status, &errors);
        }
    };
    let who = Who::from(&area.actor);
    let scope = area.scope.clone();
    state
        .db(move |conn| images::attach(conn, &who, &scope, id, &prepared, now_utc()))
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
        "product_id": product_id,
        "action": product_id.map_or("/team/products".to_string(), |id| format!("/team/products/{id}")),
        "villages": village_options(lang, villages, &form.village_id),
        "categories": coded_options(lang, &CATEGORIES, "category-", &form.category),
        "statuses": coded_options(lang, ProductStatus::ALL, "product-status-", &form.status),
        "supply_modes": coded_options(lang, SupplyMode::ALL, "supply-", &form.supply_mode),
        "months": (1..=12).map(|m| json!({
            "value": m, "label": lang.t(&format!("month-{m}")), "checked": form.season.contains(&m.to_string()),
        })).collect::<Vec<_>>(),
        "tiers": tiers.iter().enumerate().map(|(i, t)| json!({
            "n": i + 1, "min_quantity": t.min_quantity, "price": t.price, "canteen_only": t.canteen_only,
            "min_error": messages.get(format!("tier_min_{}", i + 1)),
            "price_error": messages.get(format!("tier_price_{}", i + 1)),
        })).collect::<Vec<_>>(),
    });
    ctx.form_page(
        &state.templates,
        status,
        "pages/team/product_form",
        data,
        form,
        errors,
    )
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
        canteen_min_quantity: get("canteen_min_quantity"),
        canteen_step: get("canteen_step"),
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

async fn villages(state: &AppState, area: &TeamArea) -> AppResult<Vec<Village>> {
    let scope = area.scope.clone();
    state.db(move |conn| team::villages(conn, &scope)).await
}

pub async fn new_form(
    state: web::Data<AppState>,
    ctx: Ctx,
    area: TeamArea,
) -> AppResult<HttpResponse> {
    let villages = villages(&state, &area).await?;
    let form = products::new_form(&villages);
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
    let (scope, f) = (area.scope.clone(), form.clone());
    let result = state
        .db(move |conn| products::create(conn, &who, &scope, &f, now_utc()))
        .await;
    match result {
        Ok(id) => Ok(redirect(&format!("/team/products/{id}"))),
        Err(AppError::Invalid(errors)) => {
            let villages = villages(&state, &area).await?;
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
        Err(e) => Err(e),
    }
}

async fn edit(state: &AppState, area: &TeamArea, id: i64) -> AppResult<ProductEdit> {
    let scope = area.scope.clone();
    state.db(move |conn| products::edit(conn, &scope, id)).await
}

pub async fn edit_form(
    state: web::Data<AppState>,
    ctx: Ctx,
    area: TeamArea,
    id: web::Path<i64>,
) -> AppResult<HttpResponse> {
    let page = edit(&state, &area, id.into_inner()).await?;
    render_form(
        &state,
        &ctx,
        StatusCode::OK,
        &page.villages,
        Some(page.product_id),
        &page.form,
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
    let id = id.into_inner();
    let mut form = product_form(&pairs);
    let who = Who::from(&area.actor);
    let (scope, f) = (area.scope.clone(), form.clone());
    let result = state
        .db(move |conn| products::update(conn, &who, &scope, id, &f, now_utc()))
        .await;
    match result {
        Ok(()) => Ok(redirect(&format!("/team/products/{id}"))),
        Err(AppError::Invalid(errors)) => {
            let page = edit(&state, &area, id).await?;
            // A product stays in its village: the form shows the one it is in.
            form.village_id = page.form.village_id;
            render_form(
                &state,
                &ctx,
                StatusCode::UNPROCESSABLE_ENTITY,
                &page.villages,
                Some(page.product_id),
                &form,
                &errors,
            )
        }
        Err(e) => Err(e),
    }
}
