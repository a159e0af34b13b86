//! Turns every error response into something a person or a client can read: a page in
//! the visitor's language, in the site's layout, or JSON under `/api/`.

use actix_session::SessionExt;
use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{HttpResponse, ResponseError, web};
use serde_json::json;

use super::AppState;
use super::auth::SessionUser;
use super::render::request_lang;
use crate::domain::validation::FieldErrors;
use crate::error::AppError;
use crate::i18n::Lang;

/// What an error page says below its message: the reason given, or each field's problem
/// in the visitor's language.
enum Detail {
    Text(String),
    Fields(FieldErrors),
}

pub async fn render_errors(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let res = next.call(req).await?;
    let Some(error) = res.response().error() else {
        return Ok(res.map_into_boxed_body());
    };
    if res.status().is_redirection() {
        return Ok(res.map_into_boxed_body());
    }
    let (key, field, detail) = match error.as_error::<AppError>() {
        Some(e) => {
            if e.status_code().is_server_error() {
                tracing::error!(error = %e, path = %res.request().path(), "request failed");
            }
            let field = match e {
                AppError::BadField { field, .. } | AppError::Conflict { field, .. } => {
                    Some(field.clone())
                }
                AppError::Invalid(errors) => errors.0.first().map(|f| f.field.clone()),
                _ => None,
            };
            let detail = match e {
                AppError::BadField { reason, .. }
                | AppError::Conflict { reason, .. }
                | AppError::BadRequest(reason)
                | AppError::TooLarge(reason) => Some(Detail::Text(reason.clone())),
                AppError::Invalid(errors) => Some(Detail::Fields(errors.clone())),
                _ => None,
            };
            (e.message_key(), field, detail)
        }
        // actix's own refusals (payload too large, wrong method…): say what it said.
        None => (
            "error-bad-request",
            None,
            Some(Detail::Text(error.to_string())),
        ),
    };
    let status = res.status();
    let (req, res) = res.into_parts();
    let session = req.get_session();
    let (lang, _) = request_lang(&req, &session);
    let detail = detail.map(|d| match d {
        Detail::Text(text) => text,
        Detail::Fields(errors) => errors
            .0
            .iter()
            .map(|e| format!("{}: {}", e.field, lang.t_args(e.key, &e.args)))
            .collect::<Vec<_>>()
            .join("; "),
    });
    let message = match &field {
        Some(f) => lang.t_args(key, &[("field", f.clone())]),
        None => lang.t(key),
    };
    let mut out = if super::api::is_api(&req) {
        // The API's one error shape (`web::api::ErrorBody`): a code to branch on, the
        // message in the caller's language, the field at fault and what was wrong with it.
        HttpResponse::build(status).json(json!({
            "error": {
                "code": key.trim_start_matches("error-").replace('-', "_"),
                "message": message,
                "field": field,
                "detail": detail,
            }
        }))
    } else {
        let html = req.app_data::<web::Data<AppState>>().and_then(|state| {
            error_page(
                state,
                lang,
                &session,
                status.as_u16(),
                &message,
                detail.as_deref(),
            )
            .ok()
        });
        match html {
            Some(html) => HttpResponse::build(status)
                .content_type(mime_html())
                .body(html),
            None => HttpResponse::build(status)
                .content_type(mime_text())
                .body(message),
        }
    };
    for (name, value) in res.headers() {
        if name == header::RETRY_AFTER
            || name == header::ALLOW
            || name == header::SET_COOKIE
            || name == header::WWW_AUTHENTICATE
        {
            out.headers_mut().append(name.clone(), value.clone());
        }
    }
    Ok(ServiceResponse::new(req, out))
}

fn error_page(
    state: &AppState,
    lang: Lang,
    session: &actix_session::Session,
    status: u16,
    message: &str,
    detail: Option<&str>,
) -> Result<String, AppError> {
    let user = SessionUser::from_session(session)
        .map(|u| json!({ "name": u.name, "home": u.role.home() }));
    let data = json!({
        "lang": lang.code(),
        "chrome": { "user": user, "switch_url": format!("/?lang={}", lang.other().code()) },
        "status": status,
        "message": message,
        "detail": detail,
    });
    state.templates.render("pages/error", &data)
}

fn mime_html() -> HeaderValue {
    HeaderValue::from_static("text/html; charset=utf-8")
}

fn mime_text() -> HeaderValue {
    HeaderValue::from_static("text/plain; charset=utf-8")
}
