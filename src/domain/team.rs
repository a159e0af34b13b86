//! The work team's workspace: the villages a member is bound to, at a glance.

use diesel::QueryResult;

use crate::db::catalog::{self as cat, Village};
use crate::db::{DbConn, households};

pub struct VillageSummary {
    pub village: Village,
    pub households: i64,
    pub products: i64,
}

/// The member's villages with how many households and products each has.
pub fn workspace(conn: &mut DbConn, village_ids: &[i64]) -> QueryResult<Vec<VillageSummary>> {
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
