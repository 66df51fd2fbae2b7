//! DAG-CBOR, the binary form of the data model: the same generated types as JSON, through
//! `serde_ipld_dagcbor` (canonical key order, tag 42 links, byte strings). Event-stream frames
//! and record CIDs are built on it; CAR files are read in [`car`](super::car).

use super::unknown::Unknown;
use serde::Deserialize;
use std::fmt;

/// The multicodec of DAG-CBOR, the codec of records and repository nodes.
pub const DAG_CBOR: u64 = 0x71;
/// The multicodec of raw bytes (blobs).
pub const RAW: u64 = 0x55;
/// The multihash code of SHA-256, the only hash atproto uses.
const SHA2_256: u64 = 0x12;

/// A DAG-CBOR value that could not be read or written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CborError(String);

impl CborError {
    pub fn new(message: impl fmt::Display) -> Self {
        CborError(message.to_string())
    }
}

impl fmt::Display for CborError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for CborError {}

/// Writes `value` as DAG-CBOR.
pub fn to_vec<T: serde::Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, CborError> {
    serde_ipld_dagcbor::to_vec(value).map_err(CborError::new)
}

/// Reads one DAG-CBOR value, the whole of `bytes`.
pub fn from_slice<'a, T: Deserialize<'a>>(bytes: &'a [u8]) -> Result<T, CborError> {
    serde_ipld_dagcbor::from_slice(bytes).map_err(CborError::new)
}

/// The CID (version 1, SHA-256) of a block of `codec` ([`DAG_CBOR`] or [`RAW`]).
pub fn cid_of(codec: u64, bytes: &[u8]) -> ::cid::Cid {
    use sha2::Digest as _;
    let digest = sha2::Sha256::digest(bytes);
    let hash = ::cid::multihash::Multihash::<64>::wrap(SHA2_256, &digest)
        .expect("a SHA-256 digest fits a 64-byte multihash");
    ::cid::Cid::new_v1(codec, hash)
}

/// The CID of a record (or any value) as a repository stores it: its DAG-CBOR bytes hashed.
pub fn record_cid<T: serde::Serialize + ?Sized>(record: &T) -> Result<::cid::Cid, CborError> {
    to_vec(record).map(|bytes| cid_of(DAG_CBOR, &bytes))
}

// ---------------------------------------------------------------------------------------------
// Event-stream frames

/// What a frame of an event stream (`subscribeRepos`, `subscribeLabels`, ...) carried.
#[derive(Debug, Clone, PartialEq)]
pub enum Frame<M, E> {
    /// A message of a type the lexicon lists, by the header's `t`.
    Message(M),
    /// An error frame (`op: -1`), typed by the subscription's errors: the stream ends after
    /// it.
    Error(E),
    /// A message whose `t` this version of the lexicon does not know, kept whole: the spec
    /// says to skip such messages, not to fail.
    Unknown { t: String, body: Unknown },
}

/// A frame that is not a valid event-stream frame. The stream itself can go on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrameError(String);

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "bad event-stream frame: {}", self.0)
    }
}

impl std::error::Error for FrameError {}

/// The largest frame read by default, in bytes: a commit's blocks are at most 2 MB, and the
/// spec caps frames at 5 MB.
pub const MAX_FRAME: usize = 5 * 1024 * 1024;

#[derive(Deserialize)]
struct Header {
    op: i64,
    t: Option<String>,
}

#[derive(Deserialize)]
struct ErrorBody {
    error: String,
    message: Option<String>,
}

/// The message types of a subscription, read from a frame body by the header's `t`.
/// Generated for every subscription's `Message`.
pub trait FrameMessage: Sized {
    /// Reads the body of a message of type `t`; `None` (nothing read) when `t` is not one of
    /// this subscription's.
    fn read_body<'de, D: serde::Deserializer<'de>>(
        t: &str,
        body: D,
    ) -> Option<Result<Self, D::Error>>;

    /// The message's sequence number (its `seq`), the cursor to resume the stream after it.
    fn seq(&self) -> Option<i64> {
        None
    }

    /// The message as a binary frame (a server sends these): the header with its `t`, then
    /// the body with no `$type`.
    fn write_frame(&self) -> Result<Vec<u8>, CborError>;
}

#[derive(serde::Serialize)]
struct MessageHeader<'a> {
    op: i64,
    t: &'a str,
}

/// A message frame: the header `{op: 1, t}` and the body, two DAG-CBOR values back to back.
pub fn message_frame<T: serde::Serialize + ?Sized>(t: &str, body: &T) -> Result<Vec<u8>, CborError> {
    let mut frame = to_vec(&MessageHeader { op: 1, t })?;
    frame.extend(to_vec(body)?);
    Ok(frame)
}

#[derive(serde::Serialize)]
struct ErrorHeader {
    op: i64,
}

#[derive(serde::Serialize)]
struct ErrorFrameBody<'a> {
    error: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<&'a str>,
}

/// An error frame: the header `{op: -1}` and the body `{error, message}`.
pub fn error_frame(error: &str, message: Option<&str>) -> Vec<u8> {
    let mut frame = to_vec(&ErrorHeader { op: -1 }).expect("a header always writes");
    frame.extend(to_vec(&ErrorFrameBody { error, message }).expect("two strings always write"));
    frame
}

/// Reads one binary frame: a DAG-CBOR header (`{op, t}`) and a DAG-CBOR body, two values back
/// to back in one WebSocket message, each read as the value it is.
pub fn read_frame<M: FrameMessage, E: super::client::XrpcErrorKind>(
    frame: &[u8],
) -> Result<Frame<M, E>, FrameError> {
    if frame.len() > MAX_FRAME {
        return Err(FrameError(format!(
            "{} bytes, more than the {MAX_FRAME} allowed",
            frame.len()
        )));
    }
    let mut de = serde_ipld_dagcbor::de::Deserializer::from_slice(frame);
    let header =
        Header::deserialize(&mut de).map_err(|e| FrameError(format!("header: {e}")))?;
    let frame = match header.op {
        1 => {
            let t = header
                .t
                .ok_or_else(|| FrameError("a message header without `t`".into()))?;
            match M::read_body(&t, &mut de) {
                Some(Ok(message)) => Frame::Message(message),
                Some(Err(e)) => return Err(FrameError(format!("{t} body: {e}"))),
                None => match Unknown::deserialize(&mut de) {
                    Ok(body) => Frame::Unknown { t, body },
                    Err(e) => return Err(FrameError(format!("{t} body: {e}"))),
                },
            }
        }
        -1 => {
            let body = ErrorBody::deserialize(&mut de)
                .map_err(|e| FrameError(format!("error body: {e}")))?;
            Frame::Error(E::from_parts(body.error, body.message))
        }
        op => return Err(FrameError(format!("unknown op {op}"))),
    };
    de.end()
        .map_err(|e| FrameError(format!("after the body: {e}")))?;
    Ok(frame)
}
