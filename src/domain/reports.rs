//! Reports for cadres (干部), read from the monthly totals: sales by channel, household
//! income, the village collective's income, how many households earned, and per-capita
//! income added (人均增收 = household income ÷ resident members of the households in
//! scope), for a range of months, drilled down county → village → household.

use std::collections::HashMap;

use chrono::{Datelike, NaiveDate};
use diesel::QueryResult;

use crate::db::DbConn;
use crate::db::catalog::{self as cat, County, Village};
use crate::db::households::{self as hh, Household};
use crate::db::reports::{self as q, MonthPoint, ProductSales};
use crate::domain::accounts::ReportScope;

pub const CHANNELS: [&str; 3] = ["store", "canteen", "livestream"];

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
        ReportScope::Villages(ids) => ids.contains(&v.id),
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

/// Months `from..=to`, each as its first day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Months {
    pub from: NaiveDate,
    pub to: NaiveDate,
}

impl Months {
    /// `YYYY-MM` to `YYYY-MM`; `None` when either is not a month or they are reversed.
    pub fn parse(from: &str, to: &str) -> Option<Months> {
        let month = |s: &str| {
            NaiveDate::parse_from_str(&format!("{}-01", s.trim()), "%Y-%m-%d")
                .ok()
                .filter(|d| (2000..=2100).contains(&d.year()))
        };
        let (from, to) = (month(from)?, month(to)?);
        (from <= to).then_some(Months { from, to })
    }

    /// This year so far (China time).
    pub fn year_to_date(today: NaiveDate) -> Months {
        Months {
            from: NaiveDate::from_ymd_opt(today.year(), 1, 1).unwrap_or(today),
            to: today.with_day(1).unwrap_or(today),
        }
    }

    pub fn label(d: NaiveDate) -> String {
        d.format("%Y-%m").to_string()
    }
}

/// The figures of an area (the whole scope, a county, a village) for a period.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Figures {
    /// Sales by channel, in the order of `CHANNELS`.
    pub sales_fen: [i64; 3],
    pub household_fen: i64,
    pub collective_fen: i64,
    /// Households with income above zero in the period.
    pub earners: i64,
    pub households: i64,
    /// 常住人口 of the households, the per-capita divisor.
    pub residents: i64,
}

impl Figures {
    pub fn sales_total(&self) -> i64 {
        self.sales_fen.iter().sum()
    }

    /// Household income ÷ residents, rounded down to the fen; 0 with nobody resident.
    pub fn per_capita_fen(&self) -> i64 {
        if self.residents > 0 {
            self.household_fen / self.residents
        } else {
            0
        }
    }

    fn add(&mut self, other: &Figures) {
        for (a, b) in self.sales_fen.iter_mut().zip(other.sales_fen) {
            *a += b;
        }
        self.household_fen += other.household_fen;
        self.collective_fen += other.collective_fen;
        self.earners += other.earners;
        self.households += other.households;
        self.residents += other.residents;
    }
}

/// A household with what it earned and was paid in the period.
pub struct HouseholdRow {
    pub household: Household,
    pub income_fen: i64,
    pub payouts_fen: i64,
}

impl HouseholdRow {
    pub fn per_capita_fen(&self) -> i64 {
        self.income_fen / i64::from(self.household.resident_members.max(1))
    }
}

/// Everything the report pages show for a set of villages.
pub struct VillageFigures {
    pub by_village: HashMap<i64, Figures>,
    pub households: Vec<HouseholdRow>,
}

/// The figures of each village of `villages`, and its households (every active one,
/// those that earned nothing too: they are the ones cadres look for; archived ones when
/// they earned in the period).
pub fn village_figures(
    conn: &mut DbConn,
    villages: &[Village],
    months: Months,
) -> QueryResult<VillageFigures> {
    let ids: Vec<i64> = villages.iter().map(|v| v.id).collect();
    let mut by_village: HashMap<i64, Figures> =
        ids.iter().map(|id| (*id, Figures::default())).collect();
    for row in q::village_channels(conn, &ids, months.from, months.to)? {
        let f = by_village.entry(row.village_id).or_default();
        if let Some(i) = CHANNELS.iter().position(|c| *c == row.channel) {
            f.sales_fen[i] += row.sales_fen;
        }
        f.collective_fen += row.collective_fen;
    }
    let incomes: HashMap<i64, (i64, i64)> =
        q::household_incomes(conn, &ids, months.from, months.to)?
            .into_iter()
            .map(|r| (r.household_id, (r.income_fen, r.payouts_fen)))
            .collect();
    let mut households = Vec::new();
    for household in hh::all_in_villages(conn, &ids)? {
        // An archived household still counts for what it earned while it supplied goods.
        if household.archived && !incomes.contains_key(&household.id) {
            continue;
        }
        let (income_fen, payouts_fen) = incomes.get(&household.id).copied().unwrap_or((0, 0));
        let f = by_village.entry(household.village_id).or_default();
        f.household_fen += income_fen;
        f.households += 1;
        f.residents += i64::from(household.resident_members);
        if income_fen > 0 {
            f.earners += 1;
        }
        households.push(HouseholdRow {
            household,
            income_fen,
            payouts_fen,
        });
    }
    Ok(VillageFigures {
        by_village,
        households,
    })
}

/// The sum of the figures of `villages`.
pub fn total(figures: &VillageFigures, villages: &[Village]) -> Figures {
    let mut total = Figures::default();
    for v in villages {
        if let Some(f) = figures.by_village.get(&v.id) {
            total.add(f);
        }
    }
    total
}

pub fn trend(
    conn: &mut DbConn,
    villages: &[Village],
    months: Months,
) -> QueryResult<Vec<MonthPoint>> {
    let ids: Vec<i64> = villages.iter().map(|v| v.id).collect();
    q::months(conn, &ids, months.from, months.to)
}

pub fn top_products(
    conn: &mut DbConn,
    villages: &[Village],
    months: Months,
) -> QueryResult<Vec<ProductSales>> {
    let ids: Vec<i64> = villages.iter().map(|v| v.id).collect();
    q::top_products(conn, &ids, months.from, months.to, 10)
}

/// Household income and the collective's in one month.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MonthIncome {
    pub month: NaiveDate,
    pub household_fen: i64,
    pub collective_fen: i64,
}

/// Every month of the period (at most ten years of it) with its totals, months without
/// any sale at zero: what the monthly chart draws.
pub fn monthly_income(points: &[MonthPoint], months: Months) -> Vec<MonthIncome> {
    let mut all = Vec::new();
    let mut m = months.from;
    while m <= months.to && all.len() < 120 {
        let p = points.iter().find(|p| p.month == m);
        all.push(MonthIncome {
            month: m,
            household_fen: p.map_or(0, |p| p.household_fen),
            collective_fen: p.map_or(0, |p| p.collective_fen),
        });
        m = m
            .checked_add_months(chrono::Months::new(1))
            .unwrap_or(NaiveDate::MAX);
    }
    all
}
