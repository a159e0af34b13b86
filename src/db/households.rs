//! Queries over households (农户), the suppliers every fen is traced back to.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::DbConn;
use super::schema::households;
use crate::states::{HouseholdCategory, PayoutMethod};

#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = households)]
pub struct Household {
    pub id: i64,
    pub village_id: i64,
    /// 户编号: the household's number in the village register.
    pub code: String,
    pub head_name: String,
    /// 常住人口: resident members, the divisor of per-capita income.
    pub resident_members: i32,
    pub category: HouseholdCategory,
    pub phone: Option<String>,
    pub payout_method: PayoutMethod,
    pub payout_account: Option<String>,
    pub archived: bool,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Insertable)]
// `None` is NULL, not DEFAULT: then SQLite batches are one statement, not one per row.
#[diesel(table_name = households, treat_none_as_default_value = false)]
pub struct NewHousehold<'a> {
    pub village_id: i64,
    pub code: &'a str,
    pub head_name: &'a str,
    pub resident_members: i32,
    pub category: HouseholdCategory,
    pub phone: Option<&'a str>,
    pub payout_method: PayoutMethod,
    pub payout_account: Option<&'a str>,
    pub archived: bool,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

pub fn by_code(conn: &mut DbConn, village_id: i64, code: &str) -> QueryResult<Option<Household>> {
    households::table
        .filter(households::village_id.eq(village_id))
        .filter(households::code.eq(code))
        .select(Household::as_select())
        .first(conn)
        .optional()
}

pub fn of_village(conn: &mut DbConn, village_id: i64) -> QueryResult<Vec<Household>> {
    households::table
        .filter(households::village_id.eq(village_id))
        .filter(households::archived.eq(false))
        .order(households::code)
        .select(Household::as_select())
        .load(conn)
}

pub fn insert(conn: &mut DbConn, new: &NewHousehold) -> QueryResult<i64> {
    diesel::insert_into(households::table)
        .values(new)
        .returning(households::id)
        .get_result(conn)
}

pub fn count_by_village(conn: &mut DbConn, village_ids: &[i64]) -> QueryResult<Vec<(i64, i64)>> {
    households::table
        .filter(households::village_id.eq_any(village_ids))
        .filter(households::archived.eq(false))
        .group_by(households::village_id)
        .select((households::village_id, diesel::dsl::count_star()))
        .load(conn)
}

/// Which households a list shows. The village list is the caller's scope.
pub struct HouseholdFilter<'a> {
    pub village_ids: &'a [i64],
    pub query: &'a str,
    pub category: Option<HouseholdCategory>,
    pub archived: bool,
}

/// A page of households in scope matching the filter, with how many match in all.
pub fn list(
    conn: &mut DbConn,
    filter: &HouseholdFilter,
    offset: i64,
    limit: i64,
) -> QueryResult<(Vec<Household>, i64)> {
    macro_rules! filtered {
        () => {{
            let mut q = households::table
                .filter(households::village_id.eq_any(filter.village_ids.to_vec()))
                .filter(households::archived.eq(filter.archived))
                .into_boxed();
            if !filter.query.is_empty() {
                let pattern = format!("%{}%", super::catalog::escape_like(filter.query));
                q = q.filter(
                    households::code
                        .like(pattern.clone())
                        .escape('\\')
                        .or(households::head_name.like(pattern.clone()).escape('\\'))
                        .or(households::phone.like(pattern).escape('\\')),
                );
            }
            if let Some(category) = filter.category {
                q = q.filter(households::category.eq(category));
            }
            q
        }};
    }
    let total = filtered!().count().get_result(conn)?;
    let rows = filtered!()
        .order((households::village_id, households::code))
        .offset(offset)
        .limit(limit)
        .select(Household::as_select())
        .load(conn)?;
    Ok((rows, total))
}

/// The household, if it belongs to one of `village_ids`.
pub fn in_villages(
    conn: &mut DbConn,
    village_ids: &[i64],
    id: i64,
) -> QueryResult<Option<Household>> {
    households::table
        .filter(households::id.eq(id))
        .filter(households::village_id.eq_any(village_ids.to_vec()))
        .select(Household::as_select())
        .first(conn)
        .optional()
}

/// The fields a team edits.
#[derive(Debug, Clone, AsChangeset)]
#[diesel(table_name = households, treat_none_as_null = true)]
pub struct HouseholdChanges<'a> {
    pub code: &'a str,
    pub head_name: &'a str,
    pub resident_members: i32,
    pub category: HouseholdCategory,
    pub phone: Option<&'a str>,
    pub payout_method: PayoutMethod,
    pub payout_account: Option<&'a str>,
    pub updated_at: NaiveDateTime,
}

pub fn update(conn: &mut DbConn, id: i64, changes: &HouseholdChanges) -> QueryResult<usize> {
    diesel::update(households::table.find(id))
        .set(changes)
        .execute(conn)
}

pub fn set_archived(
    conn: &mut DbConn,
    id: i64,
    archived: bool,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(households::table.find(id))
        .set((
            households::archived.eq(archived),
            households::updated_at.eq(now),
        ))
        .execute(conn)
}

/// Every household of a village, archived ones too: what an import matches codes against.
pub fn all_of_village(conn: &mut DbConn, village_id: i64) -> QueryResult<Vec<Household>> {
    households::table
        .filter(households::village_id.eq(village_id))
        .select(Household::as_select())
        .load(conn)
}

pub fn insert_many(conn: &mut DbConn, rows: &[NewHousehold]) -> QueryResult<()> {
    super::insert_batched!(conn, households::table, rows)
}

/// Locks a household's row until the transaction ends (PostgreSQL), so that two payouts
/// to it are checked against its balance one after the other. SQLite's write
/// transaction already holds the only write lock.
pub fn lock(conn: &mut DbConn, id: i64) -> QueryResult<()> {
    let q = households::table.find(id).select(households::id);
    match conn {
        DbConn::Pg(c) => q.for_update().first::<i64>(c).map(drop),
        DbConn::Sqlite(c) => q.first::<i64>(c).map(drop),
    }
}

/// Active households of `village_ids`, by village and code.
pub fn active_in_villages(conn: &mut DbConn, village_ids: &[i64]) -> QueryResult<Vec<Household>> {
    households::table
        .filter(households::village_id.eq_any(village_ids.to_vec()))
        .filter(households::archived.eq(false))
        .order((households::village_id, households::code))
        .select(Household::as_select())
        .load(conn)
}

/// Every household of `village_ids`, archived ones too.
pub fn all_in_villages(conn: &mut DbConn, village_ids: &[i64]) -> QueryResult<Vec<Household>> {
    households::table
        .filter(households::village_id.eq_any(village_ids.to_vec()))
        .order((households::village_id, households::code))
        .select(Household::as_select())
        .load(conn)
}
