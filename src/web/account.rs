//! A person's own account: the account page where every signed-in role changes their
//! password, and "forgot password" by mail for whoever cannot sign in.

use actix_web::http::StatusCode;
use actix_web::http::header::{HeaderValue, RETRY_AFTER};
use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::json;

use super::AppState;
use super::auth::{SignedIn, SignedInBySession, redirect, remember};
use super::client::ClientAddr;
use super::csrf::{self, CsrfForm};
use super::forms::errors_json;
use super::orders::time;
use super::render::Ctx;
use crate::domain::accounts::{self, PasswordChange};
use crate::domain::actor::{Actor, Who};
use crate::domain::api_tokens::{self, TokenForm};
use crate::domain::password_reset::{self, Link, NewPassword, Requested};
use crate::domain::validation::FieldErrors;
use crate::domain::{china_date, now_utc};
use crate::error::{AppError, AppResult};

/// What the account page shows besides the password form: a token just made (shown this
/// once) and the token form as typed, with its problems.
#[derive(Default)]
struct TokenPart {
    made: Option<String>,
    form: TokenForm,
    errors: FieldErrors,
}

async fn render_account(
    state: &AppState,
    ctx: &Ctx,
    status: StatusCode,
    actor: &Actor,
    changed: bool,
    errors: &FieldErrors,
    tokens: TokenPart,
) -> AppResult<HttpResponse> {
    let user = &actor.user;
    let user_id = user.id;
    let list = state
        .db(move |conn| api_tokens::of_user(conn, user_id))
        .await?;
    let now = now_utc();
    let data = json!({
        "name": user.display_name,
        "email": user.email,
        "role": ctx.lang.t(&format!("role-{}", user.role.as_str())),
        "home": user.role.home(),
        "changed": changed,
        "tokens": list.iter().map(|t| json!({
            "id": t.id,
            "name": t.name,
            "created_at": time(t.created_at),
            "last_used_at": t.last_used_at.map(time),
            // The last day it works, as it was asked for (it ends at that day's midnight).
            "expires_at": t.expires_at.map(|e| china_date(e - chrono::Duration::seconds(1)).to_string()),
            "working": t.revoked_at.is_none() && t.expires_at.is_none_or(|e| e > now),
            "revoked": t.revoked_at.is_some(),
        })).collect::<Vec<_>>(),
        "token_made": tokens.made,
        "token_values": tokens.form,
        "token_errors": errors_json(ctx.lang, &tokens.errors),
    });
    ctx.form_page(&state.templates, status, "pages/account", data, (), errors)
}

/// `POST /account/tokens`: a new personal API token, shown once on the page that answers.
pub async fn create_token(
    state: web::Data<AppState>,
    ctx: Ctx,
    area: SignedInBySession,
    CsrfForm(form): CsrfForm<TokenForm>,
) -> AppResult<HttpResponse> {
    let (who, user_id, typed) = (Who::from(&area.actor), area.actor.user.id, form.clone());
    let result = state
        .db(move |conn| api_tokens::create(conn, &who, user_id, &typed, now_utc()))
        .await;
    let none = FieldErrors::default();
    let (status, tokens) = match result {
        Ok(token) => (
            StatusCode::OK,
            TokenPart {
                made: Some(token),
                ..TokenPart::default()
            },
        ),
        Err(AppError::Invalid(errors)) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            TokenPart {
                made: None,
                form,
                errors,
            },
        ),
        Err(e) => return Err(e),
    };
    let mut res = render_account(&state, &ctx, status, &area.actor, false, &none, tokens).await?;
    // The token is on this page only: never kept by a cache.
    res.headers_mut().insert(
        actix_web::http::header::CACHE_CONTROL,
        HeaderValue::from_static("no-store"),
    );
    Ok(res)
}

/// `POST /account/tokens/{id}/revoke`: one of your own tokens stops working at once;
/// another's is not found.
pub async fn revoke_token(
    state: web::Data<AppState>,
    area: SignedInBySession,
    id: web::Path<i64>,
    CsrfForm(_): CsrfForm<super::auth::Empty>,
) -> AppResult<HttpResponse> {
    let (who, user_id, id) = (Who::from(&area.actor), area.actor.user.id, id.into_inner());
    state
        .db(move |conn| api_tokens::revoke(conn, &who, user_id, id, now_utc()))
        .await?;
    Ok(redirect("/account"))
}

#[derive(Debug, Deserialize)]
pub struct AccountQuery {
    /// Set after the password was changed.
    changed: Option<String>,
}

/// `GET /account`: who you are signed in as, and the form to change your password.
pub async fn show(
    state: web::Data<AppState>,
    ctx: Ctx,
    area: SignedIn,
    query: web::Query<AccountQuery>,
) -> AppResult<HttpResponse> {
    let changed = query.changed.is_some();
    let none = FieldErrors::default();
    let tokens = TokenPart::default();
    render_account(
        &state,
        &ctx,
        StatusCode::OK,
        &area.actor,
        changed,
        &none,
        tokens,
    )
    .await
}

/// `POST /account/password`: every other session of the account ends; this one takes
/// the new session version and carries on.
pub async fn change_password(
    state: web::Data<AppState>,
    ctx: Ctx,
    area: SignedInBySession,
    CsrfForm(form): CsrfForm<PasswordChange>,
) -> AppResult<HttpResponse> {
    let actor = area.actor.clone();
    let result = state
        .db(move |conn| accounts::change_password(conn, &actor, &form, now_utc()))
        .await;
    match result {
        Ok(version) => {
            ctx.session.renew();
            csrf::rotate(&ctx.session);
            remember(&ctx.session, &area.actor.user, version)?;
            Ok(redirect("/account?changed=1"))
        }
        Err(AppError::Invalid(errors)) => {
            let status = StatusCode::UNPROCESSABLE_ENTITY;
            let tokens = TokenPart::default();
            render_account(&state, &ctx, status, &area.actor, false, &errors, tokens).await
        }
        Err(e) => Err(e),
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ForgotForm {
    email: String,
}

fn render_forgot(
    state: &AppState,
    ctx: &Ctx,
    status: StatusCode,
    email: &str,
    sent: bool,
    message: Option<String>,
    errors: &FieldErrors,
) -> AppResult<HttpResponse> {
    let data = json!({
        "csrf_token": csrf::token(&ctx.session),
        "email": email,
        "sent": sent,
        "message": message,
        "errors": errors_json(ctx.lang, errors),
    });
    ctx.page(&state.templates, status, "pages/password_forgot", data)
}

/// `GET /password/forgot`: the form asking for the account's address.
pub async fn forgot_form(state: web::Data<AppState>, ctx: Ctx) -> AppResult<HttpResponse> {
    render_forgot(
        &state,
        &ctx,
        StatusCode::OK,
        "",
        false,
        None,
        &FieldErrors::default(),
    )
}

/// `POST /password/forgot`: the same page whether or not the address has an account (a
/// mail is written only when it has); too many requests for one address or from one
/// client wait.
pub async fn forgot_submit(
    state: web::Data<AppState>,
    ctx: Ctx,
    ClientAddr(ip): ClientAddr,
    CsrfForm(form): CsrfForm<ForgotForm>,
) -> AppResult<HttpResponse> {
    let email = form.email.clone();
    let result = state
        .db(move |conn| password_reset::request(conn, &email, &ip, now_utc()))
        .await;
    let none = FieldErrors::default();
    match result {
        Ok(Requested::Answered) => {
            render_forgot(&state, &ctx, StatusCode::OK, "", true, None, &none)
        }
        Ok(Requested::Throttled { retry_after_secs }) => {
            let minutes = retry_after_secs.div_ceil(60).to_string();
            let message = ctx
                .lang
                .t_args("password-forgot-throttled", &[("minutes", minutes)]);
            let mut res = render_forgot(
                &state,
                &ctx,
                StatusCode::TOO_MANY_REQUESTS,
                &form.email,
                false,
                Some(message),
                &none,
            )?;
            res.headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from(retry_after_secs));
            Ok(res)
        }
        Err(AppError::Invalid(errors)) => render_forgot(
            &state,
            &ctx,
            StatusCode::UNPROCESSABLE_ENTITY,
            &form.email,
            false,
            None,
            &errors,
        ),
        Err(e) => Err(e),
    }
}

/// The page of a link that sets no password: 404 for one never made, 410 for one used,
/// set aside or expired. Both say the same: ask for a new link.
fn link_gone(state: &AppState, ctx: &Ctx, link: &Link) -> AppResult<HttpResponse> {
    let status = match link {
        Link::Unknown => StatusCode::NOT_FOUND,
        _ => StatusCode::GONE,
    };
    ctx.page(
        &state.templates,
        status,
        "pages/password_link_gone",
        json!({}),
    )
}

fn render_reset(
    state: &AppState,
    ctx: &Ctx,
    status: StatusCode,
    token: &str,
    email: &str,
    errors: &FieldErrors,
) -> AppResult<HttpResponse> {
    let data = json!({
        "token": token,
        "email": email,
    });
    ctx.form_page(
        &state.templates,
        status,
        "pages/password_reset",
        data,
        (),
        errors,
    )
}

/// `GET /password/reset/{token}`: the form for a new password, while the link works.
pub async fn reset_form(
    state: web::Data<AppState>,
    ctx: Ctx,
    token: web::Path<String>,
) -> AppResult<HttpResponse> {
    let token = token.into_inner();
    let t = token.clone();
    let link = state
        .db(move |conn| password_reset::link(conn, &t, now_utc()))
        .await?;
    match &link {
        Link::Valid { email } => render_reset(
            &state,
            &ctx,
            StatusCode::OK,
            &token,
            email,
            &FieldErrors::default(),
        ),
        _ => link_gone(&state, &ctx, &link),
    }
}

/// `POST /password/reset/{token}`: sets the password once, ends every session of the
/// account, and sends the person to sign in with it.
pub async fn reset_submit(
    state: web::Data<AppState>,
    ctx: Ctx,
    token: web::Path<String>,
    CsrfForm(form): CsrfForm<NewPassword>,
) -> AppResult<HttpResponse> {
    let token = token.into_inner();
    let t = token.clone();
    let result = state
        .db(move |conn| password_reset::reset(conn, &t, &form, now_utc()))
        .await;
    match result {
        Ok(Link::Valid { .. }) => Ok(redirect("/login?reset=1")),
        Ok(link) => link_gone(&state, &ctx, &link),
        Err(AppError::Invalid(errors)) => render_reset(
            &state,
            &ctx,
            StatusCode::UNPROCESSABLE_ENTITY,
            &token,
            "",
            &errors,
        ),
        Err(e) => Err(e),
    }
}
