//! Paying online: sending the buyer to the provider's checkout (after placing an order,
//! or again from the order page), and `POST /webhooks/stripe`, where Stripe's signed
//! events arrive.

use std::collections::HashMap;

use actix_web::http::StatusCode;
use actix_web::web::Bytes;
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::json;

use super::AppState;
use super::auth::redirect;
use super::csrf::CsrfForm;
use super::orders::{by_token, order_token, render_buyer_page};
use super::render::Ctx;
use crate::domain::now_utc;
use crate::domain::orders::OrderLines;
use crate::domain::payments;
use crate::error::{AppError, AppResult};
use crate::payments::{CheckoutRequest, Started};

/// Where the buyer goes once the order is placed: the provider's payment page, or the
/// order page (manual methods; or the provider failed, and the page offers to retry).
pub async fn start(state: &AppState, placed: &OrderLines) -> AppResult<String> {
    let order = &placed.order;
    let order_page = format!("/orders/{}", order.token);
    let Some(provider) = state.payments.provider(order.payment_method) else {
        return Ok(order_page);
    };
    let base = &state.config.base_url;
    let expires_at = payments::checkout_expiry(order, now_utc());
    let request = CheckoutRequest {
        order,
        lines: &placed.lines,
        success_url: format!("{base}{order_page}?paid=1"),
        cancel_url: format!("{base}{order_page}"),
        expires_at,
    };
    match provider.start(request).await {
        Ok(Started::Offline) => Ok(order_page),
        Ok(Started::Redirect { session_id, url }) => {
            let order = order.clone();
            state
                .db(move |conn| {
                    payments::checkout_started(conn, &order, &session_id, expires_at, now_utc())
                })
                .await?;
            Ok(url)
        }
        Err(e) => {
            tracing::warn!(order = order.id, error = %e, "could not start the online payment");
            Ok(format!("{order_page}?retry=1"))
        }
    }
}

/// The order page's "pay now": a new checkout for an order still awaiting payment.
pub async fn pay(
    state: web::Data<AppState>,
    ctx: Ctx,
    token: web::Path<String>,
    CsrfForm(_): CsrfForm<HashMap<String, String>>,
) -> AppResult<HttpResponse> {
    let token = order_token(&token)?;
    let t = token.clone();
    match state.db(move |conn| payments::to_pay(conn, &t)).await {
        Ok(placed) => Ok(redirect(&start(&state, &placed).await?)),
        Err(AppError::Invalid(errors)) => {
            let view = by_token(&state, &token).await?;
            render_buyer_page(&state, &ctx, &view, StatusCode::CONFLICT, &errors).await
        }
        Err(e) => Err(e),
    }
}

/// Stripe's events. The signature is checked over the raw body before anything in it is
/// read; a bad one is a 400 and nothing is recorded. Every verified event is answered
/// 2xx, a repeat included, so that Stripe stops sending it.
pub async fn stripe_webhook(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: Bytes,
) -> AppResult<HttpResponse> {
    let Some(stripe) = state.payments.stripe() else {
        return Err(AppError::NotFound);
    };
    let signature = req
        .headers()
        .get("Stripe-Signature")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| AppError::bad_field("Stripe-Signature", "missing"))?;
    let body =
        std::str::from_utf8(&body).map_err(|_| AppError::BadRequest("body is not UTF-8".into()))?;
    let event = stripe
        .verify_event(body, signature)
        .map_err(|e| AppError::bad_field("Stripe-Signature", e.to_string()))?;
    let (id, kind) = (event.event_id.clone(), event.event_type.clone());
    let bp = state.config.collective_share_bp;
    let outcome = state
        .db(move |conn| payments::apply_event(conn, &event, bp, now_utc()))
        .await?;
    tracing::info!(event = %id, kind = %kind, %outcome, "stripe event");
    let outcome = outcome.as_str();
    Ok(HttpResponse::Ok().json(json!({ "received": id, "outcome": outcome })))
}
