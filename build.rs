//! Rebuild when embedded files change: migrations, templates, locales and static files
//! are compiled into the binary. `rerun-if-changed` alone reruns this script but does not
//! always recompile the crate that embeds them, so the script also hands the compiler a
//! digest of their contents: a changed file changes the digest, and that rebuilds.
use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::Path;

fn digest(dir: &Path, hasher: &mut DefaultHasher) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut paths: Vec<_> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for path in paths {
        if path.is_dir() {
            digest(&path, hasher);
        } else if let Ok(bytes) = std::fs::read(&path) {
            path.hash(hasher);
            bytes.hash(hasher);
        }
    }
}

fn main() {
    let mut hasher = DefaultHasher::new();
    for dir in ["migrations", "templates", "locales", "static", "demo"] {
        println!("cargo:rerun-if-changed={dir}");
        digest(Path::new(dir), &mut hasher);
    }
    println!(
        "cargo:rustc-env=EMBEDDED_FILES_DIGEST={:016x}",
        hasher.finish()
    );
}
