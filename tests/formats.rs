//! The runtime's Lexicon string formats: our own vectors per format (limits, unicode, case
//! rules), the lenient-read / strict-check contract, serde forms, and that checks neither
//! allocate nor panic.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::collections::HashSet;

use atproto_api::runtime::{
    AtIdentifier, AtUri, Cid, Datetime, Did, FormatError, Handle, Language, Nsid, RecordKey,
    StringFormat, Tid, Uri, check_format,
};

/// Counts this thread's allocations, to show that checks do not allocate.
struct CountingAllocator;

thread_local! {
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.with(|count| count.set(count.get() + 1));
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

fn allocations_during(f: impl FnOnce()) -> usize {
    let before = ALLOCATIONS.with(Cell::get);
    f();
    ALLOCATIONS.with(Cell::get) - before
}

const FORMATS: [&str; 11] = [
    "did",
    "handle",
    "nsid",
    "at-uri",
    "at-identifier",
    "cid",
    "datetime",
    "tid",
    "record-key",
    "language",
    "uri",
];

/// Asserts every `valid` case is accepted and every `invalid` one rejected by `format`, both
/// through `check_format` and through the typed constructor `new`.
fn assert_cases<T: StringFormat + std::str::FromStr<Err = FormatError> + std::fmt::Debug>(
    valid: &[&str],
    invalid: &[&str],
) {
    for case in valid {
        let verdict = check_format(T::FORMAT, case).expect("known format");
        assert!(
            verdict.is_ok(),
            "{} should accept {case:?}: {verdict:?}",
            T::FORMAT
        );
        let typed: T = case.parse().expect("constructor agrees with check_format");
        assert_eq!(typed.as_str(), *case);
    }
    for case in invalid {
        let err = check_format(T::FORMAT, case)
            .expect("known format")
            .expect_err(&format!("{} should reject {case:?}", T::FORMAT));
        assert_eq!(err.format(), T::FORMAT);
        assert_eq!(err.value(), *case);
        assert!(!err.reason().is_empty());
        assert!(case.parse::<T>().is_err(), "constructor agrees on {case:?}");
    }
}

#[test]
fn did_vectors() {
    let max = format!("did:plc:{}", "a".repeat(2048 - 8));
    let over = format!("did:plc:{}", "a".repeat(2049 - 8));
    assert_cases::<Did>(
        &[
            "did:plc:7iza6de2dwap2sbkpav7c6c6",
            "did:web:example.com",
            "did:web:localhost%3A8080",
            "did:m:v",
            "did:method:a:b:c",
            "did:method:-._",
            "did:method:%AB",
            "did:method:UPPER",
            &max,
        ],
        &[
            "",
            "did",
            "did:",
            "did:plc",
            "did:plc:",
            "did::abc",
            "did:PLC:abc",
            "did:pl2:abc",
            "DID:plc:abc",
            "did:plc:abc:",
            "did:plc:abc%",
            "did:plc:ab/c",
            "did:plc:ab?c",
            "did:plc:ab#c",
            "did:plc:ab c",
            " did:plc:abc",
            "did:plc:abc ",
            "did:plc:abcé",
            "did:plc:😀",
            &over,
        ],
    );
    let did = Did::new("did:plc:abc").unwrap();
    assert_eq!(did.method(), Some("plc"));
    assert_eq!(Did::from_unchecked("nope").method(), None);
}

#[test]
fn handle_vectors() {
    let label63 = "a".repeat(63);
    let label64 = "a".repeat(64);
    let with_63 = format!("{label63}.test");
    let with_64 = format!("{label64}.test");
    // 4 labels of 63 and a final "a": 63 * 4 + 4 dots + 1 = 257; trim to exactly 253.
    let max = format!(
        "{l}.{l}.{l}.{m}.test",
        l = label63,
        m = "a".repeat(253 - 63 * 3 - 3 - 5)
    );
    let over = format!("a{max}");
    assert_eq!(max.len(), 253);
    assert_eq!(over.len(), 254);
    assert_cases::<Handle>(
        &[
            "alice.bsky.social",
            "ALICE.BSKY.SOCIAL",
            "a.co",
            "0.example",
            "xn--bcher-kva.example",
            "a-b--c.example",
            "example.t--t",
            "laptop.local",
            &with_63,
            &max,
        ],
        &[
            "",
            "alice",
            "alice.",
            ".alice.test",
            "alice..test",
            "alice.test.",
            "-alice.test",
            "alice-.test",
            "alice.-test",
            "alice.test-",
            "al_ice.test",
            "al ice.test",
            "alice.123",
            "alice.0aa",
            "bücher.test",
            "alice.tést",
            "😀.test",
            "127.0.0.1",
            "did:plc:abc",
            &with_64,
            &over,
        ],
    );
}

#[test]
fn nsid_vectors() {
    let seg63 = "a".repeat(63);
    // Four 63-character authority segments, then a name: 4 * 64 + name = 317 at most.
    let max = format!("{s}.{s}.{s}.{s}.b{}", "c".repeat(60), s = seg63);
    let over = format!("{s}.{s}.{s}.{s}.b{}", "c".repeat(61), s = seg63);
    assert_eq!(max.len(), 317);
    assert_eq!(over.len(), 318);
    assert_cases::<Nsid>(
        &[
            "app.bsky.feed.post",
            "com.atproto.repo.createRecord",
            "a.b.c",
            "a.0.c",
            "a-b.c-d.e",
            "com.example.fooBarV2",
            "com.example.f00",
            "COM.EXAMPLE.Thing",
            "xn--fiqs8s.example.thing",
            &max,
        ],
        &[
            "",
            "app",
            "app.bsky",
            "app.bsky.",
            ".app.bsky.post",
            "app..bsky.post",
            "app.bsky.feed.2post",
            "app.bsky.feed.po-st",
            "app.bsky.feed.po_st",
            "app.bsky.feed.*",
            "app.bsky-.feed.post",
            "app.-bsky.feed.post",
            "1app.bsky.post",
            "app.bsky.feed.post ",
            "app.bsky.fééd.post",
            "app.bsky.feed.pöst",
            &format!("com.{}.thing", "a".repeat(64)),
            &format!("com.example.{}", "a".repeat(64)),
            &over,
        ],
    );
    let nsid = Nsid::new("app.bsky.feed.post").unwrap();
    assert_eq!(nsid.authority(), "app.bsky.feed");
    assert_eq!(nsid.name(), "post");
}

#[test]
fn at_identifier_vectors() {
    assert_cases::<AtIdentifier>(
        &["did:plc:abc", "alice.bsky.social", "did:web:example.com"],
        &[
            "",
            "did:plc:",
            "alice",
            "@alice.test",
            "alice@bsky.social",
            "did:thing.test",
        ],
    );
    let did = AtIdentifier::new("did:plc:abc").unwrap();
    assert!(did.is_did());
    assert_eq!(did.as_did(), Some(Did::new("did:plc:abc").unwrap()));
    assert_eq!(did.as_handle(), None);
    let handle = AtIdentifier::new("alice.test").unwrap();
    assert_eq!(handle.as_handle(), Some(Handle::new("alice.test").unwrap()));
    assert_eq!(handle.as_did(), None);
    assert_eq!(AtIdentifier::from_unchecked("did:bad").as_did(), None);
    let from_did: AtIdentifier = Did::new("did:plc:abc").unwrap().into();
    assert_eq!(from_did, "did:plc:abc");
    let from_handle: AtIdentifier = Handle::new("alice.test").unwrap().into();
    assert_eq!(from_handle.as_str(), "alice.test");
}

#[test]
fn at_uri_vectors() {
    let long_rkey = format!("at://did:plc:abc/app.bsky.feed.post/{}", "k".repeat(512));
    let too_long_rkey = format!("at://did:plc:abc/app.bsky.feed.post/{}", "k".repeat(513));
    let over_8k = format!("at://did:plc:abc/app.bsky.feed.post/{}", "k".repeat(8200));
    assert_cases::<AtUri>(
        &[
            "at://did:plc:abc",
            "at://alice.bsky.social",
            "at://did:plc:abc/app.bsky.feed.post",
            "at://did:plc:abc/app.bsky.feed.post/3jzfcijpj2z2a",
            "at://alice.test/app.bsky.feed.post/self",
            "at://did:plc:abc/app.bsky.feed.post/...",
            "at://did:plc:abc/app.bsky.feed.post/a:b~c",
            &long_rkey,
        ],
        &[
            "",
            "at://",
            "at:///app.bsky.feed.post",
            "at://did:plc:abc/",
            "at://did:plc:abc/app.bsky.feed.post/",
            "at://did:plc:abc/app.bsky.feed.post/rkey/",
            "at://did:plc:abc/app.bsky.feed.post/rkey/more",
            "at://did:plc:abc//app.bsky.feed.post",
            "at://did:plc:abc#frag",
            "at://did:plc:abc/app.bsky.feed.post#frag",
            "at://did:plc:abc/app.bsky.feed.post?q=1",
            "at://did:plc:abc/app.bsky.feed.post/.",
            "at://did:plc:abc/app.bsky.feed.post/..",
            "at://did:plc:abc/app.bsky.feed.post/%30",
            "at://did:plc:abc/not-an-nsid",
            "at://alice",
            "AT://did:plc:abc",
            "at:/did:plc:abc",
            "https://did:plc:abc",
            " at://did:plc:abc",
            "at://did:plc:abc ",
            "at://did:plc:abc/app.bsky.feed.pöst",
            &too_long_rkey,
            &over_8k,
        ],
    );
    let uri = AtUri::new("at://did:plc:abc/app.bsky.feed.post/3jzfcijpj2z2a").unwrap();
    assert_eq!(uri.authority(), "did:plc:abc");
    assert_eq!(uri.collection(), Some("app.bsky.feed.post"));
    assert_eq!(uri.rkey(), Some("3jzfcijpj2z2a"));
    let bare = AtUri::new("at://alice.test").unwrap();
    assert_eq!(bare.authority(), "alice.test");
    assert_eq!(bare.collection(), None);
    assert_eq!(bare.rkey(), None);
    // Accessors on text that is not an at-uri still answer without panicking.
    let odd = AtUri::from_unchecked("ü/ö");
    assert_eq!(odd.authority(), "ü");
    assert_eq!(odd.collection(), Some("ö"));

    let authority = AtIdentifier::new("did:plc:abc").unwrap();
    let collection = Nsid::new("app.bsky.feed.post").unwrap();
    let rkey = RecordKey::new("self").unwrap();
    let built = AtUri::from_parts(&authority, Some(&collection), Some(&rkey)).unwrap();
    assert_eq!(built, "at://did:plc:abc/app.bsky.feed.post/self");
    let built = AtUri::from_parts(&authority, None, Some(&rkey)).unwrap();
    assert_eq!(built, "at://did:plc:abc");
}

#[test]
fn cid_vectors() {
    let max = "b".repeat(256);
    let over = "b".repeat(257);
    assert_cases::<Cid>(
        &[
            "bafyreiclp443lavogvhj3d2ob2cxbfuscni2k5jk7bebjzg7khl3esabwq",
            "bafkreiccldh766hwcnuxnf2wh6jgzepf2nlu2lvcllt63eww5p6chi4ity",
            "zdj7WWeQ43G6JJvLWQWZpyHuAMq6uYWRjkBXFad11vE2LHhQ7",
            "mBcDxtdWx0aWhhc2g+",
            "MBcDxtdWx0aWhhc2g=",
            "abcdefgh",
            &max,
        ],
        &[
            "",
            "abcdefg",
            "QmbWqxBEKC3P8tqsKc98xmWNzrzDtRLMiMPL8wBuTGsMnR",
            "bafy/reiclp443lavogvhj3d2ob2cx",
            "bafy reiclp443lavogvhj3d2ob2cx",
            "bafyreiclp443lavogvhj3d2ob2cx-",
            "bafyreiclp443lavögvhj3d2ob2cx",
            "cid:bafyreiclp443lavogvhj3d2ob2cx",
            &over,
        ],
    );
}

#[test]
fn datetime_vectors() {
    assert_cases::<Datetime>(
        &[
            "1985-04-12T23:20:50.123Z",
            "1985-04-12T23:20:50Z",
            "1985-04-12T23:20:50.1Z",
            "1985-04-12T23:20:50.123456789012345Z",
            "1985-04-12T23:20:50.123+00:00",
            "1985-04-12T23:20:50.123-07:00",
            "1985-04-12T23:20:50.123+23:59",
            "2000-02-29T00:00:00Z",
            "2024-02-29T12:00:00Z",
            "2023-04-30T00:00:00Z",
            "2023-12-31T23:59:59.999Z",
            "0000-01-01T00:00:00Z",
            "0000-01-01T01:00:00+01:00",
            "0000-01-01T00:00:00-01:00",
            "9999-12-31T23:59:59Z",
        ],
        &[
            "",
            "1985-04-12",
            "1985-04-12T23:20Z",
            "1985-04-12T23:20:50",
            "1985-04-12T23:20:50.123",
            "1985-04-12t23:20:50Z",
            "1985-04-12T23:20:50z",
            "1985-04-12 23:20:50Z",
            "1985-04-12T23:20:50.Z",
            "1985-04-12T23:20:50.123-00:00",
            "1985-04-12T23:20:50+0000",
            "1985-04-12T23:20:50+00",
            "1985-04-12T23:20:50+24:00",
            "1985-04-12T23:20:50+00:60",
            "1985-04-12T23:20:50ZZ",
            "1985-04-12T23:20:50Z ",
            " 1985-04-12T23:20:50Z",
            "+1985-04-12T23:20:50Z",
            "1985-4-12T23:20:50Z",
            "1985–04–12T23:20:50Z",
            "１９８５-04-12T23:20:50Z",
            "1985-00-12T23:20:50Z",
            "1985-13-12T23:20:50Z",
            "1985-04-00T23:20:50Z",
            "1985-04-31T23:20:50Z",
            "1900-02-29T00:00:00Z",
            "2023-02-29T00:00:00Z",
            "1985-04-12T24:00:00Z",
            "1985-04-12T23:60:00Z",
            "1985-04-12T23:59:60Z",
            "0000-01-01T00:59:59+01:00",
        ],
    );
}

#[test]
fn datetime_keeps_its_exact_text() {
    for text in [
        "1985-04-12T23:20:50.120000Z",
        "1985-04-12T23:20:50.123-07:00",
        "2024-01-01T00:00:00+00:00",
    ] {
        let json = format!("\"{text}\"");
        let datetime: Datetime = serde_json::from_str(&json).unwrap();
        assert_eq!(datetime.as_str(), text);
        assert_eq!(serde_json::to_string(&datetime).unwrap(), json);
        assert_eq!(datetime.to_string(), text);
    }
}

#[test]
fn datetime_from_unix_millis() {
    let cases = [
        (0, "1970-01-01T00:00:00.000Z"),
        (-1, "1969-12-31T23:59:59.999Z"),
        (951_782_400_000, "2000-02-29T00:00:00.000Z"),
        (482_196_050_123, "1985-04-12T23:20:50.123Z"),
        (253_402_300_799_999, "9999-12-31T23:59:59.999Z"),
        (-62_167_219_200_000, "0000-01-01T00:00:00.000Z"),
    ];
    for (millis, text) in cases {
        let datetime = Datetime::from_unix_millis(millis).unwrap();
        assert_eq!(datetime.as_str(), text, "{millis}");
        assert!(datetime.is_valid());
    }
    assert_eq!(Datetime::from_unix_millis(253_402_300_800_000), None);
    assert_eq!(Datetime::from_unix_millis(-62_167_219_200_001), None);
    assert_eq!(Datetime::from_unix_millis(i64::MIN), None);
    assert_eq!(Datetime::from_unix_millis(i64::MAX), None);
    let now = Datetime::now();
    assert!(now.is_valid(), "{now}");
    assert!(now.as_str() > "2020");
}

#[test]
fn tid_vectors() {
    assert_cases::<Tid>(
        &[
            "3jzfcijpj2z2a",
            "2222222222222",
            "7777777777777",
            "jzzzzzzzzzzzz",
            "a222222222222",
        ],
        &[
            "",
            "3jzfcijpj2z2",
            "3jzfcijpj2z2aa",
            "3JZFCIJPJ2Z2A",
            "3jzfcijpj2z21",
            "3jzfcijpj2z20",
            "kzzzzzzzzzzzz",
            "zzzzzzzzzzzzz",
            "3jzf-cij-pj2z",
            "3jzfcijpj2z2é",
        ],
    );
}

#[test]
fn tid_parts_round_trip() {
    let tid = Tid::from_parts(1_700_000_000_000_000, 513);
    assert!(tid.is_valid(), "{tid:?}");
    assert_eq!(tid.timestamp_micros(), Some(1_700_000_000_000_000));
    assert_eq!(tid.clock_id(), Some(513));
    assert_eq!(Tid::from_parts(0, 0), "2222222222222");
    // Out-of-range parts are cut to their bits; the result is still a valid TID.
    let max = Tid::from_parts(u64::MAX, u16::MAX);
    assert!(max.is_valid(), "{max:?}");
    assert_eq!(max.clock_id(), Some(1023));
    assert_eq!(max.timestamp_micros(), Some((1 << 53) - 1));
    // Later timestamps sort later, as text.
    assert!(Tid::from_parts(2, 0) > Tid::from_parts(1, 1023));
    assert!(Tid::now(0).is_valid());
    assert_eq!(Tid::from_unchecked("nope").timestamp_micros(), None);
    assert_eq!(Tid::from_unchecked("3JZFCIJPJ2Z2A").clock_id(), None);
}

#[test]
fn record_key_vectors() {
    let max = "k".repeat(512);
    let over = "k".repeat(513);
    assert_cases::<RecordKey>(
        &[
            "self",
            "3jzfcijpj2z2a",
            "literal:self",
            "a",
            "~",
            ":",
            "-",
            "_",
            "...",
            "a.b",
            &max,
        ],
        &[
            "", ".", "..", "a/b", "a b", "a#b", "a?b", "a%20", "a@b", "a+b", "ü", "😀", &over,
        ],
    );
}

#[test]
fn language_vectors() {
    assert_cases::<Language>(
        &[
            "en",
            "pt-BR",
            "pt-br",
            "ban",
            "zh-Hant-TW",
            "zh-yue",
            "zh-yue-HK",
            "es-419",
            "de-CH-1901",
            "sl-rozaj-biske",
            "en-u-ca-gregory",
            "en-a-bbb-x-a-ccc",
            "x-private",
            "X-fr-CH",
            "i-default",
            "en-GB-oed",
            "zh-min-nan",
        ],
        &[
            "",
            "e",
            "EN",
            "En",
            "enga",
            "english",
            "123",
            "en-",
            "-en",
            "en--US",
            "en_US",
            "en US",
            "én",
            "en-x",
            "en-u",
            "en-u-x-foo",
            "en-a-bbb-a-ccc",
            "en-a-bbb-A-ccc",
            "de-1901-1901",
            "de-rozaj-ROZAJ",
            "en-US-GB",
            "en-Latn-Latn",
            "en-toolongvariant",
            "x",
            "x-",
            "x-toolongsubtag",
            "I-DEFAULT",
        ],
    );
}

#[test]
fn uri_vectors() {
    let max = format!("https://example.com/{}", "x".repeat(8192 - 20));
    let over = format!("https://example.com/{}", "x".repeat(8193 - 20));
    assert_eq!(max.len(), 8192);
    assert_cases::<Uri>(
        &[
            "https://example.com",
            "https://example.com/path?q=1#frag",
            "dns:example.com",
            "at://did:plc:abc",
            "did:plc:abc",
            "mailto:alice@example.com",
            "git+ssh://host/repo",
            "urn:isbn:0451450523",
            "https://example.com/ü",
            &max,
        ],
        &[
            "",
            "example.com",
            "://example.com",
            "//example.com",
            "http:",
            "1http://example.com",
            ".http://example.com",
            "ht_tp://example.com",
            "htüp://example.com",
            "https://example.com/a b",
            "https://example.com/a\tb",
            "https://example.com/a\u{a0}b",
            "https://example.com/\u{7f}",
            " https://example.com",
            "https://example.com ",
            &over,
        ],
    );
}

#[test]
fn constructors_agree_and_from_unchecked_keeps_anything() {
    assert!(Did::new("did:plc:abc").is_ok());
    assert!("did:plc:abc".parse::<Did>().is_ok());
    assert!(Did::try_from("did:plc:abc").is_ok());
    assert!(Did::try_from(String::from("did:plc:abc")).is_ok());
    assert!(Did::try_from("nope").is_err());
    assert!(Did::try_from(String::from("nope")).is_err());

    let bad = Did::from_unchecked("not a did");
    assert_eq!(bad.as_str(), "not a did");
    assert!(!bad.is_valid());
    let err = bad.check().unwrap_err();
    assert_eq!(err.format(), "did");
    assert_eq!(err.value(), "not a did");
    assert!(Did::is_valid_str("did:plc:abc"));
    assert!(Did::check_str("did:plc:").is_err());
    assert_eq!(bad.into_string(), "not a did");
}

#[test]
fn string_like_traits() {
    let did = Did::new("did:plc:abc").unwrap();
    assert_eq!(did.to_string(), "did:plc:abc");
    assert_eq!(format!("{did:?}"), "\"did:plc:abc\"");
    assert_eq!(format!("{:?}", Some(&did)), "Some(\"did:plc:abc\")");
    let as_ref: &str = did.as_ref();
    assert_eq!(as_ref, "did:plc:abc");
    assert_eq!(did, "did:plc:abc");
    assert_eq!(did, *"did:plc:abc");
    let text: String = did.clone().into();
    assert_eq!(text, "did:plc:abc");

    // Borrow<str> lets sets and maps be queried with plain text.
    let set: HashSet<Did> = [did.clone()].into_iter().collect();
    assert!(set.contains("did:plc:abc"));

    let mut sorted = vec![
        Nsid::new("b.b.b").unwrap(),
        Nsid::new("a.b.c").unwrap(),
        Nsid::new("a.b.b").unwrap(),
    ];
    sorted.sort();
    assert_eq!(sorted, ["a.b.b", "a.b.c", "b.b.b"]);
    assert_eq!(Did::FORMAT, "did");
    assert_eq!(<AtUri as StringFormat>::FORMAT, "at-uri");
}

#[test]
fn serde_reads_any_string_and_writes_a_plain_string() {
    let did: Did = serde_json::from_str("\"did:plc:abc\"").unwrap();
    assert!(did.is_valid());
    assert_eq!(serde_json::to_string(&did).unwrap(), "\"did:plc:abc\"");

    // Lenient: invalid text reads fine and is caught by check().
    let bad: Datetime = serde_json::from_str("\"1985-04-12T23:20:50\"").unwrap();
    assert_eq!(bad.as_str(), "1985-04-12T23:20:50");
    assert!(bad.check().is_err());
    let escaped: Handle = serde_json::from_str(r#""al\u00efce\n""#).unwrap();
    assert_eq!(escaped.as_str(), "alïce\n");
    assert!(!escaped.is_valid());
    let from_value: Nsid = serde_json::from_value(serde_json::json!("not an nsid")).unwrap();
    assert!(!from_value.is_valid());

    // A wrong JSON type is still an error.
    for json in ["123", "null", "true", "[]", "{}", "1.5"] {
        assert!(serde_json::from_str::<Did>(json).is_err(), "{json}");
    }
    // Optional fields: null and absent are None.
    let none: Option<Did> = serde_json::from_str("null").unwrap();
    assert_eq!(none, None);
}

#[test]
fn one_bad_value_does_not_fail_a_large_response() {
    #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Post {
        uri: AtUri,
        cid: Cid,
        author: Did,
        created_at: Datetime,
        langs: Option<Vec<Language>>,
    }
    let mut posts = Vec::new();
    for i in 0..1000 {
        let created_at = if i == 500 {
            // Real network data: no timezone.
            "2023-04-01T12:00:00".to_owned()
        } else {
            "2023-04-01T12:00:00.000Z".to_owned()
        };
        posts.push(serde_json::json!({
            "uri": format!("at://did:plc:abc/app.bsky.feed.post/{i}"),
            "cid": "bafyreiclp443lavogvhj3d2ob2cxbfuscni2k5jk7bebjzg7khl3esabwq",
            "author": "did:plc:abc",
            "createdAt": created_at,
            "langs": ["en"],
        }));
    }
    let json = serde_json::Value::Array(posts);
    let read: Vec<Post> = serde_json::from_value(json.clone()).unwrap();
    let invalid: Vec<usize> = read
        .iter()
        .enumerate()
        .filter(|(_, post)| post.created_at.check().is_err())
        .map(|(i, _)| i)
        .collect();
    assert_eq!(invalid, [500]);
    assert_eq!(serde_json::to_value(&read).unwrap(), json);
}

#[test]
fn format_error_names_format_value_and_reason() {
    let err = Handle::new("alice").unwrap_err();
    assert_eq!(err.format(), "handle");
    assert_eq!(err.value(), "alice");
    let shown = err.to_string();
    assert!(
        shown.contains("handle") && shown.contains("\"alice\""),
        "{shown}"
    );
    assert!(shown.contains(err.reason()), "{shown}");
    let as_error: &dyn std::error::Error = &err;
    assert!(as_error.source().is_none());
    assert_eq!(err.clone(), err);
    assert_eq!(FormatError::new("did", "x", "why").reason(), "why");

    // Long values are cut on a character boundary in Display, and kept whole in value().
    let long = "é".repeat(500);
    let err = Did::new(long.clone()).unwrap_err();
    assert_eq!(err.value(), long);
    let shown = err.to_string();
    assert!(shown.len() < 400, "{shown}");
    assert!(shown.contains("1000 bytes"), "{shown}");
}

#[test]
fn check_format_knows_every_lexicon_format() {
    for format in FORMATS {
        assert!(check_format(format, "").is_some(), "{format}");
        assert!(
            check_format(format, "").unwrap().is_err(),
            "{format} accepts empty text"
        );
    }
    assert!(check_format("email", "a@b.c").is_none());
    assert!(check_format("DID", "did:plc:abc").is_none());
    assert_eq!(check_format("did", "did:plc:abc"), Some(Ok(())));
}

#[test]
fn checks_do_not_allocate() {
    let long_uri = format!("https://example.com/{}", "x".repeat(5000));
    let inputs = [
        ("did", "did:plc:7iza6de2dwap2sbkpav7c6c6"),
        ("handle", "alice.bsky.social"),
        ("nsid", "app.bsky.feed.post"),
        (
            "at-uri",
            "at://did:plc:abc/app.bsky.feed.post/3jzfcijpj2z2a",
        ),
        ("at-identifier", "alice.bsky.social"),
        (
            "cid",
            "bafyreiclp443lavogvhj3d2ob2cxbfuscni2k5jk7bebjzg7khl3esabwq",
        ),
        ("datetime", "1985-04-12T23:20:50.123-07:00"),
        ("tid", "3jzfcijpj2z2a"),
        ("record-key", "self"),
        ("language", "en-GB-boont-r-extended-sequence-x-private"),
        ("uri", long_uri.as_str()),
    ];
    let typed = (
        Did::from_unchecked(inputs[0].1),
        Datetime::from_unchecked("1985-04-12T23:20:50"),
        Language::from_unchecked("de-1901-1901"),
    );
    let count = allocations_during(|| {
        assert!(Did::is_valid_str(inputs[0].1));
        assert!(Handle::is_valid_str(inputs[1].1));
        assert!(Nsid::is_valid_str(inputs[2].1));
        assert!(AtUri::is_valid_str(inputs[3].1));
        assert!(AtIdentifier::is_valid_str(inputs[4].1));
        assert!(Cid::is_valid_str(inputs[5].1));
        assert!(Datetime::is_valid_str(inputs[6].1));
        assert!(Tid::is_valid_str(inputs[7].1));
        assert!(RecordKey::is_valid_str(inputs[8].1));
        assert!(Language::is_valid_str(inputs[9].1));
        assert!(Uri::is_valid_str(inputs[10].1));
        assert!(typed.0.is_valid());
        assert!(typed.0.check().is_ok());
        assert!(!typed.1.is_valid());
        assert!(!typed.2.is_valid());
        for (format, value) in inputs {
            assert!(matches!(check_format(format, value), Some(Ok(()))));
        }
    });
    assert_eq!(count, 0, "checks allocated");
    // The counter does see allocations.
    let seen = allocations_during(|| {
        std::hint::black_box(String::from("did:plc:abc"));
    });
    assert!(seen > 0);
}

/// A small deterministic generator, so the no-panic sweep is the same on every run.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }
}

#[test]
fn checks_never_panic() {
    // Pieces that sit on the edges of every grammar, including multi-byte characters.
    let pieces = [
        "a", "Z", "0", "9", "-", ".", ":", "/", "_", "~", "%", "+", "=", "#", "?", "@", " ", "T",
        "Z", "x", "did:", "at://", "é", "😀", "–", "\u{0}", "\r", "00", "2", "j", "k",
    ];
    let mut rng = Lcg(0x5eed);
    let mut inputs: Vec<String> = Vec::new();
    for _ in 0..20_000 {
        let len = (rng.next() % 24) as usize;
        let text: String = (0..len)
            .map(|_| pieces[(rng.next() as usize) % pieces.len()])
            .collect();
        inputs.push(text);
    }
    // Valid values cut at every byte (where that is a character boundary) and extended.
    for valid in [
        "1985-04-12T23:20:50.123+07:00",
        "at://did:plc:abc/app.bsky.feed.post/3jzfcijpj2z2a",
        "en-GB-boont-r-extended-sequence-x-private",
        "0000-01-01T00:00:00+01:00",
    ] {
        for end in 0..=valid.len() {
            if let Some(prefix) = valid.get(..end) {
                inputs.push(prefix.to_owned());
                inputs.push(format!("{prefix}é"));
            }
        }
    }
    for input in &inputs {
        for format in FORMATS {
            let _ = check_format(format, input);
        }
        let _ = AtUri::from_unchecked(input.as_str()).rkey();
        let _ = Tid::from_unchecked(input.as_str()).timestamp_micros();
        let _ = Did::from_unchecked(input.as_str()).method();
        let _ = Nsid::from_unchecked(input.as_str()).name();
    }
}
