//! The email outbox (ARCHITECTURE §6.4): messages written in the transaction of the event that
//! causes them, claimed and sent by the mail worker of any process.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::DbConn;
use super::schema::email_outbox;
use crate::states::MailStatus;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = email_outbox)]
pub struct OutboxMessage {
    pub id: i64,
    pub recipient: String,
    pub template: String,
    pub locale: String,
    /// The template's data, as JSON text.
    pub data: String,
    pub attempts: i32,
    pub created_at: NaiveDateTime,
}

pub fn enqueue(
    conn: &mut DbConn,
    recipient: &str,
    template: &str,
    locale: &str,
    data: &str,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::insert_into(email_outbox::table)
        .values((
            email_outbox::recipient.eq(recipient),
            email_outbox::template.eq(template),
            email_outbox::locale.eq(locale),
            email_outbox::data.eq(data),
            email_outbox::status.eq(MailStatus::Pending),
            email_outbox::attempts.eq(0),
            email_outbox::next_attempt_at.eq(now),
            email_outbox::created_at.eq(now),
        ))
        .execute(conn)
}

/// Claims up to `limit` messages that are due, for `lease_until`: each is taken with a
/// conditional update on its lease, so that of several processes exactly one gets it.
/// On PostgreSQL the candidates are read with `FOR UPDATE SKIP LOCKED` so that the
/// processes do not even queue behind each other.
pub fn claim_due(
    conn: &mut DbConn,
    now: NaiveDateTime,
    lease_until: NaiveDateTime,
    limit: i64,
) -> QueryResult<Vec<OutboxMessage>> {
    macro_rules! due {
        () => {
            email_outbox::table
                .filter(email_outbox::status.eq(MailStatus::Pending))
                .filter(email_outbox::next_attempt_at.le(now))
                .filter(
                    email_outbox::locked_until
                        .is_null()
                        .or(email_outbox::locked_until.lt(now)),
                )
                .order(email_outbox::id)
                .limit(limit)
                .select(OutboxMessage::as_select())
        };
    }
    let candidates = match conn {
        DbConn::Pg(c) => due!().for_update().skip_locked().load(c)?,
        DbConn::Sqlite(c) => due!().load(c)?,
    };
    let mut claimed = Vec::with_capacity(candidates.len());
    for message in candidates {
        let rows = diesel::update(
            email_outbox::table.find(message.id).filter(
                email_outbox::locked_until
                    .is_null()
                    .or(email_outbox::locked_until.lt(now)),
            ),
        )
        .set((
            email_outbox::locked_until.eq(Some(lease_until)),
            email_outbox::attempts.eq(email_outbox::attempts + 1),
        ))
        .execute(conn)?;
        if rows == 1 {
            claimed.push(OutboxMessage {
                attempts: message.attempts + 1,
                ..message
            });
        }
    }
    Ok(claimed)
}

pub fn mark_sent(conn: &mut DbConn, id: i64, now: NaiveDateTime) -> QueryResult<usize> {
    diesel::update(email_outbox::table.find(id))
        .set((
            email_outbox::status.eq(MailStatus::Sent),
            email_outbox::sent_at.eq(Some(now)),
            email_outbox::locked_until.eq(None::<NaiveDateTime>),
            email_outbox::last_error.eq(None::<String>),
        ))
        .execute(conn)
}

/// Puts a message back for another attempt at `retry_at`, or, with `None`, gives up on it
/// (`status = failed`, kept for the admin to see).
pub fn mark_failed(
    conn: &mut DbConn,
    id: i64,
    error: &str,
    retry_at: Option<NaiveDateTime>,
) -> QueryResult<usize> {
    let target = email_outbox::table.find(id);
    let released = (
        email_outbox::locked_until.eq(None::<NaiveDateTime>),
        email_outbox::last_error.eq(Some(error)),
    );
    match retry_at {
        Some(at) => diesel::update(target)
            .set((released, email_outbox::next_attempt_at.eq(at)))
            .execute(conn),
        None => diesel::update(target)
            .set((released, email_outbox::status.eq(MailStatus::Failed)))
            .execute(conn),
    }
}

/// The newest message's id (0 when there is none).
pub fn last_id(conn: &mut DbConn) -> QueryResult<i64> {
    email_outbox::table
        .select(diesel::dsl::max(email_outbox::id))
        .first::<Option<i64>>(conn)
        .map(Option::unwrap_or_default)
}

/// Drops the messages written after message `id`, before anything could send them.
pub fn discard_after(conn: &mut DbConn, id: i64) -> QueryResult<usize> {
    diesel::delete(email_outbox::table.filter(email_outbox::id.gt(id))).execute(conn)
}
