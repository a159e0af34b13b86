//! HTTP: routes, extractors, rendering. Handlers parse, authorise, call one domain
//! function and render; they never build SQL.

pub mod account;
pub mod admin;
pub mod api;
pub mod assets;
pub mod audit;
pub mod auth;
pub mod canteen;
pub mod canteen_standing;
pub mod canteen_statements;
pub mod cart;
pub mod charts;
pub mod client;
pub mod csrf;
pub mod download;
pub mod errors;
pub mod forms;
pub mod health;
pub mod households;
pub mod images;
pub mod input;
pub mod live;
pub mod live_hosts;
pub mod orders;
pub mod payments;
pub mod payouts;
pub mod products;
pub mod render;
pub mod reports;
pub mod stock;
pub mod storefront;
pub mod team;
pub mod upload;

use std::time::Duration;

use actix_session::SessionMiddleware;
use actix_session::config::CookieContentSecurity;
use actix_session::storage::CookieSessionStore;
use actix_web::body::MessageBody;
use actix_web::cookie::{Key, SameSite};
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::middleware::{self, from_fn};
use actix_web::{App, web};

use crate::app::Services;
use crate::error::AppError;

/// Everything a handler may need, shared by all workers: the server's services and
/// the guests' page cache. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub services: Services,
    pub pages: render::PageCache,
}

impl AppState {
    pub fn new(services: Services) -> Self {
        Self {
            services,
            pages: render::PageCache::new(Duration::from_secs(1)),
        }
    }
}

/// Handlers reach the services (`state.db(…)`, `state.config`, `state.templates`) as if
/// they were the state's own.
impl std::ops::Deref for AppState {
    type Target = Services;

    fn deref(&self) -> &Services {
        &self.services
    }
}

/// The whole application: used by `main` and by the tests alike.
pub fn build_app(
    state: AppState,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    let key = Key::from(&state.config.session_key);
    let state_secure = state.config.secure_cookies;
    let sessions = SessionMiddleware::builder(CookieSessionStore::default(), key)
        .cookie_name("vm_session".into())
        .cookie_content_security(CookieContentSecurity::Private)
        .cookie_secure(state.config.secure_cookies)
        .cookie_same_site(SameSite::Lax)
        .cookie_http_only(true)
        .build();
    // The API first: its scope answers everything below `/api/v1`.
    api::mount(App::new())
        .app_data(web::Data::new(state))
        .app_data(
            web::QueryConfig::default()
                .error_handler(|e, _| AppError::BadRequest(e.to_string()).into()),
        )
        .app_data(web::PathConfig::default().error_handler(|e, _| AppError::NotFound.into_actix(e)))
        .configure(routes)
        .default_service(web::to(|| async {
            Err::<actix_web::HttpResponse, _>(AppError::NotFound)
        }))
        .wrap(from_fn(input::check_request))
        .wrap(from_fn(errors::render_errors))
        .wrap(from_fn(not_stored))
        .wrap(sessions)
        .wrap(middleware::Compress::default())
        .wrap(security_headers(state_secure))
        .wrap(middleware::Logger::new("%a \"%r\" %s %b %Dms").exclude("/healthz"))
}

/// What every response carries: no inline script may run and no other site may frame a
/// page (CSP), links leave no secret order address behind (Referrer-Policy: the order
/// page's URL is its key), and over https the browser is told to stay on https.
fn security_headers(https: bool) -> middleware::DefaultHeaders {
    let headers = middleware::DefaultHeaders::new()
        .add(("X-Content-Type-Options", "nosniff"))
        .add((
            "Content-Security-Policy",
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
             object-src 'none'; base-uri 'self'; frame-ancestors 'none'",
        ))
        .add(("X-Frame-Options", "DENY"))
        .add(("Referrer-Policy", "no-referrer"));
    if https {
        headers.add(("Strict-Transport-Security", "max-age=31536000"))
    } else {
        headers
    }
}

/// Where a page is someone's own: a signed-in area's, or an order's (its address is its
/// secret).
const NOT_STORED: [&str; 7] = [
    "/team", "/admin", "/canteen", "/reports", "/account", "/my", "/orders/",
];

/// Such a page is kept by no cache (`no-store`, unless it says otherwise): on a phone a
/// village's team shares, going back after signing out shows no household's figures, and
/// going back to a form fetches it anew, with a new idempotency key.
async fn not_stored(
    req: ServiceRequest,
    next: actix_web::middleware::Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    use actix_web::http::header::{CACHE_CONTROL, HeaderValue};
    let own = NOT_STORED
        .iter()
        .any(|prefix| req.path().starts_with(prefix));
    let mut res = next.call(req).await?;
    if own && !res.headers().contains_key(CACHE_CONTROL) {
        res.headers_mut()
            .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    Ok(res)
}

fn routes(cfg: &mut web::ServiceConfig) {
    // A livestream link first: in a rush a thousand phones open it at once, and the router
    // tries each pattern with a parameter, in order, until one matches.
    cfg.route("/l/{code}", web::get().to(live::link))
        .route("/l/{code}", web::post().to(live::buy))
        .route("/", web::get().to(storefront::home))
        .route("/products", web::get().to(storefront::search))
        .route("/products/{id}", web::get().to(storefront::product))
        .route("/villages/{slug}", web::get().to(storefront::village))
        .route("/cart", web::get().to(cart::show))
        .route("/cart", web::post().to(cart::add))
        .route("/cart/update", web::post().to(cart::update))
        .route("/checkout", web::get().to(cart::checkout_form))
        .route("/checkout", web::post().to(cart::checkout))
        .route("/orders/{token}", web::get().to(orders::show))
        .route("/orders/{token}/pay", web::post().to(payments::pay))
        .route(
            "/orders/{token}/cancel",
            web::post().to(orders::buyer_cancel),
        )
        .route("/webhooks/stripe", web::post().to(payments::stripe_webhook))
        .route("/my/orders", web::get().to(orders::history))
        .route("/login", web::get().to(auth::login_form))
        .route("/login", web::post().to(auth::login_submit))
        .route("/logout", web::post().to(auth::logout))
        .route("/account", web::get().to(account::show))
        .route("/account/tokens", web::post().to(account::create_token))
        .route(
            "/account/tokens/{id}/revoke",
            web::post().to(account::revoke_token),
        )
        .route(
            "/account/password",
            web::post().to(account::change_password),
        )
        .route("/password/forgot", web::get().to(account::forgot_form))
        .route("/password/forgot", web::post().to(account::forgot_submit))
        .route(
            "/password/reset/{token}",
            web::get().to(account::reset_form),
        )
        .route(
            "/password/reset/{token}",
            web::post().to(account::reset_submit),
        )
        .route("/admin", web::get().to(admin::home))
        .route("/admin/counties", web::post().to(admin::create_county))
        .route("/admin/counties/new", web::get().to(admin::new_county))
        .route("/admin/villages", web::post().to(admin::create_village))
        .route("/admin/villages/new", web::get().to(admin::new_village))
        .route("/admin/villages/{id}", web::get().to(admin::edit_village))
        .route(
            "/admin/villages/{id}",
            web::post().to(admin::update_village),
        )
        .route(
            "/admin/organizations",
            web::post().to(admin::create_organization),
        )
        .route(
            "/admin/organizations/new",
            web::get().to(admin::new_organization),
        )
        .route(
            "/admin/organizations/{id}",
            web::get().to(admin::edit_organization),
        )
        .route(
            "/admin/organizations/{id}",
            web::post().to(admin::update_organization),
        )
        .route(
            "/admin/organizations/{id}/sites",
            web::post().to(admin::create_site),
        )
        .route(
            "/admin/organizations/{id}/sites/new",
            web::get().to(admin::new_site),
        )
        .route(
            "/admin/organizations/{id}/sites/{site}",
            web::get().to(admin::edit_site),
        )
        .route(
            "/admin/organizations/{id}/sites/{site}",
            web::post().to(admin::update_site),
        )
        .route(
            "/admin/organizations/{id}/sites/{site}/retire",
            web::post().to(admin::retire_site),
        )
        .route(
            "/admin/organizations/{id}/staff-code",
            web::post().to(admin::new_staff_code),
        )
        .route(
            "/admin/organizations/{id}/members/{user}",
            web::post().to(admin::set_member_role),
        )
        .route("/admin/users", web::get().to(admin::users))
        .route("/admin/users", web::post().to(admin::create_user))
        .route("/admin/users/new", web::get().to(admin::new_user))
        .route("/admin/users/{id}", web::get().to(admin::edit_user))
        .route("/admin/users/{id}", web::post().to(admin::update_user))
        .route(
            "/admin/users/{id}/password",
            web::post().to(admin::reset_password),
        )
        .route("/team", web::get().to(team::home))
        .route(
            "/team/villages/{id}/delivery",
            web::get().to(team::delivery),
        )
        .route(
            "/team/villages/{id}/delivery",
            web::post().to(team::save_delivery),
        )
        .route("/team/households", web::get().to(households::list))
        .route("/team/households", web::post().to(households::create))
        .route("/team/households/new", web::get().to(households::new_form))
        .route(
            "/team/households/import",
            web::get().to(households::import_form),
        )
        .route(
            "/team/households/import",
            web::post().to(households::import),
        )
        .route(
            "/team/households/export.{format}",
            web::get().to(households::export),
        )
        .route(
            "/team/households/{id}",
            web::get().to(households::edit_form),
        )
        .route("/team/households/{id}", web::post().to(households::update))
        .route(
            "/team/households/{id}/archive",
            web::post().to(households::archive),
        )
        .route("/team/products", web::get().to(products::list))
        .route("/team/products", web::post().to(products::create))
        .route("/team/products/new", web::get().to(products::new_form))
        .route("/team/products/{id}", web::get().to(products::show))
        .route("/team/products/{id}", web::post().to(products::update))
        .route(
            "/team/products/{id}/edit",
            web::get().to(products::edit_form),
        )
        .route(
            "/team/products/{id}/image",
            web::post().to(products::upload_image),
        )
        .route("/team/stock", web::get().to(stock::list))
        .route("/team/stock", web::post().to(stock::record))
        .route("/team/stock/lots/{id}", web::get().to(stock::show_lot))
        .route(
            "/team/stock/lots/{id}/write-off",
            web::post().to(stock::write_off),
        )
        .route("/team/orders", web::get().to(orders::team_list))
        .route("/team/orders/{id}", web::get().to(orders::team_show))
        .route("/team/orders/{id}/paid", web::post().to(orders::mark_paid))
        .route(
            "/team/orders/{id}/cancel",
            web::post().to(orders::team_cancel),
        )
        .route("/team/orders/{id}/refund", web::post().to(orders::refund))
        .route(
            "/team/orders/{id}/villages/{village}/{step}",
            web::post().to(orders::advance),
        )
        .route("/team/packing", web::get().to(orders::packing_list))
        .route("/team/deliveries", web::get().to(canteen::team_calendar))
        .route(
            "/team/orders/{id}/villages/{village}/delivery-note",
            web::get().to(canteen::team_delivery_note),
        )
        // The hosts before `/team/live/{id}`, whose id would not parse.
        .route("/team/live/hosts", web::get().to(live_hosts::list))
        .route(
            "/team/live/hosts/{id}",
            web::get().to(live_hosts::statement),
        )
        .route(
            "/team/live/hosts/{id}/payouts",
            web::post().to(live_hosts::record_payout),
        )
        .route("/team/live", web::get().to(live::list))
        .route("/team/live", web::post().to(live::create))
        .route("/team/live/{id}", web::get().to(live::show))
        .route("/team/live/{id}/card", web::get().to(live::card))
        .route("/team/live/{id}/events", web::get().to(live::events))
        .route("/team/live/{id}/report", web::get().to(live::report))
        .route("/team/live/{id}/items", web::post().to(live::add_item))
        .route(
            "/team/live/{id}/items/{item}",
            web::post().to(live::change_item),
        )
        .route(
            "/team/live/{id}/items/{item}/qr.{format}",
            web::get().to(live::qr),
        )
        .route("/team/live/{id}/{step}", web::post().to(live::step))
        .route("/team/payouts", web::get().to(payouts::list))
        .route("/team/payouts", web::post().to(payouts::record))
        .route(
            "/team/payouts/bank.{format}",
            web::get().to(payouts::bank_list),
        )
        .route("/team/payouts/{id}", web::get().to(payouts::history))
        .route(
            "/team/households/{id}/statement",
            web::get().to(payouts::statement),
        )
        .route("/team/audit", web::get().to(audit::team))
        .route("/admin/audit", web::get().to(audit::admin))
        .route("/canteen", web::get().to(canteen::home))
        .route(
            "/canteen/target.{format}",
            web::get().to(canteen::target_download),
        )
        .route("/canteen/order", web::get().to(canteen::order_sheet))
        .route("/canteen/order", web::post().to(canteen::place))
        .route("/canteen/order/upload", web::post().to(canteen::upload))
        .route(
            "/canteen/order/template.{format}",
            web::get().to(canteen::template),
        )
        .route("/canteen/orders", web::get().to(canteen::orders_list))
        .route("/canteen/orders/{id}", web::get().to(canteen::order_show))
        .route(
            "/canteen/orders/{id}/villages/{village}/delivery-note",
            web::get().to(canteen::canteen_delivery_note),
        )
        .route(
            "/canteen/orders/{id}/villages/{village}/acceptance",
            web::post().to(canteen::accept),
        )
        .route(
            "/canteen/orders/{id}/reorder",
            web::get().to(canteen::reorder),
        )
        // Before `{decision}`, which would take `standing` for a decision.
        .route(
            "/canteen/orders/{id}/standing",
            web::get().to(canteen_standing::new_form),
        )
        .route(
            "/canteen/orders/{id}/standing",
            web::post().to(canteen_standing::create),
        )
        .route(
            "/canteen/orders/{id}/{decision}",
            web::post().to(canteen::decide),
        )
        .route(
            "/canteen/standing-orders",
            web::get().to(canteen_standing::list),
        )
        .route(
            "/canteen/standing-orders/{id}/{action}",
            web::post().to(canteen_standing::change),
        )
        .route(
            "/canteen/statements",
            web::get().to(canteen_statements::list),
        )
        .route(
            "/canteen/statements/{id}",
            web::get().to(canteen_statements::show),
        )
        .route(
            "/canteen/statements/{id}/download.{format}",
            web::get().to(canteen_statements::download),
        )
        .route(
            "/admin/statements",
            web::get().to(canteen_statements::admin_list),
        )
        .route(
            "/admin/statements/{id}",
            web::get().to(canteen_statements::admin_show),
        )
        .route(
            "/admin/statements/{id}/download.{format}",
            web::get().to(canteen_statements::admin_download),
        )
        .route(
            "/admin/statements/{id}/payments",
            web::post().to(canteen_statements::record_payment),
        )
        .route(
            "/admin/statements/{id}/invoice",
            web::post().to(canteen_statements::set_invoice),
        )
        .route("/reports", web::get().to(reports::home))
        .route("/reports/live", web::get().to(reports::live))
        .route("/reports/counties/{id}", web::get().to(reports::county))
        .route("/reports/villages/{id}", web::get().to(reports::village))
        .route(
            "/reports/households/{id}/statement",
            web::get().to(reports::household_statement),
        )
        .route("/images/{hash}/{size}", web::get().to(images::serve))
        .route("/healthz", web::get().to(health::healthz))
        .route("/static/{path:.*}", web::get().to(assets::serve));
}

impl AppError {
    /// Keeps actix's own error for the log while answering with this one.
    fn into_actix(self, cause: impl std::fmt::Display) -> actix_web::Error {
        tracing::debug!(%cause, "request refused");
        self.into()
    }
}
