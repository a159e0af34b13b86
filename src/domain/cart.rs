//! The cart: what a buyer has picked, priced by quantity (bulk tiers, and canteen-only
//! tiers for canteen buyers), with every line checked against what is on sale now.

use std::collections::HashMap;

use diesel::QueryResult;
use serde::{Deserialize, Serialize};

use crate::db::DbConn;
use crate::db::catalog::{self as q, PriceTier, Product, Village};
use crate::domain::accounts;
use crate::domain::actor::Scope;
use crate::domain::error::{DomainError, DomainResult};
use crate::domain::validation::{self as v, FieldErrors};
use crate::states::ProductStatus;

/// The most of one product a single order may hold, whatever the product allows.
pub const MAX_LINE_QUANTITY: i32 = 100_000;
/// Lines a cart may hold.
pub const MAX_LINES: usize = 50;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct CartItem {
    pub product_id: i64,
    pub quantity: i32,
}

/// Who is at the cart as the session knows them: a guest or a signed-in user; and the
/// language they shop in.
#[derive(Debug, Clone, Default)]
pub struct Shopper {
    /// A signed-in shopper: their user id and the version their session carries
    /// (`accounts::actor_of_session`).
    pub user: Option<(i64, i64)>,
    pub locale: String,
    /// A random value the session keeps: a checkout's idempotency key counts only
    /// together with it (`orders::stored_idempotency_key`).
    pub checkout_scope: String,
}

/// Who is buying: a guest, or a signed-in user (a canteen buyer gets canteen prices),
/// and the language they buy in, which their emails will speak.
#[derive(Debug, Clone, Default)]
pub struct Buyer {
    pub user_id: Option<i64>,
    pub organization_id: Option<i64>,
    pub locale: String,
    /// Whose idempotency keys this checkout may find (`Shopper::checkout_scope`).
    pub checkout_scope: String,
}

/// The buyer a shopper is: a canteen buyer (食堂采购) buys for their organisation.
pub fn buyer(conn: &mut DbConn, shopper: &Shopper) -> QueryResult<Buyer> {
    let (locale, checkout_scope) = (shopper.locale.clone(), shopper.checkout_scope.clone());
    // A session ended since (signed out, password changed) buys as a guest.
    let actor = match shopper.user {
        Some((user_id, version)) => accounts::actor_of_session(conn, user_id, version)?,
        None => None,
    };
    let Some(actor) = actor else {
        return Ok(Buyer {
            locale,
            checkout_scope,
            ..Buyer::default()
        });
    };
    let organization_id = match actor.scope {
        Scope::Canteen(org) => Some(org.organization_id()),
        _ => None,
    };
    Ok(Buyer {
        user_id: Some(actor.user.id),
        organization_id,
        locale,
        checkout_scope,
    })
}

/// The shopper's cart priced as it would be bought now.
pub fn priced(
    conn: &mut DbConn,
    shopper: &Shopper,
    items: &[CartItem],
) -> DomainResult<Vec<PricedLine>> {
    let canteen = buyer(conn, shopper)?.organization_id.is_some();
    Ok(price(conn, items, canteen)?)
}

/// The cart with `quantity` (as typed) of a product on the storefront added, or set
/// when `replace`.
pub fn put(
    conn: &mut DbConn,
    mut items: Vec<CartItem>,
    product_id: i64,
    quantity: &str,
    replace: bool,
) -> DomainResult<Vec<CartItem>> {
    if q::visible_product(conn, product_id)?.is_none() {
        return Err(DomainError::invalid("product_id", "invalid-choice"));
    }
    change(&mut items, product_id, quantity, replace)?;
    Ok(items)
}

/// The unit price at `quantity`: the cheapest tier reached, or the product's price.
pub fn unit_price(product: &Product, tiers: &[PriceTier], quantity: i32, canteen: bool) -> i64 {
    tiers
        .iter()
        .filter(|t| t.min_quantity <= quantity && (canteen || !t.canteen_only))
        .map(|t| t.unit_price_fen)
        .chain([product.unit_price_fen])
        .min()
        .unwrap_or(product.unit_price_fen)
}

/// Why a line cannot be bought as it stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LineProblem {
    NotOnSale,
    BelowMinimum(i32),
    AboveMaximum(i32),
    /// Only this many are left.
    Short(i32),
}

#[derive(Debug, Clone)]
pub struct PricedLine {
    pub product: Product,
    pub village: Village,
    pub quantity: i32,
    pub unit_price_fen: i64,
    pub line_total_fen: i64,
    pub problem: Option<LineProblem>,
}

/// Prices every line as it would be bought now, in two queries whatever the number of
/// lines. Lines whose product is gone entirely are dropped.
pub fn price(conn: &mut DbConn, items: &[CartItem], canteen: bool) -> QueryResult<Vec<PricedLine>> {
    let ids: Vec<i64> = items.iter().map(|i| i.product_id).collect();
    let mut found: HashMap<i64, (Product, Village)> = q::visible_products(conn, &ids)?
        .into_iter()
        .map(|(p, v)| (p.id, (p, v)))
        .collect();
    let tiers_of = q::price_tiers_of(conn, &ids)?;
    let mut lines = Vec::with_capacity(items.len());
    for item in items {
        // A product listed twice is priced once, at its first line.
        let Some((product, village)) = found.remove(&item.product_id) else {
            continue;
        };
        let tiers = tiers_of.get(&product.id).map(Vec::as_slice).unwrap_or(&[]);
        let unit_price_fen = unit_price(&product, tiers, item.quantity, canteen);
        let problem = if product.status != ProductStatus::OnSale {
            Some(LineProblem::NotOnSale)
        } else if item.quantity < product.min_per_order {
            Some(LineProblem::BelowMinimum(product.min_per_order))
        } else if product.max_per_order.is_some_and(|max| item.quantity > max) {
            Some(LineProblem::AboveMaximum(
                product.max_per_order.unwrap_or(MAX_LINE_QUANTITY),
            ))
        } else if item.quantity > product.stock {
            Some(LineProblem::Short(product.stock))
        } else {
            None
        };
        lines.push(PricedLine {
            line_total_fen: unit_price_fen * i64::from(item.quantity),
            unit_price_fen,
            quantity: item.quantity,
            product,
            village,
            problem,
        });
    }
    Ok(lines)
}

/// The lines a program sends (the API's order: product and quantity), read as a cart:
/// 1–`max_lines` lines, each product once, each quantity 1–`MAX_LINE_QUANTITY`; every
/// problem named by its line (`lines[2].quantity`).
pub fn items_of(lines: &[(i64, i64)], max_lines: usize) -> Result<Vec<CartItem>, FieldErrors> {
    let mut errors = FieldErrors::default();
    if lines.is_empty() {
        errors.add("lines", "invalid-cart-empty");
    }
    if lines.len() > max_lines {
        errors.add("lines", "invalid-cart-full");
        return Err(errors);
    }
    let mut items: Vec<CartItem> = Vec::with_capacity(lines.len());
    for (i, &(product_id, quantity)) in lines.iter().enumerate() {
        if items.iter().any(|item| item.product_id == product_id) {
            errors.add(&format!("lines[{i}].product_id"), "invalid-line-repeated");
        }
        match i32::try_from(quantity) {
            Ok(quantity) if (1..=MAX_LINE_QUANTITY).contains(&quantity) => items.push(CartItem {
                product_id,
                quantity,
            }),
            _ => errors.add_with(
                &format!("lines[{i}].quantity"),
                "invalid-range",
                vec![("min", "1".into()), ("max", MAX_LINE_QUANTITY.to_string())],
            ),
        }
    }
    errors.finish(items)
}

/// Adds `quantity` (as typed) of a product, or sets it when `replace`; 0 removes the
/// line when setting.
pub fn change(
    items: &mut Vec<CartItem>,
    product_id: i64,
    quantity: &str,
    replace: bool,
) -> Result<(), FieldErrors> {
    let mut errors = FieldErrors::default();
    let min = if replace { 0 } else { 1 };
    let Some(quantity) = v::whole_number(&mut errors, "quantity", quantity, min, MAX_LINE_QUANTITY)
    else {
        return Err(errors);
    };
    match items.iter_mut().find(|i| i.product_id == product_id) {
        Some(item) if replace => item.quantity = quantity,
        Some(item) => {
            item.quantity = item
                .quantity
                .saturating_add(quantity)
                .min(MAX_LINE_QUANTITY)
        }
        None if quantity > 0 => {
            if items.len() >= MAX_LINES {
                return Err(FieldErrors::single("quantity", "invalid-cart-full"));
            }
            items.push(CartItem {
                product_id,
                quantity,
            });
        }
        None => {}
    }
    items.retain(|i| i.quantity > 0);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities_are_added_set_and_removed() {
        let mut items = Vec::new();
        change(&mut items, 1, "2", false).expect("add");
        change(&mut items, 1, "3", false).expect("add more");
        assert_eq!(
            items,
            [CartItem {
                product_id: 1,
                quantity: 5
            }]
        );
        change(&mut items, 1, "1", true).expect("set");
        assert_eq!(items[0].quantity, 1);
        assert!(change(&mut items, 1, "1.5", true).is_err());
        assert!(change(&mut items, 1, "-1", false).is_err());
        assert!(
            change(&mut items, 2, "0", false).is_err(),
            "adding nothing is a mistake"
        );
        change(&mut items, 1, "0", true).expect("remove");
        assert!(items.is_empty());
    }
}
