//! The audit log: who changed what in money, stock and households, before → after.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::audit_log;
use super::{DbConn, insert_batched};

#[derive(Debug, Insertable)]
// `None` is NULL, not DEFAULT: then SQLite batches are one statement, not one per row.
#[diesel(table_name = audit_log, treat_none_as_default_value = false)]
pub struct NewAuditEntry<'a> {
    pub actor_user_id: Option<i64>,
    /// Who acted, readable even after the user is gone (an email, or `demo loader`).
    pub actor_label: &'a str,
    /// The address a person acted from (after `TRUSTED_PROXIES`).
    pub client_addr: Option<&'a str>,
    pub action: &'a str,
    pub entity: &'a str,
    pub entity_id: i64,
    pub village_id: Option<i64>,
    pub before_json: Option<String>,
    pub after_json: Option<String>,
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = audit_log)]
pub struct AuditEntry {
    pub id: i64,
    pub actor_label: String,
    pub client_addr: Option<String>,
    pub action: String,
    pub entity: String,
    pub entity_id: i64,
    pub village_id: Option<i64>,
    pub before_json: Option<String>,
    pub after_json: Option<String>,
    pub created_at: NaiveDateTime,
}

pub fn insert_many(conn: &mut DbConn, entries: &[NewAuditEntry]) -> QueryResult<()> {
    insert_batched!(conn, audit_log::table, entries)
}

pub fn recent(
    conn: &mut DbConn,
    village_ids: Option<&[i64]>,
    limit: i64,
) -> QueryResult<Vec<AuditEntry>> {
    let mut query = audit_log::table
        .order(audit_log::id.desc())
        .limit(limit)
        .select(AuditEntry::as_select())
        .into_boxed();
    if let Some(ids) = village_ids {
        query = query.filter(audit_log::village_id.eq_any(ids.to_vec()));
    }
    query.load(conn)
}

/// Whether anything was ever done by `actor_label` (the demo loader's mark on a database).
pub fn any_by(conn: &mut DbConn, actor_label: &str) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        audit_log::table.filter(audit_log::actor_label.eq(actor_label)),
    ))
    .get_result(conn)
}
