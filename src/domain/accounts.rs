//! Accounts: password hashing, sign-in with throttling, creating accounts, loading the
//! signed-in `Actor` (see `actor`) with the scope the database gives them, and the
//! sessions' lifetime: a session is good while the version it carries is the user's
//! `session_version`, which signing out, changing the password and disabling the
//! account move on (ARCHITECTURE §3).

use std::sync::OnceLock;

use argon2::Argon2;
use argon2::password_hash::{
    PasswordHash, PasswordHasher, PasswordVerifier, SaltString, rand_core::OsRng,
};
use chrono::{Duration, NaiveDateTime};
use diesel::QueryResult;

use crate::db::accounts::{self as q, CadreScopeRow, NewUser, UserRow};
use crate::db::{DbConn, catalog, write_transaction};
use crate::domain::actor::{Actor, OrgScope, ReportScope, Role, Scope, TeamScope, User, Who};
use crate::domain::audit::{self, Change};
use crate::domain::error::{DomainError, DomainResult};
use crate::domain::validation::{self, FieldErrors};
use crate::i18n::Lang;
use crate::states::MemberRole;

fn user_from_row(row: UserRow) -> Option<User> {
    Some(User {
        id: row.id,
        role: Role::parse(&row.role)?,
        lang: Lang::parse(&row.locale).unwrap_or_default(),
        email: row.email,
        display_name: row.display_name,
    })
}

/// `None` when the user is gone, disabled, or lacks the binding their role needs.
pub fn load_actor(conn: &mut DbConn, user_id: i64) -> QueryResult<Option<Actor>> {
    match q::user_by_id(conn, user_id)? {
        Some(row) => actor_from_row(conn, row),
        None => Ok(None),
    }
}

/// The actor of a session that carries `session_version`: `None` as `load_actor`, and
/// also when the session has been ended since (signed out, password changed, account
/// disabled). It reads the user row `load_actor` reads anyway, so checking the session
/// costs no query of its own, and every process sees the same answer.
pub fn actor_of_session(
    conn: &mut DbConn,
    user_id: i64,
    session_version: i64,
) -> QueryResult<Option<Actor>> {
    match q::user_by_id(conn, user_id)? {
        Some(row) if row.session_version == session_version => actor_from_row(conn, row),
        _ => Ok(None),
    }
}

fn actor_from_row(conn: &mut DbConn, row: UserRow) -> QueryResult<Option<Actor>> {
    if row.disabled {
        return Ok(None);
    }
    let Some(user) = user_from_row(row) else {
        return Ok(None);
    };
    let scope = match user.role {
        Role::Admin => Scope::Admin,
        Role::Team => Scope::Team(TeamScope::new(q::team_village_ids(conn, user.id)?)),
        Role::Canteen => match q::membership(conn, user.id)? {
            Some((organization_id, role)) => Scope::Canteen(OrgScope::new(organization_id, role)),
            None => return Ok(None),
        },
        Role::Cadre => match q::cadre_scope(conn, user.id)? {
            Some(CadreScopeRow {
                village_id: Some(v),
                ..
            }) => Scope::Cadre(ReportScope::Village(v)),
            Some(CadreScopeRow {
                county_id: Some(c), ..
            }) => Scope::Cadre(ReportScope::County(c)),
            Some(_) => Scope::Cadre(ReportScope::City),
            None => return Ok(None),
        },
    };
    Ok(Some(Actor {
        user,
        scope,
        client_addr: None,
    }))
}

pub fn hash_password(password: &str) -> Result<String, argon2::password_hash::Error> {
    let salt = SaltString::generate(&mut OsRng);
    Ok(Argon2::default()
        .hash_password(password.as_bytes(), &salt)?
        .to_string())
}

fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .map(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

/// A hash to check against when the email is unknown, so that an unknown email costs
/// the same time as a wrong password and the answer gives nothing away.
fn decoy_hash() -> &'static str {
    static DECOY: OnceLock<String> = OnceLock::new();
    DECOY.get_or_init(|| hash_password("decoy password never matches").unwrap_or_default())
}

/// Failed sign-ins from one address within `FAILURE_WINDOW` before it must wait.
pub const MAX_FAILURES: i64 = 5;
pub const FAILURE_WINDOW_MINUTES: i64 = 15;

/// How a sign-in attempt ended: each is an answer for the person, not a failure.
#[derive(Debug)]
pub enum SignIn {
    /// The session is to carry `session_version`.
    Welcome { user: User, session_version: i64 },
    /// Wrong password, unknown email or disabled account: deliberately one answer.
    Refused,
    /// Too many failed attempts from this address lately.
    Throttled { retry_after_secs: u64 },
}

pub fn sign_in(
    conn: &mut DbConn,
    email: &str,
    password: &str,
    ip: &str,
    now: NaiveDateTime,
) -> QueryResult<SignIn> {
    let window_start = now - Duration::minutes(FAILURE_WINDOW_MINUTES);
    let (failures, oldest) = q::recent_failures(conn, ip, window_start)?;
    if failures >= MAX_FAILURES {
        let free_at = oldest.unwrap_or(now) + Duration::minutes(FAILURE_WINDOW_MINUTES);
        let retry_after_secs = (free_at - now).num_seconds().max(1) as u64;
        return Ok(SignIn::Throttled { retry_after_secs });
    }
    let email = normalize_email(email);
    let row = q::user_by_email(conn, &email)?;
    let matched = match &row {
        Some(r) => verify_password(password, &r.password_hash) && !r.disabled,
        None => {
            verify_password(password, decoy_hash());
            false
        }
    };
    let session_version = row.as_ref().map_or(0, |r| r.session_version);
    match row.and_then(user_from_row) {
        Some(user) if matched => {
            q::clear_failures(conn, ip, window_start)?;
            q::record_sign_in(conn, user.id, now)?;
            Ok(SignIn::Welcome {
                user,
                session_version,
            })
        }
        _ => {
            q::record_failure(conn, ip, now)?;
            Ok(SignIn::Refused)
        }
    }
}

pub fn normalize_email(email: &str) -> String {
    email.trim().to_lowercase()
}

/// What `village-market user add` and the admin area need to create an account.
#[derive(Debug, Clone)]
pub struct NewAccount {
    pub email: String,
    pub display_name: String,
    pub role: Role,
    pub password: String,
    pub lang: Lang,
    /// Team: the villages (by slug) the member works for.
    pub village_slugs: Vec<String>,
    /// Cadre: a county slug, or none for the whole city (a village slug in
    /// `village_slugs` narrows it to one village).
    pub county_slug: Option<String>,
    /// Canteen: the organisation's name.
    pub organization: Option<String>,
}

fn invalid(field: &str, key: &'static str) -> DomainError {
    DomainError::invalid(field, key)
}

/// One line per problem, in `lang`: for the command line.
pub fn describe(errors: &FieldErrors, lang: Lang) -> String {
    errors
        .0
        .iter()
        .map(|e| format!("{}: {}", e.field, lang.t_args(e.key, &e.args)))
        .collect::<Vec<_>>()
        .join("\n")
}

pub const MIN_PASSWORD_CHARS: usize = 8;

/// Creates an account with its bindings in one transaction, and records it in the
/// audit log as done by `who`.
pub fn create_account(
    conn: &mut DbConn,
    new: &NewAccount,
    who: &Who,
    now: NaiveDateTime,
) -> DomainResult<i64> {
    let email = normalize_email(&new.email);
    let mut errors = FieldErrors::default();
    if validation::email(&mut errors, "email", &email, 120).is_none() && !errors.has("email") {
        errors.add("email", "invalid-required");
    }
    if new.display_name.trim().is_empty() {
        errors.add("display_name", "invalid-required");
    }
    check_password(&mut errors, &new.password);
    if !errors.is_empty() {
        return Err(DomainError::Invalid(errors));
    }
    let hash =
        hash_password(&new.password).map_err(|_| invalid("password", "invalid-password-short"))?;
    write_transaction(conn, |conn| {
        if q::user_by_email(conn, &email)?.is_some() {
            return Err(invalid("email", "invalid-email-taken"));
        }
        let mut village_ids = Vec::new();
        for slug in &new.village_slugs {
            let (village, _) = catalog::village_by_slug(conn, slug)?
                .ok_or_else(|| invalid("village", "invalid-choice"))?;
            village_ids.push(village.id);
        }
        let county_id = match &new.county_slug {
            Some(slug) => Some(
                catalog::county_by_slug(conn, slug)?
                    .ok_or_else(|| invalid("county", "invalid-choice"))?
                    .id,
            ),
            None => None,
        };
        let organization_id = match &new.organization {
            Some(name) => Some(
                q::organization_by_name(conn, name)?
                    .ok_or_else(|| invalid("organization", "invalid-choice"))?
                    .id,
            ),
            None => None,
        };
        match new.role {
            Role::Team if village_ids.is_empty() => {
                return Err(invalid("village", "invalid-team-needs-village"));
            }
            Role::Canteen if organization_id.is_none() => {
                return Err(invalid(
                    "organization",
                    "invalid-canteen-needs-organization",
                ));
            }
            Role::Cadre if village_ids.len() > 1 => {
                return Err(invalid("village", "invalid-cadre-one-village"));
            }
            _ => {}
        }
        let user_id = q::insert_user(
            conn,
            &NewUser {
                email: &email,
                display_name: new.display_name.trim(),
                password_hash: &hash,
                role: new.role.as_str(),
                locale: new.lang.code(),
                disabled: false,
                created_at: now,
                updated_at: now,
            },
        )?;
        match new.role {
            Role::Team => {
                for village_id in &village_ids {
                    q::bind_team_village(conn, user_id, *village_id)?;
                }
            }
            Role::Canteen => {
                if let Some(org) = organization_id {
                    q::add_member(conn, org, user_id, MemberRole::Buyer)?;
                }
            }
            Role::Cadre => {
                let row = CadreScopeRow {
                    user_id,
                    county_id,
                    village_id: village_ids.first().copied(),
                };
                q::set_cadre_scope(conn, &row)?;
            }
            Role::Admin => {}
        }
        let after = serde_json::json!({
            "email": email, "role": new.role.as_str(), "villages": new.village_slugs,
            "county": new.county_slug, "organization": new.organization,
        });
        let change = Change {
            action: "create",
            entity: "user",
            entity_id: user_id,
            village_id: None,
            before: None,
            after: Some(after),
        };
        audit::record(conn, who, change, now)?;
        Ok(user_id)
    })
}

pub fn check_password(errors: &mut FieldErrors, password: &str) {
    check_password_as(errors, "password", password);
}

/// The rule every new password follows, reported against `field`.
pub fn check_password_as(errors: &mut FieldErrors, field: &str, password: &str) {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        errors.add_with(
            field,
            "invalid-password-short",
            vec![("min", MIN_PASSWORD_CHARS.to_string())],
        );
    }
}

/// Signs the user out everywhere: the session carrying `session_version` ends, and with it
/// every other session of theirs. Nothing happens (and nothing is logged) when that
/// session had already ended.
pub fn sign_out(
    conn: &mut DbConn,
    user_id: i64,
    session_version: i64,
    now: NaiveDateTime,
) -> QueryResult<()> {
    write_transaction(conn, |conn| {
        let Some(row) = q::user_by_id(conn, user_id)? else {
            return Ok(());
        };
        if q::bump_session_version_from(conn, user_id, session_version, now)? == 0 {
            return Ok(());
        }
        let who = Who {
            user_id: Some(row.id),
            label: row.email,
            client_addr: None,
        };
        audit::record(conn, &who, sessions_ended("sign_out", row.id), now)?;
        Ok(())
    })
}

/// An audit entry for an event that ended every session of `user_id`.
pub(crate) fn sessions_ended(action: &str, user_id: i64) -> Change<'_> {
    Change {
        action,
        entity: "user",
        entity_id: user_id,
        village_id: None,
        before: None,
        after: Some(serde_json::json!({ "sessions_ended": true })),
    }
}

/// What a signed-in person types to change their own password.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(default)]
pub struct PasswordChange {
    pub current_password: String,
    pub new_password: String,
    pub new_password_confirm: String,
}

/// Checks a new password and its confirmation, reported against `field` and
/// `{field}_confirm`.
pub(crate) fn check_new_password(
    errors: &mut FieldErrors,
    field: &'static str,
    confirm_field: &'static str,
    password: &str,
    confirmation: &str,
) {
    check_password_as(errors, field, password);
    if password != confirmation {
        errors.add(confirm_field, "invalid-password-mismatch");
    }
}

/// Sets the password of the actor after checking the current one. Every session of the
/// user ends; the answer is the new session version, which the session that made the
/// change takes on so that it alone continues.
pub fn change_password(
    conn: &mut DbConn,
    actor: &Actor,
    form: &PasswordChange,
    now: NaiveDateTime,
) -> DomainResult<i64> {
    let row = q::user_by_id(conn, actor.user.id)?.ok_or(DomainError::NotFound)?;
    let mut errors = FieldErrors::default();
    if !verify_password(&form.current_password, &row.password_hash) {
        errors.add("current_password", "invalid-current-password");
    }
    check_new_password(
        &mut errors,
        "new_password",
        "new_password_confirm",
        &form.new_password,
        &form.new_password_confirm,
    );
    if !errors.is_empty() {
        return Err(DomainError::Invalid(errors));
    }
    let hash = hash_password(&form.new_password)
        .map_err(|_| invalid("new_password", "invalid-password-short"))?;
    write_transaction(conn, |conn| {
        let version = set_password(conn, row.id, &hash, now)?;
        let who = Who::from(actor);
        audit::record(conn, &who, sessions_ended("change_password", row.id), now)?;
        Ok(version)
    })
}

/// Stores a new password hash: every session of the user ends, any "forgot password"
/// link still out stops working, and so do the user's API tokens (a new password is how
/// an account taken over is won back). Answers the new session version.
pub(crate) fn set_password(
    conn: &mut DbConn,
    user_id: i64,
    hash: &str,
    now: NaiveDateTime,
) -> QueryResult<i64> {
    q::set_password_hash(conn, user_id, hash, now)?;
    q::retire_reset_tokens(conn, user_id, now)?;
    crate::db::api_tokens::revoke_all(conn, user_id, now)?;
    q::bump_session_version(conn, user_id, now)
}
