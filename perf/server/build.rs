//! Hands the rustflags the bench was built with to the report: the 50 KB figures depend on
//! where the linker puts serde_json's string-escaping loop unless loops are aligned
//! (`-C llvm-args=-align-loops=64`), so the report says whether they were.

fn main() {
    let flags = std::env::var("CARGO_ENCODED_RUSTFLAGS")
        .unwrap_or_default()
        .replace('\u{1f}', " ");
    println!("cargo:rustc-env=PERF_SERVER_RUSTFLAGS={flags}");
    println!("cargo:rerun-if-env-changed=CARGO_ENCODED_RUSTFLAGS");
}
