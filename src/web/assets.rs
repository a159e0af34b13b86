//! Static files (CSS, icons), embedded in the binary so that one file is the whole app.

use actix_web::http::header::{CACHE_CONTROL, CONTENT_TYPE, ETAG, IF_NONE_MATCH};
use actix_web::{HttpRequest, HttpResponse, web};
use rust_embed::RustEmbed;

use crate::error::AppError;

#[derive(RustEmbed)]
#[folder = "static/"]
struct StaticFiles;

pub async fn serve(req: HttpRequest, path: web::Path<String>) -> Result<HttpResponse, AppError> {
    let file = StaticFiles::get(&path).ok_or(AppError::NotFound)?;
    let etag = format!("\"{}\"", hex::encode(&file.metadata.sha256_hash()[..12]));
    if req
        .headers()
        .get(IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        == Some(etag.as_str())
    {
        return Ok(HttpResponse::NotModified()
            .insert_header((ETAG, etag))
            .finish());
    }
    let mime = mime_guess::from_path(path.as_str()).first_or_octet_stream();
    Ok(HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, mime.essence_str().to_string()))
        .insert_header((CACHE_CONTROL, "public, max-age=3600"))
        .insert_header((ETAG, etag))
        .body(file.data.into_owned()))
}
