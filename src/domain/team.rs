//! The work team's workspace: the villages a member is bound to, at a glance.

use diesel::QueryResult;

use crate::db::catalog as cat;
use crate::db::{DbConn, households};
use crate::domain::actor::TeamScope;

pub use crate::db::catalog::Village;

pub struct VillageSummary {
    pub village: Village,
    pub households: i64,
    pub products: i64,
}

/// The member's villages, for the forms that ask which one.
pub fn villages(conn: &mut DbConn, scope: &TeamScope) -> QueryResult<Vec<Village>> {
    cat::villages_by_ids(conn, scope.village_ids())
}

/// The member's villages with how many households and products each has.
pub fn workspace(conn: &mut DbConn, scope: &TeamScope) -> QueryResult<Vec<VillageSummary>> {
    let village_ids = scope.village_ids();
    let villages = cat::villages_by_ids(conn, village_ids)?;
    let household_counts = households::count_by_village(conn, village_ids)?;
    let product_counts = cat::count_products_by_village(conn, village_ids)?;
    let count_of = |counts: &[(i64, i64)], id: i64| {
        counts.iter().find(|(v, _)| *v == id).map_or(0, |(_, n)| *n)
    };
    Ok(villages
        .into_iter()
        .map(|village| VillageSummary {
            households: count_of(&household_counts, village.id),
            products: count_of(&product_counts, village.id),
            village,
        })
        .collect())
}
