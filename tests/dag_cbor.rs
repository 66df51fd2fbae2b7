//! The data model in DAG-CBOR, event-stream frames and CAR files (feature `dag-cbor`): the
//! interop fixtures, typed records with links inside unions and `unknown`, frames made by the
//! official `@ipld/dag-cbor` (the PDS's own dependency), and bad input.

use atproto_api::app::bsky::feed::post;
use atproto_api::com::atproto::sync::subscribe_repos::{
    AccountStatus, Error as StreamError, Message,
};
use atproto_api::runtime::car::{Car, CarFile};
use atproto_api::runtime::cbor::{self, Frame};
use atproto_api::runtime::repo::RepoRecord;
use atproto_api::runtime::{Bytes, CidLink, Unknown};
use serde_json::{Value, json};

const RECORD_CID: &str = "bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm";
const BLOB_CID: &str = "bafkreiccldh766hwcnuxnf2wh6jgzepf2nlu2lvcllt63eww5p6chi4ity";

fn corpus(path: &str) -> std::path::PathBuf {
    integration_tests::repo_root()
        .join("../shared/corpus")
        .join(path)
}

fn base64(text: &str) -> Vec<u8> {
    Bytes::from_base64(text).unwrap().into_vec()
}

/// Every data-model fixture: CBOR -> the JSON form, the JSON form -> the same CBOR bytes, and
/// the same CID.
#[test]
fn interop_data_model_fixtures_round_trip_byte_for_byte() {
    let text = std::fs::read_to_string(corpus("interop-tests/data-model/data-model-fixtures.json"))
        .expect("the interop fixtures");
    let fixtures: Vec<Value> = serde_json::from_str(&text).unwrap();
    assert!(!fixtures.is_empty());
    for fixture in fixtures {
        let cbor_bytes = base64(fixture["cbor_base64"].as_str().unwrap());
        let from_cbor: Unknown = cbor::from_slice(&cbor_bytes).unwrap();
        assert_eq!(serde_json::to_value(&from_cbor).unwrap(), fixture["json"]);

        let from_json: Unknown = serde_json::from_value(fixture["json"].clone()).unwrap();
        assert_eq!(
            cbor::to_vec(&from_json).unwrap(),
            cbor_bytes,
            "{}",
            fixture["json"]
        );
        let cid = cbor::record_cid(&from_json).unwrap();
        assert_eq!(cid.to_string(), fixture["cid"].as_str().unwrap());
    }
}

fn post_with_everything() -> Value {
    json!({
        "$type": "app.bsky.feed.post",
        "text": "links and bytes",
        "createdAt": "2024-05-01T12:00:00.000Z",
        "embed": {
            "$type": "app.bsky.embed.images",
            "images": [{
                "alt": "a",
                "image": { "$type": "blob", "ref": { "$link": BLOB_CID }, "mimeType": "image/png", "size": 1234 }
            }]
        },
        "via": { "$link": RECORD_CID },
        "futureField": { "ref": { "$link": RECORD_CID }, "sig": { "$bytes": "aGVsbG8" } }
    })
}

#[test]
fn a_typed_record_reads_and_writes_dag_cbor_as_it_does_json() {
    let json = post_with_everything();
    let record: post::Record = serde_json::from_value(json.clone()).unwrap();
    let bytes = cbor::to_vec(&record).unwrap();
    // Links are tag 42 (0xd8 0x2a), inside the union member's blob and inside `extra`.
    assert!(bytes.windows(2).filter(|w| *w == [0xd8, 0x2a]).count() >= 3);
    let back: post::Record = cbor::from_slice(&bytes).unwrap();
    assert_eq!(back, record);
    assert_eq!(
        serde_json::to_value(&back).unwrap(),
        json,
        "the JSON form is unchanged"
    );
    assert_eq!(
        cbor::to_vec(&back).unwrap(),
        bytes,
        "written back byte for byte"
    );

    // The same record read as generic data gives the same bytes and the same CID: the CID
    // a repository would give it.
    let generic: Unknown = serde_json::from_value(json).unwrap();
    assert_eq!(cbor::to_vec(&generic).unwrap(), bytes);
    assert_eq!(
        cbor::record_cid(&record).unwrap(),
        cbor::record_cid(&generic).unwrap()
    );
}

#[test]
fn a_link_that_is_no_cid_cannot_be_written_as_dag_cbor() {
    let link = CidLink::try_from("aaaaaaaa").unwrap();
    let error = cbor::to_vec(&link).unwrap_err();
    assert!(error.to_string().contains("cid"), "{error}");
}

// --- CidLink: the form a link was read in is kept -----------------------------------------------

/// A link alone in DAG-CBOR: tag 42 (0xd8 0x2a), a byte string, the multibase zero byte, then
/// the CID's bytes.
fn link_cbor(cid: &atproto_api::runtime::cid::Cid) -> Vec<u8> {
    let bytes = cid.to_bytes();
    let mut cbor = vec![
        0xd8,
        0x2a,
        0x58,
        u8::try_from(bytes.len() + 1).unwrap(),
        0x00,
    ];
    cbor.extend(bytes);
    cbor
}

fn hash_of(link: &CidLink) -> u64 {
    use std::hash::{BuildHasher, RandomState};
    thread_local!(static STATE: RandomState = RandomState::new());
    STATE.with(|state| state.hash_one(link))
}

#[test]
fn a_link_read_from_dag_cbor_writes_the_same_bytes_and_its_canonical_text() {
    let cid: atproto_api::runtime::cid::Cid = RECORD_CID.parse().unwrap();
    let cbor_bytes = link_cbor(&cid);
    let link: CidLink = cbor::from_slice(&cbor_bytes).unwrap();
    assert_eq!(link.decode().unwrap(), cid);
    assert!(link.is_valid());
    assert_eq!(cbor::to_vec(&link).unwrap(), cbor_bytes);
    // Display writes the text without keeping it; the JSON form is the canonical base32 text.
    assert_eq!(link.to_string(), RECORD_CID);
    assert_eq!(
        serde_json::to_value(&link).unwrap(),
        json!({ "$link": RECORD_CID })
    );
    assert_eq!(link.as_str(), RECORD_CID);
    assert_eq!(link.cid().as_str(), RECORD_CID);
    assert_eq!(format!("{link:?}"), format!("CidLink({RECORD_CID:?})"));
    assert_eq!(link.clone().into_cid().as_str(), RECORD_CID);
    assert_eq!(CidLink::from_cid(cid).into_cid().as_str(), RECORD_CID);

    // Equal to the same link read from JSON or built from text, with the same hash and order.
    let text: CidLink = serde_json::from_value(json!({ "$link": RECORD_CID })).unwrap();
    for other in [
        text,
        CidLink::try_from(RECORD_CID).unwrap(),
        CidLink::from(cid),
    ] {
        assert_eq!(link, other);
        assert_eq!(other, link);
        assert_eq!(link.cmp(&other), std::cmp::Ordering::Equal);
        assert_eq!(hash_of(&link), hash_of(&other));
        assert_eq!(cbor::to_vec(&other).unwrap(), cbor_bytes);
    }
    // A key of a set. The text cache is a `OnceLock` that hashing never reads, which
    // `mutable_key_type` cannot know.
    #[allow(clippy::mutable_key_type)]
    let set: std::collections::HashSet<CidLink> = [link.clone()].into();
    assert!(set.contains(&CidLink::try_from(RECORD_CID).unwrap()));
    let blob: CidLink = BLOB_CID.try_into().unwrap();
    assert_ne!(link, blob);
    assert_ne!(link, CidLink::from(blob.decode().unwrap()));
}

#[test]
fn a_link_read_from_json_writes_back_the_text_it_was_read_with() {
    use atproto_api::runtime::cid::{self, multibase::Base};
    let cid: cid::Cid = RECORD_CID.parse().unwrap();
    // The same CID in other multibases: kept as read, equal to the canonical link (as the
    // data model and DAG-CBOR cannot tell them apart), and the same bytes in DAG-CBOR.
    let canonical = CidLink::from_cid(cid);
    for base in [Base::Base32Upper, Base::Base58Btc, Base::Base36Lower] {
        let text = cid.to_string_of_base(base).unwrap();
        let json = json!({ "$link": text });
        let link: CidLink = serde_json::from_value(json.clone()).unwrap();
        assert_eq!(serde_json::to_value(&link).unwrap(), json, "{text}");
        assert_eq!(link.as_str(), text);
        assert_eq!(link.to_string(), text);
        assert!(link.is_valid(), "{text}");
        assert_eq!(link.decode().unwrap(), cid);
        assert_eq!(link, canonical, "{text}");
        assert_eq!(hash_of(&link), hash_of(&canonical), "{text}");
        assert_eq!(cbor::to_vec(&link).unwrap(), link_cbor(&cid), "{text}");
    }

    // A CIDv0 (atproto links are CIDv1) and text that is no CID: read and written back
    // unchanged, reported by check(), never equal to a link that decodes.
    let v0 = cid::Cid::new_v0(cid::multihash::Multihash::wrap(0x12, &[7; 32]).unwrap()).unwrap();
    let qm = v0.to_string();
    assert!(qm.starts_with("Qm"));
    for text in [qm.as_str(), ".", "bafyNOTACID"] {
        let json = json!({ "$link": text });
        let link: CidLink = serde_json::from_value(json.clone()).unwrap();
        assert_eq!(serde_json::to_value(&link).unwrap(), json);
        assert_eq!(link.as_str(), text);
        assert!(!link.is_valid(), "{text}");
        assert!(link.check().is_err(), "{text}");
        assert!(link.decode().is_err(), "{text}");
        assert_ne!(link, canonical);
        assert_eq!(link, link.clone());
        assert_eq!(hash_of(&link), hash_of(&link.clone()));
        assert!(cbor::to_vec(&link).is_err(), "{text}");
    }
    // Links that decode sort before those that do not; those by CID, these by text.
    let mut links = [
        CidLink::new(atproto_api::runtime::Cid::from_unchecked(".")),
        CidLink::from_cid(cid),
        CidLink::new(atproto_api::runtime::Cid::from_unchecked("..")),
    ];
    links.sort();
    assert_eq!(links[0], canonical);
    assert_eq!(links[1].as_str(), ".");

    // A binary CIDv0 is kept too: its text is the Qm... form, equal to that text read from
    // JSON, invalid for atproto like it, and it writes back the bytes it was read from.
    let v0_bytes = link_cbor(&v0);
    let binary_v0: CidLink = cbor::from_slice(&v0_bytes).unwrap();
    assert_eq!(binary_v0.as_str(), qm);
    assert!(!binary_v0.is_valid());
    let text_v0: CidLink = serde_json::from_value(json!({ "$link": qm })).unwrap();
    assert_eq!(binary_v0, text_v0);
    assert_eq!(hash_of(&binary_v0), hash_of(&text_v0));
    assert_eq!(cbor::to_vec(&binary_v0).unwrap(), v0_bytes);
}

#[test]
fn a_record_read_from_dag_cbor_equals_it_read_from_json_and_its_blocks_are_found_by_link() {
    let json = post_with_everything();
    let from_json: post::Record = serde_json::from_value(json.clone()).unwrap();
    let bytes = cbor::to_vec(&from_json).unwrap();
    let from_cbor: post::Record = cbor::from_slice(&bytes).unwrap();
    assert_eq!(from_cbor, from_json);
    assert_eq!(serde_json::to_value(&from_cbor).unwrap(), json);
    assert_eq!(
        cbor::record_cid(&from_cbor).unwrap(),
        cbor::record_cid(&from_json).unwrap()
    );
    assert_eq!(
        cbor::record_cid(&from_json).unwrap().to_string(),
        // As `@ipld/dag-cbor` and `multiformats` compute it from the same data.
        "bafyreihbeakiiruo4clvs2z7lsuqt7nkjbf7gib72dmyulol4gnjz6aoe4",
        "the record CID does not depend on how links are held"
    );

    // A CAR file finds a block by a link in either form.
    let cid = cbor::cid_of(cbor::DAG_CBOR, &bytes);
    let file = car(&[], &[(cid, bytes.clone())]);
    let car = Car::read(&file).unwrap();
    let text = CidLink::try_from(cid.to_string().as_str()).unwrap();
    let binary: CidLink = cbor::from_slice(&link_cbor(&cid)).unwrap();
    assert_eq!(car.get_link(&text), Some(&bytes[..]));
    assert_eq!(car.get_link(&binary), Some(&bytes[..]));
}

#[test]
fn a_link_is_as_small_as_a_string() {
    assert!(std::mem::size_of::<CidLink>() <= std::mem::size_of::<String>());
}

/// Makes event-stream frames with `@ipld/dag-cbor` and `multiformats`, as a PDS does.
fn official_frames() -> Vec<(String, Vec<u8>)> {
    const SCRIPT: &str = r#"
const cbor = require('@ipld/dag-cbor');
const { CID } = require('multiformats/cid');
const link = CID.parse(process.argv[1]);
const frame = (header, body) => Buffer.concat([cbor.encode(header), cbor.encode(body)]).toString('hex');
const time = '2024-06-01T00:00:00.000Z';
const frames = {
  identity: frame({ op: 1, t: '#identity' }, { seq: 7, did: 'did:plc:abc', time, handle: 'alice.test' }),
  account: frame({ op: 1, t: '#account' }, { seq: 8, did: 'did:plc:abc', time, active: false, status: 'takendown' }),
  sync: frame({ op: 1, t: '#sync' }, { seq: 9, did: 'did:plc:abc', blocks: new Uint8Array([1, 2, 3]), rev: '3kabc', time }),
  info: frame({ op: 1, t: '#info' }, { name: 'OutdatedCursor', message: 'too old' }),
  error: frame({ op: -1 }, { error: 'FutureCursor', message: 'cursor in the future' }),
  future: frame({ op: 1, t: '#future' }, { seq: 10, link, raw: new Uint8Array([9]), nested: [{ link }] }),
  labels: frame({ op: 1, t: '#labels' }, { seq: 11, labels: [{ ver: 1, src: 'did:plc:lab', uri: 'at://did:plc:abc', val: 'spam', cts: time }] }),
};
for (const [name, hex] of Object.entries(frames)) console.log(name + ' ' + hex);
"#;
    let output = integration_tests::pds::run_node_script(SCRIPT, &[RECORD_CID])
        .unwrap_or_else(|e| panic!("the official encoder: {e}"));
    output
        .lines()
        .map(|line| {
            let (name, hex) = line.split_once(' ').unwrap();
            let bytes = (0..hex.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
                .collect();
            (name.to_owned(), bytes)
        })
        .collect()
}

#[test]
fn frames_from_the_official_encoder_decode_to_their_types() {
    let frames = official_frames();
    let frame = |name: &str| &frames.iter().find(|(n, _)| n == name).unwrap().1;
    type Read = Frame<Message, StreamError>;

    match Message::read_frame(frame("identity")).unwrap() {
        Read::Message(Message::Identity(identity)) => {
            assert_eq!(identity.seq, 7);
            assert_eq!(
                identity.handle.as_ref().map(|h| h.as_str()),
                Some("alice.test")
            );
        }
        other => panic!("expected #identity, got {other:?}"),
    }
    match Message::read_frame(frame("account")).unwrap() {
        Read::Message(Message::Account(account)) => {
            assert!(!account.active);
            assert_eq!(account.status, Some(AccountStatus::Takendown));
        }
        other => panic!("expected #account, got {other:?}"),
    }
    match Message::read_frame(frame("sync")).unwrap() {
        Read::Message(Message::Sync(sync)) => assert_eq!(sync.blocks.as_slice(), &[1, 2, 3]),
        other => panic!("expected #sync, got {other:?}"),
    }
    match Message::read_frame(frame("info")).unwrap() {
        Read::Message(Message::Info(info)) => assert_eq!(info.message.as_deref(), Some("too old")),
        other => panic!("expected #info, got {other:?}"),
    }
    match Message::read_frame(frame("error")).unwrap() {
        Read::Error(StreamError::FutureCursor { message }) => {
            assert_eq!(message.as_deref(), Some("cursor in the future"));
        }
        other => panic!("expected the FutureCursor error, got {other:?}"),
    }
    // A type this version does not know: kept whole, links and bytes included.
    match Message::read_frame(frame("future")).unwrap() {
        Read::Unknown { t, body } => {
            assert_eq!(t, "#future");
            assert_eq!(
                serde_json::to_value(&body).unwrap(),
                json!({ "seq": 10, "link": { "$link": RECORD_CID }, "raw": { "$bytes": "CQ" }, "nested": [{ "link": { "$link": RECORD_CID } }] })
            );
        }
        other => panic!("expected an unknown message, got {other:?}"),
    }
    // A label stream's frame read by the repository stream is unknown there, not a failure;
    // read by the label stream, it is its typed labels.
    assert!(matches!(
        Message::read_frame(frame("labels")).unwrap(),
        Read::Unknown { .. }
    ));
    use atproto_api::com::atproto::label::subscribe_labels;
    match subscribe_labels::Message::read_frame(frame("labels")).unwrap() {
        Frame::Message(subscribe_labels::Message::Labels(labels)) => {
            assert_eq!(labels.seq, 11);
            assert_eq!(labels.labels[0].val, "spam");
            assert_eq!(labels.labels[0].src.as_str(), "did:plc:lab");
        }
        other => panic!("expected labels, got {other:?}"),
    }
}

#[test]
fn bad_frames_are_errors_for_that_frame() {
    let frames = official_frames();
    let identity = frames
        .iter()
        .find(|(n, _)| n == "identity")
        .unwrap()
        .1
        .clone();
    // Every truncation of a good frame is an error, never a panic.
    for len in 0..identity.len() {
        assert!(
            Message::read_frame(&identity[..len]).is_err(),
            "{len} bytes read"
        );
    }
    // Trailing bytes after the body.
    let mut long = identity.clone();
    long.push(0);
    assert!(Message::read_frame(&long).is_err());
    // A message header without `t`.
    let mut no_t = cbor::to_vec(&json!({ "op": 1 })).unwrap();
    no_t.extend(cbor::to_vec(&json!({ "seq": 1 })).unwrap());
    let error = Message::read_frame(&no_t).unwrap_err();
    assert!(error.to_string().contains("without `t`"), "{error}");
    // A known type with a body that is not that type.
    let mut bad = cbor::to_vec(&json!({ "op": 1, "t": "#identity" })).unwrap();
    bad.extend(cbor::to_vec(&json!({ "seq": "seven" })).unwrap());
    assert!(Message::read_frame(&bad).is_err());
    // Oversized.
    let huge = vec![0u8; cbor::MAX_FRAME + 1];
    assert!(
        Message::read_frame(&huge)
            .unwrap_err()
            .to_string()
            .contains("more than")
    );
}

/// A CAR file: a varint-prefixed header, then varint-prefixed (CID, bytes) blocks.
fn car(roots: &[&str], blocks: &[(atproto_api::runtime::cid::Cid, Vec<u8>)]) -> Vec<u8> {
    fn varint(mut n: usize, out: &mut Vec<u8>) {
        loop {
            let byte = (n & 0x7f) as u8;
            n >>= 7;
            if n == 0 {
                out.push(byte);
                return;
            }
            out.push(byte | 0x80);
        }
    }
    let roots: Vec<Value> = roots.iter().map(|r| json!({ "$link": r })).collect();
    let header =
        cbor::to_vec(&Unknown::try_from(json!({ "version": 1, "roots": roots })).unwrap()).unwrap();
    let mut out = Vec::new();
    varint(header.len(), &mut out);
    out.extend(header);
    for (cid, bytes) in blocks {
        let cid = cid.to_bytes();
        varint(cid.len() + bytes.len(), &mut out);
        out.extend(cid);
        out.extend(bytes);
    }
    out
}

#[test]
fn car_blocks_are_checked_against_their_cids() {
    let record: post::Record = serde_json::from_value(json!({
        "$type": "app.bsky.feed.post", "text": "in a car", "createdAt": "2024-05-01T12:00:00.000Z"
    }))
    .unwrap();
    let bytes = cbor::to_vec(&record).unwrap();
    let cid = cbor::cid_of(cbor::DAG_CBOR, &bytes);
    let raw = b"raw blob bytes".to_vec();
    let raw_cid = cbor::cid_of(cbor::RAW, &raw);
    let file = car(
        &[&cid.to_string()],
        &[(cid, bytes.clone()), (raw_cid, raw.clone())],
    );

    let read = Car::read(&file).unwrap();
    assert_eq!(read.roots, vec![cid]);
    assert_eq!(read.len(), 2);
    assert_eq!(read.get(&raw_cid), Some(&raw[..]));
    let back: post::Record = read.read_block(&cid).unwrap().unwrap();
    assert_eq!(back, record);

    // One changed byte in a block: an error naming that block.
    let mut tampered = file.clone();
    let at = tampered.len() - 1;
    tampered[at] ^= 1;
    let error = Car::read(&tampered).unwrap_err().to_string();
    assert!(error.contains(&raw_cid.to_string()), "{error}");
    // Every truncation is an error, never a panic.
    for len in 0..file.len() {
        if len == 0 {
            continue;
        }
        let _ = Car::read(&file[..len]);
    }
    assert!(Car::read(&file[..file.len() - 3]).is_err());
    assert!(Car::read(&[]).is_err());
}

#[test]
fn any_record_reads_by_collection_and_keeps_other_collections_whole() {
    use atproto_api::AnyRecord;
    let post = post_with_everything();
    let bytes = cbor::to_vec(&Unknown::try_from(post.clone()).unwrap()).unwrap();
    match AnyRecord::from_cbor("app.bsky.feed.post", &bytes).unwrap() {
        AnyRecord::AppBskyFeedPost(record) => assert_eq!(record.text, "links and bytes"),
        other => panic!("expected a post, got {other:?}"),
    }
    let other = json!({ "$type": "com.example.thing", "n": 1, "l": { "$link": RECORD_CID } });
    let bytes = cbor::to_vec(&Unknown::try_from(other.clone()).unwrap()).unwrap();
    let read = AnyRecord::from_cbor("com.example.thing", &bytes).unwrap();
    assert_eq!(read.collection(), None);
    assert_eq!(serde_json::to_value(&read).unwrap(), other);
    assert_eq!(
        cbor::to_vec(&read).unwrap(),
        bytes,
        "kept whole, byte for byte"
    );
    // A known collection whose record does not read is an error, not `Unknown`.
    let broken = cbor::to_vec(&Unknown::try_from(json!({ "text": 5 })).unwrap()).unwrap();
    assert!(AnyRecord::from_cbor("app.bsky.feed.post", &broken).is_err());
    let like = AnyRecord::from_json(
        "app.bsky.feed.like",
        json!({ "$type": "app.bsky.feed.like", "subject": { "uri": "at://did:plc:abc/app.bsky.feed.post/3k", "cid": RECORD_CID }, "createdAt": "2024-05-01T12:00:00.000Z" }),
    )
    .unwrap();
    assert_eq!(like.collection(), Some("app.bsky.feed.like"));
}

/// A block of the data model's JSON form, as DAG-CBOR with its CID.
fn block(value: Value) -> (atproto_api::runtime::cid::Cid, Vec<u8>) {
    let bytes = cbor::to_vec(&Unknown::try_from(value).unwrap()).unwrap();
    (cbor::cid_of(cbor::DAG_CBOR, &bytes), bytes)
}

/// A tree entry: prefix length, key suffix, record, right subtree.
fn entry(p: usize, suffix: &str, v: &Cid, t: Option<&Cid>) -> Value {
    let k = serde_json::to_value(Bytes::new(suffix.as_bytes())).unwrap();
    json!({ "p": p, "k": k, "v": { "$link": v.to_string() },
            "t": t.map(|t| json!({ "$link": t.to_string() })) })
}

type Cid = atproto_api::runtime::cid::Cid;

/// The commit and the CAR file of a repository whose tree root is `root`, the other blocks in
/// the order given (the PDS sends them in an order unrelated to the tree).
fn repo_file(root: &(Cid, Vec<u8>), mut blocks: Vec<(Cid, Vec<u8>)>) -> Vec<u8> {
    let commit = block(json!({
        "did": "did:plc:abc", "version": 3, "data": { "$link": root.0.to_string() },
        "rev": "3kaaaaaaaaaaa", "prev": null, "sig": { "$bytes": "AAAA" }
    }));
    blocks.insert(blocks.len() / 2, commit.clone());
    blocks.push(root.clone());
    car(&[&commit.0.to_string()], &blocks)
}

/// A small repository: a root node with a left subtree (its entries made by `left`, from the
/// record CIDs) and one entry whose right subtree holds the last record, keys written with
/// shared prefixes as the tree stores them. Returns the file and the keys with their record
/// CIDs in key order; `without` leaves one record block out.
fn small_repo(
    left: fn(&[Cid]) -> Vec<Value>,
    without: Option<usize>,
) -> (Vec<u8>, Vec<(String, Cid)>) {
    let mut records = Vec::new();
    let mut keys = Vec::new();
    for (i, rkey) in ["3kaa", "3kab", "3kac", "3kad"].iter().enumerate() {
        let (cid, bytes) = block(json!({
            "$type": "app.bsky.feed.post", "text": format!("post {i}"),
            "createdAt": "2024-05-01T12:00:00.000Z"
        }));
        keys.push((format!("app.bsky.feed.post/{rkey}"), cid));
        if without != Some(i) {
            records.push((cid, bytes));
        }
    }
    let c: Vec<Cid> = keys.iter().map(|(_, cid)| *cid).collect();
    let left = block(json!({ "l": null, "e": left(&c) }));
    let right =
        block(json!({ "l": null, "e": [entry(0, "app.bsky.feed.post/3kad", &c[3], None)] }));
    let root = block(json!({ "l": { "$link": left.0.to_string() }, "e": [
        entry(0, "app.bsky.feed.post/3kac", &c[2], Some(&right.0)),
    ]}));
    records.extend([right, left]);
    records.reverse();
    (repo_file(&root, records), keys)
}

/// The left subtree of a well-formed [`small_repo`]: `3kab` written as 22 bytes of `3kaa` and `b`.
fn in_order(c: &[Cid]) -> Vec<Value> {
    vec![
        entry(0, "app.bsky.feed.post/3kaa", &c[0], None),
        entry(22, "b", &c[1], None),
    ]
}

type Keys = Result<Vec<(String, Cid)>, String>;

/// The keys a file walks to, read in memory ([`Car`]) and from a reader ([`CarFile`]).
fn read_both(file: &[u8]) -> [Keys; 2] {
    fn keys<B>(record: RepoRecord<B>) -> (String, Cid) {
        (record.key, record.cid)
    }
    let in_memory = Car::read(file)
        .and_then(|car| car.repo_records())
        .map(|records| records.into_iter().map(keys).collect())
        .map_err(|e| e.to_string());
    let from_reader = CarFile::open(std::io::Cursor::new(file))
        .and_then(|mut car| car.repo_records()?.map(|r| r.map(keys)).collect())
        .map_err(|e| e.to_string());
    [in_memory, from_reader]
}

#[test]
fn a_repository_walks_to_every_record_in_key_order_from_memory_and_from_a_reader() {
    let (file, keys) = small_repo(in_order, None);
    for read in read_both(&file) {
        assert_eq!(read.unwrap(), keys);
    }
    let mut car = CarFile::open(std::io::Cursor::new(&file)).unwrap();
    assert_eq!(car.len(), 8);
    let records: Vec<_> = car.repo_records().unwrap().map(Result::unwrap).collect();
    for (i, record) in records.iter().enumerate() {
        assert_eq!(record.collection(), "app.bsky.feed.post");
        match atproto_api::AnyRecord::from_cbor(record.collection(), &record.bytes).unwrap() {
            atproto_api::AnyRecord::AppBskyFeedPost(post) => {
                assert_eq!(post.text, format!("post {i}"))
            }
            other => panic!("expected a post, got {other:?}"),
        }
    }
}

#[test]
fn a_broken_repository_is_an_error_that_says_what_is_wrong() {
    let expect = |file: &[u8], words: &[&str]| {
        for read in read_both(file) {
            let error = read.unwrap_err();
            assert!(words.iter().all(|w| error.contains(w)), "{error}");
        }
    };
    // A record block the tree points to is not in the file.
    let (file, keys) = small_repo(in_order, Some(1));
    expect(&file, &["missing", &keys[1].1.to_string(), &keys[1].0]);
    // Keys out of order, which is also what a subtree linked twice looks like: refused, so a
    // hostile file cannot make the walk repeat itself.
    let (file, _) = small_repo(
        |c| {
            vec![
                entry(0, "app.bsky.feed.post/3kab", &c[1], None),
                entry(0, "app.bsky.feed.post/3kaa", &c[0], None),
            ]
        },
        None,
    );
    expect(&file, &["out of order", "app.bsky.feed.post/3kaa"]);
    // A prefix longer than the key before it.
    let (file, _) = small_repo(|c| vec![entry(30, "x", &c[0], None)], None);
    expect(&file, &["prefix longer"]);
    // A tree 100 levels deep (each node's left subtree the next).
    let (leaf_record, leaf_bytes) = block(json!({ "text": "deep" }));
    let mut blocks = vec![(leaf_record, leaf_bytes)];
    let mut node = block(json!({ "l": null, "e": [entry(0, "a/b", &leaf_record, None)] }));
    for _ in 0..100 {
        blocks.push(node.clone());
        node = block(json!({ "l": { "$link": node.0.to_string() }, "e": [] }));
    }
    expect(&repo_file(&node, blocks), &["too deep"]);
    // A file that is no repository.
    let (cid, bytes) = block(json!({ "text": "not a commit" }));
    expect(
        &car(&[&cid.to_string()], &[(cid, bytes)]),
        &["commit block"],
    );
}

#[test]
fn a_car_file_from_a_reader_refuses_truncation_tampering_and_huge_lengths() {
    let (file, _) = small_repo(in_order, None);
    // Cut anywhere: an error when opening, or (cut between blocks, which leaves a valid CAR
    // file) when walking, since the tree's root is the last block.
    for len in 0..file.len() - 1 {
        let walked = CarFile::open(std::io::Cursor::new(&file[..len]))
            .and_then(|mut car| car.repo_records()?.collect::<Result<Vec<_>, _>>());
        assert!(walked.is_err(), "cut at {len}");
    }
    let mut tampered = file.clone();
    let at = tampered.len() - 1;
    tampered[at] ^= 1;
    let error = CarFile::open(std::io::Cursor::new(&tampered))
        .unwrap_err()
        .to_string();
    assert!(error.contains("hash to"), "{error}");
    // A length of 2^62 after the header: refused before anything is allocated for it.
    let header_len = file[0] as usize + 1;
    let mut huge = file[..header_len].to_vec();
    huge.extend([0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x40]);
    let error = CarFile::open(std::io::Cursor::new(&huge))
        .unwrap_err()
        .to_string();
    assert!(error.contains("more than the"), "{error}");
}
