//! `/team/households`: the village register — list, search, create, edit, archive,
//! import from CSV/XLSX and export. Every lookup goes through the member's villages.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::{Value, json};

use super::AppState;
use super::auth::{TeamArea, redirect};
use super::csrf::{self, CsrfForm};
use super::download::{self, Cell, Format, Table};
use super::forms::{coded_options, village_options};
use super::render::Ctx;
use super::upload::Upload;
use crate::domain::actor::Who;
use crate::domain::households::{
    self, Household, HouseholdEdit, HouseholdForm, ImportOutcome, ImportSummary, RowProblem,
    Search, Village,
};
use crate::domain::validation::FieldErrors;
use crate::domain::{now_utc, register, team};
use crate::error::{AppError, AppResult};
use crate::i18n::Lang;
use crate::states::{HouseholdCategory, PayoutMethod};

#[derive(Deserialize, Default, Clone)]
pub struct ListParams {
    #[serde(default)]
    q: String,
    #[serde(default)]
    category: String,
    #[serde(default)]
    archived: String,
    page: Option<String>,
}

impl ListParams {
    fn search(&self) -> Search<'_> {
        Search {
            query: &self.q,
            category: &self.category,
            archived: self.archived == "1",
        }
    }

    fn page(&self) -> AppResult<i64> {
        match self.page.as_deref().map(str::trim) {
            None | Some("") => Ok(1),
            Some(p) => p
                .parse::<i64>()
                .ok()
                .filter(|n| (1..=100_000).contains(n))
                .ok_or_else(|| AppError::bad_field("page", p)),
        }
    }
}

fn household_row(lang: Lang, h: &Household, villages: &[Village]) -> Value {
    json!({
        "id": h.id,
        "code": h.code,
        "head_name": h.head_name,
        "resident_members": h.resident_members,
        "category": lang.t(&format!("category-household-{}", h.category)),
        "phone": h.phone,
        "payout_method": lang.t(&format!("payout-{}", h.payout_method)),
        "village": villages.iter().find(|v| v.id == h.village_id).map(|v| lang.pick(&v.name_zh, &v.name_en)),
        "archived": h.archived,
    })
}

pub async fn list(
    state: web::Data<AppState>,
    ctx: Ctx,
    area: TeamArea,
    params: web::Query<ListParams>,
) -> AppResult<HttpResponse> {
    let params = params.into_inner();
    let page = params.page()?;
    let (scope, p) = (area.scope.clone(), params.clone());
    let register = state
        .db(move |conn| households::list(conn, &scope, &p.search(), page))
        .await?;
    let lang = ctx.lang;
    let total = register.total;
    let pages = ((total + households::PAGE_SIZE - 1) / households::PAGE_SIZE).max(1);
    let query = |page: i64| {
        let mut s = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in [
            ("q", params.q.as_str()),
            ("category", &params.category),
            ("archived", &params.archived),
        ] {
            if !v.is_empty() {
                s.append_pair(k, v);
            }
        }
        if page > 1 {
            s.append_pair("page", &page.to_string());
        }
        s.finish()
    };
    let data = json!({
        "households": register.households.iter().map(|h| household_row(lang, h, &register.villages)).collect::<Vec<_>>(),
        "total": total,
        "q": params.q,
        "archived": params.archived == "1",
        "categories": coded_options(lang, HouseholdCategory::ALL, "category-household-", &params.category),
        "page": page,
        "pages": pages,
        "prev": (page > 1).then(|| format!("/team/households?{}", query(page - 1))),
        "next": (page < pages).then(|| format!("/team/households?{}", query(page + 1))),
        "export_query": query(1),
    });
    ctx.page(
        &state.templates,
        StatusCode::OK,
        "pages/team/households",
        data,
    )
}

/// What the create/edit form shows: the values typed so far and any problems.
struct FormPage<'a> {
    villages: &'a [Village],
    village_id: &'a str,
    household: Option<&'a Household>,
    form: &'a HouseholdForm,
    errors: &'a FieldErrors,
}

fn render_form(
    state: &AppState,
    ctx: &Ctx,
    status: StatusCode,
    page: FormPage,
) -> AppResult<HttpResponse> {
    let lang = ctx.lang;
    let FormPage {
        villages,
        village_id,
        household,
        form,
        errors,
    } = page;
    let data = json!({
        "household": household.map(|h| json!({ "id": h.id, "archived": h.archived })),
        "action": household.map_or("/team/households".to_string(), |h| format!("/team/households/{}", h.id)),
        "villages": village_options(lang, villages, village_id),
        "categories": coded_options(lang, HouseholdCategory::ALL, "category-household-", &form.category),
        "payout_methods": coded_options(lang, PayoutMethod::ALL, "payout-", &form.payout_method),
    });
    ctx.form_page(
        &state.templates,
        status,
        "pages/team/household_form",
        data,
        form,
        errors,
    )
}

async fn villages(state: &AppState, area: &TeamArea) -> AppResult<Vec<Village>> {
    let scope = area.scope.clone();
    state.db(move |conn| team::villages(conn, &scope)).await
}

pub async fn new_form(
    state: web::Data<AppState>,
    ctx: Ctx,
    area: TeamArea,
) -> AppResult<HttpResponse> {
    let villages = villages(&state, &area).await?;
    let first = villages
        .first()
        .map(|v| v.id.to_string())
        .unwrap_or_default();
    render_form(
        &state,
        &ctx,
        StatusCode::OK,
        FormPage {
            villages: &villages,
            village_id: &first,
            household: None,
            form: &HouseholdForm::new_household(),
            errors: &FieldErrors::default(),
        },
    )
}

#[derive(Deserialize)]
pub struct CreateForm {
    #[serde(default)]
    village_id: String,
    #[serde(flatten)]
    household: HouseholdForm,
}

pub async fn create(
    state: web::Data<AppState>,
    ctx: Ctx,
    area: TeamArea,
    CsrfForm(form): CsrfForm<CreateForm>,
) -> AppResult<HttpResponse> {
    let who = Who::from(&area.actor);
    let (scope, village_id, household) = (
        area.scope.clone(),
        form.village_id.clone(),
        form.household.clone(),
    );
    let result = state
        .db(move |conn| households::create(conn, &who, &scope, &village_id, &household, now_utc()))
        .await;
    match result {
        Ok(id) => Ok(redirect(&format!("/team/households/{id}?saved=1"))),
        Err(AppError::Invalid(errors)) => {
            let villages = villages(&state, &area).await?;
            render_form(
                &state,
                &ctx,
                StatusCode::UNPROCESSABLE_ENTITY,
                FormPage {
                    villages: &villages,
                    village_id: &form.village_id,
                    household: None,
                    form: &form.household,
                    errors: &errors,
                },
            )
        }
        Err(e) => Err(e),
    }
}

async fn edit(state: &AppState, area: &TeamArea, id: i64) -> AppResult<HouseholdEdit> {
    let scope = area.scope.clone();
    state
        .db(move |conn| households::edit(conn, &scope, id))
        .await
}

fn render_edit(
    state: &AppState,
    ctx: &Ctx,
    status: StatusCode,
    page: &HouseholdEdit,
    form: &HouseholdForm,
    errors: &FieldErrors,
) -> AppResult<HttpResponse> {
    let village_id = page.household.village_id.to_string();
    render_form(
        state,
        ctx,
        status,
        FormPage {
            villages: &page.villages,
            village_id: &village_id,
            household: Some(&page.household),
            form,
            errors,
        },
    )
}

pub async fn edit_form(
    state: web::Data<AppState>,
    ctx: Ctx,
    area: TeamArea,
    id: web::Path<i64>,
) -> AppResult<HttpResponse> {
    let page = edit(&state, &area, id.into_inner()).await?;
    let form = HouseholdForm::of(&page.household);
    render_edit(
        &state,
        &ctx,
        StatusCode::OK,
        &page,
        &form,
        &FieldErrors::default(),
    )
}

pub async fn update(
    state: web::Data<AppState>,
    ctx: Ctx,
    area: TeamArea,
    id: web::Path<i64>,
    CsrfForm(form): CsrfForm<HouseholdForm>,
) -> AppResult<HttpResponse> {
    let id = id.into_inner();
    let who = Who::from(&area.actor);
    let (scope, f) = (area.scope.clone(), form.clone());
    let result = state
        .db(move |conn| households::update(conn, &who, &scope, id, &f, now_utc()))
        .await;
    match result {
        Ok(()) => Ok(redirect(&format!("/team/households/{id}?saved=1"))),
        Err(AppError::Invalid(errors)) => {
            let page = edit(&state, &area, id).await?;
            let status = StatusCode::UNPROCESSABLE_ENTITY;
            render_edit(&state, &ctx, status, &page, &form, &errors)
        }
        Err(e) => Err(e),
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ArchiveForm {
    archived: String,
}

pub async fn archive(
    state: web::Data<AppState>,
    area: TeamArea,
    id: web::Path<i64>,
    CsrfForm(form): CsrfForm<ArchiveForm>,
) -> AppResult<HttpResponse> {
    let id = id.into_inner();
    let who = Who::from(&area.actor);
    let scope = area.scope.clone();
    state
        .db(move |conn| households::set_archived(conn, &who, &scope, id, &form.archived, now_utc()))
        .await?;
    Ok(redirect(&format!("/team/households/{id}")))
}

pub async fn export(
    state: web::Data<AppState>,
    ctx: Ctx,
    area: TeamArea,
    format: web::Path<String>,
    params: web::Query<ListParams>,
) -> AppResult<HttpResponse> {
    let format = Format::parse(&format).map_err(|_| AppError::NotFound)?;
    let params = params.into_inner();
    let scope = area.scope.clone();
    let rows = state
        .db(move |conn| households::export(conn, &scope, &params.search()))
        .await?;
    let lang = ctx.lang;
    let table = Table {
        sheet: lang.t("households-sheet"),
        header: register::export_header(lang),
        rows: rows
            .iter()
            .map(|h| {
                // Every cell as text: a phone number must not become 1.38E+10.
                register::export_row(lang, h)
                    .into_iter()
                    .map(Cell::Text)
                    .collect()
            })
            .collect(),
    };
    download::respond(&table, format, "households")
}

fn render_import(
    state: &AppState,
    ctx: &Ctx,
    status: StatusCode,
    villages: &[Village],
    village_id: &str,
    problems: &[RowProblem],
    summary: Option<&ImportSummary>,
) -> AppResult<HttpResponse> {
    let lang = ctx.lang;
    let data = json!({
        "csrf_token": csrf::token(&ctx.session),
        "villages": village_options(lang, villages, village_id),
        "problems": problems.iter().map(|p| json!({
            "row": p.row,
            "column": if p.column.is_empty() { String::new() } else { lang.t(&format!("household-{}", p.column.replace('_', "-"))) },
            "reason": lang.t_args(p.key, &p.args),
        })).collect::<Vec<_>>(),
        "summary": summary.map(|s| json!({ "created": s.created, "updated": s.updated, "unchanged": s.unchanged })),
    });
    ctx.page(
        &state.templates,
        status,
        "pages/team/household_import",
        data,
    )
}

pub async fn import_form(
    state: web::Data<AppState>,
    ctx: Ctx,
    area: TeamArea,
) -> AppResult<HttpResponse> {
    let villages = villages(&state, &area).await?;
    let first = villages
        .first()
        .map(|v| v.id.to_string())
        .unwrap_or_default();
    render_import(&state, &ctx, StatusCode::OK, &villages, &first, &[], None)
}

pub async fn import(
    state: web::Data<AppState>,
    ctx: Ctx,
    area: TeamArea,
    upload: Upload,
) -> AppResult<HttpResponse> {
    let mut upload = upload.verified()?;
    let village_id = upload.text("village_id").to_string();
    let file = upload.take_file("file")?;
    // Read off the async workers and before a database connection is taken.
    let register = web::block(move || register::read(&file.bytes))
        .await
        .map_err(AppError::internal)?;
    let who = Who::from(&area.actor);
    let (scope, v) = (area.scope.clone(), village_id.clone());
    let page = state
        .db(move |conn| register::import(conn, &who, &scope, &v, register, now_utc()))
        .await?;
    let (status, problems, summary) = match &page.outcome {
        ImportOutcome::Imported(summary) => (StatusCode::OK, &[][..], Some(summary)),
        ImportOutcome::Refused(problems) => (StatusCode::UNPROCESSABLE_ENTITY, &problems[..], None),
    };
    render_import(
        &state,
        &ctx,
        status,
        &page.villages,
        &village_id,
        problems,
        summary,
    )
}
