//! `GET /healthz`: liveness and database reachability, for load balancers and people.

use std::time::Duration;

use actix_web::{HttpResponse, web};
use serde_json::json;

use super::AppState;

pub async fn healthz(state: web::Data<AppState>) -> HttpResponse {
    // Short wait: a health check that hangs is worse than one that says no.
    let reachable = state.database_reachable(Duration::from_secs(2)).await;
    let database = state.backend.name();
    match reachable {
        Ok(()) => HttpResponse::Ok().json(json!({ "status": "ok", "database": database })),
        Err(reason) => {
            tracing::warn!(%reason, "health check: database unreachable");
            HttpResponse::ServiceUnavailable()
                .json(json!({ "status": "unavailable", "database": database }))
        }
    }
}
