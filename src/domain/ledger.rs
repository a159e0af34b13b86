//! Every fen traced (DESIGN §6.3). When a line is paid its units are allocated to the
//! product's lots first in, first out, and the money is split in the ledger: for
//! consignment goods (代卖) between the household and the village collective, for
//! purchased goods (统购) all to the collective (the household earned the purchase price
//! when the lot was received). Refunds reverse the same units against the same
//! households. Nothing here updates or deletes an entry.
//!
//! A line's money is cut by units: units `[a, b)` of a line are worth
//! `upto(b) - upto(a)` with `upto(n) = total × n ÷ quantity`, and the collective's part
//! of them is `share(b) - share(a)` with `share(n) = upto(n) × bp ÷ 10000`, both rounded
//! down. Allocations and refunds cover ranges of units, so however a line is split, its
//! parts add up to the line exactly: rounding never loses or creates a fen.

use chrono::{NaiveDate, NaiveDateTime};
use diesel::QueryResult;

use crate::db::DbConn;
use crate::db::ledger::{self as q, NewAllocation, NewLedgerEntry, kind, month_of};
use crate::db::orders::{Order, OrderLine};
use crate::db::stock::{self, NewStockLot};

/// The money of the first `units` units of a line.
fn upto(line: &OrderLine, units: i32) -> i64 {
    let total = i128::from(line.line_total_fen);
    (total * i128::from(units) / i128::from(line.quantity.max(1))) as i64
}

/// The collective's part of the first `units` units of a line at `bp` basis points.
fn collective_upto(line: &OrderLine, units: i32, bp: i32) -> i64 {
    (i128::from(upto(line, units)) * i128::from(bp) / 10_000) as i64
}

/// The entry fields every entry of a line shares.
fn line_entry(
    order: &Order,
    line: &OrderLine,
    kind: &'static str,
    day: NaiveDate,
    now: NaiveDateTime,
) -> NewLedgerEntry {
    NewLedgerEntry {
        kind,
        village_id: line.village_id,
        household_id: None,
        channel: Some(order.channel.to_string()),
        product_id: Some(line.product_id),
        order_id: Some(order.id),
        order_line_id: Some(line.id),
        allocation_id: None,
        lot_id: None,
        refund_id: None,
        payout_id: None,
        quantity: 0,
        amount_fen: 0,
        business_date: day,
        business_month: month_of(day),
        created_at: now,
    }
}

/// Allocates every line of a just-paid order and posts its money (business date: the
/// day it was paid, China time). `default_bp` is the collective's share where the
/// village has none of its own.
pub fn allocate_order(
    conn: &mut DbConn,
    order: &Order,
    lines: &[OrderLine],
    default_bp: u32,
    now: NaiveDateTime,
) -> QueryResult<()> {
    let day = crate::domain::china_date(now);
    let mut entries = Vec::new();
    for line in lines {
        allocate_line(conn, order, line, default_bp, day, now, &mut entries)?;
    }
    q::post(conn, &entries)
}

fn share_bp(conn: &mut DbConn, village_id: i64, default_bp: u32) -> QueryResult<i32> {
    let village = crate::db::catalog::village_by_id(conn, village_id)?;
    Ok(village
        .and_then(|v| v.collective_share_bp)
        .unwrap_or(i32::try_from(default_bp).unwrap_or(0)))
}

fn allocate_line(
    conn: &mut DbConn,
    order: &Order,
    line: &OrderLine,
    default_bp: u32,
    day: NaiveDate,
    now: NaiveDateTime,
    entries: &mut Vec<NewLedgerEntry>,
) -> QueryResult<()> {
    let consignment = stock::supply_mode(conn, line.product_id)? == "consignment";
    let bp = if consignment {
        share_bp(conn, line.village_id, default_bp)?
    } else {
        10_000
    };
    let mut unit = 0;
    while unit < line.quantity {
        let Some((lot_id, household_id, remaining)) =
            stock::oldest_lot_with_goods(conn, line.product_id)?
        else {
            break;
        };
        let take = remaining.min(line.quantity - unit);
        // Another payment may have taken from this lot since we read it: look again.
        if !stock::take_from_lot(conn, lot_id, take)? {
            continue;
        }
        let (from, to) = (unit, unit + take);
        let amount = upto(line, to) - upto(line, from);
        let allocation_id = q::insert_allocation(
            conn,
            &NewAllocation {
                order_line_id: line.id,
                lot_id,
                household_id,
                first_unit: from,
                quantity: take,
                amount_fen: amount,
                collective_share_bp: bp,
                created_at: now,
            },
        )?;
        let collective = collective_upto(line, to, bp) - collective_upto(line, from, bp);
        let base = |kind| NewLedgerEntry {
            allocation_id: Some(allocation_id),
            lot_id: Some(lot_id),
            ..line_entry(order, line, kind, day, now)
        };
        if consignment {
            entries.push(NewLedgerEntry {
                household_id: Some(household_id),
                quantity: take,
                amount_fen: amount - collective,
                ..base(kind::HOUSEHOLD_SHARE)
            });
            entries.push(NewLedgerEntry {
                amount_fen: collective,
                ..base(kind::COLLECTIVE_SHARE)
            });
        } else {
            entries.push(NewLedgerEntry {
                quantity: take,
                amount_fen: amount,
                ..base(kind::COLLECTIVE_SALE)
            });
        }
        unit = to;
    }
    if unit < line.quantity {
        // No lot holds these units (stock that did not come through a lot): the money
        // is the collective's, so that the ledger still adds up to what was paid.
        tracing::warn!(
            line = line.id,
            units = line.quantity - unit,
            "paid units without a lot"
        );
        entries.push(NewLedgerEntry {
            quantity: line.quantity - unit,
            amount_fen: upto(line, line.quantity) - upto(line, unit),
            ..line_entry(order, line, kind::COLLECTIVE_SALE, day, now)
        });
    }
    Ok(())
}

/// Units of a line given back by a refund.
pub struct RefundedUnits {
    /// The units `[first, first + quantity)` of the line.
    pub first: i32,
    pub quantity: i32,
    pub refund_id: i64,
    /// Whether the goods go back into the lots they came from.
    pub restock: bool,
}

/// Reverses refunded units of a line: the same households and collective, the same fen,
/// negated.
pub fn reverse_units(
    conn: &mut DbConn,
    order: &Order,
    line: &OrderLine,
    units: &RefundedUnits,
    now: NaiveDateTime,
) -> QueryResult<()> {
    let RefundedUnits {
        first,
        quantity,
        refund_id,
        restock,
    } = *units;
    let day = crate::domain::china_date(now);
    let (start, end) = (first, first + quantity);
    let mut entries = Vec::new();
    let mut covered = 0;
    let allocations = q::allocations_of_line(conn, line.id)?;
    for a in &allocations {
        let (from, to) = (start.max(a.first_unit), end.min(a.first_unit + a.quantity));
        if from >= to {
            continue;
        }
        covered += to - from;
        if restock {
            stock::return_to_lot(conn, a.lot_id, to - from)?;
        }
        let amount = upto(line, to) - upto(line, from);
        // The split in force when the line was paid, kept on the allocation: purchased
        // goods were allocated at 100 % to the collective.
        let consignment = a.collective_share_bp < 10_000;
        let collective = collective_upto(line, to, a.collective_share_bp)
            - collective_upto(line, from, a.collective_share_bp);
        let base = |kind| NewLedgerEntry {
            allocation_id: Some(a.id),
            lot_id: Some(a.lot_id),
            refund_id: Some(refund_id),
            ..line_entry(order, line, kind, day, now)
        };
        if consignment {
            entries.push(NewLedgerEntry {
                household_id: Some(a.household_id),
                quantity: -(to - from),
                amount_fen: -(amount - collective),
                ..base(kind::REFUND_HOUSEHOLD)
            });
            entries.push(NewLedgerEntry {
                amount_fen: -collective,
                ..base(kind::REFUND_COLLECTIVE)
            });
        } else {
            entries.push(NewLedgerEntry {
                quantity: -(to - from),
                amount_fen: -amount,
                ..base(kind::REFUND_COLLECTIVE)
            });
        }
    }
    if covered < quantity {
        // The units that had no lot were the collective's.
        let allocated: i32 = allocations.iter().map(|a| a.quantity).sum();
        let unallocated = line.quantity - allocated;
        let from = (line.quantity - unallocated).max(start);
        if from < end {
            entries.push(NewLedgerEntry {
                quantity: -(end - from),
                amount_fen: -(upto(line, end) - upto(line, from)),
                refund_id: Some(refund_id),
                ..line_entry(order, line, kind::REFUND_COLLECTIVE, day, now)
            });
        }
    }
    q::post(conn, &entries)
}

/// The household's earning for a purchased (统购) lot: the price paid, on the day the
/// lot was received.
pub fn post_purchase(
    conn: &mut DbConn,
    lot_id: i64,
    village_id: i64,
    lot: &NewStockLot,
    now: NaiveDateTime,
) -> QueryResult<()> {
    let Some(price_fen) = lot.purchase_price_fen else {
        return Ok(());
    };
    let entry = NewLedgerEntry {
        kind: kind::PURCHASE,
        village_id,
        household_id: Some(lot.household_id),
        channel: None,
        product_id: Some(lot.product_id),
        order_id: None,
        order_line_id: None,
        allocation_id: None,
        lot_id: Some(lot_id),
        refund_id: None,
        payout_id: None,
        quantity: lot.quantity,
        amount_fen: price_fen * i64::from(lot.quantity),
        business_date: lot.received_on,
        business_month: month_of(lot.received_on),
        created_at: now,
    };
    q::post(conn, &[entry])
}

/// Checks the ledger against everything kept beside it: every monthly total recomputed
/// from the entries, every refunded unit recorded in a refund, and money in − refunds =
/// household shares + collective shares.
/// Returns the differences found, one line each; empty when all agree.
pub fn verify(conn: &mut DbConn) -> QueryResult<Vec<String>> {
    let mut problems = Vec::new();
    let expected = q::recompute_totals(conn)?;
    let stored = q::stored_totals(conn)?;
    fn compare<K: Ord + std::fmt::Debug, V: PartialEq + Default + std::fmt::Debug>(
        what: &str,
        expected: &std::collections::BTreeMap<K, V>,
        stored: &std::collections::BTreeMap<K, V>,
        problems: &mut Vec<String>,
    ) {
        let zero = V::default();
        for (key, want) in expected {
            let have = stored.get(key).unwrap_or(&zero);
            if have != want {
                problems.push(format!(
                    "{what} {key:?}: ledger says {want:?}, total is {have:?}"
                ));
            }
        }
        for (key, have) in stored {
            if !expected.contains_key(key) && *have != zero {
                problems.push(format!(
                    "{what} {key:?}: no ledger entries, total is {have:?}"
                ));
            }
        }
    }
    // Rows whose village is only bookkeeping: compare amounts, not the village id of
    // an all-zero default.
    compare(
        "household month",
        &expected.households,
        &stored.households,
        &mut problems,
    );
    compare(
        "village month",
        &expected.villages,
        &stored.villages,
        &mut problems,
    );
    compare(
        "product month",
        &expected.products,
        &stored.products,
        &mut problems,
    );
    for l in q::lines_with_unrecorded_refunds(conn)? {
        problems.push(format!(
            "order line {}: {} units held as refunded, refunds record {} \
             (a refund interrupted between the payment provider and the shop)",
            l.line_id, l.counted, l.recorded
        ));
    }
    let (paid, refunded) = q::money_in_and_refunded(conn)?;
    let shares = q::sales_total(conn)?;
    if paid - refunded != shares {
        problems.push(format!(
            "money in {paid} − refunded {refunded} = {} fen, but the shares in the ledger add up to {shares}",
            paid - refunded
        ));
    }
    Ok(problems)
}
