//! Structure-aware mutation: parse the documents of an input, edit them as JSON trees in ways
//! that matter to a lexicon (retype a schema, retarget a ref, rename a def to a Rust keyword,
//! add a property, graft a subtree from elsewhere, ...), and print them back.
//!
//! Byte-level mutation mostly breaks the JSON syntax and stops at the loader; these edits keep
//! documents well-formed, so they reach the check pass, and often pass it, reaching resolve
//! and emit.

use crate::json::Json;

/// A small, fast PRNG (SplitMix64): the mutator must be deterministic for a given seed.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed ^ 0x9E37_79B9_7F4A_7C15)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next_u64() % n as u64) as usize
        }
    }

    /// A random item of a non-empty slice.
    pub fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }

    pub fn pick_ref<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    pub fn chance(&mut self, one_in: usize) -> bool {
        self.below(one_in) == 0
    }
}

/// Every schema type name the language has, and a few it does not.
pub const TYPES: &[&str] = &[
    "boolean",
    "integer",
    "string",
    "bytes",
    "cid-link",
    "blob",
    "array",
    "object",
    "params",
    "token",
    "ref",
    "union",
    "unknown",
    "record",
    "query",
    "procedure",
    "subscription",
    "permission-set",
    "permission",
    "null",
    "Object",
    "",
];

/// Names that are hard to turn into Rust: keywords, reserved and generated names, names that
/// collide after case conversion, characters that are not identifier characters.
pub const NAMES: &[&str] = &[
    "main",
    "Main",
    "MAIN",
    "type",
    "$type",
    "r#type",
    "self",
    "Self",
    "super",
    "crate",
    "_",
    "__",
    "",
    "9",
    "9lives",
    "-",
    "$",
    "#",
    ".",
    "a.b",
    "ob-je-c$t",
    "objeCT",
    "Record",
    "record",
    "Params",
    "params",
    "Input",
    "Output",
    "Error",
    "error",
    "Other",
    "Unknown",
    "unknown",
    "extra",
    "NSID",
    "nsid",
    "Service",
    "std",
    "core",
    "runtime",
    "serde",
    "Option",
    "Result",
    "Vec",
    "String",
    "Box",
    "async",
    "fn",
    "mod",
    "union",
    "match",
    "r#",
    "Ünïcödé",
    "名前",
    "🦀",
    "a b",
    "a\nb",
    "OutputItem",
    "MainItem",
    "fooBar",
    "foo_bar",
    "FooBar",
    "foo-bar",
];

/// Texts that are hard to put in a doc comment or a string literal.
pub const TEXTS: &[&str] = &[
    "",
    "*/ fn injected() {} /*",
    "/* unclosed",
    "```\nnot rust {\n```",
    "```rust\nlet x: u8 = 300;\n```",
    "line\r\nbreaks\rand\u{2028}separators\u{2029}",
    "\"quotes\" and \\backslashes\\",
    "#![deny(warnings)]",
    "[broken link](",
    "<html> & </html>",
    "tab\tand nul \u{0} and bell \u{7}",
    "deprecated: use something else",
    "DEPRECATED",
    "\u{feff}BOM",
    "    four spaces: a code block",
    "}}}{{{",
    "'",
    "r#\"raw\"#",
];

/// Strings that might be NSIDs, refs, record keys, MIME types or formats.
pub const VALUES: &[&str] = &[
    "com.example.thing",
    "com.example.thing#main",
    "com.example.thing#other",
    "#main",
    "#",
    "#self",
    "com.example",
    "com..example",
    "com.example.9start",
    "a.b.c",
    "lex:com.example.thing",
    "tid",
    "nsid",
    "any",
    "literal:self",
    "literal:",
    "image/*",
    "*/*",
    "image/png",
    "did",
    "handle",
    "at-uri",
    "at-identifier",
    "cid",
    "datetime",
    "tid",
    "record-key",
    "language",
    "uri",
    "application/json",
    "*/*",
    "",
];

/// Numbers at the edges of every integer type the model might use.
pub const NUMBERS: &[&str] = &[
    "0",
    "1",
    "-1",
    "2",
    "255",
    "256",
    "65536",
    "2147483647",
    "2147483648",
    "-2147483649",
    "4294967295",
    "4294967296",
    "9007199254740993",
    "9223372036854775807",
    "-9223372036854775808",
    "18446744073709551615",
    "1.5",
    "-0.0",
    "1e300",
];

fn number(rng: &mut Rng) -> Json {
    Json::parse(rng.pick(NUMBERS).as_bytes()).unwrap_or(Json::Null)
}

/// Refs that can resolve within these documents: `#def`, `nsid#def` and `nsid`.
fn known_refs(documents: &[Json]) -> Vec<String> {
    let mut refs = Vec::new();
    for document in documents {
        let id = match document.get("id") {
            Some(Json::String(id)) => id.clone(),
            _ => continue,
        };
        refs.push(id.clone());
        if let Some(Json::Object(defs)) = document.get("defs") {
            for (name, _) in defs {
                refs.push(format!("#{name}"));
                refs.push(format!("{id}#{name}"));
            }
        }
    }
    refs
}

fn a_ref(rng: &mut Rng, refs: &[String]) -> String {
    if refs.is_empty() || rng.chance(6) {
        rng.pick(VALUES).to_owned()
    } else {
        rng.pick_ref(refs).clone()
    }
}

fn a_name(rng: &mut Rng) -> String {
    if rng.chance(4) {
        // Two names glued: collisions such as `foo` + `Bar` vs `fooBar`.
        format!("{}{}", rng.pick(NAMES), rng.pick(NAMES))
    } else {
        rng.pick(NAMES).to_string()
    }
}

/// A random schema of any type, mostly well-formed, nested at most `depth` deep.
pub fn schema(rng: &mut Rng, depth: usize, refs: &[String]) -> Json {
    let kind = if depth == 0 {
        rng.pick(&["boolean", "integer", "string", "ref", "unknown", "bytes"])
    } else if rng.chance(12) {
        rng.pick(TYPES)
    } else {
        rng.pick(&[
            "boolean", "integer", "string", "string", "bytes", "cid-link", "blob", "array",
            "object", "ref", "ref", "union", "unknown", "token",
        ])
    };
    let mut members = vec![("type", Json::str(kind))];
    if rng.chance(3) {
        members.push(("description", Json::str(rng.pick(TEXTS))));
    }
    match kind {
        "integer" => {
            for field in ["minimum", "maximum", "default", "const"] {
                if rng.chance(3) {
                    members.push((field, number(rng)));
                }
            }
            if rng.chance(4) {
                members.push(("enum", Json::Array(vec![number(rng), number(rng)])));
            }
        }
        "boolean" if rng.chance(3) => members.push(("default", Json::Bool(rng.chance(2)))),
        "string" => {
            if rng.chance(3) {
                members.push(("format", Json::str(rng.pick(VALUES))));
            }
            if rng.chance(2) {
                let values = (0..rng.below(4))
                    .map(|_| {
                        if rng.chance(2) {
                            Json::String(a_ref(rng, refs))
                        } else {
                            Json::String(a_name(rng))
                        }
                    })
                    .collect();
                members.push((
                    if rng.chance(3) { "enum" } else { "knownValues" },
                    Json::Array(values),
                ));
            }
            for field in ["maxLength", "minLength", "maxGraphemes", "minGraphemes"] {
                if rng.chance(5) {
                    members.push((field, number(rng)));
                }
            }
            if rng.chance(4) {
                members.push((
                    if rng.chance(2) { "default" } else { "const" },
                    Json::String(a_name(rng)),
                ));
            }
        }
        "blob" => {
            if rng.chance(2) {
                members.push(("accept", Json::Array(vec![Json::str(rng.pick(VALUES))])));
            }
            if rng.chance(2) {
                members.push(("maxSize", number(rng)));
            }
        }
        "array" => members.push(("items", schema(rng, depth - 1, refs))),
        "object" | "params" => {
            let mut properties = Vec::new();
            let mut names = Vec::new();
            for _ in 0..rng.below(4) {
                let name = a_name(rng);
                names.push(Json::str(&name));
                properties.push((name, schema(rng, depth - 1, refs)));
            }
            members.push(("properties", Json::Object(properties)));
            if rng.chance(2) && !names.is_empty() {
                let name = rng.pick_ref(&names).clone();
                members.push(("required", Json::Array(vec![name])));
            }
            if rng.chance(3) && !names.is_empty() {
                let name = rng.pick_ref(&names).clone();
                members.push(("nullable", Json::Array(vec![name])));
            }
        }
        "ref" => members.push(("ref", Json::String(a_ref(rng, refs)))),
        "union" => {
            let targets = (0..rng.below(4))
                .map(|_| Json::String(a_ref(rng, refs)))
                .collect();
            members.push(("refs", Json::Array(targets)));
            if rng.chance(3) {
                members.push(("closed", Json::Bool(rng.chance(2))));
            }
        }
        "record" => {
            members.push(("key", Json::str(rng.pick(VALUES))));
            members.push(("record", schema(rng, depth - 1, refs)));
        }
        "query" | "procedure" => {
            if rng.chance(2) {
                members.push(("parameters", schema(rng, depth - 1, refs)));
            }
            for body in ["input", "output"] {
                if rng.chance(2) {
                    let mut fields = vec![("encoding", Json::str(rng.pick(VALUES)))];
                    if rng.chance(2) {
                        fields.push(("schema", schema(rng, depth - 1, refs)));
                    }
                    members.push((body, Json::object(fields)));
                }
            }
            if rng.chance(2) {
                let error = Json::object(vec![("name", Json::String(a_name(rng)))]);
                members.push(("errors", Json::Array(vec![error.clone(), error])));
            }
        }
        "subscription" => {
            members.push((
                "message",
                Json::object(vec![("schema", schema(rng, depth - 1, refs))]),
            ));
        }
        _ => {}
    }
    Json::object(members)
}

/// A random value for any place: a scalar from the palettes or a schema.
fn value(rng: &mut Rng, refs: &[String]) -> Json {
    match rng.below(9) {
        0 => Json::Null,
        1 => Json::Bool(rng.chance(2)),
        2 => number(rng),
        3 => Json::str(rng.pick(TEXTS)),
        4 => Json::str(rng.pick(VALUES)),
        5 => Json::String(a_name(rng)),
        6 => Json::Array(Vec::new()),
        7 => Json::Object(Vec::new()),
        _ => schema(rng, 2, refs),
    }
}

/// The indices (in pre-order) of the nodes of `tree` that satisfy `keep`.
fn nodes_where(tree: &Json, keep: impl Fn(&Json) -> bool) -> Vec<usize> {
    let mut found = Vec::new();
    let mut i = 0;
    tree.walk(&mut |node| {
        if keep(node) {
            found.push(i);
        }
        i += 1;
    });
    found
}

/// A random node of `tree` satisfying `keep`, if there is one.
fn pick_node<'a>(
    rng: &mut Rng,
    tree: &'a mut Json,
    keep: impl Fn(&Json) -> bool,
) -> Option<&'a mut Json> {
    let nodes = nodes_where(tree, keep);
    if nodes.is_empty() {
        return None;
    }
    let n = rng.pick(&nodes);
    tree.nth_mut(n)
}

fn is_schema(node: &Json) -> bool {
    matches!(node.get("type"), Some(Json::String(_)))
}

fn has_children(node: &Json) -> bool {
    match node {
        Json::Array(items) => !items.is_empty(),
        Json::Object(members) => !members.is_empty(),
        _ => false,
    }
}

/// Applies one random structural edit to the documents. Returns false when the chosen edit had
/// nothing to work on (the caller tries again).
pub fn mutate_once(rng: &mut Rng, documents: &mut Vec<Json>) -> bool {
    if documents.is_empty() {
        documents.push(Json::object(vec![
            ("lexicon", Json::Number(1.into())),
            ("id", Json::str("com.example.thing")),
            ("defs", Json::Object(Vec::new())),
        ]));
    }
    let refs = known_refs(documents);
    let which = rng.below(documents.len());
    let donor_index = rng.below(documents.len());
    let donor = documents[donor_index].clone();
    let document = &mut documents[which];
    match rng.below(16) {
        // Delete a member or an item.
        0 | 1 => {
            let Some(node) = pick_node(rng, document, has_children) else {
                return false;
            };
            match node {
                Json::Array(items) => {
                    items.remove(rng.below(items.len()));
                }
                Json::Object(members) => {
                    members.remove(rng.below(members.len()));
                }
                _ => return false,
            }
        }
        // Duplicate a member (under its own key or another name) or an item.
        2 => {
            let Some(node) = pick_node(rng, document, has_children) else {
                return false;
            };
            match node {
                Json::Array(items) => {
                    let i = rng.below(items.len());
                    items.insert(i, items[i].clone());
                }
                Json::Object(members) => {
                    let i = rng.below(members.len());
                    let (key, value) = members[i].clone();
                    let key = if rng.chance(3) { key } else { a_name(rng) };
                    members.insert(rng.below(members.len() + 1), (key, value));
                }
                _ => return false,
            }
        }
        // Change a schema's type, keeping its other fields.
        3 | 4 => {
            let Some(node) = pick_node(rng, document, is_schema) else {
                return false;
            };
            node.set("type", Json::str(rng.pick(TYPES)));
        }
        // Replace any node with a random value.
        5 => {
            let count = document.count();
            let n = rng.below(count);
            if let Some(node) = document.nth_mut(n) {
                *node = value(rng, &refs);
            }
        }
        // Rename a member: a def, a property, or a field of a schema.
        6 | 7 => {
            let Some(Json::Object(members)) = pick_node(
                rng,
                document,
                |n| matches!(n, Json::Object(m) if !m.is_empty()),
            ) else {
                return false;
            };
            let i = rng.below(members.len());
            members[i].0 = a_name(rng);
        }
        // Point a ref, or a union member, somewhere else (often at a def that exists).
        8 => {
            let Some(node) = pick_node(rng, document, |n| {
                n.get("ref").is_some() || matches!(n.get("refs"), Some(Json::Array(_)))
            }) else {
                return false;
            };
            let target = Json::String(a_ref(rng, &refs));
            match node.get_mut("refs") {
                Some(Json::Array(targets)) => {
                    if targets.is_empty() || rng.chance(2) {
                        targets.push(target);
                    } else {
                        let i = rng.below(targets.len());
                        targets[i] = target;
                    }
                }
                _ => node.set("ref", target),
            }
        }
        // Add a new property, or a new def.
        9 | 10 => {
            let schema = schema(rng, 3, &refs);
            let name = a_name(rng);
            let target = if rng.chance(3) {
                document.get_mut("defs")
            } else {
                pick_node(rng, document, |n| {
                    matches!(n.get("properties"), Some(Json::Object(_)))
                })
                .and_then(|n| n.get_mut("properties"))
            };
            match target {
                Some(Json::Object(members)) => {
                    members.insert(rng.below(members.len() + 1), (name, schema))
                }
                _ => return false,
            }
        }
        // Require (or make nullable) a property, existing or not.
        11 => {
            let Some(node) = pick_node(rng, document, |n| {
                matches!(n.get("properties"), Some(Json::Object(_)))
            }) else {
                return false;
            };
            let name = match node.get("properties") {
                Some(Json::Object(properties)) if !properties.is_empty() && !rng.chance(5) => {
                    properties[rng.below(properties.len())].0.clone()
                }
                _ => a_name(rng),
            };
            let field = if rng.chance(2) {
                "required"
            } else {
                "nullable"
            };
            match node.get_mut(field) {
                Some(Json::Array(names)) => names.push(Json::String(name)),
                _ => node.set(field, Json::Array(vec![Json::String(name)])),
            }
        }
        // Graft a subtree of some document (maybe another one) over a node.
        12 => {
            let from = donor.nth(rng.below(donor.count())).cloned();
            let count = document.count();
            match (from, document.nth_mut(rng.below(count))) {
                (Some(from), Some(node)) => *node = from,
                _ => return false,
            }
        }
        // A hard description, or an edge-case number.
        13 => {
            if rng.chance(2) {
                let Some(node) = pick_node(rng, document, is_schema) else {
                    return false;
                };
                node.set("description", Json::str(rng.pick(TEXTS)));
            } else {
                let Some(node) = pick_node(rng, document, |n| matches!(n, Json::Number(_))) else {
                    return false;
                };
                *node = number(rng);
            }
        }
        // The document's identity: a new id, another document's id, another lexicon version.
        14 => {
            let id = match rng.below(3) {
                0 => Json::str(rng.pick(VALUES)),
                1 => donor.get("id").cloned().unwrap_or(Json::Null),
                _ => Json::String(format!("com.example.{}", a_name(rng))),
            };
            if rng.chance(5) {
                document.set("lexicon", number(rng));
            } else {
                document.set("id", id);
            }
        }
        // The set of documents: duplicate one, drop one, or reorder.
        _ => match rng.below(3) {
            0 if documents.len() < crate::MAX_DOCUMENTS => documents.push(donor),
            1 if documents.len() > 1 => {
                documents.remove(which);
            }
            _ => documents.swap(which, donor_index),
        },
    }
    true
}

/// One fuzz input, split into documents: those that parse as JSON, and the others kept as bytes.
pub enum Part {
    Json(Json),
    Bytes(Vec<u8>),
}

pub fn split(data: &[u8]) -> Vec<Part> {
    data.split(|&b| b == 0)
        .map(|bytes| match Json::parse(bytes) {
            Some(json) => Part::Json(json),
            None => Part::Bytes(bytes.to_vec()),
        })
        .collect()
}

pub fn join(parts: &[Part], pretty: bool) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            out.push(0);
        }
        match part {
            Part::Json(json) => out.extend_from_slice(json.to_text(pretty).as_bytes()),
            Part::Bytes(bytes) => out.extend_from_slice(bytes),
        }
    }
    out
}

/// Mutates the parsed documents of `data` with one to a few structural edits. `None` when no
/// part of the input is JSON (the caller falls back to byte mutation).
pub fn mutate(data: &[u8], seed: u64) -> Option<Vec<u8>> {
    let mut rng = Rng::new(seed);
    let parts = split(data);
    let mut documents = Vec::new();
    let mut raw = Vec::new();
    for part in parts {
        match part {
            Part::Json(json) => documents.push(json),
            Part::Bytes(bytes) => raw.push(bytes),
        }
    }
    if documents.is_empty() {
        return None;
    }
    let edits = 1 + rng.below(3);
    let mut done = 0;
    for _ in 0..edits * 8 {
        if done == edits {
            break;
        }
        if mutate_once(&mut rng, &mut documents) {
            done += 1;
        }
    }
    let mut parts: Vec<Part> = documents.into_iter().map(Part::Json).collect();
    parts.extend(raw.into_iter().filter(|b| !b.is_empty()).map(Part::Bytes));
    Some(join(&parts, rng.chance(2)))
}

/// Crossover of two inputs: the documents of the first plus one of the second (so refs across
/// documents meet their targets), or a byte splice when neither parses.
pub fn crossover(a: &[u8], b: &[u8], seed: u64) -> Vec<u8> {
    let mut rng = Rng::new(seed);
    let mut first = split(a);
    let second = split(b);
    let documents: Vec<&Json> = second
        .iter()
        .filter_map(|p| match p {
            Part::Json(json) => Some(json),
            Part::Bytes(_) => None,
        })
        .collect();
    if documents.is_empty() || first.len() >= crate::MAX_DOCUMENTS {
        let cut_a = rng.below(a.len() + 1);
        let cut_b = rng.below(b.len() + 1);
        let mut out = a[..cut_a].to_vec();
        out.extend_from_slice(&b[cut_b..]);
        return out;
    }
    let chosen = rng.pick(&documents).clone();
    first.insert(rng.below(first.len() + 1), Part::Json(chosen));
    join(&first, rng.chance(2))
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = r##"{"lexicon":1,"id":"com.example.a","defs":{"main":{"type":"object","properties":{"x":{"type":"ref","ref":"#b"}}},"b":{"type":"string"}}}"##;

    #[test]
    fn mutation_is_deterministic_and_keeps_json() {
        for seed in 0..2000 {
            let once = mutate(DOC.as_bytes(), seed).unwrap();
            assert_eq!(Some(&once), mutate(DOC.as_bytes(), seed).as_ref());
            for part in split(&once) {
                assert!(matches!(part, Part::Json(_)), "seed {seed}");
            }
            crate::run(&once, false);
        }
    }

    #[test]
    fn crossover_adds_a_document() {
        let out = crossover(DOC.as_bytes(), DOC.as_bytes(), 7);
        assert_eq!(split(&out).len(), 2);
    }
}
