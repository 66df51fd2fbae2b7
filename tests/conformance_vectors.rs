//! Conformance of the runtime's string formats, data-model checks and signature keys against
//! the atproto interop vectors in `../shared/corpus` (not part of the default run: the corpus lives outside
//! this repository). Run with `cargo xtask conformance`, or set `ATPROTO_CORPUS` to the corpus
//! folder and pass `--ignored`.

use std::fs;
use std::path::{Path, PathBuf};

use atproto_api::runtime::did::{KeyType, PublicKey, SignatureError, k256, p256};
use atproto_api::runtime::{Blob, Bytes, CidLink, Unknown, check_data_model, check_format};
use base64::Engine as _;
use serde_json::Value;

const IGNORE_REASON: &str = "needs ../shared/corpus: run through cargo xtask conformance";

/// The corpus folder from `ATPROTO_CORPUS`. A relative path is taken from the workspace root,
/// since cargo runs tests from the package folder, not from where the command was typed.
fn corpus() -> PathBuf {
    let Some(dir) = std::env::var_os("ATPROTO_CORPUS") else {
        panic!(
            "ATPROTO_CORPUS is not set: point it at the corpus folder (the one holding \
             interop-tests/), for example ATPROTO_CORPUS=../shared/corpus ({IGNORE_REASON})"
        );
    };
    let dir = PathBuf::from(dir);
    let dir = if dir.is_relative() {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(dir)
    } else {
        dir
    };
    assert!(
        dir.join("interop-tests").is_dir(),
        "ATPROTO_CORPUS: {} has no interop-tests/ folder",
        dir.display()
    );
    dir
}

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// The cases of a syntax vector file, read as the reference implementation does: split on
/// newlines (a trailing `\r` belongs to the newline), skip empty lines and lines starting with
/// `#`, and never trim: leading and trailing spaces are what some cases test.
fn cases(text: &str) -> impl Iterator<Item = &str> {
    text.split('\n')
        .map(|line| line.strip_suffix('\r').unwrap_or(line))
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
}

/// The Lexicon format a vector file tests, from its file-name prefix.
fn format_of(prefix: &str) -> Option<&'static str> {
    Some(match prefix {
        "atidentifier" => "at-identifier",
        "aturi" => "at-uri",
        "cid" => "cid",
        "datetime" => "datetime",
        "did" => "did",
        "handle" => "handle",
        "language" => "language",
        "nsid" => "nsid",
        "recordkey" => "record-key",
        "tid" => "tid",
        "uri" => "uri",
        _ => return None,
    })
}

fn shown(case: &str) -> String {
    let mut shown: String = case.chars().take(80).collect();
    if shown.len() < case.len() {
        shown.push_str(&format!("… ({} bytes)", case.len()));
    }
    format!("{shown:?}")
}

#[test]
#[ignore = "needs ../shared/corpus: run through cargo xtask conformance"]
fn syntax_vectors() {
    let dir = corpus().join("interop-tests").join("syntax");
    let mut files: Vec<PathBuf> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "txt"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no vector files in {}", dir.display());

    let (mut passed, mut failed) = (0usize, 0usize);
    for path in &files {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        let stem = name.strip_suffix(".txt").unwrap_or(name);
        // `*_syntax_valid` must be accepted; `*_syntax_invalid` and `*_parse_invalid` rejected.
        let (prefix, must_accept) = if let Some(prefix) = stem.strip_suffix("_syntax_valid") {
            (prefix, true)
        } else if let Some(prefix) = stem
            .strip_suffix("_syntax_invalid")
            .or_else(|| stem.strip_suffix("_parse_invalid"))
        {
            (prefix, false)
        } else {
            println!("{name}: not a vector file name this test knows");
            failed += 1;
            continue;
        };
        let Some(format) = format_of(prefix) else {
            println!("{name}: no format is known for prefix {prefix:?}");
            failed += 1;
            continue;
        };
        let text = read(path);
        let (mut file_passed, mut file_failed) = (0usize, 0usize);
        for case in cases(&text) {
            let verdict = check_format(format, case).expect("a known format");
            if verdict.is_ok() == must_accept {
                file_passed += 1;
            } else {
                file_failed += 1;
                match verdict {
                    Ok(()) => println!("  {name}: accepted {}", shown(case)),
                    Err(e) => println!("  {name}: rejected {}: {}", shown(case), e.reason()),
                }
            }
        }
        println!("{name} ({format}): {file_passed} passed, {file_failed} failed");
        passed += file_passed;
        failed += file_failed;
    }
    println!("syntax: {passed} passed, {failed} failed");
    assert_eq!(failed, 0, "{failed} syntax vectors failed (listed above)");
}

/// Deserializes the special objects (`$bytes`, `$link`, blobs) found anywhere in `value` into
/// their runtime types, checks them, and re-serializes them. `Ok` when every one reads, checks
/// and re-encodes to the same JSON; `Err` says which did not.
fn typed_forms(value: &Value) -> Result<usize, String> {
    let mut seen = 0;
    match value {
        Value::Array(items) => {
            for item in items {
                seen += typed_forms(item)?;
            }
        }
        Value::Object(map) => {
            if map.contains_key("$bytes") {
                let bytes: Bytes = serde_json::from_value(value.clone())
                    .map_err(|e| format!("$bytes object rejected: {e}"))?;
                same(
                    value,
                    &serde_json::to_value(&bytes).expect("bytes serialize"),
                )?;
                return Ok(1);
            }
            if map.contains_key("$link") {
                let link: CidLink = serde_json::from_value(value.clone())
                    .map_err(|e| format!("$link object rejected: {e}"))?;
                link.check().map_err(|e| e.to_string())?;
                same(value, &serde_json::to_value(&link).expect("link serialize"))?;
                return Ok(1);
            }
            if map.get("$type").and_then(Value::as_str) == Some("blob") {
                let blob: Blob = serde_json::from_value(value.clone())
                    .map_err(|e| format!("blob rejected: {e}"))?;
                blob.check().map_err(|e| e.to_string())?;
                same(value, &serde_json::to_value(&blob).expect("blob serialize"))?;
                return Ok(1);
            }
            for item in map.values() {
                seen += typed_forms(item)?;
            }
        }
        _ => {}
    }
    Ok(seen)
}

fn same(expected: &Value, actual: &Value) -> Result<(), String> {
    if expected == actual {
        Ok(())
    } else {
        Err(format!("re-encoded as {actual}, expected {expected}"))
    }
}

fn json_file(dir: &Path, name: &str) -> Vec<Value> {
    let path = dir.join(name);
    let value: Value = serde_json::from_str(&read(&path))
        .unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()));
    match value {
        Value::Array(items) => items,
        _ => panic!("{} is not a JSON array", path.display()),
    }
}

/// Passed and failed cases over the files of one set of vectors; each file's line
/// (`name: N passed, M failed`) and each failure are printed for the conformance run.
#[derive(Default)]
struct Counts {
    passed: usize,
    failed: usize,
}

impl Counts {
    fn file(&mut self, name: &str, results: Vec<Result<(), String>>) {
        let (mut file_passed, mut file_failed) = (0usize, 0usize);
        for result in results {
            match result {
                Ok(()) => file_passed += 1,
                Err(message) => {
                    println!("  {name}: {message}");
                    file_failed += 1;
                }
            }
        }
        println!("{name}: {file_passed} passed, {file_failed} failed");
        self.passed += file_passed;
        self.failed += file_failed;
    }
}

fn label(case: &Value, index: usize) -> String {
    match case.get("note").and_then(Value::as_str) {
        Some(note) => format!("#{index} {note:?}"),
        None => format!("#{index}"),
    }
}

#[test]
#[ignore = "needs ../shared/corpus: run through cargo xtask conformance"]
fn data_model_vectors() {
    let dir = corpus().join("interop-tests").join("data-model");
    let mut counts = Counts::default();

    // Valid: the plain-JSON check accepts it, and every special object in it reads into its
    // runtime type and re-encodes to the same JSON; the whole reads and re-encodes as Unknown.
    let valid = json_file(&dir, "data-model-valid.json");
    let results = valid
        .iter()
        .enumerate()
        .map(|(index, case)| {
            let json = &case["json"];
            let label = label(case, index);
            check_data_model(json).map_err(|e| format!("{label}: rejected: {e}"))?;
            typed_forms(json).map_err(|e| format!("{label}: {e}"))?;
            let unknown: Unknown = serde_json::from_value(json.clone())
                .map_err(|e| format!("{label}: not read as Unknown: {e}"))?;
            same(
                json,
                &serde_json::to_value(&unknown).expect("unknown serializes"),
            )
            .map_err(|e| format!("{label}: {e}"))
        })
        .collect();
    counts.file("data-model-valid.json", results);

    // Invalid: the plain-JSON check rejects it; and where it holds special objects, reading
    // them into the runtime types (then `check()`) fails too.
    let invalid = json_file(&dir, "data-model-invalid.json");
    let results = invalid
        .iter()
        .enumerate()
        .map(|(index, case)| {
            let json = &case["json"];
            let label = label(case, index);
            if check_data_model(json).is_ok() {
                return Err(format!("{label}: accepted by check_data_model"));
            }
            match typed_forms(json) {
                Ok(0) | Err(_) => Ok(()),
                Ok(_) => Err(format!("{label}: its special objects all read and check")),
            }
        })
        .collect();
    counts.file("data-model-invalid.json", results);

    // Fixtures: the JSON side only (no CBOR codec here): valid, typed round trips, Unknown.
    let fixtures = json_file(&dir, "data-model-fixtures.json");
    let results = fixtures
        .iter()
        .enumerate()
        .map(|(index, case)| {
            let json = &case["json"];
            let label = label(case, index);
            check_data_model(json).map_err(|e| format!("{label}: rejected: {e}"))?;
            typed_forms(json).map_err(|e| format!("{label}: {e}"))?;
            let unknown: Unknown = serde_json::from_value(json.clone())
                .map_err(|e| format!("{label}: not read as Unknown: {e}"))?;
            unknown.check().map_err(|e| format!("{label}: {e}"))?;
            same(
                json,
                &serde_json::to_value(&unknown).expect("unknown serializes"),
            )
            .map_err(|e| format!("{label}: {e}"))
        })
        .collect();
    counts.file("data-model-fixtures.json", results);

    let Counts { passed, failed } = counts;
    println!("data-model: {passed} passed, {failed} failed");
    assert_eq!(
        failed, 0,
        "{failed} data-model vectors failed (listed above)"
    );
}

/// The crypto vectors: signatures (valid low-S, high-S and DER, on both curves) checked with
/// `PublicKey::verify`, keys read from `did:key` and from the legacy multibase form, and
/// private keys whose `did:key` the runtime must write the same.
#[test]
#[ignore = "needs ../shared/corpus: run through cargo xtask conformance"]
fn crypto_vectors() {
    let dir = corpus().join("interop-tests").join("crypto");
    let mut counts = Counts::default();
    // The fixtures write standard base64, unpadded.
    let base64 = |text: &str| {
        base64::engine::general_purpose::STANDARD_NO_PAD
            .decode(text)
            .map_err(|e| format!("not base64: {e}"))
    };

    let signatures = json_file(&dir, "signature-fixtures.json");
    let results = signatures
        .iter()
        .enumerate()
        .map(|(index, case)| {
            let text = |name: &str| case[name].as_str().unwrap_or_default();
            let label = format!("#{index} {:?}", text("comment"));
            let key = PublicKey::from_did_key(text("publicKeyDid"))
                .map_err(|e| format!("{label}: did:key not read: {e}"))?;
            let kind = match text("didDocSuite") {
                "EcdsaSecp256k1VerificationKey2019" => KeyType::Secp256k1,
                "EcdsaSecp256r1VerificationKey2019" => KeyType::P256,
                other => return Err(format!("{label}: unknown suite {other}")),
            };
            let legacy = PublicKey::from_legacy(kind, text("publicKeyMultibase"))
                .map_err(|e| format!("{label}: legacy multibase not read: {e}"))?;
            if legacy != key {
                return Err(format!("{label}: the did:key and the multibase differ"));
            }
            if key.jwt_alg() != text("algorithm") {
                return Err(format!("{label}: read as {}", key.jwt_alg()));
            }
            let message = base64(text("messageBase64")).map_err(|e| format!("{label}: {e}"))?;
            let signature = base64(text("signatureBase64")).map_err(|e| format!("{label}: {e}"))?;
            let verdict = key.verify(&message, &signature);
            let valid = case["validSignature"].as_bool() == Some(true);
            if verdict.is_ok() != valid {
                return Err(format!("{label}: verify said {verdict:?}"));
            }
            let tags: Vec<&str> = case["tags"]
                .as_array()
                .map(|tags| tags.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            // Each invalid case fails for its own reason, and a high-S one is otherwise right.
            if tags.contains(&"high-s") {
                if verdict != Err(SignatureError::HighS) {
                    return Err(format!("{label}: expected HighS, got {verdict:?}"));
                }
                key.verify_allowing_high_s(&message, &signature)
                    .map_err(|e| {
                        format!("{label}: the high-S signature is not otherwise valid: {e}")
                    })?;
            }
            if tags.contains(&"der-encoded") && !matches!(verdict, Err(SignatureError::Length(_))) {
                return Err(format!("{label}: expected a length error, got {verdict:?}"));
            }
            Ok(())
        })
        .collect();
    counts.file("signature-fixtures.json", results);

    // Private keys, and the did:key of their public halves.
    let k256_key = |case: &Value| {
        let private = hex(case["privateKeyBytesHex"].as_str().unwrap_or_default())
            .ok_or("the private key is not hex")?;
        let signing = k256::ecdsa::SigningKey::from_slice(&private).map_err(|e| e.to_string())?;
        Ok(PublicKey::Secp256k1(*signing.verifying_key()))
    };
    let p256_key = |case: &Value| {
        let private = atproto_api::runtime::cid::multibase::Base::Base58Btc
            .decode(case["privateKeyBytesBase58"].as_str().unwrap_or_default())
            .map_err(|e| e.to_string())?;
        let signing = p256::ecdsa::SigningKey::from_slice(&private).map_err(|e| e.to_string())?;
        Ok(PublicKey::P256(*signing.verifying_key()))
    };
    let did_key_file = |name: &str, key: &dyn Fn(&Value) -> Result<PublicKey, String>| {
        json_file(&dir, name)
            .iter()
            .enumerate()
            .map(|(index, case)| {
                let key = key(case).map_err(|e| format!("#{index}: {e}"))?;
                did_key_matches(
                    &format!("#{index}"),
                    key,
                    case["publicDidKey"].as_str().unwrap_or_default(),
                )
            })
            .collect()
    };
    counts.file(
        "w3c_didkey_K256.json",
        did_key_file("w3c_didkey_K256.json", &k256_key),
    );
    counts.file(
        "w3c_didkey_P256.json",
        did_key_file("w3c_didkey_P256.json", &p256_key),
    );

    let Counts { passed, failed } = counts;
    println!("crypto: {passed} passed, {failed} failed");
    assert_eq!(failed, 0, "{failed} crypto vectors failed (listed above)");
}

/// The runtime writes `key` as `expected` and reads `expected` back as `key`.
fn did_key_matches(label: &str, key: PublicKey, expected: &str) -> Result<(), String> {
    if key.to_did_key() != expected {
        return Err(format!(
            "{label}: written as {}, expected {expected}",
            key.to_did_key()
        ));
    }
    match PublicKey::from_did_key(expected) {
        Ok(read) if read == key => Ok(()),
        other => Err(format!("{label}: {expected} read as {other:?}")),
    }
}

fn hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}
