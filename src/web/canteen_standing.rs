//! Standing orders (周期订单) on the web: a member repeats one of the organisation's orders
//! (`/canteen/orders/{id}/standing`), sees every standing order with its next dates and
//! what became of past ones (`/canteen/standing-orders`), skips a date, pauses and
//! resumes.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use serde_json::{Value, json};

use super::AppState;
use super::auth::{CanteenArea, redirect};
use super::canteen::weekdays_text;
use super::csrf::{self, CsrfForm};
use super::forms::{all, field};
use super::render::Ctx;
use crate::domain::actor::Who;
use crate::domain::canteen::orders as canteen_orders;
use crate::domain::canteen::standing::{self, StandingForm};
use crate::domain::money::format_fen;
use crate::domain::now_utc;
use crate::domain::validation::FieldErrors;
use crate::error::{AppError, AppResult};
use crate::i18n::Lang;

/// `GET /canteen/standing-orders`: the organisation's standing orders.
pub async fn list(
    state: web::Data<AppState>,
    ctx: Ctx,
    area: CanteenArea,
) -> AppResult<HttpResponse> {
    let scope = area.scope;
    let views = state
        .db(move |conn| standing::list(conn, scope, now_utc()))
        .await?;
    let lang = ctx.lang;
    let data = json!({
        "csrf_token": csrf::token(&ctx.session),
        "standing_orders": views.iter().map(|v| {
            let s = &v.standing;
            json!({
                "id": s.id,
                "site": v.site,
                "schedule": lang.t_args(
                    if s.every_weeks == 2 { "standing-every-two-weeks" } else { "standing-every-week" },
                    &[("days", weekdays_text(lang, &s.weekdays))],
                ),
                "starts_on": s.starts_on.to_string(),
                "ends_on": s.ends_on.map(|d| d.to_string()),
                "paused": s.paused,
                "payment_method": lang.t(&format!("payment-{}", s.payment_method)),
                "po_number": s.po_number,
                "lines": v.lines.iter().map(|l| json!({
                    "name": lang.pick(&l.product.name_zh, &l.product.name_en),
                    "unit": lang.pick(&l.product.sale_unit_zh, &l.product.sale_unit_en),
                    "quantity": l.quantity,
                    "line_total": format_fen(l.line_total_fen),
                })).collect::<Vec<_>>(),
                "coming": v.coming.iter().map(|c| json!({
                    "date": c.date.to_string(), "skipped": c.skipped, "run": c.run,
                })).collect::<Vec<_>>(),
                "runs": v.runs.iter().map(|(r, number)| {
                    let detail: Value = serde_json::from_str(&r.detail).unwrap_or_default();
                    json!({
                        "date": r.delivery_date.to_string(),
                        "order_id": r.order_id,
                        "number": number,
                        "outcome": r.outcome,
                        "outcome_label": lang.t(&format!("standing-outcome-{}", r.outcome)),
                        "reason": detail["reason"][if lang == Lang::En { "en" } else { "zh" }],
                        "short": detail["short"].as_array().map(|lines| lines.iter().map(|s| json!({
                            "name": lang.pick(s["name_zh"].as_str().unwrap_or(""), s["name_en"].as_str().unwrap_or("")),
                            "wanted": s["wanted"], "got": s["got"],
                        })).collect::<Vec<_>>()),
                    })
                }).collect::<Vec<_>>(),
            })
        }).collect::<Vec<_>>(),
    });
    ctx.page(
        &state.templates,
        StatusCode::OK,
        "pages/canteen/standing_orders",
        data,
    )
}

async fn render_form(
    state: &AppState,
    ctx: &Ctx,
    area: &CanteenArea,
    order_id: i64,
    status: StatusCode,
    form: &StandingForm,
    errors: &FieldErrors,
) -> AppResult<HttpResponse> {
    let scope = area.scope;
    let page = state
        .db(move |conn| canteen_orders::one(conn, scope, order_id))
        .await?;
    let lang = ctx.lang;
    let view = &page.view;
    let data = json!({
        "order_id": view.order.id,
        "number": view.order.number,
        "lines": view.lines.iter().map(|l| json!({
            "name": lang.pick(&l.product_name_zh, &l.product_name_en),
            "unit": lang.pick(&l.sale_unit_zh, &l.sale_unit_en),
            "quantity": l.quantity,
        })).collect::<Vec<_>>(),
        "site": view.canteen.as_ref().map(|(_, site)| site.name.clone()),
        "weekdays": (1..=7).map(|d: u32| json!({
            "value": d,
            "label": lang.t(&format!("weekday-{d}")),
            "checked": form.weekdays.contains(&d.to_string()),
        })).collect::<Vec<_>>(),
        "every_two": form.every_weeks.trim() == "2",
    });
    ctx.form_page(
        &state.templates,
        status,
        "pages/canteen/standing_form",
        data,
        form,
        errors,
    )
}

/// `GET /canteen/orders/{id}/standing`: the form that repeats one of the organisation's
/// orders.
pub async fn new_form(
    state: web::Data<AppState>,
    ctx: Ctx,
    area: CanteenArea,
    id: web::Path<i64>,
) -> AppResult<HttpResponse> {
    let form = StandingForm {
        every_weeks: "1".into(),
        ..StandingForm::default()
    };
    let id = id.into_inner();
    render_form(
        &state,
        &ctx,
        &area,
        id,
        StatusCode::OK,
        &form,
        &FieldErrors::default(),
    )
    .await
}

/// `POST /canteen/orders/{id}/standing`: sets the standing order up.
pub async fn create(
    state: web::Data<AppState>,
    ctx: Ctx,
    area: CanteenArea,
    id: web::Path<i64>,
    CsrfForm(pairs): CsrfForm<Vec<(String, String)>>,
) -> AppResult<HttpResponse> {
    let id = id.into_inner();
    let form = StandingForm {
        every_weeks: field(&pairs, "every_weeks"),
        weekdays: all(&pairs, "weekday"),
        starts_on: field(&pairs, "starts_on"),
        ends_on: field(&pairs, "ends_on"),
    };
    let (who, member, scope, typed) = (
        Who::from(&area.actor),
        area.actor.user.id,
        area.scope,
        form.clone(),
    );
    let result = state
        .db(move |conn| {
            standing::create_from_order(conn, &who, member, scope, id, &typed, now_utc())
        })
        .await;
    match result {
        Ok(_) => Ok(redirect("/canteen/standing-orders")),
        Err(AppError::Invalid(errors)) => {
            let status = StatusCode::UNPROCESSABLE_ENTITY;
            render_form(&state, &ctx, &area, id, status, &form, &errors).await
        }
        Err(e) => Err(e),
    }
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub struct SkipForm {
    date: String,
}

/// `POST /canteen/standing-orders/{id}/{pause,resume,skip}`.
pub async fn change(
    state: web::Data<AppState>,
    area: CanteenArea,
    path: web::Path<(i64, String)>,
    CsrfForm(form): CsrfForm<SkipForm>,
) -> AppResult<HttpResponse> {
    let (id, action) = path.into_inner();
    let (who, member, scope) = (Who::from(&area.actor), area.actor.user.id, area.scope);
    match action.as_str() {
        "pause" | "resume" => {
            let paused = action == "pause";
            state
                .db(move |conn| standing::set_paused(conn, &who, scope, id, paused, now_utc()))
                .await?
        }
        "skip" => {
            state
                .db(move |conn| {
                    standing::skip(conn, &who, member, scope, id, &form.date, now_utc())
                })
                .await?
        }
        _ => return Err(AppError::NotFound),
    }
    Ok(redirect("/canteen/standing-orders"))
}
