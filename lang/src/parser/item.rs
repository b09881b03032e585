//! Declarations: probes, probe aliases, globals, functions, top-level embedded C.

use super::{PResult, Parser};
use crate::ast::{
    AliasBody, Embedded, Function, FunctionBody, Global, Ident, Item, Literal, LiteralValue, Param,
    Probe, ProbeAlias, TypeAnnotation,
};
use crate::token::TokenKind;

impl Parser<'_> {
    pub(super) fn items(&mut self) -> Vec<Item> {
        let mut items = Vec::new();
        while !self.at(TokenKind::Eof) {
            let start = self.pos;
            if self.item(&mut items).is_err() {
                // stap's recovery: quietly skip to the next declaration keyword.
                if self.pos == start {
                    self.bump();
                }
                while !self.at(TokenKind::Eof) && !self.at_declaration_start() {
                    self.bump();
                }
            }
        }
        items
    }

    fn at_declaration_start(&self) -> bool {
        matches!(
            self.peek().kind,
            TokenKind::Probe
                | TokenKind::Global
                | TokenKind::Private
                | TokenKind::Function
                | TokenKind::Embedded
        )
    }

    fn item(&mut self, items: &mut Vec<Item>) -> PResult<()> {
        let token = self.peek();
        match token.kind {
            TokenKind::Probe => items.push(self.probe()?),
            TokenKind::Global => {
                self.bump();
                self.globals(items, false)?;
            }
            TokenKind::Private => {
                self.bump();
                match self.peek().kind {
                    TokenKind::Function => {
                        self.bump();
                        items.push(Item::Function(self.function(true)?));
                    }
                    TokenKind::Global => {
                        self.bump();
                        self.globals(items, true)?;
                    }
                    // `private NAME` is shorthand for `private global NAME`.
                    TokenKind::Ident => self.globals(items, true)?,
                    _ => return self.error("expected 'function' or identifier"),
                }
            }
            TokenKind::Function => {
                self.bump();
                items.push(Item::Function(self.function(false)?));
            }
            TokenKind::Embedded => {
                let code = self.embedded()?;
                items.push(Item::Embedded(code));
            }
            _ => return self.error("expected 'probe', 'global', 'private', 'function', or '%{'"),
        }
        Ok(())
    }

    /// `%{ … %}`; outside privileged files an error that does not skip input (as in stap).
    pub(super) fn embedded(&mut self) -> PResult<Embedded> {
        let token = self.expect(TokenKind::Embedded, "%{")?;
        if !self.options.privileged {
            self.report_at(token, "embedded code in unprivileged script; need stap -g");
        }
        let text = self.text(token);
        let code = text[2..text.len() - 2].to_string();
        Ok(Embedded {
            code,
            span: token.span,
        })
    }

    fn probe(&mut self) -> PResult<Item> {
        let keyword = self.bump();
        self.in_function = false;
        let mut names = Vec::new();
        let mut epilogue_style = false;
        let points = loop {
            let points = self.probe_points()?;
            let next = self.peek();
            match next.kind {
                TokenKind::Assign | TokenKind::PlusAssign if points.len() == 1 => {
                    let name = points.into_iter().next().expect("one point");
                    if name.optional || name.sufficient {
                        let first = self.token_at(name.components[0].span);
                        return self.error_at(
                            first,
                            "probe point alias name cannot be optional nor sufficient",
                        );
                    }
                    epilogue_style |= next.kind == TokenKind::PlusAssign;
                    names.push(name);
                    self.bump();
                }
                TokenKind::LBrace => break points,
                _ => return self.error("expected probe point specifier"),
            }
        };
        let body = self.block()?;
        if names.is_empty() {
            return Ok(Item::Probe(Probe {
                span: keyword.span,
                points,
                body,
            }));
        }
        let body = if self.at(TokenKind::Comma) {
            if epilogue_style {
                return self.error("Combined prologue and epilogue cannot be defined with '+='");
            }
            self.bump();
            AliasBody::Both(body, self.block()?)
        } else if epilogue_style {
            AliasBody::Epilogue(body)
        } else {
            AliasBody::Prologue(body)
        };
        Ok(Item::Alias(ProbeAlias {
            span: keyword.span,
            names,
            points,
            body,
        }))
    }

    fn globals(&mut self, items: &mut Vec<Item>, private: bool) -> PResult<()> {
        loop {
            let Some(token) = self.eat(TokenKind::Ident) else {
                return self.error("expected identifier");
            };
            let name = self.text(token).to_string();
            for (seen, seen_private) in &self.globals_seen {
                if *seen == name {
                    let message = if *seen_private == private {
                        "duplicate global name"
                    } else {
                        "global versus private variable declaration conflict"
                    };
                    return self.error_at(token, message);
                }
            }
            self.globals_seen.push((name.clone(), private));
            let mut global = Global {
                name: Ident {
                    name,
                    span: token.span,
                },
                private,
                wrap: false,
                size: None,
                init: None,
            };
            if self.eat(TokenKind::Percent).is_some() {
                global.wrap = true;
            }
            if self.eat(TokenKind::LBracket).is_some() {
                let (size, span) = self.signed_number()?;
                if size <= 0 || size > i64::from(i32::MAX) {
                    let token = self.token_at(span);
                    return self.error_at(token, "array size out of range");
                }
                global.size = Some(size);
                self.expect(TokenKind::RBracket, "]")?;
            }
            if let Some(assign) = self.eat(TokenKind::Assign) {
                if global.size.is_some() {
                    return self.error_at(assign, "only scalar globals can be initialized");
                }
                global.init = Some(self.literal()?);
            }
            items.push(Item::Global(global));
            if self.eat(TokenKind::Semi).is_some() {
                return Ok(());
            }
            if self.eat(TokenKind::Comma).is_none() {
                return Ok(());
            }
        }
    }

    fn function(&mut self, private: bool) -> PResult<Function> {
        let token = self.peek();
        if !matches!(
            token.kind,
            TokenKind::Ident | TokenKind::KwString | TokenKind::KwLong
        ) {
            return self.error("expected identifier");
        }
        self.bump();
        let name = Ident {
            name: self.text(token).to_string(),
            span: token.span,
        };
        let mut return_type = None;
        if self.eat(TokenKind::Colon).is_some() {
            let (ty, span) = self.type_name()?;
            return_type = Some(TypeAnnotation { ty, span });
        }
        self.expect(TokenKind::LParen, "(")?;
        let mut params: Vec<Param> = Vec::new();
        if self.eat(TokenKind::RParen).is_none() {
            loop {
                let Some(param) = self.eat(TokenKind::Ident) else {
                    return self.error("expected identifier");
                };
                let param_name = self.text(param).to_string();
                if params.iter().any(|p| p.name.name == param_name) {
                    return self.error_at(param, "duplicate parameter names");
                }
                let mut ty = None;
                if self.eat(TokenKind::Colon).is_some() {
                    let (t, span) = self.type_name()?;
                    ty = Some(TypeAnnotation { ty: t, span });
                }
                params.push(Param {
                    name: Ident {
                        name: param_name,
                        span: param.span,
                    },
                    ty,
                });
                if self.eat(TokenKind::RParen).is_some() {
                    break;
                }
                if self.eat(TokenKind::Comma).is_none() {
                    return self.error("expected ',' or ')'");
                }
            }
        }
        let mut priority = None;
        if self.at(TokenKind::Colon) {
            self.bump();
            let literal = self.literal()?;
            let LiteralValue::Number(value) = literal.value else {
                let token = self.token_at(literal.span);
                return self.error_at(token, "expected literal number");
            };
            if value < 1 {
                let token = self.token_at(literal.span);
                return self.error_at(token, "specified priority must be > 0");
            }
            priority = Some(literal);
        }
        let body = if self.at(TokenKind::Embedded) {
            FunctionBody::Embedded(self.embedded()?)
        } else {
            self.in_function = true;
            let block = self.block();
            self.in_function = false;
            FunctionBody::Block(block?)
        };
        Ok(Function {
            name,
            private,
            return_type,
            params,
            priority,
            body,
        })
    }

    /// A literal: a string (adjacent ones concatenated) or `[-]NUMBER` (stap's
    /// `parse_literal`).
    pub(super) fn literal(&mut self) -> PResult<Literal> {
        let token = self.peek();
        if token.kind == TokenKind::Str {
            self.bump();
            let value = self.string_continuation(token);
            return Ok(Literal {
                value: LiteralValue::String(value),
                span: token.span,
            });
        }
        let minus = self.eat(TokenKind::Minus);
        let Some(number) = self.eat(TokenKind::Number) else {
            return self.error("expected literal string or number");
        };
        let value = self.number_value(number, minus.is_some())?;
        let span = minus.map_or(number.span, |m| m.span.to(number.span));
        Ok(Literal {
            value: LiteralValue::Number(value),
            span,
        })
    }
}
