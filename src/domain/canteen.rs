//! Canteen buyers (食堂): their organisation, on whose account they buy in bulk.

use diesel::QueryResult;

use crate::db::DbConn;
use crate::db::accounts::{self as q, Organization};

pub fn organization(conn: &mut DbConn, organization_id: i64) -> QueryResult<Option<Organization>> {
    q::organization_by_id(conn, organization_id)
}
