//! Rebuild when embedded files change: migrations, templates, locales and static files
//! are compiled into the binary.
fn main() {
    for dir in ["migrations", "templates", "locales", "static"] {
        println!("cargo:rerun-if-changed={dir}");
    }
}
