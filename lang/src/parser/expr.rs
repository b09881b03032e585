//! Expressions, by stap's precedence levels (parse.cxx l.3343–4540), lowest first:
//! assignment (right), ternary, `||`, `&&`, `|`, `^`, `&`, `in`, comparison / regex, shifts,
//! `.`, `+ -`, `* / %`, unary, `++`/`--`, target values (`$x->y`, `@cast`, `&`), primary.
//!
//! The left-associative binary levels are one precedence-climbing loop over [`LEVELS`]; the
//! levels with their own rules (`in`, comparisons, and everything above `*`) are functions.

use super::{PResult, Parser};
use crate::ast::{
    AssignOp, BinaryOp, CompareOp, CrementOp, Expr, ExprKind, HistKind, HistOp, Indexable,
    PrintCall, PrintKind, StatOp, TargetBase, TargetComponent, TargetExpr, UnaryOp,
};
use crate::token::{Token, TokenKind};

/// A binary operator level: which tokens, and what they build.
#[derive(Clone, Copy)]
enum Level {
    LogicalOr,
    LogicalAnd,
    BitOr,
    BitXor,
    BitAnd,
    /// `in` and the `[a, b]` key lists in front of it.
    ArrayIn,
    Comparison,
    Shift,
    Concat,
    Additive,
    Multiplicative,
}

const LEVELS: [Level; 11] = [
    Level::LogicalOr,
    Level::LogicalAnd,
    Level::BitOr,
    Level::BitXor,
    Level::BitAnd,
    Level::ArrayIn,
    Level::Comparison,
    Level::Shift,
    Level::Concat,
    Level::Additive,
    Level::Multiplicative,
];

/// What an operator token of a level builds.
enum Op {
    Logical(bool),
    Binary(BinaryOp),
    Concat,
}

impl Level {
    fn operator(self, kind: TokenKind) -> Option<Op> {
        use TokenKind as T;
        Some(match (self, kind) {
            (Level::LogicalOr, T::OrOr) => Op::Logical(false),
            (Level::LogicalAnd, T::AndAnd) => Op::Logical(true),
            (Level::BitOr, T::Pipe) => Op::Binary(BinaryOp::BitOr),
            (Level::BitXor, T::Caret) => Op::Binary(BinaryOp::BitXor),
            (Level::BitAnd, T::Amp) => Op::Binary(BinaryOp::BitAnd),
            (Level::Shift, T::Shl) => Op::Binary(BinaryOp::Shl),
            (Level::Shift, T::Shr) => Op::Binary(BinaryOp::Shr),
            (Level::Shift, T::UShr) => Op::Binary(BinaryOp::UShr),
            (Level::Concat, T::Dot) => Op::Concat,
            (Level::Additive, T::Plus) => Op::Binary(BinaryOp::Add),
            (Level::Additive, T::Minus) => Op::Binary(BinaryOp::Sub),
            (Level::Multiplicative, T::Star) => Op::Binary(BinaryOp::Mul),
            (Level::Multiplicative, T::Slash) => Op::Binary(BinaryOp::Div),
            (Level::Multiplicative, T::Percent) => Op::Binary(BinaryOp::Mod),
            _ => return None,
        })
    }
}

fn assign_op(kind: TokenKind) -> Option<AssignOp> {
    use TokenKind as T;
    Some(match kind {
        T::Assign => AssignOp::Assign,
        T::StatAdd => AssignOp::StatAdd,
        T::PlusAssign => AssignOp::Compound(BinaryOp::Add),
        T::MinusAssign => AssignOp::Compound(BinaryOp::Sub),
        T::StarAssign => AssignOp::Compound(BinaryOp::Mul),
        T::SlashAssign => AssignOp::Compound(BinaryOp::Div),
        T::PercentAssign => AssignOp::Compound(BinaryOp::Mod),
        T::ShlAssign => AssignOp::Compound(BinaryOp::Shl),
        T::ShrAssign => AssignOp::Compound(BinaryOp::Shr),
        T::AmpAssign => AssignOp::Compound(BinaryOp::BitAnd),
        T::CaretAssign => AssignOp::Compound(BinaryOp::BitXor),
        T::PipeAssign => AssignOp::Compound(BinaryOp::BitOr),
        T::DotAssign => AssignOp::Concat,
        _ => return None,
    })
}

fn compare_op(kind: TokenKind) -> Option<CompareOp> {
    use TokenKind as T;
    Some(match kind {
        T::Lt => CompareOp::Lt,
        T::LtEq => CompareOp::Le,
        T::Gt => CompareOp::Gt,
        T::GtEq => CompareOp::Ge,
        T::EqEq => CompareOp::Eq,
        T::NotEq => CompareOp::Ne,
        _ => return None,
    })
}

impl Parser<'_> {
    pub(super) fn expression(&mut self) -> PResult<Expr> {
        let left = self.ternary()?;
        let token = self.peek();
        let Some(op) = assign_op(token.kind) else {
            return Ok(left);
        };
        self.bump();
        // Right-associative; the left side's lvalue-ness is checked in elaboration.
        let right = self.expression()?;
        Ok(Expr {
            kind: ExprKind::Assign {
                op,
                left: Box::new(left),
                right: Box::new(right),
            },
            span: token.span,
        })
    }

    fn ternary(&mut self) -> PResult<Expr> {
        let cond = self.binary(0)?;
        let Some(question) = self.eat(TokenKind::Question) else {
            return Ok(cond);
        };
        let then = self.expression()?;
        self.expect(TokenKind::Colon, ":")?;
        // Since stap 4.0 the false arm binds tighter than assignment.
        let otherwise = self.ternary()?;
        let kind = ExprKind::Ternary {
            cond: Box::new(cond),
            then: Box::new(then),
            otherwise: Box::new(otherwise),
        };
        Ok(Expr {
            kind,
            span: question.span,
        })
    }

    /// Precedence climbing over [`LEVELS`] from `level` up.
    fn binary(&mut self, level: usize) -> PResult<Expr> {
        let Some(&this) = LEVELS.get(level) else {
            return self.unary();
        };
        match this {
            Level::ArrayIn => return self.array_in(level),
            Level::Comparison => return self.comparison(level),
            _ => {}
        }
        let mut left = self.binary(level + 1)?;
        while let Some(op) = this.operator(self.peek().kind) {
            let token = self.bump();
            let right = Box::new(self.binary(level + 1)?);
            let left_box = Box::new(left);
            let kind = match op {
                Op::Logical(and) => ExprKind::Logical {
                    and,
                    left: left_box,
                    right,
                },
                Op::Binary(op) => ExprKind::Binary {
                    op,
                    left: left_box,
                    right,
                },
                Op::Concat => ExprKind::Concat {
                    left: left_box,
                    right,
                },
            };
            left = Expr {
                kind,
                span: token.span,
            };
        }
        Ok(left)
    }

    /// `E`, `E in A`, `[E, *, …] in A` (and `[E]` alone, which is just `E`).
    fn array_in(&mut self, level: usize) -> PResult<Expr> {
        let bracketed = self.eat(TokenKind::LBracket).is_some();
        let mut indexes = Vec::new();
        loop {
            if bracketed && self.eat(TokenKind::Star).is_some() {
                indexes.push(None);
            } else {
                indexes.push(Some(self.binary(level + 1)?));
            }
            if !bracketed {
                break;
            }
            if self.eat(TokenKind::Comma).is_some() {
                continue;
            }
            if self.eat(TokenKind::RBracket).is_some() {
                break;
            }
            return self.error("expected ',' or ']'");
        }
        if let Some(in_token) = self.eat(TokenKind::In) {
            let base = self.indexable()?;
            return Ok(Expr {
                kind: ExprKind::In { indexes, base },
                span: in_token.span,
            });
        }
        match indexes.len() {
            1 => match indexes.pop() {
                Some(Some(expr)) => Ok(expr),
                // `[*]` without `in`.
                _ => self.error("expected 'in'"),
            },
            _ => self.error("unexpected comma-separated expression list"),
        }
    }

    /// Comparisons (left-associative) or one regex match, which may not be chained.
    fn comparison(&mut self, level: usize) -> PResult<Expr> {
        let mut left = self.binary(level + 1)?;
        let token = self.peek();
        if matches!(token.kind, TokenKind::RegexMatch | TokenKind::RegexNoMatch) {
            self.bump();
            let (pattern, pattern_span) = self.string_literal()?;
            let negated = token.kind == TokenKind::RegexNoMatch;
            let kind = ExprKind::Regex {
                negated,
                left: Box::new(left),
                pattern,
                pattern_span,
            };
            return Ok(Expr {
                kind,
                span: token.span,
            });
        }
        while let Some(op) = compare_op(self.peek().kind) {
            let token = self.bump();
            let right = self.binary(level + 1)?;
            left = Expr {
                kind: ExprKind::Compare {
                    op,
                    left: Box::new(left),
                    right: Box::new(right),
                },
                span: token.span,
            };
        }
        Ok(left)
    }

    fn unary(&mut self) -> PResult<Expr> {
        let token = self.peek();
        let op = match token.kind {
            TokenKind::Plus => UnaryOp::Plus,
            TokenKind::Minus => UnaryOp::Neg,
            TokenKind::Bang => UnaryOp::Not,
            TokenKind::Tilde => UnaryOp::BitNot,
            _ => return self.crement(),
        };
        self.bump();
        let operand = Box::new(self.unary()?);
        Ok(Expr {
            kind: ExprKind::Unary { op, operand },
            span: token.span,
        })
    }

    fn crement(&mut self) -> PResult<Expr> {
        let crement_of = |kind| match kind {
            TokenKind::PlusPlus => Some(CrementOp::Increment),
            TokenKind::MinusMinus => Some(CrementOp::Decrement),
            _ => None,
        };
        let token = self.peek();
        if let Some(op) = crement_of(token.kind) {
            self.bump();
            let operand = Box::new(self.target_value()?);
            return Ok(Expr {
                kind: ExprKind::Crement {
                    op,
                    prefix: true,
                    operand,
                },
                span: token.span,
            });
        }
        let operand = self.target_value()?;
        let token = self.peek();
        match crement_of(token.kind) {
            Some(op) => {
                self.bump();
                let kind = ExprKind::Crement {
                    op,
                    prefix: false,
                    operand: Box::new(operand),
                };
                Ok(Expr {
                    kind,
                    span: token.span,
                })
            }
            None => Ok(operand),
        }
    }

    /// stap's `parse_dwarf_value`: `[&] ($var | @cast(…) | @var(…) | value) components`.
    fn target_value(&mut self) -> PResult<Expr> {
        let ampersand = self.eat(TokenKind::Amp);
        let token = self.peek();
        let base = if token.kind == TokenKind::Ident && self.text(token).starts_with('$') {
            self.bump();
            Some(TargetBase::Var(self.text(token).to_string()))
        } else if self.at_word("@cast") {
            self.bump();
            Some(self.cast_op()?)
        } else if self.at_word("@var") {
            self.bump();
            Some(self.atvar_op()?)
        } else {
            None
        };
        let (mut target, span) = match base {
            Some(base) => (
                TargetExpr {
                    base,
                    components: Vec::new(),
                    address_of: false,
                },
                token.span,
            ),
            None => {
                let value = self.value()?;
                if let (Some(amp), ExprKind::Target(target)) = (ampersand, &value.kind)
                    && target.address_of
                {
                    return self.error_at(amp, "cannot take address more than once");
                }
                if ampersand.is_none() && !self.at_target_component() {
                    return Ok(value);
                }
                let span = ampersand.map_or(self.peek().span, |amp| amp.span);
                let target = TargetExpr {
                    base: TargetBase::Autocast(value),
                    components: Vec::new(),
                    address_of: false,
                };
                (target, span)
            }
        };
        target.address_of = ampersand.is_some();
        self.target_components(&mut target, token)?;
        Ok(Expr {
            kind: ExprKind::Target(Box::new(target)),
            span,
        })
    }

    /// `->`, `[`, or a bare `$`/`$$` pretty-printing suffix.
    fn at_target_component(&self) -> bool {
        let token = self.peek();
        match token.kind {
            TokenKind::Arrow | TokenKind::LBracket => true,
            TokenKind::Ident => self.text(token).bytes().all(|b| b == b'$'),
            _ => false,
        }
    }

    fn target_components(&mut self, target: &mut TargetExpr, base_token: Token) -> PResult<()> {
        let mut pretty = false;
        // `$foo$` / `$foo$$`: the suffix is part of the identifier.
        if let TargetBase::Var(name) = &mut target.base
            && let Some(pos) = name.rfind(|c| c != '$')
            && pos > 0
            && pos + 1 < name.len()
        {
            let suffix = name.split_off(pos + 1);
            target
                .components
                .push(TargetComponent::PrettyPrint(suffix, base_token.span));
            pretty = true;
        }
        while !pretty {
            if let Some(arrow) = self.eat(TokenKind::Arrow) {
                let member = self.peek();
                if member.kind != TokenKind::Ident && !member.kind.is_keyword() {
                    return self.error("expected identifier or keyword");
                }
                self.bump();
                let text = self.text(member);
                // `->name$`, `->$$`: a pretty-printing suffix ends the chain.
                let end = text.rfind(|c| c != '$').map_or(0, |pos| pos + 1);
                if end > 0 {
                    target
                        .components
                        .push(TargetComponent::Member(text[..end].to_string(), arrow.span));
                }
                if end < text.len() {
                    target.components.push(TargetComponent::PrettyPrint(
                        text[end..].to_string(),
                        arrow.span,
                    ));
                    pretty = true;
                }
            } else if let Some(bracket) = self.eat(TokenKind::LBracket) {
                let index = self.expression()?;
                target.components.push(match index.kind {
                    ExprKind::Number(n) => TargetComponent::Index(n, bracket.span),
                    _ => TargetComponent::IndexExpr(index, bracket.span),
                });
                self.expect(TokenKind::RBracket, "]")?;
            } else {
                break;
            }
        }
        if !pretty && self.at(TokenKind::Ident) && self.text(self.peek()).bytes().all(|b| b == b'$')
        {
            let token = self.bump();
            target.components.push(TargetComponent::PrettyPrint(
                self.text(token).to_string(),
                token.span,
            ));
            pretty = true;
        }
        if pretty && matches!(self.peek().kind, TokenKind::Arrow | TokenKind::LBracket) {
            return self.error("-> and [ are not accepted for a pretty-printing variable");
        }
        Ok(())
    }

    /// `@cast(EXPR, "type" [, "module"])` after the `@cast`.
    fn cast_op(&mut self) -> PResult<TargetBase> {
        self.expect(TokenKind::LParen, "(")?;
        let operand = self.expression()?;
        self.expect(TokenKind::Comma, ",")?;
        let type_name = self.nonempty_string()?;
        let module = match self.eat(TokenKind::Comma) {
            Some(_) => Some(self.expect_string()?),
            None => None,
        };
        self.expect(TokenKind::RParen, ")")?;
        Ok(TargetBase::Cast {
            operand,
            type_name,
            module,
        })
    }

    /// `@var("name[@cu]" [, "module"])` after the `@var`.
    fn atvar_op(&mut self) -> PResult<TargetBase> {
        self.expect(TokenKind::LParen, "(")?;
        let name = self.expect_string()?;
        let module = match self.eat(TokenKind::Comma) {
            Some(_) => Some(self.expect_string()?),
            None => None,
        };
        self.expect(TokenKind::RParen, ")")?;
        Ok(TargetBase::AtVar { name, module })
    }

    fn expect_string(&mut self) -> PResult<Vec<u8>> {
        match self.eat(TokenKind::Str) {
            Some(first) => Ok(self.string_continuation(first)),
            None => self.error("expected string"),
        }
    }

    fn nonempty_string(&mut self) -> PResult<Vec<u8>> {
        let token = self.peek();
        let value = self.expect_string()?;
        if value.is_empty() {
            return self.error_at(token, "expected non-empty string");
        }
        Ok(value)
    }

    /// Primary values (stap's `parse_value`).
    fn value(&mut self) -> PResult<Expr> {
        let token = self.peek();
        match token.kind {
            TokenKind::Embedded => {
                self.bump();
                if !self.options.privileged {
                    self.report_at(
                        token,
                        "embedded expression code in unprivileged script; need stap -g",
                    );
                }
                let text = self.text(token);
                Ok(Expr {
                    kind: ExprKind::Embedded(text[2..text.len() - 2].to_string()),
                    span: token.span,
                })
            }
            TokenKind::LParen => {
                let open = self.bump();
                let expr = self.expression()?;
                self.expect_closing(TokenKind::RParen, ")", open)?;
                Ok(expr)
            }
            TokenKind::Ident | TokenKind::AtWord => self.symbol(),
            _ => {
                let literal = self.literal()?;
                let kind = match literal.value {
                    crate::ast::LiteralValue::Number(n) => ExprKind::Number(n),
                    crate::ast::LiteralValue::String(s) => ExprKind::String(s),
                };
                Ok(Expr {
                    kind,
                    span: literal.span,
                })
            }
        }
    }

    /// Names and `@` operators: variables, array elements, calls, the print family, statistics,
    /// histograms (stap's `parse_symbol`).
    fn symbol(&mut self) -> PResult<Expr> {
        let token = self.bump();
        let name = self.text(token);
        let hist = match name {
            "@hist_linear" | "@hist_log" => Some(self.hist_op(token)?),
            _ => None,
        };
        let base = match hist {
            Some(hist) => Indexable::Hist(Box::new(hist)),
            None => {
                if token.kind == TokenKind::AtWord {
                    return self.at_operator(token);
                }
                if let Some(kind) = PrintKind::from_name(name) {
                    return self.print_call(token, kind);
                }
                if let Some(open) = self.eat(TokenKind::LParen) {
                    let mut args = Vec::new();
                    if self.eat(TokenKind::RParen).is_none() {
                        loop {
                            args.push(self.expression()?);
                            if self.eat(TokenKind::RParen).is_some() {
                                break;
                            }
                            if self.eat(TokenKind::Comma).is_none() {
                                let message = format!("the arguments of '{name}' start here");
                                return self.error_with_context(
                                    "expected one of ') ,'".into(),
                                    open.span,
                                    message,
                                );
                            }
                        }
                    }
                    return Ok(Expr {
                        kind: ExprKind::Call {
                            name: name.to_string(),
                            args,
                        },
                        span: token.span,
                    });
                }
                if !self.at(TokenKind::LBracket) {
                    return Ok(Expr {
                        kind: ExprKind::Var(name.to_string()),
                        span: token.span,
                    });
                }
                Indexable::Name(self.ident(token))
            }
        };
        if self.eat(TokenKind::LBracket).is_none() {
            return self.error_at(token, "base histogram operator where expression expected");
        }
        let mut indexes = Vec::new();
        loop {
            if self.eat(TokenKind::Star).is_some() {
                indexes.push(None);
            } else {
                indexes.push(Some(self.expression()?));
            }
            if self.eat(TokenKind::RBracket).is_some() {
                break;
            }
            if self.eat(TokenKind::Comma).is_none() {
                return self.error("expected one of '] ,'");
            }
        }
        Ok(Expr {
            kind: ExprKind::Index { base, indexes },
            span: token.span,
        })
    }

    /// An array name or a histogram (after `in`).
    pub(super) fn indexable(&mut self) -> PResult<Indexable> {
        let token = self.peek();
        match token.kind {
            TokenKind::Ident => {
                self.bump();
                Ok(Indexable::Name(self.ident(token)))
            }
            TokenKind::AtWord if matches!(self.text(token), "@hist_linear" | "@hist_log") => {
                self.bump();
                Ok(Indexable::Hist(Box::new(self.hist_op(token)?)))
            }
            // Other @words are accepted by stap's parser here and rejected in elaboration.
            TokenKind::AtWord => {
                self.bump();
                Ok(Indexable::Name(self.ident(token)))
            }
            _ => self.error("expected identifier or statistical operation"),
        }
    }

    /// `(STAT, LOW, HIGH, WIDTH)` / `(STAT)` after `@hist_linear` / `@hist_log`.
    fn hist_op(&mut self, token: Token) -> PResult<HistOp> {
        self.expect(TokenKind::LParen, "(")?;
        let stat = self.expression()?;
        let kind = if self.text(token) == "@hist_linear" {
            let mut params = [0i64; 3];
            for param in &mut params {
                self.expect(TokenKind::Comma, ",")?;
                *param = self.signed_number()?.0;
            }
            HistKind::Linear {
                low: params[0],
                high: params[1],
                width: params[2],
            }
        } else {
            HistKind::Log
        };
        self.expect(TokenKind::RParen, ")")?;
        Ok(HistOp {
            kind,
            stat,
            span: token.span,
        })
    }

    /// `@defined`, `@entry`, `@probewrite`, `@const`, `@perf`, registers, derefs and
    /// statistics extractors. Other `@words` are unknown (macros were expanded already).
    fn at_operator(&mut self, token: Token) -> PResult<Expr> {
        let name = self.text(token);
        let expr = |kind| {
            Ok(Expr {
                kind,
                span: token.span,
            })
        };
        match name {
            "@defined" | "@entry" => {
                self.expect(TokenKind::LParen, "(")?;
                let operand = Box::new(self.expression()?);
                self.expect(TokenKind::RParen, ")")?;
                expr(if name == "@defined" {
                    ExprKind::Defined(operand)
                } else {
                    ExprKind::Entry(operand)
                })
            }
            "@probewrite" => {
                self.expect(TokenKind::LParen, "(")?;
                let Some(var) = self.eat(TokenKind::Ident) else {
                    return self.error("expected identifier");
                };
                self.expect(TokenKind::RParen, ")")?;
                expr(ExprKind::ProbeWrite(self.ident(var)))
            }
            "@const" => {
                if !self.options.privileged {
                    self.report_at(token, "using @const operator not permitted; need stap -g");
                }
                self.expect(TokenKind::LParen, "(")?;
                let value = self.nonempty_string()?;
                self.expect(TokenKind::RParen, ")")?;
                expr(ExprKind::Const(value))
            }
            "@perf" => {
                self.expect(TokenKind::LParen, "(")?;
                let (value, span) = self.string_literal()?;
                if value.is_empty() {
                    let token = self.token_at(span);
                    return self.error_at(token, "expected non-empty string");
                }
                self.expect(TokenKind::RParen, ")")?;
                expr(ExprKind::Perf(value))
            }
            "@kregister" | "@uregister" => {
                let user = name == "@uregister";
                if !user && !self.options.privileged {
                    self.report_at(
                        token,
                        "using @kregister operator not permitted; need stap -g",
                    );
                }
                self.expect(TokenKind::LParen, "(")?;
                let (number, _) = self.signed_number()?;
                self.expect(TokenKind::RParen, ")")?;
                expr(ExprKind::Register { user, number })
            }
            "@kderef" | "@uderef" => {
                let user = name == "@uderef";
                if !user && !self.options.privileged {
                    self.report_at(token, "using @kderef operator not permitted; need stap -g");
                }
                self.expect(TokenKind::LParen, "(")?;
                let (size, _) = self.signed_number()?;
                self.expect(TokenKind::Comma, ",")?;
                let address = Box::new(self.expression()?);
                self.expect(TokenKind::RParen, ")")?;
                expr(ExprKind::Deref {
                    user,
                    size,
                    address,
                })
            }
            _ => self.stat_op(token),
        }
    }

    /// `@count(S)`, `@variance(S [, SHIFT])`…
    fn stat_op(&mut self, token: Token) -> PResult<Expr> {
        let (op, max_params) = match self.text(token) {
            "@avg" => (StatOp::Avg, 0),
            "@variance" => (StatOp::Variance, 1),
            "@count" => (StatOp::Count, 0),
            "@sum" => (StatOp::Sum, 0),
            "@min" => (StatOp::Min, 0),
            "@max" => (StatOp::Max, 0),
            other => {
                let message = format!("unknown operator {other}");
                return self.error_at(token, message);
            }
        };
        self.expect(TokenKind::LParen, "(")?;
        let operand = Box::new(self.expression()?);
        let mut params = Vec::new();
        loop {
            let next = self.bump();
            match next.kind {
                TokenKind::RParen => break,
                TokenKind::Comma => {
                    if params.len() >= max_params {
                        let allowed = max_params + 1;
                        let plural = if allowed == 1 { "" } else { "s" };
                        return self.error_at(
                            next,
                            format!("not more than {allowed} parameter{plural} allowed"),
                        );
                    }
                    params.push(self.signed_number()?.0);
                }
                TokenKind::Eof => return self.error_at(next, "unexpected end-of-file"),
                // stap's loop skips anything else up to the `)` (parse.cxx `parse_symbol`).
                _ => {}
            }
        }
        Ok(Expr {
            kind: ExprKind::Stat {
                op,
                operand,
                params,
            },
            span: token.span,
        })
    }

    /// The print family (stap's `print_format::create` branch of `parse_symbol`).
    fn print_call(&mut self, token: Token, kind: PrintKind) -> PResult<Expr> {
        self.expect(TokenKind::LParen, "(")?;
        let mut call = PrintCall {
            kind,
            format: None,
            args: Vec::new(),
            hist: None,
        };
        let histogram_capable = !kind.char && !kind.format && !kind.delim;
        if histogram_capable && (self.at_word("@hist_linear") || self.at_word("@hist_log")) {
            // `print(@hist_log(s))` prints the histogram; `print(@hist_log(s)[b])` a bucket.
            let hist_token = self.bump();
            let hist = self.hist_op(hist_token)?;
            if self.eat(TokenKind::LBracket).is_some() {
                let index = self.expression()?;
                self.expect(TokenKind::RBracket, "]")?;
                let base = Indexable::Hist(Box::new(hist));
                call.args.push(Expr {
                    kind: ExprKind::Index {
                        base,
                        indexes: vec![Some(index)],
                    },
                    span: hist_token.span,
                });
                while !self.at(TokenKind::RParen) {
                    self.expect_comma_or_close()?;
                    call.args.push(self.expression()?);
                }
            } else {
                call.hist = Some(hist);
            }
        } else {
            let mut min_args = 0;
            let mut consumed = false;
            if kind.format || kind.delim {
                call.format = Some(self.string_literal()?);
                consumed = true;
                if kind.delim {
                    min_args = 2;
                }
            } else if !kind.newline {
                min_args = 1;
            }
            while min_args > 0 || !self.at(TokenKind::RParen) {
                if consumed {
                    self.expect_comma_or_close()?;
                }
                call.args.push(self.expression()?);
                consumed = true;
                min_args = usize::saturating_sub(min_args, 1);
            }
        }
        self.expect(TokenKind::RParen, ")")?;
        Ok(Expr {
            kind: ExprKind::Print(Box::new(call)),
            span: token.span,
        })
    }

    /// stap's `expect_op_any({",", ")"})` between print arguments.
    fn expect_comma_or_close(&mut self) -> PResult<()> {
        match self.peek().kind {
            TokenKind::Comma | TokenKind::RParen => {
                self.bump();
                Ok(())
            }
            _ => self.error("expected one of ', )'"),
        }
    }
}
