//! `/team/stock`: goods received from households as lots, per product and per
//! household, with what remains of each; recording a lot; writing off part of one.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::{Value, json};

use super::AppState;
use super::auth::{TeamArea, redirect};
use super::csrf::CsrfForm;
use super::render::Ctx;
use crate::domain::actor::Who;
use crate::domain::money::format_fen;
use crate::domain::stock::{
    self, Household, LotDetail, LotForm, Product, StockLot, StockOverview, WriteOffForm,
};
use crate::domain::validation::FieldErrors;
use crate::domain::{china_date, now_utc};
use crate::error::{AppError, AppResult};
use crate::i18n::Lang;

pub fn lot_row(lang: Lang, lot: &StockLot, product: &Product, household: &Household) -> Value {
    json!({
        "id": lot.id,
        "product": lang.pick(&product.name_zh, &product.name_en),
        "product_id": product.id,
        "unit": lang.pick(&product.sale_unit_zh, &product.sale_unit_en),
        "household": format!("{} {}", household.code, household.head_name),
        "household_id": household.id,
        "received_on": lot.received_on.to_string(),
        "quantity": lot.quantity,
        "remaining": lot.remaining,
        "purchase_price": lot.purchase_price_fen.map(format_fen),
    })
}

#[derive(Deserialize, Default)]
pub struct LotFilter {
    product: Option<String>,
    household: Option<String>,
}

fn id_param(field: &str, value: Option<&str>) -> AppResult<Option<i64>> {
    match value.map(str::trim) {
        None | Some("") => Ok(None),
        Some(v) => v
            .parse()
            .map(Some)
            .map_err(|_| AppError::bad_field(field, v)),
    }
}

async fn overview(
    state: &AppState,
    area: &TeamArea,
    product: Option<i64>,
    household: Option<i64>,
) -> AppResult<StockOverview> {
    let scope = area.scope.clone();
    state
        .db(move |conn| stock::overview(conn, &scope, product, household))
        .await
}

fn render(
    ctx: &Ctx,
    state: &AppState,
    status: StatusCode,
    page: &StockOverview,
    form: &LotForm,
    errors: &FieldErrors,
) -> AppResult<HttpResponse> {
    let lang = ctx.lang;
    let data = json!({
        "lots": page.lots.iter().map(|(l, p, h)| lot_row(lang, l, p, h)).collect::<Vec<_>>(),
        "products": page.products.iter().map(|p| json!({
            "value": p.id,
            "label": format!("{}（{}）", lang.pick(&p.name_zh, &p.name_en), lang.t(&format!("supply-{}", p.supply_mode))),
            "selected": p.id.to_string() == form.product_id,
        })).collect::<Vec<_>>(),
        "households": page.households.iter().map(|h| json!({
            "value": h.id,
            "label": format!("{} {}", h.code, h.head_name),
            "selected": h.id.to_string() == form.household_id,
        })).collect::<Vec<_>>(),
    });
    ctx.form_page(
        &state.templates,
        status,
        "pages/team/stock",
        data,
        form,
        errors,
    )
}

pub async fn list(
    state: web::Data<AppState>,
    ctx: Ctx,
    area: TeamArea,
    filter: web::Query<LotFilter>,
) -> AppResult<HttpResponse> {
    let product = id_param("product", filter.product.as_deref())?;
    let household = id_param("household", filter.household.as_deref())?;
    let page = overview(&state, &area, product, household).await?;
    let form = LotForm {
        product_id: product.map(|p| p.to_string()).unwrap_or_default(),
        household_id: household.map(|h| h.to_string()).unwrap_or_default(),
        received_on: china_date(now_utc()).to_string(),
        // Once per page: a double tap records one lot.
        idempotency_key: crate::util::random_token(16),
        ..Default::default()
    };
    render(
        &ctx,
        &state,
        StatusCode::OK,
        &page,
        &form,
        &FieldErrors::default(),
    )
}

pub async fn record(
    state: web::Data<AppState>,
    ctx: Ctx,
    area: TeamArea,
    CsrfForm(form): CsrfForm<LotForm>,
) -> AppResult<HttpResponse> {
    let who = Who::from(&area.actor);
    let (scope, f) = (area.scope.clone(), form.clone());
    let result = state
        .db(move |conn| stock::record_lot(conn, &who, &scope, &f, now_utc()))
        .await;
    match result {
        Ok(lot) => Ok(redirect(&format!("/team/stock/lots/{}", lot.id))),
        Err(AppError::Invalid(errors)) => {
            let page = overview(&state, &area, None, None).await?;
            render(
                &ctx,
                &state,
                StatusCode::UNPROCESSABLE_ENTITY,
                &page,
                &form,
                &errors,
            )
        }
        Err(e) => Err(e),
    }
}

async fn lot(state: &AppState, area: &TeamArea, id: i64) -> AppResult<LotDetail> {
    let scope = area.scope.clone();
    state.db(move |conn| stock::lot(conn, &scope, id)).await
}

fn render_lot(
    state: &AppState,
    ctx: &Ctx,
    status: StatusCode,
    detail: &LotDetail,
    form: &WriteOffForm,
    errors: &FieldErrors,
) -> AppResult<HttpResponse> {
    let lang = ctx.lang;
    let data = json!({
        "lot": lot_row(lang, &detail.lot, &detail.product, &detail.household),
        "write_offs": detail.write_offs.iter().map(|w| json!({
            "quantity": w.quantity, "reason": w.reason, "on": w.written_off_on.to_string(),
        })).collect::<Vec<_>>(),
    });
    ctx.form_page(
        &state.templates,
        status,
        "pages/team/lot",
        data,
        form,
        errors,
    )
}

pub async fn show_lot(
    state: web::Data<AppState>,
    ctx: Ctx,
    area: TeamArea,
    id: web::Path<i64>,
) -> AppResult<HttpResponse> {
    let detail = lot(&state, &area, id.into_inner()).await?;
    render_lot(
        &state,
        &ctx,
        StatusCode::OK,
        &detail,
        &WriteOffForm::default(),
        &FieldErrors::default(),
    )
}

pub async fn write_off(
    state: web::Data<AppState>,
    ctx: Ctx,
    area: TeamArea,
    id: web::Path<i64>,
    CsrfForm(form): CsrfForm<WriteOffForm>,
) -> AppResult<HttpResponse> {
    let id = id.into_inner();
    let who = Who::from(&area.actor);
    let (scope, f) = (area.scope.clone(), form.clone());
    let result = state
        .db(move |conn| stock::write_off(conn, &who, &scope, id, &f, now_utc()))
        .await;
    match result {
        Ok(_) => Ok(redirect(&format!("/team/stock/lots/{id}"))),
        Err(AppError::Invalid(errors)) => {
            let detail = lot(&state, &area, id).await?;
            render_lot(
                &state,
                &ctx,
                StatusCode::UNPROCESSABLE_ENTITY,
                &detail,
                &form,
                &errors,
            )
        }
        Err(e) => Err(e),
    }
}
