//! Text → tokens.
//!
//! Lexing never fails: bytes no rule accepts become [`TokenKind::Junk`] tokens, an unclosed
//! string or embedded block becomes an error token, and the consumer (preprocessor or parser)
//! reports them when it meets them — so junk inside a preprocessor branch that is skipped is
//! harmless, as in stap.

use logos::Logos;

use crate::diagnostic::{Diagnostic, Pass};
use crate::source::{FileId, SourceMap, Span};
use crate::token::{Token, TokenKind};

/// The tokens of one file (trivia dropped) plus lexer warnings.
#[derive(Debug, Default)]
pub struct Lexed {
    pub tokens: Vec<Token>,
    pub warnings: Vec<Diagnostic>,
}

pub fn lex(sources: &SourceMap, file: FileId) -> Lexed {
    let text = &sources.file(file).text;
    let mut out = Lexed {
        tokens: Vec::with_capacity(text.len() / 4),
        warnings: Vec::new(),
    };
    let mut lexer = TokenKind::lexer(text);
    let mut space_before = false;
    while let Some(result) = lexer.next() {
        let kind = result.unwrap_or(TokenKind::Junk);
        let span = Span::new(file, lexer.span());
        if kind.is_trivia() {
            space_before = true;
            continue;
        }
        if kind == TokenKind::Embedded && lexer.slice().contains("}%") {
            out.warnings.push(
                Diagnostic::warning(Pass::Parse, "possible erroneous closing '}%', use '%}'?")
                    .at(span),
            );
        }
        out.tokens.push(Token {
            kind,
            span,
            space_before,
            expansion: None,
        });
        space_before = false;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::FileKind;
    use TokenKind::*;

    fn kinds_and_texts(text: &str) -> Vec<(TokenKind, String)> {
        let mut sources = SourceMap::new();
        let id = sources.add("t.stp", None, FileKind::User, text.to_string());
        lex(&sources, id)
            .tokens
            .iter()
            .map(|t| (t.kind, sources.text(t.span).to_string()))
            .collect()
    }

    fn kinds(text: &str) -> Vec<TokenKind> {
        kinds_and_texts(text).into_iter().map(|(k, _)| k).collect()
    }

    #[test]
    fn comments_of_three_styles_and_shebang() {
        assert_eq!(kinds("#! stap -p1\n# x\n// y\n/* z\n */ a"), vec![Ident]);
        // `$#` and `@#` are argument counts, not comments.
        assert_eq!(kinds("$# @# #c"), vec![ArgRef, ArgRef]);
        // An unterminated block comment swallows the rest of the file (stap does the same).
        assert_eq!(kinds("a /* b"), vec![Ident]);
    }

    #[test]
    fn identifiers_targets_and_at_words() {
        assert_eq!(
            kinds_and_texts("x_1 $var $$vars $ @cast @define @ a$b"),
            vec![
                (Ident, "x_1".into()),
                (Ident, "$var".into()),
                (Ident, "$$vars".into()),
                (Ident, "$".into()),
                (AtWord, "@cast".into()),
                (AtWord, "@define".into()),
                (AtWord, "@".into()),
                (Ident, "a$b".into()),
            ]
        );
        assert_eq!(kinds("$1 @12 $1abc"), vec![ArgRef, ArgRef, ArgRef, Ident]);
    }

    #[test]
    fn keywords_are_not_identifier_prefixes() {
        assert_eq!(
            kinds("probe probes in int foreach_x"),
            vec![Probe, Ident, In, Ident, Ident]
        );
        assert_eq!(
            kinds("string long try catch private"),
            vec![KwString, KwLong, Try, Catch, Private]
        );
    }

    #[test]
    fn numbers_take_trailing_letters_for_the_parser_to_reject() {
        assert_eq!(
            kinds_and_texts("0x1F 017 12abc 1_0"),
            vec![
                (Number, "0x1F".into()),
                (Number, "017".into()),
                (Number, "12abc".into()),
                (Number, "1".into()),
                (Ident, "_0".into()),
            ]
        );
    }

    #[test]
    fn strings_escapes_and_unclosed() {
        assert_eq!(
            kinds_and_texts(r#""a\"b" "c""#),
            vec![(Str, r#""a\"b""#.into()), (Str, r#""c""#.into())]
        );
        assert_eq!(
            kinds_and_texts("\"abc\nx"),
            vec![(UnclosedString, "\"abc".into()), (Ident, "x".into())]
        );
        // A backslash takes the next character, even a newline.
        assert_eq!(kinds("\"a\\\nb\""), vec![Str]);
    }

    #[test]
    fn embedded_code_is_one_token() {
        assert_eq!(
            kinds_and_texts("%{ int x; } %}"),
            vec![(Embedded, "%{ int x; } %}".into())]
        );
        assert_eq!(kinds("%{ never closed"), vec![UnclosedEmbedded]);
    }

    #[test]
    fn operators_by_longest_match() {
        assert_eq!(
            kinds("<<< >>> <<= >>= << >> < <= -> -- - %( %? %: %) % %= .= . =~ !~ ! != = =="),
            vec![
                StatAdd,
                UShr,
                ShlAssign,
                ShrAssign,
                Shl,
                Shr,
                Lt,
                LtEq,
                Arrow,
                MinusMinus,
                Minus,
                PpOpen,
                PpThen,
                PpElse,
                PpClose,
                Percent,
                PercentAssign,
                DotAssign,
                Dot,
                RegexMatch,
                RegexNoMatch,
                Bang,
                NotEq,
                Assign,
                EqEq
            ]
        );
        assert_eq!(kinds("a<<<1"), vec![Ident, StatAdd, Number]);
        assert_eq!(kinds("` ' \\"), vec![OtherPunct, OtherPunct, OtherPunct]);
    }

    #[test]
    fn junk_bytes_become_tokens() {
        assert_eq!(kinds("a \u{1} é b"), vec![Ident, Junk, Junk, Ident]);
    }

    #[test]
    fn adjacency_is_recorded() {
        let mut sources = SourceMap::new();
        let id = sources.add(
            "t.stp",
            None,
            FileKind::User,
            "sys*read a /**/b".to_string(),
        );
        let spaced: Vec<bool> = lex(&sources, id)
            .tokens
            .iter()
            .map(|t| t.space_before)
            .collect();
        assert_eq!(spaced, vec![false, false, false, true, true]);
    }

    #[test]
    fn closing_typo_warns() {
        let mut sources = SourceMap::new();
        let id = sources.add("t.stp", None, FileKind::User, "%{ x }% %}".to_string());
        let lexed = lex(&sources, id);
        assert_eq!(lexed.warnings.len(), 1);
        assert_eq!(
            lexed.warnings[0].message,
            "possible erroneous closing '}%', use '%}'?"
        );
    }
}
