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
use super::forms::coded_options;
use super::render::Ctx;
use crate::domain::actor::Role;
use crate::domain::cart::{self, CartItem, LineProblem, PricedLine, Shopper};
use crate::domain::money::format_fen;
use crate::domain::now_utc;
use crate::domain::orders::{self, Checkout, CheckoutForm, RefusedLine};
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

const CHECKOUT_SCOPE_KEY: &str = "checkout_scope";

/// Who is at the cart, as the session knows them.
pub(super) fn shopper(ctx: &Ctx) -> Shopper {
    Shopper {
        user: ctx.user.as_ref().map(|u| (u.id, u.session_version)),
        locale: ctx.lang.code().to_string(),
        checkout_scope: ctx
            .session
            .get::<String>(CHECKOUT_SCOPE_KEY)
            .ok()
            .flatten()
            .unwrap_or_default(),
    }
}

/// The session's checkout scope, made on its first checkout page if need be.
pub(super) fn checkout_scope(ctx: &Ctx) -> AppResult<String> {
    ensure_checkout_scope(&ctx.session)?;
    Ok(shopper(ctx).checkout_scope)
}

/// The session's checkout scope if a checkout page made one.
pub(super) fn existing_checkout_scope(ctx: &Ctx) -> Option<String> {
    Some(shopper(ctx).checkout_scope).filter(|s| !s.is_empty())
}

/// The session's checkout scope, made on its first checkout page: the idempotency keys
/// of its checkouts count only with it (ARCHITECTURE §6).
pub(super) fn ensure_checkout_scope(session: &Session) -> AppResult<()> {
    if session
        .get::<String>(CHECKOUT_SCOPE_KEY)
        .ok()
        .flatten()
        .is_none()
    {
        let scope = random_token(16);
        session
            .insert(CHECKOUT_SCOPE_KEY, scope)
            .map_err(AppError::internal)?;
    }
    Ok(())
}

pub(super) fn problem_text(lang: Lang, problem: &LineProblem) -> String {
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

pub(super) fn line_json(lang: Lang, l: &PricedLine) -> Value {
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

async fn priced(state: &AppState, ctx: &Ctx) -> AppResult<Vec<PricedLine>> {
    let (shopper, items) = (shopper(ctx), items(&ctx.session));
    state
        .db(move |conn| cart::priced(conn, &shopper, &items))
        .await
}

fn cart_data(lang: Lang, lines: &[PricedLine]) -> Value {
    json!({
        "lines": lines.iter().map(|l| line_json(lang, l)).collect::<Vec<_>>(),
        "total": format_fen(lines.iter().map(|l| l.line_total_fen).sum()),
        "ready": !lines.is_empty() && lines.iter().all(|l| l.problem.is_none()),
    })
}

pub async fn show(state: web::Data<AppState>, ctx: Ctx) -> AppResult<HttpResponse> {
    let lines = priced(&state, &ctx).await?;
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
    let items = items(&ctx.session);
    let quantity = form.quantity;
    let result = state
        .db(move |conn| cart::put(conn, items, product_id, &quantity, replace))
        .await;
    match result {
        Ok(items) => {
            save(&ctx.session, &items)?;
            Ok(redirect("/cart"))
        }
        // Only a hand-made request gets here (the page's own form cannot send these):
        // a plain 400 naming the field.
        Err(AppError::Invalid(errors)) => Err(match errors.0.first() {
            Some(e) => AppError::bad_field(e.field.clone(), ctx.lang.t_args(e.key, &e.args)),
            None => AppError::bad_field("quantity", ""),
        }),
        Err(e) => Err(e),
    }
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
    data["refused"] = json!(refused
        .iter()
        .map(|r| json!({ "name": lang.pick(&r.name_zh, &r.name_en), "problem": problem_text(lang, &r.problem) }))
        .collect::<Vec<_>>());
    let methods: Vec<&str> = state
        .payments
        .methods()
        .iter()
        .map(|m| m.as_str())
        .collect();
    data["payment_methods"] = json!(coded_options(
        lang,
        &methods,
        "payment-",
        &form.payment_method
    ));
    // A canteen member buys for the organisation, never as its staff.
    data["staff_code_asked"] = json!(!ctx.user.as_ref().is_some_and(|u| u.role == Role::Canteen));
    ctx.form_page(
        &state.templates,
        status,
        "pages/checkout",
        data,
        form,
        errors,
    )
}

pub async fn checkout_form(state: web::Data<AppState>, ctx: Ctx) -> AppResult<HttpResponse> {
    let lines = priced(&state, &ctx).await?;
    if lines.is_empty() {
        return Ok(redirect("/cart"));
    }
    ensure_checkout_scope(&ctx.session)?;
    let form = CheckoutForm {
        payment_method: state
            .payments
            .methods()
            .first()
            .map(|m| m.as_str().to_string())
            .unwrap_or_default(),
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
    ensure_checkout_scope(&ctx.session)?;
    let (shopper, items) = (shopper(&ctx), items(&ctx.session));
    let minutes = state.config.reservation_minutes;
    let methods = state.payments.methods();
    let f = form.clone();
    let result = state
        .db(move |conn| orders::checkout(conn, &shopper, &items, &f, &methods, minutes, now_utc()))
        .await;
    let (status, errors, refused) = match result {
        Ok(Checkout::Placed(placed) | Checkout::Repeated(placed)) => {
            save(&ctx.session, &[])?;
            return Ok(redirect(&super::payments::start(&state, &placed).await?));
        }
        Ok(Checkout::Refused(refused)) => (StatusCode::CONFLICT, FieldErrors::default(), refused),
        Err(AppError::Invalid(errors)) => (StatusCode::UNPROCESSABLE_ENTITY, errors, Vec::new()),
        Err(e) => return Err(e),
    };
    let lines = priced(&state, &ctx).await?;
    render_checkout(&state, &ctx, status, &lines, &form, &errors, &refused)
}
