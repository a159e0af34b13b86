//! The JSON API's rate limit (issue 12): each caller — a token, or a guest's address — may
//! make so many requests a minute. The count is kept in the database, not in the process,
//! so that it holds however many server processes share the load; it is the store every
//! install already has (an embedded SQLite install runs no Redis). Minutes are fixed
//! windows: a caller over the limit waits until the next minute begins.

use chrono::NaiveDateTime;
use sha2::{Digest, Sha256};

use crate::db::DbConn;
use crate::db::api_limits as q;

/// Whether a request may go on now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    Admitted,
    /// Over the limit: the seconds until the next minute begins.
    Refused {
        retry_after_secs: u64,
    },
}

/// Who is counted: a working token by its id; anything else — a guest, or a bearer that
/// is no token of ours (made up afresh to get a fresh minute) — by the client's address.
fn subject(
    conn: &mut DbConn,
    bearer: Option<&str>,
    client_addr: &str,
    now: NaiveDateTime,
) -> diesel::QueryResult<String> {
    if let Some(token) = bearer {
        let hash = hex::encode(Sha256::digest(token.as_bytes()));
        if let Some(found) = crate::db::api_tokens::usable(conn, &hash, now)? {
            return Ok(format!("token:{}", found.id));
        }
    }
    Ok(format!("addr:{client_addr}"))
}

/// Counts this request of its caller (the request's `bearer` token, if any, from
/// `client_addr`) and says whether it is within `per_minute`.
pub fn admit(
    conn: &mut DbConn,
    bearer: Option<&str>,
    client_addr: &str,
    per_minute: u32,
    now: NaiveDateTime,
) -> diesel::QueryResult<Admission> {
    let subject = subject(conn, bearer, client_addr, now)?;
    let seconds = now.and_utc().timestamp();
    let minute = seconds.div_euclid(60);
    let made = q::count_request(conn, &subject, minute)?;
    if i64::from(made) <= i64::from(per_minute) {
        return Ok(Admission::Admitted);
    }
    let retry_after_secs = u64::try_from(60 - seconds.rem_euclid(60)).unwrap_or(60);
    Ok(Admission::Refused { retry_after_secs })
}

/// Forgets the minutes before the last one; the jobs loop calls it.
pub fn forget_old(conn: &mut DbConn, now: NaiveDateTime) -> diesel::QueryResult<usize> {
    q::forget_before(conn, now.and_utc().timestamp().div_euclid(60) - 1)
}
