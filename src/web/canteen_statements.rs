//! Monthly statements (对账单) on the web: an organisation's members list and print theirs
//! (`/canteen/statements…`), download one as CSV or XLSX; the city office lists every
//! statement, overdue ones marked, and records payments and invoice numbers
//! (`/admin/statements…`).

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use serde_json::{Value, json};

use super::AppState;
use super::auth::{AdminArea, CanteenArea, redirect};
use super::csrf::CsrfForm;
use super::download::{self, Cell, Format, Table};
use super::orders::time;
use super::render::Ctx;
use crate::domain::actor::Who;
use crate::domain::canteen::statements::{self, PaymentForm, Statement, StatementView};
use crate::domain::money::format_fen;
use crate::domain::validation::FieldErrors;
use crate::domain::{china_date, now_utc};
use crate::error::{AppError, AppResult};
use crate::i18n::Lang;

fn summary_json(lang: Lang, s: &Statement, today: chrono::NaiveDate) -> Value {
    let overdue = s.is_overdue(today);
    let state = if s.paid_at.is_some() {
        "paid"
    } else if overdue {
        "overdue"
    } else if s.paid_fen > 0 {
        "part-paid"
    } else {
        "issued"
    };
    json!({
        "id": s.id,
        "number": s.number,
        "month": s.month.format("%Y-%m").to_string(),
        "issued": time(s.issued_at),
        "due_date": s.due_date.to_string(),
        "total": format_fen(s.total_fen),
        "paid": format_fen(s.paid_fen),
        "outstanding": format_fen(s.outstanding_fen()),
        "invoice_number": s.invoice_number,
        "overdue": overdue,
        "fully_paid": s.paid_at.is_some(),
        "state": state,
        "state_label": lang.t(&format!("statement-state-{state}")),
    })
}

fn view_json(lang: Lang, v: &StatementView) -> Value {
    let mut data = summary_json(lang, &v.statement, v.today);
    let org = &v.organization;
    data["organization"] = json!({
        "name": org.name, "invoice_title": org.invoice_title, "tax_id": org.tax_id,
        "invoice_bank": org.invoice_bank, "invoice_account": org.invoice_account,
        "invoice_address_phone": org.invoice_address_phone,
    });
    data["goods"] = json!(format_fen(v.statement.goods_fen));
    data["credits"] = json!(format_fen(v.statement.credits_fen));
    data["orders"] = json!(v.orders);
    data["orders_paid"] = json!(v.orders_paid);
    data["shipments"] = json!(
        v.shipments
            .iter()
            .map(|s| json!({
                "order_id": s.order.id,
                "number": s.order.number,
                "delivery_date": s.part.delivery_date.to_string(),
                "po_number": s.part.po_number,
                "site": s.site.name,
                "village": lang.pick(&s.village_zh, &s.village_en),
                "goods": format_fen(s.goods_fen),
                "credits": format_fen(s.credits_fen),
                "amount": format_fen(s.amount_fen()),
                "status_label": lang.t(&format!("order-status-{}", s.order.status)),
            }))
            .collect::<Vec<_>>()
    );
    data["payments"] = json!(
        v.payments
            .iter()
            .map(|p| json!({
                "amount": format_fen(p.amount_fen),
                "bank_reference": p.bank_reference,
                "paid_on": p.paid_on.to_string(),
                "recorded": time(p.recorded_at),
            }))
            .collect::<Vec<_>>()
    );
    data
}

/// The statement as a table: one row per village shipment, then the totals.
fn table(lang: Lang, v: &StatementView) -> Table {
    let header = [
        "delivery-date",
        "order",
        "po",
        "site",
        "village",
        "goods",
        "credits",
        "amount",
    ]
    .iter()
    .map(|c| lang.t(&format!("statement-column-{c}")))
    .collect();
    let mut rows: Vec<Vec<Cell>> = v
        .shipments
        .iter()
        .map(|s| {
            vec![
                Cell::Text(s.part.delivery_date.to_string()),
                Cell::Text(s.order.number.clone()),
                Cell::Text(s.part.po_number.clone()),
                Cell::Text(s.site.name.clone()),
                Cell::Text(lang.pick(&s.village_zh, &s.village_en).to_string()),
                Cell::Money(s.goods_fen),
                Cell::Money(s.credits_fen),
                Cell::Money(s.amount_fen()),
            ]
        })
        .collect();
    let st = &v.statement;
    let sum = |label: &str, goods: Option<i64>, credits: Option<i64>, amount: i64| {
        let money = |fen: Option<i64>| fen.map_or(Cell::Text(String::new()), Cell::Money);
        let mut row = vec![Cell::Text(lang.t(label))];
        row.extend((0..4).map(|_| Cell::Text(String::new())));
        row.extend([money(goods), money(credits), Cell::Money(amount)]);
        row
    };
    rows.push(sum(
        "statement-total",
        Some(st.goods_fen),
        Some(st.credits_fen),
        st.total_fen,
    ));
    rows.push(sum("statement-paid", None, None, st.paid_fen));
    rows.push(sum(
        "statement-outstanding",
        None,
        None,
        st.outstanding_fen(),
    ));
    Table {
        sheet: st.number.clone(),
        header,
        rows,
    }
}

/// `GET /canteen/statements`: the organisation's statements, overdue ones marked.
pub async fn list(
    state: web::Data<AppState>,
    ctx: Ctx,
    area: CanteenArea,
) -> AppResult<HttpResponse> {
    let scope = area.scope;
    let all = state
        .db(move |conn| statements::of_organization(conn, scope))
        .await?;
    let today = china_date(now_utc());
    let data = json!({
        "statements": all.iter().map(|s| summary_json(ctx.lang, s, today)).collect::<Vec<_>>(),
        "overdue": all.iter().any(|s| s.is_overdue(today)),
    });
    ctx.page(
        &state.templates,
        StatusCode::OK,
        "pages/canteen/statements",
        data,
    )
}

/// `GET /canteen/statements/{id}`: one of the organisation's statements, to print;
/// another organisation's is a 404.
pub async fn show(
    state: web::Data<AppState>,
    ctx: Ctx,
    area: CanteenArea,
    id: web::Path<i64>,
) -> AppResult<HttpResponse> {
    let (scope, id) = (area.scope, id.into_inner());
    let view = state
        .db(move |conn| statements::for_member(conn, scope, id, now_utc()))
        .await?;
    let data = view_json(ctx.lang, &view);
    ctx.page(
        &state.templates,
        StatusCode::OK,
        "pages/canteen/statement",
        data,
    )
}

/// `GET /canteen/statements/{id}/download.{csv,xlsx}`.
pub async fn download(
    state: web::Data<AppState>,
    ctx: Ctx,
    area: CanteenArea,
    path: web::Path<(i64, String)>,
) -> AppResult<HttpResponse> {
    let (id, format) = path.into_inner();
    let format = Format::parse(&format)?;
    let scope = area.scope;
    let view = state
        .db(move |conn| statements::for_member(conn, scope, id, now_utc()))
        .await?;
    download::respond(&table(ctx.lang, &view), format, &view.statement.number)
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub struct AdminListQuery {
    unpaid: bool,
}

/// `GET /admin/statements[?unpaid=true]`: every statement, overdue ones first marked.
pub async fn admin_list(
    state: web::Data<AppState>,
    ctx: Ctx,
    _area: AdminArea,
    query: web::Query<AdminListQuery>,
) -> AppResult<HttpResponse> {
    let unpaid = query.unpaid;
    let all = state.db(move |conn| statements::all(conn, unpaid)).await?;
    let today = china_date(now_utc());
    let rows: Vec<Value> = all
        .iter()
        .map(|(s, org)| {
            let mut row = summary_json(ctx.lang, s, today);
            row["organization"] = json!(org);
            row
        })
        .collect();
    let overdue: Vec<&Value> = rows
        .iter()
        .filter(|r| r["overdue"] == json!(true))
        .collect();
    let data = json!({ "overdue": overdue, "statements": rows, "unpaid": unpaid });
    ctx.page(
        &state.templates,
        StatusCode::OK,
        "pages/admin/statements",
        data,
    )
}

async fn render_admin(
    state: &AppState,
    ctx: &Ctx,
    id: i64,
    status: StatusCode,
    values: &PaymentForm,
    errors: &FieldErrors,
) -> AppResult<HttpResponse> {
    let view = state
        .db(move |conn| statements::for_admin(conn, id, now_utc()))
        .await?;
    let mut data = view_json(ctx.lang, &view);
    data["admin"] = json!(true);
    ctx.form_page(
        &state.templates,
        status,
        "pages/canteen/statement",
        data,
        values,
        errors,
    )
}

/// `GET /admin/statements/{id}`: a statement with the forms to record a payment and the
/// invoice number.
pub async fn admin_show(
    state: web::Data<AppState>,
    ctx: Ctx,
    _area: AdminArea,
    id: web::Path<i64>,
) -> AppResult<HttpResponse> {
    let values = PaymentForm {
        paid_on: china_date(now_utc()).to_string(),
        ..PaymentForm::default()
    };
    render_admin(
        &state,
        &ctx,
        id.into_inner(),
        StatusCode::OK,
        &values,
        &FieldErrors::default(),
    )
    .await
}

/// `GET /admin/statements/{id}/download.{csv,xlsx}`.
pub async fn admin_download(
    state: web::Data<AppState>,
    ctx: Ctx,
    _area: AdminArea,
    path: web::Path<(i64, String)>,
) -> AppResult<HttpResponse> {
    let (id, format) = path.into_inner();
    let format = Format::parse(&format)?;
    let view = state
        .db(move |conn| statements::for_admin(conn, id, now_utc()))
        .await?;
    download::respond(&table(ctx.lang, &view), format, &view.statement.number)
}

/// After a change to a statement: back to it, or its page again with the form's problems.
async fn after(
    state: &AppState,
    ctx: &Ctx,
    id: i64,
    values: &PaymentForm,
    result: AppResult<()>,
) -> AppResult<HttpResponse> {
    match result {
        Ok(()) => Ok(redirect(&format!("/admin/statements/{id}"))),
        Err(AppError::Invalid(errors)) => {
            let status = StatusCode::UNPROCESSABLE_ENTITY;
            render_admin(state, ctx, id, status, values, &errors).await
        }
        Err(e) => Err(e),
    }
}

/// `POST /admin/statements/{id}/payments`: a payment of the statement (all or part).
pub async fn record_payment(
    state: web::Data<AppState>,
    ctx: Ctx,
    area: AdminArea,
    id: web::Path<i64>,
    CsrfForm(form): CsrfForm<PaymentForm>,
) -> AppResult<HttpResponse> {
    let id = id.into_inner();
    let who = Who::from(&area.actor);
    let bp = state.config.collective_share_bp;
    let typed = form.clone();
    let result = state
        .db(move |conn| statements::record_payment(conn, &who, id, &form, bp, now_utc()))
        .await;
    after(&state, &ctx, id, &typed, result).await
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub struct InvoiceForm {
    invoice_number: String,
}

/// `POST /admin/statements/{id}/invoice`: the invoice number (发票号) issued for it.
pub async fn set_invoice(
    state: web::Data<AppState>,
    ctx: Ctx,
    area: AdminArea,
    id: web::Path<i64>,
    CsrfForm(form): CsrfForm<InvoiceForm>,
) -> AppResult<HttpResponse> {
    let id = id.into_inner();
    let who = Who::from(&area.actor);
    let result = state
        .db(move |conn| {
            statements::set_invoice_number(conn, &who, id, &form.invoice_number, now_utc())
        })
        .await;
    after(&state, &ctx, id, &PaymentForm::default(), result).await
}
