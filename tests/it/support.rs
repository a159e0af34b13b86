//! The test harness: a real server on a fresh database per test, on SQLite (a new file)
//! or PostgreSQL (a new database on the server at 127.0.0.1:5432), driven over HTTP by
//! clients with their own cookie jars, the way a browser would. Each fresh database is a
//! copy of a template migrated (and loaded with the demo data) once per test process.

use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;

use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection, RunQueryDsl, SqliteConnection};
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

/// The URL of database `name` on the server that holds test databases.
fn postgres_url(name: &str) -> String {
    let admin = postgres_admin_url();
    let base = admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b);
    format!("{base}/{name}")
}

fn postgres_admin() -> PgConnection {
    PgConnection::establish(&postgres_admin_url())
        .expect("PostgreSQL at VM_TEST_POSTGRES is reachable")
}

/// What a fresh database holds when a test gets it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Contents {
    /// The tables, and no rows.
    Migrated,
    /// The tables and the demo data, loaded with the password `PASSWORD`.
    Demo,
}

impl Contents {
    fn name(self) -> &'static str {
        match self {
            Contents::Migrated => "migrated",
            Contents::Demo => "demo",
        }
    }
}

/// A database migrated, and loaded with the demo data where asked, once per test process;
/// every test's database is a copy of one, because migrating and loading the demo (its
/// password hashes above all) was most of what a test cost.
enum Template {
    /// The bytes of a SQLite database file: a `VACUUM INTO` snapshot, so one file with
    /// no `-wal` or `-shm` beside it.
    Sqlite(Vec<u8>),
    /// A PostgreSQL database to `CREATE DATABASE … TEMPLATE` from. Nothing stays
    /// connected to it: PostgreSQL refuses to copy a database in use. It lives as long as
    /// the process; its name, `vm_test_tpl_<pid>_…`, is one `scripts/test` drops once the
    /// process has ended.
    Postgres(String),
}

/// One template per backend and contents, built by the first test that needs it while
/// the tests that need it too wait. A slot can be emptied (see `FreshDatabase::with`),
/// hence a lock rather than a `OnceLock`.
static TEMPLATES: [Mutex<Option<Arc<Template>>>; 4] = [const { Mutex::new(None) }; 4];

fn template_slot(
    backend: Backend,
    contents: Contents,
) -> MutexGuard<'static, Option<Arc<Template>>> {
    let slot = match (backend, contents) {
        (Backend::Sqlite, Contents::Migrated) => 0,
        (Backend::Sqlite, Contents::Demo) => 1,
        (Backend::Postgres, Contents::Migrated) => 2,
        (Backend::Postgres, Contents::Demo) => 3,
    };
    // A test that panicked while building leaves the slot empty: the next one builds.
    TEMPLATES[slot]
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn template(backend: Backend, contents: Contents) -> Arc<Template> {
    template_slot(backend, contents)
        .get_or_insert_with(|| Arc::new(build_template(backend, contents)))
        .clone()
}

/// Forgets `template` so that the next test builds it again, unless another test has
/// already done so.
fn forget_template(backend: Backend, contents: Contents, template: &Arc<Template>) {
    let mut slot = template_slot(backend, contents);
    if slot.as_ref().is_some_and(|t| Arc::ptr_eq(t, template)) {
        *slot = None;
    }
}

fn build_template(backend: Backend, contents: Contents) -> Template {
    let pid = std::process::id();
    match backend {
        Backend::Sqlite => {
            let mut sqlite =
                SqliteConnection::establish(":memory:").expect("an in-memory SQLite database");
            sqlite
                .batch_execute("PRAGMA foreign_keys = ON")
                .expect("foreign keys on");
            let mut conn = DbConn::Sqlite(sqlite);
            fill(&mut conn, contents);
            let dir = std::env::temp_dir().join(format!("vm-test-tpl-{pid}-{}", contents.name()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).expect("temp dir");
            let file = dir.join("template.db");
            diesel::sql_query(format!("VACUUM INTO '{}'", file.display()))
                .execute(&mut conn)
                .expect("the template is written");
            let bytes = std::fs::read(&file).expect("the template reads back");
            let _ = std::fs::remove_dir_all(&dir);
            Template::Sqlite(bytes)
        }
        Backend::Postgres => {
            let name = format!("vm_test_tpl_{pid}_{}", contents.name());
            let mut admin = postgres_admin();
            for sql in [
                format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
                format!("CREATE DATABASE {name}"),
            ] {
                diesel::sql_query(sql)
                    .execute(&mut admin)
                    .expect("the template database is created");
            }
            let pg = PgConnection::establish(&postgres_url(&name)).expect("template connects");
            let mut conn = DbConn::Pg(pg);
            fill(&mut conn, contents);
            // Closed before any copy: PostgreSQL copies only a database nobody is in.
            drop(conn);
            Template::Postgres(name)
        }
    }
}

fn fill(conn: &mut DbConn, contents: Contents) {
    db::run_migrations(conn).expect("migrations run");
    if contents == Contents::Demo {
        let report = demo::load(conn, PASSWORD, now_utc()).expect("demo data loads");
        assert!(!report.is_empty());
    }
}

/// A fresh database of one backend; dropped (PostgreSQL) or deleted (SQLite) when this
/// goes out of scope.
pub struct FreshDatabase {
    pub url: String,
    pub dir: PathBuf,
    pg_name: Option<String>,
}

impl FreshDatabase {
    /// An empty database, not even migrated: for tests of migrations and of startup.
    pub fn new(backend: Backend) -> FreshDatabase {
        let (mut database, name) = FreshDatabase::place(backend);
        if backend == Backend::Postgres {
            diesel::sql_query(format!("CREATE DATABASE {name}"))
                .execute(&mut postgres_admin())
                .expect("create database");
            database.pg_name = Some(name);
        }
        database
    }

    /// A database that holds `contents`, copied from this process's template.
    pub fn with(backend: Backend, contents: Contents) -> FreshDatabase {
        let original = template(backend, contents);
        let (mut database, name) = FreshDatabase::place(backend);
        match &*original {
            Template::Sqlite(bytes) => {
                std::fs::write(database.dir.join("test.db"), bytes).expect("the copy is written");
            }
            Template::Postgres(first) => {
                let mut admin = postgres_admin();
                let mut copy = |from: &str| {
                    diesel::sql_query(format!("CREATE DATABASE {name} TEMPLATE {from}"))
                        .execute(&mut admin)
                };
                if let Err(e) = copy(first) {
                    // Another run's clean-up (`scripts/test` drops every `vm_test_`
                    // database it finds) may have dropped the template: build it again.
                    eprintln!("copying {first} failed ({e}): building the template again");
                    forget_template(backend, contents, &original);
                    let rebuilt = template(backend, contents);
                    let Template::Postgres(again) = &*rebuilt else {
                        unreachable!("a PostgreSQL template for PostgreSQL")
                    };
                    copy(again).expect("create database from the template");
                }
                database.pg_name = Some(name);
            }
        }
        database
    }

    /// An empty folder and a URL for a database not yet made, and the name of its
    /// PostgreSQL database. Dropping it removes the folder, and the PostgreSQL database
    /// once `pg_name` is set.
    fn place(backend: Backend) -> (FreshDatabase, String) {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let tag = format!("{}_{n}", std::process::id());
        let dir = std::env::temp_dir().join(format!("vm-test-{tag}"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        let name = format!("vm_test_{tag}");
        let url = match backend {
            Backend::Sqlite => format!("sqlite://{}", dir.join("test.db").display()),
            Backend::Postgres => postgres_url(&name),
        };
        let database = FreshDatabase {
            url,
            dir,
            pg_name: None,
        };
        (database, name)
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
        live_reservation_minutes: 10,
        approval_hold_hours: 48,
        collective_share_bp: 1000,
        demo_password: Some(PASSWORD.into()),
        pool_size: Some(4),
        trusted_proxies: String::new(),
        // Many tests call the API in a loop; `api` tests set their own limit.
        api_requests_per_minute: 100_000,
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
        TestApp::start_configured(backend, Contents::Demo, configure)
    }

    /// A server over a database with the tables and nothing in them.
    pub fn start_empty(backend: Backend) -> TestApp {
        TestApp::start_configured(backend, Contents::Migrated, |_| {})
    }

    fn start_configured(
        backend: Backend,
        contents: Contents,
        configure: impl FnOnce(&mut ConfigArgs),
    ) -> TestApp {
        let database = FreshDatabase::with(backend, contents);
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("address"));
        let mut args = test_args(&database);
        // Links in mail and payment redirects lead back to this server.
        args.base_url = Some(base.clone());
        configure(&mut args);
        let config = Config::from_args(args).expect("test config is valid");
        let (pool, handle, thread) = serve(config, listener);
        TestApp {
            base,
            backend,
            pool,
            handle: Some(handle),
            thread: Some(thread),
            database,
        }
    }

    /// A second server over this one's database, with the same settings and session key
    /// but its own pool and workers: what a second process behind a load balancer is.
    pub fn another_server(&self) -> OtherServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("address"));
        let mut args = test_args(&self.database);
        args.base_url = Some(base.clone());
        let config = Config::from_args(args).expect("test config is valid");
        let (_, handle, thread) = serve(config, listener);
        OtherServer {
            base,
            handle: Some(handle),
            thread: Some(thread),
        }
    }

    pub fn conn(&self) -> db::PooledConn {
        self.pool.get().expect("pooled connection")
    }

    /// A new visitor with an empty cookie jar.
    pub fn browser(&self) -> Browser {
        self.browser_with_headers(reqwest::header::HeaderMap::new())
    }

    /// A new visitor whose every request carries `headers` (a proxy's `X-Forwarded-For`).
    pub fn browser_with_headers(&self, headers: reqwest::header::HeaderMap) -> Browser {
        Browser::with_headers(&self.base, headers)
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
        scalar(&mut self.conn(), sql)
    }

    pub fn execute(&self, sql: &str) -> usize {
        diesel::sql_query(sql)
            .execute(&mut *self.conn() as &mut DbConn)
            .expect("statement runs")
    }

    /// A new personal API token of the user `email`, made as the account page makes one.
    pub fn token(&self, email: &str) -> String {
        let user_id = self.scalar(&format!(
            "SELECT id AS n FROM users WHERE email = '{email}'"
        ));
        let form = village_market::domain::api_tokens::TokenForm {
            name: "tests".into(),
            expires_on: String::new(),
        };
        let who = village_market::domain::actor::Who::tool("tests");
        village_market::domain::api_tokens::create(
            &mut self.conn(),
            &who,
            user_id,
            &form,
            now_utc(),
        )
        .expect("token made")
    }

    /// A program calling the API: no cookies, no redirects followed, `token` as its bearer.
    pub fn api(&self, token: Option<&str>) -> Api {
        Api::new(&self.base, token)
    }
}

/// A program calling the JSON API (`TestApp::api`).
pub struct Api {
    pub base: String,
    token: Option<String>,
    client: Client,
}

impl Api {
    /// A program calling the server at `base`, with `token` if given.
    pub fn new(base: &str, token: Option<&str>) -> Api {
        Api {
            base: base.to_string(),
            token: token.map(str::to_string),
            client: Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client"),
        }
    }

    pub fn request(
        &self,
        method: reqwest::Method,
        path: &str,
    ) -> reqwest::blocking::RequestBuilder {
        let request = self.client.request(method, format!("{}{path}", self.base));
        match &self.token {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
    }

    /// The status and the JSON body of a GET.
    pub fn get(&self, path: &str) -> (StatusCode, serde_json::Value) {
        read_json(
            self.request(reqwest::Method::GET, path)
                .send()
                .expect("GET"),
        )
    }

    /// The status and the JSON body of a POST of `body` with these headers.
    pub fn post(
        &self,
        path: &str,
        headers: &[(&str, &str)],
        body: &serde_json::Value,
    ) -> (StatusCode, serde_json::Value) {
        let mut request = self.request(reqwest::Method::POST, path).json(body);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        read_json(request.send().expect("POST"))
    }
}

/// A response's `Idempotent-Replayed` header, if it has one.
pub fn replayed(res: &Response) -> Option<String> {
    let value = res.headers().get("Idempotent-Replayed")?;
    value.to_str().ok().map(str::to_string)
}

/// A response's status and JSON body (null when the body is not JSON).
pub fn read_json(res: Response) -> (StatusCode, serde_json::Value) {
    let status = res.status();
    let body = res.json().unwrap_or(serde_json::Value::Null);
    (status, body)
}

/// Starts the application on `listener` in a thread of its own.
fn serve(
    config: Config,
    listener: TcpListener,
) -> (Pool, actix_web::dev::ServerHandle, JoinHandle<()>) {
    let pool =
        db::open_server_pool(&config.database_url, config.pool_size).expect("database opens");
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
    (pool, handle, thread)
}

/// A second server over a `TestApp`'s database (see `TestApp::another_server`); stopped
/// when dropped.
pub struct OtherServer {
    pub base: String,
    handle: Option<actix_web::dev::ServerHandle>,
    thread: Option<JoinHandle<()>>,
}

impl Drop for OtherServer {
    fn drop(&mut self) {
        if let Some(handle) = self.handle.take() {
            drop(handle.stop(false));
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
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
    jar: Arc<reqwest::cookie::Jar>,
}

impl Browser {
    /// A visitor of the server at `base` with an empty cookie jar.
    pub fn new(base: &str) -> Browser {
        Browser::with_headers(base, reqwest::header::HeaderMap::new())
    }

    /// A visitor whose every request carries `headers` (a proxy's `X-Forwarded-For`).
    pub fn with_headers(base: &str, headers: reqwest::header::HeaderMap) -> Browser {
        let jar = Arc::new(reqwest::cookie::Jar::default());
        let client = Client::builder()
            .default_headers(headers)
            .cookie_provider(jar.clone())
            .redirect(reqwest::redirect::Policy::none())
            // The server closes a connection idle for 5 s (actix's keep-alive); a client
            // that reused one at that moment would see it cut under its request. Idle
            // connections are dropped well before, as a browser does.
            .pool_idle_timeout(std::time::Duration::from_secs(2))
            .build()
            .expect("http client");
        Browser {
            client,
            base: base.to_string(),
            jar,
        }
    }

    /// Another client holding a copy of this one's cookies, talking to the server at
    /// `base`: what someone who copied the session cookie has.
    pub fn copy_to(&self, base: &str) -> Browser {
        use reqwest::cookie::CookieStore;
        let copy = Browser::new(base);
        let from: url::Url = self.base.parse().expect("base URL");
        let to: url::Url = base.parse().expect("base URL");
        if let Some(cookies) = self.jar.cookies(&from) {
            for pair in cookies.to_str().expect("cookie header").split("; ") {
                copy.jar.add_cookie_str(&format!("{pair}; Path=/"), &to);
            }
        }
        copy
    }

    /// `copy_to` the same server.
    pub fn copy(&self) -> Browser {
        self.copy_to(&self.base)
    }

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

/// The one whole number a query answers as `n` (cast to BIGINT where needed).
pub fn scalar(conn: &mut DbConn, sql: &str) -> i64 {
    #[derive(diesel::QueryableByName)]
    struct N {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let row: N = diesel::sql_query(sql)
        .get_result(conn)
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    row.n
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
        SmtpServer::start_with(port, None)
    }

    /// A server that stores each message at once but answers the client's DATA only
    /// `delay_secs` later: a sender can be caught between the two.
    pub fn start_slow(delay_secs: f64) -> SmtpServer {
        SmtpServer::start_with(free_port(), Some(delay_secs))
    }

    fn start_with(port: u16, delay_secs: Option<f64>) -> SmtpServer {
        let python = std::env::var("VM_TEST_PYTHON")
            .expect("VM_TEST_PYTHON names a Python with aiosmtpd (run ./scripts/test)");
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let parent = std::env::temp_dir().join(format!("vm-smtp-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&parent);
        std::fs::create_dir_all(&parent).expect("maildir parent");
        // aiosmtpd's Mailbox creates the Maildir itself: it must not exist yet.
        let maildir = parent.join("mail");
        let mut command = std::process::Command::new(python);
        command
            .args(["-m", "aiosmtpd", "-n", "-l"])
            .arg(format!("127.0.0.1:{port}"));
        match delay_secs {
            None => command
                .args(["-c", "aiosmtpd.handlers.Mailbox"])
                .arg(&maildir),
            Some(delay) => {
                std::fs::write(parent.join("slow_mailbox.py"), SLOW_MAILBOX).expect("handler");
                command
                    .env("PYTHONPATH", &parent)
                    .args(["-c", "slow_mailbox.SlowMailbox"])
                    .arg(&maildir)
                    .arg(delay.to_string())
            }
        };
        let child = command
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

/// aiosmtpd's Maildir handler, answering each DATA some seconds after storing it.
const SLOW_MAILBOX: &str = r#"
import asyncio
from aiosmtpd.handlers import Mailbox

class SlowMailbox(Mailbox):
    def __init__(self, mail_dir, delay):
        super().__init__(mail_dir)
        self.delay = delay

    async def handle_DATA(self, server, session, envelope):
        reply = await super().handle_DATA(server, session, envelope)
        await asyncio.sleep(self.delay)
        return reply

    @classmethod
    def from_cli(cls, parser, *args):
        return cls(args[0], float(args[1]))
"#;

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
    /// Without the angle brackets.
    pub message_id: String,
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
            message_id: message.message_id().unwrap_or_default().to_string(),
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
