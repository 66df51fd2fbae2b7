//! Data read by the generated types is written back as it was read, with real network
//! payload shapes: legacy blobs of 2023 posts, `null` lists rendered by Go servers, and no key
//! written twice or read twice.

#![allow(deprecated)] // `Commit::blobs` is deprecated in its lexicon, and read here on purpose.

use atproto_api::app::bsky::feed::post;
use atproto_api::com::atproto::sync::subscribe_repos::{Commit, Message};
use atproto_api::runtime::Validate;
use serde_json::{Value, json};

const CID: &str = "bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm";
const BLOB_CID: &str = "bafkreiccldh766hwcnuxnf2wh6jgzepf2nlu2lvcllt63eww5p6chi4ity";

fn read<T: serde::de::DeserializeOwned>(value: &Value) -> Result<T, serde_json::Error> {
    serde_json::from_value(value.clone())
}

fn write<T: serde::Serialize>(value: &T) -> Value {
    serde_json::to_value(value).unwrap()
}

/// A post from 2023 whose image is a legacy blob, as old repositories still hold it.
fn legacy_post() -> Value {
    json!({
        "$type": "app.bsky.feed.post",
        "text": "sunset",
        "createdAt": "2023-03-02T18:03:11.000Z",
        "embed": {
            "$type": "app.bsky.embed.images",
            "images": [{ "alt": "", "image": { "cid": BLOB_CID, "mimeType": "image/jpeg" } }]
        }
    })
}

#[test]
fn a_post_with_a_legacy_blob_is_written_back_byte_for_byte() {
    let original = legacy_post();
    let text = serde_json::to_string(&original).unwrap();
    let post: post::Record = serde_json::from_str(&text).unwrap();
    // Same JSON, so the same DAG-CBOR, so the same record CID.
    assert_eq!(write(&post), original);
    let post::RecordEmbed::Images(images) = post.embed.as_ref().unwrap() else {
        panic!("expected an images embed, got {:?}", post.embed);
    };
    assert!(images.images[0].image.is_legacy());
}

/// A firehose commit as the Go relay renders it to JSON: `"blobs": null`.
fn go_relay_commit() -> Value {
    json!({
        "seq": 4_810_000_123_i64,
        "rebase": false,
        "tooBig": false,
        "repo": "did:plc:ewvi7nxzyoun6zhxrhs64oiz",
        "commit": { "$link": CID },
        "rev": "3l3qo2vutsw2b",
        "since": null,
        "blocks": { "$bytes": "OqJlcm9vdHOB2CpYJQABcRIg" },
        "ops": [{ "action": "create", "path": "app.bsky.feed.like/3l3qo2vuowo2b", "cid": { "$link": CID } }],
        "blobs": null,
        "time": "2024-09-09T19:46:02.102Z"
    })
}

#[test]
fn a_null_list_is_read_leniently_written_back_and_reported_by_validate() {
    let original = go_relay_commit();
    let commit: Commit = read(&original).expect("a null list must not refuse the message");
    assert!(commit.blobs.is_empty());
    assert_eq!(write(&commit), original, "the null is written back as read");

    let violations = commit.validate().unwrap_err();
    assert_eq!(violations.0.len(), 1, "{violations}");
    assert_eq!(violations.0[0].path, "/blobs");

    // Once the field has a value, the null is gone from the output and from validate().
    let mut fixed = commit.clone();
    fixed
        .blobs
        .push(atproto_api::runtime::CidLink::try_from(CID).unwrap());
    assert_eq!(write(&fixed)["blobs"], json!([{ "$link": CID }]));
    assert!(fixed.validate().is_ok(), "{:?}", fixed.validate());

    // The same payload through the frame reader.
    let message = Message::from_frame("#commit", original).unwrap();
    assert!(matches!(message, Some(Message::Commit(_))));
}

#[test]
fn a_null_optional_field_is_absent_written_back_and_reported() {
    let mut original = legacy_post();
    original["langs"] = Value::Null;
    let post: post::Record = read(&original).unwrap();
    assert_eq!(post.langs, None);
    assert_eq!(write(&post), original);
    let violations = post.validate().unwrap_err();
    assert_eq!(violations.0[0].path, "/langs", "{violations}");

    // A required field that is not a list has no lenient reading of null.
    let mut broken = legacy_post();
    broken["text"] = Value::Null;
    let error = read::<post::Record>(&broken).unwrap_err().to_string();
    assert!(error.contains("`text` is null"), "{error}");
}

#[test]
fn a_key_twice_in_one_object_is_an_error_that_names_it() {
    let cases = [
        // A typed field.
        (
            r#"{"text":"a","text":"b","createdAt":"2024-01-01T00:00:00Z"}"#,
            "text",
        ),
        // A field the lexicon does not define.
        (
            r#"{"text":"a","zz":1,"zz":2,"createdAt":"2024-01-01T00:00:00Z"}"#,
            "zz",
        ),
        // A null read leniently, then a value.
        (
            r#"{"text":"a","langs":null,"langs":["en"],"createdAt":"2024-01-01T00:00:00Z"}"#,
            "langs",
        ),
        // Deep inside a value kept whole.
        (
            r#"{"text":"a","zz":{"k":[{"q":1,"q":2}]},"createdAt":"2024-01-01T00:00:00Z"}"#,
            "q",
        ),
        // Inside a union member read after its `$type`.
        (
            r#"{"text":"a","createdAt":"2024-01-01T00:00:00Z","embed":{"$type":"app.bsky.embed.external","external":{"uri":"https://a.example","uri":"https://b.example","title":"","description":""}}}"#,
            "uri",
        ),
        // Inside a union member of a type the lexicons do not list, kept whole.
        (
            r#"{"text":"a","createdAt":"2024-01-01T00:00:00Z","embed":{"$type":"com.example.embed","n":1,"n":2}}"#,
            "n",
        ),
        // Inside a union member whose `$type` is not first (the object is buffered).
        (
            r#"{"text":"a","createdAt":"2024-01-01T00:00:00Z","embed":{"n":1,"$type":"com.example.embed","n":2}}"#,
            "n",
        ),
    ];
    for (text, key) in cases {
        let error = match serde_json::from_str::<post::Record>(text) {
            Ok(post) => panic!("{text} was read as {post:?}"),
            Err(error) => error.to_string(),
        };
        assert!(
            error.contains(&format!("duplicate key `{key}`"))
                || error.contains(&format!("duplicate field `{key}`")),
            "{text}: {error}"
        );
    }
}

#[test]
fn extra_never_writes_a_key_twice() {
    let mut post: post::Record = read(&legacy_post()).unwrap();
    post.extra.insert("text".to_owned(), json!("shadow"));
    post.extra.insert("future".to_owned(), json!(1));
    let text = serde_json::to_string(&post).unwrap();
    assert_eq!(text.matches("\"text\"").count(), 1, "{text}");
    let written: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(written["text"], "sunset", "the typed field wins");
    assert_eq!(written["future"], 1, "other unknown fields are written");
}
