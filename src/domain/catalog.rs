//! What the storefront shows: villages by county, products with their price per sale
//! unit, bulk tiers, stock state and season, and the product search.

use diesel::QueryResult;

use crate::db::DbConn;
use crate::db::catalog as q;

pub use crate::db::catalog::{County, PriceTier, Product, ProductFilter, Village};

/// How a product's stock reads to a buyer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StockState {
    InStock,
    Low,
    SoldOut,
}

impl StockState {
    pub fn of(product: &Product) -> StockState {
        if product.stock <= 0 {
            StockState::SoldOut
        } else if product.stock <= product.low_stock_threshold {
            StockState::Low
        } else {
            StockState::InStock
        }
    }

    pub fn key(self) -> &'static str {
        match self {
            StockState::InStock => "in_stock",
            StockState::Low => "low",
            StockState::SoldOut => "sold_out",
        }
    }
}

/// The months (1–12) a product is in season; empty means all year.
pub fn season_months(product: &Product) -> Vec<u32> {
    product
        .season_months
        .split(',')
        .filter_map(|m| m.trim().parse::<u32>().ok())
        .filter(|m| (1..=12).contains(m))
        .collect()
}

pub fn in_season(product: &Product, month: u32) -> bool {
    let months = season_months(product);
    months.is_empty() || months.contains(&month)
}

pub struct CountyVillages {
    pub county: County,
    pub villages: Vec<Village>,
}

pub struct Home {
    pub counties: Vec<CountyVillages>,
    pub featured: Vec<(Product, Village)>,
}

const FEATURED_ON_HOME: usize = 8;

/// The front page: every county with its villages, and featured products in season.
pub fn home(conn: &mut DbConn, month: u32) -> QueryResult<Home> {
    let counties = counties_with_villages(conn)?;
    let featured = q::featured_products(conn, 64)?
        .into_iter()
        .filter(|(p, _)| in_season(p, month))
        .take(FEATURED_ON_HOME)
        .collect();
    Ok(Home { counties, featured })
}

/// Every county that has villages, with them, in the counties' order.
pub fn counties_with_villages(conn: &mut DbConn) -> QueryResult<Vec<CountyVillages>> {
    let counties = q::counties(conn)?;
    let mut villages = q::villages(conn)?;
    let counties = counties
        .into_iter()
        .map(|county| {
            let (mine, rest): (Vec<_>, Vec<_>) =
                villages.drain(..).partition(|v| v.county_id == county.id);
            villages = rest;
            CountyVillages {
                county,
                villages: mine,
            }
        })
        .filter(|c| !c.villages.is_empty())
        .collect();
    Ok(counties)
}

pub struct VillagePage {
    pub village: Village,
    pub county: County,
    pub products: Vec<Product>,
}

pub fn village_page(conn: &mut DbConn, slug: &str) -> QueryResult<Option<VillagePage>> {
    let Some((village, county)) = q::village_by_slug(conn, slug)? else {
        return Ok(None);
    };
    let filter = ProductFilter {
        village_id: Some(village.id),
        ..Default::default()
    };
    let (products, _) = q::search_products(conn, &filter, 0, 200)?;
    let products = products.into_iter().map(|(p, _)| p).collect();
    Ok(Some(VillagePage {
        village,
        county,
        products,
    }))
}

pub struct ProductPage {
    pub product: Product,
    pub village: Village,
    pub county: County,
    pub tiers: Vec<PriceTier>,
}

pub fn product_page(conn: &mut DbConn, id: i64) -> QueryResult<Option<ProductPage>> {
    let Some((product, village, county)) = q::visible_product(conn, id)? else {
        return Ok(None);
    };
    let tiers = q::price_tiers(conn, product.id)?;
    Ok(Some(ProductPage {
        product,
        village,
        county,
        tiers,
    }))
}

/// The most products one page of the API's listing holds.
pub const MAX_LISTING_SIZE: i64 = 100;

/// A page of the catalogue read by id after a cursor (the API's listing): it neither skips
/// nor repeats a product when others are added or sold out between pages.
pub struct Listing {
    pub products: Vec<(Product, Village)>,
    /// The last product's id when more follow.
    pub more_after: Option<i64>,
}

/// Up to `size` (1–`MAX_LISTING_SIZE`) products on sale matching `filter` with an id
/// above `after`.
pub fn listing(
    conn: &mut DbConn,
    filter: &ProductFilter,
    after: i64,
    size: i64,
) -> QueryResult<Listing> {
    let size = size.clamp(1, MAX_LISTING_SIZE);
    let mut products = q::products_after(conn, filter, after, size + 1)?;
    let more = products.len() > usize::try_from(size).unwrap_or(usize::MAX);
    products.truncate(usize::try_from(size).unwrap_or(usize::MAX));
    let more_after = more.then(|| products.last().map(|(p, _)| p.id)).flatten();
    Ok(Listing {
        products,
        more_after,
    })
}

pub const PAGE_SIZE: i64 = 12;
/// Far past any real catalogue; keeps the offset arithmetic in range.
pub const MAX_PAGE: i64 = 100_000;

pub struct SearchPage {
    pub results: Vec<(Product, Village)>,
    pub total: i64,
    pub page: i64,
    pub pages: i64,
    pub categories: Vec<String>,
    pub counties: Vec<County>,
}

/// Products on sale matching the filter, `PAGE_SIZE` a page (pages count from 1).
pub fn search(conn: &mut DbConn, filter: &ProductFilter, page: i64) -> QueryResult<SearchPage> {
    let page = page.clamp(1, MAX_PAGE);
    let (results, total) = q::search_products(conn, filter, (page - 1) * PAGE_SIZE, PAGE_SIZE)?;
    let pages = ((total + PAGE_SIZE - 1) / PAGE_SIZE).max(1);
    Ok(SearchPage {
        results,
        total,
        page,
        pages,
        categories: q::categories_on_sale(conn)?,
        counties: q::counties(conn)?,
    })
}
