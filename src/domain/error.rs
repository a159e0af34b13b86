//! `DomainError`: what a rule of the domain refuses, or the database fails with. Areas
//! whose refusals carry more (an order's unavailable lines, an import's bad rows, a
//! throttled sign-in) have their own error; each converts into `AppError` once.

use crate::domain::validation::FieldErrors;

#[derive(Debug, thiserror::Error)]
pub enum DomainError {
    /// What a person sent breaks a rule; each problem names its field. Nothing was
    /// written.
    #[error("invalid: {0}")]
    Invalid(FieldErrors),
    /// Not there, or not within the caller's scope: the same answer for both, so that
    /// a scope leaks nothing of what lies outside it.
    #[error("not found")]
    NotFound,
    #[error(transparent)]
    Database(#[from] diesel::result::Error),
}

impl DomainError {
    pub fn invalid(field: &str, key: &'static str) -> DomainError {
        DomainError::Invalid(FieldErrors::single(field, key))
    }
}

impl From<FieldErrors> for DomainError {
    fn from(errors: FieldErrors) -> Self {
        DomainError::Invalid(errors)
    }
}

pub type DomainResult<T> = Result<T, DomainError>;
