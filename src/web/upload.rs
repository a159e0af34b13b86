//! `multipart/form-data` forms (file uploads) with the same CSRF check as `CsrfForm`:
//! text fields and files read into memory, each within its limit, the whole form within
//! its own: a body declared larger is refused before a byte of it is read, and one sent
//! without a length is counted as it arrives, so no form holds more than
//! `MAX_FORM_BYTES` however many parts it sends.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;

use actix_multipart::Multipart;
use actix_session::{Session, SessionExt};
use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest};
use futures_util::StreamExt;

use super::csrf;
use crate::error::AppError;

/// The largest file a form may carry (a 10,000-household register is about 1 MB).
pub const MAX_FILE_BYTES: usize = 10 * 1024 * 1024;
const MAX_TEXT_BYTES: usize = 64 * 1024;
/// The largest form: one largest file and its text fields.
pub const MAX_FORM_BYTES: usize = MAX_FILE_BYTES + 256 * 1024;
/// What the multipart framing (boundaries, part headers) may add to a form's length.
const FRAMING_BYTES: usize = 64 * 1024;
/// More parts than any of the shop's forms has (a token, a village, a file).
pub const MAX_PARTS: usize = 8;

pub struct UploadedFile {
    pub filename: String,
    pub bytes: Vec<u8>,
}

/// A multipart form whose `csrf_token` matched the session's.
pub struct UploadForm {
    pub fields: HashMap<String, String>,
    pub files: HashMap<String, UploadedFile>,
}

/// The extractor: it never refuses by itself, so that the area extractor beside it
/// decides first who may post here; the handler then calls `verified`.
pub struct Upload(Result<UploadForm, AppError>);

impl Upload {
    /// The form, or why it was refused (wrong CSRF token, not multipart, too large).
    pub fn verified(self) -> Result<UploadForm, AppError> {
        self.0
    }
}

impl UploadForm {
    pub fn text(&self, name: &str) -> &str {
        self.fields
            .get(name)
            .map(String::as_str)
            .unwrap_or_default()
    }

    /// The named file, taken out of the form (so that its bytes can move to where they
    /// are read without a copy); refused, naming the field, when missing or empty.
    pub fn take_file(&mut self, name: &str) -> Result<UploadedFile, AppError> {
        self.files
            .remove(name)
            .filter(|f| !f.bytes.is_empty())
            .ok_or_else(|| AppError::bad_field(name, "no file was chosen"))
    }
}

impl FromRequest for Upload {
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let session = req.get_session();
        let declared = req
            .headers()
            .get(actix_web::http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        if declared.is_some_and(|n| n > (MAX_FORM_BYTES + FRAMING_BYTES) as u64) {
            // Refused unread: the body is never taken from the connection.
            return Box::pin(async { Ok(Upload(Err(too_large()))) });
        }
        let multipart = Multipart::from_request(req, payload);
        Box::pin(async move { Ok(Upload(read(multipart, session).await)) })
    }
}

async fn read(
    multipart: impl Future<Output = Result<Multipart, actix_web::Error>>,
    session: Session,
) -> Result<UploadForm, AppError> {
    let mut multipart = multipart
        .await
        .map_err(|e| AppError::BadRequest(e.to_string()))?;
    let mut upload = UploadForm {
        fields: HashMap::new(),
        files: HashMap::new(),
    };
    let (mut parts, mut total) = (0, 0);
    while let Some(field) = multipart.next().await {
        parts += 1;
        if parts > MAX_PARTS {
            return Err(AppError::TooLarge(format!(
                "a form has at most {MAX_PARTS} parts"
            )));
        }
        let mut field = field.map_err(|e| AppError::BadRequest(e.to_string()))?;
        let name = field.name().unwrap_or_default().to_string();
        let filename = field
            .content_disposition()
            .and_then(|cd| cd.get_filename())
            .map(str::to_string);
        let limit = if filename.is_some() {
            MAX_FILE_BYTES
        } else {
            MAX_TEXT_BYTES
        };
        let mut bytes = Vec::new();
        while let Some(chunk) = field.next().await {
            let chunk = chunk.map_err(|e| AppError::BadRequest(e.to_string()))?;
            total += chunk.len();
            if total > MAX_FORM_BYTES {
                return Err(too_large());
            }
            if bytes.len() + chunk.len() > limit {
                return Err(AppError::bad_field(
                    name,
                    format!("larger than {} MB", limit / 1024 / 1024),
                ));
            }
            bytes.extend_from_slice(&chunk);
        }
        match filename {
            Some(filename) => {
                upload.files.insert(name, UploadedFile { filename, bytes });
            }
            None => {
                let text = String::from_utf8(bytes)
                    .map_err(|_| AppError::bad_field(name.clone(), "not UTF-8 text"))?;
                super::input::form_field(&name, &text)?;
                upload.fields.insert(name, text);
            }
        }
    }
    csrf::check(&session, upload.fields.get(csrf::FIELD).map(String::as_str))?;
    Ok(upload)
}

fn too_large() -> AppError {
    AppError::TooLarge(format!(
        "a form may send at most {} MB",
        MAX_FORM_BYTES.div_ceil(1024 * 1024)
    ))
}
