//! rtap-lang: the SystemTap language front end.
//!
//! Text → tokens ([`lexer`]) → preprocessed tokens → AST → resolved, type-checked program.

pub mod diagnostic;
pub mod lexer;
pub mod source;
pub mod token;
