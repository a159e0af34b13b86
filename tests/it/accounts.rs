//! Accounts a person can manage: signing out, a password change and disabling an account
//! end every copy of a session, on any server process; changing one's own password;
//! "forgot password" by mail with a single-use link that expires; the admin sees when each
//! account last signed in.

use diesel::RunQueryDsl;
use reqwest::StatusCode;
use sha2::{Digest, Sha256};
use village_market::db::{Backend, DbConn};
use village_market::domain::{china_time, now_utc};

use crate::support::{
    Browser, PASSWORD, SmtpServer, TestApp, both_backends, both_databases, location,
};

const TEAM: &str = "team@example.com";

/// The one text a query answers as `s`.
fn text(app: &TestApp, sql: &str) -> String {
    #[derive(diesel::QueryableByName)]
    struct S {
        #[diesel(sql_type = diesel::sql_types::Text)]
        s: String,
    }
    let row: S = diesel::sql_query(sql)
        .get_result(&mut *app.conn() as &mut DbConn)
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    row.s
}

fn user_id(app: &TestApp, email: &str) -> i64 {
    app.scalar(&format!(
        "SELECT id AS n FROM users WHERE email = '{email}'"
    ))
}

/// An hour ago, as SQL over `column`, on either backend.
fn an_hour_before(app: &TestApp, column: &str) -> String {
    match app.backend {
        Backend::Sqlite => format!("datetime({column}, '-1 hour')"),
        Backend::Postgres => format!("{column} - INTERVAL '1 hour'"),
    }
}

fn change_password(
    browser: &Browser,
    current: &str,
    new: &str,
    confirm: &str,
) -> reqwest::blocking::Response {
    browser.submit(
        "/account",
        "/account/password",
        &[
            ("current_password", current),
            ("new_password", new),
            ("new_password_confirm", confirm),
        ],
    )
}

fn forgot(browser: &Browser, email: &str) -> reqwest::blocking::Response {
    browser.submit("/password/forgot", "/password/forgot", &[("email", email)])
}

/// The path of the newest "forgot password" link in the outbox.
fn newest_link(app: &TestApp) -> String {
    let data = text(
        app,
        "SELECT data AS s FROM email_outbox WHERE template = 'password_reset' ORDER BY id DESC LIMIT 1",
    );
    let data: serde_json::Value = serde_json::from_str(&data).expect("JSON");
    data["reset_path"]
        .as_str()
        .expect("a reset_path")
        .to_string()
}

/// Posts a new password to `link` as its page's form would; a link that shows no form is
/// posted to with the session's token from another page.
fn set_new_password(browser: &Browser, link: &str, password: &str) -> reqwest::blocking::Response {
    let page = browser.get(link).text().expect("page");
    let token = crate::support::csrf_token(&page)
        .or_else(|| crate::support::csrf_token(&browser.text("/password/forgot").1))
        .expect("a csrf token");
    browser.post_form(
        link,
        &[
            ("csrf_token", &token),
            ("password", password),
            ("password_confirm", password),
        ],
    )
}

/// The text of the admin's user list in `lang` in the row of `email`, last column.
fn last_sign_in(admin: &Browser, email: &str) -> String {
    let html = admin.text("/admin/users?lang=en").1;
    // Back to Chinese for the pages after.
    admin.get("/?lang=zh-CN");
    let row = html
        .split(&format!("<td>{email}</td>"))
        .nth(1)
        .expect("a row for the account");
    let cell = row
        .split("class=\"last-sign-in\">")
        .nth(1)
        .expect("a last sign-in cell");
    cell[..cell.find('<').expect("cell end")].to_string()
}

both_databases! {
    fn signing_out_ends_every_copy_of_the_session_on_every_server(app) {
        let other = app.another_server();
        let member = app.signed_in(TEAM);
        let copied = member.copy();
        let copied_elsewhere = member.copy_to(&other.base);
        let stale = member.copy();
        assert_eq!(copied.get("/team").status(), StatusCode::OK, "a copied cookie is the session");
        assert_eq!(copied_elsewhere.get("/team").status(), StatusCode::OK, "on the other server too");

        let res = member.submit("/team", "/logout", &[]);
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        for (who, browser) in [("the copy", &copied), ("the copy at the other server", &copied_elsewhere)] {
            let res = browser.get("/team");
            assert_eq!(res.status(), StatusCode::SEE_OTHER, "{who}");
            assert_eq!(location(&res), "/login?next=%2Fteam", "{who}");
        }
        assert_eq!(copied.get("/my/orders").status(), StatusCode::SEE_OTHER, "the buyer's pages too");
        let user = user_id(app, TEAM);
        assert_eq!(app.count(&format!("audit_log WHERE action = 'sign_out' AND entity_id = {user} AND actor_user_id = {user}")), 1);
        // Signing in again starts a new session, which works on both servers.
        let again = app.signed_in(TEAM);
        assert_eq!(again.get("/team").status(), StatusCode::OK);
        assert_eq!(again.copy_to(&other.base).get("/team").status(), StatusCode::OK);
        // Signing out with a cookie whose session has ended ends nothing more: an old
        // copy cannot sign its owner out of the new session.
        assert_eq!(stale.submit("/", "/logout", &[]).status(), StatusCode::SEE_OTHER);
        assert_eq!(again.get("/team").status(), StatusCode::OK);
        assert_eq!(app.count(&format!("audit_log WHERE action = 'sign_out' AND entity_id = {user}")), 1);
    }

    fn a_password_change_ends_the_other_sessions_and_keeps_this_one(app) {
        let member = app.signed_in(TEAM);
        let copied = member.copy();
        let laptop = app.signed_in(TEAM);
        let res = change_password(&member, PASSWORD, "a fresh password", "a fresh password");
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        assert_eq!(location(&res), "/account?changed=1");
        assert!(member.text("/account?changed=1").1.contains("密码已修改"));
        assert_eq!(member.get("/team").status(), StatusCode::OK, "this session carries on");
        assert_eq!(copied.get("/team").status(), StatusCode::SEE_OTHER, "a copy of it ends");
        assert_eq!(laptop.get("/team").status(), StatusCode::SEE_OTHER, "another device ends");
        let user = user_id(app, TEAM);
        assert_eq!(app.count(&format!("audit_log WHERE action = 'change_password' AND entity_id = {user} AND after_json LIKE '%sessions_ended%'")), 1);
        assert_eq!(app.count("audit_log WHERE after_json LIKE '%fresh password%'"), 0, "no password in the log");
    }

    fn disabling_an_account_ends_its_sessions_for_good(app) {
        let admin = app.signed_in("admin@example.com");
        let member = app.signed_in(TEAM);
        let copied = member.copy();
        let id = user_id(app, TEAM);
        let edit = format!("/admin/users/{id}");
        let binding = [("display_name", "王小军（驻村工作队）"), ("village", "xiedian"), ("village", "yangzhouyao")];
        let mut disable = binding.to_vec();
        disable.push(("disabled", "1"));
        assert_eq!(admin.submit(&edit, &edit, &disable).status(), StatusCode::SEE_OTHER);
        assert_eq!(member.get("/team").status(), StatusCode::SEE_OTHER);
        // Enabled again: the sessions from before stay ended (the copy was not used while
        // the account was disabled, so nothing else could have ended it).
        assert_eq!(admin.submit(&edit, &edit, &binding).status(), StatusCode::SEE_OTHER);
        assert_eq!(copied.get("/team").status(), StatusCode::SEE_OTHER, "the copied session stays ended");
        assert_eq!(app.count(&format!("audit_log WHERE action = 'update' AND entity_id = {id} AND after_json LIKE '%\"sessions_ended\":true%'")), 1);

        // A new password from the admin ends the sessions too.
        let member = app.signed_in(TEAM);
        let res = admin.submit(&edit, &format!("{edit}/password"), &[("password", "set by the office")]);
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        assert_eq!(member.get("/team").status(), StatusCode::SEE_OTHER);
    }

    fn a_password_change_needs_the_current_password(app) {
        for email in ["admin@example.com", "canteen@example.com", "cadre@example.com"] {
            let browser = app.signed_in(email);
            let (status, html) = browser.text("/account");
            assert_eq!(status, StatusCode::OK, "{email}");
            assert!(html.contains(email) && html.contains("name=\"current_password\""), "{email}");
            assert!(browser.text("/").1.contains("href=\"/account\""), "the header links to the account page");
        }
        let member = app.signed_in(TEAM);
        let res = change_password(&member, "not my password", "a fresh password", "a fresh password");
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let html = res.text().expect("page");
        let field = html.split("id=\"current_password\"").nth(1).expect("the field");
        let field = field.split("id=\"new_password\"").next().expect("up to the next field");
        assert!(field.contains("当前密码不对"), "the message is by the current password: {field}");
        let res = change_password(&member, PASSWORD, "short", "other");
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let html = res.text().expect("page");
        assert!(html.contains("密码至少 8 位") && html.contains("两次输入的密码不一样"));
        // Nothing changed: the old password signs in, and this session goes on.
        assert_eq!(app.browser().sign_in(TEAM, PASSWORD).status(), StatusCode::SEE_OTHER);
        assert_eq!(member.get("/team").status(), StatusCode::OK);
        assert_eq!(app.count("audit_log WHERE action = 'change_password'"), 0);

        let res = change_password(&member, PASSWORD, "a fresh password", "a fresh password");
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        assert_eq!(app.browser().sign_in(TEAM, PASSWORD).status(), StatusCode::UNAUTHORIZED);
        assert_eq!(app.browser().sign_in(TEAM, "a fresh password").status(), StatusCode::SEE_OTHER);
        assert_eq!(app.browser().get("/account").status(), StatusCode::SEE_OTHER, "guests sign in first");
    }

    fn an_expired_used_or_unknown_link_changes_nothing(app) {
        let visitor = app.browser();
        assert_eq!(forgot(&visitor, TEAM).status(), StatusCode::OK);
        let first = newest_link(app);
        // Asking again sets the earlier link aside.
        assert_eq!(forgot(&visitor, TEAM).status(), StatusCode::OK);
        let second = newest_link(app);
        assert_ne!(first, second);
        assert_eq!(visitor.get(&first).status(), StatusCode::GONE);
        // Expired.
        app.execute(&format!("UPDATE password_reset_tokens SET expires_at = {}", an_hour_before(app, "created_at")));
        let (status, html) = visitor.text(&second);
        assert_eq!(status, StatusCode::GONE);
        assert!(html.contains("链接已失效") && html.contains("href=\"/password/forgot\""));
        let res = set_new_password(&visitor, &second, "an expired attempt");
        assert_eq!(res.status(), StatusCode::GONE);
        // Unknown or malformed: not found; with a NUL byte, refused at the edge naming it.
        let unknown = format!("/password/reset/{}", "ab".repeat(32));
        for link in [unknown.as_str(), "/password/reset/abc", &second.replace("/reset/", "/reset/x")] {
            assert_eq!(visitor.get(link).status(), StatusCode::NOT_FOUND, "{link}");
        }
        assert_eq!(visitor.get("/password/reset/%00").status(), StatusCode::BAD_REQUEST);
        let token = crate::support::csrf_token(&visitor.text("/password/forgot").1).expect("token");
        let res = visitor.post_form(&unknown, &[("csrf_token", &token), ("password", "an unknown attempt"), ("password_confirm", "an unknown attempt")]);
        assert_eq!(res.status(), StatusCode::NOT_FOUND);
        assert_eq!(app.browser().sign_in(TEAM, PASSWORD).status(), StatusCode::SEE_OTHER, "the password is as it was");
        assert_eq!(app.count("audit_log WHERE action = 'reset_password_by_mail'"), 0);
    }

    fn forgot_password_requests_are_throttled(app) {
        let visitor = app.browser();
        // A malformed address is named, and nothing is recorded.
        let res = forgot(&visitor, "not an address");
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert!(res.text().expect("page").contains("请填正确的邮箱"));
        assert_eq!(app.count("password_reset_requests"), 0);
        // Three for one address within the hour, then it waits.
        for _ in 0..3 {
            assert_eq!(forgot(&visitor, TEAM).status(), StatusCode::OK);
        }
        let res = forgot(&visitor, TEAM);
        assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
        let retry: u64 = res.headers()["retry-after"].to_str().expect("header").parse().expect("seconds");
        assert!((1..=3600).contains(&retry));
        assert!(res.text().expect("page").contains("分钟后再试"));
        assert_eq!(app.count("email_outbox WHERE template = 'password_reset'"), 3);
        // Whatever the address, ten from one client.
        for n in 0..7 {
            assert_eq!(forgot(&visitor, &format!("someone{n}@example.com")).status(), StatusCode::OK, "request {n}");
        }
        let res = forgot(&app.browser(), "cadre@example.com");
        assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS, "the client's eleventh");
        assert_eq!(app.count("email_outbox WHERE template = 'password_reset'"), 3);
        // An hour later the address may ask again.
        app.execute(&format!("UPDATE password_reset_requests SET requested_at = {}", an_hour_before(app, "requested_at")));
        assert_eq!(forgot(&visitor, TEAM).status(), StatusCode::OK);
        assert_eq!(app.count("email_outbox WHERE template = 'password_reset'"), 4);
    }

    fn the_admin_sees_when_each_account_last_signed_in(app) {
        let admin = app.signed_in("admin@example.com");
        assert_eq!(last_sign_in(&admin, TEAM), "never");
        assert!(admin.text("/admin/users").1.contains("从未登录"));
        let before = china_time(now_utc());
        app.signed_in(TEAM);
        let shown = last_sign_in(&admin, TEAM);
        let at = chrono::NaiveDateTime::parse_from_str(&shown, "%Y-%m-%d %H:%M").unwrap_or_else(|e| panic!("{shown}: {e}"));
        let after = china_time(now_utc());
        assert!(at >= before - chrono::Duration::minutes(1) && at <= after, "{shown} is China time now");
        // A failed attempt is no sign-in.
        assert_eq!(last_sign_in(&admin, "cadre@example.com"), "never");
        app.browser().sign_in("cadre@example.com", "wrong");
        assert_eq!(last_sign_in(&admin, "cadre@example.com"), "never");
    }
}

both_backends! {
    fn a_forgotten_password_is_set_again_through_a_link_by_mail(backend) {
        let smtp = SmtpServer::start();
        let app = TestApp::start_with(backend, |args| args.smtp_url = Some(smtp.url()));
        let member = app.signed_in(TEAM);
        let login = app.browser().text("/login").1;
        assert!(login.contains("href=\"/password/forgot\""), "the sign-in page links to it");

        let visitor = app.browser();
        let res = forgot(&visitor, " Team@Example.com ");
        assert_eq!(res.status(), StatusCode::OK);
        let known = res.text().expect("page");
        assert!(known.contains("如果这个邮箱有账号"));
        let res = forgot(&app.browser(), "nobody@example.com");
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(res.text().expect("page"), known, "the same page whether or not the address has an account");

        let mail = &smtp.wait_for(1)[0];
        assert_eq!(mail.to, TEAM);
        assert!(mail.subject.contains("设置新密码"), "{mail:?}");
        let prefix = format!("{}/password/reset/", app.base);
        let at = mail.text.find(&prefix).unwrap_or_else(|| panic!("a link in {}", mail.text));
        let token: String = mail.text[at + prefix.len()..].chars().take_while(char::is_ascii_hexdigit).collect();
        assert_eq!(token.len(), 64);
        assert!(mail.html.contains(&format!("{prefix}{token}")), "the HTML part links too");
        // Only the hash is stored.
        let hash = hex::encode(Sha256::digest(token.as_bytes()));
        assert_eq!(app.count(&format!("password_reset_tokens WHERE token_hash = '{hash}' AND used_at IS NULL")), 1);
        assert_eq!(app.count(&format!("password_reset_tokens WHERE token_hash = '{token}'")), 0);

        let link = format!("/password/reset/{token}");
        let (status, html) = visitor.text(&link);
        assert_eq!(status, StatusCode::OK);
        assert!(html.contains(TEAM), "the form names the account");
        let csrf = crate::support::csrf_token(&html).expect("token");
        let res = visitor.post_form(&link, &[("csrf_token", &csrf), ("password", "short"), ("password_confirm", "short")]);
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "checked as a new account's password");
        assert!(res.text().expect("page").contains("密码至少 8 位"));
        let res = set_new_password(&visitor, &link, "set by mail");
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        assert_eq!(location(&res), "/login?reset=1");
        assert!(visitor.text("/login?reset=1").1.contains("新密码已设置"));
        assert_eq!(app.browser().sign_in(TEAM, "set by mail").status(), StatusCode::SEE_OTHER);
        assert_eq!(app.browser().sign_in(TEAM, PASSWORD).status(), StatusCode::UNAUTHORIZED);
        assert_eq!(member.get("/team").status(), StatusCode::SEE_OTHER, "every session ended");
        assert_eq!(app.count(&format!("password_reset_tokens WHERE token_hash = '{hash}' AND used_at IS NOT NULL")), 1);
        assert_eq!(app.count("audit_log WHERE action = 'reset_password_by_mail'"), 1);

        // The link works once.
        assert_eq!(visitor.get(&link).status(), StatusCode::GONE);
        let res = set_new_password(&app.browser(), &link, "a second go");
        assert_eq!(res.status(), StatusCode::GONE);
        assert_eq!(app.browser().sign_in(TEAM, "a second go").status(), StatusCode::UNAUTHORIZED);
        assert_eq!(app.browser().sign_in(TEAM, "set by mail").status(), StatusCode::SEE_OTHER);

        std::thread::sleep(std::time::Duration::from_secs(2));
        assert_eq!(smtp.messages().len(), 1, "no mail for the unknown address");
    }
}

/// A request carrying `token` as its bearer, and no cookie.
fn with_token(app: &TestApp, token: &str, path: &str) -> reqwest::blocking::Response {
    reqwest::blocking::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
        .get(format!("{}{path}", app.base))
        .bearer_auth(token)
        .send()
        .expect("GET")
}

both_databases! {
    fn a_personal_token_acts_as_its_user_until_revoked_expired_or_the_account_disabled(app) {
        let team = app.signed_in(TEAM);
        // Refused by field, nothing made.
        let res = team.submit("/account", "/account/tokens", &[("name", ""), ("expires_on", "2000-01-01")]);
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let html = res.text().expect("page");
        assert!(crate::canteen::names_field(&html, "name") && crate::canteen::names_field(&html, "expires_on"), "{html}");
        assert_eq!(app.count("api_tokens"), 0);
        // Made, shown once, kept only as its SHA-256.
        let res = team.submit("/account", "/account/tokens", &[("name", "采购系统"), ("expires_on", "")]);
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(res.headers().get("cache-control").and_then(|v| v.to_str().ok()), Some("no-store"));
        let html = res.text().expect("page");
        let token = html.split("<code data-token>").nth(1).and_then(|r| r.split('<').next()).expect("the token").to_string();
        assert!(token.starts_with("vm_") && token.len() > 40, "{token}");
        assert!(!team.text("/account").1.contains(&token), "shown once");
        let hash = hex::encode(Sha256::digest(token.as_bytes()));
        assert_eq!(app.count(&format!("api_tokens WHERE token_hash = '{hash}' AND last_used_at IS NULL")), 1);
        assert_eq!(app.count(&format!("api_tokens WHERE token_hash LIKE '%{}%'", &token[3..20])), 0);
        assert_eq!(app.count("audit_log WHERE entity = 'api_token' AND action = 'create'"), 1);

        // The token is the team member: their area and their villages' records, no other.
        assert_eq!(with_token(app, &token, "/team/orders").status(), StatusCode::OK);
        assert_eq!(app.count("api_tokens WHERE last_used_at IS NOT NULL"), 1);
        assert_eq!(with_token(app, &token, "/admin").status(), StatusCode::FORBIDDEN);
        let taer = app.scalar("SELECT id AS n FROM villages WHERE slug = 'taer'");
        // (The demo's team works for 谢店村 and 杨州窑村, not 塔儿村.)
        assert_eq!(app.count(&format!("team_villages tv JOIN users u ON u.id = tv.user_id WHERE u.email = '{TEAM}' AND tv.village_id = {taer}")), 0);
        assert_eq!(with_token(app, &token, &format!("/team/villages/{taer}/delivery")).status(), StatusCode::NOT_FOUND);
        // A wrong token, or none where one is needed: 401 and a Bearer challenge, never the
        // sign-in page.
        let res = with_token(app, "vm_0000", "/team/orders");
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(res.headers().get("www-authenticate").and_then(|v| v.to_str().ok()), Some("Bearer"));

        // Lowercase scheme is the same scheme; a token cannot make more tokens or change
        // the password (with a session's CSRF token or without); another scheme (a proxy's
        // Basic) leaves the session to decide.
        assert_eq!(with_token(app, &token, "/team/orders").status(), StatusCode::OK);
        let client = reqwest::blocking::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
        let lower = client.get(format!("{}/team/orders", app.base)).header("Authorization", format!("bearer {token}")).send().expect("GET");
        assert_eq!(lower.status(), StatusCode::OK);
        let csrf = crate::support::csrf_token(&team.text("/account").1).expect("a token");
        for path in ["/account/tokens", "/account/password"] {
            let res = team.client.post(format!("{}{path}", app.base)).bearer_auth(&token)
                .form(&[("csrf_token", csrf.as_str()), ("name", "more")]).send().expect("POST");
            assert_eq!(res.status(), StatusCode::FORBIDDEN, "{path}");
        }
        assert_eq!(app.count("api_tokens"), 1);
        let basic = team.client.get(format!("{}/team/orders", app.base)).header("Authorization", "Basic c3RhZ2luZzpzdGFnaW5n").send().expect("GET");
        assert_eq!(basic.status(), StatusCode::OK, "the session, behind a proxy's Basic auth");

        // Disabled: at once; enabled again: it works again.
        app.execute(&format!("UPDATE users SET disabled = TRUE WHERE email = '{TEAM}'"));
        assert_eq!(with_token(app, &token, "/team/orders").status(), StatusCode::UNAUTHORIZED);
        app.execute(&format!("UPDATE users SET disabled = FALSE WHERE email = '{TEAM}'"));
        assert_eq!(with_token(app, &token, "/team/orders").status(), StatusCode::OK);

        // Expired: no longer.
        app.execute("UPDATE api_tokens SET expires_at = '2020-01-01 00:00:00'");
        assert_eq!(with_token(app, &token, "/team/orders").status(), StatusCode::UNAUTHORIZED);
        app.execute("UPDATE api_tokens SET expires_at = NULL");

        // Revoked by its owner: at once. Another person cannot revoke it (404).
        let id = app.scalar("SELECT id AS n FROM api_tokens");
        let cadre = app.signed_in("cadre@example.com");
        assert_eq!(cadre.submit("/account", &format!("/account/tokens/{id}/revoke"), &[]).status(), StatusCode::NOT_FOUND);
        assert_eq!(with_token(app, &token, "/team/orders").status(), StatusCode::OK);
        assert_eq!(team.submit("/account", &format!("/account/tokens/{id}/revoke"), &[]).status(), StatusCode::SEE_OTHER);
        assert_eq!(with_token(app, &token, "/team/orders").status(), StatusCode::UNAUTHORIZED);
        assert!(team.text("/account").1.contains("已撤销"));
        assert_eq!(app.count("audit_log WHERE entity = 'api_token' AND action = 'revoke'"), 1);

        // A new password (how a taken-over account is won back) revokes every token.
        let res = team.submit("/account", "/account/tokens", &[("name", "报表"), ("expires_on", "")]);
        let second = res.text().expect("page").split("<code data-token>").nth(1).and_then(|r| r.split('<').next()).expect("the token").to_string();
        assert_eq!(with_token(app, &second, "/team/orders").status(), StatusCode::OK);
        let res = team.submit("/account", "/account/password", &[
            ("current_password", PASSWORD), ("new_password", "a brand new passphrase 2026"), ("new_password_confirm", "a brand new passphrase 2026"),
        ]);
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        assert_eq!(with_token(app, &second, "/team/orders").status(), StatusCode::UNAUTHORIZED);
    }
}
