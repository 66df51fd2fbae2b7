//! The resolved IR: every def named, every ref a type path, every inline type hoisted.
//!
//! Emitters read only this. It is built once by [`resolve`] and not changed afterwards.

mod resolve;

pub use crate::lexicon::StringFormat;
pub use resolve::{Layer, resolve, resolve_layered};

/// The whole generated API: one module per lexicon document, the base crates' documents
/// first (lowest base first), then this crate's, each sorted by NSID.
#[derive(Debug, Clone, PartialEq)]
pub struct Ir {
    pub modules: Vec<Module>,
}

impl Ir {
    /// The modules this crate generates (not those of the crates it is layered on).
    pub fn own_modules(&self) -> impl Iterator<Item = &Module> {
        self.modules.iter().filter(|m| m.external.is_none())
    }
}

/// The generated module of one document.
#[derive(Debug, Clone, PartialEq)]
pub struct Module {
    /// The library that provides this module when it is a base crate's (`atproto_api`).
    pub external: Option<String>,
    pub nsid: String,
    /// Rust module path below the crate root (`["com", "atproto", "server", "create_session"]`).
    pub path: Vec<String>,
    pub description: Option<String>,
    pub items: Vec<Item>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Item {
    Struct(Struct),
    Union(Union),
    Strings(Strings),
    Alias(Alias),
    Token(Token),
    Endpoint(Endpoint),
    Subscription(Subscription),
    PermissionSet(PermissionSet),
}

/// Where a type lives: its module path below the crate root and its name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TypePath {
    /// The library that defines the type when a base crate does (`atproto_api`).
    pub external: Option<String>,
    pub module: Vec<String>,
    pub name: String,
}

/// A field's or alias's type.
#[derive(Debug, Clone, PartialEq)]
pub enum Type {
    Bool,
    Integer,
    String,
    Format(StringFormat),
    Bytes,
    CidLink,
    Blob,
    Unknown,
    Array(Box<Type>),
    /// A generated type; `boxed` breaks a cycle of direct containment.
    Named {
        path: TypePath,
        boxed: bool,
    },
}

/// An object, a record body, endpoint params, or an endpoint body: a struct with named fields.
#[derive(Debug, Clone, PartialEq)]
pub struct Struct {
    pub name: String,
    pub doc: Option<String>,
    pub fields: Vec<Field>,
    /// `"nsid"` or `"nsid#def"`: the `$type` that names this object in unions.
    pub type_tag: String,
    /// Set for the body of a record: its collection NSID and record-key type.
    pub record: Option<RecordInfo>,
    /// Query parameters are sent in the URL, not as JSON.
    pub is_params: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RecordInfo {
    pub nsid: String,
    /// `tid`, `nsid`, `any` or `literal:<value>`.
    pub key: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    pub json_name: String,
    pub rust_name: String,
    pub doc: Option<String>,
    pub ty: Type,
    pub required: bool,
    pub nullable: bool,
    /// The lexicon's `default`, as JSON (sent for query parameters the caller leaves unset).
    pub default: Option<serde_json::Value>,
    /// Constraints checked by the generated `validate()`.
    pub checks: Checks,
    /// Where the field is declared: `nsid#def` and the property names down to it
    /// (`com.atproto.server.createSession#main.input.password`; see [`crate::secrets`]).
    pub address: String,
    /// The field carries a credential: `Debug` prints `<redacted>` instead of its value.
    pub secret: bool,
}

/// The constraints of a value beyond its type, for `validate()`. Lengths mean UTF-8 bytes
/// for strings, element counts for arrays and byte counts for `bytes`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Checks {
    pub min_length: Option<u64>,
    pub max_length: Option<u64>,
    pub min_graphemes: Option<u64>,
    pub max_graphemes: Option<u64>,
    pub string_const: Option<String>,
    pub minimum: Option<i64>,
    pub maximum: Option<i64>,
    pub integer_enum: Option<Vec<i64>>,
    pub integer_const: Option<i64>,
    pub boolean_const: Option<bool>,
    pub accept: Option<Vec<String>>,
    pub max_size: Option<u64>,
    /// Checks of each array item.
    pub items: Option<Box<Checks>>,
}

impl Checks {
    pub fn is_empty(&self) -> bool {
        *self == Checks::default()
    }
}

/// A union of object types, tagged by `$type`.
#[derive(Debug, Clone, PartialEq)]
pub struct Union {
    pub name: String,
    pub doc: Option<String>,
    /// Closed unions reject a `$type` they do not list; open ones keep it as `Unknown`.
    pub closed: bool,
    pub variants: Vec<Variant>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Variant {
    pub name: String,
    /// The `$type` value (bare NSID for a `main` def).
    pub tag: String,
    pub ty: TypePath,
}

/// A string with `knownValues` (open: other values kept) or `enum` (closed).
#[derive(Debug, Clone, PartialEq)]
pub struct Strings {
    pub name: String,
    pub doc: Option<String>,
    pub open: bool,
    /// `(variant name, string value)` in lexicon order.
    pub values: Vec<(String, String)>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Alias {
    pub name: String,
    pub doc: Option<String>,
    pub ty: Type,
}

/// A token: a named string constant `"nsid#name"`.
#[derive(Debug, Clone, PartialEq)]
pub struct Token {
    pub name: String,
    pub doc: Option<String>,
    pub value: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndpointKind {
    Query,
    Procedure,
}

/// The main def of a query or procedure; its types are separate items of the module.
#[derive(Debug, Clone, PartialEq)]
pub struct Endpoint {
    pub kind: EndpointKind,
    pub nsid: String,
    pub doc: Option<String>,
    /// The client method's name.
    pub method: String,
    /// The name of the server's marker type (`Endpoint`).
    pub marker: String,
    pub params: Option<TypePath>,
    pub input: Option<Body>,
    pub output: Option<Body>,
    pub error: ErrorEnum,
}

/// A request or response body: JSON with a generated type, or raw bytes of some MIME type.
#[derive(Debug, Clone, PartialEq)]
pub struct Body {
    pub encoding: String,
    pub ty: Option<TypePath>,
}

/// An endpoint's error enum: one variant per lexicon error, plus `Other` keeping the rest.
#[derive(Debug, Clone, PartialEq)]
pub struct ErrorEnum {
    pub name: String,
    /// `(variant name, error name, description)`.
    pub variants: Vec<(String, String, Option<String>)>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Subscription {
    pub nsid: String,
    pub doc: Option<String>,
    /// The name of the server's marker type (`Endpoint`).
    pub marker: String,
    pub params: Option<TypePath>,
    pub message: Option<TypePath>,
    /// `(frame header t, variant name)` of each message type: `#commit` for a local def,
    /// the full `nsid#def` otherwise.
    pub frames: Vec<(String, String)>,
    pub error: ErrorEnum,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PermissionSet {
    pub nsid: String,
    pub doc: Option<String>,
    pub title: Option<String>,
    pub title_lang: Vec<(String, String)>,
    pub detail: Option<String>,
    pub detail_lang: Vec<(String, String)>,
    pub permissions: Vec<crate::lexicon::Permission>,
}
