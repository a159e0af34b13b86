//! Typed configuration, read once from the environment (and a `.env` file) and flags,
//! validated at startup. Nothing reads the environment after this.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use clap::Args;
use ipnet::IpNet;

use crate::db::{Backend, DatabaseUrl, DbSetupError};

/// The settings of ARCHITECTURE §10. Each has a default that is safe for a local run.
#[derive(Debug, Clone, Args)]
pub struct ConfigArgs {
    /// `sqlite://path` (embedded default) or `postgres://user@host/db`.
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "sqlite://data/village-market.db"
    )]
    pub database_url: String,
    /// Address and port to listen on.
    #[arg(long, global = true, env = "BIND", default_value = "127.0.0.1:8080")]
    pub bind: String,
    /// The public address of the site, for links in emails and payment redirects.
    #[arg(long, global = true, env = "BASE_URL")]
    pub base_url: Option<String>,
    /// Folder for the generated session key, the demo password and mail files.
    #[arg(long, global = true, env = "DATA_DIR", default_value = "data")]
    pub data_dir: PathBuf,
    /// Signs and encrypts session cookies; at least 32 characters. Generated into the
    /// data folder when unset.
    #[arg(long, global = true, env = "SESSION_KEY", hide_env_values = true)]
    pub session_key: Option<String>,
    #[arg(long, global = true, env = "STRIPE_SECRET_KEY", hide_env_values = true)]
    pub stripe_secret_key: Option<String>,
    #[arg(
        long,
        global = true,
        env = "STRIPE_WEBHOOK_SECRET",
        hide_env_values = true
    )]
    pub stripe_webhook_secret: Option<String>,
    #[arg(long, global = true, env = "STRIPE_API_BASE")]
    pub stripe_api_base: Option<String>,
    /// What Stripe Checkout offers, comma-separated: card, alipay, wechat_pay.
    #[arg(
        long,
        global = true,
        env = "STRIPE_PAYMENT_METHODS",
        default_value = "card,alipay,wechat_pay"
    )]
    pub stripe_payment_methods: String,
    /// `smtp://host:port`; unset: mail is written to files under the data folder.
    #[arg(long, global = true, env = "SMTP_URL")]
    pub smtp_url: Option<String>,
    #[arg(
        long,
        global = true,
        env = "MAIL_FROM",
        default_value = "村货集市 <noreply@village-market.local>"
    )]
    pub mail_from: String,
    /// Seconds before the first retry of an email that could not be sent; each further
    /// retry waits twice as long, up to an hour.
    #[arg(long, global = true, env = "MAIL_RETRY_SECONDS", default_value_t = 30)]
    pub mail_retry_seconds: u32,
    /// Minutes an unpaid order holds its stock.
    #[arg(long, global = true, env = "RESERVATION_MINUTES", default_value_t = 30)]
    pub reservation_minutes: u32,
    /// Minutes an unpaid order from a livestream link holds its units (1–60): short, so
    /// that a quota abandoned in the rush goes back to the stream's buyers.
    #[arg(
        long,
        global = true,
        env = "LIVE_RESERVATION_MINUTES",
        default_value_t = 10
    )]
    pub live_reservation_minutes: u32,
    /// Hours a canteen order above its approval threshold holds its stock while it waits
    /// for an approver (1–336).
    #[arg(long, global = true, env = "APPROVAL_HOLD_HOURS", default_value_t = 48)]
    pub approval_hold_hours: u32,
    /// The village collective's share of consignment sales, in basis points (1/100 %).
    #[arg(
        long,
        global = true,
        env = "COLLECTIVE_SHARE_BP",
        default_value_t = 1000
    )]
    pub collective_share_bp: u32,
    /// Password of every demo account; generated into the data folder when unset.
    #[arg(long, global = true, env = "DEMO_PASSWORD", hide_env_values = true)]
    pub demo_password: Option<String>,
    /// Database connections per process (default: `default_pool_size` of the backend).
    #[arg(long, global = true, env = "DATABASE_POOL_SIZE")]
    pub pool_size: Option<u32>,
    /// Proxies (addresses or CIDR ranges, comma-separated) whose `Forwarded` or
    /// `X-Forwarded-For` header names the client; from any other peer those headers are
    /// ignored.
    #[arg(long, global = true, env = "TRUSTED_PROXIES", default_value = "")]
    pub trusted_proxies: String,
    /// Requests a minute that each API token, and each guest's address, may make to
    /// `/api/v1` (counted across every server process on the database).
    #[arg(
        long,
        global = true,
        env = "API_REQUESTS_PER_MINUTE",
        default_value_t = 600
    )]
    pub api_requests_per_minute: u32,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(transparent)]
    Database(#[from] DbSetupError),
    #[error("{name}: {reason}")]
    Invalid { name: &'static str, reason: String },
    #[error("data folder {path}: {source}")]
    DataDir {
        path: String,
        source: std::io::Error,
    },
}

#[derive(Clone)]
pub struct Config {
    pub database_url: DatabaseUrl,
    pub bind: String,
    pub base_url: String,
    pub data_dir: PathBuf,
    /// 64 bytes of key material for the cookie session store.
    pub session_key: Vec<u8>,
    pub stripe_secret_key: Option<String>,
    pub stripe_webhook_secret: Option<String>,
    pub stripe_api_base: Option<String>,
    pub stripe_methods: Vec<String>,
    pub smtp_url: Option<String>,
    pub mail_from: String,
    pub mail_retry_seconds: u32,
    pub reservation_minutes: u32,
    pub live_reservation_minutes: u32,
    pub approval_hold_hours: u32,
    pub collective_share_bp: u32,
    pub demo_password: Option<String>,
    pub pool_size: u32,
    /// Whether session cookies require HTTPS (true when BASE_URL is https).
    pub secure_cookies: bool,
    /// The load balancers whose word on the client's address is taken.
    pub trusted_proxies: Vec<IpNet>,
    pub api_requests_per_minute: u32,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("database_url", &self.database_url)
            .field("bind", &self.bind)
            .field("base_url", &self.base_url)
            .field("data_dir", &self.data_dir)
            .finish_non_exhaustive()
    }
}

impl Config {
    pub fn from_args(args: ConfigArgs) -> Result<Self, ConfigError> {
        let database_url = DatabaseUrl::parse(&args.database_url)?;
        if args.collective_share_bp > 10_000 {
            return Err(ConfigError::Invalid {
                name: "COLLECTIVE_SHARE_BP",
                reason: format!("{} is more than 10000 (100 %)", args.collective_share_bp),
            });
        }
        if args.reservation_minutes == 0 {
            return Err(ConfigError::Invalid {
                name: "RESERVATION_MINUTES",
                reason: "must be at least 1".into(),
            });
        }
        let pool_size = args
            .pool_size
            .unwrap_or_else(|| default_pool_size(database_url.backend()));
        if pool_size == 0 {
            return Err(ConfigError::Invalid {
                name: "DATABASE_POOL_SIZE",
                reason: "must be at least 1".into(),
            });
        }
        if args.api_requests_per_minute == 0 {
            return Err(ConfigError::Invalid {
                name: "API_REQUESTS_PER_MINUTE",
                reason: "must be at least 1".into(),
            });
        }
        let session_key = match args.session_key {
            Some(key) if key.len() < 32 => {
                return Err(ConfigError::Invalid {
                    name: "SESSION_KEY",
                    reason: "must be at least 32 characters".into(),
                });
            }
            Some(key) => stretch_key(key.as_bytes()),
            None => load_or_create_secret(&args.data_dir, "session.key", 64)?,
        };
        if session_key.len() < 64 {
            return Err(ConfigError::Invalid {
                name: "SESSION_KEY",
                reason: format!(
                    "{} holds fewer than 64 bytes",
                    args.data_dir.join("session.key").display()
                ),
            });
        }
        let base_url = args
            .base_url
            .unwrap_or_else(|| format!("http://{}", args.bind))
            .trim_end_matches('/')
            .to_string();
        if url::Url::parse(&base_url).is_err() {
            return Err(ConfigError::Invalid {
                name: "BASE_URL",
                reason: format!("{base_url} is not a URL"),
            });
        }
        Ok(Self {
            database_url,
            bind: args.bind,
            secure_cookies: base_url.starts_with("https://"),
            base_url,
            data_dir: args.data_dir,
            session_key,
            stripe_secret_key: args.stripe_secret_key.filter(|s| !s.is_empty()),
            stripe_webhook_secret: args.stripe_webhook_secret.filter(|s| !s.is_empty()),
            stripe_api_base: args.stripe_api_base.filter(|s| !s.is_empty()),
            stripe_methods: args
                .stripe_payment_methods
                .split(',')
                .map(|m| m.trim().to_string())
                .filter(|m| !m.is_empty())
                .collect(),
            smtp_url: args.smtp_url.filter(|s| !s.is_empty()),
            mail_from: args.mail_from,
            mail_retry_seconds: args.mail_retry_seconds.max(1),
            reservation_minutes: args.reservation_minutes,
            live_reservation_minutes: args.live_reservation_minutes.clamp(1, 60),
            approval_hold_hours: args.approval_hold_hours.clamp(1, 336),
            collective_share_bp: args.collective_share_bp,
            demo_password: args.demo_password.filter(|s| !s.is_empty()),
            pool_size,
            api_requests_per_minute: args.api_requests_per_minute,
            trusted_proxies: parse_networks(&args.trusted_proxies).map_err(|reason| {
                ConfigError::Invalid {
                    name: "TRUSTED_PROXIES",
                    reason,
                }
            })?,
        })
    }

    /// The demo accounts' password: `DEMO_PASSWORD`, or one generated once into the data
    /// folder (`demo-password` holds the password itself) so that it stays the same
    /// across restarts.
    pub fn demo_password(&self) -> Result<String, ConfigError> {
        if let Some(p) = &self.demo_password {
            return Ok(p.clone());
        }
        let make = || format!("demo-{}", crate::util::random_token(6));
        load_or_create(&self.data_dir, "demo-password", make)
    }
}

/// The cores this process may run on (its server's workers are as many).
pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get())
}

/// A process's connections when `DATABASE_POOL_SIZE` does not say.
///
/// On PostgreSQL twice the cores, at most 10: a database runs about twice its cores' worth
/// of statements at once to good effect, and more connections only queue inside it for the
/// same cores. In the flash sale on two cores (issue #11), 4 connections a process against
/// 10 sold a tenth more orders a second with one process and a fifth more with two, and cut
/// the p99 by a fifth or more. At most 10, as before: every connection is kept open, and a
/// big machine's count would pass PostgreSQL's `max_connections` (100 by default). The
/// database's cores are the ones that count: with it on another machine, or several
/// processes sharing one, `DATABASE_POOL_SIZE` says so.
///
/// On SQLite 32: its writers share one commit (`db::write_together`), which carries the
/// orders of every connection waiting for it, so the pool bounds the orders a commit can
/// carry. In the same flash sale (64 buyers at a time), 32 connections sold about a quarter
/// more orders a second than 10 (3 rounds alternating), 4 over a quarter fewer, and 48 no
/// more than 32. A SQLite connection is a few file handles and at most 2 MB of page cache.
pub fn default_pool_size(backend: Backend) -> u32 {
    match backend {
        Backend::Sqlite => 32,
        Backend::Postgres => u32::try_from(2 * cores()).map_or(10, |n| n.min(10)),
    }
}

/// `10.0.0.0/8, 192.168.1.7, ::1`: ranges, and single addresses as ranges of one.
fn parse_networks(list: &str) -> Result<Vec<IpNet>, String> {
    list.split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(|item| {
            item.parse::<IpNet>()
                .or_else(|_| item.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| format!("{item:?} is neither an address nor a CIDR range"))
        })
        .collect()
}

/// A key of any length ≥ 32 turned into the 64 bytes the cookie store needs.
fn stretch_key(material: &[u8]) -> Vec<u8> {
    actix_web::cookie::Key::derive_from(material)
        .master()
        .to_vec()
}

/// Reads `name` from the data folder, or writes `len` fresh random bytes there (mode 0600)
/// on first use. Hex on disk so that an operator can copy it.
fn load_or_create_secret(dir: &Path, name: &str, len: usize) -> Result<Vec<u8>, ConfigError> {
    let text = load_or_create(dir, name, || crate::util::random_token(len))?;
    hex::decode(&text).map_err(|e| ConfigError::Invalid {
        name: "data folder",
        reason: format!("{} is not hex: {e}", dir.join(name).display()),
    })
}

/// The text of file `name` in the data folder, written from `make` (mode 0600) on first use.
fn load_or_create(
    dir: &Path,
    name: &str,
    make: impl FnOnce() -> String,
) -> Result<String, ConfigError> {
    let path = dir.join(name);
    let io_err = |source| ConfigError::DataDir {
        path: path.display().to_string(),
        source,
    };
    match std::fs::read_to_string(&path) {
        Ok(text) => Ok(text.trim().to_string()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::create_dir_all(dir).map_err(io_err)?;
            let text = make();
            match write_private(&path, text.as_bytes()) {
                Ok(()) => Ok(text),
                // Another process started at the same moment and wrote it first: theirs
                // is the one.
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let theirs = std::fs::read_to_string(&path).map_err(io_err)?;
                    Ok(theirs.trim().to_string())
                }
                Err(e) => Err(io_err(e)),
            }
        }
        Err(e) => Err(io_err(e)),
    }
}

/// Writes `contents` to the new file `path`, readable by the owner only, so that no
/// process ever reads it half-written: into a file of its own first, then linked into
/// place, which fails (`AlreadyExists`) if another process got there first.
fn write_private(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
    let staged = path.with_file_name(format!(
        ".{}.{}-{}",
        name.unwrap_or_default(),
        std::process::id(),
        hex::encode(crate::util::random_bytes(4))
    ));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let written = options
        .open(&staged)
        .and_then(|mut file| file.write_all(contents).and_then(|()| file.sync_all()))
        .and_then(|()| std::fs::hard_link(&staged, path));
    let _ = std::fs::remove_file(&staged);
    written
}
