//! `/admin`: the city office's area — the platform at a glance, villages, canteen
//! organisations and accounts.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::{Value, json};

use super::AppState;
use super::auth::{AdminArea, redirect};
use super::csrf::{self, CsrfForm};
use super::forms::{all, coded_options, errors_json, field};
use super::render::Ctx;
use crate::db::accounts::{self as acc, Organization, UserRow};
use crate::db::catalog::{self as cat, County, Village};
use crate::domain::accounts::{self, NewAccount};
use crate::domain::actor::Role;
use crate::domain::actor::Who;
use crate::domain::admin::{self, AdminError, OrganizationForm, UserEditForm, VillageForm};
use crate::domain::money::format_fen;
use crate::domain::now_utc;
use crate::domain::validation::FieldErrors;
use crate::error::{AppError, AppResult};
use crate::i18n::Lang;

pub async fn home(
    state: web::Data<AppState>,
    ctx: Ctx,
    area: AdminArea,
) -> AppResult<HttpResponse> {
    let overview = state.db(admin::overview).await?;
    let lang = ctx.lang;
    let county_name = |id: i64| {
        overview
            .counties
            .iter()
            .find(|c| c.id == id)
            .map(|c| lang.pick(&c.name_zh, &c.name_en).to_string())
    };
    let data = json!({
        "user": area.actor.user.display_name,
        "users": overview.users,
        "villages": overview.villages.iter().map(|v| json!({
            "id": v.id,
            "slug": v.slug,
            "name": lang.pick(&v.name_zh, &v.name_en),
            "county": county_name(v.county_id),
        })).collect::<Vec<_>>(),
        "organizations": overview.organizations.iter().map(|o| json!({
            "id": o.id,
            "name": o.name,
            "payment_terms_days": o.payment_terms_days,
            "annual_target": format_fen(o.annual_target_fen),
        })).collect::<Vec<_>>(),
    });
    ctx.page(&state.templates, StatusCode::OK, "pages/admin_home", data)
}

/// Runs an admin change and answers with a redirect, or with the form again (422).
fn outcome<T>(
    result: Result<T, AdminError>,
    to: impl FnOnce(T) -> String,
) -> AppResult<Result<HttpResponse, FieldErrors>> {
    match result {
        Ok(value) => Ok(Ok(redirect(&to(value)))),
        Err(AdminError::Invalid(errors)) => Ok(Err(errors)),
        Err(AdminError::Database(e)) => Err(e.into()),
    }
}

fn county_options(lang: Lang, counties: &[County], selected: &str) -> Vec<Value> {
    counties
        .iter()
        .map(|c| json!({ "value": c.id, "slug": c.slug, "label": lang.pick(&c.name_zh, &c.name_en), "selected": c.id.to_string() == selected || c.slug == selected }))
        .collect()
}

// Villages.

fn village_form_of(v: &Village) -> VillageForm {
    VillageForm {
        county_id: v.county_id.to_string(),
        slug: v.slug.clone(),
        name_zh: v.name_zh.clone(),
        name_en: v.name_en.clone(),
        township_zh: v.township_zh.clone().unwrap_or_default(),
        township_en: v.township_en.clone().unwrap_or_default(),
        story_zh: v.story_zh.clone(),
        story_en: v.story_en.clone(),
        collective_share_bp: v
            .collective_share_bp
            .map(|b| b.to_string())
            .unwrap_or_default(),
    }
}

async fn render_village(
    state: &AppState,
    ctx: &Ctx,
    status: StatusCode,
    id: Option<i64>,
    form: &VillageForm,
    errors: &FieldErrors,
) -> AppResult<HttpResponse> {
    let counties = state.db(cat::counties).await?;
    let data = json!({
        "csrf_token": csrf::token(&ctx.session),
        "id": id,
        "action": id.map_or("/admin/villages".into(), |id| format!("/admin/villages/{id}")),
        "values": form,
        "errors": errors_json(ctx.lang, errors),
        "has_errors": !errors.is_empty(),
        "counties": county_options(ctx.lang, &counties, &form.county_id),
    });
    ctx.page(&state.templates, status, "pages/admin/village_form", data)
}

pub async fn new_village(
    state: web::Data<AppState>,
    ctx: Ctx,
    _area: AdminArea,
) -> AppResult<HttpResponse> {
    render_village(
        &state,
        &ctx,
        StatusCode::OK,
        None,
        &VillageForm::default(),
        &FieldErrors::default(),
    )
    .await
}

async fn find_village(state: &AppState, id: i64) -> AppResult<Village> {
    state
        .db(move |conn| cat::village_by_id(conn, id))
        .await?
        .ok_or(AppError::NotFound)
}

pub async fn edit_village(
    state: web::Data<AppState>,
    ctx: Ctx,
    _area: AdminArea,
    id: web::Path<i64>,
) -> AppResult<HttpResponse> {
    let village = find_village(&state, id.into_inner()).await?;
    render_village(
        &state,
        &ctx,
        StatusCode::OK,
        Some(village.id),
        &village_form_of(&village),
        &FieldErrors::default(),
    )
    .await
}

pub async fn create_village(
    state: web::Data<AppState>,
    ctx: Ctx,
    area: AdminArea,
    CsrfForm(form): CsrfForm<VillageForm>,
) -> AppResult<HttpResponse> {
    save_village(&state, &ctx, &area, None, form).await
}

pub async fn update_village(
    state: web::Data<AppState>,
    ctx: Ctx,
    area: AdminArea,
    id: web::Path<i64>,
    CsrfForm(form): CsrfForm<VillageForm>,
) -> AppResult<HttpResponse> {
    let village = find_village(&state, id.into_inner()).await?;
    save_village(&state, &ctx, &area, Some(village), form).await
}

async fn save_village(
    state: &AppState,
    ctx: &Ctx,
    area: &AdminArea,
    existing: Option<Village>,
    form: VillageForm,
) -> AppResult<HttpResponse> {
    let who = Who::from(&area.actor);
    let (e, f) = (existing.clone(), form.clone());
    let result = state
        .db(move |conn| {
            Ok::<_, AppError>(admin::save_village(conn, &who, e.as_ref(), &f, now_utc()))
        })
        .await?;
    match outcome(result, |_| "/admin".to_string())? {
        Ok(res) => Ok(res),
        Err(errors) => {
            render_village(
                state,
                ctx,
                StatusCode::UNPROCESSABLE_ENTITY,
                existing.map(|v| v.id),
                &form,
                &errors,
            )
            .await
        }
    }
}

// Canteen organisations.

fn organization_form_of(o: &Organization) -> OrganizationForm {
    OrganizationForm {
        name: o.name.clone(),
        invoice_title: o.invoice_title.clone(),
        tax_id: o.tax_id.clone(),
        address: o.address.clone(),
        contact_name: o.contact_name.clone(),
        contact_phone: o.contact_phone.clone(),
        payment_terms_days: o.payment_terms_days.to_string(),
        annual_target: format!(
            "{}.{:02}",
            o.annual_target_fen / 100,
            o.annual_target_fen % 100
        ),
    }
}

async fn render_organization(
    state: &AppState,
    ctx: &Ctx,
    status: StatusCode,
    id: Option<i64>,
    form: &OrganizationForm,
    errors: &FieldErrors,
) -> AppResult<HttpResponse> {
    let members = match id {
        Some(id) => state
            .db(acc::members)
            .await?
            .into_iter()
            .filter(|(org, _)| *org == id)
            .map(|(_, u)| json!({ "id": u.id, "email": u.email, "name": u.display_name }))
            .collect(),
        None => Vec::new(),
    };
    let data = json!({
        "csrf_token": csrf::token(&ctx.session),
        "id": id,
        "action": id.map_or("/admin/organizations".into(), |id| format!("/admin/organizations/{id}")),
        "values": form,
        "errors": errors_json(ctx.lang, errors),
        "has_errors": !errors.is_empty(),
        "members": members,
    });
    ctx.page(
        &state.templates,
        status,
        "pages/admin/organization_form",
        data,
    )
}

pub async fn new_organization(
    state: web::Data<AppState>,
    ctx: Ctx,
    _area: AdminArea,
) -> AppResult<HttpResponse> {
    let form = OrganizationForm {
        payment_terms_days: "30".into(),
        ..Default::default()
    };
    render_organization(
        &state,
        &ctx,
        StatusCode::OK,
        None,
        &form,
        &FieldErrors::default(),
    )
    .await
}

async fn find_organization(state: &AppState, id: i64) -> AppResult<Organization> {
    state
        .db(move |conn| acc::organization_by_id(conn, id))
        .await?
        .ok_or(AppError::NotFound)
}

pub async fn edit_organization(
    state: web::Data<AppState>,
    ctx: Ctx,
    _area: AdminArea,
    id: web::Path<i64>,
) -> AppResult<HttpResponse> {
    let org = find_organization(&state, id.into_inner()).await?;
    render_organization(
        &state,
        &ctx,
        StatusCode::OK,
        Some(org.id),
        &organization_form_of(&org),
        &FieldErrors::default(),
    )
    .await
}

pub async fn create_organization(
    state: web::Data<AppState>,
    ctx: Ctx,
    area: AdminArea,
    CsrfForm(form): CsrfForm<OrganizationForm>,
) -> AppResult<HttpResponse> {
    save_organization(&state, &ctx, &area, None, form).await
}

pub async fn update_organization(
    state: web::Data<AppState>,
    ctx: Ctx,
    area: AdminArea,
    id: web::Path<i64>,
    CsrfForm(form): CsrfForm<OrganizationForm>,
) -> AppResult<HttpResponse> {
    let org = find_organization(&state, id.into_inner()).await?;
    save_organization(&state, &ctx, &area, Some(org), form).await
}

async fn save_organization(
    state: &AppState,
    ctx: &Ctx,
    area: &AdminArea,
    existing: Option<Organization>,
    form: OrganizationForm,
) -> AppResult<HttpResponse> {
    let who = Who::from(&area.actor);
    let (e, f) = (existing.clone(), form.clone());
    let result = state
        .db(move |conn| {
            Ok::<_, AppError>(admin::save_organization(
                conn,
                &who,
                e.as_ref(),
                &f,
                now_utc(),
            ))
        })
        .await?;
    match outcome(result, |id| format!("/admin/organizations/{id}"))? {
        Ok(res) => Ok(res),
        Err(errors) => {
            render_organization(
                state,
                ctx,
                StatusCode::UNPROCESSABLE_ENTITY,
                existing.map(|o| o.id),
                &form,
                &errors,
            )
            .await
        }
    }
}

// Accounts.

pub async fn users(
    state: web::Data<AppState>,
    ctx: Ctx,
    _area: AdminArea,
) -> AppResult<HttpResponse> {
    let users = state.db(acc::users).await?;
    let lang = ctx.lang;
    let data = json!({
        "users": users.iter().map(|u| json!({
            "id": u.id, "email": u.email, "name": u.display_name,
            "role": lang.t(&format!("role-{}", u.role)), "disabled": u.disabled,
        })).collect::<Vec<_>>(),
    });
    ctx.page(&state.templates, StatusCode::OK, "pages/admin/users", data)
}

/// The choices every account form offers: villages, counties, organisations.
async fn binding_options(state: &AppState, lang: Lang, form: &UserEditForm) -> AppResult<Value> {
    let (villages, counties, organizations) = state
        .db(|conn| {
            Ok::<_, AppError>((
                cat::villages(conn)?,
                cat::counties(conn)?,
                acc::organizations(conn)?,
            ))
        })
        .await?;
    Ok(json!({
        "villages": villages.iter().map(|v| json!({
            "value": v.slug, "label": lang.pick(&v.name_zh, &v.name_en), "checked": form.village_slugs.contains(&v.slug),
        })).collect::<Vec<_>>(),
        "counties": county_options(lang, &counties, &form.county_slug),
        "organizations": organizations.iter().map(|o| json!({
            "value": o.name, "label": o.name, "selected": o.name == form.organization,
        })).collect::<Vec<_>>(),
    }))
}

/// An account form as the browser sent it: villages are repeated checkboxes.
fn user_edit_form(pairs: &[(String, String)]) -> UserEditForm {
    UserEditForm {
        display_name: field(pairs, "display_name"),
        disabled: field(pairs, "disabled") == "1",
        village_slugs: all(pairs, "village"),
        county_slug: field(pairs, "county"),
        organization: field(pairs, "organization"),
    }
}

async fn render_new_user(
    state: &AppState,
    ctx: &Ctx,
    status: StatusCode,
    pairs: &[(String, String)],
    errors: &FieldErrors,
) -> AppResult<HttpResponse> {
    let form = user_edit_form(pairs);
    let get = |name: &str| field(pairs, name);
    let role = get("role");
    let data = json!({
        "csrf_token": csrf::token(&ctx.session),
        "email": get("email"),
        "values": form,
        "roles": coded_options(ctx.lang, &Role::ALL.map(Role::as_str), "role-", &role),
        "options": binding_options(state, ctx.lang, &form).await?,
        "errors": errors_json(ctx.lang, errors),
        "has_errors": !errors.is_empty(),
    });
    ctx.page(&state.templates, status, "pages/admin/user_new", data)
}

pub async fn new_user(
    state: web::Data<AppState>,
    ctx: Ctx,
    _area: AdminArea,
) -> AppResult<HttpResponse> {
    render_new_user(
        &state,
        &ctx,
        StatusCode::OK,
        &[("role".into(), "team".into())],
        &FieldErrors::default(),
    )
    .await
}

pub async fn create_user(
    state: web::Data<AppState>,
    ctx: Ctx,
    area: AdminArea,
    CsrfForm(pairs): CsrfForm<Vec<(String, String)>>,
) -> AppResult<HttpResponse> {
    let get = |name: &str| field(&pairs, name);
    let Some(role) = Role::parse(&get("role")) else {
        return render_new_user(
            &state,
            &ctx,
            StatusCode::UNPROCESSABLE_ENTITY,
            &pairs,
            &FieldErrors::single("role", "invalid-choice"),
        )
        .await;
    };
    let form = user_edit_form(&pairs);
    let new = NewAccount {
        email: get("email"),
        display_name: form.display_name.clone(),
        role,
        password: get("password"),
        lang: Lang::parse(&get("locale")).unwrap_or_default(),
        village_slugs: if matches!(role, Role::Team | Role::Cadre) {
            form.village_slugs.clone()
        } else {
            Vec::new()
        },
        county_slug: (role == Role::Cadre && !form.county_slug.is_empty())
            .then(|| form.county_slug.clone()),
        organization: (role == Role::Canteen && !form.organization.is_empty())
            .then(|| form.organization.clone()),
    };
    let who = Who::from(&area.actor);
    let result = state
        .db(move |conn| {
            Ok::<_, AppError>(
                accounts::create_account(conn, &new, &who, now_utc()).map_err(AdminError::from),
            )
        })
        .await?;
    match outcome(result, |id| format!("/admin/users/{id}"))? {
        Ok(res) => Ok(res),
        Err(errors) => {
            render_new_user(
                &state,
                &ctx,
                StatusCode::UNPROCESSABLE_ENTITY,
                &pairs,
                &errors,
            )
            .await
        }
    }
}

async fn find_user(state: &AppState, id: i64) -> AppResult<UserRow> {
    state
        .db(move |conn| acc::user_by_id(conn, id))
        .await?
        .ok_or(AppError::NotFound)
}

async fn render_user(
    state: &AppState,
    ctx: &Ctx,
    status: StatusCode,
    user: &UserRow,
    form: &UserEditForm,
    errors: &FieldErrors,
) -> AppResult<HttpResponse> {
    let data = json!({
        "csrf_token": csrf::token(&ctx.session),
        "user": { "id": user.id, "email": user.email, "role": user.role, "role_label": ctx.lang.t(&format!("role-{}", user.role)) },
        "is_team": user.role == "team",
        "is_cadre": user.role == "cadre",
        "is_canteen": user.role == "canteen",
        "values": form,
        "options": binding_options(state, ctx.lang, form).await?,
        "errors": errors_json(ctx.lang, errors),
        "has_errors": !errors.is_empty(),
    });
    ctx.page(&state.templates, status, "pages/admin/user_edit", data)
}

pub async fn edit_user(
    state: web::Data<AppState>,
    ctx: Ctx,
    _area: AdminArea,
    id: web::Path<i64>,
) -> AppResult<HttpResponse> {
    let user = find_user(&state, id.into_inner()).await?;
    let user_id = user.id;
    let form = state
        .db(move |conn| {
            let villages = cat::villages(conn)?;
            let bound = acc::team_village_ids(conn, user_id)?;
            let scope = acc::cadre_scope(conn, user_id)?;
            let counties = cat::counties(conn)?;
            let org = match acc::organization_of_member(conn, user_id)? {
                Some(id) => acc::organization_by_id(conn, id)?.map(|o| o.name),
                None => None,
            };
            let scope_village = scope.as_ref().and_then(|s| s.village_id);
            Ok::<_, AppError>(UserEditForm {
                display_name: String::new(),
                disabled: false,
                village_slugs: villages
                    .iter()
                    .filter(|v| bound.contains(&v.id) || Some(v.id) == scope_village)
                    .map(|v| v.slug.clone())
                    .collect(),
                county_slug: scope
                    .and_then(|s| s.county_id)
                    .and_then(|c| counties.iter().find(|x| x.id == c).map(|x| x.slug.clone()))
                    .unwrap_or_default(),
                organization: org.unwrap_or_default(),
            })
        })
        .await?;
    let form = UserEditForm {
        display_name: user.display_name.clone(),
        disabled: user.disabled,
        ..form
    };
    render_user(
        &state,
        &ctx,
        StatusCode::OK,
        &user,
        &form,
        &FieldErrors::default(),
    )
    .await
}

pub async fn update_user(
    state: web::Data<AppState>,
    ctx: Ctx,
    area: AdminArea,
    id: web::Path<i64>,
    CsrfForm(pairs): CsrfForm<Vec<(String, String)>>,
) -> AppResult<HttpResponse> {
    let user = find_user(&state, id.into_inner()).await?;
    let form = user_edit_form(&pairs);
    let who = Who::from(&area.actor);
    let (u, f) = (user.clone(), form.clone());
    let result = state
        .db(move |conn| Ok::<_, AppError>(admin::update_user(conn, &who, &u, &f, now_utc())))
        .await?;
    match outcome(result, |_| format!("/admin/users/{}", user.id))? {
        Ok(res) => Ok(res),
        Err(errors) => {
            render_user(
                &state,
                &ctx,
                StatusCode::UNPROCESSABLE_ENTITY,
                &user,
                &form,
                &errors,
            )
            .await
        }
    }
}

#[derive(Deserialize)]
pub struct PasswordForm {
    #[serde(default)]
    password: String,
}

pub async fn reset_password(
    state: web::Data<AppState>,
    ctx: Ctx,
    area: AdminArea,
    id: web::Path<i64>,
    CsrfForm(form): CsrfForm<PasswordForm>,
) -> AppResult<HttpResponse> {
    let user = find_user(&state, id.into_inner()).await?;
    let who = Who::from(&area.actor);
    let u = user.clone();
    let result = state
        .db(move |conn| {
            Ok::<_, AppError>(admin::reset_password(
                conn,
                &who,
                &u,
                &form.password,
                now_utc(),
            ))
        })
        .await?;
    match outcome(result, |_| format!("/admin/users/{}?password=1", user.id))? {
        Ok(res) => Ok(res),
        Err(errors) => {
            let form = UserEditForm {
                display_name: user.display_name.clone(),
                disabled: user.disabled,
                ..Default::default()
            };
            render_user(
                &state,
                &ctx,
                StatusCode::UNPROCESSABLE_ENTITY,
                &user,
                &form,
                &errors,
            )
            .await
        }
    }
}
