//! The catalogue as JSON, open to anyone: villages, products on sale (searched, filtered,
//! read a page at a time by cursor), and one product with its price tiers.

use actix_web::{HttpResponse, get, web};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{BadRequest, Money, NotFound, TooManyRequests};
use crate::domain::catalog::{
    self, County, CountyVillages, MAX_LISTING_SIZE, PriceTier, Product, ProductFilter, StockState,
    Village,
};
use crate::error::{AppError, AppResult};
use crate::web::AppState;

/// A county (区县).
#[derive(Serialize, ToSchema)]
pub struct CountyRef {
    pub slug: String,
    pub name_zh: String,
    pub name_en: String,
}

impl From<&Village> for VillageRef {
    fn from(v: &Village) -> Self {
        VillageRef {
            id: v.id,
            slug: v.slug.clone(),
            name_zh: v.name_zh.clone(),
            name_en: v.name_en.clone(),
        }
    }
}

impl From<&County> for CountyRef {
    fn from(c: &County) -> Self {
        CountyRef {
            slug: c.slug.clone(),
            name_zh: c.name_zh.clone(),
            name_en: c.name_en.clone(),
        }
    }
}

/// A village (村) that sells in the shop.
#[derive(Serialize, ToSchema)]
pub struct VillageJson {
    pub id: i64,
    pub slug: String,
    pub name_zh: String,
    pub name_en: String,
    /// 乡镇: the township.
    pub township_zh: Option<String>,
    pub township_en: Option<String>,
    pub county: CountyRef,
    /// Days from an order's cutoff to its delivery.
    pub lead_time_days: i32,
    /// The weekdays it delivers on, 1 (Monday) to 7 (Sunday).
    pub delivery_weekdays: Vec<u8>,
}

fn village_json(v: &Village, county: &County) -> VillageJson {
    VillageJson {
        id: v.id,
        slug: v.slug.clone(),
        name_zh: v.name_zh.clone(),
        name_en: v.name_en.clone(),
        township_zh: v.township_zh.clone(),
        township_en: v.township_en.clone(),
        county: county.into(),
        lead_time_days: v.lead_time_days,
        delivery_weekdays: (1u8..=7)
            .zip(v.delivery_weekdays.bytes())
            .filter_map(|(day, on)| (on == b'1').then_some(day))
            .collect(),
    }
}

#[derive(Serialize, ToSchema)]
pub struct VillageList {
    pub villages: Vec<VillageJson>,
}

/// The villages that sell, county by county.
#[utoipa::path(
    tag = "catalog",
    responses((status = 200, description = "Every village that sells", body = VillageList), BadRequest, TooManyRequests)
)]
#[get("/villages")]
pub async fn villages(state: web::Data<AppState>) -> AppResult<HttpResponse> {
    let counties = state.db(catalog::counties_with_villages).await?;
    let villages = counties
        .iter()
        .flat_map(|CountyVillages { county, villages }| {
            villages.iter().map(move |v| village_json(v, county))
        })
        .collect();
    Ok(HttpResponse::Ok().json(VillageList { villages }))
}

/// The village a product comes from.
#[derive(Serialize, ToSchema)]
pub struct VillageRef {
    pub id: i64,
    pub slug: String,
    pub name_zh: String,
    pub name_en: String,
}

/// A product on sale, as a listing shows it.
#[derive(Serialize, ToSchema)]
pub struct ProductSummary {
    pub id: i64,
    pub name_zh: String,
    pub name_en: String,
    pub category: String,
    /// 销售单位: what one unit is (袋, 斤, 瓶…).
    pub sale_unit_zh: String,
    pub sale_unit_en: String,
    /// The price of one unit, before any quantity tier.
    pub price: Money,
    /// `in_stock`, `low` or `sold_out`.
    pub stock_state: String,
    pub min_per_order: i32,
    pub max_per_order: Option<i32>,
    /// The months (1–12) it is in season; empty when all year.
    pub season_months: Vec<u32>,
    /// The product's photo, when it has one.
    pub image_url: Option<String>,
    pub village: VillageRef,
}

fn summary(p: &Product, v: &Village) -> ProductSummary {
    ProductSummary {
        id: p.id,
        name_zh: p.name_zh.clone(),
        name_en: p.name_en.clone(),
        category: p.category.clone(),
        sale_unit_zh: p.sale_unit_zh.clone(),
        sale_unit_en: p.sale_unit_en.clone(),
        price: Money::of(p.unit_price_fen),
        stock_state: StockState::of(p).key().to_string(),
        min_per_order: p.min_per_order,
        max_per_order: p.max_per_order,
        season_months: catalog::season_months(p),
        image_url: p
            .image
            .as_ref()
            .map(|hash| format!("/images/{hash}/display.jpg")),
        village: v.into(),
    }
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ProductQuery {
    /// Words in the product's or the village's name, Chinese or English.
    #[param(max_length = 100, pattern = r"^[^\u0000-\u001f\u007f-\u009f]*$")]
    q: Option<String>,
    /// A category (`grains`, `pickles`…), as the products give it.
    #[param(max_length = 100, pattern = r"^[^\u0000-\u001f\u007f-\u009f]*$")]
    category: Option<String>,
    /// A county's slug.
    #[param(max_length = 100, pattern = r"^[^\u0000-\u001f\u007f-\u009f]*$")]
    county: Option<String>,
    /// The `next_cursor` of the page before; none for the first page.
    #[param(pattern = "^[0-9]{1,18}$")]
    cursor: Option<String>,
    /// Products a page, 1–100 (20 unless given).
    #[param(value_type = Option<i64>, minimum = 1, maximum = 100)]
    limit: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct ProductList {
    pub products: Vec<ProductSummary>,
    /// Pass as `cursor` for the next page; null on the last page.
    pub next_cursor: Option<String>,
}

const DEFAULT_LISTING_SIZE: i64 = 20;

/// The products on sale, a page at a time.
///
/// Pages run by product id, so that walking them with `next_cursor` neither skips nor
/// repeats a product while others are added or sold out.
#[utoipa::path(
    tag = "catalog",
    params(ProductQuery),
    responses((status = 200, description = "A page of products", body = ProductList), BadRequest, TooManyRequests)
)]
#[get("/products")]
pub async fn products(
    state: web::Data<AppState>,
    query: web::Query<ProductQuery>,
) -> AppResult<HttpResponse> {
    let query = query.into_inner();
    let size = match query.limit.as_deref() {
        None => DEFAULT_LISTING_SIZE,
        Some(n) => n
            .parse::<i64>()
            .ok()
            .filter(|n| (1..=MAX_LISTING_SIZE).contains(n))
            .ok_or_else(|| AppError::bad_field("limit", "a whole number from 1 to 100"))?,
    };
    let after = match query.cursor.as_deref() {
        None => 0,
        Some(cursor) => read_cursor(cursor)
            .ok_or_else(|| AppError::bad_field("cursor", "not a cursor this API gave"))?,
    };
    let (q, category, county) = (
        query.q.unwrap_or_default(),
        query.category.unwrap_or_default(),
        query.county.unwrap_or_default(),
    );
    let listing = state
        .db(move |conn| {
            let filter = ProductFilter {
                query: q.trim(),
                category: category.trim(),
                county_slug: county.trim(),
                village_id: None,
            };
            catalog::listing(conn, &filter, after, size)
        })
        .await?;
    Ok(HttpResponse::Ok().json(ProductList {
        products: listing
            .products
            .iter()
            .map(|(p, v)| summary(p, v))
            .collect(),
        next_cursor: listing.more_after.map(write_cursor),
    }))
}

/// The cursor after the product `id`: a place in the walk, which callers pass back as is.
fn write_cursor(id: i64) -> String {
    id.to_string()
}

fn read_cursor(cursor: &str) -> Option<i64> {
    if cursor.is_empty() || cursor.len() > 18 || !cursor.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    cursor.parse().ok()
}

/// A quantity price: from `min_quantity` units, each unit costs `price`.
#[derive(Serialize, ToSchema)]
pub struct TierJson {
    pub min_quantity: i32,
    pub price: Money,
    /// Only canteens (食堂) buying on account get this price.
    pub canteen_only: bool,
}

impl From<&PriceTier> for TierJson {
    fn from(t: &PriceTier) -> Self {
        TierJson {
            min_quantity: t.min_quantity,
            price: Money::of(t.unit_price_fen),
            canteen_only: t.canteen_only,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct ProductDetail {
    #[serde(flatten)]
    pub summary: ProductSummary,
    pub description_zh: String,
    pub description_en: String,
    pub county: CountyRef,
    /// `on_sale`, or `paused` (shown, not sold for now).
    pub status: String,
    pub tiers: Vec<TierJson>,
}

/// One product, on sale or paused, with its quantity prices.
#[utoipa::path(
    tag = "catalog",
    params(("id" = i64, Path, description = "The product's id")),
    responses((status = 200, description = "The product", body = ProductDetail), BadRequest, NotFound, TooManyRequests)
)]
#[get("/products/{id}")]
pub async fn product(state: web::Data<AppState>, id: web::Path<i64>) -> AppResult<HttpResponse> {
    let id = id.into_inner();
    let page = state
        .db(move |conn| catalog::product_page(conn, id))
        .await?
        .ok_or(AppError::NotFound)?;
    let p = &page.product;
    Ok(HttpResponse::Ok().json(ProductDetail {
        summary: summary(p, &page.village),
        description_zh: p.description_zh.clone(),
        description_en: p.description_en.clone(),
        county: (&page.county).into(),
        status: p.status.as_str().to_string(),
        tiers: page.tiers.iter().map(TierJson::from).collect(),
    }))
}
