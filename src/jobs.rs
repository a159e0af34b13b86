//! Background loops that every server process runs: unpaid reservations expire. Each
//! loop's work is safe with several processes on one PostgreSQL (rows are taken with
//! `FOR UPDATE SKIP LOCKED`), so no process has to be the special one.

use std::time::Duration;

use crate::domain::{now_utc, orders};
use crate::web::AppState;

const EXPIRY_EVERY: Duration = Duration::from_secs(30);

/// Starts the loops on the current actix runtime.
pub fn spawn(state: AppState) {
    actix_web::rt::spawn(async move {
        let mut tick = actix_web::rt::time::interval(EXPIRY_EVERY);
        loop {
            tick.tick().await;
            match state
                .db(|conn| orders::expire_reservations(conn, now_utc()))
                .await
            {
                Ok(0) => {}
                Ok(n) => tracing::info!(expired = n, "unpaid orders expired, stock returned"),
                Err(e) => tracing::warn!(error = %e, "reservation expiry failed; retrying later"),
            }
        }
    });
}
