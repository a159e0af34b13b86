//! `/team`: the work team's workspace, limited to the member's villages, and each
//! village's delivery rhythm (lead time, delivery weekdays).

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use serde_json::json;

use super::AppState;
use super::auth::{TeamArea, redirect};
use super::csrf::CsrfForm;
use super::forms::{all, field};
use super::render::Ctx;
use crate::domain::actor::Who;
use crate::domain::now_utc;
use crate::domain::team::{self, DeliveryForm, Village};
use crate::domain::validation::FieldErrors;
use crate::error::{AppError, AppResult};

pub async fn home(state: web::Data<AppState>, ctx: Ctx, area: TeamArea) -> AppResult<HttpResponse> {
    let scope = area.scope.clone();
    let villages = state.db(move |conn| team::workspace(conn, &scope)).await?;
    let lang = ctx.lang;
    let data = json!({
        "user": area.actor.user.display_name,
        "villages": villages.iter().map(|s| json!({
            "id": s.village.id,
            "slug": s.village.slug,
            "name": lang.pick(&s.village.name_zh, &s.village.name_en),
            "households": s.households,
            "products": s.products,
            "delivery": super::canteen::delivery_json(lang, &s.village),
        })).collect::<Vec<_>>(),
    });
    ctx.page(&state.templates, StatusCode::OK, "pages/team_home", data)
}

fn render_delivery(
    state: &AppState,
    ctx: &Ctx,
    status: StatusCode,
    village: &Village,
    form: &DeliveryForm,
    errors: &FieldErrors,
) -> AppResult<HttpResponse> {
    let lang = ctx.lang;
    let data = json!({
        "village": { "id": village.id, "name": lang.pick(&village.name_zh, &village.name_en) },
        "weekdays": (1..=7).map(|d: u32| json!({
            "value": d,
            "label": lang.t(&format!("weekday-{d}")),
            "checked": form.weekdays.contains(&d.to_string()),
        })).collect::<Vec<_>>(),
    });
    ctx.form_page(
        &state.templates,
        status,
        "pages/team/delivery",
        data,
        form,
        errors,
    )
}

pub async fn delivery(
    state: web::Data<AppState>,
    ctx: Ctx,
    area: TeamArea,
    id: web::Path<i64>,
) -> AppResult<HttpResponse> {
    let (scope, id) = (area.scope.clone(), id.into_inner());
    let village = state
        .db(move |conn| team::village(conn, &scope, id))
        .await?;
    let form = DeliveryForm::of(&village);
    let no_errors = FieldErrors::default();
    render_delivery(&state, &ctx, StatusCode::OK, &village, &form, &no_errors)
}

pub async fn save_delivery(
    state: web::Data<AppState>,
    ctx: Ctx,
    area: TeamArea,
    id: web::Path<i64>,
    CsrfForm(pairs): CsrfForm<Vec<(String, String)>>,
) -> AppResult<HttpResponse> {
    let id = id.into_inner();
    let form = DeliveryForm {
        lead_time_days: field(&pairs, "lead_time_days"),
        weekdays: all(&pairs, "weekday"),
    };
    let (who, scope, f) = (Who::from(&area.actor), area.scope.clone(), form.clone());
    let result = state
        .db(move |conn| team::save_delivery(conn, &who, &scope, id, &f, now_utc()))
        .await;
    match result {
        Ok(()) => Ok(redirect("/team")),
        Err(AppError::Invalid(errors)) => {
            let scope = area.scope.clone();
            let village = state
                .db(move |conn| team::village(conn, &scope, id))
                .await?;
            let status = StatusCode::UNPROCESSABLE_ENTITY;
            render_delivery(&state, &ctx, status, &village, &form, &errors)
        }
        Err(e) => Err(e),
    }
}
