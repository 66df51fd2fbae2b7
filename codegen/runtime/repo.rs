//! Repositories: the signed commit at a CAR file's root and the record tree (a Merkle search
//! tree) under it, walked to every `collection/rkey` and its record block, in key order.
//!
//! The walk reads one tree node at a time from a [`BlockSource`] (a [`Car`](super::car::Car)
//! in memory or a [`CarFile`](super::car::CarFile) on disk) and keeps only the path from the
//! root to where it is.

use super::car::CarError;
use super::data::{Bytes, CidLink};

/// Where a walk gets its blocks from.
pub trait BlockSource {
    /// A block's bytes: borrowed from memory or read into a buffer.
    type Bytes: AsRef<[u8]>;
    /// The bytes of the block `cid`; `None` when the source lacks it.
    fn block(&mut self, cid: &::cid::Cid) -> Result<Option<Self::Bytes>, CarError>;
}

/// One record of a repository: its key (`collection/rkey`), its CID and its DAG-CBOR bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepoRecord<B> {
    pub key: String,
    pub cid: ::cid::Cid,
    pub bytes: B,
}

impl<B> RepoRecord<B> {
    /// The collection part of the key.
    pub fn collection(&self) -> &str {
        self.key.split_once('/').map_or(&self.key[..], |(c, _)| c)
    }

    /// The record-key part of the key.
    pub fn rkey(&self) -> &str {
        self.key.split_once('/').map_or("", |(_, r)| r)
    }
}

#[derive(serde::Deserialize)]
struct Commit {
    data: CidLink,
}

#[derive(serde::Deserialize)]
struct TreeNode {
    l: Option<CidLink>,
    e: Vec<TreeEntry>,
}

#[derive(serde::Deserialize)]
struct TreeEntry {
    p: usize,
    k: Bytes,
    v: CidLink,
    t: Option<CidLink>,
}

/// Deeper trees are refused: a real repository's tree has a few levels (its depth grows with
/// the logarithm, base 4, of the number of records).
const MAX_TREE_DEPTH: usize = 64;

/// The binary CID of a link read from a block: no text in between.
fn link(cid: &CidLink) -> Result<::cid::Cid, CarError> {
    cid.decode().map_err(|e| CarError::new(e.to_string()))
}

/// A tree node being walked: its entries, the next one, the subtree to visit before it, and
/// the last key read (a node's keys are written as a prefix of the one before plus a suffix).
struct Frame {
    node: ::cid::Cid,
    entries: std::vec::IntoIter<TreeEntry>,
    subtree: Option<::cid::Cid>,
    key: Vec<u8>,
}

/// The records of a repository, in key order, read as the walk reaches them
/// (from [`Car::repo_records`](super::car::Car::repo_records) or
/// [`CarFile::repo_records`](super::car::CarFile::repo_records)).
///
/// The walk refuses a tree whose keys do not strictly increase (a broken or hostile file
/// cannot make it loop or repeat), a node nested deeper than 64 levels, and a block the tree
/// points to that the file lacks; after an error it ends.
pub struct RepoRecords<'s, S: BlockSource> {
    source: &'s mut S,
    stack: Vec<Frame>,
    /// The key of the last record, which the next must follow.
    last: Vec<u8>,
    failed: bool,
}

impl<'s, S: BlockSource> RepoRecords<'s, S> {
    /// Starts at the commit `root` (the CAR file's first root).
    pub fn new(source: &'s mut S, root: Option<&::cid::Cid>) -> Result<Self, CarError> {
        let root = root.ok_or_else(|| CarError::new("no root: not a repository"))?;
        let commit = source
            .block(root)?
            .ok_or_else(|| CarError::new(format!("the commit block {root} is missing")))?;
        let commit: Commit = super::cbor::from_slice(commit.as_ref())
            .map_err(|e| CarError::new(format!("the commit block {root}: {e}")))?;
        let mut walk = RepoRecords {
            source,
            stack: Vec::new(),
            last: Vec::new(),
            failed: false,
        };
        walk.enter(link(&commit.data)?)?;
        Ok(walk)
    }

    /// Reads the tree node `node` and puts it on top of the path.
    fn enter(&mut self, node: ::cid::Cid) -> Result<(), CarError> {
        if self.stack.len() >= MAX_TREE_DEPTH {
            return Err(CarError::new("the record tree is nested too deep"));
        }
        let bytes = self
            .source
            .block(&node)?
            .ok_or_else(|| CarError::new(format!("the tree node {node} is missing")))?;
        let tree: TreeNode = super::cbor::from_slice(bytes.as_ref())
            .map_err(|e| CarError::new(format!("the tree node {node}: {e}")))?;
        self.stack.push(Frame {
            node,
            subtree: tree.l.as_ref().map(link).transpose()?,
            entries: tree.e.into_iter(),
            key: Vec::new(),
        });
        Ok(())
    }

    fn step(&mut self) -> Result<Option<RepoRecord<S::Bytes>>, CarError> {
        loop {
            let Some(frame) = self.stack.last_mut() else {
                return Ok(None);
            };
            if let Some(subtree) = frame.subtree.take() {
                self.enter(subtree)?;
                continue;
            }
            let Some(entry) = frame.entries.next() else {
                self.stack.pop();
                continue;
            };
            let node = frame.node;
            if entry.p > frame.key.len() {
                return Err(CarError::new(format!(
                    "tree node {node}: a key prefix longer than the key before it"
                )));
            }
            frame.key.truncate(entry.p);
            frame.key.extend_from_slice(entry.k.as_slice());
            frame.subtree = entry.t.as_ref().map(link).transpose()?;
            let key = String::from_utf8(frame.key.clone())
                .map_err(|_| CarError::new(format!("tree node {node}: a key that is not UTF-8")))?;
            if !self.last.is_empty() && self.last >= frame.key {
                return Err(CarError::new(format!(
                    "tree node {node}: the key {key} is out of order"
                )));
            }
            self.last.clone_from(&frame.key);
            let cid = link(&entry.v)?;
            let bytes = self
                .source
                .block(&cid)?
                .ok_or_else(|| CarError::new(format!("the record block {cid} ({key}) is missing")))?;
            return Ok(Some(RepoRecord { key, cid, bytes }));
        }
    }
}

impl<S: BlockSource> Iterator for RepoRecords<'_, S> {
    type Item = Result<RepoRecord<S::Bytes>, CarError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        let next = self.step().transpose();
        self.failed = matches!(next, Some(Err(_)));
        next
    }
}
