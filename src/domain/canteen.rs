//! Canteen buyers (食堂): their organisation, on whose account they buy in bulk.

use crate::db::DbConn;
use crate::db::accounts as q;
use crate::domain::actor::OrgScope;
use crate::domain::error::{DomainError, DomainResult};

pub use crate::db::accounts::Organization;

/// The canteen buyer's own organisation.
pub fn organization(conn: &mut DbConn, scope: OrgScope) -> DomainResult<Organization> {
    q::organization_by_id(conn, scope.organization_id())?.ok_or(DomainError::NotFound)
}
