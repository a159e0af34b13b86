//! The cadres' figures through the API, as the report pages read them and within the
//! reader's scope (a cadre's county or village, a team's villages, the city office's
//! whole city): the scope county by county, a county village by village, a village
//! household by household, and a household's statement (共富账单) entry by entry. Money
//! from the ledger.

use actix_web::{HttpResponse, get, web};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::catalog::{CountyRef, VillageRef};
use super::{
    BadRequest, Forbidden, Money, NotFound, TooManyRequests, Unauthorized, Unprocessable,
    exact_date, given, typed_param,
};
use crate::domain::catalog::Village;
use crate::domain::money::mask_phone;
use crate::domain::reports::{
    self, CHANNELS, Figures, HouseholdQuery, HouseholdSort, Months, Reading, VillageFigures,
};
use crate::domain::validation::FieldErrors;
use crate::domain::{china_date, now_utc};
use crate::error::{AppError, AppResult};
use crate::states::{Channel, HouseholdCategory, LedgerKind};
use crate::web::AppState;
use crate::web::auth::ReportsArea;

const READER: &str =
    "A token of a cadre, of a work team member (their villages) or of the city office.";

/// A `YYYY-MM` month from 2000-01 to 2100-12.
const MONTH: &str = r"^(20[0-9]{2}|2100)-(0[1-9]|1[0-2])$";

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PeriodQuery {
    /// The first month, `YYYY-MM`; January of `to`'s year unless given.
    #[param(pattern = r"^(20[0-9]{2}|2100)-(0[1-9]|1[0-2])$")]
    from: Option<String>,
    /// The last month, `YYYY-MM`; this month (China time) unless given. Not before `from`.
    #[param(pattern = r"^(20[0-9]{2}|2100)-(0[1-9]|1[0-2])$")]
    to: Option<String>,
}

/// The months asked for: each a month by the document's pattern (400 otherwise), in
/// order (422 otherwise).
fn period(from: &Option<String>, to: &Option<String>) -> AppResult<Months> {
    let month = |field: &str, text: &str| {
        Months::parse(text, text)
            .map(|m| m.from)
            .ok_or_else(|| AppError::bad_field(field, format!("a month as YYYY-MM ({MONTH})")))
    };
    let to = match to {
        Some(text) => month("to", text)?,
        None => Months::year_to_date(china_date(now_utc())).to,
    };
    let from = match from {
        Some(text) => month("from", text)?,
        None => Months::year_to_date(to).from,
    };
    if from > to {
        return Err(AppError::Invalid(FieldErrors::single(
            "from",
            "invalid-months-reversed",
        )));
    }
    Ok(Months { from, to })
}

/// Money of one channel.
#[derive(Serialize, ToSchema)]
pub struct ChannelSales {
    pub channel: Channel,
    pub sales: Money,
}

/// An area's figures for the period.
#[derive(Serialize, ToSchema)]
pub struct FiguresJson {
    /// Paid sales less refunds, all channels.
    pub sales: Money,
    pub sales_by_channel: Vec<ChannelSales>,
    /// What the households earned (their share of consignment sales).
    pub household_income: Money,
    /// The village collective's part.
    pub collective: Money,
    /// 主播佣金: livestream hosts' part, taken before the split.
    pub host_commission: Money,
    /// Households with income in the period.
    pub earners: i64,
    pub households: i64,
    /// 常住人口 of the households.
    pub residents: i64,
    /// Household income ÷ residents.
    pub per_capita_income: Money,
}

impl From<&Figures> for FiguresJson {
    fn from(f: &Figures) -> Self {
        FiguresJson {
            sales: Money::of(f.sales_total()),
            sales_by_channel: CHANNELS
                .iter()
                .zip(f.sales_fen)
                .map(|(channel, fen)| ChannelSales {
                    channel: *channel,
                    sales: Money::of(fen),
                })
                .collect(),
            household_income: Money::of(f.household_fen),
            collective: Money::of(f.collective_fen),
            host_commission: Money::of(f.host_commission_fen),
            earners: f.earners,
            households: f.households,
            residents: f.residents,
            per_capita_income: Money::of(f.per_capita_fen()),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct VillageFiguresJson {
    pub village: VillageRef,
    pub figures: FiguresJson,
}

/// Each of `villages` with its figures.
fn village_rows(figures: &VillageFigures, villages: &[Village]) -> Vec<VillageFiguresJson> {
    villages
        .iter()
        .map(|v| VillageFiguresJson {
            village: v.into(),
            figures: FiguresJson::from(&reports::total(figures, std::slice::from_ref(v))),
        })
        .collect()
}

#[derive(Serialize, ToSchema)]
pub struct CountyFigures {
    pub id: i64,
    pub county: CountyRef,
    pub figures: FiguresJson,
    pub villages: Vec<VillageFiguresJson>,
}

/// The reader's whole scope for the period, county by county.
#[derive(Serialize, ToSchema)]
pub struct ScopeFigures {
    pub from: String,
    pub to: String,
    pub totals: FiguresJson,
    pub counties: Vec<CountyFigures>,
}

/// The reader's scope, county by county and village by village.
#[utoipa::path(
    tag = "reports",
    description = READER,
    security(("bearer" = [])),
    params(PeriodQuery),
    responses(
        (status = 200, description = "The figures", body = ScopeFigures),
        BadRequest, Unauthorized, Forbidden, Unprocessable, TooManyRequests
    )
)]
#[get("/reports")]
pub async fn overview(
    state: web::Data<AppState>,
    area: ReportsArea,
    query: web::Query<PeriodQuery>,
) -> AppResult<HttpResponse> {
    let months = period(&query.from, &query.to)?;
    let scope = area.scope;
    let report = state
        .db(move |conn| reports::scope_report(conn, &scope, months, Reading::Download))
        .await?;
    let counties = report
        .counties
        .iter()
        .map(|(county, villages)| CountyFigures {
            id: county.id,
            county: county.into(),
            figures: FiguresJson::from(&reports::total(&report.area.figures, villages)),
            villages: village_rows(&report.area.figures, villages),
        })
        .collect();
    Ok(HttpResponse::Ok().json(ScopeFigures {
        from: Months::label(months.from),
        to: Months::label(months.to),
        totals: FiguresJson::from(&report.area.totals),
        counties,
    }))
}

/// A county of the reader's scope for the period, village by village.
#[derive(Serialize, ToSchema)]
pub struct CountyReportJson {
    pub from: String,
    pub to: String,
    pub county: CountyRef,
    pub totals: FiguresJson,
    pub villages: Vec<VillageFiguresJson>,
}

/// A county of the reader's scope, village by village.
#[utoipa::path(
    tag = "reports",
    description = READER,
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "The county's id"), PeriodQuery),
    responses(
        (status = 200, description = "The county's figures", body = CountyReportJson),
        BadRequest, Unauthorized, Forbidden, NotFound, Unprocessable, TooManyRequests
    )
)]
#[get("/reports/counties/{id}")]
pub async fn county_figures(
    state: web::Data<AppState>,
    area: ReportsArea,
    id: web::Path<i64>,
    query: web::Query<PeriodQuery>,
) -> AppResult<HttpResponse> {
    let months = period(&query.from, &query.to)?;
    let (scope, id) = (area.scope, id.into_inner());
    let report = state
        .db(move |conn| reports::county_report(conn, &scope, id, months, Reading::Download))
        .await?;
    Ok(HttpResponse::Ok().json(CountyReportJson {
        from: Months::label(months.from),
        to: Months::label(months.to),
        county: (&report.county).into(),
        totals: FiguresJson::from(&report.area.totals),
        villages: village_rows(&report.area.figures, &report.area.villages),
    }))
}

/// How a village's households are ordered.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum HouseholdOrder {
    Code,
    Name,
    Members,
    Income,
    PerCapita,
    Payouts,
}

impl From<HouseholdOrder> for HouseholdSort {
    fn from(o: HouseholdOrder) -> HouseholdSort {
        match o {
            HouseholdOrder::Code => HouseholdSort::Code,
            HouseholdOrder::Name => HouseholdSort::Name,
            HouseholdOrder::Members => HouseholdSort::Members,
            HouseholdOrder::Income => HouseholdSort::Income,
            HouseholdOrder::PerCapita => HouseholdSort::PerCapita,
            HouseholdOrder::Payouts => HouseholdSort::Payouts,
        }
    }
}

#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    Asc,
    Desc,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct VillageQuery {
    #[param(pattern = r"^(20[0-9]{2}|2100)-(0[1-9]|1[0-2])$")]
    from: Option<String>,
    #[param(pattern = r"^(20[0-9]{2}|2100)-(0[1-9]|1[0-2])$")]
    to: Option<String>,
    /// Only households of this category.
    #[param(value_type = Option<HouseholdCategory>)]
    category: Option<String>,
    /// Ordered by (`code` unless given).
    #[param(value_type = Option<HouseholdOrder>)]
    sort: Option<String>,
    /// `asc` unless given.
    #[param(value_type = Option<Direction>)]
    order: Option<String>,
}

/// A value of one of this module's enumerations, as its serde name spells it.
fn named<T: serde::de::DeserializeOwned>(text: &str) -> Option<T> {
    serde_json::from_value(serde_json::Value::String(text.to_string())).ok()
}

/// A household's figures for the period.
#[derive(Serialize, ToSchema)]
pub struct HouseholdFigures {
    pub id: i64,
    pub code: String,
    pub head_name: String,
    pub resident_members: i32,
    pub category: HouseholdCategory,
    pub archived: bool,
    pub income: Money,
    pub payouts: Money,
    pub per_capita_income: Money,
}

#[derive(Serialize, ToSchema)]
pub struct VillageReportJson {
    pub from: String,
    pub to: String,
    pub village: VillageRef,
    pub totals: FiguresJson,
    /// Every household, earning or not (archived ones when they earned in the period).
    pub households: Vec<HouseholdFigures>,
}

/// A village of the reader's scope, household by household.
#[utoipa::path(
    tag = "reports",
    description = READER,
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "The village's id"), VillageQuery),
    responses(
        (status = 200, description = "The village's figures", body = VillageReportJson),
        BadRequest, Unauthorized, Forbidden, NotFound, Unprocessable, TooManyRequests
    )
)]
#[get("/reports/villages/{id}")]
pub async fn village_households(
    state: web::Data<AppState>,
    area: ReportsArea,
    id: web::Path<i64>,
    query: web::Query<VillageQuery>,
) -> AppResult<HttpResponse> {
    let months = period(&query.from, &query.to)?;
    let households = HouseholdQuery {
        category: typed_param("category", &query.category, HouseholdCategory::parse)?,
        sort: typed_param("sort", &query.sort, named::<HouseholdOrder>)?
            .unwrap_or(HouseholdOrder::Code)
            .into(),
        descending: matches!(
            typed_param("order", &query.order, named::<Direction>)?,
            Some(Direction::Desc)
        ),
    };
    let (scope, id) = (area.scope, id.into_inner());
    let report = state
        .db(move |conn| {
            reports::village_report(conn, &scope, id, months, households, Reading::Download)
        })
        .await?;
    Ok(HttpResponse::Ok().json(VillageReportJson {
        from: Months::label(months.from),
        to: Months::label(months.to),
        village: (&report.village).into(),
        totals: FiguresJson::from(&report.area.totals),
        households: report
            .households
            .iter()
            .map(|r| HouseholdFigures {
                id: r.household.id,
                code: r.household.code.clone(),
                head_name: r.household.head_name.clone(),
                resident_members: r.household.resident_members,
                category: r.household.category,
                archived: r.household.archived,
                income: Money::of(r.income_fen),
                payouts: Money::of(r.payouts_fen),
                per_capita_income: Money::of(r.per_capita_fen()),
            })
            .collect(),
    }))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DaysQuery {
    /// The first day, a China date from 2000 to 2100; the first of this month unless given.
    #[param(value_type = Option<String>, format = Date, pattern = r"^(20[0-9]{2}|2100)-[0-9]{2}-[0-9]{2}$")]
    from: Option<String>,
    /// The last day, a China date from 2000 to 2100; today unless given. Not before `from`
    /// (422).
    #[param(value_type = Option<String>, format = Date, pattern = r"^(20[0-9]{2}|2100)-[0-9]{2}-[0-9]{2}$")]
    to: Option<String>,
}

/// A household as its statement heads it; the phone masked (`138****8000`), as cadres
/// read it on the page.
#[derive(Serialize, ToSchema)]
pub struct StatementHousehold {
    pub id: i64,
    pub village_id: i64,
    pub code: String,
    pub head_name: String,
    /// 常住人口
    pub resident_members: i32,
    pub category: HouseholdCategory,
    pub phone: Option<String>,
}

/// One entry of the ledger on a household's statement.
#[derive(Serialize, ToSchema)]
pub struct StatementEntry {
    /// The China date it counts on.
    pub date: String,
    pub kind: LedgerKind,
    /// Positive: earned by the household; negative: a refund or a payout.
    pub amount: Money,
    pub quantity: i32,
    pub order_id: Option<i64>,
    pub product_id: Option<i64>,
    pub product_zh: Option<String>,
    pub product_en: Option<String>,
}

/// 共富账单: what a household earned and was paid in a period, between its balances.
#[derive(Serialize, ToSchema)]
pub struct HouseholdStatementJson {
    pub household: StatementHousehold,
    pub from: String,
    pub to: String,
    /// What the collective owed the household before `from`.
    pub opening: Money,
    /// Sales, purchases and refunds in the period.
    pub earned: Money,
    pub paid_out: Money,
    /// `opening + earned − paid_out`: what is owed after `to`.
    pub closing: Money,
    /// Every entry, in order.
    pub entries: Vec<StatementEntry>,
}

/// A household's statement (共富账单) for a period, read from the ledger, for a reader
/// whose scope holds its village; another household is 404.
#[utoipa::path(
    tag = "reports",
    description = READER,
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "The household's id"), DaysQuery),
    responses(
        (status = 200, description = "The statement", body = HouseholdStatementJson),
        BadRequest, Unauthorized, Forbidden, NotFound, Unprocessable, TooManyRequests
    )
)]
#[get("/reports/households/{id}/statement")]
pub async fn household_statement(
    state: web::Data<AppState>,
    area: ReportsArea,
    id: web::Path<i64>,
    query: web::Query<DaysQuery>,
) -> AppResult<HttpResponse> {
    let (from, to) = (given("from", &query.from)?, given("to", &query.to)?);
    for (field, day) in [("from", from), ("to", to)] {
        if !day.is_empty() {
            exact_date(field, day)?;
        }
    }
    let (from, to) = crate::web::payouts::days(from, to)?;
    let (scope, id) = (area.scope, id.into_inner());
    let s = state
        .db(move |conn| reports::household_statement(conn, &scope, id, from, to))
        .await?;
    let h = &s.household;
    Ok(HttpResponse::Ok().json(HouseholdStatementJson {
        household: StatementHousehold {
            id: h.id,
            village_id: h.village_id,
            code: h.code.clone(),
            head_name: h.head_name.clone(),
            resident_members: h.resident_members,
            category: h.category,
            phone: h.phone.as_deref().map(mask_phone),
        },
        from: s.from.to_string(),
        to: s.to.to_string(),
        opening: Money::of(s.opening_fen),
        earned: Money::of(s.earned_fen),
        paid_out: Money::of(s.paid_out_fen),
        closing: Money::of(s.closing_fen),
        entries: s
            .lines
            .iter()
            .map(|l| StatementEntry {
                date: l.entry.business_date.to_string(),
                kind: l.entry.kind,
                amount: Money::of(l.entry.amount_fen),
                quantity: l.entry.quantity,
                order_id: l.entry.order_id,
                product_id: l.entry.product_id,
                product_zh: l.product.as_ref().map(|(zh, _)| zh.clone()),
                product_en: l.product.as_ref().map(|(_, en)| en.clone()),
            })
            .collect(),
    }))
}
