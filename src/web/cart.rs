//! The cart and checkout (storefront, guest or signed in): the cart lives in the
//! session; checkout places the order and reserves its stock in one step.

use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::{Value, json};

use super::AppState;
use super::auth::redirect;
use super::csrf::{self, CsrfForm};
use super::forms::{coded_options, errors_json};
use super::render::Ctx;
use crate::domain::accounts;
use crate::domain::actor::{Role, Scope};
use crate::domain::cart::{self, CartItem, LineProblem, PricedLine};
use crate::domain::money::format_fen;
use crate::domain::now_utc;
use crate::domain::orders::{self, Buyer, CheckoutForm, OrderError, RefusedLine};
use crate::domain::validation::FieldErrors;
use crate::error::{AppError, AppResult};
use crate::i18n::Lang;
use crate::util::random_token;

const CART_KEY: &str = "cart";

fn items(session: &Session) -> Vec<CartItem> {
    session
        .get::<Vec<CartItem>>(CART_KEY)
        .ok()
        .flatten()
        .unwrap_or_default()
}

fn save(session: &Session, items: &[CartItem]) -> AppResult<()> {
    session.insert(CART_KEY, items).map_err(AppError::internal)
}

/// The signed-in buyer, if any; a canteen buyer's organisation gets canteen prices.
async fn buyer(state: &AppState, ctx: &Ctx) -> AppResult<Buyer> {
    let locale = ctx.lang.code().to_string();
    let Some(user) = ctx.user.as_ref() else {
        return Ok(Buyer {
            locale,
            ..Buyer::default()
        });
    };
    if user.role != Role::Canteen {
        return Ok(Buyer {
            user_id: Some(user.id),
            organization_id: None,
            locale,
        });
    }
    let id = user.id;
    let actor = state.db(move |conn| accounts::load_actor(conn, id)).await?;
    let organization_id = match actor.map(|a| a.scope) {
        Some(Scope::Canteen(org)) => Some(org.organization_id()),
        _ => None,
    };
    Ok(Buyer {
        user_id: Some(id),
        organization_id,
        locale,
    })
}

fn problem_text(lang: Lang, problem: &LineProblem) -> String {
    match problem {
        LineProblem::NotOnSale => lang.t("cart-not-on-sale"),
        LineProblem::BelowMinimum(n) => {
            lang.t_args("cart-below-minimum", &[("min", n.to_string())])
        }
        LineProblem::AboveMaximum(n) => {
            lang.t_args("cart-above-maximum", &[("max", n.to_string())])
        }
        LineProblem::Short(n) => lang.t_args("cart-short", &[("left", n.to_string())]),
    }
}

fn line_json(lang: Lang, l: &PricedLine) -> Value {
    json!({
        "product_id": l.product.id,
        "name": lang.pick(&l.product.name_zh, &l.product.name_en),
        "village": lang.pick(&l.village.name_zh, &l.village.name_en),
        "unit": lang.pick(&l.product.sale_unit_zh, &l.product.sale_unit_en),
        "quantity": l.quantity,
        "unit_price": format_fen(l.unit_price_fen),
        "line_total": format_fen(l.line_total_fen),
        "problem": l.problem.as_ref().map(|p| problem_text(lang, p)),
    })
}

async fn priced(state: &AppState, ctx: &Ctx) -> AppResult<(Vec<PricedLine>, Buyer)> {
    let buyer = buyer(state, ctx).await?;
    let items = items(&ctx.session);
    let canteen = buyer.organization_id.is_some();
    let lines = state
        .db(move |conn| cart::price(conn, &items, canteen))
        .await?;
    Ok((lines, buyer))
}

fn cart_data(lang: Lang, lines: &[PricedLine]) -> Value {
    json!({
        "lines": lines.iter().map(|l| line_json(lang, l)).collect::<Vec<_>>(),
        "total": format_fen(lines.iter().map(|l| l.line_total_fen).sum()),
        "ready": !lines.is_empty() && lines.iter().all(|l| l.problem.is_none()),
    })
}

pub async fn show(state: web::Data<AppState>, ctx: Ctx) -> AppResult<HttpResponse> {
    let (lines, _) = priced(&state, &ctx).await?;
    let mut data = cart_data(ctx.lang, &lines);
    data["csrf_token"] = json!(csrf::token(&ctx.session));
    ctx.page(&state.templates, StatusCode::OK, "pages/cart", data)
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct LineForm {
    product_id: String,
    quantity: String,
}

async fn change(
    state: &AppState,
    ctx: &Ctx,
    form: LineForm,
    replace: bool,
) -> AppResult<HttpResponse> {
    let product_id = form
        .product_id
        .trim()
        .parse::<i64>()
        .map_err(|_| AppError::bad_field("product_id", form.product_id.clone()))?;
    let exists = state
        .db(move |conn| crate::db::catalog::visible_product(conn, product_id))
        .await?
        .is_some();
    if !exists {
        return Err(AppError::bad_field("product_id", "no such product on sale"));
    }
    let mut items = items(&ctx.session);
    if let Err(errors) = cart::change(&mut items, product_id, &form.quantity, replace) {
        let message = errors
            .0
            .first()
            .map(|e| ctx.lang.t_args(e.key, &e.args))
            .unwrap_or_default();
        return Err(AppError::bad_field("quantity", message));
    }
    save(&ctx.session, &items)?;
    Ok(redirect("/cart"))
}

pub async fn add(
    state: web::Data<AppState>,
    ctx: Ctx,
    CsrfForm(form): CsrfForm<LineForm>,
) -> AppResult<HttpResponse> {
    change(&state, &ctx, form, false).await
}

pub async fn update(
    state: web::Data<AppState>,
    ctx: Ctx,
    CsrfForm(form): CsrfForm<LineForm>,
) -> AppResult<HttpResponse> {
    change(&state, &ctx, form, true).await
}

fn render_checkout(
    state: &AppState,
    ctx: &Ctx,
    status: StatusCode,
    lines: &[PricedLine],
    form: &CheckoutForm,
    errors: &FieldErrors,
    refused: &[RefusedLine],
) -> AppResult<HttpResponse> {
    let lang = ctx.lang;
    let mut data = cart_data(lang, lines);
    data["csrf_token"] = json!(csrf::token(&ctx.session));
    data["values"] = json!(form);
    data["errors"] = errors_json(lang, errors);
    data["has_errors"] = json!(!errors.is_empty());
    data["refused"] = json!(refused
        .iter()
        .map(|r| json!({ "name": lang.pick(&r.name_zh, &r.name_en), "problem": problem_text(lang, &r.problem) }))
        .collect::<Vec<_>>());
    data["payment_methods"] = json!(coded_options(
        lang,
        &state.payments.methods(),
        "payment-",
        &form.payment_method
    ));
    ctx.page(&state.templates, status, "pages/checkout", data)
}

pub async fn checkout_form(state: web::Data<AppState>, ctx: Ctx) -> AppResult<HttpResponse> {
    let (lines, _) = priced(&state, &ctx).await?;
    if lines.is_empty() {
        return Ok(redirect("/cart"));
    }
    let form = CheckoutForm {
        payment_method: state.payments.methods()[0].into(),
        idempotency_key: random_token(16),
        ..Default::default()
    };
    render_checkout(
        &state,
        &ctx,
        StatusCode::OK,
        &lines,
        &form,
        &FieldErrors::default(),
        &[],
    )
}

pub async fn checkout(
    state: web::Data<AppState>,
    ctx: Ctx,
    CsrfForm(form): CsrfForm<CheckoutForm>,
) -> AppResult<HttpResponse> {
    let buyer = buyer(&state, &ctx).await?;
    let items = items(&ctx.session);
    let minutes = state.config.reservation_minutes;
    let methods = state.payments.methods();
    let (i, b, f) = (items.clone(), buyer.clone(), form.clone());
    let result = state
        .db(move |conn| {
            Ok::<_, AppError>(orders::place(
                conn,
                &i,
                &b,
                &f,
                &methods,
                minutes,
                now_utc(),
            ))
        })
        .await?;
    match result {
        Ok(order) => {
            save(&ctx.session, &[])?;
            Ok(redirect(&super::payments::start(&state, &order).await?))
        }
        Err(OrderError::Invalid(errors)) => {
            let (lines, _) = priced(&state, &ctx).await?;
            render_checkout(
                &state,
                &ctx,
                StatusCode::UNPROCESSABLE_ENTITY,
                &lines,
                &form,
                &errors,
                &[],
            )
        }
        Err(OrderError::Lines(refused)) => {
            let (lines, _) = priced(&state, &ctx).await?;
            render_checkout(
                &state,
                &ctx,
                StatusCode::CONFLICT,
                &lines,
                &form,
                &FieldErrors::default(),
                &refused,
            )
        }
        Err(OrderError::Database(e)) => Err(e.into()),
    }
}
