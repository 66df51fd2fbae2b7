//! The typed Lexicon language: one variant per schema type of the spec.
//!
//! Built from the serde shape in [`super::raw`] by [`super::load`], which keeps JSON pointers so
//! every later problem can be located. Field names follow the spec.

use indexmap::IndexMap;
use std::path::PathBuf;

/// One lexicon document (`{"lexicon": 1, "id": ..., "defs": {...}}`).
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    /// Where the document came from, as the caller named it (used in diagnostics).
    pub file: PathBuf,
    /// The source text, kept to turn JSON pointers into line:column.
    pub text: String,
    /// The path relative to the lexicon root, when known (the `id`, not the path, names it).
    pub relative_path: Option<PathBuf>,
    pub lexicon: u32,
    pub id: String,
    pub revision: Option<u64>,
    pub description: Option<String>,
    /// Defs in source order; generated items follow it.
    pub defs: IndexMap<String, Schema>,
}

/// Any schema node: a def, a property, an array item, a body schema.
#[derive(Debug, Clone, PartialEq)]
pub enum Schema {
    Boolean(Boolean),
    Integer(Integer),
    String(StringSchema),
    Bytes(Bytes),
    CidLink(Meta),
    Blob(Blob),
    Array(Array),
    Object(Object),
    Params(Object),
    Token(Meta),
    Ref(Ref),
    Union(Union),
    Unknown(Meta),
    Record(Record),
    Query(Endpoint),
    Procedure(Endpoint),
    Subscription(Subscription),
    PermissionSet(PermissionSet),
    Permission(Permission),
}

impl Schema {
    /// The `type` name as written in lexicons.
    pub fn type_name(&self) -> &'static str {
        match self {
            Schema::Boolean(_) => "boolean",
            Schema::Integer(_) => "integer",
            Schema::String(_) => "string",
            Schema::Bytes(_) => "bytes",
            Schema::CidLink(_) => "cid-link",
            Schema::Blob(_) => "blob",
            Schema::Array(_) => "array",
            Schema::Object(_) => "object",
            Schema::Params(_) => "params",
            Schema::Token(_) => "token",
            Schema::Ref(_) => "ref",
            Schema::Union(_) => "union",
            Schema::Unknown(_) => "unknown",
            Schema::Record(_) => "record",
            Schema::Query(_) => "query",
            Schema::Procedure(_) => "procedure",
            Schema::Subscription(_) => "subscription",
            Schema::PermissionSet(_) => "permission-set",
            Schema::Permission(_) => "permission",
        }
    }

    /// Primary types may only be a document's `main` def.
    pub fn is_primary(&self) -> bool {
        matches!(
            self,
            Schema::Record(_)
                | Schema::Query(_)
                | Schema::Procedure(_)
                | Schema::Subscription(_)
                | Schema::PermissionSet(_)
        )
    }

    pub fn description(&self) -> Option<&str> {
        match self {
            Schema::Boolean(s) => s.description.as_deref(),
            Schema::Integer(s) => s.description.as_deref(),
            Schema::String(s) => s.description.as_deref(),
            Schema::Bytes(s) => s.description.as_deref(),
            Schema::CidLink(s) | Schema::Token(s) | Schema::Unknown(s) => s.description.as_deref(),
            Schema::Blob(s) => s.description.as_deref(),
            Schema::Array(s) => s.description.as_deref(),
            Schema::Object(s) | Schema::Params(s) => s.description.as_deref(),
            Schema::Ref(s) => s.description.as_deref(),
            Schema::Union(s) => s.description.as_deref(),
            Schema::Record(s) => s.description.as_deref(),
            Schema::Query(s) | Schema::Procedure(s) => s.description.as_deref(),
            Schema::Subscription(s) => s.description.as_deref(),
            Schema::PermissionSet(s) => s.description.as_deref(),
            Schema::Permission(_) => None,
        }
    }
}

/// Types with nothing but a description (`cid-link`, `token`, `unknown`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Meta {
    pub description: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Boolean {
    pub description: Option<String>,
    pub default: Option<bool>,
    pub r#const: Option<bool>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Integer {
    pub description: Option<String>,
    pub minimum: Option<i64>,
    pub maximum: Option<i64>,
    pub r#enum: Option<Vec<i64>>,
    pub default: Option<i64>,
    pub r#const: Option<i64>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct StringSchema {
    pub description: Option<String>,
    pub format: Option<StringFormat>,
    /// Lengths in UTF-8 bytes.
    pub min_length: Option<u64>,
    pub max_length: Option<u64>,
    /// Lengths in extended grapheme clusters.
    pub min_graphemes: Option<u64>,
    pub max_graphemes: Option<u64>,
    /// An open set: other values are allowed.
    pub known_values: Vec<String>,
    /// A closed set.
    pub r#enum: Option<Vec<String>>,
    pub default: Option<String>,
    pub r#const: Option<String>,
}

/// The string formats of the spec.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum StringFormat {
    AtIdentifier,
    AtUri,
    Cid,
    Datetime,
    Did,
    Handle,
    Nsid,
    Tid,
    RecordKey,
    Uri,
    Language,
}

impl StringFormat {
    /// The runtime newtype that holds values of the format (`Did`, `AtUri`, ...).
    pub fn runtime_type(self) -> &'static str {
        match self {
            StringFormat::AtIdentifier => "AtIdentifier",
            StringFormat::AtUri => "AtUri",
            StringFormat::Cid => "Cid",
            StringFormat::Datetime => "Datetime",
            StringFormat::Did => "Did",
            StringFormat::Handle => "Handle",
            StringFormat::Nsid => "Nsid",
            StringFormat::Tid => "Tid",
            StringFormat::RecordKey => "RecordKey",
            StringFormat::Uri => "Uri",
            StringFormat::Language => "Language",
        }
    }

    pub const ALL: [StringFormat; 11] = [
        StringFormat::AtIdentifier,
        StringFormat::AtUri,
        StringFormat::Cid,
        StringFormat::Datetime,
        StringFormat::Did,
        StringFormat::Handle,
        StringFormat::Nsid,
        StringFormat::Tid,
        StringFormat::RecordKey,
        StringFormat::Uri,
        StringFormat::Language,
    ];

    pub fn name(self) -> &'static str {
        match self {
            StringFormat::AtIdentifier => "at-identifier",
            StringFormat::AtUri => "at-uri",
            StringFormat::Cid => "cid",
            StringFormat::Datetime => "datetime",
            StringFormat::Did => "did",
            StringFormat::Handle => "handle",
            StringFormat::Nsid => "nsid",
            StringFormat::Tid => "tid",
            StringFormat::RecordKey => "record-key",
            StringFormat::Uri => "uri",
            StringFormat::Language => "language",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.name() == name)
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Bytes {
    pub description: Option<String>,
    pub min_length: Option<u64>,
    pub max_length: Option<u64>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Blob {
    pub description: Option<String>,
    /// MIME types or `type/*` patterns; `*/*` accepts anything.
    pub accept: Option<Vec<String>>,
    pub max_size: Option<u64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Array {
    pub description: Option<String>,
    pub items: Box<Schema>,
    /// Element counts.
    pub min_length: Option<u64>,
    pub max_length: Option<u64>,
}

/// An `object`, or the `params` of an endpoint (same shape, no `nullable`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Object {
    pub description: Option<String>,
    pub properties: IndexMap<String, Schema>,
    pub required: Vec<String>,
    pub nullable: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Ref {
    pub description: Option<String>,
    /// `#local`, `nsid` or `nsid#name`, as written.
    pub target: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Union {
    pub description: Option<String>,
    pub refs: Vec<String>,
    pub closed: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    pub description: Option<String>,
    /// `tid`, `nsid`, `any` or `literal:<value>`, as written; checked by the lint pass.
    pub key: String,
    pub record: Box<Schema>,
}

/// A `query` or a `procedure` (only procedures have `input`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Endpoint {
    pub description: Option<String>,
    pub parameters: Option<Box<Schema>>,
    pub input: Option<Body>,
    pub output: Option<Body>,
    pub errors: Vec<ErrorDef>,
}

/// An HTTP body: its MIME encoding and, for JSON, its schema.
#[derive(Debug, Clone, PartialEq)]
pub struct Body {
    pub description: Option<String>,
    pub encoding: String,
    pub schema: Option<Box<Schema>>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ErrorDef {
    pub name: String,
    pub description: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Subscription {
    pub description: Option<String>,
    pub parameters: Option<Box<Schema>>,
    pub message: Option<Message>,
    pub errors: Vec<ErrorDef>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub description: Option<String>,
    pub schema: Box<Schema>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct PermissionSet {
    pub description: Option<String>,
    pub title: Option<String>,
    pub title_lang: IndexMap<String, String>,
    pub detail: Option<String>,
    pub detail_lang: IndexMap<String, String>,
    pub permissions: Vec<Schema>,
}

/// One permission of a permission set. Unknown resources are kept but carry no meaning.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Permission {
    pub resource: String,
    pub collection: Vec<String>,
    pub action: Vec<String>,
    pub lxm: Vec<String>,
    pub aud: Option<String>,
    pub inherit_aud: Option<bool>,
}

/// The `(nsid, def)` a ref names, read relative to the document `current`:
/// `#name` is local, a bare NSID means its `main`.
pub fn split_ref<'a>(current: &'a str, target: &'a str) -> (&'a str, &'a str) {
    match target.split_once('#') {
        Some(("", def)) => (current, def),
        Some((nsid, def)) => (nsid, def),
        None => (target, "main"),
    }
}

/// NSID syntax: at least three dot-separated segments; the domain part of letters, digits and
/// hyphens; the last segment (the name) of letters and digits, not starting with a digit.
pub fn is_valid_nsid(nsid: &str) -> bool {
    let segments: Vec<&str> = nsid.split('.').collect();
    if nsid.len() > 317 || segments.len() < 3 {
        return false;
    }
    let (name, domain) = segments.split_last().expect("at least three segments");
    let domain_ok = domain.iter().enumerate().all(|(i, s)| {
        !s.is_empty()
            && s.len() <= 63
            && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !s.starts_with('-')
            && !s.ends_with('-')
            && (i > 0 || !s.as_bytes()[0].is_ascii_digit())
    });
    domain_ok
        && !name.is_empty()
        && name.len() <= 63
        && name.bytes().all(|b| b.is_ascii_alphanumeric())
        && !name.as_bytes()[0].is_ascii_digit()
}
