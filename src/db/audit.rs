//! The audit log: who changed what in money, stock and households, before → after.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::DbConn;
use super::schema::audit_log;

#[derive(Debug, Insertable)]
#[diesel(table_name = audit_log)]
pub struct NewAuditEntry<'a> {
    pub actor_user_id: Option<i64>,
    /// Who acted, readable even after the user is gone (an email, or `demo loader`).
    pub actor_label: &'a str,
    pub action: &'a str,
    pub entity: &'a str,
    pub entity_id: i64,
    pub village_id: Option<i64>,
    pub before_json: Option<String>,
    pub after_json: Option<String>,
    pub created_at: NaiveDateTime,
}

pub fn record(conn: &mut DbConn, entry: &NewAuditEntry) -> QueryResult<usize> {
    diesel::insert_into(audit_log::table)
        .values(entry)
        .execute(conn)
}

pub fn count(conn: &mut DbConn) -> QueryResult<i64> {
    audit_log::table.count().get_result(conn)
}
