//! A work team's side through the API, within its villages as on the pages: the orders
//! touching them (each read with the team's own lines and parts) and a village's part
//! packed, shipped or delivered; the household register (listed, registered, edited); a
//! stock lot (入库) recorded. Another village's order or household is 404. (The team's
//! livestream sessions are `api::live`'s.)

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, put, web};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::orders::{OrderParts, order_parts};
use super::{
    ApiJson, BadRequest, Conflict, Forbidden, Money, NotFound, TooLarge, TooManyRequests,
    Unauthorized, Unprocessable, flag, given, out_of_turn, page_number, renamed, rfc3339,
    typed_param,
};
use crate::domain::actor::Who;
use crate::domain::fulfilment::{self, Part, ShipForm, Step};
use crate::domain::households::{self, Household, HouseholdForm, Search};
use crate::domain::money::format_yuan_plain;
use crate::domain::now_utc;
use crate::domain::orders::{self, OrderFilter, OrderView};
use crate::domain::stock::{self, LotForm};
use crate::error::{AppError, AppResult};
use crate::states::{Channel, HouseholdCategory, OrderStatus, PayoutMethod};
use crate::web::AppState;
use crate::web::auth::TeamArea;
use crate::web::orders::parse_day;

/// Every operation here (and `api::live`'s): a team member's token.
pub(super) const TEAM: &str =
    "A work team member's token; only the member's villages are in reach.";

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TeamOrderQuery {
    #[param(value_type = Option<OrderStatus>)]
    status: Option<String>,
    #[param(value_type = Option<Channel>)]
    channel: Option<String>,
    /// The China date the orders were placed on.
    #[param(value_type = Option<String>, format = Date)]
    date: Option<String>,
}

/// An order in the team's list.
#[derive(Serialize, ToSchema)]
pub struct TeamOrderSummary {
    pub id: i64,
    pub number: String,
    pub status: OrderStatus,
    pub channel: Channel,
    pub total: Money,
    pub buyer_name: String,
    pub created_at: String,
    /// Whether something about it needs the team's eyes (a payment that did not match…).
    pub attention: bool,
}

#[derive(Serialize, ToSchema)]
pub struct TeamOrderList {
    /// Newest first, at most 200.
    pub orders: Vec<TeamOrderSummary>,
}

/// The orders with a line from the member's villages, newest first.
#[utoipa::path(
    tag = "team",
    description = TEAM,
    security(("bearer" = [])),
    params(TeamOrderQuery),
    responses(
        (status = 200, description = "The orders", body = TeamOrderList),
        BadRequest, Unauthorized, Forbidden, TooManyRequests
    )
)]
#[get("/team/orders")]
pub async fn orders_list(
    state: web::Data<AppState>,
    area: TeamArea,
    query: web::Query<TeamOrderQuery>,
) -> AppResult<HttpResponse> {
    let filter = OrderFilter {
        status: typed_param("status", &query.status, OrderStatus::parse)?,
        channel: typed_param("channel", &query.channel, Channel::parse)?,
        day: parse_day("date", given("date", &query.date)?)?,
    };
    let scope = area.scope;
    let found = state
        .db(move |conn| orders::team_list(conn, &scope, &filter))
        .await?;
    Ok(HttpResponse::Ok().json(TeamOrderList {
        orders: found
            .iter()
            .map(|o| TeamOrderSummary {
                id: o.id,
                number: o.number.clone(),
                status: o.status,
                channel: o.channel,
                total: Money::of(o.total_fen),
                buyer_name: o.buyer_name.clone(),
                created_at: rfc3339(o.created_at),
                attention: o.attention.is_some(),
            })
            .collect(),
    }))
}

/// A step of an order's history.
#[derive(Serialize, ToSchema)]
pub struct OrderEventJson {
    pub at: String,
    /// The village whose part it was, for a village's step.
    pub village_id: Option<i64>,
    /// The order's or the village part's status it came to.
    pub status: String,
    pub by: String,
    pub note: Option<String>,
}

/// An order as the team reads it: its villages' lines, parts, refunds and history only;
/// `total` and `paid` are the whole order's.
#[derive(Serialize, ToSchema)]
pub struct TeamOrder {
    pub id: i64,
    #[serde(flatten)]
    pub order: OrderParts,
    /// A code naming why the team must look at it (a payment that did not match…); null
    /// when nothing is wrong.
    pub attention: Option<String>,
    pub events: Vec<OrderEventJson>,
}

fn team_order(view: &OrderView) -> TeamOrder {
    TeamOrder {
        id: view.order.id,
        order: order_parts(view),
        attention: view.order.attention.clone(),
        events: view
            .events
            .iter()
            .map(|e| OrderEventJson {
                at: rfc3339(e.created_at),
                village_id: e.village_id,
                status: e.to_status.clone(),
                by: e.actor_label.clone(),
                note: e.note.clone(),
            })
            .collect(),
    }
}

/// An order touching the member's villages.
#[utoipa::path(
    tag = "team",
    description = TEAM,
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "The order's id")),
    responses(
        (status = 200, description = "The order", body = TeamOrder),
        BadRequest, Unauthorized, Forbidden, NotFound, TooManyRequests
    )
)]
#[get("/team/orders/{id}")]
pub async fn order(
    state: web::Data<AppState>,
    area: TeamArea,
    id: web::Path<i64>,
) -> AppResult<HttpResponse> {
    let (scope, id) = (area.scope, id.into_inner());
    let view = state
        .db(move |conn| orders::team_view(conn, &scope, id))
        .await?;
    Ok(HttpResponse::Ok().json(team_order(&view)))
}

/// A step of a village's part of an order.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum FulfilmentStep {
    /// 打包: from pending to packed.
    Pack,
    /// 发货: from packed to shipped, with the carrier and tracking number.
    Ship,
    /// 送达: from shipped to delivered.
    Deliver,
}

impl From<FulfilmentStep> for Step {
    fn from(step: FulfilmentStep) -> Step {
        match step {
            FulfilmentStep::Pack => Step::Pack,
            FulfilmentStep::Ship => Step::Ship,
            FulfilmentStep::Deliver => Step::Deliver,
        }
    }
}

/// What a step records: the carrier and tracking number when shipping.
#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields, default)]
pub struct StepBody {
    #[schema(max_length = 40, pattern = r"^[^\u0000-\u001f\u007f-\u009f]*$")]
    pub carrier: Option<String>,
    #[schema(max_length = 64, pattern = r"^[^\u0000-\u001f\u007f-\u009f]*$")]
    pub tracking_number: Option<String>,
}

/// Packs, ships or delivers one village's part of an order.
///
/// The village must be one of the member's and the order paid, cash on delivery or on
/// account; a step out of turn (or for a village with no part in the order) is 409
/// naming `status`. Shipping needs `carrier` and `tracking_number`.
#[utoipa::path(
    tag = "team",
    description = TEAM,
    security(("bearer" = [])),
    params(
        ("id" = i64, Path, description = "The order's id"),
        ("village" = i64, Path, description = "The village whose part it is"),
        ("step" = FulfilmentStep, Path, description = "The step to take"),
    ),
    request_body = StepBody,
    responses(
        (status = 200, description = "The order after the step", body = TeamOrder),
        BadRequest, Unauthorized, Forbidden, NotFound, Conflict, TooLarge, Unprocessable, TooManyRequests
    )
)]
#[post("/team/orders/{id}/villages/{village}/{step}")]
pub async fn advance(
    state: web::Data<AppState>,
    area: TeamArea,
    path: web::Path<(i64, i64, FulfilmentStep)>,
    body: ApiJson<StepBody>,
) -> AppResult<HttpResponse> {
    let (order_id, village_id, step) = path.into_inner();
    let form = ShipForm {
        carrier: body.body.carrier.unwrap_or_default(),
        tracking_number: body.body.tracking_number.unwrap_or_default(),
    };
    let (who, scope) = (Who::from(&area.actor), area.scope);
    let part = Part {
        order_id,
        village_id,
    };
    let view = state
        .db(move |conn| {
            fulfilment::advance(conn, &who, &scope, part, step.into(), &form, now_utc())?;
            orders::team_view(conn, &scope, order_id)
        })
        .await
        .map_err(out_of_turn)?;
    Ok(HttpResponse::Ok().json(team_order(&view)))
}

/// A household (农户) of the register.
#[derive(Serialize, ToSchema)]
pub struct HouseholdJson {
    pub id: i64,
    pub village_id: i64,
    /// 户编号: its number in the village register.
    pub code: String,
    /// 户主: the head of the household.
    pub head_name: String,
    /// 常住人口: residents counted for per-capita income.
    pub resident_members: i32,
    pub category: HouseholdCategory,
    pub phone: Option<String>,
    pub payout_method: PayoutMethod,
    pub payout_account: Option<String>,
    /// Archived households leave the lists; their history stays.
    pub archived: bool,
    pub created_at: String,
    pub updated_at: String,
}

impl From<&Household> for HouseholdJson {
    fn from(h: &Household) -> Self {
        HouseholdJson {
            id: h.id,
            village_id: h.village_id,
            code: h.code.clone(),
            head_name: h.head_name.clone(),
            resident_members: h.resident_members,
            category: h.category,
            phone: h.phone.clone(),
            payout_method: h.payout_method,
            payout_account: h.payout_account.clone(),
            archived: h.archived,
            created_at: rfc3339(h.created_at),
            updated_at: rfc3339(h.updated_at),
        }
    }
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct HouseholdQuery {
    /// Words of the code, the head's name or the phone.
    #[param(max_length = 100, pattern = r"^[^\u0000-\u001f\u007f-\u009f]*$")]
    q: Option<String>,
    #[param(value_type = Option<HouseholdCategory>)]
    category: Option<String>,
    /// The archived households instead of the others.
    #[param(value_type = Option<bool>)]
    archived: Option<String>,
    /// Pages of 50, from 1.
    #[param(value_type = Option<i64>, minimum = 1, maximum = 100000)]
    page: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct HouseholdPage {
    pub households: Vec<HouseholdJson>,
    /// How many match in all.
    pub total: i64,
    pub page: i64,
    pub pages: i64,
}

/// The register of the member's villages, 50 households a page.
#[utoipa::path(
    tag = "team",
    description = TEAM,
    security(("bearer" = [])),
    params(HouseholdQuery),
    responses(
        (status = 200, description = "A page of the register", body = HouseholdPage),
        BadRequest, Unauthorized, Forbidden, TooManyRequests
    )
)]
#[get("/team/households")]
pub async fn households_list(
    state: web::Data<AppState>,
    area: TeamArea,
    query: web::Query<HouseholdQuery>,
) -> AppResult<HttpResponse> {
    let query = query.into_inner();
    let category = typed_param("category", &query.category, HouseholdCategory::parse)?
        .map(|c| c.as_str().to_string())
        .unwrap_or_default();
    let archived = flag("archived", &query.archived)?;
    let page = page_number(&query.page)?;
    let text = query.q.unwrap_or_default();
    let scope = area.scope;
    let register = state
        .db(move |conn| {
            let search = Search {
                query: &text,
                category: &category,
                archived,
            };
            households::list(conn, &scope, &search, page)
        })
        .await?;
    let pages = ((register.total + households::PAGE_SIZE - 1) / households::PAGE_SIZE).max(1);
    Ok(HttpResponse::Ok().json(HouseholdPage {
        households: register
            .households
            .iter()
            .map(HouseholdJson::from)
            .collect(),
        total: register.total,
        page,
        pages,
    }))
}

/// A household as the team registers or edits it.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HouseholdBody {
    /// The village, one of the member's: needed to register a household; when editing,
    /// the household's own (it stays in its village: another is 409).
    #[serde(default)]
    pub village_id: Option<i64>,
    /// 户编号, unique in its village.
    #[schema(
        min_length = 1,
        max_length = 32,
        pattern = r"^[^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f][^\u0000-\u001f\u007f-\u009f]*$"
    )]
    pub code: String,
    #[schema(
        min_length = 1,
        max_length = 64,
        pattern = r"^[^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f][^\u0000-\u001f\u007f-\u009f]*$"
    )]
    pub head_name: String,
    /// 常住人口, 1–50.
    #[schema(minimum = 1, maximum = 50)]
    pub resident_members: i64,
    pub category: HouseholdCategory,
    /// A mainland mobile number, or empty for none.
    #[serde(default)]
    #[schema(pattern = r"^([0-9+ -]{11,20})?$")]
    pub phone: Option<String>,
    pub payout_method: PayoutMethod,
    /// The bank account or wallet payouts go to.
    #[serde(default)]
    #[schema(max_length = 64, pattern = r"^[^\u0000-\u001f\u007f-\u009f]*$")]
    pub payout_account: Option<String>,
}

impl HouseholdBody {
    /// The register form the pages send, filled in from the body.
    fn form(self) -> HouseholdForm {
        HouseholdForm {
            code: self.code,
            head_name: self.head_name,
            resident_members: self.resident_members.to_string(),
            category: self.category.as_str().to_string(),
            phone: self.phone.unwrap_or_default(),
            payout_method: self.payout_method.as_str().to_string(),
            payout_account: self.payout_account.unwrap_or_default(),
        }
    }
}

/// Registers a household in one of the member's villages.
///
/// Audited as on the pages. A village not the member's is 422 naming `village_id`; a code
/// the village already has is 422 naming `code`.
#[utoipa::path(
    tag = "team",
    description = TEAM,
    security(("bearer" = [])),
    request_body = HouseholdBody,
    responses(
        (status = 201, description = "The household registered", body = HouseholdJson, headers(
            ("Location" = String, description = "The household's address in the API"),
        )),
        BadRequest, Unauthorized, Forbidden, TooLarge, Unprocessable, TooManyRequests
    )
)]
#[post("/team/households")]
pub async fn household_create(
    state: web::Data<AppState>,
    area: TeamArea,
    body: ApiJson<HouseholdBody>,
) -> AppResult<HttpResponse> {
    let village_id = body
        .body
        .village_id
        .map(|id| id.to_string())
        .unwrap_or_default();
    let form = body.body.form();
    let (who, scope) = (Who::from(&area.actor), area.scope);
    let saved = state
        .db(move |conn| {
            let id = households::create(conn, &who, &scope, &village_id, &form, now_utc())?;
            households::edit(conn, &scope, id)
        })
        .await?;
    Ok(HttpResponse::build(StatusCode::CREATED)
        .insert_header((
            actix_web::http::header::LOCATION,
            format!("{}/team/households/{}", super::PREFIX, saved.household.id),
        ))
        .json(HouseholdJson::from(&saved.household)))
}

/// A household of the member's villages.
#[utoipa::path(
    tag = "team",
    description = TEAM,
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "The household's id")),
    responses(
        (status = 200, description = "The household", body = HouseholdJson),
        BadRequest, Unauthorized, Forbidden, NotFound, TooManyRequests
    )
)]
#[get("/team/households/{id}")]
pub async fn household(
    state: web::Data<AppState>,
    area: TeamArea,
    id: web::Path<i64>,
) -> AppResult<HttpResponse> {
    let (scope, id) = (area.scope, id.into_inner());
    let found = state
        .db(move |conn| households::edit(conn, &scope, id))
        .await?;
    Ok(HttpResponse::Ok().json(HouseholdJson::from(&found.household)))
}

/// Saves a household of the member's villages as the body gives it whole.
///
/// Audited as on the pages; another `village_id` than its own is 409.
#[utoipa::path(
    tag = "team",
    description = TEAM,
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "The household's id")),
    request_body = HouseholdBody,
    responses(
        (status = 200, description = "The household as saved", body = HouseholdJson),
        BadRequest, Unauthorized, Forbidden, NotFound, Conflict, TooLarge, Unprocessable, TooManyRequests
    )
)]
#[put("/team/households/{id}")]
pub async fn household_update(
    state: web::Data<AppState>,
    area: TeamArea,
    id: web::Path<i64>,
    body: ApiJson<HouseholdBody>,
) -> AppResult<HttpResponse> {
    let village_id = body.body.village_id;
    let (id, form) = (id.into_inner(), body.body.form());
    let (who, scope) = (Who::from(&area.actor), area.scope);
    let saved = state
        .db(move |conn| {
            let current = households::edit(conn, &scope, id)?;
            if village_id.is_some_and(|v| v != current.household.village_id) {
                return Err(AppError::Conflict {
                    field: "village_id".into(),
                    reason: "a household stays in its village".into(),
                });
            }
            households::update(conn, &who, &scope, id, &form, now_utc())?;
            Ok(households::edit(conn, &scope, id)?)
        })
        .await?;
    Ok(HttpResponse::Ok().json(HouseholdJson::from(&saved.household)))
}

/// A lot received (入库): a household's goods of a product.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LotBody {
    /// A product of the member's villages.
    pub product_id: i64,
    /// A household of the product's village, not archived.
    pub household_id: i64,
    /// Sale units received, 1–1000000.
    #[schema(minimum = 1, maximum = 1000000)]
    pub quantity: i64,
    /// The China date received (not after today, not before 2000).
    #[schema(format = Date)]
    pub received_on: String,
    /// For 统购 goods only: what the collective pays the household per unit, in fen.
    #[serde(default)]
    #[schema(minimum = 1, maximum = 100000000)]
    pub purchase_price_fen: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct LotJson {
    pub id: i64,
    pub product_id: i64,
    pub household_id: i64,
    pub quantity: i32,
    /// What is left of it to sell or write off.
    pub remaining: i32,
    pub received_on: String,
    pub purchase_price: Option<Money>,
    pub created_at: String,
}

/// Records a lot received from a household: the product's stock grows by it.
///
/// In one transaction with its audit entry (and, for 统购 goods, the purchase in the
/// ledger). Each field that breaks a rule is named in a 422. With an `Idempotency-Key`,
/// the same request sent again answers the lot recorded the first time (201,
/// `Idempotent-Replayed: true`), and the household is credited once; a different lot under
/// a key already used is a 422 naming `Idempotency-Key`.
#[utoipa::path(
    tag = "team",
    description = TEAM,
    security(("bearer" = [])),
    params(
        ("Idempotency-Key" = Option<String>, Header, nullable = false, description = "16–64 letters and digits, new for each lot, the same for its retries", min_length = 16, max_length = 64, pattern = "^[A-Za-z0-9]{16,64}$"),
    ),
    request_body = LotBody,
    responses(
        (status = 201, description = "The lot recorded, or the one this request recorded before", body = LotJson, headers(
            ("Idempotent-Replayed" = String, description = "`true` when this answers a retry"),
        )),
        BadRequest, Unauthorized, Forbidden, TooLarge, Unprocessable, TooManyRequests
    )
)]
#[post("/team/stock-lots")]
pub async fn lot_record(
    state: web::Data<AppState>,
    req: HttpRequest,
    area: TeamArea,
    body: ApiJson<LotBody>,
) -> AppResult<HttpResponse> {
    let key = super::orders::optional_idempotency_key(&req)?;
    let b = body.body;
    let form = LotForm {
        product_id: b.product_id.to_string(),
        household_id: b.household_id.to_string(),
        quantity: b.quantity.to_string(),
        received_on: b.received_on,
        purchase_price: b
            .purchase_price_fen
            .map(format_yuan_plain)
            .unwrap_or_default(),
        idempotency_key: key.unwrap_or_default(),
    };
    let (who, scope) = (Who::from(&area.actor), area.scope);
    let (detail, replayed) = state
        .db(move |conn| {
            let recorded = stock::record_lot(conn, &who, &scope, &form, now_utc())?;
            Ok::<_, AppError>((stock::lot(conn, &scope, recorded.id)?, recorded.replayed))
        })
        .await
        .map_err(|e| renamed(e, "purchase_price", "purchase_price_fen"))
        .map_err(|e| renamed(e, "idempotency_key", "Idempotency-Key"))?;
    let lot = &detail.lot;
    Ok(HttpResponse::build(StatusCode::CREATED)
        .insert_header(("Idempotent-Replayed", replayed.to_string()))
        .json(LotJson {
            id: lot.id,
            product_id: lot.product_id,
            household_id: lot.household_id,
            quantity: lot.quantity,
            remaining: lot.remaining,
            received_on: lot.received_on.to_string(),
            purchase_price: lot.purchase_price_fen.map(Money::of),
            created_at: rfc3339(lot.created_at),
        }))
}
