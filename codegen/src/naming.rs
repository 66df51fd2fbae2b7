//! Rust names for lexicon names: case conversion, keyword escaping, invalid characters.
//!
//! Every name the emitters print comes from here, so the rules live in one place and one
//! table test covers the tricky cases.

use heck::{ToShoutySnakeCase, ToSnakeCase, ToUpperCamelCase};

/// Keywords that cannot be identifiers; those in [`NOT_RAW`] cannot even be raw identifiers.
const KEYWORDS: &[&str] = &[
    "abstract", "as", "async", "await", "become", "box", "break", "const", "continue", "crate",
    "do", "dyn", "else", "enum", "extern", "false", "final", "fn", "for", "gen", "if", "impl",
    "in", "let", "loop", "macro", "match", "mod", "move", "mut", "override", "priv", "pub", "ref",
    "return", "self", "Self", "static", "struct", "super", "trait", "true", "try", "type",
    "typeof", "union", "unsafe", "unsized", "use", "virtual", "where", "while", "yield",
];
const NOT_RAW: &[&str] = &["crate", "self", "Self", "super", "_"];

/// Drops characters that cannot be in an identifier, turning them into word breaks so the
/// case conversion still sees separate words (`ob-je-c$t` -> `ob je c t`).
fn words(name: &str) -> String {
    name.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { ' ' })
        .collect()
}

/// Makes a converted name a valid identifier: never empty, never starting with a digit,
/// keywords raw (`r#type`) or suffixed where raw is impossible (`self_`).
fn valid(converted: String, empty: &str) -> String {
    let name = if converted.is_empty() {
        empty.to_owned()
    } else {
        converted
    };
    let name = if name.starts_with(|c: char| c.is_ascii_digit()) {
        format!("_{name}")
    } else {
        name
    };
    if NOT_RAW.contains(&name.as_str()) {
        format!("{name}_")
    } else if KEYWORDS.contains(&name.as_str()) {
        format!("r#{name}")
    } else {
        name
    }
}

/// A module name for one NSID segment: `feed` -> `feed`, `getAuthorFeed` -> `get_author_feed`.
pub fn module(segment: &str) -> String {
    valid(words(segment).to_snake_case(), "module")
}

/// A field or method name: `accessJwt` -> `access_jwt`, `type` -> `r#type`.
pub fn field(name: &str) -> String {
    valid(words(name).to_snake_case(), "field")
}

/// A type or variant name: `strongRef` -> `StrongRef`, `9` -> `_9`.
pub fn type_name(name: &str) -> String {
    valid(words(name).to_upper_camel_case(), "Type")
}

/// A constant name: `reasonSpam` -> `REASON_SPAM`.
pub fn constant(name: &str) -> String {
    valid(words(name).to_shouty_snake_case(), "CONST")
}

/// The bare identifier text, without a raw prefix (for building longer names from it).
pub fn unraw(name: &str) -> &str {
    name.strip_prefix("r#").unwrap_or(name)
}

/// Hands out names within one scope, resolving collisions deterministically: the first
/// claimant keeps the name, later ones get `2`, `3`, ... appended.
#[derive(Debug, Default)]
pub struct Scope {
    taken: std::collections::BTreeSet<String>,
}

impl Scope {
    /// A scope where `reserved` names are already taken.
    pub fn with_reserved(reserved: &[&str]) -> Self {
        Scope {
            taken: reserved.iter().map(|s| (*s).to_owned()).collect(),
        }
    }

    pub fn claim(&mut self, wanted: String) -> String {
        if self.taken.insert(unraw(&wanted).to_owned()) {
            return wanted;
        }
        // A trailing `_` (`Self_`, `self_`) only kept a keyword away; before a number it
        // would make `Self_2`, which is not camel case. Numbered, the name is no keyword.
        let bare = unraw(&wanted);
        let trimmed = bare.trim_end_matches('_');
        let base = if trimmed.is_empty() { bare } else { trimmed }.to_owned();
        (2..)
            .map(|n| {
                format!(
                    "{base}{}{n}",
                    if base.ends_with(|c: char| c.is_ascii_digit()) {
                        "_"
                    } else {
                        ""
                    }
                )
            })
            .find(|candidate| self.taken.insert(candidate.clone()))
            .expect("an unbounded range always yields a free name")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Convert = fn(&str) -> String;

    #[test]
    fn tricky_names() {
        let table: &[(&str, Convert, &str)] = &[
            ("getAuthorFeed", module, "get_author_feed"),
            ("4-2", module, "_4_2"),
            ("self", module, "self_"),
            ("type", field, "r#type"),
            ("accessJwt", field, "access_jwt"),
            ("$type", field, "r#type"),
            ("cid-link", field, "cid_link"),
            ("", field, "field"),
            ("strongRef", type_name, "StrongRef"),
            ("ob-je-c$t", type_name, "ObJeCT"),
            ("ff-ri-n.g", type_name, "FfRiNG"),
            ("9", type_name, "_9"),
            ("Self", type_name, "Self_"),
            ("reasonSpam", constant, "REASON_SPAM"),
            ("#", constant, "CONST"),
        ];
        for (input, convert, expected) in table {
            assert_eq!(convert(input), *expected, "converting {input:?}");
        }
    }

    #[test]
    fn collisions_get_numbered_in_claim_order() {
        let mut scope = Scope::with_reserved(&["Input"]);
        assert_eq!(scope.claim("Input".into()), "Input2");
        assert_eq!(scope.claim("Input".into()), "Input3");
        assert_eq!(scope.claim("R9".into()), "R9");
        assert_eq!(scope.claim("R9".into()), "R9_2");
        assert_eq!(scope.claim("r#type".into()), "r#type");
        assert_eq!(scope.claim("r#type".into()), "type2");
        assert_eq!(scope.claim("Self_".into()), "Self_");
        assert_eq!(scope.claim("Self_".into()), "Self2");
        assert_eq!(scope.claim("self_".into()), "self_");
        assert_eq!(scope.claim("self_".into()), "self2");
    }
}
