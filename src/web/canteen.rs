//! `/canteen`: a canteen member's area, limited to their organisation: its sites,
//! invoice details, terms, approval threshold and members, and when each village
//! delivers; the quick-order sheet (`/canteen/order`), the organisation's orders and an
//! approver's decisions (`/canteen/orders/…`).

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use serde_json::{Value, json};

use super::AppState;
use super::auth::{CanteenArea, TeamArea, redirect};
use super::cart::{checkout_scope, existing_checkout_scope, line_json, problem_text};
use super::charts;
use super::csrf::{self, CsrfForm};
use super::download::{self, Cell, Format, Table};
use super::forms::{coded_options, errors_json, field, keyed};
use super::orders::{order_json, time};
use super::render::Ctx;
use super::upload::Upload;
use crate::domain::actor::Who;
use crate::domain::canteen::acceptance::{self, LineAcceptance};
use crate::domain::canteen::deliveries::{self, DeliveryNote};
use crate::domain::canteen::ordering::{
    self, CatalogueEntry, CatalogueFilter, OrderForm, OrderSheet, OrderUpload, Orderer, Rules,
    TypedQuantities, quantity_field,
};
use crate::domain::canteen::orders::{self as canteen_orders, Reordered};
use crate::domain::canteen::target::{self, TargetProgress};
use crate::domain::canteen::{self, Village};
use crate::domain::cart::CartItem;
use crate::domain::money::format_fen;
use crate::domain::orders::{Checkout, RefusedLine};
use crate::domain::spreadsheet::RowProblem;
use crate::domain::team::delivery_weekdays;
use crate::domain::validation::FieldErrors;
use crate::domain::{china_date, now_utc};
use crate::error::{AppError, AppResult};
use crate::i18n::Lang;
use crate::states::{OrderStatus, PaymentMethod, PaymentTerms, RejectionReason, ShipmentStatus};
use crate::util::random_token;
use chrono::{Datelike, NaiveDate};

/// Weekdays stored as a mask (`1010000`), in words: `周一、周三`.
pub(super) fn weekdays_text(lang: Lang, mask: &str) -> String {
    delivery_weekdays(mask)
        .iter()
        .map(|d| lang.t(&format!("weekday-{d}")))
        .collect::<Vec<_>>()
        .join(lang.t("list-separator").as_str())
}

/// A village's delivery rhythm for a page: its lead time and weekdays, in words.
pub(super) fn delivery_json(lang: Lang, village: &Village) -> Value {
    json!({
        "lead_time_days": village.lead_time_days,
        "weekdays": weekdays_text(lang, &village.delivery_weekdays),
    })
}

pub async fn home(
    state: web::Data<AppState>,
    ctx: Ctx,
    area: CanteenArea,
) -> AppResult<HttpResponse> {
    let scope = area.scope;
    let page = state
        .db(move |conn| canteen::home(conn, scope, now_utc()))
        .await?;
    let lang = ctx.lang;
    let org = &page.organization;
    let terms = match org.payment_terms {
        PaymentTerms::Prepay => lang.t("payment-terms-prepay"),
        PaymentTerms::OnAccount => lang.t_args(
            "canteen-terms-on-account",
            &[("days", org.payment_terms_days.to_string())],
        ),
    };
    let data = json!({
        "user": area.actor.user.display_name,
        "organization": {
            "name": org.name,
            "invoice_title": org.invoice_title,
            "tax_id": org.tax_id,
            "invoice_bank": org.invoice_bank,
            "invoice_account": org.invoice_account,
            "invoice_address_phone": org.invoice_address_phone,
            "address": org.address,
            "contact_name": org.contact_name,
            "terms": terms,
            "on_account": org.payment_terms == PaymentTerms::OnAccount,
            "credit_limit": format_fen(org.credit_limit_fen),
            "approval_threshold": org.approval_threshold_fen.map(format_fen),
            "annual_target": format_fen(org.annual_target_fen),
            "staff_code": org.staff_code,
        },
        "sites": page.sites,
        "members": page.members.iter().map(|(u, role)| json!({
            "name": u.display_name,
            "email": u.email,
            "role": lang.t(&format!("member-role-{role}")),
        })).collect::<Vec<_>>(),
        "villages": page.villages.iter().map(|v| json!({
            "slug": v.slug,
            "name": lang.pick(&v.name_zh, &v.name_en),
            "delivery": delivery_json(lang, v),
        })).collect::<Vec<_>>(),
        "target": target_json(lang, &page.target),
    });
    ctx.page(&state.templates, StatusCode::OK, "pages/canteen_home", data)
}

/// The catalogue's filters as the query gives them.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub struct SheetQuery {
    village: Option<i64>,
    county: String,
    category: String,
    in_season: Option<String>,
}

impl SheetQuery {
    /// The filters as the sheet's own form sends them, so that quantities typed survive
    /// a change of filter.
    fn of_form(pairs: &[(String, String)]) -> SheetQuery {
        let in_season = field(pairs, "in_season");
        SheetQuery {
            village: field(pairs, "village").trim().parse().ok(),
            county: field(pairs, "county"),
            category: field(pairs, "category"),
            in_season: (!in_season.is_empty()).then_some(in_season),
        }
    }

    fn filter(&self) -> CatalogueFilter {
        CatalogueFilter {
            village: self.village,
            county: self.county.clone(),
            category: self.category.clone(),
            in_season: self.in_season.is_some(),
        }
    }
}

/// The order form from the sheet's pairs: `q-<product id>` for quantities.
fn order_form(pairs: &[(String, String)]) -> OrderForm {
    OrderForm {
        quantities: keyed(pairs.iter().map(|(k, v)| (k, v)), "q-"),
        delivery_site: field(pairs, "delivery_site"),
        delivery_date: field(pairs, "delivery_date"),
        po_number: field(pairs, "po_number"),
        note: field(pairs, "note"),
        payment_method: field(pairs, "payment_method"),
        idempotency_key: field(pairs, "idempotency_key"),
    }
}

fn rules(state: &AppState) -> Rules {
    state.canteen_rules()
}

/// What the sheet page shows besides the domain's sheet: the form as typed, its
/// problems, short lines and what changed since a past order.
struct SheetExtras<'a> {
    form: &'a OrderForm,
    errors: &'a FieldErrors,
    refused: &'a [RefusedLine],
    reordered: &'a [Reordered],
    /// An uploaded file's problems, by row.
    upload_problems: &'a [RowProblem],
}

impl<'a> SheetExtras<'a> {
    fn of(form: &'a OrderForm) -> SheetExtras<'a> {
        SheetExtras {
            form,
            errors: &NO_ERRORS,
            refused: &[],
            reordered: &[],
            upload_problems: &[],
        }
    }
}

static NO_ERRORS: FieldErrors = FieldErrors(Vec::new());

fn tiers_text(lang: Lang, entry: &CatalogueEntry) -> String {
    entry
        .tiers
        .iter()
        .map(|t| {
            lang.t_args(
                "canteen-tier",
                &[
                    ("min", t.min_quantity.to_string()),
                    ("price", format_fen(t.unit_price_fen)),
                ],
            )
        })
        .collect::<Vec<_>>()
        .join(lang.t("list-separator").as_str())
}

fn render_sheet(
    state: &AppState,
    ctx: &Ctx,
    status: StatusCode,
    query: &SheetQuery,
    sheet: &OrderSheet,
    extras: SheetExtras,
) -> AppResult<HttpResponse> {
    let lang = ctx.lang;
    let typed = |id: i64| {
        extras
            .form
            .quantities
            .iter()
            .find(|(p, _)| *p == id)
            .map(|(_, q)| q.clone())
            .unwrap_or_default()
    };
    let messages = errors_json(lang, extras.errors);
    let shown: Vec<i64> = sheet.entries.iter().map(|e| e.product.id).collect();
    let entries: Vec<Value> = sheet
        .entries
        .iter()
        .map(|e| {
            let p = &e.product;
            let field = quantity_field(p.id);
            json!({
                "id": p.id, "field": field, "quantity": typed(p.id),
                "error": messages.get(&field),
                "name": lang.pick(&p.name_zh, &p.name_en),
                "unit": lang.pick(&p.sale_unit_zh, &p.sale_unit_en),
                "village": lang.pick(&e.village.name_zh, &e.village.name_en),
                "county": lang.pick(&e.county.name_zh, &e.county.name_en),
                "price": format_fen(e.unit_price_fen),
                "tiers": tiers_text(lang, e),
                "min": p.canteen_min_quantity, "step": p.canteen_step, "stock": p.stock,
                "delivery": delivery_json(lang, &e.village),
            })
        })
        .collect();
    // Quantities typed for products the filter hides travel with the form.
    let hidden: Vec<Value> = extras
        .form
        .quantities
        .iter()
        .filter(|(id, q)| !shown.contains(id) && !q.trim().is_empty())
        .map(|(id, q)| json!({ "field": quantity_field(*id), "quantity": q }))
        .collect();
    let lines: Vec<Value> = sheet.lines.iter().map(|l| line_json(lang, l)).collect();
    let methods: Vec<&str> = sheet.methods.iter().map(|m| m.as_str()).collect();
    let chosen = if extras.form.payment_method.is_empty() {
        methods.first().copied().unwrap_or_default()
    } else {
        extras.form.payment_method.as_str()
    };
    let org = &sheet.organization;
    let values = json!({
        "delivery_date": extras.form.delivery_date,
        "po_number": extras.form.po_number,
        "note": extras.form.note,
        "idempotency_key": extras.form.idempotency_key,
    });
    let data = json!({
        "organization": org.name,
        "entries": entries,
        "hidden": hidden,
        "lines": lines,
        "total": format_fen(sheet.total_fen),
        "overdue": sheet.overdue,
        "credit": sheet.credit.map(|c| json!({
            "limit": format_fen(c.limit_fen),
            "open": format_fen(c.open_fen),
            "available": format_fen(c.available_fen()),
        })),
        "approval_threshold": org.approval_threshold_fen.map(format_fen),
        "earliest_delivery": sheet.earliest_delivery.map(|d| d.to_string()),
        "sites": sheet.sites.iter().map(|s| json!({
            "value": s.id.to_string(), "label": format!("{} · {}", s.name, s.address),
            "selected": s.id.to_string() == extras.form.delivery_site,
        })).collect::<Vec<_>>(),
        "payment_methods": coded_options(lang, &methods, "payment-", chosen),
        "refused": extras.refused.iter().map(|r| json!({
            "name": lang.pick(&r.name_zh, &r.name_en),
            "problem": problem_text(lang, &r.problem),
        })).collect::<Vec<_>>(),
        "upload_problems": extras.upload_problems.iter().map(|p| json!({
            "row": p.row,
            "column": if p.column.is_empty() { String::new() } else { lang.t(&format!("canteen-upload-{}", p.column)) },
            "reason": lang.t_args(p.key, &p.args),
        })).collect::<Vec<_>>(),
        "reordered": extras.reordered.iter().map(|r| json!({
            "name": lang.pick(&r.name_zh, &r.name_en),
            "quantity": r.quantity,
            "was": format_fen(r.was_fen),
            "now": r.now_fen.map(format_fen),
        })).collect::<Vec<_>>(),
        "filter": {
            "village": query.village, "county": query.county, "category": query.category,
            "in_season": query.in_season.is_some(),
        },
        "villages": sheet.villages.iter().map(|v| json!({
            "id": v.id, "name": lang.pick(&v.name_zh, &v.name_en),
            "selected": query.village == Some(v.id),
        })).collect::<Vec<_>>(),
        "counties": sheet.counties.iter().map(|c| json!({
            "slug": c.slug, "name": lang.pick(&c.name_zh, &c.name_en),
            "selected": query.county == c.slug,
        })).collect::<Vec<_>>(),
        "categories": sheet.categories.iter().map(|c| json!({
            "code": c, "name": lang.t(&format!("category-{c}")),
            "selected": &query.category == c,
        })).collect::<Vec<_>>(),
    });
    ctx.form_page(
        &state.templates,
        status,
        "pages/canteen/order",
        data,
        values,
        extras.errors,
    )
}

/// Loads the sheet for `items` and renders it.
async fn sheet_page(
    state: &AppState,
    ctx: &Ctx,
    area: &CanteenArea,
    status: StatusCode,
    query: &SheetQuery,
    items: Vec<CartItem>,
    extras: SheetExtras<'_>,
) -> AppResult<HttpResponse> {
    let (scope, filter, methods) = (area.scope, query.filter(), state.payments.methods());
    let sheet = state
        .db(move |conn| ordering::sheet(conn, scope, &filter, &items, &methods, now_utc()))
        .await?;
    render_sheet(state, ctx, status, query, &sheet, extras)
}

/// Quantities as the sheet shows them typed.
fn typed(items: &[CartItem]) -> TypedQuantities {
    items
        .iter()
        .map(|i| (i.product_id, i.quantity.to_string()))
        .collect()
}

/// A new sheet's form with its own idempotency key. The session's checkout scope is made
/// now, with the page, so that two quick submits of the sheet carry the same one.
fn fresh_form(ctx: &Ctx, quantities: TypedQuantities) -> AppResult<OrderForm> {
    checkout_scope(ctx)?;
    Ok(OrderForm {
        quantities,
        idempotency_key: random_token(16),
        ..OrderForm::default()
    })
}

/// `GET /canteen/order`: the quick-order sheet, empty.
pub async fn order_sheet(
    state: web::Data<AppState>,
    ctx: Ctx,
    area: CanteenArea,
    query: web::Query<SheetQuery>,
) -> AppResult<HttpResponse> {
    let form = fresh_form(&ctx, Vec::new())?;
    let extras = SheetExtras::of(&form);
    sheet_page(
        &state,
        &ctx,
        &area,
        StatusCode::OK,
        &query,
        Vec::new(),
        extras,
    )
    .await
}

/// `POST /canteen/order`: `action=place` places the order (422 naming each field that is
/// wrong, 409 naming short lines); any other action (the review and filter button) prices
/// the sheet again.
pub async fn place(
    state: web::Data<AppState>,
    ctx: Ctx,
    area: CanteenArea,
    CsrfForm(pairs): CsrfForm<Vec<(String, String)>>,
) -> AppResult<HttpResponse> {
    let query = SheetQuery::of_form(&pairs);
    let form = order_form(&pairs);
    let readable = ordering::read_quantities(&form.quantities);
    if field(&pairs, "action") != "place" {
        let errors = readable.as_ref().err().cloned().unwrap_or_default();
        let status = if errors.is_empty() {
            StatusCode::OK
        } else {
            StatusCode::UNPROCESSABLE_ENTITY
        };
        let extras = SheetExtras {
            errors: &errors,
            ..SheetExtras::of(&form)
        };
        let items = readable.unwrap_or_default();
        return sheet_page(&state, &ctx, &area, status, &query, items, extras).await;
    }
    // The sheet's page made the scope; a session without one has no sheet to submit.
    let Some(scope_key) = existing_checkout_scope(&ctx) else {
        return Err(AppError::Invalid(FieldErrors::single(
            "idempotency_key",
            "invalid-stale-form",
        )));
    };
    let orderer = Orderer {
        user_id: area.actor.user.id,
        email: area.actor.user.email.clone(),
        locale: ctx.lang.code().to_string(),
        checkout_scope: scope_key,
    };
    let (who, scope, rules, f) = (
        Who::from(&area.actor),
        area.scope,
        rules(&state),
        form.clone(),
    );
    let result = state
        .db(move |conn| ordering::place(conn, &who, &orderer, scope, &f, &rules, now_utc()))
        .await;
    let (status, errors, refused) = match result {
        Ok(Checkout::Placed(placed) | Checkout::Repeated(placed)) => {
            let order = &placed.order;
            if order.status == OrderStatus::PendingPayment
                && order.payment_method != PaymentMethod::OnAccount
            {
                return Ok(redirect(&super::payments::start(&state, &placed).await?));
            }
            return Ok(redirect(&format!("/canteen/orders/{}", order.id)));
        }
        Ok(Checkout::Refused(refused)) => (StatusCode::CONFLICT, FieldErrors::default(), refused),
        Err(AppError::Invalid(errors)) => (StatusCode::UNPROCESSABLE_ENTITY, errors, Vec::new()),
        Err(e) => return Err(e),
    };
    let extras = SheetExtras {
        errors: &errors,
        refused: &refused,
        ..SheetExtras::of(&form)
    };
    let items = readable.unwrap_or_default();
    sheet_page(&state, &ctx, &area, status, &query, items, extras).await
}

/// `GET /canteen/orders/{id}/reorder`: the sheet filled from a past order at today's
/// prices, with what changed.
pub async fn reorder(
    state: web::Data<AppState>,
    ctx: Ctx,
    area: CanteenArea,
    id: web::Path<i64>,
) -> AppResult<HttpResponse> {
    let (scope, id) = (area.scope, id.into_inner());
    let (items, reordered) = state
        .db(move |conn| canteen_orders::reorder(conn, scope, id))
        .await?;
    let form = fresh_form(&ctx, typed(&items))?;
    let extras = SheetExtras {
        reordered: &reordered,
        ..SheetExtras::of(&form)
    };
    let query = SheetQuery::default();
    sheet_page(&state, &ctx, &area, StatusCode::OK, &query, items, extras).await
}

/// `POST /canteen/order/upload`: an order as CSV or XLSX (code, quantity) fills the
/// sheet when every row is good; otherwise the sheet lists every problem by row (422)
/// and takes none of it.
pub async fn upload(
    state: web::Data<AppState>,
    ctx: Ctx,
    area: CanteenArea,
    upload: Upload,
) -> AppResult<HttpResponse> {
    let mut upload = upload.verified()?;
    let file = upload.take_file("file")?;
    // Read off the async workers and before a database connection is taken.
    let rows = web::block(move || ordering::read_order_file(&file.bytes))
        .await
        .map_err(AppError::internal)?;
    let checked = state
        .db(move |conn| ordering::check_upload(conn, rows))
        .await?;
    let query = SheetQuery::default();
    match checked {
        OrderUpload::Filled(items) => {
            let form = fresh_form(&ctx, typed(&items))?;
            let extras = SheetExtras::of(&form);
            sheet_page(&state, &ctx, &area, StatusCode::OK, &query, items, extras).await
        }
        OrderUpload::Refused(problems) => {
            let form = fresh_form(&ctx, Vec::new())?;
            let extras = SheetExtras {
                upload_problems: &problems,
                ..SheetExtras::of(&form)
            };
            let status = StatusCode::UNPROCESSABLE_ENTITY;
            sheet_page(&state, &ctx, &area, status, &query, Vec::new(), extras).await
        }
    }
}

/// `GET /canteen/order/template.{csv,xlsx}`: the catalogue as an order form to fill in
/// and upload: code, product, village, unit, canteen price, minimum, step, quantity.
pub async fn template(
    state: web::Data<AppState>,
    ctx: Ctx,
    _area: CanteenArea,
    format: web::Path<String>,
) -> AppResult<HttpResponse> {
    let format = Format::parse(&format)?;
    let month = china_date(now_utc()).month();
    let entries = state
        .db(move |conn| ordering::catalogue(conn, &CatalogueFilter::default(), month))
        .await?;
    let lang = ctx.lang;
    let header = [
        "code", "product", "village", "unit", "price", "min", "step", "quantity",
    ]
    .iter()
    .map(|c| lang.t(&format!("canteen-template-{c}")))
    .collect();
    let rows = entries
        .iter()
        .map(|e| {
            let p = &e.product;
            vec![
                Cell::Number(p.id),
                Cell::Text(lang.pick(&p.name_zh, &p.name_en).to_string()),
                Cell::Text(
                    lang.pick(&e.village.name_zh, &e.village.name_en)
                        .to_string(),
                ),
                Cell::Text(lang.pick(&p.sale_unit_zh, &p.sale_unit_en).to_string()),
                Cell::Money(e.unit_price_fen),
                Cell::Number(i64::from(p.canteen_min_quantity)),
                Cell::Number(i64::from(p.canteen_step)),
                Cell::Text(String::new()),
            ]
        })
        .collect();
    let table = Table {
        sheet: lang.t("canteen-order-title"),
        header,
        rows,
    };
    download::respond(&table, format, "order-template")
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub struct PageQuery {
    page: Option<i64>,
}

/// `GET /canteen/orders`: the organisation's orders, every member's.
pub async fn orders_list(
    state: web::Data<AppState>,
    ctx: Ctx,
    area: CanteenArea,
    query: web::Query<PageQuery>,
) -> AppResult<HttpResponse> {
    let (scope, page) = (area.scope, query.page.unwrap_or(1));
    let list = state
        .db(move |conn| canteen_orders::list(conn, scope, page))
        .await?;
    let lang = ctx.lang;
    let data = json!({
        "orders": list.orders.iter().map(|o| json!({
            "id": o.order.id, "number": o.order.number,
            "status": o.order.status,
            "status_label": lang.t(&format!("order-status-{}", o.order.status)),
            "total": format_fen(o.order.total_fen),
            "payment_method": lang.t(&format!("payment-{}", o.order.payment_method)),
            "site": o.site.name,
            "delivery_date": o.part.delivery_date.to_string(),
            "po_number": o.part.po_number,
            "placed": time(o.order.created_at),
        })).collect::<Vec<_>>(),
        "page": list.page,
        "prev": (list.page > 1).then(|| list.page - 1),
        "next": (list.page < list.pages).then(|| list.page + 1),
    });
    ctx.page(
        &state.templates,
        StatusCode::OK,
        "pages/canteen/orders",
        data,
    )
}

async fn render_order(
    state: &AppState,
    ctx: &Ctx,
    area: &CanteenArea,
    id: i64,
    status: StatusCode,
    errors: &FieldErrors,
) -> AppResult<HttpResponse> {
    let scope = area.scope;
    let page = state
        .db(move |conn| canteen_orders::one(conn, scope, id))
        .await?;
    let lang = ctx.lang;
    let mut data = order_json(lang, &page.view);
    let order = &page.view.order;
    let decision = page.view.canteen.as_ref().map(|(part, _)| part);
    let more = json!({
        "placed_by": page.placed_by,
        "decided_by": page.decided_by,
        "decided_at": decision.and_then(|p| p.decided_at).map(time),
        "sent_back_reason": decision.and_then(|p| p.sent_back_reason.clone()),
        "awaiting_approval": order.status == OrderStatus::AwaitingApproval,
        "may_decide": page.may_decide,
        "pay_link": (order.status == OrderStatus::PendingPayment
            && order.payment_method != PaymentMethod::OnAccount)
            .then(|| format!("/orders/{}", order.token)),
    });
    if let (Some(canteen), Value::Object(more)) = (data["canteen"].as_object_mut(), more) {
        canteen.extend(more);
    }
    // A form for each village's part that has arrived and is not accepted yet.
    let messages = errors_json(lang, errors);
    data["acceptance_forms"] = json!(page.view.shipments.iter()
        .filter(|(s, _)| s.status == ShipmentStatus::Delivered && s.accepted_at.is_none())
        .map(|(s, village)| json!({
            "village_id": s.village_id,
            "village": lang.pick(&village.name_zh, &village.name_en),
            "lines": page.view.lines.iter().filter(|l| l.village_id == s.village_id && l.units_left() > 0).map(|l| {
                let (a, r, why) = (acceptance::field("accepted", l.id), acceptance::field("rejected", l.id), acceptance::field("reason", l.id));
                json!({
                    "name": lang.pick(&l.product_name_zh, &l.product_name_en),
                    "unit": lang.pick(&l.sale_unit_zh, &l.sale_unit_en),
                    "sent": l.units_left(),
                    "accepted_field": a, "rejected_field": r, "reason_field": why,
                    "accepted_error": messages.get(&a), "rejected_error": messages.get(&r), "reason_error": messages.get(&why),
                    "reasons": coded_options(lang, RejectionReason::ALL, "rejection-", ""),
                })
            }).collect::<Vec<_>>(),
        })).collect::<Vec<_>>());
    data["acceptance_days"] = json!(acceptance::ACCEPTANCE_DAYS);
    data["csrf_token"] = json!(csrf::token(&ctx.session));
    data["errors"] = messages;
    ctx.page(&state.templates, status, "pages/canteen/order_view", data)
}

/// `GET /canteen/orders/{id}`: one of the organisation's orders; another's is a 404.
pub async fn order_show(
    state: web::Data<AppState>,
    ctx: Ctx,
    area: CanteenArea,
    id: web::Path<i64>,
) -> AppResult<HttpResponse> {
    let id = id.into_inner();
    render_order(
        &state,
        &ctx,
        &area,
        id,
        StatusCode::OK,
        &FieldErrors::default(),
    )
    .await
}

#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(default)]
pub struct DecisionForm {
    reason: String,
}

/// `POST /canteen/orders/{id}/approve` and `/send-back`: an approver's decision.
pub async fn decide(
    state: web::Data<AppState>,
    ctx: Ctx,
    area: CanteenArea,
    path: web::Path<(i64, String)>,
    CsrfForm(form): CsrfForm<DecisionForm>,
) -> AppResult<HttpResponse> {
    let (id, decision) = path.into_inner();
    let (who, scope, approver, rules) = (
        Who::from(&area.actor),
        area.scope,
        area.actor.user.id,
        rules(&state),
    );
    let result = match decision.as_str() {
        "approve" => {
            state
                .db(move |conn| {
                    canteen_orders::approve(conn, &who, approver, scope, id, &rules, now_utc())
                })
                .await
        }
        "send-back" => {
            state
                .db(move |conn| {
                    canteen_orders::send_back(
                        conn,
                        &who,
                        approver,
                        scope,
                        id,
                        &form.reason,
                        now_utc(),
                    )
                })
                .await
        }
        _ => return Err(AppError::NotFound),
    };
    back_to_order(&state, &ctx, &area, id, result).await
}

/// After a form on the order page: back to the page, or the page again (422) with what
/// was wrong.
async fn back_to_order(
    state: &AppState,
    ctx: &Ctx,
    area: &CanteenArea,
    id: i64,
    result: AppResult<()>,
) -> AppResult<HttpResponse> {
    match result {
        Ok(()) => Ok(redirect(&format!("/canteen/orders/{id}"))),
        Err(AppError::Invalid(errors)) => {
            let status = StatusCode::UNPROCESSABLE_ENTITY;
            render_order(state, ctx, area, id, status, &errors).await
        }
        Err(e) => Err(e),
    }
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub struct CalendarQuery {
    from: Option<NaiveDate>,
}

/// `GET /team/deliveries`: the team's canteen deliveries for two weeks from `from`
/// (today in China by default), by day and site, with what to pack.
pub async fn team_calendar(
    state: web::Data<AppState>,
    ctx: Ctx,
    area: TeamArea,
    query: web::Query<CalendarQuery>,
) -> AppResult<HttpResponse> {
    let today = china_date(now_utc());
    let from = query.from.unwrap_or(today);
    // A year either way is as far as a calendar is read (and keeps the date arithmetic
    // far from chrono's limits).
    if (from - today).num_days().abs() > 366 {
        return Err(AppError::bad_field("from", "more than a year from today"));
    }
    let scope = area.scope.clone();
    let days = state
        .db(move |conn| deliveries::calendar(conn, &scope, from))
        .await?;
    let lang = ctx.lang;
    let step = chrono::Duration::days(deliveries::CALENDAR_DAYS);
    let data = json!({
        "from": from.to_string(),
        "to": (from + step - chrono::Duration::days(1)).to_string(),
        "earlier": (from - step).to_string(),
        "later": (from + step).to_string(),
        "days": days.iter().map(|d| json!({
            "date": d.date.to_string(),
            "weekday": lang.t(&format!("weekday-{}", d.date.weekday().number_from_monday())),
            "today": d.date == today,
            "sites": d.sites.iter().map(|s| json!({
                "organization": s.organization,
                "site": s.site.name, "address": s.site.address, "window": s.site.delivery_window,
                "receiver": s.site.receiver, "phone": s.site.phone,
                "orders": s.orders.iter().map(|(o, part)| json!({
                    "id": o.id, "number": o.number,
                    "status_label": lang.t(&format!("order-status-{}", o.status)),
                    "awaiting_approval": o.status == OrderStatus::AwaitingApproval,
                    "po_number": part.po_number,
                })).collect::<Vec<_>>(),
                "to_pack": s.to_pack.iter().map(|p| json!({
                    "name": lang.pick(&p.name_zh, &p.name_en),
                    "unit": lang.pick(&p.unit_zh, &p.unit_en),
                    "quantity": p.quantity,
                })).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
    });
    ctx.page(
        &state.templates,
        StatusCode::OK,
        "pages/canteen/deliveries",
        data,
    )
}

fn render_note(state: &AppState, ctx: &Ctx, note: &DeliveryNote) -> AppResult<HttpResponse> {
    let lang = ctx.lang;
    let data = json!({
        "number": note.order.number,
        "order_id": note.order.id,
        "po_number": note.part.po_number,
        "delivery_date": note.part.delivery_date.to_string(),
        "organization": note.organization.name,
        "site": note.site.name, "address": note.site.address, "receiver": note.site.receiver,
        "phone": note.site.phone, "window": note.site.delivery_window,
        "village": lang.pick(&note.village.name_zh, &note.village.name_en),
        "shipment_status": note.shipment.as_ref().map(|s| lang.t(&format!("shipment-status-{}", s.status))),
        "lines": note.lines.iter().map(|n| json!({
            "name": lang.pick(&n.line.product_name_zh, &n.line.product_name_en),
            "unit": lang.pick(&n.line.sale_unit_zh, &n.line.sale_unit_en),
            "quantity": n.line.units_left(),
            "unit_price": format_fen(n.line.unit_price_fen),
            "line_total": format_fen(n.amount_fen),
            "households": n.households,
            "expected": n.expected,
        })).collect::<Vec<_>>(),
        "total": format_fen(note.total_fen),
    });
    ctx.page(
        &state.templates,
        StatusCode::OK,
        "pages/canteen/delivery_note",
        data,
    )
}

/// `GET /team/orders/{id}/villages/{village}/delivery-note`: the delivery note of one of
/// the team's villages' part of a canteen order, to print.
pub async fn team_delivery_note(
    state: web::Data<AppState>,
    ctx: Ctx,
    area: TeamArea,
    path: web::Path<(i64, i64)>,
) -> AppResult<HttpResponse> {
    let ((order, village), scope) = (path.into_inner(), area.scope.clone());
    let note = state
        .db(move |conn| deliveries::team_note(conn, &scope, order, village))
        .await?;
    render_note(&state, &ctx, &note)
}

/// `GET /canteen/orders/{id}/villages/{village}/delivery-note`: the same note, for the
/// organisation's members.
pub async fn canteen_delivery_note(
    state: web::Data<AppState>,
    ctx: Ctx,
    area: CanteenArea,
    path: web::Path<(i64, i64)>,
) -> AppResult<HttpResponse> {
    let ((order, village), scope) = (path.into_inner(), area.scope);
    let note = state
        .db(move |conn| deliveries::canteen_note(conn, scope, order, village))
        .await?;
    render_note(&state, &ctx, &note)
}

/// `POST /canteen/orders/{id}/villages/{village}/acceptance`: a member records what
/// arrived of a village's part (`accepted-<line>`, `rejected-<line>`, `reason-<line>`).
pub async fn accept(
    state: web::Data<AppState>,
    ctx: Ctx,
    area: CanteenArea,
    path: web::Path<(i64, i64)>,
    CsrfForm(pairs): CsrfForm<Vec<(String, String)>>,
) -> AppResult<HttpResponse> {
    let (id, village) = path.into_inner();
    let typed = |kind: &str| keyed(pairs.iter().map(|(k, v)| (k, v)), &format!("{kind}-"));
    let (accepted, rejected, reasons) = (typed("accepted"), typed("rejected"), typed("reason"));
    let mut line_ids: Vec<i64> = accepted
        .iter()
        .chain(&rejected)
        .chain(&reasons)
        .map(|(id, _)| *id)
        .collect();
    line_ids.sort_unstable();
    line_ids.dedup();
    let value = |of: &[(i64, String)], id: i64| {
        of.iter()
            .find(|(l, _)| *l == id)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let lines: Vec<LineAcceptance> = line_ids
        .into_iter()
        .map(|line_id| LineAcceptance {
            line_id,
            accepted: value(&accepted, line_id),
            rejected: value(&rejected, line_id),
            reason: value(&reasons, line_id),
        })
        .collect();
    let (who, member, scope) = (Who::from(&area.actor), area.actor.user.id, area.scope);
    let result = state
        .db(move |conn| {
            acceptance::record(conn, &who, member, scope, id, village, &lines, now_utc())
        })
        .await;
    back_to_order(&state, &ctx, &area, id, result).await
}

fn target_json(lang: Lang, t: &TargetProgress) -> Value {
    let (bar, label) = charts::target_bar(lang, t.bought_fen, t.target_fen);
    json!({
        "year": t.year,
        "staff": (t.staff_fen > 0).then(|| lang.t_args("target-staff", &[("amount", format_fen(t.staff_fen))])),
        "bar": bar,
        "label": label,
        "by_village": t.by_village.iter().map(|v| json!({
            "village": lang.pick(&v.village_zh, &v.village_en),
            "county": lang.pick(&v.county_zh, &v.county_en),
            "amount": format_fen(v.fen),
        })).collect::<Vec<_>>(),
        "by_county": t.by_county.iter().map(|(zh, en, fen)| json!({
            "county": lang.pick(zh, en), "amount": format_fen(*fen),
        })).collect::<Vec<_>>(),
    })
}

/// `GET /canteen/target.{csv,xlsx}`: this year's purchases by village, for the
/// organisation's annual report.
pub async fn target_download(
    state: web::Data<AppState>,
    ctx: Ctx,
    area: CanteenArea,
    format: web::Path<String>,
) -> AppResult<HttpResponse> {
    let format = Format::parse(&format)?;
    let scope = area.scope;
    let t = state
        .db(move |conn| target::progress(conn, scope, now_utc()))
        .await?;
    let lang = ctx.lang;
    let header = ["county", "village", "amount"]
        .iter()
        .map(|c| lang.t(&format!("target-column-{c}")))
        .collect();
    let mut rows: Vec<Vec<Cell>> = t
        .by_village
        .iter()
        .map(|v| {
            vec![
                Cell::Text(lang.pick(&v.county_zh, &v.county_en).to_string()),
                Cell::Text(lang.pick(&v.village_zh, &v.village_en).to_string()),
                Cell::Money(v.fen),
            ]
        })
        .collect();
    rows.push(vec![
        Cell::Text(lang.t("target-column-total")),
        Cell::Text(String::new()),
        Cell::Money(t.bought_fen),
    ]);
    rows.push(vec![
        Cell::Text(lang.t("target-column-target")),
        Cell::Text(String::new()),
        Cell::Money(t.target_fen),
    ]);
    let table = Table {
        sheet: lang.t_args("target-title", &[("year", t.year.to_string())]),
        header,
        rows,
    };
    download::respond(&table, format, &format!("target-{}", t.year))
}
