//! rtap-lang
