//! The one diagnostic type of the front end.
//!
//! Every stage builds [`Diagnostic`] values; nothing here prints. The binary renders them (with
//! ariadne), so the library stays free of terminal concerns. Messages keep SystemTap's wording
//! where users know it (`type mismatch (string)`, `unresolved function`), and add what stap does
//! not say: the second site of a conflict as a secondary label, and a `help` such as
//! `did you mean 'strlen'?`.

use crate::source::{SourceMap, Span};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Warning,
    Error,
}

/// The translator pass a diagnostic belongs to. It picks stap's prefix (`parse error:` /
/// `semantic error:`) and the failure line (`Pass 1: parse failed.` / `Pass 2: analysis
/// failed.`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Pass {
    /// Pass 1: lexing, preprocessing, parsing.
    Parse,
    /// Pass 2: resolution, alias expansion, type checking.
    Elaborate,
}

impl Pass {
    /// stap's pass number.
    pub fn number(self) -> u8 {
        match self {
            Pass::Parse => 1,
            Pass::Elaborate => 2,
        }
    }

    /// stap's prefix for an error of this pass.
    pub fn error_prefix(self) -> &'static str {
        match self {
            Pass::Parse => "parse error",
            Pass::Elaborate => "semantic error",
        }
    }

    /// stap's last line when the pass fails (without the trailing newline).
    pub fn failure_line(self) -> &'static str {
        match self {
            Pass::Parse => "Pass 1: parse failed.  [man error::pass1]",
            Pass::Elaborate => "Pass 2: analysis failed.  [man error::pass2]",
        }
    }
}

/// A secondary location with its own message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Label {
    pub span: Span,
    pub message: String,
}

/// One error or warning.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    pub pass: Pass,
    /// The headline, in stap's words where stap has words for it.
    pub message: String,
    /// Where it happened; `None` for whole-program conditions (`no probes found`).
    pub span: Option<Span>,
    /// Text attached to the primary location (ariadne prints it at the caret).
    pub label: Option<String>,
    /// Other places that explain the problem (the first inferred type, the first definition).
    pub secondary: Vec<Label>,
    pub notes: Vec<String>,
    /// What to do about it: `did you mean 'strlen'?`.
    pub help: Option<String>,
}

impl Diagnostic {
    pub fn error(pass: Pass, message: impl Into<String>) -> Diagnostic {
        Diagnostic::new(Severity::Error, pass, message)
    }

    pub fn warning(pass: Pass, message: impl Into<String>) -> Diagnostic {
        Diagnostic::new(Severity::Warning, pass, message)
    }

    fn new(severity: Severity, pass: Pass, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity,
            pass,
            message: message.into(),
            span: None,
            label: None,
            secondary: Vec::new(),
            notes: Vec::new(),
            help: None,
        }
    }

    pub fn at(mut self, span: Span) -> Diagnostic {
        self.span = Some(span);
        self
    }

    pub fn with_label(mut self, label: impl Into<String>) -> Diagnostic {
        self.label = Some(label.into());
        self
    }

    pub fn with_secondary(mut self, span: Span, message: impl Into<String>) -> Diagnostic {
        self.secondary.push(Label {
            span,
            message: message.into(),
        });
        self
    }

    pub fn with_note(mut self, note: impl Into<String>) -> Diagnostic {
        self.notes.push(note.into());
        self
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Diagnostic {
        self.help = Some(help.into());
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// A one-line form without source excerpt: `parse error: expected ')' at f.stp:1:5`.
    /// For logs and tests; the binary renders the full form.
    pub fn headline(&self, sources: &SourceMap) -> String {
        let prefix = match self.severity {
            Severity::Error => self.pass.error_prefix(),
            Severity::Warning => "WARNING",
        };
        match self.span {
            Some(span) => format!("{prefix}: {} at {}", self.message, sources.location(span)),
            None => format!("{prefix}: {}", self.message),
        }
    }
}

/// Whether any of the diagnostics is an error.
pub fn has_errors(diagnostics: &[Diagnostic]) -> bool {
    diagnostics.iter().any(Diagnostic::is_error)
}

/// Counts errors of a list of diagnostics.
pub fn error_count(diagnostics: &[Diagnostic]) -> usize {
    diagnostics.iter().filter(|d| d.is_error()).count()
}

/// A "did you mean" suggestion: the candidate closest to `name` by edit distance, if it is
/// close enough to be a plausible typo (at most a third of the name's length, at least 1).
pub fn suggest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let limit = (name.chars().count() / 3).max(1);
    candidates
        .into_iter()
        .filter(|c| *c != name)
        .map(|c| (edit_distance(name, c), c))
        .filter(|&(d, _)| d <= limit)
        .min_by(|a, b| a.0.cmp(&b.0).then(a.1.cmp(b.1)))
        .map(|(_, c)| c)
}

/// Edit distance with adjacent transpositions counted as one edit (optimal string
/// alignment), so `exti` is one typo away from `exit`.
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let width = b.len() + 1;
    let mut d = vec![0usize; (a.len() + 1) * width];
    for i in 0..=a.len() {
        d[i * width] = i;
    }
    for (j, cell) in d.iter_mut().enumerate().take(width) {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[(i - 1) * width + j] + 1)
                .min(d[i * width + j - 1] + 1)
                .min(d[(i - 1) * width + j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[(i - 2) * width + j - 2] + 1);
            }
            d[i * width + j] = best;
        }
    }
    d[a.len() * width + b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edit_distances_by_hand() {
        assert_eq!(edit_distance("strlen", "strlen"), 0);
        assert_eq!(edit_distance("strlenn", "strlen"), 1);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("exti", "exit"), 1);
    }

    #[test]
    fn suggestions_only_for_plausible_typos() {
        let names = ["strlen", "substr", "exit", "printf"];
        assert_eq!(suggest("strlenn", names), Some("strlen"));
        assert_eq!(suggest("exti", names), Some("exit"));
        assert_eq!(suggest("completely_different", names), None);
        assert_eq!(suggest("strlen", names), None);
    }
}
