//! Standing orders (周期订单): a canteen repeats one of its orders every week or every two
//! weeks on given weekdays, from a start date to an optional end. The jobs loop places
//! each delivery date's order once its cutoff has come (the villages' lead time before
//! delivery), through the same placement as the quick-order sheet, so credit, approval
//! and dates hold for it too; exactly once per date, since the date's run is claimed in
//! the same transaction. When stock is short the order takes what there is (within each
//! product's minimum and step) and the members are told what was short. Members skip a
//! date, pause and resume.

use std::collections::BTreeMap;

use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime};
use serde_json::json;

use crate::db::accounts as acc;
use crate::db::canteen as cq;
use crate::db::catalog as cat;
use crate::db::standing_orders::{
    self as q, NewStandingOrder, StandingLine, StandingOrder, StandingRun,
};
use crate::db::{DbConn, orders as oq, write_transaction};
use crate::domain::actor::{OrgScope, Who};
use crate::domain::audit::{self, Change};
use crate::domain::cart::{self, CartItem, PricedLine};
use crate::domain::error::{DomainError, DomainResult};
use crate::domain::orders::Checkout;
use crate::domain::team::{delivery_weekdays, weekday_mask};
use crate::domain::validation::{self as v, FieldErrors};
use crate::domain::{china_date, notify};
use crate::i18n::Lang;
use crate::states::{PaymentMethod, StandingRunOutcome};

use super::ordering::{self, OrderForm, Orderer, Rules};

/// How far ahead a standing order's next dates are shown (and may be skipped).
pub const SHOWN_WEEKS: i64 = 4;

/// The Monday of a date's week.
fn monday(date: NaiveDate) -> NaiveDate {
    date - Duration::days(i64::from(date.weekday().num_days_from_monday()))
}

/// The standing order's delivery dates from `from` to `to` (inclusive): on its weekdays,
/// within its start and end, and, every two weeks, in the weeks counted from its start.
pub fn occurrences(order: &StandingOrder, from: NaiveDate, to: NaiveDate) -> Vec<NaiveDate> {
    let days = delivery_weekdays(&order.weekdays);
    let first = from.max(order.starts_on);
    let last = order.ends_on.map_or(to, |end| end.min(to));
    let start_week = monday(order.starts_on);
    first
        .iter_days()
        .take_while(|d| *d <= last)
        .filter(|d| days.contains(&d.weekday().number_from_monday()))
        .filter(|d| {
            let weeks = (monday(*d) - start_week).num_days() / 7;
            weeks % i64::from(order.every_weeks.max(1)) == 0
        })
        .collect()
}

/// A standing order as a member sets it up from one of the organisation's orders.
#[derive(Debug, Clone, Default, serde::Deserialize, serde::Serialize)]
#[serde(default)]
pub struct StandingForm {
    /// `1` every week, `2` every other week.
    pub every_weeks: String,
    /// `1` Monday … `7` Sunday.
    pub weekdays: Vec<String>,
    pub starts_on: String,
    /// Empty: until stopped.
    pub ends_on: String,
}

/// Sets up a standing order repeating the lines, site, PO number and note of one of the
/// organisation's orders; on account when that order was, by bank transfer otherwise.
/// Refused, naming the field, for a weekday on which one of its villages does not
/// deliver, a start before the villages' lead time, or an end before the start.
pub fn create_from_order(
    conn: &mut DbConn,
    who: &Who,
    member_id: i64,
    scope: OrgScope,
    order_id: i64,
    form: &StandingForm,
    now: NaiveDateTime,
) -> DomainResult<i64> {
    let (order, part, site) =
        cq::order_in(conn, scope.organization_id(), order_id)?.ok_or(DomainError::NotFound)?;
    let items: Vec<CartItem> = oq::lines(conn, order.id)?
        .iter()
        .map(|l| CartItem {
            product_id: l.product_id,
            quantity: l.quantity,
        })
        .collect();
    let lines: Vec<(i64, i32)> = items.iter().map(|i| (i.product_id, i.quantity)).collect();
    let priced = cart::price(conn, &items, true)?;
    let today = china_date(now);
    let mut errors = FieldErrors::default();
    let every_weeks = v::whole_number(&mut errors, "every_weeks", &form.every_weeks, 1, 2);
    let mask = weekday_mask(&mut errors, "weekdays", &form.weekdays);
    let starts_on = v::date(&mut errors, "starts_on", &form.starts_on);
    let ends_on = match form.ends_on.trim() {
        "" => None,
        text => v::date(&mut errors, "ends_on", text),
    };
    if site.retired {
        errors.add("delivery_site", "invalid-choice");
    }
    let mut seen = Vec::new();
    for village in priced.iter().map(|l| &l.village) {
        if seen.contains(&village.id) {
            continue;
        }
        seen.push(village.id);
        let delivers = delivery_weekdays(&village.delivery_weekdays);
        if delivery_weekdays(&mask)
            .iter()
            .any(|d| !delivers.contains(d))
        {
            errors.add_with(
                "weekdays",
                "invalid-delivery-weekday",
                vec![
                    ("village_zh", village.name_zh.clone()),
                    ("village_en", village.name_en.clone()),
                ],
            );
        }
    }
    let earliest = today + Duration::days(lead_days(&priced));
    if let Some(start) = starts_on {
        if start < earliest {
            errors.add_with(
                "starts_on",
                "invalid-standing-start",
                vec![("earliest", earliest.to_string())],
            );
        }
        if ends_on.is_some_and(|end| end < start) {
            errors.add("ends_on", "invalid-standing-end");
        }
    }
    let (Some(every_weeks), Some(starts_on)) = (every_weeks, starts_on) else {
        return Err(errors.into());
    };
    errors.finish(())?;
    let payment_method = match order.payment_method {
        PaymentMethod::OnAccount => PaymentMethod::OnAccount,
        _ => PaymentMethod::BankTransfer,
    };
    let new = NewStandingOrder {
        organization_id: scope.organization_id(),
        delivery_site_id: site.id,
        created_by_user_id: member_id,
        every_weeks,
        weekdays: &mask,
        starts_on,
        ends_on,
        payment_method,
        po_number: &part.po_number,
        note: &order.note,
        created_at: now,
    };
    write_transaction(conn, |conn| {
        let id = q::insert(conn, &new, &lines)?;
        let change = Change {
            action: "create_standing_order",
            entity: "standing_order",
            entity_id: id,
            village_id: None,
            before: None,
            after: Some(json!({
                "from_order": order.id, "every_weeks": every_weeks, "weekdays": mask,
                "starts_on": starts_on, "ends_on": ends_on, "payment_method": payment_method,
                "lines": lines,
            })),
        };
        audit::record(conn, who, change, now)?;
        Ok(id)
    })
}

/// A standing order's lines as the cart prices them.
fn items_of(lines: &[StandingLine]) -> Vec<CartItem> {
    lines
        .iter()
        .map(|l| CartItem {
            product_id: l.product_id,
            quantity: l.quantity,
        })
        .collect()
}

/// The longest lead time of the villages of `lines`, at least a day: an occurrence is
/// placed that many days before its delivery.
fn lead_days(lines: &[PricedLine]) -> i64 {
    lines
        .iter()
        .map(|l| i64::from(l.village.lead_time_days))
        .max()
        .unwrap_or(0)
        .max(1)
}

fn standing_in(conn: &mut DbConn, scope: OrgScope, id: i64) -> DomainResult<StandingOrder> {
    q::in_organization(conn, scope.organization_id(), id)?.ok_or(DomainError::NotFound)
}

/// Pauses (no date is placed) or resumes one of the organisation's standing orders.
pub fn set_paused(
    conn: &mut DbConn,
    who: &Who,
    scope: OrgScope,
    id: i64,
    paused: bool,
    now: NaiveDateTime,
) -> DomainResult<()> {
    let standing = standing_in(conn, scope, id)?;
    write_transaction(conn, |conn| {
        q::locked(conn, standing.id)?;
        if q::set_paused(conn, standing.id, paused)? == 1 {
            let change = Change {
                action: if paused { "pause" } else { "resume" },
                entity: "standing_order",
                entity_id: standing.id,
                village_id: None,
                before: Some(json!({ "paused": !paused })),
                after: Some(json!({ "paused": paused })),
            };
            audit::record(conn, who, change, now)?;
        }
        Ok(())
    })
}

/// Skips one coming delivery date of a standing order, one not placed yet.
pub fn skip(
    conn: &mut DbConn,
    who: &Who,
    member_id: i64,
    scope: OrgScope,
    id: i64,
    date: &str,
    now: NaiveDateTime,
) -> DomainResult<()> {
    let standing = standing_in(conn, scope, id)?;
    let mut errors = FieldErrors::default();
    let Some(date) = v::date(&mut errors, "date", date) else {
        return Err(errors.into());
    };
    let today = china_date(now);
    let coming = occurrences(
        &standing,
        today + Duration::days(1),
        today + Duration::weeks(SHOWN_WEEKS),
    );
    if !coming.contains(&date) {
        return Err(DomainError::invalid("date", "invalid-standing-skip"));
    }
    // Under the standing order's lock: the date is placed wholly before or after.
    write_transaction(conn, |conn| {
        q::locked(conn, standing.id)?;
        if q::run_dates(conn, standing.id, date)?.contains(&date) {
            return Err(DomainError::invalid("date", "invalid-standing-skip"));
        }
        if q::skip(conn, standing.id, date, member_id, now)? == 1 {
            let change = Change {
                action: "skip_date",
                entity: "standing_order",
                entity_id: standing.id,
                village_id: None,
                before: None,
                after: Some(json!({ "skipped": date })),
            };
            audit::record(conn, who, change, now)?;
        }
        Ok(())
    })
}

/// A coming date of a standing order, as its page shows it.
pub struct ComingDate {
    pub date: NaiveDate,
    pub skipped: bool,
    /// Already placed (or found short).
    pub run: bool,
}

/// A standing order with its lines, its next dates and what became of past ones.
pub struct StandingView {
    pub standing: StandingOrder,
    pub site: String,
    pub lines: Vec<PricedLine>,
    pub coming: Vec<ComingDate>,
    /// Newest first, with the placed order's number.
    pub runs: Vec<(StandingRun, Option<String>)>,
}

/// The organisation's standing orders.
pub fn list(
    conn: &mut DbConn,
    scope: OrgScope,
    now: NaiveDateTime,
) -> DomainResult<Vec<StandingView>> {
    let all = q::of_organization(conn, scope.organization_id())?;
    let ids: Vec<i64> = all.iter().map(|s| s.id).collect();
    let mut lines_of: BTreeMap<i64, Vec<StandingLine>> = BTreeMap::new();
    for line in q::lines_of(conn, &ids)? {
        lines_of
            .entry(line.standing_order_id)
            .or_default()
            .push(line);
    }
    let skips = q::skips_of(conn, &ids)?;
    let runs = q::runs_of(conn, &ids, 200)?;
    let sites = cq::sites_of(conn, scope.organization_id())?;
    let today = china_date(now);
    let mut views = Vec::with_capacity(all.len());
    for standing in all {
        let items = items_of(&lines_of.remove(&standing.id).unwrap_or_default());
        let coming = occurrences(
            &standing,
            today + Duration::days(1),
            today + Duration::weeks(SHOWN_WEEKS),
        )
        .into_iter()
        .map(|date| ComingDate {
            date,
            skipped: skips.contains(&(standing.id, date)),
            run: runs
                .iter()
                .any(|(r, _)| r.standing_order_id == standing.id && r.delivery_date == date),
        })
        .collect();
        views.push(StandingView {
            site: sites
                .iter()
                .find(|s| s.id == standing.delivery_site_id)
                .map(|s| s.name.clone())
                .unwrap_or_default(),
            lines: cart::price(conn, &items, true)?,
            coming,
            runs: runs
                .iter()
                .filter(|(r, _)| r.standing_order_id == standing.id)
                .take(8)
                .cloned()
                .collect(),
            standing,
        });
    }
    Ok(views)
}

/// The most of `wanted` that `stock` allows within the product's canteen minimum and
/// step; 0 when not even the minimum is there.
fn what_there_is(wanted: i32, stock: i32, min: i32, step: i32) -> i32 {
    if wanted <= stock {
        return wanted;
    }
    if stock < min {
        return 0;
    }
    min + (stock - min) / step.max(1) * step.max(1)
}

/// Places every standing order's date whose cutoff is today (China time at `now`): the
/// date its villages' lead time ahead, unless skipped or run already. A date whose cutoff
/// passed while no process ran is not placed late: every village could not deliver it.
/// One standing order that cannot be placed for a reason other than its own (a database
/// error) is logged and the others still run. Returns how many dates were run.
pub fn place_due(conn: &mut DbConn, rules: &Rules, now: NaiveDateTime) -> DomainResult<usize> {
    let today = china_date(now);
    let mut ran = 0;
    for standing in q::running(conn, today + Duration::days(1))? {
        let lines = q::lines_of(conn, &[standing.id])?;
        let cutoff_date =
            today + Duration::days(lead_days(&cart::price(conn, &items_of(&lines), true)?));
        for date in occurrences(&standing, cutoff_date, cutoff_date) {
            match place_date(conn, rules, standing.id, &lines, date, now) {
                Ok(true) => ran += 1,
                Ok(false) => {}
                Err(e) => {
                    tracing::warn!(standing_order = standing.id, %date, error = %e, "standing order date not run")
                }
            }
        }
    }
    Ok(ran)
}

/// Places one date of a standing order, within one transaction that first claims the date
/// (`false`: another process has it). What it places, or why not, is recorded with the
/// date and told to the organisation's members.
fn place_date(
    conn: &mut DbConn,
    rules: &Rules,
    id: i64,
    lines: &[StandingLine],
    date: NaiveDate,
    now: NaiveDateTime,
) -> DomainResult<bool> {
    let who = Who::tool("standing orders");
    write_transaction(conn, |conn| {
        // Read again under its lock: a member may have paused it or skipped the date.
        let Some(standing) = q::locked(conn, id)? else {
            return Ok(false);
        };
        if standing.paused
            || standing.ends_on.is_some_and(|end| end < date)
            || q::is_skipped(conn, standing.id, date)?
        {
            return Ok(false);
        }
        let standing = &standing;
        let claim = StandingRun {
            standing_order_id: standing.id,
            delivery_date: date,
            order_id: None,
            outcome: StandingRunOutcome::NotPlaced,
            detail: String::new(),
            ran_at: now,
        };
        if !q::claim_run(conn, &claim)? {
            return Ok(false);
        }
        // The stock as it stands now that the date is held.
        let priced = cart::price(conn, &items_of(lines), true)?;
        let mut short = Vec::new();
        let gone: Vec<&StandingLine> = lines
            .iter()
            .filter(|l| !priced.iter().any(|p| p.product.id == l.product_id))
            .collect();
        let gone_ids: Vec<i64> = gone.iter().map(|l| l.product_id).collect();
        for (id, zh, en) in cat::product_names(conn, &gone_ids)? {
            let wanted = gone
                .iter()
                .find(|l| l.product_id == id)
                .map_or(0, |l| l.quantity);
            short.push(json!({ "name_zh": zh, "name_en": en, "wanted": wanted, "got": 0 }));
        }
        let mut quantities = Vec::new();
        for line in &priced {
            let p = &line.product;
            let stock = if p.status == crate::states::ProductStatus::OnSale {
                p.stock
            } else {
                0
            };
            let got = what_there_is(line.quantity, stock, p.canteen_min_quantity, p.canteen_step);
            if got < line.quantity {
                short.push(json!({
                    "name_zh": p.name_zh, "name_en": p.name_en,
                    "wanted": line.quantity, "got": got,
                }));
            }
            if got > 0 {
                quantities.push((p.id, got.to_string()));
            }
        }
        let outcome = placed_or_why(conn, rules, standing, date, quantities, now)?;
        let (order_id, result, reason) = match &outcome {
            Ok((id, _)) if short.is_empty() => (Some(*id), StandingRunOutcome::Placed, None),
            Ok((id, _)) => (Some(*id), StandingRunOutcome::Short, None),
            Err(why) => (None, StandingRunOutcome::NotPlaced, Some(why)),
        };
        // Said in both languages now: the page shows it later in either.
        let said = reason.map(|why| {
            json!({
                "zh": Lang::ZhCn.t_args(why.key, &why.args),
                "en": Lang::En.t_args(why.key, &why.args),
            })
        });
        let detail = json!({ "short": short, "reason": said }).to_string();
        q::finish_run(conn, standing.id, date, order_id, result, &detail)?;
        let number = outcome.as_ref().ok().map(|(_, n)| n.clone());
        let run = notify::StandingRunNews {
            organization_id: standing.organization_id,
            delivery_date: date,
            order_number: number.as_deref(),
            short: &short,
            reason: reason.map(|why| (why.key, why.args.as_slice())),
        };
        notify::standing_order_run(conn, &run, now)?;
        let change = Change {
            action: "run_standing_order",
            entity: "standing_order",
            entity_id: standing.id,
            village_id: None,
            before: None,
            after: Some(json!({
                "delivery_date": date, "outcome": result, "order_id": order_id,
                "short": short, "reason": reason.map(|why| why.key),
            })),
        };
        audit::record(conn, &who, change, now)?;
        Ok(true)
    })
}

/// Why a date of a standing order was not placed: a message key and its arguments (the
/// first problem the placement named, when it refused).
struct NotPlaced {
    key: &'static str,
    args: Vec<(&'static str, String)>,
}

impl NotPlaced {
    fn because(key: &'static str) -> NotPlaced {
        NotPlaced {
            key,
            args: Vec::new(),
        }
    }
}

/// Places the date's order with `quantities` in the name of the member who set the
/// standing order up: the order's id and number, or why it was not placed.
fn placed_or_why(
    conn: &mut DbConn,
    rules: &Rules,
    standing: &StandingOrder,
    date: NaiveDate,
    quantities: Vec<(i64, String)>,
    now: NaiveDateTime,
) -> DomainResult<Result<(i64, String), NotPlaced>> {
    if quantities.is_empty() {
        return Ok(Err(NotPlaced::because("standing-nothing-in-stock")));
    }
    let member = acc::user_by_id(conn, standing.created_by_user_id)?;
    let role = acc::membership(conn, standing.created_by_user_id)?;
    let (Some(member), Some((org, role))) = (member, role) else {
        return Ok(Err(NotPlaced::because("standing-member-gone")));
    };
    if org != standing.organization_id || member.disabled {
        return Ok(Err(NotPlaced::because("standing-member-gone")));
    }
    let form = OrderForm {
        quantities,
        delivery_site: standing.delivery_site_id.to_string(),
        delivery_date: date.to_string(),
        po_number: standing.po_number.clone(),
        note: standing.note.clone(),
        payment_method: standing.payment_method.as_str().into(),
        idempotency_key: format!("standing{:012}d{}", standing.id, date.format("%Y%m%d")),
    };
    let orderer = Orderer {
        user_id: member.id,
        email: member.email.clone(),
        locale: member.locale.clone(),
        checkout_scope: format!("standing-order-{}", standing.id),
    };
    let scope = OrgScope::new(org, role);
    let who = Who {
        user_id: Some(member.id),
        label: format!("standing order {} ({})", standing.id, member.email),
        client_addr: None,
    };
    match ordering::place(conn, &who, &orderer, scope, &form, rules, now) {
        Ok(Checkout::Placed(placed) | Checkout::Repeated(placed)) => {
            Ok(Ok((placed.order.id, placed.order.number.clone())))
        }
        Ok(Checkout::Refused(_)) => Ok(Err(NotPlaced::because("standing-nothing-in-stock"))),
        Err(DomainError::Invalid(errors)) => Ok(Err(match errors.0.into_iter().next() {
            Some(first) => NotPlaced {
                key: first.key,
                args: first.args,
            },
            None => NotPlaced::because("standing-not-placed"),
        })),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn standing(
        weekdays: &str,
        every_weeks: i32,
        starts: &str,
        ends: Option<&str>,
    ) -> StandingOrder {
        let date = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap_or_default();
        StandingOrder {
            id: 1,
            organization_id: 1,
            delivery_site_id: 1,
            created_by_user_id: 1,
            every_weeks,
            weekdays: weekdays.into(),
            starts_on: date(starts),
            ends_on: ends.map(date),
            paused: false,
            payment_method: PaymentMethod::OnAccount,
            po_number: String::new(),
            note: String::new(),
            created_at: NaiveDateTime::default(),
        }
    }

    fn days(list: &[NaiveDate]) -> Vec<String> {
        list.iter().map(|d| d.format("%m-%d").to_string()).collect()
    }

    #[test]
    fn dates_fall_on_the_weekdays_every_week_or_every_other_week() {
        let from = NaiveDate::from_ymd_opt(2026, 12, 1).unwrap_or_default();
        let to = from + Duration::days(27);
        // Mondays and Thursdays from Wednesday 2 December.
        let weekly = standing("1001000", 1, "2026-12-02", None);
        assert_eq!(
            days(&occurrences(&weekly, from, to)),
            [
                "12-03", "12-07", "12-10", "12-14", "12-17", "12-21", "12-24", "12-28"
            ]
        );
        // Every other week, counted from the week it starts; ending on the 21st.
        let fortnightly = standing("1001000", 2, "2026-12-02", Some("2026-12-21"));
        assert_eq!(
            days(&occurrences(&fortnightly, from, to)),
            ["12-03", "12-14", "12-17"]
        );
    }

    #[test]
    fn short_stock_gives_what_there_is_within_the_minimum_and_step() {
        assert_eq!(what_there_is(30, 100, 10, 5), 30);
        assert_eq!(what_there_is(30, 27, 10, 5), 25);
        assert_eq!(what_there_is(30, 9, 10, 5), 0);
        assert_eq!(what_there_is(30, 10, 10, 5), 10);
    }
}
