//! `/reports`: read-only reports within the reader's scope — cadres their city, county
//! or village, admins all, work teams their own villages. Every table is shown and
//! downloaded (`?format=csv|xlsx`) from the same rows, so the numbers are the same; phone
//! numbers are masked everywhere here.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use serde_json::{Value, json};

use super::AppState;
use super::auth::ReportsArea;
use super::charts;
use super::download::{self, Cell, Format, Table};
use super::orders::time;
use super::payouts::{PeriodQuery, period, statement_json};
use super::render::Ctx;
use crate::domain::actor::ReportScope;
use crate::domain::live_hosts::Sum;
use crate::domain::money::{format_fen, mask_phone};
use crate::domain::reports::{
    self, AreaReport, CHANNELS, Figures, HouseholdQuery, HouseholdSort, Months, Reading,
};
use crate::domain::{china_date, now_utc};
use crate::error::{AppError, AppResult};
use crate::i18n::Lang;
use crate::states::HouseholdCategory;

#[derive(serde::Deserialize, Default, Clone)]
#[serde(default)]
pub struct ReportQuery {
    from: String,
    to: String,
    format: String,
    category: String,
    sort: String,
    dir: String,
}

impl ReportQuery {
    fn months(&self) -> AppResult<Months> {
        if self.from.is_empty() && self.to.is_empty() {
            return Ok(Months::year_to_date(china_date(now_utc())));
        }
        Months::parse(&self.from, &self.to).ok_or_else(|| AppError::bad_field("from", &self.from))
    }

    fn format(&self) -> AppResult<Option<Format>> {
        match self.format.as_str() {
            "" | "html" => Ok(None),
            other => Format::parse(other).map(Some),
        }
    }

    fn households(&self) -> AppResult<HouseholdQuery> {
        let category = match self.category.as_str() {
            "" => None,
            c => Some(
                HouseholdCategory::parse(c).ok_or_else(|| AppError::bad_field("category", c))?,
            ),
        };
        let sort = match self.sort.as_str() {
            "" => HouseholdSort::Code,
            s => HouseholdSort::parse(s).ok_or_else(|| AppError::bad_field("sort", s))?,
        };
        Ok(HouseholdQuery {
            category,
            sort,
            descending: self.dir == "desc",
        })
    }
}

fn reading(format: Option<Format>) -> Reading {
    match format {
        Some(_) => Reading::Download,
        None => Reading::Page,
    }
}

/// One table, as both the page and the download show it.
struct ReportTable {
    header: Vec<String>,
    /// Each row: where its first cell links to, and its cells.
    rows: Vec<(Option<String>, Vec<Cell>)>,
}

impl ReportTable {
    fn json(&self) -> Value {
        json!({
            "header": self.header,
            "rows": self.rows.iter().map(|(link, cells)| json!({
                "link": link,
                "cells": cells.iter().map(|c| match c {
                    Cell::Text(s) => json!(s),
                    Cell::Number(n) => json!(n.to_string()),
                    Cell::Money(fen) => json!(format_fen(*fen)),
                }).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
        })
    }

    fn download(&self, lang: Lang, format: Format, name: &str) -> AppResult<HttpResponse> {
        let table = Table {
            sheet: lang.t("reports-title"),
            header: self.header.clone(),
            rows: self.rows.iter().map(|(_, cells)| cells.clone()).collect(),
        };
        download::respond(&table, format, name)
    }
}

fn figure_header(lang: Lang, first: &str) -> Vec<String> {
    let mut header = vec![lang.t(first)];
    header.extend(CHANNELS.iter().map(|c| lang.t(&format!("channel-{c}"))));
    header.extend(
        [
            "reports-sales",
            "reports-household-income",
            "reports-collective-income",
            "reports-earners",
            "reports-households",
            "reports-residents",
            "reports-per-capita",
        ]
        .iter()
        .map(|k| lang.t(k)),
    );
    header
}

fn figure_cells(name: String, f: &Figures) -> Vec<Cell> {
    let mut cells = vec![Cell::Text(name)];
    cells.extend(f.sales_fen.iter().map(|fen| Cell::Money(*fen)));
    cells.extend([
        Cell::Money(f.sales_total()),
        Cell::Money(f.household_fen),
        Cell::Money(f.collective_fen),
        Cell::Number(f.earners),
        Cell::Number(f.households),
        Cell::Number(f.residents),
        Cell::Money(f.per_capita_fen()),
    ]);
    cells
}

fn figures_json(lang: Lang, f: &Figures) -> Value {
    json!({
        "channels": CHANNELS.iter().zip(f.sales_fen).map(|(c, fen)| json!({
            "label": lang.t(&format!("channel-{c}")), "sales": format_fen(fen),
        })).collect::<Vec<_>>(),
        "sales": format_fen(f.sales_total()),
        "household": format_fen(f.household_fen),
        "collective": format_fen(f.collective_fen),
        "host_commission": format_fen(f.host_commission_fen),
        "has_host_commission": f.host_commission_fen != 0,
        "earners": f.earners, "households": f.households, "residents": f.residents,
        "per_capita": format_fen(f.per_capita_fen()),
    })
}

/// One report page: its title, table and what is shown around it.
struct ReportPage {
    title: String,
    table: ReportTable,
    area: AreaReport,
    /// What only one kind of page has (the village page's filters).
    extra: Value,
}

/// What every report page shows around its table: the period, the area's figures, the
/// monthly chart and the top products.
fn page(
    ctx: &Ctx,
    state: &AppState,
    area: &ReportsArea,
    report: ReportPage,
) -> AppResult<HttpResponse> {
    let lang = ctx.lang;
    let ReportPage {
        title,
        table,
        area: report,
        extra,
    } = report;
    let months = report.months;
    let labels = (
        lang.t("reports-household-income"),
        lang.t("reports-collective-income"),
    );
    let scope_key = match area.scope {
        ReportScope::City => "reports-scope-city",
        ReportScope::County(_) => "reports-scope-county",
        ReportScope::Village(_) | ReportScope::Villages(_) => "reports-scope-village",
    };
    let (trend, top) = match &report.extras {
        Some(extras) => (extras.trend.as_slice(), extras.top.as_slice()),
        None => (&[][..], &[][..]),
    };
    let data = json!({
        "title": title,
        "user": area.actor.user.display_name,
        "scope": lang.t(scope_key),
        "from": Months::label(months.from), "to": Months::label(months.to),
        "totals": figures_json(lang, &report.totals),
        "table": table.json(),
        "chart": charts::income_bars(&reports::monthly_income(trend, months), (&labels.0, &labels.1)),
        "top": top.iter().map(|p| json!({
            "name": lang.pick(&p.name_zh, &p.name_en), "quantity": p.quantity, "sales": format_fen(p.sales_fen),
        })).collect::<Vec<_>>(),
        "extra": extra,
    });
    ctx.page(&state.templates, StatusCode::OK, "pages/reports", data)
}

/// `/reports`: the whole scope, by county.
pub async fn home(
    state: web::Data<AppState>,
    ctx: Ctx,
    area: ReportsArea,
    query: web::Query<ReportQuery>,
) -> AppResult<HttpResponse> {
    let months = query.months()?;
    let format = query.format()?;
    let scope = area.scope.clone();
    let report = state
        .db(move |conn| reports::scope_report(conn, &scope, months, reading(format)))
        .await?;
    let lang = ctx.lang;
    let table = ReportTable {
        header: figure_header(lang, "reports-county"),
        rows: report
            .counties
            .iter()
            .map(|(county, vs)| {
                let f = reports::total(&report.area.figures, vs);
                (
                    Some(format!("/reports/counties/{}", county.id)),
                    figure_cells(lang.pick(&county.name_zh, &county.name_en).to_string(), &f),
                )
            })
            .collect(),
    };
    if let Some(format) = format {
        return table.download(lang, format, "report-counties");
    }
    let places = json!(report.counties.iter().map(|(c, vs)| json!({
        "id": c.id,
        "name": lang.pick(&c.name_zh, &c.name_en),
        "villages": vs.iter().map(|v| json!({ "id": v.id, "name": lang.pick(&v.name_zh, &v.name_en) })).collect::<Vec<_>>(),
    })).collect::<Vec<_>>());
    let page_data = ReportPage {
        title: lang.t("reports-title"),
        table,
        area: report.area,
        extra: json!({
            "counties": places,
            "canteen_year": report.canteen_year,
            "canteens": report.canteens.iter().map(|c| {
                let (bar, label) = charts::target_bar(lang, c.bought_fen, c.target_fen);
                json!({
                    "name": c.name,
                    "in_scope": format_fen(c.in_scope_fen),
                    "bar": bar,
                    "progress": label,
                })
            }).collect::<Vec<_>>(),
        }),
    };
    page(&ctx, &state, &area, page_data)
}

/// `/reports/counties/{id}`: a county of the scope, by village.
pub async fn county(
    state: web::Data<AppState>,
    ctx: Ctx,
    area: ReportsArea,
    id: web::Path<i64>,
    query: web::Query<ReportQuery>,
) -> AppResult<HttpResponse> {
    let months = query.months()?;
    let format = query.format()?;
    let (scope, id) = (area.scope.clone(), id.into_inner());
    let report = state
        .db(move |conn| reports::county_report(conn, &scope, id, months, reading(format)))
        .await?;
    let lang = ctx.lang;
    let table = ReportTable {
        header: figure_header(lang, "reports-village"),
        rows: report
            .area
            .villages
            .iter()
            .map(|v| {
                let f = report
                    .area
                    .figures
                    .by_village
                    .get(&v.id)
                    .cloned()
                    .unwrap_or_default();
                (
                    Some(format!("/reports/villages/{}", v.id)),
                    figure_cells(lang.pick(&v.name_zh, &v.name_en).to_string(), &f),
                )
            })
            .collect(),
    };
    if let Some(format) = format {
        return table.download(lang, format, &format!("report-{}", report.county.slug));
    }
    let page_data = ReportPage {
        title: lang
            .pick(&report.county.name_zh, &report.county.name_en)
            .to_string(),
        table,
        area: report.area,
        extra: json!({}),
    };
    page(&ctx, &state, &area, page_data)
}

/// `/reports/villages/{id}`: a village's households, each one, earning or not.
pub async fn village(
    state: web::Data<AppState>,
    ctx: Ctx,
    area: ReportsArea,
    id: web::Path<i64>,
    query: web::Query<ReportQuery>,
) -> AppResult<HttpResponse> {
    let months = query.months()?;
    let format = query.format()?;
    let households = query.households()?;
    let (scope, id) = (area.scope.clone(), id.into_inner());
    let report = state
        .db(move |conn| {
            reports::village_report(conn, &scope, id, months, households, reading(format))
        })
        .await?;
    let lang = ctx.lang;
    let header = [
        "household-code",
        "household-head-name",
        "household-category",
        "household-phone",
        "household-resident-members",
        "reports-household-income",
        "reports-per-capita",
        "reports-paid-out",
    ]
    .iter()
    .map(|k| lang.t(k))
    .collect();
    let table = ReportTable {
        header,
        rows: report
            .households
            .iter()
            .map(|r| {
                let h = &r.household;
                (
                    Some(format!("/reports/households/{}/statement", h.id)),
                    vec![
                        Cell::Text(h.code.clone()),
                        Cell::Text(h.head_name.clone()),
                        Cell::Text(lang.t(&format!("category-household-{}", h.category))),
                        Cell::Text(h.phone.as_deref().map(mask_phone).unwrap_or_default()),
                        Cell::Number(i64::from(h.resident_members)),
                        Cell::Money(r.income_fen),
                        Cell::Money(r.per_capita_fen()),
                        Cell::Money(r.payouts_fen),
                    ],
                )
            })
            .collect(),
    };
    let village = &report.village;
    if let Some(format) = format {
        return table.download(lang, format, &format!("report-{}", village.slug));
    }
    let q = query.into_inner();
    let categories: Vec<&str> = HouseholdCategory::ALL.iter().map(|c| c.as_str()).collect();
    let extra = json!({
        "village_id": village.id,
        "categories": super::forms::coded_options(lang, &categories, "category-household-", &q.category),
        "sorts": HouseholdSort::ALL.iter().map(|s| json!({
            "value": s.as_str(), "label": lang.t(&format!("reports-sort-{}", s.as_str())), "selected": s.as_str() == q.sort,
        })).collect::<Vec<_>>(),
        "desc": households.descending,
        // The download carries the page's filters, so that it holds the same rows.
        "filters": format!("&category={}&sort={}&dir={}", q.category, q.sort, if households.descending { "desc" } else { "" }),
    });
    let page_data = ReportPage {
        title: lang.pick(&village.name_zh, &village.name_en).to_string(),
        table,
        area: report.area,
        extra,
    };
    page(&ctx, &state, &area, page_data)
}

/// `/reports/households/{id}/statement`: a household's 共富账单, phone masked.
pub async fn household_statement(
    state: web::Data<AppState>,
    ctx: Ctx,
    area: ReportsArea,
    id: web::Path<i64>,
    query: web::Query<PeriodQuery>,
) -> AppResult<HttpResponse> {
    let (from, to) = period(&query)?;
    let (scope, id) = (area.scope.clone(), id.into_inner());
    let s = state
        .db(move |conn| reports::household_statement(conn, &scope, id, from, to))
        .await?;
    let mut data = statement_json(ctx.lang, &s, false);
    data["base"] = json!(format!("/reports/households/{}/statement", s.household.id));
    ctx.page(&state.templates, StatusCode::OK, "pages/statement", data)
}

#[derive(Default, serde::Deserialize)]
#[serde(default)]
pub struct LiveQuery {
    #[serde(flatten)]
    report: ReportQuery,
    /// `session` (the default), `host` or `platform`.
    by: String,
}

/// `/reports/live`: the livestream channel (直播) of the reader's scope in the months
/// asked, by session, by host or by platform, on a page or as CSV/XLSX. Money is what
/// the links' orders were paid, less refunds, and the hosts' commission out of it.
pub async fn live(
    state: web::Data<AppState>,
    ctx: Ctx,
    area: ReportsArea,
    query: web::Query<LiveQuery>,
) -> AppResult<HttpResponse> {
    let months = query.report.months()?;
    let format = query.report.format()?;
    let by = match query.by.as_str() {
        "" | "session" => "session",
        "host" => "host",
        "platform" => "platform",
        other => return Err(AppError::bad_field("by", other)),
    };
    let scope = area.scope.clone();
    let lines = state
        .db(move |conn| reports::livestream(conn, &scope, months))
        .await?;
    let lang = ctx.lang;
    // Rows keyed by what they are grouped by, in the order first met (sessions latest first).
    let mut groups: Vec<((i64, String), Vec<&reports::LiveLine>)> = Vec::new();
    for line in &lines {
        let s = &line.session;
        let id = match by {
            "session" => s.id,
            "host" => s.host_id.unwrap_or(0),
            _ => 0,
        };
        let name = match by {
            "session" => format!(
                "{} · {} · {}",
                time(s.starts_at),
                lang.pick(&line.village.name_zh, &line.village.name_en),
                s.title
            ),
            "host" => format!(
                "{} · {}",
                s.host_name,
                lang.pick(&line.village.name_zh, &line.village.name_en)
            ),
            _ => lang.t(&format!("live-platform-{}", s.platform)),
        };
        let key = (id, name);
        match groups.iter_mut().find(|(k, _)| *k == key) {
            Some((_, group)) => group.push(line),
            None => groups.push((key, vec![line])),
        }
    }
    let mut header = vec![lang.t(match by {
        "session" => "reports-live-session",
        "host" => "live-host",
        _ => "live-platform",
    })];
    header.extend(
        [
            "reports-live-sessions",
            "live-orders",
            "live-paid-orders",
            "live-paid",
            "live-refunded",
            "live-host-commission",
            "live-net",
        ]
        .iter()
        .map(|k| lang.t(k)),
    );
    let row = |name: String, group: &[&reports::LiveLine]| {
        let sum = Sum::of_sums(group.iter().map(|l| &l.sum));
        vec![
            Cell::Text(name),
            Cell::Number(group.len() as i64),
            Cell::Number(sum.orders),
            Cell::Number(sum.paid_orders),
            Cell::Money(sum.paid_fen),
            Cell::Money(sum.refunded_fen),
            Cell::Money(sum.commission_fen),
            Cell::Money(sum.net_fen()),
        ]
    };
    let mut table = ReportTable {
        header,
        rows: groups
            .iter()
            .map(|((_, name), group)| (None, row(name.clone(), group)))
            .collect(),
    };
    let all: Vec<&reports::LiveLine> = lines.iter().collect();
    let total = (None, row(lang.t("live-total"), &all));
    if let Some(format) = format {
        // The download ends with the total, as the page does.
        table.rows.push(total);
        return table.download(lang, format, &format!("report-live-by-{by}"));
    }
    let data = json!({
        "user": area.actor.user.display_name,
        "from": Months::label(months.from), "to": Months::label(months.to),
        "by": by,
        "table": table.json(),
        "total": ReportTable { header: Vec::new(), rows: vec![total] }.json(),
    });
    ctx.page(&state.templates, StatusCode::OK, "pages/reports_live", data)
}
