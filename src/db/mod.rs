//! Database access: one connection type over SQLite and PostgreSQL, the pool, the
//! embedded migrations, and the few places where the two backends must differ.
//!
//! Everything below `db::` runs queries and knows nothing of HTTP. Query modules are
//! grouped by table: `catalog` (places, products), `accounts` (users and their scopes),
//! `audit`.

pub mod accounts;
pub mod api_limits;
pub mod api_tokens;
pub mod audit;
pub mod canteen;
pub mod canteen_statements;
pub mod catalog;
pub mod households;
pub mod ledger;
pub mod live;
pub mod live_hosts;
pub mod orders;
pub mod outbox;
pub mod payments;
pub mod reports;
pub mod schema;
pub mod shipments;
pub mod standing_orders;
pub mod stock;

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use diesel::connection::{AnsiTransactionManager, SimpleConnection, TransactionManager};
use diesel::prelude::*;
use diesel::r2d2::{self, ManageConnection, R2D2Connection};
use diesel::sql_types;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

/// One connection to whichever backend `DATABASE_URL` names.
#[derive(diesel::MultiConnection)]
pub enum DbConn {
    Sqlite(diesel::SqliteConnection),
    Pg(diesel::PgConnection),
}

pub type Pool = r2d2::Pool<Manager>;
pub type PooledConn = r2d2::PooledConnection<Manager>;

/// Runs `f` with a pooled connection on the blocking thread pool, so that database
/// work never stalls the async workers.
pub async fn blocking<T, E, F>(pool: &Pool, f: F) -> Result<T, E>
where
    F: FnOnce(&mut DbConn) -> Result<T, E> + Send + 'static,
    T: Send + 'static,
    E: From<r2d2::PoolError> + From<tokio::task::JoinError> + Send + 'static,
{
    let pool = pool.clone();
    tokio::task::spawn_blocking(move || {
        let mut conn = checkout(&pool)?;
        f(&mut conn)
    })
    .await?
}

/// A connection that answered this recently is handed out again without being asked
/// whether it still does (as HikariCP's `aliveBypassWindow`): in a rush every request
/// took one more round trip (`SELECT 1`) for a question answered a moment before; without
/// it a flash sale on PostgreSQL took about a tenth more orders a second (issue #11). What
/// this costs: for at most this long after the database restarts, a request may be given
/// a connection that is gone, and fail.
pub const ANSWERED_RECENTLY: Duration = Duration::from_millis(500);

/// When a pooled connection last answered `ping` (kept in the pool's extensions).
struct Answered(std::time::Instant);

/// A connection from the pool that answers: asked with a `ping` unless it answered one in
/// the last `ANSWERED_RECENTLY`. One that does not answer is marked broken, so that the
/// pool drops it when it comes back, and the next is tried; with the database gone, the
/// pool's wait for a new connection ends the search with its error.
pub fn checkout(pool: &Pool) -> Result<PooledConn, r2d2::PoolError> {
    loop {
        let mut conn = pool.get()?;
        let recently = r2d2::PooledConnection::extensions(&conn)
            .get::<Answered>()
            .is_some_and(|at| at.0.elapsed() < ANSWERED_RECENTLY);
        if recently {
            return Ok(conn);
        }
        if ping(&mut conn).is_ok() {
            r2d2::PooledConnection::extensions_mut(&mut conn)
                .insert(Answered(std::time::Instant::now()));
            return Ok(conn);
        }
        <DbConn as Connection>::TransactionManager::transaction_manager_status_mut(&mut conn)
            .set_in_error();
    }
}

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

/// A parsed `DATABASE_URL`. Its `Display` hides the password, so it can be logged.
#[derive(Clone)]
pub struct DatabaseUrl {
    raw: String,
    backend: Backend,
    sqlite_path: Option<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum DbSetupError {
    #[error("DATABASE_URL {url}: unknown scheme (use sqlite://path or postgres://…)")]
    UnknownScheme { url: String },
    #[error("cannot open database {url}: {reason}")]
    Connect { url: String, reason: String },
    #[error("migrations failed on {url}: {reason}")]
    Migrate { url: String, reason: String },
}

impl DatabaseUrl {
    pub fn parse(raw: &str) -> Result<Self, DbSetupError> {
        let raw = raw.trim().to_string();
        if let Some(rest) = raw
            .strip_prefix("sqlite://")
            .or_else(|| raw.strip_prefix("sqlite:"))
        {
            if rest.is_empty() {
                return Err(DbSetupError::UnknownScheme { url: raw });
            }
            let path = PathBuf::from(rest);
            return Ok(Self {
                raw,
                backend: Backend::Sqlite,
                sqlite_path: Some(path),
            });
        }
        if raw.starts_with("postgres://") || raw.starts_with("postgresql://") {
            return Ok(Self {
                raw,
                backend: Backend::Postgres,
                sqlite_path: None,
            });
        }
        Err(DbSetupError::UnknownScheme { url: redact(&raw) })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&redact(&self.raw))
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DatabaseUrl({self})")
    }
}

fn redact(raw: &str) -> String {
    match url::Url::parse(raw) {
        Ok(mut url) if url.password().is_some() => {
            let _ = url.set_password(Some("***"));
            url.to_string()
        }
        _ => raw.to_string(),
    }
}

/// Opens connections for the pool on the backend the URL names, and nothing else:
/// an unreachable PostgreSQL must never fall back to creating a SQLite file.
pub struct Manager {
    url: DatabaseUrl,
    /// SQLite: leave the log's checkpoints to `checkpoint` (a server's jobs loop) instead
    /// of the commit that fills it (`open_server_pool`).
    background_checkpoints: bool,
}

impl Manager {
    fn open(&self) -> Result<DbConn, ConnectionError> {
        match self.url.backend {
            Backend::Sqlite => {
                let path = self
                    .url
                    .sqlite_path
                    .as_ref()
                    .map(|p| p.to_string_lossy().into_owned());
                let mut conn =
                    diesel::SqliteConnection::establish(path.as_deref().unwrap_or_default())?;
                // Every SQLite connection: wait for a busy writer instead of failing at once
                // (set first: switching to WAL takes a lock that another process may
                // hold), enforce foreign keys, and let readers run beside the one writer.
                // Temporary data stays in memory: every piece of a shared commit
                // (`write_together`) is a savepoint, whose journal of the pages it changed
                // was otherwise written to a temporary file, a tenth of a flash sale's
                // database time (issue #11).
                conn.batch_execute(&format!(
                    "PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}; PRAGMA foreign_keys = ON; \
                     PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
                     PRAGMA temp_store = MEMORY;"
                ))
                .map_err(ConnectionError::CouldntSetupConfiguration)?;
                if self.background_checkpoints {
                    conn.batch_execute("PRAGMA wal_autocheckpoint = 0;")
                        .map_err(ConnectionError::CouldntSetupConfiguration)?;
                }
                Ok(DbConn::Sqlite(conn))
            }
            Backend::Postgres => Ok(DbConn::Pg(diesel::PgConnection::establish(&self.url.raw)?)),
        }
    }
}

impl ManageConnection for Manager {
    type Connection = DbConn;
    type Error = r2d2::Error;

    fn connect(&self) -> Result<DbConn, r2d2::Error> {
        self.open().map_err(r2d2::Error::ConnectionError)
    }

    fn is_valid(&self, conn: &mut DbConn) -> Result<(), r2d2::Error> {
        conn.ping().map_err(r2d2::Error::QueryError)
    }

    fn has_broken(&self, conn: &mut DbConn) -> bool {
        conn.is_broken()
    }
}

/// Opens one connection to the database (creating a SQLite file's folder if needed) and
/// runs pending migrations. Fails with one line naming the URL. The one-shot commands
/// work on this alone: a pool would go on opening connections in threads of its own,
/// and a process ending while one of them is half-open can crash on its way out.
pub fn open_connection(url: &DatabaseUrl) -> Result<DbConn, DbSetupError> {
    if let Some(parent) = url.sqlite_path.as_ref().and_then(|p| p.parent()) {
        if !parent.as_os_str().is_empty() {
            std::fs::create_dir_all(parent).map_err(|e| DbSetupError::Connect {
                url: url.to_string(),
                reason: e.to_string(),
            })?;
        }
    }
    let manager = Manager {
        url: url.clone(),
        background_checkpoints: false,
    };
    let mut conn = manager.open().map_err(|e| DbSetupError::Connect {
        url: url.to_string(),
        reason: e.to_string().trim().replace('\n', " "),
    })?;
    run_migrations(&mut conn).map_err(|e| DbSetupError::Migrate {
        url: url.to_string(),
        reason: e.to_string(),
    })?;
    Ok(conn)
}

/// Opens the database as `open_connection` does, and returns a pool for a server.
pub fn open_pool(url: &DatabaseUrl, max_size: u32) -> Result<Pool, DbSetupError> {
    pool_of(url, max_size, false)
}

/// A pool for a server, whose jobs loop checkpoints SQLite's log every second
/// (`checkpoint`). By default SQLite checkpoints in the commit that fills the log past a
/// thousand pages, which here is inside the writers' turn (`write_transaction`): in a
/// flash sale every buyer waited while one commit copied the log into the database.
pub fn open_server_pool(url: &DatabaseUrl, max_size: u32) -> Result<Pool, DbSetupError> {
    pool_of(url, max_size, true)
}

fn pool_of(
    url: &DatabaseUrl,
    max_size: u32,
    background_checkpoints: bool,
) -> Result<Pool, DbSetupError> {
    drop(open_connection(url)?);
    let manager = Manager {
        url: url.clone(),
        background_checkpoints,
    };
    r2d2::Pool::builder()
        .max_size(max_size)
        // Every connection is kept open, however long idle, the pool's size fixed: a
        // flash sale starts with a thousand phones at once, after a quiet hour. With one
        // kept, its first buyers waited while the pool opened the rest, each a new
        // PostgreSQL backend with cold caches and nothing prepared (issue #11: p99 over
        // 100 ms from that wave alone). `build` waits until they are open.
        .min_idle(None)
        .idle_timeout(None)
        // `checkout` asks a connection whether it still answers, when it has not lately.
        .test_on_check_out(false)
        .connection_timeout(Duration::from_secs(10))
        .build(manager)
        .map_err(|e| DbSetupError::Connect {
            url: url.to_string(),
            reason: e.to_string(),
        })
}

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error(
        "backup: {url} is PostgreSQL: back it up with pg_dump (pg_dump -Fc -f FILE DATABASE_URL; restore with pg_restore)"
    )]
    Postgres { url: String },
    #[error("backup: {path} already exists; name a new file")]
    Exists { path: String },
    #[error("backup: there is no database at {path}")]
    NoDatabase { path: String },
    #[error("backup of {url} into {path} failed: {reason}")]
    Failed {
        url: String,
        path: String,
        reason: String,
    },
}

/// Copies a SQLite database into the new file `into` with `VACUUM INTO`: one read
/// transaction, so the copy is the database at one moment, taken while the server goes
/// on writing (WAL lets readers and the writer run side by side), as one file with no
/// `-wal` beside it. An existing file is never overwritten. PostgreSQL has `pg_dump`.
/// The database is copied as it is, not migrated first: a copy taken before an upgrade
/// holds the old schema.
pub fn backup(url: &DatabaseUrl, into: &Path) -> Result<(), BackupError> {
    let Some(source) = url.sqlite_path.as_ref() else {
        return Err(BackupError::Postgres {
            url: url.to_string(),
        });
    };
    let path = into.display().to_string();
    if into.symlink_metadata().is_ok() {
        return Err(BackupError::Exists { path });
    }
    if !source.is_file() {
        return Err(BackupError::NoDatabase {
            path: source.display().to_string(),
        });
    }
    let failed = |reason: String| BackupError::Failed {
        url: url.to_string(),
        path: path.clone(),
        reason,
    };
    let target = into
        .to_str()
        .ok_or_else(|| failed("the file name is not UTF-8".into()))?;
    let mut conn = Manager {
        url: url.clone(),
        background_checkpoints: false,
    }
    .open()
    .map_err(|e| failed(e.to_string()))?;
    diesel::sql_query("VACUUM INTO ?")
        .bind::<sql_types::Text, _>(target)
        .execute(&mut conn)
        .map_err(|e| failed(e.to_string()))?;
    Ok(())
}

pub fn run_migrations(conn: &mut DbConn) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    match conn {
        DbConn::Sqlite(c) => c.run_pending_migrations(SQLITE_MIGRATIONS).map(|_| ()),
        DbConn::Pg(c) => c.run_pending_migrations(POSTGRES_MIGRATIONS).map(|_| ()),
    }
}

/// Copies what SQLite's log holds into the database file and starts the log again from
/// its beginning (`RESTART`); nothing on PostgreSQL. The bulk is copied first while
/// writers go on (`PASSIVE`). Then it holds this process's writers' turn while it copies
/// what they committed meanwhile and restarts the log: otherwise, with writers coming all
/// the time (a flash sale), the copy never catches up, the log is never started again and
/// every commit appends to new blocks of an ever larger file (190 MB in one `bench-live`
/// run). Copying and syncing a second's log whole inside the turn made every buyer of
/// that moment wait for it. It waits for readers still on the old log 20 ms at most, and
/// tries again next time if they hold it.
pub fn checkpoint(conn: &mut DbConn) -> QueryResult<()> {
    let DbConn::Sqlite(c) = conn else {
        return Ok(());
    };
    c.batch_execute("PRAGMA wal_checkpoint(PASSIVE);")?;
    let _turn = writer_turn();
    let done = c.batch_execute("PRAGMA busy_timeout = 20; PRAGMA wal_checkpoint(RESTART);");
    c.batch_execute(&format!("PRAGMA busy_timeout = {BUSY_TIMEOUT_MS};"))?;
    done
}

/// How long a SQLite connection waits for another process's writer before it fails.
const BUSY_TIMEOUT_MS: u32 = 10_000;

/// This process's turn to write to SQLite (`SQLITE_WRITER_TURN`). A writer that panicked
/// left nothing behind it: the turn is still good to take.
fn writer_turn() -> std::sync::MutexGuard<'static, ()> {
    lock(&SQLITE_WRITER_TURN)
}

/// SQLite has one writer at a time. The process's writers take turns here before they ask
/// SQLite for the lock: the next is woken the moment the last commits, where SQLite's own
/// busy handler would have each of them sleep and poll (up to 100 ms a nap), which in a
/// flash sale made the slowest buyers' wait (its p99 over HTTP halves with the turn).
/// `busy_timeout` still covers another process (a second server, the CLI) writing the
/// same file. One turn for every SQLite database
/// of the process: a server has one; tests that run several only take turns more.
static SQLITE_WRITER_TURN: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Runs `f` in a transaction that takes the write lock at its start. On SQLite that is
/// `BEGIN IMMEDIATE`, taken in turn with the process's other writers
/// (`SQLITE_WRITER_TURN`), so that two writers queue instead of failing when a read lock
/// would have to be upgraded; PostgreSQL's ordinary transaction already does.
pub fn write_transaction<T, E>(
    conn: &mut DbConn,
    f: impl FnOnce(&mut DbConn) -> Result<T, E>,
) -> Result<T, E>
where
    E: From<diesel::result::Error>,
{
    let DbConn::Sqlite(sqlite) = conn else {
        return conn.transaction(f);
    };
    // Inside an open transaction the lock is already held: nest as a savepoint.
    if in_transaction(sqlite) {
        return conn.transaction(f);
    }
    let _turn = writer_turn();
    AnsiTransactionManager::begin_transaction_sql(sqlite, "BEGIN IMMEDIATE")?;
    let result = f(conn);
    let DbConn::Sqlite(sqlite) = conn else {
        unreachable!("the connection's backend does not change inside a transaction")
    };
    match result {
        Ok(value) => {
            AnsiTransactionManager::commit_transaction(sqlite)?;
            Ok(value)
        }
        Err(e) => {
            AnsiTransactionManager::rollback_transaction(sqlite)?;
            Err(e)
        }
    }
}

/// Runs `prepare`, then `take` with what it prepared, in one write transaction, as a
/// flash sale's buyers need: `take` is the work on the `lane`'s one hot row (a link's
/// item, which every buyer of the rush waits for), so it comes last and the row is held
/// for as short a time as can be. Either failing rolls back both. `prepare` and `take`
/// own what they use: another thread may run them.
///
/// On SQLite, which has one writer, the work shares its transaction with the work other
/// threads of the process bring at the same moment (group commit): whoever finds no one
/// writing runs everything queued for the file, each piece in a savepoint of its own,
/// commits once, and hands the turn to the first piece that came meanwhile. A piece that
/// fails is rolled back to its savepoint and leaves the others alone; if the commit itself
/// fails, every piece gets the error. The orders of one commit share their tables' last
/// pages in the log and the writers' turn passes once per commit.
///
/// On PostgreSQL the work is a transaction of its own: `prepare` runs side by side with
/// the other buyers', and the process's writers of one lane take turns for `take` and the
/// commit (`write_in_turn`).
pub fn write_together<P, T, E>(
    conn: &mut DbConn,
    lane: &str,
    prepare: impl FnOnce(&mut DbConn) -> Result<P, E> + Send + 'static,
    take: impl FnOnce(&mut DbConn, P) -> Result<T, E> + Send + 'static,
) -> Result<T, E>
where
    T: Send + 'static,
    E: From<diesel::result::Error> + Send + 'static,
{
    let nested = match conn {
        DbConn::Sqlite(c) => in_transaction(c),
        DbConn::Pg(c) => in_transaction(c),
    };
    let file = match conn {
        // Inside a transaction already, the work is part of it.
        _ if nested => None,
        DbConn::Pg(_) => return write_in_turn(conn, lane, prepare, take),
        DbConn::Sqlite(c) => Some(sqlite_file(c)?),
    };
    let work = move |conn: &mut DbConn| prepare(conn).and_then(|prepared| take(conn, prepared));
    let Some(file) = file else {
        return write_transaction(conn, work);
    };
    // Room for the one message that is ever waiting: the answer, or the turn to lead.
    let (tell, heard) = std::sync::mpsc::sync_channel::<Heard<Result<T, E>>>(1);
    let tell_lead = tell.clone();
    let piece = Piece {
        run: Box::new(move |conn| {
            let result = conn.transaction(work);
            let answer: Tell = Box::new(move |committed| {
                let result = match (committed, result) {
                    (Err(why), Ok(_)) => Err(E::from(commit_failed(why))),
                    (_, result) => result,
                };
                // Its thread is waiting for it; nothing to do if it is gone.
                let _ = tell.send(Heard::Answer(result));
            });
            answer
        }),
        lead: Box::new(move || {
            let _ = tell_lead.send(Heard::Lead);
        }),
    };
    let first = {
        let mut queues = lock(&TOGETHER);
        let queue = queues.entry(file.clone()).or_default();
        queue.pieces.push(piece);
        !std::mem::replace(&mut queue.writing, true)
    };
    if first {
        lead(conn, &file);
    }
    loop {
        match heard.recv() {
            Ok(Heard::Answer(result)) => return result,
            Ok(Heard::Lead) => lead(conn, &file),
            Err(_) => {
                let why = "the shared write transaction did not run it";
                return Err(E::from(commit_failed(why.into())));
            }
        }
    }
}

/// What a thread waiting in `write_together` hears: its work's answer, or that it is its
/// turn to write the next shared commit (its own work is still queued, so it is in it).
enum Heard<R> {
    Answer(R),
    Lead,
}

/// A piece of `write_together`'s work: it runs, then hears whether its commit held; or
/// its thread is told to lead the next commit.
struct Piece {
    run: Box<dyn FnOnce(&mut DbConn) -> Tell + Send>,
    lead: Box<dyn Fn() + Send>,
}

/// Tells a piece's thread its answer once its commit held, or why it did not.
type Tell = Box<dyn FnOnce(Result<(), String>) + Send>;

/// The pieces waiting for a database's next shared commit, and whether a thread is
/// writing one (it hands the turn on to the first waiting piece's thread).
#[derive(Default)]
struct Together {
    pieces: Vec<Piece>,
    writing: bool,
}

/// Each SQLite file's `Together`: a server has one; tests run several side by side.
static TOGETHER: std::sync::LazyLock<std::sync::Mutex<HashMap<String, Together>>> =
    std::sync::LazyLock::new(Default::default);

/// Writes one shared commit of everything queued for `file`, then hands the turn on.
fn lead(conn: &mut DbConn, file: &str) {
    let pieces = std::mem::take(&mut lock(&TOGETHER).entry(file.to_string()).or_default().pieces);
    let _hand_on = HandOn(file);
    commit_together(conn, pieces);
}

/// Hands the turn to write on when dropped, even if a piece panicked: to the thread of
/// the first piece that came meanwhile, or to no one.
struct HandOn<'a>(&'a str);

impl Drop for HandOn<'_> {
    fn drop(&mut self) {
        if let Some(queue) = lock(&TOGETHER).get_mut(self.0) {
            match queue.pieces.first() {
                Some(next) => (next.lead)(),
                None => queue.writing = false,
            }
        }
    }
}

/// The file a SQLite connection has open, which names its writers' queue (kept prepared:
/// it runs for every order of a rush).
fn sqlite_file(sqlite: &mut diesel::SqliteConnection) -> QueryResult<String> {
    Prepared::one_text(diesel::select(diesel::dsl::sql::<sql_types::Text>(
        "(SELECT file FROM pragma_database_list WHERE name = 'main')",
    )))
    .get_result(sqlite)
}

/// A process-wide lock; one whose holder panicked is still good to take (each holder
/// leaves its state whole between statements).
fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// `write_together` on PostgreSQL: `prepare` and `take` in a transaction of their own,
/// whose last step, from `take` (the statement on the lane's hot row) to the commit, waits
/// its turn among this process's writers of the lane. The process's other buyers of the
/// item wait here, each woken in its turn, rather than in PostgreSQL's queue for the row,
/// where with two processes twenty backends queued and the row passed between them one
/// wake-up at a time; `prepare`'s statements still run side by side on each buyer's own
/// connection. The turn is kept by the lane's name alone: two databases a process reaches
/// (the tests') with a lane of one name only take turns more.
fn write_in_turn<P, T, E>(
    conn: &mut DbConn,
    lane: &str,
    prepare: impl FnOnce(&mut DbConn) -> Result<P, E>,
    take: impl FnOnce(&mut DbConn, P) -> Result<T, E>,
) -> Result<T, E>
where
    E: From<diesel::result::Error>,
{
    let turn = lock(&LANE_TURNS)
        .entry(lane.to_string())
        .or_default()
        .clone();
    let mut held = None;
    let result = write_transaction(conn, |conn| {
        let prepared = prepare(conn)?;
        held = Some(lock(turn.as_ref()));
        take(conn, prepared)
    });
    // Only now that the transaction has ended (and the row is free) does the next go.
    drop(held);
    result
}

/// Each lane's turn on PostgreSQL (`write_in_turn`): one per link's item sold since the
/// process started.
static LANE_TURNS: std::sync::LazyLock<
    std::sync::Mutex<HashMap<String, std::sync::Arc<std::sync::Mutex<()>>>>,
> = std::sync::LazyLock::new(Default::default);

fn in_transaction<C>(c: &mut C) -> bool
where
    C: Connection<TransactionManager = AnsiTransactionManager>,
{
    matches!(
        AnsiTransactionManager::transaction_manager_status_mut(c).transaction_depth(),
        Ok(Some(_))
    )
}

/// Runs `pieces` in one write transaction and tells each how its commit went. If
/// the transaction cannot even begin, the pieces are dropped unrun and their threads hear
/// that.
fn commit_together(conn: &mut DbConn, pieces: Vec<Piece>) {
    let mut tells = Vec::with_capacity(pieces.len());
    let committed = write_transaction(conn, |conn| -> QueryResult<()> {
        tells.extend(pieces.into_iter().map(|piece| (piece.run)(conn)));
        Ok(())
    });
    let committed = committed.map_err(|e| e.to_string());
    for tell in tells {
        tell(committed.clone());
    }
}

fn commit_failed(why: String) -> diesel::result::Error {
    diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::Unknown, Box::new(why))
}

/// Inserts many rows in batches of a few hundred. A multi-row `INSERT` is where the
/// backends' diesel types differ, so each gets its own arm; the SQL is the same.
macro_rules! insert_batched {
    ($conn:expr, $table:expr, $rows:expr) => {{
        for chunk in $rows.chunks(500) {
            match $conn {
                $crate::db::DbConn::Sqlite(c) => {
                    diesel::insert_into($table).values(chunk).execute(c)?;
                }
                $crate::db::DbConn::Pg(c) => {
                    diesel::insert_into($table).values(chunk).execute(c)?;
                }
            }
        }
        Ok(())
    }};
}
pub(crate) use insert_batched;

/// A statement kept prepared on its connection, known by its SQL, where diesel would parse
/// and plan it anew at every run. diesel keeps no `UPDATE`, no upsert and no multi-row
/// `INSERT` (nor an `INSERT` with a `DEFAULT`) prepared, because such a statement may be
/// written in endlessly many texts, and every text kept is a prepared statement held on
/// its connection (and, on PostgreSQL, in its server process) for as long as it lives.
/// A link order took five such statements, each one fixed text, and parsing and planning
/// them was about a seventh of PostgreSQL's CPU in a flash sale (issue #11).
///
/// So: `Prepared::one_text` only for a statement whose text never changes with its
/// values, and `Prepared::rows` for a multi-row `INSERT`, whose text changes with its
/// number of rows: kept up to `KEPT_ROWS` rows, so at most that many texts per table.
///
/// It is run by loading what it returns (`get_result`, `get_results`), so an `UPDATE` or an
/// `INSERT` is given a `RETURNING`; it has no `execute`. diesel's `execute` asks a reference
/// to the statement whether it may be kept, and a reference answers for itself (diesel
/// 2.3): run that way it would be parsed anew each time, silently. On SQLite diesel writes
/// a multi-row `INSERT` its own way, one statement per row, each kept already, which this
/// cannot wrap: `Prepared::rows` is for PostgreSQL.
#[derive(Debug, Clone, Copy)]
pub struct Prepared<Q> {
    query: Q,
    keep: bool,
}

/// The most rows a multi-row `INSERT` may have and still be kept prepared.
pub const KEPT_ROWS: usize = 8;

impl<Q> Prepared<Q> {
    /// A statement of one fixed text, whatever its values.
    pub fn one_text(query: Q) -> Self {
        Prepared { query, keep: true }
    }

    /// A multi-row `INSERT` of `rows` rows: kept if they are few.
    pub fn rows(query: Q, rows: usize) -> Self {
        Prepared {
            query,
            keep: rows <= KEPT_ROWS,
        }
    }
}

/// What diesel loads a `Prepared` as. `Prepared` itself is no query, so that it cannot
/// be `execute`d.
#[derive(Debug, Clone, Copy)]
pub struct PreparedQuery<Q>(Prepared<Q>);

impl<Q: diesel::query_builder::Query> diesel::query_builder::AsQuery for Prepared<Q> {
    type SqlType = Q::SqlType;
    type Query = PreparedQuery<Q>;

    fn as_query(self) -> PreparedQuery<Q> {
        PreparedQuery(self)
    }
}

impl<DB, Q> diesel::query_builder::QueryFragment<DB> for PreparedQuery<Q>
where
    DB: diesel::backend::Backend,
    Q: diesel::query_builder::QueryFragment<DB>,
{
    fn walk_ast<'b>(&'b self, pass: diesel::query_builder::AstPass<'_, 'b, DB>) -> QueryResult<()> {
        self.0.query.walk_ast(pass)
    }

    fn is_safe_to_cache_prepared(&self, backend: &DB) -> QueryResult<bool> {
        if self.0.keep {
            Ok(true)
        } else {
            self.0.query.is_safe_to_cache_prepared(backend)
        }
    }
}

/// No id of its type: the statement cache then knows it by its SQL and binds' types.
impl<Q> diesel::query_builder::QueryId for PreparedQuery<Q> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<Q: diesel::query_builder::Query> diesel::query_builder::Query for PreparedQuery<Q> {
    type SqlType = Q::SqlType;
}

impl<Q, Conn> RunQueryDsl<Conn> for Prepared<Q> {}

/// Answers whether the database is reachable right now.
pub fn ping(conn: &mut DbConn) -> QueryResult<()> {
    conn.batch_execute("SELECT 1")
}

#[derive(QueryableByName)]
struct ColumnRow {
    #[diesel(sql_type = sql_types::Text)]
    table_name: String,
    #[diesel(sql_type = sql_types::Text)]
    column_name: String,
    #[diesel(sql_type = sql_types::Text)]
    data_type: String,
    #[diesel(sql_type = sql_types::Bool)]
    not_null: bool,
}

/// Every application table's columns as `(table, column, type class, not null)`, sorted,
/// in terms both backends share: used to prove the two migration sets agree.
pub fn table_columns(conn: &mut DbConn) -> QueryResult<Vec<(String, String, &'static str, bool)>> {
    let sql = match conn {
        DbConn::Sqlite(_) => {
            "SELECT m.name AS table_name, p.name AS column_name, p.type AS data_type, \
                    (p.\"notnull\" = 1 OR p.pk > 0) AS not_null \
             FROM sqlite_master m, pragma_table_info(m.name) p \
             WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' \
               AND m.name <> '__diesel_schema_migrations'"
        }
        DbConn::Pg(_) => {
            "SELECT table_name::text AS table_name, column_name::text AS column_name, \
                    data_type::text AS data_type, (is_nullable = 'NO') AS not_null \
             FROM information_schema.columns \
             WHERE table_schema = current_schema() AND table_name <> '__diesel_schema_migrations'"
        }
    };
    let rows: Vec<ColumnRow> = diesel::sql_query(sql).load(conn)?;
    let mut out: Vec<_> = rows
        .into_iter()
        .map(|r| {
            (
                r.table_name,
                r.column_name,
                type_class(&r.data_type),
                r.not_null,
            )
        })
        .collect();
    out.sort();
    Ok(out)
}

fn type_class(declared: &str) -> &'static str {
    let t = declared.to_ascii_lowercase();
    if t.contains("int") {
        "integer"
    } else if t.contains("bool") {
        "bool"
    } else if t.starts_with("timestamp") {
        "timestamp"
    } else if t == "date" {
        "date"
    } else if t.contains("text") || t.contains("char") {
        "text"
    } else {
        "other"
    }
}
