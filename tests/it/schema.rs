//! Both migration sets end with the same tables and columns; the bundled SQLite is built as
//! `.cargo/config.toml` says.

use diesel::RunQueryDsl;
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

/// Writers of the process that come at the same moment (`db::write_together`: on SQLite
/// they share a commit, on PostgreSQL they take turns for their last step) each keep their
/// own outcome: a piece that fails leaves the others' writes and answers alone. 8
/// threads, 40 pieces each, every third refused after it wrote.
#[test]
fn writers_committed_together_each_keep_their_own_outcome() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let database = FreshDatabase::new(backend);
        let config = test_config(&database);
        let pool = db::open_server_pool(&config.database_url, 8).expect("database opens");
        diesel::sql_query("CREATE TABLE pieces (n BIGINT PRIMARY KEY)")
            .execute(&mut pool.get().expect("connection"))
            .expect("table");
        // A refused piece says NotFound, which nothing else here does.
        type Answer = Result<i64, diesel::result::Error>;
        let answers: Vec<(i64, Answer)> = std::thread::scope(|s| {
            let threads: Vec<_> = (0..8)
                .map(|t| {
                    let pool = &pool;
                    s.spawn(move || {
                        let mut conn = pool.get().expect("connection");
                        (0..40)
                            .map(|i| {
                                let n = t * 1000 + i;
                                let insert = move |conn: &mut db::DbConn| {
                                    diesel::sql_query(format!("INSERT INTO pieces VALUES ({n})"))
                                        .execute(conn)
                                };
                                let answer =
                                    db::write_together(&mut conn, "pieces", insert, move |_, _| {
                                        if n % 3 == 0 {
                                            return Err(diesel::result::Error::NotFound);
                                        }
                                        Ok(n * 2)
                                    });
                                (n, answer)
                            })
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            threads
                .into_iter()
                .flat_map(|t| t.join().expect("thread"))
                .collect()
        });
        let mut conn = pool.get().expect("connection");
        for (n, answer) in &answers {
            let kept = crate::support::scalar(
                &mut conn,
                &format!("SELECT COUNT(*) AS n FROM pieces WHERE n = {n}"),
            );
            if n % 3 == 0 {
                assert!(
                    matches!(answer, Err(diesel::result::Error::NotFound)),
                    "{backend:?}: {n} {answer:?}"
                );
                assert_eq!(kept, 0, "{backend:?}: {n} rolled back alone");
            } else {
                assert!(
                    matches!(answer, Ok(m) if *m == n * 2),
                    "{backend:?}: {n}'s own answer, {answer:?}"
                );
                assert_eq!(kept, 1, "{backend:?}: {n} committed");
            }
        }
        assert_eq!(answers.len(), 320);
    }
}

/// On PostgreSQL the writers of one lane run their `prepare` side by side and take turns
/// for their `take` and commit, while another lane goes on: 8 writers in lane `a` and 8 in
/// lane `b` at once, each preparing for 100 ms and taking for 50 ms. One lane's takes
/// never overlap; the two lanes' do; the preparing overlapped (8 × 150 ms one after
/// another would be 1.2 s).
#[test]
fn postgres_writers_of_one_lane_take_turns_for_its_row_and_other_lanes_go_on() {
    use std::time::{Duration, Instant};
    let database = FreshDatabase::new(Backend::Postgres);
    let config = test_config(&database);
    let pool = db::open_server_pool(&config.database_url, 16).expect("database opens");
    diesel::sql_query("CREATE TABLE pieces (n BIGINT PRIMARY KEY)")
        .execute(&mut pool.get().expect("connection"))
        .expect("table");
    let start = Instant::now();
    // A writer in `lane` of row `n`: when its take began and ended.
    let writer = |lane: &'static str, n: i64| {
        let mut conn = pool.get().expect("connection");
        let prepare = move |conn: &mut db::DbConn| {
            std::thread::sleep(Duration::from_millis(100));
            diesel::sql_query(format!("INSERT INTO pieces VALUES ({n})")).execute(conn)
        };
        let take = |_: &mut db::DbConn, _| {
            let began = Instant::now();
            std::thread::sleep(Duration::from_millis(50));
            Ok::<_, diesel::result::Error>((began, Instant::now()))
        };
        let (began, ended) = db::write_together(&mut conn, lane, prepare, take).expect("committed");
        (lane, began, ended)
    };
    let writers: Vec<_> = std::thread::scope(|s| {
        let threads: Vec<_> = (0..16)
            .map(|n| s.spawn(move || writer(if n < 8 { "a" } else { "b" }, n)))
            .collect();
        threads
            .into_iter()
            .map(|t| t.join().expect("writer"))
            .collect()
    });
    let overlap =
        |x: &(&str, Instant, Instant), y: &(&str, Instant, Instant)| x.1 < y.2 && y.1 < x.2;
    for (i, x) in writers.iter().enumerate() {
        for y in &writers[i + 1..] {
            if x.0 == y.0 {
                assert!(!overlap(x, y), "two takes of lane {} at once", x.0);
            }
        }
    }
    assert!(
        writers
            .iter()
            .any(|x| x.0 == "a" && writers.iter().any(|y| y.0 == "b" && overlap(x, y))),
        "lane b waited for lane a"
    );
    let lane_a = writers
        .iter()
        .filter(|x| x.0 == "a")
        .map(|x| x.2)
        .max()
        .expect("lane a")
        - start;
    assert!(
        lane_a < Duration::from_millis(1100),
        "lane a's preparing side by side: {lane_a:?}"
    );
    let mut conn = pool.get().expect("connection");
    assert_eq!(
        crate::support::scalar(&mut conn, "SELECT COUNT(*) AS n FROM pieces"),
        16
    );
}

/// While writers never stop (phones buying in a flash sale), the server's checkpoint still
/// starts SQLite's log over: it copies the log between two commits, holding the
/// process's writers' turn. The log's header counts the times it started over. Before,
/// the copy never caught up with the commits and the log grew as long as they came.
#[test]
fn sqlites_log_starts_over_while_writers_keep_coming() {
    use chrono::Duration;
    use reqwest::StatusCode;
    use std::sync::atomic::{AtomicBool, Ordering};
    let app = crate::support::TestApp::start(Backend::Sqlite);
    let team = app.signed_in("team@example.com");
    app.execute("UPDATE products SET stock = 100000 WHERE slug = 'huangmi-gaomian'");
    let start = village_market::domain::now_utc() - Duration::minutes(5);
    let session = crate::live::new_session(&app, &team, start);
    let page = format!("/team/live/{session}");
    let flour = crate::storefront::product_id(&app, "huangmi-gaomian").to_string();
    let res = team.submit(
        &page,
        &format!("{page}/items"),
        &[
            ("product_id", &flour),
            ("live_price", "10"),
            ("quota", "100000"),
            ("per_buyer_limit", "1"),
        ],
    );
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        team.submit(&page, &format!("{page}/start"), &[]).status(),
        StatusCode::SEE_OTHER
    );
    let code = team
        .text(&page)
        .1
        .split("/l/")
        .nth(1)
        .and_then(|r| r.get(..6))
        .expect("link")
        .to_string();
    let link = format!("/l/{code}");
    let log = app.database.dir.join("test.db-wal");
    // The header's checkpoint sequence number (bytes 12–15, big-endian).
    let restarts = || {
        let header = std::fs::read(&log).expect("the log");
        u32::from_be_bytes(header[12..16].try_into().expect("a header"))
    };
    let before = restarts();
    let (stop, placed) = (
        AtomicBool::new(false),
        std::sync::atomic::AtomicUsize::new(0),
    );
    let started_over = std::thread::scope(|s| {
        for w in 0..8 {
            let (app, link, stop, placed) = (&app, &link, &stop, &placed);
            s.spawn(move || {
                for n in 0.. {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let b = app.browser();
                    let (token, key) = crate::orders::checkout_fields(&b.text(link).1);
                    let phone = format!("137{w:02}{n:06}");
                    let res = b.post_form(
                        link,
                        &[
                            ("csrf_token", token.as_str()),
                            ("idempotency_key", key.as_str()),
                            ("quantity", "1"),
                            ("name", "观众"),
                            ("phone", phone.as_str()),
                            ("address", "大同市平城区"),
                            ("payment_method", "bank_transfer"),
                        ],
                    );
                    assert_eq!(res.status(), StatusCode::SEE_OTHER);
                    placed.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
        // Twice over, with the buyers still buying; at most 15 seconds.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
        let mut started_over = false;
        while !started_over && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(100));
            started_over = restarts() >= before + 2;
        }
        stop.store(true, Ordering::Relaxed);
        started_over
    });
    assert!(
        started_over,
        "the log started over {} times while {} orders were placed",
        restarts() - before,
        placed.into_inner()
    );
}

/// A connection the database has ended is not handed out again: `db::checkout` asks one
/// that has not answered lately, marks a dead one broken so the pool drops it, and gives
/// the next (as the pool's own test on every checkout did before). PostgreSQL only:
/// nothing ends a SQLite connection from outside.
#[test]
fn postgres_connections_the_database_ended_are_replaced_at_checkout() {
    use std::time::Duration;
    let database = FreshDatabase::new(Backend::Postgres);
    let config = test_config(&database);
    let pool = db::open_server_pool(&config.database_url, 4).expect("database opens");
    let held: Vec<_> = (0..4)
        .map(|_| db::checkout(&pool).expect("connection"))
        .collect();
    let mut outside = db::open_connection(&config.database_url).expect("connection");
    let pids: Vec<i64> = held
        .into_iter()
        .map(|mut c| crate::support::scalar(&mut c, "SELECT pg_backend_pid()::bigint AS n"))
        .collect();
    for pid in &pids {
        let ended = crate::support::scalar(
            &mut outside,
            &format!("SELECT pg_terminate_backend({pid})::int::bigint AS n"),
        );
        assert_eq!(ended, 1, "backend {pid} ended");
    }
    // Past the time a connection that answered is trusted without asking.
    std::thread::sleep(db::ANSWERED_RECENTLY + Duration::from_millis(100));
    for _ in 0..8 {
        let mut conn = db::checkout(&pool).expect("a connection that answers");
        let pid = crate::support::scalar(&mut conn, "SELECT pg_backend_pid()::bigint AS n");
        assert!(
            !pids.contains(&pid),
            "an ended connection ({pid}) was handed out"
        );
    }
}
