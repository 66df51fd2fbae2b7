//! What a firehose consumer does with a frame, twice: with our generated types and with the
//! generic `ipld_core::ipld::Ipld` value of `serde_ipld_dagcbor`. The frames bench times these
//! functions side by side; `perf-profile frames ...` runs them under a profiler.
//!
//! Both sides do the same work on the same bytes:
//! - frame: read the header and the body, two DAG-CBOR values back to back, and check that
//!   nothing follows them;
//! - records (an indexer): the frame, then the commit's CAR slice split into blocks, every
//!   block's SHA-256 checked against its CID and the blocks indexed by CID in a `HashMap`, then
//!   each created or updated record (an op with a `cid`) looked up and decoded. Ours decodes it
//!   into its typed record by the collection in the op's path; the baseline into an `Ipld`.

use atproto_api::AnyRecord;
use atproto_api::com::atproto::sync::subscribe_repos::{Error, Message};
use atproto_api::runtime::car::Car;
use atproto_api::runtime::cbor::Frame;
use ipld_core::cid::Cid;
use ipld_core::ipld::Ipld;
use serde::Deserialize as _;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::hint::black_box;

/// A way to decode a frame, by its benchmark name.
pub type Decoder = (&'static str, fn(&[u8]));

/// The frame group's decoders, the baseline first.
pub const FRAME: &[Decoder] = &[
    ("ipld", |f| drop(black_box(ipld_frame(f).unwrap()))),
    ("ours_typed", |f| drop(black_box(typed_frame(f).unwrap()))),
];

/// The records group's decoders, the baseline first.
pub const RECORDS: &[Decoder] = &[
    ("ipld", |f| {
        black_box(ipld_records(f).unwrap());
    }),
    ("ipld_our_car", |f| {
        black_box(ipld_records_our_car(f).unwrap());
    }),
    ("ours_typed", |f| {
        black_box(typed_records(f).unwrap());
    }),
];

/// A frame read with our types.
pub type TypedFrame = Frame<Message, Error>;

/// Ours, frame only: the typed message.
pub fn typed_frame(frame: &[u8]) -> Result<TypedFrame, String> {
    Message::read_frame(frame).map_err(|e| e.to_string())
}

/// Ours, frame and records: the typed message, its CAR slice (`Car::read` checks every block)
/// and its created and updated records as typed records. Returns how many records it read.
pub fn typed_records(frame: &[u8]) -> Result<usize, String> {
    let Frame::Message(Message::Commit(commit)) = typed_frame(frame)? else {
        return Ok(0);
    };
    let car = Car::read(commit.blocks.as_slice()).map_err(|e| e.to_string())?;
    let mut records = 0;
    for op in &commit.ops {
        let Some(cid) = &op.cid else { continue };
        let collection = op.path.split_once('/').map_or(&op.path[..], |(c, _)| c);
        let bytes = car
            .get_link(cid)
            .ok_or_else(|| format!("{}: no block {cid}", op.path))?;
        let record = AnyRecord::from_cbor(collection, bytes).map_err(|e| e.to_string())?;
        black_box(&record);
        records += 1;
    }
    Ok(records)
}

/// The baseline, frame only: the header and the body as two `Ipld` values.
pub fn ipld_frame(frame: &[u8]) -> Result<(Ipld, Ipld), String> {
    let mut de = serde_ipld_dagcbor::de::Deserializer::from_slice(frame);
    let header = Ipld::deserialize(&mut de).map_err(|e| e.to_string())?;
    let body = Ipld::deserialize(&mut de).map_err(|e| e.to_string())?;
    de.end().map_err(|e| e.to_string())?;
    Ok((header, body))
}

/// The baseline, frame and records: the `Ipld` frame, its CAR slice read by
/// [`IpldCar::read`] (the same checks as ours) and each created or updated record as an
/// `Ipld`. Returns how many records it read.
pub fn ipld_records(frame: &[u8]) -> Result<usize, String> {
    let (header, body) = ipld_frame(frame)?;
    if !matches!(field(&header, "t"), Some(Ipld::String(t)) if t == "#commit") {
        return Ok(0);
    }
    let Some(Ipld::Bytes(blocks)) = field(&body, "blocks") else {
        return Err("a commit without blocks".into());
    };
    let car = IpldCar::read(blocks)?;
    ipld_ops_records(&body, |cid| car.blocks.get(cid).copied())
}

/// The baseline with our CAR reader: the `Ipld` frame and records, the blocks split by
/// `Car::read`. Shows how much of a difference is the CAR reader's.
pub fn ipld_records_our_car(frame: &[u8]) -> Result<usize, String> {
    let (header, body) = ipld_frame(frame)?;
    if !matches!(field(&header, "t"), Some(Ipld::String(t)) if t == "#commit") {
        return Ok(0);
    }
    let Some(Ipld::Bytes(blocks)) = field(&body, "blocks") else {
        return Err("a commit without blocks".into());
    };
    let car = Car::read(blocks).map_err(|e| e.to_string())?;
    ipld_ops_records(&body, |cid| car.get(cid))
}

fn ipld_ops_records<'a>(
    body: &Ipld,
    block: impl Fn(&Cid) -> Option<&'a [u8]>,
) -> Result<usize, String> {
    let Some(Ipld::List(ops)) = field(body, "ops") else {
        return Err("a commit without ops".into());
    };
    let mut records = 0;
    for op in ops {
        let Some(Ipld::Link(cid)) = field(op, "cid") else {
            continue;
        };
        let bytes = block(cid).ok_or_else(|| format!("no block {cid}"))?;
        let record: Ipld = serde_ipld_dagcbor::from_slice(bytes).map_err(|e| e.to_string())?;
        black_box(&record);
        records += 1;
    }
    Ok(records)
}

/// A field of a map (`Ipld::get` would allocate the key).
fn field<'v>(value: &'v Ipld, key: &str) -> Option<&'v Ipld> {
    match value {
        Ipld::Map(map) => map.get(key),
        _ => None,
    }
}

/// A CAR v1 slice read the way [`Car::read`] reads it, for the baseline: the header as an
/// `Ipld` (version 1, its roots), then each block's varint length and CID, its bytes hashed with
/// SHA-256 and compared with the CID's digest, and the blocks indexed by CID.
pub struct IpldCar<'a> {
    pub roots: Vec<Cid>,
    pub blocks: HashMap<Cid, &'a [u8]>,
}

impl<'a> IpldCar<'a> {
    pub fn read(mut input: &'a [u8]) -> Result<IpldCar<'a>, String> {
        let header: Ipld =
            serde_ipld_dagcbor::from_slice(section(&mut input)?).map_err(|e| e.to_string())?;
        if field(&header, "version") != Some(&Ipld::Integer(1)) {
            return Err("not a CAR v1 header".into());
        }
        let Some(Ipld::List(roots)) = field(&header, "roots") else {
            return Err("a CAR header without roots".into());
        };
        let roots = roots
            .iter()
            .map(|root| match root {
                Ipld::Link(cid) => Ok(*cid),
                _ => Err("a root that is not a link".to_owned()),
            })
            .collect::<Result<_, _>>()?;
        let mut blocks = HashMap::new();
        while !input.is_empty() {
            let mut block = section(&mut input)?;
            let cid = Cid::read_bytes(&mut block).map_err(|e| e.to_string())?;
            if cid.hash().code() != 0x12 || Sha256::digest(block)[..] != *cid.hash().digest() {
                return Err(format!("block {cid}: its bytes do not match"));
            }
            blocks.insert(cid, block);
        }
        Ok(IpldCar { roots, blocks })
    }
}

/// A varint length and the bytes after it.
fn section<'a>(input: &mut &'a [u8]) -> Result<&'a [u8], String> {
    let mut len = 0usize;
    let mut shift = 0;
    loop {
        let (&byte, rest) = input.split_first().ok_or("a truncated length")?;
        *input = rest;
        len |= usize::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            break;
        }
        shift += 7;
        if shift > 56 {
            return Err("a length too long".into());
        }
    }
    if len > input.len() {
        return Err("a truncated section".into());
    }
    let (section, rest) = input.split_at(len);
    *input = rest;
    Ok(section)
}

/// Before timing: every frame reads both ways, every `#commit`'s CAR slice reads (every block
/// matches its CID) with the commit as its root, and every created or updated record is in it
/// and reads as its typed record (not kept whole as unknown). Returns the number of records.
pub fn check(frames: &[Vec<u8>]) -> Result<usize, String> {
    let mut total = 0;
    for (i, frame) in frames.iter().enumerate() {
        let at = |e: String| format!("frame {i}: {e}");
        let typed = typed_frame(frame).map_err(at)?;
        let (header, _) = ipld_frame(frame).map_err(at)?;
        let message = match typed {
            Frame::Message(message) => message,
            other => return Err(at(format!("not a message: {other:?}"))),
        };
        let t = match &message {
            Message::Commit(_) => "#commit",
            Message::Identity(_) => "#identity",
            Message::Account(_) => "#account",
            other => return Err(at(format!("an unexpected message: {other:?}"))),
        };
        if !matches!(field(&header, "t"), Some(Ipld::String(s)) if s == t) {
            return Err(at(format!("header {header:?}, read as {t}")));
        }
        let Message::Commit(commit) = message else {
            continue;
        };
        let car = Car::read(commit.blocks.as_slice()).map_err(|e| at(e.to_string()))?;
        let root = commit
            .commit
            .cid()
            .decode()
            .map_err(|e| at(e.to_string()))?;
        if car.roots != [root] {
            return Err(at("the CAR root is not the commit".into()));
        }
        car.get(&root).ok_or_else(|| at("no commit block".into()))?;
        let mut records = 0;
        for op in &commit.ops {
            let Some(cid) = &op.cid else { continue };
            let collection = op.path.split_once('/').map_or(&op.path[..], |(c, _)| c);
            let bytes = car
                .get_link(cid)
                .ok_or_else(|| at(format!("{}: no block", op.path)))?;
            let record = AnyRecord::from_cbor(collection, bytes)
                .map_err(|e| at(format!("{}: {e}", op.path)))?;
            if record.collection() != Some(collection) {
                return Err(at(format!("{}: read as {record:?}", op.path)));
            }
            records += 1;
        }
        let counted = (
            typed_records(frame).map_err(at)?,
            ipld_records(frame).map_err(at)?,
            ipld_records_our_car(frame).map_err(at)?,
        );
        if counted != (records, records, records) {
            return Err(at(format!("{records} records, read {counted:?}")));
        }
        total += records;
    }
    Ok(total)
}
