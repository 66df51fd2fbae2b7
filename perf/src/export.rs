//! A large repository export, as `com.atproto.sync.getRepo` sends it: a CAR v1 file whose root
//! is the signed commit (`{did, version: 3, data, rev, prev: null, sig}`), then every tree node
//! and every record block of the repository, made by the same seeded PRNG, records and Merkle
//! search tree builder as [`crate::firehose`].
//!
//! One account's history over three years: about half likes, a quarter posts (of
//! [`crate::data::posts`]' kind), follows and reposts, and one profile, keyed by the TID of the
//! time each was made. The blocks come in the official PDS's order, which has nothing to do
//! with the tree: by the revision that wrote the block, newest first, then by CID text,
//! descending. A record's revision is its creation; a tree node's is the newest record below
//! it (the last commit that rewrote it); the commit's is the newest of all.

use crate::data::Gen;
use crate::firehose::{
    FOLLOW, LIKE, Leaf, Nodes, POST, PROFILE_KEY, REPOST, START_MICROS, car_section, cid_of,
    encode, follow, layer, like, map, post, profile, text, tid,
};
use ipld_core::cid::Cid;
use ipld_core::ipld::Ipld;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

/// The sizes the repository bench reads, in records.
pub const SIZES: &[usize] = &[10_000, 100_000, 300_000];

/// An export and what it holds.
pub struct Export {
    pub car: Vec<u8>,
    pub stats: serde_json::Value,
}

/// The export of a repository of `records` records (the profile included).
pub fn build(records: usize) -> Export {
    assert!(
        records >= 2,
        "a repository of at least a profile and one record"
    );
    let mut g = Gen::new(0x5eed_0004 ^ records as u64);
    let clock = g.rng.below(1024);
    let did = g.did();
    let span = 3 * 365 * 86_400 * 1_000_000;
    // Every record block by CID: the revision (time) that wrote it and its bytes.
    let mut blocks: HashMap<Cid, (u64, Vec<u8>)> = HashMap::new();
    let mut leaves: BTreeMap<String, Leaf> = BTreeMap::new();
    let mut collections: BTreeMap<&str, usize> = BTreeMap::new();
    let profile_micros = START_MICROS - g.rng.range(60_000_000, span);
    let record = profile(&mut g);
    add(
        &mut leaves,
        &mut blocks,
        PROFILE_KEY.to_owned(),
        profile_micros,
        &record,
    );
    collections.insert("app.bsky.actor.profile", 1);
    while leaves.len() < records {
        let collection = match g.rng.below(100) {
            0..=49 => LIKE,
            50..=74 => POST,
            75..=89 => FOLLOW,
            _ => REPOST,
        };
        let micros = START_MICROS - g.rng.range(60_000_000, span);
        let key = format!("{collection}/{}", tid(micros, clock));
        if leaves.contains_key(&key) {
            continue;
        }
        let record = match collection {
            POST => post(&mut g, micros),
            FOLLOW => follow(&mut g, micros),
            _ => like(&mut g, micros, collection),
        };
        add(&mut leaves, &mut blocks, key, micros, &record);
        *collections.entry(collection).or_default() += 1;
    }
    let mut nodes = Nodes::default();
    let tree = nodes.tree(&leaves);
    let mut revs = HashMap::new();
    let newest = node_rev(&nodes, &blocks, tree.root, &mut revs);
    let sig: Vec<u8> = (0..64).map(|_| g.rng.below(256) as u8).collect();
    let commit = encode(&map([
        ("did", text(&did)),
        ("version", Ipld::Integer(3)),
        ("data", Ipld::Link(tree.root)),
        ("rev", text(tid(newest, clock))),
        ("prev", Ipld::Null),
        ("sig", Ipld::Bytes(sig)),
    ]));
    let commit_cid = cid_of(&commit);

    // Every block with its revision, in the PDS's order.
    let mut all: Vec<(u64, String, Cid, &[u8])> = Vec::with_capacity(blocks.len() + revs.len());
    all.push((newest, commit_cid.to_string(), commit_cid, &commit));
    for cid in &tree.nodes {
        all.push((revs[cid], cid.to_string(), *cid, &nodes.bytes[cid]));
    }
    let node_bytes: usize = all[1..].iter().map(|b| b.3.len()).sum();
    for (cid, (micros, bytes)) in &blocks {
        all.push((*micros, cid.to_string(), *cid, bytes));
    }
    let record_bytes: usize = blocks.values().map(|(_, b)| b.len()).sum();
    all.sort_unstable_by(|a, b| (b.0, &b.1).cmp(&(a.0, &a.1)));
    let mut car = Vec::with_capacity(record_bytes + node_bytes + 64 * all.len());
    let header = encode(&map([
        ("version", Ipld::Integer(1)),
        ("roots", Ipld::List(vec![Ipld::Link(commit_cid)])),
    ]));
    car_section(&mut car, &[&header]);
    for (_, _, cid, bytes) in &all {
        car_section(&mut car, &[&cid.to_bytes(), bytes]);
    }

    // What a complete walk must find: every key and its CID, in key order.
    let mut keys = Sha256::new();
    for (key, leaf) in &leaves {
        keys.update(key.as_bytes());
        keys.update([0]);
        keys.update(leaf.cid.to_bytes());
    }
    let stats = serde_json::json!({
        "records": leaves.len(),
        "record_blocks": blocks.len(),
        "record_bytes": record_bytes,
        "node_blocks": tree.nodes.len(),
        "node_bytes": node_bytes,
        "blocks": all.len(),
        "bytes": car.len(),
        "levels": tree.levels,
        "entries_per_node": tree.entries as f64 / tree.nodes.len() as f64,
        "collections": collections,
        "keys_sha256": hex(&keys.finalize()),
    });
    Export { car, stats }
}

/// Puts a record in the tree and its block with the others, keeping the newest revision of a
/// block two records share.
fn add(
    leaves: &mut BTreeMap<String, Leaf>,
    blocks: &mut HashMap<Cid, (u64, Vec<u8>)>,
    key: String,
    micros: u64,
    record: &Ipld,
) {
    let bytes = encode(record);
    let cid = cid_of(&bytes);
    let leaf = Leaf {
        layer: layer(&key),
        cid,
    };
    leaves.insert(key, leaf);
    let block = blocks.entry(cid).or_insert((micros, bytes));
    block.0 = block.0.max(micros);
}

/// The revision of the tree node `cid`: the newest record below it.
fn node_rev(
    nodes: &Nodes,
    records: &HashMap<Cid, (u64, Vec<u8>)>,
    cid: Cid,
    revs: &mut HashMap<Cid, u64>,
) -> u64 {
    if let Some(rev) = revs.get(&cid) {
        return *rev;
    }
    let node: Ipld = serde_ipld_dagcbor::from_slice(&nodes.bytes[&cid]).expect("a node we wrote");
    let field = |value: &Ipld, key: &str| match value {
        Ipld::Map(fields) => fields.get(key).cloned(),
        _ => None,
    };
    let mut rev = 0;
    let mut links = vec![field(&node, "l")];
    if let Some(Ipld::List(entries)) = field(&node, "e") {
        for entry in &entries {
            links.push(field(entry, "t"));
            if let Some(Ipld::Link(value)) = field(entry, "v") {
                rev = rev.max(records[&value].0);
            }
        }
    }
    for link in links {
        if let Some(Ipld::Link(child)) = link {
            rev = rev.max(node_rev(nodes, records, child, revs));
        }
    }
    revs.insert(cid, rev);
    rev
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The export of `records` records in `dir` (`repo-N.car`, and `repo-N.json` describing it),
/// made the first time and reused after. Returns the file and its description.
pub fn ensure(dir: &Path, records: usize) -> std::io::Result<(PathBuf, serde_json::Value)> {
    let car = dir.join(format!("repo-{records}.car"));
    let description = dir.join(format!("repo-{records}.json"));
    if car.is_file()
        && let Ok(text) = std::fs::read_to_string(&description)
        && let Ok(stats) = serde_json::from_str(&text)
    {
        return Ok((car, stats));
    }
    std::fs::create_dir_all(dir)?;
    let export = build(records);
    // The CAR file appears last, complete: a run cut short leaves nothing to reuse.
    let partial = dir.join(format!("repo-{records}.car.partial"));
    std::fs::write(&partial, &export.car)?;
    std::fs::write(&description, export.stats.to_string())?;
    std::fs::rename(&partial, &car)?;
    Ok((car, export.stats))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The export reads as a CAR file with the commit at its root, every block once, and
    /// blocks in the PDS's order rather than the tree's.
    #[test]
    fn export_is_a_getrepo_car() {
        let export = build(2_000);
        let car = crate::indexer::IpldCar::read(&export.car).unwrap();
        assert_eq!(export.stats["blocks"], car.blocks.len());
        assert_eq!(export.stats["records"], 2_000);
        let commit: Ipld = serde_ipld_dagcbor::from_slice(car.blocks[&car.roots[0]]).unwrap();
        let Ipld::Map(commit) = commit else {
            panic!("the root is not a map")
        };
        assert_eq!(commit["version"], Ipld::Integer(3));
        assert_eq!(commit["prev"], Ipld::Null);
        assert!(matches!(commit["data"], Ipld::Link(_)));
        assert!(matches!(&commit["sig"], Ipld::Bytes(sig) if sig.len() == 64));
    }

    /// Records come newest first, with the tree nodes among them, not tree-first.
    #[test]
    fn blocks_in_the_pds_order() {
        let export = build(2_000);
        let car = atproto_api::runtime::car::Car::read(&export.car).unwrap();
        let (mut last, mut records, mut nodes_after_records) = (None::<String>, 0, 0);
        for (_, bytes) in car.blocks() {
            let Ipld::Map(block) = serde_ipld_dagcbor::from_slice(bytes).unwrap() else {
                panic!("a block that is not a map")
            };
            if block.contains_key("e") {
                nodes_after_records += usize::from(records > 0);
            } else if let Some(Ipld::String(created)) = block.get("createdAt") {
                // The profile's `createdAt` is older than its last update, which placed it.
                if block.get("$type") != Some(&text("app.bsky.actor.profile")) {
                    assert!(last.is_none_or(|last| last >= *created));
                    last = Some(created.clone());
                }
                records += 1;
            }
        }
        assert_eq!(records, 2_000);
        assert!(nodes_after_records > 100, "{nodes_after_records}");
    }

    #[test]
    fn deterministic() {
        assert_eq!(build(300).car, build(300).car);
    }
}
