//! A canteen's ordering (订货): the procurement catalogue at canteen prices, the quick-order
//! sheet (quantities for many products in one form), the checks a canteen order must pass
//! — each product's minimum and step, every village's lead time and delivery weekdays, the
//! site, the credit on account — and placing it, on account (月结) or to pay now; above
//! the organisation's approval threshold it waits for an approver, its stock held
//! (`approval`). Stock is reserved by the same code as any order (`orders::reserve_and_record`).

use std::collections::BTreeMap;

use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime};
use serde_json::json;

use crate::db::DbConn;
use crate::db::accounts as acc;
use crate::db::canteen::{self as q, CanteenOrder};
use crate::db::canteen_statements as st;
use crate::db::catalog::{self as cat, County, PriceTier, Product};
use crate::domain::actor::{OrgScope, Who};
use crate::domain::audit::{self, Change};
use crate::domain::cart::{self, CartItem, LineProblem, MAX_LINE_QUANTITY, PricedLine};
use crate::domain::catalog::in_season;
use crate::domain::error::{DomainError, DomainResult};
use crate::domain::orders::{self, Checkout, OrderLines, OrderTerms, Unplaced};
use crate::domain::spreadsheet::{self, Limits, RowProblem, TableRow, Unreadable};
use crate::domain::team::delivery_weekdays;
use crate::domain::validation::{self as v, FieldErrors};
use crate::domain::{china_date, notify};
use crate::states::{Channel, OrderStatus, PaymentMethod, PaymentTerms};

use super::{DeliverySite, Organization, Village};

/// The most lines one canteen order may hold (a week's procurement is a few dozen).
pub const MAX_ORDER_LINES: usize = 500;
/// How far ahead a delivery may be asked for.
pub const MAX_DAYS_AHEAD: i64 = 90;

/// What the catalogue is narrowed to; empty means any.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(default)]
pub struct CatalogueFilter {
    pub village: Option<i64>,
    pub county: String,
    pub category: String,
    /// Only what is in season this month.
    pub in_season: bool,
}

/// A product as the procurement catalogue lists it.
#[derive(Debug, Clone)]
pub struct CatalogueEntry {
    pub product: Product,
    pub village: Village,
    pub county: County,
    /// Every tier a canteen gets, public and canteen-only, cheapest last.
    pub tiers: Vec<PriceTier>,
    /// The canteen price at the product's canteen minimum.
    pub unit_price_fen: i64,
}

/// Quantities typed into the sheet, by product id, as typed.
pub type TypedQuantities = Vec<(i64, String)>;

/// The order form: the sheet's quantities and the order's details.
#[derive(Debug, Clone, Default)]
pub struct OrderForm {
    pub quantities: TypedQuantities,
    pub delivery_site: String,
    /// `YYYY-MM-DD`.
    pub delivery_date: String,
    pub po_number: String,
    pub note: String,
    pub payment_method: String,
    /// Set once per sheet, so that a double submit places one order.
    pub idempotency_key: String,
}

/// How much the organisation may still order on account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Credit {
    pub limit_fen: i64,
    /// On-account orders awaiting approval or payment.
    pub open_fen: i64,
}

impl Credit {
    pub fn available_fen(self) -> i64 {
        (self.limit_fen - self.open_fen).max(0)
    }
}

/// The quick-order sheet: the catalogue, the lines priced from the quantities typed so
/// far, and what the organisation may choose.
pub struct OrderSheet {
    pub organization: Organization,
    /// Sites still delivered to.
    pub sites: Vec<DeliverySite>,
    /// The catalogue as filtered.
    pub entries: Vec<CatalogueEntry>,
    pub counties: Vec<County>,
    pub villages: Vec<Village>,
    pub categories: Vec<String>,
    /// The typed quantities, priced (valid numbers only; hidden products included).
    pub lines: Vec<PricedLine>,
    pub total_fen: i64,
    /// How this organisation may pay now (on account first, when its terms allow).
    pub methods: Vec<PaymentMethod>,
    /// `Some` when the organisation is on account.
    pub credit: Option<Credit>,
    /// A statement of the organisation is overdue: it may order only to pay now.
    pub overdue: bool,
    /// The earliest date each village in the lines can deliver, with its weekdays.
    pub earliest_delivery: Option<NaiveDate>,
}

/// The organisation's terms allow ordering on account: 月结 with a credit limit.
fn on_account(org: &Organization) -> bool {
    org.payment_terms == PaymentTerms::OnAccount && org.credit_limit_fen > 0
}

/// The methods the organisation may pay with: on account when its terms allow and no
/// statement of it is overdue, and whatever the shop offers for paying now.
fn methods_for(org: &Organization, overdue: bool, shop: &[PaymentMethod]) -> Vec<PaymentMethod> {
    let now_methods = shop
        .iter()
        .copied()
        .filter(|m| *m != PaymentMethod::CashOnDelivery);
    (on_account(org) && !overdue)
        .then_some(PaymentMethod::OnAccount)
        .into_iter()
        .chain(now_methods)
        .collect()
}

fn organization(conn: &mut DbConn, scope: OrgScope) -> DomainResult<Organization> {
    acc::organization_by_id(conn, scope.organization_id())?.ok_or(DomainError::NotFound)
}

fn credit(conn: &mut DbConn, org: &Organization) -> diesel::QueryResult<Option<Credit>> {
    if !on_account(org) {
        return Ok(None);
    }
    Ok(Some(Credit {
        limit_fen: org.credit_limit_fen,
        open_fen: q::open_on_account_fen(conn, org.id)?,
    }))
}

/// Every product on sale at canteen prices, narrowed by `filter` (`month`: this month in
/// China, for "in season").
pub fn catalogue(
    conn: &mut DbConn,
    filter: &CatalogueFilter,
    month: u32,
) -> diesel::QueryResult<Vec<CatalogueEntry>> {
    let rows: Vec<_> = cat::on_sale_with_places(conn)?
        .into_iter()
        .filter(|(p, village, county)| {
            filter.village.is_none_or(|id| village.id == id)
                && (filter.county.is_empty() || county.slug == filter.county)
                && (filter.category.is_empty() || p.category == filter.category)
                && (!filter.in_season || in_season(p, month))
        })
        .collect();
    let ids: Vec<i64> = rows.iter().map(|(p, _, _)| p.id).collect();
    let mut tiers_of = cat::price_tiers_of(conn, &ids)?;
    Ok(rows
        .into_iter()
        .map(|(product, village, county)| {
            let mut tiers = tiers_of.remove(&product.id).unwrap_or_default();
            tiers.sort_by_key(|t| t.min_quantity);
            let unit_price_fen =
                cart::unit_price(&product, &tiers, product.canteen_min_quantity, true);
            CatalogueEntry {
                product,
                village,
                county,
                tiers,
                unit_price_fen,
            }
        })
        .collect())
}

/// Reads the sheet's quantities: empty and 0 are "none"; anything else must be a whole
/// number, named by its product's field (`q-<id>`). At most `MAX_ORDER_LINES` lines.
pub fn read_quantities(typed: &[(i64, String)]) -> Result<Vec<CartItem>, FieldErrors> {
    let mut errors = FieldErrors::default();
    let mut items: BTreeMap<i64, i32> = BTreeMap::new();
    for (product_id, text) in typed {
        if text.trim().is_empty() {
            continue;
        }
        let field = quantity_field(*product_id);
        if let Some(n) = v::whole_number(&mut errors, &field, text, 0, MAX_LINE_QUANTITY) {
            if n > 0 && items.insert(*product_id, n).is_some() {
                errors.add(&field, "invalid-canteen-repeated-product");
            }
        }
    }
    if items.len() > MAX_ORDER_LINES {
        errors.add_with(
            "lines",
            "invalid-canteen-too-many-lines",
            vec![("max", MAX_ORDER_LINES.to_string())],
        );
    }
    let items = items
        .into_iter()
        .map(|(product_id, quantity)| CartItem {
            product_id,
            quantity,
        })
        .collect();
    errors.finish(items)
}

/// The sheet's field for a product's quantity.
pub fn quantity_field(product_id: i64) -> String {
    format!("q-{product_id}")
}

/// The sheet with `items` priced (unreadable quantities are left out; the form shows
/// them again as typed).
pub fn sheet(
    conn: &mut DbConn,
    scope: OrgScope,
    filter: &CatalogueFilter,
    items: &[CartItem],
    shop_methods: &[PaymentMethod],
    now: NaiveDateTime,
) -> DomainResult<OrderSheet> {
    let organization = organization(conn, scope)?;
    let sites = q::sites_of(conn, organization.id)?
        .into_iter()
        .filter(|s| !s.retired)
        .collect();
    let lines = cart::price(conn, items, true)?;
    let today = china_date(now);
    let overdue = st::has_overdue(conn, organization.id, today)?;
    let villages = cat::villages(conn)?;
    let villages_in_order: Vec<&Village> = lines.iter().map(|l| &l.village).collect();
    let earliest_delivery = earliest_for_all(&villages_in_order, today);
    Ok(OrderSheet {
        entries: catalogue(conn, filter, today.month())?,
        counties: cat::counties(conn)?,
        categories: cat::categories_on_sale(conn)?,
        total_fen: lines.iter().map(|l| l.line_total_fen).sum(),
        methods: methods_for(&organization, overdue, shop_methods),
        overdue,
        credit: credit(conn, &organization)?,
        organization,
        sites,
        villages,
        lines,
        earliest_delivery,
    })
}

/// The first date every one of `villages` can deliver: after each one's lead time, on a
/// delivery weekday of each; `None` without villages, or if no such day comes within
/// `MAX_DAYS_AHEAD`.
fn earliest_for_all(villages: &[&Village], today: NaiveDate) -> Option<NaiveDate> {
    let first = villages
        .iter()
        .map(|v| today + Duration::days(i64::from(v.lead_time_days)))
        .max()?;
    (0..=MAX_DAYS_AHEAD)
        .map(|d| first + Duration::days(d))
        .find(|d| villages.iter().all(|v| delivers_on(v, *d)))
}

fn delivers_on(village: &Village, date: NaiveDate) -> bool {
    delivery_weekdays(&village.delivery_weekdays).contains(&date.weekday().number_from_monday())
}

/// Checks each line, named by its field: on sale, at least its product's canteen minimum
/// and on its step, and within the product's own limits per order (a scarce product's
/// maximum holds for canteens too). Only short stock is left to the reservation.
fn check_lines(errors: &mut FieldErrors, lines: &[PricedLine], items: &[CartItem]) {
    for item in items {
        let field = quantity_field(item.product_id);
        let Some(line) = lines.iter().find(|l| l.product.id == item.product_id) else {
            errors.add(&field, "invalid-canteen-not-on-sale");
            continue;
        };
        let p = &line.product;
        if line.problem == Some(LineProblem::NotOnSale) {
            errors.add(&field, "invalid-canteen-not-on-sale");
        } else if let Some(LineProblem::AboveMaximum(max)) = line.problem {
            errors.add_with(
                &field,
                "invalid-canteen-maximum",
                vec![("max", max.to_string())],
            );
        } else if let Some(LineProblem::BelowMinimum(min)) = line.problem {
            errors.add_with(
                &field,
                "invalid-canteen-minimum",
                vec![("min", min.to_string())],
            );
        } else if line.quantity < p.canteen_min_quantity {
            errors.add_with(
                &field,
                "invalid-canteen-minimum",
                vec![("min", p.canteen_min_quantity.to_string())],
            );
        } else if (line.quantity - p.canteen_min_quantity) % p.canteen_step != 0 {
            errors.add_with(
                &field,
                "invalid-canteen-step",
                vec![
                    ("min", p.canteen_min_quantity.to_string()),
                    ("step", p.canteen_step.to_string()),
                ],
            );
        }
    }
}

/// Checks the delivery date against every village in the order: not before its lead
/// time, on one of its delivery weekdays; each problem names the village.
fn check_delivery_date(
    errors: &mut FieldErrors,
    date: NaiveDate,
    lines: &[PricedLine],
    today: NaiveDate,
) {
    if date > today + Duration::days(MAX_DAYS_AHEAD) {
        errors.add_with(
            "delivery_date",
            "invalid-delivery-too-far",
            vec![("days", MAX_DAYS_AHEAD.to_string())],
        );
        return;
    }
    let mut seen = Vec::new();
    for village in lines.iter().map(|l| &l.village) {
        if seen.contains(&village.id) {
            continue;
        }
        seen.push(village.id);
        let earliest = today + Duration::days(i64::from(village.lead_time_days));
        if date < earliest {
            errors.add_with(
                "delivery_date",
                "invalid-delivery-too-early",
                vec![
                    ("village_zh", village.name_zh.clone()),
                    ("village_en", village.name_en.clone()),
                    ("days", village.lead_time_days.to_string()),
                    (
                        "earliest",
                        earliest_for_all(&[village], today)
                            .unwrap_or(earliest)
                            .to_string(),
                    ),
                ],
            );
        } else if !delivers_on(village, date) {
            errors.add_with(
                "delivery_date",
                "invalid-delivery-weekday",
                vec![
                    ("village_zh", village.name_zh.clone()),
                    ("village_en", village.name_en.clone()),
                ],
            );
        }
    }
}

/// The settings placing needs from the shop.
#[derive(Debug, Clone)]
pub struct Rules {
    /// How the shop takes payment now.
    pub shop_methods: Vec<PaymentMethod>,
    pub reservation_minutes: u32,
    pub approval_hold_hours: u32,
}

/// Who is ordering: the member's user id, email and language, and the key the sheet's
/// idempotency key is bound to (`cart::Buyer::checkout_scope`).
#[derive(Debug, Clone)]
pub struct Orderer {
    pub user_id: i64,
    pub email: String,
    pub locale: String,
    pub checkout_scope: String,
}

impl Orderer {
    /// A member ordering through the API: the idempotency key is bound to the member and
    /// to the request itself (its canonical bytes), so a retry finds its order and the same
    /// key sent by another member, or with another request, finds nothing of it.
    pub fn for_program(user_id: i64, email: &str, locale: &str, request: &[u8]) -> Orderer {
        Orderer {
            user_id,
            email: email.to_string(),
            locale: locale.to_string(),
            checkout_scope: format!("program:{user_id}:{}", orders::program_scope(request)),
        }
    }
}

/// Places a canteen order, all or nothing: every problem of the form is named by its
/// field, and nothing is reserved unless the whole order can be; `Checkout::Refused`
/// names the lines whose stock is short. A repeated submit (same idempotency key, same
/// session) finds the order placed the first time (`orders::place_once`).
pub fn place(
    conn: &mut DbConn,
    who: &Who,
    orderer: &Orderer,
    scope: OrgScope,
    form: &OrderForm,
    rules: &Rules,
    now: NaiveDateTime,
) -> DomainResult<Checkout> {
    let key = orders::stored_idempotency_key(&orderer.checkout_scope, form.idempotency_key.trim());
    orders::place_once(conn, &key, |conn| {
        place_in_transaction(conn, who, orderer, scope, form, rules, &key, now)
    })
}

#[allow(clippy::too_many_arguments)]
fn place_in_transaction(
    conn: &mut DbConn,
    who: &Who,
    orderer: &Orderer,
    scope: OrgScope,
    form: &OrderForm,
    rules: &Rules,
    key: &str,
    now: NaiveDateTime,
) -> Result<OrderLines, Unplaced> {
    let org = organization(conn, scope)?;
    let today = china_date(now);
    let mut errors = FieldErrors::default();
    let items = read_quantities(&form.quantities).unwrap_or_else(|e| {
        errors.0.extend(e.0);
        Vec::new()
    });
    if items.is_empty() && errors.is_empty() {
        errors.add("lines", "invalid-cart-empty");
    }
    let site = match form.delivery_site.trim().parse::<i64>() {
        Ok(id) => q::site_in(conn, org.id, id)?.filter(|s| !s.retired),
        Err(_) => None,
    };
    if site.is_none() {
        errors.add("delivery_site", "invalid-choice");
    }
    let date = v::date(&mut errors, "delivery_date", &form.delivery_date);
    let po_number =
        v::optional_text(&mut errors, "po_number", &form.po_number, 40).unwrap_or_default();
    let note = v::optional_text(&mut errors, "note", &form.note, 200).unwrap_or_default();
    let overdue = st::has_overdue(conn, org.id, today)?;
    let offered: Vec<&str> = methods_for(&org, overdue, &rules.shop_methods)
        .iter()
        .map(|m| m.as_str())
        .collect();
    let method = if overdue && form.payment_method.trim() == PaymentMethod::OnAccount.as_str() {
        errors.add("payment_method", "invalid-statement-overdue");
        None
    } else {
        v::one_of(
            &mut errors,
            "payment_method",
            &form.payment_method,
            &offered,
        )
        .and_then(|m| PaymentMethod::parse(&m))
    };
    let key_typed = form.idempotency_key.trim();
    if !orders::is_idempotency_key(key_typed) {
        errors.add("idempotency_key", "invalid-stale-form");
    }
    let lines = cart::price(conn, &items, true)?;
    check_lines(&mut errors, &lines, &items);
    if let Some(date) = date {
        check_delivery_date(&mut errors, date, &lines, today);
    }
    let total_fen: i64 = lines.iter().map(|l| l.line_total_fen).sum();
    if method == Some(PaymentMethod::OnAccount) {
        // Two members ordering on account at once are checked one after the other.
        q::lock_organization(conn, org.id)?;
        if let Some(credit) = credit(conn, &org)? {
            if total_fen > credit.available_fen() {
                errors.add_with(
                    "payment_method",
                    "invalid-credit-limit",
                    vec![
                        (
                            "available",
                            crate::domain::money::format_fen(credit.available_fen()),
                        ),
                        ("total", crate::domain::money::format_fen(total_fen)),
                    ],
                );
            }
        }
    }
    let (Some(site), Some(date), Some(method)) = (site, date, method) else {
        return Err(errors.into());
    };
    if !errors.is_empty() {
        return Err(errors.into());
    }
    // An approver's own order is approved by placing it.
    let needs_approval = org
        .approval_threshold_fen
        .is_some_and(|threshold| total_fen > threshold)
        && !scope.is_approver();
    let (status, reserved_until) = if needs_approval {
        let hold = Duration::hours(i64::from(rules.approval_hold_hours));
        (OrderStatus::AwaitingApproval, Some(now + hold))
    } else {
        (
            OrderStatus::PendingPayment,
            payment_window(method, rules, now),
        )
    };
    let address = format!("{} · {}", site.name, site.address);
    let terms = OrderTerms {
        staff_organization_id: None,
        live_item_id: None,
        channel: Channel::Canteen,
        organization_id: Some(org.id),
        buyer_user_id: Some(orderer.user_id),
        buyer_name: &site.receiver,
        buyer_phone: &site.phone,
        buyer_email: Some(&orderer.email),
        delivery_address: &address,
        note: &note,
        payment_method: method,
        status,
        reserved_until,
        idempotency_key: key,
        locale: &orderer.locale,
    };
    let placed = orders::reserve_and_record(conn, &lines, &terms, now)?;
    let order = &placed.order;
    let approved_by_placing =
        !needs_approval && org.approval_threshold_fen.is_some_and(|t| total_fen > t);
    let part = CanteenOrder {
        order_id: order.id,
        organization_id: org.id,
        delivery_site_id: site.id,
        delivery_date: date,
        po_number: po_number.clone(),
        placed_by_user_id: orderer.user_id,
        decided_by_user_id: approved_by_placing.then_some(orderer.user_id),
        decided_at: approved_by_placing.then_some(now),
        sent_back_reason: None,
    };
    q::insert_canteen_order(conn, &part)?;
    let change = Change {
        action: "place_canteen_order",
        entity: "order",
        entity_id: order.id,
        village_id: None,
        before: None,
        after: Some(json!({
            "organization_id": org.id, "status": status, "payment_method": method,
            "total_fen": total_fen, "lines": placed.lines.len(), "delivery_site_id": site.id,
            "delivery_date": date, "po_number": po_number,
        })),
    };
    audit::record(conn, who, change, now)?;
    notify::order_received(conn, order, &placed.lines, now)?;
    if needs_approval {
        let approvers = approvers(conn, org.id)?;
        notify::approval_needed(conn, order, &placed.lines, &approvers, now)?;
    }
    Ok(placed)
}

/// When an order's stock goes back if it is not paid: never on account (it is paid by
/// the statement), after the shop's payment window otherwise.
pub(super) fn payment_window(
    method: PaymentMethod,
    rules: &Rules,
    now: NaiveDateTime,
) -> Option<NaiveDateTime> {
    (method != PaymentMethod::OnAccount)
        .then(|| now + Duration::minutes(i64::from(rules.reservation_minutes)))
}

/// The addresses of the organisation's approvers (and their languages).
pub(super) fn approvers(
    conn: &mut DbConn,
    organization_id: i64,
) -> diesel::QueryResult<Vec<(String, String)>> {
    Ok(acc::members_of(conn, organization_id)?
        .into_iter()
        .filter(|(u, role)| *role == crate::states::MemberRole::Approver && !u.disabled)
        .map(|(u, _)| (u.email, u.locale))
        .collect())
}

/// The columns of an uploaded order: the product's code (its number in the catalogue)
/// and the quantity; any other column (a name, a price) is there for people and ignored.
const ORDER_COLUMNS: &spreadsheet::Columns = &[
    (
        "code",
        &[
            "商品编号",
            "编号",
            "产品编号",
            "code",
            "product code",
            "product_code",
        ],
        true,
    ),
    (
        "quantity",
        &["数量", "订购数量", "订货数量", "quantity", "qty"],
        true,
    ),
];

/// An uploaded order may be the whole catalogue downloaded as a form (`template`), so
/// it may have up to 5,000 rows below its header, in at most 20 columns; at most
/// `MAX_ORDER_LINES` of them with a quantity.
const ORDER_LIMITS: Limits = Limits {
    rows: 5_001,
    columns: 20,
};

/// Reads an uploaded order file (CSV UTF-8/GBK or XLSX). CPU-bound and blocking: the
/// web layer runs it off the async workers.
pub fn read_order_file(bytes: &[u8]) -> Result<Vec<TableRow>, Unreadable> {
    spreadsheet::read(bytes, ORDER_COLUMNS, ORDER_LIMITS)
}

/// What an uploaded order became: the sheet's quantities, or every problem by row and
/// nothing taken.
#[derive(Debug)]
pub enum OrderUpload {
    Filled(Vec<CartItem>),
    Refused(Vec<RowProblem>),
}

/// Checks every row of an uploaded order that has a quantity, all or nothing: the code
/// names a product on sale, the quantity is a whole number that meets the product's canteen minimum and
/// step, and no product comes twice. Only a file without a problem fills the sheet.
pub fn check_upload(
    conn: &mut DbConn,
    rows: Result<Vec<TableRow>, Unreadable>,
) -> DomainResult<OrderUpload> {
    let rows = match rows {
        Ok(rows) => rows,
        Err(Unreadable(problems)) => return Ok(OrderUpload::Refused(problems)),
    };
    let mut problems = Vec::new();
    let problem = |row: usize, column: &str, key: &'static str, args| RowProblem {
        row,
        column: column.to_string(),
        key,
        args,
    };
    let mut typed: Vec<(usize, i64, i32)> = Vec::new();
    for (row, cells) in &rows {
        let (code, quantity) = (cells[0].trim(), cells[1].trim());
        // The catalogue downloaded as a form has every product: a row left without a
        // quantity (or 0) is not ordered.
        if quantity.is_empty() || quantity == "0" {
            continue;
        }
        let id = match code.parse::<i64>() {
            Ok(id) if id > 0 => Some(id),
            _ => {
                problems.push(problem(*row, "code", "invalid-canteen-code", vec![]));
                None
            }
        };
        let mut errors = FieldErrors::default();
        let n = v::whole_number(&mut errors, "quantity", quantity, 1, MAX_LINE_QUANTITY);
        for e in errors.0 {
            problems.push(problem(*row, "quantity", e.key, e.args));
        }
        if let Some(id) = id {
            if typed.iter().any(|(_, seen, _)| *seen == id) {
                problems.push(problem(
                    *row,
                    "code",
                    "invalid-canteen-repeated-product",
                    vec![],
                ));
            } else if let Some(n) = n {
                typed.push((*row, id, n));
            }
        }
    }
    let items: Vec<CartItem> = typed
        .iter()
        .map(|(_, product_id, quantity)| CartItem {
            product_id: *product_id,
            quantity: *quantity,
        })
        .collect();
    let lines = cart::price(conn, &items, true)?;
    let mut errors = FieldErrors::default();
    check_lines(&mut errors, &lines, &items);
    for e in errors.0 {
        let row = typed
            .iter()
            .find(|(_, id, _)| quantity_field(*id) == e.field)
            .map_or(0, |(row, _, _)| *row);
        let column = if e.key == "invalid-canteen-not-on-sale" {
            "code"
        } else {
            "quantity"
        };
        problems.push(problem(row, column, e.key, e.args));
    }
    if typed.is_empty() && problems.is_empty() {
        problems.push(problem(1, "", "invalid-cart-empty", vec![]));
    }
    if typed.len() > MAX_ORDER_LINES {
        problems.push(problem(
            1,
            "",
            "invalid-canteen-too-many-lines",
            vec![("max", MAX_ORDER_LINES.to_string())],
        ));
    }
    problems.sort_by_key(|p| p.row);
    Ok(if problems.is_empty() {
        OrderUpload::Filled(items)
    } else {
        OrderUpload::Refused(problems)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn village(id: i64, lead: i32, weekdays: &str) -> Village {
        Village {
            id,
            county_id: 1,
            slug: format!("v{id}"),
            name_zh: format!("村{id}"),
            name_en: format!("V{id}"),
            township_zh: None,
            township_en: None,
            story_zh: String::new(),
            story_en: String::new(),
            collective_share_bp: None,
            created_at: NaiveDate::default()
                .and_hms_opt(0, 0, 0)
                .unwrap_or_default(),
            lead_time_days: lead,
            delivery_weekdays: weekdays.into(),
        }
    }

    #[test]
    fn the_earliest_delivery_suits_every_village() {
        // Monday 2026-11-30.
        let monday = NaiveDate::from_ymd_opt(2026, 11, 30).unwrap_or_default();
        let day = |a: &Village, b: &Village| earliest_for_all(&[a, b], monday);
        // One delivers Mondays and Thursdays after 1 day, the other Thursdays after 2:
        // Thursday, though each alone could come sooner.
        let (a, b) = (village(1, 1, "1001000"), village(2, 2, "0001000"));
        assert_eq!(
            earliest_for_all(&[&a], monday),
            Some(monday + Duration::days(3))
        );
        assert_eq!(day(&a, &b), Some(monday + Duration::days(3)));
        // No weekday in common: no date at all.
        let (c, d) = (village(3, 0, "1000000"), village(4, 0, "0100000"));
        assert_eq!(day(&c, &d), None);
    }
}
