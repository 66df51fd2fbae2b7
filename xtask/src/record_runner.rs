//! The record-data vectors: a small program, compiled against the generated conformance crate,
//! reads and validates each record and reports what happened; the judging happens here, in
//! xtask, where it is tested: every invalid record must be rejected for the reason its vector
//! is about, at the JSON path of that reason.

use serde_json::Value;

/// `Cargo.toml` of the runner.
pub const MANIFEST: &str = r#"[package]
name = "record-data-runner"
version = "0.0.0"
edition = "2024"
publish = false

[dependencies]
lexicon-conformance = { path = "../crate" }
serde_json = "1"
serde_path_to_error = "0.1.20"
"#;

/// `src/main.rs` of the runner: reads a JSON array of records from the file named by its
/// argument and prints a JSON array with the [`Outcome`] of each: read (with the JSON path of a
/// read error), `validate()` (with the paths of the violations), then written and read back.
pub const MAIN: &str = r#"use lexicon_conformance::example::lexicon::record::Record;
use lexicon_conformance::runtime::Validate;
use serde_json::{Value, json};

fn pointer(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let mut out = String::new();
    for segment in path.iter() {
        let text = match segment {
            Segment::Seq { index } => index.to_string(),
            Segment::Map { key } => key.clone(),
            Segment::Enum { variant } => variant.clone(),
            Segment::Unknown => continue,
        };
        out.push('/');
        out.push_str(&text.replace('~', "~0").replace('/', "~1"));
    }
    out
}

fn outcome(data: &Value) -> Value {
    let record: Record = match serde_path_to_error::deserialize(data.clone()) {
        Ok(record) => record,
        Err(e) => {
            let mut at = pointer(e.path());
            let says = e.inner().to_string();
            // A missing field is reported on its object: point at the field itself.
            if let Some(field) = says.strip_prefix("missing field `").and_then(|r| r.split('`').next()) {
                at.push('/');
                at.push_str(&field.replace('~', "~0").replace('/', "~1"));
            }
            return json!({"outcome": "rejected", "by": "reading", "at": [at], "says": says});
        }
    };
    if let Err(e) = record.validate() {
        let at: Vec<&str> = e.0.iter().map(|v| v.path.as_str()).collect();
        return json!({"outcome": "rejected", "by": "validate()", "at": at, "says": e.to_string()});
    }
    let written = match serde_json::to_value(&record) {
        Ok(written) => written,
        Err(e) => return json!({"outcome": "broken", "says": format!("does not write: {e}")}),
    };
    match serde_json::from_value::<Record>(written.clone()) {
        Ok(again) if again == record => json!({"outcome": "accepted"}),
        Ok(_) => json!({"outcome": "broken", "says": format!("reads back different: {written}")}),
        Err(e) => json!({"outcome": "broken", "says": format!("does not read back: {e}")}),
    }
}

fn main() {
    let Some(file) = std::env::args().nth(1) else {
        eprintln!("usage: record-data-runner <records.json>");
        std::process::exit(2);
    };
    let records: Vec<Value> = match std::fs::read_to_string(&file)
        .map_err(|e| e.to_string())
        .and_then(|text| serde_json::from_str(&text).map_err(|e| e.to_string()))
    {
        Ok(records) => records,
        Err(e) => {
            eprintln!("{file}: {e}");
            std::process::exit(2);
        }
    };
    let outcomes: Vec<Value> = records.iter().map(outcome).collect();
    println!("{}", Value::Array(outcomes));
}
"#;

/// What happened to one record in the runner.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Read, validated, written and read back equal.
    Accepted,
    /// Reading or `validate()` (`by`) turned it down at these JSON pointers, saying this.
    Rejected {
        by: String,
        at: Vec<String>,
        says: String,
    },
    /// It read and validated, but writing it or reading it back went wrong: never a correct
    /// rejection, and a failure for a valid record too.
    Broken(String),
}

impl Outcome {
    /// One outcome as the runner prints it.
    pub fn from_json(value: &Value) -> Result<Outcome, String> {
        let text = |key: &str| value[key].as_str().map(str::to_owned);
        match value["outcome"].as_str() {
            Some("accepted") => Ok(Outcome::Accepted),
            Some("broken") => Ok(Outcome::Broken(text("says").unwrap_or_default())),
            Some("rejected") => Ok(Outcome::Rejected {
                by: text("by").unwrap_or_default(),
                at: value["at"]
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .filter_map(|p| p.as_str().map(str::to_owned))
                            .collect()
                    })
                    .unwrap_or_default(),
                says: text("says").unwrap_or_default(),
            }),
            _ => Err(format!(
                "the runner printed an outcome it should not: {value}"
            )),
        }
    }
}

/// What each invalid vector is about: the JSON pointer it must be rejected at (or below).
/// Two vectors share the name "union inner invalid"; the member in the data tells them apart.
pub const REASONS: &[(&str, &str)] = &[
    ("missing required field", "/integer"),
    ("invalid boolean field", "/boolean"),
    ("invalid integer field", "/integer"),
    ("invalid non-nullable string field", "/string"),
    ("invalid string field", "/string"),
    ("invalid bytes field", "/bytes"),
    ("invalid bytes: empty object", "/bytes"),
    ("invalid bytes: wrong type", "/bytes"),
    ("invalid cid-link field", "/cid-link"),
    ("invalid blob field", "/blob"),
    ("invalid blob: wrong type", "/blob"),
    ("invalid array", "/array"),
    ("invalid array element", "/array"),
    ("object wrong data type", "/object"),
    ("object nested wrong data type", "/object/a"),
    // Both give `ref` (which refs the object #demoObject) something that is not an object.
    ("invalid token ref type", "/ref"),
    ("invalid ref value", "/ref"),
    ("invalid string format handle", "/formats/handle"),
    ("invalid string format did", "/formats/did"),
    (
        "invalid string format atidentifier",
        "/formats/atidentifier",
    ),
    ("invalid string format nsid", "/formats/nsid"),
    ("invalid string format aturi", "/formats/aturi"),
    ("invalid string format cid", "/formats/cid"),
    ("invalid string format datetime", "/formats/datetime"),
    ("invalid string format language", "/formats/language"),
    ("invalid string format uri", "/formats/uri"),
    ("invalid string format tid", "/formats/tid"),
    ("invalid string format recordkey", "/formats/recordkey"),
    ("wrong const value", "/constInteger"),
    ("integer not in enum", "/enumInteger"),
    ("out of integer range", "/rangeInteger"),
    ("string too short", "/lenString"),
    ("string too long", "/lenString"),
    ("string too short (graphemes)", "/graphemeString"),
    ("string too long (graphemes)", "/graphemeString"),
    ("out of enum string", "/enumString"),
    ("bytes too short", "/sizeBytes"),
    ("bytes too long", "/sizeBytes"),
    ("array too short", "/lenArray"),
    ("array too long", "/lenArray"),
    ("blob too large", "/sizeBlob"),
    ("blob wrong type", "/acceptBlob"),
    ("open union wrong data type", "/union"),
    ("open union missing $type", "/union"),
    ("out of closed union", "/closedUnion"),
    ("union inner invalid", "/closedUnion"),
    ("union inner invalid", "/union"),
    ("unknown wrong type (bool)", "/unknown"),
    ("unknown wrong type (bytes)", "/unknown"),
    ("unknown wrong type (blob)", "/unknown"),
];

/// Vectors that break a second rule besides their own: they also omit the required
/// `integer` (a quirk of the corpus, see its INVENTORY.md), so reading stops there first.
/// Each must still be rejected as it is, and, with `"integer": 1` added ([`completed`]),
/// rejected at its own pointer: that is the rule they are about.
pub const ALSO_MISSING_INTEGER: &[&str] = &[
    "unknown wrong type (bool)",
    "unknown wrong type (bytes)",
    "unknown wrong type (blob)",
];

/// The record of a vector in [`ALSO_MISSING_INTEGER`] with its missing `integer` added.
pub fn completed(name: &str, data: &Value) -> Option<Value> {
    if !ALSO_MISSING_INTEGER.contains(&name) {
        return None;
    }
    let mut data = data.clone();
    data.as_object_mut()?
        .insert("integer".to_owned(), Value::from(1));
    Some(data)
}

/// The pointer an invalid vector must be rejected at.
fn expected(name: &str, data: &Value) -> Result<&'static str, String> {
    let in_data = |pointer: &str| {
        pointer
            .split('/')
            .nth(1)
            .is_some_and(|member| data.get(member).is_some())
    };
    let candidates: Vec<&'static str> = REASONS
        .iter()
        .filter(|(n, _)| *n == name)
        .map(|(_, p)| *p)
        .collect();
    match candidates[..] {
        [] => Err("has no entry in REASONS: say which JSON path it is about".to_owned()),
        [only] => Ok(only),
        _ => match candidates.iter().filter(|p| in_data(p)).collect::<Vec<_>>()[..] {
            [one] => Ok(*one),
            _ => Err(format!(
                "matches several entries of REASONS ({candidates:?}) and its data does not tell which"
            )),
        },
    }
}

/// `at` is `expected` or lies below it.
fn within(at: &str, expected: &str) -> bool {
    at == expected
        || at
            .strip_prefix(expected)
            .is_some_and(|rest| rest.starts_with('/'))
}

/// Judges one vector: `Ok` says how it passed, `Err` why it failed. `outcome` is the
/// runner's for the record as given; `completed` its outcome with the record [`completed`].
pub fn judge(
    valid: bool,
    name: &str,
    data: &Value,
    outcome: &Outcome,
    completed: Option<&Outcome>,
) -> Result<String, String> {
    if valid {
        return match outcome {
            Outcome::Accepted => Ok(String::new()),
            Outcome::Rejected { by, says, .. } => {
                Err(format!("valid record {name:?} refused by {by}: {says}"))
            }
            Outcome::Broken(why) => Err(format!("valid record {name:?} {why}")),
        };
    }
    let expected = expected(name, data).map_err(|why| format!("invalid record {name:?} {why}"))?;
    if ALSO_MISSING_INTEGER.contains(&name) {
        if data.get("integer").is_some() {
            return Err(format!(
                "invalid record {name:?} has an `integer` now: update ALSO_MISSING_INTEGER"
            ));
        }
        match outcome {
            Outcome::Accepted => {
                return Err(format!(
                    "invalid record {name:?} was accepted without its required `integer`"
                ));
            }
            Outcome::Broken(why) => {
                return Err(format!(
                    "invalid record {name:?} read and validated without its required `integer`, then {why}"
                ));
            }
            Outcome::Rejected { .. } => {}
        }
        let Some(completed) = completed else {
            return Err(format!(
                "invalid record {name:?}: no outcome for it with `integer` added"
            ));
        };
        return rejection(name, expected, completed)
            .map(|how| format!("{how} (with `integer` added)"));
    }
    rejection(name, expected, outcome)
}

fn rejection(name: &str, expected: &str, outcome: &Outcome) -> Result<String, String> {
    match outcome {
        Outcome::Accepted => Err(format!(
            "invalid record {name:?} was accepted (it is about {expected})"
        )),
        Outcome::Broken(why) => Err(format!(
            "invalid record {name:?} read and validated, then {why}: that is no rejection for {expected}"
        )),
        Outcome::Rejected { by, at, says } if at.iter().any(|at| within(at, expected)) => {
            Ok(format!("rejected by {by} at {expected}: {says}"))
        }
        Outcome::Rejected { by, at, says } => Err(format!(
            "invalid record {name:?} is about {expected}, but {by} rejected it at {at:?}: {says}"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rejected(by: &str, at: &[&str]) -> Outcome {
        Outcome::Rejected {
            by: by.into(),
            at: at.iter().map(|s| (*s).to_owned()).collect(),
            says: "why".into(),
        }
    }

    #[test]
    fn an_invalid_record_must_be_rejected_at_its_own_path() {
        let data = json!({"integer": 1, "formats": {"did": "123"}});
        let name = "invalid string format did";
        assert!(
            judge(
                false,
                name,
                &data,
                &rejected("validate()", &["/formats/did"]),
                None
            )
            .is_ok()
        );
        let elsewhere = judge(
            false,
            name,
            &data,
            &rejected("reading", &["/integer"]),
            None,
        );
        assert!(
            elsewhere
                .as_ref()
                .is_err_and(|e| e.contains("is about /formats/did") && e.contains("/integer")),
            "{elsewhere:?}"
        );
        // `/formats/didx` is not below `/formats/did`.
        assert!(
            judge(
                false,
                name,
                &data,
                &rejected("reading", &["/formats/didx"]),
                None
            )
            .is_err()
        );
        assert!(judge(false, name, &data, &Outcome::Accepted, None).is_err());
    }

    #[test]
    fn a_write_or_read_back_failure_is_no_rejection() {
        let data = json!({"integer": 1, "lenString": "."});
        let broken = Outcome::Broken("does not read back: oops".into());
        let verdict = judge(false, "string too short", &data, &broken, None);
        assert!(
            verdict.as_ref().is_err_and(|e| e.contains("no rejection")),
            "{verdict:?}"
        );
        assert!(judge(true, "minimal", &data, &broken, None).is_err());
    }

    #[test]
    fn a_vector_nobody_described_fails() {
        let verdict = judge(
            false,
            "a new vector",
            &json!({}),
            &rejected("reading", &[""]),
            None,
        );
        assert!(verdict.is_err_and(|e| e.contains("no entry in REASONS")));
    }

    #[test]
    fn twin_names_are_told_apart_by_their_data() {
        let closed = json!({"integer": 1, "closedUnion": {}});
        let name = "union inner invalid";
        assert!(
            judge(
                false,
                name,
                &closed,
                &rejected("reading", &["/closedUnion"]),
                None
            )
            .is_ok()
        );
        assert!(
            judge(
                false,
                name,
                &closed,
                &rejected("reading", &["/union"]),
                None
            )
            .is_err()
        );
    }

    #[test]
    fn a_vector_missing_integer_too_is_judged_with_it_added() {
        let data = json!({"unknown": {"$bytes": "123"}});
        let name = "unknown wrong type (bytes)";
        let first = rejected("reading", &["/integer"]);
        // Rejected only for the missing integer: the `unknown` rule went untested.
        let accepted_once_complete = judge(false, name, &data, &first, Some(&Outcome::Accepted));
        assert!(
            accepted_once_complete.is_err(),
            "{accepted_once_complete:?}"
        );
        let right = rejected("validate()", &["/unknown"]);
        assert!(judge(false, name, &data, &first, Some(&right)).is_ok());
        assert_eq!(completed(name, &data).unwrap()["integer"], 1);
        assert!(completed("string too long", &data).is_none());
    }
}
