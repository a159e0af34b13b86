//! The test harness: a real server on a fresh database per test, on SQLite (a new file)
//! or PostgreSQL (a new database on the server at 127.0.0.1:5432), driven over HTTP by
//! clients with their own cookie jars, the way a browser would.

use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread::JoinHandle;

use diesel::{Connection, PgConnection, RunQueryDsl};
use reqwest::StatusCode;
use reqwest::blocking::{Client, Response};
use village_market::app::Services;
use village_market::config::{Config, ConfigArgs};
use village_market::db::{self, Backend, DbConn, Pool};
use village_market::domain::{demo, now_utc};
use village_market::{AppState, start_server};

pub const PASSWORD: &str = "correct horse battery";

/// Runs each test body once on SQLite and once on PostgreSQL, as `name::sqlite` and
/// `name::postgres`.
macro_rules! both_databases {
    ($( $(#[$meta:meta])* fn $name:ident($app:ident) $body:block )*) => {
        $(
            mod $name {
                #[allow(unused_imports)]
                use super::*;
                $(#[$meta])*
                fn run($app: &$crate::support::TestApp) $body
                #[test]
                fn sqlite() {
                    run(&$crate::support::TestApp::start(village_market::db::Backend::Sqlite));
                }
                #[test]
                fn postgres() {
                    run(&$crate::support::TestApp::start(village_market::db::Backend::Postgres));
                }
            }
        )*
    };
}
pub(crate) use both_databases;

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// The server that holds test databases: `VM_TEST_POSTGRES` or the local one.
pub fn postgres_admin_url() -> String {
    std::env::var("VM_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// A fresh, empty database of one backend; dropped (PostgreSQL) or deleted (SQLite)
/// when this goes out of scope.
pub struct FreshDatabase {
    pub url: String,
    pub dir: PathBuf,
    pg_name: Option<String>,
}

impl FreshDatabase {
    pub fn new(backend: Backend) -> FreshDatabase {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let tag = format!("{}_{n}", std::process::id());
        let dir = std::env::temp_dir().join(format!("vm-test-{tag}"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        match backend {
            Backend::Sqlite => FreshDatabase {
                url: format!("sqlite://{}", dir.join("test.db").display()),
                dir,
                pg_name: None,
            },
            Backend::Postgres => {
                let name = format!("vm_test_{tag}");
                let admin = postgres_admin_url();
                let mut conn = PgConnection::establish(&admin)
                    .expect("PostgreSQL at VM_TEST_POSTGRES is reachable");
                diesel::sql_query(format!("CREATE DATABASE {name}"))
                    .execute(&mut conn)
                    .expect("create database");
                let base = admin
                    .rsplit_once('/')
                    .map_or(admin.as_str(), |(b, _)| b)
                    .to_string();
                FreshDatabase {
                    url: format!("{base}/{name}"),
                    dir,
                    pg_name: Some(name),
                }
            }
        }
    }
}

impl Drop for FreshDatabase {
    fn drop(&mut self) {
        if let Some(name) = &self.pg_name {
            if let Ok(mut conn) = PgConnection::establish(&postgres_admin_url()) {
                let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .execute(&mut conn);
            }
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

pub fn test_args(database: &FreshDatabase) -> ConfigArgs {
    ConfigArgs {
        database_url: database.url.clone(),
        bind: "127.0.0.1:0".into(),
        base_url: None,
        data_dir: database.dir.join("data"),
        session_key: Some("test session key that is long enough to derive from".into()),
        stripe_secret_key: None,
        stripe_webhook_secret: None,
        stripe_api_base: None,
        stripe_payment_methods: "card,alipay,wechat_pay".into(),
        smtp_url: None,
        mail_from: "村货集市 <test@village-market.local>".into(),
        mail_retry_seconds: 1,
        reservation_minutes: 30,
        collective_share_bp: 1000,
        demo_password: Some(PASSWORD.into()),
        pool_size: 4,
    }
}

pub fn test_config(database: &FreshDatabase) -> Config {
    Config::from_args(test_args(database)).expect("test config is valid")
}

/// A running server over a fresh database that holds the demo data.
pub struct TestApp {
    pub base: String,
    pub backend: Backend,
    pub pool: Pool,
    handle: Option<actix_web::dev::ServerHandle>,
    thread: Option<JoinHandle<()>>,
    // Dropped last: the database outlives the server that uses it.
    pub database: FreshDatabase,
}

impl TestApp {
    pub fn start(backend: Backend) -> TestApp {
        TestApp::start_with(backend, |_| {})
    }

    /// A server over the demo data with settings changed by `configure` (Stripe keys,
    /// an SMTP server…).
    pub fn start_with(backend: Backend, configure: impl FnOnce(&mut ConfigArgs)) -> TestApp {
        let app = TestApp::start_configured(backend, configure);
        let report = demo::load(&mut app.conn(), PASSWORD, now_utc()).expect("demo data loads");
        assert!(!report.is_empty());
        app
    }

    pub fn start_empty(backend: Backend) -> TestApp {
        TestApp::start_configured(backend, |_| {})
    }

    fn start_configured(backend: Backend, configure: impl FnOnce(&mut ConfigArgs)) -> TestApp {
        let database = FreshDatabase::new(backend);
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("address"));
        let mut args = test_args(&database);
        // Links in mail and payment redirects lead back to this server.
        args.base_url = Some(base.clone());
        configure(&mut args);
        let config = Config::from_args(args).expect("test config is valid");
        let pool = db::open_pool(&config.database_url, config.pool_size).expect("database opens");
        let services = Services::new(config, pool.clone()).expect("the services start");
        let state = AppState::new(services);
        let (tx, rx) = std::sync::mpsc::channel();
        let thread = std::thread::spawn(move || {
            let system = actix_web::rt::System::new();
            let _ = system.block_on(async move {
                let server = start_server(state, listener, 1).expect("server starts");
                let _ = tx.send(server.handle());
                server.await
            });
        });
        let handle = rx.recv().expect("server handle");
        TestApp {
            base,
            backend,
            pool,
            handle: Some(handle),
            thread: Some(thread),
            database,
        }
    }

    pub fn conn(&self) -> db::PooledConn {
        self.pool.get().expect("pooled connection")
    }

    /// A new visitor with an empty cookie jar.
    pub fn browser(&self) -> Browser {
        let client = Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("http client");
        Browser {
            client,
            base: self.base.clone(),
        }
    }

    /// A visitor signed in as `email` with the demo password.
    pub fn signed_in(&self, email: &str) -> Browser {
        let browser = self.browser();
        let res = browser.sign_in(email, PASSWORD);
        assert_eq!(
            res.status(),
            StatusCode::SEE_OTHER,
            "sign-in of {email} succeeds"
        );
        browser
    }

    pub fn count(&self, sql_table: &str) -> i64 {
        self.scalar(&format!("SELECT COUNT(*) AS n FROM {sql_table}"))
    }

    /// The one whole number a query answers as `n` (cast to BIGINT where needed).
    pub fn scalar(&self, sql: &str) -> i64 {
        #[derive(diesel::QueryableByName)]
        struct N {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        let row: N = diesel::sql_query(sql)
            .get_result(&mut *self.conn() as &mut DbConn)
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
        row.n
    }

    pub fn execute(&self, sql: &str) -> usize {
        diesel::sql_query(sql)
            .execute(&mut *self.conn() as &mut DbConn)
            .expect("statement runs")
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(handle) = self.handle.take() {
            drop(handle.stop(false));
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

pub struct Browser {
    pub client: Client,
    pub base: String,
}

impl Browser {
    pub fn get(&self, path: &str) -> Response {
        self.client
            .get(format!("{}{path}", self.base))
            .send()
            .expect("GET")
    }

    pub fn post_form(&self, path: &str, form: &[(&str, &str)]) -> Response {
        self.client
            .post(format!("{}{path}", self.base))
            .form(form)
            .send()
            .expect("POST")
    }

    /// Fetches the page at `form_page`, then posts `form` to `action` with the page's
    /// CSRF token, as a browser submitting that page's form would.
    pub fn submit(&self, form_page: &str, action: &str, form: &[(&str, &str)]) -> Response {
        let page = self.get(form_page).text().expect("form page");
        let token = csrf_token(&page).unwrap_or_else(|| panic!("{form_page} has a csrf_token"));
        let mut fields: Vec<(&str, &str)> = vec![("csrf_token", &token)];
        fields.extend_from_slice(form);
        self.post_form(action, &fields)
    }

    pub fn sign_in(&self, email: &str, password: &str) -> Response {
        self.submit(
            "/login",
            "/login",
            &[("email", email), ("password", password)],
        )
    }

    pub fn text(&self, path: &str) -> (StatusCode, String) {
        let res = self.get(path);
        let status = res.status();
        (status, res.text().expect("body"))
    }
}

/// The value of the first `csrf_token` hidden field in a page.
pub fn csrf_token(html: &str) -> Option<String> {
    let at = html.find("name=\"csrf_token\" value=\"")? + "name=\"csrf_token\" value=\"".len();
    let rest = &html[at..];
    Some(rest[..rest.find('"')?].to_string())
}

pub fn location(res: &Response) -> String {
    res.headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string()
}

/// Like `both_databases!`, for tests that start their own server (with Stripe or SMTP
/// settings): the body gets the backend.
macro_rules! both_backends {
    ($( $(#[$meta:meta])* fn $name:ident($backend:ident) $body:block )*) => {
        $(
            mod $name {
                #[allow(unused_imports)]
                use super::*;
                $(#[$meta])*
                fn run($backend: village_market::db::Backend) $body
                #[test]
                fn sqlite() {
                    run(village_market::db::Backend::Sqlite);
                }
                #[test]
                fn postgres() {
                    run(village_market::db::Backend::Postgres);
                }
            }
        )*
    };
}
pub(crate) use both_backends;

/// A real SMTP server, aiosmtpd, delivering into a Maildir of its own; stopped when
/// dropped. Its Python comes from `VM_TEST_PYTHON` (the venv `scripts/test` makes).
pub struct SmtpServer {
    pub port: u16,
    pub maildir: PathBuf,
    child: Option<std::process::Child>,
}

/// A port nothing listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

impl SmtpServer {
    pub fn start() -> SmtpServer {
        SmtpServer::start_on(free_port())
    }

    pub fn start_on(port: u16) -> SmtpServer {
        let python = std::env::var("VM_TEST_PYTHON")
            .expect("VM_TEST_PYTHON names a Python with aiosmtpd (run ./scripts/test)");
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let parent = std::env::temp_dir().join(format!("vm-smtp-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&parent);
        std::fs::create_dir_all(&parent).expect("maildir parent");
        // aiosmtpd's Mailbox creates the Maildir itself: it must not exist yet.
        let maildir = parent.join("mail");
        let child = std::process::Command::new(python)
            .args(["-m", "aiosmtpd", "-n", "-l"])
            .arg(format!("127.0.0.1:{port}"))
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(&maildir)
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("aiosmtpd starts");
        let server = SmtpServer {
            port,
            maildir,
            child: Some(child),
        };
        wait_until(
            "aiosmtpd listens",
            std::time::Duration::from_secs(20),
            || std::net::TcpStream::connect(("127.0.0.1", port)).is_ok(),
        );
        server
    }

    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// Every message delivered so far, as raw RFC 5322 text.
    pub fn messages(&self) -> Vec<Vec<u8>> {
        let Ok(entries) = std::fs::read_dir(self.maildir.join("new")) else {
            return Vec::new();
        };
        entries
            .filter_map(|e| std::fs::read(e.ok()?.path()).ok())
            .collect()
    }

    /// Waits until `n` messages have arrived and returns them decoded.
    pub fn wait_for(&self, n: usize) -> Vec<Mail> {
        wait_until(
            &format!("{n} messages at the SMTP server"),
            std::time::Duration::from_secs(30),
            || self.messages().len() >= n,
        );
        self.messages().iter().map(|raw| Mail::parse(raw)).collect()
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        if let Some(parent) = self.maildir.parent() {
            let _ = std::fs::remove_dir_all(parent);
        }
    }
}

/// A delivered message, decoded.
#[derive(Debug, Clone)]
pub struct Mail {
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
}

impl Mail {
    pub fn parse(raw: &[u8]) -> Mail {
        let message = mail_parser::MessageParser::default()
            .parse(raw)
            .expect("a readable message");
        Mail {
            to: message
                .to()
                .and_then(|a| a.first())
                .and_then(|a| a.address())
                .unwrap_or_default()
                .to_string(),
            subject: message.subject().unwrap_or_default().to_string(),
            text: message.body_text(0).unwrap_or_default().to_string(),
            html: message.body_html(0).unwrap_or_default().to_string(),
        }
    }
}

/// Polls `done` until it holds, failing the test after `limit`.
pub fn wait_until(what: &str, limit: std::time::Duration, mut done: impl FnMut() -> bool) {
    let start = std::time::Instant::now();
    while !done() {
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}
