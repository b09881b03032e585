//! Token kinds (the logos lexer definition) and tokens with spans.
//!
//! The rules are stap's lexer (`parse.cxx` `lexer::scan`): `#`, `//` and `/* */` comments,
//! identifiers that may contain `$`, `@word` operators, numbers scanned as a digit followed by
//! letters and digits (validated by the parser, like stap's `strtoull` check), strings that
//! may not span lines, `%{ … %}` as one token, and operators by longest match.

use logos::{Lexer, Logos};

use crate::source::{SourceMap, Span};

/// What a token is. Trivia kinds never leave the lexer.
#[derive(Logos, Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TokenKind {
    // C `isspace`: space, \t, \n, \v, \f, \r.
    #[regex(r"[ \t\n\x0b\x0c\r]+")]
    Whitespace,
    #[regex(r"#[^\n]*", allow_greedy = true)]
    #[regex(r"//[^\n]*", allow_greedy = true)]
    LineComment,
    /// `/* … */`; an unterminated one runs to the end of the file, silently, as in stap.
    #[token("/*", block_comment)]
    BlockComment,

    #[regex(r"[A-Za-z_][A-Za-z0-9_$]*")]
    #[regex(r"\$([A-Za-z_$][A-Za-z0-9_$]*)?")]
    Ident,
    /// `@cast`, `@count`, `@define`, a macro name… (stap lexes these as operators).
    #[regex(r"@([A-Za-z_$][A-Za-z0-9_$]*)?")]
    AtWord,
    /// `$N`, `@N`, `$#`, `@#`: command-line arguments, replaced by the preprocessor.
    #[regex(r"[$@][0-9]+")]
    #[token("$#")]
    #[token("@#")]
    ArgRef,
    #[regex(r"[0-9][A-Za-z0-9]*")]
    Number,
    /// A string literal, quotes included; escapes are decoded by the parser.
    #[token("\"", string_literal)]
    Str,
    /// `%{ … %}`, delimiters included.
    #[token("%{", embedded_code)]
    Embedded,

    // Keywords (parse.cxx l.1465; `private` since 3.0).
    #[token("probe")]
    Probe,
    #[token("global")]
    Global,
    #[token("private")]
    Private,
    #[token("function")]
    Function,
    #[token("if")]
    If,
    #[token("else")]
    Else,
    #[token("for")]
    For,
    #[token("foreach")]
    Foreach,
    #[token("in")]
    In,
    #[token("limit")]
    Limit,
    #[token("return")]
    Return,
    #[token("delete")]
    Delete,
    #[token("while")]
    While,
    #[token("break")]
    Break,
    #[token("continue")]
    Continue,
    #[token("next")]
    Next,
    #[token("string")]
    KwString,
    #[token("long")]
    KwLong,
    #[token("try")]
    Try,
    #[token("catch")]
    Catch,

    // Three-character operators.
    #[token("<<<")]
    StatAdd,
    #[token(">>>")]
    UShr,
    #[token("<<=")]
    ShlAssign,
    #[token(">>=")]
    ShrAssign,
    // Two-character operators.
    #[token("==")]
    EqEq,
    #[token("!=")]
    NotEq,
    #[token("<=")]
    LtEq,
    #[token(">=")]
    GtEq,
    #[token("=~")]
    RegexMatch,
    #[token("!~")]
    RegexNoMatch,
    #[token("+=")]
    PlusAssign,
    #[token("-=")]
    MinusAssign,
    #[token("*=")]
    StarAssign,
    #[token("/=")]
    SlashAssign,
    #[token("%=")]
    PercentAssign,
    #[token("&=")]
    AmpAssign,
    #[token("^=")]
    CaretAssign,
    #[token("|=")]
    PipeAssign,
    #[token(".=")]
    DotAssign,
    #[token("&&")]
    AndAnd,
    #[token("||")]
    OrOr,
    #[token("++")]
    PlusPlus,
    #[token("--")]
    MinusMinus,
    #[token("->")]
    Arrow,
    #[token("<<")]
    Shl,
    #[token(">>")]
    Shr,
    #[token("%(")]
    PpOpen,
    #[token("%?")]
    PpThen,
    #[token("%:")]
    PpElse,
    #[token("%)")]
    PpClose,
    // One-character operators.
    #[token("+")]
    Plus,
    #[token("-")]
    Minus,
    #[token("*")]
    Star,
    #[token("/")]
    Slash,
    #[token("%")]
    Percent,
    #[token("&")]
    Amp,
    #[token("|")]
    Pipe,
    #[token("^")]
    Caret,
    #[token("~")]
    Tilde,
    #[token("!")]
    Bang,
    #[token("<")]
    Lt,
    #[token(">")]
    Gt,
    #[token("=")]
    Assign,
    #[token("?")]
    Question,
    #[token(":")]
    Colon,
    #[token(";")]
    Semi,
    #[token(",")]
    Comma,
    #[token(".")]
    Dot,
    #[token("(")]
    LParen,
    #[token(")")]
    RParen,
    #[token("[")]
    LBracket,
    #[token("]")]
    RBracket,
    #[token("{")]
    LBrace,
    #[token("}")]
    RBrace,
    /// Punctuation stap lexes as an operator but no rule accepts: `` ` ``, `'`, `\`.
    #[token("`")]
    #[token("'")]
    #[token("\\")]
    OtherPunct,

    // Lexical errors, reported by whoever consumes the token (so that errors in
    // preprocessor-skipped text are ignored, as in stap).
    /// A string without its closing quote on the same line.
    UnclosedString,
    /// `%{` without `%}`.
    UnclosedEmbedded,
    /// A byte no rule accepts (control characters, non-ASCII outside strings and comments).
    Junk,
    /// `$N`/`@N` naming an argument that was not given (made by the preprocessor).
    ArgOutOfRange,
    /// `$N`/`@N` inside the text of a command-line argument (made by the preprocessor).
    NestedArg,
    /// An error at this point was already reported by the preprocessor; the parser skips to
    /// the next declaration without another message.
    Reported,
    /// End of input (the parser's sentinel; never produced by the lexer).
    Eof,
}

fn block_comment(lex: &mut Lexer<'_, TokenKind>) {
    let rest = lex.remainder();
    let len = rest.find("*/").map_or(rest.len(), |end| end + 2);
    lex.bump(len);
}

fn string_literal(lex: &mut Lexer<'_, TokenKind>) -> TokenKind {
    let rest = lex.remainder().as_bytes();
    let mut i = 0;
    while i < rest.len() {
        match rest[i] {
            b'"' => {
                lex.bump(i + 1);
                return TokenKind::Str;
            }
            b'\n' => break,
            // stap takes the character after a backslash unconditionally (even a newline).
            b'\\' if i + 1 < rest.len() => i += 2,
            _ => i += 1,
        }
    }
    let len = i.min(rest.len());
    lex.bump(char_boundary(lex.remainder(), len));
    TokenKind::UnclosedString
}

fn embedded_code(lex: &mut Lexer<'_, TokenKind>) -> TokenKind {
    let rest = lex.remainder();
    match rest.find("%}") {
        Some(end) => {
            lex.bump(end + 2);
            TokenKind::Embedded
        }
        None => {
            lex.bump(rest.len());
            TokenKind::UnclosedEmbedded
        }
    }
}

fn char_boundary(text: &str, mut len: usize) -> usize {
    while !text.is_char_boundary(len) {
        len += 1;
    }
    len
}

impl TokenKind {
    pub fn is_trivia(self) -> bool {
        matches!(
            self,
            TokenKind::Whitespace | TokenKind::LineComment | TokenKind::BlockComment
        )
    }

    pub fn is_keyword(self) -> bool {
        use TokenKind::*;
        matches!(
            self,
            Probe
                | Global
                | Private
                | Function
                | If
                | Else
                | For
                | Foreach
                | In
                | Limit
                | Return
                | Delete
                | While
                | Break
                | Continue
                | Next
                | KwString
                | KwLong
                | Try
                | Catch
        )
    }

    /// Lexical error tokens.
    pub fn is_error(self) -> bool {
        use TokenKind::*;
        matches!(
            self,
            UnclosedString | UnclosedEmbedded | Junk | ArgOutOfRange | NestedArg
        )
    }

    /// stap's token type word, used in messages (`identifier 'x' at …`).
    pub fn type_word(self) -> &'static str {
        use TokenKind::*;
        match self {
            Ident => "identifier",
            Number => "number",
            Str => "string",
            Embedded => "embedded-code",
            UnclosedString | UnclosedEmbedded | Junk | ArgOutOfRange | NestedArg | Reported => {
                "junk"
            }
            Eof => "end of input",
            k if k.is_keyword() => "keyword",
            _ => "operator",
        }
    }

    /// Classifies a token text (for describing a span of known token text, such as an AST
    /// node's token).
    pub fn of_text(text: &str) -> TokenKind {
        let mut lex = TokenKind::lexer(text);
        match lex.next() {
            Some(Ok(kind)) => kind,
            _ => TokenKind::Junk,
        }
    }
}

/// Index into the preprocessor's table of macro expansions (see `preprocess`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ExpansionId(pub u32);

/// One token: its kind, where its text is, and how it got here.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Token {
    pub kind: TokenKind,
    pub span: Span,
    /// Whitespace or a comment precedes it (probe-point components glue only when adjacent).
    pub space_before: bool,
    /// Set when the token came out of a macro body or a command-line argument.
    pub expansion: Option<ExpansionId>,
}

/// stap's description of a token: `identifier 'x'`, `operator '/'`, `keyword`, `number '1'`,
/// `string 'abc'`, `embedded-code`. Keywords and embedded code omit the text, as in stap.
pub fn describe(kind: TokenKind, text: &str) -> String {
    match kind {
        TokenKind::Embedded => "embedded-code".to_string(),
        TokenKind::Eof => "end of input".to_string(),
        k if k.is_keyword() => "keyword".to_string(),
        TokenKind::Str => format!("string '{}'", printable(&text[1..text.len() - 1])),
        k => format!("{} '{}'", k.type_word(), printable(text)),
    }
}

/// stap's "near" text for a token span: `operator '/' at f.stp:1:22`.
pub fn describe_at(sources: &SourceMap, span: Span) -> String {
    let text = sources.text(span);
    format!(
        "{} at {}",
        describe(TokenKind::of_text(text), text),
        sources.location(span)
    )
}

/// stap replaces non-printable characters by `?` in token descriptions.
fn printable(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_graphic() || c == ' ' {
                c
            } else {
                '?'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_descriptions_follow_stap() {
        assert_eq!(describe(TokenKind::Ident, "x"), "identifier 'x'");
        assert_eq!(describe(TokenKind::Slash, "/"), "operator '/'");
        assert_eq!(describe(TokenKind::AtWord, "@cast"), "operator '@cast'");
        assert_eq!(describe(TokenKind::Probe, "probe"), "keyword");
        assert_eq!(describe(TokenKind::Str, "\"a\tb\""), "string 'a?b'");
        assert_eq!(describe(TokenKind::Embedded, "%{ x %}"), "embedded-code");
    }

    #[test]
    fn text_classification() {
        assert_eq!(TokenKind::of_text("foreach"), TokenKind::Foreach);
        assert_eq!(TokenKind::of_text("$var"), TokenKind::Ident);
        assert_eq!(TokenKind::of_text("<<<"), TokenKind::StatAdd);
        assert_eq!(TokenKind::of_text("0x1f"), TokenKind::Number);
    }
}
