//! rtap-lang: the SystemTap language front end.
//!
//! Text → tokens ([`lexer`]) → preprocessed tokens ([`preprocess`]) → AST → resolved,
//! type-checked program.

pub mod diagnostic;
pub mod lexer;
pub mod literal;
pub mod preprocess;
pub mod source;
pub mod target;
pub mod token;
