//! `/admin`: the city office's area.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use serde_json::json;

use super::AppState;
use super::auth::AdminArea;
use super::render::Ctx;
use crate::domain::admin;
use crate::domain::money::format_fen;
use crate::error::AppResult;

pub async fn home(
    state: web::Data<AppState>,
    ctx: Ctx,
    area: AdminArea,
) -> AppResult<HttpResponse> {
    let overview = state.db(admin::overview).await?;
    let lang = ctx.lang;
    let county_name = |id: i64| {
        overview
            .counties
            .iter()
            .find(|c| c.id == id)
            .map(|c| lang.pick(&c.name_zh, &c.name_en).to_string())
    };
    let data = json!({
        "user": area.actor.user.display_name,
        "users": overview.users,
        "villages": overview.villages.iter().map(|v| json!({
            "slug": v.slug,
            "name": lang.pick(&v.name_zh, &v.name_en),
            "county": county_name(v.county_id),
        })).collect::<Vec<_>>(),
        "organizations": overview.organizations.iter().map(|o| json!({
            "name": o.name,
            "payment_terms_days": o.payment_terms_days,
            "annual_target": format_fen(o.annual_target_fen),
        })).collect::<Vec<_>>(),
    });
    ctx.page(&state.templates, StatusCode::OK, "pages/admin_home", data)
}
