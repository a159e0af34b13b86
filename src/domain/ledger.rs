//! Every fen traced (ARCHITECTURE §6.3). When a line is paid its units are allocated to the
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
//!
//! A line sold through a livestream link first gives the host (主播) their commission,
//! `commission(n) = paid(n) × commission_bp ÷ 10000` of the first `n` units (`paid(n)`
//! is `total × n ÷ quantity`), and the households and the collective split what is left:
//! then `upto(n) = paid(n) − commission(n)`. The commission is an entry of its own kind
//! carrying the host; a refund takes back the refunded units' commission the same way, so
//! the host earns on paid sales less refunds.
//!
//! The rules themselves (`Fifo`, `sale_postings`, `reverse_line_units`,
//! `purchase_posting`) are pure functions, so that the benchmark generator (`bench/`),
//! which writes its history in bulk, posts exactly what a payment here would.

use crate::states::LedgerKind;
use chrono::{NaiveDate, NaiveDateTime};
use diesel::QueryResult;

use crate::db::DbConn;
use crate::db::ledger::{self as q, NewAllocation, NewLedgerEntry, month_of};
use crate::db::orders::{Order, OrderLine};
use crate::db::stock::{self, NewStockLot};
use crate::states::SupplyMode;

// ---------------------------------------------------------------------------------------
// The rules themselves, without a database: what a line's units are worth, which lots
// give them, and which entries they post. `allocate_order`, `reverse_units` and
// `post_purchase` below write what these say, and so does the benchmark generator
// (`bench/`), which writes its rows in bulk.

/// A line's money as cut by units (see the module doc).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineMoney {
    pub total_fen: i64,
    pub quantity: i32,
    /// 主播佣金: the host's part, taken before the split (0 outside a livestream).
    pub commission_bp: i32,
}

impl LineMoney {
    /// A line's money with no host's commission (see `less_commission`).
    pub fn of(line: &OrderLine) -> LineMoney {
        LineMoney {
            total_fen: line.line_total_fen,
            quantity: line.quantity,
            commission_bp: 0,
        }
    }

    /// The same line with the host's commission taken before the split.
    pub fn less_commission(self, commission_bp: i32) -> LineMoney {
        LineMoney {
            commission_bp,
            ..self
        }
    }

    /// What the buyer paid for the first `units` units.
    fn paid_upto(self, units: i32) -> i64 {
        let total = i128::from(self.total_fen);
        (total * i128::from(units) / i128::from(self.quantity.max(1))) as i64
    }

    /// The host's commission on the first `units` units.
    fn commission_upto(self, units: i32) -> i64 {
        (i128::from(self.paid_upto(units)) * i128::from(self.commission_bp) / 10_000) as i64
    }

    /// The money of the first `units` units that the households and the collective
    /// share: what was paid less the host's commission.
    pub fn upto(self, units: i32) -> i64 {
        self.paid_upto(units) - self.commission_upto(units)
    }

    /// The collective's part of the first `units` units at `bp` basis points.
    pub fn collective_upto(self, units: i32, bp: i32) -> i64 {
        (i128::from(self.upto(units)) * i128::from(bp) / 10_000) as i64
    }

    /// The money of units `[from, to)`.
    pub fn between(self, from: i32, to: i32) -> i64 {
        self.upto(to) - self.upto(from)
    }
}

/// How the money of a sale is shared (ARCHITECTURE §6.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Split {
    /// Consignment (代卖): the collective keeps `collective_bp` basis points, the
    /// household the rest.
    Consignment { collective_bp: i32 },
    /// Purchased (统购): all of it is the collective's; the household earned the purchase
    /// price when the lot was received.
    Purchased,
}

impl Split {
    /// The share kept on an allocation: purchased goods are allocated at 100 % to the
    /// collective.
    pub fn collective_bp(self) -> i32 {
        match self {
            Split::Consignment { collective_bp } => collective_bp,
            Split::Purchased => 10_000,
        }
    }

    /// The split an allocation was made at, from the share kept on it (a refund reverses
    /// the split in force when the line was paid).
    pub fn of_allocation(collective_share_bp: i32) -> Split {
        if collective_share_bp < 10_000 {
            Split::Consignment {
                collective_bp: collective_share_bp,
            }
        } else {
            Split::Purchased
        }
    }
}

/// A lot that still holds goods, as first in, first out sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LotGoods {
    pub lot_id: i64,
    pub household_id: i64,
    pub remaining: i32,
}

/// Units `[first_unit, first_unit + quantity)` of a line taken from one lot: an
/// allocation, without its ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Portion {
    pub lot_id: i64,
    pub household_id: i64,
    pub first_unit: i32,
    pub quantity: i32,
    pub amount_fen: i64,
    pub collective_share_bp: i32,
}

impl Portion {
    /// The unit after the last one of the portion.
    pub fn end(&self) -> i32 {
        self.first_unit + self.quantity
    }
}

/// An entry's own figures. The caller adds what the entry shares with its line (order,
/// channel, product, village, dates) and the ids it was given (allocation, lot, refund).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Posting {
    pub kind: LedgerKind,
    pub household_id: Option<i64>,
    pub quantity: i32,
    pub amount_fen: i64,
}

/// First in, first out over the units of one line: the lots are offered oldest first,
/// and each gives what it holds, up to what the line still needs.
#[derive(Debug, Clone, Copy)]
pub struct Fifo {
    money: LineMoney,
    split: Split,
    next_unit: i32,
}

impl Fifo {
    pub fn new(money: LineMoney, split: Split) -> Fifo {
        Fifo {
            money,
            split,
            next_unit: 0,
        }
    }

    /// Whether every unit of the line has a lot.
    pub fn covered(&self) -> bool {
        self.next_unit >= self.money.quantity
    }

    /// What `lot` would give toward the units not yet allocated; nothing is taken until
    /// `taken` (the lot may have been emptied by someone else meanwhile).
    pub fn offer(&self, lot: LotGoods) -> Portion {
        let (from, to) = (
            self.next_unit,
            self.next_unit + lot.remaining.min(self.money.quantity - self.next_unit),
        );
        Portion {
            lot_id: lot.lot_id,
            household_id: lot.household_id,
            first_unit: from,
            quantity: to - from,
            amount_fen: self.money.between(from, to),
            collective_share_bp: self.split.collective_bp(),
        }
    }

    /// Records an offered portion as taken from its lot.
    pub fn taken(&mut self, portion: &Portion) {
        self.next_unit = portion.end();
    }

    /// The units no lot held (stock that did not come through a lot): their money is
    /// the collective's, so that the ledger still adds up to what was paid.
    pub fn unallocated(&self) -> Option<Posting> {
        (!self.covered()).then(|| Posting {
            kind: LedgerKind::CollectiveSale,
            household_id: None,
            quantity: self.money.quantity - self.next_unit,
            amount_fen: self.money.between(self.next_unit, self.money.quantity),
        })
    }
}

/// A whole line allocated over `lots` (oldest first, as `stock::oldest_lot_with_goods`
/// returns them one by one): the portions each lot gives, and the entry of units no lot
/// held.
pub fn allocate_line_units(
    money: LineMoney,
    split: Split,
    lots: &[LotGoods],
) -> (Vec<Portion>, Option<Posting>) {
    let mut fifo = Fifo::new(money, split);
    let mut portions = Vec::new();
    for lot in lots {
        if fifo.covered() {
            break;
        }
        if lot.remaining > 0 {
            let portion = fifo.offer(*lot);
            fifo.taken(&portion);
            portions.push(portion);
        }
    }
    (portions, fifo.unallocated())
}

/// The entries the sale of a portion posts: the household's share and the collective's
/// for consignment goods, one collective sale for purchased goods.
pub fn sale_postings(
    money: LineMoney,
    split: Split,
    portion: &Portion,
) -> impl Iterator<Item = Posting> + use<> {
    let kinds = [
        LedgerKind::HouseholdShare,
        LedgerKind::CollectiveShare,
        LedgerKind::CollectiveSale,
    ];
    split_postings(
        money,
        split,
        portion,
        portion.first_unit,
        portion.end(),
        kinds,
        1,
    )
}

/// Units `[from, to)` of a portion at `split`, posted as `kinds` (household's share,
/// collective's share, collective's whole sale), `sign` −1 for a reversal.
fn split_postings(
    money: LineMoney,
    split: Split,
    portion: &Portion,
    from: i32,
    to: i32,
    [household_kind, collective_kind, sale_kind]: [LedgerKind; 3],
    sign: i32,
) -> impl Iterator<Item = Posting> + use<> {
    let amount = money.between(from, to);
    let units = to - from;
    let postings = match split {
        Split::Consignment { collective_bp } => {
            let collective = money.collective_upto(to, collective_bp)
                - money.collective_upto(from, collective_bp);
            [
                Some(Posting {
                    kind: household_kind,
                    household_id: Some(portion.household_id),
                    quantity: sign * units,
                    amount_fen: i64::from(sign) * (amount - collective),
                }),
                Some(Posting {
                    kind: collective_kind,
                    household_id: None,
                    quantity: 0,
                    amount_fen: i64::from(sign) * collective,
                }),
            ]
        }
        Split::Purchased => [
            Some(Posting {
                kind: sale_kind,
                household_id: None,
                quantity: sign * units,
                amount_fen: i64::from(sign) * amount,
            }),
            None,
        ],
    };
    postings.into_iter().flatten()
}

/// What a refund of units `[first, first + quantity)` of a line gives back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reversal {
    /// The allocation (an index into those given) the units came from; `None` for units
    /// no lot held, which were the collective's.
    pub allocation: Option<usize>,
    /// Units of that allocation refunded (the ones to put back in its lot if restocked).
    pub units: i32,
    /// The same households and collective, the same fen, negated.
    pub postings: Vec<Posting>,
}

/// Reverses refunded units against the allocations of the line (ordered by first unit),
/// each at the split it was made at.
pub fn reverse_line_units(
    money: LineMoney,
    allocations: &[Portion],
    first: i32,
    quantity: i32,
) -> Vec<Reversal> {
    let (start, end) = (first, first + quantity);
    let mut reversals = Vec::new();
    let mut covered = 0;
    for (i, a) in allocations.iter().enumerate() {
        let (from, to) = (start.max(a.first_unit), end.min(a.end()));
        if from >= to {
            continue;
        }
        covered += to - from;
        let kinds = [
            LedgerKind::RefundHousehold,
            LedgerKind::RefundCollective,
            LedgerKind::RefundCollective,
        ];
        // The split in force when the line was paid, kept on the allocation.
        let split = Split::of_allocation(a.collective_share_bp);
        let postings = split_postings(money, split, a, from, to, kinds, -1).collect();
        reversals.push(Reversal {
            allocation: Some(i),
            units: to - from,
            postings,
        });
    }
    if covered < quantity {
        // The units that had no lot were the collective's: they are the line's last.
        let allocated: i32 = allocations.iter().map(|a| a.quantity).sum();
        let unallocated = money.quantity - allocated;
        let from = (money.quantity - unallocated).max(start);
        if from < end {
            reversals.push(Reversal {
                allocation: None,
                units: end - from,
                postings: vec![Posting {
                    kind: LedgerKind::RefundCollective,
                    household_id: None,
                    quantity: -(end - from),
                    amount_fen: -money.between(from, end),
                }],
            });
        }
    }
    reversals
}

/// The host's commission on units `[from, to)` of a line, as `kind` (the sale's, or the
/// refund's with `sign` −1); none for a line not sold through a livestream.
pub fn commission_posting(
    money: LineMoney,
    from: i32,
    to: i32,
    kind: LedgerKind,
    sign: i64,
) -> Option<Posting> {
    let fen = money.commission_upto(to) - money.commission_upto(from);
    (fen != 0).then_some(Posting {
        kind,
        household_id: None,
        quantity: 0,
        amount_fen: sign * fen,
    })
}

/// The household's earning for a purchased (统购) lot: the price paid for all of it.
pub fn purchase_posting(household_id: i64, price_fen: i64, quantity: i32) -> Posting {
    Posting {
        kind: LedgerKind::Purchase,
        household_id: Some(household_id),
        quantity,
        amount_fen: price_fen * i64::from(quantity),
    }
}

/// The entry fields every entry of a line shares.
fn line_entry(
    order: &Order,
    line: &OrderLine,
    kind: LedgerKind,
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
        host_id: None,
        quantity: 0,
        amount_fen: 0,
        business_date: day,
        business_month: month_of(day),
        created_at: now,
    }
}

/// A posting of a line as the entry it becomes.
fn line_posting(
    order: &Order,
    line: &OrderLine,
    posting: Posting,
    day: NaiveDate,
    now: NaiveDateTime,
) -> NewLedgerEntry {
    NewLedgerEntry {
        household_id: posting.household_id,
        quantity: posting.quantity,
        amount_fen: posting.amount_fen,
        ..line_entry(order, line, posting.kind, day, now)
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
    let host = host_of(conn, order)?;
    let mut entries = Vec::new();
    for line in lines {
        allocate_line(conn, order, line, host, default_bp, day, now, &mut entries)?;
        let money = line_money(line, host);
        let commission = commission_posting(money, 0, line.quantity, LedgerKind::HostCommission, 1);
        entries.extend(commission.map(|p| host_posting(order, line, host, p, day, now)));
    }
    q::post(conn, &entries)
}

/// The host (主播) and commission of an order placed through a livestream link.
#[derive(Debug, Clone, Copy)]
struct Host {
    host_id: i64,
    commission_bp: i32,
}

fn host_of(conn: &mut DbConn, order: &Order) -> QueryResult<Option<Host>> {
    Ok(
        crate::db::live::host_of_order(conn, order.id)?.map(|(host_id, commission_bp)| Host {
            host_id,
            commission_bp,
        }),
    )
}

fn line_money(line: &OrderLine, host: Option<Host>) -> LineMoney {
    LineMoney::of(line).less_commission(host.map_or(0, |h| h.commission_bp))
}

/// A commission posting of a line as the entry it becomes, carrying the host.
fn host_posting(
    order: &Order,
    line: &OrderLine,
    host: Option<Host>,
    posting: Posting,
    day: NaiveDate,
    now: NaiveDateTime,
) -> NewLedgerEntry {
    NewLedgerEntry {
        host_id: host.map(|h| h.host_id),
        ..line_posting(order, line, posting, day, now)
    }
}

/// Reverses, once an order is paid and its lines posted, the units credited before the
/// payment (a canteen's rejections on arrival, for an order on account): against the
/// same households, refund by refund, as if each had come after the payment.
pub fn reverse_earlier_credits(
    conn: &mut DbConn,
    order: &Order,
    lines: &[OrderLine],
    now: NaiveDateTime,
) -> QueryResult<()> {
    let mut first: std::collections::HashMap<i64, i32> = std::collections::HashMap::new();
    for (refund_id, line_id, quantity, restock) in
        crate::db::payments::refunded_units_of_order(conn, order.id)?
    {
        let Some(line) = lines.iter().find(|l| l.id == line_id) else {
            continue;
        };
        let at = first.entry(line_id).or_insert(0);
        let units = RefundedUnits {
            first: *at,
            quantity,
            refund_id,
            restock,
        };
        *at += quantity;
        reverse_units(conn, order, line, &units, now)?;
    }
    Ok(())
}

fn share_bp(conn: &mut DbConn, village_id: i64, default_bp: u32) -> QueryResult<i32> {
    let village = crate::db::catalog::village_by_id(conn, village_id)?;
    Ok(village
        .and_then(|v| v.collective_share_bp)
        .unwrap_or(i32::try_from(default_bp).unwrap_or(0)))
}

#[allow(clippy::too_many_arguments)]
fn allocate_line(
    conn: &mut DbConn,
    order: &Order,
    line: &OrderLine,
    host: Option<Host>,
    default_bp: u32,
    day: NaiveDate,
    now: NaiveDateTime,
    entries: &mut Vec<NewLedgerEntry>,
) -> QueryResult<()> {
    let split = if stock::supply_mode(conn, line.product_id)? == SupplyMode::Consignment {
        Split::Consignment {
            collective_bp: share_bp(conn, line.village_id, default_bp)?,
        }
    } else {
        Split::Purchased
    };
    let money = line_money(line, host);
    let mut fifo = Fifo::new(money, split);
    while !fifo.covered() {
        let Some((lot_id, household_id, remaining)) =
            stock::oldest_lot_with_goods(conn, line.product_id)?
        else {
            break;
        };
        let portion = fifo.offer(LotGoods {
            lot_id,
            household_id,
            remaining,
        });
        // Another payment may have taken from this lot since we read it: look again.
        if !stock::take_from_lot(conn, lot_id, portion.quantity)? {
            continue;
        }
        fifo.taken(&portion);
        let allocation_id = q::insert_allocation(
            conn,
            &NewAllocation {
                order_line_id: line.id,
                lot_id,
                household_id,
                first_unit: portion.first_unit,
                quantity: portion.quantity,
                amount_fen: portion.amount_fen,
                collective_share_bp: portion.collective_share_bp,
                created_at: now,
            },
        )?;
        entries.extend(
            sale_postings(money, split, &portion).map(|p| NewLedgerEntry {
                allocation_id: Some(allocation_id),
                lot_id: Some(lot_id),
                ..line_posting(order, line, p, day, now)
            }),
        );
    }
    if let Some(rest) = fifo.unallocated() {
        tracing::warn!(
            line = line.id,
            units = rest.quantity,
            "paid units without a lot"
        );
        entries.push(line_posting(order, line, rest, day, now));
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
    // The commission the line was paid with: none if no commission was posted for it
    // (paid before livestream commissions were kept, or a commission of less than a fen).
    let host = match host_of(conn, order)? {
        Some(host) if q::commission_posted(conn, line.id)? => Some(host),
        _ => None,
    };
    let money = line_money(line, host);
    let allocations = q::allocations_of_line(conn, line.id)?;
    let portions: Vec<Portion> = allocations
        .iter()
        .map(|a| Portion {
            lot_id: a.lot_id,
            household_id: a.household_id,
            first_unit: a.first_unit,
            quantity: a.quantity,
            amount_fen: a.amount_fen,
            collective_share_bp: a.collective_share_bp,
        })
        .collect();
    let mut entries = Vec::new();
    let commission = commission_posting(
        money,
        first,
        first + quantity,
        LedgerKind::RefundHostCommission,
        -1,
    );
    entries.extend(commission.map(|p| NewLedgerEntry {
        refund_id: Some(refund_id),
        ..host_posting(order, line, host, p, day, now)
    }));
    for reversal in reverse_line_units(money, &portions, first, quantity) {
        let allocation = reversal.allocation.and_then(|i| allocations.get(i));
        if let (Some(a), true) = (allocation, restock) {
            stock::return_to_lot(conn, a.lot_id, reversal.units)?;
        }
        entries.extend(reversal.postings.into_iter().map(|p| NewLedgerEntry {
            allocation_id: allocation.map(|a| a.id),
            lot_id: allocation.map(|a| a.lot_id),
            refund_id: Some(refund_id),
            ..line_posting(order, line, p, day, now)
        }));
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
    let earning = purchase_posting(lot.household_id, price_fen, lot.quantity);
    let entry = NewLedgerEntry {
        kind: earning.kind,
        village_id,
        household_id: earning.household_id,
        channel: None,
        product_id: Some(lot.product_id),
        order_id: None,
        order_line_id: None,
        allocation_id: None,
        lot_id: Some(lot_id),
        refund_id: None,
        payout_id: None,
        host_id: None,
        quantity: earning.quantity,
        amount_fen: earning.amount_fen,
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

#[cfg(test)]
mod tests {
    use super::*;

    const CONSIGNMENT: Split = Split::Consignment {
        collective_bp: 1_000,
    };

    fn lot(lot_id: i64, remaining: i32) -> LotGoods {
        LotGoods {
            lot_id,
            household_id: lot_id * 10,
            remaining,
        }
    }

    impl LineMoney {
        fn of_total(total_fen: i64, quantity: i32) -> LineMoney {
            LineMoney {
                total_fen,
                quantity,
                commission_bp: 0,
            }
        }
    }

    fn household_fen(postings: &[Posting], household_id: i64) -> i64 {
        postings
            .iter()
            .filter(|p| p.household_id == Some(household_id))
            .map(|p| p.amount_fen)
            .sum()
    }

    #[test]
    fn a_line_over_two_lots_adds_up_to_the_fen() {
        let money = LineMoney::of_total(1_000, 3);
        let (portions, rest) = allocate_line_units(money, CONSIGNMENT, &[lot(1, 1), lot(2, 5)]);
        assert_eq!(rest, None);
        assert_eq!(
            portions
                .iter()
                .map(|p| (p.lot_id, p.first_unit, p.quantity, p.amount_fen))
                .collect::<Vec<_>>(),
            [(1, 0, 1, 333), (2, 1, 2, 667)]
        );
        let postings: Vec<Posting> = portions
            .iter()
            .flat_map(|p| sale_postings(money, CONSIGNMENT, p))
            .collect();
        assert_eq!(household_fen(&postings, 10), 300);
        assert_eq!(household_fen(&postings, 20), 600);
        let collective: i64 = postings
            .iter()
            .filter(|p| p.kind == LedgerKind::CollectiveShare)
            .map(|p| p.amount_fen)
            .sum();
        assert_eq!(collective, 100);
    }

    #[test]
    fn units_no_lot_holds_are_the_collectives() {
        let money = LineMoney::of_total(1_000, 4);
        // An empty lot gives nothing and is passed over.
        let (portions, rest) =
            allocate_line_units(money, Split::Purchased, &[lot(1, 0), lot(2, 3)]);
        assert_eq!(portions.len(), 1);
        assert_eq!(portions[0].collective_share_bp, 10_000);
        let sale: Vec<Posting> = sale_postings(money, Split::Purchased, &portions[0]).collect();
        assert_eq!(
            sale,
            [Posting {
                kind: LedgerKind::CollectiveSale,
                household_id: None,
                quantity: 3,
                amount_fen: 750,
            }]
        );
        assert_eq!(
            rest,
            Some(Posting {
                kind: LedgerKind::CollectiveSale,
                household_id: None,
                quantity: 1,
                amount_fen: 250,
            })
        );
        let refund = reverse_line_units(money, &portions, 0, 4);
        assert_eq!(
            refund
                .iter()
                .map(|r| (r.allocation, r.units))
                .collect::<Vec<_>>(),
            [(Some(0), 3), (None, 1)]
        );
        let back: i64 = refund
            .iter()
            .flat_map(|r| &r.postings)
            .map(|p| p.amount_fen)
            .sum();
        assert_eq!(back, -1_000);
    }

    #[test]
    fn refunds_in_pieces_give_back_what_each_household_earned() {
        let money = LineMoney::of_total(1_001, 7);
        let (portions, _) =
            allocate_line_units(money, CONSIGNMENT, &[lot(1, 2), lot(2, 2), lot(3, 9)]);
        let sale: Vec<Posting> = portions
            .iter()
            .flat_map(|p| sale_postings(money, CONSIGNMENT, p))
            .collect();
        // Units 3, then 0–2, then 4–6: each piece crosses lots differently.
        let refunds: Vec<Posting> = [(3, 1), (0, 3), (4, 3)]
            .into_iter()
            .flat_map(|(first, quantity)| reverse_line_units(money, &portions, first, quantity))
            .flat_map(|r| r.postings)
            .collect();
        for household in [10, 20, 30] {
            assert_eq!(
                household_fen(&refunds, household),
                -household_fen(&sale, household),
                "household {household}"
            );
        }
        let total = |ps: &[Posting]| ps.iter().map(|p| p.amount_fen).sum::<i64>();
        assert_eq!(total(&sale), 1_001);
        assert_eq!(total(&refunds), -1_001);
    }

    #[test]
    fn the_hosts_commission_comes_off_before_the_split_and_goes_back_with_refunds() {
        let money = LineMoney {
            total_fen: 1_001,
            quantity: 7,
            commission_bp: 1_250,
        };
        let (portions, rest) = allocate_line_units(money, CONSIGNMENT, &[lot(1, 3), lot(2, 9)]);
        assert_eq!(rest, None);
        let sale: Vec<Posting> = portions
            .iter()
            .flat_map(|p| sale_postings(money, CONSIGNMENT, p))
            .chain(commission_posting(
                money,
                0,
                7,
                LedgerKind::HostCommission,
                1,
            ))
            .collect();
        let total = |ps: &[Posting]| ps.iter().map(|p| p.amount_fen).sum::<i64>();
        let commission = |ps: &[Posting]| {
            ps.iter()
                .filter(|p| p.kind == LedgerKind::HostCommission)
                .map(|p| p.amount_fen)
                .sum::<i64>()
        };
        // 12.5 % of 1,001 fen, rounded down; the split shares the other 876.
        assert_eq!(commission(&sale), 125);
        assert_eq!(total(&sale), 1_001);
        assert_eq!(
            household_fen(&sale, 10) + household_fen(&sale, 20),
            876 - 87
        );
        // Refunded in two pieces: the commission and the shares come back to the fen.
        let refunds: Vec<Posting> = [(0, 4), (4, 3)]
            .into_iter()
            .flat_map(|(first, quantity)| {
                reverse_line_units(money, &portions, first, quantity)
                    .into_iter()
                    .flat_map(|r| r.postings)
                    .chain(commission_posting(
                        money,
                        first,
                        first + quantity,
                        LedgerKind::RefundHostCommission,
                        -1,
                    ))
            })
            .collect();
        assert_eq!(total(&refunds), -1_001);
        let taken_back: i64 = refunds
            .iter()
            .filter(|p| p.kind == LedgerKind::RefundHostCommission)
            .map(|p| p.amount_fen)
            .sum();
        assert_eq!(taken_back, -125);
        assert_eq!(
            commission_posting(
                LineMoney::of_total(1_000, 2),
                0,
                2,
                LedgerKind::HostCommission,
                1
            ),
            None
        );
    }

    #[test]
    fn a_purchase_earns_the_price_of_every_unit() {
        assert_eq!(
            purchase_posting(7, 2_730, 12),
            Posting {
                kind: LedgerKind::Purchase,
                household_id: Some(7),
                quantity: 12,
                amount_fen: 32_760,
            }
        );
    }
}
