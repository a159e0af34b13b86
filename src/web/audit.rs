//! The audit log, read: a team sees its villages' changes, the admin sees all.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use serde_json::json;

use super::AppState;
use super::auth::{AdminArea, TeamArea};
use super::render::Ctx;
use crate::domain::audit;
use crate::domain::china_time;
use crate::error::AppResult;

const SHOWN: i64 = 200;

async fn render(
    state: &AppState,
    ctx: &Ctx,
    village_ids: Option<Vec<i64>>,
    back: &str,
) -> AppResult<HttpResponse> {
    let entries = state
        .db(move |conn| audit::recent(conn, village_ids.as_deref(), SHOWN))
        .await?;
    let lang = ctx.lang;
    let data = json!({
        "back": back,
        "entries": entries.iter().map(|e| json!({
            "at": china_time(e.created_at).format("%Y-%m-%d %H:%M").to_string(),
            "who": e.actor_label,
            "action": lang.t(&format!("audit-action-{}", e.action)),
            "entity": lang.t(&format!("audit-entity-{}", e.entity)),
            "entity_id": e.entity_id,
            "before": e.before_json,
            "after": e.after_json,
        })).collect::<Vec<_>>(),
    });
    ctx.page(&state.templates, StatusCode::OK, "pages/audit", data)
}

pub async fn team(state: web::Data<AppState>, ctx: Ctx, area: TeamArea) -> AppResult<HttpResponse> {
    render(
        &state,
        &ctx,
        Some(area.scope.village_ids().to_vec()),
        "/team",
    )
    .await
}

pub async fn admin(
    state: web::Data<AppState>,
    ctx: Ctx,
    _area: AdminArea,
) -> AppResult<HttpResponse> {
    render(&state, &ctx, None, "/admin").await
}
