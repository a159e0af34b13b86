//! The baseline for `scripts/bench-storefront`: a bare actix-web hello-world with the
//! same number of workers, so the storefront's figures can be read as a ratio.
//!
//! `cargo run --release --example hello-world -- 127.0.0.1:8081 2`

use actix_web::{App, HttpServer, web};

fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let bind = args.next().unwrap_or_else(|| "127.0.0.1:8081".into());
    let workers = args.next().and_then(|w| w.parse().ok()).unwrap_or(2);
    actix_web::rt::System::new().block_on(async move {
        HttpServer::new(|| App::new().route("/", web::get().to(|| async { "Hello world!" })))
            .workers(workers)
            .bind(bind)?
            .run()
            .await
    })
}
