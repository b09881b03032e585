//! Statements (parse.cxx `parse_statement` and friends), with statement-level recovery.

use super::{PResult, Parser, Reported};
use crate::ast::{Block, Expr, ExprKind, Foreach, Ident, Sort, StatOp, Stmt, StmtKind};
use crate::token::{Token, TokenKind};

impl Parser<'_> {
    /// `{ STMT* }`, recovering from bad statements inside.
    pub(super) fn block(&mut self) -> PResult<Block> {
        let open = self.expect(TokenKind::LBrace, "{")?;
        let mut stmts = Vec::new();
        loop {
            match self.peek().kind {
                TokenKind::RBrace => {
                    self.bump();
                    return Ok(Block {
                        span: open.span,
                        stmts,
                    });
                }
                TokenKind::Eof => {
                    let token = self.peek();
                    self.report_at(token, "unexpected end-of-file");
                    self.diagnostics
                        .last_mut()
                        .expect("just reported")
                        .secondary
                        .push(crate::diagnostic::Label {
                            span: open.span,
                            message: "this '{' is never closed".to_string(),
                        });
                    return Err(Reported);
                }
                _ => {}
            }
            let start = self.pos;
            match self.statement() {
                Ok(stmt) => stmts.push(stmt),
                Err(Reported) => self.skip_to_statement_boundary(start)?,
            }
        }
    }

    /// After a bad statement: skip to a `;` (consumed), the enclosing `}`, a statement keyword,
    /// or a token that starts a new line and can start a statement. Fails (so the declaration
    /// is abandoned, as stap does) on a declaration keyword or the end of input.
    fn skip_to_statement_boundary(&mut self, start: usize) -> PResult<()> {
        if self.pos == start {
            self.bump();
        }
        let mut depth = 0usize;
        let mut previous = self.tokens.get(self.pos.saturating_sub(1)).copied();
        loop {
            let token = self.peek();
            match token.kind {
                TokenKind::Eof
                | TokenKind::Probe
                | TokenKind::Global
                | TokenKind::Function
                | TokenKind::Private => {
                    return Err(Reported);
                }
                TokenKind::LBrace | TokenKind::LParen | TokenKind::LBracket => depth += 1,
                TokenKind::RParen | TokenKind::RBracket => depth = depth.saturating_sub(1),
                TokenKind::RBrace if depth == 0 => return Ok(()),
                TokenKind::RBrace => depth -= 1,
                TokenKind::Semi if depth == 0 => {
                    self.bump();
                    return Ok(());
                }
                kind if depth == 0 && is_statement_keyword(kind) => return Ok(()),
                kind if depth == 0
                    && starts_line(self, previous, token)
                    && can_start_expression(kind) =>
                {
                    return Ok(());
                }
                _ => {}
            }
            previous = Some(self.bump());
        }
    }

    pub(super) fn statement(&mut self) -> PResult<Stmt> {
        let token = self.peek();
        let kind = match token.kind {
            TokenKind::Semi => {
                self.bump();
                return Ok(Stmt {
                    kind: StmtKind::Null,
                    span: token.span,
                });
            }
            // Block-like statements do not swallow a following `;`.
            TokenKind::LBrace => {
                return Ok(Stmt {
                    span: token.span,
                    kind: StmtKind::Block(self.block()?),
                });
            }
            TokenKind::Try => return self.try_statement(),
            TokenKind::If => return self.if_statement(),
            TokenKind::For => return self.for_statement(),
            TokenKind::Foreach => return self.foreach_statement(),
            TokenKind::While => return self.while_statement(),
            TokenKind::Return => {
                self.bump();
                if !self.in_function {
                    return self.error_at(token, "found 'return' not in function context");
                }
                let value = match self.peek().kind {
                    TokenKind::Semi | TokenKind::RBrace => None,
                    _ => Some(self.expression()?),
                };
                StmtKind::Return(value)
            }
            TokenKind::Delete => {
                self.bump();
                StmtKind::Delete(self.expression()?)
            }
            TokenKind::Break => {
                self.bump();
                StmtKind::Break
            }
            TokenKind::Continue => {
                self.bump();
                StmtKind::Continue
            }
            TokenKind::Next => {
                self.bump();
                StmtKind::Next
            }
            kind if can_start_expression(kind) => StmtKind::Expr(self.expression()?),
            _ => return self.error("expected statement"),
        };
        // A `;` after a non-block statement belongs to it.
        self.eat(TokenKind::Semi);
        Ok(Stmt {
            kind,
            span: token.span,
        })
    }

    fn try_statement(&mut self) -> PResult<Stmt> {
        let keyword = self.bump();
        let body = self.block()?;
        self.expect(TokenKind::Catch, "catch")?;
        let mut catch_var = None;
        if self.eat(TokenKind::LParen).is_some() {
            let Some(var) = self.eat(TokenKind::Ident) else {
                return self.error("expected identifier");
            };
            catch_var = Some(Ident {
                name: self.text(var).to_string(),
                span: var.span,
            });
            self.expect(TokenKind::RParen, ")")?;
        }
        let catch = self.block()?;
        Ok(Stmt {
            kind: StmtKind::Try {
                body,
                catch_var,
                catch,
            },
            span: keyword.span,
        })
    }

    fn if_statement(&mut self) -> PResult<Stmt> {
        let keyword = self.bump();
        let open = self.expect(TokenKind::LParen, "(")?;
        let cond = self.expression()?;
        self.expect_closing(TokenKind::RParen, ")", open)?;
        let then = Box::new(self.statement()?);
        let otherwise = match self.eat(TokenKind::Else) {
            Some(_) => Some(Box::new(self.statement()?)),
            None => None,
        };
        Ok(Stmt {
            kind: StmtKind::If {
                cond,
                then,
                otherwise,
            },
            span: keyword.span,
        })
    }

    fn while_statement(&mut self) -> PResult<Stmt> {
        let keyword = self.bump();
        let open = self.expect(TokenKind::LParen, "(")?;
        let cond = self.expression()?;
        self.expect_closing(TokenKind::RParen, ")", open)?;
        let body = Box::new(self.statement()?);
        Ok(Stmt {
            kind: StmtKind::While { cond, body },
            span: keyword.span,
        })
    }

    fn for_statement(&mut self) -> PResult<Stmt> {
        let keyword = self.bump();
        self.expect(TokenKind::LParen, "(")?;
        let init = if self.at(TokenKind::Semi) {
            None
        } else {
            Some(self.expression()?)
        };
        self.expect(TokenKind::Semi, ";")?;
        // An empty condition is the literal 1, attached to the `;` (as stap does).
        let cond = match self.peek() {
            semi if semi.kind == TokenKind::Semi => Expr {
                kind: ExprKind::Number(1),
                span: semi.span,
            },
            _ => self.expression()?,
        };
        self.expect(TokenKind::Semi, ";")?;
        let incr = if self.at(TokenKind::RParen) {
            None
        } else {
            Some(self.expression()?)
        };
        self.expect(TokenKind::RParen, ")")?;
        let body = Box::new(self.statement()?);
        Ok(Stmt {
            kind: StmtKind::For {
                init,
                cond,
                incr,
                body,
            },
            span: keyword.span,
        })
    }

    /// `foreach ([V[+|-] =] KEYS in BASE [[SLICE]] [@agg] [+|-] [limit N]) STMT`
    fn foreach_statement(&mut self) -> PResult<Stmt> {
        let keyword = self.bump();
        self.expect(TokenKind::LParen, "(")?;
        let mut value = None;
        let mut sort: Option<Sort> = None;
        let mut keys = Vec::new();
        let mut bracketed = false;
        // `V =` or a single key, told apart by what follows.
        let mut lookahead = None;
        if let Some(first) = self.eat(TokenKind::Ident) {
            let ident = self.ident(first);
            let mark = self.sort_mark();
            if self.eat(TokenKind::Assign).is_some() {
                value = Some(ident);
                sort = mark.map(|descending| Sort {
                    column: 0,
                    descending,
                    aggregate: None,
                });
            } else {
                keys.push(ident);
                sort = mark.map(|descending| Sort {
                    column: 1,
                    descending,
                    aggregate: None,
                });
                lookahead = Some(());
            }
        }
        if lookahead.is_none() {
            bracketed = self.eat(TokenKind::LBracket).is_some();
            loop {
                let Some(key) = self.eat(TokenKind::Ident) else {
                    return self.error("expected identifier");
                };
                keys.push(self.ident(key));
                if let Some(descending) = self.sort_mark() {
                    if sort.is_some() {
                        return self.error_at(self.previous(), "multiple sort directives");
                    }
                    sort = Some(Sort {
                        column: keys.len(),
                        descending,
                        aggregate: None,
                    });
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
        }
        self.expect(TokenKind::In, "in")?;
        let base = self.indexable()?;
        let mut slice = None;
        if self.eat(TokenKind::LBracket).is_some() {
            let mut items = Vec::new();
            loop {
                if self.eat(TokenKind::Star).is_some() {
                    items.push(None);
                } else {
                    items.push(Some(self.expression()?));
                }
                if self.eat(TokenKind::Comma).is_some() {
                    continue;
                }
                if self.eat(TokenKind::RBracket).is_some() {
                    break;
                }
                return self.error("expected ',' or ']'");
            }
            slice = Some(items);
        }
        let mut aggregate = None;
        if self.at(TokenKind::AtWord) {
            let op = match self.text(self.peek()) {
                "@avg" => StatOp::Avg,
                "@min" => StatOp::Min,
                "@max" => StatOp::Max,
                "@count" => StatOp::Count,
                "@sum" => StatOp::Sum,
                "@variance" => StatOp::Variance,
                _ => return self.error("expected statistical operation"),
            };
            self.bump();
            if !matches!(self.peek().kind, TokenKind::Plus | TokenKind::Minus) {
                return self.error("expected sort directive");
            }
            aggregate = Some(op);
        }
        if let Some(descending) = self.sort_mark() {
            if sort.is_some() {
                return self.error_at(self.previous(), "multiple sort directives");
            }
            sort = Some(Sort {
                column: 0,
                descending,
                aggregate,
            });
        }
        let limit = match self.eat(TokenKind::Limit) {
            Some(_) => Some(self.expression()?),
            None => None,
        };
        self.expect(TokenKind::RParen, ")")?;
        let body = Box::new(self.statement()?);
        let foreach = Foreach {
            value,
            keys,
            bracketed,
            base,
            slice,
            sort,
            limit,
            body,
        };
        Ok(Stmt {
            kind: StmtKind::Foreach(Box::new(foreach)),
            span: keyword.span,
        })
    }

    /// A `+` (ascending) or `-` (descending) sort mark.
    fn sort_mark(&mut self) -> Option<bool> {
        match self.peek().kind {
            TokenKind::Plus => {
                self.bump();
                Some(false)
            }
            TokenKind::Minus => {
                self.bump();
                Some(true)
            }
            _ => None,
        }
    }

    fn previous(&self) -> Token {
        self.tokens
            .get(self.pos.wrapping_sub(1))
            .copied()
            .unwrap_or(self.eof)
    }

    pub(super) fn ident(&self, token: Token) -> Ident {
        Ident {
            name: self.text(token).to_string(),
            span: token.span,
        }
    }
}

fn is_statement_keyword(kind: TokenKind) -> bool {
    use TokenKind::*;
    matches!(
        kind,
        If | For | Foreach | While | Return | Delete | Break | Continue | Next | Try
    )
}

/// stap starts an expression statement at any operator, identifier, literal or embedded code.
fn can_start_expression(kind: TokenKind) -> bool {
    use TokenKind::*;
    !kind.is_keyword()
        && !matches!(
            kind,
            Eof | Reported | UnclosedString | UnclosedEmbedded | Junk | ArgOutOfRange | NestedArg
        )
}

/// The token is the first on its line (within the same file as the previous one).
fn starts_line(parser: &Parser<'_>, previous: Option<Token>, token: Token) -> bool {
    let Some(previous) = previous else {
        return true;
    };
    // Tokens from a macro body or an argument jump around in the text: count as a new line.
    if previous.span.file != token.span.file || previous.span.end > token.span.start {
        return true;
    }
    let text = &parser.sources.file(token.span.file).text;
    text.as_bytes()[previous.span.end as usize..token.span.start as usize].contains(&b'\n')
}
