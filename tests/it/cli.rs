//! The `village-market` command itself: startup errors and `user add`.

use std::io::Write;
use std::process::{Command, Stdio};

use reqwest::StatusCode;

use crate::support::{FreshDatabase, both_databases};

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
        assert_eq!(app.count("audit_log WHERE entity = 'user' AND action = 'create'"), 5);

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
