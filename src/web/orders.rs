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
use super::auth::{SignedIn, TeamArea, redirect};
use super::csrf::{self, CsrfForm};
use super::download::{self, Cell, Format, Table};
use super::forms::{coded_options, errors_json, keyed, village_options};
use super::render::Ctx;
use crate::domain::actor::Who;
use crate::domain::fulfilment::{self, Packing, Part, ShipForm, Step};
use crate::domain::money::format_fen;
use crate::domain::orders::{self, OrderFilter, OrderView};
use crate::domain::refunds::{self, Completed, ProviderAnswer, RefundRequest};
use crate::domain::validation::FieldErrors;
use crate::domain::{china_date, china_time, now_utc, payments};
use crate::error::{AppError, AppResult};
use crate::i18n::Lang;
use crate::states::{Channel, OrderStatus, ShipmentStatus};

pub(super) fn time(t: chrono::NaiveDateTime) -> String {
    china_time(t).format("%Y-%m-%d %H:%M").to_string()
}

/// The parts of an order both the buyer's and the team's pages show (a team's view
/// holds its own villages' lines and shipments only).
pub(super) fn order_json(lang: Lang, view: &OrderView) -> Value {
    let o = &view.order;
    json!({
        "order": {
            "id": o.id, "number": o.number, "token": o.token, "status": o.status,
            "status_label": lang.t(&format!("order-status-{}", o.status)),
            "total": format_fen(o.total_fen),
            "refunded": (o.refunded_fen > 0).then(|| format_fen(o.refunded_fen)),
            "payment_method": lang.t(&format!("payment-{}", o.payment_method)),
            "channel": lang.t(&format!("channel-{}", o.channel)),
            "pending": o.status == OrderStatus::PendingPayment,
            "cancellable": view.cancellable,
            "bank_transfer": orders::awaits_transfer(o),
            "pay_online": orders::awaits_online_payment(o),
            "reserved_until": o.reserved_until.map(time),
            "paid_at": o.paid_at.map(time),
            "attention": o.attention.as_ref().map(|a| lang.t(&format!("attention-{a}"))),
            "name": o.buyer_name, "phone": o.buyer_phone, "email": o.buyer_email,
            "address": o.delivery_address, "note": o.note,
            "placed": time(o.created_at),
        },
        "lines": view.lines.iter().map(|l| json!({
            "id": l.id,
            "name": lang.pick(&l.product_name_zh, &l.product_name_en),
            "unit": lang.pick(&l.sale_unit_zh, &l.sale_unit_en),
            "quantity": l.quantity,
            "refunded_quantity": l.refunded_quantity,
            "refundable": l.units_left(),
            "unit_price": format_fen(l.unit_price_fen),
            "line_total": format_fen(l.line_total_fen),
            "acceptance": view.acceptance.iter().find(|a| a.order_line_id == l.id).map(|a| json!({
                "text": lang.t_args("acceptance-line", &[("accepted", a.accepted.to_string()), ("rejected", a.rejected.to_string())]),
                "reason": a.reason.map(|r| lang.t(&format!("rejection-{r}"))),
            })),
        })).collect::<Vec<_>>(),
        "shipments": view.shipments.iter().map(|(s, v)| json!({
            "village_id": v.id,
            "village": lang.pick(&v.name_zh, &v.name_en),
            "status": s.status,
            "status_label": lang.t(&format!("shipment-status-{}", s.status)),
            "carrier": s.carrier, "tracking_number": s.tracking_number,
            "shipped_at": s.shipped_at.map(time), "delivered_at": s.delivered_at.map(time),
            "accepted_at": s.accepted_at.map(time),
            "auto_accepted": s.accepted_at.is_some() && s.accepted_by_user_id.is_none(),
            "can_pack": s.status == ShipmentStatus::Pending,
            "can_ship": s.status == ShipmentStatus::Packed,
            "can_deliver": s.status == ShipmentStatus::Shipped,
        })).collect::<Vec<_>>(),
        "canteen": view.canteen.as_ref().map(|(part, site)| json!({
            "site": site.name, "site_address": site.address, "receiver": site.receiver,
            "phone": site.phone, "window": site.delivery_window,
            "delivery_date": part.delivery_date.to_string(), "po_number": part.po_number,
        })),
        "refunds": view.refunds.iter().map(|r| json!({
            "amount": format_fen(r.amount_fen), "reason": r.reason, "restock": r.restock,
            "at": time(r.created_at),
        })).collect::<Vec<_>>(),
    })
}

pub fn order_token(token: &str) -> AppResult<String> {
    if token.len() != 48 || !token.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(AppError::NotFound);
    }
    Ok(token.to_string())
}

/// The order by its secret token.
pub async fn by_token(state: &AppState, token: &str) -> AppResult<OrderView> {
    let token = order_token(token)?;
    state.db(move |conn| orders::by_token(conn, &token)).await
}

/// The buyer's page, with `errors` from a form on it.
pub async fn render_buyer_page(
    state: &AppState,
    ctx: &Ctx,
    view: &OrderView,
    status: StatusCode,
    errors: &FieldErrors,
) -> AppResult<HttpResponse> {
    let mut data = order_json(ctx.lang, view);
    let pending = view.order.status == OrderStatus::PendingPayment;
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
    let token = order_token(&token)?;
    let t = token.clone();
    match state
        .db(move |conn| orders::buyer_cancel(conn, &t, now_utc()))
        .await
    {
        Ok(()) => Ok(redirect(&format!("/orders/{token}"))),
        Err(AppError::Invalid(errors)) => {
            let view = by_token(&state, &token).await?;
            render_buyer_page(&state, &ctx, &view, StatusCode::CONFLICT, &errors).await
        }
        Err(e) => Err(e),
    }
}

#[derive(serde::Deserialize, Default)]
#[serde(default)]
pub struct ListFilter {
    status: String,
    channel: String,
    date: String,
}

pub(crate) fn parse_day(field: &str, raw: &str) -> AppResult<Option<NaiveDate>> {
    if raw.trim().is_empty() {
        return Ok(None);
    }
    NaiveDate::parse_from_str(raw.trim(), "%Y-%m-%d")
        .map(Some)
        .map_err(|_| AppError::bad_field(field, raw))
}

/// A typed filter's value from the query, `None` when empty.
fn pick<T>(field: &str, value: &str, parse: fn(&str) -> Option<T>) -> AppResult<Option<T>> {
    match value {
        "" => Ok(None),
        v => parse(v)
            .map(Some)
            .ok_or_else(|| AppError::bad_field(field, v)),
    }
}

/// `/team/orders`: orders with a line from the member's villages.
pub async fn team_list(
    state: web::Data<AppState>,
    ctx: Ctx,
    area: TeamArea,
    filter: web::Query<ListFilter>,
) -> AppResult<HttpResponse> {
    let f = filter.into_inner();
    let query = OrderFilter {
        status: pick("status", &f.status, OrderStatus::parse)?,
        channel: pick("channel", &f.channel, Channel::parse)?,
        day: parse_day("date", &f.date)?,
    };
    let scope = area.scope;
    let found = state
        .db(move |conn| orders::team_list(conn, &scope, &query))
        .await?;
    let lang = ctx.lang;
    let statuses: Vec<&str> = OrderStatus::ALL.iter().map(|s| s.as_str()).collect();
    let channels: Vec<&str> = Channel::ALL.iter().map(|c| c.as_str()).collect();
    let data = json!({
        "orders": found.iter().map(|o| json!({
            "id": o.id, "number": o.number, "status": lang.t(&format!("order-status-{}", o.status)),
            "total": format_fen(o.total_fen), "name": o.buyer_name,
            "attention": o.attention.is_some(),
            "placed": china_time(o.created_at).format("%m-%d %H:%M").to_string(),
        })).collect::<Vec<_>>(),
        "statuses": coded_options(lang, &statuses, "order-status-", &f.status),
        "channels": coded_options(lang, &channels, "channel-", &f.channel),
        "date": f.date,
        "today": china_date(now_utc()).to_string(),
    });
    ctx.page(&state.templates, StatusCode::OK, "pages/team/orders", data)
}

async fn render_team_order(
    state: &AppState,
    ctx: &Ctx,
    area: &TeamArea,
    id: i64,
    status: StatusCode,
    errors: &FieldErrors,
) -> AppResult<HttpResponse> {
    let scope = area.scope.clone();
    let view = state
        .db(move |conn| orders::team_view(conn, &scope, id))
        .await?;
    let lang = ctx.lang;
    let mut data = order_json(lang, &view);
    data["csrf_token"] = json!(csrf::token(&ctx.session));
    let errors = errors_json(lang, errors);
    if let Some(lines) = data["lines"].as_array_mut() {
        for line in lines {
            line["error"] = errors[format!("qty_{}", line["id"])].clone();
        }
    }
    data["errors"] = errors;
    data["may_fulfil"] = json!(fulfilment::may_fulfil(&view.order));
    data["manual_payment"] = json!(orders::paid_by_hand(&view.order));
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

/// The team's order page after an action: a redirect, or the page again with the
/// action's errors.
async fn after_action(
    state: &AppState,
    ctx: &Ctx,
    area: &TeamArea,
    id: i64,
    result: AppResult<()>,
) -> AppResult<HttpResponse> {
    match result {
        Ok(()) => Ok(redirect(&format!("/team/orders/{id}"))),
        Err(AppError::Invalid(errors)) => {
            let status = if errors.has("status") {
                StatusCode::CONFLICT
            } else {
                StatusCode::UNPROCESSABLE_ENTITY
            };
            render_team_order(state, ctx, area, id, status, &errors).await
        }
        Err(e) => Err(e),
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
    let id = id.into_inner();
    let (who, scope) = (Who::from(&area.actor), area.scope.clone());
    let bp = state.config.collective_share_bp;
    let result = state
        .db(move |conn| {
            payments::team_mark_paid(conn, &who, &scope, id, &form.reference, bp, now_utc())
        })
        .await;
    after_action(&state, &ctx, &area, id, result).await
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
    let (who, scope) = (Who::from(&area.actor), area.scope.clone());
    let part = Part {
        order_id: id,
        village_id,
    };
    let result = state
        .db(move |conn| fulfilment::advance(conn, &who, &scope, part, step, &form, now_utc()))
        .await;
    after_action(&state, &ctx, &area, id, result).await
}

pub async fn team_cancel(
    state: web::Data<AppState>,
    ctx: Ctx,
    area: TeamArea,
    id: web::Path<i64>,
    CsrfForm(_): CsrfForm<HashMap<String, String>>,
) -> AppResult<HttpResponse> {
    let id = id.into_inner();
    let (who, scope) = (Who::from(&area.actor), area.scope.clone());
    let result = state
        .db(move |conn| orders::team_cancel(conn, &who, &scope, id, now_utc()))
        .await;
    after_action(&state, &ctx, &area, id, result).await
}

/// Refunds lines of the member's villages, through the provider that took the money:
/// the domain holds the units (`prepare`), the provider is asked, and the domain records
/// the refund or lets the units go as it answered (`complete`).
pub async fn refund(
    state: web::Data<AppState>,
    ctx: Ctx,
    area: TeamArea,
    id: web::Path<i64>,
    CsrfForm(form): CsrfForm<HashMap<String, String>>,
) -> AppResult<HttpResponse> {
    let id = id.into_inner();
    let request = RefundRequest {
        quantities: keyed(&form, "qty_"),
        restock: form
            .get("restock")
            .is_some_and(|v| v == "on" || v == "true"),
        reason: form.get("reason").cloned().unwrap_or_default(),
    };
    let scope = area.scope.clone();
    let held = match state
        .db(move |conn| refunds::prepare(conn, &scope, id, &request))
        .await
    {
        Ok(held) => held,
        Err(e) => return after_action(&state, &ctx, &area, id, Err(e)).await,
    };
    let provider = state.payments.provider(held.order().payment_method);
    let answer = match provider {
        // The shop no longer runs the provider that took the money: nothing can be sent.
        None => ProviderAnswer::Failed,
        Some(provider) => match provider
            .refund(held.order(), held.amount_fen(), &held.idempotency_key())
            .await
        {
            Ok(receipt) => ProviderAnswer::Refunded {
                provider_refund_id: receipt.provider_refund_id,
            },
            Err(e) => {
                tracing::warn!(order = id, error = %e, "refund refused or failed at the provider");
                ProviderAnswer::Failed
            }
        },
    };
    let who = Who::from(&area.actor);
    let completed = state
        .db(move |conn| refunds::complete(conn, &who, held, answer, now_utc()))
        .await;
    match completed {
        Ok(Completed::Recorded(_)) => Ok(redirect(&format!("/team/orders/{id}"))),
        Ok(Completed::Released) if provider.is_none() => Err(AppError::Internal(
            "no provider for the order's method".into(),
        )),
        Ok(Completed::Released) => {
            let errors = FieldErrors::single("refund", "invalid-refund-provider");
            let status = StatusCode::BAD_GATEWAY;
            render_team_order(&state, &ctx, &area, id, status, &errors).await
        }
        Err(e) => after_action(&state, &ctx, &area, id, Err(e)).await,
    }
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
    let village_id = match q.village.trim() {
        "" => None,
        raw => Some(
            raw.parse::<i64>()
                .map_err(|_| AppError::bad_field("village", raw))?,
        ),
    };
    let day = parse_day("date", &q.date)?.unwrap_or_else(|| china_date(now_utc()));
    let scope = area.scope;
    let packing = state
        .db(move |conn| fulfilment::packing(conn, &scope, village_id, day))
        .await?;
    let Packing {
        villages,
        village,
        day,
        entries,
    } = &packing;
    let lang = ctx.lang;
    let csv = match q.format.as_str() {
        "" | "html" => false,
        "csv" => true,
        other => return Err(AppError::bad_field("format", other)),
    };
    if csv {
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
                        "quantity": l.units_left(),
                    })
                })
            })
            .collect();
        return packing_csv(lang, &village.slug, *day, &rows);
    }
    let data = json!({
        "village": lang.pick(&village.name_zh, &village.name_en),
        "village_id": village.id,
        "villages": village_options(lang, villages, &village.id.to_string()),
        "date": day.to_string(),
        "orders": entries.iter().map(|e| json!({
            "id": e.order.id, "number": e.order.number, "name": e.order.buyer_name,
            "phone": e.order.buyer_phone, "address": e.order.delivery_address, "note": e.order.note,
            "payment": lang.t(&format!("payment-{}", e.order.payment_method)),
            "lines": e.lines.iter().map(|l| json!({
                "product": lang.pick(&l.product_name_zh, &l.product_name_en),
                "unit": lang.pick(&l.sale_unit_zh, &l.sale_unit_en),
                "quantity": l.units_left(),
            })).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "totals": fulfilment::packing_totals(entries).iter().map(|(l, units)| json!({
            "product": lang.pick(&l.product_name_zh, &l.product_name_en),
            "unit": lang.pick(&l.sale_unit_zh, &l.sale_unit_en),
            "quantity": units,
        })).collect::<Vec<_>>(),
    });
    ctx.page(&state.templates, StatusCode::OK, "pages/team/packing", data)
}

fn packing_csv(
    lang: Lang,
    village_slug: &str,
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
        &format!("packing-{village_slug}-{day}"),
    )
}

/// `/my/orders`: a signed-in buyer's order history, each linking to its order page.
pub async fn history(
    state: web::Data<AppState>,
    ctx: Ctx,
    area: SignedIn,
) -> AppResult<HttpResponse> {
    let id = area.actor.user.id;
    let mine = state.db(move |conn| orders::of_buyer(conn, id)).await?;
    let lang = ctx.lang;
    let data = json!({
        "orders": mine.iter().map(|o| json!({
            "token": o.token, "number": o.number, "status": lang.t(&format!("order-status-{}", o.status)),
            "total": format_fen(o.total_fen), "placed": time(o.created_at),
        })).collect::<Vec<_>>(),
    });
    ctx.page(&state.templates, StatusCode::OK, "pages/my_orders", data)
}
