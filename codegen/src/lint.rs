//! Check: the spec's rules on a set of loaded documents. Every problem is collected.

use crate::diagnostics::{Diagnostic, Diagnostics, Severity, pointer};
use crate::lexicon::{Document, Endpoint, Object, Schema, def_of, is_valid_nsid, split_ref};
use crate::locate::locate;
use std::collections::{BTreeMap, BTreeSet};

/// Checks every document against the spec and against each other (refs, duplicate ids).
/// `missing` names documents that failed to load: refs into them are not reported again.
pub fn check(documents: &[Document], missing: &BTreeSet<String>) -> Diagnostics {
    let mut index: BTreeMap<&str, &Document> = BTreeMap::new();
    let mut diagnostics = Diagnostics::default();
    for document in documents {
        if let Some(first) = index.insert(&document.id, document) {
            let mut checker = Checker::new(document, &index, missing, &mut diagnostics);
            checker.error_at(
                &["id"],
                format!("the id is also used by {}", first.file.display()),
            );
        }
    }
    for document in documents {
        Checker::new(document, &index, missing, &mut diagnostics).document();
    }
    diagnostics
}

/// Checks `documents[first..]`; the ones before (a base crate's, checked when it was
/// generated) only serve to resolve refs. The ids must be distinct.
pub fn check_from(documents: &[Document], first: usize, missing: &BTreeSet<String>) -> Diagnostics {
    let index: BTreeMap<&str, &Document> = documents.iter().map(|d| (d.id.as_str(), d)).collect();
    let mut diagnostics = Diagnostics::default();
    for document in &documents[first..] {
        Checker::new(document, &index, missing, &mut diagnostics).document();
    }
    diagnostics
}

/// Where a schema sits, which decides the types it may have.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Place {
    MainDef,
    NamedDef,
    Property,
    Param,
    ArrayItem,
    ParamArrayItem,
    RecordBody,
    Body,
    Message,
    PermissionEntry,
}

struct Checker<'a> {
    document: &'a Document,
    index: &'a BTreeMap<&'a str, &'a Document>,
    missing: &'a BTreeSet<String>,
    diagnostics: &'a mut Diagnostics,
    path: Vec<String>,
}

impl<'a> Checker<'a> {
    fn new(
        document: &'a Document,
        index: &'a BTreeMap<&'a str, &'a Document>,
        missing: &'a BTreeSet<String>,
        diagnostics: &'a mut Diagnostics,
    ) -> Self {
        Checker {
            document,
            index,
            missing,
            diagnostics,
            path: Vec::new(),
        }
    }

    fn error_at(&mut self, extra: &[&str], message: String) {
        self.report(Severity::Error, "", extra, message);
    }

    /// A deviation from the spec whose meaning is clear: generated, and said.
    fn warn_at(&mut self, rule: &'static str, extra: &[&str], message: String) {
        self.report(Severity::Warning, rule, extra, message);
    }

    fn report(&mut self, severity: Severity, rule: &'static str, extra: &[&str], message: String) {
        let at = pointer(
            self.path
                .iter()
                .map(String::as_str)
                .chain(extra.iter().copied()),
        );
        self.diagnostics.push(Diagnostic {
            file: self.document.file.clone(),
            position: locate(&self.document.text, &at),
            def: def_of(Some(&self.document.id), &at),
            pointer: at,
            message,
            severity,
            rule,
        });
    }

    fn error(&mut self, message: String) {
        self.error_at(&[], message);
    }

    fn within(&mut self, segments: &[&str], f: impl FnOnce(&mut Self)) {
        let depth = self.path.len();
        self.path.extend(segments.iter().map(|s| (*s).to_owned()));
        f(self);
        self.path.truncate(depth);
    }

    fn document(&mut self) {
        let document = self.document;
        if document.lexicon != 1 {
            self.error_at(
                &["lexicon"],
                format!(
                    "unsupported lexicon version {}: only 1 exists",
                    document.lexicon
                ),
            );
        }
        // The id names the document; where its file sits does not matter (the spec ties
        // neither to the other, and real projects use every layout).
        if !is_valid_nsid(&document.id) {
            self.error_at(&["id"], format!("`{}` is not a valid NSID", document.id));
        }
        for (name, schema) in &document.defs {
            let place = if name == "main" {
                Place::MainDef
            } else {
                Place::NamedDef
            };
            self.within(&["defs", name], |c| c.schema(schema, place));
        }
    }

    fn schema(&mut self, schema: &Schema, place: Place) {
        if let Some(rule) = tolerated(schema, place) {
            self.warn_at(
                rule,
                &[],
                format!(
                    "a `{}` def is not in the spec; generated as a named type that refs use",
                    schema.type_name()
                ),
            );
        } else if let Some(problem) = misplaced(schema, place) {
            self.error(problem);
            return;
        }
        match schema {
            Schema::Boolean(_)
            | Schema::Bytes(_)
            | Schema::CidLink(_)
            | Schema::Token(_)
            | Schema::Unknown(_) => {}
            Schema::Integer(s) => {
                self.range(s.minimum, s.maximum, "minimum", "maximum");
                for value in s.default.iter().chain(&s.r#const) {
                    if s.minimum.is_some_and(|m| *value < m)
                        || s.maximum.is_some_and(|m| *value > m)
                    {
                        self.error(format!("{value} lies outside minimum..maximum"));
                    }
                    if s.r#enum.as_ref().is_some_and(|e| !e.contains(value)) {
                        self.error(format!("{value} is not one of the `enum` values"));
                    }
                }
            }
            Schema::String(s) => {
                self.range(s.min_length, s.max_length, "minLength", "maxLength");
                self.range(
                    s.min_graphemes,
                    s.max_graphemes,
                    "minGraphemes",
                    "maxGraphemes",
                );
                if s.default.is_some() && s.r#const.is_some() {
                    self.error("`default` and `const` exclude each other".into());
                }
                for value in s.default.iter().chain(&s.r#const) {
                    if s.r#enum.as_ref().is_some_and(|e| !e.contains(value)) {
                        self.error(format!("`{value}` is not one of the `enum` values"));
                    }
                }
            }
            Schema::Blob(s) => {
                for (i, pattern) in s.accept.iter().flatten().enumerate() {
                    if !is_valid_accept(pattern) {
                        self.error_at(
                            &["accept", &i.to_string()],
                            format!("`{pattern}` is not a MIME type or `type/*` pattern"),
                        );
                    }
                }
            }
            Schema::Array(s) => {
                self.range(s.min_length, s.max_length, "minLength", "maxLength");
                let item_place = if matches!(place, Place::Param) {
                    Place::ParamArrayItem
                } else {
                    Place::ArrayItem
                };
                self.within(&["items"], |c| c.schema(&s.items, item_place));
            }
            Schema::Object(s) => self.object(s, Place::Property),
            Schema::Params(s) => {
                if !s.nullable.is_empty() {
                    self.error_at(&["nullable"], "params cannot be nullable".into());
                }
                self.object(s, Place::Param);
            }
            Schema::Ref(r) => {
                let target = r.target.clone();
                self.within(&["ref"], |c| c.reference(&target, false));
            }
            Schema::Union(u) => {
                if u.closed && u.refs.is_empty() {
                    self.error("a closed union needs at least one ref".into());
                }
                let mut seen = BTreeSet::new();
                for (i, target) in u.refs.iter().enumerate() {
                    let (nsid, def) = split_ref(&self.document.id, target);
                    if !seen.insert((nsid, def)) {
                        self.error_at(
                            &["refs", &i.to_string()],
                            format!("`{target}` is listed twice"),
                        );
                    }
                    self.within(&["refs", &i.to_string()], |c| c.reference(target, true));
                }
            }
            Schema::Record(r) => {
                if !is_valid_record_key_type(&r.key) {
                    self.error_at(
                        &["key"],
                        format!(
                            "record key type `{}` is none of tid, nsid, any, literal:<value>",
                            r.key
                        ),
                    );
                }
                self.within(&["record"], |c| c.schema(&r.record, Place::RecordBody));
            }
            Schema::Query(e) => self.endpoint(e, false),
            Schema::Procedure(e) => self.endpoint(e, true),
            Schema::Subscription(s) => {
                if let Some(parameters) = &s.parameters {
                    self.within(&["parameters"], |c| c.parameters(parameters));
                }
                if let Some(message) = &s.message {
                    self.within(&["message", "schema"], |c| {
                        c.schema(&message.schema, Place::Message)
                    });
                }
            }
            Schema::PermissionSet(p) => {
                for (i, permission) in p.permissions.iter().enumerate() {
                    self.within(&["permissions", &i.to_string()], |c| {
                        c.schema(permission, Place::PermissionEntry)
                    });
                }
            }
            Schema::Permission(_) => {}
        }
    }

    fn object(&mut self, object: &Object, place: Place) {
        for (field, names) in [
            ("required", &object.required),
            ("nullable", &object.nullable),
        ] {
            for (i, name) in names.iter().enumerate() {
                if !object.properties.contains_key(name) {
                    self.error_at(
                        &[field, &i.to_string()],
                        format!("`{name}` is not a property"),
                    );
                }
            }
        }
        for (name, property) in &object.properties {
            self.within(&["properties", name], |c| c.schema(property, place));
        }
    }

    fn parameters(&mut self, parameters: &Schema) {
        if matches!(parameters, Schema::Params(_)) {
            self.schema(parameters, Place::NamedDef);
        } else {
            self.error(format!(
                "`parameters` must be of type `params`, not `{}`",
                parameters.type_name()
            ));
        }
    }

    fn endpoint(&mut self, endpoint: &Endpoint, has_input: bool) {
        if let Some(parameters) = &endpoint.parameters {
            self.within(&["parameters"], |c| c.parameters(parameters));
        }
        if endpoint.input.is_some() && !has_input {
            self.error_at(&["input"], "a query has no input body".into());
        }
        for (field, body) in [("input", &endpoint.input), ("output", &endpoint.output)] {
            let Some(body) = body else { continue };
            if body.encoding.trim().is_empty() {
                self.error_at(
                    &[field, "encoding"],
                    "the encoding must be a MIME type".into(),
                );
            } else if body.encoding.contains(',') {
                self.warn_at(
                    "encoding-list",
                    &[field, "encoding"],
                    "the encoding is one MIME type in the spec, here a list: the body is raw bytes, \
                     sent with the content type the caller gives"
                        .into(),
                );
            }
            if let Some(schema) = &body.schema {
                self.within(&[field, "schema"], |c| c.schema(schema, Place::Body));
            }
        }
        let mut names = BTreeSet::new();
        for (i, error) in endpoint.errors.iter().enumerate() {
            if !names.insert(error.name.as_str()) {
                self.error_at(
                    &["errors", &i.to_string(), "name"],
                    format!("error `{}` is listed twice", error.name),
                );
            }
        }
    }

    fn range<N: PartialOrd + std::fmt::Display>(
        &mut self,
        min: Option<N>,
        max: Option<N>,
        min_name: &str,
        max_name: &str,
    ) {
        if let (Some(min), Some(max)) = (min, max)
            && min > max
        {
            self.error(format!(
                "`{min_name}` ({min}) is greater than `{max_name}` ({max})"
            ));
        }
    }

    /// Checks that a ref (or union member) names an existing def of a type it may point to.
    fn reference(&mut self, target: &str, in_union: bool) {
        let (nsid, def) = split_ref(&self.document.id, target);
        if nsid.is_empty() || def.is_empty() || !is_valid_nsid(nsid) {
            self.error(format!("`{target}` is not a valid reference"));
            return;
        }
        let Some(document) = self.index.get(nsid) else {
            if !self.missing.contains(nsid) {
                self.error(format!(
                    "unresolved reference `{target}`: no lexicon has the id `{nsid}`"
                ));
            }
            return;
        };
        let Some(schema) = document.defs.get(def) else {
            self.error(format!(
                "unresolved reference `{target}`: `{nsid}` has no def `{def}`"
            ));
            return;
        };
        // Tokens and endpoints are not values: nothing can hold one.
        let allowed = !matches!(
            schema,
            Schema::Token(_)
                | Schema::Query(_)
                | Schema::Procedure(_)
                | Schema::Subscription(_)
                | Schema::PermissionSet(_)
        );
        if allowed && in_union && !matches!(schema, Schema::Object(_) | Schema::Record(_)) {
            self.warn_at(
                "union-member-not-object",
                &[],
                format!(
                    "`{target}` is a `{}`, which cannot carry `$type`: left out of the union \
                     (such values are kept whole where the union is open)",
                    schema.type_name()
                ),
            );
            return;
        }
        if !allowed {
            let what = if in_union { "a union member" } else { "a ref" };
            self.error(format!(
                "`{target}` is a `{}`, which cannot be {what}",
                schema.type_name()
            ));
        }
    }
}

/// Defs the spec does not allow but real projects publish, with a clear meaning: a named
/// `union` def that fields reach through `ref`. Names the rule. (Named `ref` and `unknown`
/// defs stay errors: the interop vectors reject them, and no published set needs them.)
fn tolerated(schema: &Schema, place: Place) -> Option<&'static str> {
    (place == Place::NamedDef && matches!(schema, Schema::Union(_))).then_some("named-union")
}

/// Says why a schema type cannot stand where it is, if it cannot.
fn misplaced(schema: &Schema, place: Place) -> Option<String> {
    let kind = schema.type_name();
    let ok = match place {
        Place::MainDef => !matches!(
            schema,
            Schema::Ref(_)
                | Schema::Union(_)
                | Schema::Unknown(_)
                | Schema::Params(_)
                | Schema::Permission(_)
        ),
        Place::NamedDef => {
            if schema.is_primary() {
                return Some(format!("a `{kind}` def must be named `main`"));
            }
            !matches!(
                schema,
                Schema::Ref(_) | Schema::Union(_) | Schema::Unknown(_) | Schema::Permission(_)
            )
        }
        Place::Property | Place::ArrayItem => {
            !schema.is_primary()
                && !matches!(
                    schema,
                    Schema::Token(_) | Schema::Params(_) | Schema::Permission(_)
                )
        }
        Place::Param => matches!(
            schema,
            Schema::Boolean(_)
                | Schema::Integer(_)
                | Schema::String(_)
                | Schema::Unknown(_)
                | Schema::Array(_)
        ),
        Place::ParamArrayItem => matches!(
            schema,
            Schema::Boolean(_) | Schema::Integer(_) | Schema::String(_) | Schema::Unknown(_)
        ),
        Place::RecordBody => matches!(schema, Schema::Object(_)),
        Place::Body => matches!(
            schema,
            Schema::Object(_) | Schema::Ref(_) | Schema::Union(_)
        ),
        Place::Message => matches!(schema, Schema::Union(_)),
        Place::PermissionEntry => matches!(schema, Schema::Permission(_)),
    };
    if ok {
        return None;
    }
    Some(match place {
        Place::MainDef | Place::NamedDef => format!("a `{kind}` cannot be a named def"),
        Place::Property => format!("a `{kind}` cannot be an object property"),
        Place::ArrayItem | Place::ParamArrayItem => {
            format!("a `{kind}` cannot be an array item here")
        }
        Place::Param => format!(
            "a `{kind}` cannot be a query parameter: only boolean, integer, string, unknown and arrays of them"
        ),
        Place::RecordBody => format!("a record's `record` must be an `object`, not a `{kind}`"),
        Place::Body => {
            format!("a body schema must be an `object`, `ref` or `union`, not a `{kind}`")
        }
        Place::Message => {
            format!("a subscription message schema must be a `union`, not a `{kind}`")
        }
        Place::PermissionEntry => format!("a permission set lists `permission`s, not a `{kind}`"),
    })
}

fn is_valid_record_key_type(key: &str) -> bool {
    match key.strip_prefix("literal:") {
        Some(literal) => !literal.is_empty(),
        None => matches!(key, "tid" | "nsid" | "any"),
    }
}

fn is_valid_accept(pattern: &str) -> bool {
    let token = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$&^_.+-".contains(&b))
    };
    match pattern.split_once('/') {
        Some(("*", "*")) => true,
        Some((kind, "*")) => token(kind),
        Some((kind, sub)) => token(kind) && token(sub),
        None => false,
    }
}
