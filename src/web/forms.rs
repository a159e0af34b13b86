//! Showing what was wrong with a form: each message in the visitor's language, keyed
//! by the field it belongs next to.

use std::fmt::Display;

use serde_json::{Map, Value, json};

use crate::domain::team::Village;
use crate::domain::validation::FieldErrors;
use crate::i18n::Lang;

/// `{ field: message }` for the template; the first problem of each field wins.
pub fn errors_json(lang: Lang, errors: &FieldErrors) -> Value {
    let mut map = Map::new();
    for e in &errors.0 {
        map.entry(e.field.clone())
            .or_insert_with(|| Value::String(lang.t_args(e.key, &e.args)));
    }
    Value::Object(map)
}

/// The first value of a form field sent as `(name, value)` pairs, or empty.
pub fn field(pairs: &[(String, String)], name: &str) -> String {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.clone())
        .unwrap_or_default()
}

/// The fields named `{prefix}{id}` (`q-12`, `qty_7`, `rejected-3`): each record's id and
/// its value as typed. Fields whose rest is not an id are left out.
pub fn keyed<'a>(
    pairs: impl IntoIterator<Item = (&'a String, &'a String)>,
    prefix: &str,
) -> Vec<(i64, String)> {
    pairs
        .into_iter()
        .filter_map(|(k, v)| Some((k.strip_prefix(prefix)?.parse::<i64>().ok()?, v.clone())))
        .collect()
}

/// Every value of a repeated field (checkboxes of one name).
pub fn all(pairs: &[(String, String)], name: &str) -> Vec<String> {
    pairs
        .iter()
        .filter(|(k, _)| k == name)
        .map(|(_, v)| v.clone())
        .collect()
}

/// `<select>` options for a list of codes or typed states (`HouseholdCategory::ALL`),
/// each labelled by the fluent key `{prefix}{code}` (`category-household-tuopin`…).
pub fn coded_options<C: Display>(
    lang: Lang,
    codes: &[C],
    prefix: &str,
    selected: &str,
) -> Vec<Value> {
    codes
        .iter()
        .map(|c| {
            let code = c.to_string();
            let label = lang.t(&format!("{prefix}{code}"));
            json!({ "selected": code == selected, "value": code, "label": label })
        })
        .collect()
}

/// `<select>` options for villages, by id.
pub fn village_options(lang: Lang, villages: &[Village], selected: &str) -> Vec<Value> {
    villages
        .iter()
        .map(|v| json!({ "value": v.id, "label": lang.pick(&v.name_zh, &v.name_en), "selected": v.id.to_string() == selected }))
        .collect()
}
