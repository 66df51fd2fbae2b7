//! Strict checking, separate from lenient reading: `validate()` on a generated value reports
//! every constraint of its lexicon that the value breaks, each with the JSON path of the value.

use super::data::{Blob, Bytes, CidLink};
use super::unknown::Unknown;
use super::formats::StringFormat;
use std::fmt;

/// One broken constraint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// JSON pointer of the offending value (`/embed/images/0/alt`); empty for the value itself.
    pub path: String,
    pub message: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path = if self.path.is_empty() { "/" } else { &self.path };
        write!(f, "{path}: {}", self.message)
    }
}

/// Every broken constraint of a value (never empty).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violations(pub Vec<Violation>);

impl fmt::Display for Violations {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, violation) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{violation}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Violations {}

/// A value that can check itself against its lexicon.
pub trait Validate {
    /// Reports this value's violations into `v`, below `v`'s current path.
    fn validate_into(&self, v: &mut Validator);

    /// All violations of this value, or `Ok` when it satisfies its lexicon.
    fn validate(&self) -> Result<(), Violations> {
        let mut validator = Validator::default();
        self.validate_into(&mut validator);
        validator.finish()
    }
}

/// Collects violations while walking a value; generated `validate_into` bodies call it.
#[derive(Debug, Default)]
pub struct Validator {
    path: Path,
    violations: Vec<Violation>,
}

#[derive(Debug, Clone, Copy)]
enum Segment {
    Key(&'static str),
    Index(usize),
}

/// How many levels of the path are kept inline.
const INLINE_DEPTH: usize = 12;

/// The path walked so far. Its first levels live in the validator itself, so that checking a
/// value that breaks nothing allocates nothing (a server validates every request).
#[derive(Debug)]
struct Path {
    inline: [Segment; INLINE_DEPTH],
    deeper: Vec<Segment>,
    len: usize,
}

impl Default for Path {
    fn default() -> Self {
        Path {
            inline: [Segment::Index(0); INLINE_DEPTH],
            deeper: Vec::new(),
            len: 0,
        }
    }
}

impl Path {
    fn push(&mut self, segment: Segment) {
        match self.inline.get_mut(self.len) {
            Some(slot) => *slot = segment,
            None => self.deeper.push(segment),
        }
        self.len += 1;
    }

    fn pop(&mut self) {
        if self.len > INLINE_DEPTH {
            self.deeper.pop();
        }
        self.len = self.len.saturating_sub(1);
    }

    fn iter(&self) -> impl Iterator<Item = &Segment> {
        self.inline[..self.len.min(INLINE_DEPTH)].iter().chain(&self.deeper)
    }
}

impl Validator {
    pub fn finish(self) -> Result<(), Violations> {
        if self.violations.is_empty() { Ok(()) } else { Err(Violations(self.violations)) }
    }

    /// Reports each field of `fields` (`(name, still absent)`) that was read as a `null` its
    /// lexicon does not allow and has not been given a value since.
    pub fn read_nulls(&mut self, extra: &super::Extra, fields: &[(&'static str, bool)]) {
        for &(name, absent) in fields {
            if absent && extra.read_null(name) {
                self.enter(name);
                self.report("null is not allowed here");
                self.leave();
            }
        }
    }

    /// Goes one level down, to the object member `key`, until [`Validator::leave`].
    /// (Generated code uses this pair rather than closures: fewer bodies to compile.)
    pub fn enter(&mut self, key: &'static str) {
        self.path.push(Segment::Key(key));
    }

    /// Goes one level down, to array index `index`, until [`Validator::leave`].
    pub fn enter_index(&mut self, index: usize) {
        self.path.push(Segment::Index(index));
    }

    /// Goes back up one level.
    pub fn leave(&mut self) {
        self.path.pop();
    }

    /// Runs `f` one level down, at the object member `key`.
    pub fn at(&mut self, key: &'static str, f: impl FnOnce(&mut Self)) {
        self.path.push(Segment::Key(key));
        f(self);
        self.path.pop();
    }

    /// Runs `f` one level down, at array index `index`.
    pub fn index(&mut self, index: usize, f: impl FnOnce(&mut Self)) {
        self.path.push(Segment::Index(index));
        f(self);
        self.path.pop();
    }

    /// Records a violation at the current path.
    pub fn report(&mut self, message: impl Into<String>) {
        let mut path = String::new();
        for segment in self.path.iter() {
            path.push('/');
            match segment {
                Segment::Key(key) => path.push_str(&key.replace('~', "~0").replace('/', "~1")),
                Segment::Index(i) => path.push_str(&i.to_string()),
            }
        }
        self.violations.push(Violation { path, message: message.into() });
    }

    /// String length in UTF-8 bytes.
    pub fn string_length(&mut self, value: &str, min: Option<u64>, max: Option<u64>) {
        self.range_of(value.len() as u64, min, max, "UTF-8 bytes long");
    }

    /// String length in extended grapheme clusters (what a reader sees as characters).
    pub fn graphemes(&mut self, value: &str, min: Option<u64>, max: Option<u64>) {
        // Every grapheme has at least one byte, and at most as many as the text: skip the
        // count when the byte length already settles both bounds.
        let bytes = value.len() as u64;
        let chars_upper = bytes;
        if max.is_none_or(|m| chars_upper <= m) && min.is_none_or(|m| m == 0) {
            return;
        }
        let count = unicode_segmentation::UnicodeSegmentation::graphemes(value, true).count() as u64;
        self.range_of(count, min, max, "graphemes long");
    }

    pub fn integer(&mut self, value: i64, min: Option<i64>, max: Option<i64>) {
        if let Some(min) = min.filter(|m| value < *m) {
            self.report(format!("{value} is less than the minimum {min}"));
        }
        if let Some(max) = max.filter(|m| value > *m) {
            self.report(format!("{value} is more than the maximum {max}"));
        }
    }

    /// A closed set of values (`enum`).
    pub fn one_of<T: PartialEq + fmt::Debug + ?Sized>(&mut self, value: &T, allowed: &[&T]) {
        if !allowed.contains(&value) {
            self.report(format!("{value:?} is not one of {allowed:?}"));
        }
    }

    /// A fixed value (`const`).
    pub fn constant<T: PartialEq + fmt::Debug + ?Sized>(&mut self, value: &T, expected: &T) {
        if value != expected {
            self.report(format!("{value:?} must be {expected:?}"));
        }
    }

    /// Array element count.
    pub fn count(&mut self, len: usize, min: Option<u64>, max: Option<u64>) {
        self.range_of(len as u64, min, max, "items long");
    }

    pub fn bytes_length(&mut self, value: &Bytes, min: Option<u64>, max: Option<u64>) {
        self.range_of(value.len() as u64, min, max, "bytes long");
    }

    /// A blob's MIME type against `accept` (`image/*`, `*/*`, exact types) and its size.
    pub fn blob(&mut self, blob: &Blob, accept: &[&str], max_size: Option<u64>) {
        if let Some(max) = max_size.filter(|m| blob.size > *m) {
            self.report(format!("the blob is {} bytes, more than the maximum {max}", blob.size));
        }
        if !accept.is_empty() && !accept.iter().any(|pattern| mime_matches(pattern, &blob.mime_type)) {
            self.report(format!("MIME type {:?} is not accepted (accepted: {})", blob.mime_type, accept.join(", ")));
        }
    }

    fn range_of(&mut self, n: u64, min: Option<u64>, max: Option<u64>, unit: &str) {
        if let Some(min) = min.filter(|m| n < *m) {
            self.report(format!("{n} {unit}, fewer than the minimum {min}"));
        }
        if let Some(max) = max.filter(|m| n > *m) {
            self.report(format!("{n} {unit}, more than the maximum {max}"));
        }
    }
}

fn mime_matches(pattern: &str, mime: &str) -> bool {
    if pattern == "*/*" {
        return true;
    }
    let essence = mime.split(';').next().unwrap_or(mime).trim();
    match pattern.strip_suffix("/*") {
        Some(kind) => essence.split_once('/').is_some_and(|(k, _)| k.eq_ignore_ascii_case(kind)),
        None => essence.eq_ignore_ascii_case(pattern),
    }
}

impl<T: Validate> Validate for Option<T> {
    fn validate_into(&self, v: &mut Validator) {
        if let Some(value) = self {
            value.validate_into(v);
        }
    }
}

impl<T: Validate + ?Sized> Validate for Box<T> {
    fn validate_into(&self, v: &mut Validator) {
        (**self).validate_into(v);
    }
}

impl<T: Validate> Validate for Vec<T> {
    fn validate_into(&self, v: &mut Validator) {
        for (i, item) in self.iter().enumerate() {
            v.index(i, |v| item.validate_into(v));
        }
    }
}

/// Values with no constraints of their own.
macro_rules! always_valid {
    ($($ty:ty),*) => {$(
        impl Validate for $ty {
            fn validate_into(&self, _: &mut Validator) {}
        }
    )*};
}
always_valid!(bool, i64, String, Bytes);

/// String formats: the text was read leniently; here it must follow the format.
macro_rules! format_checked {
    ($($ty:ident),*) => {$(
        impl Validate for super::formats::$ty {
            fn validate_into(&self, v: &mut Validator) {
                if let Err(error) = StringFormat::check(self) {
                    v.report(error.to_string());
                }
            }
        }
    )*};
}
format_checked!(AtIdentifier, AtUri, Datetime, Did, Handle, Nsid, Tid, RecordKey, Uri, Language);

impl Validate for super::formats::Cid {
    fn validate_into(&self, v: &mut Validator) {
        if let Err(error) = self.decode() {
            v.report(error.to_string());
        }
    }
}

impl Validate for CidLink {
    fn validate_into(&self, v: &mut Validator) {
        if let Err(error) = self.check() {
            v.report(error.to_string());
        }
    }
}

impl Validate for Blob {
    fn validate_into(&self, v: &mut Validator) {
        if let Err(error) = self.check() {
            v.at("ref", |v| v.report(error.to_string()));
        }
    }
}

impl Validate for Unknown {
    fn validate_into(&self, v: &mut Validator) {
        if let Err(error) = self.check() {
            v.report(error.to_string());
        }
    }
}

impl Validate for super::Extra {
    fn validate_into(&self, _: &mut Validator) {}
}
