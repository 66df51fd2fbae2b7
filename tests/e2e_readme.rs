//! The README's examples of the generated crate are `examples/login_and_post.rs`,
//! `examples/firehose.rs`, `examples/serve.rs` and `examples/service_auth.rs`, which
//! `cargo test` builds: this checks that the README shows each file's code, unchanged.

use integration_tests::repo_root;

#[test]
fn the_readme_shows_the_built_examples() {
    for example in [
        "login_and_post.rs",
        "firehose.rs",
        "serve.rs",
        "service_auth.rs",
    ] {
        shows(example);
    }
}

fn shows(file: &str) {
    let readme = std::fs::read_to_string(repo_root().join("README.md")).expect("README.md");
    let example = std::fs::read_to_string(repo_root().join("tests/examples").join(file))
        .expect("the example");
    // The README leaves out the file's leading `//!` comment.
    let code: String = example
        .lines()
        .skip_while(|line| line.starts_with("//!") || line.is_empty())
        .map(|line| format!("{line}\n"))
        .collect();
    let block = format!("```rust\n{code}```");
    assert!(
        readme.contains(&block),
        "README.md must show tests/examples/{file} (without its `//!` lines) in a ```rust \
         block; expected:\n{block}"
    );
}
