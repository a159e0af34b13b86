//! Showing what was wrong with a form: each message in the visitor's language, keyed
//! by the field it belongs next to.

use serde_json::{Map, Value};

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

/// Every value of a repeated field (checkboxes of one name).
pub fn all(pairs: &[(String, String)], name: &str) -> Vec<String> {
    pairs
        .iter()
        .filter(|(k, _)| k == name)
        .map(|(_, v)| v.clone())
        .collect()
}
