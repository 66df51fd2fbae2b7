//! The runtime's data-model JSON forms: `$bytes`, `$link`, blobs (typed and legacy), lossless
//! `unknown` values, and the plain-JSON data-model check.

use atproto_api::runtime::{
    Blob, Bytes, Cid, CidLink, DataModelError, Datetime, Did, Unknown, check_data_model,
    check_data_value,
};
use serde_json::{Value, json};

const CID: &str = "bafkreiccldh766hwcnuxnf2wh6jgzepf2nlu2lvcllt63eww5p6chi4ity";

fn read<T: serde::de::DeserializeOwned>(json: Value) -> Result<T, serde_json::Error> {
    serde_json::from_value(json)
}

fn write<T: serde::Serialize>(value: &T) -> Value {
    serde_json::to_value(value).expect("serializes")
}

// --- Bytes ------------------------------------------------------------------------------------

#[test]
fn bytes_read_padded_and_unpadded_and_write_unpadded() {
    let cases: [(&[u8], &str, &str); 6] = [
        (b"", "", ""),
        (b"h", "aA==", "aA"),
        (b"he", "aGU=", "aGU"),
        (b"hel", "aGVs", "aGVs"),
        (b"hello", "aGVsbG8=", "aGVsbG8"),
        (&[0xfb, 0xff, 0xbf], "+/+/", "+/+/"),
    ];
    for (raw, padded, unpadded) in cases {
        let from_padded: Bytes = read(json!({ "$bytes": padded })).unwrap();
        let from_unpadded: Bytes = read(json!({ "$bytes": unpadded })).unwrap();
        assert_eq!(from_padded.as_slice(), raw, "{padded}");
        assert_eq!(from_unpadded, from_padded);
        assert_eq!(write(&from_padded), json!({ "$bytes": unpadded }));
        assert_eq!(from_padded.to_base64(), unpadded);
        assert_eq!(Bytes::from_base64(padded).unwrap(), from_padded);
    }
}

#[test]
fn bytes_round_trip_every_length() {
    for len in 0..64u8 {
        let raw: Vec<u8> = (0..len)
            .map(|i| i.wrapping_mul(37).wrapping_add(len))
            .collect();
        let bytes = Bytes::new(raw.clone());
        let back: Bytes = read(write(&bytes)).unwrap();
        assert_eq!(back.into_vec(), raw);
    }
}

#[test]
fn bytes_accept_non_canonical_trailing_bits() {
    // Real data (and the interop record vectors) carry "123": its last character has unused
    // bits set. It decodes to the same bytes as the canonical "120".
    let bytes: Bytes = read(json!({ "$bytes": "123" })).unwrap();
    assert_eq!(bytes.as_slice(), &[0xd7, 0x6d]);
    assert_eq!(bytes.to_base64(), "120");
}

#[test]
fn bytes_reject_bad_shapes() {
    let bad = [
        json!({ "$bytes": "a" }),
        json!({ "$bytes": "aGVsbG8===" }),
        json!({ "$bytes": "aG=" }),
        json!({ "$bytes": "=aGU" }),
        json!({ "$bytes": "aG U" }),
        json!({ "$bytes": "aGVs\n" }),
        json!({ "$bytes": "-_-_" }),
        json!({ "$bytes": "aGVsbG8é" }),
        json!({ "$bytes": [1, 2, 3] }),
        json!({ "$bytes": null }),
        json!({ "$bytes": "aGVs", "other": 1 }),
        json!({ "$bytes": "aGVs", "$type": "bytes" }),
        json!({}),
        json!("aGVs"),
        json!([1, 2]),
    ];
    for json in bad {
        assert!(read::<Bytes>(json.clone()).is_err(), "accepted {json}");
    }
    // A key twice is an error too (serde_json keeps the last one in a Value, so use text).
    assert!(serde_json::from_str::<Bytes>(r#"{"$bytes":"aGVs","$bytes":"aGVs"}"#).is_err());
    assert!(Bytes::from_base64("a").is_err());
}

#[test]
fn bytes_helpers() {
    let bytes = Bytes::from(vec![1u8, 2, 3]);
    assert_eq!(bytes.len(), 3);
    assert!(!bytes.is_empty());
    assert!(Bytes::default().is_empty());
    assert_eq!(bytes.as_ref(), &[1, 2, 3]);
    assert_eq!(Bytes::from(&[1u8, 2, 3][..]), bytes);
    assert_eq!(Vec::from(bytes.clone()), vec![1, 2, 3]);
    assert_eq!(format!("{bytes:?}"), "Bytes(\"AQID\")");
}

// --- CidLink ----------------------------------------------------------------------------------

#[test]
fn cid_link_round_trips() {
    let json = json!({ "$link": CID });
    let link: CidLink = read(json.clone()).unwrap();
    assert_eq!(link.as_str(), CID);
    assert!(link.is_valid());
    assert!(link.check().is_ok());
    assert_eq!(write(&link), json);
    assert_eq!(link.to_string(), CID);
    assert_eq!(format!("{link:?}"), format!("CidLink({CID:?})"));
    assert_eq!(CidLink::try_from(CID).unwrap(), link);
    assert_eq!(CidLink::new(Cid::new(CID).unwrap()), link);
    assert_eq!(link.cid().as_str(), CID);
    assert_eq!(link.into_cid(), Cid::new(CID).unwrap());
}

#[test]
fn cid_link_reads_a_bad_cid_leniently_and_check_catches_it() {
    let link: CidLink = read(json!({ "$link": "." })).unwrap();
    assert!(!link.is_valid());
    let err = link.check().unwrap_err();
    assert_eq!(err.format(), "cid");
    assert!(CidLink::try_from(".").is_err());
}

#[test]
fn cid_link_rejects_bad_shapes() {
    for json in [
        json!({ "$link": 1234 }),
        json!({ "$link": null }),
        json!({ "$link": CID, "other": "x" }),
        json!({ "$link": CID, "$type": "link" }),
        json!({}),
        json!(CID),
    ] {
        assert!(read::<CidLink>(json.clone()).is_err(), "accepted {json}");
    }
    let twice = format!(r#"{{"$link":"{CID}","$link":"{CID}"}}"#);
    assert!(serde_json::from_str::<CidLink>(&twice).is_err());
}

// --- Blob -------------------------------------------------------------------------------------

#[test]
fn typed_blob_round_trips() {
    let json = json!({
        "$type": "blob",
        "ref": { "$link": CID },
        "mimeType": "image/jpeg",
        "size": 10000,
    });
    let blob: Blob = read(json.clone()).unwrap();
    assert_eq!(blob.cid().as_str(), CID);
    assert_eq!(blob.mime_type, "image/jpeg");
    assert_eq!(blob.size, 10000);
    assert!(!blob.is_legacy());
    assert!(blob.check().is_ok());
    assert_eq!(write(&blob), json);
    // Written in this key order, as the spec's examples are.
    let text = serde_json::to_string(&blob).unwrap();
    assert_eq!(
        text,
        format!(
            r#"{{"$type":"blob","ref":{{"$link":"{CID}"}},"mimeType":"image/jpeg","size":10000}}"#
        )
    );
    let built = Blob::new(CidLink::try_from(CID).unwrap(), "image/jpeg", 10000);
    assert_eq!(built, blob);
}

#[test]
fn legacy_blob_is_written_back_as_it_was_read() {
    let legacy = json!({ "cid": CID, "mimeType": "image/png" });
    let blob: Blob = read(legacy.clone()).unwrap();
    assert!(blob.is_legacy());
    assert_eq!(blob.cid().as_str(), CID);
    assert_eq!(blob.mime_type, "image/png");
    assert_eq!(blob.size, 0);
    // The record's bytes, and so its CID, must not change: no `$type`, no `ref`, no `size`.
    assert_eq!(write(&blob), legacy);
    assert_eq!(
        serde_json::to_string(&blob).unwrap(),
        format!(r#"{{"cid":"{CID}","mimeType":"image/png"}}"#)
    );

    // A legacy object that carried a size keeps it.
    let sized = json!({ "cid": CID, "mimeType": "image/png", "size": 12 });
    let blob: Blob = read(sized.clone()).unwrap();
    assert!(blob.is_legacy());
    assert_eq!(write(&blob), sized);

    // Values built in Rust use the current form.
    let built = Blob::new(CidLink::try_from(CID).unwrap(), "image/png", 0);
    assert!(!built.is_legacy());
    assert_eq!(write(&built)["$type"], "blob");
}

#[test]
fn blob_ignores_unknown_keys_and_rejects_bad_shapes() {
    let extra = json!({
        "$type": "blob",
        "ref": { "$link": CID },
        "mimeType": "image/jpeg",
        "size": 1,
        "$future": true,
        "other": [1, 2],
    });
    let blob: Blob = read(extra).unwrap();
    assert_eq!(blob.size, 1);

    let bad = [
        json!({ "$type": "blob", "ref": { "$link": CID }, "mimeType": "image/jpeg", "size": "10000" }),
        json!({ "$type": "blob", "ref": { "$link": CID }, "mimeType": "image/jpeg", "size": -1 }),
        json!({ "$type": "blob", "ref": { "$link": CID }, "mimeType": "image/jpeg", "size": 1.5 }),
        json!({ "$type": "blob", "ref": { "$link": CID }, "mimeType": "image/jpeg" }),
        json!({ "$type": "blob", "mimeType": "image/jpeg", "size": 10000 }),
        json!({ "$type": "blob", "ref": { "$link": CID }, "size": 10000 }),
        json!({ "$type": "blob", "ref": CID, "mimeType": "image/jpeg", "size": 10000 }),
        json!({ "$type": "blob", "ref": { "$link": CID }, "mimeType": 5, "size": 10000 }),
        json!({ "$type": "image", "ref": { "$link": CID }, "mimeType": "image/jpeg", "size": 1 }),
        json!({ "$type": null, "ref": { "$link": CID }, "mimeType": "image/jpeg", "size": 1 }),
        json!({ "cid": CID }),
        json!({ "mimeType": "image/jpeg" }),
        json!({ "cid": 5, "mimeType": "image/jpeg" }),
        json!({}),
        json!(null),
        json!("blob"),
    ];
    for json in bad {
        assert!(read::<Blob>(json.clone()).is_err(), "accepted {json}");
    }
}

#[test]
fn blob_check_reports_a_bad_cid() {
    let blob: Blob = read(json!({ "cid": "nope", "mimeType": "image/png" })).unwrap();
    assert_eq!(blob.check().unwrap_err().format(), "cid");
}

// --- Unknown ----------------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct Post {
    #[serde(rename = "$type")]
    r#type: String,
    text: String,
    created_at: Datetime,
}

#[test]
fn unknown_round_trips_losslessly() {
    let json = json!({
        "$type": "app.bsky.feed.post",
        "text": "héllo 👨‍👩‍👧‍👧",
        "createdAt": "2023-04-01T12:00:00.000Z",
        "int": -9_007_199_254_740_993_i64,
        "big": 9_223_372_036_854_775_807_i64,
        "null": null,
        "nested": {
            "$type": "com.example.thing#inner",
            "blob": { "$type": "blob", "ref": { "$link": CID }, "mimeType": "image/jpeg", "size": 1 },
            "bytes": { "$bytes": "aGVsbG8" },
            "list": [1, "two", [3], { "four": 4 }, null, true]
        },
        "$unknownReserved": "kept"
    });
    let unknown: Unknown = read(json.clone()).unwrap();
    assert_eq!(unknown.type_name(), Some("app.bsky.feed.post"));
    assert_eq!(unknown.get("text"), Some(&json!("héllo 👨‍👩‍👧‍👧")));
    assert_eq!(unknown.get("missing"), None);
    assert!(unknown.check().is_ok());
    assert_eq!(write(&unknown), json);
    // Through text as well, byte-for-byte equal as data.
    let text = serde_json::to_string(&unknown).unwrap();
    let again: Unknown = serde_json::from_str(&text).unwrap();
    assert_eq!(again, unknown);
    assert_eq!(Value::from(again), json);
}

#[test]
fn unknown_converts_to_and_from_typed_values() {
    let json = json!({
        "$type": "app.bsky.feed.post",
        "text": "hi",
        "createdAt": "2023-04-01T12:00:00Z",
        "extra": 1
    });
    let unknown: Unknown = read(json.clone()).unwrap();
    let post: Post = unknown.to_typed().unwrap();
    assert_eq!(post.text, "hi");
    assert_eq!(post.created_at.as_str(), "2023-04-01T12:00:00Z");
    assert_eq!(unknown.clone().into_typed::<Post>().unwrap(), post);
    assert!(unknown.to_typed::<Vec<u8>>().is_err());

    let back = Unknown::from_typed(&post).unwrap();
    assert_eq!(back.type_name(), Some("app.bsky.feed.post"));
    assert_eq!(back.get("createdAt"), Some(&json!("2023-04-01T12:00:00Z")));
    assert!(Unknown::from_typed(&5).is_err());
    assert!(Unknown::from_typed("text").is_err());
}

#[test]
fn unknown_must_be_an_object() {
    for json in [json!(true), json!(1), json!("x"), json!([]), json!(null)] {
        assert!(read::<Unknown>(json.clone()).is_err(), "accepted {json}");
        assert!(Unknown::try_from(json).is_err());
    }
    let empty: Unknown = read(json!({})).unwrap();
    assert_eq!(empty, Unknown::new());
    assert_eq!(empty.type_name(), None);
    let mut unknown = Unknown::try_from(json!({ "$type": 5 })).unwrap();
    assert_eq!(unknown.type_name(), None);
    assert!(unknown.check().is_err());
    unknown
        .as_map_mut()
        .insert("$type".into(), json!("com.example.x"));
    assert!(unknown.check().is_ok());
    assert_eq!(unknown.as_map().len(), 1);
    assert_eq!(unknown.into_map().len(), 1);
}

#[test]
fn unknown_read_from_json_keeps_its_text_until_edited() {
    let text = r#"{"zeta":1,"$type":"app.bsky.feed.post","text":"hi","createdAt":"2023-04-01T12:00:00Z","list":[{"$type":"inner"},{"a":null}]}"#;
    let from_str: Unknown = serde_json::from_str(text).unwrap();
    let from_slice: Unknown = serde_json::from_slice(text.as_bytes()).unwrap();
    let from_reader: Unknown = serde_json::from_reader(text.as_bytes()).unwrap();
    for unknown in [&from_str, &from_slice, &from_reader] {
        assert_eq!(unknown.json_text(), Some(text));
        assert_eq!(unknown.type_name(), Some("app.bsky.feed.post"));
        assert_eq!(unknown.to_typed::<Post>().unwrap().text, "hi");
    }
    // The object built on demand is the one `Value` reads, keys sorted.
    let value: Value = serde_json::from_str(text).unwrap();
    assert_eq!(Value::Object(from_str.as_map().clone()), value);
    let keys: Vec<&String> = from_str.as_map().keys().collect();
    assert_eq!(keys, ["$type", "createdAt", "list", "text", "zeta"]);
    assert_eq!(from_slice, Unknown::try_from(value.clone()).unwrap());
    assert_eq!(serde_json::to_value(&from_reader).unwrap(), value);

    // Editing drops the text, and what is written is the edited object.
    let mut edited = from_str.clone();
    edited
        .as_map_mut()
        .insert("$type".into(), json!("com.example.other"));
    assert_eq!(edited.json_text(), None);
    assert_eq!(edited.type_name(), Some("com.example.other"));
    assert_eq!(write(&edited)["$type"], "com.example.other");
    assert_eq!(
        from_str.type_name(),
        Some("app.bsky.feed.post"),
        "the clone is apart"
    );
    assert_ne!(edited, from_str);

    // A `$type` with escapes is read unescaped.
    let escaped: Unknown = serde_json::from_str(r#"{"$type":"app.bsky.feed.p\u006fst"}"#).unwrap();
    assert_eq!(escaped.type_name(), Some("app.bsky.feed.post"));
    // Values built in code have no text.
    assert_eq!(
        Unknown::from_typed(&json!({ "a": 1 })).unwrap().json_text(),
        None
    );
}

#[test]
fn unknown_text_is_checked_when_read() {
    let cases = [
        (r#"{"a":1,"a":2}"#, "duplicate key `a`"),
        (r#"{"k":[{"q":1,"q":2}]}"#, "duplicate key `q`"),
        (
            r#"{"k":{"a":0,"b":1,"c":2,"d":3,"e":4,"f":5,"g":6,"h":7,"i":8,"j":9,"k":10,"l":11,"m":12,"n":13,"o":14,"p":15,"q":16,"r":17,"d":18}}"#,
            "duplicate key `d`",
        ),
        (r#"{"a":1e400}"#, "number out of range"),
        (r#"[1]"#, "expected an object"),
        (r#""text""#, "expected an object"),
    ];
    for (text, expected) in cases {
        let error = match serde_json::from_str::<Unknown>(text) {
            Ok(unknown) => panic!("{text} was read as {unknown:?}"),
            Err(error) => error.to_string(),
        };
        assert!(error.contains(expected), "{text}: {error}");
        // No position within the value's own text, which would mislead.
        assert!(error.matches(" at line ").count() <= 1, "{text}: {error}");
    }
    // The same rule through a document that holds the value.
    let error = serde_json::from_str::<Vec<Unknown>>(r#"[{}, {"a":1,"a":2}]"#).unwrap_err();
    assert!(error.to_string().contains("duplicate key `a`"), "{error}");
    assert_eq!((error.line(), error.column()), (1, 19), "{error}");
}

#[test]
fn unknown_check_rejects_top_level_blob_bytes_and_link() {
    for json in [
        json!({ "$bytes": "aGVsbG8" }),
        json!({ "$link": CID }),
        json!({ "$type": "blob", "ref": { "$link": CID }, "mimeType": "image/jpeg", "size": 1 }),
    ] {
        let unknown: Unknown = read(json.clone()).unwrap();
        assert!(unknown.check().is_err(), "accepted {json}");
    }
    let float: Unknown = read(json!({ "a": 1.5 })).unwrap();
    assert_eq!(float.check().unwrap_err().path(), "/a");
}

// --- Plain JSON data-model checks ---------------------------------------------------------------

#[test]
fn data_model_accepts_valid_json() {
    let valid = [
        json!({}),
        json!({ "a": 1, "b": "two", "c": true, "d": null, "e": [], "f": {} }),
        json!({ "a": 123.0 }),
        json!({ "a": -0.0 }),
        json!({ "a": i64::MIN, "b": i64::MAX }),
        json!({ "$type": "com.example.x", "x": { "$type": "com.example.y" } }),
        json!({ "l": { "$link": CID }, "b": { "$bytes": "aGVsbG8=" }, "e": { "$bytes": "" } }),
        json!({ "blob": { "$type": "blob", "ref": { "$link": CID }, "mimeType": "a/b", "size": 0 } }),
        json!({ "blob": { "$type": "blob", "ref": { "$link": CID }, "mimeType": "a/b", "size": 1, "x": 1 } }),
        json!({ "legacy": { "cid": CID, "mimeType": "image/png" } }),
        json!({ "$other": 5, "list": [[1, [2, [3]]], [null]] }),
    ];
    for json in valid {
        assert_eq!(check_data_model(&json), Ok(()), "{json}");
    }
    for scalar in [
        json!(1),
        json!("x"),
        json!(null),
        json!([1, 2]),
        json!(true),
    ] {
        assert_eq!(check_data_value(&scalar), Ok(()), "{scalar}");
        assert!(check_data_model(&scalar).is_err(), "{scalar}");
    }
}

#[test]
fn data_model_rejects_invalid_json_with_its_path() {
    let invalid = [
        (json!({ "a": 1.5 }), "/a"),
        (json!({ "a": [1, { "b": 1e300 }] }), "/a/1/b"),
        (json!({ "a": u64::MAX }), "/a"),
        (json!({ "$type": null }), "/$type"),
        (json!({ "$type": 1 }), "/$type"),
        (json!({ "$type": "" }), "/$type"),
        (json!({ "x": { "$bytes": [1] } }), "/x/$bytes"),
        (json!({ "x": { "$bytes": "a" } }), "/x/$bytes"),
        (json!({ "x": { "$bytes": "aGVs", "y": 1 } }), "/x"),
        (json!({ "x": { "$link": 1 } }), "/x/$link"),
        (json!({ "x": { "$link": "." } }), "/x/$link"),
        (json!({ "x": { "$link": CID, "y": 1 } }), "/x"),
        (
            json!({ "b": { "$type": "blob", "ref": { "$link": CID }, "mimeType": "a/b", "size": "1" } }),
            "/b/size",
        ),
        (
            json!({ "b": { "$type": "blob", "ref": { "$link": CID }, "mimeType": "a/b", "size": -1 } }),
            "/b/size",
        ),
        (
            json!({ "b": { "$type": "blob", "mimeType": "a/b", "size": 1 } }),
            "/b",
        ),
        (
            json!({ "b": { "$type": "blob", "ref": CID, "mimeType": "a/b", "size": 1 } }),
            "/b/ref",
        ),
        (
            json!({ "b": { "$type": "blob", "ref": { "$link": "." }, "mimeType": "a/b", "size": 1 } }),
            "/b/ref/$link",
        ),
        (
            json!({ "b": { "$type": "blob", "ref": { "$link": CID }, "size": 1 } }),
            "/b",
        ),
        (json!({ "a/b": { "c~d": 1.5 } }), "/a~1b/c~0d"),
    ];
    for (json, path) in invalid {
        let err: DataModelError = check_data_model(&json).expect_err(&json.to_string());
        assert_eq!(err.path(), path, "{json}: {err}");
        assert!(!err.reason().is_empty());
        assert!(err.to_string().contains(path), "{err}");
    }
    let err = check_data_model(&json!("blah")).unwrap_err();
    assert_eq!(err.path(), "");
    assert_eq!(
        err.to_string(),
        format!("invalid data-model value: {}", err.reason())
    );
}

// --- As generated code will use them -----------------------------------------------------------

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct Profile {
    did: Did,
    #[serde(skip_serializing_if = "Option::is_none")]
    avatar: Option<Blob>,
    #[serde(skip_serializing_if = "Option::is_none")]
    banner: Option<Blob>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sig: Option<Bytes>,
    #[serde(skip_serializing_if = "Option::is_none")]
    prev: Option<CidLink>,
    #[serde(skip_serializing_if = "Option::is_none")]
    did_doc: Option<Unknown>,
}

#[test]
fn runtime_types_work_as_fields_of_derived_structs() {
    let json = json!({
        "did": "did:plc:abc",
        "avatar": { "$type": "blob", "ref": { "$link": CID }, "mimeType": "image/jpeg", "size": 5 },
        "sig": { "$bytes": "aGVsbG8" },
        "prev": { "$link": CID },
        "didDoc": { "id": "did:plc:abc", "service": [{ "id": "#atproto_pds" }] }
    });
    let profile: Profile = read(json.clone()).unwrap();
    assert_eq!(profile.avatar.as_ref().map(|b| b.size), Some(5));
    assert_eq!(profile.banner, None);
    assert_eq!(
        profile.sig.as_ref().map(Bytes::as_slice),
        Some(&b"hello"[..])
    );
    assert_eq!(write(&profile), json);
    assert_eq!(profile.clone(), profile);

    // A legacy avatar reads, and is written back in the legacy form.
    let legacy = json!({ "did": "did:plc:abc", "avatar": { "cid": CID, "mimeType": "image/png" } });
    let profile: Profile = read(legacy.clone()).unwrap();
    assert!(profile.avatar.as_ref().is_some_and(Blob::is_legacy));
    assert_eq!(write(&profile), legacy);
}

#[test]
fn cid_text_that_only_looks_like_a_cid_is_refused_where_a_cid_is_used() {
    use atproto_api::runtime::{Validate, check_data_model};
    // Eight characters of the right class: CID syntax, but not a CID.
    let fake = "aaaaaaaa";
    assert!(Cid::is_valid_str(fake), "the syntax check alone accepts it");
    let error = Cid::new(fake).unwrap().decode().unwrap_err();
    assert_eq!(error.format(), "cid");

    // As a `cid` format value, a link and a blob reference.
    assert!(Cid::new(fake).unwrap().validate().is_err());
    let link: CidLink = read(json!({ "$link": fake })).unwrap();
    assert!(!link.is_valid());
    assert!(link.validate().is_err());
    let blob: Blob = read(
        json!({ "$type": "blob", "ref": { "$link": fake }, "mimeType": "image/png", "size": 1 }),
    )
    .unwrap();
    assert!(blob.check().is_err());
    assert!(check_data_model(&json!({ "a": { "$link": fake } })).is_err());
    // Base-64 multibase that decodes to bytes that are no CID either.
    assert!(Cid::new("mBcDxtdWx0aWhhc2g+").unwrap().decode().is_err());

    // Real CIDs decode: dag-cbor and raw, and their codec is known.
    let raw = Cid::new(CID).unwrap().decode().unwrap();
    assert_eq!(raw.version(), atproto_api::runtime::cid::Version::V1);
    assert_eq!(raw.codec(), 0x55);
    let record = Cid::new("bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm").unwrap();
    assert_eq!(record.decode().unwrap().codec(), 0x71);
    assert!(check_data_model(&json!({ "a": { "$link": CID } })).is_ok());
}
