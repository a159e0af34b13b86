//! The work team's workspace: the villages a member is bound to, at a glance, and each
//! village's delivery rhythm (lead time, delivery weekdays) that canteens order by.

use chrono::NaiveDateTime;
use diesel::QueryResult;
use serde_json::json;

use crate::db::catalog as cat;
use crate::db::{DbConn, households, write_transaction};
use crate::domain::actor::{TeamScope, Who};
use crate::domain::audit::{self, Change};
use crate::domain::error::{DomainError, DomainResult};
use crate::domain::validation::{self as v, FieldErrors};

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

/// A village's delivery rhythm as a team member sets it: the lead time in days and the
/// weekdays it delivers on (`1` Monday … `7` Sunday, repeated checkboxes).
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct DeliveryForm {
    pub lead_time_days: String,
    pub weekdays: Vec<String>,
}

impl DeliveryForm {
    pub fn of(village: &Village) -> DeliveryForm {
        DeliveryForm {
            lead_time_days: village.lead_time_days.to_string(),
            weekdays: delivery_weekdays(&village.delivery_weekdays)
                .iter()
                .map(u32::to_string)
                .collect(),
        }
    }
}

/// The weekdays a stored mask delivers on, `1` Monday … `7` Sunday.
pub fn delivery_weekdays(mask: &str) -> Vec<u32> {
    mask.chars()
        .zip(1..)
        .filter(|(c, _)| *c == '1')
        .map(|(_, day)| day)
        .collect()
}

/// Reads weekdays ticked as repeated checkboxes (`1` Monday … `7` Sunday), at least one,
/// into the stored mask, Monday first (`1010000`).
pub fn weekday_mask(errors: &mut FieldErrors, field: &str, days: &[String]) -> String {
    let mut mask = ['0'; 7];
    for day in days {
        match day.trim().parse::<usize>() {
            Ok(d @ 1..=7) => mask[d - 1] = '1',
            _ => errors.add(field, "invalid-choice"),
        }
    }
    if days.is_empty() {
        errors.add(field, "invalid-weekdays-none");
    }
    mask.iter().collect()
}

/// One of the member's villages, for its delivery form; another village is not found.
pub fn village(conn: &mut DbConn, scope: &TeamScope, id: i64) -> DomainResult<Village> {
    if !scope.village_ids().contains(&id) {
        return Err(DomainError::NotFound);
    }
    cat::village_by_id(conn, id)?.ok_or(DomainError::NotFound)
}

/// Sets a village's lead time (0–30 days) and delivery weekdays (at least one), audited.
pub fn save_delivery(
    conn: &mut DbConn,
    who: &Who,
    scope: &TeamScope,
    id: i64,
    form: &DeliveryForm,
    now: NaiveDateTime,
) -> DomainResult<()> {
    let existing = village(conn, scope, id)?;
    let mut errors = FieldErrors::default();
    let lead = v::whole_number(&mut errors, "lead_time_days", &form.lead_time_days, 0, 30);
    let mask = weekday_mask(&mut errors, "weekdays", &form.weekdays);
    let Some(lead) = lead.filter(|_| errors.is_empty()) else {
        return Err(errors.into());
    };
    write_transaction(conn, |conn| {
        cat::set_delivery(conn, existing.id, lead, &mask)?;
        let change = Change {
            action: "set_delivery",
            entity: "village",
            entity_id: existing.id,
            village_id: Some(existing.id),
            before: Some(json!({
                "lead_time_days": existing.lead_time_days,
                "delivery_weekdays": existing.delivery_weekdays,
            })),
            after: Some(json!({ "lead_time_days": lead, "delivery_weekdays": mask })),
        };
        audit::record(conn, who, change, now)?;
        Ok(())
    })
}
