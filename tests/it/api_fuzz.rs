//! schemathesis (PyPI) thrown at the live server from the OpenAPI document it serves: as a
//! guest and with a token of each role, on both databases. Every check is on: no 5xx, each
//! answer's status, headers, content type and body as the document describes them, bad
//! input refused, valid input accepted (tests/schemathesis.toml says which refusals a valid
//! request may still meet).

use std::path::PathBuf;
use std::process::Command;

use serde_json::json;

use crate::support::both_databases;

/// The schemathesis command of the venv `scripts/test` makes (beside `VM_TEST_PYTHON`).
fn schemathesis() -> PathBuf {
    if let Ok(path) = std::env::var("VM_TEST_SCHEMATHESIS") {
        return PathBuf::from(path);
    }
    let python = std::env::var("VM_TEST_PYTHON")
        .expect("VM_TEST_PYTHON or VM_TEST_SCHEMATHESIS names the venv (scripts/test sets them)");
    PathBuf::from(python).with_file_name("schemathesis")
}

/// Examples per operation and phase: enough to reach every field's edges, few enough
/// that ten runs stay within a minute or two.
const EXAMPLES: &str = "25";

both_databases! {
    fn the_fuzzer_finds_no_server_error_and_every_answer_matches_the_document(app) {
        // An order to read back by its key.
        let product = app.scalar("SELECT MIN(id) AS n FROM products WHERE status = 'on_sale' AND stock >= 10 AND min_per_order = 1");
        let body = json!({"lines": [{"product_id": product, "quantity": 1}], "name": "测试", "phone": "13800138000", "address": "大同", "payment_method": "cash_on_delivery"});
        let (_, order) = app.api(None).post("/api/v1/orders", &[("Idempotency-Key", "fuzzorder0000000000000001")], &body);
        let order_key = order["key"].as_str().expect("an order placed").to_string();

        let config = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/schemathesis.toml");
        let reports = app.database.dir.join("schemathesis");
        let mut callers: Vec<(&str, Option<String>)> = vec![("guest", None)];
        for email in ["admin@example.com", "team@example.com", "canteen@example.com", "cadre@example.com"] {
            callers.push((email, Some(app.token(email))));
        }
        let mut generated = 0;
        for (caller, token) in &callers {
            let mut command = Command::new(schemathesis());
            // Its cache (`.schemathesis/`) goes with the test's database, not the clone.
            command
                .current_dir(&app.database.dir)
                .arg("--config-file")
                .arg(&config)
                .args(["run", &format!("{}/api/v1/openapi.json", app.base)])
                // One worker: CPython 3.11's `ast` is not safe across the threads of two
                // (hypothesis describes its lambdas with it, and failed so once here).
                .args(["--checks", "all", "--max-examples", EXAMPLES, "--workers", "1"])
                .args(["--no-color"])
                .arg("--report-dir")
                .arg(&reports)
                .env("VM_FUZZ_ORDER_KEY", &order_key);
            if let Some(token) = token {
                command.args(["--header", &format!("Authorization: Bearer {token}")]);
            }
            let out = command.output().expect("schemathesis runs (scripts/test installs it)");
            let stdout = String::from_utf8_lossy(&out.stdout);
            assert!(out.status.success(), "schemathesis as {caller} ({:?}):\n{stdout}\n{}", app.backend, String::from_utf8_lossy(&out.stderr));
            // "Test cases:\n  333 generated, …"
            let count = stdout
                .split("Test cases:")
                .nth(1)
                .and_then(|rest| rest.split_whitespace().next())
                .and_then(|n| n.parse::<u64>().ok())
                .unwrap_or_else(|| panic!("a count of generated cases in:\n{stdout}"));
            assert!(count > 0, "{caller}: nothing generated");
            eprintln!("schemathesis as {caller} on {:?}: {count} generated test cases, no failure", app.backend);
            generated += count;
        }
        eprintln!("schemathesis on {:?}: {generated} generated test cases in all", app.backend);
    }
}
