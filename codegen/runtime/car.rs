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
