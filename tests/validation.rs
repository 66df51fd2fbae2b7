//! `validate()`: every broken constraint reported with its JSON path; reading stays lenient.

use lexicon_fixtures::com::example::fixture::{integers, record, strings, r#union};
use lexicon_fixtures::runtime::{Validate, Violations};
use serde_json::{Value, json};

fn violations<T: Validate + serde::de::DeserializeOwned>(data: Value) -> Vec<(String, String)> {
    let value: T = serde_json::from_value(data.clone())
        .unwrap_or_else(|e| panic!("{data} should read leniently: {e}"));
    match value.validate() {
        Ok(()) => Vec::new(),
        Err(Violations(list)) => list.into_iter().map(|v| (v.path, v.message)).collect(),
    }
}

fn paths(list: &[(String, String)]) -> Vec<&str> {
    list.iter().map(|(p, _)| p.as_str()).collect()
}

fn post(text: &str) -> Value {
    json!({ "$type": "com.example.fixture.record", "text": text, "createdAt": "2024-05-01T12:00:00.000Z" })
}

#[test]
fn a_valid_record_has_no_violations() {
    assert!(violations::<record::Record>(post("hello")).is_empty());
}

#[test]
fn string_lengths_count_utf8_bytes_and_graphemes() {
    // 30 graphemes is the limit: a flag is 2 code points and 8 bytes but 1 grapheme.
    let flags = "🇩🇪".repeat(30);
    assert!(
        violations::<record::Record>(post(&flags)).is_empty(),
        "30 flags are 30 graphemes"
    );
    let list = violations::<record::Record>(post(&"🇩🇪".repeat(31)));
    assert_eq!(paths(&list), ["/text"]);
    assert!(list[0].1.contains("31 graphemes"), "{list:?}");

    // A ZWJ family is one grapheme of 18 bytes: 17 of them pass the graphemes limit but
    // break the 300-byte limit.
    let family = "👨\u{200d}👩\u{200d}👧";
    assert_eq!(family.len(), 18);
    let list = violations::<record::Record>(post(&family.repeat(17)));
    assert_eq!(list.len(), 1, "{list:?}");
    assert!(list[0].1.contains("306 UTF-8 bytes"), "{list:?}");

    // Combining marks: e + U+0301 is one grapheme, two code points.
    assert!(violations::<record::Record>(post(&"e\u{301}".repeat(30))).is_empty());
}

#[test]
fn every_violation_is_reported_with_its_path() {
    let mut data = post(&"x".repeat(301));
    data["count"] = json!(-1);
    data["data"] = json!({ "$bytes": "A".repeat(100) });
    data["tags"] = json!(["a", "b", "c", "d", "e", "f", "g", "h", "i"]);
    data["createdAt"] = json!("yesterday");
    data["image"] = json!({ "$type": "blob", "ref": { "$link": "bafkreibme22gw2h7y2h7tg2fhqotaqjucnbc24deqo72b6mkl2egezxhvy" }, "mimeType": "text/plain", "size": 2000000 });
    let list = violations::<record::Record>(data);
    let mut found = paths(&list);
    found.sort();
    assert_eq!(
        found,
        [
            "/count",
            "/createdAt",
            "/data",
            "/image",
            "/image",
            "/tags",
            "/text",
            "/text"
        ],
        "{list:?}"
    );
}

#[test]
fn integer_ranges_enums_and_consts() {
    let list = violations::<integers::Main>(json!({ "ranged": 11, "choice": 4, "fixed": 41 }));
    assert_eq!(paths(&list), ["/ranged", "/choice", "/fixed"], "{list:?}");
    assert!(
        violations::<integers::Main>(json!({ "ranged": 10, "choice": 3, "fixed": 42 })).is_empty()
    );
}

#[test]
fn string_consts_and_formats() {
    let list = violations::<strings::Main>(
        json!({ "mood": "happy", "kind": "other", "language": "not a language" }),
    );
    assert_eq!(paths(&list), ["/kind", "/language"], "{list:?}");
}

#[test]
fn nested_union_members_and_arrays_report_deep_paths() {
    let data = json!({
        "open": { "$type": "com.example.fixture.union#circle", "radius": 0 },
        "many": [
            { "$type": "com.example.fixture.union#circle", "radius": 2 },
            { "$type": "com.example.fixture.union#circle", "radius": -5 }
        ]
    });
    let list = violations::<r#union::Main>(data);
    assert_eq!(paths(&list), ["/open/radius", "/many/1/radius"], "{list:?}");
}

#[test]
fn unknown_values_must_be_plain_objects() {
    let mut data = post("hi");
    data["extra"] = json!({ "$bytes": "AAAA" });
    let list = violations::<record::Record>(data);
    assert_eq!(paths(&list), ["/extra"], "{list:?}");
}

#[test]
fn one_malformed_value_in_a_large_response_is_read_then_reported() {
    let mut records: Vec<Value> = (0..5000)
        .map(|i| post(&format!("post number {i}")))
        .collect();
    // Real network data has datetimes without a timezone.
    records[3217]["createdAt"] = json!("2024-05-01T12:00:00");
    let text = serde_json::to_string(&records).unwrap();
    let read: Vec<record::Record> =
        serde_json::from_str(&text).expect("one bad datetime must not fail the response");
    assert_eq!(read.len(), 5000);
    assert_eq!(
        read[3217].created_at.as_str(),
        "2024-05-01T12:00:00",
        "the original text is kept"
    );
    let Err(Violations(list)) = read.validate() else {
        panic!("the bad datetime must be reported")
    };
    assert_eq!(list.len(), 1, "{list:?}");
    assert_eq!(list[0].path, "/3217/createdAt");
    // Wrong JSON shapes are still errors, with their place.
    records[42]["createdAt"] = json!({ "not": "a string" });
    let error =
        serde_json::from_str::<Vec<record::Record>>(&serde_json::to_string(&records).unwrap())
            .unwrap_err();
    assert!(error.to_string().contains("line 1"), "{error}");
}
