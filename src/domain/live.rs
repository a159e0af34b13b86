//! Livestream selling (直播带货), first part: a work team prepares a session (直播场次) of one
//! of its villages — title, platform, host (主播) and the host's commission, start and end —
//! and its numbered items (1号, 2号…: a product, a live price no higher than the normal one,
//! a quota, a per-buyer limit), each with a short link `/l/{code}` read aloud on stream.
//! A session goes draft → scheduled → live → ended, by hand or on its own times (the jobs
//! loop); going live takes each item's quota from the product's stock, ending gives back
//! what was not sold. Every change is audited.

use chrono::{Duration, NaiveDateTime};
use serde_json::json;

use crate::db::catalog::Product;
use crate::db::live::{self as q, NewLiveItem, SessionFields};

pub use crate::db::live::{LiveItem, LiveSession};
pub use crate::db::live_hosts::ItemFigures;
use crate::db::stock as st;
use crate::db::{DbConn, write_transaction};
use crate::domain::actor::{TeamScope, Who};
use crate::domain::audit::{self, Change};
use crate::domain::error::{DomainError, DomainResult};
use crate::domain::validation::{self as v, FieldErrors};
use crate::states::{LivePlatform, LiveStatus, ProductStatus};

/// A session as the team types it; times are China wall-clock `YYYY-MM-DD HH:MM` (a
/// browser's `datetime-local` sends `YYYY-MM-DDTHH:MM`).
#[derive(Debug, Clone, Default, serde::Deserialize, serde::Serialize)]
#[serde(default)]
pub struct SessionForm {
    pub village_id: String,
    pub title: String,
    pub platform: String,
    pub host_name: String,
    /// Percent, up to two decimals: `5` or `5.5`.
    pub host_commission: String,
    pub starts_at: String,
    pub ends_at: String,
}

/// The most a host may take: 30 %.
const MAX_COMMISSION_BP: i32 = 3_000;

/// A percentage with up to two decimals, as basis points from 0 to `MAX_COMMISSION_BP`.
fn commission_bp(errors: &mut FieldErrors, field: &str, text: &str) -> Option<i32> {
    let text = text.trim();
    let (whole, frac) = text.split_once('.').unwrap_or((text, ""));
    let digits = |s: &str| !s.is_empty() && s.len() <= 4 && s.bytes().all(|b| b.is_ascii_digit());
    let bp = match (
        digits(whole),
        frac.is_empty() || (frac.len() <= 2 && digits(frac)),
    ) {
        (true, true) => {
            let whole: i32 = whole.parse().unwrap_or(i32::MAX / 100);
            let frac: i32 = format!("{frac:0<2}").parse().unwrap_or(0);
            Some(whole.saturating_mul(100).saturating_add(frac))
        }
        _ => None,
    };
    match bp {
        Some(bp) if bp <= MAX_COMMISSION_BP => Some(bp),
        _ => {
            errors.add_with(
                field,
                "invalid-commission",
                vec![("max", (MAX_COMMISSION_BP / 100).to_string())],
            );
            None
        }
    }
}

/// A China wall-clock time as typed, as the UTC instant stored.
fn china_time_typed(errors: &mut FieldErrors, field: &str, text: &str) -> Option<NaiveDateTime> {
    let text = text.trim().replace('T', " ");
    match NaiveDateTime::parse_from_str(&text, "%Y-%m-%d %H:%M") {
        Ok(t) => Some(t - Duration::hours(8)),
        Err(_) => {
            errors.add(field, "invalid-datetime");
            None
        }
    }
}

/// A session of the member's villages; another village's is not found.
fn session_in(conn: &mut DbConn, scope: &TeamScope, id: i64) -> DomainResult<LiveSession> {
    q::session_in(conn, scope.village_ids(), id)?.ok_or(DomainError::NotFound)
}

/// An item of a session of the member's villages (for its QR code): without the session's
/// figures, which only the dashboard and the report read.
pub fn item(
    conn: &mut DbConn,
    scope: &TeamScope,
    session_id: i64,
    item_id: i64,
) -> DomainResult<LiveItem> {
    let session = session_in(conn, scope, session_id)?;
    q::items_of(conn, session.id)?
        .into_iter()
        .map(|(item, _)| item)
        .find(|item| item.id == item_id)
        .ok_or(DomainError::NotFound)
}

/// Prepares a session (a draft) for one of the member's villages.
pub fn create_session(
    conn: &mut DbConn,
    who: &Who,
    scope: &TeamScope,
    form: &SessionForm,
    now: NaiveDateTime,
) -> DomainResult<i64> {
    let mut errors = FieldErrors::default();
    let village = form.village_id.trim().parse::<i64>().ok();
    let village = village.filter(|id| scope.village_ids().contains(id));
    if village.is_none() {
        errors.add("village_id", "invalid-choice");
    }
    let title = v::required_text(&mut errors, "title", &form.title, 60);
    let platform = v::state(&mut errors, "platform", &form.platform, LivePlatform::parse);
    let host_name = v::required_text(&mut errors, "host_name", &form.host_name, 40);
    let bp = commission_bp(&mut errors, "host_commission", &form.host_commission);
    let starts_at = china_time_typed(&mut errors, "starts_at", &form.starts_at);
    let ends_at = china_time_typed(&mut errors, "ends_at", &form.ends_at);
    if let (Some(start), Some(end)) = (starts_at, ends_at) {
        if end <= start {
            errors.add("ends_at", "invalid-live-end");
        }
    }
    let (Some(village), Some(platform), Some(bp), Some(starts_at), Some(ends_at)) =
        (village, platform, bp, starts_at, ends_at)
    else {
        return Err(errors.into());
    };
    errors.finish(())?;
    let fields = SessionFields {
        title: &title,
        platform,
        host_name: &host_name,
        host_commission_bp: bp,
        starts_at,
        ends_at,
    };
    write_transaction(conn, |conn| {
        let id = q::insert_session(conn, village, &fields, who.user_id, now)?;
        let change = Change {
            action: "create",
            entity: "live_session",
            entity_id: id,
            village_id: Some(village),
            before: None,
            after: Some(json!({
                "title": title, "platform": platform, "host_name": host_name,
                "host_commission_bp": bp, "starts_at": starts_at, "ends_at": ends_at,
            })),
        };
        audit::record(conn, who, change, now)?;
        Ok(id)
    })
}

/// An item as the team types it: a product of the session's village, a live price in
/// yuan, a quota and a per-buyer limit.
#[derive(Debug, Clone, Default, serde::Deserialize, serde::Serialize)]
#[serde(default)]
pub struct ItemForm {
    pub product_id: String,
    pub live_price: String,
    pub quota: String,
    pub per_buyer_limit: String,
}

/// The letters of a link's code: no 0/O or 1/I/L, which are misheard or misread.
const CODE_LETTERS: &[u8] = b"ABCDEFGHJKMNPQRSTUVWXYZ23456789";
/// Six of them: about 887 million codes, read aloud in a breath.
const CODE_LENGTH: usize = 6;

fn new_code(conn: &mut DbConn) -> DomainResult<String> {
    for _ in 0..8 {
        let code: String = crate::util::random_bytes(CODE_LENGTH)
            .iter()
            .map(|b| char::from(CODE_LETTERS[usize::from(*b) % CODE_LETTERS.len()]))
            .collect();
        if !q::code_exists(conn, &code)? {
            return Ok(code);
        }
    }
    Err(DomainError::invalid("product_id", "invalid-live-code"))
}

/// Adds the next numbered item to a session not yet ended. Refused, naming the field: a
/// product not on sale in the session's village or already in it, a live price above the
/// normal one, a quota above the stock, a limit above the quota. Added while live, its
/// quota is taken from the stock at once.
pub fn add_item(
    conn: &mut DbConn,
    who: &Who,
    scope: &TeamScope,
    session_id: i64,
    form: &ItemForm,
    now: NaiveDateTime,
) -> DomainResult<i64> {
    let session = session_in(conn, scope, session_id)?;
    if session.status == LiveStatus::Ended {
        return Err(DomainError::invalid("status", "invalid-live-ended"));
    }
    let mut errors = FieldErrors::default();
    let product = match form.product_id.trim().parse::<i64>() {
        Ok(id) => st::product_in_villages(conn, &[session.village_id], id)?
            .filter(|p| p.status == ProductStatus::OnSale),
        Err(_) => None,
    };
    let items = q::items_of(conn, session.id)?;
    match &product {
        None => errors.add("product_id", "invalid-choice"),
        Some(p) if items.iter().any(|(i, _)| i.product_id == p.id) => {
            errors.add("product_id", "invalid-live-product-twice")
        }
        _ => {}
    }
    let price = live_price(&mut errors, &form.live_price, product.as_ref());
    let stock = product.as_ref().map_or(0, |p| p.stock);
    let quota = v::whole_number(&mut errors, "quota", &form.quota, 1, stock.max(1));
    let limit = v::whole_number(
        &mut errors,
        "per_buyer_limit",
        &form.per_buyer_limit,
        1,
        quota.unwrap_or(i32::MAX),
    );
    let (Some(product), Some(price), Some(quota), Some(limit)) = (product, price, quota, limit)
    else {
        return Err(errors.into());
    };
    errors.finish(())?;
    write_transaction(conn, |conn| {
        // Under the session's lock: it does not go live or end while the item is added.
        let status = lock_unended(conn, session.id)?;
        let number = q::items_of(conn, session.id)?
            .iter()
            .map(|(i, _)| i.number)
            .max()
            .unwrap_or(0)
            + 1;
        let code = new_code(conn)?;
        let new = NewLiveItem {
            session_id: session.id,
            number,
            product_id: product.id,
            live_price_fen: price,
            quota,
            per_buyer_limit: limit,
            code: &code,
        };
        let id = q::insert_item(conn, &new)?;
        if status == Some(LiveStatus::Live) {
            take_quota(conn, id, &product, quota, now)?;
        }
        let change = Change {
            action: "add_item",
            entity: "live_session",
            entity_id: session.id,
            village_id: Some(session.village_id),
            before: None,
            after: Some(json!({
                "item_id": id, "number": number, "product_id": product.id,
                "live_price_fen": price, "quota": quota, "per_buyer_limit": limit, "code": code,
            })),
        };
        audit::record(conn, who, change, now)?;
        Ok(id)
    })
}

/// A change of an item during its session: a new live price, a new quota.
#[derive(Debug, Clone, Default, serde::Deserialize, serde::Serialize)]
#[serde(default)]
pub struct ItemChange {
    pub live_price: String,
    pub quota: String,
}

/// Changes an item's live price or quota while its session has not ended; orders already
/// placed keep the price they were placed at. A quota never goes below what is sold; while
/// live, a larger quota takes the difference from the stock and a smaller one gives it
/// back. Done under the session's exclusive lock, so no purchase runs in between; audited.
pub fn change_item(
    conn: &mut DbConn,
    who: &Who,
    scope: &TeamScope,
    session_id: i64,
    item_id: i64,
    form: &ItemChange,
    now: NaiveDateTime,
) -> DomainResult<()> {
    let session = session_in(conn, scope, session_id)?;
    let (item, product) = q::items_of(conn, session.id)?
        .into_iter()
        .find(|(i, _)| i.id == item_id)
        .ok_or(DomainError::NotFound)?;
    let mut errors = FieldErrors::default();
    let price = live_price(&mut errors, &form.live_price, Some(&product));
    let quota = v::whole_number(&mut errors, "quota", &form.quota, 1, i32::MAX / 2);
    let (Some(price), Some(quota)) = (price, quota) else {
        return Err(errors.into());
    };
    errors.finish(())?;
    write_transaction(conn, |conn| {
        let status = lock_unended(conn, session.id)?;
        let item = q::items_of(conn, session.id)?
            .into_iter()
            .map(|(i, _)| i)
            .find(|i| i.id == item.id)
            .ok_or(DomainError::NotFound)?;
        if quota < item.sold {
            let mut below = FieldErrors::default();
            below.add_with(
                "quota",
                "invalid-live-quota-sold",
                vec![("sold", item.sold.to_string())],
            );
            return Err(below.into());
        }
        let taken = if status == Some(LiveStatus::Live) {
            if quota > item.taken {
                if !st::take_from_product(conn, product.id, quota - item.taken, now)? {
                    return Err(DomainError::invalid("quota", "invalid-live-stock-short"));
                }
            } else if quota < item.taken {
                st::add_to_product(conn, product.id, item.taken - quota, now)?;
            }
            quota
        } else {
            item.taken
        };
        if q::set_price_and_quota(conn, item.id, price, quota, taken)? != 1 {
            return Err(DomainError::invalid("quota", "invalid-live-quota-sold"));
        }
        let change = Change {
            action: "change_item",
            entity: "live_session",
            entity_id: session.id,
            village_id: Some(session.village_id),
            before: Some(
                json!({ "item_id": item.id, "live_price_fen": item.live_price_fen, "quota": item.quota }),
            ),
            after: Some(json!({ "item_id": item.id, "live_price_fen": price, "quota": quota })),
        };
        audit::record(conn, who, change, now)?;
        Ok(())
    })
}

/// Holds the session's row for a change of its items (`q::lock_session`, exclusive) and
/// refuses one that has ended: its status as held.
fn lock_unended(conn: &mut DbConn, session_id: i64) -> DomainResult<Option<LiveStatus>> {
    let status = q::lock_session(conn, session_id, true)?.map(|(s, _)| s);
    if status == Some(LiveStatus::Ended) {
        return Err(DomainError::invalid("status", "invalid-live-ended"));
    }
    Ok(status)
}

/// A live price typed for `product`: in yuan, no higher than its normal price.
fn live_price(errors: &mut FieldErrors, typed: &str, product: Option<&Product>) -> Option<i64> {
    let price = v::price_yuan(errors, "live_price", typed)?;
    if let Some(p) = product.filter(|p| price > p.unit_price_fen) {
        errors.add_with(
            "live_price",
            "invalid-live-price",
            vec![("price", crate::domain::money::format_fen(p.unit_price_fen))],
        );
    }
    Some(price)
}

/// Takes an item's quota from its product's stock; refused, naming the item's quota, when
/// the stock no longer holds it.
fn take_quota(
    conn: &mut DbConn,
    item_id: i64,
    product: &Product,
    quota: i32,
    now: NaiveDateTime,
) -> DomainResult<()> {
    if !st::take_from_product(conn, product.id, quota, now)? {
        return Err(DomainError::invalid("quota", "invalid-live-stock-short"));
    }
    q::set_taken(conn, item_id, quota)?;
    Ok(())
}

/// A session with its items and their products, and what else its village has on sale.
pub struct SessionView {
    pub session: LiveSession,
    /// Its links with their figures as they stand.
    pub figures: SessionFigures,
    /// The village's products on sale, for the next item.
    pub products: Vec<Product>,
}

/// The dashboard's and the report's figures: each link's, and the session's in all.
pub struct SessionFigures {
    pub items: Vec<(LiveItem, Product, ItemFigures)>,
    pub total: crate::domain::live_hosts::Sum,
}

/// A session of the member's villages with its figures as they stand.
pub fn figures(
    conn: &mut DbConn,
    scope: &TeamScope,
    id: i64,
) -> DomainResult<(LiveSession, SessionFigures)> {
    let session = session_in(conn, scope, id)?;
    let figures = session_figures(conn, &session)?;
    Ok((session, figures))
}

fn session_figures(conn: &mut DbConn, session: &LiveSession) -> DomainResult<SessionFigures> {
    let mut by_item: std::collections::HashMap<i64, ItemFigures> =
        crate::db::live_hosts::item_figures(conn, &[session.id])?
            .into_iter()
            .map(|f| (f.item_id, f))
            .collect();
    let items: Vec<(LiveItem, Product, ItemFigures)> = q::items_of(conn, session.id)?
        .into_iter()
        .map(|(item, product)| {
            let f = by_item.remove(&item.id).unwrap_or_default();
            (item, product, f)
        })
        .collect();
    let total = crate::domain::live_hosts::Sum::of(items.iter().map(|(_, _, f)| f));
    Ok(SessionFigures { items, total })
}

/// The member's villages' sessions, latest first.
pub fn sessions(conn: &mut DbConn, scope: &TeamScope) -> DomainResult<Vec<LiveSession>> {
    Ok(q::sessions_of(conn, scope.village_ids())?)
}

pub fn session(conn: &mut DbConn, scope: &TeamScope, id: i64) -> DomainResult<SessionView> {
    let session = session_in(conn, scope, id)?;
    Ok(SessionView {
        figures: session_figures(conn, &session)?,
        products: st::products_of_villages(conn, &[session.village_id])?
            .into_iter()
            .filter(|p| p.status == ProductStatus::OnSale)
            .collect(),
        session,
    })
}

/// What a member does to a session by hand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionStep {
    /// Draft → scheduled: announced; it goes live on its start time.
    Schedule,
    /// Draft or scheduled → live, now.
    Start,
    /// Live → ended, now.
    End,
}

impl SessionStep {
    pub fn parse(s: &str) -> Option<SessionStep> {
        match s {
            "schedule" => Some(SessionStep::Schedule),
            "start" => Some(SessionStep::Start),
            "end" => Some(SessionStep::End),
            _ => None,
        }
    }
}

/// Takes `step` for one of the member's sessions; a session without items cannot be
/// scheduled or started, and one whose stock no longer holds a quota cannot go live.
pub fn take_step(
    conn: &mut DbConn,
    who: &Who,
    scope: &TeamScope,
    id: i64,
    step: SessionStep,
    now: NaiveDateTime,
) -> DomainResult<()> {
    let session = session_in(conn, scope, id)?;
    if step != SessionStep::End && q::items_of(conn, session.id)?.is_empty() {
        return Err(DomainError::invalid("status", "invalid-live-no-items"));
    }
    match step {
        SessionStep::Schedule => write_transaction(conn, |conn| {
            let (from, to) = (&[LiveStatus::Draft][..], LiveStatus::Scheduled);
            if !q::transition(conn, session.id, from, to, now)? {
                return Err(DomainError::invalid("status", "invalid-live-step"));
            }
            record_step(conn, who, &session, to, json!({}), now)
        }),
        SessionStep::Start => go_live(conn, who, &session, now),
        SessionStep::End => close(conn, who, &session, now),
    }
}

/// Moves a live session's end later (by hand, when the stream runs over).
pub fn extend(
    conn: &mut DbConn,
    who: &Who,
    scope: &TeamScope,
    id: i64,
    ends_at: &str,
    now: NaiveDateTime,
) -> DomainResult<()> {
    let session = session_in(conn, scope, id)?;
    let mut errors = FieldErrors::default();
    let Some(ends_at) = china_time_typed(&mut errors, "ends_at", ends_at) else {
        return Err(errors.into());
    };
    if session.status == LiveStatus::Ended {
        return Err(DomainError::invalid("status", "invalid-live-ended"));
    }
    if ends_at <= session.ends_at.max(now) {
        return Err(DomainError::invalid("ends_at", "invalid-live-extend"));
    }
    write_transaction(conn, |conn| {
        q::set_ends_at(conn, session.id, ends_at)?;
        let change = Change {
            action: "extend",
            entity: "live_session",
            entity_id: session.id,
            village_id: Some(session.village_id),
            before: Some(json!({ "ends_at": session.ends_at })),
            after: Some(json!({ "ends_at": ends_at })),
        };
        audit::record(conn, who, change, now)?;
        Ok(())
    })
}

fn record_step(
    conn: &mut DbConn,
    who: &Who,
    session: &LiveSession,
    to: LiveStatus,
    stock: serde_json::Value,
    now: NaiveDateTime,
) -> DomainResult<()> {
    let change = Change {
        action: "status",
        entity: "live_session",
        entity_id: session.id,
        village_id: Some(session.village_id),
        before: Some(json!({ "status": session.status })),
        after: Some(json!({ "status": to, "stock": stock })),
    };
    audit::record(conn, who, change, now)?;
    Ok(())
}

/// Draft or scheduled → live: each item's quota is taken from its product's stock, all or
/// none.
fn go_live(
    conn: &mut DbConn,
    who: &Who,
    session: &LiveSession,
    now: NaiveDateTime,
) -> DomainResult<()> {
    write_transaction(conn, |conn| {
        let from = [LiveStatus::Draft, LiveStatus::Scheduled];
        if !q::transition(conn, session.id, &from, LiveStatus::Live, now)? {
            return Err(DomainError::invalid("status", "invalid-live-step"));
        }
        let mut taken = Vec::new();
        for (item, product) in q::items_of(conn, session.id)? {
            if !st::take_from_product(conn, product.id, item.quota, now)? {
                let mut short = FieldErrors::default();
                short.add_with(
                    "status",
                    "invalid-live-stock-short-item",
                    vec![("number", item.number.to_string())],
                );
                return Err(short.into());
            }
            q::set_taken(conn, item.id, item.quota)?;
            taken.push(json!({ "item": item.id, "product": product.id, "taken": item.quota }));
        }
        record_step(conn, who, session, LiveStatus::Live, json!(taken), now)
    })
}

/// Live → ended: what each item took and did not sell goes back to its product's stock.
fn close(
    conn: &mut DbConn,
    who: &Who,
    session: &LiveSession,
    now: NaiveDateTime,
) -> DomainResult<()> {
    write_transaction(conn, |conn| {
        if !q::transition(
            conn,
            session.id,
            &[LiveStatus::Live],
            LiveStatus::Ended,
            now,
        )? {
            return Err(DomainError::invalid("status", "invalid-live-step"));
        }
        // Held, so that no order takes units after they are counted here: once `taken`
        // is what was sold, `q::take_from_quota` refuses every later one.
        let mut returned = Vec::new();
        for item in q::lock_items(conn, session.id)? {
            let back = item.taken - item.sold;
            if back > 0 {
                st::add_to_product(conn, item.product_id, back, now)?;
                q::set_taken(conn, item.id, item.sold)?;
                let (id, product) = (item.id, item.product_id);
                returned.push(json!({ "item": id, "product": product, "returned": back }));
            }
        }
        record_step(conn, who, session, LiveStatus::Ended, json!(returned), now)?;
        let figures = session_figures(conn, session)?;
        let total = (figures.total.orders, figures.total.paid_fen);
        let links = &figures.items;
        Ok(crate::domain::notify::live_session_ended(
            conn, session, links, total, now,
        )?)
    })
}

/// Starts each scheduled session whose start has come and ends each live one whose end has
/// passed; each once, however many processes run this (the status moves by a conditional
/// update inside the step's transaction). A session that cannot go live (its stock no
/// longer holds a quota) is left scheduled for the team to see. Returns how many moved.
pub fn advance_due(conn: &mut DbConn, now: NaiveDateTime) -> DomainResult<usize> {
    let who = Who::tool("livestream schedule");
    let mut moved = 0;
    for session in q::due(conn, now)? {
        let step = match session.status {
            // Its whole time passed with no process running: it never went on air.
            LiveStatus::Scheduled if session.ends_at <= now => write_transaction(conn, |conn| {
                let (from, to) = (&[LiveStatus::Scheduled][..], LiveStatus::Ended);
                if !q::transition(conn, session.id, from, to, now)? {
                    return Err(DomainError::invalid("status", "invalid-live-step"));
                }
                record_step(conn, &who, &session, to, json!([]), now)
            }),
            LiveStatus::Scheduled => go_live(conn, &who, &session, now),
            _ => close(conn, &who, &session, now),
        };
        match step {
            Ok(()) => moved += 1,
            Err(e) => {
                tracing::warn!(session = session.id, error = %e, "livestream session not moved")
            }
        }
    }
    Ok(moved)
}

/// What a viewer's link shows.
pub enum LinkState {
    /// Not live yet: it starts then.
    Upcoming(NaiveDateTime),
    /// On air until then.
    Live(NaiveDateTime),
    SoldOut,
    Ended,
}

pub struct LinkView {
    pub item: LiveItem,
    pub product: Product,
    pub session: LiveSession,
    pub state: LinkState,
}

/// The item behind a viewer's link `/l/{code}`, counted as a visit when `visit` (not when
/// the page comes back with the order form's problems); an unknown code is not found.
pub fn link(conn: &mut DbConn, code: &str, now: NaiveDateTime) -> DomainResult<LinkView> {
    let code = code.trim().to_uppercase();
    let (item, product, _, session) = q::item_by_code(conn, &code)?.ok_or(DomainError::NotFound)?;
    let state = match session.status {
        LiveStatus::Draft | LiveStatus::Scheduled => LinkState::Upcoming(session.starts_at),
        LiveStatus::Live if now >= session.ends_at => LinkState::Ended,
        LiveStatus::Live if item.units_left() == 0 => LinkState::SoldOut,
        LiveStatus::Live => LinkState::Live(session.ends_at),
        LiveStatus::Ended => LinkState::Ended,
    };
    Ok(LinkView {
        item,
        product,
        session,
        state,
    })
}

/// Visits to the links, counted in the process by link code and written every few
/// seconds (`record_visits`): in a rush, a write to the item's row for every phone that
/// opens the link would queue behind the purchases that take from its quota. By code,
/// since a link's page served from the page cache was not read from the database.
#[derive(Debug, Default)]
pub struct Visits(std::sync::Mutex<std::collections::HashMap<String, i64>>);

impl Visits {
    pub fn count(&self, code: &str) {
        if let Ok(mut pending) = self.0.lock() {
            match pending.get_mut(code) {
                Some(n) => *n += 1,
                None => {
                    pending.insert(code.to_string(), 1);
                }
            }
        }
    }

    /// The visits counted since the last time, to write.
    pub fn take(&self) -> Vec<(String, i64)> {
        self.0
            .lock()
            .map(|mut pending| pending.drain().collect())
            .unwrap_or_default()
    }
}

/// Adds visits counted in a process to their items; how many items.
pub fn record_visits(conn: &mut DbConn, visits: &[(String, i64)]) -> DomainResult<usize> {
    write_transaction(conn, |conn| {
        for (code, n) in visits {
            q::add_visits(conn, code, *n)?;
        }
        Ok(visits.len())
    })
}

/// A viewer's order from a link, as typed on the phone.
#[derive(Debug, Clone, Default, serde::Deserialize, serde::Serialize)]
#[serde(default)]
pub struct LiveOrderForm {
    pub quantity: String,
    pub name: String,
    pub phone: String,
    pub address: String,
    pub payment_method: String,
    /// Set once per link page, so that a double tap places one order.
    pub idempotency_key: String,
}

/// Places a viewer's order through a live link, all or nothing, without an account: the
/// quantity within the per-buyer limit, which holds for the mobile number across all its
/// orders of the item (counted under the number's row); the units out of the item's quota
/// by one conditional update, so that thousands of phones at once never sell one unit past
/// it. Before the session or after it the order is refused naming `quantity`; a quota sold
/// out is `Checkout::Refused`. The order is the channel `livestream`, at the live price,
/// held `reservation_minutes`; a repeated tap (same key, same session) finds it.
pub fn buy(
    conn: &mut DbConn,
    code: &str,
    form: &LiveOrderForm,
    buyer: &crate::domain::cart::Buyer,
    methods: &[crate::states::PaymentMethod],
    reservation_minutes: u32,
    now: NaiveDateTime,
) -> DomainResult<crate::domain::orders::Checkout> {
    use crate::domain::orders::{self, OrderLines, OrderTerms, RefusedLine, Unplaced};
    let code = code.trim().to_uppercase();
    let (item, product, village, session) =
        q::item_by_code(conn, &code)?.ok_or(DomainError::NotFound)?;
    let mut errors = FieldErrors::default();
    if session.status != LiveStatus::Live || now >= session.ends_at {
        errors.add("quantity", "invalid-live-not-on-air");
    }
    let quantity = v::whole_number(
        &mut errors,
        "quantity",
        &form.quantity,
        1,
        item.per_buyer_limit,
    );
    let name = v::required_text(&mut errors, "name", &form.name, 40);
    let phone = v::mobile_phone(&mut errors, "phone", &form.phone);
    if phone.is_none() && !errors.has("phone") {
        errors.add("phone", "invalid-required");
    }
    let address = v::required_text(&mut errors, "address", &form.address, 200);
    let offered: Vec<&str> = methods.iter().map(|m| m.as_str()).collect();
    let method = v::one_of(
        &mut errors,
        "payment_method",
        &form.payment_method,
        &offered,
    )
    .and_then(|m| crate::states::PaymentMethod::parse(&m));
    let key = form.idempotency_key.trim();
    if !orders::is_idempotency_key(key) {
        errors.add("idempotency_key", "invalid-stale-form");
    }
    let (Some(quantity), Some(phone), Some(method)) = (quantity, phone, method) else {
        return Err(errors.into());
    };
    errors.finish(())?;
    let stored_key = orders::stored_idempotency_key(&buyer.checkout_scope, key);
    let (buyer_user_id, locale) = (buyer.user_id, buyer.locale.clone());
    // In a rush the buyers of one item write together (`write_together`, in the item's
    // lane): the buyer's number and the order first, then the units out of the item's
    // quota, the row every buyer waits for. On SQLite whichever thread writes places this
    // order, so it takes with it all it needs. Unlike `orders::place_once` it does not
    // look its key up first: a repeated tap is found when the number's limit refuses it,
    // or by the key's UNIQUE (`orders::checkout_once`).
    let key = stored_key.clone();
    let (item_id, lane) = (item.id, format!("live-item-{}", item.id));
    let (product_id, name_zh, name_en) =
        (product.id, product.name_zh.clone(), product.name_en.clone());
    let prepare = move |conn: &mut DbConn| {
        if !q::add_buyer_units(conn, item.id, &phone, quantity, item.per_buyer_limit)? {
            // A second tap of the same form waited here for the first: its order.
            if let Some(order) = crate::db::orders::by_idempotency_key(conn, &stored_key)? {
                return Err(Unplaced::Repeat(Box::new(orders::with_lines(conn, order)?)));
            }
            let had = q::buyer_units(conn, item.id, &phone)?;
            let mut over = FieldErrors::default();
            over.add_with(
                "quantity",
                "invalid-live-limit",
                vec![
                    ("limit", item.per_buyer_limit.to_string()),
                    ("bought", had.to_string()),
                ],
            );
            return Err(Unplaced::Failed(over.into()));
        }
        let line = crate::domain::cart::PricedLine {
            product: product.clone(),
            village: village.clone(),
            quantity,
            unit_price_fen: item.live_price_fen,
            line_total_fen: item.live_price_fen * i64::from(quantity),
            problem: None,
        };
        let terms = OrderTerms {
            channel: crate::states::Channel::Livestream,
            organization_id: None,
            buyer_user_id,
            buyer_name: &name,
            buyer_phone: &phone,
            buyer_email: None,
            delivery_address: &address,
            note: "",
            payment_method: method,
            status: crate::states::OrderStatus::PendingPayment,
            // Short while live: an unpaid order's units go back to the quota soon. Cash on
            // delivery is paid when the goods arrive: held until then.
            reserved_until: (method != crate::states::PaymentMethod::CashOnDelivery)
                .then(|| now + Duration::minutes(i64::from(reservation_minutes))),
            idempotency_key: &stored_key,
            locale: &locale,
            staff_organization_id: None,
            live_item_id: Some(item.id),
        };
        let placed = orders::record(conn, std::slice::from_ref(&line), &terms, now)?;
        crate::domain::notify::order_received(conn, &placed.order, &placed.lines, now)?;
        Ok(placed)
    };
    let take = move |conn: &mut DbConn, placed: OrderLines| {
        if q::take_from_quota(conn, item_id, quantity)? {
            return Ok(placed);
        }
        // Sold out: the order written before is rolled back.
        let left = q::item_by_id(conn, item_id)?.map_or(0, |i| i.units_left());
        Err(Unplaced::Refused(vec![RefusedLine {
            product_id,
            name_zh,
            name_en,
            problem: crate::domain::cart::LineProblem::Short(left),
        }]))
    };
    let placed = crate::db::write_together(conn, &lane, prepare, take);
    orders::checkout_once(conn, &key, placed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commissions_are_percentages_up_to_thirty() {
        for (text, bp) in [
            ("5", 500),
            ("5.5", 550),
            ("0", 0),
            ("12.34", 1234),
            ("30", 3000),
        ] {
            let mut e = FieldErrors::default();
            assert_eq!(commission_bp(&mut e, "c", text), Some(bp), "{text}");
        }
        for bad in ["30.01", "-1", "5.555", "abc", "", "99999"] {
            let mut e = FieldErrors::default();
            assert_eq!(commission_bp(&mut e, "c", bad), None, "{bad}");
            assert!(e.has("c"));
        }
    }
}
