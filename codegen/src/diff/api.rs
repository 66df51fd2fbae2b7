//! The Rust view: the resolved IRs of both sides compared item by item.
//!
//! Items are matched by where they come from, not by their Rust names, so a name that changed
//! because a collision was resolved differently shows as a rename:
//! - a module by its NSID;
//! - a struct by its `$type` tag (`nsid#def`; hoisted structs by a tag built from their parent);
//! - a hoisted union, string enum or alias by the field or body that holds it;
//! - a named string enum by its def; a token constant by its value;
//! - a field by its JSON name, a union variant by its `$type`, a string variant by its value,
//!   an error variant by the error's name.
//!
//! Judged by what code written against the old crate does with the new one: it must still
//! compile. Structs are built with `new(required..)`, so a new optional field is compatible.
//! Every generated struct and enum is `#[non_exhaustive]`, so user code cannot depend on the
//! full set of fields or variants: a new field or variant is compatible for it, as it is on
//! the wire. (`tests/api_compat.rs` proves this verdict by compiling user code against both
//! sides of each fixture pair.)

use super::{ApiChange, Level};
use crate::ir::{self, Ir, Item, Type};
use crate::lexicon::{Document, Schema};
use crate::naming;
use std::collections::{BTreeMap, BTreeSet};

/// API changes per NSID, unsorted.
pub fn compare(
    old: &Ir,
    new: &Ir,
    old_documents: &[Document],
    new_documents: &[Document],
) -> BTreeMap<String, Vec<ApiChange>> {
    let old_modules = modules(old, old_documents);
    let new_modules = modules(new, new_documents);
    let nsids: BTreeSet<&String> = old_modules.keys().chain(new_modules.keys()).collect();
    let mut out = BTreeMap::new();
    for nsid in nsids {
        let mut changes = Changes::default();
        match (old_modules.get(nsid), new_modules.get(nsid)) {
            (None, Some(m)) => changes.push(
                Level::Compatible,
                &m.path,
                "module-added",
                format!("new module `{}`", m.path),
            ),
            (Some(m), None) => changes.push(
                Level::Breaking,
                &m.path,
                "module-removed",
                format!("module `{}` removed, with everything in it", m.path),
            ),
            (Some(o), Some(n)) => compare_modules(o, n, &mut changes),
            (None, None) => {}
        }
        if !changes.0.is_empty() {
            out.insert(nsid.clone(), changes.0);
        }
    }
    out
}

#[derive(Default)]
struct Changes(Vec<ApiChange>);

impl Changes {
    fn push(&mut self, level: Level, item: &str, rule: &'static str, message: String) {
        self.0.push(ApiChange {
            level,
            item: item.to_owned(),
            rule,
            message,
        });
    }
}

/// The API of one module: its items keyed by where they come from.
struct ApiModule {
    path: String,
    items: BTreeMap<String, ApiItem>,
}

struct ApiItem {
    name: String,
    deprecated: bool,
    shape: Shape,
}

enum Shape {
    Struct(StructShape),
    Union {
        closed: bool,
        /// `$type` -> (variant name, payload type).
        variants: BTreeMap<String, (String, String)>,
    },
    Strings {
        open: bool,
        /// value -> variant name.
        values: BTreeMap<String, String>,
    },
    Alias(String),
    Constant,
    Endpoint(EndpointShape),
    Subscription(SubscriptionShape),
    PermissionSet,
}

impl Shape {
    fn kind(&self) -> &'static str {
        match self {
            Shape::Struct(_) => "struct",
            Shape::Union { .. } => "union enum",
            Shape::Strings { .. } => "string enum",
            Shape::Alias(_) => "type alias",
            Shape::Constant => "constant",
            Shape::Endpoint(_) => "endpoint",
            Shape::Subscription(_) => "subscription",
            Shape::PermissionSet => "permission set",
        }
    }
}

struct StructShape {
    /// JSON name -> field.
    fields: BTreeMap<String, FieldShape>,
    /// The arguments of `new()`, in order: (Rust name, type).
    constructor: Vec<(String, String)>,
    record_key: Option<String>,
    /// `Default` is derived (no required field).
    default: bool,
}

struct FieldShape {
    rust_name: String,
    /// The field's full Rust type, `Option` included.
    ty: String,
    required: bool,
    deprecated: bool,
}

struct EndpointShape {
    kind: &'static str,
    method: String,
    params: Option<String>,
    input: Option<String>,
    output: Option<String>,
    error: ErrorShape,
}

struct SubscriptionShape {
    params: Option<String>,
    message: Option<String>,
    /// Frame header `t` -> variant name.
    frames: BTreeMap<String, String>,
    error: ErrorShape,
}

struct ErrorShape {
    name: String,
    /// Error name -> variant name.
    variants: BTreeMap<String, String>,
}

fn modules(ir: &Ir, documents: &[Document]) -> BTreeMap<String, ApiModule> {
    let index: BTreeMap<&str, &Document> = documents.iter().map(|d| (d.id.as_str(), d)).collect();
    ir.modules
        .iter()
        .map(|m| {
            let module = api_module(m, index.get(m.nsid.as_str()).copied());
            (m.nsid.clone(), module)
        })
        .collect()
}

fn api_module(module: &ir::Module, document: Option<&Document>) -> ApiModule {
    let keys = item_keys(module, document);
    let mut items = BTreeMap::new();
    for (item, key) in module.items.iter().zip(keys) {
        let (name, doc, shape) = shape(item);
        let mut key = key;
        if items.contains_key(&key) {
            key = format!("{key}~{name}");
        }
        items.insert(
            key,
            ApiItem {
                name,
                deprecated: is_deprecated(doc),
                shape,
            },
        );
    }
    ApiModule {
        path: module.path.join("::"),
        items,
    }
}

/// The identity of every item of a module, in item order (see the module docs).
fn item_keys(module: &ir::Module, document: Option<&Document>) -> Vec<String> {
    let mut keys: Vec<Option<String>> = module
        .items
        .iter()
        .map(|item| match item {
            Item::Struct(s) => Some(format!("type:{}", s.type_tag)),
            Item::Token(t) => Some(format!("const:{}", t.value)),
            Item::Endpoint(_) => Some("endpoint".to_owned()),
            Item::Subscription(_) => Some("subscription".to_owned()),
            Item::PermissionSet(_) => Some("permission-set".to_owned()),
            Item::Union(_) | Item::Strings(_) | Item::Alias(_) => None,
        })
        .collect();
    let position = |name: &str, keys: &[Option<String>]| {
        module
            .items
            .iter()
            .zip(keys)
            .position(|(item, key)| key.is_none() && item_name(item) == name)
    };
    // Named string enums: the def whose name they carry.
    if let Some(document) = document {
        for (def, schema) in &document.defs {
            let Schema::String(s) = schema else { continue };
            if s.known_values.is_empty() && s.r#enum.is_none() {
                continue;
            }
            let wanted = if def == "main" {
                "Main".to_owned()
            } else {
                naming::type_name(def)
            };
            if let Some(i) = position(&wanted, &keys) {
                let tag = if def == "main" {
                    document.id.clone()
                } else {
                    format!("{}#{def}", document.id)
                };
                keys[i] = Some(format!("type:{tag}"));
            }
        }
    }
    // Hoisted types: the field or body that holds them.
    let mut holders: Vec<(String, &Type)> = Vec::new();
    let mut bodies: Vec<(String, &ir::TypePath)> = Vec::new();
    for item in &module.items {
        match item {
            Item::Struct(s) => {
                for field in &s.fields {
                    holders.push((format!("{}.{}", s.type_tag, field.json_name), &field.ty));
                }
            }
            Item::Endpoint(e) => {
                for (which, body) in [("input", &e.input), ("output", &e.output)] {
                    if let Some(ty) = body.as_ref().and_then(|b| b.ty.as_ref()) {
                        bodies.push((format!("{}.{which}", e.nsid), ty));
                    }
                }
            }
            Item::Subscription(s) => {
                if let Some(ty) = &s.message {
                    bodies.push((format!("{}.message", s.nsid), ty));
                }
            }
            _ => {}
        }
    }
    let mut found: Vec<(String, &ir::TypePath)> = bodies;
    for (holder, mut ty) in holders {
        let mut key = holder;
        while let Type::Array(inner) = ty {
            key.push_str("[]");
            ty = inner;
        }
        if let Type::Named { path, .. } = ty {
            found.push((key, path));
        }
    }
    for (key, path) in found {
        if path.module != module.path {
            continue;
        }
        if let Some(i) = position(&path.name, &keys) {
            keys[i] = Some(format!("type:{key}"));
        }
    }
    module
        .items
        .iter()
        .zip(keys)
        .map(|(item, key)| key.unwrap_or_else(|| format!("name:{}", item_name(item))))
        .collect()
}

fn item_name(item: &Item) -> &str {
    match item {
        Item::Struct(s) => &s.name,
        Item::Union(u) => &u.name,
        Item::Strings(s) => &s.name,
        Item::Alias(a) => &a.name,
        Item::Token(t) => &t.name,
        Item::Endpoint(e) => &e.method,
        Item::Subscription(s) => &s.nsid,
        Item::PermissionSet(p) => &p.nsid,
    }
}

fn shape(item: &Item) -> (String, Option<&str>, Shape) {
    match item {
        Item::Struct(s) => {
            let fields = s
                .fields
                .iter()
                .map(|f| {
                    (
                        f.json_name.clone(),
                        FieldShape {
                            rust_name: f.rust_name.clone(),
                            ty: field_type(f),
                            required: f.required,
                            deprecated: is_deprecated(f.doc.as_deref()),
                        },
                    )
                })
                .collect();
            let constructor = s
                .fields
                .iter()
                .filter(|f| f.required)
                .map(|f| (f.rust_name.clone(), field_type(f)))
                .collect();
            let shape = Shape::Struct(StructShape {
                fields,
                constructor,
                record_key: s.record.as_ref().map(|r| r.key.clone()),
                default: s.fields.iter().all(|f| !f.required),
            });
            (s.name.clone(), s.doc.as_deref(), shape)
        }
        Item::Union(u) => {
            let variants = u
                .variants
                .iter()
                .map(|v| (v.tag.clone(), (v.name.clone(), path(&v.ty))))
                .collect();
            let shape = Shape::Union {
                closed: u.closed,
                variants,
            };
            (u.name.clone(), u.doc.as_deref(), shape)
        }
        Item::Strings(s) => {
            let values = s
                .values
                .iter()
                .map(|(variant, value)| (value.clone(), variant.clone()))
                .collect();
            let shape = Shape::Strings {
                open: s.open,
                values,
            };
            (s.name.clone(), s.doc.as_deref(), shape)
        }
        Item::Alias(a) => (
            a.name.clone(),
            a.doc.as_deref(),
            Shape::Alias(render(&a.ty)),
        ),
        Item::Token(t) => (t.name.clone(), t.doc.as_deref(), Shape::Constant),
        Item::Endpoint(e) => {
            let body = |b: &Option<ir::Body>| {
                b.as_ref().map(|b| match &b.ty {
                    Some(ty) => path(ty),
                    // The MIME type is a wire matter: the Rust signature is the same.
                    None => "raw bytes".to_owned(),
                })
            };
            let shape = Shape::Endpoint(EndpointShape {
                kind: match e.kind {
                    ir::EndpointKind::Query => "query",
                    ir::EndpointKind::Procedure => "procedure",
                },
                method: e.method.clone(),
                params: e.params.as_ref().map(path),
                input: body(&e.input),
                output: body(&e.output),
                error: error_shape(&e.error),
            });
            (e.method.clone(), e.doc.as_deref(), shape)
        }
        Item::Subscription(s) => {
            let shape = Shape::Subscription(SubscriptionShape {
                params: s.params.as_ref().map(path),
                message: s.message.as_ref().map(path),
                frames: s.frames.iter().cloned().collect(),
                error: error_shape(&s.error),
            });
            (s.nsid.clone(), s.doc.as_deref(), shape)
        }
        Item::PermissionSet(_) => ("PERMISSION_SET".to_owned(), None, Shape::PermissionSet),
    }
}

fn error_shape(error: &ir::ErrorEnum) -> ErrorShape {
    ErrorShape {
        name: error.name.clone(),
        variants: error
            .variants
            .iter()
            .map(|(variant, name, _)| (name.clone(), variant.clone()))
            .collect(),
    }
}

fn path(path: &ir::TypePath) -> String {
    let mut out = path.module.join("::");
    if !out.is_empty() {
        out.push_str("::");
    }
    out.push_str(&path.name);
    out
}

/// A type as Rust code names it, with full module paths (`Vec<app::bsky::feed::defs::PostView>`).
fn render(ty: &Type) -> String {
    match ty {
        Type::Bool => "bool".into(),
        Type::Integer => "i64".into(),
        Type::String => "String".into(),
        Type::Format(format) => naming::type_name(format.name()),
        Type::Bytes => "Bytes".into(),
        Type::CidLink => "CidLink".into(),
        Type::Blob => "Blob".into(),
        Type::Unknown => "Unknown".into(),
        Type::Array(item) => format!("Vec<{}>", render(item)),
        Type::Named { path: p, boxed } => {
            if *boxed {
                format!("Box<{}>", path(p))
            } else {
                path(p)
            }
        }
    }
}

fn field_type(field: &ir::Field) -> String {
    let ty = render(&field.ty);
    match (field.required, field.nullable) {
        (true, false) => ty,
        (false, false) | (true, true) => format!("Option<{ty}>"),
        (false, true) => format!("Option<Option<{ty}>>"),
    }
}

fn is_deprecated(doc: Option<&str>) -> bool {
    doc.map(str::trim)
        .and_then(|d| d.get(..10))
        .is_some_and(|lead| lead.eq_ignore_ascii_case("deprecated"))
}

fn compare_modules(old: &ApiModule, new: &ApiModule, changes: &mut Changes) {
    if old.path != new.path {
        changes.push(
            Level::Breaking,
            &new.path,
            "module-moved",
            format!(
                "module moved from `{}` to `{}` (a name collision resolved differently)",
                old.path, new.path
            ),
        );
    }
    let keys: BTreeSet<&String> = old.items.keys().chain(new.items.keys()).collect();
    for key in keys {
        match (old.items.get(key), new.items.get(key)) {
            (None, Some(item)) => changes.push(
                Level::Compatible,
                &item_path(&new.path, item),
                "item-added",
                format!("new {} `{}`", item.shape.kind(), item.name),
            ),
            (Some(item), None) => changes.push(
                Level::Breaking,
                &item_path(&old.path, item),
                "item-removed",
                format!("{} `{}` removed", item.shape.kind(), item.name),
            ),
            (Some(o), Some(n)) => compare_items(o, n, &item_path(&new.path, n), changes),
            (None, None) => {}
        }
    }
}

fn item_path(module: &str, item: &ApiItem) -> String {
    match &item.shape {
        Shape::Endpoint(_) | Shape::Subscription(_) => module.to_owned(),
        _ => format!("{module}::{}", item.name),
    }
}

fn compare_items(old: &ApiItem, new: &ApiItem, at: &str, changes: &mut Changes) {
    let (old_kind, new_kind) = (old.shape.kind(), new.shape.kind());
    if old_kind != new_kind {
        changes.push(
            Level::Breaking,
            at,
            "kind-changed",
            format!(
                "`{}` changed from a {old_kind} to a {new_kind} `{}`",
                old.name, new.name
            ),
        );
        return;
    }
    if old.name != new.name {
        changes.push(
            Level::Breaking,
            at,
            "renamed",
            format!("{new_kind} renamed from `{}` to `{}`", old.name, new.name),
        );
    }
    if old.deprecated != new.deprecated {
        let message = if new.deprecated {
            format!("`{}` is now #[deprecated]", new.name)
        } else {
            format!("`{}` is no longer #[deprecated]", new.name)
        };
        changes.push(Level::Compatible, at, "deprecated", message);
    }
    match (&old.shape, &new.shape) {
        (Shape::Struct(o), Shape::Struct(n)) => compare_structs(o, n, at, changes),
        (
            Shape::Union {
                closed: old_closed,
                variants: old_variants,
            },
            Shape::Union {
                closed: new_closed,
                variants: new_variants,
            },
        ) => {
            if old_closed != new_closed {
                let (level, message) = if *new_closed {
                    (
                        Level::Breaking,
                        "the `Unknown` variant was removed (the union became closed)",
                    )
                } else {
                    (
                        Level::Compatible,
                        "an `Unknown` variant was added (the union became open)",
                    )
                };
                changes.push(level, at, "unknown-variant", message.to_owned());
            }
            let shown = |variants: &BTreeMap<String, (String, String)>| {
                variants
                    .iter()
                    .map(|(tag, (name, ty))| (tag.clone(), format!("{name}({ty})")))
                    .collect()
            };
            compare_variants(
                &shown(old_variants),
                &shown(new_variants),
                "variant",
                at,
                changes,
            );
        }
        (
            Shape::Strings {
                open: old_open,
                values: old_values,
            },
            Shape::Strings {
                open: new_open,
                values: new_values,
            },
        ) => {
            if old_open != new_open {
                let (level, message) = if *new_open {
                    (
                        Level::Compatible,
                        "an `Other(String)` variant was added (the values became an open set)",
                    )
                } else {
                    (
                        Level::Breaking,
                        "the `Other(String)` variant was removed (the values became a closed \
                         enum)",
                    )
                };
                changes.push(level, at, "other-variant", message.to_owned());
            }
            compare_variants(old_values, new_values, "variant", at, changes);
        }
        (Shape::Alias(o), Shape::Alias(n)) if o != n => changes.push(
            Level::Breaking,
            at,
            "alias-changed",
            format!("`{}` now stands for `{n}` (was `{o}`)", new.name),
        ),
        (Shape::Endpoint(o), Shape::Endpoint(n)) => {
            if o.kind != n.kind {
                changes.push(
                    Level::Breaking,
                    at,
                    "endpoint-kind-changed",
                    format!(
                        "the endpoint changed from a {} to a {}: the client method sends another \
                         request",
                        o.kind, n.kind
                    ),
                );
            }
            if o.method != n.method {
                changes.push(
                    Level::Breaking,
                    at,
                    "method-renamed",
                    format!(
                        "client method renamed from `{}` to `{}`",
                        o.method, n.method
                    ),
                );
            }
            let method = format!("client method `{}`", n.method);
            signature(&method, "parameters", &o.params, &n.params, at, changes);
            signature(&method, "input", &o.input, &n.input, at, changes);
            signature(&method, "output", &o.output, &n.output, at, changes);
            compare_errors(&o.error, &n.error, at, changes);
        }
        (Shape::Subscription(o), Shape::Subscription(n)) => {
            let what = "subscription";
            signature(what, "parameters", &o.params, &n.params, at, changes);
            signature(what, "message", &o.message, &n.message, at, changes);
            compare_variants(&o.frames, &n.frames, "frame variant", at, changes);
            compare_errors(&o.error, &n.error, at, changes);
        }
        _ => {}
    }
}

fn compare_structs(o: &StructShape, n: &StructShape, at: &str, changes: &mut Changes) {
    for (json, field) in &n.fields {
        let Some(before) = o.fields.get(json) else {
            if field.required {
                changes.push(
                    Level::Breaking,
                    at,
                    "required-field-added",
                    format!(
                        "new required field `{}: {}`: `new()` takes another argument",
                        field.rust_name, field.ty
                    ),
                );
            } else {
                changes.push(
                    Level::Compatible,
                    at,
                    "optional-field-added",
                    format!("new optional field `{}: {}`", field.rust_name, field.ty),
                );
            }
            continue;
        };
        if before.rust_name != field.rust_name {
            changes.push(
                Level::Breaking,
                at,
                "field-renamed",
                format!(
                    "field `{}` renamed to `{}`",
                    before.rust_name, field.rust_name
                ),
            );
        }
        if before.ty != field.ty {
            let mut message = format!(
                "field `{}` changed type from `{}` to `{}`",
                field.rust_name, before.ty, field.ty
            );
            match (before.required, field.required) {
                (false, true) => message.push_str(" (now required: `new()` takes it)"),
                (true, false) => message.push_str(" (now optional: `new()` no longer takes it)"),
                _ => {}
            }
            changes.push(Level::Breaking, at, "field-type-changed", message);
        }
        if before.deprecated != field.deprecated {
            let message = if field.deprecated {
                format!("field `{}` is now #[deprecated]", field.rust_name)
            } else {
                format!("field `{}` is no longer #[deprecated]", field.rust_name)
            };
            changes.push(Level::Compatible, at, "deprecated", message);
        }
    }
    for (json, field) in &o.fields {
        if !n.fields.contains_key(json) {
            changes.push(
                Level::Breaking,
                at,
                "field-removed",
                format!("field `{}: {}` removed", field.rust_name, field.ty),
            );
        }
    }
    // The same arguments in another order compile, but may swap values of the same type.
    let names = |c: &[(String, String)]| -> BTreeSet<String> {
        c.iter().map(|(name, _)| name.clone()).collect()
    };
    let list = |c: &[(String, String)]| {
        c.iter()
            .map(|(name, _)| name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    if list(&o.constructor) != list(&n.constructor)
        && names(&o.constructor) == names(&n.constructor)
    {
        changes.push(
            Level::Breaking,
            at,
            "constructor-changed",
            format!(
                "`new()` takes its arguments in another order: ({}) -> ({})",
                list(&o.constructor),
                list(&n.constructor)
            ),
        );
    }
    if o.default && !n.default {
        changes.push(
            Level::Breaking,
            at,
            "default-removed",
            "`Default` is no longer derived (the struct has a required field now)".to_owned(),
        );
    } else if !o.default && n.default {
        changes.push(
            Level::Compatible,
            at,
            "default-added",
            "`Default` is now derived (no field is required any more)".to_owned(),
        );
    }
    if o.record_key != n.record_key {
        changes.push(
            Level::Breaking,
            at,
            "record-key-changed",
            format!(
                "the record key changed from `{}` to `{}` (`KEY` and `Collection::Key` follow it)",
                o.record_key.as_deref().unwrap_or("none"),
                n.record_key.as_deref().unwrap_or("none")
            ),
        );
    }
}

/// Variants keyed by what identifies them (a `$type`, a value, a frame `t`), shown as `shown`.
/// Additions and removals are one change each per enum.
fn compare_variants(
    old: &BTreeMap<String, String>,
    new: &BTreeMap<String, String>,
    noun: &str,
    at: &str,
    changes: &mut Changes,
) {
    let listed = |keys: &[(&String, &String)]| {
        keys.iter()
            .map(|(key, shown)| {
                if key == shown {
                    format!("`{shown}`")
                } else {
                    format!("`{shown}` for `{key}`")
                }
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    let plural = |n: usize| if n == 1 { "" } else { "s" };
    let added: Vec<(&String, &String)> =
        new.iter().filter(|(k, _)| !old.contains_key(*k)).collect();
    if !added.is_empty() {
        changes.push(
            Level::Compatible,
            at,
            "variant-added",
            format!("new {noun}{} {}", plural(added.len()), listed(&added),),
        );
    }
    for (key, shown) in new {
        if let Some(before) = old.get(key).filter(|before| *before != shown) {
            changes.push(
                Level::Breaking,
                at,
                "variant-changed",
                format!("{noun} for `{key}` changed from `{before}` to `{shown}`"),
            );
        }
    }
    let removed: Vec<(&String, &String)> =
        old.iter().filter(|(k, _)| !new.contains_key(*k)).collect();
    if !removed.is_empty() {
        changes.push(
            Level::Breaking,
            at,
            "variant-removed",
            format!(
                "{noun}{} removed: {}",
                plural(removed.len()),
                listed(&removed)
            ),
        );
    }
}

/// One part of a method's signature: its parameters, input, output or message type.
fn signature(
    what: &str,
    part: &str,
    old: &Option<String>,
    new: &Option<String>,
    at: &str,
    changes: &mut Changes,
) {
    let message = match (old, new) {
        (None, Some(n)) => format!("{what}: {part} added (`{n}`)"),
        (Some(o), None) => format!("{what}: {part} removed (was `{o}`)"),
        (Some(o), Some(n)) if o != n => format!("{what}: {part} changed from `{o}` to `{n}`"),
        _ => return,
    };
    changes.push(Level::Breaking, at, "signature-changed", message);
}

fn compare_errors(old: &ErrorShape, new: &ErrorShape, at: &str, changes: &mut Changes) {
    if old.name != new.name {
        changes.push(
            Level::Breaking,
            at,
            "renamed",
            format!("error enum renamed from `{}` to `{}`", old.name, new.name),
        );
    }
    compare_variants(&old.variants, &new.variants, "error variant", at, changes);
}
