//! Queries over places and the catalogue: counties, villages, products, price tiers and
//! the products' own fields. Stock lots live in `db::stock`.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::DbConn;
use super::schema::{counties, price_tiers, product_images, products, villages};
use crate::states::{ProductStatus, SupplyMode};

#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = counties)]
pub struct County {
    pub id: i64,
    pub slug: String,
    pub name_zh: String,
    pub name_en: String,
    pub sort_order: i32,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = counties)]
pub struct NewCounty<'a> {
    pub slug: &'a str,
    pub name_zh: &'a str,
    pub name_en: &'a str,
    pub sort_order: i32,
}

#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = villages)]
pub struct Village {
    pub id: i64,
    pub county_id: i64,
    pub slug: String,
    pub name_zh: String,
    pub name_en: String,
    pub township_zh: Option<String>,
    pub township_en: Option<String>,
    pub story_zh: String,
    pub story_en: String,
    pub collective_share_bp: Option<i32>,
    pub created_at: NaiveDateTime,
    /// Days from an order's cutoff to its delivery (0–30).
    pub lead_time_days: i32,
    /// The weekdays it delivers on, Monday first: `1111100` is Monday to Friday.
    pub delivery_weekdays: String,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = villages)]
pub struct NewVillage<'a> {
    pub county_id: i64,
    pub slug: &'a str,
    pub name_zh: &'a str,
    pub name_en: &'a str,
    pub township_zh: Option<&'a str>,
    pub township_en: Option<&'a str>,
    pub story_zh: &'a str,
    pub story_en: &'a str,
    pub collective_share_bp: Option<i32>,
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = products)]
pub struct Product {
    pub id: i64,
    pub village_id: i64,
    pub slug: String,
    pub name_zh: String,
    pub name_en: String,
    pub description_zh: String,
    pub description_en: String,
    pub category: String,
    pub sale_unit_zh: String,
    pub sale_unit_en: String,
    pub unit_price_fen: i64,
    pub stock: i32,
    pub min_per_order: i32,
    pub max_per_order: Option<i32>,
    pub season_months: String,
    pub status: ProductStatus,
    pub supply_mode: SupplyMode,
    pub featured: bool,
    pub low_stock_threshold: i32,
    pub image: Option<String>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    /// The least a canteen may order (起订量).
    pub canteen_min_quantity: i32,
    /// A canteen orders the minimum and then multiples of this above it (10 斤 steps).
    pub canteen_step: i32,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = products)]
pub struct NewProduct<'a> {
    pub village_id: i64,
    pub slug: &'a str,
    pub name_zh: &'a str,
    pub name_en: &'a str,
    pub description_zh: &'a str,
    pub description_en: &'a str,
    pub category: &'a str,
    pub sale_unit_zh: &'a str,
    pub sale_unit_en: &'a str,
    pub unit_price_fen: i64,
    pub stock: i32,
    pub min_per_order: i32,
    pub max_per_order: Option<i32>,
    pub season_months: &'a str,
    pub status: ProductStatus,
    pub supply_mode: SupplyMode,
    pub featured: bool,
    pub low_stock_threshold: i32,
    pub canteen_min_quantity: i32,
    pub canteen_step: i32,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = price_tiers)]
pub struct PriceTier {
    pub id: i64,
    pub product_id: i64,
    pub min_quantity: i32,
    pub unit_price_fen: i64,
    pub canteen_only: bool,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = price_tiers)]
pub struct NewPriceTier {
    pub product_id: i64,
    pub min_quantity: i32,
    pub unit_price_fen: i64,
    pub canteen_only: bool,
}

/// What the storefront search filters on. Empty strings mean "any".
#[derive(Debug, Default, Clone)]
pub struct ProductFilter<'a> {
    pub query: &'a str,
    pub category: &'a str,
    pub county_slug: &'a str,
    pub village_id: Option<i64>,
}

diesel::define_sql_function!(fn lower(x: diesel::sql_types::Text) -> diesel::sql_types::Text);

pub fn counties(conn: &mut DbConn) -> QueryResult<Vec<County>> {
    counties::table
        .order((counties::sort_order, counties::id))
        .select(County::as_select())
        .load(conn)
}

pub fn villages(conn: &mut DbConn) -> QueryResult<Vec<Village>> {
    villages::table
        .order(villages::id)
        .select(Village::as_select())
        .load(conn)
}

pub fn county_by_slug(conn: &mut DbConn, slug: &str) -> QueryResult<Option<County>> {
    counties::table
        .filter(counties::slug.eq(slug))
        .select(County::as_select())
        .first(conn)
        .optional()
}

pub fn insert_county(conn: &mut DbConn, new: &NewCounty) -> QueryResult<i64> {
    diesel::insert_into(counties::table)
        .values(new)
        .returning(counties::id)
        .get_result(conn)
}

pub fn village_by_slug(conn: &mut DbConn, slug: &str) -> QueryResult<Option<(Village, County)>> {
    villages::table
        .inner_join(counties::table)
        .filter(villages::slug.eq(slug))
        .select((Village::as_select(), County::as_select()))
        .first(conn)
        .optional()
}

pub fn villages_by_ids(conn: &mut DbConn, ids: &[i64]) -> QueryResult<Vec<Village>> {
    villages::table
        .filter(villages::id.eq_any(ids))
        .order(villages::id)
        .select(Village::as_select())
        .load(conn)
}

pub fn insert_village(conn: &mut DbConn, new: &NewVillage) -> QueryResult<i64> {
    diesel::insert_into(villages::table)
        .values(new)
        .returning(villages::id)
        .get_result(conn)
}

/// A product that the public may see (on sale or paused) with its village and county.
pub fn visible_product(
    conn: &mut DbConn,
    id: i64,
) -> QueryResult<Option<(Product, Village, County)>> {
    products::table
        .inner_join(villages::table.inner_join(counties::table))
        .filter(products::id.eq(id))
        .filter(products::status.eq_any([ProductStatus::OnSale, ProductStatus::Paused]))
        .select((
            Product::as_select(),
            Village::as_select(),
            County::as_select(),
        ))
        .first(conn)
        .optional()
}

/// The products among `ids` that the public may see, with their villages, in no order.
pub fn visible_products(conn: &mut DbConn, ids: &[i64]) -> QueryResult<Vec<(Product, Village)>> {
    products::table
        .inner_join(villages::table)
        .filter(products::id.eq_any(ids))
        .filter(products::status.eq_any([ProductStatus::OnSale, ProductStatus::Paused]))
        .select((Product::as_select(), Village::as_select()))
        .load(conn)
}

/// Every product on sale with its village and county, by county, village and product, for
/// the canteens' procurement catalogue.
pub fn on_sale_with_places(conn: &mut DbConn) -> QueryResult<Vec<(Product, Village, County)>> {
    products::table
        .inner_join(villages::table.inner_join(counties::table))
        .filter(products::status.eq(ProductStatus::OnSale))
        .order((counties::sort_order, villages::id, products::id))
        .select((
            Product::as_select(),
            Village::as_select(),
            County::as_select(),
        ))
        .load(conn)
}

pub fn product_by_slug(
    conn: &mut DbConn,
    village_id: i64,
    slug: &str,
) -> QueryResult<Option<Product>> {
    products::table
        .filter(products::village_id.eq(village_id))
        .filter(products::slug.eq(slug))
        .select(Product::as_select())
        .first(conn)
        .optional()
}

pub fn insert_product(conn: &mut DbConn, new: &NewProduct) -> QueryResult<i64> {
    diesel::insert_into(products::table)
        .values(new)
        .returning(products::id)
        .get_result(conn)
}

/// Featured products on sale, with their villages, newest first.
pub fn featured_products(conn: &mut DbConn, limit: i64) -> QueryResult<Vec<(Product, Village)>> {
    products::table
        .inner_join(villages::table)
        .filter(products::status.eq(ProductStatus::OnSale))
        .filter(products::featured.eq(true))
        .order(products::id)
        .limit(limit)
        .select((Product::as_select(), Village::as_select()))
        .load(conn)
}

/// The products on sale that match `$filter`, with their village and county joined: a
/// boxed query, filtered as the storefront's search and the API's listing both read it.
macro_rules! on_sale_matching {
    ($filter:expr) => {{
        let filter: &ProductFilter = $filter;
        let mut q = products::table
            .inner_join(villages::table.inner_join(counties::table))
            .filter(products::status.eq(ProductStatus::OnSale))
            .into_boxed();
        if !filter.query.is_empty() {
            let pattern = format!("%{}%", escape_like(&filter.query.to_lowercase()));
            q = q.filter(
                lower(products::name_zh)
                    .like(pattern.clone())
                    .escape('\\')
                    .or(lower(products::name_en).like(pattern.clone()).escape('\\'))
                    .or(lower(villages::name_zh).like(pattern.clone()).escape('\\'))
                    .or(lower(villages::name_en).like(pattern).escape('\\')),
            );
        }
        if !filter.category.is_empty() {
            q = q.filter(products::category.eq(filter.category.to_string()));
        }
        if !filter.county_slug.is_empty() {
            q = q.filter(counties::slug.eq(filter.county_slug.to_string()));
        }
        if let Some(village_id) = filter.village_id {
            q = q.filter(products::village_id.eq(village_id));
        }
        q
    }};
}

/// One page of on-sale products matching `filter`, and how many match in all.
pub fn search_products(
    conn: &mut DbConn,
    filter: &ProductFilter,
    offset: i64,
    limit: i64,
) -> QueryResult<(Vec<(Product, Village)>, i64)> {
    let total: i64 = on_sale_matching!(filter).count().get_result(conn)?;
    let rows = on_sale_matching!(filter)
        .order((products::featured.desc(), products::id))
        .offset(offset)
        .limit(limit)
        .select((Product::as_select(), Village::as_select()))
        .load(conn)?;
    Ok((rows, total))
}

/// Up to `limit` products on sale matching the filter whose id is above `after_id`, by id:
/// a page that stays put while products are added or sold out around it.
pub fn products_after(
    conn: &mut DbConn,
    filter: &ProductFilter,
    after_id: i64,
    limit: i64,
) -> QueryResult<Vec<(Product, Village)>> {
    on_sale_matching!(filter)
        .filter(products::id.gt(after_id))
        .order(products::id)
        .limit(limit)
        .select((Product::as_select(), Village::as_select()))
        .load(conn)
}

/// The product categories that have something on sale, in a stable order.
pub fn categories_on_sale(conn: &mut DbConn) -> QueryResult<Vec<String>> {
    products::table
        .filter(products::status.eq(ProductStatus::OnSale))
        .select(products::category)
        .distinct()
        .order(products::category)
        .load(conn)
}

pub fn price_tiers(conn: &mut DbConn, product_id: i64) -> QueryResult<Vec<PriceTier>> {
    price_tiers::table
        .filter(price_tiers::product_id.eq(product_id))
        .order((price_tiers::canteen_only, price_tiers::min_quantity))
        .select(PriceTier::as_select())
        .load(conn)
}

/// The tiers of every product among `ids`, by product, each product's in the order of
/// `price_tiers`.
pub fn price_tiers_of(
    conn: &mut DbConn,
    ids: &[i64],
) -> QueryResult<std::collections::HashMap<i64, Vec<PriceTier>>> {
    let tiers: Vec<PriceTier> = price_tiers::table
        .filter(price_tiers::product_id.eq_any(ids))
        .order((
            price_tiers::product_id,
            price_tiers::canteen_only,
            price_tiers::min_quantity,
        ))
        .select(PriceTier::as_select())
        .load(conn)?;
    let mut by_product: std::collections::HashMap<i64, Vec<PriceTier>> =
        std::collections::HashMap::new();
    for tier in tiers {
        by_product.entry(tier.product_id).or_default().push(tier);
    }
    Ok(by_product)
}

pub fn insert_price_tier(conn: &mut DbConn, new: &NewPriceTier) -> QueryResult<usize> {
    diesel::insert_into(price_tiers::table)
        .values(new)
        .execute(conn)
}

pub fn count_products_by_village(
    conn: &mut DbConn,
    village_ids: &[i64],
) -> QueryResult<Vec<(i64, i64)>> {
    products::table
        .filter(products::village_id.eq_any(village_ids))
        .group_by(products::village_id)
        .select((products::village_id, diesel::dsl::count_star()))
        .load(conn)
}

pub(crate) fn escape_like(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The fields a team edits on a product.
#[derive(Debug, Clone, AsChangeset)]
#[diesel(table_name = products, treat_none_as_null = true)]
pub struct ProductChanges<'a> {
    pub name_zh: &'a str,
    pub name_en: &'a str,
    pub description_zh: &'a str,
    pub description_en: &'a str,
    pub category: &'a str,
    pub sale_unit_zh: &'a str,
    pub sale_unit_en: &'a str,
    pub unit_price_fen: i64,
    pub min_per_order: i32,
    pub max_per_order: Option<i32>,
    pub season_months: &'a str,
    pub status: ProductStatus,
    pub supply_mode: SupplyMode,
    pub low_stock_threshold: i32,
    pub canteen_min_quantity: i32,
    pub canteen_step: i32,
    pub updated_at: NaiveDateTime,
}

pub fn update_product(conn: &mut DbConn, id: i64, changes: &ProductChanges) -> QueryResult<usize> {
    diesel::update(products::table.find(id))
        .set(changes)
        .execute(conn)
}

pub fn delete_price_tiers(conn: &mut DbConn, product_id: i64) -> QueryResult<usize> {
    diesel::delete(price_tiers::table.filter(price_tiers::product_id.eq(product_id))).execute(conn)
}

pub fn slugs_of_village(conn: &mut DbConn, village_id: i64) -> QueryResult<Vec<String>> {
    products::table
        .filter(products::village_id.eq(village_id))
        .select(products::slug)
        .load(conn)
}

pub fn village_by_id(conn: &mut DbConn, id: i64) -> QueryResult<Option<Village>> {
    villages::table
        .find(id)
        .select(Village::as_select())
        .first(conn)
        .optional()
}

#[derive(Debug, Clone, AsChangeset)]
#[diesel(table_name = villages, treat_none_as_null = true)]
pub struct VillageChanges<'a> {
    pub county_id: i64,
    pub name_zh: &'a str,
    pub name_en: &'a str,
    pub township_zh: Option<&'a str>,
    pub township_en: Option<&'a str>,
    pub story_zh: &'a str,
    pub story_en: &'a str,
    pub collective_share_bp: Option<i32>,
}

pub fn update_village(conn: &mut DbConn, id: i64, changes: &VillageChanges) -> QueryResult<usize> {
    diesel::update(villages::table.find(id))
        .set(changes)
        .execute(conn)
}

#[derive(Debug, Insertable)]
#[diesel(table_name = product_images)]
pub struct NewProductImage<'a> {
    pub product_id: i64,
    pub content_hash: &'a str,
    pub display_jpeg_b64: &'a str,
    pub thumb_jpeg_b64: &'a str,
    pub width: i32,
    pub height: i32,
    pub uploaded_by: Option<i64>,
    pub created_at: NaiveDateTime,
}

pub fn insert_image(conn: &mut DbConn, new: &NewProductImage) -> QueryResult<usize> {
    diesel::insert_into(product_images::table)
        .values(new)
        .execute(conn)
}

pub fn image_exists(conn: &mut DbConn, hash: &str) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        product_images::table.filter(product_images::content_hash.eq(hash)),
    ))
    .get_result(conn)
}

/// One size of an image, base64 JPEG: `thumb` or `display`.
pub fn image_b64(conn: &mut DbConn, hash: &str, thumb: bool) -> QueryResult<Option<String>> {
    let query = product_images::table.filter(product_images::content_hash.eq(hash));
    if thumb {
        query
            .select(product_images::thumb_jpeg_b64)
            .first(conn)
            .optional()
    } else {
        query
            .select(product_images::display_jpeg_b64)
            .first(conn)
            .optional()
    }
}

pub fn set_product_image(
    conn: &mut DbConn,
    product_id: i64,
    hash: &str,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(products::table.find(product_id))
        .set((products::image.eq(hash), products::updated_at.eq(now)))
        .execute(conn)
}

/// `(id, name_zh, name_en)` of the given products.
pub fn product_names(conn: &mut DbConn, ids: &[i64]) -> QueryResult<Vec<(i64, String, String)>> {
    products::table
        .filter(products::id.eq_any(ids.to_vec()))
        .select((products::id, products::name_zh, products::name_en))
        .load(conn)
}

/// Sets a village's lead time and delivery weekdays.
pub fn set_delivery(
    conn: &mut DbConn,
    village_id: i64,
    lead_time_days: i32,
    delivery_weekdays: &str,
) -> QueryResult<usize> {
    diesel::update(villages::table.find(village_id))
        .set((
            villages::lead_time_days.eq(lead_time_days),
            villages::delivery_weekdays.eq(delivery_weekdays),
        ))
        .execute(conn)
}
