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
use super::forms::{coded_options, errors_json, village_options};
use super::render::Ctx;
use super::upload::Upload;
use crate::db::catalog::{Village, villages_by_ids};
use crate::db::households::{Household, HouseholdFilter, in_villages};
use crate::domain::audit::Who;
use crate::domain::households::{
    self, CATEGORIES, HouseholdError, HouseholdForm, ImportError, PAYOUT_METHODS, RowProblem,
};
use crate::domain::validation::FieldErrors;
use crate::domain::{now_utc, register};
use crate::error::{AppError, AppResult};
use crate::i18n::Lang;

#[derive(Deserialize, Default)]
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
    fn filter<'a>(&'a self, village_ids: &'a [i64]) -> HouseholdFilter<'a> {
        HouseholdFilter {
            village_ids,
            query: self.q.trim(),
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
    let ids = area.village_ids.clone();
    let (params, (rows, total, villages)) = state
        .db(move |conn| {
            let (rows, total) = households::list(conn, &params.filter(&ids), page)?;
            let villages = villages_by_ids(conn, &ids)?;
            Ok::<_, AppError>((params, (rows, total, villages)))
        })
        .await?;
    let lang = ctx.lang;
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
        "households": rows.iter().map(|h| household_row(lang, h, &villages)).collect::<Vec<_>>(),
        "total": total,
        "q": params.q,
        "archived": params.archived == "1",
        "categories": coded_options(lang, &CATEGORIES, "category-household-", &params.category),
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
        "csrf_token": csrf::token(&ctx.session),
        "household": household.map(|h| json!({ "id": h.id, "archived": h.archived })),
        "action": household.map_or("/team/households".to_string(), |h| format!("/team/households/{}", h.id)),
        "values": form,
        "errors": errors_json(lang, errors),
        "has_errors": !errors.is_empty(),
        "villages": village_options(lang, villages, village_id),
        "categories": coded_options(lang, &CATEGORIES, "category-household-", &form.category),
        "payout_methods": coded_options(lang, &PAYOUT_METHODS, "payout-", &form.payout_method),
    });
    ctx.page(&state.templates, status, "pages/team/household_form", data)
}

pub async fn new_form(
    state: web::Data<AppState>,
    ctx: Ctx,
    area: TeamArea,
) -> AppResult<HttpResponse> {
    let villages = area.villages(&state).await?;
    let first = villages
        .first()
        .map(|v| v.id.to_string())
        .unwrap_or_default();
    let form = HouseholdForm {
        payout_method: "bank".into(),
        category: "yiban".into(),
        ..Default::default()
    };
    render_form(
        &state,
        &ctx,
        StatusCode::OK,
        FormPage {
            villages: &villages,
            village_id: &first,
            household: None,
            form: &form,
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
    let villages = area.villages(&state).await?;
    // A village outside the member's scope is refused like any wrong choice.
    let Some(village_id) = form
        .village_id
        .trim()
        .parse::<i64>()
        .ok()
        .filter(|id| area.village_ids.contains(id))
    else {
        let errors = FieldErrors::single("village_id", "invalid-choice");
        return render_form(
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
        );
    };
    let who = Who::from(&area.actor);
    let household = form.household.clone();
    let result = state
        .db(move |conn| {
            Ok::<_, AppError>(households::create(
                conn,
                &who,
                village_id,
                &household,
                now_utc(),
            ))
        })
        .await?;
    match result {
        Ok(id) => Ok(redirect(&format!("/team/households/{id}?saved=1"))),
        Err(HouseholdError::Invalid(errors)) => render_form(
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
        ),
        Err(HouseholdError::Database(e)) => Err(e.into()),
    }
}

async fn find(state: &AppState, area: &TeamArea, id: i64) -> AppResult<Household> {
    let ids = area.village_ids.clone();
    state
        .db(move |conn| in_villages(conn, &ids, id))
        .await?
        .ok_or(AppError::NotFound)
}

fn form_of(h: &Household) -> HouseholdForm {
    HouseholdForm {
        code: h.code.clone(),
        head_name: h.head_name.clone(),
        resident_members: h.resident_members.to_string(),
        category: h.category.clone(),
        phone: h.phone.clone().unwrap_or_default(),
        payout_method: h.payout_method.clone(),
        payout_account: h.payout_account.clone().unwrap_or_default(),
    }
}

pub async fn edit_form(
    state: web::Data<AppState>,
    ctx: Ctx,
    area: TeamArea,
    id: web::Path<i64>,
) -> AppResult<HttpResponse> {
    let household = find(&state, &area, id.into_inner()).await?;
    let villages = area.villages(&state).await?;
    let village_id = household.village_id.to_string();
    render_form(
        &state,
        &ctx,
        StatusCode::OK,
        FormPage {
            villages: &villages,
            village_id: &village_id,
            household: Some(&household),
            form: &form_of(&household),
            errors: &FieldErrors::default(),
        },
    )
}

pub async fn update(
    state: web::Data<AppState>,
    ctx: Ctx,
    area: TeamArea,
    id: web::Path<i64>,
    CsrfForm(form): CsrfForm<HouseholdForm>,
) -> AppResult<HttpResponse> {
    let household = find(&state, &area, id.into_inner()).await?;
    let who = Who::from(&area.actor);
    let (h, f) = (household.clone(), form.clone());
    let result = state
        .db(move |conn| Ok::<_, AppError>(households::update(conn, &who, &h, &f, now_utc())))
        .await?;
    match result {
        Ok(()) => Ok(redirect(&format!(
            "/team/households/{}?saved=1",
            household.id
        ))),
        Err(HouseholdError::Invalid(errors)) => {
            let villages = area.villages(&state).await?;
            let village_id = household.village_id.to_string();
            render_form(
                &state,
                &ctx,
                StatusCode::UNPROCESSABLE_ENTITY,
                FormPage {
                    villages: &villages,
                    village_id: &village_id,
                    household: Some(&household),
                    form: &form,
                    errors: &errors,
                },
            )
        }
        Err(HouseholdError::Database(e)) => Err(e.into()),
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
    let household = find(&state, &area, id.into_inner()).await?;
    let archived = match form.archived.as_str() {
        "1" => true,
        "0" => false,
        other => return Err(AppError::bad_field("archived", other)),
    };
    let who = Who::from(&area.actor);
    let h = household.clone();
    state
        .db(move |conn| households::set_archived(conn, &who, &h, archived, now_utc()))
        .await?;
    Ok(redirect(&format!("/team/households/{}", household.id)))
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
    let ids = area.village_ids.clone();
    let rows = state
        .db(move |conn| households::export(conn, &params.filter(&ids)))
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
    summary: Option<&households::ImportSummary>,
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
    let villages = area.villages(&state).await?;
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
    let villages = area.villages(&state).await?;
    let upload = upload.verified()?;
    let village_text = upload.text("village_id").to_string();
    let Some(village_id) = village_text
        .trim()
        .parse::<i64>()
        .ok()
        .filter(|id| area.village_ids.contains(id))
    else {
        return Err(AppError::bad_field("village_id", village_text));
    };
    let file = upload.file("file")?;
    let rows = match register::read(&file.bytes) {
        Ok(rows) => rows,
        Err(register::RegisterError::Unreadable(problems)) => {
            return render_import(
                &state,
                &ctx,
                StatusCode::UNPROCESSABLE_ENTITY,
                &villages,
                &village_text,
                &problems,
                None,
            );
        }
    };
    let who = Who::from(&area.actor);
    let outcome = state
        .db(move |conn| {
            Ok::<_, AppError>(households::import(conn, &who, village_id, &rows, now_utc()))
        })
        .await?;
    match outcome {
        Ok(summary) => render_import(
            &state,
            &ctx,
            StatusCode::OK,
            &villages,
            &village_text,
            &[],
            Some(&summary),
        ),
        Err(ImportError::Problems(problems)) => render_import(
            &state,
            &ctx,
            StatusCode::UNPROCESSABLE_ENTITY,
            &villages,
            &village_text,
            &problems,
            None,
        ),
        Err(ImportError::Database(e)) => Err(e.into()),
    }
}
