//! `bench-live`: the flash sale of issue #11, run by `scripts/bench-live` on one database.
//!
//! It measures, on the database `--database-url` names (the servers already started on
//! it with `serve --demo`):
//!
//! * a **raw baseline**: the database work of a purchase without HTTP — the conditional
//!   quota update (`db::live::take_from_quota`), the order and its line
//!   (`db::orders::insert`, `insert_lines`) in one write transaction — done by
//!   `--concurrency` threads in a tight loop over a pool of `--pool-size` connections (the
//!   servers' `DATABASE_POOL_SIZE`) until a fresh link's quota is sold;
//! * each `--http LABEL=PORT[,PORT…]` configuration: a fresh link of the same quota (limit
//!   1 per buyer), bought over HTTP by quota + `--extra-buyers` buyers, `--concurrency` at a
//!   time. Each buyer does what a phone does: `GET /l/{code}` (the page sets the session
//!   cookie holding the CSRF token and gives the form's idempotency key), then `POST
//!   /l/{code}` with its own mobile number, 1 unit, cash on delivery. With several ports the
//!   requests are spread over them round-robin (the buyer's GET on one process, its POST on
//!   the next: the processes share `SESSION_KEY`, as behind a load balancer); no proxy.
//!   Only the POST (the purchase) is timed for orders per second and p50/p99; the GET is
//!   timed apart. 303 is an order placed; the sold-out answer (409) or a link page that
//!   already says sold out (no form) is a refusal; a 5xx breaks the invariant.
//!
//! After each, the invariant is read back from the database: the item's `sold`, the units
//! of its orders' lines, the buyers' counted units and what the product's stock gave the
//! quota must all be the quota exactly. One table row per measurement is printed.

use std::error::Error;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use chrono::Duration as Span;
use clap::Parser;
use diesel::dsl::{count_star, sum};
use diesel::prelude::*;

use village_market::db::catalog::Product;
use village_market::db::orders::{self as order_q, NewOrder, NewOrderLine};
use village_market::db::schema::{live_buyer_units, live_items, order_lines, orders, products};
use village_market::db::{DatabaseUrl, DbConn, Pool, open_pool, write_transaction};
use village_market::domain::accounts::actor_of_session;
use village_market::domain::actor::{Scope, Who};
use village_market::domain::live::{self, ItemForm, SessionForm, SessionStep};
use village_market::domain::{china_date, china_time, now_utc};
use village_market::states::{Channel, OrderStatus, PaymentMethod};

type AnyResult<T> = Result<T, Box<dyn Error + Send + Sync>>;

#[derive(Parser)]
#[command(
    name = "bench-live",
    about = "The livestream flash-sale benchmark (issue #11)"
)]
struct Cli {
    /// sqlite://path or postgres://…, with the demo loaded.
    #[arg(long, env = "DATABASE_URL")]
    database_url: String,
    #[arg(long, default_value_t = 2_000)]
    quota: i32,
    /// Buyers (tasks over HTTP, threads for the baseline) at the same time.
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// Buyers over HTTP beyond the quota, who must be refused.
    #[arg(long, default_value_t = 256)]
    extra_buyers: usize,
    /// The baseline's pool: the servers' DATABASE_POOL_SIZE, or their default.
    #[arg(long, env = "DATABASE_POOL_SIZE")]
    pool_size: Option<u32>,
    /// A configuration over HTTP, `LABEL=PORT[,PORT…]`; repeatable.
    #[arg(long = "http")]
    http: Vec<String>,
    /// Print the table's header and stop.
    #[arg(long)]
    header: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if cli.header {
        println!(
            "{:<24} {:>6} {:>9} {:>8} {:>8} {:>7} {:>10} {:>8} {:>7} {:>4} {:>14}  targets",
            "configuration",
            "orders",
            "orders/s",
            "p50 ms",
            "p99 ms",
            "× raw",
            "sold/quota",
            "oversold",
            "refused",
            "5xx",
            "GET p50/p99 ms"
        );
        return ExitCode::SUCCESS;
    }
    match run(&cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench-live: {e}");
            ExitCode::FAILURE
        }
    }
}

/// What one measurement gave.
#[derive(Default)]
struct Measured {
    placed: usize,
    refused: usize,
    server_errors: usize,
    /// Any other answer (or none): a fault of the run.
    other: Vec<String>,
    elapsed: Duration,
    latencies: Vec<Duration>,
    get_latencies: Vec<Duration>,
}

fn run(cli: &Cli) -> AnyResult<()> {
    let url = DatabaseUrl::parse(&cli.database_url)?;
    let backend = if cli.database_url.starts_with("postgres") {
        "postgres"
    } else {
        "sqlite"
    };
    // The targets: the share of the raw baseline over HTTP, and the p99.
    let min_ratio = if backend == "postgres" { 0.8 } else { 0.5 };
    let pool_size = cli
        .pool_size
        .unwrap_or_else(|| village_market::config::default_pool_size(url.backend()));
    println!("{backend}: {pool_size} connections a process, as the servers' (DATABASE_POOL_SIZE)");
    let pool = open_pool(&url, pool_size)?;

    let link = new_link(&pool, cli.quota)?;
    let base = baseline(&pool, &link, cli.concurrency)?;
    let base_rate = rate(&base);
    let invariant = check(&pool, &link, cli.quota, false)?;
    row(
        &format!("{backend}, raw baseline"),
        &base,
        1.0,
        &invariant,
        "",
    );

    for config in &cli.http {
        let (label, ports) = config
            .split_once('=')
            .ok_or_else(|| format!("--http {config}: LABEL=PORT[,PORT…]"))?;
        let ports: Vec<u16> = ports.split(',').map(str::parse).collect::<Result<_, _>>()?;
        let link = new_link(&pool, cli.quota)?;
        let buyers = cli.quota as usize + cli.extra_buyers;
        let m = over_http(&ports, &link.code, buyers, cli.concurrency)?;
        let ratio = rate(&m) / base_rate;
        let invariant = check(&pool, &link, cli.quota, true)?;
        let mut missed = Vec::new();
        if ratio < min_ratio {
            missed.push(format!("× raw < {min_ratio}"));
        }
        if percentile(&m.latencies, 99) >= Duration::from_millis(100) {
            missed.push("p99 ≥ 100 ms".into());
        }
        if !invariant.holds() || m.server_errors > 0 || !m.other.is_empty() {
            missed.push("invariant".into());
        }
        let verdict = if missed.is_empty() {
            "met".to_string()
        } else {
            format!("MISSED: {}", missed.join(", "))
        };
        row(label, &m, ratio, &invariant, &verdict);
        for fault in m.other.iter().take(5) {
            eprintln!("  {label}: {fault}");
        }
    }
    Ok(())
}

fn rate(m: &Measured) -> f64 {
    m.placed as f64 / m.elapsed.as_secs_f64().max(1e-9)
}

fn ms(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1000.0)
}

/// The nearest-rank percentile of unsorted durations.
fn percentile(values: &[Duration], p: usize) -> Duration {
    let mut v = values.to_vec();
    v.sort_unstable();
    let rank = (v.len() * p).div_ceil(100).max(1);
    v.get(rank - 1).copied().unwrap_or_default()
}

fn row(label: &str, m: &Measured, ratio: f64, inv: &Invariant, verdict: &str) {
    let get = if m.get_latencies.is_empty() {
        "—".to_string()
    } else {
        format!(
            "{}/{}",
            ms(percentile(&m.get_latencies, 50)),
            ms(percentile(&m.get_latencies, 99))
        )
    };
    println!(
        "{:<24} {:>6} {:>9.0} {:>8} {:>8} {:>7.2} {:>10} {:>8} {:>7} {:>4} {:>14}  {}",
        label,
        m.placed,
        rate(m),
        ms(percentile(&m.latencies, 50)),
        ms(percentile(&m.latencies, 99)),
        ratio,
        format!("{}/{}", inv.sold, inv.quota),
        inv.oversold(),
        m.refused,
        m.server_errors,
        get,
        if inv.holds() {
            verdict.to_string()
        } else {
            format!("{verdict} [{}]", inv.detail())
        }
    );
}

/// A live link made for one measurement.
struct Link {
    item_id: i64,
    code: String,
    product: Product,
    /// The product's stock before the session went live.
    stock_before: i32,
}

/// A fresh session of 杨州窑村's 黄米糕面 with one item (quota `quota`, 1 per buyer, at
/// the normal price), made live — by team@example.com, through the domain's own steps
/// (`live::create_session`, `add_item`, `take_step`). The product's stock is raised first
/// so that it holds the quota.
fn new_link(pool: &Pool, quota: i32) -> AnyResult<Link> {
    let mut pooled = pool.get()?;
    let conn = &mut *pooled;
    let user = village_market::db::accounts::user_by_email(conn, "team@example.com")?
        .ok_or("no team@example.com: is the demo loaded?")?;
    let actor =
        actor_of_session(conn, user.id, user.session_version)?.ok_or("team@example.com is off")?;
    let Scope::Team(scope) = &actor.scope else {
        return Err("team@example.com is not a team member".into());
    };
    let who = Who::from(&actor);
    let flour = || products::table.filter(products::slug.eq("huangmi-gaomian"));
    diesel::update(flour())
        .set(products::stock.eq(products::stock + quota))
        .execute(conn)?;
    let product: Product = flour().select(Product::as_select()).first(conn)?;
    let now = now_utc();
    let typed = |t| china_time(t).format("%Y-%m-%d %H:%M").to_string();
    let form = SessionForm {
        village_id: product.village_id.to_string(),
        title: "压测 flash sale".into(),
        platform: "douyin".into(),
        host_name: "压测主播".into(),
        host_commission: "5".into(),
        starts_at: typed(now - Span::minutes(1)),
        ends_at: typed(now + Span::hours(3)),
    };
    let session = live::create_session(conn, &who, scope, &form, now)?;
    let item = ItemForm {
        product_id: product.id.to_string(),
        live_price: format!(
            "{}.{:02}",
            product.unit_price_fen / 100,
            product.unit_price_fen % 100
        ),
        quota: quota.to_string(),
        per_buyer_limit: "1".into(),
    };
    let item_id = live::add_item(conn, &who, scope, session, &item, now)?;
    live::take_step(conn, &who, scope, session, SessionStep::Start, now)?;
    let code = live_items::table
        .find(item_id)
        .select(live_items::code)
        .first(conn)?;
    Ok(Link {
        item_id,
        code,
        stock_before: product.stock,
        product,
    })
}

/// The raw baseline: `threads` threads buy one unit each, in a loop, until the quota is
/// gone; every purchase is one write transaction on a pooled connection.
fn baseline(pool: &Pool, link: &Link, threads: usize) -> AnyResult<Measured> {
    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let workers: Vec<_> = (0..threads)
        .map(|_| {
            let (pool, next) = (pool.clone(), next.clone());
            let (item, product) = (link.item_id, link.product.clone());
            std::thread::spawn(move || -> AnyResult<(Vec<Duration>, Instant)> {
                let (mut times, mut last) = (Vec::new(), start);
                loop {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    let t = Instant::now();
                    let mut conn = pool.get()?;
                    if !raw_buy(&mut conn, item, &product, n)? {
                        return Ok((times, last));
                    }
                    last = Instant::now();
                    times.push(last - t);
                }
            })
        })
        .collect();
    let mut m = Measured::default();
    let mut end = start;
    for w in workers {
        let (times, last) = w.join().map_err(|_| "a baseline thread panicked")??;
        m.placed += times.len();
        m.latencies.extend(times);
        end = end.max(last);
    }
    m.elapsed = end - start;
    Ok(m)
}

/// One purchase without HTTP: the quota's conditional update, then the order and its
/// line, all or nothing. `false` when the quota is sold.
fn raw_buy(conn: &mut DbConn, item: i64, product: &Product, n: usize) -> AnyResult<bool> {
    let now = now_utc();
    let placed = write_transaction(conn, |conn| -> QueryResult<bool> {
        if !village_market::db::live::take_from_quota(conn, item, 1)? {
            return Ok(false);
        }
        let (key, phone) = (format!("bench-raw-{item}-{n}"), mobile(n));
        let order = order_q::insert(
            conn,
            &NewOrder {
                number: &key,
                channel: Channel::Livestream,
                organization_id: None,
                buyer_user_id: None,
                buyer_name: "压测买家",
                buyer_phone: &phone,
                buyer_email: None,
                delivery_address: "大同市压测路",
                note: "",
                payment_method: PaymentMethod::CashOnDelivery,
                status: OrderStatus::PendingPayment,
                total_fen: product.unit_price_fen,
                token: &key,
                idempotency_key: &key,
                reserved_until: None,
                business_date: china_date(now),
                created_at: now,
                updated_at: now,
                locale: "zh-CN",
                staff_organization_id: None,
                live_item_id: Some(item),
            },
        )?
        // Its number is its own key, never given before.
        .ok_or(diesel::result::Error::NotFound)?;
        let line = NewOrderLine {
            order_id: order.id,
            product_id: product.id,
            village_id: product.village_id,
            quantity: 1,
            unit_price_fen: product.unit_price_fen,
            line_total_fen: product.unit_price_fen,
            product_name_zh: product.name_zh.clone(),
            product_name_en: product.name_en.clone(),
            sale_unit_zh: product.sale_unit_zh.clone(),
            sale_unit_en: product.sale_unit_en.clone(),
        };
        order_q::insert_lines(conn, &[line])?;
        Ok(true)
    })?;
    Ok(placed)
}

/// Buyer `n`'s own normalised mainland mobile number: 11 digits, 13…–19….
fn mobile(n: usize) -> String {
    format!("1{}{:09}", 3 + (n / 1_000_000_000) % 7, n % 1_000_000_000)
}

/// `buyers` phones buy one unit each over HTTP, `concurrency` at a time.
fn over_http(ports: &[u16], code: &str, buyers: usize, concurrency: usize) -> AnyResult<Measured> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .pool_max_idle_per_host(concurrency)
            .timeout(Duration::from_secs(30))
            .build()?;
        let next = Arc::new(AtomicUsize::new(0));
        let start = Instant::now();
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..concurrency {
            let (client, next, ports, code) = (
                client.clone(),
                next.clone(),
                ports.to_vec(),
                code.to_string(),
            );
            tasks.spawn(async move {
                let (mut m, mut last) = (Measured::default(), start);
                loop {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    if n >= buyers {
                        m.elapsed = last - start;
                        return m;
                    }
                    let (get_port, post_port) =
                        (ports[n % ports.len()], ports[(n + 1) % ports.len()]);
                    match buy(&client, get_port, post_port, &code, n).await {
                        // The link's page already said sold out: no form to send.
                        Ok((get, None)) => {
                            m.get_latencies.push(get);
                            m.refused += 1;
                        }
                        Ok((get, Some((post, status)))) => {
                            m.get_latencies.push(get);
                            match status {
                                303 => {
                                    m.placed += 1;
                                    m.latencies.push(post);
                                    last = Instant::now();
                                }
                                409 => m.refused += 1,
                                500..=599 => m.server_errors += 1,
                                other => m.other.push(format!("buyer {n}: POST answered {other}")),
                            }
                        }
                        Err(e) => m.other.push(format!("buyer {n}: {e}")),
                    }
                }
            });
        }
        let mut all = Measured::default();
        while let Some(done) = tasks.join_next().await {
            let m = done?;
            all.placed += m.placed;
            all.refused += m.refused;
            all.server_errors += m.server_errors;
            all.other.extend(m.other);
            all.elapsed = all.elapsed.max(m.elapsed);
            all.latencies.extend(m.latencies);
            all.get_latencies.extend(m.get_latencies);
        }
        Ok::<_, Box<dyn Error + Send + Sync>>(all)
    })
}

/// One phone: the link's page, then the order. The GET's time, and the POST's with its
/// status (none when the page said sold out and had no form).
async fn buy(
    client: &reqwest::Client,
    get_port: u16,
    post_port: u16,
    code: &str,
    n: usize,
) -> AnyResult<(Duration, Option<(Duration, u16)>)> {
    let t = Instant::now();
    let page = client
        .get(format!("http://127.0.0.1:{get_port}/l/{code}"))
        .send()
        .await?;
    if page.status() != 200 {
        return Err(format!("GET answered {}", page.status()).into());
    }
    let cookie = page
        .headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("vm_session="))
        .and_then(|v| v.split(';').next())
        .ok_or("the link's page set no session cookie")?
        .to_string();
    let html = page.text().await?;
    let get = t.elapsed();
    if !html.contains("name=\"csrf_token\"") {
        return Ok((get, None));
    }
    let field = |name: &str| {
        let marker = format!("name=\"{name}\" value=\"");
        html.split_once(&marker)
            .and_then(|(_, rest)| rest.split_once('"'))
            .map(|(value, _)| value.to_string())
            .ok_or(format!("no {name} on the link's page"))
    };
    let form = [
        ("csrf_token", field("csrf_token")?),
        ("idempotency_key", field("idempotency_key")?),
        ("quantity", "1".into()),
        ("name", format!("买家{n}")),
        ("phone", mobile(n)),
        ("address", format!("大同市平城区压测路{n}号")),
        ("payment_method", "cash_on_delivery".into()),
    ];
    let t = Instant::now();
    let res = client
        .post(format!("http://127.0.0.1:{post_port}/l/{code}"))
        .header(reqwest::header::COOKIE, cookie)
        .form(&form)
        .send()
        .await?;
    let status = res.status().as_u16();
    res.bytes().await?;
    Ok((get, Some((t.elapsed(), status))))
}

/// The invariant as the database holds it after a measurement.
struct Invariant {
    quota: i32,
    sold: i32,
    /// Units in the lines of the item's orders.
    ordered: i64,
    orders: i64,
    /// Units counted against the buyers' numbers (`None` for the baseline, which does
    /// not count them).
    buyers: Option<i64>,
    /// What the product's stock gave the session.
    from_stock: i32,
}

impl Invariant {
    fn oversold(&self) -> i64 {
        (i64::from(self.sold).max(self.ordered) - i64::from(self.quota)).max(0)
    }

    fn holds(&self) -> bool {
        let q = i64::from(self.quota);
        self.sold == self.quota
            && self.ordered == q
            && self.orders == q
            && self.buyers.is_none_or(|b| b == q)
            && self.from_stock == self.quota
    }

    fn detail(&self) -> String {
        format!(
            "sold {} ordered {} orders {} buyers {:?} from stock {}",
            self.sold, self.ordered, self.orders, self.buyers, self.from_stock
        )
    }
}

fn check(pool: &Pool, link: &Link, quota: i32, buyers: bool) -> AnyResult<Invariant> {
    let mut pooled = pool.get()?;
    let conn = &mut *pooled;
    let sold = live_items::table
        .find(link.item_id)
        .select(live_items::sold)
        .first(conn)?;
    let of_item = || orders::live_item_id.eq(Some(link.item_id));
    let orders = orders::table
        .filter(of_item())
        .select(count_star())
        .first(conn)?;
    let ordered: Option<i64> = order_lines::table
        .inner_join(orders::table)
        .filter(of_item())
        .select(sum(order_lines::quantity))
        .first(conn)?;
    let buyers = if buyers {
        let units: Option<i64> = live_buyer_units::table
            .filter(live_buyer_units::item_id.eq(link.item_id))
            .select(sum(live_buyer_units::units))
            .first(conn)?;
        Some(units.unwrap_or(0))
    } else {
        None
    };
    let stock_after: i32 = products::table
        .find(link.product.id)
        .select(products::stock)
        .first(conn)?;
    Ok(Invariant {
        quota,
        sold,
        ordered: ordered.unwrap_or(0),
        orders,
        buyers,
        from_stock: link.stock_before - stock_after,
    })
}
