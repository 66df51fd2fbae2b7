//! What `cargo xtask diff` calls compatible for Rust users compiles, and what it calls breaking
//! does not: for each fixture pair under `fixtures/diff/`, a user program written against the
//! old crate (`integration_tests::compat`: every item used the way users use it) is compiled
//! against the old crate, where it must build, and against the new one, where it must build
//! exactly when the diff's Rust verdict is compatible.
//!
//! The crates are generated layered on the fixtures crate (`fixtures/crate`), so they share its
//! runtime and the whole check is one `cargo check` of a workspace under `target/api-compat`.

use codegen::diff::{self, Side};
use integration_tests::{compat, repo_root};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

fn write(path: &Path, contents: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, contents).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
}

/// Generates one side of a fixture pair into `out`, layered on the fixtures crate.
fn generate_side(rule: &str, side: &str, sources: &[codegen::SourceFile], out: &Path) {
    let base = codegen::Base::from_crate_dir(&repo_root().join("tests/fixtures/crate"), out)
        .expect("the fixtures crate has a manifest");
    let options = codegen::Options {
        krate: codegen::CrateOptions {
            name: format!("{rule}-{side}"),
            version: "0.1.0".into(),
        },
        bases: vec![base],
        deny_warnings: false,
    };
    let generated = codegen::generate_with(&[sources], &options)
        .unwrap_or_else(|d| panic!("{rule}/{side} does not generate:\n{d}"));
    let plan = codegen::sync::plan(&generated.files, out).unwrap();
    codegen::sync::apply(&plan, &generated.files, out).unwrap();
}

/// A crate `{kind}-{side}-{rule}` whose library is `program`, using the `side` crate as `api`.
fn user_crate(dir: &Path, kind: &str, rule: &str, side: &str, program: &str) -> String {
    let name = format!("{kind}-{side}-{rule}");
    write(
        &dir.join("Cargo.toml"),
        &format!(
            "[package]\nname = \"{name}\"\nversion = \"0.0.0\"\nedition = \"2024\"\npublish = false\n\n\
             [dependencies]\napi = {{ package = \"{rule}-{side}\", path = \"../{side}\" }}\n"
        ),
    );
    write(&dir.join("src/lib.rs"), program);
    name
}

#[test]
fn compatible_changes_compile_against_user_code_and_breaking_ones_do_not() {
    let fixtures = repo_root().join("tests/fixtures/diff");
    let work = repo_root().join("target/api-compat");
    let mut rules: Vec<PathBuf> = std::fs::read_dir(&fixtures)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.join("old").is_dir() && path.join("new").is_dir())
        .filter(|path| !path.ends_with("bad-input"))
        .collect();
    rules.sort();

    // rule -> does the diff call the Rust API change breaking?
    let mut verdicts = BTreeMap::new();
    let mut breaking_rules = BTreeMap::new();
    let mut fragile_rules = Vec::new();
    let mut members = Vec::new();
    for dir in &rules {
        let rule = dir.file_name().unwrap().to_str().unwrap().to_owned();
        let old = codegen::read_lexicon_dir(&dir.join("old")).unwrap();
        let new = codegen::read_lexicon_dir(&dir.join("new")).unwrap();
        let report = diff::diff(
            Side {
                label: "old",
                sources: &old,
            },
            Side {
                label: "new",
                sources: &new,
            },
            &diff::Options::default(),
        )
        .unwrap_or_else(|bad| panic!("{rule}: {bad}"));
        verdicts.insert(rule.clone(), report.summary.rust.breaking > 0);
        let rules: Vec<&'static str> = report
            .documents
            .iter()
            .flat_map(|d| &d.rust)
            .filter(|c| c.level == diff::Level::Breaking)
            .map(|c| c.rule)
            .collect();
        breaking_rules.insert(rule.clone(), rules);

        let out = work.join(&rule);
        generate_side(&rule, "old", &old, &out.join("old"));
        generate_side(&rule, "new", &new, &out.join("new"));
        let documents = codegen::load_and_check(&old).unwrap();
        let ir = codegen::ir::resolve(&documents);
        let program = compat::user_program(&ir);
        for side in ["old", "new"] {
            user_crate(
                &out.join(format!("user-{side}")),
                "user",
                &rule,
                side,
                &program,
            );
            members.push(format!("\"{rule}/{side}\""));
            members.push(format!("\"{rule}/user-{side}\""));
        }
        if let Some(fragile) = compat::fragile_program(&ir) {
            user_crate(&out.join("fragile"), "fragile", &rule, "old", &fragile);
            members.push(format!("\"{rule}/fragile\""));
            fragile_rules.push(rule.clone());
        }
    }
    write(
        &work.join("Cargo.toml"),
        &format!(
            "[workspace]\nresolver = \"3\"\nmembers = [{}]\n",
            members.join(", ")
        ),
    );
    // The repository's lock file pins the registry crates, so nothing new is resolved.
    std::fs::copy(repo_root().join("Cargo.lock"), work.join("Cargo.lock")).unwrap();

    let output = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args([
            "check",
            "--workspace",
            "--keep-going",
            "--offline",
            "--message-format=short",
        ])
        .current_dir(&work)
        .env("CARGO_TARGET_DIR", work.join("target"))
        .output()
        .expect("cargo runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    let failed = |name: &str| stderr.contains(&format!("could not compile `{name}`"));

    // Breaking changes the compiler cannot see: user code still builds, and means something
    // else. `new()` taking required fields in another order is one when the swapped fields
    // have the same type (the diff reports it for that reason).
    let unseen_by_the_compiler = ["constructor-changed"];
    let mut wrong = Vec::new();
    for (rule, breaking) in &verdicts {
        for side in ["old", "new"] {
            assert!(
                !failed(&format!("{rule}-{side}")),
                "the generated crate {rule}-{side} does not build:\n{stderr}"
            );
        }
        assert!(
            !failed(&format!("user-old-{rule}")),
            "the user program of {rule} does not build against the crate it was written for:\n{stderr}"
        );
        let builds = !failed(&format!("user-new-{rule}"));
        let only_unseen = breaking_rules[rule]
            .iter()
            .all(|r| unseen_by_the_compiler.contains(r));
        if builds == *breaking && !(builds && only_unseen) {
            wrong.push(format!(
                "{rule}: the diff says {}, but user code written against the old crate {} against the new one",
                if *breaking { "breaking" } else { "compatible" },
                if builds { "builds" } else { "does not build" },
            ));
        }
    }
    assert!(wrong.is_empty(), "{}\n\n{stderr}", wrong.join("\n"));
    for rule in &fragile_rules {
        assert!(
            failed(&format!("fragile-old-{rule}")),
            "{rule}: code that depends on every field and variant builds against the old crate"
        );
    }
    // The fragile programs fail for the reason under test.
    for code in ["E0639", "E0004"] {
        assert!(
            stderr.contains(code),
            "no {code} (non-exhaustive struct or match) in:\n{stderr}"
        );
    }
    // Both outcomes occur, so the check can tell them apart.
    assert!(verdicts.values().any(|b| *b) && verdicts.values().any(|b| !*b));
}
