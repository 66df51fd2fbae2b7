//! The manifest a generated crate carries (`lexicon-manifest.json`): which lexicon documents it
//! provides, under which module and feature, and a digest of them.
//!
//! Layering reads it instead of the base's lexicon folder: a crate generated for an app's own
//! lexicons on top of a base crate uses the base's types for every document listed here. Each
//! document is stored whole (minified, key order kept), so the layered crate resolves refs into
//! it, checks them, and names the base's types exactly as the base did.

use serde::Deserialize;
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};
use std::fmt::Write as _;

/// The manifest's file name, at the root of every generated crate.
pub const FILE_NAME: &str = "lexicon-manifest.json";

/// The manifest format this generator writes and reads.
pub const FORMAT: u32 = 1;

/// What a generated crate provides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    /// The package name (`atproto-api`).
    pub package: String,
    /// The library name in Rust paths (`atproto_api`).
    pub lib: String,
    /// The library that holds the runtime (this crate's, or its lowest base's).
    pub runtime: String,
    /// Digest of every document this crate provides (see [`digest_all`]).
    pub digest: String,
    /// The crates this one was layered on, lowest first, with their digests at the time.
    pub bases: Vec<BaseRef>,
    pub documents: Vec<ManifestDocument>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct BaseRef {
    pub package: String,
    pub digest: String,
}

/// One document a crate provides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestDocument {
    pub id: String,
    /// Module path below the crate root (`com::atproto::repo::strong_ref`).
    pub module: String,
    /// The cargo feature that enables the module.
    pub feature: String,
    pub digest: String,
    /// The document's JSON, minified with its key order kept.
    pub lexicon: String,
}

impl Manifest {
    /// Writes the manifest: one line per document, so regenerating gives readable diffs.
    pub fn to_json(&self) -> String {
        let quote = |s: &str| serde_json::to_string(s).expect("strings serialize");
        let mut out = String::from("{\n");
        let _ = writeln!(
            out,
            "  \"@generated\": \"by cargo xtask gen: do not edit\","
        );
        let _ = writeln!(out, "  \"format\": {FORMAT},");
        let _ = writeln!(out, "  \"package\": {},", quote(&self.package));
        let _ = writeln!(out, "  \"lib\": {},", quote(&self.lib));
        let _ = writeln!(out, "  \"runtime\": {},", quote(&self.runtime));
        let _ = writeln!(out, "  \"digest\": {},", quote(&self.digest));
        out.push_str("  \"bases\": [");
        for (i, base) in self.bases.iter().enumerate() {
            let comma = if i + 1 < self.bases.len() { "," } else { "" };
            let _ = write!(
                out,
                "\n    {{\"package\": {}, \"digest\": {}}}{comma}",
                quote(&base.package),
                quote(&base.digest)
            );
        }
        out.push_str(if self.bases.is_empty() {
            "],\n"
        } else {
            "\n  ],\n"
        });
        out.push_str("  \"documents\": [");
        for (i, document) in self.documents.iter().enumerate() {
            let comma = if i + 1 < self.documents.len() {
                ","
            } else {
                ""
            };
            let _ = write!(
                out,
                "\n    {{\"id\": {}, \"module\": {}, \"feature\": {}, \"digest\": {}, \"lexicon\": {}}}{comma}",
                quote(&document.id),
                quote(&document.module),
                quote(&document.feature),
                quote(&document.digest),
                document.lexicon
            );
        }
        out.push_str(if self.documents.is_empty() {
            "]\n}\n"
        } else {
            "\n  ]\n}\n"
        });
        out
    }

    /// Reads a manifest; the error says what is wrong with it.
    pub fn parse(text: &str) -> Result<Manifest, String> {
        #[derive(Deserialize)]
        struct Raw<'a> {
            format: u32,
            package: String,
            lib: String,
            runtime: String,
            digest: String,
            bases: Vec<BaseRef>,
            #[serde(borrow)]
            documents: Vec<RawDocument<'a>>,
        }
        #[derive(Deserialize)]
        struct RawDocument<'a> {
            id: String,
            module: String,
            feature: String,
            digest: String,
            #[serde(borrow)]
            lexicon: &'a RawValue,
        }
        let raw: Raw = serde_json::from_str(text).map_err(|e| e.to_string())?;
        if raw.format != FORMAT {
            return Err(format!(
                "manifest format {} is not the {FORMAT} this generator reads: regenerate the crate",
                raw.format
            ));
        }
        Ok(Manifest {
            package: raw.package,
            lib: raw.lib,
            runtime: raw.runtime,
            digest: raw.digest,
            bases: raw.bases,
            documents: raw
                .documents
                .into_iter()
                .map(|d| ManifestDocument {
                    id: d.id,
                    module: d.module,
                    feature: d.feature,
                    digest: d.digest,
                    lexicon: d.lexicon.get().to_owned(),
                })
                .collect(),
        })
    }
}

/// `sha256:` and the hex digest of some bytes.
pub fn digest(bytes: &[u8]) -> String {
    let hash = Sha256::digest(bytes);
    let mut out = String::with_capacity(7 + 64);
    out.push_str("sha256:");
    for byte in hash {
        let _ = write!(out, "{byte:02x}");
    }
    out
}

/// The digest of a set of documents: of each id and document digest, in id order.
pub fn digest_all<'a>(documents: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let mut pairs: Vec<(&str, &str)> = documents.into_iter().collect();
    pairs.sort();
    let mut text = String::new();
    for (id, digest) in pairs {
        let _ = writeln!(text, "{id} {digest}");
    }
    digest(text.as_bytes())
}

/// JSON text without insignificant white space; everything else (key order, escapes,
/// number spelling) stays as written. The text must be valid JSON.
pub fn minify(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    let (mut in_string, mut escaped) = (false, false);
    for c in json.chars() {
        if in_string {
            out.push(c);
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => in_string = false,
                _ => {}
            }
        } else if !matches!(c, ' ' | '\t' | '\n' | '\r') {
            if c == '"' {
                in_string = true;
            }
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minify_keeps_strings_and_order() {
        let text = "{ \"b\" : [1, 2],\n \"a\": \"x  \\\" y\" }";
        assert_eq!(minify(text), r#"{"b":[1,2],"a":"x  \" y"}"#);
    }

    #[test]
    fn writes_and_reads_back() {
        let manifest = Manifest {
            package: "my-api".into(),
            lib: "my_api".into(),
            runtime: "atproto_api".into(),
            digest: digest_all([("a.b.c", "sha256:1")]),
            bases: vec![BaseRef {
                package: "atproto-api".into(),
                digest: "sha256:2".into(),
            }],
            documents: vec![ManifestDocument {
                id: "a.b.c".into(),
                module: "a::b::c".into(),
                feature: "a-b".into(),
                digest: "sha256:1".into(),
                lexicon: r#"{"lexicon":1,"id":"a.b.c","defs":{}}"#.into(),
            }],
        };
        let text = manifest.to_json();
        assert_eq!(Manifest::parse(&text), Ok(manifest));
        assert!(serde_json::from_str::<serde_json::Value>(&text).is_ok());
    }

    #[test]
    fn digests_are_sha256_hex() {
        assert_eq!(
            digest(b"abc"),
            "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
