//! The `village-market` command itself: startup errors, `user add`, one-shot commands
//! that exit cleanly every time, and `backup` of a live database.

use std::io::Write;
use std::process::{Command, Stdio};

use reqwest::StatusCode;

use std::sync::atomic::{AtomicBool, Ordering};

use village_market::db::Backend;

use crate::orders::buy;
use crate::support::{Contents, FreshDatabase, both_backends, both_databases, scalar, wait_until};

pub fn village_market(database_url: &str, dir: &std::path::Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_village-market"));
    cmd.args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("DATABASE_URL", database_url)
        .env("DATA_DIR", dir.join("data"))
        .env("RUST_LOG", "warn")
        .current_dir(dir);
    cmd
}

#[test]
fn an_unknown_scheme_stops_startup_with_one_clear_line() {
    let dir = FreshDatabase::new(village_market::db::Backend::Sqlite);
    let out = village_market("mysql://root:hunter2@localhost/db", &dir.dir, &["migrate"])
        .output()
        .expect("runs");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("unknown scheme") && stderr.contains("mysql://root:***@localhost/db"),
        "{stderr}"
    );
    assert!(!stderr.contains("hunter2"));
}

#[test]
fn an_unreachable_postgres_stops_startup_naming_the_url_without_its_password() {
    let dir = FreshDatabase::new(village_market::db::Backend::Sqlite);
    let url = "postgres://market:s3cret@127.0.0.1:1/market";
    let out = village_market(url, &dir.dir, &["migrate"])
        .output()
        .expect("runs");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("postgres://market:***@127.0.0.1:1/market"),
        "{stderr}"
    );
    assert!(!stderr.contains("s3cret"));
    let created: Vec<_> = std::fs::read_dir(&dir.dir)
        .expect("dir")
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert!(
        created
            .iter()
            .all(|n| n != "market" && !n.to_string_lossy().ends_with(".db")),
        "no SQLite file appears: {created:?}"
    );
}

both_databases! {
    fn user_add_reads_the_password_from_stdin(app) {
        let created_before = app.count("audit_log WHERE entity = 'user' AND action = 'create'");
        let mut child = village_market(&app.database.url, &app.database.dir, &[
            "user", "add", "--email", "New.Member@Example.com", "--role", "team",
            "--name", "新队员", "--village", "taer", "--village", "shuidong",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("runs");
        child.stdin.take().expect("stdin").write_all(b"a long enough password\n").expect("write");
        let out = child.wait_with_output().expect("finishes");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let browser = app.browser();
        let res = browser.sign_in("new.member@example.com", "a long enough password");
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        let html = browser.text("/team").1;
        assert!(html.contains("塔儿村") && html.contains("水洞村") && !html.contains("谢店村"));
        assert_eq!(app.count("audit_log WHERE entity = 'user' AND action = 'create'"), created_before + 1);

        // A village that does not exist: refused, named, nothing written.
        let users = app.count("users");
        let mut child = village_market(&app.database.url, &app.database.dir, &[
            "user", "add", "--email", "x@example.com", "--role", "team", "--village", "atlantis",
        ])
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("runs");
        child.stdin.take().expect("stdin").write_all(b"a long enough password").expect("write");
        let out = child.wait_with_output().expect("finishes");
        assert!(!out.status.success());
        assert!(String::from_utf8_lossy(&out.stderr).contains("village"));
        assert_eq!(app.count("users"), users);
    }
}

#[test]
fn serve_demo_loads_an_empty_database_and_serves_it() {
    let database = FreshDatabase::new(village_market::db::Backend::Sqlite);
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("port")
        .local_addr()
        .expect("addr")
        .port();
    let mut child = village_market(
        &database.url,
        &database.dir,
        &["serve", "--demo", "--bind", &format!("127.0.0.1:{port}")],
    )
    .stdout(Stdio::piped())
    .spawn()
    .expect("starts");
    let client = reqwest::blocking::Client::new();
    let mut healthy = false;
    for _ in 0..100 {
        if client
            .get(format!("http://127.0.0.1:{port}/healthz"))
            .send()
            .is_ok_and(|r| r.status().is_success())
        {
            healthy = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let page = client
        .get(format!("http://127.0.0.1:{port}/villages/gaoqiangyuan"))
        .send()
        .and_then(|r| r.text());
    let password_file = std::fs::read_to_string(database.dir.join("data/demo-password"))
        .expect("generated password kept");
    let signed_in = sign_in(port, "admin@example.com", password_file.trim());
    let _ = child.kill();
    let out = child.wait_with_output().expect("stopped");
    assert!(healthy, "server came up");
    assert!(page.expect("village page").contains("原浆酒"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    // The file holds the very password that signs in (and that was printed).
    assert!(
        stdout.contains(&format!("password: {}", password_file.trim())),
        "{stdout}"
    );
    assert!(password_file.starts_with("demo-"), "{password_file}");
    assert!(
        signed_in,
        "the printed password signs in as admin@example.com"
    );
}

/// Signs in on a server started by the binary; whether it let the user in.
fn sign_in(port: u16, email: &str, password: &str) -> bool {
    let client = reqwest::blocking::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let base = format!("http://127.0.0.1:{port}");
    let page = client
        .get(format!("{base}/login"))
        .send()
        .and_then(|r| r.text());
    let Some(token) = page.ok().and_then(|p| crate::support::csrf_token(&p)) else {
        return false;
    };
    client
        .post(format!("{base}/login"))
        .form(&[
            ("csrf_token", token.as_str()),
            ("email", email),
            ("password", password),
        ])
        .send()
        .is_ok_and(|r| {
            r.status() == StatusCode::SEE_OTHER
                && r.headers().get("location").is_some_and(|l| l != "/login")
        })
}

both_backends! {
    fn verify_exits_cleanly_two_hundred_times_in_a_row(backend) {
        // A one-shot command used to end while its pool was still opening a connection
        // in the background: on PostgreSQL one run in fifty to twenty died of SIGSEGV
        // or SIGABRT after printing its result, the more often the quicker the command
        // (an empty ledger here) and the less busy the machine (one run at a time). On
        // SQLite, runs side by side failed instead: a connection switching to WAL gave
        // up on a lock at once, and two first runs raced to write the session key (a
        // data folder none has used yet here).
        let database = FreshDatabase::with(backend, Contents::Migrated);
        let side_by_side = if backend == Backend::Sqlite { 2 } else { 1 };
        let started = std::time::Instant::now();
        let failures: Vec<String> = std::thread::scope(|s| {
            let runners: Vec<_> = (0..side_by_side).map(|_| s.spawn(|| {
                (0..200 / side_by_side).filter_map(|_| {
                    let out = village_market(&database.url, &database.dir, &["verify"]).output().expect("runs");
                    let stdout = String::from_utf8_lossy(&out.stdout);
                    (!out.status.success() || !stdout.contains("ledger and totals agree")).then(|| {
                        format!("{:?}: {stdout} {}", out.status, String::from_utf8_lossy(&out.stderr))
                    })
                }).collect::<Vec<_>>()
            })).collect();
            runners.into_iter().flat_map(|r| r.join().expect("runner")).collect()
        });
        eprintln!("200 runs of verify in {:?}", started.elapsed());
        assert!(failures.is_empty(), "{} of 200 runs failed: {failures:?}", failures.len());
    }
}

both_databases! {
    fn backup_copies_a_live_database_that_verify_accepts(app) {
        let copy = app.database.dir.join("copy.db");
        let backup = |into: &std::path::Path| {
            village_market(&app.database.url, &app.database.dir, &["backup", &into.display().to_string()])
                .output()
                .expect("runs")
        };
        if app.backend == Backend::Postgres {
            let out = backup(&copy);
            assert!(!out.status.success());
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
            assert!(stderr.contains("pg_dump") && stderr.contains("pg_restore"), "{stderr}");
            assert!(!copy.exists());
            return;
        }
        // The shop goes on selling while the copy is taken: orders placed and paid.
        let before = app.count("orders");
        let stop = AtomicBool::new(false);
        let out = std::thread::scope(|s| {
            let writer = s.spawn(|| {
                let team = app.signed_in("team@example.com");
                while !stop.load(Ordering::SeqCst) {
                    assert_eq!(buy(app, &[("huangmi-gaomian", "1")], "bank_transfer", "").status(), StatusCode::SEE_OTHER);
                    let order = app.scalar("SELECT MAX(id) AS n FROM orders");
                    let page = format!("/team/orders/{order}");
                    let res = team.submit(&page, &format!("{page}/paid"), &[("reference", "B1")]);
                    assert_eq!(res.status(), StatusCode::SEE_OTHER);
                }
            });
            wait_until("sales under way", std::time::Duration::from_secs(30), || app.count("orders") >= before + 2);
            let out = backup(&copy);
            let while_copying = app.count("orders");
            wait_until("more sales after the copy", std::time::Duration::from_secs(30), || app.count("orders") >= while_copying + 2);
            stop.store(true, Ordering::SeqCst);
            writer.join().expect("the writer");
            out
        });
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let after = app.count("orders");

        // The copy opens, its ledger and totals agree, and it is the shop at one moment.
        let copy_url = format!("sqlite://{}", copy.display());
        let verify = village_market(&copy_url, &app.database.dir, &["verify"]).output().expect("runs");
        assert!(verify.status.success(), "{}{}", String::from_utf8_lossy(&verify.stdout), String::from_utf8_lossy(&verify.stderr));
        let mut copied = village_market::db::open_connection(&village_market::db::DatabaseUrl::parse(&copy_url).expect("url")).expect("the copy opens");
        let in_copy = scalar(&mut copied, "SELECT COUNT(*) AS n FROM orders");
        assert!(before + 2 <= in_copy && in_copy < after, "{before} <= {in_copy} < {after}");
        assert_eq!(scalar(&mut copied, "SELECT COUNT(*) AS n FROM orders o WHERE NOT EXISTS (SELECT 1 FROM order_lines l WHERE l.order_id = o.id)"), 0);
        assert_eq!(
            scalar(&mut copied, "SELECT COUNT(*) AS n FROM orders WHERE status = 'paid'"),
            scalar(&mut copied, "SELECT COUNT(DISTINCT l.order_id) AS n FROM allocations a JOIN order_lines l ON l.id = a.order_line_id"),
            "every paid order in the copy is allocated"
        );
        drop(copied);

        // Never over an existing file.
        let bytes = std::fs::read(&copy).expect("the copy");
        let again = backup(&copy);
        assert!(!again.status.success());
        assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"));
        assert_eq!(std::fs::read(&copy).expect("the copy"), bytes, "the first copy is untouched");

        // Taken at rest, a copy holds exactly what the shop holds.
        let still = app.database.dir.join("still.db");
        assert!(backup(&still).status.success());
        let mut copied = village_market::db::open_connection(&village_market::db::DatabaseUrl::parse(&format!("sqlite://{}", still.display())).expect("url")).expect("the copy opens");
        assert_eq!(scalar(&mut copied, "SELECT COUNT(*) AS n FROM orders"), after);
        assert_eq!(scalar(&mut copied, "SELECT COUNT(*) AS n FROM ledger_entries"), app.count("ledger_entries"));
    }
}
