//! `codegen::generate` never panics: whatever the input, it returns files or diagnostics.
//!
//! Two kinds of tests: inputs the fuzzer (`fuzz/`) once crashed on, kept as regression tests,
//! and a cheap property test that mutates small lexicon documents written here, so CI keeps
//! some of the fuzzer's coverage without cargo fuzz.

mod support;

use codegen::{CrateOptions, SourceFile};
use serde_json::{Map, Value, json};
use std::collections::BTreeSet;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;

/// Documents named after their id, as `read_lexicon_dir` would find them (the fuzzer's way too).
fn sources(texts: &[&str]) -> Vec<SourceFile> {
    texts
        .iter()
        .enumerate()
        .map(|(i, text)| SourceFile {
            file: PathBuf::from(format!("input{i}.json")),
            relative_path: codegen::locate::top_level_string(text, "id")
                .map(|id| PathBuf::from(format!("{}.json", id.replace('.', "/")))),
            text: (*text).to_owned(),
        })
        .collect()
}

/// Runs the pipeline; a panic fails the test, an `Err` is a fine answer.
fn generate(texts: &[&str]) -> Result<codegen::Files, codegen::Diagnostics> {
    codegen::generate(&sources(texts), &CrateOptions::default())
}

#[test]
fn arbitrary_text_is_diagnosed() {
    for text in [
        "",
        "\0",
        "{",
        "[]",
        "null",
        "{\"lexicon\": 1}",
        "{\"lexicon\": 1, \"id\": \"a.b.c\", \"defs\": []}",
        "{\"lexicon\": 1, \"id\": \"a.b.c\", \"defs\": {}} trailing",
        "{\"id\": \"\\ud800\", \"lexicon\": 1, \"defs\": {}}",
        "{\"id\": \"a.b.c\", \"id\": \"d.e.f\", \"lexicon\": 1, \"defs\": {}}",
        "\u{feff}{\"lexicon\": 1, \"id\": \"a.b.c\", \"defs\": {}}",
    ] {
        assert!(generate(&[text]).is_err(), "{text:?} was accepted");
    }
}

/// How deeply objects and arrays nest in a JSON value.
fn depth(value: &Value) -> usize {
    match value {
        Value::Array(items) => 1 + items.iter().map(depth).max().unwrap_or(0),
        Value::Object(members) => 1 + members.values().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

/// The deepest document of nested `wrap`s that stays within `levels` of JSON nesting.
fn nested(levels: usize, wrap: fn(Value) -> Value) -> (usize, String) {
    let document =
        |schema: Value| json!({"lexicon": 1, "id": "com.example.deep", "defs": {"main": schema}});
    let mut schema = json!({"type": "integer"});
    while depth(&document(wrap(schema.clone()))) <= levels {
        schema = wrap(schema);
    }
    let document = document(schema);
    (depth(&document), document.to_string())
}

/// Found by this test, not by the fuzzer (whose main thread has 8 MiB of stack): every pass
/// recurses along the nesting (serde, check, resolve, emit, and syn on the generated types), and
/// documents nested as deeply as serde_json allows (128 levels) overflowed the stack of a test
/// thread (2 MiB) in a debug build, an abort rather than a panic. Documents deeper than 40
/// levels are now refused up front with a diagnostic.
#[test]
fn deep_nesting_is_refused_before_it_overflows_the_stack() {
    let arrays = |items| json!({"type": "array", "items": items});
    let objects = |inner| json!({"type": "object", "properties": {"inner": inner}});
    for wrap in [arrays as fn(Value) -> Value, objects] {
        // As deep as allowed: generates, on this thread's small stack.
        let (levels, text) = nested(40, wrap);
        assert!(levels >= 39, "{levels}");
        if let Err(diagnostics) = generate(&[&text]) {
            panic!("{levels} levels deep: {diagnostics:#?}");
        }
        // Deeper: a diagnostic, up to what serde_json itself would refuse and beyond.
        for limit in [41, 127, 128, 500] {
            let (levels, text) = nested(limit, wrap);
            assert!(levels > 40, "{levels}");
            let diagnostics = generate(&[&text]).expect_err("too deep");
            assert!(
                diagnostics.iter().any(|d| d.message.contains("nested")),
                "{levels} levels deep: {diagnostics:#?}"
            );
        }
    }
    // Brackets inside strings do not count.
    let text = json!({"lexicon": 1, "id": "com.example.deep", "defs": {"main": {"type": "token", "description": "[".repeat(100)}}});
    generate(&[&text.to_string()]).expect("brackets in a string are not nesting");
}

// ---------------------------------------------------------------------------------------------
// Property test: small documents, mutated deterministically.

/// Small documents that together touch every schema type and refer to one another.
const DOCUMENTS: &[&str] = &[
    r##"{
  "lexicon": 1,
  "id": "com.example.post",
  "description": "A post record.",
  "defs": {
    "main": {
      "type": "record",
      "key": "tid",
      "record": {
        "type": "object",
        "required": ["text", "createdAt"],
        "nullable": ["reply"],
        "properties": {
          "text": {"type": "string", "maxLength": 3000, "maxGraphemes": 300},
          "createdAt": {"type": "string", "format": "datetime"},
          "langs": {"type": "array", "maxLength": 3, "items": {"type": "string", "format": "language"}},
          "reply": {"type": "ref", "ref": "#replyRef"},
          "embed": {"type": "union", "refs": ["com.example.defs#image", "com.example.defs#link"]},
          "labels": {"type": "union", "closed": true, "refs": ["com.example.defs#selfLabels"]},
          "tags": {"type": "array", "items": {"type": "string", "knownValues": ["a", "b", "com.example.defs#flag"]}},
          "self": {"type": "ref", "ref": "com.example.post"}
        }
      }
    },
    "replyRef": {
      "type": "object",
      "required": ["root"],
      "properties": {
        "root": {"type": "ref", "ref": "com.example.defs#strongRef"},
        "parent": {"type": "ref", "ref": "#replyRef"}
      }
    }
  }
}"##,
    r##"{
  "lexicon": 1,
  "id": "com.example.defs",
  "defs": {
    "strongRef": {
      "type": "object",
      "required": ["uri", "cid"],
      "properties": {
        "uri": {"type": "string", "format": "at-uri"},
        "cid": {"type": "string", "format": "cid"}
      }
    },
    "image": {
      "type": "object",
      "required": ["image"],
      "properties": {
        "image": {"type": "blob", "accept": ["image/*"], "maxSize": 1000000},
        "alt": {"type": "string", "description": "Alt text, `code` and */ odd bits"},
        "raw": {"type": "bytes", "maxLength": 64},
        "link": {"type": "cid-link"},
        "extra": {"type": "unknown"}
      }
    },
    "link": {
      "type": "object",
      "properties": {
        "count": {"type": "integer", "minimum": 0, "maximum": 10, "default": 1},
        "pinned": {"type": "boolean", "default": false},
        "kind": {"type": "string", "enum": ["a", "b"], "default": "a"},
        "mode": {"type": "integer", "enum": [1, 2, 3]},
        "fixed": {"type": "string", "const": "x"}
      }
    },
    "selfLabels": {"type": "object", "properties": {"values": {"type": "array", "items": {"type": "string"}}}},
    "flag": {"type": "token", "description": "A flag."},
    "name": {"type": "string", "knownValues": ["type", "self", "9", "ob-je-c$t"]},
    "count": {"type": "integer"}
  }
}"##,
    r##"{
  "lexicon": 1,
  "id": "com.example.getThing",
  "defs": {
    "main": {
      "type": "query",
      "parameters": {
        "type": "params",
        "required": ["uri"],
        "properties": {
          "uri": {"type": "string", "format": "at-uri"},
          "limit": {"type": "integer", "minimum": 1, "maximum": 100, "default": 50},
          "tags": {"type": "array", "items": {"type": "string"}},
          "flag": {"type": "boolean"}
        }
      },
      "output": {
        "encoding": "application/json",
        "schema": {
          "type": "object",
          "required": ["thing"],
          "properties": {
            "thing": {"type": "union", "refs": ["com.example.defs#image", "com.example.post"]},
            "status": {"type": "string", "knownValues": ["ok", "gone"]},
            "inline": {"type": "object", "properties": {"x": {"type": "integer"}}}
          }
        }
      },
      "errors": [{"name": "NotFound"}, {"name": "not-found"}, {"name": "Other"}]
    }
  }
}"##,
    r##"{
  "lexicon": 1,
  "id": "com.example.doThing",
  "defs": {
    "main": {
      "type": "procedure",
      "input": {"encoding": "application/json", "schema": {"type": "ref", "ref": "com.example.defs#strongRef"}},
      "output": {"encoding": "*/*"},
      "errors": [{"name": "Failed", "description": "It failed."}]
    }
  }
}"##,
    r##"{
  "lexicon": 1,
  "id": "com.example.subscribe",
  "defs": {
    "main": {
      "type": "subscription",
      "parameters": {"type": "params", "properties": {"cursor": {"type": "integer"}}},
      "message": {"schema": {"type": "union", "refs": ["#commit", "#info"]}},
      "errors": [{"name": "FutureCursor"}]
    },
    "commit": {"type": "object", "required": ["seq"], "properties": {"seq": {"type": "integer"}}},
    "info": {"type": "object", "properties": {"name": {"type": "string", "knownValues": ["OutdatedCursor"]}}}
  }
}"##,
    r##"{
  "lexicon": 1,
  "id": "com.example.perms",
  "defs": {
    "main": {
      "type": "permission-set",
      "title": "Example",
      "title:lang": {"fr": "Exemple"},
      "permissions": [
        {"type": "permission", "resource": "repo", "collection": ["com.example.post"], "action": ["create"]},
        {"type": "permission", "resource": "rpc", "lxm": ["com.example.getThing"], "aud": "*", "inheritAud": true}
      ]
    }
  }
}"##,
];

/// xorshift64*: small, deterministic, good enough to pick mutations.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }
}

const TYPES: &[&str] = &[
    "boolean",
    "integer",
    "string",
    "bytes",
    "cid-link",
    "blob",
    "array",
    "object",
    "params",
    "token",
    "ref",
    "union",
    "unknown",
    "record",
    "query",
    "procedure",
    "subscription",
    "permission-set",
    "permission",
    "nonsense",
];

const NAMES: &[&str] = &[
    "main",
    "Main",
    "type",
    "$type",
    "self",
    "Self",
    "crate",
    "_",
    "",
    "9",
    "ob-je-c$t",
    "Record",
    "Params",
    "Input",
    "Output",
    "Error",
    "Other",
    "Unknown",
    "extra",
    "NSID",
    "Service",
    "std",
    "async",
    "fn",
    "🦀",
    "a b",
    "fooBar",
    "foo_bar",
];

const REFS: &[&str] = &[
    "#main",
    "#replyRef",
    "#commit",
    "#nope",
    "#",
    "com.example.post",
    "com.example.defs#image",
    "com.example.defs#flag",
    "com.example.defs#name",
    "com.example.defs#count",
    "com.example.getThing",
    "com.example.missing#x",
    "not an nsid",
];

/// A replacement value for any place in a document.
fn value(rng: &mut Rng) -> Value {
    match rng.below(12) {
        0 => Value::Null,
        1 => json!(rng.below(2) == 0),
        2 => json!(rng.pick(&[0i64, -1, 1, i64::MAX, i64::MIN])),
        3 => json!(u64::MAX),
        4 => json!(1.5),
        5 => json!(rng.pick(NAMES)),
        6 => json!(rng.pick(REFS)),
        7 => json!([]),
        8 => json!({}),
        9 => json!({"type": rng.pick(TYPES)}),
        10 => json!({"type": "ref", "ref": rng.pick(REFS)}),
        _ => json!({"type": "union", "refs": [rng.pick(REFS), rng.pick(REFS)]}),
    }
}

/// The number of nodes in a JSON tree.
fn count(value: &Value) -> usize {
    1 + match value {
        Value::Array(items) => items.iter().map(count).sum(),
        Value::Object(members) => members.values().map(count).sum(),
        _ => 0,
    }
}

/// The `n`th node in pre-order.
fn nth(value: &mut Value, mut n: usize) -> Option<&mut Value> {
    if n == 0 {
        return Some(value);
    }
    n -= 1;
    let children: Vec<&mut Value> = match value {
        Value::Array(items) => items.iter_mut().collect(),
        Value::Object(members) => members.values_mut().collect(),
        _ => return None,
    };
    for child in children {
        let size = count(child);
        if n < size {
            return nth(child, n);
        }
        n -= size;
    }
    None
}

/// One random edit somewhere in `document`.
fn mutate(rng: &mut Rng, document: &mut Value) {
    let n = rng.below(count(document));
    let Some(node) = nth(document, n) else {
        return;
    };
    match (rng.below(6), node) {
        // Delete a member or item.
        (0, Value::Object(members)) if !members.is_empty() => {
            let key = members.keys().nth(rng.below(members.len())).cloned();
            members.remove(&key.expect("non-empty"));
        }
        (0, Value::Array(items)) if !items.is_empty() => {
            items.remove(rng.below(items.len()));
        }
        // Duplicate a member under another name, or an item.
        (1, Value::Object(members)) if !members.is_empty() => {
            let (_, value) = members
                .iter()
                .nth(rng.below(members.len()))
                .expect("non-empty");
            let value = value.clone();
            members.insert(rng.pick(NAMES).to_owned(), value);
        }
        (1, Value::Array(items)) if !items.is_empty() => {
            let item = items[rng.below(items.len())].clone();
            items.push(item);
        }
        // Retype a schema.
        (2, Value::Object(members)) if members.contains_key("type") => {
            members.insert("type".into(), json!(rng.pick(TYPES)));
        }
        // Point a ref elsewhere, or require/null a property (existing or not).
        (3, Value::Object(members)) => {
            if members.contains_key("ref") {
                members.insert("ref".into(), json!(rng.pick(REFS)));
            } else if let Some(Value::Array(refs)) = members.get_mut("refs") {
                refs.push(json!(rng.pick(REFS)));
            } else if members.contains_key("properties") {
                let field = if rng.below(2) == 0 {
                    "required"
                } else {
                    "nullable"
                };
                members.insert(field.into(), json!([rng.pick(NAMES)]));
            }
        }
        // Add a member: a new def, property or schema field.
        (4, Value::Object(members)) => {
            let key = if rng.below(2) == 0 {
                rng.pick(NAMES)
            } else {
                rng.pick(&["description", "knownValues", "enum", "default", "closed"])
            };
            members.insert(key.to_owned(), value(rng));
        }
        // Replace whatever is here.
        (_, node) => *node = value(rng),
    }
}

#[test]
fn mutated_documents_never_panic() {
    let originals: Vec<Value> = DOCUMENTS
        .iter()
        .map(|text| serde_json::from_str(text).expect("the test documents are JSON"))
        .collect();
    // The unmutated set is valid: the mutations start from documents that reach emit.
    if let Err(diagnostics) = generate(DOCUMENTS) {
        panic!("the test documents do not generate: {diagnostics:#?}");
    }
    let mut rng = Rng(0x5EED_CAFE_F00D_D00D);
    let mut generated = 0;
    const CASES: usize = 3000;
    for case in 0..CASES {
        let mut documents = originals.clone();
        // One document to edit, one to three edits; sometimes only that document, sometimes all.
        let target = rng.below(documents.len());
        for _ in 0..1 + rng.below(3) {
            mutate(&mut rng, &mut documents[target]);
        }
        let texts: Vec<String> = if rng.below(4) == 0 {
            vec![serde_json::to_string_pretty(&documents[target]).expect("prints")]
        } else {
            documents.iter().map(Value::to_string).collect()
        };
        let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
        match catch_unwind(AssertUnwindSafe(|| generate(&texts))) {
            Ok(Ok(_)) => generated += 1,
            Ok(Err(_)) => {}
            Err(_) => panic!(
                "case {case} panicked on this input:\n{}",
                texts.join("\n// next document\n")
            ),
        }
    }
    // Not only diagnostics: a good share of the mutants must get through to emit.
    assert!(
        generated > CASES / 20,
        "only {generated} of {CASES} mutants generated: the mutations no longer reach emit"
    );
}

/// A document with every name in `NAMES` as a def, a property and a known value at once:
/// the naming pass must make them all distinct, valid identifiers, and the crate must build
/// and keep every property apart on the wire.
#[test]
fn hard_names_everywhere() {
    let mut defs = Map::new();
    let mut properties = Map::new();
    for name in NAMES {
        defs.insert(
            (*name).to_owned(),
            json!({"type": "object", "properties": {}}),
        );
        properties.insert((*name).to_owned(), json!({"type": "string"}));
    }
    defs.insert(
        "main".into(),
        json!({"type": "object", "properties": properties}),
    );
    defs.insert(
        "values".into(),
        json!({"type": "string", "knownValues": NAMES}),
    );
    let text = json!({"lexicon": 1, "id": "com.example.names", "defs": defs}).to_string();
    let documents = codegen::load_and_check(&sources(&[&text]))
        .unwrap_or_else(|d| panic!("the hard names are all valid lexicon names:\n{d}"));
    let ir = codegen::ir::resolve(&documents);
    let module = ir
        .modules
        .iter()
        .find(|m| m.nsid == "com.example.names")
        .expect("the document has a module");

    let is_identifier = |name: &str| syn::parse_str::<syn::Ident>(name).is_ok();
    let mut type_names = BTreeSet::new();
    let mut main = None;
    let mut values = None;
    for item in &module.items {
        let name = match item {
            codegen::ir::Item::Struct(s) => {
                if s.type_tag == "com.example.names" {
                    main = Some(s);
                }
                &s.name
            }
            codegen::ir::Item::Strings(s) => {
                values = Some(s);
                &s.name
            }
            other => panic!("only objects and a string set were defined, got {other:?}"),
        };
        assert!(
            is_identifier(name),
            "type name {name:?} is not an identifier"
        );
        assert!(
            type_names.insert(name.clone()),
            "two types are named {name}"
        );
    }
    // Every def is an object, but `main` and `values`.
    assert_eq!(type_names.len(), NAMES.len() + 1, "{type_names:?}");

    let main = main.expect("the main def is an object");
    let json_names: BTreeSet<&str> = main.fields.iter().map(|f| f.json_name.as_str()).collect();
    assert_eq!(
        json_names,
        NAMES.iter().copied().collect(),
        "one field per property"
    );
    let mut field_names = BTreeSet::new();
    for field in &main.fields {
        let name = &field.rust_name;
        assert!(
            is_identifier(name),
            "field {name:?} ({:?}) is not an identifier",
            field.json_name
        );
        assert!(field_names.insert(name), "two fields are named {name}");
        assert_ne!(
            name, "extra",
            "a field took the name of the unknown-fields map"
        );
    }

    let values = values.expect("the known values are a string set");
    let wire: Vec<&str> = values.values.iter().map(|(_, v)| v.as_str()).collect();
    assert_eq!(wire, NAMES, "every known value, in order");
    let mut variant_names = BTreeSet::new();
    for (variant, value) in &values.values {
        assert!(
            is_identifier(variant),
            "variant {variant:?} ({value:?}) is not an identifier"
        );
        assert!(
            variant_names.insert(variant),
            "two variants are named {variant}"
        );
        assert_ne!(
            variant, "Other",
            "a known value took the name of the fallback variant"
        );
    }

    // The emitted crate builds with warnings denied, and each property reads into its own
    // field and is written back under its own name.
    let files = generate(&[&text]).unwrap_or_else(|d| panic!("does not generate:\n{d}"));
    let object: Map<String, Value> = NAMES
        .iter()
        .enumerate()
        .map(|(i, name)| ((*name).to_owned(), json!(format!("value {i}"))))
        .collect();
    let program = format!(
        "fn main() {{\n    \
         let text = {:?};\n    \
         let main: atproto_api::com::example::names::{} = serde_json::from_str(text).expect(\"reads\");\n    \
         assert!(main.extra.is_empty(), \"properties left unread: {{:?}}\", main.extra);\n    \
         let back = serde_json::to_value(&main).expect(\"writes\");\n    \
         assert_eq!(back, serde_json::from_str::<serde_json::Value>(text).expect(\"JSON\"));\n    \
         let value: atproto_api::com::example::names::{} = serde_json::from_str(\"\\\"Self\\\"\").expect(\"reads\");\n    \
         assert_eq!(serde_json::to_string(&value).expect(\"writes\"), \"\\\"Self\\\"\");\n    \
         println!(\"round trip ok\");\n}}\n",
        Value::Object(object).to_string(),
        main.name,
        values.name,
    );
    let dir = support::write_crate(
        "hard-names",
        &files,
        &[("examples/round_trip.rs", &program)],
    );
    let output = support::cargo(&dir, &["run", "--example", "round_trip"]);
    assert_eq!(output.trim(), "round trip ok");
}
