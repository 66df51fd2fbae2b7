//! `cargo xtask`: the command line over the `codegen` library.
//!
//! - `cargo xtask gen [--check] [--lexicons DIR]... [--out DIR] [--crate-name NAME]`
//! - `cargo xtask conformance --corpus DIR`

mod conformance;
mod diff;
mod perf;
mod record_runner;
mod semver;

use codegen::{Base, Options, Severity, SourceFile};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

pub(crate) const USAGE: &str = "usage:
  cargo xtask gen [--check] [--lexicons DIR]... [--out DIR] [--crate-name NAME] [--crate-version V]
                  [--base CRATE_DIR]... [--deny-warnings]
      Generate the Rust crate for every lexicon under DIR (default: lexicons/) into --out
      (default: generated/). With --check, write nothing and fail if any file is stale.
      Files are found by content and named by their `id`, in any layout; other JSON is skipped.
      An earlier --lexicons folder wins over a copy of the same document in a later one.
      --base layers the crate on a generated crate (its lexicon-manifest.json): documents it
      provides are its types, not generated again. Give each crate of a chain, lowest first.
  cargo xtask gen-fixtures [--check]
      The same for the construct fixtures: tests/fixtures/lexicons -> tests/fixtures/crate.
  cargo xtask diff OLD NEW [--format text|json] [--deny-breaking] [--no-crate]
      What a lexicon update changes, per NSID: breaking or compatible on the wire and in the
      Rust API, and the generated files it touches. OLD and NEW are lexicon folders or git
      revisions (their lexicons/). Exit 0 ok, 1 breaking with --deny-breaking, 2 bad input.
  cargo xtask conformance [--corpus DIR]
      Run the reference vectors and generate, build and lint the whole upstream lexicon set
      (default corpus: ../shared/corpus). Ends with a line `N passed, M failed`.
  cargo xtask semver-compare [--corpus DIR]
      The diff's Rust API verdict on the real upstream update (the corpus's 2026-02 set against
      the current one) next to cargo-semver-checks on the two generated crates, per document.
      Needs cargo-semver-checks (`cargo install cargo-semver-checks --locked --root target/tools`).
  cargo xtask perf-gen [--rev COMMIT]
      Generate app.bsky, com.atproto, chat.bsky, tools.ozone from the corpus into
      target/perf/generated (with this tree's generator, or COMMIT's) for the benches.
  cargo xtask bench-parse [--rev COMMIT] [CRITERION ARGS]
      Parse benches (perf/): ours vs atrium-api 0.26.0 vs serde_json::Value, in MB/s.
  cargo xtask bench-frames [--rev COMMIT] [CRITERION ARGS]
      Firehose frames (perf/): typed messages and records vs ipld_core's Ipld, frames/s, MB/s.
  cargo xtask bench-repo [--rev COMMIT] [--runs N] [--sizes N,N,...]
      A repository export (getRepo's CAR file, 10k/100k/300k records, made once under
      target/perf/data) read to every typed record in memory (Car) and from the file
      (CarFile): peak heap and time; the table goes to target/perf/results/repo.md.
  cargo xtask bench-instructions [--rev COMMIT]
      The same parses counted in instructions (callgrind): stable on a busy machine.
  cargo xtask bench-compile [--rev COMMIT] [--release] [--runs N] [--features LIST] [--rustc-flags FLAGS]
      Cold build of the API crate alone, ours vs atrium-api: rustc time, peak RSS, ratio.
      Ours has its default features (the four namespaces), plus LIST (`dag-cbor,reqwest`);
      FLAGS, such as -Ztime-passes, go to those two rustc runs only.
  cargo xtask bench-layered [--runs N]
      Third-party lexicon sets (../shared/corpus/third-party) generated as crates layered on
      the perf crate, each built alone, cold, the base prebuilt: rustc time and peak RSS per
      document and per line next to the base's; the report goes to
      target/perf/results/layered.md.
  cargo xtask bench-size [--rev COMMIT]
      The same small client program (perf/binsize/) on our crate and on atrium-api, release
      and stripped: both sizes and the ratio; the report goes to target/perf/results/size.md.
  cargo xtask bench-codegen [--runs N]
      Our generator vs `lex build` (@atproto/lex 0.3.12) on the 402 upstream documents.
  cargo xtask bench-all [--rev COMMIT] [--runs N]
      All of the above; the report goes to target/perf/report.md.";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("gen") => Gen::parse(&args[1..]).and_then(|g| g.run()),
        Some("conformance") => conformance::run(&args[1..]),
        Some("semver-compare") => semver::run(&args[1..]),
        Some("diff") => return diff::main(&args[1..]),
        Some("gen-fixtures") => {
            let root = workspace_root();
            let mut preset = vec![
                "--lexicons".to_owned(),
                root.join("tests/fixtures/lexicons").display().to_string(),
                "--out".to_owned(),
                root.join("tests/fixtures/crate").display().to_string(),
                "--crate-name".to_owned(),
                "lexicon-fixtures".to_owned(),
            ];
            preset.extend(args[1..].iter().cloned());
            Gen::parse(&preset).and_then(|g| g.run())
        }
        Some(
            command @ ("perf-gen" | "bench-parse" | "bench-frames" | "bench-repo"
            | "bench-instructions" | "bench-compile" | "bench-layered" | "bench-size"
            | "bench-codegen" | "bench-all"),
        ) => perf::run(command, &args[1..]),
        Some("-h" | "--help" | "help") => {
            println!("{USAGE}");
            Ok(())
        }
        _ => Err(format!("unknown or missing command\n{USAGE}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("{message}");
            ExitCode::FAILURE
        }
    }
}

/// The repository root (xtask lives one level below it).
pub(crate) fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask sits inside the workspace")
        .to_path_buf()
}

/// A path as the user should see it: relative to the current folder when it lies below it.
pub(crate) fn shown(path: &Path) -> PathBuf {
    std::env::current_dir()
        .ok()
        .and_then(|cwd| path.strip_prefix(cwd).ok().map(Path::to_path_buf))
        .unwrap_or_else(|| path.to_path_buf())
}

struct Gen {
    check: bool,
    lexicons: Vec<PathBuf>,
    out: PathBuf,
    bases: Vec<PathBuf>,
    options: Options,
}

impl Gen {
    fn parse(args: &[String]) -> Result<Gen, String> {
        let root = workspace_root();
        let mut command = Gen {
            check: false,
            lexicons: Vec::new(),
            out: root.join("generated"),
            bases: Vec::new(),
            options: Options::default(),
        };
        let mut args = args.iter();
        while let Some(arg) = args.next() {
            let mut value = |name: &str| {
                args.next()
                    .cloned()
                    .ok_or_else(|| format!("{name} needs a value\n{USAGE}"))
            };
            match arg.as_str() {
                "--check" => command.check = true,
                "--lexicons" => command.lexicons.push(PathBuf::from(value("--lexicons")?)),
                "--out" => command.out = PathBuf::from(value("--out")?),
                "--crate-name" => command.options.krate.name = value("--crate-name")?,
                "--crate-version" => command.options.krate.version = value("--crate-version")?,
                "--base" => command.bases.push(PathBuf::from(value("--base")?)),
                "--deny-warnings" => command.options.deny_warnings = true,
                other => return Err(format!("unknown option {other}\n{USAGE}")),
            }
        }
        if command.lexicons.is_empty() {
            command.lexicons.push(root.join("lexicons"));
        }
        Ok(command)
    }

    fn run(&self) -> Result<(), String> {
        let mut folders: Vec<Vec<SourceFile>> = Vec::new();
        for dir in &self.lexicons {
            let mut found =
                codegen::read_lexicon_dir(dir).map_err(|e| format!("cannot read lexicons: {e}"))?;
            for source in &mut found {
                source.file = shown(&source.file);
            }
            folders.push(found);
        }
        let sources: Vec<&SourceFile> = folders.iter().flatten().collect();
        if sources.is_empty() {
            return Err(format!(
                "no lexicon documents (*.json) found in {}",
                self.lexicons
                    .iter()
                    .map(|d| d.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        let mut options = self.options.clone();
        for dir in &self.bases {
            options.bases.push(Base::from_crate_dir(dir, &self.out)?);
        }
        let inputs: Vec<&[SourceFile]> = folders.iter().map(Vec::as_slice).collect();
        let generated = codegen::generate_with(&inputs, &options).map_err(|d| d.to_string())?;
        for diagnostic in generated.diagnostics.iter() {
            eprintln!("{}: {diagnostic}", diagnostic.severity.name());
        }
        let warnings = generated.diagnostics.count(Severity::Warning);
        let files = generated.files;
        let plan = codegen::sync::plan(&files, &self.out)
            .map_err(|e| format!("cannot read {}: {e}", self.out.display()))?;
        let out = shown(&self.out);
        if self.check {
            if plan.is_fresh() {
                println!(
                    "{} is fresh: {} files match {} lexicon documents",
                    out.display(),
                    plan.unchanged,
                    generated.documents
                );
                return Ok(());
            }
            let mut message = format!("{} is stale; run `cargo xtask gen`:\n", out.display());
            for path in &plan.write {
                message.push_str(&format!("  differs: {}\n", out.join(path).display()));
            }
            for path in &plan.remove {
                message.push_str(&format!(
                    "  no longer generated: {}\n",
                    out.join(path).display()
                ));
            }
            for path in &plan.foreign {
                message.push_str(&format!(
                    "  not generated, would not be overwritten: {}\n",
                    out.join(path).display()
                ));
            }
            return Err(message.trim_end().to_owned());
        }
        codegen::sync::apply(&plan, &files, &self.out)?;
        println!(
            "{}: {} lexicon documents -> {} files ({} written, {} removed, {} unchanged){}",
            out.display(),
            generated.documents,
            files.len(),
            plan.write.len(),
            plan.remove.len(),
            plan.unchanged,
            match warnings {
                0 => String::new(),
                1 => ", 1 warning".to_owned(),
                n => format!(", {n} warnings"),
            }
        );
        Ok(())
    }
}
