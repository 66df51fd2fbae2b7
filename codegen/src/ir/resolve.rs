//! Resolve: checked documents -> [`Ir`]. Names every def, turns refs into type paths,
//! hoists inline objects, unions and string enums, and boxes what would be infinitely sized.

use super::*;
use crate::lexicon::{self, Document, Schema, split_ref};
use crate::naming::{self, Scope};
use std::collections::{BTreeMap, BTreeSet};

/// Which crate a document belongs to when generating on top of base crates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layer {
    /// Position in the chain of bases, lowest first.
    pub index: usize,
    /// The base's library name in Rust paths.
    pub lib: String,
}

/// Builds the IR of one crate. The documents must have passed [`crate::lint::check`].
pub fn resolve(documents: &[Document]) -> Ir {
    resolve_layered(documents, &BTreeMap::new())
}

/// Builds the IR of a crate whose documents named in `bases` (by id) come from base crates.
/// Names are claimed base by base, lowest first, then for this crate's documents: the base
/// documents get the names their own crates gave them, whatever this crate adds.
pub fn resolve_layered(documents: &[Document], bases: &BTreeMap<String, Layer>) -> Ir {
    let layer_of = |d: &Document| bases.get(&d.id).map_or(usize::MAX, |l| l.index);
    let mut sorted: Vec<&Document> = documents.iter().collect();
    sorted.sort_by(|a, b| (layer_of(a), &a.id).cmp(&(layer_of(b), &b.id)));
    let external = |id: &str| bases.get(id).map(|l| l.lib.clone());
    let paths = module_paths(&sorted);
    let index: BTreeMap<&str, &Document> = sorted.iter().map(|d| (d.id.as_str(), *d)).collect();

    // First pass: the name of every def, so refs can be resolved in any order.
    let mut scopes: BTreeMap<&str, Scope> = BTreeMap::new();
    let mut names: BTreeMap<(&str, &str), TypePath> = BTreeMap::new();
    let mut tokens: BTreeMap<(&str, &str), String> = BTreeMap::new();
    let mut reserved: BTreeMap<(&str, &'static str), String> = BTreeMap::new();
    for document in &sorted {
        // `Service` is each module's namespace service, generic over `T`.
        let mut types = Scope::with_reserved(&["Service", "T"]);
        let mut values = Scope::with_reserved(&["NSID"]);
        let module = paths[document.id.as_str()].clone();
        // Main defs first: their names are the stable, documented ones.
        let order = document
            .defs
            .iter()
            .filter(|(n, _)| *n == "main")
            .chain(document.defs.iter().filter(|(n, _)| *n != "main"));
        for (name, schema) in order {
            match schema {
                Schema::Token(_) => {
                    let constant = values.claim(naming::constant(name));
                    tokens.insert((&document.id, name), constant);
                }
                // The documented names of an endpoint's types win over same-named defs.
                Schema::Query(_) | Schema::Procedure(_) => {
                    for wanted in ["Params", "Input", "Output", "Error", "Endpoint"] {
                        reserved.insert(
                            (document.id.as_str(), wanted),
                            types.claim(wanted.to_owned()),
                        );
                    }
                }
                Schema::Subscription(_) => {
                    for wanted in ["Params", "Message", "Error", "Endpoint"] {
                        reserved.insert(
                            (document.id.as_str(), wanted),
                            types.claim(wanted.to_owned()),
                        );
                    }
                }
                Schema::PermissionSet(_) => {}
                _ => {
                    let wanted = match (name.as_str(), schema) {
                        ("main", Schema::Record(_)) => "Record".to_owned(),
                        ("main", _) => "Main".to_owned(),
                        _ => naming::type_name(name),
                    };
                    let name_in_module = types.claim(wanted);
                    names.insert(
                        (&document.id, name),
                        TypePath {
                            external: external(&document.id),
                            module: module.clone(),
                            name: name_in_module,
                        },
                    );
                }
            }
        }
        scopes.insert(&document.id, types);
    }

    let mut modules = Vec::with_capacity(sorted.len());
    for document in &sorted {
        let types = scopes
            .remove(document.id.as_str())
            .expect("every document has a scope");
        let mut builder = ModuleBuilder {
            document,
            external: external(&document.id),
            module: paths[document.id.as_str()].clone(),
            names: &names,
            index: &index,
            reserved: &reserved,
            types,
            items: Vec::new(),
            location: Vec::new(),
        };
        for (name, schema) in &document.defs {
            builder.location = vec![format!("{}#{name}", document.id)];
            builder.def(name, schema, &tokens);
        }
        modules.push(Module {
            external: builder.external.clone(),
            nsid: document.id.clone(),
            path: builder.module.clone(),
            description: document.description.clone().or_else(|| {
                document
                    .defs
                    .get("main")
                    .and_then(Schema::description)
                    .map(str::to_owned)
            }),
            items: builder.items,
        });
    }
    let mut ir = Ir { modules };
    box_cycles(&mut ir);
    box_optional_objects(&mut ir);
    ir
}

/// Module paths for every document; siblings whose names collide after case conversion are
/// told apart deterministically (in NSID order).
fn module_paths<'a>(sorted: &[&'a Document]) -> BTreeMap<&'a str, Vec<String>> {
    let mut scopes: BTreeMap<Vec<String>, (Scope, BTreeMap<String, String>)> = BTreeMap::new();
    let mut paths = BTreeMap::new();
    for document in sorted {
        let mut path: Vec<String> = Vec::new();
        for segment in document.id.split('.') {
            let (scope, seen) = scopes.entry(path.clone()).or_insert_with(|| {
                // Names the crate root and the runtime already use.
                let reserved: &[&str] = if path.is_empty() {
                    &["runtime", "std", "core", "alloc", "serde"]
                } else {
                    &[]
                };
                (Scope::with_reserved(reserved), BTreeMap::new())
            });
            let name = seen
                .entry(segment.to_owned())
                .or_insert_with(|| scope.claim(naming::module(segment)))
                .clone();
            path.push(name);
        }
        paths.insert(document.id.as_str(), path);
    }
    paths
}

struct ModuleBuilder<'a> {
    document: &'a Document,
    external: Option<String>,
    module: Vec<String>,
    names: &'a BTreeMap<(&'a str, &'a str), TypePath>,
    index: &'a BTreeMap<&'a str, &'a Document>,
    /// Names claimed up front for an endpoint's `Params`, `Input`, ... (see [`resolve`]).
    reserved: &'a BTreeMap<(&'a str, &'static str), String>,
    types: Scope,
    items: Vec<Item>,
    /// The address of what is being resolved: `nsid#def`, then property names (and
    /// `params`, `input`, `output`), joined by `.` to name a field (see [`crate::secrets`]).
    location: Vec<String>,
}

impl<'a> ModuleBuilder<'a> {
    fn nsid(&self) -> &str {
        &self.document.id
    }

    /// The def a ref points at.
    fn target(&self, reference: &str) -> Option<&'a Schema> {
        let (nsid, def) = split_ref(self.nsid(), reference);
        self.index.get(nsid)?.defs.get(def)
    }

    /// The constraints of a schema, following refs to plain defs.
    fn checks(&self, schema: &Schema, depth: usize) -> Checks {
        match schema {
            Schema::String(s) => Checks {
                min_length: s.min_length,
                max_length: s.max_length,
                min_graphemes: s.min_graphemes,
                max_graphemes: s.max_graphemes,
                string_const: s.r#const.clone(),
                ..Checks::default()
            },
            Schema::Integer(i) => Checks {
                minimum: i.minimum,
                maximum: i.maximum,
                integer_enum: i.r#enum.clone(),
                integer_const: i.r#const,
                ..Checks::default()
            },
            Schema::Boolean(b) => Checks {
                boolean_const: b.r#const,
                ..Checks::default()
            },
            Schema::Bytes(b) => Checks {
                min_length: b.min_length,
                max_length: b.max_length,
                ..Checks::default()
            },
            Schema::Blob(b) => Checks {
                accept: b.accept.clone(),
                max_size: b.max_size,
                ..Checks::default()
            },
            Schema::Array(a) => {
                let items = self.checks(&a.items, depth + 1);
                Checks {
                    min_length: a.min_length,
                    max_length: a.max_length,
                    items: (!items.is_empty()).then(|| Box::new(items)),
                    ..Checks::default()
                }
            }
            Schema::Ref(r) if depth < 8 => match self.target(&r.target) {
                Some(target) if is_plain(target) => self.checks(target, depth + 1),
                _ => Checks::default(),
            },
            _ => Checks::default(),
        }
    }

    /// The name claimed in the first pass for a documented endpoint type.
    fn reserved_name(&mut self, wanted: &'static str) -> String {
        match self.reserved.get(&(self.document.id.as_str(), wanted)) {
            Some(name) => name.clone(),
            None => self.types.claim(wanted.to_owned()),
        }
    }

    fn tag(&self, def: &str) -> String {
        if def == "main" {
            self.nsid().to_owned()
        } else {
            format!("{}#{def}", self.nsid())
        }
    }

    fn def(&mut self, name: &str, schema: &Schema, tokens: &BTreeMap<(&str, &str), String>) {
        let doc = schema.description().map(str::to_owned);
        let own_name = || self.names.get(&(self.nsid(), name)).map(|p| p.name.clone());
        match schema {
            Schema::Token(_) => {
                let constant = tokens[&(self.nsid(), name)].clone();
                self.items.push(Item::Token(Token {
                    name: constant,
                    doc,
                    value: self.tag(name),
                }));
            }
            Schema::Record(record) => {
                let type_name = own_name().expect("records are named");
                if let Schema::Object(object) = record.record.as_ref() {
                    let info = RecordInfo {
                        nsid: self.nsid().to_owned(),
                        key: record.key.clone(),
                    };
                    let doc = doc.or_else(|| object.description.clone());
                    self.object(type_name, doc, object, self.tag(name), Some(info), false);
                }
            }
            Schema::Object(object) => {
                let type_name = own_name().expect("objects are named");
                self.object(type_name, doc, object, self.tag(name), None, false);
            }
            Schema::Query(endpoint) | Schema::Procedure(endpoint) => {
                let kind = if matches!(schema, Schema::Query(_)) {
                    EndpointKind::Query
                } else {
                    EndpointKind::Procedure
                };
                let params = endpoint.parameters.as_deref().and_then(|p| self.params(p));
                let input = endpoint.input.as_ref().map(|body| self.body("Input", body));
                let output = endpoint
                    .output
                    .as_ref()
                    .map(|body| self.body("Output", body));
                let error = self.error_enum(&endpoint.errors);
                let method = naming::module(self.nsid().rsplit('.').next().unwrap_or_default());
                let marker = self.reserved_name("Endpoint");
                self.items.push(Item::Endpoint(Endpoint {
                    kind,
                    nsid: self.nsid().to_owned(),
                    doc,
                    method,
                    marker,
                    params,
                    input,
                    output,
                    error,
                }));
            }
            Schema::Subscription(subscription) => {
                let params = subscription
                    .parameters
                    .as_deref()
                    .and_then(|p| self.params(p));
                let message = subscription.message.as_ref().and_then(|m| {
                    let name = self.reserved_name("Message");
                    match self.ty(&m.schema, &name, Some(&name)) {
                        Type::Named { path, .. } => Some(path),
                        _ => None,
                    }
                });
                let error = self.error_enum(&subscription.errors);
                let prefix = format!("{}#", self.nsid());
                let frames = self
                    .items
                    .iter()
                    .find_map(|item| match (item, &message) {
                        (Item::Union(u), Some(path)) if u.name == path.name => Some(&u.variants),
                        _ => None,
                    })
                    .map(|variants| {
                        variants
                            .iter()
                            .map(|v| {
                                let t = v
                                    .tag
                                    .strip_prefix(&prefix)
                                    .map_or_else(|| v.tag.clone(), |def| format!("#{def}"));
                                (t, v.name.clone())
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                let marker = self.reserved_name("Endpoint");
                self.items.push(Item::Subscription(Subscription {
                    nsid: self.nsid().to_owned(),
                    doc,
                    marker,
                    params,
                    message,
                    frames,
                    error,
                }));
            }
            Schema::PermissionSet(set) => {
                let permissions = set
                    .permissions
                    .iter()
                    .filter_map(|p| match p {
                        Schema::Permission(p) => Some(p.clone()),
                        _ => None,
                    })
                    .collect();
                self.items.push(Item::PermissionSet(PermissionSet {
                    nsid: self.nsid().to_owned(),
                    doc,
                    title: set.title.clone(),
                    title_lang: set
                        .title_lang
                        .iter()
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect(),
                    detail: set.detail.clone(),
                    detail_lang: set
                        .detail_lang
                        .iter()
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect(),
                    permissions,
                }));
            }
            Schema::String(s) if !s.known_values.is_empty() || s.r#enum.is_some() => {
                let type_name = own_name().expect("strings are named");
                self.strings(type_name, doc, s);
            }
            // A named union (tolerated with a warning): the union type itself, named after the def.
            Schema::Union(_) => {
                let type_name = own_name().expect("unions are named");
                self.ty(schema, &type_name, Some(&type_name));
            }
            Schema::Params(_) | Schema::Ref(_) | Schema::Unknown(_) | Schema::Permission(_) => {
                // Rejected as named defs by the check pass; nothing to emit.
            }
            other => {
                let type_name = own_name().expect("plain defs are named");
                let ty = self.ty(other, &type_name, None);
                self.items.push(Item::Alias(Alias {
                    name: type_name,
                    doc,
                    ty,
                }));
            }
        }
    }

    fn object(
        &mut self,
        name: String,
        doc: Option<String>,
        object: &lexicon::Object,
        type_tag: String,
        record: Option<RecordInfo>,
        is_params: bool,
    ) {
        let mut field_names = Scope::with_reserved(&["extra"]);
        let mut fields = Vec::with_capacity(object.properties.len());
        for (json_name, property) in &object.properties {
            let hint = format!("{name}{}", naming::unraw(&naming::type_name(json_name)));
            self.location.push(json_name.clone());
            let address = self.location.join(".");
            let ty = self.ty(property, &hint, None);
            self.location.pop();
            let formatted = matches!(innermost(&ty), Type::Format(_));
            let secret = matches!(innermost(&ty), Type::String | Type::Format(_))
                && crate::secrets::is_secret(&address, json_name, formatted);
            fields.push(Field {
                json_name: json_name.clone(),
                rust_name: field_names.claim(naming::field(json_name)),
                doc: property.description().map(str::to_owned),
                ty,
                required: object.required.contains(json_name),
                nullable: object.nullable.contains(json_name),
                default: default_of(property),
                checks: self.checks(property, 0),
                address,
                secret,
            });
        }
        self.items.push(Item::Struct(Struct {
            name,
            doc,
            fields,
            type_tag,
            record,
            is_params,
        }));
    }

    fn params(&mut self, schema: &Schema) -> Option<TypePath> {
        let Schema::Params(object) = schema else {
            return None;
        };
        let name = self.reserved_name("Params");
        let tag = format!("{}#params", self.nsid());
        self.location.push("params".to_owned());
        self.object(
            name.clone(),
            object.description.clone(),
            object,
            tag,
            None,
            true,
        );
        self.location.pop();
        Some(self.local(name))
    }

    fn body(&mut self, wanted: &'static str, body: &lexicon::Body) -> Body {
        self.location.push(wanted.to_ascii_lowercase());
        let ty = body.schema.as_deref().map(|schema| {
            let name = self.reserved_name(wanted);
            match self.ty(schema, &name, Some(&name)) {
                Type::Named { path, .. } if path.module == self.module && path.name == name => path,
                other => {
                    // A ref as the body: an alias keeps the documented name (`Output`).
                    self.items.push(Item::Alias(Alias {
                        name: name.clone(),
                        doc: None,
                        ty: other,
                    }));
                    self.local(name)
                }
            }
        });
        self.location.pop();
        Body {
            encoding: body.encoding.clone(),
            ty,
        }
    }

    fn error_enum(&mut self, errors: &[lexicon::ErrorDef]) -> ErrorEnum {
        let name = self.reserved_name("Error");
        let mut variants = Scope::with_reserved(&["Other"]);
        ErrorEnum {
            name,
            variants: errors
                .iter()
                .map(|e| {
                    (
                        variants.claim(naming::type_name(&e.name)),
                        e.name.clone(),
                        e.description.clone(),
                    )
                })
                .collect(),
        }
    }

    fn local(&self, name: String) -> TypePath {
        TypePath {
            external: self.external.clone(),
            module: self.module.clone(),
            name,
        }
    }

    /// The type of a schema used in place; inline objects, unions and string sets become
    /// items named `hint` (or exactly `exact`, for documented names such as `Input`).
    fn ty(&mut self, schema: &Schema, hint: &str, exact: Option<&str>) -> Type {
        // `exact` names were claimed up front; others are claimed here.
        let named = |builder: &mut Self, wanted: &str| match exact {
            Some(name) => name.to_owned(),
            None => builder.types.claim(wanted.to_owned()),
        };
        match schema {
            Schema::Boolean(_) => Type::Bool,
            Schema::Integer(_) => Type::Integer,
            Schema::String(s) if !s.known_values.is_empty() || s.r#enum.is_some() => {
                let name = named(self, hint);
                self.strings(name.clone(), s.description.clone(), s);
                Type::Named {
                    path: self.local(name),
                    boxed: false,
                }
            }
            Schema::String(s) => s.format.map_or(Type::String, Type::Format),
            Schema::Bytes(_) => Type::Bytes,
            Schema::CidLink(_) => Type::CidLink,
            Schema::Blob(_) => Type::Blob,
            Schema::Unknown(_) => Type::Unknown,
            Schema::Array(array) => Type::Array(Box::new(self.ty(
                &array.items,
                &format!("{hint}Item"),
                None,
            ))),
            Schema::Object(object) | Schema::Params(object) => {
                let name = named(self, hint);
                let tag = format!("{}#{}", self.nsid(), naming::field(hint));
                self.object(
                    name.clone(),
                    object.description.clone(),
                    object,
                    tag,
                    None,
                    false,
                );
                Type::Named {
                    path: self.local(name),
                    boxed: false,
                }
            }
            Schema::Ref(r) => {
                // A ref to a plain named string, integer, ...: use the type itself, so the
                // value's constraints and format travel with it.
                if let Some(target) = self.target(&r.target).filter(|t| is_plain(t)) {
                    return self.ty(target, hint, exact);
                }
                let (nsid, def) = split_ref(self.nsid(), &r.target);
                match self.names.get(&(nsid, def)) {
                    Some(path) => Type::Named {
                        path: path.clone(),
                        boxed: false,
                    },
                    None => Type::Unknown,
                }
            }
            Schema::Union(union) => {
                let name = named(self, hint);
                let mut variant_names = Scope::with_reserved(&["Unknown"]);
                let variants = union
                    .refs
                    .iter()
                    .filter_map(|target| {
                        let (nsid, def) = split_ref(self.nsid(), target);
                        // Only objects carry `$type` (the check pass warns about the rest).
                        if !matches!(
                            self.target(target),
                            Some(Schema::Object(_) | Schema::Record(_))
                        ) {
                            return None;
                        }
                        let path = self.names.get(&(nsid, def))?.clone();
                        let wanted = if nsid == self.nsid() {
                            naming::type_name(def)
                        } else {
                            let last = nsid.rsplit('.').next().unwrap_or(nsid);
                            naming::type_name(&if def == "main" {
                                last.to_owned()
                            } else {
                                format!("{last} {def}")
                            })
                        };
                        let tag = if def == "main" {
                            nsid.to_owned()
                        } else {
                            format!("{nsid}#{def}")
                        };
                        Some(Variant {
                            name: variant_names.claim(wanted),
                            tag,
                            ty: path,
                        })
                    })
                    .collect();
                self.items.push(Item::Union(Union {
                    name: name.clone(),
                    doc: union.description.clone(),
                    closed: union.closed,
                    variants,
                }));
                Type::Named {
                    path: self.local(name),
                    boxed: false,
                }
            }
            // Not valid in place (rejected by the check pass); keep the data losslessly.
            Schema::Token(_)
            | Schema::Record(_)
            | Schema::Query(_)
            | Schema::Procedure(_)
            | Schema::Subscription(_)
            | Schema::PermissionSet(_)
            | Schema::Permission(_) => Type::Unknown,
        }
    }

    fn strings(&mut self, name: String, doc: Option<String>, schema: &lexicon::StringSchema) {
        let (open, values) = match &schema.r#enum {
            Some(values) => (false, values.clone()),
            None => (true, schema.known_values.clone()),
        };
        let mut variant_names = Scope::with_reserved(if open { &["Other"] } else { &[] });
        let mut seen = BTreeSet::new();
        let values = values
            .into_iter()
            .filter(|v| seen.insert(v.clone()))
            .map(|value| {
                // Known values may be full token refs (`nsid#name`): name the variant after the token.
                let base = value.rsplit('#').next().unwrap_or(&value);
                let base = if value.contains('#') {
                    base
                } else {
                    value.rsplit('.').next().unwrap_or(&value)
                };
                let base = if base.is_empty() {
                    value.as_str()
                } else {
                    base
                };
                (variant_names.claim(naming::type_name(base)), value)
            })
            .collect();
        self.items.push(Item::Strings(Strings {
            name,
            doc,
            open,
            values,
        }));
    }
}

/// Boxes the fields that would make a type contain itself: every field whose type (directly or
/// through `Option`, but not through `Vec`, which is already indirect) lies in the same strongly
/// connected component of the containment graph as the struct holding it.
fn box_cycles(ir: &mut Ir) {
    let mut edges: BTreeMap<TypePath, BTreeSet<TypePath>> = BTreeMap::new();
    for module in &ir.modules {
        for item in &module.items {
            let (name, types): (&str, Vec<&Type>) = match item {
                Item::Struct(s) => (&s.name, s.fields.iter().map(|f| &f.ty).collect()),
                Item::Alias(a) => (&a.name, vec![&a.ty]),
                _ => continue,
            };
            let from = TypePath {
                external: module.external.clone(),
                module: module.path.clone(),
                name: name.to_owned(),
            };
            let targets = edges.entry(from).or_default();
            for ty in types {
                if let Type::Named { path, .. } = ty {
                    targets.insert(path.clone());
                }
            }
        }
    }
    let component = strongly_connected(&edges);
    for module in &mut ir.modules {
        for item in &mut module.items {
            let (name, types): (&str, Vec<&mut Type>) = match item {
                Item::Struct(s) => (&s.name, s.fields.iter_mut().map(|f| &mut f.ty).collect()),
                Item::Alias(a) => (&a.name, vec![&mut a.ty]),
                _ => continue,
            };
            let from = TypePath {
                external: module.external.clone(),
                module: module.path.clone(),
                name: name.to_owned(),
            };
            for ty in types {
                if let Type::Named { path, boxed } = ty
                    && component.contains_key(&from)
                    && component.get(&from) == component.get(path)
                {
                    *boxed = true;
                }
            }
        }
    }
}

/// An optional object field is boxed when the object is larger than this (by
/// [`ObjectSizes`]' estimate): small ones (a strong ref, 72 bytes) stay inline and cost no
/// allocation, large ones cost a pointer while absent.
const INLINE_OPTIONAL_OBJECT_BYTES: usize = 128;

/// Boxes the optional fields whose type is a large object. Without it, a timeline item holds
/// every optional viewer state, reply ref and profile part inline, kilobytes that are mostly
/// `None` and are moved whole as the item is read.
fn box_optional_objects(ir: &mut Ir) {
    let mut sizes = ObjectSizes::new(ir);
    let mut boxed = Vec::new();
    for (m, module) in ir.modules.iter().enumerate() {
        for (i, item) in module.items.iter().enumerate() {
            let Item::Struct(s) = item else { continue };
            for (f, field) in s.fields.iter().enumerate() {
                if sizes.boxes(field) {
                    boxed.push((m, i, f));
                }
            }
        }
    }
    for (m, i, f) in boxed {
        if let Item::Struct(s) = &mut ir.modules[m].items[i]
            && let Type::Named { boxed, .. } = &mut s.fields[f].ty
        {
            *boxed = true;
        }
    }
}

/// Estimated sizes in bytes of the generated structs, once their own large optional objects
/// are boxed. The same lexicons give the same estimates on every machine (they are not
/// `size_of`), so the output stays deterministic.
struct ObjectSizes<'a> {
    structs: BTreeMap<TypePath, &'a Struct>,
    /// Aliases, so that a field typed by an alias of an object is sized as that object.
    aliases: BTreeMap<TypePath, &'a Type>,
    known: BTreeMap<TypePath, usize>,
}

impl<'a> ObjectSizes<'a> {
    fn new(ir: &'a Ir) -> Self {
        let mut structs = BTreeMap::new();
        let mut aliases = BTreeMap::new();
        for module in &ir.modules {
            for item in &module.items {
                let path = |name: &str| TypePath {
                    external: module.external.clone(),
                    module: module.path.clone(),
                    name: name.to_owned(),
                };
                match item {
                    Item::Struct(s) => {
                        structs.insert(path(&s.name), s);
                    }
                    Item::Alias(a) => {
                        aliases.insert(path(&a.name), &a.ty);
                    }
                    _ => {}
                }
            }
        }
        ObjectSizes {
            structs,
            aliases,
            known: BTreeMap::new(),
        }
    }

    /// Whether `field` is an optional object large enough to box.
    fn boxes(&mut self, field: &Field) -> bool {
        match &field.ty {
            Type::Named { path, boxed: false }
                if !field.required && self.structs.contains_key(path) =>
            {
                self.of_struct(path) > INLINE_OPTIONAL_OBJECT_BYTES
            }
            _ => false,
        }
    }

    /// The fields as laid out (boxing applied), and the map of unknown fields.
    fn of_struct(&mut self, path: &TypePath) -> usize {
        if let Some(size) = self.known.get(path) {
            return *size;
        }
        let Some(s) = self.structs.get(path).copied() else {
            return 0;
        };
        // A cycle only passes through fields `box_cycles` boxed, which are not followed, so
        // this recursion ends.
        let mut size = 24;
        for field in &s.fields {
            size += if self.boxes(field) {
                8
            } else {
                let inner = self.of_type(&field.ty);
                // `Option` of a bool or an integer needs its own tag; other types have room
                // for `None`.
                let tag = !field.required && matches!(field.ty, Type::Bool | Type::Integer);
                inner + if tag { 8 } else { 0 }
            };
        }
        self.known.insert(path.clone(), size);
        size
    }

    fn of_type(&mut self, ty: &Type) -> usize {
        match ty {
            Type::Bool => 1,
            Type::Integer => 8,
            Type::String
            | Type::Format(_)
            | Type::Bytes
            | Type::CidLink
            | Type::Unknown
            | Type::Array(_) => 24,
            Type::Blob => 64,
            Type::Named { boxed: true, .. } => 8,
            Type::Named { path, boxed: false } => {
                if self.structs.contains_key(path) {
                    self.of_struct(path)
                } else if let Some(ty) = self.aliases.get(path).copied() {
                    self.of_type(ty)
                } else {
                    // A union (a boxed member and its tag) or a string enum.
                    24
                }
            }
        }
    }
}

/// Tarjan's algorithm (iterative): the component number of every node.
fn strongly_connected(edges: &BTreeMap<TypePath, BTreeSet<TypePath>>) -> BTreeMap<TypePath, usize> {
    let nodes: Vec<&TypePath> = edges.keys().collect();
    let id_of: BTreeMap<&TypePath, usize> =
        nodes.iter().enumerate().map(|(i, n)| (*n, i)).collect();
    let adjacency: Vec<Vec<usize>> = nodes
        .iter()
        .map(|n| {
            edges[*n]
                .iter()
                .filter_map(|t| id_of.get(t).copied())
                .collect()
        })
        .collect();
    let n = nodes.len();
    let (mut index, mut low, mut on_stack) = (vec![usize::MAX; n], vec![0; n], vec![false; n]);
    let (mut stack, mut component, mut next_index, mut next_component) =
        (Vec::new(), vec![usize::MAX; n], 0, 0);
    for root in 0..n {
        if index[root] != usize::MAX {
            continue;
        }
        let mut work = vec![(root, 0usize)];
        while let Some((v, edge)) = work.pop() {
            if edge == 0 {
                index[v] = next_index;
                low[v] = next_index;
                next_index += 1;
                stack.push(v);
                on_stack[v] = true;
            }
            if let Some(&w) = adjacency[v].get(edge) {
                work.push((v, edge + 1));
                if index[w] == usize::MAX {
                    work.push((w, 0));
                } else if on_stack[w] {
                    low[v] = low[v].min(index[w]);
                }
                continue;
            }
            if low[v] == index[v] {
                while let Some(w) = stack.pop() {
                    on_stack[w] = false;
                    component[w] = next_component;
                    if w == v {
                        break;
                    }
                }
                next_component += 1;
            }
            if let Some(&(parent, _)) = work.last() {
                low[parent] = low[parent].min(low[v]);
            }
        }
    }
    // A node alone in its component is only a cycle if it points at itself.
    let mut sizes = vec![0usize; next_component];
    for &c in &component {
        sizes[c] += 1;
    }
    nodes
        .iter()
        .enumerate()
        .filter(|(i, _)| sizes[component[*i]] > 1 || adjacency[*i].contains(i))
        .map(|(i, node)| ((*node).clone(), component[i]))
        .collect()
}

fn default_of(schema: &Schema) -> Option<serde_json::Value> {
    match schema {
        Schema::Boolean(b) => b.default.map(serde_json::Value::from),
        Schema::Integer(i) => i.default.map(serde_json::Value::from),
        Schema::String(s) => s.default.clone().map(serde_json::Value::from),
        _ => None,
    }
}

/// A def that is only a value type (no struct, union or enum of its own to name).
fn is_plain(schema: &Schema) -> bool {
    match schema {
        Schema::String(s) => s.known_values.is_empty() && s.r#enum.is_none(),
        Schema::Boolean(_)
        | Schema::Integer(_)
        | Schema::Bytes(_)
        | Schema::CidLink(_)
        | Schema::Blob(_)
        | Schema::Unknown(_) => true,
        _ => false,
    }
}

/// The element type of a (possibly nested) array, or the type itself.
fn innermost(ty: &Type) -> &Type {
    match ty {
        Type::Array(item) => innermost(item),
        other => other,
    }
}
