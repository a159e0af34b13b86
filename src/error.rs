//! `AppError`: the one error type handlers return. Each variant knows its HTTP status;
//! `web::errors` turns it into a page in the visitor's language, or JSON under `/api/`.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};

use crate::domain::error::DomainError;
use crate::domain::validation::FieldErrors;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("not found")]
    NotFound,
    /// Signed in, but this is another role's area.
    #[error("forbidden")]
    Forbidden,
    /// Not signed in: the visitor is sent to the sign-in page and back to `next` after.
    #[error("sign-in required")]
    SignInRequired { next: String },
    /// An `Authorization: Bearer` token that is unknown, revoked or expired, or whose user
    /// is disabled: 401, never a redirect to the sign-in page.
    #[error("the access token is not valid")]
    TokenRefused,
    /// An API request that needs a token came without one: 401, like `TokenRefused`.
    #[error("an access token is required")]
    TokenRequired,
    /// The request is well formed but the shop's state refuses it (stock gone, a quota
    /// sold out); `field` names what the caller may change.
    #[error("conflict on {field}: {reason}")]
    Conflict { field: String, reason: String },
    /// The address exists but not with this method; `allow` lists the methods it takes.
    #[error("method not allowed; allowed: {allow}")]
    MethodNotAllowed { allow: String },
    /// A field of the request is missing or malformed; `field` names it.
    #[error("bad value for {field}: {reason}")]
    BadField { field: String, reason: String },
    /// What a person sent breaks a domain rule: a form handler shows its form again with
    /// each message by its field; anywhere else it is a 422 naming the first field.
    #[error("invalid: {0}")]
    Invalid(FieldErrors),
    /// The request could not be read at all (wrong content type, unreadable body).
    #[error("bad request: {0}")]
    BadRequest(String),
    #[error("the form's csrf_token is missing or does not match this session")]
    Csrf,
    /// The request is larger than its form allows; the reason names the limit.
    #[error("too large: {0}")]
    TooLarge(String),
    #[error("too many attempts; retry in {retry_after_secs} s")]
    TooManyAttempts { retry_after_secs: u64 },
    #[error("database unavailable: {0}")]
    Unavailable(String),
    #[error("database error: {0}")]
    Database(#[from] diesel::result::Error),
    #[error("internal error: {0}")]
    Internal(String),
}

impl AppError {
    pub fn bad_field(field: impl Into<String>, reason: impl Into<String>) -> Self {
        AppError::BadField {
            field: field.into(),
            reason: reason.into(),
        }
    }

    pub fn internal(e: impl std::fmt::Display) -> Self {
        AppError::Internal(e.to_string())
    }

    /// The fluent key of the message shown to people.
    pub fn message_key(&self) -> &'static str {
        match self {
            AppError::NotFound => "error-not-found",
            AppError::Forbidden => "error-forbidden",
            AppError::SignInRequired { .. } => "error-sign-in-required",
            AppError::TokenRefused => "error-token-refused",
            AppError::TokenRequired => "error-token-required",
            AppError::Conflict { .. } => "error-conflict",
            AppError::MethodNotAllowed { .. } => "error-method-not-allowed",
            AppError::BadField { .. } | AppError::Invalid(_) => "error-bad-field",
            AppError::BadRequest(_) => "error-bad-request",
            AppError::Csrf => "error-csrf",
            AppError::TooLarge(_) => "error-too-large",
            AppError::TooManyAttempts { .. } => "error-too-many-attempts",
            AppError::Unavailable(_) => "error-unavailable",
            AppError::Database(_) | AppError::Internal(_) => "error-internal",
        }
    }
}

impl From<DomainError> for AppError {
    fn from(e: DomainError) -> Self {
        match e {
            DomainError::Invalid(errors) => AppError::Invalid(errors),
            DomainError::NotFound => AppError::NotFound,
            DomainError::Database(e) => AppError::Database(e),
        }
    }
}

impl From<diesel::r2d2::PoolError> for AppError {
    fn from(e: diesel::r2d2::PoolError) -> Self {
        AppError::Unavailable(e.to_string())
    }
}

impl From<tokio::task::JoinError> for AppError {
    fn from(e: tokio::task::JoinError) -> Self {
        AppError::Internal(e.to_string())
    }
}

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        match self {
            AppError::NotFound => StatusCode::NOT_FOUND,
            AppError::Forbidden | AppError::Csrf => StatusCode::FORBIDDEN,
            AppError::SignInRequired { .. } => StatusCode::SEE_OTHER,
            AppError::TokenRefused | AppError::TokenRequired => StatusCode::UNAUTHORIZED,
            AppError::Conflict { .. } => StatusCode::CONFLICT,
            AppError::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            AppError::BadField { .. } | AppError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AppError::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            AppError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::TooManyAttempts { .. } => StatusCode::TOO_MANY_REQUESTS,
            AppError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Database(_) | AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// A bare response; `web::errors` replaces its body with a page or JSON, since only
    /// it can see the request's language.
    fn error_response(&self) -> HttpResponse {
        let mut res = HttpResponse::build(self.status_code());
        if let AppError::SignInRequired { next } = self {
            let target = format!("/login?next={}", crate::util::url_encode(next));
            res.insert_header((actix_web::http::header::LOCATION, target));
        }
        if let AppError::TokenRefused | AppError::TokenRequired = self {
            res.insert_header((actix_web::http::header::WWW_AUTHENTICATE, "Bearer"));
        }
        if let AppError::MethodNotAllowed { allow } = self {
            res.insert_header((actix_web::http::header::ALLOW, allow.clone()));
        }
        if let AppError::TooManyAttempts { retry_after_secs } = self {
            res.insert_header((
                actix_web::http::header::RETRY_AFTER,
                retry_after_secs.to_string(),
            ));
        }
        res.finish()
    }
}

pub type AppResult<T> = Result<T, AppError>;
