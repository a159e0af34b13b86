//! `GET /healthz`: liveness and database reachability, for load balancers and people.

use std::time::Duration;

use actix_web::{HttpResponse, web};
use serde_json::json;

use super::AppState;
use crate::db;

pub async fn healthz(state: web::Data<AppState>) -> HttpResponse {
    let pool = state.pool.clone();
    let reachable = web::block(move || {
        // Short wait: a health check that hangs is worse than one that says no.
        let mut conn = pool
            .get_timeout(Duration::from_secs(2))
            .map_err(|e| e.to_string())?;
        db::ping(&mut conn).map_err(|e| e.to_string())
    })
    .await
    .map_err(|e| e.to_string())
    .and_then(|r| r);
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
