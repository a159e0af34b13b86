//! The shape of the code (docs/ARCHITECTURE.md), checked from its source: data flows
//! web → domain → db; nothing outside `web` reaches into it; the modules' imports form no
//! cycle; the typed states are spelled only in `src/states.rs`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("source folder").flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// A source file's module, as the graph counts it: `domain::orders`, `db`, `web`,
/// `payments`… (the layers `db` and `web` are one node each; the domain is one node per
/// area, since that is where cycles hide).
fn module_of(path: &Path) -> String {
    let rel = path.strip_prefix(src()).expect("under src");
    let parts: Vec<String> = rel
        .with_extension("")
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    match parts.as_slice() {
        [top, area, ..] if top == "domain" && area != "mod" => format!("domain::{area}"),
        [top, ..] if top == "domain" => "domain".into(),
        [top, ..] => top.clone(),
        [] => String::new(),
    }
}

/// The modules a file's code names through `crate::…` (in `use` lines and paths alike),
/// leaving out what it names only in its `#[cfg(test)]` part.
fn imports(path: &Path) -> BTreeSet<String> {
    let text = std::fs::read_to_string(path).expect("source file");
    let code = text.split("#[cfg(test)]").next().unwrap_or("");
    let mut out = BTreeSet::new();
    let mut rest = code;
    while let Some(at) = rest.find("crate::") {
        rest = &rest[at + "crate::".len()..];
        // `crate::domain::{orders, payments::settle, …}` names each area of the group.
        if let Some(group) = rest.strip_prefix("domain::{") {
            let mut depth = 0;
            let end = group
                .char_indices()
                .find(|&(_, c)| {
                    depth += match c {
                        '{' => 1,
                        '}' => -1,
                        _ => 0,
                    };
                    depth < 0
                })
                .map_or(group.len(), |(i, _)| i);
            // Split at the group's own commas (not those of a nested group).
            let (mut depth, mut from, mut items) = (0, 0, Vec::new());
            for (i, c) in group[..end].char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        items.push(&group[from..i]);
                        from = i + 1;
                    }
                    _ => {}
                }
            }
            items.push(&group[from..end]);
            for item in items {
                let area: String = item
                    .trim()
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if !area.is_empty() && area != "self" {
                    out.insert(format!("domain::{area}"));
                }
            }
            continue;
        }
        let mut segments = rest
            .split(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
            .next()
            .unwrap_or("")
            .split("::");
        let top = segments.next().unwrap_or("").to_string();
        let module = match (top.as_str(), segments.next()) {
            ("domain", Some(area))
                if !area.is_empty() && area.chars().all(|c| c.is_lowercase() || c == '_') =>
            {
                format!("domain::{area}")
            }
            _ => top,
        };
        if !module.is_empty() {
            out.insert(module);
        }
    }
    // `use super::x` inside the domain names a sibling area.
    if module_of(path).starts_with("domain::") {
        for line in code.lines() {
            if let Some(rest) = line.trim().strip_prefix("use super::") {
                let area: String = rest
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if !area.is_empty() {
                    out.insert(format!("domain::{area}"));
                }
            }
        }
    }
    out
}

fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in files {
        let from = module_of(&file);
        if from == "main" || from == "lib" || from == "bin" {
            continue;
        }
        let edges = graph.entry(from.clone()).or_default();
        for to in imports(&file) {
            if to != from {
                edges.insert(to);
            }
        }
    }
    graph
}

#[test]
fn nothing_outside_web_imports_web_and_web_never_touches_db() {
    let graph = graph();
    assert!(
        graph.len() > 20,
        "the modules are all read: {}",
        graph.len()
    );
    for (from, to) in &graph {
        if from != "web" {
            assert!(!to.contains("web"), "{from} imports web");
        }
        if from == "db" || from == "states" {
            let above: Vec<_> = to
                .iter()
                .filter(|m| m.starts_with("domain") || *m == "web")
                .collect();
            assert!(above.is_empty(), "{from} imports {above:?}");
        }
    }
    assert!(
        !graph["web"].contains("db"),
        "src/web names crate::db: handlers go through the domain"
    );
}

#[test]
fn the_modules_form_no_cycle() {
    let graph = graph();
    // Depth-first search for a back edge; the path found is the cycle reported.
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(i) = path.iter().position(|n| n == node) {
            let mut cycle = path[i..].to_vec();
            cycle.push(node.to_string());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_string());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, graph, path, done) {
                return Some(cycle);
            }
        }
        path.pop();
        done.insert(node.to_string());
        None
    }
    let mut done = BTreeSet::new();
    for node in graph.keys() {
        let cycle = visit(node, &graph, &mut Vec::new(), &mut done);
        assert!(
            cycle.is_none(),
            "import cycle: {}",
            cycle.unwrap_or_default().join(" → ")
        );
    }
}

#[test]
fn status_words_are_spelled_only_in_the_states_module() {
    // The texts of the typed states that are not also ordinary words of other columns.
    let words = [
        "\"pending_payment\"",
        "\"partially_refunded\"",
        "\"cash_on_delivery\"",
        "\"bank_transfer\"",
        "\"consignment\"",
        "\"purchased\"",
        "\"on_sale\"",
        "\"livestream\"",
        "\"household_share\"",
        "\"collective_share\"",
        "\"collective_sale\"",
        "\"refund_household\"",
        "\"refund_collective\"",
        "\"tuopin\"",
        "\"jiance\"",
        "\"yiban\"",
        "\"prepay\"",
        "\"on_account\"",
        "\"approver\"",
    ];
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    let mut found = Vec::new();
    for file in files {
        if file.ends_with("states.rs") {
            continue;
        }
        let text = std::fs::read_to_string(&file).expect("source file");
        let code = text.split("#[cfg(test)]").next().unwrap_or("");
        for word in words {
            // A JSON key of the same spelling (`"bank_transfer": …`) is not a state.
            let spelled = code
                .match_indices(word)
                .any(|(at, _)| !code[at + word.len()..].starts_with(':'));
            if spelled {
                found.push(format!("{}: {word}", file.display()));
            }
        }
    }
    assert!(
        found.is_empty(),
        "state texts outside src/states.rs: {found:#?}"
    );
}

/// Every route below `/api/v1` is registered as a `#[utoipa::path]` service, which puts
/// it in the OpenAPI document (`web::api::mount`): no API handler is routed by hand, and
/// no page route is spelled under `/api`. (`api::every_route_the_api_answers_is_in_its_document`
/// checks from outside that each described operation is served.)
#[test]
fn every_api_route_is_described_where_it_is_registered() {
    let mut files = Vec::new();
    rust_files(&src().join("web/api"), &mut files);
    assert!(!files.is_empty());
    let mut found = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).expect("source file");
        // The API's own scope is `utoipa_actix_web::scope`, which describes what it holds.
        let plain = text.replace("utoipa_actix_web::scope(", "");
        for manual in [".route(", "web::resource(", "web::scope(", "Route::new("] {
            if plain.contains(manual) {
                found.push(format!("{}: {manual}", file.display()));
            }
        }
        let lines: Vec<&str> = text.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            let routed = [
                "#[get(",
                "#[post(",
                "#[put(",
                "#[patch(",
                "#[delete(",
                "#[route(",
            ]
            .iter()
            .any(|m| line.trim_start().starts_with(m));
            if !routed {
                continue;
            }
            // The path attribute ends on the line above the method's.
            let described = lines[..i]
                .iter()
                .rev()
                .take_while(|l| !l.trim().is_empty() && !l.trim_start().starts_with("pub async fn"))
                .any(|l| l.trim_start().starts_with("#[utoipa::path"));
            if !described {
                found.push(format!("{}:{}: {line}", file.display(), i + 1));
            }
        }
    }
    let web = std::fs::read_to_string(src().join("web/mod.rs")).expect("web/mod.rs");
    if web.contains("\"/api") {
        found.push("src/web/mod.rs routes a path under /api".into());
    }
    assert!(
        found.is_empty(),
        "API routes outside the document: {found:#?}"
    );
}
