//! A guest's storefront order through the API: placed with an `Idempotency-Key` (a retry
//! of the same request answers the same order), then read by the order's key, as the
//! order page is read by its link. The buyer pays online on the order page.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::catalog::VillageRef;
use super::{
    ApiJson, BadRequest, Conflict, LangCode, Money, NotFound, TooLarge, TooManyRequests,
    Unprocessable, rfc3339,
};
use crate::domain::cart::LineProblem;
use crate::domain::now_utc;
use crate::domain::orders::{self, CheckoutForm, OrderView, RefusedLine};
use crate::error::{AppError, AppResult};
use crate::states::{Channel, OrderStatus, PaymentMethod, ShipmentStatus};
use crate::web::AppState;
use crate::web::orders::order_token;

/// One line of an order to place.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LineRequest {
    #[schema(minimum = 1, maximum = 9007199254740991_i64)]
    pub product_id: i64,
    /// Whole sale units (袋, 斤…), 1–100000.
    #[schema(minimum = 1, maximum = 100000)]
    pub quantity: i64,
}

/// A storefront order, as a guest places it at checkout.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PlaceOrder {
    /// 1–50 lines, each product once.
    #[schema(min_items = 1, max_items = 50)]
    pub lines: Vec<LineRequest>,
    /// Who receives the goods (收货人).
    #[schema(
        min_length = 1,
        max_length = 40,
        pattern = r"^[^\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f][^\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]*$"
    )]
    pub name: String,
    /// A mainland mobile number: 11 digits starting with 1 (spaces, dashes and +86 allowed).
    #[schema(example = "13800138000", pattern = r"^[0-9+ -]{11,20}$")]
    pub phone: String,
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f][^\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]*$"
    )]
    pub address: String,
    /// Where to send the order's emails; none, no emails.
    #[serde(default)]
    #[schema(max_length = 120, pattern = r"^[^\u0000-\u001f\u007f-\u009f]*$")]
    pub email: Option<String>,
    #[serde(default)]
    #[schema(
        max_length = 200,
        pattern = r"^[^\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]*$"
    )]
    pub note: Option<String>,
    /// One of those the shop offers now.
    pub payment_method: StorefrontPayment,
}

/// How a storefront order is paid.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum StorefrontPayment {
    /// Card, Alipay or WeChat Pay, on the order page (`order_url`).
    Stripe,
    /// 对公转账, confirmed by the team with the bank's reference.
    BankTransfer,
    /// 货到付款.
    CashOnDelivery,
}

impl From<StorefrontPayment> for PaymentMethod {
    fn from(p: StorefrontPayment) -> Self {
        match p {
            StorefrontPayment::Stripe => PaymentMethod::Stripe,
            StorefrontPayment::BankTransfer => PaymentMethod::BankTransfer,
            StorefrontPayment::CashOnDelivery => PaymentMethod::CashOnDelivery,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct OrderLineJson {
    /// The line's id (a canteen's acceptance names it).
    pub id: i64,
    pub product_id: i64,
    pub name_zh: String,
    pub name_en: String,
    pub sale_unit_zh: String,
    pub sale_unit_en: String,
    pub quantity: i32,
    pub refunded_quantity: i32,
    pub unit_price: Money,
    pub total: Money,
}

/// One village's part of the delivery.
#[derive(Serialize, ToSchema)]
pub struct ShipmentJson {
    pub village: VillageRef,
    pub status: ShipmentStatus,
    pub carrier: Option<String>,
    pub tracking_number: Option<String>,
    /// When a canteen recorded what arrived of it (验收).
    pub accepted_at: Option<String>,
}

/// What the buyer and the team both read of an order.
#[derive(Serialize, ToSchema)]
pub struct OrderParts {
    /// The order number the buyer quotes (订单号).
    pub number: String,
    pub status: OrderStatus,
    pub channel: Channel,
    pub payment_method: PaymentMethod,
    pub total: Money,
    pub paid: Money,
    pub refunded: Money,
    /// When the reserved stock goes back if the order is not paid (RFC 3339).
    pub reserved_until: Option<String>,
    pub created_at: String,
    /// The China date the order counts on.
    pub business_date: String,
    pub buyer_name: String,
    pub buyer_phone: String,
    pub buyer_email: Option<String>,
    pub delivery_address: String,
    pub note: String,
    pub lines: Vec<OrderLineJson>,
    pub shipments: Vec<ShipmentJson>,
}

/// The parts of `view` (a team's view holds its own villages' lines and shipments only).
pub fn order_parts(view: &OrderView) -> OrderParts {
    let o = &view.order;
    OrderParts {
        number: o.number.clone(),
        status: o.status,
        channel: o.channel,
        payment_method: o.payment_method,
        total: Money::of(o.total_fen),
        paid: Money::of(o.paid_fen),
        refunded: Money::of(o.refunded_fen),
        reserved_until: o.reserved_until.map(rfc3339),
        created_at: rfc3339(o.created_at),
        business_date: o.business_date.to_string(),
        buyer_name: o.buyer_name.clone(),
        buyer_phone: o.buyer_phone.clone(),
        buyer_email: o.buyer_email.clone(),
        delivery_address: o.delivery_address.clone(),
        note: o.note.clone(),
        lines: view
            .lines
            .iter()
            .map(|l| OrderLineJson {
                id: l.id,
                product_id: l.product_id,
                name_zh: l.product_name_zh.clone(),
                name_en: l.product_name_en.clone(),
                sale_unit_zh: l.sale_unit_zh.clone(),
                sale_unit_en: l.sale_unit_en.clone(),
                quantity: l.quantity,
                refunded_quantity: l.refunded_quantity,
                unit_price: Money::of(l.unit_price_fen),
                total: Money::of(l.line_total_fen),
            })
            .collect(),
        shipments: view
            .shipments
            .iter()
            .map(|(s, v)| ShipmentJson {
                village: v.into(),
                status: s.status,
                carrier: s.carrier.clone(),
                tracking_number: s.tracking_number.clone(),
                accepted_at: s.accepted_at.map(rfc3339),
            })
            .collect(),
    }
}

/// An order as its buyer reads it.
#[derive(Serialize, ToSchema)]
pub struct OrderJson {
    #[serde(flatten)]
    pub order: OrderParts,
    /// The order's secret key: it reads the order at `/api/v1/orders/{key}`.
    pub key: String,
    /// Whether the buyer may still cancel it.
    pub cancellable: bool,
    /// The order's page: where the buyer pays online, follows and cancels it.
    pub order_url: String,
}

fn order_json(view: &OrderView, base_url: &str) -> OrderJson {
    OrderJson {
        order: order_parts(view),
        key: view.order.token.clone(),
        cancellable: view.cancellable,
        order_url: format!("{base_url}/orders/{}", view.order.token),
    }
}

/// The `Idempotency-Key` header: 16–64 letters and digits, chosen by the caller afresh
/// for each order and sent again with each retry of it.
pub(super) fn idempotency_key(req: &HttpRequest) -> AppResult<String> {
    optional_idempotency_key(req)?.ok_or_else(|| AppError::bad_field("Idempotency-Key", "missing"))
}

/// The `Idempotency-Key` header where a request may go without one; if sent, as
/// `idempotency_key` wants it.
pub(super) fn optional_idempotency_key(req: &HttpRequest) -> AppResult<Option<String>> {
    let field = "Idempotency-Key";
    let Some(value) = req.headers().get(field) else {
        return Ok(None);
    };
    let key = value
        .to_str()
        .map_err(|_| AppError::bad_field(field, "16 to 64 letters and digits"))?
        .trim();
    if !orders::is_idempotency_key(key) {
        return Err(AppError::bad_field(field, "16 to 64 letters and digits"));
    }
    Ok(Some(key.to_string()))
}

/// A line refused as things stand, named by its place in the request.
pub(super) fn refusal(lines: &[(i64, i64)], refused: &[RefusedLine]) -> AppError {
    let Some(first) = refused.first() else {
        return AppError::Conflict {
            field: "lines".into(),
            reason: "refused".into(),
        };
    };
    let at = lines
        .iter()
        .position(|(id, _)| *id == first.product_id)
        .unwrap_or(0);
    let reason = match first.problem {
        LineProblem::NotOnSale => "not on sale now".to_string(),
        LineProblem::BelowMinimum(min) => format!("at least {min} an order"),
        LineProblem::AboveMaximum(max) => format!("at most {max} an order"),
        LineProblem::Short(left) => format!("only {left} left"),
    };
    AppError::Conflict {
        field: format!("lines[{at}].quantity"),
        reason,
    }
}

/// Places a guest's storefront order.
///
/// The order and its stock reservation are made all or nothing. The same request sent
/// again with the same `Idempotency-Key` answers the order placed the first time (201
/// again, with `Idempotent-Replayed: true`) and places nothing more; the key with another
/// request finds nothing of the first. The buyer pays online at `order_url`.
#[utoipa::path(
    tag = "orders",
    params(
        ("Idempotency-Key" = String, Header, description = "16–64 letters and digits, new for each order, the same for its retries", min_length = 16, max_length = 64, pattern = "^[A-Za-z0-9]{16,64}$"),
        ("lang" = Option<LangCode>, Query, description = "The language of the order's emails and of error messages"),
    ),
    request_body = PlaceOrder,
    responses(
        (status = 201, description = "The order placed, or the one this request placed before", body = OrderJson, headers(
            ("Location" = String, description = "The order's address in the API"),
            ("Idempotent-Replayed" = String, description = "`true` when this answers a retry"),
        )),
        BadRequest, Conflict, TooLarge, Unprocessable, TooManyRequests
    )
)]
#[post("/orders")]
pub async fn place(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: ApiJson<PlaceOrder>,
) -> AppResult<HttpResponse> {
    let key = idempotency_key(&req)?;
    let locale = super::lang(&req)?.code();
    let ApiJson { body, canonical } = body;
    let lines: Vec<(i64, i64)> = body
        .lines
        .iter()
        .map(|l| (l.product_id, l.quantity))
        .collect();
    let form = CheckoutForm {
        name: body.name,
        phone: body.phone,
        address: body.address,
        email: body.email.unwrap_or_default(),
        note: body.note.unwrap_or_default(),
        payment_method: PaymentMethod::from(body.payment_method)
            .as_str()
            .to_string(),
        idempotency_key: key,
        staff_code: String::new(),
    };
    let minutes = state.config.reservation_minutes;
    let methods = state.payments.methods();
    let now = now_utc();
    let asked = lines.clone();
    let placed = state
        .db(move |conn| -> AppResult<_> {
            let checkout = orders::place_for_program(
                conn, &asked, &form, &canonical, locale, &methods, minutes, now,
            )?;
            let (placed, replayed) = checkout.order().map_err(|r| refusal(&asked, &r))?;
            Ok((orders::view(conn, placed.order)?, replayed))
        })
        .await;
    let (view, replayed) = placed?;
    let json = order_json(&view, &state.config.base_url);
    Ok(HttpResponse::build(StatusCode::CREATED)
        .insert_header((
            actix_web::http::header::LOCATION,
            format!("{}/orders/{}", super::PREFIX, json.key),
        ))
        .insert_header(("Idempotent-Replayed", replayed.to_string()))
        .json(json))
}

/// The order its key names, as its buyer reads it.
#[utoipa::path(
    tag = "orders",
    params(("key" = String, Path, description = "The order's key, as `key` of the order placed", pattern = "^[0-9a-f]{48}$")),
    responses((status = 200, description = "The order", body = OrderJson), BadRequest, NotFound, TooManyRequests)
)]
#[get("/orders/{key}")]
pub async fn show(state: web::Data<AppState>, key: web::Path<String>) -> AppResult<HttpResponse> {
    let token = order_token(&key)?;
    let view = state.db(move |conn| orders::by_token(conn, &token)).await?;
    Ok(HttpResponse::Ok().json(order_json(&view, &state.config.base_url)))
}
