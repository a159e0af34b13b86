//! A real install's first run: the first admin from the command line, counties and
//! villages from there; the demo only ever on an empty database or its own.

use std::io::Write;
use std::process::{Output, Stdio};

use reqwest::StatusCode;

use crate::cli::village_market;
use crate::support::{PASSWORD, TestApp, both_databases};

fn village_market_cmd(app: &TestApp, args: &[&str], stdin: &str) -> Output {
    let mut child = village_market(&app.database.url, &app.database.dir, args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("runs");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("write");
    child.wait_with_output().expect("finishes")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A new install's first steps, on an empty database of each backend.
mod clean_install {
    use super::*;

    fn first_run(app: &TestApp) {
        let out = village_market_cmd(
            app,
            &[
                "user",
                "add",
                "--email",
                "office@datong.example",
                "--role",
                "admin",
            ],
            &format!("{PASSWORD}\n"),
        );
        assert!(out.status.success(), "{}", text(&out.stderr));
        let out = village_market_cmd(
            app,
            &[
                "county",
                "add",
                "--slug",
                "yunzhou",
                "--name-zh",
                "云州区",
                "--name-en",
                "Yunzhou District",
            ],
            "",
        );
        assert!(out.status.success(), "{}", text(&out.stderr));
        assert!(text(&out.stdout).contains("yunzhou"));
        // The same web name twice: one line naming the field, nothing written.
        let out = village_market_cmd(
            app,
            &[
                "county",
                "add",
                "--slug",
                "yunzhou",
                "--name-zh",
                "云州",
                "--name-en",
                "Y",
            ],
            "",
        );
        assert!(!out.status.success());
        assert_eq!(
            text(&out.stderr).trim().lines().count(),
            1,
            "{}",
            text(&out.stderr)
        );
        assert!(text(&out.stderr).contains("slug"), "{}", text(&out.stderr));
        assert_eq!(app.count("counties"), 1);

        let admin = app.browser();
        assert_eq!(
            admin.sign_in("office@datong.example", PASSWORD).status(),
            StatusCode::SEE_OTHER
        );
        let res = admin.submit(
            "/admin/counties/new",
            "/admin/counties",
            &[
                ("slug", "Bad Slug"),
                ("name_zh", ""),
                ("name_en", "Tianzhen"),
            ],
        );
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let page = res.text().expect("page");
        assert!(
            page.contains("id=\"slug\"") && page.contains("id=\"name_zh\""),
            "{page}"
        );
        assert_eq!(app.count("counties"), 1, "nothing written");
        let res = admin.submit(
            "/admin/counties/new",
            "/admin/counties",
            &[
                ("slug", "tianzhen"),
                ("name_zh", "天镇县"),
                ("name_en", "Tianzhen County"),
            ],
        );
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        assert!(admin.text("/admin").1.contains("天镇县"));
        assert_eq!(
            app.count("audit_log WHERE entity = 'county' AND action = 'create'"),
            2
        );

        let county = app.scalar("SELECT id AS n FROM counties WHERE slug = 'tianzhen'");
        let res = admin.submit(
            "/admin/villages/new",
            "/admin/villages",
            &[
                ("county_id", &county.to_string()),
                ("slug", "xinpingbao"),
                ("name_zh", "新平堡村"),
                ("name_en", "Xinpingbao"),
                ("story_zh", "长城脚下的村子。"),
            ],
        );
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        assert_eq!(
            app.browser().get("/villages/xinpingbao").status(),
            StatusCode::OK
        );

        // A database with a real install's data refuses the demo, in one line, unchanged.
        let villages = app.count("villages");
        let out = village_market_cmd(app, &["demo"], "");
        assert!(!out.status.success());
        let stderr = text(&out.stderr);
        assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
        assert!(
            stderr.contains("not") && stderr.contains("demo"),
            "{stderr}"
        );
        assert_eq!(app.count("villages"), villages);
        assert_eq!(app.count("users"), 1);
    }

    #[test]
    fn sqlite() {
        first_run(&TestApp::start_empty(village_market::db::Backend::Sqlite));
    }

    #[test]
    fn postgres() {
        first_run(&TestApp::start_empty(village_market::db::Backend::Postgres));
    }
}

both_databases! {
    fn the_demo_runs_again_on_its_own_database_and_writes_no_mail(app) {
        let (users, villages) = (app.count("users"), app.count("villages"));
        for _ in 0..2 {
            let out = village_market_cmd(app, &["demo"], "");
            assert!(out.status.success(), "{}", text(&out.stderr));
        }
        assert_eq!((app.count("users"), app.count("villages")), (users, villages));
        assert!(app.count("orders") > 0, "the demo's months of orders");
        assert_eq!(app.count("email_outbox"), 0, "nobody hears of months-old demo orders");
    }
}
