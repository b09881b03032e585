//! rtap-runtime: everything that runs.
//!
//! Generated code calls the helpers of `rtap_abi`; the session loads a program description,
//! runs probe handlers one at a time on its dispatcher thread and drives SystemTap's session
//! states.

pub mod debuginfo;
pub mod exec;
pub mod helpers;
pub mod hist;
pub mod map;
pub mod printf;
pub mod process;
pub mod program;
pub mod session;
pub mod stats;
pub mod strings;
