//! rtap-lang: the SystemTap language front end.
//!
//! Text → tokens ([`lexer`]) → preprocessed tokens ([`preprocess`]) → AST ([`parser`]) →
//! resolved, type-checked program.

pub mod ast;
pub mod diagnostic;
pub mod lexer;
pub mod literal;
pub mod parser;
pub mod preprocess;
pub mod printer;
pub mod session;
pub mod source;
pub mod target;
pub mod token;
