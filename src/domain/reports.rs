//! Reports for cadres (干部): what a reader's scope covers.

use diesel::QueryResult;

use crate::db::DbConn;
use crate::db::catalog::{self as cat, County, Village};
use crate::domain::accounts::ReportScope;

/// The counties and villages a scope may read, counties in their usual order.
pub fn scope_villages(
    conn: &mut DbConn,
    scope: &ReportScope,
) -> QueryResult<Vec<(County, Vec<Village>)>> {
    let counties = cat::counties(conn)?;
    let villages = cat::villages(conn)?;
    let visible = |v: &Village| match scope {
        ReportScope::City => true,
        ReportScope::County(c) => v.county_id == *c,
        ReportScope::Village(id) => v.id == *id,
    };
    Ok(counties
        .into_iter()
        .map(|county| {
            let mine: Vec<Village> = villages
                .iter()
                .filter(|v| v.county_id == county.id && visible(v))
                .cloned()
                .collect();
            (county, mine)
        })
        .filter(|(_, v)| !v.is_empty())
        .collect())
}
