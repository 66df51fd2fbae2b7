//! Lexicon string formats: one newtype per format.
//!
//! Reading is lenient: deserializing accepts any JSON string, so that one malformed value in a
//! large response (real network data has datetimes without a timezone) does not fail the whole
//! response. Checking is strict and explicit: `check()` says whether the held text follows the
//! format, and a `validate()` pass calls it. Values built in Rust go through `new`, which checks.
//!
//! The checks follow the atproto specification and its interop vectors. They only look at
//! syntax (the spec asks for the most expansive syntax; an unsupported DID method is an
//! application error, not a format error), never allocate, and never panic.

use std::borrow::Borrow;
use std::fmt;
use std::str::FromStr;

/// Why a string does not follow its Lexicon format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormatError {
    format: &'static str,
    value: String,
    reason: &'static str,
}

impl FormatError {
    /// A format error for `value`, which is not a valid `format` because of `reason`.
    pub fn new(format: &'static str, value: impl Into<String>, reason: &'static str) -> Self {
        Self {
            format,
            value: value.into(),
            reason,
        }
    }

    /// The Lexicon name of the format, such as `"at-uri"`.
    pub fn format(&self) -> &'static str {
        self.format
    }

    /// The rejected text, whole.
    pub fn value(&self) -> &str {
        &self.value
    }

    /// What is wrong with the text.
    pub fn reason(&self) -> &'static str {
        self.reason
    }
}

/// How much of a rejected value `Display` shows: enough to recognise it in a log line.
const DISPLAY_VALUE_LIMIT: usize = 120;

impl fmt::Display for FormatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown = truncate_on_char_boundary(&self.value, DISPLAY_VALUE_LIMIT);
        if shown.len() < self.value.len() {
            write!(
                f,
                "invalid {} {:?}… ({} bytes): {}",
                self.format,
                shown,
                self.value.len(),
                self.reason
            )
        } else {
            write!(f, "invalid {} {:?}: {}", self.format, shown, self.reason)
        }
    }
}

impl std::error::Error for FormatError {}

fn truncate_on_char_boundary(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// What every string-format newtype offers, for code that handles formats generically.
pub trait StringFormat {
    /// The Lexicon name of the format, such as `"at-uri"`.
    const FORMAT: &'static str;

    /// The held text.
    fn as_str(&self) -> &str;

    /// Whether the held text follows the format.
    fn check(&self) -> Result<(), FormatError>;
}

/// Reads any JSON string (and nothing else): the lenient half of every format newtype.
struct AnyString;

impl<'de> serde::de::Visitor<'de> for AnyString {
    type Value = String;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string")
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<String, E> {
        Ok(v.to_owned())
    }

    fn visit_string<E: serde::de::Error>(self, v: String) -> Result<String, E> {
        Ok(v)
    }
}

macro_rules! string_format {
    ($(#[$doc:meta])* $name:ident, $format:literal, $syntax:ident) => {
        $(#[$doc])*
        ///
        /// Deserializing accepts any string; call `check()` to know whether it is valid.
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            #[doc = concat!("The Lexicon name of this format: `\"", $format, "\"`.")]
            pub const FORMAT: &'static str = $format;

            /// Checks the text and wraps it.
            pub fn new(value: impl Into<String>) -> Result<Self, FormatError> {
                let value = value.into();
                match $syntax(&value) {
                    Ok(()) => Ok(Self(value)),
                    Err(reason) => Err(FormatError::new($format, value, reason)),
                }
            }

            /// Wraps the text WITHOUT checking it, as deserializing does.
            ///
            /// For text already known to be valid, or kept as received; `check()` tells later.
            pub fn from_unchecked(value: impl Into<String>) -> Self {
                Self(value.into())
            }

            /// Whether `value` follows this format, without wrapping it.
            pub fn check_str(value: &str) -> Result<(), FormatError> {
                $syntax(value).map_err(|reason| FormatError::new($format, value, reason))
            }

            /// Whether `value` follows this format; never allocates.
            pub fn is_valid_str(value: &str) -> bool {
                $syntax(value).is_ok()
            }

            /// Whether the held text follows this format.
            pub fn check(&self) -> Result<(), FormatError> {
                Self::check_str(&self.0)
            }

            /// Whether the held text follows this format; never allocates.
            pub fn is_valid(&self) -> bool {
                $syntax(&self.0).is_ok()
            }

            /// The held text, exactly as given or received.
            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// The held text, exactly as given or received.
            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl StringFormat for $name {
            const FORMAT: &'static str = $format;

            fn as_str(&self) -> &str {
                &self.0
            }

            fn check(&self) -> Result<(), FormatError> {
                Self::check_str(&self.0)
            }
        }

        impl FromStr for $name {
            type Err = FormatError;

            fn from_str(s: &str) -> Result<Self, FormatError> {
                Self::new(s)
            }
        }

        impl TryFrom<String> for $name {
            type Error = FormatError;

            fn try_from(value: String) -> Result<Self, FormatError> {
                Self::new(value)
            }
        }

        impl TryFrom<&str> for $name {
            type Error = FormatError;

            fn try_from(value: &str) -> Result<Self, FormatError> {
                Self::new(value)
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> String {
                value.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        // Sound because the derived Eq, Ord and Hash are those of the inner String.
        impl Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Debug::fmt(self.0.as_str(), f)
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(&self.0)
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                deserializer.deserialize_string(AnyString).map(Self)
            }
        }
    };
}

string_format!(
    /// A DID (`did:method:identifier`), at most 2048 characters.
    Did,
    "did",
    did_syntax
);
string_format!(
    /// A handle: a DNS name of at least two labels whose last label starts with a letter.
    ///
    /// Handles compare case-insensitively on the network; this type keeps the text as given.
    Handle,
    "handle",
    handle_syntax
);
string_format!(
    /// A namespaced identifier such as `app.bsky.feed.post`.
    Nsid,
    "nsid",
    nsid_syntax
);
string_format!(
    /// A Lexicon `at-uri`: `at://` authority, then optionally a collection and a record key.
    AtUri,
    "at-uri",
    at_uri_syntax
);
string_format!(
    /// Either a DID or a handle.
    AtIdentifier,
    "at-identifier",
    at_identifier_syntax
);
string_format!(
    /// A CID in its string form (syntax only: the spec's loose check, no decoding).
    Cid,
    "cid",
    cid_syntax
);
string_format!(
    /// A datetime, kept as its exact text so that re-encoding never changes a record's hash.
    ///
    /// Ordering compares the text, not the instant.
    Datetime,
    "datetime",
    datetime_syntax
);
string_format!(
    /// A timestamp identifier: 13 base32-sortable characters.
    Tid,
    "tid",
    tid_syntax
);
string_format!(
    /// A record key: 1 to 512 characters of `[A-Za-z0-9._:~-]`, neither `.` nor `..`.
    RecordKey,
    "record-key",
    record_key_syntax
);
string_format!(
    /// A BCP-47 language tag, such as `pt-BR`.
    Language,
    "language",
    language_syntax
);
string_format!(
    /// A generic URI: a scheme, a colon and a non-empty rest without whitespace, at most 8 KiB.
    Uri,
    "uri",
    uri_syntax
);

/// Checks `value` against the Lexicon string format named `format`.
///
/// Returns `None` when the format name is not one Lexicon defines, so a generic validator can
/// tell "unknown format" apart from "invalid value".
pub fn check_format(format: &str, value: &str) -> Option<Result<(), FormatError>> {
    let (name, syntax): (&'static str, fn(&str) -> Syntax) = match format {
        "did" => ("did", did_syntax),
        "handle" => ("handle", handle_syntax),
        "nsid" => ("nsid", nsid_syntax),
        "at-uri" => ("at-uri", at_uri_syntax),
        "at-identifier" => ("at-identifier", at_identifier_syntax),
        "cid" => ("cid", cid_syntax),
        "datetime" => ("datetime", datetime_syntax),
        "tid" => ("tid", tid_syntax),
        "record-key" => ("record-key", record_key_syntax),
        "language" => ("language", language_syntax),
        "uri" => ("uri", uri_syntax),
        _ => return None,
    };
    Some(syntax(value).map_err(|reason| FormatError::new(name, value, reason)))
}

// ---------------------------------------------------------------------------------------------
// Extras on some formats.

impl Cid {
    /// Decodes the CID (multibase, version, codec, multihash) with the `cid` crate, after the
    /// syntax check. `check()` is the syntax check alone, which the interop syntax vectors
    /// define (they call some strings valid CID syntax that are not CIDs); `validate()`,
    /// links and blob references use this.
    pub fn decode(&self) -> Result<::cid::Cid, FormatError> {
        self.check()?;
        ::cid::Cid::try_from(self.as_str())
            .map_err(|error| FormatError::new("cid", self.as_str(), cid_error(&error)))
    }
}

fn cid_error(error: &::cid::Error) -> &'static str {
    match error {
        ::cid::Error::UnknownCodec => "an unknown multicodec",
        ::cid::Error::InputTooShort => "too short to be a CID",
        ::cid::Error::ParsingError => "not a multibase-encoded CID",
        ::cid::Error::InvalidCidVersion => "an unknown CID version",
        ::cid::Error::InvalidCidV0Codec | ::cid::Error::InvalidCidV0Multihash => {
            "not a valid CIDv0"
        }
        ::cid::Error::InvalidCidV0Base => "a CIDv0 must be base58btc",
        ::cid::Error::VarIntDecodeError => "a malformed varint",
        ::cid::Error::InvalidExplicitCidV0 => "an explicit CIDv0",
        _ => "not a CID: its multihash does not decode",
    }
}

impl Did {
    /// The DID method (`plc` in `did:plc:…`), if the text has one.
    pub fn method(&self) -> Option<&str> {
        let rest = self.0.strip_prefix("did:")?;
        rest.split_once(':').map(|(method, _)| method)
    }
}

impl Nsid {
    /// The domain authority: every segment but the last (`app.bsky.feed` in `app.bsky.feed.post`).
    pub fn authority(&self) -> &str {
        self.0
            .rsplit_once('.')
            .map_or("", |(authority, _)| authority)
    }

    /// The name: the last segment (`post` in `app.bsky.feed.post`).
    pub fn name(&self) -> &str {
        self.0
            .rsplit_once('.')
            .map_or(self.0.as_str(), |(_, name)| name)
    }
}

impl AtIdentifier {
    /// Whether the text is a DID (else it is meant as a handle).
    pub fn is_did(&self) -> bool {
        self.0.starts_with("did:")
    }

    /// A copy as a `Did`, when the text is a DID (checked).
    pub fn as_did(&self) -> Option<Did> {
        if self.is_did() && did_syntax(&self.0).is_ok() {
            Some(Did(self.0.clone()))
        } else {
            None
        }
    }

    /// A copy as a `Handle`, when the text is a handle (checked).
    pub fn as_handle(&self) -> Option<Handle> {
        if !self.is_did() && handle_syntax(&self.0).is_ok() {
            Some(Handle(self.0.clone()))
        } else {
            None
        }
    }
}

impl From<Did> for AtIdentifier {
    fn from(did: Did) -> Self {
        Self(did.0)
    }
}

impl From<Handle> for AtIdentifier {
    fn from(handle: Handle) -> Self {
        Self(handle.0)
    }
}

impl AtUri {
    /// Builds `at://{authority}[/{collection}[/{rkey}]]` (a record key needs a collection and
    /// is left out without one). The parts are typed, so only the total length can fail.
    pub fn from_parts(
        authority: &AtIdentifier,
        collection: Option<&Nsid>,
        rkey: Option<&RecordKey>,
    ) -> Result<Self, FormatError> {
        let mut text = format!("at://{authority}");
        if let Some(collection) = collection {
            text.push('/');
            text.push_str(collection.as_str());
            if let Some(rkey) = rkey {
                text.push('/');
                text.push_str(rkey.as_str());
            }
        }
        Self::new(text)
    }

    fn path_parts(&self) -> std::str::Split<'_, char> {
        self.0.strip_prefix("at://").unwrap_or(&self.0).split('/')
    }

    /// The authority (a DID or handle), as text: the part after `at://` up to the first `/`.
    pub fn authority(&self) -> &str {
        self.path_parts().next().unwrap_or("")
    }

    /// The collection NSID, as text, if the URI has one.
    pub fn collection(&self) -> Option<&str> {
        self.path_parts().nth(1)
    }

    /// The record key, as text, if the URI has one.
    pub fn rkey(&self) -> Option<&str> {
        self.path_parts().nth(2)
    }
}

impl Datetime {
    /// The current time, in the spec's preferred form `YYYY-MM-DDTHH:MM:SS.mmmZ`.
    pub fn now() -> Self {
        let millis = match std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
            Ok(since) => i64::try_from(since.as_millis()).unwrap_or(i64::MAX),
            Err(before) => i64::try_from(before.duration().as_millis()).map_or(i64::MIN, |m| -m),
        };
        // A clock outside years 0..=9999 is broken; the epoch is a valid stand-in.
        Self::from_unix_millis(millis).unwrap_or_else(|| Self("1970-01-01T00:00:00.000Z".into()))
    }

    /// The UTC instant `millis` after the Unix epoch, as `YYYY-MM-DDTHH:MM:SS.mmmZ`; `None`
    /// outside years 0 to 9999, which the format cannot write.
    pub fn from_unix_millis(millis: i64) -> Option<Self> {
        let days = millis.div_euclid(86_400_000);
        let in_day = millis.rem_euclid(86_400_000);
        let (year, month, day) = civil_from_days(days);
        if !(0..=9999).contains(&year) {
            return None;
        }
        let (secs, ms) = (in_day / 1000, in_day % 1000);
        Some(Self(format!(
            "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{ms:03}Z",
            secs / 3600,
            secs / 60 % 60,
            secs % 60
        )))
    }
}

/// Year, month, day of a count of days since 1970-01-01 (proleptic Gregorian calendar).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    // Count from 0000-03-01 so that the leap day ends each 400-year era's years.
    let shifted = days + 719_468;
    let era = shifted.div_euclid(146_097);
    let day_of_era = shifted.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * month_from_march + 2) / 5 + 1) as u32;
    let month_number = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    };
    let month = month_number as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

const BASE32_SORTABLE: &[u8; 32] = b"234567abcdefghijklmnopqrstuvwxyz";

impl Tid {
    /// The TID of a timestamp (microseconds since the Unix epoch, 53 bits kept) and a clock
    /// identifier (10 bits kept).
    pub fn from_parts(timestamp_micros: u64, clock_id: u16) -> Self {
        let value = ((timestamp_micros & ((1 << 53) - 1)) << 10) | u64::from(clock_id & 0x3ff);
        let mut text = String::with_capacity(13);
        for i in (0..13).rev() {
            let index = ((value >> (i * 5)) & 0x1f) as usize;
            text.push(char::from(BASE32_SORTABLE[index]));
        }
        Self(text)
    }

    /// A TID for the current time. Two calls in the same microsecond give the same TID: give
    /// each writer its own `clock_id`, or keep the last TID and step past it.
    pub fn now(clock_id: u16) -> Self {
        let micros = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |since| {
                u64::try_from(since.as_micros()).unwrap_or(u64::MAX)
            });
        Self::from_parts(micros, clock_id)
    }

    fn value(&self) -> Option<u64> {
        if tid_syntax(&self.0).is_err() {
            return None;
        }
        let mut value = 0u64;
        for byte in self.0.bytes() {
            let digit = BASE32_SORTABLE.iter().position(|&c| c == byte)? as u64;
            value = (value << 5) | digit;
        }
        Some(value)
    }

    /// The timestamp (microseconds since the Unix epoch), if the text is a valid TID.
    pub fn timestamp_micros(&self) -> Option<u64> {
        self.value().map(|value| value >> 10)
    }

    /// The clock identifier, if the text is a valid TID.
    pub fn clock_id(&self) -> Option<u16> {
        self.value().map(|value| (value & 0x3ff) as u16)
    }
}

// ---------------------------------------------------------------------------------------------
// The checks. Each returns the reason on failure, so `is_valid` never allocates.

type Syntax = Result<(), &'static str>;

const DID_MAX: usize = 2048;
const HANDLE_MAX: usize = 253;
const LABEL_MAX: usize = 63;
const NSID_MAX: usize = 317;
const RECORD_KEY_MAX: usize = 512;
const URI_MAX: usize = 8 * 1024;

fn did_syntax(s: &str) -> Syntax {
    if s.len() > DID_MAX {
        return Err("longer than 2048 characters");
    }
    let rest = s.strip_prefix("did:").ok_or("must start with \"did:\"")?;
    let (method, id) = rest
        .split_once(':')
        .ok_or("missing the method-specific identifier")?;
    if method.is_empty() || !method.bytes().all(|b| b.is_ascii_lowercase()) {
        return Err("the method must be lowercase ASCII letters");
    }
    if id.is_empty() {
        return Err("empty method-specific identifier");
    }
    if !id
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'%' | b'-'))
    {
        return Err("the identifier allows only [A-Za-z0-9._:%-]");
    }
    if id.ends_with(':') || id.ends_with('%') {
        return Err("must not end with ':' or '%'");
    }
    Ok(())
}

/// One DNS label as handles and NSID authorities use it: 1 to 63 of `[A-Za-z0-9-]`, no hyphen
/// at either end.
fn dns_label(label: &str) -> Syntax {
    let bytes = label.as_bytes();
    if bytes.is_empty() {
        return Err("empty segment");
    }
    if bytes.len() > LABEL_MAX {
        return Err("a segment is longer than 63 characters");
    }
    if !bytes
        .iter()
        .all(|&b| b.is_ascii_alphanumeric() || b == b'-')
    {
        return Err("a segment allows only ASCII letters, digits and hyphens");
    }
    if bytes.first() == Some(&b'-') || bytes.last() == Some(&b'-') {
        return Err("a segment must not start or end with a hyphen");
    }
    Ok(())
}

fn handle_syntax(s: &str) -> Syntax {
    if s.len() > HANDLE_MAX {
        return Err("longer than 253 characters");
    }
    let mut labels = 0usize;
    let mut last = "";
    for label in s.split('.') {
        dns_label(label)?;
        labels += 1;
        last = label;
    }
    if labels < 2 {
        return Err("needs at least two segments");
    }
    if !last.bytes().next().is_some_and(|b| b.is_ascii_alphabetic()) {
        return Err("the last segment must start with a letter");
    }
    Ok(())
}

fn nsid_syntax(s: &str) -> Syntax {
    if s.len() > NSID_MAX {
        return Err("longer than 317 characters");
    }
    let (authority, name) = s.rsplit_once('.').ok_or("needs at least three segments")?;
    let mut segments = 0usize;
    for segment in authority.split('.') {
        dns_label(segment)?;
        if segments == 0 && segment.bytes().next().is_some_and(|b| b.is_ascii_digit()) {
            return Err("the first segment must not start with a digit");
        }
        segments += 1;
    }
    if segments < 2 {
        return Err("needs at least three segments");
    }
    if name.is_empty() {
        return Err("empty name segment");
    }
    if name.len() > LABEL_MAX {
        return Err("the name segment is longer than 63 characters");
    }
    if !name.bytes().next().is_some_and(|b| b.is_ascii_alphabetic()) {
        return Err("the name segment must start with a letter");
    }
    if !name.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err("the name segment allows only ASCII letters and digits");
    }
    Ok(())
}

fn at_identifier_syntax(s: &str) -> Syntax {
    if s.starts_with("did:") {
        did_syntax(s)
    } else {
        handle_syntax(s)
    }
}

fn at_uri_syntax(s: &str) -> Syntax {
    if s.len() > URI_MAX {
        return Err("longer than 8 KiB");
    }
    let rest = s.strip_prefix("at://").ok_or("must start with \"at://\"")?;
    let mut parts = rest.split('/');
    let authority = parts.next().unwrap_or_default();
    if at_identifier_syntax(authority).is_err() {
        return Err("the authority is not a valid DID or handle");
    }
    if let Some(collection) = parts.next() {
        if nsid_syntax(collection).is_err() {
            return Err("the collection is not a valid NSID");
        }
        if let Some(rkey) = parts.next() {
            if record_key_syntax(rkey).is_err() {
                return Err("the record key is not valid");
            }
        }
    }
    if parts.next().is_some() {
        return Err("more path segments than collection and record key");
    }
    Ok(())
}

fn record_key_syntax(s: &str) -> Syntax {
    if s.is_empty() {
        return Err("empty");
    }
    if s.len() > RECORD_KEY_MAX {
        return Err("longer than 512 characters");
    }
    if s == "." || s == ".." {
        return Err("must not be \".\" or \"..\"");
    }
    if !s
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b':' | b'~'))
    {
        return Err("allows only [A-Za-z0-9._:~-]");
    }
    Ok(())
}

fn tid_syntax(s: &str) -> Syntax {
    let bytes = s.as_bytes();
    if bytes.len() != 13 {
        return Err("must be 13 characters");
    }
    if !bytes
        .iter()
        .all(|&b| matches!(b, b'2'..=b'7' | b'a'..=b'z'))
    {
        return Err("allows only base32-sortable characters [2-7a-z]");
    }
    // The first character carries the top bit, which must be zero.
    if !matches!(bytes.first(), Some(b'2'..=b'7' | b'a'..=b'j')) {
        return Err("the first character must be one of [2-7a-j]");
    }
    Ok(())
}

fn cid_syntax(s: &str) -> Syntax {
    if s.len() < 8 || s.len() > 256 {
        return Err("must be 8 to 256 characters");
    }
    if !s
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'=')
    {
        return Err("allows only ASCII letters, digits, '+' and '='");
    }
    if s.len() == 46 && s.starts_with("Qm") {
        return Err("CIDv0 is not supported");
    }
    Ok(())
}

/// Lexicon's rule for `uri`, not RFC 3986: a strict parser (such as `fluent-uri`) rejects
/// `at://did:plc:…`, since a DID authority has colons that RFC 3986 reads as a port.
fn uri_syntax(s: &str) -> Syntax {
    if s.len() > URI_MAX {
        return Err("longer than 8 KiB");
    }
    let (scheme, rest) = s.split_once(':').ok_or("missing scheme")?;
    if !scheme
        .bytes()
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic())
    {
        return Err("the scheme must start with a letter");
    }
    if !scheme
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
    {
        return Err("the scheme allows only ASCII letters, digits, '+', '-' and '.'");
    }
    if rest.is_empty() {
        return Err("nothing after the scheme");
    }
    if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("must not contain whitespace or control characters");
    }
    Ok(())
}

/// The number at `bytes[start..start + len]` when those are all ASCII digits.
fn digits(bytes: &[u8], start: usize, len: usize) -> Option<u32> {
    let field = bytes.get(start..start + len)?;
    field.iter().try_fold(0u32, |acc, &b| {
        b.is_ascii_digit().then(|| acc * 10 + u32::from(b - b'0'))
    })
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// `YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM)`: what RFC 3339 and ISO 8601 share, with
/// uppercase `T`/`Z`, a required timezone and no `-00:00`. Fields must name a real instant
/// (no month 13, no 30 February, no leap second) at or after year 0 in UTC.
fn datetime_syntax(s: &str) -> Syntax {
    const SHAPE: &str = "must look like YYYY-MM-DDTHH:MM:SS with a timezone";
    let b = s.as_bytes();
    let year = digits(b, 0, 4).ok_or(SHAPE)?;
    let punct = |at: usize, c: u8| b.get(at) == Some(&c);
    if !(punct(4, b'-') && punct(7, b'-') && punct(10, b'T') && punct(13, b':') && punct(16, b':'))
    {
        return Err(SHAPE);
    }
    let month = digits(b, 5, 2).ok_or(SHAPE)?;
    let day = digits(b, 8, 2).ok_or(SHAPE)?;
    let hour = digits(b, 11, 2).ok_or(SHAPE)?;
    let minute = digits(b, 14, 2).ok_or(SHAPE)?;
    let second = digits(b, 17, 2).ok_or(SHAPE)?;
    let mut at = 19;
    if punct(at, b'.') {
        at += 1;
        let start = at;
        while b.get(at).is_some_and(u8::is_ascii_digit) {
            at += 1;
        }
        if at == start {
            return Err("empty fractional seconds");
        }
    }
    let offset_minutes: i64 = match b.get(at) {
        Some(b'Z') => {
            at += 1;
            0
        }
        Some(&sign @ (b'+' | b'-')) => {
            let hours = digits(b, at + 1, 2).ok_or("timezone offset must be ±HH:MM")?;
            let minutes = digits(b, at + 4, 2).ok_or("timezone offset must be ±HH:MM")?;
            if !punct(at + 3, b':') {
                return Err("timezone offset must be ±HH:MM");
            }
            if hours > 23 || minutes > 59 {
                return Err("timezone offset out of range");
            }
            if sign == b'-' && hours == 0 && minutes == 0 {
                return Err("\"-00:00\" is not allowed");
            }
            at += 6;
            let magnitude = i64::from(hours * 60 + minutes);
            if sign == b'-' { -magnitude } else { magnitude }
        }
        _ => return Err("a timezone (Z or ±HH:MM) is required"),
    };
    if at != b.len() {
        return Err("unexpected text after the timezone");
    }
    if !(1..=12).contains(&month) {
        return Err("month out of range");
    }
    if day < 1 || day > days_in_month(year, month) {
        return Err("day out of range");
    }
    if hour > 23 || minute > 59 || second > 59 {
        return Err("time of day out of range");
    }
    // Only the first hours of year 0 can fall before year 0 once moved to UTC.
    if year == 0 && month == 1 && day == 1 && i64::from(hour * 60 + minute) < offset_minutes {
        return Err("falls before year 0 in UTC");
    }
    Ok(())
}

const GRANDFATHERED: [&str; 26] = [
    "en-GB-oed",
    "i-ami",
    "i-bnn",
    "i-default",
    "i-enochian",
    "i-hak",
    "i-klingon",
    "i-lux",
    "i-mingo",
    "i-navajo",
    "i-pwn",
    "i-tao",
    "i-tay",
    "i-tsu",
    "sgn-BE-FR",
    "sgn-BE-NL",
    "sgn-CH-DE",
    "art-lojban",
    "cel-gaulish",
    "no-bok",
    "no-nyn",
    "zh-guoyu",
    "zh-hakka",
    "zh-min",
    "zh-min-nan",
    "zh-xiang",
];

fn all_alpha(s: &str) -> bool {
    s.bytes().all(|b| b.is_ascii_alphabetic())
}

fn all_alnum(s: &str) -> bool {
    s.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// `x-…`: at least one subtag of 1 to 8 letters or digits.
fn private_use_subtags<'a>(mut rest: impl Iterator<Item = &'a str>) -> Syntax {
    let mut count = 0usize;
    for subtag in rest.by_ref() {
        if subtag.is_empty() || subtag.len() > 8 || !all_alnum(subtag) {
            return Err("a private-use subtag must be 1 to 8 letters or digits");
        }
        count += 1;
    }
    if count == 0 {
        return Err("\"x\" must be followed by a private-use subtag");
    }
    Ok(())
}

/// Well-formed BCP-47 (RFC 5646 §2.1) plus the two "valid" rules that need no registry: no
/// repeated variant and no repeated extension singleton (§2.2.5, §2.2.6). Per the interop
/// vectors, the primary language subtag is 2 or 3 lowercase letters (the reserved 4-letter and
/// registered 5-to-8-letter forms are not accepted); other subtags are case-insensitive.
fn language_syntax(s: &str) -> Syntax {
    if s.bytes().next().is_some_and(|b| b.is_ascii_lowercase())
        && GRANDFATHERED.iter().any(|tag| tag.eq_ignore_ascii_case(s))
    {
        return Ok(());
    }
    let mut subtags = s.split('-');
    let language = subtags.next().unwrap_or_default();
    if language.eq_ignore_ascii_case("x") {
        return private_use_subtags(subtags);
    }
    if !(2..=3).contains(&language.len()) || !language.bytes().all(|b| b.is_ascii_lowercase()) {
        return Err("the language subtag must be 2 or 3 lowercase letters");
    }

    // Stages of the langtag production, in order; each subtag may only move forward.
    const EXTLANG: u8 = 0;
    const SCRIPT: u8 = 1;
    const REGION: u8 = 2;
    const VARIANT: u8 = 3;
    const EXTENSION: u8 = 4;
    let mut stage = EXTLANG;
    let mut extlangs = 0;
    // Byte offset of the next subtag, and where the variants start (to find repeats).
    let mut offset = language.len() + 1;
    let mut variants_start: Option<usize> = None;
    // Singletons seen so far, one bit per digit or letter.
    let mut singletons: u64 = 0;
    let mut extension_subtags = 0usize;

    while let Some(subtag) = subtags.next() {
        let start = offset;
        offset += subtag.len() + 1;
        let len = subtag.len();
        if len == 0 {
            return Err("empty subtag");
        }
        if !all_alnum(subtag) {
            return Err("subtags allow only ASCII letters and digits");
        }
        if len == 1 {
            if stage == EXTENSION && extension_subtags == 0 {
                return Err("an extension singleton must be followed by a subtag");
            }
            let c = subtag
                .bytes()
                .next()
                .unwrap_or_default()
                .to_ascii_lowercase();
            if c == b'x' {
                return private_use_subtags(subtags);
            }
            let bit = if c.is_ascii_digit() {
                c - b'0'
            } else {
                c - b'a' + 10
            };
            if singletons & (1 << bit) != 0 {
                return Err("an extension singleton is repeated");
            }
            singletons |= 1 << bit;
            stage = EXTENSION;
            extension_subtags = 0;
            continue;
        }
        if stage == EXTENSION {
            if len > 8 {
                return Err("an extension subtag must be 2 to 8 letters or digits");
            }
            extension_subtags += 1;
            continue;
        }
        let first_is_digit = subtag.bytes().next().is_some_and(|b| b.is_ascii_digit());
        if stage == EXTLANG && extlangs < 3 && len == 3 && all_alpha(subtag) {
            extlangs += 1;
        } else if stage <= SCRIPT && len == 4 && all_alpha(subtag) {
            stage = REGION;
        } else if stage <= REGION
            && ((len == 2 && all_alpha(subtag))
                || (len == 3 && subtag.bytes().all(|b| b.is_ascii_digit())))
        {
            stage = VARIANT;
        } else if (5..=8).contains(&len) || (len == 4 && first_is_digit) {
            let from = *variants_start.get_or_insert(start);
            let earlier = s.get(from..start.saturating_sub(1)).unwrap_or_default();
            if from < start
                && earlier
                    .split('-')
                    .any(|variant| variant.eq_ignore_ascii_case(subtag))
            {
                return Err("a variant subtag is repeated");
            }
            stage = VARIANT;
        } else {
            return Err("a subtag is out of place or has the wrong length");
        }
    }
    if stage == EXTENSION && extension_subtags == 0 {
        return Err("an extension singleton must be followed by a subtag");
    }
    Ok(())
}
