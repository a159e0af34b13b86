//! Every UI string exists in both languages.

use std::collections::BTreeSet;

fn keys(lang: &str) -> BTreeSet<String> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("locales")
        .join(lang);
    let mut keys = BTreeSet::new();
    for entry in std::fs::read_dir(&dir).expect("locale folder").flatten() {
        let text = std::fs::read_to_string(entry.path()).expect("ftl file");
        for line in text.lines() {
            let starts_key = line.chars().next().is_some_and(|c| c.is_ascii_lowercase());
            if let (true, Some((key, _))) = (starts_key, line.split_once(" =")) {
                assert!(
                    keys.insert(key.trim().to_string()),
                    "{lang}: {key} defined twice"
                );
            }
        }
    }
    keys
}

#[test]
fn chinese_and_english_have_the_same_keys() {
    let zh = keys("zh-CN");
    let en = keys("en");
    assert!(zh.len() > 100, "the strings are all read: {}", zh.len());
    let only_zh: Vec<_> = zh.difference(&en).collect();
    let only_en: Vec<_> = en.difference(&zh).collect();
    assert!(
        only_zh.is_empty() && only_en.is_empty(),
        "only zh-CN: {only_zh:?}; only en: {only_en:?}"
    );
}
