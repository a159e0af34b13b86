//! Text a request carries, checked once at the edge before any handler sees it, the same
//! on both databases: no control characters (PostgreSQL refuses a NUL with an error, and
//! none belongs in a search, a filter, a slug or an address), and each query value and
//! path segment within a length (a 60 kB search is a LIKE pattern SQLite calls too
//! complex). The `check_request` middleware checks every query and path; `CsrfForm` and
//! `web::upload` check every form field with `form_field`. A refusal is a 400 naming
//! the field.

use actix_web::Error;
use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;

use crate::error::AppError;

/// The longest value of any query parameter: searches, filters, dates, page numbers.
pub const MAX_QUERY_CHARS: usize = 100;
/// The longest redirect target (`next`): a path of this site with its query.
pub const MAX_REDIRECT_CHARS: usize = 2048;
/// The longest path segment: slugs, order keys, image hashes.
pub const MAX_SEGMENT_CHARS: usize = 200;
/// More query parameters than any page reads.
pub const MAX_QUERY_PAIRS: usize = 32;

/// Redirect targets: `auth::safe_next` reads them as URLs and drops one holding control
/// characters (a browser would rewrite `/\t/x` into another host), so a sign-in page
/// with such a `next` still opens. Their length is still capped.
const REDIRECT_FIELDS: &[&str] = &["next"];

/// The middleware: a request whose query or path holds a control character or an
/// over-long value is answered 400 naming the field, before routing reaches a handler.
pub async fn check_request(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let checked =
        check_query(req.query_string()).and_then(|()| check_path(&req.match_pattern(), req.path()));
    match checked {
        Ok(()) => Ok(next.call(req).await?.map_into_boxed_body()),
        // An error response (not `Err`), so that `errors::render_errors` renders it.
        Err(e) => Ok(req.error_response(e)),
    }
}

fn has_control(text: &str, allowed: &[char]) -> bool {
    text.chars()
        .any(|c| c.is_control() && !allowed.contains(&c))
}

fn control_character(field: &str) -> AppError {
    AppError::bad_field(field, "contains a control character")
}

fn too_long(field: &str, max: usize) -> AppError {
    AppError::bad_field(field, format!("longer than {max} characters"))
}

/// Every parameter of a query string, decoded.
pub fn check_query(query: &str) -> Result<(), AppError> {
    for (n, (name, value)) in url::form_urlencoded::parse(query.as_bytes()).enumerate() {
        if n >= MAX_QUERY_PAIRS {
            return Err(AppError::BadRequest(format!(
                "more than {MAX_QUERY_PAIRS} query parameters"
            )));
        }
        if has_control(&name, &[]) || name.chars().count() > MAX_QUERY_CHARS {
            return Err(AppError::bad_field(
                "query",
                "a parameter's name is not valid",
            ));
        }
        let redirect = REDIRECT_FIELDS.contains(&&*name);
        let max = if redirect {
            MAX_REDIRECT_CHARS
        } else {
            MAX_QUERY_CHARS
        };
        if value.chars().count() > max {
            return Err(too_long(&name, max));
        }
        if !redirect && has_control(&value, &[]) {
            return Err(control_character(&name));
        }
    }
    Ok(())
}

/// Every segment of a path, decoded, named by the route parameter it fills (`slug` of
/// `/villages/{slug}`), or `path`.
pub fn check_path(pattern: &Option<String>, path: &str) -> Result<(), AppError> {
    let names: Vec<&str> = pattern
        .as_deref()
        .map(|p| p.split('/').collect())
        .unwrap_or_default();
    for (i, segment) in path.split('/').enumerate() {
        let decoded = percent_decoded(segment);
        let bad_control = has_control(&decoded, &[]);
        let bad_length = decoded.chars().count() > MAX_SEGMENT_CHARS;
        if !bad_control && !bad_length {
            continue;
        }
        // A tail parameter (`{path:.*}`) names every segment after it; a segment may
        // hold a parameter after text (`export.{format}`).
        let name = names
            .get(i)
            .or(names.last())
            .and_then(|p| p.split_once('{'))
            .and_then(|(_, p)| p.split([':', '}']).next())
            .unwrap_or("path");
        return Err(if bad_control {
            control_character(name)
        } else {
            too_long(name, MAX_SEGMENT_CHARS)
        });
    }
    Ok(())
}

/// `%XX` decoded as bytes, read as UTF-8 (invalid bytes become U+FFFD, which is not a
/// control character: the route's own parsing refuses them).
fn percent_decoded(segment: &str) -> String {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| char::from(b).to_digit(16);
        match (
            bytes[i],
            bytes.get(i + 1).copied(),
            bytes.get(i + 2).copied(),
        ) {
            (b'%', Some(h), Some(l)) if hex(h).is_some() && hex(l).is_some() => {
                let value = hex(h).unwrap_or(0) * 16 + hex(l).unwrap_or(0);
                out.push(u8::try_from(value).unwrap_or(b'?'));
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A form field (URL-encoded or multipart text): control characters refused except tab
/// and line breaks, which a textarea sends and the domain trims from one-line fields.
/// Lengths are the domain's to check, field by field, within the body's own limit.
pub fn form_field(name: &str, value: &str) -> Result<(), AppError> {
    if REDIRECT_FIELDS.contains(&name) {
        return Ok(());
    }
    if has_control(name, &[]) {
        return Err(AppError::bad_field("form", "a field's name is not valid"));
    }
    if has_control(value, &['\t', '\n', '\r']) {
        return Err(control_character(name));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{check_path, check_query, form_field, percent_decoded};

    #[test]
    fn control_characters_and_long_values_are_named() {
        assert!(check_query("q=%E5%A1%94&page=2").is_ok());
        let field = |r: Result<(), crate::error::AppError>| match r {
            Err(crate::error::AppError::BadField { field, .. }) => field,
            other => panic!("{other:?}"),
        };
        assert_eq!(field(check_query("page=1&q=a%00b")), "q");
        assert_eq!(field(check_query(&format!("q={}", "x".repeat(101)))), "q");
        assert!(check_query("next=/%09/evil").is_ok(), "safe_next drops it");
        let pattern = Some("/villages/{slug}".to_string());
        assert_eq!(field(check_path(&pattern, "/villages/a%00")), "slug");
        let tail = Some("/static/{path:.*}".to_string());
        assert_eq!(field(check_path(&tail, "/static/css/%01.css")), "path");
        assert!(check_path(&pattern, "/villages/%E5%A1%94").is_ok());
        let export = Some("/team/households/export.{format}".to_string());
        assert_eq!(
            field(check_path(&export, "/team/households/export.c%00sv")),
            "format"
        );
        assert_eq!(field(form_field("email", "a\0@b")), "email");
        assert!(form_field("address", "一行\r\n二行\t").is_ok());
        assert_eq!(percent_decoded("a%2"), "a%2");
    }
}
