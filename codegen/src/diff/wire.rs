//! The wire view: two versions of one document compared def by def, every change classified by
//! the Lexicon evolution rules. Old data must stay valid under the new lexicon and new data
//! under the old one; what breaks that is [`Level::Breaking`]. What the rules allow but can
//! still surprise someone (a limit moved, a ref retargeted, an optional field dropped) is
//! [`Level::Warning`], with the reason in the message.

use super::{Level, WireChange};
use crate::diagnostics::pointer;
use crate::lexicon::{
    Blob, Body, Document, Endpoint, ErrorDef, Object, Permission, PermissionSet, Schema,
    StringSchema, Subscription, Union, split_ref,
};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Display;
use std::sync::LazyLock;

/// The single change of a new document.
pub fn added_document(id: &str) -> Vec<WireChange> {
    vec![WireChange {
        level: Level::Compatible,
        path: String::new(),
        rule: "document-added",
        message: format!("new document {id}"),
    }]
}

/// The single change of a removed document.
pub fn removed_document(id: &str) -> Vec<WireChange> {
    vec![WireChange {
        level: Level::Breaking,
        path: String::new(),
        rule: "document-removed",
        message: format!(
            "document {id} removed: peers that still send or expect its data and endpoints break"
        ),
    }]
}

/// The documents of one side by id, to follow refs.
pub type Index<'a> = BTreeMap<&'a str, &'a Document>;

/// What an endpoint without a `parameters` block takes.
static NO_PARAMETERS: LazyLock<Object> = LazyLock::new(Object::default);

/// How many refs deep a structural comparison follows before it gives up.
const MAX_FOLLOW: usize = 8;

/// Every change between two versions of one document, unsorted. The indexes hold every
/// document of each side: refs are followed where one side inlines what the other refers to,
/// and where a ref changed its target.
pub fn compare<'a>(
    old: &'a Document,
    new: &'a Document,
    old_index: &'a Index<'a>,
    new_index: &'a Index<'a>,
) -> Vec<WireChange> {
    let mut walker = Walker {
        old_index,
        new_index,
        old_id: &old.id,
        new_id: &new.id,
        path: Vec::new(),
        out: Vec::new(),
        following: Vec::new(),
        judged: BTreeMap::new(),
    };
    walker.description(old.description.as_deref(), new.description.as_deref());
    if old.lexicon != new.lexicon {
        walker.emit(
            Level::Breaking,
            "lexicon-version-changed",
            &["lexicon"],
            format!(
                "lexicon language version changed from {} to {}",
                old.lexicon, new.lexicon
            ),
        );
    }
    if old.revision != new.revision {
        walker.emit(
            Level::Compatible,
            "revision-changed",
            &["revision"],
            format!(
                "revision changed from {} to {}",
                shown_option(old.revision),
                shown_option(new.revision)
            ),
        );
    }
    for (name, old_def) in &old.defs {
        match new.defs.get(name) {
            Some(new_def) => walker.at(&["defs", name], |w| w.schema(old_def, new_def)),
            None => walker.emit(
                Level::Breaking,
                "def-removed",
                &["defs", name],
                format!(
                    "def `{name}` ({}) removed: data and refs that use it break",
                    old_def.type_name()
                ),
            ),
        }
    }
    for (name, new_def) in &new.defs {
        if !old.defs.contains_key(name) {
            walker.emit(
                Level::Compatible,
                "def-added",
                &["defs", name],
                format!("new def `{name}` ({})", new_def.type_name()),
            );
        }
    }
    walker.out
}

struct Walker<'a> {
    old_index: &'a Index<'a>,
    new_index: &'a Index<'a>,
    /// The documents that local refs (`#name`) are relative to, on each side.
    old_id: &'a str,
    new_id: &'a str,
    /// JSON pointer segments of the node being compared.
    path: Vec<String>,
    out: Vec<WireChange>,
    /// Ref targets being compared (old, new): a recursive type that meets itself again is
    /// taken as equal to itself, and the depth is bounded.
    following: Vec<(String, String)>,
    /// Verdicts on retargeted refs already compared (old target, new target), so a def that
    /// many refs share is compared once.
    judged: BTreeMap<(String, String), (Level, String)>,
}

impl<'a> Walker<'a> {
    fn at<R>(&mut self, segments: &[&str], f: impl FnOnce(&mut Self) -> R) -> R {
        let depth = self.path.len();
        self.path.extend(segments.iter().map(|s| (*s).to_owned()));
        let result = f(self);
        self.path.truncate(depth);
        result
    }

    fn emit(&mut self, level: Level, rule: &'static str, extra: &[&str], message: String) {
        let path = pointer(
            self.path
                .iter()
                .map(String::as_str)
                .chain(extra.iter().copied()),
        );
        self.out.push(WireChange {
            level,
            path,
            rule,
            message,
        });
    }

    /// The def a ref points at: `(its document's id, the def)`.
    fn resolve(index: &'a Index<'a>, current: &str, target: &str) -> Option<(&'a str, &'a Schema)> {
        let (nsid, def) = split_ref(current, target);
        let document = index.get(nsid)?;
        Some((document.id.as_str(), document.defs.get(def)?))
    }

    /// Compares with other documents as the base of local refs.
    fn within<R>(&mut self, old_id: &'a str, new_id: &'a str, f: impl FnOnce(&mut Self) -> R) -> R {
        let saved = (self.old_id, self.new_id);
        (self.old_id, self.new_id) = (old_id, new_id);
        let result = f(self);
        (self.old_id, self.new_id) = saved;
        result
    }

    /// One side refers to a def, the other has the same type in place: compare the two
    /// (the data on the wire is the same shape either way).
    fn ref_against_inline(&mut self, old: &'a Schema, new: &'a Schema) -> bool {
        if self.following.len() >= MAX_FOLLOW {
            return false;
        }
        match (old, new) {
            (Schema::Ref(r), _) => {
                let Some((id, target)) = Self::resolve(self.old_index, self.old_id, &r.target)
                else {
                    return false;
                };
                if target.type_name() != new.type_name() {
                    return false;
                }
                let full = full_ref(self.old_id, &r.target);
                self.emit(
                    Level::Compatible,
                    "ref-inlined",
                    &[],
                    format!(
                        "the ref to `{full}` was replaced by a `{}` in place (compared with the \
                         def it pointed at)",
                        new.type_name()
                    ),
                );
                self.following.push((full, String::new()));
                let new_id = self.new_id;
                self.within(id, new_id, |w| w.schema(target, new));
                self.following.pop();
                true
            }
            (_, Schema::Ref(r)) => {
                let Some((id, target)) = Self::resolve(self.new_index, self.new_id, &r.target)
                else {
                    return false;
                };
                if target.type_name() != old.type_name() {
                    return false;
                }
                let full = full_ref(self.new_id, &r.target);
                self.emit(
                    Level::Compatible,
                    "moved-to-def",
                    &[],
                    format!(
                        "the `{}` moved into def `{full}`, now used by ref (compared with that \
                         def)",
                        old.type_name()
                    ),
                );
                self.following.push((String::new(), full));
                let old_id = self.old_id;
                self.within(old_id, id, |w| w.schema(old, target));
                self.following.pop();
                true
            }
            _ => false,
        }
    }

    /// Two refs with different targets: the change is as bad as the targets are different.
    fn retargeted(&mut self, old_target: &str, new_target: &str) {
        let (from, to) = (
            full_ref(self.old_id, old_target),
            full_ref(self.new_id, new_target),
        );
        if from == to || self.following.contains(&(from.clone(), to.clone())) {
            return;
        }
        let resolved = (
            Self::resolve(self.old_index, self.old_id, old_target),
            Self::resolve(self.new_index, self.new_id, new_target),
        );
        let (Some((old_id, old_def)), Some((new_id, new_def))) = resolved else {
            return self.emit(
                Level::Warning,
                "ref-target-changed",
                &["ref"],
                format!("ref target changed from `{from}` to `{to}`"),
            );
        };
        if self.following.len() >= MAX_FOLLOW {
            return self.emit(
                Level::Warning,
                "ref-target-changed",
                &["ref"],
                format!(
                    "ref target changed from `{from}` to `{to}`: breaking unless the two defs are \
                     structurally identical (too deep to compare)"
                ),
            );
        }
        let key = (from.clone(), to.clone());
        if let Some((level, verdict)) = self.judged.get(&key).cloned() {
            return self.emit(level, "ref-target-changed", &["ref"], verdict);
        }
        // Compare the two defs on the side, then judge by what differs.
        let mut inner = Walker {
            old_index: self.old_index,
            new_index: self.new_index,
            old_id,
            new_id,
            path: Vec::new(),
            out: Vec::new(),
            following: self.following.clone(),
            judged: std::mem::take(&mut self.judged),
        };
        inner.following.push(key.clone());
        inner.schema(old_def, new_def);
        self.judged = std::mem::take(&mut inner.judged);
        let differences: Vec<&WireChange> = inner
            .out
            .iter()
            .filter(|c| c.rule != "description-changed")
            .collect();
        let worst = differences.iter().map(|c| c.level).min();
        let (level, verdict) = match worst {
            None => (
                Level::Compatible,
                "the two defs are structurally identical".to_owned(),
            ),
            Some(level) => {
                let example = differences
                    .iter()
                    .find(|c| c.level == level)
                    .map(|c| {
                        let at = if c.path.is_empty() { "/" } else { &c.path };
                        format!("at `{at}` of `{to}`: {}", c.message)
                    })
                    .unwrap_or_default();
                let n = differences.len();
                (
                    level.min(Level::Warning),
                    format!(
                        "the defs differ in {n} place{}, e.g. {example}",
                        if n == 1 { "" } else { "s" }
                    ),
                )
            }
        };
        let message = format!("ref target changed from `{from}` to `{to}`: {verdict}");
        self.judged.insert(key, (level, message.clone()));
        self.emit(level, "ref-target-changed", &["ref"], message);
    }

    fn schema(&mut self, old: &'a Schema, new: &'a Schema) {
        if old.type_name() != new.type_name() {
            if self.ref_against_inline(old, new) {
                return;
            }
            self.emit(
                Level::Breaking,
                "type-changed",
                &[],
                format!(
                    "type changed from `{}` to `{}`",
                    old.type_name(),
                    new.type_name()
                ),
            );
            return;
        }
        self.description(old.description(), new.description());
        match (old, new) {
            (Schema::Boolean(o), Schema::Boolean(n)) => {
                self.constant(o.r#const, n.r#const);
                self.default(o.default, n.default);
            }
            (Schema::Integer(o), Schema::Integer(n)) => {
                self.limit("minimum", o.minimum, n.minimum, false);
                self.limit("maximum", o.maximum, n.maximum, true);
                self.closed_set(o.r#enum.as_deref(), n.r#enum.as_deref());
                self.constant(o.r#const, n.r#const);
                self.default(o.default, n.default);
            }
            (Schema::String(o), Schema::String(n)) => self.string(o, n),
            (Schema::Bytes(o), Schema::Bytes(n)) => {
                self.limit("minLength", o.min_length, n.min_length, false);
                self.limit("maxLength", o.max_length, n.max_length, true);
            }
            (Schema::Blob(o), Schema::Blob(n)) => self.blob(o, n),
            (Schema::Array(o), Schema::Array(n)) => {
                self.at(&["items"], |w| w.schema(&o.items, &n.items));
                self.limit("minLength", o.min_length, n.min_length, false);
                self.limit("maxLength", o.max_length, n.max_length, true);
            }
            (Schema::Object(o), Schema::Object(n)) => self.object(o, n, "field"),
            (Schema::Params(o), Schema::Params(n)) => self.object(o, n, "parameter"),
            (Schema::Ref(o), Schema::Ref(n)) => self.retargeted(&o.target, &n.target),
            (Schema::Union(o), Schema::Union(n)) => self.union(o, n),
            (Schema::Record(o), Schema::Record(n)) => {
                if o.key != n.key {
                    self.emit(
                        Level::Breaking,
                        "record-key-changed",
                        &["key"],
                        format!(
                            "record key changed from `{}` to `{}`: existing records may have keys \
                             the new lexicon rejects",
                            o.key, n.key
                        ),
                    );
                }
                self.at(&["record"], |w| w.schema(&o.record, &n.record));
            }
            (Schema::Query(o), Schema::Query(n)) | (Schema::Procedure(o), Schema::Procedure(n)) => {
                self.endpoint(o, n)
            }
            (Schema::Subscription(o), Schema::Subscription(n)) => self.subscription(o, n),
            (Schema::PermissionSet(o), Schema::PermissionSet(n)) => self.permission_set(o, n),
            (Schema::Permission(o), Schema::Permission(n)) => self.permission(o, n),
            // `cid-link`, `token`, `unknown`: nothing but a description.
            _ => {}
        }
    }

    fn description(&mut self, old: Option<&str>, new: Option<&str>) {
        if old == new {
            return;
        }
        let mut message = match (old, new) {
            (None, _) => "description added".to_owned(),
            (_, None) => "description removed".to_owned(),
            _ => "description changed".to_owned(),
        };
        match (is_deprecated(old), is_deprecated(new)) {
            (false, true) => message.push_str("; now marked deprecated"),
            (true, false) => message.push_str("; no longer marked deprecated"),
            _ => {}
        }
        self.emit(
            Level::Compatible,
            "description-changed",
            &["description"],
            message,
        );
    }

    fn constant<T: PartialEq + Display>(&mut self, old: Option<T>, new: Option<T>) {
        if old != new {
            self.emit(
                Level::Breaking,
                "const-changed",
                &["const"],
                format!(
                    "const changed from {} to {}: data valid under one lexicon is invalid under \
                     the other",
                    shown_option(old),
                    shown_option(new)
                ),
            );
        }
    }

    fn default<T: PartialEq + Display>(&mut self, old: Option<T>, new: Option<T>) {
        if old != new {
            self.emit(
                Level::Compatible,
                "default-changed",
                &["default"],
                format!(
                    "default changed from {} to {} (clients that send the default now send another \
                     value; cached responses differ)",
                    shown_option(old),
                    shown_option(new)
                ),
            );
        }
    }

    /// A lower (`upper == false`) or upper bound moved, appeared or went away.
    fn limit<T: Ord + Display + Copy>(
        &mut self,
        key: &str,
        old: Option<T>,
        new: Option<T>,
        upper: bool,
    ) {
        let tightened = match (old, new) {
            (None, None) => return,
            (Some(o), Some(n)) if o == n => return,
            (None, Some(_)) => true,
            (Some(_), None) => false,
            (Some(o), Some(n)) => (n < o) == upper,
        };
        let what = match (old, new) {
            (None, Some(n)) => format!("{key} {n} added"),
            (Some(o), None) => format!("{key} {o} removed"),
            (Some(o), Some(n)) => format!("{key} changed from {o} to {n}"),
            (None, None) => return,
        };
        self.tightened_or_loosened(key, tightened, !tightened, what);
    }

    fn tightened_or_loosened(&mut self, key: &str, tightened: bool, loosened: bool, what: String) {
        let (rule, why) = match (tightened, loosened) {
            (true, false) => (
                "constraint-tightened",
                "tightened: existing data may be invalid under the new lexicon",
            ),
            (false, true) => (
                "constraint-loosened",
                "loosened: new data may be invalid for readers of the old lexicon",
            ),
            _ => (
                "constraint-changed",
                "both tightened and loosened: data valid under one lexicon may be invalid under \
                 the other",
            ),
        };
        self.emit(Level::Warning, rule, &[key], format!("{what}: {why}"));
    }

    fn string(&mut self, o: &StringSchema, n: &StringSchema) {
        let message = match (o.format, n.format) {
            (None, Some(f)) => Some(format!(
                "format `{}` added: existing values may not be valid {0}s",
                f.name()
            )),
            (Some(f), None) => Some(format!(
                "format `{}` removed: new values may not be valid {0}s, which old readers require",
                f.name()
            )),
            (Some(a), Some(b)) if a != b => Some(format!(
                "format changed from `{}` to `{}`: values valid in one are not in the other",
                a.name(),
                b.name()
            )),
            _ => None,
        };
        if let Some(message) = message {
            self.emit(Level::Breaking, "format-changed", &["format"], message);
        }
        self.limit("minLength", o.min_length, n.min_length, false);
        self.limit("maxLength", o.max_length, n.max_length, true);
        self.limit("minGraphemes", o.min_graphemes, n.min_graphemes, false);
        self.limit("maxGraphemes", o.max_graphemes, n.max_graphemes, true);
        let (added, removed) = set_difference(&o.known_values, &n.known_values);
        if !added.is_empty() || !removed.is_empty() {
            self.emit(
                Level::Compatible,
                "known-values-changed",
                &["knownValues"],
                format!(
                    "knownValues {} (an open set: readers keep values they do not know)",
                    added_removed(&added, &removed)
                ),
            );
        }
        self.closed_set(o.r#enum.as_deref(), n.r#enum.as_deref());
        self.constant(o.r#const.as_deref(), n.r#const.as_deref());
        self.default(o.default.as_deref(), n.default.as_deref());
    }

    /// A closed `enum` of strings or integers.
    fn closed_set<T: Ord + Display + Clone>(&mut self, old: Option<&[T]>, new: Option<&[T]>) {
        let message = match (old, new) {
            (None, None) => return,
            (None, Some(n)) => format!(
                "a closed enum [{}] was added: other values, valid before, are now rejected",
                joined(n)
            ),
            (Some(o), None) => format!(
                "the closed enum [{}] was removed: new data may hold values old readers reject",
                joined(o)
            ),
            (Some(o), Some(n)) => {
                let (added, removed) = set_difference(o, n);
                if added.is_empty() && removed.is_empty() {
                    return;
                }
                let mut why = Vec::new();
                if !added.is_empty() {
                    why.push("old readers reject the new values");
                }
                if !removed.is_empty() {
                    why.push("old data may hold the removed ones");
                }
                format!(
                    "enum {}: {}",
                    added_removed(&added, &removed),
                    why.join("; ")
                )
            }
        };
        self.emit(Level::Breaking, "enum-changed", &["enum"], message);
    }

    fn blob(&mut self, o: &Blob, n: &Blob) {
        if o.accept != n.accept {
            let any = ["*/*".to_owned()];
            let old_accept = o.accept.as_deref().unwrap_or(&any);
            let new_accept = n.accept.as_deref().unwrap_or(&any);
            let tightened = old_accept.iter().any(|p| !mime_covered(new_accept, p));
            let loosened = new_accept.iter().any(|p| !mime_covered(old_accept, p));
            if tightened || loosened {
                let shown = |a: &Option<Vec<String>>| {
                    a.as_deref()
                        .map_or("any type".to_owned(), |a| format!("[{}]", joined(a)))
                };
                let what = format!(
                    "accept changed from {} to {}",
                    shown(&o.accept),
                    shown(&n.accept)
                );
                self.tightened_or_loosened("accept", tightened, loosened, what);
            }
        }
        self.limit("maxSize", o.max_size, n.max_size, true);
    }

    /// An `object` or the `params` of an endpoint; `noun` names its members in messages.
    fn object(&mut self, o: &'a Object, n: &'a Object, noun: &str) {
        for (name, new_property) in &n.properties {
            let required = n.required.contains(name);
            let Some(old_property) = o.properties.get(name) else {
                if required {
                    self.emit(
                        Level::Breaking,
                        "required-added",
                        &["properties", name],
                        format!("required {noun} `{name}` added: old data and old senders lack it"),
                    );
                } else {
                    self.emit(
                        Level::Compatible,
                        "optional-added",
                        &["properties", name],
                        format!("optional {noun} `{name}` added"),
                    );
                }
                continue;
            };
            self.at(&["properties", name], |w| {
                w.schema(old_property, new_property)
            });
            let was_required = o.required.contains(name);
            if was_required != required {
                let (rule, message) = if required {
                    (
                        "now-required",
                        format!("{noun} `{name}` became required: old data may lack it"),
                    )
                } else {
                    (
                        "now-optional",
                        format!(
                            "{noun} `{name}` became optional: new data may lack it, and old \
                             readers require it"
                        ),
                    )
                };
                self.emit(Level::Breaking, rule, &["properties", name], message);
            }
            let (was_nullable, nullable) = (o.nullable.contains(name), n.nullable.contains(name));
            if was_nullable != nullable {
                let message = if nullable {
                    format!("{noun} `{name}` became nullable: old readers reject null")
                } else {
                    format!("{noun} `{name}` is no longer nullable: old data may hold null")
                };
                self.emit(
                    Level::Breaking,
                    "nullable-changed",
                    &["properties", name],
                    message,
                );
            }
        }
        for name in o.properties.keys() {
            if n.properties.contains_key(name) {
                continue;
            }
            if o.required.contains(name) {
                self.emit(
                    Level::Breaking,
                    "required-removed",
                    &["properties", name],
                    format!(
                        "required {noun} `{name}` removed: old readers still require it (a rename \
                         shows as a removal and an addition)"
                    ),
                );
            } else {
                self.emit(
                    Level::Warning,
                    "optional-removed",
                    &["properties", name],
                    format!(
                        "optional {noun} `{name}` removed: existing data still carries it and old \
                         readers may still send it (the spec says keep it and mark it deprecated)"
                    ),
                );
            }
        }
    }

    fn union(&mut self, o: &Union, n: &Union) {
        if o.closed != n.closed {
            let message = if n.closed {
                "the union became closed: data with a `$type` it does not list, valid before, is \
                 now rejected"
            } else {
                "the union became open: new data may carry a `$type` old readers reject"
            };
            self.emit(
                Level::Breaking,
                "union-closed-changed",
                &["closed"],
                message.to_owned(),
            );
        }
        let old_refs: Vec<String> = o.refs.iter().map(|r| full_ref(self.old_id, r)).collect();
        let new_refs: Vec<String> = n.refs.iter().map(|r| full_ref(self.new_id, r)).collect();
        let (added, removed) = set_difference(&old_refs, &new_refs);
        if added.is_empty() && removed.is_empty() {
            return;
        }
        if o.closed || n.closed {
            self.emit(
                Level::Breaking,
                "closed-union-refs-changed",
                &["refs"],
                format!(
                    "closed union refs {}: readers of one version reject the other's data",
                    added_removed(&added, &removed)
                ),
            );
            return;
        }
        if !added.is_empty() {
            self.emit(
                Level::Compatible,
                "open-union-ref-added",
                &["refs"],
                format!(
                    "open union refs added: {} (old readers keep them as unknown)",
                    joined(&added)
                ),
            );
        }
        if !removed.is_empty() {
            self.emit(
                Level::Breaking,
                "open-union-ref-removed",
                &["refs"],
                format!(
                    "open union refs removed: {} (an open union may gain refs, never lose them)",
                    joined(&removed)
                ),
            );
        }
    }

    /// `parameters` of a query, procedure or subscription. No block means no parameters, so
    /// a block that appears or goes away is judged by the parameters in it.
    fn parameters(&mut self, old: Option<&'a Schema>, new: Option<&'a Schema>) {
        let object = |s: Option<&'a Schema>| -> Option<&'a Object> {
            match s {
                None => Some(&NO_PARAMETERS),
                Some(Schema::Params(p)) => Some(p),
                Some(_) => None,
            }
        };
        match (old, new) {
            (Some(o), Some(n)) => self.at(&["parameters"], |w| w.schema(o, n)),
            (None, None) => {}
            _ => {
                if let (Some(o), Some(n)) = (object(old), object(new)) {
                    self.at(&["parameters"], |w| w.object(o, n, "parameter"));
                }
            }
        }
    }

    fn endpoint(&mut self, o: &'a Endpoint, n: &'a Endpoint) {
        self.parameters(o.parameters.as_deref(), n.parameters.as_deref());
        self.body("input", o.input.as_ref(), n.input.as_ref());
        self.body("output", o.output.as_ref(), n.output.as_ref());
        self.errors(&o.errors, &n.errors);
    }

    fn body(&mut self, which: &'static str, old: Option<&'a Body>, new: Option<&'a Body>) {
        let (old, new) = match (old, new) {
            (None, None) => return,
            (None, Some(n)) => {
                let (level, rule, message) = if which == "input" {
                    (
                        Level::Breaking,
                        "input-added",
                        format!(
                            "input added ({}): servers expect a request body that old clients do \
                             not send",
                            n.encoding
                        ),
                    )
                } else {
                    (
                        Level::Warning,
                        "output-added",
                        format!(
                            "output added ({}): old clients get a response body they do not \
                             expect (most ignore it)",
                            n.encoding
                        ),
                    )
                };
                self.emit(level, rule, &[which], message);
                return;
            }
            (Some(o), None) => {
                let (rule, message) = if which == "input" {
                    (
                        "input-removed",
                        format!(
                            "input removed (was {}): old clients still send a body, which servers \
                             that expect none reject",
                            o.encoding
                        ),
                    )
                } else {
                    (
                        "output-removed",
                        format!(
                            "output removed (was {}): old clients expect a response body",
                            o.encoding
                        ),
                    )
                };
                self.emit(Level::Breaking, rule, &[which], message);
                return;
            }
            (Some(o), Some(n)) => (o, n),
        };
        self.at(&[which], |w| {
            w.description(old.description.as_deref(), new.description.as_deref());
            if encodings(&old.encoding) != encodings(&new.encoding) {
                w.emit(
                    Level::Breaking,
                    "encoding-changed",
                    &["encoding"],
                    format!(
                        "{which} encoding changed from `{}` to `{}`",
                        old.encoding, new.encoding
                    ),
                );
            }
            match (old.schema.as_deref(), new.schema.as_deref()) {
                (Some(o), Some(n)) => w.at(&["schema"], |w| w.schema(o, n)),
                (None, Some(_)) => w.emit(
                    Level::Warning,
                    "body-schema-added",
                    &["schema"],
                    format!(
                        "the {which} now has a schema: bodies that do not match it become invalid"
                    ),
                ),
                (Some(_), None) => w.emit(
                    Level::Warning,
                    "body-schema-removed",
                    &["schema"],
                    format!(
                        "the {which} no longer has a schema: new bodies may not match the old one"
                    ),
                ),
                (None, None) => {}
            }
        });
    }

    fn errors(&mut self, old: &[ErrorDef], new: &[ErrorDef]) {
        for (index, error) in new.iter().enumerate() {
            let index = index.to_string();
            match old.iter().find(|e| e.name == error.name) {
                None => self.emit(
                    Level::Compatible,
                    "error-added",
                    &["errors", &index],
                    format!(
                        "error `{}` added (old clients see it as an unknown error)",
                        error.name
                    ),
                ),
                Some(before) => self.at(&["errors", &index], |w| {
                    w.description(before.description.as_deref(), error.description.as_deref())
                }),
            }
        }
        for (index, error) in old.iter().enumerate() {
            if !new.iter().any(|e| e.name == error.name) {
                self.emit(
                    Level::Warning,
                    "error-removed",
                    &["errors", &index.to_string()],
                    format!(
                        "error `{}` removed: clients that handle it will not see it again",
                        error.name
                    ),
                );
            }
        }
    }

    fn subscription(&mut self, o: &'a Subscription, n: &'a Subscription) {
        self.parameters(o.parameters.as_deref(), n.parameters.as_deref());
        match (&o.message, &n.message) {
            (Some(old), Some(new)) => self.at(&["message"], |w| {
                w.description(old.description.as_deref(), new.description.as_deref());
                w.at(&["schema"], |w| w.schema(&old.schema, &new.schema));
            }),
            (None, Some(_)) => self.emit(
                Level::Warning,
                "message-added",
                &["message"],
                "message added: old consumers ignore frames they do not know".to_owned(),
            ),
            (Some(_), None) => self.emit(
                Level::Warning,
                "message-removed",
                &["message"],
                "message removed: consumers wait for frames that no longer come".to_owned(),
            ),
            (None, None) => {}
        }
        self.errors(&o.errors, &n.errors);
    }

    fn permission_set(&mut self, o: &PermissionSet, n: &PermissionSet) {
        for (key, old, new) in [
            ("title", &o.title, &n.title),
            ("detail", &o.detail, &n.detail),
        ] {
            if old != new {
                self.emit(
                    Level::Compatible,
                    "text-changed",
                    &[key],
                    format!("{key} changed"),
                );
            }
        }
        for (key, old, new) in [
            ("title:lang", &o.title_lang, &n.title_lang),
            ("detail:lang", &o.detail_lang, &n.detail_lang),
        ] {
            if old != new {
                self.emit(
                    Level::Compatible,
                    "text-changed",
                    &[key],
                    format!("{key} changed"),
                );
            }
        }
        let count = o.permissions.len().max(n.permissions.len());
        for index in 0..count {
            let at = index.to_string();
            match (o.permissions.get(index), n.permissions.get(index)) {
                (Some(Schema::Permission(before)), Some(Schema::Permission(after)))
                    if before.resource == after.resource =>
                {
                    self.at(&["permissions", &at], |w| w.permission(before, after))
                }
                (before, after) => {
                    if let Some(after) = after {
                        self.emit(
                            Level::Compatible,
                            "permission-added",
                            &["permissions", &at],
                            format!("permission added: {}", entry_text(after)),
                        );
                    }
                    if let Some(before) = before {
                        self.emit(
                            Level::Warning,
                            "permission-removed",
                            &["permissions", &at],
                            format!(
                                "permission removed: {} (apps that rely on the set lose it)",
                                entry_text(before)
                            ),
                        );
                    }
                }
            }
        }
    }

    /// One permission of a set, for the same resource on both sides.
    fn permission(&mut self, o: &Permission, n: &Permission) {
        for (key, before, after) in [
            ("collection", &o.collection, &n.collection),
            ("action", &o.action, &n.action),
            ("lxm", &o.lxm, &n.lxm),
        ] {
            let (added, removed) = set_difference(before, after);
            if !added.is_empty() {
                self.emit(
                    Level::Compatible,
                    "permission-widened",
                    &[key],
                    format!("{} {key} added: {}", o.resource, joined(&added)),
                );
            }
            if !removed.is_empty() {
                self.emit(
                    Level::Warning,
                    "permission-narrowed",
                    &[key],
                    format!(
                        "{} {key} removed: {} (apps that rely on the set lose them)",
                        o.resource,
                        joined(&removed)
                    ),
                );
            }
        }
        if (&o.aud, o.inherit_aud) != (&n.aud, n.inherit_aud) {
            self.emit(
                Level::Warning,
                "permission-changed",
                &[],
                format!(
                    "audience changed from {} to {}",
                    permission_text(o),
                    permission_text(n)
                ),
            );
        }
    }
}

/// A ref as a full `nsid#def` (bare NSID for `main`), whatever way it was written.
fn full_ref(current: &str, target: &str) -> String {
    match split_ref(current, target) {
        (nsid, "main") => nsid.to_owned(),
        (nsid, def) => format!("{nsid}#{def}"),
    }
}

/// The MIME types of an `encoding` (a comma-separated list), compared without case or spaces.
fn encodings(encoding: &str) -> BTreeSet<String> {
    encoding
        .split(',')
        .map(|e| e.trim().to_ascii_lowercase())
        .filter(|e| !e.is_empty())
        .collect()
}

/// Whether the `accept` patterns admit everything `pattern` admits.
fn mime_covered(patterns: &[String], pattern: &str) -> bool {
    patterns.iter().any(|p| {
        p == "*/*"
            || p == pattern
            || (p.ends_with("/*")
                && pattern != "*/*"
                && !pattern.ends_with("/*")
                && pattern.starts_with(&p[..p.len() - 1]))
    })
}

fn is_deprecated(description: Option<&str>) -> bool {
    description
        .map(str::trim)
        .and_then(|d| d.get(..10))
        .is_some_and(|lead| lead.eq_ignore_ascii_case("deprecated"))
}

/// An entry of a permission set's `permissions`.
fn entry_text(entry: &Schema) -> String {
    match entry {
        Schema::Permission(p) => permission_text(p),
        other => format!("a `{}`", other.type_name()),
    }
}

fn permission_text(p: &Permission) -> String {
    let mut parts = vec![format!("resource={}", p.resource)];
    for (key, values) in [
        ("collection", &p.collection),
        ("action", &p.action),
        ("lxm", &p.lxm),
    ] {
        if !values.is_empty() {
            let mut sorted = values.clone();
            sorted.sort();
            parts.push(format!("{key}=[{}]", sorted.join(",")));
        }
    }
    if let Some(aud) = &p.aud {
        parts.push(format!("aud={aud}"));
    }
    if let Some(inherit) = p.inherit_aud {
        parts.push(format!("inheritAud={inherit}"));
    }
    parts.join(" ")
}

/// `(in new but not old, in old but not new)`, each sorted and without duplicates.
fn set_difference<T: Ord + Clone>(old: &[T], new: &[T]) -> (Vec<T>, Vec<T>) {
    let old: BTreeSet<&T> = old.iter().collect();
    let new: BTreeSet<&T> = new.iter().collect();
    (
        new.difference(&old).map(|v| (*v).clone()).collect(),
        old.difference(&new).map(|v| (*v).clone()).collect(),
    )
}

fn added_removed<T: Display>(added: &[T], removed: &[T]) -> String {
    let mut parts = Vec::new();
    if !added.is_empty() {
        parts.push(format!("added: {}", joined(added)));
    }
    if !removed.is_empty() {
        parts.push(format!("removed: {}", joined(removed)));
    }
    parts.join("; ")
}

fn joined<T: Display>(values: &[T]) -> String {
    values
        .iter()
        .map(|v| format!("`{v}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn shown_option<T: Display>(value: Option<T>) -> String {
    value.map_or("none".to_owned(), |v| format!("`{v}`"))
}
