//! CAR (version 1) files: the `blocks` of a firehose commit and a repository export
//! (`com.atproto.sync.getRepo`). Every block's CID is checked against its bytes.
//!
//! Read here rather than with `iroh-car`: that crate reads from an async stream only, and a
//! commit's blocks are already in memory; the framing is a varint length, a CID and the bytes,
//! read with the `unsigned-varint` and `cid` crates.

use super::cbor::{self, CborError};
use std::collections::HashMap;
use std::fmt;

/// A CAR file read from memory: its roots and its blocks by CID, borrowed from the input.
#[derive(Debug, Clone)]
pub struct Car<'a> {
    pub roots: Vec<::cid::Cid>,
    blocks: HashMap<::cid::Cid, &'a [u8]>,
    order: Vec<::cid::Cid>,
}

/// A CAR file that cannot be read, or a block whose bytes do not match its CID.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CarError(String);

impl fmt::Display for CarError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "bad CAR data: {}", self.0)
    }
}

impl std::error::Error for CarError {}

impl From<CborError> for CarError {
    fn from(error: CborError) -> Self {
        CarError(error.to_string())
    }
}

#[derive(serde::Deserialize)]
struct Header {
    version: u64,
    roots: Vec<super::data::CidLink>,
}

/// Reads a varint length and the `len` bytes after it.
fn section<'a>(input: &mut &'a [u8], what: &str) -> Result<&'a [u8], CarError> {
    let (len, rest) = unsigned_varint::decode::u64(input)
        .map_err(|e| CarError(format!("{what}: bad length: {e}")))?;
    let len = usize::try_from(len)
        .ok()
        .filter(|len| *len <= rest.len())
        .ok_or_else(|| CarError(format!("{what}: truncated ({len} bytes announced)")))?;
    let (section, rest) = rest.split_at(len);
    *input = rest;
    Ok(section)
}

impl<'a> Car<'a> {
    /// Reads a whole CAR file, checking every block against its CID.
    pub fn read(mut input: &'a [u8]) -> Result<Car<'a>, CarError> {
        let header: Header = cbor::from_slice(section(&mut input, "header")?)
            .map_err(|e| CarError(format!("header: {e}")))?;
        if header.version != 1 {
            return Err(CarError(format!("version {} (only 1 is read)", header.version)));
        }
        let roots = header
            .roots
            .iter()
            .map(|root| {
                root.cid()
                    .decode()
                    .map_err(|e| CarError(format!("root: {e}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mut blocks = HashMap::new();
        let mut order = Vec::new();
        while !input.is_empty() {
            let block = section(&mut input, "block")?;
            let mut rest = block;
            let cid = ::cid::Cid::read_bytes(&mut rest)
                .map_err(|e| CarError(format!("block {}: bad CID: {e}", order.len())))?;
            check_block(&cid, rest)?;
            if blocks.insert(cid, rest).is_none() {
                order.push(cid);
            }
        }
        Ok(Car {
            roots,
            blocks,
            order,
        })
    }

    /// The bytes of the block `cid`, if the file has it.
    pub fn get(&self, cid: &::cid::Cid) -> Option<&'a [u8]> {
        self.blocks.get(cid).copied()
    }

    /// The bytes of the block a link (a commit op's `cid`) points to, if the file has it.
    pub fn get_link(&self, link: &super::data::CidLink) -> Option<&'a [u8]> {
        self.get(&link.cid().decode().ok()?)
    }

    /// The block `cid` read as `T` (a record, a commit, a tree node).
    pub fn read_block<T: serde::Deserialize<'a>>(
        &self,
        cid: &::cid::Cid,
    ) -> Result<Option<T>, CarError> {
        self.get(cid)
            .map(|bytes| cbor::from_slice(bytes).map_err(CarError::from))
            .transpose()
    }

    /// The blocks in file order.
    pub fn blocks(&self) -> impl Iterator<Item = (&::cid::Cid, &'a [u8])> + '_ {
        self.order.iter().map(|cid| (cid, self.blocks[cid]))
    }

    /// How many blocks the file has.
    pub fn len(&self) -> usize {
        self.order.len()
    }

    /// Whether the file has no blocks.
    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }
}

/// A block's bytes must hash to its CID (SHA-256, the only hash atproto uses).
fn check_block(cid: &::cid::Cid, bytes: &[u8]) -> Result<(), CarError> {
    if cid.hash().code() != 0x12 {
        return Err(CarError(format!(
            "block {cid}: hash 0x{:x} is not SHA-256",
            cid.hash().code()
        )));
    }
    let computed = cbor::cid_of(cid.codec(), bytes);
    if computed.hash() != cid.hash() {
        return Err(CarError(format!(
            "block {cid}: its bytes hash to {computed}"
        )));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Repositories

/// One record of a repository: its key (`collection/rkey`), its CID and its DAG-CBOR bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepoRecord<'a> {
    pub key: String,
    pub cid: ::cid::Cid,
    pub bytes: &'a [u8],
}

impl RepoRecord<'_> {
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
struct RepoCommit {
    data: super::data::CidLink,
}

#[derive(serde::Deserialize)]
struct TreeNode {
    l: Option<super::data::CidLink>,
    e: Vec<TreeEntry>,
}

#[derive(serde::Deserialize)]
struct TreeEntry {
    p: usize,
    k: super::data::Bytes,
    v: super::data::CidLink,
    t: Option<super::data::CidLink>,
}

/// Deeper trees are refused: a real repository's tree has a few levels (its depth grows with
/// the logarithm, base 16, of the number of records).
const MAX_TREE_DEPTH: usize = 64;

fn link(cid: &super::data::CidLink) -> Result<::cid::Cid, CarError> {
    cid.cid().decode().map_err(|e| CarError(e.to_string()))
}

impl<'a> Car<'a> {
    /// Every record of a repository export (`com.atproto.sync.getRepo`), walking the record
    /// tree from the commit at the first root, in key order. A block the tree points to but
    /// the file lacks is an error naming it.
    pub fn repo_records(&self) -> Result<Vec<RepoRecord<'a>>, CarError> {
        let root = self
            .roots
            .first()
            .ok_or_else(|| CarError("no root: not a repository".into()))?;
        let commit: RepoCommit = self
            .read_block(root)?
            .ok_or_else(|| CarError(format!("the commit block {root} is missing")))?;
        let mut out = Vec::new();
        self.walk(&link(&commit.data)?, 0, &mut out)?;
        Ok(out)
    }

    fn walk(
        &self,
        node: &::cid::Cid,
        depth: usize,
        out: &mut Vec<RepoRecord<'a>>,
    ) -> Result<(), CarError> {
        if depth > MAX_TREE_DEPTH {
            return Err(CarError("the record tree is nested too deep".into()));
        }
        let tree: TreeNode = self
            .read_block(node)?
            .ok_or_else(|| CarError(format!("the tree node {node} is missing")))?;
        if let Some(left) = &tree.l {
            self.walk(&link(left)?, depth + 1, out)?;
        }
        let mut key: Vec<u8> = Vec::new();
        for entry in &tree.e {
            if entry.p > key.len() {
                return Err(CarError(format!("tree node {node}: a key prefix longer than the key before it")));
            }
            key.truncate(entry.p);
            key.extend_from_slice(entry.k.as_slice());
            let cid = link(&entry.v)?;
            let bytes = self
                .get(&cid)
                .ok_or_else(|| CarError(format!("the record block {cid} is missing")))?;
            let text = String::from_utf8(key.clone())
                .map_err(|_| CarError(format!("tree node {node}: a key that is not UTF-8")))?;
            out.push(RepoRecord { key: text, cid, bytes });
            if let Some(right) = &entry.t {
                self.walk(&link(right)?, depth + 1, out)?;
            }
        }
        Ok(())
    }
}
