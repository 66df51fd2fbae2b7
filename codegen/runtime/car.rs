//! CAR (version 1) files: the `blocks` of a firehose commit and a repository export
//! (`com.atproto.sync.getRepo`). Every block's CID is checked against its bytes.
//!
//! [`Car`] reads a file that is in memory (a commit's blocks) and borrows from it;
//! [`CarFile`] reads one from disk (a large repository) and keeps only an index in memory.
//!
//! Read here rather than with `iroh-car`: that crate reads from an async stream only, and a
//! commit's blocks are already in memory; the framing is a varint length, a CID and the bytes,
//! read with the `unsigned-varint` and `cid` crates.

use super::cbor::{self, CborError};
use super::repo::{BlockSource, RepoRecord, RepoRecords};
use std::collections::HashMap;
use std::fmt;
use std::io::{Read, Seek, SeekFrom};

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

impl CarError {
    pub(crate) fn new(message: impl Into<String>) -> Self {
        CarError(message.into())
    }
}

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

impl Header {
    /// The roots of a version 1 header.
    fn read(bytes: &[u8]) -> Result<Vec<::cid::Cid>, CarError> {
        let header: Header =
            cbor::from_slice(bytes).map_err(|e| CarError(format!("header: {e}")))?;
        if header.version != 1 {
            return Err(CarError(format!("version {} (only 1 is read)", header.version)));
        }
        header
            .roots
            .iter()
            .map(|root| root.decode().map_err(|e| CarError(format!("root: {e}"))))
            .collect()
    }
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
        let roots = Header::read(section(&mut input, "header")?)?;
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

    /// The bytes of the block a link (a commit op's `cid`) points to, if the file has it. A
    /// link read from DAG-CBOR is looked up as it is, with no decoding.
    pub fn get_link(&self, link: &super::data::CidLink) -> Option<&'a [u8]> {
        self.get(&link.decode().ok()?)
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

    /// Every record of a repository export (`com.atproto.sync.getRepo`) in key order, walking
    /// the record tree from the commit at the first root (see [`repo`](super::repo)).
    pub fn repo_records(&self) -> Result<Vec<RepoRecord<&'a [u8]>>, CarError> {
        let mut source = self;
        RepoRecords::new(&mut source, self.roots.first())?.collect()
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

impl<'a> BlockSource for &Car<'a> {
    type Bytes = &'a [u8];
    fn block(&mut self, cid: &::cid::Cid) -> Result<Option<&'a [u8]>, CarError> {
        Ok(self.get(cid))
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
// From a reader

/// The largest block [`CarFile`] reads: records are at most 1 MB, tree nodes far smaller, so a
/// larger length is a broken or hostile file, not a block to allocate for.
pub const MAX_BLOCK: usize = 4 * 1024 * 1024;

/// A CAR file read from a seekable reader (a repository export saved to disk), for files too
/// large to hold in memory. Opening it reads the file once, checking every block against its
/// CID and keeping only where each block is (a hash table, 64-102 bytes per block as
/// `cargo xtask bench-repo` measures it); blocks are read again when asked for.
#[derive(Debug)]
pub struct CarFile<R> {
    pub roots: Vec<::cid::Cid>,
    reader: R,
    /// Where each block's bytes are, by the SHA-256 digest of its CID.
    index: HashMap<[u8; 32], (u64, u32)>,
}

/// The SHA-256 digest of a CID, the key of a [`CarFile`]'s index (every block in it was
/// checked to hash with SHA-256).
fn digest(cid: &::cid::Cid) -> Option<[u8; 32]> {
    (cid.hash().code() == 0x12)
        .then(|| cid.hash().digest().try_into().ok())
        .flatten()
}

impl<R: Read + Seek> CarFile<R> {
    /// Reads the file from its start, checking every block. A [`std::io::BufReader`] around a
    /// `File` makes this one sequential read.
    pub fn open(mut reader: R) -> Result<CarFile<R>, CarError> {
        let io = |e: std::io::Error| CarError(format!("reading: {e}"));
        reader.seek(SeekFrom::Start(0)).map_err(io)?;
        let mut offset = 0u64;
        let mut buffer = Vec::new();
        let header = read_section(&mut reader, &mut offset, &mut buffer, "header")?
            .ok_or_else(|| CarError("empty file".into()))?;
        let roots = Header::read(header)?;
        let mut index = HashMap::new();
        loop {
            let number = index.len();
            let what = format!("block {number}");
            let Some(block) = read_section(&mut reader, &mut offset, &mut buffer, &what)? else {
                break;
            };
            let mut rest = block;
            let cid = ::cid::Cid::read_bytes(&mut rest)
                .map_err(|e| CarError(format!("block {number}: bad CID: {e}")))?;
            check_block(&cid, rest)?;
            let key = digest(&cid).expect("a checked block hashes with SHA-256");
            let start = offset - rest.len() as u64;
            index.entry(key).or_insert((start, rest.len() as u32));
        }
        Ok(CarFile {
            roots,
            reader,
            index,
        })
    }

    /// The bytes of the block `cid`, if the file has it (read again from the reader).
    pub fn get(&mut self, cid: &::cid::Cid) -> Result<Option<Vec<u8>>, CarError> {
        let Some(&(start, len)) = digest(cid).and_then(|key| self.index.get(&key)) else {
            return Ok(None);
        };
        let io = |e: std::io::Error| CarError(format!("reading block {cid}: {e}"));
        self.reader.seek(SeekFrom::Start(start)).map_err(io)?;
        let mut bytes = vec![0; len as usize];
        self.reader.read_exact(&mut bytes).map_err(io)?;
        // The file may have changed since it was checked.
        check_block(cid, &bytes)?;
        Ok(Some(bytes))
    }

    /// How many distinct blocks the file has.
    pub fn len(&self) -> usize {
        self.index.len()
    }

    /// Whether the file has no blocks.
    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    /// Every record of a repository export, one at a time in key order, walking the record
    /// tree from the commit at the first root. Memory stays bounded by the tree's depth, not
    /// the repository's size.
    pub fn repo_records(&mut self) -> Result<RepoRecords<'_, Self>, CarError> {
        let root = self.roots.first().copied();
        RepoRecords::new(self, root.as_ref())
    }
}

impl<R: Read + Seek> BlockSource for CarFile<R> {
    type Bytes = Vec<u8>;
    fn block(&mut self, cid: &::cid::Cid) -> Result<Option<Vec<u8>>, CarError> {
        self.get(cid)
    }
}

/// Reads one varint-length section into `buffer`; `None` at a clean end of the file.
fn read_section<'b>(
    reader: &mut impl Read,
    offset: &mut u64,
    buffer: &'b mut Vec<u8>,
    what: &str,
) -> Result<Option<&'b [u8]>, CarError> {
    let io = |e: std::io::Error| CarError(format!("{what}: {e}"));
    let mut varint = [0u8; 10];
    let mut used = 0;
    loop {
        let mut byte = [0u8];
        if reader.read(&mut byte).map_err(io)? == 0 {
            if used == 0 {
                return Ok(None);
            }
            return Err(CarError(format!("{what}: truncated length")));
        }
        varint[used] = byte[0];
        used += 1;
        if byte[0] & 0x80 == 0 || used == varint.len() {
            break;
        }
    }
    let (len, _) = unsigned_varint::decode::u64(&varint[..used])
        .map_err(|e| CarError(format!("{what}: bad length: {e}")))?;
    let len = usize::try_from(len)
        .ok()
        .filter(|len| *len <= MAX_BLOCK)
        .ok_or_else(|| CarError(format!("{what}: {len} bytes, more than the {MAX_BLOCK} read")))?;
    buffer.resize(len, 0);
    reader.read_exact(buffer).map_err(|e| match e.kind() {
        std::io::ErrorKind::UnexpectedEof => {
            CarError(format!("{what}: truncated ({len} bytes announced)"))
        }
        _ => io(e),
    })?;
    *offset += (used + len) as u64;
    Ok(Some(buffer))
}
