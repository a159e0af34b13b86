//! Both migration sets end with the same tables and columns; the bundled SQLite is built as
//! `.cargo/config.toml` says.

use village_market::db::{self, Backend};

use crate::support::{FreshDatabase, test_config};

fn columns_of(backend: Backend) -> Vec<(String, String, &'static str, bool)> {
    let database = FreshDatabase::new(backend);
    let config = test_config(&database);
    let pool = db::open_pool(&config.database_url, 1).expect("database opens");
    let mut conn = pool.get().expect("connection");
    db::table_columns(&mut conn).expect("columns")
}

#[test]
fn both_backends_have_the_same_tables_and_columns() {
    let sqlite = columns_of(Backend::Sqlite);
    let postgres = columns_of(Backend::Postgres);
    assert!(
        sqlite
            .iter()
            .any(|(t, c, ..)| t == "households" && c == "resident_members")
    );
    assert!(
        sqlite.len() > 80,
        "every table is there: {} columns",
        sqlite.len()
    );
    let only_sqlite: Vec<_> = sqlite.iter().filter(|c| !postgres.contains(c)).collect();
    let only_postgres: Vec<_> = postgres.iter().filter(|c| !sqlite.contains(c)).collect();
    assert!(
        only_sqlite.is_empty() && only_postgres.is_empty(),
        "only on SQLite: {only_sqlite:?}\nonly on PostgreSQL: {only_postgres:?}"
    );
}

#[test]
fn migrations_run_twice_change_nothing() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let database = FreshDatabase::new(backend);
        let config = test_config(&database);
        let pool = db::open_pool(&config.database_url, 1).expect("first open migrates");
        let before = db::table_columns(&mut pool.get().expect("connection")).expect("columns");
        drop(pool);
        let pool = db::open_pool(&config.database_url, 1).expect("second open finds nothing to do");
        let after = db::table_columns(&mut pool.get().expect("connection")).expect("columns");
        assert_eq!(before, after, "{backend:?}");
    }
}

/// Built with the query planner stability guarantee (`.cargo/config.toml`): without it,
/// every `.first()` (a bound `LIMIT 1`) was parsed and planned again on every run.
#[test]
fn sqlite_keeps_each_statements_plan_whatever_is_bound() {
    let database = FreshDatabase::new(Backend::Sqlite);
    let config = test_config(&database);
    let pool = db::open_pool(&config.database_url, 1).expect("database opens");
    let mut conn = pool.get().expect("connection");
    let built_so = crate::support::scalar(
        &mut conn,
        "SELECT COUNT(*) AS n FROM pragma_compile_options WHERE compile_options = 'ENABLE_QPSG'",
    );
    assert_eq!(built_so, 1, "SQLite built with SQLITE_ENABLE_QPSG");
}

/// A server copies SQLite's log into the database file itself, every second (`jobs`),
/// rather than in whichever commit fills the log, inside the writers' turn. 2 MB written
/// stays below SQLite's own threshold (1,000 pages), so only the server's pass moves it.
#[test]
fn the_server_checkpoints_sqlites_log_between_the_commits() {
    let app = crate::support::TestApp::start(Backend::Sqlite);
    let file = app.database.dir.join("test.db");
    let size = || std::fs::metadata(&file).expect("the database file").len();
    let before = size();
    app.execute("CREATE TABLE ballast (b BLOB)");
    app.execute("INSERT INTO ballast VALUES (randomblob(2000000))");
    crate::support::wait_until(
        "the log copied into the database file",
        std::time::Duration::from_secs(10),
        || size() >= before + 2_000_000,
    );
}
