//! Crates for an app's own lexicons, layered on atproto-api (`generated/`): any folder layout,
//! copies of base documents, duplicates, non-lexicon files, warnings, chains of layers, and
//! the example app's crates (`examples/linkboard`) fresh and lossless.

use codegen::{Base, CrateOptions, Diagnostics, Generated, Options, Severity, SourceFile};
use integration_tests::repo_root;
use std::path::{Path, PathBuf};

fn source(file: &str, text: &str) -> SourceFile {
    SourceFile {
        file: PathBuf::from(file),
        relative_path: Some(PathBuf::from(file)),
        text: text.to_owned(),
    }
}

/// The repository's atproto-api crate as a base, for a crate generated into `target/`.
fn atproto_base() -> Base {
    let root = repo_root();
    Base::from_crate_dir(&root.join("generated"), &root.join("target/layering-test"))
        .expect("generated/ has a manifest")
}

fn options(name: &str, bases: Vec<Base>) -> Options {
    Options {
        krate: CrateOptions {
            name: name.to_owned(),
            version: "0.1.0".to_owned(),
        },
        bases,
        deny_warnings: false,
    }
}

fn generate(folders: &[&[SourceFile]], bases: Vec<Base>) -> Result<Generated, Diagnostics> {
    codegen::generate_with(folders, &options("my-api", bases))
}

fn with_severity(diagnostics: &Diagnostics, severity: Severity) -> Vec<String> {
    diagnostics
        .iter()
        .filter(|d| d.severity == severity)
        .map(ToString::to_string)
        .collect()
}

const POST: &str = r#"{
  "lexicon": 1,
  "id": "com.example.app.post",
  "defs": {
    "main": {
      "type": "record",
      "key": "tid",
      "record": {
        "type": "object",
        "required": ["text", "subject"],
        "properties": {
          "text": { "type": "string" },
          "subject": { "type": "ref", "ref": "com.atproto.repo.strongRef" },
          "labels": { "type": "union", "refs": ["com.atproto.label.defs#selfLabels"] },
          "facets": { "type": "array", "items": { "type": "ref", "ref": "app.bsky.richtext.facet" } }
        }
      }
    }
  }
}"#;

const DEFS: &str = r#"{"lexicon": 1, "id": "com.example.app.defs", "defs": {"tag": {"type": "string", "maxLength": 64}}}"#;

fn file<'a>(generated: &'a Generated, path: &str) -> &'a str {
    generated
        .files
        .get(Path::new(path))
        .map(String::as_str)
        .unwrap_or_else(|| panic!("{path} is not generated: {:?}", generated.files.keys()))
}

#[test]
fn refs_into_the_base_are_its_types_and_no_runtime_is_copied() {
    let sources = [source("anywhere/post.json", POST)];
    let without_base = generate(&[&sources], Vec::new()).expect_err("strongRef is not there");
    assert!(
        without_base
            .to_string()
            .contains("unresolved reference `com.atproto.repo.strongRef`"),
        "{without_base}"
    );
    let generated = generate(&[&sources], vec![atproto_base()]).expect("generates on the base");
    assert_eq!(generated.documents, 1);
    let post = file(&generated, "src/com/example/app/post.rs");
    assert!(
        post.contains("::atproto_api::com::atproto::repo::strong_ref::Main"),
        "{post}"
    );
    assert!(
        post.contains("::atproto_api::app::bsky::richtext::facet::Main"),
        "{post}"
    );
    assert!(!generated.files.keys().any(|p| p.starts_with("src/runtime")));
    let lib = file(&generated, "src/lib.rs");
    assert!(lib.contains("pub use ::atproto_api::runtime;"), "{lib}");
    let manifest = file(&generated, "Cargo.toml");
    assert!(manifest.contains("atproto-api = { path = "), "{manifest}");
    assert!(
        manifest.contains("\"atproto-api/app-bsky\"")
            && manifest.contains("\"atproto-api/com-atproto\""),
        "the namespace feature enables the base's namespaces it uses:\n{manifest}"
    );
    let own = codegen::Manifest::parse(file(&generated, "lexicon-manifest.json")).expect("parses");
    let ids: Vec<&str> = own.documents.iter().map(|d| d.id.as_str()).collect();
    assert_eq!(ids, ["com.example.app.post"]);
    assert_eq!(own.bases[0].package, "atproto-api");
    assert_eq!(own.runtime, "atproto_api");
}

#[test]
fn any_layout_is_read_by_id() {
    let sources = [
        source("lexicons/com.example.app.post.json", POST),
        source("lexicons/app/defs.json", DEFS),
    ];
    let generated = generate(&[&sources], vec![atproto_base()]).expect("generates");
    assert_eq!(generated.documents, 2);
    assert!(
        generated.diagnostics.is_empty(),
        "{}",
        generated.diagnostics
    );
    file(&generated, "src/com/example/app/post.rs");
    file(&generated, "src/com/example/app/defs.rs");
}

#[test]
fn files_that_are_not_lexicons_are_skipped_with_a_note() {
    let sources = [
        source(
            "lexicons/package.json",
            r#"{"name": "my-app", "version": "1.0.0"}"#,
        ),
        source("lexicons/list.json", "[1, 2]"),
        source("lexicons/tsconfig.json", "{ // comments\n }"),
        source("lexicons/defs.json", DEFS),
    ];
    let generated = generate(&[&sources], Vec::new()).expect("generates");
    let notes = with_severity(&generated.diagnostics, Severity::Note);
    assert_eq!(notes.len(), 3, "{notes:#?}");
    assert!(
        notes[0].starts_with("lexicons/list.json: skipped: it is not a JSON object"),
        "{notes:#?}"
    );
    assert!(
        notes[1].starts_with("lexicons/package.json: skipped: it has no `lexicon` key"),
        "{notes:#?}"
    );
    assert!(
        notes[2].starts_with("lexicons/tsconfig.json: skipped: it is not JSON"),
        "{notes:#?}"
    );
    assert_eq!(generated.documents, 1);
}

#[test]
fn a_copy_of_a_base_document_is_skipped_and_compared() {
    let root = repo_root();
    let upstream = std::fs::read_to_string(root.join("lexicons/com/atproto/repo/strongRef.json"))
        .expect("readable");
    let older = r#"{"lexicon": 1, "id": "com.atproto.repo.strongRef", "defs": {"main": {"type": "object", "required": ["uri", "cid"], "properties": {"uri": {"type": "string", "format": "at-uri"}, "cid": {"type": "string"}}}}}"#;
    let sources = [
        source("vendor/same.json", &upstream),
        source("elsewhere/older.json", older),
        source("post.json", POST),
    ];
    // The same id twice in one folder, differently: that alone is an error...
    let clash = generate(&[&sources], Vec::new()).expect_err("two different strongRefs");
    let text = clash.to_string();
    assert!(
        text.contains("vendor/same.json:3:9: com.atproto.repo.strongRef: at /id: `com.atproto.repo.strongRef` is also defined, differently, by elsewhere/older.json:1:22")
            || text.contains("elsewhere/older.json:1:22: com.atproto.repo.strongRef: at /id: `com.atproto.repo.strongRef` is also defined, differently, by vendor/same.json:3:9"),
        "{text}"
    );
    // ...but on the base, both copies give way to the base's document, each with its verdict.
    let generated = generate(&[&sources], vec![atproto_base()]).expect("generates");
    assert_eq!(generated.documents, 1);
    let notes = with_severity(&generated.diagnostics, Severity::Note);
    assert_eq!(notes.len(), 2, "{notes:#?}");
    assert!(
        notes[0].starts_with("elsewhere/older.json: com.atproto.repo.strongRef: skipped: `com.atproto.repo.strongRef` is provided by the base crate atproto-api; this copy differs, breaking on the wire (from the kept one to this copy: 1 breaking"),
        "{notes:#?}"
    );
    assert!(
        notes[1].ends_with("is provided by the base crate atproto-api; this copy is identical"),
        "{notes:#?}"
    );
}

#[test]
fn identical_copies_in_one_folder_are_one_document() {
    let sources = [source("a/defs.json", DEFS), source("b/defs.json", DEFS)];
    let generated = generate(&[&sources], Vec::new()).expect("generates");
    assert_eq!(generated.documents, 1);
    let notes = with_severity(&generated.diagnostics, Severity::Note);
    assert_eq!(
        notes,
        [
            "b/defs.json: com.example.app.defs: skipped: `com.example.app.defs` is provided by a/defs.json, an identical copy; this copy is identical"
        ]
    );
}

#[test]
fn an_earlier_folder_wins_over_a_later_copy() {
    let changed = DEFS.replace("64", "32");
    let first = [source("mine/defs.json", DEFS)];
    let second = [source("theirs/defs.json", &changed)];
    let generated = generate(&[&first, &second], Vec::new()).expect("generates");
    let notes = with_severity(&generated.diagnostics, Severity::Note);
    assert_eq!(notes.len(), 1, "{notes:#?}");
    assert!(
        notes[0].starts_with("theirs/defs.json: com.example.app.defs: skipped: `com.example.app.defs` is provided by mine/defs.json (an earlier lexicon folder); this copy differs, compatible on the wire, with warnings"),
        "{notes:#?}"
    );
    let defs = file(&generated, "lexicon-manifest.json");
    assert!(
        defs.contains(r#""maxLength":64"#),
        "the first folder's copy is generated"
    );
}

#[test]
fn a_named_union_is_a_warning_that_still_generates() {
    let text = r##"{"lexicon": 1, "id": "com.example.app.embed", "defs": {
  "main": {"type": "object", "properties": {"embed": {"type": "ref", "ref": "#kind"}}},
  "kind": {"type": "union", "refs": ["#a", "#b"]},
  "a": {"type": "object", "properties": {}},
  "b": {"type": "object", "properties": {}}
}}"##;
    let sources = [source("embed.json", text)];
    let generated = generate(&[&sources], Vec::new()).expect("a warning generates");
    let warnings = with_severity(&generated.diagnostics, Severity::Warning);
    assert_eq!(
        warnings,
        [
            "embed.json:3:11: com.example.app.embed#kind: at /defs/kind: a `union` def is not in the spec; generated as a named type that refs use [named-union]"
        ]
    );
    let module = file(&generated, "src/com/example/app/embed.rs");
    assert!(module.contains("pub enum Kind {"), "{module}");
    assert!(
        module.contains("pub embed: ::std::option::Option<Kind>"),
        "{module}"
    );

    let mut strict = options("my-api", Vec::new());
    strict.deny_warnings = true;
    let denied = codegen::generate_with(&[&sources], &strict).expect_err("warnings denied");
    assert!(
        denied.to_string().starts_with("error: embed.json:3:11"),
        "{denied}"
    );
}

#[test]
fn a_chain_of_layers_must_name_each_base_with_its_digest() {
    let root = repo_root();
    let app = root.join("examples/linkboard");
    let polls = [source(
        "poll.json",
        r#"{"lexicon": 1, "id": "com.example.linkboard.polls.vote", "defs": {"main": {"type": "object", "properties": {"board": {"type": "ref", "ref": "com.example.linkboard.defs#boardRef"}}}}}"#,
    )];
    let linkboard = Base::from_crate_dir(&app.join("api"), &root.join("target/layering-test"))
        .expect("the example's crate has a manifest");
    let missing = generate(&[&polls], vec![linkboard.clone()]).expect_err("atproto-api missing");
    assert!(
        missing.to_string().contains(
            "linkboard-api is layered on atproto-api: give that crate as a base too, before it"
        ),
        "{missing}"
    );
    let mut stale_base = atproto_base();
    stale_base.manifest.digest = "sha256:0000".to_owned();
    let stale = generate(&[&polls], vec![stale_base, linkboard.clone()]).expect_err("stale");
    assert!(
        stale
            .to_string()
            .contains("linkboard-api was generated on another version of atproto-api"),
        "{stale}"
    );
    let generated = generate(&[&polls], vec![atproto_base(), linkboard]).expect("two layers");
    let vote = file(&generated, "src/com/example/linkboard/polls/vote.rs");
    assert!(
        vote.contains("::linkboard_api::com::example::linkboard::defs::BoardRef"),
        "{vote}"
    );
}

#[test]
fn the_example_apps_crates_are_fresh() {
    let app = repo_root().join("examples/linkboard");
    let mut said = Vec::new();
    for layer in linkboard_xtask::layers(&app) {
        let report = linkboard_xtask::generate(&layer, true).expect("generates");
        assert!(
            report.stale.is_empty(),
            "{} is stale (run `cargo run -p linkboard-xtask`): {:?}",
            layer.name,
            report.stale
        );
        said.extend(report.lines);
    }
    let said = said.join("\n");
    for expected in [
        "warning: lexicons/com.example.linkboard.link.json:38:16: com.example.linkboard.link#preview: at /defs/preview: a `union` def is not in the spec",
        "note: lexicons/package.json: skipped: it has no `lexicon` key",
        "note: lexicons/vendor/strongRef.json: com.atproto.repo.strongRef: skipped: `com.atproto.repo.strongRef` is provided by the base crate atproto-api; this copy differs, breaking on the wire",
        "linkboard-api: 3 documents, 1 warnings",
        "linkboard-polls-api: 3 documents, 0 warnings",
    ] {
        assert!(said.contains(expected), "missing {expected:?} in:\n{said}");
    }
}

/// The example's records, read and written back, keep every byte of meaning; the base's
/// types inside them are the base's own (the compiler checks the assignments).
#[test]
fn the_example_records_round_trip_losslessly() {
    use atproto_api::com::atproto::label::defs::SelfLabels;
    use atproto_api::com::atproto::repo::strong_ref;
    use atproto_api::runtime::Validate;
    use linkboard_api::com::example::linkboard::link;
    use linkboard_polls_api::com::example::linkboard::polls::poll;

    let json = serde_json::json!({
        "$type": "com.example.linkboard.link",
        "url": "https://example.com/a",
        "title": "A link",
        "note": "see @alice.test",
        "noteFacets": [{
            "index": {"byteStart": 4, "byteEnd": 15},
            "features": [{"$type": "app.bsky.richtext.facet#mention", "did": "did:plc:alice"}]
        }],
        "board": {"name": "com.example.linkboard.defs#ask"},
        "replyTo": {"uri": "at://did:plc:alice/com.example.linkboard.link/3l2", "cid": "bafyreidfayvfuwqa7qlnopdjiqrxzs6blmoeu4rujcjtnci5beludirz2a"},
        "preview": {"$type": "com.example.linkboard.link#card", "title": "A card", "unknownField": [1, 2]},
        "labels": {"$type": "com.atproto.label.defs#selfLabels", "values": [{"val": "nudity"}]},
        "createdAt": "2026-11-30T12:00:00.000Z",
        "kept": {"because": "unknown fields are kept"}
    });
    let record: link::Record = serde_json::from_value(json.clone()).expect("reads");
    assert_eq!(serde_json::to_value(&record).expect("writes"), json);
    record.validate().expect("valid");
    let reply: &strong_ref::Main = record.reply_to.as_ref().expect("set");
    assert_eq!(
        reply.uri.as_str(),
        "at://did:plc:alice/com.example.linkboard.link/3l2"
    );
    let Some(link::RecordLabels::DefsSelfLabels(labels)) = &record.labels else {
        panic!("self labels: {:?}", record.labels);
    };
    let labels: &SelfLabels = labels;
    assert_eq!(labels.values[0].val, "nudity");
    assert!(matches!(record.preview, Some(link::Preview::Card(_))));

    let poll_json = serde_json::json!({
        "$type": "com.example.linkboard.polls.poll",
        "subject": {"uri": "at://did:plc:alice/com.example.linkboard.link/3l2", "cid": "bafyreidfayvfuwqa7qlnopdjiqrxzs6blmoeu4rujcjtnci5beludirz2a"},
        "board": {"name": "com.example.linkboard.defs#front"},
        "question": "Worth reading?",
        "options": ["yes", "no"],
        "createdAt": "2026-11-30T12:00:00.000Z"
    });
    let poll: poll::Record = serde_json::from_value(poll_json.clone()).expect("reads");
    assert_eq!(serde_json::to_value(&poll).expect("writes"), poll_json);
    // One strong ref type across the three crates.
    let subject: strong_ref::Main = poll.subject.clone();
    assert_eq!(&subject, reply);
    let too_few = serde_json::from_value::<poll::Record>(serde_json::json!({
        "subject": poll_json["subject"], "question": "?", "options": ["only"], "createdAt": "2026-11-30T12:00:00.000Z"
    }))
    .expect("reading is lenient");
    let violations = too_few.validate().expect_err("one option is too few");
    assert_eq!(violations.0[0].path, "/options");
}

/// A layered crate's `AnyRecord` reads its own records and, through their `AnyRecord`s, its
/// bases' (each base in its own variant), from JSON and DAG-CBOR; other collections stay whole.
#[test]
fn a_layered_any_record_reads_its_own_and_its_bases_records() {
    use atproto_api::runtime::cbor;
    use linkboard_polls_api::AnyRecord;
    let records = [
        (
            "app.bsky.feed.post",
            serde_json::json!({
                "$type": "app.bsky.feed.post", "text": "hi", "createdAt": "2026-11-30T12:00:00.000Z"
            }),
        ),
        (
            "com.example.linkboard.link",
            serde_json::json!({
                "$type": "com.example.linkboard.link", "url": "https://example.com/a", "title": "A link",
                "createdAt": "2026-11-30T12:00:00.000Z"
            }),
        ),
        (
            "com.example.linkboard.polls.poll",
            serde_json::json!({
                "$type": "com.example.linkboard.polls.poll",
                "subject": {"uri": "at://did:plc:alice/com.example.linkboard.link/3l2", "cid": "bafyreidfayvfuwqa7qlnopdjiqrxzs6blmoeu4rujcjtnci5beludirz2a"},
                "question": "Worth reading?", "options": ["yes", "no"], "createdAt": "2026-11-30T12:00:00.000Z"
            }),
        ),
        (
            "com.example.other",
            serde_json::json!({ "$type": "com.example.other", "n": 1 }),
        ),
    ];
    for (collection, json) in records {
        let bytes =
            cbor::to_vec(&atproto_api::runtime::Unknown::try_from(json.clone()).unwrap()).unwrap();
        for read in [
            AnyRecord::from_json(collection, json.clone()).unwrap(),
            AnyRecord::from_cbor(collection, &bytes).unwrap(),
        ] {
            let known = match &read {
                AnyRecord::AtprotoApi(atproto_api::AnyRecord::AppBskyFeedPost(post)) => {
                    post.text == "hi"
                }
                AnyRecord::LinkboardApi(linkboard_api::AnyRecord::ComExampleLinkboardLink(
                    link,
                )) => link.title == "A link",
                AnyRecord::ComExampleLinkboardPollsPoll(poll) => poll.options.len() == 2,
                AnyRecord::Unknown(_) => collection == "com.example.other",
                other => panic!("{collection}: read as {other:?}"),
            };
            assert!(known, "{collection}: {read:?}");
            let expected = (collection != "com.example.other").then_some(collection);
            assert_eq!(read.collection(), expected);
            assert_eq!(
                serde_json::to_value(&read).unwrap(),
                json,
                "written back whole"
            );
            assert_eq!(cbor::to_vec(&read).unwrap(), bytes);
        }
    }
    assert!(AnyRecord::owns("com.example.linkboard.polls.poll"));
    assert!(
        !AnyRecord::owns("com.example.linkboard.link"),
        "a base's, not its own"
    );
}
