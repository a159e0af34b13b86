//! The yearly target (消费帮扶目标): what an organisation bought from the villages this year
//! — the goods it accepted on arrival, less what was credited back, and what its staff
//! paid for themselves with its staff code (职工个人购买), less refunds — against the target
//! the city office set it, by village and by county, for its dashboard and its annual
//! report.

use chrono::{Datelike, NaiveDateTime};

use crate::db::DbConn;
use crate::db::accounts as acc;
use crate::db::canteen as q;
use crate::db::catalog as cat;
use crate::domain::actor::OrgScope;
use crate::domain::error::{DomainError, DomainResult};
use crate::domain::{china_date, china_year};

/// What one village supplied the organisation this year.
#[derive(Debug, Clone)]
pub struct VillageBought {
    pub village_zh: String,
    pub village_en: String,
    pub county_zh: String,
    pub county_en: String,
    pub fen: i64,
}

/// The organisation's year against its target.
#[derive(Debug, Clone)]
pub struct TargetProgress {
    pub year: i32,
    pub target_fen: i64,
    /// Bought: accepted canteen deliveries and staff purchases, less credits.
    pub bought_fen: i64,
    /// Of which staff bought for themselves with the staff code (职工个人购买).
    pub staff_fen: i64,
    /// Most first.
    pub by_village: Vec<VillageBought>,
    /// (county zh, county en, fen), most first.
    pub by_county: Vec<(String, String, i64)>,
}

/// The organisation's progress this year (China time at `now`).
pub fn progress(
    conn: &mut DbConn,
    scope: OrgScope,
    now: NaiveDateTime,
) -> DomainResult<TargetProgress> {
    let org =
        acc::organization_by_id(conn, scope.organization_id())?.ok_or(DomainError::NotFound)?;
    let year = china_date(now).year();
    let (from, to) = china_year(year);
    let (by_village_id, staff_fen) = q::bought_in(conn, org.id, from, to)?;
    let ids: Vec<i64> = by_village_id.keys().copied().collect();
    let villages = cat::villages_by_ids(conn, &ids)?;
    let counties = cat::counties(conn)?;
    let mut by_village: Vec<VillageBought> = villages
        .iter()
        .filter_map(|v| {
            let county = counties.iter().find(|c| c.id == v.county_id)?;
            Some(VillageBought {
                village_zh: v.name_zh.clone(),
                village_en: v.name_en.clone(),
                county_zh: county.name_zh.clone(),
                county_en: county.name_en.clone(),
                fen: by_village_id.get(&v.id).copied().unwrap_or(0),
            })
        })
        .collect();
    by_village.sort_by(|a, b| b.fen.cmp(&a.fen).then(a.village_zh.cmp(&b.village_zh)));
    let mut by_county: Vec<(String, String, i64)> = Vec::new();
    for v in &by_village {
        match by_county.iter_mut().find(|(zh, _, _)| *zh == v.county_zh) {
            Some((_, _, fen)) => *fen += v.fen,
            None => by_county.push((v.county_zh.clone(), v.county_en.clone(), v.fen)),
        }
    }
    by_county.sort_by_key(|c| std::cmp::Reverse(c.2));
    Ok(TargetProgress {
        year,
        target_fen: org.annual_target_fen,
        staff_fen,
        bought_fen: by_village.iter().map(|v| v.fen).sum(),
        by_village,
        by_county,
    })
}
