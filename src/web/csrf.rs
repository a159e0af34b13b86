//! CSRF protection: a random token per session, carried by every state-changing form
//! as `csrf_token` and checked by the `CsrfForm` extractor before the form is read.

use std::future::Future;
use std::pin::Pin;

use actix_session::{Session, SessionExt};
use actix_web::dev::Payload;
use actix_web::web::Bytes;
use actix_web::{FromRequest, HttpRequest};
use serde::de::DeserializeOwned;

use crate::error::AppError;
use crate::util::{constant_time_eq, random_token};

const KEY: &str = "csrf";
pub const FIELD: &str = "csrf_token";

/// This session's token, created on first use.
pub fn token(session: &Session) -> String {
    if let Ok(Some(token)) = session.get::<String>(KEY) {
        return token;
    }
    let token = random_token(32);
    // If the session cannot store it, the form will be refused and asked again.
    let _ = session.insert(KEY, &token);
    token
}

/// A new token, after signing in, so that one seen before cannot be replayed.
pub fn rotate(session: &Session) {
    let _ = session.insert(KEY, random_token(32));
}

/// Refuses unless `sent` is this session's token.
pub fn check(session: &Session, sent: Option<&str>) -> Result<(), AppError> {
    let expected = session.get::<String>(KEY).ok().flatten();
    match (sent, expected) {
        (Some(sent), Some(expected)) if constant_time_eq(sent.as_bytes(), expected.as_bytes()) => {
            Ok(())
        }
        _ => Err(AppError::Csrf),
    }
}

/// A URL-encoded form whose `csrf_token` matched the session's, and whose every field
/// passed `input::form_field` (no control characters), deserialised as `T`.
///
/// Actix polls a handler's extractors together, so a form that fails to deserialise
/// could answer 400 before the area extractor beside it has said 403. Form types
/// therefore take every field as text with `#[serde(default)]` and leave the checking
/// to the domain; the access-matrix test holds every route to that.
pub struct CsrfForm<T>(pub T);

impl<T: DeserializeOwned + 'static> FromRequest for CsrfForm<T> {
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let session = req.get_session();
        let is_form = req
            .headers()
            .get(actix_web::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
        let body = Bytes::from_request(req, payload);
        Box::pin(async move {
            if !is_form {
                return Err(AppError::BadRequest(
                    "expected a form (application/x-www-form-urlencoded)".into(),
                )
                .into());
            }
            let body = body.await?;
            let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(&body)
                .map_err(|e| AppError::BadRequest(e.to_string()))?;
            let sent = pairs
                .iter()
                .find(|(k, _)| k == FIELD)
                .map(|(_, v)| v.as_bytes());
            let expected = session.get::<String>(KEY).ok().flatten();
            match (sent, expected) {
                (Some(sent), Some(expected)) if constant_time_eq(sent, expected.as_bytes()) => {}
                _ => return Err(AppError::Csrf.into()),
            }
            for (name, value) in &pairs {
                super::input::form_field(name, value)?;
            }
            let value = serde_urlencoded::from_bytes(&body).map_err(form_error)?;
            Ok(CsrfForm(value))
        })
    }
}

/// Turns serde's complaint into an error that names the field when serde does.
pub fn form_error(e: serde_urlencoded::de::Error) -> AppError {
    let text = e.to_string();
    let field = text.split('`').nth(1).unwrap_or("form").to_string();
    AppError::bad_field(field, text)
}
