//! The atproto data model in JSON: bytes, CID links, blobs, and Lexicon `unknown` values, plus
//! a check that any JSON value is valid data-model JSON.
//!
//! The JSON forms are `{"$bytes": …}`, `{"$link": …}` and the blob object; the same types read
//! and write the DAG-CBOR forms (byte strings, tag-42 links) when the serde format is binary.
//! As with string formats, the text of a CID is read as is and checked by `check()`, so one bad
//! CID does not fail a whole response (a link read from DAG-CBOR keeps its binary CID instead);
//! a wrong JSON shape (a `$bytes` that is not a string, extra keys, a blob without `ref`) is an
//! error when reading.

use std::fmt;
use std::sync::OnceLock;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, Visitor};
use serde::ser::{SerializeMap, Serializer};
use serde_json::{Map, Value};

use super::formats::{Cid, FormatError};

/// Why a JSON value is not valid data-model JSON, and where (a JSON pointer).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataModelError {
    path: String,
    reason: &'static str,
}

impl DataModelError {
    pub(crate) fn at_root(reason: &'static str) -> Self {
        Self {
            path: String::new(),
            reason,
        }
    }

    /// Records one more step of the path while the error travels back up.
    fn within(mut self, step: &str) -> Self {
        let mut path = String::with_capacity(step.len() + 1 + self.path.len());
        path.push('/');
        for c in step.chars() {
            match c {
                '~' => path.push_str("~0"),
                '/' => path.push_str("~1"),
                c => path.push(c),
            }
        }
        path.push_str(&self.path);
        self.path = path;
        self
    }

    /// Where the problem is, as a JSON pointer (`""` is the value itself).
    pub fn path(&self) -> &str {
        &self.path
    }

    /// What is wrong.
    pub fn reason(&self) -> &'static str {
        self.reason
    }
}

impl fmt::Display for DataModelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            write!(f, "invalid data-model value: {}", self.reason)
        } else {
            write!(
                f,
                "invalid data-model value at {}: {}",
                self.path, self.reason
            )
        }
    }
}

impl std::error::Error for DataModelError {}

// ---------------------------------------------------------------------------------------------
// Base64 (standard alphabet): read with or without padding, written without, as the spec's
// examples are. Unused low bits of the last character may be non-zero (non-canonical input,
// which real data has), and are ignored.

const BASE64: base64::engine::GeneralPurpose = base64::engine::GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    base64::engine::GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true),
);

fn base64_decode(text: &str) -> Result<Vec<u8>, &'static str> {
    use base64::Engine as _;
    // Padding is optional, but when present it must be whole (`aG==`, never `aG=`), which
    // the engine's "indifferent" mode does not check.
    if text.ends_with('=') && text.len() % 4 != 0 {
        return Err("base64 text is wrongly padded");
    }
    BASE64.decode(text).map_err(|error| match error {
        base64::DecodeError::InvalidLength(_) => "base64 text has a dangling character",
        base64::DecodeError::InvalidPadding => "base64 text is wrongly padded",
        _ => "not standard base64",
    })
}

fn base64_encode_unpadded(bytes: &[u8]) -> String {
    use base64::Engine as _;
    BASE64.encode(bytes)
}

// ---------------------------------------------------------------------------------------------
// Keys and small values read without allocating.

/// The object keys the data-model forms care about; anything else is `Other`.
enum Key {
    Bytes,
    Link,
    Type,
    Ref,
    MimeType,
    Size,
    LegacyCid,
    Other,
}

impl<'de> de::Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl Visitor<'_> for KeyVisitor {
            type Value = Key;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object key")
            }
            fn visit_str<E: de::Error>(self, key: &str) -> Result<Key, E> {
                Ok(match key {
                    "$bytes" => Key::Bytes,
                    "$link" => Key::Link,
                    "$type" => Key::Type,
                    "ref" => Key::Ref,
                    "mimeType" => Key::MimeType,
                    "size" => Key::Size,
                    "cid" => Key::LegacyCid,
                    _ => Key::Other,
                })
            }
        }
        deserializer.deserialize_identifier(KeyVisitor)
    }
}

/// Reads a base64 string straight into bytes.
struct Base64Seed;

impl<'de> DeserializeSeed<'de> for Base64Seed {
    type Value = Vec<u8>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Vec<u8>, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl Visitor<'_> for Base64Seed {
    type Value = Vec<u8>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a base64 string")
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Vec<u8>, E> {
        base64_decode(text).map_err(E::custom)
    }
}

/// Reads a string and says whether it is exactly `"blob"`.
struct IsBlobType;

impl<'de> DeserializeSeed<'de> for IsBlobType {
    type Value = bool;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<bool, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl Visitor<'_> for IsBlobType {
    type Value = bool;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a $type string")
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<bool, E> {
        Ok(text == "blob")
    }
}

fn duplicate<E: de::Error>(key: &'static str) -> E {
    E::custom(format_args!("duplicate key `{key}`"))
}

// ---------------------------------------------------------------------------------------------
// Bytes

/// Lexicon `bytes`: raw bytes, `{"$bytes": "<base64>"}` in JSON.
///
/// Reads padded and unpadded standard base64; writes unpadded, as the spec's examples do.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Bytes(Vec<u8>);

impl Bytes {
    /// Wraps raw bytes.
    pub fn new(bytes: impl Into<Vec<u8>>) -> Self {
        Self(bytes.into())
    }

    /// Decodes standard base64, padded or not.
    pub fn from_base64(text: &str) -> Result<Self, DataModelError> {
        base64_decode(text)
            .map(Self)
            .map_err(DataModelError::at_root)
    }

    /// The bytes as unpadded standard base64, the text of the JSON form.
    pub fn to_base64(&self) -> String {
        base64_encode_unpadded(&self.0)
    }

    /// The raw bytes.
    pub fn as_slice(&self) -> &[u8] {
        &self.0
    }

    /// The raw bytes.
    pub fn into_vec(self) -> Vec<u8> {
        self.0
    }

    /// The number of raw bytes (what Lexicon `minLength`/`maxLength` count).
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are no bytes.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<Vec<u8>> for Bytes {
    fn from(bytes: Vec<u8>) -> Self {
        Self(bytes)
    }
}

impl From<&[u8]> for Bytes {
    fn from(bytes: &[u8]) -> Self {
        Self(bytes.to_vec())
    }
}

impl From<Bytes> for Vec<u8> {
    fn from(bytes: Bytes) -> Self {
        bytes.0
    }
}

impl AsRef<[u8]> for Bytes {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Bytes").field(&self.to_base64()).finish()
    }
}

impl serde::Serialize for Bytes {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if !serializer.is_human_readable() {
            // DAG-CBOR: a byte string.
            return serializer.serialize_bytes(&self.0);
        }
        let mut map = serializer.serialize_map(Some(1))?;
        map.serialize_entry("$bytes", &self.to_base64())?;
        map.end()
    }
}

impl<'de> de::Deserialize<'de> for Bytes {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct BytesVisitor;
        impl<'de> Visitor<'de> for BytesVisitor {
            type Value = Bytes;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a {\"$bytes\": \"<base64>\"} object")
            }
            fn visit_bytes<E: de::Error>(self, bytes: &[u8]) -> Result<Bytes, E> {
                Ok(Bytes(bytes.to_vec()))
            }
            fn visit_byte_buf<E: de::Error>(self, bytes: Vec<u8>) -> Result<Bytes, E> {
                Ok(Bytes(bytes))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Bytes, A::Error> {
                let mut bytes = None;
                while let Some(key) = map.next_key::<Key>()? {
                    match key {
                        Key::Bytes if bytes.is_some() => return Err(duplicate("$bytes")),
                        Key::Bytes => bytes = Some(map.next_value_seed(Base64Seed)?),
                        _ => return Err(de::Error::custom("a $bytes object has one key only")),
                    }
                }
                bytes
                    .map(Bytes)
                    .ok_or_else(|| de::Error::missing_field("$bytes"))
            }
        }
        if deserializer.is_human_readable() {
            deserializer.deserialize_map(BytesVisitor)
        } else {
            deserializer.deserialize_byte_buf(BytesVisitor)
        }
    }
}

// ---------------------------------------------------------------------------------------------
// CidLink

/// Lexicon `cid-link`: a link to other content, `{"$link": "<cid>"}` in JSON and a binary CID
/// (tag 42) in DAG-CBOR.
///
/// A link keeps the form it was read in, so that writing it back loses nothing:
/// - read from JSON (or made with [`new`](Self::new) or `TryFrom<&str>`), it holds the CID
///   text as given and writes it back unchanged, even a non-canonical multibase or text that is
///   no CID at all (read leniently, as string formats are: [`check`](Self::check) says so);
/// - read from DAG-CBOR (or made with [`from_cid`](Self::from_cid)), it holds the binary CID
///   and writes back the same bytes, and in JSON its canonical text (base32; base58 for a
///   CIDv0). That text is made only when asked for ([`cid`](Self::cid),
///   [`as_str`](Self::as_str), `Display`, `Debug`, JSON) and then kept, so that reading a
///   firehose commit and fetching its blocks by link ([`decode`](Self::decode)) never
///   formats a CID.
///
/// Equality, hashing and ordering are those of the linked CID, as DAG-CBOR sees it: two links
/// are equal when they decode to the same CID, whatever form or multibase they were read in
/// (so equal links write the same DAG-CBOR, and records holding them have the same CID); a
/// link that does not decode is equal only to one with the same text. Links that decode sort
/// first, by CID, then the others by text. Comparing or hashing a link held as text decodes
/// it (links with the same text compare equal without that); links read from DAG-CBOR compare
/// and hash their binary CIDs.
///
/// The text of a binary link is kept in a `OnceLock` (`cid()` and `as_str()` return references
/// to it, so it must live in the link), which clippy's `mutable_key_type` sees as mutability in
/// a map or set keyed by links. Hashing and equality never read it, so that lint is a false
/// positive here: allow it, or key by [`decode`](Self::decode)'s binary CID.
#[derive(Clone)]
pub struct CidLink(Link);

#[derive(Clone)]
enum Link {
    /// As read from JSON, or given as text.
    Text(Cid),
    /// As read from DAG-CBOR, or given as a binary CID. Boxed, so that a link (and every blob
    /// and message holding one) stays the size of a `String`.
    Binary(Box<BinaryCid>),
}

#[derive(Clone)]
struct BinaryCid {
    cid: ::cid::Cid,
    /// The canonical text, made the first time it is asked for: [`CidLink::cid`] and
    /// [`CidLink::as_str`] hand out references to it, so it has to be kept somewhere.
    text: OnceLock<Cid>,
}

impl BinaryCid {
    fn text(&self) -> &Cid {
        self.text
            .get_or_init(|| Cid::from_unchecked(self.cid.to_string()))
    }

    /// What [`Cid::decode`] would say of the text: atproto links are CIDv1, and the text of a
    /// CIDv1 always passes the syntax check and decodes back to it.
    fn decode(&self) -> Result<::cid::Cid, FormatError> {
        match self.cid.version() {
            ::cid::Version::V1 => Ok(self.cid),
            ::cid::Version::V0 => Err(FormatError::new(
                "cid",
                self.text().as_str(),
                "CIDv0 is not supported",
            )),
        }
    }
}

/// What links are compared and hashed by: the CID when the link decodes, else its text.
#[derive(PartialEq, Eq, PartialOrd, Ord, Hash)]
enum LinkIdentity<'a> {
    Cid(std::borrow::Cow<'a, ::cid::Cid>),
    Text(&'a str),
}

impl CidLink {
    /// A link to the CID text `cid`, kept as given.
    pub fn new(cid: Cid) -> Self {
        Self(Link::Text(cid))
    }

    /// A link to a binary CID, as DAG-CBOR carries it; its text is made only when asked for.
    pub fn from_cid(cid: ::cid::Cid) -> Self {
        Self(Link::Binary(Box::new(BinaryCid {
            cid,
            text: OnceLock::new(),
        })))
    }

    /// The linked CID as text: as read for a link read from text, the canonical text
    /// (made once, then kept) for a link read from DAG-CBOR.
    pub fn cid(&self) -> &Cid {
        match &self.0 {
            Link::Text(cid) => cid,
            Link::Binary(binary) => binary.text(),
        }
    }

    /// The linked CID as text (see [`cid`](Self::cid)).
    pub fn into_cid(self) -> Cid {
        match self.0 {
            Link::Text(cid) => cid,
            Link::Binary(binary) => {
                let BinaryCid { cid, text } = *binary;
                text.into_inner()
                    .unwrap_or_else(|| Cid::from_unchecked(cid.to_string()))
            }
        }
    }

    /// The CID text (see [`cid`](Self::cid)).
    pub fn as_str(&self) -> &str {
        self.cid().as_str()
    }

    /// The linked CID in binary, to look a block up by (as `Car::get_link` does). Free for a
    /// link read from DAG-CBOR; a link held as text is decoded, as [`Cid::decode`] does. An
    /// error when the link is not a CID, or is a CIDv0 (which atproto does not use).
    pub fn decode(&self) -> Result<::cid::Cid, FormatError> {
        match &self.0 {
            Link::Text(cid) => cid.decode(),
            Link::Binary(binary) => binary.decode(),
        }
    }

    /// Whether the link is a CID (see [`decode`](Self::decode)).
    pub fn check(&self) -> Result<(), FormatError> {
        self.decode().map(drop)
    }

    /// Whether the link is a CID (see [`decode`](Self::decode)).
    pub fn is_valid(&self) -> bool {
        match &self.0 {
            Link::Text(cid) => cid.decode().is_ok(),
            Link::Binary(binary) => binary.cid.version() == ::cid::Version::V1,
        }
    }

    fn identity(&self) -> LinkIdentity<'_> {
        use std::borrow::Cow;
        match &self.0 {
            Link::Binary(binary) if binary.cid.version() == ::cid::Version::V1 => {
                LinkIdentity::Cid(Cow::Borrowed(&binary.cid))
            }
            Link::Binary(binary) => LinkIdentity::Text(binary.text().as_str()),
            Link::Text(text) => match text.decode() {
                Ok(cid) => LinkIdentity::Cid(Cow::Owned(cid)),
                Err(_) => LinkIdentity::Text(text.as_str()),
            },
        }
    }
}

impl PartialEq for CidLink {
    fn eq(&self, other: &Self) -> bool {
        match (&self.0, &other.0) {
            (Link::Text(a), Link::Text(b)) if a == b => true,
            // The text of a CID is one-to-one with it, CIDv0 or not.
            (Link::Binary(a), Link::Binary(b)) => a.cid == b.cid,
            _ => self.identity() == other.identity(),
        }
    }
}

impl Eq for CidLink {}

impl std::hash::Hash for CidLink {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.identity().hash(state);
    }
}

impl PartialOrd for CidLink {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for CidLink {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        match (&self.0, &other.0) {
            (Link::Text(a), Link::Text(b)) if a == b => std::cmp::Ordering::Equal,
            _ => self.identity().cmp(&other.identity()),
        }
    }
}

impl From<Cid> for CidLink {
    fn from(cid: Cid) -> Self {
        Self::new(cid)
    }
}

impl From<::cid::Cid> for CidLink {
    fn from(cid: ::cid::Cid) -> Self {
        Self::from_cid(cid)
    }
}

impl TryFrom<&str> for CidLink {
    type Error = FormatError;

    fn try_from(cid: &str) -> Result<Self, FormatError> {
        Cid::new(cid).map(Self::new)
    }
}

impl fmt::Debug for CidLink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("CidLink").field(self.cid()).finish()
    }
}

impl fmt::Display for CidLink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Link::Text(cid) => f.write_str(cid.as_str()),
            Link::Binary(binary) => match binary.text.get() {
                Some(text) => f.write_str(text.as_str()),
                None => fmt::Display::fmt(&binary.cid, f),
            },
        }
    }
}

impl serde::Serialize for CidLink {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if !serializer.is_human_readable() {
            return match &self.0 {
                Link::Text(text) => serialize_binary_link(text.as_str(), serializer),
                Link::Binary(binary) => serialize_cid(&binary.cid, serializer),
            };
        }
        let mut map = serializer.serialize_map(Some(1))?;
        map.serialize_entry("$link", &LinkText(self))?;
        map.end()
    }
}

/// The text of a link, written without keeping it.
struct LinkText<'a>(&'a CidLink);

impl serde::Serialize for LinkText<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match &self.0.0 {
            Link::Text(text) => serializer.serialize_str(text.as_str()),
            Link::Binary(binary) => match binary.text.get() {
                Some(text) => serializer.serialize_str(text.as_str()),
                None => serializer.collect_str(&binary.cid),
            },
        }
    }
}

/// The newtype name under which DAG-CBOR serializers (`serde_ipld_dagcbor`, by the `cid` crate's
/// `CID_SERDE_PRIVATE_IDENTIFIER`) carry a CID, written as CBOR tag 42.
const BINARY_CID: &str = "$__private__serde__identifier__for__cid";

/// The raw bytes of a CID, as the binary serializer wants them inside [`BINARY_CID`].
struct CidBytes<'a>(&'a [u8]);

impl serde::Serialize for CidBytes<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_bytes(self.0)
    }
}

/// More than the longest CID the `cid` crate holds: three 10-byte varints, a one-byte digest
/// length and a 64-byte digest.
const MAX_CID_BYTES: usize = 128;

/// Writes a binary link (the serializer adds the tag and the leading zero byte).
fn serialize_cid<S: Serializer>(cid: &::cid::Cid, serializer: S) -> Result<S::Ok, S::Error> {
    let mut buffer = [0u8; MAX_CID_BYTES];
    let len = cid
        .write_bytes(&mut buffer[..])
        .map_err(<S::Error as serde::ser::Error>::custom)?;
    serializer.serialize_newtype_struct(BINARY_CID, &CidBytes(&buffer[..len]))
}

/// Writes the CID `text` as a binary link; text that is not a CID cannot be written so.
fn serialize_binary_link<S: Serializer>(text: &str, serializer: S) -> Result<S::Ok, S::Error> {
    let cid = Cid::from_unchecked(text)
        .decode()
        .map_err(<S::Error as serde::ser::Error>::custom)?;
    serialize_cid(&cid, serializer)
}

/// Reads a binary link (CBOR tag 42) as its CID.
struct BinaryLink;

impl<'de> Visitor<'de> for BinaryLink {
    type Value = ::cid::Cid;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a CID link")
    }
    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<::cid::Cid, D::Error> {
        d.deserialize_bytes(self)
    }
    fn visit_bytes<E: de::Error>(self, bytes: &[u8]) -> Result<::cid::Cid, E> {
        ::cid::Cid::try_from(bytes)
            .map_err(|e| E::custom(format_args!("a link that is not a CID: {e}")))
    }
}

impl<'de> de::Deserialize<'de> for CidLink {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct LinkVisitor;
        impl<'de> Visitor<'de> for LinkVisitor {
            type Value = CidLink;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a {\"$link\": \"<cid>\"} object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<CidLink, A::Error> {
                let mut cid: Option<Cid> = None;
                while let Some(key) = map.next_key::<Key>()? {
                    match key {
                        Key::Link if cid.is_some() => return Err(duplicate("$link")),
                        Key::Link => cid = Some(map.next_value()?),
                        _ => return Err(de::Error::custom("a $link object has one key only")),
                    }
                }
                cid.map(CidLink::new)
                    .ok_or_else(|| de::Error::missing_field("$link"))
            }
        }
        if deserializer.is_human_readable() {
            deserializer.deserialize_map(LinkVisitor)
        } else {
            deserializer
                .deserialize_newtype_struct(BINARY_CID, BinaryLink)
                .map(CidLink::from_cid)
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Blob

/// Lexicon `blob`: a reference to uploaded binary content with its MIME type and size.
///
/// JSON: `{"$type": "blob", "ref": {"$link": …}, "mimeType": …, "size": …}`. The legacy form
/// `{"cid": …, "mimeType": …}` of records from 2023 is read too, and written back in the form
/// it was read (so the record's bytes, and its CID, stay the same); values built in Rust use
/// the current form. A legacy blob has no size: it reads with `size` 0 and `is_legacy()` true.
/// Re-fetch the blob when its real size matters (for example before re-posting it).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Blob {
    /// The CID of the content.
    pub r#ref: CidLink,
    /// The MIME type, such as `image/jpeg`.
    pub mime_type: String,
    /// The size in bytes (0 when read from the legacy form, which has none).
    pub size: u64,
    legacy: Legacy,
}

/// How a blob read in the legacy form is written back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Legacy {
    /// Not legacy: written in the current form.
    No,
    /// `{cid, mimeType}`, as the legacy form is specified.
    Plain,
    /// A legacy object that carried a `size` too; it is written back with it.
    WithSize,
}

impl Blob {
    /// A blob reference in the current (typed) form.
    pub fn new(r#ref: CidLink, mime_type: impl Into<String>, size: u64) -> Self {
        Self {
            r#ref,
            mime_type: mime_type.into(),
            size,
            legacy: Legacy::No,
        }
    }

    /// The CID of the content.
    pub fn cid(&self) -> &Cid {
        self.r#ref.cid()
    }

    /// Whether this was read from the legacy `{cid, mimeType}` form (its size is unknown).
    pub fn is_legacy(&self) -> bool {
        self.legacy != Legacy::No
    }

    /// Whether the CID text is a valid CID.
    pub fn check(&self) -> Result<(), FormatError> {
        self.r#ref.check()
    }
}

impl serde::Serialize for Blob {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if self.legacy != Legacy::No {
            let with_size = self.legacy == Legacy::WithSize;
            let mut map = serializer.serialize_map(Some(2 + usize::from(with_size)))?;
            map.serialize_entry("cid", self.r#ref.as_str())?;
            map.serialize_entry("mimeType", &self.mime_type)?;
            if with_size {
                map.serialize_entry("size", &self.size)?;
            }
            return map.end();
        }
        let mut map = serializer.serialize_map(Some(4))?;
        map.serialize_entry("$type", "blob")?;
        map.serialize_entry("ref", &self.r#ref)?;
        map.serialize_entry("mimeType", &self.mime_type)?;
        map.serialize_entry("size", &self.size)?;
        map.end()
    }
}

impl<'de> de::Deserialize<'de> for Blob {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct BlobVisitor;
        impl<'de> Visitor<'de> for BlobVisitor {
            type Value = Blob;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a blob object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Blob, A::Error> {
                let mut typed = false;
                let mut r#ref: Option<CidLink> = None;
                let mut mime_type: Option<String> = None;
                let mut size: Option<u64> = None;
                let mut legacy_cid: Option<Cid> = None;
                while let Some(key) = map.next_key::<Key>()? {
                    match key {
                        Key::Type if typed => return Err(duplicate("$type")),
                        Key::Type => {
                            if !map.next_value_seed(IsBlobType)? {
                                return Err(de::Error::custom("a blob's $type must be \"blob\""));
                            }
                            typed = true;
                        }
                        Key::Ref if r#ref.is_some() => return Err(duplicate("ref")),
                        Key::Ref => r#ref = Some(map.next_value()?),
                        Key::MimeType if mime_type.is_some() => {
                            return Err(duplicate("mimeType"));
                        }
                        Key::MimeType => mime_type = Some(map.next_value()?),
                        Key::Size if size.is_some() => return Err(duplicate("size")),
                        Key::Size => size = Some(map.next_value()?),
                        Key::LegacyCid if legacy_cid.is_some() => return Err(duplicate("cid")),
                        Key::LegacyCid => legacy_cid = Some(map.next_value()?),
                        // Other keys ($-prefixed ones are reserved) are ignored, as the spec says.
                        _ => {
                            map.next_value::<de::IgnoredAny>()?;
                        }
                    }
                }
                let mime_type = mime_type.ok_or_else(|| de::Error::missing_field("mimeType"))?;
                // The typed form; its `$type` is not demanded, since `ref` is unambiguous.
                if typed || r#ref.is_some() {
                    let r#ref = r#ref.ok_or_else(|| de::Error::missing_field("ref"))?;
                    let size = size.ok_or_else(|| de::Error::missing_field("size"))?;
                    return Ok(Blob::new(r#ref, mime_type, size));
                }
                match legacy_cid {
                    Some(cid) => Ok(Blob {
                        r#ref: CidLink::new(cid),
                        mime_type,
                        legacy: if size.is_some() { Legacy::WithSize } else { Legacy::Plain },
                        size: size.unwrap_or(0),
                    }),
                    None => Err(de::Error::missing_field("ref")),
                }
            }
        }
        deserializer.deserialize_map(BlobVisitor)
    }
}

// ---------------------------------------------------------------------------------------------
// Data-model values in binary form

/// A JSON value in the data model's JSON form, written so that binary formats (DAG-CBOR) get
/// real byte strings for `{"$bytes"}` and real links for `{"$link"}`; text formats get the
/// value as it is. Values kept whole ([`Unknown`](super::Unknown), `Extra`) are held in the JSON form and written
/// through this.
pub struct DataModel<'a>(pub &'a Value);

/// [`DataModel`] for the members of an object.
pub struct DataModelMap<'a>(pub &'a Map<String, Value>);

impl serde::Serialize for DataModel<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if serializer.is_human_readable() {
            return self.0.serialize(serializer);
        }
        match self.0 {
            Value::Object(map) => DataModelMap(map).serialize(serializer),
            Value::Array(items) => {
                use serde::ser::SerializeSeq;
                let mut seq = serializer.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(&DataModel(item))?;
                }
                seq.end()
            }
            other => other.serialize(serializer),
        }
    }
}

impl serde::Serialize for DataModelMap<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if serializer.is_human_readable() {
            return self.0.serialize(serializer);
        }
        if self.0.len() == 1 {
            match self.0.iter().next() {
                Some((key, Value::String(text))) if key == "$bytes" => {
                    let bytes = base64_decode(text).map_err(<S::Error as serde::ser::Error>::custom)?;
                    return serializer.serialize_bytes(&bytes);
                }
                Some((key, Value::String(text))) if key == "$link" => {
                    return serialize_binary_link(text, serializer);
                }
                _ => {}
            }
        }
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (key, value) in self.0 {
            map.serialize_entry(key, &DataModel(value))?;
        }
        map.end()
    }
}

/// The JSON form of a byte string read from a binary format.
pub(crate) fn bytes_value(bytes: &[u8]) -> Value {
    let mut map = Map::new();
    map.insert("$bytes".to_owned(), Value::String(base64_encode_unpadded(bytes)));
    Value::Object(map)
}

/// Reads a binary link into its JSON form, `{"$link": "<cid>"}`.
pub(crate) fn link_value<'de, D: Deserializer<'de>>(d: D) -> Result<Value, D::Error> {
    let cid = d.deserialize_bytes(BinaryLink)?;
    let mut map = Map::new();
    map.insert("$link".to_owned(), Value::String(cid.to_string()));
    Ok(Value::Object(map))
}

// ---------------------------------------------------------------------------------------------
// Data-model checks on plain JSON

/// Checks that `value` is a valid data-model document: an object (as records and `unknown`
/// values are) that passes `check_data_value`.
pub fn check_data_model(value: &Value) -> Result<(), DataModelError> {
    match value {
        Value::Object(map) => check_object(map),
        _ => Err(DataModelError::at_root("the top level must be an object")),
    }
}

/// Checks that `value`, at any level, is valid data-model JSON: integers only (an integral
/// float such as `123.0` is accepted, since JSON cannot tell them apart), well-formed `$bytes`
/// and `$link` objects, blobs with `ref`, `mimeType` and an integer `size`, and a `$type`
/// that is a non-empty string where present.
pub fn check_data_value(value: &Value) -> Result<(), DataModelError> {
    match value {
        Value::Null | Value::Bool(_) | Value::String(_) => Ok(()),
        Value::Number(number) => check_number(number),
        Value::Array(items) => {
            for (index, item) in items.iter().enumerate() {
                check_data_value(item).map_err(|e| e.within(&index.to_string()))?;
            }
            Ok(())
        }
        Value::Object(map) => check_object(map),
    }
}

fn check_number(number: &serde_json::Number) -> Result<(), DataModelError> {
    if number.is_i64() {
        return Ok(());
    }
    if number.is_u64() {
        return Err(DataModelError::at_root(
            "integer out of the 64-bit signed range",
        ));
    }
    // 2^63 as a float: integral floats below it (and at least -2^63) are integers in range.
    const LIMIT: f64 = 9_223_372_036_854_775_808.0;
    match number.as_f64() {
        Some(f) if f.fract() == 0.0 && (-LIMIT..LIMIT).contains(&f) => Ok(()),
        _ => Err(DataModelError::at_root(
            "floats are not part of the data model",
        )),
    }
}

pub(crate) fn check_object(map: &Map<String, Value>) -> Result<(), DataModelError> {
    if let Some(bytes) = map.get("$bytes") {
        if map.len() != 1 {
            return Err(DataModelError::at_root("a $bytes object has one key only"));
        }
        let text = bytes
            .as_str()
            .ok_or_else(|| DataModelError::at_root("$bytes must be a string").within("$bytes"))?;
        return base64_decode(text)
            .map(drop)
            .map_err(|reason| DataModelError::at_root(reason).within("$bytes"));
    }
    if let Some(link) = map.get("$link") {
        if map.len() != 1 {
            return Err(DataModelError::at_root("a $link object has one key only"));
        }
        let text = link
            .as_str()
            .ok_or_else(|| DataModelError::at_root("$link must be a string").within("$link"))?;
        if let Err(error) = Cid::from_unchecked(text).decode() {
            return Err(DataModelError::at_root(error.reason()).within("$link"));
        }
        return Ok(());
    }
    if let Some(type_name) = map.get("$type") {
        match type_name.as_str() {
            Some("") => {
                return Err(DataModelError::at_root("$type must not be empty").within("$type"));
            }
            Some("blob") => check_blob_fields(map)?,
            Some(_) => {}
            None => {
                return Err(DataModelError::at_root("$type must be a string").within("$type"));
            }
        }
    }
    for (key, value) in map {
        check_data_value(value).map_err(|e| e.within(key))?;
    }
    Ok(())
}

fn check_blob_fields(map: &Map<String, Value>) -> Result<(), DataModelError> {
    match map.get("ref") {
        Some(Value::Object(link)) if link.contains_key("$link") => {}
        Some(_) => {
            return Err(
                DataModelError::at_root("a blob's ref must be a $link object").within("ref"),
            );
        }
        None => return Err(DataModelError::at_root("a blob needs a ref")),
    }
    match map.get("mimeType") {
        Some(Value::String(_)) => {}
        Some(_) => {
            return Err(
                DataModelError::at_root("a blob's mimeType must be a string").within("mimeType"),
            );
        }
        None => return Err(DataModelError::at_root("a blob needs a mimeType")),
    }
    match map.get("size") {
        Some(Value::Number(n)) if n.is_u64() => Ok(()),
        Some(_) => Err(
            DataModelError::at_root("a blob's size must be a non-negative integer").within("size"),
        ),
        None => Err(DataModelError::at_root("a blob needs a size")),
    }
}
