//! Queries over the JSON API's request counts (`api_rate_windows`): one row per caller
//! and minute, counted up by an upsert, so that every server process counts in one place.

use diesel::prelude::*;
use diesel::upsert::excluded;

use super::DbConn;
use super::schema::api_rate_windows as w;

/// Counts one request of `subject` in `minute`; how many it has made in that minute.
pub fn count_request(conn: &mut DbConn, subject: &str, minute: i64) -> QueryResult<i32> {
    let insert = diesel::insert_into(w::table)
        .values((
            w::subject.eq(subject),
            w::minute.eq(minute),
            w::requests.eq(1),
        ))
        .on_conflict((w::subject, w::minute))
        .do_update()
        .set(w::requests.eq(w::requests + excluded(w::requests)))
        .returning(w::requests);
    match conn {
        DbConn::Pg(c) => insert.get_result(c),
        DbConn::Sqlite(c) => insert.get_result(c),
    }
}

/// Forgets the minutes before `minute`.
pub fn forget_before(conn: &mut DbConn, minute: i64) -> QueryResult<usize> {
    diesel::delete(w::table.filter(w::minute.lt(minute))).execute(conn)
}
