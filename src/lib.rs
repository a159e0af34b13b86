//! 村货集市 Village Market: village products of rural Datong sold to canteens,
//! livestream viewers and the storefront, every fen traced to the household that
//! supplied the goods. See `docs/ARCHITECTURE.md` for the shape; `web → domain → db`.

pub mod app;
pub mod config;
pub mod db;
pub mod domain;
pub mod error;
pub mod i18n;
pub mod jobs;
pub mod mail;
pub mod payments;
pub mod states;
pub mod templates;
pub mod util;
pub mod web;

use std::net::TcpListener;

pub use web::{AppState, build_app};

/// Starts serving `state` on an already bound listener (tests bind port 0), with the
/// background loops. Call it inside an actix runtime.
pub fn start_server(
    state: AppState,
    listener: TcpListener,
    workers: usize,
) -> std::io::Result<actix_web::dev::Server> {
    jobs::spawn(state.services.clone());
    Ok(actix_web::HttpServer::new(move || build_app(state.clone()))
        .workers(workers)
        .listen(listener)?
        .run())
}
