//! Livestream selling on the web: a team's sessions (`/team/live…`: prepare, add numbered
//! items, schedule, start, extend, end; each item's QR code as SVG or PNG; a printable card
//! of all the links for the host) and a viewer's link `/l/{code}`.

use actix_web::http::StatusCode;
use actix_web::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use actix_web::{HttpResponse, web};
use serde_json::{Value, json};

use super::AppState;
use super::auth::{TeamArea, redirect};
use super::csrf::CsrfForm;
use super::forms::coded_options;
use super::orders::time;
use super::render::{CSRF_PLACEHOLDER, Ctx, IDEMPOTENCY_PLACEHOLDER};

use crate::domain::actor::Who;
use crate::domain::cart::LineProblem;
use crate::domain::live::{
    self, ItemChange, ItemFigures, ItemForm, LinkState, LiveItem, LiveOrderForm, LiveSession,
    SessionFigures, SessionForm, SessionStep, SessionView,
};
use crate::domain::live_hosts::Sum;
use crate::domain::money::format_fen;
use crate::domain::orders::Checkout;
use crate::domain::validation::FieldErrors;
use crate::domain::{china_time, now_utc};
use crate::error::{AppError, AppResult};
use crate::i18n::Lang;
use crate::states::{LivePlatform, LiveStatus};

/// The full address of an item's link, as the QR code and the card carry it.
fn link_url(state: &AppState, code: &str) -> String {
    format!("{}/l/{code}", state.config.base_url.trim_end_matches('/'))
}

/// China wall-clock time for a form's `datetime-local` field.
fn typed_time(t: chrono::NaiveDateTime) -> String {
    china_time(t).format("%Y-%m-%dT%H:%M").to_string()
}

fn session_json(lang: Lang, s: &LiveSession) -> Value {
    json!({
        "id": s.id,
        "title": s.title,
        "platform": lang.t(&format!("live-platform-{}", s.platform)),
        "host_name": s.host_name,
        "commission": commission_rate(s.host_commission_bp),
        "starts_at": time(s.starts_at),
        "ends_at": time(s.ends_at),
        "ends_at_typed": typed_time(s.ends_at),
        "status": s.status,
        "status_label": lang.t(&format!("live-status-{}", s.status)),
    })
}

async fn render_list(
    state: &AppState,
    ctx: &Ctx,
    area: &TeamArea,
    sessions: &[LiveSession],
    status: StatusCode,
    form: &SessionForm,
    errors: &FieldErrors,
) -> AppResult<HttpResponse> {
    let lang = ctx.lang;
    let villages: Vec<Value> = area
        .villages(state)
        .await?
        .iter()
        .map(|v| json!({ "value": v.id, "label": lang.pick(&v.name_zh, &v.name_en), "selected": form.village_id == v.id.to_string() }))
        .collect();
    let data = json!({
        "sessions": sessions.iter().map(|s| session_json(lang, s)).collect::<Vec<_>>(),
        "villages": villages,
        "platforms": coded_options(lang, LivePlatform::ALL, "live-platform-", &form.platform),
    });
    ctx.form_page(
        &state.templates,
        status,
        "pages/team/live_list",
        data,
        form,
        errors,
    )
}

/// `GET /team/live`: the team's sessions and the form for a new one.
pub async fn list(state: web::Data<AppState>, ctx: Ctx, area: TeamArea) -> AppResult<HttpResponse> {
    let scope = area.scope.clone();
    let sessions = state.db(move |conn| live::sessions(conn, &scope)).await?;
    let form = SessionForm {
        host_commission: "0".into(),
        ..SessionForm::default()
    };
    render_list(
        &state,
        &ctx,
        &area,
        &sessions,
        StatusCode::OK,
        &form,
        &FieldErrors::default(),
    )
    .await
}

/// `POST /team/live`: a new session (a draft).
pub async fn create(
    state: web::Data<AppState>,
    ctx: Ctx,
    area: TeamArea,
    CsrfForm(form): CsrfForm<SessionForm>,
) -> AppResult<HttpResponse> {
    let (who, scope, typed) = (Who::from(&area.actor), area.scope.clone(), form.clone());
    let result = state
        .db(move |conn| live::create_session(conn, &who, &scope, &typed, now_utc()))
        .await;
    match result {
        Ok(id) => Ok(redirect(&format!("/team/live/{id}"))),
        Err(AppError::Invalid(errors)) => {
            let scope = area.scope.clone();
            let sessions = state.db(move |conn| live::sessions(conn, &scope)).await?;
            let status = StatusCode::UNPROCESSABLE_ENTITY;
            render_list(&state, &ctx, &area, &sessions, status, &form, &errors).await
        }
        Err(e) => Err(e),
    }
}

fn items_json(state: &AppState, lang: Lang, view: &SessionView) -> Vec<Value> {
    view.figures
        .items
        .iter()
        .map(|(item, product, figures)| {
            json!({
                "figures": item_figures_json(item, figures),
                "id": item.id,
                "number": item.number,
                "name": lang.pick(&product.name_zh, &product.name_en),
                "unit": lang.pick(&product.sale_unit_zh, &product.sale_unit_en),
                "live_price": format_fen(item.live_price_fen),
                "live_price_typed": crate::domain::money::format_yuan_plain(item.live_price_fen),
                "price": format_fen(product.unit_price_fen),
                "quota": item.quota,
                "sold": item.sold,
                "left": item.units_left(),
                "limit": item.per_buyer_limit,
                "visits": item.visits,
                "code": item.code,
                "url": link_url(state, &item.code),
                "qr_svg": qr_svg(&link_url(state, &item.code)).ok(),
            })
        })
        .collect()
}

async fn render_session(
    state: &AppState,
    ctx: &Ctx,
    area: &TeamArea,
    id: i64,
    status: StatusCode,
    form: &ItemForm,
    errors: &FieldErrors,
) -> AppResult<HttpResponse> {
    let scope = area.scope.clone();
    let view = state
        .db(move |conn| live::session(conn, &scope, id))
        .await?;
    let lang = ctx.lang;
    let data = json!({
        "session": session_json(lang, &view.session),
        "items": items_json(state, lang, &view),
        "total": total_json(&view.figures.total),
        "products": view.products.iter().map(|p| json!({
            "value": p.id,
            "label": format!("{} · {} · {}", lang.pick(&p.name_zh, &p.name_en), format_fen(p.unit_price_fen), p.stock),
            "selected": form.product_id == p.id.to_string(),
        })).collect::<Vec<_>>(),
        "may_schedule": view.session.status == crate::states::LiveStatus::Draft,
        "may_start": matches!(view.session.status, crate::states::LiveStatus::Draft | crate::states::LiveStatus::Scheduled),
        "is_live": view.session.status == crate::states::LiveStatus::Live,
        "may_add": view.session.status != crate::states::LiveStatus::Ended,
    });
    ctx.form_page(
        &state.templates,
        status,
        "pages/team/live_session",
        data,
        form,
        errors,
    )
}

/// A link's figures as the dashboard shows them, and as its events send them.
fn item_figures_json(item: &LiveItem, f: &ItemFigures) -> Value {
    let mut figures = total_json(&Sum::of([f]));
    if let Value::Object(map) = &mut figures {
        map.extend([
            ("id".to_string(), json!(item.id)),
            ("sold".to_string(), json!(item.sold)),
            ("quota".to_string(), json!(item.quota)),
            ("left".to_string(), json!(item.units_left())),
            ("visits".to_string(), json!(item.visits)),
        ]);
    }
    figures
}

fn total_json(t: &Sum) -> Value {
    json!({
        "orders": t.orders,
        "paid_orders": t.paid_orders,
        "paid": format_fen(t.paid_fen),
        "refunded": format_fen(t.refunded_fen),
        "commission": format_fen(t.commission_fen),
        "net": format_fen(t.net_fen()),
    })
}

/// A commission in basis points as a percentage: `5.50%`.
pub(super) fn commission_rate(bp: i32) -> String {
    format!("{}.{:02}%", bp / 100, bp % 100)
}

/// What the dashboard's events carry: every figure that moves while a session is live.
fn figures_json(session: &LiveSession, figures: &SessionFigures) -> Value {
    json!({
        "status": session.status,
        "items": figures.items.iter().map(|(i, _, f)| item_figures_json(i, f)).collect::<Vec<_>>(),
        "total": total_json(&figures.total),
    })
}

/// How often a dashboard's event stream reads the figures again, and how long one
/// stream lasts before the browser opens the next (EventSource reconnects by itself).
const EVENTS_EVERY: std::time::Duration = std::time::Duration::from_secs(1);
const EVENTS_FOR: std::time::Duration = std::time::Duration::from_secs(600);

/// `GET /team/live/{id}/events`: the dashboard's figures as server-sent events, one
/// `figures` event whenever they change. The stream reads them from the database every
/// second (short polling), so orders placed through any server process show, on SQLite
/// as on PostgreSQL, and a watcher holds no connection between reads; LISTEN/NOTIFY
/// would need one held open per process, for PostgreSQL only.
pub async fn events(
    state: web::Data<AppState>,
    area: TeamArea,
    id: web::Path<i64>,
) -> AppResult<HttpResponse> {
    let (scope, id) = (area.scope.clone(), id.into_inner());
    let read = move |state: web::Data<AppState>, scope: crate::domain::actor::TeamScope| async move {
        state
            .db(move |conn| live::figures(conn, &scope, id))
            .await
            .map(|(session, figures)| {
                let on_air = session.status == LiveStatus::Live;
                (figures_json(&session, &figures).to_string(), on_air)
            })
    };
    // Out of scope is a 404 before any stream starts.
    let first = read(state.clone(), scope.clone()).await?;
    let until = tokio::time::Instant::now() + EVENTS_FOR;
    let stream = futures_util::stream::unfold(
        Watch {
            next: Some(first),
            last: String::new(),
            quiet: 0,
            over: false,
        },
        move |mut watch| {
            let (state, scope) = (state.clone(), scope.clone());
            async move {
                loop {
                    if watch.over {
                        return None;
                    }
                    let (figures, on_air) = match watch.next.take() {
                        Some(read) => read,
                        None => {
                            tokio::time::sleep(EVENTS_EVERY).await;
                            if tokio::time::Instant::now() >= until {
                                return None;
                            }
                            read(state.clone(), scope.clone()).await.ok()?
                        }
                    };
                    // Once the session is off air its figures are sent one last time.
                    watch.over = !on_air;
                    let event = if figures != watch.last {
                        watch.quiet = 0;
                        let event = format!("retry: 2000\nevent: figures\ndata: {figures}\n\n");
                        watch.last = figures;
                        event
                    } else {
                        watch.quiet += 1;
                        // A comment now and then, so that proxies keep a quiet stream open.
                        if watch.quiet % PING_EVERY != 0 {
                            continue;
                        }
                        ": still here\n\n".to_string()
                    };
                    let chunk = actix_web::web::Bytes::from(event);
                    return Some((Ok::<_, std::convert::Infallible>(chunk), watch));
                }
            }
        },
    );
    Ok(HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, "text/event-stream"))
        .insert_header((CACHE_CONTROL, "no-store"))
        // For a proxy in front (nginx): pass each event on as it comes.
        .insert_header(("X-Accel-Buffering", "no"))
        // Already final: the compression middleware leaves it alone, so each event goes out
        // as it is written rather than when a gzip block fills.
        .insert_header((actix_web::http::header::CONTENT_ENCODING, "identity"))
        .streaming(stream))
}

/// Where a dashboard's event stream stands: the figures read but not yet looked at, the
/// last sent, how many reads in a row found nothing new, and whether the session is over.
struct Watch {
    next: Option<(String, bool)>,
    last: String,
    quiet: u32,
    over: bool,
}

/// Reads with nothing new between two keep-alive comments (15 s).
const PING_EVERY: u32 = 15;

/// `GET /team/live/{id}/report`: after (or during) a session, each link's visits, orders,
/// paid and refunded money, the host's commission and what is left for the village.
pub async fn report(
    state: web::Data<AppState>,
    ctx: Ctx,
    area: TeamArea,
    id: web::Path<i64>,
) -> AppResult<HttpResponse> {
    let (scope, id) = (area.scope.clone(), id.into_inner());
    let (session, figures) = state
        .db(move |conn| live::figures(conn, &scope, id))
        .await?;
    let lang = ctx.lang;
    let visits: i64 = figures.items.iter().map(|(i, _, _)| i.visits).sum();
    let sold: i32 = figures.items.iter().map(|(i, _, _)| i.sold).sum();
    let data = json!({
        "session": session_json(lang, &session),
        "items": figures.items.iter().map(|(item, product, f)| json!({
            "number": item.number,
            "name": lang.pick(&product.name_zh, &product.name_en),
            "figures": item_figures_json(item, f),
        })).collect::<Vec<_>>(),
        "total": total_json(&figures.total),
        "visits": visits,
        "sold": sold,
    });
    ctx.page(
        &state.templates,
        StatusCode::OK,
        "pages/team/live_report",
        data,
    )
}

/// `GET /team/live/{id}`: a session of the team's villages; another's is a 404.
pub async fn show(
    state: web::Data<AppState>,
    ctx: Ctx,
    area: TeamArea,
    id: web::Path<i64>,
) -> AppResult<HttpResponse> {
    let form = ItemForm {
        per_buyer_limit: "2".into(),
        ..ItemForm::default()
    };
    let id = id.into_inner();
    render_session(
        &state,
        &ctx,
        &area,
        id,
        StatusCode::OK,
        &form,
        &FieldErrors::default(),
    )
    .await
}

async fn after_change(
    state: &AppState,
    ctx: &Ctx,
    area: &TeamArea,
    id: i64,
    form: &ItemForm,
    result: AppResult<()>,
) -> AppResult<HttpResponse> {
    match result {
        Ok(()) => {
            // The session's links read differently now (on air, a new price, ended).
            state.pages.forget_all();
            Ok(redirect(&format!("/team/live/{id}")))
        }
        Err(AppError::Invalid(errors)) => {
            let status = StatusCode::UNPROCESSABLE_ENTITY;
            render_session(state, ctx, area, id, status, form, &errors).await
        }
        Err(e) => Err(e),
    }
}

/// `POST /team/live/{id}/items`: the next numbered item.
pub async fn add_item(
    state: web::Data<AppState>,
    ctx: Ctx,
    area: TeamArea,
    id: web::Path<i64>,
    CsrfForm(form): CsrfForm<ItemForm>,
) -> AppResult<HttpResponse> {
    let id = id.into_inner();
    let (who, scope, typed) = (Who::from(&area.actor), area.scope.clone(), form.clone());
    let result = state
        .db(move |conn| live::add_item(conn, &who, &scope, id, &typed, now_utc()).map(drop))
        .await;
    after_change(&state, &ctx, &area, id, &form, result).await
}

/// `POST /team/live/{id}/items/{item}`: a new live price or quota for an item.
pub async fn change_item(
    state: web::Data<AppState>,
    ctx: Ctx,
    area: TeamArea,
    path: web::Path<(i64, i64)>,
    CsrfForm(form): CsrfForm<ItemChange>,
) -> AppResult<HttpResponse> {
    let (id, item) = path.into_inner();
    let (who, scope) = (Who::from(&area.actor), area.scope.clone());
    let result = state
        .db(move |conn| live::change_item(conn, &who, &scope, id, item, &form, now_utc()))
        .await;
    after_change(&state, &ctx, &area, id, &ItemForm::default(), result).await
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub struct ExtendForm {
    ends_at: String,
}

/// `POST /team/live/{id}/{schedule,start,end,extend}`.
pub async fn step(
    state: web::Data<AppState>,
    ctx: Ctx,
    area: TeamArea,
    path: web::Path<(i64, String)>,
    CsrfForm(form): CsrfForm<ExtendForm>,
) -> AppResult<HttpResponse> {
    let (id, action) = path.into_inner();
    let (who, scope) = (Who::from(&area.actor), area.scope.clone());
    let result = if action == "extend" {
        state
            .db(move |conn| live::extend(conn, &who, &scope, id, &form.ends_at, now_utc()))
            .await
    } else {
        let step = SessionStep::parse(&action).ok_or(AppError::NotFound)?;
        state
            .db(move |conn| live::take_step(conn, &who, &scope, id, step, now_utc()))
            .await
    };
    after_change(&state, &ctx, &area, id, &ItemForm::default(), result).await
}

/// `GET /team/live/{id}/card`: every link of the session with its QR code, to print for
/// the host.
pub async fn card(
    state: web::Data<AppState>,
    ctx: Ctx,
    area: TeamArea,
    id: web::Path<i64>,
) -> AppResult<HttpResponse> {
    let (scope, id) = (area.scope.clone(), id.into_inner());
    let view = state
        .db(move |conn| live::session(conn, &scope, id))
        .await?;
    let lang = ctx.lang;
    let data = json!({
        "session": session_json(lang, &view.session),
        "items": items_json(&state, lang, &view),
    });
    ctx.page(
        &state.templates,
        StatusCode::OK,
        "pages/team/live_card",
        data,
    )
}

/// An item's QR code as SVG, dark on white with its quiet zone.
fn qr_svg(url: &str) -> Result<String, qrcode::types::QrError> {
    let code = qrcode::QrCode::new(url.as_bytes())?;
    Ok(code
        .render::<qrcode::render::svg::Color>()
        .min_dimensions(240, 240)
        .build())
}

/// The pixels of a PNG QR code for a stream overlay: about 720 px square.
const QR_PNG_SIZE: u32 = 720;

/// An item's QR code as PNG: the module matrix drawn as squares, quiet zone included.
fn qr_png(url: &str) -> AppResult<Vec<u8>> {
    let code = qrcode::QrCode::new(url.as_bytes()).map_err(AppError::internal)?;
    let width = u32::try_from(code.width()).map_err(AppError::internal)?;
    let quiet = 4;
    let modules = width + 2 * quiet;
    let scale = (QR_PNG_SIZE / modules).max(1);
    let colors = code.to_colors();
    let size = modules * scale;
    let image = image::GrayImage::from_fn(size, size, |x, y| {
        let (mx, my) = (x / scale, y / scale);
        let dark = mx >= quiet
            && my >= quiet
            && mx < quiet + width
            && my < quiet + width
            && colors
                .get(((my - quiet) * width + (mx - quiet)) as usize)
                .is_some_and(|c| *c == qrcode::Color::Dark);
        image::Luma([if dark { 0 } else { 255 }])
    });
    let mut png = std::io::Cursor::new(Vec::new());
    image
        .write_to(&mut png, image::ImageFormat::Png)
        .map_err(AppError::internal)?;
    Ok(png.into_inner())
}

/// `GET /team/live/{id}/items/{item}/qr.{svg,png}`: one item's QR code, to download.
pub async fn qr(
    state: web::Data<AppState>,
    area: TeamArea,
    path: web::Path<(i64, i64, String)>,
) -> AppResult<HttpResponse> {
    let (id, item_id, format) = path.into_inner();
    let scope = area.scope.clone();
    let item = state
        .db(move |conn| live::item(conn, &scope, id, item_id))
        .await?;
    let url = link_url(&state, &item.code);
    let (body, content_type) = match format.as_str() {
        "svg" => (
            qr_svg(&url).map_err(AppError::internal)?.into_bytes(),
            "image/svg+xml",
        ),
        "png" => (qr_png(&url)?, "image/png"),
        other => return Err(AppError::bad_field("format", other)),
    };
    Ok(HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, content_type))
        .insert_header((
            actix_web::http::header::CONTENT_DISPOSITION,
            format!(
                "attachment; filename=\"live-{}-{}.{format}\"",
                item.session_id, item.number
            ),
        ))
        .body(body))
}

/// A link's code as typed in the address: letters and digits, short; anything else names
/// no item.
fn link_code(code: String) -> AppResult<String> {
    if code.len() > 16 || !code.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(AppError::NotFound);
    }
    Ok(code.to_ascii_uppercase())
}

/// `GET /l/{code}`: a viewer's link, on a phone: the product at its live price beside the
/// normal one, the units left and when the session ends, and the order form on the same
/// page; before it starts, when it starts; after it or when sold out, that it is over,
/// with the product at its normal price. A guest's page comes from the `PageCache` (at
/// most a second old; forgotten at once when this process changes the link): in a rush,
/// a thousand phones opening the link are served from memory. Each gets its own CSRF
/// token and idempotency key; the quota is enforced when they order, not by the page.
pub async fn link(
    state: web::Data<AppState>,
    ctx: Ctx,
    code: web::Path<String>,
) -> AppResult<HttpResponse> {
    let code = link_code(code.into_inner())?;
    super::cart::ensure_checkout_scope(&ctx.session)?;
    let form = LiveOrderForm {
        quantity: "1".into(),
        payment_method: state
            .payments
            .methods()
            .first()
            .map(|m| m.as_str().to_string())
            .unwrap_or_default(),
        idempotency_key: IDEMPOTENCY_PLACEHOLDER.into(),
        ..LiveOrderForm::default()
    };
    let mut response = state
        .pages
        .html_with_form(&ctx, async {
            let csrf = CSRF_PLACEHOLDER.to_string();
            let errors = FieldErrors::default();
            let data = link_data(&state, &ctx, code.clone(), csrf, &form, &errors).await?;
            ctx.render(&state.templates, LINK_PAGE, data)
        })
        .await?;
    state.visits.count(&code);
    never_from_a_cache(&mut response);
    Ok(response)
}

/// `POST /l/{code}`: the viewer's order; then on to paying it (Stripe) or to the order's
/// page (bank transfer, cash on delivery).
pub async fn buy(
    state: web::Data<AppState>,
    ctx: Ctx,
    code: web::Path<String>,
    CsrfForm(form): CsrfForm<LiveOrderForm>,
) -> AppResult<HttpResponse> {
    let code = link_code(code.into_inner())?;
    super::cart::ensure_checkout_scope(&ctx.session)?;
    let shopper = super::cart::shopper(&ctx);
    let (methods, minutes) = (
        state.payments.methods(),
        state.config.live_reservation_minutes,
    );
    let (c, f) = (code.clone(), form.clone());
    let result = state
        .db(move |conn| {
            let buyer = crate::domain::cart::buyer(conn, &shopper)?;
            live::buy(conn, &c, &f, &buyer, &methods, minutes, now_utc())
        })
        .await;
    let (status, errors) = match result {
        Ok(Checkout::Placed(placed) | Checkout::Repeated(placed)) => {
            return Ok(redirect(&super::payments::start(&state, &placed).await?));
        }
        Ok(Checkout::Refused(lines)) => {
            // Its page here may still show units that are gone: the next viewer reads it anew.
            state.pages.forget(&format!("/l/{code}")).await;
            let left = lines
                .iter()
                .find_map(|l| match l.problem {
                    LineProblem::Short(left) => Some(left),
                    _ => None,
                })
                .unwrap_or(0);
            // Sold out, the page says so; with a few left, the quantity says how many.
            let mut errors = FieldErrors::default();
            if left > 0 {
                errors.add_with(
                    "quantity",
                    "invalid-live-left",
                    vec![("left", left.to_string())],
                );
            }
            (StatusCode::CONFLICT, errors)
        }
        Err(AppError::Invalid(errors)) => (StatusCode::UNPROCESSABLE_ENTITY, errors),
        Err(e) => return Err(e),
    };
    let csrf = super::csrf::token(&ctx.session);
    let data = link_data(&state, &ctx, code, csrf, &form, &errors).await?;
    let mut response = ctx.page(&state.templates, status, LINK_PAGE, data)?;
    never_from_a_cache(&mut response);
    Ok(response)
}

/// Units left change by the second while live: no browser or proxy keeps the page.
fn never_from_a_cache(response: &mut HttpResponse) {
    response.headers_mut().insert(
        CACHE_CONTROL,
        actix_web::http::header::HeaderValue::from_static("no-store"),
    );
}

const LINK_PAGE: &str = "pages/live_link";

/// The link's page's data, with `form` as typed and its `errors`.
async fn link_data(
    state: &AppState,
    ctx: &Ctx,
    code: String,
    csrf_token: String,
    form: &LiveOrderForm,
    errors: &FieldErrors,
) -> AppResult<Value> {
    let view = state
        .db(move |conn| live::link(conn, &code, now_utc()))
        .await?;
    let lang = ctx.lang;
    let (state_key, until) = match view.state {
        LinkState::Upcoming(at) => ("upcoming", Some(time(at))),
        LinkState::Live(until) => ("live", Some(time(until))),
        LinkState::SoldOut => ("sold-out", None),
        LinkState::Ended => ("ended", None),
    };
    let p = &view.product;
    let data = json!({
        "state": state_key,
        "until": until,
        // For the countdown (JavaScript only): the end, in milliseconds since 1970 UTC.
        "ends_ms": view.session.ends_at.and_utc().timestamp_millis(),
        "title": view.session.title,
        "host_name": view.session.host_name,
        "number": view.item.number,
        "name": lang.pick(&p.name_zh, &p.name_en),
        "unit": lang.pick(&p.sale_unit_zh, &p.sale_unit_en),
        "image": p.image,
        "live_price": format_fen(view.item.live_price_fen),
        "price": format_fen(p.unit_price_fen),
        "left": view.item.units_left(),
        "limit": view.item.per_buyer_limit,
        "product_id": p.id,
        "code": view.item.code,
        "quantities": (1..=view.item.per_buyer_limit.min(view.item.units_left()).max(1)).map(|n| json!({
            "value": n, "selected": form.quantity == n.to_string(),
        })).collect::<Vec<_>>(),
        "payment_methods": coded_options(lang, &state.payments.methods().iter().map(|m| m.as_str()).collect::<Vec<_>>(), "payment-", &form.payment_method),
    });
    ctx.form_data(data, csrf_token, form, errors)
}
