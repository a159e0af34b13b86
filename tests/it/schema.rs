//! Both migration sets end with the same tables and columns.

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
