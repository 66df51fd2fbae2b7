//! Broken lexicons give located, named errors; all of them, in one run; never a panic.

use codegen::{CrateOptions, Diagnostics, SourceFile};
use std::path::PathBuf;

fn source(name: &str, text: &str) -> SourceFile {
    SourceFile {
        file: PathBuf::from(format!("lexicons/{name}")),
        relative_path: Some(PathBuf::from(name)),
        text: text.to_owned(),
    }
}

fn problems(sources: &[SourceFile]) -> Diagnostics {
    codegen::generate(sources, &CrateOptions::default()).expect_err("these lexicons are broken")
}

const VALID_OBJECT: &str = r#"{
  "lexicon": 1,
  "id": "com.example.thing",
  "defs": { "main": { "type": "object", "properties": { "name": { "type": "string" } } } }
}"#;

#[test]
fn malformed_json_is_located_by_line_and_column() {
    let text = "{\n  \"lexicon\": 1,\n  \"id\": \"com.example.broken\",\n  \"defs\": {\n    \"main\": { \"type\": \"token\" },\n  }\n}";
    let diagnostics = problems(&[source("com/example/broken.json", text)]);
    assert_eq!(diagnostics.len(), 1, "{diagnostics}");
    let d = &diagnostics.0[0];
    assert_eq!(d.file, PathBuf::from("lexicons/com/example/broken.json"));
    assert_eq!(d.position, Some((6, 3)));
    assert!(d.message.contains("malformed JSON"), "{d}");
    assert_eq!(d.def.as_deref(), Some("com.example.broken"));
    assert!(
        d.to_string()
            .starts_with("lexicons/com/example/broken.json:6:3: com.example.broken: "),
        "{d}"
    );
}

#[test]
fn a_wrong_field_type_names_its_path_and_def() {
    let text = r#"{
  "lexicon": 1,
  "id": "com.example.post",
  "defs": {
    "main": {
      "type": "object",
      "properties": { "text": { "type": "string", "maxLength": "three hundred" } }
    }
  }
}"#;
    let diagnostics = problems(&[source("com/example/post.json", text)]);
    assert_eq!(diagnostics.len(), 1, "{diagnostics}");
    let d = &diagnostics.0[0];
    assert_eq!(d.pointer, "/defs/main/properties/text/maxLength");
    assert_eq!(d.def.as_deref(), Some("com.example.post#main"));
    assert_eq!(d.position, Some((7, 64)));
    assert!(
        d.message.contains("invalid type: string \"three hundred\""),
        "{d}"
    );
}

#[test]
fn an_unresolved_ref_names_the_target() {
    let text = r#"{
  "lexicon": 1,
  "id": "com.example.feed",
  "defs": {
    "item": { "type": "object", "properties": { "author": { "type": "ref", "ref": "com.example.actor#profile" } } }
  }
}"#;
    let diagnostics = problems(&[source("com/example/feed.json", text)]);
    assert_eq!(diagnostics.len(), 1, "{diagnostics}");
    let d = &diagnostics.0[0];
    assert_eq!(d.def.as_deref(), Some("com.example.feed#item"));
    assert_eq!(d.pointer, "/defs/item/properties/author/ref");
    assert_eq!(d.position, Some((5, 83)));
    assert!(
        d.message
            .contains("unresolved reference `com.example.actor#profile`"),
        "{d}"
    );
}

#[test]
fn a_record_not_named_main_is_rejected() {
    let text = r#"{
  "lexicon": 1,
  "id": "com.example.like",
  "defs": {
    "like": { "type": "record", "key": "tid", "record": { "type": "object", "properties": {} } }
  }
}"#;
    let diagnostics = problems(&[source("com/example/like.json", text)]);
    assert_eq!(diagnostics.len(), 1, "{diagnostics}");
    let d = &diagnostics.0[0];
    assert_eq!(d.def.as_deref(), Some("com.example.like#like"));
    assert_eq!(d.position, Some((5, 13)));
    assert!(d.message.contains("must be named `main`"), "{d}");
}

#[test]
fn every_broken_document_is_reported_in_one_run() {
    let sources = [
        source("com/example/thing.json", VALID_OBJECT),
        source("com/example/a.json", "{ \"lexicon\": 1, not json"),
        source(
            "com/example/b.json",
            r##"{"lexicon": 1, "id": "com.example.b", "defs": {"main": {"type": "ref", "ref": "#nowhere"}}}"##,
        ),
        source(
            "com/example/c.json",
            r#"{"lexicon": 1, "id": "com.example.c", "defs": {"x": {"type": "query"}}}"#,
        ),
        source(
            "com/example/d.json",
            r#"{"lexicon": "one", "id": "com.example.d", "defs": {}}"#,
        ),
        source(
            "com/example/e.json",
            r#"{"lexicon": 1, "id": "com.example.e", "defs": {"main": {"type": "string", "maxLength": 1, "minLength": 2}}}"#,
        ),
    ];
    let diagnostics = problems(&sources);
    let files: Vec<String> = diagnostics
        .iter()
        .map(|d| d.file.display().to_string())
        .collect();
    for name in ["a", "b", "c", "d", "e"] {
        assert!(
            files.contains(&format!("lexicons/com/example/{name}.json")),
            "{name} missing from:\n{diagnostics}"
        );
    }
    assert!(
        !files.contains(&"lexicons/com/example/thing.json".to_owned()),
        "{diagnostics}"
    );
    assert!(
        diagnostics.to_string().ends_with("5 errors"),
        "{diagnostics}"
    );
}

#[test]
fn refs_into_a_broken_document_are_not_reported_twice() {
    let referrer = r#"{"lexicon": 1, "id": "com.example.user", "defs": {"main": {"type": "object", "properties": {"t": {"type": "ref", "ref": "com.example.broken#x"}}}}}"#;
    let broken = r#"{"lexicon": 1, "id": "com.example.broken", "defs": {"x": {"type": "object", "properties": {"n": {"type": "integer", "minimum": "zero"}}}}}"#;
    let diagnostics = problems(&[
        source("com/example/user.json", referrer),
        source("com/example/broken.json", broken),
    ]);
    assert_eq!(diagnostics.len(), 1, "{diagnostics}");
    assert_eq!(
        diagnostics.0[0].def.as_deref(),
        Some("com.example.broken#x")
    );
}

#[test]
fn odd_inputs_never_panic() {
    let inputs = [
        "",
        "null",
        "[]",
        "{}",
        "\"x\"",
        "{\"defs\": 5}",
        "{\"lexicon\": 1, \"id\": \"\", \"defs\": {}}",
        "{\"lexicon\": 1, \"id\": \"a.b.c\", \"defs\": {\"main\": {}}}",
        "{\"lexicon\": 1, \"id\": \"a.b.c\", \"defs\": {\"main\": {\"type\": \"array\"}}}",
        "{\"lexicon\": 1, \"id\": \"a.b.c\", \"defs\": {\"main\": {\"type\": \"union\", \"refs\": [\"#\", \"\", \"#main\"]}}}",
        "{\"lexicon\": 1, \"id\": \"a.b.c\", \"defs\": {\"main\": {\"type\": \"object\", \"properties\": {\"a\": {\"type\": \"ref\", \"ref\": \"#main\"}}}}}",
        "{\"lexicon\": 99999999999, \"id\": \"a.b.c\"}",
    ];
    for text in inputs {
        let _ = codegen::generate(&[source("a/b/c.json", text)], &CrateOptions::default());
    }
}

/// A def that fails on its own defect is reported for it alone: not also as a document
/// without defs (the interop vector "non-main primary" once got that second error).
#[test]
fn a_broken_lone_def_is_not_also_a_missing_def() {
    let text = r#"{
  "lexicon": 1,
  "id": "com.example.lone",
  "defs": { "main": { "type": "array" } }
}"#;
    let diagnostics = problems(&[source("com/example/lone.json", text)]);
    assert_eq!(diagnostics.len(), 1, "{diagnostics}");
    assert_eq!(diagnostics.0[0].pointer, "/defs/main");
    let empty = r#"{ "lexicon": 1, "id": "com.example.empty", "defs": {} }"#;
    let diagnostics = problems(&[source("com/example/empty.json", empty)]);
    assert_eq!(diagnostics.len(), 1, "{diagnostics}");
    assert_eq!(diagnostics.0[0].message, "a lexicon needs at least one def");
}

/// The spec requires an object's `properties`; without them its meaning is still plain.
#[test]
fn an_object_without_properties_is_a_warning_and_generates() {
    let text = r#"{
  "lexicon": 1,
  "id": "com.example.bare",
  "defs": { "main": { "type": "record", "key": "tid", "record": { "type": "object" } } }
}"#;
    let generated = codegen::generate_with(
        &[&[source("com/example/bare.json", text)]],
        &codegen::Options::default(),
    )
    .unwrap_or_else(|d| panic!("generates:\n{d}"));
    let warnings: Vec<String> = generated
        .diagnostics
        .iter()
        .map(|d| d.to_string())
        .collect();
    assert_eq!(
        warnings,
        [
            "lexicons/com/example/bare.json:4:65: com.example.bare#main: at /defs/main/record: \
          a `object` without `properties`: read as one with no properties [object-without-properties]"
        ],
    );
    assert!(
        generated
            .files
            .contains_key(std::path::Path::new("src/com/example/bare.rs"))
    );
}
