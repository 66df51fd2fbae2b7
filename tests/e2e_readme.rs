//! The README's example of the generated client is `examples/login_and_post.rs`, which
//! `cargo test` builds: this checks that the README shows that file's code, unchanged.

use integration_tests::repo_root;

#[test]
fn the_readme_shows_the_built_example() {
    let readme = std::fs::read_to_string(repo_root().join("README.md")).expect("README.md");
    let example = std::fs::read_to_string(repo_root().join("tests/examples/login_and_post.rs"))
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
        "README.md must show tests/examples/login_and_post.rs (without its `//!` lines) in a \
         ```rust block; expected:\n{block}"
    );
}
