//! The storefront: the front page, villages, products and the product search. Guests'
//! pages are served from the one-second page cache.

use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::{Value, json};

use super::AppState;
use super::render::{CSRF_PLACEHOLDER, Ctx};
use crate::domain::catalog::{
    self, County, PriceTier, Product, ProductFilter, StockState, Village,
};
use crate::domain::money::format_fen;
use crate::domain::{china_month, now_utc};
use crate::error::{AppError, AppResult};
use crate::i18n::Lang;
use crate::states::ProductStatus;

pub async fn home(state: web::Data<AppState>, ctx: Ctx) -> AppResult<HttpResponse> {
    state
        .pages
        .html(&ctx, async {
            let month = china_month(now_utc());
            let home = state.db(move |conn| catalog::home(conn, month)).await?;
            let lang = ctx.lang;
            let counties: Vec<Value> = home
                .counties
                .iter()
                .map(|c| {
                    json!({
                        "name": lang.pick(&c.county.name_zh, &c.county.name_en),
                        "slug": c.county.slug,
                        "villages": c.villages.iter().map(|v| village_link(lang, v)).collect::<Vec<_>>(),
                    })
                })
                .collect();
            let featured: Vec<Value> = home.featured.iter().map(|(p, v)| product_card(lang, p, v)).collect();
            ctx.render(&state.templates, "pages/home", json!({ "counties": counties, "featured": featured }))
        })
        .await
}

pub async fn village(
    state: web::Data<AppState>,
    ctx: Ctx,
    slug: web::Path<String>,
) -> AppResult<HttpResponse> {
    state
        .pages
        .html(&ctx, async {
            let slug = slug.into_inner();
            let page = state.db(move |conn| catalog::village_page(conn, &slug)).await?.ok_or(AppError::NotFound)?;
            let lang = ctx.lang;
            let v = &page.village;
            let data = json!({
                "village": {
                    "name": lang.pick(&v.name_zh, &v.name_en),
                    "other_name": lang.pick(&v.name_en, &v.name_zh),
                    "story": lang.pick(&v.story_zh, &v.story_en),
                    "township": v.township_zh.as_deref().map(|zh| lang.pick(zh, v.township_en.as_deref().unwrap_or(zh))),
                    "county": county_link(lang, &page.county),
                    "delivery": super::canteen::delivery_json(lang, v),
                },
                "products": page.products.iter().map(|p| product_card(lang, p, v)).collect::<Vec<_>>(),
            });
            ctx.render(&state.templates, "pages/village", data)
        })
        .await
}

pub async fn product(
    state: web::Data<AppState>,
    ctx: Ctx,
    id: web::Path<i64>,
) -> AppResult<HttpResponse> {
    state
        .pages
        .html_with_form(&ctx, async {
            let id = id.into_inner();
            let page = state
                .db(move |conn| catalog::product_page(conn, id))
                .await?
                .ok_or(AppError::NotFound)?;
            let lang = ctx.lang;
            let p = &page.product;
            let unit = lang.pick(&p.sale_unit_zh, &p.sale_unit_en);
            let mut card = product_card(lang, p, &page.village);
            if let Value::Object(map) = &mut card {
                map.insert(
                    "description".into(),
                    json!(lang.pick(&p.description_zh, &p.description_en)),
                );
                map.insert("county".into(), county_link(lang, &page.county));
                map.insert("paused".into(), json!(p.status == ProductStatus::Paused));
                map.insert("min_per_order".into(), json!(p.min_per_order));
                map.insert("max_per_order".into(), json!(p.max_per_order));
                map.insert(
                    "supply_mode".into(),
                    json!(lang.t(&format!("supply-{}", p.supply_mode))),
                );
                map.insert(
                    "tiers".into(),
                    json!(
                        page.tiers
                            .iter()
                            .map(|t| tier(lang, t, unit))
                            .collect::<Vec<_>>()
                    ),
                );
            }
            ctx.render(
                &state.templates,
                "pages/product",
                json!({ "product": card, "csrf_token": CSRF_PLACEHOLDER }),
            )
        })
        .await
}

#[derive(Deserialize)]
pub struct SearchParams {
    #[serde(default)]
    q: String,
    #[serde(default)]
    category: String,
    #[serde(default)]
    county: String,
    page: Option<String>,
}

pub async fn search(
    state: web::Data<AppState>,
    ctx: Ctx,
    params: web::Query<SearchParams>,
) -> AppResult<HttpResponse> {
    let params = params.into_inner();
    let page = match params.page.as_deref().map(str::trim) {
        None | Some("") => 1,
        Some(p) => p
            .parse::<i64>()
            .ok()
            .filter(|n| (1..=catalog::MAX_PAGE).contains(n))
            .ok_or_else(|| AppError::bad_field("page", format!("{p:?} is not a page number")))?,
    };
    if params.q.chars().count() > 100 {
        return Err(AppError::bad_field("q", "longer than 100 characters"));
    }
    state
        .pages
        .html(&ctx, async {
            let lang = ctx.lang;
            let SearchParams { q, category, county, .. } = params;
            let (q2, category2, county2) = (q.trim().to_string(), category.clone(), county.clone());
            let result = state
                .db(move |conn| {
                    let filter = ProductFilter { query: &q2, category: &category2, county_slug: &county2, village_id: None };
                    catalog::search(conn, &filter, page)
                })
                .await?;
            let page_link = |n: i64| {
                let pairs = [("q", q.as_str()), ("category", category.as_str()), ("county", county.as_str())];
                let mut s = url::form_urlencoded::Serializer::new(String::new());
                for (k, v) in pairs.iter().filter(|(_, v)| !v.is_empty()) {
                    s.append_pair(k, v);
                }
                s.append_pair("page", &n.to_string());
                format!("/products?{}", s.finish())
            };
            let data = json!({
                "q": q,
                "total": result.total,
                "results": result.results.iter().map(|(p, v)| product_card(lang, p, v)).collect::<Vec<_>>(),
                "categories": result.categories.iter().map(|c| json!({
                    "key": c, "name": lang.t(&format!("category-{c}")), "selected": *c == category,
                })).collect::<Vec<_>>(),
                "counties": result.counties.iter().map(|c| json!({
                    "slug": c.slug, "name": lang.pick(&c.name_zh, &c.name_en), "selected": c.slug == county,
                })).collect::<Vec<_>>(),
                "page": result.page,
                "pages": result.pages,
                "prev": (result.page > 1).then(|| page_link(result.page - 1)),
                "next": (result.page < result.pages).then(|| page_link(result.page + 1)),
            });
            ctx.render(&state.templates, "pages/products", data)
        })
        .await
}

fn village_link(lang: Lang, v: &Village) -> Value {
    json!({ "slug": v.slug, "name": lang.pick(&v.name_zh, &v.name_en) })
}

fn county_link(lang: Lang, c: &County) -> Value {
    json!({ "slug": c.slug, "name": lang.pick(&c.name_zh, &c.name_en) })
}

/// What a product shows in a list: name, village, price per sale unit, stock, season.
fn product_card(lang: Lang, p: &Product, v: &Village) -> Value {
    let state = StockState::of(p);
    json!({
        "id": p.id,
        "name": lang.pick(&p.name_zh, &p.name_en),
        "village": village_link(lang, v),
        "category": lang.t(&format!("category-{}", p.category)),
        "price": format_fen(p.unit_price_fen),
        "unit": lang.pick(&p.sale_unit_zh, &p.sale_unit_en),
        "stock_state": state.key(),
        "stock_label": lang.t(&format!("stock-{}", state.key())),
        "season": season_label(lang, p),
        "image": p.image,
    })
}

fn season_label(lang: Lang, p: &Product) -> String {
    let months = catalog::season_months(p);
    if months.is_empty() {
        return lang.t("season-all-year");
    }
    let names: Vec<String> = months
        .iter()
        .map(|m| lang.t(&format!("month-{m}")))
        .collect();
    lang.t_args(
        "season-months",
        &[("months", names.join(&lang.t("list-separator")))],
    )
}

fn tier(lang: Lang, t: &PriceTier, unit: &str) -> Value {
    json!({
        "label": lang.t_args("tier-from", &[("min", t.min_quantity.to_string()), ("unit", unit.to_string())]),
        "price": format_fen(t.unit_price_fen),
        "canteen_only": t.canteen_only,
    })
}
