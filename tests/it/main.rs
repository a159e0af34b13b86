//! Integration tests: the real server over HTTP on a fresh database per test, every
//! database-touching test on SQLite and on PostgreSQL (DESIGN §9).

mod support;

mod admin;
mod auth;
mod browser;
mod cli;
mod demo;
mod fulfilment;
mod households;
mod images;
mod ledger;
mod ledger_props;
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
