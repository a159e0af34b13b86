//! `/admin`: the city office's area — the platform at a glance, villages, canteen
//! organisations and accounts.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::{Value, json};

use super::AppState;
use super::auth::{AdminArea, redirect};
use super::csrf::CsrfForm;
use super::forms::{all, coded_options, field};
use super::render::Ctx;
use crate::domain::accounts::{self, NewAccount};
use crate::domain::actor::{Role, Who};
use crate::domain::admin::{
    self, County, CountyForm, OrganizationDetail, OrganizationForm, UserEditForm, UserRow,
    VillageForm,
};
use crate::domain::canteen::{self, DeliverySite, SiteForm};
use crate::domain::money::format_fen;
use crate::domain::validation::FieldErrors;
use crate::domain::{china_time, now_utc};
use crate::error::{AppError, AppResult};
use crate::i18n::Lang;
use crate::states::{MemberRole, PaymentTerms};

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
        "counties": overview.counties.iter().map(|c| json!({
            "name": lang.pick(&c.name_zh, &c.name_en),
            "villages": overview.villages.iter().filter(|v| v.county_id == c.id).count(),
        })).collect::<Vec<_>>(),
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

/// After an admin change: a redirect, or the form's problems to show it again (422).
fn outcome<T>(
    result: AppResult<T>,
    to: impl FnOnce(T) -> String,
) -> AppResult<Result<HttpResponse, FieldErrors>> {
    match result {
        Ok(value) => Ok(Ok(redirect(&to(value)))),
        Err(AppError::Invalid(errors)) => Ok(Err(errors)),
        Err(e) => Err(e),
    }
}

fn county_options(lang: Lang, counties: &[County], selected: &str) -> Vec<Value> {
    counties
        .iter()
        .map(|c| json!({ "value": c.id, "slug": c.slug, "label": lang.pick(&c.name_zh, &c.name_en), "selected": c.id.to_string() == selected || c.slug == selected }))
        .collect()
}

// Counties.

async fn render_county(
    state: &AppState,
    ctx: &Ctx,
    status: StatusCode,
    form: &CountyForm,
    errors: &FieldErrors,
) -> AppResult<HttpResponse> {
    let data = json!({});
    ctx.form_page(
        &state.templates,
        status,
        "pages/admin/county_form",
        data,
        form,
        errors,
    )
}

pub async fn new_county(
    state: web::Data<AppState>,
    ctx: Ctx,
    _area: AdminArea,
) -> AppResult<HttpResponse> {
    let form = CountyForm::default();
    render_county(&state, &ctx, StatusCode::OK, &form, &FieldErrors::default()).await
}

pub async fn create_county(
    state: web::Data<AppState>,
    ctx: Ctx,
    area: AdminArea,
    CsrfForm(form): CsrfForm<CountyForm>,
) -> AppResult<HttpResponse> {
    let who = Who::from(&area.actor);
    let f = form.clone();
    let result = state
        .db(move |conn| admin::create_county(conn, &who, &f, now_utc()))
        .await;
    match outcome(result, |_| "/admin".to_string())? {
        Ok(res) => Ok(res),
        Err(errors) => {
            let status = StatusCode::UNPROCESSABLE_ENTITY;
            render_county(&state, &ctx, status, &form, &errors).await
        }
    }
}

// Villages.

async fn render_village(
    state: &AppState,
    ctx: &Ctx,
    status: StatusCode,
    id: Option<i64>,
    form: &VillageForm,
    errors: &FieldErrors,
) -> AppResult<HttpResponse> {
    let counties = state.db(admin::counties).await?;
    let data = json!({
        "id": id,
        "action": id.map_or("/admin/villages".into(), |id| format!("/admin/villages/{id}")),
        "counties": county_options(ctx.lang, &counties, &form.county_id),
    });
    ctx.form_page(
        &state.templates,
        status,
        "pages/admin/village_form",
        data,
        form,
        errors,
    )
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

pub async fn edit_village(
    state: web::Data<AppState>,
    ctx: Ctx,
    _area: AdminArea,
    id: web::Path<i64>,
) -> AppResult<HttpResponse> {
    let id = id.into_inner();
    let village = state.db(move |conn| admin::village(conn, id)).await?;
    render_village(
        &state,
        &ctx,
        StatusCode::OK,
        Some(village.id),
        &admin::village_form(&village),
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
    save_village(&state, &ctx, &area, Some(id.into_inner()), form).await
}

async fn save_village(
    state: &AppState,
    ctx: &Ctx,
    area: &AdminArea,
    id: Option<i64>,
    form: VillageForm,
) -> AppResult<HttpResponse> {
    let who = Who::from(&area.actor);
    let f = form.clone();
    let result = state
        .db(move |conn| admin::save_village(conn, &who, id, &f, now_utc()))
        .await;
    match outcome(result, |_| "/admin".to_string())? {
        Ok(res) => Ok(res),
        Err(errors) => {
            render_village(
                state,
                ctx,
                StatusCode::UNPROCESSABLE_ENTITY,
                id,
                &form,
                &errors,
            )
            .await
        }
    }
}

// Canteen organisations.

fn render_organization(
    state: &AppState,
    ctx: &Ctx,
    status: StatusCode,
    existing: Option<&OrganizationDetail>,
    form: &OrganizationForm,
    errors: &FieldErrors,
) -> AppResult<HttpResponse> {
    let id = existing.map(|o| o.organization.id);
    let lang = ctx.lang;
    let members: Vec<Value> = existing
        .map(|o| {
            o.members
                .iter()
                .map(|(u, role)| json!({
                    "id": u.id, "email": u.email, "name": u.display_name,
                    "roles": coded_options(lang, MemberRole::ALL, "member-role-", role.as_str()),
                }))
                .collect()
        })
        .unwrap_or_default();
    let sites: Vec<Value> = existing
        .map(|o| o.sites.iter().map(|s| json!(s)).collect())
        .unwrap_or_default();
    let data = json!({
        "sites": sites,
        "terms": coded_options(lang, PaymentTerms::ALL, "payment-terms-", &form.payment_terms),
        "id": id,
        "action": id.map_or("/admin/organizations".into(), |id| format!("/admin/organizations/{id}")),
        "members": members,
        "staff_code": existing.and_then(|o| o.organization.staff_code.clone()),
    });
    ctx.form_page(
        &state.templates,
        status,
        "pages/admin/organization_form",
        data,
        form,
        errors,
    )
}

pub async fn new_organization(
    state: web::Data<AppState>,
    ctx: Ctx,
    _area: AdminArea,
) -> AppResult<HttpResponse> {
    let form = OrganizationForm {
        payment_terms_days: "30".into(),
        payment_terms: PaymentTerms::OnAccount.as_str().into(),
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
}

async fn organization(state: &AppState, id: i64) -> AppResult<OrganizationDetail> {
    state.db(move |conn| admin::organization(conn, id)).await
}

pub async fn edit_organization(
    state: web::Data<AppState>,
    ctx: Ctx,
    _area: AdminArea,
    id: web::Path<i64>,
) -> AppResult<HttpResponse> {
    let detail = organization(&state, id.into_inner()).await?;
    render_organization(
        &state,
        &ctx,
        StatusCode::OK,
        Some(&detail),
        &admin::organization_form(&detail.organization),
        &FieldErrors::default(),
    )
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
    save_organization(&state, &ctx, &area, Some(id.into_inner()), form).await
}

async fn save_organization(
    state: &AppState,
    ctx: &Ctx,
    area: &AdminArea,
    id: Option<i64>,
    form: OrganizationForm,
) -> AppResult<HttpResponse> {
    let who = Who::from(&area.actor);
    let f = form.clone();
    let result = state
        .db(move |conn| admin::save_organization(conn, &who, id, &f, now_utc()))
        .await;
    match outcome(result, |id| format!("/admin/organizations/{id}"))? {
        Ok(res) => Ok(res),
        Err(errors) => {
            let existing = match id {
                Some(id) => Some(organization(state, id).await?),
                None => None,
            };
            render_organization(
                state,
                ctx,
                StatusCode::UNPROCESSABLE_ENTITY,
                existing.as_ref(),
                &form,
                &errors,
            )
        }
    }
}

// Delivery sites and members' roles.

async fn render_site(
    state: &AppState,
    ctx: &Ctx,
    status: StatusCode,
    organization_id: i64,
    site: Option<&DeliverySite>,
    form: &SiteForm,
    errors: &FieldErrors,
) -> AppResult<HttpResponse> {
    let detail = organization(state, organization_id).await?;
    let base = format!("/admin/organizations/{organization_id}");
    let data = json!({
        "organization": { "id": organization_id, "name": detail.organization.name },
        "site": site,
        "action": site.map_or(format!("{base}/sites"), |s| format!("{base}/sites/{}", s.id)),
    });
    ctx.form_page(
        &state.templates,
        status,
        "pages/admin/site_form",
        data,
        form,
        errors,
    )
}

pub async fn new_site(
    state: web::Data<AppState>,
    ctx: Ctx,
    _area: AdminArea,
    id: web::Path<i64>,
) -> AppResult<HttpResponse> {
    let id = id.into_inner();
    let form = SiteForm::default();
    render_site(
        &state,
        &ctx,
        StatusCode::OK,
        id,
        None,
        &form,
        &FieldErrors::default(),
    )
    .await
}

pub async fn edit_site(
    state: web::Data<AppState>,
    ctx: Ctx,
    _area: AdminArea,
    path: web::Path<(i64, i64)>,
) -> AppResult<HttpResponse> {
    let (org, id) = path.into_inner();
    let site = state.db(move |conn| admin::site(conn, org, id)).await?;
    let form = SiteForm::of(&site);
    let no_errors = FieldErrors::default();
    render_site(
        &state,
        &ctx,
        StatusCode::OK,
        org,
        Some(&site),
        &form,
        &no_errors,
    )
    .await
}

pub async fn create_site(
    state: web::Data<AppState>,
    ctx: Ctx,
    area: AdminArea,
    id: web::Path<i64>,
    CsrfForm(form): CsrfForm<SiteForm>,
) -> AppResult<HttpResponse> {
    save_site(&state, &ctx, &area, id.into_inner(), None, form).await
}

pub async fn update_site(
    state: web::Data<AppState>,
    ctx: Ctx,
    area: AdminArea,
    path: web::Path<(i64, i64)>,
    CsrfForm(form): CsrfForm<SiteForm>,
) -> AppResult<HttpResponse> {
    let (org, id) = path.into_inner();
    save_site(&state, &ctx, &area, org, Some(id), form).await
}

async fn save_site(
    state: &AppState,
    ctx: &Ctx,
    area: &AdminArea,
    org: i64,
    id: Option<i64>,
    form: SiteForm,
) -> AppResult<HttpResponse> {
    let who = Who::from(&area.actor);
    let f = form.clone();
    let result = state
        .db(move |conn| canteen::save_site(conn, &who, org, id, &f, now_utc()))
        .await;
    match outcome(result, |_| format!("/admin/organizations/{org}"))? {
        Ok(res) => Ok(res),
        Err(errors) => {
            let site = match id {
                Some(id) => Some(state.db(move |conn| admin::site(conn, org, id)).await?),
                None => None,
            };
            let status = StatusCode::UNPROCESSABLE_ENTITY;
            render_site(state, ctx, status, org, site.as_ref(), &form, &errors).await
        }
    }
}

pub async fn retire_site(
    state: web::Data<AppState>,
    area: AdminArea,
    path: web::Path<(i64, i64)>,
    CsrfForm(_form): CsrfForm<Vec<(String, String)>>,
) -> AppResult<HttpResponse> {
    let (org, id) = path.into_inner();
    let who = Who::from(&area.actor);
    state
        .db(move |conn| canteen::retire_site(conn, &who, org, id, now_utc()))
        .await?;
    Ok(redirect(&format!("/admin/organizations/{org}")))
}

#[derive(Clone, Deserialize)]
pub struct MemberRoleForm {
    #[serde(default)]
    member_role: String,
}

pub async fn set_member_role(
    state: web::Data<AppState>,
    ctx: Ctx,
    area: AdminArea,
    path: web::Path<(i64, i64)>,
    CsrfForm(form): CsrfForm<MemberRoleForm>,
) -> AppResult<HttpResponse> {
    let (org, user) = path.into_inner();
    let who = Who::from(&area.actor);
    let role = form.member_role;
    let result = state
        .db(move |conn| canteen::set_member_role(conn, &who, org, user, &role, now_utc()))
        .await;
    match outcome(result, |_| format!("/admin/organizations/{org}"))? {
        Ok(res) => Ok(res),
        Err(errors) => {
            let detail = organization(&state, org).await?;
            let form = admin::organization_form(&detail.organization);
            let status = StatusCode::UNPROCESSABLE_ENTITY;
            render_organization(&state, &ctx, status, Some(&detail), &form, &errors)
        }
    }
}

/// `POST /admin/organizations/{id}/staff-code`: a new staff code (职工码), replacing
/// the old one (a code passed round beyond the staff stops counting).
pub async fn new_staff_code(
    state: web::Data<AppState>,
    area: AdminArea,
    id: web::Path<i64>,
    CsrfForm(_): CsrfForm<super::auth::Empty>,
) -> AppResult<HttpResponse> {
    let (id, who) = (id.into_inner(), Who::from(&area.actor));
    state
        .db(move |conn| canteen::new_staff_code(conn, &who, id, now_utc()))
        .await?;
    Ok(redirect(&format!("/admin/organizations/{id}")))
}

// Accounts.

pub async fn users(
    state: web::Data<AppState>,
    ctx: Ctx,
    _area: AdminArea,
) -> AppResult<HttpResponse> {
    let users = state.db(admin::users).await?;
    let lang = ctx.lang;
    let data = json!({
        "users": users.iter().map(|u| json!({
            "id": u.id, "email": u.email, "name": u.display_name,
            "role": lang.t(&format!("role-{}", u.role)), "disabled": u.disabled,
            "last_sign_in": match u.last_sign_in_at {
                Some(at) => china_time(at).format("%Y-%m-%d %H:%M").to_string(),
                None => lang.t("admin-never-signed-in"),
            },
        })).collect::<Vec<_>>(),
    });
    ctx.page(&state.templates, StatusCode::OK, "pages/admin/users", data)
}

/// The choices every account form offers: villages, counties, organisations.
async fn binding_options(state: &AppState, lang: Lang, form: &UserEditForm) -> AppResult<Value> {
    let choices = state.db(admin::binding_choices).await?;
    Ok(json!({
        "villages": choices.villages.iter().map(|v| json!({
            "value": v.slug, "label": lang.pick(&v.name_zh, &v.name_en), "checked": form.village_slugs.contains(&v.slug),
        })).collect::<Vec<_>>(),
        "counties": county_options(lang, &choices.counties, &form.county_slug),
        "organizations": choices.organizations.iter().map(|o| json!({
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
        "email": get("email"),
        "roles": coded_options(ctx.lang, &Role::ALL.map(Role::as_str), "role-", &role),
        "options": binding_options(state, ctx.lang, &form).await?,
    });
    ctx.form_page(
        &state.templates,
        status,
        "pages/admin/user_new",
        data,
        form,
        errors,
    )
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
        .db(move |conn| accounts::create_account(conn, &new, &who, now_utc()))
        .await;
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
    state.db(move |conn| admin::user(conn, id)).await
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
        "user": { "id": user.id, "email": user.email, "role": user.role, "role_label": ctx.lang.t(&format!("role-{}", user.role)) },
        "is_team": Role::parse(&user.role) == Some(Role::Team),
        "is_cadre": Role::parse(&user.role) == Some(Role::Cadre),
        "is_canteen": Role::parse(&user.role) == Some(Role::Canteen),
        "options": binding_options(state, ctx.lang, form).await?,
    });
    ctx.form_page(
        &state.templates,
        status,
        "pages/admin/user_edit",
        data,
        form,
        errors,
    )
}

pub async fn edit_user(
    state: web::Data<AppState>,
    ctx: Ctx,
    _area: AdminArea,
    id: web::Path<i64>,
) -> AppResult<HttpResponse> {
    let id = id.into_inner();
    let (user, form) = state.db(move |conn| admin::user_form(conn, id)).await?;
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
    let id = id.into_inner();
    let form = user_edit_form(&pairs);
    let who = Who::from(&area.actor);
    let f = form.clone();
    let result = state
        .db(move |conn| admin::update_user(conn, &who, id, &f, now_utc()))
        .await;
    match outcome(result, |_| format!("/admin/users/{id}"))? {
        Ok(res) => Ok(res),
        Err(errors) => {
            let user = find_user(&state, id).await?;
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
    let id = id.into_inner();
    let who = Who::from(&area.actor);
    let result = state
        .db(move |conn| admin::reset_password(conn, &who, id, &form.password, now_utc()))
        .await;
    match outcome(result, |_| format!("/admin/users/{id}?password=1"))? {
        Ok(res) => Ok(res),
        Err(errors) => {
            let user = find_user(&state, id).await?;
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
