//! How an app generates its own crates with the `codegen` library, from its own xtask.
//!
//! Two layers: `lexicons/` becomes `api/` (package `linkboard-api`) on top of the
//! repository's `generated/` (atproto-api), and `plugins/polls/` becomes `polls-api/` on top
//! of both. Documents atproto-api provides (the vendored `strongRef.json`) are not generated
//! again, and the refs into them are atproto-api's types.

use codegen::{Base, CrateOptions, Options, Severity};
use std::path::{Path, PathBuf};

/// One crate to generate: its lexicon folder, its folder, its name, and what it stands on.
pub struct Layer {
    pub lexicons: PathBuf,
    pub out: PathBuf,
    pub name: &'static str,
    /// Crate folders to layer on, lowest first.
    pub bases: Vec<PathBuf>,
}

/// The app's two layers, with paths below the app's folder `app`.
pub fn layers(app: &Path) -> Vec<Layer> {
    let atproto = app.join("../../generated");
    vec![
        Layer {
            lexicons: app.join("lexicons"),
            out: app.join("api"),
            name: "linkboard-api",
            bases: vec![atproto.clone()],
        },
        Layer {
            lexicons: app.join("plugins/polls"),
            out: app.join("polls-api"),
            name: "linkboard-polls-api",
            bases: vec![atproto, app.join("api")],
        },
    ]
}

/// What generating one layer said: warnings and notes, one per line, then a summary.
pub struct Report {
    pub lines: Vec<String>,
    /// Files that differ from what is on disk (written unless `check`).
    pub stale: Vec<PathBuf>,
}

/// Generates one layer; with `check`, writes nothing and reports the stale files.
pub fn generate(layer: &Layer, check: bool) -> Result<Report, String> {
    let mut sources = codegen::read_lexicon_dir(&layer.lexicons)
        .map_err(|e| format!("cannot read {}: {e}", layer.lexicons.display()))?;
    // Diagnostics name files as the app's developers see them: `lexicons/board/defs.json`.
    let folder = PathBuf::from(layer.lexicons.file_name().unwrap_or_default());
    for source in &mut sources {
        if let Some(relative) = &source.relative_path {
            source.file = folder.join(relative);
        }
    }
    let mut options = Options {
        krate: CrateOptions {
            name: layer.name.to_owned(),
            version: "0.1.0".to_owned(),
        },
        deny_warnings: false,
        bases: Vec::new(),
    };
    for base in &layer.bases {
        options.bases.push(Base::from_crate_dir(base, &layer.out)?);
    }
    let generated = codegen::generate_with(&[&sources], &options).map_err(|d| d.to_string())?;
    let mut lines: Vec<String> = generated
        .diagnostics
        .iter()
        .map(|d| format!("{}: {d}", d.severity.name()))
        .collect();
    let plan = codegen::sync::plan(&generated.files, &layer.out)
        .map_err(|e| format!("cannot read {}: {e}", layer.out.display()))?;
    let mut stale = plan.write.clone();
    stale.extend(plan.remove.iter().cloned());
    if !check {
        codegen::sync::apply(&plan, &generated.files, &layer.out)?;
    }
    lines.push(format!(
        "{}: {} documents, {} warnings, {} files {}",
        layer.name,
        generated.documents,
        generated.diagnostics.count(Severity::Warning),
        stale.len(),
        if check { "stale" } else { "written" }
    ));
    Ok(Report { lines, stale })
}
