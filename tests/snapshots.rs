//! Snapshots of generated code, reviewed like code: a change shows up as a diff to accept.

use integration_tests::generate_repo_lexicons;

#[test]
fn create_session_module() {
    let files = generate_repo_lexicons();
    let module = &files[std::path::Path::new("src/com/atproto/server/create_session.rs")];
    insta::assert_snapshot!("create_session", module);
}
