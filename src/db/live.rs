//! Queries over livestream sessions (直播场次) and their numbered items with their links.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::DbConn;
use super::catalog::{Product, Village};
use super::schema::{
    live_buyer_units, live_hosts, live_items, live_sessions, orders, products, villages,
};
use crate::states::{LivePlatform, LiveStatus};

#[derive(Debug, Clone, Queryable, Selectable, Identifiable, serde::Serialize)]
#[diesel(table_name = live_sessions)]
pub struct LiveSession {
    pub id: i64,
    pub village_id: i64,
    pub title: String,
    pub platform: LivePlatform,
    /// 主播
    pub host_name: String,
    pub host_commission_bp: i32,
    pub starts_at: NaiveDateTime,
    pub ends_at: NaiveDateTime,
    pub status: LiveStatus,
    pub created_by_user_id: Option<i64>,
    pub created_at: NaiveDateTime,
    pub started_at: Option<NaiveDateTime>,
    pub ended_at: Option<NaiveDateTime>,
    /// The host as paid (`live_hosts`), found or made from the name when the session was.
    pub host_id: Option<i64>,
}

/// What a session says, new or edited.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = live_sessions)]
pub struct SessionFields<'a> {
    pub title: &'a str,
    pub platform: LivePlatform,
    pub host_name: &'a str,
    pub host_commission_bp: i32,
    pub starts_at: NaiveDateTime,
    pub ends_at: NaiveDateTime,
}

#[derive(Debug, Clone, Queryable, Selectable, Identifiable, serde::Serialize)]
#[diesel(table_name = live_items)]
pub struct LiveItem {
    pub id: i64,
    pub session_id: i64,
    /// 1号, 2号…
    pub number: i32,
    pub product_id: i64,
    pub live_price_fen: i64,
    pub quota: i32,
    pub per_buyer_limit: i32,
    /// Units taken from the product's stock while live.
    pub taken: i32,
    pub sold: i32,
    pub code: String,
    pub visits: i64,
}

impl LiveItem {
    pub fn units_left(&self) -> i32 {
        (self.quota - self.sold).max(0)
    }
}

#[derive(Debug, Insertable)]
#[diesel(table_name = live_items)]
pub struct NewLiveItem<'a> {
    pub session_id: i64,
    pub number: i32,
    pub product_id: i64,
    pub live_price_fen: i64,
    pub quota: i32,
    pub per_buyer_limit: i32,
    pub code: &'a str,
}

pub fn insert_session(
    conn: &mut DbConn,
    village_id: i64,
    fields: &SessionFields,
    by: Option<i64>,
    now: NaiveDateTime,
) -> QueryResult<i64> {
    diesel::insert_into(live_sessions::table)
        .values((
            fields,
            live_sessions::village_id.eq(village_id),
            live_sessions::status.eq(LiveStatus::Draft),
            live_sessions::created_by_user_id.eq(by),
            live_sessions::created_at.eq(now),
            live_sessions::host_id.eq(host_named(conn, village_id, fields.host_name, now)?),
        ))
        .returning(live_sessions::id)
        .get_result(conn)
}

/// The village's host of that name, made the first time a session names them.
fn host_named(
    conn: &mut DbConn,
    village_id: i64,
    name: &str,
    now: NaiveDateTime,
) -> QueryResult<i64> {
    let insert = diesel::insert_into(live_hosts::table)
        .values((
            live_hosts::village_id.eq(village_id),
            live_hosts::name.eq(name),
            live_hosts::created_at.eq(now),
        ))
        .on_conflict_do_nothing();
    match conn {
        DbConn::Pg(c) => insert.execute(c)?,
        DbConn::Sqlite(c) => insert.execute(c)?,
    };
    live_hosts::table
        .filter(live_hosts::village_id.eq(village_id))
        .filter(live_hosts::name.eq(name))
        .select(live_hosts::id)
        .first(conn)
}

/// A session of one of `village_ids`; another village's is not there.
pub fn session_in(
    conn: &mut DbConn,
    village_ids: &[i64],
    id: i64,
) -> QueryResult<Option<LiveSession>> {
    live_sessions::table
        .find(id)
        .filter(live_sessions::village_id.eq_any(village_ids))
        .select(LiveSession::as_select())
        .first(conn)
        .optional()
}

/// A session's status and end, read with its row held until the transaction ends: shared
/// (`exclusive` false) by an unpaid order's release, exclusive by a change of its items; a
/// session's start or end (an UPDATE of the row) waits for both, and they for it
/// (PostgreSQL). SQLite's write transaction already holds the only write lock. Buyers do
/// not take it: `take_from_quota` says why.
pub fn lock_session(
    conn: &mut DbConn,
    id: i64,
    exclusive: bool,
) -> QueryResult<Option<(LiveStatus, NaiveDateTime)>> {
    macro_rules! one {
        () => {
            live_sessions::table
                .find(id)
                .select((live_sessions::status, live_sessions::ends_at))
        };
    }
    match conn {
        DbConn::Pg(c) if exclusive => one!().for_update().first(c).optional(),
        DbConn::Pg(c) => one!().for_share().first(c).optional(),
        DbConn::Sqlite(c) => one!().first(c).optional(),
    }
}

pub fn session_by_id(conn: &mut DbConn, id: i64) -> QueryResult<Option<LiveSession>> {
    live_sessions::table
        .find(id)
        .select(LiveSession::as_select())
        .first(conn)
        .optional()
}

/// The sessions of `village_ids`, latest start first.
pub fn sessions_of(conn: &mut DbConn, village_ids: &[i64]) -> QueryResult<Vec<LiveSession>> {
    live_sessions::table
        .filter(live_sessions::village_id.eq_any(village_ids))
        .order(live_sessions::starts_at.desc())
        .limit(200)
        .select(LiveSession::as_select())
        .load(conn)
}

/// The sessions of `village_ids` that start in `[from, to)`, latest first.
pub fn sessions_started_between(
    conn: &mut DbConn,
    village_ids: &[i64],
    from: NaiveDateTime,
    to: NaiveDateTime,
) -> QueryResult<Vec<LiveSession>> {
    live_sessions::table
        .filter(live_sessions::village_id.eq_any(village_ids))
        .filter(live_sessions::starts_at.ge(from))
        .filter(live_sessions::starts_at.lt(to))
        .order(live_sessions::starts_at.desc())
        .select(LiveSession::as_select())
        .load(conn)
}

/// A host's sessions, latest first.
pub fn sessions_of_host(conn: &mut DbConn, host_id: i64) -> QueryResult<Vec<LiveSession>> {
    live_sessions::table
        .filter(live_sessions::host_id.eq(host_id))
        .order(live_sessions::starts_at.desc())
        .select(LiveSession::as_select())
        .load(conn)
}

/// Moves a session from `from` to `to`, once: `false` if it was no longer in `from`.
pub fn transition(
    conn: &mut DbConn,
    id: i64,
    from: &[LiveStatus],
    to: LiveStatus,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    let target = live_sessions::table
        .find(id)
        .filter(live_sessions::status.eq_any(from.to_vec()));
    let rows = match to {
        LiveStatus::Live => diesel::update(target)
            .set((
                live_sessions::status.eq(to),
                live_sessions::started_at.eq(Some(now)),
            ))
            .execute(conn)?,
        LiveStatus::Ended => diesel::update(target)
            .set((
                live_sessions::status.eq(to),
                live_sessions::ended_at.eq(Some(now)),
            ))
            .execute(conn)?,
        _ => diesel::update(target)
            .set(live_sessions::status.eq(to))
            .execute(conn)?,
    };
    Ok(rows == 1)
}

pub fn set_ends_at(conn: &mut DbConn, id: i64, ends_at: NaiveDateTime) -> QueryResult<usize> {
    diesel::update(live_sessions::table.find(id))
        .set(live_sessions::ends_at.eq(ends_at))
        .execute(conn)
}

/// Sessions due to go live (scheduled, start passed) or to end (live, end passed).
pub fn due(conn: &mut DbConn, now: NaiveDateTime) -> QueryResult<Vec<LiveSession>> {
    live_sessions::table
        .filter(
            live_sessions::status
                .eq(LiveStatus::Scheduled)
                .and(live_sessions::starts_at.le(now))
                .or(live_sessions::status
                    .eq(LiveStatus::Live)
                    .and(live_sessions::ends_at.le(now))),
        )
        .order(live_sessions::id)
        .select(LiveSession::as_select())
        .load(conn)
}

pub fn insert_item(conn: &mut DbConn, new: &NewLiveItem) -> QueryResult<i64> {
    diesel::insert_into(live_items::table)
        .values(new)
        .returning(live_items::id)
        .get_result(conn)
}

/// A session's items in their numbers' order, with their products.
pub fn items_of(conn: &mut DbConn, session_id: i64) -> QueryResult<Vec<(LiveItem, Product)>> {
    live_items::table
        .inner_join(products::table)
        .filter(live_items::session_id.eq(session_id))
        .order(live_items::number)
        .select((LiveItem::as_select(), Product::as_select()))
        .load(conn)
}

/// A session's items, held until the transaction ends (PostgreSQL waits for the orders
/// taking their units and reads what they sold; SQLite's writer is alone already): what
/// the session's end gives back is read as it stands.
pub fn lock_items(conn: &mut DbConn, session_id: i64) -> QueryResult<Vec<LiveItem>> {
    macro_rules! items {
        () => {
            live_items::table
                .filter(live_items::session_id.eq(session_id))
                .order(live_items::number)
                .select(LiveItem::as_select())
        };
    }
    match conn {
        DbConn::Pg(c) => items!().for_update().load(c),
        DbConn::Sqlite(c) => items!().load(c),
    }
}

/// One item as it stands, by its id (its primary key alone: a sold-out buyer reads it
/// while holding its lane's turn).
pub fn item_by_id(conn: &mut DbConn, item_id: i64) -> QueryResult<Option<LiveItem>> {
    live_items::table
        .find(item_id)
        .select(LiveItem::as_select())
        .first(conn)
        .optional()
}

/// The item behind a link, with its product, the product's village and the session.
pub fn item_by_code(
    conn: &mut DbConn,
    code: &str,
) -> QueryResult<Option<(LiveItem, Product, Village, LiveSession)>> {
    // Run on the backend's own connection, which finds the statement prepared by its type
    // alone: through `DbConn`, diesel's `MultiConnection` writes a query's whole text anew
    // every time it runs it, and this one's sixty columns were a tenth of the database
    // threads' time in a flash sale on SQLite, where every order reads its link.
    macro_rules! by_code {
        ($c:expr) => {
            live_items::table
                .inner_join(products::table.inner_join(villages::table))
                .inner_join(live_sessions::table)
                .filter(live_items::code.eq(code))
                .select((
                    LiveItem::as_select(),
                    Product::as_select(),
                    Village::as_select(),
                    LiveSession::as_select(),
                ))
                .first($c)
                .optional()
        };
    }
    match conn {
        DbConn::Sqlite(c) => by_code!(c),
        DbConn::Pg(c) => by_code!(c),
    }
}

pub fn add_visits(conn: &mut DbConn, code: &str, visits: i64) -> QueryResult<usize> {
    diesel::update(live_items::table.filter(live_items::code.eq(code)))
        .set(live_items::visits.eq(live_items::visits + visits))
        .execute(conn)
}

/// Records the units taken from the product's stock for an item going live.
pub fn set_taken(conn: &mut DbConn, item_id: i64, taken: i32) -> QueryResult<usize> {
    diesel::update(live_items::table.find(item_id))
        .set(live_items::taken.eq(taken))
        .execute(conn)
}

/// Sets an item's live price and quota, if the quota stays at least what is sold, and
/// what it holds of the stock: rows changed (0: more was sold meanwhile).
pub fn set_price_and_quota(
    conn: &mut DbConn,
    item_id: i64,
    live_price_fen: i64,
    quota: i32,
    taken: i32,
) -> QueryResult<usize> {
    diesel::update(
        live_items::table
            .find(item_id)
            .filter(live_items::sold.le(quota)),
    )
    .set((
        live_items::live_price_fen.eq(live_price_fen),
        live_items::quota.eq(quota),
        live_items::taken.eq(taken),
    ))
    .execute(conn)
}

pub fn code_exists(conn: &mut DbConn, code: &str) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        live_items::table.filter(live_items::code.eq(code)),
    ))
    .get_result(conn)
}

/// Takes `quantity` of a live item's quota for an order, if that much is left of what the
/// session took from the product's stock (`taken`): one conditional update, so parallel
/// buyers never sell past it. `taken` is the quota while the session is live, nothing
/// before it goes live, and exactly what was sold once it has ended (`close` sets it so,
/// holding the item's row): an order racing the session's end is refused by this row
/// alone. The buyers need no lock on the session's row, which every buyer of a rush would
/// share — on PostgreSQL a new multixact and a WAL record per buyer on one hot row. The
/// statement stays short and kept prepared, since it runs while every other buyer of the
/// rush waits.
pub fn take_from_quota(conn: &mut DbConn, item_id: i64, quantity: i32) -> QueryResult<bool> {
    let update = diesel::update(
        live_items::table
            .find(item_id)
            .filter((live_items::sold + quantity).le(live_items::taken)),
    )
    .set(live_items::sold.eq(live_items::sold + quantity))
    .returning(live_items::sold);
    let sold: Option<i32> = crate::db::Prepared::one_text(update)
        .get_result(conn)
        .optional()?;
    Ok(sold.is_some())
}

/// Adds `quantity` to what one mobile number bought of an item, if that stays within
/// `limit`: one statement that makes the row or raises it, and holds it until the
/// transaction ends (PostgreSQL), so parallel orders from one number are counted one
/// after the other.
pub fn add_buyer_units(
    conn: &mut DbConn,
    item_id: i64,
    phone: &str,
    quantity: i32,
    limit: i32,
) -> QueryResult<bool> {
    // The upsert's own WHERE, which `QueryDsl::filter` does not give.
    use diesel::query_dsl::methods::FilterDsl;
    if quantity > limit {
        return Ok(false);
    }
    macro_rules! add {
        ($c:expr) => {
            crate::db::Prepared::one_text(
                diesel::insert_into(live_buyer_units::table)
                    .values((
                        live_buyer_units::item_id.eq(item_id),
                        live_buyer_units::phone.eq(phone),
                        live_buyer_units::units.eq(quantity),
                    ))
                    .on_conflict((live_buyer_units::item_id, live_buyer_units::phone))
                    .do_update()
                    .set(live_buyer_units::units.eq(live_buyer_units::units + quantity))
                    .filter((live_buyer_units::units + quantity).le(limit))
                    .returning(live_buyer_units::units),
            )
            .get_result::<i32>($c)
            .optional()
        };
    }
    let units = match conn {
        DbConn::Pg(c) => add!(c)?,
        DbConn::Sqlite(c) => add!(c)?,
    };
    Ok(units.is_some())
}

/// What a mobile number has bought of an item so far.
pub fn buyer_units(conn: &mut DbConn, item_id: i64, phone: &str) -> QueryResult<i32> {
    Ok(live_buyer_units::table
        .find((item_id, phone))
        .select(live_buyer_units::units)
        .first(conn)
        .optional()?
        .unwrap_or(0))
}

/// The live item an order came through, and whether its session is still live, read
/// under the session's shared lock (`lock_session`), so that it cannot end meanwhile.
pub fn item_of_order(conn: &mut DbConn, order_id: i64) -> QueryResult<Option<(LiveItem, bool)>> {
    let found: Option<LiveItem> = orders::table
        .inner_join(live_items::table.on(orders::live_item_id.eq(live_items::id.nullable())))
        .filter(orders::id.eq(order_id))
        .select(LiveItem::as_select())
        .first(conn)
        .optional()?;
    let Some(item) = found else {
        return Ok(None);
    };
    let status = lock_session(conn, item.session_id, false)?.map(|(s, _)| s);
    Ok(Some((item, status == Some(LiveStatus::Live))))
}

/// The host and commission of the session an order's link belongs to; none for an order
/// not placed through a link.
pub fn host_of_order(conn: &mut DbConn, order_id: i64) -> QueryResult<Option<(i64, i32)>> {
    let found: Option<(Option<i64>, i32)> = orders::table
        .inner_join(live_items::table.on(orders::live_item_id.eq(live_items::id.nullable())))
        .inner_join(live_sessions::table.on(live_sessions::id.eq(live_items::session_id)))
        .filter(orders::id.eq(order_id))
        .select((live_sessions::host_id, live_sessions::host_commission_bp))
        .first(conn)
        .optional()?;
    Ok(found.and_then(|(host, bp)| host.map(|h| (h, bp))))
}

/// Gives an unpaid order's units back: to the item's quota and the buyer's count while the
/// session is live; after it, out of the item altogether (the caller returns them to the
/// product's stock).
pub fn give_back(
    conn: &mut DbConn,
    item_id: i64,
    phone: &str,
    quantity: i32,
    live: bool,
) -> QueryResult<()> {
    // The buyer's row first, then the item's, in the order a purchase takes them.
    diesel::update(live_buyer_units::table.find((item_id, phone)))
        .set(live_buyer_units::units.eq(live_buyer_units::units - quantity))
        .execute(conn)?;
    let item = live_items::table.find(item_id);
    if live {
        diesel::update(item)
            .set(live_items::sold.eq(live_items::sold - quantity))
            .execute(conn)?;
    } else {
        diesel::update(item)
            .set((
                live_items::sold.eq(live_items::sold - quantity),
                live_items::taken.eq(live_items::taken - quantity),
            ))
            .execute(conn)?;
    }
    Ok(())
}
