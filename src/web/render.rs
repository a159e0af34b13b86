//! Pages: the handlebars templates (embedded), the request context every page needs
//! (language, signed-in user), and the one-second page cache for guests.

use std::future::{Ready, ready};
use std::sync::Arc;
use std::time::Duration;

use actix_session::{Session, SessionExt};
use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::http::header::ContentType;
use actix_web::web::Bytes;
use actix_web::{FromRequest, HttpRequest, HttpResponse};
use serde_json::{Map, Value, json};

use super::auth::SessionUser;
use crate::domain::validation::FieldErrors;
use crate::error::{AppError, AppResult};
use crate::i18n::Lang;
pub use crate::templates::Templates;

/// Session key of the language a visitor chose.
pub const LANG_KEY: &str = "lang";

/// The language of a request: `?lang=` first, then the visitor's earlier choice kept in
/// the session, then Chinese.
pub fn request_lang(req: &HttpRequest, session: &Session) -> (Lang, bool) {
    let from_query = query_param(req, "lang").and_then(|v| Lang::parse(&v));
    let from_session = session
        .get::<String>(LANG_KEY)
        .ok()
        .flatten()
        .and_then(|v| Lang::parse(&v));
    match (from_query, from_session) {
        (Some(q), s) => (q, s != Some(q)),
        (None, Some(s)) => (s, false),
        (None, None) => (Lang::default(), false),
    }
}

pub fn query_param(req: &HttpRequest, name: &str) -> Option<String> {
    url::form_urlencoded::parse(req.query_string().as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// What every page needs about the request: its language, who is signed in (from the
/// session, without a database round trip) and where it is.
pub struct Ctx {
    pub lang: Lang,
    pub user: Option<SessionUser>,
    pub session: Session,
    /// Path and query, as requested: the page cache's key and the sign-in `next`.
    pub uri: String,
    path: String,
    query: String,
}

impl FromRequest for Ctx {
    type Error = actix_web::Error;
    type Future = Ready<Result<Ctx, actix_web::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let session = req.get_session();
        let (lang, changed) = request_lang(req, &session);
        if changed {
            // Remembered for the next pages; a failure only means it is asked again.
            let _ = session.insert(LANG_KEY, lang.code());
        }
        let user = SessionUser::from_session(&session);
        ready(Ok(Ctx {
            lang,
            user,
            session,
            uri: req
                .uri()
                .path_and_query()
                .map(|pq| pq.as_str().to_string())
                .unwrap_or_default(),
            path: req.path().to_string(),
            query: req.query_string().to_string(),
        }))
    }
}

impl Ctx {
    /// The current page's address in the other language.
    fn switch_url(&self) -> String {
        let other = self.lang.other().code();
        let mut pairs: Vec<(String, String)> = url::form_urlencoded::parse(self.query.as_bytes())
            .filter(|(k, _)| k != "lang")
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        pairs.push(("lang".into(), other.into()));
        let query: String = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs)
            .finish();
        format!("{}?{query}", self.path)
    }

    /// The layout's data: language, navigation, the signed-in user and their sign-out
    /// form's CSRF token.
    fn chrome(&self) -> Value {
        let user = self.user.as_ref().map(|u| {
            json!({
                "name": u.name,
                "home": u.role.home(),
                "csrf_token": super::csrf::token(&self.session),
            })
        });
        json!({
            "user": user,
            "switch_url": self.switch_url(),
            "path": self.path,
            "next": self.uri,
        })
    }

    /// Renders `template` with `data` inside the layout data, as an HTML response.
    pub fn page(
        &self,
        templates: &Templates,
        status: StatusCode,
        template: &str,
        data: Value,
    ) -> AppResult<HttpResponse> {
        let html = self.render(templates, template, data)?;
        Ok(HttpResponse::build(status)
            .content_type(ContentType::html())
            .body(html))
    }

    /// A form's page: `data` with what every form page shows — the session's CSRF token,
    /// the values as typed and each field's message in the visitor's language.
    pub fn form_page(
        &self,
        templates: &Templates,
        status: StatusCode,
        template: &str,
        data: Value,
        values: impl serde::Serialize,
        errors: &FieldErrors,
    ) -> AppResult<HttpResponse> {
        let data = self.form_data(data, super::csrf::token(&self.session), values, errors)?;
        self.page(templates, status, template, data)
    }

    /// `data` with what every form shows: the CSRF token (the session's, or
    /// `CSRF_PLACEHOLDER` for a page kept in the `PageCache`), the values as typed and
    /// each field's message in the visitor's language.
    pub fn form_data(
        &self,
        mut data: Value,
        csrf_token: String,
        values: impl serde::Serialize,
        errors: &FieldErrors,
    ) -> AppResult<Value> {
        data["csrf_token"] = Value::String(csrf_token);
        data["values"] = serde_json::to_value(values).map_err(AppError::internal)?;
        data["errors"] = super::forms::errors_json(self.lang, errors);
        data["has_errors"] = Value::Bool(!errors.is_empty());
        Ok(data)
    }

    pub fn render(&self, templates: &Templates, template: &str, data: Value) -> AppResult<String> {
        let mut root = match data {
            Value::Object(map) => map,
            _ => Map::new(),
        };
        root.insert("lang".into(), Value::String(self.lang.code().into()));
        root.insert("chrome".into(), self.chrome());
        templates.render(template, &Value::Object(root))
    }
}

/// Rendered pages for guests, kept at most a second: enough to serve a livestream's
/// rush from memory, never long enough to show a stale price or stock state.
#[derive(Clone)]
pub struct PageCache {
    pages: moka::future::Cache<String, Bytes>,
}

impl PageCache {
    pub fn new(ttl: Duration) -> Self {
        Self {
            pages: moka::future::Cache::builder()
                .max_capacity(10_000)
                .time_to_live(ttl)
                .build(),
        }
    }

    /// The page for `ctx` from the cache, or rendered by `render` (and cached when the
    /// visitor is a guest: a signed-in visitor's page carries their name and token).
    pub async fn html<F>(&self, ctx: &Ctx, render: F) -> AppResult<HttpResponse>
    where
        F: Future<Output = AppResult<String>>,
    {
        let html = self.bytes(ctx, render).await?;
        Ok(HttpResponse::Ok()
            .content_type(ContentType::html())
            .body(html))
    }

    /// Like `html`, for pages with a form: the cached page holds `CSRF_PLACEHOLDER`,
    /// and each visitor gets their own session's token in its place — and, where the form
    /// carries one, a fresh idempotency key in place of `IDEMPOTENCY_PLACEHOLDER`.
    pub async fn html_with_form<F>(&self, ctx: &Ctx, render: F) -> AppResult<HttpResponse>
    where
        F: Future<Output = AppResult<String>>,
    {
        let html = self.bytes(ctx, render).await?;
        let page = String::from_utf8_lossy(&html)
            .replace(CSRF_PLACEHOLDER, &super::csrf::token(&ctx.session))
            .replace(IDEMPOTENCY_PLACEHOLDER, &crate::util::random_token(16));
        Ok(HttpResponse::Ok()
            .content_type(ContentType::html())
            .body(page))
    }

    /// Forgets a page (in every language), so that the next visitor gets it as it is now.
    pub async fn forget(&self, uri: &str) {
        for lang in Lang::ALL {
            self.pages.invalidate(&Self::key(lang, uri)).await;
        }
    }

    /// Forgets every page: after a change that several pages show (a team's step in a
    /// livestream moves all its links' pages), when the pages are too many to name.
    pub fn forget_all(&self) {
        self.pages.invalidate_all();
    }

    /// A page is kept per language and address.
    fn key(lang: Lang, uri: &str) -> String {
        format!("{}|{uri}", lang.code())
    }

    async fn bytes<F>(&self, ctx: &Ctx, render: F) -> AppResult<Bytes>
    where
        F: Future<Output = AppResult<String>>,
    {
        if ctx.user.is_some() {
            return Ok(Bytes::from(render.await?));
        }
        self.pages
            .try_get_with(Self::key(ctx.lang, &ctx.uri), async {
                render.await.map(Bytes::from)
            })
            .await
            .map_err(AppError::shared)
    }
}

/// Stands for the visitor's CSRF token in a cached page (see `PageCache::html_with_form`).
pub const CSRF_PLACEHOLDER: &str = "__csrf_token__";
/// Stands for a form's idempotency key in a cached page: each view gets a fresh one.
pub const IDEMPOTENCY_PLACEHOLDER: &str = "__idempotency_key__";

impl AppError {
    /// An error that several waiters on one cache entry share.
    fn shared(e: Arc<AppError>) -> AppError {
        match &*e {
            AppError::NotFound => AppError::NotFound,
            AppError::BadField { field, reason } => {
                AppError::bad_field(field.clone(), reason.clone())
            }
            AppError::Unavailable(reason) => AppError::Unavailable(reason.clone()),
            other => AppError::Internal(other.to_string()),
        }
    }
}
