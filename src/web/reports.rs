//! `/reports`: read-only reports for cadres within their scope (admins: the city).

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use serde_json::json;

use super::AppState;
use super::auth::ReportsArea;
use super::render::Ctx;
use crate::domain::accounts::ReportScope;
use crate::domain::reports;
use crate::error::AppResult;

pub async fn home(
    state: web::Data<AppState>,
    ctx: Ctx,
    area: ReportsArea,
) -> AppResult<HttpResponse> {
    let scope = area.scope.clone();
    let counties = state
        .db(move |conn| reports::scope_villages(conn, &scope))
        .await?;
    let lang = ctx.lang;
    let scope_key = match area.scope {
        ReportScope::City => "reports-scope-city",
        ReportScope::County(_) => "reports-scope-county",
        ReportScope::Village(_) => "reports-scope-village",
    };
    let data = json!({
        "user": area.actor.user.display_name,
        "scope": lang.t(scope_key),
        "counties": counties.iter().map(|(c, villages)| json!({
            "name": lang.pick(&c.name_zh, &c.name_en),
            "villages": villages.iter().map(|v| json!({
                "slug": v.slug, "name": lang.pick(&v.name_zh, &v.name_en),
            })).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
    });
    ctx.page(&state.templates, StatusCode::OK, "pages/reports_home", data)
}
