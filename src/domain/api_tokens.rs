//! Personal API tokens (issue 12): a signed-in person makes, names and revokes their own on
//! the account page. A token acts as its user, with the same role and scope as the pages
//! (`actor_of_token` gives the same `Actor` a session does); a disabled user's tokens stop
//! working at once, since the user is read on every request. Only the token's SHA-256 is
//! kept: it is shown once, when made.

use chrono::{Duration, NaiveDateTime};
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::db::api_tokens::{self as q, NewApiToken};
use crate::db::{DbConn, write_transaction};
use crate::domain::actor::{Actor, Who};
use crate::domain::audit::{self, Change};
use crate::domain::error::{DomainError, DomainResult};
use crate::domain::validation::{self as v, FieldErrors};
use crate::util::random_token;

pub use crate::db::api_tokens::ApiToken;

/// What a token begins with, so that it is recognised in a config file or a leak scan.
const PREFIX: &str = "vm_";
/// The longest a token may live: two years.
const LONGEST_DAYS: i64 = 730;

#[derive(Debug, Clone, Default, serde::Deserialize, serde::Serialize)]
#[serde(default)]
pub struct TokenForm {
    pub name: String,
    /// The last day it works (China time), or empty for no expiry.
    pub expires_on: String,
}

fn hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Makes a token for the signed-in user; the token itself, to show once.
pub fn create(
    conn: &mut DbConn,
    who: &Who,
    user_id: i64,
    form: &TokenForm,
    now: NaiveDateTime,
) -> DomainResult<String> {
    let mut errors = FieldErrors::default();
    let name = v::required_text(&mut errors, "name", &form.name, 60);
    let today = crate::domain::china_date(now);
    let expires_at = if form.expires_on.trim().is_empty() {
        None
    } else {
        let day = v::date(&mut errors, "expires_on", &form.expires_on);
        if day.is_some_and(|d| d <= today || d > today + Duration::days(LONGEST_DAYS)) {
            errors.add("expires_on", "invalid-date-range");
        }
        // It works to the end of that day in China.
        day.map(|d| crate::domain::china_start(d + Duration::days(1)))
    };
    errors.finish(())?;
    let token = format!("{PREFIX}{}", random_token(24));
    write_transaction(conn, |conn| {
        let id = q::insert(
            conn,
            &NewApiToken {
                user_id,
                name: &name,
                token_hash: &hash(&token),
                created_at: now,
                expires_at,
            },
        )?;
        let change = Change {
            action: "create",
            entity: "api_token",
            entity_id: id,
            village_id: None,
            before: None,
            after: Some(json!({ "user_id": user_id, "name": name, "expires_at": expires_at })),
        };
        audit::record(conn, who, change, now)?;
        Ok::<_, DomainError>(())
    })?;
    Ok(token)
}

/// The user's own tokens, newest first.
pub fn of_user(conn: &mut DbConn, user_id: i64) -> DomainResult<Vec<ApiToken>> {
    Ok(q::of_user(conn, user_id)?)
}

/// Revokes one of the user's own tokens; another's, or one already revoked, is not found.
pub fn revoke(
    conn: &mut DbConn,
    who: &Who,
    user_id: i64,
    id: i64,
    now: NaiveDateTime,
) -> DomainResult<()> {
    write_transaction(conn, |conn| {
        if !q::revoke(conn, user_id, id, now)? {
            return Err(DomainError::NotFound);
        }
        let change = Change {
            action: "revoke",
            entity: "api_token",
            entity_id: id,
            village_id: None,
            before: None,
            after: Some(json!({ "user_id": user_id })),
        };
        audit::record(conn, who, change, now)?;
        Ok(())
    })
}

/// The actor a bearer token stands for: `None` for a token unknown, revoked or expired, or
/// whose user is disabled or has lost what their role needs.
pub fn actor_of_token(
    conn: &mut DbConn,
    token: &str,
    now: NaiveDateTime,
) -> DomainResult<Option<Actor>> {
    if !token.starts_with(PREFIX) || token.len() > 100 {
        return Ok(None);
    }
    let Some(found) = q::usable(conn, &hash(token), now)? else {
        return Ok(None);
    };
    let Some(actor) = crate::domain::accounts::load_actor(conn, found.user_id)? else {
        return Ok(None);
    };
    // At most once a minute: a write per request would queue every request of a busy
    // script behind the shop's writers (on SQLite, even an update of no row takes the
    // write lock). Not written is not refused: the token works.
    if found
        .last_used_at
        .is_none_or(|t| t < now - Duration::minutes(1))
        && let Err(e) = q::touch(conn, found.id, now)
    {
        tracing::warn!(error = %e, "token's last use not written");
    }
    Ok(Some(actor))
}
