//! How generated types read and write data: unions, unknown fields, null versus absent,
//! records, knownValues, defaults, recursion and subscription frames.

use lexicon_fixtures::com::example::fixture::{
    integers, object, query, record, recursive, strings, subscription, token, r#union,
};
use lexicon_fixtures::runtime::Validate as _;
use serde_json::{Value, json};

fn round_trip<T: serde::de::DeserializeOwned + serde::Serialize>(value: &Value) -> T {
    let typed: T = serde_json::from_value(value.clone())
        .unwrap_or_else(|e| panic!("{value} does not read: {e}"));
    assert_eq!(
        &serde_json::to_value(&typed).unwrap(),
        value,
        "writing back changed the data"
    );
    typed
}

#[test]
fn union_with_a_known_type_reads_the_variant() {
    let data = json!({ "open": { "$type": "com.example.fixture.union#circle", "radius": 3 } });
    let main: r#union::Main = round_trip(&data);
    match main.open {
        r#union::MainOpen::Circle(circle) => assert_eq!(circle.radius, 3),
        other => panic!("expected a circle, got {other:?}"),
    }
}

#[test]
fn open_union_keeps_an_unknown_type_whole_and_writes_it_back_equal() {
    let data = json!({ "open": { "$type": "com.example.other#triangle", "sides": [3, 4, 5], "nested": { "a": null } } });
    let main: r#union::Main = round_trip(&data);
    match &main.open {
        r#union::MainOpen::Unknown(unknown) => {
            assert_eq!(unknown.type_name(), Some("com.example.other#triangle"));
            assert_eq!(unknown.get("sides"), Some(&json!([3, 4, 5])));
        }
        other => panic!("expected the unknown variant, got {other:?}"),
    }
}

#[test]
fn a_known_type_with_a_malformed_body_is_an_error_not_unknown() {
    let data = json!({ "open": { "$type": "com.example.fixture.union#circle", "radius": "big" } });
    let error = serde_json::from_value::<r#union::Main>(data)
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("com.example.fixture.union#circle"),
        "{error}"
    );
}

#[test]
fn closed_union_rejects_an_unknown_type() {
    let data = json!({ "open": { "$type": "com.example.fixture.union#square", "side": 1 }, "closed": { "$type": "com.example.other#triangle" } });
    let error = serde_json::from_value::<r#union::Main>(data)
        .unwrap_err()
        .to_string();
    assert!(error.contains("not one of this closed union's"), "{error}");
}

#[test]
fn union_member_without_type_is_an_error() {
    let error = serde_json::from_value::<r#union::Main>(json!({ "open": { "radius": 1 } }))
        .unwrap_err()
        .to_string();
    assert!(error.contains("missing `$type`"), "{error}");
}

#[test]
fn the_bare_nsid_and_nsid_main_both_name_a_main_def() {
    for tag in [
        "com.example.fixture.record",
        "com.example.fixture.record#main",
    ] {
        let data =
            json!({ "open": { "$type": tag, "text": "hi", "createdAt": "2024-01-01T00:00:00Z" } });
        let main: r#union::Main = serde_json::from_value(data).unwrap();
        assert!(matches!(main.open, r#union::MainOpen::Record(_)), "{tag}");
        // Written back in the canonical spelling.
        assert_eq!(
            serde_json::to_value(&main).unwrap()["open"]["$type"],
            json!("com.example.fixture.record")
        );
    }
}

#[test]
fn arrays_of_unions_and_empty_open_unions() {
    let data = json!({
        "open": { "$type": "com.example.fixture.union#square", "side": 2, "label": "two" },
        "many": [
            { "$type": "com.example.fixture.union#circle", "radius": 1 },
            { "$type": "com.example.fixture.union#square", "side": 1 },
            { "$type": "com.example.future#hexagon" }
        ],
        "anything": { "$type": "com.example.any#thing", "x": 1 }
    });
    let main: r#union::Main = round_trip(&data);
    let many = main.many.as_ref().unwrap();
    assert!(matches!(many[0], r#union::MainManyItem::Circle(_)));
    assert!(matches!(many[2], r#union::MainManyItem::Unknown(_)));
}

#[test]
fn unknown_fields_round_trip_at_every_level() {
    let data = json!({
        "open": { "$type": "com.example.fixture.union#circle", "radius": 1, "colour": "red" },
        "addedLater": { "deep": [1, { "x": true }] }
    });
    let main: r#union::Main = round_trip(&data);
    assert_eq!(
        main.extra.get("addedLater"),
        Some(&json!({ "deep": [1, { "x": true }] }))
    );
}

#[test]
fn null_absent_and_value_stay_distinct() {
    let absent: object::Main = round_trip(&json!({ "required": "r", "requiredNullable": null }));
    assert_eq!(absent.optional_nullable, None);
    let null: object::Main =
        round_trip(&json!({ "required": "r", "requiredNullable": null, "optionalNullable": null }));
    assert_eq!(null.optional_nullable, Some(None));
    let value: object::Main = round_trip(
        &json!({ "required": "r", "requiredNullable": "x", "optionalNullable": "y", "optional": "z" }),
    );
    assert_eq!(value.optional_nullable, Some(Some("y".to_owned())));
    assert_eq!(value.required_nullable.as_deref(), Some("x"));
    // A non-nullable optional field is left out when unset, never written as null.
    assert!(
        serde_json::to_value(&absent)
            .unwrap()
            .get("optional")
            .is_none()
    );
}

#[test]
fn records_write_their_type_and_know_their_collection() {
    let mut post = record::Record::new("hello", "2024-05-01T12:00:00.000Z".parse().unwrap());
    post.tags = Some(vec!["a".into()]);
    let written = serde_json::to_value(&post).unwrap();
    assert_eq!(written["$type"], json!("com.example.fixture.record"));
    assert_eq!(record::Record::NSID, "com.example.fixture.record");
    assert_eq!(record::Record::KEY, "tid");
    fn key_type<C: lexicon_fixtures::runtime::Collection>() -> &'static str {
        std::any::type_name::<C::Key>()
    }
    assert!(key_type::<record::Record>().ends_with("Tid"));
    assert_eq!(
        <record::Record as lexicon_fixtures::runtime::Collection>::LITERAL_KEY,
        None
    );
    // A lexicon property named `extra` does not clash with the unknown-field store.
    let with_extra: record::Record = round_trip(&json!({
        "$type": "com.example.fixture.record", "text": "t", "createdAt": "2024-05-01T12:00:00Z",
        "extra": { "kept": 1 }, "unlisted": 2
    }));
    assert_eq!(with_extra.extra.get("unlisted"), Some(&json!(2)));
}

#[test]
fn known_values_keep_unknown_strings_and_tokens_are_constants() {
    let report: token::Report =
        round_trip(&json!({ "reason": "com.example.fixture.token#reasonSpam" }));
    assert_eq!(report.reason, token::ReportReason::ReasonSpam);
    assert_eq!(report.reason.as_str(), token::REASON_SPAM);
    let report: token::Report = round_trip(&json!({ "reason": "com.example.elsewhere#reasonNew" }));
    assert_eq!(
        report.reason,
        token::ReportReason::Other("com.example.elsewhere#reasonNew".into())
    );
}

#[test]
fn closed_string_enums_reject_other_values() {
    let ok: strings::Main = round_trip(&json!({ "mood": "meh", "size": "small" }));
    assert_eq!(ok.mood, strings::MainMood::Other("meh".into()));
    assert_eq!(ok.size, Some(strings::MainSize::Small));
    assert!(
        serde_json::from_value::<strings::Main>(json!({ "mood": "happy", "size": "medium" }))
            .is_err()
    );
}

#[test]
fn defaults_apply_when_absent_without_changing_the_data() {
    let empty: integers::Main = round_trip(&json!({}));
    assert_eq!(empty.limit, None);
    assert_eq!(empty.limit(), 50);
    assert!(empty.enabled());
    let set: integers::Main = round_trip(&json!({ "limit": 7, "enabled": false }));
    assert_eq!(set.limit(), 7);
    assert!(!set.enabled());
    let greeting: strings::Main = round_trip(&json!({ "mood": "happy" }));
    assert_eq!(greeting.greeting(), "hello");
}

#[test]
fn recursive_types_nest() {
    let data = json!({
        "value": 1,
        "next": { "value": 2, "next": { "value": 3 } },
        "children": [{ "value": 4 }],
        "other": { "left": { "value": 5 }, "any": { "$type": "com.example.fixture.recursive#node", "value": 6 } }
    });
    let node: recursive::Node = round_trip(&data);
    assert_eq!(node.next.as_ref().unwrap().next.as_ref().unwrap().value, 3);
}

/// The validator keeps the first levels of its path inline and the rest on the heap: a
/// violation far below both still gets its whole path, and one higher up after it (the path
/// popped back through both) gets its own.
#[test]
fn violations_deep_in_a_value_keep_their_whole_path() {
    let depth = 30;
    let mut data = json!({ "value": 0, "next": null });
    for value in 1..depth {
        data = json!({ "value": value, "next": data, "children": [{ "value": 0, "next": null }] });
    }
    let node: recursive::Node = serde_json::from_value(data).unwrap();
    let violations = node.validate().unwrap_err().0;
    let paths: Vec<&str> = violations.iter().map(|v| v.path.as_str()).collect();
    assert_eq!(paths.len(), depth as usize, "{paths:?}");
    let deepest = format!("{}/next", "/next".repeat(depth as usize - 1));
    assert!(paths.contains(&deepest.as_str()), "{paths:?}");
    assert!(paths.contains(&"/children/0/next"), "{paths:?}");
    let fifteen = format!("{}/children/0/next", "/next".repeat(15));
    assert!(paths.contains(&fifteen.as_str()), "{paths:?}");
}

#[test]
fn query_params_encode_per_the_spec() {
    use atproto_api_client_check::*;
    let mut params = query::Params::new("alice.test".parse().unwrap());
    params.tags = Some(vec!["a b".into(), "c".into()]);
    params.sort = Some(query::ParamsSort::Top);
    let encoded = encode(&params);
    assert_eq!(
        encoded,
        "?actor=alice.test&limit=50&reverse=false&tags=a%20b&tags=c&sort=top"
    );
    params.limit = Some(5);
    params.reverse = Some(true);
    assert!(
        encode(&params).contains("limit=5&reverse=true"),
        "{}",
        encode(&params)
    );
}

/// Params encoding through the runtime's own query builder.
mod atproto_api_client_check {
    use lexicon_fixtures::runtime::client::{Query, QueryParams};
    pub fn encode(params: &impl QueryParams) -> String {
        let mut query = Query::default();
        params.push_to(&mut query);
        query.to_query_string()
    }
}

#[test]
fn subscription_frames_are_read_by_their_header() {
    let tick = subscription::Message::from_frame("#tick", json!({ "seq": 7 })).unwrap();
    assert!(matches!(tick, Some(subscription::Message::Tick(t)) if t.seq == 7));
    assert!(
        subscription::Message::from_frame("#later", json!({}))
            .unwrap()
            .is_none()
    );
    assert!(subscription::Message::from_frame("#tick", json!({ "seq": "x" })).is_err());
}

#[test]
fn union_members_read_the_same_whether_type_comes_first_or_last() {
    // `json!` sorts keys (`$type` first); raw text keeps the writer's order.
    let last =
        r#"{"open": {"radius": 3, "colour": "red", "$type": "com.example.fixture.union#circle"}}"#;
    let first =
        r#"{"open": {"$type": "com.example.fixture.union#circle", "radius": 3, "colour": "red"}}"#;
    let from_last: r#union::Main = serde_json::from_str(last).unwrap();
    let from_first: r#union::Main = serde_json::from_str(first).unwrap();
    assert_eq!(from_last, from_first);
    assert!(
        matches!(&from_last.open, r#union::MainOpen::Circle(c) if c.radius == 3 && c.extra.get("colour") == Some(&json!("red")))
    );

    let unknown_last = r#"{"open": {"sides": 3, "$type": "com.example.other#triangle"}}"#;
    let main: r#union::Main = serde_json::from_str(unknown_last).unwrap();
    assert_eq!(
        serde_json::to_value(&main).unwrap(),
        json!({ "open": { "$type": "com.example.other#triangle", "sides": 3 } })
    );

    let malformed_last =
        r#"{"open": {"radius": "big", "$type": "com.example.fixture.union#circle"}}"#;
    let error = serde_json::from_str::<r#union::Main>(malformed_last)
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("com.example.fixture.union#circle"),
        "{error}"
    );
}

#[test]
fn a_missing_required_field_is_named() {
    let error = serde_json::from_value::<r#union::Circle>(json!({}))
        .unwrap_err()
        .to_string();
    assert!(error.contains("missing field `radius`"), "{error}");
    let error = serde_json::from_value::<r#union::Circle>(json!("circle"))
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("a com.example.fixture.union#circle object"),
        "{error}"
    );
}

#[test]
fn a_type_on_a_plain_object_is_written_back() {
    // Writers often put `$type` on objects that are not union members (facets, for one).
    let data = json!({ "$type": "com.example.fixture.union#circle", "radius": 2 });
    let circle: r#union::Circle = round_trip(&data);
    assert_eq!(circle.radius, 2);
    let text = serde_json::to_string(&circle).unwrap();
    assert!(
        text.starts_with(r#"{"$type":"#),
        "$type is written first: {text}"
    );
    // A record writes its own `$type`, once.
    let post: record::Record = round_trip(
        &json!({ "$type": "com.example.fixture.record", "text": "t", "createdAt": "2024-05-01T12:00:00Z" }),
    );
    assert_eq!(
        serde_json::to_string(&post)
            .unwrap()
            .matches("$type")
            .count(),
        1
    );
}
