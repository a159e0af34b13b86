//! Signing in and out, and the extractors that admit a request to a signed-in area.
//! Each area extractor loads the user's `Actor` — their villages, organisation or
//! reporting scope — so scoping happens here, once, and handlers receive it. The session
//! cookie carries the user's session version, and the extractors admit it only while the
//! database still holds that version (`accounts::actor_of_session`): signing out, a
//! password change or disabling the account ends every copy of the cookie.

use std::future::Future;
use std::pin::Pin;

use actix_session::{Session, SessionExt};
use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::http::header::LOCATION;
use actix_web::{FromRequest, HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::AppState;
use super::client::ClientAddr;
use super::csrf::{self, CsrfForm};
use super::render::{Ctx, LANG_KEY};
use crate::domain::accounts::{self, SignIn};
use crate::domain::actor::{Actor, OrgScope, ReportScope, Role, Scope, TeamScope, User};
use crate::domain::api_tokens;
use crate::domain::now_utc;
use crate::domain::team::{self, Village};
use crate::error::{AppError, AppResult};

const USER_KEY: &str = "user";

/// Who is signed in, as the session remembers it: enough to draw the page's header
/// without a database round trip. Areas still load the full `Actor`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SessionUser {
    pub id: i64,
    #[serde(with = "role_str")]
    pub role: Role,
    pub name: String,
    /// The user's `session_version` when this session began; a cookie from before the
    /// versions existed has none, and is no session.
    pub session_version: i64,
}

mod role_str {
    use serde::{Deserialize, Deserializer, Serializer};

    use crate::domain::actor::Role;

    pub fn serialize<S: Serializer>(role: &Role, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(role.as_str())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Role, D::Error> {
        let s = String::deserialize(d)?;
        Role::parse(&s).ok_or_else(|| serde::de::Error::custom("unknown role"))
    }
}

impl SessionUser {
    pub fn from_session(session: &Session) -> Option<SessionUser> {
        session.get::<SessionUser>(USER_KEY).ok().flatten()
    }
}

/// Makes `session` the session of `user`, valid while their version is `session_version`.
pub fn remember(session: &Session, user: &User, session_version: i64) -> AppResult<()> {
    let remembered = SessionUser {
        id: user.id,
        role: user.role,
        name: user.display_name.clone(),
        session_version,
    };
    session
        .insert(USER_KEY, &remembered)
        .map_err(AppError::internal)
}

#[derive(Deserialize)]
pub struct NextParam {
    next: Option<String>,
    /// Set after a password was set through a "forgot password" link.
    #[serde(default)]
    reset: Option<String>,
}

/// Only a path on this site may be a redirect target after sign-in: `next` is read as a
/// URL against this site and kept only when it stays here. Control characters and
/// backslashes are refused outright, since browsers drop or rewrite them (`/\t/x` and
/// `/\\x` both lead to another host), and they cannot go into a `Location` header.
fn safe_next(next: Option<&str>) -> Option<String> {
    let next = next?;
    if !next.starts_with('/') || next.chars().any(|c| c.is_control() || c == '\\') {
        return None;
    }
    let site = url::Url::parse("http://this.site.invalid/").ok()?;
    let target = site.join(next).ok()?;
    (target.origin() == site.origin() && !next.starts_with("//"))
        .then(|| target[url::Position::BeforePath..].to_string())
}

pub async fn login_form(
    state: web::Data<AppState>,
    ctx: Ctx,
    query: web::Query<NextParam>,
) -> AppResult<HttpResponse> {
    if let Some(user) = &ctx.user {
        return Ok(redirect(user.role.home()));
    }
    let notice = query
        .reset
        .is_some()
        .then(|| ctx.lang.t("password-reset-done"));
    let mut data = login_data(&ctx, "", safe_next(query.next.as_deref()), None);
    data["notice"] = json!(notice);
    ctx.page(&state.templates, StatusCode::OK, "pages/login", data)
}

fn login_data(ctx: &Ctx, email: &str, next: Option<String>, error: Option<String>) -> Value {
    json!({
        "csrf_token": csrf::token(&ctx.session),
        "email": email,
        "next": next,
        "error": error,
    })
}

fn render_login(
    state: &AppState,
    ctx: &Ctx,
    status: StatusCode,
    email: &str,
    next: Option<String>,
    error: Option<String>,
) -> AppResult<HttpResponse> {
    let data = login_data(ctx, email, next, error);
    ctx.page(&state.templates, status, "pages/login", data)
}

#[derive(Deserialize)]
pub struct LoginForm {
    email: String,
    password: String,
    next: Option<String>,
}

pub async fn login_submit(
    state: web::Data<AppState>,
    ctx: Ctx,
    ClientAddr(ip): ClientAddr,
    CsrfForm(form): CsrfForm<LoginForm>,
) -> AppResult<HttpResponse> {
    let (email, password) = (form.email.clone(), form.password);
    let outcome = state
        .db(move |conn| accounts::sign_in(conn, &email, &password, &ip, now_utc()))
        .await?;
    let next = safe_next(form.next.as_deref());
    match outcome {
        SignIn::Welcome {
            user,
            session_version,
        } => {
            let session = &ctx.session;
            session.renew();
            csrf::rotate(session);
            remember(session, &user, session_version)?;
            if session.get::<String>(LANG_KEY).ok().flatten().is_none() {
                session
                    .insert(LANG_KEY, user.lang.code())
                    .map_err(AppError::internal)?;
            }
            Ok(redirect(next.as_deref().unwrap_or(user.role.home())))
        }
        SignIn::Refused => {
            let message = ctx.lang.t("login-invalid");
            render_login(
                &state,
                &ctx,
                StatusCode::UNAUTHORIZED,
                &form.email,
                next,
                Some(message),
            )
        }
        SignIn::Throttled { retry_after_secs } => {
            let minutes = retry_after_secs.div_ceil(60).to_string();
            let message = ctx.lang.t_args("login-throttled", &[("minutes", minutes)]);
            let mut res = render_login(
                &state,
                &ctx,
                StatusCode::TOO_MANY_REQUESTS,
                &form.email,
                next,
                Some(message),
            )?;
            res.headers_mut().insert(
                actix_web::http::header::RETRY_AFTER,
                actix_web::http::header::HeaderValue::from(retry_after_secs),
            );
            Ok(res)
        }
    }
}

#[derive(Deserialize)]
pub struct Empty {}

/// Signs out here and everywhere else: the user's session version moves on, so every
/// copy of this session's cookie, and their sessions on other devices, end too.
pub async fn logout(
    state: web::Data<AppState>,
    ctx: Ctx,
    CsrfForm(_): CsrfForm<Empty>,
) -> AppResult<HttpResponse> {
    if let Some(user) = &ctx.user {
        let (id, version) = (user.id, user.session_version);
        state
            .db(move |conn| accounts::sign_out(conn, id, version, now_utc()))
            .await?;
    }
    let lang = ctx.lang;
    ctx.session.purge();
    // Signing out keeps the visitor's language.
    let _ = ctx.session.insert(LANG_KEY, lang.code());
    Ok(redirect("/"))
}

pub fn redirect(to: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((LOCATION, to.to_string()))
        .finish()
}

/// The token of an `Authorization: Bearer …` header (the scheme in any case), if any.
pub fn bearer_token(req: &HttpRequest) -> Option<String> {
    let value = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_string())
}

/// Loads the signed-in actor and lets `admit` decide whether this area is theirs; with
/// `tokens` false only a signed-in session is let in (what manages the account's own
/// credentials: a token cannot make more tokens or change the password).
fn admit<T: 'static>(
    req: &HttpRequest,
    tokens: bool,
    admit: fn(Actor) -> Option<T>,
) -> Pin<Box<dyn Future<Output = Result<T, actix_web::Error>>>> {
    let session = req.get_session();
    let next = req
        .uri()
        .path_and_query()
        .map(|pq| pq.as_str().to_string())
        .unwrap_or_else(|| "/".into());
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let client = ClientAddr::of(req);
    // A personal API token acts as its user through these same extractors (issue 12);
    // other schemes (a proxy's Basic) are not ours and leave the session to decide.
    let bearer = bearer_token(req);
    if bearer.is_some() && !tokens {
        return Box::pin(async { Err(AppError::Forbidden.into()) });
    }
    // The API answers to tokens alone: a browser's session cookie is not asked (so no
    // page can make a signed-in visitor's browser call it), and none means 401.
    if bearer.is_none()
        && actix_web::HttpMessage::extensions(req)
            .get::<super::api::ApiRequest>()
            .is_some()
    {
        return Box::pin(async { Err(AppError::TokenRequired.into()) });
    }
    Box::pin(async move {
        let state = state.ok_or_else(|| AppError::Internal("application state missing".into()))?;
        if let Some(token) = bearer {
            let found = state
                .db(move |conn| api_tokens::actor_of_token(conn, &token, now_utc()))
                .await?;
            let mut actor = found.ok_or(AppError::TokenRefused)?;
            actor.client_addr = Some(client.0).filter(|a| !a.is_empty());
            return admit(actor).ok_or_else(|| AppError::Forbidden.into());
        }
        let Some(remembered) = SessionUser::from_session(&session) else {
            return Err(AppError::SignInRequired { next }.into());
        };
        let (id, version) = (remembered.id, remembered.session_version);
        let Some(mut actor) = state
            .db(move |conn| accounts::actor_of_session(conn, id, version))
            .await?
        else {
            // Signed out, password changed, disabled, deleted or unbound since signing
            // in: the session ends here.
            session.purge();
            return Err(AppError::SignInRequired { next }.into());
        };
        actor.client_addr = Some(client.0).filter(|a| !a.is_empty());
        admit(actor).ok_or_else(|| AppError::Forbidden.into())
    })
}

macro_rules! area_extractor {
    ($ty:ident, $admit:expr) => {
        impl FromRequest for $ty {
            type Error = actix_web::Error;
            type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

            fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
                admit(req, true, $admit)
            }
        }
    };
}

/// Anyone signed in, whatever their role: their own account and orders.
pub struct SignedIn {
    pub actor: Actor,
}
area_extractor!(SignedIn, |actor| Some(SignedIn { actor }));

/// Signed in by session, not by an API token: managing the account's own credentials.
pub struct SignedInBySession {
    pub actor: Actor,
}

impl FromRequest for SignedInBySession {
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        admit(req, false, |actor| Some(SignedInBySession { actor }))
    }
}

/// `/admin`: the city office.
pub struct AdminArea {
    pub actor: Actor,
}
area_extractor!(AdminArea, |actor| matches!(actor.scope, Scope::Admin)
    .then_some(AdminArea { actor }));

/// `/team`: a work-team member, with the villages every query of theirs is limited to.
pub struct TeamArea {
    pub actor: Actor,
    pub scope: TeamScope,
}

impl TeamArea {
    /// The member's villages, for the forms that ask which one.
    pub async fn villages(&self, state: &AppState) -> AppResult<Vec<Village>> {
        let scope = self.scope.clone();
        state.db(move |conn| team::villages(conn, &scope)).await
    }
}

area_extractor!(TeamArea, |actor| match &actor.scope {
    Scope::Team(scope) => Some(TeamArea {
        scope: scope.clone(),
        actor
    }),
    _ => None,
});

/// `/canteen`: a canteen buyer and their organisation.
pub struct CanteenArea {
    pub actor: Actor,
    pub scope: OrgScope,
}
area_extractor!(CanteenArea, |actor| match actor.scope {
    Scope::Canteen(scope) => Some(CanteenArea { scope, actor }),
    _ => None,
});

/// `/reports`: cadres within their scope, work teams over their villages; admins read
/// the whole city.
pub struct ReportsArea {
    pub actor: Actor,
    pub scope: ReportScope,
}
area_extractor!(ReportsArea, |actor| actor
    .report_scope()
    .map(|scope| ReportsArea { scope, actor }));
