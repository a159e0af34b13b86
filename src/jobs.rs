//! Background loops that every server process runs: unpaid reservations expire, and the
//! email outbox is sent. Each loop's work is safe with several processes on one
//! PostgreSQL (rows are taken with `FOR UPDATE SKIP LOCKED` and leased by conditional
//! updates), so no process has to be the special one.

use std::time::Duration;

use crate::app::Services;
use crate::db::outbox;
use crate::domain::{now_utc, orders};
use crate::error::AppError;
use crate::mail::{self, SendError};

const EXPIRY_EVERY: Duration = Duration::from_secs(30);
const MAIL_EVERY: Duration = Duration::from_secs(1);

/// Starts the loops on the current actix runtime.
pub fn spawn(state: Services) {
    let expiry = state.clone();
    actix_web::rt::spawn(async move {
        let mut tick = actix_web::rt::time::interval(EXPIRY_EVERY);
        loop {
            tick.tick().await;
            match expiry
                .db(|conn| orders::expire_reservations(conn, now_utc()))
                .await
            {
                Ok(0) => {}
                Ok(n) => tracing::info!(expired = n, "unpaid orders expired, stock returned"),
                Err(e) => tracing::warn!(error = %e, "reservation expiry failed; retrying later"),
            }
        }
    });
    actix_web::rt::spawn(async move {
        let mut tick = actix_web::rt::time::interval(MAIL_EVERY);
        loop {
            tick.tick().await;
            if let Err(e) = send_due_mail(&state).await {
                tracing::warn!(error = %e, "outbox pass failed; retrying later");
            }
        }
    });
}

/// One pass of the mail worker: claims what is due and sends it, recording each result.
/// Returns how many were sent.
pub async fn send_due_mail(state: &Services) -> Result<usize, AppError> {
    let claimed = state.db(|conn| mail::claim(conn, now_utc())).await?;
    let mut sent = 0;
    for message in claimed {
        let id = message.id;
        match state.mailer.send(&message).await {
            Ok(()) => {
                sent += 1;
                state
                    .db(move |conn| outbox::mark_sent(conn, id, now_utc()))
                    .await?;
            }
            Err(e) => {
                let retry = match &e {
                    SendError::Permanent(_) => None,
                    SendError::Transient(_) => {
                        Some(state.mailer.retry_at(message.attempts, now_utc()))
                    }
                };
                tracing::warn!(id, attempts = message.attempts, error = %e, "email not sent");
                let error = e.to_string();
                state
                    .db(move |conn| outbox::mark_failed(conn, id, &error, retry))
                    .await?;
            }
        }
    }
    Ok(sent)
}
