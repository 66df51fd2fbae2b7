//! Firehose test data: `com.atproto.sync.subscribeRepos` frames as a PDS sends them, made by a
//! seeded PRNG (the same bytes on every run).
//!
//! A few repositories of a few thousand records each are built first (their old records are
//! only CIDs: no frame carries them). Then each `#commit` applies one to a few ops (posts,
//! likes, reposts, follows, profile updates, deletes) to one repository, rebuilds its Merkle
//! search tree and sends what a PDS sends: the ops, and a CAR v1 slice whose root is the signed
//! commit object, with the new records and every tree node that the change made new (the path
//! from the root to each changed key, and any node a split or merge produced). A few
//! `#identity` and `#account` frames are mixed in. The tree builder and the records serve the
//! repository export too ([`crate::export`]).
//!
//! Everything is encoded as generic [`Ipld`] values with `serde_ipld_dagcbor`, not with the
//! generated types, so the bench does not read back what its own writer wrote.

use crate::data::{DISPLAY, Gen, NAMES, TID_CHARS, format_datetime};
use ipld_core::cid::Cid;
use ipld_core::cid::multihash::Multihash;
use ipld_core::ipld::Ipld;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Write as _;

/// The number of frames in [`frames`].
pub const FRAMES: usize = 2000;
/// Repositories the commits are spread over.
const REPOS: usize = 16;
/// The multicodec of DAG-CBOR blocks (records, tree nodes, commits).
const DAG_CBOR: u64 = 0x71;
/// The multihash code of SHA-256.
const SHA2_256: u64 = 0x12;
/// The first `seq`: the size of the real firehose's sequence numbers.
const FIRST_SEQ: i128 = 9_200_000_000;
/// "Now" at the first frame, in microseconds (2026-11-30T12:00:00Z).
pub(crate) const START_MICROS: u64 = 1_795_089_600_000_000;

/// The frames, ready to decode, and what they hold.
pub struct Firehose {
    pub frames: Vec<Vec<u8>>,
    pub stats: Stats,
}

/// What the mix holds, for the report.
#[derive(Debug, Default)]
pub struct Stats {
    pub commits: usize,
    pub identity: usize,
    pub account: usize,
    /// Ops by `action collection`.
    pub ops: BTreeMap<String, usize>,
    /// Commits by number of ops.
    pub ops_per_commit: BTreeMap<usize, usize>,
    /// Byte sizes of the `#commit` frames.
    pub commit_sizes: Vec<usize>,
    /// Bytes of all frames.
    pub bytes: usize,
    /// Bytes of the CAR slices (`blocks`) in all commits.
    pub car_bytes: usize,
    /// Blocks in all CAR slices, by kind, and the bytes of the record and tree-node blocks.
    pub commit_blocks: usize,
    pub record_blocks: usize,
    pub node_blocks: usize,
    pub record_bytes: usize,
    pub node_bytes: usize,
    /// Records per repository at the end, smallest and largest.
    pub repo_records: (usize, usize),
    /// Tree depths (number of levels) of the repositories at the end.
    pub depths: (usize, usize),
    /// Mean entries per tree node over the repositories at the end.
    pub entries_per_node: f64,
}

impl Stats {
    /// A few lines for people: the mix, the sizes, the tree shapes.
    pub fn summary(&self) -> String {
        let mut s = String::new();
        let mut sizes = self.commit_sizes.clone();
        sizes.sort_unstable();
        let at = |q: f64| sizes[((sizes.len() - 1) as f64 * q).round() as usize];
        let frames = self.commits + self.identity + self.account;
        let _ = writeln!(
            s,
            "{frames} frames, {} bytes: {} #commit, {} #identity, {} #account",
            self.bytes, self.commits, self.identity, self.account
        );
        let _ = writeln!(
            s,
            "#commit frame bytes: min {}, median {}, p90 {}, p99 {}, max {}, mean {:.0}; CAR slices are {:.0}% of all bytes",
            sizes[0],
            at(0.5),
            at(0.9),
            at(0.99),
            sizes[sizes.len() - 1],
            sizes.iter().sum::<usize>() as f64 / sizes.len() as f64,
            100.0 * self.car_bytes as f64 / self.bytes as f64
        );
        let ops: Vec<String> = self.ops.iter().map(|(k, n)| format!("{n} {k}")).collect();
        let _ = writeln!(s, "ops: {}", ops.join(", "));
        let per: Vec<String> = self
            .ops_per_commit
            .iter()
            .map(|(ops, n)| format!("{ops}: {n}"))
            .collect();
        let _ = writeln!(s, "commits by number of ops: {}", per.join(", "));
        let _ = writeln!(
            s,
            "blocks: {} commits, {} records ({:.0} bytes on average), {} tree nodes ({:.1} per commit, {:.0} bytes on average)",
            self.commit_blocks,
            self.record_blocks,
            self.record_bytes as f64 / self.record_blocks as f64,
            self.node_blocks,
            self.node_blocks as f64 / self.commits as f64,
            self.node_bytes as f64 / self.node_blocks as f64
        );
        let _ = write!(
            s,
            "{REPOS} repositories of {}-{} records; trees {}-{} levels deep, {:.1} entries per node",
            self.repo_records.0,
            self.repo_records.1,
            self.depths.0,
            self.depths.1,
            self.entries_per_node
        );
        s
    }
}

/// Makes the [`FRAMES`] frames.
pub fn frames() -> Firehose {
    generate(FRAMES)
}

/// The first `n` frames of the stream.
fn generate(n: usize) -> Firehose {
    let mut world = World::new(0x5eed_0003);
    let mut frames = Vec::with_capacity(n);
    for _ in 0..n {
        let frame = world.next_frame();
        world.stats.bytes += frame.len();
        frames.push(frame);
    }
    world.finish_stats();
    Firehose {
        frames,
        stats: world.stats,
    }
}

// ---------------------------------------------------------------------------------------------
// CIDs, TIDs, DAG-CBOR

/// The CID (v1, DAG-CBOR, SHA-256) of a block.
pub fn cid_of(bytes: &[u8]) -> Cid {
    cid_from_digest(&Sha256::digest(bytes))
}

fn cid_from_digest(digest: &[u8]) -> Cid {
    let hash = Multihash::<64>::wrap(SHA2_256, digest).expect("32 bytes fit");
    Cid::new_v1(DAG_CBOR, hash)
}

pub(crate) fn encode(value: &Ipld) -> Vec<u8> {
    serde_ipld_dagcbor::to_vec(value).expect("Ipld values encode")
}

/// A TID: 53 bits of microseconds and 10 bits of clock id, in sortable base32.
pub(crate) fn tid(micros: u64, clock: u64) -> String {
    let mut v = ((micros << 10) | (clock & 1023)) & ((1 << 63) - 1);
    let mut chars = [0u8; 13];
    for c in chars.iter_mut().rev() {
        *c = TID_CHARS[(v & 31) as usize];
        v >>= 5;
    }
    String::from_utf8(chars.to_vec()).expect("ascii")
}

fn datetime(micros: u64) -> String {
    format_datetime(micros / 1_000_000, micros / 1000 % 1000)
}

/// The JSON data model (`$link` objects for links) as IPLD.
fn ipld(value: &Value) -> Ipld {
    match value {
        Value::Null => Ipld::Null,
        Value::Bool(b) => Ipld::Bool(*b),
        Value::Number(n) => match n.as_i64() {
            Some(i) => Ipld::Integer(i.into()),
            None => Ipld::Float(n.as_f64().expect("a JSON number")),
        },
        Value::String(s) => Ipld::String(s.clone()),
        Value::Array(items) => Ipld::List(items.iter().map(ipld).collect()),
        Value::Object(map) => match map.get("$link").and_then(Value::as_str) {
            Some(link) if map.len() == 1 => {
                Ipld::Link(Cid::try_from(link).expect("the generator writes valid CIDs"))
            }
            _ => Ipld::Map(map.iter().map(|(k, v)| (k.clone(), ipld(v))).collect()),
        },
    }
}

pub(crate) fn map<const N: usize>(fields: [(&str, Ipld); N]) -> Ipld {
    Ipld::Map(fields.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
}

pub(crate) fn text(s: impl Into<String>) -> Ipld {
    Ipld::String(s.into())
}

fn link_or_null(cid: Option<Cid>) -> Ipld {
    cid.map_or(Ipld::Null, Ipld::Link)
}

/// Appends a CAR section: the varint length, then the bytes.
pub(crate) fn car_section(out: &mut Vec<u8>, parts: &[&[u8]]) {
    let mut len = parts.iter().map(|p| p.len()).sum::<usize>() as u64;
    loop {
        let byte = (len & 0x7f) as u8;
        len >>= 7;
        if len == 0 {
            out.push(byte);
            break;
        }
        out.push(byte | 0x80);
    }
    for part in parts {
        out.extend_from_slice(part);
    }
}

// ---------------------------------------------------------------------------------------------
// Merkle search tree

/// A record's place in the tree: its layer (from its key) and its CID.
#[derive(Clone, Copy)]
pub(crate) struct Leaf {
    pub(crate) layer: u32,
    pub(crate) cid: Cid,
}

/// The tree layer of a key: the leading zero bits of SHA-256(key), counted in 2-bit chunks
/// (a fanout of 4 on average, as atproto repositories have).
pub(crate) fn layer(key: &str) -> u32 {
    let digest = Sha256::digest(key.as_bytes());
    let mut zeros = 0;
    for byte in digest {
        zeros += byte.leading_zeros();
        if byte != 0 {
            break;
        }
    }
    zeros / 2
}

/// A tree: its root, every node in it and its shape.
pub(crate) struct Tree {
    pub(crate) root: Cid,
    pub(crate) nodes: HashSet<Cid>,
    pub(crate) levels: usize,
    pub(crate) entries: usize,
}

/// Every tree node built so far, keyed by its content (child CIDs and keys), so that rebuilding
/// a tree after a commit encodes and hashes only the nodes that changed.
#[derive(Default)]
pub(crate) struct Nodes {
    by_content: HashMap<Vec<u8>, Cid>,
    pub(crate) bytes: HashMap<Cid, Vec<u8>>,
}

impl Nodes {
    /// The tree over `records`, built from scratch: the MST is a function of its keys.
    pub(crate) fn tree(&mut self, records: &BTreeMap<String, Leaf>) -> Tree {
        let items: Vec<(&str, Leaf)> = records.iter().map(|(k, l)| (k.as_str(), *l)).collect();
        let top = items.iter().map(|(_, l)| l.layer).max().unwrap_or(0);
        let mut tree = Tree {
            root: cid_of(&[]),
            nodes: HashSet::new(),
            levels: top as usize + 1,
            entries: 0,
        };
        tree.root = self.node(&items, top, &mut tree);
        tree
    }

    /// The node at `layer` over `items` (all of layer `layer` or below): its entries are the
    /// items of that layer, and the runs between them are subtrees one layer down.
    fn node(&mut self, items: &[(&str, Leaf)], layer: u32, tree: &mut Tree) -> Cid {
        let mut left = None;
        let mut entries: Vec<(&str, Cid, Option<Cid>)> = Vec::new();
        let mut start = 0;
        for i in 0..=items.len() {
            if i < items.len() && items[i].1.layer != layer {
                continue;
            }
            let gap = &items[start..i];
            let subtree = (!gap.is_empty()).then(|| self.node(gap, layer - 1, tree));
            match entries.last_mut() {
                Some(entry) => entry.2 = subtree,
                None => left = subtree,
            }
            if let Some((key, leaf)) = items.get(i) {
                entries.push((key, leaf.cid, None));
                start = i + 1;
            }
        }
        tree.entries += entries.len();
        // All CIDs here are SHA-256 DAG-CBOR ones: the digest stands for the CID.
        let mut content = Vec::with_capacity(33 + entries.len() * 100);
        let push_link = |content: &mut Vec<u8>, link: Option<Cid>| match link {
            Some(cid) => {
                content.push(1);
                content.extend_from_slice(cid.hash().digest());
            }
            None => content.push(0),
        };
        push_link(&mut content, left);
        for (key, value, right) in &entries {
            content.extend_from_slice(&(key.len() as u16).to_le_bytes());
            content.extend_from_slice(key.as_bytes());
            content.extend_from_slice(value.hash().digest());
            push_link(&mut content, *right);
        }
        let cid = match self.by_content.get(&content) {
            Some(cid) => *cid,
            None => {
                let bytes = encode_node(left, &entries);
                let cid = cid_of(&bytes);
                self.bytes.insert(cid, bytes);
                self.by_content.insert(content, cid);
                cid
            }
        };
        tree.nodes.insert(cid);
        cid
    }
}

/// A tree node as the repository spec writes it: `{l, e: [{p, k, v, t}]}`, each key stored as
/// the length of the prefix it shares with the key before and the rest of its bytes.
fn encode_node(left: Option<Cid>, entries: &[(&str, Cid, Option<Cid>)]) -> Vec<u8> {
    let mut previous: &[u8] = b"";
    let e = entries
        .iter()
        .map(|(key, value, right)| {
            let key = key.as_bytes();
            let p = previous.iter().zip(key).take_while(|(a, b)| a == b).count();
            previous = key;
            map([
                ("p", Ipld::Integer(p as i128)),
                ("k", Ipld::Bytes(key[p..].to_vec())),
                ("v", Ipld::Link(*value)),
                ("t", link_or_null(*right)),
            ])
        })
        .collect();
    encode(&map([("l", link_or_null(left)), ("e", Ipld::List(e))]))
}

// ---------------------------------------------------------------------------------------------
// Records (shared with the repository export, [`crate::export`])

/// A like or a repost of someone's post, sometimes of a repost of it (`via`), made at `micros`.
pub(crate) fn like(g: &mut Gen, micros: u64, collection: &str) -> Ipld {
    let mut fields = vec![
        ("$type", Value::from(collection)),
        ("subject", g.strong_ref(POST)),
        ("createdAt", datetime(micros).into()),
    ];
    if g.rng.chance(8) {
        fields.push(("via", g.strong_ref(REPOST)));
    }
    ipld(&Value::Object(
        fields.into_iter().map(|(k, v)| (k.to_owned(), v)).collect(),
    ))
}

pub(crate) fn follow(g: &mut Gen, micros: u64) -> Ipld {
    map([
        ("$type", text(FOLLOW)),
        ("subject", text(g.did())),
        ("createdAt", text(datetime(micros))),
    ])
}

/// A post of [`crate::data::posts`]' kind (text with facets, embeds of every kind, replies,
/// langs), written at `micros`.
pub(crate) fn post(g: &mut Gen, micros: u64) -> Ipld {
    let i = g.rng.below(1000) as usize;
    let mut post = g.post(i);
    post["createdAt"] = datetime(micros).into();
    ipld(&post)
}

pub(crate) fn profile(g: &mut Gen) -> Ipld {
    let name = *g.rng.pick(DISPLAY);
    let words = g.rng.range(5, 30);
    let description = g.words("en", words);
    let mut fields = vec![
        ("$type", Value::from(PROFILE)),
        ("displayName", name.into()),
        ("description", description.into()),
        ("avatar", g.blob("image/jpeg", 20_000, 900_000)),
        ("createdAt", "2024-02-01T10:20:30.000Z".into()),
    ];
    if g.rng.chance(70) {
        fields.push(("banner", g.blob("image/jpeg", 50_000, 990_000)));
    }
    if g.rng.chance(30) {
        fields.push(("pinnedPost", g.strong_ref(POST)));
    }
    ipld(&Value::Object(
        fields.into_iter().map(|(k, v)| (k.to_owned(), v)).collect(),
    ))
}

// ---------------------------------------------------------------------------------------------
// Repositories and the stream

pub(crate) const POST: &str = "app.bsky.feed.post";
pub(crate) const LIKE: &str = "app.bsky.feed.like";
pub(crate) const REPOST: &str = "app.bsky.feed.repost";
pub(crate) const FOLLOW: &str = "app.bsky.graph.follow";
pub(crate) const PROFILE: &str = "app.bsky.actor.profile";
pub(crate) const PROFILE_KEY: &str = "app.bsky.actor.profile/self";

struct Repo {
    did: String,
    records: BTreeMap<String, Leaf>,
    /// Every key but the profile's, to pick one to delete.
    deletable: Vec<String>,
    rev: String,
    tree: Tree,
}

/// A change to one record.
enum Change {
    Create(&'static str, Ipld),
    Update(String, Ipld),
    Delete(String),
}

struct World {
    g: Gen,
    nodes: Nodes,
    repos: Vec<Repo>,
    micros: u64,
    seq: i128,
    /// The clock id of TIDs (one PDS).
    clock: u64,
    stats: Stats,
}

impl World {
    fn new(seed: u64) -> World {
        let mut g = Gen::new(seed);
        let mut nodes = Nodes::default();
        let clock = g.rng.below(1024);
        let repos = (0..REPOS)
            .map(|_| {
                let did = g.did();
                let n = g.rng.range(1000, 5000);
                let mut records = BTreeMap::new();
                let mut deletable = Vec::new();
                // An account's history: records from the last two years, only as CIDs.
                let year = 365 * 86_400 * 1_000_000;
                for _ in 0..n {
                    let collection = match g.rng.below(100) {
                        0..=49 => LIKE,
                        50..=74 => POST,
                        75..=89 => FOLLOW,
                        _ => REPOST,
                    };
                    let micros = START_MICROS - g.rng.range(60_000_000, 2 * year);
                    let key = format!("{collection}/{}", tid(micros, clock));
                    let digest: Vec<u8> = (0..32).map(|_| g.rng.below(256) as u8).collect();
                    let leaf = Leaf {
                        layer: layer(&key),
                        cid: cid_from_digest(&digest),
                    };
                    if records.insert(key.clone(), leaf).is_none() {
                        deletable.push(key);
                    }
                }
                let digest: Vec<u8> = (0..32).map(|_| g.rng.below(256) as u8).collect();
                records.insert(
                    PROFILE_KEY.to_owned(),
                    Leaf {
                        layer: layer(PROFILE_KEY),
                        cid: cid_from_digest(&digest),
                    },
                );
                let tree = nodes.tree(&records);
                let rev = tid(START_MICROS - g.rng.range(1_000_000, year), clock);
                Repo {
                    did,
                    records,
                    deletable,
                    rev,
                    tree,
                }
            })
            .collect();
        World {
            g,
            nodes,
            repos,
            micros: START_MICROS,
            seq: FIRST_SEQ,
            clock,
            stats: Stats::default(),
        }
    }

    fn next_frame(&mut self) -> Vec<u8> {
        // A busy relay: a few hundred to a few thousand events per second.
        self.micros += self.g.rng.range(50, 2000);
        self.seq += 1;
        let repo = self.g.rng.below(REPOS as u64) as usize;
        let changes = match self.g.rng.below(100) {
            0..=37 => vec![Change::Create(LIKE, like(&mut self.g, self.micros, LIKE))],
            38..=55 => vec![Change::Create(POST, post(&mut self.g, self.micros))],
            56..=59 => {
                let n = self.g.rng.range(2, 4) as usize;
                (0..n)
                    .map(|_| Change::Create(POST, post(&mut self.g, self.micros)))
                    .collect()
            }
            60..=71 => vec![Change::Create(FOLLOW, follow(&mut self.g, self.micros))],
            72..=73 => {
                let n = self.g.rng.range(3, 8) as usize;
                (0..n)
                    .map(|_| Change::Create(FOLLOW, follow(&mut self.g, self.micros)))
                    .collect()
            }
            74..=83 => vec![Change::Create(
                REPOST,
                like(&mut self.g, self.micros, REPOST),
            )],
            84..=91 => vec![Change::Delete(self.deletable(repo))],
            92 => {
                let n = self.g.rng.range(2, 5) as usize;
                (0..n)
                    .map(|_| Change::Delete(self.deletable(repo)))
                    .collect()
            }
            93..=95 => vec![Change::Update(PROFILE_KEY.to_owned(), profile(&mut self.g))],
            96..=97 => return self.identity(repo),
            _ => return self.account(repo),
        };
        self.commit(repo, changes)
    }

    fn now(&self) -> Ipld {
        text(datetime(self.micros))
    }

    fn frame(&self, t: &str, body: &Ipld) -> Vec<u8> {
        let mut frame = encode(&map([("op", Ipld::Integer(1)), ("t", text(t))]));
        frame.extend(encode(body));
        frame
    }

    fn identity(&mut self, repo: usize) -> Vec<u8> {
        self.stats.identity += 1;
        let name = *self.g.rng.pick(NAMES);
        let handle = self.g.handle(name);
        let body = map([
            ("seq", Ipld::Integer(self.seq)),
            ("did", text(&self.repos[repo].did)),
            ("time", self.now()),
            ("handle", text(handle)),
        ]);
        self.frame("#identity", &body)
    }

    fn account(&mut self, repo: usize) -> Vec<u8> {
        self.stats.account += 1;
        let mut body = map([
            ("seq", Ipld::Integer(self.seq)),
            ("did", text(&self.repos[repo].did)),
            ("time", self.now()),
            ("active", Ipld::Bool(true)),
        ]);
        if self.g.rng.chance(20)
            && let Ipld::Map(fields) = &mut body
        {
            fields.insert("active".into(), Ipld::Bool(false));
            fields.insert("status".into(), text("deactivated"));
        }
        self.frame("#account", &body)
    }

    fn deletable(&mut self, repo: usize) -> String {
        let keys = &mut self.repos[repo].deletable;
        let i = self.g.rng.below(keys.len() as u64) as usize;
        keys.swap_remove(i)
    }

    /// Applies `changes` to a repository and writes the `#commit` frame a PDS sends for them.
    fn commit(&mut self, repo: usize, changes: Vec<Change>) -> Vec<u8> {
        let clock = self.clock;
        let micros = self.micros;
        let r = &mut self.repos[repo];
        let mut ops = Vec::new();
        let mut records: Vec<(Cid, Vec<u8>)> = Vec::new();
        let count = changes.len();
        for (i, change) in changes.into_iter().enumerate() {
            let (action, key, record) = match change {
                Change::Create(collection, record) => {
                    let key = format!("{collection}/{}", tid(micros + i as u64, clock));
                    r.deletable.push(key.clone());
                    ("create", key, Some(record))
                }
                Change::Update(key, record) => ("update", key, Some(record)),
                Change::Delete(key) => ("delete", key, None),
            };
            let collection = key.split_once('/').expect("collection/rkey").0;
            *self
                .stats
                .ops
                .entry(format!("{action} {collection}"))
                .or_default() += 1;
            let previous = r.records.get(&key).map(|leaf| leaf.cid);
            let cid = record.map(|record| {
                let bytes = encode(&record);
                let cid = cid_of(&bytes);
                records.push((cid, bytes));
                cid
            });
            match cid {
                Some(cid) => {
                    r.records.insert(
                        key.clone(),
                        Leaf {
                            layer: layer(&key),
                            cid,
                        },
                    );
                }
                None => {
                    r.records.remove(&key);
                }
            }
            let mut op = map([
                ("action", text(action)),
                ("path", text(key)),
                ("cid", link_or_null(cid)),
            ]);
            if let (Some(prev), Ipld::Map(fields)) = (previous, &mut op) {
                fields.insert("prev".into(), Ipld::Link(prev));
            }
            ops.push(op);
        }
        let tree = self.nodes.tree(&r.records);
        let prev_data = r.tree.root;
        let since = std::mem::replace(&mut r.rev, tid(micros, clock));
        let sig: Vec<u8> = (0..64).map(|_| self.g.rng.below(256) as u8).collect();
        let commit = encode(&map([
            ("did", text(&r.did)),
            ("version", Ipld::Integer(3)),
            ("data", Ipld::Link(tree.root)),
            ("rev", text(&r.rev)),
            ("prev", Ipld::Null),
            ("sig", Ipld::Bytes(sig)),
        ]));
        let commit_cid = cid_of(&commit);
        // The CAR slice: header, the commit, the new tree nodes (the tree's order), the records.
        let mut car = Vec::new();
        let header = encode(&map([
            ("version", Ipld::Integer(1)),
            ("roots", Ipld::List(vec![Ipld::Link(commit_cid)])),
        ]));
        car_section(&mut car, &[&header]);
        car_section(&mut car, &[&commit_cid.to_bytes(), &commit]);
        let mut new_nodes: Vec<&Cid> = tree.nodes.difference(&r.tree.nodes).collect();
        new_nodes.sort_unstable();
        for cid in &new_nodes {
            let bytes = &self.nodes.bytes[*cid];
            self.stats.node_bytes += bytes.len();
            car_section(&mut car, &[&cid.to_bytes(), bytes]);
        }
        for (cid, bytes) in &records {
            self.stats.record_bytes += bytes.len();
            car_section(&mut car, &[&cid.to_bytes(), bytes]);
        }
        self.stats.commits += 1;
        *self.stats.ops_per_commit.entry(count).or_default() += 1;
        self.stats.commit_blocks += 1;
        self.stats.node_blocks += new_nodes.len();
        self.stats.record_blocks += records.len();
        self.stats.car_bytes += car.len();
        r.tree = tree;
        let body = map([
            ("seq", Ipld::Integer(self.seq)),
            ("rebase", Ipld::Bool(false)),
            ("tooBig", Ipld::Bool(false)),
            ("repo", text(&r.did)),
            ("commit", Ipld::Link(commit_cid)),
            ("rev", text(&r.rev)),
            ("since", text(since)),
            ("blocks", Ipld::Bytes(car)),
            ("ops", Ipld::List(ops)),
            ("blobs", Ipld::List(Vec::new())),
            ("prevData", Ipld::Link(prev_data)),
            ("time", self.now()),
        ]);
        let frame = self.frame("#commit", &body);
        self.stats.commit_sizes.push(frame.len());
        frame
    }

    fn finish_stats(&mut self) {
        let sizes = self.repos.iter().map(|r| r.records.len());
        let levels = self.repos.iter().map(|r| r.tree.levels);
        self.stats.repo_records = (sizes.clone().min().unwrap(), sizes.max().unwrap());
        self.stats.depths = (levels.clone().min().unwrap(), levels.max().unwrap());
        let nodes: usize = self.repos.iter().map(|r| r.tree.nodes.len()).sum();
        let entries: usize = self.repos.iter().map(|r| r.tree.entries).sum();
        self.stats.entries_per_node = entries as f64 / nodes as f64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::indexer::IpldCar;

    fn field<'v>(value: &'v Ipld, key: &str) -> &'v Ipld {
        match value {
            Ipld::Map(map) => map.get(key).unwrap_or(&Ipld::Null),
            _ => panic!("not a map: {value:?}"),
        }
    }

    /// Looks `key` up from the tree node `cid` down, checking each node on the way: keys in
    /// order, all of the node's layer, one layer below its parent. `Err` when the walk needs a
    /// node the slice does not have.
    fn find(car: &IpldCar, mut cid: Cid, key: &str) -> Result<Option<Cid>, Cid> {
        let mut expected: Option<u32> = None;
        loop {
            let bytes = car.blocks.get(&cid).ok_or(cid)?;
            let node: Ipld = serde_ipld_dagcbor::from_slice(bytes).unwrap();
            let Ipld::List(entries) = field(&node, "e") else {
                panic!("no entries")
            };
            let mut keys: Vec<String> = Vec::new();
            let mut previous: Vec<u8> = Vec::new();
            for entry in entries {
                let (Ipld::Integer(p), Ipld::Bytes(k)) = (field(entry, "p"), field(entry, "k"))
                else {
                    panic!("a bad entry")
                };
                previous.truncate(*p as usize);
                previous.extend_from_slice(k);
                let full = String::from_utf8(previous.clone()).unwrap();
                if let Some(last) = keys.last() {
                    assert!(*last < full, "keys out of order");
                }
                let here = layer(&full);
                assert_eq!(
                    *expected.get_or_insert(here),
                    here,
                    "a key of another layer"
                );
                keys.push(full);
            }
            let subtree = match keys.binary_search_by(|k| k.as_str().cmp(key)) {
                Ok(i) => match field(&entries[i], "v") {
                    Ipld::Link(value) => return Ok(Some(*value)),
                    other => panic!("a value that is not a link: {other:?}"),
                },
                Err(0) => field(&node, "l"),
                Err(i) => field(&entries[i - 1], "t"),
            };
            match subtree {
                Ipld::Link(next) => cid = *next,
                _ => return Ok(None),
            }
            let layer = expected.expect("a node without entries has a subtree");
            expected = Some(layer - 1);
        }
    }

    /// Every created or updated record is reachable from the commit's tree root through the
    /// slice's nodes; a deleted key is not in the tree.
    #[test]
    fn commits_carry_their_tree_paths() {
        let firehose = generate(300);
        assert!(firehose.stats.commits > 250);
        for frame in &firehose.frames {
            let (header, body) = crate::indexer::ipld_frame(frame).unwrap();
            if field(&header, "t") != &Ipld::String("#commit".into()) {
                continue;
            }
            let Ipld::Bytes(blocks) = field(&body, "blocks") else {
                panic!("no blocks")
            };
            let car = IpldCar::read(blocks).unwrap();
            let commit: Ipld = serde_ipld_dagcbor::from_slice(car.blocks[&car.roots[0]]).unwrap();
            let Ipld::Link(root) = field(&commit, "data") else {
                panic!("no data")
            };
            let Ipld::List(ops) = field(&body, "ops") else {
                panic!("no ops")
            };
            for op in ops {
                let Ipld::String(path) = field(op, "path") else {
                    panic!("no path")
                };
                match field(op, "cid") {
                    Ipld::Link(cid) => assert_eq!(find(&car, *root, path), Ok(Some(*cid))),
                    // The walk may leave the slice where the tree did not change.
                    _ => assert!(matches!(find(&car, *root, path), Ok(None) | Err(_))),
                }
            }
        }
    }

    #[test]
    fn deterministic() {
        assert_eq!(generate(50).frames, generate(50).frames);
    }

    /// The repository spec's interop vectors: key layers, and tree roots.
    #[test]
    fn interop() {
        for (key, expected) in [
            ("2653ae71", 0),
            ("blue", 1),
            ("88bfafc7", 2),
            ("2a92d355", 4),
            ("884976f5", 6),
            ("app.bsky.feed.post/454397e440ec", 4),
            ("app.bsky.feed.post/9adeb165882c", 8),
        ] {
            assert_eq!(layer(key), expected, "{key}");
        }
        let value =
            Cid::try_from("bafyreie5cvv4h45feadgeuwhbcutmh6t2ceseocckahdoe6uat64zmz454").unwrap();
        let mut nodes = Nodes::default();
        for (rkeys, root) in [
            (
                &[][..],
                "bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm",
            ),
            (
                &["3jqfcqzm3fo2j"],
                "bafyreibj4lsc3aqnrvphp5xmrnfoorvru4wynt6lwidqbm2623a6tatzdu",
            ),
            (
                &["3jqfcqzm3fx2j"],
                "bafyreih7wfei65pxzhauoibu3ls7jgmkju4bspy4t2ha2qdjnzqvoy33ai",
            ),
            (
                &[
                    "3jqfcqzm3fp2j",
                    "3jqfcqzm3fr2j",
                    "3jqfcqzm3fs2j",
                    "3jqfcqzm3ft2j",
                    "3jqfcqzm4fc2j",
                ],
                "bafyreicmahysq4n6wfuxo522m6dpiy7z7qzym3dzs756t5n7nfdgccwq7m",
            ),
            // Layers 0 and 2 without a key of layer 1: an empty node between them.
            (
                &["3jqfcqzm3ft2j", "3jqfcqzm3fz2j", "3jqfcqzm3fx2j"],
                "bafyreiavxaxdz7o7rbvr3zg2liox2yww46t7g6hkehx4i4h3lwudly7dhy",
            ),
        ] {
            let records: BTreeMap<String, Leaf> = rkeys
                .iter()
                .map(|rkey| {
                    let key = format!("com.example.record/{rkey}");
                    let leaf = Leaf {
                        layer: layer(&key),
                        cid: value,
                    };
                    (key, leaf)
                })
                .collect();
            assert_eq!(nodes.tree(&records).root.to_string(), root, "{rkeys:?}");
        }
    }
}
