//! rtap-lang: the SystemTap language front end.
//!
//! Text → tokens ([`lexer`]) → preprocessed tokens ([`preprocess`]) → AST ([`parser`]) →
//! resolved, type-checked program → IR ([`ir`]) → native code ([`codegen`]).

pub mod ast;
pub mod codegen;
pub mod diagnostic;
pub mod ir;
pub mod lexer;
pub mod literal;
pub mod parser;
pub mod preprocess;
pub mod printer;
pub mod session;
pub mod source;
pub mod target;
pub mod token;
