//! Problems found in lexicon documents, each pinned to a file, a place in it and a def.

use std::fmt;
use std::path::PathBuf;

/// How bad a diagnostic is. Ordered worst first, so sorting lists errors before warnings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum Severity {
    /// The input has no meaning here: nothing is generated.
    #[default]
    Error,
    /// A deviation from the spec whose meaning is clear: generated as that meaning, and said.
    Warning,
    /// Information (a file skipped, a copy of a base document left out): nothing is wrong.
    Note,
}

impl Severity {
    pub fn name(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Note => "note",
        }
    }
}

/// One problem in one lexicon document.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Diagnostic {
    /// The document's file, as the caller named it.
    pub file: PathBuf,
    /// 1-based line and column of the offending JSON value, when it could be found.
    pub position: Option<(usize, usize)>,
    /// JSON pointer (RFC 6901) of the offending value, e.g. `/defs/main/input`.
    pub pointer: String,
    /// `nsid#def` the problem belongs to, when known.
    pub def: Option<String>,
    pub message: String,
    pub severity: Severity,
    /// A stable name for the spec rule a warning is about (`named-union`), empty otherwise.
    pub rule: &'static str,
}

impl Diagnostic {
    /// An error with no location inside a file.
    pub fn in_file(file: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        Diagnostic {
            file: file.into(),
            position: None,
            pointer: String::new(),
            def: None,
            message: message.into(),
            severity: Severity::Error,
            rule: "",
        }
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some((line, column)) = self.position {
            write!(f, ":{line}:{column}")?;
        }
        f.write_str(": ")?;
        if let Some(def) = &self.def {
            write!(f, "{def}: ")?;
        }
        if !self.pointer.is_empty() {
            write!(f, "at {}: ", self.pointer)?;
        }
        f.write_str(&self.message)?;
        if !self.rule.is_empty() {
            write!(f, " [{}]", self.rule)?;
        }
        Ok(())
    }
}

/// Every problem found in one run, sorted by file and position so output is stable.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl Diagnostics {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn iter(&self) -> std::slice::Iter<'_, Diagnostic> {
        self.0.iter()
    }

    pub(crate) fn push(&mut self, diagnostic: Diagnostic) {
        self.0.push(diagnostic);
    }

    /// Whether any diagnostic is an error (warnings and notes still generate).
    pub fn has_errors(&self) -> bool {
        self.0.iter().any(Diagnostic::is_error)
    }

    /// How many diagnostics have this severity.
    pub fn count(&self, severity: Severity) -> usize {
        self.0.iter().filter(|d| d.severity == severity).count()
    }

    /// Turns every warning into an error (`--deny-warnings`).
    pub fn deny_warnings(&mut self) {
        for diagnostic in &mut self.0 {
            if diagnostic.severity == Severity::Warning {
                diagnostic.severity = Severity::Error;
            }
        }
    }

    /// Sorted by file and position (errors first at the same place), without repeats.
    pub fn sorted(mut self) -> Self {
        self.0.sort_by(|a, b| {
            (&a.file, a.position, &a.pointer, a.severity, &a.message)
                .cmp(&(&b.file, b.position, &b.pointer, b.severity, &b.message))
        });
        self.0.dedup();
        self
    }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for diagnostic in &self.0 {
            writeln!(f, "{}: {diagnostic}", diagnostic.severity.name())?;
        }
        let plural = |n: usize| if n == 1 { "" } else { "s" };
        let (errors, warnings) = (self.count(Severity::Error), self.count(Severity::Warning));
        write!(f, "{errors} error{}", plural(errors))?;
        if warnings > 0 {
            write!(f, ", {warnings} warning{}", plural(warnings))?;
        }
        Ok(())
    }
}

impl std::error::Error for Diagnostics {}

/// Builds a JSON pointer from path segments, escaping `~` and `/` as RFC 6901 says.
pub fn pointer<'a>(segments: impl IntoIterator<Item = &'a str>) -> String {
    let mut out = String::new();
    for segment in segments {
        out.push('/');
        out.push_str(&segment.replace('~', "~0").replace('/', "~1"));
    }
    out
}
