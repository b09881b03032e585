//! Probe points (parse.cxx `parse_probe_points`, `parse_components`, `parse_component`).
//!
//! A component's name is glued from adjacent identifier, keyword and `*` tokens (`sys*read`,
//! `**`); `{a,b}.c` brace expansion is a cartesian product, done here as stap does.

use super::{PResult, Parser};
use crate::ast::{Component, ProbePoint};
use crate::token::TokenKind;

impl Parser<'_> {
    /// `PP {, PP}` up to `{`, `}`, `=` or `+=`.
    pub(super) fn probe_points(&mut self) -> PResult<Vec<ProbePoint>> {
        let mut points = Vec::new();
        loop {
            points.extend(self.probe_point()?);
            match self.peek().kind {
                TokenKind::Comma => {
                    self.bump();
                }
                TokenKind::LBrace
                | TokenKind::RBrace
                | TokenKind::Assign
                | TokenKind::PlusAssign => return Ok(points),
                _ => return self.error("expected one of ', { } = +='"),
            }
        }
    }

    /// `COMP {. COMP} [?|!] [if (EXPR)]`; several points when braces expand.
    fn probe_point(&mut self) -> PResult<Vec<ProbePoint>> {
        let mut points: Vec<ProbePoint> = Vec::new();
        loop {
            let suffixes = self.component()?;
            if points.is_empty() {
                points = suffixes;
            } else {
                if let Some(bad) = points
                    .iter()
                    .find(|p| p.optional || p.sufficient || p.condition.is_some())
                {
                    let token = self.token_at(bad.span());
                    return self.error_at(
                        token,
                        "'?', '!' or condition must only be specified in suffix",
                    );
                }
                points = points
                    .iter()
                    .flat_map(|prefix| {
                        suffixes.iter().map(move |suffix| ProbePoint {
                            components: prefix
                                .components
                                .iter()
                                .chain(&suffix.components)
                                .cloned()
                                .collect(),
                            optional: suffix.optional,
                            sufficient: suffix.sufficient,
                            condition: suffix.condition.clone(),
                        })
                    })
                    .collect();
            }
            if self.eat(TokenKind::Dot).is_some() {
                continue;
            }
            let mark = self.peek();
            if matches!(mark.kind, TokenKind::Question | TokenKind::Bang) {
                if points.iter().any(|p| p.optional || p.sufficient) {
                    return self.error("'?' or '!' respecified");
                }
                for point in &mut points {
                    point.optional = true;
                    point.sufficient = mark.kind == TokenKind::Bang;
                }
                self.bump();
            }
            if self.eat(TokenKind::If).is_some() {
                self.expect(TokenKind::LParen, "(")?;
                let condition = self.expression()?;
                if points.iter().any(|p| p.condition.is_some()) {
                    return self.error("condition respecified");
                }
                for point in &mut points {
                    point.condition = Some(condition.clone());
                }
                self.expect(TokenKind::RParen, ")")?;
            }
            return Ok(points);
        }
    }

    fn component(&mut self) -> PResult<Vec<ProbePoint>> {
        let first = self.peek();
        if first.kind == TokenKind::LBrace {
            self.bump();
            let points = self.probe_points()?;
            self.expect(TokenKind::RBrace, "}")?;
            return Ok(points);
        }
        if !is_name_piece(first.kind) {
            return self.error("expected identifier or '*' or '{'");
        }
        self.bump();
        let mut name = self.text(first).to_string();
        let mut span = first.span;
        // Adjacent pieces glue: `sys*read` is one component, `sys * read` is not.
        while !self.peek().space_before && is_name_piece(self.peek().kind) {
            let piece = self.bump();
            name.push_str(self.text(piece));
            span = span.to(piece.span);
        }
        let mut component = Component {
            name,
            span,
            arg: None,
        };
        if self.eat(TokenKind::LParen).is_some() {
            component.arg = Some(self.literal()?);
            self.expect(TokenKind::RParen, ")")?;
        }
        Ok(vec![ProbePoint {
            components: vec![component],
            optional: false,
            sufficient: false,
            condition: None,
        }])
    }
}

/// Identifiers, keywords (`.return`, `.function`) and `*`.
fn is_name_piece(kind: TokenKind) -> bool {
    kind == TokenKind::Ident || kind == TokenKind::Star || kind.is_keyword()
}
