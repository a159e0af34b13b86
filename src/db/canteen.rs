//! Queries over a canteen organisation's delivery sites (食堂 and where goods are taken).

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::DbConn;
use super::schema::delivery_sites;

#[derive(Debug, Clone, Queryable, Selectable, Identifiable, serde::Serialize)]
#[diesel(table_name = delivery_sites)]
pub struct DeliverySite {
    pub id: i64,
    pub organization_id: i64,
    pub name: String,
    pub address: String,
    pub receiver: String,
    pub phone: String,
    /// When goods may arrive, as `06:30–08:00`.
    pub delivery_window: String,
    /// No longer delivered to; kept because orders may name it.
    pub retired: bool,
    pub created_at: NaiveDateTime,
}

/// What a site says, for a new site or an edit.
#[derive(Debug, Clone, Insertable, AsChangeset)]
#[diesel(table_name = delivery_sites)]
pub struct SiteFields<'a> {
    pub name: &'a str,
    pub address: &'a str,
    pub receiver: &'a str,
    pub phone: &'a str,
    pub delivery_window: &'a str,
}

/// The organisation's sites, retired ones last.
pub fn sites_of(conn: &mut DbConn, organization_id: i64) -> QueryResult<Vec<DeliverySite>> {
    delivery_sites::table
        .filter(delivery_sites::organization_id.eq(organization_id))
        .order((delivery_sites::retired, delivery_sites::id))
        .select(DeliverySite::as_select())
        .load(conn)
}

/// One site, only within its organisation.
pub fn site_in(
    conn: &mut DbConn,
    organization_id: i64,
    id: i64,
) -> QueryResult<Option<DeliverySite>> {
    delivery_sites::table
        .find(id)
        .filter(delivery_sites::organization_id.eq(organization_id))
        .select(DeliverySite::as_select())
        .first(conn)
        .optional()
}

pub fn insert_site(
    conn: &mut DbConn,
    organization_id: i64,
    fields: &SiteFields,
    now: NaiveDateTime,
) -> QueryResult<i64> {
    diesel::insert_into(delivery_sites::table)
        .values((
            fields,
            delivery_sites::organization_id.eq(organization_id),
            delivery_sites::created_at.eq(now),
        ))
        .returning(delivery_sites::id)
        .get_result(conn)
}

pub fn update_site(conn: &mut DbConn, id: i64, fields: &SiteFields) -> QueryResult<usize> {
    diesel::update(delivery_sites::table.find(id))
        .set(fields)
        .execute(conn)
}

/// Retires a site that is still in use: rows changed (0: it already was).
pub fn retire_site(conn: &mut DbConn, id: i64) -> QueryResult<usize> {
    diesel::update(
        delivery_sites::table
            .find(id)
            .filter(delivery_sites::retired.eq(false)),
    )
    .set(delivery_sites::retired.eq(true))
    .execute(conn)
}
