//! `/team`: the work team's workspace, limited to the member's villages.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use serde_json::json;

use super::AppState;
use super::auth::TeamArea;
use super::render::Ctx;
use crate::domain::team;
use crate::error::AppResult;

pub async fn home(state: web::Data<AppState>, ctx: Ctx, area: TeamArea) -> AppResult<HttpResponse> {
    let scope = area.scope.clone();
    let villages = state.db(move |conn| team::workspace(conn, &scope)).await?;
    let lang = ctx.lang;
    let data = json!({
        "user": area.actor.user.display_name,
        "villages": villages.iter().map(|s| json!({
            "slug": s.village.slug,
            "name": lang.pick(&s.village.name_zh, &s.village.name_en),
            "households": s.households,
            "products": s.products,
        })).collect::<Vec<_>>(),
    });
    ctx.page(&state.templates, StatusCode::OK, "pages/team_home", data)
}
