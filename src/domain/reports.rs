//! Reports for cadres (干部), read from the monthly totals: sales by channel, household
//! income, the village collective's income, how many households earned, and per-capita
//! income added (人均增收 = household income ÷ resident members of the households in
//! scope), for a range of months, drilled down county → village → household.

use std::collections::HashMap;

use chrono::{Datelike, NaiveDate};
use diesel::QueryResult;

use crate::db::DbConn;
use crate::db::catalog as cat;
use crate::db::households as hh;
use crate::db::reports as q;
use crate::domain::actor::ReportScope;
use crate::domain::error::{DomainError, DomainResult};
use crate::domain::statements::{self, Statement};
use crate::states::{Channel, HouseholdCategory};

pub use crate::db::catalog::{County, Village};
pub use crate::db::households::Household;
pub use crate::db::reports::{MonthPoint, ProductSales};

/// The channels, in the order every figure lists them.
pub const CHANNELS: [Channel; 3] = [Channel::Store, Channel::Canteen, Channel::Livestream];

/// The counties and villages a scope may read, counties in their usual order.
fn scope_villages(
    conn: &mut DbConn,
    scope: &ReportScope,
) -> QueryResult<Vec<(County, Vec<Village>)>> {
    let counties = cat::counties(conn)?;
    let villages = cat::villages(conn)?;
    let visible = |v: &Village| scope.covers(v.id, v.county_id);
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
    /// 主播佣金: livestream hosts' part of the sales, taken before the split.
    pub host_commission_fen: i64,
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
        self.host_commission_fen += other.host_commission_fen;
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
fn village_figures(
    conn: &mut DbConn,
    villages: &[Village],
    months: Months,
) -> QueryResult<VillageFigures> {
    let ids: Vec<i64> = villages.iter().map(|v| v.id).collect();
    let mut by_village: HashMap<i64, Figures> =
        ids.iter().map(|id| (*id, Figures::default())).collect();
    for row in q::village_channels(conn, &ids, months.from, months.to)? {
        let f = by_village.entry(row.village_id).or_default();
        if let Some(i) = CHANNELS.iter().position(|c| c.as_str() == row.channel) {
            f.sales_fen[i] += row.sales_fen;
        }
        f.collective_fen += row.collective_fen;
        f.host_commission_fen += row.host_commission_fen;
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

fn trend(conn: &mut DbConn, villages: &[Village], months: Months) -> QueryResult<Vec<MonthPoint>> {
    let ids: Vec<i64> = villages.iter().map(|v| v.id).collect();
    q::months(conn, &ids, months.from, months.to)
}

fn top_products(
    conn: &mut DbConn,
    villages: &[Village],
    months: Months,
) -> QueryResult<Vec<ProductSales>> {
    let ids: Vec<i64> = villages.iter().map(|v| v.id).collect();
    q::top_products(conn, &ids, months.from, months.to, 10)
}

/// The chart and list every report page shows beside its table: the monthly trend and
/// the best-selling products of its villages.
pub struct AreaExtras {
    pub trend: Vec<MonthPoint>,
    pub top: Vec<ProductSales>,
}

fn extras(conn: &mut DbConn, villages: &[Village], months: Months) -> QueryResult<AreaExtras> {
    Ok(AreaExtras {
        trend: trend(conn, villages, months)?,
        top: top_products(conn, villages, months)?,
    })
}

/// Whether a report is read as a page (with its chart and top products) or downloaded
/// (its table only).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reading {
    Page,
    Download,
}

/// A report over some villages of the reader's scope.
pub struct AreaReport {
    pub villages: Vec<Village>,
    pub months: Months,
    pub figures: VillageFigures,
    pub totals: Figures,
    /// `None` for a download.
    pub extras: Option<AreaExtras>,
}

fn area_report(
    conn: &mut DbConn,
    villages: Vec<Village>,
    months: Months,
    reading: Reading,
) -> QueryResult<AreaReport> {
    let figures = village_figures(conn, &villages, months)?;
    let extras = match reading {
        Reading::Page => Some(extras(conn, &villages, months)?),
        Reading::Download => None,
    };
    Ok(AreaReport {
        totals: total(&figures, &villages),
        villages,
        months,
        figures,
        extras,
    })
}

/// `/reports`: the whole scope, county by county, and the canteens buying from it.
pub struct ScopeReport {
    pub counties: Vec<(County, Vec<Village>)>,
    pub area: AreaReport,
    /// The year the report ends in (China time), which the canteens are read for.
    pub canteen_year: i32,
    /// The organisations that bought most from the scope's villages that year.
    pub canteens: Vec<CanteenBuyer>,
}

/// An organisation of the canteen channel as a reader of the reports sees it.
pub struct CanteenBuyer {
    pub name: String,
    /// This year (China time), from the reader's villages: accepted deliveries and staff
    /// purchases, less what was given back.
    pub in_scope_fen: i64,
    /// The same from every village, against its yearly target.
    pub bought_fen: i64,
    pub target_fen: i64,
}

/// How many organisations the reports list.
const TOP_CANTEENS: usize = 10;

/// The organisations that bought most this year from `villages`, with what they bought
/// from every village against their target; those that bought nothing from them left out.
fn canteen_buyers(
    conn: &mut DbConn,
    villages: &[Village],
    year: i32,
) -> QueryResult<Vec<CanteenBuyer>> {
    let (from, to) = crate::domain::china_year(year);
    let mut buyers = Vec::new();
    for org in crate::db::accounts::organizations(conn)? {
        let (by_village, _) = crate::db::canteen::bought_in(conn, org.id, from, to)?;
        let in_scope_fen: i64 = villages.iter().filter_map(|v| by_village.get(&v.id)).sum();
        if in_scope_fen > 0 {
            buyers.push(CanteenBuyer {
                name: org.name,
                in_scope_fen,
                bought_fen: by_village.values().sum(),
                target_fen: org.annual_target_fen,
            });
        }
    }
    buyers.sort_by(|a, b| {
        b.in_scope_fen
            .cmp(&a.in_scope_fen)
            .then(a.name.cmp(&b.name))
    });
    buyers.truncate(TOP_CANTEENS);
    Ok(buyers)
}

pub fn scope_report(
    conn: &mut DbConn,
    scope: &ReportScope,
    months: Months,
    reading: Reading,
) -> QueryResult<ScopeReport> {
    let counties = scope_villages(conn, scope)?;
    let villages: Vec<Village> = counties
        .iter()
        .flat_map(|(_, v)| v.iter().cloned())
        .collect();
    let canteen_year = months.to.year();
    let canteens = match reading {
        Reading::Download => Vec::new(),
        Reading::Page => canteen_buyers(conn, &villages, canteen_year)?,
    };
    Ok(ScopeReport {
        canteen_year,
        area: area_report(conn, villages, months, reading)?,
        counties,
        canteens,
    })
}

/// A county of the scope, village by village.
pub struct CountyReport {
    pub county: County,
    pub area: AreaReport,
}

pub fn county_report(
    conn: &mut DbConn,
    scope: &ReportScope,
    county_id: i64,
    months: Months,
    reading: Reading,
) -> DomainResult<CountyReport> {
    let (county, villages) = scope_villages(conn, scope)?
        .into_iter()
        .find(|(c, _)| c.id == county_id)
        .ok_or(DomainError::NotFound)?;
    Ok(CountyReport {
        county,
        area: area_report(conn, villages, months, reading)?,
    })
}

/// How a village's households are ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HouseholdSort {
    Code,
    Name,
    Members,
    Income,
    PerCapita,
    Payouts,
}

impl HouseholdSort {
    pub const ALL: [HouseholdSort; 6] = [
        HouseholdSort::Code,
        HouseholdSort::Name,
        HouseholdSort::Members,
        HouseholdSort::Income,
        HouseholdSort::PerCapita,
        HouseholdSort::Payouts,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            HouseholdSort::Code => "code",
            HouseholdSort::Name => "name",
            HouseholdSort::Members => "members",
            HouseholdSort::Income => "income",
            HouseholdSort::PerCapita => "per_capita",
            HouseholdSort::Payouts => "payouts",
        }
    }

    pub fn parse(s: &str) -> Option<HouseholdSort> {
        HouseholdSort::ALL.into_iter().find(|x| x.as_str() == s)
    }
}

/// Which of a village's households a reader asks for, in what order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HouseholdQuery {
    pub category: Option<HouseholdCategory>,
    pub sort: HouseholdSort,
    pub descending: bool,
}

/// A village of the scope, household by household: every one, earning or not.
pub struct VillageReport {
    pub village: Village,
    /// Filtered and ordered as asked.
    pub households: Vec<HouseholdRow>,
    pub area: AreaReport,
}

pub fn village_report(
    conn: &mut DbConn,
    scope: &ReportScope,
    village_id: i64,
    months: Months,
    query: HouseholdQuery,
    reading: Reading,
) -> DomainResult<VillageReport> {
    let village = scope_villages(conn, scope)?
        .into_iter()
        .flat_map(|(_, villages)| villages)
        .find(|v| v.id == village_id)
        .ok_or(DomainError::NotFound)?;
    let mut area = area_report(conn, vec![village.clone()], months, reading)?;
    let mut households: Vec<HouseholdRow> = std::mem::take(&mut area.figures.households)
        .into_iter()
        .filter(|r| query.category.is_none_or(|c| r.household.category == c))
        .collect();
    let key = |r: &HouseholdRow| -> (i64, String) {
        match query.sort {
            HouseholdSort::Name => (0, r.household.head_name.clone()),
            HouseholdSort::Members => (i64::from(r.household.resident_members), String::new()),
            HouseholdSort::Income => (r.income_fen, String::new()),
            HouseholdSort::PerCapita => (r.per_capita_fen(), String::new()),
            HouseholdSort::Payouts => (r.payouts_fen, String::new()),
            HouseholdSort::Code => (0, r.household.code.clone()),
        }
    };
    households.sort_by_key(key);
    if query.descending {
        households.reverse();
    }
    Ok(VillageReport {
        village,
        households,
        area,
    })
}

/// A household's 共富账单 for a reader whose scope holds its village.
pub fn household_statement(
    conn: &mut DbConn,
    scope: &ReportScope,
    household_id: i64,
    from: NaiveDate,
    to: NaiveDate,
) -> DomainResult<Statement> {
    let ids: Vec<i64> = scope_villages(conn, scope)?
        .into_iter()
        .flat_map(|(_, villages)| villages)
        .map(|v| v.id)
        .collect();
    let household = hh::in_villages(conn, &ids, household_id)?.ok_or(DomainError::NotFound)?;
    Ok(statements::statement(conn, household, from, to)?)
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

/// A livestream session of the reader's scope as the livestream report reads it.
pub struct LiveLine {
    pub session: crate::db::live::LiveSession,
    pub village: Village,
    pub sum: crate::domain::live_hosts::Sum,
}

/// 直播渠道: the sessions of the scope's villages that started in `months` (China time),
/// latest first, each with what its links sold, refunded and earned the host.
pub fn livestream(
    conn: &mut DbConn,
    scope: &ReportScope,
    months: Months,
) -> QueryResult<Vec<LiveLine>> {
    let villages: Vec<Village> = scope_villages(conn, scope)?
        .into_iter()
        .flat_map(|(_, v)| v)
        .collect();
    let ids: Vec<i64> = villages.iter().map(|v| v.id).collect();
    let from = crate::domain::china_start(months.from);
    let to = crate::domain::china_start(
        months
            .to
            .checked_add_months(chrono::Months::new(1))
            .unwrap_or(months.to),
    );
    let sessions = crate::db::live::sessions_started_between(conn, &ids, from, to)?;
    let session_ids: Vec<i64> = sessions.iter().map(|s| s.id).collect();
    let figures = crate::db::live_hosts::item_figures(conn, &session_ids)?;
    Ok(sessions
        .into_iter()
        .filter_map(|session| {
            let village = villages
                .iter()
                .find(|v| v.id == session.village_id)?
                .clone();
            let sum = crate::domain::live_hosts::Sum::of(
                figures.iter().filter(|f| f.session_id == session.id),
            );
            Some(LiveLine {
                session,
                village,
                sum,
            })
        })
        .collect())
}
