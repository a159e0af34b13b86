//! The audit log, read: a team sees its villages' changes, the admin sees all.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use serde_json::json;

use super::AppState;
use super::auth::{AdminArea, TeamArea};
use super::render::Ctx;
use crate::domain::audit::{self, AuditEntry};
use crate::domain::china_time;
use crate::error::AppResult;

const SHOWN: i64 = 200;

fn render(
    state: &AppState,
    ctx: &Ctx,
    entries: &[AuditEntry],
    back: &str,
) -> AppResult<HttpResponse> {
    let lang = ctx.lang;
    let data = json!({
        "back": back,
        "entries": entries.iter().map(|e| json!({
            "at": china_time(e.created_at).format("%Y-%m-%d %H:%M").to_string(),
            "who": e.actor_label,
            "from": e.client_addr,
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
    let scope = area.scope.clone();
    let entries = state
        .db(move |conn| audit::of_team(conn, &scope, SHOWN))
        .await?;
    render(&state, &ctx, &entries, "/team")
}

pub async fn admin(
    state: web::Data<AppState>,
    ctx: Ctx,
    _area: AdminArea,
) -> AppResult<HttpResponse> {
    let entries = state.db(move |conn| audit::all(conn, SHOWN)).await?;
    render(&state, &ctx, &entries, "/admin")
}
