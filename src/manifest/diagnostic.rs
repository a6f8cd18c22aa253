//! Problems found in a user's input, rendered the way cargo and rustc render them:
//! `file:line:column`, the offending line with a caret, what was expected and a hint.

use crate::manifest::yaml::Position;
use std::fmt::Write as _;

/// How bad a problem is: errors stop the command, warnings are shown and the command goes on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Error,
    Warning,
}

/// One problem in an input file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    pub message: String,
    /// Where it is; `None` for problems of the file as a whole.
    pub position: Option<Position>,
    /// What was expected there.
    pub expected: Option<String>,
    /// What to do about it.
    pub hint: Option<String>,
    /// The offending line may hold a secret: show it with its value redacted.
    pub secret: bool,
}

impl Diagnostic {
    /// An error at a position.
    pub fn error(position: Option<Position>, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Error,
            message: message.into(),
            position,
            expected: None,
            hint: None,
            secret: false,
        }
    }

    /// Marks the offending line as holding a secret value.
    pub fn secret(mut self) -> Self {
        self.secret = true;
        self
    }

    /// A warning at a position.
    pub fn warning(position: Option<Position>, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(position, message)
        }
    }

    /// Adds what was expected.
    pub fn expected(mut self, expected: impl Into<String>) -> Self {
        self.expected = Some(expected.into());
        self
    }

    /// Adds a hint.
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// Adds a "did you mean" hint when `input` is close to one of `candidates`.
    pub fn suggest<'a>(self, input: &str, candidates: impl IntoIterator<Item = &'a str>) -> Self {
        let hint = did_you_mean(input, candidates).map(|s| format!("did you mean `{s}`?"));
        self.maybe_hint(hint)
    }

    /// Adds a hint only when there is one.
    pub fn maybe_hint(mut self, hint: Option<String>) -> Self {
        self.hint = hint;
        self
    }
}

/// The text a set of diagnostics points into.
pub struct Source<'a> {
    pub path: &'a str,
    pub text: &'a str,
}

/// Renders diagnostics, errors first, each followed by a blank line.
/// Problems shown in full; past these, a count (a hostile manifest may hold hundreds of
/// thousands of them, and nobody reads past the first screens).
pub const MAX_SHOWN: usize = 100;

pub fn render(diagnostics: &[Diagnostic], source: &Source<'_>, color: bool) -> String {
    let mut sorted: Vec<&Diagnostic> = diagnostics.iter().collect();
    sorted.sort_by_key(|d| {
        (
            d.severity,
            d.position.map(|p| (p.line, p.column)).unwrap_or_default(),
        )
    });
    let lines: Vec<&str> = source.text.lines().collect();
    let paint = |code: &str, text: &str| {
        if color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    };
    let mut out = String::new();
    let hidden = sorted.len().saturating_sub(MAX_SHOWN);
    for diagnostic in sorted.into_iter().take(MAX_SHOWN) {
        let label = match diagnostic.severity {
            Severity::Error => paint("1;31", "error"),
            Severity::Warning => paint("1;33", "warning"),
        };
        let _ = writeln!(out, "{label}: {}", diagnostic.message);
        match diagnostic.position {
            Some(position) => {
                let gutter = position.line.to_string().len();
                let pad = " ".repeat(gutter);
                let _ = writeln!(
                    out,
                    "{pad}--> {}:{}:{}",
                    source.path, position.line, position.column
                );
                let _ = writeln!(out, "{pad} |");
                if let Some(line) = lines.get(position.line.saturating_sub(1)) {
                    let start = position.column.saturating_sub(1);
                    let shown = if diagnostic.secret {
                        let chars: Vec<char> = line.chars().collect();
                        let before: String = chars.iter().take(start).collect();
                        let after: String = chars.iter().skip(start + position.width).collect();
                        format!("{before}[redacted]{after}")
                    } else if line.len() > 300 {
                        // A huge line (a hostile or generated manifest) is shown cut.
                        let cut: String = line.chars().take(200).collect();
                        format!("{cut}… ({} more characters)", line.chars().count() - 200)
                    } else {
                        line.to_string()
                    };
                    let _ = writeln!(out, "{} | {shown}", position.line);
                    let indent = " ".repeat(start);
                    let width = if diagnostic.secret {
                        "[redacted]".len()
                    } else {
                        position.width
                    };
                    let carets = "^".repeat(width.clamp(1, 80));
                    let _ = writeln!(out, "{pad} | {indent}{}", paint("1;31", &carets));
                }
                if let Some(expected) = &diagnostic.expected {
                    let _ = writeln!(out, "{pad} = expected: {expected}");
                }
                if let Some(hint) = &diagnostic.hint {
                    let _ = writeln!(out, "{pad} = hint: {hint}");
                }
            }
            None => {
                let _ = writeln!(out, "  --> {}", source.path);
                if let Some(expected) = &diagnostic.expected {
                    let _ = writeln!(out, "   = expected: {expected}");
                }
                if let Some(hint) = &diagnostic.hint {
                    let _ = writeln!(out, "   = hint: {hint}");
                }
            }
        }
        out.push('\n');
    }
    if hidden > 0 {
        let _ = writeln!(
            out,
            "... and {hidden} more problem{} not shown (fix these first)\n",
            if hidden == 1 { "" } else { "s" }
        );
    }
    out
}

/// The candidate closest to `input` by edit distance, if it is close enough to be a likely typo.
pub fn did_you_mean<'a>(
    input: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let lowered = input.to_ascii_lowercase();
    let candidates: Vec<&'a str> = candidates.into_iter().collect();
    if lowered.len() >= 4
        && let Some(prefixed) = candidates
            .iter()
            .find(|c| c.to_ascii_lowercase().starts_with(&lowered))
    {
        return Some(prefixed);
    }
    candidates
        .into_iter()
        .map(|candidate| {
            (
                edit_distance(&lowered, &candidate.to_ascii_lowercase()),
                candidate,
            )
        })
        .filter(|(distance, candidate)| *distance <= (candidate.len() / 3).max(2))
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, candidate)| candidate)
}

/// Levenshtein distance between two strings, by characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != *cb);
            current[j + 1] = substitution.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        previous = current;
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_names_only() {
        let names = ["EKS_AUDIT_LOGS", "S3_DATA_EVENTS"];
        assert_eq!(did_you_mean("EKS_AUDIT_LOG", names), Some("EKS_AUDIT_LOGS"));
        assert_eq!(
            did_you_mean("eks_audit_logs", names),
            Some("EKS_AUDIT_LOGS")
        );
        assert_eq!(did_you_mean("COMPLETELY_ELSE", names), None);
    }

    #[test]
    fn renders_file_line_column_snippet_and_hint() {
        let text = "version: 1\nfoo: bar\n";
        let diagnostic = Diagnostic::error(
            Some(Position {
                line: 2,
                column: 1,
                width: 3,
            }),
            "unknown key `foo`",
        )
        .expected("one of: version")
        .hint("remove it");
        let out = render(
            &[diagnostic],
            &Source {
                path: "m.yaml",
                text,
            },
            false,
        );
        assert_eq!(
            out,
            "error: unknown key `foo`\n --> m.yaml:2:1\n  |\n2 | foo: bar\n  | ^^^\n  = expected: one of: version\n  = hint: remove it\n\n"
        );
    }
}
