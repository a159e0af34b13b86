//! A work team's livestream sessions (直播场次) through the API, within its villages as on
//! the pages (`web::live`): the sessions listed and a session's figures as they stand.
//! Another village's session is 404, another role 403.

use actix_web::{HttpResponse, get, web};
use serde::Serialize;
use utoipa::ToSchema;

use super::team::TEAM;
use super::{BadRequest, Forbidden, Money, NotFound, TooManyRequests, Unauthorized, rfc3339};
use crate::domain::live::{self, LiveSession, SessionFigures};
use crate::domain::live_hosts::Sum;
use crate::error::AppResult;
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
