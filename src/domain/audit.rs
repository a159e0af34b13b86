//! The audit log (ARCHITECTURE §5): every change to money, stock and households, with who
//! made it and the record before → after.

use chrono::NaiveDateTime;
use diesel::QueryResult;
use serde_json::Value;

use crate::db::DbConn;
use crate::db::audit::{self as q, NewAuditEntry};
use crate::domain::actor::{TeamScope, Who};

pub use crate::db::audit::AuditEntry;

/// One change to record: `before` is `None` for a creation.
pub struct Change<'a> {
    pub action: &'a str,
    pub entity: &'a str,
    pub entity_id: i64,
    pub village_id: Option<i64>,
    pub before: Option<Value>,
    pub after: Option<Value>,
}

pub fn record(conn: &mut DbConn, who: &Who, change: Change, now: NaiveDateTime) -> QueryResult<()> {
    q::insert_many(conn, &[entry(who, change, now)])
}

/// Records many changes at once (an import), in batches.
pub fn record_many(
    conn: &mut DbConn,
    who: &Who,
    changes: Vec<Change>,
    now: NaiveDateTime,
) -> QueryResult<()> {
    let entries: Vec<NewAuditEntry> = changes.into_iter().map(|c| entry(who, c, now)).collect();
    q::insert_many(conn, &entries)
}

fn entry<'a>(who: &'a Who, change: Change<'a>, now: NaiveDateTime) -> NewAuditEntry<'a> {
    NewAuditEntry {
        actor_user_id: who.user_id,
        actor_label: &who.label,
        client_addr: who.client_addr.as_deref(),
        action: change.action,
        entity: change.entity,
        entity_id: change.entity_id,
        village_id: change.village_id,
        before_json: change.before.map(|v| v.to_string()),
        after_json: change.after.map(|v| v.to_string()),
        created_at: now,
    }
}

/// The newest `limit` entries about the member's villages.
pub fn of_team(conn: &mut DbConn, scope: &TeamScope, limit: i64) -> QueryResult<Vec<AuditEntry>> {
    q::recent(conn, Some(scope.village_ids()), limit)
}

/// The newest `limit` entries of the whole platform, for the city office.
pub fn all(conn: &mut DbConn, limit: i64) -> QueryResult<Vec<AuditEntry>> {
    q::recent(conn, None, limit)
}
