//! Queries over households (农户), the suppliers every fen is traced back to.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::DbConn;
use super::schema::households;

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
    /// 脱贫户 `tuopin`, 监测户 `jiance` or 一般户 `yiban`.
    pub category: String,
    pub phone: Option<String>,
    pub payout_method: String,
    pub payout_account: Option<String>,
    pub archived: bool,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = households)]
pub struct NewHousehold<'a> {
    pub village_id: i64,
    pub code: &'a str,
    pub head_name: &'a str,
    pub resident_members: i32,
    pub category: &'a str,
    pub phone: Option<&'a str>,
    pub payout_method: &'a str,
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
