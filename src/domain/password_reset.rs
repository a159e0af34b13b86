//! "Forgot password" by mail: a request answers the same whether or not the address has
//! an account, and is throttled per address and per client; a known, enabled account gets
//! a link holding a random token, of which only the SHA-256 is stored. The link works
//! once, for `LINK_VALID_MINUTES`; using it sets the password and ends every session.

use chrono::{Duration, NaiveDateTime};
use diesel::QueryResult;
use sha2::{Digest, Sha256};

use crate::db::accounts::{self as q, ResetTokenRow};
use crate::db::{DbConn, write_transaction};
use crate::domain::accounts::{
    check_new_password, hash_password, normalize_email, sessions_ended, set_password,
};
use crate::domain::actor::Who;
use crate::domain::audit::{self, Change};
use crate::domain::error::{DomainError, DomainResult};
use crate::domain::notify;
use crate::domain::validation::{self as v, FieldErrors};
use crate::i18n::Lang;
use crate::util::random_token;

/// Requests for one address within the window before it must wait.
pub const MAX_REQUESTS_PER_ADDRESS: i64 = 3;
/// Requests from one client within the window, whatever the addresses.
pub const MAX_REQUESTS_PER_CLIENT: i64 = 10;
pub const REQUEST_WINDOW_MINUTES: i64 = 60;
/// How long a link sets a password.
pub const LINK_VALID_MINUTES: i64 = 60;
/// Random bytes in a token (64 hex characters in the link).
const TOKEN_BYTES: usize = 32;
/// The longest address a mailbox can have (RFC 5321).
const MAX_EMAIL_CHARS: usize = 254;

/// How a request for a link ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Requested {
    /// The one answer, whether or not a mail was written.
    Answered,
    /// Too many requests for this address or from this client lately.
    Throttled { retry_after_secs: u64 },
}

fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Asks for a link for `email`, from client `ip`. A mail goes to the outbox only when
/// the address is an enabled account's; the answer is the same either way.
pub fn request(
    conn: &mut DbConn,
    email: &str,
    ip: &str,
    now: NaiveDateTime,
) -> DomainResult<Requested> {
    let mut errors = FieldErrors::default();
    let Some(email) = v::email(
        &mut errors,
        "email",
        &normalize_email(email),
        MAX_EMAIL_CHARS,
    ) else {
        if errors.is_empty() {
            errors.add("email", "invalid-required");
        }
        return Err(errors.into());
    };
    let window = Duration::minutes(REQUEST_WINDOW_MINUTES);
    write_transaction(conn, |conn| {
        let ((by_email, oldest_email), (by_ip, oldest_ip)) =
            q::recent_reset_requests(conn, &email, ip, now - window)?;
        let oldest = match (
            by_email >= MAX_REQUESTS_PER_ADDRESS,
            by_ip >= MAX_REQUESTS_PER_CLIENT,
        ) {
            (false, false) => None,
            (true, false) => Some(oldest_email),
            (false, true) => Some(oldest_ip),
            (true, true) => Some(oldest_email.max(oldest_ip)),
        };
        if let Some(oldest) = oldest {
            let free_at = oldest.unwrap_or(now) + window;
            let retry_after_secs = (free_at - now).num_seconds().max(1) as u64;
            return Ok(Requested::Throttled { retry_after_secs });
        }
        q::record_reset_request(conn, &email, ip, now, now - window)?;
        let Some(user) = q::user_by_email(conn, &email)?.filter(|u| !u.disabled) else {
            return Ok(Requested::Answered);
        };
        let token = random_token(TOKEN_BYTES);
        // One link at a time: asking again sets the earlier ones aside.
        q::retire_reset_tokens(conn, user.id, now)?;
        let expires_at = now + Duration::minutes(LINK_VALID_MINUTES);
        let id = q::insert_reset_token(conn, user.id, &token_hash(&token), now, expires_at)?;
        let lang = Lang::parse(&user.locale).unwrap_or_default();
        let path = format!("/password/reset/{token}");
        notify::password_reset(
            conn,
            &user.email,
            lang,
            &user.display_name,
            &path,
            LINK_VALID_MINUTES,
            now,
        )?;
        let change = Change {
            action: "request_password_reset",
            entity: "user",
            entity_id: user.id,
            village_id: None,
            before: None,
            after: Some(serde_json::json!({ "link": id })),
        };
        let who = Who {
            client_addr: Some(ip.to_string()).filter(|a| !a.is_empty()),
            ..Who::tool("forgot-password form")
        };
        audit::record(conn, &who, change, now)?;
        Ok(Requested::Answered)
    })
}

/// What a link is worth now.
#[derive(Debug, PartialEq, Eq)]
pub enum Link {
    /// It sets a password, for the account of this address.
    Valid { email: String },
    /// It was used, set aside, or has expired.
    Gone,
    /// No link was ever made with this token.
    Unknown,
}

fn find(conn: &mut DbConn, token: &str) -> QueryResult<Option<ResetTokenRow>> {
    // A token is 64 hex characters: anything else was never made here, and is not
    // worth a query (nor able to upset one).
    if token.len() != TOKEN_BYTES * 2 || !token.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Ok(None);
    }
    q::reset_token_by_hash(conn, &token_hash(&token.to_ascii_lowercase()))
}

fn state_of(
    conn: &mut DbConn,
    row: Option<&ResetTokenRow>,
    now: NaiveDateTime,
) -> QueryResult<Link> {
    let Some(row) = row else {
        return Ok(Link::Unknown);
    };
    if row.used_at.is_some() || row.expires_at <= now {
        return Ok(Link::Gone);
    }
    Ok(match q::user_by_id(conn, row.user_id)? {
        Some(user) if !user.disabled => Link::Valid { email: user.email },
        _ => Link::Gone,
    })
}

/// What the link at `token` is worth: the page shows its form, or says why not.
pub fn link(conn: &mut DbConn, token: &str, now: NaiveDateTime) -> QueryResult<Link> {
    let row = find(conn, token)?;
    state_of(conn, row.as_ref(), now)
}

/// The new password as typed twice on the link's page.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(default)]
pub struct NewPassword {
    pub password: String,
    pub password_confirm: String,
}

/// Sets the password through the link at `token`: only a valid link does anything, and
/// then only once. Answers what the link was worth; `Valid` means the password is set,
/// every session of the account ended and the link used.
pub fn reset(
    conn: &mut DbConn,
    token: &str,
    form: &NewPassword,
    now: NaiveDateTime,
) -> DomainResult<Link> {
    let row = find(conn, token)?;
    let link = state_of(conn, row.as_ref(), now)?;
    let row = match row {
        Some(row) if matches!(link, Link::Valid { .. }) => row,
        _ => return Ok(link),
    };
    let mut errors = FieldErrors::default();
    check_new_password(
        &mut errors,
        "password",
        "password_confirm",
        &form.password,
        &form.password_confirm,
    );
    if !errors.is_empty() {
        return Err(DomainError::Invalid(errors));
    }
    let hash = hash_password(&form.password)
        .map_err(|_| FieldErrors::single("password", "invalid-password-short"))?;
    write_transaction(conn, |conn| {
        // Two submissions at once: the first to mark the link used sets the password.
        if q::use_reset_token(conn, row.id, now)? == 0 {
            return Ok(Link::Gone);
        }
        let Some(user) = q::user_by_id(conn, row.user_id)? else {
            return Ok(Link::Gone);
        };
        set_password(conn, user.id, &hash, now)?;
        let who = Who {
            user_id: Some(user.id),
            label: user.email,
            client_addr: None,
        };
        audit::record(
            conn,
            &who,
            sessions_ended("reset_password_by_mail", user.id),
            now,
        )?;
        Ok(link)
    })
}
