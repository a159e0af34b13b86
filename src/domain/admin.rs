//! The city office's view of the whole platform.

use diesel::QueryResult;

use crate::db::DbConn;
use crate::db::accounts::{self as acc, Organization};
use crate::db::catalog::{self as cat, County, Village};

pub struct Overview {
    pub counties: Vec<County>,
    pub villages: Vec<Village>,
    pub organizations: Vec<Organization>,
    pub users: i64,
}

pub fn overview(conn: &mut DbConn) -> QueryResult<Overview> {
    Ok(Overview {
        counties: cat::counties(conn)?,
        villages: cat::villages(conn)?,
        organizations: acc::organizations(conn)?,
        users: acc::count_users(conn)?,
    })
}
