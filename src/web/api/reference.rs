//! The API's own description: the OpenAPI document as JSON, and the same read as a page
//! served by this binary (many of the shop's users cannot reach a CDN's viewer).

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, get, web};
use serde_json::{Value, json};

use super::{ApiDocument, BadRequest, LangCode, TooManyRequests};
use crate::error::{AppError, AppResult};
use crate::web::AppState;
use crate::web::render::Ctx;

/// This document, OpenAPI 3.1.
///
/// It is generated from the handlers that serve each path.
#[utoipa::path(
    tag = "reference",
    responses(
        (status = 200, description = "The OpenAPI 3.1 document", content_type = "application/json", body = Object),
        BadRequest, TooManyRequests
    )
)]
#[get("/openapi.json")]
pub async fn openapi_document(doc: web::Data<ApiDocument>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(doc.json.as_str().to_owned())
}

/// This document as a page to read.
///
/// Each operation with its parameters, body and answers, then every schema.
#[utoipa::path(
    tag = "reference",
    params(("lang" = Option<LangCode>, Query, description = "The page's language")),
    responses(
        (status = 200, description = "The reference page", content_type = "text/html", body = String),
        BadRequest, TooManyRequests
    )
)]
#[get("/docs")]
pub async fn reference_page(
    state: web::Data<AppState>,
    doc: web::Data<ApiDocument>,
    ctx: Ctx,
    req: actix_web::HttpRequest,
) -> AppResult<HttpResponse> {
    super::lang(&req)?;
    let document = serde_json::to_value(doc.document.as_ref()).map_err(AppError::internal)?;
    ctx.page(
        &state.templates,
        StatusCode::OK,
        "pages/api_reference",
        reference_data(&document),
    )
}

const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

/// What the page shows of the document, read from its JSON form.
fn reference_data(document: &Value) -> Value {
    let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
    let mut operations = Vec::new();
    if let Some(paths) = document["paths"].as_object() {
        for (path, item) in paths {
            for method in METHODS {
                let op = &item[method];
                if op.is_null() {
                    continue;
                }
                let parameters: Vec<Value> = op["parameters"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|p| {
                        json!({
                            "name": p["name"],
                            "in": p["in"],
                            "required": p["required"].as_bool().unwrap_or(false),
                            "description": p["description"],
                        })
                    })
                    .collect();
                let responses: Vec<Value> = op["responses"]
                    .as_object()
                    .into_iter()
                    .flatten()
                    .map(|(status, r)| {
                        json!({
                            "status": status,
                            "description": r["description"],
                            "schema": schema_name(&r["content"]),
                        })
                    })
                    .collect();
                operations.push(json!({
                    "method": method.to_uppercase(),
                    "path": path,
                    "anchor": format!("{method}{}", path.replace(['/', '{', '}'], "-")),
                    "tag": op["tags"][0],
                    "summary": text(&op["summary"]),
                    "description": text(&op["description"]),
                    "token": op["security"].as_array().is_some_and(|s| !s.is_empty()),
                    "parameters": parameters,
                    "body": schema_name(&op["requestBody"]["content"]),
                    "responses": responses,
                }));
            }
        }
    }
    let schemas: Vec<Value> = document["components"]["schemas"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(name, schema)| {
            json!({
                "name": name,
                "json": serde_json::to_string_pretty(schema).unwrap_or_default(),
            })
        })
        .collect();
    json!({
        "title": document["info"]["title"],
        "version": document["info"]["version"],
        "description": document["info"]["description"],
        "operations": operations,
        "schemas": schemas,
    })
}

/// The named schema a content map refers to (`#/components/schemas/OrderJson` →
/// `OrderJson`); none when the schema is written out in place.
fn schema_name(content: &Value) -> Option<String> {
    let (_, body) = content.as_object()?.iter().next()?;
    let reference = body["schema"]["$ref"].as_str()?;
    Some(
        reference
            .rsplit('/')
            .next()
            .unwrap_or(reference)
            .to_string(),
    )
}
