//! A work team's livestream sessions (直播场次) through the API, within its villages as on
//! the pages (`web::live`), each through the same `domain::live` function: the sessions
//! listed; a session prepared (a draft), its numbered items (1号, 2号…) added and changed,
//! scheduled, started, extended and ended; a session's figures as they stand. Another
//! village's session is 404, another role 403; a step out of turn, or a change to a session
//! that has ended, is 409 naming `status`.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, get, post, put, web};
use chrono::Timelike;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::team::TEAM;
use super::{
    ApiJson, BadRequest, Conflict, Forbidden, Money, NotFound, TooLarge, TooManyRequests,
    Unauthorized, Unprocessable, out_of_turn, renamed, rfc3339,
};
use crate::domain::actor::Who;
use crate::domain::live::{
    self, ItemChange, ItemForm, LiveSession, SessionFigures, SessionForm, SessionStep,
};
use crate::domain::live_hosts::Sum;
use crate::domain::money::format_yuan_plain;
use crate::domain::{china_time, now_utc};
use crate::error::{AppError, AppResult};
use crate::states::{LivePlatform, LiveStatus};
use crate::web::AppState;
use crate::web::auth::TeamArea;

/// A livestream session (直播场次) of the member's villages.
#[derive(Serialize, ToSchema)]
pub struct LiveSessionJson {
    pub id: i64,
    pub village_id: i64,
    pub title: String,
    pub platform: LivePlatform,
    /// 主播
    pub host_name: String,
    /// The host's commission, in basis points of paid sales less refunds.
    pub host_commission_bp: i32,
    pub starts_at: String,
    pub ends_at: String,
    pub status: LiveStatus,
}

impl From<&LiveSession> for LiveSessionJson {
    fn from(s: &LiveSession) -> Self {
        LiveSessionJson {
            id: s.id,
            village_id: s.village_id,
            title: s.title.clone(),
            platform: s.platform,
            host_name: s.host_name.clone(),
            host_commission_bp: s.host_commission_bp,
            starts_at: rfc3339(s.starts_at),
            ends_at: rfc3339(s.ends_at),
            status: s.status,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct LiveSessionList {
    /// Latest first.
    pub sessions: Vec<LiveSessionJson>,
}

/// The livestream sessions of the member's villages.
#[utoipa::path(
    tag = "team",
    description = TEAM,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The sessions", body = LiveSessionList),
        BadRequest, Unauthorized, Forbidden, TooManyRequests
    )
)]
#[get("/team/live-sessions")]
pub async fn live_sessions(state: web::Data<AppState>, area: TeamArea) -> AppResult<HttpResponse> {
    let scope = area.scope;
    let sessions = state.db(move |conn| live::sessions(conn, &scope)).await?;
    Ok(HttpResponse::Ok().json(LiveSessionList {
        sessions: sessions.iter().map(LiveSessionJson::from).collect(),
    }))
}

/// What links brought in: orders placed, paid, money paid and refunded, the host's
/// commission, and what is left for the village.
#[derive(Serialize, ToSchema)]
pub struct LiveFigures {
    pub orders: i64,
    pub paid_orders: i64,
    pub paid: Money,
    pub refunded: Money,
    pub host_commission: Money,
    /// Paid, less refunds, less the host's commission.
    pub for_village: Money,
}

impl From<&Sum> for LiveFigures {
    fn from(s: &Sum) -> Self {
        LiveFigures {
            orders: s.orders,
            paid_orders: s.paid_orders,
            paid: Money::of(s.paid_fen),
            refunded: Money::of(s.refunded_fen),
            host_commission: Money::of(s.commission_fen),
            for_village: Money::of(s.net_fen()),
        }
    }
}

/// A numbered link (1号, 2号…) of a session, with its figures as they stand.
#[derive(Serialize, ToSchema)]
pub struct LiveItemJson {
    /// The item's id (for changing it).
    pub item_id: i64,
    pub number: i32,
    pub product_id: i64,
    pub name_zh: String,
    pub name_en: String,
    pub live_price: Money,
    pub quota: i32,
    pub sold: i32,
    pub units_left: i32,
    pub per_buyer_limit: i32,
    /// The link viewers open (`/l/{code}`).
    pub link_url: String,
    pub visits: i64,
    pub figures: LiveFigures,
}

/// A session with each link's figures and the session's in all.
#[derive(Serialize, ToSchema)]
pub struct LiveSessionFigures {
    pub session: LiveSessionJson,
    pub items: Vec<LiveItemJson>,
    pub total: LiveFigures,
}

/// A session's live figures, as its dashboard shows them.
///
/// Read afresh on each call, whichever server process took the orders; poll it while
/// the session is live.
#[utoipa::path(
    tag = "team",
    description = TEAM,
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "The session's id")),
    responses(
        (status = 200, description = "The session and its figures", body = LiveSessionFigures),
        BadRequest, Unauthorized, Forbidden, NotFound, TooManyRequests
    )
)]
#[get("/team/live-sessions/{id}")]
pub async fn live_figures(
    state: web::Data<AppState>,
    area: TeamArea,
    id: web::Path<i64>,
) -> AppResult<HttpResponse> {
    let (scope, id) = (area.scope, id.into_inner());
    let (session, figures) = state
        .db(move |conn| live::figures(conn, &scope, id))
        .await?;
    Ok(HttpResponse::Ok().json(session_figures(&state, &session, &figures)))
}

/// A session and its figures as the API writes them.
fn session_figures(
    state: &AppState,
    session: &LiveSession,
    figures: &SessionFigures,
) -> LiveSessionFigures {
    let base = &state.config.base_url;
    LiveSessionFigures {
        session: session.into(),
        items: figures
            .items
            .iter()
            .map(|(item, product, f)| LiveItemJson {
                item_id: item.id,
                number: item.number,
                product_id: product.id,
                name_zh: product.name_zh.clone(),
                name_en: product.name_en.clone(),
                live_price: Money::of(item.live_price_fen),
                quota: item.quota,
                sold: item.sold,
                units_left: item.units_left(),
                per_buyer_limit: item.per_buyer_limit,
                link_url: format!("{base}/l/{}", item.code),
                visits: item.visits,
                figures: LiveFigures::from(&Sum::of([f])),
            })
            .collect(),
        total: LiveFigures::from(&figures.total),
    }
}

/// An RFC 3339 instant of the body as the China wall-clock minute (UTC+8) the domain's
/// form takes, `YYYY-MM-DD HH:MM`; not RFC 3339, or not on a whole minute, is a 400
/// naming `field`. (The schemas' pattern says the same: seconds `00`, a fraction of zeros
/// at most, any offset.)
fn china_minute(field: &str, text: &str) -> AppResult<String> {
    // chrono also reads `t`, a space and `z`, which the document's pattern does not allow.
    if text.as_bytes().get(10) != Some(&b'T') || text.contains('z') {
        return Err(AppError::bad_field(
            field,
            "an RFC 3339 instant (2026-05-01T12:00:00Z)",
        ));
    }
    let instant = chrono::DateTime::parse_from_rfc3339(text)
        .map_err(|_| AppError::bad_field(field, "an RFC 3339 instant (2026-05-01T12:00:00Z)"))?
        .naive_utc();
    if instant.second() != 0 || instant.nanosecond() != 0 {
        return Err(AppError::bad_field(
            field,
            "a whole minute: its seconds are 00",
        ));
    }
    Ok(china_time(instant).format("%Y-%m-%d %H:%M").to_string())
}

/// A session as the team prepares it.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SessionBody {
    /// One of the member's villages (another is 422 naming `village_id`).
    pub village_id: i64,
    #[schema(
        min_length = 1,
        max_length = 60,
        pattern = r"^[^\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f][^\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]*$"
    )]
    pub title: String,
    pub platform: LivePlatform,
    /// 主播
    #[schema(
        min_length = 1,
        max_length = 40,
        pattern = r"^[^\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f][^\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]*$"
    )]
    pub host_name: String,
    /// The host's commission, in basis points (1/100 %) of paid sales less refunds: at
    /// most 3000 (30 %).
    #[schema(minimum = 0, maximum = 3000)]
    pub host_commission_bp: i64,
    /// When it starts, to the minute (seconds 00).
    #[schema(format = DateTime, pattern = r"^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])T([01][0-9]|2[0-3]):[0-5][0-9]:00(\.0+)?(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])$", example = "2026-05-01T12:00:00Z")]
    pub starts_at: String,
    /// When it ends, to the minute, after the start (else 422 naming `ends_at`).
    #[schema(format = DateTime, pattern = r"^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])T([01][0-9]|2[0-3]):[0-5][0-9]:00(\.0+)?(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])$", example = "2026-05-01T14:00:00Z")]
    pub ends_at: String,
}

/// Prepares a session (a draft) for one of the member's villages.
///
/// Audited as on the pages. Times are RFC 3339 instants on a whole minute (another
/// instant, or text that is none, is 400 naming the field); each field that breaks a rule
/// is named in a 422. The session then takes its items, and is scheduled or started.
#[utoipa::path(
    tag = "team",
    description = TEAM,
    security(("bearer" = [])),
    request_body = SessionBody,
    responses(
        (status = 201, description = "The session prepared", body = LiveSessionFigures, headers(
            ("Location" = String, description = "The session's address in the API"),
        )),
        BadRequest, Unauthorized, Forbidden, TooLarge, Unprocessable, TooManyRequests
    )
)]
#[post("/team/live-sessions")]
pub async fn session_create(
    state: web::Data<AppState>,
    area: TeamArea,
    body: ApiJson<SessionBody>,
) -> AppResult<HttpResponse> {
    let b = body.body;
    let bp = b.host_commission_bp;
    let form = SessionForm {
        village_id: b.village_id.to_string(),
        title: b.title,
        platform: b.platform.as_str().to_string(),
        host_name: b.host_name,
        // The form's percent with two decimals: 550 → 5.50.
        host_commission: format!("{}.{:02}", bp / 100, bp % 100),
        starts_at: china_minute("starts_at", &b.starts_at)?,
        ends_at: china_minute("ends_at", &b.ends_at)?,
    };
    let (who, scope) = (Who::from(&area.actor), area.scope);
    let (session, figures) = state
        .db(move |conn| {
            let id = live::create_session(conn, &who, &scope, &form, now_utc())?;
            live::figures(conn, &scope, id)
        })
        .await
        .map_err(|e| renamed(e, "host_commission", "host_commission_bp"))?;
    Ok(HttpResponse::build(StatusCode::CREATED)
        .insert_header((
            actix_web::http::header::LOCATION,
            format!("{}/team/live-sessions/{}", super::PREFIX, session.id),
        ))
        .json(session_figures(&state, &session, &figures)))
}

/// The next numbered item (链接) of a session.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ItemBody {
    /// A product on sale in the session's village, not yet in the session.
    pub product_id: i64,
    /// The live price in fen, no higher than the product's normal price.
    #[schema(minimum = 1, maximum = 100000000)]
    pub live_price_fen: i64,
    /// Units on offer, no more than the product's stock; taken from it when the session
    /// goes live (at once, when it is live).
    #[schema(minimum = 1, maximum = 1073741823)]
    pub quota: i64,
    /// Units one mobile number may buy, no more than the quota.
    #[schema(minimum = 1, maximum = 1073741823)]
    pub per_buyer_limit: i64,
}

/// Adds the next numbered item (1号, 2号…) to a session that has not ended.
///
/// Audited as on the pages; each field that breaks a rule is named in a 422 (a live price
/// above the normal one names `live_price_fen`). A session that has ended is 409 naming
/// `status`.
#[utoipa::path(
    tag = "team",
    description = TEAM,
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "The session's id")),
    request_body = ItemBody,
    responses(
        (status = 201, description = "The session with the item added", body = LiveSessionFigures),
        BadRequest, Unauthorized, Forbidden, NotFound, Conflict, TooLarge, Unprocessable, TooManyRequests
    )
)]
#[post("/team/live-sessions/{id}/items")]
pub async fn item_add(
    state: web::Data<AppState>,
    area: TeamArea,
    id: web::Path<i64>,
    body: ApiJson<ItemBody>,
) -> AppResult<HttpResponse> {
    let b = body.body;
    let form = ItemForm {
        product_id: b.product_id.to_string(),
        live_price: format_yuan_plain(b.live_price_fen),
        quota: b.quota.to_string(),
        per_buyer_limit: b.per_buyer_limit.to_string(),
    };
    let (who, scope, id) = (Who::from(&area.actor), area.scope, id.into_inner());
    let (session, figures) = state
        .db(move |conn| {
            live::add_item(conn, &who, &scope, id, &form, now_utc())?;
            live::figures(conn, &scope, id)
        })
        .await
        .map_err(|e| out_of_turn(renamed(e, "live_price", "live_price_fen")))?;
    Ok(HttpResponse::build(StatusCode::CREATED).json(session_figures(&state, &session, &figures)))
}

/// An item's new live price and quota.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ItemChangeBody {
    /// The live price in fen, no higher than the product's normal price; orders already
    /// placed keep theirs.
    #[schema(minimum = 1, maximum = 100000000)]
    pub live_price_fen: i64,
    /// Units on offer, never fewer than are sold.
    #[schema(minimum = 1, maximum = 1073741823)]
    pub quota: i64,
}

/// Changes an item's live price and quota while its session has not ended.
///
/// Orders already placed keep the price they were placed at. A quota below what is sold
/// is 422 naming `quota`; while live, a larger quota takes the difference from the stock
/// (422 naming `quota` when it is short) and a smaller one gives it back. Audited. A
/// session that has ended is 409 naming `status`.
#[utoipa::path(
    tag = "team",
    description = TEAM,
    security(("bearer" = [])),
    params(
        ("id" = i64, Path, description = "The session's id"),
        ("item" = i64, Path, description = "The item's id (`item_id`)"),
    ),
    request_body = ItemChangeBody,
    responses(
        (status = 200, description = "The session after the change", body = LiveSessionFigures),
        BadRequest, Unauthorized, Forbidden, NotFound, Conflict, TooLarge, Unprocessable, TooManyRequests
    )
)]
#[put("/team/live-sessions/{id}/items/{item}")]
pub async fn item_change(
    state: web::Data<AppState>,
    area: TeamArea,
    path: web::Path<(i64, i64)>,
    body: ApiJson<ItemChangeBody>,
) -> AppResult<HttpResponse> {
    let (id, item_id) = path.into_inner();
    let form = ItemChange {
        live_price: format_yuan_plain(body.body.live_price_fen),
        quota: body.body.quota.to_string(),
    };
    let (who, scope) = (Who::from(&area.actor), area.scope);
    let (session, figures) = state
        .db(move |conn| {
            live::change_item(conn, &who, &scope, id, item_id, &form, now_utc())?;
            live::figures(conn, &scope, id)
        })
        .await
        .map_err(|e| out_of_turn(renamed(e, "live_price", "live_price_fen")))?;
    // The links' pages read differently now (see `web::live::link`).
    state.pages.forget_all();
    Ok(HttpResponse::Ok().json(session_figures(&state, &session, &figures)))
}

/// A step of a session, taken by hand.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum LiveStep {
    /// 预告: from draft to scheduled; it goes live on its start time.
    Schedule,
    /// 开播: from draft or scheduled to live, now; each item's quota leaves its product's
    /// stock.
    Start,
    /// 下播: from live to ended, now; what each item did not sell goes back to the stock.
    End,
}

impl From<LiveStep> for SessionStep {
    fn from(step: LiveStep) -> SessionStep {
        match step {
            LiveStep::Schedule => SessionStep::Schedule,
            LiveStep::Start => SessionStep::Start,
            LiveStep::End => SessionStep::End,
        }
    }
}

/// Schedules, starts or ends a session.
///
/// Audited as on the pages. A step out of turn is 409 naming `status`, and so is
/// scheduling or starting a session without items, or starting one whose products' stock
/// no longer holds an item's quota (nothing is taken then).
#[utoipa::path(
    tag = "team",
    description = TEAM,
    security(("bearer" = [])),
    params(
        ("id" = i64, Path, description = "The session's id"),
        ("step" = LiveStep, Path, description = "The step to take"),
    ),
    responses(
        (status = 200, description = "The session after the step", body = LiveSessionFigures),
        BadRequest, Unauthorized, Forbidden, NotFound, Conflict, TooManyRequests
    )
)]
#[post("/team/live-sessions/{id}/{step}")]
pub async fn session_step(
    state: web::Data<AppState>,
    area: TeamArea,
    path: web::Path<(i64, LiveStep)>,
) -> AppResult<HttpResponse> {
    let (id, step) = path.into_inner();
    let (who, scope) = (Who::from(&area.actor), area.scope);
    let (session, figures) = state
        .db(move |conn| {
            live::take_step(conn, &who, &scope, id, step.into(), now_utc())?;
            live::figures(conn, &scope, id)
        })
        .await
        .map_err(out_of_turn)?;
    // The links' pages read differently now (see `web::live::link`).
    state.pages.forget_all();
    Ok(HttpResponse::Ok().json(session_figures(&state, &session, &figures)))
}

/// A session's new end.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExtendBody {
    /// The new end, to the minute: later than the present end and than now.
    #[schema(format = DateTime, pattern = r"^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])T([01][0-9]|2[0-3]):[0-5][0-9]:00(\.0+)?(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])$", example = "2026-05-01T15:00:00Z")]
    pub ends_at: String,
}

/// Moves a session's end later (when the stream runs over).
///
/// Audited as on the pages. An end not after the present one (or after now) is 422
/// naming `ends_at`; a session that has ended is 409 naming `status`.
#[utoipa::path(
    tag = "team",
    description = TEAM,
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "The session's id")),
    request_body = ExtendBody,
    responses(
        (status = 200, description = "The session with its new end", body = LiveSessionFigures),
        BadRequest, Unauthorized, Forbidden, NotFound, Conflict, TooLarge, Unprocessable, TooManyRequests
    )
)]
#[post("/team/live-sessions/{id}/extend")]
pub async fn session_extend(
    state: web::Data<AppState>,
    area: TeamArea,
    id: web::Path<i64>,
    body: ApiJson<ExtendBody>,
) -> AppResult<HttpResponse> {
    let ends_at = china_minute("ends_at", &body.body.ends_at)?;
    let (who, scope, id) = (Who::from(&area.actor), area.scope, id.into_inner());
    let (session, figures) = state
        .db(move |conn| {
            live::extend(conn, &who, &scope, id, &ends_at, now_utc())?;
            live::figures(conn, &scope, id)
        })
        .await
        .map_err(out_of_turn)?;
    // The links' pages read differently now (see `web::live::link`).
    state.pages.forget_all();
    Ok(HttpResponse::Ok().json(session_figures(&state, &session, &figures)))
}
