//! Deliveries to canteens (送货): a work team's delivery calendar for its villages — by
//! date, organisation and site, what to pack — and the delivery note (送货单) of one
//! village's part of a canteen order, with the households that supply each line
//! (产品来源): those its units were allocated to once paid, or, before, those first in,
//! first out would take them from now.

use std::collections::BTreeMap;

use chrono::{Duration, NaiveDate};

use crate::db::DbConn;
use crate::db::accounts as acc;
use crate::db::canteen::{self as q, CanteenOrder};
use crate::db::catalog::village_by_id;
use crate::db::orders::{self as oq, Order, OrderLine};
use crate::db::shipments::{self, Shipment};
use crate::db::stock::lots_with_goods;
use crate::domain::actor::{OrgScope, TeamScope};
use crate::domain::error::{DomainError, DomainResult};
use crate::domain::ledger::{LineMoney, LotGoods, Split, allocate_line_units};
use crate::domain::refunds::line_refund_fen;

use super::{DeliverySite, Organization, Village};

/// Days the calendar shows from its first.
pub const CALENDAR_DAYS: i64 = 14;

/// What one site gets from the team's villages on one day.
pub struct SiteDelivery {
    pub organization: String,
    pub site: DeliverySite,
    /// The orders delivered there that day, with their canteen part.
    pub orders: Vec<(Order, CanteenOrder)>,
    /// What to pack for the site: each product of the team's villages and its units.
    pub to_pack: Vec<PackLine>,
}

/// One product to pack, summed over a site's orders of the day.
pub struct PackLine {
    pub product_id: i64,
    pub village_id: i64,
    pub name_zh: String,
    pub name_en: String,
    pub unit_zh: String,
    pub unit_en: String,
    pub quantity: i64,
}

pub struct DeliveryDay {
    pub date: NaiveDate,
    pub sites: Vec<SiteDelivery>,
}

/// The team's canteen deliveries from `from`, `CALENDAR_DAYS` days, the days with
/// something to deliver only.
pub fn calendar(
    conn: &mut DbConn,
    scope: &TeamScope,
    from: NaiveDate,
) -> DomainResult<Vec<DeliveryDay>> {
    let to = from + Duration::days(CALENDAR_DAYS - 1);
    let rows = q::deliveries(conn, scope.village_ids(), from, to)?;
    let mut days: BTreeMap<NaiveDate, Vec<SiteDelivery>> = BTreeMap::new();
    for (order, part, site, organization, line) in rows {
        let sites = days.entry(part.delivery_date).or_default();
        let at = match sites.iter().position(|s| s.site.id == site.id) {
            Some(at) => at,
            None => {
                sites.push(SiteDelivery {
                    organization,
                    site,
                    orders: Vec::new(),
                    to_pack: Vec::new(),
                });
                sites.len() - 1
            }
        };
        let delivery = &mut sites[at];
        if !delivery.orders.iter().any(|(o, _)| o.id == order.id) {
            delivery.orders.push((order, part));
        }
        let units = i64::from(line.units_left());
        match delivery
            .to_pack
            .iter_mut()
            .find(|p| p.product_id == line.product_id)
        {
            Some(pack) => pack.quantity += units,
            None => delivery.to_pack.push(PackLine {
                product_id: line.product_id,
                village_id: line.village_id,
                name_zh: line.product_name_zh,
                name_en: line.product_name_en,
                unit_zh: line.sale_unit_zh,
                unit_en: line.sale_unit_en,
                quantity: units,
            }),
        }
    }
    Ok(days
        .into_iter()
        .map(|(date, sites)| DeliveryDay { date, sites })
        .collect())
}

/// A line of a delivery note with the households that supply it.
pub struct NoteLine {
    pub line: OrderLine,
    /// The money of the units sent (the line less what was refunded before).
    pub amount_fen: i64,
    pub households: usize,
    /// Not yet paid: the households are those first in, first out would take from now.
    pub expected: bool,
}

/// A delivery note (送货单): one village's part of a canteen order.
pub struct DeliveryNote {
    pub order: Order,
    pub part: CanteenOrder,
    pub site: DeliverySite,
    pub organization: Organization,
    pub village: Village,
    pub shipment: Option<Shipment>,
    pub lines: Vec<NoteLine>,
    pub total_fen: i64,
}

/// The delivery note of one of the team's villages' part of a canteen order; another
/// village's, or an order that is not a canteen's, is not found.
pub fn team_note(
    conn: &mut DbConn,
    scope: &TeamScope,
    order_id: i64,
    village_id: i64,
) -> DomainResult<DeliveryNote> {
    if !scope.covers(village_id) {
        return Err(DomainError::NotFound);
    }
    let order = oq::by_id(conn, order_id)?.ok_or(DomainError::NotFound)?;
    let (part, site) = q::part_of_order(conn, order.id)?.ok_or(DomainError::NotFound)?;
    note(conn, order, part, site, village_id)
}

/// The delivery note of a village's part of one of the organisation's orders; another
/// organisation's is not found.
pub fn canteen_note(
    conn: &mut DbConn,
    scope: OrgScope,
    order_id: i64,
    village_id: i64,
) -> DomainResult<DeliveryNote> {
    let (order, part, site) =
        q::order_in(conn, scope.organization_id(), order_id)?.ok_or(DomainError::NotFound)?;
    note(conn, order, part, site, village_id)
}

fn note(
    conn: &mut DbConn,
    order: Order,
    part: CanteenOrder,
    site: DeliverySite,
    village_id: i64,
) -> DomainResult<DeliveryNote> {
    let lines: Vec<OrderLine> = oq::lines(conn, order.id)?
        .into_iter()
        .filter(|l| l.village_id == village_id && l.units_left() > 0)
        .collect();
    if lines.is_empty() {
        return Err(DomainError::NotFound);
    }
    let village = village_by_id(conn, village_id)?.ok_or(DomainError::NotFound)?;
    let organization =
        acc::organization_by_id(conn, part.organization_id)?.ok_or(DomainError::NotFound)?;
    let shipment = shipments::of_order(conn, order.id)?
        .into_iter()
        .find(|s| s.village_id == village_id);
    let mut noted = Vec::with_capacity(lines.len());
    for line in lines {
        let allocated = q::households_of_line(conn, line.id)?;
        let (households, expected) = if allocated.is_empty() {
            (expected_households(conn, &line)?, true)
        } else {
            (allocated.len(), false)
        };
        let amount_fen = line_refund_fen(&line, line.refunded_quantity, line.units_left());
        noted.push(NoteLine {
            line,
            amount_fen,
            households,
            expected,
        });
    }
    let total_fen = noted.iter().map(|n| n.amount_fen).sum();
    Ok(DeliveryNote {
        order,
        part,
        site,
        organization,
        village,
        shipment,
        lines: noted,
        total_fen,
    })
}

/// The households first in, first out would take a line's units from now.
fn expected_households(conn: &mut DbConn, line: &OrderLine) -> diesel::QueryResult<usize> {
    // Enough lots to cover the line whatever each holds (a lot holds at least one unit).
    let enough = i64::from(line.units_left().max(1));
    let lots: Vec<LotGoods> = lots_with_goods(conn, line.product_id, enough)?
        .into_iter()
        .map(|(lot_id, household_id, remaining)| LotGoods {
            lot_id,
            household_id,
            remaining,
        })
        .collect();
    let (portions, _) = allocate_line_units(LineMoney::of(line), Split::Purchased, &lots);
    let mut households: Vec<i64> = portions.iter().map(|p| p.household_id).collect();
    households.sort_unstable();
    households.dedup();
    Ok(households.len())
}
