//! Probe-point patterns: shell wildcards (`* ? [..]`, fnmatch(3) without `FNM_PATHNAME`, as
//! stap matches function names) and the `func[@file[:line|:N-M|:*|+off]]` spec of
//! `.function("…")` and `.statement("…")`.

use super::error::{DebugInfoError, Result};

/// A wildcard pattern, pre-checked so matching cannot fail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Glob {
    text: String,
    literal: bool,
}

impl Glob {
    pub fn new(text: &str) -> Glob {
        Glob {
            text: text.to_owned(),
            literal: !text.contains(['*', '?', '[', '\\']),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// True when the pattern has no wildcard (matches exactly one name).
    pub fn is_literal(&self) -> bool {
        self.literal
    }

    pub fn matches(&self, name: &str) -> bool {
        if self.literal {
            return self.text == name;
        }
        fnmatch(self.text.as_bytes(), name.as_bytes())
    }
}

/// fnmatch(3) with flags 0: `*` and `?` match any character including `/`; `[...]` sets with
/// ranges and `!`/`^` negation; `\` quotes the next character.
fn fnmatch(pat: &[u8], s: &[u8]) -> bool {
    // Iterative with one backtrack point for the last `*` (linear in practice).
    let (mut p, mut i) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while i < s.len() {
        let step = match pat.get(p) {
            Some(b'*') => {
                star = Some((p, i));
                p += 1;
                continue;
            }
            Some(b'?') => Some(p + 1),
            Some(b'[') => match bracket(&pat[p..], s[i]) {
                Some((true, len)) => Some(p + len),
                Some((false, _)) => None,
                None => (s[i] == b'[').then_some(p + 1), // unterminated: a literal '['
            },
            Some(b'\\') if p + 1 < pat.len() => (pat[p + 1] == s[i]).then_some(p + 2),
            Some(&c) => (c == s[i]).then_some(p + 1),
            None => None,
        };
        match step {
            Some(np) => {
                p = np;
                i += 1;
            }
            None => match star {
                Some((sp, si)) => {
                    p = sp + 1;
                    i = si + 1;
                    star = Some((sp, si + 1));
                }
                None => return false,
            },
        }
    }
    pat[p..].iter().all(|&c| c == b'*')
}

/// Matches `c` against the set at the start of `pat` (`[...]`); returns (matched, length of
/// the set in the pattern), or `None` when the set is not terminated.
fn bracket(pat: &[u8], c: u8) -> Option<(bool, usize)> {
    let mut j = 1;
    let negate = matches!(pat.get(j), Some(b'!' | b'^'));
    if negate {
        j += 1;
    }
    let mut matched = false;
    let mut first = true;
    loop {
        let lo = *pat.get(j)?;
        if lo == b']' && !first {
            return Some((matched != negate, j + 1));
        }
        first = false;
        if pat.get(j + 1) == Some(&b'-') && pat.get(j + 2).is_some_and(|&h| h != b']') {
            let hi = pat[j + 2];
            matched |= lo <= c && c <= hi;
            j += 3;
        } else {
            matched |= lo == c;
            j += 1;
        }
    }
}

/// The line part of a spec.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineSpec {
    /// `:N`
    Exact(u64),
    /// `:N-M`
    Range(u64, u64),
    /// `:*`
    Any,
    /// `+N`: N lines after the function's declaration line.
    Relative(u64),
}

/// `func[@file[:line…]]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionSpec {
    pub function: Glob,
    pub file: Option<Glob>,
    pub line: Option<LineSpec>,
}

impl FunctionSpec {
    pub fn parse(text: &str) -> Result<FunctionSpec> {
        let bad = |reason: &str| DebugInfoError::BadPattern {
            pattern: text.to_owned(),
            reason: reason.to_owned(),
        };
        let (function, rest) = match text.split_once('@') {
            Some((f, rest)) => (f, Some(rest)),
            None => (text, None),
        };
        let function = Glob::new(if function.is_empty() { "*" } else { function });
        let Some(rest) = rest else {
            if text.contains([':', '+']) {
                return Err(bad("a line number needs a file: use func@file:line"));
            }
            return Ok(FunctionSpec {
                function,
                file: None,
                line: None,
            });
        };
        // The line part starts at the last ':' or '+' whose tail is a line form.
        let split = rest.rfind([':', '+']);
        let (file, line) = match split {
            Some(i) => {
                let tail = &rest[i + 1..];
                let num = |s: &str| s.parse::<u64>().map_err(|_| bad("bad line number"));
                let line = if rest.as_bytes()[i] == b'+' {
                    LineSpec::Relative(num(tail)?)
                } else if tail == "*" {
                    LineSpec::Any
                } else if let Some((a, b)) = tail.split_once('-') {
                    let (a, b) = (num(a)?, num(b)?);
                    if a > b {
                        return Err(bad("line range is reversed"));
                    }
                    LineSpec::Range(a, b)
                } else {
                    LineSpec::Exact(num(tail)?)
                };
                (&rest[..i], Some(line))
            }
            None => (rest, None),
        };
        if file.is_empty() {
            return Err(bad("empty file name after '@'"));
        }
        Ok(FunctionSpec {
            function,
            file: Some(Glob::new(file)),
            line,
        })
    }

    /// Whether `path` (a DWARF file name, usually absolute) matches the file part: the whole
    /// path, or — for a relative pattern — any tail of it after a `/` (stap matches
    /// `func@t.c` against `/tmp/t.c`).
    pub fn file_matches(&self, path: &str) -> bool {
        self.file
            .as_ref()
            .is_none_or(|glob| path_matches(glob, path))
    }
}

/// Whether a file pattern matches `path`: the whole path, or — for a relative pattern — any
/// tail of it after a `/`.
pub fn path_matches(glob: &Glob, path: &str) -> bool {
    glob.matches(path)
        || (!glob.as_str().starts_with('/')
            && path
                .match_indices('/')
                .any(|(i, _)| glob.matches(&path[i + 1..])))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnmatch_agrees_with_libc_on_these_cases() {
        // Expected values are fnmatch(3)'s with flags 0 (glibc).
        let cases = [
            ("*", "", true),
            ("*", "a/b", true),
            ("ma*", "main", true),
            ("ma?n", "main", true),
            ("ma?n", "man", false),
            ("[a-c]dd", "add", true),
            ("[!a-c]dd", "add", false),
            ("[]]x", "]x", true),
            ("*_*_*", "a_b_c", true),
            ("*_*_*", "a_bc", false),
            ("f\\*", "f*", true),
            ("f\\*", "fx", false),
            ("[ab", "[ab", true),
            ("*a*a*a", "aaaaaaaaaaaaaaaaaaaaaab", false),
        ];
        for (pat, s, want) in cases {
            assert_eq!(Glob::new(pat).matches(s), want, "{pat} vs {s}");
        }
    }

    #[test]
    fn function_specs_parse_every_form() {
        let f = FunctionSpec::parse("main@t.c:12").unwrap();
        assert_eq!(
            (f.function.as_str(), f.file.unwrap().as_str(), f.line),
            ("main", "t.c", Some(LineSpec::Exact(12)))
        );
        assert_eq!(
            FunctionSpec::parse("*@t.c:4-9").unwrap().line,
            Some(LineSpec::Range(4, 9))
        );
        assert_eq!(
            FunctionSpec::parse("f@t.c+2").unwrap().line,
            Some(LineSpec::Relative(2))
        );
        assert_eq!(
            FunctionSpec::parse("@a/b.c:*").unwrap().line,
            Some(LineSpec::Any)
        );
        assert_eq!(
            FunctionSpec::parse("@a/b.c:*").unwrap().function.as_str(),
            "*"
        );
        assert!(FunctionSpec::parse("f@t.c:x").is_err());
        assert!(FunctionSpec::parse("f@t.c:9-3").is_err());
        assert!(FunctionSpec::parse("f:3").is_err());
        assert!(FunctionSpec::parse("f@").is_err());
    }

    #[test]
    fn relative_file_patterns_match_path_tails() {
        let f = FunctionSpec::parse("f@t.c").unwrap();
        assert!(f.file_matches("/tmp/t.c"));
        assert!(f.file_matches("t.c"));
        assert!(!f.file_matches("/tmp/st.c"));
        let g = FunctionSpec::parse("f@*/x/*.c").unwrap();
        assert!(g.file_matches("/a/x/y.c"));
    }
}
