//! Credentials never reach logs through the generated `Debug`: every upstream field whose
//! name looks like a credential is classified by hand (`codegen::secrets`), and the generated
//! types print `<redacted>` for the secret ones.
//!
//! Reads the upstream lexicons from the corpus (`ATPROTO_CORPUS`, by default `../shared/corpus`
//! beside the repository).

mod support;

use codegen::ir::{Item, Type};
use codegen::secrets::{NOT_SECRET, SECRET, looks_like_credential};
use codegen::{CrateOptions, SourceFile};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn upstream() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let corpus = std::env::var_os("ATPROTO_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("../shared/corpus"));
    let corpus = if corpus.is_relative() {
        root.join(corpus)
    } else {
        corpus
    };
    let dir = corpus.join("atproto-lexicons/lexicons");
    assert!(
        dir.is_dir(),
        "no upstream lexicons at {}: set ATPROTO_CORPUS to the corpus folder",
        dir.display()
    );
    dir
}

/// The element type of a (possibly nested) array, or the type itself.
fn innermost(ty: &Type) -> &Type {
    match ty {
        Type::Array(item) => innermost(item),
        other => other,
    }
}

#[test]
fn every_upstream_credential_like_field_is_classified() {
    let sources = codegen::read_lexicon_dir(&upstream()).expect("the upstream lexicons read");
    let documents = codegen::load_and_check(&sources)
        .unwrap_or_else(|d| panic!("the upstream lexicons check:\n{d}"));
    let ir = codegen::ir::resolve(&documents);
    // Every object field of every def, input, output and params, by address.
    let mut fields = BTreeMap::new();
    for module in &ir.modules {
        for item in &module.items {
            if let Item::Struct(s) = item {
                for field in &s.fields {
                    let previous = fields.insert(field.address.as_str(), field);
                    assert!(previous.is_none(), "two fields at {}", field.address);
                }
            }
        }
    }
    assert!(fields.len() > 2500, "only {} fields found", fields.len());

    let mut unclassified = Vec::new();
    for (address, field) in &fields {
        let plain_string = matches!(innermost(&field.ty), Type::String);
        let listed = SECRET.contains(address) || NOT_SECRET.iter().any(|(a, _)| a == address);
        if plain_string && looks_like_credential(&field.json_name) && !listed {
            unclassified.push(*address);
        }
    }
    assert!(
        unclassified.is_empty(),
        "fields named like credentials that codegen::secrets classifies neither as SECRET \
         nor as NOT_SECRET (add each to one list, with the reason):\n{}",
        unclassified.join("\n")
    );

    for address in SECRET {
        let field = fields
            .get(address)
            .unwrap_or_else(|| panic!("SECRET lists {address}, which no upstream field is"));
        assert!(
            field.secret,
            "{address} is listed as a secret but not redacted"
        );
    }
    for (address, why) in NOT_SECRET {
        let field = fields
            .get(address)
            .unwrap_or_else(|| panic!("NOT_SECRET lists {address}, which no upstream field is"));
        assert!(!field.secret, "{address} ({why}) is redacted");
    }
    // The name rule (for other lexicons) agrees with the upstream lists where it speaks.
    for (address, field) in &fields {
        if matches!(innermost(&field.ty), Type::String)
            && codegen::secrets::secret_by_name(&field.json_name)
        {
            assert!(
                SECRET.contains(address),
                "{address} is a secret by its name only"
            );
        }
    }
}

/// Values that must never be printed, and one that must (a public key is no secret).
const PROGRAM: &str = r##"use atproto_api::com::atproto::server::{create_account, create_invite_code, create_invite_codes, defs};

fn main() {
    let output: create_invite_code::Output =
        serde_json::from_str(r#"{"code": "secret-invite-1"}"#).expect("reads");
    println!("{output:?}");
    let codes: create_invite_codes::AccountCodes =
        serde_json::from_str(r#"{"account": "did:plc:abc", "codes": ["secret-invite-2"]}"#).expect("reads");
    println!("{codes:?}");
    let code: defs::InviteCode = serde_json::from_str(
        r#"{"code": "secret-invite-3", "available": 1, "disabled": false, "forAccount": "did:plc:abc",
            "createdBy": "admin", "createdAt": "2024-01-01T00:00:00Z", "uses": []}"#,
    )
    .expect("reads");
    println!("{code:?}");
    let input: create_account::Input = serde_json::from_str(
        r#"{"handle": "alice.test", "inviteCode": "secret-invite-4", "password": "secret-password",
            "verificationCode": "secret-sms-code", "recoveryKey": "did:key:zPublicRecoveryKey"}"#,
    )
    .expect("reads");
    println!("{input:?}");
}
"##;

#[test]
fn generated_debug_redacts_invite_codes_passwords_and_one_time_codes() {
    let dir = upstream().join("com/atproto/server");
    let sources: Vec<SourceFile> = [
        "createAccount",
        "createInviteCode",
        "createInviteCodes",
        "defs",
    ]
    .iter()
    .map(|name| {
        let file = dir.join(format!("{name}.json"));
        SourceFile {
            text: std::fs::read_to_string(&file)
                .unwrap_or_else(|e| panic!("{}: {e}", file.display())),
            relative_path: None,
            file,
        }
    })
    .collect();
    let files = codegen::generate(&sources, &CrateOptions::default())
        .unwrap_or_else(|d| panic!("does not generate:\n{d}"));
    let krate = support::write_crate("secrets", &files, &[("examples/debug.rs", PROGRAM)]);
    let printed = support::cargo(&krate, &["run", "--example", "debug"]);
    for secret in [
        "secret-invite-1",
        "secret-invite-2",
        "secret-invite-3",
        "secret-invite-4",
        "secret-password",
        "secret-sms-code",
    ] {
        assert!(
            !printed.contains(secret),
            "{secret} printed by Debug:\n{printed}"
        );
    }
    assert_eq!(printed.matches("<redacted>").count(), 6, "{printed}");
    for public in ["did:key:zPublicRecoveryKey", "alice.test", "did:plc:abc"] {
        assert!(
            printed.contains(public),
            "{public} is not a secret, yet hidden:\n{printed}"
        );
    }
}
