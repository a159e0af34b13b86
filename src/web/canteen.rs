//! `/canteen`: a canteen buyer's area, limited to their organisation.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use serde_json::json;

use super::AppState;
use super::auth::CanteenArea;
use super::render::Ctx;
use crate::domain::canteen;
use crate::domain::money::format_fen;
use crate::error::AppResult;

pub async fn home(
    state: web::Data<AppState>,
    ctx: Ctx,
    area: CanteenArea,
) -> AppResult<HttpResponse> {
    let scope = area.scope;
    let org = state
        .db(move |conn| canteen::organization(conn, scope))
        .await?;
    let data = json!({
        "user": area.actor.user.display_name,
        "organization": {
            "name": org.name,
            "invoice_title": org.invoice_title,
            "tax_id": org.tax_id,
            "address": org.address,
            "contact_name": org.contact_name,
            "payment_terms_days": org.payment_terms_days,
            "annual_target": format_fen(org.annual_target_fen),
        },
    });
    ctx.page(&state.templates, StatusCode::OK, "pages/canteen_home", data)
}
