//! The city office's area: the whole platform at a glance, and setting up villages,
//! canteen organisations and accounts. Every change is audited.

use chrono::NaiveDateTime;
use diesel::QueryResult;
use serde_json::json;

use crate::db::accounts::{self as acc, CadreScopeRow, NewOrganization, OrganizationChanges};
use crate::db::catalog::{self as cat, NewCounty, NewVillage, VillageChanges};
use crate::db::{DbConn, write_transaction};
use crate::domain::accounts::{check_password, hash_password, sessions_ended, set_password};
use crate::domain::actor::{Role, Who};
use crate::domain::audit::{self, Change};
use crate::domain::canteen;
use crate::domain::error::{DomainError, DomainResult};
use crate::domain::validation::{self as v, FieldErrors};

pub use crate::db::accounts::{Organization, UserRow};
pub use crate::db::canteen::DeliverySite;
pub use crate::db::catalog::{County, Village};
use crate::states::{MemberRole, PaymentTerms};

pub struct Overview {
    pub counties: Vec<County>,
    pub villages: Vec<Village>,
    pub organizations: Vec<Organization>,
    pub users: i64,
}

pub fn overview(conn: &mut DbConn) -> QueryResult<Overview> {
    Ok(Overview {
        counties: cat::counties(conn)?,
        villages: cat::villages(conn)?,
        organizations: acc::organizations(conn)?,
        users: acc::count_users(conn)?,
    })
}

pub fn counties(conn: &mut DbConn) -> QueryResult<Vec<County>> {
    cat::counties(conn)
}

pub fn village(conn: &mut DbConn, id: i64) -> DomainResult<Village> {
    cat::village_by_id(conn, id)?.ok_or(DomainError::NotFound)
}

/// A village as the form shows it.
pub fn village_form(village: &Village) -> VillageForm {
    VillageForm {
        county_id: village.county_id.to_string(),
        slug: village.slug.clone(),
        name_zh: village.name_zh.clone(),
        name_en: village.name_en.clone(),
        township_zh: village.township_zh.clone().unwrap_or_default(),
        township_en: village.township_en.clone().unwrap_or_default(),
        story_zh: village.story_zh.clone(),
        story_en: village.story_en.clone(),
        collective_share_bp: village
            .collective_share_bp
            .map(|b| b.to_string())
            .unwrap_or_default(),
    }
}

/// A village as the admin types it.
#[derive(Debug, Clone, Default, serde::Deserialize, serde::Serialize)]
#[serde(default)]
pub struct VillageForm {
    pub county_id: String,
    pub slug: String,
    pub name_zh: String,
    pub name_en: String,
    pub township_zh: String,
    pub township_en: String,
    pub story_zh: String,
    pub story_en: String,
    /// The village collective's share of consignment sales in basis points; empty:
    /// the platform's default.
    pub collective_share_bp: String,
}

fn is_slug(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 48
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// Saves a village: a new one when `existing` is `None`. The slug (its address) is
/// chosen once, at creation.
pub fn save_village(
    conn: &mut DbConn,
    who: &Who,
    id: Option<i64>,
    form: &VillageForm,
    now: NaiveDateTime,
) -> DomainResult<i64> {
    let existing = id.map(|id| village(conn, id)).transpose()?;
    let existing = existing.as_ref();
    let mut errors = FieldErrors::default();
    let name_zh = v::required_text(&mut errors, "name_zh", &form.name_zh, 40);
    let name_en = v::required_text(&mut errors, "name_en", &form.name_en, 60);
    let township_zh = v::optional_text(&mut errors, "township_zh", &form.township_zh, 40);
    let township_en = v::optional_text(&mut errors, "township_en", &form.township_en, 60);
    let story_zh = v::required_text(&mut errors, "story_zh", &form.story_zh, 2000);
    let story_en =
        v::optional_text(&mut errors, "story_en", &form.story_en, 3000).unwrap_or_default();
    let share = match form.collective_share_bp.trim() {
        "" => None,
        bp => v::whole_number(&mut errors, "collective_share_bp", bp, 0, 10_000),
    };
    let slug = form.slug.trim().to_string();
    if existing.is_none() && !is_slug(&slug) {
        errors.add("slug", "invalid-slug");
    }
    let county_id = form.county_id.trim().parse::<i64>().ok();
    write_transaction(conn, |conn| {
        let county = match county_id {
            Some(id) => cat::counties(conn)?.into_iter().find(|c| c.id == id),
            None => None,
        };
        if county.is_none() {
            errors.add("county_id", "invalid-choice");
        }
        if existing.is_none() && cat::village_by_slug(conn, &slug)?.is_some() {
            errors.add("slug", "invalid-slug-taken");
        }
        let Some(county) = county.filter(|_| errors.is_empty()) else {
            return Err(DomainError::Invalid(errors.clone()));
        };
        let after = json!({
            "county_id": county.id, "name_zh": name_zh, "name_en": name_en, "township_zh": township_zh,
            "story_zh": story_zh, "collective_share_bp": share,
        });
        let (id, action, before) = match existing {
            Some(village) => {
                let changes = VillageChanges {
                    county_id: county.id,
                    name_zh: &name_zh,
                    name_en: &name_en,
                    township_zh: township_zh.as_deref(),
                    township_en: township_en.as_deref(),
                    story_zh: &story_zh,
                    story_en: &story_en,
                    collective_share_bp: share,
                };
                cat::update_village(conn, village.id, &changes)?;
                let before = json!({
                    "county_id": village.county_id, "name_zh": village.name_zh, "name_en": village.name_en,
                    "township_zh": village.township_zh, "story_zh": village.story_zh,
                    "collective_share_bp": village.collective_share_bp,
                });
                (village.id, "update", Some(before))
            }
            None => {
                let new = NewVillage {
                    county_id: county.id,
                    slug: &slug,
                    name_zh: &name_zh,
                    name_en: &name_en,
                    township_zh: township_zh.as_deref(),
                    township_en: township_en.as_deref(),
                    story_zh: &story_zh,
                    story_en: &story_en,
                    collective_share_bp: share,
                    created_at: now,
                };
                let id = cat::insert_village(conn, &new)?;
                (id, "create", None)
            }
        };
        let change = Change {
            action,
            entity: "village",
            entity_id: id,
            village_id: Some(id),
            before,
            after: Some(after),
        };
        audit::record(conn, who, change, now)?;
        Ok(id)
    })
}

/// A county (区县) as the admin types it: a real install's first step after its first
/// account, since every village belongs to one.
#[derive(Debug, Clone, Default, serde::Deserialize, serde::Serialize)]
#[serde(default)]
pub struct CountyForm {
    pub slug: String,
    pub name_zh: String,
    pub name_en: String,
}

/// Adds a county after the others (the order reports list them in).
pub fn create_county(
    conn: &mut DbConn,
    who: &Who,
    form: &CountyForm,
    now: NaiveDateTime,
) -> DomainResult<i64> {
    let mut errors = FieldErrors::default();
    let name_zh = v::required_text(&mut errors, "name_zh", &form.name_zh, 40);
    let name_en = v::required_text(&mut errors, "name_en", &form.name_en, 60);
    let slug = form.slug.trim().to_string();
    if !is_slug(&slug) {
        errors.add("slug", "invalid-slug");
    }
    write_transaction(conn, |conn| {
        let counties = cat::counties(conn)?;
        if counties.iter().any(|c| c.slug == slug) {
            errors.add("slug", "invalid-slug-taken");
        }
        if !errors.is_empty() {
            return Err(DomainError::Invalid(errors.clone()));
        }
        let sort_order = counties.iter().map(|c| c.sort_order).max().unwrap_or(0) + 1;
        let new = NewCounty {
            slug: &slug,
            name_zh: &name_zh,
            name_en: &name_en,
            sort_order,
        };
        let id = cat::insert_county(conn, &new)?;
        let change = Change {
            action: "create",
            entity: "county",
            entity_id: id,
            village_id: None,
            before: None,
            after: Some(json!({ "slug": slug, "name_zh": name_zh, "name_en": name_en })),
        };
        audit::record(conn, who, change, now)?;
        Ok(id)
    })
}

/// A canteen organisation as the admin types it.
#[derive(Debug, Clone, Default, serde::Deserialize, serde::Serialize)]
#[serde(default)]
pub struct OrganizationForm {
    pub name: String,
    pub invoice_title: String,
    pub tax_id: String,
    pub address: String,
    pub contact_name: String,
    pub contact_phone: String,
    pub payment_terms_days: String,
    /// Yuan; empty for none.
    pub annual_target: String,
    /// 开户行, 账号, 地址电话 on the invoice.
    pub invoice_bank: String,
    pub invoice_account: String,
    pub invoice_address_phone: String,
    /// `prepay` or `on_account` (`PaymentTerms`).
    pub payment_terms: String,
    /// Yuan; only on account.
    pub credit_limit: String,
    /// Yuan; empty: no order waits for approval.
    pub approval_threshold: String,
}

/// An organisation with its members (食堂采购员, 审批人) and delivery sites.
pub struct OrganizationDetail {
    pub organization: Organization,
    pub members: Vec<(UserRow, MemberRole)>,
    pub sites: Vec<DeliverySite>,
}

pub fn organization(conn: &mut DbConn, id: i64) -> DomainResult<OrganizationDetail> {
    let organization = acc::organization_by_id(conn, id)?.ok_or(DomainError::NotFound)?;
    Ok(OrganizationDetail {
        members: acc::members_of(conn, id)?,
        sites: crate::db::canteen::sites_of(conn, id)?,
        organization,
    })
}

/// A delivery site of the organisation, for its edit form.
pub fn site(conn: &mut DbConn, organization_id: i64, id: i64) -> DomainResult<DeliverySite> {
    crate::db::canteen::site_in(conn, organization_id, id)?.ok_or(DomainError::NotFound)
}

fn yuan(fen: i64) -> String {
    format!("{}.{:02}", fen / 100, fen % 100)
}

/// An organisation as the form shows it.
pub fn organization_form(o: &Organization) -> OrganizationForm {
    OrganizationForm {
        name: o.name.clone(),
        invoice_title: o.invoice_title.clone(),
        tax_id: o.tax_id.clone(),
        address: o.address.clone(),
        contact_name: o.contact_name.clone(),
        contact_phone: o.contact_phone.clone(),
        payment_terms_days: o.payment_terms_days.to_string(),
        annual_target: yuan(o.annual_target_fen),
        invoice_bank: o.invoice_bank.clone(),
        invoice_account: o.invoice_account.clone(),
        invoice_address_phone: o.invoice_address_phone.clone(),
        payment_terms: o.payment_terms.as_str().to_string(),
        credit_limit: match o.payment_terms {
            PaymentTerms::OnAccount => yuan(o.credit_limit_fen),
            PaymentTerms::Prepay => String::new(),
        },
        approval_threshold: o.approval_threshold_fen.map(yuan).unwrap_or_default(),
    }
}

/// 统一社会信用代码: 18 characters of digits and capital letters.
fn is_tax_id(s: &str) -> bool {
    s.len() == 18
        && s.chars()
            .all(|c| c.is_ascii_digit() || c.is_ascii_uppercase())
}

pub fn save_organization(
    conn: &mut DbConn,
    who: &Who,
    id: Option<i64>,
    form: &OrganizationForm,
    now: NaiveDateTime,
) -> DomainResult<i64> {
    let existing = id
        .map(|id| acc::organization_by_id(conn, id)?.ok_or(DomainError::NotFound))
        .transpose()?;
    let existing = existing.as_ref();
    let mut errors = FieldErrors::default();
    let name = v::required_text(&mut errors, "name", &form.name, 80);
    let invoice_title = v::required_text(&mut errors, "invoice_title", &form.invoice_title, 100);
    let tax_id = form.tax_id.trim().to_ascii_uppercase();
    if !is_tax_id(&tax_id) {
        errors.add("tax_id", "invalid-tax-id");
    }
    let address = v::required_text(&mut errors, "address", &form.address, 200);
    let contact_name = v::required_text(&mut errors, "contact_name", &form.contact_name, 40);
    let contact_phone = v::required_text(&mut errors, "contact_phone", &form.contact_phone, 30);
    let invoice_bank =
        v::optional_text(&mut errors, "invoice_bank", &form.invoice_bank, 100).unwrap_or_default();
    let invoice_account =
        v::optional_text(&mut errors, "invoice_account", &form.invoice_account, 40)
            .unwrap_or_default();
    if !invoice_account
        .chars()
        .all(|c| c.is_ascii_digit() || c == ' ' || c == '-')
    {
        errors.add("invoice_account", "invalid-bank-account");
    }
    let invoice_address_phone = v::optional_text(
        &mut errors,
        "invoice_address_phone",
        &form.invoice_address_phone,
        200,
    )
    .unwrap_or_default();
    let terms = canteen::read_terms(
        &mut errors,
        &form.payment_terms,
        &form.payment_terms_days,
        &form.credit_limit,
        &form.approval_threshold,
    );
    let target = match form.annual_target.trim() {
        "" | "0" => Some(0),
        t => v::price_yuan(&mut errors, "annual_target", t),
    };
    write_transaction(conn, |conn| {
        if let Some(other) = acc::organization_by_name(conn, &name)? {
            if existing.map(|o| o.id) != Some(other.id) {
                errors.add("name", "invalid-name-taken");
            }
        }
        let (Some(terms), Some(annual_target_fen)) = (terms, target) else {
            return Err(DomainError::Invalid(errors.clone()));
        };
        if !errors.is_empty() {
            return Err(DomainError::Invalid(errors.clone()));
        }
        let changes = OrganizationChanges {
            name: &name,
            invoice_title: &invoice_title,
            tax_id: &tax_id,
            address: &address,
            contact_name: &contact_name,
            contact_phone: &contact_phone,
            payment_terms_days: terms.days,
            annual_target_fen,
            invoice_bank: &invoice_bank,
            invoice_account: &invoice_account,
            invoice_address_phone: &invoice_address_phone,
            payment_terms: terms.payment_terms,
            credit_limit_fen: terms.credit_limit_fen,
            approval_threshold_fen: terms.approval_threshold_fen,
        };
        // The audit's after is the changes themselves, field for field.
        let after = json!(changes);
        let (id, action, before) = match existing {
            Some(org) => {
                acc::update_organization(conn, org.id, &changes)?;
                let before = json!({
                    "name": org.name, "invoice_title": org.invoice_title, "tax_id": org.tax_id,
                    "payment_terms_days": org.payment_terms_days, "annual_target_fen": org.annual_target_fen,
                    "invoice_bank": org.invoice_bank, "invoice_account": org.invoice_account,
                    "invoice_address_phone": org.invoice_address_phone, "payment_terms": org.payment_terms,
                    "credit_limit_fen": org.credit_limit_fen, "approval_threshold_fen": org.approval_threshold_fen,
                });
                (org.id, "update", Some(before))
            }
            None => {
                let new = NewOrganization {
                    name: &name,
                    invoice_title: &invoice_title,
                    tax_id: &tax_id,
                    address: &address,
                    contact_name: &contact_name,
                    contact_phone: &contact_phone,
                    payment_terms_days: terms.days,
                    annual_target_fen,
                    created_at: now,
                };
                let id = acc::insert_organization(conn, &new)?;
                // The insert leaves the terms and invoice details at their defaults.
                acc::update_organization(conn, id, &changes)?;
                (id, "create", None)
            }
        };
        let change = Change {
            action,
            entity: "organization",
            entity_id: id,
            village_id: None,
            before,
            after: Some(after),
        };
        audit::record(conn, who, change, now)?;
        Ok(id)
    })
}

/// What the admin changes on an account: its name, whether it may sign in, and its
/// binding (a team's villages, a cadre's scope, a canteen buyer's organisation).
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct UserEditForm {
    pub display_name: String,
    pub disabled: bool,
    pub village_slugs: Vec<String>,
    pub county_slug: String,
    pub organization: String,
}

pub fn users(conn: &mut DbConn) -> QueryResult<Vec<UserRow>> {
    acc::users(conn)
}

pub fn user(conn: &mut DbConn, id: i64) -> DomainResult<UserRow> {
    acc::user_by_id(conn, id)?.ok_or(DomainError::NotFound)
}

/// What every account form offers to choose from.
pub struct BindingChoices {
    pub villages: Vec<Village>,
    pub counties: Vec<County>,
    pub organizations: Vec<Organization>,
}

pub fn binding_choices(conn: &mut DbConn) -> QueryResult<BindingChoices> {
    Ok(BindingChoices {
        villages: cat::villages(conn)?,
        counties: cat::counties(conn)?,
        organizations: acc::organizations(conn)?,
    })
}

/// An account and its edit form, the binding read back as slugs and names.
pub fn user_form(conn: &mut DbConn, id: i64) -> DomainResult<(UserRow, UserEditForm)> {
    let user = user(conn, id)?;
    let villages = cat::villages(conn)?;
    let bound = acc::team_village_ids(conn, user.id)?;
    let scope = acc::cadre_scope(conn, user.id)?;
    let counties = cat::counties(conn)?;
    let organization = match acc::organization_of_member(conn, user.id)? {
        Some(id) => acc::organization_by_id(conn, id)?.map(|o| o.name),
        None => None,
    };
    let scope_village = scope.as_ref().and_then(|s| s.village_id);
    let form = UserEditForm {
        display_name: user.display_name.clone(),
        disabled: user.disabled,
        village_slugs: villages
            .iter()
            .filter(|v| bound.contains(&v.id) || Some(v.id) == scope_village)
            .map(|v| v.slug.clone())
            .collect(),
        county_slug: scope
            .and_then(|s| s.county_id)
            .and_then(|c| counties.iter().find(|x| x.id == c).map(|x| x.slug.clone()))
            .unwrap_or_default(),
        organization: organization.unwrap_or_default(),
    };
    Ok((user, form))
}

pub fn update_user(
    conn: &mut DbConn,
    who: &Who,
    id: i64,
    form: &UserEditForm,
    now: NaiveDateTime,
) -> DomainResult<()> {
    let user = &user(conn, id)?;
    let mut errors = FieldErrors::default();
    let display_name = v::required_text(&mut errors, "display_name", &form.display_name, 60);
    let role =
        Role::parse(&user.role).ok_or_else(|| FieldErrors::single("role", "invalid-choice"))?;
    write_transaction(conn, |conn| {
        let mut village_ids = Vec::new();
        for slug in &form.village_slugs {
            match cat::village_by_slug(conn, slug)? {
                Some((village, _)) => village_ids.push(village.id),
                None => errors.add("village", "invalid-choice"),
            }
        }
        let county_id = match form.county_slug.trim() {
            "" => None,
            slug => match cat::county_by_slug(conn, slug)? {
                Some(c) => Some(c.id),
                None => {
                    errors.add("county", "invalid-choice");
                    None
                }
            },
        };
        let organization_id = match form.organization.trim() {
            "" => None,
            name => match acc::organization_by_name(conn, name)? {
                Some(o) => Some(o.id),
                None => {
                    errors.add("organization", "invalid-choice");
                    None
                }
            },
        };
        match role {
            Role::Team if village_ids.is_empty() => {
                errors.add("village", "invalid-team-needs-village")
            }
            Role::Canteen if organization_id.is_none() => {
                errors.add("organization", "invalid-canteen-needs-organization")
            }
            Role::Cadre if village_ids.len() > 1 => {
                errors.add("village", "invalid-cadre-one-village")
            }
            _ => {}
        }
        if who.user_id == Some(user.id) && form.disabled {
            errors.add("disabled", "invalid-disable-self");
        }
        if !errors.is_empty() {
            return Err(DomainError::Invalid(errors.clone()));
        }
        let before = json!({
            "display_name": user.display_name, "disabled": user.disabled,
            "villages": acc::team_village_ids(conn, user.id)?,
            "cadre_scope": acc::cadre_scope(conn, user.id)?.map(|s| json!([s.county_id, s.village_id])),
            "organization_id": acc::organization_of_member(conn, user.id)?,
        });
        acc::update_user(conn, user.id, &display_name, form.disabled, now)?;
        // Disabling ends every session now, so that enabling the account again later
        // does not bring an old cookie back to life.
        let ends_sessions = form.disabled && !user.disabled;
        if ends_sessions {
            acc::bump_session_version(conn, user.id, now)?;
        }
        match role {
            Role::Team => {
                acc::unbind_team_villages(conn, user.id)?;
                for id in &village_ids {
                    acc::bind_team_village(conn, user.id, *id)?;
                }
            }
            Role::Cadre => {
                let row = CadreScopeRow {
                    user_id: user.id,
                    county_id,
                    village_id: village_ids.first().copied(),
                };
                acc::set_cadre_scope(conn, &row)?;
            }
            Role::Canteen => {
                // A member who stays in the same organisation keeps their role.
                let kept = acc::membership(conn, user.id)?
                    .filter(|(org, _)| Some(*org) == organization_id)
                    .map_or(MemberRole::Buyer, |(_, role)| role);
                acc::remove_member(conn, user.id)?;
                if let Some(org) = organization_id {
                    acc::add_member(conn, org, user.id, kept)?;
                }
            }
            Role::Admin => {}
        }
        let after = json!({
            "display_name": display_name, "disabled": form.disabled, "villages": village_ids,
            "cadre_scope": (role == Role::Cadre).then(|| json!([county_id, village_ids.first()])),
            "organization_id": organization_id, "sessions_ended": ends_sessions,
        });
        let change = Change {
            action: "update",
            entity: "user",
            entity_id: user.id,
            village_id: None,
            before: Some(before),
            after: Some(after),
        };
        audit::record(conn, who, change, now)?;
        Ok(())
    })
}

/// Sets a new password the admin typed (the person changes it after), ending every
/// session of the account. The log records that it happened, never the password.
pub fn reset_password(
    conn: &mut DbConn,
    who: &Who,
    id: i64,
    password: &str,
    now: NaiveDateTime,
) -> DomainResult<()> {
    let user = &user(conn, id)?;
    let mut errors = FieldErrors::default();
    check_password(&mut errors, password);
    if !errors.is_empty() {
        return Err(errors.into());
    }
    let hash = hash_password(password)
        .map_err(|_| FieldErrors::single("password", "invalid-password-short"))?;
    write_transaction(conn, |conn| {
        set_password(conn, user.id, &hash, now)?;
        let change = sessions_ended("reset_password", user.id);
        audit::record(conn, who, change, now)?;
        Ok(())
    })
}
