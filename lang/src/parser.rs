//! Preprocessed tokens → [`Script`]: a hand-written recursive-descent parser with
//! precedence climbing for binary operators.
//!
//! It follows stap's own recursive-descent parser (parse.cxx) rule for rule, so that it accepts
//! and rejects the same scripts; the rules that make SystemTap's grammar context-sensitive
//! (probe-point components glued by adjacency, `-` before literals only, `return` outside a
//! function, the ternary's false arm) are plain code here.
//!
//! Parsing never fails: it returns the tree and every error. Recovery happens at two levels:
//! after a bad statement the parser skips to the next statement boundary (`;`, a statement
//! keyword, the start of a line, or the block's `}`) and goes on; after a bad declaration it
//! skips to the next `probe`, `global`, `private`, `function` or `%{`, as stap does.

mod expr;
mod item;
mod probe_point;
mod stmt;

use crate::ast::{ScalarType, Script};
use crate::diagnostic::{Diagnostic, Label, Pass};
use crate::literal;
use crate::source::{FileId, SourceMap, Span};
use crate::token::{self, Token, TokenKind};

/// What the parser needs to know about the file.
#[derive(Clone, Copy, Debug)]
pub struct ParseOptions {
    /// Embedded C and guru-only operators are allowed: tapset files, or `-g`.
    pub privileged: bool,
}

/// Parses the preprocessed tokens of one file.
pub fn parse(
    sources: &SourceMap,
    file: FileId,
    tokens: &[Token],
    options: ParseOptions,
) -> (Script, Vec<Diagnostic>) {
    let end = sources.file(file).text.len();
    let eof = Token {
        kind: TokenKind::Eof,
        span: Span::new(file, end..end),
        space_before: true,
        expansion: None,
    };
    let mut parser = Parser {
        sources,
        tokens,
        eof,
        pos: 0,
        options,
        in_function: false,
        diagnostics: Vec::new(),
        globals_seen: Vec::new(),
    };
    let items = parser.items();
    (Script { file, items }, parser.diagnostics)
}

/// The error was reported (pushed to the diagnostics); unwind to a recovery point.
#[derive(Debug)]
struct Reported;

type PResult<T> = Result<T, Reported>;

struct Parser<'a> {
    sources: &'a SourceMap,
    tokens: &'a [Token],
    eof: Token,
    pos: usize,
    options: ParseOptions,
    /// Parsing a function body (`return` is allowed only there).
    in_function: bool,
    diagnostics: Vec<Diagnostic>,
    /// Global names declared so far in this file, and whether private (for duplicates).
    globals_seen: Vec<(String, bool)>,
}

impl<'a> Parser<'a> {
    // ---- token access --------------------------------------------------------------------

    fn peek(&self) -> Token {
        self.tokens.get(self.pos).copied().unwrap_or(self.eof)
    }

    fn at(&self, kind: TokenKind) -> bool {
        self.peek().kind == kind
    }

    fn bump(&mut self) -> Token {
        let token = self.peek();
        if self.pos < self.tokens.len() {
            self.pos += 1;
        }
        token
    }

    fn eat(&mut self, kind: TokenKind) -> Option<Token> {
        self.at(kind).then(|| self.bump())
    }

    fn text(&self, token: Token) -> &'a str {
        if token.kind == TokenKind::Eof {
            return "";
        }
        self.sources.text(token.span)
    }

    /// `@word` tokens: is it this one (with the `@`)?
    fn at_word(&self, word: &str) -> bool {
        let token = self.peek();
        token.kind == TokenKind::AtWord && self.text(token) == word
    }

    // ---- errors --------------------------------------------------------------------------

    /// Reports `message` at the current token and returns the marker to unwind with.
    fn error<T>(&mut self, message: impl Into<String>) -> PResult<T> {
        let token = self.peek();
        self.error_at(token, message)
    }

    fn error_at<T>(&mut self, token: Token, message: impl Into<String>) -> PResult<T> {
        self.report_at(token, message);
        Err(Reported)
    }

    /// Reports without unwinding (for errors stap reports without skipping input).
    fn report_at(&mut self, token: Token, message: impl Into<String>) {
        if token.kind == TokenKind::Reported {
            return;
        }
        let label = format!("found {}", self.describe(token));
        self.diagnostics.push(
            Diagnostic::error(Pass::Parse, message)
                .at(token.span)
                .with_label(label),
        );
    }

    /// A token rebuilt from a span, for errors about text consumed earlier.
    fn token_at(&self, span: Span) -> Token {
        let kind = TokenKind::of_text(self.sources.text(span));
        Token {
            kind,
            span,
            space_before: false,
            expansion: None,
        }
    }

    /// How a found token is named in labels: stap's description, plus the keyword itself.
    fn describe(&self, token: Token) -> String {
        match token.kind {
            TokenKind::Eof => "end of file".to_string(),
            kind if kind.is_keyword() => format!("keyword '{}'", self.text(token)),
            kind => token::describe(kind, self.text(token)),
        }
    }

    fn expect(&mut self, kind: TokenKind, what: &str) -> PResult<Token> {
        match self.eat(kind) {
            Some(token) => Ok(token),
            None => self.error(format!("expected '{what}'")),
        }
    }

    /// The closing delimiter of `open`; when missing, the error also points at `open`.
    fn expect_closing(&mut self, kind: TokenKind, what: &str, open: Token) -> PResult<Token> {
        if let Some(token) = self.eat(kind) {
            return Ok(token);
        }
        let opening = self.sources.text(open.span);
        let label = format!("to match this '{opening}'");
        self.error_with_context(format!("expected '{what}'"), open.span, label)
    }

    /// Reports `message` at the current token with a second label elsewhere.
    fn error_with_context<T>(&mut self, message: String, span: Span, label: String) -> PResult<T> {
        let token = self.peek();
        if token.kind != TokenKind::Reported {
            self.report_at(token, message);
            if let Some(last) = self.diagnostics.last_mut() {
                last.secondary.push(Label {
                    span,
                    message: label,
                });
            }
        }
        Err(Reported)
    }

    // ---- shared pieces -------------------------------------------------------------------

    /// A string literal, with adjacent literals concatenated (`"a" "b"` is `"ab"`).
    fn string_literal(&mut self) -> PResult<(Vec<u8>, Span)> {
        let Some(first) = self.eat(TokenKind::Str) else {
            return self.error("expected literal string");
        };
        Ok((self.string_continuation(first), first.span))
    }

    fn string_continuation(&mut self, first: Token) -> Vec<u8> {
        let mut value = literal::decode_string(self.text(first));
        while let Some(next) = self.eat(TokenKind::Str) {
            value.extend(literal::decode_string(self.text(next)));
        }
        value
    }

    /// A number token's value, or stap's error.
    fn number_value(&mut self, token: Token, negative: bool) -> PResult<i64> {
        let text = self.text(token);
        match literal::parse_c_unsigned(text) {
            // -2^63 is the most negative literal; larger magnitudes are out of range.
            Some(value) if negative && value > 1 << 63 => {
                self.error_at(token, "number invalid or out of range")
            }
            Some(value) => Ok(if negative {
                (value as i64).wrapping_neg()
            } else {
                value as i64
            }),
            None => self.error_at(token, "number invalid or out of range"),
        }
    }

    /// `[-]NUMBER` (stap's `expect_number`).
    fn signed_number(&mut self) -> PResult<(i64, Span)> {
        let minus = self.eat(TokenKind::Minus);
        let Some(token) = self.eat(TokenKind::Number) else {
            return self.error("expected number");
        };
        let span = minus.map_or(token.span, |m| m.span.to(token.span));
        Ok((self.number_value(token, minus.is_some())?, span))
    }

    /// `long` or `string` after a `:`.
    fn type_name(&mut self) -> PResult<(ScalarType, Span)> {
        let token = self.peek();
        let ty = match token.kind {
            TokenKind::KwLong => ScalarType::Long,
            TokenKind::KwString => ScalarType::String,
            _ => return self.error("expected 'string' or 'long'"),
        };
        self.bump();
        Ok((ty, token.span))
    }
}

#[cfg(test)]
mod tests;
