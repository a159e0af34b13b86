//! Orders as people follow them: a buyer's own order by the secret token in its link
//! (`/orders/{token}`), a signed-in buyer's history, and a work team's orders touching
//! its villages (`/team/orders`): payments recorded by hand, each village's packing,
//! shipping and delivery, cancellations and refunds, and the day's packing list.

use std::collections::HashMap;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use chrono::NaiveDate;
use serde_json::{Value, json};

use super::AppState;
use super::auth::{TeamArea, redirect};
use super::csrf::{self, CsrfForm};
use super::download::{self, Cell, Format, Table};
use super::forms::{coded_options, errors_json, village_options};
use super::render::Ctx;
use crate::db::orders::{self as db_orders, Order, OrderFilter};
use crate::domain::actor::Who;
use crate::domain::fulfilment::{self, ShipForm, Step};
use crate::domain::money::format_fen;
use crate::domain::orders::{self, OrderError, OrderView};
use crate::domain::refunds::{self, RefundRequest};
use crate::domain::validation::FieldErrors;
use crate::domain::{china_date, china_time, now_utc};
use crate::error::{AppError, AppResult};
use crate::i18n::Lang;

fn time(t: chrono::NaiveDateTime) -> String {
    china_time(t).format("%Y-%m-%d %H:%M").to_string()
}

/// The parts of an order both the buyer's and the team's pages show. `villages` limits
/// lines and shipments to a team's own (`None`: all, for the buyer).
fn order_json(lang: Lang, view: &OrderView, villages: Option<&[i64]>) -> Value {
    let o = &view.order;
    let ours = |village: i64| villages.is_none_or(|vs| vs.contains(&village));
    json!({
        "order": {
            "id": o.id, "number": o.number, "token": o.token, "status": o.status,
            "status_label": lang.t(&format!("order-status-{}", o.status)),
            "total": format_fen(o.total_fen),
            "refunded": (o.refunded_fen > 0).then(|| format_fen(o.refunded_fen)),
            "payment_method": lang.t(&format!("payment-{}", o.payment_method)),
            "channel": lang.t(&format!("channel-{}", o.channel)),
            "pending": o.status == "pending_payment",
            "cancellable": orders::may_cancel(o, &view.shipments.iter().map(|(s, _)| s.clone()).collect::<Vec<_>>()),
            "bank_transfer": o.payment_method == "bank_transfer" && o.status == "pending_payment",
            "pay_online": o.payment_method == "stripe" && o.status == "pending_payment",
            "reserved_until": o.reserved_until.map(time),
            "paid_at": o.paid_at.map(time),
            "attention": o.attention.as_ref().map(|a| lang.t(&format!("attention-{a}"))),
            "name": o.buyer_name, "phone": o.buyer_phone, "email": o.buyer_email,
            "address": o.delivery_address, "note": o.note,
            "placed": time(o.created_at),
        },
        "lines": view.lines.iter().filter(|l| ours(l.village_id)).map(|l| json!({
            "id": l.id,
            "name": lang.pick(&l.product_name_zh, &l.product_name_en),
            "unit": lang.pick(&l.sale_unit_zh, &l.sale_unit_en),
            "quantity": l.quantity,
            "refunded_quantity": l.refunded_quantity,
            "refundable": orders::units_left(l),
            "unit_price": format_fen(l.unit_price_fen),
            "line_total": format_fen(l.line_total_fen),
        })).collect::<Vec<_>>(),
        "shipments": view.shipments.iter().filter(|(s, _)| ours(s.village_id)).map(|(s, v)| json!({
            "village_id": v.id,
            "village": lang.pick(&v.name_zh, &v.name_en),
            "status": s.status,
            "status_label": lang.t(&format!("shipment-status-{}", s.status)),
            "carrier": s.carrier, "tracking_number": s.tracking_number,
            "shipped_at": s.shipped_at.map(time), "delivered_at": s.delivered_at.map(time),
            "can_pack": s.status == "pending", "can_ship": s.status == "packed",
            "can_deliver": s.status == "shipped",
        })).collect::<Vec<_>>(),
        "refunds": view.refunds.iter().map(|r| json!({
            "amount": format_fen(r.amount_fen), "reason": r.reason, "restock": r.restock,
            "at": time(r.created_at),
        })).collect::<Vec<_>>(),
    })
}

fn order_token(token: &str) -> AppResult<String> {
    if token.len() != 48 || !token.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(AppError::NotFound);
    }
    Ok(token.to_string())
}

/// The order by its secret token.
pub async fn by_token(state: &AppState, token: &str) -> AppResult<OrderView> {
    let token = order_token(token)?;
    state
        .db(move |conn| orders::by_token(conn, &token))
        .await?
        .ok_or(AppError::NotFound)
}

/// The buyer's page, with `errors` from a form on it.
pub async fn render_buyer_page(
    state: &AppState,
    ctx: &Ctx,
    view: &OrderView,
    status: StatusCode,
    errors: &FieldErrors,
) -> AppResult<HttpResponse> {
    let mut data = order_json(ctx.lang, view, None);
    let pending = view.order.status == "pending_payment";
    data["retry"] = json!(pending && ctx.uri.contains("retry=1"));
    data["confirming"] = json!(pending && ctx.uri.contains("paid=1"));
    data["csrf_token"] = json!(csrf::token(&ctx.session));
    data["errors"] = errors_json(ctx.lang, errors);
    ctx.page(&state.templates, status, "pages/order", data)
}

pub async fn show(
    state: web::Data<AppState>,
    ctx: Ctx,
    token: web::Path<String>,
) -> AppResult<HttpResponse> {
    let view = by_token(&state, &token).await?;
    render_buyer_page(&state, &ctx, &view, StatusCode::OK, &FieldErrors::default()).await
}

/// The buyer cancels their own order while it awaits payment.
pub async fn buyer_cancel(
    state: web::Data<AppState>,
    ctx: Ctx,
    token: web::Path<String>,
    CsrfForm(_): CsrfForm<HashMap<String, String>>,
) -> AppResult<HttpResponse> {
    let view = by_token(&state, &token).await?;
    let order = view.order.clone();
    let who = Who::tool("buyer");
    let result = state
        .db(move |conn| Ok::<_, AppError>(orders::cancel(conn, &who, &order, now_utc())))
        .await?;
    match result {
        Ok(()) => Ok(redirect(&format!("/orders/{}", view.order.token))),
        Err(e) => {
            let errors = form_errors(e)?;
            render_buyer_page(&state, &ctx, &view, StatusCode::CONFLICT, &errors).await
        }
    }
}

/// The field errors of a refused order action; anything else is a server error.
fn form_errors(e: OrderError) -> AppResult<FieldErrors> {
    match e {
        OrderError::Invalid(errors) => Ok(errors),
        OrderError::Lines(_) => Err(AppError::Internal("no lines to refuse here".into())),
        OrderError::Database(e) => Err(e.into()),
    }
}

const ORDER_STATUSES: [&str; 9] = [
    "pending_payment",
    "paid",
    "packed",
    "shipped",
    "delivered",
    "expired",
    "cancelled",
    "refunded",
    "partially_refunded",
];
const CHANNELS: [&str; 3] = ["store", "canteen", "livestream"];

#[derive(serde::Deserialize, Default)]
#[serde(default)]
pub struct ListFilter {
    status: String,
    channel: String,
    date: String,
}

fn parse_day(field: &str, raw: &str) -> AppResult<Option<NaiveDate>> {
    if raw.trim().is_empty() {
        return Ok(None);
    }
    NaiveDate::parse_from_str(raw.trim(), "%Y-%m-%d")
        .map(Some)
        .map_err(|_| AppError::bad_field(field, raw))
}

/// `/team/orders`: orders with a line from the member's villages.
pub async fn team_list(
    state: web::Data<AppState>,
    ctx: Ctx,
    area: TeamArea,
    filter: web::Query<ListFilter>,
) -> AppResult<HttpResponse> {
    let f = filter.into_inner();
    let pick = |field: &str, value: &str, allowed: &[&str]| -> AppResult<Option<String>> {
        match value {
            "" => Ok(None),
            v if allowed.contains(&v) => Ok(Some(v.to_string())),
            v => Err(AppError::bad_field(field, v)),
        }
    };
    let query = OrderFilter {
        status: pick("status", &f.status, &ORDER_STATUSES)?,
        channel: pick("channel", &f.channel, &CHANNELS)?,
        day: parse_day("date", &f.date)?,
    };
    let ids = area.scope.village_ids().to_vec();
    let found = state
        .db(move |conn| db_orders::touching_villages(conn, &ids, &query, 200))
        .await?;
    let lang = ctx.lang;
    let data = json!({
        "orders": found.iter().map(|o| json!({
            "id": o.id, "number": o.number, "status": lang.t(&format!("order-status-{}", o.status)),
            "total": format_fen(o.total_fen), "name": o.buyer_name,
            "attention": o.attention.is_some(),
            "placed": china_time(o.created_at).format("%m-%d %H:%M").to_string(),
        })).collect::<Vec<_>>(),
        "statuses": coded_options(lang, &ORDER_STATUSES, "order-status-", &f.status),
        "channels": coded_options(lang, &CHANNELS, "channel-", &f.channel),
        "date": f.date,
        "today": china_date(now_utc()).to_string(),
    });
    ctx.page(&state.templates, StatusCode::OK, "pages/team/orders", data)
}

async fn team_order(state: &AppState, area: &TeamArea, id: i64) -> AppResult<Order> {
    let ids = area.scope.village_ids().to_vec();
    state
        .db(move |conn| db_orders::touching_villages_by_id(conn, &ids, id))
        .await?
        .ok_or(AppError::NotFound)
}

async fn render_team_order(
    state: &AppState,
    ctx: &Ctx,
    area: &TeamArea,
    id: i64,
    status: StatusCode,
    errors: &FieldErrors,
) -> AppResult<HttpResponse> {
    let order = team_order(state, area, id).await?;
    let view = state.db(move |conn| orders::view(conn, order)).await?;
    let lang = ctx.lang;
    let mut data = order_json(lang, &view, Some(area.scope.village_ids()));
    data["csrf_token"] = json!(csrf::token(&ctx.session));
    let errors = errors_json(lang, errors);
    if let Some(lines) = data["lines"].as_array_mut() {
        for line in lines {
            line["error"] = errors[format!("qty_{}", line["id"])].clone();
        }
    }
    data["errors"] = errors;
    data["may_fulfil"] = json!(fulfilment::may_fulfil(&view.order));
    data["manual_payment"] = json!(view.order.payment_method != "stripe");
    data["refundable"] = json!(refunds::may_refund(&view.order));
    data["events"] = json!(
        view.events
            .iter()
            .map(|e| json!({
                "at": time(e.created_at),
                "to": lang.t(&format!("order-status-{}", e.to_status)),
                "who": e.actor_label, "note": e.note,
            }))
            .collect::<Vec<_>>()
    );
    ctx.page(&state.templates, status, "pages/team/order", data)
}

/// Renders the team's order page again after an action: its errors, or a redirect.
async fn after_action(
    state: &AppState,
    ctx: &Ctx,
    area: &TeamArea,
    id: i64,
    result: Result<(), OrderError>,
) -> AppResult<HttpResponse> {
    match result {
        Ok(()) => Ok(redirect(&format!("/team/orders/{id}"))),
        Err(e) => {
            let errors = form_errors(e)?;
            let status = if errors.has("status") {
                StatusCode::CONFLICT
            } else {
                StatusCode::UNPROCESSABLE_ENTITY
            };
            render_team_order(state, ctx, area, id, status, &errors).await
        }
    }
}

pub async fn team_show(
    state: web::Data<AppState>,
    ctx: Ctx,
    area: TeamArea,
    id: web::Path<i64>,
) -> AppResult<HttpResponse> {
    let none = FieldErrors::default();
    render_team_order(&state, &ctx, &area, id.into_inner(), StatusCode::OK, &none).await
}

#[derive(serde::Deserialize, Default)]
#[serde(default)]
pub struct PaidForm {
    reference: String,
}

pub async fn mark_paid(
    state: web::Data<AppState>,
    ctx: Ctx,
    area: TeamArea,
    id: web::Path<i64>,
    CsrfForm(form): CsrfForm<PaidForm>,
) -> AppResult<HttpResponse> {
    let order = team_order(&state, &area, id.into_inner()).await?;
    let (who, o) = (Who::from(&area.actor), order.clone());
    let bp = state.config.collective_share_bp;
    let result = state
        .db(move |conn| {
            Ok::<_, AppError>(orders::mark_paid(
                conn,
                &who,
                &o,
                &form.reference,
                bp,
                now_utc(),
            ))
        })
        .await?;
    after_action(&state, &ctx, &area, order.id, result).await
}

/// Packs, ships or delivers one of the member's villages' part of an order.
pub async fn advance(
    state: web::Data<AppState>,
    ctx: Ctx,
    area: TeamArea,
    path: web::Path<(i64, i64, String)>,
    CsrfForm(form): CsrfForm<ShipForm>,
) -> AppResult<HttpResponse> {
    let (id, village_id, step) = path.into_inner();
    let step = Step::parse(&step).ok_or(AppError::NotFound)?;
    if !area.scope.village_ids().contains(&village_id) {
        return Err(AppError::NotFound);
    }
    let order = team_order(&state, &area, id).await?;
    let who = Who::from(&area.actor);
    let result = state
        .db(move |conn| {
            Ok::<_, AppError>(fulfilment::advance(
                conn,
                &who,
                &order,
                village_id,
                step,
                &form,
                now_utc(),
            ))
        })
        .await?;
    after_action(&state, &ctx, &area, id, result).await
}

pub async fn team_cancel(
    state: web::Data<AppState>,
    ctx: Ctx,
    area: TeamArea,
    id: web::Path<i64>,
    CsrfForm(_): CsrfForm<HashMap<String, String>>,
) -> AppResult<HttpResponse> {
    let order = team_order(&state, &area, id.into_inner()).await?;
    let (who, o, ids) = (
        Who::from(&area.actor),
        order.clone(),
        area.scope.village_ids().to_vec(),
    );
    let result = state
        .db(move |conn| {
            // An order with another village's goods is that village's too: its buyer
            // cancels it, or it expires; one team does not cancel the other's part.
            let lines = db_orders::lines(conn, o.id)?;
            if lines.iter().any(|l| !ids.contains(&l.village_id)) {
                return Ok::<_, AppError>(Err(OrderError::Invalid(FieldErrors::single(
                    "status",
                    "invalid-order-other-villages",
                ))));
            }
            Ok(orders::cancel(conn, &who, &o, now_utc()))
        })
        .await?;
    after_action(&state, &ctx, &area, order.id, result).await
}

/// Refunds lines of the member's villages, through the provider that took the money.
pub async fn refund(
    state: web::Data<AppState>,
    ctx: Ctx,
    area: TeamArea,
    id: web::Path<i64>,
    CsrfForm(form): CsrfForm<HashMap<String, String>>,
) -> AppResult<HttpResponse> {
    let order = team_order(&state, &area, id.into_inner()).await?;
    let id = order.id;
    let request = RefundRequest {
        quantities: form
            .iter()
            .filter_map(|(k, v)| {
                let line: i64 = k.strip_prefix("qty_")?.parse().ok()?;
                Some((line, v.clone()))
            })
            .collect(),
        restock: form
            .get("restock")
            .is_some_and(|v| v == "on" || v == "true"),
        reason: form.get("reason").cloned().unwrap_or_default(),
    };
    let villages = area.scope.village_ids().to_vec();
    let planned = state
        .db(move |conn| Ok::<_, AppError>(refunds::plan(conn, &order, Some(&villages), &request)))
        .await?;
    let plan = match planned {
        Ok(plan) => plan,
        Err(e) => return after_action(&state, &ctx, &area, id, Err(e)).await,
    };
    let provider = state
        .payments
        .provider(&plan.order.payment_method)
        .ok_or_else(|| AppError::Internal("no provider for the order's method".into()))?;
    // The units are held first, so that two refunds at once cannot both send back money
    // for them; they are let go if the provider does not refund.
    let held = plan.clone();
    let reserved = state
        .db(move |conn| Ok::<_, AppError>(refunds::reserve(conn, &held)))
        .await?;
    if let Err(e) = reserved {
        return after_action(&state, &ctx, &area, id, Err(e)).await;
    }
    let receipt = match provider
        .refund(&plan.order, plan.amount_fen, &plan.idempotency_key())
        .await
    {
        Ok(receipt) => receipt,
        Err(e) => {
            tracing::warn!(order = id, error = %e, "refund refused or failed at the provider");
            let held = plan.clone();
            state.db(move |conn| refunds::release(conn, &held)).await?;
            let errors = FieldErrors::single("refund", "invalid-refund-provider");
            let status = StatusCode::BAD_GATEWAY;
            return render_team_order(&state, &ctx, &area, id, status, &errors).await;
        }
    };
    let who = Who::from(&area.actor);
    let result = state
        .db(move |conn| {
            Ok::<_, AppError>(
                refunds::record_reserved(
                    conn,
                    &who,
                    &plan,
                    receipt.provider_refund_id.as_deref(),
                    now_utc(),
                )
                .map(drop),
            )
        })
        .await?;
    after_action(&state, &ctx, &area, id, result).await
}

#[derive(serde::Deserialize, Default)]
#[serde(default)]
pub struct PackingQuery {
    village: String,
    date: String,
    format: String,
}

/// `/team/packing`: what one village packs for the orders of one day, to print or as CSV.
pub async fn packing_list(
    state: web::Data<AppState>,
    ctx: Ctx,
    area: TeamArea,
    query: web::Query<PackingQuery>,
) -> AppResult<HttpResponse> {
    let q = query.into_inner();
    let villages = area.villages(&state).await?;
    let village = match q.village.trim() {
        "" => villages.first(),
        raw => {
            let id: i64 = raw
                .parse()
                .map_err(|_| AppError::bad_field("village", raw))?;
            Some(
                villages
                    .iter()
                    .find(|v| v.id == id)
                    .ok_or(AppError::NotFound)?,
            )
        }
    }
    .ok_or(AppError::NotFound)?
    .clone();
    let day = parse_day("date", &q.date)?.unwrap_or_else(|| china_date(now_utc()));
    let village_id = village.id;
    let entries = state
        .db(move |conn| fulfilment::packing_list(conn, village_id, day))
        .await?;
    let lang = ctx.lang;
    let rows: Vec<Value> = entries
        .iter()
        .flat_map(|e| {
            e.lines.iter().map(move |l| {
                json!({
                    "order_id": e.order.id, "number": e.order.number,
                    "name": e.order.buyer_name, "phone": e.order.buyer_phone,
                    "address": e.order.delivery_address, "note": e.order.note,
                    "payment": lang.t(&format!("payment-{}", e.order.payment_method)),
                    "product": lang.pick(&l.product_name_zh, &l.product_name_en),
                    "unit": lang.pick(&l.sale_unit_zh, &l.sale_unit_en),
                    "quantity": orders::units_left(l),
                })
            })
        })
        .collect();
    match q.format.as_str() {
        "" | "html" => {}
        "csv" => return packing_csv(lang, &village, day, &rows),
        other => return Err(AppError::bad_field("format", other)),
    }
    let data = json!({
        "village": lang.pick(&village.name_zh, &village.name_en),
        "village_id": village.id,
        "villages": village_options(lang, &villages, &village.id.to_string()),
        "date": day.to_string(),
        "orders": entries.iter().map(|e| json!({
            "id": e.order.id, "number": e.order.number, "name": e.order.buyer_name,
            "phone": e.order.buyer_phone, "address": e.order.delivery_address, "note": e.order.note,
            "payment": lang.t(&format!("payment-{}", e.order.payment_method)),
            "lines": e.lines.iter().map(|l| json!({
                "product": lang.pick(&l.product_name_zh, &l.product_name_en),
                "unit": lang.pick(&l.sale_unit_zh, &l.sale_unit_en),
                "quantity": orders::units_left(l),
            })).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "totals": fulfilment::packing_totals(&entries).iter().map(|(l, units)| json!({
            "product": lang.pick(&l.product_name_zh, &l.product_name_en),
            "unit": lang.pick(&l.sale_unit_zh, &l.sale_unit_en),
            "quantity": units,
        })).collect::<Vec<_>>(),
    });
    ctx.page(&state.templates, StatusCode::OK, "pages/team/packing", data)
}

fn packing_csv(
    lang: Lang,
    village: &crate::db::catalog::Village,
    day: NaiveDate,
    rows: &[Value],
) -> AppResult<HttpResponse> {
    let columns = [
        "number", "name", "phone", "address", "product", "quantity", "unit", "payment", "note",
    ];
    let table = Table {
        sheet: lang.t("packing-title"),
        header: columns
            .iter()
            .map(|c| lang.t(&format!("packing-col-{c}")))
            .collect(),
        rows: rows
            .iter()
            .map(|r| {
                columns
                    .iter()
                    .map(|c| match &r[*c] {
                        Value::Number(n) => Cell::Number(n.as_i64().unwrap_or(0)),
                        Value::String(s) => Cell::Text(s.clone()),
                        other => Cell::Text(other.to_string()),
                    })
                    .collect()
            })
            .collect(),
    };
    download::respond(
        &table,
        Format::Csv,
        &format!("packing-{}-{day}", village.slug),
    )
}

/// `/my/orders`: a signed-in buyer's order history, each linking to its order page.
pub async fn history(state: web::Data<AppState>, ctx: Ctx) -> AppResult<HttpResponse> {
    let Some(user) = ctx.user.as_ref() else {
        return Err(AppError::SignInRequired {
            next: ctx.uri.clone(),
        });
    };
    let id = user.id;
    let mine = state
        .db(move |conn| db_orders::of_buyer(conn, id, 200))
        .await?;
    let lang = ctx.lang;
    let data = json!({
        "orders": mine.iter().map(|o| json!({
            "token": o.token, "number": o.number, "status": lang.t(&format!("order-status-{}", o.status)),
            "total": format_fen(o.total_fen), "placed": time(o.created_at),
        })).collect::<Vec<_>>(),
    });
    ctx.page(&state.templates, StatusCode::OK, "pages/my_orders", data)
}
