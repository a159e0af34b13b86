//! Product photos: checked by content (JPEG, PNG or WebP, whatever the file is called),
//! at most 5 MB, decoded within limits, and re-encoded as a display size and a
//! thumbnail. Re-encoding also drops whatever else the file carried (EXIF, GPS).

use std::io::Cursor;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use chrono::NaiveDateTime;
use image::{DynamicImage, ImageFormat, ImageReader, Limits};
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::db::catalog::{self as q, NewProductImage};
use crate::db::stock::product_in_villages;
use crate::db::{DbConn, write_transaction};
use crate::domain::actor::{TeamScope, Who};
use crate::domain::audit::{self, Change};
use crate::domain::error::{DomainError, DomainResult};
use crate::domain::validation::FieldErrors;

pub const MAX_IMAGE_BYTES: usize = 5 * 1024 * 1024;
const DISPLAY_EDGE: u32 = 1200;
const THUMB_EDGE: u32 = 400;
/// Larger than any phone camera, small enough that decoding cannot exhaust memory.
const MAX_PIXELS_EDGE: u32 = 10_000;
/// What a decoder may allocate: a 48-megapixel photo (the largest phone cameras'
/// default) decodes into 144 MB; the image crate's own default would allow 512 MB.
const MAX_DECODE_BYTES: u64 = 192 * 1024 * 1024;

/// A photo ready to store: its content hash (its address) and both sizes as JPEG.
pub struct PreparedImage {
    pub hash: String,
    pub display_jpeg: Vec<u8>,
    pub thumb_jpeg: Vec<u8>,
    pub width: u32,
    pub height: u32,
}

fn jpeg(image: &DynamicImage) -> Result<Vec<u8>, image::ImageError> {
    let mut out = Cursor::new(Vec::new());
    let encoder = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 82);
    image.to_rgb8().write_with_encoder(encoder)?;
    Ok(out.into_inner())
}

/// Checks and resizes an uploaded photo; problems are reported against `field`.
pub fn prepare(field: &str, bytes: &[u8]) -> Result<PreparedImage, FieldErrors> {
    if bytes.len() > MAX_IMAGE_BYTES {
        return Err(FieldErrors::single(field, "invalid-image-too-large"));
    }
    let format = image::guess_format(bytes)
        .ok()
        .filter(|f| matches!(f, ImageFormat::Jpeg | ImageFormat::Png | ImageFormat::WebP));
    let Some(format) = format else {
        return Err(FieldErrors::single(field, "invalid-image-type"));
    };
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_PIXELS_EDGE);
    limits.max_image_height = Some(MAX_PIXELS_EDGE);
    limits.max_alloc = Some(MAX_DECODE_BYTES);
    reader.limits(limits);
    let image = reader
        .decode()
        .map_err(|_| FieldErrors::single(field, "invalid-image-unreadable"))?;
    let display = image.resize(
        DISPLAY_EDGE,
        DISPLAY_EDGE,
        image::imageops::FilterType::Triangle,
    );
    let thumb = display.resize(
        THUMB_EDGE,
        THUMB_EDGE,
        image::imageops::FilterType::Triangle,
    );
    let encode_failed = |_| FieldErrors::single(field, "invalid-image-unreadable");
    Ok(PreparedImage {
        hash: hex::encode(&Sha256::digest(bytes)[..16]),
        display_jpeg: jpeg(&display).map_err(encode_failed)?,
        thumb_jpeg: jpeg(&thumb).map_err(encode_failed)?,
        width: display.width(),
        height: display.height(),
    })
}

/// Makes the photo the picture of a product of the member's villages, keeping earlier
/// ones (they may be in use by pages already sent).
pub fn attach(
    conn: &mut DbConn,
    who: &Who,
    scope: &TeamScope,
    product_id: i64,
    image: &PreparedImage,
    now: NaiveDateTime,
) -> DomainResult<()> {
    let product =
        product_in_villages(conn, scope.village_ids(), product_id)?.ok_or(DomainError::NotFound)?;
    write_transaction(conn, |conn| {
        if !q::image_exists(conn, &image.hash)? {
            let (display, thumb) = (
                BASE64.encode(&image.display_jpeg),
                BASE64.encode(&image.thumb_jpeg),
            );
            let new = NewProductImage {
                product_id: product.id,
                content_hash: &image.hash,
                display_jpeg_b64: &display,
                thumb_jpeg_b64: &thumb,
                width: image.width as i32,
                height: image.height as i32,
                uploaded_by: who.user_id,
                created_at: now,
            };
            q::insert_image(conn, &new)?;
        }
        q::set_product_image(conn, product.id, &image.hash, now)?;
        let change = Change {
            action: "update",
            entity: "product",
            entity_id: product.id,
            village_id: Some(product.village_id),
            before: Some(json!({ "image": product.image })),
            after: Some(json!({ "image": image.hash })),
        };
        audit::record(conn, who, change, now)?;
        Ok(())
    })
}

/// One size of a stored photo as JPEG bytes, or `NotFound`.
pub fn jpeg_bytes(conn: &mut DbConn, hash: &str, thumb: bool) -> DomainResult<Vec<u8>> {
    q::image_b64(conn, hash, thumb)?
        .and_then(|b64| BASE64.decode(b64).ok())
        .ok_or(DomainError::NotFound)
}
