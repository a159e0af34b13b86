//! Integration tests: the real server over HTTP on a fresh database per test, every
//! database-touching test on SQLite and on PostgreSQL (ARCHITECTURE §11).

// A test that cannot set itself up should stop loudly where it is.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

mod accounts;
mod admin;
mod api;
mod api_canteen;
mod api_fuzz;
mod api_live;
mod architecture;
mod auth;
mod browser;
mod canteen;
mod canteen_orders;
mod canteen_standing;
mod canteen_statements;
mod cli;
mod demo;
mod downloads;
mod fulfilment;
mod hardening;
mod households;
mod images;
mod install;
mod ledger;
mod ledger_props;
mod limits;
mod live;
mod locales;
mod mail;
mod orders;
mod payments;
mod products;
mod schema;
mod scoping;
mod stock;
mod storefront;
mod stripe_server;
