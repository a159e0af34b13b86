//! A canteen's side through the API, within its organisation as on the pages: the
//! catalogue at canteen prices with the organisation's terms and sites; orders placed
//! (once per `Idempotency-Key`), listed and read; an approver's decision; a village's
//! delivery note (送货单), for the canteen and for the team that packs it; the acceptance
//! (验收) of what arrived; the monthly statements (对账单). Another organisation's order
//! or statement is 404, as on the pages.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::catalog::{CountyRef, TierJson, VillageRef};
use super::orders::{LineRequest, OrderParts, idempotency_key, order_parts, refusal};
use super::{
    ApiJson, BadRequest, Conflict, Forbidden, Money, NotFound, TooLarge, TooManyRequests,
    Unauthorized, Unprocessable, exact_date, fields_renamed, flag, page_number, rfc3339,
    state_conflict,
};
use crate::domain::actor::Who;
use crate::domain::canteen::DeliverySite;
use crate::domain::canteen::acceptance::{self, LineAcceptance};
use crate::domain::canteen::deliveries::{self, DeliveryNote};
use crate::domain::canteen::ordering::{self, CatalogueFilter, OrderForm, Orderer, quantity_field};
use crate::domain::canteen::orders::{self as canteen_orders, CanteenOrderView};
use crate::domain::canteen::statements::{self, Statement, StatementView};
use crate::domain::cart;
use crate::domain::catalog::season_months;
use crate::domain::now_utc;
use crate::domain::team::delivery_weekdays;
use crate::error::{AppError, AppResult};
use crate::states::{OrderStatus, PaymentMethod, PaymentTerms, RejectionReason, ShipmentStatus};
use crate::web::AppState;
use crate::web::auth::{CanteenArea, TeamArea};

/// Every operation here but the team's note: a canteen member's token.
const MEMBER: &str = "A canteen member's token; only the member's organisation is in reach.";

/// A delivery site (收货点) of the organisation.
#[derive(Serialize, ToSchema)]
pub struct SiteJson {
    pub id: i64,
    pub name: String,
    pub address: String,
    /// Who signs for the goods (收货人).
    pub receiver: String,
    pub phone: String,
    /// When goods may arrive, as `06:30–08:00`.
    pub delivery_window: String,
}

impl From<&DeliverySite> for SiteJson {
    fn from(s: &DeliverySite) -> Self {
        SiteJson {
            id: s.id,
            name: s.name.clone(),
            address: s.address.clone(),
            receiver: s.receiver.clone(),
            phone: s.phone.clone(),
            delivery_window: s.delivery_window.clone(),
        }
    }
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CatalogueQuery {
    /// Only this village's products.
    #[param(value_type = Option<i64>)]
    village: Option<String>,
    /// Only this county's (its slug).
    #[param(max_length = 100, pattern = r"^[^\u0000-\u001f\u007f-\u009f]*$")]
    county: Option<String>,
    /// Only this category.
    #[param(max_length = 100, pattern = r"^[^\u0000-\u001f\u007f-\u009f]*$")]
    category: Option<String>,
    /// Only what is in season this month (China time).
    #[param(value_type = Option<bool>)]
    in_season: Option<String>,
}

/// The organisation's terms, as ordering applies them.
#[derive(Serialize, ToSchema)]
pub struct OrganizationTerms {
    pub id: i64,
    pub name: String,
    pub payment_terms: PaymentTerms,
    /// Days to pay a statement; 0 when prepaying.
    pub payment_terms_days: i32,
    /// An order above it waits for an approver (unless an approver places it); null: none.
    pub approval_threshold: Option<Money>,
    /// On account (月结): the limit, what is open on it, and what is left to order.
    pub credit: Option<CreditJson>,
    /// A statement of the organisation is overdue: nothing more on account until paid.
    pub overdue: bool,
    /// The ways this organisation may pay an order now.
    pub payment_methods: Vec<PaymentMethod>,
}

#[derive(Serialize, ToSchema)]
pub struct CreditJson {
    pub limit: Money,
    pub open: Money,
    pub available: Money,
}

/// A product as the procurement catalogue lists it, at canteen prices.
#[derive(Serialize, ToSchema)]
pub struct CatalogueProduct {
    pub id: i64,
    pub name_zh: String,
    pub name_en: String,
    pub category: String,
    pub sale_unit_zh: String,
    pub sale_unit_en: String,
    /// The canteen price of one unit at `min_quantity`.
    pub unit_price: Money,
    /// Every tier a canteen gets, by the quantity it starts at.
    pub tiers: Vec<TierJson>,
    /// 起订量: the least an order may hold.
    pub min_quantity: i32,
    /// Above the minimum, quantities go up in steps of this.
    pub step: i32,
    /// Units on hand now.
    pub stock: i32,
    /// The months (1–12) it is in season; empty when all year.
    pub season_months: Vec<u32>,
    pub village: VillageRef,
    pub county: CountyRef,
    /// Days from an order to the earliest delivery from its village.
    pub lead_time_days: i32,
    /// The weekdays its village delivers on, 1 (Monday) to 7.
    pub delivery_weekdays: Vec<u32>,
}

#[derive(Serialize, ToSchema)]
pub struct CanteenCatalogue {
    pub organization: OrganizationTerms,
    /// The sites still delivered to.
    pub sites: Vec<SiteJson>,
    pub products: Vec<CatalogueProduct>,
}

/// The organisation's catalogue at canteen prices, with its terms and sites.
#[utoipa::path(
    tag = "canteen",
    description = MEMBER,
    security(("bearer" = [])),
    params(CatalogueQuery),
    responses(
        (status = 200, description = "The catalogue", body = CanteenCatalogue),
        BadRequest, Unauthorized, Forbidden, TooManyRequests
    )
)]
#[get("/canteen/catalogue")]
pub async fn catalogue(
    state: web::Data<AppState>,
    area: CanteenArea,
    query: web::Query<CatalogueQuery>,
) -> AppResult<HttpResponse> {
    let query = query.into_inner();
    let village = match query.village.as_deref() {
        None => None,
        Some(id) => Some(
            id.parse::<i64>()
                .map_err(|_| AppError::bad_field("village", "a village's id"))?,
        ),
    };
    let filter = CatalogueFilter {
        village,
        county: query.county.unwrap_or_default(),
        category: query.category.unwrap_or_default(),
        in_season: flag("in_season", &query.in_season)?,
    };
    let (scope, methods) = (area.scope, state.payments.methods());
    let sheet = state
        .db(move |conn| ordering::sheet(conn, scope, &filter, &[], &methods, now_utc()))
        .await?;
    let org = &sheet.organization;
    Ok(HttpResponse::Ok().json(CanteenCatalogue {
        organization: OrganizationTerms {
            id: org.id,
            name: org.name.clone(),
            payment_terms: org.payment_terms,
            payment_terms_days: org.payment_terms_days,
            approval_threshold: org.approval_threshold_fen.map(Money::of),
            credit: sheet.credit.map(|c| CreditJson {
                limit: Money::of(c.limit_fen),
                open: Money::of(c.open_fen),
                available: Money::of(c.available_fen()),
            }),
            overdue: sheet.overdue,
            payment_methods: sheet.methods.clone(),
        },
        sites: sheet.sites.iter().map(SiteJson::from).collect(),
        products: sheet
            .entries
            .iter()
            .map(|e| {
                let p = &e.product;
                CatalogueProduct {
                    id: p.id,
                    name_zh: p.name_zh.clone(),
                    name_en: p.name_en.clone(),
                    category: p.category.clone(),
                    sale_unit_zh: p.sale_unit_zh.clone(),
                    sale_unit_en: p.sale_unit_en.clone(),
                    unit_price: Money::of(e.unit_price_fen),
                    tiers: e.tiers.iter().map(TierJson::from).collect(),
                    min_quantity: p.canteen_min_quantity,
                    step: p.canteen_step,
                    stock: p.stock,
                    season_months: season_months(p),
                    village: (&e.village).into(),
                    county: (&e.county).into(),
                    lead_time_days: e.village.lead_time_days,
                    delivery_weekdays: delivery_weekdays(&e.village.delivery_weekdays),
                }
            })
            .collect(),
    }))
}

/// How a canteen order is paid.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CanteenPayment {
    /// 月结: on the organisation's monthly statement, within its credit.
    OnAccount,
    /// Card, Alipay or WeChat Pay, at `pay_url`.
    Stripe,
    /// 对公转账.
    BankTransfer,
}

impl From<CanteenPayment> for PaymentMethod {
    fn from(p: CanteenPayment) -> Self {
        match p {
            CanteenPayment::OnAccount => PaymentMethod::OnAccount,
            CanteenPayment::Stripe => PaymentMethod::Stripe,
            CanteenPayment::BankTransfer => PaymentMethod::BankTransfer,
        }
    }
}

/// A canteen order, as the quick-order sheet places it.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PlaceCanteenOrder {
    /// 1–500 lines, each product once, at least its `min_quantity` in its `step`s.
    #[schema(min_items = 1, max_items = 500)]
    pub lines: Vec<LineRequest>,
    /// One of the organisation's sites (`sites` of the catalogue).
    pub delivery_site_id: i64,
    /// The China date to deliver on: a delivery day of every village in the order, no
    /// sooner than their lead time, at most 90 days ahead.
    #[schema(format = Date)]
    pub delivery_date: String,
    /// 采购单号: the canteen's own purchase order number.
    #[serde(default)]
    #[schema(
        max_length = 40,
        pattern = r"^[^\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]*$"
    )]
    pub po_number: Option<String>,
    #[serde(default)]
    #[schema(
        max_length = 200,
        pattern = r"^[^\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]*$"
    )]
    pub note: Option<String>,
    /// One of the catalogue's `payment_methods`.
    pub payment_method: CanteenPayment,
}

/// A canteen order as its organisation's members read it: the order, its site and date,
/// the approver's decision, and what arrived.
#[derive(Serialize, ToSchema)]
pub struct CanteenOrderJson {
    pub id: i64,
    #[serde(flatten)]
    pub order: OrderParts,
    pub delivery_site: SiteJson,
    pub delivery_date: String,
    pub po_number: String,
    /// The member who placed it.
    pub placed_by: String,
    /// The approver who decided, when one did.
    pub decided_by: Option<String>,
    pub decided_at: Option<String>,
    /// Why it was sent back.
    pub sent_back_reason: Option<String>,
    /// Whether the caller may approve or send it back now.
    pub may_decide: bool,
    /// Where it is paid online, while it waits for that.
    pub pay_url: Option<String>,
    /// What arrived, line by line, as the canteen recorded it.
    pub acceptance: Vec<AcceptanceJson>,
}

/// A line's acceptance: units taken and refused, and why.
#[derive(Serialize, ToSchema)]
pub struct AcceptanceJson {
    pub line_id: i64,
    pub accepted: i32,
    pub rejected: i32,
    pub reason: Option<RejectionReason>,
}

fn canteen_order_json(page: &CanteenOrderView, base_url: &str) -> AppResult<CanteenOrderJson> {
    let view = &page.view;
    let order = &view.order;
    let (part, site) = view.canteen.as_ref().ok_or(AppError::NotFound)?;
    let pay_online = order.status == OrderStatus::PendingPayment
        && order.payment_method == PaymentMethod::Stripe;
    Ok(CanteenOrderJson {
        id: order.id,
        order: order_parts(view),
        delivery_site: site.into(),
        delivery_date: part.delivery_date.to_string(),
        po_number: part.po_number.clone(),
        placed_by: page.placed_by.clone(),
        decided_by: page.decided_by.clone(),
        decided_at: part.decided_at.map(rfc3339),
        sent_back_reason: part.sent_back_reason.clone(),
        may_decide: page.may_decide,
        pay_url: pay_online.then(|| format!("{base_url}/orders/{}", order.token)),
        acceptance: view
            .acceptance
            .iter()
            .map(|a| AcceptanceJson {
                line_id: a.order_line_id,
                accepted: a.accepted,
                rejected: a.rejected,
                reason: a.reason,
            })
            .collect(),
    })
}

/// A refusal naming the sheet's fields names the body's: `q-<product>` is the line of
/// that product, `delivery_site` the site's id.
fn body_fields(e: AppError, lines: &[(i64, i64)]) -> AppError {
    fields_renamed(e, |field| {
        if field == "delivery_site" {
            return Some("delivery_site_id".into());
        }
        lines
            .iter()
            .position(|(id, _)| quantity_field(*id) == field)
            .map(|i| format!("lines[{i}].quantity"))
    })
}

/// Places an order for the organisation, as the quick-order sheet does.
///
/// All or nothing: each field that breaks a rule is named in a 422 (a quantity below the
/// minimum or off its step, a date a village does not deliver on, an order over the
/// credit left), a line whose stock is short is a 409 naming it, and nothing is written.
/// An order above the organisation's approval threshold waits for an approver
/// (`awaiting_approval`). The same request sent again with the same `Idempotency-Key`
/// answers the order placed the first time (201, `Idempotent-Replayed: true`).
#[utoipa::path(
    tag = "canteen",
    description = MEMBER,
    security(("bearer" = [])),
    params(
        ("Idempotency-Key" = String, Header, description = "16–64 letters and digits, new for each order, the same for its retries", min_length = 16, max_length = 64, pattern = "^[A-Za-z0-9]{16,64}$"),
    ),
    request_body = PlaceCanteenOrder,
    responses(
        (status = 201, description = "The order placed, or the one this request placed before", body = CanteenOrderJson, headers(
            ("Location" = String, description = "The order's address in the API"),
            ("Idempotent-Replayed" = String, description = "`true` when this answers a retry"),
        )),
        BadRequest, Unauthorized, Forbidden, Conflict, TooLarge, Unprocessable, TooManyRequests
    )
)]
#[post("/canteen/orders")]
pub async fn place(
    state: web::Data<AppState>,
    req: HttpRequest,
    area: CanteenArea,
    body: ApiJson<PlaceCanteenOrder>,
) -> AppResult<HttpResponse> {
    let key = idempotency_key(&req)?;
    let ApiJson { body, canonical } = body;
    let lines: Vec<(i64, i64)> = body
        .lines
        .iter()
        .map(|l| (l.product_id, l.quantity))
        .collect();
    // Each product once, each quantity in range, named by its line as the storefront's.
    cart::items_of(&lines, ordering::MAX_ORDER_LINES).map_err(AppError::Invalid)?;
    exact_date("delivery_date", &body.delivery_date)?;
    let form = OrderForm {
        quantities: lines.iter().map(|(id, q)| (*id, q.to_string())).collect(),
        delivery_site: body.delivery_site_id.to_string(),
        delivery_date: body.delivery_date,
        po_number: body.po_number.unwrap_or_default(),
        note: body.note.unwrap_or_default(),
        payment_method: PaymentMethod::from(body.payment_method)
            .as_str()
            .to_string(),
        idempotency_key: key,
    };
    let user = &area.actor.user;
    let orderer = Orderer::for_program(user.id, &user.email, user.lang.code(), &canonical);
    let (who, scope, rules) = (Who::from(&area.actor), area.scope, state.canteen_rules());
    let asked = lines.clone();
    let placed = state
        .db(move |conn| -> AppResult<_> {
            let checkout = ordering::place(conn, &who, &orderer, scope, &form, &rules, now_utc())?;
            let (placed, replayed) = checkout.order().map_err(|r| refusal(&asked, &r))?;
            Ok((canteen_orders::one(conn, scope, placed.order.id)?, replayed))
        })
        .await;
    let (page, replayed) = placed.map_err(|e| body_fields(e, &lines))?;
    let json = canteen_order_json(&page, &state.config.base_url)?;
    Ok(HttpResponse::build(StatusCode::CREATED)
        .insert_header((
            actix_web::http::header::LOCATION,
            format!("{}/canteen/orders/{}", super::PREFIX, json.id),
        ))
        .insert_header(("Idempotent-Replayed", replayed.to_string()))
        .json(json))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Pages of 50, from 1.
    #[param(value_type = Option<i64>, minimum = 1, maximum = 100000)]
    page: Option<String>,
}

/// An order in the organisation's list.
#[derive(Serialize, ToSchema)]
pub struct CanteenOrderSummary {
    pub id: i64,
    pub number: String,
    pub status: OrderStatus,
    pub payment_method: PaymentMethod,
    pub total: Money,
    pub delivery_site: SiteJson,
    pub delivery_date: String,
    pub po_number: String,
    pub created_at: String,
}

#[derive(Serialize, ToSchema)]
pub struct CanteenOrderPage {
    /// Newest first.
    pub orders: Vec<CanteenOrderSummary>,
    pub page: i64,
    pub pages: i64,
}

/// The organisation's orders, every member's, 50 a page.
#[utoipa::path(
    tag = "canteen",
    description = MEMBER,
    security(("bearer" = [])),
    params(PageQuery),
    responses(
        (status = 200, description = "A page of orders", body = CanteenOrderPage),
        BadRequest, Unauthorized, Forbidden, TooManyRequests
    )
)]
#[get("/canteen/orders")]
pub async fn orders_list(
    state: web::Data<AppState>,
    area: CanteenArea,
    query: web::Query<PageQuery>,
) -> AppResult<HttpResponse> {
    let (scope, page) = (area.scope, page_number(&query.page)?);
    let list = state
        .db(move |conn| canteen_orders::list(conn, scope, page))
        .await?;
    Ok(HttpResponse::Ok().json(CanteenOrderPage {
        orders: list
            .orders
            .iter()
            .map(|o| CanteenOrderSummary {
                id: o.order.id,
                number: o.order.number.clone(),
                status: o.order.status,
                payment_method: o.order.payment_method,
                total: Money::of(o.order.total_fen),
                delivery_site: (&o.site).into(),
                delivery_date: o.part.delivery_date.to_string(),
                po_number: o.part.po_number.clone(),
                created_at: rfc3339(o.order.created_at),
            })
            .collect(),
        page: list.page,
        pages: list.pages,
    }))
}

/// One of the organisation's orders, with its site, decision and acceptance.
#[utoipa::path(
    tag = "canteen",
    description = MEMBER,
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "The order's id")),
    responses(
        (status = 200, description = "The order", body = CanteenOrderJson),
        BadRequest, Unauthorized, Forbidden, NotFound, TooManyRequests
    )
)]
#[get("/canteen/orders/{id}")]
pub async fn order_show(
    state: web::Data<AppState>,
    area: CanteenArea,
    id: web::Path<i64>,
) -> AppResult<HttpResponse> {
    let (scope, id) = (area.scope, id.into_inner());
    let page = state
        .db(move |conn| canteen_orders::one(conn, scope, id))
        .await?;
    Ok(HttpResponse::Ok().json(canteen_order_json(&page, &state.config.base_url)?))
}

/// An approver's decision on an order awaiting approval.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Decision {
    /// 批准: the order goes on as if placed below the threshold.
    Approve,
    /// 退回: the order is cancelled and its stock returns; needs a `reason`.
    SendBack,
}

#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields, default)]
pub struct DecisionBody {
    /// Why it is sent back (needed for `send-back`, up to 200 characters).
    #[schema(
        max_length = 200,
        pattern = r"^[^\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]*$"
    )]
    pub reason: Option<String>,
}

/// Approves or sends back an order awaiting approval.
///
/// Only an approver of the organisation decides (anyone else finds nothing to decide:
/// 404); an order not awaiting approval is 409 naming `status`. Audited; the member who
/// placed it is told by email.
#[utoipa::path(
    tag = "canteen",
    description = MEMBER,
    security(("bearer" = [])),
    params(
        ("id" = i64, Path, description = "The order's id"),
        ("decision" = Decision, Path, description = "The decision"),
    ),
    request_body = DecisionBody,
    responses(
        (status = 200, description = "The order decided", body = CanteenOrderJson),
        BadRequest, Unauthorized, Forbidden, NotFound, Conflict, TooLarge, Unprocessable, TooManyRequests
    )
)]
#[post("/canteen/orders/{id}/{decision}")]
pub async fn decide(
    state: web::Data<AppState>,
    area: CanteenArea,
    path: web::Path<(i64, Decision)>,
    body: ApiJson<DecisionBody>,
) -> AppResult<HttpResponse> {
    let (id, decision) = path.into_inner();
    let reason = body.body.reason.unwrap_or_default();
    if reason.chars().count() > 200 {
        return Err(AppError::bad_field("reason", "at most 200 characters"));
    }
    let (who, scope, approver, rules) = (
        Who::from(&area.actor),
        area.scope,
        area.actor.user.id,
        state.canteen_rules(),
    );
    let page = state
        .db(move |conn| {
            let now = now_utc();
            match decision {
                Decision::Approve => {
                    canteen_orders::approve(conn, &who, approver, scope, id, &rules, now)?
                }
                Decision::SendBack => {
                    canteen_orders::send_back(conn, &who, approver, scope, id, &reason, now)?
                }
            }
            Ok::<_, AppError>(canteen_orders::one(conn, scope, id)?)
        })
        .await
        .map_err(|e| state_conflict(e, "decision", "status"))?;
    Ok(HttpResponse::Ok().json(canteen_order_json(&page, &state.config.base_url)?))
}

/// One line of a delivery note.
#[derive(Serialize, ToSchema)]
pub struct NoteLineJson {
    pub line_id: i64,
    pub product_id: i64,
    pub name_zh: String,
    pub name_en: String,
    pub sale_unit_zh: String,
    pub sale_unit_en: String,
    /// Units to deliver (less any refunded before).
    pub quantity: i32,
    pub unit_price: Money,
    pub total: Money,
    /// How many households' goods it holds.
    pub households: i64,
    /// The order is not ready to ship yet (awaiting approval or payment): expected only.
    pub expected: bool,
}

/// 送货单: one village's part of a canteen order, as it is packed and signed for.
#[derive(Serialize, ToSchema)]
pub struct DeliveryNoteJson {
    pub order_id: i64,
    pub number: String,
    pub po_number: String,
    pub delivery_date: String,
    pub organization: String,
    pub site: SiteJson,
    pub village: VillageRef,
    /// Where the village's part stands, once it is being delivered.
    pub shipment_status: Option<ShipmentStatus>,
    pub lines: Vec<NoteLineJson>,
    pub total: Money,
}

fn note_json(note: &DeliveryNote) -> DeliveryNoteJson {
    DeliveryNoteJson {
        order_id: note.order.id,
        number: note.order.number.clone(),
        po_number: note.part.po_number.clone(),
        delivery_date: note.part.delivery_date.to_string(),
        organization: note.organization.name.clone(),
        site: (&note.site).into(),
        village: (&note.village).into(),
        shipment_status: note.shipment.as_ref().map(|s| s.status),
        lines: note
            .lines
            .iter()
            .map(|n| NoteLineJson {
                line_id: n.line.id,
                product_id: n.line.product_id,
                name_zh: n.line.product_name_zh.clone(),
                name_en: n.line.product_name_en.clone(),
                sale_unit_zh: n.line.sale_unit_zh.clone(),
                sale_unit_en: n.line.sale_unit_en.clone(),
                quantity: n.line.units_left(),
                unit_price: Money::of(n.line.unit_price_fen),
                total: Money::of(n.amount_fen),
                households: n.households as i64,
                expected: n.expected,
            })
            .collect(),
        total: Money::of(note.total_fen),
    }
}

/// The delivery note of a village's part of one of the organisation's orders.
#[utoipa::path(
    tag = "canteen",
    description = MEMBER,
    security(("bearer" = [])),
    params(
        ("id" = i64, Path, description = "The order's id"),
        ("village" = i64, Path, description = "The village whose part it is"),
    ),
    responses(
        (status = 200, description = "The delivery note", body = DeliveryNoteJson),
        BadRequest, Unauthorized, Forbidden, NotFound, TooManyRequests
    )
)]
#[get("/canteen/orders/{id}/villages/{village}/delivery-note")]
pub async fn canteen_note(
    state: web::Data<AppState>,
    area: CanteenArea,
    path: web::Path<(i64, i64)>,
) -> AppResult<HttpResponse> {
    let ((order, village), scope) = (path.into_inner(), area.scope);
    let note = state
        .db(move |conn| deliveries::canteen_note(conn, scope, order, village))
        .await?;
    Ok(HttpResponse::Ok().json(note_json(&note)))
}

/// The same delivery note, for the work team of the village that packs it.
#[utoipa::path(
    tag = "team",
    description = super::team::TEAM,
    security(("bearer" = [])),
    params(
        ("id" = i64, Path, description = "The order's id"),
        ("village" = i64, Path, description = "One of the member's villages, with a part in the order"),
    ),
    responses(
        (status = 200, description = "The delivery note", body = DeliveryNoteJson),
        BadRequest, Unauthorized, Forbidden, NotFound, TooManyRequests
    )
)]
#[get("/team/orders/{id}/villages/{village}/delivery-note")]
pub async fn team_note(
    state: web::Data<AppState>,
    area: TeamArea,
    path: web::Path<(i64, i64)>,
) -> AppResult<HttpResponse> {
    let ((order, village), scope) = (path.into_inner(), area.scope);
    let note = state
        .db(move |conn| deliveries::team_note(conn, &scope, order, village))
        .await?;
    Ok(HttpResponse::Ok().json(note_json(&note)))
}

/// What arrived of one line; a line left out is accepted whole.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LineAcceptanceBody {
    /// One of the village's lines in the order (`lines[].id` of the order).
    pub line_id: i64,
    /// Units taken; by default what was sent less those rejected.
    #[serde(default)]
    #[schema(minimum = 0, maximum = 100000)]
    pub accepted: Option<i64>,
    /// Units refused; by default none.
    #[serde(default)]
    #[schema(minimum = 0, maximum = 100000)]
    pub rejected: Option<i64>,
    /// Why units were refused: needed when any are.
    #[serde(default)]
    pub reason: Option<RejectionReason>,
}

/// 验收: what arrived of a village's delivered part.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AcceptanceBody {
    #[schema(max_items = 500)]
    pub lines: Vec<LineAcceptanceBody>,
}

/// Records what arrived of a village's delivered part of one of the organisation's orders.
///
/// For each line, accepted and rejected add up to what was sent, with a reason for any
/// rejection (422 naming `lines[i].accepted` or `lines[i].reason` otherwise; a line not of
/// the part, or named twice, is 422 naming `lines[i].line_id`). Rejected units become a credit on the
/// order, in the same transaction. A part not delivered yet, or already accepted, is 409
/// naming `acceptance`.
#[utoipa::path(
    tag = "canteen",
    description = MEMBER,
    security(("bearer" = [])),
    params(
        ("id" = i64, Path, description = "The order's id"),
        ("village" = i64, Path, description = "The village whose part arrived"),
    ),
    request_body = AcceptanceBody,
    responses(
        (status = 200, description = "The order with the acceptance recorded", body = CanteenOrderJson),
        BadRequest, Unauthorized, Forbidden, NotFound, Conflict, TooLarge, Unprocessable, TooManyRequests
    )
)]
#[post("/canteen/orders/{id}/villages/{village}/acceptance")]
pub async fn accept(
    state: web::Data<AppState>,
    area: CanteenArea,
    path: web::Path<(i64, i64)>,
    body: ApiJson<AcceptanceBody>,
) -> AppResult<HttpResponse> {
    let (id, village) = path.into_inner();
    let typed = |n: Option<i64>| n.map(|n| n.to_string()).unwrap_or_default();
    let lines: Vec<LineAcceptance> = body
        .body
        .lines
        .iter()
        .map(|l| LineAcceptance {
            line_id: l.line_id,
            accepted: typed(l.accepted),
            rejected: typed(l.rejected),
            reason: l.reason.map(|r| r.as_str().to_string()).unwrap_or_default(),
        })
        .collect();
    let ids: Vec<i64> = lines.iter().map(|l| l.line_id).collect();
    let (who, member, scope) = (Who::from(&area.actor), area.actor.user.id, area.scope);
    let page = state
        .db(move |conn| {
            acceptance::record(conn, &who, member, scope, id, village, &lines, now_utc())?;
            Ok::<_, AppError>(canteen_orders::one(conn, scope, id)?)
        })
        .await
        .map_err(|e| {
            let e = state_conflict(e, "acceptance", "acceptance");
            fields_renamed(e, |field| {
                let (kind, line) = field.split_once('-')?;
                // A line named twice is refused where it comes again.
                let at = ids.iter().rposition(|id| id.to_string() == line)?;
                let name = if kind == "line" { "line_id" } else { kind };
                Some(format!("lines[{at}].{name}"))
            })
        })?;
    Ok(HttpResponse::Ok().json(canteen_order_json(&page, &state.config.base_url)?))
}

/// 对账单: a month's statement of the organisation's orders on account.
#[derive(Serialize, ToSchema)]
pub struct StatementSummary {
    pub id: i64,
    pub number: String,
    /// The month it bills, `YYYY-MM`.
    pub month: String,
    pub issued_at: String,
    pub due_date: String,
    /// The goods of its orders, before credits.
    pub goods: Money,
    /// Credited on arrival (rejected units) and refunded before it was issued.
    pub credits: Money,
    /// What the organisation owes: goods less credits.
    pub total: Money,
    pub paid: Money,
    pub outstanding: Money,
    pub paid_at: Option<String>,
    /// 发票号: the collective's invoice for it.
    pub invoice_number: Option<String>,
    /// Past its due date with money outstanding.
    pub overdue: bool,
}

fn statement_summary(s: &Statement, today: chrono::NaiveDate) -> StatementSummary {
    StatementSummary {
        id: s.id,
        number: s.number.clone(),
        month: s.month.format("%Y-%m").to_string(),
        issued_at: rfc3339(s.issued_at),
        due_date: s.due_date.to_string(),
        goods: Money::of(s.goods_fen),
        credits: Money::of(s.credits_fen),
        total: Money::of(s.total_fen),
        paid: Money::of(s.paid_fen),
        outstanding: Money::of(s.outstanding_fen()),
        paid_at: s.paid_at.map(rfc3339),
        invoice_number: s.invoice_number.clone(),
        overdue: s.is_overdue(today),
    }
}

#[derive(Serialize, ToSchema)]
pub struct StatementList {
    /// Newest first.
    pub statements: Vec<StatementSummary>,
}

/// The organisation's monthly statements.
#[utoipa::path(
    tag = "canteen",
    description = MEMBER,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The statements", body = StatementList),
        BadRequest, Unauthorized, Forbidden, TooManyRequests
    )
)]
#[get("/canteen/statements")]
pub async fn statements_list(
    state: web::Data<AppState>,
    area: CanteenArea,
) -> AppResult<HttpResponse> {
    let scope = area.scope;
    let all = state
        .db(move |conn| statements::of_organization(conn, scope))
        .await?;
    let today = crate::domain::china_date(now_utc());
    Ok(HttpResponse::Ok().json(StatementList {
        statements: all.iter().map(|s| statement_summary(s, today)).collect(),
    }))
}

/// A village's part of one order, as a statement bills it.
#[derive(Serialize, ToSchema)]
pub struct BilledJson {
    pub order_id: i64,
    pub number: String,
    pub po_number: String,
    pub delivery_date: String,
    pub site: String,
    pub village_zh: String,
    pub village_en: String,
    pub goods: Money,
    pub credits: Money,
    pub amount: Money,
}

/// A payment received against a statement.
#[derive(Serialize, ToSchema)]
pub struct StatementPaymentJson {
    pub amount: Money,
    /// The bank's reference for the transfer.
    pub bank_reference: String,
    pub paid_on: String,
}

#[derive(Serialize, ToSchema)]
pub struct StatementJson {
    #[serde(flatten)]
    pub summary: StatementSummary,
    /// By delivery date, then order, then village.
    pub shipments: Vec<BilledJson>,
    pub payments: Vec<StatementPaymentJson>,
    /// How many of its orders its payments have paid, of how many.
    pub orders_paid: i64,
    pub orders: i64,
}

fn statement_json(v: &StatementView) -> StatementJson {
    StatementJson {
        summary: statement_summary(&v.statement, v.today),
        shipments: v
            .shipments
            .iter()
            .map(|s| BilledJson {
                order_id: s.order.id,
                number: s.order.number.clone(),
                po_number: s.part.po_number.clone(),
                delivery_date: s.part.delivery_date.to_string(),
                site: s.site.name.clone(),
                village_zh: s.village_zh.clone(),
                village_en: s.village_en.clone(),
                goods: Money::of(s.goods_fen),
                credits: Money::of(s.credits_fen),
                amount: Money::of(s.amount_fen()),
            })
            .collect(),
        payments: v
            .payments
            .iter()
            .map(|p| StatementPaymentJson {
                amount: Money::of(p.amount_fen),
                bank_reference: p.bank_reference.clone(),
                paid_on: p.paid_on.to_string(),
            })
            .collect(),
        orders_paid: v.orders_paid as i64,
        orders: v.orders as i64,
    }
}

/// One of the organisation's statements, with what it bills and what was paid.
#[utoipa::path(
    tag = "canteen",
    description = MEMBER,
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "The statement's id")),
    responses(
        (status = 200, description = "The statement", body = StatementJson),
        BadRequest, Unauthorized, Forbidden, NotFound, TooManyRequests
    )
)]
#[get("/canteen/statements/{id}")]
pub async fn statement_show(
    state: web::Data<AppState>,
    area: CanteenArea,
    id: web::Path<i64>,
) -> AppResult<HttpResponse> {
    let (scope, id) = (area.scope, id.into_inner());
    let view = state
        .db(move |conn| statements::for_member(conn, scope, id, now_utc()))
        .await?;
    Ok(HttpResponse::Ok().json(statement_json(&view)))
}
