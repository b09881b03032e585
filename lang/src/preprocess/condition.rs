//! Evaluation of one `%( LHS OP RHS …` term (parse.cxx `eval_pp_conditional`), with glibc's
//! `strverscmp` and `fnmatch` (FNM_NOESCAPE) semantics, which stap uses for versions and
//! wildcard patterns.

use std::cmp::Ordering;

use crate::target::Target;

/// A condition operand as the preprocessor sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Operand {
    Ident(String),
    Str(String),
    Number(i64),
    /// Anything else (reported as the error stap gives).
    Other,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CompareOp {
    Lt,
    Le,
    Eq,
    Ne,
    Gt,
    Ge,
}

impl CompareOp {
    fn holds(self, ordering: Ordering) -> bool {
        match self {
            CompareOp::Lt => ordering.is_lt(),
            CompareOp::Le => ordering.is_le(),
            CompareOp::Eq => ordering.is_eq(),
            CompareOp::Ne => ordering.is_ne(),
            CompareOp::Gt => ordering.is_gt(),
            CompareOp::Ge => ordering.is_ge(),
        }
    }

    fn is_equality(self) -> bool {
        matches!(self, CompareOp::Eq | CompareOp::Ne)
    }
}

/// Which operand a condition error is about (for the error's location).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Culprit {
    Left,
    Op,
    Right,
}

/// A failed term: stap's message and the token it points at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConditionError {
    pub message: &'static str,
    pub culprit: Culprit,
}

fn fail(message: &'static str, culprit: Culprit) -> Result<bool, ConditionError> {
    Err(ConditionError { message, culprit })
}

/// Evaluates `lhs op rhs`; `op` is `None` when the middle token is not a comparison operator.
pub fn evaluate(
    target: &Target,
    lhs: &Operand,
    op: Option<CompareOp>,
    rhs: &Operand,
) -> Result<bool, ConditionError> {
    use Culprit::*;
    let equality_only = |op: Option<CompareOp>| match op {
        Some(op) if op.is_equality() => Ok(op),
        _ => Err(ConditionError {
            message: "expected '==' or '!='",
            culprit: Op,
        }),
    };
    match lhs {
        Operand::Ident(name)
            if matches!(name.as_str(), "kernel_v" | "kernel_vr" | "systemtap_v") =>
        {
            let Operand::Str(query) = rhs else {
                return fail("expected string literal", Right);
            };
            let Some(op) = op else {
                return fail("expected comparison operator", Op);
            };
            let actual = match name.as_str() {
                "kernel_v" => target.kernel_version(),
                "kernel_vr" => target.kernel_release.as_str(),
                _ => target.compatible.as_str(),
            };
            if query.contains(['*', '?', '[']) {
                if !op.is_equality() {
                    return fail("wildcard not allowed with order comparison operators", Op);
                }
                return Ok(fnmatch(query.as_bytes(), actual.as_bytes()) == (op == CompareOp::Eq));
            }
            Ok(op.holds(strverscmp(actual.as_bytes(), query.as_bytes())))
        }
        Operand::Ident(name) if name == "systemtap_privilege" => {
            let Operand::Str(query) = rhs else {
                return fail("expected string literal", Right);
            };
            let op = equality_only(op)?;
            Ok((target.privilege == *query) == (op == CompareOp::Eq))
        }
        Operand::Ident(name) if name == "guru_mode" => {
            let Operand::Number(query) = *rhs else {
                return fail("expected number", Right);
            };
            if query != 0 && query != 1 {
                return fail("expected 0 or 1", Op);
            }
            let op = equality_only(op)?;
            Ok(op.holds(i64::from(target.guru_mode).cmp(&query)))
        }
        Operand::Ident(name) if name == "arch" || name == "runtime" => {
            let Operand::Str(query) = rhs else {
                return fail("expected string literal", Right);
            };
            let op = equality_only(op)?;
            let actual = if name == "arch" {
                &target.arch
            } else {
                &target.runtime
            };
            Ok(fnmatch(query.as_bytes(), actual.as_bytes()) == (op == CompareOp::Eq))
        }
        Operand::Ident(name) if name.starts_with("CONFIG_") => {
            let value = target.kernel_config.get(name);
            match rhs {
                Operand::Str(query) => {
                    let op = equality_only(op)?;
                    Ok(fnmatch(query.as_bytes(), value.as_bytes()) == (op == CompareOp::Eq))
                }
                Operand::Number(query) => {
                    let Some(number) = parse_c_integer(value) else {
                        return fail("Config option value not a number", Left);
                    };
                    let Some(op) = op else {
                        return fail("expected comparison operator", Op);
                    };
                    Ok(op.holds(number.cmp(query)))
                }
                Operand::Ident(other) if other.starts_with("CONFIG_") => {
                    let Some(op) = op else {
                        return fail("expected comparison operator", Op);
                    };
                    let other_value = target.kernel_config.get(other);
                    // Numbers when both are numbers, else strings (parse.cxx does the same).
                    Ok(
                        match (parse_c_integer(value), parse_c_integer(other_value)) {
                            (Some(a), Some(b)) => op.holds(a.cmp(&b)),
                            _ => op.holds(value.cmp(other_value)),
                        },
                    )
                }
                _ => fail(
                    "expected string, number literal or other CONFIG_... as right side operand",
                    Right,
                ),
            }
        }
        Operand::Str(left) => match rhs {
            Operand::Str(right) => {
                let Some(op) = op else {
                    return fail("expected comparison operator", Op);
                };
                Ok(op.holds(left.cmp(right)))
            }
            Operand::Number(_) if op.is_some() => {
                fail("expected string literal as right value", Right)
            }
            _ => fail(UNKNOWN_CONDITION, Left),
        },
        Operand::Number(left) => match rhs {
            Operand::Number(right) => {
                let Some(op) = op else {
                    return fail("expected comparison operator", Op);
                };
                Ok(op.holds(left.cmp(right)))
            }
            Operand::Str(_) if op.is_some() => {
                fail("expected number literal as right value", Right)
            }
            _ => fail(UNKNOWN_CONDITION, Left),
        },
        _ => fail(UNKNOWN_CONDITION, Left),
    }
}

pub const UNKNOWN_CONDITION: &str = "expected 'arch', 'kernel_v', 'kernel_vr', 'systemtap_v', 'runtime', \
     'systemtap_privilege', 'CONFIG_...', or comparison between strings or integers";

/// `strtoll(s, &end, 0)` that must consume the whole (non-empty) string.
fn parse_c_integer(text: &str) -> Option<i64> {
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let magnitude = crate::literal::parse_c_unsigned(digits)?;
    let value = if negative {
        (magnitude as i128).wrapping_neg()
    } else {
        magnitude as i128
    };
    i64::try_from(value).ok()
}

/// glibc `strverscmp`: like `strcmp`, but digit runs compare as numbers, and runs with leading
/// zeros as fractional parts (`"1.010" < "1.09"`, `"1.9" < "1.10"`).
pub fn strverscmp(a: &[u8], b: &[u8]) -> Ordering {
    // The state machine of glibc's string/strverscmp.c.
    const S_N: usize = 0;
    const S_I: usize = 3;
    const S_F: usize = 6;
    const S_Z: usize = 9;
    const CMP: i8 = 2;
    const LEN: i8 = 3;
    const NEXT_STATE: [usize; 12] = [S_N, S_I, S_Z, S_N, S_I, S_I, S_N, S_F, S_F, S_N, S_F, S_Z];
    #[rustfmt::skip]
    const RESULT_TYPE: [i8; 36] = [
        CMP, CMP, CMP, CMP, LEN, CMP, CMP, CMP, CMP,
        CMP, -1, -1, 1, LEN, LEN, 1, LEN, LEN,
        CMP, CMP, CMP, CMP, CMP, CMP, CMP, CMP, CMP,
        CMP, 1, 1, -1, CMP, CMP, -1, CMP, CMP,
    ];
    let at = |s: &[u8], i: usize| s.get(i).copied().unwrap_or(0);
    let class = |c: u8| usize::from(c == b'0') + usize::from(c.is_ascii_digit());
    if a == b {
        return Ordering::Equal;
    }
    let (mut i, mut c1, mut c2) = (0, at(a, 0), at(b, 0));
    let mut state = S_N + class(c1);
    while c1 == c2 {
        if c1 == 0 {
            return Ordering::Equal;
        }
        state = NEXT_STATE[state];
        i += 1;
        c1 = at(a, i);
        c2 = at(b, i);
        state += class(c1);
    }
    let diff = (c1 as i32 - c2 as i32).cmp(&0);
    match RESULT_TYPE[state * 3 + class(c2)] {
        CMP => diff,
        LEN => {
            // The longer digit run is the larger number.
            let mut j = i + 1;
            while at(a, j).is_ascii_digit() {
                if !at(b, j).is_ascii_digit() {
                    return Ordering::Greater;
                }
                j += 1;
            }
            if at(b, j).is_ascii_digit() {
                Ordering::Less
            } else {
                diff
            }
        }
        fixed => fixed.cmp(&0),
    }
}

/// POSIX `fnmatch(pattern, text, FNM_NOESCAPE)`: `*`, `?` and bracket expressions
/// (`[abc]`, `[a-z]`, `[!x]`/`[^x]`, `[[:digit:]]`); a `[` without a closing `]` is literal.
pub fn fnmatch(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0, 0);
    // Where to resume after the last `*`: (pattern index after it, text index it now covers).
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        let step = match pattern.get(p) {
            Some(b'*') => {
                star = Some((p + 1, t));
                p += 1;
                continue;
            }
            Some(b'?') => Some(p + 1),
            Some(b'[') => match bracket(&pattern[p..], text[t]) {
                Some((matched, len)) => matched.then_some(p + len),
                None => (text[t] == b'[').then_some(p + 1),
            },
            Some(&c) => (c == text[t]).then_some(p + 1),
            None => None,
        };
        match (step, star) {
            (Some(next), _) => {
                p = next;
                t += 1;
            }
            (None, Some((after_star, covered))) => {
                p = after_star;
                t = covered + 1;
                star = Some((after_star, covered + 1));
            }
            (None, None) => return false,
        }
    }
    pattern[p..].iter().all(|&c| c == b'*')
}

/// Matches one character against the bracket expression at the start of `pattern`; returns
/// whether it matched and the expression's length, or `None` if it is not closed.
fn bracket(pattern: &[u8], c: u8) -> Option<(bool, usize)> {
    let mut i = 1;
    let negated = matches!(pattern.get(i), Some(b'!' | b'^'));
    if negated {
        i += 1;
    }
    let mut matched = false;
    let mut first = true;
    loop {
        let start = *pattern.get(i)?;
        if start == b']' && !first {
            return Some((matched != negated, i + 1));
        }
        first = false;
        if start == b'['
            && pattern.get(i + 1) == Some(&b':')
            && let Some(len) = pattern[i + 2..].windows(2).position(|w| w == b":]")
        {
            matched |= char_class(&pattern[i + 2..i + 2 + len], c);
            i += len + 4;
            continue;
        }
        if pattern.get(i + 1) == Some(&b'-') && pattern.get(i + 2).is_some_and(|&end| end != b']') {
            let end = pattern[i + 2];
            matched |= (start..=end).contains(&c);
            i += 3;
        } else {
            matched |= start == c;
            i += 1;
        }
    }
}

fn char_class(name: &[u8], c: u8) -> bool {
    match name {
        b"alpha" => c.is_ascii_alphabetic(),
        b"digit" => c.is_ascii_digit(),
        b"alnum" => c.is_ascii_alphanumeric(),
        b"upper" => c.is_ascii_uppercase(),
        b"lower" => c.is_ascii_lowercase(),
        b"space" => c.is_ascii_whitespace() || c == 0x0b,
        b"xdigit" => c.is_ascii_hexdigit(),
        b"punct" => c.is_ascii_punctuation(),
        b"print" => c.is_ascii_graphic() || c == b' ',
        b"graph" => c.is_ascii_graphic(),
        b"cntrl" => c.is_ascii_control(),
        b"blank" => c == b' ' || c == b'\t',
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::target::KernelConfig;

    fn target() -> Target {
        Target {
            kernel_release: "6.1.0-13-amd64".into(),
            arch: "x86_64".into(),
            runtime: "dyninst".into(),
            compatible: "4.8".into(),
            privilege: "stapdev".into(),
            guru_mode: false,
            kernel_config: KernelConfig::fixed([
                ("CONFIG_HZ".to_string(), "250".to_string()),
                ("CONFIG_SMP".to_string(), "y".to_string()),
                ("CONFIG_NR_CPUS".to_string(), "0x40".to_string()),
            ]),
        }
    }

    // Expected orderings from glibc's strverscmp documentation and manual page examples.
    #[test]
    fn strverscmp_matches_glibc_examples() {
        use Ordering::*;
        let cmp = |a: &str, b: &str| strverscmp(a.as_bytes(), b.as_bytes());
        assert_eq!(cmp("no digit", "no digit"), Equal);
        assert_eq!(cmp("item#99", "item#100"), Less);
        assert_eq!(cmp("alpha1", "alpha001"), Greater);
        assert_eq!(cmp("part1_f012", "part1_f01"), Greater);
        assert_eq!(cmp("foo.009", "foo.0"), Less);
        assert_eq!(cmp("000", "00"), Less);
        assert_eq!(cmp("00", "01"), Less);
        assert_eq!(cmp("01", "010"), Less);
        assert_eq!(cmp("010", "09"), Less);
        assert_eq!(cmp("09", "0"), Less);
        assert_eq!(cmp("0", "1"), Less);
        assert_eq!(cmp("9", "10"), Less);
        assert_eq!(cmp("6.1.0", "5.15"), Greater);
        assert_eq!(cmp("4.8", "4.10"), Less);
        assert_eq!(cmp("2.6.32", "2.6.9"), Greater);
    }

    #[test]
    fn fnmatch_wildcards_and_brackets() {
        let m = |p: &str, t: &str| fnmatch(p.as_bytes(), t.as_bytes());
        assert!(m("x86*", "x86_64"));
        assert!(m("i?86", "i686"));
        assert!(!m("i?86", "x86_64"));
        assert!(m("*", ""));
        assert!(m("a*b*c", "aXbYbZc"));
        assert!(!m("a*b*c", "aXbYbZ"));
        assert!(m("[ax]86_64", "x86_64"));
        assert!(m("[!a]86_64", "x86_64"));
        assert!(m("[a-z]86*", "x86_64"));
        assert!(m("[[:alpha:]]86*", "x86_64"));
        assert!(m("a[b", "a[b"));
        assert!(m("[]]", "]"));
        assert!(!m("arm", "arm64"));
    }

    fn eval(l: Operand, op: CompareOp, r: Operand) -> Result<bool, ConditionError> {
        evaluate(&target(), &l, Some(op), &r)
    }

    #[test]
    fn predicates() {
        use CompareOp::*;
        use Operand::*;
        let id = |s: &str| Ident(s.to_string());
        let st = |s: &str| Str(s.to_string());
        assert_eq!(eval(id("kernel_v"), Ge, st("5.0")), Ok(true));
        assert_eq!(eval(id("kernel_v"), Eq, st("6.1.0")), Ok(true));
        assert_eq!(eval(id("kernel_vr"), Eq, st("6.1.0-*")), Ok(true));
        assert_eq!(
            eval(id("kernel_v"), Lt, st("6.*")),
            Err(ConditionError {
                message: "wildcard not allowed with order comparison operators",
                culprit: Culprit::Op
            })
        );
        assert_eq!(eval(id("arch"), Eq, st("x86_64")), Ok(true));
        assert_eq!(eval(id("arch"), Ne, st("arm*")), Ok(true));
        assert_eq!(eval(id("runtime"), Eq, st("dyninst")), Ok(true));
        assert_eq!(
            eval(id("runtime"), Lt, st("kernel")).unwrap_err().message,
            "expected '==' or '!='"
        );
        assert_eq!(eval(id("systemtap_v"), Ge, st("2.0")), Ok(true));
        assert_eq!(eval(id("systemtap_privilege"), Eq, st("stapdev")), Ok(true));
        assert_eq!(eval(id("guru_mode"), Eq, Number(0)), Ok(true));
        assert_eq!(
            eval(id("guru_mode"), Eq, Number(2)).unwrap_err().message,
            "expected 0 or 1"
        );
        assert_eq!(eval(id("CONFIG_SMP"), Eq, st("y")), Ok(true));
        assert_eq!(eval(id("CONFIG_NOPE"), Eq, st("")), Ok(true));
        assert_eq!(eval(id("CONFIG_HZ"), Ge, Number(100)), Ok(true));
        assert_eq!(eval(id("CONFIG_NR_CPUS"), Eq, Number(64)), Ok(true));
        assert_eq!(eval(id("CONFIG_HZ"), Gt, id("CONFIG_NR_CPUS")), Ok(true));
        assert_eq!(
            eval(id("CONFIG_SMP"), Eq, Number(1)).unwrap_err().message,
            "Config option value not a number"
        );
        assert_eq!(eval(st("a"), Lt, st("b")), Ok(true));
        assert_eq!(eval(Number(2), Gt, Number(1)), Ok(true));
        assert_eq!(
            eval(st("a"), Eq, Number(1)).unwrap_err().message,
            "expected string literal as right value"
        );
        assert_eq!(
            eval(id("foo"), Eq, st("x")).unwrap_err().message,
            UNKNOWN_CONDITION
        );
    }
}
