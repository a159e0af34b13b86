//! Background loops that every server process runs: unpaid reservations expire, canteen
//! deliveries left unanswered are accepted, monthly statements are issued and overdue ones
//! told, standing orders' dates are placed at their cutoff, livestream links' visits are
//! written, the email outbox is sent and SQLite's log is checkpointed. Each loop's work is safe with several processes on one
//! PostgreSQL (rows are taken with `FOR UPDATE SKIP LOCKED` and leased by conditional
//! updates), so no process has to be the special one.

use std::time::Duration;

use crate::app::Services;
use crate::db::outbox;
use crate::domain::canteen::{acceptance, standing, statements};
use crate::domain::error::DomainError;
use crate::domain::{api_limits, live, now_utc, orders};
use crate::error::AppError;
use crate::mail::{self, SendError};

const EXPIRY_EVERY: Duration = Duration::from_secs(30);
const MAIL_EVERY: Duration = Duration::from_secs(1);
const VISITS_EVERY: Duration = Duration::from_secs(2);
const CHECKPOINT_EVERY: Duration = Duration::from_secs(1);

/// Starts the loops on the current actix runtime. Each pass runs as a task of its own,
/// so that whatever goes wrong in one pass (even a panic) is logged and the loop goes
/// on with the next.
pub fn spawn(state: Services) {
    let passes = state.clone();
    actix_web::rt::spawn(async move {
        let mut tick = actix_web::rt::time::interval(EXPIRY_EVERY);
        loop {
            tick.tick().await;
            run_pass(&passes, "unpaid orders expired, stock returned", |conn| {
                Ok(orders::expire_reservations(conn, now_utc())?)
            })
            .await;
            run_pass(
                &passes,
                "canteen deliveries accepted after the waiting days",
                |conn| acceptance::accept_overdue(conn, now_utc()),
            )
            .await;
            let bp = passes.config.collective_share_bp;
            run_pass(&passes, "monthly statements issued", move |conn| {
                statements::issue_due(conn, bp, now_utc())
            })
            .await;
            run_pass(&passes, "overdue statements told", |conn| {
                statements::tell_overdue(conn, now_utc())
            })
            .await;
            run_pass(&passes, "livestream sessions started or ended", |conn| {
                live::advance_due(conn, now_utc())
            })
            .await;
            run_pass(
                &passes,
                "API rate counts of past minutes forgotten",
                |conn| Ok(api_limits::forget_old(conn, now_utc())?),
            )
            .await;
            let rules = passes.canteen_rules();
            run_pass(&passes, "standing orders' dates placed", move |conn| {
                standing::place_due(conn, &rules, now_utc())
            })
            .await;
        }
    });
    let visits = state.clone();
    actix_web::rt::spawn(async move {
        let mut tick = actix_web::rt::time::interval(VISITS_EVERY);
        loop {
            tick.tick().await;
            let counted = visits.visits.take();
            if !counted.is_empty() {
                run_pass(&visits, "livestream link visits written", move |conn| {
                    live::record_visits(conn, &counted)
                })
                .await;
            }
        }
    });
    if state.backend == crate::db::Backend::Sqlite {
        // The server's connections leave this to it (`db::open_server_pool`).
        let checkpoints = state.clone();
        actix_web::rt::spawn(async move {
            let mut tick = actix_web::rt::time::interval(CHECKPOINT_EVERY);
            loop {
                tick.tick().await;
                run_pass(&checkpoints, "SQLite's log checkpointed", |conn| {
                    crate::db::checkpoint(conn)
                        .map(|()| 0)
                        .map_err(DomainError::from)
                })
                .await;
            }
        });
    }
    actix_web::rt::spawn(async move {
        let mut tick = actix_web::rt::time::interval(MAIL_EVERY);
        loop {
            tick.tick().await;
            let s = state.clone();
            match actix_web::rt::spawn(async move { send_due_mail(&s).await }).await {
                Ok(Ok(_)) => {}
                Ok(Err(e)) => tracing::warn!(error = %e, "outbox pass failed; retrying later"),
                Err(e) => tracing::error!(error = %e, "outbox pass stopped; retrying later"),
            }
        }
    });
}

/// Runs one pass of a periodic job as a task of its own and logs what it did: how many
/// rows it handled, or why it failed (it runs again at the next tick).
async fn run_pass<F>(state: &Services, done: &'static str, pass: F)
where
    F: FnOnce(&mut crate::db::DbConn) -> Result<usize, DomainError> + Send + 'static,
{
    let s = state.clone();
    let task = actix_web::rt::spawn(async move { s.db(pass).await });
    match task.await {
        Ok(Ok(0)) => {}
        Ok(Ok(n)) => tracing::info!(rows = n, "{done}"),
        Ok(Err(e)) => tracing::warn!(error = %e, pass = done, "pass failed; retrying later"),
        Err(e) => tracing::error!(error = %e, pass = done, "pass stopped; retrying later"),
    }
}

/// One pass of the mail worker: claims one due message at a time, sends it and records
/// the result, until none is due. A message that can never be sent is marked `failed`
/// and the pass goes on with the next. Returns how many were sent.
pub async fn send_due_mail(state: &Services) -> Result<usize, AppError> {
    let mut sent = 0;
    while let Some(message) = state.db(|conn| mail::claim(conn, now_utc())).await? {
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
                tracing::warn!(id, attempts = message.attempts, error = %e, given_up = retry.is_none(), "email not sent");
                let error = e.to_string();
                state
                    .db(move |conn| outbox::mark_failed(conn, id, &error, retry))
                    .await?;
            }
        }
    }
    Ok(sent)
}
