//! rtap-runtime

pub mod debuginfo;
