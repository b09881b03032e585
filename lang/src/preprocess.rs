//! The preprocessor: a token stream → token stream pass before the parser.
//!
//! It does what stap's `scan_pp`/`scan_pp1` do inside its parser (parse.cxx l.480–1095):
//! - pastes command-line arguments at token starts: `$N` as raw text (re-lexed), `@N` as a
//!   string literal, `$#`/`@#` as the argument count;
//! - expands `@define` macros (file-local, plus library macros from `*.stpm` files), with
//!   parameters bound as closures in the invoker's context;
//! - evaluates `%( COND %? … %: … %)` conditionals (see [`condition`]), nested, anywhere.
//!
//! Macros are expanded before conditionals are evaluated, so a macro may expand to a
//! conditional and both arms of a conditional are macro-scanned, as in stap. Lexical errors are
//! reported here, when a token is kept — text in a skipped arm may hold anything.
//!
//! Deliberate differences: argument text is pasted as tokens, not characters, so `$1abc` does
//! not glue the argument's last token to `abc`; runaway (recursive or exponential) macro
//! expansion stops with an error where stap would not terminate.

pub mod condition;

use std::collections::VecDeque;
use std::rc::Rc;

use rustc_hash::FxHashMap;

use crate::diagnostic::{Diagnostic, Pass};
use crate::lexer;
use crate::literal;
use crate::source::{FileId, FileKind, SourceMap, Span};
use crate::target::Target;
use crate::token::{ExpansionId, Token, TokenKind};
use condition::{CompareOp, Operand};

/// A `@define`d macro.
#[derive(Debug)]
pub struct MacroDef {
    pub name: String,
    pub params: Vec<String>,
    pub body: Rc<[Token]>,
    /// The name token of the definition.
    pub site: Span,
    /// Defined in a `*.stpm` library file.
    pub library: bool,
}

pub type MacroTable = FxHashMap<String, Rc<MacroDef>>;

/// How a token came to be where it is (for "in expansion of" labels).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ExpansionKind {
    Macro(String),
    MacroParam(String),
    /// `$N`, `@N`, `$#` or `@#`, as written.
    Argument(String),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Expansion {
    pub kind: ExpansionKind,
    /// The invocation (`@name(…)` or `$1`).
    pub site: Span,
    /// The expansion the invocation itself came from.
    pub parent: Option<ExpansionId>,
}

/// Preprocessor state that lives across all files of one translation.
#[derive(Debug, Default)]
pub struct PpState {
    /// Library macros from `*.stpm` files, visible in every file.
    pub library_macros: MacroTable,
    pub expansions: Vec<Expansion>,
    /// Which command-line arguments were pasted somewhere (for stap's unused-argument warning).
    pub used_args: Vec<bool>,
    /// Lexed argument texts, keyed by (index, quoted).
    arg_tokens: FxHashMap<(usize, bool), Rc<[Token]>>,
}

/// The read-only inputs of preprocessing.
#[derive(Clone, Copy)]
pub struct PpEnv<'a> {
    pub target: &'a Target,
    pub args: &'a [String],
}

/// The result for one file.
#[derive(Debug, Default)]
pub struct Preprocessed {
    pub tokens: Vec<Token>,
    /// The file's own macros (what a `*.stpm` file contributes to the library).
    pub macros: MacroTable,
    pub diagnostics: Vec<Diagnostic>,
}

/// More output tokens than this means a runaway expansion (2^n duplication by nested macros).
const MAX_OUTPUT_TOKENS: usize = 20_000_000;
const MAX_EXPANSION_DEPTH: usize = 1000;

/// Preprocesses the lexed tokens of one file.
pub fn preprocess(
    state: &mut PpState,
    env: PpEnv<'_>,
    sources: &mut SourceMap,
    tokens: Vec<Token>,
) -> Preprocessed {
    if state.used_args.len() < env.args.len() {
        state.used_args.resize(env.args.len(), false);
    }
    let mut run = Run {
        state,
        env,
        sources,
        input: tokens,
        pos: 0,
        pending: VecDeque::new(),
        activations: Vec::new(),
        namespace: MacroTable::default(),
        conditionals: Vec::new(),
        out: Preprocessed::default(),
        produced: 0,
    };
    run.run();
    run.out.macros = run.namespace;
    run.out
}

/// A macro (or macro parameter) being expanded.
struct Activation {
    body: Rc<[Token]>,
    cursor: usize,
    params: Rc<FxHashMap<String, Rc<ParamBinding>>>,
    /// Expanding a library macro: file-local macros are not visible inside (parse.cxx does the
    /// same, so library macros mean the same in every file).
    library: bool,
    expansion: ExpansionId,
}

/// An actual parameter: its tokens, expanded in the invoker's context.
struct ParamBinding {
    body: Rc<[Token]>,
    env: Rc<FxHashMap<String, Rc<ParamBinding>>>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Branch {
    KeepThen,
    SkipThen,
    KeepElse,
    SkipElse,
}

struct Run<'a, 'e> {
    state: &'a mut PpState,
    env: PpEnv<'e>,
    sources: &'a mut SourceMap,
    input: Vec<Token>,
    pos: usize,
    /// Pasted argument tokens not yet consumed.
    pending: VecDeque<Token>,
    activations: Vec<Activation>,
    namespace: MacroTable,
    /// Open conditionals: the `%(` token and which branch is live.
    conditionals: Vec<(Span, Branch)>,
    out: Preprocessed,
    produced: usize,
}

type PpResult<T> = Result<T, Box<Diagnostic>>;

fn error(message: impl Into<String>, span: Span) -> Box<Diagnostic> {
    Box::new(Diagnostic::error(Pass::Parse, message).at(span))
}

/// An error with a label at its location.
fn labeled(message: impl Into<String>, span: Span, label: impl Into<String>) -> Box<Diagnostic> {
    Box::new(
        Diagnostic::error(Pass::Parse, message)
            .at(span)
            .with_label(label),
    )
}

impl Run<'_, '_> {
    fn run(&mut self) {
        loop {
            let skipping = matches!(
                self.conditionals.last(),
                Some((_, Branch::SkipThen | Branch::SkipElse))
            );
            let token = if skipping {
                self.skip_branch()
            } else {
                match self.scan_expanded(true) {
                    Ok(token) => token,
                    Err(diagnostic) => {
                        self.report(*diagnostic);
                        continue;
                    }
                }
            };
            let Some(token) = token else {
                // End of file: every open conditional is an error.
                match self.conditionals.pop() {
                    Some((open, _)) => {
                        self.report(*labeled(
                            "incomplete conditional at end of file",
                            open,
                            "this '%(' is never closed",
                        ));
                        continue;
                    }
                    None => break,
                }
            };
            if let Err(diagnostic) = self.handle(token) {
                self.report(*diagnostic);
            }
            if self.produced > MAX_OUTPUT_TOKENS {
                self.report(*error(
                    "macro expansion produces too many tokens (runaway expansion?)",
                    token.span,
                ));
                break;
            }
        }
    }

    /// Records an error and leaves a marker so the parser resumes at the next declaration.
    fn report(&mut self, diagnostic: Diagnostic) {
        let span = diagnostic.span.unwrap_or(Span {
            file: FileId(0),
            start: 0,
            end: 0,
        });
        self.out.diagnostics.push(diagnostic);
        self.out.tokens.push(Token {
            kind: TokenKind::Reported,
            span,
            space_before: true,
            expansion: None,
        });
    }

    fn handle(&mut self, token: Token) -> PpResult<()> {
        let top = self.conditionals.last().map(|&(_, branch)| branch);
        match token.kind {
            TokenKind::PpThen => Err(labeled(
                "incomplete conditional - missing '%('",
                token.span,
                NO_CONDITIONAL,
            )),
            TokenKind::PpElse => match top {
                None => Err(labeled(
                    "incomplete conditional - missing '%('",
                    token.span,
                    NO_CONDITIONAL,
                )),
                Some(Branch::KeepElse | Branch::SkipElse) => Err(labeled(
                    "invalid conditional - duplicate '%:'",
                    token.span,
                    "a second else-branch",
                )),
                Some(branch) => {
                    let flipped = if branch == Branch::KeepThen {
                        Branch::SkipElse
                    } else {
                        Branch::KeepElse
                    };
                    self.conditionals.last_mut().expect("checked above").1 = flipped;
                    Ok(())
                }
            },
            TokenKind::PpClose => match top {
                None => Err(labeled(
                    "incomplete conditional - missing '%('",
                    token.span,
                    NO_CONDITIONAL,
                )),
                Some(_) => {
                    self.conditionals.pop();
                    Ok(())
                }
            },
            TokenKind::PpOpen => self.open_conditional(token),
            kind if kind.is_error() => Err(self.lexical_error(token)),
            _ => {
                self.out.tokens.push(token);
                self.produced += 1;
                Ok(())
            }
        }
    }

    /// stap's messages for junk tokens (parse.cxx `token::junk_message`).
    fn lexical_error(&self, token: Token) -> Box<Diagnostic> {
        let count = self.env.args.len();
        let (message, label) = match token.kind {
            TokenKind::UnclosedString => (
                "Could not find matching closing quote".to_string(),
                "this string does not end on its line".to_string(),
            ),
            TokenKind::UnclosedEmbedded => (
                "Could not find matching '%}' to close embedded function block".to_string(),
                "this block is never closed".to_string(),
            ),
            TokenKind::ArgOutOfRange => (
                format!("command line argument out of range [1-{count}]"),
                format!(
                    "{count} argument{} given",
                    if count == 1 { "" } else { "s" }
                ),
            ),
            TokenKind::NestedArg => (
                "invalid nested substitution of command line arguments".to_string(),
                "arguments are pasted as they are, not expanded again".to_string(),
            ),
            _ => {
                let text = self.sources.text(token.span);
                let shown: String = text.bytes().map(|b| format!("\\x{b:02x}")).collect();
                let diagnostic = error(format!("unexpected character '{shown}'"), token.span);
                return Box::new(diagnostic.with_label("not part of any token"));
            }
        };
        labeled(message, token.span, label)
    }

    // ---- conditionals ----------------------------------------------------------------------

    fn open_conditional(&mut self, open: Token) -> PpResult<()> {
        let mut result = false;
        let mut and_result = true;
        let mut failed = false;
        let next = loop {
            let mut term = [None; 3];
            for slot in &mut term {
                *slot = self.scan_expanded(true)?;
            }
            let [Some(lhs), Some(op), Some(rhs)] = term else {
                return Err(labeled(
                    "incomplete condition after '%('",
                    open.span,
                    "a condition is three tokens: LEFT OP RIGHT",
                ));
            };
            match self.evaluate(lhs, op, rhs) {
                Ok(value) => and_result &= value,
                Err(diagnostic) => {
                    // Keep going to the `%?` so one bad term is one error; the
                    // conditional then counts as false.
                    self.out.diagnostics.push(*diagnostic);
                    failed = true;
                }
            }
            let next = self.scan_expanded(true)?;
            match next.map(|t| t.kind) {
                Some(TokenKind::AndAnd) => continue,
                Some(TokenKind::OrOr) => {
                    result |= and_result;
                    and_result = true;
                }
                _ => {
                    result |= and_result;
                    break next;
                }
            }
        };
        if next.map(|t| t.kind) != Some(TokenKind::PpThen) {
            return Err(labeled(
                "expected '%?' marker for conditional",
                open.span,
                "this conditional has no '%?'",
            ));
        }
        if failed {
            self.out.tokens.push(Token {
                kind: TokenKind::Reported,
                ..open
            });
        }
        let branch = if result && !failed {
            Branch::KeepThen
        } else {
            Branch::SkipThen
        };
        self.conditionals.push((open.span, branch));
        Ok(())
    }

    fn evaluate(&self, lhs: Token, op: Token, rhs: Token) -> PpResult<bool> {
        for token in [lhs, op, rhs] {
            if token.kind.is_error() {
                return Err(self.lexical_error(token));
            }
        }
        let operand = |token: Token| {
            let text = self.sources.text(token.span);
            match token.kind {
                TokenKind::Ident => Operand::Ident(text.to_string()),
                TokenKind::Str => Operand::Str(
                    String::from_utf8_lossy(&literal::decode_string(text)).into_owned(),
                ),
                TokenKind::Number => {
                    literal::parse_number(text).map_or(Operand::Other, Operand::Number)
                }
                _ => Operand::Other,
            }
        };
        let compare = match op.kind {
            TokenKind::Lt => Some(CompareOp::Lt),
            TokenKind::LtEq => Some(CompareOp::Le),
            TokenKind::EqEq => Some(CompareOp::Eq),
            TokenKind::NotEq => Some(CompareOp::Ne),
            TokenKind::Gt => Some(CompareOp::Gt),
            TokenKind::GtEq => Some(CompareOp::Ge),
            _ => None,
        };
        condition::evaluate(self.env.target, &operand(lhs), compare, &operand(rhs)).map_err(|e| {
            let span = match e.culprit {
                condition::Culprit::Left => lhs.span,
                condition::Culprit::Op => op.span,
                condition::Culprit::Right => rhs.span,
            };
            error(e.message, span)
        })
    }

    /// Skips a dead branch up to its `%:`, `%?` or `%)` (nesting-aware); errors are ignored
    /// there and macros are not expanded.
    fn skip_branch(&mut self) -> Option<Token> {
        let mut nesting = 0usize;
        loop {
            let token = self.next_popping()?;
            match token.kind {
                TokenKind::PpOpen => nesting += 1,
                TokenKind::PpClose if nesting > 0 => nesting -= 1,
                TokenKind::PpElse | TokenKind::PpThen | TokenKind::PpClose if nesting == 0 => {
                    return Some(token);
                }
                _ => {}
            }
        }
    }

    // ---- macros ----------------------------------------------------------------------------

    /// The next token with macro definitions and invocations processed (stap's `scan_pp1`).
    fn scan_expanded(&mut self, definitions: bool) -> PpResult<Option<Token>> {
        loop {
            let Some(token) = self.next_popping() else {
                return Ok(None);
            };
            if token.kind != TokenKind::AtWord {
                return Ok(Some(token));
            }
            let name = &self.sources.text(token.span)[1..];
            if name == "define" && definitions {
                self.define(token)?;
                continue;
            }
            match self.lookup(name) {
                Some(Invocable::Macro(def)) => self.invoke(token, def)?,
                Some(Invocable::Param(binding)) => {
                    let expansion =
                        self.expansion(ExpansionKind::MacroParam(name.to_string()), token);
                    self.push_activation(Activation {
                        body: binding.body.clone(),
                        cursor: 0,
                        params: binding.env.clone(),
                        library: false,
                        expansion,
                    })?;
                }
                None => return Ok(Some(token)),
            }
        }
    }

    fn lookup(&self, name: &str) -> Option<Invocable> {
        let act = self.activations.last();
        if let Some(binding) = act.and_then(|a| a.params.get(name)) {
            return Some(Invocable::Param(binding.clone()));
        }
        let in_library_macro = act.is_some_and(|a| a.library);
        let local = (!in_library_macro)
            .then(|| self.namespace.get(name))
            .flatten();
        local
            .or_else(|| self.state.library_macros.get(name))
            .cloned()
            .map(Invocable::Macro)
    }

    fn invoke(&mut self, at: Token, def: Rc<MacroDef>) -> PpResult<()> {
        let name = &def.name;
        let mut params = FxHashMap::default();
        if !def.params.is_empty() {
            let count = def.params.len();
            if self.next_raw().map(|t| t.kind) != Some(TokenKind::LParen) {
                let plural = if count == 1 { "" } else { "s" };
                return Err(error(
                    format!(
                        "expected '(' in invocation of macro '@{name}' taking {count} parameter{plural}"
                    ),
                    at.span,
                ));
            }
            let env = self
                .activations
                .last()
                .map(|a| a.params.clone())
                .unwrap_or_default();
            for (i, param) in def.params.iter().enumerate() {
                let (body, end) = self.slurp_argument();
                let Some(end) = end else {
                    return Err(labeled(
                        "could not find end of macro invocation",
                        at.span,
                        "the argument list is not closed",
                    ));
                };
                let last = i + 1 == count;
                if end.kind == TokenKind::Comma && last {
                    return Err(error(
                        format!("too many parameters for macro '@{name}' (expected {count})"),
                        end.span,
                    ));
                }
                if end.kind == TokenKind::RParen && !last {
                    return Err(error(
                        format!("too few parameters for macro '@{name}' (expected {count})"),
                        end.span,
                    ));
                }
                params.insert(
                    param.clone(),
                    Rc::new(ParamBinding {
                        body: body.into(),
                        env: env.clone(),
                    }),
                );
            }
        }
        let expansion = self.expansion(ExpansionKind::Macro(name.clone()), at);
        self.push_activation(Activation {
            body: def.body.clone(),
            cursor: 0,
            params: Rc::new(params),
            library: def.library,
            expansion,
        })
    }

    fn push_activation(&mut self, activation: Activation) -> PpResult<()> {
        if self.activations.len() >= MAX_EXPANSION_DEPTH {
            let site = self.state.expansions[activation.expansion.0 as usize].site;
            self.activations.clear();
            return Err(error(
                "macro expansion nested too deeply (recursive macro?)",
                site,
            ));
        }
        self.activations.push(activation);
        Ok(())
    }

    /// One actual parameter: tokens up to an unbracketed `,` or `)` (returned as the end).
    fn slurp_argument(&mut self) -> (Vec<Token>, Option<Token>) {
        let mut body = Vec::new();
        let mut nesting = 0usize;
        while let Some(token) = self.next_raw() {
            match token.kind {
                TokenKind::LParen | TokenKind::LBracket => nesting += 1,
                TokenKind::RParen | TokenKind::RBracket if nesting > 0 => nesting -= 1,
                TokenKind::RParen | TokenKind::Comma if nesting == 0 => return (body, Some(token)),
                _ => {}
            }
            body.push(token);
        }
        (body, None)
    }

    /// `@define NAME[(a, b…)] %( BODY %)`, read from the file itself.
    fn define(&mut self, at: Token) -> PpResult<()> {
        if !self.activations.is_empty() {
            return Err(labeled(
                "'@define' forbidden inside macro body",
                at.span,
                "macros cannot define macros",
            ));
        }
        let name_token = self.next_base().filter(|t| t.kind == TokenKind::Ident);
        let Some(name_token) = name_token else {
            let diagnostic = error("expected identifier", at.span.after());
            return Err(Box::new(diagnostic.with_label("macro name expected here")));
        };
        let name = self.sources.text(name_token.span).to_string();
        if let Some(previous) = self.namespace.get(&name) {
            let diagnostic = error(
                format!("attempt to redefine macro '@{name}' in the same file"),
                name_token.span,
            );
            let first = format!("macro '@{name}' first defined here");
            return Err(Box::new(diagnostic.with_secondary(previous.site, first)));
        }
        if name == "define" {
            return Err(labeled(
                "attempt to redefine '@define'",
                name_token.span,
                "reserved name",
            ));
        }
        if AT_OPERATORS.contains(&name.as_str()) {
            self.out.diagnostics.push(
                Diagnostic::warning(
                    Pass::Parse,
                    format!("macro redefines built-in operator '@{name}'"),
                )
                .at(name_token.span),
            );
        }
        let mut params = Vec::new();
        let mut token = self.next_base();
        let saw_params = token.is_some_and(|t| t.kind == TokenKind::LParen);
        if saw_params {
            loop {
                let param = self.next_base();
                match param {
                    Some(p) if p.kind == TokenKind::Ident => {
                        params.push(self.sources.text(p.span).to_string())
                    }
                    _ => {
                        return Err(error(
                            "expected identifier",
                            span_or(param, name_token.span),
                        ));
                    }
                }
                let separator = self.next_base();
                match separator.map(|t| t.kind) {
                    Some(TokenKind::Comma) => continue,
                    Some(TokenKind::RParen) => break,
                    _ => {
                        return Err(error(
                            "expected ',' or ')'",
                            span_or(separator, name_token.span),
                        ));
                    }
                }
            }
            token = self.next_base();
        }
        if token.map(|t| t.kind) != Some(TokenKind::PpOpen) {
            let message = if saw_params {
                "expected '%('"
            } else {
                "expected '%(' or '('"
            };
            return Err(error(message, span_or(token, name_token.span)));
        }
        let mut body = Vec::new();
        let mut nesting = 0usize;
        loop {
            let Some(token) = self.next_base() else {
                return Err(error(
                    "incomplete macro definition - missing '%)'",
                    name_token.span,
                ));
            };
            match token.kind {
                TokenKind::PpOpen => nesting += 1,
                TokenKind::PpClose if nesting > 0 => nesting -= 1,
                TokenKind::PpClose => break,
                _ => {}
            }
            body.push(token);
        }
        let library = self.sources.file(name_token.span.file).kind == FileKind::MacroLibrary;
        let def = MacroDef {
            name: name.clone(),
            params,
            body: body.into(),
            site: name_token.span,
            library,
        };
        self.namespace.insert(name, Rc::new(def));
        Ok(())
    }

    fn expansion(&mut self, kind: ExpansionKind, site: Token) -> ExpansionId {
        self.state.expansions.push(Expansion {
            kind,
            site: site.span,
            parent: site.expansion,
        });
        ExpansionId(self.state.expansions.len() as u32 - 1)
    }

    // ---- token sources ---------------------------------------------------------------------

    /// The next token of the innermost activation, leaving finished activations.
    fn next_popping(&mut self) -> Option<Token> {
        loop {
            if self.activations.is_empty() {
                return self.next_base();
            }
            if let Some(token) = self.next_raw() {
                return Some(token);
            }
            self.activations.pop();
        }
    }

    /// The next token of the innermost activation or the file; `None` at the end of a macro
    /// body (stap's `next_pp1`).
    fn next_raw(&mut self) -> Option<Token> {
        let Some(act) = self.activations.last_mut() else {
            return self.next_base();
        };
        let mut token = *act.body.get(act.cursor)?;
        act.cursor += 1;
        token.expansion = Some(act.expansion);
        Some(token)
    }

    /// The next token of the file, with command-line arguments pasted.
    fn next_base(&mut self) -> Option<Token> {
        if let Some(token) = self.pending.pop_front() {
            return Some(token);
        }
        loop {
            let token = *self.input.get(self.pos)?;
            self.pos += 1;
            if token.kind != TokenKind::ArgRef {
                return Some(token);
            }
            match self.paste_argument(token) {
                Ok(()) => {
                    if let Some(token) = self.pending.pop_front() {
                        return Some(token);
                    }
                }
                Err(kind) => return Some(Token { kind, ..token }),
            }
        }
    }

    /// Queues the tokens of `$N`/`@N`/`$#`/`@#` (an empty argument pastes nothing).
    fn paste_argument(&mut self, at: Token) -> Result<(), TokenKind> {
        let text = self.sources.text(at.span).to_string();
        let quoted = text.starts_with('@');
        let index = if &text[1..] == "#" {
            None
        } else {
            let n: usize = text[1..].parse().unwrap_or(0);
            if n == 0 || n > self.env.args.len() {
                return Err(TokenKind::ArgOutOfRange);
            }
            self.state.used_args[n - 1] = true;
            Some(n - 1)
        };
        // Index `args.len()` stands for the count.
        let key = (index.unwrap_or(self.env.args.len()), quoted);
        let tokens = match self.state.arg_tokens.get(&key) {
            Some(tokens) => tokens.clone(),
            None => {
                let raw = match index {
                    Some(i) => self.env.args[i].clone(),
                    None => self.env.args.len().to_string(),
                };
                let pasted = if quoted {
                    literal::quote_string(raw.as_bytes())
                } else {
                    raw
                };
                let file = self
                    .sources
                    .add(text.clone(), None, FileKind::Argument, pasted);
                let mut tokens = lexer::lex(self.sources, file).tokens;
                for token in &mut tokens {
                    if token.kind == TokenKind::ArgRef {
                        token.kind = TokenKind::NestedArg;
                    }
                }
                let tokens: Rc<[Token]> = tokens.into();
                self.state.arg_tokens.insert(key, tokens.clone());
                tokens
            }
        };
        let expansion = self.expansion(ExpansionKind::Argument(text), at);
        for (i, token) in tokens.iter().enumerate() {
            let space_before = if i == 0 {
                at.space_before
            } else {
                token.space_before
            };
            self.pending.push_back(Token {
                space_before,
                expansion: Some(expansion),
                ..*token
            });
        }
        Ok(())
    }
}

enum Invocable {
    Macro(Rc<MacroDef>),
    Param(Rc<ParamBinding>),
}

fn span_or(token: Option<Token>, fallback: Span) -> Span {
    token.map_or(fallback.after(), |t| t.span)
}

const NO_CONDITIONAL: &str = "no '%(' conditional is open here";

/// The `@` operators of the language (parse.cxx `lexer::atwords`); defining a macro with one
/// of these names only warns.
pub const AT_OPERATORS: &[&str] = &[
    "cast",
    "defined",
    "probewrite",
    "entry",
    "perf",
    "var",
    "avg",
    "count",
    "sum",
    "min",
    "max",
    "hist_linear",
    "hist_log",
    "const",
    "variance",
    "kregister",
    "uregister",
    "kderef",
    "uderef",
];

#[cfg(test)]
mod tests;
