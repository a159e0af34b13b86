//! The JSON API v1 (issue 12) under `/api/v1`: what the pages do, for other programs.
//! Handlers here are as thin as the pages' — parse, authorise through the same area
//! extractors (`web::auth`, which take a personal token as `Authorization: Bearer`), call
//! the same domain function, and answer JSON. Errors are `AppError`s, which
//! `web::errors` writes in the one JSON shape `ErrorBody`.
//!
//! The OpenAPI 3.1 document is generated from the handlers as they are registered
//! (`utoipa-actix-web` collects each `#[utoipa::path]` service), so a route cannot be
//! served without being described; it is served at `/api/v1/openapi.json`, and read as a
//! page at `/api/v1/docs`.

pub mod account;
pub mod canteen;
pub mod catalog;
pub mod live;
pub mod orders;
pub mod reference;
pub mod reports;
pub mod team;

use std::sync::Arc;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::middleware::{Next, from_fn};
use actix_web::{FromRequest, HttpMessage, HttpRequest, HttpResponse, web};
use futures_util::future::LocalBoxFuture;
use serde::Serialize;
use serde::de::DeserializeOwned;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::{OpenApi as Document, PathItem};
use utoipa::{IntoResponses, Modify, OpenApi, ToSchema};
use utoipa_actix_web::AppExt;

use super::AppState;
use super::auth::bearer_token;
use super::client::ClientAddr;
use super::input;
use crate::domain::api_limits::{self, Admission};
use crate::domain::money::format_fen;
use crate::domain::now_utc;
use crate::error::{AppError, AppResult};
use crate::i18n::Lang;
use crate::web::render::query_param;

/// Where the API lives; every path below it answers JSON.
pub const PREFIX: &str = "/api/v1";
/// The largest JSON body a request may send.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "村货集市 Village Market API",
        version = "1",
        description = "What the shop's pages do, as JSON. Money is whole fen (分) with the \
            same amount written out in yuan; times are RFC 3339 in UTC; business dates are \
            China dates. A signed-in person makes a personal token on their account page \
            (/account) and sends it as `Authorization: Bearer <token>`: it acts as that \
            person, with their role and scope. Every error has the one shape `ErrorBody`. \
            Each token, and each guest's address, may make API_REQUESTS_PER_MINUTE requests \
            a minute (600 unless the install says otherwise); beyond that the answer is 429 \
            with `Retry-After`."
    ),
    modifiers(&BearerScheme),
    tags(
        (name = "catalog", description = "Villages and the products on sale: open to anyone."),
        (name = "orders", description = "A guest's storefront order: placed once per `Idempotency-Key`, read by its key."),
        (name = "account", description = "Who a token acts as."),
        (name = "canteen", description = "A canteen's catalogue, orders, approvals, delivery notes, acceptance and statements, within its organisation."),
        (name = "team", description = "A work team's orders, household register, stock and livestream sessions, within its villages."),
        (name = "reports", description = "The cadres' figures: the reader's scope, a county, a village, a household's statement, as the report pages read them."),
        (name = "reference", description = "This document, as JSON and as a page."),
    ),
    // Types named only by parameters are not collected from the handlers: listed here.
    components(schemas(
        ErrorBody, ErrorDetail, Money, LangCode, team::FulfilmentStep, live::LiveStep,
        canteen::Decision, reports::HouseholdOrder,
        reports::Direction,
        crate::states::OrderStatus, crate::states::Channel, crate::states::HouseholdCategory,
    ))
)]
struct ApiDoc;

/// The one security scheme: a personal token as a bearer.
struct BearerScheme;

impl Modify for BearerScheme {
    fn modify(&self, openapi: &mut Document) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let mut http = Http::new(HttpAuthScheme::Bearer);
        http.description = Some(
            "A personal API token (vm_…), made on the account page; it acts as its user.".into(),
        );
        components.add_security_scheme(BEARER, SecurityScheme::Http(http));
    }
}

/// The security scheme's name in the document.
pub const BEARER: &str = "bearer";

/// The API document as served, made once per server from the registered handlers.
#[derive(Clone)]
pub struct ApiDocument {
    pub document: Arc<Document>,
    pub json: Arc<String>,
}

/// Mounts the API on `app` (before the pages) and returns the app with the document in
/// its data.
pub fn mount<T>(app: actix_web::App<T>) -> actix_web::App<T>
where
    T: actix_web::dev::ServiceFactory<
            ServiceRequest,
            Config = (),
            Error = actix_web::Error,
            InitError = (),
        >,
{
    let api = utoipa_actix_web::scope(PREFIX)
        .app_data(web::PayloadConfig::new(MAX_BODY_BYTES))
        .wrap(from_fn(rate_limit))
        .service(reference::openapi_document)
        .service(reference::reference_page)
        .service(account::me)
        .service(catalog::villages)
        .service(catalog::products)
        .service(catalog::product)
        .service(orders::place)
        .service(orders::show)
        .service(canteen::catalogue)
        .service(canteen::place)
        .service(canteen::orders_list)
        .service(canteen::order_show)
        .service(canteen::decide)
        .service(canteen::canteen_note)
        .service(canteen::accept)
        .service(canteen::statements_list)
        .service(canteen::statement_show)
        .service(team::orders_list)
        .service(team::order)
        .service(team::advance)
        .service(canteen::team_note)
        .service(team::households_list)
        .service(team::household_create)
        .service(team::household)
        .service(team::household_update)
        .service(team::lot_record)
        .service(live::live_sessions)
        .service(live::session_create)
        .service(live::live_figures)
        // Before `session_step`, whose `{step}` would take `items` and `extend` too.
        .service(live::item_add)
        .service(live::item_change)
        .service(live::session_extend)
        .service(live::session_step)
        .service(reports::overview)
        .service(reports::county_figures)
        .service(reports::village_households)
        .service(reports::household_statement)
        .default_service(web::to(unrouted));
    let (app, document) = app
        .into_utoipa_app()
        .openapi(ApiDoc::openapi())
        .service(api)
        .split_for_parts();
    let json = document.to_json().unwrap_or_else(|e| {
        tracing::error!(error = %e, "the API document did not serialise");
        "{}".into()
    });
    app.app_data(web::Data::new(ApiDocument {
        document: Arc::new(document),
        json: Arc::new(json),
    }))
}

/// Below `/api/v1` but no route: 405 naming the methods when the path is one of the
/// document's with another method, else 404.
async fn unrouted(req: HttpRequest) -> AppResult<HttpResponse> {
    let methods = req
        .app_data::<web::Data<ApiDocument>>()
        .map(|doc| methods_of(&doc.document, req.path()))
        .unwrap_or_default();
    if methods.is_empty() {
        return Err(AppError::NotFound);
    }
    Err(AppError::MethodNotAllowed {
        allow: methods.join(", "),
    })
}

/// The methods the document gives for the path template `path` matches.
fn methods_of(document: &Document, path: &str) -> Vec<&'static str> {
    let segments: Vec<&str> = path.split('/').collect();
    let matching = document.paths.paths.iter().find(|(template, _)| {
        let parts: Vec<&str> = template.split('/').collect();
        parts.len() == segments.len()
            && parts
                .iter()
                .zip(&segments)
                .all(|(t, s)| t == s || (t.starts_with('{') && !s.is_empty()))
    });
    matching
        .map(|(_, item)| item_methods(item))
        .unwrap_or_default()
}

fn item_methods(item: &PathItem) -> Vec<&'static str> {
    [
        ("GET", item.get.is_some()),
        ("POST", item.post.is_some()),
        ("PUT", item.put.is_some()),
        ("PATCH", item.patch.is_some()),
        ("DELETE", item.delete.is_some()),
    ]
    .into_iter()
    .filter_map(|(m, present)| present.then_some(m))
    .collect()
}

/// A request the API scope took: `web::auth` admits it by token alone and `web::errors`
/// answers it in JSON.
#[derive(Debug, Clone, Copy)]
pub struct ApiRequest;

/// Whether `req` is the API's: marked by its scope, or (for a refusal before routing, such
/// as a control character in the path) spelled below `/api/`.
pub fn is_api(req: &HttpRequest) -> bool {
    req.extensions().get::<ApiRequest>().is_some() || req.path().starts_with("/api/")
}

/// Marks the request as the API's, then counts it against its caller's minute
/// (`domain::api_limits`): a working token by its id, anyone else by address. Over the limit, 429 with `Retry-After`, before any
/// handler runs. A database that cannot count does not stop the API.
async fn rate_limit(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    // Marked before anything else reads it: this request is the API's, however its path
    // was spelled (`/%61pi/v1/…` routes here too).
    req.extensions_mut().insert(ApiRequest);
    let Some(state) = req.app_data::<web::Data<AppState>>().cloned() else {
        return Ok(next.call(req).await?.map_into_boxed_body());
    };
    let bearer = bearer_token(req.request());
    let client = ClientAddr::of(req.request()).0;
    let per_minute = state.config.api_requests_per_minute;
    let admission = state
        .db(move |conn| api_limits::admit(conn, bearer.as_deref(), &client, per_minute, now_utc()))
        .await;
    match admission {
        Ok(Admission::Refused { retry_after_secs }) => {
            let e = AppError::TooManyAttempts { retry_after_secs };
            Ok(req.error_response(e))
        }
        Ok(Admission::Admitted) => Ok(next.call(req).await?.map_into_boxed_body()),
        Err(e) => {
            tracing::warn!(error = %e, "the API's request count failed; the request goes on");
            Ok(next.call(req).await?.map_into_boxed_body())
        }
    }
}

/// Every error's body.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// What went wrong, to branch on: `bad_field`, `bad_request`, `not_found`,
    /// `token_required`, `token_refused`, `forbidden`, `conflict`, `too_large`,
    /// `too_many_attempts`, `method_not_allowed`, `internal`, `unavailable`.
    #[schema(example = "bad_field")]
    pub code: String,
    /// The same, for a person, in the caller's language (Chinese unless `?lang=en`).
    pub message: String,
    /// The field, parameter or header at fault, where there is one (`lines[0].quantity`).
    pub field: Option<String>,
    /// What was wrong with it.
    pub detail: Option<String>,
}

/// The language of messages and emails: Chinese unless asked.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
pub enum LangCode {
    #[serde(rename = "zh-CN")]
    Chinese,
    #[serde(rename = "en")]
    English,
}

/// The `lang` parameter: a language the shop speaks, Chinese when none is asked for; any
/// other value is a 400 naming it, as the document's enumeration says.
pub fn lang(req: &HttpRequest) -> AppResult<Lang> {
    match query_param(req, "lang") {
        None => Ok(Lang::default()),
        Some(code) => Lang::parse(&code).ok_or_else(|| AppError::bad_field("lang", "zh-CN or en")),
    }
}

/// An optional query parameter of an enumeration: absent is `None`; given, it must be one
/// of the values (an empty one is not), else a 400 naming it.
pub fn typed_param<T>(
    field: &str,
    value: &Option<String>,
    parse: impl Fn(&str) -> Option<T>,
) -> AppResult<Option<T>> {
    match value.as_deref() {
        None => Ok(None),
        Some(text) => parse(text)
            .map(Some)
            .ok_or_else(|| AppError::bad_field(field, "not one of the values the document lists")),
    }
}

/// A domain refusal naming a form's field (`q-17`, `delivery_site`) names the request's
/// own field instead (`lines[0].quantity`, `delivery_site_id`) where `rename` knows it.
pub fn fields_renamed(e: AppError, rename: impl Fn(&str) -> Option<String>) -> AppError {
    match e {
        AppError::Invalid(mut errors) => {
            for error in &mut errors.0 {
                if let Some(field) = rename(&error.field) {
                    error.field = field;
                }
            }
            AppError::Invalid(errors)
        }
        other => other,
    }
}

/// A domain refusal naming the form's field `from` names the body's `to` instead.
pub fn renamed(e: AppError, from: &str, to: &str) -> AppError {
    fields_renamed(e, |field| (field == from).then(|| to.to_string()))
}

/// A refusal of the order's, part's or session's `status` is a conflict with things as
/// they stand (a step out of turn, a change after the end), as the pages answer it.
pub fn out_of_turn(e: AppError) -> AppError {
    state_conflict(e, "status", "status")
}

/// A refusal of `field` as things stand (a decision already taken, a step out of turn)
/// is a conflict with the state, named `as_field`, as the pages answer it.
pub fn state_conflict(e: AppError, field: &str, as_field: &str) -> AppError {
    match e {
        AppError::Invalid(errors) if errors.has(field) => AppError::Conflict {
            field: as_field.into(),
            reason: "not possible as things stand".into(),
        },
        other => other,
    }
}

/// A filter value as the API takes it: absent, or a value (an empty one is not a value).
pub fn given<'a>(field: &str, value: &'a Option<String>) -> AppResult<&'a str> {
    match value.as_deref() {
        Some("") => Err(AppError::bad_field(field, "empty")),
        other => Ok(other.unwrap_or_default()),
    }
}

/// A yes-or-no parameter: absent is no.
pub fn flag(field: &str, value: &Option<String>) -> AppResult<bool> {
    match value.as_deref() {
        None | Some("false") => Ok(false),
        Some("true") => Ok(true),
        Some(_) => Err(AppError::bad_field(field, "true or false")),
    }
}

/// A date exactly as the document's `format: date` writes it (`2026-05-04`), which the
/// forms' more forgiving reading would also take as `2026-5-4`; anything else is a 400.
pub fn exact_date(field: &str, text: &str) -> AppResult<()> {
    let exact = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .is_ok_and(|d| d.format("%Y-%m-%d").to_string() == text);
    if exact {
        Ok(())
    } else {
        Err(AppError::bad_field(field, "a date as YYYY-MM-DD"))
    }
}

/// A `page` parameter: pages count from 1 (to 100,000); absent is the first.
pub fn page_number(value: &Option<String>) -> AppResult<i64> {
    match value.as_deref() {
        None => Ok(1),
        Some(n) => n
            .parse::<i64>()
            .ok()
            .filter(|n| (1..=100_000).contains(n))
            .ok_or_else(|| AppError::bad_field("page", "a whole number from 1")),
    }
}

/// An amount of money: whole fen (分), and the same in yuan as the pages write it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Money {
    #[schema(example = 3600)]
    pub fen: i64,
    #[schema(example = "¥36.00")]
    pub text: String,
}

impl Money {
    pub fn of(fen: i64) -> Money {
        Money {
            fen,
            text: format_fen(fen),
        }
    }
}

/// An instant in RFC 3339, UTC.
pub fn rfc3339(t: chrono::NaiveDateTime) -> String {
    t.and_utc()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

// The refusals an operation may answer, each with the `ErrorBody` shape; an operation
// lists those it can meet. They describe; `web::errors` writes the bodies.

/// A parameter, header or body field is missing or malformed; `field` names it.
#[allow(dead_code)]
#[derive(IntoResponses)]
#[response(status = 400)]
pub struct BadRequest(#[to_schema] ErrorBody);

/// No token, or one unknown, revoked, expired or of a disabled account.
#[allow(dead_code)]
#[derive(IntoResponses)]
#[response(status = 401, headers(("WWW-Authenticate" = String, description = "Bearer")))]
pub struct Unauthorized(#[to_schema] ErrorBody);

/// The token's user has another role.
#[allow(dead_code)]
#[derive(IntoResponses)]
#[response(status = 403)]
pub struct Forbidden(#[to_schema] ErrorBody);

/// There is no such thing, or it is outside the caller's scope.
#[allow(dead_code)]
#[derive(IntoResponses)]
#[response(status = 404)]
pub struct NotFound(#[to_schema] ErrorBody);

/// The shop's state refuses it now (not enough stock, a step out of turn); `field` names
/// what stands in the way (`lines[0].quantity`, `status`).
#[allow(dead_code)]
#[derive(IntoResponses)]
#[response(status = 409)]
pub struct Conflict(#[to_schema] ErrorBody);

/// The body is larger than 64 KiB.
#[allow(dead_code)]
#[derive(IntoResponses)]
#[response(status = 413)]
pub struct TooLarge(#[to_schema] ErrorBody);

/// A field breaks one of the shop's rules; `field` names the first, `detail` lists all.
#[allow(dead_code)]
#[derive(IntoResponses)]
#[response(status = 422)]
pub struct Unprocessable(#[to_schema] ErrorBody);

/// Over this minute's requests; `Retry-After` says when the next minute begins.
#[allow(dead_code)]
#[derive(IntoResponses)]
#[response(
    status = 429,
    headers(("Retry-After" = u64, description = "Seconds to wait"))
)]
pub struct TooManyRequests(#[to_schema] ErrorBody);

/// A JSON body, read with the field at fault named (`lines[0].quantity`), every text in
/// it checked for control characters as form fields are. `canonical` is the body written
/// again with its keys sorted and whole numbers as integers: the same request however its
/// JSON was spaced, ordered or numbered.
pub struct ApiJson<T> {
    pub body: T,
    pub canonical: Vec<u8>,
}

impl<T: DeserializeOwned + 'static> FromRequest for ApiJson<T> {
    type Error = actix_web::Error;
    type Future = LocalBoxFuture<'static, Result<Self, actix_web::Error>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let json = req
            .mime_type()
            .ok()
            .flatten()
            .is_some_and(|m| m.essence_str() == "application/json");
        let bytes = web::Bytes::from_request(req, payload);
        Box::pin(async move {
            if !json {
                return Err(AppError::bad_field("Content-Type", "must be application/json").into());
            }
            let raw = bytes
                .await
                .map_err(|e| AppError::TooLarge(format!("the body: {e}")))?;
            let mut value: serde_json::Value = serde_json::from_slice(&raw)
                .map_err(|e| AppError::bad_field("body", format!("not JSON: {e}")))?;
            check_texts(&value, &mut String::new())?;
            whole_numbers_as_integers(&mut value);
            // serde_json's maps keep their keys sorted (no `preserve_order`).
            let canonical = serde_json::to_vec(&value).map_err(AppError::internal)?;
            let body = serde_path_to_error::deserialize(value).map_err(|e| {
                let path = e.path().to_string();
                let field = if path == "." { "body".into() } else { path };
                AppError::bad_field(field, e.into_inner().to_string())
            })?;
            Ok(ApiJson { body, canonical })
        })
    }
}

/// JSON does not tell `2` from `2.0`, and JSON Schema counts both as integers: a number
/// with no fraction, within the range of `i64`, is read as the integer it is. (Beyond
/// ±2⁵³ a JSON number is a double to every client, so it is read as the double it is.)
fn whole_numbers_as_integers(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Number(n) if !n.is_i64() && !n.is_u64() => {
            let whole = n
                .as_f64()
                .filter(|f| f.fract() == 0.0 && (-I64_BOUND..I64_BOUND).contains(f))
                .map(|f| f as i64);
            if let Some(i) = whole {
                *value = serde_json::Value::from(i);
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(whole_numbers_as_integers),
        serde_json::Value::Object(map) => map.values_mut().for_each(whole_numbers_as_integers),
        _ => {}
    }
}

/// 2⁶³: every whole double below it in magnitude (and −2⁶³ itself) is an `i64`.
const I64_BOUND: f64 = 9_223_372_036_854_775_808.0;

/// Every text of a JSON value, and every key, through `input::form_field`, named by path.
fn check_texts(value: &serde_json::Value, path: &mut String) -> Result<(), AppError> {
    match value {
        serde_json::Value::String(s) => input::form_field(path, s),
        serde_json::Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                let len = path.len();
                path.push_str(&format!("[{i}]"));
                check_texts(item, path)?;
                path.truncate(len);
            }
            Ok(())
        }
        serde_json::Value::Object(map) => {
            for (key, item) in map {
                let len = path.len();
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(key);
                if key.chars().any(char::is_control) {
                    return Err(AppError::bad_field(
                        path.as_str(),
                        "a key holds a control character",
                    ));
                }
                check_texts(item, path)?;
                path.truncate(len);
            }
            Ok(())
        }
        _ => Ok(()),
    }
}
