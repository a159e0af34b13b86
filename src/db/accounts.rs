//! Queries over accounts: users, their village bindings (team), scopes (cadre),
//! canteen organisations and members, failed sign-ins, session versions, and "forgot
//! password" requests and links.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::DbConn;
use super::schema::{
    cadre_scopes, login_failures, organization_members, organizations, password_reset_requests,
    password_reset_tokens, team_villages, users,
};
use crate::states::{MemberRole, PaymentTerms};

#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = users)]
pub struct UserRow {
    pub id: i64,
    pub email: String,
    pub display_name: String,
    pub password_hash: String,
    pub role: String,
    pub locale: String,
    pub disabled: bool,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    /// Carried in the session cookie; a cookie with another number is no session.
    pub session_version: i64,
    pub last_sign_in_at: Option<NaiveDateTime>,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = users)]
pub struct NewUser<'a> {
    pub email: &'a str,
    pub display_name: &'a str,
    pub password_hash: &'a str,
    pub role: &'a str,
    pub locale: &'a str,
    pub disabled: bool,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = cadre_scopes)]
pub struct CadreScopeRow {
    pub user_id: i64,
    pub county_id: Option<i64>,
    pub village_id: Option<i64>,
}

#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = organizations)]
pub struct Organization {
    pub id: i64,
    pub name: String,
    /// 发票抬头: the name printed on invoices.
    pub invoice_title: String,
    /// 税号: the unified social credit code.
    pub tax_id: String,
    pub address: String,
    pub contact_name: String,
    pub contact_phone: String,
    /// Days to pay a monthly statement (月结); 0 when prepaying.
    pub payment_terms_days: i32,
    pub annual_target_fen: i64,
    pub created_at: NaiveDateTime,
    /// 开户行: the bank on the invoice.
    pub invoice_bank: String,
    /// 账号: the account number on the invoice.
    pub invoice_account: String,
    /// 地址电话: the address and phone printed on the invoice.
    pub invoice_address_phone: String,
    pub payment_terms: PaymentTerms,
    /// How much may stand unpaid on account; 0 when prepaying.
    pub credit_limit_fen: i64,
    /// Orders above this wait for an approver; `None`: none do.
    pub approval_threshold_fen: Option<i64>,
    /// 职工码: staff who enter it at the storefront's checkout count their purchases
    /// towards the organisation's target.
    pub staff_code: Option<String>,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = organizations)]
pub struct NewOrganization<'a> {
    pub name: &'a str,
    pub invoice_title: &'a str,
    pub tax_id: &'a str,
    pub address: &'a str,
    pub contact_name: &'a str,
    pub contact_phone: &'a str,
    pub payment_terms_days: i32,
    pub annual_target_fen: i64,
    pub created_at: NaiveDateTime,
}

pub fn user_by_email(conn: &mut DbConn, email: &str) -> QueryResult<Option<UserRow>> {
    users::table
        .filter(users::email.eq(email))
        .select(UserRow::as_select())
        .first(conn)
        .optional()
}

pub fn user_by_id(conn: &mut DbConn, id: i64) -> QueryResult<Option<UserRow>> {
    users::table
        .find(id)
        .select(UserRow::as_select())
        .first(conn)
        .optional()
}

pub fn insert_user(conn: &mut DbConn, new: &NewUser) -> QueryResult<i64> {
    diesel::insert_into(users::table)
        .values(new)
        .returning(users::id)
        .get_result(conn)
}

pub fn count_users(conn: &mut DbConn) -> QueryResult<i64> {
    users::table.count().get_result(conn)
}

pub fn bind_team_village(conn: &mut DbConn, user_id: i64, village_id: i64) -> QueryResult<usize> {
    diesel::insert_into(team_villages::table)
        .values((
            team_villages::user_id.eq(user_id),
            team_villages::village_id.eq(village_id),
        ))
        .execute(conn)
}

pub fn team_village_ids(conn: &mut DbConn, user_id: i64) -> QueryResult<Vec<i64>> {
    team_villages::table
        .filter(team_villages::user_id.eq(user_id))
        .order(team_villages::village_id)
        .select(team_villages::village_id)
        .load(conn)
}

pub fn set_cadre_scope(conn: &mut DbConn, row: &CadreScopeRow) -> QueryResult<usize> {
    diesel::delete(cadre_scopes::table.filter(cadre_scopes::user_id.eq(row.user_id)))
        .execute(conn)?;
    diesel::insert_into(cadre_scopes::table)
        .values((
            cadre_scopes::user_id.eq(row.user_id),
            cadre_scopes::county_id.eq(row.county_id),
            cadre_scopes::village_id.eq(row.village_id),
        ))
        .execute(conn)
}

pub fn cadre_scope(conn: &mut DbConn, user_id: i64) -> QueryResult<Option<CadreScopeRow>> {
    cadre_scopes::table
        .find(user_id)
        .select(CadreScopeRow::as_select())
        .first(conn)
        .optional()
}

pub fn organization_by_name(conn: &mut DbConn, name: &str) -> QueryResult<Option<Organization>> {
    organizations::table
        .filter(organizations::name.eq(name))
        .select(Organization::as_select())
        .first(conn)
        .optional()
}

/// The organisation whose staff code this is.
pub fn organization_by_staff_code(
    conn: &mut DbConn,
    code: &str,
) -> QueryResult<Option<Organization>> {
    organizations::table
        .filter(organizations::staff_code.eq(code))
        .select(Organization::as_select())
        .first(conn)
        .optional()
}

pub fn set_staff_code(conn: &mut DbConn, id: i64, code: &str) -> QueryResult<usize> {
    diesel::update(organizations::table.find(id))
        .set(organizations::staff_code.eq(code))
        .execute(conn)
}

pub fn organization_by_id(conn: &mut DbConn, id: i64) -> QueryResult<Option<Organization>> {
    organizations::table
        .find(id)
        .select(Organization::as_select())
        .first(conn)
        .optional()
}

pub fn organizations(conn: &mut DbConn) -> QueryResult<Vec<Organization>> {
    organizations::table
        .order(organizations::name)
        .select(Organization::as_select())
        .load(conn)
}

pub fn insert_organization(conn: &mut DbConn, new: &NewOrganization) -> QueryResult<i64> {
    diesel::insert_into(organizations::table)
        .values(new)
        .returning(organizations::id)
        .get_result(conn)
}

pub fn add_member(
    conn: &mut DbConn,
    organization_id: i64,
    user_id: i64,
    role: MemberRole,
) -> QueryResult<usize> {
    diesel::insert_into(organization_members::table)
        .values((
            organization_members::organization_id.eq(organization_id),
            organization_members::user_id.eq(user_id),
            organization_members::member_role.eq(role),
        ))
        .execute(conn)
}

/// The member's organisation and role in it.
pub fn membership(conn: &mut DbConn, user_id: i64) -> QueryResult<Option<(i64, MemberRole)>> {
    organization_members::table
        .find(user_id)
        .select((
            organization_members::organization_id,
            organization_members::member_role,
        ))
        .first(conn)
        .optional()
}

pub fn organization_of_member(conn: &mut DbConn, user_id: i64) -> QueryResult<Option<i64>> {
    organization_members::table
        .find(user_id)
        .select(organization_members::organization_id)
        .first(conn)
        .optional()
}

/// Failed sign-ins from `ip` since `since`: how many, and the oldest one's time.
pub fn recent_failures(
    conn: &mut DbConn,
    ip: &str,
    since: NaiveDateTime,
) -> QueryResult<(i64, Option<NaiveDateTime>)> {
    login_failures::table
        .filter(login_failures::ip.eq(ip))
        .filter(login_failures::failed_at.ge(since))
        .select((
            diesel::dsl::count_star(),
            diesel::dsl::min(login_failures::failed_at),
        ))
        .first(conn)
}

pub fn record_failure(conn: &mut DbConn, ip: &str, at: NaiveDateTime) -> QueryResult<usize> {
    diesel::insert_into(login_failures::table)
        .values((login_failures::ip.eq(ip), login_failures::failed_at.eq(at)))
        .execute(conn)
}

/// Forgets `ip`'s failures (after a successful sign-in) and everyone's old ones.
pub fn clear_failures(
    conn: &mut DbConn,
    ip: &str,
    older_than: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::delete(
        login_failures::table.filter(
            login_failures::ip
                .eq(ip)
                .or(login_failures::failed_at.lt(older_than)),
        ),
    )
    .execute(conn)
}

pub fn users(conn: &mut DbConn) -> QueryResult<Vec<UserRow>> {
    users::table
        .order((users::role, users::email))
        .select(UserRow::as_select())
        .load(conn)
}

pub fn update_user(
    conn: &mut DbConn,
    id: i64,
    display_name: &str,
    disabled: bool,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(users::table.find(id))
        .set((
            users::display_name.eq(display_name),
            users::disabled.eq(disabled),
            users::updated_at.eq(now),
        ))
        .execute(conn)
}

pub fn set_password_hash(
    conn: &mut DbConn,
    id: i64,
    hash: &str,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(users::table.find(id))
        .set((users::password_hash.eq(hash), users::updated_at.eq(now)))
        .execute(conn)
}

pub fn unbind_team_villages(conn: &mut DbConn, user_id: i64) -> QueryResult<usize> {
    diesel::delete(team_villages::table.filter(team_villages::user_id.eq(user_id))).execute(conn)
}

pub fn remove_member(conn: &mut DbConn, user_id: i64) -> QueryResult<usize> {
    diesel::delete(organization_members::table.filter(organization_members::user_id.eq(user_id)))
        .execute(conn)
}

#[derive(Debug, Clone, AsChangeset, serde::Serialize)]
#[diesel(table_name = organizations, treat_none_as_null = true)]
pub struct OrganizationChanges<'a> {
    pub name: &'a str,
    pub invoice_title: &'a str,
    pub tax_id: &'a str,
    pub address: &'a str,
    pub contact_name: &'a str,
    pub contact_phone: &'a str,
    pub payment_terms_days: i32,
    pub annual_target_fen: i64,
    pub invoice_bank: &'a str,
    pub invoice_account: &'a str,
    pub invoice_address_phone: &'a str,
    pub payment_terms: PaymentTerms,
    pub credit_limit_fen: i64,
    /// `None` writes NULL: no order needs approval.
    pub approval_threshold_fen: Option<i64>,
}

pub fn update_organization(
    conn: &mut DbConn,
    id: i64,
    changes: &OrganizationChanges,
) -> QueryResult<usize> {
    diesel::update(organizations::table.find(id))
        .set(changes)
        .execute(conn)
}

/// Members of one organisation with their roles, by email.
pub fn members_of(
    conn: &mut DbConn,
    organization_id: i64,
) -> QueryResult<Vec<(UserRow, MemberRole)>> {
    organization_members::table
        .inner_join(users::table)
        .filter(organization_members::organization_id.eq(organization_id))
        .order(users::email)
        .select((UserRow::as_select(), organization_members::member_role))
        .load(conn)
}

/// Sets a member's role within `organization_id`: rows changed (0: not its member).
pub fn set_member_role(
    conn: &mut DbConn,
    organization_id: i64,
    user_id: i64,
    role: MemberRole,
) -> QueryResult<usize> {
    diesel::update(
        organization_members::table
            .find(user_id)
            .filter(organization_members::organization_id.eq(organization_id)),
    )
    .set(organization_members::member_role.eq(role))
    .execute(conn)
}

/// Email and language of the active team members bound to any of `village_ids`.
pub fn team_recipients(
    conn: &mut DbConn,
    village_ids: &[i64],
) -> QueryResult<Vec<(i64, String, String)>> {
    team_villages::table
        .inner_join(users::table)
        .filter(team_villages::village_id.eq_any(village_ids.to_vec()))
        .filter(users::disabled.eq(false))
        .filter(users::role.eq("team"))
        .order((team_villages::village_id, users::id))
        .select((team_villages::village_id, users::email, users::locale))
        .load(conn)
}

pub fn record_sign_in(conn: &mut DbConn, id: i64, at: NaiveDateTime) -> QueryResult<usize> {
    diesel::update(users::table.find(id))
        .set(users::last_sign_in_at.eq(at))
        .execute(conn)
}

/// Moves the user's session version on, ending every session that carries the old one;
/// answers the new version.
pub fn bump_session_version(conn: &mut DbConn, id: i64, now: NaiveDateTime) -> QueryResult<i64> {
    diesel::update(users::table.find(id))
        .set((
            users::session_version.eq(users::session_version + 1),
            users::updated_at.eq(now),
        ))
        .returning(users::session_version)
        .get_result(conn)
}

/// Like `bump_session_version`, only while the version is still `current`: rows changed
/// (0 when that session had already ended).
pub fn bump_session_version_from(
    conn: &mut DbConn,
    id: i64,
    current: i64,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(
        users::table
            .find(id)
            .filter(users::session_version.eq(current)),
    )
    .set((
        users::session_version.eq(users::session_version + 1),
        users::updated_at.eq(now),
    ))
    .execute(conn)
}

#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = password_reset_tokens)]
pub struct ResetTokenRow {
    pub id: i64,
    pub user_id: i64,
    pub token_hash: String,
    pub created_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
    pub used_at: Option<NaiveDateTime>,
}

pub fn insert_reset_token(
    conn: &mut DbConn,
    user_id: i64,
    token_hash: &str,
    now: NaiveDateTime,
    expires_at: NaiveDateTime,
) -> QueryResult<i64> {
    diesel::insert_into(password_reset_tokens::table)
        .values((
            password_reset_tokens::user_id.eq(user_id),
            password_reset_tokens::token_hash.eq(token_hash),
            password_reset_tokens::created_at.eq(now),
            password_reset_tokens::expires_at.eq(expires_at),
        ))
        .returning(password_reset_tokens::id)
        .get_result(conn)
}

pub fn reset_token_by_hash(
    conn: &mut DbConn,
    token_hash: &str,
) -> QueryResult<Option<ResetTokenRow>> {
    password_reset_tokens::table
        .filter(password_reset_tokens::token_hash.eq(token_hash))
        .select(ResetTokenRow::as_select())
        .first(conn)
        .optional()
}

/// Marks the link used, unless it already was: rows changed (0: someone was first).
pub fn use_reset_token(conn: &mut DbConn, id: i64, now: NaiveDateTime) -> QueryResult<usize> {
    diesel::update(
        password_reset_tokens::table
            .find(id)
            .filter(password_reset_tokens::used_at.is_null()),
    )
    .set(password_reset_tokens::used_at.eq(now))
    .execute(conn)
}

/// Sets aside every unused link of the user (a newer one was sent, or the password
/// changed).
pub fn retire_reset_tokens(
    conn: &mut DbConn,
    user_id: i64,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(
        password_reset_tokens::table
            .filter(password_reset_tokens::user_id.eq(user_id))
            .filter(password_reset_tokens::used_at.is_null()),
    )
    .set(password_reset_tokens::used_at.eq(now))
    .execute(conn)
}

/// How many requests, and the oldest one's time.
pub type Recent = (i64, Option<NaiveDateTime>);

/// "Forgot password" requests since `since`: for `email`, and from `ip`.
pub fn recent_reset_requests(
    conn: &mut DbConn,
    email: &str,
    ip: &str,
    since: NaiveDateTime,
) -> QueryResult<(Recent, Recent)> {
    let count = (
        diesel::dsl::count_star(),
        diesel::dsl::min(password_reset_requests::requested_at),
    );
    let by_email = password_reset_requests::table
        .filter(password_reset_requests::email.eq(email))
        .filter(password_reset_requests::requested_at.ge(since))
        .select(count)
        .first(conn)?;
    let by_ip = password_reset_requests::table
        .filter(password_reset_requests::ip.eq(ip))
        .filter(password_reset_requests::requested_at.ge(since))
        .select(count)
        .first(conn)?;
    Ok((by_email, by_ip))
}

/// Records a request, and forgets everyone's requests older than `older_than`.
pub fn record_reset_request(
    conn: &mut DbConn,
    email: &str,
    ip: &str,
    now: NaiveDateTime,
    older_than: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::delete(
        password_reset_requests::table.filter(password_reset_requests::requested_at.lt(older_than)),
    )
    .execute(conn)?;
    diesel::insert_into(password_reset_requests::table)
        .values((
            password_reset_requests::email.eq(email),
            password_reset_requests::ip.eq(ip),
            password_reset_requests::requested_at.eq(now),
        ))
        .execute(conn)
}
