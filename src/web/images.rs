//! `GET /images/{hash}/display.jpg|thumb.jpg`: product photos. The address is the
//! photo's content hash, so a browser may keep it for good.

use actix_web::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use actix_web::{HttpResponse, web};

use super::AppState;
use crate::domain::images;
use crate::error::{AppError, AppResult};

pub async fn serve(
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> AppResult<HttpResponse> {
    let (hash, size) = path.into_inner();
    let thumb = match size.as_str() {
        "thumb.jpg" => true,
        "display.jpg" => false,
        _ => return Err(AppError::NotFound),
    };
    if hash.len() != 32 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(AppError::NotFound);
    }
    let bytes = state
        .db(move |conn| images::jpeg_bytes(conn, &hash, thumb))
        .await?;
    Ok(HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, "image/jpeg"))
        .insert_header((CACHE_CONTROL, "public, max-age=31536000, immutable"))
        .body(bytes))
}
